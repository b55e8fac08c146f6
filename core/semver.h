/*
 * semver.h - semantic version numbers (semver.org 2.0) for package
 * upgrades (`sutra catalog install`, sutra-catalog(5)).
 *
 * A version is MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD]: missing MINOR
 * and PATCH count as 0 (so "1.2" equals "1.2.0"), numbers have no leading
 * zeros, a prerelease sorts before its release ("1.0.0-rc.1" < "1.0.0")
 * and build metadata is ignored when comparing.  Pure functions; no
 * allocation.
 */
#ifndef SUTRA_SEMVER_H
#define SUTRA_SEMVER_H

/* Non-zero when text is a version as above. */
int semver_valid(const char *text);

/*
 * Compares two versions: 0 with *cmp < 0, 0 or > 0 as a is older than,
 * equal to or newer than b; -1 (and *cmp untouched) when either is not a
 * version.
 */
int semver_compare(const char *a, const char *b, int *cmp);

#endif
