/*
 * llm_config.c - the `llm:` section of sutra.yaml (SPEC §9) and the
 * SUTRA_LLM_* environment overrides, checked once at startup so that a
 * typo fails with the setting's name instead of at the first call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_impl.h"
#include "util.h"

/* Defaults (the policy: 0.5 s x 2^n capped at 8 s, 2 retries). */
static const struct llm_config defaults = {
	.retries = 2,
	.timeout_ms = 60000,
	.idle_timeout_ms = 0,       /* 0: the same as timeout */
	.connect_timeout_ms = 10000,
	.backoff_ms = 500,
	.backoff_max_ms = 8000,
	.retry_after_max_ms = 30000,
	.cooldown_ms = 30000,
	.cache = 1,
	.budget = {-1, -1, -1, -1},
};

enum { DEFAULT_MAX_TOKENS = 4096 };

/* The wire formats a provider's `kind` names. */
static const struct llm_wire *const wires[] = {
	&llm_wire_openai,
	&llm_wire_anthropic,
};

const struct llm_wire *llm_wire_find(const char *kind)
{
	for (size_t i = 0; i < sizeof(wires) / sizeof(*wires); i++)
		if (strcmp(wires[i]->kind, kind) == 0)
			return wires[i];
	return NULL;
}


/* Settings of the section; anything else is reported as unknown. */
static const char *const section_keys[] = {
	"default", "providers", "fallback", "retries", "timeout",
	"idle_timeout", "connect_timeout", "backoff", "backoff_max",
	"retry_after_max", "cooldown", "cache", "budget", NULL,
};
static const char *const provider_keys[] = {
	"name", "kind", "base_url", "model", "api_key_env", "price",
	"max_tokens", NULL,
};

static int known_key(const char *const *keys, const char *k)
{
	for (; *keys; keys++)
		if (strcmp(*keys, k) == 0)
			return 1;
	return 0;
}

static int check_keys(const cJSON *obj, const char *const *keys,
		      const char *path, const char *where,
		      struct sutra_err *err)
{
	const cJSON *f;

	cJSON_ArrayForEach(f, obj) {
		if (!known_key(keys, f->string))
			return err_set(err, SUTRA_EUSAGE,
				       "%s: %s: unknown setting '%s'", path,
				       where, f->string);
	}
	return 0;
}

/* A duration setting: "250ms", "30s", or a number of seconds. */
static int get_duration(const cJSON *obj, const char *key, int64_t *ms,
			const char *path, struct sutra_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!v)
		return 0;
	if (cJSON_IsNumber(v) && v->valuedouble >= 0) {
		*ms = (int64_t)(v->valuedouble * 1000 + 0.5);
		return 0;
	}
	if (cJSON_IsString(v) && parse_duration_ms(v->valuestring, ms) == 0)
		return 0;
	return err_set(err, SUTRA_EUSAGE,
		       "%s: llm.%s: not a duration (e.g. 500ms, 30s, 5m)",
		       path, key);
}

static int get_number(const cJSON *obj, const char *key, double *out,
		      const char *path, const char *where,
		      struct sutra_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < 0)
		return err_set(err, SUTRA_EUSAGE,
			       "%s: %s.%s: not a non-negative number", path,
			       where, key);
	*out = v->valuedouble;
	return 0;
}

static int get_int(const cJSON *obj, const char *key, int64_t *out,
		   const char *path, const char *where, struct sutra_err *err)
{
	double d = (double)*out;

	if (get_number(obj, key, &d, path, where, err) < 0)
		return -1;
	if (d > 1e15 || d != (double)(int64_t)d)
		return err_set(err, SUTRA_EUSAGE, "%s: %s.%s: not an integer",
			       path, where, key);
	*out = (int64_t)d;
	return 0;
}

/* A string setting, copied into *out (replacing what was there). */
static int get_string(const cJSON *obj, const char *key, char **out,
		      const char *path, const char *where,
		      struct sutra_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!v)
		return 0;
	if (!cJSON_IsString(v) || !*v->valuestring)
		return err_set(err, SUTRA_EUSAGE,
			       "%s: %s.%s: not a non-empty string", path,
			       where, key);
	free(*out);
	if (!(*out = strdup(v->valuestring)))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	return 0;
}

static int set_base_url(struct llm_provider *p, const char *url,
			struct sutra_err *err)
{
	size_t n = strlen(url);

	while (n > 0 && url[n - 1] == '/')
		n--;
	free(p->base_url);
	if (!(p->base_url = strndup(url, n)))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	return 0;
}

static int parse_price(const cJSON *v, struct llm_price *price,
		       const char *path, const char *where,
		       struct sutra_err *err)
{
	static const char *const keys[] = {
		"input_per_mtok", "output_per_mtok", "cached_input_per_mtok",
		NULL,
	};
	char sub[96];

	price->cached_per_mtok = -1;
	if (!v)
		goto done;
	snprintf(sub, sizeof(sub), "%s.price", where);
	if (!cJSON_IsObject(v))
		return err_set(err, SUTRA_EUSAGE, "%s: %s: not a mapping",
			       path, sub);
	if (check_keys(v, keys, path, sub, err) < 0 ||
	    get_number(v, "input_per_mtok", &price->input_per_mtok, path, sub,
		       err) < 0 ||
	    get_number(v, "output_per_mtok", &price->output_per_mtok, path,
		       sub, err) < 0 ||
	    get_number(v, "cached_input_per_mtok", &price->cached_per_mtok,
		       path, sub, err) < 0)
		return -1;
done:
	if (price->cached_per_mtok < 0)
		price->cached_per_mtok = price->input_per_mtok;
	return 0;
}

static int parse_provider(const cJSON *v, size_t i, struct llm_provider *p,
			  const char *path, struct sutra_err *err)
{
	char where[64];
	char *kind = NULL;

	snprintf(where, sizeof(where), "llm.providers[%zu]", i);
	if (!cJSON_IsObject(v))
		return err_set(err, SUTRA_EUSAGE, "%s: %s: not a mapping", path,
			       where);
	p->max_tokens = DEFAULT_MAX_TOKENS;
	if (check_keys(v, provider_keys, path, where, err) < 0 ||
	    get_string(v, "name", &p->name, path, where, err) < 0 ||
	    get_string(v, "kind", &kind, path, where, err) < 0 ||
	    get_string(v, "model", &p->model, path, where, err) < 0 ||
	    get_string(v, "api_key_env", &p->api_key_env, path, where, err) < 0 ||
	    get_int(v, "max_tokens", &p->max_tokens, path, where, err) < 0 ||
	    parse_price(cJSON_GetObjectItemCaseSensitive(v, "price"),
			&p->price, path, where, err) < 0)
		goto fail;
	const cJSON *url = cJSON_GetObjectItemCaseSensitive(v, "base_url");
	if (!p->name || !kind || !cJSON_IsString(url)) {
		err_set(err, SUTRA_EUSAGE,
			"%s: %s: needs name, kind and base_url", path, where);
		goto fail;
	}
	if (!(p->wire = llm_wire_find(kind))) {
		err_set(err, SUTRA_EUSAGE,
			"%s: %s: unknown kind '%s' (openai or anthropic)", path,
			where, kind);
		goto fail;
	}
	free(kind);
	return set_base_url(p, url->valuestring, err);
fail:
	free(kind);
	return -1;
}

static int parse_providers(const cJSON *list, struct llm_config *cfg,
			   const char *path, struct sutra_err *err)
{
	size_t n = (size_t)cJSON_GetArraySize(list);
	const cJSON *v;
	size_t i = 0;

	if (!cJSON_IsArray(list))
		return err_set(err, SUTRA_EUSAGE,
			       "%s: llm.providers: not a list", path);
	if (n == 0)
		return 0;
	if (!(cfg->providers = calloc(n, sizeof(*cfg->providers))))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	cJSON_ArrayForEach(v, list) {
		cfg->n_providers = i + 1;
		if (parse_provider(v, i, &cfg->providers[i], path, err) < 0)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->providers[j].name,
				   cfg->providers[i].name) == 0)
				return err_set(err, SUTRA_EUSAGE,
					       "%s: llm.providers: provider "
					       "'%s' defined twice",
					       path, cfg->providers[i].name);
		i++;
	}
	return 0;
}

static int find_index(const struct llm_config *cfg, const char *name,
		      size_t *index)
{
	for (size_t i = 0; i < cfg->n_providers; i++)
		if (strcmp(cfg->providers[i].name, name) == 0) {
			*index = i;
			return 0;
		}
	return -1;
}

struct llm_provider *llm_config_find(const struct llm_config *cfg,
				     const char *name)
{
	size_t i;

	return find_index(cfg, name, &i) == 0 ? &cfg->providers[i] : NULL;
}

static int parse_fallback(const cJSON *list, struct llm_config *cfg,
			  const char *path, struct sutra_err *err)
{
	const cJSON *v;

	if (!list)
		return 0;
	if (!cJSON_IsArray(list))
		return err_set(err, SUTRA_EUSAGE,
			       "%s: llm.fallback: not a list of provider names",
			       path);
	cfg->fallback = calloc((size_t)cJSON_GetArraySize(list) + 1,
			       sizeof(*cfg->fallback));
	if (!cfg->fallback)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	cJSON_ArrayForEach(v, list) {
		size_t i;
		if (!cJSON_IsString(v) ||
		    find_index(cfg, v->valuestring, &i) < 0)
			return err_set(err, SUTRA_EUSAGE,
				       "%s: llm.fallback: '%s' is not a "
				       "provider in llm.providers",
				       path,
				       cJSON_IsString(v) ? v->valuestring : "?");
		cfg->fallback[cfg->n_fallback++] = i;
	}
	return 0;
}

static int parse_budget(const cJSON *v, struct llm_limits *b,
			const char *path, struct sutra_err *err)
{
	static const char *const keys[] = {
		"usd_per_run", "tokens_per_run", "usd_per_call",
		"tokens_per_call", NULL,
	};

	if (!v)
		return 0;
	if (!cJSON_IsObject(v))
		return err_set(err, SUTRA_EUSAGE, "%s: llm.budget: not a mapping",
			       path);
	return check_keys(v, keys, path, "llm.budget", err) < 0 ||
			       get_number(v, "usd_per_run", &b->usd_per_run,
					  path, "llm.budget", err) < 0 ||
			       get_number(v, "usd_per_call", &b->usd_per_call,
					  path, "llm.budget", err) < 0 ||
			       get_int(v, "tokens_per_run", &b->tokens_per_run,
				       path, "llm.budget", err) < 0 ||
			       get_int(v, "tokens_per_call",
				       &b->tokens_per_call, path, "llm.budget",
				       err) < 0
		       ? -1
		       : 0;
}

static int parse_scalars(const cJSON *s, struct llm_config *cfg,
			 const char *path, struct sutra_err *err)
{
	int64_t retries = cfg->retries;
	const cJSON *cache = cJSON_GetObjectItemCaseSensitive(s, "cache");

	if (get_int(s, "retries", &retries, path, "llm", err) < 0 ||
	    get_duration(s, "timeout", &cfg->timeout_ms, path, err) < 0 ||
	    get_duration(s, "idle_timeout", &cfg->idle_timeout_ms, path,
			 err) < 0 ||
	    get_duration(s, "connect_timeout", &cfg->connect_timeout_ms, path,
			 err) < 0 ||
	    get_duration(s, "backoff", &cfg->backoff_ms, path, err) < 0 ||
	    get_duration(s, "backoff_max", &cfg->backoff_max_ms, path, err) < 0 ||
	    get_duration(s, "retry_after_max", &cfg->retry_after_max_ms, path,
			 err) < 0 ||
	    get_duration(s, "cooldown", &cfg->cooldown_ms, path, err) < 0)
		return -1;
	if (retries > 10)
		return err_set(err, SUTRA_EUSAGE,
			       "%s: llm.retries: at most 10", path);
	cfg->retries = (int)retries;
	if (cache && !cJSON_IsBool(cache))
		return err_set(err, SUTRA_EUSAGE,
			       "%s: llm.cache: not true or false", path);
	if (cache)
		cfg->cache = cJSON_IsTrue(cache);
	return parse_budget(cJSON_GetObjectItemCaseSensitive(s, "budget"),
			    &cfg->budget, path, err);
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/*
 * Without any configured provider, SUTRA_LLM_BASE_URL alone defines one
 * named "env" (kind from SUTRA_LLM_PROVIDER when that is a kind).
 */
static int provider_from_env(struct llm_config *cfg, struct sutra_err *err)
{
	const char *kind = env("SUTRA_LLM_PROVIDER");
	const struct llm_wire *wire = kind ? llm_wire_find(kind) : NULL;
	struct llm_provider *p;

	if (!(cfg->providers = p = calloc(1, sizeof(*p))))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	cfg->n_providers = 1;
	p->wire = wire ? wire : &llm_wire_openai;
	p->max_tokens = DEFAULT_MAX_TOKENS;
	p->name = strdup("env");
	/* The kind's usual key variable, when it is set: local servers
	 * (Ollama, llama.cpp) need none. */
	const char *key_env = p->wire == &llm_wire_anthropic
				      ? "ANTHROPIC_API_KEY"
				      : "OPENAI_API_KEY";
	if (env(key_env) && !(p->api_key_env = strdup(key_env)))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	p->model = strdup(env("SUTRA_LLM_MODEL") ? env("SUTRA_LLM_MODEL")
						 : "default");
	if (!p->name || !p->model)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	return set_base_url(p, env("SUTRA_LLM_BASE_URL"), err);
}

/* SUTRA_LLM_PROVIDER picks the default; the other two override it. */
static int apply_env(struct llm_config *cfg, const char *path,
		     struct sutra_err *err)
{
	const char *name = env("SUTRA_LLM_PROVIDER");
	struct llm_provider *p;

	if (cfg->n_providers == 0)
		return env("SUTRA_LLM_BASE_URL") ? provider_from_env(cfg, err)
						 : 0;
	if (name && find_index(cfg, name, &cfg->default_provider) < 0)
		return err_set(err, SUTRA_EUSAGE,
			       "SUTRA_LLM_PROVIDER: '%s' is not a provider in "
			       "%s",
			       name, path);
	p = &cfg->providers[cfg->default_provider];
	if (env("SUTRA_LLM_BASE_URL") &&
	    set_base_url(p, env("SUTRA_LLM_BASE_URL"), err) < 0)
		return -1;
	if (env("SUTRA_LLM_MODEL")) {
		free(p->model);
		if (!(p->model = strdup(env("SUTRA_LLM_MODEL"))))
			return err_set(err, SUTRA_ENOMEM, "out of memory");
	}
	return 0;
}

static int parse_default(const cJSON *s, struct llm_config *cfg,
			 const char *path, struct sutra_err *err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, "default");

	if (!v)
		return 0;
	if (!cJSON_IsString(v) ||
	    find_index(cfg, v->valuestring, &cfg->default_provider) < 0)
		return err_set(err, SUTRA_EUSAGE,
			       "%s: llm.default: '%s' is not a provider in "
			       "llm.providers",
			       path, cJSON_IsString(v) ? v->valuestring : "?");
	return 0;
}

int llm_config_parse(const cJSON *s, const char *path, struct llm_config *cfg,
		     struct sutra_err *err)
{
	*cfg = defaults;
	if (!path)
		path = "sutra.yaml";
	if (s && !cJSON_IsObject(s) && !cJSON_IsNull(s))
		return err_set(err, SUTRA_EUSAGE, "%s: llm: not a mapping",
			       path);
	if (s && cJSON_IsObject(s)) {
		const cJSON *list =
			cJSON_GetObjectItemCaseSensitive(s, "providers");
		if (check_keys(s, section_keys, path, "llm", err) < 0 ||
		    (list && parse_providers(list, cfg, path, err) < 0) ||
		    parse_default(s, cfg, path, err) < 0 ||
		    parse_fallback(cJSON_GetObjectItemCaseSensitive(
					   s, "fallback"),
				   cfg, path, err) < 0 ||
		    parse_scalars(s, cfg, path, err) < 0)
			goto fail;
	}
	if (cfg->idle_timeout_ms == 0)
		cfg->idle_timeout_ms = cfg->timeout_ms;
	if (apply_env(cfg, path, err) == 0)
		return 0;
fail:
	llm_config_free(cfg);
	return -1;
}

void llm_config_free(struct llm_config *cfg)
{
	for (size_t i = 0; i < cfg->n_providers; i++) {
		struct llm_provider *p = &cfg->providers[i];
		free(p->name);
		free(p->base_url);
		free(p->model);
		free(p->api_key_env);
	}
	free(cfg->providers);
	free(cfg->fallback);
	memset(cfg, 0, sizeof(*cfg));
}
