-- plugins/pricing/reverse_gas.lua -- the Internet Computer's way: the
-- contract a transaction calls pays for it from its own balance.
-- Slot: pricing.
--
--   A transaction whose actions all call one contract (not sys or gov) is
--   that contract's to pay; any other (sys, gov, several contracts) is paid
--   by its sender, as with flat.lua.
--   admit:  the contract's: calls of a contract whose balance is not above
--           its freezing threshold are refused (EFROZEN) and the caller
--           pays nothing; the gas limit is (balance - threshold) / price,
--           so paying never takes it below the threshold. The sender's:
--           its balance covers max_fee (else EBALANCE); the gas limit is
--           max_fee / price.
--   charge: fee = gas_used * price, from whoever pays, sent to `to`.
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

-- The contract that pays for tx, or nil when its sender does.
local function payer(tx)
  local c = tx.actions[1].contract
  if sender_pays[c] then return nil end
  for i = 2, #tx.actions do
    if tx.actions[i].contract ~= c then return nil end
  end
  return c
end

function M.admit(tx, sender)
  local c = payer(tx)
  if not c then
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

function M.charge(usage, tx)
  return { fee = usage.gas * price, payer = payer(tx) or tx.account, to = to }
end

function M.quote(tx, usage)
  return { fee = usage.gas * price, payer = payer(tx) or tx.account }
end

return M
