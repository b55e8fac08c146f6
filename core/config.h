/*
 * config.h - the project configuration, sutra.yaml (SPEC §2, §9).
 *
 * The file is read once into a cJSON tree; each module reads its own
 * section (config_section(cfg, "llm")), so adding settings never touches
 * this module.
 */
#ifndef SUTRA_CONFIG_H
#define SUTRA_CONFIG_H

#include <cjson/cJSON.h>

#include "err.h"

struct config {
	cJSON *root;   /* always an object; empty when there is no file */
	char *path;    /* the file read, or NULL */
};

/*
 * Loads the configuration.  path NULL means the default "sutra.yaml" in
 * the current (project) directory, which may be absent; an explicit path
 * must exist.  Returns a new config (caller frees with config_free).
 */
int config_load(const char *path, struct config **out, struct sutra_err *err);
void config_free(struct config *cfg);

/* A top-level section, borrowed from cfg; NULL when absent. */
const cJSON *config_section(const struct config *cfg, const char *name);

#endif
