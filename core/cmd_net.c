/* cmd_net.c - the commands the network module serves (`sutra llm`),
 * which load it on first use (netmod.h). */
#include "commands.h"
#include "netmod.h"

int cmd_llm(struct cli *cli, int argc, char **argv)
{
	struct sutra_err err = {0};
	const struct netmod_api *api = netmod_load(&err);

	return api ? api->llm_cli(cli, argc, argv) : cli_fail(&err);
}
