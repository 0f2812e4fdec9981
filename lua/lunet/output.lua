-- lunet.output -- busted output handler of `lunet test`: busted's terminal
-- output, then a gas report per contract method and one summary line
-- `N passed, N failed`.

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

return function(options)
  local busted = require "busted"
  local term = require "term"
  local base = term.isatty(io.stdout) and "utfTerminal" or "plainTerminal"
  local handler = require("busted.outputHandlers." .. base)(options)

  local function on_suite_end()
    if LUNET_GAS_REPORT ~= false then gas_report() end
    local failed = handler.failuresCount + handler.errorsCount
    io.write(string.format("\nlunet test: %d passed, %d failed\n", handler.successesCount, failed))
    io.flush()
    return nil, true
  end

  local subscribe = handler.subscribe
  handler.subscribe = function(self, opts)
    subscribe(self, opts)
    busted.subscribe({ "suite", "end" }, on_suite_end, { priority = 1000 })
  end
  return handler
end
