/* isolation.c - see isolation.h. */
#include "isolation.h"

#include <string.h>

/* The caps of sutra.yaml's lua section; 0: none. */
struct caps {
	int64_t instructions;
	uint64_t memory_bytes;
};

static int cap_value(const cJSON *lua, const char *key, const char *file,
		     double *out, struct sutra_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(lua, key);

	*out = 0;
	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < 1 ||
	    v->valuedouble != (double)(int64_t)v->valuedouble)
		return err_set(err, SUTRA_EUSAGE,
			       "%s: lua.%s must be a positive whole number",
			       file, key);
	*out = v->valuedouble;
	return 0;
}

static int read_caps(const struct config *cfg, struct caps *caps,
		     struct sutra_err *err)
{
	const cJSON *lua = config_section(cfg, "lua");
	const char *file = cfg && cfg->path ? cfg->path : "sutra.yaml";
	double instr, mb;

	if (cap_value(lua, "max_instructions", file, &instr, err) < 0 ||
	    cap_value(lua, "max_memory_mb", file, &mb, err) < 0)
		return -1;
	caps->instructions = (int64_t)instr;
	caps->memory_bytes = (uint64_t)mb << 20;
	return 0;
}

/* One entry of sutra.yaml's packages section. */
static int apply_package(struct agent *a, const cJSON *pkg, const char *file,
			 struct sutra_err *err)
{
	const cJSON *iso = cJSON_GetObjectItemCaseSensitive(pkg, "isolation");
	const cJSON *lim = cJSON_GetObjectItemCaseSensitive(pkg, "limits");
	const char *name = cJSON_GetStringValue(iso);

	if (iso && (!name || (strcmp(name, "none") && strcmp(name, "process"))))
		return err_set(err, SUTRA_EUSAGE, "%s: packages.%s.isolation "
			       "must be none or process", file, a->name);
	if (name && strcmp(name, "process") == 0 && a->kind != AGENT_PLUGIN)
		return err_set(err, SUTRA_EUSAGE, "%s: packages.%s.isolation: "
			       "'%s' is a Lua agent; process isolation is for "
			       "plugins (give it limits)", file, a->name,
			       a->name);
	if (name)
		a->isolation = strcmp(name, "process") == 0 ? ISOLATION_PROCESS
							    : ISOLATION_NONE;
	if (lim && !cJSON_IsNull(lim)) {
		if (agent_limits_parse(lim, &a->limits, err) < 0) {
			err_prefix(err, "%s: packages.%s", file, a->name);
			return -1;
		}
		a->limited = 1;
	}
	return 0;
}

static int apply_packages(struct catalog *cat, const struct config *cfg,
			  struct sutra_err *err)
{
	const cJSON *pkgs = config_section(cfg, "packages");
	const char *file = cfg && cfg->path ? cfg->path : "sutra.yaml";
	const cJSON *p;

	if (pkgs && !cJSON_IsObject(pkgs) && !cJSON_IsNull(pkgs))
		return err_set(err, SUTRA_EUSAGE,
			       "%s: packages must be a mapping of package "
			       "names", file);
	cJSON_ArrayForEach(p, pkgs) {
		struct agent *a = catalog_find(cat, p->string);
		if (!a || !cJSON_IsObject(p))
			continue;   /* not installed here, or not ours */
		if (apply_package(a, p, file, err) < 0)
			return -1;
	}
	return 0;
}

static int64_t clamp64(int64_t v, int64_t cap)
{
	return cap && v > cap ? cap : v;
}

static void settle(struct agent *a, const struct caps *caps,
		   const char *user_catalog)
{
	if (user_catalog && a->root && strcmp(a->root, user_catalog) == 0)
		a->limited = 1;
	if (a->kind == AGENT_PLUGIN) {
		if (!a->limits.memory_bytes)
			a->limits.memory_bytes =
				(uint64_t)ISOLATION_PLUGIN_MEMORY_MB << 20;
		return;
	}
	if (!a->limited)
		return;
	if (!a->limits.instructions)
		a->limits.instructions = ISOLATION_LUA_INSTRUCTIONS;
	if (!a->limits.memory_bytes)
		a->limits.memory_bytes = (uint64_t)ISOLATION_LUA_MEMORY_MB
					 << 20;
	a->limits.instructions = clamp64(a->limits.instructions,
					 caps->instructions);
	a->limits.memory_bytes = (uint64_t)clamp64(
		(int64_t)a->limits.memory_bytes, (int64_t)caps->memory_bytes);
}

int isolation_apply(struct catalog *cat, const struct config *cfg,
		    const char *user_catalog, struct sutra_err *err)
{
	struct caps caps;

	if (read_caps(cfg, &caps, err) < 0 || apply_packages(cat, cfg, err) < 0)
		return -1;
	for (size_t i = 0; i < cat->n_agents; i++)
		for (struct agent *a = cat->agents[i]; a; a = a->shadowed)
			settle(a, &caps, user_catalog);
	return 0;
}
