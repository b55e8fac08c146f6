/*
 * llm.c - llm_chat, the one call path of the LLM layer: request checks,
 * budgets, the response cache, attempts with retries and backoff,
 * failover along llm.fallback with a cooldown for failing providers, and
 * the accounting row every call leaves in llm_calls.
 *
 * The durable-runs journal wraps llm_chat (request JSON in, response JSON
 * out); nothing below it has effects the journal would miss.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "llm_impl.h"
#include "log.h"
#include "runtime.h"
#include "agent.h"
#include "util.h"

struct llm {
	struct llm_config cfg;
	pthread_mutex_t lock;   /* guards each provider's cooldown_until_ns */
};

int llm_open(const cJSON *section, const char *config_path, struct llm **out,
	     struct sutra_err *err)
{
	struct llm *llm = calloc(1, sizeof(*llm));

	*out = NULL;
	if (!llm)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	if (llm_config_parse(section, config_path, &llm->cfg, err) < 0) {
		free(llm);
		return -1;
	}
	pthread_mutex_init(&llm->lock, NULL);
	*out = llm;
	return 0;
}

void llm_free(struct llm *llm)
{
	if (!llm)
		return;
	llm_config_free(&llm->cfg);
	pthread_mutex_destroy(&llm->lock);
	free(llm);
	llm_thread_done();
}

/* ---- retry policy ---- */

/* A 429 that means "out of money", not "slow down": retrying is futile. */
static int spend_limit(const struct llm_api_error *e)
{
	return strcmp(e->code, "insufficient_quota") == 0 ||
	       strcmp(e->type, "insufficient_quota") == 0 ||
	       strstr(e->message, "quota") || strstr(e->message, "billing") ||
	       strstr(e->message, "credit balance");
}

int llm_status_retryable(long status, const struct llm_api_error *e)
{
	if (status == 429)
		return !(e && spend_limit(e));
	return status == 408 || status == 409 || status >= 500;
}

int64_t llm_backoff_ms(const struct llm_config *cfg, int n, uint64_t rnd)
{
	int64_t d = cfg->backoff_ms;

	for (int i = 0; i < n && d < cfg->backoff_max_ms; i++)
		d *= 2;
	if (d > cfg->backoff_max_ms)
		d = cfg->backoff_max_ms;
	/* Equal jitter: at least half the delay, so retries still back off,
	 * spread over the other half so clients do not retry in step. */
	return d / 2 + (d > 1 ? (int64_t)(rnd % (uint64_t)(d / 2 + 1)) : 0);
}

static uint64_t random_u64(void)
{
	uint64_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint64_t)now_ns() * 6364136223846793005ULL;
	return r;
}

/* ---- one call ---- */

/* The result of one attempt. */
struct outcome {
	int code;             /* 0: success, else a sutra_errc */
	int retryable;        /* the same provider may be tried again */
	int final;            /* stop everything: no retry, no failover */
	int64_t retry_after_ms;
	char msg[320];
};

struct call {
	struct llm *llm;
	const struct llm_call_opts *o;
	struct llm_req req;
	int64_t start_ns;
	int attempts;                   /* over all providers */
	int first_code, mixed_codes;    /* for the final error's class */
	char failures[480];             /* "local: ...; claude: ..." */
	cJSON *failed_over;             /* names of providers that failed */
	const struct llm_provider *provider;   /* the last one tried */
	const char *model;
	struct llm_result res;
};

static int stopped(const struct call *c, struct outcome *oc)
{
	const struct llm_call_opts *o = c->o;

	if (o->cancel && atomic_load(o->cancel)) {
		oc->code = SUTRA_ECANCELED;
		snprintf(oc->msg, sizeof(oc->msg), "cancelled");
	} else if (o->deadline_ns && now_ns() >= o->deadline_ns) {
		oc->code = SUTRA_ETIMEOUT;
		snprintf(oc->msg, sizeof(oc->msg), "deadline passed");
	} else {
		return 0;
	}
	oc->final = 1;
	return 1;
}

/* Sleeps ms in short slices, so cancel and deadline still stop us. */
static int sleep_unless_stopped(const struct call *c, int64_t ms,
				struct outcome *oc)
{
	int64_t until = now_ns() + ms * 1000000;

	while (now_ns() < until) {
		if (stopped(c, oc))
			return -1;
		struct timespec ts = {0, 10 * 1000000};
		nanosleep(&ts, NULL);
	}
	return stopped(c, oc) ? -1 : 0;
}

/* Feeds a stream to the SSE parser, and its events to the wire format. */
struct stream {
	struct sse sse;
	const struct llm_wire *wire;
	struct llm_result *res;
};

static int on_event(void *ud, const char *event, const char *data,
		    size_t len)
{
	struct stream *s = ud;

	if (s->wire->event(s->res, event, data, len) < 0)
		return -1;
	return s->res->delta_stopped ? 1 : 0;
}

static int sink(void *ud, const char *buf, size_t len)
{
	struct stream *s = ud;
	int rc = sse_feed(&s->sse, buf, len);

	if (rc < 0 && !s->res->error)
		llm_result_set(&s->res->error,
			       "stream line too long, or out of memory");
	return rc;
}

static void fail(struct outcome *oc, int code, int retryable, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));
static void fail(struct outcome *oc, int code, int retryable, const char *fmt,
		 ...)
{
	va_list ap;

	oc->code = code;
	oc->retryable = retryable;
	va_start(ap, fmt);
	vsnprintf(oc->msg, sizeof(oc->msg), fmt, ap);
	va_end(ap);
}

/* The key header; freed with wipe_free so the key does not linger. */
static char *auth_header(const struct llm_provider *p, struct outcome *oc)
{
	const char *key = getenv(p->api_key_env);
	char *h;
	size_t n;

	if (!key || !*key) {
		/* Names the variable, never a value. */
		fail(oc, SUTRA_ERUNTIME, 0,
		     "environment variable %s (api_key_env) is not set",
		     p->api_key_env);
		return NULL;
	}
	n = strlen(p->wire->auth_prefix) + strlen(key) + 1;
	if (!(h = malloc(n))) {
		fail(oc, SUTRA_ENOMEM, 0, "out of memory");
		return NULL;
	}
	snprintf(h, n, "%s%s", p->wire->auth_prefix, key);
	return h;
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void transport_failure(const struct call *c,
			      const struct llm_http_resp *r,
			      struct outcome *oc)
{
	const struct llm_config *cfg = &c->llm->cfg;

	switch (r->outcome) {
	case LLM_HTTP_CANCELED:
		fail(oc, SUTRA_ECANCELED, 0, "cancelled");
		oc->final = 1;
		return;
	case LLM_HTTP_DEADLINE:
		fail(oc, SUTRA_ETIMEOUT, 0, "deadline passed");
		oc->final = 1;
		return;
	case LLM_HTTP_CONNECT:
		fail(oc, SUTRA_ERUNTIME, 1, "unreachable: %s", r->error);
		return;
	case LLM_HTTP_TIMEOUT:
		fail(oc, SUTRA_ETIMEOUT, 1, "no complete answer within %lld ms "
		     "(llm.timeout)", (long long)cfg->timeout_ms);
		return;
	case LLM_HTTP_IDLE:
		fail(oc, SUTRA_ETIMEOUT, 1, "stream silent for %lld ms "
		     "(llm.idle_timeout)", (long long)cfg->idle_timeout_ms);
		return;
	case LLM_HTTP_NOMEM:
		fail(oc, SUTRA_ENOMEM, 0, "out of memory");
		oc->final = 1;
		return;
	case LLM_HTTP_TRANSPORT:
	case LLM_HTTP_SINK:
	case LLM_HTTP_OK:
		break;
	}
	fail(oc, SUTRA_EFAILED, 1, "connection failed: %s", r->error);
}

static void http_error(const struct llm_provider *p,
		       const struct llm_http_resp *r, struct outcome *oc)
{
	struct llm_api_error e;

	memset(&e, 0, sizeof(e));
	cJSON *body = r->body.p ? cJSON_Parse(r->body.p) : NULL;

	if (body)
		p->wire->error(body, &e);
	cJSON_Delete(body);
	fail(oc, SUTRA_EFAILED, llm_status_retryable(r->status, &e),
	     "HTTP %ld%s%s%s%s%s%s", r->status, e.type[0] ? ": " : "", e.type,
	     e.code[0] && strcmp(e.code, e.type) ? " " : "",
	     e.code[0] && strcmp(e.code, e.type) ? e.code : "",
	     e.message[0] ? ": " : "", e.message);
	oc->retry_after_ms = r->retry_after_ms;
}

/* A whole body: JSON, or an event stream the server sent unasked. */
static void whole_body(struct call *c, const struct llm_provider *p,
		       struct llm_http_resp *r, struct outcome *oc)
{
	struct sutra_err e = {0};
	cJSON *body;

	if (strncasecmp(r->content_type, "text/event-stream", 17) == 0) {
		struct stream s = {.wire = p->wire, .res = &c->res};
		sse_init(&s.sse, on_event, &s);
		if (r->body.len && sink(&s, r->body.p, r->body.len) != 0 &&
		    !c->res.error)
			llm_result_set(&c->res.error, "bad event stream");
		sse_free(&s.sse);
		r->streamed = 1;
		return;
	}
	if (!strstr(r->content_type, "json")) {
		fail(oc, SUTRA_EFAILED, 0,
		     "unexpected content type '%s' (wanted application/json)",
		     r->content_type[0] ? r->content_type : "none");
		return;
	}
	if (!(body = cJSON_ParseWithLength(r->body.p ? r->body.p : "",
					   r->body.len))) {
		fail(oc, SUTRA_EFAILED, 0, "response is not valid JSON");
		return;
	}
	if (p->wire->decode(body, &c->res, &e) < 0)
		fail(oc, e.code, 0, "%s", e.msg);
	cJSON_Delete(body);
}

static void stream_end(struct call *c, const struct llm_http_resp *r,
		       struct outcome *oc)
{
	struct llm_result *res = &c->res;

	if (res->delta_stopped) {
		fail(oc, SUTRA_ECANCELED, 0, "stopped by the caller");
		oc->final = 1;
	} else if (res->error) {
		fail(oc, SUTRA_EFAILED, res->error_retryable, "%s", res->error);
	} else if (r->outcome != LLM_HTTP_OK) {
		transport_failure(c, r, oc);
	} else if (!res->done && !res->finish_reason) {
		fail(oc, SUTRA_EFAILED, 1,
		     "stream ended before its end marker (truncated)");
	}
}

/* Judges a finished transfer. */
static void judge(struct call *c, const struct llm_provider *p,
		  struct llm_http_resp *r, struct outcome *oc)
{
	if (r->streamed || r->outcome == LLM_HTTP_SINK) {
		stream_end(c, r, oc);
	} else if (r->outcome != LLM_HTTP_OK) {
		transport_failure(c, r, oc);
	} else if (r->status >= 300 || r->status < 200) {
		http_error(p, r, oc);
	} else {
		whole_body(c, p, r, oc);
		if (r->streamed && oc->code == 0)
			stream_end(c, r, oc);
	}
	/* Text the caller has seen cannot be taken back: no retry and no
	 * other provider after it. */
	if (oc->code && c->res.delivered) {
		oc->retryable = 0;
		oc->final = 1;
	}
}

struct body {
	char *url, *text, *headers[2];
	size_t n_headers;
};

static void body_free(struct body *b)
{
	free(b->url);
	cJSON_free(b->text);
	for (size_t i = 0; i < b->n_headers; i++)
		wipe_free(b->headers[i]);
}

static int prepare(const struct call *c, const struct llm_provider *p,
		   const char *model, struct body *b, struct outcome *oc)
{
	struct sutra_err e = {0};
	cJSON *json;
	size_t n = strlen(p->base_url) + strlen(p->wire->path) + 1;

	if (p->api_key_env &&
	    !(b->headers[b->n_headers++] = auth_header(p, oc))) {
		b->n_headers--;
		return -1;
	}
	if (p->wire->extra_header &&
	    !(b->headers[b->n_headers++] = strdup(p->wire->extra_header)))
		goto nomem;
	if (!(b->url = malloc(n)))
		goto nomem;
	snprintf(b->url, n, "%s%s", p->base_url, p->wire->path);
	if (!(json = p->wire->encode(&c->req, p, model, &e))) {
		fail(oc, e.code, 0, "%s", e.msg);
		return -1;
	}
	b->text = cJSON_PrintUnformatted(json);
	cJSON_Delete(json);
	if (b->text)
		return 0;
nomem:
	fail(oc, SUTRA_ENOMEM, 0, "out of memory");
	oc->final = 1;
	return -1;
}

/* One HTTP exchange with provider p.  Fills c->res on success. */
static void attempt(struct call *c, const struct llm_provider *p,
		    const char *model, struct outcome *oc)
{
	const struct llm_config *cfg = &c->llm->cfg;
	struct body b = {0};
	struct stream s = {.wire = p->wire, .res = &c->res};
	struct llm_http_resp r;

	memset(oc, 0, sizeof(*oc));
	oc->retry_after_ms = -1;
	llm_result_free(&c->res);
	llm_result_init(&c->res, c->o->on_delta, c->o->delta_ud);
	if (prepare(c, p, model, &b, oc) < 0) {
		body_free(&b);
		return;
	}
	sse_init(&s.sse, on_event, &s);
	struct llm_http_req q = {
		.url = b.url,
		.body = b.text,
		.body_len = strlen(b.text),
		.headers = b.headers,
		.n_headers = b.n_headers,
		.stream = c->req.stream,
		.connect_timeout_ms = cfg->connect_timeout_ms,
		/* A stream may run long: only silence ends it. */
		.timeout_ms = c->req.stream ? 0 : cfg->timeout_ms,
		.idle_timeout_ms = c->req.stream ? cfg->idle_timeout_ms : 0,
		.deadline_ns = c->o->deadline_ns,
		.cancel = c->o->cancel,
		.sink = sink,
		.sink_ud = &s,
	};
	llm_http_post(&q, &r);
	body_free(&b);
	judge(c, p, &r, oc);
	sse_free(&s.sse);
	llm_http_resp_free(&r);
}

static void log_retry(const struct llm_provider *p, int n,
		      const struct outcome *oc, int64_t delay_ms)
{
	cJSON *f = cJSON_CreateObject();

	cJSON_AddStringToObject(f, "provider", p->name);
	cJSON_AddNumberToObject(f, "attempt", n + 1);
	cJSON_AddStringToObject(f, "error", oc->msg);
	cJSON_AddNumberToObject(f, "retry_in_ms", (double)delay_ms);
	log_fields(LOG_INFO, "llm.retry", f);
	cJSON_Delete(f);
}

/* How long to wait before retry n, or -1 to give up on this provider. */
static int64_t retry_delay(const struct call *c, int n, struct outcome *oc)
{
	const struct llm_config *cfg = &c->llm->cfg;
	int64_t d = oc->retry_after_ms >= 0 ? oc->retry_after_ms
					    : llm_backoff_ms(cfg, n, random_u64());
	size_t len = strlen(oc->msg);

	if (!oc->retryable || oc->final || n >= cfg->retries)
		return -1;
	if (oc->retry_after_ms > cfg->retry_after_max_ms) {
		snprintf(oc->msg + len, sizeof(oc->msg) - len,
			 " (retry-after %lld ms is over llm.retry_after_max)",
			 (long long)oc->retry_after_ms);
		return -1;
	}
	if (c->o->deadline_ns && now_ns() + d * 1000000 >= c->o->deadline_ns)
		return -1;
	return d;
}

/* Tries provider p with retries.  0 on success. */
static int try_provider(struct call *c, const struct llm_provider *p,
			const char *model, struct outcome *oc)
{
	for (int n = 0;; n++) {
		int64_t delay;
		if (stopped(c, oc))
			return -1;
		c->attempts++;
		attempt(c, p, model, oc);
		if (oc->code == 0)
			return 0;
		if ((delay = retry_delay(c, n, oc)) < 0)
			return -1;
		log_retry(p, n, oc, delay);
		struct outcome slept = {0};
		if (sleep_unless_stopped(c, delay, &slept) < 0) {
			*oc = slept;
			return -1;
		}
	}
}

/* ---- failover ---- */

static int cooling(struct llm *llm, const struct llm_provider *p)
{
	pthread_mutex_lock(&llm->lock);
	int cool = p->cooldown_until_ns > now_ns();
	pthread_mutex_unlock(&llm->lock);
	return cool;
}

static void set_cooldown(struct llm *llm, struct llm_provider *p, int failed)
{
	pthread_mutex_lock(&llm->lock);
	p->cooldown_until_ns =
		failed ? now_ns() + llm->cfg.cooldown_ms * 1000000 : 0;
	pthread_mutex_unlock(&llm->lock);
}

/*
 * The providers to try, in order: the requested (or default) one, then
 * llm.fallback.  Providers cooling down after a failure go last rather
 * than away, so a call still has somewhere to go when all are cooling.
 */
static size_t chain(struct call *c, struct llm_provider *first,
		    struct llm_provider **out, size_t max)
{
	const struct llm_config *cfg = &c->llm->cfg;
	struct llm_provider *all[64];
	size_t n = 0, k = 0;

	all[n++] = first;
	for (size_t i = 0; c->req.fallback && i < cfg->n_fallback && n < 64; i++) {
		struct llm_provider *p = &cfg->providers[cfg->fallback[i]];
		int dup = 0;
		for (size_t j = 0; j < n; j++)
			dup |= all[j] == p;
		if (!dup)
			all[n++] = p;
	}
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n && k < max; i++)
			if (cooling(c->llm, all[i]) == pass)
				out[k++] = all[i];
	return k;
}

static void note_failure(struct call *c, const struct llm_provider *p,
			 const struct outcome *oc, int attempts)
{
	size_t len = strlen(c->failures);

	if (!c->first_code)
		c->first_code = oc->code;
	else if (c->first_code != oc->code)
		c->mixed_codes = 1;
	snprintf(c->failures + len, sizeof(c->failures) - len,
		 "%sprovider '%s': %s (%d attempt%s)", len ? "; then " : "",
		 p->name, oc->msg, attempts, attempts == 1 ? "" : "s");
	cJSON_AddItemToArray(c->failed_over, cJSON_CreateString(p->name));
}

/* Runs the chain until one provider answers.  0 on success. */
static int run_chain(struct call *c, struct llm_provider *first,
		     struct outcome *oc)
{
	struct llm_provider *order[64];
	size_t n = chain(c, first, order, 64);

	for (size_t i = 0; i < n; i++) {
		struct llm_provider *p = order[i];
		const char *model = i == 0 && c->req.model ? c->req.model
							   : p->model;
		int before = c->attempts;
		c->provider = p;
		c->model = model;
		if (!model) {
			fail(oc, SUTRA_EUSAGE, 0, "no model (set model in "
			     "llm.providers or in the request)");
			note_failure(c, p, oc, 0);
			continue;
		}
		if (try_provider(c, p, model, oc) == 0) {
			set_cooldown(c->llm, p, 0);
			return 0;
		}
		note_failure(c, p, oc, c->attempts - before);
		if (oc->retryable)
			set_cooldown(c->llm, p, 1);
		if (oc->final)
			return -1;
	}
	return -1;
}

/* ---- budgets ---- */

static double min_limit(double a, double b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

/* A rough token count of the prompt: 4 bytes a token, as providers'
 * own estimates go.  Budgets use it before the real count is known. */
static int64_t estimate_input(const struct llm_req *req)
{
	char *text = cJSON_PrintUnformatted(req->messages);
	int64_t n = text ? (int64_t)strlen(text) / 4 + 1 : 0;

	cJSON_free(text);
	return n;
}

/* The run's budget: fails when spent, else narrows what is left. */
static int check_run_budget(struct call *c, double *usd_left,
			    double *tok_left, struct sutra_err *err)
{
	const struct llm_limits *b = &c->llm->cfg.budget;
	const char *run = c->o->run_id;
	double usd;
	int64_t tokens;

	if (!run || !c->o->state || (b->usd_per_run < 0 && b->tokens_per_run < 0))
		return 0;
	if (llm_spent(c->o->state, run, NULL, &usd, &tokens, err) < 0)
		return -1;
	if (b->usd_per_run >= 0 && usd >= b->usd_per_run)
		return err_set(err, SUTRA_EBUDGET,
			       "llm budget 'usd_per_run' exceeded: run '%s' "
			       "spent $%.6f of $%.6f",
			       run, usd, b->usd_per_run);
	if (b->tokens_per_run >= 0 && tokens >= b->tokens_per_run)
		return err_set(err, SUTRA_EBUDGET,
			       "llm budget 'tokens_per_run' exceeded: run '%s' "
			       "used %lld of %lld tokens",
			       run, (long long)tokens,
			       (long long)b->tokens_per_run);
	if (b->usd_per_run >= 0)
		*usd_left = min_limit(*usd_left, b->usd_per_run - usd);
	if (b->tokens_per_run >= 0)
		*tok_left = min_limit(*tok_left,
				      (double)(b->tokens_per_run - tokens));
	return 0;
}

/*
 * Checks the budgets before a call, and lowers max_tokens so that the
 * answer cannot take the call over what is left: a call that would
 * exceed a budget fails here, before it costs anything.  Prices are the
 * first provider's.
 */
static int check_budget(struct call *c, const struct llm_provider *p,
			struct sutra_err *err)
{
	const struct llm_limits *cfg = &c->llm->cfg.budget;
	double usd_left = min_limit(cfg->usd_per_call, c->req.limits.usd_per_call);
	double tok_left = min_limit((double)cfg->tokens_per_call,
				    (double)c->req.limits.tokens_per_call);
	int64_t est = estimate_input(&c->req);
	double est_usd = llm_cost(&p->price, est, 0, 0);
	int64_t cap = c->req.max_tokens ? c->req.max_tokens : p->max_tokens;
	double max_out;

	if (check_run_budget(c, &usd_left, &tok_left, err) < 0)
		return -1;
	if (usd_left >= 0 && est_usd >= usd_left)
		return err_set(err, SUTRA_EBUDGET,
			       "llm budget 'usd' exceeded: the prompt alone "
			       "would cost $%.6f of $%.6f left",
			       est_usd, usd_left);
	if (tok_left >= 0 && (double)est >= tok_left)
		return err_set(err, SUTRA_EBUDGET,
			       "llm budget 'tokens' exceeded: the prompt alone "
			       "is about %lld tokens of %.0f left",
			       (long long)est, tok_left);
	max_out = tok_left >= 0 ? tok_left - (double)est : -1;
	if (usd_left >= 0 && p->price.output_per_mtok > 0)
		max_out = min_limit(max_out, (usd_left - est_usd) * 1e6 /
						     p->price.output_per_mtok);
	if (max_out >= 0 && max_out < (double)cap)
		c->req.max_tokens = max_out >= 1 ? (int64_t)max_out : 1;
	return 0;
}

/* ---- cache, response, accounting ---- */

static int use_cache(const struct call *c)
{
	if (c->o->no_cache || !c->o->state || c->req.cache == 0)
		return 0;
	return c->req.cache == 1 || (c->llm->cfg.cache && c->req.has_temperature &&
				     c->req.temperature == 0);
}

static double elapsed_ms(const struct call *c)
{
	return (double)(now_ns() - c->start_ns) / 1e6;
}

/* Sets a member, replacing one that is there. */
static void put(cJSON *o, const char *k, cJSON *v)
{
	if (cJSON_GetObjectItemCaseSensitive(o, k))
		cJSON_ReplaceItemInObjectCaseSensitive(o, k, v);
	else
		cJSON_AddItemToObject(o, k, v);
}

static cJSON *response(struct call *c, struct sutra_err *err)
{
	cJSON *o = llm_result_json(&c->res);
	const struct llm_result *r = &c->res;

	if (!o) {
		err_set(err, SUTRA_ENOMEM, "out of memory");
		return NULL;
	}
	put(o, "provider", cJSON_CreateString(c->provider->name));
	if (!r->model)
		put(o, "model", cJSON_CreateString(c->model));
	put(o, "cost_usd", cJSON_CreateNumber(llm_cost(
				   &c->provider->price, r->tokens_in,
				   r->tokens_out, r->tokens_cached)));
	put(o, "cached", cJSON_CreateFalse());
	put(o, "latency_ms", cJSON_CreateNumber(elapsed_ms(c)));
	put(o, "retries", cJSON_CreateNumber(c->attempts - 1));
	put(o, "failed_over", cJSON_Duplicate(c->failed_over, 1));
	return o;
}

static void record(struct call *c, const cJSON *resp, int cache_hit,
		   const struct sutra_err *failure)
{
	static const char *const status_of[] = {
		[SUTRA_ETIMEOUT] = "timeout",
		[SUTRA_ECANCELED] = "canceled",
		[SUTRA_EBUDGET] = "budget",
	};
	struct sutra_err e = {0};
	const char *status = "ok";

	if (!c->o->state)
		return;
	if (failure) {
		int code = failure->code;
		status = code >= 0 && code < (int)(sizeof(status_of) /
						   sizeof(*status_of)) &&
					 status_of[code]
				 ? status_of[code]
				 : "error";
	}
	struct llm_call_record rec = {
		.run_id = c->o->run_id,
		.step_id = c->o->step_id,
		.provider = c->provider ? c->provider->name : "",
		.model = c->model,
		/* A cache hit spends nothing: it counts no tokens. */
		.tokens_in = cache_hit ? 0 : c->res.tokens_in,
		.tokens_out = cache_hit ? 0 : c->res.tokens_out,
		.tokens_cached = cache_hit ? 0 : c->res.tokens_cached,
		.cost_usd = resp && !cache_hit
				    ? cJSON_GetNumberValue(cJSON_GetObjectItem(
					      resp, "cost_usd"))
				    : 0,
		.latency_ms = elapsed_ms(c),
		.retries = c->attempts > 0 ? c->attempts - 1 : 0,
		.cache_hit = cache_hit,
		.status = status,
		.error = failure ? failure->msg : NULL,
	};
	/* The answer is paid for already: failing to write its row must not
	 * lose it.  Say so in the log instead. */
	if (llm_store_record(c->o->state, &rec, &e) < 0)
		log_printf(LOG_WARN, "llm: call not recorded: %s", e.msg);
}

static int from_cache(struct call *c, const char *key, cJSON **out,
		      struct sutra_err *err)
{
	cJSON *hit = NULL;
	const cJSON *text;

	if (llm_store_cache_get(c->o->state, key, &hit, err) < 0)
		return -1;
	if (!hit)
		return 0;
	put(hit, "cached", cJSON_CreateTrue());
	put(hit, "cost_usd", cJSON_CreateNumber(0));
	put(hit, "latency_ms", cJSON_CreateNumber(elapsed_ms(c)));
	put(hit, "retries", cJSON_CreateNumber(0));
	put(hit, "failed_over", cJSON_CreateArray());
	text = cJSON_GetObjectItemCaseSensitive(hit, "text");
	/* A streaming caller still gets the text through its callback. */
	if (c->o->on_delta && cJSON_IsString(text) && *text->valuestring)
		c->o->on_delta(c->o->delta_ud, text->valuestring,
			       strlen(text->valuestring));
	record(c, hit, 1, NULL);
	*out = hit;
	return 1;
}

/* ---- llm_chat ---- */

static int final_error(struct call *c, const struct outcome *oc,
		       struct sutra_err *err)
{
	/* One kind of failure keeps its class (all unreachable: exit 3);
	 * a mixture is a plain failure. */
	int code = c->mixed_codes ? SUTRA_EFAILED : c->first_code;

	if (!code)
		code = oc->code ? oc->code : SUTRA_EFAILED;
	return err_set(err, code, "llm: %s", c->failures);
}

static struct llm_provider *first_provider(struct call *c,
					   struct sutra_err *err)
{
	const struct llm_config *cfg = &c->llm->cfg;
	struct llm_provider *p;

	if (cfg->n_providers == 0) {
		err_set(err, SUTRA_ERUNTIME,
			"llm: no provider configured (add llm.providers to "
			"sutra.yaml, or set SUTRA_LLM_BASE_URL)");
		return NULL;
	}
	if (!c->req.provider)
		return &cfg->providers[cfg->default_provider];
	if (!(p = llm_config_find(cfg, c->req.provider)))
		err_set(err, SUTRA_EUSAGE,
			"llm: unknown provider '%s' (not in llm.providers)",
			c->req.provider);
	return p;
}

/* Everything after the request checks; c->req is valid. */
static int chat(struct call *c, cJSON **out, struct sutra_err *err)
{
	struct llm_provider *first = first_provider(c, err);
	struct outcome oc = {0};
	char key[65];
	int cache;

	if (!first)
		return -1;
	c->provider = first;
	c->model = c->req.model ? c->req.model : first->model;
	cache = use_cache(c);
	if (cache && (llm_req_cache_key(&c->req, first->name,
					c->model ? c->model : "", key,
					err) < 0 ||
		      from_cache(c, key, out, err) != 0))
		return *out ? 0 : -1;
	if (check_budget(c, first, err) < 0) {
		record(c, NULL, 0, err);
		return -1;
	}
	if (run_chain(c, first, &oc) < 0) {
		final_error(c, &oc, err);
		record(c, NULL, 0, err);
		return -1;
	}
	if (!(*out = response(c, err)))
		return -1;
	record(c, *out, 0, NULL);
	if (cache) {
		struct sutra_err e = {0};
		/* The answer is good; a cache that cannot take it is only
		 * worth a warning. */
		if (llm_store_cache_put(c->o->state, key, *out, &e) < 0)
			log_printf(LOG_WARN, "llm: answer not cached: %s", e.msg);
	}
	return 0;
}

int llm_chat(struct llm *llm, const struct llm_call_opts *opts,
	     const cJSON *request, cJSON **response_out,
	     struct sutra_err *err)
{
	struct call c = {.llm = llm, .o = opts, .start_ns = now_ns()};
	int rc;

	*response_out = NULL;
	if (llm_req_parse(request, &c.req, err) < 0)
		return -1;
	llm_result_init(&c.res, NULL, NULL);
	if (!(c.failed_over = cJSON_CreateArray())) {
		llm_req_free(&c.req);
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	}
	rc = chat(&c, response_out, err);
	llm_result_free(&c.res);
	cJSON_Delete(c.failed_over);
	llm_req_free(&c.req);
	return rc;
}

/* ---- the runtime's effect ---- */

struct llm *llm_of(struct runtime *rt)
{
	return rt ? rt->llm : NULL;
}

/* rt->llm_chat: what agent_llm (Lua ctx.llm.chat, the plugin host's
 * llm_chat) reaches after the permission check. */
static int effect(struct agent_ctx *ctx, const cJSON *request,
		  cJSON **result, struct sutra_err *err)
{
	struct state *st = runtime_state(ctx->rt, err);
	struct llm_call_opts o = {
		.run_id = ctx->run_id,
		.step_id = ctx->step_id,
		.deadline_ns = ctx->deadline_ns,
		.cancel = ctx->cancel,
		.state = st,
	};

	*result = NULL;
	if (!st)
		return -1;
	return llm_chat(ctx->rt->llm, &o, request, result, err);
}

static void free_layer(void *llm)
{
	llm_free(llm);
}

int llm_runtime_init(struct runtime *rt, struct sutra_err *err)
{
	struct llm *llm;

	if (llm_open(config_section(rt->config, "llm"), rt->config->path, &llm,
		     err) < 0)
		return -1;
	rt->llm = llm;
	rt->llm_free = free_layer;
	return 0;
}

int llm_effect(struct agent_ctx *ctx, const cJSON *request, cJSON **result,
	       struct sutra_err *err)
{
	return effect(ctx, request, result, err);
}
