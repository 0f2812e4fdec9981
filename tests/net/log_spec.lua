-- tests/net/log_spec.lua -- the node's log: a line per committed block and
-- per failed call at info, what contracts log(...) at debug, and
-- --log-level, on real `lunet dev` processes.

local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")

local CHATTY = [[
local M = {}
function M.say(x) log("said", x) return x end
function M.boom() error("boom") end
return M
]]

-- The lines of s that match pat.
local function lines(s, pat)
  local out = {}
  for l in s:gmatch("[^\n]+") do if l:find(pat) then out[#out + 1] = l end end
  return out
end

describe("log", function()
  lazy_teardown(function() support.cleanup() end)

  describe("at info (the default)", function()
    local node

    lazy_setup(function()
      node = support.node({ name = "info" }):start()
      local got = node:deploy_source("alice", "chatty", CHATTY)
      assert(got.receipt.ok, got.receipt.error)
    end)

    it("has a line per committed block: height, transactions, gas and time", function()
      local mark = node:log_mark()
      local got = node:send_wait("alice", "chatty", "say", { "hi" })
      local log = node:log_since(mark)
      local found = lines(log, "info  block " .. got.height .. ":")
      assert.equal(1, #found, log)
      assert.matches("^%d%d:%d%d:%d%d info  block %d+: 1 tx, " .. got.receipt.gas_used ..
                     " gas, [%d.]+ ms %(executed [%d.]+, committed [%d.]+%)$", found[1])
    end)

    it("has a line per failed call: its hash, contract.method and error", function()
      local mark = node:log_mark()
      local got = node:send_wait("alice", "chatty", "boom")
      assert.is_false(got.receipt.ok)
      local log = node:log_since(mark)
      local found = lines(log, "failed")
      assert.equal(1, #found, log)
      assert.matches("info  tx " .. got.hash .. " chatty%.boom failed: ECALL: chatty:3: boom$",
                     found[1])
    end)

    it("leaves out what contracts log, a debug line", function()
      local mark = node:log_mark()
      local got = node:send_wait("alice", "chatty", "say", { "quiet" })
      local log = node:log_since(mark)
      assert.equal(1, #lines(log, "block " .. got.height .. ":"), log)   -- the block was logged
      assert.equal(0, #lines(log, "said"), log)
    end)
  end)

  it("at debug has what contracts log, with where it was called", function()
    local node = support.node({ name = "debug" }):start({ args = { "--log-level", "debug" } })
    assert(node:deploy_source("alice", "chatty", CHATTY).receipt.ok)
    local mark = node:log_mark()
    node:send_wait("alice", "chatty", "say", { "loud" })
    local found = lines(node:log_since(mark), "said")
    assert.equal(1, #found)
    assert.matches("debug log chatty:2: said loud$", found[1])
    node:stop()
  end)

  it("at warn drops the info lines", function()
    local node = support.node({ name = "warn" }):start({ args = { "--log-level", "warn" } })
    local mark = node:log_mark()
    local got = node:deploy_source("alice", "chatty", CHATTY)
    assert.is_true(got.receipt.ok)
    local failed = node:send_wait("alice", "chatty", "boom")     -- committed: it would be logged now
    assert.is_false(failed.receipt.ok)
    local log = node:log_since(mark)
    assert.equal(0, #lines(log, " info "), log)
    assert.equal(0, #lines(log, "block "), log)
    node:stop()
  end)

  it("--log-level takes only debug, info, warn or error", function()
    local node = support.node({ name = "bad" })
    local code, _, err = support.lunet({ "dev", "--home", node.home, "--log-level", "loud" })
    assert.equal(2, code)
    assert.matches("^lunet dev: %-%-log%-level 'loud' is none of debug, info, warn, error", err)
    local code2, out = support.lunet({ "start", "--help" })
    assert.equal(0, code2)
    assert.matches("--log-level LEVEL", out, 1, true)
  end)
end)
