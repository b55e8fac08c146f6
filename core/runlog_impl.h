/*
 * runlog_impl.h - what runlog.c (the run record, checkpoints, journal)
 * and runlog_batch.c (batch mode's writer thread) share: the runlog
 * itself, the writer's queue, and the few helpers both use.  Not an API:
 * nothing outside these two files includes it.
 */
#ifndef SUTRA_RUNLOG_IMPL_H
#define SUTRA_RUNLOG_IMPL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include "runlog.h"

/* A recorded effect. */
struct jentry {
	char *path;
	int attempt, seq;
	char *kind;
	cJSON *request;
	cJSON *result;
};

/* A slot of the batch writer's ring: one checkpoint, printed into the
 * slot's own buffer, which is kept for the slot's next row. */
struct qrow {
	char *buf;
	size_t size, len;
	size_t path, status, error, input, output;  /* offsets; 0: NULL */
	int attempt, final;
	double started, ended;
};

/* The batch writer's queue (batch mode; runlog_batch.c). */
struct batchq {
	pthread_mutex_t mu;             /* after the state lock, never before */
	pthread_cond_t wake;            /* the writer: rows wait */
	pthread_cond_t room;            /* the run: the ring has room */
	struct qrow *ring;              /* BATCH_RING slots */
	uint64_t pushed, taken;         /* rows queued, rows written, ever */
	uint64_t commit_after;          /* commit once taken reaches it (0) */
	size_t bytes;                   /* of the rows that wait */
	int batched;                    /* checkpoints since the last commit */
	int64_t first_ns;               /* when the first of them was made */
	pthread_t thread;
	int started, running, stop, waiting, blocked;
	int failed;                     /* a write failed: err, for good */
	struct sutra_err err;
};

struct runlog {
	struct state *st;
	int mode;
	int durability;
	struct runlog_info info;
	struct runlog_step *steps;      /* sorted by path */
	int n_steps;
	struct jentry *journal;         /* sorted by path, attempt, seq */
	int n_journal;
	pthread_mutex_t mu;             /* divergences */
	cJSON *divergences;
	int in_tx;                      /* a batch transaction is open */
	struct batchq q;                /* batch mode only */
};

/* The checkpoint insert: one row, and (STEP_VALUES repeated) several. */
#define STEP_INSERT \
	"INSERT OR REPLACE INTO steps (run, path, attempt, status, input, " \
	"output, error, started, ended, final) VALUES "
#define STEP_VALUES "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
extern const char runlog_sql_step_insert[];

static inline int runlog_batch_mode(const struct runlog *rl)
{
	return rl->durability == DURABILITY_BATCH;
}

/* Binds a string or NULL, SQLITE_STATIC: every string bound in runlog.c
 * and runlog_batch.c outlives the statement's run (see runlog.c). */
static inline void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

/* runlog.c: binding and running statements (runlog.c has the details). */
void runlog_bind_step(sqlite3_stmt *s, int at, const struct runlog *rl,
		      const char *path, int attempt, const char *status,
		      int final, const char *error, double started,
		      double ended);
int runlog_step_done(struct state *st, sqlite3_stmt *s, const char *what,
		     struct sutra_err *err);
/* runlog.c: the write transaction; the caller holds the state lock. */
int runlog_tx_open_locked(struct runlog *rl, struct sutra_err *err);
int runlog_tx_end(struct runlog *rl, int ok, struct sutra_err *err);

/* runlog_batch.c: the batch writer's queue. */
void batchq_init(struct batchq *q);
/* Stops the writer and frees what the queue holds (after a commit). */
void batchq_stop(struct runlog *rl);
void batchq_destroy(struct batchq *q);
/* Queues a checkpoint without memory writes or journal entries. */
int batchq_push(struct runlog *rl, const char *path, int attempt,
		const char *status, int final, const cJSON *input,
		const cJSON *output, const char *error, double started,
		struct sutra_err *err);
/* Writes up to max queued rows into the batch (state lock held). */
int batchq_write(struct runlog *rl, int max, struct sutra_err *err);
/* Counts a checkpoint into the batch: whether its commit is due. */
int batchq_count_in(struct runlog *rl);
/* The batch committed / was rolled back (state lock held). */
void batchq_committed(struct runlog *rl);
void batchq_fail(struct runlog *rl, const struct sutra_err *err);

#endif
