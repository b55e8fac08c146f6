/*
 * t/plugins/bad.c - a test plugin whose agents misbehave in every way an
 * isolated plugin must survive: they crash, abort, leak memory until the
 * limit stops them, spin without ever polling cancelled(), exit, make a
 * forbidden system call, or try the network.  bad-ok answers (so a test
 * can show that the next call works again), and bad-probe reports what
 * the sandbox lets it do.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sutra/plugin.h>

static int segv_run(struct sutra_call *call)
{
	volatile int *p = NULL;

	(void)call;
	*p = 1;
	return 0;
}

static int abort_run(struct sutra_call *call)
{
	(void)call;
	abort();
}

/* Leaks 1 MiB at a time and uses it, never checking malloc: the usual
 * leak, which dies when the address-space limit makes malloc fail. */
static int leak_run(struct sutra_call *call)
{
	(void)call;
	for (;;) {
		char *p = malloc(1 << 20);
		memset(p, 1, 1 << 20);
	}
	return 0;
}

/* Spins without polling cancelled(). */
static int spin_run(struct sutra_call *call)
{
	volatile unsigned long n = 0;

	(void)call;
	for (;;)
		n++;
	return 0;
}

static int exit_run(struct sutra_call *call)
{
	(void)call;
	exit(7);
}

/* ptrace is on the sandbox's kill list. */
static int ptrace_run(struct sutra_call *call)
{
	(void)call;
	ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	return 0;
}

/* Reports what the sandbox allows: a socket, a fork, an exec.  Safe to
 * run in sutra's own process too. */
static int probe_run(struct sutra_call *call)
{
	char buf[256];
	int s = socket(AF_INET, SOCK_STREAM, 0);
	int sock_errno = s < 0 ? errno : 0;
	pid_t pid = fork();
	int fork_errno = pid < 0 ? errno : 0;
	/* A program that does not exist: exec fails either way, with
	 * ENOENT where it is allowed, and never replaces the caller. */
	char *argv[] = {"/nonexistent/sutra-probe", NULL};

	if (s >= 0)
		close(s);
	if (pid == 0)
		_exit(0);
	execv(argv[0], argv);
	snprintf(buf, sizeof(buf),
		 "{\"socket\":\"%s\",\"fork\":\"%s\",\"exec\":\"%s\","
		 "\"uid\":%d}",
		 sock_errno ? strerror(sock_errno) : "allowed",
		 fork_errno ? strerror(fork_errno) : "allowed",
		 strerror(errno), (int)getuid());
	return call->host->set_output(call, buf);
}

static int ok_run(struct sutra_call *call)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "{\"ok\":true,\"pid\":%d}", (int)getpid());
	return call->host->set_output(call, buf);
}

/* Misbehaves as input "do" says (segv, abort, leak, spin, exit), or
 * answers like bad-ok: one agent whose child must come back after each
 * death. */
static int maybe_run(struct sutra_call *call)
{
	static const struct {
		const char *word;
		int (*run)(struct sutra_call *);
	} acts[] = {
		{"\"segv\"", segv_run}, {"\"abort\"", abort_run},
		{"\"leak\"", leak_run}, {"\"spin\"", spin_run},
		{"\"exit\"", exit_run},
	};
	const char *in = call->host->input(call);

	for (size_t i = 0; i < sizeof(acts) / sizeof(*acts); i++)
		if (strstr(in, acts[i].word))
			return acts[i].run(call);
	return ok_run(call);
}

static const struct sutra_agent agents[] = {
	{.name = "bad-maybe", .description = "misbehaves on request",
	 .run = maybe_run},
	{.name = "bad-segv", .description = "segfaults", .run = segv_run},
	{.name = "bad-abort", .description = "aborts", .run = abort_run},
	{.name = "bad-leak", .description = "leaks memory", .run = leak_run},
	{.name = "bad-spin", .description = "spins forever", .run = spin_run},
	{.name = "bad-exit", .description = "calls exit(7)", .run = exit_run},
	{.name = "bad-ptrace", .description = "calls ptrace",
	 .run = ptrace_run},
	{.name = "bad-probe", .description = "probes the sandbox",
	 .run = probe_run},
	{.name = "bad-ok", .description = "answers", .run = ok_run},
};

static const struct sutra_plugin plugin = {
	SUTRA_PLUGIN_INIT,
	.name = "bad",
	.version = "1.0.0",
	.agents = agents,
	.n_agents = sizeof(agents) / sizeof(*agents),
};

SUTRA_PLUGIN_EXPORT const struct sutra_plugin *sutra_plugin_entry(void)
{
	return &plugin;
}
