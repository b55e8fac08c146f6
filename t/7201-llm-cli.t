#!/bin/sh
# 7201-llm-cli: `sutra llm chat` against the fake provider: plain and
# streamed text, providers and models, exit codes, the cache and
# --no-cache, environment overrides, and that the API key is never written
# anywhere a run leaves files (state database included) nor printed.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

command -v python3 >/dev/null || skip_all "python3 not available"
FAKE="$SUTRA_SRCDIR/t/fakellm.py"
python3 "$FAKE" serve "$TEST_DIR/port" &
FAKE_PID=$!
trap 'kill $FAKE_PID 2>/dev/null; wait $FAKE_PID 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do [ -s "$TEST_DIR/port" ] && break; sleep 0.05; done
[ -s "$TEST_DIR/port" ] || skip_all "fake provider did not start"
PORT=$(cat "$TEST_DIR/port")
ctl() { python3 "$FAKE" ctl "$PORT" "$@" >/dev/null; }

KEY=sk-sutra-test-7201-VERYSECRET
export T7201_KEY=$KEY T7201_ANT=$KEY-ant
cat >sutra.yaml <<YAML
llm:
  default: local
  retries: 1
  backoff: 10ms
  providers:
    - {name: local, kind: openai, base_url: "http://127.0.0.1:$PORT/v1",
       model: small, api_key_env: T7201_KEY,
       price: {input_per_mtok: 1, output_per_mtok: 2}}
    - {name: claude, kind: anthropic, base_url: "http://127.0.0.1:$PORT",
       model: sonnet, api_key_env: T7201_ANT}
    - {name: dead, kind: openai, base_url: "http://127.0.0.1:1/v1",
       model: x}
YAML

sutra llm chat "hello there"
is "$rc" 0 "llm chat exits 0"
is "$out" "echo: hello there" "prints the answer as plain text"

ctl script '{"steps": [{"chunk": 1, "event_delay_ms": 5}]}'
sutra llm chat --stream "streamed words"
is "$rc" 0 "--stream exits 0"
is "$out" "echo: streamed words" "--stream prints the same text"

sutra llm chat --provider claude --model opus "to claude"
is "$out" "echo: to claude" "--provider picks anthropic"
sutra --json llm chat --provider claude --model opus "to claude"
like "$out" '"provider":"claude"' "--json prints the response object"
like "$out" '"model":"opus"' "--model is sent"

sutra llm chat --provider dead "nobody home"
is "$rc" 3 "unreachable provider exits 3"
like "$err" "^sutra: error: llm: provider 'dead': unreachable" \
	"the error names the provider"

ctl script '{"steps": [{"status": 400, "message": "bad request here"}]}'
sutra llm chat "four hundred"
is "$rc" 1 "a refused request exits 1"
like "$err" "HTTP 400.*bad request here" "the error says what the server said"

sutra llm chat
is "$rc" 2 "no prompt is a usage error"
sutra llm chat --bogus x
is "$rc" 2 "unknown option is a usage error"
sutra llm frob
is "$rc" 2 "unknown subcommand is a usage error"
sutra llm chat --provider nosuch x
is "$rc" 2 "unknown provider is a usage error"
like "$err" "unknown provider 'nosuch'" "and says which"

ctl reset
sutra --json llm chat --temperature 0 "cache me"
like "$out" '"cached":false' "first temperature-0 call asks the provider"
sutra --json llm chat --temperature 0 "cache me"
like "$out" '"cached":true' "the second comes from the cache"
sutra --json llm chat --temperature 0 --no-cache "cache me"
like "$out" '"cached":false' "--no-cache asks again"
is "$(python3 "$FAKE" ctl "$PORT" stats)" \
	'{"connections": 2, "requests": 2}' "two requests reached the provider"

SUTRA_LLM_PROVIDER=claude SUTRA_LLM_MODEL=haiku sutra --json llm chat "env"
like "$out" '"model":"haiku","provider":"claude"' \
	"SUTRA_LLM_PROVIDER and SUTRA_LLM_MODEL override the default"
SUTRA_LLM_PROVIDER=dead SUTRA_LLM_BASE_URL="http://127.0.0.1:$PORT/v1" \
	sutra llm chat "redirected"
is "$out" "echo: redirected" "SUTRA_LLM_BASE_URL overrides its URL"

mkdir -p bare && (cd bare && SUTRA_LLM_BASE_URL="http://127.0.0.1:$PORT/v1" \
	"$SUTRA_BIN" llm chat "no config" >../bare.out 2>&1)
is "$(cat bare.out)" "echo: no config" \
	"without sutra.yaml, SUTRA_LLM_BASE_URL alone is enough"

# Failures with the key in play, verbosely logged, then look everywhere.
ctl script '{"steps": [{"status": 500}, {"status": 401}]}'
sutra -v -v llm chat "secret check"
like "$err" '"msg":"llm.retry","provider":"local"' "retries are logged with -v"
sutra -v -v llm chat --provider claude --stream "secret check 2"
log=$(python3 "$FAKE" ctl "$PORT" log)
like "$log" "Bearer $KEY" "the provider did get the key (the test is real)"
unlike "$out$err" "VERYSECRET" "the key is never printed"
ok "the state database exists" test -s .sutra/state.db
leaks=$(grep -rl "VERYSECRET" "$TEST_DIR/work" "$HOME" "$XDG_DATA_HOME" \
	2>/dev/null)
is "$leaks" "" "no file the runs left holds the key (database included)"
rows=$(python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]);
print(c.execute("select count(*) from llm_calls").fetchone()[0])' \
	.sutra/state.db)
ok "calls were recorded ($rows rows)" test "$rows" -ge 10

done_testing
