-- plugins/pricing/flat.lua -- a fixed price per unit of gas; the sender pays.
-- Slot: pricing (the default: what a chain without a pricing slot does).
--
--   admit:  the sender's balance covers max_fee (else EBALANCE); the gas
--           limit is max_fee / price
--   charge: fee = gas_used * price, paid by the sender, sent to `to`
--
-- Params: price (fee units per gas, default 1), to ("burn", the default,
-- "treasury" or "proposer").
-- Deterministic: reads only its arguments and params.

local M = { NAME = "flat" }

local floor, format = math.floor, string.format

local price = pricing.params.price or 1
local to = pricing.params.to or "burn"
if type(price) ~= "number" or price < 1 or price % 1 ~= 0 then
  error("params.price must be a positive integer")
end
if to ~= "burn" and to ~= "treasury" and to ~= "proposer" then
  error("params.to must be burn, treasury or proposer")
end

function M.admit(tx, sender)
  if sender.balance < tx.max_fee then
    return false, format("EBALANCE: %s has %d, max_fee is %d",
                                sender.account, sender.balance, tx.max_fee)
  end
  return true, floor(tx.max_fee / price)
end

function M.charge(usage, tx)
  return { fee = usage.gas * price, payer = tx.account, to = to }
end

function M.quote(tx, usage)
  return { fee = usage.gas * price, payer = tx.account }
end

return M
