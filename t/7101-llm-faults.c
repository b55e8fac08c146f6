/*
 * 7101-llm-faults: llm_chat against the fake provider (t/fakellm.py):
 * both wire formats, streaming and not, tool calls, and every injected
 * fault with the retries, failover and final error it must produce; plus
 * headers, cancel, deadlines, connection reuse, concurrency, accounting,
 * the cache and budgets.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "fakellm.h"
#include "llm_impl.h"
#include "state.h"
#include "tap.h"
#include "util.h"

static struct fake fake;
static struct state *st;
static struct llm *llm;

static const char *S(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);

	return cJSON_IsString(v) ? v->valuestring : "(not text)";
}

static double N(const cJSON *o, const char *k)
{
	return cJSON_GetNumberValue(cJSON_GetObjectItem(o, k));
}

static struct llm *open_llm(const char *extra)
{
	char text[2048];
	struct sutra_err err = {0};
	struct llm *l;
	cJSON *sec;

	snprintf(text, sizeof(text),
		 "{\"default\": \"oa\", \"retries\": 2, \"backoff\": \"20ms\","
		 " \"backoff_max\": \"80ms\", \"timeout\": \"700ms\","
		 " \"idle_timeout\": \"300ms\", \"retry_after_max\": \"2s\","
		 " \"providers\": ["
		 "{\"name\": \"oa\", \"kind\": \"openai\", \"base_url\": "
		 "\"http://127.0.0.1:%d/v1\", \"model\": \"m-oa\", "
		 "\"api_key_env\": \"T7101_OA_KEY\", \"price\": "
		 "{\"input_per_mtok\": 1000, \"output_per_mtok\": 2000}},"
		 "{\"name\": \"an\", \"kind\": \"anthropic\", \"base_url\": "
		 "\"http://127.0.0.1:%d\", \"model\": \"m-an\", "
		 "\"api_key_env\": \"T7101_AN_KEY\"},"
		 "{\"name\": \"dead\", \"kind\": \"openai\", \"base_url\": "
		 "\"http://127.0.0.1:1/v1\", \"model\": \"m-dead\"},"
		 "{\"name\": \"nokey\", \"kind\": \"openai\", \"base_url\": "
		 "\"http://127.0.0.1:%d/v1\", \"model\": \"m\", "
		 "\"api_key_env\": \"T7101_UNSET\"}]%s}",
		 fake.port, fake.port, fake.port, extra ? extra : "");
	if (!(sec = cJSON_Parse(text)))
		bail("bad config JSON");
	if (llm_open(sec, "test.yaml", &l, &err) < 0)
		bail("llm_open: %s", err.msg);
	cJSON_Delete(sec);
	return l;
}

struct deltas {
	char text[1024];
	int calls;
};

static int on_delta(void *ud, const char *t, size_t n)
{
	struct deltas *d = ud;
	size_t used = strlen(d->text);

	snprintf(d->text + used, sizeof(d->text) - used, "%.*s", (int)n, t);
	d->calls++;
	return 0;
}

/* One call; returns rc.  *resp and err as llm_chat. */
static int chat_with(struct llm *l, const char *req_json,
		     struct llm_call_opts *o, cJSON **resp,
		     struct sutra_err *err)
{
	cJSON *req = cJSON_Parse(req_json);
	int rc;

	if (!req)
		bail("bad request JSON: %s", req_json);
	rc = llm_chat(l, o, req, resp, err);
	cJSON_Delete(req);
	return rc;
}

static void test_happy(void)
{
	struct llm_call_opts o = {.state = st};
	struct sutra_err err = {0};
	struct deltas d = {{0}, 0};
	cJSON *r = NULL, *log;

	fake_reset(&fake);
	is_int(chat_with(llm, "{\"prompt\": \"hi\"}", &o, &r, &err), 0,
	       "openai: a plain call works: %s", err.msg);
	is_str(S(r, "text"), "echo: hi", "openai: text");
	is_str(S(r, "provider"), "oa", "provider named");
	is_str(S(r, "model"), "m-oa", "model named");
	ok(N(r, "cost_usd") > 0.0199 && N(r, "cost_usd") < 0.0201,
	   "cost from the price table (10 in, 5 out): %g", N(r, "cost_usd"));
	ok(cJSON_IsFalse(cJSON_GetObjectItem(r, "cached")), "not cached");
	cJSON_Delete(r);
	log = fake_log(&fake);
	cJSON *h = cJSON_GetObjectItem(cJSON_GetArrayItem(log, 0), "headers");
	is_str(S(h, "authorization"), "Bearer sk-test-7101-SECRET",
	       "bearer key from api_key_env");
	ok(!cJSON_GetObjectItem(h, "expect"), "no Expect header");
	is_str(S(h, "content-type"), "application/json", "JSON body");
	cJSON_Delete(log);

	fake_reset(&fake);
	is_int(chat_with(llm, "{\"provider\": \"an\", \"system\": \"sys\","
			      " \"prompt\": \"yo\"}", &o, &r, &err), 0,
	       "anthropic: a plain call works");
	is_str(S(r, "text"), "echo: yo", "anthropic: text");
	cJSON_Delete(r);
	log = fake_log(&fake);
	cJSON *e = cJSON_GetArrayItem(log, 0);
	h = cJSON_GetObjectItem(e, "headers");
	is_str(S(h, "x-api-key"), "sk-ant-7101-SECRET", "x-api-key header");
	is_str(S(h, "anthropic-version"), "2023-06-01", "anthropic-version");
	is_str(S(cJSON_GetObjectItem(e, "body"), "system"), "sys",
	       "system prompt at top level");
	is_str(S(e, "path"), "/v1/messages", "POST /v1/messages");
	cJSON_Delete(log);

	o.on_delta = on_delta;
	o.delta_ud = &d;
	fake_script(&fake, "{\"steps\": [{\"chunk\": 1}]}");
	is_int(chat_with(llm, "{\"prompt\": \"stream me\", \"stream\": true}",
			 &o, &r, &err), 0, "openai stream, one byte a write");
	is_str(S(r, "text"), "echo: stream me", "stream text");
	is_str(d.text, "echo: stream me", "deltas reached the callback");
	ok(d.calls > 1, "as several deltas (%d)", d.calls);
	is_int(N(cJSON_GetObjectItem(r, "usage"), "input"), 10,
	       "usage from include_usage");
	cJSON_Delete(r);

	memset(&d, 0, sizeof(d));
	fake_script(&fake, "{\"steps\": [{\"chunk\": 2, \"text\": \"ok\", "
			   "\"tool_calls\": [{\"name\": \"f\", \"arguments\": "
			   "\"{\\\"x\\\": [1, 2]}\"}]}]}");
	is_int(chat_with(llm, "{\"provider\": \"an\", \"prompt\": \"t\", "
			      "\"stream\": true, \"tools\": [{\"name\": \"f\"}]}",
			 &o, &r, &err), 0, "anthropic stream with a tool call");
	cJSON *tc = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "tool_calls"), 0);
	is_str(S(tc, "name"), "f", "tool name");
	is_int(cJSON_GetArraySize(cJSON_GetObjectItem(
		       cJSON_GetObjectItem(tc, "arguments"), "x")), 2,
	       "tool input joined from input_json_delta");
	is_str(S(r, "finish_reason"), "tool_calls", "finish_reason");
	cJSON_Delete(r);

	o.on_delta = NULL;
	fake_script(&fake, "{\"steps\": [{\"tool_calls\": [{\"name\": \"g\", "
			   "\"arguments\": \"{broken\"}]}]}");
	is_int(chat_with(llm, "{\"prompt\": \"t\", \"tools\": [{\"type\": "
			      "\"function\", \"function\": {\"name\": \"g\"}}]}",
			 &o, &r, &err), 0, "openai tool call");
	tc = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "tool_calls"), 0);
	is_str(S(tc, "arguments_text"), "{broken",
	       "invalid arguments kept as text");
	cJSON_Delete(r);
}

/* A fault case: what the server does, and what the call must give. */
struct fault {
	const char *name, *provider, *steps;
	int stream, show;            /* stream; deltas reach a callback */
	int want_code;               /* 0: success */
	int want_requests;
	int want_attempts;           /* ours; curl retries a reused
					connection that died once itself */
	const char *want_msg;        /* in the error, or NULL */
	int min_ms;                  /* the call took at least this */
};

static const struct fault faults[] = {
	/* name, provider, steps, stream, show, code, requests, attempts,
	 * message, min_ms */
	{"500 twice then ok", "oa", "[{\"status\":500},{\"status\":500}]",
	 0, 0, 0, 3, 3, NULL, 0},
	{"500 every time", "oa",
	 "[{\"status\":500},{\"status\":500},{\"status\":500}]", 0, 0,
	 SUTRA_EFAILED, 3, 3, "HTTP 500: server_error: injected error 500 (3 "
	 "attempts)", 0},
	{"429 with Retry-After: 1", "oa",
	 "[{\"status\":429,\"headers\":{\"Retry-After\":\"1\"}}]", 0, 0, 0,
	 2, 2, NULL, 950},
	{"429 with retry-after-ms", "oa",
	 "[{\"status\":429,\"headers\":{\"retry-after-ms\":\"300\","
	 "\"Retry-After\":\"9\"}}]", 0, 0, 0, 2, 2, NULL, 290},
	{"429 Retry-After over the cap", "oa",
	 "[{\"status\":429,\"headers\":{\"Retry-After\":\"60\"}}]", 0, 0,
	 SUTRA_EFAILED, 1, 1, "retry_after_max", 0},
	{"spend-limit 429", "oa",
	 "[{\"status\":429,\"error_type\":\"insufficient_quota\","
	 "\"error_code\":\"insufficient_quota\",\"message\":\"You exceeded "
	 "your current quota\"}]", 0, 0, SUTRA_EFAILED, 1, 1,
	 "insufficient_quota", 0},
	{"529 overloaded (anthropic)", "an",
	 "[{\"status\":529,\"error_type\":\"overloaded_error\"}]", 0, 0, 0,
	 2, 2, NULL, 0},
	{"408", "oa", "[{\"status\":408}]", 0, 0, 0, 2, 2, NULL, 0},
	{"409", "oa", "[{\"status\":409}]", 0, 0, 0, 2, 2, NULL, 0},
	{"400", "oa", "[{\"status\":400}]", 0, 0, SUTRA_EFAILED, 1, 1,
	 "HTTP 400", 0},
	{"401", "an", "[{\"status\":401,\"error_type\":"
	 "\"authentication_error\",\"message\":\"invalid x-api-key\"}]", 0, 0,
	 SUTRA_EFAILED, 1, 1,
	 "HTTP 401: authentication_error: invalid x-api-key", 0},
	{"403", "oa", "[{\"status\":403}]", 0, 0, SUTRA_EFAILED, 1, 1, "403",
	 0},
	{"404", "oa", "[{\"status\":404}]", 0, 0, SUTRA_EFAILED, 1, 1, "404",
	 0},
	{"413", "oa", "[{\"status\":413}]", 0, 0, SUTRA_EFAILED, 1, 1, "413",
	 0},
	{"422", "oa", "[{\"status\":422}]", 0, 0, SUTRA_EFAILED, 1, 1, "422",
	 0},
	{"slow first byte", "oa", "[{\"delay_ms\":1200}]", 0, 0, 0, 2, 2, NULL,
	 690},
	{"slow first byte every time", "oa", "[{\"delay_ms\":1200},"
	 "{\"delay_ms\":1200},{\"delay_ms\":1200}]", 0, 0, SUTRA_ETIMEOUT, 3,
	 3, "within 700 ms", 0},
	{"stall mid-stream, nothing shown", "oa",
	 "[{\"stall_after\":3,\"stall_ms\":1500}]", 1, 0, 0, 2, 2, NULL, 290},
	{"stall mid-stream after text was shown", "oa",
	 "[{\"stall_after\":3,\"stall_ms\":1500}]", 1, 1, SUTRA_ETIMEOUT, 1,
	 1, "stream silent for 300 ms", 0},
	{"truncated stream, nothing shown", "an", "[{\"truncate_after\":4}]",
	 1, 0, 0, 2, 2, NULL, 0},
	{"truncated stream after text was shown", "oa",
	 "[{\"truncate_after\":3}]", 1, 1, SUTRA_EFAILED, 1, 1,
	 "connection failed", 0},
	{"stream without its end marker but complete", "an",
	 "[{\"no_done\":true}]", 1, 0, 0, 1, 1, NULL, 0},
	{"connection reset (curl retries it once)", "oa",
	 "[{\"reset\":true}]", 0, 0, 0, 2, 1, NULL, 0},
	{"connection reset every time", "an", "[{\"reset\":true},"
	 "{\"reset\":true},{\"reset\":true},{\"reset\":true}]", 0, 0,
	 SUTRA_EFAILED, 4, 3, "connection failed", 0},
	{"malformed JSON", "oa", "[{\"malformed\":true}]", 0, 0,
	 SUTRA_EFAILED, 1, 1, "not valid JSON", 0},
	{"wrong content type", "oa", "[{\"content_type\":\"text/html\"}]", 0,
	 0, SUTRA_EFAILED, 1, 1, "unexpected content type 'text/html'", 0},
	{"stream answered as plain JSON", "oa",
	 "[{\"content_type\":\"application/json\"}]", 1, 0, SUTRA_EFAILED, 1,
	 1, "not valid JSON", 0},
	{"error event after 200 (anthropic)", "an", "[{\"error_after\":3}]",
	 1, 0, 0, 2, 2, NULL, 0},
	{"error event after text was shown", "an", "[{\"error_after\":4}]", 1,
	 1, SUTRA_EFAILED, 1, 1, "error inside the stream: overloaded_error",
	 0},
	{"non-retryable error chunk (openai)", "oa",
	 "[{\"error_after\":1,\"error_event_type\":\"invalid_request_error\"}]",
	 1, 0, SUTRA_EFAILED, 1, 1, "invalid_request_error", 0},
};

static void run_fault(const struct fault *f)
{
	struct deltas d = {{0}, 0};
	struct llm_call_opts o = {.state = st};
	struct sutra_err err = {0};
	char req[256], steps[1024];
	cJSON *r = NULL;

	/* Start from a live, reused connection, as a busy worker would. */
	chat_with(llm, "{\"prompt\": \"warm\"}", &o, &r, &err);
	cJSON_Delete(r);
	r = NULL;
	fake_reset(&fake);
	snprintf(steps, sizeof(steps), "{\"steps\": %s}", f->steps);
	fake_script(&fake, steps);
	snprintf(req, sizeof(req),
		 "{\"provider\": \"%s\", \"prompt\": \"fault test\", "
		 "\"stream\": %s, \"fallback\": false}",
		 f->provider, f->stream ? "true" : "false");
	if (f->show) {
		o.on_delta = on_delta;
		o.delta_ud = &d;
	}
	int64_t t0 = now_ns();
	int rc = chat_with(llm, req, &o, &r, &err);
	int ms = (int)((now_ns() - t0) / 1000000);
	if (f->want_code == 0)
		ok(rc == 0 && strcmp(S(r, "text"), "echo: fault test") == 0,
		   "%s: answered (%s)", f->name, err.msg);
	else
		ok(rc < 0 && err.code == f->want_code && !r,
		   "%s: fails with %s (got %s: %s)", f->name,
		   err_name(f->want_code), err_name(err.code), err.msg);
	is_int(fake_stat(&fake, "requests"), f->want_requests,
	       "%s: %d request(s)", f->name, f->want_requests);
	if (f->want_msg)
		ok(strstr(err.msg, f->want_msg) &&
			   strstr(err.msg, f->provider),
		   "%s: error names provider and cause: %s", f->name, err.msg);
	if (f->min_ms)
		ok(ms >= f->min_ms, "%s: waited (%d ms >= %d)", f->name, ms,
		   f->min_ms);
	if (rc == 0)
		is_int(N(r, "retries"), f->want_attempts - 1,
		       "%s: retries counted", f->name);
	else
		ok(f->want_attempts != 1 || strstr(err.msg, "(1 attempt)"),
		   "%s: one attempt said", f->name);
	cJSON_Delete(r);
}

static void test_failover(void)
{
	struct llm_call_opts o = {.state = st};
	struct sutra_err err = {0};
	struct llm *l = open_llm(", \"fallback\": [\"oa\", \"an\"]");
	cJSON *r = NULL;
	int64_t t0;

	fake_reset(&fake);
	is_int(chat_with(l, "{\"provider\": \"dead\", \"prompt\": \"fo\"}", &o,
			 &r, &err), 0, "dead provider fails over: %s", err.msg);
	is_str(S(r, "provider"), "oa", "the fallback answered");
	is_str(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "failed_over"), 0)
		       ->valuestring, "dead", "failed_over names the dead one");
	is_int(N(r, "retries"), 3, "3 attempts at dead + 1 at oa");
	cJSON_Delete(r);
	t0 = now_ns();
	is_int(chat_with(l, "{\"provider\": \"dead\", \"prompt\": \"fo\"}", &o,
			 &r, &err), 0, "again");
	is_int(cJSON_GetArraySize(cJSON_GetObjectItem(r, "failed_over")), 0,
	       "a cooling provider goes last: no failed_over");
	ok(now_ns() - t0 < 40 * 1000000LL, "and no time lost on it");
	cJSON_Delete(r);

	fake_script(&fake, "{\"steps\": [{\"status\": 500}, {\"status\": 500},"
			   " {\"status\": 500}]}");
	is_int(chat_with(l, "{\"prompt\": \"x\"}", &o, &r, &err), 0,
	       "500s from oa fail over to an");
	is_str(S(r, "provider"), "an", "an answered");
	cJSON_Delete(r);
	llm_free(l);

	l = open_llm(NULL);
	err_clear(&err);
	ok(chat_with(l, "{\"provider\": \"dead\", \"prompt\": \"x\"}", &o, &r,
		     &err) < 0 && err.code == SUTRA_ERUNTIME &&
		   strstr(err.msg, "provider 'dead': unreachable"),
	   "unreachable is a runtime error (exit 3): %s", err.msg);
	err_clear(&err);
	ok(chat_with(l, "{\"provider\": \"nokey\", \"prompt\": \"x\"}", &o, &r,
		     &err) < 0 && err.code == SUTRA_ERUNTIME &&
		   strstr(err.msg, "T7101_UNSET"),
	   "missing key names the variable: %s", err.msg);
	err_clear(&err);
	ok(chat_with(l, "{\"provider\": \"zz\", \"prompt\": \"x\"}", &o, &r,
		     &err) < 0 && err.code == SUTRA_EUSAGE,
	   "unknown provider is a usage error: %s", err.msg);
	llm_free(l);
}

static atomic_int cancel_flag;

static void *cancel_later(void *arg)
{
	struct timespec ts = {0, 150 * 1000000};

	(void)arg;
	nanosleep(&ts, NULL);
	atomic_store(&cancel_flag, 1);
	return NULL;
}

static void test_stop(void)
{
	struct llm_call_opts o = {.state = st, .cancel = &cancel_flag};
	struct sutra_err err = {0};
	cJSON *r = NULL;
	pthread_t t;
	int64_t t0;

	fake_script(&fake, "{\"steps\": [{\"delay_ms\": 3000}]}");
	pthread_create(&t, NULL, cancel_later, NULL);
	t0 = now_ns();
	ok(chat_with(llm, "{\"prompt\": \"c\"}", &o, &r, &err) < 0 &&
		   err.code == SUTRA_ECANCELED,
	   "cancel flag stops the call: %s", err.msg);
	ok(now_ns() - t0 < 400 * 1000000LL, "at once (%lld ms)",
	   (long long)((now_ns() - t0) / 1000000));
	pthread_join(t, NULL);

	atomic_store(&cancel_flag, 0);
	err_clear(&err);
	fake_script(&fake, "{\"steps\": [{\"delay_ms\": 3000}]}");
	o.deadline_ns = now_ns() + 200 * 1000000LL;
	t0 = now_ns();
	ok(chat_with(llm, "{\"prompt\": \"d\"}", &o, &r, &err) < 0 &&
		   err.code == SUTRA_ETIMEOUT,
	   "deadline stops the call: %s", err.msg);
	ok(now_ns() - t0 < 450 * 1000000LL, "at the deadline (%lld ms)",
	   (long long)((now_ns() - t0) / 1000000));
	/* Let the server finish its sleeping handler. */
	fake_reset(&fake);
}

static int count_rows(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int n = -1;

	if (sqlite3_open(state_path(st), &db) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

static void test_accounting(void)
{
	struct llm_call_opts o = {.state = st, .run_id = "run-1",
				  .step_id = "s1"};
	struct sutra_err err = {0};
	cJSON *r = NULL;

	fake_reset(&fake);
	int before = count_rows("SELECT count(*) FROM llm_calls");
	chat_with(llm, "{\"prompt\": \"acc\", \"temperature\": 0}", &o, &r,
		  &err);
	cJSON_Delete(r);
	is_int(count_rows("SELECT count(*) FROM llm_calls WHERE run = 'run-1' "
			  "AND step = 's1' AND provider = 'oa' AND "
			  "tokens_in = 10 AND tokens_out = 5 AND status = 'ok' "
			  "AND cost_usd > 0.0199 AND cache_hit = 0"),
	       1, "the call is recorded with run, step, tokens, cost");
	ok(chat_with(llm, "{\"prompt\": \"acc\", \"temperature\": 0}", &o, &r,
		     &err) == 0 &&
		   cJSON_IsTrue(cJSON_GetObjectItem(r, "cached")),
	   "temperature 0 repeats come from the cache");
	is_str(S(r, "text"), "echo: acc", "cached text");
	cJSON_Delete(r);
	is_int(fake_stat(&fake, "requests"), 1, "one request for two calls");
	is_int(count_rows("SELECT hits FROM llm_cache"), 1, "hit counted");
	is_int(count_rows("SELECT count(*) FROM llm_calls WHERE cache_hit = 1"
			  " AND cost_usd = 0"),
	       1, "the hit is recorded, at no cost");
	o.no_cache = 1;
	chat_with(llm, "{\"prompt\": \"acc\", \"temperature\": 0}", &o, &r,
		  &err);
	ok(cJSON_IsFalse(cJSON_GetObjectItem(r, "cached")), "--no-cache asks");
	cJSON_Delete(r);
	o.no_cache = 0;
	chat_with(llm, "{\"prompt\": \"acc\", \"temperature\": 0.7}", &o, &r,
		  &err);
	ok(cJSON_IsFalse(cJSON_GetObjectItem(r, "cached")),
	   "temperature > 0 is not cached");
	cJSON_Delete(r);
	chat_with(llm, "{\"prompt\": \"acc\", \"temperature\": 0.7, "
		       "\"cache\": true}", &o, &r, &err);
	cJSON_Delete(r);
	chat_with(llm, "{\"prompt\": \"acc\", \"temperature\": 0.7, "
		       "\"cache\": true}", &o, &r, &err);
	ok(cJSON_IsTrue(cJSON_GetObjectItem(r, "cached")), "cache: true caches");
	cJSON_Delete(r);
	chat_with(llm, "{\"prompt\": \"another\"}", &o, &r, &err);
	cJSON_Delete(r);
	is_int(count_rows("SELECT count(*) FROM llm_calls") - before, 7,
	       "every call leaves one row");
	double usd;
	int64_t tokens;
	llm_spent(st, "run-1", "s1", &usd, &tokens, &err);
	is_int(tokens, 75, "llm_spent sums tokens of the step (5 paid calls)");
}

static void test_budgets(void)
{
	struct llm_call_opts o = {.state = st, .run_id = "run-b"};
	struct sutra_err err = {0};
	struct llm *l = open_llm(", \"budget\": {\"usd_per_run\": 0.03}");
	cJSON *r = NULL, *log;

	fake_reset(&fake);
	is_int(chat_with(l, "{\"prompt\": \"b1\"}", &o, &r, &err), 0,
	       "first call within the run budget");
	cJSON_Delete(r);
	log = fake_log(&fake);
	cJSON *body = cJSON_GetObjectItem(cJSON_GetArrayItem(log, 0), "body");
	ok(N(body, "max_tokens") >= 1 && N(body, "max_tokens") <= 15,
	   "max_tokens lowered to what the budget affords: %g",
	   N(body, "max_tokens"));
	cJSON_Delete(log);
	chat_with(l, "{\"prompt\": \"b2\"}", &o, &r, &err);
	cJSON_Delete(r);
	err_clear(&err);
	ok(chat_with(l, "{\"prompt\": \"b3\"}", &o, &r, &err) < 0 &&
		   err.code == SUTRA_EBUDGET &&
		   strstr(err.msg, "usd_per_run") && strstr(err.msg, "run-b"),
	   "over the run budget: %s", err.msg);
	is_int(fake_stat(&fake, "requests"), 2, "the refused call cost nothing");
	is_int(count_rows("SELECT count(*) FROM llm_calls WHERE run = 'run-b'"
			  " AND status = 'budget'"),
	       1, "the refusal is recorded");
	llm_free(l);
	err_clear(&err);
	ok(chat_with(llm, "{\"prompt\": \"a long prompt of many words\", "
			  "\"budget\": {\"tokens\": 3}}", &o, &r, &err) < 0 &&
		   err.code == SUTRA_EBUDGET && strstr(err.msg, "'tokens'"),
	   "a prompt over the call's token budget: %s", err.msg);
}

struct worker {
	int calls;
	int rc;
	struct sutra_err err;
};

/* A worker thread: its own HTTP handle, released when it ends. */
static void *worker(void *arg)
{
	struct worker *w = arg;
	struct llm_call_opts o = {0};

	for (int i = 0; i < w->calls && w->rc == 0; i++) {
		cJSON *r = NULL;
		w->rc = chat_with(llm, "{\"prompt\": \"par\"}", &o, &r,
				  &w->err);
		cJSON_Delete(r);
	}
	llm_thread_done();
	return NULL;
}

static void test_concurrency(void)
{
	enum { N_THREADS = 8 };
	pthread_t t[N_THREADS];
	struct worker w[N_THREADS];
	int ok_all = 1;

	fake_reset(&fake);
	w[0] = (struct worker){.calls = 5};
	pthread_create(&t[0], NULL, worker, &w[0]);
	pthread_join(t[0], NULL);
	is_int(w[0].rc, 0, "a new worker makes five calls");
	is_int(fake_stat(&fake, "connections"), 1,
	       "over one connection");
	fake_script(&fake, "{\"default\": {\"delay_ms\": 300}}");
	int64_t t0 = now_ns();
	for (int i = 0; i < N_THREADS; i++) {
		w[i] = (struct worker){.calls = 1};
		pthread_create(&t[i], NULL, worker, &w[i]);
	}
	for (int i = 0; i < N_THREADS; i++) {
		pthread_join(t[i], NULL);
		ok_all &= w[i].rc == 0;
	}
	int ms = (int)((now_ns() - t0) / 1000000);
	ok(ok_all, "8 concurrent calls all answered");
	ok(ms < 600, "and overlapped: %d ms for 8 x 300 ms", ms);
	fake_script(&fake, "{\"default\": {}}");
}

int main(void)
{
	char db[] = "/tmp/sutra-7101.XXXXXX";
	struct sutra_err err = {0};
	char path[128];

	plan_lazy();
	if (fake_start(&fake) < 0)
		skip_all("cannot start t/fakellm.py (python3 missing?)");
	if (!mkdtemp(db))
		bail("mkdtemp");
	snprintf(path, sizeof(path), "%s/state.db", db);
	if (state_open(path, &st, &err) < 0)
		bail("state: %s", err.msg);
	setenv("T7101_OA_KEY", "sk-test-7101-SECRET", 1);
	setenv("T7101_AN_KEY", "sk-ant-7101-SECRET", 1);
	unsetenv("T7101_UNSET");
	llm = open_llm(NULL);
	test_happy();
	for (size_t i = 0; i < sizeof(faults) / sizeof(*faults); i++)
		run_fault(&faults[i]);
	test_failover();
	test_stop();
	test_accounting();
	test_budgets();
	test_concurrency();
	llm_free(llm);
	state_close(st);
	fake_stop(&fake);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", db);
	if (system(cmd) != 0)
		diag("could not remove %s", db);
	done_testing();
	return exit_status();
}
