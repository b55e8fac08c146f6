#!/bin/sh
# The headline job end to end, against the fake provider: the model
# writes buggy code, the sandbox runs its tests, the failure is diagnosed,
# the model fixes it, the tests pass, and the report says so; then the
# budget stop, and replay of the run offline.
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

start_fakellm

export SELFHEAL_KEY=sk-test-selfheal
cat > sutra.yaml <<YAML
llm:
  default: local
  retries: 0
  providers:
    - {name: local, kind: openai, base_url: "http://127.0.0.1:$PORT/v1",
       model: coder, api_key_env: SELFHEAL_KEY,
       price: {input_per_mtok: 1000, output_per_mtok: 2000}}
YAML

# A model's answer: {"files": {...}} as JSON text inside the reply text.
answer() {
	python3 -c '
import json, sys
files = {}
for pair in sys.argv[1:]:
    name, path = pair.split("=", 1)
    files[name] = open(path).read()
print(json.dumps({"text": "```json\n" + json.dumps({"files": files, "notes": "n"}) + "\n```"}))
' "$@"
}

cat > solution_bad.py <<'PY'
def add(a, b):
    return a - b
PY
cat > solution_good.py <<'PY'
def add(a, b):
    return a + b
PY
cat > test_solution.py <<'PY'
import unittest
from solution import add

class TestAdd(unittest.TestCase):
    def test_small(self):
        self.assertEqual(add(2, 3), 5)

    def test_zero(self):
        self.assertEqual(add(0, 0), 0)
PY
gen=$(answer solution.py=solution_bad.py test_solution.py=test_solution.py)
fix=$(answer solution.py=solution_good.py)
ctl script "{\"steps\": [$gen, $fix]}" >/dev/null

sutra run "$SUTRA_SRCDIR/chains/selfheal.yaml" -i spec="add two numbers" -i language=python
is "$rc" 0 "the self-healing chain exits 0"
is "$(printf '%s' "$out" | json 'd["status"]')" green "the code ends green"
is "$(printf '%s' "$out" | json 'len(d["rounds"])')" 2 "after two rounds"
is "$(printf '%s' "$out" | json 'd["rounds"][0]["passed"]')" False "round 1 was red"
like "$(printf '%s' "$out" | json 'd["rounds"][0]["summary"]')" "1 of 2 tests fail" "the diagnosis says what failed"
is "$(printf '%s' "$out" | json 'd["rounds"][1]["summary"]')" "all 2 tests pass" "round 2 is green"
like "$(printf '%s' "$out" | json 'd["files"]["solution.py"]')" "a \+ b" "the report holds the fixed file"
is "$(printf '%s' "$out" | json 'd["rounds"][0]["llm"]["calls"]')" 2 "round 1 paid for the generation and the fix"
is "$(printf '%s' "$out" | json 'd["rounds"][1]["llm"]["calls"]')" 0 "round 2 (green) paid nothing"
ok "tokens and cost are counted" test "$(printf '%s' "$out" | json 'd["tokens"] > 0 and d["cost_usd"] > 0')" = True
requests=$(ctl log | json 'len(d)')
is "$requests" 2 "the model was asked twice: generate, fix"
like "$(ctl log | json 'd[1]["body"]["messages"][-1]["content"]')" "test test_small failed: AssertionError: -1 != 5" "the fixer's prompt carries the diagnosis"

sutra memory get selfheal:last
is "$(printf '%s' "$out" | json 'd["status"]')" green "the report is saved in session memory"

sutra replay last
is "$rc" 0 "replay of the run matches, offline"
is "$(ctl log | json 'len(d)')" 2 "and asks the model nothing"

sutra runs show last
like "$out" "heal#1/fix +ok" "runs show lists every round's steps"
like "$out" "llm +2 calls" "with the llm calls of the run"

# Identical requests at temperature 0 are answered from the cache.
ctl reset >/dev/null
sutra run "$SUTRA_SRCDIR/chains/selfheal.yaml" -i spec="add two numbers" -i language=python
is "$(printf '%s' "$out" | json 'd["status"]')" green "the same spec again is green"
is "$(ctl log | json 'len(d)')" 0 "from the response cache, without asking the model"

# A model that never fixes it: red after the rounds, and the report says so.
ctl reset >/dev/null
gen=$(answer solution.py=solution_bad.py test_solution.py=test_solution.py)
ctl script "{\"steps\": [$gen], \"default\": $gen}" >/dev/null
sutra run "$SUTRA_SRCDIR/chains/selfheal.yaml" -i spec="add, stubbornly" -i rounds=2
is "$rc" 0 "a run that stays red still reports"
is "$(printf '%s' "$out" | json 'd["status"]')" red "and says red"
is "$(ctl log | json 'len(d)')" 2 "one generation, one fix for two rounds"

# An answer that is not JSON gets one repair request.
ctl reset >/dev/null
gen=$(answer solution.py=solution_good.py test_solution.py=test_solution.py)
ctl script "{\"steps\": [{\"text\": \"Sure! Here is the code.\"}, $gen]}" >/dev/null
sutra run "$SUTRA_SRCDIR/chains/selfheal.yaml" -i spec="add, after some prose"
is "$(printf '%s' "$out" | json 'd["status"]')" green "a model that answers prose first is asked again"
like "$(ctl log | json 'd[1]["body"]["messages"][-1]["content"]')" "not valid: it is not a JSON object" "saying what was wrong"

# The budget stop: the generation spends the chain's whole budget, so the
# fixer's call is refused before it costs anything.
ctl reset >/dev/null
sed 's/^defaults: {timeout: 5m}/budget: {usd: 0.5}\ndefaults: {timeout: 5m}/' "$SUTRA_SRCDIR/chains/selfheal.yaml" > budget.yaml
gen=$(answer solution.py=solution_bad.py test_solution.py=test_solution.py | python3 -c '
import json, sys
d = json.load(sys.stdin); d["usage"] = {"input": 1000, "output": 1000}; print(json.dumps(d))')
fix=$(answer solution.py=solution_good.py)
ctl script "{\"steps\": [$gen, $fix]}" >/dev/null
sutra run budget.yaml -i spec="add, on a budget"
is "$rc" 1 "a budget stops the run (on_error: continue does not apply)"
like "$err" "^sutra: error: step 'heal#1/fix': agent 'fixer': .*chain budget usd 0.5000 exceeded \(spent 3.0000\)" "naming the step and the budget"
is "$(ctl log | json 'len(d)')" 1 "the model was not asked past the budget"
sutra runs show last
like "$out" "heal#1/fix +failed .*chain budget usd 0.5000 exceeded \(spent 3.0000\)" "the fix step says which budget stopped it"

# C: the same loop with a compiler error to fix.
ctl reset >/dev/null
cat > bad.c <<'C'
#include "solution.h"
int add(int a, int b) { return a + b }
C
cat > good.c <<'C'
#include "solution.h"
int add(int a, int b) { return a + b; }
C
printf 'int add(int a, int b);\n' > solution.h
cat > test_main.c <<'C'
#include <stdio.h>
#include "solution.h"
int main(void)
{
	int ok = add(2, 3) == 5;
	printf("1..1\n%sok 1 - add\n", ok ? "" : "not ");
	return !ok;
}
C
gen=$(answer solution.c=bad.c solution.h=solution.h test_main.c=test_main.c)
fix=$(answer solution.c=good.c)
ctl script "{\"steps\": [$gen, $fix]}" >/dev/null
sutra run "$SUTRA_SRCDIR/chains/selfheal.yaml" -i spec="add in C" -i language=c
is "$(printf '%s' "$out" | json 'd["status"]')" green "a C program is fixed too"
like "$(printf '%s' "$out" | json 'd["rounds"][0]["summary"]')" "does not build" "after a build error was diagnosed"

done_testing
