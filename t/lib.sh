# t/lib.sh - helpers for shell tests of the sutra CLI (TAP output).
#
#   . "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
#   sutra agent run echo --input '{"x":1}'   # sets $out $err $rc
#   is "$rc" 0 "echo exits 0"
#   is "$out" '{"x":1}' "echo prints its input"
#   like "$err" 'not found' "names the agent"
#   done_testing
#
# Every test runs in a fresh temporary directory (the project directory)
# with its own HOME and XDG_DATA_HOME; it is removed at exit.

set -u
SUTRA_SRCDIR=${SUTRA_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SUTRA_BUILDDIR=${SUTRA_BUILDDIR:-$SUTRA_SRCDIR}
export SUTRA_SRCDIR SUTRA_BUILDDIR
SUTRA_BIN=${SUTRA_BIN:-$SUTRA_BUILDDIR/sutra}
# Shipped catalog: plugins are built into the build tree, Lua agents live
# in the source tree.
SUTRA_CATALOG_PATH=$SUTRA_BUILDDIR/catalog
export SUTRA_CATALOG_PATH
export SUTRA_DATA_DIR=$SUTRA_SRCDIR
unset SUTRA_DB SUTRA_CONFIG SUTRA_LOG

T_COUNT=0
T_FAILED=0
TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sutra-test.XXXXXX")
export HOME=$TEST_DIR/home XDG_DATA_HOME=$TEST_DIR/xdg
mkdir -p "$HOME" "$TEST_DIR/work"
cleanup() {
	chmod -R u+rwx "$TEST_DIR" 2>/dev/null
	rm -rf "$TEST_DIR"
}
trap cleanup EXIT
cd "$TEST_DIR/work" || exit 1

_result() {
	T_COUNT=$((T_COUNT + 1))
	if [ "$1" = 0 ]; then
		echo "ok $T_COUNT - $2"
	else
		T_FAILED=$((T_FAILED + 1))
		echo "not ok $T_COUNT - $2"
	fi
}

diag() {
	printf '%s\n' "$@" | sed 's/^/# /'
}

# ok DESCRIPTION COMMAND...: passes when COMMAND exits 0.
ok() {
	local desc=$1
	shift
	if "$@"; then _result 0 "$desc"; else _result 1 "$desc"; fi
}

# is GOT WANT DESCRIPTION
is() {
	if [ "$1" = "$2" ]; then
		_result 0 "$3"
	else
		_result 1 "$3"
		diag "     got: '$1'" "  wanted: '$2'"
	fi
}

# like GOT EXTENDED-REGEX DESCRIPTION
like() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		_result 0 "$3"
	else
		_result 1 "$3"
		diag "     got: '$1'" "  wanted match: '$2'"
	fi
}

# unlike GOT EXTENDED-REGEX DESCRIPTION
unlike() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		_result 1 "$3"
		diag "     got: '$1'" "  wanted no match: '$2'"
	else
		_result 0 "$3"
	fi
}

# sutra ARGS...: runs the CLI, capturing stdout in $out, stderr in $err
# and the exit code in $rc.  Never fails the script.
sutra() {
	local o e
	o=$(mktemp "$TEST_DIR/out.XXXXXX")
	e=$(mktemp "$TEST_DIR/err.XXXXXX")
	"$SUTRA_BIN" "$@" >"$o" 2>"$e" </dev/null
	rc=$?
	out=$(cat "$o")
	err=$(cat "$e")
	rm -f "$o" "$e"
	return 0
}

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

skip() {
	T_COUNT=$((T_COUNT + 1))
	echo "ok $T_COUNT # SKIP $*"
}

done_testing() {
	echo "1..$T_COUNT"
	[ "$T_FAILED" = 0 ]
	exit $?
}

# crash_runs N PREFIX MAX_MS CHAIN [RUN-OPTION...]: runs CHAIN N times, in
# sessions PREFIX1..PREFIXN, kills each with -9 after 5 to MAX_MS + 4 ms
# (spread over that range; MAX_MS not a multiple of 37),
# resumes it (or runs it again when it was killed before it was recorded)
# and compares its output and memory with $ref_out and $ref_mem.  Sets
# $good to the runs that matched, $cut to those killed mid-run.
crash_runs() {
	local n=$1 prefix=$2 max=$3 chain=$4 i=1 s pid id status mem
	shift 4
	good=0
	cut=0
	while [ $i -le "$n" ]; do
		s=$prefix$i
		"$SUTRA_BIN" run "$chain" --session $s "$@" >/dev/null 2>&1 &
		pid=$!
		sleep "$(printf '0.%03d' $(( (i * 37) % max + 5 )))"
		kill -9 $pid 2>/dev/null
		wait $pid 2>/dev/null
		"$SUTRA_BIN" --json runs >runs.json 2>/dev/null
		id=$(json "next((r['id'] for r in d if r['session'] == '$s'), '')" <runs.json)
		status=$(json "next((r['status'] for r in d if r['session'] == '$s'), '')" <runs.json)
		if [ -n "$id" ]; then
			[ "$status" = running ] && cut=$((cut + 1))
			"$SUTRA_BIN" resume "$id" >resume.out 2>resume.err
		else
			"$SUTRA_BIN" run "$chain" --session $s "$@" >resume.out 2>resume.err
		fi
		mem=$("$SUTRA_BIN" memory export --session $s | json 'json.dumps(d["memory"], sort_keys=True)')
		if [ "$(cat resume.out)" = "$ref_out" ] && [ "$mem" = "$ref_mem" ]; then
			good=$((good + 1))
		else
			diag "$s ($id): output $(cat resume.out) memory $mem" "$(cat resume.err)"
		fi
		i=$((i + 1))
	done
}

# mkagent NAME LUA-SOURCE [PERMISSIONS]: makes a Lua agent package in
# ./catalog of the test's project directory.
mkagent() {
	mkdir -p "catalog/$1"
	printf '%s\n' "$2" >"catalog/$1/agent.lua"
	cat >"catalog/$1/agent.yaml" <<YAML
name: $1
version: 1.0.0
kind: lua
entry: agent.lua
description: test agent $1
permissions: [${3:-}]
YAML
}

# mkplugin PKG SOFILE AGENT [PERMISSIONS]: a plugin package in ./catalog
# made from one of the test plugins (t/plugins/*.so).
mkplugin() {
	mkdir -p "catalog/$1"
	cp "$2" "catalog/$1/$1.so"
	cat >"catalog/$1/agent.yaml" <<YAML
name: $1
version: 1.0.0
kind: plugin
entry: $1.so
agent: $3
permissions: [${4:-}]
YAML
}
TEST_PLUGINS=$SUTRA_BUILDDIR/t/plugins

# start_fakellm: starts the fake LLM provider (t/fakellm.py) on a free
# loopback port for this test; sets PORT and FAKE and defines ctl (its
# control commands) and json (a python3 one-liner over stdin).  Skips the
# test when python3 is missing or the server does not start.
start_fakellm() {
	command -v python3 >/dev/null || skip_all "python3 not available"
	FAKE="$SUTRA_SRCDIR/t/fakellm.py"
	python3 "$FAKE" serve "$TEST_DIR/port" &
	FAKE_PID=$!
	trap 'kill $FAKE_PID 2>/dev/null; wait $FAKE_PID 2>/dev/null; cleanup' EXIT
	for _ in $(seq 100); do [ -s "$TEST_DIR/port" ] && break; sleep 0.05; done
	[ -s "$TEST_DIR/port" ] || skip_all "fake provider did not start"
	PORT=$(cat "$TEST_DIR/port")
}
ctl() { python3 "$FAKE" ctl "$PORT" "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
