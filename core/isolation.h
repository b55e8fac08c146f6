/*
 * isolation.h - the isolation policy: which agents run confined, and
 * with what limits, from each manifest and the project's sutra.yaml.
 *
 *   - A plugin with `isolation: process` runs in a sandboxed child
 *     process (core/plugproc.h); sutra.yaml can force either way per
 *     package: `packages: {NAME: {isolation: process|none}}`.
 *   - A Lua agent runs with an instruction and a memory limit per call
 *     (core/luart.h) when it comes from the user catalog (what `catalog
 *     install` fills with packages from elsewhere) or its manifest, or
 *     sutra.yaml's `packages: {NAME: {limits: ...}}`, has `limits`.
 *     Unset limits take the defaults below; all are clamped to the caps
 *     of sutra.yaml `lua: {max_instructions, max_memory_mb}`.
 *   - An isolated plugin's process gets limits.memory_mb of address
 *     space (default 1 GiB, SPEC §8's sandbox default).
 *
 * The policy is settled once, when the runtime opens; the agents' fields
 * (isolation, limited, limits) are read-only afterwards.
 */
#ifndef SUTRA_ISOLATION_H
#define SUTRA_ISOLATION_H

#include "catalog.h"
#include "config.h"
#include "err.h"

#define ISOLATION_LUA_INSTRUCTIONS 1000000000LL  /* per call */
#define ISOLATION_LUA_MEMORY_MB 256
#define ISOLATION_PLUGIN_MEMORY_MB 1024

/*
 * Applies sutra.yaml's `packages` and `lua` sections and the defaults to
 * every agent of cat.  user_catalog (may be NULL) is the directory whose
 * packages are limited whatever their manifests say.  Fails with a usage
 * error naming the setting when sutra.yaml holds a bad value.
 */
int isolation_apply(struct catalog *cat, const struct config *cfg,
		    const char *user_catalog, struct sutra_err *err);

#endif
