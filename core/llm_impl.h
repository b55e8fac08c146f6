/*
 * llm_impl.h - what the modules of the LLM layer share; not for use
 * outside core/llm*.c (and their unit tests).
 *
 *   llm.c            llm_chat: cache, budgets, retries, failover, cooldown
 *   llm_config.c     the `llm:` section and environment overrides
 *   llm_request.c    request validation, canonical form, cache key
 *   llm_result.c     the accumulated answer and the response JSON
 *   llm_openai.c     the chat-completions wire format
 *   llm_anthropic.c  the Messages wire format
 *   llm_http.c       libcurl: per-thread handles, timeouts, cancel
 *   llm_store.c      llm_calls accounting, llm_cache, spent money
 *   sse.c            the Server-Sent Events parser streams go through
 */
#ifndef SUTRA_LLM_IMPL_H
#define SUTRA_LLM_IMPL_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "err.h"
#include "llm.h"
#include "sse.h"

/* ---- configuration (llm_config.c) ---- */

struct llm_wire;

struct llm_price {
	double input_per_mtok;    /* USD per million input tokens */
	double output_per_mtok;
	double cached_per_mtok;   /* cached input; defaults to input price */
};

struct llm_provider {
	char *name;
	const struct llm_wire *wire;
	char *base_url;           /* without a trailing '/' */
	char *model;
	char *api_key_env;        /* NULL: send no key */
	struct llm_price price;
	int64_t max_tokens;       /* default max_tokens (Anthropic needs one) */
	/* Failover state, guarded by struct llm's lock. */
	int64_t cooldown_until_ns;
};

/* Limits; a negative value means none. */
struct llm_limits {
	double usd_per_run, usd_per_call;
	int64_t tokens_per_run, tokens_per_call;
};

struct llm_config {
	struct llm_provider *providers;
	size_t n_providers;
	size_t default_provider;
	size_t *fallback;          /* indexes into providers */
	size_t n_fallback;
	int retries;               /* retries after the first attempt */
	int64_t timeout_ms;        /* one attempt, non-streaming */
	int64_t idle_timeout_ms;   /* silence allowed inside a stream */
	int64_t connect_timeout_ms;
	int64_t backoff_ms;        /* first backoff; doubles per retry */
	int64_t backoff_max_ms;
	int64_t retry_after_max_ms; /* longer Retry-After: fail over instead */
	int64_t cooldown_ms;       /* skip a provider that just failed */
	int cache;                 /* cache temperature-0 requests */
	struct llm_limits budget;
};

/* Parses section (may be NULL) plus the environment into cfg. */
int llm_config_parse(const cJSON *section, const char *path,
		     struct llm_config *cfg, struct sutra_err *err);
void llm_config_free(struct llm_config *cfg);
/* The provider named name, or NULL. */
struct llm_provider *llm_config_find(const struct llm_config *cfg,
				     const char *name);

/* ---- requests (llm_request.c) ---- */

/* A validated request.  Pointers are borrowed from the request JSON,
 * except the cJSON trees marked "owned", freed by llm_req_free. */
struct llm_req {
	const cJSON *json;         /* the request as given */
	cJSON *messages;           /* owned: normalised, system included */
	cJSON *tools;              /* owned: [{name, description, parameters}] */
	const char *provider;      /* NULL: the default */
	const char *model;         /* NULL: the provider's */
	double temperature;
	int has_temperature;
	int64_t max_tokens;        /* 0: the provider's default */
	const cJSON *stop;         /* array of strings, or NULL */
	int json_mode;             /* 0 off, 1 any object, 2 schema */
	const cJSON *json_schema;
	int stream;
	int cache;                 /* -1 not said, 0 no, 1 yes */
	int fallback;              /* 0: only the first provider */
	struct llm_limits limits;  /* from the request's budget */
};

int llm_req_parse(const cJSON *json, struct llm_req *req,
		  struct sutra_err *err);
void llm_req_free(struct llm_req *req);

/*
 * The cache key: SHA-256 (hex) of the canonical JSON (object keys sorted,
 * no whitespace) of what determines the answer: provider, model, messages,
 * tools, temperature, max_tokens, stop and json.
 */
int llm_req_cache_key(const struct llm_req *req, const char *provider,
		      const char *model, char key[65], struct sutra_err *err);

/* Prints v canonically (keys sorted recursively).  New string or NULL. */
char *llm_canonical_json(const cJSON *v);

/* ---- results (llm_result.c) ---- */

struct llm_tool_call {
	char *id;
	char *name;
	struct sse_buf args;       /* JSON text of the arguments */
	int index;                 /* the provider's index for fragments */
};

/* An answer as it accumulates, from a body or from stream events. */
struct llm_result {
	struct sse_buf text;
	struct llm_tool_call *tools;
	size_t n_tools;
	char *finish_reason;       /* normalised */
	char *model;               /* as the provider reported it */
	int64_t tokens_in, tokens_out, tokens_cached;
	int done;                  /* the protocol's end marker was seen */
	char *error;               /* an error reported inside a stream */
	int error_retryable;       /* ... of a kind worth retrying */
	llm_delta_fn on_delta;     /* streamed text goes here too */
	void *delta_ud;
	int delivered;             /* on_delta has been called */
	int delta_stopped;         /* on_delta asked to stop */
};

void llm_result_init(struct llm_result *r, llm_delta_fn fn, void *ud);
void llm_result_free(struct llm_result *r);
int llm_result_text(struct llm_result *r, const char *s, size_t n);
/* The tool call with the provider's index, created when new. */
struct llm_tool_call *llm_result_tool(struct llm_result *r, int index);
int llm_result_set(char **field, const char *value);
/* Appends a fragment of a tool call's JSON arguments. */
int llm_tool_args_add(struct llm_tool_call *t, const char *s, size_t n);
/* The response JSON (see llm.h) without the accounting fields. */
cJSON *llm_result_json(const struct llm_result *r);

/* ---- wire formats (llm_openai.c, llm_anthropic.c) ---- */

/* The parsed error body of a failed call. */
struct llm_api_error {
	char type[64];
	char code[64];
	char message[256];
};

struct llm_wire {
	const char *kind;          /* "openai", "anthropic" */
	const char *path;          /* appended to base_url */
	const char *auth_prefix;   /* the key header, up to the key */
	const char *extra_header;  /* a fixed header line, or NULL */
	/* The request body for provider p and model (new cJSON). */
	cJSON *(*encode)(const struct llm_req *req,
			 const struct llm_provider *p, const char *model,
			 struct sutra_err *err);
	/* A whole (non-streamed) response body into r. */
	int (*decode)(const cJSON *body, struct llm_result *r,
		      struct sutra_err *err);
	/* One SSE event into r.  Returns 0, or -1 with r->error set. */
	int (*event)(struct llm_result *r, const char *event,
		     const char *data, size_t len);
	/* Fills e from an error body (any JSON). */
	void (*error)(const cJSON *body, struct llm_api_error *e);
};

extern const struct llm_wire llm_wire_openai;
extern const struct llm_wire llm_wire_anthropic;
/* The wire format called kind, or NULL. */
const struct llm_wire *llm_wire_find(const char *kind);

/* Normalises provider stop reasons ("end_turn" -> "stop", ...). */
const char *llm_finish_reason(const char *raw);

/* ---- HTTP (llm_http.c) ---- */

enum llm_http_outcome {
	LLM_HTTP_OK = 0,       /* a response arrived (any status) */
	LLM_HTTP_CONNECT,      /* could not connect or resolve */
	LLM_HTTP_TRANSPORT,    /* reset, closed early, send/recv failure */
	LLM_HTTP_TIMEOUT,      /* the attempt's own timeout */
	LLM_HTTP_IDLE,         /* a stream went silent */
	LLM_HTTP_DEADLINE,     /* the caller's deadline passed */
	LLM_HTTP_CANCELED,     /* the caller's cancel flag */
	LLM_HTTP_SINK,         /* the body consumer stopped the transfer */
	LLM_HTTP_NOMEM,
};

struct llm_http_req {
	const char *url;
	const char *body;
	size_t body_len;
	char *const *headers;      /* "Name: value" lines */
	size_t n_headers;
	int stream;                /* a 2xx event stream goes to sink */
	int64_t connect_timeout_ms;
	int64_t timeout_ms;        /* whole attempt; 0: none */
	int64_t idle_timeout_ms;   /* silence; 0: none */
	int64_t deadline_ns;       /* 0: none */
	const atomic_int *cancel;
	/* Consumes a streamed body; non-zero stops the transfer. */
	int (*sink)(void *ud, const char *buf, size_t len);
	void *sink_ud;
};

struct llm_http_resp {
	enum llm_http_outcome outcome;
	long status;
	char content_type[128];
	int64_t retry_after_ms;    /* -1: the server did not say */
	char request_id[96];
	struct sse_buf body;       /* the body, unless it went to sink */
	int streamed;              /* the body went to sink */
	char error[256];           /* transport error text */
	double server_s;           /* request sent to last byte (curl's view) */
	long new_connects;         /* TCP connections this transfer opened */
};

/* Performs one POST.  Returns 0 when a response arrived, -1 otherwise
 * (resp->outcome says why).  resp is always initialised; free it with
 * llm_http_resp_free. */
int llm_http_post(const struct llm_http_req *req, struct llm_http_resp *resp);
void llm_http_resp_free(struct llm_http_resp *resp);

/* Parses Retry-After (seconds or an HTTP date) into ms, or -1. */
int64_t llm_http_retry_after(const char *value, int64_t now_unix_s);

/* The URL without user:password@ and without its query, for messages. */
void llm_url_redact(const char *url, char *out, size_t n);

/* ---- retry policy (llm.c) ---- */

/* Whether an HTTP status is worth retrying (408, 409, 429, >= 500). */
int llm_status_retryable(long status, const struct llm_api_error *e);
/* Jittered exponential backoff for retry n (from 0), in ms. */
int64_t llm_backoff_ms(const struct llm_config *cfg, int n, uint64_t rnd);

/* ---- the state database (llm_store.c) ---- */

struct llm_call_record {
	const char *run_id, *step_id, *provider, *model;
	int64_t tokens_in, tokens_out, tokens_cached;
	double cost_usd, latency_ms;
	int retries, cache_hit;
	const char *status;        /* ok | error | budget | canceled | timeout */
	const char *error;
};

int llm_store_record(struct state *st, const struct llm_call_record *rec,
		     struct sutra_err *err);
/* A cached response (new cJSON in *response, NULL on a miss). */
int llm_store_cache_get(struct state *st, const char *key, cJSON **response,
			struct sutra_err *err);
int llm_store_cache_put(struct state *st, const char *key,
			const cJSON *response, struct sutra_err *err);

/* Cost of a call at a price. */
double llm_cost(const struct llm_price *p, int64_t in, int64_t out,
		int64_t cached);

/* JSON field accessors the wire formats and the request parser share:
 * a member, a member's text (NULL unless a string), and a member as a
 * positive count (0 otherwise). */
static inline const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static inline const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = get(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static inline int64_t num(const cJSON *o, const char *k)
{
	const cJSON *v = get(o, k);

	return cJSON_IsNumber(v) && v->valuedouble > 0 ? (int64_t)v->valuedouble
						      : 0;
}

#endif
