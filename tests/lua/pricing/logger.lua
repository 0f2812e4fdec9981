-- tests/lua/pricing/logger.lua -- flat pricing that logs every charge,
-- for tests/lua/pricing_spec.lua (pricing.log and its cap per block).
-- Slot: pricing.  Params: none.

local M = { NAME = "logger" }

function M.charge(usage, tx)
  pricing.log("charged", tx.account, usage.gas, { "a table" })
  return { fee = usage.gas, payer = tx.account }
end

return M
