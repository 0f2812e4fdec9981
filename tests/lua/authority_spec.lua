-- tests/lua/authority_spec.lua -- authority in nested calls (DESIGN,
-- "Authority in nested calls"): a transaction's signatures count only in
-- its own actions; inside a call made by contract C the authority present
-- is C's, and an account lends its authority to C only with an entry
-- {account = C, permission = "code"} in one of its permissions.

local testing = require "lunet.testing"
local core = require "lunet.core"

local MALLORY = core.hex((core.keypair(core.hash("authority spec mallory"))))

-- evil: what a contract a user calls could try with the user's signatures.
local EVIL = [[
local M = {}
local function grab(account) return { threshold = 1, keys = { { key = "]] .. MALLORY .. [[", weight = 1 } }, accounts = {} } end
function M.updateauth(account, perm) return call("sys", "updateauth", account, perm, grab(account)) end
function M.deploy(account) return call("sys", "deploy", account, "return { pwned = function() return true end }") end
function M.transfer(to, amount) return call("sys", "transfer", to, amount) end
function M.pay(from, to, amount) return call("vault", "pay", from, to, amount) end
function M.auth(account, perm) require_auth(account, perm); return true end
function M.via(contract, method, ...) return call(contract, method, ...) end
return M
]]

-- vault: moves balances it keeps for accounts, with the owner's authority.
local VAULT = [[
local M = {}
function M.init() storage.set("alice", 100) end
function M.pay(from, to, amount)
  require_auth(from)
  local have = storage.get(from) or 0
  if have < amount then error("insufficient: has " .. have .. ", needs " .. amount) end
  storage.set(from, have - amount)
  storage.set(to, (storage.get(to) or 0) + amount)
  return true
end
function M.balance(who) return storage.get(who) or 0 end
return M
]]

local function assert_failed(r, msg, code)
  assert.is_true(r.included, r.error)
  assert.is_false(r.ok, "the call succeeded")
  if code then assert.equal(code, r.code) end
  assert.is_truthy(r.error:find(msg, 1, true), "error '" .. tostring(r.error) .. "' does not say '" .. msg .. "'")
end

local function assert_ok(r)
  assert.is_true(r.ok, r.error)
  return r.result
end

-- alice's active permission: her key, plus whatever accounts are given.
local function lend(chain, accounts)
  local a = chain:account("alice")
  local auth = { threshold = 1, keys = { { key = core.hex(a.active.keys[1].key), weight = 1 } },
                 accounts = accounts }
  return chain:send("alice", "sys", "updateauth", "alice", "active", auth)
end

local function setup()
  local chain = testing.chain()
  assert_ok(chain:deploy_source("bob", "evil", EVIL))
  assert_ok(chain:deploy_source("bob", "helper", EVIL))
  assert_ok(chain:deploy_source("carol", "vault", VAULT))
  return chain
end

describe("authority in nested calls", function()
  local chain
  before_each(function() chain = setup() end)

  it("does not let a called contract update its caller's active permission", function()
    local before = chain:account("alice")
    assert_failed(chain:send("alice", "evil", "updateauth", "alice", "active"),
                  "missing authority of alice@owner", "EAUTH")
    assert.same(before.active, chain:account("alice").active)
  end)

  it("does not let a called contract update its caller's owner permission", function()
    local before = chain:account("alice")
    assert_failed(chain:send("alice", "evil", "updateauth", "alice", "owner"),
                  "missing authority of alice@owner", "EAUTH")
    assert.same(before.owner, chain:account("alice").owner)
  end)

  it("does not let a called contract redeploy its caller's account", function()
    assert_ok(chain:deploy_source("alice", "mine", "return { hi = function() return 1 end }"))
    local code = chain:account("mine").code
    assert_failed(chain:send("alice", "evil", "deploy", "mine"), "missing authority of mine@active", "EAUTH")
    assert_failed(chain:send("alice", "evil", "deploy", "alice"), "missing authority of alice@active", "EAUTH")
    assert.equal(code, chain:account("mine").code)
    assert.equal(1, chain:query("mine", "hi"))
    assert.is_nil(chain:account("alice").code)
  end)

  it("moves the calling contract's native balance, never the signer's", function()
    assert_ok(chain:send("bob", "sys", "transfer", "evil", 50))
    local alice = chain:balance("alice")
    local r = chain:send("alice", "evil", "transfer", "dave", 30)
    assert_ok(r)
    assert.equal(alice - r.fee, chain:balance("alice"))
    assert.equal(20, chain:balance("evil"))
    assert_failed(chain:send("alice", "evil", "transfer", "dave", 21), "insufficient balance: has 20, needs 21", "EBALANCE")
  end)

  it("does not pass require_auth of the signer in a third contract", function()
    assert_failed(chain:send("alice", "evil", "pay", "alice", "evil", 100), "missing authority of alice@active", "EAUTH")
    assert.equal(100, chain:query("vault", "balance", "alice"))
    assert.equal(0, chain:query("vault", "balance", "evil"))
  end)

  it("does not pass require_auth of the signer in the called contract itself", function()
    assert_ok(chain:send("alice", "evil", "auth", "alice"))          -- its own action: signed
    assert_failed(chain:send("alice", "helper", "via", "evil", "auth", "alice"),
                  "missing authority of alice@active", "EAUTH")
  end)

  it("passes require_auth of the calling contract, for active only", function()
    assert.is_true(assert_ok(chain:send("alice", "helper", "via", "evil", "auth", "helper")))
    assert_failed(chain:send("alice", "helper", "via", "evil", "auth", "helper", "owner"),
                  "missing authority of helper@owner", "EAUTH")
  end)

  it("still counts the signatures in the transaction's own actions", function()
    assert_ok(chain:send("alice", "vault", "pay", "alice", "bob", 10))
    assert.equal(90, chain:query("vault", "balance", "alice"))
  end)
end)

describe("the code permission", function()
  local chain
  before_each(function() chain = setup() end)

  it("is accepted in an authority and shown in the account", function()
    assert_ok(lend(chain, { { account = "helper", permission = "code", weight = 1 } }))
    local a = chain:account("alice").active
    assert.equal("helper", a.accounts[1].account)
    assert.equal("code", a.accounts[1].permission)
  end)

  it("refuses to name an account that does not exist", function()
    assert_failed(lend(chain, { { account = "ghost", permission = "code", weight = 1 } }),
                  "authority names account ghost, which does not exist")
  end)

  it("refuses other permission names", function()
    assert_failed(lend(chain, { { account = "helper", permission = "eosio.code", weight = 1 } }),
                  "permission must be owner, active or code")
  end)

  it("lets the granted contract act for the account in a third contract", function()
    assert_ok(lend(chain, { { account = "helper", permission = "code", weight = 1 } }))
    assert_ok(chain:send("alice", "helper", "pay", "alice", "helper", 40))
    assert.equal(60, chain:query("vault", "balance", "alice"))
    assert.equal(40, chain:query("vault", "balance", "helper"))
  end)

  it("works whoever sends the transaction that reaches the granted contract", function()
    assert_ok(lend(chain, { { account = "helper", permission = "code", weight = 1 } }))
    assert_ok(chain:send("dave", "helper", "pay", "alice", "dave", 5))
    assert.equal(95, chain:query("vault", "balance", "alice"))
  end)

  it("is not granted to another contract", function()
    assert_ok(lend(chain, { { account = "helper", permission = "code", weight = 1 } }))
    assert_failed(chain:send("alice", "evil", "pay", "alice", "evil", 40), "missing authority of alice@active", "EAUTH")
    assert.equal(100, chain:query("vault", "balance", "alice"))
  end)

  it("does not pass on to a contract the granted one calls", function()
    assert_ok(lend(chain, { { account = "helper", permission = "code", weight = 1 } }))
    assert_failed(chain:send("alice", "helper", "via", "evil", "pay", "alice", "evil", 40),
                  "missing authority of alice@active", "EAUTH")
    assert.equal(100, chain:query("vault", "balance", "alice"))
  end)

  it("in active does not give the owner permission", function()
    assert_ok(lend(chain, { { account = "helper", permission = "code", weight = 1 } }))
    local before = chain:account("alice")
    assert_failed(chain:send("alice", "helper", "updateauth", "alice", "owner"), "missing authority of alice@owner", "EAUTH")
    assert_failed(chain:send("alice", "helper", "updateauth", "alice", "active"), "missing authority of alice@owner", "EAUTH")
    assert.same(before.owner, chain:account("alice").owner)
    assert.same(before.active, chain:account("alice").active)
  end)

  it("lets the granted contract redeploy the account it was lent", function()
    assert_ok(chain:deploy_source("alice", "mine", "return { hi = function() return 1 end }"))
    local a = chain:account("mine")
    local auth = { threshold = 1, keys = {}, accounts = {
      { account = "alice", permission = "active", weight = 1 },
      { account = "helper", permission = "code", weight = 1 } } }
    assert_ok(chain:send("alice", "sys", "updateauth", "mine", "active", auth))
    assert_ok(chain:send("bob", "helper", "deploy", "mine"))
    assert.is_true(chain:query("mine", "pwned"))
    assert.are_not.equal(a.code, chain:account("mine").code)
  end)

  it("counts with its weight toward a threshold", function()
    local a = chain:account("alice")
    local auth = { threshold = 2, keys = { { key = core.hex(a.active.keys[1].key), weight = 1 } },
                   accounts = { { account = "helper", permission = "code", weight = 1 } } }
    assert_ok(chain:send("alice", "sys", "updateauth", "alice", "active", auth))
    -- weight 1 of 2: neither alice's key alone (in her own actions) nor helper's code alone.
    assert_failed(chain:send("alice", "helper", "pay", "alice", "helper", 1), "missing authority of alice@active", "EAUTH")
    assert.equal(100, chain:query("vault", "balance", "alice"))
  end)
end)

describe("deploy's init", function()
  it("runs with the deployer's signatures in a top-level deploy", function()
    local chain = testing.chain()
    assert_ok(chain:deploy_source("alice", "ini", [[
      local M = {}
      function M.init(who) require_auth(who); storage.set("ok", true) end
      function M.ok() return storage.get("ok") end
      return M]], "alice"))
    assert.is_true(chain:query("ini", "ok"))
  end)

  it("runs with the deploying contract's authority in a nested deploy", function()
    local chain = testing.chain()
    assert_ok(chain:deploy_source("bob", "factory", [[
      local M = {}
      function M.make(name, who)
        return call("sys", "deploy", name, "local M = {} function M.init(w) require_auth(w) end return M", who)
      end
      return M]]))
    assert_failed(chain:send("alice", "factory", "make", "kid", "alice"), "missing authority of alice@active", "EAUTH")
    assert_ok(chain:send("alice", "factory", "make", "kid", "factory"))
    assert.equal("factory", chain:account("kid").owner.accounts[1].account)
  end)
end)
