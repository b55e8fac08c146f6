/*
 * confine.c - the sandbox's layers for a long-lived process that confines
 * itself (sandbox_confine_self, see sandbox.h).  A run's payload gets its
 * layers from a supervisor (child.c); a plugin host lives across many
 * calls with no supervisor, so it applies what fits on itself, in the
 * order that keeps each step possible: namespaces and the uid drop need
 * privileges the later layers take away.
 */
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "internal.h"

#define NOBODY 65534

static int limit(int resource, uint64_t value, const char *name,
		 struct sutra_err *err)
{
	struct rlimit rl = {(rlim_t)value, (rlim_t)value};

	if (setrlimit(resource, &rl) != 0)
		return err_set(err, SUTRA_ERUNTIME, "setrlimit %s: %s", name,
			       strerror(errno));
	return 0;
}

static int set_rlimits(const struct sandbox_confinement *c,
		       struct sutra_err *err)
{
	if (limit(RLIMIT_CORE, 0, "RLIMIT_CORE", err) < 0 ||
	    (c->memory_bytes &&
	     limit(RLIMIT_AS, c->memory_bytes, "RLIMIT_AS", err) < 0) ||
	    (c->open_files &&
	     limit(RLIMIT_NOFILE, c->open_files, "RLIMIT_NOFILE", err) < 0) ||
	    (c->file_bytes &&
	     limit(RLIMIT_FSIZE, c->file_bytes, "RLIMIT_FSIZE", err) < 0))
		return -1;
	return 0;
}

/* A network namespace of our own: as root directly, otherwise inside a
 * new user namespace.  Best effort: seccomp denies sockets anyway. */
static int own_netns(void)
{
	if (geteuid() == 0)
		return unshare(CLONE_NEWNET) == 0;
	return unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0;
}

/* Root gives up its uid, gids and capabilities. */
static int drop_root(struct sutra_err *err)
{
	if (setgroups(0, NULL) != 0 || setresgid(NOBODY, NOBODY, NOBODY) != 0 ||
	    setresuid(NOBODY, NOBODY, NOBODY) != 0)
		return err_set(err, SUTRA_ERUNTIME, "dropping root: %s",
			       strerror(errno));
	return 0;
}

int sandbox_confine_self(const struct sandbox_confinement *c,
			 unsigned *layers, struct sutra_err *err)
{
	*layers = 0;
	if (own_netns())
		*layers |= SANDBOX_LAYER_NETNS;
	if (set_rlimits(c, err) < 0)
		return -1;
	*layers |= SANDBOX_LAYER_RLIMITS;
	if (geteuid() == 0) {
		if (drop_root(err) < 0)
			return -1;
		*layers |= SANDBOX_LAYER_UID;
	}
	/* Not dumpable: no core, and other processes of the uid cannot
	 * ptrace it or read its memory. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return err_set(err, SUTRA_ERUNTIME, "no_new_privs: %s",
			       strerror(errno));
	*layers |= SANDBOX_LAYER_NO_NEW_PRIVS;
	if (sbx_filter_load_host(err) < 0)
		return -1;
	*layers |= SANDBOX_LAYER_SECCOMP;
	return 0;
}
