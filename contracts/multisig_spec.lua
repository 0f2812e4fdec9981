-- contracts/multisig_spec.lua -- the multisig wallet (contracts/multisig.lua)
-- over real tokens of contracts/token.lua, run by `lunet test` in the real
-- sandbox. The wallet is deployed as `wallet`, owned by alice, bob and carol,
-- 2 of 3, handed to its own code, and holds 500 of alice's 1000 LUN.

local testing = require "lunet.testing"

local SUPPLY, FUNDS = 1000, 500
local OWNERS = { "alice", "bob", "carol" }

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

-- Makes `name`'s owner and active held by its own active permission only:
-- no key can sign for it, and its code acts for it in the calls it makes.
local function hand_over(chain, from, name)
  local self = { threshold = 1, accounts = { { account = name, permission = "active", weight = 1 } } }
  assert_ok(chain:send(from, "sys", "updateauth", name, "active", self))
  assert_ok(chain:send(from, "sys", "updateauth", name, "owner", self))
end

local function wallet_chain(threshold)
  local chain = testing.chain()
  assert_ok(chain:deploy("alice", "token", "contracts/token.lua", "LUN", SUPPLY))
  assert_ok(chain:deploy("alice", "wallet", "contracts/multisig.lua", OWNERS, threshold or 2))
  hand_over(chain, "alice", "wallet")
  assert_ok(chain:send("alice", "token", "transfer", "wallet", FUNDS))
  return chain
end

describe("multisig", function()
  local chain

  local function bal(who) return chain:query("token", "balance_of", who) end
  local function proposal(id) return chain:query("wallet", "proposal", id) end

  -- bob proposes paying `amount` LUN from the wallet to `to`; returns the id.
  local function propose_pay(to, amount, who)
    return assert_ok(chain:send(who or "bob", "wallet", "propose", "token", "transfer", { to, amount })).result
  end

  before_each(function() chain = wallet_chain() end)

  describe("init", function()
    it("records the owners and the threshold", function()
      assert.same(OWNERS, chain:query("wallet", "owners"))
      assert.equal(2, chain:query("wallet", "threshold"))
    end)

    it("refuses a threshold of zero, above the owners or not an integer, and deploys nothing", function()
      for _, t in ipairs { 0, 4, -1, "2" } do
        local c = testing.chain()
        local r = c:deploy("alice", "w", "contracts/multisig.lua", OWNERS, t)
        assert_failed(r, "threshold must be an integer of 1-3, got " .. t)
        assert.is_nil(c:account("w"))
      end
    end)

    it("refuses an empty owner list, more than 16 owners, a repeated owner or a bad name", function()
      local many = {}
      for i = 1, 17 do many[i] = "o" .. i end
      local cases = {
        { {}, "owners must be a list of 1-16 account names" },
        { many, "owners must be a list of 1-16 account names" },
        { "alice", "owners must be a list of 1-16 account names" },
        { { "alice", "bob", "alice" }, "owner alice is listed twice" },
        { { "alice", "Bob" }, "owner 2 must be an account name, got Bob" },
      }
      for _, case in ipairs(cases) do
        local c = testing.chain()
        assert_failed(c:deploy("alice", "w", "contracts/multisig.lua", case[1], 1), case[2])
        assert.is_nil(c:account("w"))
      end
    end)
  end)

  describe("the wallet account", function()
    it("is held by the deployer's key until it is handed to the wallet's code", function()
      local c = testing.chain()
      assert_ok(c:deploy("alice", "token", "contracts/token.lua", "LUN", SUPPLY))
      assert_ok(c:deploy("alice", "w", "contracts/multisig.lua", OWNERS, 2))
      assert_ok(c:send("alice", "token", "transfer", "w", FUNDS))
      assert_ok(c:send("alice", "sys", "transfer", "w", 10 ^ 8))    -- w pays its own fees
      local alice_key = { c.keys.alice.sk }
      -- before: alice's key signs as w and moves w's tokens past the owners
      assert_ok(c:send_with({ keys = alice_key }, "w", "token", "transfer", "alice", 1))
      hand_over(c, "alice", "w")
      local r = c:send_with({ keys = alice_key }, "w", "token", "transfer", "alice", 1)
      assert.is_false(r.included, "a key still signs for the wallet")
      assert.equal("EAUTH", r.code)
      assert.equal(FUNDS - 1, c:query("token", "balance_of", "w"))
    end)
  end)

  describe("propose", function()
    it("stores the call with the proposer's approval and returns ids in order", function()
      assert.equal(1, propose_pay("dave", 10))
      assert.equal(2, propose_pay("eve", 20, "carol"))
      assert.same({ proposer = "bob", contract = "token", method = "transfer", args = { "dave", 10 },
                    approvals = { bob = true }, count = 1, status = "open" }, proposal(1))
      assert.equal("carol", proposal(2).proposer)
    end)

    it("emits proposed with the id, the proposer and the call", function()
      local r = assert_ok(chain:send("bob", "wallet", "propose", "token", "transfer", { "dave", 10 }))
      assert.same({ { contract = "wallet", name = "proposed",
                      data = { id = 1, proposer = "bob", contract = "token", method = "transfer" } } },
                  r.events)
    end)

    it("takes a call without arguments", function()
      assert_ok(chain:send("bob", "wallet", "propose", "token", "symbol"))
      assert.same({}, proposal(1).args)
    end)

    it("refuses an account that is not an owner and stores nothing", function()
      assert_failed(chain:send("dave", "wallet", "propose", "token", "transfer", { "dave", 10 }),
                    "dave is not an owner of this wallet")
      assert.is_nil(proposal(1))
      assert.equal(1, propose_pay("dave", 10))     -- the id was not used up
    end)

    it("refuses a bad contract name, method or argument list", function()
      local big = {}
      for i = 1, 17 do big[i] = i end
      local cases = {
        { { "Token", "transfer", {} }, "contract must be an account name, got Token" },
        { { "token", "", {} }, "method must be a string of 1-64 bytes, got " },
        { { "token", string.rep("m", 65), {} }, "method must be a string of 1-64 bytes" },
        { { "token", "transfer", "dave" }, "args must be a list, got string" },
        { { "token", "transfer", { to = "dave" } }, "args must be a list of at most 16 values" },
        { { "token", "transfer", big }, "args must be a list of at most 16 values" },
      }
      for _, case in ipairs(cases) do
        assert_failed(chain:send("bob", "wallet", "propose", unpack(case[1])), case[2])
      end
      assert.is_nil(proposal(1))
    end)
  end)

  describe("approve and revoke", function()
    local id
    before_each(function() id = propose_pay("dave", 10) end)

    it("counts another owner's approval and emits approved with the count", function()
      local r = assert_ok(chain:send("carol", "wallet", "approve", id))
      assert.equal(2, r.result)
      assert.same({ { contract = "wallet", name = "approved",
                      data = { id = id, owner = "carol", approvals = 2 } } }, r.events)
      assert.same({ bob = true, carol = true }, proposal(id).approvals)
    end)

    it("refuses a second approval by the same owner", function()
      assert_failed(chain:send("bob", "wallet", "approve", id), "bob already approved proposal 1")
      assert.equal(1, proposal(id).count)
    end)

    it("refuses a non-owner and an unknown proposal", function()
      assert_failed(chain:send("dave", "wallet", "approve", id), "dave is not an owner of this wallet")
      assert_failed(chain:send("carol", "wallet", "approve", 9), "no proposal 9")
      assert_failed(chain:send("carol", "wallet", "approve", "1"), "proposal id must be a number, got 1")
      assert.same({ bob = true }, proposal(id).approvals)
      assert.is_nil(proposal(9))
    end)

    it("withdraws an approval with revoke and emits revoked with the count", function()
      assert_ok(chain:send("carol", "wallet", "approve", id))
      local r = assert_ok(chain:send("bob", "wallet", "revoke", id))
      assert.equal(1, r.result)
      assert.same({ { contract = "wallet", name = "revoked",
                      data = { id = id, owner = "bob", approvals = 1 } } }, r.events)
      assert.same({ carol = true }, proposal(id).approvals)
    end)

    it("takes the revoked approval out of the threshold", function()
      assert_ok(chain:send("carol", "wallet", "approve", id))
      assert_ok(chain:send("carol", "wallet", "revoke", id))
      assert_failed(chain:send("bob", "wallet", "execute", id), "proposal 1 has 1 of 2 approvals")
      assert.equal(FUNDS, bal("wallet"))
    end)

    it("refuses to revoke an approval the owner never gave", function()
      assert_failed(chain:send("carol", "wallet", "revoke", id), "carol has not approved proposal 1")
      assert.equal(1, proposal(id).count)
    end)

    it("lets the last approval go, and an owner approve again", function()
      assert_ok(chain:send("bob", "wallet", "revoke", id))
      assert.equal(0, proposal(id).count)
      assert.equal(1, assert_ok(chain:send("bob", "wallet", "approve", id)).result)
    end)
  end)

  describe("execute", function()
    local id
    before_each(function()
      id = propose_pay("dave", 120)
      assert_ok(chain:send("carol", "wallet", "approve", id))
    end)

    it("moves the wallet's own tokens through a nested call", function()
      local r = assert_ok(chain:send("carol", "wallet", "execute", id))
      assert.is_true(r.result)
      assert.equal(FUNDS - 120, bal("wallet"))
      assert.equal(120, bal("dave"))
      assert.equal(SUPPLY - FUNDS, bal("alice"))
      assert.equal(SUPPLY, chain:query("token", "total_supply"))
    end)

    it("puts the token's transfer from the wallet, then executed, in the receipt", function()
      local r = assert_ok(chain:send("carol", "wallet", "execute", id))
      assert.same({
        { contract = "token", name = "transfer", data = { from = "wallet", to = "dave", amount = 120 } },
        { contract = "wallet", name = "executed",
          data = { id = id, by = "carol", contract = "token", method = "transfer" } },
      }, r.events)
    end)

    it("marks the proposal executed, at the block's height", function()
      assert_ok(chain:send("alice", "wallet", "execute", id))
      local p = proposal(id)
      assert.equal("executed", p.status)
      assert.equal(chain:height(), p.executed_at)
    end)

    it("never runs a proposal twice", function()
      assert_ok(chain:send("alice", "wallet", "execute", id))
      assert_failed(chain:send("bob", "wallet", "execute", id), "proposal 1 is executed")
      assert_failed(chain:send("alice", "wallet", "approve", id), "proposal 1 is executed")
      assert_failed(chain:send("bob", "wallet", "revoke", id), "proposal 1 is executed")
      assert.equal(FUNDS - 120, bal("wallet"))
      assert.equal(120, bal("dave"))
    end)

    it("refuses a proposal below the threshold and moves nothing", function()
      local other = propose_pay("eve", 5)
      assert_failed(chain:send("bob", "wallet", "execute", other), "proposal 2 has 1 of 2 approvals")
      assert.equal("open", proposal(other).status)
      assert.equal(FUNDS, bal("wallet"))
      assert.equal(0, bal("eve"))
    end)

    it("refuses an account that is not an owner", function()
      assert_failed(chain:send("dave", "wallet", "execute", id), "dave is not an owner of this wallet")
      assert.equal("open", proposal(id).status)
      assert.equal(0, bal("dave"))
    end)

    it("fails with the callee's error and leaves the proposal open when the call fails", function()
      local big = propose_pay("eve", 900)
      assert_ok(chain:send("alice", "wallet", "approve", big))
      local r = chain:send("alice", "wallet", "execute", big)
      assert_failed(r, "insufficient balance: has 500, needs 900", "ECALL")
      local p = proposal(big)
      assert.equal("open", p.status)
      assert.equal(2, p.count)
      assert.equal(FUNDS, bal("wallet"))
      -- once the wallet holds enough, the same proposal runs
      assert_ok(chain:send("alice", "token", "transfer", "wallet", 400))
      assert_ok(chain:send("bob", "wallet", "execute", big))
      assert.equal(900, bal("eve"))
      assert.equal("executed", proposal(big).status)
    end)

    it("shows the callee the wallet as msg.sender: a name registered by a proposal is the wallet's", function()
      assert_ok(chain:deploy("alice", "names", "contracts/names.lua", 100))
      local reg = assert_ok(chain:send("bob", "wallet", "propose", "names", "register", { "treasury" })).result
      assert_ok(chain:send("carol", "wallet", "approve", reg))
      assert_ok(chain:send("bob", "wallet", "execute", reg))
      assert.equal("wallet", chain:query("names", "resolve", "treasury"))
    end)

    it("lets system actions act for the wallet: sys.transfer moves the wallet's native balance", function()
      assert_ok(chain:send("alice", "sys", "transfer", "wallet", 1000))
      local before = chain:balance("dave")
      local pay = assert_ok(chain:send("bob", "wallet", "propose", "sys", "transfer", { "dave", 300 })).result
      assert_ok(chain:send("carol", "wallet", "approve", pay))
      assert_ok(chain:send("bob", "wallet", "execute", pay))
      assert.equal(700, chain:balance("wallet"))
      assert.equal(before + 300, chain:balance("dave"))
    end)

    it("gives the wallet no authority of its owners, not even of those who approved", function()
      local steal = assert_ok(chain:send("bob", "wallet", "propose", "sys", "updateauth",
        { "carol", "active", { threshold = 1, accounts = { { account = "bob", permission = "active", weight = 1 } } } })).result
      assert_ok(chain:send("carol", "wallet", "approve", steal))
      assert_failed(chain:send("bob", "wallet", "execute", steal), "missing authority of carol@owner", "EAUTH")
      assert.equal("open", proposal(steal).status)
      -- bob's key still cannot sign for carol
      local r = chain:send_with({ keys = { chain.keys.bob.sk } }, "carol", "token", "transfer", "bob", 1)
      assert.is_false(r.included)
      assert.equal("EAUTH", r.code)
    end)

    it("does not act with the authority of the owner who signs the execute", function()
      local before = chain:account("bob").owner
      local steal = assert_ok(chain:send("bob", "wallet", "propose", "sys", "updateauth",
        { "bob", "owner", { threshold = 1, accounts = { { account = "carol", permission = "active", weight = 1 } } } })).result
      assert_ok(chain:send("carol", "wallet", "approve", steal))
      assert_failed(chain:send("bob", "wallet", "execute", steal), "missing authority of bob@owner", "EAUTH")
      assert.same(before, chain:account("bob").owner)
      assert.equal("open", proposal(steal).status)
    end)
  end)

  describe("with a threshold of one", function()
    it("lets a single owner propose and execute", function()
      chain = wallet_chain(1)
      local id = propose_pay("eve", 7, "carol")
      assert_ok(chain:send("carol", "wallet", "execute", id))
      assert.equal(7, bal("eve"))
    end)
  end)
end)
