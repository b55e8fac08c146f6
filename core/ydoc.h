/*
 * ydoc.h - YAML documents with positions, for config, manifests and chains.
 *
 * A thin owner of a libyaml document: loading reports syntax errors as
 * "FILE:LINE:COL: message", every node keeps its line and column, and
 * ydoc_to_json converts a node to cJSON with YAML 1.2 core-schema typing
 * (plain true/false/null/numbers are typed, quoted scalars are strings).
 * Conversion is bounded in depth and size, so alias bombs ("billion
 * laughs") and alias cycles fail cleanly instead of exhausting memory.
 */
#ifndef SUTRA_YDOC_H
#define SUTRA_YDOC_H

#include <cjson/cJSON.h>
#include <yaml.h>

#include "err.h"

struct ydoc {
	yaml_document_t doc;
	char *path;   /* as given to ydoc_load_file, for messages */
};

/*
 * Loads the first document of a YAML file.  Returns a new ydoc in *out
 * (caller frees with ydoc_free) or -1 with err set naming FILE:LINE:COL.
 * An empty file yields a document whose root is NULL.
 */
int ydoc_load_file(const char *path, struct ydoc **out, struct sutra_err *err);

/* Same for text in memory; name is used in messages. */
int ydoc_load_string(const char *text, size_t len, const char *name,
		     struct ydoc **out, struct sutra_err *err);

void ydoc_free(struct ydoc *doc);

/* The root node, or NULL for an empty document.  Borrowed from doc. */
yaml_node_t *ydoc_root(struct ydoc *doc);

/* Node access; borrowed from doc.  NULL when index/key is absent. */
yaml_node_t *ydoc_node(struct ydoc *doc, int index);
yaml_node_t *ydoc_map_get(struct ydoc *doc, yaml_node_t *map, const char *key);

/* The scalar's text (NUL-terminated by libyaml), or NULL if not a scalar. */
const char *ydoc_scalar(yaml_node_t *node);

/* 1-based line and column of a node. */
int ydoc_line(const yaml_node_t *node);
int ydoc_col(const yaml_node_t *node);

/*
 * Sets err to "FILE:LINE:COL: MESSAGE" for node (or "FILE: MESSAGE" when
 * node is NULL).  Returns -1.
 */
int ydoc_error(struct ydoc *doc, const yaml_node_t *node,
	       struct sutra_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/*
 * Converts node (NULL: null) to a new cJSON tree (caller frees with
 * cJSON_Delete).  Mapping keys must be scalars.  Returns NULL with err set.
 */
cJSON *ydoc_to_json(struct ydoc *doc, yaml_node_t *node, struct sutra_err *err);

/* Types one plain scalar by the YAML 1.2 core schema; new cJSON item. */
cJSON *ydoc_plain_scalar(const char *text, size_t len);

#endif
