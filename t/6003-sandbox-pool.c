/*
 * 6003-sandbox-pool.c - the warm pool (sandbox/pool.c): a run on a spare
 * gets the verdict a cold run gets; it sees nothing of the run before
 * it; runs that do not fit a spare build their own; one spare at most,
 * and none survives its process, whether it exits or is killed.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>

#include "sandbox/sandbox.h"
#include "tap.h"
#include "util.h"

struct outcome {
	char status[32];
	int exit_code;
	char syscall[64];
	int warm;
	char stdout_text[256];
};

static int run(char **argv, const char *profile, int64_t wall_ms,
	       const struct sandbox_file *files, size_t n_files,
	       char **collect, struct outcome *o, cJSON **keep)
{
	struct sandbox_spec spec = {.argv = argv, .profile = profile,
				    .files = files, .n_files = n_files,
				    .collect = collect};
	struct sutra_err err = {0};
	cJSON *v = NULL;
	const cJSON *x;

	sandbox_limits_default(&spec.limits);
	if (wall_ms)
		spec.limits.wall_ms = wall_ms;
	memset(o, 0, sizeof(*o));
	if (sandbox_exec(&spec, &v, &err) < 0) {
		diag("sandbox_exec: %s", err.msg);
		return -1;
	}
	snprintf(o->status, sizeof(o->status), "%s",
		 cJSON_GetStringValue(cJSON_GetObjectItem(v, "status")));
	x = cJSON_GetObjectItem(v, "exit_code");
	o->exit_code = cJSON_IsNumber(x) ? (int)x->valuedouble : -1;
	x = cJSON_GetObjectItem(v, "syscall");
	snprintf(o->syscall, sizeof(o->syscall), "%s",
		 cJSON_IsString(x) ? x->valuestring : "");
	o->warm = cJSON_IsTrue(cJSON_GetObjectItem(v, "warm"));
	snprintf(o->stdout_text, sizeof(o->stdout_text), "%s",
		 cJSON_GetStringValue(cJSON_GetObjectItem(v, "stdout")));
	if (keep)
		*keep = v;
	else
		cJSON_Delete(v);
	return 0;
}

struct case_ {
	const char *name;
	char *argv[6];
	const char *profile;
	int64_t wall_ms;
};

static const struct case_ cases[] = {
	{"ok", {"/bin/true"}, NULL, 0},
	{"failed", {"/bin/sh", "-c", "exit 3"}, NULL, 0},
	{"timeout", {"/bin/sleep", "5"}, NULL, 300},
	{"violation", {"/usr/bin/unshare", "-U", "true"}, NULL, 0},
	{"native: no fork", {"/bin/sh", "-c", "/bin/true"}, "native", 0},
	{"python", {"/usr/bin/python3", "-c", "print(6 * 7)"}, "python", 0},
};

/* Each case cold (pool off) and on a spare: the same verdict. */
static void test_same_verdicts(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const struct case_ *c = &cases[i];
		struct outcome cold, warm;
		if (access(c->argv[0], X_OK) != 0) {
			ok(1, "# SKIP %s: no %s", c->name, c->argv[0]);
			continue;
		}
		sandbox_pool_enable(0);
		run((char **)c->argv, c->profile, c->wall_ms, NULL, 0, NULL,
		    &cold, NULL);
		sandbox_pool_enable(1);
		ok(sandbox_pool_wait(5000), "%s: a spare is ready", c->name);
		run((char **)c->argv, c->profile, c->wall_ms, NULL, 0, NULL,
		    &warm, NULL);
		ok(!cold.warm && warm.warm, "%s: cold, then on the spare",
		   c->name);
		is_str(warm.status, cold.status, "%s: same status (%s)",
		       c->name, cold.status);
		is_int(warm.exit_code, cold.exit_code, "%s: same exit code",
		       c->name);
		is_str(warm.syscall, cold.syscall, "%s: same syscall",
		       c->name);
		is_str(warm.stdout_text, cold.stdout_text, "%s: same output",
		       c->name);
	}
}

/* A run on a spare sees nothing of the run before it. */
static void test_isolation(void)
{
	char *write_argv[] = {"/bin/sh", "-c",
			      "echo secret >/work/left; mkdir /work/d; "
			      "(sleep 30 &); cat in.txt", NULL};
	char *look_argv[] = {"/bin/sh", "-c",
			     "ls -A /work; cat /proc/[0-9]*/comm; echo end",
			     NULL};
	struct sandbox_file in = {"in.txt", "from the request\n", 17, 0};
	char *collect[] = {"left", NULL};
	struct outcome a, b;
	cJSON *v = NULL;

	sandbox_pool_wait(5000);
	run(write_argv, NULL, 0, &in, 1, collect, &a, &v);
	ok(a.warm, "a run on a spare");
	is_str(a.stdout_text, "from the request\n", "... got its input file");
	is_str(cJSON_GetStringValue(cJSON_GetObjectItem(
		       cJSON_GetObjectItem(v, "files"), "left")),
	       "secret\n", "... and its file collected");
	cJSON_Delete(v);
	ok(sandbox_pool_wait(5000), "a new spare is ready");
	run(look_argv, NULL, 0, NULL, 0, NULL, &b, NULL);
	ok(b.warm, "the next run is on it");
	/* An empty /work first, and none of the processes of the run
	 * before (its sleep) in /proc. */
	ok(strstr(b.stdout_text, "left") == NULL &&
		   strncmp(b.stdout_text, "d\n", 2) != 0 &&
		   strstr(b.stdout_text, "end\n") != NULL,
	   "... sees no file of the run before");
	ok(strstr(b.stdout_text, "sleep") == NULL,
	   "... and none of its processes");
}

/* Runs that do not fit the spare build their own. */
static void test_fallbacks(void)
{
	char *argv[] = {"/bin/true", NULL};
	struct sandbox_spec spec = {.argv = argv};
	struct sutra_err err = {0};
	cJSON *v = NULL;

	sandbox_limits_default(&spec.limits);
	sandbox_pool_wait(5000);
	spec.force_degraded = 1;
	sandbox_exec(&spec, &v, &err);
	ok(v && !cJSON_IsTrue(cJSON_GetObjectItem(v, "warm")),
	   "degraded mode: cold");
	cJSON_Delete(v);
	spec.force_degraded = 0;
	spec.limits.workdir_bytes *= 2;
	sandbox_exec(&spec, &v, &err);
	ok(v && !cJSON_IsTrue(cJSON_GetObjectItem(v, "warm")),
	   "another work dir size: cold");
	cJSON_Delete(v);
	setenv("SUTRA_SANDBOX_POOL", "0", 1);
	spec.limits.workdir_bytes /= 2;
	sandbox_exec(&spec, &v, &err);
	ok(v && !cJSON_IsTrue(cJSON_GetObjectItem(v, "warm")),
	   "SUTRA_SANDBOX_POOL=0: cold");
	cJSON_Delete(v);
	unsetenv("SUTRA_SANDBOX_POOL");
	sandbox_exec(&spec, &v, &err);
	ok(v && cJSON_IsTrue(cJSON_GetObjectItem(v, "warm")),
	   "the spare kept meanwhile serves the next fitting run");
	cJSON_Delete(v);
}

/* What the payload inherits from the supervisor, cold and warm: no
 * ignored or blocked signal and no capability, whatever the runner's. */
static void test_inherited(void)
{
	char *argv[] = {"/bin/sh", "-c",
			"grep -E '^(SigIgn|SigBlk|CapBnd|CapEff):' "
			"/proc/self/status", NULL};
	const char *want = "SigBlk:\t0000000000000000\n"
			   "SigIgn:\t0000000000000000\n"
			   "CapEff:\t0000000000000000\n"
			   "CapBnd:\t0000000000000000\n";
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_int, old_term;
	sigset_t usr1, old_mask;
	struct outcome o;

	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGTERM, &ign, &old_term);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, &old_mask);
	for (int pool = 0; pool < 2; pool++) {
		sandbox_pool_enable(pool);
		if (pool)
			sandbox_pool_wait(5000);
		run(argv, NULL, 0, NULL, 0, NULL, &o, NULL);
		is_int(o.warm, pool, "%s run", pool ? "a warm" : "a cold");
		is_str(o.stdout_text, want, "... its payload has no ignored or "
		       "blocked signal, no capability");
	}
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
}

/* Children of this process, zombies included, over all its threads. */
static int count_children(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		char path[300], buf[4096];
		ssize_t len;
		int fd;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/children",
			 e->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		while ((len = read(fd, buf, sizeof(buf))) > 0)
			for (ssize_t i = 0; i < len; i++)
				n += buf[i] == ' ';
		close(fd);
	}
	if (d)
		closedir(d);
	return n;
}

/* The builder reaps the supervisors of ended runs: they do not pile up
 * as zombies; only the spare is left. */
static void test_reaped(void)
{
	char *argv[] = {"/bin/true", NULL};
	struct outcome o;
	int warm = 0, children = -1;

	sandbox_pool_enable(1);
	for (int i = 0; i < 20; i++) {
		sandbox_pool_wait(5000);
		run(argv, NULL, 0, NULL, 0, NULL, &o, NULL);
		warm += o.warm;
	}
	sandbox_pool_wait(5000);
	for (int i = 0; i < 200 && (children = count_children()) > 1; i++)
		usleep(10000);
	is_int(warm, 20, "20 runs on spares");
	is_int(children, 1, "... then one child: the next spare");
}

/* Processes named name other than pid self. */
static int count_named(const char *name, pid_t self)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		char path[300], comm[64] = "";
		int fd;
		ssize_t len;
		if (e->d_name[0] < '0' || e->d_name[0] > '9' ||
		    atoi(e->d_name) == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		len = read(fd, comm, sizeof(comm) - 1);
		close(fd);
		if (len > 0 && comm[len - 1] == '\n')
			comm[len - 1] = '\0';
		n += strcmp(comm, name) == 0;
	}
	if (d)
		closedir(d);
	return n;
}

/* Waits up to 3 s for no process named name. */
static int none_left(const char *name)
{
	for (int i = 0; i < 300; i++) {
		if (count_named(name, 0) == 0)
			return 1;
		usleep(10000);
	}
	return 0;
}

/*
 * A child process under a name of its own makes a run, waits for its
 * spare, says so, and then exits (or waits for the kill).  Its spare's
 * supervisor, a clone of it, carries the name.
 */
static void test_spare_dies_with(int killed)
{
	char name[16];
	int pipefd[2];
	char ready = 0;
	pid_t pid;

	snprintf(name, sizeof(name), "sbxpool%05d", (int)(getpid() % 100000));
	if (pipe(pipefd) < 0)
		bail("pipe: %s", strerror(errno));
	fflush(stdout);
	if ((pid = fork()) == 0) {
		char *argv[] = {"/bin/true", NULL};
		struct outcome o;
		close(pipefd[0]);
		prctl(PR_SET_NAME, name);
		sandbox_pool_enable(1);
		run(argv, NULL, 0, NULL, 0, NULL, &o, NULL);
		ready = sandbox_pool_wait(5000) &&
				count_named(name, getpid()) == 1
			? 'y'
			: 'n';
		if (write(pipefd[1], &ready, 1) != 1 || killed)
			pause();
		exit(0);
	}
	close(pipefd[1]);
	if (read(pipefd[0], &ready, 1) != 1)
		ready = 0;
	close(pipefd[0]);
	is_int(ready, 'y', "%s: the child keeps exactly one spare",
	       killed ? "killed" : "exit");
	if (killed)
		kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ok(none_left(name), "%s: no spare survives its process",
	   killed ? "killed" : "exit");
}

/* A first run: in namespace mode, or degraded because the kernel
 * refused the namespaces (then there is no pool to test). */
static int namespaces_work(void)
{
	char *argv[] = {"/bin/true", NULL};
	struct sandbox_spec spec = {.argv = argv};
	struct sutra_err err = {0};
	cJSON *v = NULL;
	int ns;

	sandbox_limits_default(&spec.limits);
	if (sandbox_exec(&spec, &v, &err) < 0)
		bail("sandbox_exec: %s", err.msg);
	ns = cJSON_IsTrue(cJSON_GetObjectItem(
		cJSON_GetObjectItem(v, "layers"), "userns"));
	cJSON_Delete(v);
	return ns;
}

int main(void)
{
	plan_lazy();
	if (getenv("SUTRA_SANDBOX_DEGRADED") &&
	    strcmp(getenv("SUTRA_SANDBOX_DEGRADED"), "0") != 0 &&
	    *getenv("SUTRA_SANDBOX_DEGRADED"))
		skip_all("SUTRA_SANDBOX_DEGRADED: the pool serves namespace "
			 "mode only");
	if (!namespaces_work())
		skip_all("the kernel refuses the sandbox's namespaces here");
	test_same_verdicts();
	test_isolation();
	test_fallbacks();
	test_inherited();
	test_reaped();
	test_spare_dies_with(0);
	test_spare_dies_with(1);
	done_testing();
	return exit_status();
}
