/*
 * files.c - the runner's own file work around a run, none of which ever
 * follows a symlink.
 *
 * Host-side code that follows a link the sandboxed program planted is how
 * Judge0 (CVE-2024-28185) and Compiler Explorer were escaped.  So every
 * path below a directory fd is resolved with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS), single components are
 * opened with O_NOFOLLOW, only regular files with one link are read, and
 * the tree is removed entry by entry with unlinkat on the names getdents
 * returned.  Reading and removal happen after every process of the run is
 * dead, so nothing can swap an entry in between.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "util.h"

#define MAX_DEPTH 64          /* recursion depth before flattening */

int sbx_path_check(const char *path, struct sutra_err *err)
{
	const char *s = path;

	if (!path || !*path)
		return err_set(err, SUTRA_EUSAGE, "empty file path");
	if (strlen(path) > 1024)
		return err_set(err, SUTRA_EUSAGE, "file path '%.64s...' is "
			       "longer than 1024 bytes", path);
	if (*path == '/')
		return err_set(err, SUTRA_EUSAGE, "file path '%s' is absolute "
			       "(paths are relative to the work dir)", path);
	while (*s) {
		size_t n = strcspn(s, "/");
		if (n == 0 || (n == 1 && s[0] == '.') ||
		    (n == 2 && s[0] == '.' && s[1] == '.'))
			return err_set(err, SUTRA_EUSAGE, "file path '%s' has an "
				       "empty, '.' or '..' component", path);
		if (n > 255)
			return err_set(err, SUTRA_EUSAGE, "file path '%s' has a "
				       "component longer than 255 bytes", path);
		s += n;
		if (*s == '/' && !*++s)
			return err_set(err, SUTRA_EUSAGE, "file path '%s' ends "
				       "with '/'", path);
	}
	return 0;
}

int sbx_open_beneath(int dirfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_MAGICLINKS,
	};

	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* Reads up to max + 1 bytes of fd (the extra one tells "too large"). */
static int read_fd(int fd, size_t max, char **data, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);

	while (buf) {
		ssize_t r;
		if (n == cap) {
			char *nb = cap > max ? NULL : realloc(buf, cap * 2 + 1);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r < 0)
				break;
			buf[n] = '\0';
			*data = buf;
			*len = n;
			return n > max ? 1 : 0;
		}
		n += (size_t)r;
	}
	free(buf);
	return -1;
}

int sbx_collect_file(int dirfd, const char *path, size_t max, uid_t owner,
		     char **data, size_t *len, const char **why)
{
	struct stat sb;
	int fd, rc;

	*data = NULL;
	*len = 0;
	/* O_NONBLOCK: a FIFO planted here must not hang the runner. */
	fd = sbx_open_beneath(dirfd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		*why = errno == ENOENT ? "missing"
		     : errno == ELOOP || errno == EXDEV
			     ? "a symlink or outside the work dir"
			     : "cannot be opened";
		return -1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		*why = "not a regular file";
		goto fail;
	}
	if (sb.st_nlink != 1) {
		*why = "a hard link";
		goto fail;
	}
	if (owner != (uid_t)-1 && sb.st_uid != owner) {
		*why = "not owned by the sandbox";
		goto fail;
	}
	if ((uint64_t)sb.st_size > max) {
		*why = "larger than the collect limit";
		goto fail;
	}
	rc = read_fd(fd, max, data, len);
	if (rc != 0) {
		*why = rc > 0 ? "larger than the collect limit" : "read error";
		free(*data);
		*data = NULL;
		goto fail;
	}
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

/* ---- reading a host directory into memory ---- */

static int push_file(struct sbx_filebuf **files, size_t *n, char *path,
		     char *data, size_t len, int exec)
{
	struct sbx_filebuf *nf = realloc(*files, (*n + 1) * sizeof(**files));

	if (!nf)
		return -1;
	*files = nf;
	nf[*n] = (struct sbx_filebuf){path, data, len, exec};
	++*n;
	return 0;
}

static int read_tree_at(int dirfd, const char *prefix, int depth,
			struct sbx_filebuf **files, size_t *n,
			uint64_t *budget, struct sutra_err *err);

static int read_entry(int dirfd, const char *prefix, const char *name,
		      int depth, struct sbx_filebuf **files, size_t *n,
		      uint64_t *budget, struct sutra_err *err)
{
	char *path = prefix ? NULL : strdup(name);
	struct stat sb;
	char *data = NULL;
	size_t len;
	int fd, rc = -1;

	if (prefix && asprintf(&path, "%s/%s", prefix, name) < 0)
		path = NULL;
	if (!path)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	fd = sbx_open_beneath(dirfd, name, O_RDONLY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		err_set(err, SUTRA_EUSAGE, "input '%s': %s", path,
			errno == ELOOP ? "is a symlink (refused)"
				       : strerror(errno));
		goto out;
	}
	if (S_ISDIR(sb.st_mode)) {
		rc = read_tree_at(fd, path, depth + 1, files, n, budget, err);
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		err_set(err, SUTRA_EUSAGE, "input '%s': not a regular file",
			path);
		goto out;
	}
	if ((rc = read_fd(fd, *budget, &data, &len)) != 0) {
		err_set(err, SUTRA_EUSAGE, "input '%s': %s", path,
			rc > 0 ? "the input is larger than the work dir"
			       : strerror(errno));
		free(data);
		rc = -1;
		goto out;
	}
	*budget -= len;
	if ((rc = push_file(files, n, path, data, len,
			    (sb.st_mode & 0111) != 0)) == 0)
		path = NULL;
	else {
		free(data);
		err_set(err, SUTRA_ENOMEM, "out of memory");
	}
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

static int read_tree_at(int dirfd, const char *prefix, int depth,
			struct sbx_filebuf **files, size_t *n,
			uint64_t *budget, struct sutra_err *err)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	int rc = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return err_set(err, SUTRA_ERUNTIME, "input dir '%s': %s",
			       prefix ? prefix : ".", strerror(errno));
	}
	if (depth > MAX_DEPTH)
		rc = err_set(err, SUTRA_EUSAGE, "input dir '%s' is deeper than "
			     "%d levels", prefix, MAX_DEPTH);
	while (rc == 0 && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		rc = read_entry(dirfd, prefix, e->d_name, depth, files, n,
				budget, err);
	}
	closedir(d);
	return rc;
}

int sbx_read_tree(const char *dir, struct sbx_filebuf **files, size_t *n,
		  uint64_t max, struct sutra_err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint64_t budget = max;
	int rc;

	if (fd < 0)
		return err_set(err, SUTRA_EUSAGE, "input dir '%s': %s", dir,
			       strerror(errno));
	rc = read_tree_at(fd, NULL, 0, files, n, &budget, err);
	close(fd);
	if (rc < 0)
		err_prefix(err, "--dir '%s'", dir);
	return rc;
}

void sbx_files_free(struct sbx_filebuf *files, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(files[i].path);
		free(files[i].data);
	}
	free(files);
}

/* ---- walking a tree the program left behind ---- */

typedef int (*walk_fn)(int dirfd, const char *name, const struct stat *sb,
		       void *ud);

/* A directory stream over a fresh descriptor of dirfd (which stays the
 * caller's), or NULL. */
static DIR *open_dir_stream(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d && fd >= 0)
		close(fd);
	return d;
}

/* Calls fn for each entry below dirfd (directories after their content,
 * so a remover can rmdir them).  fn returning -1 stops the walk. */
static int walk(int dirfd, int depth, walk_fn fn, void *ud)
{
	DIR *d = open_dir_stream(dirfd);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return -1;
	while (rc == 0 && (e = readdir(d))) {
		struct stat sb;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(sb.st_mode) && depth < MAX_DEPTH) {
			int sub = openat(dirfd, e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
						 O_CLOEXEC);
			if (sub >= 0) {
				rc = walk(sub, depth + 1, fn, ud);
				close(sub);
			}
		}
		if (rc == 0)
			rc = fn(dirfd, e->d_name, &sb, ud);
	}
	closedir(d);
	return rc;
}

static int largest_cb(int dirfd, const char *name, const struct stat *sb,
		      void *ud)
{
	uint64_t *max = ud;

	(void)dirfd;
	(void)name;
	if (S_ISREG(sb->st_mode) && (uint64_t)sb->st_size > *max)
		*max = (uint64_t)sb->st_size;
	return 0;
}

uint64_t sbx_largest_file(int dirfd)
{
	uint64_t max = 0;

	walk(dirfd, 0, largest_cb, &max);
	return max;
}

static int prune_cb(int dirfd, const char *name, const struct stat *sb,
		    void *ud)
{
	unsigned *pruned = ud;

	if (S_ISDIR(sb->st_mode) ||
	    (S_ISREG(sb->st_mode) && sb->st_nlink == 1))
		return 0;
	if (unlinkat(dirfd, name, 0) == 0)
		++*pruned;
	return 0;
}

unsigned sbx_prune_tree(int dirfd)
{
	unsigned pruned = 0;

	walk(dirfd, 0, prune_cb, &pruned);
	return pruned;
}

static int copy_tree_at(int src, int dst, int depth, unsigned *skipped,
			struct sutra_err *err);

static int copy_entry(int src, int dst, const char *name,
		      const struct stat *sb, int depth, unsigned *skipped,
		      struct sutra_err *err)
{
	int in = -1, out = -1, rc = -1;
	char buf[65536];
	ssize_t n;

	if (S_ISDIR(sb->st_mode) && depth < MAX_DEPTH) {
		if (mkdirat(dst, name, 0700) < 0 && errno != EEXIST)
			return err_set(err, SUTRA_ERUNTIME, "keep: mkdir '%s': "
				       "%s", name, strerror(errno));
		in = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					       O_CLOEXEC);
		out = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
						O_CLOEXEC);
		rc = in >= 0 && out >= 0
			     ? copy_tree_at(in, out, depth + 1, skipped, err)
			     : (++*skipped, 0);
		goto out;
	}
	if (!S_ISREG(sb->st_mode) || sb->st_nlink != 1) {
		++*skipped;
		return 0;
	}
	in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	out = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
					O_CLOEXEC,
		     (sb->st_mode & 0111) ? 0700 : 0600);
	if (in < 0 || out < 0) {
		++*skipped;
		rc = 0;
		goto out;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			break;
	rc = n == 0 ? 0 : err_set(err, SUTRA_ERUNTIME, "keep: copy '%s': %s",
				  name, strerror(errno));
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return rc;
}

static int copy_tree_at(int src, int dst, int depth, unsigned *skipped,
			struct sutra_err *err)
{
	int fd = openat(src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	int rc = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		++*skipped;
		return 0;
	}
	while (rc == 0 && (e = readdir(d))) {
		struct stat sb;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(src, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		rc = copy_entry(src, dst, e->d_name, &sb, depth, skipped, err);
	}
	closedir(d);
	return rc;
}

int sbx_copy_tree(int src, int dst, unsigned *skipped, struct sutra_err *err)
{
	*skipped = 0;
	return copy_tree_at(src, dst, 0, skipped, err);
}

/* ---- removal ---- */

struct rm_ctx {
	int top;              /* the work dir: deep subtrees move here */
	unsigned moved;       /* subtrees moved up this pass */
	unsigned serial;
	struct sutra_err *err;
};

static int rm_children(int dirfd, int depth, struct rm_ctx *rc);

static int rm_dir(int dirfd, const char *name, int depth, struct rm_ctx *ctx)
{
	int fd;

	/* A mode like 000 must not stop the owner (an unprivileged
	 * runner): open it up first, through the fd, not the name. */
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					 O_CLOEXEC);
	if (fd < 0) {
		fchmodat(dirfd, name, 0700, 0);
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
						 O_CLOEXEC);
	}
	if (fd < 0)
		return -1;
	fchmod(fd, 0700);
	if (depth >= MAX_DEPTH) {
		/* Too deep to recurse: move the subtree to the top and take
		 * it on in the next pass. */
		char tmp[64];
		close(fd);
		snprintf(tmp, sizeof(tmp), ".sutra-deep-%u", ctx->serial++);
		if (renameat(dirfd, name, ctx->top, tmp) < 0)
			return -1;
		ctx->moved++;
		return 0;
	}
	rm_children(fd, depth + 1, ctx);
	close(fd);
	return unlinkat(dirfd, name, AT_REMOVEDIR);
}

static int rm_children(int dirfd, int depth, struct rm_ctx *ctx)
{
	DIR *d = open_dir_stream(dirfd);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN) {
			if (rm_dir(dirfd, e->d_name, depth, ctx) == 0)
				continue;
			if (errno != ENOTDIR)
				rc = -1;
		}
		if (unlinkat(dirfd, e->d_name, 0) < 0 && errno != ENOENT)
			rc = -1;
	}
	closedir(d);
	return rc;
}

int sbx_remove_tree(int parent, const char *name, struct sutra_err *err)
{
	struct rm_ctx ctx = {.err = err};
	int top = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					       O_CLOEXEC);

	if (top < 0)
		return err_set(err, SUTRA_ERUNTIME, "remove work dir '%s': %s",
			       name, strerror(errno));
	fchmod(top, 0700);
	ctx.top = top;
	do {
		ctx.moved = 0;
		rm_children(top, 0, &ctx);
	} while (ctx.moved > 0);
	close(top);
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0)
		return err_set(err, SUTRA_ERUNTIME, "remove work dir '%s': %s",
			       name, strerror(errno));
	return 0;
}
