#!/bin/sh
# C plugins: the host table, and every way loading can fail.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

PLUGINS=$TEST_PLUGINS

sutra agent run textstats --input '{"text":"One fish. Two fish!","top":1}'
is "$rc" 0 "the shipped textstats plugin runs"
is "$out" '{"bytes":19,"chars":19,"words":4,"lines":1,"sentences":2,"avg_word_length":3.5,"top_words":[{"word":"fish","count":2}]}' "and counts"

mkplugin pcounter "$PLUGINS/good.so" plug-counter memory
sutra agent run pcounter
is "$out" '{"n":1,"inits":1,"attempt":1}' "init ran once and the agent sees its data"
sutra agent run pcounter
is "$out" '{"n":2,"inits":1,"attempt":1}' "plugin memory writes persist"
sutra memory get plugin_n
is "$out" 2 "through the same session memory"

mkplugin caller "$PLUGINS/good.so" plug-caller call
sutra agent run caller --input '{"agent":"echo"}'
is "$out" '{"from":"plugin"}' "a plugin can call a Lua agent"
sutra agent run caller --input '{"agent":"nosuch"}'
is "$rc" 1 "calling a missing agent fails the plugin"
like "$err" "agent 'nosuch' not found" "with the host's message"

mkplugin slow "$PLUGINS/good.so" plug-slow
start=$(date +%s%N)
sutra agent run slow --timeout 100ms
end=$(date +%s%N)
is "$rc" 1 "a slow plugin is stopped at its deadline"
like "$err" "agent 'slow': deadline exceeded" "and the error says so"
ok "within a second" test $(( (end - start) / 1000000 )) -lt 1000

mkplugin failing "$PLUGINS/good.so" plug-fail
sutra agent run failing
is "$rc" 1 "a failing plugin exits 1"
is "$err" "sutra: error: agent 'failing': the plugin says no" "with its message"

mkplugin badjson "$PLUGINS/good.so" plug-badjson
sutra agent run badjson
is "$out" '"refused"' "set_output refuses text that is not JSON"

mkplugin nomem "$PLUGINS/good.so" plug-nomem
sutra agent run nomem
is "$out" '{"status":-2}' "a host function without its permission returns DENIED"

mkplugin wrongabi "$PLUGINS/wrongabi.so" wrongabi
sutra agent run wrongabi
is "$rc" 3 "a plugin with the wrong ABI exits 3"
like "$err" "catalog/wrongabi/wrongabi.so: plugin ABI 99, but this sutra speaks ABI 1" "naming the file and both ABIs"

mkplugin nosymbol "$PLUGINS/nosymbol.so" x
sutra agent run nosymbol
is "$rc" 3 "a shared object without the entry symbol exits 3"
like "$err" "nosymbol.so: not a sutra plugin: no symbol 'sutra_plugin_entry'" "and says so"

mkplugin failinit "$PLUGINS/failinit.so" failinit
sutra agent run failinit
is "$rc" 3 "a failing init exits 3"
like "$err" "init of agent 'failinit' failed: license file missing" "with the plugin's reason"

mkplugin noagent "$PLUGINS/good.so" not-there
sutra agent run noagent
like "$err" "plugin 'good' has no agent 'not-there'" "a manifest naming a missing agent is explained"

mkplugin missing "$PLUGINS/good.so" plug-fail
rm catalog/missing/missing.so
sutra agent run missing
is "$rc" 3 "a missing plugin file exits 3"
like "$err" "missing.so: cannot load plugin: No such file" "naming the file"

printf 'not an ELF file' > catalog/missing/missing.so
sutra agent run missing
like "$err" "missing.so: cannot load plugin: .*(invalid ELF|too short)" "a corrupt file gives dlerror's reason"

mkplugin writable "$PLUGINS/good.so" plug-fail
chmod 666 catalog/writable/writable.so
sutra agent run writable
is "$rc" 3 "a world-writable plugin is refused"
like "$err" "writable by group or others" "and the error says why"

# A plugin built out of tree against the installed header and .pc file.
if command -v make >/dev/null && command -v pkg-config >/dev/null; then
	make -s -C "$SUTRA_BUILDDIR" install DESTDIR="$TEST_DIR/inst" >/dev/null 2>&1
	pc=$(find "$TEST_DIR/inst" -name sutra-plugin.pc | head -n 1)
	ok "make install puts sutra-plugin.pc in place" test -n "$pc"
	cflags=$(PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$TEST_DIR/inst pkg-config --cflags sutra-plugin)
	like "$cflags" "-I$TEST_DIR/inst/.*include" "pkg-config --cflags points at the installed header"
	mkdir -p oot
	cat > oot/hello.c <<'C'
#include <sutra/plugin.h>
static int run(struct sutra_call *call)
{
	return call->host->set_output(call, "{\"hello\":\"out of tree\"}");
}
static const struct sutra_agent agents[] = {{.name = "oot", .run = run}};
static const struct sutra_plugin plugin = {
	SUTRA_PLUGIN_INIT, .name = "oot", .version = "0.1.0",
	.agents = agents, .n_agents = 1,
};
SUTRA_PLUGIN_EXPORT const struct sutra_plugin *sutra_plugin_entry(void)
{
	return &plugin;
}
C
	cc -std=c11 -Wall -Wextra -Werror -shared -fPIC $cflags -o oot/oot.so oot/hello.c
	ok "the plugin compiles with only the installed header" test -f oot/oot.so
	mkplugin oot oot/oot.so oot
	sutra agent run oot
	is "$out" '{"hello":"out of tree"}' "and loads and runs"
else
	skip "make or pkg-config missing"
fi

done_testing
