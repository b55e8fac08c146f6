/*
 * llm_anthropic.c - the Messages wire format: POST {base_url}/v1/messages
 * with x-api-key and anthropic-version.  The system prompt is a top-level
 * field, max_tokens is required, tool results travel as user messages, and
 * a stream is a sequence of named events that may end in `event: error`
 * even after a 200.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_impl.h"

/* Appends text to a growing system prompt (new string, old one freed). */
static char *append(char *acc, const char *text)
{
	size_t a = acc ? strlen(acc) : 0, b = strlen(text);
	char *n = realloc(acc, a + b + 3);

	if (!n) {
		free(acc);
		return NULL;
	}
	if (a) {
		memcpy(n + a, "\n\n", 2);
		a += 2;
	}
	memcpy(n + a, text, b + 1);
	return n;
}

static cJSON *tool_use_block(const cJSON *tc)
{
	cJSON *b = cJSON_CreateObject();
	cJSON *input = cJSON_Parse(str(tc, "arguments_text"));

	/* Anthropic wants an object; a model's broken arguments become {}. */
	if (!cJSON_IsObject(input)) {
		cJSON_Delete(input);
		input = cJSON_CreateObject();
	}
	cJSON_AddStringToObject(b, "type", "tool_use");
	cJSON_AddStringToObject(b, "id", str(tc, "id"));
	cJSON_AddStringToObject(b, "name", str(tc, "name"));
	cJSON_AddItemToObject(b, "input", input);
	return b;
}

static cJSON *assistant_with_tools(const cJSON *m)
{
	cJSON *o = cJSON_CreateObject(), *content;
	const cJSON *tc;
	const char *text = str(m, "content");

	cJSON_AddStringToObject(o, "role", "assistant");
	content = cJSON_AddArrayToObject(o, "content");
	if (text && *text) {
		cJSON *b = cJSON_CreateObject();
		cJSON_AddStringToObject(b, "type", "text");
		cJSON_AddStringToObject(b, "text", text);
		cJSON_AddItemToArray(content, b);
	}
	cJSON_ArrayForEach(tc, get(m, "tool_calls"))
		cJSON_AddItemToArray(content, tool_use_block(tc));
	return o;
}

/* A tool result joins the user message before it when that one holds
 * tool results too: Anthropic wants them together. */
static void add_tool_result(cJSON *msgs, const cJSON *m)
{
	cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
	cJSON *content = cJSON_GetObjectItemCaseSensitive(last, "content");
	cJSON *b = cJSON_CreateObject();

	cJSON_AddStringToObject(b, "type", "tool_result");
	cJSON_AddStringToObject(b, "tool_use_id",
				str(m, "tool_call_id") ? str(m, "tool_call_id")
						       : "");
	cJSON_AddItemToObject(b, "content",
			      cJSON_Duplicate(get(m, "content"), 1));
	if (!cJSON_IsArray(content) ||
	    !str(cJSON_GetArrayItem(content, 0), "type") ||
	    strcmp(str(cJSON_GetArrayItem(content, 0), "type"),
		   "tool_result") != 0) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "role", "user");
		content = cJSON_AddArrayToObject(o, "content");
		cJSON_AddItemToArray(msgs, o);
	}
	cJSON_AddItemToArray(content, b);
}

static char *json_instruction(const struct llm_req *req)
{
	char *schema, *text;
	size_t n;

	if (req->json_mode == 1)
		return strdup("Answer with a single JSON object and nothing "
			      "else.");
	if (!(schema = cJSON_PrintUnformatted(req->json_schema)))
		return NULL;
	n = strlen(schema) + 128;
	if ((text = malloc(n)))
		snprintf(text, n,
			 "Answer with a single JSON value and nothing else. It "
			 "must match this JSON schema: %s",
			 schema);
	cJSON_free(schema);
	return text;
}

/* Splits the normal messages into Anthropic's system and messages. */
static int encode_messages(const struct llm_req *req, cJSON *body)
{
	cJSON *msgs = cJSON_AddArrayToObject(body, "messages");
	char *system = NULL, *instr = NULL;
	const cJSON *m;
	int failed = !msgs;

	cJSON_ArrayForEach(m, req->messages) {
		const char *role = str(m, "role");
		if (strcmp(role, "system") == 0) {
			const char *t = str(m, "content");
			if (t && !(system = append(system, t)))
				failed = 1;
		} else if (strcmp(role, "tool") == 0) {
			add_tool_result(msgs, m);
		} else if (get(m, "tool_calls")) {
			cJSON_AddItemToArray(msgs, assistant_with_tools(m));
		} else {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "role", role);
			cJSON_AddItemToObject(o, "content",
					      cJSON_Duplicate(get(m, "content"), 1));
			cJSON_AddItemToArray(msgs, o);
		}
	}
	if (req->json_mode && (!(instr = json_instruction(req)) ||
			       !(system = append(system, instr))))
		failed = 1;
	if (system && !failed && !cJSON_AddStringToObject(body, "system", system))
		failed = 1;
	free(instr);
	free(system);
	return failed ? -1 : 0;
}

static cJSON *encode_tools(const cJSON *tools)
{
	cJSON *out = cJSON_CreateArray();
	const cJSON *t;

	cJSON_ArrayForEach(t, tools) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddItemToArray(out, o);
		cJSON_AddStringToObject(o, "name", str(t, "name"));
		if (*str(t, "description"))
			cJSON_AddStringToObject(o, "description",
						str(t, "description"));
		cJSON_AddItemToObject(o, "input_schema",
				      cJSON_Duplicate(get(t, "parameters"), 1));
	}
	return out;
}

static cJSON *encode(const struct llm_req *req, const struct llm_provider *p,
		     const char *model, struct sutra_err *err)
{
	cJSON *body = cJSON_CreateObject();

	if (!body)
		goto nomem;
	cJSON_AddStringToObject(body, "model", model);
	cJSON_AddNumberToObject(body, "max_tokens",
				(double)(req->max_tokens ? req->max_tokens
							 : p->max_tokens));
	if (encode_messages(req, body) < 0)
		goto nomem;
	if (req->has_temperature)
		cJSON_AddNumberToObject(body, "temperature", req->temperature);
	if (req->stop)
		cJSON_AddItemToObject(body, "stop_sequences",
				      cJSON_Duplicate(req->stop, 1));
	if (req->tools)
		cJSON_AddItemToObject(body, "tools", encode_tools(req->tools));
	if (req->stream && !cJSON_AddTrueToObject(body, "stream"))
		goto nomem;
	return body;
nomem:
	cJSON_Delete(body);
	err_set(err, SUTRA_ENOMEM, "out of memory");
	return NULL;
}

/* Anthropic counts cached input apart; usage.input is all of it. */
static void usage(const cJSON *u, struct llm_result *r)
{
	int64_t fresh = num(u, "input_tokens");
	int64_t read = num(u, "cache_read_input_tokens");
	int64_t written = num(u, "cache_creation_input_tokens");

	if (!cJSON_IsObject(u))
		return;
	if (fresh || read || written) {
		r->tokens_in = fresh + read + written;
		r->tokens_cached = read;
	}
	if (get(u, "output_tokens"))
		r->tokens_out = num(u, "output_tokens");
}

static int add_block(struct llm_result *r, int index, const cJSON *b)
{
	const char *type = str(b, "type");
	struct llm_tool_call *t;
	const cJSON *input = get(b, "input");
	char *args;
	int rc;

	if (type && strcmp(type, "text") == 0) {
		const char *text = str(b, "text");
		return text ? llm_result_text(r, text, strlen(text)) : 0;
	}
	if (!type || strcmp(type, "tool_use") != 0)
		return 0; /* thinking and other blocks are not the answer */
	if (!(t = llm_result_tool(r, index)) ||
	    llm_result_set(&t->id, str(b, "id")) < 0 ||
	    llm_result_set(&t->name, str(b, "name")) < 0)
		return -1;
	/* A streamed block starts with input {} and sends its JSON as
	 * deltas; a whole one carries it here. */
	if (!cJSON_IsObject(input) || !input->child)
		return 0;
	if (!(args = cJSON_PrintUnformatted(input)))
		return -1;
	rc = llm_tool_args_add(t, args, strlen(args));
	cJSON_free(args);
	return rc;
}

static int decode(const cJSON *body, struct llm_result *r,
		  struct sutra_err *err)
{
	const cJSON *content = get(body, "content"), *b;
	const char *stop = str(body, "stop_reason");
	int i = 0;

	if (!cJSON_IsArray(content))
		return err_set(err, SUTRA_EFAILED, "response has no content");
	cJSON_ArrayForEach(b, content) {
		if (add_block(r, i++, b) < 0)
			return err_set(err, SUTRA_ENOMEM, "out of memory");
	}
	if ((stop && llm_result_set(&r->finish_reason,
				    llm_finish_reason(stop)) < 0) ||
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

	memset(e, 0, sizeof(*e));
	snprintf(e->type, sizeof(e->type), "%s",
		 str(src, "type") ? str(src, "type") : "");
	snprintf(e->message, sizeof(e->message), "%s",
		 str(src, "message") ? str(src, "message") : "");
}

static int stream_error(struct llm_result *r, const cJSON *ev)
{
	struct llm_api_error e;
	char msg[400];

	error_body(ev, &e);
	snprintf(msg, sizeof(msg), "error inside the stream: %s: %s",
		 e.type[0] ? e.type : "error",
		 e.message[0] ? e.message : "(no message)");
	r->error_retryable = strcmp(e.type, "overloaded_error") == 0 ||
			     strcmp(e.type, "api_error") == 0;
	llm_result_set(&r->error, msg);
	return -1;
}

static int delta(struct llm_result *r, const cJSON *ev)
{
	const cJSON *d = get(ev, "delta"), *idx = get(ev, "index");
	const char *type = str(d, "type");
	struct llm_tool_call *t;

	if (!type)
		return 0;
	if (strcmp(type, "text_delta") == 0 && str(d, "text"))
		return llm_result_text(r, str(d, "text"), strlen(str(d, "text")));
	if (strcmp(type, "input_json_delta") != 0 || !str(d, "partial_json"))
		return 0;
	if (!(t = llm_result_tool(r, cJSON_IsNumber(idx) ? idx->valueint : 0)))
		return -1;
	return llm_tool_args_add(t, str(d, "partial_json"),
				 strlen(str(d, "partial_json")));
}

static int message_delta(struct llm_result *r, const cJSON *ev)
{
	const char *stop = str(get(ev, "delta"), "stop_reason");

	/* message_delta's usage is cumulative: it replaces, not adds. */
	usage(get(ev, "usage"), r);
	return stop ? llm_result_set(&r->finish_reason, llm_finish_reason(stop))
		    : 0;
}

static int message_start(struct llm_result *r, const cJSON *ev)
{
	const cJSON *m = get(ev, "message");

	usage(get(m, "usage"), r);
	return str(m, "model") ? llm_result_set(&r->model, str(m, "model")) : 0;
}

static int dispatch(struct llm_result *r, const char *type, const cJSON *ev)
{
	const cJSON *idx = get(ev, "index");

	if (strcmp(type, "message_start") == 0)
		return message_start(r, ev);
	if (strcmp(type, "content_block_start") == 0)
		return add_block(r, cJSON_IsNumber(idx) ? idx->valueint : 0,
				 get(ev, "content_block"));
	if (strcmp(type, "content_block_delta") == 0)
		return delta(r, ev);
	if (strcmp(type, "message_delta") == 0)
		return message_delta(r, ev);
	if (strcmp(type, "message_stop") == 0)
		r->done = 1;
	/* ping, content_block_stop and future events need nothing. */
	return 0;
}

static int event(struct llm_result *r, const char *name, const char *data,
		 size_t len)
{
	cJSON *ev = cJSON_ParseWithLength(data, len);
	const char *type = str(ev, "type");
	int rc;

	if (!ev) {
		llm_result_set(&r->error, "stream event is not JSON");
		return -1;
	}
	if (!type)
		type = name;
	if (strcmp(type, "error") == 0 || strcmp(name, "error") == 0)
		rc = stream_error(r, ev);
	else if ((rc = dispatch(r, type, ev)) < 0)
		llm_result_set(&r->error, "out of memory");
	cJSON_Delete(ev);
	return rc;
}

const struct llm_wire llm_wire_anthropic = {
	.kind = "anthropic",
	.path = "/v1/messages",
	.auth_prefix = "x-api-key: ",
	.extra_header = "anthropic-version: 2023-06-01",
	.encode = encode,
	.decode = decode,
	.event = event,
	.error = error_body,
};
