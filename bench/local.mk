# bench/: `make bench` runs every benchmark; each prints JSON lines
# ({"bench": NAME, ...}) on stdout, collected in bench/results.jsonl.
# Areas add C benchmarks to BENCH_BINS (and EXTRA_PROGRAMS, so automake
# writes their rules; they are built on demand) and scripts to
# BENCH_SHELL (run with the build directory as the current one).  The
# names must not end in _PROGRAMS or _SCRIPTS: automake would take those
# for install primaries and want a BENCHdir.  Both start empty in
# Makefile.am, so fragments included before this one can add to them.

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
