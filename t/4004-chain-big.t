#!/bin/sh
# A 10,000-step chain runs with flat memory and no stack growth.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

{
	echo "name: big"
	echo "steps:"
	echo "  - {id: s0, agent: echo, with: {n: 0}}"
	i=1
	while [ $i -lt 10000 ]; do
		echo "  - {id: s$i, agent: echo, with: {n: \"\${{ steps.s$((i - 1)).output.n + 1 }}\"}}"
		i=$((i + 1))
	done
} > big.yaml

sutra chain validate big.yaml
is "$out" "big.yaml: ok (10000 steps)" "a 10,000-step chain validates"
sutra run big.yaml
is "$rc" 0 "and runs"
is "$out" '{"n":9999}' "every step saw the one before"

# Stack: run with a small stack limit; recursion per step would overflow.
( ulimit -s 1024 && "$SUTRA_BIN" run big.yaml >small.out 2>&1 )
is "$?" 0 "with a 1 MiB stack too"

done_testing
