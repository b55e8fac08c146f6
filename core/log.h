/*
 * log.h - structured logging: one JSON object per line on stderr.
 *
 * Every line carries a timestamp, the level, the message, the correlation
 * ids of the current thread (run, step, agent: see log_scope) and any extra
 * fields.  The CLI sets the level from -q/-v.  Lines are written whole with
 * one write(2), so concurrent threads never interleave inside a line.
 */
#ifndef SUTRA_LOG_H
#define SUTRA_LOG_H

#include <cjson/cJSON.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };

/* Sets the most verbose level that is written (default LOG_WARN). */
void log_set_level(int level);
int log_enabled(int level);

/* Parses "debug", "info", ...; returns -1 when unknown. */
int log_level_from_name(const char *name);
const char *log_level_name(int level);

/*
 * Writes one line.  fields may be NULL; it is borrowed and its members are
 * copied into the line.
 */
void log_fields(int level, const char *msg, const cJSON *fields);
void log_printf(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The current thread's correlation ids.  The strings are borrowed: the
 * caller keeps them alive until it restores the previous scope.
 */
struct log_scope {
	const char *run;
	const char *step;
	const char *agent;
};

/* Installs *scope for this thread and returns the previous one. */
struct log_scope log_scope_swap(struct log_scope scope);
struct log_scope log_scope_get(void);

#endif
