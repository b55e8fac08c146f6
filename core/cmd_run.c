/* cmd_run.c - `sutra run CHAIN.yaml`: load, validate, run, print output. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chain.h"
#include "commands.h"
#include "trace.h"
#include "util.h"

struct run_opts {
	char **kv;
	int n_kv;
	const char *input;
	const char *session;
	const char *trace;
	int max_parallel;
};

static atomic_int interrupted;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&interrupted, 1);
}

static void install_signals(void)
{
	struct sigaction sa = {0};

	sa.sa_handler = on_signal;
	/* One Ctrl-C stops the run cleanly; a second one kills at once. */
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static int run_option(struct cli *cli, void *ud, int c, const char *arg)
{
	struct run_opts *o = ud;
	char *end;

	switch (c) {
	case 'i': {
		char **n = realloc(o->kv, sizeof(*n) * (size_t)(o->n_kv + 1));
		if (!n)
			return -1;
		o->kv = n;
		o->kv[o->n_kv++] = (char *)arg;
		return 0;
	}
	case 'I':
		o->input = arg;
		return 0;
	case 's':
		o->session = arg;
		return 0;
	case 't':
		o->trace = arg;
		return 0;
	case 'p':
		o->max_parallel = (int)strtol(arg, &end, 10);
		if (*end || o->max_parallel < 1 || o->max_parallel > 256) {
			cli_usage("run", "--max-parallel must be 1 to 256");
			return -1;
		}
		return 0;
	}
	(void)cli;
	return -1;
}

/* Live progress on a terminal: one line per finished step. */
struct progress {
	int color;
};

static void on_event(void *ud, const struct chain_event *ev)
{
	const struct progress *p = ud;
	const char *mark, *col = "";

	if (strcmp(ev->kind, "step.started") == 0)
		return;
	switch (ev->status) {
	case STATUS_OK:
		mark = "ok";
		col = "\033[32m";
		break;
	case STATUS_SKIPPED:
		mark = "skip";
		col = "\033[2m";
		break;
	case STATUS_TIMEOUT:
		mark = "timeout";
		col = "\033[33m";
		break;
	default:
		mark = strcmp(ev->kind, "step.retrying") == 0 ? "retry" : "FAIL";
		col = "\033[31m";
		break;
	}
	fprintf(stderr, "%*s%s%-7s%s %s", 2 * ev->depth, "", p->color ? col : "",
		mark, p->color ? "\033[0m" : "", ev->path);
	if (ev->step->agent_name)
		fprintf(stderr, " (%s)", ev->step->agent_name);
	if (ev->elapsed_ns)
		fprintf(stderr, "  %.1f ms", (double)ev->elapsed_ns / 1e6);
	if (ev->error)
		fprintf(stderr, "  %s", ev->error);
	fputc('\n', stderr);
}

static void print_diag(const struct chain_diag *d)
{
	for (int i = 0; i < d->n; i++)
		fprintf(stderr, "%s\n", d->msgs[i]);
}

static int load(struct cli *cli, const char *path, struct chain **c,
		struct sutra_err *err)
{
	struct chain_diag diag;
	struct runtime *rt = cli_runtime(cli, err);

	if (!rt)
		return -1;
	expr_set_lua_dir(rt->lua_dir);
	if (chain_load(path, rt->catalog, c, &diag, err) < 0) {
		print_diag(&diag);
		chain_diag_free(&diag);
		return -1;
	}
	return 0;
}

static int execute(struct cli *cli, struct chain *c, const struct run_opts *o)
{
	struct sutra_err err = {0};
	struct progress progress = {.color = cli->color};
	char run_id[32];
	cJSON *given = NULL, *inputs = NULL, *out = NULL;
	struct chain_run_opts ro = {
		.session = o->session, .max_parallel = o->max_parallel,
		.cancel = &interrupted, .run_id = run_id,
	};
	int rc;

	random_id("run_", run_id, sizeof(run_id));
	if (o->input && !(given = cli_read_json_arg(o->input, "--input", &err)))
		return cli_fail(&err);
	inputs = chain_inputs(c, given, o->kv, o->n_kv, &err);
	cJSON_Delete(given);
	if (!inputs)
		return cli_fail(&err);
	if (o->trace && !(ro.trace = trace_new(o->trace))) {
		cJSON_Delete(inputs);
		return 3;
	}
	if (isatty(STDERR_FILENO) && cli->verbosity >= 0) {
		ro.on_event = on_event;
		ro.ud = &progress;
	}
	install_signals();
	rc = chain_run(cli->rt, c, inputs, &ro, &out, &err);
	if (trace_close(ro.trace, rc == 0 ? &err : NULL) < 0 && rc == 0)
		rc = -1;
	cJSON_Delete(inputs);
	if (rc < 0) {
		cJSON_Delete(out);
		return cli_fail(&err);
	}
	rc = cli_print_json(out) < 0 ? 3 : 0;
	cJSON_Delete(out);
	return rc;
}

int cmd_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longs[] = {
		{"input", required_argument, NULL, 'I'},
		{"session", required_argument, NULL, 's'},
		{"trace", required_argument, NULL, 't'},
		{"max-parallel", required_argument, NULL, 'p'},
		{0},
	};
	struct run_opts o = {0};
	struct sutra_err err = {0};
	struct chain *c = NULL;
	int first = cli_getopt(cli, argc, argv, "i:", longs, run_option, &o);
	int rc;

	if (first < 0) {
		free(o.kv);
		return 2;
	}
	if (argc - first != 1) {
		free(o.kv);
		return cli_usage("run", "'run' takes one chain file");
	}
	if (load(cli, argv[first], &c, &err) < 0)
		rc = cli_fail(&err);
	else
		rc = execute(cli, c, &o);
	chain_free(c);
	free(o.kv);
	return rc;
}
