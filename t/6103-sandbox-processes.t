#!/bin/sh
# Network and process attacks: the host's loopback, raw and netlink
# sockets, ptrace and /proc/PID/mem on the runner, kill(-1), daemons,
# set-uid programs.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
. "$SUTRA_SRCDIR/t/sandbox.sh"

# A listener on the host's 127.0.0.1 that notes any connection.  Only
# loopback: no test sends anything beyond 127.0.0.0/8.
"$PYTHON" -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(5)
print(s.getsockname()[1], flush=True)
sys.stdout.close()
while True:
    c, _ = s.accept()
    open(sys.argv[1], "w").write("connected\n")
    c.close()
' "$TEST_DIR/connected" >"$TEST_DIR/port" &
LISTENER=$!
trap 'kill $LISTENER 2>/dev/null; cleanup' EXIT
while [ ! -s "$TEST_DIR/port" ]; do sleep 0.05; done
PORT=$(cat "$TEST_DIR/port")
SNAPSHOT=$(snapshot)

for mode in $MODES; do
	PROBE_OPTS="--time 10"
	probe $mode connect "$PORT"
	is "$status" ok "$mode: connect to the host's 127.0.0.1:$PORT refused"
	ok "$mode: the listener saw no connection" test ! -e "$TEST_DIR/connected"
	if [ $mode = ns ]; then
		# No route out: the namespace has one interface, lo.
		is "$(jget stdout | sed -n 's/^ *\([a-z0-9]*\): *[0-9].*/\1/p')" \
			lo "$mode: the only interface is lo"
	else
		like "$(jget stdout)" 'socket\(AF_INET\): Operation not permitted' \
			"$mode: no inet socket at all"
	fi
	contained "$mode: connect"

	probe $mode raw-sockets
	is "$status" ok "$mode: raw, netlink, packet, vsock sockets refused"
	contained "$mode: raw sockets"

	probe $mode ptrace-parent
	is "$status" violation "$mode: ptrace: violation"
	is "$(jget syscall)" ptrace "$mode: ... named"
	contained "$mode: ptrace"

	probe $mode parent-mem $$
	is "$status" ok "$mode: /proc/PPID/mem refused"
	contained "$mode: parent mem"

	probe $mode kill $$ "$LISTENER"
	is "$status" ok "$mode: kill(-1) and kills of others refused"
	ok "$mode: the listener lives" kill -0 "$LISTENER"
	contained "$mode: kill"

	MARKER=$PROBE_NAME-daemon
	probe $mode daemon "$MARKER"
	is "$status" ok "$mode: setsid + double fork runs"
	contained "$mode: daemon"

	probe $mode exec-setuid
	is "$status" failed "$mode: a set-uid program runs without privilege"
	unlike "$(jget stdout)" '^root ' "$mode: ... it could not read root's status"
	contained "$mode: set-uid exec"
done

done_testing
