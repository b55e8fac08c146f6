#!/bin/sh
# Lua agents' instruction and memory limits: from the manifest, for every
# package of the user catalog, and within the caps of sutra.yaml.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

# mklimited NAME LUA LIMITS: a Lua agent whose manifest has limits.
mklimited() {
	mkagent "$1" "$2"
	echo "limits: $3" >>"catalog/$1/agent.yaml"
}

BOMB='return { run = function()
  local t = {}
  for i = 1, 1e9 do t[i] = string.rep("x", 100) .. i end
end }'
BUSY='return { run = function() local n = 0 while true do n = n + 1 end end }'
SUM='return { run = function(input)
  local n = 0
  for i = 1, input.n do n = n + i end
  return n
end }'

mklimited bomb "$BOMB" '{memory_mb: 16}'
sutra agent run bomb
is "$rc" 1 "a memory bomb fails"
is "$err" "sutra: error: agent 'bomb': memory limit of 16 MiB exceeded (limits.memory_mb in catalog/bomb/agent.yaml)" "with a clear error"

mklimited busy "$BUSY" '{instructions: 1000000}'
start=$(date +%s%N)
sutra agent run busy
end=$(date +%s%N)
is "$rc" 1 "an endless loop fails at its instruction limit"
is "$err" "sutra: error: agent 'busy': instruction limit of 1000000 exceeded (limits.instructions in catalog/busy/agent.yaml)" "naming the limit"
ok "quickly" test $(( (end - start) / 1000000 )) -lt 2000

mklimited swallow 'return { run = function()
  local ok1 = pcall(function() local t = {} for i = 1, 1e9 do t[i] = {i} end end)
  local ok2 = pcall(function() while true do end end)
  return {ok1, ok2}
end }' '{memory_mb: 8, instructions: 5000000}'
sutra agent run swallow
like "$err" "agent 'swallow': memory limit of 8 MiB exceeded" "pcall cannot swallow the memory limit"
mklimited swallow2 'return { run = function()
  local ok = pcall(function() while true do end end)
  return ok
end }' '{instructions: 100000}'
sutra agent run swallow2
like "$err" "agent 'swallow2': instruction limit of 100000 exceeded" "nor the instruction limit"

mklimited sum "$SUM" '{instructions: 10000000, memory_mb: 32}'
sutra agent run sum --input '{"n":1000}'
is "$out" 500500 "an agent within its limits runs"

# The thread's Lua state is shared: a failed limited call leaves it
# usable for the next agents, limited or not.
mkagent grow 'return { run = function()
  local t = {}
  for i = 1, 200000 do t[i] = {i} end
  return #t
end }'
cat > after.yaml <<'Y'
name: after
steps:
  - {id: bomb, agent: bomb, on_error: continue}
  - {id: busy, agent: busy, on_error: continue}
  - {id: grow, agent: grow}
  - {id: sum, agent: sum, with: {n: 10}}
output: {grow: "${{ steps.grow.output }}", sum: "${{ steps.sum.output }}", s: ["${{ steps.bomb.status }}", "${{ steps.busy.status }}"]}
Y
sutra run after.yaml
is "$out" '{"grow":200000,"sum":55,"s":["failed","failed"]}' "after limits fail their steps, the state runs other agents"

# ------------------------------------------------- the user catalog

USER_CAT=$XDG_DATA_HOME/sutra/catalog
mkdir -p "$USER_CAT/ubusy"
printf '%s\n' "$BUSY" > "$USER_CAT/ubusy/agent.lua"
printf 'name: ubusy\nversion: 1.0.0\nkind: lua\nentry: agent.lua\n' > "$USER_CAT/ubusy/agent.yaml"
printf 'lua: {max_instructions: 200000}\n' > sutra.yaml
sutra agent run ubusy
is "$rc" 1 "a user-catalog agent runs limited without asking"
like "$err" "instruction limit of 200000 exceeded" "within the cap of sutra.yaml"

mkagent projsum "$SUM"
sutra agent run projsum --input '{"n":100000}'
is "$out" 5000050000 "project agents without limits are not limited"

mklimited greedy "$SUM" '{instructions: 1000000000}'
sutra agent run greedy --input '{"n":1000000}'
like "$err" "instruction limit of 200000 exceeded" "a manifest cannot ask for more than the cap"

printf 'lua: {max_memory_mb: 4}\n' > sutra.yaml
sutra agent run bomb
like "$err" "memory limit of 4 MiB exceeded" "the memory cap clamps the manifest's limit"

printf 'packages:\n  projsum: {limits: {instructions: 50000}}\n' > sutra.yaml
sutra agent run projsum --input '{"n":100000}'
like "$err" "agent 'projsum': instruction limit of 50000 exceeded" "sutra.yaml can limit a package"

printf 'lua: {max_instructions: -1}\n' > sutra.yaml
sutra agent run sum --input '{"n":1}'
is "$rc" 2 "a bad cap is a usage error"
like "$err" "sutra.yaml: lua.max_instructions must be a positive whole number" "naming the setting"
rm sutra.yaml

mklimited badlimit "$SUM" '{cpu: 5}'
sutra agent run badlimit
like "$err" "catalog/badlimit/agent.yaml:7:9: unknown limit 'cpu' \(expected instructions or memory_mb\)" "an unknown limit is a manifest problem with its position"
mklimited badvalue "$SUM" '{memory_mb: lots}'
sutra agent run badvalue
like "$err" "limit 'memory_mb' must be a positive whole number" "a bad value too"

done_testing
