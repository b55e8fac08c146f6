/*
 * memory.h - session memory (SPEC §7): JSON values by (session, key), with
 * a version that counts writes and the time of the last one.
 *
 * Two layers: direct calls (memory_get/set/del...) that commit at once, for
 * the CLI; and struct memtx, the staged writes of one step attempt, which
 * reads through to the database and commits all its writes in the caller's
 * transaction (with the step's checkpoint) or discards them.
 * Values cross this API as JSON text.
 */
#ifndef SUTRA_MEMORY_H
#define SUTRA_MEMORY_H

#include <cjson/cJSON.h>

#include "err.h"
#include "state.h"

/*
 * Reads a value.  Returns 1 and a new string in *json (caller frees with
 * free) when found, 0 with *json NULL when absent, -1 on error.
 */
int memory_get(struct state *st, const char *session, const char *key,
	       char **json, struct sutra_err *err);

/* Writes a value (json must be valid JSON text); commits at once. */
int memory_set(struct state *st, const char *session, const char *key,
	       const char *json, struct sutra_err *err);

/* Deletes a key.  Returns 1 when it existed, 0 when not, -1 on error. */
int memory_del(struct state *st, const char *session, const char *key,
	       struct sutra_err *err);

/*
 * The session's entries as a new JSON array of {key, value, version,
 * updated} (values parsed), sorted by key.  Caller frees with cJSON_Delete.
 */
int memory_list(struct state *st, const char *session, cJSON **out,
		struct sutra_err *err);

/* Sessions as a new JSON array of {id, keys, created, updated}. */
int memory_sessions(struct state *st, cJSON **out, struct sutra_err *err);

/* Writes every member of object (key: value) into session, all in one
 * transaction. */
int memory_import(struct state *st, const char *session, const cJSON *object,
		  struct sutra_err *err);

/* Checks a memory key: non-empty, at most 512 bytes, no NUL. */
int memory_check_key(const char *key, struct sutra_err *err);

/*
 * Staged writes of one step attempt.  Reads see the staged writes first,
 * then the database.  The state may be NULL until the first access: the
 * opener callback is called once to open it (lazily, so agents that never
 * touch memory never open the database).
 */
typedef struct state *(*memtx_opener)(void *ud, struct sutra_err *err);

struct memtx;

/* A new empty staging area for session (copied).  NULL when out of memory. */
struct memtx *memtx_new(const char *session, memtx_opener open, void *ud);
void memtx_free(struct memtx *tx);

const char *memtx_session(const struct memtx *tx);
/* The number of staged writes and deletes. */
int memtx_pending(const struct memtx *tx);

int memtx_get(struct memtx *tx, const char *key, char **json,
	      struct sutra_err *err);
int memtx_set(struct memtx *tx, const char *key, const char *json,
	      struct sutra_err *err);
int memtx_del(struct memtx *tx, const char *key, struct sutra_err *err);
/* Keys visible through the staging area, sorted: a new JSON array. */
int memtx_keys(struct memtx *tx, cJSON **out, struct sutra_err *err);

/*
 * Applies the staged writes to the database.  The caller holds a
 * transaction (state_begin) on memtx_state(tx); the writes land with it.
 * The staging area is emptied only by memtx_discard.
 */
int memtx_apply(struct memtx *tx, struct sutra_err *err);
/* state_begin + memtx_apply + state_commit, then memtx_discard. */
int memtx_commit(struct memtx *tx, struct sutra_err *err);
/* Drops the staged writes (a failed attempt). */
void memtx_discard(struct memtx *tx);
/*
 * The writes staged since a mark, for journaling what a nested agent call
 * wrote: memtx_mark gives the mark, memtx_writes_since a new JSON array of
 * [key, value-or-null] in staging order, memtx_restage stages them again.
 */
int memtx_mark(const struct memtx *tx);
cJSON *memtx_writes_since(const struct memtx *tx, int mark);
int memtx_restage(struct memtx *tx, const cJSON *writes,
		  struct sutra_err *err);

/* The database behind tx, opening it if needed; NULL with err set. */
struct state *memtx_state(struct memtx *tx, struct sutra_err *err);

#endif
