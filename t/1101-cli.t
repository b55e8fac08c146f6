#!/bin/sh
# The CLI's surface: version, help, global options, exit codes.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

sutra version
is "$rc" 0 "version exits 0"
like "$out" '^sutra [0-9]+\.[0-9]+\.[0-9]+ \(plugin ABI 1\)' "version names sutra and the ABI"

sutra --json version
like "$out" '"plugin_abi":1' "--json version is JSON"

sutra version --json
like "$out" '"sutra":' "global options work after the command too"

sutra help
is "$rc" 0 "help exits 0"
like "$out" 'agent' "help lists commands"

sutra help memory
like "$out" 'sutra memory get KEY' "help COMMAND prints its usage"

sutra help nosuch
is "$rc" 2 "help of an unknown command exits 2"

sutra nosuch
is "$rc" 2 "unknown command exits 2"
like "$err" "^sutra: error: unknown command 'nosuch'" "and says so"

sutra agent list --bogus
is "$rc" 2 "unknown option exits 2"
like "$err" "unknown option '--bogus'" "and names the option"

sutra agent
is "$rc" 2 "missing subcommand exits 2"

sutra agent frobnicate
is "$rc" 2 "unknown subcommand exits 2"

sutra
is "$rc" 2 "no command at all exits 2"

mkdir -p proj
sutra -C proj memory set k 1
is "$rc" 0 "-C DIR runs in DIR"
ok "state database is created in DIR/.sutra" test -f proj/.sutra/state.db

sutra -C /nonexistent version
is "$rc" 2 "-C to a missing directory exits 2"

sutra --db "$TEST_DIR/other.db" memory set k 2
ok "--db puts the database where it says" test -f "$TEST_DIR/other.db"

SUTRA_DB=$TEST_DIR/env.db
export SUTRA_DB
sutra memory set k 3
ok "SUTRA_DB is honoured" test -f "$TEST_DIR/env.db"
unset SUTRA_DB

sutra agent list --help
is "$rc" 0 "--help after a command shows its usage"
like "$out" 'sutra agent list' "for that command"

done_testing
