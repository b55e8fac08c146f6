/*
 * luart_json.c - values between cJSON and Lua, converted directly (no
 * JSON text in between); see luart.h.  JSON arrays become tables marked
 * with the array metatable (so they convert back as arrays, empty ones
 * included), null the json.null light userdata (or nil, on request);
 * objects convert back with their keys sorted, so outputs are
 * deterministic.
 */
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "luart.h"

enum { JSON_MAX_DEPTH = 200 };

/* Its address is the registry key of the array metatable. */
const char luart_key_array_mt = 0;

/* ---------------------------------------------------------------- JSON */

struct push_args {
	const cJSON *v;
	int null_as_nil;
};

static void push_value(lua_State *L, const cJSON *v, int depth, int nil);

static void push_array(lua_State *L, const cJSON *v, int depth, int nil)
{
	int n = cJSON_GetArraySize(v), i = 1;
	const cJSON *c;

	lua_createtable(L, n, 0);
	cJSON_ArrayForEach(c, v) {
		push_value(L, c, depth + 1, nil);
		lua_rawseti(L, -2, i++);
	}
	lua_rawgetp(L, LUA_REGISTRYINDEX, &luart_key_array_mt);
	lua_setmetatable(L, -2);
}

static void push_value(lua_State *L, const cJSON *v, int depth, int nil)
{
	/* Raises only on memory errors or absurd depth: callers run this
	 * under lua_pcall (luart_push_json). */
	if (depth > JSON_MAX_DEPTH)
		luaL_error(L, "JSON nested deeper than %d", JSON_MAX_DEPTH);
	luaL_checkstack(L, 3, "JSON too deep");
	if (cJSON_IsString(v)) {
		lua_pushstring(L, v->valuestring);
	} else if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		if (d == floor(d) && fabs(d) < 9007199254740992.0)
			lua_pushinteger(L, (lua_Integer)d);
		else
			lua_pushnumber(L, d);
	} else if (cJSON_IsBool(v)) {
		lua_pushboolean(L, cJSON_IsTrue(v));
	} else if (cJSON_IsArray(v)) {
		push_array(L, v, depth, nil);
	} else if (cJSON_IsObject(v)) {
		const cJSON *c;
		lua_createtable(L, 0, cJSON_GetArraySize(v));
		cJSON_ArrayForEach(c, v) {
			push_value(L, c, depth + 1, nil);
			lua_setfield(L, -2, c->string);
		}
	} else if (nil) {
		lua_pushnil(L);
	} else {
		lua_pushlightuserdata(L, NULL);   /* json.null */
	}
}

static int push_protected(lua_State *L)
{
	const struct push_args *a = lua_touserdata(L, 1);

	push_value(L, a->v, 0, a->null_as_nil);
	return 1;
}

int luart_push_json(lua_State *L, const cJSON *v, struct sutra_err *err)
{
	return luart_push_json_opt(L, v, 0, err);
}

int luart_push_json_opt(lua_State *L, const cJSON *v, int null_as_nil,
			struct sutra_err *err)
{
	struct push_args a = {v, null_as_nil};

	lua_pushcfunction(L, push_protected);
	lua_pushlightuserdata(L, &a);
	if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
		err_set(err, SUTRA_ENOMEM, "converting JSON to Lua: %s",
			lua_tostring(L, -1));
		lua_pop(L, 1);
		return -1;
	}
	return 0;
}

static int is_array_table(lua_State *L, int idx, lua_Integer *len)
{
	lua_Integer n = 0, count = 0;

	if (lua_getmetatable(L, idx)) {
		lua_rawgetp(L, LUA_REGISTRYINDEX, &luart_key_array_mt);
		int marked = lua_rawequal(L, -1, -2);
		lua_pop(L, 2);
		if (marked) {
			*len = (lua_Integer)lua_rawlen(L, idx);
			return 1;
		}
	}
	n = (lua_Integer)lua_rawlen(L, idx);
	if (n == 0)
		return 0;   /* {} is an object unless marked */
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		if (!lua_isinteger(L, -1)) {
			lua_pop(L, 1);
			return 0;
		}
		count++;
	}
	*len = n;
	return count == n;
}

static cJSON *to_json(lua_State *L, int idx, int depth, struct sutra_err *err);

/* An object's keys in sorted order, so that output is deterministic (it
 * feeds checkpoints, cache keys and replay comparisons). */
static int compare_members(const void *a, const void *b)
{
	return strcmp((*(cJSON *const *)a)->string, (*(cJSON *const *)b)->string);
}

static cJSON *sort_members(cJSON *obj)
{
	int n = cJSON_GetArraySize(obj), i = 0;
	cJSON **members, *c;

	if (n < 2)
		return obj;
	if (!(members = malloc(sizeof(*members) * (size_t)n)))
		return obj;   /* unsorted but complete */
	for (c = obj->child; c; c = c->next)
		members[i++] = c;
	qsort(members, (size_t)n, sizeof(*members), compare_members);
	for (i = 0; i < n; i++) {
		members[i]->prev = i ? members[i - 1] : members[n - 1];
		members[i]->next = i + 1 < n ? members[i + 1] : NULL;
	}
	obj->child = members[0];
	free(members);
	return obj;
}

static cJSON *object_to_json(lua_State *L, int idx, int depth,
			     struct sutra_err *err)
{
	cJSON *out = cJSON_CreateObject();

	lua_pushnil(L);
	while (out && lua_next(L, idx)) {
		char keybuf[32];
		const char *key;
		if (lua_type(L, -2) == LUA_TSTRING)
			key = lua_tostring(L, -2);
		else if (lua_isinteger(L, -2)) {
			snprintf(keybuf, sizeof(keybuf), "%lld",
				 (long long)lua_tointeger(L, -2));
			key = keybuf;
		} else {
			err_set(err, SUTRA_EFAILED,
				"cannot convert a table key of type %s to JSON",
				luaL_typename(L, -2));
			lua_pop(L, 2);
			cJSON_Delete(out);
			return NULL;
		}
		cJSON *c = to_json(L, lua_gettop(L), depth + 1, err);
		lua_pop(L, 1);
		if (!c) {
			lua_pop(L, 1);
			cJSON_Delete(out);
			return NULL;
		}
		cJSON_AddItemToObject(out, key, c);
	}
	if (!out)
		err_set(err, SUTRA_ENOMEM, "out of memory");
	return out ? sort_members(out) : NULL;
}

static cJSON *table_to_json(lua_State *L, int idx, int depth,
			    struct sutra_err *err)
{
	lua_Integer n;
	cJSON *out;

	if (!lua_checkstack(L, 4)) {
		err_set(err, SUTRA_ENOMEM, "Lua stack exhausted");
		return NULL;
	}
	if (is_array_table(L, idx, &n)) {
		out = cJSON_CreateArray();
		for (lua_Integer i = 1; out && i <= n; i++) {
			lua_rawgeti(L, idx, i);
			cJSON *c = to_json(L, lua_gettop(L), depth + 1, err);
			lua_pop(L, 1);
			if (!c) {
				cJSON_Delete(out);
				return NULL;
			}
			cJSON_AddItemToArray(out, c);
		}
		return out;
	}
	return object_to_json(L, idx, depth, err);
}

static cJSON *to_json(lua_State *L, int idx, int depth, struct sutra_err *err)
{
	cJSON *v = NULL;

	if (depth > JSON_MAX_DEPTH) {
		err_set(err, SUTRA_EFAILED,
			"value nested deeper than %d (a cycle?)", JSON_MAX_DEPTH);
		return NULL;
	}
	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		v = cJSON_CreateNull();
		break;
	case LUA_TBOOLEAN:
		v = cJSON_CreateBool(lua_toboolean(L, idx));
		break;
	case LUA_TNUMBER: {
		double d = lua_tonumber(L, idx);
		v = isfinite(d) ? cJSON_CreateNumber(d) : cJSON_CreateNull();
		break;
	}
	case LUA_TSTRING:
		v = cJSON_CreateString(lua_tostring(L, idx));
		break;
	case LUA_TTABLE:
		return table_to_json(L, idx, depth, err);
	case LUA_TLIGHTUSERDATA:
		if (lua_touserdata(L, idx) == NULL) {
			v = cJSON_CreateNull();
			break;
		}
		/* fall through */
	default:
		err_set(err, SUTRA_EFAILED, "cannot convert a %s to JSON",
			luaL_typename(L, idx));
		return NULL;
	}
	if (!v)
		err_set(err, SUTRA_ENOMEM, "out of memory");
	return v;
}

cJSON *luart_to_json(lua_State *L, int idx, struct sutra_err *err)
{
	return to_json(L, lua_absindex(L, idx), 0, err);
}

