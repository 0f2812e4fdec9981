-- plugins/pricing/fee_market.lua -- EIP-1559: a base fee per gas that
-- follows demand and is burned, and a tip per gas to the block's proposer.
-- Slot: pricing.
--
--   target = block_gas_max / 2 (the chain param)
--   after a block that used `used` gas (integers, rounded down):
--     used > target: base' = base + max(base * (used - target) / target / 8, 1)
--     used < target: base' = base - base * (target - used) / target / 8
--     used = target: base' = base
--   and never below min_base.
--   admit:  refused (EMAXFEE) when max_fee < base * min_gas, and (EBALANCE)
--           when the sender's balance is below max_fee; the gas limit is
--           max_fee / (base + tip)
--   charge: gas * base, burned, plus gas * tip to the proposer; the sender
--           pays
--
-- Params: base_fee (the first base fee, default 1), min_base (default 1),
-- tip (fee units per gas to the proposer, default 1), min_gas (the least
-- gas a transaction is taken to need at admission, default 2000).
-- State: "base", the base fee for the next block.
-- Deterministic: integer arithmetic (pricing.muldiv) on its state and the
-- block's totals only.

local M = { NAME = "fee_market" }

local P = pricing.params
local function uint(name, default, least)
  local v = P[name]
  if v == nil then return default end
  if type(v) ~= "number" or v % 1 ~= 0 or v < least then
    error("params." .. name .. " must be an integer of at least " .. least)
  end
  return v
end
local first = uint("base_fee", 1, 1)
local min_base = uint("min_base", 1, 1)
local tip = uint("tip", 1, 0)
local min_gas = uint("min_gas", 2000, 0)

local function base()
  return pricing.get("base") or math.max(first, min_base)
end

-- The base fee after a block that used `used` of a target of `target`.
function M.next_base(b, used, target)
  if used > target then
    return b + math.max(pricing.muldiv(b, used - target, target * 8), 1)
  elseif used < target then
    return math.max(b - pricing.muldiv(b, target - used, target * 8), min_base)
  end
  return b
end

function M.admit(tx, sender)
  local b = base()
  if tx.max_fee < b * min_gas then
    return false, string.format("EMAXFEE: max_fee %d is below the base fee %d times %d gas",
                                tx.max_fee, b, min_gas)
  end
  if sender.balance < tx.max_fee then
    return false, string.format("EBALANCE: %s has %d, max_fee is %d",
                                sender.account, sender.balance, tx.max_fee)
  end
  return true, math.floor(tx.max_fee / (b + tip))
end

function M.charge(usage, tx)
  local burn, paid = usage.gas * base(), usage.gas * tip
  return { fee = burn + paid, payer = tx.account, to = { burn = burn, proposer = paid } }
end

function M.quote(tx, usage)
  return { fee = usage.gas * (base() + tip), payer = tx.account }
end

function M.on_block(totals)
  local target = math.floor(pricing.chain().block_gas_max / 2)
  pricing.set("base", M.next_base(base(), totals.gas, target))
end

return M
