-- tests/lua/pricing_models_spec.lua -- the shipped pricing models, each on
-- a chain that runs it from genesis: fee_market.lua (the base fee's
-- formula, burned, the tip to the proposer, refused under the base fee),
-- staked.lua (shares of CPU and NET per window by stake, RAM bought, no
-- fee, EQUOTA), reverse_gas.lua (the contract pays; frozen below its
-- threshold) and storage_rent.lua (rent per byte per block, taken lazily;
-- frozen until topped up; deleting stops it).

local testing = require "lunet.testing"
local core = require "lunet.core"

local BOX = [[
local M = {}
function M.put(k, v) storage.set(k, v) end
function M.del(k) storage.delete(k) end
function M.spin(n) local x = 0 for i = 1, n do x = x + i end return x end
function M.ping() return 1 end
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

local function model(name, params, chain_params, max_fee)
  return testing.chain { pricing = { plugin = "plugins/pricing/" .. name .. ".lua", params = params },
                         params = chain_params, max_fee = max_fee }
end

-- The plugin's own state key k, decoded.
local function fkey(chain, k)
  local v = chain:get("f" .. k)
  return v and core.decode(v)
end

local function floor(x) return math.floor(x) end

describe("pricing - fee_market.lua", function()
  local TARGET = 500000                    -- block_gas_max 1000000 / 2
  local function market(params, max_fee)
    local chain = model("fee_market", params or { base_fee = 10, tip = 2, min_gas = 100 },
                        { block_gas_max = 1000000 }, max_fee)
    ok(chain:deploy_source("alice", "box", BOX))
    return chain
  end
  local function base(chain) return fkey(chain, "base") end

  it("raises the base fee after a block above the target by base * (used - target) / target / 8", function()
    local chain = market({ base_fee = 1000000, tip = 2, min_gas = 100 }, 200000000000)
    local b = base(chain)
    local calls = {}
    for i = 1, 8 do calls[i] = { i % 2 == 0 and "alice" or "bob", "box", "spin", 40000 } end
    local used = 0
    for _, r in ipairs(chain:batch(calls)) do used = used + ok(r).gas_used end
    assert.is_true(used > TARGET, used)
    assert.are.equal(b + math.max(floor(b * (used - TARGET) / TARGET / 8), 1), base(chain))
  end)

  it("raises it by at least 1 a block just above the target", function()
    local chain = market { base_fee = 1, tip = 0, min_gas = 0 }
    local calls = {}
    for i = 1, 8 do calls[i] = { "alice", "box", "spin", 32000 } end
    local used = 0
    for _, r in ipairs(chain:batch(calls)) do used = used + ok(r).gas_used end
    assert.is_true(used > TARGET and used < TARGET * 2, used)
    assert.are.equal(2, base(chain))
  end)

  it("lowers it after a block below the target by base * (target - used) / target / 8, not under min_base", function()
    local chain = model("fee_market", { base_fee = 1000, tip = 0, min_base = 500, min_gas = 0 },
                        { block_gas_max = 1000000 })
    local r = ok(chain:deploy_source("alice", "box", BOX))
    local b = 1000 - floor(1000 * (TARGET - r.gas_used) / TARGET / 8)
    assert.are.equal(b, base(chain))
    chain:advance(1)
    assert.are.equal(b - floor(b / 8), base(chain))
    chain:advance(10)
    assert.are.equal(500, base(chain))
  end)

  it("burns gas * base and pays gas * tip to the proposer, from the sender", function()
    local chain = market()
    chain:advance(1)
    local b = base(chain)
    local node0, alice, treasury = chain:balance("node0"), chain:balance("alice"), chain:balance("treasury")
    local r = ok(chain:send("alice", "box", "ping"))
    assert.are.equal(r.gas_used * (b + 2), r.fee)
    assert.are.equal(node0 + r.gas_used * 2, chain:balance("node0"))
    assert.are.equal(alice - r.fee, chain:balance("alice"))
    assert.are.equal(treasury, chain:balance("treasury"))
  end)

  it("refuses (EMAXFEE) a transaction whose max_fee cannot cover the base fee times min_gas", function()
    local chain = market()
    local b = base(chain)
    local a = chain:account("alice")
    refused(chain:send_with({ max_fee = b * 100 - 1 }, "alice", "box", "ping"), "EMAXFEE",
            "below the base fee " .. b .. " times 100 gas")
    assert.are.equal(a.balance, chain:balance("alice"))
    assert.are.equal(a.nonce, chain:account("alice").nonce)
    ok(chain:send_with({ max_fee = b * 100 + 1000000 }, "alice", "box", "ping"))
  end)

  it("limits the gas to max_fee / (base + tip), and quotes what a call pays", function()
    local chain = market()
    local b = base(chain)
    local q = chain:quote("alice", "box", "ping")
    local r = ok(chain:send("alice", "box", "ping"))
    assert.are.equal(r.fee, q.fee)
    assert.are.equal(r.gas_used * (b + 2), r.fee)
    b = base(chain)
    r = chain:send_with({ max_fee = 1200 * (b + 2) + 5 }, "alice", "box", "spin", 1e9)
    assert.are.equal("EGAS", r.code)
    assert.are.equal(1200, r.gas_used)
  end)
end)

describe("pricing - staked.lua", function()
  -- cpu 1,000,000 instructions and net 5,000 bytes per window of 10 blocks
  local function staked()
    local chain = model("staked", { window = 10, cpu = 1000000, net = 5000, ram_price = 2 })
    ok(chain:stake("alice", 3000))
    ok(chain:stake("bob", 1000))
    ok(chain:deploy_source("alice", "box", BOX))
    return chain
  end

  it("refuses (EQUOTA) an account without stake, which can still stake, for free", function()
    local chain = staked()
    refused(chain:send("carol", "box", "ping"), "EQUOTA", "carol has no stake")
    local balance = chain:balance("carol")
    local r = ok(chain:stake("carol", 500))
    assert.are.equal(0, r.fee)
    assert.are.equal(balance - 500, chain:balance("carol"))
    assert.are.equal(500, chain:account("carol").stake)
    ok(chain:send("carol", "box", "ping"))
  end)

  it("charges no fee for CPU and NET", function()
    local chain = staked()
    local balance = chain:balance("bob")
    local r = ok(chain:send("bob", "box", "spin", 1000))
    assert.are.equal(0, r.fee)
    assert.are.equal(balance, chain:balance("bob"))
  end)

  it("gives each account a share of the window's CPU in proportion to its stake", function()
    local chain = staked()
    assert.are.equal(750000 - fkey(chain, "u:alice").cpu, chain:quote("alice", "box", "ping").gas_limit)
    assert.are.equal(250000, chain:quote("bob", "box", "ping").gas_limit)
  end)

  it("refuses (EQUOTA) an account that used its CPU share until the next window", function()
    local chain = staked()
    local r = chain:send("bob", "box", "spin", 1e9)
    assert.are.equal("EGAS", r.code)
    assert.are.equal(250000, r.gas_used)
    refused(chain:send("bob", "box", "ping"), "EQUOTA", "bob used 250000 of its 250000 instructions")
    ok(chain:send("alice", "box", "ping"))
    while chain:height() % 10 ~= 9 do chain:advance(1) end
    ok(chain:send("bob", "box", "ping"))
  end)

  it("refuses (EQUOTA) a transaction whose bytes would pass the account's NET share", function()
    local chain = staked()
    while chain:height() % 10 ~= 9 do chain:advance(1) end     -- a fresh window next
    local used, n = 0, 0
    repeat
      local r = chain:send("bob", "box", "ping")
      if r.included then used, n = used + r.usage.tx_bytes, n + 1 end
    until not r.included or n > 20
    assert.is_true(n > 1 and n <= 7, n)                      -- 1250 bytes of ~190 each
    assert.is_true(used <= 1250, used)
  end)

  it("sells RAM at ram_price per byte to the treasury, keeps freed bytes bought, and refuses beyond max_fee", function()
    local chain = staked()
    local t = chain:balance("treasury")
    local r = ok(chain:send("alice", "box", "put", "k", string.rep("v", 97)))
    assert.are.equal(100, r.usage.storage_added)          -- "k" and 99 bytes of msgpack
    assert.are.equal(200, r.fee)
    assert.are.equal(t + 200, chain:balance("treasury"))
    ok(chain:send("alice", "box", "del", "k"))
    r = ok(chain:send("alice", "box", "put", "j", string.rep("v", 97)))
    assert.are.equal(0, r.fee)
    refused(chain:send_with({ max_fee = 9 }, "alice", "box", "put", "x", "12345678"), "EQUOTA",
            "needs 10 more bytes of RAM at 2 each")
  end)

  it("lets stake go with unstake, back in the balance after unbonding_blocks", function()
    local chain = model("staked", {}, { unbonding_blocks = 3 })
    ok(chain:stake("alice", 1000))
    local balance = chain:balance("alice")
    ok(chain:unstake("alice", 400))
    local a = chain:account("alice")
    assert.are.equal(600, a.stake)
    assert.are.same({ { amount = 400, at = chain:height() + 3 } }, a.unbonding)
    chain:advance(2)
    assert.are.equal(balance, chain:balance("alice"))
    chain:advance(1)
    assert.are.equal(balance + 400, chain:balance("alice"))
    assert.are.same({}, chain:account("alice").unbonding)
  end)
end)

describe("pricing - reverse_gas.lua", function()
  local function reverse()
    local chain = model("reverse_gas", { threshold = 100000, price = 1 })
    ok(chain:deploy_source("alice", "box", BOX))
    ok(chain:send("alice", "sys", "transfer", "box", 1000000))
    chain:new_account("nobody")
    return chain
  end

  it("charges the called contract, and a caller without funds pays nothing", function()
    local chain = reverse()
    local box = chain:balance("box")
    local r = ok(chain:send_with({ max_fee = 0 }, "nobody", "box", "ping"))
    assert.are.equal("box", r.payer)
    assert.are.equal(r.gas_used, r.fee)
    assert.are.equal(box - r.fee, chain:balance("box"))
    assert.are.equal(0, chain:balance("nobody"))
  end)

  it("refuses (EFROZEN) calls of a contract below its freezing threshold; the caller pays nothing; a top-up thaws it", function()
    local chain = reverse()
    local r = chain:send("alice", "box", "spin", 1e9)          -- limit: what is above the threshold
    assert.are.equal("EGAS", r.code)
    assert.are.equal(100000, chain:balance("box"))
    local a = chain:account("bob")
    refused(chain:send("bob", "box", "ping"), "EFROZEN", "not above its freezing threshold 100000")
    assert.are.equal(a.balance, chain:balance("bob"))
    assert.are.equal(a.nonce, chain:account("bob").nonce)
    ok(chain:send("alice", "sys", "transfer", "box", 50000))
    ok(chain:send("bob", "box", "ping"))
  end)

  it("lets the sender pay for sys and gov", function()
    local chain = reverse()
    local bob = chain:balance("bob")
    local r = ok(chain:send("bob", "sys", "transfer", "carol", 5))
    assert.are.equal("bob", r.payer)
    assert.are.equal(bob - 5 - r.fee, chain:balance("bob"))
  end)

  it("lets the sender pay for a transaction that calls more than one contract", function()
    local chain = reverse()
    ok(chain:deploy_source("alice", "box2", BOX))
    local box, a = chain:balance("box"), chain:balance("alice")
    local tx = chain:transaction("alice", { { contract = "box", method = "ping", args = {} },
                                            { contract = "box2", method = "ping", args = {} } })
    local r = ok(chain:apply({ tx })[1])
    assert.are.equal("alice", r.payer)
    assert.are.equal(a - r.fee, chain:balance("alice"))
    assert.are.equal(box, chain:balance("box"))
  end)
end)

describe("pricing - storage_rent.lua", function()
  -- 1 fee unit per 10 bytes per block
  local function rent()
    local chain = model("storage_rent", { rate = 1, per = 10 })
    ok(chain:deploy_source("alice", "box", BOX))
    return chain, chain:height()
  end

  it("takes rent per byte per block from the contract when it is called, to the treasury", function()
    local chain, at = rent()
    ok(chain:send("alice", "sys", "transfer", "box", 1000000))
    chain:advance(10)
    local box, t = chain:balance("box"), chain:balance("treasury")
    local h = chain:height() + 1
    local r = ok(chain:send("bob", "box", "ping"))
    local due = floor(#BOX * (h - at) / 10)
    assert.are.equal(box - due, chain:balance("box"))
    assert.are.equal(t + due, chain:balance("treasury"))
    assert.are.equal("bob", r.payer)
    assert.are.equal(r.gas_used, r.fee)
  end)

  it("freezes a contract that cannot pay (EFROZEN) until it is topped up", function()
    local chain = rent()
    chain:advance(5)
    local a = chain:account("bob")
    refused(chain:send("bob", "box", "ping"), "EFROZEN", "box owes")
    assert.are.equal(a.balance, chain:balance("bob"))
    ok(chain:send("alice", "sys", "transfer", "box", 100000))
    ok(chain:send("bob", "box", "ping"))
    assert.is_true(chain:balance("box") < 100000)
  end)

  it("stops the rent of data once it is deleted", function()
    local chain, at = rent()
    ok(chain:send("alice", "sys", "transfer", "box", 10000000))
    local r = ok(chain:send("alice", "box", "put", "k", string.rep("v", 1000)))
    local big = #BOX + r.usage.storage_added
    assert.are.equal(big, fkey(chain, "h:box").bytes)
    ok(chain:send("alice", "box", "del", "k"))
    assert.are.equal(#BOX, fkey(chain, "h:box").bytes)
    local h0 = fkey(chain, "h:box").at
    chain:advance(20)
    local box = chain:balance("box")
    local h = chain:height() + 1
    ok(chain:send("bob", "box", "ping"))
    assert.are.equal(box - floor(#BOX * (h - h0) / 10), chain:balance("box"))
    assert.is_true(h0 > at)
  end)
end)
