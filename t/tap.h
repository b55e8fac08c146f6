/*
 * tap.h - a tiny TAP emitter for sutra's C unit tests.
 *
 *     plan(3);              or  plan_lazy() ... done_testing();
 *     ok(x == 1, "x is one");
 *     is_int(got, 2, "two");
 *     is_str(s, "abc", "abc");
 *     diag("context: %d", n);
 *     skip_all("needs userns");
 *     bail("cannot go on: %s", why);
 *
 * exit_status() is what main returns: 0 when every test passed.
 */
#ifndef SUTRA_TAP_H
#define SUTRA_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_run, tap_failed, tap_planned;

static inline void plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

static inline void plan_lazy(void)
{
	tap_planned = -1;
}

static inline void diag(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static inline void diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static inline int ok_at(int cond, const char *file, int line,
			const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline int ok_at(int cond, const char *file, int line,
			const char *fmt, ...)
{
	va_list ap;

	tap_run++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!cond)
		printf("#   failed at %s:%d\n", file, line);
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) ok_at(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is_int(got, want, ...)                                              \
	do {                                                                \
		long long got_ = (long long)(got), want_ = (long long)(want); \
		if (!ok_at(got_ == want_, __FILE__, __LINE__, __VA_ARGS__))  \
			diag("     got: %lld\n#   wanted: %lld", got_, want_); \
	} while (0)

#define is_str(got, want, ...)                                              \
	do {                                                                \
		const char *got_ = (got), *want_ = (want);                  \
		int same_ = got_ && want_ ? strcmp(got_, want_) == 0        \
					  : got_ == want_;                  \
		if (!ok_at(same_, __FILE__, __LINE__, __VA_ARGS__))          \
			diag("     got: '%s'\n#   wanted: '%s'",             \
			     got_ ? got_ : "(null)", want_ ? want_ : "(null)"); \
	} while (0)

static inline void skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	exit(0);
}

static inline void bail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
static inline void bail(const char *fmt, ...)
{
	va_list ap;

	fputs("Bail out! ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	exit(255);
}

static inline void done_testing(void)
{
	if (tap_planned < 0)
		printf("1..%d\n", tap_run);
	fflush(stdout);
}

static inline int exit_status(void)
{
	if (tap_planned > 0 && tap_run != tap_planned)
		return 255;
	return tap_failed ? 1 : 0;
}

#endif
