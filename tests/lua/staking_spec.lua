-- tests/lua/staking_spec.lua -- DESIGN "Staking (the system account)":
-- sys.stake bonds native balance, sys.unstake starts its unbonding and the
-- amount returns to the balance unbonding_blocks later; the chain's total;
-- what each refuses; what the governance contract reads (system.stake,
-- system.total_stake); the same roots on independent chains.

local testing = require "lunet.testing"
local core = require "lunet.core"

local receipts = dofile("tests/lua/receipts.lua")
local ok, failed = receipts.ok, receipts.failed

local function total(chain)
  local v = chain:get("t")
  return v and core.decode(v) or 0
end

describe("staking", function()
  it("bonds balance as stake, shown with the account, and counts it in the total", function()
    local chain = testing.chain()
    local b = chain:balance("alice")
    local r = ok(chain:stake("alice", 5000))
    assert.are.equal(b - 5000 - r.fee, chain:balance("alice"))
    assert.are.equal(5000, chain:account("alice").stake)
    ok(chain:stake("bob", 700))
    ok(chain:stake("alice", 1))
    assert.are.equal(5701, total(chain))
    assert.are.equal(0, chain:account("carol").stake)
  end)

  it("refuses to stake more than the balance, and to unstake more than the stake (EBALANCE)", function()
    local chain = testing.chain()
    chain:new_account("poor", 100000)
    failed(chain:send_with({ max_fee = 50000 }, "poor", "sys", "stake", 100001), "EBALANCE",
           "insufficient balance: has 100000, needs 100001")
    assert.are.equal(0, chain:account("poor").stake)
    ok(chain:stake("alice", 10))
    failed(chain:unstake("alice", 11), "EBALANCE", "insufficient stake: has 10, needs 11")
    assert.are.equal(10, chain:account("alice").stake)
    assert.are.equal(10, total(chain))
  end)

  it("refuses an amount that is not a positive integer (EINVAL)", function()
    local chain = testing.chain()
    for _, amount in ipairs { 0, -1, "10", true, { 1 } } do
      failed(chain:stake("alice", amount), "EINVAL", "amount must be a positive integer")
      failed(chain:unstake("alice", amount), "EINVAL", "amount must be a positive integer")
    end
  end)

  it("returns unstaked amounts to the balance at the end of the block unbonding_blocks later", function()
    local chain = testing.chain { params = { unbonding_blocks = 5 } }
    ok(chain:stake("alice", 1000))
    local r1 = ok(chain:unstake("alice", 300))
    local at = chain:height() + 5
    local b = chain:balance("alice")
    assert.are.same({ { amount = 300, at = at } }, chain:account("alice").unbonding)
    assert.are.equal(700, total(chain))
    chain:advance(4)
    assert.are.equal(b, chain:balance("alice"))
    chain:advance(1)
    assert.are.equal(b + 300, chain:balance("alice"))
    assert.are.same({}, chain:account("alice").unbonding)
    assert.are.equal(700, chain:account("alice").stake)
    assert.is_nil(chain:get("u" .. string.char(0, 0, 0, 0, 0, 0, 0, at)))
    assert.is_true(r1.fee > 0)
  end)

  it("keeps two unstakes due at one height as one entry, and refuses a 33rd entry (EFULL)", function()
    local chain = testing.chain()
    ok(chain:stake("alice", 1000))
    local rs = chain:batch { { "alice", "sys", "unstake", 1 }, { "alice", "sys", "unstake", 2 } }
    ok(rs[1]); ok(rs[2])
    assert.are.same({ { amount = 3, at = chain:height() + 100 } }, chain:account("alice").unbonding)
    for _ = 2, 32 do ok(chain:unstake("alice", 1)) end
    assert.are.equal(32, #chain:account("alice").unbonding)
    failed(chain:unstake("alice", 1), "EFULL", "has 32 amounts unbonding already")
  end)

  it("acts for the calling contract inside a call, with the contract's balance", function()
    local chain = testing.chain()
    assert.is_true(chain:deploy_source("alice", "pool", [[
      return { bond = function(n) return call("sys", "stake", n) end }
    ]]).ok)
    ok(chain:send("alice", "sys", "transfer", "pool", 500))
    ok(chain:send("bob", "pool", "bond", 200))
    assert.are.equal(200, chain:account("pool").stake)
    assert.are.equal(300, chain:balance("pool"))
    assert.are.equal(0, chain:account("bob").stake)
  end)

  it("is what the governance contract reads (system.stake, system.total_stake)", function()
    local chain = testing.chain { governance = { plugin = "tests/lua/pricing/stake_policy.lua" } }
    ok(chain:stake("alice", 40))
    ok(chain:stake("bob", 2))
    assert.are.equal(40, chain:query("gov", "stake_of", "alice"))
    assert.are.equal(0, chain:query("gov", "stake_of", "carol"))
    assert.are.equal(42, chain:query("gov", "total"))
  end)

  it("gives the same roots on two independent chains", function()
    local function run()
      local chain = testing.chain { params = { unbonding_blocks = 2 } }
      local roots = {}
      for i = 1, 4 do
        chain:batch { { "alice", "sys", "stake", 100 * i }, { "bob", "sys", "stake", i },
                      { "alice", "sys", "unstake", 10 * i } }
        chain:advance(1)
        roots[#roots + 1] = chain:root()
      end
      return roots
    end
    assert.are.same(run(), run())
  end)
end)
