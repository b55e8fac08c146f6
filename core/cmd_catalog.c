/* cmd_catalog.c - `sutra catalog list | install | remove | verify | lock`
 * (the rules live in pkg.h and lockfile.h). */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "commands.h"
#include "expr.h"
#include "lockfile.h"
#include "pkg.h"

/* ------------------------------------------------------------- list */

static cJSON *package_json(const struct agent *a)
{
	cJSON *o = agent_entry_json(a);

	cJSON_AddStringToObject(o, "catalog", a->root);
	if (a->sha256)
		cJSON_AddStringToObject(o, "sha256", a->sha256);
	else
		cJSON_AddNullToObject(o, "sha256");
	return o;
}

/* "memory,llm", or "-" for none, into buf. */
static const char *perms_text(unsigned perms, char *buf, size_t n)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned bit = 1; bit <= PERM_CALL; bit <<= 1)
		if (perms & bit)
			len += (size_t)snprintf(buf + len, n - len, "%s%s",
						len ? "," : "",
						agent_perm_name(bit));
	return len ? buf : "-";
}

static void print_package(const struct agent *a, int shadowed)
{
	char perms[64];

	printf("%s%-*s %-9s %-7s %-22s %s\n", shadowed ? "  shadowed: " : "",
	       shadowed ? 8 : 20, shadowed ? "" : a->name, a->version,
	       agent_kind_name(a->kind),
	       perms_text(a->perms, perms, sizeof(perms)), a->dir);
}

static int catalog_list(struct cli *cli, int argc, char **argv)
{
	struct sutra_err err = {0};
	struct runtime *rt;

	if (cli_getopt(cli, argc, argv, "", NULL, NULL, NULL) < 0)
		return 2;
	if (!(rt = cli_runtime(cli, &err)))
		return cli_fail(&err);
	const struct catalog *cat = rt->catalog;
	cJSON *list = cli->json ? cJSON_CreateArray() : NULL;
	for (size_t i = 0; i < cat->n_agents; i++) {
		const struct agent *a = cat->agents[i];
		if (!list) {
			print_package(a, 0);
			for (const struct agent *s = a->shadowed; s; s = s->shadowed)
				print_package(s, 1);
			continue;
		}
		cJSON *o = package_json(a);
		cJSON *sh = cJSON_AddArrayToObject(o, "shadowed");
		for (const struct agent *s = a->shadowed; s; s = s->shadowed)
			cJSON_AddItemToArray(sh, package_json(s));
		cJSON_AddItemToArray(list, o);
	}
	if (list) {
		cli_print_json(list);
		cJSON_Delete(list);
	}
	return 0;
}

/* ---------------------------------------------------------- install */

static int force_option(struct cli *cli, void *ud, int c, const char *arg)
{
	(void)cli;
	(void)arg;
	if (c != 'f')
		return -1;
	*(int *)ud = 1;
	return 0;
}

static const struct option install_longs[] = {
	{"force", no_argument, NULL, 'f'},
	{0},
};

static void report_install(struct cli *cli, const struct pkg_result *res)
{
	if (cli->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "action", pkg_action_name(res->action));
		cJSON_AddStringToObject(o, "name", res->name);
		cJSON_AddStringToObject(o, "version", res->version);
		if (res->previous)
			cJSON_AddStringToObject(o, "previous", res->previous);
		else
			cJSON_AddNullToObject(o, "previous");
		cJSON_AddStringToObject(o, "path", res->dir);
		cli_print_json(o);
		cJSON_Delete(o);
	} else if (res->action == PKG_UNCHANGED) {
		printf("%s %s is already installed in %s\n", res->name,
		       res->version, res->dir);
	} else if (res->previous) {
		printf("%s %s %s -> %s in %s\n", pkg_action_name(res->action),
		       res->name, res->previous, res->version, res->dir);
	} else {
		printf("installed %s %s in %s\n", res->name, res->version,
		       res->dir);
	}
}

/* Warns when an earlier catalog directory hides what was installed. */
static void warn_shadowed(struct cli *cli, const struct pkg_result *res)
{
	struct sutra_err err = {0};
	struct runtime *rt = cli_runtime(cli, &err);
	const struct agent *a = rt ? catalog_find(rt->catalog, res->name) : NULL;

	if (a && strcmp(a->dir, res->dir) != 0)
		fprintf(stderr,
			"sutra: warning: '%s' in %s comes first in the catalog "
			"search path and shadows the installed package\n",
			res->name, a->dir);
}

static int catalog_install(struct cli *cli, int argc, char **argv)
{
	struct pkg_install_opts o = {
		.limits = {.max_bytes = PKG_MAX_BYTES,
			   .max_entries = PKG_MAX_ENTRIES},
	};
	struct pkg_result res;
	struct sutra_err err = {0};
	int first = cli_getopt(cli, argc, argv, "f", install_longs,
			       force_option, &o.force);
	char *dir;

	if (first < 0)
		return 2;
	if (argc - first != 1)
		return cli_usage("catalog", "'catalog install' takes one "
				 "package folder or tarball");
	if (!(dir = runtime_user_catalog())) {
		err_set(&err, SUTRA_ERUNTIME, "no user catalog: set "
			"XDG_DATA_HOME or HOME");
		return cli_fail(&err);
	}
	o.catalog_dir = dir;
	int rc = pkg_install(argv[first], &o, &res, &err);
	free(dir);
	if (rc < 0)
		return cli_fail(&err);
	report_install(cli, &res);
	warn_shadowed(cli, &res);
	pkg_result_free(&res);
	return 0;
}

/* ----------------------------------------------------------- remove */

static int catalog_remove(struct cli *cli, int argc, char **argv)
{
	struct sutra_err err = {0};
	int first = cli_getopt(cli, argc, argv, "", NULL, NULL, NULL);
	char *dir, *removed = NULL;

	if (first < 0)
		return 2;
	if (argc - first != 1)
		return cli_usage("catalog", "'catalog remove' takes one package "
				 "name");
	if (!(dir = runtime_user_catalog())) {
		err_set(&err, SUTRA_ERUNTIME, "no user catalog: set "
			"XDG_DATA_HOME or HOME");
		return cli_fail(&err);
	}
	if (pkg_remove(dir, argv[first], &removed, &err) < 0) {
		struct runtime *rt = cli_runtime(cli, NULL);
		const struct agent *a =
			rt ? catalog_find(rt->catalog, argv[first]) : NULL;
		if (err.code == SUTRA_ENOTFOUND && a) {
			err_clear(&err);
			err_set(&err, SUTRA_ENOTFOUND,
				"no package '%s' in the user catalog %s; the "
				"one in %s is not managed by sutra", argv[first],
				dir, a->dir);
		}
		free(dir);
		return cli_fail(&err);
	}
	printf("removed %s (%s)\n", argv[first], removed);
	free(removed);
	free(dir);
	return 0;
}

/* ----------------------------------------------------------- verify */

struct verify {
	cJSON *problems;   /* --json: [{path, agent, message}] */
	size_t n_checked, n_problems;
};

static void problem(struct verify *v, const char *path, const char *agent,
		    const char *msg)
{
	v->n_problems++;
	if (!v->problems) {
		printf("%s\n", msg);
		return;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "path", path);
	if (agent)
		cJSON_AddStringToObject(o, "agent", agent);
	else
		cJSON_AddNullToObject(o, "agent");
	cJSON_AddStringToObject(o, "message", msg);
	cJSON_AddItemToArray(v->problems, o);
}

static void verify_agent(struct verify *v, const struct agent *a)
{
	struct sutra_err err = {0};

	v->n_checked++;
	if (pkg_check(a, 0, &err) < 0)
		problem(v, a->dir, a->name, err.msg);
}

static int catalog_verify(struct cli *cli, int argc, char **argv)
{
	struct sutra_err err = {0};
	struct verify v = {0};
	struct runtime *rt;

	if (cli_getopt(cli, argc, argv, "", NULL, NULL, NULL) < 0)
		return 2;
	if (argc > 1)
		return cli_usage("catalog", "'catalog verify' takes no "
				 "arguments");
	if (!(rt = cli_runtime(cli, &err)))
		return cli_fail(&err);
	const struct catalog *cat = rt->catalog;
	v.problems = cli->json ? cJSON_CreateArray() : NULL;
	for (size_t i = 0; i < cat->n_problems; i++, v.n_checked++)
		problem(&v, cat->problems[i].dir, NULL, cat->problems[i].message);
	for (size_t i = 0; i < cat->n_agents; i++)
		for (const struct agent *a = cat->agents[i]; a; a = a->shadowed)
			verify_agent(&v, a);
	if (v.problems) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "checked", (double)v.n_checked);
		cJSON_AddItemToObject(o, "problems", v.problems);
		cli_print_json(o);
		cJSON_Delete(o);
	}
	fprintf(stderr, "sutra: %zu package%s checked, %zu problem%s\n",
		v.n_checked, v.n_checked == 1 ? "" : "s", v.n_problems,
		v.n_problems == 1 ? "" : "s");
	return v.n_problems ? 1 : 0;
}

/* ------------------------------------------------------------- lock */

static int load_chains(struct runtime *rt, char **files, size_t n,
		       struct chain **chains, struct sutra_err *err)
{
	expr_set_lua_dir(rt->lua_dir);
	for (size_t i = 0; i < n; i++) {
		struct chain_diag diag;
		if (chain_load(files[i], rt->catalog, &chains[i], &diag,
			       err) < 0) {
			for (int j = 0; j < diag.n; j++)
				fprintf(stderr, "%s\n", diag.msgs[j]);
			chain_diag_free(&diag);
			return -1;
		}
	}
	return 0;
}

static int lock_chains(struct cli *cli, char **files, size_t n)
{
	struct sutra_err err = {0};
	struct runtime *rt = cli_runtime(cli, &err);
	struct chain **chains = calloc(n ? n : 1, sizeof(*chains));
	size_t n_agents = 0;
	int rc = -1;

	if (!chains)
		err_set(&err, SUTRA_ENOMEM, "out of memory");
	else if (rt && load_chains(rt, files, n, chains, &err) == 0)
		rc = lockfile_write(LOCKFILE_NAME, chains, n, &n_agents, &err);
	for (size_t i = 0; chains && i < n; i++)
		chain_free(chains[i]);
	free(chains);
	if (rc < 0)
		return cli_fail(&err);
	if (cli->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "lock", LOCKFILE_NAME);
		cJSON_AddNumberToObject(o, "agents", (double)n_agents);
		cJSON_AddNumberToObject(o, "chains", (double)n);
		cli_print_json(o);
		cJSON_Delete(o);
	} else {
		printf("locked %zu agent%s of %zu chain%s in %s\n", n_agents,
		       n_agents == 1 ? "" : "s", n, n == 1 ? "" : "s",
		       LOCKFILE_NAME);
	}
	return 0;
}

static int catalog_lock(struct cli *cli, int argc, char **argv)
{
	int first = cli_getopt(cli, argc, argv, "", NULL, NULL, NULL);
	glob_t g = {0};
	int rc;

	if (first < 0)
		return 2;
	if (argc > first)
		return lock_chains(cli, argv + first, (size_t)(argc - first));
	if (glob("chains/*.yaml", 0, NULL, &g) != 0) {
		globfree(&g);
		return cli_usage("catalog", "'catalog lock': no chain files "
				 "given and none in chains/*.yaml");
	}
	rc = lock_chains(cli, g.gl_pathv, g.gl_pathc);
	globfree(&g);
	return rc;
}

static const struct cli_subcommand catalog_subs[] = {
	{"list", catalog_list},
	{"install", catalog_install},
	{"remove", catalog_remove},
	{"verify", catalog_verify},
	{"lock", catalog_lock},
	{0},
};

int cmd_catalog(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, "catalog", catalog_subs, argc, argv);
}
