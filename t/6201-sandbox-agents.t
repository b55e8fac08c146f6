#!/bin/sh
# Agents and the sandbox: ctx.sandbox.run only with the permission, no
# host files through it, and the codetest agent's counts from the
# collected report (unittest, pytest summary, TAP, JUnit XML).
. "${SUTRA_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
. "$SUTRA_SRCDIR/t/sandbox.sh"

mkagent runner 'return { run = function(input, ctx)
  return ctx.sandbox.run{cmd = {"/bin/sh", "-c", input.script},
                         files = {["in.txt"] = "hello"},
                         collect = ctx.json.array{"out.txt"},
                         limits = {time = 5}}
end }' sandbox
mkagent nosandbox 'return { run = function(input, ctx)
  return {has = ctx.sandbox ~= nil}
end }'
mkagent sneaky 'return { run = function(input, ctx)
  return ctx.sandbox.run{cmd = {"/bin/true"}, dir = "/etc"}
end }' sandbox

sutra agent run runner --input '{"script": "tr a-z A-Z <in.txt >out.txt; cat out.txt"}'
is "$rc" 0 "an agent with the permission runs"
is "$(jget status)" ok "... gets the verdict"
is "$(jget stdout)" HELLO "... of its files"
is "$(jget 'files>out.txt')" HELLO "... and what it collected"

sutra agent run runner --input '{"script": "exit 4"}'
is "$rc" 0 "a failing program is a verdict, not an agent error"
is "$(jget status)" failed "... status failed"
is "$(jget exit_code)" 4 "... with its exit code"

sutra agent run nosandbox
is "$rc" 1 "no permission: ctx.sandbox is refused"
like "$err" "permission 'sandbox' not granted" "... naming the permission"

sutra agent run sneaky
is "$rc" 1 "an agent may not read host dirs into the sandbox"
like "$err" "'dir' is not available to agents" "... says so"

# codetest: unittest, with one failure and one skip.
cat >ut.json <<'JSON'
{"files": {"calc.py": "def add(a, b):\n    return a + b\n",
           "test_calc.py": "import unittest\nfrom calc import add\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(1, 2), 3)\n    def test_bad(self):\n        self.assertEqual(add(1, 1), 3)\n    @unittest.skip('later')\n    def test_skip(self):\n        pass\n"},
 "cmd": ["python3", "-m", "unittest", "-v"]}
JSON
sutra agent run codetest --input @ut.json
is "$rc" 0 "codetest runs unittest"
is "$(jget 'verdict>status')" failed "... the verdict says failed"
is "$(jget counts)" '{"errors": 0, "failed": 1, "framework": "unittest", "passed": 1, "skipped": 1, "total": 3}' \
	"... counts from the collected report"
is "$(jget passed)" false "... not passed"

# A pytest-style summary whose stdout is cut to head and tail: the
# counts still come from the full report.
cat >py.json <<'JSON'
{"files": {"t.py": "print('x' * 3000)\nprint('==== 7 passed, 2 failed, 1 skipped, 1 error in 0.42s ====')\n"},
 "cmd": ["python3", "t.py"], "framework": "pytest",
 "limits": {"capture_kb": 1}}
JSON
sutra agent run codetest --input @py.json
is "$(jget 'verdict>truncated')" true "pytest: stdout truncated"
is "$(jget counts)" '{"errors": 1, "failed": 2, "framework": "pytest", "passed": 7, "skipped": 1, "total": 11}' \
	"pytest: summary parsed from the report"

cat >tap.json <<'JSON'
{"files": {"t.sh": "echo 1..4; echo ok 1 - a; echo 'not ok 2 - b'; echo 'ok 3 # SKIP no'; echo 'not ok 4 # TODO later'\n"},
 "cmd": ["/bin/sh", "t.sh"], "profile": "shell"}
JSON
sutra agent run codetest --input @tap.json
is "$(jget counts)" '{"errors": 0, "failed": 1, "framework": "tap", "passed": 2, "skipped": 1, "total": 4}' \
	"TAP parsed"

cat >junit.json <<'JSON'
{"files": {"t.sh": "printf '<testsuites><testsuite name=\"a\" tests=\"5\" failures=\"0\" errors=\"0\" skipped=\"1\"></testsuite></testsuites>' >junit.xml; echo 'ok 1'; echo 'not ok 2'\n"},
 "cmd": ["/bin/sh", "t.sh"], "profile": "shell", "report": "junit.xml"}
JSON
sutra agent run codetest --input @junit.json
is "$(jget counts)" '{"errors": 0, "failed": 0, "framework": "junit", "passed": 4, "skipped": 1, "total": 5}' \
	"JUnit XML report preferred to stdout"
is "$(jget passed)" true "... all passed"

cat >plant.json <<'JSON'
{"files": {"t.sh": "ln -s /etc/passwd junit.xml; echo done\n"},
 "cmd": ["/bin/sh", "t.sh"], "profile": "shell", "report": "junit.xml"}
JSON
sutra agent run codetest --input @plant.json
like "$(jget problem)" "not collected: a symlink" "a symlinked report is refused"
is "$(jget passed)" false "... and nothing passes"
is "$(ls -A "$SBX_TMP")" "" "work dirs removed"

done_testing
