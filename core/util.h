/*
 * util.h - small helpers shared by every module: clocks, durations, files,
 * SHA-256 (nettle), random identifiers.
 */
#ifndef SUTRA_UTIL_H
#define SUTRA_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Monotonic clock in nanoseconds. */
int64_t now_ns(void);
/* Wall clock as Unix time in seconds with sub-second precision. */
double now_unix(void);

/*
 * Parses a duration: "250ms", "30s", "5m", "1h", or a bare number of
 * seconds.  Returns 0 and *ms, or -1 when the text is not a duration.
 */
int parse_duration_ms(const char *text, int64_t *ms);

/*
 * Reads a whole file into a new NUL-terminated buffer (caller frees with
 * free); *len gets its length when len is non-NULL.  max bounds the size
 * (0: 64 MiB).
 */
int file_read(const char *path, char **out, size_t *len, size_t max,
	      struct sutra_err *err);

/* Creates a directory and its parents (mode 0700 for new ones). */
int mkdir_p(const char *path, struct sutra_err *err);

/* SHA-256 of a buffer / a file as 64 lowercase hex digits + NUL. */
void sha256_hex(const void *data, size_t len, char hex[65]);
int sha256_file_hex(const char *path, char hex[65], struct sutra_err *err);

/*
 * A new random identifier: PREFIX + 16 hex digits from getrandom(2) (or
 * time and pid when that fails).  Written into buf of size n.
 */
void random_id(const char *prefix, char *buf, size_t n);

/* Joins a directory and a name into a new string (caller frees). */
char *path_join(const char *dir, const char *name);

/* strdup that sets err on failure. */
char *xstrdup(const char *s, struct sutra_err *err);

#endif
