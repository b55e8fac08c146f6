/*
 * llm_result.c - an answer as it accumulates (text, tool calls, usage,
 * stop reason) from a whole body or from stream events, and its response
 * JSON.  Streamed text is handed to the caller's delta callback here, the
 * one place that knows whether the caller has seen anything yet.
 */
#include <stdlib.h>
#include <string.h>

#include "llm_impl.h"

void llm_result_init(struct llm_result *r, llm_delta_fn fn, void *ud)
{
	memset(r, 0, sizeof(*r));
	r->on_delta = fn;
	r->delta_ud = ud;
}

void llm_result_free(struct llm_result *r)
{
	free(r->text.p);
	for (size_t i = 0; i < r->n_tools; i++) {
		free(r->tools[i].id);
		free(r->tools[i].name);
		free(r->tools[i].args.p);
	}
	free(r->tools);
	free(r->finish_reason);
	free(r->model);
	free(r->error);
	memset(r, 0, sizeof(*r));
}

int llm_result_text(struct llm_result *r, const char *s, size_t n)
{
	if (n == 0)
		return 0;
	if (sse_buf_add(&r->text, s, n) < 0)
		return -1;
	if (r->on_delta && !r->delta_stopped) {
		r->delivered = 1;
		if (r->on_delta(r->delta_ud, s, n) != 0)
			r->delta_stopped = 1;
	}
	return 0;
}

struct llm_tool_call *llm_result_tool(struct llm_result *r, int index)
{
	struct llm_tool_call *t;

	for (size_t i = 0; i < r->n_tools; i++)
		if (r->tools[i].index == index)
			return &r->tools[i];
	t = realloc(r->tools, (r->n_tools + 1) * sizeof(*t));
	if (!t)
		return NULL;
	r->tools = t;
	t = &r->tools[r->n_tools++];
	memset(t, 0, sizeof(*t));
	t->index = index;
	return t;
}

int llm_result_set(char **field, const char *value)
{
	char *copy = strdup(value ? value : "");

	if (!copy)
		return -1;
	free(*field);
	*field = copy;
	return 0;
}

int llm_tool_args_add(struct llm_tool_call *t, const char *s, size_t n)
{
	return n ? sse_buf_add(&t->args, s, n) : 0;
}

static cJSON *tool_json(const struct llm_tool_call *t)
{
	cJSON *o = cJSON_CreateObject();
	const char *text = t->args.len ? t->args.p : "{}";
	cJSON *args = cJSON_Parse(text);

	/* OpenAI's arguments are model-written text: keep the text, and an
	 * object only when it really is one. */
	if (args && !cJSON_IsObject(args)) {
		cJSON_Delete(args);
		args = NULL;
	}
	cJSON_AddStringToObject(o, "id", t->id ? t->id : "");
	cJSON_AddStringToObject(o, "name", t->name ? t->name : "");
	cJSON_AddItemToObject(o, "arguments", args ? args : cJSON_CreateNull());
	cJSON_AddStringToObject(o, "arguments_text", text);
	return o;
}

cJSON *llm_result_json(const struct llm_result *r)
{
	cJSON *o = cJSON_CreateObject(), *calls, *usage;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "text", r->text.p ? r->text.p : "");
	calls = cJSON_AddArrayToObject(o, "tool_calls");
	for (size_t i = 0; calls && i < r->n_tools; i++)
		cJSON_AddItemToArray(calls, tool_json(&r->tools[i]));
	cJSON_AddStringToObject(o, "finish_reason",
				r->finish_reason ? r->finish_reason
						 : (r->n_tools ? "tool_calls"
							       : "stop"));
	usage = cJSON_AddObjectToObject(o, "usage");
	cJSON_AddNumberToObject(usage, "input", (double)r->tokens_in);
	cJSON_AddNumberToObject(usage, "output", (double)r->tokens_out);
	cJSON_AddNumberToObject(usage, "cached", (double)r->tokens_cached);
	if (r->model)
		cJSON_AddStringToObject(o, "model", r->model);
	/* cJSON's Add* calls fail only when out of memory, and then the
	 * members added last are missing: check those once, here. */
	if (!calls || !usage || !cJSON_GetObjectItemCaseSensitive(o, "text") ||
	    !cJSON_GetObjectItemCaseSensitive(usage, "cached")) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Normalised stop reasons across the two wire formats. */
static const struct {
	const char *raw, *norm;
} finish_map[] = {
	{"stop", "stop"},           {"end_turn", "stop"},
	{"stop_sequence", "stop"},  {"length", "length"},
	{"max_tokens", "length"},   {"tool_calls", "tool_calls"},
	{"tool_use", "tool_calls"}, {"function_call", "tool_calls"},
	{"content_filter", "content_filter"}, {"refusal", "content_filter"},
};

const char *llm_finish_reason(const char *raw)
{
	for (size_t i = 0; i < sizeof(finish_map) / sizeof(*finish_map); i++)
		if (strcmp(finish_map[i].raw, raw) == 0)
			return finish_map[i].norm;
	return raw;
}
