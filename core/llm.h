/*
 * llm.h - the LLM layer (SPEC §9): chat with OpenAI-compatible and
 * Anthropic providers, with streaming, tool calls, retries, failover,
 * accounting, budgets and a response cache.
 *
 * One struct llm per runtime, built from sutra.yaml's `llm:` section and
 * the SUTRA_LLM_* environment overrides; it is shared by every thread.
 * llm_chat is the single call path: request JSON in, response JSON out.
 * Everything an agent, the CLI or a benchmark asks of a provider goes
 * through it, so it is the one place the durable-runs journal hooks in.
 *
 * Request (JSON object; only messages or prompt is required):
 *   messages     [{role: system|user|assistant|tool, content: TEXT,
 *                  tool_calls: [...] (assistant), tool_call_id (tool)}]
 *   prompt       TEXT: shorthand for one user message
 *   system       TEXT: a system prompt put before the messages
 *   provider     NAME from llm.providers (default: llm.default)
 *   model        overrides the first provider's model
 *   temperature, max_tokens, stop [TEXT...]
 *   tools        [{name, description, parameters: JSON-SCHEMA}]
 *                (OpenAI's {type: function, function: {...}} also works)
 *   json         true (answer a JSON object) or a JSON schema
 *   stream       true: stream from the provider
 *   cache        true/false: force or forbid the response cache
 *   fallback     false: do not fail over to llm.fallback
 *   budget       {usd, tokens}: limits for this call (remaining budget of
 *                the caller's chain or step)
 *
 * Response (new JSON object):
 *   text, tool_calls [{id, name, arguments: OBJECT|null, arguments_text}],
 *   finish_reason (stop|length|tool_calls|content_filter|...),
 *   usage {input, output, cached}, provider, model, cost_usd, cached,
 *   latency_ms, retries (attempts beyond the first, all providers),
 *   failed_over [NAME...] (providers that failed before the answer)
 */
#ifndef SUTRA_LLM_H
#define SUTRA_LLM_H

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "state.h"

struct runtime;
struct llm;

/*
 * Receives streamed text as it arrives (borrowed until the callback
 * returns).  Once it has been called for an attempt, that attempt is never
 * retried: the caller has already shown the text.  A non-zero return
 * cancels the call.
 */
typedef int (*llm_delta_fn)(void *ud, const char *text, size_t len);

/* What one llm_chat call needs besides the request. */
struct llm_call_opts {
	const char *run_id;          /* for accounting and budgets; may be NULL */
	const char *step_id;         /* may be NULL */
	int64_t deadline_ns;         /* monotonic; 0: none */
	const atomic_int *cancel;    /* non-zero: stop now; may be NULL */
	struct state *state;         /* accounting, cache, budgets; NULL: none */
	llm_delta_fn on_delta;       /* streamed text; NULL: not shown */
	void *delta_ud;
	int no_cache;                /* --no-cache: neither read nor write */
};

/*
 * Builds the layer from the `llm:` section (borrowed; NULL when absent)
 * and the environment.  config_path names the file in messages.  Returns
 * a new llm (caller frees with llm_free) or -1 with a usage error naming
 * the setting.
 */
int llm_open(const cJSON *section, const char *config_path, struct llm **out,
	     struct sutra_err *err);
void llm_free(struct llm *llm);

/*
 * Runs one chat request (borrowed) and returns a new response (caller
 * frees with cJSON_Delete); *response is NULL on failure.  Thread-safe.
 * Errors: SUTRA_EUSAGE (bad request), SUTRA_ERUNTIME (no provider
 * reachable, missing API key), SUTRA_EFAILED (a provider refused or
 * answered garbage), SUTRA_ETIMEOUT, SUTRA_ECANCELED, SUTRA_EBUDGET.
 */
int llm_chat(struct llm *llm, const struct llm_call_opts *opts,
	     const cJSON *request, cJSON **response, struct sutra_err *err);

/*
 * Installs the layer into rt: builds rt->llm from rt's configuration and
 * sets rt->llm_free.  Called once, on first use, by the kernel's netmod
 * (which loads this layer as a module: see netmod.h).
 */
int llm_runtime_init(struct runtime *rt, struct sutra_err *err);

/* The agent effect (ctx.llm.chat, host->llm_chat) on an initialised rt. */
struct agent_ctx;
int llm_effect(struct agent_ctx *ctx, const cJSON *request, cJSON **result,
	       struct sutra_err *err);

/* `sutra llm ...` (the kernel's cmd_llm loads the module and calls it). */
struct cli;
int llm_cli_main(struct cli *cli, int argc, char **argv);

/* The layer of a runtime (borrowed), or NULL. */
struct llm *llm_of(struct runtime *rt);

/*
 * Money and tokens recorded for a run (and step, when step_id is
 * non-NULL) in llm_calls.  For `sutra runs show` and the chain layer's
 * budgets.
 */
int llm_spent(struct state *st, const char *run_id, const char *step_id,
	      double *usd, int64_t *tokens, struct sutra_err *err);

/*
 * Releases the calling thread's HTTP handle (its connections close).
 * Threads that exit release theirs on their own; the main thread calls
 * this through llm_free.
 */
void llm_thread_done(void);

#endif
