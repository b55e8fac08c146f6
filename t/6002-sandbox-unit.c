/*
 * 6002-sandbox-unit.c - the sandbox's parts one by one: output capture,
 * UTF-8 clean-up, path and request checks, limits, the host-side file
 * work that must never follow a symlink, and sandbox_exec through the API.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/internal.h"
#include "tap.h"
#include "util.h"

static void test_capture(void)
{
	struct sbx_capture c;
	char *text;

	ok(sbx_capture_init(&c, 8) == 0, "capture of 8 bytes");
	sbx_capture_add(&c, "abc", 3);
	text = sbx_capture_text(&c);
	is_str(text, "abc", "short output kept whole");
	ok(!sbx_capture_truncated(&c), "... not truncated");
	free(text);
	sbx_capture_add(&c, "defghijklmnopqrstuvwxyz", 23);
	text = sbx_capture_text(&c);
	ok(sbx_capture_truncated(&c), "long output truncated");
	ok(strncmp(text, "abcd", 4) == 0, "... head kept");
	ok(strlen(text) > 4 && strcmp(text + strlen(text) - 4, "wxyz") == 0,
	   "... tail kept");
	ok(strstr(text, "[... 18 bytes dropped ...]") != NULL,
	   "... gap counted");
	is_int(c.total, 26, "... every byte counted");
	free(text);
	sbx_capture_free(&c);
}

static void test_utf8(void)
{
	char *s = sbx_utf8_clean("a\0b\xff\xc3\xa9\xed\xa0\x80", 9);

	is_str(s, "a\xef\xbf\xbd" "b\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
	       "NUL, bad bytes and surrogates replaced, valid kept");
	free(s);
}

static void test_paths(void)
{
	static const char *const good[] = {"a", "a/b.txt", ".hidden", "a..b"};
	static const char *const bad[] = {"", "/etc/passwd", "..", "a/../b",
					  "a//b", "./a", "a/", "a/."};
	struct sutra_err err = {0};

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		ok(sbx_path_check(good[i], NULL) == 0, "path '%s' accepted",
		   good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		ok(sbx_path_check(bad[i], NULL) < 0, "path '%s' refused",
		   bad[i]);
	sbx_path_check("../x", &err);
	is_int(err.code, SUTRA_EUSAGE, "a bad path is a usage error");
	ok(strstr(err.msg, "'../x'") != NULL, "... naming it");
}

static void test_limits(void)
{
	struct sandbox_limits l;
	struct sutra_err err = {0};
	cJSON *j;

	sandbox_limits_default(&l);
	j = cJSON_Parse("{\"time\": \"250ms\", \"memory_mb\": 64, \"cpu\": 2}");
	ok(sandbox_limits_from_json(j, &l, &err) == 0, "limits parsed");
	is_int(l.wall_ms, 250, "... time as a duration");
	is_int(l.memory_bytes, 64 << 20, "... memory in MiB");
	is_int(l.cpu_ms, 2000, "... cpu in seconds");
	cJSON_Delete(j);
	j = cJSON_Parse("{\"procs\": 1.5}");
	ok(sandbox_limits_from_json(j, &l, &err) < 0, "a fraction refused");
	ok(strstr(err.msg, "limits.procs") != NULL, "... naming the key");
	cJSON_Delete(j);
	err_clear(&err);
	j = cJSON_Parse("{\"nice\": 1}");
	ok(sandbox_limits_from_json(j, &l, &err) < 0, "an unknown limit refused");
	ok(strstr(err.msg, "'nice'") != NULL, "... naming it");
	cJSON_Delete(j);
}

static void expect_request_error(const char *json, const char *want,
				 int agent)
{
	struct sutra_err err = {0};
	cJSON *req = cJSON_Parse(json), *v = NULL;
	int rc = agent ? sandbox_effect(NULL, req, &v, &err)
		       : sandbox_run_json(req, &v, &err);

	ok(rc < 0 && v == NULL && strstr(err.msg, want) != NULL,
	   "request %s refused: %s", json, err.msg);
	cJSON_Delete(req);
	cJSON_Delete(v);
}

static void test_requests(void)
{
	expect_request_error("{}", "'cmd' is required", 0);
	expect_request_error("{\"cmd\": \"ls\"}", "'cmd' must be an array", 0);
	expect_request_error("{\"cmd\": [\"ls\"], \"bogus\": 1}",
			     "unknown key 'bogus'", 0);
	expect_request_error("{\"cmd\": [\"ls\"], \"profile\": \"ruby\"}",
			     "unknown profile 'ruby'", 0);
	expect_request_error("{\"cmd\": [\"ls\"], \"files\": {\"../x\": \"\"}}",
			     "'../x'", 0);
	expect_request_error("{\"cmd\": [\"ls\"], \"files\": {\"a\": 1}}",
			     "files['a']", 0);
	expect_request_error("{\"cmd\": [\"ls\"], \"env\": {\"A=B\": \"c\"}}",
			     "env['A=B']", 0);
	expect_request_error("{\"cmd\": [\"ls\"], \"keep\": true}",
			     "not available to agents", 1);
	expect_request_error("{\"cmd\": [\"ls\"], \"dir\": \"/etc\"}",
			     "not available to agents", 1);
}

/* A scratch tree: work/ with planted links, and outside/ that must
 * survive everything done to work/. */
static char scratch[] = "/tmp/sutra-6002-XXXXXX";

static int make_tree(int *work, int *outside)
{
	int fd;

	if (!mkdtemp(scratch) || chdir(scratch) < 0 ||
	    mkdir("work", 0700) < 0 || mkdir("outside", 0700) < 0)
		return -1;
	fd = open("outside/secret", O_WRONLY | O_CREAT, 0600);
	if (fd < 0 || write(fd, "secret\n", 7) != 7)
		return -1;
	close(fd);
	fd = open("work/big", O_WRONLY | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, 4096) < 0)
		return -1;
	close(fd);
	fd = open("work/ok.txt", O_WRONLY | O_CREAT, 0600);
	if (fd < 0 || write(fd, "fine", 4) != 4)
		return -1;
	close(fd);
	if (symlink("../outside/secret", "work/sym") < 0 ||
	    symlink("../outside", "work/dirlink") < 0 ||
	    link("outside/secret", "work/hard") < 0 ||
	    mkfifo("work/fifo", 0600) < 0 || mkdir("work/locked", 0700) < 0 ||
	    mkdir("work/locked/sub", 0700) < 0 ||
	    chmod("work/locked", 0) < 0)
		return -1;
	*work = open("work", O_RDONLY | O_DIRECTORY);
	*outside = open("outside", O_RDONLY | O_DIRECTORY);
	return *work >= 0 && *outside >= 0 ? 0 : -1;
}

static void expect_refused(int work, const char *path, const char *want)
{
	const char *why = NULL;
	char *data = NULL;
	size_t len;
	int rc = sbx_collect_file(work, path, 1024, (uid_t)-1, &data, &len,
				  &why);

	ok(rc < 0 && data == NULL && why && strcmp(why, want) == 0,
	   "collect '%s' refused: %s", path, why ? why : "(accepted)");
	free(data);
}

static void test_files(void)
{
	struct sutra_err err = {0};
	const char *why = NULL;
	int work, outside, parent;
	struct stat sb;
	char *data;
	size_t len;

	if (make_tree(&work, &outside) < 0) {
		ok(0, "scratch tree: %s", strerror(errno));
		return;
	}
	ok(sbx_collect_file(work, "ok.txt", 1024, (uid_t)-1, &data, &len,
			    &why) == 0 && len == 4 && memcmp(data, "fine", 4) == 0,
	   "a regular file is collected");
	free(data);
	expect_refused(work, "sym", "a symlink or outside the work dir");
	expect_refused(work, "dirlink/secret",
		       "a symlink or outside the work dir");
	expect_refused(work, "hard", "a hard link");
	expect_refused(work, "fifo", "not a regular file");
	expect_refused(work, "big", "larger than the collect limit");
	expect_refused(work, "nothing", "missing");
	ok(sbx_collect_file(work, "ok.txt", 1024, getuid() + 1, &data, &len,
			    &why) < 0 && strcmp(why, "not owned by the sandbox") == 0,
	   "a file of another owner refused");

	is_int(sbx_largest_file(work), 4096, "largest file found");
	parent = open(".", O_RDONLY | O_DIRECTORY);
	ok(sbx_remove_tree(parent, "work", &err) == 0,
	   "work dir removed: %s", err.msg);
	ok(lstat("work", &sb) < 0 && errno == ENOENT, "... gone");
	ok(stat("outside/secret", &sb) == 0 && sb.st_nlink == 1 &&
		   sb.st_size == 7,
	   "... the outside file untouched (its hard link went)");
	close(parent);
	close(work);
	close(outside);
	unlink("outside/secret");
	rmdir("outside");
	if (chdir("/") == 0)
		rmdir(scratch);
}

static void test_exec(void)
{
	char *argv[] = {"/bin/sh", "-c", "cat in.txt; echo x >out.txt; exit 2",
			NULL};
	char *collect[] = {"out.txt", NULL};
	struct sandbox_file in = {"in.txt", "hello\n", 6, 0};
	struct sandbox_spec spec = {.argv = argv, .files = &in, .n_files = 1,
				    .collect = collect};
	struct sutra_err err = {0};
	cJSON *v = NULL;

	sandbox_limits_default(&spec.limits);
	ok(sandbox_exec(&spec, &v, &err) == 0, "sandbox_exec runs: %s",
	   err.msg);
	is_str(cJSON_GetStringValue(cJSON_GetObjectItem(v, "status")), "failed",
	       "... status failed");
	is_int(cJSON_GetNumberValue(cJSON_GetObjectItem(v, "exit_code")), 2,
	       "... exit code 2");
	is_str(cJSON_GetStringValue(cJSON_GetObjectItem(v, "stdout")),
	       "hello\n", "... read its input file");
	is_str(cJSON_GetStringValue(cJSON_GetObjectItem(
		       cJSON_GetObjectItem(v, "files"), "out.txt")),
	       "x\n", "... its output collected");
	is_int(sandbox_verdict_exit_code(v), 1, "... CLI exit code 1");
	cJSON_Delete(v);

	spec.argv = (char *[]){"", NULL};
	ok(sandbox_exec(&spec, &v, &err) < 0 && v == NULL,
	   "an empty command is refused");
	spec.argv = argv;
	spec.limits.wall_ms = 0;
	ok(sandbox_exec(&spec, &v, &err) < 0, "a zero limit is refused");
}

/* Runs from several threads at once: the children of a multi-threaded
 * runner must not wait on glibc's idea of their parent's threads. */
static void *exec_worker(void *arg)
{
	char *argv[] = {"/bin/true", NULL};
	struct sandbox_spec spec = {.argv = argv};
	int *ok_runs = arg;

	sandbox_limits_default(&spec.limits);
	spec.limits.wall_ms = 5000;
	for (int i = 0; i < 8; i++) {
		struct sutra_err err = {0};
		cJSON *v = NULL;
		if (sandbox_exec(&spec, &v, &err) == 0 &&
		    strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(v, "status")),
			   "ok") == 0)
			++*ok_runs;
		cJSON_Delete(v);
	}
	return NULL;
}

static void test_threads(void)
{
	pthread_t th[3];
	int runs[3] = {0};

	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, exec_worker, &runs[i]);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	is_int(runs[0] + runs[1] + runs[2], 24,
	       "24 runs on 3 threads at once all ok");
}

/* Opens and closes low fds while another thread runs: the supervisor of
 * a run then starts with holes in its fd table, which must not make it
 * keep the run's output pipe open (the runner would wait a second for
 * the EOF). */
static atomic_int churn_stop;

static void *fd_churn(void *arg)
{
	(void)arg;
	while (!atomic_load(&churn_stop)) {
		int fds[12];
		for (int i = 0; i < 12; i++)
			fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		for (int i = 0; i < 12; i++)
			if (fds[i] >= 0)
				close(fds[i]);
	}
	return NULL;
}

static void test_fd_holes(void)
{
	char *argv[] = {"/bin/true", NULL};
	struct sandbox_spec spec = {.argv = argv};
	int64_t slowest = 0;
	int ok_runs = 0;
	pthread_t th;

	sandbox_limits_default(&spec.limits);
	pthread_create(&th, NULL, fd_churn, NULL);
	for (int i = 0; i < 60; i++) {
		struct sutra_err err = {0};
		cJSON *v = NULL;
		int64_t t0 = now_ns(), dt;
		if (sandbox_exec(&spec, &v, &err) == 0 &&
		    strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(v, "status")),
			   "ok") == 0)
			ok_runs++;
		cJSON_Delete(v);
		dt = now_ns() - t0;
		slowest = dt > slowest ? dt : slowest;
	}
	atomic_store(&churn_stop, 1);
	pthread_join(th, NULL);
	is_int(ok_runs, 60, "60 runs while another thread churns fds all ok");
	ok(slowest < 900000000, "... none waited for the drain grace "
	   "(slowest %lld ms)", (long long)(slowest / 1000000));
}

/* The filters built into the binary at build time are the ones
 * libseccomp compiles at run time, instruction for instruction, and the
 * sandbox uses them (no compile in the process). */
static void test_prebuilt_filters(void)
{
	size_t rows = 0, same = 0;

	ok(sbx_prebuilt_arch == sbx_filter_arch(),
	   "filters prebuilt for this architecture (0x%08x)",
	   (unsigned)sbx_prebuilt_arch);
	for (const struct sbx_prebuilt *b = sbx_prebuilt; b->profile; b++) {
		const struct sbx_profile *p =
			strcmp(b->profile, "plugin-host") == 0
				? sbx_profile_host()
				: sbx_profile_find(b->profile);
		struct sock_fprog fresh = {0, NULL};
		const struct sock_fprog *used = NULL;
		struct sutra_err err = {0};

		rows++;
		if (!p || sbx_filter_compile(p, b->netns, &fresh, &err) < 0) {
			diag("%s/%d: %s", b->profile, b->netns, err.msg);
			continue;
		}
		if (fresh.len == b->len &&
		    memcmp(fresh.filter, b->code,
			   b->len * sizeof(*b->code)) == 0 &&
		    sbx_filter_get(p, b->netns, &used, &err) == 0 &&
		    used->filter == b->code)
			same++;
		else
			diag("%s/%d differs or is not used", b->profile,
			     b->netns);
		free(fresh.filter);
	}
	is_int(rows, 7, "7 filters prebuilt: 3 profiles x 2 network "
	       "variants, and the plugin host's");
	is_int(same, rows, "... each identical to a run-time compile, "
	       "and the one sbx_filter_get returns");
}

int main(void)
{
	plan_lazy();
	test_prebuilt_filters();
	test_capture();
	test_utf8();
	test_paths();
	test_limits();
	test_requests();
	test_files();
	test_exec();
	test_threads();
	test_fd_holes();
	done_testing();
	return exit_status();
}
