/*
 * expr.h - chain expressions and templates (SPEC §3).
 *
 * An expression is Lua source, checked at load (syntax, and the step ids
 * it names) and compiled once per thread's Lua state on first use, then
 * evaluated in a read-only environment: inputs, steps.<id>.output|status|
 * error|attempts, item and index inside map, loop.iteration, session, and
 * the safe builtins (string, math, table, ...).
 *
 * A template is a JSON value whose strings may hold ${{ e }}: a string that
 * is exactly one ${{ e }} takes the value's own type; inside longer text
 * the value is interpolated (integers without a decimal point, tables as
 * JSON, nil as "").  Subtrees without ${{ are kept as constants.
 */
#ifndef SUTRA_EXPR_H
#define SUTRA_EXPR_H

#include <cjson/cJSON.h>

#include "err.h"
#include "ydoc.h"

struct expr {
	char *source;     /* the Lua expression */
	char **refs;      /* step ids it names (steps.ID), NULL-terminated */
	int line, col;    /* where it stands, for messages */
};

/* What a step id resolves to at evaluation time. */
struct expr_step {
	const char *status;   /* "ok", "failed", ... */
	const cJSON *output;  /* may be NULL */
	const char *error;    /* may be NULL */
	int attempts;
};

/* The names an expression sees; borrowed for one evaluation. */
struct expr_scope {
	const cJSON *inputs;
	const char *session;
	const cJSON *item;        /* NULL outside map */
	int index;                /* map index from 1; 0 outside map */
	int loop_iteration;       /* from 1; 0 outside loops */
	/* Resolves steps.ID; returns 0 and fills *out, or -1 if ID has not
	 * run (steps.ID is then nil). */
	int (*lookup)(const struct expr_scope *scope, const char *id,
		      struct expr_step *out);
	void *ud;
};

/*
 * Parses and syntax-checks an expression.  Returns a new expr (free with
 * expr_free), or NULL with err set to the Lua error.
 */
struct expr *expr_new(const char *source, int line, int col,
		      struct sutra_err *err);
void expr_free(struct expr *e);

/* Evaluates to a new cJSON value (caller frees).  The error names the
 * expression's source. */
int expr_eval(const struct expr *e, const struct expr_scope *scope,
	      cJSON **out, struct sutra_err *err);

/* Evaluates and returns Lua truthiness (1/0), or -1 with err set. */
int expr_test(const struct expr *e, const struct expr_scope *scope,
	      struct sutra_err *err);

/* ---------------------------------------------------------- templates */

struct tmpl;

/* Compiles a template from a JSON value (copied).  On a bad expression
 * sets err (the message names the string) and returns NULL.  line/col are
 * the value's position. */
struct tmpl *tmpl_new(const cJSON *value, int line, int col,
		      struct sutra_err *err);
void tmpl_free(struct tmpl *t);

/* Compiles a template from a YAML node, so that an error names the exact
 * line and column of the string that holds the bad expression. */
struct tmpl *tmpl_from_yaml(struct ydoc *doc, yaml_node_t *node,
			    struct sutra_err *err);

/* Evaluates to a new cJSON value (caller frees). */
int tmpl_eval(const struct tmpl *t, const struct expr_scope *scope,
	      cJSON **out, struct sutra_err *err);

/* Calls fn for every expression inside t (for reference checks). */
void tmpl_each_expr(const struct tmpl *t,
		    void (*fn)(const struct expr *e, void *ud), void *ud);

/* Whether t holds no expression (then its value is fixed). */
int tmpl_is_const(const struct tmpl *t);

/* Where expressions find the Lua library dir for their thread's state. */
void expr_set_lua_dir(const char *lua_dir);

#endif
