-- plugins/pricing/staked.lua -- EOS-style resources: stake buys a share of
-- CPU and NET in every window of blocks; storage is bought as RAM; no fee.
-- Slot: pricing.
--
--   window w = floor(height / window)
--   an account's share of a window, with stake s of all stake S:
--     cpu_quota = cpu * s / S   instructions (gas)
--     net_quota = net * s / S   transaction bytes
--   admit:  refused (EQUOTA) when the account has no stake, has used its
--           cpu_quota of this window, or this transaction's bytes would pass
--           its net_quota; the gas limit is what is left of cpu_quota.
--           Transactions that only stake or unstake (sys.stake,
--           sys.unstake) are free, with a gas limit of stake_gas, so an
--           account without stake can stake.
--   charge: the gas and bytes count against the quotas; RAM: the net bytes
--           the transaction stored (added - freed) move the account's RAM
--           in use, and bytes beyond what it bought are bought at
--           ram_price each, to the treasury (at most max_fee: else
--           EQUOTA). Bytes freed stay bought. CPU and NET cost nothing.
--
-- Params: window (blocks, default 100), cpu (instructions per window for
-- all stake, default block_gas_max * window), net (bytes per window,
-- default block_bytes_max * window), ram_price (fee units per byte,
-- default 1), stake_gas (default 100000).
-- State: "u:" ACCOUNT {w, cpu, net}: this window's use; "r:" ACCOUNT
-- {bought, used}: RAM.
-- Deterministic: integer arithmetic on state (stakes, its own keys) and
-- the block height.

local M = { NAME = "staked" }

local P = pricing.params
local function uint(name, default, least)
  local v = P[name]
  if v == nil then return default end
  if type(v) ~= "number" or v % 1 ~= 0 or v < least then
    error("params." .. name .. " must be an integer of at least " .. least)
  end
  return v
end
local window = uint("window", 100, 1)
local ram_price = uint("ram_price", 1, 0)
local stake_gas = uint("stake_gas", 100000, 0)
local cpu_param, net_param = uint("cpu", nil, 1), uint("net", nil, 1)

local function capacity()
  local chain = pricing.chain()
  return cpu_param or chain.block_gas_max * window, net_param or chain.block_bytes_max * window
end

-- Only sys.stake and sys.unstake.
local function staking_only(tx)
  for _, a in ipairs(tx.actions) do
    if a.contract ~= "sys" or (a.method ~= "stake" and a.method ~= "unstake") then return false end
  end
  return true
end

-- This window's use of account, and its quotas.
local function state(account, height)
  local w = math.floor(height / window)
  local u = pricing.get("u:" .. account)
  if not u or u.w ~= w then u = { w = w, cpu = 0, net = 0 } end
  local s, total = pricing.stake(account), pricing.total_stake()
  local cpu, net = capacity()
  if s == 0 then return u, 0, 0, s end
  return u, pricing.muldiv(cpu, s, total), pricing.muldiv(net, s, total), s
end

function M.admit(tx, sender)
  if staking_only(tx) then return true, stake_gas end
  local u, cpu_quota, net_quota, s = state(tx.account, block.height)
  if s == 0 then
    return false, "EQUOTA: " .. tx.account .. " has no stake (send sys.stake first)"
  end
  if u.cpu >= cpu_quota then
    return false, string.format("EQUOTA: %s used %d of its %d instructions in window %d",
                                tx.account, u.cpu, cpu_quota, u.w)
  end
  if u.net + tx.size > net_quota then
    return false, string.format("EQUOTA: %s used %d of its %d bytes in window %d; this one has %d",
                                tx.account, u.net, net_quota, u.w, tx.size)
  end
  if sender.balance < tx.max_fee then
    return false, string.format("EBALANCE: %s has %d, max_fee is %d",
                                sender.account, sender.balance, tx.max_fee)
  end
  return true, cpu_quota - u.cpu
end

function M.charge(usage, tx, ctx)
  if staking_only(tx) then return { fee = 0, payer = tx.account } end
  local u = state(tx.account, ctx.height)
  u.cpu, u.net = u.cpu + usage.gas, u.net + usage.tx_bytes
  pricing.set("u:" .. tx.account, u)
  local r = pricing.get("r:" .. tx.account) or { bought = 0, used = 0 }
  r.used = math.max(r.used + usage.storage_added - usage.storage_freed, 0)
  local fee = 0
  if r.used > r.bought then
    fee = (r.used - r.bought) * ram_price
    if fee > tx.max_fee then
      return false, string.format("EQUOTA: %s needs %d more bytes of RAM at %d each; max_fee is %d",
                                  tx.account, r.used - r.bought, ram_price, tx.max_fee)
    end
    r.bought = r.used
  end
  pricing.set("r:" .. tx.account, r)
  return { fee = fee, payer = tx.account, to = "treasury" }
end

function M.quote(tx, usage)
  if staking_only(tx) then return { fee = 0, payer = tx.account } end
  local r = pricing.get("r:" .. tx.account) or { bought = 0, used = 0 }
  local used = math.max(r.used + usage.storage_added - usage.storage_freed, 0)
  return { fee = math.max(used - r.bought, 0) * ram_price, payer = tx.account }
end

return M
