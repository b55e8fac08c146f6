#!/bin/sh
# Agents that talk to models: ctx.llm.chat from Lua, the llm plugin agent
# (templates, JSON checked against a schema with one repair), permissions,
# and the journal that keeps a resumed step from paying twice.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

start_fakellm

cat > sutra.yaml <<YAML
llm:
  default: local
  retries: 0
  cache: false
  providers:
    - {name: local, kind: openai, base_url: "http://127.0.0.1:$PORT/v1", model: m}
YAML

mkagent asker 'return { run = function(input, ctx)
  local r = ctx.llm.chat{messages = {{role = "user", content = input.q}}}
  return {text = r.text, tokens = r.usage.input + r.usage.output}
end }' llm
sutra agent run asker --input '{"q":"hi there"}'
is "$rc" 0 "a Lua agent with the llm permission calls the model"
is "$out" '{"text":"echo: hi there","tokens":15}' "and gets the answer and usage"

mkagent nollm 'return { run = function(input, ctx) return ctx.llm.chat{prompt = "x"} end }'
sutra agent run nollm
like "$err" "permission 'llm' not granted" "without the permission it cannot"

sutra agent run llm --input '{"prompt":"Say {{ word }} to {{ who.name }}","vars":{"word":"hello","who":{"name":"Ann"}}}'
is "$(printf '%s' "$out" | json 'd["text"]')" "echo: Say hello to Ann" "the llm plugin agent renders its prompt template"
is "$(printf '%s' "$out" | json 'd["repaired"]')" False "and needs no repair for text"

ctl script '{"steps": [{"text": "{\"name\": \"Ann\", \"age\": 7}"}]}' >/dev/null
sutra agent run llm --input '{"prompt":"a person","schema":{"type":"object","required":["name","age"],"properties":{"age":{"type":"integer"}}}}'
is "$(printf '%s' "$out" | json 'd["json"]')" "{'name': 'Ann', 'age': 7}" "a JSON answer matching the schema is parsed"

ctl reset >/dev/null
ctl script '{"steps": [{"text": "{\"name\": \"Ann\"}"}, {"text": "```json\n{\"name\": \"Ann\", \"age\": 8}\n```"}]}' >/dev/null
sutra agent run llm --input '{"prompt":"a person","schema":{"type":"object","required":["name","age"]}}'
is "$(printf '%s' "$out" | json 'd["json"]["age"]')" 8 "an answer missing a field gets one repair"
is "$(printf '%s' "$out" | json 'd["repaired"]')" True "and says it was repaired"
like "$(ctl log | json 'd[1]["body"]["messages"][-1]["content"]')" "lacks the field 'age'" "the repair request says what was wrong"

ctl reset >/dev/null
ctl script '{"steps": [{"text": "no"}, {"text": "still no"}]}' >/dev/null
sutra agent run llm --input '{"prompt":"a person","schema":{"type":"object","required":["name"]}}'
is "$rc" 1 "an answer that stays wrong after the repair fails the agent"
like "$err" "did not match the schema after one repair: it is not JSON" "saying why"

sutra agent run llm --input '{}'
is "$rc" 2 "the llm agent checks its input schema"

# A chain whose step calls the model is journaled: replay asks nothing.
ctl reset >/dev/null
cat > ask.yaml <<'Y'
name: ask
steps:
  - {id: q, agent: asker, with: {q: "journal me"}}
Y
sutra run ask.yaml
is "$out" '{"text":"echo: journal me","tokens":15}' "a chain step calls the model"
sutra replay last
is "$rc" 0 "replay finds no divergence"
is "$(ctl log | json 'len(d)')" 1 "and sends no request: the result comes from the journal"

done_testing
