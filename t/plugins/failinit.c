/* t/plugins/failinit.c - an agent whose init refuses to load. */
#include <stdio.h>

#include <sutra/plugin.h>

static int init(const struct sutra_host *host, void **data, char *errbuf,
		size_t errlen)
{
	(void)host;
	(void)data;
	snprintf(errbuf, errlen, "license file missing");
	return -1;
}

static int run(struct sutra_call *call)
{
	return call->host->set_output(call, "1");
}

static const struct sutra_agent agents[] = {
	{.name = "failinit", .init = init, .run = run},
};

static const struct sutra_plugin plugin = {
	SUTRA_PLUGIN_INIT,
	.name = "failinit",
	.version = "1.0.0",
	.agents = agents,
	.n_agents = 1,
};

SUTRA_PLUGIN_EXPORT const struct sutra_plugin *sutra_plugin_entry(void)
{
	return &plugin;
}
