-- diagnose: turns a codetest result into a diagnosis a person or a model
-- can act on: which tests failed and why, tracebacks reduced to their
-- last frame, compiler errors, and sandbox verdicts (timeouts, memory,
-- forbidden syscalls).
-- input:  {result = <codetest output>}
-- output: {passed, summary, failures = [{test, message}],
--          errors = [text], details = [text]}

local function lines(text)
  local out = {}
  for l in (text or ""):gmatch("[^\n]*") do out[#out + 1] = l end
  return out
end

-- unittest: "FAIL: test_x (mod.Class.test_x)" blocks up to the next rule.
local function unittest_failures(text, out)
  for kind, test, body in text:gmatch("\n(%u+): ([%w_]+) %b()\n%-+\n(.-)\n\n") do
    if kind == "FAIL" or kind == "ERROR" then
      local last = body:match("([%w_%.]*Error[^\n]*)%s*$") or body:match("([^\n]+)%s*$")
      local where = nil
      for f, n in body:gmatch('File "([^"]+)", line (%d+)') do where = f .. ":" .. n end
      out[#out + 1] = {test = test, message = last, where = where}
    end
  end
end

-- pytest: "FAILED test_x.py::test_y - AssertionError: ..."
local function pytest_failures(text, out)
  for test, msg in text:gmatch("FAILED ([^%s]+) %- ([^\n]+)") do
    out[#out + 1] = {test = test, message = msg}
  end
end

-- TAP: "not ok 2 - name" with "#" lines after it.
local function tap_failures(text, out)
  local ls = lines(text)
  for i, l in ipairs(ls) do
    local name = l:match("^not ok %d+%s*%-?%s*(.*)$")
    if name and not l:match("# TODO") then
      local notes = {}
      for j = i + 1, #ls do
        local c = ls[j]:match("^#%s*(.*)$")
        if not c then break end
        notes[#notes + 1] = c
      end
      out[#out + 1] = {test = name, message = table.concat(notes, " ")}
    end
  end
end

-- gcc/clang: "file.c:12:5: error: ..." (and warnings that -Werror made fatal)
local function compiler_errors(text, out)
  for l in (text or ""):gmatch("[^\n]+") do
    if l:match("^[^:%s]+:%d+:%d+: error: ") or l:match("^[^:%s]+:%d+:%d+: fatal error: ")
       or l:match("undefined reference to") then
      out[#out + 1] = l
    end
  end
end

local verdict_words = {
  timeout = "the tests did not finish in time (wall clock limit)",
  cpu_timeout = "the tests used too much CPU time",
  memory = "the tests ran out of memory",
  output_limit = "the tests printed too much output",
  file_size = "the tests wrote a file that is too large",
  violation = "the program made a forbidden system call",
  signaled = "the program was killed by a signal",
}

return {
  run = function(input)
    local r = input.result or {}
    local v = r.verdict or {}
    local out = (v.files and r.report and v.files[r.report]) or
                ((v.stdout or "") .. "\n" .. (v.stderr or ""))
    local failures, errors = {}, {}
    unittest_failures("\n" .. out, failures)
    pytest_failures(out, failures)
    tap_failures(out, failures)
    compiler_errors(out, errors)
    local c = r.counts or {}
    local summary
    if r.passed then
      summary = string.format("all %d tests pass", c.total or 0)
    elseif verdict_words[v.status] then
      summary = verdict_words[v.status] ..
        (v.syscall and (" (" .. v.syscall .. ")") or "")
    elseif #errors > 0 then
      summary = string.format("the code does not build: %d error(s)", #errors)
    elseif c.total then
      summary = string.format("%d of %d tests fail", (c.failed or 0) + (c.errors or 0), c.total)
    else
      summary = "the tests failed (exit code " .. tostring(v.exit_code) .. ")"
    end
    local details = {}
    for _, f in ipairs(failures) do
      details[#details + 1] = "test " .. f.test .. " failed: " .. (f.message or "") ..
        (f.where and (" at " .. f.where) or "")
    end
    for _, e in ipairs(errors) do details[#details + 1] = e end
    if #details == 0 and not r.passed then
      local tail = out:sub(-1500)
      details[1] = "output:\n" .. tail
    end
    return {passed = r.passed == true, summary = summary,
            failures = json.array(failures), errors = json.array(errors),
            details = json.array(details), counts = c}
  end,
}
