/*
 * commands.h - the entry point of every CLI command, one cmd_*.c each.
 * Listed in cli_commands[] (main.c).
 */
#ifndef SUTRA_COMMANDS_H
#define SUTRA_COMMANDS_H

#include "cli.h"

int cmd_run(struct cli *cli, int argc, char **argv);
int cmd_chain(struct cli *cli, int argc, char **argv);
int cmd_resume(struct cli *cli, int argc, char **argv);
int cmd_replay(struct cli *cli, int argc, char **argv);
int cmd_runs(struct cli *cli, int argc, char **argv);
int cmd_agent(struct cli *cli, int argc, char **argv);
int cmd_catalog(struct cli *cli, int argc, char **argv);
int cmd_memory(struct cli *cli, int argc, char **argv);
int cmd_llm(struct cli *cli, int argc, char **argv);
int cmd_sandbox(struct cli *cli, int argc, char **argv);
int cmd_version(struct cli *cli, int argc, char **argv);
int cmd_help(struct cli *cli, int argc, char **argv);

#endif
