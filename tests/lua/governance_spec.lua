-- tests/lua/governance_spec.lua -- the governance contract gov under the
-- default policy (plugins/governance/admin.lua): proposals of every kind
-- carried out through the system table, what each refuses, plugin swaps
-- scheduled, readied by the validators and put in force (or postponed),
-- the governance plugin swapped for another, and the same root on two
-- chains that run the same swaps.

local testing = require "lunet.testing"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local BFT = read("consensus/bft.lua")
local VALIDATORS = { "node0", "node1", "node2", "node3" }

local function gov_chain(opts)
  opts = opts or {}
  opts.admin = opts.admin or "alice"
  opts.validators = opts.validators or VALIDATORS
  return testing.chain(opts)
end

local function ok(r)
  assert.is_true(r.ok, r.error)
  return r
end

local function refused(r, pattern)
  assert.is_false(r.ok)
  assert.matches(pattern, r.error, 1, true)
  return r
end

local function events(r, name)
  local out = {}
  for _, e in ipairs(r.events) do
    if e.name == name then out[#out + 1] = e.data end
  end
  return out
end

describe("governance - admin.lua", function()
  it("the admin's proposal passes and is carried out at once, each transition an event", function()
    local chain = gov_chain()
    local r = ok(chain:propose("alice", "param", { name = "swap_delay", value = 3 }))
    assert.are.equal(1, r.result)
    local st = {}
    for _, e in ipairs(events(r, "proposal")) do st[#st + 1] = e.status end
    assert.are.same({ "voting", "passed", "executed" }, st)
    local p = chain:query("gov", "proposal", 1)
    assert.are.equal("executed", p.status)
    assert.are.equal("param", p.kind)
    assert.are.equal(1, #chain:query("gov", "proposals", "executed"))
    assert.are.same({ name = "admin", admin = "alice" }, chain:query("gov", "policy"))
  end)

  it("anyone else is refused and nothing is recorded", function()
    local chain = gov_chain()
    refused(chain:propose("bob", "param", { name = "swap_delay", value = 3 }),
            "only the admin alice may decide, not bob")
    refused(chain:propose("bob", "member", { op = "add", key = string.rep("ab", 32) }),
            "only the admin alice may change membership, not bob")
    assert.are.same({}, chain:query("gov", "proposals"))
  end)

  it("a chain without an admin decides nothing", function()
    local chain = testing.chain()
    refused(chain:propose("alice", "param", { name = "swap_delay", value = 3 }),
            "nobody decides: the chain names no admin")
  end)

  it("bad proposals are refused with the reason and leave the state as it was", function()
    local chain = gov_chain()
    local root = chain:root()
    local cases = {
      { "nope", {}, "unknown proposal kind 'nope'" },
      { "param", { name = "block_gas_max", value = 0 }, "block_gas_max must be 1000000-" },
      { "param", { name = "no_such", value = 1 }, "no_such is no chain param" },
      { "param", { value = 1 }, "param proposal: body.name is required" },
      { "member", { op = "swap", key = string.rep("ab", 32) }, "body.op must be add or remove" },
      { "member", { op = "add", key = "xyz" }, "key must be 32 bytes or 64 hex digits" },
      { "spend", { to = "bob", amount = 5 }, "the treasury holds 0, not 5" },
      { "spend", { to = "nobody", amount = 0 }, "amount must be positive" },
      { "plugin", { slot = "nope", code = "return {}", at = 1000 }, "no plugin slot 'nope'" },
      { "plugin", { slot = "consensus", code = "return {", at = 1000 }, "consensus plugin refused" },
      { "plugin", { slot = "consensus", code = "return { init = function() error('no') end }", at = 1000 },
        "no" },
      { "plugin", { slot = "consensus", code = "return { init = function() while true do end end }",
                    at = 1000 }, "consensus plugin refused" },
      { "plugin", { slot = "consensus", code = BFT, at = 1 }, "at must be" },
      { "plugin", { slot = "governance", code = "return { propose = 1 }", at = 1000 },
        "has no function propose" },
      { "code", { contract = "bob", source = "return {}" }, "bob@owner is not held by gov@active" },
    }
    for _, c in ipairs(cases) do
      local r = chain:propose("alice", c[1], c[2])
      assert.is_false(r.ok, c[1] .. " was not refused")
      assert.matches(c[3], r.error, 1, true)
    end
    -- Only fees and nonces moved: no proposal, no swap, no param.
    assert.are.same({}, chain:query("gov", "proposals"))
    assert.are.same({}, chain:pending())
    assert.are_not.equal(root, chain:root())
  end)

  it("a chain param takes effect from the next block", function()
    local chain = gov_chain()
    ok(chain:propose("alice", "param", { name = "tx_bytes_max", value = 1024 }))
    local big = string.rep("x", 2000)
    local r = chain:send("alice", "sys", "transfer", "bob", 1, big)
    assert.is_false(r.included)
    assert.matches("tx_bytes_max is 1024", r.error, 1, true)
  end)

  it("spend pays from the treasury, which anyone may fund", function()
    local chain = gov_chain()
    ok(chain:send("bob", "sys", "transfer", "treasury", 500))
    ok(chain:propose("alice", "spend", { to = "carol", amount = 200, memo = "audit" }))
    assert.are.equal(300, chain:balance("treasury"))
    refused(chain:propose("alice", "spend", { to = "carol", amount = 301 }), "the treasury holds 300")
    -- Nobody signs for the treasury or gov.
    refused(chain:send_with({ keys = { chain.keys.alice.sk } }, "treasury", "sys", "transfer", "alice", 1),
            "")
  end)

  it("member and validator proposals change the membership, and sys.addmember goes through the policy", function()
    local chain = gov_chain()
    local key = string.rep("cd", 32)
    local r = ok(chain:send("alice", "sys", "addmember", key))
    assert.are.equal(1, r.result)
    assert.are.equal("executed", chain:query("gov", "proposal", 1).status)
    refused(chain:send("bob", "sys", "addmember", string.rep("ef", 32)),
            "only the admin alice may change membership, not bob")
    ok(chain:propose("alice", "validator", { op = "add", name = "node4", key = string.rep("12", 32) }))
    ok(chain:propose("alice", "validator", { op = "remove", name = "node4" }))
    ok(chain:propose("alice", "member", { op = "remove", key = key }))
    refused(chain:propose("alice", "validator", { op = "add", name = "gov", key = string.rep("34", 32) }),
            "gov is reserved")
  end)

  it("a governed contract is upgraded by a code proposal, its storage kept", function()
    local chain = gov_chain()
    ok(chain:deploy_source("alice", "box", [[
      return { init = function() storage.set("v", 7) end,
               get = function() return storage.get("v") end }]]))
    ok(chain:send("alice", "sys", "updateauth", "box", "owner",
                  { threshold = 1, keys = {}, accounts = { { account = "gov", permission = "active", weight = 1 } } }))
    ok(chain:propose("alice", "code", { contract = "box", source = [[
      return { get = function() return storage.get("v") * 2 end }]] }))
    assert.are.equal(14, chain:query("box", "get"))
    refused(chain:propose("alice", "code", { contract = "box", source = "return {" }), "set_code")
  end)
end)

describe("governance - the system table and sys.ready", function()
  it("no other contract sees system, and nobody redeploys gov", function()
    local chain = gov_chain()
    ok(chain:send("bob", "sys", "transfer", "treasury", 100))
    ok(chain:deploy_source("bob", "thief", [[
      return { take = function() return system.spend("bob", 100) end }]]))
    refused(chain:send("bob", "thief", "take"), "system")
    assert.are.equal(100, chain:balance("treasury"))
    refused(chain:send("alice", "sys", "deploy", "gov", "return {}"), "missing authority of gov@active")
    refused(chain:send("alice", "sys", "updateauth", "gov", "owner",
                       { threshold = 1, keys = {}, accounts = { { account = "alice", permission = "active", weight = 1 } } }),
            "missing authority of gov@owner")
  end)

  it("sys.ready is a validator's, free, and only for a swap pending", function()
    local chain = gov_chain()
    refused(chain:send("bob", "sys", "ready", "consensus", string.rep("00", 32)), "ready: bob is not a validator")
    local r = chain:send_with({ max_fee = 0 }, "node1", "sys", "ready", "consensus", string.rep("00", 32))
    assert.is_false(r.ok)
    assert.matches("no swap of the consensus slot to that code is pending", r.error, 1, true)
    assert.are.equal(0, r.fee)
    refused(chain:send_with({ max_fee = 0 }, "node1", "sys", "ready", "storage", string.rep("00", 32)),
            "no plugin slot 'storage'")
    -- A validator's ready with other actions pays like any transaction.
    local tx = chain:transaction("node1", {
      { contract = "sys", method = "ready", args = { "consensus", string.rep("00", 32) } },
      { contract = "sys", method = "ready", args = { "consensus", string.rep("00", 32) } } })
    r = chain:apply({ tx })[1]
    assert.is_false(r.included)
    assert.matches("max_fee", r.error, 1, true)
  end)
end)

describe("governance - plugin swaps", function()
  it("a consensus swap is scheduled, readied by the validators and in force from its height", function()
    local chain = gov_chain()
    local at = chain:height() + 4
    local r = ok(chain:propose("alice", "plugin", { slot = "consensus", code = BFT, at = at, params = { timeout_ms = 500 } }))
    local pending = chain:pending()
    assert.are.equal(1, #pending)
    assert.are.equal("consensus", pending[1].slot)
    assert.are.equal(at, pending[1].at)
    assert.are.equal("bft", pending[1].name)
    assert.are.equal("poa", chain:plugin("consensus").name)
    chain:advance(1)
    assert.are.same(VALIDATORS, chain:pending()[1].ready)
    while chain:height() + 1 < at do chain:advance(1) end
    local p = chain:plugin("consensus")
    assert.are.equal("bft", p.name)
    assert.are.equal(at, p.since)
    assert.are.same({ timeout_ms = 500 }, p.params)
    assert.are.same({}, chain:pending())
    assert.is_truthy(r)
  end)

  it("with fewer than 2/3 of the validators ready the swap waits swap_delay blocks, then goes in", function()
    local chain = gov_chain { not_ready = { "node1", "node2" }, params = { swap_delay = 5 } }
    local at = chain:height() + 3
    ok(chain:propose("alice", "plugin", { slot = "consensus", code = BFT, at = at }))
    while chain:height() + 1 < at do chain:advance(1) end
    assert.are.equal("poa", chain:plugin("consensus").name)
    assert.are.equal(at + 5, chain:pending()[1].at)
    -- Three of four is more than 2/3: once node1 loads it, the swap goes in.
    chain.not_ready.node1 = nil
    while chain:height() + 1 < at + 5 do chain:advance(1) end
    assert.are.equal("bft", chain:plugin("consensus").name)
    assert.are.equal(at + 5, chain:plugin("consensus").since)
  end)

  it("a slot takes one swap at a time", function()
    local chain = gov_chain()
    ok(chain:propose("alice", "plugin", { slot = "consensus", code = BFT, at = chain:height() + 5 }))
    refused(chain:propose("alice", "plugin", { slot = "consensus", code = BFT, at = chain:height() + 6 }),
            "the consensus slot has a swap pending already")
  end)

  it("a consensus param proposal puts the same plugin with that param in force next block", function()
    local chain = gov_chain()
    local before = chain:plugin("consensus")
    ok(chain:propose("alice", "param", { name = "consensus.block_ms", value = 250 }))
    local after = chain:plugin("consensus")
    assert.are.equal(before.hash, after.hash)
    assert.are.equal(250, after.params.block_ms)
    assert.are.equal(chain:height() + 1, after.since)
  end)

  it("the governance plugin is swapped for another that sees the open proposals", function()
    local chain = gov_chain()
    ok(chain:propose("alice", "param", { name = "swap_delay", value = 4 }))
    local policy = [[
      local M = { NAME = "frozen" }
      function M.init(params) storage.set("note", params.note) end
      function M.propose() error("frozen: " .. storage.get("note")) end
      function M.vote() error("frozen") end
      function M.execute() error("frozen") end
      function M.policy() return { name = "frozen", seen = storage.get("next") } end
      return M]]
    local at = chain:height() + 3
    ok(chain:propose("alice", "plugin", { slot = "governance", code = policy, at = at,
                                          params = { note = "no changes" } }))
    while chain:height() + 1 < at do chain:advance(1) end
    assert.are.equal("frozen", chain:plugin("governance").name)
    -- The old policy's storage is the new one's: two proposals were made.
    assert.are.same({ name = "frozen", seen = 3 }, chain:query("gov", "policy"))
    refused(chain:propose("alice", "param", { name = "swap_delay", value = 5 }), "frozen: no changes")
  end)

  it("two chains that run the same proposals and swaps end on the same root", function()
    local function run()
      local chain = gov_chain()
      ok(chain:send("bob", "sys", "transfer", "treasury", 50))
      ok(chain:propose("alice", "spend", { to = "dave", amount = 20 }))
      ok(chain:propose("alice", "plugin", { slot = "consensus", code = BFT, at = chain:height() + 3 }))
      chain:advance(4)
      ok(chain:propose("alice", "param", { name = "mempool_max", value = 5000 }))
      return chain:root(), chain:plugin("consensus").name
    end
    local r1, n1 = run()
    local r2, n2 = run()
    assert.are.equal("bft", n1)
    assert.are.equal(n1, n2)
    assert.are.equal(r1, r2)
  end)
end)
