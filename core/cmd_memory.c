/* cmd_memory.c - `sutra memory get|set|del|list|sessions`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "memory.h"

static int session_option(struct cli *cli, void *ud, int c, const char *arg)
{
	(void)cli;
	if (c != 's')
		return -1;
	*(const char **)ud = arg;
	return 0;
}

static const struct option session_longs[] = {
	{"session", required_argument, NULL, 's'},
	{0},
};

/*
 * Parses [--session ID] and exactly `want` operands (after argv[0]).
 * Returns the index of the first operand or -1 after a usage error.
 */
static int parse(struct cli *cli, int argc, char **argv, int want,
		 const char **session)
{
	int first = cli_getopt(cli, argc, argv, "", session_longs,
			       session_option, session);

	if (first < 0)
		return -1;
	if (argc - first != want) {
		cli_usage("memory", "'memory %s' takes %d argument%s", argv[0],
			  want, want == 1 ? "" : "s");
		return -1;
	}
	if (!*session)
		*session = "default";
	return first;
}

static int memory_get_cmd(struct cli *cli, int argc, char **argv)
{
	const char *session = NULL;
	struct sutra_err err = {0};
	struct state *st;
	char *json = NULL;
	int first = parse(cli, argc, argv, 1, &session), rc;

	if (first < 0)
		return 2;
	if (!(st = cli_state(cli, &err)))
		return cli_fail(&err);
	rc = memory_get(st, session, argv[first], &json, &err);
	if (rc < 0)
		return cli_fail(&err);
	if (rc == 0) {
		fprintf(stderr, "sutra: error: key '%s' not found in session "
				"'%s'\n",
			argv[first], session);
		return 1;
	}
	puts(json);
	free(json);
	return 0;
}

static int memory_set_cmd(struct cli *cli, int argc, char **argv)
{
	const char *session = NULL;
	struct sutra_err err = {0};
	struct state *st;
	cJSON *v;
	char *text;
	int first = parse(cli, argc, argv, 2, &session), rc;

	if (first < 0)
		return 2;
	if (memory_check_key(argv[first], &err) < 0)
		return cli_fail(&err);
	if (!(v = cJSON_Parse(argv[first + 1])))
		return cli_usage("memory",
				 "value for '%s' is not JSON (quote text: "
				 "'\"text\"')",
				 argv[first]);
	text = cJSON_PrintUnformatted(v);
	cJSON_Delete(v);
	if (!text || !(st = cli_state(cli, &err))) {
		cJSON_free(text);
		return text ? cli_fail(&err) : 3;
	}
	rc = memory_set(st, session, argv[first], text, &err);
	cJSON_free(text);
	return rc < 0 ? cli_fail(&err) : 0;
}

static int memory_del_cmd(struct cli *cli, int argc, char **argv)
{
	const char *session = NULL;
	struct sutra_err err = {0};
	struct state *st;
	int first = parse(cli, argc, argv, 1, &session);

	if (first < 0)
		return 2;
	if (!(st = cli_state(cli, &err)) ||
	    memory_del(st, session, argv[first], &err) < 0)
		return cli_fail(&err);
	return 0;
}

static void print_time(double t)
{
	char buf[32];
	time_t secs = (time_t)t;
	struct tm tm;

	localtime_r(&secs, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	fputs(buf, stdout);
}

static int memory_list_cmd(struct cli *cli, int argc, char **argv)
{
	const char *session = NULL;
	struct sutra_err err = {0};
	struct state *st;
	cJSON *list = NULL, *e;
	int first = parse(cli, argc, argv, 0, &session);

	if (first < 0)
		return 2;
	if (!(st = cli_state(cli, &err)) ||
	    memory_list(st, session, &list, &err) < 0)
		return cli_fail(&err);
	if (cli->json) {
		cli_print_json(list);
	} else {
		cJSON_ArrayForEach(e, list) {
			char *v = cJSON_PrintUnformatted(
				cJSON_GetObjectItemCaseSensitive(e, "value"));
			printf("%s\t%s\n",
			       cJSON_GetObjectItemCaseSensitive(e, "key")->valuestring,
			       v ? v : "");
			cJSON_free(v);
		}
	}
	cJSON_Delete(list);
	return 0;
}

static int memory_sessions_cmd(struct cli *cli, int argc, char **argv)
{
	struct sutra_err err = {0};
	struct state *st;
	cJSON *list = NULL, *e;
	int first = cli_getopt(cli, argc, argv, "", NULL, NULL, NULL);

	if (first < 0)
		return 2;
	if (argc != first)
		return cli_usage("memory", "'memory sessions' takes no argument");
	if (!(st = cli_state(cli, &err)) || memory_sessions(st, &list, &err) < 0)
		return cli_fail(&err);
	if (cli->json) {
		cli_print_json(list);
	} else {
		cJSON_ArrayForEach(e, list) {
			printf("%s\t%d keys\t",
			       cJSON_GetObjectItemCaseSensitive(e, "id")->valuestring,
			       cJSON_GetObjectItemCaseSensitive(e, "keys")->valueint);
			print_time(cJSON_GetObjectItemCaseSensitive(e, "updated")
					   ->valuedouble);
			putchar('\n');
		}
	}
	cJSON_Delete(list);
	return 0;
}

/* Parses [--session ID] and one FILE operand. */
static const char *one_file(struct cli *cli, int argc, char **argv,
			    const char **session)
{
	int first = parse(cli, argc, argv, 1, session);

	return first < 0 ? NULL : argv[first];
}

/* backup and restore: one FILE, one state function. */
static int with_file(struct cli *cli, int argc, char **argv,
		     int (*op)(struct state *, const char *, struct sutra_err *))
{
	const char *session = NULL, *file = one_file(cli, argc, argv, &session);
	struct sutra_err err = {0};
	struct state *st;

	if (!file)
		return 2;
	if (!(st = cli_state(cli, &err)) || op(st, file, &err) < 0)
		return cli_fail(&err);
	return 0;
}

static int memory_backup_cmd(struct cli *cli, int argc, char **argv)
{
	return with_file(cli, argc, argv, state_backup);
}

static int memory_restore_cmd(struct cli *cli, int argc, char **argv)
{
	return with_file(cli, argc, argv, state_restore);
}

static int memory_export_cmd(struct cli *cli, int argc, char **argv)
{
	const char *session = NULL;
	struct sutra_err err = {0};
	struct state *st;
	cJSON *list = NULL, *e, *doc, *mem;
	int first = parse(cli, argc, argv, 0, &session);

	if (first < 0)
		return 2;
	if (!(st = cli_state(cli, &err)) ||
	    memory_list(st, session, &list, &err) < 0)
		return cli_fail(&err);
	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "session", session);
	mem = cJSON_AddObjectToObject(doc, "memory");
	cJSON_ArrayForEach(e, list)
		cJSON_AddItemToObject(mem,
			cJSON_GetObjectItemCaseSensitive(e, "key")->valuestring,
			cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(e, "value"), 1));
	cli_print_json(doc);
	cJSON_Delete(doc);
	cJSON_Delete(list);
	return 0;
}

/* Imports an export: {"session": ID, "memory": {key: value}}; --session
 * overrides the file's session. */
static int memory_import_cmd(struct cli *cli, int argc, char **argv)
{
	const char *session = NULL;
	struct sutra_err err = {0};
	struct state *st;
	int first = cli_getopt(cli, argc, argv, "", session_longs,
			       session_option, &session);
	cJSON *doc;
	int rc;

	if (first < 0)
		return 2;
	if (argc - first != 1)
		return cli_usage("memory", "'memory import' takes one file");
	char arg[4096];
	snprintf(arg, sizeof(arg), "@%s", argv[first]);
	if (!(doc = cli_read_json_arg(arg, "import", &err)))
		return cli_fail(&err);
	if (!session)
		session = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(doc, "session"));
	if (!session)
		session = "default";
	rc = (st = cli_state(cli, &err)) &&
	     memory_import(st, session,
			   cJSON_GetObjectItemCaseSensitive(doc, "memory"),
			   &err) == 0;
	cJSON_Delete(doc);
	return rc ? 0 : cli_fail(&err);
}

static const struct cli_subcommand memory_subs[] = {
	{"get", memory_get_cmd},
	{"set", memory_set_cmd},
	{"del", memory_del_cmd},
	{"list", memory_list_cmd},
	{"sessions", memory_sessions_cmd},
	{"backup", memory_backup_cmd},
	{"restore", memory_restore_cmd},
	{"export", memory_export_cmd},
	{"import", memory_import_cmd},
	{0},
};

int cmd_memory(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, "memory", memory_subs, argc, argv);
}
