/* plugproc.c - see plugproc.h. */
#include "plugproc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plughost.h"
#include "plugproto.h"
#include "util.h"

#ifndef SUTRA_PKGLIBEXECDIR
#define SUTRA_PKGLIBEXECDIR "/usr/local/libexec/sutra"
#endif

enum {
	START_MS = 10000,   /* a child has this long to load its plugin */
	GRACE_MS = 50,      /* after a stop, for a plugin that polls it */
	SLICE_MS = 50,      /* how often a wait looks at cancel */
	EXIT_MS = 500,      /* for fini at unload, before SIGKILL */
	DYING_MS = 1000,    /* for a crashing child to finish dying */
};

/* One isolated agent's child process.  Everything below lock is guarded
 * by it: one call at a time. */
struct plugproc {
	pthread_mutex_t lock;
	pid_t pid;                 /* 0: no child */
	int req_w, resp_r, life_w; /* our ends of the pipes */
	char *buf;                 /* what was read of the next lines */
	size_t len, cap;
	int died_signal;           /* the crash note of the last child */
	unsigned long long died_vm;
	char host[PATH_MAX];
	char *agent_name;          /* the agent inside the plugin */
};

/* The isolated agents this thread is serving (a plugin that calls
 * itself would wait for its own lock). */
struct serving {
	const struct plugproc *pp;
	const struct serving *outer;
};
static _Thread_local const struct serving *serving;

/* ---------------------------------------------------------- finding */

static int try_host(char *path, size_t n, const char *dir, const char *sub)
{
	snprintf(path, n, "%s%s/sutra-plugin-host", dir, sub);
	return access(path, X_OK) == 0;
}

int plugproc_host_path(char *path, size_t n, struct sutra_err *err)
{
	const char *env = getenv("SUTRA_PLUGIN_HOST");
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (env && *env) {
		snprintf(path, n, "%s", env);
		if (access(path, X_OK) == 0)
			return 0;
		return err_set(err, SUTRA_ERUNTIME,
			       "SUTRA_PLUGIN_HOST: cannot run '%s': %s", env,
			       strerror(errno));
	}
	if (len > 0) {
		exe[len] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			if (try_host(path, n, exe, "") ||
			    try_host(path, n, exe, "/.libs"))
				return 0;
		}
	}
	if (try_host(path, n, SUTRA_PKGLIBEXECDIR, ""))
		return 0;
	return err_set(err, SUTRA_ERUNTIME,
		       "cannot find sutra-plugin-host (beside sutra or in %s)",
		       SUTRA_PKGLIBEXECDIR);
}

/* ------------------------------------------------------------ pipes */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Writes all of buf; a child that is gone is EPIPE, never SIGPIPE. */
static int write_all(int fd, const char *buf, size_t n)
{
	sigset_t pipe_set, old;
	struct timespec zero = {0, 0};
	int rc = 0;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	while (n > 0) {
		ssize_t w = write(fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (errno == EPIPE)
				sigtimedwait(&pipe_set, NULL, &zero);
			rc = -1;
			break;
		}
		buf += w;
		n -= (size_t)w;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* Sends msg (borrowed) as one line. */
static int send_msg(struct plugproc *pp, const cJSON *msg)
{
	char *text = cJSON_PrintUnformatted(msg);
	size_t n;
	int rc;

	if (!text)
		return -1;
	n = strlen(text);
	text[n] = '\n';   /* the NUL becomes the newline */
	rc = write_all(pp->req_w, text, n + 1);
	cJSON_free(text);
	return rc;
}

/* ---------------------------------------------------------- process */

static void spawn_fds(posix_spawn_file_actions_t *fa, const int req[2],
		      const int resp[2], const int life[2])
{
	posix_spawn_file_actions_init(fa);
	posix_spawn_file_actions_adddup2(fa, req[0], PLUGPROTO_FD_REQUESTS);
	posix_spawn_file_actions_adddup2(fa, resp[1], PLUGPROTO_FD_RESPONSES);
	posix_spawn_file_actions_adddup2(fa, life[0], PLUGPROTO_FD_LIFE);
	posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(fa, 2, 1);
}

/* Default signal actions, nothing blocked, a process group of its own
 * (a terminal's ^C is sutra's to handle, not the plugin's). */
static void spawn_attrs(posix_spawnattr_t *attr)
{
	sigset_t none, all;

	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_init(attr);
	posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK |
				       POSIX_SPAWN_SETSIGDEF |
				       POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setsigmask(attr, &none);
	posix_spawnattr_setsigdefault(attr, &all);
	posix_spawnattr_setpgroup(attr, 0);
}

static int spawn(struct plugproc *pp, const struct agent *a,
		 struct sutra_err *err)
{
	int req[2] = {-1, -1}, resp[2] = {-1, -1}, life[2] = {-1, -1};
	char memory[32];
	/* A clean environment: sutra's (API keys and all) stays here. */
	char *envp[] = {"PATH=/usr/bin:/bin", NULL};
	char *argv[] = {pp->host, a->entry_path, pp->agent_name, memory, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int rc = -1;

	snprintf(memory, sizeof(memory), "%llu",
		 (unsigned long long)a->limits.memory_bytes);
	if (pipe2(req, O_CLOEXEC) || pipe2(resp, O_CLOEXEC) ||
	    pipe2(life, O_CLOEXEC)) {
		err_set(err, SUTRA_ERUNTIME, "pipe: %s", strerror(errno));
		goto out;
	}
	spawn_fds(&fa, req, resp, life);
	spawn_attrs(&attr);
	int e = posix_spawn(&pp->pid, pp->host, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (e != 0) {
		pp->pid = 0;
		err_set(err, SUTRA_ERUNTIME, "%s: cannot start the plugin "
			"host %s: %s", a->entry_path, pp->host, strerror(e));
		goto out;
	}
	pp->req_w = req[1], req[1] = -1;
	pp->resp_r = resp[0], resp[0] = -1;
	pp->life_w = life[1], life[1] = -1;
	pp->len = 0;
	pp->died_signal = 0;
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		close_fd(&req[i]);
		close_fd(&resp[i]);
		close_fd(&life[i]);
	}
	return rc;
}

/* Kills and reaps the child; returns its wait status. */
static int stop(struct plugproc *pp)
{
	int status = 0;

	if (!pp->pid)
		return 0;
	kill(pp->pid, SIGKILL);
	while (waitpid(pp->pid, &status, 0) < 0 && errno == EINTR)
		;
	pp->pid = 0;
	close_fd(&pp->req_w);
	close_fd(&pp->resp_r);
	close_fd(&pp->life_w);
	pp->len = 0;
	return status;
}

/* ---------------------------------------------------------- reading */

/* Moves the next complete line out of the buffer as parsed JSON.
 * Returns 1 with *msg, 0 when no complete line is there, -1 when the line
 * is not JSON.  Empty lines are skipped. */
static int take_line(struct plugproc *pp, cJSON **msg)
{
	char *nl;

	while (pp->len && (nl = memchr(pp->buf, '\n', pp->len))) {
		size_t used = (size_t)(nl - pp->buf) + 1;
		*nl = '\0';
		*msg = used > 1 ? cJSON_Parse(pp->buf) : NULL;
		memmove(pp->buf, nl + 1, pp->len - used);
		pp->len -= used;
		if (used > 1)
			return *msg ? 1 : -1;
	}
	return 0;
}

/* Reads what the child wrote: 0, -1 at end of file, -2 when the line
 * would grow past the limit. */
static int fill(struct plugproc *pp)
{
	if (pp->len == pp->cap) {
		size_t cap = pp->cap ? pp->cap * 2 : 65536;
		char *nb = cap <= PLUGPROTO_MAX_LINE ? realloc(pp->buf, cap)
						     : NULL;
		if (!nb)
			return -2;
		pp->buf = nb;
		pp->cap = cap;
	}
	ssize_t r;
	do
		r = read(pp->resp_r, pp->buf + pp->len, pp->cap - pp->len);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -1;
	pp->len += (size_t)r;
	return 0;
}

enum read_result {
	READ_MSG = 1,      /* *msg is the next message */
	READ_GONE = 0,     /* end of file: the child died */
	READ_BROKEN = -1,  /* a line that is not JSON, or too long */
	READ_STOPPED = -2, /* deadline or cancel (err set) */
};

/* How long to wait now; sets *stop_at once the call should stop. */
static int wait_ms(struct agent_ctx *ctx, int64_t limit_ns, int64_t *stop_at,
		   struct sutra_err *err)
{
	int64_t now = now_ns(), until = limit_ns;

	if (ctx && !*stop_at && agent_should_stop(ctx, NULL))
		*stop_at = now + (int64_t)GRACE_MS * 1000000;
	if (*stop_at && (!until || *stop_at < until))
		until = *stop_at;
	if (until && now >= until) {
		if (!ctx || !agent_should_stop(ctx, err))
			err_set(err, SUTRA_ETIMEOUT, "deadline exceeded");
		return -1;
	}
	int64_t ms = until ? (until - now + 999999) / 1000000 : SLICE_MS;
	return ms > SLICE_MS ? SLICE_MS : (int)ms;
}

/*
 * The next message from the child.  ctx (may be NULL) gives deadline and
 * cancel; limit_ns (0: none) is an extra monotonic deadline.
 */
static enum read_result read_msg(struct plugproc *pp, struct agent_ctx *ctx,
				 int64_t limit_ns, cJSON **msg,
				 struct sutra_err *err)
{
	int64_t stop_at = 0;
	int got;

	*msg = NULL;
	while ((got = take_line(pp, msg)) == 0) {
		struct pollfd p = {.fd = pp->resp_r, .events = POLLIN};
		int ms = wait_ms(ctx, limit_ns, &stop_at, err);
		if (ms < 0)
			return READ_STOPPED;
		int n = poll(&p, 1, ms);
		if (n < 0 && errno != EINTR)
			return READ_GONE;
		int f = n > 0 ? fill(pp) : 0;
		if (f < 0)
			return f == -2 ? READ_BROKEN : READ_GONE;
	}
	return got > 0 ? READ_MSG : READ_BROKEN;
}

/* ------------------------------------------------------------ errors */

static const char *signal_name(int sig, char *buf, size_t n)
{
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev)
		snprintf(buf, n, "SIG%s", abbrev);
	else
		snprintf(buf, n, "signal %d", sig);
	return buf;
}

/* Why the child with wait status `status` is gone, as the call's error. */
static int death_error(const struct plugproc *pp, const struct agent *a,
		       int status, struct sutra_err *err)
{
	const char *file = a->entry_path;
	uint64_t limit = a->limits.memory_bytes;
	char sig[32];

	if (WIFEXITED(status))
		return err_set(err, SUTRA_EFAILED,
			       "%s: plugin process exited with status %d",
			       file, WEXITSTATUS(status));
	signal_name(WTERMSIG(status), sig, sizeof(sig));
	/* A crash at 90% of the address-space limit is the limit's doing:
	 * malloc failed and the plugin did not cope. */
	if (pp->died_signal == WTERMSIG(status) && limit &&
	    pp->died_vm >= limit / 10 * 9)
		return err_set(err, SUTRA_EFAILED,
			       "%s: plugin process exceeded its memory limit "
			       "(%llu MiB) and died: %s", file,
			       (unsigned long long)(limit >> 20), sig);
	if (WTERMSIG(status) == SIGSYS)
		return err_set(err, SUTRA_EFAILED,
			       "%s: plugin process made a forbidden system "
			       "call and was killed: %s", file, sig);
	return err_set(err, SUTRA_EFAILED, "%s: plugin process died: %s", file,
		       sig);
}

/* Remembers a crash note ({"died": {...}}); 1 if msg was one. */
static int note_death(struct plugproc *pp, const cJSON *msg)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(msg, "died");
	const cJSON *sig = cJSON_GetObjectItemCaseSensitive(d, "signal");
	const cJSON *vm = cJSON_GetObjectItemCaseSensitive(d, "vm_bytes");

	if (!d)
		return 0;
	pp->died_signal = cJSON_IsNumber(sig) ? sig->valueint : 0;
	pp->died_vm = cJSON_IsNumber(vm) && vm->valuedouble > 0
			      ? (unsigned long long)vm->valuedouble : 0;
	return 1;
}

/* Reads a dying child's last words (its crash note) up to the end of
 * file, so that the signal it dies of is its own and not our SIGKILL. */
static void await_death(struct plugproc *pp)
{
	int64_t limit = now_ns() + (int64_t)DYING_MS * 1000000;
	cJSON *msg;
	enum read_result r;

	while ((r = read_msg(pp, NULL, limit, &msg, NULL)) == READ_MSG) {
		note_death(pp, msg);
		cJSON_Delete(msg);
	}
}

/* Ends the child after r and sets the call's error. */
static int fail_child(struct plugproc *pp, const struct agent *a,
		      enum read_result r, struct sutra_err *err)
{
	if (r == READ_GONE)
		await_death(pp);
	int status = stop(pp);
	switch (r) {
	case READ_STOPPED:
		err_prefix(err, "%s: plugin process killed", a->entry_path);
		return -1;
	case READ_BROKEN:
		return err_set(err, SUTRA_EFAILED,
			       "%s: plugin process broke the protocol (a line "
			       "that is not JSON, or over %zu MiB); killed",
			       a->entry_path, PLUGPROTO_MAX_LINE >> 20);
	case READ_GONE:
	case READ_MSG:
		break;
	}
	return death_error(pp, a, status, err);
}

/* ----------------------------------------------------------- start */

/* Starts the child and waits for it to load the plugin. */
static int start(struct plugproc *pp, const struct agent *a,
		 struct agent_ctx *ctx, struct sutra_err *err)
{
	int64_t limit = now_ns() + (int64_t)START_MS * 1000000;
	cJSON *msg = NULL;

	if (spawn(pp, a, err) < 0)
		return -1;
	enum read_result r = read_msg(pp, ctx, limit, &msg, err);
	if (r == READ_MSG && note_death(pp, msg))
		r = READ_GONE;
	if (r != READ_MSG) {
		cJSON_Delete(msg);
		fail_child(pp, a, r, err);
		err_prefix(err, "while loading");
		return -1;
	}
	const char *fatal = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(msg, "fatal"));
	const cJSON *ready = cJSON_GetObjectItemCaseSensitive(msg, "ready");
	if (fatal || !cJSON_IsObject(ready)) {
		err_set(err, SUTRA_ERUNTIME, "%s",
			fatal ? fatal : "plugin host: no ready message");
		cJSON_Delete(msg);
		stop(pp);
		return -1;
	}
	cJSON_Delete(msg);
	return 0;
}

/* ------------------------------------------------- host functions */

/* {"ok": V} for JSON text the host returned (consumed), else the
 * failure recorded in hc. */
static cJSON *reply_text(struct plughost_call *hc, char *text)
{
	cJSON *r = cJSON_CreateObject();

	if (text) {
		cJSON_AddItemToObject(r, "ok", cJSON_CreateRaw(text));
		free(text);
		return r;
	}
	cJSON_AddNumberToObject(r, "status", hc->last_status
						 ? hc->last_status
						 : SUTRA_STATUS_ERROR);
	cJSON_AddStringToObject(r, "error", hc->last_error);
	return r;
}

static cJSON *reply_status(struct plughost_call *hc, int status)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddNumberToObject(r, "status", status);
	if (status != SUTRA_STATUS_OK)
		cJSON_AddStringToObject(r, "error", hc->last_error);
	return r;
}

static const char *arg_string(const cJSON *req, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, key));
}

/* A member as new JSON text, or NULL when absent. */
static char *arg_json(const cJSON *req, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);

	return v ? cJSON_PrintUnformatted(v) : NULL;
}

static cJSON *bad_request(struct plughost_call *hc)
{
	hc->last_status = SUTRA_STATUS_BAD_JSON;
	snprintf(hc->last_error, sizeof(hc->last_error), "bad request");
	return reply_status(hc, SUTRA_STATUS_BAD_JSON);
}

static cJSON *do_memory_get(struct plughost_call *hc, const cJSON *req)
{
	const char *key = arg_string(req, "key");

	if (!key)
		return bad_request(hc);
	return reply_text(hc, plughost_table.memory_get(&hc->pub, key));
}

static cJSON *do_memory_set(struct plughost_call *hc, const cJSON *req)
{
	const char *key = arg_string(req, "key");
	char *value = arg_json(req, "value");
	cJSON *r;

	if (!key || !value)
		r = bad_request(hc);
	else
		r = reply_status(hc, plughost_table.memory_set(&hc->pub, key,
							       value));
	cJSON_free(value);
	return r;
}

static cJSON *do_memory_del(struct plughost_call *hc, const cJSON *req)
{
	const char *key = arg_string(req, "key");

	if (!key)
		return bad_request(hc);
	return reply_status(hc, plughost_table.memory_del(&hc->pub, key));
}

static cJSON *do_memory_keys(struct plughost_call *hc, const cJSON *req)
{
	(void)req;
	return reply_text(hc, plughost_table.memory_keys(&hc->pub));
}

typedef char *(*json_fn)(struct sutra_call *, const char *);

static cJSON *json_effect(struct plughost_call *hc, const cJSON *req,
			  json_fn fn)
{
	char *request = arg_json(req, "request");
	cJSON *r = request ? reply_text(hc, fn(&hc->pub, request))
			   : bad_request(hc);

	cJSON_free(request);
	return r;
}

static cJSON *do_llm_chat(struct plughost_call *hc, const cJSON *req)
{
	return json_effect(hc, req, plughost_table.llm_chat);
}

static cJSON *do_sandbox_run(struct plughost_call *hc, const cJSON *req)
{
	return json_effect(hc, req, plughost_table.sandbox_run);
}

static cJSON *do_http(struct plughost_call *hc, const cJSON *req)
{
	return json_effect(hc, req, plughost_table.http);
}

static cJSON *do_call_agent(struct plughost_call *hc, const cJSON *req)
{
	const char *agent = arg_string(req, "agent");
	char *input = arg_json(req, "input");
	cJSON *r = agent && input
			   ? reply_text(hc, plughost_table.call_agent(
						    &hc->pub, agent, input))
			   : bad_request(hc);

	cJSON_free(input);
	return r;
}

static cJSON *do_cancelled(struct plughost_call *hc, const cJSON *req)
{
	cJSON *r = cJSON_CreateObject();

	(void)req;
	cJSON_AddBoolToObject(r, "ok", plughost_table.cancelled(&hc->pub));
	return r;
}

/* One-way: no answer (NULL). */
static cJSON *do_log(struct plughost_call *hc, const cJSON *req)
{
	const cJSON *level = cJSON_GetObjectItemCaseSensitive(req, "level");
	const char *message = arg_string(req, "message");
	char *fields = arg_json(req, "fields");

	plughost_table.log(&hc->pub, cJSON_IsNumber(level) ? level->valueint
							   : SUTRA_LOG_INFO,
			   message ? message : "", fields);
	cJSON_free(fields);
	return NULL;
}

static cJSON *do_emit(struct plughost_call *hc, const cJSON *req)
{
	const char *event = arg_string(req, "event");
	char *data = arg_json(req, "data");

	plughost_table.emit(&hc->pub, event ? event : "", data);
	cJSON_free(data);
	return NULL;
}

static const struct {
	const char *name;
	cJSON *(*serve)(struct plughost_call *hc, const cJSON *req);
	int one_way;
} host_fns[] = {
	{"memory_get", do_memory_get, 0},
	{"memory_set", do_memory_set, 0},
	{"memory_del", do_memory_del, 0},
	{"memory_keys", do_memory_keys, 0},
	{"llm_chat", do_llm_chat, 0},
	{"sandbox_run", do_sandbox_run, 0},
	{"http", do_http, 0},
	{"call_agent", do_call_agent, 0},
	{"cancelled", do_cancelled, 0},
	{"log", do_log, 1},
	{"emit", do_emit, 1},
};

/* Serves one host request; -1 for a request no child of ours sends. */
static int serve_host(struct plugproc *pp, struct plughost_call *hc,
		      const char *name, const cJSON *req)
{
	for (size_t i = 0; i < sizeof(host_fns) / sizeof(*host_fns); i++) {
		if (strcmp(host_fns[i].name, name) != 0)
			continue;
		hc->last_status = 0;
		hc->last_error[0] = '\0';
		cJSON *reply = host_fns[i].serve(hc, req);
		if (host_fns[i].one_way)
			return 0;
		int rc = reply ? send_msg(pp, reply) : -1;
		cJSON_Delete(reply);
		/* A child gone mid-call shows as end of file next. */
		(void)rc;
		return 0;
	}
	return -1;
}

/* ------------------------------------------------------------ calls */

/* The call's result: output, or the plugin's failure. */
static int finish(const cJSON *done, struct agent_ctx *ctx, cJSON **output,
		  struct sutra_err *err)
{
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(done, "status");
	const char *msg = arg_string(done, "error");
	const cJSON *out = cJSON_GetObjectItemCaseSensitive(done, "output");
	int st = cJSON_IsNumber(status) ? status->valueint : -1;

	if (st != 0 || msg) {
		if (msg)
			return err_set(err, SUTRA_EFAILED, "%s", msg);
		if (agent_should_stop(ctx, err))
			return -1;
		return err_set(err, SUTRA_EFAILED, "failed (status %d)", st);
	}
	*output = out ? cJSON_Duplicate(out, 1) : cJSON_CreateNull();
	return *output ? 0 : err_set(err, SUTRA_ENOMEM, "out of memory");
}

static cJSON *call_msg(const cJSON *input, const struct agent_ctx *ctx)
{
	cJSON *msg = cJSON_CreateObject();
	cJSON *c = cJSON_CreateObject();

	cJSON_AddItemReferenceToObject(msg, "call", (cJSON *)input);
	cJSON_AddStringToObject(c, "session", ctx->session);
	cJSON_AddStringToObject(c, "run_id", ctx->run_id ? ctx->run_id : "");
	cJSON_AddStringToObject(c, "step_id", ctx->step_id ? ctx->step_id : "");
	cJSON_AddNumberToObject(c, "attempt", ctx->attempt);
	cJSON_AddItemToObject(msg, "ctx", c);
	return msg;
}

/* Runs one call on a running child; the child is stopped on any failure
 * that is not the plugin's own. */
static int serve_call(struct plugproc *pp, struct agent *a,
		      const cJSON *input, struct agent_ctx *ctx,
		      cJSON **output, struct sutra_err *err)
{
	struct plughost_call hc = {.pub = {.host = &plughost_table},
				   .ctx = ctx};
	cJSON *msg = call_msg(input, ctx);
	int rc = msg ? send_msg(pp, msg) : -1;

	cJSON_Delete(msg);
	if (rc < 0)
		return fail_child(pp, a, READ_GONE, err);
	for (;;) {
		enum read_result r = read_msg(pp, ctx, 0, &msg, err);
		const char *host = r == READ_MSG ? arg_string(msg, "host")
						 : NULL;
		const cJSON *done = r == READ_MSG
			? cJSON_GetObjectItemCaseSensitive(msg, "done") : NULL;
		if (r == READ_MSG && note_death(pp, msg))
			r = READ_GONE;
		else if (r == READ_MSG && !done &&
			 (!host || serve_host(pp, &hc, host, msg) < 0))
			r = READ_BROKEN;
		if (r != READ_MSG) {
			cJSON_Delete(msg);
			return fail_child(pp, a, r, err);
		}
		if (done) {
			rc = finish(done, ctx, output, err);
			cJSON_Delete(msg);
			return rc;
		}
		cJSON_Delete(msg);
	}
}

static int busy_here(const struct plugproc *pp)
{
	for (const struct serving *s = serving; s; s = s->outer)
		if (s->pp == pp)
			return 1;
	return 0;
}

static int plugproc_invoke(struct agent *a, const cJSON *input,
			   struct agent_ctx *ctx, cJSON **output,
			   struct sutra_err *err)
{
	struct plugproc *pp = a->loaded;
	struct serving me = {pp, serving};
	int rc = -1;

	if (busy_here(pp))
		return err_set(err, SUTRA_EFAILED,
			       "runs in its own process and is already busy "
			       "in this call chain (an isolated agent cannot "
			       "call itself)");
	pthread_mutex_lock(&pp->lock);
	serving = &me;
	if (agent_should_stop(ctx, err) ||
	    (!pp->pid && start(pp, a, ctx, err) < 0))
		goto out;
	rc = serve_call(pp, a, input, ctx, output, err);
out:
	serving = me.outer;
	pthread_mutex_unlock(&pp->lock);
	return rc;
}

/* ------------------------------------------------------ load, unload */

static void free_proc(struct plugproc *pp)
{
	if (!pp)
		return;
	pthread_mutex_destroy(&pp->lock);
	free(pp->agent_name);
	free(pp->buf);
	free(pp);
}

static int plugproc_load(struct agent *a, struct sutra_err *err)
{
	struct plugproc *pp = calloc(1, sizeof(*pp));
	const char *want = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(a->manifest, "agent"));

	if (!pp)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	pthread_mutex_init(&pp->lock, NULL);
	pp->req_w = pp->resp_r = pp->life_w = -1;
	if (!(pp->agent_name = strdup(want ? want : a->name))) {
		free_proc(pp);
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	}
	if (plughost_check_file(a->entry_path, err) < 0 ||
	    plugproc_host_path(pp->host, sizeof(pp->host), err) < 0 ||
	    start(pp, a, NULL, err) < 0) {
		free_proc(pp);
		return -1;
	}
	a->loaded = pp;
	return 0;
}

/* Asks the child to run fini and exit; kills it if it will not. */
static void plugproc_unload(struct agent *a)
{
	struct plugproc *pp = a->loaded;
	int64_t limit = now_ns() + (int64_t)EXIT_MS * 1000000;
	cJSON *msg;

	if (!pp)
		return;
	if (pp->pid) {
		close_fd(&pp->req_w);
		while (read_msg(pp, NULL, limit, &msg, NULL) == READ_MSG)
			cJSON_Delete(msg);
		stop(pp);
	}
	free_proc(pp);
	a->loaded = NULL;
}

const struct agent_kind_ops plugproc_kind_ops = {
	.load = plugproc_load,
	.unload = plugproc_unload,
	.invoke = plugproc_invoke,
};
