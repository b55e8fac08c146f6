# bench/: `make bench` runs every benchmark; each prints JSON lines
# ({"bench": NAME, ...}) on stdout, collected in bench/results.jsonl.
# Areas add C benchmarks to BENCH_BINS (built on demand) and scripts
# to BENCH_SHELL (run with the build directory as the current one).

bench: all $(BENCH_BINS)
	@$(MKDIR_P) bench
	@: > bench/results.jsonl
	@for b in $(BENCH_BINS); do \
		./$$b | tee -a bench/results.jsonl || exit 1; \
	done
	@for s in $(BENCH_SHELL); do \
		SUTRA_SRCDIR='$(abs_top_srcdir)' SUTRA_BUILDDIR='$(abs_top_builddir)' \
		$(SHELL) $(top_srcdir)/$$s | tee -a bench/results.jsonl || exit 1; \
	done

CLEANFILES += bench/results.jsonl $(BENCH_BINS)
.PHONY: bench
