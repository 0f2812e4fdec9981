-- tests/lua/author_spec.lua -- what a contract author sees in `lunet test`:
-- log(...) lines in the receipt and the report, and errors, out of gas and
-- out of memory named by the file and line the code came from.
-- Contract: tests/lua/contracts/chatty.lua (deployed as `chatty`).

local testing = require "lunet.testing"

local FILE = "tests/lua/contracts/chatty.lua"

describe("author", function()
  local chain

  before_each(function()
    chain = testing.chain()
    local r = chain:deploy("alice", "chatty", FILE)
    assert.is_true(r.ok, r.error)
  end)

  it("log puts its text in the receipt's logs, named by file and line, not in its events", function()
    local r = chain:send("alice", "chatty", "say", "hi")
    assert.is_true(r.ok, r.error)
    assert.same({ FILE .. ":10: say hi n is 0" }, r.logs)
    assert.same({}, r.events)
    r = chain:send("alice", "chatty", "say", 7)
    assert.same({ FILE .. ":10: say 7 n is 1" }, r.logs)
  end)

  it("a query's log lines come back with its result", function()
    local ok, v, _, _, logs = chain:try_query("chatty", "get")
    assert.is_true(ok)
    assert.equal(0, v)
    assert.same({ FILE .. ":31: get" }, logs)
  end)

  it("an error names the file and line of the code that raised it", function()
    local r = chain:send("alice", "chatty", "boom")
    assert.is_false(r.ok)
    assert.equal(FILE .. ":17: boom", r.error)
    assert.equal(0, chain:query("chatty", "get"))
  end)

  it("out of gas names the method, the file and line, and the limit", function()
    local r = chain:send_with({ max_fee = 30000 }, "alice", "chatty", "spin")
    assert.equal("EGAS", r.code)
    assert.equal("out of gas in chatty.spin at " .. FILE .. ":22: the limit is 30000 gas", r.error)
  end)

  it("out of memory names the method, the file and line, and the cap", function()
    local r = chain:send("alice", "chatty", "eat")
    assert.equal("EMEM", r.code)
    assert.equal("out of memory in chatty.eat at " .. FILE .. ":27: the cap is 32 MiB of memory",
                 r.error)
  end)

  it("code deployed as source keeps the account's name in its positions", function()
    assert.is_true(chain:deploy_source("alice", "raw", "return { f = function() error('x') end }").ok)
    assert.equal("raw:1: x", chain:send("alice", "raw", "f").error)
  end)
end)
