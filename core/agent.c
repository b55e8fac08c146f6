/* agent.c - see agent.h. */
#include "agent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "luart.h"
#include "plughost.h"
#include "plugproc.h"
#include "runlog.h"
#include "state.h"
#include "runtime.h"
#include "schema.h"
#include "util.h"

/* One table of operations per kind, indexed by enum agent_kind. */
static const struct agent_kind_ops *const kind_ops[] = {
	[AGENT_LUA] = &luart_kind_ops,
	[AGENT_PLUGIN] = &plugin_kind_ops,
};

/* The kind's operations; an isolated plugin is a kind of its own. */
static const struct agent_kind_ops *ops_of(const struct agent *a)
{
	if (a->kind == AGENT_PLUGIN && a->isolation == ISOLATION_PROCESS)
		return &plugproc_kind_ops;
	return kind_ops[a->kind];
}

static int verify_checksum(struct agent *a, struct sutra_err *err)
{
	char hex[65];

	if (!a->sha256)
		return 0;
	if (sha256_file_hex(a->entry_path, hex, err) < 0)
		return -1;
	if (strcmp(hex, a->sha256) != 0)
		return err_set(err, SUTRA_ERUNTIME,
			       "%s: sha256 mismatch: manifest says %s, "
			       "file has %s",
			       a->entry_path, a->sha256, hex);
	return 0;
}

int agent_load(struct agent *a, struct sutra_err *err)
{
	int state;

	pthread_mutex_lock(&a->load_lock);
	if (a->load_state == 0) {
		struct sutra_err lerr = {0};
		if (verify_checksum(a, &lerr) == 0 &&
		    ops_of(a)->load(a, &lerr) == 0)
			a->load_state = 1;
		else {
			a->load_state = -1;
			a->load_err = lerr;
		}
	}
	state = a->load_state;
	pthread_mutex_unlock(&a->load_lock);
	if (state < 0)
		return err_set(err, a->load_err.code ? a->load_err.code
						     : SUTRA_ERUNTIME,
			       "agent '%s': %s", a->name, a->load_err.msg);
	return 0;
}

void agent_unload(struct agent *a)
{
	if (a->load_state == 1)
		ops_of(a)->unload(a);
	a->load_state = 0;
}

int agent_should_stop(const struct agent_ctx *ctx, struct sutra_err *err)
{
	if (ctx->cancel && atomic_load_explicit(ctx->cancel,
						memory_order_relaxed)) {
		err_set(err, SUTRA_ECANCELED, "cancelled");
		return 1;
	}
	if (ctx->deadline_ns && now_ns() >= ctx->deadline_ns) {
		err_set(err, SUTRA_ETIMEOUT, "deadline exceeded");
		return 1;
	}
	return 0;
}

static int has_defaults(const cJSON *fields)
{
	const cJSON *f;

	cJSON_ArrayForEach(f, fields)
		if (cJSON_GetObjectItemCaseSensitive(f, "default"))
			return 1;
	return 0;
}

int agent_invoke(struct agent *a, const cJSON *input, struct agent_ctx *ctx,
		 cJSON **output, struct sutra_err *err)
{
	struct agent_ctx own = *ctx;
	struct log_scope scope = log_scope_get();
	char what[96];
	int rc;

	*output = NULL;
	if (agent_load(a, err) < 0)
		return -1;
	/* The messages are built only when there is a schema: this is the
	 * hot path of every step. */
	if (a->input_schema) {
		snprintf(what, sizeof(what), "agent '%s': input", a->name);
		if (schema_check_fields(a->input_schema, input, what, err) < 0)
			return -1;
	}
	cJSON *with_defaults = NULL;
	if (a->input_schema && has_defaults(a->input_schema)) {
		if (!(with_defaults = cJSON_Duplicate(input, 1)) ||
		    schema_apply_defaults(a->input_schema, with_defaults, err) < 0) {
			cJSON_Delete(with_defaults);
			return err->code ? -1 : err_set(err, SUTRA_ENOMEM, "out of memory");
		}
		input = with_defaults;
	}
	own.agent = a;
	scope.agent = a->name;
	scope = log_scope_swap(scope);
	rc = ops_of(a)->invoke(a, input, &own, output, err);
	log_scope_swap(scope);
	cJSON_Delete(with_defaults);
	if (rc == 0 && a->output_schema && *output &&
	    (snprintf(what, sizeof(what), "agent '%s': output", a->name),
	     schema_check(a->output_schema, *output, what, err) < 0)) {
		err->code = SUTRA_EFAILED;
		cJSON_Delete(*output);
		*output = NULL;
		return -1;
	}
	if (rc < 0) {
		/* Timeouts and cancellation keep their class: the step status
		 * depends on it. */
		err_prefix(err, "agent '%s'", a->name);
		return -1;
	}
	if (!*output && !(*output = cJSON_CreateNull()))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	return 0;
}

int agent_require(const struct agent_ctx *ctx, unsigned perm,
		  struct sutra_err *err)
{
	if (ctx->agent && (ctx->agent->perms & perm))
		return 0;
	return err_set(err, SUTRA_EPERM,
		       "permission '%s' not granted (add it to 'permissions' "
		       "in %s)",
		       agent_perm_name(perm),
		       ctx->agent ? ctx->agent->manifest_path : "agent.yaml");
}

/* ---------------------------------------------------------- journal */

/* A journaled result: {"ok": value} or {"error": message, "code": n}. */
static cJSON *pack(int rc, const cJSON *value, const struct sutra_err *e)
{
	cJSON *p = cJSON_CreateObject();

	if (rc == 0) {
		cJSON_AddItemToObject(p, "ok", value ? cJSON_Duplicate(value, 1)
						     : cJSON_CreateNull());
	} else {
		cJSON_AddStringToObject(p, "error", e->msg);
		cJSON_AddNumberToObject(p, "code", e->code);
	}
	return p;
}

static int unpack(const cJSON *p, cJSON **value, struct sutra_err *err)
{
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(p, "ok");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(p, "error");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(p, "code");

	*value = NULL;
	if (ok)
		return (*value = cJSON_Duplicate(ok, 1)) ? 0
			: err_set(err, SUTRA_ENOMEM, "out of memory");
	return err_set(err, cJSON_IsNumber(code) ? code->valueint : SUTRA_EFAILED,
		       "%s", cJSON_IsString(msg) ? msg->valuestring
						  : "journaled failure");
}

typedef int (*perform_fn)(struct agent_ctx *ctx, const cJSON *request,
			  cJSON **result, struct sutra_err *err);

/*
 * Performs an effect through the journal: a result recorded at this
 * position is returned without performing it (resume, replay); otherwise
 * it is performed and its result (or failure) recorded.  durable effects
 * are written at once, so a crash right after one never pays it twice.
 */
static int journaled(struct agent_ctx *ctx, const char *kind,
		     const cJSON *request, int durable, perform_fn perform,
		     cJSON **result, struct sutra_err *err)
{
	struct runlog_attempt *j = ctx->journal;
	cJSON *recorded = NULL, *packed;
	struct sutra_err e = {0};
	int seq, found, rc;

	*result = NULL;
	if (!j)
		return perform(ctx, request, result, err);
	if ((found = runlog_effect_begin(j, kind, request, &seq, &recorded, err)) < 0)
		return -1;
	if (found) {
		rc = unpack(recorded, result, err);
		cJSON_Delete(recorded);
		return rc;
	}
	rc = perform(ctx, request, result, &e);
	packed = pack(rc, *result, &e);
	if (!packed || runlog_effect_end(j, seq, kind, request, packed, durable,
					 err) < 0) {
		cJSON_Delete(packed);
		cJSON_Delete(*result);
		*result = NULL;
		return packed ? -1 : err_set(err, SUTRA_ENOMEM, "out of memory");
	}
	cJSON_Delete(packed);
	if (rc < 0)
		*err = err->code ? *err : e;
	return rc;
}

/* ------------------------------------------------------------ effects */

/* Runs a nested agent; the result also carries what it wrote to memory
 * and where the journal continues, so a replayed call restores both. */
static int perform_call(struct agent_ctx *ctx, const cJSON *request,
			cJSON **result, struct sutra_err *err)
{
	const char *name = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(request, "agent"));
	const cJSON *input = cJSON_GetObjectItemCaseSensitive(request, "input");
	struct agent_ctx child = *ctx;
	struct agent *a;
	cJSON *out = NULL;
	int mark = memtx_mark(ctx->mem);

	if (!(a = catalog_find(ctx->rt->catalog, name)))
		return catalog_not_found(ctx->rt->catalog, name, err);
	child.depth++;
	if (agent_invoke(a, input, &child, &out, err) < 0)
		return -1;
	*result = cJSON_CreateObject();
	cJSON_AddItemToObject(*result, "output", out);
	cJSON_AddItemToObject(*result, "writes", memtx_writes_since(ctx->mem, mark));
	if (ctx->journal)
		cJSON_AddNumberToObject(*result, "next",
					runlog_attempt_seq(ctx->journal));
	return 0;
}

int agent_call(struct agent_ctx *ctx, const char *name, const cJSON *input,
	       cJSON **output, struct sutra_err *err)
{
	cJSON *request, *result = NULL;
	int rc;

	*output = NULL;
	if (agent_require(ctx, PERM_CALL, err) < 0)
		return -1;
	if (ctx->depth + 1 >= AGENT_MAX_DEPTH)
		return err_set(err, SUTRA_EFAILED,
			       "agent calls nested deeper than %d",
			       AGENT_MAX_DEPTH);
	if (agent_should_stop(ctx, err))
		return -1;
	if (!(request = cJSON_CreateObject()))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	cJSON_AddStringToObject(request, "agent", name);
	cJSON_AddItemToObject(request, "input", cJSON_Duplicate(input, 1));
	int mark = memtx_mark(ctx->mem);
	rc = journaled(ctx, "call", request, 1, perform_call, &result, err);
	cJSON_Delete(request);
	if (rc == 0 && memtx_mark(ctx->mem) == mark) {
		/* Nothing was staged: the call came from the journal (or
		 * wrote nothing, where both steps below are no-ops).  Restore
		 * the callee's writes and skip the positions its own effects
		 * used. */
		const cJSON *next = cJSON_GetObjectItemCaseSensitive(result, "next");
		rc = memtx_restage(ctx->mem,
				   cJSON_GetObjectItemCaseSensitive(result, "writes"),
				   err);
		if (ctx->journal && cJSON_IsNumber(next))
			runlog_attempt_seek(ctx->journal, next->valueint);
	}
	if (rc == 0)
		*output = cJSON_DetachItemFromObjectCaseSensitive(result, "output");
	cJSON_Delete(result);
	if (rc == 0 && !*output)
		*output = cJSON_CreateNull();
	return rc;
}

static int effect(struct agent_ctx *ctx, unsigned perm, runtime_effect_fn fn,
		  const char *kind, const char *what, const cJSON *request,
		  cJSON **result, struct sutra_err *err)
{
	*result = NULL;
	if (agent_require(ctx, perm, err) < 0)
		return -1;
	if (!fn)
		return err_set(err, SUTRA_ERUNTIME, "%s is not configured",
			       what);
	if (agent_should_stop(ctx, err))
		return -1;
	/* An LLM call, a request or a sandbox run takes milliseconds to
	 * minutes: neither an open batch nor a snapshot of the state
	 * database is held meanwhile. */
	if (ctx->journal && runlog_attempt_idle(ctx->journal, err) < 0)
		return -1;
	runtime_state_idle(ctx->rt);
	return journaled(ctx, kind, request, 1, fn, result, err);
}

/* Narrows *left to what budget b allows after what was spent. */
static int budget_left(struct agent_ctx *ctx, const struct agent_budget *b,
		       double *usd_left, double *tok_left, struct sutra_err *err)
{
	struct state *st;
	double usd;
	int64_t tokens;
	const char *who = b->path ? "step" : "chain";

	if ((!b->usd && !b->tokens) || !ctx->run_id)
		return 0;
	if (!(st = runtime_state(ctx->rt, err)) ||
	    runlog_llm_spent(st, ctx->run_id, b->path, &usd, &tokens, err) < 0)
		return -1;
	if (b->usd && usd >= b->usd)
		return err_set(err, SUTRA_EBUDGET, "%s budget usd %.4f exceeded "
			       "(spent %.4f)", who, b->usd, usd);
	if (b->tokens && tokens >= b->tokens)
		return err_set(err, SUTRA_EBUDGET, "%s budget tokens %lld "
			       "exceeded (spent %lld)", who, (long long)b->tokens,
			       (long long)tokens);
	if (b->usd && (*usd_left < 0 || b->usd - usd < *usd_left))
		*usd_left = b->usd - usd;
	if (b->tokens && (*tok_left < 0 || (double)(b->tokens - tokens) < *tok_left))
		*tok_left = (double)(b->tokens - tokens);
	return 0;
}

int agent_llm(struct agent_ctx *ctx, const cJSON *request, cJSON **response,
	      struct sutra_err *err)
{
	double usd_left = -1, tok_left = -1;
	cJSON *req;
	int rc;

	/* Budgets of the chain and the step: what is left goes with the
	 * request, so the layer refuses (or shortens) a call that would
	 * spend more. */
	if (budget_left(ctx, &ctx->run_budget, &usd_left, &tok_left, err) < 0 ||
	    budget_left(ctx, &ctx->step_budget, &usd_left, &tok_left, err) < 0)
		return -1;
	if (usd_left < 0 && tok_left < 0)
		return effect(ctx, PERM_LLM, ctx->rt->llm_chat, "llm",
			      "the llm layer", request, response, err);
	if (!(req = cJSON_Duplicate(request, 1)))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	cJSON *b = cJSON_CreateObject();
	if (usd_left >= 0)
		cJSON_AddNumberToObject(b, "usd", usd_left);
	if (tok_left >= 0)
		cJSON_AddNumberToObject(b, "tokens", tok_left);
	cJSON_DeleteItemFromObjectCaseSensitive(req, "budget");
	cJSON_AddItemToObject(req, "budget", b);
	rc = effect(ctx, PERM_LLM, ctx->rt->llm_chat, "llm", "the llm layer",
		    req, response, err);
	cJSON_Delete(req);
	return rc;
}

int agent_sandbox(struct agent_ctx *ctx, const cJSON *request,
		  cJSON **verdict, struct sutra_err *err)
{
	return effect(ctx, PERM_SANDBOX, ctx->rt->sandbox_run, "sandbox",
		      "the sandbox", request, verdict, err);
}

int agent_http(struct agent_ctx *ctx, const cJSON *request,
	       cJSON **response, struct sutra_err *err)
{
	return effect(ctx, PERM_HTTP, ctx->rt->http_fetch, "http", "http",
		      request, response, err);
}

/* Result: {"found": true, "value": V} or {"found": false}. */
static int perform_memory_get(struct agent_ctx *ctx, const cJSON *request,
			      cJSON **result, struct sutra_err *err)
{
	const char *key = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(request, "key"));
	char *text = NULL;
	cJSON *value = NULL;
	int rc = memtx_get(ctx->mem, key, &text, err);

	if (rc < 0)
		return -1;
	if (rc && !(value = cJSON_Parse(text))) {
		free(text);
		return err_set(err, SUTRA_EFAILED,
			       "memory key '%s' holds invalid JSON", key);
	}
	free(text);
	*result = cJSON_CreateObject();
	cJSON_AddBoolToObject(*result, "found", rc == 1);
	if (value)
		cJSON_AddItemToObject(*result, "value", value);
	return 0;
}

int agent_memory_get(struct agent_ctx *ctx, const char *key, char **json,
		     struct sutra_err *err)
{
	cJSON *request = cJSON_CreateObject(), *result = NULL;
	int rc;

	*json = NULL;
	if (!request || !cJSON_AddStringToObject(request, "key", key)) {
		cJSON_Delete(request);
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	}
	rc = journaled(ctx, "memory.get", request, 0, perform_memory_get,
		       &result, err);
	cJSON_Delete(request);
	if (rc < 0)
		return -1;
	const cJSON *value = cJSON_GetObjectItemCaseSensitive(result, "value");
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "found")) ||
	    !value) {
		cJSON_Delete(result);
		return 0;
	}
	*json = cJSON_PrintUnformatted(value);
	cJSON_Delete(result);
	return *json ? 1 : err_set(err, SUTRA_ENOMEM, "out of memory");
}

static int perform_memory_keys(struct agent_ctx *ctx, const cJSON *request,
			       cJSON **result, struct sutra_err *err)
{
	(void)request;
	return memtx_keys(ctx->mem, result, err);
}

int agent_memory_keys(struct agent_ctx *ctx, cJSON **keys,
		      struct sutra_err *err)
{
	cJSON *request = cJSON_CreateObject();
	int rc;

	if (!request)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	rc = journaled(ctx, "memory.keys", request, 0, perform_memory_keys,
		       keys, err);
	cJSON_Delete(request);
	return rc;
}
