-- tests/lua/council_spec.lua -- plugins/governance/council.lua: the
-- validators decide by more than half, within voting_blocks; who may
-- propose and vote, double and late votes, rejection, expiry, cancel, a
-- spend that fails when carried out, and swaps from admin.lua to the
-- council and back with open proposals carried over.

local gt = dofile("tests/lua/govtest.lua")
local ok, refused, statuses = gt.ok, gt.refused, gt.statuses

local function council(params, opts)
  return gt.chain("council", params or { voting_blocks = 10 }, opts)
end

local function spend(chain, from, to, amount)
  return chain:propose(from, "spend", { to = to, amount = amount })
end

describe("governance - council.lua", function()
  it("passes once more than half of the validators vote yes, and carries it out in that vote", function()
    local chain = council()
    ok(chain:send("bob", "sys", "transfer", "treasury", 500))
    local r = ok(spend(chain, "node0", "carol", 200))
    local id = r.result
    assert.are.same({ "voting" }, statuses(r))
    assert.are.same({ { id = id, voter = "node0", choice = "yes", weight = 1 } }, gt.events(r, "vote"))
    local carol = chain:balance("carol")
    r = ok(chain:vote("node1", id, "yes"))
    assert.are.equal("voting", r.result)           -- 2 of 4 is half, not more
    assert.are.same({}, statuses(r))
    r = ok(chain:vote("node2", id, "yes"))
    assert.are.equal("executed", r.result)
    assert.are.same({ "passed", "executed" }, statuses(r))
    assert.are.equal(carol + 200, chain:balance("carol"))
    assert.are.equal(300, chain:balance("treasury"))
    local p = gt.proposal(chain, id)
    assert.are.equal("executed", p.status)
    assert.are.same({ yes = 3, no = 0, abstain = 0 }, p.votes)
    assert.are.equal(4, p.of)
    refused(chain:vote("node3", id, "yes"), "proposal 1 is executed, not voting")
  end)

  it("a council of one carries out its proposals at once", function()
    local chain = council(nil, { validators = 1 })
    ok(chain:send("bob", "sys", "transfer", "treasury", 50))
    local r = ok(spend(chain, "node0", "dave", 20))
    assert.are.same({ "voting", "passed", "executed" }, statuses(r))
    assert.are.equal(30, chain:balance("treasury"))
  end)

  it("refuses proposals and votes from accounts that are not validators", function()
    local chain = council()
    refused(spend(chain, "alice", "bob", 1), "only validators propose in the council: alice is not one")
    local id = ok(chain:propose("node0", "param", { name = "swap_delay", value = 7 })).result
    refused(chain:vote("alice", id, "yes"), "only validators vote in the council: alice is not one")
    assert.are.same({ yes = 1, no = 0, abstain = 0 }, gt.proposal(chain, id).votes)
    assert.are.equal(1, #chain:query("gov", "proposals"))
  end)

  it("refuses a second vote of a validator, the proposer's yes included", function()
    local chain = council()
    local id = ok(chain:propose("node0", "param", { name = "swap_delay", value = 7 })).result
    refused(chain:vote("node0", id, "no"), "node0 voted yes on proposal 1 already")
    ok(chain:vote("node1", id, "no"))
    refused(chain:vote("node1", id, "yes"), "node1 voted no on proposal 1 already")
    assert.are.same({ yes = 1, no = 1, abstain = 0 }, gt.proposal(chain, id).votes)
  end)

  it("has no veto, and refuses votes that are no choice", function()
    local chain = council()
    local id = ok(chain:propose("node0", "param", { name = "swap_delay", value = 7 })).result
    refused(chain:vote("node1", id, "veto"), "a council vote is yes, no or abstain, not veto")
    refused(chain:vote("node1", id, 1), "a council vote is yes, no or abstain, not 1")
    refused(chain:vote("node1", 99, "yes"), "no proposal 99")
  end)

  it("rejects a proposal once no and abstain leave too few to pass it", function()
    local chain = council()
    local id = ok(chain:propose("node0", "param", { name = "swap_delay", value = 7 })).result
    assert.are.same({}, statuses(ok(chain:vote("node1", id, "no"))))
    local r = ok(chain:vote("node2", id, "abstain"))
    assert.are.same({ "rejected" }, statuses(r))
    local p = gt.proposal(chain, id)
    assert.are.equal("rejected", p.status)
    assert.are.equal("2 of 4 validators voted no or abstained", p.why)
    refused(chain:vote("node3", id, "yes"), "proposal 1 is rejected, not voting")
  end)

  it("refuses votes after voting_blocks, and execute then records the expiry", function()
    local chain = council({ voting_blocks = 3 })
    local r = ok(chain:propose("node0", "param", { name = "swap_delay", value = 7 }))
    local id, ends = r.result, gt.proposal(chain, r.result).ends
    assert.are.equal(chain:height() + 3, ends)
    refused(chain:send("bob", "gov", "execute", id), "proposal 1 is voting until height " .. ends)
    ok(chain:vote("node1", id, "yes"))
    gt.advance_to(chain, ends + 1)
    refused(chain:vote("node2", id, "yes"), "voting on proposal 1 ended at height " .. ends)
    r = ok(chain:send("bob", "gov", "execute", id))
    assert.are.same({ "expired" }, statuses(r))
    assert.are.equal("voting ended at height " .. ends .. " with 2 of 4 validators for it",
                     gt.proposal(chain, id).why)
    refused(chain:send("bob", "gov", "execute", id), "proposal 1 is expired")
    assert.are.same({ 1 }, { #chain:query("gov", "proposals", "expired") })
  end)

  it("refuses unknown kinds and bad bodies when proposed, and records nothing", function()
    local chain = council()
    refused(chain:propose("node0", "nope", {}), "unknown proposal kind 'nope'")
    refused(chain:propose("node0", "spend", { to = "bob", amount = 5 }), "the treasury holds 0, not 5")
    refused(chain:propose("node0", "param", { name = "no_such", value = 1 }), "no_such is no chain param")
    assert.are.same({}, chain:query("gov", "proposals"))
  end)

  it("marks a spend that the treasury can no longer pay failed, with the reason, in a transaction that commits", function()
    local chain = council()
    ok(chain:send("bob", "sys", "transfer", "treasury", 100))
    local a = ok(spend(chain, "node0", "carol", 80)).result
    local b = ok(spend(chain, "node1", "dave", 80)).result    -- 80 of 100: fine when proposed
    ok(chain:vote("node1", a, "yes"))
    ok(chain:vote("node2", a, "yes"))
    assert.are.equal(20, chain:balance("treasury"))
    ok(chain:vote("node0", b, "yes"))
    local dave = chain:balance("dave")
    local r = ok(chain:vote("node2", b, "yes"))
    assert.are.same({ "passed", "failed" }, statuses(r))
    local p = gt.proposal(chain, b)
    assert.are.equal("failed", p.status)
    assert.matches("spend: the treasury holds 20, not 80", p.why, 1, true)
    assert.are.equal(dave, chain:balance("dave"))
    assert.are.equal(20, chain:balance("treasury"))
  end)

  it("lets the proposer cancel while voting, and nobody else", function()
    local chain = council()
    local id = ok(chain:propose("node0", "param", { name = "swap_delay", value = 7 })).result
    refused(chain:send("node1", "gov", "cancel", id), "only node0 may cancel proposal 1")
    local r = ok(chain:send("node0", "gov", "cancel", id))
    assert.are.same({ "cancelled" }, statuses(r))
    refused(chain:vote("node1", id, "yes"), "proposal 1 is cancelled, not voting")
    refused(chain:send("node0", "gov", "cancel", id), "proposal 1 is cancelled: only a vote can be cancelled")
  end)

  it("counts the validators in office: one added may vote, and the bar moves with them", function()
    local chain = council()
    local add = ok(chain:propose("node0", "validator", { op = "add", name = "node4",
                                                         key = string.rep("ab", 32) })).result
    local other = ok(chain:propose("node0", "param", { name = "swap_delay", value = 7 })).result
    ok(chain:vote("node1", add, "yes"))
    ok(chain:vote("node2", add, "yes"))
    assert.are.equal("executed", gt.proposal(chain, add).status)
    ok(chain:vote("node1", other, "yes"))
    ok(chain:vote("node2", other, "yes"))       -- 3 of 5 is more than half
    assert.are.equal("executed", gt.proposal(chain, other).status)
    assert.are.equal(5, gt.proposal(chain, other).of)
    assert.are.equal(5, #chain:query("gov", "policy").council)
  end)

  it("carries out a consensus swap whose code is over 16 KiB in the vote that passes it", function()
    local chain = council()
    local bft = gt.read("consensus/bft.lua")
    local at = chain:height() + 8
    local id = ok(chain:propose("node0", "plugin", { slot = "consensus", code = bft, at = at })).result
    ok(chain:vote("node1", id, "yes"))
    assert.are.same({ "passed", "executed" }, statuses(ok(chain:vote("node2", id, "yes"))))
    assert.are.equal("bft", chain:pending()[1].name)
    gt.advance_to(chain, at)
    assert.are.equal("bft", chain:plugin("consensus").name)
    assert.are.equal(bft, gt.proposal(chain, id).body.code)
  end)

  it("takes over from admin.lua and hands back, open proposals carried over both ways", function()
    local chain = gt.chain(nil, nil, { admin = "alice" })
    ok(chain:propose("alice", "param", { name = "swap_delay", value = 4 }))
    local code = gt.read("plugins/governance/council.lua")
    local at = chain:height() + 3
    ok(chain:propose("alice", "plugin", { slot = "governance", code = code, at = at,
                                          params = { voting_blocks = 40 } }))
    gt.advance_to(chain, at)
    assert.are.equal("council", chain:plugin("governance").name)
    assert.are.equal("council", chain:query("gov", "policy").name)
    -- The admin's proposals are the council's history; ids go on.
    assert.are.equal(2, #chain:query("gov", "proposals", "executed"))
    ok(chain:send("bob", "sys", "transfer", "treasury", 100))
    local open = ok(spend(chain, "node0", "eve", 60)).result
    assert.are.equal(3, open)
    ok(chain:vote("node1", open, "yes"))
    -- Back to admin.lua, decided by the council itself.
    at = chain:height() + 8
    local back = ok(chain:propose("node1", "plugin", { slot = "governance", at = at,
                                                       code = gt.read("plugins/governance/admin.lua"),
                                                       params = { admin = "alice" } })).result
    ok(chain:vote("node2", back, "yes"))
    assert.are.same({ "passed", "executed" }, statuses(ok(chain:vote("node3", back, "yes"))))
    gt.advance_to(chain, at)
    assert.are.equal("admin", chain:query("gov", "policy").name)
    local p = gt.proposal(chain, open)
    assert.are.equal("voting", p.status)
    assert.are.equal(1, #chain:query("gov", "proposals", "voting"))
    refused(chain:send("alice", "gov", "execute", open), "proposal 3 is voting")
    -- And to the council again: the open spend takes its third vote.
    at = chain:height() + 3
    assert.are.equal(5, ok(chain:propose("alice", "plugin", { slot = "governance", code = code, at = at,
                                                              params = { voting_blocks = 40 } })).result)
    gt.advance_to(chain, at)
    assert.are.equal("council", chain:query("gov", "policy").name)
    local eve = chain:balance("eve")
    local r = ok(chain:vote("node2", open, "yes"))
    assert.are.same({ "passed", "executed" }, statuses(r))
    assert.are.equal(eve + 60, chain:balance("eve"))
  end)
end)
