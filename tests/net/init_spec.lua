-- tests/net/init_spec.lua -- `lunet init` creates a node's chain from a
-- config and exits; `lunet start` then runs it.

local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")

describe("lunet init", function()
  lazy_teardown(function() support.cleanup() end)

  it("refuses, with a one-line error, a config whose account keys are missing", function()
    local node = support.node({ name = "nokeys" })
    local code, _, err = support.lunet({ "init", "--home", node.home, "--config", support.CONFIG })
    assert.equal(1, code)
    assert.matches("^lunet init: account alice has no key in the config and [^\n]+\n$", err)
  end)

  it("creates the chain with --new-keys, and lunet start serves that chain", function()
    local node = support.node({ name = "fresh" })
    local code, out, err = support.lunet({ "init", "--home", node.home, "--config",
                                           support.CONFIG, "--new-keys" })
    assert.equal(0, code, err)
    local head = out:match("height 0, head (%x+)")
    assert.is_truthy(head, out)
    assert.is_truthy(io.open(node.home .. "/keys/alice.key"))
    -- A second init leaves the chain as it is.
    local code2, out2 = support.lunet({ "init", "--home", node.home, "--config", support.CONFIG })
    assert.equal(0, code2)
    assert.equal(head, out2:match("head (%x+)"))
    node:start({ command = "start" })
    local info = node:call("chain_info")
    assert.equal(head, info.head)
    assert.equal(0, info.height)
    assert.same({ "node0" }, info.validators)
  end)

  it("lunet init --help says what it does and needs", function()
    local code, out = support.lunet({ "init", "--help" })
    assert.equal(0, code)
    assert.matches("usage: lunet init %-%-home DIR %-%-config FILE", out)
    local code2, _, err = support.lunet({ "init", "--home", "/tmp/x" })
    assert.equal(2, code2)
    assert.matches("required", err)
  end)
end)
