#!/bin/sh
# Lua agents: running, dropping into ./catalog, the restricted environment,
# errors, deadlines.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

sutra agent run echo --input '{"x":1}'
is "$rc" 0 "echo exits 0"
is "$out" '{"x":1}' "echo prints its input"

sutra agent run echo
is "$out" '{}' "no --input means {}"

printf '{"from":"file"}' > in.json
sutra agent run echo --input @in.json
is "$out" '{"from":"file"}' "--input @FILE reads the file"

sutra agent run echo --input @missing.json
is "$rc" 2 "--input @missing exits 2"
like "$err" 'missing.json' "and names the file"

sutra agent run echo --input '{"x":'
is "$rc" 2 "malformed --input exits 2"
like "$err" '^sutra: error: --input: invalid JSON' "with one clear line"

sutra agent run nosuch
is "$rc" 2 "unknown agent exits 2"
is "$err" "sutra: error: agent 'nosuch' not found in catalog" "and names it"

mkagent hello 'return { run = function(input, ctx) return {text = "hi " .. input.who} end }'
sutra agent list
like "$out" '^hello +1\.0\.0 +lua' "a dropped-in agent is listed"
sutra agent run hello --input '{"who":"you"}'
is "$out" '{"text":"hi you"}' "and runs"

mkagent visits 'return { run = function(input, ctx)
  local n = (ctx.memory.get("n") or 0) + 1
  ctx.memory.set("n", n)
  ctx.memory.set("last", {who = input.who, tags = ctx.json.array()})
  return {n = n, session = ctx.session}
end }' memory
sutra agent run visits --input '{"who":"a"}'
sutra agent run visits --input '{"who":"b"}'
is "$out" '{"n":2,"session":"default"}' "memory survives to the next process"
sutra memory get n
is "$out" 2 "memory get sees what the agent wrote"
sutra memory get last
is "$out" '{"tags":[],"who":"b"}' "tables and marked empty arrays round-trip"
sutra agent run visits --input '{"who":"c"}' --session s2
is "$out" '{"n":1,"session":"s2"}' "--session selects another session"

mkagent failing 'return { run = function(input, ctx)
  ctx.memory.set("written", true)
  error("kaboom")
end }' memory
sutra agent run failing
is "$rc" 1 "an agent that raises exits 1"
is "$err" "sutra: error: agent 'failing': failing/agent.lua:3: kaboom" "one clean line with file and line"
sutra memory get written
is "$rc" 1 "a failed call's memory writes are discarded"

sutra -v agent run failing
like "$err" 'stack traceback' "-v adds the traceback"

mkagent broken 'return { run = function(input, ctx) return end'
sutra agent run broken
is "$rc" 3 "a Lua syntax error exits 3"
like "$err" "^sutra: error: agent 'broken': broken/agent.lua:[0-9]+: .*expected" "and names file and line"

mkagent norun 'return { go = function() end }'
sutra agent run norun
like "$err" "must return a table with a 'run' function" "an agent without run() is explained"

mkagent sneaky 'return { run = function(input, ctx)
  local found = {}
  for _, name in ipairs({"os.execute", "io", "dofile", "loadfile", "debug", "package", "rawset", "collectgarbage"}) do
    local v = _ENV
    for part in name:gmatch("[^.]+") do v = v and v[part] end
    if v ~= nil then found[#found + 1] = name end
  end
  local f = load(string.char(27) .. "Lua")
  return {found = found, binary = f ~= nil}
end }'
sutra agent run sneaky
is "$out" '{"binary":false,"found":{}}' "no os.execute, io, debug, package or binary chunks"

mkagent globals 'helper = function() return 1 end
return { run = function(input, ctx) x = helper() return x end }'
sutra agent run globals
like "$err" "assignment to undeclared global 'x'" "globals are read-only while running"

mkagent tamper 'return { run = function(input, ctx)
  local ok1 = pcall(function() string.upper = nil end)
  local ok2 = pcall(function() getmetatable("").__index = {} end)
  return {ok1, ok2, string.upper("a")}
end }'
sutra agent run tamper
is "$out" '[false,false,"A"]' "the shared libraries are read-only"

mkagent spin 'return { run = function(input, ctx)
  while true do pcall(function() while true do end end) end
end }'
sutra agent run spin --timeout 200ms
is "$rc" 1 "an infinite loop is stopped at the deadline"
like "$err" "deadline exceeded" "even when it hides behind pcall"

mkagent caller 'return { run = function(input, ctx) return ctx.call("echo", {via = "call"}) end }' call
sutra agent run caller
is "$out" '{"via":"call"}' "ctx.call runs another agent"

mkagent nocall 'return { run = function(input, ctx) return ctx.call("echo", {}) end }'
sutra agent run nocall
like "$err" "permission 'call' not granted" "ctx.call without the permission is refused clearly"

mkagent nollm 'return { run = function(input, ctx) return ctx.llm.chat{} end }'
sutra agent run nollm
like "$err" "ctx.llm: permission 'llm' not granted" "so is ctx.llm"

mkagent recurse 'return { run = function(input, ctx) return ctx.call("recurse", {}) end }' call
sutra agent run recurse
is "$rc" 1 "runaway recursion fails"
like "$err" "nested deeper than" "and says why"

mkagent badout 'return { run = function() return {f = function() end} end }'
sutra agent run badout
like "$err" "output: cannot convert a function to JSON" "unconvertible output is explained"

mkagent libuser 'local t = require("sutra.template")
return { run = function(input, ctx) return t.render("{{a}}-{{b.c}}", input) end }'
sutra agent run libuser --input '{"a":1,"b":{"c":"x"}}'
is "$out" '"1-x"' "agents can require the sutra Lua library"

mkagent badreq 'return { run = function() return require("../../etc/passwd") end }'
sutra agent run badreq
like "$err" "invalid module name" "require refuses paths"

mkdir -p catalog/moda catalog/modb
mkagent moda 'local u = require("util") return { run = function() return u.name end }'
mkagent modb 'local u = require("util") return { run = function() return u.name end }'
echo 'return {name = "a"}' > catalog/moda/util.lua
echo 'return {name = "b"}' > catalog/modb/util.lua
mkagent both 'return { run = function(i, ctx) return {ctx.call("moda"), ctx.call("modb")} end }' call
sutra agent run both
is "$out" '["a","b"]' "two agents that ship a module of the same name each get their own"

mkagent withdefaults 'return { run = function(input) return input end }'
cat >> catalog/withdefaults/agent.yaml <<'YAML'
input:
  n: {type: integer, default: 3}
output: {type: object, required: [n]}
YAML
sutra agent run withdefaults
is "$out" '{"n":3}' "manifest input defaults are applied"
mkagent badoutput 'return { run = function() return {m = 1} end }'
printf 'output: {type: object, required: [n]}\n' >> catalog/badoutput/agent.yaml
sutra agent run badoutput
is "$rc" 1 "an output that breaks the manifest's output schema fails"
like "$err" "agent 'badoutput': output: missing field 'n'" "naming the field"

mkagent decoder 'return { run = function(input, ctx)
  local v = ctx.json.decode(input.text)
  local ok = pcall(ctx.json.decode, "{\"a\": 1} trailing")
  return {v = v, trailing = ok, back = ctx.json.decode(ctx.json.encode(v))}
end }'
sutra agent run decoder --input '{"text":"{\"k\": [1, 2.5, \"x\", null, true]}"}'
is "$out" '{"back":{"k":[1,2.5,"x",null,true]},"trailing":false,"v":{"k":[1,2.5,"x",null,true]}}' "ctx.json.decode parses, refuses trailing text, round-trips with encode"

mkagent numver 'return { run = function() return 1 end }'
sed -i 's/^version: 1.0.0$/version: 1.0/' catalog/numver/agent.yaml
sutra --json agent info numver
like "$out" '"version":"1.0"' "an unquoted version number is read as its text"

sutra agent run select --input '{"data":{"a":[]},"path":"$.a[*]"}'
is "$out" '{"value":[]}' "a wildcard with no match selects an empty list"

sutra agent run greeter --input '{}'
is "$rc" 2 "input that breaks the manifest's schema exits 2"
like "$err" "agent 'greeter': input: missing required field 'name'" "naming the field"

sutra agent run template --input '{"template":"{{ who | upper }}","vars":{"who":"x"}}'
is "$out" '{"text":"X"}' "the shipped template agent renders"
sutra agent run select --input '{"data":{"a":[1,2,3]},"path":"$.a[-1]"}'
is "$out" '{"value":3}' "the shipped select agent selects"

done_testing
