# sandbox/: the seccomp/namespace sandbox (SPEC §8, doc/sutra-sandbox.7),
# built into the kernel library; `sutra sandbox run`; its tests (t/6xxx),
# the probe program the attack tests run inside it, and its benchmark.
libsutracore_la_SOURCES += \
	sandbox/sandbox.h sandbox/internal.h \
	sandbox/profile.c \
	sandbox/filters.c \
	sandbox/confine.c \
	sandbox/child.c \
	sandbox/runner.c \
	sandbox/super.c \
	sandbox/files.c \
	sandbox/capture.c \
	sandbox/request.c \
	sandbox/pool.c
nodist_libsutracore_la_SOURCES = sandbox/filters-prebuilt.c
sutra_SOURCES += core/cmd_sandbox.c

# The seccomp filters, compiled at build time by the code that would
# compile them at run time (sandbox/filters.c says why).
noinst_PROGRAMS += sandbox/mkfilters
sandbox_mkfilters_SOURCES = sandbox/mkfilters.c sandbox/profile.c core/err.c
sandbox_mkfilters_CFLAGS = $(AM_CFLAGS) $(SECCOMP_CFLAGS) $(CJSON_CFLAGS)
sandbox_mkfilters_LDADD = $(SECCOMP_LIBS)
BUILT_SOURCES = sandbox/filters-prebuilt.c
CLEANFILES += sandbox/filters-prebuilt.c
sandbox/filters-prebuilt.c: sandbox/mkfilters$(EXEEXT)
	$(AM_V_GEN)sandbox/mkfilters$(EXEEXT) > $@.tmp && mv $@.tmp $@

# The hostile programs the attack tests run inside the sandbox.  Built
# without sanitizers, whose shadow memory cannot live under RLIMIT_AS.
noinst_PROGRAMS += t/sbx-probe
t_sbx_probe_SOURCES = t/sbx-probe.c
t_sbx_probe_CFLAGS = -std=c11 $(WARN_CFLAGS) -O1
t_sbx_probe_LDFLAGS =
t_sbx_probe_LDADD = -lpthread

# Tests: a C unit test, the CLI, the attack tests (each probe with
# namespaces and in forced degraded mode) and the agents.
check_PROGRAMS += t/6002-sandbox-unit.t
t_6002_sandbox_unit_t_SOURCES = t/6002-sandbox-unit.c
t_6002_sandbox_unit_t_CFLAGS = $(AM_CFLAGS) $(DEP_CFLAGS) -I$(top_srcdir)/t
t_6002_sandbox_unit_t_LDADD = libsutracore.la $(DEP_LIBS)
check_PROGRAMS += t/6003-sandbox-pool.t
t_6003_sandbox_pool_t_SOURCES = t/6003-sandbox-pool.c
t_6003_sandbox_pool_t_CFLAGS = $(AM_CFLAGS) $(DEP_CFLAGS) -I$(top_srcdir)/t
t_6003_sandbox_pool_t_LDADD = libsutracore.la $(DEP_LIBS)

SANDBOX_TESTS = \
	t/6001-sandbox-cli.t \
	t/6101-sandbox-resources.t \
	t/6102-sandbox-files.t \
	t/6103-sandbox-processes.t \
	t/6104-sandbox-syscalls.t \
	t/6201-sandbox-agents.t
TESTS += $(SANDBOX_TESTS)
EXTRA_DIST += $(SANDBOX_TESTS) t/sandbox.sh


# `make bench`: the sandbox's costs as JSON lines.
BENCH_BINS += bench/sandbox-bench
EXTRA_PROGRAMS += bench/sandbox-bench
bench_sandbox_bench_SOURCES = bench/sandbox-bench.c
bench_sandbox_bench_CFLAGS = $(AM_CFLAGS) $(DEP_CFLAGS)
bench_sandbox_bench_LDADD = libsutracore.la $(DEP_LIBS)
