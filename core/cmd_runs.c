/* cmd_runs.c - `sutra runs [list | show RUN_ID [--events]]`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "runlog.h"

static void print_started(double t)
{
	char buf[32];
	time_t secs = (time_t)t;
	struct tm tm;

	localtime_r(&secs, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	fputs(buf, stdout);
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static const char *str(const cJSON *o, const char *key)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));

	return v ? v : "";
}

static int runs_list(struct cli *cli, int argc, char **argv)
{
	struct sutra_err err = {0};
	struct state *st;
	cJSON *list = NULL, *r;

	if (cli_getopt(cli, argc, argv, "", NULL, NULL, NULL) < 0)
		return 2;
	if (!(st = cli_state(cli, &err)) || runlog_list(st, 1000, &list, &err) < 0)
		return cli_fail(&err);
	if (cli->json) {
		cli_print_json(list);
		cJSON_Delete(list);
		return 0;
	}
	cJSON_ArrayForEach(r, list) {
		printf("%-22s %-16s %-10s %-11s ", str(r, "id"), str(r, "chain"),
		       str(r, "session"), str(r, "status"));
		print_started(num(r, "started"));
		if (num(r, "duration_ms") >= 0)
			printf("  %.1f ms", num(r, "duration_ms"));
		putchar('\n');
	}
	cJSON_Delete(list);
	return 0;
}

static int events_option(struct cli *cli, void *ud, int c, const char *arg)
{
	(void)cli;
	(void)arg;
	if (c != 'e')
		return -1;
	*(int *)ud = 1;
	return 0;
}

static int print_events(struct state *st, const char *id)
{
	struct sutra_err err = {0};
	cJSON *events = NULL, *e;

	if (runlog_events(st, id, &events, &err) < 0)
		return cli_fail(&err);
	cJSON_ArrayForEach(e, events) {
		char *line = cJSON_PrintUnformatted(e);
		if (line)
			puts(line);
		cJSON_free(line);
	}
	cJSON_Delete(events);
	return 0;
}

static void print_timeline(const cJSON *run)
{
	const cJSON *s;

	printf("run      %s\nchain    %s (%s)\nsession  %s\nstatus   %s\n",
	       str(run, "id"), str(run, "chain"), str(run, "chain_path"),
	       str(run, "session"), str(run, "status"));
	if (num(run, "duration_ms") >= 0)
		printf("duration %.1f ms\n", num(run, "duration_ms"));
	if (num(run, "llm_calls") > 0)
		printf("llm      %.0f calls, %.0f tokens in, %.0f out, $%.6f\n",
		       num(run, "llm_calls"), num(run, "tokens_in"),
		       num(run, "tokens_out"), num(run, "cost_usd"));
	if (*str(run, "error"))
		printf("error    %s\n", str(run, "error"));
	putchar('\n');
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(run, "steps")) {
		printf("%-28s %-8s attempt %-2.0f %9.1f ms", str(s, "path"),
		       str(s, "status"), num(s, "attempt"), num(s, "duration_ms"));
		if (num(s, "llm_calls") > 0)
			printf("  %.0f+%.0f tokens $%.6f", num(s, "tokens_in"),
			       num(s, "tokens_out"), num(s, "cost_usd"));
		if (*str(s, "error"))
			printf("  %s", str(s, "error"));
		putchar('\n');
	}
}

static int runs_show(struct cli *cli, int argc, char **argv)
{
	static const struct option longs[] = {
		{"events", no_argument, NULL, 'e'},
		{0},
	};
	struct sutra_err err = {0};
	struct state *st;
	cJSON *run = NULL;
	int events = 0;
	int first = cli_getopt(cli, argc, argv, "", longs, events_option, &events);

	if (first < 0)
		return 2;
	if (argc - first != 1)
		return cli_usage("runs", "'runs show' takes a run id");
	if (!(st = cli_state(cli, &err)))
		return cli_fail(&err);
	char *last = strcmp(argv[first], "last") ? NULL : runlog_last_id(st, &err);
	const char *id = last ? last : argv[first];
	if (runlog_show(st, id, &run, &err) < 0) {
		free(last);
		return cli_fail(&err);
	}
	if (events) {
		cJSON_Delete(run);
		int rc = print_events(st, id);
		free(last);
		return rc;
	}
	free(last);
	if (cli->json)
		cli_print_json(run);
	else
		print_timeline(run);
	cJSON_Delete(run);
	return 0;
}

static const struct cli_subcommand runs_subs[] = {
	{"list", runs_list},
	{"show", runs_show},
	{0},
};

int cmd_runs(struct cli *cli, int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-')
		return runs_list(cli, argc, argv);
	return cli_dispatch(cli, "runs", runs_subs, argc, argv);
}
