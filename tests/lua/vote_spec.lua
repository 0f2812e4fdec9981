-- tests/lua/vote_spec.lua -- DESIGN "Staking": sys.vote sets an account's
-- approval votes for producers (validators), weighted by its stake; the
-- producers' totals follow stake and unstake, and are paid for; what it
-- refuses; the same roots on independent chains.

local testing = require "lunet.testing"
local core = require "lunet.core"

local VALIDATORS = { "node0", "node1", "node2", "node3" }

local receipts = dofile("tests/lua/receipts.lua")
local ok, failed = receipts.ok, receipts.failed

-- The weight of the votes for a producer, as state holds it.
local function weight(chain, producer)
  local v = chain:get("V" .. producer)
  return v and core.decode(v) or 0
end

local function chain_of()
  return testing.chain { validators = VALIDATORS }
end

describe("sys.vote", function()
  it("records the producers approved, sorted, shown with the account", function()
    local chain = chain_of()
    assert.are.same({}, chain:account("alice").votes)
    ok(chain:vote_producers("alice", { "node2", "node0" }))
    assert.are.same({ "node0", "node2" }, chain:account("alice").votes)
    ok(chain:vote_producers("alice", { "node3" }))
    assert.are.same({ "node3" }, chain:account("alice").votes)
    ok(chain:vote_producers("alice", {}))
    assert.are.same({}, chain:account("alice").votes)
    assert.is_nil(chain:get("valice"))
  end)

  it("weighs each approved producer by the voter's whole stake", function()
    local chain = chain_of()
    ok(chain:stake("alice", 500))
    ok(chain:stake("bob", 70))
    ok(chain:vote_producers("alice", { "node1", "node2" }))
    ok(chain:vote_producers("bob", { "node2" }))
    assert.are.equal(0, weight(chain, "node0"))
    assert.are.equal(500, weight(chain, "node1"))
    assert.are.equal(570, weight(chain, "node2"))
    -- A new vote moves the weight; clearing removes it.
    ok(chain:vote_producers("alice", { "node0" }))
    assert.are.equal(500, weight(chain, "node0"))
    assert.are.equal(0, weight(chain, "node1"))
    assert.are.equal(70, weight(chain, "node2"))
    ok(chain:vote_producers("alice", {}))
    assert.are.equal(0, weight(chain, "node0"))
    assert.is_nil(chain:get("Vnode0"))
  end)

  it("follows the stake: staking more adds weight, unstaking takes it at once", function()
    local chain = chain_of()
    ok(chain:vote_producers("carol", { "node1", "node3" }))      -- no stake yet: weight 0
    assert.are.equal(0, weight(chain, "node1"))
    ok(chain:stake("carol", 1000))
    assert.are.equal(1000, weight(chain, "node1"))
    assert.are.equal(1000, weight(chain, "node3"))
    ok(chain:unstake("carol", 400))
    assert.are.equal(600, weight(chain, "node1"))
    assert.are.equal(600, weight(chain, "node3"))
    -- Released unbonding changes nothing more.
    chain:advance(101)
    assert.are.equal(600, weight(chain, "node1"))
    ok(chain:unstake("carol", 600))
    assert.is_nil(chain:get("Vnode1"))
    assert.are.same({ "node1", "node3" }, chain:account("carol").votes)
  end)

  it("charges a write for each producer total it changes, in vote and in stake", function()
    local chain = chain_of()
    local one = ok(chain:vote_producers("alice", { "node1" })).gas_used
    local three = ok(chain:vote_producers("bob", { "node1", "node2", "node3" })).gas_used
    assert.is_true(three > one, three .. " <= " .. one)
    -- Changing three votes writes the three old totals and the new ones.
    local again = ok(chain:vote_producers("bob", { "node0", "node1", "node2" })).gas_used
    assert.is_true(again > three, again .. " <= " .. three)
    local plain = ok(chain:stake("carol", 10)).gas_used
    local voter = ok(chain:stake("bob", 10)).gas_used
    assert.is_true(voter > plain, voter .. " <= " .. plain)
  end)

  it("refuses more than 30 producers (ETOOBIG)", function()
    local chain = chain_of()
    local many = {}
    for i = 1, 31 do many[i] = "node" .. (i % 4) end
    failed(chain:vote_producers("alice", many), "ETOOBIG", "at most 30 producers")
    assert.are.same({}, chain:account("alice").votes)
  end)

  it("refuses a producer named twice (EINVAL)", function()
    local chain = chain_of()
    failed(chain:vote_producers("alice", { "node1", "node2", "node1" }), "EINVAL", "node1 is named twice")
  end)

  it("refuses a name that is not a validator (ENOTFOUND) or not a name (EBADNAME)", function()
    local chain = chain_of()
    ok(chain:stake("alice", 10))
    failed(chain:vote_producers("alice", { "node1", "bob" }), "ENOTFOUND", "bob is not a validator")
    failed(chain:vote_producers("alice", { "nobody" }), "ENOTFOUND", "nobody is not a validator")
    failed(chain:vote_producers("alice", { "node1", 7 }), "EBADNAME", "producer 2 is not an account name")
    failed(chain:vote_producers("alice", { "Bad Name" }), "EBADNAME", "producer 1 is not an account name")
    assert.are.same({}, chain:account("alice").votes)
    assert.are.equal(0, weight(chain, "node1"))
  end)

  it("refuses what is not a list of names (EINVAL)", function()
    local chain = chain_of()
    for _, bad in ipairs { "node1", 3, true, { a = "node1" } } do
      failed(chain:vote_producers("alice", bad), "EINVAL", "producers must be a list of names")
    end
    failed(chain:send("alice", "sys", "vote"), "EINVAL", "producers must be a list of names")
  end)

  it("gives the same roots on independent chains", function()
    local roots = {}
    for i = 1, 2 do
      local chain = chain_of()
      ok(chain:stake("alice", 300))
      ok(chain:vote_producers("alice", { "node3", "node1" }))
      ok(chain:stake("bob", 9))
      ok(chain:vote_producers("bob", { "node1" }))
      ok(chain:unstake("alice", 100))
      roots[i] = chain:root()
    end
    assert.are.equal(roots[1], roots[2])
  end)
end)
