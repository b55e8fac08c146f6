-- greeter: says hello and counts, in session memory, how often it has.
return {
  run = function(input, ctx)
    local n = (ctx.memory.get("count") or 0) + 1
    ctx.memory.set("count", n)
    ctx.log.info("greeted", {who = input.name})
    return {text = "hello " .. input.name, count = n}
  end,
}
