#!/bin/sh
# Forbidden syscalls are killed and named; TIOCSTI is refused however it
# is spelled; a program printing a verdict of its own changes nothing.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
. "$SUTRA_SRCDIR/t/sandbox.sh"

PROBE_OPTS="--time 10"
for mode in $MODES; do
	for pair in unshare:unshare mount:mount chroot:chroot bpf:bpf \
		perf:perf_event_open userfaultfd:userfaultfd keyctl:keyctl \
		io-uring:io_uring_setup x32:x32:39 int80:i386:getpid; do
		name=${pair%%:*}
		want=${pair#*:}
		probe $mode "$name"
		is "$status" violation "$mode: $name: violation"
		is "$(jget syscall)" "$want" "$mode: $name: names $want"
		is "$(jget signal)" 9 "$mode: $name: killed"
		contained "$mode: $name"
	done

	probe $mode tiocsti
	is "$status" ok "$mode: TIOCSTI refused, even with high bits set"
	contained "$mode: TIOCSTI"

	probe $mode fake-verdict
	is "$rc" 1 "$mode: fake verdict: exit 1"
	is "$status" failed "$mode: the runner's verdict stands"
	like "$(jget stdout)" '"status":"ok"' "$mode: the fake is only output"
	contained "$mode: fake verdict"
done

done_testing
