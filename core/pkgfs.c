/* pkgfs.c - see pkgfs.h. */
#include "pkgfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/*
 * Visits a tree depth first, entries in byte order, without following
 * symbolic links: fn runs before a directory's entries (post 0) and after
 * them (post 1), once for anything else (post 0).  rel is the path
 * relative to the root ("" for the root itself).
 */
typedef int (*visit_fn)(void *ud, const char *path, const char *rel,
			const struct stat *sb, int post, struct sutra_err *err);

static int not_dots(const struct dirent *de)
{
	return strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
}

static int by_bytes(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int walk(const char *path, const char *rel, visit_fn fn, void *ud,
		struct sutra_err *err);

static int walk_children(const char *path, const char *rel, visit_fn fn,
			 void *ud, struct sutra_err *err)
{
	struct dirent **names;
	int n = scandir(path, &names, not_dots, by_bytes), rc = 0;

	if (n < 0)
		return err_set(err, SUTRA_ERUNTIME, "%s: cannot read directory: %s",
			       path, strerror(errno));
	for (int i = 0; i < n; i++) {
		if (rc == 0) {
			char *child = path_join(path, names[i]->d_name);
			char *crel = rel[0] ? path_join(rel, names[i]->d_name)
					    : strdup(names[i]->d_name);
			rc = child && crel ? walk(child, crel, fn, ud, err)
					   : err_set(err, SUTRA_ENOMEM,
						     "out of memory");
			free(child);
			free(crel);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

static int walk(const char *path, const char *rel, visit_fn fn, void *ud,
		struct sutra_err *err)
{
	struct stat sb;

	if (lstat(path, &sb) != 0)
		return err_set(err, SUTRA_ERUNTIME, "%s: %s", path,
			       strerror(errno));
	if (fn(ud, path, rel, &sb, 0, err) < 0)
		return -1;
	if (!S_ISDIR(sb.st_mode))
		return 0;
	if (walk_children(path, rel, fn, ud, err) < 0)
		return -1;
	return fn(ud, path, rel, &sb, 1, err);
}

/* What a package may not hold, for messages; NULL for files and dirs. */
static const char *forbidden_kind(mode_t mode)
{
	if (S_ISREG(mode) || S_ISDIR(mode))
		return NULL;
	if (S_ISLNK(mode))
		return "a symbolic link";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device file";
	if (S_ISFIFO(mode))
		return "a fifo";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file or directory";
}

/* ------------------------------------------------------------- copy */

struct copy {
	const char *dst;
	const struct pkg_limits *limits;
	uint64_t bytes;
	size_t entries;
};

static int over_size(const struct copy *c, const char *path,
		     struct sutra_err *err)
{
	return err_set(err, SUTRA_EUSAGE,
		       "%s: package is over the size limit (%llu MiB)", path,
		       (unsigned long long)(c->limits->max_bytes >> 20));
}

static int write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copies one regular file's bytes, counting them against the limit (the
 * file may grow after lstat). */
static int copy_bytes(struct copy *c, int in, int out, const char *src,
		      const char *dst, struct sutra_err *err)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_set(err, SUTRA_ERUNTIME, "%s: read: %s", src,
				       strerror(errno));
		if ((uint64_t)n > c->limits->max_bytes - c->bytes)
			return over_size(c, src, err);
		c->bytes += (uint64_t)n;
		if (write_all(out, buf, (size_t)n) < 0)
			return err_set(err, SUTRA_ERUNTIME, "%s: write: %s",
				       dst, strerror(errno));
	}
	return 0;
}

static int copy_file(struct copy *c, const char *src, const char *dst,
		     mode_t mode, struct sutra_err *err)
{
	int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out = -1, rc = -1;
	struct stat sb;

	if (in < 0 || fstat(in, &sb) != 0) {
		err_set(err, SUTRA_ERUNTIME, "%s: %s", src, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		err_set(err, SUTRA_EUSAGE, "%s: changed while being copied", src);
		goto out;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		   0600);
	if (out < 0) {
		err_set(err, SUTRA_ERUNTIME, "%s: %s", dst, strerror(errno));
		goto out;
	}
	if (copy_bytes(c, in, out, src, dst, err) < 0)
		goto out;
	if (fchmod(out, mode & 0777) != 0) {
		err_set(err, SUTRA_ERUNTIME, "%s: chmod: %s", dst, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) != 0 && rc == 0)
		rc = err_set(err, SUTRA_ERUNTIME, "%s: close: %s", dst,
			     strerror(errno));
	return rc;
}

static int copy_visit(void *ud, const char *path, const char *rel,
		      const struct stat *sb, int post, struct sutra_err *err)
{
	struct copy *c = ud;
	const char *bad = forbidden_kind(sb->st_mode);
	char *dst;
	int rc;

	if (post)
		return 0;
	if (!rel[0] && !S_ISDIR(sb->st_mode))
		return err_set(err, SUTRA_EUSAGE, "%s: not a directory", path);
	if (bad)
		return err_set(err, SUTRA_EUSAGE,
			       "%s: %s (a package holds only files and "
			       "directories)", path, bad);
	if (rel[0] && ++c->entries > c->limits->max_entries)
		return err_set(err, SUTRA_EUSAGE,
			       "%s: package has more than %zu entries", path,
			       c->limits->max_entries);
	if (S_ISREG(sb->st_mode) &&
	    (uint64_t)sb->st_size > c->limits->max_bytes - c->bytes)
		return over_size(c, path, err);
	if (!(dst = rel[0] ? path_join(c->dst, rel) : strdup(c->dst)))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	if (S_ISDIR(sb->st_mode))
		rc = mkdir(dst, 0700) == 0
			     ? 0
			     : err_set(err, SUTRA_ERUNTIME, "%s: mkdir: %s",
				       dst, strerror(errno));
	else
		rc = copy_file(c, path, dst, sb->st_mode, err);
	free(dst);
	return rc;
}

int pkgfs_copy_tree(const char *src, const char *dst,
		    const struct pkg_limits *limits, struct sutra_err *err)
{
	struct copy c = {.dst = dst, .limits = limits};

	return walk(src, "", copy_visit, &c, err);
}

/* ------------------------------------------------------------- seal */

static int seal_visit(void *ud, const char *path, const char *rel,
		      const struct stat *sb, int post, struct sutra_err *err)
{
	int dir = S_ISDIR(sb->st_mode), fd, rc = 0;
	mode_t mode = dir ? 0755 : sb->st_mode & 0755;

	(void)ud;
	(void)rel;
	if (dir && !post)
		return 0;
	if (!dir && !S_ISREG(sb->st_mode))
		return err_set(err, SUTRA_EUSAGE, "%s: %s in a package", path,
			       forbidden_kind(sb->st_mode));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
				(dir ? O_DIRECTORY : 0));
	if (fd < 0)
		return err_set(err, SUTRA_ERUNTIME, "%s: %s", path,
			       strerror(errno));
	if (fchmod(fd, mode) != 0 || fsync(fd) != 0)
		rc = err_set(err, SUTRA_ERUNTIME, "%s: %s", path,
			     strerror(errno));
	close(fd);
	return rc;
}

int pkgfs_seal_tree(const char *dir, struct sutra_err *err)
{
	return walk(dir, "", seal_visit, NULL, err);
}

/* ----------------------------------------------------------- digest */

static int digest_file(struct sha256_ctx *ctx, const char *path,
		       struct sutra_err *err)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	unsigned char buf[65536];
	ssize_t n;

	if (fd < 0)
		return err_set(err, SUTRA_ERUNTIME, "%s: %s", path,
			       strerror(errno));
	while ((n = read(fd, buf, sizeof(buf))) > 0 ||
	       (n < 0 && errno == EINTR))
		if (n > 0)
			sha256_update(ctx, (size_t)n, buf);
	close(fd);
	if (n < 0)
		return err_set(err, SUTRA_ERUNTIME, "%s: read: %s", path,
			       strerror(errno));
	return 0;
}

static int digest_visit(void *ud, const char *path, const char *rel,
			const struct stat *sb, int post, struct sutra_err *err)
{
	struct sha256_ctx *ctx = ud;
	char head[64];

	if (post || !rel[0])
		return 0;
	/* Path, NUL, type and size, NUL: no two trees share a stream. */
	snprintf(head, sizeof(head), "%c%lld", S_ISDIR(sb->st_mode) ? 'd' : 'f',
		 S_ISDIR(sb->st_mode) ? 0LL : (long long)sb->st_size);
	sha256_update(ctx, strlen(rel) + 1, (const uint8_t *)rel);
	sha256_update(ctx, strlen(head) + 1, (const uint8_t *)head);
	if (S_ISDIR(sb->st_mode))
		return 0;
	if (!S_ISREG(sb->st_mode))
		return err_set(err, SUTRA_EUSAGE, "%s: %s in a package", path,
			       forbidden_kind(sb->st_mode));
	return digest_file(ctx, path, err);
}

int pkgfs_tree_digest(const char *dir, char hex[65], struct sutra_err *err)
{
	struct sha256_ctx ctx;
	uint8_t md[SHA256_DIGEST_SIZE];

	sha256_init(&ctx);
	if (walk(dir, "", digest_visit, &ctx, err) < 0)
		return -1;
	sha256_digest(&ctx, sizeof(md), md);
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* ----------------------------------------------------------- remove */

static int remove_visit(void *ud, const char *path, const char *rel,
			const struct stat *sb, int post, struct sutra_err *err)
{
	(void)ud;
	(void)rel;
	if (S_ISDIR(sb->st_mode) && !post) {
		/* A read-only directory (chmod -w) still empties. */
		if ((sb->st_mode & 0700) != 0700)
			chmod(path, 0700);
		return 0;
	}
	if ((S_ISDIR(sb->st_mode) ? rmdir(path) : unlink(path)) != 0 &&
	    errno != ENOENT)
		return err_set(err, SUTRA_ERUNTIME, "cannot remove '%s': %s",
			       path, strerror(errno));
	return 0;
}

int pkgfs_remove_tree(const char *dir, struct sutra_err *err)
{
	struct stat sb;

	if (lstat(dir, &sb) != 0 && errno == ENOENT)
		return 0;
	return walk(dir, "", remove_visit, NULL, err);
}

int pkgfs_sync_dir(const char *dir, struct sutra_err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return err_set(err, SUTRA_ERUNTIME, "%s: %s", dir,
			       strerror(errno));
	if (fsync(fd) != 0)
		rc = err_set(err, SUTRA_ERUNTIME, "%s: fsync: %s", dir,
			     strerror(errno));
	close(fd);
	return rc;
}
