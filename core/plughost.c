/* plughost.c - see plughost.h. */
#include "plughost.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "runtime.h"

/* What the host keeps per loaded plugin agent. */
struct plugin_agent {
	void *handle;
	const struct sutra_plugin *desc;
	const struct sutra_agent *def;
	void *agent_data;
};


/* The fields of struct sutra_plugin that ABI 1 requires. */
#define PLUGIN_MIN_SIZE \
	(offsetof(struct sutra_plugin, n_agents) + sizeof(size_t))

int plughost_check_file(const char *path, struct sutra_err *err)
{
	struct stat sb;

	if (stat(path, &sb) != 0)
		return err_set(err, SUTRA_ERUNTIME, "%s: cannot load plugin: %s",
			       path, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return err_set(err, SUTRA_ERUNTIME,
			       "%s: cannot load plugin: not a regular file", path);
	if (sb.st_mode & (S_IWGRP | S_IWOTH))
		return err_set(err, SUTRA_ERUNTIME,
			       "%s: refusing plugin: writable by group or "
			       "others (chmod go-w)",
			       path);
	return 0;
}

/* dlopens path and checks the descriptor; returns the handle. */
static void *open_plugin(const char *path, const struct sutra_plugin **desc,
			 struct sutra_err *err)
{
	sutra_plugin_entry_fn entry;
	void *h;

	if (plughost_check_file(path, err) < 0)
		return NULL;
	if (!(h = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
		err_set(err, SUTRA_ERUNTIME, "%s: cannot load plugin: %s", path,
			dlerror());
		return NULL;
	}
	*(void **)&entry = dlsym(h, SUTRA_PLUGIN_ENTRY);
	if (!entry) {
		err_set(err, SUTRA_ERUNTIME,
			"%s: not a sutra plugin: no symbol '%s' (%s)", path,
			SUTRA_PLUGIN_ENTRY, dlerror());
		goto fail;
	}
	*desc = entry();
	if (!*desc) {
		err_set(err, SUTRA_ERUNTIME, "%s: %s returned NULL", path,
			SUTRA_PLUGIN_ENTRY);
		goto fail;
	}
	if ((*desc)->abi != SUTRA_PLUGIN_ABI) {
		err_set(err, SUTRA_ERUNTIME,
			"%s: plugin ABI %u, but this sutra speaks ABI %d", path,
			(*desc)->abi, SUTRA_PLUGIN_ABI);
		goto fail;
	}
	if ((*desc)->size < PLUGIN_MIN_SIZE || !(*desc)->name ||
	    ((*desc)->n_agents && !(*desc)->agents)) {
		err_set(err, SUTRA_ERUNTIME, "%s: malformed plugin descriptor",
			path);
		goto fail;
	}
	return h;
fail:
	dlclose(h);
	return NULL;
}

int plughost_probe(const char *path, char **plugin_name, char **version,
		   struct sutra_err *err)
{
	const struct sutra_plugin *desc;
	void *h = open_plugin(path, &desc, err);

	if (!h)
		return -1;
	if (plugin_name)
		*plugin_name = strdup(desc->name);
	if (version)
		*version = strdup(desc->version ? desc->version : "");
	dlclose(h);
	return 0;
}

static const struct sutra_agent *find_def(const struct sutra_plugin *desc,
					  const char *name)
{
	for (size_t i = 0; i < desc->n_agents; i++)
		if (desc->agents[i].name && strcmp(desc->agents[i].name, name) == 0)
			return &desc->agents[i];
	return NULL;
}

static int plugin_load(struct agent *a, struct sutra_err *err)
{
	struct plugin_agent *pa = calloc(1, sizeof(*pa));
	const char *want = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(a->manifest, "agent"));
	char initerr[256] = "";

	if (!pa)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	if (!want)
		want = a->name;
	if (!(pa->handle = open_plugin(a->entry_path, &pa->desc, err)))
		goto fail;
	if (!(pa->def = find_def(pa->desc, want)) || !pa->def->run) {
		err_set(err, SUTRA_ERUNTIME, "%s: plugin '%s' has no agent '%s'",
			a->entry_path, pa->desc->name, want);
		goto fail;
	}
	if (pa->def->init &&
	    pa->def->init(&plughost_table, &pa->agent_data, initerr,
			  sizeof(initerr)) != 0) {
		initerr[sizeof(initerr) - 1] = '\0';
		err_set(err, SUTRA_ERUNTIME, "%s: init of agent '%s' failed: %s",
			a->entry_path, want, initerr[0] ? initerr : "no reason given");
		goto fail;
	}
	a->loaded = pa;
	return 0;
fail:
	if (pa->handle)
		dlclose(pa->handle);
	free(pa);
	return -1;
}

static void plugin_unload(struct agent *a)
{
	struct plugin_agent *pa = a->loaded;

	if (!pa)
		return;
	if (pa->def->fini)
		pa->def->fini(pa->agent_data);
	dlclose(pa->handle);
	free(pa);
	a->loaded = NULL;
}

static int plugin_invoke(struct agent *a, const cJSON *input,
			 struct agent_ctx *ctx, cJSON **output,
			 struct sutra_err *err)
{
	struct plugin_agent *pa = a->loaded;
	struct plughost_call hc = {
		.pub = {.host = &plughost_table, .agent_data = pa->agent_data},
		.ctx = ctx,
	};
	int rc = -1;

	if (!(hc.input_text = cJSON_PrintUnformatted(input)))
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	int status = pa->def->run(&hc.pub);
	/* host->error fails the call even if run() then returns 0. */
	if (status != 0 || hc.err.code) {
		struct sutra_err stop = {0};
		if (hc.err.code)
			*err = err->code ? *err : hc.err;
		else if (agent_should_stop(ctx, &stop))
			*err = err->code ? *err : stop;
		else
			err_set(err, SUTRA_EFAILED, "failed (status %d)", status);
		goto out;
	}
	if (!hc.output_text) {
		*output = cJSON_CreateNull();
	} else if (!(*output = cJSON_Parse(hc.output_text))) {
		err_set(err, SUTRA_EFAILED, "output is not valid JSON");
		goto out;
	}
	rc = 0;
out:
	cJSON_free(hc.input_text);
	free(hc.output_text);
	return rc;
}

const struct agent_kind_ops plugin_kind_ops = {
	.load = plugin_load,
	.unload = plugin_unload,
	.invoke = plugin_invoke,
};

/* ------------------------------------------------------ host functions */

static struct plughost_call *hc_of(struct sutra_call *call)
{
	return (struct plughost_call *)call;
}

/* Records a failure for last_status/last_error; returns status. */
static int fail_with(struct plughost_call *hc, int status, const char *msg)
{
	hc->last_status = status;
	snprintf(hc->last_error, sizeof(hc->last_error), "%s", msg);
	return status;
}

static int status_of(const struct sutra_err *e)
{
	switch (e->code) {
	case SUTRA_EPERM:
		return SUTRA_STATUS_DENIED;
	case SUTRA_ENOTFOUND:
		return SUTRA_STATUS_NOT_FOUND;
	case SUTRA_ETIMEOUT:
	case SUTRA_ECANCELED:
		return SUTRA_STATUS_CANCELED;
	}
	return SUTRA_STATUS_ERROR;
}

static const char *h_input(struct sutra_call *call)
{
	return hc_of(call)->input_text;
}

static int h_set_output(struct sutra_call *call, const char *json)
{
	struct plughost_call *hc = hc_of(call);
	cJSON *check = json ? cJSON_Parse(json) : NULL;
	char *copy;

	if (!check)
		return fail_with(hc, SUTRA_STATUS_BAD_JSON,
				 "output is not valid JSON");
	cJSON_Delete(check);
	if (!(copy = strdup(json)))
		return fail_with(hc, SUTRA_STATUS_ERROR, "out of memory");
	free(hc->output_text);
	hc->output_text = copy;
	return SUTRA_STATUS_OK;
}

static void h_error(struct sutra_call *call, const char *message)
{
	err_set(&hc_of(call)->err, SUTRA_EFAILED, "%s",
		message ? message : "failed");
}

static char *h_memory_get(struct sutra_call *call, const char *key)
{
	struct plughost_call *hc = hc_of(call);
	struct sutra_err e = {0};
	char *json = NULL;
	int rc;

	if (agent_require(hc->ctx, PERM_MEMORY, &e) < 0 ||
	    (rc = agent_memory_get(hc->ctx, key, &json, &e)) < 0) {
		fail_with(hc, status_of(&e), e.msg);
		return NULL;
	}
	if (rc == 0)
		fail_with(hc, SUTRA_STATUS_NOT_FOUND, "no such key");
	return json;
}

static int h_memory_set(struct sutra_call *call, const char *key,
			const char *json)
{
	struct plughost_call *hc = hc_of(call);
	struct sutra_err e = {0};
	cJSON *check;

	if (agent_require(hc->ctx, PERM_MEMORY, &e) < 0)
		return fail_with(hc, status_of(&e), e.msg);
	if (!json || !(check = cJSON_Parse(json)))
		return fail_with(hc, SUTRA_STATUS_BAD_JSON, "value is not JSON");
	cJSON_Delete(check);
	if (memtx_set(hc->ctx->mem, key, json, &e) < 0)
		return fail_with(hc, status_of(&e), e.msg);
	return SUTRA_STATUS_OK;
}

static int h_memory_del(struct sutra_call *call, const char *key)
{
	struct plughost_call *hc = hc_of(call);
	struct sutra_err e = {0};

	if (agent_require(hc->ctx, PERM_MEMORY, &e) < 0 ||
	    memtx_del(hc->ctx->mem, key, &e) < 0)
		return fail_with(hc, status_of(&e), e.msg);
	return SUTRA_STATUS_OK;
}

/* Prints v as new malloc'd text for the plugin, consuming v. */
static char *give_json(struct plughost_call *hc, cJSON *v)
{
	char *cj = v ? cJSON_PrintUnformatted(v) : NULL;
	char *text = cj ? strdup(cj) : NULL;

	cJSON_free(cj);
	cJSON_Delete(v);
	if (!text)
		fail_with(hc, SUTRA_STATUS_ERROR, "out of memory");
	return text;
}

static char *h_memory_keys(struct sutra_call *call)
{
	struct plughost_call *hc = hc_of(call);
	struct sutra_err e = {0};
	cJSON *keys = NULL;

	if (agent_require(hc->ctx, PERM_MEMORY, &e) < 0 ||
	    agent_memory_keys(hc->ctx, &keys, &e) < 0) {
		fail_with(hc, status_of(&e), e.msg);
		return NULL;
	}
	return give_json(hc, keys);
}

static void h_log(struct sutra_call *call, int level, const char *message,
		  const char *fields_json)
{
	cJSON *fields = fields_json ? cJSON_Parse(fields_json) : NULL;

	(void)call;
	if (level < SUTRA_LOG_ERROR)
		level = SUTRA_LOG_ERROR;
	if (level > SUTRA_LOG_DEBUG)
		level = SUTRA_LOG_DEBUG;
	log_fields(level, message ? message : "", fields);
	cJSON_Delete(fields);
}

static void h_emit(struct sutra_call *call, const char *event,
		   const char *data_json)
{
	cJSON *fields = cJSON_CreateObject();

	(void)call;
	cJSON_AddStringToObject(fields, "event", event ? event : "");
	if (data_json)
		cJSON_AddItemToObject(fields, "data", cJSON_Parse(data_json));
	log_fields(LOG_INFO, "agent.event", fields);
	cJSON_Delete(fields);
}

typedef int (*effect_fn)(struct agent_ctx *, const cJSON *, cJSON **,
			 struct sutra_err *);

static char *json_effect(struct plughost_call *hc, effect_fn fn,
			 const char *request_json)
{
	struct sutra_err e = {0};
	cJSON *req = request_json ? cJSON_Parse(request_json) : NULL;
	cJSON *out = NULL;

	if (!req) {
		fail_with(hc, SUTRA_STATUS_BAD_JSON, "request is not JSON");
		return NULL;
	}
	int rc = fn(hc->ctx, req, &out, &e);
	cJSON_Delete(req);
	if (rc < 0) {
		cJSON_Delete(out);
		fail_with(hc, status_of(&e), e.msg);
		return NULL;
	}
	return give_json(hc, out);
}

static char *h_llm_chat(struct sutra_call *call, const char *req)
{
	return json_effect(hc_of(call), agent_llm, req);
}

static char *h_sandbox_run(struct sutra_call *call, const char *req)
{
	return json_effect(hc_of(call), agent_sandbox, req);
}

static char *h_http(struct sutra_call *call, const char *req)
{
	return json_effect(hc_of(call), agent_http, req);
}

static char *h_call_agent(struct sutra_call *call, const char *agent,
			  const char *input_json)
{
	struct plughost_call *hc = hc_of(call);
	struct sutra_err e = {0};
	cJSON *in = input_json ? cJSON_Parse(input_json) : cJSON_CreateObject();
	cJSON *out = NULL;

	if (!in) {
		fail_with(hc, SUTRA_STATUS_BAD_JSON, "input is not JSON");
		return NULL;
	}
	int rc = agent_call(hc->ctx, agent ? agent : "", in, &out, &e);
	cJSON_Delete(in);
	if (rc < 0) {
		cJSON_Delete(out);
		fail_with(hc, status_of(&e), e.msg);
		return NULL;
	}
	return give_json(hc, out);
}

static int h_cancelled(struct sutra_call *call)
{
	return agent_should_stop(hc_of(call)->ctx, NULL);
}

static const char *h_session(struct sutra_call *call)
{
	return hc_of(call)->ctx->session;
}

static const char *h_run_id(struct sutra_call *call)
{
	const char *id = hc_of(call)->ctx->run_id;
	return id ? id : "";
}

static const char *h_step_id(struct sutra_call *call)
{
	const char *id = hc_of(call)->ctx->step_id;
	return id ? id : "";
}

static int h_attempt(struct sutra_call *call)
{
	return hc_of(call)->ctx->attempt;
}

static int h_last_status(struct sutra_call *call)
{
	return hc_of(call)->last_status;
}

static const char *h_last_error(struct sutra_call *call)
{
	return hc_of(call)->last_error;
}

static void h_free(void *ptr)
{
	free(ptr);
}

const struct sutra_host plughost_table = {
	.abi = SUTRA_PLUGIN_ABI,
	.size = sizeof(struct sutra_host),
	.input = h_input,
	.set_output = h_set_output,
	.error = h_error,
	.memory_get = h_memory_get,
	.memory_set = h_memory_set,
	.memory_del = h_memory_del,
	.memory_keys = h_memory_keys,
	.log = h_log,
	.emit = h_emit,
	.llm_chat = h_llm_chat,
	.sandbox_run = h_sandbox_run,
	.call_agent = h_call_agent,
	.cancelled = h_cancelled,
	.session = h_session,
	.run_id = h_run_id,
	.step_id = h_step_id,
	.attempt = h_attempt,
	.last_status = h_last_status,
	.last_error = h_last_error,
	.free = h_free,
	.http = h_http,
};
