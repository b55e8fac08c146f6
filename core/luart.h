/*
 * luart.h - the Lua agent runtime (SPEC §4).
 *
 * One lua_State per thread, created on first use and kept for the
 * thread's life: compiled agent chunks are cached in it, so an agent's
 * source is parsed once per thread, never per call.  Agents run in an
 * allow-listed, read-only global environment (no os.execute, io, binary
 * chunks, debug); a count hook enforces deadlines and cancellation, and
 * pcall/xpcall/coroutines cannot swallow the stop.  Limited agents
 * (core/isolation.h) also get an instruction limit, counted by the same
 * hook, and a memory limit: every state allocates through a counting
 * lua_Alloc, and a limited call may grow what its thread's state holds
 * by at most its limit (a failed allocation after Lua's emergency
 * collection stops the call).  Values cross between
 * C and Lua as cJSON, converted directly (no JSON text in between).
 */
#ifndef SUTRA_LUART_H
#define SUTRA_LUART_H

#include <cjson/cJSON.h>
#include <lua.h>

#include "agent.h"
#include "err.h"

extern const struct agent_kind_ops luart_kind_ops;

/* The registry key (its address) of the metatable that marks arrays. */
extern const char luart_key_array_mt;

/*
 * The calling thread's Lua state, created on first use.  lua_dir is the
 * sutra Lua library (`require "sutra.text"`); NULL when it fails.
 */
lua_State *luart_state(const char *lua_dir, struct sutra_err *err);

/* Closes the calling thread's state (threads call it before exiting; the
 * main thread at exit).  Safe to call when there is none. */
void luart_thread_done(void);

/*
 * Converts between cJSON and Lua.  luart_push_json pushes a value
 * [-0, +1] and returns 0, or -1 (pushing nothing) with err set when memory
 * runs out; it never raises.  luart_to_json converts the value at idx to a
 * new cJSON (NULL with err set for functions, userdata, cycles).
 */
int luart_push_json(lua_State *L, const cJSON *v, struct sutra_err *err);
/* Same; with null_as_nil JSON null becomes nil (for expressions, where a
 * null must test false) instead of the json.null sentinel. */
int luart_push_json_opt(lua_State *L, const cJSON *v, int null_as_nil,
			struct sutra_err *err);
cJSON *luart_to_json(lua_State *L, int idx, struct sutra_err *err);

/* Pushes the read-only table of safe globals agents see. [-0, +1] */
void luart_push_base(lua_State *L);

/*
 * Calls the function below nargs arguments in protected mode with a
 * message handler that adds a traceback [-(nargs+1), +nres|0].  On error
 * sets err to the message's first line (the traceback goes to the debug
 * log) and returns -1.
 */
int luart_pcall(lua_State *L, int nargs, int nres, struct sutra_err *err);

#endif
