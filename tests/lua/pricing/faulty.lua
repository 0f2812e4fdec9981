-- tests/lua/pricing/faulty.lua -- a pricing plugin that fails on purpose,
-- for tests/lua/pricing_spec.lua: transactions that call the contract
-- `bad` meet the fault params.fault names; the others are priced as by
-- flat.lua (fee = gas, the sender pays, burned).
-- Slot: pricing.  Params: fault (one of the names below).

local M = { NAME = "faulty" }

local fault = pricing.params.fault

local function bad(tx)
  return tx.actions[1].contract == "bad"
end

local function spin()
  local x = 0
  while true do x = x + 1 end
end

local function hog()
  local t = {}
  for i = 1, 1e9 do t[i] = string.rep("x", 1000) .. i end
end

local admit_faults = {
  admit_error = function() error("admit broke") end,
  admit_loop = spin,
  admit_memory = hog,
  admit_garbage = function() return "yes" end,
  admit_limit = function() return true, -5 end,
}

local charge_faults = {
  charge_error = function() error("charge broke") end,
  charge_loop = spin,
  charge_memory = hog,
  charge_string = function() return "lots" end,
  charge_negative = function(_, tx) return { fee = -1, payer = tx.account } end,
  charge_float = function(_, tx) return { fee = 1.5, payer = tx.account } end,
  charge_huge = function(_, tx) return { fee = 2 ^ 60, payer = tx.account } end,
  charge_payer = function() return { fee = 1, payer = "NOT A NAME" } end,
  charge_nopayer = function() return { fee = 1, payer = "ghost" } end,
  charge_to = function(u, tx) return { fee = u.gas, payer = tx.account, to = "moon" } end,
  charge_split = function(u, tx) return { fee = u.gas, payer = tx.account, to = { burn = 1 } } end,
  charge_maxfee = function(_, tx) return { fee = tx.max_fee + 1, payer = tx.account } end,
  charge_meta = function()
    return setmetatable({}, { __index = function() while true do end end })
  end,
}

function M.admit(tx, sender)
  if bad(tx) and admit_faults[fault] then return admit_faults[fault](tx, sender) end
  return true, tx.max_fee
end

function M.charge(usage, tx)
  if bad(tx) and charge_faults[fault] then return charge_faults[fault](usage, tx) end
  return { fee = usage.gas, payer = tx.account }
end

function M.on_block(totals)
  pricing.set("blocks", (pricing.get("blocks") or 0) + 1)
  if fault == "block_error" and totals.txs > 0 then error("on_block broke") end
  if fault == "block_loop" and totals.txs > 0 then spin() end
end

return M
