/*
 * cli.h - the sutra command line (SPEC §2): global options, the command
 * table, and what commands share.
 *
 * Each command lives in its own cmd_*.c and is listed once in the table
 * in main.c.  Commands print results on stdout and nothing else; errors go
 * through cli_fail, which prints "sutra: error: MSG" and returns the exit
 * code of the error's class.
 */
#ifndef SUTRA_CLI_H
#define SUTRA_CLI_H

#include <cjson/cJSON.h>
#include <getopt.h>

#include "err.h"
#include "runtime.h"

struct cli {
	const char *project_dir;
	const char *db_path;
	const char *config_path;
	char **catalogs;       /* --catalog, in order */
	size_t n_catalogs;
	int json;              /* --json: listings as JSON */
	int verbosity;         /* -v counts up, -q down */
	int color;             /* 0 off, 1 on (a terminal and no --no-color) */
	struct runtime *rt;    /* opened by cli_runtime */
	const char *command;   /* the command being run, for usage messages */
};

struct cli_command {
	const char *name;
	const char *synopsis;  /* usage lines, without "sutra " */
	const char *summary;   /* one line for `sutra help` */
	int (*run)(struct cli *cli, int argc, char **argv);
};

/* The command table, terminated by an entry with a NULL name. */
extern const struct cli_command cli_commands[];
const struct cli_command *cli_find_command(const char *name);

/*
 * A subcommand table entry: commands with subcommands (agent, memory,
 * catalog, ...) dispatch through cli_dispatch.
 */
struct cli_subcommand {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
};

/* Runs argv[1] from subs (argv[0] is the command); usage error if none. */
int cli_dispatch(struct cli *cli, const char *command,
		 const struct cli_subcommand *subs, int argc, char **argv);

/*
 * Parses a command's options with getopt_long, accepting the global
 * options anywhere among them.  handle gets each of the command's own
 * options (c is the short letter or the long option's val) and returns 0
 * or a usage error.  Returns the index of the first operand, or -1 after
 * printing a usage error.
 */
typedef int (*cli_opt_handler)(struct cli *cli, void *ud, int c,
			       const char *arg);
int cli_getopt(struct cli *cli, int argc, char **argv, const char *shorts,
	       const struct option *longs, cli_opt_handler handle, void *ud);

/* The runtime, opened on first call; NULL with err set on failure. */
struct runtime *cli_runtime(struct cli *cli, struct sutra_err *err);
/* The state database (opens the runtime first). */
struct state *cli_state(struct cli *cli, struct sutra_err *err);

/* Prints "sutra: error: MSG" and returns the exit code for err. */
int cli_fail(const struct sutra_err *err);
/* Prints a usage error for command with its synopsis; returns 2. */
int cli_usage(const char *command, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prints a JSON value on stdout, pretty on a terminal, and a newline. */
int cli_print_json(const cJSON *v);

/*
 * Reads --input style text: "@FILE" reads the file ("@-" stdin), anything
 * else is the JSON itself.  Returns new JSON, or NULL with a usage error.
 */
cJSON *cli_read_json_arg(const char *arg, const char *what,
			 struct sutra_err *err);

#endif
