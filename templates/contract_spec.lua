-- contracts/{{name}}_spec.lua -- the spec of contracts/{{name}}.lua, made by
-- `lunet new`. Run it with: lunet test contracts/{{name}}_spec.lua

local testing = require "lunet.testing"

describe("{{name}}", function()
  local chain

  before_each(function()
    chain = testing.chain()            -- fresh chain; alice, bob, carol, dave, eve funded
    local r = chain:deploy("alice", "{{name}}", "contracts/{{name}}.lua", 10)
    assert.is_true(r.ok, r.error)
  end)

  it("starts every account at the init value", function()
    assert.equal(10, chain:query("{{name}}", "count", "bob"))
  end)

  it("bumps the sender's count, emits bumped and logs it", function()
    local r = chain:send("bob", "{{name}}", "bump", 5)
    assert.is_true(r.ok, r.error)
    assert.equal(15, r.result)
    assert.equal("bumped", r.events[1].name)
    assert.matches("bumped bob to 15", r.logs[1], 1, true)
    assert.equal(15, chain:query("{{name}}", "count", "bob"))
    assert.equal(10, chain:query("{{name}}", "count", "alice"))
  end)

  it("refuses a bump that is not a positive integer and keeps the count", function()
    local r = chain:send("bob", "{{name}}", "bump", 0)
    assert.is_false(r.ok)
    assert.matches("by must be a positive integer, got 0", r.error, 1, true)
    assert.equal(10, chain:query("{{name}}", "count", "bob"))
  end)
end)
