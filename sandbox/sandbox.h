/*
 * sandbox.h - running untrusted programs (generated code and its tests)
 * and judging them (SPEC §8, doc/sutra-sandbox.7).
 *
 * The sandbox module owns everything between "run this command on these
 * files" and the verdict: the private work dir, the child's layers
 * (namespaces, read-only system view, Landlock, rlimits, uid drop,
 * no_new_privs, seccomp), the runner's poll loop, the kill of the whole
 * process tree, collecting files out without following symlinks, removing
 * the work dir, and the verdict JSON.  A verdict is always written by the
 * runner from what the kernel told it, never by the sandboxed program.
 *
 * Three doors lead here: the CLI (`sutra sandbox run`, core/cmd_sandbox.c),
 * agents through the runtime's effect provider (sandbox_effect, reached by
 * ctx.sandbox.run in Lua and host->sandbox_run in plugins), and the unit
 * tests and benchmarks, which call sandbox_exec directly.
 *
 * Thread-safe: runs may go on concurrently from several threads.  Each run
 * forks, so the children only call async-signal-safe code.
 */
#ifndef SUTRA_SANDBOX_H
#define SUTRA_SANDBOX_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct agent_ctx;

/* Resource limits of one run.  sandbox_limits_default gives SPEC §8's. */
struct sandbox_limits {
	int64_t wall_ms;          /* wall clock deadline (10 s) */
	int64_t cpu_ms;           /* RLIMIT_CPU, rounded up to seconds (10 s) */
	uint64_t memory_bytes;    /* RLIMIT_AS (1 GiB) */
	uint64_t procs;           /* RLIMIT_NPROC (64) */
	uint64_t open_files;      /* RLIMIT_NOFILE (256) */
	uint64_t file_bytes;      /* RLIMIT_FSIZE, per file (16 MiB) */
	uint64_t stack_bytes;     /* RLIMIT_STACK (8 MiB) */
	uint64_t workdir_bytes;   /* size of the work dir tmpfs (64 MiB) */
	uint64_t workdir_inodes;  /* inodes of the work dir tmpfs (16384) */
	uint64_t capture_bytes;   /* kept per stream, head + tail (1 MiB) */
	uint64_t output_bytes;    /* total output before the kill (16 MiB) */
	uint64_t collect_bytes;   /* largest file collected out (1 MiB) */
};

void sandbox_limits_default(struct sandbox_limits *limits);

/* A file the runner writes into the work dir before the program starts. */
struct sandbox_file {
	const char *path;         /* relative, no "..", no empty component */
	const char *data;
	size_t len;
	int executable;           /* mode 0755 instead of 0644 */
};

/*
 * What to run.  Everything is borrowed for the duration of sandbox_exec.
 * argv[0] is an absolute path, a path relative to the work dir when it
 * holds a '/', or a name looked up in the sandbox's PATH.
 */
struct sandbox_spec {
	char *const *argv;                /* NULL-terminated, at least one */
	char *const *env;                 /* extra NAME=VALUE, NULL-terminated,
					     may be NULL */
	const char *profile;              /* python | native | shell (NULL:
					     shell) */
	struct sandbox_limits limits;
	const struct sandbox_file *files; /* written into the work dir */
	size_t n_files;
	const char *input_dir;            /* host dir copied in, or NULL */
	char *const *collect;             /* relative paths returned in
					     verdict.files, NULL-terminated,
					     may be NULL */
	const char *parent_dir;           /* where the work dir is made (NULL:
					     $TMPDIR or /tmp) */
	int keep;                         /* leave the work dir on disk */
	int force_degraded;               /* run without namespaces (also
					     SUTRA_SANDBOX_DEGRADED=1) */
};

/*
 * Runs spec and returns its verdict (SPEC §8) as a new cJSON object in
 * *verdict (caller frees with cJSON_Delete).  A sandbox that could not be
 * set up is still a verdict, with status "error" and an "error" message;
 * -1 (and *verdict NULL) means the spec itself is invalid (SUTRA_EUSAGE)
 * or memory ran out.
 */
int sandbox_exec(const struct sandbox_spec *spec, cJSON **verdict,
		 struct sutra_err *err);

/*
 * The JSON form of a run: request = {cmd: [...], files: {path: text |
 * {content, executable}}, dir, profile, limits: {...}, collect: [...],
 * env: {...}, keep, degraded}.  Validates it (SUTRA_EUSAGE naming the
 * field) and returns the verdict like sandbox_exec.  request is borrowed.
 */
int sandbox_run_json(const cJSON *request, cJSON **verdict,
		     struct sutra_err *err);

/* The runtime's sandbox effect provider (rt->sandbox_run): the agent's
 * request in, the verdict out (caller frees). */
int sandbox_effect(struct agent_ctx *ctx, const cJSON *request,
		   cJSON **verdict, struct sutra_err *err);

/*
 * Parses a limits object ({time, cpu, memory_mb, procs, open_files,
 * file_mb, stack_mb, workdir_mb, workdir_inodes, capture_kb, output_mb,
 * collect_kb}) over *limits.  Unknown keys and bad values are usage
 * errors naming the key.
 */
int sandbox_limits_from_json(const cJSON *obj, struct sandbox_limits *limits,
			     struct sutra_err *err);

/* The limits as the verdict reports them (new object). */
cJSON *sandbox_limits_to_json(const struct sandbox_limits *limits);

/* The layers sandbox_confine_self applied (bits). */
enum sandbox_layer {
	SANDBOX_LAYER_RLIMITS = 1 << 0,
	SANDBOX_LAYER_NETNS = 1 << 1,
	SANDBOX_LAYER_UID = 1 << 2,       /* root dropped to nobody */
	SANDBOX_LAYER_NO_NEW_PRIVS = 1 << 3,
	SANDBOX_LAYER_SECCOMP = 1 << 4,
};

/* Limits of a confined long-lived process; 0 leaves a limit unset. */
struct sandbox_confinement {
	uint64_t memory_bytes;    /* RLIMIT_AS */
	uint64_t open_files;      /* RLIMIT_NOFILE */
	uint64_t file_bytes;      /* RLIMIT_FSIZE */
};

/*
 * Confines the calling process for the rest of its life: the layers of a
 * run that fit a long-lived helper with no supervisor around it (the
 * plugin host, core/plugproc.h).  A network namespace when the kernel
 * lets us make one (else the seccomp filter is the network barrier), no
 * core dumps and no ptrace by others, the rlimits of c, root dropped to
 * nobody, no_new_privs and a seccomp filter: threads but no processes, no
 * exec, no sockets, and the syscalls no program under test makes kill it
 * (SIGSYS).  Sets *layers to what it applied.  Fails (naming the step)
 * only when rlimits, no_new_privs or seccomp cannot be had: never runs
 * with less.  Call it single-threaded.
 */
int sandbox_confine_self(const struct sandbox_confinement *c,
			 unsigned *layers, struct sutra_err *err);

/*
 * The warm pool (doc/sutra-sandbox.7, WARM POOL).  Once a process has
 * made a run in namespace mode, a background thread keeps one spare
 * sandbox ready - namespaces, root, /proc, /work and loopback built, no
 * request yet - and the next run that fits it (namespace mode, default
 * work dir size) takes it instead of building its own.  A spare serves
 * exactly one run and dies with the process.  On unless
 * SUTRA_SANDBOX_POOL=0; sandbox_pool_enable(0) turns it off for the
 * process (and ends an idle spare), as the one-run CLI does.
 */
void sandbox_pool_enable(int on);

/* Waits up to timeout_ms for a spare to be ready: 1 when one is, 0 when
 * the pool is off, failed, or was too slow.  For benchmarks and tests. */
int sandbox_pool_wait(int timeout_ms);

/* Non-zero when name is a known profile. */
int sandbox_profile_known(const char *name);

/* The exit code of `sutra sandbox run` for a verdict: 0 ok, 1 any other
 * status, 3 error. */
int sandbox_verdict_exit_code(const cJSON *verdict);

#endif
