-- ledger: keeps the rounds of a run in session memory (one list per run,
-- written with each step's checkpoint, so a resumed run counts each round
-- once) and returns them with the totals.
-- input:  {name?, round, passed, summary, counts, files, llm = [spent...]}
-- output: {rounds = [...], files (the latest), tokens_in, tokens_out,
--          cost_usd}
return {
  run = function(input, ctx)
    local key = "ledger:" .. (input.name or "rounds") .. ":" .. ctx.run_id
    local rounds = ctx.memory.get(key) or json.array()
    local spent = {tokens_in = 0, tokens_out = 0, cost_usd = 0, calls = 0}
    for _, s in ipairs(input.llm or {}) do
      if type(s) == "table" then
        for k in pairs(spent) do spent[k] = spent[k] + (s[k] or 0) end
      end
    end
    rounds[#rounds + 1] = {round = input.round, passed = input.passed,
                           summary = input.summary, counts = input.counts,
                           llm = spent}
    ctx.memory.set(key, rounds)
    local total = {tokens_in = 0, tokens_out = 0, cost_usd = 0}
    for _, r in ipairs(rounds) do
      for k in pairs(total) do total[k] = total[k] + (r.llm[k] or 0) end
    end
    return {rounds = rounds, files = input.files, tokens_in = total.tokens_in,
            tokens_out = total.tokens_out, cost_usd = total.cost_usd}
  end,
}
