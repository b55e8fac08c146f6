#!/bin/sh
# Parallel branches really run at once; timeouts stop Lua loops and slow
# plugins; Ctrl-C stops a run cleanly; --trace writes Chrome trace events.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

mkplugin nap "$TEST_PLUGINS/good.so" plug-sleep
mkagent spin 'return { run = function() while true do end end }'

ms_now() { date +%s%3N; }

cat > par.yaml <<'Y'
name: par
steps:
  - id: fan
    max_parallel: 8
    parallel:
      - {id: a, agent: nap, with: {ms: 300}}
      - {id: b, agent: nap, with: {ms: 300}}
      - {id: c, agent: nap, with: {ms: 300}}
      - {id: d, agent: nap, with: {ms: 300}}
Y
t0=$(ms_now)
sutra run par.yaml --trace trace.json
t1=$(ms_now)
is "$rc" 0 "four 300 ms branches run"
ok "in parallel: under the 1200 ms they take in a row ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 1100

ok "--trace writes a file" test -s trace.json
like "$(cat trace.json)" '"traceEvents":\[' "in Chrome trace-event format"
spans=$(grep -o '"ph":"X"' trace.json | wc -l)
is "$spans" 4 "one span per step attempt of an agent"
tids=$(grep -o '"tid":[0-9]*' trace.json | sort -u | wc -l)
ok "spans are on more than one thread ($tids)" test "$tids" -gt 1

t0=$(ms_now)
sutra run par.yaml --max-parallel 1
t1=$(ms_now)
ok "--max-parallel 1 runs them one at a time ($((t1 - t0)) ms)" test $((t1 - t0)) -ge 1150

cat > luatimeout.yaml <<'Y'
name: luatimeout
steps:
  - {id: forever, agent: spin, timeout: 200ms}
Y
t0=$(ms_now)
sutra run luatimeout.yaml
t1=$(ms_now)
is "$rc" 1 "a Lua infinite loop past its timeout fails the chain"
like "$err" "step 'forever': agent 'spin': .*deadline exceeded" "naming the step"
ok "promptly ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 1500

cat > plugtimeout.yaml <<'Y'
name: plugtimeout
steps:
  - {id: slow, agent: nap, with: {ms: 5000}, timeout: 150ms, on_error: continue}
  - {id: after, agent: echo, with: {status: "${{ steps.slow.status }}"}}
Y
t0=$(ms_now)
sutra run plugtimeout.yaml
t1=$(ms_now)
is "$out" '{"status":"timeout"}' "a slow plugin gets status timeout"
ok "and is stopped through its cancel flag ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 1500

cat > compound.yaml <<'Y'
name: compound
steps:
  - id: group
    timeout: 200ms
    parallel:
      - {id: x, agent: nap, with: {ms: 3000}}
      - {id: y, agent: spin}
Y
t0=$(ms_now)
sutra run compound.yaml
t1=$(ms_now)
is "$rc" 1 "a compound step's timeout covers its branches"
ok "both branches stop ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 1500

cat > long.yaml <<'Y'
name: long
steps:
  - {id: first, agent: nap, with: {ms: 100}}
  - {id: second, agent: nap, with: {ms: 10000}}
  - {id: third, agent: echo}
Y
"$SUTRA_BIN" run long.yaml >out.txt 2>err.txt &
pid=$!
sleep 1
kill -INT $pid
t0=$(ms_now)
wait $pid
rc=$?
t1=$(ms_now)
is "$rc" 130 "SIGINT mid-run exits 130"
like "$(cat err.txt)" "step 'second': interrupted" "naming the step that was running"
ok "and stops at once ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 1000
is "$(cat out.txt)" "" "no output is printed for an interrupted run"

"$SUTRA_BIN" run long.yaml >out.txt 2>err.txt &
pid=$!
sleep 1
kill -TERM $pid
wait $pid
is "$?" 130 "SIGTERM too"

cat > budget.yaml <<'Y'
name: budget
budget: {wall: 300ms}
steps:
  - {id: a, agent: nap, with: {ms: 200}}
  - {id: b, agent: nap, with: {ms: 200}}
  - {id: c, agent: echo}
Y
sutra run budget.yaml
is "$rc" 1 "going over the chain's wall budget fails"
like "$err" "step '(b|c)': .*(wall budget|deadline exceeded)" "and says so"

done_testing
