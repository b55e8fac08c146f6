/* 8005-semver: version comparison for package upgrades (semver.org). */
#include "tap.h"

#include "semver.h"

static int cmp(const char *a, const char *b)
{
	int c = 99;

	if (semver_compare(a, b, &c) < 0)
		return 99;
	return c < 0 ? -1 : c > 0;
}

static void test_valid(void)
{
	static const char *const good[] = {
		"1.0.0", "0.0.1", "1.2", "3", "1.0.0-rc.1", "1.0.0+build.5",
		"1.0.0-alpha-1.x+sha.abc", "18446744073709551615.0.0",
	};
	static const char *const bad[] = {
		"", "v1.0.0", "01.0.0", "1.02.0", "1.0.0.0", "1..0", "1.0.",
		"1.0.0-", "1.0.0+", "1.0.0-a..b", "1.0.0-ü", "1.0 ", "x",
		"18446744073709551616.0.0",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		ok(semver_valid(good[i]), "'%s' is a version", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		ok(!semver_valid(bad[i]), "'%s' is not a version", bad[i]);
	ok(!semver_valid(NULL), "NULL is not a version");
}

static void test_order(void)
{
	/* semver.org §11's example, in order. */
	static const char *const chain[] = {
		"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
		"1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1",
		"1.0.0", "1.0.1", "1.1.0", "1.9.0", "1.10.0", "2.0.0",
	};
	size_t n = sizeof(chain) / sizeof(*chain);

	for (size_t i = 0; i + 1 < n; i++) {
		is_int(cmp(chain[i], chain[i + 1]), -1, "%s < %s", chain[i],
		       chain[i + 1]);
		is_int(cmp(chain[i + 1], chain[i]), 1, "%s > %s", chain[i + 1],
		       chain[i]);
	}
	is_int(cmp("1.2", "1.2.0"), 0, "missing parts count as 0");
	is_int(cmp("1.0.0+a", "1.0.0+b"), 0, "build metadata is ignored");
	is_int(cmp("1.0.0-2", "1.0.0-10"), -1, "numeric identifiers compare "
	       "as numbers");
	is_int(cmp("1.0.0-a", "1.0.0-a.0"), -1, "fewer identifiers sort first");
	is_int(cmp("1.0.0", "nope"), 99, "an invalid version does not compare");
}

int main(void)
{
	plan_lazy();
	test_valid();
	test_order();
	done_testing();
	return exit_status();
}
