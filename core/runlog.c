/* runlog.c - see runlog.h. */
#include "runlog_impl.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

struct runlog_attempt {
	struct runlog *rl;
	char *path;
	int attempt;
	int seq;                        /* the last position used */
	cJSON *pending;                 /* [seq, kind, request, result]...,
					   made on the first effect */
	int live;                       /* stop replaying (resume diverged) */
};

static const char SQL_RUN_INSERT[] =
	"INSERT INTO runs (id, chain, chain_path, session, status, input, "
	"started, pid, durability) VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, "
	"?7, ?8)";
static const char SQL_RUN_FINISH[] =
	"UPDATE runs SET status = ?2, output = ?3, error = ?4, ended = ?5, "
	"pid = NULL WHERE id = ?1";
static const char SQL_RUN_CLAIM[] =
	"UPDATE runs SET status = 'running', pid = ?2, ended = NULL WHERE id = ?1";
static const char SQL_RUN_GET[] =
	"SELECT id, chain, chain_path, session, status, input, output, error, "
	"started, ended, pid, durability FROM runs WHERE id = ?1";
const char runlog_sql_step_insert[] = STEP_INSERT STEP_VALUES;
static const char SQL_STEPS_OF_RUN[] =
	"SELECT path, attempt, status, output, error, final FROM steps "
	"WHERE run = ?1 ORDER BY path, attempt";
static const char SQL_JOURNAL_INSERT[] =
	"INSERT OR REPLACE INTO journal (run, path, attempt, seq, kind, request, "
	"result, ts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SQL_JOURNAL_OF_RUN[] =
	"SELECT path, attempt, seq, kind, request, result FROM journal "
	"WHERE run = ?1 ORDER BY path, attempt, seq";
static const char SQL_EVENT_INSERT[] =
	"INSERT INTO events (run, step, ts, kind, data) VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SQL_WAITING[] =
	"SELECT s.path, s.input FROM steps s WHERE s.run = ?1 AND "
	"s.status = 'waiting' AND NOT EXISTS (SELECT 1 FROM steps o WHERE "
	"o.run = s.run AND o.path = s.path AND o.attempt >= s.attempt AND "
	"o.status <> 'waiting') ORDER BY s.started DESC LIMIT 1";
static const char SQL_LAST_RUN[] =
	"SELECT id FROM runs ORDER BY started DESC LIMIT 1";
static const char SQL_RUNS_LIST[] =
	"SELECT id, chain, session, status, started, ended FROM runs "
	"ORDER BY started DESC LIMIT ?1";
static const char SQL_STEPS_TIMELINE[] =
	"SELECT path, attempt, status, started, ended, error, final FROM steps "
	"WHERE run = ?1 ORDER BY started, path, attempt";
static const char SQL_LLM_BY_STEP[] =
	"SELECT step, count(*), sum(tokens_in), sum(tokens_out), "
	"sum(cost_usd) FROM llm_calls WHERE run = ?1 GROUP BY step";
/* The run's events: its own (events table) and one per step attempt,
 * derived from the checkpoints, in time order. */
/* A step's spend includes the steps inside it: "fix", "fix#2/test". */
static const char SQL_LLM_SPENT[] =
	"SELECT coalesce(sum(cost_usd), 0), "
	"coalesce(sum(tokens_in), 0) + coalesce(sum(tokens_out), 0) "
	"FROM llm_calls WHERE run = ?1 AND (?2 IS NULL OR step = ?2 OR "
	"(substr(step, 1, length(?2)) = ?2 AND "
	"substr(step, length(?2) + 1, 1) IN ('#', '/', '[')))";
static const char SQL_EVENTS_OF_RUN[] =
	"SELECT ts, step, kind, data FROM ("
	" SELECT ts, step, kind, data, id AS n FROM events WHERE run = ?1"
	" UNION ALL"
	" SELECT ended, path, CASE status WHEN 'ok' THEN 'step.completed'"
	"  WHEN 'waiting' THEN 'step.waiting' WHEN 'timeout' THEN 'step.timeout'"
	"  ELSE 'step.failed' END,"
	"  json_remove(json_object('status', status, 'attempt', attempt,"
	"   'error', error), CASE WHEN error IS NULL THEN '$.error'"
	"   ELSE '$.none' END),"
	"  0 FROM steps WHERE run = ?1)"
	" ORDER BY ts, n";

int runlog_durability_from_name(const char *name)
{
	if (strcmp(name, "sync") == 0)
		return DURABILITY_SYNC;
	if (strcmp(name, "batch") == 0)
		return DURABILITY_BATCH;
	return -1;
}

static const char *durability_name(int d)
{
	return d == DURABILITY_BATCH ? "batch" : "sync";
}

/* ------------------------------------------------------------ helpers */

/*
 * Parameters are bound SQLITE_STATIC: every string bound here outlives the
 * statement's execution in the same function (state_stmt clears the
 * bindings before the statement is used again), so SQLite need not copy
 * it.  JSON is printed into a jtext on the stack of step_with_json,
 * which runs the statement; only a value too big for its buffer is
 * printed on the heap.
 */
enum { JTEXT_INLINE = 480 };

struct jtext {
	char *heap;
	char buf[JTEXT_INLINE];
};

/* Binds a JSON value as text (NULL for no value); -1 when out of memory.
 * jtext_free(t) after the statement ran. */
static int bind_json(sqlite3_stmt *s, int i, const cJSON *v, struct jtext *t)
{
	const char *text = t->buf;

	t->heap = NULL;
	if (!v) {
		sqlite3_bind_null(s, i);
		return 0;
	}
	/* cJSON_PrintPreallocated needs a few bytes of slack (cJSON.h). */
	if (!cJSON_PrintPreallocated((cJSON *)v, t->buf, sizeof(t->buf) - 5, 0)) {
		if (!(t->heap = cJSON_PrintUnformatted(v)))
			return -1;
		text = t->heap;
	}
	sqlite3_bind_text(s, i, text, -1, SQLITE_STATIC);
	return 0;
}

static void jtext_free(struct jtext *t)
{
	cJSON_free(t->heap);
	t->heap = NULL;
}

static char *col_dup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? strdup((const char *)t) : NULL;
}

static cJSON *col_json(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? cJSON_Parse((const char *)t) : NULL;
}

int runlog_step_done(struct state *st, sqlite3_stmt *s, const char *what,
		     struct sutra_err *err)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : state_fail(st, rc, what, err);
}

/* Binds JSON value a at parameter ia and, when ib is not 0, b at ib, then
 * runs s as step_done does.  The printed texts live on this frame until
 * the statement has run. */
static int step_with_json(struct state *st, sqlite3_stmt *s, int ia,
			  const cJSON *a, int ib, const cJSON *b,
			  const char *what, struct sutra_err *err)
{
	struct jtext ta, tb;
	int rc;

	tb.heap = NULL;
	if (bind_json(s, ia, a, &ta) < 0 || (ib && bind_json(s, ib, b, &tb) < 0))
		rc = err_set(err, SUTRA_ENOMEM, "out of memory");
	else
		rc = runlog_step_done(st, s, what, err);
	jtext_free(&ta);
	jtext_free(&tb);
	return rc;
}

/* -------------------------------------------------------- transactions */

/* Opens the write transaction unless one is open; the caller holds the
 * lock. */
int runlog_tx_open_locked(struct runlog *rl, struct sutra_err *err)
{
	if (rl->in_tx)
		return 0;
	if (state_tx_begin_locked(rl->st, err) < 0)
		return -1;
	rl->in_tx = 1;
	return 0;
}

/*
 * Enters the write transaction: a new one in sync mode, the open batch in
 * batch mode, after the checkpoints still queued for the batch writer.
 * Holds the state lock until tx_leave.
 */
static int tx_enter(struct runlog *rl, struct sutra_err *err)
{
	state_lock(rl->st);
	if ((runlog_batch_mode(rl) && batchq_write(rl, INT_MAX, err) < 0) ||
	    runlog_tx_open_locked(rl, err) < 0) {
		state_unlock(rl->st);
		return -1;
	}
	return 0;
}

/*
 * Ends the open transaction: commits it when ok, rolls it back when not
 * or when the commit fails.  A batch rolled back takes other steps'
 * checkpoints with it, so in batch mode that failure is for good
 * (batch_fail).  The caller holds the lock.
 */
int runlog_tx_end(struct runlog *rl, int ok, struct sutra_err *err)
{
	if (ok && (!rl->in_tx || state_tx_commit_locked(rl->st, err) == 0)) {
		rl->in_tx = 0;
		if (runlog_batch_mode(rl))
			batchq_committed(rl);
		return 0;
	}
	if (rl->in_tx)
		state_tx_rollback_locked(rl->st);
	rl->in_tx = 0;
	if (runlog_batch_mode(rl))
		batchq_fail(rl, err);
	return -1;
}

/* Leaves it: commits now in sync mode, when forced, or when the batch is
 * full or old; on failure rolls back.  Releases the lock. */
static int tx_leave(struct runlog *rl, int ok, int force,
		    struct sutra_err *err)
{
	int rc = 0;

	if (!ok || force || !runlog_batch_mode(rl) || batchq_count_in(rl))
		rc = runlog_tx_end(rl, ok, err);
	state_unlock(rl->st);
	return ok ? rc : -1;
}

/* Commits the open batch with what is queued for it. */
static int batch_commit(struct runlog *rl, struct sutra_err *err)
{
	int rc;

	state_lock(rl->st);
	rc = batchq_write(rl, INT_MAX, err);
	if (rc == 0 && rl->in_tx)
		rc = runlog_tx_end(rl, 1, err);
	state_unlock(rl->st);
	return rc;
}

int runlog_attempt_idle(struct runlog_attempt *a, struct sutra_err *err)
{
	struct runlog *rl = a->rl;

	if (rl->mode == RUNLOG_REPLAY || !runlog_batch_mode(rl))
		return 0;
	/* Between two checkpoints the batch's transaction stays open, with
	 * its write lock: through a minute-long LLM call, every other
	 * writer would fail with "database is locked".  Committing it here
	 * keeps each step whole. */
	return batch_commit(rl, err);
}

/* -------------------------------------------------------- create/open */

static struct runlog *runlog_alloc(struct state *st, int mode)
{
	struct runlog *rl = calloc(1, sizeof(*rl));

	if (!rl)
		return NULL;
	rl->st = st;
	rl->mode = mode;
	rl->divergences = cJSON_CreateArray();
	pthread_mutex_init(&rl->mu, NULL);
	batchq_init(&rl->q);
	return rl;
}

int runlog_create(struct state *st, const char *run_id, const char *chain,
		  const char *chain_path, const char *session,
		  const cJSON *input, int durability, struct runlog **out,
		  struct sutra_err *err)
{
	struct runlog *rl = runlog_alloc(st, RUNLOG_RECORD);
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	if (!rl)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	rl->durability = durability;
	rl->info.id = strdup(run_id);
	rl->info.chain = strdup(chain);
	rl->info.chain_path = strdup(chain_path);
	rl->info.session = strdup(session);
	rl->info.status = strdup("running");
	rl->info.input = cJSON_Duplicate(input, 1);
	rl->info.started = now_unix();
	rl->info.pid = getpid();
	rl->info.durability = durability;
	state_lock(st);
	if (!(s = state_stmt(st, SQL_RUN_INSERT, err))) {
		state_unlock(st);
		runlog_free(rl);
		return -1;
	}
	bind_text(s, 1, run_id);
	bind_text(s, 2, chain);
	bind_text(s, 3, chain_path);
	bind_text(s, 4, session);
	sqlite3_bind_double(s, 6, rl->info.started);
	sqlite3_bind_int(s, 7, getpid());
	bind_text(s, 8, durability_name(durability));
	rc = step_with_json(st, s, 5, input, 0, NULL, "record run", err);
	state_unlock(st);
	if (rc < 0) {
		runlog_free(rl);
		return -1;
	}
	*out = rl;
	return 0;
}

static int load_info(struct runlog *rl, const char *run_id,
		     struct sutra_err *err)
{
	sqlite3_stmt *s = state_stmt(rl->st, SQL_RUN_GET, err);
	int rc;

	if (!s)
		return -1;
	bind_text(s, 1, run_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return err_set(err, SUTRA_ENOTFOUND, "no run '%s'", run_id);
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return state_fail(rl->st, rc, "read run", err);
	}
	struct runlog_info *i = &rl->info;
	i->id = col_dup(s, 0);
	i->chain = col_dup(s, 1);
	i->chain_path = col_dup(s, 2);
	i->session = col_dup(s, 3);
	i->status = col_dup(s, 4);
	i->input = col_json(s, 5);
	i->output = col_json(s, 6);
	i->error = col_dup(s, 7);
	i->started = sqlite3_column_double(s, 8);
	i->ended = sqlite3_column_double(s, 9);
	i->pid = sqlite3_column_int(s, 10);
	i->durability = runlog_durability_from_name(
		(const char *)sqlite3_column_text(s, 11));
	if (i->durability < 0)
		i->durability = DURABILITY_SYNC;
	sqlite3_reset(s);
	return 0;
}

/* Loads the checkpoints: for each path, its last attempt. */
static int load_steps(struct runlog *rl, struct sutra_err *err)
{
	sqlite3_stmt *s = state_stmt(rl->st, SQL_STEPS_OF_RUN, err);
	int rc, cap = 0;

	if (!s)
		return -1;
	bind_text(s, 1, rl->info.id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *path = (const char *)sqlite3_column_text(s, 0);
		struct runlog_step *st = rl->n_steps ? &rl->steps[rl->n_steps - 1] : NULL;
		if (!st || strcmp(st->path, path) != 0) {
			if (rl->n_steps == cap) {
				cap = cap ? cap * 2 : 64;
				void *n = realloc(rl->steps, sizeof(*rl->steps) * (size_t)cap);
				if (!n)
					goto nomem;
				rl->steps = n;
			}
			st = &rl->steps[rl->n_steps++];
			memset(st, 0, sizeof(*st));
			if (!(st->path = strdup(path)))
				goto nomem;
		}
		/* Rows come in attempt order: the last one wins. */
		free(st->status);
		free(st->error);
		cJSON_Delete(st->output);
		st->last_attempt = sqlite3_column_int(s, 1);
		st->status = col_dup(s, 2);
		st->output = col_json(s, 3);
		st->error = col_dup(s, 4);
		st->final = sqlite3_column_int(s, 5);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : state_fail(rl->st, rc, "read checkpoints", err);
nomem:
	sqlite3_reset(s);
	return err_set(err, SUTRA_ENOMEM, "out of memory");
}

static int load_journal(struct runlog *rl, struct sutra_err *err)
{
	sqlite3_stmt *s = state_stmt(rl->st, SQL_JOURNAL_OF_RUN, err);
	int rc, cap = 0;

	if (!s)
		return -1;
	bind_text(s, 1, rl->info.id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (rl->n_journal == cap) {
			cap = cap ? cap * 2 : 64;
			void *n = realloc(rl->journal, sizeof(*rl->journal) * (size_t)cap);
			if (!n) {
				sqlite3_reset(s);
				return err_set(err, SUTRA_ENOMEM, "out of memory");
			}
			rl->journal = n;
		}
		struct jentry *j = &rl->journal[rl->n_journal++];
		j->path = col_dup(s, 0);
		j->attempt = sqlite3_column_int(s, 1);
		j->seq = sqlite3_column_int(s, 2);
		j->kind = col_dup(s, 3);
		j->request = col_json(s, 4);
		j->result = col_json(s, 5);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : state_fail(rl->st, rc, "read journal", err);
}

/* Whether another live process runs the run (a crashed one does not). */
static int owned_elsewhere(const struct runlog_info *i)
{
	return i->pid > 0 && i->pid != getpid() &&
	       strcmp(i->status, "running") == 0 &&
	       (kill(i->pid, 0) == 0 || errno == EPERM);
}

static int claim(struct runlog *rl, struct sutra_err *err)
{
	sqlite3_stmt *s = state_stmt(rl->st, SQL_RUN_CLAIM, err);

	if (!s)
		return -1;
	bind_text(s, 1, rl->info.id);
	sqlite3_bind_int(s, 2, getpid());
	return runlog_step_done(rl->st, s, "claim run", err);
}

int runlog_open(struct state *st, const char *run_id, int mode,
		struct runlog **out, struct sutra_err *err)
{
	struct runlog *rl = runlog_alloc(st, mode);
	int rc;

	*out = NULL;
	if (!rl)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	state_lock(st);
	rc = load_info(rl, run_id, err);
	if (rc == 0 && mode == RUNLOG_RESUME && owned_elsewhere(&rl->info))
		rc = err_set(err, SUTRA_EUSAGE,
			     "run '%s' is still running (process %d)", run_id,
			     rl->info.pid);
	if (rc == 0)
		rc = load_steps(rl, err);
	if (rc == 0)
		rc = load_journal(rl, err);
	if (rc == 0 && mode == RUNLOG_RESUME)
		rc = claim(rl, err);
	state_unlock(st);
	rl->durability = rl->info.durability;
	if (rc < 0) {
		runlog_free(rl);
		return -1;
	}
	*out = rl;
	return 0;
}

static void free_info(struct runlog_info *i)
{
	free(i->id);
	free(i->chain);
	free(i->chain_path);
	free(i->session);
	free(i->status);
	free(i->error);
	cJSON_Delete(i->input);
	cJSON_Delete(i->output);
}

void runlog_free(struct runlog *rl)
{
	if (!rl)
		return;
	if (runlog_batch_mode(rl) && rl->mode != RUNLOG_REPLAY) {
		/* What the batch holds is committed: those steps did run. */
		struct sutra_err ignore = {0};
		batch_commit(rl, &ignore);
		batchq_stop(rl);
	}
	for (int i = 0; i < rl->n_steps; i++) {
		free(rl->steps[i].path);
		free(rl->steps[i].status);
		free(rl->steps[i].error);
		cJSON_Delete(rl->steps[i].output);
	}
	free(rl->steps);
	for (int i = 0; i < rl->n_journal; i++) {
		free(rl->journal[i].path);
		free(rl->journal[i].kind);
		cJSON_Delete(rl->journal[i].request);
		cJSON_Delete(rl->journal[i].result);
	}
	free(rl->journal);
	free_info(&rl->info);
	cJSON_Delete(rl->divergences);
	pthread_mutex_destroy(&rl->mu);
	batchq_destroy(&rl->q);
	free(rl);
}

const struct runlog_info *runlog_info(const struct runlog *rl)
{
	return &rl->info;
}

int runlog_mode(const struct runlog *rl)
{
	return rl->mode;
}

const struct runlog_step *runlog_step(const struct runlog *rl,
				      const char *path)
{
	int lo = 0, hi = rl->n_steps;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		int c = strcmp(path, rl->steps[mid].path);
		if (c == 0)
			return &rl->steps[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* ----------------------------------------------------------- journal */

static const struct jentry *find_entry(const struct runlog *rl,
				       const char *path, int attempt, int seq)
{
	int lo = 0, hi = rl->n_journal;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		const struct jentry *j = &rl->journal[mid];
		int c = strcmp(path, j->path);
		if (!c)
			c = attempt - j->attempt;
		if (!c)
			c = seq - j->seq;
		if (c == 0)
			return j;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

struct runlog_attempt *runlog_attempt_new(struct runlog *rl, const char *path,
					  int attempt)
{
	struct runlog_attempt *a = calloc(1, sizeof(*a));

	if (!a || !(a->path = strdup(path))) {
		free(a);
		return NULL;
	}
	a->rl = rl;
	a->attempt = attempt;
	return a;
}

void runlog_attempt_free(struct runlog_attempt *a)
{
	if (!a)
		return;
	cJSON_Delete(a->pending);
	free(a->path);
	free(a);
}

struct runlog *runlog_attempt_log(const struct runlog_attempt *a)
{
	return a->rl;
}

void runlog_attempt_seek(struct runlog_attempt *a, int seq)
{
	if (seq > a->seq)
		a->seq = seq;
}

int runlog_attempt_seq(const struct runlog_attempt *a)
{
	return a->seq;
}

int runlog_effect_begin(struct runlog_attempt *a, const char *kind,
			const cJSON *request, int *seq, cJSON **result,
			struct sutra_err *err)
{
	struct runlog *rl = a->rl;
	const struct jentry *j;

	*result = NULL;
	*seq = ++a->seq;
	if (rl->mode == RUNLOG_RECORD || a->live)
		return 0;
	j = find_entry(rl, a->path, a->attempt, *seq);
	if (!j) {
		if (rl->mode == RUNLOG_REPLAY) {
			runlog_diverge(rl, a->path, "attempt %d, effect %d: %s "
				       "is not in the journal", a->attempt, *seq, kind);
			/* Replay is offline: reading memory or running an
			 * agent's code is fine, paying a provider is not. */
			if (strncmp(kind, "memory.", 7) != 0 && strcmp(kind, "call") != 0)
				return err_set(err, SUTRA_EFAILED,
					       "%s is not in the journal (replay "
					       "runs offline)", kind);
		}
		a->live = 1;
		return 0;
	}
	if (strcmp(j->kind, kind) != 0 || !cJSON_Compare(j->request, request, 1)) {
		if (rl->mode == RUNLOG_REPLAY) {
			runlog_diverge(rl, a->path, "attempt %d, effect %d: the %s "
				       "request differs from the journal's %s",
				       a->attempt, *seq, kind, j->kind);
		} else {
			log_printf(LOG_WARN, "step '%s': effect %d differs from "
				   "the journal; running it again", a->path, *seq);
			a->live = 1;
			return 0;
		}
	}
	if (!(*result = cJSON_Duplicate(j->result, 1)))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	return 1;
}

static int insert_journal(struct runlog *rl, const char *path, int attempt,
			  int seq, const char *kind, const cJSON *request,
			  const cJSON *result, struct sutra_err *err)
{
	sqlite3_stmt *s = state_stmt(rl->st, SQL_JOURNAL_INSERT, err);

	if (!s)
		return -1;
	bind_text(s, 1, rl->info.id);
	bind_text(s, 2, path);
	sqlite3_bind_int(s, 3, attempt);
	sqlite3_bind_int(s, 4, seq);
	bind_text(s, 5, kind);
	sqlite3_bind_double(s, 8, now_unix());
	return step_with_json(rl->st, s, 6, request, 7, result,
			      "journal effect", err);
}

int runlog_effect_end(struct runlog_attempt *a, int seq, const char *kind,
		      const cJSON *request, const cJSON *result, int durable,
		      struct sutra_err *err)
{
	struct runlog *rl = a->rl;

	if (rl->mode == RUNLOG_REPLAY)
		return 0;
	if (!durable) {
		/* Kept until the checkpoint, which journals it in its own
		 * transaction. */
		cJSON *e = cJSON_CreateArray();
		if (!a->pending)
			a->pending = cJSON_CreateArray();
		if (!e || !a->pending ||
		    !cJSON_AddItemToArray(e, cJSON_CreateNumber(seq)) ||
		    !cJSON_AddItemToArray(e, cJSON_CreateString(kind)) ||
		    !cJSON_AddItemToArray(e, cJSON_Duplicate(request, 1)) ||
		    /* no result: no fourth item (journaled as NULL) */
		    (result && !cJSON_AddItemToArray(e, cJSON_Duplicate(result, 1))) ||
		    !cJSON_AddItemToArray(a->pending, e)) {
			cJSON_Delete(e);
			return err_set(err, SUTRA_ENOMEM, "out of memory");
		}
		return 0;
	}
	/* Committed now, with a batch that may be open (another branch's
	 * checkpoints, queued or written since the attempt went idle). */
	if (tx_enter(rl, err) < 0)
		return -1;
	return tx_leave(rl, insert_journal(rl, a->path, a->attempt, seq, kind,
					   request, result, err) == 0, 1, err);
}

static int flush_pending(struct runlog *rl, struct runlog_attempt *a,
			 struct sutra_err *err)
{
	const cJSON *e;

	if (!a)
		return 0;
	cJSON_ArrayForEach(e, a->pending) {
		if (insert_journal(rl, a->path, a->attempt,
				   cJSON_GetArrayItem(e, 0)->valueint,
				   cJSON_GetArrayItem(e, 1)->valuestring,
				   cJSON_GetArrayItem(e, 2),
				   cJSON_GetArrayItem(e, 3), err) < 0)
			return -1;
	}
	cJSON_Delete(a->pending);
	a->pending = NULL;
	return 0;
}

/* -------------------------------------------------------- checkpoints */

static int insert_event(struct runlog *rl, const char *path, const char *kind,
			const cJSON *data, struct sutra_err *err)
{
	sqlite3_stmt *s = state_stmt(rl->st, SQL_EVENT_INSERT, err);

	if (!s)
		return -1;
	bind_text(s, 1, rl->info.id);
	bind_text(s, 2, path);
	sqlite3_bind_double(s, 3, now_unix());
	bind_text(s, 4, kind);
	return step_with_json(rl->st, s, 5, data, 0, NULL, "record event",
			      err);
}

/* Binds a checkpoint's columns, but its input and output (at + 5, at +
 * 6), to the parameters after at: 1-10 of the first row of values, 11-20
 * of the second, and so on. */
void runlog_bind_step(sqlite3_stmt *s, int at, const struct runlog *rl,
		      const char *path, int attempt, const char *status,
		      int final, const char *error, double started,
		      double ended)
{
	bind_text(s, at + 1, rl->info.id);
	bind_text(s, at + 2, path);
	sqlite3_bind_int(s, at + 3, attempt);
	bind_text(s, at + 4, status);
	bind_text(s, at + 7, error);
	sqlite3_bind_double(s, at + 8, started);
	sqlite3_bind_double(s, at + 9, ended);
	sqlite3_bind_int(s, at + 10, final);
}

static int insert_step(struct runlog *rl, const char *path, int attempt,
		       const char *status, int final, const cJSON *input,
		       const cJSON *output, const char *error, double started,
		       struct sutra_err *err)
{
	sqlite3_stmt *s = state_stmt(rl->st, runlog_sql_step_insert, err);

	if (!s)
		return -1;
	runlog_bind_step(s, 0, rl, path, attempt, status, final, error,
			 started, now_unix());
	return step_with_json(rl->st, s, 5, input, 6, output,
			      "record checkpoint", err);
}

/* Replay: compares an attempt's outcome with the recording. */
static void compare_outcome(struct runlog *rl, const char *path,
			    const char *status, int final,
			    const cJSON *output)
{
	const struct runlog_step *was = runlog_step(rl, path);

	if (!final)
		return;
	if (!was) {
		runlog_diverge(rl, path, "ran now, but not in the recorded run");
		return;
	}
	if (strcmp(was->status, status) != 0)
		runlog_diverge(rl, path, "status %s, recorded %s", status,
			       was->status);
	else if (output && was->output && !cJSON_Compare(output, was->output, 1))
		runlog_diverge(rl, path, "output differs from the recorded one");
}

int runlog_checkpoint(struct runlog *rl, struct memtx *tx,
		      struct runlog_attempt *a, const char *path, int attempt,
		      const char *status, int final, const cJSON *input,
		      const cJSON *output, const char *error, double started,
		      struct sutra_err *err)
{
	int ok;

	if (rl->mode == RUNLOG_REPLAY) {
		compare_outcome(rl, path, status, final, output);
		return 0;
	}
	if (runlog_batch_mode(rl) && !(tx && memtx_pending(tx)) &&
	    !(a && a->pending)) {
		if (batchq_push(rl, path, attempt, status, final, input,
				output, error, started, err) < 0)
			return -1;
		if (tx)
			memtx_discard(tx);
		return 0;
	}
	if (tx && memtx_pending(tx) && !memtx_state(tx, err))
		return -1;
	if (tx_enter(rl, err) < 0)
		return -1;
	/* Step events are not stored twice: runlog_events derives them from
	 * the checkpoints, which hold the same facts. */
	ok = (!tx || memtx_apply(tx, err) == 0) &&
	     insert_step(rl, path, attempt, status, final, input, output,
			 error, started, err) == 0 &&
	     flush_pending(rl, a, err) == 0;
	if (tx_leave(rl, ok, 0, err) < 0)
		return -1;
	if (tx)
		memtx_discard(tx);
	return 0;
}

int runlog_finish(struct runlog *rl, const char *status, const cJSON *output,
		  const char *error, struct sutra_err *err)
{
	sqlite3_stmt *s;
	cJSON *data;
	int ok;

	if (rl->mode == RUNLOG_REPLAY)
		return 0;
	if (tx_enter(rl, err) < 0)
		return -1;
	ok = (s = state_stmt(rl->st, SQL_RUN_FINISH, err)) != NULL;
	if (ok) {
		bind_text(s, 1, rl->info.id);
		bind_text(s, 2, status);
		bind_text(s, 4, error);
		sqlite3_bind_double(s, 5, now_unix());
		ok = step_with_json(rl->st, s, 3, output, 0, NULL,
				    "record run end", err) == 0;
	}
	data = cJSON_CreateObject();
	cJSON_AddStringToObject(data, "status", status);
	if (error)
		cJSON_AddStringToObject(data, "error", error);
	ok = ok && insert_event(rl, NULL, "chain.finished", data, err) == 0;
	cJSON_Delete(data);
	return tx_leave(rl, ok, 1, err);
}

void runlog_diverge(struct runlog *rl, const char *path, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	cJSON *d = cJSON_CreateObject();

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON_AddStringToObject(d, "step", path ? path : "");
	cJSON_AddStringToObject(d, "divergence", msg);
	pthread_mutex_lock(&rl->mu);
	cJSON_AddItemToArray(rl->divergences, d);
	pthread_mutex_unlock(&rl->mu);
}

cJSON *runlog_divergences(struct runlog *rl)
{
	pthread_mutex_lock(&rl->mu);
	cJSON *d = cJSON_Duplicate(rl->divergences, 1);
	pthread_mutex_unlock(&rl->mu);
	return d;
}

/* --------------------------------------------------------- ask answers */

int runlog_waiting(struct state *st, const char *run_id, char **path,
		   cJSON **input, struct sutra_err *err)
{
	sqlite3_stmt *s;
	int rc, found = 0;

	*path = NULL;
	*input = NULL;
	state_lock(st);
	if (!(s = state_stmt(st, SQL_WAITING, err))) {
		state_unlock(st);
		return -1;
	}
	bind_text(s, 1, run_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*path = col_dup(s, 0);
		*input = col_json(s, 1);
		found = 1;
	}
	sqlite3_reset(s);
	state_unlock(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return state_fail(st, rc, "read run", err);
	return found;
}

char *runlog_last_id(struct state *st, struct sutra_err *err)
{
	sqlite3_stmt *s;
	char *id = NULL;

	state_lock(st);
	if ((s = state_stmt(st, SQL_LAST_RUN, err))) {
		if (sqlite3_step(s) == SQLITE_ROW)
			id = col_dup(s, 0);
		sqlite3_reset(s);
	}
	state_unlock(st);
	return id;
}

int runlog_answer(struct state *st, const char *run_id, const char *path,
		  const cJSON *answer, struct sutra_err *err)
{
	struct runlog rl = {.st = st, .durability = DURABILITY_SYNC,
			    .info = {.id = (char *)run_id}};
	const char *status = "ok";
	sqlite3_stmt *s;
	int attempt = 1, ok;

	if (tx_enter(&rl, err) < 0)
		return -1;
	if ((s = state_stmt(st, SQL_STEPS_OF_RUN, err))) {
		bind_text(s, 1, run_id);
		while (sqlite3_step(s) == SQLITE_ROW)
			if (!strcmp((const char *)sqlite3_column_text(s, 0), path))
				attempt = sqlite3_column_int(s, 1);
		sqlite3_reset(s);
	}
	/* The answer is the next attempt: the waiting one stays recorded. */
	ok = s && insert_step(&rl, path, attempt + 1, status, 1, NULL, answer,
			      NULL, now_unix(), err) == 0 &&
	     insert_event(&rl, path, "step.answered", answer, err) == 0;
	return tx_leave(&rl, ok, 1, err);
}

/* ------------------------------------------------------------ listing */

int runlog_llm_spent(struct state *st, const char *run_id,
		     const char *step_path, double *usd, int64_t *tokens,
		     struct sutra_err *err)
{
	sqlite3_stmt *s;
	int rc;

	*usd = 0;
	*tokens = 0;
	state_lock(st);
	if (!(s = state_stmt(st, SQL_LLM_SPENT, err))) {
		state_unlock(st);
		return -1;
	}
	bind_text(s, 1, run_id);
	bind_text(s, 2, step_path);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*usd = sqlite3_column_double(s, 0);
		*tokens = sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	state_unlock(st);
	return rc == SQLITE_ROW ? 0 : state_fail(st, rc, "read llm spend", err);
}

int runlog_list(struct state *st, int limit, cJSON **out,
		struct sutra_err *err)
{
	cJSON *list = cJSON_CreateArray();
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	state_lock(st);
	if (!(s = state_stmt(st, SQL_RUNS_LIST, err))) {
		state_unlock(st);
		cJSON_Delete(list);
		return -1;
	}
	sqlite3_bind_int(s, 1, limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		cJSON *r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "id", (const char *)sqlite3_column_text(s, 0));
		cJSON_AddStringToObject(r, "chain", (const char *)sqlite3_column_text(s, 1));
		cJSON_AddStringToObject(r, "session", (const char *)sqlite3_column_text(s, 2));
		cJSON_AddStringToObject(r, "status", (const char *)sqlite3_column_text(s, 3));
		cJSON_AddNumberToObject(r, "started", sqlite3_column_double(s, 4));
		if (sqlite3_column_type(s, 5) != SQLITE_NULL)
			cJSON_AddNumberToObject(r, "duration_ms",
				(sqlite3_column_double(s, 5) -
				 sqlite3_column_double(s, 4)) * 1000);
		cJSON_AddItemToArray(list, r);
	}
	sqlite3_reset(s);
	state_unlock(st);
	if (rc != SQLITE_DONE) {
		cJSON_Delete(list);
		return state_fail(st, rc, "list runs", err);
	}
	*out = list;
	return 0;
}

static void add_llm_costs(struct state *st, const char *run_id, cJSON *steps,
			  cJSON *run)
{
	struct sutra_err ignore = {0};
	sqlite3_stmt *s = state_stmt(st, SQL_LLM_BY_STEP, &ignore);
	double usd = 0;
	long long tin = 0, tout = 0, calls = 0;

	if (!s)
		return;
	bind_text(s, 1, run_id);
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *step = (const char *)sqlite3_column_text(s, 0);
		cJSON *e;
		calls += sqlite3_column_int64(s, 1);
		tin += sqlite3_column_int64(s, 2);
		tout += sqlite3_column_int64(s, 3);
		usd += sqlite3_column_double(s, 4);
		cJSON_ArrayForEach(e, steps) {
			const char *p = cJSON_GetStringValue(
				cJSON_GetObjectItemCaseSensitive(e, "path"));
			if (!step || !p || strcmp(p, step))
				continue;
			cJSON_AddNumberToObject(e, "llm_calls", sqlite3_column_int64(s, 1));
			cJSON_AddNumberToObject(e, "tokens_in", sqlite3_column_int64(s, 2));
			cJSON_AddNumberToObject(e, "tokens_out", sqlite3_column_int64(s, 3));
			cJSON_AddNumberToObject(e, "cost_usd", sqlite3_column_double(s, 4));
		}
	}
	sqlite3_reset(s);
	cJSON_AddNumberToObject(run, "llm_calls", (double)calls);
	cJSON_AddNumberToObject(run, "tokens_in", (double)tin);
	cJSON_AddNumberToObject(run, "tokens_out", (double)tout);
	cJSON_AddNumberToObject(run, "cost_usd", usd);
}

int runlog_show(struct state *st, const char *run_id, cJSON **out,
		struct sutra_err *err)
{
	struct runlog *rl = runlog_alloc(st, RUNLOG_REPLAY);
	cJSON *run, *steps;
	sqlite3_stmt *s;
	int rc;

	*out = NULL;
	if (!rl)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	state_lock(st);
	if (load_info(rl, run_id, err) < 0 ||
	    !(s = state_stmt(st, SQL_STEPS_TIMELINE, err))) {
		state_unlock(st);
		runlog_free(rl);
		return -1;
	}
	run = cJSON_CreateObject();
	cJSON_AddStringToObject(run, "id", rl->info.id);
	cJSON_AddStringToObject(run, "chain", rl->info.chain);
	cJSON_AddStringToObject(run, "chain_path", rl->info.chain_path ? rl->info.chain_path : "");
	cJSON_AddStringToObject(run, "session", rl->info.session);
	cJSON_AddStringToObject(run, "status", rl->info.status);
	cJSON_AddNumberToObject(run, "started", rl->info.started);
	if (rl->info.ended)
		cJSON_AddNumberToObject(run, "duration_ms",
					(rl->info.ended - rl->info.started) * 1000);
	cJSON_AddItemToObject(run, "input", cJSON_Duplicate(rl->info.input, 1));
	if (rl->info.output)
		cJSON_AddItemToObject(run, "output", cJSON_Duplicate(rl->info.output, 1));
	if (rl->info.error)
		cJSON_AddStringToObject(run, "error", rl->info.error);
	steps = cJSON_AddArrayToObject(run, "steps");
	bind_text(s, 1, run_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "path", (const char *)sqlite3_column_text(s, 0));
		cJSON_AddNumberToObject(e, "attempt", sqlite3_column_int(s, 1));
		cJSON_AddStringToObject(e, "status", (const char *)sqlite3_column_text(s, 2));
		cJSON_AddNumberToObject(e, "duration_ms",
			(sqlite3_column_double(s, 4) - sqlite3_column_double(s, 3)) * 1000);
		if (sqlite3_column_type(s, 5) != SQLITE_NULL)
			cJSON_AddStringToObject(e, "error", (const char *)sqlite3_column_text(s, 5));
		cJSON_AddItemToArray(steps, e);
	}
	sqlite3_reset(s);
	add_llm_costs(st, run_id, steps, run);
	state_unlock(st);
	runlog_free(rl);
	if (rc != SQLITE_DONE) {
		cJSON_Delete(run);
		return state_fail(st, rc, "read run", err);
	}
	*out = run;
	return 0;
}

static cJSON *event_row(sqlite3_stmt *s)
{
	cJSON *e = cJSON_CreateObject(), *data;

	cJSON_AddNumberToObject(e, "ts", sqlite3_column_double(s, 0));
	if (sqlite3_column_type(s, 1) != SQLITE_NULL)
		cJSON_AddStringToObject(e, "step", (const char *)sqlite3_column_text(s, 1));
	cJSON_AddStringToObject(e, "event", (const char *)sqlite3_column_text(s, 2));
	if ((data = col_json(s, 3)))
		cJSON_AddItemToObject(e, "data", data);
	return e;
}

int runlog_events(struct state *st, const char *run_id, cJSON **out,
		  struct sutra_err *err)
{
	return state_rows_json(st, SQL_EVENTS_OF_RUN, run_id, event_row,
			       "read events", out, err);
}
