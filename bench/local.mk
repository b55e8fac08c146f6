# bench/: `make bench` runs every benchmark; each prints JSON lines
# ({"bench": NAME, ...}) on stdout, collected in bench/results.jsonl.
# Areas add C benchmarks to BENCH_BINS (and EXTRA_PROGRAMS, so automake
# writes their rules; they are built on demand) and scripts to
# BENCH_SHELL.  The names must not end in _PROGRAMS or _SCRIPTS: automake
# would take those for install primaries.  Both start empty in
# Makefile.am, so fragments included before this one can add to them.
# Benchmarks get the path of the sutra binary as their first argument.
BENCH_BINS += bench/bench_core
EXTRA_PROGRAMS += bench/bench_core
EXTRA_DIST += bench/catalog/bench-noop/agent.yaml bench/catalog/bench-sleep/agent.yaml

bench_bench_core_SOURCES = bench/bench_core.c
bench_bench_core_CFLAGS = $(AM_CFLAGS) $(DEP_CFLAGS)
bench_bench_core_LDADD = libsutracore.la $(DEP_LIBS)

# The benchmarks' own catalog: test plugins with manifests.
bench-catalog: $(TEST_PLUGINS)
	@$(MKDIR_P) bench/catalog/bench-noop bench/catalog/bench-sleep
	@cp t/plugins/good.so bench/catalog/bench-noop/bench-noop.so
	@cp t/plugins/good.so bench/catalog/bench-sleep/bench-sleep.so
	@cp $(top_srcdir)/bench/catalog/bench-noop/agent.yaml bench/catalog/bench-noop/
	@cp $(top_srcdir)/bench/catalog/bench-sleep/agent.yaml bench/catalog/bench-sleep/

BENCH_ENV = SUTRA_SRCDIR='$(abs_top_srcdir)' SUTRA_BUILDDIR='$(abs_top_builddir)' \
	SUTRA_DATA_DIR='$(abs_top_srcdir)' \
	SUTRA_CATALOG_PATH='$(abs_top_builddir)/bench/catalog:$(abs_top_builddir)/catalog'

bench: all bench-catalog $(BENCH_BINS)
	@$(MKDIR_P) bench
	@: > bench/results.jsonl
	@for b in $(BENCH_BINS); do \
		$(BENCH_ENV) ./$$b '$(abs_top_builddir)/sutra' | tee -a bench/results.jsonl || exit 1; \
	done
	@for s in $(BENCH_SHELL); do \
		$(BENCH_ENV) $(SHELL) $(top_srcdir)/$$s | tee -a bench/results.jsonl || exit 1; \
	done

CLEANFILES += bench/results.jsonl $(BENCH_BINS)
.PHONY: bench bench-catalog

# Isolation: an isolated plugin call against an in-process one, and Lua
# agents with and without limits.
BENCH_BINS += bench/isolation-bench
EXTRA_PROGRAMS += bench/isolation-bench
bench_isolation_bench_SOURCES = bench/isolation-bench.c
bench_isolation_bench_CFLAGS = $(AM_CFLAGS) $(DEP_CFLAGS)
bench_isolation_bench_LDADD = libsutracore.la $(DEP_LIBS)
bench-isolation: $(TEST_PLUGINS) $(ISOLATION_PLUGINS)
bench: bench-isolation
.PHONY: bench-isolation
