#!/bin/sh
# Chain validation: every problem, with its exact FILE:LINE:COL, before
# anything runs.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

mkagent mark 'return { run = function(input, ctx) ctx.memory.set("ran", true) return 1 end }' memory

cat > bad.yaml <<'Y'
name: bad
inputs:
  n: {type: integr}
  m: {type: integer, default: "x"}
defaults: {timeout: 10 parsecs}
steps:
  - id: first
    agent: mark
    colour: blue
  - id: first
    agent: echo
  - id: Bad-Id
    agent: echo
  - id: end
    agent: echo
  - id: two
    agent: echo
    chain: x.yaml
  - id: none
    with: {}
  - id: ghost
    agent: nosuch
  - id: slow
    agent: echo
    timeout: soon
    retry: {max: -1, backoff: 1x}
    on_error: ignore
  - id: syntax
    agent: echo
    with: {x: "${{ 1 + }}"}
  - id: forward
    agent: echo
    with: {x: "${{ steps.later.output }}"}
  - id: later
    agent: echo
  - id: fan
    parallel:
      - {id: left, agent: echo}
      - {id: right, agent: echo, with: {x: "${{ steps.left.output }}"}}
  - id: loopy
    loop: {until: "true"}
    steps: [{id: body, agent: echo}]
  - id: route
    switch:
      - when: "true"
        steps: [{id: yes, agent: echo}]
      - else: [{id: no, agent: echo, with: {x: "${{ steps.yes.output }}"}}]
  - id: items
    map: "${{ {1} }}"
    steps: [{id: inside, agent: echo}]
  - id: outside
    agent: echo
    with: {x: "${{ steps.inside.output }}"}
  - id: sub
    chain: nowhere.yaml
  - id: cond
    if: "steps.route.output =="
    agent: echo
Y
sutra chain validate bad.yaml
is "$rc" 2 "an invalid chain exits 2"
like "$err" "bad.yaml:3:6: input 'n': unknown type" "unknown input type"
like "$err" "bad.yaml:4:31: default of input 'm': expected integer, got string" "default of the wrong type"
like "$err" "bad.yaml:5:21: timeout: '10 parsecs' is not a duration" "bad duration in defaults"
like "$err" "bad.yaml:9:5: unknown key 'colour' in step" "unknown key"
like "$err" "bad.yaml:10:5: duplicate step id 'first' \(first at line 7\)" "duplicate id"
like "$err" "bad.yaml:12:9: invalid step id 'Bad-Id'" "malformed id"
like "$err" "bad.yaml:14:9: invalid step id 'end'" "a Lua keyword as id"
like "$err" "bad.yaml:16:5: step 'two' must have exactly one of agent, parallel, loop, map, chain, switch, ask \(has 2\)" "two kinds"
like "$err" "bad.yaml:19:5: step 'none' must have exactly one .* \(has 0\)" "no kind"
like "$err" "bad.yaml:22:12: step 'ghost': agent 'nosuch' not found in catalog" "unknown agent"
like "$err" "bad.yaml:25:14: timeout: 'soon' is not a duration" "bad step timeout"
like "$err" "bad.yaml:26:18: retry max must be an integer of at least 0" "bad retry max"
like "$err" "bad.yaml:26:31: retry backoff: '1x' is not a duration" "bad backoff"
like "$err" "bad.yaml:27:15: on_error must be 'fail' or 'continue'" "bad on_error"
like "$err" "bad.yaml:30:15: bad expression '1 \+': unexpected symbol near <eof>" "an expression that does not compile"
like "$err" "bad.yaml:33:15: step 'later' is referenced where it cannot have run" "a reference to a later step"
like "$err" "bad.yaml:39:44: step 'left' is referenced where it cannot have run" "a reference to a sibling parallel branch"
like "$err" "bad.yaml:41:11: loop 'loopy' needs 'max'" "a loop without max"
like "$err" "bad.yaml:47:48: step 'yes' is referenced where it cannot have run" "a reference into another switch branch"
like "$err" "bad.yaml:53:15: step 'inside' is referenced where it cannot have run" "a reference into a map from outside"
like "$err" "bad.yaml:55:12: sub-chain 'nowhere.yaml' not found" "a missing sub-chain"
like "$err" "bad.yaml:57:9: bad expression 'steps.route.output ==': unexpected symbol near <eof>" "a bad if"
like "$err" "sutra: error: bad.yaml: 22 problems" "every problem is reported, with a count"

sutra run bad.yaml
is "$rc" 2 "run validates first and exits 2"
sutra memory get ran
is "$rc" 1 "and nothing ran"

printf 'name: [unclosed\n' > syntax.yaml
sutra chain validate syntax.yaml
is "$rc" 2 "a YAML syntax error exits 2"
like "$err" "^syntax.yaml:2:1: " "with its position"

printf 'just a string\n' > scalar.yaml
sutra chain validate scalar.yaml
like "$err" "scalar.yaml:1:1: a chain must be a mapping with 'steps'" "a chain that is not a mapping"

printf 'name: x\nsteps: []\n' > empty.yaml
sutra chain validate empty.yaml
like "$err" "empty.yaml:2:8: steps is empty" "an empty step list"

printf 'name: x\nfoo: 1\nsteps:\n  - {id: a, agent: echo}\n' > topkey.yaml
sutra chain validate topkey.yaml
like "$err" "topkey.yaml:2:1: unknown key 'foo' in chain" "unknown top-level key"

for f in "$SUTRA_SRCDIR"/chains/*.yaml; do
	sutra chain validate "$f"
	is "$rc" 0 "shipped chain $(basename "$f") is valid"
done

sutra chain validate "$SUTRA_SRCDIR/chains/demo.yaml" bad.yaml
is "$rc" 2 "validating several files fails if one fails"
like "$out" "demo.yaml: ok" "and reports the good one"

sutra chain graph "$SUTRA_SRCDIR/chains/demo.yaml"
like "$out" '^digraph "demo"' "graph draws dot"
like "$out" '"analyse" -> "keywords"' "with parallel branches fanning out"
like "$out" 'label="steps.stats.output.words > 40"' "and conditions on edges"
sutra chain graph --format mermaid "$SUTRA_SRCDIR/chains/demo.yaml"
like "$out" '^flowchart TD' "and mermaid"
cat > g.yaml <<'Y'
name: g
steps:
  - id: fix
    loop: {until: "steps.t.output", max: 3}
    steps: [{id: t, agent: echo}]
Y
sutra chain graph g.yaml
like "$out" '"t" -> "fix" \[label="until not", style=dashed' "loops as back edges"
sutra chain graph --format svg g.yaml
is "$rc" 2 "an unknown format exits 2"

done_testing
