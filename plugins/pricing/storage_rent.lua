-- plugins/pricing/storage_rent.lua -- each stored byte pays rent every
-- block, charged to the contract that holds it; execution costs a flat
-- price per gas, paid by the sender.
-- Slot: pricing.
--
--   rent of a contract from height a to height h:
--     bytes * (h - a) * rate / per     (rounded down)
--   settled lazily, when the contract is called (admit) or its storage
--   changes (charge): the rent due since it was last settled is taken from
--   its balance to `to`. A contract that cannot pay is frozen: calls of it
--   are refused (EFROZEN) and its rent keeps running until someone tops
--   its balance up (sys.transfer); the next call then settles and goes on.
--   bytes: the contract's code and storage (keys and values) as the meter
--   counts them (usage.stored); deleting data lowers them and stops their
--   rent. Bytes stored before this plugin was in force are not counted;
--   the governance contract gov pays no rent (its account holds nothing,
--   and a frozen gov could not replace this plugin).
--   admit:  the sender's balance covers max_fee (EBALANCE); each contract
--           the transaction calls is settled (EFROZEN if it cannot pay);
--           the gas limit is max_fee / price
--   charge: fee = gas_used * price, sender pays, burned; the contracts
--           whose bytes changed are settled first (EFROZEN if one cannot
--           pay: the transaction is refused), then their bytes updated
--
-- Params: price (fee units per gas, default 1), rate (fee units, default
-- 1) per `per` bytes (default 1000) per block, to (where rent goes:
-- "treasury", the default, "burn" or "proposer").
-- State: "h:" CONTRACT {bytes, at}: bytes held and the height settled to.
-- Deterministic: integer arithmetic (pricing.muldiv) on state and heights.

local M = { NAME = "storage_rent" }

local P = pricing.params
local price, rate, per, to = P.price or 1, P.rate or 1, P.per or 1000, P.to or "treasury"
for name, v in pairs { price = price, rate = rate, per = per } do
  if type(v) ~= "number" or v < 1 or v % 1 ~= 0 then
    error("params." .. name .. " must be a positive integer")
  end
end
if to ~= "burn" and to ~= "treasury" and to ~= "proposer" then
  error("params.to must be burn, treasury or proposer")
end

local function held(c)
  return pricing.get("h:" .. c) or { bytes = 0, at = block.height }
end

-- Takes the rent c owes up to height; false and why when it cannot pay.
local function settle(c, h, height)
  if h.at >= height or h.bytes == 0 then
    h.at = math.max(h.at, height)
    return true
  end
  local due = pricing.muldiv(h.bytes, (height - h.at) * rate, per)
  local balance = pricing.balance(c) or 0
  if balance < due then
    return false, string.format("EFROZEN: %s owes %d rent for %d bytes and holds %d; top it up",
                                c, due, h.bytes, balance)
  end
  pricing.collect(c, due, to)
  h.at = height
  return true
end

function M.admit(tx, sender)
  if sender.balance < tx.max_fee then
    return false, string.format("EBALANCE: %s has %d, max_fee is %d",
                                sender.account, sender.balance, tx.max_fee)
  end
  local seen = {}
  for _, a in ipairs(tx.actions) do
    local c = a.contract
    if c ~= "sys" and c ~= "gov" and not seen[c] then
      seen[c] = true
      local h = held(c)
      local ok, why = settle(c, h, block.height)
      if not ok then return false, why end
      pricing.set("h:" .. c, h)
    end
  end
  return true, math.floor(tx.max_fee / price)
end

function M.charge(usage, tx, ctx)
  for c, bytes in pairs(usage.stored) do
    if c ~= "gov" then
      local h = held(c)
      local ok, why = settle(c, h, ctx.height)
      if not ok then return false, why end
      h.bytes = math.max(h.bytes + bytes, 0)
      pricing.set("h:" .. c, h)
    end
  end
  return { fee = usage.gas * price, payer = tx.account }
end

function M.quote(tx, usage)
  return { fee = usage.gas * price, payer = tx.account }
end

return M
