/* pkg.c - see pkg.h. */
#include "pkg.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkgarchive.h"
#include "plughost.h"
#include "semver.h"
#include "util.h"

static const char *const action_names[] = {
	[PKG_INSTALLED] = "installed",   [PKG_UPGRADED] = "upgraded",
	[PKG_DOWNGRADED] = "downgraded", [PKG_REPLACED] = "replaced",
	[PKG_UNCHANGED] = "unchanged",
};

const char *pkg_action_name(enum pkg_action action)
{
	return action_names[action];
}

void pkg_result_free(struct pkg_result *res)
{
	if (!res)
		return;
	free(res->name);
	free(res->version);
	free(res->previous);
	free(res->dir);
	memset(res, 0, sizeof(*res));
}

/* ------------------------------------------------------------ checks */

/* Compiles a Lua entry without running it (text chunks only, as the
 * runtime loads them). */
static int check_lua(const char *path, struct sutra_err *err)
{
	lua_State *L = luaL_newstate();
	int rc = 0;

	if (!L)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	if (luaL_loadfilex(L, path, "t") != LUA_OK)
		rc = err_set(err, SUTRA_EUSAGE, "%s: does not compile: %s", path,
			     lua_tostring(L, -1));
	lua_close(L);
	return rc;
}

static int check_plugin(const char *path, const struct stat *sb,
			struct sutra_err *err)
{
	if (sb->st_mode & (S_IWGRP | S_IWOTH))
		return err_set(err, SUTRA_EUSAGE,
			       "%s: refusing plugin: writable by group or "
			       "others (chmod go-w)",
			       path);
	return plughost_probe(path, NULL, NULL, err);
}

int pkg_check(const struct agent *a, int require_sha256,
	      struct sutra_err *err)
{
	struct stat sb;
	char hex[65];

	if (stat(a->entry_path, &sb) != 0)
		return err_set(err, SUTRA_EUSAGE, "%s: entry: %s", a->entry_path,
			       strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return err_set(err, SUTRA_EUSAGE, "%s: entry is not a regular "
			       "file", a->entry_path);
	if ((a->sha256 || require_sha256) &&
	    sha256_file_hex(a->entry_path, hex, err) < 0)
		return -1;
	if (!a->sha256 && require_sha256)
		return err_set(err, SUTRA_EUSAGE,
			       "%s: no 'sha256' field: a package to install "
			       "pins its entry (the entry's sha256 is %s)",
			       a->manifest_path, hex);
	if (a->sha256 && strcmp(hex, a->sha256) != 0)
		return err_set(err, SUTRA_EUSAGE,
			       "%s: sha256 mismatch: manifest says %s, file "
			       "has %s",
			       a->entry_path, a->sha256, hex);
	if (a->kind == AGENT_LUA)
		return check_lua(a->entry_path, err);
	return check_plugin(a->entry_path, &sb, err);
}

/* ------------------------------------------------------------ install */

struct install {
	const struct pkg_install_opts *o;
	const char *source;
	char *staging;          /* CATALOG/.install-XXXXXX */
	char *pkgdir;           /* STAGING/NAME: the staged package */
	char *display;          /* how messages name pkgdir */
	struct agent *pkg;      /* the staged package's manifest */
	struct catalog *have;   /* the catalog directory before install */
	const struct agent *old;
	int lock_fd;
};

/* Takes the catalog directory's lock (released by closing the fd). */
static int lock_catalog(const char *dir, struct sutra_err *err)
{
	char *path = path_join(dir, ".lock");
	int fd;

	if (!path)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) != 0) {
		err_set(err, SUTRA_ERUNTIME, "%s: cannot lock: %s", path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	free(path);
	return fd;
}

/* A new hidden directory in dir (the catalog scan skips dot names). */
static char *make_staging(const char *dir, const char *what,
			  struct sutra_err *err)
{
	char name[32];
	char *path;

	snprintf(name, sizeof(name), ".%s-XXXXXX", what);
	if (!(path = path_join(dir, name))) {
		err_set(err, SUTRA_ENOMEM, "out of memory");
		return NULL;
	}
	if (!mkdtemp(path)) {
		err_set(err, SUTRA_ERUNTIME, "%s: mkdtemp: %s", dir,
			strerror(errno));
		free(path);
		return NULL;
	}
	return path;
}

/* Rewrites the staged path in a message into the name the user gave. */
static void name_source(struct install *in, struct sutra_err *err)
{
	char out[sizeof(err->msg)];
	const char *from = in->pkgdir, *p = err->msg, *hit;
	size_t n = 0, flen;

	if (!from || !in->display || !err->code)
		return;
	flen = strlen(from);
	while ((hit = strstr(p, from)) && n < sizeof(out)) {
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%.*s%s",
				      (int)(hit - p), p, in->display);
		p = hit + flen;
	}
	if (n < sizeof(out))
		snprintf(out + n, sizeof(out) - n, "%s", p);
	snprintf(err->msg, sizeof(err->msg), "%s", out);
}

static int stage_dir(struct install *in, struct sutra_err *err)
{
	if (!(in->pkgdir = path_join(in->staging, "pkg")) ||
	    !(in->display = strdup(in->source)))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	return pkgfs_copy_tree(in->source, in->pkgdir, &in->o->limits, err);
}

static int stage_archive(struct install *in, struct sutra_err *err)
{
	char *top;

	if (pkgarchive_extract(in->source, in->staging, &in->o->limits, &top,
			       err) < 0)
		return -1;
	in->pkgdir = path_join(in->staging, top);
	in->display = malloc(strlen(in->source) + strlen(top) + 2);
	if (in->display)
		sprintf(in->display, "%s:%s", in->source, top);
	free(top);
	if (!in->pkgdir || !in->display)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	return 0;
}

/* Copies or unpacks the source into the staging directory. */
static int stage(struct install *in, struct sutra_err *err)
{
	struct stat sb;

	if (stat(in->source, &sb) != 0)
		return err_set(err, SUTRA_EUSAGE, "%s: %s", in->source,
			       strerror(errno));
	if (!(in->staging = make_staging(in->o->catalog_dir, "install", err)))
		return -1;
	if (S_ISDIR(sb.st_mode))
		return stage_dir(in, err);
	if (S_ISREG(sb.st_mode))
		return stage_archive(in, err);
	return err_set(err, SUTRA_EUSAGE, "%s: not a package folder or a "
		       "tarball", in->source);
}

/* Checks the staged package: manifest, checksum, entry, version. */
static int validate(struct install *in, struct sutra_err *err)
{
	char *manifest = path_join(in->pkgdir, "agent.yaml");
	int missing = manifest && access(manifest, F_OK) != 0;

	free(manifest);
	if (missing)
		return err_set(err, SUTRA_EUSAGE, "%s: no agent.yaml: not a "
			       "package folder", in->pkgdir);
	if (catalog_read_package(in->pkgdir, in->o->catalog_dir, &in->pkg,
				 err) < 0)
		return -1;
	if (!semver_valid(in->pkg->version))
		return err_set(err, SUTRA_EUSAGE,
			       "%s: version '%s' is not a semantic version "
			       "(MAJOR.MINOR.PATCH)",
			       in->pkg->manifest_path, in->pkg->version);
	if (pkg_check(in->pkg, 1, err) < 0) {
		if (err->code != SUTRA_ENOMEM)
			err->code = SUTRA_EUSAGE;  /* the package's fault */
		return -1;
	}
	return 0;
}

static int same_content(const char *a, const char *b, int *same,
			struct sutra_err *err)
{
	char da[65], db[65];

	if (pkgfs_tree_digest(a, da, err) < 0 ||
	    pkgfs_tree_digest(b, db, err) < 0)
		return -1;
	*same = strcmp(da, db) == 0;
	return 0;
}

/* Decides what installing does to the version already there. */
static int decide(struct install *in, struct pkg_result *res,
		  struct sutra_err *err)
{
	const char *name = in->pkg->name, *nv = in->pkg->version, *ov;
	int cmp, same;

	if (catalog_load((char *const *)&in->o->catalog_dir, 1, &in->have,
			 err) < 0)
		return -1;
	if (!(in->old = catalog_find(in->have, name))) {
		res->action = PKG_INSTALLED;
		return 0;
	}
	ov = in->old->version;
	if (semver_compare(nv, ov, &cmp) < 0 && !in->o->force)
		return err_set(err, SUTRA_EUSAGE,
			       "'%s' %s is installed, and '%s' is not a "
			       "semantic version to compare with (use --force)",
			       name, nv, ov);
	if (cmp > 0) {
		res->action = PKG_UPGRADED;
		return 0;
	}
	if (cmp < 0) {
		res->action = PKG_DOWNGRADED;
		return in->o->force ? 0 : err_set(err, SUTRA_EUSAGE,
			"'%s' %s is installed: refusing to downgrade to %s "
			"(use --force)", name, ov, nv);
	}
	if (same_content(in->pkgdir, in->old->dir, &same, err) < 0)
		return -1;
	res->action = same ? PKG_UNCHANGED : PKG_REPLACED;
	if (same || in->o->force)
		return 0;
	return err_set(err, SUTRA_EUSAGE,
		       "'%s' %s is installed with different content: raise "
		       "the version, or use --force to replace it",
		       name, nv);
}

/* Whether path is one of the installed folders of the package. */
static int is_old_dir(const struct install *in, const char *path)
{
	struct stat a, b;

	if (stat(path, &a) != 0)
		return 0;
	for (const struct agent *o = in->old; o; o = o->shadowed)
		if (stat(o->dir, &b) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino)
			return 1;
	return 0;
}

/*
 * Moves the staged package to CATALOG/NAME.  An existing version there
 * is exchanged with it in one step, and ends up in the staging
 * directory (removed by the caller).
 */
static int place(struct install *in, const char *target,
		 struct sutra_err *err)
{
	struct stat sb;

	if (lstat(target, &sb) != 0) {
		if (rename(in->pkgdir, target) != 0)
			return err_set(err, SUTRA_ERUNTIME, "rename '%s' to "
				       "'%s': %s", in->pkgdir, target,
				       strerror(errno));
		return 0;
	}
	if (!is_old_dir(in, target))
		return err_set(err, SUTRA_EUSAGE,
			       "'%s' exists and is not package '%s': move it "
			       "away first", target, in->pkg->name);
	if (renameat2(AT_FDCWD, in->pkgdir, AT_FDCWD, target,
		      RENAME_EXCHANGE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return err_set(err, SUTRA_ERUNTIME, "exchange '%s' and '%s': %s",
			       in->pkgdir, target, strerror(errno));
	/* No RENAME_EXCHANGE on this file system: two renames. */
	char *aside = path_join(in->staging, ".old");
	int rc = aside && rename(target, aside) == 0 &&
			 rename(in->pkgdir, target) == 0
		 ? 0
		 : err_set(err, SUTRA_ERUNTIME, "replace '%s': %s", target,
			   strerror(errno));
	free(aside);
	return rc;
}

/* Removes other folders holding the same package (a hand-made copy
 * under another folder name would shadow or be shadowed by it).  Paths
 * share the catalog directory's spelling, so strcmp compares them. */
static void drop_duplicates(struct install *in, const char *target)
{
	struct sutra_err ignored = {0};

	for (const struct agent *o = in->old; o; o = o->shadowed)
		if (strcmp(o->dir, target) != 0)
			pkgfs_remove_tree(o->dir, &ignored);
}

static int commit(struct install *in, struct pkg_result *res,
		  struct sutra_err *err)
{
	char *target = path_join(in->o->catalog_dir, in->pkg->name);
	int rc = -1;

	if (!target)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	if (res->action != PKG_UNCHANGED &&
	    (pkgfs_seal_tree(in->pkgdir, err) < 0 ||
	     place(in, target, err) < 0 ||
	     pkgfs_sync_dir(in->o->catalog_dir, err) < 0))
		goto out;
	if (res->action != PKG_UNCHANGED)
		drop_duplicates(in, target);
	res->name = strdup(in->pkg->name);
	res->version = strdup(in->pkg->version);
	res->previous = in->old ? strdup(in->old->version) : NULL;
	res->dir = res->action == PKG_UNCHANGED ? strdup(in->old->dir) : target;
	target = res->action == PKG_UNCHANGED ? target : NULL;
	if (!res->name || !res->version || !res->dir ||
	    (in->old && !res->previous)) {
		err_set(err, SUTRA_ENOMEM, "out of memory");
		goto out;
	}
	rc = 0;
out:
	free(target);
	return rc;
}

int pkg_install(const char *source, const struct pkg_install_opts *o,
		struct pkg_result *res, struct sutra_err *err)
{
	struct install in = {.o = o, .source = source, .lock_fd = -1};
	struct sutra_err cleanup = {0};
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (mkdir_p(o->catalog_dir, err) < 0 ||
	    (in.lock_fd = lock_catalog(o->catalog_dir, err)) < 0)
		return -1;
	if (stage(&in, err) == 0 && validate(&in, err) == 0 &&
	    decide(&in, res, err) == 0 && commit(&in, res, err) == 0)
		rc = 0;
	name_source(&in, err);
	if (in.staging)
		pkgfs_remove_tree(in.staging, &cleanup);
	if (rc < 0)
		pkg_result_free(res);
	catalog_free(in.have);
	agent_entry_free(in.pkg);
	free(in.staging);
	free(in.pkgdir);
	free(in.display);
	close(in.lock_fd);
	return rc;
}

/* ------------------------------------------------------------- remove */

static int remove_one(const char *catalog_dir, const char *dir,
		      struct sutra_err *err)
{
	char *staging = make_staging(catalog_dir, "remove", err);
	char *aside = staging ? path_join(staging, "pkg") : NULL;
	int rc = -1;

	if (!staging)
		return -1;
	if (!aside)
		err_set(err, SUTRA_ENOMEM, "out of memory");
	else if (rename(dir, aside) != 0)
		err_set(err, SUTRA_ERUNTIME, "rename '%s': %s", dir,
			strerror(errno));
	else if (pkgfs_sync_dir(catalog_dir, err) == 0)
		rc = 0;
	if (pkgfs_remove_tree(staging, err) < 0)
		rc = -1;
	free(aside);
	free(staging);
	return rc;
}

int pkg_remove(const char *catalog_dir, const char *name, char **removed,
	       struct sutra_err *err)
{
	struct catalog *have = NULL;
	const struct agent *a;
	int fd, rc = -1;

	*removed = NULL;
	if (access(catalog_dir, F_OK) != 0)
		return err_set(err, SUTRA_ENOTFOUND, "no package '%s' in '%s'",
			       name, catalog_dir);
	if ((fd = lock_catalog(catalog_dir, err)) < 0)
		return -1;
	if (catalog_load((char *const *)&catalog_dir, 1, &have, err) < 0)
		goto out;
	if (!(a = catalog_find(have, name))) {
		err_set(err, SUTRA_ENOTFOUND, "no package '%s' in '%s'", name,
			catalog_dir);
		goto out;
	}
	if (!(*removed = strdup(a->dir))) {
		err_set(err, SUTRA_ENOMEM, "out of memory");
		goto out;
	}
	for (rc = 0; a && rc == 0; a = a->shadowed)
		rc = remove_one(catalog_dir, a->dir, err);
out:
	if (rc < 0) {
		free(*removed);
		*removed = NULL;
	}
	catalog_free(have);
	close(fd);
	return rc;
}
