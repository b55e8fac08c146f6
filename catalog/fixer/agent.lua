-- fixer: asks the model to fix code from a diagnosis of failing tests.
-- input:  {spec, language, files = {name = text}, diagnosis = {summary, ...}}
-- output: {files (all of them, changed ones replaced), changed = [names],
--          notes, llm = {tokens_in, tokens_out, cost_usd, calls}}
local template = require("sutra.template")
local llmjson = require("sutra.llmjson")

local function listing(files)
  local names = {}
  for name in pairs(files) do names[#names + 1] = name end
  table.sort(names)
  local out = {}
  for _, name in ipairs(names) do
    out[#out + 1] = "--- " .. name .. "\n" .. files[name]
  end
  return table.concat(out, "\n")
end

return {
  run = function(input, ctx)
    local diag = input.diagnosis or {}
    local text = diag.summary or ""
    if diag.details and #diag.details > 0 then
      text = text .. "\n\n" .. table.concat(diag.details, "\n\n")
    end
    local prompt = template.render(ctx.asset("prompts/fixer.txt"), {
      language = input.language or "python", spec = input.spec,
      diagnosis = text, files = listing(input.files),
    })
    local obj, resp = llmjson.ask(ctx, {
      system = ctx.asset("prompts/system.txt"),
      messages = {{role = "user", content = prompt}},
      json = true, temperature = 0,
      model = input.model, provider = input.provider,
    }, function(o) return llmjson.check_files(o, true) end)
    local files, changed = {}, {}
    for name, content in pairs(input.files) do files[name] = content end
    for name, content in pairs(obj.files) do
      if files[name] ~= content then changed[#changed + 1] = name end
      files[name] = content
    end
    table.sort(changed)
    return {files = files, changed = json.array(changed), notes = obj.notes,
            llm = resp.spent}
  end,
}
