/* expr.c - see expr.h. */
#include "expr.h"

#include <lauxlib.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "luart.h"

struct expr_impl {
	struct expr pub;
	long id;   /* key of the compiled function in each thread's state */
};

enum tkind { T_CONST, T_EXPR, T_TEXT, T_OBJECT, T_ARRAY };

struct tpart {
	char *text;        /* literal text before e (may be "") */
	struct expr *e;    /* NULL for the trailing text */
};

struct tmpl {
	enum tkind kind;
	cJSON *constant;            /* T_CONST */
	struct expr *e;             /* T_EXPR */
	struct tpart *parts;        /* T_TEXT */
	int n_parts;
	char *key;                  /* member name when inside an object */
	struct tmpl **children;     /* T_OBJECT, T_ARRAY */
	int n_children;
};

static atomic_long next_id = 1;
static char *lua_dir;
static _Thread_local const struct expr_scope *cur_scope;
static const char key_env, key_cache, key_steps;

void expr_set_lua_dir(const char *dir)
{
	free(lua_dir);
	lua_dir = dir ? strdup(dir) : NULL;
}

/* ------------------------------------------------------------ loading */

static int is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

static int add_ref(char ***refs, int *n, const char *id, size_t len)
{
	for (int i = 0; i < *n; i++)
		if (strlen((*refs)[i]) == len && memcmp((*refs)[i], id, len) == 0)
			return 0;
	char **nr = realloc(*refs, sizeof(*nr) * (size_t)(*n + 2));
	if (!nr)
		return -1;
	*refs = nr;
	if (!(nr[*n] = strndup(id, len)))
		return -1;
	nr[++*n] = NULL;
	return 0;
}

/* Finds steps.ID and steps["ID"] in the source (outside of the rare
 * case of such text inside a string literal, which only adds a check). */
static int scan_refs(const char *src, char ***refs)
{
	int n = 0;

	*refs = calloc(1, sizeof(**refs));
	if (!*refs)
		return -1;
	for (const char *p = src; (p = strstr(p, "steps")); p += 5) {
		if (p > src && (is_ident(p[-1]) || p[-1] == '.'))
			continue;
		const char *q = p + 5;
		while (*q == ' ')
			q++;
		if (*q == '.' && is_ident_start(q[1])) {
			const char *id = ++q;
			while (is_ident(*q))
				q++;
			if (add_ref(refs, &n, id, (size_t)(q - id)) < 0)
				return -1;
		} else if (q[0] == '[' && (q[1] == '"' || q[1] == '\'')) {
			const char *id = q + 2, *end = strchr(id, q[1]);
			if (end && add_ref(refs, &n, id, (size_t)(end - id)) < 0)
				return -1;
		}
	}
	return 0;
}

static int compile(lua_State *L, const char *source, struct sutra_err *err)
{
	size_t len = strlen(source);
	char *code = malloc(len + 16);
	int rc;

	if (!code)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	snprintf(code, len + 16, "return %s", source);
	rc = luaL_loadbufferx(L, code, strlen(code), "=expression", "t");
	free(code);
	if (rc != LUA_OK) {
		const char *msg = lua_tostring(L, -1);
		/* "expression:1: msg" -> "msg" */
		const char *colon = msg ? strstr(msg, ": ") : NULL;
		err_set(err, SUTRA_EUSAGE, "bad expression '%s': %s", source,
			colon ? colon + 2 : "syntax error");
		lua_pop(L, 1);
		return -1;
	}
	return 0;
}

struct expr *expr_new(const char *source, int line, int col,
		      struct sutra_err *err)
{
	struct expr_impl *x = calloc(1, sizeof(*x));
	lua_State *L = luart_state(lua_dir, err);

	if (!x) {
		err_set(err, SUTRA_ENOMEM, "out of memory");
		return NULL;
	}
	x->id = atomic_fetch_add(&next_id, 1);
	x->pub.line = line;
	x->pub.col = col;
	if (!L || !(x->pub.source = strdup(source)) ||
	    scan_refs(source, &x->pub.refs) < 0) {
		err_set(err, SUTRA_ENOMEM, "out of memory");
		goto fail;
	}
	if (compile(L, source, err) < 0)
		goto fail;
	lua_pop(L, 1);
	return &x->pub;
fail:
	expr_free(&x->pub);
	return NULL;
}

void expr_free(struct expr *e)
{
	if (!e)
		return;
	for (char **r = e->refs; r && *r; r++)
		free(*r);
	free(e->refs);
	free(e->source);
	free(e);
}

/* -------------------------------------------------------- environment */

static const struct expr_scope *scope_or_raise(lua_State *L)
{
	if (!cur_scope)
		luaL_error(L, "expression evaluated outside a chain");
	return cur_scope;
}

static void push_json_or_raise(lua_State *L, const cJSON *v)
{
	struct sutra_err err = {0};

	if (!v) {
		lua_pushnil(L);
		return;
	}
	/* JSON null is nil here, so that `if: steps.x.output.maybe` and
	 * `a and b` treat it as false, as people expect. */
	if (luart_push_json_opt(L, v, 1, &err) < 0)
		luaL_error(L, "%s", err.msg);
}

/* steps.ID -> {output, status, error, attempts} or nil. [-2, +1] */
static int steps_index(lua_State *L)
{
	const struct expr_scope *s = scope_or_raise(L);
	const char *id = luaL_checkstring(L, 2);
	struct expr_step st = {0};

	/* A step that has not run (yet, or in this branch) is "pending",
	 * so that `steps.x.output` is nil rather than an error. */
	if (!s->lookup || s->lookup(s, id, &st) < 0) {
		lua_createtable(L, 0, 2);
		lua_pushliteral(L, "pending");
		lua_setfield(L, -2, "status");
		lua_pushinteger(L, 0);
		lua_setfield(L, -2, "attempts");
		return 1;
	}
	lua_createtable(L, 0, 4);
	push_json_or_raise(L, st.output);
	lua_setfield(L, -2, "output");
	lua_pushstring(L, st.status);
	lua_setfield(L, -2, "status");
	if (st.error) {
		lua_pushstring(L, st.error);
		lua_setfield(L, -2, "error");
	}
	lua_pushinteger(L, st.attempts);
	lua_setfield(L, -2, "attempts");
	return 1;
}

static int env_readonly(lua_State *L)
{
	return luaL_error(L, "expressions cannot assign ('%s')",
			  luaL_optstring(L, 2, "?"));
}

/* The names of the expression environment. [-2, +1] */
static int env_index(lua_State *L)
{
	const struct expr_scope *s = scope_or_raise(L);
	const char *k = lua_tostring(L, 2);

	if (!k) {
		lua_pushnil(L);
	} else if (strcmp(k, "inputs") == 0) {
		push_json_or_raise(L, s->inputs);
	} else if (strcmp(k, "steps") == 0) {
		lua_rawgetp(L, LUA_REGISTRYINDEX, &key_steps);
	} else if (strcmp(k, "item") == 0) {
		push_json_or_raise(L, s->index ? s->item : NULL);
	} else if (strcmp(k, "index") == 0) {
		if (s->index)
			lua_pushinteger(L, s->index);
		else
			lua_pushnil(L);
	} else if (strcmp(k, "loop") == 0) {
		if (s->loop_iteration) {
			lua_createtable(L, 0, 1);
			lua_pushinteger(L, s->loop_iteration);
			lua_setfield(L, -2, "iteration");
		} else {
			lua_pushnil(L);
		}
	} else if (strcmp(k, "session") == 0) {
		lua_pushstring(L, s->session ? s->session : "default");
	} else {
		luart_push_base(L);
		lua_getfield(L, -1, k);
	}
	return 1;
}

/* Builds the shared environment of this state once. [-0, +0] */
static void ensure_env(lua_State *L)
{
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &key_env) != LUA_TNIL) {
		lua_pop(L, 1);
		return;
	}
	lua_pop(L, 1);
	lua_newtable(L);                       /* steps proxy */
	lua_createtable(L, 0, 2);
	lua_pushcfunction(L, steps_index);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, env_readonly);
	lua_setfield(L, -2, "__newindex");
	lua_setmetatable(L, -2);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &key_steps);
	lua_newtable(L);                       /* env */
	lua_createtable(L, 0, 2);
	lua_pushcfunction(L, env_index);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, env_readonly);
	lua_setfield(L, -2, "__newindex");
	lua_setmetatable(L, -2);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &key_env);
	lua_newtable(L);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &key_cache);
}

/* Pushes e's compiled function, compiling it in this state once. */
static int push_compiled(lua_State *L, const struct expr *e,
			 struct sutra_err *err)
{
	const struct expr_impl *x = (const struct expr_impl *)e;

	ensure_env(L);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &key_cache);
	if (lua_rawgeti(L, -1, x->id) == LUA_TFUNCTION) {
		lua_remove(L, -2);
		return 0;
	}
	lua_pop(L, 1);
	if (compile(L, e->source, err) < 0) {
		lua_pop(L, 1);
		return -1;
	}
	lua_rawgetp(L, LUA_REGISTRYINDEX, &key_env);
	lua_setupvalue(L, -2, 1);
	lua_pushvalue(L, -1);
	lua_rawseti(L, -3, x->id);
	lua_remove(L, -2);
	return 0;
}

/* Evaluates e, leaving its value on the stack. [-0, +1 | 0 on error] */
static int eval_push(lua_State *L, const struct expr *e,
		     const struct expr_scope *scope, struct sutra_err *err)
{
	const struct expr_scope *saved = cur_scope;
	int rc;

	if (push_compiled(L, e, err) < 0)
		return -1;
	cur_scope = scope;
	rc = luart_pcall(L, 0, 1, err);
	cur_scope = saved;
	if (rc < 0) {
		/* "expression:1: attempt to ..." -> the message alone. */
		char msg[sizeof(err->msg)];
		const char *m = strncmp(err->msg, "expression:", 11) == 0 &&
						strstr(err->msg, ": ")
					? strstr(err->msg, ": ") + 2
					: err->msg;
		snprintf(msg, sizeof(msg), "%s", m);
		snprintf(err->msg, sizeof(err->msg), "expression '%s': %s",
			 e->source, msg);
		return -1;
	}
	return 0;
}

int expr_eval(const struct expr *e, const struct expr_scope *scope,
	      cJSON **out, struct sutra_err *err)
{
	lua_State *L = luart_state(lua_dir, err);

	*out = NULL;
	if (!L || eval_push(L, e, scope, err) < 0)
		return -1;
	*out = luart_to_json(L, -1, err);
	lua_pop(L, 1);
	if (!*out) {
		err_prefix(err, "expression '%s'", e->source);
		return -1;
	}
	return 0;
}

int expr_test(const struct expr *e, const struct expr_scope *scope,
	      struct sutra_err *err)
{
	lua_State *L = luart_state(lua_dir, err);
	int truth;

	if (!L || eval_push(L, e, scope, err) < 0)
		return -1;
	/* json null (a NULL light userdata) is false, as in JSON. */
	truth = lua_toboolean(L, -1) &&
		!(lua_islightuserdata(L, -1) && !lua_touserdata(L, -1));
	lua_pop(L, 1);
	return truth;
}

/* ---------------------------------------------------------- templates */

void tmpl_free(struct tmpl *t)
{
	if (!t)
		return;
	cJSON_Delete(t->constant);
	expr_free(t->e);
	for (int i = 0; i < t->n_parts; i++) {
		free(t->parts[i].text);
		expr_free(t->parts[i].e);
	}
	free(t->parts);
	for (int i = 0; i < t->n_children; i++)
		tmpl_free(t->children[i]);
	free(t->children);
	free(t->key);
	free(t);
}

static int has_template(const cJSON *v)
{
	const cJSON *c;

	if (cJSON_IsString(v))
		return strstr(v->valuestring, "${{") != NULL;
	cJSON_ArrayForEach(c, v)
		if (has_template(c))
			return 1;
	return 0;
}

static char *trimmed(const char *s, size_t len)
{
	while (len && (*s == ' ' || *s == '\t' || *s == '\n')) {
		s++;
		len--;
	}
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
		       s[len - 1] == '\n'))
		len--;
	return strndup(s, len);
}

static int add_part(struct tmpl *t, const char *text, size_t len,
		    struct expr *e)
{
	struct tpart *np = realloc(t->parts, sizeof(*np) * (size_t)(t->n_parts + 1));

	if (!np)
		return -1;
	t->parts = np;
	np[t->n_parts].e = e;
	if (!(np[t->n_parts].text = strndup(text, len)))
		return -1;
	t->n_parts++;
	return 0;
}

static int parse_string(struct tmpl *t, const char *s, int line, int col,
			struct sutra_err *err)
{
	const char *p = s;

	for (;;) {
		const char *open = strstr(p, "${{");
		if (!open)
			return add_part(t, p, strlen(p), NULL) < 0 ?
				err_set(err, SUTRA_ENOMEM, "out of memory") : 0;
		const char *close = strstr(open + 3, "}}");
		if (!close)
			return err_set(err, SUTRA_EUSAGE,
				       "unclosed '${{' in '%s'", s);
		char *src = trimmed(open + 3, (size_t)(close - open - 3));
		if (!src)
			return err_set(err, SUTRA_ENOMEM, "out of memory");
		if (!*src) {
			free(src);
			return err_set(err, SUTRA_EUSAGE, "empty '${{ }}' in '%s'", s);
		}
		struct expr *e = expr_new(src, line, col, err);
		free(src);
		if (!e)
			return -1;
		if (add_part(t, p, (size_t)(open - p), e) < 0) {
			expr_free(e);
			return err_set(err, SUTRA_ENOMEM, "out of memory");
		}
		p = close + 2;
	}
}

static struct tmpl *build(const cJSON *v, int line, int col,
			  struct sutra_err *err)
{
	struct tmpl *t = calloc(1, sizeof(*t));
	const cJSON *c;

	if (!t)
		goto nomem;
	if (!has_template(v)) {
		t->kind = T_CONST;
		if (!(t->constant = cJSON_Duplicate(v, 1)))
			goto nomem;
		return t;
	}
	if (cJSON_IsString(v)) {
		t->kind = T_TEXT;
		if (parse_string(t, v->valuestring, line, col, err) < 0)
			goto fail;
		/* Exactly "${{ e }}": keep the value's type. */
		if (t->n_parts == 2 && !t->parts[0].text[0] &&
		    !t->parts[1].text[0] && !t->parts[1].e) {
			t->kind = T_EXPR;
			t->e = t->parts[0].e;
			t->parts[0].e = NULL;
		}
		return t;
	}
	t->kind = cJSON_IsArray(v) ? T_ARRAY : T_OBJECT;
	t->children = calloc((size_t)cJSON_GetArraySize(v) + 1, sizeof(*t->children));
	if (!t->children)
		goto nomem;
	cJSON_ArrayForEach(c, v) {
		struct tmpl *child = build(c, line, col, err);
		if (!child)
			goto fail;
		t->children[t->n_children++] = child;
		if (c->string && !(child->key = strdup(c->string)))
			goto nomem;
	}
	return t;
nomem:
	err_set(err, SUTRA_ENOMEM, "out of memory");
fail:
	tmpl_free(t);
	return NULL;
}

struct tmpl *tmpl_new(const cJSON *value, int line, int col,
		      struct sutra_err *err)
{
	return build(value, line, col, err);
}

static int yaml_has_template(struct ydoc *doc, yaml_node_t *n, int depth)
{
	if (!n || depth > 64)
		return 0;
	if (n->type == YAML_SCALAR_NODE)
		return strstr((const char *)n->data.scalar.value, "${{") != NULL;
	if (n->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++)
			if (yaml_has_template(doc, ydoc_node(doc, *i), depth + 1))
				return 1;
	} else if (n->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++)
			if (yaml_has_template(doc, ydoc_node(doc, p->value),
					      depth + 1))
				return 1;
	}
	return 0;
}

static struct tmpl *yaml_child(struct tmpl *t, struct ydoc *doc,
			       yaml_node_t *n, const char *key,
			       struct sutra_err *err)
{
	struct tmpl *child = tmpl_from_yaml(doc, n, err);

	if (!child)
		return NULL;
	t->children[t->n_children++] = child;
	if (key && !(child->key = strdup(key))) {
		err_set(err, SUTRA_ENOMEM, "out of memory");
		return NULL;
	}
	return child;
}

struct tmpl *tmpl_from_yaml(struct ydoc *doc, yaml_node_t *n,
			    struct sutra_err *err)
{
	struct tmpl *t;
	size_t cap;

	if (!yaml_has_template(doc, n, 0)) {
		cJSON *v = ydoc_to_json(doc, n, err);
		if (!v)
			return NULL;
		t = build(v, ydoc_line(n), ydoc_col(n), err);
		cJSON_Delete(v);
		return t;
	}
	if (n->type == YAML_SCALAR_NODE) {
		cJSON *v = cJSON_CreateString((const char *)n->data.scalar.value);
		struct sutra_err e = {0};
		t = v ? build(v, ydoc_line(n), ydoc_col(n), &e) : NULL;
		cJSON_Delete(v);
		if (!t)
			ydoc_error(doc, n, err, e.code ? e.code : SUTRA_ENOMEM,
				   "%s", e.msg[0] ? e.msg : "out of memory");
		return t;
	}
	if (!(t = calloc(1, sizeof(*t))))
		goto nomem;
	t->kind = n->type == YAML_SEQUENCE_NODE ? T_ARRAY : T_OBJECT;
	cap = n->type == YAML_SEQUENCE_NODE
		      ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)
		      : (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (!(t->children = calloc(cap + 1, sizeof(*t->children))))
		goto nomem;
	if (n->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++)
			if (!yaml_child(t, doc, ydoc_node(doc, *i), NULL, err))
				goto fail;
	} else {
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			const char *key = ydoc_scalar(ydoc_node(doc, p->key));
			if (!key) {
				ydoc_error(doc, ydoc_node(doc, p->key), err,
					   SUTRA_EUSAGE, "mapping keys must be scalars");
				goto fail;
			}
			if (!yaml_child(t, doc, ydoc_node(doc, p->value), key, err))
				goto fail;
		}
	}
	return t;
nomem:
	err_set(err, SUTRA_ENOMEM, "out of memory");
fail:
	tmpl_free(t);
	return NULL;
}

int tmpl_is_const(const struct tmpl *t)
{
	return t->kind == T_CONST;
}

void tmpl_each_expr(const struct tmpl *t,
		    void (*fn)(const struct expr *e, void *ud), void *ud)
{
	if (t->e)
		fn(t->e, ud);
	for (int i = 0; i < t->n_parts; i++)
		if (t->parts[i].e)
			fn(t->parts[i].e, ud);
	for (int i = 0; i < t->n_children; i++)
		tmpl_each_expr(t->children[i], fn, ud);
}

/* Appends the Lua value at the top as text (consumes it). */
static int append_text(lua_State *L, luaL_Buffer *b, struct sutra_err *err)
{
	int type = lua_type(L, -1);

	if (type == LUA_TNUMBER) {
		char num[64];
		double d = lua_tonumber(L, -1);
		if (lua_isinteger(L, -1) ||
		    (d == floor(d) && fabs(d) < 9007199254740992.0))
			snprintf(num, sizeof(num), "%lld", (long long)d);
		else
			snprintf(num, sizeof(num), "%.14g", d);
		lua_pop(L, 1);
		luaL_addstring(b, num);
	} else if (type == LUA_TSTRING) {
		luaL_addvalue(b);
	} else if (type == LUA_TBOOLEAN) {
		luaL_addstring(b, lua_toboolean(L, -1) ? "true" : "false");
		lua_pop(L, 1);
	} else if (type == LUA_TTABLE) {
		cJSON *v = luart_to_json(L, -1, err);
		char *text = v ? cJSON_PrintUnformatted(v) : NULL;
		cJSON_Delete(v);
		lua_pop(L, 1);
		if (!text)
			return -1;
		luaL_addstring(b, text);
		cJSON_free(text);
	} else {
		lua_pop(L, 1);   /* nil and json null interpolate as "" */
	}
	return 0;
}

static cJSON *eval_text(const struct tmpl *t, const struct expr_scope *scope,
			struct sutra_err *err)
{
	lua_State *L = luart_state(lua_dir, err);
	luaL_Buffer b;
	cJSON *out = NULL;

	if (!L)
		return NULL;
	/* The buffer lives on the Lua stack; a failed part leaves it to be
	 * popped with the stack top restored below. */
	int top = lua_gettop(L);
	luaL_buffinit(L, &b);
	for (int i = 0; i < t->n_parts; i++) {
		luaL_addstring(&b, t->parts[i].text);
		if (!t->parts[i].e)
			continue;
		if (eval_push(L, t->parts[i].e, scope, err) < 0 ||
		    append_text(L, &b, err) < 0) {
			lua_settop(L, top);
			return NULL;
		}
	}
	luaL_pushresult(&b);
	out = cJSON_CreateString(lua_tostring(L, -1));
	lua_settop(L, top);
	if (!out)
		err_set(err, SUTRA_ENOMEM, "out of memory");
	return out;
}

static cJSON *eval_tree(const struct tmpl *t, const struct expr_scope *scope,
			struct sutra_err *err)
{
	cJSON *out = NULL;

	switch (t->kind) {
	case T_CONST:
		out = cJSON_Duplicate(t->constant, 1);
		break;
	case T_EXPR:
		return expr_eval(t->e, scope, &out, err) < 0 ? NULL : out;
	case T_TEXT:
		return eval_text(t, scope, err);
	case T_OBJECT:
	case T_ARRAY:
		out = t->kind == T_ARRAY ? cJSON_CreateArray() : cJSON_CreateObject();
		for (int i = 0; out && i < t->n_children; i++) {
			cJSON *c = eval_tree(t->children[i], scope, err);
			if (!c) {
				cJSON_Delete(out);
				return NULL;
			}
			if (t->kind == T_ARRAY)
				cJSON_AddItemToArray(out, c);
			else
				cJSON_AddItemToObject(out, t->children[i]->key, c);
		}
		break;
	}
	if (!out)
		err_set(err, SUTRA_ENOMEM, "out of memory");
	return out;
}

int tmpl_eval(const struct tmpl *t, const struct expr_scope *scope,
	      cJSON **out, struct sutra_err *err)
{
	*out = eval_tree(t, scope, err);
	return *out ? 0 : -1;
}
