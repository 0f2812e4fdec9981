-- contracts/dao_spec.lua -- the DAO treasury (contracts/dao.lua) over real
-- tokens of contracts/token.lua, run by `lunet test` in the real sandbox.
-- The DAO is deployed as `dao` with members alice, bob and carol, quorum 50%,
-- threshold 50% (more than half of the votes cast), voting for 5 blocks,
-- handed to its own code, and holds 600 of alice's 1000 LUN.

local testing = require "lunet.testing"

local SUPPLY, FUNDS, PERIOD = 1000, 600, 5
local MEMBERS = { "alice", "bob", "carol" }

local function assert_failed(r, text, code)
  assert.is_true(r.included, "the transaction was refused: " .. tostring(r.error))
  assert.is_false(r.ok, "the call succeeded; expected: " .. text)
  assert.is_truthy(tostring(r.error):find(text, 1, true),
                   "error '" .. tostring(r.error) .. "' does not say '" .. text .. "'")
  if code then assert.equal(code, r.code, "code of: " .. tostring(r.error)) end
  assert.same({}, r.events)
end

local function assert_ok(r)
  assert.is_true(r.included, "refused: " .. tostring(r.error))
  assert.is_true(r.ok, "failed: " .. tostring(r.error))
  return r
end

-- As in multisig_spec: only the DAO's code can act for the DAO's account.
local function hand_over(chain, from, name)
  local self = { threshold = 1, accounts = { { account = name, permission = "active", weight = 1 } } }
  assert_ok(chain:send(from, "sys", "updateauth", name, "active", self))
  assert_ok(chain:send(from, "sys", "updateauth", name, "owner", self))
end

local function dao_chain(members, quorum, threshold)
  local chain = testing.chain()
  assert_ok(chain:deploy("alice", "token", "contracts/token.lua", "LUN", SUPPLY))
  assert_ok(chain:deploy("alice", "dao", "contracts/dao.lua", "token", members or MEMBERS,
                         quorum or 50, threshold or 50, PERIOD))
  hand_over(chain, "alice", "dao")
  assert_ok(chain:send("alice", "token", "transfer", "dao", FUNDS))
  return chain
end

describe("dao", function()
  local chain

  local function bal(who) return chain:query("token", "balance_of", who) end
  local function proposal(id) return chain:query("dao", "proposal", id) end

  local function propose(who, kind, body)
    return assert_ok(chain:send(who, "dao", "propose", kind, body)).result
  end

  local function votes(id, t)
    for who, choice in pairs(t) do assert_ok(chain:send(who, "dao", "vote", id, choice)) end
  end

  -- Blocks until voting on proposal id is over, for queries too: a query
  -- runs at the head's height, a transaction at the next one.
  local function end_voting(id)
    local ends = proposal(id).ends
    chain:advance(ends + 1 - chain:height())
  end

  before_each(function() chain = dao_chain() end)

  describe("init", function()
    it("records the policy and the members", function()
      assert.same({ token = "token", quorum = 50, threshold = 50, period = PERIOD }, chain:query("dao", "policy"))
      assert.same(MEMBERS, chain:query("dao", "members"))
    end)

    it("refuses a quorum, threshold or period out of range, and deploys nothing", function()
      local cases = {
        { { 0, 50, 5 }, "quorum must be an integer of 1-100, got 0" },
        { { 101, 50, 5 }, "quorum must be an integer of 1-100, got 101" },
        { { 50, 100, 5 }, "threshold must be an integer of 0-99, got 100" },
        { { 50, -1, 5 }, "threshold must be an integer of 0-99, got -1" },
        { { 50, 50, 0 }, "period must be an integer of 1-100000000, got 0" },
        { { 50, "50", 5 }, "threshold must be an integer of 0-99, got 50" },
      }
      for _, case in ipairs(cases) do
        local c = testing.chain()
        local r = c:deploy("alice", "d", "contracts/dao.lua", "token", MEMBERS, unpack(case[1]))
        assert_failed(r, case[2])
        assert.is_nil(c:account("d"))
      end
    end)

    it("refuses a bad token name, no members, a repeated member or a bad member name", function()
      local many = {}
      for i = 1, 65 do many[i] = "m" .. i end
      local cases = {
        { "Token", MEMBERS, "token must be an account name, got Token" },
        { "token", {}, "members must be a list of 1-64 account names" },
        { "token", many, "members must be a list of 1-64 account names" },
        { "token", { "bob", "bob" }, "member bob is listed twice" },
        { "token", { "bob", "x y" }, "member 2 must be an account name, got x y" },
      }
      for _, case in ipairs(cases) do
        local c = testing.chain()
        assert_failed(c:deploy("alice", "d", "contracts/dao.lua", case[1], case[2], 50, 50, 5), case[3])
        assert.is_nil(c:account("d"))
      end
    end)
  end)

  describe("propose", function()
    it("stores a spend with its voting window and the member count, ids in order", function()
      local h = chain:height() + 1
      assert.equal(1, propose("bob", "spend", { to = "dave", amount = 100, memo = "audit" }))
      assert.same({ proposer = "bob", kind = "spend", body = { to = "dave", amount = 100, memo = "audit" },
                    created = h, ends = h + PERIOD, members = 3, yes = 0, no = 0,
                    status = "open", state = "voting" }, proposal(1))
      assert.equal(2, propose("carol", "member", { op = "add", account = "dave" }))
    end)

    it("emits proposed with the id, the kind and the end of voting", function()
      local h = chain:height() + 1
      local r = assert_ok(chain:send("bob", "dao", "propose", "spend", { to = "dave", amount = 1 }))
      assert.same({ { contract = "dao", name = "proposed",
                      data = { id = 1, proposer = "bob", kind = "spend", ends = h + PERIOD } } }, r.events)
    end)

    it("refuses an account that is not a member and stores nothing", function()
      assert_failed(chain:send("dave", "dao", "propose", "spend", { to = "dave", amount = 100 }),
                    "dave is not a member")
      assert.is_false((chain:try_query("dao", "proposal", 1)))
      assert.equal(1, propose("bob", "spend", { to = "dave", amount = 100 }))
    end)

    it("refuses an unknown kind and bodies that do not fit their kind", function()
      local cases = {
        { "grant", { to = "dave", amount = 1 }, "kind must be spend or member, got grant" },
        { "spend", "dave", "body must be a table, got string" },
        { "spend", { to = "Dave", amount = 1 }, "spend.to must be an account name, got Dave" },
        { "spend", { to = "dave", amount = 0 }, "spend.amount must be a positive integer, got 0" },
        { "spend", { to = "dave", amount = "5" }, "spend.amount must be a positive integer, got 5" },
        { "spend", { to = "dave", amount = 5, memo = string.rep("m", 257) }, "spend.memo must be a string of at most 256 bytes" },
        { "member", { op = "promote", account = "dave" }, "member.op must be add or remove, got promote" },
        { "member", { op = "add", account = "bob" }, "bob is already a member" },
        { "member", { op = "remove", account = "dave" }, "dave is not a member" },
      }
      for _, case in ipairs(cases) do
        assert_failed(chain:send("bob", "dao", "propose", case[1], case[2]), case[3])
      end
      assert.is_false((chain:try_query("dao", "proposal", 1)))
    end)
  end)

  describe("vote", function()
    local id
    before_each(function() id = propose("bob", "spend", { to = "dave", amount = 100 }) end)

    it("counts each member's choice and emits voted with the tallies", function()
      local r = assert_ok(chain:send("alice", "dao", "vote", id, "yes"))
      assert.same({ { contract = "dao", name = "voted",
                      data = { id = id, member = "alice", choice = "yes", yes = 1, no = 0 } } }, r.events)
      r = assert_ok(chain:send("carol", "dao", "vote", id, "no"))
      assert.same({ id = id, member = "carol", choice = "no", yes = 1, no = 1 }, r.events[1].data)
      assert.equal("yes", chain:query("dao", "vote_of", id, "alice"))
      assert.equal("no", chain:query("dao", "vote_of", id, "carol"))
      assert.is_nil(chain:query("dao", "vote_of", id, "bob"))
    end)

    it("refuses a second vote by the same member, even a different choice", function()
      votes(id, { bob = "yes" })
      assert_failed(chain:send("bob", "dao", "vote", id, "no"), "bob already voted yes on proposal 1")
      local p = proposal(id)
      assert.same({ 1, 0 }, { p.yes, p.no })
    end)

    it("refuses an account that is not a member, a choice other than yes or no, an unknown id", function()
      assert_failed(chain:send("dave", "dao", "vote", id, "yes"), "dave is not a member")
      assert_failed(chain:send("bob", "dao", "vote", id, "abstain"), "choice must be yes or no, got abstain")
      assert_failed(chain:send("bob", "dao", "vote", 7, "yes"), "no proposal 7")
      local p = proposal(id)
      assert.same({ 0, 0 }, { p.yes, p.no })
    end)

    it("is open through the last block of the period and closed after it", function()
      local ends = proposal(id).ends
      chain:advance(ends - 1 - chain:height())       -- the next vote is at height `ends`
      votes(id, { alice = "yes" })
      assert_failed(chain:send("carol", "dao", "vote", id, "yes"),
                    "voting on proposal 1 ended at height " .. ends)
      assert.equal(1, proposal(id).yes)
    end)
  end)

  describe("execute", function()
    local id
    before_each(function() id = propose("bob", "spend", { to = "dave", amount = 100 }) end)

    it("pays from the DAO's own tokens through a nested call once a vote passed", function()
      votes(id, { alice = "yes", bob = "yes", carol = "no" })
      assert.equal("voting", proposal(id).state)
      end_voting(id)
      assert.equal("passed", proposal(id).state)
      local r = assert_ok(chain:send("eve", "dao", "execute", id))    -- any account may
      assert.same({
        { contract = "token", name = "transfer", data = { from = "dao", to = "dave", amount = 100 } },
        { contract = "dao", name = "executed", data = { id = id, kind = "spend", by = "eve" } },
      }, r.events)
      assert.equal(FUNDS - 100, bal("dao"))
      assert.equal(100, bal("dave"))
      assert.equal(SUPPLY - FUNDS, bal("alice"))
      local p = proposal(id)
      assert.equal("executed", p.state)
      assert.equal(chain:height(), p.executed_at)
    end)

    it("refuses while the vote runs, through its last block", function()
      votes(id, { alice = "yes", bob = "yes" })
      local ends = proposal(id).ends
      chain:advance(ends - 1 - chain:height())
      assert_failed(chain:send("bob", "dao", "execute", id),
                    "proposal 1 is being voted on until height " .. ends)
      assert.equal(FUNDS, bal("dao"))
      assert_ok(chain:send("bob", "dao", "execute", id))     -- at height ends + 1
    end)

    it("refuses a proposal that missed the quorum and pays nothing", function()
      votes(id, { bob = "yes" })                      -- 1 of 3 voted: under 50%
      end_voting(id)
      assert.equal("rejected", proposal(id).state)
      assert_failed(chain:send("bob", "dao", "execute", id),
                    "proposal 1 did not pass: 1 yes, 0 no of 3 members (quorum 50%, threshold 50%)")
      assert.equal(FUNDS, bal("dao"))
      assert.equal(0, bal("dave"))
    end)

    it("refuses a tie: yes must be more than the threshold", function()
      votes(id, { bob = "yes", carol = "no" })
      end_voting(id)
      assert_failed(chain:send("bob", "dao", "execute", id), "did not pass: 1 yes, 1 no of 3 members")
      assert.equal(FUNDS, bal("dao"))
    end)

    it("never runs a proposal twice", function()
      votes(id, { alice = "yes", bob = "yes" })
      end_voting(id)
      assert_ok(chain:send("bob", "dao", "execute", id))
      local at = chain:height()
      assert_failed(chain:send("carol", "dao", "execute", id), "proposal 1 was executed at height " .. at)
      assert.equal(FUNDS - 100, bal("dao"))
      assert.equal(100, bal("dave"))
    end)

    it("fails with the token's error when the DAO holds too little, and can run later", function()
      local big = propose("bob", "spend", { to = "eve", amount = 900 })
      votes(big, { alice = "yes", bob = "yes" })
      end_voting(big)
      assert_failed(chain:send("bob", "dao", "execute", big), "insufficient balance: has 600, needs 900", "ECALL")
      assert.equal("passed", proposal(big).state)
      assert.equal(FUNDS, bal("dao"))
      assert_ok(chain:send("alice", "token", "transfer", "dao", 300))
      assert_ok(chain:send("bob", "dao", "execute", big))
      assert.equal(900, bal("eve"))
    end)
  end)

  describe("membership", function()
    local function pass(kind, body)
      local id = propose("alice", kind, body)
      votes(id, { alice = "yes", bob = "yes" })
      end_voting(id)
      return assert_ok(chain:send("alice", "dao", "execute", id)), id
    end

    it("adds a member by proposal, who then proposes and counts in later quorums", function()
      local r, id = pass("member", { op = "add", account = "dave" })
      assert.same({
        { contract = "dao", name = "member", data = { op = "add", account = "dave" } },
        { contract = "dao", name = "executed", data = { id = id, kind = "member", by = "alice" } },
      }, r.events)
      assert.same({ "alice", "bob", "carol", "dave" }, chain:query("dao", "members"))
      local next_id = propose("dave", "spend", { to = "dave", amount = 1 })
      assert.equal(4, proposal(next_id).members)
      votes(next_id, { dave = "yes" })
      assert.equal(1, proposal(next_id).yes)
    end)

    it("does not let a member added during a vote take part in it", function()
      local open = propose("bob", "spend", { to = "eve", amount = 5 })
      pass("member", { op = "add", account = "dave" })
      assert_failed(chain:send("dave", "dao", "vote", open, "yes"), "dave joined after proposal 1 was made")
      assert.equal(0, proposal(open).yes)
    end)

    it("removes a member by proposal, who can then neither propose nor vote", function()
      local open = propose("bob", "spend", { to = "eve", amount = 5 })
      pass("member", { op = "remove", account = "carol" })
      assert.same({ "alice", "bob" }, chain:query("dao", "members"))
      assert_failed(chain:send("carol", "dao", "vote", open, "yes"), "carol is not a member")
      assert_failed(chain:send("carol", "dao", "propose", "spend", { to = "carol", amount = 1 }),
                    "carol is not a member")
    end)

    it("refuses to remove the last member and keeps the proposal passed", function()
      chain = dao_chain({ "alice" }, 100, 0)
      local id = propose("alice", "member", { op = "remove", account = "alice" })
      votes(id, { alice = "yes" })
      end_voting(id)
      assert_failed(chain:send("alice", "dao", "execute", id), "cannot remove alice, the last member")
      assert.same({ "alice" }, chain:query("dao", "members"))
      assert.equal("passed", proposal(id).state)
    end)

    it("refuses an add that became stale: the account joined through another proposal", function()
      local first = propose("alice", "member", { op = "add", account = "dave" })
      local second = propose("bob", "member", { op = "add", account = "dave" })
      votes(first, { alice = "yes", bob = "yes" })
      votes(second, { alice = "yes", bob = "yes" })
      end_voting(second)
      assert_ok(chain:send("alice", "dao", "execute", first))
      assert_failed(chain:send("alice", "dao", "execute", second), "dave is already a member")
      assert.same({ "alice", "bob", "carol", "dave" }, chain:query("dao", "members"))
    end)
  end)
end)
