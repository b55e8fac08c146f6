/*
 * llm_http.c - the LLM layer's HTTP client on libcurl.
 *
 * Owns the process-wide curl_global_init (once) and one multi + easy
 * handle pair per thread, kept in thread-specific data so that a worker's
 * calls reuse its connection (one TCP connect per worker) without locks.
 * A transfer runs in our own curl_multi_poll loop with a short poll
 * interval instead of curl_easy_perform, so the caller's cancel flag and
 * deadline stop it within milliseconds; the same checks run in curl's
 * progress callback.  Streams get an idle timeout (no bytes for N ms), not
 * a total one.  Nothing here logs or keeps the request headers: they carry
 * the API key.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "llm_impl.h"
#include "util.h"

#ifndef SUTRA_VERSION
#define SUTRA_VERSION "0"
#endif

enum {
	POLL_MS = 20,                     /* cancel latency bound */
	MAX_BODY = 32 << 20,              /* a non-streamed body */
};

struct handles {
	CURLM *multi;
	CURL *easy;
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t key;
static int global_ok;

static void free_handles(void *p)
{
	struct handles *h = p;

	if (!h)
		return;
	if (h->easy)
		curl_easy_cleanup(h->easy);
	if (h->multi)
		curl_multi_cleanup(h->multi);
	free(h);
}

static void global_init(void)
{
	/* Not thread-safe in older libcurl: pthread_once serialises it. */
	global_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK &&
		    pthread_key_create(&key, free_handles) == 0;
}

static struct handles *thread_handles(void)
{
	struct handles *h;

	pthread_once(&once, global_init);
	if (!global_ok)
		return NULL;
	if ((h = pthread_getspecific(key)))
		return h;
	if (!(h = calloc(1, sizeof(*h))))
		return NULL;
	h->multi = curl_multi_init();
	h->easy = curl_easy_init();
	if (!h->multi || !h->easy || pthread_setspecific(key, h) != 0) {
		free_handles(h);
		return NULL;
	}
	return h;
}

void llm_thread_done(void)
{
	pthread_once(&once, global_init);
	if (!global_ok)
		return;
	free_handles(pthread_getspecific(key));
	pthread_setspecific(key, NULL);
}

/* One transfer in flight. */
struct xfer {
	const struct llm_http_req *req;
	struct llm_http_resp *resp;
	CURL *easy;
	int64_t start_ns, last_rx_ns;
	int decided;                 /* sink or buffer chosen */
	char errbuf[CURL_ERROR_SIZE];
	enum llm_http_outcome stop;  /* why we aborted, or LLM_HTTP_OK */
};

/* Whether to stop now, and why (also the progress callback's test). */
static enum llm_http_outcome should_stop(struct xfer *x)
{
	const struct llm_http_req *q = x->req;
	int64_t now = now_ns();

	if (q->cancel && atomic_load(q->cancel))
		return LLM_HTTP_CANCELED;
	if (q->deadline_ns && now >= q->deadline_ns)
		return LLM_HTTP_DEADLINE;
	if (q->timeout_ms && now - x->start_ns >= q->timeout_ms * 1000000)
		return LLM_HTTP_TIMEOUT;
	if (q->idle_timeout_ms &&
	    now - x->last_rx_ns >= q->idle_timeout_ms * 1000000)
		return LLM_HTTP_IDLE;
	return LLM_HTTP_OK;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut,
		       curl_off_t un)
{
	struct xfer *x = ud;

	(void)dt, (void)dn, (void)ut, (void)un;
	if (x->stop == LLM_HTTP_OK)
		x->stop = should_stop(x);
	return x->stop != LLM_HTTP_OK;
}

static void header_value(const char *line, size_t n, const char *name,
			 char *out, size_t outlen)
{
	size_t len = strlen(name);
	const char *v;

	if (n <= len || strncasecmp(line, name, len) != 0 || line[len] != ':')
		return;
	v = line + len + 1;
	while (v < line + n && (*v == ' ' || *v == '\t'))
		v++;
	n -= (size_t)(v - line);
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' ||
			 v[n - 1] == ' '))
		n--;
	snprintf(out, outlen, "%.*s", (int)n, v);
}

static size_t on_header(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	char ra[32] = "", ra_ms[32] = "";

	x->last_rx_ns = now_ns();
	/* A new status line (after a 100 Continue or a redirect) starts a
	 * new header block. */
	if (n > 5 && strncmp(buf, "HTTP/", 5) == 0) {
		x->resp->content_type[0] = x->resp->request_id[0] = '\0';
		x->resp->retry_after_ms = -1;
	}
	header_value(buf, n, "content-type", x->resp->content_type,
		     sizeof(x->resp->content_type));
	header_value(buf, n, "x-request-id", x->resp->request_id,
		     sizeof(x->resp->request_id));
	header_value(buf, n, "request-id", x->resp->request_id,
		     sizeof(x->resp->request_id));
	header_value(buf, n, "retry-after-ms", ra_ms, sizeof(ra_ms));
	header_value(buf, n, "retry-after", ra, sizeof(ra));
	if (ra_ms[0]) {
		char *end;
		double ms = strtod(ra_ms, &end);
		if (end != ra_ms && ms >= 0)
			x->resp->retry_after_ms = (int64_t)ms;
	} else if (ra[0] && x->resp->retry_after_ms < 0) {
		x->resp->retry_after_ms =
			llm_http_retry_after(ra, (int64_t)time(NULL));
	}
	return n;
}

static int is_event_stream(const char *ct)
{
	return strncasecmp(ct, "text/event-stream", 17) == 0;
}

static size_t on_body(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	struct llm_http_resp *r = x->resp;
	size_t n = size * nmemb;

	x->last_rx_ns = now_ns();
	if (!x->decided) {
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r->status);
		r->streamed = x->req->stream && x->req->sink &&
			      r->status >= 200 && r->status < 300 &&
			      is_event_stream(r->content_type);
		x->decided = 1;
	}
	if (r->streamed) {
		if (x->req->sink(x->req->sink_ud, buf, n) != 0) {
			x->stop = LLM_HTTP_SINK;
			return 0;
		}
		return n;
	}
	if (r->body.len + n > MAX_BODY) {
		snprintf(r->error, sizeof(r->error),
			 "response body larger than %d MiB", MAX_BODY >> 20);
		x->stop = LLM_HTTP_TRANSPORT;
		return 0;
	}
	if (sse_buf_add(&r->body, buf, n) < 0) {
		x->stop = LLM_HTTP_NOMEM;
		return 0;
	}
	return n;
}

static struct curl_slist *make_headers(const struct llm_http_req *q)
{
	struct curl_slist *h = NULL, *n;
	static const char *const fixed[] = {
		"Content-Type: application/json",
		/* No "Expect: 100-continue" round trip for large bodies. */
		"Expect:",
	};

	for (size_t i = 0; i < sizeof(fixed) / sizeof(*fixed); i++) {
		if (!(n = curl_slist_append(h, fixed[i])))
			goto fail;
		h = n;
	}
	if (!(n = curl_slist_append(h, q->stream ? "Accept: text/event-stream"
						 : "Accept: application/json")))
		goto fail;
	h = n;
	for (size_t i = 0; i < q->n_headers; i++) {
		if (!(n = curl_slist_append(h, q->headers[i])))
			goto fail;
		h = n;
	}
	return h;
fail:
	curl_slist_free_all(h);
	return NULL;
}

static void set_options(struct xfer *x, struct curl_slist *headers)
{
	const struct llm_http_req *q = x->req;
	CURL *e = x->easy;

	curl_easy_setopt(e, CURLOPT_URL, q->url);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, q->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "sutra/" SUTRA_VERSION);
	/* Threads and signals do not mix: no SIGALRM for DNS timeouts. */
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)q->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);
	x->errbuf[0] = '\0';
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
}

/* How long to poll: the short interval, or less when a limit is near. */
static int poll_ms(const struct xfer *x)
{
	int64_t left = POLL_MS;

	if (x->req->deadline_ns) {
		int64_t d = (x->req->deadline_ns - now_ns()) / 1000000;
		if (d < left)
			left = d;
	}
	return left < 1 ? 1 : (int)left;
}

/* Runs the transfer to its end, or until should_stop says otherwise. */
static CURLcode run(struct xfer *x, CURLM *multi)
{
	CURLcode result = CURLE_OK;
	int running = 1;

	while (running) {
		CURLMcode mc = curl_multi_perform(multi, &running);
		if (mc != CURLM_OK)
			return CURLE_FAILED_INIT;
		if (x->stop == LLM_HTTP_OK)
			x->stop = should_stop(x);
		if (x->stop != LLM_HTTP_OK)
			return CURLE_ABORTED_BY_CALLBACK;
		if (running && curl_multi_poll(multi, NULL, 0, poll_ms(x),
					       NULL) != CURLM_OK)
			return CURLE_FAILED_INIT;
	}
	int left;
	CURLMsg *msg;
	while ((msg = curl_multi_info_read(multi, &left)))
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == x->easy)
			result = msg->data.result;
	return result;
}

static enum llm_http_outcome classify(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return LLM_HTTP_OK;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return LLM_HTTP_CONNECT;
	case CURLE_OUT_OF_MEMORY:
		return LLM_HTTP_NOMEM;
	case CURLE_OPERATION_TIMEDOUT:
		/* Only the connect timeout is curl's: ours abort. */
		return LLM_HTTP_CONNECT;
	default:
		return LLM_HTTP_TRANSPORT;
	}
}

static void finish(struct xfer *x, CURLcode rc)
{
	struct llm_http_resp *r = x->resp;
	double total = 0, pre = 0;
	long connects = 0;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME, &total);
	curl_easy_getinfo(x->easy, CURLINFO_PRETRANSFER_TIME, &pre);
	curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &connects);
	r->server_s = total > pre ? total - pre : 0;
	r->new_connects = connects;
	r->outcome = x->stop != LLM_HTTP_OK ? x->stop : classify(rc);
	if (r->outcome != LLM_HTTP_OK && !r->error[0])
		snprintf(r->error, sizeof(r->error), "%s",
			 x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
	/* A connection that broke after the status line is a transport
	 * failure even though a status arrived. */
	if (r->outcome == LLM_HTTP_CONNECT && r->status)
		r->outcome = LLM_HTTP_TRANSPORT;
}

int llm_http_post(const struct llm_http_req *req, struct llm_http_resp *resp)
{
	struct handles *h = thread_handles();
	struct curl_slist *headers = NULL;
	struct xfer x = {.req = req, .resp = resp};
	CURLcode rc;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after_ms = -1;
	if (!h || !(headers = make_headers(req))) {
		resp->outcome = LLM_HTTP_NOMEM;
		snprintf(resp->error, sizeof(resp->error),
			 "cannot set up libcurl");
		return -1;
	}
	x.easy = h->easy;
	x.start_ns = x.last_rx_ns = now_ns();
	/* reset keeps the connection cache (it lives in the multi). */
	curl_easy_reset(h->easy);
	set_options(&x, headers);
	if (curl_multi_add_handle(h->multi, h->easy) != CURLM_OK) {
		curl_slist_free_all(headers);
		resp->outcome = LLM_HTTP_NOMEM;
		return -1;
	}
	rc = run(&x, h->multi);
	curl_multi_remove_handle(h->multi, h->easy);
	finish(&x, rc);
	curl_slist_free_all(headers);
	return resp->outcome == LLM_HTTP_OK ? 0 : -1;
}

void llm_http_resp_free(struct llm_http_resp *resp)
{
	free(resp->body.p);
	resp->body = (struct sse_buf){0};
}

int64_t llm_http_retry_after(const char *value, int64_t now_unix_s)
{
	char *end;
	double s = strtod(value, &end);
	struct tm tm = {0};

	while (*end == ' ')
		end++;
	if (end != value && *end == '\0')
		return s >= 0 ? (int64_t)(s * 1000) : -1;
	/* An HTTP date: "Wed, 21 Oct 2015 07:28:00 GMT". */
	end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end)
		return -1;
	int64_t when = (int64_t)timegm(&tm);
	return when > now_unix_s ? (when - now_unix_s) * 1000 : 0;
}

void llm_url_redact(const char *url, char *out, size_t n)
{
	const char *scheme = strstr(url, "://");
	const char *host = scheme ? scheme + 3 : url;
	const char *path = host + strcspn(host, "/?#");
	const char *at = memchr(host, '@', (size_t)(path - host));
	size_t keep = strcspn(path, "?#");

	/* user:password@ and query strings may hold secrets. */
	snprintf(out, n, "%.*s%.*s%.*s%s", (int)(host - url), url,
		 (int)(path - (at ? at + 1 : host)), at ? at + 1 : host,
		 (int)keep, path, path[keep] ? "?..." : "");
}
