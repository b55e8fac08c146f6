-- echo: returns its input unchanged.  The smallest useful agent, and the
-- one the tests and benchmarks use to measure the runtime's own overhead.
return {
  run = function(input, ctx)
    return input
  end,
}
