-- tests/net/lunet_test_spec.lua -- `lunet test` as a process: its exit code,
-- its closing line and its gas report, on specs written here for the run.

local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")

local CONTRACT = [[
local M = {}
function M.init() storage.set("n", 0) end
function M.bump() storage.set("n", storage.get("n") + 1) return storage.get("n") end
function M.get() return storage.get("n") end
return M
]]

local function spec(dir, name, body)
  local path = dir .. "/" .. name .. "_spec.lua"
  support.write_file(path, body)
  return path
end

-- Runs `lunet test` in dir (paths in specs are relative to where it runs).
local function lunet_test(dir, ...)
  local args = { ... }
  local parts = { "cd", support.quote(dir), "&&", support.quote(support.BIN), "test" }
  for _, a in ipairs(args) do parts[#parts + 1] = support.quote(a) end
  local out = dir .. "/out.txt"
  local cmd = table.concat(parts, " ") .. " >" .. support.quote(out) .. " 2>&1"
  local a, _, c = os.execute(cmd)
  local code = type(a) == "number" and a / 256 or c
  return code, support.read_file(out) or ""
end

describe("lunet test", function()
  local dir

  before_each(function()
    dir = support.run_dir() .. "/t" .. tostring(math.floor(support.now() * 1000) % 1000000)
    os.execute("mkdir -p " .. support.quote(dir))
    support.write_file(dir .. "/counter.lua", CONTRACT)
  end)

  lazy_teardown(function() support.cleanup() end)

  it("exits 0, prints the closing line and a gas report when every spec passes", function()
    spec(dir, "pass", [[
local testing = require "lunet.testing"
describe("counter", function()
  it("counts", function()
    local chain = testing.chain()
    assert.is_true(chain:deploy("alice", "counter", "counter.lua").ok)
    assert.equal(1, chain:send("alice", "counter", "bump").result)
    assert.equal(1, chain:query("counter", "get"))
  end)
end)
]])
    local code, out = lunet_test(dir, ".")
    assert.equal(0, code, out)
    assert.matches("lunet test: 1 passed, 0 failed", out, 1, true)
    assert.matches("gas report", out, 1, true)
    assert.matches("counter%.bump%s+1%s+%d+", out)
  end)

  it("exits non-zero and counts the failure when a spec fails", function()
    spec(dir, "fail", [[
local testing = require "lunet.testing"
describe("counter", function()
  it("is wrong on purpose", function()
    local chain = testing.chain()
    chain:deploy("alice", "counter", "counter.lua")
    assert.equal(2, chain:send("alice", "counter", "bump").result)
  end)
  it("is right", function() assert.is_true(true) end)
end)
]])
    local code, out = lunet_test(dir, ".")
    assert.are_not.equal(0, code)
    assert.matches("lunet test: 1 passed, 1 failed", out, 1, true)
  end)

  it("--filter with no path runs the specs of contracts/ that match", function()
    os.execute("mkdir -p " .. support.quote(dir .. "/contracts"))
    spec(dir .. "/contracts", "two", [[
local testing = require "lunet.testing"
describe("counter", function()
  it("counts once", function()
    local chain = testing.chain()
    assert.is_true(chain:deploy("alice", "counter", "counter.lua").ok)
    assert.equal(1, chain:send("alice", "counter", "bump").result)
  end)
  it("is never run here", function() error("filtered out, yet it ran") end)
end)
]])
    local code, out = lunet_test(dir, "--filter", "counts")
    assert.equal(0, code, out)
    assert.matches("lunet test: 1 passed, 0 failed", out, 1, true)
    code, out = lunet_test(dir, "--filter=never")
    assert.are_not.equal(0, code)
    assert.matches("lunet test: 0 passed, 1 failed", out, 1, true)
  end)

  it("prints what contracts log(...), test by test, with the file and line", function()
    support.write_file(dir .. "/noisy.lua", [[
local M = {}
function M.hi(who) log("hello", who) return who end
return M
]])
    spec(dir, "noisy", [[
local testing = require "lunet.testing"
describe("noisy", function()
  it("greets", function()
    local chain = testing.chain()
    assert.is_true(chain:deploy("alice", "noisy", "noisy.lua").ok)
    assert.equal("bob", chain:send("alice", "noisy", "hi", "bob").result)
  end)
end)
]])
    local code, out = lunet_test(dir, "noisy_spec.lua")
    assert.equal(0, code, out)
    assert.matches("contract logs %(log%(...%), test by test%)\n  noisy greets\n    noisy%.lua:2: hello bob\n", out)
  end)

  it("says how it is used with --help", function()
    local code, out = lunet_test(dir, "--help")
    assert.equal(0, code)
    assert.matches("usage: lunet test", out, 1, true)
  end)
end)

describe("lunet new", function()
  local dir

  before_each(function()
    dir = support.run_dir() .. "/n" .. tostring(math.floor(support.now() * 1000) % 1000000)
    os.execute("mkdir -p " .. support.quote(dir))
  end)

  lazy_teardown(function() support.cleanup() end)

  local function new(...)
    local parts = { "cd", support.quote(dir), "&&", support.quote(support.BIN), "new" }
    for _, a in ipairs({ ... }) do parts[#parts + 1] = support.quote(a) end
    local out = dir .. "/.out"
    local a, _, c = os.execute(table.concat(parts, " ") .. " >" .. support.quote(out) .. " 2>&1")
    return type(a) == "number" and a / 256 or c, support.read_file(out) or ""
  end

  it("writes a contract and a spec that passes lunet test", function()
    local code, out = new("my.count")
    assert.equal(0, code, out)
    assert.matches("wrote contracts/my%.count%.lua and contracts/my%.count_spec%.lua", out)
    assert.matches('deploy(\"alice\", \"my.count\", \"contracts/my.count.lua\"',
                   support.read_file(dir .. "/contracts/my.count_spec.lua"), 1, true)
    local tcode, tout = lunet_test(dir, "contracts/my.count_spec.lua")
    assert.equal(0, tcode, tout)
    assert.matches("lunet test: 3 passed, 0 failed", tout, 1, true)
  end)

  it("refuses to overwrite either file and then writes nothing", function()
    os.execute("mkdir -p " .. support.quote(dir .. "/contracts"))
    support.write_file(dir .. "/contracts/box_spec.lua", "-- mine\n")
    local code, out = new("box")
    assert.equal(1, code)
    assert.matches("contracts/box_spec%.lua exists already; not overwriting it", out)
    assert.is_nil(io.open(dir .. "/contracts/box.lua"))
    assert.equal("-- mine\n", support.read_file(dir .. "/contracts/box_spec.lua"))
    assert.equal(0, (new("fresh")))
    assert.equal(1, (new("fresh")))
  end)

  it("takes only an account name, and says how it is used with --help", function()
    assert.equal(2, (new("Not-A-Name")))
    assert.equal(2, (new()))
    assert.equal(2, (new("a", "b")))
    local code, out = new("--help")
    assert.equal(0, code)
    assert.matches("usage: lunet new NAME", out, 1, true)
  end)
end)
