-- tests/net/tools_spec.lua -- lunet-peer and lunet-proxy against a real
-- `lunet dev` node with P2P: a key that is no member is refused; members that
-- send a garbage or an oversized frame are dropped (and held off by identity,
-- not by 127.0.0.1) while the node keeps serving; the proxy forwards HTTP and
-- P2P until cut, and again once healed.

local tools = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "tools.lua")
local support = tools.support
local core = support.core

local keyfile = support.write_key

describe("test tools", function()
  local node, keys = nil, {}

  -- The dev chain plus genesis members, one per test, so that one member's
  -- strike does not hold off the next test.
  lazy_setup(function()
    local dir = support.run_dir()
    local hexes = {}
    for _, name in ipairs({ "garbage", "held", "other", "big", "proxied", "stranger", "frames", "blocks" }) do
      local pk, sk = core.keypair()
      keys[name] = dir .. "/" .. name .. ".key"
      keyfile(keys[name], name, pk, sk)
      if name ~= "stranger" then hexes[#hexes + 1] = '"' .. core.hex(pk) .. '"' end
    end
    local config = dir .. "/dev-members.lua"
    local dev = assert(support.read_file(support.CONFIG))
    dev = dev:gsub('"consensus/poa.lua"', '"' .. support.ROOT .. '/consensus/poa.lua"')
    dev = dev:gsub("\n  consensus = {", "\n  members = { " .. table.concat(hexes, ", ") .. " },\n  consensus = {", 1)
    support.write_file(config, dev)
    node = support.node({ name = "dev" }):start({ config = config })
  end)

  lazy_teardown(function() support.cleanup() end)

  local function peer(name, opts)
    opts = opts or {}
    opts.key, opts.chain = keys[name], "lunet-dev"
    opts.connect = opts.connect or ("127.0.0.1:" .. node.p2p)
    return tools.peer(opts)
  end

  local function healthy()
    local st = node:http("GET", "/health", nil, { timeout = 2 })
    return st == 200
  end

  it("lunet-peer - a key that is not a member is refused at the handshake: exit 3, `refused`", function()
    local p = peer("stranger", { timeout_ms = 1000 })
    assert.is_nil(p.up, "a non-member came up")
    assert.equal(3, p.code)
    assert.is_string(p.refused)
  end)

  it("lunet-peer - a member that sends a garbage frame is dropped and the node still answers /health", function()
    local p = peer("garbage")
    assert.is_true(p.up, "the member never came up: " .. table.concat(p:lines(), "\n"))
    support.wait_until(50, 20, function() return #p:recv() > 0 end,
                       "the node sent the member nothing after the handshake")
    p:garbage(64)
    assert.equal("closed by the remote", p:wait_down(3000))
    assert.is_true(healthy())
    local how, code = p:close()
    assert.same({ "exit", 0 }, { how, code })
  end)

  it("lunet-peer - well-formed frames with hostile contents change nothing and the node keeps serving", function()
    node:send_wait("alice", "sys", "transfer", { "bob", 1 })
    local before = node:call("chain_info")
    local p = peer("frames")
    assert.is_true(p.up)
    local enc = core.encode
    local h = before.height
    local frames = {
      { t = "get", from = 0 },                          -- height 0 is not served
      { t = "get", from = 9007199254740991 },           -- far beyond the head
      { t = "get", from = "one" },
      { t = "head", h = 9007199254740991 },             -- a claim: it only makes us ask
      { t = "head", h = "x" },
      { t = "addr", a = { { a = string.rep("9", 60), k = string.rep("\1", 32) } } },
      { t = "addr", a = "nothing" },
      { t = "txs", b = { "junk", string.rep("\0", 300) } },
      { t = "tx", b = "junk" },
      { t = "p", from = "node0", m = "junk" },          -- not a validator's connection
      { t = "p", from = "node0", m = enc({ k = "pv" }), sig = string.rep("\0", 64) },
      { t = "blk", b = "junk", n = h },                 -- a height we have: not parsed
      { t = "someday" },                                -- unknown t: ignored
    }
    for _, f in ipairs(frames) do p:send(enc(f)) end
    p:sleep(300)
    assert.is_nil(p:wait_down(1500), "a well-formed frame got the member dropped")
    assert.is_true(healthy())
    local after = node:call("chain_info")
    assert.equal(before.head, after.head)
    assert.equal(before.state_root, after.state_root)
    assert.equal(before.txs_committed, after.txs_committed)
    p:close()
  end)

  it("lunet-peer - blocks that fail the plugin's checks get the member dropped after three", function()
    local info = node:call("chain_info")
    local p = peer("blocks")
    assert.is_true(p.up)
    local enc = core.encode
    local block = enc({ cert = { signer = "node0", sig = string.rep("\0", 64) },
                        hash = string.rep("\7", 32),
                        header = { height = info.height + 1, proposer = "node0", time = info.time },
                        txs = {} })
    for _ = 1, 3 do
      p:send(enc({ t = "blk", b = block, h = info.height + 1, last = true, n = info.height + 1 }))
    end
    assert.truthy(p:wait_down(3000), "three refused blocks did not get the member dropped")
    support.wait_until(30, 100, function()
      return node:log_tail(40):find("3 refused blocks", 1, true)
    end, "the node did not say why:\n" .. node:log_tail(10))
    assert.is_true(healthy())
    assert.equal(info.head, node:call("chain_info").head)
    p:close()
  end)

  it("lunet-peer - a dropped member is held off by identity while another member from 127.0.0.1 connects", function()
    local p = peer("held")
    assert.is_true(p.up)
    p:garbage(16)
    assert.equal("closed by the remote", p:wait_down(3000))
    p:close()
    local again = peer("held", { timeout_ms = 300 })      -- within its 1 s hold-off
    assert.is_nil(again.up, "the struck member came straight back")
    assert.equal(3, again.code)
    local other = peer("other")
    assert.is_true(other.up, "another identity on 127.0.0.1 was held off too: " ..
                   table.concat(other:lines(), "\n"))
    assert.is_nil(other:wait_down(200))
    other:close()
  end)

  it("lunet-peer - a frame over the node's max frame drops the member", function()
    local p = peer("big")
    assert.is_true(p.up)
    p:big(20 * 1024 * 1024)
    assert.equal("closed by the remote", p:wait_down(5000))
    assert.is_true(healthy())
    p:close()
    support.wait_until(50, 50, function()
      return node:log_tail(20):find("down: item too large", 1, true)
    end, function() return "the node never logged why it dropped the member:\n" .. node:log_tail(10) end)
  end)

  it("lunet-proxy - forwards HTTP to the node; cut stops it and heal restores it", function()
    local listen = support.free_port()
    local px = tools.proxy({ [listen] = node.port })
    local function via() return (support.http(listen, "GET", "/health", nil, { timeout = 2 })) end
    assert.equal(200, via())
    px:cut({ listen })
    assert.is_true(px:status()[listen].cut)
    assert.is_nil(via())
    assert.is_true(healthy())                -- only the proxied path is cut
    px:heal()
    assert.equal(200, via())
    assert.same({ "exit", 0 }, { px:stop() })
  end)

  it("lunet-proxy - cut drops a P2P session through it, heal lets a new one up", function()
    local listen = support.free_port()
    local px = tools.proxy({ [listen] = node.p2p })
    local via = "127.0.0.1:" .. listen
    local p = peer("proxied", { connect = via })
    assert.is_true(p.up)
    assert.equal(1, px:status()[listen].conns)
    px:cut()
    assert.equal("closed by the remote", p:wait_down(2000))
    p:close()
    local cut = peer("proxied", { connect = via, timeout_ms = 300 })
    assert.equal(3, cut.code)
    px:heal({ listen })
    local again = peer("proxied", { connect = via })
    assert.is_true(again.up, "no P2P session after heal: " .. table.concat(again:lines(), "\n"))
    again:close()
    px:stop()
  end)
end)
