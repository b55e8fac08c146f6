/*
 * profile.c - the sandbox profiles and the rules of their seccomp filters.
 *
 * A profile is a row of a const table.  Its filter is built here with
 * libseccomp and exported as a BPF program: at build time by mkfilters,
 * which writes every filter into the binary (filters-prebuilt.c), and at
 * run time only where that table does not fit (filters.c).
 *
 * Every filter kills (through a user notification, so that the runner can
 * name the syscall before it kills the tree) on a wrong architecture -
 * i386 `int 0x80` and x32 numbers - and on syscalls that a program under
 * test never legitimately makes; answers EPERM to plausible ones we deny
 * (sockets other than unix and, with a network namespace, loopback inet;
 * TIOCSTI/TIOCLINUX matched on 32 bits as the kernel does; kill(-1));
 * and ENOSYS to clone3, whose flags live in memory seccomp cannot read,
 * so libc falls back to clone, whose flags it can.
 */
#include <errno.h>
#include <linux/audit.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

static const char *const python_env[] = {
	"PYTHONDONTWRITEBYTECODE=1", "PYTHONNOUSERSITE=1",
	"PYTHONUNBUFFERED=1", NULL,
};

static const struct sbx_profile profiles[] = {
	{
		.name = "shell",
		.summary = "shells and build tools: processes and threads",
	},
	{
		.name = "python",
		.env = python_env,
		.summary = "python3 and its test runners: processes, threads, "
			   "no bytecode files, no user site",
	},
	{
		.name = "native",
		.flags = SBX_PROFILE_NO_FORK,
		.summary = "one compiled program: threads but no new "
			   "processes",
	},
};

/* The long-lived plugin host: threads, but no processes, no exec and no
 * sockets; it reaches the world only through its pipes to sutra.  No
 * runner listens for notifications: the kill list kills the process
 * (SIGSYS), which its parent reports. */
static const struct sbx_profile host_profile = {
	.name = "plugin-host",
	.flags = SBX_PROFILE_NO_FORK | SBX_PROFILE_NO_EXEC |
		 SBX_PROFILE_NO_SOCKET | SBX_PROFILE_KILL,
	.summary = "a plugin host process: threads only, no exec, no sockets",
};

#define N_PROFILES (sizeof(profiles) / sizeof(profiles[0]))
_Static_assert(N_PROFILES + 1 <= SBX_MAX_PROFILES, "SBX_MAX_PROFILES");

/* Never legitimate in a program under test: the process is killed and the
 * verdict names the syscall. */
static const char *const kill_syscalls[] = {
	"ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
	"kexec_load", "kexec_file_load", "init_module", "finit_module",
	"delete_module", "create_module", "bpf", "perf_event_open",
	"userfaultfd", "keyctl", "add_key", "request_key", "mount",
	"umount2", "pivot_root", "chroot", "move_mount", "open_tree",
	"fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
	"setns", "unshare", "open_by_handle_at", "name_to_handle_at",
	"io_uring_setup", "io_uring_enter", "io_uring_register", "acct",
	"swapon", "swapoff", "reboot", "syslog", "quotactl",
	"quotactl_fd", "lookup_dcookie", "nfsservctl", "uselib", "vhangup",
	"iopl", "ioperm", "_sysctl", "fanotify_init", "pidfd_getfd",
};

/* Plausible but denied: they fail with EPERM and the program goes on. */
static const char *const eperm_syscalls[] = {
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
	"sethostname", "setdomainname", "mbind", "migrate_pages",
	"move_pages", "set_mempolicy", "memfd_secret",
};

/* clone(2) flags that make namespaces: unshare by another name. */
static const unsigned long ns_clone_flags[] = {
	CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
	CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP, 0x00000080 /* TIME */,
};

const struct sbx_profile *sbx_profile_find(const char *name)
{
	for (size_t i = 0; i < N_PROFILES; i++)
		if (strcmp(profiles[i].name, name) == 0)
			return &profiles[i];
	return NULL;
}

int sandbox_profile_known(const char *name)
{
	return name && sbx_profile_find(name) != NULL;
}

const struct sbx_profile *sbx_profile_host(void)
{
	return &host_profile;
}

size_t sbx_profile_index(const struct sbx_profile *p)
{
	return p == &host_profile ? N_PROFILES : (size_t)(p - profiles);
}

const struct sbx_profile *sbx_profile_at(size_t i)
{
	return i < N_PROFILES ? &profiles[i] : i == N_PROFILES ? &host_profile
							       : NULL;
}

static int add_list(scmp_filter_ctx ctx, uint32_t action,
		    const char *const *names, size_t n, const char **bad)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		/* Not on this architecture: nothing to deny. */
		if (nr == __NR_SCMP_ERROR)
			continue;
		if (seccomp_rule_add(ctx, action, nr, 0) < 0) {
			*bad = names[i];
			return -1;
		}
	}
	return 0;
}

/* A 32-bit comparison: the kernel reads these arguments as int, so the
 * upper half of the register must not matter (hi32 & 0 == 0). */
#define ARG32_EQ(i, v) SCMP_CMP64((i), SCMP_CMP_MASKED_EQ, 0xffffffffULL, (v))

static int add_socket_rules(scmp_filter_ctx ctx, const struct sbx_profile *p,
			    int netns)
{
	static const char *const calls[] = {"socket", "socketpair"};

	/* No sockets at all: socketpair(AF_UNIX) alone reaches nothing. */
	if ((p->flags & SBX_PROFILE_NO_SOCKET) &&
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket),
			     0) < 0)
		return -1;
	for (size_t c = (p->flags & SBX_PROFILE_NO_SOCKET) ? 1 : 0; c < 2;
	     c++) {
		int nr = seccomp_syscall_resolve_name(calls[c]);
		/* Every family allowed is at most AF_INET6 (10): one
		 * unsigned 64-bit comparison refuses all larger values (the
		 * kernel reads an int; a value with its upper half set is
		 * larger too, and refused), single ones the few below.
		 * Fewer rules: the filter compiles in half the time and is
		 * a quarter shorter. */
		unsigned top = netns ? AF_INET6 : AF_UNIX;
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 1,
				     SCMP_A0_64(SCMP_CMP_GT, top)) < 0)
			return -1;
		for (unsigned family = 0; family < top; family++) {
			if (family == AF_UNIX ||
			    (netns && (family == AF_INET || family == AF_INET6)))
				continue;
			if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 1,
					     ARG32_EQ(0, family)) < 0)
				return -1;
		}
	}
	return 0;
}

static int add_process_rules(scmp_filter_ctx ctx, const struct sbx_profile *p,
			     uint32_t kill)
{
	int clone_nr = SCMP_SYS(clone);

	for (size_t i = 0; i < sizeof(ns_clone_flags) / sizeof(*ns_clone_flags);
	     i++)
		if (seccomp_rule_add(ctx, kill, clone_nr, 1,
				     SCMP_A0_64(SCMP_CMP_MASKED_EQ,
						ns_clone_flags[i],
						ns_clone_flags[i])) < 0)
			return -1;
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3),
			     0) < 0)
		return -1;
	if ((p->flags & SBX_PROFILE_NO_EXEC) &&
	    (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(execve),
			      0) < 0 ||
	     seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(execveat),
			      0) < 0))
		return -1;
	if (!(p->flags & SBX_PROFILE_NO_FORK))
		return 0;
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(fork), 0) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(vfork), 0) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), clone_nr, 1,
			     SCMP_A0_64(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0)) < 0)
		return -1;
	return 0;
}

static int add_misc_rules(scmp_filter_ctx ctx)
{
	/* TIOCSTI pushes bytes into a terminal's input; TIOCLINUX can too. */
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
			     ARG32_EQ(1, TIOCSTI)) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
			     ARG32_EQ(1, TIOCLINUX)) < 0)
		return -1;
	/* kill(-1) reaches every process the sender may signal: without a
	 * pid namespace, other processes of the same uid. */
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(kill), 1,
			     ARG32_EQ(0, 0xffffffffu)) < 0)
		return -1;
	return 0;
}

/* Exports ctx's BPF through a memfd (libseccomp 2.5 writes to an fd). */
static int export_bpf(scmp_filter_ctx ctx, struct sock_fprog *out,
		      struct sutra_err *err)
{
	int fd = memfd_create("sutra-seccomp", MFD_CLOEXEC);
	off_t size;
	void *buf = NULL;
	int rc;

	if (fd < 0)
		return err_set(err, SUTRA_ERUNTIME, "memfd_create: %s",
			       strerror(errno));
	if ((rc = seccomp_export_bpf(ctx, fd)) < 0) {
		err_set(err, SUTRA_ERUNTIME, "seccomp_export_bpf: %s",
			strerror(-rc));
		goto fail;
	}
	size = lseek(fd, 0, SEEK_END);
	if (size <= 0 || size % sizeof(struct sock_filter) != 0 ||
	    !(buf = malloc(size)) || pread(fd, buf, size, 0) != size) {
		err_set(err, SUTRA_ERUNTIME, "seccomp filter export: %s",
			buf ? "short read" : strerror(errno));
		goto fail;
	}
	close(fd);
	out->len = size / sizeof(struct sock_filter);
	out->filter = buf;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}

/* The rules every profile shares; kill is the action for the syscalls
 * never legitimate (a notification the runner answers, or a plain kill
 * where there is no runner). */
static int add_rules(scmp_filter_ctx ctx, const struct sbx_profile *p,
		     int netns, uint32_t kill, const char **bad)
{
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, kill) < 0 ||
	    add_list(ctx, kill, kill_syscalls,
		     sizeof(kill_syscalls) / sizeof(*kill_syscalls), bad) < 0 ||
	    add_list(ctx, SCMP_ACT_ERRNO(EPERM), eperm_syscalls,
		     sizeof(eperm_syscalls) / sizeof(*eperm_syscalls), bad) < 0 ||
	    add_socket_rules(ctx, p, netns) < 0 ||
	    add_process_rules(ctx, p, kill) < 0 || add_misc_rules(ctx) < 0)
		return -1;
	return 0;
}

int sbx_filter_compile(const struct sbx_profile *p, int netns,
		       struct sock_fprog *out, struct sutra_err *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	uint32_t kill = (p->flags & SBX_PROFILE_KILL) ? SCMP_ACT_KILL_PROCESS
						      : SCMP_ACT_NOTIFY;
	const char *bad = NULL;
	int rc = -1;

	if (!ctx)
		return err_set(err, SUTRA_ENOMEM, "seccomp_init failed");
	/* A binary tree of syscall numbers, not a chain of comparisons:
	 * the kernel runs the filter over every syscall number when it
	 * loads it (its constant-action cache), which costs ~250 us per
	 * run with the chain. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) < 0) {
		err_set(err, SUTRA_ERUNTIME, "seccomp profile '%s': cannot "
			"optimize the filter", p->name);
		goto out;
	}
	/* Any other architecture (i386 int 0x80, x32) is killed, named. */
	if (add_rules(ctx, p, netns, kill, &bad) < 0) {
		err_set(err, SUTRA_ERUNTIME,
			"seccomp profile '%s': cannot add rule%s%s", p->name,
			bad ? " for " : "", bad ? bad : "");
		goto out;
	}
	rc = export_bpf(ctx, out, err);
out:
	seccomp_release(ctx);
	return rc;
}

uint32_t sbx_filter_arch(void)
{
	return seccomp_arch_native();
}

void sbx_syscall_name(uint32_t arch, int nr, char *buf, size_t n)
{
	const uint32_t x32_bit = 0x40000000u;
	char *name = NULL;

	if (arch == AUDIT_ARCH_X86_64 && ((uint32_t)nr & x32_bit)) {
		snprintf(buf, n, "x32:%d", (int)((uint32_t)nr & ~x32_bit));
		return;
	}
	if (arch == AUDIT_ARCH_I386)
		name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86, nr);
	else
		name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	if (arch == AUDIT_ARCH_I386)
		snprintf(buf, n, "i386:%s", name ? name : "?");
	else if (name)
		snprintf(buf, n, "%s", name);
	else
		snprintf(buf, n, "syscall_%d", nr);
	free(name);
}
