/*
 * isolation-bench - what confinement costs, as JSON lines:
 *   isolation.plugin_call   per-call time of a trivial plugin agent in
 *                           sutra's process and in its own sandboxed
 *                           process (one pipe round trip), and the
 *                           difference (target: at most 50 us)
 *   isolation.plugin_memory per-call time of a plugin agent that reads
 *                           and writes session memory (two proxied host
 *                           calls more)
 *   isolation.plugin_start  starting the child and loading the plugin
 *   isolation.lua_call      a trivial Lua agent with and without limits
 *                           (the counting allocator and count hook)
 * Run by `make bench`; argv[1] is the sutra binary, beside which the
 * plugin host lives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "memory.h"
#include "runtime.h"
#include "util.h"

static void die(const struct sutra_err *err)
{
	fprintf(stderr, "isolation-bench: %s\n", err->msg);
	exit(1);
}

static struct state *bench_state(void *ud, struct sutra_err *err)
{
	return runtime_state(ud, err);
}

static int compare_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Median ns per call of agent name over 7 rounds of n calls. */
static double per_call_ns(struct runtime *rt, const char *name, int n)
{
	struct agent *a = catalog_find(rt->catalog, name);
	struct sutra_err err = {0};
	cJSON *input = cJSON_CreateObject(), *out;
	struct memtx *tx = memtx_new("bench", bench_state, rt);
	struct agent_ctx ctx = {.rt = rt, .session = "bench", .attempt = 1,
				.mem = tx};
	int64_t rounds[7];

	if (!a) {
		err_set(&err, SUTRA_ENOTFOUND, "agent '%s' missing", name);
		die(&err);
	}
	for (int r = 0; r < 7; r++) {
		int64_t t0 = now_ns();
		for (int i = 0; i < n; i++) {
			if (agent_invoke(a, input, &ctx, &out, &err) < 0)
				die(&err);
			cJSON_Delete(out);
		}
		rounds[r] = now_ns() - t0;
	}
	memtx_free(tx);
	cJSON_Delete(input);
	qsort(rounds, 7, sizeof(*rounds), compare_i64);
	return (double)rounds[3] / n;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "w")) || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* A package NAME in catalog root from a test plugin. */
static void plugin_package(const char *root, const char *name, const char *so,
			   const char *agent, const char *extra)
{
	char dir[4096], cmd[8192], yaml[1024];

	snprintf(dir, sizeof(dir), "%s/%s", root, name);
	mkdir(dir, 0755);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s/p.so' && chmod 755 '%s/p.so'",
		 so, dir, dir);
	if (system(cmd) != 0)
		exit(1);
	snprintf(yaml, sizeof(yaml),
		 "name: %s\nversion: 1.0.0\nkind: plugin\nentry: p.so\n"
		 "agent: %s\n%s", name, agent, extra);
	write_file(dir, "agent.yaml", yaml);
}

static void lua_package(const char *root, const char *name, const char *extra)
{
	char dir[4096], yaml[512];

	snprintf(dir, sizeof(dir), "%s/%s", root, name);
	mkdir(dir, 0755);
	write_file(dir, "agent.lua",
		   "return { run = function(input) return input end }\n");
	snprintf(yaml, sizeof(yaml), "name: %s\nversion: 1.0.0\nkind: lua\n"
		 "entry: agent.lua\n%s", name, extra);
	write_file(dir, "agent.yaml", yaml);
}

static void make_catalog(const char *root, const char *build)
{
	char good[4096], plain[4096];

	snprintf(good, sizeof(good), "%s/t/plugins/good.so", build);
	snprintf(plain, sizeof(plain), "%s/t/plugins/plain.so", build);
	plugin_package(root, "inproc", good, "plug-noop", "");
	plugin_package(root, "isolated", plain, "plug-noop",
		       "isolation: process\n");
	plugin_package(root, "inproc-mem", good, "plug-counter",
		       "permissions: [memory]\n");
	plugin_package(root, "isolated-mem", plain, "plug-counter",
		       "permissions: [memory]\nisolation: process\n");
	plugin_package(root, "isolated-start", plain, "plug-noop",
		       "isolation: process\n");
	lua_package(root, "lua-free", "");
	lua_package(root, "lua-limited",
		    "limits: {instructions: 100000000, memory_mb: 64}\n");
}

static void start_cost(struct runtime *rt)
{
	struct agent *a = catalog_find(rt->catalog, "isolated-start");
	struct sutra_err err = {0};
	int64_t t0 = now_ns();

	if (agent_load(a, &err) < 0)
		die(&err);
	printf("{\"bench\":\"isolation.plugin_start\",\"ms\":%.2f}\n",
	       (double)(now_ns() - t0) / 1e6);
}

static void pair(struct runtime *rt, const char *bench, const char *a,
		 const char *b, const char *an, const char *bn, int n)
{
	double x = per_call_ns(rt, a, n) / 1000;
	double y = per_call_ns(rt, b, n) / 1000;

	printf("{\"bench\":\"%s\",\"%s_us\":%.2f,\"%s_us\":%.2f,"
	       "\"overhead_us\":%.2f%s}\n", bench, an, x, bn, y, y - x,
	       strcmp(bench, "isolation.plugin_call") == 0
		       ? ",\"target_us\":50" : "");
}

int main(int argc, char **argv)
{
	const char *build = getenv("SUTRA_BUILDDIR");
	char root[] = "/tmp/sutra-isobench.XXXXXX", host[4096];
	char *catalogs[1] = {root}, db[4200];
	struct runtime_options opts = {.catalogs = catalogs, .n_catalogs = 1,
				       .db_path = db};
	struct sutra_err err = {0};
	struct runtime *rt;

	if (argc < 2 || !build || !mkdtemp(root)) {
		fprintf(stderr, "usage: isolation-bench SUTRA\n");
		return 2;
	}
	snprintf(host, sizeof(host), "%s", argv[1]);
	if (strrchr(host, '/'))
		strcpy(strrchr(host, '/') + 1, "sutra-plugin-host");
	setenv("SUTRA_PLUGIN_HOST", host, 0);
	make_catalog(root, build);
	snprintf(db, sizeof(db), "%s/state.db", root);
	if (runtime_open(&opts, &rt, &err) < 0)
		die(&err);
	start_cost(rt);
	pair(rt, "isolation.plugin_call", "inproc", "isolated", "in_process",
	     "isolated", 2000);
	pair(rt, "isolation.plugin_memory", "inproc-mem", "isolated-mem",
	     "in_process", "isolated", 2000);
	pair(rt, "isolation.lua_call", "lua-free", "lua-limited", "unlimited",
	     "limited", 20000);
	runtime_close(rt);
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : 1;
}
