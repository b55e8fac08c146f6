/*
 * chain_run.c - executing chains (see chain.h).
 *
 * A run walks the step tree with a cursor: the frame that holds step
 * results (one for the chain, one per map item), the current loop
 * iteration, the deadline inherited from enclosing steps, and the path
 * prefix that names step instances ("fix#2/test", "each[3]/lint").
 * Sequential lists are walked iteratively, so a 10,000-step chain uses
 * no more stack than a 10-step one; parallel branches and map items run
 * on the pool.  Each result slot is written by exactly one thread, and
 * read only by steps that run after it (validation guarantees it).
 */
#include "chain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "log.h"
#include "pool.h"
#include "runlog.h"
#include "runtime.h"
#include "schema.h"
#include "trace.h"
#include "util.h"

enum { DEFAULT_MAX_PARALLEL = 8, POOL_MAX_THREADS = 256, PATH_MAX_LEN = 512 };

/* What an attempt returns besides 0 and -1. */
enum { ATTEMPT_SKIPPED = 1 };

struct result {
	int status;
	cJSON *output;
	char *error;
	int attempts;
};

struct frame {
	struct frame *parent;
	const struct step *scope;     /* the map step, or NULL for a chain */
	struct result *slots;
	int n_slots;
	const cJSON *item;            /* map item */
	int index;                    /* from 1; 0 for a chain frame */
};

/* One execution of a chain (the top one, or a sub-chain). */
struct exec {
	struct runtime *rt;
	const struct chain *chain;
	const cJSON *inputs;
	const struct chain_run_opts *opts;
	const char *session;
	struct pool *pool;
	int max_parallel;
	int depth;
	int64_t wall_deadline_ns;     /* the chain's budget.wall; 0: none */
	struct runlog *rl;            /* checkpoints and journal; may be NULL */
	atomic_int *fatal;            /* a checkpoint could not be written */
};

struct cursor {
	struct exec *x;
	struct frame *frame;
	int loop_iteration;
	int64_t deadline_ns;          /* from enclosing steps; 0: none */
	int64_t budget_deadline_ns;   /* the nearest step budget.wall */
	int64_t budget_wall_ms;
	struct agent_budget step_budget; /* the nearest step usd/tokens */
	char prefix[PATH_MAX_LEN];
};

static const char *const status_names[] = {
	[STATUS_PENDING] = "pending", [STATUS_OK] = "ok",
	[STATUS_FAILED] = "failed", [STATUS_SKIPPED] = "skipped",
	[STATUS_TIMEOUT] = "timeout", [STATUS_WAITING] = "waiting",
	[STATUS_INTERRUPTED] = "interrupted",
};

const char *step_status_name(int status)
{
	return status_names[status];
}

static int run_list(struct cursor *cur, const struct step_list *list,
		    struct sutra_err *err);

/* path = prefix + id, truncated to n - 1 bytes; snprintf costs a tenth of
 * a step here. */
static void join_path(char *path, size_t n, const char *prefix,
		      const char *id)
{
	size_t a = strnlen(prefix, n - 1);
	size_t b = strnlen(id, n - 1 - a);

	memcpy(path, prefix, a);
	memcpy(path + a, id, b);
	path[a + b] = '\0';
}

/* ------------------------------------------------------------ frames */

static int frame_init(struct frame *f, struct frame *parent,
		      const struct step *scope, int n_slots)
{
	memset(f, 0, sizeof(*f));
	f->parent = parent;
	f->scope = scope;
	f->n_slots = n_slots;
	f->slots = calloc((size_t)n_slots + 1, sizeof(*f->slots));
	return f->slots ? 0 : -1;
}

static void frame_done(struct frame *f)
{
	for (int i = 0; i < f->n_slots; i++) {
		cJSON_Delete(f->slots[i].output);
		free(f->slots[i].error);
	}
	free(f->slots);
	f->slots = NULL;
}

/* Replaces a slot's result; takes ownership of output. */
static void set_result(struct result *r, int status, cJSON *output,
		       const char *error, int attempts)
{
	cJSON_Delete(r->output);
	free(r->error);
	r->status = status;
	r->output = output;
	r->error = error ? strdup(error) : NULL;
	r->attempts = attempts;
}

static struct result *slot_of(const struct cursor *cur, const struct step *s)
{
	struct frame *f = cur->frame;

	while (f && f->scope != s->scope)
		f = f->parent;
	return f ? &f->slots[s->slot] : NULL;
}

/* ------------------------------------------------------- expressions */

static int lookup(const struct expr_scope *sc, const char *id,
		  struct expr_step *out)
{
	const struct cursor *cur = sc->ud;
	const struct step *s = chain_find_step(cur->x->chain, id);
	const struct result *r = s ? slot_of(cur, s) : NULL;

	if (!r || r->status == STATUS_PENDING)
		return -1;
	out->status = status_names[r->status];
	out->output = r->output;
	out->error = r->error;
	out->attempts = r->attempts;
	return 0;
}

static void make_scope(const struct cursor *cur, struct expr_scope *sc)
{
	const struct frame *f = cur->frame;

	while (f && !f->index)
		f = f->parent;
	memset(sc, 0, sizeof(*sc));
	sc->inputs = cur->x->inputs;
	sc->session = cur->x->session;
	sc->item = f ? f->item : NULL;
	sc->index = f ? f->index : 0;
	sc->loop_iteration = cur->loop_iteration;
	sc->lookup = lookup;
	sc->ud = (void *)cur;
}

static int eval_tmpl(const struct cursor *cur, const struct tmpl *t,
		     cJSON **out, struct sutra_err *err)
{
	struct expr_scope sc;

	make_scope(cur, &sc);
	return tmpl_eval(t, &sc, out, err);
}

static int test_expr(const struct cursor *cur, const struct expr *e,
		     struct sutra_err *err)
{
	struct expr_scope sc;

	make_scope(cur, &sc);
	return expr_test(e, &sc, err);
}

/* ------------------------------------------------------------ events */

static int cursor_depth(const struct cursor *cur)
{
	int depth = cur->x->depth;

	for (const char *p = cur->prefix; *p; p++)
		depth += *p == '/';
	return depth;
}

static void emit(const struct cursor *cur, const char *kind,
		 const struct step *s, const char *path, int status,
		 int attempt, int64_t elapsed_ns, const char *error)
{
	const struct chain_run_opts *o = cur->x->opts;

	if (log_enabled(LOG_INFO)) {
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "event", kind);
		cJSON_AddStringToObject(f, "path", path);
		cJSON_AddStringToObject(f, "kind", step_kind_name(s->kind));
		if (status)
			cJSON_AddStringToObject(f, "status", status_names[status]);
		cJSON_AddNumberToObject(f, "attempt", attempt);
		if (elapsed_ns)
			cJSON_AddNumberToObject(f, "ms", (double)elapsed_ns / 1e6);
		if (error)
			cJSON_AddStringToObject(f, "error", error);
		log_fields(LOG_INFO, kind, f);
		cJSON_Delete(f);
	}
	if (o->on_event) {
		/* Built only for an observer: this runs for every step. */
		struct chain_event ev = {
			.kind = kind, .path = path, .step = s, .status = status,
			.attempt = attempt, .elapsed_ns = elapsed_ns,
			.error = error, .depth = cursor_depth(cur),
		};
		o->on_event(o->ud, &ev);
	}
}

static void trace_attempt(const struct cursor *cur, const struct step *s,
			  const char *path, int64_t start, int status,
			  int attempt)
{
	struct trace *t = cur->x->opts->trace;
	cJSON *args;

	if (!t)
		return;
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "status", status_names[status]);
	cJSON_AddNumberToObject(args, "attempt", attempt);
	if (s->agent_name)
		cJSON_AddStringToObject(args, "agent", s->agent_name);
	trace_span(t, path, step_kind_name(s->kind), start, now_ns(), args);
	cJSON_Delete(args);
}

/* ------------------------------------------------------- stop checks */

static int cancelled(const struct exec *x)
{
	return x->opts->cancel && atomic_load(x->opts->cancel);
}

/* Fails when the run was interrupted or its wall budget is spent. */
static int check_stop(const struct cursor *cur, struct sutra_err *err)
{
	if (cancelled(cur->x))
		return err_set(err, SUTRA_EINTR, "interrupted");
	if (cur->x->wall_deadline_ns && now_ns() > cur->x->wall_deadline_ns)
		return err_set(err, SUTRA_EBUDGET,
			       "chain '%s' exceeded its wall budget of %lld ms",
			       cur->x->chain->name,
			       (long long)cur->x->chain->budget.wall_ms);
	return 0;
}

static int64_t min_deadline(int64_t a, int64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

/* The deadline for an attempt of s starting now. */
static int64_t attempt_deadline(const struct cursor *cur, const struct step *s)
{
	int64_t d = min_deadline(cur->deadline_ns, cur->x->wall_deadline_ns);

	if (s->timeout_ms)
		d = min_deadline(d, now_ns() + s->timeout_ms * 1000000);
	return d;
}

/* Sleeps for a retry's backoff; returns -1 if cancelled meanwhile. */
static int backoff_sleep(const struct cursor *cur, const struct step *s,
			 int attempt)
{
	int64_t base = s->backoff_ms << (attempt - 1 < 20 ? attempt - 1 : 20);
	/* Full jitter over the upper half: spreads retries of parallel
	 * branches apart while keeping the exponential growth. */
	int64_t ms = base / 2 + (base > 1 ? rand() % (base / 2 + 1) : 0);
	int64_t until = now_ns() + ms * 1000000;

	while (now_ns() < until) {
		if (cancelled(cur->x))
			return -1;
		struct timespec ts = {0, 10 * 1000 * 1000};
		int64_t left = until - now_ns();
		if (left < ts.tv_nsec)
			ts.tv_nsec = left > 0 ? left : 0;
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* --------------------------------------------------------- agent steps */

static int status_of(const struct cursor *cur, const struct sutra_err *e);
static int retryable(const struct cursor *cur, const struct sutra_err *e);

/*
 * Inside a chain, an input that breaks an agent's schema is the step's
 * failure (exit 1), and running out of a wall budget is that budget's
 * error, not a timeout to retry.
 */
static void blame_budget(const struct cursor *cur, struct sutra_err *err)
{
	const struct exec *x = cur->x;
	int64_t now = now_ns();

	if (err->code == SUTRA_EUSAGE)
		err->code = SUTRA_EFAILED;
	if (err->code != SUTRA_ETIMEOUT && err->code != SUTRA_ECANCELED)
		return;
	if (x->wall_deadline_ns && now >= x->wall_deadline_ns) {
		err_clear(err);
		err_set(err, SUTRA_EBUDGET,
			"chain '%s' exceeded its wall budget of %lld ms",
			x->chain->name, (long long)x->chain->budget.wall_ms);
	} else if (cur->budget_deadline_ns && now >= cur->budget_deadline_ns) {
		err_clear(err);
		err_set(err, SUTRA_EBUDGET, "exceeded its wall budget of %lld ms",
			(long long)cur->budget_wall_ms);
	}
}

static int replaying(const struct exec *x)
{
	return x->rl && runlog_mode(x->rl) == RUNLOG_REPLAY;
}

/* Records an attempt; a failure to write it stops the whole run. */
static int checkpoint(const struct cursor *cur, struct memtx *tx,
		      struct runlog_attempt *j, const char *path, int attempt,
		      int status, int final, const cJSON *input,
		      const cJSON *output, const struct sutra_err *e,
		      int64_t started_ns, struct sutra_err *err)
{
	struct exec *x = cur->x;
	double started = now_unix() - (double)(now_ns() - started_ns) / 1e9;

	if (!x->rl)
		return tx && memtx_commit(tx, err) < 0 ? -1 : 0;
	if (runlog_checkpoint(x->rl, tx, j, path, attempt, status_names[status],
			      final, input, output, e ? e->msg : NULL, started,
			      err) == 0)
		return 0;
	atomic_store(x->fatal, 1);
	return -1;
}

/*
 * One attempt of agent a on the template with (NULL: {}): its memory
 * writes and its checkpoint commit together when it succeeds; a failed
 * attempt is recorded (final when no retry follows) and its writes are
 * dropped.  An interrupted attempt records nothing: resume runs it again,
 * replaying what its journal holds.
 */
static int agent_attempt(const struct cursor *cur, const struct step *s,
			 struct agent *a, const struct tmpl *with,
			 const char *path, int attempt, int last,
			 cJSON **out, struct sutra_err *err)
{
	struct exec *x = cur->x;
	cJSON *input = NULL;
	struct agent_ctx ctx = {
		.rt = x->rt, .session = x->session, .run_id = x->opts->run_id,
		.step_id = path, .attempt = attempt,
		.deadline_ns = attempt_deadline(cur, s), .cancel = x->opts->cancel,
		.run_budget = {x->chain->budget.usd, x->chain->budget.tokens, NULL},
		.step_budget = cur->step_budget,
	};
	struct log_scope scope = {.run = x->opts->run_id, .step = path};
	int64_t t0 = now_ns();
	int rc, status;

	*out = NULL;
	if (with ? eval_tmpl(cur, with, &input, err) < 0
		 : !(input = cJSON_CreateObject()))
		return err->code ? -1 : err_set(err, SUTRA_ENOMEM, "out of memory");
	ctx.mem = memtx_new(x->session, runtime_state_opener, x->rt);
	ctx.journal = x->rl ? runlog_attempt_new(x->rl, path, attempt) : NULL;
	if (!ctx.mem || (x->rl && !ctx.journal)) {
		rc = err_set(err, SUTRA_ENOMEM, "out of memory");
		goto out;
	}
	scope = log_scope_swap(scope);
	rc = agent_invoke(a, input, &ctx, out, err);
	log_scope_swap(scope);
	if (rc < 0)
		blame_budget(cur, err);
	status = rc == 0 ? STATUS_OK : status_of(cur, err);
	trace_attempt(cur, s, path, t0, status, attempt);
	if (status == STATUS_INTERRUPTED)
		goto out;
	int final = rc == 0 || attempt >= last || !retryable(cur, err);
	struct sutra_err cerr = {0};
	if (checkpoint(cur, rc == 0 ? ctx.mem : NULL, ctx.journal, path, attempt,
		       status, final, input, *out, rc == 0 ? NULL : err, t0,
		       &cerr) < 0) {
		cJSON_Delete(*out);
		*out = NULL;
		*err = cerr;
		rc = -1;
	}
out:
	runlog_attempt_free(ctx.journal);
	memtx_free(ctx.mem);
	cJSON_Delete(input);
	return rc;
}

/*
 * Runs agent a for a step (or a map item) with s's retry policy.  On
 * resume a step whose final attempt was recorded is not run again: its
 * recorded output (or, under on_error: continue, its failure) is reused,
 * and attempts continue their numbering, so a killed run gets no extra
 * retries and an interrupted attempt finds its journal.
 */
static int run_agent(const struct cursor *cur, const struct step *s,
		     struct agent *a, const struct tmpl *with,
		     const char *path, cJSON **out, int *attempts,
		     struct sutra_err *err)
{
	struct exec *x = cur->x;
	const struct runlog_step *rs = x->rl && !replaying(x)
					       ? runlog_step(x->rl, path) : NULL;
	int first = 1, last;

	if (rs && rs->final && strcmp(rs->status, "ok") == 0) {
		*attempts = rs->last_attempt;
		*out = rs->output ? cJSON_Duplicate(rs->output, 1)
				  : cJSON_CreateNull();
		emit(cur, "step.reused", s, path, STATUS_OK, *attempts, 0, NULL);
		return 0;
	}
	if (rs && rs->final && s->continue_on_error) {
		*attempts = rs->last_attempt;
		return err_set(err, strcmp(rs->status, "timeout") ? SUTRA_EFAILED
								  : SUTRA_ETIMEOUT,
			       "%s", rs->error ? rs->error : "failed");
	}
	if (rs)
		first = rs->last_attempt + 1;
	/* A recorded final failure (the run failed there) gets a fresh set
	 * of attempts; an unfinished retry sequence continues. */
	last = (rs && !rs->final ? 1 : first) + s->retry_max;
	for (int attempt = first;; attempt++) {
		*attempts = attempt;
		emit(cur, "step.started", s, path, 0, attempt, 0, NULL);
		int64_t t0 = now_ns();
		if (agent_attempt(cur, s, a, with, path, attempt, last, out, err) == 0)
			return 0;
		if (attempt >= last || !retryable(cur, err) ||
		    (!replaying(x) && backoff_sleep(cur, s, attempt) < 0))
			return -1;
		emit(cur, "step.retrying", s, path, status_of(cur, err), attempt,
		     now_ns() - t0, err->msg);
		err_clear(err);
	}
}

/*
 * An ask step: reuses a recorded answer, or records the question, marks
 * the run waiting and stops it (SUTRA_EWAITING) until `sutra resume
 * --answer` records the answer.
 */
static int run_ask(const struct cursor *cur, const struct step *s,
		   const char *path, cJSON **out, struct sutra_err *err)
{
	struct exec *x = cur->x;
	const struct runlog_step *rs = x->rl ? runlog_step(x->rl, path) : NULL;
	cJSON *question = NULL, *input;
	int rc;

	if (!x->rl)
		return err_set(err, SUTRA_EFAILED,
			       "ask needs a recorded run (a state database)");
	if (rs && rs->final && strcmp(rs->status, "ok") == 0) {
		*out = rs->output ? cJSON_Duplicate(rs->output, 1)
				  : cJSON_CreateNull();
		return 0;
	}
	if (replaying(x))
		return err_set(err, SUTRA_EFAILED, "no recorded answer to replay");
	if (eval_tmpl(cur, s->question, &question, err) < 0)
		return -1;
	input = cJSON_CreateObject();
	cJSON_AddItemToObject(input, "question", question);
	if (s->schema)
		cJSON_AddItemToObject(input, "schema", cJSON_Duplicate(s->schema, 1));
	struct sutra_err cerr = {0};
	rc = checkpoint(cur, NULL, NULL, path, rs ? rs->last_attempt : 1,
			STATUS_WAITING, 0, input, NULL, NULL, now_ns(), &cerr);
	cJSON_Delete(input);
	if (rc < 0) {
		*err = cerr;
		return -1;
	}
	return err_set(err, SUTRA_EWAITING, "waiting for an answer");
}

/* ------------------------------------------------------ compound steps */

static cJSON *dup_output(const struct result *r)
{
	return r && r->output ? cJSON_Duplicate(r->output, 1) : cJSON_CreateNull();
}

/* The output of a list: its last step's. */
static cJSON *list_output(const struct cursor *cur, const struct step_list *l)
{
	if (l->n == 0)
		return cJSON_CreateNull();
	return dup_output(slot_of(cur, l->items[l->n - 1]));
}

static void child_cursor(struct cursor *child, const struct cursor *cur,
			 int64_t deadline, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void child_cursor(struct cursor *child, const struct cursor *cur,
			 int64_t deadline, const char *fmt, ...)
{
	size_t n = strlen(cur->prefix);
	va_list ap;

	*child = *cur;
	child->deadline_ns = deadline;
	va_start(ap, fmt);
	vsnprintf(child->prefix + n, sizeof(child->prefix) - n, fmt, ap);
	va_end(ap);
}

struct branches {
	const struct cursor *cur;
	const struct step *s;
	int64_t deadline;
	int *rcs;
	struct sutra_err *errs;
};

static int run_step(struct cursor *cur, const struct step *s,
		    struct sutra_err *err);

static void run_branch(void *ud, int i)
{
	struct branches *b = ud;
	struct cursor c = *b->cur;

	c.deadline_ns = b->deadline;
	b->rcs[i] = run_step(&c, b->s->steps.items[i], &b->errs[i]);
}

static int width_of(const struct cursor *cur, const struct step *s)
{
	int w = s->max_parallel ? s->max_parallel : cur->x->max_parallel;

	return w < cur->x->max_parallel ? w : cur->x->max_parallel;
}

static int first_failure(int n, const int *rcs, const struct sutra_err *errs,
			 struct sutra_err *err)
{
	for (int i = 0; i < n; i++)
		if (rcs[i] < 0) {
			*err = errs[i];
			return -1;
		}
	return 0;
}

static int run_parallel(const struct cursor *cur, const struct step *s,
			int64_t deadline, cJSON **out, struct sutra_err *err)
{
	int n = s->steps.n;
	struct branches b = {
		.cur = cur, .s = s, .deadline = deadline,
		.rcs = calloc((size_t)n, sizeof(int)),
		.errs = calloc((size_t)n, sizeof(struct sutra_err)),
	};
	int rc = -1;

	if (!b.rcs || !b.errs) {
		err_set(err, SUTRA_ENOMEM, "out of memory");
		goto out;
	}
	pool_run(cur->x->pool, n, width_of(cur, s), run_branch, &b);
	if ((rc = first_failure(n, b.rcs, b.errs, err)) < 0)
		goto out;
	*out = cJSON_CreateArray();
	for (int i = 0; *out && i < n; i++)
		cJSON_AddItemToArray(*out, dup_output(slot_of(cur, s->steps.items[i])));
	rc = *out ? 0 : err_set(err, SUTRA_ENOMEM, "out of memory");
out:
	free(b.rcs);
	free(b.errs);
	return rc;
}

static int loop_max(const struct cursor *cur, const struct step *s, int *max,
		    struct sutra_err *err)
{
	cJSON *v = NULL;

	if (eval_tmpl(cur, s->max, &v, err) < 0)
		return -1;
	int ok = cJSON_IsNumber(v) && v->valuedouble >= 0 &&
		 v->valuedouble <= 1e9 && v->valuedouble == (int)v->valuedouble;
	*max = ok ? (int)v->valuedouble : 0;
	cJSON_Delete(v);
	return ok ? 0 : err_set(err, SUTRA_EFAILED,
				"loop max must be a non-negative integer");
}

static int run_loop(const struct cursor *cur, const struct step *s,
		    int64_t deadline, cJSON **out, struct sutra_err *err)
{
	struct cursor c;
	int max;

	if (loop_max(cur, s, &max, err) < 0)
		return -1;
	for (int iter = 1; iter <= max; iter++) {
		child_cursor(&c, cur, deadline, "%s#%d/", s->id, iter);
		c.loop_iteration = iter;
		if (run_list(&c, &s->steps, err) < 0)
			return -1;
		int done = s->until ? test_expr(&c, s->until, err) : 0;
		if (done < 0)
			return -1;
		if (done || (!s->until && iter == max)) {
			*out = list_output(&c, &s->steps);
			return 0;
		}
	}
	if (!s->until) {
		*out = cJSON_CreateNull();
		return 0;
	}
	return err_set(err, SUTRA_EFAILED,
		       "loop reached max %d iteration%s without 'until' holding",
		       max, max == 1 ? "" : "s");
}

struct items {
	const struct cursor *cur;
	const struct step *s;
	int64_t deadline;
	struct frame *frames;
	cJSON **outputs;
	int *rcs;
	struct sutra_err *errs;
};

static void run_item(void *ud, int i)
{
	struct items *it = ud;
	const struct step *s = it->s;
	struct cursor c;
	int attempts = 0;

	child_cursor(&c, it->cur, it->deadline, "%s[%d]/", s->id, i + 1);
	c.frame = &it->frames[i];
	if (s->agent) {
		char path[PATH_MAX_LEN];
		snprintf(path, sizeof(path), "%s%s[%d]", it->cur->prefix, s->id,
			 i + 1);
		it->rcs[i] = run_agent(&c, s, s->agent, s->with, path,
				       &it->outputs[i], &attempts, &it->errs[i]);
	} else {
		it->rcs[i] = run_list(&c, &s->steps, &it->errs[i]);
		if (it->rcs[i] == 0)
			it->outputs[i] = list_output(&c, &s->steps);
	}
}

static int run_map(const struct cursor *cur, const struct step *s,
		   int64_t deadline, cJSON **out, struct sutra_err *err)
{
	cJSON *list = NULL;
	struct items it = {.cur = cur, .s = s, .deadline = deadline};
	int n, rc = -1;

	if (eval_tmpl(cur, s->over, &list, err) < 0)
		return -1;
	if (!cJSON_IsArray(list)) {
		cJSON_Delete(list);
		return err_set(err, SUTRA_EFAILED, "map needs a list, got %s",
			       cJSON_IsObject(list) ? "an object" : "a scalar");
	}
	n = cJSON_GetArraySize(list);
	it.frames = calloc((size_t)n + 1, sizeof(*it.frames));
	it.outputs = calloc((size_t)n + 1, sizeof(*it.outputs));
	it.rcs = calloc((size_t)n + 1, sizeof(*it.rcs));
	it.errs = calloc((size_t)n + 1, sizeof(*it.errs));
	if (!it.frames || !it.outputs || !it.rcs || !it.errs)
		goto nomem;
	const cJSON *item = list->child;
	for (int i = 0; i < n; i++, item = item->next) {
		if (frame_init(&it.frames[i], cur->frame, s, s->n_body_slots) < 0)
			goto nomem;
		it.frames[i].item = item;
		it.frames[i].index = i + 1;
	}
	pool_run(cur->x->pool, n, width_of(cur, s), run_item, &it);
	if ((rc = first_failure(n, it.rcs, it.errs, err)) < 0)
		goto out;
	if (!(*out = cJSON_CreateArray()))
		goto nomem;
	for (int i = 0; i < n; i++) {
		cJSON_AddItemToArray(*out, it.outputs[i]);
		it.outputs[i] = NULL;
	}
	rc = 0;
	goto out;
nomem:
	rc = err_set(err, SUTRA_ENOMEM, "out of memory");
out:
	for (int i = 0; it.frames && i < n; i++) {
		frame_done(&it.frames[i]);
		if (it.outputs)
			cJSON_Delete(it.outputs[i]);
	}
	free(it.frames);
	free(it.outputs);
	free(it.rcs);
	free(it.errs);
	cJSON_Delete(list);
	return rc;
}

static int run_switch(const struct cursor *cur, const struct step *s,
		      int64_t deadline, cJSON **out, struct sutra_err *err)
{
	struct cursor c;

	child_cursor(&c, cur, deadline, "%s", "");
	for (int i = 0; i < s->n_cases; i++) {
		const struct switch_case *sc = &s->cases[i];
		int taken = sc->when ? test_expr(cur, sc->when, err) : 1;
		if (taken < 0)
			return -1;
		if (!taken)
			continue;
		if (run_list(&c, &sc->steps, err) < 0)
			return -1;
		*out = list_output(&c, &sc->steps);
		return 0;
	}
	return ATTEMPT_SKIPPED;
}

static int run_exec(struct exec *x, const char *prefix, int64_t deadline,
		    cJSON **out, struct sutra_err *err);

static int run_subchain(const struct cursor *cur, const struct step *s,
			int64_t deadline, cJSON **out, struct sutra_err *err)
{
	cJSON *with = NULL, *inputs;
	char prefix[PATH_MAX_LEN];
	struct exec sub = *cur->x;
	int rc;

	if (s->with && eval_tmpl(cur, s->with, &with, err) < 0)
		return -1;
	inputs = chain_inputs(s->sub, with, NULL, 0, err);
	cJSON_Delete(with);
	if (!inputs) {
		err->code = SUTRA_EFAILED;
		return -1;
	}
	sub.chain = s->sub;
	sub.inputs = inputs;
	sub.depth = cursor_depth(cur) + 1;
	if (s->sub->budget.wall_ms)
		sub.wall_deadline_ns = min_deadline(
			sub.wall_deadline_ns, now_ns() + s->sub->budget.wall_ms * 1000000);
	snprintf(prefix, sizeof(prefix), "%s%s/", cur->prefix, s->id);
	rc = run_exec(&sub, prefix, deadline, out, err);
	cJSON_Delete(inputs);
	return rc;
}

/* One attempt of a compound step (agent and ask steps have their own
 * attempt loops: run_agent, run_ask). */
static int run_compound(const struct cursor *cur, const struct step *s,
			cJSON **out, struct sutra_err *err)
{
	int64_t deadline = attempt_deadline(cur, s);

	switch (s->kind) {
	case STEP_PARALLEL:
		return run_parallel(cur, s, deadline, out, err);
	case STEP_LOOP:
		return run_loop(cur, s, deadline, out, err);
	case STEP_MAP:
		return run_map(cur, s, deadline, out, err);
	case STEP_CHAIN:
		return run_subchain(cur, s, deadline, out, err);
	case STEP_SWITCH:
		return run_switch(cur, s, deadline, out, err);
	case STEP_AGENT:
	case STEP_ASK:
		break;
	}
	return err_set(err, SUTRA_EFAILED, "step '%s' is not a compound step",
		       s->id);
}

/* ----------------------------------------------------------- attempts */

static int status_of(const struct cursor *cur, const struct sutra_err *e)
{
	if (e->code == SUTRA_EWAITING)
		return STATUS_WAITING;
	if (e->code == SUTRA_EINTR || cancelled(cur->x))
		return STATUS_INTERRUPTED;
	return e->code == SUTRA_ETIMEOUT ? STATUS_TIMEOUT : STATUS_FAILED;
}

/* Whether a failed attempt may be retried. */
static int retryable(const struct cursor *cur, const struct sutra_err *e)
{
	return e->code != SUTRA_EINTR && e->code != SUTRA_EBUDGET &&
	       e->code != SUTRA_EUSAGE && e->code != SUTRA_EWAITING &&
	       !cancelled(cur->x) && !atomic_load(cur->x->fatal);
}

/* Adds "step 'PATH': " unless a nested step already named itself. */
static void name_step(struct sutra_err *err, const char *path)
{
	if (strncmp(err->msg, "step '", 6) != 0)
		err_prefix(err, "step '%s'", path);
}

static int finish_failure(struct cursor *cur, const struct step *s,
			  const char *path, struct result *r, int attempts,
			  struct sutra_err *e, struct sutra_err *err)
{
	int status = status_of(cur, e);

	if (status == STATUS_INTERRUPTED && e->code != SUTRA_EINTR) {
		err_clear(e);
		err_set(e, SUTRA_EINTR, "interrupted");
	}
	name_step(e, path);
	set_result(r, status, NULL, e->msg, attempts);
	emit(cur, status == STATUS_TIMEOUT ? "step.timeout"
		  : status == STATUS_WAITING ? "step.waiting" : "step.failed",
	     s, path, status, attempts, 0, e->msg);
	if (s->continue_on_error && status != STATUS_INTERRUPTED &&
	    status != STATUS_WAITING && e->code != SUTRA_EBUDGET &&
	    !atomic_load(cur->x->fatal))
		return 0;
	*err = *e;
	return -1;
}

static int run_step(struct cursor *cur, const struct step *s,
		    struct sutra_err *err)
{
	struct result *r = slot_of(cur, s);
	char path[PATH_MAX_LEN];
	struct sutra_err e = {0};
	int attempt, rc;

	join_path(path, sizeof(path), cur->prefix, s->id);
	if (check_stop(cur, &e) < 0)
		return finish_failure(cur, s, path, r, 0, &e, err);
	struct cursor budgeted;
	if (s->budget.usd || s->budget.tokens) {
		budgeted = *cur;
		budgeted.step_budget = (struct agent_budget){
			s->budget.usd, s->budget.tokens, path};
		cur = &budgeted;
	}
	if (s->budget.wall_ms) {
		/* A step's wall budget covers all its attempts and children. */
		if (cur != &budgeted)
			budgeted = *cur;
		budgeted.budget_deadline_ns = now_ns() + s->budget.wall_ms * 1000000;
		budgeted.budget_wall_ms = s->budget.wall_ms;
		budgeted.deadline_ns = min_deadline(cur->deadline_ns,
						    budgeted.budget_deadline_ns);
		cur = &budgeted;
	}
	if (s->if_expr) {
		rc = test_expr(cur, s->if_expr, &e);
		if (rc < 0)
			return finish_failure(cur, s, path, r, 0, &e, err);
		if (rc == 0) {
			set_result(r, STATUS_SKIPPED, NULL, NULL, 0);
			emit(cur, "step.skipped", s, path, STATUS_SKIPPED, 0, 0, NULL);
			return 0;
		}
	}
	if (s->kind == STEP_AGENT || s->kind == STEP_ASK) {
		cJSON *out = NULL;
		int64_t t0 = now_ns();
		attempt = 1;
		rc = s->kind == STEP_AGENT
			     ? run_agent(cur, s, s->agent, s->with, path, &out,
					 &attempt, &e)
			     : run_ask(cur, s, path, &out, &e);
		if (rc < 0)
			return finish_failure(cur, s, path, r, attempt, &e, err);
		set_result(r, STATUS_OK, out, NULL, attempt);
		emit(cur, "step.completed", s, path, STATUS_OK, attempt,
		     now_ns() - t0, NULL);
		return 0;
	}
	/* Map items retry one by one, not the whole map. */
	int retry_max = s->kind == STEP_MAP && s->agent ? 0 : s->retry_max;
	for (attempt = 1;; attempt++) {
		cJSON *out = NULL;
		int64_t t0 = now_ns();
		err_clear(&e);
		emit(cur, "step.started", s, path, 0, attempt, 0, NULL);
		rc = run_compound(cur, s, &out, &e);
		int status = rc == 0 ? STATUS_OK
			     : rc == ATTEMPT_SKIPPED ? STATUS_SKIPPED
						     : status_of(cur, &e);
		if (rc >= 0) {
			set_result(r, status, rc == 0 ? out : NULL, NULL, attempt);
			emit(cur, rc == 0 ? "step.completed" : "step.skipped", s,
			     path, status, attempt, now_ns() - t0, NULL);
			return 0;
		}
		if (attempt > retry_max || !retryable(cur, &e) ||
		    (!replaying(cur->x) && backoff_sleep(cur, s, attempt) < 0))
			break;
		emit(cur, "step.retrying", s, path, status, attempt,
		     now_ns() - t0, e.msg);
	}
	return finish_failure(cur, s, path, r, attempt, &e, err);
}

static int run_list(struct cursor *cur, const struct step_list *list,
		    struct sutra_err *err)
{
	for (int i = 0; i < list->n; i++)
		if (run_step(cur, list->items[i], err) < 0)
			return -1;
	return 0;
}

/* Runs x's chain in a fresh frame and evaluates its output. */
static int run_exec(struct exec *x, const char *prefix, int64_t deadline,
		    cJSON **out, struct sutra_err *err)
{
	struct frame top;
	struct cursor cur = {.x = x, .frame = &top, .deadline_ns = deadline};
	int rc;

	snprintf(cur.prefix, sizeof(cur.prefix), "%s", prefix);
	if (frame_init(&top, NULL, NULL, x->chain->n_slots) < 0)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	rc = run_list(&cur, &x->chain->steps, err);
	if (rc == 0) {
		if (x->chain->output)
			rc = eval_tmpl(&cur, x->chain->output, out, err);
		else
			*out = list_output(&cur, &x->chain->steps);
		if (rc < 0)
			err_prefix(err, "output");
	}
	frame_done(&top);
	return rc;
}

int chain_run(struct runtime *rt, const struct chain *c, const cJSON *inputs,
	      const struct chain_run_opts *opts, cJSON **output,
	      struct sutra_err *err)
{
	atomic_int fatal = 0;
	struct exec x = {
		.rt = rt, .chain = c, .inputs = inputs, .opts = opts,
		.session = opts->session ? opts->session : "default",
		.max_parallel = opts->max_parallel > 0 ? opts->max_parallel
						       : DEFAULT_MAX_PARALLEL,
		.rl = opts->runlog, .fatal = &fatal,
	};
	int rc;

	*output = NULL;
	expr_set_lua_dir(rt->lua_dir);
	if (c->budget.wall_ms)
		x.wall_deadline_ns = now_ns() + c->budget.wall_ms * 1000000;
	if (!(x.pool = pool_new(POOL_MAX_THREADS)))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	rc = run_exec(&x, "", 0, output, err);
	pool_free(x.pool);
	return rc;
}
