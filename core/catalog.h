/*
 * catalog.h - agent packages found on the catalog search path (SPEC §2, §6).
 *
 * A catalog directory holds one folder per package, each with an
 * agent.yaml manifest.  catalog_load scans the search path in order: the
 * first package of a name wins and later ones are kept as shadowed
 * duplicates (with a warning).  A package whose manifest is broken is
 * recorded as a problem naming the file and field, and skipped; the others
 * load.  Manifests are read at load; entry files are checked (sha256) and
 * loaded only when an agent is first used (agent.h).
 */
#ifndef SUTRA_CATALOG_H
#define SUTRA_CATALOG_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdint.h>

#include "err.h"

enum agent_kind { AGENT_LUA, AGENT_PLUGIN };

/* Where a plugin's agents run: in sutra's process, or each in a
 * sandboxed child process of its own (core/plugproc.h). */
enum agent_isolation { ISOLATION_NONE, ISOLATION_PROCESS };

/*
 * Resource limits of one agent call (manifest `limits`, within the caps of
 * sutra.yaml; core/isolation.h settles them).  0 means no limit.  For Lua
 * agents both apply to each call; for isolated plugins memory_bytes is the
 * child process's address space.
 */
struct agent_limits {
	int64_t instructions;      /* Lua VM instructions per call */
	uint64_t memory_bytes;     /* bytes */
};

/* Permissions a manifest grants (SPEC §6). */
enum agent_perm {
	PERM_MEMORY = 1 << 0,
	PERM_LLM = 1 << 1,
	PERM_SANDBOX = 1 << 2,
	PERM_HTTP = 1 << 3,
	PERM_CALL = 1 << 4,
};

/* One agent package.  Owned by its catalog; read-only after load except
 * for the lazily loaded part, which agent.c guards with load_lock. */
struct agent {
	char *name;
	char *version;
	char *description;
	char *dir;            /* the package folder */
	char *manifest_path;  /* DIR/agent.yaml */
	char *entry_path;     /* DIR/ENTRY */
	char *sha256;         /* from the manifest, or NULL (unpinned) */
	char *root;           /* the catalog directory it came from */
	enum agent_kind kind;
	unsigned perms;       /* enum agent_perm bits */
	cJSON *manifest;      /* the whole manifest as JSON */
	const cJSON *input_schema;   /* borrowed from manifest, or NULL */
	const cJSON *output_schema;  /* borrowed from manifest, or NULL */
	enum agent_isolation isolation;  /* manifest, or forced by sutra.yaml */
	struct agent_limits limits;      /* what the manifest asks for;
					    isolation_apply settles them */
	int limited;                     /* the limits apply (user catalog,
					    or the manifest has `limits`) */
	struct agent *shadowed;      /* same name later in the path */

	/* Loaded on first use (agent.c). */
	pthread_mutex_t load_lock;
	int load_state;              /* 0 not yet, 1 ready, -1 failed */
	struct sutra_err load_err;   /* why it failed */
	void *loaded;                /* kind-specific: plugin or source */
};

/* A package that failed its checks. */
struct catalog_problem {
	char *dir;      /* the package folder */
	char *message;  /* "FILE:LINE:COL: ..." or "FILE: ..." */
};

struct catalog {
	struct agent **agents;   /* sorted by name */
	size_t n_agents;
	struct catalog_problem *problems;
	size_t n_problems;
	char **paths;            /* the search path scanned */
	size_t n_paths;
};

/*
 * Scans the directories in paths (missing ones are skipped) and returns a
 * new catalog (caller frees with catalog_free).  Fails only when out of
 * memory: package problems are recorded, not fatal.
 */
int catalog_load(char *const *paths, size_t n_paths, struct catalog **out,
		 struct sutra_err *err);
void catalog_free(struct catalog *cat);

/* The agent called name, or NULL.  Borrowed from cat. */
struct agent *catalog_find(const struct catalog *cat, const char *name);

/*
 * Sets err for an agent that is not in the catalog: mentions a broken
 * package of that name when there is one.  Returns -1.
 */
int catalog_not_found(const struct catalog *cat, const char *name,
		      struct sutra_err *err);

/*
 * Reads one package folder's manifest into a new agent (caller frees with
 * agent_entry_free).  Used by catalog_load and by `catalog install`.
 */
int catalog_read_package(const char *dir, const char *root,
			 struct agent **out, struct sutra_err *err);
void agent_entry_free(struct agent *a);

/* "memory", "llm", ... for one permission bit; names joined for a set. */
const char *agent_perm_name(unsigned perm);
/* A new JSON array of the permission names in perms. */
cJSON *agent_perms_json(unsigned perms);
const char *agent_kind_name(enum agent_kind kind);
/* An agent's listing as a new JSON object: name, version, kind,
 * permissions, description, path (what `agent list` and `catalog list`
 * share; each adds its own fields). */
cJSON *agent_entry_json(const struct agent *a);
/* "none" or "process". */
const char *agent_isolation_name(enum agent_isolation iso);

/*
 * Parses a limits object ({instructions: N, memory_mb: M}) over *limits.
 * Unknown keys and values that are not positive numbers fail with a
 * message naming the key (the caller adds where it was).
 */
int agent_limits_parse(const cJSON *obj, struct agent_limits *limits,
		       struct sutra_err *err);

#endif
