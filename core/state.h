/*
 * state.h - the state database (SPEC §7): one SQLite file in WAL mode.
 *
 * Owns the connection, the schema and its forward migrations, and a cache
 * of prepared statements.  One connection serves the whole process; a
 * recursive mutex serialises its use, so parallel steps never see
 * "database is locked" from each other, and the busy timeout covers other
 * processes.  Higher modules (memory, runs, journal, llm) own their tables'
 * SQL; this module owns only the file, the schema and transactions.
 */
#ifndef SUTRA_STATE_H
#define SUTRA_STATE_H

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "err.h"

/* 'SUTR': stored in PRAGMA application_id to recognise our files. */
#define STATE_APPLICATION_ID 0x53555452
/* The newest schema version this build writes. */
#define STATE_SCHEMA_VERSION 2

struct state;

/*
 * Opens (creating when needed, parent directories included) the database
 * at path and migrates its schema forward inside one transaction.  Returns
 * a new handle (caller frees with state_close).  Fails with SUTRA_ERUNTIME
 * naming the file when it is not a sutra database, is corrupt, has a newer
 * schema, or cannot be written.
 */
int state_open(const char *path, struct state **out, struct sutra_err *err);
void state_close(struct state *st);

/*
 * Checkpoints of the log made so far by the background checkpointer: a
 * thread, started once the log first reaches a few thousand frames, that
 * folds it into the database off the committing thread.  For tests and
 * benchmarks.
 */
int state_checkpoints(struct state *st);

const char *state_path(const struct state *st);

/*
 * The lock serialises every use of the connection.  It is recursive: a
 * thread that holds it (inside state_begin/state_commit, say) may call any
 * state function again.
 */
void state_lock(struct state *st);
void state_unlock(struct state *st);

/*
 * A cached prepared statement for sql, which must be a string constant
 * (the cache is keyed by its address).  Borrowed; reset and with bindings
 * cleared.  The caller must hold the lock while it uses the statement.
 */
sqlite3_stmt *state_stmt(struct state *st, const char *sql,
			 struct sutra_err *err);

/*
 * A snapshot lease, for a caller that holds the lock and is about to
 * read: reads and transactions within a millisecond of each other share
 * one read transaction, instead of paying for one each (state.c says how,
 * and what it costs).  Reads see the process's own writes at once and
 * another process's a millisecond after they commit; transactions always
 * begin on the latest snapshot.  After a failed read, state_read_failed
 * drops the lease.
 */
void state_read_begin(struct state *st);
void state_read_failed(struct state *st);

/*
 * The caller is about to wait (an LLM call, a sandbox run): drops the
 * lease, which would otherwise keep other processes' checkpoints from
 * folding in the log past it.  Takes the lock.
 */
void state_idle(struct state *st);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK (of a transaction that is open,
 * if any) for a caller that already holds the lock; begin uses the lease
 * (and renews it). */
int state_tx_begin_locked(struct state *st, struct sutra_err *err);
int state_tx_commit_locked(struct state *st, struct sutra_err *err);
void state_tx_rollback_locked(struct state *st);

/*
 * Runs a cached query (sql a string constant, with at most one text
 * parameter, ?1 = param, which may be NULL) and collects a new JSON array
 * of row(stmt) objects.  Takes the lock; what names the query in errors.
 */
int state_rows_json(struct state *st, const char *sql, const char *param,
		    cJSON *(*row)(sqlite3_stmt *stmt), const char *what,
		    cJSON **out, struct sutra_err *err);

/* Runs SQL without results.  Takes the lock. */
int state_exec(struct state *st, const char *sql, struct sutra_err *err);

/*
 * Transactions: state_begin takes the lock and begins an IMMEDIATE
 * transaction; state_commit and state_rollback end it and release the
 * lock.  state_rollback is safe to call after a failed commit.
 */
int state_begin(struct state *st, struct sutra_err *err);
int state_commit(struct state *st, struct sutra_err *err);
void state_rollback(struct state *st);

/*
 * Maps a SQLite result code to an error naming the file and what failed
 * ("database is locked", "disk full", ...).  Returns -1.
 */
int state_fail(struct state *st, int rc, const char *what,
	       struct sutra_err *err);

/*
 * Online backup to path with SQLite's backup API: consistent even while
 * other processes write.  Written to PATH.tmp and renamed into place.
 */
int state_backup(struct state *st, const char *path, struct sutra_err *err);

/*
 * Replaces the database's content with a backup's, in one transaction
 * (all of it or none), after checking that the file is a sutra state
 * database of this schema or an older one (which is then migrated).
 */
int state_restore(struct state *st, const char *from, struct sutra_err *err);

/* Schema version of an open database (PRAGMA user_version). */
int state_schema_version(struct state *st);

#endif
