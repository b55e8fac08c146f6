/* cmd_chain.c - `sutra chain validate FILE...` and `sutra chain graph`. */
#include <stdio.h>
#include <string.h>

#include "chain.h"
#include "commands.h"

static int load_one(struct cli *cli, const char *path, struct chain **c)
{
	struct sutra_err err = {0};
	struct chain_diag diag;
	struct runtime *rt = cli_runtime(cli, &err);

	if (!rt)
		return cli_fail(&err);
	expr_set_lua_dir(rt->lua_dir);
	if (chain_load(path, rt->catalog, c, &diag, &err) == 0)
		return 0;
	for (int i = 0; i < diag.n; i++)
		fprintf(stderr, "%s\n", diag.msgs[i]);
	chain_diag_free(&diag);
	return cli_fail(&err);
}

static int chain_validate(struct cli *cli, int argc, char **argv)
{
	int first = cli_getopt(cli, argc, argv, "", NULL, NULL, NULL);
	int worst = 0;

	if (first < 0)
		return 2;
	if (first == argc)
		return cli_usage("chain", "'chain validate' needs a file");
	for (int i = first; i < argc; i++) {
		struct chain *c = NULL;
		int rc = load_one(cli, argv[i], &c);
		if (rc == 0)
			printf("%s: ok (%d steps)\n", argv[i], c->n_steps);
		if (rc > worst)
			worst = rc;
		chain_free(c);
	}
	return worst;
}

static int format_option(struct cli *cli, void *ud, int c, const char *arg)
{
	(void)cli;
	if (c != 'f')
		return -1;
	*(const char **)ud = arg;
	return 0;
}

static int chain_graph_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct option longs[] = {
		{"format", required_argument, NULL, 'f'},
		{0},
	};
	const char *format = "dot";
	struct sutra_err err = {0};
	struct chain *c = NULL;
	int first = cli_getopt(cli, argc, argv, "", longs, format_option, &format);
	int rc;

	if (first < 0)
		return 2;
	if (argc - first != 1)
		return cli_usage("chain", "'chain graph' takes one file");
	if (strcmp(format, "dot") && strcmp(format, "mermaid"))
		return cli_usage("chain", "unknown format '%s' (dot or mermaid)",
				 format);
	if ((rc = load_one(cli, argv[first], &c)) != 0)
		return rc;
	rc = chain_graph(c, format, stdout, &err) < 0 ? cli_fail(&err) : 0;
	chain_free(c);
	return rc;
}

static const struct cli_subcommand chain_subs[] = {
	{"validate", chain_validate},
	{"graph", chain_graph_cmd},
	{0},
};

int cmd_chain(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, "chain", chain_subs, argc, argv);
}
