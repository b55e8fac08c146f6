/*
 * cmd_run.c - the three ways to execute a chain: `sutra run CHAIN.yaml`
 * (a new recorded run), `sutra resume RUN_ID` (continue a recorded run
 * from its checkpoints, answering an ask step) and `sutra replay RUN_ID`
 * (re-run a recorded run offline from its journal and report
 * divergences).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <limits.h>

#include "chain.h"
#include "commands.h"
#include "lockfile.h"
#include "runlog.h"
#include "schema.h"
#include "trace.h"
#include "util.h"

struct run_opts {
	char **kv;
	int n_kv;
	const char *input;
	const char *session;
	const char *trace;
	const char *durability;
	const char *answer;
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
	case 'd':
		o->durability = arg;
		return 0;
	case 'a':
		o->answer = arg;
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

static const char *run_status(int rc, const struct sutra_err *err)
{
	if (rc == 0)
		return "ok";
	switch (err->code) {
	case SUTRA_EWAITING:
		return "waiting";
	case SUTRA_EINTR:
		return "interrupted";
	}
	return "failed";
}

/* A paused run: the question and how to answer, on stdout as JSON (the
 * run's result) and for people on stderr. */
static int report_waiting(struct cli *cli, const char *run_id)
{
	struct sutra_err err = {0};
	struct state *st = cli_state(cli, &err);
	cJSON *input = NULL, *o;
	char *path = NULL;

	if (!st || runlog_waiting(st, run_id, &path, &input, &err) < 0)
		return cli_fail(&err);
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(input, "question");
	char *qtext = cJSON_IsString(q) ? strdup(q->valuestring)
					: cJSON_PrintUnformatted(q);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "run", run_id);
	cJSON_AddStringToObject(o, "status", "waiting");
	cJSON_AddStringToObject(o, "step", path ? path : "");
	cJSON_AddItemToObject(o, "question",
			      q ? cJSON_Duplicate(q, 1) : cJSON_CreateNull());
	const cJSON *schema = cJSON_GetObjectItemCaseSensitive(input, "schema");
	if (schema)
		cJSON_AddItemToObject(o, "schema", cJSON_Duplicate(schema, 1));
	char resume[160];
	snprintf(resume, sizeof(resume), "sutra resume %s --answer JSON", run_id);
	cJSON_AddStringToObject(o, "resume", resume);
	cli_print_json(o);
	fprintf(stderr, "sutra: run %s is waiting at step '%s': %s\n"
			"sutra: answer with: %s\n",
		run_id, path ? path : "?", qtext ? qtext : "", resume);
	cJSON_Delete(o);
	cJSON_Delete(input);
	free(qtext);
	free(path);
	return 0;
}

/* Runs c under rl (created or opened by the caller) and records the end. */
static int execute(struct cli *cli, struct chain *c, const cJSON *inputs,
		   const char *session, const char *run_id, struct runlog *rl,
		   const struct run_opts *o, cJSON **out, struct sutra_err *err)
{
	struct progress progress = {.color = cli->color};
	struct chain_run_opts ro = {
		.session = session, .max_parallel = o->max_parallel,
		.cancel = &interrupted, .run_id = run_id, .runlog = rl,
	};
	struct sutra_err ferr = {0};
	int rc;

	if (o->trace && !(ro.trace = trace_new(o->trace)))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	if (isatty(STDERR_FILENO) && cli->verbosity >= 0) {
		ro.on_event = on_event;
		ro.ud = &progress;
	}
	install_signals();
	rc = chain_run(cli->rt, c, inputs, &ro, out, err);
	if (runlog_finish(rl, run_status(rc, err), *out, rc ? err->msg : NULL,
			  &ferr) < 0 && rc == 0) {
		*err = ferr;
		rc = -1;
	}
	if (trace_close(ro.trace, rc == 0 ? err : NULL) < 0 && rc == 0)
		rc = -1;
	return rc;
}

/* Prints a finished execution's result; returns the exit code. */
static int conclude(struct cli *cli, int rc, cJSON *out, const char *run_id,
		    const struct sutra_err *err)
{
	int code;

	if (rc < 0 && err->code == SUTRA_EWAITING)
		code = report_waiting(cli, run_id);
	else if (rc < 0)
		code = cli_fail(err);
	else
		code = cli_print_json(out) < 0 ? 3 : 0;
	cJSON_Delete(out);
	return code;
}

static int durability_of(struct cli *cli, const struct run_opts *o,
			 struct sutra_err *err)
{
	const cJSON *cfg = config_section(cli->rt->config, "durability");
	const char *name = o->durability ? o->durability
			   : cJSON_IsString(cfg) ? cfg->valuestring : "sync";
	int d = runlog_durability_from_name(name);

	if (d < 0)
		err_set(err, SUTRA_EUSAGE,
			"durability '%s': expected sync or batch", name);
	return d;
}

static int start_run(struct cli *cli, struct chain *c, const char *file,
		     const struct run_opts *o)
{
	struct sutra_err err = {0};
	char run_id[32], real[PATH_MAX];
	cJSON *given = NULL, *inputs = NULL, *out = NULL;
	const char *session = o->session ? o->session : "default";
	struct runlog *rl = NULL;
	struct state *st;
	int durability, rc;

	random_id("run_", run_id, sizeof(run_id));
	if (o->input && !(given = cli_read_json_arg(o->input, "--input", &err)))
		return cli_fail(&err);
	inputs = chain_inputs(c, given, o->kv, o->n_kv, &err);
	cJSON_Delete(given);
	if (!inputs || lockfile_check(c, &err) < 0 ||
	    (durability = durability_of(cli, o, &err)) < 0 ||
	    !(st = cli_state(cli, &err)) || !realpath(file, real) ||
	    runlog_create(st, run_id, c->name, real, session, inputs, durability,
			  &rl, &err) < 0) {
		cJSON_Delete(inputs);
		return cli_fail(&err);
	}
	rc = execute(cli, c, inputs, session, run_id, rl, o, &out, &err);
	runlog_free(rl);
	cJSON_Delete(inputs);
	return conclude(cli, rc, out, run_id, &err);
}

static const struct option run_longs[] = {
	{"input", required_argument, NULL, 'I'},
	{"session", required_argument, NULL, 's'},
	{"trace", required_argument, NULL, 't'},
	{"max-parallel", required_argument, NULL, 'p'},
	{"durability", required_argument, NULL, 'd'},
	{"answer", required_argument, NULL, 'a'},
	{0},
};

int cmd_run(struct cli *cli, int argc, char **argv)
{
	struct run_opts o = {0};
	struct sutra_err err = {0};
	struct chain *c = NULL;
	int first = cli_getopt(cli, argc, argv, "i:", run_longs, run_option, &o);
	int rc;

	if (first < 0) {
		free(o.kv);
		return 2;
	}
	if (argc - first != 1 || o.answer) {
		free(o.kv);
		return cli_usage("run", o.answer ? "--answer goes with 'resume'"
						 : "'run' takes one chain file");
	}
	if (load(cli, argv[first], &c, &err) < 0)
		rc = cli_fail(&err);
	else
		rc = start_run(cli, c, argv[first], &o);
	chain_free(c);
	free(o.kv);
	return rc;
}

/* ------------------------------------------------------ resume, replay */

/* Finds the ask step a path names ("approve", "fix#2/approve",
 * "sub/approve"): the last component, without "[n]" or "#n". */
static const struct step *step_of_path(const struct chain *c, const char *path)
{
	const char *slash = strchr(path, '/');

	if (slash) {
		char head[128];
		snprintf(head, sizeof(head), "%.*s", (int)(slash - path), path);
		head[strcspn(head, "#[")] = '\0';
		const struct step *s = chain_find_step(c, head);
		if (s && s->kind == STEP_CHAIN && s->sub)
			return step_of_path(s->sub, slash + 1);
		return step_of_path(c, slash + 1);
	}
	char id[128];
	snprintf(id, sizeof(id), "%s", path);
	id[strcspn(id, "#[")] = '\0';
	return chain_find_step(c, id);
}

/* Checks an answer against the waiting ask step and records it. */
static int record_answer(struct cli *cli, struct state *st, struct chain *c,
			 const char *run_id, const char *answer_arg,
			 struct sutra_err *err)
{
	cJSON *input = NULL, *answer;
	char *path = NULL;
	int w = runlog_waiting(st, run_id, &path, &input, err), rc = -1;

	cJSON_Delete(input);
	if (w < 0)
		return -1;
	if (w == 0) {
		free(path);
		return err_set(err, SUTRA_EUSAGE, "run '%s' is not waiting for an "
			       "answer", run_id);
	}
	const struct step *s = step_of_path(c, path);
	if (!(answer = cli_read_json_arg(answer_arg, "--answer", err)))
		goto out;
	if (s && s->schema &&
	    schema_check(s->schema, answer, "--answer", err) < 0)
		goto out;
	rc = runlog_answer(st, run_id, path, answer, err);
out:
	(void)cli;
	cJSON_Delete(answer);
	free(path);
	return rc;
}

/* Opens a recorded run and its chain; resolves "last". */
static int open_recorded(struct cli *cli, const char *id_arg, int mode,
			 struct runlog **rl, struct chain **c,
			 struct sutra_err *err)
{
	struct state *st = cli_state(cli, err);
	char *last = NULL;
	const char *id = id_arg;

	*rl = NULL;
	*c = NULL;
	if (!st)
		return -1;
	if (strcmp(id_arg, "last") == 0) {
		if (!(last = runlog_last_id(st, err)))
			return err->code ? -1 : err_set(err, SUTRA_ENOTFOUND,
							"no runs recorded yet");
		id = last;
	}
	int rc = runlog_open(st, id, mode, rl, err);
	free(last);
	if (rc < 0)
		return -1;
	const struct runlog_info *info = runlog_info(*rl);
	if (!info->chain_path || load(cli, info->chain_path, c, err) < 0) {
		err_prefix(err, "run '%s'", info->id);
		return -1;
	}
	return 0;
}

static int resume_run(struct cli *cli, const char *id_arg,
		      const struct run_opts *o)
{
	struct sutra_err err = {0};
	struct runlog *rl = NULL;
	struct chain *c = NULL;
	cJSON *out = NULL;
	int rc = -1;

	/* A first, read-only look: finished runs, answers. */
	if (open_recorded(cli, id_arg, RUNLOG_REPLAY, &rl, &c, &err) < 0 ||
	    lockfile_check(c, &err) < 0)
		goto fail;
	const struct runlog_info *info = runlog_info(rl);
	char *id = strdup(info->id);
	if (strcmp(info->status, "ok") == 0) {
		fprintf(stderr, "sutra: run %s has already finished\n", id);
		out = cJSON_Duplicate(info->output, 1);
		rc = conclude(cli, 0, out, id, &err);
		free(id);
		runlog_free(rl);
		chain_free(c);
		return rc;
	}
	if (strcmp(info->status, "waiting") == 0 && !o->answer) {
		runlog_free(rl);
		chain_free(c);
		rc = report_waiting(cli, id);
		free(id);
		return rc == 0 ? 2 : rc;
	}
	if (o->answer && record_answer(cli, cli->rt->state, c, id, o->answer,
				       &err) < 0) {
		free(id);
		goto fail;
	}
	runlog_free(rl);
	rl = NULL;
	if (runlog_open(cli->rt->state, id, RUNLOG_RESUME, &rl, &err) < 0) {
		free(id);
		goto fail;
	}
	info = runlog_info(rl);
	rc = execute(cli, c, info->input, info->session, id, rl, o, &out, &err);
	runlog_free(rl);
	chain_free(c);
	rc = conclude(cli, rc, out, id, &err);
	free(id);
	return rc;
fail:
	runlog_free(rl);
	chain_free(c);
	return cli_fail(&err);
}

int cmd_resume(struct cli *cli, int argc, char **argv)
{
	struct run_opts o = {0};
	int first = cli_getopt(cli, argc, argv, "", run_longs, run_option, &o);
	int rc;

	if (first < 0)
		rc = 2;
	else if (argc - first != 1 || o.kv || o.input)
		rc = cli_usage("resume", "'resume' takes a run id (or 'last') "
					 "and --answer");
	else
		rc = resume_run(cli, argv[first], &o);
	free(o.kv);
	return rc;
}

static int replay_run(struct cli *cli, const char *id_arg,
		      const struct run_opts *o)
{
	struct sutra_err err = {0};
	struct runlog *rl = NULL;
	struct chain *c = NULL;
	cJSON *out = NULL, *report, *divergences;
	int rc;

	if (open_recorded(cli, id_arg, RUNLOG_REPLAY, &rl, &c, &err) < 0) {
		runlog_free(rl);
		chain_free(c);
		return cli_fail(&err);
	}
	const struct runlog_info *info = runlog_info(rl);
	rc = execute(cli, c, info->input, info->session, info->id, rl, o, &out,
		     &err);
	if (rc == 0 && info->output && !cJSON_Compare(out, info->output, 1))
		runlog_diverge(rl, NULL, "the run's output differs from the "
			       "recorded one");
	if (strcmp(run_status(rc, &err), info->status) != 0)
		runlog_diverge(rl, NULL, "the run ended %s, recorded %s%s%s",
			       run_status(rc, &err), info->status,
			       rc ? ": " : "", rc ? err.msg : "");
	divergences = runlog_divergences(rl);
	report = cJSON_CreateObject();
	cJSON_AddStringToObject(report, "run", info->id);
	cJSON_AddStringToObject(report, "status", run_status(rc, &err));
	cJSON_AddStringToObject(report, "recorded_status", info->status);
	int n = cJSON_GetArraySize(divergences);
	cJSON_AddItemToObject(report, "divergences", divergences);
	if (out)
		cJSON_AddItemToObject(report, "output", out);
	cli_print_json(report);
	if (n)
		fprintf(stderr, "sutra: error: replay of %s diverged in %d "
				"place%s\n", info->id, n, n == 1 ? "" : "s");
	cJSON_Delete(report);
	runlog_free(rl);
	chain_free(c);
	return n ? 1 : 0;
}

int cmd_replay(struct cli *cli, int argc, char **argv)
{
	struct run_opts o = {0};
	int first = cli_getopt(cli, argc, argv, "", NULL, NULL, NULL);

	if (first < 0)
		return 2;
	if (argc - first != 1)
		return cli_usage("replay", "'replay' takes a run id (or 'last')");
	return replay_run(cli, argv[first], &o);
}
