/* cmd_help.c - `sutra help [COMMAND]` and `sutra version`. */
#include <curl/curlver.h>
#include <lua.h>
#include <seccomp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include <sutra/plugin.h>

#include "commands.h"

#ifndef SUTRA_VERSION
#define SUTRA_VERSION "unknown"
#endif

static void print_synopsis(FILE *out, const char *synopsis)
{
	const char *s = synopsis;

	while (*s) {
		size_t n = strcspn(s, "\n");
		fprintf(out, "  sutra %.*s\n", (int)n, s);
		s += n + (s[n] == '\n');
	}
}

int cmd_help(struct cli *cli, int argc, char **argv)
{
	const struct cli_command *c;

	(void)cli;
	if (argc < 2) {
		puts("usage: sutra [-C DIR] [--db FILE] [--catalog PATH]... "
		     "[--config FILE]\n"
		     "             [--json] [-q|-v] [--no-color] COMMAND ...\n\n"
		     "commands:");
		for (c = cli_commands; c->name; c++)
			printf("  %-10s %s\n", c->name, c->summary);
		puts("\n'sutra help COMMAND' shows a command's usage; "
		     "man sutra(1) has the details.");
		return 0;
	}
	if (!(c = cli_find_command(argv[1])))
		return cli_usage(NULL, "no command '%s' (see 'sutra help')",
				 argv[1]);
	printf("sutra %s - %s\n\nusage:\n", c->name, c->summary);
	print_synopsis(stdout, c->synopsis);
	printf("\nSee sutra(1), section %s.\n", c->name);
	return 0;
}

int cmd_version(struct cli *cli, int argc, char **argv)
{
	const struct scmp_version *sv = seccomp_version();
	char seccomp[32];

	if (cli_getopt(cli, argc, argv, "", NULL, NULL, NULL) < 0)
		return 2;
	snprintf(seccomp, sizeof(seccomp), "%u.%u.%u", sv->major, sv->minor,
		 sv->micro);
	if (cli->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "sutra", SUTRA_VERSION);
		cJSON_AddNumberToObject(o, "plugin_abi", SUTRA_PLUGIN_ABI);
		cJSON_AddStringToObject(o, "lua", LUA_RELEASE);
		cJSON_AddStringToObject(o, "sqlite", sqlite3_libversion());
		cJSON_AddStringToObject(o, "curl", LIBCURL_VERSION);
		cJSON_AddStringToObject(o, "cjson", cJSON_Version());
		cJSON_AddStringToObject(o, "yaml", yaml_get_version_string());
		cJSON_AddStringToObject(o, "seccomp", seccomp);
		cli_print_json(o);
		cJSON_Delete(o);
		return 0;
	}
	printf("sutra %s (plugin ABI %d)\n", SUTRA_VERSION, SUTRA_PLUGIN_ABI);
	printf("%s, SQLite %s, libcurl %s, cJSON %s, libyaml %s, "
	       "libseccomp %s\n",
	       LUA_RELEASE, sqlite3_libversion(),
	       LIBCURL_VERSION, cJSON_Version(),
	       yaml_get_version_string(), seccomp);
	return 0;
}
