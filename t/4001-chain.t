#!/bin/sh
# Chains: every construct, run through `sutra run`.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

mkagent flaky 'return { run = function(input, ctx)
  if ctx.attempt < (input.succeed_on or 1) then error("attempt " .. ctx.attempt .. " fails", 0) end
  return {attempt = ctx.attempt}
end }'
mkagent boom 'return { run = function(input) error("boom: " .. tostring(input.why), 0) end }'
mkagent add 'return { run = function(input) return {sum = (input.a or 0) + (input.b or 0)} end }'
mkagent remember 'return { run = function(input, ctx)
  local seen = ctx.memory.get("seen") or {}
  seen[#seen + 1] = input.v
  ctx.memory.set("seen", seen)
  return #seen
end }' memory

cat > seq.yaml <<'Y'
name: seq
inputs:
  a: {type: integer, required: true}
  b: {type: integer, default: 10}
  word: string
steps:
  - id: first
    agent: add
    with: {a: "${{ inputs.a }}", b: "${{ inputs.b }}"}
  - id: second
    agent: add
    with: {a: "${{ steps.first.output.sum }}", b: 1}
  - id: text
    agent: echo
    with: {msg: "sum=${{ steps.second.output.sum }} half=${{ steps.second.output.sum / 2 }} w=${{ inputs.word }}", nested: {list: ["${{ inputs.a }}", "x${{ inputs.a }}"]}}
output:
  total: "${{ steps.second.output.sum }}"
  text: "${{ steps.text.output }}"
Y
sutra run seq.yaml -i a=5
is "$rc" 0 "a sequential chain runs"
is "$out" '{"total":16,"text":{"msg":"sum=16 half=8 w=","nested":{"list":[5,"x5"]}}}' "templates keep types, interpolate integers without a point, nested"

sutra run seq.yaml -i a=5 -i b=-2 -i word=hi
like "$out" '"total":4' "-i converts by the declared type"
like "$out" 'w=hi' "strings interpolate"

sutra run seq.yaml --input '{"a": 1, "b": 2}'
like "$out" '"total":4' "--input gives inputs as JSON"

sutra run seq.yaml -i a=five
is "$rc" 2 "an input that does not convert exits 2"
like "$err" "input 'a': 'five' is not an integer" "and names the input"

sutra run seq.yaml
is "$rc" 2 "a missing required input exits 2"
like "$err" "seq.yaml:3:3: input 'a' is required" "naming its declaration"

sutra run seq.yaml --input '{"a": "x"}'
is "$rc" 2 "an input of the wrong type exits 2"
like "$err" "input 'a': expected integer, got string" "and says so"

sutra run nothere.yaml
is "$rc" 2 "a missing chain file exits 2"
like "$err" "chain file 'nothere.yaml' not found" "and names it"

cat > cond.yaml <<'Y'
name: cond
inputs: {n: {type: integer, default: 1}}
steps:
  - id: big
    if: "inputs.n > 10"
    agent: echo
    with: {never: "${{ steps.nope.output }}"}
  - id: small
    if: "inputs.n <= 10"
    agent: echo
    with: {size: small}
  - id: route
    switch:
      - when: "inputs.n == 1"
        steps: [{id: one, agent: echo, with: {v: 1}}]
      - when: "inputs.n == 2"
        steps: [{id: two, agent: echo, with: {v: 2}}]
      - else: [{id: other, agent: echo, with: {v: other}}]
output: {big: "${{ steps.big.status }}", small: "${{ steps.small.output.size }}", route: "${{ steps.route.output.v }}", one: "${{ steps.one and steps.one.status }}"}
Y
sutra run cond.yaml
is "$rc" 2 "a reference to an unknown step fails validation"
like "$err" "cond.yaml:7:19: reference to unknown step 'nope'" "at its line and column"
sed -i 's/steps.nope.output/inputs.n/' cond.yaml
sutra run cond.yaml
is "$out" '{"big":"skipped","small":"small","route":1,"one":"ok"}' "if skips, switch takes the first true case"
sutra run cond.yaml -i n=2
like "$out" '"route":2' "the second case"
sutra run cond.yaml -i n=7
like "$out" '"route":"other","one":"pending"' "else, and untaken branches have not run"

cat > retry.yaml <<'Y'
name: retry
steps:
  - id: r
    agent: flaky
    retry: {max: 2, backoff: 10ms}
    with: {succeed_on: 3}
  - id: gone
    agent: flaky
    retry: {max: 1, backoff: 1ms}
    with: {succeed_on: 5}
    on_error: continue
  - id: after
    agent: echo
    with: {r: "${{ steps.r.attempts }}", gone: "${{ steps.gone.status }}", gone_attempts: "${{ steps.gone.attempts }}", err: "${{ steps.gone.error }}"}
Y
sutra run retry.yaml
is "$rc" 0 "retries and on_error: continue"
is "$out" '{"err":"step '"'gone'"': agent '"'flaky'"': attempt 2 fails","gone":"failed","gone_attempts":2,"r":3}' "max 2 means 3 attempts; a continued failure records status, attempts and error"

cat > fail.yaml <<'Y'
name: fail
steps:
  - id: ok1
    agent: echo
  - id: bad
    agent: boom
    with: {why: "${{ 6 * 7 }}"}
  - id: never
    agent: remember
    with: {v: 1}
Y
sutra run fail.yaml
is "$rc" 1 "a failing step fails the chain (exit 1)"
is "$err" "sutra: error: step 'bad': agent 'boom': boom: 42" "one line naming the step and the agent"
sutra memory get seen
is "$rc" 1 "steps after the failure did not run"

cat > loop.yaml <<'Y'
name: loop
inputs: {rounds: {type: integer, default: 5}}
steps:
  - id: fix
    loop: {until: "steps.count.output >= 3", max: "${{ inputs.rounds }}"}
    steps:
      - id: count
        agent: remember
        with: {v: "${{ loop.iteration }}"}
      - id: note
        agent: echo
        with: {it: "${{ loop.iteration }}", prev: "${{ steps.count.output }}"}
output: "${{ steps.fix.output }}"
Y
sutra run loop.yaml
is "$out" '{"it":3,"prev":3}' "loop runs until 'until' holds; output is the last iteration's last step"
sutra memory get seen
is "$out" '[1,2,3]' "loop.iteration counts from 1"
sutra memory del seen
sutra run loop.yaml -i rounds=2
is "$rc" 1 "a loop that reaches max without until fails"
like "$err" "step 'fix': loop reached max 2 iterations without 'until' holding" "and says so"

cat > map.yaml <<'Y'
name: map
steps:
  - id: each
    map: "${{ {3, 1, 2} }}"
    agent: add
    with: {a: "${{ item }}", b: "${{ index * 100 }}"}
  - id: body
    map: "${{ steps.each.output }}"
    max_parallel: 2
    steps:
      - {id: doubled, agent: add, with: {a: "${{ item.sum }}", b: "${{ item.sum }}"}}
      - {id: labelled, agent: echo, with: {i: "${{ index }}", v: "${{ steps.doubled.output.sum }}"}}
output: {each: "${{ steps.each.output }}", body: "${{ steps.body.output }}"}
Y
sutra run map.yaml
is "$out" '{"each":[{"sum":103},{"sum":201},{"sum":302}],"body":[{"i":1,"v":206},{"i":2,"v":402},{"i":3,"v":604}]}' "map runs per item, output in item order, steps inside see their own item"

cat > par.yaml <<'Y'
name: par
steps:
  - id: fan
    parallel:
      - {id: a, agent: add, with: {a: 1, b: 1}}
      - {id: b, agent: add, with: {a: 2, b: 2}}
      - id: c
        loop: {max: 2}
        steps: [{id: c1, agent: add, with: {a: "${{ loop.iteration }}"}}]
  - id: join
    agent: echo
    with: {a: "${{ steps.a.output.sum }}", b: "${{ steps.b.output.sum }}", all: "${{ steps.fan.output }}"}
Y
sutra run par.yaml
is "$out" '{"a":2,"all":[{"sum":2},{"sum":4},{"sum":2}],"b":4}' "parallel output is a list in declaration order"

mkdir -p sub
cat > sub/inner.yaml <<'Y'
name: inner
inputs: {x: {type: integer, required: true}}
steps:
  - {id: twice, agent: add, with: {a: "${{ inputs.x }}", b: "${{ inputs.x }}"}}
output: "${{ steps.twice.output.sum }}"
Y
cat > sub/outer.yaml <<'Y'
name: outer
steps:
  - id: call
    chain: inner.yaml
    with: {x: 21}
output: "${{ steps.call.output }}"
Y
sutra run sub/outer.yaml
is "$out" 42 "a sub-chain runs with its inputs; its path is relative to the parent"

cat > sub/missing.yaml <<'Y'
name: missing
steps:
  - {id: call, chain: inner.yaml}
Y
sutra run sub/missing.yaml
is "$rc" 2 "a sub-chain without its required input fails validation"
like "$err" "sub-chain input 'x' is required" "and says which"

cat > sub/self.yaml <<'Y'
name: self
steps:
  - {id: again, chain: self.yaml}
Y
sutra run sub/self.yaml
is "$rc" 2 "a chain that includes itself is refused"
like "$err" "self.yaml:3:24: sub-chain 'sub/self.yaml' includes itself" "with the position"

cat > nested.yaml <<'Y'
name: nested
steps:
  - id: outer
    map: "${{ {1, 2} }}"
    steps:
      - id: inner
        parallel:
          - id: l
            loop: {until: "loop.iteration >= 2", max: 3}
            steps: [{id: l1, agent: add, with: {a: "${{ item }}", b: "${{ loop.iteration }}"}}]
          - {id: p, agent: add, with: {a: "${{ item * 10 }}"}}
output: "${{ steps.outer.output }}"
Y
sutra run nested.yaml
is "$out" '[[{"sum":3},{"sum":10}],[{"sum":4},{"sum":20}]]' "loops inside parallel inside map"

cat > sess.yaml <<'Y'
name: sess
steps:
  - {id: r, agent: remember, with: {v: "${{ session }}"}}
Y
sutra run sess.yaml --session alpha
sutra memory get seen --session alpha
is "$out" '["alpha"]' "--session selects the memory session, and expressions see it"

cat > nulls.yaml <<'Y'
name: nulls
steps:
  - {id: a, agent: echo, with: {x: null, list: [1, null]}}
  - {id: b, agent: echo, if: "steps.a.output.x", with: {ran: true}}
  - {id: c, agent: echo, with: {x: "${{ steps.a.output.x and 'yes' or 'no' }}", n: "${{ #steps.a.output.list }}"}}
output: {b: "${{ steps.b.status }}", c: "${{ steps.c.output }}"}
Y
sutra run nulls.yaml
is "$out" '{"b":"skipped","c":{"n":1,"x":"no"}}' "JSON null is nil in expressions: false in if and in and/or"

cat > budgetstep.yaml <<'Y'
name: budgetstep
steps:
  - {id: slow, agent: spin, budget: {wall: 150ms}, retry: {max: 3, backoff: 1ms}}
Y
mkagent spin 'return { run = function() while true do end end }'
sutra run budgetstep.yaml
is "$rc" 1 "a step over its wall budget fails"
like "$err" "step 'slow': exceeded its wall budget of 150 ms" "naming the budget, not retrying a timeout"

cat > exprerr.yaml <<'Y'
name: exprerr
steps:
  - {id: a, agent: echo}
  - {id: b, agent: echo, with: {x: "${{ steps.a.output.missing.deeper }}"}}
Y
sutra run exprerr.yaml
is "$rc" 1 "an expression that raises fails its step"
like "$err" "step 'b': expression 'steps.a.output.missing.deeper': attempt to index a nil value" "naming the step and the expression"

done_testing
