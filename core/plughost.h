/*
 * plughost.h - the host side of the C plugin ABI (sutra/plugin.h).
 *
 * Loads plugin agents with dlopen(RTLD_NOW | RTLD_LOCAL), checks the
 * descriptor's ABI and size, finds the manifest's agent in it and runs
 * init; any failure dlcloses and names the file, the reason and dlerror().
 * At run time it serves the host function table: each struct sutra_call
 * is backed by one struct agent_ctx, and the effects go through agent.h
 * (permissions, journal).
 */
#ifndef SUTRA_PLUGHOST_H
#define SUTRA_PLUGHOST_H

#include <sutra/plugin.h>

#include "agent.h"

extern const struct agent_kind_ops plugin_kind_ops;

/*
 * One call served by the host table; the public part comes first so that
 * the host functions can cast back.  The isolated kind (plugproc.h) serves
 * its child's proxied host functions through the same table, so that
 * permissions, the journal and memory staging are one code path.
 */
struct plughost_call {
	struct sutra_call pub;
	struct agent_ctx *ctx;      /* borrowed for the call */
	char *input_text;
	char *output_text;
	struct sutra_err err;       /* set by host->error */
	int last_status;
	char last_error[256];
};

/* The host functions, for calls whose ctx is set. */
extern const struct sutra_host plughost_table;

/* Refuses a plugin file that is missing, not regular, or writable by
 * group or others; the message names the file. */
int plughost_check_file(const char *path, struct sutra_err *err);

/*
 * Opens a plugin file and checks its descriptor without running any agent
 * code beyond sutra_plugin_entry (for `catalog install`).  On success
 * fills *plugin_name and *version (new strings; caller frees) when non-NULL.
 */
int plughost_probe(const char *path, char **plugin_name, char **version,
		   struct sutra_err *err);

#endif
