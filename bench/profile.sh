#!/bin/sh
# bench/profile.sh - instruction profiles of the two hot paths, with
# valgrind's callgrind, summarised in $PROFILE_OUT (default
# bench/profile.txt):
#   1. in process: a 1000-step chain of trivial Lua steps, run 5 times
#      after one warm-up (bench_core --profile-seq 1000 5);
#   2. a whole `sutra run` process of a 10-step chain, on a fresh state
#      database and on an existing one;
#   3. the chain of a `sutra run` of 1000 steps with checkpoints, sync and
#      batch.
# Run from the build directory (make bench-profile); arguments: the sutra
# binary and the bench_core binary.  Without valgrind it says so, exit 0.
set -u

sutra=${1:-./sutra}
core=${2:-./bench/bench_core}
out=${PROFILE_OUT:-bench/profile.txt}
top=${PROFILE_TOP:-25}

if ! command -v valgrind >/dev/null 2>&1 ||
	! command -v callgrind_annotate >/dev/null 2>&1; then
	echo "bench-profile: skipped: valgrind not found (apt-get install valgrind)" >&2
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sutra-profile.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# seq10.yaml and seq1000.yaml: chains of trivial Lua steps.
for n in 10 1000; do
	{
		printf 'name: seq%s\nsteps:\n' "$n"
		i=0
		while [ $i -lt "$n" ]; do
			echo "  - {id: s$i, agent: echo}"
			i=$((i + 1))
		done
	} > "$tmp/seq$n.yaml"
done

# Inclusive and exclusive instruction counts, the top functions of each.
summarise() {
	title=$1
	file=$2
	echo "== $title"
	total=$(callgrind_annotate "$file" 2>/dev/null |
		awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
	echo "total instructions: $total"
	echo
	echo "-- exclusive (self) Ir, top $top"
	callgrind_annotate --threshold=100 "$file" 2>/dev/null |
		awk -v top="$top" '/file:function/ { on = 1; next }
			on && NF && n < top { print; n++ }'
	echo
	echo "-- inclusive Ir, top $top"
	callgrind_annotate --inclusive=yes --threshold=100 "$file" 2>/dev/null |
		awk -v top="$top" '/file:function/ { on = 1; next }
			on && NF && n < top { print; n++ }'
	echo
}

mkdir -p "$(dirname "$out")"
{
	echo "callgrind (valgrind $(valgrind --version | sed 's/valgrind-//')); Ir = instructions executed"
	echo
	# Only the chain runs: --toggle-collect keeps start-up out.
	valgrind --tool=callgrind --callgrind-out-file="$tmp/seq.out" \
		--toggle-collect=chain_run "$core" "$sutra" --profile-seq 1000 5 \
		>/dev/null 2>"$tmp/valgrind.log" ||
		{ cat "$tmp/valgrind.log" >&2; exit 1; }
	summarise "in process: 6 runs of a 1000-step chain (chain_run only; per step = total / 6000)" "$tmp/seq.out"
	# The first run creates the state database; later runs (the usual
	# case, and what `make bench` times) find it.
	for db in fresh existing; do
		valgrind --tool=callgrind --callgrind-out-file="$tmp/run.out" \
			"$sutra" --db "$tmp/state.db" run "$tmp/seq10.yaml" \
			>/dev/null 2>"$tmp/valgrind.log" ||
			{ cat "$tmp/valgrind.log" >&2; exit 1; }
		summarise "whole process: sutra run of a 10-step chain, $db state database" "$tmp/run.out"
	done
	# Checkpoints: `sutra run` records every step (sync by default).
	for mode in sync batch; do
		valgrind --tool=callgrind --callgrind-out-file="$tmp/dur.out" \
			--toggle-collect=chain_run "$sutra" --db "$tmp/state.db" \
			run --durability $mode "$tmp/seq1000.yaml" \
			>/dev/null 2>"$tmp/valgrind.log" ||
			{ cat "$tmp/valgrind.log" >&2; exit 1; }
		summarise "checkpointed ($mode): sutra run of a 1000-step chain (chain_run only; per step = total / 1000)" "$tmp/dur.out"
	done
} > "$out.tmp" && mv "$out.tmp" "$out"
echo "bench-profile: wrote $out" >&2
