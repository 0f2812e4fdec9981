-- tests/lua/pricing_spec.lua -- DESIGN "Pricing plugin": the meter's usage
-- in receipts, flat.lua (the default) charging as the chain always has, the
-- fixture's quote and batch, fees to burn, the treasury or the proposer, a
-- faulty plugin (it raises, loops, runs out of memory or answers garbage)
-- refusing only the transactions it fails on while the block goes on, a
-- broken plugin replaced by governance, swaps of the pricing slot, and the
-- same roots on independent chains.
-- Plugins: plugins/pricing/flat.lua, tests/lua/pricing/faulty.lua.

local testing = require "lunet.testing"
local core = require "lunet.core"

-- put(k, v) stores, del(k) deletes, spin(n) loops n times, call(c, m, ...)
-- calls on, emit(n) emits n bytes.
local BOX = [[
local M = {}
function M.put(k, v) storage.set(k, v) end
function M.del(k) storage.delete(k) end
function M.spin(n) local x = 0 for i = 1, n do x = x + i end return x end
function M.call(c, m, ...) return call(c, m, ...) end
function M.emit(n) emit("e", string.rep("x", n)) end
function M.ping() return 1 end
function M.fill(n) local t = {} for i = 1, n do t[i] = i end return #t end
return M
]]

local function ok(r)
  assert.is_true(r.included, r.error)
  assert.is_true(r.ok, r.error)
  return r
end

local function refused(r, code, text)
  assert.is_false(r.included, "expected a refusal, got " .. tostring(r.error))
  assert.are.equal(code, r.code, r.error)
  if text then assert.is_truthy(r.error:find(text, 1, true), r.error) end
  return r
end

-- Every native balance on the chain: what burning takes out of it.
local function supply(chain)
  local n = 0
  for _, name in ipairs { "alice", "bob", "carol", "dave", "eve", "treasury", "gov", "node0", "box", "bad" } do
    n = n + (chain:balance(name) or 0)
  end
  return n
end

local function faulty(fault)
  local chain = testing.chain { pricing = { plugin = "tests/lua/pricing/faulty.lua", params = { fault = fault } } }
  ok(chain:deploy_source("alice", "box", BOX))
  ok(chain:deploy_source("alice", "bad", BOX))
  chain:log()
  return chain
end

describe("pricing - the meter's usage", function()
  local chain
  before_each(function()
    chain = testing.chain()
    ok(chain:deploy_source("alice", "box", BOX))
  end)

  it("records in the receipt the gas, the transaction's bytes, one call and no storage for a read", function()
    local r = ok(chain:send("alice", "box", "ping"))
    assert.are.equal(r.gas_used, r.usage.gas)
    assert.are.equal(0, r.usage.storage_added)
    assert.are.equal(0, r.usage.storage_freed)
    assert.are.equal(1, r.usage.calls)
    assert.are.equal(0, r.usage.events_bytes)
    assert.is_true(r.usage.mem_peak > 0)
    assert.are.same({}, r.usage.stored)
    local bytes = chain:transaction("alice", { { contract = "box", method = "ping", args = {} } })
    assert.are.equal(#bytes, r.usage.tx_bytes)
  end)

  it("counts a new key and value as bytes added, a delete as bytes freed, per contract", function()
    local r = ok(chain:send("alice", "box", "put", "k", "abc"))
    -- key "k" (1 byte) and the value's msgpack "\163abc" (4 bytes)
    assert.are.equal(5, r.usage.storage_added)
    assert.are.same({ box = 5 }, r.usage.stored)
    r = ok(chain:send("alice", "box", "put", "k", "abcdef"))
    assert.are.equal(3, r.usage.storage_added)
    r = ok(chain:send("alice", "box", "del", "k"))
    assert.are.equal(0, r.usage.storage_added)
    assert.are.equal(8, r.usage.storage_freed)
    assert.are.same({ box = -8 }, r.usage.stored)
  end)

  it("counts a deploy's code as bytes its contract holds", function()
    local r = ok(chain:deploy_source("alice", "box2", BOX))
    assert.are.equal(#BOX, r.usage.stored.box2)
    assert.are.equal(#BOX, r.usage.storage_added)
  end)

  it("counts nested calls and the bytes of events, and nets a contract's writes", function()
    ok(chain:deploy_source("alice", "box2", BOX))
    local r = ok(chain:send("alice", "box", "call", "box2", "put", "kk", 1))
    assert.are.equal(2, r.usage.calls)
    assert.are.same({ box2 = 3 }, r.usage.stored)
    r = ok(chain:send("alice", "box", "emit", 100))
    assert.is_true(r.usage.events_bytes > 100)
  end)

  it("counts no storage for a failed call, whose writes are reverted", function()
    local r = chain:send("alice", "box", "call", "box", "nope")
    assert.is_true(r.included)
    assert.is_false(r.ok)
    assert.are.equal(0, r.usage.storage_added)
    assert.are.equal(2, r.usage.calls)
  end)

  it("counts the memory a call held at its peak", function()
    local small = ok(chain:send("alice", "box", "ping"))
    local big = ok(chain:send("alice", "box", "fill", 100000))
    assert.is_true(big.usage.mem_peak > small.usage.mem_peak + 100000 * 8, big.usage.mem_peak)
  end)
end)

describe("pricing - flat.lua", function()
  it("is the plugin in force by default", function()
    local chain = testing.chain()
    assert.are.equal("flat", chain:plugin("pricing").name)
  end)

  it("charges the gas used to the sender and burns it", function()
    local chain = testing.chain()
    ok(chain:deploy_source("alice", "box", BOX))
    local before, a = supply(chain), chain:balance("alice")
    local r = ok(chain:send("alice", "box", "spin", 1000))
    assert.are.equal(r.gas_used, r.fee)
    assert.are.equal("alice", r.payer)
    assert.are.equal(a - r.fee, chain:balance("alice"))
    assert.are.equal(before - r.fee, supply(chain))
  end)

  it("sends its fees to the treasury or the proposer at the price its params give", function()
    for _, to in ipairs { "treasury", "proposer" } do
      local chain = testing.chain { pricing = { plugin = "plugins/pricing/flat.lua", params = { price = 3, to = to } } }
      ok(chain:deploy_source("alice", "box", BOX))
      local who = to == "treasury" and "treasury" or "node0"
      local before, total = chain:balance(who), supply(chain)
      local r = ok(chain:send("alice", "box", "spin", 10))
      assert.are.equal(3 * r.gas_used, r.fee)
      assert.are.equal(before + r.fee, chain:balance(who))
      assert.are.equal(total, supply(chain))
    end
  end)

  it("limits the gas to max_fee / price and charges all of max_fee when a call runs out", function()
    local chain = testing.chain { pricing = { plugin = "plugins/pricing/flat.lua", params = { price = 4 } } }
    ok(chain:deploy_source("alice", "box", BOX))
    local r = chain:send_with({ max_fee = 40000 }, "alice", "box", "spin", 1e9)
    assert.are.equal("EGAS", r.code)
    assert.are.equal(10000, r.gas_used)
    assert.are.equal(40000, r.fee)
  end)

  it("refuses a sender whose balance is below max_fee at inclusion, state untouched", function()
    local chain = testing.chain()
    chain:new_account("poor", 10)
    local root = chain:root()
    refused(chain:send_with({ max_fee = 11 }, "poor", "sys", "transfer", "bob", 1), "EBALANCE",
            "poor has 10, max_fee is 11")
    assert.are.equal(root, chain:root())
  end)

  it("refuses params it cannot work with at genesis", function()
    assert.has_error(function()
      testing.chain { pricing = { plugin = "plugins/pricing/flat.lua", params = { price = 0 } } }
    end)
  end)
end)

describe("pricing - the fixture", function()
  local chain
  before_each(function()
    chain = testing.chain()
    ok(chain:deploy("alice", "token", "contracts/token.lua", "LUN", 1000))
  end)

  it("quote gives what the same call then pays, and keeps nothing it did", function()
    local root = chain:root()
    local q = chain:quote("alice", "token", "transfer", "bob", 10)
    assert.are.equal(root, chain:root())
    assert.are.equal(0, chain:query("token", "balance_of", "bob"))
    local r = ok(chain:send("alice", "token", "transfer", "bob", 10))
    assert.are.equal(r.fee, q.fee)
    assert.are.equal("alice", q.payer)
    assert.is_true(q.ok)
    assert.are.equal(r.usage.gas, q.usage.gas)
    assert.are.equal(r.usage.storage_added, q.usage.storage_added)
    assert.are.equal(r.usage.tx_bytes, q.usage.tx_bytes)
  end)

  it("quote says how a failing call fails, with its fee", function()
    local q = chain:quote("bob", "token", "transfer", "alice", 5)
    assert.is_false(q.ok)
    assert.is_truthy(q.error:find("insufficient balance", 1, true), q.error)
    assert.is_true(q.fee > 0)
  end)

  it("quote gives the refusal a transaction would meet", function()
    chain:new_account("poor", 10)
    local q = chain:quote("poor", "token", "transfer", "alice", 5)
    assert.are.equal("EBALANCE", q.code)
    assert.is_truthy(q.why:find("poor has 10", 1, true), q.why)
  end)

  it("batch puts every call in one block, one sender's nonces in order, and gives the receipts", function()
    local h = chain:height()
    local rs = chain:batch {
      { "alice", "token", "transfer", "bob", 1 },
      { "alice", "token", "transfer", "carol", 2 },
      { "bob", "sys", "transfer", "carol", 3 },
      { "carol", "token", "transfer", "dave", 5 },
    }
    assert.are.equal(h + 1, chain:height())
    assert.are.equal(4, #rs)
    ok(rs[1]); ok(rs[2]); ok(rs[3])
    assert.is_true(rs[4].included)
    assert.is_false(rs[4].ok)
    assert.are.equal(2, chain:query("token", "balance_of", "carol"))
    assert.are.equal(3, chain:account("alice").nonce)
  end)
end)

describe("pricing - a plugin that fails", function()
  local refusals = {
    { "admit_error", "admit: " , "admit broke" },
    { "admit_loop", "admit: stopped after its budget" },
    { "admit_memory", "admit: stopped at its memory cap" },
    { "admit_garbage", "admit returned a string, not true or false" },
    { "admit_limit", "admit: the gas limit must be an integer" },
    { "charge_error", "charge: ", "charge broke" },
    { "charge_loop", "charge: stopped after its budget" },
    { "charge_memory", "charge: stopped at its memory cap" },
    { "charge_string", "charge returned a string, not a table" },
    { "charge_negative", "fee must be an integer from 0 to 2^53-1" },
    { "charge_float", "fee must be an integer from 0 to 2^53-1" },
    { "charge_huge", "fee must be an integer from 0 to 2^53-1" },
    { "charge_payer", "payer must be an account name" },
    { "charge_nopayer", "the payer ghost has no account" },
    { "charge_to", "to must be burn, treasury, proposer or a table" },
    { "charge_split", "the amounts of to must be integers that add up to fee" },
    { "charge_maxfee", "more than its max_fee" },
    { "charge_meta", "fee must be an integer" },
  }
  for _, case in ipairs(refusals) do
    local fault, text, more = case[1], case[2], case[3]
    it("refuses the transaction it fails on (" .. fault .. "), logs why, and the block goes on", function()
      local chain = faulty(fault)
      local root, a = chain:root(), chain:account("alice")
      local rs = chain:batch {
        { "alice", "bad", "put", "k", 1 },
        { "bob", "box", "put", "k", 2 },
      }
      local r = refused(rs[1], "EPLUGIN", "pricing plugin faulty: ")
      assert.is_truthy(r.error:find(text, 1, true), r.error)
      if more then assert.is_truthy(r.error:find(more, 1, true), r.error) end
      ok(rs[2])
      assert.is_nil(chain:get("sbad/k"))
      assert.are.equal(a.nonce, chain:account("alice").nonce)
      assert.are.equal(a.balance, chain:balance("alice"))
      assert.are_not.equal(root, chain:root())        -- bob's transaction went in
      local log = table.concat(chain:log(), "\n")
      assert.is_truthy(log:find("transaction refused: pricing plugin faulty: ", 1, true), log)
      assert.is_truthy(log:find(text, 1, true), log)
      -- and the chain goes on
      ok(chain:send("alice", "box", "put", "k", 3))
    end)
  end

  it("keeps the state as it was when on_block fails, and the block goes on", function()
    local chain = faulty("block_error")
    ok(chain:send("alice", "box", "put", "k", 1))
    assert.is_nil(chain:get("fblocks"))
    assert.is_truthy(table.concat(chain:log(), "\n"):find("on_block: ", 1, true))
    chain:advance(1)                                 -- no transaction: on_block does not fail
    assert.are.equal(1, core.decode(chain:get("fblocks")))
    ok(chain:send("alice", "box", "put", "k", 2))
  end)

  it("stops an on_block that loops, and the block goes on", function()
    local chain = faulty("block_loop")
    ok(chain:send("alice", "box", "put", "k", 1))
    assert.is_truthy(table.concat(chain:log(), "\n"):find("on_block: stopped after its budget", 1, true))
  end)

  it("gives two independent chains the same roots and receipts while it fails", function()
    local function run()
      local chain = faulty("charge_loop")
      local out = {}
      for i = 1, 3 do
        local rs = chain:batch { { "alice", "bad", "put", "k", i }, { "bob", "box", "put", "k", i } }
        out[#out + 1] = rs[1].code .. rs[2].fee .. chain:root()
      end
      return out
    end
    assert.are.same(run(), run())
  end)
end)

describe("pricing - pricing.log", function()
  it("writes a plugin's lines to the node's log, at most 16 a block", function()
    local chain = testing.chain { pricing = { plugin = "tests/lua/pricing/logger.lua" } }
    local r = ok(chain:send("alice", "sys", "transfer", "bob", 1))
    local log = chain:log()
    assert.are.same({ "pricing plugin: charged\talice\t" .. r.gas_used .. "\t(error object is a table value)" }, log)
    local calls = {}
    for i = 1, 20 do calls[i] = { "alice", "sys", "transfer", "bob", 1 } end
    for _, x in ipairs(chain:batch(calls)) do ok(x) end
    log = chain:log()
    assert.are.equal(17, #log)
    assert.are.equal("pricing plugin: (more lines of this block dropped)", log[17])
  end)
end)

describe("pricing - governance and a broken plugin", function()
  -- A plugin whose charge always fails: only governance can still act.
  local BROKEN = "return { NAME = 'broken', charge = function() error('broken') end }"

  it("prices a governance transaction by the built-in rule when the plugin fails, so it can be replaced", function()
    local chain = testing.chain { admin = "alice" }
    local at = chain:height() + 3
    ok(chain:propose("alice", "plugin", { slot = "pricing", code = BROKEN, at = at }))
    chain:advance(3)
    assert.are.equal("broken", chain:plugin("pricing").name)
    refused(chain:send("bob", "sys", "transfer", "carol", 1), "EPLUGIN", "charge: ")
    local flat = assert(io.open("plugins/pricing/flat.lua")):read("*a")
    local r = ok(chain:propose("alice", "plugin", { slot = "pricing", code = flat, at = chain:height() + 3 }))
    assert.are.equal(r.gas_used, r.fee)
    assert.is_truthy(table.concat(chain:log(), "\n"):find("a governance transaction goes on", 1, true))
    chain:advance(3)
    assert.are.equal("flat", chain:plugin("pricing").name)
    ok(chain:send("bob", "sys", "transfer", "carol", 1))
  end)

  it("refuses a pricing plugin without charge, or that does not load, when it is proposed", function()
    local chain = testing.chain { admin = "alice" }
    for _, code in ipairs { "return {}", "return {", "error('no')", "return { charge = 1 }",
                            "return { charge = function() end, admit = 'yes' }" } do
      local r = chain:propose("alice", "plugin", { slot = "pricing", code = code, at = chain:height() + 3 })
      assert.is_false(r.ok)
      assert.is_truthy(r.error:find("pricing plugin refused", 1, true), r.error)
    end
  end)
end)

describe("pricing - swaps", function()
  it("prices by the new plugin from the swap's height on, with its params", function()
    local chain = testing.chain { admin = "alice" }
    ok(chain:deploy_source("alice", "box", BOX))
    local flat = assert(io.open("plugins/pricing/flat.lua")):read("*a")
    local at = chain:height() + 3
    ok(chain:propose("alice", "plugin", { slot = "pricing", code = flat, at = at, params = { price = 2, to = "treasury" } }))
    local r = ok(chain:send("bob", "box", "ping"))
    assert.are.equal(r.gas_used, r.fee)
    assert.are.equal(at, chain:height() + 1)
    local t = chain:balance("treasury")
    r = ok(chain:send("bob", "box", "ping"))
    assert.are.equal(2 * r.gas_used, r.fee)
    assert.are.equal(t + r.fee, chain:balance("treasury"))
  end)

  it("takes a param change of the plugin in force from the next block (pricing.price)", function()
    local chain = testing.chain { admin = "alice" }
    ok(chain:propose("alice", "param", { name = "pricing.price", value = 5 }))
    local r = ok(chain:send("bob", "sys", "transfer", "carol", 1))
    assert.are.equal(5 * r.gas_used, r.fee)
  end)
end)

describe("pricing - determinism", function()
  local MODELS = {
    { "plugins/pricing/flat.lua", {} },
    { "plugins/pricing/fee_market.lua", {} },
    { "plugins/pricing/staked.lua", { cpu = 10000000 } },
    { "plugins/pricing/reverse_gas.lua", { threshold = 1000 } },
    { "plugins/pricing/storage_rent.lua", { rate = 7 } },
  }
  for _, m in ipairs(MODELS) do
    it("gives the same roots and receipts on two independent chains under " .. m[1], function()
      local function run()
        local chain = testing.chain { pricing = { plugin = m[1], params = m[2] } }
        local out = {}
        local function note(rs)
          for _, r in ipairs(rs) do
            out[#out + 1] = table.concat({ tostring(r.included), tostring(r.code), r.fee, r.gas_used,
                                           tostring(r.payer) }, " ")
          end
          out[#out + 1] = chain:root()
        end
        note { chain:stake("alice", 1000000), chain:stake("bob", 3000000) }
        note { chain:deploy_source("alice", "box", BOX) }
        note { chain:send("alice", "sys", "transfer", "box", 10000000) }
        for i = 1, 4 do
          note(chain:batch {
            { "alice", "box", "put", "k" .. i, string.rep("v", i * 10) },
            { "bob", "box", "spin", i * 1000 },
            { "alice", "box", "del", "k" .. (i - 1) },
          })
          chain:advance(i)
        end
        return out
      end
      assert.are.same(run(), run())
    end)
  end
end)
