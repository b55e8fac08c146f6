/*
 * t/plugins/good.c - a test plugin that exercises the host table: memory,
 * calling agents, cancellation, errors, and init/fini with agent data.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sutra/plugin.h>

struct counter_data {
	int inits;
};

static int counter_init(const struct sutra_host *host, void **data,
			char *errbuf, size_t errlen)
{
	struct counter_data *d = calloc(1, sizeof(*d));

	(void)errbuf;
	(void)errlen;
	if (!d || host->abi != SUTRA_PLUGIN_ABI)
		return -1;
	d->inits = 1;
	*data = d;
	return 0;
}

static void counter_fini(void *data)
{
	free(data);
}

/* Counts calls in session memory; returns {"n": N, "inits": 1}. */
static int counter_run(struct sutra_call *call)
{
	const struct sutra_host *h = call->host;
	struct counter_data *d = call->agent_data;
	char *old = h->memory_get(call, "plugin_n");
	int n = old ? atoi(old) + 1 : 1;
	char buf[64];

	if (!old && h->last_status(call) != SUTRA_STATUS_NOT_FOUND) {
		h->error(call, h->last_error(call));
		return 1;
	}
	h->free(old);
	snprintf(buf, sizeof(buf), "%d", n);
	if (h->memory_set(call, "plugin_n", buf) != SUTRA_STATUS_OK) {
		h->error(call, h->last_error(call));
		return 1;
	}
	snprintf(buf, sizeof(buf), "{\"n\":%d,\"inits\":%d,\"attempt\":%d}", n,
		 d->inits, h->attempt(call));
	return h->set_output(call, buf);
}

/* Calls the agent named in input "agent" with input {"from":"plugin"}. */
static int caller_run(struct sutra_call *call)
{
	const struct sutra_host *h = call->host;
	const char *in = h->input(call);
	const char *name = strstr(in, "\"agent\":\"");
	char agent[64] = "";

	if (name)
		sscanf(name + 9, "%63[^\"]", agent);
	char *out = h->call_agent(call, agent, "{\"from\":\"plugin\"}");
	if (!out) {
		h->error(call, h->last_error(call));
		return 1;
	}
	int rc = h->set_output(call, out);
	h->free(out);
	return rc;
}

/* Sleeps in small steps until cancelled (or 10 s). */
static int slow_run(struct sutra_call *call)
{
	const struct sutra_host *h = call->host;
	struct timespec ts = {0, 5 * 1000 * 1000};

	for (int i = 0; i < 2000; i++) {
		if (h->cancelled(call))
			return 1;
		nanosleep(&ts, NULL);
	}
	return h->set_output(call, "\"finished\"");
}

/* Sleeps input.ms milliseconds (polling cancellation), returns input. */
static int sleep_run(struct sutra_call *call)
{
	const struct sutra_host *h = call->host;
	const char *in = h->input(call), *ms = strstr(in, "\"ms\":");
	long left = ms ? atol(ms + 5) : 0;

	while (left > 0) {
		struct timespec ts = {0, (left < 5 ? left : 5) * 1000 * 1000};
		if (h->cancelled(call))
			return 1;
		nanosleep(&ts, NULL);
		left -= 5;
	}
	return h->set_output(call, in);
}

/* Appends a line to the file named in input "file": an external effect
 * whose count tests can check (journal replay must not repeat it). */
static int count_run(struct sutra_call *call)
{
	const char *in = call->host->input(call), *f = strstr(in, "\"file\":\"");
	char path[512] = "";
	FILE *fp;

	if (f)
		sscanf(f + 8, "%511[^\"]", path);
	if (!*path || !(fp = fopen(path, "a"))) {
		call->host->error(call, "cannot open the count file");
		return 1;
	}
	fputs("called\n", fp);
	fclose(fp);
	return call->host->set_output(call, "\"counted\"");
}

static int noop_run(struct sutra_call *call)
{
	return call->host->set_output(call, "{}");
}

static int fail_run(struct sutra_call *call)
{
	call->host->error(call, "the plugin says no");
	return 1;
}

static int badjson_run(struct sutra_call *call)
{
	int rc = call->host->set_output(call, "{not json");
	return rc == SUTRA_STATUS_BAD_JSON ? call->host->set_output(call, "\"refused\"") : 1;
}

static int nomem_run(struct sutra_call *call)
{
	/* Without the memory permission the host refuses. */
	char *v = call->host->memory_get(call, "x");
	char buf[128];

	snprintf(buf, sizeof(buf), "{\"status\":%d}", call->host->last_status(call));
	call->host->free(v);
	return call->host->set_output(call, buf);
}

static const struct sutra_agent agents[] = {
	{.name = "plug-counter", .description = "counts calls",
	 .init = counter_init, .fini = counter_fini, .run = counter_run},
	{.name = "plug-caller", .description = "calls an agent", .run = caller_run},
	{.name = "plug-slow", .description = "sleeps until cancelled", .run = slow_run},
	{.name = "plug-fail", .description = "always fails", .run = fail_run},
	{.name = "plug-sleep", .description = "sleeps", .run = sleep_run},
	{.name = "plug-noop", .description = "does nothing", .run = noop_run},
	{.name = "plug-count", .description = "appends to a file", .run = count_run},
	{.name = "plug-badjson", .description = "bad output", .run = badjson_run},
	{.name = "plug-nomem", .description = "lacks memory", .run = nomem_run},
};

static const struct sutra_plugin plugin = {
	SUTRA_PLUGIN_INIT,
	.name = "good",
	.version = "1.0.0",
	.agents = agents,
	.n_agents = sizeof(agents) / sizeof(*agents),
};

SUTRA_PLUGIN_EXPORT const struct sutra_plugin *sutra_plugin_entry(void)
{
	return &plugin;
}
