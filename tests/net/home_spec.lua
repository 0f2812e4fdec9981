-- tests/net/home_spec.lua -- a node's home and the config it is started
-- with: a config that makes another chain is refused with what differs,
-- --reset wipes the chain (keys stay) and begins again, and lunet init
-- refuses the same way. Real processes on temporary homes.

local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")

-- A copy of configs/dev.lua with `from` replaced by `to`; its path.
local function config_like(name, from, to)
  local text = support.read_file(support.CONFIG)
  local out = text:gsub(from, to)
  assert(out ~= text, "configs/dev.lua has no " .. from)
  local path = support.run_dir() .. "/" .. name .. ".lua"
  support.write_file(path, out)
  return path
end

describe("home", function()
  local node, height

  lazy_setup(function()
    node = support.node({ name = "home" }):start()
    height = node:send_wait("alice", "sys", "transfer", { "bob", 7 }).height
    node:stop()
  end)

  lazy_teardown(function() support.cleanup() end)

  -- lunet dev on the node's home and ports; exit code, stdout, stderr.
  local function dev(...)
    local args = { "dev", "--home", node.home, "--rpc", "127.0.0.1:" .. node.port,
                   "--p2p", "127.0.0.1:" .. node.p2p }
    for _, a in ipairs({ ... }) do args[#args + 1] = a end
    return support.lunet(args)
  end

  it("refuses a --config of another chain id, saying which and how to go on", function()
    local other = config_like("other", 'chain_id = "lunet%-dev"', 'chain_id = "lunet-other"')
    local code, _, err = dev("--config", other)
    assert.equal(1, code)
    assert.matches("^lunet dev: [^\n]* holds chain 'lunet%-dev' %(genesis %x+%), but [^\n]*other%.lua " ..
                   "makes chain 'lunet%-other' %(genesis %x+%): the chain id differs%. %-%-reset [^\n]+\n$", err)
  end)

  it("refuses a --config of the same chain id whose genesis differs", function()
    local params = config_like("params", "block_ms = 50", "block_ms = 51")
    local code, _, err = dev("--config", params)
    assert.equal(1, code)
    assert.matches("makes chain 'lunet%-dev' %(genesis %x+%): the genesis differs", err)
    local code2, _, err2 = support.lunet({ "init", "--home", node.home, "--config", params })
    assert.equal(1, code2)
    assert.matches("^lunet init: [^\n]*the genesis differs", err2)
  end)

  it("starts with the config that made the chain and goes on from its last block", function()
    node:start()
    assert.is_true(node:call("chain_info").height >= height)
    assert.equal(7, node:call("account_get", { account = "bob" }).balance - 1000000000000)
    node:stop()
  end)

  it("--reset wipes the chain, keeps the keys, and begins again from the config", function()
    local other = config_like("other2", 'chain_id = "lunet%-dev"', 'chain_id = "lunet-other"')
    local key = support.read_file(node.home .. "/keys/alice.key")
    node:start({ config = other, args = { "--reset" } })
    local info = node:call("chain_info")
    assert.equal("lunet-other", info.chain_id)
    assert.equal(0, info.height)
    assert.equal(key, support.read_file(node.home .. "/keys/alice.key"))
    assert.equal(0, node:call("account_get", { account = "alice" }).nonce)
    assert.matches("%-%-reset: [^\n]* chain wiped %(keys kept%)", node:log_tail(40))
    node:stop()
    -- and that chain is the home's now: the dev config is the other one
    local code, _, err = dev("--config", support.CONFIG)
    assert.equal(1, code)
    assert.matches("holds chain 'lunet%-other'", err)
  end)

  it("dev and start say --reset in their --help", function()
    for _, cmd in ipairs({ "dev", "start" }) do
      local code, out = support.lunet({ cmd, "--help" })
      assert.equal(0, code)
      assert.matches("--reset", out, 1, true)
    end
  end)
end)
