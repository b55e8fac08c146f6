-- codegen: asks the model for code and tests for a specification.
-- input:  {spec, language = "python" | "c", model?, provider?}
-- output: {files = {name = text}, test_command = {argv}, profile, notes,
--          llm = {tokens_in, tokens_out, cost_usd, calls}}
-- The prompts are files in prompts/ beside this one: edit them freely.
local template = require("sutra.template")
local llmjson = require("sutra.llmjson")

local languages = {
  python = {cmd = {"/usr/bin/python3", "-m", "unittest", "-v"}, profile = "python"},
  c = {cmd = {"/bin/sh", "-c", "cc -std=c11 -Wall -o test_main *.c && ./test_main"},
       profile = "shell"},
}

return {
  run = function(input, ctx)
    local lang = languages[input.language or "python"]
    if not lang then error("language must be python or c", 0) end
    local prompt = template.render(ctx.asset("prompts/codegen.txt"), {
      language = input.language or "python",
      spec = input.spec,
      conventions = ctx.asset("prompts/" .. (input.language or "python") .. ".txt"),
    })
    local obj, resp = llmjson.ask(ctx, {
      system = ctx.asset("prompts/system.txt"),
      messages = {{role = "user", content = prompt}},
      json = true, temperature = 0,
      model = input.model, provider = input.provider,
    }, function(o) return llmjson.check_files(o, true) end)
    return {files = obj.files, test_command = json.array(lang.cmd),
            profile = lang.profile, notes = obj.notes, llm = resp.spent}
  end,
}
