# t/sandbox.sh - helpers for the sandbox tests (t/6xxx), sourced after
# t/lib.sh.
#
#   probe MODE NAME [ARG...]     runs t/sbx-probe NAME in the sandbox
#                                (MODE: ns or degraded), extra sutra
#                                options in $PROBE_OPTS; sets $out $rc
#                                and $status
#   jget KEY[>KEY...]            a field of the verdict in $out
#   contained DESC               the run left nothing behind: the runner
#                                answered, no process of it is alive, its
#                                work dir is gone, nothing outside changed
#
# Work dirs go to $SBX_TMP (SUTRA_SANDBOX_TMPDIR), traversable by the
# sandbox's uids, so a leftover is easy to see.  The probe binary is
# copied under a name unique to this test so that pgrep finds only ours.

PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || skip_all "needs $PYTHON (scripts/install-deps)"
[ -x "$SUTRA_BUILDDIR/t/sbx-probe" ] || skip_all "t/sbx-probe not built"

chmod 711 "$TEST_DIR"
SBX_TMP=$TEST_DIR/sbx
mkdir -m 711 "$SBX_TMP"
export SUTRA_SANDBOX_TMPDIR=$SBX_TMP
PROBE_NAME=sbxprobe-$$-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
PROBE_DIR=$TEST_DIR/probe
mkdir -m 755 "$PROBE_DIR"
cp "$SUTRA_BUILDDIR/t/sbx-probe" "$PROBE_DIR/$PROBE_NAME"
PROBE_OPTS=

# Things a probe must not be able to touch.
SECRET=sk-test-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
printf 'export SAFE=1\n' >"$HOME/.bashrc"
mkdir -m 700 "$HOME/.ssh"
printf 'PRIVATE KEY %s\n' "$SECRET" >"$HOME/.ssh/id_rsa"
chmod 600 "$HOME/.ssh/id_rsa"
mkdir -p "$TEST_DIR/work/checkout"
printf 'tracked file\n' >"$TEST_DIR/work/checkout/README"

snapshot() {
	find "$TEST_DIR" \( -path "$SBX_TMP" -o -name 'out.*' -o -name 'err.*' \) \
		-prune -o -type f -printf '%p %s %m %T@\n' -o -printf '%p %m\n' |
		sort | sha256sum
}
SNAPSHOT=$(snapshot)

jget() {
	# The verdict on stdin: it may be larger than an argument can be.
	printf '%s' "$out" | "$PYTHON" -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split(">"):
    v = v[int(k)] if isinstance(v, list) else v.get(k)
if isinstance(v, (dict, list, bool)):
    v = json.dumps(v, sort_keys=True)
print("" if v is None else v)' "$1"
}

probe() {
	local mode=$1 flag=
	shift
	[ "$mode" = degraded ] && flag=--degraded
	# shellcheck disable=SC2086
	sutra sandbox run $flag --dir "$PROBE_DIR" $PROBE_OPTS \
		-- "./$PROBE_NAME" "$@"
	status=$(jget status 2>/dev/null)
}

contained() {
	local desc=$1 left
	is "$(jget leftovers 2>/dev/null)" 0 "$desc: runner alive, no leftovers"
	left=$(pgrep -f "$PROBE_NAME" || true)
	is "$left" "" "$desc: no process of the run left"
	is "$(ls -A "$SBX_TMP")" "" "$desc: work dir removed"
	is "$(snapshot)" "$SNAPSHOT" "$desc: nothing outside changed"
}

# Both modes, for the attack tests.
MODES="ns degraded"
