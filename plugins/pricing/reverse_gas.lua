-- plugins/pricing/reverse_gas.lua -- the Internet Computer's way: the
-- contract a transaction calls pays for it from its own balance.
-- Slot: pricing.
--
--   admit:  a transaction calls one contract (all its actions): else
--           EPRICING. Calls of a contract whose balance is not above its
--           freezing threshold are refused (EFROZEN), and the caller pays
--           nothing; the gas limit is (balance - threshold) / price, so
--           paying never takes it below the threshold. Transactions to
--           sys (deploy, transfer, ...) and to gov (governance, whose
--           account holds nothing) are paid by their sender, as with
--           flat.lua: its balance must cover max_fee, gas limit max_fee /
--           price.
--   charge: fee = gas_used * price, paid by the contract (for sys and gov,
--           the sender), sent to `to`.
--
-- Params: price (fee units per gas, default 1), threshold (the freezing
-- threshold, default 100000), to ("burn", the default, "treasury" or
-- "proposer").
-- Deterministic: reads only its arguments, params and balances.

local M = { NAME = "reverse_gas" }

local P = pricing.params
local price, threshold, to = P.price or 1, P.threshold or 100000, P.to or "burn"
if type(price) ~= "number" or price < 1 or price % 1 ~= 0 then
  error("params.price must be a positive integer")
end
if type(threshold) ~= "number" or threshold < 0 or threshold % 1 ~= 0 then
  error("params.threshold must be a non-negative integer")
end
if to ~= "burn" and to ~= "treasury" and to ~= "proposer" then
  error("params.to must be burn, treasury or proposer")
end

-- The one contract the transaction calls, or nil and why.
local sender_pays = { sys = true, gov = true }

local function callee(tx)
  local c = tx.actions[1].contract
  for i = 2, #tx.actions do
    if tx.actions[i].contract ~= c then
      return nil, "EPRICING: a transaction calls one contract here (" .. c .. " and " ..
                  tx.actions[i].contract .. ")"
    end
  end
  return c
end

function M.admit(tx, sender)
  local c, why = callee(tx)
  if not c then return false, why end
  if sender_pays[c] then
    if sender.balance < tx.max_fee then
      return false, string.format("EBALANCE: %s has %d, max_fee is %d",
                                  sender.account, sender.balance, tx.max_fee)
    end
    return true, math.floor(tx.max_fee / price)
  end
  local balance = pricing.balance(c)
  if not balance then return false, "ENOACCOUNT: no contract " .. c end
  if balance - threshold < price then
    return false, string.format("EFROZEN: %s holds %d, not above its freezing threshold %d",
                                c, balance, threshold)
  end
  return true, math.floor((balance - threshold) / price)
end

function M.charge(usage, tx, ctx)
  local payer = sender_pays[ctx.contract] and tx.account or ctx.contract
  return { fee = usage.gas * price, payer = payer, to = to }
end

function M.quote(tx, usage)
  local c = tx.actions[1].contract
  return { fee = usage.gas * price, payer = sender_pays[c] and tx.account or c }
end

return M
