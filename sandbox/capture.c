/*
 * capture.c - keeping a bounded view of a program's output.
 *
 * A stream keeps its first and its last half-cap bytes (the head says what
 * started, the tail how it ended) and counts the rest.  The text handed to
 * the verdict is made valid UTF-8 so that it survives JSON: invalid bytes
 * and NULs become U+FFFD.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int sbx_capture_init(struct sbx_capture *c, size_t cap)
{
	memset(c, 0, sizeof(*c));
	c->half = cap / 2 ? cap / 2 : 1;
	c->head = malloc(c->half);
	c->tail = malloc(c->half);
	if (!c->head || !c->tail) {
		sbx_capture_free(c);
		return -1;
	}
	return 0;
}

void sbx_capture_add(struct sbx_capture *c, const char *buf, size_t n)
{
	c->total += n;
	if (c->head_len < c->half) {
		size_t take = c->half - c->head_len;
		if (take > n)
			take = n;
		memcpy(c->head + c->head_len, buf, take);
		c->head_len += take;
		buf += take;
		n -= take;
	}
	/* Only the last half bytes can end up in the tail. */
	if (n > c->half) {
		buf += n - c->half;
		n = c->half;
	}
	while (n > 0) {
		size_t take = c->half - c->tail_pos;
		if (take > n)
			take = n;
		memcpy(c->tail + c->tail_pos, buf, take);
		c->tail_pos = (c->tail_pos + take) % c->half;
		if (c->tail_len < c->half)
			c->tail_len = c->tail_len + take > c->half
					      ? c->half : c->tail_len + take;
		buf += take;
		n -= take;
	}
}

int sbx_capture_truncated(const struct sbx_capture *c)
{
	return c->total > (uint64_t)c->head_len + c->tail_len;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned cp;

	if (s[0] < 0x80)
		return s[0] ? 1 : 0;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

char *sbx_utf8_clean(const char *buf, size_t n)
{
	const unsigned char *s = (const unsigned char *)buf;
	char *out = malloc(n * 3 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t len = utf8_seq(s + i, n - i);
		if (len == 0) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(o, s + i, len);
		o += len;
		i += len;
	}
	*o = '\0';
	return out;
}

char *sbx_capture_text(const struct sbx_capture *c)
{
	size_t n = c->head_len + c->tail_len;
	char marker[96];
	size_t mlen = 0;
	char *raw, *text;

	if (sbx_capture_truncated(c))
		mlen = (size_t)snprintf(marker, sizeof(marker),
					"\n[... %llu bytes dropped ...]\n",
					(unsigned long long)(c->total - n));
	if (!(raw = malloc(n + mlen + 1)))
		return NULL;
	memcpy(raw, c->head, c->head_len);
	memcpy(raw + c->head_len, marker, mlen);
	/* The ring's oldest byte sits at tail_pos once it has wrapped. */
	if (c->tail_len == c->half) {
		size_t first = c->half - c->tail_pos;
		memcpy(raw + c->head_len + mlen, c->tail + c->tail_pos, first);
		memcpy(raw + c->head_len + mlen + first, c->tail, c->tail_pos);
	} else {
		memcpy(raw + c->head_len + mlen, c->tail, c->tail_len);
	}
	text = sbx_utf8_clean(raw, n + mlen);
	free(raw);
	return text;
}

void sbx_capture_free(struct sbx_capture *c)
{
	free(c->head);
	free(c->tail);
	c->head = c->tail = NULL;
}
