/* pkgarchive.c - see pkgarchive.h. */
#include "pkgarchive.h"

#include <archive.h>
#include <archive_entry.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#ifndef SUTRA_ARCHIVE_SONAME
#define SUTRA_ARCHIVE_SONAME "libarchive.so.13"
#endif

/* The libarchive functions used, resolved from the library at first use. */
#define LA_FUNCS(X)                                                     \
	X(archive_read_new) X(archive_read_support_filter_gzip)         \
	X(archive_read_support_filter_none)                             \
	X(archive_read_support_format_tar) X(archive_read_open_filename) \
	X(archive_read_next_header) X(archive_read_data)                \
	X(archive_read_free) X(archive_error_string)                    \
	X(archive_entry_pathname) X(archive_entry_filetype)             \
	X(archive_entry_hardlink) X(archive_entry_size)                 \
	X(archive_entry_size_is_set) X(archive_entry_perm)

static struct {
#define LA_MEMBER(f) __typeof__(f) *f;
	LA_FUNCS(LA_MEMBER)
#undef LA_MEMBER
} la;

static pthread_once_t la_once = PTHREAD_ONCE_INIT;
static char la_error[256];

static void la_load(void)
{
	void *h = dlopen(SUTRA_ARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		snprintf(la_error, sizeof(la_error), "%s", dlerror());
		return;
	}
#define LA_RESOLVE(f)                                                   \
	if (!(*(void **)&la.f = dlsym(h, #f))) {                        \
		snprintf(la_error, sizeof(la_error), "%s: no symbol '%s'", \
			 SUTRA_ARCHIVE_SONAME, #f);                      \
		return;                                                 \
	}
	LA_FUNCS(LA_RESOLVE)
#undef LA_RESOLVE
}

static int la_ready(struct sutra_err *err)
{
	pthread_once(&la_once, la_load);
	if (la_error[0])
		return err_set(err, SUTRA_ERUNTIME,
			       "cannot read tarballs: libarchive did not load "
			       "(%s); install libarchive13",
			       la_error);
	return 0;
}

struct extract {
	const char *path;            /* the archive, for messages */
	const char *dest;
	const struct pkg_limits *limits;
	struct archive *ar;
	uint64_t bytes;
	size_t entries;
	char *top;                   /* the one top-level folder */
	int write;                   /* 0: the checking pass */
	struct sutra_err *err;
};

static int refuse(struct extract *x, const char *entry, const char *why)
{
	return err_set(x->err, SUTRA_EUSAGE, "%s: entry '%s': %s", x->path,
		       entry, why);
}

/*
 * Normalises an entry name into out: drops "." components and repeated
 * or trailing slashes.  Returns NULL, or why the name is refused.
 */
static const char *clean_name(const char *name, char *out, size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	if (!name || !*name)
		return "empty name refused";
	if (name[0] == '/')
		return "absolute path refused";
	for (const char *p = name; *p;) {
		size_t k = strcspn(p, "/");
		if (k == 2 && p[0] == '.' && p[1] == '.')
			return "'..' in the path refused";
		if (k > 0 && !(k == 1 && p[0] == '.')) {
			if (len + k + 2 > n)
				return "path too long";
			if (len)
				out[len++] = '/';
			memcpy(out + len, p, k);
			len += k;
			out[len] = '\0';
		}
		p += k + (p[k] == '/');
	}
	return NULL;
}

/* Why an entry's type is refused, or NULL for files and directories. */
static const char *refused_type(struct archive_entry *e)
{
	if (la.archive_entry_hardlink(e))
		return "hard link refused (a package holds only files and "
		       "directories)";
	switch (la.archive_entry_filetype(e)) {
	case AE_IFREG:
	case AE_IFDIR:
		return NULL;
	case AE_IFLNK:
		return "symbolic link refused (a package holds only files "
		       "and directories)";
	case AE_IFCHR:
	case AE_IFBLK:
		return "device file refused";
	case AE_IFIFO:
		return "fifo refused";
	case AE_IFSOCK:
		return "socket refused";
	}
	return "unsupported entry type refused";
}

/* Checks the entry's first component against the one top folder. */
static int check_top(struct extract *x, const char *name, const char *rel,
		     int is_dir)
{
	size_t k = strcspn(rel, "/");

	if (!rel[k] && !is_dir)
		return err_set(x->err, SUTRA_EUSAGE,
			       "%s: '%s' is a file at the top level; the "
			       "archive must hold one package folder",
			       x->path, name);
	if (!x->top) {
		if (!(x->top = strndup(rel, k)))
			return err_set(x->err, SUTRA_ENOMEM, "out of memory");
		return 0;
	}
	if (strlen(x->top) != k || strncmp(x->top, rel, k) != 0)
		return err_set(x->err, SUTRA_EUSAGE,
			       "%s: more than one top-level entry ('%s' and "
			       "'%.*s'); the archive must hold one package "
			       "folder",
			       x->path, x->top, (int)k, rel);
	return 0;
}

/* Creates the directories above rel (they may exist already). */
static int make_parents(struct extract *x, const char *full, size_t base)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s", full);
	for (char *p = path + base + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return err_set(x->err, SUTRA_ERUNTIME, "%s: mkdir: %s",
				       path, strerror(errno));
		*p = '/';
	}
	return 0;
}

static int make_dir(struct extract *x, const char *name, const char *full)
{
	struct stat sb;

	if (mkdir(full, 0700) == 0)
		return 0;
	if (errno == EEXIST && lstat(full, &sb) == 0 && S_ISDIR(sb.st_mode))
		return 0;
	if (errno == EEXIST)
		return refuse(x, name, "duplicate entry refused");
	return err_set(x->err, SUTRA_ERUNTIME, "%s: mkdir: %s", full,
		       strerror(errno));
}

static int write_data(struct extract *x, const char *name, int fd)
{
	char buf[65536];
	la_ssize_t n;

	while ((n = la.archive_read_data(x->ar, buf, sizeof(buf))) != 0) {
		if (n < 0)
			return err_set(x->err, SUTRA_EUSAGE,
				       "%s: entry '%s': %s", x->path, name,
				       la.archive_error_string(x->ar));
		if ((uint64_t)n > x->limits->max_bytes - x->bytes)
			return refuse(x, name, "archive is over the size limit");
		x->bytes += (uint64_t)n;
		for (char *p = buf; n > 0;) {
			ssize_t w = write(fd, p, (size_t)n);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return err_set(x->err, SUTRA_ERUNTIME,
					       "%s: write: %s", name,
					       strerror(errno));
			p += w;
			n -= w;
		}
	}
	return 0;
}

static int make_file(struct extract *x, const char *name, const char *full,
		     struct archive_entry *e)
{
	int fd, rc;

	if (la.archive_entry_size_is_set(e) &&
	    (uint64_t)la.archive_entry_size(e) >
		    x->limits->max_bytes - x->bytes)
		return refuse(x, name, "archive is over the size limit");
	fd = open(full, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0 && errno == EEXIST)
		return refuse(x, name, "duplicate entry refused");
	if (fd < 0)
		return err_set(x->err, SUTRA_ERUNTIME, "%s: %s", full,
			       strerror(errno));
	rc = write_data(x, name, fd);
	if (rc == 0 && fchmod(fd, la.archive_entry_perm(e) & 0777) != 0)
		rc = err_set(x->err, SUTRA_ERUNTIME, "%s: chmod: %s", full,
			     strerror(errno));
	if (close(fd) != 0 && rc == 0)
		rc = err_set(x->err, SUTRA_ERUNTIME, "%s: close: %s", full,
			     strerror(errno));
	return rc;
}

/* The checking pass counts the sizes the headers declare. */
static int declared_size(struct extract *x, const char *name,
			 struct archive_entry *e)
{
	uint64_t size = la.archive_entry_size_is_set(e)
				? (uint64_t)la.archive_entry_size(e)
				: 0;

	if (size > x->limits->max_bytes - x->bytes)
		return refuse(x, name, "archive is over the size limit");
	x->bytes += size;
	return 0;
}

static int extract_entry(struct extract *x, struct archive_entry *e)
{
	const char *name = la.archive_entry_pathname(e), *why;
	char rel[PATH_MAX / 2], full[PATH_MAX];
	int is_dir = la.archive_entry_filetype(e) == AE_IFDIR;

	if (!name)
		name = "?";
	if (++x->entries > x->limits->max_entries)
		return refuse(x, name, "more than the limit of entries");
	if ((why = clean_name(name, rel, sizeof(rel))) ||
	    (why = refused_type(e)))
		return refuse(x, name, why);
	if (!rel[0])   /* "./": the archive's own root */
		return is_dir ? 0 : refuse(x, name, "not a directory");
	if (check_top(x, name, rel, is_dir) < 0)
		return -1;
	snprintf(full, sizeof(full), "%s/%s", x->dest, rel);
	if (!x->write)
		return declared_size(x, name, e);
	if (make_parents(x, full, strlen(x->dest)) < 0)
		return -1;
	return is_dir ? make_dir(x, name, full) : make_file(x, name, full, e);
}

static int open_archive(struct extract *x)
{
	struct stat sb;

	if (stat(x->path, &sb) != 0)
		return err_set(x->err, SUTRA_EUSAGE, "%s: %s", x->path,
			       strerror(errno));
	if ((uint64_t)sb.st_size > x->limits->max_bytes)
		return err_set(x->err, SUTRA_EUSAGE,
			       "%s: archive is over the size limit", x->path);
	if (!(x->ar = la.archive_read_new()))
		return err_set(x->err, SUTRA_ENOMEM, "out of memory");
	la.archive_read_support_filter_gzip(x->ar);
	la.archive_read_support_filter_none(x->ar);
	la.archive_read_support_format_tar(x->ar);
	if (la.archive_read_open_filename(x->ar, x->path, 65536) != ARCHIVE_OK)
		return err_set(x->err, SUTRA_EUSAGE, "%s: %s", x->path,
			       la.archive_error_string(x->ar));
	return 0;
}

/* One pass over the archive: checking only, or writing too. */
static int run_pass(struct extract *x, int write)
{
	struct archive_entry *e;
	int r, rc = -1;

	x->write = write;
	x->bytes = 0;
	x->entries = 0;
	if (open_archive(x) < 0)
		goto out;
	while ((r = la.archive_read_next_header(x->ar, &e)) != ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN) {
			err_set(x->err, SUTRA_EUSAGE,
				"%s: not a readable tarball: %s", x->path,
				la.archive_error_string(x->ar));
			goto out;
		}
		if (extract_entry(x, e) < 0)
			goto out;
	}
	rc = 0;
out:
	if (x->ar)
		la.archive_read_free(x->ar);
	x->ar = NULL;
	return rc;
}

/*
 * Two passes: the first reads only the headers and refuses a bad archive
 * before anything is written; the second writes, counting the bytes
 * actually read against the limit (a header may lie about its size).
 */
int pkgarchive_extract(const char *path, const char *dest,
		       const struct pkg_limits *limits, char **top,
		       struct sutra_err *err)
{
	struct extract x = {.path = path, .dest = dest, .limits = limits,
			    .err = err};
	int rc = -1;

	*top = NULL;
	if (la_ready(err) < 0 || run_pass(&x, 0) < 0)
		goto out;
	if (!x.top) {
		err_set(err, SUTRA_EUSAGE, "%s: the archive holds no package "
			"folder", path);
		goto out;
	}
	if (run_pass(&x, 1) < 0)
		goto out;
	*top = x.top;
	x.top = NULL;
	rc = 0;
out:
	free(x.top);
	return rc;
}
