/*
 * cmd_sandbox.c - `sutra sandbox run [--profile P] [--time S] [--memory MB]
 * [--dir DIR] [--keep] -- CMD...`: runs CMD in the sandbox and prints the
 * verdict (SPEC §8) on stdout, nothing else.  Exit 0 for status ok, 1 for
 * any other status, 2 for a usage error, 3 when the sandbox could not be
 * set up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "sandbox/sandbox.h"
#include "util.h"

enum {
	OPT_PROFILE = 2000,
	OPT_TIME,
	OPT_CPU,
	OPT_MEMORY,
	OPT_DIR,
	OPT_KEEP,
	OPT_COLLECT,
	OPT_DEGRADED,
	OPT_LIMITS,
};

struct run_opts {
	struct sandbox_spec spec;
	cJSON *limits;          /* the limit options, as a limits object */
	char **collect;
	size_t n_collect;
	const char *limits_json;
};

static int add_limit(struct run_opts *o, const char *key, const char *arg,
		     int duration)
{
	char *end;
	double v = strtod(arg, &end);

	if (!o->limits && !(o->limits = cJSON_CreateObject()))
		return -1;
	cJSON_DeleteItemFromObjectCaseSensitive(o->limits, key);
	/* Durations may carry a unit ("250ms"); sizes are plain numbers. */
	if (duration && *end)
		return cJSON_AddStringToObject(o->limits, key, arg) ? 0 : -1;
	if (end == arg || *end) {
		cli_usage("sandbox", "--%s: '%s' is not a number", key, arg);
		return -1;
	}
	return cJSON_AddNumberToObject(o->limits, key, v) ? 0 : -1;
}

static int add_collect(struct run_opts *o, const char *path)
{
	char **n = realloc(o->collect, (o->n_collect + 2) * sizeof(*n));

	if (!n)
		return -1;
	o->collect = n;
	n[o->n_collect++] = (char *)path;
	n[o->n_collect] = NULL;
	return 0;
}

static int run_option(struct cli *cli, void *ud, int c, const char *arg)
{
	struct run_opts *o = ud;

	(void)cli;
	switch (c) {
	case OPT_PROFILE:
		if (!sandbox_profile_known(arg)) {
			cli_usage("sandbox", "--profile: unknown profile '%s' "
				  "(python, native or shell)", arg);
			return -1;
		}
		o->spec.profile = arg;
		return 0;
	case OPT_TIME:
		return add_limit(o, "time", arg, 1);
	case OPT_CPU:
		return add_limit(o, "cpu", arg, 1);
	case OPT_MEMORY:
		return add_limit(o, "memory_mb", arg, 0);
	case OPT_DIR:
		o->spec.input_dir = arg;
		return 0;
	case OPT_KEEP:
		o->spec.keep = 1;
		return 0;
	case OPT_COLLECT:
		return add_collect(o, arg);
	case OPT_DEGRADED:
		o->spec.force_degraded = 1;
		return 0;
	case OPT_LIMITS:
		o->limits_json = arg;
		return 0;
	}
	return -1;
}

/* --limits JSON first, then the single-limit options over it. */
static int apply_limits(struct run_opts *o, struct sutra_err *err)
{
	cJSON *extra;
	int rc = 0;

	sandbox_limits_default(&o->spec.limits);
	if (o->limits_json) {
		if (!(extra = cli_read_json_arg(o->limits_json, "--limits",
						err)))
			return -1;
		rc = sandbox_limits_from_json(extra, &o->spec.limits, err);
		cJSON_Delete(extra);
	}
	if (rc == 0 && o->limits)
		rc = sandbox_limits_from_json(o->limits, &o->spec.limits, err);
	if (rc < 0 && err->code == SUTRA_EUSAGE)
		err_prefix(err, "sandbox run");
	return rc;
}

static int sandbox_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longs[] = {
		{"profile", required_argument, NULL, OPT_PROFILE},
		{"time", required_argument, NULL, OPT_TIME},
		{"cpu", required_argument, NULL, OPT_CPU},
		{"memory", required_argument, NULL, OPT_MEMORY},
		{"dir", required_argument, NULL, OPT_DIR},
		{"keep", no_argument, NULL, OPT_KEEP},
		{"collect", required_argument, NULL, OPT_COLLECT},
		{"degraded", no_argument, NULL, OPT_DEGRADED},
		{"limits", required_argument, NULL, OPT_LIMITS},
		{0},
	};
	struct run_opts o = {0};
	struct sutra_err err = {0};
	cJSON *verdict = NULL;
	int first = cli_getopt(cli, argc, argv, "", longs, run_option, &o);
	int rc;

	if (first < 0) {
		rc = 2;
		goto out;
	}
	if (first >= argc) {
		rc = cli_usage("sandbox", "'sandbox run' needs a command after "
			       "'--'");
		goto out;
	}
	if (apply_limits(&o, &err) < 0) {
		rc = cli_fail(&err);
		goto out;
	}
	o.spec.argv = argv + first;
	o.spec.collect = o.collect;
	/* One run per process: a spare built after it would go unused. */
	sandbox_pool_enable(0);
	if (sandbox_exec(&o.spec, &verdict, &err) < 0) {
		rc = cli_fail(&err);
		goto out;
	}
	rc = cli_print_json(verdict) < 0 ? 3 : sandbox_verdict_exit_code(verdict);
	if (rc == 3) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(verdict,
								  "error");
		fprintf(stderr, "sutra: error: sandbox: %s\n",
			cJSON_IsString(e) ? e->valuestring : "set-up failed");
	}
out:
	cJSON_Delete(verdict);
	cJSON_Delete(o.limits);
	free(o.collect);
	return rc;
}

static const struct cli_subcommand sandbox_subs[] = {
	{"run", sandbox_run},
	{0},
};

int cmd_sandbox(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, "sandbox", sandbox_subs, argc, argv);
}
