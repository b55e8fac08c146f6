-- template: renders a template with variables (see lua/sutra/template.lua
-- for the syntax).  input: {template = "...", vars = {...}}
local template = require("sutra.template")

return {
  run = function(input, ctx)
    local ok, text = pcall(template.render, input.template, input.vars or {},
                           ctx.json.encode)
    if not ok then error(text, 0) end
    return {text = text}
  end,
}
