/*
 * main.c - the sutra command: global options, the command table,
 * dispatch.  The commands themselves live in cmd_*.c.
 */
#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "log.h"
#include "luart.h"
#include "util.h"

const struct cli_command cli_commands[] = {
	{
		.name = "run",
		.synopsis = "run CHAIN.yaml [-i KEY=VALUE]... [--input JSON|@FILE] "
			    "[--session ID] [--max-parallel N] [--trace FILE] "
			    "[--durability sync|batch]",
		.summary = "run a chain and print its output as JSON",
		.run = cmd_run,
	},
	{
		.name = "resume",
		.synopsis = "resume RUN_ID|last [--answer JSON|@FILE]",
		.summary = "continue a run from its checkpoints (or answer its "
			   "question)",
		.run = cmd_resume,
	},
	{
		.name = "replay",
		.synopsis = "replay RUN_ID|last",
		.summary = "re-run a recorded run offline and report divergences",
		.run = cmd_replay,
	},
	{
		.name = "runs",
		.synopsis = "runs [list]\n"
			    "runs show RUN_ID [--events]",
		.summary = "list recorded runs, or show one's timeline",
		.run = cmd_runs,
	},
	{
		.name = "chain",
		.synopsis = "chain validate FILE...\n"
			    "chain graph FILE [--format dot|mermaid]",
		.summary = "check chain files, or draw one as a graph",
		.run = cmd_chain,
	},
	{
		.name = "agent",
		.synopsis = "agent list\n"
			    "agent info NAME\n"
			    "agent run NAME [--input JSON|@FILE] [--session ID] "
			    "[--timeout DURATION]",
		.summary = "list, inspect and run agents from the catalog",
		.run = cmd_agent,
	},
	{
		.name = "catalog",
		.synopsis = "catalog list\n"
			    "catalog install DIR|FILE.tar.gz [--force]\n"
			    "catalog remove NAME\n"
			    "catalog verify\n"
			    "catalog lock [CHAIN.yaml]...",
		.summary = "install, remove, verify and lock agent packages",
		.run = cmd_catalog,
	},
	{
		.name = "memory",
		.synopsis = "memory get KEY [--session ID]\n"
			    "memory set KEY JSON [--session ID]\n"
			    "memory del KEY [--session ID]\n"
			    "memory list [--session ID]\n"
			    "memory sessions\n"
			    "memory backup FILE\n"
			    "memory restore FILE\n"
			    "memory export [--session ID]\n"
			    "memory import FILE [--session ID]",
		.summary = "read and write session memory",
		.run = cmd_memory,
	},
	{
		.name = "llm",
		.synopsis = "llm chat [--provider NAME] [--model M] [--stream] "
			    "[--no-cache] [--system TEXT] [--temperature T] "
			    "PROMPT",
		.summary = "chat with the configured LLM provider",
		.run = cmd_llm,
	},
	{
		.name = "sandbox",
		.synopsis = "sandbox run [--profile P] [--time S] [--memory MB] "
			    "[--dir DIR] [--keep] -- CMD...",
		.summary = "run a command in the sandbox and print its verdict",
		.run = cmd_sandbox,
	},
	{
		.name = "version",
		.synopsis = "version",
		.summary = "print the version of sutra and its libraries",
		.run = cmd_version,
	},
	{
		.name = "help",
		.synopsis = "help [COMMAND]",
		.summary = "show the commands, or one command's usage",
		.run = cmd_help,
	},
	{0},
};

const struct cli_command *cli_find_command(const char *name)
{
	for (const struct cli_command *c = cli_commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* Long-only global options. */
enum {
	OPT_DB = 1000,
	OPT_CATALOG,
	OPT_CONFIG,
	OPT_JSON,
	OPT_NO_COLOR,
	OPT_HELP,
};

static const char global_shorts[] = "C:qvh";
static const struct option global_longs[] = {
	{"db", required_argument, NULL, OPT_DB},
	{"catalog", required_argument, NULL, OPT_CATALOG},
	{"config", required_argument, NULL, OPT_CONFIG},
	{"json", no_argument, NULL, OPT_JSON},
	{"no-color", no_argument, NULL, OPT_NO_COLOR},
	{"quiet", no_argument, NULL, 'q'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, OPT_HELP},
	{0},
};

/* Handles a global option; returns 1 if c was one, 0 if not, -1 on error. */
static int global_option(struct cli *cli, int c, const char *arg)
{
	switch (c) {
	case 'C':
		/* Like git -C: later paths are relative to DIR. */
		if (chdir(arg) != 0) {
			fprintf(stderr, "sutra: error: -C '%s': %s\n", arg,
				strerror(errno));
			return -1;
		}
		cli->project_dir = arg;
		return 1;
	case 'q':
		cli->verbosity--;
		return 1;
	case 'v':
		cli->verbosity++;
		return 1;
	case OPT_DB:
		cli->db_path = arg;
		return 1;
	case OPT_CONFIG:
		cli->config_path = arg;
		return 1;
	case OPT_JSON:
		cli->json = 1;
		return 1;
	case OPT_NO_COLOR:
		cli->color = 0;
		return 1;
	case OPT_CATALOG: {
		char **n = realloc(cli->catalogs,
				   (cli->n_catalogs + 1) * sizeof(*n));
		if (!n)
			return -1;
		cli->catalogs = n;
		n[cli->n_catalogs++] = (char *)arg;
		return 1;
	}
	}
	return 0;
}

int cli_usage(const char *command, const char *fmt, ...)
{
	const struct cli_command *c = command ? cli_find_command(command) : NULL;
	va_list ap;

	fputs("sutra: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (c) {
		const char *s = c->synopsis;
		fputs("usage:", stderr);
		while (*s) {
			size_t n = strcspn(s, "\n");
			fprintf(stderr, " sutra %.*s\n", (int)n, s);
			s += n + (s[n] == '\n');
			if (*s)
				fputs("      ", stderr);
		}
	}
	return 2;
}

static int set_verbosity(const struct cli *cli)
{
	const char *env = getenv("SUTRA_LOG");
	int level = LOG_WARN + cli->verbosity;

	if (env && *env && log_level_from_name(env) >= 0)
		level = log_level_from_name(env);
	if (level < LOG_ERROR)
		level = LOG_ERROR;
	log_set_level(level);
	return 0;
}

int cli_getopt(struct cli *cli, int argc, char **argv, const char *shorts,
	       const struct option *longs, cli_opt_handler handle, void *ud)
{
	struct option all[64];
	char optstring[128];
	size_t n = 0;
	int c;

	for (const struct option *o = global_longs; o->name && n < 40; o++)
		all[n++] = *o;
	for (const struct option *o = longs; o && o->name && n < 63; o++)
		all[n++] = *o;
	memset(&all[n], 0, sizeof(all[n]));
	snprintf(optstring, sizeof(optstring), ":%s%s", global_shorts,
		 shorts ? shorts : "");
	optind = 0;   /* GNU: reinitialise for this argv */
	opterr = 0;
	while ((c = getopt_long(argc, argv, optstring, all, NULL)) != -1) {
		int g;
		if (c == OPT_HELP) {
			const char *name = cli->command ? cli->command : argv[0];
			cmd_help(cli, 2, (char *[]){"help", (char *)name, NULL});
			exit(0);
		}
		if (c == '?' || c == ':') {
			const char *bad = argv[optind - 1];
			cli_usage(cli->command, c == ':' ? "option '%s' needs a value"
						    : "unknown option '%s'",
				  bad);
			return -1;
		}
		if ((g = global_option(cli, c, optarg)) < 0)
			return -1;
		if (g == 0 && (!handle || handle(cli, ud, c, optarg) != 0))
			return -1;
	}
	set_verbosity(cli);
	return optind;
}

int cli_dispatch(struct cli *cli, const char *command,
		 const struct cli_subcommand *subs, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage(command, "'%s' needs a subcommand", command);
	for (const struct cli_subcommand *s = subs; s->name; s++)
		if (strcmp(s->name, argv[1]) == 0)
			return s->run(cli, argc - 1, argv + 1);
	return cli_usage(command, "unknown subcommand '%s %s'", command,
			 argv[1]);
}

struct runtime *cli_runtime(struct cli *cli, struct sutra_err *err)
{
	struct runtime_options opts = {
		.db_path = cli->db_path,
		.config_path = cli->config_path,
		.catalogs = cli->catalogs,
		.n_catalogs = cli->n_catalogs,
	};

	if (!cli->rt)
		runtime_open(&opts, &cli->rt, err);
	return cli->rt;
}

struct state *cli_state(struct cli *cli, struct sutra_err *err)
{
	struct runtime *rt = cli_runtime(cli, err);

	return rt ? runtime_state(rt, err) : NULL;
}

int cli_fail(const struct sutra_err *err)
{
	fprintf(stderr, "sutra: error: %s\n",
		err->msg[0] ? err->msg : "unknown error");
	return err_exit_code(err->code ? err->code : SUTRA_ERUNTIME);
}

int cli_print_json(const cJSON *v)
{
	char *text = isatty(STDOUT_FILENO) ? cJSON_Print(v)
					   : cJSON_PrintUnformatted(v);

	if (!text)
		return -1;
	puts(text);
	cJSON_free(text);
	return fflush(stdout) == 0 ? 0 : -1;
}

cJSON *cli_read_json_arg(const char *arg, const char *what,
			 struct sutra_err *err)
{
	char *text = NULL;
	const char *src = arg, *end = NULL;
	cJSON *v;

	if (arg[0] == '@') {
		const char *path = arg[1] == '-' && !arg[2] ? "/dev/stdin" : arg + 1;
		if (file_read(path, &text, NULL, 0, err) < 0) {
			err->code = SUTRA_EUSAGE;
			err_prefix(err, "%s", what);
			return NULL;
		}
		src = text;
	}
	v = cJSON_ParseWithOpts(src, &end, 1);
	if (!v)
		err_set(err, SUTRA_EUSAGE, "%s: invalid JSON at byte %d", what,
			(int)(end ? end - src : 0) + 1);
	free(text);
	return v;
}

static int run_command(struct cli *cli, int argc, char **argv)
{
	const struct cli_command *cmd;

	if (argc < 1) {
		cmd_help(cli, 1, (char *[]){"help", NULL});
		return 2;
	}
	if (!(cmd = cli_find_command(argv[0])))
		return cli_usage(NULL, "unknown command '%s' (see 'sutra help')",
				 argv[0]);
	/* Global options after the command are parsed with its own. */
	cli->command = cmd->name;
	return cmd->run(cli, argc, argv);
}

int main(int argc, char **argv)
{
	struct cli cli = {.color = isatty(STDERR_FILENO)};
	int c, rc;

	setlocale(LC_CTYPE, "");
	/* Past a file size limit, writes fail with EFBIG (and the state
	 * database reports it) instead of the process being killed. */
	signal(SIGXFSZ, SIG_IGN);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:C:qvh", global_longs, NULL)) != -1) {
		if (c == 'h' || c == OPT_HELP) {
			cmd_help(&cli, 1, (char *[]){"help", NULL});
			return 0;
		}
		if (c == '?' || c == ':')
			return cli_usage(NULL, "%s '%s'",
					 c == ':' ? "option needs a value"
						  : "unknown option",
					 argv[optind - 1]);
		if (global_option(&cli, c, optarg) < 0) {
			free(cli.catalogs);
			return 2;
		}
	}
	set_verbosity(&cli);
	rc = run_command(&cli, argc - optind, argv + optind);
	runtime_close(cli.rt);
	luart_thread_done();
	free(cli.catalogs);
	return rc;
}
