/*
 * sandbox-bench.c - what the sandbox costs (issue 5's benchmarks), as JSON
 * lines on stdout:
 *
 *   sandbox.bare_true       fork + exec + wait of /bin/true, no sandbox
 *   sandbox.true_cold       sandbox_exec of /bin/true, in process, with
 *                           the warm pool off: every run builds its own
 *                           namespaces and root
 *   sandbox.true            the same with the pool on, each run on a
 *                           spare that was ready before it started
 *                           (the wait for it is not timed)
 *   sandbox.true_degraded   degraded mode (never pooled)
 *   sandbox.cli_true        the whole `sutra sandbox run -- /bin/true`
 *                           (one run per process: always cold)
 *   sandbox.bare_python     python3 -c pass, no sandbox
 *   sandbox.python_cold     python3 -c pass under the python profile, cold
 *   sandbox.python          the same on a ready spare
 *   sandbox.seq200_cold     200 sequential sandboxed /bin/true, pool off
 *   sandbox.seq200          the same back to back with the pool on: a run
 *                           takes the spare when the builder made it in
 *                           time, else builds its own ("warm" counts them)
 *   sandbox.par2_cold       the 200 on 2 threads, pool off: runs/s
 *   sandbox.par2            the 200 on 2 threads, pool on: runs/s
 *
 * Medians in microseconds, with the overhead over the bare run (the median
 * of paired differences: each timed run follows a bare run of its own),
 * and how many of the timed runs were on a spare ("warm").  Run from the build
 * directory (`make bench`, which passes the sutra binary as the first
 * argument); SANDBOX_BENCH_N sets the samples.
 */
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "util.h"

extern char **environ;

static int samples(void)
{
	const char *n = getenv("SANDBOX_BENCH_N");

	return n && atoi(n) > 0 ? atoi(n) : 50;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static double median_us(int64_t *ns, int n)
{
	qsort(ns, (size_t)n, sizeof(*ns), cmp_i64);
	return (double)ns[n / 2] / 1000.0;
}

/* Runs argv with stdout on /dev/null and waits: the bare cost. */
static int64_t spawn_wait(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	int64_t t0 = now_ns();
	pid_t pid;
	int status, rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		fprintf(stderr, "sandbox-bench: spawn %s: %s\n", argv[0],
			strerror(rc));
		exit(1);
	}
	waitpid(pid, &status, 0);
	return now_ns() - t0;
}

static _Atomic int warm_runs;

static int64_t sandboxed(char *const argv[], const char *profile,
			 int degraded)
{
	struct sandbox_spec spec = {.argv = argv, .profile = profile,
				    .force_degraded = degraded};
	struct sutra_err err = {0};
	cJSON *v = NULL;
	int64_t t0, dt;
	const cJSON *s;

	sandbox_limits_default(&spec.limits);
	t0 = now_ns();
	if (sandbox_exec(&spec, &v, &err) < 0) {
		fprintf(stderr, "sandbox-bench: %s\n", err.msg);
		exit(1);
	}
	dt = now_ns() - t0;
	s = cJSON_GetObjectItemCaseSensitive(v, "status");
	if (!cJSON_IsString(s) || strcmp(s->valuestring, "ok") != 0) {
		char *text = cJSON_PrintUnformatted(v);
		fprintf(stderr, "sandbox-bench: run not ok: %s\n", text);
		exit(1);
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "warm")))
		atomic_fetch_add(&warm_runs, 1);
	cJSON_Delete(v);
	return dt;
}

static double bench_bare(char *const argv[], int n)
{
	int64_t *t = calloc((size_t)n, sizeof(*t));
	double m;

	for (int i = 0; i < n; i++)
		t[i] = spawn_wait(argv);
	m = median_us(t, n);
	free(t);
	return m;
}

/*
 * Median of n runs, and of their overheads: each run is paired with a
 * bare run of the same command just before it, and the overhead is the
 * median of the pairs' differences.  A bare python3 start varies by
 * several milliseconds from one minute to the next on a shared machine;
 * medians taken in separate blocks gave overheads below zero.
 */
struct timed {
	double median, overhead;  /* overhead NONE: not measured */
};
#define NONE (-2e9)

static struct timed paired(int64_t *t, int64_t *d, int n)
{
	return (struct timed){median_us(t, n), median_us(d, n)};
}

/* pool: the warm pool on, and each timed run waits (untimed) for its
 * spare. */
static struct timed bench_sandbox(char *const argv[], const char *profile,
				  int degraded, int pool, int n)
{
	int64_t *t = calloc((size_t)n, sizeof(*t));
	int64_t *d = calloc((size_t)n, sizeof(*d));
	struct timed r;

	sandbox_pool_enable(pool);
	sandboxed(argv, profile, degraded);   /* filter compile, 1st run */
	atomic_store(&warm_runs, 0);
	for (int i = 0; i < n; i++) {
		if (pool)
			sandbox_pool_wait(1000);
		int64_t bare = spawn_wait(argv);
		t[i] = sandboxed(argv, profile, degraded);
		d[i] = t[i] - bare;
	}
	r = paired(t, d, n);
	free(t);
	free(d);
	return r;
}

/* The whole CLI, paired the same way with bare runs of bare_argv. */
static struct timed bench_cli(char *const argv[], char *const bare_argv[],
			      int n)
{
	int64_t *t = calloc((size_t)n, sizeof(*t));
	int64_t *d = calloc((size_t)n, sizeof(*d));
	struct timed r;

	for (int i = 0; i < n; i++) {
		int64_t bare = spawn_wait(bare_argv);
		t[i] = spawn_wait(argv);
		d[i] = t[i] - bare;
	}
	r = paired(t, d, n);
	free(t);
	free(d);
	return r;
}

static void report(const char *name, struct timed r, int samples_n)
{
	printf("{\"bench\":\"%s\",\"median_us\":%.1f", name, r.median);
	if (r.overhead > -1e9)
		printf(",\"overhead_us\":%.1f", r.overhead);
	printf(",\"samples\":%d", samples_n);
	if (strncmp(name, "sandbox.bare", 12) != 0 &&
	    strcmp(name, "sandbox.cli_true") != 0)
		printf(",\"warm\":%d", atomic_load(&warm_runs));
	printf("}\n");
	fflush(stdout);
}

static void *par_worker(void *arg)
{
	char *argv[] = {"/bin/true", NULL};
	int n = *(int *)arg;

	for (int i = 0; i < n; i++)
		sandboxed(argv, NULL, 0);
	return NULL;
}

static void bench_throughput(int pool)
{
	char *argv[] = {"/bin/true", NULL};
	int half = 100;
	pthread_t th[2];
	int64_t t0;

	sandbox_pool_enable(pool);
	sandboxed(argv, NULL, 0);
	atomic_store(&warm_runs, 0);
	t0 = now_ns();
	for (int i = 0; i < 200; i++)
		sandboxed(argv, NULL, 0);
	printf("{\"bench\":\"sandbox.seq200%s\",\"runs_per_s\":%.1f,"
	       "\"warm\":%d}\n", pool ? "" : "_cold",
	       200e9 / (double)(now_ns() - t0), atomic_load(&warm_runs));
	atomic_store(&warm_runs, 0);
	t0 = now_ns();
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, par_worker, &half);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	printf("{\"bench\":\"sandbox.par2%s\",\"runs_per_s\":%.1f,"
	       "\"warm\":%d}\n", pool ? "" : "_cold",
	       200e9 / (double)(now_ns() - t0), atomic_load(&warm_runs));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	char *tru[] = {"/bin/true", NULL};
	char *py[] = {"/usr/bin/python3", "-c", "pass", NULL};
	char cli[4096];
	int n = samples();

	/* `make bench` passes the sutra binary; else the build dir's. */
	if (argc > 1)
		snprintf(cli, sizeof(cli), "%s", argv[1]);
	else
		snprintf(cli, sizeof(cli), "%s/sutra",
			 getenv("SUTRA_BUILDDIR") ? getenv("SUTRA_BUILDDIR")
						  : ".");
	char *cli_argv[] = {cli, "sandbox", "run", "--", "/bin/true", NULL};

	report("sandbox.bare_true", (struct timed){bench_bare(tru, n), NONE},
	       n);
	report("sandbox.true_cold", bench_sandbox(tru, NULL, 0, 0, n), n);
	report("sandbox.true", bench_sandbox(tru, NULL, 0, 1, n), n);
	report("sandbox.true_degraded", bench_sandbox(tru, NULL, 1, 0, n), n);
	if (access(cli, X_OK) == 0)
		report("sandbox.cli_true", bench_cli(cli_argv, tru, n), n);
	if (access(py[0], X_OK) == 0) {
		report("sandbox.bare_python",
		       (struct timed){bench_bare(py, n), NONE}, n);
		report("sandbox.python_cold",
		       bench_sandbox(py, "python", 0, 0, n), n);
		report("sandbox.python", bench_sandbox(py, "python", 0, 1, n),
		       n);
	}
	bench_throughput(0);
	bench_throughput(1);
	return 0;
}
