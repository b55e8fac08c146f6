/*
 * runlog.h - durable runs (SPEC §7): the run record, step checkpoints,
 * the journal of external effects, and events.
 *
 * Every step attempt of a run is recorded as a checkpoint (a delta: its
 * own input, output and status, never a snapshot of the whole run), in
 * the same transaction as the memory writes the attempt staged, so a run
 * killed at any instant resumes with no write lost or applied twice.
 * Every external effect inside an attempt (agent call, LLM call, HTTP
 * request, sandbox run, memory read) is journaled with its request and
 * result at its position in the attempt: resuming an interrupted attempt
 * replays the journal instead of paying again, and `sutra replay` re-runs
 * a whole run offline from it, reporting any divergence.
 *
 * Durability: "sync" commits every checkpoint before the next step runs;
 * "batch" groups checkpoints into one transaction per RUNLOG_BATCH_STEPS
 * steps or RUNLOG_BATCH_MS milliseconds, whichever comes first: a crash
 * loses at most that window (those steps re-run on resume; their memory
 * writes were never committed, so nothing is applied twice).  In batch
 * mode a thread of the runlog writes the checkpoints of steps without
 * memory writes while the run goes on (runlog_batch.c).
 */
#ifndef SUTRA_RUNLOG_H
#define SUTRA_RUNLOG_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "err.h"
#include "memory.h"
#include "state.h"

#define RUNLOG_BATCH_STEPS 256
#define RUNLOG_BATCH_MS 200

enum runlog_mode { RUNLOG_RECORD, RUNLOG_RESUME, RUNLOG_REPLAY };
enum runlog_durability { DURABILITY_SYNC, DURABILITY_BATCH };

/* A run's record. */
struct runlog_info {
	char *id;
	char *chain;
	char *chain_path;
	char *session;
	char *status;     /* running, ok, failed, waiting, interrupted */
	char *error;
	cJSON *input;
	cJSON *output;
	double started, ended;
	int pid;          /* of the process running it; 0 when none */
	int durability;
};

/* What earlier executions recorded for one step instance (path). */
struct runlog_step {
	char *path;
	int last_attempt;      /* highest attempt recorded */
	int final;             /* that attempt ended the step */
	char *status;          /* of that attempt */
	cJSON *output;         /* of that attempt; NULL when none */
	char *error;
};

struct runlog;

/* Parses "sync" / "batch"; -1 when neither. */
int runlog_durability_from_name(const char *name);

/*
 * Starts recording a new run: inserts its record (status running).
 * Returns a new runlog (free with runlog_free).
 */
int runlog_create(struct state *st, const char *run_id, const char *chain,
		  const char *chain_path, const char *session,
		  const cJSON *input, int durability, struct runlog **out,
		  struct sutra_err *err);

/*
 * Opens a recorded run to resume it (RUNLOG_RESUME: marks it running in
 * this process) or replay it (RUNLOG_REPLAY: writes nothing).  Loads its
 * checkpoints and journal.  Fails with SUTRA_ENOTFOUND for an unknown id,
 * and refuses to resume a run another live process is running.
 */
int runlog_open(struct state *st, const char *run_id, int mode,
		struct runlog **out, struct sutra_err *err);
void runlog_free(struct runlog *rl);

const struct runlog_info *runlog_info(const struct runlog *rl);
int runlog_mode(const struct runlog *rl);

/* The recorded state of a step instance, or NULL. Borrowed from rl. */
const struct runlog_step *runlog_step(const struct runlog *rl,
				      const char *path);

/* ---------------------------------------------------------- attempts */

/* The journal position of one step attempt. */
struct runlog_attempt;

struct runlog_attempt *runlog_attempt_new(struct runlog *rl, const char *path,
					  int attempt);
void runlog_attempt_free(struct runlog_attempt *a);
struct runlog *runlog_attempt_log(const struct runlog_attempt *a);

/*
 * Records an attempt's end: in one transaction, tx's staged memory writes
 * (tx may be NULL: a failed attempt's writes are dropped), the checkpoint,
 * the attempt's buffered journal entries and an event.  Commits now in
 * sync mode.  In replay mode it writes nothing and instead compares the
 * outcome with the recording, noting divergences.
 */
int runlog_checkpoint(struct runlog *rl, struct memtx *tx,
		      struct runlog_attempt *a, const char *path, int attempt,
		      const char *status, int final, const cJSON *input,
		      const cJSON *output, const char *error, double started,
		      struct sutra_err *err);

/*
 * An effect at the next position of attempt a.  Returns 1 and the
 * recorded result in *result (new) when the journal has it (resume of an
 * interrupted attempt, replay); 0 when the caller must perform the effect
 * and then call runlog_effect_end with *seq; -1 on error.
 */
int runlog_effect_begin(struct runlog_attempt *a, const char *kind,
			const cJSON *request, int *seq, cJSON **result,
			struct sutra_err *err);

/*
 * Journals an effect's result.  durable: write it now (an expensive
 * effect that must not be paid twice) rather than with the checkpoint (a
 * memory read).  Does nothing in replay mode.
 */
int runlog_effect_end(struct runlog_attempt *a, int seq, const char *kind,
		      const cJSON *request, const cJSON *result, int durable,
		      struct sutra_err *err);

/*
 * The attempt is about to wait on an external effect (an LLM call, a
 * request, a sandbox run): commits the open batch, if any, so that other
 * processes are not kept from writing while it waits.
 */
int runlog_attempt_idle(struct runlog_attempt *a, struct sutra_err *err);

/* Moves the attempt's next position (after a replayed nested call). */
void runlog_attempt_seek(struct runlog_attempt *a, int seq);
int runlog_attempt_seq(const struct runlog_attempt *a);

/* ------------------------------------------------------------ the run */

/* Records the run's end (status ok, failed, waiting, interrupted) and
 * commits what a batch holds.  Replay mode: nothing is written. */
int runlog_finish(struct runlog *rl, const char *status, const cJSON *output,
		  const char *error, struct sutra_err *err);

/* Notes a divergence found by replay (thread-safe). */
void runlog_diverge(struct runlog *rl, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The divergences noted so far: a new JSON array. */
cJSON *runlog_divergences(struct runlog *rl);

/*
 * Answers the ask step waiting at path: checks nothing (the caller
 * validated the answer) and records it as the step's final checkpoint.
 */
int runlog_answer(struct state *st, const char *run_id, const char *path,
		  const cJSON *answer, struct sutra_err *err);
/*
 * Where a waiting run waits: returns 1 with the step's path (new string)
 * and its recorded input {question, schema} (new JSON), 0 when it waits
 * nowhere, -1 on error.
 */
int runlog_waiting(struct state *st, const char *run_id, char **path,
		   cJSON **input, struct sutra_err *err);

/* The id of the most recently started run (new string), or NULL. */
char *runlog_last_id(struct state *st, struct sutra_err *err);

/*
 * What a run (step_path NULL), or a step and the steps inside it, spent
 * on LLM calls so far (llm_calls).
 */
int runlog_llm_spent(struct state *st, const char *run_id,
		     const char *step_path, double *usd, int64_t *tokens,
		     struct sutra_err *err);

/* Listings for `sutra runs`: new JSON (caller frees). */
int runlog_list(struct state *st, int limit, cJSON **out,
		struct sutra_err *err);
int runlog_show(struct state *st, const char *run_id, cJSON **out,
		struct sutra_err *err);
int runlog_events(struct state *st, const char *run_id, cJSON **out,
		  struct sutra_err *err);

#endif
