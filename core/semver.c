/* semver.c - see semver.h. */
#include "semver.h"

#include <stdint.h>
#include <string.h>

struct semver {
	uint64_t core[3];     /* major, minor, patch */
	const char *pre;      /* the prerelease after '-', or NULL */
	size_t pre_len;
};

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_ident_char(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '-';
}

/* A number without leading zeros; advances *p.  -1 if none or too big. */
static int parse_number(const char **p, uint64_t *n)
{
	const char *s = *p;

	if (!is_digit(*s) || (s[0] == '0' && is_digit(s[1])))
		return -1;
	for (*n = 0; is_digit(*s); s++) {
		uint64_t digit = (uint64_t)(*s - '0');
		if (*n > (UINT64_MAX - digit) / 10)
			return -1;
		*n = *n * 10 + digit;
	}
	*p = s;
	return 0;
}

/* Dot-separated identifiers of [0-9A-Za-z-], none empty; returns the
 * length consumed, or 0 when malformed. */
static size_t scan_idents(const char *s)
{
	size_t i = 0;

	for (;;) {
		size_t start = i;
		while (is_ident_char(s[i]))
			i++;
		if (i == start)
			return 0;
		if (s[i] != '.')
			return i;
		i++;
	}
}

static int parse(const char *text, struct semver *v)
{
	const char *p = text;
	size_t n;

	memset(v, 0, sizeof(*v));
	if (!p || parse_number(&p, &v->core[0]) < 0)
		return -1;
	for (int i = 1; i < 3 && *p == '.'; i++) {
		p++;
		if (parse_number(&p, &v->core[i]) < 0)
			return -1;
	}
	if (*p == '-') {
		if (!(n = scan_idents(p + 1)))
			return -1;
		v->pre = p + 1;
		v->pre_len = n;
		p += 1 + n;
	}
	if (*p == '+') {
		if (!(n = scan_idents(p + 1)))
			return -1;
		p += 1 + n;
	}
	return *p == '\0' ? 0 : -1;
}

static int all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return 0;
	return 1;
}

/* One prerelease identifier against another (semver §11.4). */
static int compare_ident(const char *a, size_t na, const char *b, size_t nb)
{
	int da = all_digits(a, na), db = all_digits(b, nb), c;

	if (da && db) {
		if (na != nb)   /* no leading zeros: longer is bigger */
			return na < nb ? -1 : 1;
		return memcmp(a, b, na);
	}
	if (da != db)
		return da ? -1 : 1;   /* numeric sorts first */
	c = memcmp(a, b, na < nb ? na : nb);
	return c ? c : (na > nb) - (na < nb);
}

static int compare_pre(const struct semver *a, const struct semver *b)
{
	size_t i = 0, j = 0;

	if (!a->pre || !b->pre)   /* a release is newer than a prerelease */
		return (a->pre == NULL) - (b->pre == NULL);
	while (i < a->pre_len && j < b->pre_len) {
		size_t ni = strcspn(a->pre + i, ".+"), nj = strcspn(b->pre + j, ".+");
		ni = ni > a->pre_len - i ? a->pre_len - i : ni;
		nj = nj > b->pre_len - j ? b->pre_len - j : nj;
		int c = compare_ident(a->pre + i, ni, b->pre + j, nj);
		if (c)
			return c < 0 ? -1 : 1;
		i += ni + 1;
		j += nj + 1;
	}
	return (i < a->pre_len) - (j < b->pre_len);
}

int semver_valid(const char *text)
{
	struct semver v;

	return parse(text, &v) == 0;
}

int semver_compare(const char *a, const char *b, int *cmp)
{
	struct semver va, vb;

	if (parse(a, &va) < 0 || parse(b, &vb) < 0)
		return -1;
	for (int i = 0; i < 3; i++)
		if (va.core[i] != vb.core[i]) {
			*cmp = va.core[i] < vb.core[i] ? -1 : 1;
			return 0;
		}
	*cmp = compare_pre(&va, &vb);
	return 0;
}
