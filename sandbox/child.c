/*
 * child.c - the processes of a run, from the clone to the payload's exec.
 *
 *   runner --clone--> supervisor --clone--> payload --exec--> program
 *
 * The supervisor is pid 1 of the run's pid namespace (NS mode) or a child
 * subreaper (degraded mode).  It finishes the namespace (mounts, pivot,
 * loopback), prepares what the payload inherits (default signal
 * dispositions, an empty capability bounding set, the Landlock ruleset)
 * - a spare of the warm pool (pool.c) then waits for the request's part
 * of its plan, which the runner sends when a run takes it - writes the
 * input files, says it is ready and starts the payload, reaps every
 * process that ends up under it, and once the payload is gone - or on
 * the runner's 'K' - kills whatever is left, reaps it, and reports the
 * payload's wait status and the run's rusage.  It stays alive until the
 * runner's 'D' so that the runner can read the work dir through
 * /proc/PID/root.
 *
 * The payload applies its layers in the order of issue 5: new session and
 * parent-death signal (namespaces were made by the clone, the network's
 * by a helper of the supervisor), Landlock (enforcing the supervisor's
 * ruleset), rlimits, fds (only stdin /dev/null, stdout, stderr survive),
 * the signal mask (the dispositions are already the defaults), the clean
 * environment (envp), the uid drop and the capabilities, no_new_privs,
 * seccomp last, exec by absolute path.
 *
 * The runner may be multi-threaded, so both processes were made by a raw
 * clone and must not take a lock another thread could have held: no
 * malloc, no stdio, only system calls and the small helpers below.  Every
 * failure is reported to the runner as an SBX_MSG_ERROR naming the step.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <linux/mount.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

/* Landlock ABI 3-6 names, newer than Debian 12's headers. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#define SBX_LL_NET_BIND_TCP (1ULL << 0)
#define SBX_LL_NET_CONNECT_TCP (1ULL << 1)
#define SBX_LL_SCOPE_ABSTRACT_UNIX (1ULL << 0)
#define SBX_LL_SCOPE_SIGNAL (1ULL << 1)

struct sbx_landlock_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;  /* ABI 4 */
	uint64_t scoped;              /* ABI 6 */
};

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#endif

pid_t sbx_raw_clone(unsigned long flags, int *pidfd)
{
	/* clone(flags, stack, parent_tid, child_tid, tls) on x86-64: with
	 * CLONE_PIDFD the pidfd lands in parent_tid. */
	return (pid_t)syscall(SYS_clone, flags | SIGCHLD |
					 (pidfd ? CLONE_PIDFD : 0),
			      NULL, pidfd, NULL, 0);
}

/* ---- small async-signal-safe helpers ---- */

/*
 * Credential changes as raw system calls.  glibc's setresuid, setresgid
 * and setgroups broadcast the change to every thread of the process and
 * wait for them on a futex; in a child cloned from a multi-threaded
 * runner glibc still believes in the parent's threads, and would wait
 * for ever.  The raw calls change this (only) thread: the whole child.
 */
static int set_uid(uid_t uid)
{
	return (int)syscall(SYS_setresuid, uid, uid, uid);
}

static int set_gid(gid_t gid)
{
	return (int)syscall(SYS_setresgid, gid, gid, gid);
}

static int drop_groups(void)
{
	return (int)syscall(SYS_setgroups, 0, NULL);
}

static size_t str_add(char *buf, size_t n, size_t len, const char *s)
{
	while (s && *s && len + 1 < n)
		buf[len++] = *s++;
	buf[len < n ? len : n - 1] = '\0';
	return len;
}

/* buf = a + b + c; fails when it does not fit. */
static int path3(char *buf, size_t n, const char *a, const char *b,
		 const char *c)
{
	size_t len = str_add(buf, n, 0, a);

	len = str_add(buf, n, len, b);
	len = str_add(buf, n, len, c);
	if (len + 1 >= n) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int sbx_write_all(int fd, const void *buf, size_t n, int sock)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = sock ? send(fd, p, n, MSG_NOSIGNAL)
				 : write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads exactly n bytes; -1 on EOF or error. */
static int read_full(int fd, void *buf, size_t n)
{
	char *p = buf;

	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void send_msg(const struct sbx_plan *p, const struct sbx_msg *m)
{
	/* One write below PIPE_BUF is atomic; nothing to do on failure: the
	 * runner sees the pipe close and reports the supervisor's end. */
	(void)sbx_write_all(p->st_w, m, sizeof(*m), 0);
}

static void die(const struct sbx_plan *p, int stage, const char *step,
		const char *arg) __attribute__((noreturn));
static void die(const struct sbx_plan *p, int stage, const char *step,
		const char *arg)
{
	struct sbx_msg m = {.type = SBX_MSG_ERROR, .stage = stage,
			    .err_no = errno};
	size_t len = str_add(m.what, sizeof(m.what), 0, step);

	if (arg) {
		len = str_add(m.what, sizeof(m.what), len, " '");
		len = str_add(m.what, sizeof(m.what), len, arg);
		str_add(m.what, sizeof(m.what), len, "'");
	}
	send_msg(p, &m);
	_exit(127);
}

#define NS_TRY(expr, step, arg)                                             \
	do {                                                                \
		if ((expr) < 0)                                             \
			die(p, SBX_STAGE_NAMESPACE, (step), (arg));         \
	} while (0)
#define PL_TRY(expr, step, arg)                                             \
	do {                                                                \
		if ((expr) < 0)                                             \
			die(p, SBX_STAGE_PAYLOAD, (step), (arg));           \
	} while (0)

/* Waits for one control byte from the runner; 0 on EOF. */
static int ctl_read(const struct sbx_plan *p)
{
	char c;
	ssize_t n;

	do
		n = read(p->ctl_r, &c, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? c : 0;
}

/* ---- the namespace: a read-only system view around a private /work ---- */

/* What of the host's / the payload sees, read-only.  Home directories,
 * /tmp, /run, /var, /srv, /mnt and any checkout elsewhere stay out. */
static const char *const system_view[] = {
	"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "opt",
};
/* Empty, read-only directories of the root tmpfs in place of the host's:
 * the payload finds them but nothing in them. */
static const char *const hidden_dirs[] = {"home", "root", "tmp", "run",
					  "proc", "work", "dev"};
/* Device nodes bound from the host into a fresh /dev. */
static const char *const dev_nodes[] = {"null", "zero", "full", "random",
					"urandom"};

static void bind_system_dir(const struct sbx_plan *p, const char *name)
{
	char host[64], target[4096], link[4096];
	struct stat sb;
	ssize_t n;

	NS_TRY(path3(host, sizeof(host), "/", name, ""), "path", name);
	NS_TRY(path3(target, sizeof(target), p->ns_root, "/", name),
	       "path", name);
	if (lstat(host, &sb) < 0)
		return;   /* not on this system */
	if (S_ISLNK(sb.st_mode)) {
		NS_TRY(n = readlink(host, link, sizeof(link) - 1), "readlink",
		       host);
		link[n] = '\0';
		NS_TRY(symlink(link, target), "symlink", target);
		return;
	}
	if (!S_ISDIR(sb.st_mode))
		return;
	NS_TRY(mkdir(target, 0755), "mkdir", target);
	NS_TRY(mount(host, target, NULL, MS_BIND | MS_REC, NULL), "bind mount",
	       host);
}

static void make_dir(const struct sbx_plan *p, const char *name)
{
	char target[4096];

	NS_TRY(path3(target, sizeof(target), p->ns_root, "/", name),
	       "path", name);
	NS_TRY(mkdir(target, 0755), "mkdir", target);
}

static void make_dev(const struct sbx_plan *p)
{
	static const char *const links[][2] = {
		{"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"},
		{"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
	};
	char host[64], target[4096];
	int fd;

	for (size_t i = 0; i < sizeof(dev_nodes) / sizeof(*dev_nodes); i++) {
		NS_TRY(path3(host, sizeof(host), "/dev/", dev_nodes[i], ""),
		       "path", dev_nodes[i]);
		NS_TRY(path3(target, sizeof(target), p->ns_root, "/dev/",
			     dev_nodes[i]), "path", dev_nodes[i]);
		/* A user namespace cannot mknod: bind the host's node over
		 * an empty file. */
		NS_TRY(fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0666),
		       "create", target);
		close(fd);
		NS_TRY(mount(host, target, NULL, MS_BIND, NULL), "bind mount",
		       host);
	}
	for (size_t i = 0; i < sizeof(links) / sizeof(*links); i++) {
		NS_TRY(path3(target, sizeof(target), p->ns_root, "/dev/",
			     links[i][0]), "path", links[i][0]);
		NS_TRY(symlink(links[i][1], target), "symlink", target);
	}
}

/* ---- the network namespace, made beside the root ---- */

/*
 * Making a network namespace is the dearest part of a run's set-up (~0.4
 * ms on a 2-core VM: the kernel registers a loopback device and every
 * protocol's per-namespace state).  Made by the runner's clone, it sat on
 * the run's critical path before the supervisor could start on the root.
 * A helper makes it instead, while the supervisor builds the root.  It
 * shares the supervisor's memory (CLONE_VM, a stack of its own: no page
 * table is copied) and fd table (CLONE_FILES): it makes the namespace,
 * brings lo up, opens the namespace's file, says which fd it is on a
 * pipe and waits to be killed; the supervisor joins the namespace once
 * its root is built.  (Joining through the helper's pidfd would need
 * ptrace access to it, which a supervisor that changed uid has not.)
 * The helper is in the run's pid namespace, so it cannot outlive the
 * supervisor.  Its system calls may set errno, which it shares with the
 * supervisor: that could only garble the message of a supervisor's step
 * failing at the same instant.
 */
static char netns_stack[64 << 10] __attribute__((aligned(16)));

/* An empty network namespace has only lo, and down: bring it up so that
 * tests may talk to themselves on 127.0.0.1. */
static int loopback_up(void)
{
	struct ifreq ifr;
	int s, rc;

	if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	str_add(ifr.ifr_name, sizeof(ifr.ifr_name), 0, "lo");
	ifr.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
	rc = ioctl(s, SIOCSIFFLAGS, &ifr);
	close(s);
	return rc;
}

static int netns_main(void *arg) __attribute__((noreturn));
static int netns_main(void *arg)
{
	int ready_w = (int)(intptr_t)arg, fd = -1;

	if (unshare(CLONE_NEWNET) == 0 && loopback_up() == 0)
		fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	(void)sbx_write_all(ready_w, &fd, sizeof(fd), 0);
	for (;;)
		pause();
}

struct netns_helper {
	pid_t pid;
	int ready_r, ready_w;
};

static void netns_start(const struct sbx_plan *p, struct netns_helper *h)
{
	int fds[2];

	NS_TRY(pipe2(fds, O_CLOEXEC), "pipe", "network namespace");
	h->ready_r = fds[0];
	h->ready_w = fds[1];  /* closed by the join: the table is shared */
	/* No exit signal: its end must not wake supervise's signalfd. */
	NS_TRY(h->pid = clone(netns_main, netns_stack + sizeof(netns_stack),
			      CLONE_VM | CLONE_FILES, (void *)(intptr_t)fds[1]),
	       "clone", "network namespace helper");
}

static void netns_join(const struct sbx_plan *p, struct netns_helper *h)
{
	int fd = -1, got = read_full(h->ready_r, &fd, sizeof(fd));

	kill(h->pid, SIGKILL);
	while (waitpid(h->pid, NULL, __WALL) < 0 && errno == EINTR)
		;
	/* The helper's own errno is lost: EPERM says what it most likely
	 * was (a kernel or policy without network namespaces). */
	errno = EPERM;
	NS_TRY(got == 0 && fd >= 0 ? 0 : -1, "make", "network namespace");
	NS_TRY(setns(fd, CLONE_NEWNET), "join", "network namespace");
	close(fd);
	close(h->ready_r);
	close(h->ready_w);
}

/*
 * Builds the payload's root on a small tmpfs mounted over SBX_NS_ROOT
 * (in this mount namespace only): read-only binds of the system view;
 * empty read-only /home, /root, /tmp and /run (the root tmpfs's own
 * directories: the host's are never mounted); a minimal /dev; a fresh
 * read-only /proc; and the size- and inode-limited /work, the only
 * writable place.  Then it pivots into it.  Nothing propagates back to
 * the host: / is made private first.
 */
static void setup_namespace(const struct sbx_plan *p)
{
	const char *w = p->ns_root;
	struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY |
					    MOUNT_ATTR_NOSUID};
	char target[4096];

	NS_TRY(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL),
	       "make / private", NULL);
	NS_TRY(mount("tmpfs", w, "tmpfs", MS_NOSUID | MS_NODEV,
		     "size=1m,nr_inodes=1024,mode=0755"),
	       "mount tmpfs on", w);
	for (size_t i = 0; i < sizeof(system_view) / sizeof(*system_view); i++)
		bind_system_dir(p, system_view[i]);
	for (size_t i = 0; i < sizeof(hidden_dirs) / sizeof(*hidden_dirs); i++)
		make_dir(p, hidden_dirs[i]);
	make_dev(p);
	/* Everything so far becomes read-only and nosuid, recursively. */
	NS_TRY(syscall(SYS_mount_setattr, AT_FDCWD, w, AT_RECURSIVE, &ro,
		       sizeof(ro)), "make read-only", w);
	NS_TRY(path3(target, sizeof(target), w, "/proc", ""), "path", "proc");
	NS_TRY(mount("proc", target, "proc",
		     MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL),
	       "mount proc on", target);
	NS_TRY(path3(target, sizeof(target), w, "/work", ""), "path", "work");
	NS_TRY(mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV,
		     p->tmpfs_opts), "mount work dir tmpfs on", target);
	NS_TRY(chdir(w), "chdir", w);
	NS_TRY(syscall(SYS_pivot_root, ".", "."), "pivot_root", w);
	NS_TRY(umount2(".", MNT_DETACH), "detach the old root", NULL);
	NS_TRY(chdir("/"), "chdir", "/");
	NS_TRY(sethostname("sandbox", 7), "sethostname", "sandbox");
}

/* ---- a spare's request (struct sbx_wire) ---- */

/* A spare keeps its request here: the supervisor is a process of its
 * own, so these are its private copies, touched only by a spare. */
static char wire_buf[SBX_WIRE_MAX] __attribute__((aligned(16)));
static char *wire_strs[SBX_WIRE_MAX_STRS + 2];
static struct sandbox_file wire_files[SBX_WIRE_MAX_FILES];
static struct sock_fprog wire_prog;

/* The NUL-terminated string at *pos (below end), or NULL. */
static char *wire_str(size_t *pos, size_t end)
{
	char *s = wire_buf + *pos;
	char *nul = *pos < end ? memchr(s, '\0', end - *pos) : NULL;

	if (!nul)
		return NULL;
	*pos = (size_t)(nul - wire_buf) + 1;
	return s;
}

static void bad_request(const struct sbx_plan *p) __attribute__((noreturn));
static void bad_request(const struct sbx_plan *p)
{
	errno = EPROTO;
	die(p, SBX_STAGE_PAYLOAD, "read the request of a spare", NULL);
}

/* Points the plan's strings and files into wire_buf; pos is past the
 * filter. */
static void wire_take(struct sbx_plan *p, const struct sbx_wire *h,
		      size_t pos, size_t end)
{
	size_t k = 0;

	if (!(p->exe = wire_str(&pos, end)))
		bad_request(p);
	p->argv = &wire_strs[k];
	for (uint32_t i = 0; i < h->n_argv; i++)
		if (!(wire_strs[k++] = wire_str(&pos, end)))
			bad_request(p);
	wire_strs[k++] = NULL;
	p->envp = &wire_strs[k];
	for (uint32_t i = 0; i < h->n_envp; i++)
		if (!(wire_strs[k++] = wire_str(&pos, end)))
			bad_request(p);
	wire_strs[k] = NULL;
	for (uint32_t i = 0; i < h->n_files; i++) {
		struct sandbox_file *f = &wire_files[i];
		uint64_t len;
		uint32_t exec;
		if (end - pos < sizeof(len) + sizeof(exec))
			bad_request(p);
		memcpy(&len, wire_buf + pos, sizeof(len));
		memcpy(&exec, wire_buf + pos + sizeof(len), sizeof(exec));
		pos += sizeof(len) + sizeof(exec);
		if (!(f->path = wire_str(&pos, end)) || len > end - pos)
			bad_request(p);
		f->data = wire_buf + pos;
		f->len = (size_t)len;
		f->executable = exec != 0;
		pos += (size_t)len;
	}
	p->files = wire_files;
	p->n_files = h->n_files;
}

/*
 * A spare waits here for its request: the runner's EOF (the spare was
 * discarded) ends it; a message that does not parse is a set-up error.
 */
static void receive_request(struct sbx_plan *p)
{
	struct sbx_wire h;
	size_t end, pos;

	if (read_full(p->ctl_r, &h, sizeof(h)) < 0)
		_exit(0);
	if (h.magic != SBX_WIRE_MAGIC || h.len < sizeof(h) ||
	    h.len - sizeof(h) > sizeof(wire_buf) || h.n_argv < 1 ||
	    (size_t)h.n_argv + h.n_envp > SBX_WIRE_MAX_STRS ||
	    h.n_files > SBX_WIRE_MAX_FILES || h.n_rlimits < 0 ||
	    h.n_rlimits > SBX_MAX_RLIMITS || h.filter_len == 0 ||
	    h.filter_len > BPF_MAXINSNS)
		bad_request(p);
	end = h.len - sizeof(h);
	pos = (size_t)h.filter_len * sizeof(struct sock_filter);
	if (pos > end || read_full(p->ctl_r, wire_buf, end) < 0)
		bad_request(p);
	wire_prog.len = (unsigned short)h.filter_len;
	wire_prog.filter = (struct sock_filter *)(void *)wire_buf;
	p->filter = &wire_prog;
	/* The ruleset was made for the spare's own idea of these. */
	if (h.landlock_abi != p->landlock_abi ||
	    h.landlock_net != p->landlock_net)
		bad_request(p);
	wire_take(p, &h, pos, end);
	p->n_rlimits = h.n_rlimits;
	for (int i = 0; i < h.n_rlimits; i++) {
		p->rlimits[i].resource = h.rlimits[i].resource;
		p->rlimits[i].value.rlim_cur = h.rlimits[i].cur;
		p->rlimits[i].value.rlim_max = h.rlimits[i].max;
	}
}

/* ---- input files ---- */

/* Opens (creating) the directories of path below dirfd; returns the
 * directory fd and points *base at the last component. */
static int open_parent(int dirfd, const char *path, const char **base)
{
	char comp[256];
	int fd = dup(dirfd);

	for (;;) {
		const char *slash = strchr(path, '/');
		size_t n = slash ? (size_t)(slash - path) : 0;
		int next;

		if (!slash)
			break;
		if (n >= sizeof(comp)) {
			close(fd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, path, n);
		comp[n] = '\0';
		if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST)
			goto fail;
		next = openat(fd, comp,
			      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			goto fail;
		close(fd);
		fd = next;
		path = slash + 1;
	}
	*base = path;
	return fd;
fail:
	close(fd);
	return -1;
}

static int chown_tree_path(int dirfd, const char *path, uid_t uid, gid_t gid)
{
	char comp[4096];
	size_t len = str_add(comp, sizeof(comp), 0, path);

	/* Hand every directory the file needed to its owner-to-be. */
	while (len > 0) {
		while (len > 0 && comp[len - 1] != '/')
			len--;
		if (len == 0)
			break;
		comp[--len] = '\0';
		if (fchownat(dirfd, comp, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			return -1;
	}
	return 0;
}

static void write_files(const struct sbx_plan *p, const char *workdir,
			uid_t uid, gid_t gid)
{
	int wfd;

	PL_TRY(wfd = open(workdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC),
	       "open work dir", workdir);
	for (size_t i = 0; i < p->n_files; i++) {
		const struct sandbox_file *f = &p->files[i];
		const char *base;
		int dfd, fd;

		PL_TRY(dfd = open_parent(wfd, f->path, &base),
		       "create directories of", f->path);
		PL_TRY(fd = openat(dfd, base,
				   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
					   O_CLOEXEC,
				   f->executable ? 0755 : 0644),
		       "create input file", f->path);
		PL_TRY(sbx_write_all(fd, f->data, f->len, 0), "write input file",
		       f->path);
		if (uid != (uid_t)-1) {
			PL_TRY(fchown(fd, uid, gid), "chown input file",
			       f->path);
			PL_TRY(chown_tree_path(wfd, f->path, uid, gid),
			       "chown directories of", f->path);
		}
		close(fd);
		close(dfd);
	}
	close(wfd);
}

/* ---- the payload's layers ---- */

static int landlock_rule(int ruleset, const char *path, uint64_t access)
{
	struct landlock_path_beneath_attr rule = {.allowed_access = access};
	int rc;

	rule.parent_fd = open(path, O_PATH | O_CLOEXEC);
	if (rule.parent_fd < 0)
		return errno == ENOENT ? 0 : -1;
	rc = (int)syscall(SYS_landlock_add_rule, ruleset,
			  LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
	close(rule.parent_fd);
	return rc;
}

/* Read-only everywhere, read-write in the work dir; with ABI 4 and no
 * network namespace no TCP at all; with ABI 6 no abstract unix sockets
 * and no signals out of the sandbox.  Returns the ruleset's fd (close-
 * on-exec), which the payload enforces. */
static int make_landlock_ruleset(const struct sbx_plan *p)
{
	const uint64_t read = LANDLOCK_ACCESS_FS_EXECUTE |
			      LANDLOCK_ACCESS_FS_READ_FILE |
			      LANDLOCK_ACCESS_FS_READ_DIR;
	struct sbx_landlock_attr attr = {
		.handled_access_fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1,
	};
	size_t size = sizeof(uint64_t);
	uint64_t devrw = LANDLOCK_ACCESS_FS_READ_FILE |
			 LANDLOCK_ACCESS_FS_WRITE_FILE;
	int rs;

	if (p->landlock_abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	if (p->landlock_abi >= 3) {
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
		devrw |= LANDLOCK_ACCESS_FS_TRUNCATE;
	}
	if (p->landlock_abi >= 4) {
		size = 2 * sizeof(uint64_t);
		if (p->landlock_net)
			attr.handled_access_net = SBX_LL_NET_BIND_TCP |
						  SBX_LL_NET_CONNECT_TCP;
	}
	if (p->landlock_abi >= 6) {
		size = sizeof(attr);
		attr.scoped = SBX_LL_SCOPE_ABSTRACT_UNIX | SBX_LL_SCOPE_SIGNAL;
	}
	PL_TRY(rs = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0),
	       "landlock_create_ruleset", NULL);
	PL_TRY(landlock_rule(rs, "/", read), "landlock rule", "/");
	PL_TRY(landlock_rule(rs, p->workdir, attr.handled_access_fs),
	       "landlock rule", p->workdir);
	for (size_t i = 0; i < 3; i++) {
		char dev[32];
		path3(dev, sizeof(dev), "/dev/", dev_nodes[i], "");
		PL_TRY(landlock_rule(rs, dev, devrw), "landlock rule", dev);
	}
	return rs;
}

static void set_rlimits(const struct sbx_plan *p)
{
	for (int i = 0; i < p->n_rlimits; i++)
		PL_TRY(setrlimit(p->rlimits[i].resource, &p->rlimits[i].value),
		       "setrlimit", NULL);
}

/*
 * stdin /dev/null, stdout and stderr the runner's pipes, the status pipe
 * and the notification socket kept (close-on-exec) for the last steps,
 * every other inherited fd closed.
 */
static void setup_fds(const struct sbx_plan *p, int *st, int *notif)
{
	int null, out, err;

	/* Lift everything above the low numbers first so that dup2 below
	 * cannot clobber one of them. */
	PL_TRY(out = fcntl(p->out_w, F_DUPFD_CLOEXEC, 10), "dup", "stdout");
	PL_TRY(err = fcntl(p->err_w, F_DUPFD_CLOEXEC, 10), "dup", "stderr");
	PL_TRY(*st = fcntl(p->st_w, F_DUPFD_CLOEXEC, 10), "dup", "status");
	PL_TRY(*notif = fcntl(p->notif_child, F_DUPFD_CLOEXEC, 10), "dup",
	       "notify socket");
	PL_TRY(null = open("/dev/null", O_RDONLY | O_CLOEXEC), "open",
	       "/dev/null");
	PL_TRY(dup2(null, 0), "dup2", "stdin");
	PL_TRY(dup2(out, 1), "dup2", "stdout");
	PL_TRY(dup2(err, 2), "dup2", "stderr");
	PL_TRY(dup3(*st, 3, O_CLOEXEC), "dup3", "status");
	PL_TRY(dup3(*notif, 4, O_CLOEXEC), "dup3", "notify socket");
	*st = 3;
	*notif = 4;
	PL_TRY(syscall(SYS_close_range, 5, ~0U, 0), "close_range", NULL);
}

/*
 * What the supervisor prepares for the payload, which inherits it: the
 * default disposition of every signal (an ignored one would stay
 * ignored across exec), an empty capability bounding set (dropped while
 * the supervisor still holds CAP_SETPCAP; quietly skipped where it never
 * did, an unprivileged runner in degraded mode), and the Landlock
 * ruleset, which the payload enforces at its turn.  Done before a spare
 * waits for its request, so that a run on a spare does not wait for
 * them; they depend on nothing of the request.
 */
static void prepare_payload_layers(struct sbx_plan *p)
{
	/* The kernel's struct sigaction, through the raw call: glibc's
	 * sigaction refuses its own signals (32 and 33), which an ignoring
	 * runner would otherwise pass on ignored. */
	struct {
		void (*handler)(int);
		unsigned long flags;
		void (*restorer)(void);
		uint64_t mask;
	} dfl = {.handler = SIG_DFL};

	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			syscall(SYS_rt_sigaction, s, &dfl, NULL,
				sizeof(dfl.mask));
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	p->landlock_fd = p->landlock_abi > 0 ? make_landlock_ruleset(p) : -1;
}

/* The dispositions are the supervisor's defaults: the mask is left. */
static void reset_signal_mask(void)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static void drop_privileges(const struct sbx_plan *p)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct none[2] = {{0}};

	/* No capability survives (the bounding set is already empty:
	 * prepare_payload_layers). */
	if (p->switch_uid) {
		if (p->set_groups)
			PL_TRY(drop_groups(), "setgroups", NULL);
		PL_TRY(set_gid(p->gid), "setresgid", NULL);
		PL_TRY(set_uid(p->uid), "setresuid", NULL);
	}
	PL_TRY(syscall(SYS_capset, &hdr, none), "capset", NULL);
	/* A credential change clears the parent-death signal: set it again
	 * and make sure the parent did not go in between. */
	PL_TRY(prctl(PR_SET_PDEATHSIG, SIGKILL), "prctl PDEATHSIG", NULL);
}

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	char byte = 'F';
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c;

	memset(cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

/* Loads the profile's filter with a notification listener and hands the
 * listener to the runner: the program must never hold it. */
static void load_seccomp(const struct sbx_plan *p, int notif)
{
	int listener;

	PL_TRY(listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				       SECCOMP_FILTER_FLAG_NEW_LISTENER,
				       p->filter),
	       "seccomp", NULL);
	PL_TRY(send_fd(notif, listener), "send seccomp listener", NULL);
	close(listener);
	close(notif);
}

static void payload_main(const struct sbx_plan *p) __attribute__((noreturn));
static void payload_main(const struct sbx_plan *p)
{
	pid_t parent = getppid();
	int st, notif;

	PL_TRY(setsid(), "setsid", NULL);
	PL_TRY(prctl(PR_SET_PDEATHSIG, SIGKILL), "prctl PDEATHSIG", NULL);
	if (getppid() != parent)
		_exit(127);
	PL_TRY(chdir(p->workdir), "chdir", p->workdir);
	if (p->landlock_abi > 0) {
		/* Without CAP_SYS_ADMIN (an unprivileged runner in degraded
		 * mode) Landlock needs no_new_privs first. */
		if (p->mode == SBX_MODE_DEGRADED && !p->switch_uid)
			PL_TRY(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
			       "prctl NO_NEW_PRIVS", NULL);
		PL_TRY(syscall(SYS_landlock_restrict_self, p->landlock_fd, 0),
		       "landlock_restrict_self", NULL);
	}
	set_rlimits(p);
	setup_fds(p, &st, &notif);
	reset_signal_mask();
	drop_privileges(p);
	if (getppid() != parent)
		_exit(127);
	PL_TRY(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl NO_NEW_PRIVS",
	       NULL);
	load_seccomp(p, notif);
	execve(p->exe, p->argv, p->envp);
	die(p, SBX_STAGE_PAYLOAD, "exec", p->exe);
}

static int payload_entry(void *arg)
{
	payload_main(arg);
}

/*
 * Starts the payload as posix_spawn does: CLONE_VM | CLONE_VFORK, on a
 * stack of our own, so that no page table is copied; we sleep until it
 * execs or dies.  Its set-up writes only its own stack (and errno, ours,
 * which we do not read before it is done).
 */
static pid_t start_payload(const struct sbx_plan *p)
{
	static char stack[256 << 10] __attribute__((aligned(16)));

	return clone(payload_entry, stack + sizeof(stack),
		     CLONE_VM | CLONE_VFORK | SIGCHLD, (void *)p);
}

/* ---- the supervisor ---- */

/* The degraded mode's killer (see kill_all) while it runs, else 0. */
static pid_t killer_pid;

/* Kills every process of the run but the supervisor. */
static void kill_all(const struct sbx_plan *p, pid_t payload)
{
	char buf[4096];
	ssize_t n;
	int fd;

	if (p->mode == SBX_MODE_NS) {
		/* pid 1's kill(-1) reaches the whole namespace. */
		kill(-1, SIGKILL);
		return;
	}
	kill(-payload, SIGKILL);
	if (p->kill_as_uid && killer_pid == 0) {
		/* kill(-1) as the run's own uid reaches every process of the
		 * run, daemons that left the session included.  One killer at
		 * a time: on a loaded machine a new one every round would
		 * keep a child alive for ever. */
		pid_t killer = sbx_raw_clone(0, NULL);
		if (killer > 0)
			killer_pid = killer;
		if (killer == 0) {
			if (set_gid(p->gid) < 0 || set_uid(p->uid) < 0)
				_exit(1);
			for (int i = 0; i < 100 && kill(-1, SIGKILL) == 0; i++)
				;
			_exit(0);
		}
	}
	/* Orphans reparented to us, the subreaper. */
	fd = open("/proc/thread-self/children", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	while ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		for (char *s = buf; *s;) {
			long pid = strtol(s, &s, 10);
			if (pid > 0 && pid != killer_pid)
				kill((pid_t)pid, SIGKILL);
			while (*s == ' ')
				s++;
			if (pid <= 0 && *s)
				s++;
		}
	}
	close(fd);
}

static int64_t tv_us(const struct timeval *tv)
{
	return (int64_t)tv->tv_sec * 1000000 + tv->tv_usec;
}

/* Reaps what has ended; returns 1 while children remain, 0 when none. */
static int reap(pid_t payload, struct sbx_msg *done)
{
	struct rusage ru;
	int status;
	pid_t pid;

	while ((pid = wait4(-1, &status, WNOHANG | __WALL, &ru)) > 0) {
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU)
			done->saw_sigxcpu = 1;
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ)
			done->saw_sigxfsz = 1;
		if (pid == killer_pid)
			killer_pid = 0;
		if (pid == payload) {
			done->wstatus = status;
			done->payload_reaped = 1;
			done->payload_cpu_us = tv_us(&ru.ru_utime) +
					       tv_us(&ru.ru_stime);
		}
	}
	return !(pid < 0 && errno == ECHILD);
}

static int count_children(void)
{
	char buf[4096];
	int fd = open("/proc/thread-self/children", O_RDONLY | O_CLOEXEC);
	int count = 0;
	ssize_t n;

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			count += buf[i] == ' ';
	close(fd);
	return count;
}

/*
 * Waits for the payload (or the runner's 'K'), then kills and reaps the
 * rest.  Gives up on processes that outlive 5 s of SIGKILLs, counting
 * them as leftovers (never seen; the bound keeps the runner from
 * hanging).
 */
static void supervise(const struct sbx_plan *p, pid_t payload, int sfd,
		      struct sbx_msg *done)
{
	struct pollfd fds[2] = {{.fd = sfd, .events = POLLIN},
				{.fd = p->ctl_r, .events = POLLIN}};
	struct signalfd_siginfo si;
	int killing = 0, rounds = 0;

	for (;;) {
		int remain = reap(payload, done);
		if (done->payload_reaped)
			killing = 1;
		if (!remain && killing)
			return;
		if (killing) {
			kill_all(p, payload);
			if (++rounds > 500) {
				done->leftovers = count_children() -
						  (killer_pid > 0);
				return;
			}
		}
		/* Zombies that raise no SIGCHLD are picked up on a timer. */
		if (poll(fds, 2, killing ? 10 : 250) < 0 && errno != EINTR)
			return;
		if (fds[0].revents & POLLIN)
			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				;
		if (fds[1].revents) {
			int c = ctl_read(p);
			if (c == SBX_CTL_KILL || c == 0)
				killing = 1;
			if (c == 0)
				fds[1].fd = -1;
		}
	}
}

static void finish(const struct sbx_plan *p, struct sbx_msg *done)
        __attribute__((noreturn));
static void finish(const struct sbx_plan *p, struct sbx_msg *done)
{
	struct rusage ru;

	if (getrusage(RUSAGE_CHILDREN, &ru) == 0) {
		done->cpu_us = tv_us(&ru.ru_utime) + tv_us(&ru.ru_stime);
		done->maxrss_kb = ru.ru_maxrss;
	}
	done->type = SBX_MSG_DONE;
	send_msg(p, done);
	/* Stay until the runner has read the work dir (or is gone). */
	while (ctl_read(p) != 0)
		;
	_exit(0);
}

static void enter_namespace(const struct sbx_plan *p)
{
	struct netns_helper net;

	/* Made while the runner writes our uid maps and we build the
	 * root. */
	netns_start(p, &net);
	if (ctl_read(p) != SBX_CTL_MAPPED)
		_exit(0);
	/* Become the namespace's own root (mapped, so that files can be
	 * made), still an unprivileged uid outside. */
	NS_TRY(set_gid(p->init_gid), "setresgid", "init");
	NS_TRY(set_uid(p->init_uid), "setresuid", "init");
	setup_namespace(p);
	netns_join(p, &net);
}

/*
 * Keeps only the five fds of the plan (moved to 3..7 in a private copy of
 * it) and /dev/null as 0-2.  Other threads of the runner may be setting
 * up runs of their own: their pipes, inherited by this clone, must not
 * stay open here or their runners would wait for an EOF.
 */
static void own_fds(struct sbx_plan *p)
{
	int *fds[] = {&p->ctl_r, &p->st_w, &p->out_w, &p->err_w,
		      &p->notif_child};
	int null;

	for (size_t i = 0; i < 5; i++)
		if ((*fds[i] = fcntl(*fds[i], F_DUPFD_CLOEXEC, 64)) < 0)
			_exit(127);
	for (int i = 0; i < 5; i++)
		if (dup3(*fds[i], 3 + i, O_CLOEXEC) < 0)
			_exit(127);
		else
			*fds[i] = 3 + i;
	/* Opened only now: opened first, it could have landed on 3..7 (a
	 * hole another thread's run left in the table) and been replaced
	 * by one of the pipes above - which 0-2 would then keep open, and
	 * the runner would wait a second for the EOF of its output. */
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int fd = 0; fd < 3 && null >= 0; fd++)
		if (fd != null)
			dup2(null, fd);
	syscall(SYS_close_range, 8, ~0U, 0);
}

void sbx_supervisor_main(const struct sbx_plan *plan)
{
	struct sbx_plan local = *plan;
	const struct sbx_plan *p = &local;
	struct sbx_msg done = {0};
	sigset_t chld;
	pid_t payload;
	int sfd, file_uid;

	own_fds(&local);
	setsid();
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		die(p, SBX_STAGE_NAMESPACE, "prctl PDEATHSIG", NULL);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	NS_TRY(sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK),
	       "signalfd", NULL);
	if (p->mode == SBX_MODE_NS) {
		enter_namespace(p);
		file_uid = SBX_INSIDE_UID;
	} else {
		NS_TRY(prctl(PR_SET_CHILD_SUBREAPER, 1), "prctl SUBREAPER",
		       NULL);
		file_uid = p->switch_uid ? (int)p->uid : -1;
	}
	prepare_payload_layers(&local);
	if (p->spare) {
		send_msg(p, &(struct sbx_msg){.type = SBX_MSG_SPARE});
		receive_request(&local);
	}
	write_files(p, p->workdir, (uid_t)file_uid,
		    p->mode == SBX_MODE_NS ? SBX_INSIDE_UID : p->gid);
	/* The payload starts at once: the runner starts its clock when it
	 * reads this, and a 'K' it sends meanwhile is read by supervise. */
	send_msg(p, &(struct sbx_msg){.type = SBX_MSG_READY});
	PL_TRY(payload = start_payload(p), "clone", "payload");
	close(p->out_w);
	close(p->err_w);
	close(p->notif_child);
	supervise(p, payload, sfd, &done);
	finish(p, &done);
}
