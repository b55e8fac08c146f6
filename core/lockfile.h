/*
 * lockfile.h - sutra.lock, the project's pins of the agents its chains use
 * (sutra-catalog(5)).
 *
 * `sutra catalog lock` writes, for every agent a set of chains names
 * (through sub-chains too), its name, version and the sha256 of its entry
 * file as found on the catalog search path.  While a project has a
 * sutra.lock, `sutra run` and `sutra resume` refuse a chain whose agents
 * are not all in the lock with that version and sha256, so a changed or
 * replaced agent is an error until the lock is rewritten.  The lock lives
 * in the project directory (the current directory after -C).
 */
#ifndef SUTRA_LOCKFILE_H
#define SUTRA_LOCKFILE_H

#include <stddef.h>

#include "chain.h"
#include "err.h"

#define LOCKFILE_NAME "sutra.lock"

/*
 * Writes path (atomically: a temporary file, fsync, rename) with the
 * agents that chains use.  *n_agents gets how many were pinned.  Fails
 * (SUTRA_EUSAGE) when an agent's entry does not match its own manifest's
 * sha256.  chains are borrowed.
 */
int lockfile_write(const char *path, struct chain *const *chains,
		   size_t n_chains, size_t *n_agents, struct sutra_err *err);

/*
 * Checks chain's agents against LOCKFILE_NAME in the current directory;
 * no lock file: nothing to check.  Fails with SUTRA_EUSAGE naming the
 * first agent that is missing from the lock or whose version or sha256
 * differs, and SUTRA_EUSAGE/ERUNTIME for an unreadable lock file.
 */
int lockfile_check(const struct chain *chain, struct sutra_err *err);

#endif
