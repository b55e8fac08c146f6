/*
 * netmod.h - the network layer as a lazily loaded module.
 *
 * The LLM providers (and everything else that speaks HTTP) use libcurl,
 * whose dependencies cost about 4 ms of dynamic loading in every process
 * that links it.  So that `sutra agent run`, `sutra run` of chains that
 * call no model, and `sutra sandbox run` start in a millisecond or two,
 * that layer is built as a module, sutra-net.so, and loaded on first use:
 * the first ctx.llm.chat, host->llm_chat or `sutra llm`.  The module
 * links libcurl and resolves the kernel's functions from the sutra binary
 * (which exports them).
 *
 * Where it is looked for: $SUTRA_NET_MODULE, then beside the binary
 * (.libs/ of an uninstalled build tree, or the binary's directory), then
 * $(pkglibdir).
 */
#ifndef SUTRA_NETMOD_H
#define SUTRA_NETMOD_H

#include <cjson/cJSON.h>

#include "err.h"

struct runtime;
struct cli;
struct agent_ctx;

/* What the module exports, as sutra_net_module(). */
#define NETMOD_ABI 2
struct netmod_api {
	int abi;
	int (*llm_init)(struct runtime *rt, struct sutra_err *err);
	int (*llm_effect)(struct agent_ctx *ctx, const cJSON *request,
			  cJSON **result, struct sutra_err *err);
	int (*llm_cli)(struct cli *cli, int argc, char **argv);
	int (*http_effect)(struct agent_ctx *ctx, const cJSON *request,
			   cJSON **result, struct sutra_err *err);
};

/* The module, loaded on the first call; NULL with err set when it cannot
 * be found or loaded. */
const struct netmod_api *netmod_load(struct sutra_err *err);

/* Points rt's LLM and HTTP effects at the loader (runtime_open calls
 * it). */
void netmod_install(struct runtime *rt);

/* Loads the module and initialises rt's LLM layer, once per runtime. */
int netmod_llm_ready(struct runtime *rt, struct sutra_err *err);

#endif
