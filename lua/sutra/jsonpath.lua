-- sutra.jsonpath: select values from decoded JSON with a path.
--
--   $.a.b      field b of field a ("$." is optional: "a.b" is the same)
--   a[0]       the first element (indices count from 0; -1 is the last)
--   a['x y']   a field whose name needs quoting
--   a[*]  a.*  every element or field: the result becomes a list
--
-- select(data, path) returns the value (nil when absent) and, for paths
-- with a wildcard, a list of every match.  Raises on a malformed path.
local M = {}

local function tokens(path)
  local toks, pos = {}, 1
  path = path:gsub("^%$", "")
  while pos <= #path do
    local c = path:sub(pos, pos)
    if c == "." then
      local name = path:match("^[^.%[]+", pos + 1)
      if not name then error("jsonpath: expected a name at " .. pos, 0) end
      toks[#toks + 1] = name == "*" and {wild = true} or {key = name}
      pos = pos + 1 + #name
    elseif c == "[" then
      local inner, e = path:match("^%[([^%]]*)%]()", pos)
      if not inner then error("jsonpath: unclosed '[' at " .. pos, 0) end
      if inner == "*" then
        toks[#toks + 1] = {wild = true}
      elseif inner:match("^%-?%d+$") then
        toks[#toks + 1] = {index = tonumber(inner)}
      else
        local q = inner:match("^'(.*)'$") or inner:match('^"(.*)"$')
        if not q then error("jsonpath: bad subscript [" .. inner .. "]", 0) end
        toks[#toks + 1] = {key = q}
      end
      pos = e
    else
      local name = path:match("^[^.%[]+", pos)
      toks[#toks + 1] = name == "*" and {wild = true} or {key = name}
      pos = pos + #name
    end
  end
  return toks
end

local function step(values, tok)
  local out = {}
  for _, v in ipairs(values) do
    if type(v) == "table" then
      if tok.wild then
        if v[1] ~= nil then
          for _, x in ipairs(v) do out[#out + 1] = x end
        else
          local keys = {}
          for k in pairs(v) do keys[#keys + 1] = k end
          table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
          for _, k in ipairs(keys) do out[#out + 1] = v[k] end
        end
      elseif tok.index then
        local i = tok.index >= 0 and tok.index + 1 or #v + tok.index + 1
        if v[i] ~= nil then out[#out + 1] = v[i] end
      elseif v[tok.key] ~= nil then
        out[#out + 1] = v[tok.key]
      end
    end
  end
  return out
end

function M.select(data, path)
  local values, wild = {data}, false
  for _, tok in ipairs(tokens(path)) do
    wild = wild or tok.wild
    values = step(values, tok)
  end
  if wild then return values end
  return values[1]
end

return M
