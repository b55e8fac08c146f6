-- codetest: runs code and its tests in the sandbox, and returns the
-- runner's verdict with the test counts.
--
-- The counts come from a report file the runner collects from the work
-- dir after every process of the run is dead - the complete output of the
-- test command (captured stdout keeps only its head and tail), or the
-- command's own report (`report`: a JUnit XML or TAP file) - never from
-- the verdict's stdout alone.  Parsers: pytest's summary line, unittest's
-- "Ran N tests" / "FAILED (...)", TAP, JUnit XML.

local OUTPUT = ".codetest-output"

-- The test command with its stdout and stderr going to OUTPUT in full,
-- then echoed, keeping its exit code.
local function wrap(cmd)
  local argv = {"/bin/sh", "-c",
                'o="$1"; shift; "$@" >"$o" 2>&1; rc=$?; cat "$o"; exit $rc',
                "codetest", OUTPUT}
  for _, a in ipairs(cmd) do argv[#argv + 1] = a end
  return argv
end

local function count(text, word)
  local n = 0
  for k in text:gmatch("(%d+) " .. word) do n = n + tonumber(k) end
  return n
end

local parsers = {}

-- "==== 3 passed, 1 failed, 2 skipped in 0.12s ====" (or -q's bare line)
function parsers.pytest(text)
  local line
  for l in text:gmatch("[^\n]+") do
    if l:match("%d+ passed") or l:match("%d+ failed") or l:match("%d+ errors?")
       or l:match("no tests ran") then
      if l:match(" in [%d%.]+s") then line = l end
    end
  end
  if not line then return nil end
  local c = {passed = count(line, "passed"), failed = count(line, "failed"),
             errors = count(line, "errors?"), skipped = count(line, "skipped")}
  c.total = c.passed + c.failed + c.errors + c.skipped
  return c
end

-- "Ran 4 tests in 0.001s" then "OK (skipped=1)" or "FAILED (failures=1)"
function parsers.unittest(text)
  local ran = text:match("\nRan (%d+) tests? in") or text:match("^Ran (%d+) tests? in")
  if not ran then return nil end
  local c = {total = tonumber(ran), failed = 0, errors = 0, skipped = 0}
  local tail = text:match("\n(FAILED %b())") or text:match("\n(OK %b())") or ""
  c.failed = tonumber(tail:match("failures=(%d+)") or 0)
  c.errors = tonumber(tail:match("errors=(%d+)") or 0)
  c.skipped = tonumber(tail:match("skipped=(%d+)") or 0)
  c.passed = c.total - c.failed - c.errors - c.skipped
  return c
end

-- "1..N", "ok 1 - x", "not ok 2 - y", "# SKIP", "# TODO"
function parsers.tap(text)
  local c = {passed = 0, failed = 0, errors = 0, skipped = 0, total = 0}
  local seen = false
  for line in text:gmatch("[^\n]+") do
    local not_ok, rest = line:match("^(n?o?t? ?)ok%f[%s%d](.*)$")
    if not_ok and (not_ok == "" or not_ok == "not ") then
      seen = true
      c.total = c.total + 1
      local directive = (rest:match("#%s*(%a+)") or ""):upper()
      if directive == "SKIP" then c.skipped = c.skipped + 1
      elseif not_ok == "" or directive == "TODO" then c.passed = c.passed + 1
      else c.failed = c.failed + 1 end
    end
    local plan = line:match("^1%.%.(%d+)")
    if plan then seen = true; c.planned = tonumber(plan) end
  end
  if not seen then return nil end
  -- Tests the plan promised but that never ran count as failures.
  if c.planned and c.planned > c.total then
    c.errors = c.planned - c.total
    c.total = c.planned
  end
  c.planned = nil
  return c
end

-- <testsuite tests="4" failures="1" errors="0" skipped="1"> ...
function parsers.junit(text)
  local c = {total = 0, failed = 0, errors = 0, skipped = 0}
  local found = false
  for attrs in text:gmatch("<testsuite%s([^>]*)>") do
    found = true
    c.total = c.total + tonumber(attrs:match('tests="(%d+)"') or 0)
    c.failed = c.failed + tonumber(attrs:match('failures="(%d+)"') or 0)
    c.errors = c.errors + tonumber(attrs:match('errors="(%d+)"') or 0)
    c.skipped = c.skipped + tonumber(attrs:match('skipped="(%d+)"') or 0)
  end
  if not found then return nil end
  c.passed = c.total - c.failed - c.errors - c.skipped
  return c
end

local order = {"junit", "unittest", "pytest", "tap"}

local function parse(framework, text)
  if framework and framework ~= "auto" then
    local p = parsers[framework]
    if not p then error("unknown framework '" .. framework ..
                        "' (pytest, unittest, tap, junit or auto)") end
    local c = p(text)
    if c then c.framework = framework end
    return c
  end
  for _, name in ipairs(order) do
    local c = parsers[name](text)
    if c then c.framework = name; return c end
  end
  return nil
end

return {
  run = function(input, ctx)
    local collect = {OUTPUT}
    if input.report then collect[#collect + 1] = input.report end
    local request = {
      cmd = wrap(input.cmd),
      files = input.files,
      profile = input.profile or "python",
      collect = ctx.json.array(collect),
    }
    if input.limits then request.limits = input.limits end
    local verdict = ctx.sandbox.run(request)
    local files = verdict.files or {}
    local source = input.report or OUTPUT
    local text = files[source]
    local counts
    if text then counts = parse(input.framework, text) end
    local problem
    if not text then
      problem = "report '" .. source .. "' not collected: " ..
                tostring((verdict.collect_errors or {})[source] or "missing")
    elseif not counts then
      problem = "no test results found in '" .. source .. "'"
    end
    return {
      verdict = verdict,
      counts = counts,
      report = source,
      problem = problem,
      passed = verdict.status == "ok" and counts ~= nil and counts.total > 0
               and counts.failed == 0 and counts.errors == 0,
    }
  end,
}
