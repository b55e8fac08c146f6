/*
 * llm-bench: the LLM layer's own cost against the local fake provider.
 *
 *   llm.call_overhead  median llm_chat time minus the median of a bare
 *                      keep-alive curl POST of the same request to the
 *                      same server (the server's own time plus the
 *                      loopback), non-streaming, one worker
 *   llm.connections    TCP connections the fake server saw for N calls
 *   llm.parallel_32    32 threads, one call each, server 100 ms a call
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakellm.h"
#include "llm_impl.h"
#include "util.h"

enum { CALLS = 300, THREADS = 32 };

static struct llm *llm;

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int call(void)
{
	struct llm_call_opts o = {0};
	struct sutra_err err = {0};
	cJSON *req = cJSON_Parse("{\"prompt\": \"benchmark\"}"), *r = NULL;
	int rc = llm_chat(llm, &o, req, &r, &err);

	if (rc < 0)
		fprintf(stderr, "llm-bench: %s\n", err.msg);
	cJSON_Delete(r);
	cJSON_Delete(req);
	return rc;
}

static size_t discard(char *p, size_t s, size_t n, void *ud)
{
	(void)p, (void)ud;
	return s * n;
}

/* The baseline: the same POST through a bare, reused curl handle. */
static double bare_median_us(struct fake *f)
{
	static double us[CALLS];
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: "
						       "application/json");
	char url[128];
	const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
			   "\"content\":\"benchmark\"}]}";

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/chat/completions",
		 f->port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	for (int i = 0; i < CALLS; i++) {
		int64_t t0 = now_ns();
		curl_easy_perform(c);
		us[i] = (double)(now_ns() - t0) / 1e3;
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	qsort(us, CALLS, sizeof(*us), cmp);
	return us[CALLS / 2];
}

static void overhead(struct fake *f)
{
	static double us[CALLS];
	double bare = bare_median_us(f);

	fake_reset(f);
	for (int i = 0; i < CALLS; i++) {
		int64_t t0 = now_ns();
		if (call() < 0)
			exit(1);
		us[i] = (double)(now_ns() - t0) / 1e3;
	}
	qsort(us, CALLS, sizeof(*us), cmp);
	printf("{\"bench\":\"llm.call_overhead\",\"calls\":%d,"
	       "\"median_us\":%.0f,\"llm_chat_median_us\":%.0f,"
	       "\"bare_post_median_us\":%.0f,\"llm_chat_p90_us\":%.0f}\n",
	       CALLS, us[CALLS / 2] - bare, us[CALLS / 2], bare,
	       us[CALLS * 9 / 10]);
	printf("{\"bench\":\"llm.connections\",\"calls\":%d,"
	       "\"connections\":%d}\n", CALLS, fake_stat(f, "connections"));
}

static void *worker(void *arg)
{
	int *rc = arg;

	*rc = call();
	llm_thread_done();
	return NULL;
}

static void parallel(struct fake *f)
{
	pthread_t t[THREADS];
	int rc[THREADS], failed = 0;

	fake_script(f, "{\"default\": {\"delay_ms\": 100}}");
	int64_t t0 = now_ns();
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, &rc[i]);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		failed += rc[i] != 0;
	}
	printf("{\"bench\":\"llm.parallel_32\",\"calls\":%d,\"server_ms\":100,"
	       "\"total_ms\":%.1f,\"failed\":%d}\n", THREADS,
	       (double)(now_ns() - t0) / 1e6, failed);
}

int main(void)
{
	struct fake f;
	struct sutra_err err = {0};
	char cfg[512];
	cJSON *sec;

	if (fake_start(&f) < 0) {
		fprintf(stderr, "llm-bench: cannot start t/fakellm.py\n");
		return 1;
	}
	snprintf(cfg, sizeof(cfg),
		 "{\"providers\": [{\"name\": \"b\", \"kind\": \"openai\", "
		 "\"base_url\": \"http://127.0.0.1:%d/v1\", \"model\": \"m\"}]}",
		 f.port);
	sec = cJSON_Parse(cfg);
	if (llm_open(sec, "bench", &llm, &err) < 0) {
		fprintf(stderr, "llm-bench: %s\n", err.msg);
		return 1;
	}
	cJSON_Delete(sec);
	overhead(&f);
	parallel(&f);
	llm_free(llm);
	fake_stop(&f);
	return 0;
}
