/* trace.c - see trace.h. */
#include "trace.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

struct trace {
	char *path;
	cJSON *events;
	int64_t origin_ns;
	pthread_mutex_t mu;
};

static atomic_int next_tid = 1;
static _Thread_local int thread_tid;

int trace_thread_id(void)
{
	if (!thread_tid)
		thread_tid = atomic_fetch_add(&next_tid, 1);
	return thread_tid;
}

struct trace *trace_new(const char *path)
{
	struct trace *t = calloc(1, sizeof(*t));

	if (!t || !(t->path = strdup(path)) ||
	    !(t->events = cJSON_CreateArray())) {
		if (t)
			free(t->path);
		free(t);
		return NULL;
	}
	t->origin_ns = now_ns();
	pthread_mutex_init(&t->mu, NULL);
	return t;
}

void trace_span(struct trace *t, const char *name, const char *category,
		int64_t start_ns, int64_t end_ns, const cJSON *args)
{
	cJSON *e;

	if (!t || !(e = cJSON_CreateObject()))
		return;
	cJSON_AddStringToObject(e, "name", name);
	cJSON_AddStringToObject(e, "cat", category);
	cJSON_AddStringToObject(e, "ph", "X");
	cJSON_AddNumberToObject(e, "ts", (double)(start_ns - t->origin_ns) / 1e3);
	cJSON_AddNumberToObject(e, "dur", (double)(end_ns - start_ns) / 1e3);
	cJSON_AddNumberToObject(e, "pid", getpid());
	cJSON_AddNumberToObject(e, "tid", trace_thread_id());
	if (args)
		cJSON_AddItemToObject(e, "args", cJSON_Duplicate(args, 1));
	pthread_mutex_lock(&t->mu);
	cJSON_AddItemToArray(t->events, e);
	pthread_mutex_unlock(&t->mu);
}

int trace_close(struct trace *t, struct sutra_err *err)
{
	cJSON *doc;
	char *text;
	FILE *f;
	int rc = 0;

	if (!t)
		return 0;
	doc = cJSON_CreateObject();
	cJSON_AddItemToObject(doc, "traceEvents", t->events);
	cJSON_AddStringToObject(doc, "displayTimeUnit", "ms");
	text = cJSON_PrintUnformatted(doc);
	f = fopen(t->path, "w");
	if (!text || !f || fputs(text, f) < 0 || fputc('\n', f) < 0)
		rc = err_set(err, SUTRA_ERUNTIME, "--trace '%s': %s", t->path,
			     strerror(errno ? errno : ENOMEM));
	if (f && fclose(f) != 0 && rc == 0)
		rc = err_set(err, SUTRA_ERUNTIME, "--trace '%s': %s", t->path,
			     strerror(errno));
	cJSON_free(text);
	cJSON_Delete(doc);
	pthread_mutex_destroy(&t->mu);
	free(t->path);
	free(t);
	return rc;
}
