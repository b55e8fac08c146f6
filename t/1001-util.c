/* 1001-util: durations, SHA-256, YAML typing, schemas, errors. */
#include "tap.h"

#include "err.h"
#include "schema.h"
#include "util.h"
#include "ydoc.h"

static void test_durations(void)
{
	int64_t ms = -1;

	ok(parse_duration_ms("250ms", &ms) == 0 && ms == 250, "250ms");
	ok(parse_duration_ms("30s", &ms) == 0 && ms == 30000, "30s");
	ok(parse_duration_ms("5m", &ms) == 0 && ms == 300000, "5m");
	ok(parse_duration_ms("1.5s", &ms) == 0 && ms == 1500, "1.5s");
	ok(parse_duration_ms("2", &ms) == 0 && ms == 2000, "bare seconds");
	ok(parse_duration_ms("10x", &ms) < 0, "unknown unit fails");
	ok(parse_duration_ms("", &ms) < 0, "empty fails");
	ok(parse_duration_ms("-1s", &ms) < 0, "negative fails");
}

static void test_sha256(void)
{
	char hex[65];

	sha256_hex("abc", 3, hex);
	is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	       "sha256 of 'abc' (FIPS 180-2 vector)");
	sha256_hex("", 0, hex);
	is_str(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	       "sha256 of ''");
}

static cJSON *yaml_json(const char *text, struct sutra_err *err)
{
	struct ydoc *doc;
	cJSON *v;

	if (ydoc_load_string(text, strlen(text), "test.yaml", &doc, err) < 0)
		return NULL;
	v = ydoc_to_json(doc, ydoc_root(doc), err);
	ydoc_free(doc);
	return v;
}

static void test_yaml(void)
{
	struct sutra_err err = {0};
	cJSON *v = yaml_json("a: 1\nb: '1'\nc: true\nd: ~\ne: 1.5\nf: [x, 2]\n"
			     "g: 0x10\nh: yes\n", &err);
	char *text = v ? cJSON_PrintUnformatted(v) : NULL;

	is_str(text, "{\"a\":1,\"b\":\"1\",\"c\":true,\"d\":null,\"e\":1.5,"
		     "\"f\":[\"x\",2],\"g\":16,\"h\":\"yes\"}",
	       "YAML 1.2 core typing; quoted stays text");
	cJSON_free(text);
	cJSON_Delete(v);

	err_clear(&err);
	v = yaml_json("a: [1, 2\n", &err);
	ok(!v && strstr(err.msg, "test.yaml:") == err.msg, "syntax error names the file");
	ok(strstr(err.msg, ":2:") || strstr(err.msg, ":1:"), "and the line: %s", err.msg);

	err_clear(&err);
	v = yaml_json("a: 1\na: 2\n", &err);
	ok(!v && strstr(err.msg, "test.yaml:2:1: duplicate key 'a'"),
	   "duplicate key at 2:1: %s", err.msg);

	err_clear(&err);
	v = yaml_json("a: &a [x, x, x, x, x, x, x, x, x]\n"
		      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		      "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		      "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		      "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n", &err);
	ok(!v && strstr(err.msg, "too large"), "alias bomb is refused: %s", err.msg);
}

static void test_schema(void)
{
	struct sutra_err err = {0};
	cJSON *fields = cJSON_Parse("{\"name\":{\"type\":\"string\",\"required\":true},"
				    "\"n\":{\"type\":\"integer\",\"default\":3}}");
	cJSON *in = cJSON_Parse("{\"name\":\"x\"}");

	ok(schema_check_fields(fields, in, "input", &err) == 0, "valid input passes");
	ok(schema_apply_defaults(fields, in, &err) == 0 &&
	   cJSON_GetObjectItem(in, "n")->valueint == 3, "default applied");
	cJSON_Delete(in);
	in = cJSON_Parse("{\"n\":1.5}");
	ok(schema_check_fields(fields, in, "input", &err) < 0 &&
	   strstr(err.msg, "missing required field 'name'"), "missing field: %s", err.msg);
	err_clear(&err);
	cJSON_AddStringToObject(in, "name", "y");
	ok(schema_check_fields(fields, in, "input", &err) < 0 &&
	   strstr(err.msg, "field 'n': expected integer, got number"),
	   "wrong type named: %s", err.msg);
	cJSON_Delete(in);
	cJSON_Delete(fields);

	err_clear(&err);
	cJSON *v = schema_from_text("integer", "42", "rounds", &err);
	ok(v && v->valueint == 42, "integer from text");
	cJSON_Delete(v);
	v = schema_from_text("integer", "4x", "rounds", &err);
	ok(!v && strstr(err.msg, "input 'rounds': '4x' is not an integer"),
	   "bad integer named: %s", err.msg);
	err_clear(&err);
	v = schema_from_text("boolean", "true", "b", &err);
	ok(cJSON_IsTrue(v), "boolean from text");
	cJSON_Delete(v);
	v = schema_from_text("array", "[1,2]", "a", &err);
	ok(cJSON_IsArray(v), "array from JSON text");
	cJSON_Delete(v);
}

static void test_errors(void)
{
	struct sutra_err err = {0};

	err_set(&err, SUTRA_EFAILED, "inner %d", 1);
	err_set(&err, SUTRA_EUSAGE, "outer");
	is_str(err.msg, "inner 1", "first error wins");
	err_prefix(&err, "step '%s'", "build");
	is_str(err.msg, "step 'build': inner 1", "prefix adds context");
	is_int(err_exit_code(SUTRA_EUSAGE), 2, "usage exits 2");
	is_int(err_exit_code(SUTRA_EFAILED), 1, "failure exits 1");
	is_int(err_exit_code(SUTRA_ERUNTIME), 3, "runtime exits 3");
	is_int(err_exit_code(SUTRA_EINTR), 130, "interrupt exits 130");
}

int main(void)
{
	plan_lazy();
	test_durations();
	test_sha256();
	test_yaml();
	test_schema();
	test_errors();
	done_testing();
	return exit_status();
}
