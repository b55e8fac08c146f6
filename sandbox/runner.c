/*
 * runner.c - sandbox_exec: one run from spec to verdict.
 *
 * The runner prepares a plan (paths, argv, envp, rlimits, the compiled
 * filter) so that its children never allocate, makes a host work dir
 * where one is needed (degraded mode, --keep), starts the supervisor -
 * a spare from the warm pool (pool.c) when one fits, else a clone with
 * every namespace in NS mode and its uid/gid maps (super.c) - and then
 * lives in
 * one poll loop over the payload's stdout and stderr pipes, the
 * supervisor's status pipe and pidfd, a timerfd, and the seccomp
 * notification listener the payload hands over.  At the
 * deadline, at the output cap or on a forbidden syscall it has the
 * supervisor kill the whole tree (and kills the supervisor - and with it
 * the pid namespace - if that takes more than a second).  When the
 * supervisor reports everything reaped, the runner reads the files to
 * collect through /proc/PID/root (the work dir is a tmpfs only the
 * namespace sees), lets the supervisor go, removes the host work dir if
 * it made one, and writes the verdict.
 *
 * When the kernel refuses the namespaces, or the namespace set-up fails
 * before the payload started, the run is retried in degraded mode and the
 * verdict says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "log.h"
#include "util.h"

#define SETUP_TIMEOUT_MS 10000
#define KILL_GRACE_MS 1000
#define DRAIN_GRACE_MS 1000
#define SANDBOX_PATH "/usr/local/bin:/usr/bin:/bin"

enum { FD_OUT, FD_ERR, FD_STATUS, FD_NOTIF, FD_LISTENER, FD_PIDFD, FD_TIMER,
       N_FDS };

enum phase { PH_SETUP, PH_RUNNING, PH_KILLING, PH_DRAINING };

struct run {
	const struct sandbox_spec *spec;
	const struct sbx_profile *profile;
	int root;                     /* the runner is uid 0 */
	uid_t uid;                    /* the payload's uid on the host */
	uid_t init_uid;               /* NS mode: the supervisor's host uid */
	char *workdir;                /* W on the host: degraded mode and
					 --keep only, else NULL */
	char *exe_name;               /* argv[0] resolved, or NULL */
	char **envp;
	struct sandbox_file *files;
	size_t n_files;
	struct sbx_filebuf *dir_files;
	size_t n_dir_files;
	char tmpfs_opts[160];
	char *exe;                    /* absolute path as the payload sees it */
	int landlock_abi;
	char degraded_reason[300];

	/* one attempt */
	int mode;
	struct sbx_plan plan;
	pid_t xpid;
	struct pollfd fds[N_FDS];
	int ctl;                      /* socket to the supervisor */
	enum phase phase;
	struct sbx_capture out, err;
	int64_t t_go, t_end;
	int warm;                     /* on a spare from the pool */
	int got_done, x_dead, ns_failed;
	int timed_out, output_limit, violation, we_killed;
	char syscall[64];
	char error[512];
	struct sbx_msg done;

	/* after the run */
	cJSON *collected, *collect_errors;
	int file_limit_hit;
	int removed;
	unsigned keep_skipped;
};

static int forced_degraded(const struct sandbox_spec *spec)
{
	const char *env = getenv("SUTRA_SANDBOX_DEGRADED");

	return spec->force_degraded || (env && *env && strcmp(env, "0") != 0);
}

/* ---- the plan ---- */

/* /dev/shm when it is a world-writable sticky directory, else /tmp. */
static const char *default_parent(void)
{
	struct stat sb;

	if (stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) &&
	    (sb.st_mode & (S_ISVTX | 0777)) == (S_ISVTX | 0777))
		return "/dev/shm";
	return "/tmp";
}

static int make_workdir(struct run *r, struct sutra_err *err)
{
	const char *parent = r->spec->parent_dir;
	char *tmpl;

	/* Not $TMPDIR: the payload's uid must be able to reach the work dir,
	 * so its parent must be traversable by all.  /dev/shm first: a
	 * tmpfs, where making and removing the dir costs microseconds, not
	 * the journal's milliseconds. */
	if (!parent || !*parent)
		parent = getenv("SUTRA_SANDBOX_TMPDIR");
	if (!parent || !*parent)
		parent = default_parent();
	if (asprintf(&tmpl, "%s/sutra-sbx.XXXXXX", parent) < 0)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	if (!mkdtemp(tmpl)) {
		err_set(err, SUTRA_ERUNTIME, "create work dir in '%s': %s",
			parent, strerror(errno));
		free(tmpl);
		return -1;
	}
	r->workdir = realpath(tmpl, NULL);
	if (!r->workdir) {
		err_set(err, SUTRA_ERUNTIME, "work dir '%s': %s", tmpl,
			strerror(errno));
		rmdir(tmpl);
	}
	free(tmpl);
	return r->workdir ? 0 : -1;
}

static void set_error(struct run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_error(struct run *r, const char *fmt, ...)
{
	va_list ap;

	if (r->error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
}

/* argv[0] -> the absolute path the payload execs. */
static int resolve_exe(struct run *r, const char *workdir_inside,
		       struct sutra_err *err)
{
	const char *name = r->spec->argv[0];
	char path[PATH_MAX];
	const char *dirs = SANDBOX_PATH;

	free(r->exe);
	r->exe = NULL;
	if (name[0] == '/')
		r->exe = strdup(name);
	else if (strchr(name, '/'))
		r->exe = path_join(workdir_inside, name);
	else {
		while (*dirs && !r->exe) {
			size_t n = strcspn(dirs, ":");
			snprintf(path, sizeof(path), "%.*s/%s", (int)n, dirs,
				 name);
			if (access(path, X_OK) == 0)
				r->exe = strdup(path);
			dirs += n + (dirs[n] == ':');
		}
		if (!r->exe) {
			/* The program's problem, not the caller's: a verdict
			 * with status error. */
			set_error(r, "command '%s' not found in the sandbox "
				  "PATH (%s)", name, SANDBOX_PATH);
			return 1;
		}
	}
	return r->exe ? 0 : err_set(err, SUTRA_ENOMEM, "out of memory");
}

/* Appends NAME + value (a copy) to the NULL-terminated *env. */
static int push_env(char ***env, size_t *n, const char *name,
		    const char *value)
{
	char **ne = realloc(*env, (*n + 2) * sizeof(**env));

	if (!ne)
		return -1;
	*env = ne;
	if (asprintf(&ne[*n], "%s%s", name, value) < 0)
		return -1;
	ne[++*n] = NULL;
	return 0;
}

/* The clean environment: PATH, HOME and TMPDIR (the work dir), LANG,
 * then the profile's and the request's own. */
static int build_env(struct run *r, const char *workdir_inside)
{
	const char *lang = getenv("LANG");
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; r->envp && r->envp[i]; i++)
		free(r->envp[i]);
	free(r->envp);
	r->envp = NULL;
	rc |= push_env(&r->envp, &n, "PATH=", SANDBOX_PATH);
	rc |= push_env(&r->envp, &n, "HOME=", workdir_inside);
	rc |= push_env(&r->envp, &n, "TMPDIR=", workdir_inside);
	rc |= push_env(&r->envp, &n, "LANG=",
		       lang && *lang && !strchr(lang, '/') ? lang : "C.UTF-8");
	for (size_t i = 0; r->profile->env && r->profile->env[i]; i++)
		rc |= push_env(&r->envp, &n, "", r->profile->env[i]);
	for (size_t i = 0; r->spec->env && r->spec->env[i]; i++)
		rc |= push_env(&r->envp, &n, "", r->spec->env[i]);
	return rc;
}

static int plan_attempt(struct run *r, int mode, struct sutra_err *err)
{
	struct sbx_plan *p = &r->plan;
	const char *inside = mode == SBX_MODE_NS ? "/work" : r->workdir;
	int rc;

	memset(p, 0, sizeof(*p));
	if (mode == SBX_MODE_NS) {
		sbx_plan_ns(p, r->root, &r->spec->limits, r->tmpfs_opts,
			    sizeof(r->tmpfs_opts));
	} else {
		p->mode = mode;
		p->workdir = inside;
		p->switch_uid = p->set_groups = p->kill_as_uid = r->root;
		p->uid = p->gid = r->uid;
	}
	p->files = r->files;
	p->n_files = r->n_files;
	p->argv = r->spec->argv;
	p->landlock_abi = r->landlock_abi;
	p->landlock_net = mode == SBX_MODE_DEGRADED;
	if ((rc = resolve_exe(r, inside, err)) < 0)
		return -1;
	if (rc > 0)
		return 1;
	if (build_env(r, inside) < 0)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	p->exe = r->exe;
	p->envp = r->envp;
	sbx_plan_rlimits(p, &r->spec->limits);
	return 0;
}

static void arm_timer(struct run *r, int64_t ms)
{
	struct itimerspec its = {
		.it_value = {.tv_sec = ms / 1000,
			     .tv_nsec = (ms % 1000) * 1000000 + 1},
	};

	timerfd_settime(r->fds[FD_TIMER].fd, 0, &its, NULL);
}

/* The run's fds and ids from a started supervisor (or a spare). */
static void adopt(struct run *r, const struct sbx_super *s)
{
	r->xpid = s->pid;
	r->fds[FD_OUT].fd = s->out;
	r->fds[FD_ERR].fd = s->err;
	r->fds[FD_STATUS].fd = s->status;
	r->fds[FD_NOTIF].fd = s->notif;
	r->fds[FD_PIDFD].fd = s->pidfd;
	r->ctl = s->ctl;
	for (int i = 0; i < N_FDS; i++)
		r->fds[i].events = POLLIN;
	arm_timer(r, SETUP_TIMEOUT_MS);
}

/*
 * Clones the supervisor and, in NS mode, maps its ids.  Returns 0, or -1
 * with r->error set; r->ns_failed when the kernel refused the namespaces.
 */
static int start(struct run *r)
{
	struct sbx_super s;
	char why[256];

	if (sbx_super_start(&r->plan, r->root, r->uid, r->init_uid, &s,
			    &r->ns_failed, why, sizeof(why)) < 0) {
		set_error(r, "%s", why);
		return -1;
	}
	adopt(r, &s);
	return 0;
}

/*
 * Runs on a spare from the pool when one fits: takes it, hands it the
 * request and adopts it.  Returns 0 when the run is on a spare, 1 when
 * it must start its own supervisor, -1 when out of memory.
 */
/* The seccomp filter of the run's profile: compiled on the first run of
 * a process that uses it (~0.6 ms), then cached. */
static int plan_filter(struct run *r, struct sutra_err *err)
{
	return sbx_filter_get(r->profile, r->mode == SBX_MODE_NS,
			      &r->plan.filter, err);
}

static int start_warm(struct run *r, struct sutra_err *err)
{
	struct sbx_spare spare;
	char *msg = NULL;
	size_t len = 0;
	int rc;

	/* A kept work dir is copied out of the run's tmpfs: cold runs only,
	 * so that the spare needs no host dir. */
	if (r->spec->keep || !sbx_pool_take(&r->spec->limits, &spare))
		return 1;
	if (plan_filter(r, err) < 0 ||
	    (rc = sbx_wire_encode(&r->plan, &msg, &len)) < 0) {
		sbx_super_end(&spare.sup);
		return err->code ? -1 : err_set(err, SUTRA_ENOMEM,
						"out of memory");
	}
	if (rc == 0)
		rc = sbx_write_all(spare.sup.ctl, msg, len, 1);
	free(msg);
	if (rc != 0) {
		/* Too large for a spare, or the spare is gone (killed by
		 * someone): build our own. */
		sbx_super_end(&spare.sup);
		return 1;
	}
	r->uid = spare.uid;
	r->init_uid = spare.init_uid;
	r->warm = 1;
	adopt(r, &spare.sup);
	return 0;
}

/*
 * A cold run in NS mode.  When its request is small, the supervisor is
 * cloned first, in spare mode, and the filter is compiled and sent
 * while it builds the namespace on the other CPU: the first run of a
 * process (the whole CLI) does not wait for both in turn.  The message
 * then fits the socket's buffer, so sending it never blocks on a
 * supervisor still at its mounts.  A larger request goes with the
 * clone, in the plan.  Returns 0 when started, 1 when not (r->error
 * says why), -1 on a runtime error (err).
 */
#define SBX_WIRE_EARLY_MAX (64u << 10)

static int start_cold_ns(struct run *r, struct sutra_err *err)
{
	char *msg = NULL;
	size_t len = 0;
	int rc;

	if (!sbx_wire_fits(&r->plan, BPF_MAXINSNS, SBX_WIRE_EARLY_MAX)) {
		if (plan_filter(r, err) < 0)
			return -1;
		return start(r) < 0 ? 1 : 0;
	}
	r->plan.spare = 1;
	if (start(r) < 0)
		return 1;
	if (plan_filter(r, err) < 0)
		return -1;
	if ((rc = sbx_wire_encode(&r->plan, &msg, &len)) != 0)
		return rc < 0 ? err_set(err, SUTRA_ENOMEM, "out of memory")
			      : (set_error(r, "the request outgrew its "
					   "estimate"), 1);
	/* A supervisor that failed its set-up has closed the socket: the
	 * poll loop reads why from the status pipe. */
	sbx_write_all(r->ctl, msg, len, 1);
	free(msg);
	return 0;
}

/* ---- the poll loop ---- */

static void start_kill(struct run *r)
{
	if (r->phase == PH_KILLING || r->phase == PH_DRAINING)
		return;
	r->phase = PH_KILLING;
	r->we_killed = 1;
	send(r->ctl, &(char){SBX_CTL_KILL}, 1, MSG_NOSIGNAL);
	arm_timer(r, KILL_GRACE_MS);
}

static void on_timer(struct run *r)
{
	uint64_t ticks;

	if (read(r->fds[FD_TIMER].fd, &ticks, sizeof(ticks)) < 0)
		return;
	switch (r->phase) {
	case PH_SETUP:
		set_error(r, "sandbox set-up took longer than %d ms",
			  SETUP_TIMEOUT_MS);
		start_kill(r);
		break;
	case PH_RUNNING:
		r->timed_out = 1;
		start_kill(r);
		break;
	case PH_KILLING:
		/* The supervisor did not report in time: kill it, and with
		 * it (in NS mode) the whole pid namespace. */
		syscall(SYS_pidfd_send_signal, r->fds[FD_PIDFD].fd, SIGKILL,
			NULL, 0);
		break;
	case PH_DRAINING:
		/* Someone still holds the pipes: stop reading. */
		sbx_close_fd(&r->fds[FD_OUT].fd);
		sbx_close_fd(&r->fds[FD_ERR].fd);
		break;
	}
}

static void on_output(struct run *r, int which)
{
	struct sbx_capture *c = which == FD_OUT ? &r->out : &r->err;
	char buf[65536];
	ssize_t n;

	/* A bounded number of reads per wake-up keeps both streams and the
	 * timer served under a flood. */
	for (int i = 0; i < 16; i++) {
		n = read(r->fds[which].fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0 || errno != EAGAIN)
				sbx_close_fd(&r->fds[which].fd);
			return;
		}
		sbx_capture_add(c, buf, (size_t)n);
		if (r->out.total + r->err.total > r->spec->limits.output_bytes &&
		    !r->output_limit && r->phase == PH_RUNNING) {
			r->output_limit = 1;
			start_kill(r);
		}
	}
}

static void on_notif_socket(struct run *r)
{
	char cbuf[CMSG_SPACE(sizeof(int))], byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c;
	ssize_t n = recvmsg(r->fds[FD_NOTIF].fd, &msg, MSG_CMSG_CLOEXEC);

	if (n < 0 && errno == EAGAIN)
		return;
	c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
	if (c && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&r->fds[FD_LISTENER].fd, CMSG_DATA(c), sizeof(int));
	sbx_close_fd(&r->fds[FD_NOTIF].fd);
}

static void on_listener(struct run *r)
{
	union {
		struct seccomp_notif n;
		char pad[512];   /* newer kernels may send a larger struct */
	} u;

	if (!(r->fds[FD_LISTENER].revents & POLLIN)) {
		/* POLLHUP: no process uses the filter any more. */
		sbx_close_fd(&r->fds[FD_LISTENER].fd);
		return;
	}
	memset(&u, 0, sizeof(u));
	if (ioctl(r->fds[FD_LISTENER].fd, SECCOMP_IOCTL_NOTIF_RECV, &u) < 0)
		return;
	if (!r->violation) {
		r->violation = 1;
		sbx_syscall_name(u.n.data.arch, u.n.data.nr, r->syscall,
				 sizeof(r->syscall));
	}
	start_kill(r);
}

static void on_status(struct run *r)
{
	struct sbx_msg m;
	ssize_t n = read(r->fds[FD_STATUS].fd, &m, sizeof(m));

	if (n != sizeof(m)) {
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			sbx_close_fd(&r->fds[FD_STATUS].fd);
		return;
	}
	switch (m.type) {
	case SBX_MSG_READY:
		if (r->phase != PH_SETUP)
			break;   /* already being killed (set-up too slow) */
		r->phase = PH_RUNNING;
		r->t_go = now_ns();
		arm_timer(r, r->spec->limits.wall_ms);
		break;
	case SBX_MSG_SPARE:
		/* A cold supervisor in spare mode: its namespace is up and
		 * it reads the request we sent. */
		break;
	case SBX_MSG_ERROR:
		m.what[sizeof(m.what) - 1] = '\0';
		if (m.stage == SBX_STAGE_NAMESPACE && r->phase == PH_SETUP)
			r->ns_failed = 1;
		set_error(r, "%s: %s", m.what, strerror(m.err_no));
		break;
	case SBX_MSG_DONE:
		r->done = m;
		r->got_done = 1;
		r->t_end = now_ns();
		r->phase = PH_DRAINING;
		arm_timer(r, DRAIN_GRACE_MS);
		break;
	}
}

static int loop_done(const struct run *r)
{
	if (r->x_dead)
		return 1;
	return r->got_done && r->fds[FD_OUT].fd < 0 && r->fds[FD_ERR].fd < 0;
}

static void poll_loop(struct run *r)
{
	while (!loop_done(r)) {
		if (poll(r->fds, N_FDS, -1) < 0) {
			if (errno == EINTR)
				continue;
			set_error(r, "poll: %s", strerror(errno));
			start_kill(r);
			syscall(SYS_pidfd_send_signal, r->fds[FD_PIDFD].fd,
				SIGKILL, NULL, 0);
			r->x_dead = 1;
			break;
		}
		if (r->fds[FD_OUT].revents)
			on_output(r, FD_OUT);
		if (r->fds[FD_ERR].revents)
			on_output(r, FD_ERR);
		if (r->fds[FD_NOTIF].revents)
			on_notif_socket(r);
		if (r->fds[FD_LISTENER].revents)
			on_listener(r);
		if (r->fds[FD_STATUS].revents)
			on_status(r);
		if (r->fds[FD_TIMER].revents)
			on_timer(r);
		if (r->fds[FD_PIDFD].revents) {
			/* Gone (killed after the grace, or failed): take the
			 * report if it made it, and stop. */
			if (!r->got_done)
				on_status(r);
			r->x_dead = 1;
		}
	}
	if (!r->t_end)
		r->t_end = now_ns();
	if (r->x_dead && !r->got_done && !r->we_killed)
		set_error(r, "the sandbox supervisor ended without a report");
}

/* ---- after the run: files, kill, removal ---- */

static int open_work(struct run *r)
{
	char path[64];
	int root, work;

	if (r->mode == SBX_MODE_DEGRADED)
		return open(r->workdir,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	/* The supervisor is alive (we have not let it go): its root is the
	 * namespace's, and /work in it the run's tmpfs. */
	snprintf(path, sizeof(path), "/proc/%d/root", (int)r->xpid);
	if ((root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	work = sbx_open_beneath(root, "work", O_RDONLY | O_DIRECTORY);
	close(root);
	return work;
}

static void collect(struct run *r, int work)
{
	const struct sandbox_spec *s = r->spec;

	for (size_t i = 0; s->collect && s->collect[i]; i++) {
		const char *why = NULL;
		char *data, *text;
		size_t len;

		if (!r->collected) {
			r->collected = cJSON_CreateObject();
			r->collect_errors = cJSON_CreateObject();
		}
		if (sbx_collect_file(work, s->collect[i],
				     s->limits.collect_bytes, r->uid, &data,
				     &len, &why) < 0) {
			cJSON_AddStringToObject(r->collect_errors,
						s->collect[i], why);
			continue;
		}
		text = sbx_utf8_clean(data, len);
		cJSON_AddStringToObject(r->collected, s->collect[i],
					text ? text : "");
		free(text);
		free(data);
	}
}

/* Did the run hit the per-file limit or fill its work dir? */
static void check_file_limits(struct run *r, int work)
{
	const struct sandbox_limits *l = &r->spec->limits;
	struct statfs fs;
	int clean = r->done.payload_reaped && WIFEXITED(r->done.wstatus) &&
		    WEXITSTATUS(r->done.wstatus) == 0;

	if (r->mode == SBX_MODE_NS && fstatfs(work, &fs) == 0) {
		if (fs.f_bfree == 0 || fs.f_ffree == 0) {
			r->file_limit_hit = 1;
			return;
		}
		/* Nothing can have reached the per-file limit unless that
		 * much space is in use: skip the walk. */
		if ((uint64_t)(fs.f_blocks - fs.f_bfree) * fs.f_bsize <
		    l->file_bytes)
			return;
	} else if (clean) {
		return;
	}
	r->file_limit_hit = sbx_largest_file(work) >= l->file_bytes;
}

static void keep_files(struct run *r, int work, struct sutra_err *err)
{
	int dst;

	if (r->mode == SBX_MODE_DEGRADED) {
		/* The work dir is already the host's: strip what could lead
		 * whoever opens it later somewhere else. */
		r->keep_skipped = sbx_prune_tree(work);
		return;
	}
	dst = open(r->workdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dst < 0 || sbx_copy_tree(work, dst, &r->keep_skipped, err) < 0)
		set_error(r, "keep work dir '%s': %s", r->workdir,
			  err->msg[0] ? err->msg : strerror(errno));
	if (dst >= 0)
		close(dst);
}

static void after_payload(struct run *r)
{
	struct sutra_err err = {0};
	int work;

	if (!r->got_done || r->x_dead)
		return;
	if ((work = open_work(r)) < 0) {
		set_error(r, "open the work dir: %s", strerror(errno));
		return;
	}
	collect(r, work);
	check_file_limits(r, work);
	if (r->spec->keep)
		keep_files(r, work, &err);
	close(work);
}

static void end_attempt(struct run *r)
{
	int status;

	/* Lets the supervisor exit (or, if it is still busy, kills it). */
	sbx_close_fd(&r->ctl);
	if (r->xpid > 0) {
		if (!r->got_done)
			syscall(SYS_pidfd_send_signal, r->fds[FD_PIDFD].fd,
				SIGKILL, NULL, 0);
		/* Everything else of the run was reaped (DONE) and its files
		 * read: the pool's builder may wait for the supervisor's
		 * exit, which tears the namespaces down. */
		if (r->got_done && r->fds[FD_PIDFD].fd >= 0 &&
		    syscall(SYS_pidfd_send_signal, r->fds[FD_PIDFD].fd,
			    SIGKILL, NULL, 0) == 0 &&
		    sbx_pool_reap_later(r->xpid, r->fds[FD_PIDFD].fd)) {
			r->fds[FD_PIDFD].fd = -1;
		} else {
			while (waitpid(r->xpid, &status, __WALL) < 0 &&
			       errno == EINTR)
				;
		}
		r->xpid = 0;
	}
	for (int i = 0; i < N_FDS; i++)
		if (i != FD_TIMER)
			sbx_close_fd(&r->fds[i].fd);
}

static int attempt(struct run *r, int mode, struct sutra_err *err)
{
	int timer = r->fds[FD_TIMER].fd;
	int rc;

	r->mode = mode;
	r->phase = PH_SETUP;
	r->got_done = r->x_dead = r->ns_failed = r->warm = 0;
	r->timed_out = r->output_limit = r->violation = r->we_killed = 0;
	r->t_go = r->t_end = 0;
	r->error[0] = r->syscall[0] = '\0';
	memset(&r->done, 0, sizeof(r->done));
	for (int i = 0; i < N_FDS; i++)
		r->fds[i] = (struct pollfd){.fd = -1};
	r->fds[FD_TIMER].fd = timer;
	r->ctl = -1;
	sbx_capture_free(&r->out);
	sbx_capture_free(&r->err);
	if (sbx_capture_init(&r->out, r->spec->limits.capture_bytes) < 0 ||
	    sbx_capture_init(&r->err, r->spec->limits.capture_bytes) < 0)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	/* NS mode builds the work dir in its own mount namespace: a host
	 * dir is needed only to run in (degraded) or to keep. */
	if ((mode == SBX_MODE_DEGRADED || r->spec->keep) && !r->workdir &&
	    make_workdir(r, err) < 0)
		return -1;
	if ((rc = plan_attempt(r, mode, err)) != 0)
		return rc < 0 ? -1 : 0;
	if (mode == SBX_MODE_DEGRADED && r->root &&
	    chown(r->workdir, r->uid, r->uid) < 0) {
		set_error(r, "chown work dir '%s': %s", r->workdir,
			  strerror(errno));
		return 0;
	}
	if (mode == SBX_MODE_NS && (rc = start_warm(r, err)) == 1)
		rc = start_cold_ns(r, err);
	else if (mode == SBX_MODE_DEGRADED)
		rc = plan_filter(r, err) < 0 ? -1 : start(r) < 0 ? 1 : 0;
	if (rc == 0) {
		poll_loop(r);
		after_payload(r);
	}
	end_attempt(r);
	return rc < 0 ? -1 : 0;
}

/* ---- the verdict ---- */

static const char *decide_status(const struct run *r, int *sig)
{
	const struct sbx_msg *d = &r->done;
	const struct sandbox_limits *l = &r->spec->limits;
	int ws = d->wstatus, reaped = d->payload_reaped;

	*sig = reaped && WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
	if (r->error[0])
		return "error";
	if (r->timed_out)
		return "timeout";
	if (r->output_limit)
		return "output_limit";
	if (d->saw_sigxcpu || *sig == SIGXCPU ||
	    (*sig == SIGKILL && !r->we_killed &&
	     d->payload_cpu_us / 1000 >= l->cpu_ms))
		return "cpu_timeout";
	if (r->violation)
		return "violation";
	if (d->saw_sigxfsz || *sig == SIGXFSZ || r->file_limit_hit)
		return "file_size";
	/* An address-space limit makes allocations fail, not a signal: a
	 * program that ended badly after using at least half its memory
	 * is taken to have run out of it. */
	if (reaped && (*sig || WEXITSTATUS(ws) != 0) &&
	    (uint64_t)d->maxrss_kb * 1024 * 2 >= l->memory_bytes)
		return "memory";
	if (*sig)
		return "signaled";
	if (!reaped || WEXITSTATUS(ws) != 0)
		return "failed";
	return "ok";
}

static cJSON *layers_json(const struct run *r)
{
	cJSON *o = cJSON_CreateObject();
	int ns = r->mode == SBX_MODE_NS;
	static const char *const ns_layers[] = {"userns", "pidns", "netns",
						"mountns", "ipcns", "utsns",
						"tmpfs"};

	for (size_t i = 0; i < sizeof(ns_layers) / sizeof(*ns_layers); i++)
		cJSON_AddBoolToObject(o, ns_layers[i], ns);
	cJSON_AddBoolToObject(o, "landlock", r->landlock_abi > 0);
	cJSON_AddBoolToObject(o, "seccomp", 1);
	cJSON_AddBoolToObject(o, "no_new_privs", 1);
	cJSON_AddBoolToObject(o, "rlimits", 1);
	cJSON_AddBoolToObject(o, "uid_drop", ns || r->root);
	return o;
}

static cJSON *degraded_json(const struct run *r)
{
	cJSON *a = cJSON_CreateArray();
	static const char *const ns_layers[] = {"userns", "pidns", "netns",
						"mountns", "ipcns", "utsns",
						"tmpfs"};

	if (r->mode == SBX_MODE_DEGRADED)
		for (size_t i = 0; i < sizeof(ns_layers) / sizeof(*ns_layers);
		     i++)
			cJSON_AddItemToArray(a, cJSON_CreateString(ns_layers[i]));
	if (r->landlock_abi == 0)
		cJSON_AddItemToArray(a, cJSON_CreateString("landlock"));
	if (r->mode == SBX_MODE_DEGRADED && !r->root)
		cJSON_AddItemToArray(a, cJSON_CreateString("uid_drop"));
	return a;
}

static void add_text(cJSON *o, const char *key, char *text)
{
	cJSON_AddStringToObject(o, key, text ? text : "");
	free(text);
}

static cJSON *verdict_json(struct run *r)
{
	cJSON *v = cJSON_CreateObject();
	int sig, reaped = r->done.payload_reaped;
	const char *status = decide_status(r, &sig);

	cJSON_AddStringToObject(v, "status", status);
	if (reaped && WIFEXITED(r->done.wstatus))
		cJSON_AddNumberToObject(v, "exit_code",
					WEXITSTATUS(r->done.wstatus));
	else
		cJSON_AddNullToObject(v, "exit_code");
	if (sig)
		cJSON_AddNumberToObject(v, "signal", sig);
	else
		cJSON_AddNullToObject(v, "signal");
	if (r->violation)
		cJSON_AddStringToObject(v, "syscall", r->syscall);
	else
		cJSON_AddNullToObject(v, "syscall");
	cJSON_AddNumberToObject(v, "wall_ms",
				r->t_go ? (double)((r->t_end - r->t_go) /
						   1000000)
					: 0);
	cJSON_AddNumberToObject(v, "cpu_ms", (double)(r->done.cpu_us / 1000));
	cJSON_AddNumberToObject(v, "max_rss_kb", (double)r->done.maxrss_kb);
	add_text(v, "stdout", sbx_capture_text(&r->out));
	add_text(v, "stderr", sbx_capture_text(&r->err));
	cJSON_AddBoolToObject(v, "truncated",
			      sbx_capture_truncated(&r->out) ||
				      sbx_capture_truncated(&r->err));
	cJSON_AddNumberToObject(v, "stdout_bytes", (double)r->out.total);
	cJSON_AddNumberToObject(v, "stderr_bytes", (double)r->err.total);
	cJSON_AddItemToObject(v, "limits",
			      sandbox_limits_to_json(&r->spec->limits));
	cJSON_AddItemToObject(v, "layers", layers_json(r));
	cJSON_AddItemToObject(v, "degraded", degraded_json(r));
	if (r->degraded_reason[0])
		cJSON_AddStringToObject(v, "degraded_reason",
					r->degraded_reason);
	cJSON_AddNumberToObject(v, "leftovers", r->done.leftovers);
	cJSON_AddBoolToObject(v, "warm", r->warm);
	cJSON_AddStringToObject(v, "profile", r->profile->name);
	if (r->error[0])
		cJSON_AddStringToObject(v, "error", r->error);
	if (r->collected) {
		cJSON_AddItemToObject(v, "files", r->collected);
		cJSON_AddItemToObject(v, "collect_errors", r->collect_errors);
		r->collected = r->collect_errors = NULL;
	}
	if (r->spec->keep && r->workdir) {
		cJSON_AddStringToObject(v, "workdir", r->workdir);
		cJSON_AddNumberToObject(v, "keep_skipped", r->keep_skipped);
	}
	return v;
}

/* ---- sandbox_exec ---- */

static int check_spec(const struct sandbox_spec *spec, struct sutra_err *err)
{
	const struct sandbox_limits *l = &spec->limits;

	if (!spec->argv || !spec->argv[0] || !*spec->argv[0])
		return err_set(err, SUTRA_EUSAGE, "sandbox: no command to run");
	if (spec->profile && !sbx_profile_find(spec->profile))
		return err_set(err, SUTRA_EUSAGE, "sandbox: unknown profile "
			       "'%s' (python, native or shell)", spec->profile);
	if (l->wall_ms <= 0 || l->cpu_ms <= 0 || !l->memory_bytes ||
	    !l->procs || !l->open_files || !l->file_bytes ||
	    !l->stack_bytes || !l->workdir_bytes || !l->workdir_inodes ||
	    !l->capture_bytes || !l->output_bytes)
		return err_set(err, SUTRA_EUSAGE, "sandbox: every limit must "
			       "be positive");
	for (size_t i = 0; i < spec->n_files; i++)
		if (sbx_path_check(spec->files[i].path, err) < 0)
			return -1;
	for (size_t i = 0; spec->collect && spec->collect[i]; i++)
		if (sbx_path_check(spec->collect[i], err) < 0)
			return -1;
	for (size_t i = 0; spec->env && spec->env[i]; i++) {
		const char *eq = strchr(spec->env[i], '=');
		if (!eq || eq == spec->env[i])
			return err_set(err, SUTRA_EUSAGE, "sandbox: environment "
				       "entry '%s' is not NAME=VALUE",
				       spec->env[i]);
	}
	return 0;
}

/* The request's files, then those read from --dir, as one list. */
static int gather_files(struct run *r, struct sutra_err *err)
{
	const struct sandbox_spec *s = r->spec;
	uint64_t total = 0;

	if (s->input_dir &&
	    sbx_read_tree(s->input_dir, &r->dir_files, &r->n_dir_files,
			  s->limits.workdir_bytes, err) < 0)
		return -1;
	r->files = calloc(s->n_files + r->n_dir_files + 1, sizeof(*r->files));
	if (!r->files)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	for (size_t i = 0; i < s->n_files; i++) {
		r->files[r->n_files++] = s->files[i];
		total += s->files[i].len;
	}
	for (size_t i = 0; i < r->n_dir_files; i++) {
		const struct sbx_filebuf *f = &r->dir_files[i];
		r->files[r->n_files++] = (struct sandbox_file){
			f->path, f->data, f->len, f->executable};
		total += f->len;
	}
	if (total > s->limits.workdir_bytes)
		return err_set(err, SUTRA_EUSAGE, "sandbox: the input files "
			       "(%llu bytes) exceed the work dir (%llu bytes)",
			       (unsigned long long)total,
			       (unsigned long long)s->limits.workdir_bytes);
	return 0;
}

static void remove_workdir(struct run *r)
{
	struct sutra_err err = {0};
	char *slash, *parent;
	int pfd;

	if (!r->workdir || r->spec->keep)
		return;
	slash = strrchr(r->workdir, '/');
	parent = slash == r->workdir ? strdup("/")
				     : strndup(r->workdir,
					       (size_t)(slash - r->workdir));
	pfd = parent ? open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (pfd < 0 || sbx_remove_tree(pfd, slash + 1, &err) < 0)
		set_error(r, "%s", err.msg[0] ? err.msg : "remove work dir");
	else
		r->removed = 1;
	if (pfd >= 0)
		close(pfd);
	free(parent);
}

static void run_free(struct run *r)
{
	for (size_t i = 0; r->envp && r->envp[i]; i++)
		free(r->envp[i]);
	free(r->envp);
	free(r->exe);
	free(r->files);
	sbx_files_free(r->dir_files, r->n_dir_files);
	sbx_capture_free(&r->out);
	sbx_capture_free(&r->err);
	sbx_close_fd(&r->fds[FD_TIMER].fd);
	cJSON_Delete(r->collected);
	cJSON_Delete(r->collect_errors);
	free(r->workdir);
}

static int run_attempts(struct run *r, struct sutra_err *err)
{
	int degraded = forced_degraded(r->spec);

	if (degraded)
		snprintf(r->degraded_reason, sizeof(r->degraded_reason),
			 "forced (SUTRA_SANDBOX_DEGRADED or the request)");
	if (attempt(r, degraded ? SBX_MODE_DEGRADED : SBX_MODE_NS, err) < 0)
		return -1;
	if (!degraded && r->ns_failed) {
		snprintf(r->degraded_reason, sizeof(r->degraded_reason),
			 "namespaces unavailable: %s", r->error);
		log_printf(LOG_INFO, "sandbox: %s; running degraded",
			   r->degraded_reason);
		if (attempt(r, SBX_MODE_DEGRADED, err) < 0)
			return -1;
	}
	return 0;
}

int sandbox_exec(const struct sandbox_spec *spec, cJSON **verdict,
		 struct sutra_err *err)
{
	struct run r = {.spec = spec};
	int rc = -1;

	*verdict = NULL;
	r.fds[FD_TIMER].fd = -1;
	if (check_spec(spec, err) < 0)
		return -1;
	r.profile = sbx_profile_find(spec->profile ? spec->profile : "shell");
	r.landlock_abi = sbx_landlock_abi();
	sbx_pick_uids(&r.root, &r.uid, &r.init_uid);
	if (gather_files(&r, err) < 0)
		goto out;
	r.fds[FD_TIMER].fd = timerfd_create(CLOCK_MONOTONIC,
					    TFD_CLOEXEC | TFD_NONBLOCK);
	if (r.fds[FD_TIMER].fd < 0) {
		err_set(err, SUTRA_ERUNTIME, "timerfd_create: %s",
			strerror(errno));
		goto out;
	}
	if (run_attempts(&r, err) < 0)
		goto out;
	remove_workdir(&r);
	if (!(*verdict = verdict_json(&r)))
		err_set(err, SUTRA_ENOMEM, "out of memory");
	rc = *verdict ? 0 : -1;
	if (r.mode == SBX_MODE_NS)
		sbx_pool_run_done();
out:
	if (rc < 0)
		remove_workdir(&r);
	run_free(&r);
	return rc;
}
