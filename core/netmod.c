/* netmod.c - see netmod.h. */
#include <cjson/cJSON.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "netmod.h"
#include "runtime.h"

#ifndef SUTRA_PKGLIBDIR
#define SUTRA_PKGLIBDIR "/usr/local/lib/sutra"
#endif

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static const struct netmod_api *api;
static struct sutra_err load_err;
static int load_tried;

static void *try_open(const char *path, char *why, size_t n)
{
	void *h;

	if (access(path, F_OK) != 0)
		return NULL;
	if (!(h = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
		snprintf(why, n, "%s", dlerror());
	return h;
}

/* Finds and opens the module; candidates in the order netmod.h gives. */
static void *open_module(char *why, size_t n)
{
	char exe[PATH_MAX], path[PATH_MAX + 32];
	const char *env = getenv("SUTRA_NET_MODULE");
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	void *h;

	if (env && *env)
		return try_open(env, why, n);
	if (len > 0) {
		exe[len] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(path, sizeof(path), "%s/.libs/sutra-net.so", exe);
			if ((h = try_open(path, why, n)))
				return h;
			snprintf(path, sizeof(path), "%s/sutra-net.so", exe);
			if ((h = try_open(path, why, n)))
				return h;
		}
	}
	return try_open(SUTRA_PKGLIBDIR "/sutra-net.so", why, n);
}

const struct netmod_api *netmod_load(struct sutra_err *err)
{
	pthread_mutex_lock(&load_lock);
	if (!load_tried) {
		char why[512] = "not found";
		const struct netmod_api *(*entry)(void);
		void *h = open_module(why, sizeof(why));
		load_tried = 1;
		*(void **)&entry = h ? dlsym(h, "sutra_net_module") : NULL;
		if (entry && entry() && entry()->abi == NETMOD_ABI)
			api = entry();
		else
			err_set(&load_err, SUTRA_ERUNTIME,
				"cannot load the network module sutra-net.so: %s",
				h ? "wrong module version" : why);
	}
	pthread_mutex_unlock(&load_lock);
	if (!api)
		*err = err->code ? *err : load_err;
	return api;
}

int netmod_llm_ready(struct runtime *rt, struct sutra_err *err)
{
	const struct netmod_api *a = netmod_load(err);
	int rc = 0;

	if (!a)
		return -1;
	pthread_mutex_lock(&load_lock);
	if (!rt->llm)
		rc = a->llm_init(rt, err);
	pthread_mutex_unlock(&load_lock);
	return rc;
}

static int lazy_llm_chat(struct agent_ctx *ctx, const cJSON *request,
			 cJSON **result, struct sutra_err *err)
{
	if (netmod_llm_ready(ctx->rt, err) < 0)
		return -1;
	return api->llm_effect(ctx, request, result, err);
}

static int lazy_http(struct agent_ctx *ctx, const cJSON *request,
		     cJSON **result, struct sutra_err *err)
{
	const struct netmod_api *a = netmod_load(err);

	return a ? a->http_effect(ctx, request, result, err) : -1;
}

void netmod_install(struct runtime *rt)
{
	rt->llm_chat = lazy_llm_chat;
	rt->http_fetch = lazy_http;
}
