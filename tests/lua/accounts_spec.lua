-- tests/lua/accounts_spec.lua -- accounts and permissions: sys.newaccount,
-- sys.transfer, sys.updateauth, weighted thresholds of keys and of other
-- accounts' permissions, owner over active, and require_auth in contracts.

local testing = require "lunet.testing"
local core = require "lunet.core"

local function key(name)
  local pk, sk = core.keypair(core.hash("accounts spec key " .. name))
  return { pk = pk, sk = sk }
end

local function keyauth(...)
  local keys = {}
  for i, k in ipairs { ... } do keys[i] = { key = core.hex(k.pk), weight = 1 } end
  return { threshold = 1, keys = keys, accounts = {} }
end

local function updateauth(chain, signer_sks, account, perm, auth)
  return chain:send_with({ keys = signer_sks }, account, "sys", "updateauth", account, perm, auth)
end

-- A funded account `name` whose owner and active are its fixture key.
local function fresh(chain, name)
  chain:new_account(name, 10 ^ 9)
  return chain.keys[name]
end

local function ping(chain, name, sks)
  return chain:send_with({ keys = sks }, name, "sys", "transfer", "bob", 1)
end

local function assert_refused(r, code, msg)
  assert.is_false(r.included, "the transaction was included: " .. tostring(r.error))
  assert.equal(code, r.code)
  if msg then assert.is_truthy(r.error:find(msg, 1, true), r.error) end
end

local function assert_failed(r, msg, code)
  assert.is_true(r.included, r.error)
  assert.is_false(r.ok, "the call succeeded")
  if code then assert.equal(code, r.code) end
  assert.is_truthy(r.error:find(msg, 1, true), "error '" .. r.error .. "' does not say '" .. msg .. "'")
end

describe("sys.newaccount", function()
  local chain
  before_each(function() chain = testing.chain() end)

  it("creates an account held by one key, with nonce 0 and no balance", function()
    local k = key("zed")
    local r = chain:send("alice", "sys", "newaccount", "zed", k.pk)
    assert.is_true(r.ok, r.error)
    assert.equal("zed", r.result)
    local a = chain:account("zed")
    assert.equal(0, a.nonce)
    assert.equal(0, a.balance)
    for _, perm in ipairs { "owner", "active" } do
      assert.equal(1, a[perm].threshold)
      assert.equal(1, #a[perm].keys)
      assert.equal(k.pk, a[perm].keys[1].key)
      assert.equal(1, a[perm].keys[1].weight)
    end
  end)

  it("takes the key as 64 hex digits too", function()
    local k = key("zed")
    assert.is_true(chain:send("alice", "sys", "newaccount", "zed", core.hex(k.pk)).ok)
    assert.equal(k.pk, chain:account("zed").active.keys[1].key)
  end)

  it("lets the new account send once funded", function()
    local k = key("zed")
    chain:send("alice", "sys", "newaccount", "zed", k.pk)
    chain:send("alice", "sys", "transfer", "zed", 10 ^ 9)
    local r = ping(chain, "zed", { k.sk })
    assert.is_true(r.ok, r.error)
    assert.equal(1, chain:account("zed").nonce)
  end)

  it("refuses an existing name and leaves that account alone (EEXIST)", function()
    local before = chain:account("bob")
    local r = chain:send("alice", "sys", "newaccount", "bob", key("x").pk)
    assert_failed(r, "account bob already exists", "EEXIST")
    assert.same(before, chain:account("bob"))
  end)

  it("refuses the reserved name sys", function()
    assert_failed(chain:send("alice", "sys", "newaccount", "sys", key("x").pk), "already exists")
  end)

  for _, bad in ipairs { "Bob", "a_b", "thirteenchar1", "", "bob!" } do
    it("refuses the bad name '" .. bad .. "' (EBADNAME)", function()
      local root = chain:root()
      local r = chain:send("alice", "sys", "newaccount", bad, key("x").pk)
      assert_failed(r, "must be an account name", "EBADNAME")
      assert.is_nil(chain:account(bad ~= "" and bad or "x"))
      assert.are_not.equal(root, chain:root())      -- only alice's fee and nonce moved
    end)
  end

  it("refuses a key that is not 32 bytes (EBADKEY)", function()
    assert_failed(chain:send("alice", "sys", "newaccount", "zed", "short"), "key must be", "EBADKEY")
    assert.is_nil(chain:account("zed"))
  end)
end)

describe("sys.transfer", function()
  local chain
  before_each(function() chain = testing.chain() end)

  it("moves native balance from the sender to the recipient", function()
    local a, b = chain:balance("alice"), chain:balance("bob")
    local r = chain:send("alice", "sys", "transfer", "bob", 500)
    assert.is_true(r.ok, r.error)
    assert.equal(b + 500, chain:balance("bob"))
    assert.equal(a - 500 - r.fee, chain:balance("alice"))
  end)

  it("refuses an overdraft with the numbers and moves nothing", function()
    local a, b = chain:balance("alice"), chain:balance("bob")
    local r = chain:send("alice", "sys", "transfer", "bob", a + 1)
    assert_failed(r, "insufficient balance: has " .. a .. ", needs " .. (a + 1), "EBALANCE")
    assert.equal(b, chain:balance("bob"))
    assert.equal(a - r.fee, chain:balance("alice"))
  end)

  it("refuses an unknown recipient (ENOACCOUNT)", function()
    local a = chain:balance("alice")
    local r = chain:send("alice", "sys", "transfer", "nobody", 5)
    assert_failed(r, "unknown account nobody", "ENOACCOUNT")
    assert.equal(a - r.fee, chain:balance("alice"))
  end)

  for _, amount in ipairs { 0, -5 } do
    it("refuses the amount " .. amount, function()
      assert_failed(chain:send("alice", "sys", "transfer", "bob", amount),
                    "amount must be a positive integer")
      assert.equal(1e12, chain:balance("bob"))
    end)
  end

  it("moves nothing when sending to oneself", function()
    local a = chain:balance("alice")
    local r = chain:send("alice", "sys", "transfer", "alice", 100)
    assert.is_true(r.ok, r.error)
    assert.equal(a - r.fee, chain:balance("alice"))
  end)
end)

describe("sys.updateauth", function()
  local chain
  before_each(function() chain = testing.chain() end)

  it("rotates a key: the old key is then refused, the new one accepted", function()
    local old = fresh(chain, "rot")
    local new = key("rot new")
    local auth = keyauth(new)
    assert.is_true(updateauth(chain, { old.sk }, "rot", "active", auth).ok)
    assert.is_true(updateauth(chain, { old.sk }, "rot", "owner", auth).ok)
    assert_refused(ping(chain, "rot", { old.sk }), "EAUTH", "rot@active")
    assert.is_true(ping(chain, "rot", { new.sk }).ok)
    assert.equal(new.pk, chain:account("rot").owner.keys[1].key)
  end)

  it("needs the owner permission: active alone fails and changes nothing", function()
    local owner = fresh(chain, "acc")
    local active = key("acc active")
    assert.is_true(updateauth(chain, { owner.sk }, "acc", "active", keyauth(active)).ok)
    local before = chain:account("acc")
    local r = updateauth(chain, { active.sk }, "acc", "active", keyauth(key("thief")))
    assert_failed(r, "missing authority of acc@owner", "EAUTH")
    local after = chain:account("acc")
    assert.same(before.active, after.active)
    assert.same(before.owner, after.owner)
    assert.equal(before.nonce + 1, after.nonce)
  end)

  it("refuses to change another account's permissions", function()
    local r = chain:send("alice", "sys", "updateauth", "bob", "active", keyauth(key("thief")))
    assert_failed(r, "missing authority of bob@owner", "EAUTH")
    assert.is_true(ping(chain, "bob", { chain.keys.bob.sk }).ok)
  end)

  it("refuses an authority whose weights cannot reach its threshold", function()
    local k = fresh(chain, "acc")
    local auth = keyauth(key("a"), key("b"))
    auth.threshold = 3
    local r = updateauth(chain, { k.sk }, "acc", "active", auth)
    assert_failed(r, "can never be satisfied: weights sum to 2, threshold 3")
    assert.is_true(ping(chain, "acc", { k.sk }).ok)
  end)

  it("refuses a threshold of 0", function()
    local k = fresh(chain, "acc")
    local auth = keyauth(key("a"))
    auth.threshold = 0
    assert_failed(updateauth(chain, { k.sk }, "acc", "active", auth), "threshold must be")
  end)

  it("refuses an authority that lists the same key twice", function()
    local k = fresh(chain, "acc")
    local a = key("a")
    local auth = keyauth(a, a)
    auth.threshold = 2
    local r = updateauth(chain, { k.sk }, "acc", "active", auth)
    assert_failed(r, "listed twice")
    -- had it been taken, one signature would carry weight 2
    assert_refused(ping(chain, "acc", { a.sk }), "EAUTH")
  end)

  it("refuses an authority that lists the same account permission twice", function()
    local k = fresh(chain, "acc")
    local ref = { account = "bob", permission = "active", weight = 1 }
    local r = updateauth(chain, { k.sk }, "acc", "active",
                         { threshold = 2, keys = {}, accounts = { ref, ref } })
    assert_failed(r, "listed twice")
    assert_refused(ping(chain, "acc", { chain.keys.bob.sk }), "EAUTH")
  end)

  it("refuses an unknown field in an authority", function()
    local k = fresh(chain, "acc")
    local auth = keyauth(key("a"))
    auth.delay = 5
    assert_failed(updateauth(chain, { k.sk }, "acc", "active", auth), "unknown authority field 'delay'")
  end)

  it("refuses an unknown field in a key entry", function()
    local k = fresh(chain, "acc")
    local auth = keyauth(key("a"))
    auth.keys[1].expires = 10
    assert_failed(updateauth(chain, { k.sk }, "acc", "active", auth), "keys[1] must be a map {key, weight}")
  end)

  it("refuses an unknown field in an account entry", function()
    local k = fresh(chain, "acc")
    local auth = { threshold = 1, keys = {},
                   accounts = { { account = "bob", permission = "active", weight = 1, note = "x" } } }
    assert_failed(updateauth(chain, { k.sk }, "acc", "active", auth),
                  "accounts[1] must be a map {account, permission, weight}")
  end)

  it("refuses more than 8 keys", function()
    local k = fresh(chain, "acc")
    local ks = {}
    for i = 1, 9 do ks[i] = key("many " .. i) end
    assert_failed(updateauth(chain, { k.sk }, "acc", "active", keyauth(unpack(ks))),
                  "authority keys must be an array of at most 8")
    assert.is_true(updateauth(chain, { k.sk }, "acc", "active", keyauth(unpack(ks, 1, 8))).ok)
  end)

  -- Otherwise anyone may create the missing name later (newaccount is open
  -- to all) and so take the permission over.
  it("refuses an authority naming an account that does not exist", function()
    local k = fresh(chain, "acc")
    local auth = { threshold = 1, keys = {},
                   accounts = { { account = "ghost", permission = "active", weight = 1 } } }
    assert_failed(updateauth(chain, { k.sk }, "acc", "active", auth), "ghost")
    local mallory = key("mallory")
    chain:send("bob", "sys", "newaccount", "ghost", mallory.pk)
    assert_refused(ping(chain, "acc", { mallory.sk }), "EAUTH")
  end)

  it("refuses a permission other than owner or active", function()
    local k = fresh(chain, "acc")
    assert_failed(updateauth(chain, { k.sk }, "acc", "admin", keyauth(key("a"))),
                  "permission must be owner or active")
  end)
end)

describe("permissions", function()
  local chain
  before_each(function() chain = testing.chain() end)

  local function multisig(name, n, threshold)
    local owner = fresh(chain, name)
    local ks = {}
    for i = 1, n do ks[i] = key(name .. " signer " .. i) end
    local auth = keyauth(unpack(ks))
    auth.threshold = threshold
    local r = updateauth(chain, { owner.sk }, name, "active", auth)
    assert.is_true(r.ok, r.error)
    return ks, owner
  end

  it("refuses a 2-of-3 multisig account signed by one key (EAUTH)", function()
    local ks = multisig("msig", 3, 2)
    for i = 1, 3 do
      assert_refused(ping(chain, "msig", { ks[i].sk }), "EAUTH", "msig@active")
    end
  end)

  it("accepts a 2-of-3 multisig account signed by any two keys", function()
    local ks = multisig("msig", 3, 2)
    assert.is_true(ping(chain, "msig", { ks[1].sk, ks[2].sk }).ok)
    assert.is_true(ping(chain, "msig", { ks[3].sk, ks[1].sk }).ok)
    assert.is_true(ping(chain, "msig", { ks[2].sk, ks[3].sk }).ok)
    assert.is_true(ping(chain, "msig", { ks[1].sk, ks[2].sk, ks[3].sk }).ok)
  end)

  it("counts weights, not signatures", function()
    local owner = fresh(chain, "wt")
    local heavy, light1, light2 = key("heavy"), key("light1"), key("light2")
    local auth = { threshold = 3, accounts = {}, keys = {
      { key = core.hex(heavy.pk), weight = 2 },
      { key = core.hex(light1.pk), weight = 1 },
      { key = core.hex(light2.pk), weight = 1 } } }
    assert.is_true(updateauth(chain, { owner.sk }, "wt", "active", auth).ok)
    assert_refused(ping(chain, "wt", { heavy.sk }), "EAUTH")
    assert_refused(ping(chain, "wt", { light1.sk, light2.sk }), "EAUTH")
    assert.is_true(ping(chain, "wt", { heavy.sk, light2.sk }).ok)
  end)

  it("lets the owner satisfy active", function()
    local owner = fresh(chain, "acc")
    local active = key("acc active")
    assert.is_true(updateauth(chain, { owner.sk }, "acc", "active", keyauth(active)).ok)
    assert.is_true(ping(chain, "acc", { active.sk }).ok)
    assert.is_true(ping(chain, "acc", { owner.sk }).ok)
    assert_refused(ping(chain, "acc", { key("stranger").sk }), "EAUTH")
  end)

  it("accepts a transaction of A signed by B when A's active is held by B@active", function()
    local a = fresh(chain, "held")
    local auth = { threshold = 1, keys = {},
                   accounts = { { account = "bob", permission = "active", weight = 1 } } }
    assert.is_true(updateauth(chain, { a.sk }, "held", "active", auth).ok)
    local r = ping(chain, "held", { chain.keys.bob.sk })
    assert.is_true(r.ok, r.error)
    assert.equal("held", r.payer)
    assert_refused(ping(chain, "held", { chain.keys.carol.sk }), "EAUTH")
  end)

  it("follows the holder's key rotation", function()
    local a = fresh(chain, "held")
    local b = fresh(chain, "holder")
    local auth = { threshold = 1, keys = {},
                   accounts = { { account = "holder", permission = "active", weight = 1 } } }
    assert.is_true(updateauth(chain, { a.sk }, "held", "active", auth).ok)
    assert.is_true(ping(chain, "held", { b.sk }).ok)
    local new = key("holder new")
    assert.is_true(updateauth(chain, { b.sk }, "holder", "active", keyauth(new)).ok)
    assert.is_true(updateauth(chain, { b.sk }, "holder", "owner", keyauth(new)).ok)
    assert_refused(ping(chain, "held", { b.sk }), "EAUTH")
    assert.is_true(ping(chain, "held", { new.sk }).ok)
  end)

  it("adds key weights and account weights toward one threshold", function()
    local a = fresh(chain, "mixed")
    local k = key("mixed key")
    local auth = { threshold = 2,
                   keys = { { key = core.hex(k.pk), weight = 1 } },
                   accounts = { { account = "bob", permission = "active", weight = 1 } } }
    assert.is_true(updateauth(chain, { a.sk }, "mixed", "active", auth).ok)
    assert_refused(ping(chain, "mixed", { k.sk }), "EAUTH")
    assert_refused(ping(chain, "mixed", { chain.keys.bob.sk }), "EAUTH")
    assert.is_true(ping(chain, "mixed", { k.sk, chain.keys.bob.sk }).ok)
  end)

  it("does not let an account permission of B@owner be met by B's active key", function()
    local a = fresh(chain, "held")
    local b = fresh(chain, "holder")
    local bact = key("holder active")
    assert.is_true(updateauth(chain, { b.sk }, "holder", "active", keyauth(bact)).ok)
    local auth = { threshold = 1, keys = {},
                   accounts = { { account = "holder", permission = "owner", weight = 1 } } }
    assert.is_true(updateauth(chain, { a.sk }, "held", "active", auth).ok)
    assert_refused(ping(chain, "held", { bact.sk }), "EAUTH")
    assert.is_true(ping(chain, "held", { b.sk }).ok)
  end)

  -- a chain of accounts n1 -> n2 -> ... -> n<len>, each active held by the next
  local function delegation_chain(len)
    local names, ks = {}, {}
    for i = 1, len do
      names[i] = "dl" .. i
      ks[i] = fresh(chain, names[i])
    end
    for i = 1, len - 1 do
      local auth = { threshold = 1, keys = {},
                     accounts = { { account = names[i + 1], permission = "active", weight = 1 } } }
      assert.is_true(updateauth(chain, { ks[i].sk }, names[i], "active", auth).ok)
      -- owner too, so the first account's own key is not the way in
      assert.is_true(updateauth(chain, { ks[i].sk }, names[i], "owner", auth).ok)
    end
    return names, ks
  end

  it("follows account permissions four levels down", function()
    local names, ks = delegation_chain(5)
    assert.is_true(ping(chain, names[1], { ks[5].sk }).ok)
  end)

  it("stops following account permissions after four levels", function()
    local names, ks = delegation_chain(6)
    assert_refused(ping(chain, names[1], { ks[6].sk }), "EAUTH")
    assert.is_true(ping(chain, names[2], { ks[6].sk }).ok)
  end)

  it("refuses a cycle of account permissions without a key, and ends", function()
    local x, y = fresh(chain, "cyx"), fresh(chain, "cyy")
    local function held_by(who) return { threshold = 1, keys = {},
      accounts = { { account = who, permission = "active", weight = 1 } } } end
    assert.is_true(updateauth(chain, { x.sk }, "cyx", "active", held_by("cyy")).ok)
    assert.is_true(updateauth(chain, { y.sk }, "cyy", "active", held_by("cyx")).ok)
    assert_refused(ping(chain, "cyx", { key("stranger").sk }), "EAUTH")
    assert.is_true(ping(chain, "cyx", { y.sk }).ok)      -- cyy's owner key
  end)

  -- Seven accounts web1..web7, each permission held by all seven: a naive
  -- search visits about 14^4 nodes per check. webt's active is held by
  -- web1..web7 and, last, by webk, whose key is the only way in.
  local function dense_web()
    local names, ks = {}, {}
    for i = 1, 7 do
      names[i] = "web" .. i
      ks[i] = fresh(chain, names[i])
    end
    local function web(perm)
      local accts = {}
      for i = 1, 7 do accts[i] = { account = names[i], permission = perm, weight = 1 } end
      return { threshold = 1, keys = {}, accounts = accts }
    end
    for i = 1, 7 do
      assert.is_true(updateauth(chain, { ks[i].sk }, names[i], "active", web("active")).ok)
      assert.is_true(updateauth(chain, { ks[i].sk }, names[i], "owner", web("owner")).ok)
    end
    local k = fresh(chain, "webk")
    local t = fresh(chain, "webt")
    local auth = web("active")
    auth.accounts[8] = { account = "webk", permission = "active", weight = 1 }
    assert.is_true(updateauth(chain, { t.sk }, "webt", "active", auth).ok)
    assert.is_true(updateauth(chain, { t.sk }, "webt", "owner", auth).ok)
    names[8] = "webt"
    return names, k
  end

  local function pings(names, sk)
    local txs = {}
    for i = 1, #names do
      txs[i] = chain:transaction(names[i], { { contract = "sys", method = "transfer",
                                               args = { "bob", 1 } } }, { keys = { sk } })
    end
    return txs
  end

  it("checks a dense web of account permissions in bounded time", function()
    local names = dense_web()
    local txs = pings(names, key("stranger").sk)
    local t0 = os.clock()
    local rs = chain.c:apply(txs)
    local took = os.clock() - t0
    for i = 1, 8 do assert.equal("EAUTH", rs[i].code) end
    assert.is_true(took < 0.2, ("8 checks took %.2f s"):format(took))
  end)

  it("finds a key past a dense web of account permissions", function()
    local names, k = dense_web()
    local rs = chain.c:apply(pings(names, k.sk))
    for i = 1, 7 do assert.equal("EAUTH", rs[i].code) end
    assert.is_true(rs[8].ok, rs[8].error)
  end)
end)

local GUARD = [[
local M = {}
function M.guarded(who, perm)
  require_auth(who, perm)
  storage.set("by", who)
  return who
end
function M.by() return storage.get("by") end
return M
]]

describe("require_auth", function()
  local chain
  before_each(function()
    chain = testing.chain()
    assert.is_true(chain:deploy_source("alice", "guard", GUARD).ok)
  end)

  it("passes for the sender's own authority", function()
    local r = chain:send("alice", "guard", "guarded", "alice")
    assert.is_true(r.ok, r.error)
    assert.equal("alice", chain:query("guard", "by"))
  end)

  it("fails for another account unless the transaction carries its signature", function()
    local r = chain:send("alice", "guard", "guarded", "bob")
    assert_failed(r, "missing authority of bob@active", "EAUTH")
    assert.is_nil(chain:query("guard", "by"))
    r = chain:send_with({ keys = { chain.keys.alice.sk, chain.keys.bob.sk } },
                        "alice", "guard", "guarded", "bob")
    assert.is_true(r.ok, r.error)
    assert.equal("bob", chain:query("guard", "by"))
  end)

  it("asks for owner when told to, and active does not satisfy it", function()
    local owner = fresh(chain, "acc")
    local active = key("acc active")
    assert.is_true(updateauth(chain, { owner.sk }, "acc", "active", keyauth(active)).ok)
    local r = chain:send_with({ keys = { active.sk } }, "acc", "guard", "guarded", "acc", "owner")
    assert_failed(r, "missing authority of acc@owner", "EAUTH")
    r = chain:send_with({ keys = { owner.sk } }, "acc", "guard", "guarded", "acc", "owner")
    assert.is_true(r.ok, r.error)
  end)

  it("names an unknown account", function()
    assert_failed(chain:send("alice", "guard", "guarded", "nobody"),
                  "missing authority of nobody@active: no such account", "ENOACCOUNT")
  end)
end)
