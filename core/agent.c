/* agent.c - see agent.h. */
#include "agent.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "luart.h"
#include "plughost.h"
#include "runtime.h"
#include "schema.h"
#include "util.h"

/* One table of operations per kind, indexed by enum agent_kind. */
static const struct agent_kind_ops *const kind_ops[] = {
	[AGENT_LUA] = &luart_kind_ops,
	[AGENT_PLUGIN] = &plugin_kind_ops,
};

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
		    kind_ops[a->kind]->load(a, &lerr) == 0)
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
		kind_ops[a->kind]->unload(a);
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
	snprintf(what, sizeof(what), "agent '%s': input", a->name);
	if (a->input_schema &&
	    schema_check_fields(a->input_schema, input, what, err) < 0)
		return -1;
	own.agent = a;
	scope.agent = a->name;
	scope = log_scope_swap(scope);
	rc = kind_ops[a->kind]->invoke(a, input, &own, output, err);
	log_scope_swap(scope);
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

int agent_call(struct agent_ctx *ctx, const char *name, const cJSON *input,
	       cJSON **output, struct sutra_err *err)
{
	struct agent_ctx child = *ctx;
	struct agent *a;

	*output = NULL;
	if (agent_require(ctx, PERM_CALL, err) < 0)
		return -1;
	if (ctx->depth + 1 >= AGENT_MAX_DEPTH)
		return err_set(err, SUTRA_EFAILED,
			       "agent calls nested deeper than %d",
			       AGENT_MAX_DEPTH);
	if (!(a = catalog_find(ctx->rt->catalog, name)))
		return catalog_not_found(ctx->rt->catalog, name, err);
	if (agent_should_stop(ctx, err))
		return -1;
	child.depth++;
	return agent_invoke(a, input, &child, output, err);
}

static int effect(struct agent_ctx *ctx, unsigned perm, runtime_effect_fn fn,
		  const char *what, const cJSON *request, cJSON **result,
		  struct sutra_err *err)
{
	*result = NULL;
	if (agent_require(ctx, perm, err) < 0)
		return -1;
	if (!fn)
		return err_set(err, SUTRA_ERUNTIME, "%s is not configured",
			       what);
	if (agent_should_stop(ctx, err))
		return -1;
	return fn(ctx, request, result, err);
}

int agent_llm(struct agent_ctx *ctx, const cJSON *request, cJSON **response,
	      struct sutra_err *err)
{
	return effect(ctx, PERM_LLM, ctx->rt->llm_chat, "the llm layer",
		      request, response, err);
}

int agent_sandbox(struct agent_ctx *ctx, const cJSON *request,
		  cJSON **verdict, struct sutra_err *err)
{
	return effect(ctx, PERM_SANDBOX, ctx->rt->sandbox_run, "the sandbox",
		      request, verdict, err);
}

int agent_http(struct agent_ctx *ctx, const cJSON *request,
	       cJSON **response, struct sutra_err *err)
{
	return effect(ctx, PERM_HTTP, ctx->rt->http_fetch, "http", request,
		      response, err);
}
