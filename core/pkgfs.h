/*
 * pkgfs.h - the file system side of package installation: copying a
 * package tree under limits, sealing it (no group/world write, fsync'd),
 * digesting it, and removing it.
 *
 * A package tree holds only directories and regular files: every function
 * here refuses symbolic links, hard-linked trees are copied as plain
 * files, and devices, fifos and sockets are refused.  Nothing here follows
 * a symbolic link.  Errors name the file and the syscall.
 */
#ifndef SUTRA_PKGFS_H
#define SUTRA_PKGFS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* What one package may hold (sutra-catalog(5)). */
struct pkg_limits {
	uint64_t max_bytes;    /* total size of its files */
	size_t max_entries;    /* files and directories */
};

#define PKG_MAX_BYTES ((uint64_t)64 << 20)
#define PKG_MAX_ENTRIES 10000

/*
 * Copies the tree at src to dst, which must not exist (created 0700, its
 * files keep their permission bits without set-id bits).  Fails with
 * SUTRA_EUSAGE for content a package may not hold (a symbolic link, a
 * device, too much) and SUTRA_ERUNTIME for I/O errors; dst may then be
 * partly written (the caller removes it).
 */
int pkgfs_copy_tree(const char *src, const char *dst,
		    const struct pkg_limits *limits, struct sutra_err *err);

/*
 * Makes an installed tree safe and durable: clears group and other write
 * permission on everything, makes directories 0755 at most, and fsyncs
 * every file and directory.
 */
int pkgfs_seal_tree(const char *dir, struct sutra_err *err);

/*
 * SHA-256 of a tree's content: every relative path (in byte order), its
 * type and its file bytes; permission bits are not included.  hex gets
 * 64 hex digits and a NUL.
 */
int pkgfs_tree_digest(const char *dir, char hex[65], struct sutra_err *err);

/* Removes a tree without following symbolic links.  Missing: no error. */
int pkgfs_remove_tree(const char *dir, struct sutra_err *err);

/* fsyncs a directory (after a rename in it). */
int pkgfs_sync_dir(const char *dir, struct sutra_err *err);

#endif
