#!/bin/sh
# Process isolation of plugins (`isolation: process`): the host-function
# proxy, the sandbox around the child, and every way a plugin can die
# failing only its own call.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

# The plugin host runs plugins built without sanitizers (t/local.mk).
BAD=$TEST_PLUGINS/bad.so
PLAIN=$TEST_PLUGINS/plain.so

# mkiso PKG SOFILE AGENT [PERMISSIONS [MEMORY_MB]]: an isolated plugin.
mkiso() {
	mkplugin "$1" "$2" "$3" "${4:-}"
	echo "isolation: process" >>"catalog/$1/agent.yaml"
	[ -n "${5:-}" ] && echo "limits: {memory_mb: $5}" >>"catalog/$1/agent.yaml"
	return 0
}

# ------------------------------------------------------ the proxy

mkiso icounter "$PLAIN" plug-counter memory
sutra agent run icounter
is "$out" '{"n":1,"inits":1,"attempt":1}' "an isolated plugin runs, init ran in its process"
sutra agent run icounter
is "$out" '{"n":2,"inits":1,"attempt":1}' "memory_get and memory_set go through the proxy"
sutra memory get plugin_n
is "$out" 2 "into the same session memory"

mkiso icaller "$PLAIN" plug-caller call
sutra agent run icaller --input '{"agent":"echo"}'
is "$out" '{"from":"plugin"}' "call_agent through the proxy runs a Lua agent"
sutra agent run icaller --input '{"agent":"nosuch"}'
is "$rc" 1 "a failing call_agent fails the isolated plugin"
like "$err" "agent 'nosuch' not found" "with the host's message"
sutra agent run icaller --input '{"agent":"icaller"}'
like "$err" "isolated agent cannot call itself" "an isolated agent calling itself fails instead of waiting for itself"

mkiso inomem "$PLAIN" plug-nomem
sutra agent run inomem
is "$out" '{"status":-2}' "permissions are checked in sutra: DENIED through the proxy"

mkiso ierrok "$PLAIN" plug-errok
sutra agent run ierrok
like "$err" "agent 'ierrok': said no, returned 0" "host->error crosses the pipe"

mkiso ibadjson "$PLAIN" plug-badjson
sutra agent run ibadjson
is "$out" '"refused"' "set_output still refuses text that is not JSON"

mkiso islow "$PLAIN" plug-slow
start=$(date +%s%N)
sutra agent run islow --timeout 100ms
end=$(date +%s%N)
is "$rc" 1 "a polite plugin polling cancelled() stops at the deadline"
like "$err" "deadline exceeded" "and says so"
ok "within a second" test $(( (end - start) / 1000000 )) -lt 1000

# ------------------------------------------------------ the sandbox

mkiso iprobe "$BAD" bad-probe
sutra agent run iprobe
like "$out" '"socket":"Operation not permitted"' "no sockets, so no network"
like "$out" '"fork":"Operation not permitted"' "no new processes"
like "$out" '"exec":"Operation not permitted"' "no exec"
if [ "$(id -u)" = 0 ]; then
	like "$out" '"uid":65534' "root is dropped to nobody"
else
	skip "not root: no uid drop to see"
fi

mkiso iptrace "$BAD" bad-ptrace
sutra agent run iptrace
is "$rc" 1 "a forbidden system call fails the call"
like "$err" "catalog/iptrace/iptrace.so: plugin process made a forbidden system call and was killed: SIGSYS" "naming the file and the signal"

mkiso iexit "$BAD" bad-exit
sutra agent run iexit
like "$err" "iexit.so: plugin process exited with status 7" "a plugin calling exit() is reported"

# The same package, isolated only because sutra.yaml says so.
mkplugin forced "$BAD" bad-probe
sutra agent run forced
like "$out" '"socket":"allowed","fork":"allowed","exec":"No such file' "without isolation the plugin runs unconfined in sutra's process"
printf 'packages:\n  forced: {isolation: process}\n' > sutra.yaml
sutra agent run forced
like "$out" '"socket":"Operation not permitted"' "sutra.yaml forces process isolation for a package"
printf 'packages:\n  echo: {isolation: process}\n' > sutra.yaml
sutra agent run forced
is "$rc" 2 "forcing process isolation on a Lua agent is a usage error"
like "$err" "packages.echo.isolation: 'echo' is a Lua agent" "naming the setting"
rm sutra.yaml

# ------------------------------------------------- loading failures

mkiso iabi "$TEST_PLUGINS/plain-wrongabi.so" wrongabi
sutra agent run iabi
is "$rc" 3 "an isolated plugin with the wrong ABI exits 3"
like "$err" "catalog/iabi/iabi.so: plugin ABI 99, but this sutra speaks ABI 1" "with the in-process loader's message"

mkiso imissing "$BAD" no-such-agent
sutra agent run imissing
like "$err" "plugin 'bad' has no agent 'no-such-agent'" "a missing agent is explained"

mkiso iwritable "$BAD" bad-ok
chmod 666 catalog/iwritable/iwritable.so
sutra agent run iwritable
like "$err" "writable by group or others" "a writable plugin file is refused before any process starts"

mkdir -p catalog/luaiso
printf 'return { run = function() return 1 end }\n' > catalog/luaiso/agent.lua
printf 'name: luaiso\nversion: 1.0.0\nkind: lua\nentry: agent.lua\nisolation: process\n' > catalog/luaiso/agent.yaml
sutra agent run luaiso
like "$err" "agent.yaml:5:12: isolation 'process' is for plugins" "isolation: process on a Lua agent is a manifest problem"

# ---------------------- crashes fail one step; the next call works again

mkiso maybe "$BAD" bad-maybe "" 64
sutra agent info maybe
like "$out" 'isolation +process' "agent info shows the isolation"
like "$out" 'limits +\{"memory_mb":64\}' "and the process's memory limit"
cat > crashes.yaml <<'Y'
name: crashes
steps:
  - {id: ok1, agent: maybe}
  - {id: ok2, agent: maybe}
  - {id: segv, agent: maybe, with: {do: segv}, on_error: continue}
  - {id: ok3, agent: maybe}
  - {id: abort, agent: maybe, with: {do: abort}, on_error: continue}
  - {id: ok4, agent: maybe}
  - {id: leak, agent: maybe, with: {do: leak}, on_error: continue}
  - {id: ok5, agent: maybe}
  - {id: spin, agent: maybe, with: {do: spin}, timeout: 300ms, on_error: continue}
  - {id: ok6, agent: maybe}
output:
  reused: "${{ steps.ok1.output.pid == steps.ok2.output.pid }}"
  restarted: "${{ steps.ok2.output.pid ~= steps.ok3.output.pid }}"
  ok: ["${{ steps.ok3.output.ok }}", "${{ steps.ok4.output.ok }}", "${{ steps.ok5.output.ok }}", "${{ steps.ok6.output.ok }}"]
  status: ["${{ steps.segv.status }}", "${{ steps.abort.status }}", "${{ steps.leak.status }}", "${{ steps.spin.status }}"]
  segv: "${{ steps.segv.error }}"
  abort: "${{ steps.abort.error }}"
  leak: "${{ steps.leak.error }}"
  spin: "${{ steps.spin.error }}"
Y
sutra run crashes.yaml
is "$rc" 0 "the chain survives a segfault, an abort, a leak and a hang"
like "$out" '"reused":true' "one child serves consecutive calls"
like "$out" '"restarted":true' "a new child serves the call after a crash"
like "$out" '"ok":\[true,true,true,true\]' "every call after a death works again"
like "$out" '"status":\["failed","failed","failed","timeout"\]' "crashes fail their step; a hang times out"
like "$out" "\"segv\":\"[^\"]*agent 'maybe': [^\"]*catalog/maybe/maybe.so: plugin process died: SIGSEGV\"" "a segfault is named with the file"
like "$out" '"abort":"[^"]*maybe.so: plugin process died: SIGABRT"' "an abort too"
like "$out" '"leak":"[^"]*maybe.so: plugin process exceeded its memory limit \(64 MiB\) and died: SIGSEGV"' "a leak is reported as the memory limit"
like "$out" '"spin":"[^"]*maybe.so: plugin process killed: [^"]*"' "a hang is killed at the step's deadline"

start=$(date +%s%N)
sutra agent run maybe --input '{"do":"spin"}' --timeout 200ms
end=$(date +%s%N)
is "$rc" 1 "agent run: a spinning plugin is killed at --timeout"
ok "promptly" test $(( (end - start) / 1000000 )) -lt 2000

# No plugin process outlives sutra.
sleep 0.2
left=$(ps -eo args | grep -c '^[^ ]*sutra-plugin-host .*/catalog/')
is "$left" 0 "every plugin process is gone when sutra exits"

done_testing
