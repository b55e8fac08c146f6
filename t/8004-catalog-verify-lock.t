#!/bin/sh
# sutra catalog verify (every package on the search path) and sutra.lock
# (written by `catalog lock`, enforced by `run` and `resume`).
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

pin() {   # pins catalog/NAME's entry in its manifest
	sed -i '/^sha256:/d' "catalog/$1/agent.yaml"
	printf 'sha256: %s\n' "$(sha256sum "catalog/$1/agent.lua" | cut -d' ' -f1)" \
		>>"catalog/$1/agent.yaml"
}

# --- verify
mkagent alpha 'return { run = function(i) return "alpha" end }'
pin alpha
mkagent beta 'return { run = function(i) return "beta:" .. (i.x or "") end }'
sutra catalog verify
is "$rc" 0 "verify of a clean search path exits 0"
is "$out" "" "and prints no problem"
like "$err" "[0-9]+ packages checked, 0 problems" "it says how many it checked"

echo '-- tampered' >>catalog/alpha/agent.lua
mkdir -p catalog/broken && printf 'name: broken\nversion: 1.0.0\nkind: lua\n' >catalog/broken/agent.yaml
mkdir -p other/beta && printf 'return { run = function( end }\n' >other/beta/agent.lua
sed 's/^name: beta/name: beta/' catalog/beta/agent.yaml >other/beta/agent.yaml
sutra --catalog other catalog verify
is "$rc" 1 "verify with problems exits 1"
like "$out" "catalog/alpha/agent\.lua: sha256 mismatch: manifest says [0-9a-f]{64}, file has [0-9a-f]{64}" "a tampered entry is one line"
like "$out" "catalog/broken/agent\.yaml:1:1: missing field 'entry'" "a broken manifest is one line"
like "$out" "other/beta/agent\.lua: does not compile" "a shadowing copy is checked too"
is "$(printf '%s\n' "$out" | wc -l)" 3 "one line per problem"
like "$err" "3 problems" "and the count"
sutra --json --catalog other catalog verify
like "$out" '"problems":\[.*"agent":"alpha","message":"[^"]*sha256 mismatch' "--json lists problems with their agent"
rm -r catalog/broken other
pin alpha

mkplugin wabi "$TEST_PLUGINS/wrongabi.so" wrongabi
chmod 644 catalog/wabi/wabi.so
mkplugin gw "$TEST_PLUGINS/good.so" plug-noop
chmod 664 catalog/gw/gw.so
sutra catalog verify
is "$rc" 1 "plugins are verified too"
like "$out" "catalog/wabi/wabi\.so: plugin ABI" "a wrong ABI is a problem"
like "$out" "catalog/gw/gw\.so: refusing plugin: writable by group or others" "a group-writable plugin is a problem"
rm -r catalog/wabi catalog/gw
sutra catalog verify
is "$rc" 0 "fixed, verify passes again"

# --- lock
mkdir -p chains
cat >chains/inner.yaml <<'Y'
name: inner
steps:
  - {id: b, agent: beta, with: {x: "in"}}
Y
cat >chains/main.yaml <<'Y'
name: main
steps:
  - {id: a, agent: alpha}
  - {id: sub, chain: inner.yaml}
  - id: each
    map: [1, 2]
    agent: echo
Y
sutra catalog lock
is "$rc" 0 "catalog lock exits 0"
like "$out" "locked 3 agents of 2 chains in sutra\.lock" "locking chains/*.yaml by default"
like "$(cat sutra.lock)" "alpha:
    version: \"1\.0\.0\"
    sha256: \"$(sha256sum catalog/alpha/agent.lua | cut -d' ' -f1)\"" "the lock pins name, version and sha256"
like "$(cat sutra.lock)" "beta:" "agents reached through a sub-chain are locked"
like "$(cat sutra.lock)" "echo:" "map steps' agents too"
sutra run chains/main.yaml
is "$rc" 0 "a run that matches the lock runs"

sutra runs
before=$out
echo '-- changed' >>catalog/beta/agent.lua
sutra run chains/main.yaml
is "$rc" 2 "a changed agent is refused by run (exit 2)"
like "$err" "agent 'beta' changed: .*catalog/beta/agent\.lua has sha256 [0-9a-f]{64} but sutra\.lock pins [0-9a-f]{64}: run 'sutra catalog lock'" "naming the agent, the file and the fix"
sutra runs
is "$out" "$before" "no run is recorded for it"
sed -i 's/^version: 1.0.0/version: 1.1.0/' catalog/alpha/agent.yaml
sutra run chains/main.yaml
is "$rc" 2 "a new version is refused"
like "$err" "agent 'alpha' is version 1\.1\.0 \(catalog/alpha\) but sutra\.lock pins 1\.0\.0" "naming both versions"

sutra catalog lock chains/main.yaml
is "$rc" 0 "lock takes chain files as arguments"
like "$out" "locked 3 agents of 1 chain in" "and counts them"
sutra run chains/main.yaml
is "$rc" 0 "after re-locking, the run goes ahead"

cat >other.yaml <<'Y'
name: other
steps:
  - {id: g, agent: greeter, with: {name: x}}
Y
sutra run other.yaml
is "$rc" 2 "an agent missing from the lock is refused"
like "$err" "agent 'greeter' is not in sutra\.lock: run 'sutra catalog lock' to pin it" "and named"
sutra run -C .. work/other.yaml
is "$rc" 0 "a project without sutra.lock is not checked"

# resume checks the lock too
cat >ask.yaml <<'Y'
name: ask
steps:
  - {id: q, ask: "go?", schema: {type: boolean}}
  - {id: a, agent: alpha}
Y
sutra catalog lock ask.yaml
sutra run ask.yaml
is "$rc" 0 "a run pauses at its question"
echo '-- changed again' >>catalog/alpha/agent.lua
pin alpha
sutra resume last --answer true
is "$rc" 2 "resume refuses a changed agent"
like "$err" "agent 'alpha' changed" "and names it"
sutra catalog lock ask.yaml
sutra resume last --answer true
is "$rc" 0 "after re-locking, resume goes ahead"

printf 'agents: [1]\n' >sutra.lock
sutra run ask.yaml
is "$rc" 2 "a malformed lock file is an error"
like "$err" "sutra\.lock: not a lock file of format 1" "naming the file"

mkagent bad 'return {}'
printf 'sha256: %064d\n' 0 >>catalog/bad/agent.yaml
printf 'name: b\nsteps:\n  - {id: x, agent: bad}\n' >bad.yaml
sutra catalog lock bad.yaml
is "$rc" 2 "lock refuses an agent that fails its own checksum"
like "$err" "agent 'bad': .*sha256 mismatch" "naming it"
sutra catalog lock nosuch.yaml
is "$rc" 2 "lock of a missing chain file fails (exit 2)"
rm -r chains
sutra catalog lock
is "$rc" 2 "lock without chains is a usage error"
like "$err" "no chain files given and none in chains/\*\.yaml" "and says so"

done_testing
