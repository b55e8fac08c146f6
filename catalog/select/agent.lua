-- select: picks values out of JSON data with paths (lua/sutra/jsonpath.lua).
-- input: {data = ..., path = "$.a.b"}          -> {value = ...}
--        {data = ..., paths = {name = "$.x"}}  -> {name = ...}
local jsonpath = require("sutra.jsonpath")

return {
  run = function(input, ctx)
    if input.path then
      return {value = jsonpath.select(input.data, input.path)}
    end
    if type(input.paths) ~= "table" then
      error("input needs 'path' or 'paths'", 0)
    end
    local out = {}
    for name, path in pairs(input.paths) do
      out[name] = jsonpath.select(input.data, path)
    end
    return out
  end,
}
