/*
 * pkg.h - installing, removing and checking catalog packages: the rules
 * behind `sutra catalog install | remove | verify` (sutra-catalog(5)).
 *
 * A package is checked before it is installed: its manifest, the sha256
 * its manifest must pin, its entry (a Lua chunk must compile; a plugin
 * must not be writable by group or others and must carry the right ABI,
 * probed without running agent code), its version (semver; no downgrade
 * or same-version change without force) and what it holds (files and
 * directories only, under limits).  What is checked is the staged copy
 * that will be installed, never the source, so the source cannot change
 * between check and install.  Installation is atomic: the package is
 * staged in a hidden directory inside the catalog directory, fsync'd and
 * renamed into place (an existing version is exchanged with it in one
 * renameat2).  Catalog changes are serialised by a lock file in the
 * catalog directory.
 */
#ifndef SUTRA_PKG_H
#define SUTRA_PKG_H

#include "catalog.h"
#include "err.h"
#include "pkgfs.h"

enum pkg_action {
	PKG_INSTALLED,    /* no earlier version */
	PKG_UPGRADED,
	PKG_DOWNGRADED,   /* with force */
	PKG_REPLACED,     /* same version, other content, with force */
	PKG_UNCHANGED,    /* the same package was installed already */
};

struct pkg_install_opts {
	const char *catalog_dir;    /* where to install (the user catalog) */
	int force;                  /* allow downgrades and replacements */
	struct pkg_limits limits;
};

/* What an install did.  Members are new strings (pkg_result_free). */
struct pkg_result {
	enum pkg_action action;
	char *name;
	char *version;
	char *previous;   /* the version replaced, or NULL */
	char *dir;        /* the installed package folder */
};

/*
 * Installs the package folder or tarball at source into
 * o->catalog_dir (created if missing) and fills *res.  A package that
 * fails its checks fails with SUTRA_EUSAGE and a message naming the
 * source, file, field or entry; I/O trouble with SUTRA_ERUNTIME.  The
 * catalog directory is left as it was on failure.
 */
int pkg_install(const char *source, const struct pkg_install_opts *o,
		struct pkg_result *res, struct sutra_err *err);
void pkg_result_free(struct pkg_result *res);
const char *pkg_action_name(enum pkg_action action);

/*
 * Removes every package called name from catalog_dir (atomically each:
 * renamed away, then deleted).  *removed gets the first folder removed
 * (new string).  SUTRA_ENOTFOUND when there is none.
 */
int pkg_remove(const char *catalog_dir, const char *name, char **removed,
	       struct sutra_err *err);

/*
 * Re-checks an agent's package as installed: the entry is a regular
 * file, matches the manifest's sha256 (which must exist when
 * require_sha256), compiles (Lua) or is a loadable plugin of this ABI
 * that group and others cannot write.  The message names the file.
 */
int pkg_check(const struct agent *a, int require_sha256,
	      struct sutra_err *err);

#endif
