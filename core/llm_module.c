/*
 * llm_module.c - the entry point of sutra-net.so, the network layer
 * module the kernel loads on first use (netmod.h).
 */
#include "http_fetch.h"
#include "llm.h"
#include "netmod.h"

const struct netmod_api *sutra_net_module(void);

static const struct netmod_api api = {
	.abi = NETMOD_ABI,
	.llm_init = llm_runtime_init,
	.llm_effect = llm_effect,
	.llm_cli = llm_cli_main,
	.http_effect = http_effect,
};

__attribute__((visibility("default")))
const struct netmod_api *sutra_net_module(void)
{
	return &api;
}
