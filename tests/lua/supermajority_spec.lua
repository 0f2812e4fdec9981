-- tests/lua/supermajority_spec.lua -- plugins/governance/supermajority.lua:
-- at least 2/3 of the validators, a timelock before execute(id) may carry
-- a proposal out, 3/4 to replace the governance plugin itself; who may
-- propose and vote, double and late votes, rejection, expiry, a spend that
-- fails when carried out, and its params refused when they make no sense.

local gt = dofile("tests/lua/govtest.lua")
local ok, refused, statuses = gt.ok, gt.refused, gt.statuses

local function chain_of(params, opts)
  return gt.chain("supermajority", params or { voting_blocks = 10, timelock_blocks = 5 }, opts)
end

local function param(chain, from, value)
  return chain:propose(from, "param", { name = "swap_delay", value = value or 7 })
end

describe("governance - supermajority.lua", function()
  it("passes at 2/3 of the validators, then waits out the timelock before execute carries it out", function()
    local chain = chain_of()
    ok(chain:send("bob", "sys", "transfer", "treasury", 500))
    local id = ok(chain:propose("node0", "spend", { to = "carol", amount = 200 })).result
    local r = ok(chain:vote("node1", id, "yes"))
    assert.are.same({}, statuses(r))                   -- 2 of 4 is short of 2/3
    r = ok(chain:vote("node2", id, "yes"))
    assert.are.same({ "passed", "queued" }, statuses(r))
    local p = gt.proposal(chain, id)
    assert.are.equal("queued", p.status)
    assert.are.equal(chain:height() + 5, p.eta)
    assert.are.equal(500, chain:balance("treasury"))
    refused(chain:send("bob", "gov", "execute", id), "proposal 1 is queued until height " .. p.eta)
    gt.advance_to(chain, p.eta)
    local carol = chain:balance("carol")
    r = ok(chain:send("bob", "gov", "execute", id))   -- anyone may, once the timelock is over
    assert.are.same({ "executed" }, statuses(r))
    assert.are.equal(carol + 200, chain:balance("carol"))
    assert.are.equal(300, chain:balance("treasury"))
    refused(chain:send("bob", "gov", "execute", id), "proposal 1 is executed")
  end)

  it("with timelock_blocks = 0 carries a proposal out in the vote that passes it", function()
    local chain = chain_of({ timelock_blocks = 0 })
    ok(chain:send("bob", "sys", "transfer", "treasury", 50))
    local id = ok(chain:propose("node0", "spend", { to = "dave", amount = 20 })).result
    ok(chain:vote("node1", id, "yes"))
    assert.are.same({ "passed", "executed" }, statuses(ok(chain:vote("node3", id, "yes"))))
    assert.are.equal(30, chain:balance("treasury"))
  end)

  it("needs 3/4 of the validators to replace the governance plugin, where 2/3 pass anything else", function()
    local chain = chain_of({ voting_blocks = 20, timelock_blocks = 2 }, { validators = 6 })
    local other = ok(param(chain, "node0")).result
    local at = chain:height() + 16
    local swap = ok(chain:propose("node0", "plugin", { slot = "governance", at = at,
                                                       code = gt.read("plugins/governance/council.lua") })).result
    for i = 1, 3 do
      ok(chain:vote("node" .. i, other, "yes"))
      ok(chain:vote("node" .. i, swap, "yes"))
    end
    -- 4 of 6: 2/3, not 3/4.
    assert.are.equal("queued", gt.proposal(chain, other).status)
    assert.are.equal("voting", gt.proposal(chain, swap).status)
    local r = ok(chain:vote("node4", swap, "yes"))
    assert.are.same({ "passed", "queued" }, statuses(r))
    assert.matches("5 of 6 validators voted yes (3/4 needed)", gt.events(r, "proposal")[1].why, 1, true)
    gt.advance_to(chain, gt.proposal(chain, swap).eta)
    assert.are.same({ "executed" }, statuses(ok(chain:send("bob", "gov", "execute", swap))))
    gt.advance_to(chain, at)
    assert.are.equal("council", chain:query("gov", "policy").name)
    -- The council takes over the queued param proposal and runs it.
    assert.are.same({ "executed" }, statuses(ok(chain:send("bob", "gov", "execute", other))))
  end)

  it("refuses proposals and votes from accounts that are not validators", function()
    local chain = chain_of()
    refused(param(chain, "alice"), "only validators propose under supermajority: alice is not one")
    local id = ok(param(chain, "node0")).result
    refused(chain:vote("bob", id, "yes"), "only validators vote under supermajority: bob is not one")
    refused(chain:vote("node1", id, "veto"), "a vote is yes, no or abstain (supermajority has no veto), not veto")
  end)

  it("refuses a second vote of a validator", function()
    local chain = chain_of()
    local id = ok(param(chain, "node0")).result
    ok(chain:vote("node1", id, "abstain"))
    refused(chain:vote("node1", id, "yes"), "node1 voted abstain on proposal 1 already")
    refused(chain:vote("node0", id, "yes"), "node0 voted yes on proposal 1 already")
  end)

  it("rejects a proposal once no and abstain leave too few to reach 2/3", function()
    local chain = chain_of()
    local id = ok(param(chain, "node0")).result
    local r = ok(chain:vote("node1", id, "no"))     -- at most 3 of 4 left: still possible
    assert.are.same({}, statuses(r))
    r = ok(chain:vote("node2", id, "no"))
    assert.are.same({ "rejected" }, statuses(r))
    assert.are.equal("2 of 4 validators voted no or abstained (2/3 needed)", gt.proposal(chain, id).why)
  end)

  it("refuses votes after voting_blocks, and execute then records the expiry", function()
    local chain = chain_of({ voting_blocks = 2 })
    local id = ok(param(chain, "node0")).result
    local ends = gt.proposal(chain, id).ends
    refused(chain:send("bob", "gov", "execute", id), "proposal 1 is voting until height " .. ends)
    gt.advance_to(chain, ends + 1)
    refused(chain:vote("node1", id, "yes"), "voting on proposal 1 ended at height " .. ends)
    assert.are.same({ "expired" }, statuses(ok(chain:send("bob", "gov", "execute", id))))
    assert.matches("with 1 of 4 validators for it (2/3 needed)", gt.proposal(chain, id).why, 1, true)
  end)

  it("refuses unknown kinds, and a plugin swap whose height leaves no room for the timelock", function()
    local chain = chain_of()
    refused(chain:propose("node0", "nope", {}), "unknown proposal kind 'nope'")
    local h = chain:height() + 1      -- the block of the proposal
    refused(chain:propose("node0", "plugin", { slot = "consensus", at = h + 6, code = gt.read("consensus/bft.lua") }),
            "at must leave room for the timelock of 5 blocks: " .. (h + 7) .. " or later")
    assert.are.same({}, chain:query("gov", "proposals"))
    h = chain:height() + 1
    ok(chain:propose("node0", "plugin", { slot = "consensus", at = h + 7, code = gt.read("consensus/bft.lua") }))
  end)

  it("marks a spend that the treasury can no longer pay failed when executed", function()
    local chain = chain_of({ timelock_blocks = 2 })
    ok(chain:send("bob", "sys", "transfer", "treasury", 100))
    local a = ok(chain:propose("node0", "spend", { to = "carol", amount = 80 })).result
    local b = ok(chain:propose("node0", "spend", { to = "dave", amount = 80 })).result
    for _, id in ipairs({ a, b }) do
      ok(chain:vote("node1", id, "yes"))
      ok(chain:vote("node2", id, "yes"))
    end
    gt.advance_to(chain, gt.proposal(chain, b).eta)
    ok(chain:send("bob", "gov", "execute", a))
    local r = ok(chain:send("bob", "gov", "execute", b))
    assert.are.same({ "failed" }, statuses(r))
    assert.matches("spend: the treasury holds 20, not 80", gt.proposal(chain, b).why, 1, true)
    assert.are.equal(20, chain:balance("treasury"))
  end)

  it("lets the proposer cancel while voting, and nobody else", function()
    local chain = chain_of()
    local id = ok(param(chain, "node0")).result
    refused(chain:send("node1", "gov", "cancel", id), "only node0 may cancel proposal 1")
    assert.are.same({ "cancelled" }, statuses(ok(chain:send("node0", "gov", "cancel", id))))
  end)

  it("says its params, and refuses params that make no sense when proposed as a swap", function()
    local chain = chain_of({ threshold = "75%", governance_threshold = "4/5", timelock_blocks = 3 })
    local p = chain:query("gov", "policy")
    assert.are.equal("supermajority", p.name)
    assert.are.equal("75/100", p.threshold)
    assert.are.equal("4/5", p.governance_threshold)
    assert.are.equal(3, p.timelock_blocks)
    local code = gt.read("plugins/governance/supermajority.lua")
    local cases = {
      { { threshold = "3/2" }, "params.threshold must be a fraction" },
      { { threshold = "0%" }, "params.threshold must be a fraction" },
      { { threshold = "2/3", governance_threshold = "1/2" }, "governance_threshold (1/2) is below threshold (2/3)" },
      { { voting_blocks = 0 }, "params.voting_blocks must be at least 1" },
      { { timelock_blocks = -1 }, "params.timelock_blocks must be an integer of 0-1000000" },
    }
    for _, c in ipairs(cases) do
      local r = chain:propose("node0", "plugin", { slot = "governance", code = code, params = c[1],
                                                   at = chain:height() + 50 })
      assert.is_false(r.ok, c[2])
      assert.matches(c[2], r.error, 1, true)
    end
  end)
end)
