/*
 * chain_load.c - loading and validating chains (see chain.h).
 *
 * Validation reports every problem, not just the first: each check adds
 * a "FILE:LINE:COL: message" to the diagnostics and carries on, so one
 * run of `sutra chain validate` shows everything to fix.
 */
#include "chain.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "schema.h"
#include "util.h"
#include "ydoc.h"

enum { MAX_CHAIN_DEPTH = 16, DEFAULT_MAX_PARALLEL = 0 };

/* Keys a step may carry, and for which kinds. */
#define K(kind) (1u << (kind))
#define ALL_KINDS 0xffu
static const struct {
	const char *key;
	unsigned kinds;
} step_keys[] = {
	{"id", ALL_KINDS}, {"if", ALL_KINDS}, {"description", ALL_KINDS},
	{"timeout", ALL_KINDS}, {"retry", ALL_KINDS}, {"on_error", ALL_KINDS},
	{"budget", ALL_KINDS},
	{"agent", K(STEP_AGENT) | K(STEP_MAP)},
	{"with", K(STEP_AGENT) | K(STEP_MAP) | K(STEP_CHAIN)},
	{"parallel", K(STEP_PARALLEL)},
	{"max_parallel", K(STEP_PARALLEL) | K(STEP_MAP)},
	{"loop", K(STEP_LOOP)},
	{"steps", K(STEP_LOOP) | K(STEP_MAP)},
	{"map", K(STEP_MAP)},
	{"chain", K(STEP_CHAIN)},
	{"switch", K(STEP_SWITCH)},
	{"ask", K(STEP_ASK)},
	{"schema", K(STEP_ASK)},
};

/* The key that makes a step of each kind, in enum order. */
static const char *const kind_keys[] = {
	[STEP_AGENT] = "agent", [STEP_PARALLEL] = "parallel",
	[STEP_LOOP] = "loop", [STEP_MAP] = "map", [STEP_CHAIN] = "chain",
	[STEP_SWITCH] = "switch", [STEP_ASK] = "ask",
};

static const char *const chain_keys[] = {
	"name", "description", "inputs", "defaults", "steps", "output",
	"budget", NULL,
};

static const char *const lua_keywords[] = {
	"and", "break", "do", "else", "elseif", "end", "false", "for",
	"function", "goto", "if", "in", "local", "nil", "not", "or", "repeat",
	"return", "then", "true", "until", "while", NULL,
};

/* Chain-wide defaults from `defaults:`. */
struct defaults {
	int64_t timeout_ms;
	int retry_max;
	int64_t backoff_ms;
	int continue_on_error;
};

/* The state of one chain file's load. */
struct loader {
	struct ydoc *doc;
	const struct catalog *cat;
	struct chain *chain;
	struct chain_diag *diag;
	struct defaults defaults;
	int n_all, cap_all;
	char **stack;        /* canonical paths of the chains being loaded */
	int depth;
	int oom;
};

/* ------------------------------------------------------------- diags */

static void diag_add(struct chain_diag *d, const char *msg)
{
	char **n = realloc(d->msgs, sizeof(*n) * (size_t)(d->n + 1));

	if (!n)
		return;
	d->msgs = n;
	if ((d->msgs[d->n] = strdup(msg)))
		d->n++;
}

static void problem(struct loader *l, const yaml_node_t *node,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void problem(struct loader *l, const yaml_node_t *node,
		    const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct sutra_err e = {0};
	ydoc_error(l->doc, node, &e, SUTRA_EUSAGE, "%s", msg);
	diag_add(l->diag, e.msg);
}

/* Records an error from a callee that already names the position. */
static void problem_err(struct loader *l, const yaml_node_t *node,
			const struct sutra_err *e)
{
	if (e->code == SUTRA_ENOMEM)
		l->oom = 1;
	if (strncmp(e->msg, l->doc->path, strlen(l->doc->path)) == 0)
		diag_add(l->diag, e->msg);
	else
		problem(l, node, "%s", e->msg);
}

void chain_diag_free(struct chain_diag *d)
{
	for (int i = 0; i < d->n; i++)
		free(d->msgs[i]);
	free(d->msgs);
	d->msgs = NULL;
	d->n = 0;
}

/* ------------------------------------------------------------- nodes */

static yaml_node_t *get(struct loader *l, yaml_node_t *map, const char *key)
{
	return ydoc_map_get(l->doc, map, key);
}

static const char *scalar(yaml_node_t *n)
{
	return ydoc_scalar(n);
}

static int is_map(const yaml_node_t *n)
{
	return n && n->type == YAML_MAPPING_NODE;
}

static int is_seq(const yaml_node_t *n)
{
	return n && n->type == YAML_SEQUENCE_NODE;
}

static void check_keys(struct loader *l, yaml_node_t *map,
		       int (*allowed)(const char *key, void *ud), void *ud,
		       const char *what)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = ydoc_node(l->doc, p->key);
		const char *k = scalar(kn);
		if (!k)
			problem(l, kn, "%s keys must be names", what);
		else if (!allowed(k, ud))
			problem(l, kn, "unknown key '%s' in %s", k, what);
	}
}

static struct expr *parse_expr(struct loader *l, yaml_node_t *n,
			       const char *what)
{
	struct sutra_err e = {0};
	const char *src = scalar(n);
	struct expr *x;

	if (!src || !*src) {
		problem(l, n, "'%s' must be an expression", what);
		return NULL;
	}
	/* `if: ${{ e }}` is accepted too: the braces are optional there. */
	char *bare = NULL;
	size_t len = strlen(src);
	if (strncmp(src, "${{", 3) == 0 && len > 5 &&
	    strcmp(src + len - 2, "}}") == 0)
		bare = strndup(src + 3, len - 5);
	x = expr_new(bare ? bare : src, ydoc_line(n), ydoc_col(n), &e);
	free(bare);
	if (!x)
		problem_err(l, n, &e);
	return x;
}

static struct tmpl *parse_tmpl(struct loader *l, yaml_node_t *n)
{
	struct sutra_err e = {0};
	struct tmpl *t = tmpl_from_yaml(l->doc, n, &e);

	if (!t)
		problem_err(l, n, &e);
	return t;
}

static int64_t parse_duration(struct loader *l, yaml_node_t *n,
			      const char *what)
{
	int64_t ms = 0;
	const char *s = scalar(n);

	if (!s || parse_duration_ms(s, &ms) < 0) {
		problem(l, n, "%s: '%s' is not a duration (e.g. 250ms, 30s, 5m)",
			what, s ? s : "?");
		return 0;
	}
	return ms;
}

static int parse_count(struct loader *l, yaml_node_t *n, const char *what,
		       int min)
{
	const char *s = scalar(n);
	char *end;
	long v = s ? strtol(s, &end, 10) : 0;

	if (!s || !*s || *end || v < min || v > INT_MAX) {
		problem(l, n, "%s must be an integer of at least %d", what, min);
		return min;
	}
	return (int)v;
}

/* ---------------------------------------------------- budgets, retries */

static void parse_budget(struct loader *l, yaml_node_t *n, struct budget *b)
{
	yaml_node_t *v;

	if (!is_map(n)) {
		problem(l, n, "budget must be a mapping {usd, tokens, wall}");
		return;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		const char *k = scalar(ydoc_node(l->doc, p->key));
		v = ydoc_node(l->doc, p->value);
		if (k && strcmp(k, "usd") == 0) {
			const char *s = scalar(v);
			char *end;
			b->usd = s ? strtod(s, &end) : -1;
			if (!s || *end || b->usd <= 0)
				problem(l, v, "budget usd must be a positive number");
		} else if (k && strcmp(k, "tokens") == 0) {
			b->tokens = parse_count(l, v, "budget tokens", 1);
		} else if (k && strcmp(k, "wall") == 0) {
			b->wall_ms = parse_duration(l, v, "budget wall");
		} else {
			problem(l, ydoc_node(l->doc, p->key),
				"unknown key '%s' in budget", k ? k : "?");
		}
	}
}

static void parse_retry(struct loader *l, yaml_node_t *n, int *max,
			int64_t *backoff)
{
	if (!is_map(n)) {
		problem(l, n, "retry must be a mapping {max, backoff}");
		return;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		const char *k = scalar(ydoc_node(l->doc, p->key));
		yaml_node_t *v = ydoc_node(l->doc, p->value);
		if (k && strcmp(k, "max") == 0)
			*max = parse_count(l, v, "retry max", 0);
		else if (k && strcmp(k, "backoff") == 0)
			*backoff = parse_duration(l, v, "retry backoff");
		else
			problem(l, ydoc_node(l->doc, p->key),
				"unknown key '%s' in retry", k ? k : "?");
	}
}

static int parse_on_error(struct loader *l, yaml_node_t *n)
{
	const char *s = scalar(n);

	if (s && strcmp(s, "continue") == 0)
		return 1;
	if (!s || strcmp(s, "fail") != 0)
		problem(l, n, "on_error must be 'fail' or 'continue'");
	return 0;
}

/* -------------------------------------------------------------- steps */

static struct step *parse_step(struct loader *l, yaml_node_t *n,
			       struct step *parent, struct step *scope);

static void free_list(struct step_list *list);

static int add_to_all(struct loader *l, struct step *s)
{
	struct chain *c = l->chain;

	if (l->n_all == l->cap_all) {
		int cap = l->cap_all ? l->cap_all * 2 : 32;
		struct step **n = realloc(c->all, sizeof(*n) * (size_t)cap);
		if (!n)
			return -1;
		c->all = n;
		l->cap_all = cap;
	}
	c->all[l->n_all++] = s;
	c->n_steps = l->n_all;
	return 0;
}

static void parse_list(struct loader *l, yaml_node_t *n,
		       struct step_list *list, struct step *parent,
		       struct step *scope, const char *what)
{
	if (!is_seq(n)) {
		problem(l, n, "%s must be a list of steps", what);
		return;
	}
	int cap = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
	list->items = calloc((size_t)cap + 1, sizeof(*list->items));
	if (!list->items) {
		l->oom = 1;
		return;
	}
	if (cap == 0)
		problem(l, n, "%s is empty", what);
	for (yaml_node_item_t *i = n->data.sequence.items.start;
	     i < n->data.sequence.items.top; i++) {
		struct step *s = parse_step(l, ydoc_node(l->doc, *i), parent, scope);
		if (s)
			list->items[list->n++] = s;
	}
}

static int step_key_allowed(const char *key, void *ud)
{
	const struct step *s = ud;

	for (size_t i = 0; i < sizeof(step_keys) / sizeof(*step_keys); i++)
		if (strcmp(step_keys[i].key, key) == 0)
			return (step_keys[i].kinds & K(s->kind)) != 0;
	return 0;
}

static int valid_id(const char *id)
{
	if (!id || !(*id >= 'a' && *id <= 'z'))
		return 0;
	if (strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(id))
		return 0;
	for (const char *const *k = lua_keywords; *k; k++)
		if (strcmp(*k, id) == 0)
			return 0;
	return 1;
}

/* Sets s->kind from its one kind key; reports none or several. */
static int find_kind(struct loader *l, yaml_node_t *n, struct step *s)
{
	int found = 0;

	for (int k = 0; k <= STEP_ASK; k++) {
		if (!get(l, n, kind_keys[k]))
			continue;
		/* `map` with `agent` is a map step, not two kinds. */
		if (k == STEP_AGENT && get(l, n, "map"))
			continue;
		if (found++)
			continue;
		s->kind = (enum step_kind)k;
	}
	if (found == 1)
		return 0;
	problem(l, n, "step '%s' must have exactly one of agent, parallel, "
		      "loop, map, chain, switch, ask (has %d)",
		s->id ? s->id : "?", found);
	return -1;
}

static void resolve_agent(struct loader *l, struct step *s, yaml_node_t *n)
{
	const char *name = scalar(n);

	if (!name || !*name) {
		problem(l, n, "agent must be a name");
		return;
	}
	if (!(s->agent_name = strdup(name))) {
		l->oom = 1;
		return;
	}
	s->agent = catalog_find(l->cat, name);
	if (!s->agent) {
		struct sutra_err e = {0};
		catalog_not_found(l->cat, name, &e);
		problem(l, n, "step '%s': %s", s->id, e.msg);
	}
}

static void parse_loop(struct loader *l, yaml_node_t *n, struct step *s)
{
	yaml_node_t *loop = get(l, n, "loop"), *v;

	if (!is_map(loop)) {
		problem(l, loop, "loop must be a mapping {until, max}");
		return;
	}
	for (yaml_node_pair_t *p = loop->data.mapping.pairs.start;
	     p < loop->data.mapping.pairs.top; p++) {
		const char *k = scalar(ydoc_node(l->doc, p->key));
		v = ydoc_node(l->doc, p->value);
		if (k && strcmp(k, "until") == 0)
			s->until = parse_expr(l, v, "until");
		else if (k && strcmp(k, "max") == 0)
			s->max = parse_tmpl(l, v);
		else
			problem(l, ydoc_node(l->doc, p->key),
				"unknown key '%s' in loop", k ? k : "?");
	}
	if (!get(l, loop, "max"))
		problem(l, loop, "loop '%s' needs 'max' (the most iterations "
				 "it may run)", s->id);
	if (!(v = get(l, n, "steps")))
		problem(l, n, "loop '%s' needs 'steps'", s->id);
	else
		parse_list(l, v, &s->steps, s, s->scope, "loop steps");
}

static void parse_map(struct loader *l, yaml_node_t *n, struct step *s)
{
	yaml_node_t *body = get(l, n, "steps"), *agent = get(l, n, "agent");

	s->over = parse_tmpl(l, get(l, n, "map"));
	if (!!body == !!agent) {
		problem(l, n, "map '%s' needs either 'agent' or 'steps'", s->id);
		return;
	}
	if (agent)
		resolve_agent(l, s, agent);
	else
		parse_list(l, body, &s->steps, s, s, "map steps");
}

static int count_items(const yaml_node_t *n)
{
	return (int)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static void parse_switch(struct loader *l, yaml_node_t *n, struct step *s)
{
	yaml_node_t *sw = get(l, n, "switch");

	if (!is_seq(sw) || count_items(sw) == 0) {
		problem(l, sw, "switch must be a list of {when, steps} and "
			       "{else} cases");
		return;
	}
	s->cases = calloc((size_t)count_items(sw), sizeof(*s->cases));
	if (!s->cases) {
		l->oom = 1;
		return;
	}
	for (yaml_node_item_t *i = sw->data.sequence.items.start;
	     i < sw->data.sequence.items.top; i++) {
		yaml_node_t *c = ydoc_node(l->doc, *i), *els, *when;
		struct switch_case *sc = &s->cases[s->n_cases++];
		sc->line = ydoc_line(c);
		sc->col = ydoc_col(c);
		if (!is_map(c)) {
			problem(l, c, "a switch case must be a mapping");
			continue;
		}
		els = get(l, c, "else");
		when = get(l, c, "when");
		if (els && !when) {
			if (i + 1 != sw->data.sequence.items.top)
				problem(l, c, "'else' must be the last case");
			parse_list(l, els, &sc->steps, s, s->scope, "else");
		} else if (when && !els) {
			sc->when = parse_expr(l, when, "when");
			if (!get(l, c, "steps"))
				problem(l, c, "a 'when' case needs 'steps'");
			else
				parse_list(l, get(l, c, "steps"), &sc->steps, s,
					   s->scope, "case steps");
		} else {
			problem(l, c, "a switch case needs 'when' and 'steps', or "
				      "'else'");
		}
		for (yaml_node_pair_t *p = c->data.mapping.pairs.start;
		     p < c->data.mapping.pairs.top; p++) {
			const char *k = scalar(ydoc_node(l->doc, p->key));
			if (!k || (strcmp(k, "when") && strcmp(k, "steps") &&
				   strcmp(k, "else")))
				problem(l, ydoc_node(l->doc, p->key),
					"unknown key '%s' in switch case",
					k ? k : "?");
		}
	}
}

static int load_file(struct loader *parent, const char *path,
		     const yaml_node_t *at, struct chain **out);

static void parse_subchain(struct loader *l, yaml_node_t *n, struct step *s)
{
	yaml_node_t *cn = get(l, n, "chain");
	const char *rel = scalar(cn);

	if (!rel || !*rel) {
		problem(l, cn, "chain must be a file name");
		return;
	}
	/* Sub-chain paths are relative to the file that names them. */
	if (rel[0] == '/') {
		s->chain_path = strdup(rel);
	} else {
		const char *slash = strrchr(l->chain->path, '/');
		char *dir = slash ? strndup(l->chain->path,
					    (size_t)(slash - l->chain->path))
				  : strdup(".");
		s->chain_path = dir ? path_join(dir, rel) : NULL;
		free(dir);
	}
	if (!s->chain_path) {
		l->oom = 1;
		return;
	}
	if (access(s->chain_path, R_OK) != 0) {
		problem(l, cn, "sub-chain '%s' not found (%s)", rel, s->chain_path);
		return;
	}
	load_file(l, s->chain_path, cn, &s->sub);
}

static void parse_ask(struct loader *l, yaml_node_t *n, struct step *s)
{
	yaml_node_t *schema = get(l, n, "schema");

	s->question = parse_tmpl(l, get(l, n, "ask"));
	if (!schema)
		return;
	if (!is_map(schema)) {
		problem(l, schema, "schema must be a mapping such as "
				   "{type: boolean}");
		return;
	}
	struct sutra_err e = {0};
	s->schema = ydoc_to_json(l->doc, schema, &e);
	if (!s->schema)
		problem_err(l, schema, &e);
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(s->schema, "type");
	if (cJSON_IsString(type) && !schema_known_type(type->valuestring))
		problem(l, schema, "unknown type '%s' in schema", type->valuestring);
}

static void parse_common(struct loader *l, yaml_node_t *n, struct step *s)
{
	yaml_node_t *v;

	s->timeout_ms = l->defaults.timeout_ms;
	s->retry_max = l->defaults.retry_max;
	s->backoff_ms = l->defaults.backoff_ms;
	s->continue_on_error = l->defaults.continue_on_error;
	if ((v = get(l, n, "if")))
		s->if_expr = parse_expr(l, v, "if");
	if ((v = get(l, n, "timeout")))
		s->timeout_ms = parse_duration(l, v, "timeout");
	if ((v = get(l, n, "retry")))
		parse_retry(l, v, &s->retry_max, &s->backoff_ms);
	if ((v = get(l, n, "on_error")))
		s->continue_on_error = parse_on_error(l, v);
	if ((v = get(l, n, "budget")))
		parse_budget(l, v, &s->budget);
	if ((v = get(l, n, "max_parallel")))
		s->max_parallel = parse_count(l, v, "max_parallel", 1);
	if ((v = get(l, n, "with")))
		s->with = parse_tmpl(l, v);
}

static void parse_kind(struct loader *l, yaml_node_t *n, struct step *s)
{
	switch (s->kind) {
	case STEP_AGENT:
		resolve_agent(l, s, get(l, n, "agent"));
		break;
	case STEP_PARALLEL:
		parse_list(l, get(l, n, "parallel"), &s->steps, s, s->scope,
			   "parallel");
		break;
	case STEP_LOOP:
		parse_loop(l, n, s);
		break;
	case STEP_MAP:
		parse_map(l, n, s);
		break;
	case STEP_CHAIN:
		parse_subchain(l, n, s);
		break;
	case STEP_SWITCH:
		parse_switch(l, n, s);
		break;
	case STEP_ASK:
		parse_ask(l, n, s);
		break;
	}
}

static struct step *parse_step(struct loader *l, yaml_node_t *n,
			       struct step *parent, struct step *scope)
{
	struct step *s;
	yaml_node_t *idn;

	if (!is_map(n)) {
		problem(l, n, "a step must be a mapping");
		return NULL;
	}
	if (!(s = calloc(1, sizeof(*s))) || add_to_all(l, s) < 0) {
		free(s);
		l->oom = 1;
		return NULL;
	}
	s->line = ydoc_line(n);
	s->col = ydoc_col(n);
	s->parent = parent;
	s->scope = scope;
	idn = get(l, n, "id");
	if (!idn)
		problem(l, n, "step needs an 'id'");
	else if (!valid_id(scalar(idn)))
		problem(l, idn, "invalid step id '%s' (lowercase letters, digits "
				"and '_', starting with a letter, not a Lua keyword)",
			scalar(idn) ? scalar(idn) : "?");
	s->id = strdup(idn && scalar(idn) ? scalar(idn) : "?");
	if (!s->id)
		l->oom = 1;
	if (find_kind(l, n, s) < 0)
		return s;
	check_keys(l, n, step_key_allowed, s, "step");
	parse_common(l, n, s);
	parse_kind(l, n, s);
	return s;
}

static void free_step(struct step *s)
{
	if (!s)
		return;
	free(s->id);
	expr_free(s->if_expr);
	tmpl_free(s->with);
	free(s->agent_name);
	free_list(&s->steps);
	expr_free(s->until);
	tmpl_free(s->max);
	tmpl_free(s->over);
	free(s->chain_path);
	chain_free(s->sub);
	for (int i = 0; i < s->n_cases; i++) {
		expr_free(s->cases[i].when);
		free_list(&s->cases[i].steps);
	}
	free(s->cases);
	tmpl_free(s->question);
	cJSON_Delete(s->schema);
	free(s);
}

static void free_list(struct step_list *list)
{
	for (int i = 0; i < list->n; i++)
		free_step(list->items[i]);
	free(list->items);
	list->items = NULL;
	list->n = 0;
}

/* ------------------------------------------------------------ checks */

static int compare_ids(const void *a, const void *b)
{
	const struct step *x = *(struct step *const *)a;
	const struct step *y = *(struct step *const *)b;
	int c = strcmp(x->id, y->id);

	/* Equal ids keep document order, so the first one is found. */
	return c ? c : (x->line != y->line ? x->line - y->line : x->col - y->col);
}

/* Sorts the id index and reports duplicates (each after its first). */
static void index_ids(struct loader *l)
{
	struct chain *c = l->chain;

	if (!(c->by_id = malloc(sizeof(*c->by_id) * ((size_t)c->n_steps + 1)))) {
		l->oom = 1;
		return;
	}
	for (int i = 0; i < c->n_steps; i++)
		c->by_id[i] = c->all[i];
	qsort(c->by_id, (size_t)c->n_steps, sizeof(*c->by_id), compare_ids);
	for (int i = 1, first = 0; i < c->n_steps; i++) {
		const struct step *s = c->by_id[i];
		if (strcmp(s->id, c->by_id[first]->id) != 0) {
			first = i;
			continue;
		}
		if (strcmp(s->id, "?") == 0)
			continue;
		struct sutra_err e = {0};
		err_set(&e, SUTRA_EUSAGE, "%s:%d:%d: duplicate step id '%s' "
			"(first at line %d)", c->path, s->line, s->col, s->id,
			c->by_id[first]->line);
		diag_add(l->diag, e.msg);
	}
}

/* The steps visible to an expression, as a stack during the walk. */
struct visibility {
	struct loader *l;
	const struct step **ids;
	int n, cap;
	const struct expr *current;   /* for messages */
};

static void push_visible(struct visibility *v, const struct step *s)
{
	if (v->n == v->cap) {
		int cap = v->cap ? v->cap * 2 : 32;
		const struct step **n = realloc(v->ids, sizeof(*n) * (size_t)cap);
		if (!n) {
			v->l->oom = 1;
			return;
		}
		v->ids = n;
		v->cap = cap;
	}
	v->ids[v->n++] = s;
	((struct step *)s)->visible++;
}

/* Pops back to mark (a count of pushed steps). */
static void pop_visible(struct visibility *v, int mark)
{
	while (v->n > mark)
		((struct step *)v->ids[--v->n])->visible--;
}

static int is_visible(const struct visibility *v, const char *id)
{
	const struct step *s = chain_find_step(v->l->chain, id);

	return s && s->visible > 0;
}

static void check_expr(const struct expr *e, void *ud)
{
	struct visibility *v = ud;
	struct loader *l = v->l;

	for (char **r = e->refs; r && *r; r++) {
		if (is_visible(v, *r))
			continue;
		struct sutra_err err = {0};
		if (chain_find_step(l->chain, *r))
			err_set(&err, SUTRA_EUSAGE,
				"%s:%d:%d: step '%s' is referenced where it "
				"cannot have run (later, in another branch, or "
				"inside a map)",
				l->chain->path, e->line, e->col, *r);
		else
			err_set(&err, SUTRA_EUSAGE,
				"%s:%d:%d: reference to unknown step '%s'",
				l->chain->path, e->line, e->col, *r);
		diag_add(l->diag, err.msg);
	}
}

static void check_tmpl(struct visibility *v, const struct tmpl *t)
{
	if (t)
		tmpl_each_expr(t, check_expr, v);
}

static void check_list(struct visibility *v, const struct step_list *list);

/* Pushes every step below s that stays visible after s ran (not the
 * insides of maps, which are per item). */
static void push_descendants(struct visibility *v, const struct step *s)
{
	if (s->kind == STEP_MAP)
		return;
	for (int i = 0; i < s->steps.n; i++) {
		push_visible(v, s->steps.items[i]);
		push_descendants(v, s->steps.items[i]);
	}
	for (int c = 0; c < s->n_cases; c++)
		for (int i = 0; i < s->cases[c].steps.n; i++) {
			push_visible(v, s->cases[c].steps.items[i]);
			push_descendants(v, s->cases[c].steps.items[i]);
		}
}

static void check_compound(struct visibility *v, const struct step *s)
{
	int mark = v->n;

	switch (s->kind) {
	case STEP_PARALLEL:
		/* Branches run side by side: none sees another. */
		for (int i = 0; i < s->steps.n; i++) {
			const struct step_list one = {&s->steps.items[i], 1};
			check_list(v, &one);
			pop_visible(v, mark);
		}
		break;
	case STEP_LOOP:
		/* Any body step may have run in an earlier iteration. */
		for (int i = 0; i < s->steps.n; i++) {
			push_visible(v, s->steps.items[i]);
			push_descendants(v, s->steps.items[i]);
		}
		check_list(v, &s->steps);
		if (s->until)
			check_expr(s->until, v);
		pop_visible(v, mark);
		break;
	case STEP_MAP:
		check_list(v, &s->steps);
		pop_visible(v, mark);
		break;
	case STEP_SWITCH:
		for (int c = 0; c < s->n_cases; c++) {
			check_list(v, &s->cases[c].steps);
			pop_visible(v, mark);
		}
		break;
	default:
		break;
	}
}

static void check_list(struct visibility *v, const struct step_list *list)
{
	for (int i = 0; i < list->n; i++) {
		const struct step *s = list->items[i];
		if (s->if_expr)
			check_expr(s->if_expr, v);
		check_tmpl(v, s->with);
		check_tmpl(v, s->over);
		check_tmpl(v, s->max);
		check_tmpl(v, s->question);
		for (int c = 0; c < s->n_cases; c++)
			if (s->cases[c].when)
				check_expr(s->cases[c].when, v);
		check_compound(v, s);
		push_visible(v, s);
		push_descendants(v, s);
	}
}

static void check_references(struct loader *l)
{
	struct visibility v = {.l = l};

	check_list(&v, &l->chain->steps);
	check_tmpl(&v, l->chain->output);
	free(v.ids);
}

/* Gives every step its result slot: one frame per chain run, and one per
 * item of each map (for the steps of its body). */
static void assign_slots(struct chain *c)
{
	for (int i = 0; i < c->n_steps; i++) {
		struct step *s = c->all[i];
		s->slot = s->scope ? s->scope->n_body_slots++ : c->n_slots++;
	}
}

/* -------------------------------------------------------------- inputs */

static int input_key_allowed(const char *key, void *ud)
{
	static const char *const keys[] = {"type", "required", "default",
					   "description", "enum", "items",
					   "properties", NULL};
	(void)ud;
	for (const char *const *k = keys; *k; k++)
		if (strcmp(*k, key) == 0)
			return 1;
	return 0;
}

static void parse_inputs(struct loader *l, yaml_node_t *n)
{
	struct chain *c = l->chain;

	if (!is_map(n)) {
		problem(l, n, "inputs must be a mapping of name: {type, required, "
			      "default}");
		return;
	}
	c->inputs_schema = cJSON_CreateObject();
	int cap = (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	c->inputs = calloc((size_t)cap + 1, sizeof(*c->inputs));
	if (!c->inputs || !c->inputs_schema) {
		l->oom = 1;
		return;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = ydoc_node(l->doc, p->key);
		yaml_node_t *vn = ydoc_node(l->doc, p->value);
		struct chain_input *in = &c->inputs[c->n_inputs];
		struct sutra_err e = {0};
		const char *name = scalar(kn);
		if (!name)
			continue;
		in->line = ydoc_line(kn);
		in->col = ydoc_col(kn);
		in->name = strdup(name);
		/* `topic: string` is short for `topic: {type: string}`. */
		if (vn->type == YAML_SCALAR_NODE) {
			in->spec = cJSON_CreateObject();
			cJSON_AddStringToObject(in->spec, "type", scalar(vn));
		} else if (is_map(vn)) {
			check_keys(l, vn, input_key_allowed, NULL, "input");
			in->spec = ydoc_to_json(l->doc, vn, &e);
		} else {
			problem(l, vn, "input '%s' must be a type or a mapping", name);
		}
		c->n_inputs++;
		if (!in->spec)
			continue;
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(in->spec, "type");
		const cJSON *def = cJSON_GetObjectItemCaseSensitive(in->spec, "default");
		char what[128];
		snprintf(what, sizeof(what), "default of input '%s'", name);
		if (type && (!cJSON_IsString(type) ||
			     !schema_known_type(type->valuestring)))
			problem(l, vn, "input '%s': unknown type (expected string, "
				       "integer, number, boolean, object, array, "
				       "null or any)",
				name);
		else if (def && schema_check(in->spec, def, what, &e) < 0)
			problem(l, get(l, vn, "default"), "%s", e.msg);
		cJSON_AddItemToObject(c->inputs_schema, name,
				      cJSON_Duplicate(in->spec, 1));
	}
}

static void parse_defaults(struct loader *l, yaml_node_t *n)
{
	yaml_node_t *v;

	if (!is_map(n)) {
		problem(l, n, "defaults must be a mapping");
		return;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		const char *k = scalar(ydoc_node(l->doc, p->key));
		v = ydoc_node(l->doc, p->value);
		if (k && strcmp(k, "timeout") == 0)
			l->defaults.timeout_ms = parse_duration(l, v, "timeout");
		else if (k && strcmp(k, "retry") == 0)
			parse_retry(l, v, &l->defaults.retry_max,
				    &l->defaults.backoff_ms);
		else if (k && strcmp(k, "on_error") == 0)
			l->defaults.continue_on_error = parse_on_error(l, v);
		else
			problem(l, ydoc_node(l->doc, p->key),
				"unknown key '%s' in defaults", k ? k : "?");
	}
}

static int chain_key_allowed(const char *key, void *ud)
{
	(void)ud;
	for (const char *const *k = chain_keys; *k; k++)
		if (strcmp(*k, key) == 0)
			return 1;
	return 0;
}

/* Checks a sub-chain step's `with` against the sub-chain's inputs. */
static void check_subchain_inputs(struct loader *l, const struct step *s)
{
	const struct chain *sub = s->sub;

	if (!sub)
		return;
	for (int i = 0; i < sub->n_inputs; i++) {
		const cJSON *req = cJSON_GetObjectItemCaseSensitive(
			sub->inputs[i].spec, "required");
		const cJSON *def = cJSON_GetObjectItemCaseSensitive(
			sub->inputs[i].spec, "default");
		if (!cJSON_IsTrue(req) || def)
			continue;
		struct sutra_err e = {0};
		cJSON *with = NULL;
		int given = 0;
		if (s->with && tmpl_is_const(s->with)) {
			struct expr_scope none = {0};
			tmpl_eval(s->with, &none, &with, &e);
			given = cJSON_GetObjectItemCaseSensitive(with,
				sub->inputs[i].name) != NULL;
			cJSON_Delete(with);
		} else {
			given = s->with != NULL;  /* checked at run time */
		}
		if (!given) {
			err_set(&e, SUTRA_EUSAGE, "%s:%d:%d: step '%s': sub-chain "
				"input '%s' is required (give it in 'with')",
				l->chain->path, s->line, s->col, s->id,
				sub->inputs[i].name);
			diag_add(l->diag, e.msg);
		}
	}
}

static void parse_top(struct loader *l, yaml_node_t *root)
{
	struct chain *c = l->chain;
	yaml_node_t *v;

	check_keys(l, root, chain_key_allowed, NULL, "chain");
	v = get(l, root, "name");
	c->name = strdup(v && scalar(v) ? scalar(v) : c->path);
	v = get(l, root, "description");
	c->description = strdup(v && scalar(v) ? scalar(v) : "");
	if ((v = get(l, root, "inputs")))
		parse_inputs(l, v);
	if ((v = get(l, root, "defaults")))
		parse_defaults(l, v);
	if ((v = get(l, root, "budget")))
		parse_budget(l, v, &c->budget);
	if (!(v = get(l, root, "steps")))
		problem(l, root, "chain needs 'steps'");
	else
		parse_list(l, v, &c->steps, NULL, NULL, "steps");
	if ((v = get(l, root, "output")))
		c->output = parse_tmpl(l, v);
}

/* Loads one file (the top chain or a sub-chain) into *out. */
static int load_file(struct loader *parent, const char *path,
		     const yaml_node_t *at, struct chain **out)
{
	struct loader l = {.cat = parent->cat, .diag = parent->diag,
			   .depth = parent->depth + 1};
	char real[PATH_MAX];
	struct sutra_err e = {0};
	int rc = -1;

	*out = NULL;
	if (!realpath(path, real))
		snprintf(real, sizeof(real), "%s", path);
	for (int i = 0; i < parent->depth; i++)
		if (strcmp(parent->stack[i], real) == 0) {
			problem(parent, at, "sub-chain '%s' includes itself "
					    "(recursion)", path);
			return -1;
		}
	if (l.depth > MAX_CHAIN_DEPTH) {
		problem(parent, at, "sub-chains nested deeper than %d",
			MAX_CHAIN_DEPTH);
		return -1;
	}
	l.stack = calloc((size_t)l.depth + 1, sizeof(char *));
	if (!l.stack)
		return -1;
	for (int i = 0; i < parent->depth; i++)
		l.stack[i] = parent->stack[i];
	l.stack[parent->depth] = real;
	if (ydoc_load_file(path, &l.doc, &e) < 0) {
		diag_add(l.diag, e.msg);
		free(l.stack);
		return -1;
	}
	if (!(l.chain = calloc(1, sizeof(*l.chain))) ||
	    !(l.chain->path = strdup(path))) {
		free(l.chain);
		goto out;
	}
	yaml_node_t *root = ydoc_root(l.doc);
	if (!is_map(root))
		problem(&l, root, "a chain must be a mapping with 'steps'");
	else
		parse_top(&l, root);
	index_ids(&l);
	if (l.chain->by_id)
		check_references(&l);
	for (int i = 0; i < l.chain->n_steps; i++)
		if (l.chain->all[i]->kind == STEP_CHAIN)
			check_subchain_inputs(&l, l.chain->all[i]);
	assign_slots(l.chain);
	*out = l.chain;
	rc = l.oom ? -1 : 0;
	if (l.oom)
		diag_add(l.diag, "out of memory");
out:
	ydoc_free(l.doc);
	free(l.stack);
	return rc;
}

int chain_load(const char *path, const struct catalog *cat,
	       struct chain **out, struct chain_diag *diag,
	       struct sutra_err *err)
{
	struct loader top = {.cat = cat, .diag = diag};
	struct chain *c = NULL;

	*out = NULL;
	diag->msgs = NULL;
	diag->n = 0;
	if (access(path, F_OK) != 0)
		return err_set(err, SUTRA_EUSAGE, "chain file '%s' not found",
			       path);
	load_file(&top, path, NULL, &c);
	if (diag->n > 1)
		qsort(diag->msgs, (size_t)diag->n, sizeof(*diag->msgs),
		      chain_compare_diags);
	if (diag->n > 0 || !c) {
		chain_free(c);
		return err_set(err, SUTRA_EUSAGE, "%s: %d problem%s", path,
			       diag->n, diag->n == 1 ? "" : "s");
	}
	*out = c;
	return 0;
}

void chain_free(struct chain *c)
{
	if (!c)
		return;
	free_list(&c->steps);
	for (int i = 0; i < c->n_inputs; i++) {
		free(c->inputs[i].name);
		cJSON_Delete(c->inputs[i].spec);
	}
	free(c->inputs);
	cJSON_Delete(c->inputs_schema);
	tmpl_free(c->output);
	free(c->all);
	free(c->by_id);
	free(c->path);
	free(c->name);
	free(c->description);
	free(c);
}

