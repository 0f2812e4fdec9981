-- lunet.output -- busted output handler of `lunet test`: busted's terminal
-- output, then what contracts log(...) test by test, a gas report per
-- contract method and one summary line `N passed, N failed`.

local core = require "lunet.core"

local function gas_report()
  local stats = core.gas_stats or {}
  local names = {}
  for name in pairs(stats) do names[#names + 1] = name end
  if #names == 0 then return end
  table.sort(names)
  io.write("\ngas report (instructions + metered host work per call)\n")
  io.write(string.format("  %-32s %6s %10s %10s %10s\n", "method", "calls", "min", "avg", "max"))
  for _, name in ipairs(names) do
    local s = stats[name]
    io.write(string.format("  %-32s %6d %10d %10d %10d\n", name, s.n, s.min,
                           math.floor(s.total / s.n + 0.5), s.max))
  end
end

local LOG_LINES_MAX = 2000

-- by_test: { {name, lines = {...}}, ... } in the order the tests ran.
local function log_report(by_test)
  if #by_test == 0 then return end
  io.write("\ncontract logs (log(...), test by test)\n")
  local written = 0
  for _, t in ipairs(by_test) do
    io.write("  " .. t.name .. "\n")
    for _, l in ipairs(t.lines) do
      written = written + 1
      if written <= LOG_LINES_MAX then io.write("    " .. l .. "\n") end
    end
  end
  if written > LOG_LINES_MAX then
    io.write(string.format("  (%d more lines not shown)\n", written - LOG_LINES_MAX))
  end
end

return function(options)
  local busted = require "busted"
  local term = require "term"
  local base = term.isatty(io.stdout) and "utfTerminal" or "plainTerminal"
  local handler = require("busted.outputHandlers." .. base)(options)

  -- Lines logged since the last test ended belong to the test that ends
  -- (its before_each included).
  local by_test, seen = {}, 0
  local function on_test_end(element)
    local logs = core.logs or {}
    if #logs > seen then
      local lines = {}
      for i = seen + 1, #logs do lines[#lines + 1] = logs[i] end
      by_test[#by_test + 1] = { name = handler.getFullName(element), lines = lines }
      seen = #logs
    end
    return nil, true
  end

  local function on_suite_end()
    log_report(by_test)
    if LUNET_GAS_REPORT ~= false then gas_report() end
    local failed = handler.failuresCount + handler.errorsCount
    io.write(string.format("\nlunet test: %d passed, %d failed\n", handler.successesCount, failed))
    io.flush()
    return nil, true
  end

  local subscribe = handler.subscribe
  handler.subscribe = function(self, opts)
    subscribe(self, opts)
    busted.subscribe({ "test", "end" }, on_test_end, { priority = 1000 })
    busted.subscribe({ "suite", "end" }, on_suite_end, { priority = 1000 })
  end
  return handler
end
