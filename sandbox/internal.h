/*
 * internal.h - what the files of sandbox/ share and nobody else sees.
 *
 *   profile.c  the seccomp profiles (const table) and the rules of
 *              their filters, compiled with libseccomp
 *   filters.c  the filters a process uses: built into the binary at
 *              build time (mkfilters.c writes filters-prebuilt.c), or
 *              compiled on first use where those do not fit
 *   child.c    the processes of a run: the supervisor (pid-namespace
 *              init, or a subreaper in degraded mode) and the payload's
 *              layers up to exec; async-signal-safe only
 *   runner.c   sandbox_exec: the plan, the poll loop, the kill, the
 *              verdict
 *   super.c    the supervisor from outside: its namespace-mode plan,
 *              uids and rlimits, its start (pipes, clone, uid/gid maps)
 *              and its end
 *   files.c    host-side file work that never follows a symlink
 *   capture.c  head + tail output capture and UTF-8 clean-up
 *   request.c  the JSON request, limits, and the runtime effect provider
 *   pool.c     the warm pool: one spare supervisor whose namespaces and
 *              root are built ahead by a background thread, for exactly
 *              one run, and the request it is handed
 */
#ifndef SUTRA_SANDBOX_INTERNAL_H
#define SUTRA_SANDBOX_INTERNAL_H

#include <linux/filter.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "sandbox.h"

/* ---- profiles (profile.c) ---- */

enum {
	SBX_PROFILE_NO_FORK = 1 << 0,   /* threads only: fork/vfork EPERM */
	SBX_PROFILE_NO_EXEC = 1 << 1,   /* execve/execveat EPERM */
	SBX_PROFILE_NO_SOCKET = 1 << 2, /* socket EPERM (socketpair unix) */
	SBX_PROFILE_KILL = 1 << 3,      /* kill list kills: no runner */
};

struct sbx_profile {
	const char *name;
	unsigned flags;
	const char *const *env;         /* NAME=VALUE the profile adds */
	const char *summary;
};

const struct sbx_profile *sbx_profile_find(const char *name);

/* The plugin host's profile; the profiles by index, the plugin host's
 * last, then NULL (for mkfilters and the tests); p's index, less than
 * SBX_MAX_PROFILES. */
#define SBX_MAX_PROFILES 8
const struct sbx_profile *sbx_profile_host(void);
const struct sbx_profile *sbx_profile_at(size_t i);
size_t sbx_profile_index(const struct sbx_profile *p);

/*
 * Compiles p's filter with libseccomp, for a payload with (netns != 0) or
 * without its own network namespace, into out->filter (malloc'd).  The
 * kill list notifies the runner, or kills with SBX_PROFILE_KILL.
 */
int sbx_filter_compile(const struct sbx_profile *p, int netns,
		       struct sock_fprog *out, struct sutra_err *err);

/* The AUDIT_ARCH_* the filters are compiled for: the native one. */
uint32_t sbx_filter_arch(void);

/*
 * The filters compiled at build time (filters-prebuilt.c, written by
 * mkfilters): one row per profile and network variant, ended by a NULL
 * profile; none when the build host could not compile them.  Used only
 * when sbx_prebuilt_arch is the running architecture.
 */
struct sbx_prebuilt {
	const char *profile;
	int netns;
	const struct sock_filter *code;
	unsigned short len;
};
extern const struct sbx_prebuilt sbx_prebuilt[];
extern const uint32_t sbx_prebuilt_arch;

/*
 * The BPF program of a profile, for a payload with (netns != 0) or
 * without its own network namespace: the prebuilt one, or compiled on
 * first use and kept for the life of the process; borrowed.
 */
int sbx_filter_get(const struct sbx_profile *p, int netns,
		   const struct sock_fprog **prog, struct sutra_err *err);

/*
 * Loads the plugin host's filter into the calling process, which has set
 * no_new_privs: the kill list kills the process, there being no runner
 * to notify; exec, fork and socket fail with EPERM; threads are allowed.
 */
int sbx_filter_load_host(struct sutra_err *err);

/* Names the syscall of a seccomp notification: "ptrace", "i386:getpid",
 * "x32:syscall_1073741925". */
void sbx_syscall_name(uint32_t arch, int nr, char *buf, size_t n);

/* ---- the child processes (child.c) ---- */

enum sbx_mode {
	SBX_MODE_NS,        /* user+mount+pid+net+ipc+uts namespaces */
	SBX_MODE_DEGRADED,  /* no namespaces: subreaper + uid drop */
};

/* What the supervisor tells the runner over the status pipe.  Fixed size
 * and below PIPE_BUF, so each message is one atomic write. */
enum sbx_msg_type {
	SBX_MSG_READY = 1,  /* layers up, files written: the payload starts */
	SBX_MSG_ERROR,      /* a set-up step failed (what, err_no) */
	SBX_MSG_DONE,       /* payload and every other process reaped */
	SBX_MSG_SPARE,      /* a spare's namespace is built: waiting for
			       its request (struct sbx_wire) */
};

enum sbx_stage {
	SBX_STAGE_NAMESPACE = 1,  /* mounts and other namespace set-up: the
				     runner may retry in degraded mode */
	SBX_STAGE_PAYLOAD,        /* the payload's own layers and exec */
};

struct sbx_msg {
	int type;
	int stage;
	int err_no;
	int wstatus;          /* DONE: the payload's wait status */
	int payload_reaped;   /* DONE: wstatus is valid */
	int saw_sigxcpu;      /* DONE: some process died of SIGXCPU */
	int saw_sigxfsz;      /* DONE: some process died of SIGXFSZ */
	int leftovers;        /* DONE: processes that would not die */
	int64_t payload_cpu_us;  /* DONE: the payload's own CPU time */
	int64_t cpu_us;       /* DONE: every reaped process's CPU time */
	int64_t maxrss_kb;    /* DONE: largest resident set */
	char what[256];       /* ERROR: the step, e.g. "mount proc" */
};

/* Control bytes from the runner to the supervisor. */
#define SBX_CTL_MAPPED 'M'  /* uid/gid maps written (NS mode) */
#define SBX_CTL_KILL 'K'    /* kill every process of the run now */
#define SBX_CTL_DONE 'D'    /* collected: exit */

#define SBX_INSIDE_UID 1000     /* the payload's uid inside the userns */
/* NS mode: the directory of the private mount namespace that the new
 * root's tmpfs is mounted on before the pivot.  Only the namespace sees
 * the mount, so nothing is made on the host (and nothing is left there
 * when the runner is killed). */
#define SBX_NS_ROOT "/tmp"
#define SBX_MAX_RLIMITS 12

/*
 * Everything the children need, prepared by the runner before the clone
 * so that the children never allocate: paths, argv, envp, the filter,
 * rlimits, fds.  Borrowed by the children (they run on a copy).
 */
struct sbx_plan {
	int mode;
	int spare;                  /* NS mode: build the namespace, then
				       wait for the request's part of the
				       plan on ctl_r (struct sbx_wire) */
	/* supervisor side of the pipes */
	int ctl_r, st_w, out_w, err_w, notif_child;

	const char *ns_root;        /* NS mode: where the new root is built */
	const char *workdir;        /* the payload's work dir: "/work" or W */
	const char *tmpfs_opts;     /* options of the work dir tmpfs */

	/* files written into the work dir before the payload starts */
	const struct sandbox_file *files;
	size_t n_files;

	/* credentials */
	int switch_uid;             /* setres[ug]id to uid/gid */
	int set_groups;             /* setgroups(0, NULL) is allowed */
	uid_t uid;
	gid_t gid;
	uid_t init_uid;             /* NS mode: the supervisor's inside uid */
	gid_t init_gid;

	/* payload */
	const char *exe;            /* absolute, as the payload sees it */
	char *const *argv;
	char *const *envp;
	struct {
		int resource;
		struct rlimit value;
	} rlimits[SBX_MAX_RLIMITS];
	int n_rlimits;
	int landlock_abi;           /* 0: not available */
	int landlock_net;           /* deny TCP bind/connect (no netns) */
	int landlock_fd;            /* the supervisor's ruleset for the
				       payload (child.c sets it) */
	const struct sock_fprog *filter;
	int kill_as_uid;            /* degraded root: kill(-1) as uid */
};

/*
 * The part of a plan that depends on the request, as a spare supervisor
 * receives it on its control socket: this head, then the filter's
 * instructions, then exe, argv and envp as NUL-terminated strings, then
 * per file a uint64_t length, a uint32_t executable flag, the path with
 * its NUL and the data.  Everything else of the plan (ids, work dir
 * tmpfs, pipes) was fixed when the spare was built.
 */
#define SBX_WIRE_MAGIC 0x57584253u      /* "SBXW" */
#define SBX_WIRE_MAX (4u << 20)         /* whole message */
#define SBX_WIRE_MAX_STRS 4096          /* argv + envp */
#define SBX_WIRE_MAX_FILES 1024

struct sbx_wire {
	uint32_t magic;
	uint32_t len;                 /* the whole message, head included */
	uint32_t n_argv, n_envp, n_files, filter_len;
	int32_t landlock_abi, landlock_net, n_rlimits;
	struct {
		int32_t resource;
		uint64_t cur, max;
	} rlimits[SBX_MAX_RLIMITS];
};

/* Writes all n bytes (send with MSG_NOSIGNAL on a socket, so that a
 * gone reader is an error, not a SIGPIPE); 0 or -1.  Async-signal-safe:
 * the supervisor uses it too. */
int sbx_write_all(int fd, const void *buf, size_t n, int sock);

/* The supervisor's main: never returns. */
void sbx_supervisor_main(const struct sbx_plan *plan)
	__attribute__((noreturn));

/* A supervisor just cloned, and the runner's ends of its pipes
 * (non-blocking but ctl; -1 when closed). */
struct sbx_super {
	pid_t pid;
	int pidfd;
	int out, err, status, notif, ctl;
};

/*
 * Makes the pipes of plan (filling its fd fields), clones its supervisor
 * (with every namespace in NS mode) and, in NS mode, writes the uid/gid
 * maps - as root the supervisor is init_uid and the payload uid on the
 * host, else both are the caller - and lets it go on ('M').  Returns 0,
 * or -1 with why filled and nothing left open or running; *ns_failed
 * says the kernel refused the namespaces.  Any thread may call it; the
 * supervisor dies with the calling thread (PDEATHSIG).
 */
int sbx_super_start(struct sbx_plan *plan, int root, uid_t uid,
		    uid_t init_uid, struct sbx_super *s, int *ns_failed,
		    char *why, size_t why_len);

/* Closes the runner's ends, kills the supervisor (and with it, in NS
 * mode, everything in its pid namespace) and reaps it. */
void sbx_super_end(struct sbx_super *s);

/* The request-independent part of an NS-mode plan: mode, root, work
 * dir and its tmpfs (options formatted into opts, which p borrows), the
 * ids inside, Landlock.  The spare and the cold run share it. */
void sbx_plan_ns(struct sbx_plan *p, int root,
		 const struct sandbox_limits *l, char *opts, size_t opts_len);

/* The kernel's Landlock ABI version, 0 without it (cached). */
int sbx_landlock_abi(void);

/* A per-run pair of host uids: the payload's and (NS mode) the
 * supervisor's; for a non-root runner both are its own. */
void sbx_pick_uids(int *root, uid_t *uid, uid_t *init_uid);

/* The payload's rlimits from the run's limits (CPU, address space,
 * processes, file size, open files, stack, and zero or small for core,
 * memlock, message queues, pending signals, priorities). */
void sbx_plan_rlimits(struct sbx_plan *p, const struct sandbox_limits *l);

/* close(*fd) if open; *fd becomes -1. */
void sbx_close_fd(int *fd);

/* ---- the warm pool (pool.c) ---- */

/* A spare: a supervisor whose namespace is built, for one run. */
struct sbx_spare {
	struct sbx_super sup;
	uid_t uid, init_uid;          /* as sbx_pick_uids */
};

/*
 * Hands the spare over to the caller (who owns it from then on, to end
 * with sbx_super_end) when the pool is on in this process, one is ready
 * and it fits limits (its work dir tmpfs is the default size).  Returns
 * 1 when taken, 0 when the run must build its own.
 */
int sbx_pool_take(const struct sandbox_limits *limits,
		  struct sbx_spare *spare);

/* Takes over the reaping of a supervisor that was sent SIGKILL, and its
 * pidfd (closed after), when the pool is on in this process: 1, else 0
 * and the caller reaps. */
int sbx_pool_reap_later(pid_t pid, int pidfd);

/* An NS-mode run ended: from now on keep a spare ready (starts the
 * builder thread on the first call). */
void sbx_pool_run_done(void);

/* The request's part of plan as a struct sbx_wire message (new buffer,
 * caller frees).  Returns 0, 1 when it does not fit a spare (too large,
 * too many strings or files), -1 when out of memory. */
int sbx_wire_encode(const struct sbx_plan *plan, char **msg, size_t *len);

/* Non-zero when plan's request, with a filter of filter_len
 * instructions, makes a message of at most max bytes (and SBX_WIRE_MAX)
 * within the string and file counts. */
int sbx_wire_fits(const struct sbx_plan *plan, size_t filter_len,
		  size_t max);

/* clone(2) without glibc's fork machinery (the runner may be
 * multi-threaded): a copy-on-write child, like fork.  pidfd may be NULL. */
pid_t sbx_raw_clone(unsigned long flags, int *pidfd);

/* ---- host-side files (files.c) ---- */

/*
 * Checks a relative path from a request: not empty, not absolute, no "."
 * or ".." or empty components, no NUL, at most 1024 bytes.  Returns 0 or
 * a usage error naming it.
 */
int sbx_path_check(const char *path, struct sutra_err *err);

/* openat2 below dirfd with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS, O_NOFOLLOW and O_CLOEXEC added to flags. */
int sbx_open_beneath(int dirfd, const char *path, int flags);

/* One file read into memory (files.c owns data; sbx_files_free). */
struct sbx_filebuf {
	char *path;
	char *data;
	size_t len;
	int executable;
};

/*
 * Reads the regular files below host dir into *files (appended; the
 * array grows), refusing symlinks, special files and more than max
 * bytes in all.  Directories become implicit in the paths.
 */
int sbx_read_tree(const char *dir, struct sbx_filebuf **files, size_t *n,
		  uint64_t max, struct sutra_err *err);
void sbx_files_free(struct sbx_filebuf *files, size_t n);

/*
 * Reads one file below dirfd for collection: a regular file with one
 * link, at most max bytes, owned by owner (unless owner is (uid_t)-1),
 * never through a symlink.  Returns 0 and a new buffer, or -1 with a
 * short reason in why ("symlink or missing", "not a regular file", ...).
 */
int sbx_collect_file(int dirfd, const char *path, size_t max, uid_t owner,
		     char **data, size_t *len, const char **why);

/*
 * Copies the tree below src into dst (both directory fds): regular
 * files and directories only, symlinks and hardlinked files skipped.
 * Counts what it skipped in *skipped.
 */
int sbx_copy_tree(int src, int dst, unsigned *skipped,
		  struct sutra_err *err);

/*
 * Unlinks what is not a directory or a regular file with one link below
 * dirfd (symlinks, FIFOs, sockets, hard links), so that a kept work dir
 * holds nothing that leads elsewhere.  Returns how many it unlinked.
 */
unsigned sbx_prune_tree(int dirfd);

/*
 * Removes everything below dirfd and then name in parent, never
 * following a symlink, and getting through modes like 000 and very deep
 * trees.  Returns 0 or -1 with err naming the entry.
 */
int sbx_remove_tree(int parent, const char *name, struct sutra_err *err);

/* Largest file size below dirfd (no symlinks followed). */
uint64_t sbx_largest_file(int dirfd);

/* ---- output capture (capture.c) ---- */

/* Keeps the first and the last cap/2 bytes of a stream. */
struct sbx_capture {
	char *head;
	size_t head_len;
	char *tail;           /* ring buffer */
	size_t tail_len, tail_pos;
	size_t half;
	uint64_t total;       /* bytes seen */
};

int sbx_capture_init(struct sbx_capture *c, size_t cap);
void sbx_capture_add(struct sbx_capture *c, const char *buf, size_t n);
int sbx_capture_truncated(const struct sbx_capture *c);
/* The captured text, valid UTF-8 without NULs, with a marker where bytes
 * were dropped.  New string (caller frees). */
char *sbx_capture_text(const struct sbx_capture *c);
void sbx_capture_free(struct sbx_capture *c);

/* A copy of buf made valid UTF-8 (bad bytes and NULs become U+FFFD). */
char *sbx_utf8_clean(const char *buf, size_t n);

#endif
