/*
 * pkgarchive.h - unpacking a package tarball (.tar.gz or .tar) for
 * `sutra catalog install`, refusing anything a package may not hold.
 *
 * libarchive reads the archive; it is loaded with dlopen on first use
 * (it links libxml2 and ICU, whose loading would cost every sutra process
 * milliseconds).  The entries are written by this module, never by
 * libarchive, into a directory the caller created: only directories and
 * regular files, under limits, with names that stay inside it.
 */
#ifndef SUTRA_PKGARCHIVE_H
#define SUTRA_PKGARCHIVE_H

#include "err.h"
#include "pkgfs.h"

/*
 * Unpacks the tarball at path into dest (an existing, empty directory
 * only this process writes to).  The archive must hold exactly one
 * top-level folder, whose name is returned in *top (new string; caller
 * frees; NULL on failure).  Refused, with SUTRA_EUSAGE and a message
 * naming the archive and the entry: absolute paths, '..' components,
 * symbolic and hard links, devices, fifos and sockets, duplicate entries,
 * more than limits->max_entries entries or limits->max_bytes bytes, and
 * files or several folders at the top level.  Unreadable archives fail
 * with SUTRA_EUSAGE too, a missing libarchive with SUTRA_ERUNTIME.  On
 * failure dest may hold part of the archive (the caller removes it).
 */
int pkgarchive_extract(const char *path, const char *dest,
		       const struct pkg_limits *limits, char **top,
		       struct sutra_err *err);

#endif
