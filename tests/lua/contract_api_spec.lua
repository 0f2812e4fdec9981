-- tests/lua/contract_api_spec.lua -- the contract API of DESIGN ("Contract
-- API"), each behaviour through real signed transactions and queries.
-- Contracts: tests/lua/contracts/probe.lua, deployed as p1 and p2, and small
-- inline ones.

local testing = require "lunet.testing"
local core = require "lunet.core"

local PROBE = "tests/lua/contracts/probe.lua"

local function assert_ok(r)
  assert.is_true(r.included, "refused: " .. tostring(r.error))
  assert.is_true(r.ok, "failed: " .. tostring(r.error))
  return r.result
end

-- A failed call: included, not ok, the text in r.error, the code, no events.
local function assert_failed(r, text, code)
  assert.is_true(r.included, "refused: " .. tostring(r.error))
  assert.is_false(r.ok, "succeeded; expected: " .. text)
  assert.is_truthy(tostring(r.error):find(text, 1, true),
                   "error '" .. tostring(r.error) .. "' does not say '" .. text .. "'")
  if code then assert.equal(code, r.code, "code of: " .. tostring(r.error)) end
  assert.same({}, r.events)
end

local function query_error(chain, ...)
  local ok, err, _, code = chain:try_query(...)
  assert.is_false(ok, "the query succeeded")
  return err, code
end

local function probes()
  local chain = testing.chain()
  assert_ok(chain:deploy("alice", "p1", PROBE))
  assert_ok(chain:deploy("alice", "p2", PROBE))
  return chain
end

describe("storage", function()
  local chain
  before_each(function() chain = probes() end)

  local function roundtrip(v)
    assert_ok(chain:send("bob", "p1", "set", "k", v))
    return chain:query("p1", "get", "k")
  end

  it("returns nil for a key never set", function()
    assert.is_nil(chain:query("p1", "get", "never"))
  end)

  it("keeps strings, including empty ones and bytes that are not UTF-8", function()
    for _, s in ipairs { "hello", "", "\0\255\254 bytes", string.rep("z", 5000) } do
      assert.equal(s, roundtrip(s))
    end
  end)

  it("keeps integers up to the safe range, negative ones and zero", function()
    for _, n in ipairs { 0, 1, -1, 127, 128, -33, 65536, 2 ^ 32, -(2 ^ 40), 2 ^ 53 - 1, -(2 ^ 53 - 1) } do
      assert.equal(n, roundtrip(n))
    end
  end)

  it("keeps true and false, and false is not a delete", function()
    assert.equal(true, roundtrip(true))
    assert.equal(false, roundtrip(false))
  end)

  it("keeps nested tables of maps and arrays", function()
    local v = { name = "x", list = { 1, 2, { deep = { true, "s" } } }, n = -5, flag = false }
    assert.same(v, roundtrip(v))
  end)

  it("gives an empty table back for an empty table", function()
    assert.same({}, roundtrip({}))
  end)

  it("keeps values across blocks", function()
    assert_ok(chain:send("bob", "p1", "set", "k", "v"))
    chain:advance(5)
    assert.equal("v", chain:query("p1", "get", "k"))
  end)

  it("overwrites a value with a value of another type", function()
    roundtrip({ 1, 2 })
    assert.equal("now a string", roundtrip("now a string"))
  end)

  it("deletes a key with storage.delete", function()
    roundtrip("v")
    assert_ok(chain:send("bob", "p1", "delete", "k"))
    assert.is_nil(chain:query("p1", "get", "k"))
  end)

  it("deletes a key with storage.set(key, nil)", function()
    roundtrip("v")
    assert_ok(chain:deploy_source("alice", "nil.set", [[
      return { go = function() storage.set("k", 1) storage.set("k", nil) return storage.get("k") end }]]))
    local r = chain:send("bob", "nil.set", "go")
    assert.is_nil(assert_ok(r))
  end)

  it("takes a delete of a key never set as a no-op", function()
    assert_ok(chain:send("bob", "p1", "delete", "never"))
  end)

  it("keeps each contract's storage apart", function()
    assert_ok(chain:send("bob", "p1", "set", "k", "one"))
    assert_ok(chain:send("bob", "p2", "set", "k", "two"))
    assert.equal("one", chain:query("p1", "get", "k"))
    assert.equal("two", chain:query("p2", "get", "k"))
  end)

  it("hands out copies: changing a table read from storage changes nothing stored", function()
    assert_ok(chain:deploy_source("alice", "copy", [[
      return { go = function()
        storage.set("t", { n = 1 })
        local t = storage.get("t")
        t.n = 2
        return storage.get("t").n
      end }]]))
    assert.equal(1, assert_ok(chain:send("bob", "copy", "go")))
  end)

  it("refuses a float with a clear error: storage.set(\"x\", 0.5)", function()
    assert_ok(chain:deploy_source("alice", "floats", [[
      return {
        half = function() storage.set("x", 0.5) end,
        nested = function() storage.set("x", { a = { 1, 2.25 } }) end,
        inf = function() storage.set("x", math.huge) end,
        nan = function() storage.set("x", 0 / 0) end,
        get = function() return storage.get("x") end,
      }]]))
    local r = chain:send("bob", "floats", "half")
    assert_failed(r, "storage.set: floats are not allowed", "EFLOAT")
    assert.matches("^floats:%d+: ", r.error)       -- where in the contract
    assert_failed(chain:send("bob", "floats", "nested"), "storage.set: floats are not allowed", "EFLOAT")
    assert_failed(chain:send("bob", "floats", "inf"), "storage.set: floats are not allowed", "EFLOAT")
    assert_failed(chain:send("bob", "floats", "nan"), "storage.set: floats are not allowed", "EFLOAT")
    assert.is_nil(chain:query("floats", "get"))
  end)

  it("refuses integers beyond 2^53-1, functions and tables with mixed keys", function()
    assert_ok(chain:deploy_source("alice", "odd", [[
      return {
        big = function() storage.set("x", 2 ^ 53) end,
        fn = function() storage.set("x", print or function() end) end,
        mixed = function() storage.set("x", { 1, 2, k = 3 }) end,
      }]]))
    assert_failed(chain:send("bob", "odd", "big"), "storage.set: integer out of the safe range", "ERANGE")
    assert_failed(chain:send("bob", "odd", "fn"), "storage.set: value of a type that cannot be encoded", "ETYPE")
    assert_failed(chain:send("bob", "odd", "mixed"), "storage.set: map keys must be strings", "EKEYTYPE")
  end)

  it("refuses keys that are not strings of 1-242 bytes", function()
    assert_ok(chain:deploy_source("alice", "keys", [[
      return { set = function(k) storage.set(k, 1) end, num = function() storage.set(7, 1) end }]]))
    local text = "storage key must be a string of 1-242 bytes"
    assert_failed(chain:send("bob", "keys", "set", ""), text, "EINVAL")
    assert_failed(chain:send("bob", "keys", "set", string.rep("k", 243)), text, "EINVAL")
    assert_failed(chain:send("bob", "keys", "num"), text, "EINVAL")
    assert_ok(chain:send("bob", "keys", "set", string.rep("k", 242)))
    -- the longest key fits under the longest contract name too
    assert_ok(chain:deploy_source("alice", "twelve.chars", [[
      return { set = function(k) storage.set(k, 1) return storage.get(k) end }]]))
    assert.equal(1, assert_ok(chain:send("bob", "twelve.chars", "set", string.rep("k", 242))))
  end)

  it("reverts every write of a failed transaction", function()
    assert_failed(chain:send("bob", "p1", "write_then_fail", "k", "v", "boom"), "boom")
    assert.is_nil(chain:query("p1", "get", "k"))
  end)
end)

describe("the encoding boundary", function()
  local chain
  before_each(function()
    chain = testing.chain()
    assert_ok(chain:deploy_source("alice", "fl", [[
      return {
        emit_float = function() emit("e", { x = 1.5 }) end,
        emit_fn = function() emit("e", { f = function() end }) end,
        result_float = function() storage.set("w", 1) return 2.5 end,
        result_fn = function() return function() end end,
        get = function() return storage.get("w") end,
      }]]))
  end)

  it("refuses a float in an event", function()
    assert_failed(chain:send("bob", "fl", "emit_float"), "emit: floats are not allowed", "EFLOAT")
  end)

  it("refuses a function in an event", function()
    assert_failed(chain:send("bob", "fl", "emit_fn"), "emit: value of a type that cannot be encoded", "ETYPE")
  end)

  it("refuses a float result and reverts the call's writes", function()
    assert_failed(chain:send("bob", "fl", "result_float"), "result: floats are not allowed", "EFLOAT")
    assert.is_nil(chain:query("fl", "get"))
  end)

  it("refuses a function result", function()
    assert_failed(chain:send("bob", "fl", "result_fn"), "result: value of a type that cannot be encoded", "ETYPE")
  end)
end)

describe("the work of crossing", function()
  -- Every encoding is charged for what it walks, visits and writes, also
  -- when it fails; what a receipt keeps is capped and charged like events.
  local chain
  local function gas(method, ...)
    local r = chain:send(method == "big_result" and "bob" or "bob", "enc", method, ...)
    assert.is_true(r.included, tostring(r.error))
    return r.gas_used, r
  end
  before_each(function()
    chain = testing.chain()
    assert_ok(chain:deploy_source("alice", "enc", [[
      local M = {}
      local function with_bad_end(n)
        local t = {}
        for i = 1, n do t[i] = i end
        t[n + 1] = function() end
        return t
      end
      function M.noop() end
      function M.bad_emit(n, k)
        local t = with_bad_end(n)
        for i = 1, k do assert(not pcall(emit, "e", t)) end
      end
      function M.bad_arg(n, k)
        local t = with_bad_end(n)
        for i = 1, k do assert(not pcall(call, "enc", "noop", t)) end
      end
      function M.shared_set(depth)
        local t = {}
        for i = 1, depth do t = { t, t } end
        return (pcall(storage.set, "k", t))
      end
      function M.sparse_emit(n, k)
        local t = {}
        for i = 1, n do t[i] = i end
        for i = 1, n do t[i] = nil end
        for i = 1, k do emit("e", t) end
      end
      function M.store(n)
        local t = {}
        for i = 1, n do t[i] = i % 100 end
        storage.set("big", t)
      end
      function M.load(k)
        for i = 1, k do local t = storage.get("big") end
      end
      local function pieces(n)            -- n bytes as strings of 8000
        local t = {}
        for i = 1, math.floor(n / 8000) do t[i] = string.rep("x", 7999) .. (i % 10) end
        return t
      end
      function M.big_result(n) return pieces(n) end
      function M.big_error(n) error(string.rep("e", n), 0) end
      function M.big_event(n) emit("e", pieces(n)) end
      return M]]))
  end)

  it("charges an encoding that fails for each value it visited", function()
    local base = gas("bad_emit", 20000, 0)
    assert.is_true(gas("bad_emit", 20000, 20) - base >= 20 * 20000 * 4)
  end)

  it("charges a call argument that cannot cross for each value it visited", function()
    local base = gas("bad_arg", 20000, 0)
    assert.is_true(gas("bad_arg", 20000, 20) - base >= 20 * 20000 * 4)
  end)

  it("charges a write refused for its size for the bytes it encoded", function()
    -- { t, t } nested: the table is walked as often as it is reached, until
    -- the 1 MiB a value may take is written.
    local base, r0 = gas("shared_set", 0)
    assert.is_true(r0.result)
    local used, r = gas("shared_set", 22)
    assert.is_false(r.result)
    assert.is_true(used - base >= (1024 * 1024) / 16)
  end)

  it("charges an encoding for every slot of an emptied table", function()
    local base = gas("sparse_emit", 100000, 0)
    assert.is_true(gas("sparse_emit", 100000, 100) - base >= 100 * 100000 / 4)
  end)

  it("charges a read for each value it builds, not only for its bytes", function()
    assert_ok(chain:send("bob", "enc", "store", 100000))
    local base = gas("load", 0)
    assert.is_true(gas("load", 10) - base >= 10 * 100000 * 8)
  end)

  it("caps a transaction's result at 64 KiB and charges each byte like event data", function()
    assert_failed(chain:send("bob", "enc", "big_result", 72000), "result: item too large", "ETOOBIG")
    local small = gas("big_result", 0)
    assert.is_true(gas("big_result", 56000) - small >= 4 * 56000)
    assert.equal(9, #chain:query("enc", "big_result", 72000))   -- a query may answer more
  end)

  it("charges each byte of a receipt's error like event data", function()
    local small = gas("big_error", 10)
    local used, r = gas("big_error", 16000)
    assert.equal(16000, #r.error)
    assert.is_true(used - small >= 4 * (16000 - 10))
  end)

  it("refuses event data over 64 KiB", function()
    assert_failed(chain:send("bob", "enc", "big_event", 72000), "emit: item too large", "ETOOBIG")
    assert_ok(chain:send("bob", "enc", "big_event", 56000))
  end)
end)

describe("loading code", function()
  local small = "local M = {} function M.f() return 1 end return M\n"
  local big = small .. "--" .. string.rep("x", 100000) .. "\n"

  it("charges a call for loading its contract's code, in proportion to its size", function()
    local chain = testing.chain()
    assert_ok(chain:deploy_source("alice", "small", small))
    assert_ok(chain:deploy_source("alice", "big", big))
    local s = chain:send("bob", "small", "f")
    local b = chain:send("bob", "big", "f")
    assert_ok(s)
    assert_ok(b)
    assert.is_true(b.gas_used - s.gas_used >= 100000 / 2)
  end)

  it("charges the load the same whether the block loaded the code before or not", function()
    local chain = testing.chain()
    assert_ok(chain:deploy_source("alice", "big", big))
    chain:advance(1)
    local tx1 = chain:transaction("bob", { { contract = "big", method = "f", args = {} } })
    local tx2 = chain:transaction("carol", { { contract = "big", method = "f", args = {} } })
    local rs = chain:apply({ tx1, tx2 })
    assert_ok(rs[1])
    assert_ok(rs[2])
    -- Both pay the load, the first (which loads) and the second (which
    -- finds the chunk loaded); they differ only by the few strings the
    -- first one made that the second finds made.
    for i = 1, 2 do assert.is_true(rs[i].gas_used >= 100000 / 2, "tx " .. i) end
    assert.is_true(math.abs(rs[1].gas_used - rs[2].gas_used) < 100)
    -- once per transaction: a second call of the same contract loads nothing more
    local probe = "local M = {} function M.twice() call('big', 'f') call('big', 'f') end " ..
                  "function M.once() call('big', 'f') end return M"
    assert_ok(chain:deploy_source("alice", "twice", probe))
    assert_ok(chain:send("bob", "twice", "once"))
    local once = chain:send("bob", "twice", "once")
    local two = chain:send("bob", "twice", "twice")
    assert.is_true(two.gas_used - once.gas_used < 100000 / 2)
  end)
end)

describe("msg", function()
  local chain
  before_each(function() chain = probes() end)

  it("names the signer as sender and origin in a direct call", function()
    assert.same({ sender = "bob", origin = "bob", contract = "p1" },
                assert_ok(chain:send("bob", "p1", "whoami")))
  end)

  it("names the calling contract as sender and keeps the origin in an inter-contract call", function()
    assert.same({ sender = "p1", origin = "carol", contract = "p2" },
                assert_ok(chain:send("carol", "p1", "call", "p2", "whoami")))
  end)

  it("names the nearest caller as sender two calls deep", function()
    assert.same({ sender = "p2", origin = "dave", contract = "p1" },
                assert_ok(chain:send("dave", "p1", "call", "p2", "call", "p1", "whoami")))
  end)

  it("is empty in a query, which no account signs", function()
    assert.same({ sender = "", origin = "", contract = "p1" }, chain:query("p1", "whoami"))
  end)
end)

describe("block", function()
  local chain
  before_each(function() chain = probes() end)

  it("gives a transaction its block's height and time, and the parent's hash", function()
    local parent, height, time = chain:head(), chain:height(), chain:time()
    local b = assert_ok(chain:send("bob", "p1", "block"))
    assert.same({ height = height + 1, time = time + 1, hash = parent }, b)
    assert.equal(64, #b.hash)
  end)

  it("moves height and time on with chain:advance(blocks, seconds)", function()
    local before = assert_ok(chain:send("bob", "p1", "block"))
    chain:advance(10, 600)
    local after = assert_ok(chain:send("bob", "p1", "block"))
    assert.equal(before.height + 11, after.height)
    assert.equal(before.time + 600 + 1, after.time)
    assert.are_not.equal(before.hash, after.hash)
  end)

  it("moves time one second per block when advance is given no seconds", function()
    local h, t = chain:height(), chain:time()
    chain:advance(4)
    assert.equal(h + 4, chain:height())
    assert.equal(t + 4, chain:time())
  end)

  it("can advance blocks without moving time", function()
    local t = chain:time()
    chain:advance(3, 0)
    local b = assert_ok(chain:send("bob", "p1", "block"))
    assert.equal(t + 1, b.time)
  end)

  it("shows a query the head block as the head's transactions saw it", function()
    local seen = assert_ok(chain:send("bob", "p1", "block"))
    assert.same(seen, chain:query("p1", "block"))
  end)

  it("cannot be changed by a contract", function()
    assert_ok(chain:deploy_source("alice", "bw", [[
      return { go = function() block.height = 1 end }]]))
    assert_failed(chain:send("bob", "bw", "go"), "attempt to modify a read-only table")
  end)
end)

describe("the shared API tables", function()
  local chain
  before_each(function()
    chain = testing.chain()
    assert_ok(chain:deploy_source("alice", "evil", [[
      return { go = function()
        local tried = {}
        local function try(name, f) tried[#tried + 1] = name .. "=" .. tostring(pcall(f)) end
        try("storage.get", function() storage.get = function() return 10 ^ 9 end end)
        try("crypto.verify", function() crypto.verify = function() return true end end)
        try("string.rep", function() string.rep = function() return "hijacked" end end)
        try("math.max", function() math.max = function() return -1 end end)
        try("block.height", function() block.height = -1 end)
        return tried
      end }]]))
    assert_ok(chain:deploy_source("alice", "victim", [[
      return { go = function()
        return { get = storage.get("missing") == nil, verify = crypto.verify("k", "s", "m"),
                 rep = string.rep("a", 2), srep = ("a"):rep(2), max = math.max(1, 2),
                 height = block.height }
      end }]]))
  end)

  it("refuse every change a contract tries", function()
    local tried = assert_ok(chain:send("bob", "evil", "go"))
    assert.same({ "storage.get=false", "crypto.verify=false", "string.rep=false",
                  "math.max=false", "block.height=false" }, tried)
  end)

  it("stay as they were for the next transaction in the same block", function()
    local rs = chain:apply {
      (chain:transaction("bob", { { contract = "evil", method = "go", args = {} } })),
      (chain:transaction("carol", { { contract = "victim", method = "go", args = {} } })),
    }
    assert_ok(rs[1])
    assert.same({ get = true, verify = false, rep = "aa", srep = "aa", max = 2,
                  height = chain:height() }, assert_ok(rs[2]))
  end)
end)

describe("emit", function()
  local chain
  before_each(function() chain = probes() end)

  it("puts events in the receipt in the order emitted", function()
    local r = chain:send("bob", "p1", "emit_many", 3)
    assert_ok(r)
    assert.same({
      { contract = "p1", name = "e1", data = { i = 1 } },
      { contract = "p1", name = "e2", data = { i = 2 } },
      { contract = "p1", name = "e3", data = { i = 3 } },
    }, r.events)
  end)

  it("keeps data of every encodable kind", function()
    local data = { s = "x", n = -7, b = false, list = { 1, { k = "v" } } }
    local r = chain:send("bob", "p1", "emit", "kinds", data)
    assert.same(data, r.events[1].data)
  end)

  it("interleaves a callee's events with the caller's, each named by its contract", function()
    assert_ok(chain:deploy_source("alice", "order", [[
      return { go = function()
        emit("a", {})
        call("p2", "emit", "b", { from = "p2" })
        emit("c", {})
      end }]]))
    local r = chain:send("bob", "order", "go")
    assert_ok(r)
    local seen = {}
    for i, e in ipairs(r.events) do seen[i] = e.contract .. ":" .. e.name end
    assert.same({ "order:a", "p2:b", "order:c" }, seen)
  end)

  it("leaves no events in the receipt of a failed transaction", function()
    assert_failed(chain:send("bob", "p1", "write_then_fail", "k", 1, "boom"), "boom")
  end)

  it("refuses an event name that is not a string of 1-64 bytes", function()
    local text = "emit: event name must be a string of 1-64 bytes"
    assert_failed(chain:send("bob", "p1", "emit", "", {}), text, "EINVAL")
    assert_failed(chain:send("bob", "p1", "emit", string.rep("n", 65), {}), text, "EINVAL")
    assert_failed(chain:send("bob", "p1", "emit", 5, {}), text, "EINVAL")
  end)
end)

describe("call", function()
  local chain
  before_each(function() chain = probes() end)

  it("returns the callee's result to the caller", function()
    assert_ok(chain:send("bob", "p2", "set", "k", { 1, "two", { three = 3 } }))
    assert.same({ 1, "two", { three = 3 } }, assert_ok(chain:send("bob", "p1", "call", "p2", "get", "k")))
  end)

  it("passes copies: a callee that changes its argument leaves the caller's table", function()
    assert_ok(chain:deploy_source("alice", "mut", [[
      return {
        poke = function(t) t.n = 99 t.extra = true return t end,
        go = function()
          local mine = { n = 1 }
          local back = call("mut", "poke", mine)
          return { mine = mine.n, back = back.n, same = rawequal(mine, back) }
        end,
      }]]))
    assert.same({ mine = 1, back = 99, same = false }, assert_ok(chain:send("bob", "mut", "go")))
  end)

  it("reverts a failing callee's writes and events while the caller catches and goes on", function()
    local r = chain:send("bob", "p1", "try_call", "p2", "write_then_fail", "k", "v", "callee broke")
    local res = assert_ok(r)
    assert.is_false(res.ok)
    assert.matches("callee broke", res.err)
    assert.is_nil(chain:query("p2", "get", "k"))         -- the callee's write is gone
    assert.is_true(chain:query("p1", "get", "before"))   -- the caller's writes stay
    assert.is_true(chain:query("p1", "get", "after"))
    assert.same({ { contract = "p1", name = "caught", data = { ok = false } } }, r.events)
  end)

  it("keeps a succeeding callee's writes and events when the caller catches nothing", function()
    local r = chain:send("bob", "p1", "try_call", "p2", "emit", "hello", { x = 1 })
    assert.is_true(assert_ok(r).ok)
    assert.same({ "hello", "caught" }, { r.events[1].name, r.events[2].name })
    assert.equal("p2", r.events[1].contract)
  end)

  it("reverts a nested callee's writes with its caller's when the middle one fails", function()
    assert_ok(chain:deploy_source("alice", "mid", [[
      return { go = function() call("p2", "set", "deep", 1) error("middle broke") end }]]))
    local res = assert_ok(chain:send("bob", "p1", "try_call", "mid", "go"))
    assert.is_false(res.ok)
    assert.matches("middle broke", res.err)
    assert.is_nil(chain:query("p2", "get", "deep"))
  end)

  it("fails the transaction with the callee's error when the caller does not catch it", function()
    local r = chain:send("bob", "p1", "write_then_call", "p2", "write_then_fail", "k", "v", "uncaught")
    assert_failed(r, "uncaught", "ECALL")
    assert.is_nil(chain:query("p1", "get", "mine"))
    assert.is_nil(chain:query("p2", "get", "k"))
  end)

  it("keeps the callee's error code when it propagates", function()
    local r = chain:send("bob", "p1", "call", "p2", "auth", "alice")
    assert_failed(r, "missing authority of alice@active", "EAUTH")
  end)

  it("allows eight frames and refuses a ninth", function()
    assert.equal(7, assert_ok(chain:send("bob", "p1", "depth", 7)))
    assert_failed(chain:send("bob", "p1", "depth", 8), "call depth exceeded (max 8)", "EDEPTHCALL")
  end)

  it("lets a caller catch the depth error and go on", function()
    local res = assert_ok(chain:send("bob", "p1", "try_call", "p1", "depth", 7))
    assert.is_false(res.ok)
    assert.matches("call depth exceeded", res.err)
  end)

  it("fails on an account that holds no contract", function()
    assert_failed(chain:send("bob", "p1", "call", "carol", "anything"), "account carol has no contract", "ENOCODE")
    assert_failed(chain:send("bob", "p1", "call", "nobody", "anything"), "account nobody has no contract", "ENOCODE")
  end)

  it("refuses a contract name that is not an account name", function()
    assert_failed(chain:send("bob", "p1", "call", "Not.A.Name", "x"), "call: contract must be an account name", "EBADNAME")
  end)

  it("refuses arguments that cannot cross", function()
    assert_ok(chain:deploy_source("alice", "fa", [[
      return { go = function() return call("p2", "set", "k", 0.5) end }]]))
    assert_failed(chain:send("bob", "fa", "go"), "call argument: floats are not allowed", "EFLOAT")
  end)

  it("refuses a result that cannot cross and reverts the callee's writes", function()
    assert_ok(chain:deploy_source("alice", "fr", [[
      return {
        half = function() storage.set("w", 1) return 0.5 end,
        go = function() local ok, e = pcall(call, "fr", "half") return { ok = ok, e = e } end,
        get = function() return storage.get("w") end,
      }]]))
    local res = assert_ok(chain:send("bob", "fr", "go"))
    assert.is_false(res.ok)
    assert.matches("call result: floats are not allowed", res.e)
    assert.is_nil(chain:query("fr", "get"))
  end)
end)

describe("private methods", function()
  local chain
  before_each(function() chain = probes() end)

  it("cannot be called by a transaction", function()
    assert_failed(chain:send("bob", "p1", "_secret"), "method p1._secret is private", "EPRIVATE")
  end)

  it("cannot be called by a query", function()
    local err, code = query_error(chain, "p1", "_secret")
    assert.equal("EPRIVATE", code)
    assert.matches("method p1._secret is private", err, 1, true)
  end)

  it("cannot be called by another contract", function()
    assert_failed(chain:send("bob", "p2", "call", "p1", "_secret"), "method p1._secret is private", "EPRIVATE")
  end)

  it("cannot be called by the contract itself through call", function()
    assert_failed(chain:send("bob", "p1", "call", "p1", "_secret"), "is private", "EPRIVATE")
  end)
end)

describe("unknown methods", function()
  local chain
  before_each(function() chain = probes() end)

  it("fail a transaction with the contract and method named", function()
    assert_failed(chain:send("bob", "p1", "nope"), "contract p1 has no method nope", "ENOMETHOD")
  end)

  it("fail a query", function()
    local err, code = query_error(chain, "p1", "nope")
    assert.equal("ENOMETHOD", code)
    assert.matches("contract p1 has no method nope", err, 1, true)
  end)

  it("fail a call", function()
    assert_failed(chain:send("bob", "p1", "call", "p2", "nope"), "contract p2 has no method nope", "ENOMETHOD")
  end)

  it("include fields that are not functions", function()
    assert_ok(chain:deploy_source("alice", "field", [[ return { VERSION = "1" } ]]))
    assert_failed(chain:send("bob", "field", "VERSION"), "contract field has no method VERSION", "ENOMETHOD")
  end)
end)

describe("require_auth", function()
  local chain
  before_each(function() chain = probes() end)

  it("passes for the account that signed", function()
    assert.is_true(assert_ok(chain:send("bob", "p1", "auth", "bob")))
    assert.equal("bob", assert_ok(chain:send("bob", "p1", "auth_sender")))
  end)

  it("passes for the signer's owner permission when one key holds both", function()
    assert.is_true(assert_ok(chain:send("bob", "p1", "auth", "bob", "owner")))
  end)

  it("fails for another account", function()
    assert_failed(chain:send("bob", "p1", "auth", "alice"), "missing authority of alice@active", "EAUTH")
  end)

  it("lets a calling contract authorize itself as msg.sender", function()
    assert.equal("p1", assert_ok(chain:send("bob", "p1", "call", "p2", "auth_sender")))
  end)

  it("does not lend a calling contract's authority to a third account", function()
    assert_failed(chain:send("bob", "p1", "call", "p2", "auth", "carol"), "missing authority of carol@active", "EAUTH")
  end)

  it("does not give a calling contract its owner permission", function()
    assert_failed(chain:send("bob", "p1", "call", "p2", "auth", "p1", "owner"), "missing authority of p1@owner", "EAUTH")
  end)

  it("fails for an account that does not exist", function()
    assert_failed(chain:send("bob", "p1", "auth", "ghost"), "missing authority of ghost@active: no such account", "ENOACCOUNT")
  end)

  it("refuses a permission other than active or owner", function()
    assert_failed(chain:send("bob", "p1", "auth", "bob", "admin"), "require_auth: permission must be active or owner", "EINVAL")
  end)

  it("refuses a name that is not an account name", function()
    assert_failed(chain:send("bob", "p1", "auth", "NOT"), "require_auth: account must be an account name", "EBADNAME")
  end)

  it("fails in a query, which carries no signatures", function()
    local err, code = query_error(chain, "p1", "auth", "alice")
    assert.equal("EAUTH", code)
    assert.matches("missing authority of alice@active", err, 1, true)
  end)
end)

describe("crypto", function()
  local chain
  before_each(function() chain = probes() end)

  it("hashes to 32 bytes, the same as core.hash", function()
    for _, s in ipairs { "", "abc", "\0\1\2\255", string.rep("x", 10000) } do
      local h = chain:query("p1", "hash", s)
      assert.equal(32, #h)
      assert.equal(core.hash(s), h)
    end
  end)

  it("gives different hashes for different input", function()
    assert.are_not.equal(chain:query("p1", "hash", "a"), chain:query("p1", "hash", "b"))
  end)

  describe("verify", function()
    local pk, sk = testing.keypair("alice")
    local m = "pay bob 10"
    local sig = core.sign(sk, m)

    local function flip(s, i)
      return s:sub(1, i - 1) .. string.char(bit.bxor(s:byte(i), 1)) .. s:sub(i + 1)
    end

    it("is true for a real signature made with core keys", function()
      assert.is_true(core.verify(pk, sig, m))
      assert.is_true(chain:query("p1", "verify", pk, sig, m))
    end)

    it("is false when one bit of the signature is flipped", function()
      assert.is_false(chain:query("p1", "verify", pk, flip(sig, 1), m))
      assert.is_false(chain:query("p1", "verify", pk, flip(sig, 64), m))
    end)

    it("is false when one bit of the message is flipped", function()
      assert.is_false(chain:query("p1", "verify", pk, sig, flip(m, 3)))
    end)

    it("is false for another account's key", function()
      local bob = testing.keypair("bob")
      assert.is_false(chain:query("p1", "verify", bob, sig, m))
    end)

    it("accepts the key and signature in hex", function()
      assert.is_true(chain:query("p1", "verify", core.hex(pk), core.hex(sig), m))
    end)

    it("is false, not an error, for a key or signature of the wrong length", function()
      assert.is_false(chain:query("p1", "verify", pk:sub(2), sig, m))
      assert.is_false(chain:query("p1", "verify", pk, sig .. "x", m))
    end)

    it("works inside a transaction too", function()
      assert.is_true(assert_ok(chain:send("bob", "p1", "verify", pk, sig, m)))
    end)
  end)
end)

describe("queries", function()
  local chain
  before_each(function() chain = probes() end)

  it("discard their writes: the state root is unchanged", function()
    local root = chain:root()
    assert.is_true(chain:query("p1", "set", "k", "from a query"))
    assert.equal(root, chain:root())
    assert.is_nil(chain:query("p1", "get", "k"))
  end)

  it("discard the writes of the contracts they call", function()
    local root = chain:root()
    chain:query("p1", "call", "p2", "set", "k", 1)
    assert.equal(root, chain:root())
    assert.is_nil(chain:query("p2", "get", "k"))
  end)

  it("use no nonce and charge no fee", function()
    local before = chain:account("bob")
    chain:query("p1", "whoami")
    assert.same(before, chain:account("bob"))
  end)

  it("read what transactions wrote", function()
    assert_ok(chain:send("bob", "p1", "set", "k", { 4, 5 }))
    assert.same({ 4, 5 }, chain:query("p1", "get", "k"))
  end)

  it("raise the contract's error text", function()
    assert.error_matches(function() chain:query("p1", "write_then_fail", "k", 1, "query broke") end,
                         "query broke")
  end)

  it("refuse the system contract", function()
    local err, code = query_error(chain, "sys", "transfer", "bob", 1)
    assert.equal("EBADNAME", code)
    assert.matches("contract must be an account name", err, 1, true)
  end)
end)

describe("errors", function()
  local chain
  before_each(function()
    chain = testing.chain()
    assert_ok(chain:deploy_source("alice", "err", [[
      return {
        text = function() error("the reason, with numbers: 3 < 10") end,
        bare = function() error("no position", 0) end,
        tbl = function() error({ code = 1 }) end,
        assert_false = function() assert(false, "assertion text") end,
        runtime = function() local t = nil return t.x end,
      }]]))
  end)

  it("carry the message text in r.error with the contract position", function()
    local r = chain:send("bob", "err", "text")
    assert_failed(r, "the reason, with numbers: 3 < 10", "ECALL")
    assert.equal("err:2: the reason, with numbers: 3 < 10", r.error)
  end)

  it("carry a message raised without position as it is", function()
    assert.equal("no position", chain:send("bob", "err", "bare").error)
  end)

  it("name the type of an error value that is not a string", function()
    assert_failed(chain:send("bob", "err", "tbl"), "(error object is a table value)", "ECALL")
  end)

  it("carry assert's message", function()
    assert_failed(chain:send("bob", "err", "assert_false"), "assertion text", "ECALL")
  end)

  it("carry runtime errors of the VM", function()
    assert_failed(chain:send("bob", "err", "runtime"), "attempt to index local 't' (a nil value)", "ECALL")
  end)
end)

describe("deploy", function()
  local chain
  before_each(function() chain = testing.chain() end)

  it("creates the contract account held by the deployer and returns its name", function()
    local r = chain:deploy("alice", "p1", PROBE)
    assert.equal("p1", assert_ok(r))
    assert.is_table(chain:account("p1"))
    assert.equal("p1", chain:query("p1", "whoami").contract)
  end)

  it("fails on a syntax error with ECODE and the compiler's message", function()
    local r = chain:deploy_source("alice", "broken", "return { f = function() end")
    assert_failed(r, "deploy: broken:1: ", "ECODE")
    assert.matches("expected near '<eof>'", r.error, 1, true)
    assert.is_nil(chain:account("broken"))
  end)

  it("fails for a contract that does not return a table", function()
    for _, src in ipairs { "return 5", "local x = 1", "return 'methods'" } do
      local c = testing.chain()
      local r = c:deploy_source("alice", "notable", src)
      assert_failed(r, "contract notable must return a table of methods", "ECODE")
      assert.is_nil(c:account("notable"))
    end
  end)

  it("refuses a re-deploy whose code does not return a table, keeping the old code", function()
    assert_ok(chain:deploy("alice", "p1", PROBE))
    assert_failed(chain:deploy_source("alice", "p1", "return nil"), "must return a table of methods", "ECODE")
    assert.equal("p1", chain:query("p1", "whoami").contract)
  end)

  it("fails for code whose top level raises", function()
    assert_failed(chain:deploy_source("alice", "raises", "error('top level')"), "top level", "ECALL")
    assert.is_nil(chain:account("raises"))
  end)

  it("refuses bytecode", function()
    local r = chain:deploy_source("alice", "bin", "\27LJ\2\0binary")
    assert_failed(r, "deploy: source must be Lua text, not bytecode", "ECODE")
    assert.is_nil(chain:account("bin"))
  end)

  it("passes its extra arguments to init and runs init as the contract, sent by the deployer", function()
    assert_ok(chain:deploy_source("carol", "in", [[
      return {
        init = function(a, b) storage.set("init", { a = a, b = b, sender = msg.sender, contract = msg.contract }) end,
        get = function() return storage.get("init") end,
      }]], "x", 5))
    assert.same({ a = "x", b = 5, sender = "carol", contract = "in" }, chain:query("in", "get"))
  end)

  it("reverts everything when init fails: no account, no code, no storage", function()
    local r = chain:deploy_source("alice", "badinit", [[
      return { init = function() storage.set("k", 1) error("init refused") end }]])
    assert_failed(r, "init refused", "ECALL")
    assert.is_nil(chain:account("badinit"))
    assert.is_nil(chain:get("cbadinit"))
  end)

  it("leaves no runnable code behind a failed deploy, even later in the same block", function()
    local pk = chain:account("alice").nonce
    local txs = {
      (chain:transaction("alice", { { contract = "sys", method = "deploy", args = { "ghost", [[
        return { init = function() error("no") end, m = function() return "ghost ran" end }]] } } },
        { nonce = pk })),
      (chain:transaction("bob", { { contract = "ghost", method = "m", args = {} } })),
    }
    local rs = chain:apply(txs)
    assert.is_false(rs[1].ok)
    assert_failed(rs[2], "account ghost has no contract", "ENOCODE")
  end)

  it("runs the old code for the rest of the block after a reverted upgrade", function()
    assert_ok(chain:deploy_source("alice", "up", [[ return { v = function() return 1 end } ]]))
    local txs = {
      (chain:transaction("alice", {
        { contract = "sys", method = "deploy", args = { "up", "return { v = function() return 2 end }" } },
        { contract = "up", method = "v", args = {} },
        { contract = "up", method = "nope", args = {} },   -- fails: the upgrade reverts
      })),
      (chain:transaction("bob", { { contract = "up", method = "v", args = {} } })),
    }
    local rs = chain:apply(txs)
    assert.is_false(rs[1].ok)
    assert.equal(1, assert_ok(rs[2]))
    assert.equal(1, chain:query("up", "v"))
  end)

  it("refuses the name sys", function()
    assert_failed(chain:deploy_source("alice", "sys", "return {}"), "deploy: sys is reserved", "EAUTH")
  end)
end)

describe("metering", function()
  local chain
  before_each(function()
    chain = testing.chain()
    assert_ok(chain:deploy_source("alice", "spin", [[
      return {
        forever = function() storage.set("w", 1) while true do end end,
        caught = function()
          storage.set("w", 1)
          local ok = pcall(function() while true do end end)
          storage.set("escaped", true)
          return ok
        end,
        len = function(s) return #s end,
        late = function() local x = {} for i = 1, 40 do x[i] = i end error("too late") end,
        get = function(k) return storage.get(k) end,
      }]]))
  end)

  it("ends a call that runs out of gas with EGAS and reverts its writes", function()
    local r = chain:send_with({ max_fee = 100000 }, "bob", "spin", "forever")
    assert_failed(r, "out of gas", "EGAS")
    assert.equal(100000, r.gas_used)
    assert.is_nil(chain:query("spin", "get", "w"))
  end)

  it("does not let pcall catch running out of gas", function()
    local r = chain:send_with({ max_fee = 100000 }, "bob", "spin", "caught")
    assert_failed(r, "out of gas", "EGAS")
    assert.is_nil(chain:query("spin", "get", "escaped"))
  end)

  it("reports EGAS for a call that raised only after its gas ran out", function()
    local full = chain:send("bob", "spin", "late")
    assert_failed(full, "too late", "ECALL")
    local r = chain:send_with({ max_fee = full.gas_used - 3 }, "bob", "spin", "late")
    assert_failed(r, "out of gas", "EGAS")
    assert.equal(full.gas_used - 3, r.gas_used)
  end)

  it("ends a call whose arguments alone exceed its gas, and the chain goes on", function()
    local ok, r = pcall(chain.send_with, chain, { max_fee = 10 }, "bob", "spin", "len", string.rep("x", 3000))
    assert.is_true(ok, "the kill escaped the sandbox into the host: " .. tostring(r))
    assert_failed(r, "out of", nil)
    assert.equal(3000, assert_ok(chain:send("bob", "spin", "len", string.rep("x", 3000))))
  end)
end)
