/* ydoc.c - see ydoc.h. */
#include "ydoc.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds for ydoc_to_json: generous for real files, fatal for bombs. */
enum { YDOC_MAX_DEPTH = 64, YDOC_MAX_NODES = 1000000 };

static int load(yaml_parser_t *parser, const char *name, struct ydoc **out,
		struct sutra_err *err)
{
	struct ydoc *doc = calloc(1, sizeof(*doc));

	if (!doc || !(doc->path = strdup(name))) {
		free(doc);
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	}
	if (!yaml_parser_load(parser, &doc->doc)) {
		err_set(err, SUTRA_EUSAGE, "%s:%zu:%zu: %s%s%s", name,
			parser->problem_mark.line + 1,
			parser->problem_mark.column + 1,
			parser->problem ? parser->problem : "invalid YAML",
			parser->context ? " " : "",
			parser->context ? parser->context : "");
		free(doc->path);
		free(doc);
		return -1;
	}
	*out = doc;
	return 0;
}

int ydoc_load_string(const char *text, size_t len, const char *name,
		     struct ydoc **out, struct sutra_err *err)
{
	yaml_parser_t parser;
	int rc;

	*out = NULL;
	if (!yaml_parser_initialize(&parser))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	rc = load(&parser, name, out, err);
	yaml_parser_delete(&parser);
	return rc;
}

int ydoc_load_file(const char *path, struct ydoc **out, struct sutra_err *err)
{
	yaml_parser_t parser;
	FILE *f;
	int rc;

	*out = NULL;
	f = fopen(path, "rb");
	if (!f)
		return err_set(err, errno == ENOENT ? SUTRA_ENOTFOUND
						    : SUTRA_ERUNTIME,
			       "%s: %s", path, strerror(errno));
	if (!yaml_parser_initialize(&parser)) {
		fclose(f);
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	}
	yaml_parser_set_input_file(&parser, f);
	rc = load(&parser, path, out, err);
	yaml_parser_delete(&parser);
	fclose(f);
	return rc;
}

void ydoc_free(struct ydoc *doc)
{
	if (!doc)
		return;
	yaml_document_delete(&doc->doc);
	free(doc->path);
	free(doc);
}

yaml_node_t *ydoc_root(struct ydoc *doc)
{
	return yaml_document_get_root_node(&doc->doc);
}

yaml_node_t *ydoc_node(struct ydoc *doc, int index)
{
	return yaml_document_get_node(&doc->doc, index);
}

const char *ydoc_scalar(yaml_node_t *node)
{
	if (!node || node->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)node->data.scalar.value;
}

yaml_node_t *ydoc_map_get(struct ydoc *doc, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		const char *k = ydoc_scalar(ydoc_node(doc, p->key));
		if (k && strcmp(k, key) == 0)
			return ydoc_node(doc, p->value);
	}
	return NULL;
}

int ydoc_line(const yaml_node_t *node)
{
	return node ? (int)node->start_mark.line + 1 : 0;
}

int ydoc_col(const yaml_node_t *node)
{
	return node ? (int)node->start_mark.column + 1 : 0;
}

int ydoc_error(struct ydoc *doc, const yaml_node_t *node,
	       struct sutra_err *err, int code, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (node)
		return err_set(err, code, "%s:%d:%d: %s", doc->path,
			       ydoc_line(node), ydoc_col(node), msg);
	return err_set(err, code, "%s: %s", doc->path, msg);
}

static int is_match(const char *s, size_t len, const char *const *words)
{
	for (; *words; words++)
		if (strlen(*words) == len && memcmp(s, *words, len) == 0)
			return 1;
	return 0;
}

static cJSON *plain_number(const char *text, size_t len)
{
	char buf[64];
	char *end;

	if (len == 0 || len >= sizeof(buf))
		return NULL;
	memcpy(buf, text, len);
	buf[len] = '\0';
	/* YAML 1.2 core: [-+]?[0-9]+, 0o.., 0x.., and decimal floats. */
	if (strspn(buf + (buf[0] == '-' || buf[0] == '+'), "0123456789") ==
	    len - (buf[0] == '-' || buf[0] == '+') &&
	    len > (size_t)(buf[0] == '-' || buf[0] == '+')) {
		errno = 0;
		long long v = strtoll(buf, &end, 10);
		if (errno == 0 && *end == '\0')
			return cJSON_CreateNumber((double)v);
	}
	if (len > 2 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'o')) {
		errno = 0;
		long long v = strtoll(buf + 2, &end, buf[1] == 'x' ? 16 : 8);
		if (errno == 0 && *end == '\0' && end != buf + 2)
			return cJSON_CreateNumber((double)v);
	}
	if (strspn(buf, "0123456789+-.eE") == len && strpbrk(buf, "0123456789")) {
		errno = 0;
		double d = strtod(buf, &end);
		if (errno == 0 && *end == '\0' && isfinite(d))
			return cJSON_CreateNumber(d);
	}
	return NULL;
}

cJSON *ydoc_plain_scalar(const char *text, size_t len)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
	static const char *const trues[] = {"true", "True", "TRUE", NULL};
	static const char *const falses[] = {"false", "False", "FALSE", NULL};
	cJSON *num;

	if (is_match(text, len, nulls))
		return cJSON_CreateNull();
	if (is_match(text, len, trues))
		return cJSON_CreateTrue();
	if (is_match(text, len, falses))
		return cJSON_CreateFalse();
	if ((num = plain_number(text, len)))
		return num;
	char *s = strndup(text, len);
	cJSON *str = s ? cJSON_CreateString(s) : NULL;
	free(s);
	return str;
}

struct conv {
	struct ydoc *doc;
	struct sutra_err *err;
	long nodes;
};

static cJSON *convert(struct conv *c, yaml_node_t *node, int depth);

static cJSON *convert_scalar(yaml_node_t *node)
{
	const char *text = (const char *)node->data.scalar.value;
	size_t len = node->data.scalar.length;

	if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
		return ydoc_plain_scalar(text, len);
	return cJSON_CreateString(text);
}

static cJSON *convert_seq(struct conv *c, yaml_node_t *node, int depth)
{
	cJSON *arr = cJSON_CreateArray();

	if (!arr)
		return NULL;
	for (yaml_node_item_t *it = node->data.sequence.items.start;
	     it < node->data.sequence.items.top; it++) {
		cJSON *v = convert(c, ydoc_node(c->doc, *it), depth + 1);
		if (!v) {
			cJSON_Delete(arr);
			return NULL;
		}
		cJSON_AddItemToArray(arr, v);
	}
	return arr;
}

static cJSON *convert_map(struct conv *c, yaml_node_t *node, int depth)
{
	cJSON *obj = cJSON_CreateObject();

	if (!obj)
		return NULL;
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
	     p < node->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = ydoc_node(c->doc, p->key);
		const char *key = ydoc_scalar(kn);
		if (!key) {
			ydoc_error(c->doc, kn, c->err, SUTRA_EUSAGE,
				   "mapping keys must be scalars");
			goto fail;
		}
		if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
			ydoc_error(c->doc, kn, c->err, SUTRA_EUSAGE,
				   "duplicate key '%s'", key);
			goto fail;
		}
		cJSON *v = convert(c, ydoc_node(c->doc, p->value), depth + 1);
		if (!v)
			goto fail;
		cJSON_AddItemToObject(obj, key, v);
	}
	return obj;
fail:
	cJSON_Delete(obj);
	return NULL;
}

static cJSON *convert(struct conv *c, yaml_node_t *node, int depth)
{
	cJSON *v = NULL;

	if (!node)
		return cJSON_CreateNull();
	if (depth > YDOC_MAX_DEPTH || ++c->nodes > YDOC_MAX_NODES) {
		ydoc_error(c->doc, node, c->err, SUTRA_EUSAGE,
			   "document too deep or too large (alias bomb?)");
		return NULL;
	}
	switch (node->type) {
	case YAML_SCALAR_NODE:
		v = convert_scalar(node);
		break;
	case YAML_SEQUENCE_NODE:
		return convert_seq(c, node, depth);
	case YAML_MAPPING_NODE:
		return convert_map(c, node, depth);
	case YAML_NO_NODE:
		v = cJSON_CreateNull();
		break;
	}
	if (!v)
		err_set(c->err, SUTRA_ENOMEM, "out of memory");
	return v;
}

cJSON *ydoc_to_json(struct ydoc *doc, yaml_node_t *node, struct sutra_err *err)
{
	struct conv c = {.doc = doc, .err = err};

	return convert(&c, node, 0);
}
