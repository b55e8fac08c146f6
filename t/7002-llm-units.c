/*
 * 7002-llm-units: the LLM layer's pure parts: configuration and
 * environment overrides, request checks, both wire formats' encoders and
 * decoders, recorded streams fed one byte at a time, the retry policy,
 * Retry-After, URL redaction and the cache key.
 */
#include <stdlib.h>
#include <string.h>

#include "llm_impl.h"
#include "tap.h"

static cJSON *J(const char *text)
{
	cJSON *v = cJSON_Parse(text);

	if (!v)
		bail("bad JSON in test: %s", text);
	return v;
}

static const char *S(const cJSON *o, const char *path)
{
	/* "a.b.0.c": object keys and array indexes. */
	char buf[256], *save = NULL;
	const cJSON *v = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k && v;
	     k = strtok_r(NULL, ".", &save))
		v = (*k >= '0' && *k <= '9') ? cJSON_GetArrayItem(v, atoi(k))
					     : cJSON_GetObjectItem(v, k);
	if (cJSON_IsString(v))
		return v->valuestring;
	static char num[64];
	if (cJSON_IsNumber(v)) {
		snprintf(num, sizeof(num), "%g", v->valuedouble);
		return num;
	}
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v) ? "true" : "false";
	return v ? "(other)" : "(missing)";
}

static void test_config(void)
{
	struct llm_config cfg;
	struct sutra_err err = {0};
	cJSON *sec = J("{\"default\": \"b\", \"providers\": ["
		       "{\"name\": \"a\", \"kind\": \"openai\", \"base_url\": "
		       "\"http://h/v1/\", \"model\": \"m\", \"price\": "
		       "{\"input_per_mtok\": 3, \"output_per_mtok\": 15}},"
		       "{\"name\": \"b\", \"kind\": \"anthropic\", \"base_url\":"
		       " \"http://k\", \"model\": \"c\", \"api_key_env\": \"K\"}"
		       "], \"fallback\": [\"a\"], \"retries\": 3, \"timeout\": "
		       "\"2s\", \"cooldown\": 1.5, \"cache\": false,"
		       " \"budget\": {\"usd_per_run\": 0.5}}");

	unsetenv("SUTRA_LLM_PROVIDER");
	unsetenv("SUTRA_LLM_BASE_URL");
	unsetenv("SUTRA_LLM_MODEL");
	is_int(llm_config_parse(sec, "x.yaml", &cfg, &err), 0, "config parses");
	is_int(cfg.n_providers, 2, "two providers");
	is_int(cfg.default_provider, 1, "default is b");
	is_str(cfg.providers[0].base_url, "http://h/v1",
	       "trailing slash dropped");
	ok(cfg.providers[1].wire == &llm_wire_anthropic, "kind anthropic");
	is_int(cfg.retries, 3, "retries");
	is_int(cfg.timeout_ms, 2000, "timeout 2s");
	is_int(cfg.idle_timeout_ms, 2000, "idle timeout defaults to timeout");
	is_int(cfg.cooldown_ms, 1500, "cooldown as a number of seconds");
	is_int(cfg.cache, 0, "cache off");
	ok(cfg.budget.usd_per_run == 0.5, "usd_per_run");
	ok(cfg.providers[0].price.cached_per_mtok == 3,
	   "cached price defaults to the input price");
	is_int(cfg.n_fallback, 1, "fallback list");
	llm_config_free(&cfg);

	setenv("SUTRA_LLM_PROVIDER", "a", 1);
	setenv("SUTRA_LLM_BASE_URL", "http://127.0.0.1:1/v1", 1);
	setenv("SUTRA_LLM_MODEL", "override", 1);
	is_int(llm_config_parse(sec, "x.yaml", &cfg, &err), 0, "env parses");
	is_int(cfg.default_provider, 0, "SUTRA_LLM_PROVIDER picks a");
	is_str(cfg.providers[0].base_url, "http://127.0.0.1:1/v1",
	       "SUTRA_LLM_BASE_URL overrides the default's URL");
	is_str(cfg.providers[0].model, "override", "SUTRA_LLM_MODEL too");
	is_str(cfg.providers[1].model, "c", "other providers untouched");
	llm_config_free(&cfg);
	setenv("SUTRA_LLM_PROVIDER", "nope", 1);
	ok(llm_config_parse(sec, "x.yaml", &cfg, &err) < 0 &&
		   strstr(err.msg, "SUTRA_LLM_PROVIDER: 'nope'"),
	   "unknown SUTRA_LLM_PROVIDER named: %s", err.msg);
	setenv("SUTRA_LLM_PROVIDER", "anthropic", 1);
	err_clear(&err);
	is_int(llm_config_parse(NULL, NULL, &cfg, &err), 0,
	       "no section: a provider from the environment");
	ok(cfg.n_providers == 1 && cfg.providers[0].wire == &llm_wire_anthropic
		   && strcmp(cfg.providers[0].model, "override") == 0,
	   "env provider has the kind and model asked for");
	llm_config_free(&cfg);
	unsetenv("SUTRA_LLM_PROVIDER");
	unsetenv("SUTRA_LLM_BASE_URL");
	unsetenv("SUTRA_LLM_MODEL");
	cJSON_Delete(sec);

	static const struct {
		const char *yaml_json, *want;
	} bad[] = {
		{"{\"providers\": [{\"name\": \"a\", \"kind\": \"gemini\", "
		 "\"base_url\": \"u\"}]}", "unknown kind 'gemini'"},
		{"{\"providers\": [{\"name\": \"a\", \"kind\": \"openai\"}]}",
		 "needs name, kind and base_url"},
		{"{\"fallback\": [\"zz\"]}", "llm.fallback: 'zz'"},
		{"{\"timeout\": \"soon\"}", "llm.timeout: not a duration"},
		{"{\"retries\": 2.5}", "llm.retries: not an integer"},
		{"{\"colour\": 1}", "unknown setting 'colour'"},
		{"{\"budget\": {\"usd\": 1}}", "llm.budget: unknown setting"},
		{"{\"providers\": [{\"name\": \"a\", \"kind\": \"openai\", "
		 "\"base_url\": \"u\"}, {\"name\": \"a\", \"kind\": \"openai\", "
		 "\"base_url\": \"u\"}]}", "'a' defined twice"},
		{"{\"default\": \"x\"}", "llm.default: 'x'"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		cJSON *s = J(bad[i].yaml_json);
		err_clear(&err);
		ok(llm_config_parse(s, "p.yaml", &cfg, &err) < 0 &&
			   err.code == SUTRA_EUSAGE &&
			   strstr(err.msg, bad[i].want) &&
			   strncmp(err.msg, "p.yaml: ", 8) == 0,
		   "config error names it: %s", err.msg);
		cJSON_Delete(s);
	}
}

static void test_requests(void)
{
	static const struct {
		const char *json, *want;
	} bad[] = {
		{"[]", "not a JSON object"},
		{"{}", "needs messages or a prompt"},
		{"{\"system\": \"s\"}", "needs messages or a prompt"},
		{"{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}",
		 "needs a role"},
		{"{\"prompt\": \"x\", \"temperature\": -1}", "temperature"},
		{"{\"prompt\": \"x\", \"max_tokens\": 0.5}", "max_tokens"},
		{"{\"prompt\": \"x\", \"stream\": \"yes\"}", "stream must be"},
		{"{\"prompt\": \"x\", \"json\": 3}", "json must be"},
		{"{\"prompt\": \"x\", \"tools\": [{}]}", "each tool needs a name"},
		{"{\"prompt\": \"x\", \"budget\": 3}", "budget must be"},
	};
	struct sutra_err err = {0};
	struct llm_req req;

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		cJSON *j = J(bad[i].json);
		err_clear(&err);
		ok(llm_req_parse(j, &req, &err) < 0 &&
			   err.code == SUTRA_EUSAGE &&
			   strstr(err.msg, bad[i].want),
		   "bad request refused: %s", err.msg);
		cJSON_Delete(j);
	}
}

/* Encodes a request for a wire format; returns the body (new). */
static cJSON *encode(const struct llm_wire *w, const char *json)
{
	struct llm_provider p = {.name = "p", .wire = w, .max_tokens = 4096};
	struct sutra_err err = {0};
	struct llm_req req;
	cJSON *j = J(json), *body;

	if (llm_req_parse(j, &req, &err) < 0)
		bail("request: %s", err.msg);
	body = w->encode(&req, &p, "mdl", &err);
	llm_req_free(&req);
	cJSON_Delete(j);
	return body;
}

static const char conversation[] =
	"{\"system\": \"be brief\", \"messages\": ["
	"{\"role\": \"user\", \"content\": \"weather?\"},"
	"{\"role\": \"assistant\", \"content\": \"\", \"tool_calls\": "
	"[{\"id\": \"t1\", \"type\": \"function\", \"function\": {\"name\": "
	"\"get\", \"arguments\": \"{\\\"city\\\":\\\"Oslo\\\"}\"}}]},"
	"{\"role\": \"tool\", \"tool_call_id\": \"t1\", \"content\": \"-3C\"}],"
	"\"tools\": [{\"name\": \"get\", \"description\": \"d\", "
	"\"parameters\": {\"type\": \"object\"}}],"
	"\"temperature\": 0, \"stop\": [\"END\"], \"stream\": true}";

static void test_encode(void)
{
	cJSON *o = encode(&llm_wire_openai, conversation);
	cJSON *a = encode(&llm_wire_anthropic, conversation);

	is_str(S(o, "model"), "mdl", "openai: model");
	is_str(S(o, "messages.0.role"), "system", "openai: system message");
	is_str(S(o, "messages.2.tool_calls.0.function.arguments"),
	       "{\"city\":\"Oslo\"}", "openai: arguments stay text");
	is_str(S(o, "messages.3.tool_call_id"), "t1", "openai: tool result");
	is_str(S(o, "tools.0.type"), "function", "openai: tools wrapped");
	is_str(S(o, "stream_options.include_usage"), "true",
	       "openai: usage asked for in streams");
	is_str(S(o, "max_tokens"), "(missing)", "openai: no max_tokens unasked");
	is_str(S(a, "system"), "be brief", "anthropic: system at top level");
	is_str(S(a, "max_tokens"), "4096", "anthropic: max_tokens required");
	is_str(S(a, "messages.0.role"), "user", "anthropic: first is user");
	is_str(S(a, "messages.1.content.0.type"), "tool_use",
	       "anthropic: tool call as tool_use block");
	is_str(S(a, "messages.1.content.0.input.city"), "Oslo",
	       "anthropic: input is an object");
	is_str(S(a, "messages.2.role"), "user", "anthropic: result as user");
	is_str(S(a, "messages.2.content.0.type"), "tool_result",
	       "anthropic: tool_result block");
	is_str(S(a, "tools.0.input_schema.type"), "object",
	       "anthropic: input_schema");
	is_str(S(a, "stop_sequences.0"), "END", "anthropic: stop_sequences");
	cJSON_Delete(o);
	cJSON_Delete(a);

	a = encode(&llm_wire_anthropic,
		   "{\"prompt\": \"x\", \"json\": {\"type\": \"object\"}}");
	ok(strstr(S(a, "system"), "JSON schema"),
	   "anthropic: json mode asks in the system prompt");
	cJSON_Delete(a);
	o = encode(&llm_wire_openai, "{\"prompt\": \"x\", \"json\": true}");
	is_str(S(o, "response_format.type"), "json_object",
	       "openai: json mode is response_format");
	cJSON_Delete(o);
}

static void test_decode(void)
{
	struct llm_result r;
	struct sutra_err err = {0};
	cJSON *b = J("{\"model\": \"gpt\", \"choices\": [{\"message\": "
		     "{\"content\": null, \"tool_calls\": [{\"id\": \"c\", "
		     "\"function\": {\"name\": \"f\", \"arguments\": "
		     "\"{not json\"}}]}, \"finish_reason\": \"tool_calls\"}]}");
	cJSON *out;

	llm_result_init(&r, NULL, NULL);
	is_int(llm_wire_openai.decode(b, &r, &err), 0, "openai body decodes");
	out = llm_result_json(&r);
	is_str(S(out, "tool_calls.0.name"), "f", "tool call name");
	is_str(S(out, "tool_calls.0.arguments_text"), "{not json",
	       "invalid arguments kept as text");
	ok(cJSON_IsNull(cJSON_GetObjectItem(
		   cJSON_GetArrayItem(cJSON_GetObjectItem(out, "tool_calls"), 0),
		   "arguments")),
	   "invalid arguments: arguments is null");
	is_str(S(out, "usage.input"), "0", "usage is optional");
	is_str(S(out, "finish_reason"), "tool_calls", "finish reason");
	cJSON_Delete(out);
	cJSON_Delete(b);
	llm_result_free(&r);

	b = J("{\"model\": \"claude\", \"content\": [{\"type\": \"text\", "
	      "\"text\": \"hi\"}, {\"type\": \"tool_use\", \"id\": \"u\", "
	      "\"name\": \"g\", \"input\": {\"a\": 1}}], \"stop_reason\": "
	      "\"max_tokens\", \"usage\": {\"input_tokens\": 5, "
	      "\"cache_read_input_tokens\": 10, \"output_tokens\": 7}}");
	llm_result_init(&r, NULL, NULL);
	is_int(llm_wire_anthropic.decode(b, &r, &err), 0,
	       "anthropic body decodes");
	out = llm_result_json(&r);
	is_str(S(out, "text"), "hi", "anthropic text");
	is_str(S(out, "tool_calls.0.arguments.a"), "1", "input object");
	is_str(S(out, "finish_reason"), "length", "max_tokens -> length");
	is_str(S(out, "usage.input"), "15", "input counts cached reads");
	is_str(S(out, "usage.cached"), "10", "cached tokens");
	cJSON_Delete(out);
	cJSON_Delete(b);
	llm_result_free(&r);

	static const struct {
		const struct llm_wire *w;
		const char *body, *type, *msg;
	} errs[] = {
		{&llm_wire_openai, "{\"error\": {\"message\": \"m\", \"type\": "
		 "\"insufficient_quota\", \"code\": \"insufficient_quota\"}}",
		 "insufficient_quota", "m"},
		{&llm_wire_openai, "{\"detail\": \"not found\"}", "",
		 "not found"},
		{&llm_wire_openai, "{\"error\": \"plain\"}", "", "plain"},
		{&llm_wire_anthropic, "{\"type\": \"error\", \"error\": "
		 "{\"type\": \"overloaded_error\", \"message\": \"o\"}}",
		 "overloaded_error", "o"},
	};
	for (size_t i = 0; i < sizeof(errs) / sizeof(*errs); i++) {
		struct llm_api_error e;
		b = J(errs[i].body);
		errs[i].w->error(b, &e);
		ok(strcmp(e.type, errs[i].type) == 0 &&
			   strcmp(e.message, errs[i].msg) == 0,
		   "%s error body: type '%s' message '%s'", errs[i].w->kind,
		   e.type, e.message);
		cJSON_Delete(b);
	}
}

/* Recorded streams, replayed one byte at a time through the parser. */
static const char openai_stream[] =
	"data: {\"id\":\"1\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"
	"\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
	"\"finish_reason\":null}]}\r\n\r\n"
	": keep-alive\n\n"
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]}\n\n"
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\""
	":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
	"\"f\",\"arguments\":\"{\\\"a\\\"\"}}]}}]}\n\n"
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\""
	":1,\"id\":\"call_2\",\"function\":{\"name\":\"g\",\"arguments\":\"\""
	"}}]}}]}\n\n"
	"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\""
	":0,\"function\":{\"arguments\":\":1}\"}}]}}]}\n\n"
	"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":"
	"\"tool_calls\"}]}\n\n"
	"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,"
	"\"completion_tokens\":4}}\n\n"
	"data: [DONE]\n\n";

static const char anthropic_stream[] =
	"event: message_start\r\n"
	"data: {\"type\":\"message_start\",\"message\":{\"model\":\"claude\","
	"\"usage\":{\"input_tokens\":20,\"output_tokens\":1}}}\r\n\r\n"
	"event: content_block_start\r\n"
	"data: {\"type\":\"content_block_start\",\"index\":0,"
	"\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\r\n\r\n"
	"event: ping\r\ndata: {\"type\": \"ping\"}\r\n\r\n"
	"event: content_block_delta\r\n"
	"data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
	"{\"type\":\"text_delta\",\"text\":\"Bon\"}}\r\n\r\n"
	"event: content_block_delta\r\n"
	"data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
	"{\"type\":\"text_delta\",\"text\":\"jour\"}}\r\n\r\n"
	"event: content_block_stop\r\ndata: {\"type\":\"content_block_stop\","
	"\"index\":0}\r\n\r\n"
	"event: content_block_start\r\n"
	"data: {\"type\":\"content_block_start\",\"index\":1,"
	"\"content_block\":{\"type\":\"tool_use\",\"id\":\"tu\",\"name\":"
	"\"lookup\",\"input\":{}}}\r\n\r\n"
	"event: content_block_delta\r\n"
	"data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":"
	"{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"q\\\": \"}}"
	"\r\n\r\n"
	"event: content_block_delta\r\n"
	"data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":"
	"{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"x\\\"}\"}}"
	"\r\n\r\n"
	"event: message_delta\r\n"
	"data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
	"\"tool_use\"},\"usage\":{\"output_tokens\":9}}\r\n\r\n"
	"event: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n";

struct replay {
	const struct llm_wire *w;
	struct llm_result *r;
	char deltas[256];
};

static int replay_event(void *ud, const char *ev, const char *data,
			size_t len)
{
	struct replay *rp = ud;

	return rp->w->event(rp->r, ev, data, len) < 0 ? -1 : 0;
}

static int on_delta(void *ud, const char *text, size_t len)
{
	struct replay *rp = ud;
	size_t used = strlen(rp->deltas);

	snprintf(rp->deltas + used, sizeof(rp->deltas) - used, "%.*s|",
		 (int)len, text);
	return 0;
}

static cJSON *replay(const struct llm_wire *w, const char *stream,
		     size_t len, struct replay *rp, struct llm_result *r)
{
	struct sse p;
	int rc = 0;

	memset(rp, 0, sizeof(*rp));
	rp->w = w;
	rp->r = r;
	llm_result_init(r, on_delta, rp);
	sse_init(&p, replay_event, rp);
	for (size_t i = 0; i < len && rc == 0; i++)
		rc = sse_feed(&p, stream + i, 1);
	sse_free(&p);
	return rc == 0 ? llm_result_json(r) : NULL;
}

static void test_streams(void)
{
	struct replay rp;
	struct llm_result r;
	cJSON *out = replay(&llm_wire_openai, openai_stream,
			    sizeof(openai_stream) - 1, &rp, &r);

	ok(out != NULL, "openai stream replays byte by byte");
	is_str(S(out, "text"), "Hello", "openai: text joined");
	is_str(rp.deltas, "Hel|lo|", "openai: deltas as they came");
	is_str(S(out, "tool_calls.0.arguments_text"), "{\"a\":1}",
	       "openai: tool call fragments joined per index");
	is_str(S(out, "tool_calls.1.name"), "g", "openai: second tool call");
	is_str(S(out, "tool_calls.1.arguments_text"), "{}",
	       "openai: empty arguments read as {}");
	is_str(S(out, "usage.input"), "12", "openai: usage from last chunk");
	is_str(S(out, "model"), "gpt-4o", "openai: model");
	ok(r.done, "openai: [DONE] seen");
	cJSON_Delete(out);
	llm_result_free(&r);

	out = replay(&llm_wire_anthropic, anthropic_stream,
		     sizeof(anthropic_stream) - 1, &rp, &r);
	ok(out != NULL, "anthropic stream replays byte by byte");
	is_str(S(out, "text"), "Bonjour", "anthropic: text joined");
	is_str(rp.deltas, "Bon|jour|", "anthropic: deltas");
	is_str(S(out, "tool_calls.0.arguments.q"), "x",
	       "anthropic: input_json_delta joined");
	is_str(S(out, "usage.output"), "9",
	       "anthropic: message_delta usage is cumulative");
	is_str(S(out, "usage.input"), "20", "anthropic: input from start");
	is_str(S(out, "finish_reason"), "tool_calls", "tool_use normalised");
	ok(r.done, "anthropic: message_stop seen");
	cJSON_Delete(out);
	llm_result_free(&r);

	static const char err_stream[] =
		"event: message_start\ndata: {\"type\":\"message_start\","
		"\"message\":{}}\n\nevent: error\ndata: {\"type\":\"error\","
		"\"error\":{\"type\":\"overloaded_error\",\"message\":"
		"\"Overloaded\"}}\n\n";
	out = replay(&llm_wire_anthropic, err_stream, sizeof(err_stream) - 1,
		     &rp, &r);
	ok(out == NULL && r.error && strstr(r.error, "overloaded_error") &&
		   r.error_retryable,
	   "anthropic: event error after 200 is an error: %s",
	   r.error ? r.error : "");
	llm_result_free(&r);
}

static void test_policy(void)
{
	struct llm_config cfg = {.backoff_ms = 500, .backoff_max_ms = 8000};
	struct llm_api_error quota = {.code = "insufficient_quota"};
	struct llm_api_error rate = {.type = "rate_limit_error"};
	static const long retry[] = {408, 409, 429, 500, 502, 503, 529};
	static const long never[] = {400, 401, 403, 404, 413, 422};
	char url[256];

	for (size_t i = 0; i < sizeof(retry) / sizeof(*retry); i++)
		ok(llm_status_retryable(retry[i], &rate), "%ld retried",
		   retry[i]);
	for (size_t i = 0; i < sizeof(never) / sizeof(*never); i++)
		ok(!llm_status_retryable(never[i], &rate), "%ld not retried",
		   never[i]);
	ok(!llm_status_retryable(429, &quota), "spend-limit 429 not retried");
	for (int n = 0; n < 6; n++) {
		int64_t cap = 500LL << n > 8000 ? 8000 : 500LL << n;
		int64_t lo = llm_backoff_ms(&cfg, n, 0);
		int64_t hi = llm_backoff_ms(&cfg, n, UINT64_MAX - 1);
		ok(lo == cap / 2 && hi <= cap && hi >= lo,
		   "backoff %d in [%lld, %lld]: %lld..%lld", n,
		   (long long)cap / 2, (long long)cap, (long long)lo,
		   (long long)hi);
	}
	is_int(llm_http_retry_after("3", 0), 3000, "Retry-After seconds");
	is_int(llm_http_retry_after("0.25", 0), 250, "fractional seconds");
	is_int(llm_http_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", 4), 6000,
	       "Retry-After as an HTTP date");
	is_int(llm_http_retry_after("soon", 0), -1, "garbage ignored");
	llm_url_redact("https://user:pw@api.x.com/v1/chat?key=s3cret", url,
		       sizeof(url));
	is_str(url, "https://api.x.com/v1/chat?...",
	       "credentials and query redacted");
}

static void test_cache_key(void)
{
	struct sutra_err err = {0};
	struct llm_req a, b, c;
	cJSON *ja = J("{\"prompt\": \"x\", \"temperature\": 0, \"tools\": [{"
		      "\"name\": \"t\", \"parameters\": {\"b\": 1, \"a\": 2}}]}");
	cJSON *jb = J("{\"tools\": [{\"parameters\": {\"a\": 2, \"b\": 1}, "
		      "\"name\": \"t\"}], \"temperature\": 0, \"stream\": true,"
		      " \"prompt\": \"x\"}");
	cJSON *jc = J("{\"prompt\": \"y\", \"temperature\": 0}");
	char ka[65], kb[65], kc[65], kd[65];

	llm_req_parse(ja, &a, &err);
	llm_req_parse(jb, &b, &err);
	llm_req_parse(jc, &c, &err);
	llm_req_cache_key(&a, "p", "m", ka, &err);
	llm_req_cache_key(&b, "p", "m", kb, &err);
	llm_req_cache_key(&c, "p", "m", kc, &err);
	llm_req_cache_key(&a, "p", "other", kd, &err);
	is_str(ka, kb, "key ignores member order and stream");
	ok(strcmp(ka, kc) != 0, "different prompt, different key");
	ok(strcmp(ka, kd) != 0, "different model, different key");
	is_int(strlen(ka), 64, "key is SHA-256 hex");
	llm_req_free(&a);
	llm_req_free(&b);
	llm_req_free(&c);
	cJSON_Delete(ja);
	cJSON_Delete(jb);
	cJSON_Delete(jc);
}

int main(void)
{
	plan_lazy();
	test_config();
	test_requests();
	test_encode();
	test_decode();
	test_streams();
	test_policy();
	test_cache_key();
	done_testing();
	return exit_status();
}
