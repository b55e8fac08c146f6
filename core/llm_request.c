/*
 * llm_request.c - the request JSON of llm_chat: checked once, brought to
 * one normal form that both wire encoders read (messages with the system
 * prompt first, tools as {name, description, parameters}, tool calls as
 * {id, name, arguments_text}), and hashed canonically for the cache.
 */
#include <stdlib.h>
#include <string.h>

#include "llm_impl.h"
#include "util.h"

/* "request: SUBJECT REST" as a usage error. */
static int bad(struct sutra_err *err, const char *subject, const char *rest)
{
	return err_set(err, SUTRA_EUSAGE, "request: %s%s", subject, rest);
}

static const char *opt_string(const cJSON *o, const char *k, int *ok)
{
	const cJSON *v = get(o, k);

	if (!v || cJSON_IsNull(v))
		return NULL;
	if (!cJSON_IsString(v))
		*ok = 0;
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static cJSON *text_message(const char *role, const char *text)
{
	cJSON *m = cJSON_CreateObject();

	if (m && (!cJSON_AddStringToObject(m, "role", role) ||
		  !cJSON_AddStringToObject(m, "content", text))) {
		cJSON_Delete(m);
		return NULL;
	}
	return m;
}

/* {id, name, arguments_text} from ours or OpenAI's shape. */
static cJSON *norm_tool_call(const cJSON *tc, struct sutra_err *err)
{
	const cJSON *fn = get(tc, "function");
	const cJSON *src = cJSON_IsObject(fn) ? fn : tc;
	const cJSON *name = get(src, "name"), *id = get(tc, "id");
	const cJSON *args = get(src, "arguments");
	const cJSON *text = get(tc, "arguments_text");
	cJSON *out;
	char *printed = NULL;

	if (!cJSON_IsString(name))
		return bad(err, "messages", ": a tool call needs a name"),
		       NULL;
	if (cJSON_IsString(text))
		printed = strdup(text->valuestring);
	else if (cJSON_IsString(args))
		printed = strdup(args->valuestring);
	else
		printed = args ? cJSON_PrintUnformatted(args) : strdup("{}");
	out = cJSON_CreateObject();
	if (!printed || !out ||
	    !cJSON_AddStringToObject(out, "id",
				     cJSON_IsString(id) ? id->valuestring : "") ||
	    !cJSON_AddStringToObject(out, "name", name->valuestring) ||
	    !cJSON_AddStringToObject(out, "arguments_text", printed)) {
		cJSON_Delete(out);
		out = NULL;
		err_set(err, SUTRA_ENOMEM, "out of memory");
	}
	free(printed);
	return out;
}

static const char *const roles[] = {"system", "user", "assistant", "tool",
				    NULL};

static int known_role(const char *r)
{
	for (const char *const *p = roles; *p; p++)
		if (strcmp(*p, r) == 0)
			return 1;
	return 0;
}

static int add_tool_calls(cJSON *m, const cJSON *calls, struct sutra_err *err)
{
	cJSON *list = cJSON_AddArrayToObject(m, "tool_calls");
	const cJSON *tc;

	if (!list)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	if (!cJSON_IsArray(calls))
		return bad(err, "messages", ": tool_calls is not a list");
	cJSON_ArrayForEach(tc, calls) {
		cJSON *n = norm_tool_call(tc, err);
		if (!n)
			return -1;
		cJSON_AddItemToArray(list, n);
	}
	return 0;
}

static cJSON *norm_message(const cJSON *m, struct sutra_err *err)
{
	const cJSON *role = get(m, "role"), *content = get(m, "content");
	const cJSON *calls = get(m, "tool_calls"), *id = get(m, "tool_call_id");
	cJSON *out;

	if (!cJSON_IsObject(m) || !cJSON_IsString(role) ||
	    !known_role(role->valuestring))
		return bad(err, "messages", ": each message needs a role "
				"(system, user, assistant or tool)"),
		       NULL;
	if (content && !cJSON_IsString(content) && !cJSON_IsArray(content) &&
	    !cJSON_IsNull(content))
		return bad(err, "messages", ": content must be text or a list "
				"of parts"),
		       NULL;
	if (!(out = cJSON_CreateObject()))
		return err_set(err, SUTRA_ENOMEM, "out of memory"), NULL;
	cJSON_AddStringToObject(out, "role", role->valuestring);
	cJSON_AddItemToObject(out, "content",
			      content && !cJSON_IsNull(content)
				      ? cJSON_Duplicate(content, 1)
				      : cJSON_CreateString(""));
	if (cJSON_IsString(id))
		cJSON_AddStringToObject(out, "tool_call_id", id->valuestring);
	if (calls && add_tool_calls(out, calls, err) < 0) {
		cJSON_Delete(out);
		return NULL;
	}
	return out;
}

static int norm_messages(const cJSON *json, struct llm_req *req,
			 struct sutra_err *err)
{
	const cJSON *list = get(json, "messages"), *m;
	int ok = 1;
	const char *system = opt_string(json, "system", &ok);
	const char *prompt = opt_string(json, "prompt", &ok);

	if (!ok)
		return bad(err, "system/prompt", " must be text");
	if (list && !cJSON_IsArray(list))
		return bad(err, "messages", " is not a list");
	if (!(req->messages = cJSON_CreateArray()))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	if (system)
		cJSON_AddItemToArray(req->messages,
				     text_message("system", system));
	cJSON_ArrayForEach(m, list) {
		cJSON *n = norm_message(m, err);
		if (!n)
			return -1;
		cJSON_AddItemToArray(req->messages, n);
	}
	if (prompt)
		cJSON_AddItemToArray(req->messages,
				     text_message("user", prompt));
	if (cJSON_GetArraySize(req->messages) == (system ? 1 : 0))
		return bad(err, "needs messages or a prompt", "");
	return 0;
}

static int norm_tools(const cJSON *json, struct llm_req *req,
		      struct sutra_err *err)
{
	const cJSON *list = get(json, "tools"), *t;

	if (!list || cJSON_IsNull(list))
		return 0;
	if (!cJSON_IsArray(list))
		return bad(err, "tools", " is not a list");
	if (!(req->tools = cJSON_CreateArray()))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	cJSON_ArrayForEach(t, list) {
		const cJSON *fn = get(t, "function");
		const cJSON *src = cJSON_IsObject(fn) ? fn : t;
		const cJSON *name = get(src, "name"), *desc = get(src, "description");
		const cJSON *params = get(src, "parameters");
		cJSON *n;
		if (!params)
			params = get(src, "input_schema");
		if (!cJSON_IsString(name))
			return bad(err, "tools", ": each tool needs a name");
		if (!(n = cJSON_CreateObject()))
			return err_set(err, SUTRA_ENOMEM, "out of memory");
		cJSON_AddItemToArray(req->tools, n);
		cJSON_AddStringToObject(n, "name", name->valuestring);
		cJSON_AddStringToObject(n, "description",
					cJSON_IsString(desc) ? desc->valuestring
							     : "");
		cJSON_AddItemToObject(
			n, "parameters",
			cJSON_IsObject(params)
				? cJSON_Duplicate(params, 1)
				: cJSON_Parse("{\"type\":\"object\","
					      "\"properties\":{}}"));
	}
	return 0;
}

static int parse_limits(const cJSON *json, struct llm_req *req,
			struct sutra_err *err)
{
	const cJSON *b = get(json, "budget"), *usd, *tokens;

	req->limits = (struct llm_limits){-1, -1, -1, -1};
	if (!b)
		return 0;
	usd = get(b, "usd");
	tokens = get(b, "tokens");
	if (!cJSON_IsObject(b) || (usd && !cJSON_IsNumber(usd)) ||
	    (tokens && !cJSON_IsNumber(tokens)))
		return bad(err, "budget", " must be {usd: N, tokens: N}");
	if (usd)
		req->limits.usd_per_call = usd->valuedouble;
	if (tokens)
		req->limits.tokens_per_call = (int64_t)tokens->valuedouble;
	return 0;
}

static int flag(const cJSON *json, const char *k, int dflt, int *out,
		struct sutra_err *err)
{
	const cJSON *v = get(json, k);

	if (!v || cJSON_IsNull(v)) {
		*out = dflt;
		return 0;
	}
	if (!cJSON_IsBool(v))
		return bad(err, k, " must be true or false");
	*out = cJSON_IsTrue(v);
	return 0;
}

static int parse_options(const cJSON *json, struct llm_req *req,
			 struct sutra_err *err)
{
	const cJSON *t = get(json, "temperature"), *mt = get(json, "max_tokens");
	const cJSON *js = get(json, "json"), *stop = get(json, "stop");
	int ok = 1;

	req->provider = opt_string(json, "provider", &ok);
	req->model = opt_string(json, "model", &ok);
	if (!ok)
		return bad(err, "provider/model", " must be text");
	if (t && !cJSON_IsNull(t)) {
		if (!cJSON_IsNumber(t) || t->valuedouble < 0)
			return bad(err, "temperature", " must be a number >= 0");
		req->temperature = t->valuedouble;
		req->has_temperature = 1;
	}
	if (mt && !cJSON_IsNull(mt)) {
		if (!cJSON_IsNumber(mt) || mt->valuedouble < 1 ||
		    mt->valuedouble > 1e9 ||
		    mt->valuedouble != (double)(int64_t)mt->valuedouble)
			return bad(err, "max_tokens", " must be an integer >= 1");
		req->max_tokens = (int64_t)mt->valuedouble;
	}
	if (stop && !cJSON_IsNull(stop)) {
		if (!cJSON_IsArray(stop))
			return bad(err, "stop", " must be a list of text");
		req->stop = stop;
	}
	if (cJSON_IsTrue(js))
		req->json_mode = 1;
	else if (cJSON_IsObject(js)) {
		req->json_mode = 2;
		req->json_schema = js;
	} else if (js && !cJSON_IsFalse(js) && !cJSON_IsNull(js))
		return bad(err, "json", " must be true or a JSON schema");
	req->cache = -1;
	if (get(json, "cache") && flag(json, "cache", -1, &req->cache, err) < 0)
		return -1;
	return flag(json, "stream", 0, &req->stream, err) < 0 ||
			       flag(json, "fallback", 1, &req->fallback, err) < 0
		       ? -1
		       : 0;
}

int llm_req_parse(const cJSON *json, struct llm_req *req,
		  struct sutra_err *err)
{
	memset(req, 0, sizeof(*req));
	req->json = json;
	if (!cJSON_IsObject(json))
		return bad(err, "not a JSON object", "");
	if (parse_options(json, req, err) < 0 ||
	    parse_limits(json, req, err) < 0 ||
	    norm_messages(json, req, err) < 0 ||
	    norm_tools(json, req, err) < 0) {
		llm_req_free(req);
		return -1;
	}
	return 0;
}

void llm_req_free(struct llm_req *req)
{
	cJSON_Delete(req->messages);
	cJSON_Delete(req->tools);
	req->messages = req->tools = NULL;
}

static int by_key(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;

	return strcmp(x->string, y->string);
}

/* Sorts every object's members by key, recursively, in place. */
static int sort_keys(cJSON *v)
{
	size_t n = 0, i = 0;
	cJSON *c, **items;

	for (c = v->child; c; c = c->next, n++)
		if (sort_keys(c) < 0)
			return -1;
	if (!cJSON_IsObject(v) || n < 2)
		return 0;
	if (!(items = malloc(n * sizeof(*items))))
		return -1;
	for (c = v->child; c; c = c->next)
		items[i++] = c;
	qsort(items, n, sizeof(*items), by_key);
	for (i = 0; i < n; i++) {
		items[i]->prev = i ? items[i - 1] : items[n - 1];
		items[i]->next = i + 1 < n ? items[i + 1] : NULL;
	}
	v->child = items[0];
	free(items);
	return 0;
}

char *llm_canonical_json(const cJSON *v)
{
	cJSON *copy = cJSON_Duplicate(v, 1);
	char *text = NULL;

	if (copy && sort_keys(copy) == 0)
		text = cJSON_PrintUnformatted(copy);
	cJSON_Delete(copy);
	return text;
}

int llm_req_cache_key(const struct llm_req *req, const char *provider,
		      const char *model, char key[65], struct sutra_err *err)
{
	cJSON *k = cJSON_CreateObject();
	char *text = NULL;

	if (!k)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	cJSON_AddStringToObject(k, "provider", provider);
	cJSON_AddStringToObject(k, "model", model ? model : "");
	cJSON_AddItemReferenceToObject(k, "messages", req->messages);
	if (req->tools)
		cJSON_AddItemReferenceToObject(k, "tools", req->tools);
	if (req->has_temperature)
		cJSON_AddNumberToObject(k, "temperature", req->temperature);
	if (req->max_tokens)
		cJSON_AddNumberToObject(k, "max_tokens",
					(double)req->max_tokens);
	if (req->stop)
		cJSON_AddItemReferenceToObject(k, "stop", (cJSON *)req->stop);
	if (req->json_mode == 2)
		cJSON_AddItemReferenceToObject(k, "json",
					       (cJSON *)req->json_schema);
	else if (req->json_mode)
		cJSON_AddTrueToObject(k, "json");
	text = llm_canonical_json(k);
	cJSON_Delete(k);
	if (!text)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	sha256_hex(text, strlen(text), key);
	cJSON_free(text);
	return 0;
}
