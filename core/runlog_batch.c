/* runlog_batch.c - batch mode's writer thread: the design is below; what
 * it shares with runlog.c is in runlog_impl.h. */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "runlog_impl.h"
#include "util.h"

/*
 * In batch mode a checkpoint with no memory writes and no journal entries
 * to commit with it is printed into a ring, and a writer thread inserts
 * it into the open batch, and commits the batch when it is due, while the
 * run goes on: the insert is two thirds of a trivial step's cost.  What
 * the synchronous path promises still holds:
 *  - Order: the writer takes the state lock before it takes a row, and
 *    whoever needs the batch whole - a synchronous checkpoint, a commit
 *    before an external effect, a durable journal entry, the run's end -
 *    takes the state lock and then writes what is still queued itself.
 *    Rows reach the database in the order they were queued, and a commit
 *    holds every row queued before it.
 *  - Reads: memory writes never wait in the ring (their checkpoint goes
 *    the synchronous way), so a step reads what the steps before it wrote.
 *  - Failure: a failed write rolls the batch back and fails the queue for
 *    good.  Every later checkpoint, commit and finish of the run fails
 *    with that error, as if the process had died at the last commit:
 *    nothing after the lost rows is committed without them, and `sutra
 *    resume` runs them again.
 *  - Cost: the thread starts only once BATCH_START_ROWS rows wait or a
 *    commit is due; a short run writes its rows at its end, as before.
 *  - The loss window: a batch is due after RUNLOG_BATCH_STEPS checkpoints
 *    or RUNLOG_BATCH_MS; it commits once the writer has written up to
 *    there, at most BATCH_RING rows later.
 * The lock order is the state lock, then q.mu.
 */

/* The writer is woken once this many rows wait (or a commit is due): a
 * run of slow steps pays one wake-up per that many checkpoints.  A run
 * that gets BATCH_RING rows ahead of the writer waits for it. */
enum { BATCH_WAKE_ROWS = 4, BATCH_RING = 512 };
/* Big rows: no more than this many bytes wait (a run of steps with large
 * outputs waits for the writer sooner), and a slot's buffer outlives its
 * row only up to SLOT_KEEP bytes. */
enum { BATCH_MAX_BYTES = 8 << 20, SLOT_KEEP = 4096 };
/* Rows the writer writes per turn of the state lock: fewer lock hand-offs
 * between the cores, while a reader of memory waits a few rows at most. */
enum { BATCH_TURN_ROWS = 16 };
/* The writer starts once this many rows wait (or a commit is due). */
enum { BATCH_START_ROWS = 32 };

/* STEP_ROWS rows in one statement when that many wait: a tenth less work
 * per row than a statement each. */
enum { STEP_ROWS = 8 };
static const char SQL_STEP_INSERT_ROWS[] = STEP_INSERT STEP_VALUES ","
	STEP_VALUES "," STEP_VALUES "," STEP_VALUES "," STEP_VALUES ","
	STEP_VALUES "," STEP_VALUES "," STEP_VALUES;

static const char *qtext(const struct qrow *r, size_t off)
{
	return off ? r->buf + off : NULL;
}

/* The slot of row number n (counted since the queue began). */
static struct qrow *slot_of(const struct batchq *q, uint64_t n)
{
	return &q->ring[n % BATCH_RING];
}

/* Inserts the n (1 or STEP_ROWS) queued rows from number first on. */
static int insert_rows(struct runlog *rl, uint64_t first, int n,
		       struct sutra_err *err)
{
	sqlite3_stmt *s = state_stmt(rl->st, n == 1 ? runlog_sql_step_insert
						   : SQL_STEP_INSERT_ROWS, err);

	if (!s)
		return -1;
	for (int j = 0; j < n; j++) {
		const struct qrow *r = slot_of(&rl->q, first + (uint64_t)j);
		runlog_bind_step(s, 10 * j, rl, qtext(r, r->path), r->attempt,
				 qtext(r, r->status), r->final,
				 qtext(r, r->error), r->started, r->ended);
		bind_text(s, 10 * j + 5, qtext(r, r->input));
		bind_text(s, 10 * j + 6, qtext(r, r->output));
	}
	return runlog_step_done(rl->st, s, "record checkpoint", err);
}

/* The rows are written: frees the buffers of big ones (not kept for the
 * slot's next use); their bytes. */
static size_t release_rows(struct batchq *q, uint64_t first, int n)
{
	size_t bytes = 0;

	for (int j = 0; j < n; j++) {
		struct qrow *r = slot_of(q, first + (uint64_t)j);
		bytes += r->len;
		if (r->size > SLOT_KEEP) {
			free(r->buf);
			r->buf = NULL;
			r->size = 0;
		}
	}
	return bytes;
}

/* Counts a checkpoint into the batch; whether the batch is due for its
 * commit (full or old).  The caller holds q->mu. */
static int count_in_locked(struct batchq *q)
{
	int64_t now = now_ns();

	if (q->batched++ == 0)
		q->first_ns = now;
	return q->batched >= RUNLOG_BATCH_STEPS ||
	       now - q->first_ns >= (int64_t)RUNLOG_BATCH_MS * 1000000;
}

int batchq_count_in(struct runlog *rl)
{
	pthread_mutex_lock(&rl->q.mu);
	int due = count_in_locked(&rl->q);
	pthread_mutex_unlock(&rl->q.mu);
	return due;
}

void batchq_committed(struct runlog *rl)
{
	pthread_mutex_lock(&rl->q.mu);
	rl->q.batched = 0;
	rl->q.commit_after = 0;
	pthread_mutex_unlock(&rl->q.mu);
}

/* The batch was rolled back: the queue fails for good with err.  The
 * caller holds the state lock. */
void batchq_fail(struct runlog *rl, const struct sutra_err *err)
{
	struct batchq *q = &rl->q;

	pthread_mutex_lock(&q->mu);
	if (!q->failed) {
		q->failed = 1;
		q->err = *err;
		if (!q->err.code)
			err_set(&q->err, SUTRA_ERUNTIME, "a checkpoint of the "
				"batch could not be written");
	}
	q->taken = q->pushed;
	q->bytes = 0;
	q->batched = 0;
	q->commit_after = 0;
	pthread_cond_broadcast(&q->room);
	pthread_mutex_unlock(&q->mu);
}

/*
 * Writes up to max queued rows, oldest first, into the batch (opened when
 * none is), and commits it when a commit became due at one of them.  The
 * caller holds the state lock, so no one else writes rows meanwhile and
 * the slot being written stays put.  Fails with the queue's error once it
 * has failed.
 */
int batchq_write(struct runlog *rl, int max, struct sutra_err *err)
{
	struct batchq *q = &rl->q;
	uint64_t first;
	size_t bytes;
	int n, commit;

	for (int i = 0; i < max; i += n) {
		pthread_mutex_lock(&q->mu);
		if (q->failed) {
			*err = q->err;
			pthread_mutex_unlock(&q->mu);
			return -1;
		}
		if (q->taken == q->pushed) {
			pthread_mutex_unlock(&q->mu);
			break;
		}
		first = q->taken;
		n = q->pushed - first >= STEP_ROWS && max - i >= STEP_ROWS
			    ? STEP_ROWS : 1;
		pthread_mutex_unlock(&q->mu);
		if (runlog_tx_open_locked(rl, err) < 0 ||
		    insert_rows(rl, first, n, err) < 0)
			return runlog_tx_end(rl, 0, err);
		bytes = release_rows(q, first, n);
		pthread_mutex_lock(&q->mu);
		q->taken += (uint64_t)n;
		q->bytes -= bytes;
		commit = q->commit_after && q->taken >= q->commit_after;
		if (q->blocked)
			pthread_cond_broadcast(&q->room);
		pthread_mutex_unlock(&q->mu);
		if (commit && runlog_tx_end(rl, 1, err) < 0)
			return -1;
	}
	return 0;
}

static void *batch_writer(void *arg)
{
	struct runlog *rl = arg;
	struct batchq *q = &rl->q;
	struct sutra_err ignore;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->stop && (q->taken == q->pushed || q->failed)) {
			q->waiting = 1;
			pthread_cond_wait(&q->wake, &q->mu);
			q->waiting = 0;
		}
		if (q->stop)
			break;
		pthread_mutex_unlock(&q->mu);
		/* A failure is kept in the queue, for the run to meet. */
		memset(&ignore, 0, sizeof(ignore));
		state_lock(rl->st);
		batchq_write(rl, BATCH_TURN_ROWS, &ignore);
		state_unlock(rl->st);
		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* Starts the writer (q->mu held); on failure the run writes its rows
 * itself.  Signals go to the run's own threads, never to the writer. */
static void batch_writer_start_locked(struct runlog *rl)
{
	sigset_t all, old;

	rl->q.started = 1;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rl->q.running = pthread_create(&rl->q.thread, NULL, batch_writer,
				       rl) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void batchq_init(struct batchq *q)
{
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->wake, NULL);
	pthread_cond_init(&q->room, NULL);
}

void batchq_destroy(struct batchq *q)
{
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->wake);
	pthread_cond_destroy(&q->room);
}

void batchq_stop(struct runlog *rl)
{
	struct batchq *q = &rl->q;

	pthread_mutex_lock(&q->mu);
	q->stop = 1;
	pthread_cond_signal(&q->wake);
	pthread_mutex_unlock(&q->mu);
	if (q->running)
		pthread_join(q->thread, NULL);
	q->running = 0;
	for (int i = 0; q->ring && i < BATCH_RING; i++)
		free(q->ring[i].buf);
	free(q->ring);
	q->ring = NULL;
}

/* Appends n bytes of text and a NUL to slot r at *len; their offset, or
 * -1 when out of memory. */
static long slot_put(struct qrow *r, size_t *len, const char *text,
		     size_t n)
{
	size_t at = *len;

	if (at + n + 1 > r->size) {
		size_t size = (at + n + 1) * 2;
		char *buf = realloc(r->buf, size);
		if (!buf)
			return -1;
		r->buf = buf;
		r->size = size;
	}
	memcpy(r->buf + at, text, n);
	r->buf[at + n] = '\0';
	*len = at + n + 1;
	return (long)at;
}

/* The same for a string (0: NULL) and for a JSON value's print, made in
 * place when it fits (cJSON_PrintPreallocated wants 5 bytes of slack). */
static long slot_str(struct qrow *r, size_t *len, const char *text)
{
	return text ? slot_put(r, len, text, strlen(text)) : 0;
}

static long slot_json(struct qrow *r, size_t *len, const cJSON *v)
{
	size_t at = *len;
	char *heap;
	long off;

	if (!v)
		return 0;
	if (r->size - at > 5 &&
	    cJSON_PrintPreallocated((cJSON *)v, r->buf + at,
				    (int)(r->size - at - 5), 0)) {
		*len = at + strlen(r->buf + at) + 1;
		return (long)at;
	}
	if (!(heap = cJSON_PrintUnformatted(v)))
		return -1;
	off = slot_str(r, len, heap);
	cJSON_free(heap);
	return off;
}

/* Prints a checkpoint into slot r.  Offset 0 stands for NULL, so the
 * buffer starts with a byte of its own. */
static int fill_slot(struct qrow *r, const char *path, int attempt,
		     const char *status, int final, const cJSON *input,
		     const cJSON *output, const char *error, double started)
{
	size_t len = 1;
	long o[5];

	if (!r->buf && !(r->buf = malloc(r->size = 512)))
		return -1;
	if ((o[0] = slot_str(r, &len, path)) < 0 ||
	    (o[1] = slot_str(r, &len, status)) < 0 ||
	    (o[2] = slot_str(r, &len, error)) < 0 ||
	    (o[3] = slot_json(r, &len, input)) < 0 ||
	    (o[4] = slot_json(r, &len, output)) < 0)
		return -1;
	r->path = (size_t)o[0];
	r->status = (size_t)o[1];
	r->error = (size_t)o[2];
	r->input = (size_t)o[3];
	r->output = (size_t)o[4];
	r->attempt = attempt;
	r->final = final;
	r->started = started;
	r->ended = now_unix();
	r->len = len;
	return 0;
}

/*
 * Queues a checkpoint for the writer, and asks it to commit when the
 * batch is due.  Without a writer (it could not start) the caller writes
 * and commits itself.
 */
int batchq_push(struct runlog *rl, const char *path, int attempt,
		const char *status, int final, const cJSON *input,
		const cJSON *output, const char *error, double started,
		struct sutra_err *err)
{
	struct batchq *q = &rl->q;
	struct qrow *r;
	int due, busy, alone, rc = 0;

	pthread_mutex_lock(&q->mu);
	if (!q->ring && !(q->ring = calloc(BATCH_RING, sizeof(*q->ring)))) {
		pthread_mutex_unlock(&q->mu);
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	}
	/* A full ring waits for the writer: the database is the bottleneck,
	 * and writing rows here would only take turns with it. */
	while (!q->failed && (q->pushed - q->taken == BATCH_RING ||
			      (q->bytes >= BATCH_MAX_BYTES && q->running))) {
		pthread_cond_signal(&q->wake);
		q->blocked++;
		pthread_cond_wait(&q->room, &q->mu);
		q->blocked--;
	}
	if (q->failed) {
		*err = q->err;
		pthread_mutex_unlock(&q->mu);
		return -1;
	}
	r = slot_of(q, q->pushed);
	if (fill_slot(r, path, attempt, status, final, input, output, error,
		      started) < 0) {
		pthread_mutex_unlock(&q->mu);
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	}
	q->bytes += r->len;
	q->pushed++;
	due = count_in_locked(q);
	/* Set once per batch: moved on with every row, it could stay ahead
	 * of a writer that never catches up, and the batch would not end. */
	if (due && !q->commit_after)
		q->commit_after = q->pushed;
	busy = due || q->bytes >= BATCH_MAX_BYTES;
	/* A short run never pays for the thread: what it queued is written
	 * at its end. */
	if (!q->started && (busy || q->pushed - q->taken >= BATCH_START_ROWS))
		batch_writer_start_locked(rl);
	alone = q->started && !q->running;
	if (q->waiting && (busy || q->pushed - q->taken >= BATCH_WAKE_ROWS))
		pthread_cond_signal(&q->wake);
	pthread_mutex_unlock(&q->mu);
	if (!alone)
		return 0;
	state_lock(rl->st);
	rc = batchq_write(rl, INT_MAX, err);
	state_unlock(rl->st);
	return rc;
}

