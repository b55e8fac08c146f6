/*
 * chain.c - questions about a loaded chain: its steps by id, its inputs
 * from the command line, the names of step kinds, and the order of
 * validation messages.  (Loading is chain_load.c, running chain_run.c.)
 */
#include "chain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

static const char *const kind_names[] = {
	[STEP_AGENT] = "agent", [STEP_PARALLEL] = "parallel",
	[STEP_LOOP] = "loop", [STEP_MAP] = "map", [STEP_CHAIN] = "chain",
	[STEP_SWITCH] = "switch", [STEP_ASK] = "ask",
};

const char *step_kind_name(enum step_kind kind)
{
	return kind_names[kind];
}

/* Orders "FILE:LINE:COL: ..." messages by file, then position. */
int chain_compare_diags(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	const char *xc = strchr(x, ':'), *yc = strchr(y, ':');
	size_t xl = xc ? (size_t)(xc - x) : strlen(x);
	size_t yl = yc ? (size_t)(yc - y) : strlen(y);
	int c = strncmp(x, y, xl < yl ? xl : yl);
	long xline = xc ? atol(xc + 1) : 0, yline = yc ? atol(yc + 1) : 0;
	const char *xcol = xc ? strchr(xc + 1, ':') : NULL;
	const char *ycol = yc ? strchr(yc + 1, ':') : NULL;

	if (c || xl != yl)
		return c ? c : (xl < yl ? -1 : 1);
	if (xline != yline)
		return xline < yline ? -1 : 1;
	long xcoln = xcol ? atol(xcol + 1) : 0, ycoln = ycol ? atol(ycol + 1) : 0;
	return xcoln < ycoln ? -1 : xcoln > ycoln;
}

struct step *chain_find_step(const struct chain *c, const char *id)
{
	int lo = 0, hi = c->n_steps;

	if (!c->by_id)
		return NULL;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		int cmp = strcmp(id, c->by_id[mid]->id);
		if (cmp == 0) {
			/* The first of equal ids (duplicates are errors). */
			while (mid > 0 && strcmp(id, c->by_id[mid - 1]->id) == 0)
				mid--;
			return c->by_id[mid];
		}
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

cJSON *chain_inputs(const struct chain *c, const cJSON *given,
		    char *const *kv, int n_kv, struct sutra_err *err)
{
	cJSON *in = given ? cJSON_Duplicate(given, 1) : cJSON_CreateObject();

	if (!in || !cJSON_IsObject(in)) {
		cJSON_Delete(in);
		err_set(err, SUTRA_EUSAGE, "--input must be a JSON object");
		return NULL;
	}
	for (int i = 0; i < n_kv; i++) {
		const char *eq = strchr(kv[i], '=');
		if (!eq || eq == kv[i]) {
			err_set(err, SUTRA_EUSAGE, "-i '%s': expected KEY=VALUE", kv[i]);
			goto fail;
		}
		char *key = strndup(kv[i], (size_t)(eq - kv[i]));
		const cJSON *spec = cJSON_GetObjectItemCaseSensitive(c->inputs_schema, key);
		const char *type = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(spec, "type"));
		cJSON *v = key ? schema_from_text(type, eq + 1, key, err) : NULL;
		if (!v) {
			free(key);
			goto fail;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(in, key);
		cJSON_AddItemToObject(in, key, v);
		free(key);
	}
	if (schema_apply_defaults(c->inputs_schema, in, err) < 0)
		goto fail;
	for (int i = 0; i < c->n_inputs; i++) {
		const struct chain_input *ci = &c->inputs[i];
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, ci->name);
		char what[160];
		snprintf(what, sizeof(what), "%s:%d:%d: input '%s'", c->path,
			 ci->line, ci->col, ci->name);
		if (!v && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ci->spec,
									"required"))) {
			err_set(err, SUTRA_EUSAGE, "%s is required (give it with "
				"-i %s=VALUE)", what, ci->name);
			goto fail;
		}
		if (v && schema_check(ci->spec, v, what, err) < 0)
			goto fail;
	}
	return in;
fail:
	cJSON_Delete(in);
	return NULL;
}
