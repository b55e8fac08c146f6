/*
 * pool.c - the warm pool: one spare sandbox, built ahead, for one run.
 *
 * Most of a cold run's set-up does not depend on the request: the clone
 * with six namespaces (a network namespace alone is ~0.5 ms of kernel
 * work), the uid maps, the root tmpfs and its binds, /proc, the /work
 * tmpfs, the pivot and the loopback.  Once a process has made a run in
 * namespace mode, a builder thread does all that for the next run ahead
 * of time: a spare supervisor that waits on its control socket for the
 * request's part of the plan (struct sbx_wire: argv, envp, rlimits, the
 * filter, the files).  The run that takes the spare sends it that and
 * goes on exactly as a cold run; the builder makes the next spare.
 *
 * A spare serves exactly one run: nothing of it (namespaces, tmpfs,
 * pipes, host uids) is shared between runs, and every layer of the
 * payload is applied after the request arrived, as in a cold run.  A
 * spare dies with the process: its supervisor's parent-death signal
 * follows the builder thread, which lives as long as the process (and
 * so never exits, not even when the pool is off or failed).  The pool
 * belongs to the process that started it: a child made by fork(2)
 * forgets it (pthread_atfork) and may start its own.  A run that does
 * not fit the spare (degraded mode, --keep, a work dir of another size,
 * a request over SBX_WIRE_MAX) builds its own, and so does one that
 * finds no spare ready and none being built.
 *
 * The builder also reaps the supervisors of ended runs, killed by their
 * runner once the run's every other process was reaped and its files
 * collected: the exit of a namespace's init tears the namespaces down
 * (~0.3 ms), which the verdict need not wait for.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define SPARE_SETUP_TIMEOUT_MS 10000
#define SPARE_WAIT_S 1             /* a run waits at most this for one */

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;

/* owner and off are read without the lock: a forked child must not take
 * a mutex that a thread of its parent may have held at the fork. */
static _Atomic pid_t pool_owner;     /* the process whose builder runs */
static _Atomic int pool_off;         /* sandbox_pool_enable(0) */
static _Atomic int pool_runs_seen;   /* an NS-mode run has ended */

/* Under pool_lock. */
static int pool_failed;              /* a spare could not be built */
static int pool_wanted;              /* a run ended since the last build */
static int pool_building;            /* the builder is making a spare */
#define REAP_MAX 64
static struct {
	pid_t pid;
	int pidfd;
} pool_reap[REAP_MAX];                /* killed supervisors to reap */
static int pool_n_reap;
static int pool_waiter;              /* a run waits for that spare */
static int pool_ready;               /* pool_spare is ready */
static struct sbx_spare pool_spare;
static int pool_spare_root;          /* built by a root runner */

static int env_off(void)
{
	const char *env = getenv("SUTRA_SANDBOX_POOL");

	return env && strcmp(env, "0") == 0;
}

static int ours(void)
{
	return atomic_load(&pool_owner) == getpid();
}

/* Builds one spare with the default work dir tmpfs. */
static int build_spare(struct sbx_spare *sp, int *root)
{
	struct sbx_plan plan;
	struct sandbox_limits limits;
	char opts[160], why[256];
	struct pollfd pfd;
	struct sbx_msg m;
	int ns_failed, rc;

	sandbox_limits_default(&limits);
	sbx_pick_uids(root, &sp->uid, &sp->init_uid);
	memset(&plan, 0, sizeof(plan));
	sbx_plan_ns(&plan, *root, &limits, opts, sizeof(opts));
	plan.spare = 1;
	if (sbx_super_start(&plan, *root, sp->uid, sp->init_uid, &sp->sup,
			    &ns_failed, why, sizeof(why)) < 0)
		return -1;
	pfd = (struct pollfd){.fd = sp->sup.status, .events = POLLIN};
	while ((rc = poll(&pfd, 1, SPARE_SETUP_TIMEOUT_MS)) < 0 &&
	       errno == EINTR)
		;
	if (rc != 1 || read(sp->sup.status, &m, sizeof(m)) != sizeof(m) ||
	    m.type != SBX_MSG_SPARE) {
		sbx_super_end(&sp->sup);
		return -1;
	}
	return 0;
}

/* A spare is wanted when a run has ended and none is ready.  Building
 * only between runs keeps the builder's clone (a copy of the process's
 * page tables) and its kernel work off the CPUs while a run is being
 * set up. */
static int spare_wanted(void)
{
	return !pool_ready && pool_wanted && !pool_failed &&
	       !atomic_load(&pool_off);
}

/* Reaps one supervisor handed over, with pool_lock held (dropped
 * meanwhile: the wait lasts as long as its namespaces' teardown). */
static void reap_one(void)
{
	pid_t pid = pool_reap[pool_n_reap - 1].pid;
	int pidfd = pool_reap[pool_n_reap - 1].pidfd;
	int status;

	pool_n_reap--;
	pthread_mutex_unlock(&pool_lock);
	while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR)
		;
	close(pidfd);
	pthread_mutex_lock(&pool_lock);
}

static void *builder_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&pool_lock);
	for (;;) {
		struct sbx_spare sp;
		int root = 0, rc;

		while (!pool_n_reap && !spare_wanted())
			pthread_cond_wait(&pool_cond, &pool_lock);
		/* The next run may wait for a spare, nobody for a reap. */
		if (!spare_wanted()) {
			reap_one();
			continue;
		}
		pool_wanted = 0;
		pool_building = 1;
		pthread_mutex_unlock(&pool_lock);
		rc = build_spare(&sp, &root);
		pthread_mutex_lock(&pool_lock);
		pool_building = 0;
		if (rc < 0) {
			/* Namespaces refused, or a set-up step failed: the
			 * runs build their own (and say why). */
			pool_failed = 1;
		} else if (atomic_load(&pool_off)) {
			sbx_super_end(&sp.sup);
		} else {
			pool_spare = sp;
			pool_spare_root = root;
			pool_ready = 1;
		}
		pthread_cond_broadcast(&pool_cond);
	}
	return NULL;
}

/* In a child made by fork(2): the builder and the spare are the
 * parent's (the spare's fds are copies; its supervisor is not ours).
 * Start over with an empty pool. */
static void forget_in_child(void)
{
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

	pool_lock = lock;
	pool_cond = cond;
	if (pool_ready) {
		struct sbx_super *s = &pool_spare.sup;
		int *fds[] = {&s->pidfd, &s->out, &s->err, &s->status,
			      &s->notif, &s->ctl};
		for (size_t i = 0; i < sizeof(fds) / sizeof(*fds); i++)
			if (*fds[i] >= 0)
				close(*fds[i]);
	}
	pool_ready = pool_wanted = pool_failed = 0;
	pool_building = pool_waiter = 0;
	for (int i = 0; i < pool_n_reap; i++)
		close(pool_reap[i].pidfd);
	pool_n_reap = 0;
	atomic_store(&pool_runs_seen, 0);
	atomic_store(&pool_owner, 0);
}

static void start_builder(void)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t th;
	int rc;

	/* Process-directed signals go to the caller's threads, not here. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&th, &attr, builder_main, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		atomic_store(&pool_owner, 0);
}

/* Starts the builder (first time) and asks it for a spare. */
static void want_spare(void)
{
	pid_t none = 0;

	if (atomic_compare_exchange_strong(&pool_owner, &none, getpid())) {
		static atomic_flag registered = ATOMIC_FLAG_INIT;
		if (!atomic_flag_test_and_set(&registered))
			pthread_atfork(NULL, NULL, forget_in_child);
		start_builder();
	}
	if (!ours())
		return;
	pthread_mutex_lock(&pool_lock);
	pool_wanted = 1;
	pthread_cond_broadcast(&pool_cond);
	pthread_mutex_unlock(&pool_lock);
}

void sbx_pool_run_done(void)
{
	atomic_store(&pool_runs_seen, 1);
	if (!atomic_load(&pool_off) && !env_off())
		want_spare();
}

/* With pool_lock held: while the builder is making a spare, one run
 * waits for it (bounded) rather than build a second set of namespaces
 * beside it - it started earlier, so it is ready sooner.  A spare only
 * asked for is not waited for: back to back, a cold run beside the
 * build keeps both CPUs busy (more runs per second than waiting). */
static void wait_for_build(void)
{
	struct timespec until;

	if (!pool_building || pool_waiter)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += SPARE_WAIT_S;
	pool_waiter = 1;
	while (pool_building && !pool_ready &&
	       pthread_cond_timedwait(&pool_cond, &pool_lock, &until) == 0)
		;
	pool_waiter = 0;
}

int sbx_pool_take(const struct sandbox_limits *limits,
		  struct sbx_spare *spare)
{
	struct sandbox_limits def;
	int taken = 0;

	if (atomic_load(&pool_off) || env_off() || !ours())
		return 0;
	sandbox_limits_default(&def);
	if (limits->workdir_bytes != def.workdir_bytes ||
	    limits->workdir_inodes != def.workdir_inodes)
		return 0;
	pthread_mutex_lock(&pool_lock);
	if (!pool_ready)
		wait_for_build();
	if (pool_ready && pool_spare_root == (geteuid() == 0)) {
		*spare = pool_spare;
		/* The next is built when this run has ended. */
		pool_ready = pool_wanted = 0;
		taken = 1;
	}
	pthread_mutex_unlock(&pool_lock);
	return taken;
}

int sbx_pool_reap_later(pid_t pid, int pidfd)
{
	int taken = 0;

	if (atomic_load(&pool_off) || env_off() || !ours())
		return 0;
	pthread_mutex_lock(&pool_lock);
	if (pool_n_reap < REAP_MAX) {
		pool_reap[pool_n_reap].pid = pid;
		pool_reap[pool_n_reap].pidfd = pidfd;
		pool_n_reap++;
		taken = 1;
		pthread_cond_broadcast(&pool_cond);
	}
	pthread_mutex_unlock(&pool_lock);
	return taken;
}

void sandbox_pool_enable(int on)
{
	atomic_store(&pool_off, !on);
	if (on && atomic_load(&pool_runs_seen) && !env_off()) {
		want_spare();
		return;
	}
	if (!ours())
		return;
	pthread_mutex_lock(&pool_lock);
	if (!on && pool_ready) {
		sbx_super_end(&pool_spare.sup);
		pool_ready = 0;
	}
	pthread_mutex_unlock(&pool_lock);
}

int sandbox_pool_wait(int timeout_ms)
{
	struct timespec until;
	int ready;

	if (atomic_load(&pool_off) || env_off() || !ours())
		return 0;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&pool_lock);
	while (!pool_ready && !pool_failed &&
	       pthread_cond_timedwait(&pool_cond, &pool_lock, &until) == 0)
		;
	ready = pool_ready;
	pthread_mutex_unlock(&pool_lock);
	return ready;
}

/* ---- the request for a spare ---- */

static size_t count_strs(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

/* Bytes of the message after the head, with a filter of filter_len
 * instructions; 0 when it does not fit in max. */
static size_t wire_body_len(const struct sbx_plan *p, size_t filter_len,
			    size_t max)
{
	size_t n = filter_len * sizeof(struct sock_filter);

	n += strlen(p->exe) + 1;
	for (size_t i = 0; p->argv[i]; i++)
		n += strlen(p->argv[i]) + 1;
	for (size_t i = 0; p->envp && p->envp[i]; i++)
		n += strlen(p->envp[i]) + 1;
	for (size_t i = 0; i < p->n_files; i++) {
		if (p->files[i].len > max)
			return 0;
		n += sizeof(uint64_t) + sizeof(uint32_t) +
		     strlen(p->files[i].path) + 1 + p->files[i].len;
		if (n > max)
			return 0;
	}
	return n + sizeof(struct sbx_wire) > max ? 0 : n;
}

int sbx_wire_fits(const struct sbx_plan *p, size_t filter_len, size_t max)
{
	return count_strs(p->argv) + count_strs(p->envp) <= SBX_WIRE_MAX_STRS &&
	       p->n_files <= SBX_WIRE_MAX_FILES &&
	       wire_body_len(p, filter_len, max < SBX_WIRE_MAX ? max
							      : SBX_WIRE_MAX);
}

static char *put(char *o, const void *data, size_t n)
{
	memcpy(o, data, n);
	return o + n;
}

static char *put_str(char *o, const char *s)
{
	return put(o, s, strlen(s) + 1);
}

int sbx_wire_encode(const struct sbx_plan *p, char **msg, size_t *len)
{
	struct sbx_wire h = {.magic = SBX_WIRE_MAGIC};
	size_t body;
	char *buf, *o;

	*msg = NULL;
	*len = 0;
	h.n_argv = (uint32_t)count_strs(p->argv);
	h.n_envp = (uint32_t)count_strs(p->envp);
	if ((size_t)h.n_argv + h.n_envp > SBX_WIRE_MAX_STRS ||
	    p->n_files > SBX_WIRE_MAX_FILES ||
	    !(body = wire_body_len(p, p->filter->len, SBX_WIRE_MAX)))
		return 1;
	h.len = (uint32_t)(sizeof(h) + body);
	h.n_files = (uint32_t)p->n_files;
	h.filter_len = p->filter->len;
	h.landlock_abi = p->landlock_abi;
	h.landlock_net = p->landlock_net;
	h.n_rlimits = p->n_rlimits;
	for (int i = 0; i < p->n_rlimits; i++) {
		h.rlimits[i].resource = p->rlimits[i].resource;
		h.rlimits[i].cur = p->rlimits[i].value.rlim_cur;
		h.rlimits[i].max = p->rlimits[i].value.rlim_max;
	}
	if (!(buf = malloc(h.len)))
		return -1;
	o = put(buf, &h, sizeof(h));
	o = put(o, p->filter->filter,
		(size_t)p->filter->len * sizeof(struct sock_filter));
	o = put_str(o, p->exe);
	for (size_t i = 0; i < h.n_argv; i++)
		o = put_str(o, p->argv[i]);
	for (size_t i = 0; i < h.n_envp; i++)
		o = put_str(o, p->envp[i]);
	for (size_t i = 0; i < p->n_files; i++) {
		uint64_t flen = p->files[i].len;
		uint32_t exec = p->files[i].executable != 0;
		o = put(o, &flen, sizeof(flen));
		o = put(o, &exec, sizeof(exec));
		o = put_str(o, p->files[i].path);
		o = put(o, p->files[i].data, p->files[i].len);
	}
	*msg = buf;
	*len = h.len;
	return 0;
}
