-- tests/lua/sandbox_spec.lua -- the contract sandbox under hostile code, run
-- through real transactions (lunet test tests/lua/sandbox_spec.lua).
--
-- Every hostile call first writes storage, then misbehaves. "Refused, state
-- unchanged except the fee" is checked against a twin chain that runs the
-- same history but, in place of the hostile call, a harmless one that burns
-- exactly the same gas: the two state roots must be equal.

local testing = require "lunet.testing"

-- A contract whose run() writes `touched` and then does `body`; burn(n)
-- spends exactly n more instructions than burn(0) and writes nothing.
local function probe_src(body)
  return "local M = {}\n" ..
         "function M.run(...)\n  storage.set('touched', true)\n" .. body .. "\nend\n" ..
         "function M.touched() return storage.get('touched') end\n" ..
         "function M.burn(n) for i = 1, n do end end\n" ..
         "return M\n"
end

local function chain_with(src)
  local chain = testing.chain()
  local r = chain:deploy_source("alice", "probe", src)
  assert(r.ok, "deploy failed: " .. tostring(r.error))
  return chain
end

-- The state root of a twin chain where alice paid `gas` for a call that did
-- nothing else.
local function root_with_only_fee(src, gas)
  local c = chain_with(src):send("alice", "probe", "burn", 0).gas_used
  local twin = chain_with(src)
  local r = twin:send("alice", "probe", "burn", gas - c)
  assert.equal(gas, r.gas_used)
  return twin:root()
end

-- Runs body as a hostile call on a fresh chain; checks it was refused with
-- `code` and that only the fee changed the state. Returns the receipt.
local function refused(body, code)
  local src = probe_src(body)
  local chain = chain_with(src)
  local before = chain:balance("alice")
  local r = chain:send("alice", "probe", "run")
  assert.is_true(r.included)
  assert.is_false(r.ok, "the hostile call succeeded")
  assert.equal(code or "ECALL", r.code, r.error)
  assert.is_nil(chain:query("probe", "touched"))
  assert.equal(r.gas_used, r.fee)
  assert.equal(before - r.fee, chain:balance("alice"))
  assert.equal(root_with_only_fee(src, r.gas_used), chain:root())
  -- and the chain goes on
  local after = chain:send("alice", "sys", "transfer", "bob", 1)
  assert.is_true(after.ok, after.error)
  return r
end

local function contract(body)
  return "local M = {}\n" .. body .. "\nreturn M\n"
end

describe("sandbox escape routes", function()
  local absent = {
    { "load", "return load(function() return nil end)" },
    { "loadstring", "return loadstring('return 1')()" },
    { "dofile", "return dofile('/etc/passwd')" },
    { "loadfile", "return loadfile('/etc/passwd')" },
    { "string.dump", "return string.dump(function() end)" },
    { "string.dump through a string value", "return ('x').dump(function() end)" },
    { "getfenv", "return getfenv(1)" },
    { "setfenv", "return setfenv(1, {})" },
    { "debug", "return debug.getregistry()" },
    { "ffi", "return ffi.C" },
    { "jit", "return jit.off()" },
    { "require", "return require('os')" },
    { "package", "return package.loaded" },
    { "package.loadlib", "return package.loadlib('libc.so.6', 'system')" },
    { "newproxy", "return newproxy(true)" },
    { "collectgarbage", "return collectgarbage('count')" },
    { "coroutine", "return coroutine.create(function() end)" },
    { "os", "return os.time()" },
    { "io", "return io.open('/etc/passwd')" },
    { "print", "print('hello')" },
    { "_G", "return _G.string" },
    { "math.random", "return math.random(1, 6)" },
    { "math.randomseed", "return math.randomseed(1)" },
  }
  for _, case in ipairs(absent) do
    it("offers no " .. case[1] .. " and reverts the call but for the fee", function()
      local r = refused(case[2])
      assert.matches("nil value", r.error)
    end)
  end

  it("refuses to deploy a binary chunk, even one made by a real LuaJIT", function()
    local chain = testing.chain()
    local bytecode = string.dump(function() return { run = function() return 1 end } end)
    assert.equal("\27LJ", bytecode:sub(1, 3))
    local r = chain:deploy_source("alice", "probe", bytecode)
    assert.is_false(r.ok)
    assert.equal("ECODE", r.code, r.error)
    assert.is_false(chain:try_query("probe", "run"))
  end)

  local tampering = {
    { "string metatable's __index", "getmetatable('').__index = { upper = function() return 'pwned' end }" },
    { "string table by assignment", "string.upper = function() return 'pwned' end" },
    { "string table by rawset", "rawset(string, 'upper', function() return 'pwned' end)" },
    { "string table by table.insert", "table.insert(string, 'pwned')" },
    { "string table's metatable", "setmetatable(string, { __index = function() return 'pwned' end })" },
    { "math table", "math.floor = function() return 42 end" },
    { "math table by rawset", "rawset(math, 'floor', function() return 42 end)" },
    { "table table", "table.concat = function() return 'pwned' end" },
    { "table table by table.remove", "table.remove(table)" },
    { "storage table", "storage.get = function() return 'pwned' end" },
    { "storage table by rawset", "rawset(storage, 'set', nil)" },
    { "block table", "block.height = 0" },
    { "bit table", "bit.band = nil" },
  }
  for _, case in ipairs(tampering) do
    it("refuses to modify the " .. case[1], function()
      refused(case[2])
    end)
  end

  it("says getmetatable('') is no table", function()
    local chain = chain_with(contract("function M.f() return type(getmetatable('')) end"))
    assert.equal("string", chain:query("probe", "f"))
  end)

  -- Two transactions in one block share a sandbox: the first tries every
  -- way to leave something behind, the second looks for it.
  local poison = contract([=[
function M.poison()
  pcall(function() string.upper = function() return "pwned" end end)
  pcall(rawset, string, "upper", function() return "pwned" end)
  pcall(function() math.floor = function() return 42 end end)
  pcall(rawset, math, "floor", function() return 42 end)
  pcall(function() table.insert(table, "x") end)
  pcall(function() storage.get = function() return "pwned" end end)
  pcall(setmetatable, string, {})
  leak = "leaked"
  pcall(rawset, msg, "sender", "mallory")
  return true
end
function M.check()
  return table.concat({ ("a"):upper(), tostring(math.floor(1.5)), tostring(leak),
                        tostring(#table), tostring(storage.get("nothing")) }, ",")
end]=])

  it("leaves nothing for the next transaction in the same block to see", function()
    local chain = chain_with(poison)
    local tx1 = chain:transaction("alice", { { contract = "probe", method = "poison", args = {} } })
    local tx2 = chain:transaction("bob", { { contract = "probe", method = "check", args = {} } })
    local rs = chain:apply({ tx1, tx2 })
    assert.is_true(rs[1].ok, rs[1].error)
    assert.is_true(rs[2].ok, rs[2].error)
    assert.equal("A,1,nil,0,nil", rs[2].result)
  end)

  it("leaves nothing for the next action of the same transaction to see", function()
    local chain = chain_with(poison)
    local tx = chain:transaction("alice", {
      { contract = "probe", method = "poison", args = {} },
      { contract = "probe", method = "check", args = {} },
    })
    local r = chain:apply({ tx })[1]
    assert.is_true(r.ok, r.error)
    assert.equal("A,1,nil,0,nil", r.result)
  end)

  it("forgets a global set in one call by the next call", function()
    local chain = chain_with(contract([=[
function M.set() counter = (counter or 0) + 1 return counter end
function M.get() return counter == nil end]=]))
    assert.equal(1, chain:send("alice", "probe", "set").result)
    assert.equal(1, chain:send("alice", "probe", "set").result)
    assert.is_true(chain:query("probe", "get"))
  end)

  it("shows no address in tostring, string.format or error objects", function()
    local chain = chain_with(contract([=[
function M.f()
  local ok, e = pcall(error, {})
  local ok2, e2 = pcall(function() local x = nil; return x.y end)
  local ok3, e3 = pcall(string.format, "%p", {})
  return table.concat({ tostring({}), tostring(M.f), tostring(print or tostring),
                        string.format("%s|%s|%q", {}, M.f, "q"), tostring(e), e2, e3 }, " ")
end
function M.boom() error({}) end]=]))
    local s = chain:query("probe", "f")
    assert.is_nil(s:find("0x"), s)
    assert.matches("^table function function table|function|", s)
    local r = chain:send("alice", "probe", "boom")
    assert.equal("ECALL", r.code)
    assert.equal("(error object is a table value)", r.error)
  end)
end)

describe("sandbox gas", function()
  local loop = contract([=[
function M.spin() storage.set("touched", true) while true do end end
function M.spin_pcall()
  storage.set("touched", true)
  for i = 1, 1000 do pcall(function() while true do end end) end
  storage.set("after", true)
end
function M.spin_xpcall()
  storage.set("touched", true)
  xpcall(function() while true do end end, function() while true do end end)
  storage.set("after", true)
end
function M.loop(n) for i = 1, n do end end
function M.touched() return storage.get("touched") or storage.get("after") end]=])

  it("kills an endless loop at the limit max_fee gives, charges it, and goes on", function()
    local chain = chain_with(loop)
    local before = chain:balance("alice")
    local t0 = os.clock()
    local r = chain:send_with({ max_fee = 2000000 }, "alice", "probe", "spin")
    assert.equal("EGAS", r.code)
    assert.equal(2000000, r.gas_used)
    assert.equal(2000000, r.fee)
    assert.equal(before - 2000000, chain:balance("alice"))
    assert.is_nil(chain:query("probe", "touched"))
    assert.is_true(os.clock() - t0 < 5)
    assert.is_true(chain:send("alice", "sys", "transfer", "bob", 5).ok)
    assert.is_true(chain:send("bob", "probe", "loop", 10).ok)
  end)

  it("caps the limit at the per-transaction maximum whatever max_fee says", function()
    local chain = chain_with(loop)
    local r = chain:send_with({ max_fee = 10 ^ 11 }, "alice", "probe", "spin")
    assert.equal("EGAS", r.code)
    assert.equal(50000000, r.gas_used)
  end)

  it("does not let pcall swallow out of gas", function()
    local r = chain_with(loop):send_with({ max_fee = 1000000 }, "alice", "probe", "spin_pcall")
    assert.equal("EGAS", r.code)
    assert.equal(1000000, r.gas_used)
  end)

  it("does not let an xpcall handler swallow out of gas or run unmetered", function()
    local t0 = os.clock()
    local r = chain_with(loop):send_with({ max_fee = 1000000 }, "alice", "probe", "spin_xpcall")
    assert.equal("EGAS", r.code)
    assert.equal(1000000, r.gas_used)
    assert.is_true(os.clock() - t0 < 5)
  end)

  it("costs exactly N more gas for N more loop iterations", function()
    local chain = chain_with(loop)
    for _, n in ipairs({ 0, 1, 100, 500, 511, 512, 513, 1023, 1024, 5000, 65536 }) do
      local _, _, a = chain:try_query("probe", "loop", n)
      local _, _, b = chain:try_query("probe", "loop", n + 1000)
      assert.equal(1000, b - a, "n = " .. n)
      local ra = chain:send("alice", "probe", "loop", n)
      local rb = chain:send("alice", "probe", "loop", n + 1)
      assert.equal(1, rb.gas_used - ra.gas_used, "n = " .. n)
    end
  end)

  it("charges the same gas for the same calls on fresh chains and on repeats", function()
    local function run()
      local chain = testing.chain()
      local gas = {}
      gas[#gas + 1] = chain:deploy("alice", "token", "contracts/token.lua", "LUN", 1000).gas_used
      for i = 1, 4 do
        gas[#gas + 1] = chain:send("alice", "token", "transfer", "bob", 1).gas_used
      end
      return gas, chain:root()
    end
    local g1, root1 = run()
    local g2, root2 = run()
    assert.same(g1, g2)
    assert.equal(root1, root2)
    assert.equal(g1[3], g1[4])
    assert.equal(g1[4], g1[5])
  end)

  it("refuses string.rep beyond the 16 KiB a string may have, before building it", function()
    local r = refused("return string.rep('x', 1e9)", "ECALL")
    assert.matches("string.rep: a string of 1000000000 bytes is longer than the 16384", r.error, 1, true)
    assert.is_true(r.gas_used < 10000)
  end)

  it("charges table.concat before walking: a join of 10^12 slots fails on gas", function()
    refused("return table.concat({}, '', 1, 1e12)", "EGAS")
    local r = refused([=[
local s = string.rep("y", 16000)
local t = {}
for i = 1, 1000 do t[i] = s end
return table.concat(t)]=], "ECALL")
    assert.matches("table.concat: a string of 16000000 bytes is longer than the 16384", r.error, 1, true)
  end)

  it("meters pattern backtracking in gsub and find as it goes", function()
    refused("return string.gsub(string.rep('a', 60), string.rep('a*', 30) .. 'b', '')", "EGAS")
    refused("return string.find(string.rep('a', 16000), 'a*b')", "EGAS")
  end)
end)

describe("sandbox memory", function()
  it("kills a table bomb with EMEM, reverts it and takes the next transaction", function()
    local r = refused([=[
local t = {}
while true do t[#t + 1] = { 1, 2, 3, 4, 5, 6, 7, 8 } end]=], "EMEM")
    assert.equal("out of memory in probe.run at probe:5: the cap is 32 MiB of memory", r.error)
  end)

  it("kills a pile of 16 KiB strings with EMEM", function()
    local r = refused([=[
local t, s, i = {}, string.rep("x", 16000), 0
while true do i = i + 1 t[i] = s .. i end]=], "EMEM")
    assert.equal("out of memory in probe.run at probe:5: the cap is 32 MiB of memory", r.error)
  end)

  it("kills a doubling string at 16 KiB, long before the memory cap", function()
    local r = refused([=[
local s = "x"
while true do s = s .. s end]=], "ETOOBIG")
    assert.equal("string too long", r.error)
    assert.is_true(r.gas_used < 10000)
  end)

  it("does not let pcall swallow out of memory or a string too long", function()
    refused([=[
local ok = pcall(function() local t, s, i = {}, string.rep("x", 16000), 0
  while true do i = i + 1 t[i] = s .. i end end)
storage.set("after", ok)
return "survived"]=], "EMEM")
    refused([=[
local ok = pcall(function() local s = "x" while true do s = s .. s end end)
storage.set("after", ok)
return "survived"]=], "ETOOBIG")
  end)
end)

describe("sandbox recursion", function()
  it("ends deep recursion with a stack overflow error, not a crash", function()
    local r = refused("local function f(n) return 1 + f(n + 1) end return f(1)")
    assert.matches("stack overflow", r.error)
  end)

  it("ends recursion through string.gsub callbacks with an error", function()
    local r = refused("local function f(s) return (string.gsub(s, '.', f)) end return f('x')")
    assert.matches("C stack overflow", r.error)
  end)

  it("ends recursion through pcall with an error", function()
    local r = refused("local function f() local ok, e = pcall(f) error(e, 0) end f()")
    assert.matches("stack overflow", r.error)
  end)

  it("ends recursion through table.sort comparators and __tostring with an error", function()
    assert.matches("stack overflow", refused(
      "local function f() table.sort({ 2, 1 }, function(a, b) f() return a < b end) end f()").error)
    assert.matches("stack overflow", refused(
      "local t = setmetatable({}, { __tostring = function(x) return tostring(x) end }) return tostring(t)").error)
  end)
end)

describe("sandbox determinism", function()
  local order = contract([=[
local function keys()
  return { "b", 10, true, "a", -1.5, false, "ab", 2, "", 1e15 }
end
local function build(reverse, churn)
  local objs = { { n = "t1" }, { n = "t2" }, { n = "t3" } }
  local ks = keys()
  for _, o in ipairs(objs) do ks[#ks + 1] = o end
  local t = {}
  local first, last, step = 1, #ks, 1
  if reverse then first, last, step = #ks, 1, -1 end
  for i = first, last, step do
    if churn then t["tmp" .. i] = i end
    t[ks[i]] = i
    if churn then t[i * 1000] = i end
  end
  if churn then
    for i = 1, #ks do t["tmp" .. i] = nil t[i * 1000] = nil end
  end
  return t
end
local function name(k)
  if type(k) == "table" then return k.n end
  return type(k) .. ":" .. tostring(k)
end
local function walk_pairs(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = name(k) end
  return table.concat(out, " ")
end
local function walk_next(t)
  local out, k = {}, nil
  repeat
    k = next(t, k)
    if k ~= nil then out[#out + 1] = name(k) end
  until k == nil
  return table.concat(out, " ")
end
function M.plain() return walk_pairs(build(false, false)) end
function M.reversed() return walk_pairs(build(true, false)) end
function M.churned() return walk_pairs(build(true, true)) end
function M.by_next() return walk_next(build(false, false)) end]=])

  it("iterates mixed keys in the same order on two independent chains", function()
    local a = chain_with(order):query("probe", "plain")
    local b = chain_with(order):query("probe", "plain")
    assert.equal(a, b)
    assert.equal("number:-1.5 number:2 number:10 number:1e+15 string: string:a string:ab " ..
                 "string:b boolean:false boolean:true t1 t2 t3", a)
  end)

  it("iterates in the same order whatever the insertion order and deletes", function()
    local chain = chain_with(order)
    local plain = chain:query("probe", "plain")
    assert.equal(plain, chain:query("probe", "reversed"))
    assert.equal(plain, chain:query("probe", "churned"))
  end)

  it("walks with next(t, k) in the order pairs gives", function()
    local chain = chain_with(order)
    assert.equal(chain:query("probe", "plain"), chain:query("probe", "by_next"))
  end)

  local made = contract([=[
function M.litter(n)
  for i = 1, n do local s = string.format("%030d", i) end
end
function M.made(junk)
  local keys, t = {}, {}
  for i = 1, 6 do keys[i] = { i = i } end
  for i = 1, junk do local s = string.format("%029dj", i) end
  for i = 7, 12 do keys[i] = { i = i } end
  for i = 1, 12 do t[keys[i]] = true end
  local o = {}
  for k in pairs(t) do o[#o + 1] = k.i end
  return table.concat(o, ",")
end]=])

  it("puts table keys in the order the call made them, whatever earlier transactions of the block left", function()
    -- The earlier transaction leaves garbage; the collector then runs in the
    -- middle of the later one, which gets freed blocks for its last keys.
    local want = "1,2,3,4,5,6,7,8,9,10,11,12"
    for _, litter in ipairs { 0, 4000, 8000, 12000 } do
      local chain = chain_with(made)
      local tx1 = chain:transaction("alice", { { contract = "probe", method = "litter", args = { litter } } })
      local tx2 = chain:transaction("bob", { { contract = "probe", method = "made", args = { 10000 } } })
      local rs = chain:apply({ tx1, tx2 })
      assert.is_true(rs[1].ok, rs[1].error)
      assert.is_true(rs[2].ok, rs[2].error)
      assert.equal(want, rs[2].result, "after litter(" .. litter .. ")")
    end
  end)

  local churn = contract([=[
function M.garbage(rounds)
  for r = 1, rounds do
    for i = 1, 3000 do local s = "str" .. i end
    local junk = {}
    for i = 1, 3000 do junk[i] = { i } end
  end
  local t, out = {}, {}
  for i = 1, 8 do t[{ id = i }] = true end
  for k in pairs(t) do out[#out + 1] = k.id end
  return table.concat(out, ",")
end
function M.string_keys()
  local t = {}
  for i = 1, 4000 do t["key" .. i] = i if i > 5 then t["key" .. (i - 5)] = nil end end
end]=])

  it("charges the same gas with the collector at work, on two chains and on repeats", function()
    local a, b = chain_with(churn), chain_with(churn)
    local ra = a:send("alice", "probe", "garbage", 40)
    local rb = b:send("alice", "probe", "garbage", 40)
    assert.is_true(ra.ok, ra.error)
    assert.equal(ra.gas_used, rb.gas_used)
    assert.equal(ra.result, rb.result)
    assert.equal(a:root(), b:root())
    local gas = {}
    for i = 1, 3 do
      local ok, v, g = a:try_query("probe", "garbage", 40)
      assert.is_true(ok, v)
      assert.equal(ra.result, v)
      gas[i] = g
    end
    local _, _, gb = b:try_query("probe", "garbage", 40)
    assert.same({ gb, gb, gb }, gas)
  end)

  -- Which new key reuses a dead node, hence when a table rehashes, hence
  -- allocation gas, follows LuaJIT's string hash (seeded by the block) and
  -- object addresses (a fixed arena slot): the same on every chain.
  local keyed = contract([=[
function M.churn()
  local t, u, objs = {}, {}, {}
  for i = 1, 4000 do
    t["key" .. i] = i
    if i > 5 then t["key" .. (i - 5)] = nil end
    local o = {}
    objs[i] = o
    u[o] = i
    if i > 5 then u[objs[i - 5]] = nil end
  end
  local n = 0
  for _, v in pairs(t) do n = n + v end
  for _, v in pairs(u) do n = n + v end
  return n
end]=])

  it("charges the same gas for string- and table-key insert/delete churn on two chains", function()
    local a, b = chain_with(keyed), chain_with(keyed)
    local ra = a:send("alice", "probe", "churn")
    local rb = b:send("alice", "probe", "churn")
    assert.is_true(ra.ok, ra.error)
    assert.equal(ra.result, rb.result)
    assert.equal(ra.gas_used, rb.gas_used)
    assert.equal(a:root(), b:root())
    local _, va, ga = a:try_query("probe", "churn")
    local _, vb, gb = b:try_query("probe", "churn")
    assert.equal(va, vb)
    assert.equal(ga, gb)
  end)

  local big = contract([=[
function M.near(n)
  local t = {}
  for i = 1, n do t[i] = string.rep("x", 16000) .. i end
  local keys = 0
  for k in pairs(t) do keys = keys + 1 end
  return keys
end
function M.fill()
  local t = {}
  for i = 1, 1e6 do t[i] = string.rep("z", 16000) .. i end
end]=])

  it("treats a call near the memory cap the same on every chain, whatever ran before", function()
    local function outcome(chain)
      local near = chain:send("alice", "probe", "near", 1760)
      local fill = chain:send("alice", "probe", "fill")
      return { near.ok, near.result, near.gas_used, fill.code, fill.gas_used }
    end
    local a = outcome(chain_with(big))
    local b = outcome(chain_with(big))
    local busy = chain_with(big)
    busy:deploy("alice", "token", "contracts/token.lua", "LUN", 1000)
    for i = 1, 60 do
      busy:try_query("token", "balance_of", "alice")
      busy:try_query("probe", "near", i)
    end
    busy:send("alice", "token", "transfer", "bob", 3)
    local c = outcome(busy)
    assert.is_true(a[1])
    assert.equal(1760, a[2])
    assert.equal("EMEM", a[4])
    assert.same(a, b)
    assert.same(a, c)
  end)
end)
