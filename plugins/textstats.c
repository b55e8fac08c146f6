/*
 * textstats - a sutra plugin agent: statistics of a text.
 *
 * input:  {"text": "...", "top": 5}
 * output: {"bytes", "chars", "words", "lines", "sentences",
 *          "avg_word_length", "top_words": [{"word", "count"}...]}
 *
 * Words are runs of letters, digits and apostrophes (ASCII letters are
 * case-folded; other UTF-8 bytes count as letters), so the counts are
 * stable across locales.  Built against <sutra/plugin.h> only.
 */
#define _GNU_SOURCE   /* hsearch_r */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>

#include <sutra/plugin.h>

enum { MAX_TOP = 100, DEFAULT_TOP = 5 };

struct word_count {
	char *word;
	int count;
};

struct stats {
	size_t bytes, chars, words, lines, sentences, letters;
	struct word_count *counts;
	size_t n_counts, cap_counts;
	struct hsearch_data index;   /* word -> position in counts + 1 */
};

static int is_word_byte(unsigned char c)
{
	return isalnum(c) || c == '\'' || c >= 0x80;
}

/* Counts one word, case-folded; takes the word's bytes [w, w + len). */
static int count_word(struct stats *s, const char *w, size_t len)
{
	char *word = malloc(len + 1);

	if (!word)
		return -1;
	for (size_t i = 0; i < len; i++)
		word[i] = (char)tolower((unsigned char)w[i]);
	word[len] = '\0';
	ENTRY want = {.key = word}, *found = NULL;
	if (hsearch_r(want, FIND, &found, &s->index) && found) {
		s->counts[(size_t)found->data - 1].count++;
		free(word);
		return 0;
	}
	if (s->n_counts == s->cap_counts) {
		size_t cap = s->cap_counts ? s->cap_counts * 2 : 64;
		void *n = realloc(s->counts, cap * sizeof(*s->counts));
		if (!n) {
			free(word);
			return -1;
		}
		s->counts = n;
		s->cap_counts = cap;
	}
	s->counts[s->n_counts].word = word;
	s->counts[s->n_counts++].count = 1;
	want.data = (void *)s->n_counts;
	return hsearch_r(want, ENTER, &found, &s->index) ? 0 : -1;
}

static void count_chars_lines(struct stats *s, const unsigned char *p)
{
	s->lines = *p ? 1 : 0;
	for (; *p; p++) {
		if ((*p & 0xC0) != 0x80)   /* not a UTF-8 continuation byte */
			s->chars++;
		if (*p == '\n' && p[1])
			s->lines++;
	}
}

static int analyse(struct stats *s, const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	int in_sentence = 0;

	s->bytes = strlen(text);
	/* At most one distinct word per two bytes; the table never fills. */
	if (!hcreate_r(s->bytes / 2 + 16, &s->index))
		return -1;
	count_chars_lines(s, p);
	while (*p) {
		if (*p == '.' || *p == '!' || *p == '?') {
			if (in_sentence)
				s->sentences++;
			in_sentence = 0;
		}
		if (!is_word_byte(*p)) {
			p++;
			continue;
		}
		const unsigned char *start = p;
		for (; *p && is_word_byte(*p); p++)
			if ((*p & 0xC0) != 0x80)
				s->letters++;
		s->words++;
		in_sentence = 1;
		if (count_word(s, (const char *)start, (size_t)(p - start)) < 0)
			return -1;
	}
	if (in_sentence)
		s->sentences++;
	return 0;
}

static int by_count(const void *a, const void *b)
{
	const struct word_count *x = a, *y = b;

	if (x->count != y->count)
		return y->count - x->count;
	return strcmp(x->word, y->word);
}

static cJSON *to_json(struct stats *s, int top)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *list;

	cJSON_AddNumberToObject(o, "bytes", (double)s->bytes);
	cJSON_AddNumberToObject(o, "chars", (double)s->chars);
	cJSON_AddNumberToObject(o, "words", (double)s->words);
	cJSON_AddNumberToObject(o, "lines", (double)s->lines);
	cJSON_AddNumberToObject(o, "sentences", (double)s->sentences);
	cJSON_AddNumberToObject(o, "avg_word_length",
				s->words ? (double)s->letters / (double)s->words
					 : 0.0);
	qsort(s->counts, s->n_counts, sizeof(*s->counts), by_count);
	list = cJSON_AddArrayToObject(o, "top_words");
	for (size_t i = 0; i < s->n_counts && (int)i < top; i++) {
		cJSON *w = cJSON_CreateObject();
		cJSON_AddStringToObject(w, "word", s->counts[i].word);
		cJSON_AddNumberToObject(w, "count", s->counts[i].count);
		cJSON_AddItemToArray(list, w);
	}
	return o;
}

static void free_stats(struct stats *s)
{
	hdestroy_r(&s->index);
	for (size_t i = 0; i < s->n_counts; i++)
		free(s->counts[i].word);
	free(s->counts);
}

static int run(struct sutra_call *call)
{
	const struct sutra_host *host = call->host;
	cJSON *input = cJSON_Parse(host->input(call));
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(input, "text");
	const cJSON *top = cJSON_GetObjectItemCaseSensitive(input, "top");
	struct stats s = {0};
	int n_top = cJSON_IsNumber(top) ? top->valueint : DEFAULT_TOP;
	int rc = 1;

	if (!cJSON_IsString(text)) {
		host->error(call, "input field 'text' must be a string");
		goto out;
	}
	if (n_top < 0 || n_top > MAX_TOP)
		n_top = n_top < 0 ? 0 : MAX_TOP;
	if (analyse(&s, text->valuestring) < 0) {
		host->error(call, "out of memory");
		goto out;
	}
	cJSON *out = to_json(&s, n_top);
	char *json = out ? cJSON_PrintUnformatted(out) : NULL;
	cJSON_Delete(out);
	if (!json || host->set_output(call, json) != SUTRA_STATUS_OK)
		host->error(call, "cannot set output");
	else
		rc = 0;
	cJSON_free(json);
out:
	free_stats(&s);
	cJSON_Delete(input);
	return rc;
}

static const struct sutra_agent agents[] = {
	{
		.name = "textstats",
		.description = "counts bytes, characters, words, lines and "
			       "sentences, and the most frequent words",
		.run = run,
	},
};

static const struct sutra_plugin plugin = {
	SUTRA_PLUGIN_INIT,
	.name = "textstats",
	.version = "1.0.0",
	.agents = agents,
	.n_agents = sizeof(agents) / sizeof(*agents),
};

SUTRA_PLUGIN_EXPORT const struct sutra_plugin *sutra_plugin_entry(void)
{
	return &plugin;
}
