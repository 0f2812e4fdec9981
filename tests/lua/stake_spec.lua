-- tests/lua/stake_spec.lua -- plugins/governance/stake.lua: deposits,
-- the tally once voting has ended (quorum, veto, threshold), the deposit
-- returned or sent to the treasury, the timelock, late and double votes,
-- and a spend that fails when carried out.
--
-- Both ways a proposal counts: while nobody stakes (system.total_stake()
-- is 0) the validators vote one each; once accounts stake (sys.stake),
-- votes weigh the voter's stake and the quorum is of the total stake.

local gt = dofile("tests/lua/govtest.lua")
local ok, refused, statuses = gt.ok, gt.refused, gt.statuses

local DEPOSIT = 1000

local function chain_of(params, opts)
  params = params or {}
  params.deposit = params.deposit or DEPOSIT
  params.voting_blocks = params.voting_blocks or 10
  return gt.chain("stake", params, opts)
end

-- alice proposes a spend of 20 to dave from a treasury of 100.
local function spend(chain)
  ok(chain:send("bob", "sys", "transfer", "treasury", 100))
  local before = chain:balance("alice")
  local r = ok(chain:propose("alice", "spend", { to = "dave", amount = 20 }))
  assert.are.equal(before - r.fee - DEPOSIT, chain:balance("alice"))
  assert.are.equal(DEPOSIT, chain:balance("gov"))
  return r.result
end

-- Votes, then execute(id) by bob once voting has ended: its receipt.
local function tally(chain, id, votes)
  for voter, choice in pairs(votes) do ok(chain:vote(voter, id, choice)) end
  gt.advance_to(chain, gt.proposal(chain, id).ends + 1)
  return ok(chain:send("bob", "gov", "execute", id))
end

describe("governance - stake.lua, one vote per validator while nobody stakes", function()
  it("anyone proposes with a deposit; a majority carries the proposal out and the deposit comes back", function()
    local chain = chain_of()
    local id = spend(chain)
    local p = gt.proposal(chain, id)
    assert.are.equal("validators", p.mode)
    assert.are.equal(4, p.total)
    assert.are.equal("validators", chain:query("gov", "policy").mode)
    local r = ok(chain:vote("node0", id, "yes"))
    assert.are.equal("voting", r.result)           -- the tally comes once voting has ended
    assert.are.same({ { id = id, voter = "node0", choice = "yes", weight = 1 } }, gt.events(r, "vote"))
    local alice, dave = chain:balance("alice"), chain:balance("dave")
    r = tally(chain, id, { node1 = "yes", node2 = "no" })
    assert.are.same({ "passed", "executed" }, statuses(r))
    assert.are.equal(dave + 20, chain:balance("dave"))
    assert.are.equal(alice + DEPOSIT, chain:balance("alice"))
    assert.are.equal(0, chain:balance("gov"))
    p = gt.proposal(chain, id)
    assert.are.same({ yes = 2, no = 1, abstain = 0, veto = 0 }, p.votes)
    assert.are.equal("alice", p.deposit_to)
  end)

  it("takes the tally only once voting has ended", function()
    local chain = chain_of()
    local id = spend(chain)
    for i = 0, 3 do ok(chain:vote("node" .. i, id, "yes")) end
    local ends = gt.proposal(chain, id).ends
    refused(chain:send("bob", "gov", "execute", id),
            "proposal 1 is voting until height " .. ends .. ": the tally comes after it")
    assert.are.equal("voting", gt.proposal(chain, id).status)
  end)

  it("rejects a proposal vetoed by at least 33.4% of the votes cast and sends the deposit to the treasury", function()
    local chain = chain_of()
    local id = spend(chain)
    local alice = chain:balance("alice")
    local r = tally(chain, id, { node0 = "yes", node1 = "yes", node2 = "veto" })  -- 1 of 3: 33.3%, short
    assert.are.same({ "passed", "executed" }, statuses(r))
    id = ok(chain:propose("alice", "spend", { to = "dave", amount = 20 })).result
    alice = chain:balance("alice")
    r = tally(chain, id, { node0 = "yes", node1 = "veto" })
    assert.are.same({ "rejected" }, statuses(r))
    assert.are.equal("vetoed: 1 of 2 votes cast, 334/1000 vetoes", gt.proposal(chain, id).why)
    assert.are.equal(alice, chain:balance("alice"))
    assert.are.equal(80 + DEPOSIT, chain:balance("treasury"))
    assert.are.equal("treasury", gt.proposal(chain, id).deposit_to)
    -- Exactly the veto share is enough.
    chain = chain_of({ veto = "50%" })
    id = spend(chain)
    assert.are.same({ "rejected" }, statuses(tally(chain, id, { node0 = "yes", node1 = "veto" })))
    assert.matches("^vetoed", gt.proposal(chain, id).why)
  end)

  it("lets a proposal without quorum expire and returns the deposit", function()
    local chain = chain_of()
    local id = spend(chain)
    local alice = chain:balance("alice")
    local r = tally(chain, id, { node0 = "yes" })                -- 1 of 4: 25%
    assert.are.same({ "expired" }, statuses(r))
    assert.are.equal("no quorum: 1 of 4 validators voted, 334/1000 needed", gt.proposal(chain, id).why)
    assert.are.equal(alice + DEPOSIT, chain:balance("alice"))
    assert.are.equal(100, chain:balance("treasury"))
  end)

  it("rejects a proposal whose yes is not more than half of yes, no and veto; abstain counts only for quorum", function()
    local chain = chain_of()
    local id = spend(chain)
    local alice = chain:balance("alice")
    local r = tally(chain, id, { node0 = "yes", node1 = "no", node2 = "abstain" })
    assert.are.same({ "rejected" }, statuses(r))
    assert.are.equal(alice + DEPOSIT, chain:balance("alice"))
    id = ok(chain:propose("alice", "spend", { to = "dave", amount = 20 })).result
    r = tally(chain, id, { node0 = "yes", node1 = "abstain" })   -- quorum 2 of 4, yes 1 of 1
    assert.are.same({ "passed", "executed" }, statuses(r))
  end)

  it("queues a passed proposal for timelock_blocks", function()
    local chain = chain_of({ timelock_blocks = 3 })
    local id = spend(chain)
    local r = tally(chain, id, { node0 = "yes", node1 = "yes" })
    assert.are.same({ "passed", "queued" }, statuses(r))
    local eta = gt.proposal(chain, id).eta
    assert.are.equal(chain:height() + 3, eta)
    refused(chain:send("bob", "gov", "execute", id), "proposal 1 is queued until height " .. eta)
    gt.advance_to(chain, eta)
    assert.are.same({ "executed" }, statuses(ok(chain:send("carol", "gov", "execute", id))))
    assert.are.equal(80, chain:balance("treasury"))
  end)

  it("refuses votes of accounts that are not validators, second votes, late votes and unknown choices", function()
    local chain = chain_of({ voting_blocks = 6 })
    local id = spend(chain)
    refused(chain:vote("bob", id, "yes"), "only validators vote while nobody stakes: bob is not one")
    ok(chain:vote("node0", id, "veto"))
    refused(chain:vote("node0", id, "yes"), "node0 voted veto on proposal 1 already")
    refused(chain:vote("node1", id, "maybe"), "a vote is yes, no, abstain or veto, not maybe")
    local ends = gt.proposal(chain, id).ends
    gt.advance_to(chain, ends + 1)
    refused(chain:vote("node1", id, "yes"), "voting on proposal 1 ended at height " .. ends)
    assert.are.same({ yes = 0, no = 0, abstain = 0, veto = 1 }, gt.proposal(chain, id).votes)
  end)

  it("refuses unknown kinds and proposers who cannot pay the deposit, and keeps no deposit then", function()
    local chain = chain_of()
    local alice = chain:balance("alice")
    local r = refused(chain:propose("alice", "nope", {}), "unknown proposal kind 'nope'")
    assert.are.equal(alice - r.fee, chain:balance("alice"))
    local rich = chain_of({ deposit = 10 ^ 9 })
    rich:new_account("zed", 2 * 10 ^ 8)
    refused(rich:propose("zed", "param", { name = "swap_delay", value = 3 }), "deposit: zed holds ")
    assert.are.equal(0, rich:balance("gov"))
    assert.are.same({}, rich:query("gov", "proposals"))
    local at = chain:height() + 1 + 10
    refused(chain:propose("alice", "plugin", { slot = "consensus", at = at, code = gt.read("consensus/bft.lua") }),
            "at must leave room for 10 blocks of voting and a timelock of 0: " .. (at + 2) .. " or later")
    assert.are.same({}, chain:query("gov", "proposals"))
  end)

  it("marks a spend that the treasury can no longer pay failed, and still returns the deposit", function()
    local chain = chain_of()
    local a = spend(chain)
    local b = ok(chain:propose("alice", "spend", { to = "carol", amount = 90 })).result
    for _, id in ipairs({ a, b }) do
      ok(chain:vote("node0", id, "yes"))
      ok(chain:vote("node1", id, "yes"))
    end
    gt.advance_to(chain, gt.proposal(chain, b).ends + 1)
    ok(chain:send("bob", "gov", "execute", a))
    local alice = chain:balance("alice")
    local r = ok(chain:send("bob", "gov", "execute", b))
    assert.are.same({ "passed", "failed" }, statuses(r))
    assert.matches("spend: the treasury holds 80, not 90", gt.proposal(chain, b).why, 1, true)
    assert.are.equal(alice + DEPOSIT, chain:balance("alice"))
  end)

  it("lets the proposer cancel while voting and returns the deposit", function()
    local chain = chain_of()
    local id = spend(chain)
    refused(chain:send("bob", "gov", "cancel", id), "only alice may cancel proposal 1")
    local alice = chain:balance("alice")
    local r = ok(chain:send("alice", "gov", "cancel", id))
    assert.are.same({ "cancelled" }, statuses(r))
    assert.are.equal(alice - r.fee + DEPOSIT, chain:balance("alice"))
  end)

  it("takes the deposit of a contract that proposes from the contract, never from its caller", function()
    local chain = chain_of()
    ok(chain:deploy_source("alice", "relay", [[
      return { propose = function(kind, body) return call("gov", "propose", kind, body) end }]]))
    refused(chain:send("bob", "relay", "propose", "param", { name = "swap_delay", value = 3 }),
            "deposit: relay holds 0, not 1000")
    ok(chain:send("bob", "sys", "transfer", "relay", 1500))
    local bob = chain:balance("bob")
    local r = ok(chain:send("bob", "relay", "propose", "param", { name = "swap_delay", value = 3 }))
    assert.are.equal(bob - r.fee, chain:balance("bob"))
    assert.are.equal(500, chain:balance("relay"))
    assert.are.equal("relay", gt.proposal(chain, r.result).proposer)
  end)

  for _, next_policy in ipairs({ "council", "supermajority" }) do
    it("hands its open proposals to " .. next_policy .. ".lua, which returns their deposits when it closes them", function()
      local chain = chain_of({ voting_blocks = 4 })
      local id = spend(chain)
      local at = chain:height() + 12
      local swap = ok(chain:propose("bob", "plugin", { slot = "governance", at = at,
                                                       code = gt.read("plugins/governance/" .. next_policy .. ".lua") })).result
      local r = tally(chain, swap, { node0 = "yes", node1 = "yes", node2 = "yes" })
      assert.are.same({ "passed", "executed" }, statuses(r))
      gt.advance_to(chain, at)
      assert.are.equal(next_policy, chain:query("gov", "policy").name)
      local alice = chain:balance("alice")
      r = ok(chain:send("carol", "gov", "execute", id))      -- its voting ended without votes
      assert.are.same({ "expired" }, statuses(r))
      assert.are.equal(alice + DEPOSIT, chain:balance("alice"))
      assert.are.equal(0, chain:balance("gov"))
    end)
  end

  it("takes over the council's open proposals and counts their validators' votes one each", function()
    local chain = gt.chain("council", { voting_blocks = 30 })
    ok(chain:send("bob", "sys", "transfer", "treasury", 100))
    local id = ok(chain:propose("node0", "spend", { to = "dave", amount = 20 })).result
    ok(chain:vote("node1", id, "no"))
    local at = chain:height() + 6
    local swap = ok(chain:propose("node0", "plugin", { slot = "governance", at = at, params = { deposit = DEPOSIT },
                                                       code = gt.read("plugins/governance/stake.lua") })).result
    ok(chain:vote("node1", swap, "yes"))
    ok(chain:vote("node2", swap, "yes"))
    gt.advance_to(chain, at)
    assert.are.equal("stake", chain:query("gov", "policy").name)
    ok(chain:vote("node2", id, "yes"))
    assert.are.same({ yes = 2, no = 1, abstain = 0, veto = 0 }, gt.proposal(chain, id).votes)
    refused(chain:send("bob", "gov", "execute", id), "the tally comes after it")
    gt.advance_to(chain, gt.proposal(chain, id).ends + 1)
    assert.are.same({ "passed", "executed" }, statuses(ok(chain:send("bob", "gov", "execute", id))))
    assert.are.equal(80, chain:balance("treasury"))
  end)

  it("says its params, and refuses params that make no sense when proposed as a swap", function()
    local chain = chain_of({ quorum = "40%", veto = "1/3", deposit = 0 })
    local p = chain:query("gov", "policy")
    assert.are.same({ name = "stake", quorum = "40/100", threshold = "50/100", veto = "1/3", deposit = 0,
                      voting_blocks = 10, timelock_blocks = 0, mode = "validators" }, p)
    local gov = chain:balance("gov")
    ok(chain:propose("bob", "param", { name = "swap_delay", value = 3 }))     -- no deposit
    assert.are.equal(gov, chain:balance("gov"))
    local code = gt.read("plugins/governance/stake.lua")
    for _, c in ipairs({
      { { quorum = "133%" }, "params.quorum must be a percentage" },
      { { veto = "33.333%" }, "params.veto must be a percentage" },
      { { deposit = -1 }, "params.deposit must be an integer of at least 0" },
      { { voting_blocks = 0 }, "params.voting_blocks must be an integer of at least 1" },
    }) do
      local r = chain:propose("bob", "plugin", { slot = "governance", code = code, params = c[1],
                                                 at = chain:height() + 50 })
      assert.is_false(r.ok, c[2])
      assert.matches(c[2], r.error, 1, true)
    end
  end)
end)

describe("governance - stake.lua, weighed by stake", function()
  -- alice 600, bob 300, carol 100: 1000 staked.
  local function staked_chain()
    local chain = chain_of()
    ok(chain:stake("alice", 600))
    ok(chain:stake("bob", 300))
    ok(chain:stake("carol", 100))
    return chain
  end

  it("weighs each vote by the voter's stake, against the total stake", function()
    local chain = staked_chain()
    assert.are.equal("stake", chain:query("gov", "policy").mode)
    local id = spend(chain)
    local p = gt.proposal(chain, id)
    assert.are.equal("stake", p.mode)
    assert.are.equal(1000, p.total)
    local r = ok(chain:vote("bob", id, "no"))
    assert.are.same({ { id = id, voter = "bob", choice = "no", weight = 300 } }, gt.events(r, "vote"))
    local dave = chain:balance("dave")
    r = tally(chain, id, { alice = "yes", carol = "veto" })
    assert.are.same({ "passed", "executed" }, statuses(r))     -- yes 600 of 1000 cast, veto 10%
    assert.are.equal(dave + 20, chain:balance("dave"))
    assert.are.same({ yes = 600, no = 300, abstain = 0, veto = 100 }, gt.proposal(chain, id).votes)
  end)

  it("decides by a majority of stake, not of voters", function()
    local chain = staked_chain()
    chain:new_account("tiny1", 10 ^ 9)
    chain:new_account("tiny2", 10 ^ 9)
    ok(chain:stake("tiny1", 1))
    ok(chain:stake("tiny2", 1))
    local id = spend(chain)
    local r = tally(chain, id, { alice = "no", tiny1 = "yes", tiny2 = "yes" })
    assert.are.same({ "rejected" }, statuses(r))
  end)

  it("expires below the quorum of the total stake, and refuses a vote without stake", function()
    local chain = staked_chain()
    local id = spend(chain)
    refused(chain:vote("node0", id, "yes"), "node0 has no stake to vote with")
    local r = tally(chain, id, { carol = "yes" })             -- 100 of 1000: under 33.4%
    assert.are.same({ "expired" }, statuses(r))
  end)

  it("is vetoed at 33.4% of the stake voting, and the deposit goes to the treasury", function()
    local chain = staked_chain()
    local id = spend(chain)
    local treasury = chain:balance("treasury")
    local r = tally(chain, id, { bob = "veto", carol = "yes" })   -- veto 300 of 400
    assert.are.same({ "rejected" }, statuses(r))
    assert.are.equal(treasury + DEPOSIT, chain:balance("treasury"))
  end)
end)
