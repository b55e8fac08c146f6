/* schema.c - see schema.h. */
#include "schema.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {
	"string", "integer", "number", "boolean", "object", "array", "null",
	"any", NULL,
};

int schema_known_type(const char *type)
{
	for (const char *const *t = type_names; *t; t++)
		if (strcmp(*t, type) == 0)
			return 1;
	return 0;
}

static int is_integer(const cJSON *v)
{
	return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
	       fabs(v->valuedouble) < 9007199254740992.0;
}

static int has_type(const cJSON *v, const char *type)
{
	if (strcmp(type, "any") == 0)
		return 1;
	if (strcmp(type, "string") == 0)
		return cJSON_IsString(v);
	if (strcmp(type, "integer") == 0)
		return is_integer(v);
	if (strcmp(type, "number") == 0)
		return cJSON_IsNumber(v);
	if (strcmp(type, "boolean") == 0)
		return cJSON_IsBool(v);
	if (strcmp(type, "object") == 0)
		return cJSON_IsObject(v);
	if (strcmp(type, "array") == 0)
		return cJSON_IsArray(v);
	if (strcmp(type, "null") == 0)
		return cJSON_IsNull(v);
	return 0;
}

static const char *type_of(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "string";
	if (is_integer(v))
		return "integer";
	if (cJSON_IsNumber(v))
		return "number";
	if (cJSON_IsBool(v))
		return "boolean";
	if (cJSON_IsObject(v))
		return "object";
	if (cJSON_IsArray(v))
		return "array";
	return "null";
}

static int check_enum(const cJSON *schema, const cJSON *value,
		      const char *what, struct sutra_err *err)
{
	const cJSON *choices = cJSON_GetObjectItemCaseSensitive(schema, "enum");
	const cJSON *c;

	if (!cJSON_IsArray(choices))
		return 0;
	cJSON_ArrayForEach(c, choices)
		if (cJSON_Compare(c, value, 1))
			return 0;
	return err_set(err, SUTRA_EUSAGE, "%s: not one of the allowed values",
		       what);
}

static int check_children(const cJSON *schema, const cJSON *value,
			  const char *what, struct sutra_err *err)
{
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(schema, "items");
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(schema, "required");
	char sub[256];
	const cJSON *c;
	int i = 0;

	if (cJSON_IsArray(value) && cJSON_IsObject(items)) {
		cJSON_ArrayForEach(c, value) {
			snprintf(sub, sizeof(sub), "%s[%d]", what, i++);
			if (schema_check(items, c, sub, err) < 0)
				return -1;
		}
	}
	if (!cJSON_IsObject(value))
		return 0;
	if (cJSON_IsArray(req)) {
		cJSON_ArrayForEach(c, req) {
			if (cJSON_IsString(c) &&
			    !cJSON_GetObjectItemCaseSensitive(value, c->valuestring))
				return err_set(err, SUTRA_EUSAGE,
					       "%s: missing field '%s'", what,
					       c->valuestring);
		}
	}
	if (cJSON_IsObject(props)) {
		cJSON_ArrayForEach(c, props) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(value, c->string);
			snprintf(sub, sizeof(sub), "%s.%s", what, c->string);
			if (v && schema_check(c, v, sub, err) < 0)
				return -1;
		}
	}
	return 0;
}

int schema_check(const cJSON *schema, const cJSON *value, const char *what,
		 struct sutra_err *err)
{
	const cJSON *type;

	if (!cJSON_IsObject(schema))
		return 0;
	type = cJSON_GetObjectItemCaseSensitive(schema, "type");
	if (cJSON_IsString(type) && !has_type(value, type->valuestring))
		return err_set(err, SUTRA_EUSAGE, "%s: expected %s, got %s",
			       what, type->valuestring, type_of(value));
	if (check_enum(schema, value, what, err) < 0)
		return -1;
	return check_children(schema, value, what, err);
}

int schema_check_fields(const cJSON *fields, const cJSON *object,
			const char *what, struct sutra_err *err)
{
	const cJSON *f;
	char sub[256];

	if (!cJSON_IsObject(fields))
		return 0;
	if (!cJSON_IsObject(object))
		return err_set(err, SUTRA_EUSAGE, "%s: expected an object, got %s",
			       what, type_of(object));
	cJSON_ArrayForEach(f, fields) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(object, f->string);
		snprintf(sub, sizeof(sub), "%s: field '%s'", what, f->string);
		if (!v) {
			if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "required")))
				return err_set(err, SUTRA_EUSAGE,
					       "%s: missing required field '%s'",
					       what, f->string);
			continue;
		}
		if (schema_check(f, v, sub, err) < 0)
			return -1;
	}
	return 0;
}

int schema_apply_defaults(const cJSON *fields, cJSON *object,
			  struct sutra_err *err)
{
	const cJSON *f;

	if (!cJSON_IsObject(fields) || !cJSON_IsObject(object))
		return 0;
	cJSON_ArrayForEach(f, fields) {
		const cJSON *def = cJSON_GetObjectItemCaseSensitive(f, "default");
		if (!def || cJSON_GetObjectItemCaseSensitive(object, f->string))
			continue;
		cJSON *copy = cJSON_Duplicate(def, 1);
		if (!copy)
			return err_set(err, SUTRA_ENOMEM, "out of memory");
		cJSON_AddItemToObject(object, f->string, copy);
	}
	return 0;
}

static cJSON *number_from_text(const char *text, int integer)
{
	char *end;

	errno = 0;
	if (integer) {
		long long v = strtoll(text, &end, 10);
		if (errno || end == text || *end ||
		    llabs(v) > 9007199254740992LL)
			return NULL;
		return cJSON_CreateNumber((double)v);
	}
	double d = strtod(text, &end);
	if (errno || end == text || *end || !isfinite(d))
		return NULL;
	return cJSON_CreateNumber(d);
}

cJSON *schema_from_text(const char *type, const char *text, const char *field,
			struct sutra_err *err)
{
	cJSON *v = NULL;

	if (!type || strcmp(type, "string") == 0)
		v = cJSON_CreateString(text);
	else if (strcmp(type, "integer") == 0 || strcmp(type, "number") == 0)
		v = number_from_text(text, strcmp(type, "integer") == 0);
	else if (strcmp(type, "boolean") == 0) {
		if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0 ||
		    strcmp(text, "yes") == 0)
			v = cJSON_CreateTrue();
		else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0 ||
			 strcmp(text, "no") == 0)
			v = cJSON_CreateFalse();
	} else {
		v = cJSON_Parse(text);
		if (v && strcmp(type, "any") != 0 && !has_type(v, type)) {
			cJSON_Delete(v);
			v = NULL;
		}
	}
	if (!v)
		err_set(err, SUTRA_EUSAGE, "input '%s': '%s' is not %s %s",
			field, text,
			strchr("aeiou", type ? type[0] : 's') ? "an" : "a",
			type ? type : "string");
	return v;
}
