/*
 * schema.h - checking JSON values against the small schema language of
 * manifests, chain inputs and ask answers.
 *
 * A type schema is a JSON-Schema subset: {type: string|integer|number|
 * boolean|object|array|null|any, enum: [...], items: SCHEMA, properties:
 * {NAME: SCHEMA}, required: [NAME...]}.  A fields schema (manifest `input`,
 * chain `inputs`) maps field names to type schemas that may also say
 * `required: true` and `default: VALUE`.
 */
#ifndef SUTRA_SCHEMA_H
#define SUTRA_SCHEMA_H

#include <cjson/cJSON.h>

#include "err.h"

/* Checks value against a type schema; what names the value in messages. */
int schema_check(const cJSON *schema, const cJSON *value, const char *what,
		 struct sutra_err *err);

/*
 * Checks an object against a fields schema: required fields present, each
 * present field of its type.  Fields the schema does not name pass.
 */
int schema_check_fields(const cJSON *fields, const cJSON *object,
			const char *what, struct sutra_err *err);

/* Adds each missing field's default to object (copies). */
int schema_apply_defaults(const cJSON *fields, cJSON *object,
			  struct sutra_err *err);

/*
 * Converts command-line text to a value of the given type ("integer",
 * "boolean", "object"...; NULL or "string": the text itself).  Returns a
 * new cJSON or NULL with err set naming the field.
 */
cJSON *schema_from_text(const char *type, const char *text, const char *field,
			struct sutra_err *err);

/* Whether type is one the schema language knows. */
int schema_known_type(const char *type);

#endif
