-- heal-report: the final report of a self-healing run - the files, the
-- verdict of each round, tokens and cost per round - saved in session
-- memory (key "selfheal:last") and returned.
return {
  run = function(input, ctx)
    local l = input.ledger or {}
    local rounds = l.rounds or {}
    local last = rounds[#rounds] or {}
    local lines = {}
    for _, r in ipairs(rounds) do
      lines[#lines + 1] = string.format("round %d: %s - %s (%d tokens, $%.6f)",
        r.round, r.passed and "green" or "red", r.summary or "",
        (r.llm.tokens_in or 0) + (r.llm.tokens_out or 0), r.llm.cost_usd or 0)
    end
    local report = {
      spec = input.spec, language = input.language,
      status = last.passed and "green" or "red",
      rounds = json.array(rounds), files = l.files or {},
      tokens = (l.tokens_in or 0) + (l.tokens_out or 0),
      cost_usd = l.cost_usd or 0,
      text = table.concat(lines, "\n"),
    }
    ctx.memory.set("selfheal:last", report)
    return report
  end,
}
