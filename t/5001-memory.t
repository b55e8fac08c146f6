#!/bin/sh
# sutra memory: get, set, del, list, sessions.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

sutra memory get nothing
is "$rc" 1 "get of a missing key exits 1"
like "$err" "key 'nothing' not found in session 'default'" "and says so"

sutra memory set plan '{"steps":[1,2],"ok":true}'
is "$rc" 0 "set exits 0"
sutra memory get plan
is "$out" '{"steps":[1,2],"ok":true}' "get prints the bare JSON value"

sutra memory set name '"ann"'
sutra memory get name
is "$out" '"ann"' "strings are JSON strings"

sutra memory set bad 'not json'
is "$rc" 2 "a value that is not JSON exits 2"
like "$err" "is not JSON" "and says so"

sutra memory set k 1 --session other
sutra memory get k
is "$rc" 1 "sessions are separate"
sutra memory get k --session other
is "$out" 1 "--session reads its own"

sutra memory list
is "$out" "$(printf 'name\t"ann"\nplan\t{"steps":[1,2],"ok":true}')" "list shows keys and values"
sutra --json memory list
like "$out" '"key":"name","value":"ann","version":1' "--json list has versions"

sutra memory set name '"bob"'
sutra --json memory list
like "$out" '"key":"name","value":"bob","version":2' "a write bumps the version"

sutra memory sessions
like "$out" "^default	2 keys" "sessions lists default"
like "$out" "other	1 keys" "and the other session"

sutra memory del name
is "$rc" 0 "del exits 0"
sutra memory get name
is "$rc" 1 "a deleted key is gone"
sutra memory del name
is "$rc" 0 "deleting a missing key is fine"

sutra memory get
is "$rc" 2 "get without a key exits 2"

sutra memory set '' 1
is "$rc" 2 "an empty key exits 2"

printf 'garbage, not sqlite%.0s' $(seq 1 200) > bad.db
sutra --db bad.db memory get x
is "$rc" 3 "a corrupt database file exits 3"
like "$err" "bad.db: .*not a sutra state database" "and names the file"

sqlite3 other.db 'CREATE TABLE t(x)' 2>/dev/null || python3 -c "import sqlite3; sqlite3.connect('other.db').execute('CREATE TABLE t(x)')"
sutra --db other.db memory get x
is "$rc" 3 "another program's SQLite database is refused"
like "$err" "other.db: not a sutra state database" "with a clear error"

mkdir ro && chmod 555 ro
if [ "$(id -u)" = 0 ]; then
	# Root writes anywhere: the command runs as nobody instead, which
	# needs to reach the test directory.
	chmod 711 "$TEST_DIR"
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$SUTRA_BIN" --db ro/state.db memory set x 1 >ro.out 2>ro.err
	rc=$?
	err=$(cat ro.err)
else
	sutra --db ro/state.db memory set x 1
fi
is "$rc" 3 "a read-only directory exits 3"
like "$err" "ro/state.db" "... naming the database file"
ok "... and leaves no file behind" [ ! -e ro/state.db ]

done_testing
