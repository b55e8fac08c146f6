/*
 * plugproto.h - the wire between sutra and an isolated plugin's host
 * process (core/plugproc.c is the parent side, core/plugin_host.c the
 * child, the program sutra-plugin-host).
 *
 * The parent starts the child as
 *
 *     sutra-plugin-host FILE.so AGENT MEMORY_BYTES
 *
 * with the descriptors below, stdin on /dev/null, stdout on sutra's
 * stderr, a clean environment and its own process group.  Both sides speak
 * JSON lines (one object per line, UTF-8, no raw newlines inside):
 *
 *   child  -> {"ready": {"plugin": NAME, "version": V, "layers": [...]}}
 *             or {"fatal": MESSAGE} (loading failed; then it exits)
 *   parent -> {"call": INPUT, "ctx": {session, run_id, step_id, attempt}}
 *   child  -> zero or more host requests, each answered before the next:
 *             {"host": "memory_get", "key": K}        -> {"ok": VALUE}
 *             {"host": "memory_set", "key": K, "value": V}  -> {"status": 0}
 *             {"host": "memory_del", "key": K}        -> {"status": 0}
 *             {"host": "memory_keys"}                 -> {"ok": [...]}
 *             {"host": "llm_chat" | "sandbox_run" | "http", "request": R}
 *             {"host": "call_agent", "agent": A, "input": I}
 *             {"host": "cancelled"}                   -> {"ok": BOOL}
 *             failures answer {"status": S, "error": MESSAGE} (S is an
 *             enum sutra_status); log and emit are one-way:
 *             {"host": "log", "level": L, "message": M, "fields": F}
 *             {"host": "emit", "event": E, "data": D}
 *   child  -> {"done": {"status": RUN_STATUS, "output": V, "error": M}}
 *   child  -> {"died": {"signal": N, "vm_bytes": B}} from its crash
 *             handler, just before it dies of signal N
 *
 * The parent closes the request pipe to ask the child to run the agent's
 * fini and exit; the life pipe's end of file tells the child that sutra
 * has gone (it exits, even from inside a hung call).  The parent trusts
 * nothing it reads: every message is parsed and checked, and every host
 * request goes through the same permission checks and journal as an
 * in-process plugin's.
 */
#ifndef SUTRA_PLUGPROTO_H
#define SUTRA_PLUGPROTO_H

enum {
	PLUGPROTO_FD_REQUESTS = 3,   /* child reads calls and replies */
	PLUGPROTO_FD_RESPONSES = 4,  /* child writes requests and results */
	PLUGPROTO_FD_LIFE = 5,       /* end of file: sutra is gone */
};

/* The largest line either side accepts (64 MiB): a bigger one is a
 * protocol error, not a reason to run out of memory. */
#define PLUGPROTO_MAX_LINE ((size_t)64 << 20)

#endif
