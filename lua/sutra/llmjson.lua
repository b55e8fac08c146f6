-- sutra.llmjson: ask a model for a JSON object, check it, and ask once
-- more (saying what was wrong) when it is not right.
--
--   local llmjson = require("sutra.llmjson")
--   local obj, resp = llmjson.ask(ctx, request, check)
--
-- request is a ctx.llm.chat request; check(obj) returns nil when obj is
-- good, or a sentence saying what is wrong.  Returns the object and the
-- last response, and adds up usage and cost over both calls in
-- resp.spent = {tokens_in, tokens_out, cost_usd, calls}.  Raises when the
-- second answer is still wrong.
local M = {}

-- The JSON object in a model's text: the whole text, or the part between
-- the first "{" and the last "}" (models like ```json fences).
function M.parse(text)
  local ok, v = pcall(json.decode, text)
  if ok and type(v) == "table" then return v end
  local inner = text:match("^[^{]*(%b{})")
  if not inner then
    local s, e = text:find("{", 1, true), nil
    for i = #text, 1, -1 do
      if text:sub(i, i) == "}" then e = i break end
    end
    if s and e and e > s then inner = text:sub(s, e) end
  end
  if inner then
    ok, v = pcall(json.decode, inner)
    if ok and type(v) == "table" then return v end
  end
  return nil
end

local function add(spent, resp)
  local u = resp.usage or {}
  spent.tokens_in = spent.tokens_in + (u.input or 0)
  spent.tokens_out = spent.tokens_out + (u.output or 0)
  spent.cost_usd = spent.cost_usd + (resp.cost_usd or 0)
  spent.calls = spent.calls + 1
end

function M.ask(ctx, request, check)
  local spent = {tokens_in = 0, tokens_out = 0, cost_usd = 0, calls = 0}
  local resp = ctx.llm.chat(request)
  add(spent, resp)
  local obj = M.parse(resp.text or "")
  local why = obj and check(obj) or (obj == nil and "it is not a JSON object")
  if why then
    local messages = {}
    for _, m in ipairs(request.messages or {}) do messages[#messages + 1] = m end
    messages[#messages + 1] = {role = "assistant", content = resp.text or ""}
    messages[#messages + 1] = {role = "user", content =
      "That answer is not valid: " .. why ..
      ". Reply with only the JSON object, nothing else."}
    local again = {}
    for k, v in pairs(request) do again[k] = v end
    again.messages = messages
    resp = ctx.llm.chat(again)
    add(spent, resp)
    obj = M.parse(resp.text or "")
    why = obj and check(obj) or (obj == nil and "it is not a JSON object")
    if why then error("the model's answer is still not valid: " .. why, 0) end
  end
  resp.spent = spent
  return obj, resp
end

-- Checks {files = {NAME = TEXT, ...}}: relative names, text contents.
function M.check_files(obj, need_files)
  if type(obj.files) ~= "table" or (need_files and next(obj.files) == nil) then
    return "'files' must be an object of file name to content"
  end
  for name, text in pairs(obj.files) do
    if type(name) ~= "string" or name:sub(1, 1) == "/" or name:find("..", 1, true) then
      return "file name '" .. tostring(name) .. "' must be relative, inside the project"
    end
    if type(text) ~= "string" then
      return "the content of '" .. name .. "' must be a string"
    end
  end
  return nil
end

return M
