/*
 * llm_openai.c - the chat-completions wire format (OpenAI, Ollama,
 * llama.cpp server, vLLM): POST {base_url}/chat/completions with a bearer
 * key.  Servers differ in what they omit (usage, [DONE], error shapes), so
 * decoding accepts every field as optional and checks its type.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_impl.h"

static cJSON *encode_tool_calls(const cJSON *calls)
{
	cJSON *out = cJSON_CreateArray();
	const cJSON *tc;

	cJSON_ArrayForEach(tc, calls) {
		cJSON *o = cJSON_CreateObject(), *fn;
		cJSON_AddItemToArray(out, o);
		cJSON_AddStringToObject(o, "id", str(tc, "id"));
		cJSON_AddStringToObject(o, "type", "function");
		fn = cJSON_AddObjectToObject(o, "function");
		cJSON_AddStringToObject(fn, "name", str(tc, "name"));
		cJSON_AddStringToObject(fn, "arguments",
					str(tc, "arguments_text"));
	}
	return out;
}

static cJSON *encode_message(const cJSON *m)
{
	cJSON *o = cJSON_CreateObject();
	const cJSON *calls = get(m, "tool_calls"), *content = get(m, "content");
	const char *id = str(m, "tool_call_id");

	cJSON_AddStringToObject(o, "role", str(m, "role"));
	if (calls && cJSON_IsString(content) && !*content->valuestring)
		cJSON_AddNullToObject(o, "content");
	else
		cJSON_AddItemToObject(o, "content", cJSON_Duplicate(content, 1));
	if (id)
		cJSON_AddStringToObject(o, "tool_call_id", id);
	if (calls)
		cJSON_AddItemToObject(o, "tool_calls", encode_tool_calls(calls));
	return o;
}

static cJSON *encode_tools(const cJSON *tools)
{
	cJSON *out = cJSON_CreateArray();
	const cJSON *t;

	cJSON_ArrayForEach(t, tools) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddItemToArray(out, o);
		cJSON_AddStringToObject(o, "type", "function");
		cJSON_AddItemToObject(o, "function", cJSON_Duplicate(t, 1));
	}
	return out;
}

static cJSON *response_format(const struct llm_req *req)
{
	cJSON *o = cJSON_CreateObject(), *js;

	if (req->json_mode == 1) {
		cJSON_AddStringToObject(o, "type", "json_object");
		return o;
	}
	cJSON_AddStringToObject(o, "type", "json_schema");
	js = cJSON_AddObjectToObject(o, "json_schema");
	cJSON_AddStringToObject(js, "name", "output");
	cJSON_AddItemToObject(js, "schema", cJSON_Duplicate(req->json_schema, 1));
	return o;
}

static cJSON *encode(const struct llm_req *req, const struct llm_provider *p,
		     const char *model, struct sutra_err *err)
{
	cJSON *body = cJSON_CreateObject(), *msgs;
	const cJSON *m;

	(void)p;
	if (!body)
		goto nomem;
	cJSON_AddStringToObject(body, "model", model);
	msgs = cJSON_AddArrayToObject(body, "messages");
	cJSON_ArrayForEach(m, req->messages)
		cJSON_AddItemToArray(msgs, encode_message(m));
	if (req->has_temperature)
		cJSON_AddNumberToObject(body, "temperature", req->temperature);
	if (req->max_tokens)
		cJSON_AddNumberToObject(body, "max_tokens",
					(double)req->max_tokens);
	if (req->stop)
		cJSON_AddItemToObject(body, "stop", cJSON_Duplicate(req->stop, 1));
	if (req->tools)
		cJSON_AddItemToObject(body, "tools", encode_tools(req->tools));
	if (req->json_mode)
		cJSON_AddItemToObject(body, "response_format",
				      response_format(req));
	if (req->stream) {
		cJSON_AddTrueToObject(body, "stream");
		/* Usage comes in a last chunk only when asked for. */
		cJSON *so = cJSON_AddObjectToObject(body, "stream_options");
		cJSON_AddTrueToObject(so, "include_usage");
	}
	if (!cJSON_GetObjectItemCaseSensitive(body, "messages") ||
	    (req->stream && !get(body, "stream_options")))
		goto nomem;
	return body;
nomem:
	cJSON_Delete(body);
	err_set(err, SUTRA_ENOMEM, "out of memory");
	return NULL;
}

static void usage(const cJSON *u, struct llm_result *r)
{
	if (!cJSON_IsObject(u))
		return;
	r->tokens_in = num(u, "prompt_tokens");
	r->tokens_out = num(u, "completion_tokens");
	r->tokens_cached = num(get(u, "prompt_tokens_details"), "cached_tokens");
}

static int finish(struct llm_result *r, const cJSON *choice)
{
	const char *fr = str(choice, "finish_reason");

	return fr ? llm_result_set(&r->finish_reason, llm_finish_reason(fr))
		  : 0;
}

static int add_tool_calls(struct llm_result *r, const cJSON *calls)
{
	const cJSON *tc;
	int i = 0;

	cJSON_ArrayForEach(tc, calls) {
		const cJSON *fn = get(tc, "function");
		const cJSON *idx = get(tc, "index");
		struct llm_tool_call *t = llm_result_tool(
			r, cJSON_IsNumber(idx) ? idx->valueint : i);
		const char *args = str(fn, "arguments");
		i++;
		if (!t || (str(tc, "id") && llm_result_set(&t->id, str(tc, "id"))) ||
		    (str(fn, "name") && llm_result_set(&t->name, str(fn, "name"))) ||
		    (args && llm_tool_args_add(t, args, strlen(args)) < 0))
			return -1;
	}
	return 0;
}

static int decode(const cJSON *body, struct llm_result *r,
		  struct sutra_err *err)
{
	const cJSON *choice = cJSON_GetArrayItem(get(body, "choices"), 0);
	const cJSON *msg = get(choice, "message");
	const char *content = str(msg, "content");

	if (!cJSON_IsObject(msg))
		return err_set(err, SUTRA_EFAILED,
			       "response has no choices[0].message");
	if ((content && llm_result_text(r, content, strlen(content)) < 0) ||
	    add_tool_calls(r, get(msg, "tool_calls")) < 0 ||
	    finish(r, choice) < 0 ||
	    (str(body, "model") && llm_result_set(&r->model, str(body, "model"))))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	usage(get(body, "usage"), r);
	r->done = 1;
	return 0;
}

static void error_body(const cJSON *body, struct llm_api_error *e)
{
	const cJSON *eo = get(body, "error");
	const cJSON *src = cJSON_IsObject(eo) ? eo : body;
	const cJSON *code = get(src, "code");
	const char *msg = str(src, "message");

	memset(e, 0, sizeof(*e));
	if (cJSON_IsString(eo))
		msg = eo->valuestring;
	if (!msg)
		msg = str(body, "detail");  /* FastAPI-style servers */
	snprintf(e->message, sizeof(e->message), "%s", msg ? msg : "");
	snprintf(e->type, sizeof(e->type), "%s",
		 str(src, "type") ? str(src, "type") : "");
	if (cJSON_IsString(code))
		snprintf(e->code, sizeof(e->code), "%s", code->valuestring);
	else if (cJSON_IsNumber(code))
		snprintf(e->code, sizeof(e->code), "%d", code->valueint);
}

static int stream_error(struct llm_result *r, const cJSON *chunk)
{
	struct llm_api_error e;
	char msg[400];

	error_body(chunk, &e);
	snprintf(msg, sizeof(msg), "error inside the stream: %s%s%s",
		 e.type[0] ? e.type : "", e.type[0] ? ": " : "",
		 e.message[0] ? e.message : "(no message)");
	r->error_retryable = strcmp(e.type, "server_error") == 0;
	llm_result_set(&r->error, msg);
	return -1;
}

static int event(struct llm_result *r, const char *name, const char *data,
		 size_t len)
{
	cJSON *chunk;
	const cJSON *choice, *delta;
	const char *text;
	int rc = 0;

	(void)name;
	if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		r->done = 1;
		return 0;
	}
	if (!(chunk = cJSON_ParseWithLength(data, len))) {
		llm_result_set(&r->error, "stream chunk is not JSON");
		return -1;
	}
	if (get(chunk, "error")) {
		rc = stream_error(r, chunk);
		goto out;
	}
	choice = cJSON_GetArrayItem(get(chunk, "choices"), 0);
	delta = get(choice, "delta");
	text = str(delta, "content");
	if ((text && llm_result_text(r, text, strlen(text)) < 0) ||
	    add_tool_calls(r, get(delta, "tool_calls")) < 0 ||
	    finish(r, choice) < 0 ||
	    (str(chunk, "model") && llm_result_set(&r->model, str(chunk, "model")))) {
		llm_result_set(&r->error, "out of memory");
		rc = -1;
	}
	usage(get(chunk, "usage"), r);
out:
	cJSON_Delete(chunk);
	return rc;
}

const struct llm_wire llm_wire_openai = {
	.kind = "openai",
	.path = "/chat/completions",
	.auth_prefix = "Authorization: Bearer ",
	.extra_header = NULL,
	.encode = encode,
	.decode = decode,
	.event = event,
	.error = error_body,
};
