#!/bin/sh
# Durable runs: checkpoints, resume after kill -9 with exactly-once memory,
# the journal replayed on resume, replay and its divergences, ask steps.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"


# append: adds v to a list in memory (a duplicate would show), after a
# little work so that kills land inside steps too.
mkagent append 'return { run = function(input, ctx)
  local t = os.clock()
  while os.clock() - t < 0.002 do end
  local key = input.key or "log"
  local list = ctx.memory.get(key) or ctx.json.array()
  list[#list + 1] = input.v
  ctx.memory.set(key, list)
  return #list
end }' memory

cat > crash.yaml <<'Y'
name: crash
steps:
  - {id: s1, agent: append, with: {v: s1}}
  - {id: s2, agent: append, with: {v: s2}}
  - id: par
    parallel:
      - {id: p1, agent: append, with: {v: p1, key: lp1}}
      - {id: p2, agent: append, with: {v: p2, key: lp2}}
      - {id: p3, agent: append, with: {v: p3, key: lp3}}
  - id: loop
    loop: {until: "loop.iteration >= 6", max: 6}
    steps: [{id: l, agent: append, with: {v: "l${{ loop.iteration }}"}}]
  - id: each
    map: "${{ {'a', 'b', 'c'} }}"
    agent: append
    with: {v: "m${{ item }}", key: "lm${{ item }}"}
  - {id: last, agent: append, with: {v: end}}
output: {n: "${{ steps.last.output }}", loop: "${{ steps.loop.output }}"}
Y

sutra run crash.yaml --session ref
is "$rc" 0 "the reference run finishes"
ref_out=$out
sutra memory export --session ref
ref_mem=$(printf '%s' "$out" | json 'json.dumps(d["memory"], sort_keys=True)')
like "$ref_mem" '"log": \["s1", "s2", "l1", "l2", "l3", "l4", "l5", "l6", "end"\]' "and writes its log once"

sutra runs
like "$out" "crash +ref +ok" "runs list shows the run"

# Kill -9 at random instants, resume, and compare with the reference.
crash_runs 50 crash 32 crash.yaml
is "$good" 50 "50 runs killed at random instants resume to exactly the memory and output of an uninterrupted run"
ok "... $cut of them killed mid-run" [ "$cut" -ge 15 ]
# The same in batch mode: a kill loses the open batch, whose steps run
# again on resume; none of their memory writes is applied twice.
crash_runs 25 bcrash 32 crash.yaml --durability batch
is "$good" 25 "25 batch-mode runs killed at random instants resume to the same memory and output"
ok "... $cut of them killed mid-run" [ "$cut" -ge 8 ]

# A step interrupted mid-way replays its journaled calls on resume.
mkplugin counter_fx "$TEST_PLUGINS/good.so" plug-count
mkagent slowcall 'return { run = function(input, ctx)
  local r = ctx.call("counter_fx", {file = input.file})
  local t = os.clock()
  while os.clock() - t < 1.5 do end
  return r
end }' call
cat > journal.yaml <<'Y'
name: journal
inputs: {file: string}
steps:
  - {id: work, agent: slowcall, with: {file: "${{ inputs.file }}"}}
Y
"$SUTRA_BIN" run journal.yaml -i file="$PWD/calls.txt" >/dev/null 2>&1 &
pid=$!
i=0
while [ ! -s calls.txt ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
sleep 0.2
kill -9 $pid
wait $pid 2>/dev/null
is "$(wc -l < calls.txt)" 1 "the external effect ran once before the kill"
sutra resume last
is "$rc" 0 "the interrupted step resumes"
is "$out" '"counted"' "with the journaled result"
is "$(wc -l < calls.txt)" 1 "and the effect is not paid again"

sutra replay last
is "$rc" 0 "replay of the run finds no divergence"
like "$out" '"divergences":\[\]' "and says so"
is "$(wc -l < calls.txt)" 1 "replay runs offline: the effect is not repeated"

# Change the agent so it asks differently: replay reports where.
mkagent slowcall 'return { run = function(input, ctx)
  return ctx.call("counter_fx", {file = input.file .. ".other"})
end }' call
sutra replay last
is "$rc" 1 "a replay that diverges exits 1"
like "$out" '"step":"work","divergence":"attempt 1, effect 1: the call request differs' "naming the step and the position"
like "$err" "replay of run_[0-9a-f]+ diverged" "and says so on stderr"

# ask: the run pauses, resume --answer checks the schema and goes on.
cat > ask.yaml <<'Y'
name: ask
steps:
  - {id: a, agent: append, with: {v: before, key: ask}}
  - id: approve
    ask: "Deploy ${{ steps.a.output }} things?"
    schema: {type: boolean}
  - {id: b, agent: append, with: {v: after, key: ask}, if: "steps.approve.output == true"}
output: {approved: "${{ steps.approve.output }}", n: "${{ steps.b.output }}"}
Y
sutra run ask.yaml
is "$rc" 0 "a run that asks exits 0"
like "$out" '"status":"waiting","step":"approve","question":"Deploy 1 things\?"' "and prints the question"
like "$err" "answer with: sutra resume run_[0-9a-f]+ --answer JSON" "and how to answer"
sutra runs
like "$out" "ask +default +waiting" "runs list shows it waiting"
sutra resume last
is "$rc" 2 "resume without an answer explains and exits 2"
sutra resume last --answer '"yes"'
is "$rc" 2 "an answer that breaks the schema exits 2"
like "$err" "--answer: expected boolean, got string" "naming the problem"
sutra resume last --answer true
is "$rc" 0 "a good answer continues the run"
is "$out" '{"approved":true,"n":2}' "past the question"
sutra memory get ask
is "$out" '["before","after"]' "and the step before the question did not run twice"
sutra resume last
like "$err" "has already finished" "resuming a finished run says so"

# runs show: the timeline, and the event log.
sutra runs show last
like "$out" "status +ok" "runs show prints the run"
like "$out" "approve +waiting +attempt 1" "and each step attempt, the question"
like "$out" "approve +ok +attempt 2" "and the answer"
sutra runs show last --events
like "$out" '"event":"step.waiting"' "--events prints the event log as JSON lines"
like "$out" '"event":"step.answered"' "including the answer"
sutra runs show nosuch
is "$rc" 2 "an unknown run exits 2"

# Outputs and inputs of any size are checkpointed whole: a resumed run
# reuses a recorded output of several KiB, byte for byte.
mkagent big 'return { run = function(input, ctx)
  local parts = {}
  for i = 1, 400 do parts[i] = "x" .. i .. "\u{e9}" end
  return { text = table.concat(parts, ","), n = 400 }
end }'
cat > big.yaml <<'Y'
name: big
steps:
  - {id: big, agent: big}
  - {id: ok, ask: "go?", schema: {type: boolean}}
output: "${{ steps.big.output }}"
Y
sutra run big.yaml
big_id=$(printf '%s' "$out" | json 'd["run"]')
sutra resume "$big_id" --answer true
is "$rc" 0 "a run with a large recorded output resumes"
is "$(printf '%s' "$out" | json 'len(d["text"])')" 2291 "and reuses the output whole"
resumed=$out
sutra agent run big
is "$resumed" "$out" "byte for byte"

# A failed run resumes from the failed step once the cause is fixed.
mkagent fragile 'return { run = function(input, ctx)
  if not ctx.memory.get("fixed") then error("not yet", 0) end
  return "fine"
end }' memory
cat > fix.yaml <<'Y'
name: fix
steps:
  - {id: one, agent: append, with: {v: once, key: fixlog}}
  - {id: two, agent: fragile}
Y
sutra run fix.yaml
is "$rc" 1 "the run fails at the fragile step"
sutra memory set fixed true
sutra resume last
is "$rc" 0 "resume after the fix succeeds"
sutra memory get fixlog
is "$out" '["once"]' "without running the finished step again"

# batch durability: the same results, fewer commits.
sutra run crash.yaml --session batch --durability batch
is "$out" "$ref_out" "batch durability gives the same output"
sutra run crash.yaml --durability sometimes
is "$rc" 2 "an unknown durability exits 2"

# A batch is committed before a step waits on an external effect: another
# process writes while the step's sandbox run sleeps, instead of waiting
# for the batch's write lock until the step ends.
mkagent waiter 'return { run = function(input, ctx)
  return ctx.sandbox.run{cmd = {"/bin/sleep", "2"}}.status
end }' sandbox
cat > wait.yaml <<'Y'
name: wait
steps:
  - {id: first, agent: append, with: {v: w}}
  - {id: sleep, agent: waiter}
Y
"$SUTRA_BIN" run wait.yaml --session wait --durability batch >wait.out 2>&1 &
pid=$!
sleep 0.7
t0=$(date +%s%N)
sutra memory set --session other k 1
t1=$(date +%s%N)
is "$rc" 0 "another process writes while a batch run waits on a sandbox"
ms=$(( (t1 - t0) / 1000000 ))
ok "... without waiting for the run's step to end (${ms} ms)" [ "$ms" -lt 1000 ]
wait $pid
is "$?" 0 "and the run finishes"
like "$(cat wait.out)" '"ok"' "... its step's sandbox run ok"

done_testing
