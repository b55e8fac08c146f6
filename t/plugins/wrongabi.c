/* t/plugins/wrongabi.c - claims an ABI this sutra does not speak. */
#include <sutra/plugin.h>

static int run(struct sutra_call *call)
{
	return call->host->set_output(call, "1");
}

static const struct sutra_agent agents[] = {{.name = "wrongabi", .run = run}};

static const struct sutra_plugin plugin = {
	.abi = 99,
	.size = sizeof(struct sutra_plugin),
	.name = "wrongabi",
	.version = "1.0.0",
	.agents = agents,
	.n_agents = 1,
};

SUTRA_PLUGIN_EXPORT const struct sutra_plugin *sutra_plugin_entry(void)
{
	return &plugin;
}
