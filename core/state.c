/* state.c - see state.h. */
#include "state.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

enum {
	STMT_CACHE_SIZE = 64,
	BUSY_TIMEOUT_MS = 5000,
	LEASE_NS = 1000000,            /* how long a snapshot is reused */
	WAL_CHECKPOINT_FRAMES = 4000,  /* a passive checkpoint past this */
	WAL_TRUNCATE_AT_CLOSE = 256,   /* leave a short log for the next opener */
};

struct stmt_slot {
	const char *sql;
	sqlite3_stmt *stmt;
};

/*
 * The checkpointer: a thread with a connection of its own that folds the
 * log into the database once it is WAL_CHECKPOINT_FRAMES long.  A passive
 * checkpoint writes every page of the log and fsyncs twice (tens of
 * milliseconds); done by the committing thread, a long run stalls on it
 * every few thousand steps.  Started on first need, so short-lived
 * processes never have it.
 *
 * It copies the bulk; the committing thread copies the rest.  A passive
 * checkpoint copies the frames that were in the log when it began, and
 * the log starts over from its beginning only when every frame is in the
 * database: a checkpointer racing a writer that keeps committing never
 * gets there, and the log would grow without end (with a checkpoint and
 * two fsyncs after every commit).  So after each pass of the thread, the
 * next commit checkpoints the few frames written since, itself, between
 * two of its transactions; the write after that restarts the log.
 */
struct checkpointer {
	pthread_mutex_t mu;
	pthread_cond_t wake;
	pthread_t thread;
	int started;       /* the thread runs */
	int wanted;        /* a pass is due or under way */
	int finished;      /* a pass ended: the committer copies the rest */
	int stop;
	int failed;        /* it has no connection: commits checkpoint inline */
	int done;          /* checkpoints made (for tests and benchmarks) */
};

struct state {
	sqlite3 *db;
	char *path;
	pthread_mutex_t lock;
	struct stmt_slot stmts[STMT_CACHE_SIZE];
	int wal_peak;      /* the longest the log has been after our commits */
	sqlite3_stmt *lease; /* the statement holding the snapshot, or NULL */
	int64_t lease_ns;  /* ... since then */
	int tail_due;      /* the committer is to finish a checkpoint */
	struct checkpointer ckpt;
};

static void lease_end(struct state *st);
static void lease_end_for_write(struct state *st);

/*
 * Forward migrations: migrations[i] takes a database from version i to
 * i + 1.  Append only; never edit a shipped entry.
 */
static const char *const migrations[] = {
	/* 0 -> 1: the first schema. */
	"CREATE TABLE sessions ("
	"  id TEXT PRIMARY KEY, created REAL NOT NULL, updated REAL NOT NULL);"
	"CREATE TABLE memory ("
	"  session TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
	"  version INTEGER NOT NULL, updated REAL NOT NULL,"
	"  PRIMARY KEY (session, key)) WITHOUT ROWID;"
	"CREATE TABLE runs ("
	"  id TEXT PRIMARY KEY, chain TEXT NOT NULL, chain_path TEXT,"
	"  session TEXT NOT NULL, status TEXT NOT NULL, input TEXT,"
	"  output TEXT, error TEXT, parent TEXT,"
	"  started REAL NOT NULL, ended REAL);"
	"CREATE INDEX runs_started ON runs (started);"
	"CREATE TABLE steps ("
	"  run TEXT NOT NULL, path TEXT NOT NULL, attempt INTEGER NOT NULL,"
	"  status TEXT NOT NULL, input TEXT, output TEXT, error TEXT,"
	"  started REAL NOT NULL, ended REAL,"
	"  PRIMARY KEY (run, path, attempt)) WITHOUT ROWID;"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY, run TEXT, step TEXT, ts REAL NOT NULL,"
	"  kind TEXT NOT NULL, data TEXT);"
	"CREATE INDEX events_run ON events (run);"
	"CREATE TABLE journal ("
	"  run TEXT NOT NULL, path TEXT NOT NULL, attempt INTEGER NOT NULL,"
	"  seq INTEGER NOT NULL, kind TEXT NOT NULL, request TEXT NOT NULL,"
	"  result TEXT, ts REAL NOT NULL,"
	"  PRIMARY KEY (run, path, attempt, seq)) WITHOUT ROWID;"
	"CREATE TABLE llm_calls ("
	"  id INTEGER PRIMARY KEY, run TEXT, step TEXT, provider TEXT NOT NULL,"
	"  model TEXT, tokens_in INTEGER, tokens_out INTEGER,"
	"  tokens_cached INTEGER, cost_usd REAL, latency_ms REAL,"
	"  retries INTEGER, cache_hit INTEGER NOT NULL DEFAULT 0,"
	"  status TEXT, error TEXT, ts REAL NOT NULL);"
	"CREATE INDEX llm_calls_run ON llm_calls (run);"
	"CREATE TABLE llm_cache ("
	"  key TEXT PRIMARY KEY, response TEXT NOT NULL, created REAL NOT NULL,"
	"  hits INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;",

	/* 1 -> 2: durable runs.  runs.pid marks the process running a run
	 * (so resume can tell a crashed run from a live one); steps.final
	 * marks an attempt that ended its step (ok, or failed for good). */
	"ALTER TABLE runs ADD COLUMN pid INTEGER;"
	"ALTER TABLE runs ADD COLUMN durability TEXT NOT NULL DEFAULT 'sync';"
	"ALTER TABLE steps ADD COLUMN final INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX runs_status ON runs (status);",
};

_Static_assert(sizeof(migrations) / sizeof(*migrations) ==
		       STATE_SCHEMA_VERSION,
	       "one migration per schema version");

const char *state_path(const struct state *st)
{
	return st->path;
}

void state_lock(struct state *st)
{
	pthread_mutex_lock(&st->lock);
}

void state_unlock(struct state *st)
{
	pthread_mutex_unlock(&st->lock);
}

int state_fail(struct state *st, int rc, const char *what,
	       struct sutra_err *err)
{
	const char *why;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		why = "database is locked by another process";
		break;
	case SQLITE_FULL:
		why = "disk full";
		break;
	case SQLITE_READONLY:
		why = "database is read-only";
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		why = "not a sutra state database, or corrupt";
		break;
	case SQLITE_CANTOPEN:
		why = "cannot open the database file";
		break;
	case SQLITE_IOERR:
		why = "I/O error";
		break;
	default:
		why = st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
		break;
	}
	return err_set(err, SUTRA_ERUNTIME, "%s: %s: %s",
		       st && st->path ? st->path : "state database", what, why);
}

/* The cached statement for sql, reset, with bindings cleared. */
static sqlite3_stmt *cached_stmt(struct state *st, const char *sql,
				 struct sutra_err *err)
{
	struct stmt_slot *free_slot = NULL;
	sqlite3_stmt *stmt;
	int rc;

	for (int i = 0; i < STMT_CACHE_SIZE; i++) {
		if (st->stmts[i].sql == sql) {
			stmt = st->stmts[i].stmt;
			sqlite3_reset(stmt);
			sqlite3_clear_bindings(stmt);
			return stmt;
		}
		if (!st->stmts[i].sql && !free_slot)
			free_slot = &st->stmts[i];
	}
	rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
				&stmt, NULL);
	if (rc != SQLITE_OK) {
		state_fail(st, rc, "prepare", err);
		return NULL;
	}
	if (free_slot) {
		free_slot->sql = sql;
		free_slot->stmt = stmt;
		return stmt;
	}
	/* The cache is sized above the number of statements we have. */
	sqlite3_finalize(stmt);
	err_set(err, SUTRA_ERUNTIME, "state: statement cache full");
	return NULL;
}

sqlite3_stmt *state_stmt(struct state *st, const char *sql,
			 struct sutra_err *err)
{
	sqlite3_stmt *stmt = cached_stmt(st, sql, err);

	if (stmt && st->lease && !sqlite3_stmt_readonly(stmt))
		lease_end_for_write(st);
	return stmt;
}

int state_rows_json(struct state *st, const char *sql, const char *param,
		    cJSON *(*row)(sqlite3_stmt *stmt), const char *what,
		    cJSON **out, struct sutra_err *err)
{
	cJSON *list = cJSON_CreateArray();
	sqlite3_stmt *s;
	int rc = SQLITE_NOMEM;

	*out = NULL;
	if (!list)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	state_lock(st);
	if (!(s = state_stmt(st, sql, err))) {
		state_unlock(st);
		cJSON_Delete(list);
		return -1;
	}
	if (param)
		sqlite3_bind_text(s, 1, param, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		cJSON *e = row(s);
		if (!e || !cJSON_AddItemToArray(list, e)) {
			cJSON_Delete(e);
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_reset(s);
	state_unlock(st);
	if (rc != SQLITE_DONE) {
		cJSON_Delete(list);
		return state_fail(st, rc, what, err);
	}
	*out = list;
	return 0;
}

static int exec_locked(struct state *st, const char *sql, const char *what,
		       struct sutra_err *err)
{
	int rc;

	lease_end(st);
	rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : state_fail(st, rc, what, err);
}

int state_exec(struct state *st, const char *sql, struct sutra_err *err)
{
	state_lock(st);
	int rc = exec_locked(st, sql, "exec", err);
	state_unlock(st);
	return rc;
}

static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
/* Reads the database header: a statement stepped to its row and left
 * there holds the connection's read transaction open (see leases). */
static const char SQL_LEASE[] = "PRAGMA schema_version";
static const char SQL_COMMIT[] = "COMMIT";

/* Runs a cached statement that returns no rows (prepared once: parsing
 * BEGIN and COMMIT on every step costs more than running them). */
static int run_cached(struct state *st, const char *sql, const char *what,
		      struct sutra_err *err)
{
	sqlite3_stmt *s = cached_stmt(st, sql, err);
	int rc;

	if (!s)
		return -1;
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : state_fail(st, rc, what, err);
}

/*
 * Snapshot leases.  Every transaction SQLite opens from scratch takes a
 * read lock on the WAL index: the log header is read and checked, and a
 * read mark is claimed with three fcntl locks (exclusive, unlock, shared)
 * - and released with a fourth at the end.  Measured with bare SQLite
 * here, that is 40 % of a small committed write (12.7 -> 7.7 us).
 *
 * So the connection keeps one read transaction open across the reads and
 * the write transactions that follow within LEASE_NS: a statement that
 * reads the database header (SQL_LEASE), stepped to its row and left
 * unfinished, holds it.  A COMMIT then falls back to that read
 * transaction at the snapshot just committed (SQLite does so whenever a
 * statement is still reading), the next BEGIN IMMEDIATE only takes the
 * write lock, and reads see our own writes at once.
 *
 * Another process's commit is seen by reads that start LEASE_NS after it;
 * a write transaction never works on an old snapshot: BEGIN IMMEDIATE
 * fails with SQLITE_BUSY_SNAPSHOT when another process wrote since (and
 * with SQLITE_BUSY, without waiting, while another connection holds the
 * write lock), and begins again without the lease.
 *
 * The lease ends before anything that is not a read or an explicit
 * transaction runs on the connection (exec_locked, a write outside a
 * transaction, a rollback, a backup or restore), before the committing
 * thread finishes a checkpoint (a lease pins the log where it began), and
 * when the caller is about to wait (state_idle), so that it does not hold
 * other processes' checkpoints back while it waits.
 */
static void lease_end(struct state *st)
{
	if (!st->lease)
		return;
	sqlite3_reset(st->lease);
	st->lease = NULL;
}

/* A write outside an explicit transaction would commit on the lease's
 * snapshot, which may be old: end the lease first. */
static void lease_end_for_write(struct state *st)
{
	if (sqlite3_get_autocommit(st->db))
		lease_end(st);
}

/* Takes a lease, or renews one older than LEASE_NS. */
static void lease_take(struct state *st)
{
	int64_t now = now_ns();
	sqlite3_stmt *s;

	if (st->lease && now - st->lease_ns < LEASE_NS)
		return;
	lease_end(st);
	if (!(s = cached_stmt(st, SQL_LEASE, NULL)))
		return;
	if (sqlite3_step(s) == SQLITE_ROW) {
		st->lease = s;
		st->lease_ns = now;
	} else {
		sqlite3_reset(s);
	}
}

void state_read_begin(struct state *st)
{
	/* Inside a write transaction (a batch) reads need no lease. */
	if (sqlite3_get_autocommit(st->db))
		lease_take(st);
}

void state_read_failed(struct state *st)
{
	lease_end(st);
}

void state_idle(struct state *st)
{
	state_lock(st);
	if (sqlite3_get_autocommit(st->db))
		lease_end(st);
	state_unlock(st);
}

/* BEGIN IMMEDIATE, on the lease's snapshot if there is one. */
static int begin_write(struct state *st)
{
	/* Not state_stmt: BEGIN IMMEDIATE writes, as SQLite sees it, and
	 * would end the lease it is to use. */
	sqlite3_stmt *s = cached_stmt(st, SQL_BEGIN, NULL);
	int rc;

	if (!s)
		return SQLITE_NOMEM;
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	/* A BEGIN that failed leaves no transaction behind. */
	if (rc != SQLITE_DONE && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int state_tx_begin_locked(struct state *st, struct sutra_err *err)
{
	int rc;

	lease_take(st);
	/* On a lease, SQLite does not wait for a busy write lock (waiting
	 * while holding a snapshot could deadlock), and refuses an old
	 * snapshot: either way, begin again without the lease, which waits
	 * as long as the busy timeout. */
	if (((rc = begin_write(st)) & 0xff) == SQLITE_BUSY && st->lease) {
		lease_end(st);
		rc = begin_write(st);
	}
	return rc == SQLITE_DONE ? 0 : state_fail(st, rc, "begin transaction",
						   err);
}

int state_tx_commit_locked(struct state *st, struct sutra_err *err)
{
	if (run_cached(st, SQL_COMMIT, "commit", err) < 0)
		return -1;
	if (st->tail_due) {
		/* on_wal_commit asked for it: the checkpointer has copied the
		 * bulk of the log; copy the rest, without a lease holding the
		 * log back, so that the next write starts the log over. */
		st->tail_due = 0;
		lease_end(st);
		sqlite3_wal_checkpoint_v2(st->db, NULL,
					  SQLITE_CHECKPOINT_PASSIVE, NULL,
					  NULL);
	}
	return 0;
}

int state_begin(struct state *st, struct sutra_err *err)
{
	state_lock(st);
	if (state_tx_begin_locked(st, err) < 0) {
		state_unlock(st);
		return -1;
	}
	return 0;
}

int state_commit(struct state *st, struct sutra_err *err)
{
	if (state_tx_commit_locked(st, err) < 0) {
		/* Leave the lock held: the caller's state_rollback ends it. */
		return -1;
	}
	state_unlock(st);
	return 0;
}

void state_tx_rollback_locked(struct state *st)
{
	lease_end(st);
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

void state_rollback(struct state *st)
{
	state_tx_rollback_locked(st);
	state_unlock(st);
}

static int pragma_int(struct state *st, const char *sql)
{
	sqlite3_stmt *stmt;
	int v = -1;

	if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	return v;
}

int state_schema_version(struct state *st)
{
	state_lock(st);
	int v = pragma_int(st, "PRAGMA user_version");
	state_unlock(st);
	return v;
}

/* Brings the schema to STATE_SCHEMA_VERSION; caller holds a transaction. */
static int migrate(struct state *st, struct sutra_err *err)
{
	int version = pragma_int(st, "PRAGMA user_version");
	int app = pragma_int(st, "PRAGMA application_id");
	int tables = pragma_int(st, "SELECT count(*) FROM sqlite_master");
	char sql[96];

	if (version < 0 || app < 0 || tables < 0)
		return state_fail(st, sqlite3_errcode(st->db), "read schema", err);
	if (tables > 0 && app != STATE_APPLICATION_ID)
		return err_set(err, SUTRA_ERUNTIME,
			       "%s: not a sutra state database", st->path);
	if (version > STATE_SCHEMA_VERSION)
		return err_set(err, SUTRA_ERUNTIME,
			       "%s: schema version %d is newer than this sutra "
			       "supports (%d): upgrade sutra",
			       st->path, version, STATE_SCHEMA_VERSION);
	for (; version < STATE_SCHEMA_VERSION; version++) {
		if (exec_locked(st, migrations[version], "migrate schema", err))
			return -1;
	}
	snprintf(sql, sizeof(sql),
		 "PRAGMA user_version = %d; PRAGMA application_id = %d",
		 STATE_SCHEMA_VERSION, STATE_APPLICATION_ID);
	return exec_locked(st, sql, "migrate schema", err);
}

static void *checkpointer_main(void *arg)
{
	struct state *st = arg;
	struct checkpointer *c = &st->ckpt;
	sqlite3 *db = NULL;

	/* Its own connection: a checkpoint on the main one would hold the
	 * state lock, and every step, for its whole length. */
	if (sqlite3_open_v2(st->path, &db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		db = NULL;
	}
	/* A connection learns that the file is in WAL mode on its first
	 * read; until then a checkpoint does nothing. */
	if (db && (sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS) != SQLITE_OK ||
		   sqlite3_exec(db, "PRAGMA schema_version", NULL, NULL,
				NULL) != SQLITE_OK)) {
		sqlite3_close(db);
		db = NULL;
	}
	pthread_mutex_lock(&c->mu);
	c->failed = !db;
	while (!c->stop && !c->failed) {
		if (!c->wanted) {
			pthread_cond_wait(&c->wake, &c->mu);
			continue;
		}
		pthread_mutex_unlock(&c->mu);
		/* Passive: never blocks the writer, never waits for readers;
		 * what it cannot copy now the next one will. */
		sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE,
					  NULL, NULL);
		pthread_mutex_lock(&c->mu);
		c->wanted = 0;
		c->finished = 1;
		c->done++;
	}
	pthread_mutex_unlock(&c->mu);
	sqlite3_close(db);
	return NULL;
}

/* The log is long: 0 when the checkpointer has the checkpoint (asked for
 * now, or under way), 1 when its pass has ended and the caller is to copy
 * the rest, -1 when there is no checkpointer (it could not be started). */
static int checkpoint_async(struct state *st)
{
	struct checkpointer *c = &st->ckpt;
	int rc = 0;

	pthread_mutex_lock(&c->mu);
	if (!c->started && !c->stop) {
		sigset_t all, old;
		/* Signals stay with the threads that handle them. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		c->started = pthread_create(&c->thread, NULL, checkpointer_main,
					    st) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (!c->started)
			c->stop = 1;  /* do not try again for every commit */
	}
	if (!c->started || c->failed) {
		rc = -1;
	} else if (c->finished) {
		c->finished = 0;
		rc = 1;
	} else if (!c->wanted) {
		c->wanted = 1;
		pthread_cond_signal(&c->wake);
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static void checkpointer_stop(struct state *st)
{
	struct checkpointer *c = &st->ckpt;
	int started;

	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	started = c->started;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->mu);
	if (started)
		pthread_join(c->thread, NULL);
}

int state_checkpoints(struct state *st)
{
	pthread_mutex_lock(&st->ckpt.mu);
	int n = st->ckpt.done;
	pthread_mutex_unlock(&st->ckpt.mu);
	return n;
}

/* Replaces wal_autocheckpoint (the same passive checkpoint, its bulk on
 * the checkpointer's thread) and remembers how long the log has been, for
 * state_close.  Without a checkpointer it checkpoints here, as SQLite
 * would. */
static int on_wal_commit(void *ud, sqlite3 *db, const char *name, int frames)
{
	struct state *st = ud;

	if (frames > st->wal_peak)
		st->wal_peak = frames;
	if (frames >= WAL_CHECKPOINT_FRAMES && checkpoint_async(st) != 0) {
		/* A lease would hold the checkpoint back where it began:
		 * state_tx_commit_locked ends it, then checkpoints. */
		if (st->lease)
			st->tail_due = 1;
		else
			sqlite3_wal_checkpoint_v2(db, name,
						  SQLITE_CHECKPOINT_PASSIVE,
						  NULL, NULL);
	}
	return SQLITE_OK;
}

static int configure(struct state *st, struct sutra_err *err)
{
	int rc;

	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(st->db, 1);
	/* Closing does not checkpoint: that would fsync the database in
	 * every short-lived sutra process.  The WAL is checkpointed every
	 * WAL_CHECKPOINT_FRAMES frames instead, by whichever process
	 * commits, and truncated at close once it is long (state_close). */
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	/* WAL + NORMAL: a commit is durable against process crashes (kill
	 * -9) at every commit, and against power loss up to the last
	 * checkpoint; it costs one write, no fsync, per transaction. */
	/* Small pages for a new file: checkpoints write small rows, and each
	 * commit writes (and checksums) whole pages into the WAL. */
	if (pragma_int(st, "SELECT count(*) FROM sqlite_master") == 0 &&
	    exec_locked(st, "PRAGMA page_size = 1024", "configure", err) < 0)
		return -1;
	sqlite3_wal_hook(st->db, on_wal_commit, st);
	rc = exec_locked(st, "PRAGMA journal_mode = WAL;"
			     "PRAGMA synchronous = NORMAL;"
			     "PRAGMA foreign_keys = ON;",
			 "configure", err);
	return rc;
}

static int schema_is_current(struct state *st)
{
	return pragma_int(st, "PRAGMA user_version") == STATE_SCHEMA_VERSION &&
	       pragma_int(st, "PRAGMA application_id") == STATE_APPLICATION_ID;
}

static int open_file(struct state *st, struct sutra_err *err)
{
	int rc = sqlite3_open_v2(st->path, &st->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
					 SQLITE_OPEN_NOMUTEX,
				 NULL);

	if (rc != SQLITE_OK)
		return state_fail(st, rc, "open", err);
	if (configure(st, err) < 0)
		return -1;
	if (schema_is_current(st))
		return 0;
	if (exec_locked(st, "BEGIN IMMEDIATE", "begin migration", err) < 0)
		return -1;
	if (migrate(st, err) < 0) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return exec_locked(st, "COMMIT", "commit migration", err);
}

static int make_parent_dir(const char *path, struct sutra_err *err)
{
	const char *slash = strrchr(path, '/');

	if (!slash || slash == path)
		return 0;
	char *dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	int rc = mkdir_p(dir, err);
	free(dir);
	return rc;
}

/*
 * SQLite's memory statistics take a global mutex around every malloc and
 * free it makes (Debian builds it without lookaside, so that is several
 * per statement); sutra never reads them.  Must run before SQLite
 * initialises, hence once, before the first open.
 */
static void configure_library(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int state_open(const char *path, struct state **out, struct sutra_err *err)
{
	static pthread_once_t library_once = PTHREAD_ONCE_INIT;
	struct state *st;
	pthread_mutexattr_t attr;

	*out = NULL;
	pthread_once(&library_once, configure_library);
	if (make_parent_dir(path, err) < 0)
		return -1;
	st = calloc(1, sizeof(*st));
	if (!st || !(st->path = strdup(path))) {
		free(st);
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	}
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&st->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	pthread_mutex_init(&st->ckpt.mu, NULL);
	pthread_cond_init(&st->ckpt.wake, NULL);
	if (open_file(st, err) < 0) {
		state_close(st);
		return -1;
	}
	*out = st;
	return 0;
}

static int copy_db(sqlite3 *dst, sqlite3 *src, const char *what,
		   struct sutra_err *err)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	int rc;

	if (!b)
		return err_set(err, SUTRA_ERUNTIME, "%s: %s", what,
			       sqlite3_errmsg(dst));
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE)
		return err_set(err, SUTRA_ERUNTIME, "%s: %s", what,
			       sqlite3_errstr(rc));
	return 0;
}

int state_backup(struct state *st, const char *path, struct sutra_err *err)
{
	char tmp[4096];
	sqlite3 *dst = NULL;
	int rc;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			    NULL) != SQLITE_OK) {
		rc = err_set(err, SUTRA_ERUNTIME, "backup '%s': %s", path,
			     dst ? sqlite3_errmsg(dst) : "cannot open");
		sqlite3_close(dst);
		return rc;
	}
	state_lock(st);
	lease_end(st);  /* the latest snapshot, not the lease's */
	rc = copy_db(dst, st->db, path, err);
	state_unlock(st);
	sqlite3_close(dst);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = err_set(err, SUTRA_ERUNTIME, "backup '%s': %s", path,
			     strerror(errno));
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* Checks that db is a sutra database we can take. */
static int check_backup(sqlite3 *db, const char *from, struct sutra_err *err)
{
	struct state probe = {.db = db, .path = (char *)from};
	int app = pragma_int(&probe, "PRAGMA application_id");
	int version = pragma_int(&probe, "PRAGMA user_version");
	sqlite3_stmt *s;
	int ok = 0;

	if (app != STATE_APPLICATION_ID)
		return err_set(err, SUTRA_EUSAGE,
			       "restore '%s': not a sutra state database", from);
	if (version > STATE_SCHEMA_VERSION)
		return err_set(err, SUTRA_EUSAGE,
			       "restore '%s': schema version %d is newer than "
			       "this sutra supports (%d)",
			       from, version, STATE_SCHEMA_VERSION);
	if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &s, NULL) == SQLITE_OK) {
		ok = sqlite3_step(s) == SQLITE_ROW &&
		     strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
		sqlite3_finalize(s);
	}
	return ok ? 0 : err_set(err, SUTRA_EUSAGE,
				"restore '%s': the file is corrupt", from);
}

int state_restore(struct state *st, const char *from, struct sutra_err *err)
{
	sqlite3 *src = NULL;
	int rc;

	if (access(from, R_OK) != 0)
		return err_set(err, SUTRA_EUSAGE, "restore '%s': %s", from,
			       strerror(errno));
	if (sqlite3_open_v2(from, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(src);
		return err_set(err, SUTRA_EUSAGE, "restore '%s': cannot open", from);
	}
	rc = check_backup(src, from, err);
	state_lock(st);
	/* The lease's statement is one of the cached ones, and a backup
	 * cannot write into a connection that holds a read transaction. */
	lease_end(st);
	for (int i = 0; rc == 0 && i < STMT_CACHE_SIZE; i++) {
		/* Cached statements would pin the old schema. */
		sqlite3_finalize(st->stmts[i].stmt);
		st->stmts[i].stmt = NULL;
		st->stmts[i].sql = NULL;
	}
	if (rc == 0)
		rc = copy_db(st->db, src, "restore", err);
	if (rc == 0 && !schema_is_current(st)) {
		if ((rc = exec_locked(st, "BEGIN IMMEDIATE", "migrate", err)) == 0) {
			rc = migrate(st, err);
			rc = exec_locked(st, rc ? "ROLLBACK" : "COMMIT", "migrate",
					 err) || rc;
		}
	}
	state_unlock(st);
	sqlite3_close(src);
	return rc ? -1 : 0;
}

void state_close(struct state *st)
{
	if (!st)
		return;
	state_lock(st);
	lease_end(st);
	state_unlock(st);
	checkpointer_stop(st);
	for (int i = 0; i < STMT_CACHE_SIZE; i++)
		sqlite3_finalize(st->stmts[i].stmt);
	/* Every process that opens the database reads the whole log to
	 * index it, and a log that started over keeps its file's length: a
	 * process that grew it past a few hundred frames folds it into the
	 * database and truncates it, unless another process holds the
	 * database (then a later one will). */
	if (st->db && st->wal_peak > WAL_TRUNCATE_AT_CLOSE) {
		sqlite3_busy_timeout(st->db, 0);
		sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
					  NULL, NULL);
	}
	sqlite3_close(st->db);
	pthread_mutex_destroy(&st->lock);
	pthread_mutex_destroy(&st->ckpt.mu);
	pthread_cond_destroy(&st->ckpt.wake);
	free(st->path);
	free(st);
}
