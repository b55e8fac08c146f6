#!/bin/sh
# Resource attacks: each is contained, gets its verdict, and leaves
# nothing behind, with namespaces and in forced degraded mode.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
. "$SUTRA_SRCDIR/t/sandbox.sh"

for mode in $MODES; do
	PROBE_OPTS="--time 2 --cpu 1"
	probe $mode fork-bomb
	is "$status" timeout "$mode: fork bomb times out"
	contained "$mode: fork bomb"

	probe $mode thread-bomb
	is "$status" failed "$mode: thread bomb fails"
	like "$(jget stdout)" '^threads: [0-9]+' "$mode: thread bomb reports"
	n=$(jget stdout | sed 's/threads: //')
	ok "$mode: at most 64 tasks ($n threads)" test "$n" -lt 64
	contained "$mode: thread bomb"

	PROBE_OPTS="--time 5 --memory 256"
	probe $mode memory-bomb
	is "$status" memory "$mode: memory bomb: memory"
	ok "$mode: memory bomb peaked under the limit" \
		test "$(jget max_rss_kb)" -le 262144
	contained "$mode: memory bomb"

	probe $mode stack-overflow
	is "$status" signaled "$mode: stack overflow: signaled"
	is "$(jget signal)" 11 "$mode: stack overflow: SIGSEGV"
	contained "$mode: stack overflow"

	# A generous wall limit: on a loaded machine 2 s of CPU can take
	# longer than 5 s of wall time, and the CPU limit must fire first.
	PROBE_OPTS="--time 30 --cpu 1"
	probe $mode cpu-spin
	is "$status" cpu_timeout "$mode: 8 spinning threads: cpu_timeout"
	ok "$mode: stopped near 1 s of CPU" test "$(jget cpu_ms)" -lt 2000
	contained "$mode: cpu spin"

	probe $mode ignore-signals
	is "$status" cpu_timeout "$mode: ignoring SIGXCPU/SIGTERM: cpu_timeout"
	is "$(jget signal)" 9 "$mode: ... ended by SIGKILL"
	contained "$mode: ignoring signals"

	PROBE_OPTS="--time 1"
	probe $mode sleep-forever
	is "$status" timeout "$mode: sleep forever: timeout"
	ok "$mode: killed at the deadline" test "$(jget wall_ms)" -lt 2000
	contained "$mode: sleep forever"

	probe $mode self-stop
	is "$status" timeout "$mode: SIGSTOP on itself: timeout"
	is "$(jget stdout)" stopping "$mode: its output kept"
	contained "$mode: self stop"

	PROBE_OPTS="--time 20"
	probe $mode flood-stdout
	is "$status" output_limit "$mode: 1 GB of stdout: output_limit"
	is "$(jget truncated)" true "$mode: ... truncated"
	ok "$mode: ... stopped near 16 MiB" test "$(jget stdout_bytes)" -lt 33554432
	ok "$mode: ... kept at most 1 MiB" \
		test "$(jget stdout | wc -c)" -le 1048700
	contained "$mode: stdout flood"

	PROBE_OPTS="--time 1"
	probe $mode trickle
	is "$status" timeout "$mode: a byte per 100 ms: timeout"
	like "$(jget stdout)" '^\.{5,}$' "$mode: ... drained as it came"
	contained "$mode: trickle"

	PROBE_OPTS="--time 10"
	probe $mode huge-file
	is "$status" file_size "$mode: one huge file: file_size"
	is "$(jget signal)" 25 "$mode: ... SIGXFSZ"
	contained "$mode: huge file"
done

PROBE_OPTS="--time 20"
probe ns many-files
is "$status" file_size "ns: 100k files: file_size (the work dir's inodes)"
like "$(jget stdout)" 'No space left' "ns: ... ran out of inodes"
contained "ns: many files"

PROBE_OPTS="--time 60 --cpu 60"
probe degraded many-files
is "$status" ok "degraded: 100k files made (no tmpfs to bound them)"
contained "degraded: many files"

done_testing
