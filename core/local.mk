# core/: the kernel, as a convenience library that the sutra binary, the
# unit tests and the benchmarks link.
noinst_LTLIBRARIES += libsutracore.la
libsutracore_la_CFLAGS = $(AM_CFLAGS) $(DEP_CFLAGS)
libsutracore_la_SOURCES = \
	core/err.c core/err.h \
	core/log.c core/log.h \
	core/util.c core/util.h \
	core/ydoc.c core/ydoc.h \
	core/config.c core/config.h \
	core/schema.c core/schema.h \
	core/state.c core/state.h \
	core/memory.c core/memory.h \
	core/catalog.c core/catalog.h \
	core/semver.c core/semver.h \
	core/pkgfs.c core/pkgfs.h \
	core/pkgarchive.c core/pkgarchive.h \
	core/pkg.c core/pkg.h \
	core/lockfile.c core/lockfile.h \
	core/agent.c core/agent.h \
	core/luart.c core/luart_json.c core/luart.h \
	core/plughost.c core/plughost.h \
	core/plugproc.c core/plugproc.h core/plugproto.h \
	core/isolation.c core/isolation.h \
	core/runtime.c core/runtime.h \
	core/expr.c core/expr.h \
	core/chain.h core/chain.c core/chain_load.c core/chain_run.c core/chain_graph.c \
	core/pool.c core/pool.h \
	core/trace.c core/trace.h \
	core/runlog.c core/runlog.h core/runlog_impl.h core/runlog_batch.c \
	core/netmod.c core/netmod.h

bin_PROGRAMS += sutra
sutra_CFLAGS = $(AM_CFLAGS) $(DEP_CFLAGS)
sutra_LDADD = libsutracore.la $(KERNEL_LIBS)
# Exported so that the network module (sutra-net.so) finds the kernel and
# SQLite (configure.ac: STATIC_LDFLAGS says what else is kept private).
sutra_LDFLAGS = $(AM_LDFLAGS) -export-dynamic
sutra_SOURCES = \
	core/main.c core/cli.h core/commands.h \
	core/cmd_agent.c \
	core/cmd_catalog.c \
	core/cmd_run.c \
	core/cmd_runs.c \
	core/cmd_chain.c \
	core/cmd_memory.c \
	core/cmd_help.c \
	core/cmd_net.c

# The isolated plugins' host process (core/plugproc.h): a small program
# with nothing of the kernel but the error type and the sandbox's seccomp
# code.  Built without sanitizers, whose shadow memory cannot live under
# the RLIMIT_AS it runs with.
pkglibexec_PROGRAMS = sutra-plugin-host
sutra_plugin_host_SOURCES = core/plugin_host.c core/plugproto.h \
	sandbox/confine.c sandbox/profile.c sandbox/filters.c core/err.c
nodist_sutra_plugin_host_SOURCES = sandbox/filters-prebuilt.c
sutra_plugin_host_CFLAGS = -std=c11 $(WARN_CFLAGS) $(CJSON_CFLAGS) \
	$(SECCOMP_CFLAGS)
sutra_plugin_host_LDFLAGS = $(STATIC_LDFLAGS)
sutra_plugin_host_LDADD = $(CJSON_LIBS) $(SECCOMP_LIBS)
