# core/llm.mk: the LLM layer (issue 6): core/llm*.c and core/sse.c in the
# kernel library, `sutra llm`, the `llm` plugin agent of the shipped
# catalog, its tests, benchmark and man page.
# The layer is a convenience library: linked into the sutra-net.so module
# that the kernel loads on first use (core/netmod.h), and into the tests.
noinst_LTLIBRARIES += libsutranet.la
libsutranet_la_CFLAGS = $(AM_CFLAGS) $(DEP_CFLAGS)
libsutranet_la_SOURCES = \
	core/cmd_llm.c \
	core/http_fetch.c core/http_fetch.h \
	core/sse.c core/sse.h \
	core/llm.c core/llm.h core/llm_impl.h \
	core/llm_config.c \
	core/llm_request.c \
	core/llm_result.c \
	core/llm_openai.c \
	core/llm_anthropic.c \
	core/llm_http.c \
	core/llm_store.c

pkglib_LTLIBRARIES += sutra-net.la
sutra_net_la_SOURCES = core/llm_module.c
sutra_net_la_CFLAGS = $(AM_CFLAGS) $(DEP_CFLAGS)
# The kernel and SQLite come from the binary that loads the module (it
# exports them), so the process has one copy of each: two SQLites in one
# process would not see each other's POSIX locks.
sutra_net_la_LIBADD = libsutranet.la $(CURL_LIBS) $(CJSON_LIBS)
sutra_net_la_LDFLAGS = -module -avoid-version -shared

# Tests: units (7001-7003), against the fake provider (71xx), the CLI
# (72xx), agents (73xx), an independent implementation (74xx).
LLM_T_CFLAGS = $(AM_CFLAGS) $(DEP_CFLAGS) -I$(top_srcdir)/t \
	-I$(top_srcdir)/core
check_PROGRAMS += t/7001-sse.t
t_7001_sse_t_SOURCES = t/7001-sse.c
t_7001_sse_t_CFLAGS = $(LLM_T_CFLAGS)
t_7001_sse_t_LDADD = $(T_LDADD)
EXTRA_DIST += t/fakellm.py
check_PROGRAMS += t/7002-llm-units.t
t_7002_llm_units_t_SOURCES = t/7002-llm-units.c
t_7002_llm_units_t_CFLAGS = $(LLM_T_CFLAGS)
t_7002_llm_units_t_LDADD = $(T_LDADD)
check_PROGRAMS += t/7101-llm-faults.t
t_7101_llm_faults_t_SOURCES = t/7101-llm-faults.c t/fakellm.h
t_7101_llm_faults_t_CFLAGS = $(LLM_T_CFLAGS)
t_7101_llm_faults_t_LDADD = $(T_LDADD)
# Shell tests (SHELL_TESTS is t/local.mk's, defined after this file).
LLM_SHELL_TESTS = t/7201-llm-cli.t t/7301-llm-agents.t t/7302-http.t \
	t/7401-aimock.t
TESTS += $(LLM_SHELL_TESTS)
EXTRA_DIST += $(LLM_SHELL_TESTS) t/fakellm.h

# Benchmark (make bench): client overhead, connection reuse, 32 parallel.
EXTRA_PROGRAMS += bench/llm-bench
BENCH_BINS += bench/llm-bench
bench_llm_bench_SOURCES = bench/llm-bench.c t/fakellm.h
bench_llm_bench_CFLAGS = $(LLM_T_CFLAGS)
bench_llm_bench_LDADD = $(T_LDADD)

