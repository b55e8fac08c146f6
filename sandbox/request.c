/*
 * request.c - the sandbox's JSON face: limits, requests, and the effect
 * provider agents reach through ctx.sandbox.run and host->sandbox_run.
 *
 * A request is checked strictly (unknown keys, wrong types and limits out
 * of range are usage errors naming the key) before anything runs.  Agents
 * get less than the CLI: a request from an agent may not read a host
 * directory into the sandbox (`dir`) nor leave the work dir behind
 * (`keep`), because the `sandbox` permission grants running code, not
 * reading or writing the host's files; and its wall-clock limit never
 * outlives the agent's own deadline.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "internal.h"
#include "util.h"

void sandbox_limits_default(struct sandbox_limits *l)
{
	*l = (struct sandbox_limits){
		.wall_ms = 10000,
		.cpu_ms = 10000,
		.memory_bytes = 1ULL << 30,
		.procs = 64,
		.open_files = 256,
		.file_bytes = 16ULL << 20,
		.stack_bytes = 8ULL << 20,
		.workdir_bytes = 64ULL << 20,
		.workdir_inodes = 16384,
		.capture_bytes = 1ULL << 20,
		.output_bytes = 16ULL << 20,
		.collect_bytes = 1ULL << 20,
	};
}

enum limit_kind { LIM_MS, LIM_COUNT };

/* The limits a request may set: JSON key, unit, field, range. */
static const struct limit_field {
	const char *key;
	enum limit_kind kind;
	size_t offset;
	uint64_t unit;        /* LIM_COUNT: bytes per unit of the key */
	uint64_t max;         /* in the key's unit (LIM_MS: seconds) */
} limit_fields[] = {
	{"time", LIM_MS, offsetof(struct sandbox_limits, wall_ms), 1, 3600},
	{"cpu", LIM_MS, offsetof(struct sandbox_limits, cpu_ms), 1, 3600},
	{"memory_mb", LIM_COUNT, offsetof(struct sandbox_limits, memory_bytes),
	 1 << 20, 65536},
	{"procs", LIM_COUNT, offsetof(struct sandbox_limits, procs), 1, 4096},
	{"open_files", LIM_COUNT, offsetof(struct sandbox_limits, open_files),
	 1, 65536},
	{"file_mb", LIM_COUNT, offsetof(struct sandbox_limits, file_bytes),
	 1 << 20, 65536},
	{"stack_mb", LIM_COUNT, offsetof(struct sandbox_limits, stack_bytes),
	 1 << 20, 1024},
	{"workdir_mb", LIM_COUNT,
	 offsetof(struct sandbox_limits, workdir_bytes), 1 << 20, 65536},
	{"workdir_inodes", LIM_COUNT,
	 offsetof(struct sandbox_limits, workdir_inodes), 1, 1 << 24},
	{"capture_kb", LIM_COUNT,
	 offsetof(struct sandbox_limits, capture_bytes), 1 << 10, 1 << 20},
	{"output_mb", LIM_COUNT,
	 offsetof(struct sandbox_limits, output_bytes), 1 << 20, 65536},
	{"collect_kb", LIM_COUNT,
	 offsetof(struct sandbox_limits, collect_bytes), 1 << 10, 1 << 20},
};

#define N_LIMITS (sizeof(limit_fields) / sizeof(limit_fields[0]))

static int parse_ms(const cJSON *v, const struct limit_field *f,
		    int64_t *ms, struct sutra_err *err)
{
	if (cJSON_IsNumber(v))
		*ms = (int64_t)(v->valuedouble * 1000);
	else if (!cJSON_IsString(v) || parse_duration_ms(v->valuestring, ms) < 0)
		return err_set(err, SUTRA_EUSAGE, "limits.%s: not a duration "
			       "(seconds, or e.g. \"250ms\", \"30s\")", f->key);
	if (*ms <= 0 || *ms > (int64_t)f->max * 1000)
		return err_set(err, SUTRA_EUSAGE, "limits.%s: must be above 0 "
			       "and at most %llu s", f->key,
			       (unsigned long long)f->max);
	return 0;
}

static int parse_limit(const cJSON *v, const struct limit_field *f,
		       struct sandbox_limits *l, struct sutra_err *err)
{
	char *field = (char *)l + f->offset;
	int64_t ms;

	if (f->kind == LIM_MS) {
		if (parse_ms(v, f, &ms, err) < 0)
			return -1;
		memcpy(field, &ms, sizeof(ms));
		return 0;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble < 1 ||
	    v->valuedouble > (double)f->max ||
	    v->valuedouble != (double)(uint64_t)v->valuedouble)
		return err_set(err, SUTRA_EUSAGE, "limits.%s: must be a whole "
			       "number from 1 to %llu", f->key,
			       (unsigned long long)f->max);
	uint64_t value = (uint64_t)v->valuedouble * f->unit;
	memcpy(field, &value, sizeof(value));
	return 0;
}

int sandbox_limits_from_json(const cJSON *obj, struct sandbox_limits *l,
			     struct sutra_err *err)
{
	const cJSON *v;

	if (!cJSON_IsObject(obj))
		return err_set(err, SUTRA_EUSAGE, "limits: must be an object");
	cJSON_ArrayForEach(v, obj) {
		size_t i = 0;
		while (i < N_LIMITS && strcmp(limit_fields[i].key, v->string))
			i++;
		if (i == N_LIMITS)
			return err_set(err, SUTRA_EUSAGE, "limits: unknown key "
				       "'%s'", v->string);
		if (parse_limit(v, &limit_fields[i], l, err) < 0)
			return -1;
	}
	return 0;
}

cJSON *sandbox_limits_to_json(const struct sandbox_limits *l)
{
	cJSON *o = cJSON_CreateObject();

	for (size_t i = 0; i < N_LIMITS; i++) {
		const struct limit_field *f = &limit_fields[i];
		const char *field = (const char *)l + f->offset;
		if (f->kind == LIM_MS) {
			int64_t ms;
			memcpy(&ms, field, sizeof(ms));
			cJSON_AddNumberToObject(o, f->key, (double)ms / 1000);
		} else {
			uint64_t value;
			memcpy(&value, field, sizeof(value));
			cJSON_AddNumberToObject(o, f->key,
						(double)(value / f->unit));
		}
	}
	return o;
}

int sandbox_verdict_exit_code(const cJSON *verdict)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(verdict, "status");

	if (!cJSON_IsString(s) || strcmp(s->valuestring, "error") == 0)
		return 3;
	return strcmp(s->valuestring, "ok") == 0 ? 0 : 1;
}

/* ---- requests ---- */

/* What a request holds once checked; owns the arrays, borrows the
 * strings from the request. */
struct request {
	struct sandbox_spec spec;
	char **argv;
	char **env;
	char **collect;
	struct sandbox_file *files;
};

static void request_free(struct request *q)
{
	free(q->argv);
	for (size_t i = 0; q->env && q->env[i]; i++)
		free(q->env[i]);
	free(q->env);
	free(q->collect);
	free(q->files);
}

/* A JSON array of strings as a new NULL-terminated array of borrowed
 * strings. */
static int string_array(const cJSON *a, const char *key, char ***out,
			struct sutra_err *err)
{
	int n = cJSON_GetArraySize(a);
	const cJSON *v;
	size_t i = 0;

	if (!cJSON_IsArray(a))
		return err_set(err, SUTRA_EUSAGE, "sandbox request: '%s' must "
			       "be an array of strings", key);
	if (!(*out = calloc((size_t)n + 1, sizeof(**out))))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	cJSON_ArrayForEach(v, a) {
		if (!cJSON_IsString(v))
			return err_set(err, SUTRA_EUSAGE, "sandbox request: "
				       "'%s[%zu]' is not a string", key, i);
		(*out)[i++] = v->valuestring;
	}
	return 0;
}

static int parse_files(const cJSON *files, struct request *q,
		       struct sutra_err *err)
{
	int n = cJSON_GetArraySize(files);
	const cJSON *f;

	if (!cJSON_IsObject(files))
		return err_set(err, SUTRA_EUSAGE, "sandbox request: 'files' "
			       "must be an object {path: content}");
	if (!(q->files = calloc((size_t)n + 1, sizeof(*q->files))))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	cJSON_ArrayForEach(f, files) {
		struct sandbox_file *sf = &q->files[q->spec.n_files++];
		const cJSON *content = f, *exec = NULL;
		sf->path = f->string;
		if (cJSON_IsObject(f)) {
			content = cJSON_GetObjectItemCaseSensitive(f, "content");
			exec = cJSON_GetObjectItemCaseSensitive(f, "executable");
		}
		if (!cJSON_IsString(content) || (exec && !cJSON_IsBool(exec)))
			return err_set(err, SUTRA_EUSAGE, "sandbox request: "
				       "files['%s'] must be a string or "
				       "{content: string, executable: bool}",
				       f->string);
		sf->data = content->valuestring;
		sf->len = strlen(content->valuestring);
		sf->executable = cJSON_IsTrue(exec);
	}
	return 0;
}

static int parse_env(const cJSON *env, struct request *q,
		     struct sutra_err *err)
{
	int n = cJSON_GetArraySize(env);
	const cJSON *v;
	size_t i = 0;

	if (!cJSON_IsObject(env))
		return err_set(err, SUTRA_EUSAGE, "sandbox request: 'env' must "
			       "be an object {NAME: value}");
	if (!(q->env = calloc((size_t)n + 1, sizeof(*q->env))))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	cJSON_ArrayForEach(v, env) {
		if (!cJSON_IsString(v) || !*v->string ||
		    strchr(v->string, '='))
			return err_set(err, SUTRA_EUSAGE, "sandbox request: "
				       "env['%s'] must be a string under a "
				       "name without '='", v->string);
		if (asprintf(&q->env[i++], "%s=%s", v->string,
			     v->valuestring) < 0) {
			q->env[i - 1] = NULL;
			return err_set(err, SUTRA_ENOMEM, "out of memory");
		}
	}
	q->spec.env = q->env;
	return 0;
}

static int get_bool(const cJSON *v, const char *key, int *out,
		    struct sutra_err *err)
{
	if (!cJSON_IsBool(v))
		return err_set(err, SUTRA_EUSAGE, "sandbox request: '%s' must "
			       "be true or false", key);
	*out = cJSON_IsTrue(v);
	return 0;
}

static int get_string(const cJSON *v, const char *key, const char **out,
		      struct sutra_err *err)
{
	if (!cJSON_IsString(v))
		return err_set(err, SUTRA_EUSAGE, "sandbox request: '%s' must "
			       "be a string", key);
	*out = v->valuestring;
	return 0;
}

/* One key of a request; agents may not use dir or keep. */
static int parse_key(const cJSON *v, struct request *q, int from_agent,
		     struct sutra_err *err)
{
	const char *k = v->string;

	if (from_agent && (!strcmp(k, "dir") || !strcmp(k, "keep")))
		return err_set(err, SUTRA_EPERM, "sandbox request: '%s' is not "
			       "available to agents (pass files instead)", k);
	if (!strcmp(k, "cmd"))
		return string_array(v, k, &q->argv, err);
	if (!strcmp(k, "files"))
		return parse_files(v, q, err);
	if (!strcmp(k, "env"))
		return parse_env(v, q, err);
	if (!strcmp(k, "collect"))
		return string_array(v, k, &q->collect, err);
	if (!strcmp(k, "limits"))
		return sandbox_limits_from_json(v, &q->spec.limits, err);
	if (!strcmp(k, "profile"))
		return get_string(v, k, &q->spec.profile, err);
	if (!strcmp(k, "dir"))
		return get_string(v, k, &q->spec.input_dir, err);
	if (!strcmp(k, "keep"))
		return get_bool(v, k, &q->spec.keep, err);
	if (!strcmp(k, "degraded"))
		return get_bool(v, k, &q->spec.force_degraded, err);
	return err_set(err, SUTRA_EUSAGE, "sandbox request: unknown key '%s' "
		       "(cmd, files, dir, profile, limits, collect, env, keep, "
		       "degraded)", k);
}

static int parse_request(const cJSON *request, struct request *q,
			 int from_agent, struct sutra_err *err)
{
	const cJSON *v;

	sandbox_limits_default(&q->spec.limits);
	if (!cJSON_IsObject(request))
		return err_set(err, SUTRA_EUSAGE, "sandbox request: must be an "
			       "object");
	cJSON_ArrayForEach(v, request)
		if (parse_key(v, q, from_agent, err) < 0)
			return -1;
	if (!q->argv || !q->argv[0])
		return err_set(err, SUTRA_EUSAGE, "sandbox request: 'cmd' is "
			       "required and must not be empty");
	if (q->spec.profile && !sandbox_profile_known(q->spec.profile))
		return err_set(err, SUTRA_EUSAGE, "sandbox request: unknown "
			       "profile '%s' (python, native or shell)",
			       q->spec.profile);
	q->spec.argv = q->argv;
	q->spec.collect = q->collect;
	q->spec.files = q->files;
	return 0;
}

static int run_request(const cJSON *request, int from_agent,
		       int64_t deadline_ns, cJSON **verdict,
		       struct sutra_err *err)
{
	struct request q = {0};
	int rc = -1;

	*verdict = NULL;
	if (parse_request(request, &q, from_agent, err) == 0) {
		if (deadline_ns > 0) {
			int64_t left_ms = (deadline_ns - now_ns()) / 1000000;
			if (left_ms <= 0) {
				request_free(&q);
				return err_set(err, SUTRA_ETIMEOUT, "sandbox: "
					       "the agent's deadline passed");
			}
			if (left_ms < q.spec.limits.wall_ms)
				q.spec.limits.wall_ms = left_ms;
		}
		rc = sandbox_exec(&q.spec, verdict, err);
	}
	request_free(&q);
	return rc;
}

int sandbox_run_json(const cJSON *request, cJSON **verdict,
		     struct sutra_err *err)
{
	return run_request(request, 0, 0, verdict, err);
}

int sandbox_effect(struct agent_ctx *ctx, const cJSON *request,
		   cJSON **verdict, struct sutra_err *err)
{
	return run_request(request, 1, ctx ? ctx->deadline_ns : 0, verdict,
			   err);
}
