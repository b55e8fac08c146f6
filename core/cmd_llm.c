/*
 * cmd_llm.c - `sutra llm chat [--provider NAME] [--model M] [--stream]
 * [--no-cache] [--system TEXT] [--temperature T] PROMPT`.
 *
 * Prints the answer as plain text on stdout (as it arrives with
 * --stream), or the whole response object with --json.  Ctrl-C cancels
 * the call at once and exits 130.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "llm.h"
#include "netmod.h"
#include "util.h"

struct chat_opts {
	const char *provider, *model, *system, *temperature;
	int stream, no_cache;
};

enum { OPT_PROVIDER = 2000, OPT_MODEL, OPT_STREAM, OPT_NO_CACHE, OPT_SYSTEM,
       OPT_TEMPERATURE };

static int chat_option(struct cli *cli, void *ud, int c, const char *arg)
{
	struct chat_opts *o = ud;

	(void)cli;
	switch (c) {
	case OPT_PROVIDER:
		o->provider = arg;
		return 0;
	case OPT_MODEL:
		o->model = arg;
		return 0;
	case OPT_STREAM:
		o->stream = 1;
		return 0;
	case OPT_NO_CACHE:
		o->no_cache = 1;
		return 0;
	case OPT_SYSTEM:
		o->system = arg;
		return 0;
	case OPT_TEMPERATURE:
		o->temperature = arg;
		return 0;
	}
	return -1;
}

static atomic_int interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	atomic_store(&interrupted, 1);
}

static int print_delta(void *ud, const char *text, size_t len)
{
	int *ends_nl = ud;

	if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0)
		return -1; /* stdout is gone (a closed pipe): stop paying */
	*ends_nl = text[len - 1] == '\n';
	return 0;
}

/* The request the options describe (new), or NULL with a usage error. */
static cJSON *build_request(const struct chat_opts *o, const char *prompt,
			    struct sutra_err *err)
{
	cJSON *req = cJSON_CreateObject();
	char *end;

	cJSON_AddStringToObject(req, "prompt", prompt);
	if (o->system)
		cJSON_AddStringToObject(req, "system", o->system);
	if (o->provider)
		cJSON_AddStringToObject(req, "provider", o->provider);
	if (o->model)
		cJSON_AddStringToObject(req, "model", o->model);
	if (o->stream)
		cJSON_AddTrueToObject(req, "stream");
	if (o->temperature) {
		double t = strtod(o->temperature, &end);
		if (end == o->temperature || *end || t < 0) {
			cJSON_Delete(req);
			err_set(err, SUTRA_EUSAGE,
				"--temperature: '%s' is not a number >= 0",
				o->temperature);
			return NULL;
		}
		cJSON_AddNumberToObject(req, "temperature", t);
	}
	return req;
}

static int print_answer(struct cli *cli, const struct chat_opts *o,
			const cJSON *resp, int ends_nl)
{
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(resp, "text");

	if (cli->json)
		return cli_print_json(resp) < 0 ? 3 : 0;
	if (!o->stream) {
		fputs(cJSON_IsString(text) ? text->valuestring : "", stdout);
		ends_nl = cJSON_IsString(text) && *text->valuestring &&
			  text->valuestring[strlen(text->valuestring) - 1] ==
				  '\n';
	}
	if (!ends_nl)
		putchar('\n');
	return fflush(stdout) == 0 ? 0 : 3;
}

static int run_chat(struct cli *cli, const struct chat_opts *o,
		    const cJSON *req, struct sutra_err *err)
{
	struct sigaction sa = {.sa_handler = on_sigint}, old_int, old_term;
	int ends_nl = 1;
	struct llm_call_opts co = {
		.cancel = &interrupted,
		.on_delta = o->stream && !cli->json ? print_delta : NULL,
		.delta_ud = &ends_nl,
		.no_cache = o->no_cache,
	};
	struct runtime *rt = cli_runtime(cli, err);
	cJSON *resp = NULL;
	int rc;

	if (!rt || netmod_llm_ready(rt, err) < 0 ||
	    !(co.state = runtime_state(rt, err)))
		return cli_fail(err);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	rc = llm_chat(llm_of(rt), &co, req, &resp, err);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (rc < 0) {
		if (!ends_nl)
			putchar('\n');
		fflush(stdout);
		if (atomic_load(&interrupted))
			err->code = SUTRA_EINTR;
		return cli_fail(err);
	}
	rc = print_answer(cli, o, resp, ends_nl);
	cJSON_Delete(resp);
	return rc;
}

static int llm_chat_cmd(struct cli *cli, int argc, char **argv)
{
	static const struct option longs[] = {
		{"provider", required_argument, NULL, OPT_PROVIDER},
		{"model", required_argument, NULL, OPT_MODEL},
		{"stream", no_argument, NULL, OPT_STREAM},
		{"no-cache", no_argument, NULL, OPT_NO_CACHE},
		{"system", required_argument, NULL, OPT_SYSTEM},
		{"temperature", required_argument, NULL, OPT_TEMPERATURE},
		{0},
	};
	struct chat_opts o = {0};
	struct sutra_err err = {0};
	char *stdin_text = NULL;
	const char *prompt;
	cJSON *req;
	int first = cli_getopt(cli, argc, argv, "", longs, chat_option, &o);
	int rc;

	if (first < 0)
		return 2;
	if (argc - first != 1)
		return cli_usage("llm", "'llm chat' takes one PROMPT "
					"('-' reads it from stdin)");
	prompt = argv[first];
	if (strcmp(prompt, "-") == 0) {
		if (file_read("/dev/stdin", &stdin_text, NULL, 0, &err) < 0)
			return cli_fail(&err);
		prompt = stdin_text;
	}
	if (!*prompt) {
		free(stdin_text);
		return cli_usage("llm", "the prompt is empty");
	}
	req = build_request(&o, prompt, &err);
	free(stdin_text);
	if (!req)
		return cli_fail(&err);
	rc = run_chat(cli, &o, req, &err);
	cJSON_Delete(req);
	return rc;
}

static const struct cli_subcommand llm_subs[] = {
	{"chat", llm_chat_cmd},
	{0},
};

int llm_cli_main(struct cli *cli, int argc, char **argv)
{
	return cli_dispatch(cli, "llm", llm_subs, argc, argv);
}
