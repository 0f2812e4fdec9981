-- tests/net/p2p_spec.lua -- real `lunet start` processes over P2P: a
-- validator (A) and a follower (B, a genesis member) on one genesis; a
-- transaction sent to B is gossiped to A, committed there, and the block
-- comes back to B (re-executed: same head and state root); a node whose key
-- is neither a validator's nor a member's is refused at the handshake; B
-- killed with SIGKILL catches up after a restart.

local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")
local core = support.core

local function keyfile(home, name, pk, sk)
  support.write_key(home .. "/keys/" .. name .. ".key", name, pk, sk)
end

local function head(node)
  local info = node:call("chain_info")
  return info.height, info.head, info.state_root
end

describe("p2p", function()
  local a, b, c, d, config, forked, c_hex

  lazy_setup(function()
    local v_pk, v_sk = core.keypair()       -- the validator v0 (A)
    local f_pk, f_sk = core.keypair()       -- B's node key: a member
    local x_pk, x_sk = core.keypair()       -- C's node key: nobody
    local al_pk, al_sk = core.keypair()     -- the account alice
    local g_pk, g_sk = core.keypair()       -- D's node key: a member, on another genesis
    a = support.node({ name = "a" })
    b = support.node({ name = "b" })
    c = support.node({ name = "c" })
    d = support.node({ name = "d" })
    config = support.run_dir() .. "/p2p.lua"
    -- poa, plus: after each block it commits, the proposer broadcasts
    -- {hello = height}; on_message logs what arrives.
    local plugin = support.run_dir() .. "/poa.lua"
    local poa = assert(support.read_file(support.ROOT .. "/consensus/poa.lua"))
    poa = poa:gsub("\nreturn M%s*$", [[

local tick = M.on_timer
function M.on_timer(id)
  local before = node.head().height
  tick(id)
  local now = node.head().height
  if now > before then node.broadcast({ hello = now }) end
end

function M.on_message(from, msg)
  node.log("message from " .. from .. ": hello " .. tostring(msg.hello))
end

return M
]])
    support.write_file(plugin, poa)
    support.write_file(config, string.format([[
return {
  chain_id = "p2p-test",
  genesis_time = 1700000000,
  validators = { { name = "v0", key = "%s" } },
  members = { "%s", "%s" },
  accounts = { { name = "alice", balance = 1000000000000, key = "%s" } },
  consensus = { plugin = "%s", params = { block_ms = 50 } },
}
]], core.hex(v_pk), core.hex(f_pk), core.hex(g_pk), core.hex(al_pk), plugin))
    -- the same, but alice has 1 more: another genesis state on the same chain id
    forked = support.run_dir() .. "/forked.lua"
    support.write_file(forked, (support.read_file(config):gsub("1000000000000", "1000000000001")))
    keyfile(d.home, "node", g_pk, g_sk)
    keyfile(a.home, "v0", v_pk, v_sk)
    keyfile(b.home, "node", f_pk, f_sk)
    keyfile(c.home, "node", x_pk, x_sk)
    c_hex = core.hex(x_pk)
    for _, n in ipairs({ a, b, c }) do keyfile(n.home, "alice", al_pk, al_sk) end
  end)

  lazy_teardown(function() support.cleanup() end)

  local function start(node, peer, cfg)
    return node:start({ command = "start", config = cfg or config,
                        args = peer and { "--peer", "127.0.0.1:" .. peer.p2p } or nil })
  end

  local function same_head(x, y, what)
    return support.wait_until(100, 100, function()
      local h1, hash1, root1 = head(x)
      local h2, hash2, root2 = head(y)
      return h1 == h2 and hash1 == hash2 and root1 == root2 and h1
    end, function()
      return string.format("%s: %s at %s, %s at %s; %s log:\n%s", what, x.name, tostring(head(x)),
                           y.name, tostring(head(y)), y.name, y:log_tail(15))
    end)
  end

  it("P2P - a transaction sent to the follower is committed by the validator and both reach the same head and state root", function()
    start(a)
    start(b, a)
    assert.equal(a:call("chain_info").head, b:call("chain_info").head)  -- the same genesis
    local id = b:send("alice", "sys", "transfer", { "v0", 5 })
    local got_a = a:wait_committed(id)
    local got_b = b:wait_committed(id)
    assert.equal(got_a.height, got_b.height)
    local h = same_head(a, b, "B never reached A's head")
    assert.is_true(h >= 1)
  end)

  it("P2P - node.broadcast from the validator's plugin reaches the follower's on_message", function()
    local h = head(a)
    support.wait_until(50, 100, function()
      return b:log_tail(50):find("message from v0: hello " .. h, 1, true)
    end, function() return "B's plugin never got hello " .. h .. ":\n" .. b:log_tail(10) end)
  end)

  it("P2P - a follower killed with SIGKILL catches up from the validator after a restart, more than one answer's worth of blocks", function()
    b:kill("KILL")
    -- one block per transfer: past 64 blocks (one answer to "get")
    for i = 1, 70 do a:send_wait("alice", "sys", "transfer", { "v0", i }) end
    local ha = head(a)
    start(b, a)
    local h = same_head(a, b, "B never caught up")
    assert.is_true(h >= ha)
    -- and it said so: a progress line, then the end of the catch-up
    local log = b:log_tail(200)
    assert.truthy(log:find("sync: height %d+ of %d+ from"), log)
    assert.truthy(log:find("sync: caught up at height %d+"), log)
  end)

  it("P2P - a member on another genesis state refuses the validator's blocks: re-executed, their hash differs", function()
    start(d, a, forked)
    a:send_wait("alice", "sys", "transfer", { "v0", 1 })
    support.wait_until(50, 100, function()
      return d:log_tail(50):find("re-executed, its hash differs", 1, true)
    end, function() return "D never refused a block:\n" .. d:log_tail(10) end)
    assert.equal(0, (head(d)))
    d:stop()
  end)

  it("P2P - a node whose key is neither a validator's nor a member's is refused at the handshake", function()
    start(c, a)
    support.wait_until(50, 100, function()
      return (support.read_file(a.log) or ""):find("not a member", 1, true)
    end, "A never refused C: " .. a:log_tail(10))
    a:send_wait("alice", "sys", "transfer", { "v0", 1 })
    -- C dials again after the block exists and is refused again: it has
    -- had its chance to sync, and did not (a line just then, not a count)
    local mark = a:log_mark()
    support.wait_until(100, 100, function()
      for line in a:log_since(mark):gmatch("[^\n]+") do
        if line:find("refused " .. c_hex:sub(1, 16), 1, true) and not line:find("more like it", 1, true) then
          return true
        end
      end
    end, function() return "A never refused C after the block:\n" .. a:log_tail(10) end)
    local hc = head(c)
    assert.equal(0, hc)
    assert.is_true(head(a) > 0)
    assert.is_nil(c:log_tail(50):find("p2p: peer", 1, true), "C had a peer up:\n" .. c:log_tail(10))
    c:stop()
  end)
end)
