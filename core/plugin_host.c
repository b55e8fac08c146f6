/*
 * plugin_host.c - sutra-plugin-host, the child process that runs one
 * isolated plugin agent (core/plugproto.h describes the wire).
 *
 * It opens the plugin file, confines itself (sandbox_confine_self:
 * rlimits with the agent's address-space limit, no_new_privs, seccomp, no
 * network, root dropped), loads the plugin, runs the agent's init, and
 * then serves calls one at a time until sutra closes the request pipe.
 * Its host table turns every host function that needs sutra into a
 * request line and waits for the answer, so permissions, the journal and
 * memory staging all happen in sutra.  A crash handler tells sutra how
 * much memory the process held before it dies of the signal, so that a
 * leak is reported as one.
 *
 * Built without sanitizers (their shadow memory cannot live under
 * RLIMIT_AS) and linked with nothing of sutra's kernel but err.c and the
 * sandbox's seccomp code.
 */
#include <cjson/cJSON.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sutra/plugin.h>

#include "plugproto.h"
#include "sandbox/sandbox.h"

/* The fields of struct sutra_plugin that ABI 1 requires. */
#define PLUGIN_MIN_SIZE \
	(offsetof(struct sutra_plugin, n_agents) + sizeof(size_t))

/* A line reader on the request pipe. */
static struct {
	char *buf;
	size_t len, cap;
} in;

/* The call being served. */
struct child_call {
	struct sutra_call pub;
	char *input;
	char *output;
	char *error;
	char *session, *run_id, *step_id;
	int attempt;
	int last_status;
	char last_error[256];
};

static const char *plugin_path;
static const struct sutra_host host_table;

/* ------------------------------------------------------------- wire */

static int write_all(const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(PLUGPROTO_FD_RESPONSES, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Sends msg as one line and frees it.  Losing sutra is fatal. */
static void send_msg(cJSON *msg)
{
	char *text = msg ? cJSON_PrintUnformatted(msg) : NULL;
	size_t n = text ? strlen(text) : 0;

	cJSON_Delete(msg);
	if (!text)
		_exit(3);
	text[n] = '\n';   /* the NUL becomes the newline */
	if (write_all(text, n + 1) < 0)
		_exit(0);
	cJSON_free(text);
}

/* Reads the next line; NULL at end of file (sutra is done with us). */
static cJSON *read_msg(void)
{
	char *nl;

	while (!in.len || !(nl = memchr(in.buf, '\n', in.len))) {
		if (in.len == in.cap) {
			size_t cap = in.cap ? in.cap * 2 : 65536;
			char *nb = cap <= PLUGPROTO_MAX_LINE
					   ? realloc(in.buf, cap) : NULL;
			if (!nb)
				_exit(3);
			in.buf = nb;
			in.cap = cap;
		}
		ssize_t r = read(PLUGPROTO_FD_REQUESTS, in.buf + in.len,
				 in.cap - in.len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return NULL;
		in.len += (size_t)r;
	}
	*nl = '\0';
	cJSON *msg = cJSON_Parse(in.buf);
	size_t used = (size_t)(nl - in.buf) + 1;
	memmove(in.buf, nl + 1, in.len - used);
	in.len -= used;
	if (!msg)
		_exit(3);
	return msg;
}

/* ------------------------------------------------------ host requests */

static struct child_call *cc_of(struct sutra_call *call)
{
	return (struct child_call *)call;
}

static int fail_with(struct child_call *cc, int status, const char *msg)
{
	cc->last_status = status;
	snprintf(cc->last_error, sizeof(cc->last_error), "%s", msg);
	return status;
}

/* A request with its name; the caller adds the arguments. */
static cJSON *request(const char *name)
{
	cJSON *r = cJSON_CreateObject();

	if (r)
		cJSON_AddStringToObject(r, "host", name);
	return r;
}

/* Adds JSON text as a parsed member; 0 when it is not JSON. */
static int add_json(cJSON *r, const char *key, const char *json)
{
	cJSON *v = json ? cJSON_Parse(json) : NULL;

	if (!v)
		return 0;
	cJSON_AddItemToObject(r, key, v);
	return 1;
}

/* Sends r and waits for the answer; records a failure.  Returns the
 * answer (caller frees) and its status in *status. */
static cJSON *ask(struct child_call *cc, cJSON *r, int *status)
{
	send_msg(r);
	cJSON *a = read_msg();
	if (!a)
		_exit(0);
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(a, "status");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(a, "error");
	*status = cJSON_IsNumber(st) ? st->valueint : SUTRA_STATUS_OK;
	if (*status != SUTRA_STATUS_OK)
		fail_with(cc, *status, cJSON_IsString(msg) ? msg->valuestring
							   : "failed");
	return a;
}

/* Asks and returns the "ok" value as new JSON text, or NULL. */
static char *ask_text(struct child_call *cc, cJSON *r)
{
	int status;
	cJSON *a = ask(cc, r, &status);
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(a, "ok");
	char *text = NULL;

	if (status == SUTRA_STATUS_OK && ok &&
	    !(text = cJSON_PrintUnformatted(ok)))
		fail_with(cc, SUTRA_STATUS_ERROR, "out of memory");
	cJSON_Delete(a);
	return text;
}

static int ask_status(struct child_call *cc, cJSON *r)
{
	int status;

	cJSON_Delete(ask(cc, r, &status));
	return status;
}

static const char *h_input(struct sutra_call *call)
{
	return cc_of(call)->input;
}

static int h_set_output(struct sutra_call *call, const char *json)
{
	struct child_call *cc = cc_of(call);
	cJSON *check = json ? cJSON_Parse(json) : NULL;
	char *copy;

	if (!check)
		return fail_with(cc, SUTRA_STATUS_BAD_JSON,
				 "output is not valid JSON");
	cJSON_Delete(check);
	if (!(copy = strdup(json)))
		return fail_with(cc, SUTRA_STATUS_ERROR, "out of memory");
	free(cc->output);
	cc->output = copy;
	return SUTRA_STATUS_OK;
}

static void h_error(struct sutra_call *call, const char *message)
{
	struct child_call *cc = cc_of(call);

	if (!cc->error)
		cc->error = strdup(message ? message : "failed");
}

static char *h_memory_get(struct sutra_call *call, const char *key)
{
	cJSON *r = request("memory_get");

	cJSON_AddStringToObject(r, "key", key ? key : "");
	return ask_text(cc_of(call), r);
}

static int h_memory_set(struct sutra_call *call, const char *key,
			const char *json)
{
	cJSON *r = request("memory_set");

	cJSON_AddStringToObject(r, "key", key ? key : "");
	if (!add_json(r, "value", json)) {
		cJSON_Delete(r);
		return fail_with(cc_of(call), SUTRA_STATUS_BAD_JSON,
				 "value is not JSON");
	}
	return ask_status(cc_of(call), r);
}

static int h_memory_del(struct sutra_call *call, const char *key)
{
	cJSON *r = request("memory_del");

	cJSON_AddStringToObject(r, "key", key ? key : "");
	return ask_status(cc_of(call), r);
}

static char *h_memory_keys(struct sutra_call *call)
{
	return ask_text(cc_of(call), request("memory_keys"));
}

static void h_log(struct sutra_call *call, int level, const char *message,
		  const char *fields_json)
{
	cJSON *r = request("log");

	(void)call;
	cJSON_AddNumberToObject(r, "level", level);
	cJSON_AddStringToObject(r, "message", message ? message : "");
	add_json(r, "fields", fields_json);
	send_msg(r);
}

static void h_emit(struct sutra_call *call, const char *event,
		   const char *data_json)
{
	cJSON *r = request("emit");

	(void)call;
	cJSON_AddStringToObject(r, "event", event ? event : "");
	add_json(r, "data", data_json);
	send_msg(r);
}

/* llm_chat, sandbox_run, http: a JSON request for a JSON answer. */
static char *json_effect(struct sutra_call *call, const char *name,
			 const char *request_json)
{
	cJSON *r = request(name);

	if (!add_json(r, "request", request_json)) {
		cJSON_Delete(r);
		fail_with(cc_of(call), SUTRA_STATUS_BAD_JSON,
			  "request is not JSON");
		return NULL;
	}
	return ask_text(cc_of(call), r);
}

static char *h_llm_chat(struct sutra_call *call, const char *req)
{
	return json_effect(call, "llm_chat", req);
}

static char *h_sandbox_run(struct sutra_call *call, const char *req)
{
	return json_effect(call, "sandbox_run", req);
}

static char *h_http(struct sutra_call *call, const char *req)
{
	return json_effect(call, "http", req);
}

static char *h_call_agent(struct sutra_call *call, const char *agent,
			  const char *input_json)
{
	cJSON *r = request("call_agent");

	cJSON_AddStringToObject(r, "agent", agent ? agent : "");
	if (!add_json(r, "input", input_json ? input_json : "{}")) {
		cJSON_Delete(r);
		fail_with(cc_of(call), SUTRA_STATUS_BAD_JSON,
			  "input is not JSON");
		return NULL;
	}
	return ask_text(cc_of(call), r);
}

static int h_cancelled(struct sutra_call *call)
{
	char *text = ask_text(cc_of(call), request("cancelled"));
	int stop = !text || strcmp(text, "false") != 0;

	free(text);
	return stop;
}

static const char *h_session(struct sutra_call *call)
{
	return cc_of(call)->session;
}

static const char *h_run_id(struct sutra_call *call)
{
	return cc_of(call)->run_id;
}

static const char *h_step_id(struct sutra_call *call)
{
	return cc_of(call)->step_id;
}

static int h_attempt(struct sutra_call *call)
{
	return cc_of(call)->attempt;
}

static int h_last_status(struct sutra_call *call)
{
	return cc_of(call)->last_status;
}

static const char *h_last_error(struct sutra_call *call)
{
	return cc_of(call)->last_error;
}

static void h_free(void *ptr)
{
	free(ptr);
}

static const struct sutra_host host_table = {
	.abi = SUTRA_PLUGIN_ABI,
	.size = sizeof(struct sutra_host),
	.input = h_input,
	.set_output = h_set_output,
	.error = h_error,
	.memory_get = h_memory_get,
	.memory_set = h_memory_set,
	.memory_del = h_memory_del,
	.memory_keys = h_memory_keys,
	.log = h_log,
	.emit = h_emit,
	.llm_chat = h_llm_chat,
	.sandbox_run = h_sandbox_run,
	.call_agent = h_call_agent,
	.cancelled = h_cancelled,
	.session = h_session,
	.run_id = h_run_id,
	.step_id = h_step_id,
	.attempt = h_attempt,
	.last_status = h_last_status,
	.last_error = h_last_error,
	.free = h_free,
	.http = h_http,
};

/* ------------------------------------------------------------ calls */

static char *ctx_string(const cJSON *ctx, const char *key)
{
	const char *s = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(ctx, key));

	return strdup(s ? s : "");
}

static void free_call(struct child_call *cc)
{
	free(cc->input);
	free(cc->output);
	free(cc->error);
	free(cc->session);
	free(cc->run_id);
	free(cc->step_id);
}

/* The result line: output as parsed JSON (it was checked when set). */
static cJSON *result(const struct child_call *cc, int status)
{
	cJSON *msg = cJSON_CreateObject();
	cJSON *done = cJSON_AddObjectToObject(msg, "done");

	cJSON_AddNumberToObject(done, "status", status);
	if (cc->output)
		cJSON_AddItemToObject(done, "output", cJSON_Parse(cc->output));
	if (cc->error)
		cJSON_AddStringToObject(done, "error", cc->error);
	return msg;
}

static void serve_call(const struct sutra_agent *def, void *agent_data,
		       cJSON *msg)
{
	const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(msg, "ctx");
	const cJSON *attempt = cJSON_GetObjectItemCaseSensitive(ctx, "attempt");
	struct child_call cc = {
		.pub = {.host = &host_table, .agent_data = agent_data},
		.input = cJSON_PrintUnformatted(
			cJSON_GetObjectItemCaseSensitive(msg, "call")),
		.session = ctx_string(ctx, "session"),
		.run_id = ctx_string(ctx, "run_id"),
		.step_id = ctx_string(ctx, "step_id"),
		.attempt = cJSON_IsNumber(attempt) ? attempt->valueint : 1,
	};

	cJSON_Delete(msg);
	if (!cc.input || !cc.session || !cc.run_id || !cc.step_id) {
		h_error(&cc.pub, "plugin host: out of memory");
		send_msg(result(&cc, -1));
	} else {
		int status = def->run(&cc.pub);
		send_msg(result(&cc, status));
	}
	free_call(&cc);
}

/* ------------------------------------------------------ crash report */

static size_t append_num(char *buf, size_t len, unsigned long long v)
{
	char digits[24];
	int n = 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < 24);
	while (n > 0)
		buf[len++] = digits[--n];
	return len;
}

/* The process's address space in bytes, async-signal-safely. */
static unsigned long long vm_bytes(void)
{
	char buf[64] = "";
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	unsigned long long pages = 0;

	if (fd >= 0)
		close(fd);
	for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		pages = pages * 10 + (unsigned long long)(buf[i] - '0');
	return pages * (unsigned long long)sysconf(_SC_PAGESIZE);
}

/* Tells sutra the signal and the memory held, then dies of the signal. */
static void on_crash(int sig)
{
	char line[128] = "\n{\"died\":{\"signal\":";
	size_t len = strlen(line);

	len = append_num(line, len, (unsigned long long)sig);
	memcpy(line + len, ",\"vm_bytes\":", 12);
	len = append_num(line, len + 12, vm_bytes());
	memcpy(line + len, "}}\n", 3);
	/* The leading newline ends any line a crash cut short. */
	(void)!write(PLUGPROTO_FD_RESPONSES, line, len + 3);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void catch_crashes(void)
{
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
	static char alt[65536];
	stack_t ss = {.ss_sp = alt, .ss_size = sizeof(alt)};
	struct sigaction sa = {.sa_handler = on_crash,
			       .sa_flags = SA_ONSTACK | SA_RESETHAND};

	sigaltstack(&ss, NULL);
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* ------------------------------------------------------ start-up */

static void fatal(const char *fmt, ...) __attribute__((noreturn))
	__attribute__((format(printf, 1, 2)));
static void fatal(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	cJSON *m = cJSON_CreateObject();

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON_AddStringToObject(m, "fatal", msg);
	send_msg(m);
	_exit(1);
}

/* Exits as soon as sutra is gone, even while a call hangs. */
static void *watch_parent(void *arg)
{
	struct pollfd p = {.fd = PLUGPROTO_FD_LIFE, .events = POLLIN};
	char c;

	(void)arg;
	for (;;) {
		if (poll(&p, 1, -1) < 0 && errno == EINTR)
			continue;
		if (read(PLUGPROTO_FD_LIFE, &c, 1) <= 0)
			_exit(0);
	}
	return NULL;
}

static const struct sutra_agent *find_agent(const struct sutra_plugin *desc,
					    const char *name)
{
	for (size_t i = 0; i < desc->n_agents; i++)
		if (desc->agents[i].name &&
		    strcmp(desc->agents[i].name, name) == 0)
			return &desc->agents[i];
	return NULL;
}

/* dlopens the plugin through the descriptor opened before the uid drop
 * and checks it like the in-process loader does. */
static const struct sutra_plugin *open_plugin(int fd)
{
	char path[64];
	sutra_plugin_entry_fn entry;
	const struct sutra_plugin *desc;
	void *h;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (!(h = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
		fatal("%s: cannot load plugin: %s", plugin_path, dlerror());
	*(void **)&entry = dlsym(h, SUTRA_PLUGIN_ENTRY);
	if (!entry)
		fatal("%s: not a sutra plugin: no symbol '%s'", plugin_path,
		      SUTRA_PLUGIN_ENTRY);
	if (!(desc = entry()))
		fatal("%s: %s returned NULL", plugin_path, SUTRA_PLUGIN_ENTRY);
	if (desc->abi != SUTRA_PLUGIN_ABI)
		fatal("%s: plugin ABI %u, but this sutra speaks ABI %d",
		      plugin_path, desc->abi, SUTRA_PLUGIN_ABI);
	if (desc->size < PLUGIN_MIN_SIZE || !desc->name ||
	    (desc->n_agents && !desc->agents))
		fatal("%s: malformed plugin descriptor", plugin_path);
	return desc;
}

static cJSON *layer_names(unsigned layers)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{SANDBOX_LAYER_RLIMITS, "rlimits"},
		{SANDBOX_LAYER_NETNS, "netns"},
		{SANDBOX_LAYER_UID, "uid"},
		{SANDBOX_LAYER_NO_NEW_PRIVS, "no_new_privs"},
		{SANDBOX_LAYER_SECCOMP, "seccomp"},
	};
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
		if (layers & names[i].bit)
			cJSON_AddItemToArray(arr,
					     cJSON_CreateString(names[i].name));
	return arr;
}

static unsigned confine(const char *memory)
{
	struct sandbox_confinement c = {
		.memory_bytes = strtoull(memory, NULL, 10),
		.open_files = 256,
		.file_bytes = (uint64_t)16 << 20,
	};
	struct sutra_err err = {0};
	unsigned layers;
	pthread_t watcher;

	if (pthread_create(&watcher, NULL, watch_parent, NULL) != 0)
		fatal("%s: plugin host: cannot start its watcher thread",
		      plugin_path);
	if (sandbox_confine_self(&c, &layers, &err) < 0)
		fatal("%s: plugin host: cannot confine itself: %s",
		      plugin_path, err.msg);
	return layers;
}

static void send_ready(const struct sutra_plugin *desc, unsigned layers)
{
	cJSON *ready = cJSON_CreateObject();
	cJSON *r = cJSON_AddObjectToObject(ready, "ready");

	cJSON_AddStringToObject(r, "plugin", desc->name);
	cJSON_AddStringToObject(r, "version",
				desc->version ? desc->version : "");
	cJSON_AddItemToObject(r, "layers", layer_names(layers));
	send_msg(ready);
}

int main(int argc, char **argv)
{
	const struct sutra_plugin *desc;
	const struct sutra_agent *def;
	void *agent_data = NULL;
	char initerr[256] = "";
	cJSON *msg;
	unsigned layers;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: sutra-plugin-host FILE.so AGENT "
				"MEMORY_BYTES (started by sutra)\n");
		return 2;
	}
	plugin_path = argv[1];
	/* Nothing of sutra's but the three pipes reaches the plugin. */
	close_range(PLUGPROTO_FD_LIFE + 1, ~0U, 0);
	if ((fd = open(plugin_path, O_RDONLY | O_CLOEXEC)) < 0)
		fatal("%s: cannot load plugin: %s", plugin_path,
		      strerror(errno));
	layers = confine(argv[3]);
	desc = open_plugin(fd);
	if (!(def = find_agent(desc, argv[2])) || !def->run)
		fatal("%s: plugin '%s' has no agent '%s'", plugin_path,
		      desc->name, argv[2]);
	if (def->init && def->init(&host_table, &agent_data, initerr,
				   sizeof(initerr)) != 0) {
		initerr[sizeof(initerr) - 1] = '\0';
		fatal("%s: init of agent '%s' failed: %s", plugin_path,
		      argv[2], initerr[0] ? initerr : "no reason given");
	}
	catch_crashes();
	send_ready(desc, layers);
	while ((msg = read_msg()))
		serve_call(def, agent_data, msg);
	if (def->fini)
		def->fini(agent_data);
	return 0;
}
