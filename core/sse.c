/* sse.c - see sse.h. */
#include "sse.h"

#include <stdlib.h>
#include <string.h>

static const char bom[] = "\xEF\xBB\xBF";

void sse_init(struct sse *p, sse_event_fn on_event, void *ud)
{
	memset(p, 0, sizeof(*p));
	p->on_event = on_event;
	p->ud = ud;
	p->at_start = 1;
}

void sse_free(struct sse *p)
{
	free(p->line.p);
	free(p->data.p);
	free(p->event.p);
	p->line = p->data = p->event = (struct sse_buf){0};
}

int sse_buf_add(struct sse_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 128;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int dispatch(struct sse *p)
{
	int rc = 0;

	if (p->has_data) {
		/* Each data line added a '\n'; the last one is not data. */
		if (p->data.len > 0)
			p->data.p[--p->data.len] = '\0';
		p->events++;
		rc = p->on_event(p->ud, p->event.len ? p->event.p : "message",
				 p->data.p ? p->data.p : "", p->data.len);
	}
	p->data.len = p->event.len = 0;
	p->has_data = 0;
	return rc;
}

/* Handles one complete line (without its end), per the WHATWG rules. */
static int field(struct sse *p, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	size_t name_len = colon ? (size_t)(colon - line) : len;
	const char *value = colon ? colon + 1 : line + len;
	size_t value_len = len - (size_t)(value - line);

	if (len == 0)
		return dispatch(p);
	if (name_len == 0)
		return 0; /* a comment (keep-alive) */
	if (value_len > 0 && *value == ' ') {
		value++;
		value_len--;
	}
	if (name_len == 4 && memcmp(line, "data", 4) == 0) {
		p->has_data = 1;
		if (p->data.len + value_len > SSE_MAX_LINE)
			return -1;
		if (sse_buf_add(&p->data, value, value_len) < 0 ||
		    sse_buf_add(&p->data, "\n", 1) < 0)
			return -1;
	} else if (name_len == 5 && memcmp(line, "event", 5) == 0) {
		p->event.len = 0;
		if (sse_buf_add(&p->event, value, value_len) < 0)
			return -1;
	}
	/* "id", "retry" and unknown fields: nothing to do for our callers. */
	return 0;
}

static int end_line(struct sse *p)
{
	int rc = field(p, p->line.p ? p->line.p : "", p->line.len);

	p->line.len = 0;
	return rc;
}

/* Consumes a leading BOM, which may arrive split over several chunks. */
static size_t skip_bom(struct sse *p, const char *buf, size_t len, int *rc)
{
	size_t i = 0;

	while (p->at_start && i < len) {
		if ((unsigned char)buf[i] == (unsigned char)bom[p->bom_seen]) {
			i++;
			if (++p->bom_seen == 3)
				p->at_start = 0;
			continue;
		}
		/* Not a BOM after all: the bytes matched so far are text. */
		p->at_start = 0;
		if (sse_buf_add(&p->line, bom, p->bom_seen) < 0)
			*rc = -1;
	}
	return i;
}

int sse_feed(struct sse *p, const char *buf, size_t len)
{
	int rc = 0;
	size_t i = skip_bom(p, buf, len, &rc);

	while (rc == 0 && i < len) {
		char c = buf[i];
		if (p->after_cr && c == '\n') {
			p->after_cr = 0;
			i++;
			continue;
		}
		p->after_cr = 0;
		if (c == '\r' || c == '\n') {
			p->after_cr = c == '\r';
			rc = end_line(p);
			i++;
			continue;
		}
		/* Copy the run of ordinary bytes in one go. */
		size_t run = i;
		while (run < len && buf[run] != '\r' && buf[run] != '\n')
			run++;
		if (p->line.len + (run - i) > SSE_MAX_LINE ||
		    sse_buf_add(&p->line, buf + i, run - i) < 0)
			return -1;
		i = run;
	}
	return rc;
}
