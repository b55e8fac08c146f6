/*
 * err.h - the error type every fallible sutra function fills.
 *
 * Fallible calls return 0 on success or a negative value on failure, and
 * fill an optional caller-owned struct sutra_err.  The first error wins:
 * once code is set, later err_set calls are ignored, so the innermost
 * (most precise) message survives while callers unwind.  Library code never
 * prints; the CLI prints err.msg as "sutra: error: MSG".
 */
#ifndef SUTRA_ERR_H
#define SUTRA_ERR_H

#include <stdarg.h>

/*
 * Error classes.  Append-only: the values are stable and map to the CLI's
 * exit codes (err_exit_code).
 */
enum sutra_errc {
	SUTRA_OK = 0,
	SUTRA_EUSAGE,     /* bad options, bad input, validation: exit 2 */
	SUTRA_EFAILED,    /* an agent, chain or program failed: exit 1 */
	SUTRA_ETIMEOUT,   /* a deadline passed: exit 1 */
	SUTRA_ERUNTIME,   /* database, plugin load, provider unreachable: exit 3 */
	SUTRA_ENOMEM,     /* out of memory: exit 3 */
	SUTRA_ENOTFOUND,  /* unknown agent/key/run named by the user: exit 2 */
	SUTRA_EINTR,      /* interrupted by a signal: exit 130 */
	SUTRA_EPERM,      /* an agent used a permission it lacks: exit 1 */
	SUTRA_EBUDGET,    /* a budget was exceeded: exit 1 */
	SUTRA_ECANCELED,  /* the caller asked to stop: exit 1 */
	SUTRA_EWAITING,   /* a run paused for an answer (ask): exit 0 */
};

struct sutra_err {
	int code;       /* enum sutra_errc; 0 while no error is set */
	char msg[512];  /* lowercase, no final full stop, names the subject */
};

/* Sets *err (if err is non-NULL and still clear) and returns -1. */
int err_set(struct sutra_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int err_vset(struct sutra_err *err, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/*
 * Prefixes an already set message with "PREFIX: " (keeps the code).  Used
 * while unwinding to add context such as "step 'build'".  No-op when clear.
 */
void err_prefix(struct sutra_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Clears *err so that it can be reused. */
void err_clear(struct sutra_err *err);

/* The CLI exit code for an error class (SPEC §2). */
int err_exit_code(int code);

/* A short stable name for an error class ("usage", "failed", ...). */
const char *err_name(int code);

#endif
