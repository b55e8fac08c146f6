/*
 * sutra/plugin.h - the sutra plugin ABI, version 1.
 *
 * A plugin is a shared object that exports one symbol:
 *
 *     const struct sutra_plugin *sutra_plugin_entry(void);
 *
 * which returns a descriptor with SUTRA_PLUGIN_ABI, the plugin's name and
 * version, and its agents.  The host calls each agent's run() with a
 * struct sutra_call whose host table carries everything the agent may ask
 * of sutra: its input, where to put its output, session memory, the LLM,
 * the sandbox, other agents, logging.  A plugin links against nothing of
 * sutra's: it includes this header only, so a plugin built once keeps
 * loading in every later sutra release of the same ABI.
 *
 * Rules of the ABI:
 * - Values cross as UTF-8 JSON text.
 * - Strings the host returns to the plugin (char *) are owned by the
 *   plugin and freed with host->free().  Strings returned as const char *
 *   are borrowed from the host until run() returns.
 * - Strings the plugin passes in are copied by the host before it returns.
 * - The host table only grows: new functions are appended, never moved.
 *   host->size tells which exist; check SUTRA_HOST_HAS(host, fn) before
 *   calling anything newer than the ABI you were built against.
 * - run() may be called from several threads at once, each call with its
 *   own struct sutra_call; agent_data is shared by those calls.
 *
 * Build a plugin out of tree with:
 *     cc -shared -fPIC $(pkg-config --cflags sutra-plugin) -o x.so x.c
 */
#ifndef SUTRA_PLUGIN_H
#define SUTRA_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI this header describes.  Bumped only for incompatible changes. */
#define SUTRA_PLUGIN_ABI 1

/* Log levels for host->log. */
enum sutra_log_level {
	SUTRA_LOG_ERROR = 0,
	SUTRA_LOG_WARN = 1,
	SUTRA_LOG_INFO = 2,
	SUTRA_LOG_DEBUG = 3,
};

/* Results of host functions that return int. */
enum sutra_status {
	SUTRA_STATUS_OK = 0,
	SUTRA_STATUS_ERROR = -1,       /* see host->last_error */
	SUTRA_STATUS_DENIED = -2,      /* the manifest lacks the permission */
	SUTRA_STATUS_BAD_JSON = -3,    /* an argument was not valid JSON */
	SUTRA_STATUS_NOT_FOUND = -4,   /* no such key or agent */
	SUTRA_STATUS_CANCELED = -5,    /* the step was cancelled or timed out */
};

struct sutra_call;

/*
 * The host's functions, version SUTRA_PLUGIN_ABI.  Every function takes the
 * call it serves.  Functions that return char * return NULL on failure;
 * host->last_error then says why.
 */
struct sutra_host {
	uint32_t abi;   /* SUTRA_PLUGIN_ABI of the host */
	uint32_t size;  /* sizeof(struct sutra_host) of the host */

	/* The agent's input as JSON text; borrowed until run() returns. */
	const char *(*input)(struct sutra_call *call);
	/* Sets the agent's output (copied).  Replaces an earlier output. */
	int (*set_output)(struct sutra_call *call, const char *json);
	/*
	 * Fails the call with a message (copied); run() should then return
	 * non-zero.  The first message wins.
	 */
	void (*error)(struct sutra_call *call, const char *message);

	/* Session memory (permission "memory").  get: NULL + NOT_FOUND when
	 * absent.  Writes are staged and commit with the step. */
	char *(*memory_get)(struct sutra_call *call, const char *key);
	int (*memory_set)(struct sutra_call *call, const char *key,
			  const char *json);
	int (*memory_del)(struct sutra_call *call, const char *key);
	/* A JSON array of the session's keys. */
	char *(*memory_keys)(struct sutra_call *call);

	/* Structured log line; fields_json is an object or NULL. */
	void (*log)(struct sutra_call *call, int level, const char *message,
		    const char *fields_json);
	/* A progress event for observers of the run. */
	void (*emit)(struct sutra_call *call, const char *event,
		     const char *data_json);

	/* LLM chat (permission "llm"): request and response as JSON. */
	char *(*llm_chat)(struct sutra_call *call, const char *request_json);
	/* Sandbox run (permission "sandbox"): returns the verdict JSON. */
	char *(*sandbox_run)(struct sutra_call *call, const char *request_json);
	/* Calls another agent (permission "call"); returns its output. */
	char *(*call_agent)(struct sutra_call *call, const char *agent,
			    const char *input_json);

	/* Non-zero once the step is cancelled or past its deadline: stop
	 * and return.  Cheap: poll it in long loops. */
	int (*cancelled)(struct sutra_call *call);

	/* Context of the call; borrowed until run() returns. */
	const char *(*session)(struct sutra_call *call);
	const char *(*run_id)(struct sutra_call *call);   /* "" outside runs */
	const char *(*step_id)(struct sutra_call *call);  /* "" outside runs */
	int (*attempt)(struct sutra_call *call);          /* from 1 */

	/* The last failing host function's status and message. */
	int (*last_status)(struct sutra_call *call);
	const char *(*last_error)(struct sutra_call *call);

	/* Frees what the host returned as char *. */
	void (*free)(void *ptr);

	/* HTTP fetch (permission "http"): request/response as JSON. */
	char *(*http)(struct sutra_call *call, const char *request_json);

	/* New functions are appended here. */
};

/* Whether the host has a given slot (for functions newer than ABI 1). */
#define SUTRA_HOST_HAS(host, fn)                                          \
	((host)->size >= offsetof(struct sutra_host, fn) +                \
				 sizeof((host)->fn) && (host)->fn != NULL)

/* One call of an agent.  Only these fields are public. */
struct sutra_call {
	const struct sutra_host *host;
	void *agent_data;   /* what init() stored, or NULL */
};

struct sutra_agent {
	const char *name;          /* as named in the manifest */
	const char *description;
	/*
	 * Optional: called once, before the first run(), with the host
	 * table.  Returns 0, or non-zero to refuse loading (with a message
	 * in errbuf, which holds errlen bytes).
	 */
	int (*init)(const struct sutra_host *host, void **agent_data,
		    char *errbuf, size_t errlen);
	/* Optional: called once at unload with what init stored. */
	void (*fini)(void *agent_data);
	/* Runs the agent: 0 on success, non-zero on failure. */
	int (*run)(struct sutra_call *call);
};

struct sutra_plugin {
	uint32_t abi;    /* SUTRA_PLUGIN_ABI the plugin was built with */
	uint32_t size;   /* sizeof(struct sutra_plugin) */
	const char *name;
	const char *version;
	const struct sutra_agent *agents;
	size_t n_agents;
};

/* The one symbol a plugin exports. */
typedef const struct sutra_plugin *(*sutra_plugin_entry_fn)(void);
#define SUTRA_PLUGIN_ENTRY "sutra_plugin_entry"

/* Declares the entry point with default visibility. */
#if defined(__GNUC__)
#define SUTRA_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define SUTRA_PLUGIN_EXPORT
#endif

/* The entry point every plugin defines (declared here so that plugins
 * build cleanly with -Wmissing-prototypes). */
SUTRA_PLUGIN_EXPORT const struct sutra_plugin *sutra_plugin_entry(void);

/* Fills the descriptor's header fields. */
#define SUTRA_PLUGIN_INIT                                                 \
	.abi = SUTRA_PLUGIN_ABI, .size = sizeof(struct sutra_plugin)

#ifdef __cplusplus
}
#endif

#endif
