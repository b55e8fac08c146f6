/* log.c - see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_level = LOG_WARN;
static _Thread_local struct log_scope current_scope;

static const char *const level_names[] = {
	[LOG_ERROR] = "error", [LOG_WARN] = "warn", [LOG_INFO] = "info",
	[LOG_DEBUG] = "debug", [LOG_TRACE] = "trace",
};

void log_set_level(int level)
{
	log_level = level;
}

int log_enabled(int level)
{
	return level <= log_level;
}

int log_level_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(*level_names); i++)
		if (strcmp(level_names[i], name) == 0)
			return (int)i;
	return -1;
}

const char *log_level_name(int level)
{
	if (level < 0 || level > LOG_TRACE)
		return "unknown";
	return level_names[level];
}

struct log_scope log_scope_swap(struct log_scope scope)
{
	struct log_scope old = current_scope;

	current_scope = scope;
	return old;
}

struct log_scope log_scope_get(void)
{
	return current_scope;
}

static void add_timestamp(cJSON *line)
{
	struct timespec ts;
	struct tm tm;
	char buf[40];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%03ldZ", ts.tv_nsec / 1000000);
	cJSON_AddStringToObject(line, "ts", buf);
}

static void write_line(const char *text)
{
	size_t len = strlen(text);
	char *buf = malloc(len + 1);

	if (!buf)
		return;
	memcpy(buf, text, len);
	buf[len] = '\n';
	/* One write per line keeps concurrent lines whole. */
	ssize_t r = write(STDERR_FILENO, buf, len + 1);
	(void)r;
	free(buf);
}

void log_fields(int level, const char *msg, const cJSON *fields)
{
	if (!log_enabled(level))
		return;
	cJSON *line = cJSON_CreateObject();
	if (!line)
		return;
	add_timestamp(line);
	cJSON_AddStringToObject(line, "level", log_level_name(level));
	cJSON_AddStringToObject(line, "msg", msg);
	if (current_scope.run)
		cJSON_AddStringToObject(line, "run", current_scope.run);
	if (current_scope.step)
		cJSON_AddStringToObject(line, "step", current_scope.step);
	if (current_scope.agent)
		cJSON_AddStringToObject(line, "agent", current_scope.agent);
	if (cJSON_IsObject(fields)) {
		const cJSON *f;
		cJSON_ArrayForEach(f, fields) {
			if (f->string && !cJSON_HasObjectItem(line, f->string))
				cJSON_AddItemToObject(line, f->string,
						      cJSON_Duplicate(f, 1));
		}
	}
	char *text = cJSON_PrintUnformatted(line);
	cJSON_Delete(line);
	if (text) {
		write_line(text);
		cJSON_free(text);
	}
}

void log_printf(int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_fields(level, msg, NULL);
}
