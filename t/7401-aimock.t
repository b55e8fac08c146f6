#!/bin/sh
# The LLM layer against an independent implementation of both wire
# formats: the @copilotkit/aimock npm package (pinned; .ci/run installs it
# into _aimock/ when npm is there, or set SUTRA_AIMOCK to its cli.js).
# Skips cleanly without node or the package.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

AIMOCK=${SUTRA_AIMOCK:-$SUTRA_SRCDIR/_aimock/node_modules/@copilotkit/aimock/dist/cli.js}
command -v node >/dev/null || skip_all "node not available"
[ -f "$AIMOCK" ] || skip_all "aimock not installed (see .ci/run)"
command -v python3 >/dev/null || skip_all "python3 not available"

cat > fixtures.json <<'JSON'
{"fixtures": [
 {"match": {"userMessage": "hello"}, "response": {"content": "Hello! How can I help you today?"}},
 {"match": {"toolName": "get_weather"},
  "response": {"toolCalls": [{"name": "get_weather", "arguments": {"location": "Paris"}}]}}
]}
JSON
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
node "$AIMOCK" -h 127.0.0.1 -p "$PORT" -f fixtures.json --log-level warn >aimock.log 2>&1 &
MOCK=$!
trap 'kill $MOCK 2>/dev/null; wait $MOCK 2>/dev/null; cleanup' EXIT
for _ in $(seq 100); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null && break
	sleep 0.1
done

cat > sutra.yaml <<YAML
llm:
  default: openai
  retries: 0
  cache: false
  providers:
    - {name: openai, kind: openai, base_url: "http://127.0.0.1:$PORT/v1", model: gpt-4o}
    - {name: anthropic, kind: anthropic, base_url: "http://127.0.0.1:$PORT", model: claude-sonnet-4-5}
YAML

for provider in openai anthropic; do
	sutra llm chat --provider $provider hello
	is "$out" "Hello! How can I help you today?" "$provider wire format: a plain answer"
	sutra llm chat --provider $provider --stream hello
	is "$out" "Hello! How can I help you today?" "$provider wire format: the same answer streamed"
done

mkagent weather 'return { run = function(input, ctx)
  local r = ctx.llm.chat{provider = input.provider, prompt = "weather?",
    tools = {{name = "get_weather", description = "the weather",
              parameters = {type = "object", properties = {location = {type = "string"}}}}}}
  local c = r.tool_calls[1]
  return {name = c.name, location = c.arguments.location, finish = r.finish_reason}
end }' llm
for provider in openai anthropic; do
	sutra agent run weather --input "{\"provider\":\"$provider\"}"
	is "$out" '{"finish":"tool_calls","location":"Paris","name":"get_weather"}' "$provider wire format: a tool call with parsed arguments"
done

done_testing
