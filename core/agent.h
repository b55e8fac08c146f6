/*
 * agent.h - invoking agents of every kind, and what an agent may ask of
 * the host while it runs.
 *
 * agent_invoke is the one way an agent runs: it loads the agent on first
 * use (checking the manifest's sha256, then the kind's loader), checks the
 * input against the manifest's input schema, and calls the kind (Lua or
 * plugin) through a const table of operations.  The effects an agent may
 * have (memory, llm, sandbox, http, calling agents) go through the
 * agent_* functions below, which check the manifest's permissions; this is
 * the single place the journal of the durable-runs layer hooks in.
 */
#ifndef SUTRA_AGENT_H
#define SUTRA_AGENT_H

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdint.h>

#include "catalog.h"
#include "err.h"
#include "memory.h"

struct runtime;
struct runlog_attempt;

/*
 * The context of one agent call: borrowed by the agent for the duration of
 * the call.  Nested calls (ctx.call) get a copy with depth + 1 that shares
 * the memory staging area, so a step attempt's writes commit or vanish
 * together.
 */
struct agent_ctx {
	struct runtime *rt;
	const char *session;
	const char *run_id;          /* NULL outside chain runs */
	const char *step_id;         /* NULL outside chain runs */
	int attempt;                 /* from 1 */
	struct memtx *mem;           /* staged memory writes; required */
	int64_t deadline_ns;         /* monotonic deadline; 0: none */
	const atomic_int *cancel;    /* non-zero: stop; may be NULL */
	int depth;                   /* nesting of ctx.call */
	struct agent *agent;         /* the agent being run (set by invoke) */
	struct runlog_attempt *journal; /* the step attempt's journal, or NULL */
};

/* Deepest nesting of ctx.call, against runaway recursion. */
#define AGENT_MAX_DEPTH 16

/*
 * Runs agent a on input (borrowed) and returns its output as a new cJSON
 * tree in *output (caller frees with cJSON_Delete).  Fails with the
 * agent's own message prefixed by "agent 'NAME'".  Thread-safe.
 */
int agent_invoke(struct agent *a, const cJSON *input, struct agent_ctx *ctx,
		 cJSON **output, struct sutra_err *err);

/* Loads the agent (once; later calls return the first result). */
int agent_load(struct agent *a, struct sutra_err *err);
/* Releases what agent_load acquired; the catalog calls it on free. */
void agent_unload(struct agent *a);

/* Non-zero when the call should stop: deadline passed or cancelled.
 * Sets the reason in err when err is non-NULL. */
int agent_should_stop(const struct agent_ctx *ctx, struct sutra_err *err);

/* Fails unless ctx's agent was granted perm. */
int agent_require(const struct agent_ctx *ctx, unsigned perm,
		  struct sutra_err *err);

/*
 * Effects.  Each checks the permission, and returns 0 with a new result
 * (caller frees) or -1 with err set.
 */
int agent_call(struct agent_ctx *ctx, const char *name, const cJSON *input,
	       cJSON **output, struct sutra_err *err);
int agent_llm(struct agent_ctx *ctx, const cJSON *request, cJSON **response,
	      struct sutra_err *err);
int agent_sandbox(struct agent_ctx *ctx, const cJSON *request,
		  cJSON **verdict, struct sutra_err *err);
int agent_http(struct agent_ctx *ctx, const cJSON *request,
	       cJSON **response, struct sutra_err *err);

/*
 * Memory reads, journaled so that replay sees what the run saw.  get:
 * returns 1 with new JSON text in *json, 0 when absent, -1 on error.
 * Writes go to ctx->mem directly (they commit with the step).
 */
int agent_memory_get(struct agent_ctx *ctx, const char *key, char **json,
		     struct sutra_err *err);
int agent_memory_keys(struct agent_ctx *ctx, cJSON **keys,
		      struct sutra_err *err);

/*
 * The operations of one agent kind.  load runs once per agent (under the
 * agent's load lock); invoke may run on many threads at once.
 */
struct agent_kind_ops {
	int (*load)(struct agent *a, struct sutra_err *err);
	void (*unload)(struct agent *a);
	int (*invoke)(struct agent *a, const cJSON *input,
		      struct agent_ctx *ctx, cJSON **output,
		      struct sutra_err *err);
};

#endif
