/*
 * super.c - the supervisor's process, as the runner and the pool see it
 * from outside: its plan for namespace mode (rlimits, tmpfs, uids, the
 * Landlock ABI), its start (the pipes and sockets to it, the raw clone
 * with every namespace, the uid and gid maps) and its end (kill, reap,
 * close).  What the supervisor does inside is child.c; what a run does
 * with it is runner.c; the spare it becomes ahead of time is pool.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "util.h"

/* The network namespace is the supervisor's to make, beside its root
 * (child.c, "the network namespace"). */
#define NS_FLAGS (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | \
		  CLONE_NEWUTS)
/* Payload uids for a root runner: a per-run pair from this range, so that
 * concurrent runs cannot signal each other even in degraded mode. */
#define SBX_UID_BASE 0x60000000u
#define SBX_UID_SLOTS 32768u

static _Atomic int landlock_abi_cache = -1;

int sbx_landlock_abi(void)
{
	int abi = atomic_load(&landlock_abi_cache);

	if (abi < 0) {
		long v = syscall(SYS_landlock_create_ruleset, NULL, 0, 1UL);
		abi = v > 0 ? (int)v : 0;
		atomic_store(&landlock_abi_cache, abi);
	}
	return abi;
}

void sbx_pick_uids(int *root, uid_t *uid, uid_t *init_uid)
{
	uint16_t slot = 0;

	*root = geteuid() == 0;
	if (!*root) {
		*uid = *init_uid = geteuid();
		return;
	}
	if (getrandom(&slot, sizeof(slot), 0) != sizeof(slot))
		slot = (uint16_t)(getpid() ^ now_ns());
	*uid = SBX_UID_BASE + 2 * (slot % SBX_UID_SLOTS);
	*init_uid = *uid + 1;
}

static void add_rlimit(struct sbx_plan *p, int resource, uint64_t soft,
		       uint64_t hard)
{
	p->rlimits[p->n_rlimits].resource = resource;
	p->rlimits[p->n_rlimits].value.rlim_cur = soft;
	p->rlimits[p->n_rlimits].value.rlim_max = hard;
	p->n_rlimits++;
}

void sbx_plan_rlimits(struct sbx_plan *p, const struct sandbox_limits *l)
{
	uint64_t cpu_s = (uint64_t)(l->cpu_ms + 999) / 1000;

	/* SIGXCPU at the soft limit, SIGKILL one second later for those
	 * that ignore it. */
	add_rlimit(p, RLIMIT_CPU, cpu_s, cpu_s + 1);
	add_rlimit(p, RLIMIT_AS, l->memory_bytes, l->memory_bytes);
	add_rlimit(p, RLIMIT_NPROC, l->procs, l->procs);
	add_rlimit(p, RLIMIT_FSIZE, l->file_bytes, l->file_bytes);
	add_rlimit(p, RLIMIT_NOFILE, l->open_files, l->open_files);
	add_rlimit(p, RLIMIT_STACK, l->stack_bytes, l->stack_bytes);
	add_rlimit(p, RLIMIT_CORE, 0, 0);
	add_rlimit(p, RLIMIT_MEMLOCK, 64 << 10, 64 << 10);
	add_rlimit(p, RLIMIT_MSGQUEUE, 0, 0);
	add_rlimit(p, RLIMIT_SIGPENDING, 256, 256);
	add_rlimit(p, RLIMIT_RTPRIO, 0, 0);
	add_rlimit(p, RLIMIT_NICE, 0, 0);
}

void sbx_plan_ns(struct sbx_plan *p, int root,
		 const struct sandbox_limits *l, char *opts, size_t opts_len)
{
	p->mode = SBX_MODE_NS;
	p->ns_root = SBX_NS_ROOT;
	p->workdir = "/work";
	snprintf(opts, opts_len,
		 "size=%llu,nr_inodes=%llu,mode=0700,uid=%d,gid=%d",
		 (unsigned long long)l->workdir_bytes,
		 (unsigned long long)l->workdir_inodes, SBX_INSIDE_UID,
		 SBX_INSIDE_UID);
	p->tmpfs_opts = opts;
	p->switch_uid = 1;
	p->set_groups = root;
	p->uid = p->gid = SBX_INSIDE_UID;
	p->init_uid = p->init_gid = root ? 0 : SBX_INSIDE_UID;
	p->landlock_abi = sbx_landlock_abi();
	p->landlock_net = 0;
}

/* ---- starting the supervisor ---- */

static int write_proc(pid_t pid, const char *file, const char *text)
{
	char path[64];
	int fd, rc;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -1;
	rc = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
	close(fd);
	return rc;
}

/* The supervisor is the namespace's root, mapped to an unprivileged host
 * uid; the payload is uid 1000 inside, another one outside.  An
 * unprivileged runner can map only itself. */
static int write_maps(pid_t pid, int root, uid_t uid, uid_t init_uid)
{
	char map[128];

	if (root) {
		snprintf(map, sizeof(map), "0 %u 1\n%d %u 1\n", init_uid,
			 SBX_INSIDE_UID, uid);
		if (write_proc(pid, "uid_map", map) < 0 ||
		    write_proc(pid, "gid_map", map) < 0)
			return -1;
		return 0;
	}
	snprintf(map, sizeof(map), "%d %u 1\n", SBX_INSIDE_UID, uid);
	if (write_proc(pid, "setgroups", "deny") < 0 ||
	    write_proc(pid, "uid_map", map) < 0)
		return -1;
	snprintf(map, sizeof(map), "%d %u 1\n", SBX_INSIDE_UID, getegid());
	return write_proc(pid, "gid_map", map);
}

void sbx_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void close_pair(int fds[2])
{
	sbx_close_fd(&fds[0]);
	sbx_close_fd(&fds[1]);
}

static int nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void sbx_super_end(struct sbx_super *s)
{
	int status;

	/* EOF on its control socket lets a waiting supervisor go; the kill
	 * takes it (and its pid namespace) wherever it is. */
	sbx_close_fd(&s->ctl);
	if (s->pid > 0) {
		/* Not yet reaped, so the pid is still ours. */
		if (s->pidfd < 0 ||
		    syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL,
			    0) < 0)
			kill(s->pid, SIGKILL);
		while (waitpid(s->pid, &status, __WALL) < 0 && errno == EINTR)
			;
		s->pid = 0;
	}
	sbx_close_fd(&s->pidfd);
	sbx_close_fd(&s->out);
	sbx_close_fd(&s->err);
	sbx_close_fd(&s->status);
	sbx_close_fd(&s->notif);
}

int sbx_super_start(struct sbx_plan *plan, int root, uid_t uid,
		    uid_t init_uid, struct sbx_super *s, int *ns_failed,
		    char *why, size_t why_len)
{
	int out[2] = {-1, -1}, errp[2] = {-1, -1}, st[2] = {-1, -1};
	int ctl[2] = {-1, -1}, notif[2] = {-1, -1};
	int ns = plan->mode == SBX_MODE_NS;

	*s = (struct sbx_super){.pidfd = -1, .out = -1, .err = -1,
				.status = -1, .notif = -1, .ctl = -1};
	*ns_failed = 0;
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    pipe2(st, O_CLOEXEC) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, notif) < 0) {
		snprintf(why, why_len, "pipes for the run: %s",
			 strerror(errno));
		close_pair(out);
		close_pair(errp);
		close_pair(st);
		close_pair(ctl);
		close_pair(notif);
		return -1;
	}
	plan->ctl_r = ctl[1];
	plan->st_w = st[1];
	plan->out_w = out[1];
	plan->err_w = errp[1];
	plan->notif_child = notif[1];
	s->out = out[0];
	s->err = errp[0];
	s->status = st[0];
	s->notif = notif[0];
	s->ctl = ctl[0];
	s->pid = sbx_raw_clone(ns ? NS_FLAGS : 0, &s->pidfd);
	if (s->pid == 0)
		sbx_supervisor_main(plan);
	close(out[1]);
	close(errp[1]);
	close(st[1]);
	close(ctl[1]);
	close(notif[1]);
	if (s->pid < 0) {
		*ns_failed = ns;
		snprintf(why, why_len, "clone%s: %s",
			 ns ? " with namespaces" : "", strerror(errno));
		s->pid = 0;
		sbx_super_end(s);
		return -1;
	}
	nonblock(s->out);
	nonblock(s->err);
	nonblock(s->status);
	nonblock(s->notif);
	if (ns) {
		if (write_maps(s->pid, root, uid, init_uid) < 0) {
			*ns_failed = 1;
			snprintf(why, why_len, "write uid/gid maps: %s",
				 strerror(errno));
			sbx_super_end(s);
			return -1;
		}
		send(s->ctl, &(char){SBX_CTL_MAPPED}, 1, MSG_NOSIGNAL);
	}
	return 0;
}
