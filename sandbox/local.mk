# sandbox/: the seccomp/namespace sandbox (SPEC §8, doc/sutra-sandbox.7),
# built into the kernel library; `sutra sandbox run`; its tests (t/6xxx),
# the probe program the attack tests run inside it, and its benchmark.
libsutracore_la_SOURCES += \
	sandbox/sandbox.h sandbox/internal.h \
	sandbox/profile.c \
	sandbox/child.c \
	sandbox/runner.c \
	sandbox/files.c \
	sandbox/capture.c \
	sandbox/request.c
sutra_SOURCES += core/cmd_sandbox.c

dist_man_MANS += doc/sutra-sandbox.7

# The hostile programs the attack tests run inside the sandbox.  Built
# without sanitizers, whose shadow memory cannot live under RLIMIT_AS.
noinst_PROGRAMS += t/sbx-probe
t_sbx_probe_SOURCES = t/sbx-probe.c
t_sbx_probe_CFLAGS = -std=c11 $(WARN_CFLAGS) -O1
t_sbx_probe_LDFLAGS =
t_sbx_probe_LDADD = -lpthread
