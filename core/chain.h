/*
 * chain.h - chains of agents defined in YAML (SPEC §3, sutra-chain(5)).
 *
 * chain_load parses a chain file (and the sub-chains it names), validates
 * all of it before anything runs, and reports every problem as
 * "FILE:LINE:COL: message".  The result is an immutable tree of steps that
 * chain_run (chain_run.c) executes and chain_graph (chain_graph.c) draws.
 */
#ifndef SUTRA_CHAIN_H
#define SUTRA_CHAIN_H

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "catalog.h"
#include "err.h"
#include "expr.h"

enum step_kind {
	STEP_AGENT,
	STEP_PARALLEL,
	STEP_LOOP,
	STEP_MAP,
	STEP_CHAIN,
	STEP_SWITCH,
	STEP_ASK,
};

struct step;
struct chain;

struct step_list {
	struct step **items;
	int n;
};

struct switch_case {
	struct expr *when;        /* NULL: the else branch */
	struct step_list steps;
	int line, col;
};

struct budget {
	double usd;               /* 0: unlimited */
	int64_t tokens;           /* 0: unlimited */
	int64_t wall_ms;          /* 0: unlimited */
};

struct step {
	char *id;
	enum step_kind kind;
	int line, col;
	struct step *parent;      /* enclosing compound step, or NULL */
	struct step *scope;       /* enclosing map step (its frame), or NULL */
	int slot;                 /* index of the result in its scope's frame */
	int n_body_slots;         /* map: results in each item's frame */
	int visible;              /* scratch for the loader's checks */

	struct expr *if_expr;     /* NULL: always runs */
	struct tmpl *with;        /* agent input / sub-chain inputs; may be NULL */
	int64_t timeout_ms;       /* 0: none */
	int retry_max;            /* retries after the first attempt */
	int64_t backoff_ms;       /* first retry's delay, doubled each time */
	int continue_on_error;    /* on_error: continue */
	struct budget budget;

	char *agent_name;         /* STEP_AGENT; STEP_MAP with an agent */
	struct agent *agent;      /* resolved at load */

	struct step_list steps;   /* parallel branches, loop/map body */
	int max_parallel;         /* parallel, map: 0 = the run's default */

	struct expr *until;       /* loop */
	struct tmpl *max;         /* loop: an integer or a template */
	struct tmpl *over;        /* map: the list */

	char *chain_path;         /* STEP_CHAIN, resolved against the parent */
	struct chain *sub;        /* loaded sub-chain */

	struct switch_case *cases;
	int n_cases;

	struct tmpl *question;    /* ask */
	cJSON *schema;            /* ask: schema of the answer */
};

struct chain_input {
	char *name;
	cJSON *spec;              /* {type, required, default, description} */
	int line, col;
};

struct chain {
	char *path;               /* as given */
	char *name;
	char *description;
	struct chain_input *inputs;
	int n_inputs;
	cJSON *inputs_schema;     /* the inputs as a fields schema */
	struct step_list steps;
	struct tmpl *output;      /* NULL: the last step's output */
	struct budget budget;
	int n_slots;              /* results in the top-level frame */
	int n_steps;              /* every step, nested ones included */
	struct step **all;        /* every step in document order */
	struct step **by_id;      /* the same, sorted by id (lookups) */
};

/* Problems found by validation, each "FILE:LINE:COL: message". */
struct chain_diag {
	char **msgs;
	int n;
};

/*
 * Loads and validates a chain file.  Agent names are resolved in cat.
 * Returns a new chain (free with chain_free), or -1: then diag holds every
 * problem (free with chain_diag_free) and err a summary (exit code 2, or 3
 * for an unreadable file).
 */
int chain_load(const char *path, const struct catalog *cat,
	       struct chain **out, struct chain_diag *diag,
	       struct sutra_err *err);
void chain_free(struct chain *c);
void chain_diag_free(struct chain_diag *d);

/* qsort comparison of "FILE:LINE:COL: ..." messages: by file, then line
 * and column. */
int chain_compare_diags(const void *a, const void *b);

/* The step with this id anywhere in the chain, or NULL. */
struct step *chain_find_step(const struct chain *c, const char *id);

/*
 * Builds the run's inputs: starts from given (an object, may be NULL),
 * applies each "-i k=v" in kv (converted by the declared type), applies
 * defaults, then checks required inputs and types.  Returns new JSON or
 * NULL with err set (SUTRA_EUSAGE).
 */
cJSON *chain_inputs(const struct chain *c, const cJSON *given,
		    char *const *kv, int n_kv, struct sutra_err *err);

const char *step_kind_name(enum step_kind kind);

/*
 * Writes the chain as a graph to out: format "dot" (Graphviz) or
 * "mermaid".  Parallel branches fan out and in, conditions label edges,
 * loops draw back edges.  Returns -1 for an unknown format.
 */
int chain_graph(const struct chain *c, const char *format, FILE *out,
		struct sutra_err *err);

/* ------------------------------------------------------------ running */

enum step_status {
	STATUS_PENDING = 0,   /* has not run */
	STATUS_OK,
	STATUS_FAILED,
	STATUS_SKIPPED,
	STATUS_TIMEOUT,
	STATUS_WAITING,
	STATUS_INTERRUPTED,
};

const char *step_status_name(int status);

/* What observers (progress display, logs) hear about. */
struct chain_event {
	const char *kind;         /* step.started, step.completed, ... */
	const char *path;         /* e.g. "fix#2/test", "each[3]/lint" */
	const struct step *step;
	int status;               /* enum step_status */
	int attempt;
	int64_t elapsed_ns;       /* of the attempt, for completions */
	const char *error;        /* for failures */
	int depth;                /* nesting: 0 for top-level steps */
};

struct chain_run_opts {
	const char *session;      /* "default" when NULL */
	const char *run_id;
	int max_parallel;         /* cap for parallel and map; 0: 8 */
	const atomic_int *cancel; /* set by SIGINT/SIGTERM; may be NULL */
	struct trace *trace;      /* may be NULL */
	struct runlog *runlog;    /* checkpoints, journal; NULL: none kept */
	void (*on_event)(void *ud, const struct chain_event *ev);
	void *ud;
};

struct runtime;
struct runlog;

/*
 * Runs a loaded chain with its inputs (see chain_inputs).  Returns 0 and
 * the chain's output (new; caller frees), or -1 with err naming the step
 * that failed: SUTRA_EFAILED/ETIMEOUT/EBUDGET for the chain's own
 * failures, SUTRA_EINTR when cancelled, SUTRA_EWAITING when an ask step
 * paused the run, SUTRA_ERUNTIME when a checkpoint could not be written.
 * With opts->runlog every step attempt is checkpointed there (and, in
 * resume mode, steps recorded as finished are not run again).
 */
int chain_run(struct runtime *rt, const struct chain *c, const cJSON *inputs,
	      const struct chain_run_opts *opts, cJSON **output,
	      struct sutra_err *err);

#endif
