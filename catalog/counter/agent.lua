-- counter: adds `by` (default 1) to a named counter in session memory and
-- returns the new value.  The write commits with the step, so a retried
-- or resumed step never counts twice.
return {
  run = function(input, ctx)
    local key = "counter:" .. (input.name or "default")
    local by = input.by or 1
    if math.type(by) ~= "integer" then error("'by' must be an integer", 0) end
    local value = (ctx.memory.get(key) or 0) + by
    ctx.memory.set(key, value)
    return {name = input.name or "default", value = value}
  end,
}
