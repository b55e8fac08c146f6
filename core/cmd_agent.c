/* cmd_agent.c - `sutra agent list | info NAME | run NAME`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "commands.h"
#include "util.h"

static cJSON *agent_summary(const struct agent *a)
{
	cJSON *o = agent_entry_json(a);
	cJSON *shadowed = cJSON_AddArrayToObject(o, "shadowed");

	for (const struct agent *s = a->shadowed; s; s = s->shadowed)
		cJSON_AddItemToArray(shadowed, cJSON_CreateString(s->dir));
	return o;
}

static int agent_list(struct cli *cli, int argc, char **argv)
{
	struct sutra_err err = {0};
	struct runtime *rt;

	if (cli_getopt(cli, argc, argv, "", NULL, NULL, NULL) < 0)
		return 2;
	if (!(rt = cli_runtime(cli, &err)))
		return cli_fail(&err);
	const struct catalog *cat = rt->catalog;
	if (cli->json) {
		cJSON *list = cJSON_CreateArray();
		for (size_t i = 0; i < cat->n_agents; i++)
			cJSON_AddItemToArray(list, agent_summary(cat->agents[i]));
		cli_print_json(list);
		cJSON_Delete(list);
		return 0;
	}
	for (size_t i = 0; i < cat->n_agents; i++) {
		const struct agent *a = cat->agents[i];
		printf("%-20s %-9s %-7s %s\n", a->name, a->version,
		       agent_kind_name(a->kind), a->description);
	}
	return 0;
}

static int agent_info(struct cli *cli, int argc, char **argv)
{
	struct sutra_err err = {0};
	struct runtime *rt;
	struct agent *a;
	int first = cli_getopt(cli, argc, argv, "", NULL, NULL, NULL);

	if (first < 0)
		return 2;
	if (argc - first != 1)
		return cli_usage("agent", "'agent info' takes one agent name");
	if (!(rt = cli_runtime(cli, &err)))
		return cli_fail(&err);
	if (!(a = catalog_find(rt->catalog, argv[first]))) {
		catalog_not_found(rt->catalog, argv[first], &err);
		return cli_fail(&err);
	}
	cJSON *o = agent_summary(a);
	cJSON_AddStringToObject(o, "manifest", a->manifest_path);
	cJSON_AddStringToObject(o, "entry", a->entry_path);
	cJSON_AddStringToObject(o, "sha256", a->sha256 ? a->sha256 : "");
	if (a->kind == AGENT_PLUGIN)
		cJSON_AddStringToObject(o, "isolation",
					agent_isolation_name(a->isolation));
	if (a->limited || a->isolation == ISOLATION_PROCESS) {
		cJSON *lim = cJSON_AddObjectToObject(o, "limits");
		if (a->kind == AGENT_LUA)
			cJSON_AddNumberToObject(lim, "instructions",
						(double)a->limits.instructions);
		cJSON_AddNumberToObject(lim, "memory_mb",
					(double)(a->limits.memory_bytes >> 20));
	}
	if (a->input_schema)
		cJSON_AddItemToObject(o, "input",
				      cJSON_Duplicate(a->input_schema, 1));
	if (a->output_schema)
		cJSON_AddItemToObject(o, "output",
				      cJSON_Duplicate(a->output_schema, 1));
	if (cli->json) {
		cli_print_json(o);
	} else {
		const cJSON *f;
		cJSON_ArrayForEach(f, o) {
			char *v = cJSON_IsString(f) ? NULL : cJSON_PrintUnformatted(f);
			printf("%-12s %s\n", f->string, v ? v : f->valuestring);
			cJSON_free(v);
		}
	}
	cJSON_Delete(o);
	return 0;
}

struct run_opts {
	const char *input;
	const char *session;
	const char *timeout;
};

static int run_option(struct cli *cli, void *ud, int c, const char *arg)
{
	struct run_opts *o = ud;

	(void)cli;
	switch (c) {
	case 'i':
		o->input = arg;
		return 0;
	case 's':
		o->session = arg;
		return 0;
	case 't':
		o->timeout = arg;
		return 0;
	}
	return -1;
}

/* Runs one agent outside any chain: one attempt, memory committed when it
 * succeeds. */
static int run_agent(struct runtime *rt, struct agent *a, const cJSON *input,
		     const struct run_opts *o, cJSON **out,
		     struct sutra_err *err)
{
	struct agent_ctx ctx = {
		.rt = rt,
		.session = o->session ? o->session : "default",
		.attempt = 1,
	};
	int64_t ms = 0;
	int rc;

	if (o->timeout) {
		if (parse_duration_ms(o->timeout, &ms) < 0)
			return err_set(err, SUTRA_EUSAGE,
				       "--timeout: '%s' is not a duration "
				       "(e.g. 250ms, 30s, 5m)",
				       o->timeout);
		ctx.deadline_ns = now_ns() + ms * 1000000;
	}
	if (!(ctx.mem = memtx_new(ctx.session, runtime_state_opener, rt)))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	rc = agent_invoke(a, input, &ctx, out, err);
	if (rc == 0 && memtx_commit(ctx.mem, err) < 0) {
		cJSON_Delete(*out);
		*out = NULL;
		rc = -1;
	}
	memtx_free(ctx.mem);
	return rc;
}

static int agent_run(struct cli *cli, int argc, char **argv)
{
	static const struct option longs[] = {
		{"input", required_argument, NULL, 'i'},
		{"session", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 't'},
		{0},
	};
	struct run_opts o = {0};
	struct sutra_err err = {0};
	struct runtime *rt;
	struct agent *a;
	cJSON *input = NULL, *out = NULL;
	int first = cli_getopt(cli, argc, argv, "", longs, run_option, &o);
	int rc;

	if (first < 0)
		return 2;
	if (argc - first != 1)
		return cli_usage("agent", "'agent run' takes one agent name");
	if (!(rt = cli_runtime(cli, &err)))
		return cli_fail(&err);
	if (!(a = catalog_find(rt->catalog, argv[first]))) {
		catalog_not_found(rt->catalog, argv[first], &err);
		return cli_fail(&err);
	}
	input = o.input ? cli_read_json_arg(o.input, "--input", &err)
			: cJSON_CreateObject();
	if (!input)
		return cli_fail(&err);
	rc = run_agent(rt, a, input, &o, &out, &err);
	cJSON_Delete(input);
	if (rc < 0)
		return cli_fail(&err);
	rc = cli_print_json(out) < 0 ? 3 : 0;
	cJSON_Delete(out);
	return rc;
}

static const struct cli_subcommand agent_subs[] = {
	{"list", agent_list},
	{"info", agent_info},
	{"run", agent_run},
	{0},
};

int cmd_agent(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, "agent", agent_subs, argc, argv);
}
