-- plugins/pricing/flat.lua -- one fee unit per unit of gas; the sender pays.
--
-- The default model: what the chain charges without a pricing plugin.
-- params: none.

local M = { NAME = "flat" }

function M.admit()
  return true
end

function M.charge(usage, tx)
  return { fee = usage.gas, payer = tx.account, to = "burn" }
end

function M.quote(tx)
  return { fee = tx.max_fee, payer = tx.account }
end

return M
