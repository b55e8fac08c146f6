/*
 * 7001-sse: the SSE parser, fed whole, one byte at a time and at every
 * split point, with every line ending, comments, multi-line data, event
 * names, a BOM, and the limits.
 */
#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "tap.h"

struct got {
	char log[4096];
	int n;
	int stop_at;     /* return 1 from this event on; 0: never */
	int bad_len;     /* a callback's data_len was not strlen(data) */
};

static int collect(void *ud, const char *event, const char *data,
		   size_t len)
{
	struct got *g = ud;
	size_t used = strlen(g->log);

	g->bad_len |= strlen(data) != len;
	snprintf(g->log + used, sizeof(g->log) - used, "[%s|%s]", event, data);
	return ++g->n == g->stop_at ? 1 : 0;
}

/* Parses text in chunks of size step (0: all at once). */
static void parse(const char *text, size_t len, size_t step, struct got *g)
{
	struct sse p;

	memset(g, 0, sizeof(*g));
	sse_init(&p, collect, g);
	if (!step)
		step = len ? len : 1;
	for (size_t i = 0; i < len; i += step)
		sse_feed(&p, text + i, i + step > len ? len - i : step);
	sse_free(&p);
}

/* The same events whatever the chunking; TAP lines go to a counter. */
static void check(const char *name, const char *text, const char *want)
{
	size_t len = strlen(text);
	struct got g;
	int same = 1;

	parse(text, len, 0, &g);
	is_str(g.log, want, "%s: whole", name);
	ok(!g.bad_len, "%s: data_len is the data's length", name);
	for (size_t step = 1; step <= 7; step++) {
		parse(text, len, step, &g);
		same &= strcmp(g.log, want) == 0;
		if (strcmp(g.log, want) != 0)
			diag("step %zu: %s", step, g.log);
	}
	/* Every two-way split point, including inside "\r\n". */
	for (size_t cut = 1; cut < len; cut++) {
		struct sse p;
		struct got h = {{0}, 0, 0, 0};
		sse_init(&p, collect, &h);
		sse_feed(&p, text, cut);
		sse_feed(&p, text + cut, len - cut);
		sse_free(&p);
		same &= strcmp(h.log, want) == 0;
	}
	ok(same, "%s: same events at every chunking and split", name);
}

static void test_limits(void)
{
	struct sse p;
	struct got g = {{0}, 0, 0, 0};
	char *big = malloc(SSE_MAX_LINE + 2);

	memset(big, 'a', SSE_MAX_LINE + 1);
	sse_init(&p, collect, &g);
	is_int(sse_feed(&p, "data: x\n", 8), 0, "a partial event feeds");
	is_int(sse_feed(&p, big, SSE_MAX_LINE + 1), -1,
	       "a line over SSE_MAX_LINE is refused");
	sse_free(&p);
	free(big);

	sse_init(&p, collect, &g);
	g.n = 0;
	g.stop_at = 2;
	g.log[0] = '\0';
	is_int(sse_feed(&p, "data: 1\n\ndata: 2\n\ndata: 3\n\n", 27), 1,
	       "a callback's non-zero return stops the parser");
	is_str(g.log, "[message|1][message|2]", "no event after the stop");
	sse_free(&p);
}

int main(void)
{
	plan_lazy();
	check("lf", "data: hello\n\n", "[message|hello]");
	check("crlf", "data: a\r\n\r\ndata: b\r\n\r\n",
	      "[message|a][message|b]");
	check("cr", "data: a\r\rdata: b\r\r", "[message|a][message|b]");
	check("mixed endings", "data: a\r\n\ndata: b\r\r\ndata: c\n\r",
	      "[message|a][message|b][message|c]");
	check("multi-line data", "data: one\ndata: two\ndata:three\n\n",
	      "[message|one\ntwo\nthree]");
	check("comments and keep-alives",
	      ": ping\n:\ndata: x\n: between\n\n: trailing\n\n",
	      "[message|x]");
	check("event names", "event: message_start\ndata: {}\n\n"
			     "event: ping\ndata: {\"type\": \"ping\"}\n\n"
			     "data: unnamed\n\n",
	      "[message_start|{}][ping|{\"type\": \"ping\"}][message|unnamed]");
	check("name resets after dispatch", "event: a\n\nevent: b\ndata: 1\n\n"
					    "data: 2\n\n",
	      "[b|1][message|2]");
	check("one space only", "data:  two spaces\ndata:none\n\n",
	      "[message| two spaces\nnone]");
	check("field without colon", "data\n\ndata\ndata\n\n",
	      "[message|][message|\n]");
	check("id, retry and unknown fields ignored",
	      "id: 7\nretry: 10\nfoo: bar\ndata: x\n\n", "[message|x]");
	check("blank lines without data dispatch nothing", "\n\n\r\n\r",
	      "");
	check("unfinished event is dropped at the end", "data: a\n\ndata: b\n",
	      "[message|a]");
	check("bom", "\xEF\xBB\xBF" "data: x\n\n", "[message|x]");
	check("not a bom", "\xEF" "data: x\n\n", "");
	check("utf-8 split anywhere", "data: caf\xC3\xA9 \xE2\x9C\x93\n\n",
	      "[message|caf\xC3\xA9 \xE2\x9C\x93]");
	check("openai [DONE]",
	      "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
	      "data: [DONE]\n\n",
	      "[message|{\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}]"
	      "[message|[DONE]]");
	test_limits();
	done_testing();
	return exit_status();
}
