/* luart.c - see luart.h. */
#include "luart.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "runtime.h"
#include "util.h"

/* How often (in VM instructions) the hook checks deadline and cancel. */
enum { HOOK_INTERVAL = 1000, ASSET_MAX = 1 << 20 };

/* Registry keys: addresses of these statics. */
static const char key_agents, key_modules, key_base, key_lua_dir;

/* The agent call running on this thread (innermost first). */
struct invocation {
	struct agent *agent;
	struct agent_ctx *ctx;
	struct invocation *outer;
	int stopping;              /* the hook has raised a stop */
	struct sutra_err stop;     /* why */
	struct sutra_err raised;   /* the last host error raised into Lua */
	int64_t instr_limit;       /* VM instructions allowed; 0: none */
	int64_t instr_used;        /* counted by the hook, in steps */
};

/*
 * Memory accounting of a thread's state.  The state is shared by every
 * agent the thread runs, so a limited call is charged what the state
 * holds beyond what it held when the call began (its live data and its
 * garbage; an emergency collection runs before the limit fails an
 * allocation, so only live data can exceed it).  The guard is the
 * innermost limited call's; nested limited calls get the smaller of
 * their limit and what the outer one has left.
 */
struct lua_mem {
	size_t in_use;             /* bytes the state holds */
	struct mem_guard {
		size_t base;       /* in_use when the call began */
		size_t limit;      /* 0: no guard */
		int exceeded;      /* an allocation failed after the
				      emergency collection */
		const struct invocation *owner;  /* the limited call */
		const void *retry_ptr;  /* the failed request, to recognise */
		size_t retry_size;      /* Lua's retry after collecting */
		int retry_armed;
	} guard;
};

static _Thread_local lua_State *thread_L;
static _Thread_local struct lua_mem *thread_mem;
static _Thread_local struct invocation *current;

struct lua_source {
	char *text;
	size_t len;
	char chunkname[160];
};

/* -------------------------------------------------------- allocator */

static int over_guard(const struct mem_guard *g, size_t in_use, size_t grow)
{
	return g->limit && in_use + grow > g->base + g->limit;
}

/* lua_Alloc that counts, and fails allocations past the guard.  Lua
 * retries a failed allocation once after a full collection; only a
 * failed retry marks the guard exceeded. */
static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct lua_mem *m = ud;
	size_t old = ptr ? osize : 0;
	struct mem_guard *g = &m->guard;
	void *p;

	if (nsize == 0) {
		free(ptr);
		m->in_use -= old;
		return NULL;
	}
	if (nsize > old && over_guard(g, m->in_use, nsize - old)) {
		if (g->retry_armed && g->retry_ptr == ptr &&
		    g->retry_size == nsize)
			g->exceeded = 1;
		g->retry_armed = 1;
		g->retry_ptr = ptr;
		g->retry_size = nsize;
		return NULL;
	}
	g->retry_armed = 0;
	if ((p = realloc(ptr, nsize)))
		m->in_use = m->in_use - old + nsize;
	return p;
}

static int on_panic(lua_State *L)
{
	log_printf(LOG_ERROR, "unprotected Lua error: %s",
		   lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
	return 0;   /* lua aborts */
}

/* ------------------------------------------------------------ errors */

static int message_handler(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);

	if (!msg) {
		if (luaL_callmeta(L, 1, "__tostring") &&
		    lua_type(L, -1) == LUA_TSTRING)
			return 1;
		struct sutra_err e = {0};
		cJSON *j = luart_to_json(L, 1, &e);
		char *text = j ? cJSON_PrintUnformatted(j) : NULL;
		cJSON_Delete(j);
		lua_pushfstring(L, "error object is a %s%s%s",
				luaL_typename(L, 1), text ? ": " : "",
				text ? text : "");
		cJSON_free(text);
		msg = lua_tostring(L, -1);
	}
	luaL_traceback(L, L, msg, 1);
	return 1;
}

int luart_pcall(lua_State *L, int nargs, int nres, struct sutra_err *err)
{
	int base = lua_gettop(L) - nargs;

	lua_pushcfunction(L, message_handler);
	lua_insert(L, base);
	int status = lua_pcall(L, nargs, nres, base);
	lua_remove(L, base);
	if (status == LUA_OK)
		return 0;
	const char *full = lua_tostring(L, -1);
	const char *tb = full ? strstr(full, "\nstack traceback:") : NULL;
	int len = full ? (int)(tb ? tb - full : (long)strlen(full)) : 0;
	int code = status == LUA_ERRMEM ? SUTRA_ENOMEM : SUTRA_EFAILED;
	if (current && current->stopping)
		code = current->stop.code;
	else if (current && current->raised.code && full &&
		 strstr(full, current->raised.msg))
		code = current->raised.code;
	err_set(err, code, "%.*s", len, full ? full : "unknown Lua error");
	if (tb)
		log_printf(LOG_INFO, "lua error: %s", full);
	lua_pop(L, 1);
	return -1;
}

/* ----------------------------------------------------- stop checking */

/* Starts stopping every call from the innermost up to `upto` with e. */
static void stop_calls(struct invocation *upto, const struct sutra_err *e)
{
	for (struct invocation *i = current; i; i = i->outer) {
		if (!i->stopping) {
			i->stopping = 1;
			i->stop = *e;
		}
		if (i == upto)
			break;
	}
}

/* Counts instructions against every limited call on the stack. */
static void count_instructions(void)
{
	for (struct invocation *i = current; i; i = i->outer) {
		if (!i->instr_limit)
			continue;
		i->instr_used += HOOK_INTERVAL;
		if (i->instr_used > i->instr_limit && !i->stopping) {
			struct sutra_err e = {0};
			err_set(&e, SUTRA_EFAILED,
				"instruction limit of %lld exceeded (limits."
				"instructions in %s)", (long long)i->instr_limit,
				i->agent->manifest_path);
			stop_calls(i, &e);
		}
	}
}

/* Whether the current call must stop: a limit, the deadline or cancel. */
static int must_stop(void)
{
	if (!current)
		return 0;
	if (thread_mem && thread_mem->guard.exceeded && !current->stopping) {
		struct sutra_err e = {0};
		err_set(&e, SUTRA_EFAILED, "memory limit of %zu MiB exceeded",
			thread_mem->guard.limit >> 20);
		stop_calls((struct invocation *)thread_mem->guard.owner, &e);
	}
	if (!current->stopping) {
		struct sutra_err e = {0};
		if (agent_should_stop(current->ctx, &e))
			stop_calls(current, &e);
	}
	return current->stopping;
}

static void stop_hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	if (!current)
		return;
	count_instructions();
	if (must_stop())
		luaL_error(L, "%s", current->stop.msg);
}

/* stopping() for the pcall wrappers of the prelude. */
static int l_stopping(lua_State *L)
{
	lua_pushboolean(L, must_stop());
	return 1;
}

/* ------------------------------------------------------ ctx functions */

/* Raises err's message after the caller has freed what it owned.  The
 * error's class is kept, so that a budget or permission error that the
 * agent does not catch fails its step as such (not as a retryable
 * failure). */
static int raise_err(lua_State *L, const struct sutra_err *err)
{
	if (current)
		current->raised = *err;
	return luaL_error(L, "%s", err->msg);
}

static struct agent_ctx *cur_ctx(lua_State *L)
{
	if (!current)
		luaL_error(L, "ctx used outside of an agent call");
	return current->ctx;
}

/* Pushes JSON text as a Lua value, or raises. [-0, +1] */
static void push_json_text(lua_State *L, const char *text)
{
	struct sutra_err err = {0};
	cJSON *v = cJSON_Parse(text);
	int rc = v ? luart_push_json(L, v, &err) : -1;

	cJSON_Delete(v);
	if (rc < 0) {
		if (!err.code)
			err_set(&err, SUTRA_EFAILED, "stored value is not JSON");
		raise_err(L, &err);
	}
}

/* The Lua value at idx as new JSON text, or NULL with err set. */
static char *value_text(lua_State *L, int idx, struct sutra_err *err)
{
	cJSON *v = luart_to_json(L, idx, err);
	char *text = v ? cJSON_PrintUnformatted(v) : NULL;

	if (v && !text)
		err_set(err, SUTRA_ENOMEM, "out of memory");
	cJSON_Delete(v);
	return text;
}

static int l_memory_get(lua_State *L) /* [-1, +1] */
{
	const char *key = luaL_checkstring(L, 1);
	struct agent_ctx *ctx = cur_ctx(L);
	struct sutra_err err = {0};
	char *text = NULL;
	int rc = agent_memory_get(ctx, key, &text, &err);

	if (rc < 0)
		return raise_err(L, &err);
	if (rc == 0) {
		lua_pushnil(L);
		return 1;
	}
	/* Copy into Lua first so that nothing C-owned is live if it raises. */
	lua_pushstring(L, text);
	free(text);
	push_json_text(L, lua_tostring(L, -1));
	return 1;
}

static int l_memory_set(lua_State *L) /* [-2, +0] */
{
	const char *key = luaL_checkstring(L, 1);
	struct agent_ctx *ctx = cur_ctx(L);
	struct sutra_err err = {0};
	char *text;
	int rc;

	luaL_checkany(L, 2);
	if (!(text = value_text(L, 2, &err)))
		return raise_err(L, &err);
	rc = memtx_set(ctx->mem, key, text, &err);
	free(text);
	if (rc < 0)
		return raise_err(L, &err);
	return 0;
}

static int l_memory_del(lua_State *L) /* [-1, +0] */
{
	const char *key = luaL_checkstring(L, 1);
	struct sutra_err err = {0};

	if (memtx_del(cur_ctx(L)->mem, key, &err) < 0)
		return raise_err(L, &err);
	return 0;
}

/* Pushes a cJSON result and frees it; raises on failure. */
static int push_result(lua_State *L, cJSON *v, int rc, struct sutra_err *err)
{
	if (rc < 0) {
		cJSON_Delete(v);
		return raise_err(L, err);
	}
	rc = luart_push_json(L, v, err);
	cJSON_Delete(v);
	if (rc < 0)
		return raise_err(L, err);
	return 1;
}

static int l_memory_keys(lua_State *L) /* [-0, +1] */
{
	struct sutra_err err = {0};
	cJSON *keys = NULL;
	int rc = agent_memory_keys(cur_ctx(L), &keys, &err);

	return push_result(L, keys, rc, &err);
}

static int log_at(lua_State *L, int level) /* [-2, +0] */
{
	const char *msg = luaL_checkstring(L, 1);
	struct sutra_err err = {0};
	cJSON *fields = NULL;

	if (!log_enabled(level))
		return 0;
	if (!lua_isnoneornil(L, 2) && !(fields = luart_to_json(L, 2, &err)))
		return raise_err(L, &err);
	log_fields(level, msg, fields);
	cJSON_Delete(fields);
	return 0;
}

static int l_log_debug(lua_State *L) { return log_at(L, LOG_DEBUG); }
static int l_log_info(lua_State *L) { return log_at(L, LOG_INFO); }
static int l_log_warn(lua_State *L) { return log_at(L, LOG_WARN); }
static int l_log_error(lua_State *L) { return log_at(L, LOG_ERROR); }

static int l_print(lua_State *L) /* [-n, +0] */
{
	luaL_Buffer b;
	int n = lua_gettop(L);

	luaL_buffinit(L, &b);
	for (int i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(&b, '\t');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	log_fields(LOG_INFO, lua_tostring(L, -1), NULL);
	return 0;
}

static int l_json_encode(lua_State *L) /* [-1|2, +1] */
{
	struct sutra_err err = {0};
	cJSON *v;
	char *text;

	luaL_checkany(L, 1);
	if (!(v = luart_to_json(L, 1, &err)))
		return raise_err(L, &err);
	text = lua_toboolean(L, 2) ? cJSON_Print(v) : cJSON_PrintUnformatted(v);
	cJSON_Delete(v);
	if (!text)
		return luaL_error(L, "out of memory");
	lua_pushstring(L, text);
	cJSON_free(text);
	return 1;
}

static int l_json_decode(lua_State *L) /* [-1, +1] */
{
	size_t len;
	const char *text = luaL_checklstring(L, 1, &len);
	const char *end = NULL;
	struct sutra_err err = {0};
	cJSON *v;

	if (memchr(text, '\0', len))
		return luaL_error(L, "invalid JSON: a NUL byte at %d",
				  (int)((const char *)memchr(text, '\0', len) - text) + 1);
	/* len + 1: cJSON checks the terminating NUL inside the length it is
	 * given (Lua strings always have one). */
	v = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);

	if (!v)
		return luaL_error(L, "invalid JSON at byte %d",
				  (int)(end ? end - text : 0) + 1);
	return push_result(L, v, 0, &err);
}

static int l_json_array(lua_State *L) /* [-0|1, +1] */
{
	if (!lua_istable(L, 1)) {
		lua_settop(L, 0);
		lua_newtable(L);
	}
	lua_settop(L, 1);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &luart_key_array_mt);
	lua_setmetatable(L, 1);
	return 1;
}

static int l_call(lua_State *L) /* [-2, +1] */
{
	const char *name = luaL_checkstring(L, 1);
	struct agent_ctx *ctx = cur_ctx(L);
	struct sutra_err err = {0};
	cJSON *input, *out = NULL;
	int rc;

	if (lua_isnoneornil(L, 2))
		input = cJSON_CreateObject();
	else if (!(input = luart_to_json(L, 2, &err)))
		return raise_err(L, &err);
	rc = agent_call(ctx, name, input, &out, &err);
	cJSON_Delete(input);
	if (rc < 0) {
		/* The callee's message already names its agent and line; a
		 * position here would repeat at every level of nesting. */
		cJSON_Delete(out);
		lua_pushstring(L, err.msg);
		return lua_error(L);
	}
	return push_result(L, out, rc, &err);
}

typedef int (*effect_fn)(struct agent_ctx *, const cJSON *, cJSON **,
			 struct sutra_err *);

static int call_effect(lua_State *L, effect_fn fn) /* [-1, +1] */
{
	struct agent_ctx *ctx = cur_ctx(L);
	struct sutra_err err = {0};
	cJSON *req, *out = NULL;
	int rc;

	luaL_checktype(L, 1, LUA_TTABLE);
	if (!(req = luart_to_json(L, 1, &err)))
		return raise_err(L, &err);
	rc = fn(ctx, req, &out, &err);
	cJSON_Delete(req);
	return push_result(L, out, rc, &err);
}

static int l_llm_chat(lua_State *L) { return call_effect(L, agent_llm); }
static int l_sandbox_run(lua_State *L) { return call_effect(L, agent_sandbox); }
static int l_http_fetch(lua_State *L) { return call_effect(L, agent_http); }

static int l_emit(lua_State *L) /* [-2, +0] */
{
	const char *event = luaL_checkstring(L, 1);
	struct sutra_err err = {0};
	cJSON *fields = cJSON_CreateObject(), *data = NULL;

	if (!lua_isnoneornil(L, 2) && !(data = luart_to_json(L, 2, &err))) {
		cJSON_Delete(fields);
		return raise_err(L, &err);
	}
	cJSON_AddStringToObject(fields, "event", event);
	if (data)
		cJSON_AddItemToObject(fields, "data", data);
	log_fields(LOG_INFO, "agent.event", fields);
	cJSON_Delete(fields);
	return 0;
}

/* ctx.asset(name): a file of the agent's own package (a prompt, a
 * template), read whole.  Relative, inside the package, no symlinks on
 * the way, at most 1 MiB. [-1, +1] */
static int l_asset(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	struct agent_ctx *ctx = cur_ctx(L);
	struct sutra_err err = {0};

	if (!*name || name[0] == '/' || strstr(name, "..") || !ctx->agent)
		return luaL_error(L, "ctx.asset: '%s' is not a file of the "
				     "package", name);
	char real[4096], dir[4096], *path = path_join(ctx->agent->dir, name);
	int inside = path && realpath(path, real) && realpath(ctx->agent->dir, dir) &&
		     strncmp(real, dir, strlen(dir)) == 0 && real[strlen(dir)] == '/';
	free(path);
	if (!inside)
		return luaL_error(L, "ctx.asset: '%s' is not a file of the "
				     "package", name);
	/* The buffer is Lua's (a userdata), so that nothing C-owned is live
	 * when anything here raises. */
	char *buf = lua_newuserdatauv(L, ASSET_MAX + 1, 0);
	int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n = fd >= 0 ? read(fd, buf, ASSET_MAX + 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n < 0 || n > ASSET_MAX) {
		err_set(&err, SUTRA_EFAILED, "ctx.asset: '%s': %s", name,
			n < 0 ? strerror(errno) : "larger than 1 MiB");
		return raise_err(L, &err);
	}
	lua_pushlstring(L, buf, (size_t)n);
	return 1;
}

static const luaL_Reg memory_funcs[] = {
	{"get", l_memory_get}, {"set", l_memory_set},
	{"del", l_memory_del}, {"keys", l_memory_keys}, {NULL, NULL},
};
static const luaL_Reg log_funcs[] = {
	{"debug", l_log_debug}, {"info", l_log_info},
	{"warn", l_log_warn}, {"error", l_log_error}, {NULL, NULL},
};
static const luaL_Reg json_funcs[] = {
	{"encode", l_json_encode}, {"decode", l_json_decode},
	{"array", l_json_array}, {NULL, NULL},
};
static const luaL_Reg llm_funcs[] = {{"chat", l_llm_chat}, {NULL, NULL}};
static const luaL_Reg sandbox_funcs[] = {{"run", l_sandbox_run}, {NULL, NULL}};
static const luaL_Reg http_funcs[] = {{"fetch", l_http_fetch}, {NULL, NULL}};

/* Capabilities a manifest grants, and the ctx field each one adds. */
static const struct {
	unsigned perm;
	const char *field;
	const luaL_Reg *funcs;   /* NULL: a plain function (call) */
	lua_CFunction fn;
} capabilities[] = {
	{PERM_MEMORY, "memory", memory_funcs, NULL},
	{PERM_LLM, "llm", llm_funcs, NULL},
	{PERM_SANDBOX, "sandbox", sandbox_funcs, NULL},
	{PERM_HTTP, "http", http_funcs, NULL},
	{PERM_CALL, "call", NULL, l_call},
};

/* __index of ctx: a capability the manifest does not grant. */
static int l_ctx_missing(lua_State *L) /* [-2, +1] */
{
	const char *field = lua_tostring(L, 2);

	for (size_t i = 0; field && i < sizeof(capabilities) /
					     sizeof(*capabilities); i++)
		if (strcmp(field, capabilities[i].field) == 0)
			return luaL_error(
				L, "ctx.%s: permission '%s' not granted (add "
				   "it to 'permissions' in agent.yaml)",
				field, field);
	lua_pushnil(L);
	return 1;
}

/* Pushes a new ctx table for agent a. [-0, +1] */
static void push_ctx(lua_State *L, const struct agent *a)
{
	lua_newtable(L);
	for (size_t i = 0; i < sizeof(capabilities) / sizeof(*capabilities);
	     i++) {
		if (!(a->perms & capabilities[i].perm))
			continue;
		if (capabilities[i].funcs) {
			lua_newtable(L);
			luaL_setfuncs(L, capabilities[i].funcs, 0);
		}
		else
			lua_pushcfunction(L, capabilities[i].fn);
		lua_setfield(L, -2, capabilities[i].field);
	}
	luaL_newlib(L, log_funcs);
	lua_setfield(L, -2, "log");
	luaL_newlib(L, json_funcs);
	lua_pushlightuserdata(L, NULL);
	lua_setfield(L, -2, "null");
	lua_setfield(L, -2, "json");
	lua_pushcfunction(L, l_emit);
	lua_setfield(L, -2, "emit");
	lua_pushcfunction(L, l_asset);
	lua_setfield(L, -2, "asset");
	lua_newtable(L);
	lua_pushcfunction(L, l_ctx_missing);
	lua_setfield(L, -2, "__index");
	lua_setmetatable(L, -2);
}

/* --------------------------------------------------- the environment */

static int l_readonly(lua_State *L)
{
	return luaL_error(L, "attempt to modify read-only table (field '%s')",
			  luaL_optstring(L, 2, "?"));
}

static int l_proxy_pairs(lua_State *L)
{
	lua_getmetatable(L, 1);
	lua_getfield(L, -1, "__index");
	lua_getglobal(L, "next");
	lua_insert(L, -2);
	lua_pushnil(L);
	return 3;
}

/* Replaces the table at the top with a read-only proxy of it. [-1, +1] */
static void make_readonly(lua_State *L)
{
	lua_newtable(L);             /* proxy */
	lua_createtable(L, 0, 4);    /* metatable */
	lua_pushvalue(L, -3);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, l_readonly);
	lua_setfield(L, -2, "__newindex");
	lua_pushcfunction(L, l_proxy_pairs);
	lua_setfield(L, -2, "__pairs");
	lua_pushliteral(L, "locked");
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
	lua_remove(L, -2);
}

/* Copies the named fields of global table lib into a new read-only
 * proxy stored as field name of the table at the top. */
static void add_lib(lua_State *L, const char *lib, const char *const *fields)
{
	lua_newtable(L);
	lua_getglobal(L, lib);
	for (; *fields; fields++) {
		lua_getfield(L, -1, *fields);
		lua_setfield(L, -3, *fields);
	}
	lua_pop(L, 1);
	make_readonly(L);
	lua_setfield(L, -2, lib);
}

static const char *const safe_globals[] = {
	"assert", "error", "ipairs", "next", "pairs", "rawequal", "rawget",
	"rawlen", "select", "tonumber", "tostring", "type", "setmetatable",
	"getmetatable", "_VERSION", NULL,
};
static const char *const string_fields[] = {
	"byte", "char", "find", "format", "gmatch", "gsub", "len", "lower",
	"match", "rep", "reverse", "sub", "upper", "pack", "packsize",
	"unpack", NULL,
};
static const char *const table_fields[] = {
	"concat", "insert", "move", "pack", "remove", "sort", "unpack", NULL,
};
static const char *const math_fields[] = {
	"abs", "ceil", "cos", "deg", "exp", "floor", "fmod", "huge", "log",
	"max", "maxinteger", "min", "mininteger", "modf", "pi", "rad",
	"random", "sin", "sqrt", "tan", "tointeger", "type", "ult", "atan",
	"asin", "acos", NULL,
};
static const char *const utf8_fields[] = {
	"char", "charpattern", "codes", "codepoint", "len", "offset", NULL,
};
static const char *const os_fields[] = {
	"clock", "date", "difftime", "time", NULL,
};
static const char *const coroutine_fields[] = {
	"create", "isyieldable", "running", "status", "yield", "close", NULL,
};

/*
 * Lua side of the sandbox: pcall, xpcall and coroutines that cannot
 * swallow a stop (deadline or cancel), a text-only load, and require from
 * the agent's package and the sutra library.  Runs once per state with
 * (base, stopping, loader) as arguments.
 */
static const char prelude[] =
	"local base, stopping, loader = ...\n"
	"local rawpcall, rawxpcall, error = pcall, xpcall, error\n"
	"local co = coroutine\n"
	"local function pass(ok, ...)\n"
	"  if not ok and stopping() then error((...), 0) end\n"
	"  return ok, ...\n"
	"end\n"
	"base.pcall = function(f, ...) return pass(rawpcall(f, ...)) end\n"
	"base.xpcall = function(f, h, ...) return pass(rawxpcall(f, h, ...)) end\n"
	"local cot = {}\n"
	"for k, v in pairs(base.coroutine) do cot[k] = v end\n"
	"cot.resume = function(c, ...) return pass(co.resume(c, ...)) end\n"
	"cot.wrap = function(f)\n"
	"  local c = co.create(f)\n"
	"  return function(...)\n"
	"    local function out(ok, ...)\n"
	"      if not ok then error((...), 0) end\n"
	"      return ...\n"
	"    end\n"
	"    return out(pass(co.resume(c, ...)))\n"
	"  end\n"
	"end\n"
	"base.coroutine = cot\n"
	"local rawload = load\n"
	"base.load = function(chunk, name, mode, env)\n"
	"  return rawload(chunk, name, 't', env or base)\n"
	"end\n"
	"base.require = loader\n";

static int l_require(lua_State *L);

static void build_base(lua_State *L)
{
	lua_newtable(L);   /* base */
	for (const char *const *g = safe_globals; *g; g++) {
		lua_getglobal(L, *g);
		lua_setfield(L, -2, *g);
	}
	lua_pushcfunction(L, l_print);
	lua_setfield(L, -2, "print");
	add_lib(L, "string", string_fields);
	add_lib(L, "table", table_fields);
	add_lib(L, "math", math_fields);
	add_lib(L, "utf8", utf8_fields);
	add_lib(L, "os", os_fields);
	add_lib(L, "coroutine", coroutine_fields);
	lua_pushlightuserdata(L, NULL);
	lua_setfield(L, -2, "null");
	/* json: the same functions as ctx.json, for library modules. */
	lua_newtable(L);
	luaL_setfuncs(L, json_funcs, 0);
	lua_pushlightuserdata(L, NULL);
	lua_setfield(L, -2, "null");
	make_readonly(L);
	lua_setfield(L, -2, "json");
}

static int run_prelude(lua_State *L, struct sutra_err *err)
{
	if (luaL_loadbuffer(L, prelude, sizeof(prelude) - 1, "=prelude") != LUA_OK)
		return err_set(err, SUTRA_ERUNTIME, "prelude: %s",
			       lua_tostring(L, -1));
	lua_pushvalue(L, -2);   /* base */
	lua_pushcfunction(L, l_stopping);
	lua_pushcfunction(L, l_require);
	return luart_pcall(L, 3, 0, err);
}

/* Locks the string metatable so agents cannot reach the real string
 * library through getmetatable(""). */
static void lock_string_metatable(lua_State *L)
{
	lua_pushliteral(L, "");
	lua_getmetatable(L, -1);
	lua_pushliteral(L, "locked");
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 2);
}

static lua_State *new_state(const char *lua_dir, struct sutra_err *err)
{
	struct lua_mem *mem = calloc(1, sizeof(*mem));
	lua_State *L = mem ? lua_newstate(counting_alloc, mem) : NULL;

	if (!L) {
		free(mem);
		err_set(err, SUTRA_ENOMEM, "cannot create a Lua state");
		return NULL;
	}
	lua_atpanic(L, on_panic);
	luaL_openlibs(L);
	lock_string_metatable(L);
	lua_newtable(L);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &key_agents);
	lua_newtable(L);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &key_modules);
	lua_newtable(L);
	lua_pushliteral(L, "array");
	lua_setfield(L, -2, "__name");
	lua_rawsetp(L, LUA_REGISTRYINDEX, &luart_key_array_mt);
	lua_pushstring(L, lua_dir ? lua_dir : "");
	lua_rawsetp(L, LUA_REGISTRYINDEX, &key_lua_dir);
	build_base(L);
	if (run_prelude(L, err) < 0) {
		lua_close(L);
		free(mem);
		return NULL;
	}
	make_readonly(L);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &key_base);
	return L;
}

static pthread_key_t state_key;
static pthread_once_t state_key_once = PTHREAD_ONCE_INIT;

/* Closes L and frees its accounting. */
static void close_state(void *L)
{
	void *mem = NULL;

	if (!L)
		return;
	lua_getallocf(L, &mem);
	lua_close(L);
	free(mem);
}

static void make_state_key(void)
{
	pthread_key_create(&state_key, close_state);
}

lua_State *luart_state(const char *lua_dir, struct sutra_err *err)
{
	if (thread_L)
		return thread_L;
	pthread_once(&state_key_once, make_state_key);
	thread_L = new_state(lua_dir, err);
	if (thread_L) {
		void *mem;
		lua_getallocf(thread_L, &mem);
		thread_mem = mem;
		pthread_setspecific(state_key, thread_L);
	}
	return thread_L;
}

void luart_thread_done(void)
{
	if (!thread_L)
		return;
	pthread_setspecific(state_key, NULL);
	close_state(thread_L);
	thread_L = NULL;
	thread_mem = NULL;
}

void luart_push_base(lua_State *L)
{
	lua_rawgetp(L, LUA_REGISTRYINDEX, &key_base);
}

/* ------------------------------------------------------------ require */

static int valid_module_name(const char *name)
{
	return *name && strspn(name, "abcdefghijklmnopqrstuvwxyz"
				     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") ==
				strlen(name) &&
	       !strstr(name, "..") && name[0] != '.';
}

/* The file dir/NAME.lua (dots become slashes) if it exists. */
static int module_path(const char *dir, const char *name, char *path,
		       size_t n)
{
	size_t len = (size_t)snprintf(path, n, "%s/", dir);

	for (const char *p = name; *p && len < n - 5; p++)
		path[len++] = *p == '.' ? '/' : *p;
	snprintf(path + len, n - len, ".lua");
	return access(path, R_OK) == 0;
}

/*
 * require(name): the agent's own package first, then the sutra Lua
 * library.  Modules are cached by file, so two agents that each ship a
 * util.lua get their own.  [-1, +1]
 */
static int l_require(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	char path[4096];
	int found = 0;

	if (!valid_module_name(name))
		return luaL_error(L, "require: invalid module name '%s'", name);
	if (current && current->agent)
		found = module_path(current->agent->dir, name, path, sizeof(path));
	if (!found) {
		lua_rawgetp(L, LUA_REGISTRYINDEX, &key_lua_dir);
		found = module_path(lua_tostring(L, -1), name, path, sizeof(path));
		lua_pop(L, 1);
	}
	if (!found)
		return luaL_error(L, "module '%s' not found", name);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &key_modules);
	if (lua_getfield(L, -1, path) != LUA_TNIL)
		return 1;
	lua_pop(L, 1);
	if (luaL_loadfilex(L, path, "t") != LUA_OK)
		return lua_error(L);
	/* The module gets its own globals over the read-only base. */
	lua_newtable(L);
	lua_newtable(L);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &key_base);
	lua_setfield(L, -2, "__index");
	lua_setmetatable(L, -2);
	lua_setupvalue(L, -2, 1);
	lua_pushstring(L, name);
	lua_call(L, 1, 1);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_pushboolean(L, 1);
	}
	lua_pushvalue(L, -1);
	lua_setfield(L, -3, path);
	return 1;
}

/* ------------------------------------------------------- agent kind */

static int lua_load_agent(struct agent *a, struct sutra_err *err)
{
	struct lua_source *src = calloc(1, sizeof(*src));
	const char *base = strrchr(a->dir, '/');

	if (!src)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	if (file_read(a->entry_path, &src->text, &src->len, 0, err) < 0) {
		free(src);
		return -1;
	}
	snprintf(src->chunkname, sizeof(src->chunkname), "@%s/%s",
		 base ? base + 1 : a->dir,
		 a->entry_path + strlen(a->dir) + 1);
	a->loaded = src;
	return 0;
}

static void lua_unload_agent(struct agent *a)
{
	struct lua_source *src = a->loaded;

	if (src)
		free(src->text);
	free(src);
	a->loaded = NULL;
}

static int l_env_locked(lua_State *L)
{
	return luaL_error(L, "assignment to undeclared global '%s' (use "
			     "'local')",
			  luaL_optstring(L, 2, "?"));
}

/*
 * Compiles and runs the agent's chunk in this state and caches
 * {run, ctx} in the registry.  Leaves the entry table on the stack.
 */
static int prepare_in_state(lua_State *L, struct agent *a,
			    struct sutra_err *err)
{
	struct lua_source *src = a->loaded;

	if (luaL_loadbufferx(L, src->text, src->len, src->chunkname, "t") !=
	    LUA_OK) {
		err_set(err, SUTRA_ERUNTIME, "%s", lua_tostring(L, -1));
		lua_pop(L, 1);
		return -1;
	}
	/* env: the agent's own globals over the read-only base; writable
	 * while the chunk defines its helpers, locked afterwards. */
	lua_newtable(L);
	lua_newtable(L);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &key_base);
	lua_setfield(L, -2, "__index");
	lua_setmetatable(L, -2);
	lua_pushvalue(L, -1);
	lua_insert(L, -3);          /* env, chunk, env */
	lua_setupvalue(L, -2, 1);   /* env, chunk */
	if (luart_pcall(L, 0, 1, err) < 0) {
		lua_pop(L, 1);
		return -1;
	}
	if (lua_isfunction(L, -1)) {
		lua_newtable(L);
		lua_insert(L, -2);
		lua_setfield(L, -2, "run");
	}
	int is_module = lua_istable(L, -1);
	if (!is_module || lua_getfield(L, -1, "run") != LUA_TFUNCTION) {
		lua_pop(L, is_module ? 3 : 2);
		return err_set(err, SUTRA_ERUNTIME,
			       "%s must return a table with a 'run' function",
			       src->chunkname + 1);
	}
	/* env, module, run */
	lua_getmetatable(L, -3);
	lua_pushcfunction(L, l_env_locked);
	lua_setfield(L, -2, "__newindex");
	lua_pop(L, 1);
	lua_createtable(L, 2, 0);
	lua_insert(L, -2);
	lua_rawseti(L, -2, 1);        /* entry[1] = run */
	push_ctx(L, a);
	lua_rawseti(L, -2, 2);        /* entry[2] = ctx */
	lua_replace(L, -3);           /* entry, module */
	lua_pop(L, 1);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &key_agents);
	lua_pushvalue(L, -2);
	lua_rawsetp(L, -2, a);
	lua_pop(L, 1);
	return 0;
}

static void set_ctx_fields(lua_State *L, int ctx_idx,
			   const struct agent_ctx *ctx)
{
	lua_pushstring(L, ctx->session);
	lua_setfield(L, ctx_idx, "session");
	lua_pushstring(L, ctx->run_id ? ctx->run_id : "");
	lua_setfield(L, ctx_idx, "run_id");
	lua_pushstring(L, ctx->step_id ? ctx->step_id : "");
	lua_setfield(L, ctx_idx, "step_id");
	lua_pushinteger(L, ctx->attempt);
	lua_setfield(L, ctx_idx, "attempt");
}

/* Puts a limited call's memory guard in place; returns the outer one. */
static struct mem_guard guard_begin(const struct invocation *inv,
				    size_t limit)
{
	struct lua_mem *m = thread_mem;
	struct mem_guard outer = m->guard;

	if (outer.limit) {
		size_t end = outer.base + outer.limit;
		size_t left = end > m->in_use ? end - m->in_use : 1;
		if (left < limit)
			limit = left;
	}
	m->guard = (struct mem_guard){
		.base = m->in_use, .limit = limit, .owner = inv,
	};
	return outer;
}

/*
 * A call stopped by its own limits fails with the limit's message (not
 * Lua's "not enough memory" or a position), as a failure of the agent.
 */
static int limit_error(const struct invocation *inv, struct sutra_err *err)
{
	const struct mem_guard *g = &thread_mem->guard;

	if (g->owner == inv && g->exceeded) {
		err_clear(err);
		return err_set(err, SUTRA_EFAILED,
			       "memory limit of %zu MiB exceeded (limits."
			       "memory_mb in %s)", g->limit >> 20,
			       inv->agent->manifest_path);
	}
	if (inv->stopping && inv->stop.code == SUTRA_EFAILED) {
		err_clear(err);
		*err = inv->stop;
	}
	return -1;
}

static int lua_invoke(struct agent *a, const cJSON *input,
		      struct agent_ctx *ctx, cJSON **output,
		      struct sutra_err *err)
{
	lua_State *L = luart_state(ctx->rt->lua_dir, err);
	struct invocation inv = {.agent = a, .ctx = ctx, .outer = current};
	struct mem_guard outer_guard;
	int top, rc = -1;
	int limited = a->limited && (a->limits.instructions ||
				     a->limits.memory_bytes);
	int hooked = ctx->deadline_ns || ctx->cancel || limited;

	if (!L)
		return -1;
	top = lua_gettop(L);
	current = &inv;
	if (limited) {
		inv.instr_limit = a->limits.instructions;
		outer_guard = guard_begin(&inv, a->limits.memory_bytes);
	}
	lua_rawgetp(L, LUA_REGISTRYINDEX, &key_agents);
	if (lua_rawgetp(L, -1, a) == LUA_TNIL) {
		lua_pop(L, 1);
		if (prepare_in_state(L, a, err) < 0)
			goto out;
	}
	lua_rawgeti(L, -1, 1);                 /* run */
	if (luart_push_json(L, input, err) < 0)
		goto out;
	lua_rawgeti(L, -3, 2);                 /* ctx */
	set_ctx_fields(L, lua_gettop(L), ctx);
	if (hooked)
		lua_sethook(L, stop_hook, LUA_MASKCOUNT, HOOK_INTERVAL);
	rc = luart_pcall(L, 2, 1, err);
	if (rc == 0 && !(*output = luart_to_json(L, -1, err))) {
		err_prefix(err, "output");
		rc = -1;
	}
out:
	if (rc < 0 && limited)
		limit_error(&inv, err);
	if (hooked && !inv.outer)
		lua_sethook(L, NULL, 0, 0);
	lua_settop(L, top);
	if (limited)
		thread_mem->guard = outer_guard;
	current = inv.outer;
	return rc;
}

const struct agent_kind_ops luart_kind_ops = {
	.load = lua_load_agent,
	.unload = lua_unload_agent,
	.invoke = lua_invoke,
};
