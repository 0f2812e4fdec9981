-- tests/lua/determinism_spec.lua -- DESIGN "The sandbox": nothing outside the
-- block may change a result. The same signed transactions run on chains
-- created independently, with unrelated activity in the host between them
-- (queries, each in its own sandbox; other chains; host allocations; tables
-- built in other orders), must give the same state root after every block
-- and the same receipts, byte for byte.
-- Contracts: contracts/token.lua, tests/lua/contracts/{probe,walker,hog}.lua.

local testing = require "lunet.testing"
local core = require "lunet.core"

local T0 = 1700000000

local function source(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local SOURCES = {
  token = source("contracts/token.lua"),
  probe = source("tests/lua/contracts/probe.lua"),
  walker = source("tests/lua/contracts/walker.lua"),
  hog = source("tests/lua/contracts/hog.lua"),
  churn = source("tests/lua/contracts/churn.lua"),
}

-- Builds signed transactions with their own nonces, so the same bytes can
-- go to any chain with the default chain id and dev accounts.
local function signer()
  local signing = testing.chain()
  local nonces = {}
  local s = {}
  function s.tx(from, contract, method, args, opts)
    opts = opts or {}
    local nonce = nonces[from] or 0
    nonces[from] = nonce + 1
    local bytes = signing:transaction(from, { { contract = contract, method = method, args = args or {} } },
                                      { nonce = nonce, expires = 100000, max_fee = opts.max_fee })
    return bytes
  end
  function s.deploy(from, name, src, ...)
    return s.tx(from, "sys", "deploy", { name, src, ... })
  end
  return s
end

-- The workload: a list of blocks, each a list of transaction bytes.
local function workload()
  local s = signer()
  local blocks = {}
  blocks[1] = {
    s.deploy("alice", "token", SOURCES.token, "LUN", 1000000),
    s.deploy("alice", "p1", SOURCES.probe),
    s.deploy("bob", "p2", SOURCES.probe),
    s.deploy("carol", "walker", SOURCES.walker),
    s.deploy("dave", "hog", SOURCES.hog),
    s.deploy("eve", "broken", "return {"),                       -- fails: ECODE
    s.deploy("eve", "churn", SOURCES.churn),
  }
  blocks[2] = {
    s.tx("alice", "token", "transfer", { "bob", 5000 }),
    s.tx("alice", "token", "transfer", { "carol", 7000 }),
    s.tx("bob", "token", "transfer", { "dave", 100 }),
    s.tx("eve", "token", "transfer", { "alice", 1 }),              -- overdraft
    s.tx("carol", "token", "transfer", { "Not Valid", 1 }),        -- bad name
    s.tx("dave", "token", "transfer", { "eve", 0 }),               -- bad amount
  }
  blocks[3] = {
    s.tx("bob", "walker", "walk", { 30, false }),
    s.tx("carol", "walker", "walk", { 30, true }),
    s.tx("dave", "walker", "names"),
    s.tx("alice", "p1", "emit_many", { 4 }),
    s.tx("bob", "p1", "try_call", { "p2", "write_then_fail", "k", { 1, 2 }, "callee broke" }),
    s.tx("carol", "p1", "write_then_call", { "p2", "write_then_fail", "k", 3, "uncaught" }),
    s.tx("dave", "p2", "call", { "p1", "depth", 7 }),
    s.tx("eve", "p2", "call", { "p1", "depth", 8 }),               -- too deep
    s.tx("alice", "p1", "_secret"),                               -- private
  }
  blocks[4] = {
    s.tx("eve", "hog", "fill", { 30 }),                            -- close to the 32 MiB cap
    s.tx("alice", "token", "transfer", { "eve", 10 }),
    s.tx("bob", "hog", "fill", { 30 }),
    s.tx("carol", "walker", "walk", { 10, true }),
    s.tx("dave", "churn", "strings", { 60, 2500 }),                -- the collector at work
    s.tx("alice", "churn", "keys", { 30, 1000 }),
  }
  local names = testing.ACCOUNTS
  local b5 = {}
  local seed = 7
  for i = 1, 25 do
    seed = (seed * 1103515245 + 12345) % 2147483648
    local from, to = names[seed % 5 + 1], names[math.floor(seed / 7) % 5 + 1]
    b5[#b5 + 1] = s.tx(from, "token", "transfer", { to, seed % 9000 + 1 })
  end
  blocks[5] = b5
  blocks[6] = {
    s.tx("alice", "p1", "set", { "nested", { 1, { 2, { 3, {} } } } }),
    s.tx("bob", "p2", "set", { "t", { a = { b = { c = "deep" } }, list = { true, false, -5 } } }),
    s.tx("carol", "p1", "call", { "p2", "get", "t" }),
    s.tx("dave", "walker", "walk", { 3, false }),
  }
  return blocks
end

-- Unrelated activity in the host: queries (each in a fresh sandbox of its
-- own), a third chain that applies blocks, host tables built in an order
-- that depends on `salt`, interned strings, garbage collection.
local junk = {}
local function noise(chain, salt)
  for i = 1, 12 do
    chain:try_query("token", "balance_of", testing.ACCOUNTS[(i + salt) % 5 + 1])
    chain:try_query("walker", "walk", 4 + (i + salt) % 5, (i + salt) % 2 == 0)
    chain:try_query("p1", "get", "k" .. i)
  end
  if salt % 3 == 0 then chain:try_query("hog", "fill", 8) end
  local other = testing.chain { chain_id = "noise-" .. salt }
  other:deploy_source("alice", "w", SOURCES.walker)
  for i = 1, 3 do other:send("bob", "w", "walk", 6 + i, i % 2 == 0) end
  local t = {}
  if salt % 2 == 0 then
    for i = 1, 4000 do t["k" .. i .. salt] = { i } end
  else
    for i = 4000, 1, -1 do t[{ i }] = "v" .. i .. salt end
  end
  junk[#junk + 1] = t
  for i = 1, 500 do junk[#junk + 1] = string.rep(string.char(65 + (i + salt) % 26), i % 61) .. salt end
  if #junk > 20000 then junk = {} end
  collectgarbage(salt % 2 == 0 and "collect" or "step")
end

local function enc(v, what)
  local bytes, err = core.encode(v)
  assert(bytes, "cannot encode " .. what .. ": " .. tostring(err))
  return bytes
end

local FIELDS = { "hash", "included", "ok", "code", "error", "result", "gas_used", "fee", "payer", "events" }

-- Field by field, then the whole receipt, byte for byte.
local function assert_same_receipts(ra, rb, where)
  assert.equal(#ra, #rb, where .. ": number of receipts")
  for i = 1, #ra do
    local at = where .. " tx " .. i
    for _, f in ipairs(FIELDS) do
      assert.equal(enc(ra[i][f], at .. "." .. f), enc(rb[i][f], at .. "." .. f), at .. ": field " .. f .. " differs")
    end
    assert.equal(enc(ra[i], at), enc(rb[i], at), at .. ": receipts differ")
  end
end

local function apply(chain, txs, height)
  return chain:apply(txs, T0 + 10 * height)
end

describe("determinism", function()
  local blocks = workload()

  it("gives two chains the same roots and receipts whatever else the host did", function()
    local a = testing.chain()
    for salt = 1, 3 do noise(a, salt) end
    local b = testing.chain()                 -- created after all that
    local all = {}
    for h, txs in ipairs(blocks) do
      local ra = apply(a, txs, h)
      noise(a, h)
      noise(b, h + 100)
      local rb = apply(b, txs, h)
      assert_same_receipts(ra, rb, "block " .. h)
      assert.equal(a:root(), b:root(), "state root after block " .. h)
      assert.equal(a:head(), b:head(), "block hash of block " .. h)
      for _, r in ipairs(ra) do all[#all + 1] = r end
    end
    -- The workload is not vacuous: it succeeded, failed, emitted and returned.
    local ok, failed, events, results = 0, 0, 0, 0
    for _, r in ipairs(all) do
      assert.is_true(r.included, "refused: " .. tostring(r.error))
      if r.ok then ok = ok + 1 else failed = failed + 1 end
      events = events + #r.events
      if r.result ~= nil then results = results + 1 end
    end
    assert.is_true(ok >= 20 and failed >= 6 and events >= 10 and results >= 10,
                   string.format("ok %d, failed %d, events %d, results %d", ok, failed, events, results))
  end)

  it("gives the same query results and query gas on both chains", function()
    local a, b = testing.chain(), testing.chain()
    for h, txs in ipairs(blocks) do
      apply(a, txs, h)
      noise(b, h)
      apply(b, txs, h)
    end
    local queries = {
      { "token", "balance_of", "alice" }, { "token", "total_supply" },
      { "walker", "walk", 12, true }, { "p1", "call", "p2", "get", "t" }, { "hog", "filled" },
    }
    for _, q in ipairs(queries) do
      local oka, va, ga, ca = a:try_query(unpack(q))
      noise(a, #q)
      local okb, vb, gb, cb = b:try_query(unpack(q))
      local what = table.concat({ q[1], q[2] }, ".")
      assert.equal(oka, okb, what)
      assert.equal(enc(va, what), enc(vb, what), what .. ": result")
      assert.equal(ga, gb, what .. ": gas")
      assert.equal(ca, cb, what .. ": code")
    end
  end)

  it("gives the same root for the same block run after host activity in other orders", function()
    local a, b = testing.chain(), testing.chain()
    for h = 1, 3 do
      apply(a, blocks[h], h)
      apply(b, blocks[h], h)
    end
    -- a: queries, then host tables, then the block
    for i = 1, 30 do a:try_query("walker", "walk", i % 9, i % 2 == 1) end
    noise(a, 2)
    local ra = apply(a, blocks[4], 4)
    -- b: another chain's blocks, host tables built the other way, the block, then queries
    noise(b, 5)
    local other = testing.chain()
    for h = 1, 2 do apply(other, blocks[h], h) end
    local rb = apply(b, blocks[4], 4)
    for i = 1, 30 do b:try_query("token", "balance_of", testing.ACCOUNTS[i % 5 + 1]) end
    assert_same_receipts(ra, rb, "block 4")
    assert.equal(a:root(), b:root(), "state root after block 4")
    assert.equal(30 * 64, ra[1].result)             -- the fill close to the cap went through
  end)

  describe("in fresh sandboxes", function()
    -- Each query runs in a sandbox of its own: what differs between them is
    -- only what the process did before (and its random seeds).
    local chain
    before_each(function()
      chain = testing.chain()
      local r = chain:deploy_source("alice", "churn", SOURCES.churn)
      assert.is_true(r.ok, tostring(r.error))
    end)

    it("the same call uses the same gas, with the collector at work", function()
      for _, pre in ipairs { 1000, 2500, 5000 } do
        local gas = {}
        for i = 1, 6 do
          local ok, v, g = chain:try_query("churn", "strings", 40, pre)
          assert.is_true(ok, tostring(v))
          gas[i] = g
          if i % 3 == 0 then noise(chain, i) end
        end
        for i = 2, #gas do
          assert.equal(gas[1], gas[i], "after " .. pre .. " tables, gas of each run: " .. table.concat(gas, " "))
        end
      end
    end)

    it("pairs visits table keys in the same order, with the collector at work", function()
      local first = chain:query("churn", "keys", 40, 2500)
      for i = 1, 10 do
        if i % 4 == 0 then noise(chain, i) end
        assert.equal(first, chain:query("churn", "keys", 40, 2500), "run " .. i)
      end
    end)
  end)

  describe("pairs and next", function()
    local chain
    before_each(function()
      chain = testing.chain()
      local r = chain:apply({ blocks[1][4] })[1]     -- deploys walker
      assert.is_true(r.ok, tostring(r.error))
    end)

    local RANK = { number = 1, string = 2, boolean = 3, table = 4 }

    local function parse(entry)
      local kind, text = entry:match("^(%a+):(.*)$")
      return kind, text
    end

    it("visit numbers, then strings by bytes, then booleans, then tables", function()
      local seq = chain:query("walker", "walk", 12, false)
      assert.equal(12 * 3 + 8, #seq)
      for i = 2, #seq do
        local k1, t1 = parse(seq[i - 1])
        local k2, t2 = parse(seq[i])
        assert.is_true(RANK[k1] <= RANK[k2], seq[i - 1] .. " before " .. seq[i])
        if k1 == k2 and k1 == "number" then
          assert.is_true(tonumber(t1) < tonumber(t2), seq[i - 1] .. " before " .. seq[i])
        elseif k1 == k2 and k1 == "string" then
          assert.is_true(t1 < t2, seq[i - 1] .. " before " .. seq[i])
        elseif k1 == k2 and k1 == "boolean" then
          assert.same({ "false", "true" }, { t1, t2 })
        end
      end
    end)

    it("do not depend on the order the keys were inserted in", function()
      assert.same(chain:query("walker", "walk", 20, false), chain:query("walker", "walk", 20, true))
    end)

    it("agree with each other", function()
      local r = chain:send("bob", "walker", "walk", 15, true)
      assert.is_true(r.ok, tostring(r.error))
      assert.equal(15 * 3 + 8, #chain:query("walker", "stored", "next"))
      assert.same(chain:query("walker", "stored", "pairs"), chain:query("walker", "stored", "next"))
    end)

    it("give the same sequence in a transaction as in a query", function()
      local r = chain:send("bob", "walker", "walk", 9, false)
      assert.same(chain:query("walker", "walk", 9, false), r.result)
    end)
  end)

  it("shows no addresses: tostring of tables and functions is the same everywhere", function()
    local chain = testing.chain()
    chain:apply({ blocks[1][4] })
    assert.same({ "table", "function", "function", "table" }, chain:query("walker", "names"))
  end)

  describe("limits", function()
    -- These kill calls from inside the sandbox; a kill must end as a
    -- receipt, never escape into the host.
    local function guarded_apply(chain, txs, h)
      local ok, rs = pcall(apply, chain, txs, h)
      assert.is_true(ok, "a kill escaped the sandbox into the host: " .. tostring(rs))
      return rs
    end

    local function limit_blocks()
      local s = signer()
      return {
        { s.deploy("dave", "hog", SOURCES.hog) },
        {
          s.tx("eve", "hog", "fill", { 40 }),                          -- over the cap
          s.tx("bob", "hog", "fill", { 30 }),                          -- close to it
          s.tx("carol", "hog", "spin", {}, { max_fee = 200000 }),      -- out of gas
          s.tx("alice", "hog", "fill", { 1 }),
        },
      }
    end

    it("stop a call over the memory cap and one out of gas at the same point on both chains", function()
      local lb = limit_blocks()
      local a, b = testing.chain(), testing.chain()
      guarded_apply(a, lb[1], 1)
      noise(b, 4)
      guarded_apply(b, lb[1], 1)
      local ra = guarded_apply(a, lb[2], 2)
      noise(a, 7)
      local rb = guarded_apply(b, lb[2], 2)
      assert.equal("EMEM", ra[1].code)
      assert.matches("^out of memory in hog%.fill at hog:%d+: the cap is 32 MiB of memory$", ra[1].error)
      assert.is_true(ra[2].ok, tostring(ra[2].error))
      assert.equal("EGAS", ra[3].code)
      assert.equal(200000, ra[3].gas_used)
      assert.matches("^out of gas in hog%.spin at hog:%d+: the limit is 200000 gas$", ra[3].error)
      assert.is_true(ra[4].ok, tostring(ra[4].error))
      assert.equal(a:root(), b:root())
      assert_same_receipts(ra, rb, "block 2")
    end)
  end)
end)
