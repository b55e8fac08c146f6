-- sutra.template: a small logic-less template language for agents.
--
--   {{ name }}            the value at a dotted path (user.name, items.1)
--   {{ name | upper }}    filters: upper, lower, trim, json, length
--   {{#list}}..{{/list}}  a section: repeated for each item of a list
--                         (the item is "."), shown once for a true value
--   {{^x}}..{{/x}}        an inverted section: shown when x is empty/false
--
-- Missing values render as "".  render() raises on unbalanced sections.
local M = {}

local function lookup(stack, path)
  if path == "." then return stack[#stack] end
  for i = #stack, 1, -1 do
    local v = stack[i]
    local found = true
    for part in path:gmatch("[^.]+") do
      if type(v) ~= "table" then found = false break end
      local key = tonumber(part) or part
      v = v[key]
      if v == nil then found = false break end
    end
    if found then return v end
  end
  return nil
end

local filters = {
  upper = function(s) return tostring(s):upper() end,
  lower = function(s) return tostring(s):lower() end,
  trim = function(s) return (tostring(s):gsub("^%s+", ""):gsub("%s+$", "")) end,
  length = function(v)
    if type(v) == "table" then return #v end
    return #tostring(v or "")
  end,
}

local function to_text(v, encode)
  if v == nil or v == null then return "" end
  if type(v) == "table" then return encode(v) end
  if math.type(v) == "float" and v == math.floor(v) and v < 2^53 then
    return string.format("%d", v)
  end
  return tostring(v)
end

local function is_empty(v)
  return v == nil or v == false or v == null or v == "" or
         (type(v) == "table" and next(v) == nil)
end

-- Parses the template into a tree of {text}, {var, filters}, {section}.
local function parse(src)
  local root, stack, pos = {}, {}, 1
  local node = root
  while true do
    local s, e, body = src:find("{{%s*(.-)%s*}}", pos)
    if not s then
      node[#node + 1] = {text = src:sub(pos)}
      break
    end
    node[#node + 1] = {text = src:sub(pos, s - 1)}
    local sigil, rest = body:sub(1, 1), body:sub(2):match("^%s*(.-)%s*$")
    if sigil == "#" or sigil == "^" then
      local sec = {section = rest, inverted = sigil == "^", children = {}}
      node[#node + 1] = sec
      stack[#stack + 1] = {node, rest}
      node = sec.children
    elseif sigil == "/" then
      local top = table.remove(stack)
      if not top or top[2] ~= rest then
        error("template: unexpected {{/" .. rest .. "}}", 0)
      end
      node = top[1]
    else
      local path, chain = body:match("^([^|]-)%s*|%s*(.*)$")
      local fl = {}
      if path then
        for f in chain:gmatch("[^|%s]+") do fl[#fl + 1] = f end
      else
        path = body
      end
      node[#node + 1] = {var = path, filters = fl}
    end
    pos = e + 1
  end
  if #stack > 0 then
    error("template: unclosed {{#" .. stack[#stack][2] .. "}}", 0)
  end
  return root
end

local function render_nodes(nodes, stack, out, encode)
  for _, n in ipairs(nodes) do
    if n.text then
      out[#out + 1] = n.text
    elseif n.var then
      local v = lookup(stack, n.var)
      for _, f in ipairs(n.filters) do
        if f == "json" then
          v = encode(v == nil and null or v)
        elseif filters[f] then
          v = filters[f](v == nil and "" or v)
        else
          error("template: unknown filter '" .. f .. "'", 0)
        end
      end
      out[#out + 1] = to_text(v, encode)
    else
      local v = lookup(stack, n.section)
      if n.inverted then
        if is_empty(v) then render_nodes(n.children, stack, out, encode) end
      elseif not is_empty(v) then
        if type(v) == "table" and v[1] ~= nil then
          for _, item in ipairs(v) do
            stack[#stack + 1] = item
            render_nodes(n.children, stack, out, encode)
            stack[#stack] = nil
          end
        else
          stack[#stack + 1] = v
          render_nodes(n.children, stack, out, encode)
          stack[#stack] = nil
        end
      end
    end
  end
end

-- render(template, vars, encode): encode turns tables into JSON text
-- (pass ctx.json.encode).
function M.render(template, vars, encode)
  local out = {}
  render_nodes(parse(template), {vars or {}}, out, encode or tostring)
  return table.concat(out)
end

return M
