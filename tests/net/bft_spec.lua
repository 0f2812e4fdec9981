-- tests/net/bft_spec.lua -- four real validators running consensus/bft.lua
-- over real TCP on loopback, under faults: a validator killed and
-- restarted, one paused past the round timeout, all four restarted from
-- disk. After each: every node has the same block hashes and state roots at
-- every common height, and every transaction seen committed stays committed.

local cluster = dofile("tests/net/cluster.lua")
local support = cluster.support

-- Short timeouts keep stalled rounds short in tests.
local PARAMS = { timeout_propose_ms = 600, timeout_vote_ms = 200, timeout_delta_ms = 200, verbose = true }

describe("bft with 4 validators", function()
  lazy_teardown(support.cleanup)

  it("commits with certificates of > 2/3 precommits, and every node agrees", function()
    local c = cluster.new(4, { params = PARAMS }):start_all()
    local ids = c:load(30)
    c:wait_committed(ids)
    local top = c:check_agreement()
    assert.is_true(top >= 1)
    local proposers = {}
    for h = 1, top do
      local b = c.nodes[1]:call("block_get", { height = h })
      local n = 0
      for _ in pairs(b.cert.sigs) do n = n + 1 end
      assert.is_true(n >= 3, "height " .. h .. " has " .. n .. " precommits")
      proposers[b.header.proposer] = true
    end
    c:stop_all()
  end)

  it("a validator that knows one peer finds the others by address exchange", function()
    local c = cluster.new(4, { params = PARAMS })
    c.dial[4] = { [1] = c.nodes[1].p2p }            -- node 4 dials node 1 only
    for j = 1, 3 do c.dial[j][4] = nil end          -- and nobody dials node 4
    c:start_all()
    support.wait_until(100, 100, function()
      return c.nodes[4]:call("chain_info").peers == 3
    end, "node 4 did not reach all three peers")
    c:wait_committed(c:load(6))
    c:check_agreement()
    c:stop_all()
  end)

  it("goes on when one validator is killed, and the restarted one catches up", function()
    local c = cluster.new(4, { params = PARAMS }):start_all()
    c:wait_committed(c:load(10))
    c.nodes[4]:kill("KILL")
    local ids = c:load(30)
    c:wait_committed(ids)
    local h = c:min_height()
    c:start(4)
    c:wait_height(h)
    c:wait_committed(c:load(10))
    c:check_agreement()
    c:stop_all()
  end)

  it("survives a validator paused past the round timeout", function()
    local c = cluster.new(4, { params = PARAMS }):start_all()
    c:wait_committed(c:load(5))
    c:pause(2)
    -- Heights go on without it; within four heights it was round 0's
    -- proposer once, and that height needed a later round.
    local h0 = c:min_height()
    while c:min_height() < h0 + 5 do c:wait_committed(c:load(3)) end
    c:resume(2)
    local h = c:min_height()
    c:wait_committed(c:load(10))
    c:wait_height(h + 1)
    local top = c:check_agreement()
    local later = 0
    for x = h0 + 1, top do
      if c.nodes[1]:call("block_get", { height = x }).cert.round > 0 then later = later + 1 end
    end
    assert.is_true(later > 0, "no height needed a second round")
    c:stop_all()
  end)

  it("restarts all four at once from disk and goes on", function()
    local c = cluster.new(4, { params = PARAMS }):start_all()
    local ids = c:load(20)
    c:wait_committed(ids)
    c:load(20)                          -- in flight when the nodes die
    for i = 1, 4 do c.nodes[i]:kill("KILL") end
    c:start_all()
    c.nonce = nil                       -- resync from the chain
    c:wait_committed(c:load(10))
    c:check_agreement()
    c:stop_all()
  end)
end)

describe("bft with 4 validators, network faults", function()
  lazy_teardown(support.cleanup)
  local tools = cluster.tools

  it("a 2|2 partition stops progress without a fork; healed, the chain goes on", function()
    local c = cluster.new(4, { params = PARAMS })
    -- Every node dials every other through its own proxy port, and
    -- advertises no address, so nothing goes around the proxy.
    local map, cross, taken = {}, {}, {}
    for _, node in ipairs(c.nodes) do taken[node.port], taken[node.p2p] = true, true end
    local function port_for_proxy()          -- free now, and none of the nodes'
      while true do
        local p = support.free_port()
        if not taken[p] then taken[p] = true; return p end
      end
    end
    for i = 1, 4 do
      for j = 1, 4 do
        if i ~= j then
          local port = port_for_proxy()
          map[port] = c.nodes[j].p2p
          c.dial[i][j] = port
          if (i <= 2) ~= (j <= 2) then cross[#cross + 1] = port end
        end
      end
    end
    local px = tools.proxy(map)
    c.listen_any = true
    c:start_all()
    c:wait_committed(c:load(6))
    px:cut(cross)
    local h = c:check_agreement()
    local marks = {}
    for i = 1, 4 do marks[i] = c.nodes[i]:log_mark() end
    local stuck = c:load(8)
    -- Each node goes as far as a 2|2 split lets it: it prevotes at the next
    -- height (its trace says "pv H/0"), and then hears more from its own
    -- side (a stalled round's votes are sent again every
    -- timeout_propose_ms), with no quorum to go further. No height moves.
    local function still(i)
      assert.equal(h, c:height(i), "node " .. i .. " moved during the partition")
      return true
    end
    for i = 1, 4 do
      support.wait_until(200, 100, function()
        return still(i) and c.nodes[i]:log_since(marks[i]):find("pv " .. (h + 1) .. "/0 ", 1, true)
      end, function()
        return "node " .. i .. " never prevoted at height " .. (h + 1) .. ":\n" .. c.nodes[i]:log_tail(10)
      end)
    end
    local frames = {}
    for i = 1, 4 do frames[i] = c.nodes[i]:metric("lunet_p2p_frames_total") end
    for i = 1, 4 do
      support.wait_until(100, 100, function()
        return still(i) and c.nodes[i]:metric("lunet_p2p_frames_total") >= frames[i] + 2
      end, "node " .. i .. " heard nothing more from its side of the partition")
    end
    for i = 1, 4 do still(i) end
    px:heal()
    c:wait_committed(stuck, 60)
    c:wait_committed(c:load(6))
    assert.is_true(c:check_agreement() > h)
    c:stop_all()
    px:stop()
  end)

  it("a byzantine validator's garbage, bad signatures and conflicting messages: the honest three go on, evidence recorded", function()
    local c = cluster.new(4, { params = PARAMS })
    for i = 1, 3 do c:start(i) end           -- node0..node2 honest; node3 is byzantine
    c:wait_committed(c:load(6))
    local info = c.nodes[1]:call("chain_info")
    local H = info.height + 1                -- no load now: the height stays
    local keyfile = c.nodes[4].home .. "/keys/node3.key"
    local key = support.decode_json(support.read_file(keyfile))
    local sk = cluster.core.unhex(key.secret_key)
    local function frame(msg)
      return cluster.core.encode({ from = "node3", m = cluster.core.encode(msg), t = "p" })
    end
    local function vote(t, r, hash, sig)
      local bytes = string.format("lunet-bft|%s|%d|%d|%s", t, H, r, hash)
      return frame({ k = t, h = H, r = r, hash = hash, v = "node3",
                     sig = sig or cluster.core.sign(sk, bytes) })
    end
    local function prop(r, hash)
      local bytes = string.format("lunet-bft|prop|%d|%d|%d|%s", H, r, -1, hash)
      return frame({ k = "prop", h = H, r = r, pol = -1, hash = hash, data = "not a block",
                     v = "node3", sig = cluster.core.sign(sk, bytes) })
    end
    local X, Y = string.rep("a", 64), string.rep("b", 64)
    local r = 1                              -- a round node3 proposes at this height
    while (H + r) % 4 ~= 3 do r = r + 1 end
    local peers = {}
    for i = 1, 3 do
      local p = tools.peer({ key = keyfile, chain = info.chain_id,
                             connect = "127.0.0.1:" .. c.nodes[i].p2p })
      assert.is_true(p.up, "the byzantine peer could not connect to node " .. i)
      p:send(vote("pv", 0, X, string.rep("\0", 64)))       -- a bad signature
      p:send(vote("pv", 9, X))                             -- two prevotes, one round
      p:send(vote("pv", 9, Y))
      p:send(prop(r, X))                                   -- two proposals, one round
      p:send(prop(r, Y))
      peers[i] = p
    end
    for i = 1, 3 do
      support.wait_until(50, 100, function()
        return #c:log_lines(i, "evidence: node3 signed two proposal") > 0 and
               #c:log_lines(i, "evidence: node3 signed two pv") > 0 and
               #c:log_lines(i, "bad pv signature from node3") > 0
      end, "node " .. i .. " recorded no evidence:\n" .. c.nodes[i]:log_tail(10))
    end
    -- Garbage and an oversized frame get the byzantine peer dropped.
    peers[1]:garbage(300)
    assert.truthy(peers[1]:wait_down(5000), "garbage did not get the peer dropped")
    peers[2]:big(20 * 1024 * 1024)
    assert.truthy(peers[2]:wait_down(5000), "an oversized frame did not get the peer dropped")
    -- The honest three keep committing the same blocks.
    c:wait_committed(c:load(9))
    assert.is_true(c:check_agreement() > info.height)
    for i = 1, 3 do assert.truthy(c.nodes[i]:health()) end
    for _, p in pairs(peers) do p:close() end
    c:stop_all()
  end)

  it("a key that is not a member is refused at the handshake, and the nodes' state does not change", function()
    local c = cluster.new(4, { params = PARAMS }):start_all()
    c:wait_committed(c:load(3))
    local before = c.nodes[1]:call("chain_info")
    local pk, skey = cluster.core.keypair()
    local keyfile = support.run_dir() .. "/stranger.key"
    support.write_key(keyfile, "stranger", pk, skey)
    local p = tools.peer({ key = keyfile, chain = before.chain_id,
                           connect = "127.0.0.1:" .. c.nodes[1].p2p, timeout_ms = 3000 })
    assert.is_nil(p.up, "a stranger got past the handshake")
    assert.truthy(p.refused, "lunet-peer did not report a refusal")
    local after = c.nodes[1]:call("chain_info")
    assert.equal(before.head, after.head)
    assert.equal(before.state_root, after.state_root)
    assert.equal(3, after.peers)
    c:check_agreement()
    c:stop_all()
  end)
end)

describe("bft with a validator added by transaction", function()
  lazy_teardown(support.cleanup)

  it("a running member made validator by sys.addvalidator votes from the next height on", function()
    -- A fifth node, a member with its own node key, holds the key of the
    -- validator "node4" the admin adds. With five validators a quorum is
    -- four: once one of the first four is killed, the chain goes on only if
    -- the new validator's votes count (it still connects with its node key).
    local core = cluster.core
    local m_pk, m_sk = core.keypair()
    local v_pk, v_sk = core.keypair()
    local c = cluster.new(4, { params = PARAMS, extra_config = string.format(
      'admin = "alice", members = { %q },', core.hex(m_pk)) })
    local extra = support.node({ name = "member-" .. math.random(1e6) })
    for _, k in ipairs({ { "node", m_pk, m_sk }, { "node4", v_pk, v_sk } }) do
      support.write_key(extra.home .. "/keys/" .. k[1] .. ".key", k[1], k[2], k[3])
    end
    c:start_all()
    local args = {}
    for i = 1, 4 do
      args[#args + 1] = "--peer"
      args[#args + 1] = "127.0.0.1:" .. c.nodes[i].p2p
    end
    extra:start({ command = "start", config = c.config, args = args })
    c:wait_committed(c:load(3))
    local id = c.nodes[1]:send("alice", "sys", "addvalidator", { "node4", core.hex(v_pk) },
                               { nonce = c.nonce.alice, chain_id = c.info.chain_id, expires = 1e9 })
    c.nonce.alice = c.nonce.alice + 1
    local got = c.nodes[1]:wait_committed(id, 200)
    assert.is_true(got.receipt.ok, tostring(got.receipt.error))
    support.wait_until(100, 100, function()
      return extra:log_tail(100):find("validates as node4", 1, true)
    end, "the member never took up node4:\n" .. extra:log_tail(10))
    c.nodes[4]:kill("KILL")
    c:wait_committed(c:load(6), 60)
    local top = c:check_agreement()
    local signed = 0
    for h = got.height + 1, top do
      local blk = c.nodes[1]:call("block_get", { height = h })
      if blk.cert.sigs.node4 then signed = signed + 1 end
    end
    assert.is_true(signed > 0, "no certificate carries node4's precommit")
    c:stop_all()
    extra:stop()
  end)
end)
