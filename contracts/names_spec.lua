-- contracts/names_spec.lua -- the name registry (contracts/names.lua), run by
-- `lunet test` in the real sandbox: signed transactions, heights, expiry.

local testing = require "lunet.testing"

local PERIOD = 10

-- A failed call: included (nonce used, fee paid), not ok, the message in r.error.
local function assert_failed(r, text, code)
  assert.is_true(r.included, "the transaction was refused: " .. tostring(r.error))
  assert.is_false(r.ok, "the call succeeded; expected: " .. text)
  assert.is_truthy(tostring(r.error):find(text, 1, true),
                   "error '" .. tostring(r.error) .. "' does not say '" .. text .. "'")
  if code then assert.equal(code, r.code) end
  assert.same({}, r.events)
end

local function assert_ok(r)
  assert.is_true(r.included, "refused: " .. tostring(r.error))
  assert.is_true(r.ok, "failed: " .. tostring(r.error))
  return r
end

describe("names", function()
  local chain

  -- The height of the block the next transaction goes in.
  local function next_height() return chain:height() + 1 end

  -- Blocks so that the next transaction runs at height h.
  local function advance_to(h)
    assert.is_true(h > chain:height(), "height " .. h .. " is in the past")
    chain:advance(h - 1 - chain:height())
    assert.equal(h, next_height())
  end

  local function lookup(name) return chain:query("names", "lookup", name) end

  before_each(function()
    chain = testing.chain()
    assert_ok(chain:deploy("alice", "names", "contracts/names.lua", PERIOD))
  end)

  describe("init", function()
    it("records the registration period", function()
      assert.equal(PERIOD, chain:query("names", "period"))
    end)

    it("refuses a period that is not a positive integer and deploys nothing", function()
      for _, p in ipairs { 0, -5, "10", 100000001 } do
        local c = testing.chain()
        local r = c:deploy("alice", "nm", "contracts/names.lua", p)
        assert_failed(r, "period must be an integer of 1-100000000 blocks, got " .. p)
        assert.is_nil(c:account("nm"))
      end
    end)
  end)

  describe("register", function()
    it("gives a free name to the sender for period blocks and returns the expiry", function()
      local h = next_height()
      local r = assert_ok(chain:send("bob", "names", "register", "bob-home"))
      assert.equal(h + PERIOD, r.result)
      assert.equal("bob", chain:query("names", "resolve", "bob-home"))
      assert.same({ owner = "bob", expires = h + PERIOD, expired = false }, lookup("bob-home"))
    end)

    it("emits registered with the name, the owner and the expiry", function()
      local h = next_height()
      local r = assert_ok(chain:send("bob", "names", "register", "bob-home"))
      assert.same({ { contract = "names", name = "registered",
                      data = { name = "bob-home", owner = "bob", expires = h + PERIOD } } }, r.events)
    end)

    it("refuses a name held by another account, saying by whom and until when", function()
      local h = next_height()
      assert_ok(chain:send("alice", "names", "register", "shop"))
      local r = chain:send("bob", "names", "register", "shop")
      assert_failed(r, "name shop is held by alice until height " .. (h + PERIOD))
      assert.same({ owner = "alice", expires = h + PERIOD, expired = false }, lookup("shop"))
    end)

    it("refuses the owner's own held name: extending it is what renew does", function()
      local h = next_height()
      assert_ok(chain:send("alice", "names", "register", "shop"))
      assert_failed(chain:send("alice", "names", "register", "shop"),
                    "name shop is held by alice until height " .. (h + PERIOD))
      assert.equal(h + PERIOD, lookup("shop").expires)
    end)

    it("refuses names that are not 1-32 of a-z, 0-9 and '-'", function()
      for _, name in ipairs { "", "Shop", "my shop", "shop.x", "ü", string.rep("a", 33) } do
        local r = chain:send("bob", "names", "register", name)
        assert_failed(r, "name must be 1-32 of a-z, 0-9 and '-', got " .. name)
      end
      assert_failed(chain:send("bob", "names", "register", 7), "name must be 1-32 of a-z, 0-9 and '-', got 7")
      assert.is_nil(lookup("shop"))
      assert.is_nil(lookup("a"))
    end)

    it("accepts a 32-character name and a one-character one", function()
      assert_ok(chain:send("bob", "names", "register", string.rep("a-9", 10) .. "zz"))
      assert_ok(chain:send("bob", "names", "register", "x"))
      assert.equal("bob", chain:query("names", "resolve", "x"))
    end)

    it("lets a contract hold a name, as msg.sender", function()
      assert_ok(chain:deploy_source("carol", "shopbot", [[
        return { claim = function(n) return call("names", "register", n) end }]]))
      assert_ok(chain:send("dave", "shopbot", "claim", "bots"))
      assert.equal("shopbot", chain:query("names", "resolve", "bots"))
    end)
  end)

  describe("expiry", function()
    local h

    before_each(function()
      h = next_height()
      assert_ok(chain:send("alice", "names", "register", "shop"))
    end)

    it("keeps the name held until the block before its expiry height", function()
      advance_to(h + PERIOD - 1)
      assert_failed(chain:send("bob", "names", "register", "shop"),
                    "name shop is held by alice until height " .. (h + PERIOD))
      assert.equal("alice", chain:query("names", "resolve", "shop"))
    end)

    it("frees the name at its expiry height: resolve gives nil, lookup says expired", function()
      chain:advance(PERIOD)
      assert.is_nil(chain:query("names", "resolve", "shop"))
      assert.same({ owner = "alice", expires = h + PERIOD, expired = true }, lookup("shop"))
    end)

    it("lets another account register an expired name", function()
      advance_to(h + PERIOD)
      local r = assert_ok(chain:send("bob", "names", "register", "shop"))
      assert.equal(h + 2 * PERIOD, r.result)
      assert.same({ name = "shop", owner = "bob", expires = h + 2 * PERIOD }, r.events[1].data)
      assert.equal("bob", chain:query("names", "resolve", "shop"))
    end)

    it("lets the former owner register an expired name again from now", function()
      chain:advance(PERIOD + 3)
      local now = next_height()
      assert.equal(now + PERIOD, assert_ok(chain:send("alice", "names", "register", "shop")).result)
    end)
  end)

  describe("renew", function()
    local h

    before_each(function()
      h = next_height()
      assert_ok(chain:send("alice", "names", "register", "shop"))
    end)

    it("extends the owner's name by one period from its current expiry", function()
      chain:advance(3)
      local r = assert_ok(chain:send("alice", "names", "renew", "shop"))
      assert.equal(h + 2 * PERIOD, r.result)
      assert.same({ { contract = "names", name = "renewed",
                      data = { name = "shop", owner = "alice", expires = h + 2 * PERIOD } } }, r.events)
      advance_to(h + PERIOD)
      assert_failed(chain:send("bob", "names", "register", "shop"), "is held by alice")
    end)

    it("refuses another account and leaves the expiry", function()
      assert_failed(chain:send("bob", "names", "renew", "shop"), "name shop is held by alice, not bob")
      assert.equal(h + PERIOD, lookup("shop").expires)
    end)

    it("refuses an expired name, even to its former owner", function()
      chain:advance(PERIOD)
      assert_failed(chain:send("alice", "names", "renew", "shop"),
                    "name shop expired at height " .. (h + PERIOD))
      assert.same({ owner = "alice", expires = h + PERIOD, expired = true }, lookup("shop"))
    end)

    it("refuses a name never registered", function()
      assert_failed(chain:send("alice", "names", "renew", "nothing"), "name nothing is not registered")
      assert.is_nil(lookup("nothing"))
    end)
  end)

  describe("transfer", function()
    local h

    before_each(function()
      h = next_height()
      assert_ok(chain:send("alice", "names", "register", "shop"))
    end)

    it("gives the name with its expiry to the recipient", function()
      local r = assert_ok(chain:send("alice", "names", "transfer", "shop", "carol"))
      assert.same({ { contract = "names", name = "transferred",
                      data = { name = "shop", from = "alice", to = "carol", expires = h + PERIOD } } },
                  r.events)
      assert.equal("carol", chain:query("names", "resolve", "shop"))
      assert.equal(h + PERIOD, lookup("shop").expires)
    end)

    it("hands the rights over: the new owner renews, the old one no longer can", function()
      assert_ok(chain:send("alice", "names", "transfer", "shop", "carol"))
      assert_failed(chain:send("alice", "names", "renew", "shop"), "name shop is held by carol, not alice")
      assert_failed(chain:send("alice", "names", "transfer", "shop", "alice"),
                    "name shop is held by carol, not alice")
      assert.equal(h + 2 * PERIOD, assert_ok(chain:send("carol", "names", "renew", "shop")).result)
    end)

    it("refuses another account and leaves the owner", function()
      assert_failed(chain:send("bob", "names", "transfer", "shop", "bob"), "name shop is held by alice, not bob")
      assert.equal("alice", chain:query("names", "resolve", "shop"))
    end)

    it("refuses an expired name", function()
      chain:advance(PERIOD)
      assert_failed(chain:send("alice", "names", "transfer", "shop", "bob"),
                    "name shop expired at height " .. (h + PERIOD))
      assert.equal("alice", lookup("shop").owner)
    end)

    it("refuses a recipient that is not an account name", function()
      for _, to in ipairs { "Bob", "", "thirteenchars" } do
        assert_failed(chain:send("alice", "names", "transfer", "shop", to), "invalid account name: " .. to)
      end
      assert.equal("alice", chain:query("names", "resolve", "shop"))
    end)
  end)

  describe("queries", function()
    it("give nil for a name never registered", function()
      assert.is_nil(chain:query("names", "resolve", "ghost"))
      assert.is_nil(lookup("ghost"))
    end)

    it("refuse a malformed name", function()
      local ok, err = chain:try_query("names", "resolve", "NO")
      assert.is_false(ok)
      assert.is_truthy(err:find("name must be 1-32 of a-z, 0-9 and '-', got NO", 1, true), err)
    end)
  end)
end)
