# t/: TAP tests.  C unit tests are built as t/NNNN-name.t programs; shell
# tests are t/NNNN-name.t scripts.  Areas: 0 harness, 1 kernel, 2 plugin
# ABI, 3 Lua, 4 chains, 5 memory, 6 sandbox, 7 llm, 8 catalog, 9 end to end.
EXTRA_DIST += t/tap.h t/lib.sh t/summary.sh t/data/state-v1.sql

T_CFLAGS = $(AM_CFLAGS) $(DEP_CFLAGS) -I$(top_srcdir)/t
T_LDADD = libsutranet.la libsutracore.la $(DEP_LIBS)

check_PROGRAMS += t/1001-util.t
t_1001_util_t_SOURCES = t/1001-util.c
t_1001_util_t_CFLAGS = $(T_CFLAGS)
t_1001_util_t_LDADD = $(T_LDADD)

check_PROGRAMS += t/5003-state-units.t
t_5003_state_units_t_SOURCES = t/5003-state-units.c
t_5003_state_units_t_CFLAGS = $(T_CFLAGS)
t_5003_state_units_t_LDADD = $(T_LDADD)

check_PROGRAMS += t/8005-semver.t
t_8005_semver_t_SOURCES = t/8005-semver.c
t_8005_semver_t_CFLAGS = $(T_CFLAGS)
t_8005_semver_t_LDADD = $(T_LDADD)

SHELL_TESTS = \
	t/0002-docs.t \
	t/1101-cli.t \
	t/3001-lua-agent.t \
	t/4001-chain.t \
	t/4002-chain-validate.t \
	t/4003-chain-concurrency.t \
	t/4004-chain-big.t \
	t/4101-durable.t \
	t/4102-durable-batch.t \
	t/5001-memory.t \
	t/5002-state.t \
	t/2001-plugin.t \
	t/2101-isolation.t \
	t/3101-lua-limits.t \
	t/8001-catalog.t \
	t/8002-catalog-install.t \
	t/8003-catalog-tarball.t \
	t/8004-catalog-verify-lock.t \
	t/9001-selfheal.t

TESTS += $(check_PROGRAMS) $(SHELL_TESTS)
EXTRA_DIST += $(SHELL_TESTS)

# Test plugins, built like any out-of-tree plugin.
TEST_PLUGINS = t/plugins/good.so t/plugins/wrongabi.so t/plugins/nosymbol.so \
	t/plugins/failinit.so
check_DATA = $(TEST_PLUGINS)
CLEANFILES += $(TEST_PLUGINS)
EXTRA_DIST += $(TEST_PLUGINS:.so=.c)

t/plugins/good.so: t/plugins/good.c include/sutra/plugin.h
t/plugins/wrongabi.so: t/plugins/wrongabi.c include/sutra/plugin.h
t/plugins/nosymbol.so: t/plugins/nosymbol.c
t/plugins/failinit.so: t/plugins/failinit.c include/sutra/plugin.h
$(TEST_PLUGINS):
	@$(MKDIR_P) $(@D)
	$(AM_V_CC)$(CC) $(PLUGIN_CFLAGS) -o $@ $(top_srcdir)/$(@:.so=.c) \
		$(PLUGIN_LINK_FLAGS)

# Plugins for the isolation tests, built without sanitizers like the
# plugin host that loads them (core/local.mk): bad.so misbehaves in every
# way, plain.so is good.c for the host-function proxy, plain-wrongabi.so
# is wrongabi.c.
PLAIN_PLUGIN_CFLAGS = -std=c11 $(WARN_CFLAGS) $(CFLAGS) -shared -fPIC \
	-I$(top_srcdir)/include
ISOLATION_PLUGINS = t/plugins/bad.so t/plugins/plain.so \
	t/plugins/plain-wrongabi.so
check_DATA += $(ISOLATION_PLUGINS)
CLEANFILES += $(ISOLATION_PLUGINS)
EXTRA_DIST += t/plugins/bad.c
t/plugins/bad.so: t/plugins/bad.c include/sutra/plugin.h
	@$(MKDIR_P) $(@D)
	$(AM_V_CC)$(CC) $(PLAIN_PLUGIN_CFLAGS) -o $@ $(top_srcdir)/t/plugins/bad.c
t/plugins/plain.so: t/plugins/good.c include/sutra/plugin.h
	@$(MKDIR_P) $(@D)
	$(AM_V_CC)$(CC) $(PLAIN_PLUGIN_CFLAGS) -o $@ $(top_srcdir)/t/plugins/good.c
t/plugins/plain-wrongabi.so: t/plugins/wrongabi.c include/sutra/plugin.h
	@$(MKDIR_P) $(@D)
	$(AM_V_CC)$(CC) $(PLAIN_PLUGIN_CFLAGS) -o $@ \
		$(top_srcdir)/t/plugins/wrongabi.c
