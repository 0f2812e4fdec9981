-- contracts/token_spec.lua -- the fungible token (contracts/token.lua), run by
-- `lunet test` in the real sandbox: signed transactions, metered gas, fees.

local testing = require "lunet.testing"
local core = require "lunet.core"

local SUPPLY = 1000

-- A failed call: included (nonce used, fee paid), not ok, the message in r.error.
local function assert_failed(r, text, code)
  assert.is_true(r.included, "the transaction was refused: " .. tostring(r.error))
  assert.is_false(r.ok, "the call succeeded; expected: " .. text)
  assert.is_truthy(tostring(r.error):find(text, 1, true),
                   "error '" .. tostring(r.error) .. "' does not say '" .. text .. "'")
  if code then assert.equal(code, r.code) end
  assert.same({}, r.events)
end

local function balances(chain, names)
  local t = {}
  for _, n in ipairs(names) do t[n] = chain:query("token", "balance_of", n) end
  return t
end

describe("token", function()
  local chain

  before_each(function()
    chain = testing.chain()
    local r = chain:deploy("alice", "token", "contracts/token.lua", "LUN", SUPPLY)
    assert.is_true(r.ok, tostring(r.error))
  end)

  describe("init", function()
    it("mints the whole supply to the deployer", function()
      assert.equal(SUPPLY, chain:query("token", "balance_of", "alice"))
      assert.equal(0, chain:query("token", "balance_of", "bob"))
    end)

    it("records the symbol and the total supply", function()
      assert.equal("LUN", chain:query("token", "symbol"))
      assert.equal(SUPPLY, chain:query("token", "total_supply"))
    end)

    it("emits a transfer event from nobody to the deployer", function()
      local c = testing.chain()
      local r = c:deploy("carol", "tok", "contracts/token.lua", "ABC", 77)
      assert.same({ { contract = "tok", name = "transfer",
                      data = { from = "", to = "carol", amount = 77 } } }, r.events)
      assert.equal("tok", r.result)
    end)

    it("refuses a symbol that is not 1-8 capital letters and deploys nothing", function()
      for _, sym in ipairs { "lun", "", "TOOLONGSYM", "L1N" } do
        local c = testing.chain()
        local r = c:deploy("alice", "tok", "contracts/token.lua", sym, 10)
        assert_failed(r, "symbol must be 1-8 capital letters")
        assert.is_nil(c:account("tok"), "account tok exists after a failed deploy with " .. sym)
      end
    end)

    it("refuses a supply that is not a positive integer", function()
      for _, supply in ipairs { 0, -1, "10" } do
        local c = testing.chain()
        local r = c:deploy("alice", "tok", "contracts/token.lua", "LUN", supply)
        assert_failed(r, "amount must be a positive integer, got " .. supply)
      end
    end)

    it("cannot be called by a transaction after deploy", function()
      local r = chain:send("bob", "token", "init", "BOB", 10 ^ 9)
      assert_failed(r, "method token.init runs only at deploy", "EPRIVATE")
      assert.equal(0, chain:query("token", "balance_of", "bob"))
      assert.equal("LUN", chain:query("token", "symbol"))
      assert.equal(SUPPLY, chain:query("token", "total_supply"))
    end)

    it("cannot be called by a query", function()
      local ok, err, _, code = chain:try_query("token", "init", "BOB", 5)
      assert.is_false(ok)
      assert.equal("EPRIVATE", code)
      assert.matches("runs only at deploy", err)
    end)

    it("cannot be called by another contract, even from that contract's init", function()
      local r = chain:deploy_source("bob", "evil", [[
        return { init = function() call("token", "init", "EVIL", 1000000) end }]])
      assert_failed(r, "method token.init runs only at deploy", "EPRIVATE")
      assert.equal(0, chain:query("token", "balance_of", "evil"))
      assert.equal("LUN", chain:query("token", "symbol"))
    end)

    it("cannot be reached after a failed nested deploy was caught", function()
      chain:deploy_source("bob", "evil", [[
        return { go = function()
          pcall(call, "sys", "deploy", "evil.x", "return { init = function() error('no') end }")
          return call("token", "init", "EVIL", 5)
        end }]])
      local r = chain:send("bob", "evil", "go")
      assert_failed(r, "runs only at deploy", "EPRIVATE")
      assert.equal(SUPPLY, chain:query("token", "total_supply"))
    end)
  end)

  describe("transfer", function()
    it("moves the amount from the sender to the recipient", function()
      local r = chain:send("alice", "token", "transfer", "bob", 10)
      assert.is_true(r.ok, tostring(r.error))
      assert.is_true(r.result)
      assert.equal(SUPPLY - 10, chain:query("token", "balance_of", "alice"))
      assert.equal(10, chain:query("token", "balance_of", "bob"))
    end)

    it("emits a transfer event with from, to and amount", function()
      local r = chain:send("alice", "token", "transfer", "bob", 10)
      assert.same({ { contract = "token", name = "transfer",
                      data = { from = "alice", to = "bob", amount = 10 } } }, r.events)
    end)

    it("can move the whole balance, leaving zero", function()
      assert.is_true(chain:send("alice", "token", "transfer", "carol", SUPPLY).ok)
      assert.equal(0, chain:query("token", "balance_of", "alice"))
      assert.equal(SUPPLY, chain:query("token", "balance_of", "carol"))
    end)

    it("reverts an overdraft with the numbers and leaves both balances", function()
      local r = chain:send("bob", "token", "transfer", "alice", 1)
      assert_failed(r, "insufficient balance: has 0, needs 1", "ECALL")
      assert.equal(SUPPLY, chain:query("token", "balance_of", "alice"))
      assert.equal(0, chain:query("token", "balance_of", "bob"))
    end)

    it("reverts an overdraft by one more than the balance", function()
      chain:send("alice", "token", "transfer", "bob", 5)
      local r = chain:send("bob", "token", "transfer", "carol", 6)
      assert_failed(r, "insufficient balance: has 5, needs 6")
      assert.equal(5, chain:query("token", "balance_of", "bob"))
      assert.equal(0, chain:query("token", "balance_of", "carol"))
    end)

    it("charges the fee and uses the nonce of a failed transfer", function()
      local before = chain:account("bob")
      local r = chain:send("bob", "token", "transfer", "alice", 1)
      assert.is_false(r.ok)
      local after = chain:account("bob")
      assert.equal(before.nonce + 1, after.nonce)
      assert.is_true(r.fee > 0)
      assert.equal(before.balance - r.fee, after.balance)
      assert.equal("bob", r.payer)
    end)

    it("refuses a zero, negative or string amount", function()
      for _, amount in ipairs { 0, -1, -1000, "10" } do
        local r = chain:send("alice", "token", "transfer", "bob", amount)
        assert_failed(r, "amount must be a positive integer, got " .. amount)
      end
      assert.equal(SUPPLY, chain:query("token", "balance_of", "alice"))
      assert.equal(0, chain:query("token", "balance_of", "bob"))
    end)

    it("refuses a boolean or table amount", function()
      assert_failed(chain:send("alice", "token", "transfer", "bob", true),
                    "amount must be a positive integer, got true")
      assert_failed(chain:send("alice", "token", "transfer", "bob", { 10 }),
                    "amount must be a positive integer")
    end)

    it("never receives a fractional amount: the wire format has no floats", function()
      local nonce = chain:account("alice").nonce
      assert.error_matches(function() chain:send("alice", "token", "transfer", "bob", 1.5) end,
                           "floats are not allowed")
      assert.equal(nonce, chain:account("alice").nonce)
      -- nor through another contract: call() copies its arguments as msgpack
      chain:deploy_source("alice", "relay", [[
        return { send = function(to) return call("token", "transfer", to, 3 / 2) end }]])
      local r = chain:send("alice", "relay", "send", "bob")
      assert_failed(r, "call argument: floats are not allowed", "EFLOAT")
      assert.equal(0, chain:query("token", "balance_of", "bob"))
    end)

    it("refuses recipient names that are not account names", function()
      for _, to in ipairs { "Bob", "", "thirteenchars", "bad name", "bob!", "ü" } do
        local r = chain:send("alice", "token", "transfer", to, 1)
        assert_failed(r, "invalid account name: " .. to)
      end
      assert_failed(chain:send("alice", "token", "transfer", 42, 1), "invalid account name: 42")
      assert.equal(SUPPLY, chain:query("token", "balance_of", "alice"))
    end)

    it("accepts a 12-character name with dots and digits", function()
      assert.is_true(chain:send("alice", "token", "transfer", "a.b.c.123456", 7).ok)
      assert.equal(7, chain:query("token", "balance_of", "a.b.c.123456"))
    end)

    it("lets a sender transfer to itself without changing any balance", function()
      local r = chain:send("alice", "token", "transfer", "alice", 10)
      assert.is_true(r.ok, tostring(r.error))
      assert.same({ from = "alice", to = "alice", amount = 10 }, r.events[1].data)
      assert.equal(SUPPLY, chain:query("token", "balance_of", "alice"))
      assert.equal(SUPPLY, chain:query("token", "total_supply"))
    end)

    it("refuses a self-transfer beyond the balance", function()
      assert_failed(chain:send("bob", "token", "transfer", "bob", 1),
                    "insufficient balance: has 0, needs 1")
    end)

    it("moves a contract's own tokens when a contract is the sender", function()
      chain:send("alice", "token", "transfer", "vault", 50)
      assert.is_true(chain:deploy_source("alice", "vault", [[
        return { pay = function(to, n) return call("token", "transfer", to, n) end }]]).ok)
      local r = chain:send("bob", "vault", "pay", "bob", 20)
      assert.is_true(r.ok, tostring(r.error))
      assert.same({ from = "vault", to = "bob", amount = 20 }, r.events[1].data)
      assert.equal(30, chain:query("token", "balance_of", "vault"))
      assert.equal(20, chain:query("token", "balance_of", "bob"))
      assert.equal(SUPPLY - 50, chain:query("token", "balance_of", "alice"))
    end)

    it("conserves the total supply across many transfers, failed ones included", function()
      local names = testing.ACCOUNTS
      local seed, failed = 12345, 0
      local function rand(n)
        seed = (seed * 1103515245 + 12345) % 2147483648
        return seed % n + 1
      end
      for i = 1, 60 do
        local from, to = names[rand(#names)], names[rand(#names)]
        local r = chain:send(from, "token", "transfer", to, rand(300))
        if not r.ok then
          failed = failed + 1
          assert.matches("insufficient balance", r.error)
        end
        if i % 10 == 0 then
          local sum = 0
          for _, v in pairs(balances(chain, names)) do sum = sum + v end
          assert.equal(SUPPLY, sum, "supply after " .. i .. " transfers")
        end
      end
      assert.is_true(failed > 0 and failed < 60, "the mix should have both outcomes")
      assert.equal(SUPPLY, chain:query("token", "total_supply"))
    end)
  end)

  describe("balance_of", function()
    it("is zero for an account that never held tokens", function()
      assert.equal(0, chain:query("token", "balance_of", "nobody"))
    end)

    it("refuses a name that is not an account name", function()
      assert.error_matches(function() chain:query("token", "balance_of", "NOT OK") end,
                           "invalid account name: NOT OK")
    end)
  end)

  describe("gas", function()
    it("reports the gas of each call and charges it as the fee", function()
      local r = chain:send("alice", "token", "transfer", "bob", 10)
      assert.is_true(r.gas_used > 0)
      assert.equal(r.gas_used, r.fee)
      local s = core.gas_stats["token.transfer"]
      assert.is_table(s, "no gas report entry for token.transfer")
      assert.is_true(s.n >= 1 and s.min <= r.gas_used and s.max >= r.gas_used)
    end)

    it("adds each call to the gas report", function()
      local s = core.gas_stats["token.transfer"]
      local n = s and s.n or 0
      chain:send("alice", "token", "transfer", "bob", 1)
      chain:send("alice", "token", "transfer", "bob", 1)
      assert.equal(n + 2, core.gas_stats["token.transfer"].n)
    end)

    it("is the same for the same call on the same state", function()
      local a = testing.chain()
      local b = testing.chain()
      for _, c in ipairs { a, b } do c:deploy("alice", "token", "contracts/token.lua", "LUN", SUPPLY) end
      local ra = a:send("alice", "token", "transfer", "bob", 10)
      local rb = b:send("alice", "token", "transfer", "bob", 10)
      assert.equal(ra.gas_used, rb.gas_used)
    end)

    it("is stable across repeated transfers of the same shape", function()
      chain:send("alice", "token", "transfer", "bob", 10)    -- bob's entry exists from here on
      local g = {}
      for i = 1, 5 do g[i] = chain:send("alice", "token", "transfer", "bob", 10).gas_used end
      for i = 2, 5 do assert.equal(g[1], g[i], "transfer " .. i .. " used other gas") end
    end)

    it("costs less for a refused overdraft than for a transfer", function()
      local ok = chain:send("alice", "token", "transfer", "bob", 10)
      local bad = chain:send("carol", "token", "transfer", "bob", 10)
      assert.is_false(bad.ok)
      assert.is_true(bad.gas_used > 0 and bad.gas_used < ok.gas_used)
    end)

    it("reports the gas of a query", function()
      local ok, v, gas = chain:try_query("token", "balance_of", "alice")
      assert.is_true(ok)
      assert.equal(SUPPLY, v)
      assert.is_true(gas > 0)
    end)
  end)

  describe("deploy", function()
    it("refuses a re-deploy by another account and keeps the token", function()
      local r = chain:deploy("bob", "token", "contracts/token.lua", "BOB", 10 ^ 6)
      assert_failed(r, "missing authority of token@active", "EAUTH")
      assert.equal("LUN", chain:query("token", "symbol"))
      assert.equal(SUPPLY, chain:query("token", "balance_of", "alice"))
      assert.equal(0, chain:query("token", "balance_of", "bob"))
    end)

    it("lets the deployer upgrade the code without running init again", function()
      local r = chain:deploy("alice", "token", "contracts/token.lua", "NEW", 5)
      assert.is_true(r.ok, tostring(r.error))
      assert.same({}, r.events)
      assert.equal("LUN", chain:query("token", "symbol"))
      assert.equal(SUPPLY, chain:query("token", "total_supply"))
      assert.equal(SUPPLY, chain:query("token", "balance_of", "alice"))
    end)
  end)
end)
