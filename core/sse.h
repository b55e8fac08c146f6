/*
 * sse.h - an incremental parser for Server-Sent Events (the WHATWG
 * "text/event-stream" format), as LLM providers stream their answers.
 *
 * Owns nothing but its line and data buffers.  It is fed whatever chunks
 * the transport hands over (curl's write callback splits anywhere, even
 * between a '\r' and its '\n', or inside a UTF-8 sequence) and calls back
 * once per complete event.  Lines end in "\n", "\r\n" or "\r"; lines that
 * start with ':' are comments; several "data:" lines join with '\n'; one
 * space after the colon is dropped; "event:" names the event (default
 * "message"); a blank line dispatches.  A leading UTF-8 BOM is skipped.
 * An event not closed by a blank line when the stream ends is discarded,
 * as the standard says: callers detect truncation from the protocol's own
 * end marker.
 */
#ifndef SUTRA_SSE_H
#define SUTRA_SSE_H

#include <stddef.h>

/* Longest line accepted (a guard against a server that never ends one). */
#define SSE_MAX_LINE (16u << 20)

/*
 * Called once per event.  event and data are NUL-terminated and borrowed
 * until the callback returns; data_len excludes the NUL.  A non-zero
 * return stops the parser: sse_feed returns that value.
 */
typedef int (*sse_event_fn)(void *ud, const char *event, const char *data,
			    size_t data_len);

struct sse_buf {
	char *p;
	size_t len, cap;
};

/* Appends n bytes, keeping the buffer NUL-terminated; -1 when out of
 * memory. */
int sse_buf_add(struct sse_buf *b, const char *s, size_t n);

struct sse {
	sse_event_fn on_event;
	void *ud;
	struct sse_buf line;    /* the current, unfinished line */
	struct sse_buf data;    /* data of the current event, '\n'-joined */
	struct sse_buf event;   /* the current event's name */
	int has_data;           /* a data field was seen for this event */
	int after_cr;           /* the last byte was '\r': skip one '\n' */
	int at_start;           /* nothing fed yet: a BOM may follow */
	size_t bom_seen;        /* bytes of the BOM matched so far */
	size_t events;          /* events dispatched so far */
};

/* Initialises p (no allocation until bytes arrive). */
void sse_init(struct sse *p, sse_event_fn on_event, void *ud);

/*
 * Feeds len bytes.  Returns 0, the callback's non-zero value, or -1 when
 * out of memory or a line exceeds SSE_MAX_LINE.  After a non-zero return
 * the parser must be reset with sse_init (after sse_free) before reuse.
 */
int sse_feed(struct sse *p, const char *buf, size_t len);

/* Frees the buffers; p may be initialised again afterwards. */
void sse_free(struct sse *p);

#endif
