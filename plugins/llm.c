/*
 * llm - a sutra plugin agent: a prompt template and inputs in, text (or
 * JSON checked against a schema) out, through the host's LLM layer.
 *
 * input:
 *   prompt    template text; {{ name }} and {{ a.b }} take values from vars
 *             (text as is, other values as JSON)
 *   vars      object of values for the template
 *   system    system prompt (a template too)
 *   schema    a JSON schema: the answer must be a JSON object matching it
 *             (required fields and types are checked); a bad answer gets
 *             one repair request that says what was wrong
 *   tools, model, provider, temperature, max_tokens: passed through
 * output:
 *   {text, json (with schema), tool_calls, finish_reason, usage, cost_usd,
 *    model, provider, repaired}
 *
 * Built against <sutra/plugin.h> only, and libcjson.
 */
#define _POSIX_C_SOURCE 200809L   /* strndup */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sutra/plugin.h>

/* ------------------------------------------------------------ template */

struct buf {
	char *s;
	size_t len, cap;
};

static int buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *ns = realloc(b->s, cap);
		if (!ns)
			return -1;
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

static const cJSON *lookup(const cJSON *vars, const char *path, size_t len)
{
	char key[256];
	const cJSON *v = vars;
	size_t i = 0;

	while (i < len && v) {
		size_t j = i;
		while (j < len && path[j] != '.')
			j++;
		if (j - i >= sizeof(key))
			return NULL;
		memcpy(key, path + i, j - i);
		key[j - i] = '\0';
		v = cJSON_IsArray(v) ? cJSON_GetArrayItem(v, atoi(key))
				     : cJSON_GetObjectItemCaseSensitive(v, key);
		i = j + 1;
	}
	return v;
}

/* Renders {{ path }} placeholders; returns a new string or NULL. */
static char *render(const char *tmpl, const cJSON *vars)
{
	struct buf b = {0};
	const char *p = tmpl;

	if (buf_add(&b, "", 0) < 0)
		return NULL;
	while (*p) {
		const char *open = strstr(p, "{{"), *close;
		if (!open || !(close = strstr(open + 2, "}}"))) {
			buf_add(&b, p, strlen(p));
			break;
		}
		buf_add(&b, p, (size_t)(open - p));
		const char *a = open + 2, *z = close;
		while (a < z && *a == ' ')
			a++;
		while (z > a && z[-1] == ' ')
			z--;
		const cJSON *v = lookup(vars, a, (size_t)(z - a));
		if (cJSON_IsString(v)) {
			buf_add(&b, v->valuestring, strlen(v->valuestring));
		} else if (v && !cJSON_IsNull(v)) {
			char *text = cJSON_PrintUnformatted(v);
			if (text)
				buf_add(&b, text, strlen(text));
			cJSON_free(text);
		}
		p = close + 2;
	}
	return b.s;
}

/* ------------------------------------------------------------ schemas */

static int type_ok(const cJSON *v, const char *type)
{
	if (!strcmp(type, "string"))
		return cJSON_IsString(v);
	if (!strcmp(type, "number"))
		return cJSON_IsNumber(v);
	if (!strcmp(type, "integer"))
		return cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble;
	if (!strcmp(type, "boolean"))
		return cJSON_IsBool(v);
	if (!strcmp(type, "object"))
		return cJSON_IsObject(v);
	if (!strcmp(type, "array"))
		return cJSON_IsArray(v);
	if (!strcmp(type, "null"))
		return cJSON_IsNull(v);
	return 1;
}

/* Checks v against the schema's type, required and properties; writes
 * what is wrong into why. */
static int check(const cJSON *schema, const cJSON *v, const char *at,
		 char *why, size_t n)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(schema, "type");
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(schema, "required");
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
	const cJSON *c;
	char sub[256];

	if (cJSON_IsString(type) && !type_ok(v, type->valuestring)) {
		snprintf(why, n, "%s should be %s", at, type->valuestring);
		return -1;
	}
	cJSON_ArrayForEach(c, req) {
		if (cJSON_IsString(c) &&
		    !cJSON_GetObjectItemCaseSensitive(v, c->valuestring)) {
			snprintf(why, n, "%s lacks the field '%s'", at, c->valuestring);
			return -1;
		}
	}
	cJSON_ArrayForEach(c, props) {
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(v, c->string);
		snprintf(sub, sizeof(sub), "%s.%s", at, c->string);
		if (f && check(c, f, sub, why, n) < 0)
			return -1;
	}
	return 0;
}

/* Parses the answer as JSON, allowing a ```json fence around it. */
static cJSON *parse_answer(const char *text)
{
	const char *start = strchr(text, '{');
	const char *end = strrchr(text, '}');
	cJSON *v = cJSON_Parse(text);

	if (v || !start || !end || end < start)
		return v;
	char *inner = strndup(start, (size_t)(end - start + 1));
	v = inner ? cJSON_Parse(inner) : NULL;
	free(inner);
	return v;
}

/* ---------------------------------------------------------------- run */

static const char *const pass_through[] = {
	"tools", "model", "provider", "temperature", "max_tokens", "stop", NULL,
};

static cJSON *build_request(const cJSON *in, struct sutra_call *call)
{
	const cJSON *vars = cJSON_GetObjectItemCaseSensitive(in, "vars");
	const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(in, "prompt");
	const cJSON *system = cJSON_GetObjectItemCaseSensitive(in, "system");
	const cJSON *schema = cJSON_GetObjectItemCaseSensitive(in, "schema");
	cJSON *req = cJSON_CreateObject(), *msgs;
	char *text;

	if (!cJSON_IsString(prompt)) {
		call->host->error(call, "input field 'prompt' must be a string");
		cJSON_Delete(req);
		return NULL;
	}
	msgs = cJSON_AddArrayToObject(req, "messages");
	if (cJSON_IsString(system) && (text = render(system->valuestring, vars))) {
		cJSON *m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "role", "system");
		cJSON_AddStringToObject(m, "content", text);
		cJSON_AddItemToArray(msgs, m);
		free(text);
	}
	if (!(text = render(prompt->valuestring, vars))) {
		cJSON_Delete(req);
		return NULL;
	}
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "role", "user");
	cJSON_AddStringToObject(m, "content", text);
	cJSON_AddItemToArray(msgs, m);
	free(text);
	for (const char *const *k = pass_through; *k; k++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, *k);
		if (v)
			cJSON_AddItemToObject(req, *k, cJSON_Duplicate(v, 1));
	}
	if (schema)
		cJSON_AddItemToObject(req, "json", cJSON_Duplicate(schema, 1));
	return req;
}

/* One round trip; returns the response or NULL (error set). */
static cJSON *chat(struct sutra_call *call, const cJSON *req)
{
	char *text = cJSON_PrintUnformatted(req);
	char *resp = text ? call->host->llm_chat(call, text) : NULL;
	cJSON *r = resp ? cJSON_Parse(resp) : NULL;

	if (!resp)
		call->host->error(call, call->host->last_error(call));
	else if (!r)
		call->host->error(call, "the llm layer answered invalid JSON");
	cJSON_free(text);
	call->host->free(resp);
	return r;
}

/* Asks once more, saying what was wrong with the last answer. */
static cJSON *repair(struct sutra_call *call, cJSON *req, const char *bad,
		     const char *why)
{
	cJSON *msgs = cJSON_GetObjectItemCaseSensitive(req, "messages");
	char note[640];
	cJSON *a = cJSON_CreateObject(), *u = cJSON_CreateObject();

	cJSON_AddStringToObject(a, "role", "assistant");
	cJSON_AddStringToObject(a, "content", bad);
	cJSON_AddItemToArray(msgs, a);
	snprintf(note, sizeof(note), "That answer is not valid: %s. Reply with "
		 "only a JSON object that matches the schema.", why);
	cJSON_AddStringToObject(u, "role", "user");
	cJSON_AddStringToObject(u, "content", note);
	cJSON_AddItemToArray(msgs, u);
	return chat(call, req);
}

static const char *answer_text(const cJSON *resp)
{
	const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(resp, "text"));
	return t ? t : "";
}

/* Checks the answer as JSON; NULL with why filled when it is not good. */
static cJSON *valid_json(const cJSON *resp, const cJSON *schema, char *why,
			 size_t n)
{
	cJSON *j = parse_answer(answer_text(resp));

	if (!j) {
		snprintf(why, n, "it is not JSON");
		return NULL;
	}
	if (check(schema, j, "the answer", why, n) < 0) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static int run(struct sutra_call *call)
{
	cJSON *in = cJSON_Parse(call->host->input(call));
	const cJSON *schema = cJSON_GetObjectItemCaseSensitive(in, "schema");
	cJSON *req = build_request(in, call), *resp = NULL, *json = NULL;
	char why[512] = "";
	int repaired = 0, rc = 1;

	if (!req || !(resp = chat(call, req)))
		goto out;
	if (schema && !(json = valid_json(resp, schema, why, sizeof(why)))) {
		cJSON *again = repair(call, req, answer_text(resp), why);
		if (!again)
			goto out;
		cJSON_Delete(resp);
		resp = again;
		repaired = 1;
		if (!(json = valid_json(resp, schema, why, sizeof(why)))) {
			char msg[600];
			snprintf(msg, sizeof(msg), "the model's answer did not match "
				 "the schema after one repair: %s", why);
			call->host->error(call, msg);
			goto out;
		}
	}
	cJSON *out = cJSON_CreateObject();
	static const char *const keep[] = {"text", "tool_calls", "finish_reason",
					   "usage", "cost_usd", "model",
					   "provider", NULL};
	for (const char *const *k = keep; *k; k++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(resp, *k);
		if (v)
			cJSON_AddItemToObject(out, *k, cJSON_Duplicate(v, 1));
	}
	if (json)
		cJSON_AddItemToObject(out, "json", json);
	json = NULL;
	cJSON_AddBoolToObject(out, "repaired", repaired);
	char *text = cJSON_PrintUnformatted(out);
	cJSON_Delete(out);
	rc = text && call->host->set_output(call, text) == SUTRA_STATUS_OK ? 0 : 1;
	cJSON_free(text);
out:
	cJSON_Delete(json);
	cJSON_Delete(resp);
	cJSON_Delete(req);
	cJSON_Delete(in);
	return rc;
}

static const struct sutra_agent agents[] = {
	{
		.name = "llm",
		.description = "prompt template and inputs to text, or to JSON "
			       "checked against a schema",
		.run = run,
	},
};

static const struct sutra_plugin plugin = {
	SUTRA_PLUGIN_INIT,
	.name = "llm",
	.version = "1.0.0",
	.agents = agents,
	.n_agents = sizeof(agents) / sizeof(*agents),
};

SUTRA_PLUGIN_EXPORT const struct sutra_plugin *sutra_plugin_entry(void)
{
	return &plugin;
}
