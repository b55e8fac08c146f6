/* catalog.c - see catalog.h. */
#include "catalog.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "util.h"
#include "ydoc.h"

static const struct {
	const char *name;
	unsigned bit;
} perm_table[] = {
	{"memory", PERM_MEMORY}, {"llm", PERM_LLM}, {"sandbox", PERM_SANDBOX},
	{"http", PERM_HTTP}, {"call", PERM_CALL},
};

static const char *const kind_names[] = {
	[AGENT_LUA] = "lua", [AGENT_PLUGIN] = "plugin",
};

/* Manifest keys this version understands; others draw a warning. */
static const char *const manifest_keys[] = {
	"name", "version", "kind", "entry", "description", "permissions",
	"sha256", "input", "output", "isolation", "hosts", "limits", "agent",
	"author", "license", "homepage", "tags", NULL,
};

const char *agent_perm_name(unsigned perm)
{
	for (size_t i = 0; i < sizeof(perm_table) / sizeof(*perm_table); i++)
		if (perm_table[i].bit == perm)
			return perm_table[i].name;
	return "unknown";
}

cJSON *agent_perms_json(unsigned perms)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; arr && i < sizeof(perm_table) / sizeof(*perm_table);
	     i++)
		if (perms & perm_table[i].bit)
			cJSON_AddItemToArray(
				arr, cJSON_CreateString(perm_table[i].name));
	return arr;
}

cJSON *agent_entry_json(const struct agent *a)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "name", a->name);
	cJSON_AddStringToObject(o, "version", a->version);
	cJSON_AddStringToObject(o, "kind", agent_kind_name(a->kind));
	cJSON_AddItemToObject(o, "permissions", agent_perms_json(a->perms));
	cJSON_AddStringToObject(o, "description", a->description);
	cJSON_AddStringToObject(o, "path", a->dir);
	return o;
}

const char *agent_kind_name(enum agent_kind kind)
{
	return kind_names[kind];
}

static const char *const isolation_names[] = {
	[ISOLATION_NONE] = "none", [ISOLATION_PROCESS] = "process",
};

const char *agent_isolation_name(enum agent_isolation iso)
{
	return isolation_names[iso];
}

/* A positive whole number no larger than max, or -1. */
static int64_t positive(const cJSON *v, double max)
{
	if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > max ||
	    v->valuedouble != (double)(int64_t)v->valuedouble)
		return -1;
	return (int64_t)v->valuedouble;
}

int agent_limits_parse(const cJSON *obj, struct agent_limits *limits,
		       struct sutra_err *err)
{
	const cJSON *f;

	if (!cJSON_IsObject(obj))
		return err_set(err, SUTRA_EUSAGE,
			       "'limits' must be a mapping of instructions "
			       "and memory_mb");
	cJSON_ArrayForEach(f, obj) {
		int64_t n;
		if (strcmp(f->string, "instructions") == 0 &&
		    (n = positive(f, 1e15)) > 0)
			limits->instructions = n;
		else if (strcmp(f->string, "memory_mb") == 0 &&
			 (n = positive(f, 1 << 20)) > 0)
			limits->memory_bytes = (uint64_t)n << 20;
		else if (strcmp(f->string, "instructions") == 0 ||
			 strcmp(f->string, "memory_mb") == 0)
			return err_set(err, SUTRA_EUSAGE,
				       "limit '%s' must be a positive whole "
				       "number", f->string);
		else
			return err_set(err, SUTRA_EUSAGE,
				       "unknown limit '%s' (expected "
				       "instructions or memory_mb)", f->string);
	}
	return 0;
}

void agent_entry_free(struct agent *a)
{
	while (a) {
		struct agent *next = a->shadowed;
		agent_unload(a);
		free(a->name);
		free(a->version);
		free(a->description);
		free(a->dir);
		free(a->manifest_path);
		free(a->entry_path);
		free(a->sha256);
		free(a->root);
		cJSON_Delete(a->manifest);
		pthread_mutex_destroy(&a->load_lock);
		free(a);
		a = next;
	}
}

static int valid_name(const char *s)
{
	if (!s || !(*s >= 'a' && *s <= 'z'))
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-.") == strlen(s) &&
	       strlen(s) <= 64;
}

static int valid_entry(const char *s)
{
	return s && *s && *s != '/' && !strstr(s, "..") && !strchr(s, '\n');
}

static int valid_sha256(const char *s)
{
	return s && strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

/* Field access that reports the field's position on error. */
struct mf {
	struct ydoc *doc;
	yaml_node_t *root;
	struct sutra_err *err;
};

static const char *req_string(struct mf *m, const char *key, const cJSON *json)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(json, key);
	yaml_node_t *node = ydoc_map_get(m->doc, m->root, key);

	if (!v) {
		ydoc_error(m->doc, m->root, m->err, SUTRA_EUSAGE,
			   "missing field '%s'", key);
		return NULL;
	}
	if (!cJSON_IsString(v)) {
		ydoc_error(m->doc, node, m->err, SUTRA_EUSAGE,
			   "field '%s' must be a string", key);
		return NULL;
	}
	return v->valuestring;
}

static int parse_perms(struct mf *m, const cJSON *json, unsigned *perms)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(json, "permissions");
	yaml_node_t *node = ydoc_map_get(m->doc, m->root, "permissions");
	const cJSON *p;

	*perms = 0;
	if (!list || cJSON_IsNull(list))
		return 0;
	if (!cJSON_IsArray(list))
		return ydoc_error(m->doc, node, m->err, SUTRA_EUSAGE,
				  "field 'permissions' must be a list");
	cJSON_ArrayForEach(p, list) {
		unsigned bit = 0;
		for (size_t i = 0; i < sizeof(perm_table) / sizeof(*perm_table);
		     i++)
			if (cJSON_IsString(p) &&
			    strcmp(p->valuestring, perm_table[i].name) == 0)
				bit = perm_table[i].bit;
		if (!bit)
			return ydoc_error(
				m->doc, node, m->err, SUTRA_EUSAGE,
				"unknown permission '%s' (expected memory, "
				"llm, sandbox, http or call)",
				cJSON_IsString(p) ? p->valuestring : "?");
		*perms |= bit;
	}
	return 0;
}

/* isolation: none | process (plugins only); limits: {...}. */
static int parse_isolation(struct mf *m, struct agent *a, const cJSON *json)
{
	const cJSON *iso = cJSON_GetObjectItemCaseSensitive(json, "isolation");
	const cJSON *lim = cJSON_GetObjectItemCaseSensitive(json, "limits");
	yaml_node_t *node = ydoc_map_get(m->doc, m->root, "isolation");
	const char *name = cJSON_GetStringValue(iso);

	if (iso && (!name || (strcmp(name, "none") && strcmp(name, "process"))))
		return ydoc_error(m->doc, node, m->err, SUTRA_EUSAGE,
				  "field 'isolation' must be none or process");
	if (name && strcmp(name, "process") == 0 && a->kind != AGENT_PLUGIN)
		return ydoc_error(m->doc, node, m->err, SUTRA_EUSAGE,
				  "isolation 'process' is for plugins (Lua "
				  "agents take 'limits')");
	a->isolation = name && strcmp(name, "process") == 0
			       ? ISOLATION_PROCESS : ISOLATION_NONE;
	if (!lim || cJSON_IsNull(lim))
		return 0;
	struct sutra_err e = {0};
	if (agent_limits_parse(lim, &a->limits, &e) < 0)
		return ydoc_error(m->doc, ydoc_map_get(m->doc, m->root, "limits"),
				  m->err, e.code, "%s", e.msg);
	a->limited = 1;
	return 0;
}

static void warn_unknown_keys(struct mf *m, const cJSON *json)
{
	const cJSON *f;

	cJSON_ArrayForEach(f, json) {
		int known = 0;
		for (const char *const *k = manifest_keys; *k; k++)
			known |= strcmp(*k, f->string) == 0;
		if (!known) {
			yaml_node_t *n = ydoc_map_get(m->doc, m->root, f->string);
			log_printf(LOG_WARN, "%s:%d:%d: unknown field '%s'",
				   m->doc->path, ydoc_line(n), ydoc_col(n),
				   f->string);
		}
	}
}

static int fill_agent(struct agent *a, struct mf *m, cJSON *json)
{
	const char *name, *version, *kind, *entry, *sha;
	const cJSON *desc;

	/* `version: 1.0` reads as a number in YAML: take its text. */
	const cJSON *vnum = cJSON_GetObjectItemCaseSensitive(json, "version");
	if (cJSON_IsNumber(vnum)) {
		const char *text = ydoc_scalar(ydoc_map_get(m->doc, m->root, "version"));
		cJSON_ReplaceItemInObjectCaseSensitive(json, "version",
			cJSON_CreateString(text ? text : "0"));
	}
	if (!(name = req_string(m, "name", json)) ||
	    !(version = req_string(m, "version", json)) ||
	    !(kind = req_string(m, "kind", json)) ||
	    !(entry = req_string(m, "entry", json)))
		return -1;
	if (!valid_name(name))
		return ydoc_error(m->doc, ydoc_map_get(m->doc, m->root, "name"),
				  m->err, SUTRA_EUSAGE,
				  "invalid name '%s' (lowercase letters, "
				  "digits, '_', '-', '.')", name);
	if (strcmp(kind, "lua") == 0)
		a->kind = AGENT_LUA;
	else if (strcmp(kind, "plugin") == 0)
		a->kind = AGENT_PLUGIN;
	else
		return ydoc_error(m->doc, ydoc_map_get(m->doc, m->root, "kind"),
				  m->err, SUTRA_EUSAGE,
				  "unknown kind '%s' (expected lua or plugin)",
				  kind);
	if (!valid_entry(entry))
		return ydoc_error(m->doc, ydoc_map_get(m->doc, m->root, "entry"),
				  m->err, SUTRA_EUSAGE,
				  "entry '%s' must be a relative path inside "
				  "the package", entry);
	sha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(json, "sha256"));
	if (cJSON_GetObjectItemCaseSensitive(json, "sha256") && !valid_sha256(sha))
		return ydoc_error(m->doc,
				  ydoc_map_get(m->doc, m->root, "sha256"),
				  m->err, SUTRA_EUSAGE,
				  "field 'sha256' must be 64 lowercase hex "
				  "digits");
	if (parse_perms(m, json, &a->perms) < 0 ||
	    parse_isolation(m, a, json) < 0)
		return -1;
	desc = cJSON_GetObjectItemCaseSensitive(json, "description");
	a->name = strdup(name);
	a->version = strdup(version);
	a->description = strdup(cJSON_IsString(desc) ? desc->valuestring : "");
	a->entry_path = path_join(a->dir, entry);
	a->sha256 = sha ? strdup(sha) : NULL;
	if (!a->name || !a->version || !a->description || !a->entry_path ||
	    (sha && !a->sha256))
		return err_set(m->err, SUTRA_ENOMEM, "out of memory");
	a->input_schema = cJSON_GetObjectItemCaseSensitive(json, "input");
	a->output_schema = cJSON_GetObjectItemCaseSensitive(json, "output");
	warn_unknown_keys(m, json);
	return 0;
}

int catalog_read_package(const char *dir, const char *root,
			 struct agent **out, struct sutra_err *err)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct ydoc *doc = NULL;
	struct mf m = {.err = err};

	*out = NULL;
	if (!a)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	pthread_mutex_init(&a->load_lock, NULL);
	a->dir = strdup(dir);
	a->root = strdup(root ? root : "");
	a->manifest_path = path_join(dir, "agent.yaml");
	if (!a->dir || !a->root || !a->manifest_path) {
		err_set(err, SUTRA_ENOMEM, "out of memory");
		goto fail;
	}
	if (ydoc_load_file(a->manifest_path, &doc, err) < 0)
		goto fail;
	m.doc = doc;
	m.root = ydoc_root(doc);
	if (!m.root || m.root->type != YAML_MAPPING_NODE) {
		ydoc_error(doc, m.root, err, SUTRA_EUSAGE,
			   "manifest must be a mapping");
		goto fail;
	}
	if (!(a->manifest = ydoc_to_json(doc, m.root, err)) ||
	    fill_agent(a, &m, a->manifest) < 0)
		goto fail;
	ydoc_free(doc);
	*out = a;
	return 0;
fail:
	ydoc_free(doc);
	agent_entry_free(a);
	return -1;
}

struct builder {
	struct catalog *cat;
	size_t cap_agents, cap_problems;
};

static int add_problem(struct builder *b, const char *dir, const char *msg)
{
	struct catalog *cat = b->cat;

	if (cat->n_problems == b->cap_problems) {
		size_t cap = b->cap_problems ? b->cap_problems * 2 : 8;
		void *np = realloc(cat->problems, cap * sizeof(*cat->problems));
		if (!np)
			return -1;
		cat->problems = np;
		b->cap_problems = cap;
	}
	struct catalog_problem *p = &cat->problems[cat->n_problems];
	p->dir = strdup(dir);
	p->message = strdup(msg);
	if (!p->dir || !p->message) {
		free(p->dir);
		free(p->message);
		return -1;
	}
	cat->n_problems++;
	log_printf(LOG_WARN, "skipping package: %s", msg);
	return 0;
}

static struct agent **find_slot(struct catalog *cat, const char *name)
{
	for (size_t i = 0; i < cat->n_agents; i++)
		if (strcmp(cat->agents[i]->name, name) == 0)
			return &cat->agents[i];
	return NULL;
}

static int add_agent(struct builder *b, struct agent *a)
{
	struct catalog *cat = b->cat;
	struct agent **slot = find_slot(cat, a->name);

	if (slot) {
		struct agent *first = *slot;
		log_printf(LOG_WARN,
			   "agent '%s' in '%s' is shadowed by '%s' (first in "
			   "the catalog path wins)",
			   a->name, a->dir, first->dir);
		while (first->shadowed)
			first = first->shadowed;
		first->shadowed = a;
		return 0;
	}
	if (cat->n_agents == b->cap_agents) {
		size_t cap = b->cap_agents ? b->cap_agents * 2 : 16;
		void *na = realloc(cat->agents, cap * sizeof(*cat->agents));
		if (!na)
			return -1;
		cat->agents = na;
		b->cap_agents = cap;
	}
	cat->agents[cat->n_agents++] = a;
	return 0;
}

static int compare_names(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static int is_dir(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Scans one catalog directory; packages in name order for stable output. */
static int scan_dir(struct builder *b, const char *root)
{
	DIR *d = opendir(root);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (!d)
		return 0;   /* a missing catalog directory is not an error */
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			char **nn = realloc(names, cap * sizeof(*names));
			if (!nn) {
				rc = -1;
				goto out;
			}
			names = nn;
		}
		if (!(names[n] = strdup(de->d_name))) {
			rc = -1;
			goto out;
		}
		n++;
	}
	if (n > 1)   /* names is NULL for an empty directory */
		qsort(names, n, sizeof(*names), compare_names);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *dir = path_join(root, names[i]);
		char *manifest = dir ? path_join(dir, "agent.yaml") : NULL;
		struct sutra_err err = {0};
		struct agent *a;
		if (!manifest)
			rc = -1;
		else if (!is_dir(dir) || access(manifest, F_OK) != 0)
			; /* not a package folder */
		else if (catalog_read_package(dir, root, &a, &err) == 0)
			rc = add_agent(b, a);
		else if (err.code == SUTRA_ENOMEM)
			rc = -1;
		else
			rc = add_problem(b, dir, err.msg);
		free(manifest);
		free(dir);
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

static int compare_agents(const void *x, const void *y)
{
	const struct agent *a = *(struct agent *const *)x;
	const struct agent *b = *(struct agent *const *)y;

	return strcmp(a->name, b->name);
}

/* Whether paths[i] names the same directory as an earlier entry, so a
 * directory listed twice (say in SUTRA_CATALOG_PATH and as ./catalog)
 * does not shadow itself. */
static int seen_before(char *const *paths, size_t i)
{
	struct stat a, b;

	if (stat(paths[i], &a) != 0)
		return 0;
	for (size_t j = 0; j < i; j++)
		if (stat(paths[j], &b) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino)
			return 1;
	return 0;
}

int catalog_load(char *const *paths, size_t n_paths, struct catalog **out,
		 struct sutra_err *err)
{
	struct builder b = {0};

	*out = NULL;
	if (!(b.cat = calloc(1, sizeof(*b.cat))))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	b.cat->paths = calloc(n_paths + 1, sizeof(char *));
	if (!b.cat->paths)
		goto nomem;
	for (size_t i = 0; i < n_paths; i++) {
		if (seen_before(paths, i))
			continue;
		if (!(b.cat->paths[b.cat->n_paths] = strdup(paths[i])))
			goto nomem;
		b.cat->n_paths++;
		if (scan_dir(&b, paths[i]) < 0)
			goto nomem;
	}
	if (b.cat->n_agents)   /* agents is NULL for an empty catalog */
		qsort(b.cat->agents, b.cat->n_agents, sizeof(*b.cat->agents),
		      compare_agents);
	*out = b.cat;
	return 0;
nomem:
	catalog_free(b.cat);
	return err_set(err, SUTRA_ENOMEM, "out of memory");
}

void catalog_free(struct catalog *cat)
{
	if (!cat)
		return;
	for (size_t i = 0; i < cat->n_agents; i++)
		agent_entry_free(cat->agents[i]);
	for (size_t i = 0; i < cat->n_problems; i++) {
		free(cat->problems[i].dir);
		free(cat->problems[i].message);
	}
	for (size_t i = 0; i < cat->n_paths; i++)
		free(cat->paths[i]);
	free(cat->paths);
	free(cat->problems);
	free(cat->agents);
	free(cat);
}

struct agent *catalog_find(const struct catalog *cat, const char *name)
{
	size_t lo = 0, hi = cat->n_agents;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, cat->agents[mid]->name);
		if (c == 0)
			return cat->agents[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int catalog_not_found(const struct catalog *cat, const char *name,
		      struct sutra_err *err)
{
	for (size_t i = 0; i < cat->n_problems; i++) {
		const char *base = strrchr(cat->problems[i].dir, '/');
		base = base ? base + 1 : cat->problems[i].dir;
		if (strcmp(base, name) == 0)
			return err_set(err, SUTRA_ENOTFOUND,
				       "agent '%s' is not available: %s", name,
				       cat->problems[i].message);
	}
	return err_set(err, SUTRA_ENOTFOUND,
		       "agent '%s' not found in catalog", name);
}
