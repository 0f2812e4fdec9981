-- tests/net/node_spec.lua -- a real `lunet dev` process: a first start from
-- a config the consensus plugin refuses writes no chain (the home then starts
-- with a corrected config), and a SIGTERM while submissions are in flight
-- stops it cleanly, after which it goes on from its head; under poa a
-- committed block is final at once.

local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")
local json = support.json
local socket = require "socket"

-- configs/dev.lua with its consensus params replaced.
local function dev_config(path, params)
  local text = assert(support.read_file(support.CONFIG))
  local plugin = support.ROOT .. "/consensus/poa.lua"
  text = text:gsub('plugin = "consensus/poa.lua"', 'plugin = "' .. plugin .. '"')
  text = text:gsub("params = %b{}", "params = " .. params)
  support.write_file(path, text)
  return path
end

-- alice's transfer with nonce `nonce` (signed, canonical bytes).
local function core_sign(node, info, key, nonce)
  local bytes = node:tx("alice", { { contract = "sys", method = "transfer", args = { "dave", 1 } } },
                        { nonce = nonce, chain_id = info.chain_id, expires = info.height + 1000,
                          sk = key.sk })
  return bytes
end

describe("lunet dev", function()
  lazy_teardown(function() support.cleanup() end)

  it("refuses consensus params the plugin rejects on the first start, and the home then starts with good ones", function()
    local node = support.node({ name = "badparams" })
    local bad = dev_config(node.home .. ".bad.lua", "{ block_ms = 'fast' }")
    local ok, err = pcall(node.start, node, { config = bad, tries = 50 })
    assert.is_false(ok, "lunet dev started with block_ms = 'fast'")
    assert.matches("exited %(exit 1%)", err)
    assert.matches("block_ms", node:log_tail(5))
    node:start({ config = dev_config(node.home .. ".good.lua", "{ block_ms = 20 }") })
    local got = node:send_wait("alice", "sys", "transfer", { "bob", 1 })
    assert.equal("committed", got.status)
    assert.equal(1, got.height)
  end)

  it("under poa a committed block is final at once: final_height, block_get.final, tx_get committed", function()
    local node = support.node({ name = "finalpoa" }):start()
    local got = node:send_wait("alice", "sys", "transfer", { "bob", 2 })
    assert.equal("committed", got.status)
    local info = node:call("chain_info")
    assert.equal(info.height, info.final_height)
    local b = node:call("block_get", { height = got.height })
    assert.is_true(b.final)
    assert.is_true(node:call("block_get", { hash = b.hash }).final)
    assert.equal(0, node:metric("lunet_reorgs_total"))
    assert.equal(info.height, node:metric("lunet_final_height"))
    node:stop()
  end)

  it("stops on SIGTERM with submissions in flight, exits 0 and goes on from its head", function()
    local node = support.node({ name = "termflight" }):start()
    node:send_wait("alice", "sys", "transfer", { "bob", 1 })
    local info = node:call("chain_info")
    -- One batch of many submissions, and SIGTERM before its answer is read.
    local key = node:key("alice")
    local body = {}
    for i = 1, 300 do
      local bytes = core_sign(node, info, key, i)
      body[i] = { jsonrpc = "2.0", id = i, method = "tx_submit", params = { tx = support.base64(bytes) } }
    end
    local text = json.encode(body)
    local c = socket.tcp()
    c:settimeout(5)
    assert(c:connect("127.0.0.1", node.port))
    assert(c:send("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" ..
                  "Content-Length: " .. #text .. "\r\n\r\n" .. text))
    local how, code = node:kill("TERM")
    c:close()
    assert.equal("exit", how, node:log_tail(20))
    assert.equal(0, code, node:log_tail(20))
    node:start()
    local after = node:call("chain_info")
    assert.is_true(after.height >= info.height)
    local got = node:send_wait("alice", "sys", "transfer", { "carol", 1 })
    assert.equal(after.height + 1, got.height)
  end)
end)
