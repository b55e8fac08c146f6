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

# The peer, LangGraph.js, measured on this machine (needs node and npm;
# skips cleanly without): bench/peer.jsonl.  Not part of `make bench`.
bench-peer:
	@$(MKDIR_P) bench
	@$(BENCH_ENV) PEER_OUT=bench/peer.jsonl $(SHELL) $(top_srcdir)/bench/peer.sh

# callgrind profiles of the hot paths (needs valgrind): bench/profile.txt.
bench-profile: all bench-catalog bench/bench_core
	@$(BENCH_ENV) $(SHELL) $(top_srcdir)/bench/profile.sh \
		'$(abs_top_builddir)/sutra' '$(abs_top_builddir)/bench/bench_core'

# bench/REPORT.md: every figure beside its target and the peer's, with an
# SVG plot.  Needs python3 only (the plot is drawn as SVG by
# bench/report.py; gnuplot is not used).  BENCH_ROUNDS runs of `make
# bench` are pooled (the report takes the median of each figure: on a busy
# machine one round can be unlucky).  The report is committed, so by
# default it is written into the source tree; REPORT_DIR=bench keeps it in
# the build directory.
REPORT_DIR = $(top_srcdir)/bench
BENCH_ROUNDS = 1
bench-report: all
	@: > bench/results-rounds.jsonl
	@i=0; while [ $$i -lt $(BENCH_ROUNDS) ]; do \
		$(MAKE) $(AM_MAKEFLAGS) bench || exit 1; \
		cat bench/results.jsonl >> bench/results-rounds.jsonl; \
		$(SHELL) $(top_srcdir)/bench/load.sh >> bench/results-rounds.jsonl; \
		i=$$((i + 1)); \
	done
	-@$(MAKE) $(AM_MAKEFLAGS) bench-peer
	-@$(MAKE) $(AM_MAKEFLAGS) bench-profile
	@$(BENCH_ENV) $(SHELL) $(top_srcdir)/bench/report.sh \
		-r bench/results-rounds.jsonl -p bench/peer.jsonl \
		-f bench/profile.txt -o '$(REPORT_DIR)'

EXTRA_DIST += bench/load.sh bench/peer.sh bench/profile.sh bench/report.sh bench/report.py \
	bench/profile-notes.md bench/REPORT.md bench/per-step.svg \
	bench/report-results.jsonl bench/report-peer.jsonl bench/report-profile.txt
CLEANFILES += bench/results.jsonl bench/results-rounds.jsonl \
	bench/peer.jsonl bench/profile.txt \
	$(BENCH_BINS)
.PHONY: bench bench-catalog bench-peer bench-profile bench-report

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
