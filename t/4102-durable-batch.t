#!/bin/sh
# Batch durability and its background writer: checkpoints without memory
# writes are queued and written by a thread of their own while the run
# goes on.  Kills, write failures and a run longer than the writer's ring
# must all end with exactly the memory and output of an uninterrupted run.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

# append: adds v to a list in memory (its checkpoint takes the
# synchronous way).  next: v + 1, pure (its checkpoint is queued).
mkagent append 'return { run = function(input, ctx)
  local list = ctx.memory.get("log") or ctx.json.array()
  list[#list + 1] = input.v
  ctx.memory.set("log", list)
  return input.v
end }' memory
mkagent next 'return { run = function(input, ctx)
  local t = os.clock()
  while os.clock() - t < 0.0005 do end
  return input.v + 1
end }'

# chain NAME N: N pure steps, each counting on from the one before, with a
# memory write after every 50; the output is the last count.
chain() {
	{
		printf 'name: %s\nsteps:\n  - {id: p0, agent: next, with: {v: 0}}\n' "$1"
		i=1
		while [ $i -lt "$2" ]; do
			printf '  - {id: p%d, agent: next, with: {v: "${{ steps.p%d.output }}"}}\n' $i $((i - 1))
			if [ $((i % 50)) -eq 0 ]; then
				printf '  - {id: m%d, agent: append, with: {v: "${{ steps.p%d.output }}"}}\n' $i $i
			fi
			i=$((i + 1))
		done
		printf 'output: {n: "${{ steps.p%d.output }}"}\n' $(($2 - 1))
	} > "$1.yaml"
}
chain mixed 400

# db SQL: runs SQL on the project's state database (python's sqlite3,
# another connection, as another process would).
db() {
	python3 -c 'import sqlite3, sys
c = sqlite3.connect(".sutra/state.db", isolation_level=None)
for r in c.execute(sys.argv[1]): print("|".join(map(str, r)))' "$1"
}

sutra run mixed.yaml --session ref --durability batch
is "$rc" 0 "a batch run of pure and memory steps finishes"
is "$out" '{"n":400}' "with every step's output"
ref_out=$out
sutra memory export --session ref
ref_mem=$(printf '%s' "$out" | json 'json.dumps(d["memory"], sort_keys=True)')
like "$ref_mem" '"log": \[51, 101, 151, 201, 251, 301, 351\]' "and its memory writes, once each"
ref_id=$(db "SELECT id FROM runs WHERE session = 'ref'")
is "$(db "SELECT count(*) FROM steps WHERE run = '$ref_id'")" 407 "every checkpoint is recorded"
is "$(db "SELECT count(*) FROM steps WHERE run = '$ref_id' AND path = 'p399' AND output = '400'")" 1 "with its output"

# Kill -9 at random instants, resume, compare.
crash_runs 20 kill 190 mixed.yaml --durability batch
is "$good" 20 "20 batch runs killed at random instants resume to the same memory and output"
ok "... $cut of them killed mid-run" [ "$cut" -ge 12 ]

# A write of the writer fails (a trigger stands in for a full disk): the
# batch is rolled back, the run stops with exit 3 naming the cause, and
# nothing after the lost batch is committed without it.
db "CREATE TRIGGER fault BEFORE INSERT ON steps WHEN NEW.path = 'p220'
    BEGIN SELECT RAISE(ABORT, 'injected fault'); END" >/dev/null
sutra run mixed.yaml --session fault --durability batch
is "$rc" 3 "a failed checkpoint write stops a batch run with exit 3"
like "$err" "record checkpoint.*injected fault" "naming the write and its cause"
fid=$(db "SELECT id FROM runs WHERE session = 'fault'")
is "$(db "SELECT count(*) FROM steps WHERE run = '$fid' AND path IN ('p220', 'p221', 'p300')")" 0 \
	"no checkpoint of the failed batch or after it is committed"
sutra memory get --session fault log
unlike "$out" "251" "nor any memory write after it"
db "DROP TRIGGER fault" >/dev/null
sutra resume "$fid"
is "$rc" 0 "the run resumes once the cause is gone"
is "$out" "$ref_out" "to the same output"
sutra memory export --session fault
is "$(printf '%s' "$out" | json 'json.dumps(d["memory"], sort_keys=True)')" "$ref_mem" \
	"and the same memory, each write applied once"

# A short run never starts the writer: its rows are written at its end,
# with the same failure rules.
chain short 10
db "CREATE TRIGGER fault BEFORE INSERT ON steps WHEN NEW.path = 'p5'
    BEGIN SELECT RAISE(ABORT, 'injected fault'); END" >/dev/null
sutra run short.yaml --session short --durability batch
is "$rc" 3 "a short batch run whose checkpoint write fails exits 3"
sid=$(db "SELECT id FROM runs WHERE session = 'short'")
is "$(db "SELECT count(*) FROM steps WHERE run = '$sid'")" 0 "and commits none of its checkpoints"
db "DROP TRIGGER fault" >/dev/null
sutra resume "$sid"
is "$out" '{"n":10}' "it resumes once the cause is gone"

# Longer than the writer's ring (512 rows): the run waits for the writer
# when it gets that far ahead, and loses nothing.
# Batches commit as the run goes, every 256 steps or 200 ms: another
# process sees them before the run ends.
chain long 3000
"$SUTRA_BIN" run long.yaml --session long --durability batch >long.out 2>&1 &
pid=$!
sleep 0.8
seen=$(db "SELECT count(*) FROM steps WHERE run = (SELECT id FROM runs WHERE session = 'long')")
ended=$(db "SELECT count(*) FROM runs WHERE session = 'long' AND status = 'ok'")
ok "batches are committed while the run goes on ($seen checkpoints seen)" [ "$seen" -gt 0 -a "$ended" = 0 ]
wait $pid
is "$(cat long.out)" '{"n":3000}' "a 3000-step batch run finishes"
lid=$(db "SELECT id FROM runs WHERE session = 'long'")
is "$(db "SELECT count(*) FROM steps WHERE run = '$lid'")" 3059 "with all its checkpoints"
sutra replay "$lid"
is "$rc" 0 "and replays without divergence"

# Trivial steps outrun the writer: the run fills the ring and waits for it.
{
	printf 'name: fast\nsteps:\n'
	i=0
	while [ $i -lt 5000 ]; do printf '  - {id: e%d, agent: echo}\n' $i; i=$((i + 1)); done
	printf 'output: "${{ steps.e4999.status }}"\n'
} > fast.yaml
sutra run fast.yaml --session fast --durability batch
is "$out" '"ok"' "a 5000-step run of trivial steps finishes"
is "$(db "SELECT count(*) FROM steps WHERE run = (SELECT id FROM runs WHERE session = 'fast')")" 5000 \
	"with all its checkpoints"

# Large outputs: no more than 8 MiB of rows wait for the writer; a run of
# 300 KiB outputs waits for it instead of piling them up.
mkagent bigout 'return { run = function(input, ctx)
  return string.rep("x", 300 * 1024)
end }'
{
	printf 'name: bigs\nsteps:\n'
	i=0
	while [ $i -lt 80 ]; do printf '  - {id: b%d, agent: bigout}\n' $i; i=$((i + 1)); done
	printf 'output: "${{ #steps.b79.output }}"\n'
} > bigs.yaml
# peak OUT ARG...: runs sutra ARG... (under timeout(1): a hang fails) with
# stdout in OUT; sets $peak to its peak RSS in KiB and $prc to its status.
peak() {
	local o=$1 pid kid kb
	shift
	timeout 120 "$SUTRA_BIN" "$@" >"$o" 2>"$o.err" &
	pid=$!
	peak=0
	while kill -0 $pid 2>/dev/null; do
		kid=0
		read -r kid _ </proc/$pid/task/$pid/children 2>/dev/null
		kb=$(awk '/^VmHWM/ {print $2}' /proc/${kid:-0}/status 2>/dev/null)
		[ "${kb:-0}" -gt "$peak" ] && peak=$kb
		sleep 0.005
	done
	wait $pid
	prc=$?
}
peak bigs.out run bigs.yaml --session bigs --durability batch
is "$prc" 0 "a batch run of 80 outputs of 300 KiB finishes"
is "$(cat bigs.out)" 307200 "with the last output whole"
is "$(db "SELECT count(*), sum(length(output)) FROM steps WHERE run = (SELECT id FROM runs WHERE session = 'bigs')")" \
	"80|24576160" "and every checkpoint, whole"
batch_peak=$peak
peak bigs-sync.out run bigs.yaml --session bigs-sync
ok "... holding no more than ~8 MiB more than a sync run (peak RSS $batch_peak KiB, sync $peak KiB)" \
	[ "$batch_peak" -gt 0 -a "$batch_peak" -lt $((peak + 16 * 1024)) ]

# sync mode is unchanged by all this: the same output and memory.
sutra run mixed.yaml --session sync
is "$out" "$ref_out" "sync durability gives the same output"
sutra memory export --session sync
is "$(printf '%s' "$out" | json 'json.dumps(d["memory"], sort_keys=True)')" "$ref_mem" "and memory"

done_testing
