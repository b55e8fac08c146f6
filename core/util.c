/* util.c - see util.h. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double now_unix(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int parse_duration_ms(const char *text, int64_t *ms)
{
	static const struct { const char *unit; double scale; } units[] = {
		{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"", 1000},
	};
	char *end;
	double v;

	if (!text || !*text)
		return -1;
	errno = 0;
	v = strtod(text, &end);
	if (errno || end == text || v < 0 || v > 1e12)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(*units); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			*ms = (int64_t)(v * units[i].scale + 0.5);
			return 0;
		}
	}
	return -1;
}

int file_read(const char *path, char **out, size_t *len, size_t max,
	      struct sutra_err *err)
{
	size_t cap = 0, used = 0;
	char *buf = NULL;
	FILE *f;

	*out = NULL;
	if (max == 0)
		max = 64u << 20;
	if (!(f = fopen(path, "rb")))
		return err_set(err, errno == ENOENT ? SUTRA_ENOTFOUND
						    : SUTRA_ERUNTIME,
			       "%s: %s", path, strerror(errno));
	for (;;) {
		if (cap - used < 4096) {
			cap = cap ? cap * 2 : 8192;
			char *nb = realloc(buf, cap + 1);
			if (!nb) {
				err_set(err, SUTRA_ENOMEM, "out of memory");
				goto fail;
			}
			buf = nb;
		}
		size_t n = fread(buf + used, 1, cap - used, f);
		used += n;
		if (used > max) {
			err_set(err, SUTRA_EUSAGE, "%s: larger than %zu bytes",
				path, max);
			goto fail;
		}
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		err_set(err, SUTRA_ERUNTIME, "%s: read error", path);
		goto fail;
	}
	fclose(f);
	buf[used] = '\0';
	if (len)
		*len = used;
	*out = buf;
	return 0;
fail:
	fclose(f);
	free(buf);
	return -1;
}

int mkdir_p(const char *path, struct sutra_err *err)
{
	char *copy = strdup(path);

	if (!copy)
		return err_set(err, SUTRA_ENOMEM, "out of memory");
	for (char *p = copy + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(copy, 0700) != 0 && errno != EEXIST) {
			err_set(err, SUTRA_ERUNTIME, "cannot create '%s': %s",
				copy, strerror(errno));
			free(copy);
			return -1;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	free(copy);
	return 0;
}

static void to_hex(const unsigned char *md, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * n] = '\0';
}

void sha256_hex(const void *data, size_t len, char hex[65])
{
	struct sha256_ctx ctx;
	uint8_t md[SHA256_DIGEST_SIZE];

	sha256_init(&ctx);
	sha256_update(&ctx, len, data);
	sha256_digest(&ctx, sizeof(md), md);
	to_hex(md, sizeof(md), hex);
}

int sha256_file_hex(const char *path, char hex[65], struct sutra_err *err)
{
	struct sha256_ctx ctx;
	uint8_t md[SHA256_DIGEST_SIZE], buf[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return err_set(err, SUTRA_ERUNTIME, "%s: %s", path,
			       strerror(errno));
	sha256_init(&ctx);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		sha256_update(&ctx, (size_t)n, buf);
	close(fd);
	if (n < 0)
		return err_set(err, SUTRA_ERUNTIME, "%s: %s", path,
			       strerror(errno));
	sha256_digest(&ctx, sizeof(md), md);
	to_hex(md, sizeof(md), hex);
	return 0;
}

void random_id(const char *prefix, char *buf, size_t n)
{
	unsigned char rnd[8];

	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd)) {
		uint64_t x = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32);
		memcpy(rnd, &x, sizeof(rnd));
	}
	char hex[17];
	to_hex(rnd, sizeof(rnd), hex);
	snprintf(buf, n, "%s%s", prefix, hex);
}

char *path_join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = malloc(a + b + 2);

	if (!p)
		return NULL;
	memcpy(p, dir, a);
	size_t off = a;
	if (a && dir[a - 1] != '/')
		p[off++] = '/';
	memcpy(p + off, name, b + 1);
	return p;
}

char *xstrdup(const char *s, struct sutra_err *err)
{
	char *d = strdup(s ? s : "");

	if (!d)
		err_set(err, SUTRA_ENOMEM, "out of memory");
	return d;
}
