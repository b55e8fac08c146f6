/*
 * trace.h - Chrome trace-event output (--trace FILE), which Perfetto and
 * chrome://tracing open: one complete ("X") event per step attempt, on
 * the thread that ran it.
 */
#ifndef SUTRA_TRACE_H
#define SUTRA_TRACE_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "err.h"

struct trace;

/* A new trace that will be written to path by trace_close. */
struct trace *trace_new(const char *path);

/* Records a span [start_ns, end_ns) of the monotonic clock; args is
 * borrowed and copied.  Thread-safe; a NULL trace ignores the call. */
void trace_span(struct trace *t, const char *name, const char *category,
		int64_t start_ns, int64_t end_ns, const cJSON *args);

/* Writes the file and frees the trace. */
int trace_close(struct trace *t, struct sutra_err *err);

/* A small, stable number for the calling thread (the trace's tid). */
int trace_thread_id(void);

#endif
