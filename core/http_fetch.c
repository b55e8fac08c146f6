/*
 * http_fetch.c - ctx.http.fetch / host->http: HTTP requests from agents
 * granted `http`, to the hosts their manifest lists (part of the network
 * module, sutra-net.so).
 *
 * Request {url, method: GET, headers: {NAME: VALUE}, body: TEXT|JSON,
 * timeout: "30s", max_bytes: 10 MiB}; response {status, headers (lower-
 * case names), body, json (when the body is JSON)}.  Only http and https;
 * redirects are not followed (a 3xx comes back as it is), so a request
 * never reaches a host the manifest does not list.  The step's deadline
 * and cancellation stop a transfer at once.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent.h"
#include "catalog.h"
#include "http_fetch.h"
#include "util.h"

enum { DEFAULT_MAX_BYTES = 10 << 20, DEFAULT_TIMEOUT_MS = 30000 };

struct transfer {
	char *body;
	size_t len, max;
	int too_big;
	cJSON *headers;
	const struct agent_ctx *ctx;
};

/* Whether host matches one manifest entry: "api.example.com",
 * "*.example.com" (any subdomain), or "*" (any host). */
static int host_matches(const char *host, const char *entry)
{
	if (strcmp(entry, "*") == 0)
		return 1;
	if (strncmp(entry, "*.", 2) == 0) {
		size_t h = strlen(host), e = strlen(entry + 1);
		return h > e && strcasecmp(host + h - e, entry + 1) == 0;
	}
	return strcasecmp(host, entry) == 0;
}

static int host_allowed(const struct agent *a, const char *host)
{
	const cJSON *hosts = a ? cJSON_GetObjectItemCaseSensitive(a->manifest,
								  "hosts") : NULL;
	const cJSON *h;

	cJSON_ArrayForEach(h, hosts)
		if (cJSON_IsString(h) && host_matches(host, h->valuestring))
			return 1;
	return 0;
}

/* Parses url with curl's parser and checks scheme and host. */
static int check_url(const struct agent_ctx *ctx, const char *url,
		     struct sutra_err *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int rc = -1;

	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		err_set(err, SUTRA_EFAILED, "http: '%s' is not a URL", url);
		goto out;
	}
	if (strcmp(scheme, "http") && strcmp(scheme, "https")) {
		err_set(err, SUTRA_EPERM, "http: scheme '%s' is not allowed "
			"(http and https only)", scheme);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		err_set(err, SUTRA_EFAILED, "http: '%s' has no host", url);
		goto out;
	}
	if (!host_allowed(ctx->agent, host)) {
		err_set(err, SUTRA_EPERM, "http: host '%s' is not in the 'hosts' "
			"of %s", host,
			ctx->agent ? ctx->agent->manifest_path : "agent.yaml");
		goto out;
	}
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	struct transfer *t = ud;
	size_t len = size * n;

	if (t->len + len > t->max) {
		t->too_big = 1;
		return 0;   /* stops the transfer */
	}
	char *nb = realloc(t->body, t->len + len + 1);
	if (!nb)
		return 0;
	t->body = nb;
	memcpy(t->body + t->len, data, len);
	t->len += len;
	t->body[t->len] = '\0';
	return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
	struct transfer *t = ud;
	size_t len = size * n;
	char *colon = memchr(data, ':', len);

	if (colon && colon > data) {
		char name[128], value[2048];
		size_t nl = (size_t)(colon - data), vl = len - nl - 1;
		const char *v = colon + 1;
		while (vl && (*v == ' ' || *v == '\t')) {
			v++;
			vl--;
		}
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
			vl--;
		if (nl < sizeof(name) && vl < sizeof(value)) {
			for (size_t i = 0; i < nl; i++)
				name[i] = (char)((data[i] >= 'A' && data[i] <= 'Z')
							 ? data[i] + 32 : data[i]);
			name[nl] = '\0';
			memcpy(value, v, vl);
			value[vl] = '\0';
			cJSON_DeleteItemFromObjectCaseSensitive(t->headers, name);
			cJSON_AddStringToObject(t->headers, name, value);
		}
	}
	return len;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c,
		       curl_off_t d)
{
	const struct transfer *t = ud;

	(void)a, (void)b, (void)c, (void)d;
	return agent_should_stop(t->ctx, NULL);
}

static struct curl_slist *request_headers(const cJSON *headers)
{
	struct curl_slist *list = curl_slist_append(NULL, "Expect:");
	const cJSON *h;
	char line[4096];

	cJSON_ArrayForEach(h, headers) {
		if (!cJSON_IsString(h) || strpbrk(h->string, "\r\n:") ||
		    strpbrk(h->valuestring, "\r\n"))
			continue;   /* no header injection */
		snprintf(line, sizeof(line), "%s: %s", h->string, h->valuestring);
		list = curl_slist_append(list, line);
	}
	return list;
}

/* The body as text: a string as is, anything else as JSON. */
static char *body_text(const cJSON *body, int *is_json)
{
	*is_json = 0;
	if (!body || cJSON_IsNull(body))
		return NULL;
	if (cJSON_IsString(body))
		return strdup(body->valuestring);
	*is_json = 1;
	return cJSON_PrintUnformatted(body);
}

static int64_t timeout_ms(const cJSON *req)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(req, "timeout");
	int64_t ms = DEFAULT_TIMEOUT_MS;

	if (cJSON_IsString(t))
		parse_duration_ms(t->valuestring, &ms);
	else if (cJSON_IsNumber(t))
		ms = (int64_t)t->valuedouble;
	return ms > 0 ? ms : DEFAULT_TIMEOUT_MS;
}

static cJSON *response(long status, struct transfer *t)
{
	cJSON *r = cJSON_CreateObject(), *j;

	cJSON_AddNumberToObject(r, "status", (double)status);
	cJSON_AddItemToObject(r, "headers", t->headers);
	t->headers = NULL;
	cJSON_AddStringToObject(r, "body", t->body ? t->body : "");
	if (t->body && (j = cJSON_Parse(t->body)))
		cJSON_AddItemToObject(r, "json", j);
	return r;
}

int http_effect(struct agent_ctx *ctx, const cJSON *request, cJSON **result,
		struct sutra_err *err)
{
	const char *url = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(request, "url"));
	const char *method = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(request, "method"));
	const cJSON *max = cJSON_GetObjectItemCaseSensitive(request, "max_bytes");
	struct transfer t = {.ctx = ctx, .headers = cJSON_CreateObject(),
			     .max = cJSON_IsNumber(max) ? (size_t)max->valuedouble
							: DEFAULT_MAX_BYTES};
	struct curl_slist *hdrs = NULL;
	int is_json, rc = -1;
	char *body = NULL, errbuf[CURL_ERROR_SIZE] = "";
	CURL *e = NULL;
	long status = 0;

	*result = NULL;
	if (!url)
		return err_set(err, SUTRA_EFAILED, "http: request needs a 'url'");
	if (check_url(ctx, url, err) < 0)
		goto out;
	if (!(e = curl_easy_init())) {
		err_set(err, SUTRA_ENOMEM, "http: cannot start a transfer");
		goto out;
	}
	body = body_text(cJSON_GetObjectItemCaseSensitive(request, "body"), &is_json);
	hdrs = request_headers(cJSON_GetObjectItemCaseSensitive(request, "headers"));
	if (is_json)
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method ? method : (body ? "POST" : "GET"));
	if (body)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, &t);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms(request));
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	CURLcode cc = curl_easy_perform(e);
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		agent_should_stop(ctx, err);
		goto out;
	}
	if (t.too_big) {
		err_set(err, SUTRA_EFAILED, "http: the response of %s is larger "
			"than %zu bytes", url, t.max);
		goto out;
	}
	if (cc != CURLE_OK) {
		err_set(err, SUTRA_EFAILED, "http: %s: %s", url,
			errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	*result = response(status, &t);
	rc = 0;
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(e);
	cJSON_Delete(t.headers);
	free(t.body);
	free(body);
	return rc;
}
