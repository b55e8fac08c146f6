/*
 * fakellm.h - starts t/fakellm.py (the fake provider) for C tests and
 * benchmarks, and scripts it.  Header-only, like tap.h.
 *
 *     struct fake f;
 *     if (fake_start(&f) < 0) skip_all("python3 not available");
 *     fake_script(&f, "{\"steps\": [{\"status\": 500}]}");
 *     ... f.port ...
 *     fake_stat(&f, "requests");
 *     fake_stop(&f);
 */
#ifndef SUTRA_FAKELLM_H
#define SUTRA_FAKELLM_H

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct fake {
	pid_t pid;
	int port;
	char dir[64];
};

static inline int fake_start(struct fake *f)
{
	const char *src = getenv("SUTRA_SRCDIR");
	char script[512], portfile[128];

	snprintf(f->dir, sizeof(f->dir), "/tmp/sutra-fake.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(script, sizeof(script), "%s/t/fakellm.py", src ? src : ".");
	snprintf(portfile, sizeof(portfile), "%s/port", f->dir);
	if ((f->pid = fork()) == 0) {
		execlp("python3", "python3", script, "serve", portfile,
		       (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		FILE *fp = fopen(portfile, "r");
		if (fp) {
			int ok = fscanf(fp, "%d", &f->port) == 1;
			fclose(fp);
			if (ok)
				return 0;
		}
		struct timespec ts = {0, 10 * 1000000};
		nanosleep(&ts, NULL);
		if (waitpid(f->pid, NULL, WNOHANG) == f->pid)
			return -1;
	}
	return -1;
}

static inline void fake_stop(struct fake *f)
{
	char path[128];

	if (f->pid > 0) {
		kill(f->pid, SIGTERM);
		waitpid(f->pid, NULL, 0);
	}
	snprintf(path, sizeof(path), "%s/port", f->dir);
	unlink(path);
	rmdir(f->dir);
}

static inline size_t fake_collect(char *p, size_t s, size_t n, void *ud)
{
	char **buf = ud;
	size_t old = *buf ? strlen(*buf) : 0;
	char *nb = realloc(*buf, old + s * n + 1);

	if (!nb)
		return 0;
	memcpy(nb + old, p, s * n);
	nb[old + s * n] = '\0';
	*buf = nb;
	return s * n;
}

/* GET /_what, or POST it with body; returns the new reply text. */
static inline char *fake_ctl(struct fake *f, const char *what,
			     const char *body)
{
	CURL *c = curl_easy_init();
	char url[128], *out = NULL;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/_%s", f->port, what);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fake_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(c) != CURLE_OK) {
		free(out);
		out = NULL;
	}
	curl_easy_cleanup(c);
	return out;
}

static inline void fake_script(struct fake *f, const char *json)
{
	free(fake_ctl(f, "script", json));
}

static inline void fake_reset(struct fake *f)
{
	free(fake_ctl(f, "reset", "{}"));
}

/* "requests" or "connections" so far. */
static inline int fake_stat(struct fake *f, const char *key)
{
	char *text = fake_ctl(f, "stats", NULL);
	cJSON *o = text ? cJSON_Parse(text) : NULL;
	int v = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, key));

	cJSON_Delete(o);
	free(text);
	return v;
}

/* The requests the server saw (new cJSON array). */
static inline cJSON *fake_log(struct fake *f)
{
	char *text = fake_ctl(f, "log", NULL);
	cJSON *o = text ? cJSON_Parse(text) : NULL;

	free(text);
	return o;
}

#endif
