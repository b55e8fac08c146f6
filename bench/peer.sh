#!/bin/sh
# bench/peer.sh - measure the peer, LangGraph.js, on this machine, beside
# sutra's own benchmarks: the cases that match bench_core's (seq 10/100/1000
# with no saver and with the SQLite checkpointer, par 100, cond 1000, and a
# whole process from start to first result).  Writes JSON lines
# ({"bench":"peer.langgraph.CASE", ...}) to stdout and to $PEER_OUT.
#
# The peer's code is not ours and is never copied into the tree: it is read
# from $SUTRA_PEER_SRC (default: ../shared/peers/langgraph beside the source
# tree), copied to a scratch directory ($SUTRA_PEER_WORK, default
# ${TMPDIR:-/tmp}/sutra-peer-langgraph) and installed there with npm; the
# install is kept and redone only when package.json or the lock changes.
# Without node, npm or the peer's sources it says why and exits 0.
#
# Environment: PEER_OUT (default bench/peer.jsonl), PEER_ROUNDS (fresh
# processes per case, default 1), PEER_STARTUP_RUNS (default 11),
# PEER_CASES (CASE:N:SAVER:DURABILITY words, default the list below).
set -u

srcdir=${SUTRA_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
peer_src=${SUTRA_PEER_SRC:-$srcdir/../shared/peers/langgraph}
work=${SUTRA_PEER_WORK:-${TMPDIR:-/tmp}/sutra-peer-langgraph}
out=${PEER_OUT:-bench/peer.jsonl}
case $out in /*) ;; *) out=$(pwd)/$out ;; esac
rounds=${PEER_ROUNDS:-1}
startup_runs=${PEER_STARTUP_RUNS:-11}

skip() {
	echo "bench-peer: skipped: $*" >&2
	exit 0
}

command -v node >/dev/null 2>&1 || skip "node not found (apt-get install nodejs npm)"
command -v npm >/dev/null 2>&1 || skip "npm not found (apt-get install npm)"
command -v python3 >/dev/null 2>&1 || skip "python3 not found"
if [ ! -f "$peer_src/bench.mjs" ] || [ ! -f "$peer_src/package.json" ]; then
	skip "no peer sources in '$peer_src' (set SUTRA_PEER_SRC)"
fi

mkdir -p "$work" || skip "cannot create '$work'"
stale=0
for f in package.json package-lock.json; do
	[ -f "$peer_src/$f" ] || continue
	cmp -s "$peer_src/$f" "$work/$f" || stale=1
done
[ -d "$work/node_modules/@langchain/langgraph" ] || stale=1
cp "$peer_src/bench.mjs" "$work/" || skip "cannot copy the peer"
if [ $stale = 1 ]; then
	cp "$peer_src/package.json" "$work/"
	[ -f "$peer_src/package-lock.json" ] && cp "$peer_src/package-lock.json" "$work/"
	echo "bench-peer: npm install in $work (better-sqlite3 builds from source, about a minute)" >&2
	rm -rf "$work/node_modules"
	(cd "$work" && npm install --no-audit --no-fund >npm-install.log 2>&1) ||
		skip "npm install failed, see $work/npm-install.log"
fi

cd "$work" || exit 1
sqlite=1
if ! node -e 'new (require("better-sqlite3"))(":memory:").close()' >/dev/null 2>&1; then
	echo "bench-peer: better-sqlite3 does not load; trying npm rebuild" >&2
	npm rebuild better-sqlite3 >npm-rebuild.log 2>&1
	node -e 'new (require("better-sqlite3"))(":memory:").close()' >/dev/null 2>&1 ||
		{ sqlite=0; echo "bench-peer: no SQLite saver: its cases are left out" >&2; }
fi

# node's JSON line, renamed into our namespace: bench "peer.langgraph.CASE".
rename() {
	sed 's/"bench":"langgraph-js","case":"\([a-z]*\)"/"bench":"peer.langgraph.\1","case":"\1"/'
}

tmp=$work/peer.jsonl.tmp
: > "$tmp"
run_case() {
	node bench.mjs "$@" 2>>"$work/stderr.log" | rename | tee -a "$tmp"
}

cases="seq:10:none:async seq:100:none:async seq:1000:none:async
par:100:none:async cond:1000:none:async"
[ $sqlite = 1 ] && cases="$cases
seq:10:sqlite:async seq:100:sqlite:async seq:1000:sqlite:async
seq:10:sqlite:sync seq:100:sqlite:sync seq:1000:sqlite:sync"
cases=${PEER_CASES:-$cases}

r=1
while [ "$r" -le "$rounds" ]; do
	for c in $cases; do
		IFS=:
		# shellcheck disable=SC2086
		set -- $c
		unset IFS
		run_case "$1" "$2" --saver "$3" --durability "$4" || exit 1
	done
	r=$((r + 1))
done

# Whole processes: `node bench.mjs seq 10 --reps 0` exits right after its
# first result.  Wall time from spawn to exit, the peer's own
# first_result_since_process_start_ms, and its peak RSS; bare `node -e 0`
# for scale.
python3 - "$startup_runs" "$sqlite" <<'EOF' | tee -a "$tmp" || exit 1
import json, resource, subprocess, sys, time
runs, sqlite = int(sys.argv[1]), sys.argv[2] == "1"

def children_cpu_ms():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * 1e3

def wall(argv):
    c0 = children_cpu_ms()
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.PIPE, check=True, text=True)
    wall.cpu = children_cpu_ms() - c0
    return (time.perf_counter() - t0) * 1e3, p.stdout

def med(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]

bare = med([wall(["node", "-e", "0"])[0] for _ in range(runs)])
savers = ["none"] + (["sqlite"] if sqlite else [])
for saver in savers:
    walls, cpus, first, rss = [], [], [], []
    for _ in range(runs):
        ms, out = wall(["node", "bench.mjs", "seq", "10", "--reps", "0",
                        "--saver", saver])
        j = json.loads(out.strip().splitlines()[-1])
        walls.append(ms)
        cpus.append(wall.cpu)
        first.append(j["first_result_since_process_start_ms"])
        rss.append(j["rss_peak_kb"])
    print(json.dumps({"bench": "peer.langgraph.process_seq10", "saver": saver,
                      "runs": runs, "wall_ms": round(med(walls), 2),
                      "cpu_ms": round(med(cpus), 2),
                      "first_result_ms": round(med(first), 2),
                      "peak_rss_kb": max(rss), "node_bare_ms": round(bare, 2)}))
EOF

sh "$srcdir/bench/load.sh" >> "$tmp"
mkdir -p "$(dirname "$out")"
mv "$tmp" "$out"
