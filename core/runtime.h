/*
 * runtime.h - the process-wide runtime: configuration, catalog, state
 * database and the effect providers (LLM, sandbox, HTTP) agents reach.
 *
 * One runtime per process, shared by every thread.  The catalog and the
 * configuration are read at open and are read-only afterwards; the state
 * database opens on first use (commands and agents that never touch it
 * never create it).
 */
#ifndef SUTRA_RUNTIME_H
#define SUTRA_RUNTIME_H

#include <cjson/cJSON.h>
#include <pthread.h>

#include "catalog.h"
#include "config.h"
#include "err.h"
#include "state.h"

struct agent_ctx;

/* An effect provider: request in, new result out (caller frees). */
typedef int (*runtime_effect_fn)(struct agent_ctx *ctx, const cJSON *request,
				 cJSON **result, struct sutra_err *err);

struct runtime_options {
	const char *db_path;        /* NULL: $SUTRA_DB or .sutra/state.db */
	const char *config_path;    /* NULL: $SUTRA_CONFIG or sutra.yaml */
	char *const *catalogs;      /* --catalog paths, searched first */
	size_t n_catalogs;
};

struct runtime {
	struct config *config;
	struct catalog *catalog;
	char *db_path;
	char *data_dir;     /* shipped catalog/, chains/, lua/ live here */
	char *lua_dir;      /* the sutra Lua library */

	pthread_mutex_t state_lock;
	struct state *state;

	/* Effect providers; NULL when a layer is not configured. */
	runtime_effect_fn llm_chat;
	runtime_effect_fn sandbox_run;
	runtime_effect_fn http_fetch;
	void *llm;          /* the LLM layer's own state */
	void (*llm_free)(void *llm);
};

/* Opens the runtime (config, catalog).  Caller frees with runtime_close. */
int runtime_open(const struct runtime_options *opts, struct runtime **out,
		 struct sutra_err *err);
void runtime_close(struct runtime *rt);

/* The state database, opened on first call.  Borrowed from rt. */
struct state *runtime_state(struct runtime *rt, struct sutra_err *err);
/* The caller is about to wait: see state_idle.  Opens nothing. */
void runtime_state_idle(struct runtime *rt);
/* The same as a memtx_opener (ud is the runtime). */
struct state *runtime_state_opener(void *rt, struct sutra_err *err);

/*
 * The catalog search path (SPEC §2): each --catalog, $SUTRA_CATALOG_PATH,
 * ./catalog, $XDG_DATA_HOME/sutra/catalog, then the shipped catalog.
 * Returns a new NULL-terminated array (free with runtime_free_paths).
 */
char **runtime_catalog_path(const struct runtime_options *opts,
			    const char *data_dir, size_t *n);
void runtime_free_paths(char **paths);

/* The user catalog, where `catalog install` puts packages (new string). */
char *runtime_user_catalog(void);

/*
 * Where shipped data lives: the directory of the running binary when it
 * holds lua/ (an uninstalled build tree), else $(pkgdatadir).  New string.
 */
char *runtime_data_dir(void);

#endif
