#!/bin/sh
# The state database: backup, restore, export/import, schema migration,
# and faults (locked, read-only, disk full, corrupt).
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

sutra memory set plan '{"v":1}'
sutra memory set other 2 --session s2

sutra memory backup backup.db
is "$rc" 0 "memory backup exits 0"
ok "and writes the file" test -s backup.db

sutra memory set plan '"changed"'
sutra memory del other --session s2
sutra memory restore backup.db
is "$rc" 0 "memory restore exits 0"
sutra memory get plan
is "$out" '{"v":1}' "restore brings the backed-up values back"
sutra memory get other --session s2
is "$out" 2 "in every session"

printf 'not a database at all, just text%.0s' $(seq 1 100) > junk.db
sutra memory restore junk.db
is "$rc" 2 "restoring a file that is not a sutra database exits 2"
like "$err" "restore 'junk.db': not a sutra state database" "with a clear error"
sutra memory get plan
is "$out" '{"v":1}' "and leaves the database as it was"

python3 -c "
import sqlite3
c = sqlite3.connect('newer.db')
c.execute('CREATE TABLE x (y)')
c.execute('PRAGMA application_id = 1398101074')
c.execute('PRAGMA user_version = 999')
c.commit()"
sutra memory restore newer.db
is "$rc" 2 "a backup with a newer schema is refused"
like "$err" "schema version 999 is newer than this sutra supports" "and says why"

sutra memory restore missing.db
is "$rc" 2 "a missing backup file exits 2"

sutra memory export --session s2
is "$out" '{"session":"s2","memory":{"other":2}}' "export prints a session as JSON"
printf '%s' "$out" > s2.json
sutra memory import s2.json --session copy
sutra memory get other --session copy
is "$out" 2 "import writes it into another session"
printf '{"memory": [1]}' > bad.json
sutra memory import bad.json
is "$rc" 2 "an import that is not an object of keys exits 2"

# A database of the first schema is migrated forward on open.
python3 -c "
import sqlite3, sys
c = sqlite3.connect('v1.db')
c.executescript(open(sys.argv[1]).read())" "$SUTRA_SRCDIR/t/data/state-v1.sql"
sutra --db v1.db memory get plan
is "$rc" 0 "a schema-1 database opens"
is "$out" '{"v":1}' "with its data"
is "$(python3 -c "import sqlite3; print(sqlite3.connect('v1.db').execute('PRAGMA user_version').fetchone()[0])")" 2 "and is migrated to the current schema"
sutra --db v1.db memory get name --session s2
is "$out" '"ann"' "keeping every session"

# Faults: a database locked by another process for longer than the busy
# timeout, a disk that fills up, a directory we cannot write.
python3 - <<'PY' &
import sqlite3, time
c = sqlite3.connect('.sutra/state.db', isolation_level=None)
c.execute('BEGIN EXCLUSIVE')
open('locked', 'w').close()
time.sleep(8)
PY
lockpid=$!
while [ ! -e locked ]; do sleep 0.05; done
sutra memory set k 1
is "$rc" 3 "a database locked past the busy timeout exits 3"
like "$err" "database is locked" "and says so"
wait $lockpid
sutra memory get k
is "$rc" 1 "nothing was half-written"

printf '{"memory": {"big": "%s"}}' "$(head -c 300000 /dev/zero | tr '\0' x)" > big.json
( ulimit -f 128; "$SUTRA_BIN" --db full.db memory import big.json ) >full.out 2>full.err
rc=$?
is "$rc" 3 "a full disk (ulimit -f) exits 3"
like "$(cat full.err)" "full.db: .*(disk full|I/O error|file size)" "with a clear error"

mkdir ro
chmod 555 ro
if [ "$(id -u)" = 0 ]; then
	# Root writes through mode bits: mount a read-only file system there,
	# in a mount namespace of its own.
	unshare -m sh -c 'mount -t tmpfs -o ro none ro && exec "$0" --db ro/state.db memory set k 1' "$SUTRA_BIN" >ro.out 2>ro.err
	rc=$?
	is "$rc" 3 "a read-only directory exits 3"
	like "$(cat ro.err)" "ro/state.db: .*(read-only|cannot open)" "naming the database"
else
	sutra --db ro/state.db memory set k 1
	is "$rc" 3 "a read-only directory exits 3"
	like "$err" "ro/state.db: .*(read-only|cannot open)" "naming the database"
fi

done_testing
