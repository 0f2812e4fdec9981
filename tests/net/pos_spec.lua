-- tests/net/pos_spec.lua -- four real validators on consensus/pos.lua over
-- real TCP: votes counted by stake under load, a validator killed and
-- restarted, a stake change that moves the set at an epoch boundary + 2 on
-- every node alike, a byzantine validator whose two conflicting prevotes
-- (sent over the wire with its key) become sys.evidence that slashes and
-- jails it while the chain goes on, and a node synced from genesis that
-- reaches the same blocks and state roots.

local cluster = dofile("tests/net/cluster.lua")
local support, tools, core = cluster.support, cluster.tools, cluster.core

local PARAMS = { timeout_propose_ms = 600, timeout_vote_ms = 200, timeout_delta_ms = 200,
                 epoch = 5, max_validators = 4, slash_percent = 10, jail_blocks = 1000 }

-- chain_info.validator_set of node i: "name:power,..." and since.
local function set_of(c, i)
  local vs = c.nodes[i]:call("chain_info").validator_set
  local out = {}
  for _, v in ipairs(vs.set) do out[#out + 1] = v.name .. ":" .. v.power end
  return table.concat(out, ","), vs.since
end

-- Loads until every running node's set is want and came in force after
-- height `after`; returns since. The set must be the same on every node.
local function wait_set(c, want, after)
  local since
  support.wait_until(300, 100, function()
    c:wait_committed(c:load(1))
    for _, i in ipairs(c:running()) do
      local s, from = set_of(c, i)
      if s ~= want or from <= after then return false end
      since = from
    end
    return true
  end, function()
    local got = {}
    for _, i in ipairs(c:running()) do got[#got + 1] = c.nodes[i].name .. " " .. set_of(c, i) end
    return "the set never became " .. want .. ": " .. table.concat(got, "; ")
  end)
  return since
end

describe("pos with 4 validators", function()
  local c
  lazy_setup(function()
    c = cluster.new(4, { consensus = "pos", params = PARAMS,
                         stakes = { 1000, 1000, 1000, 1000 } }):start_all()
  end)
  lazy_teardown(function()
    if c then c:stop_all() end
    support.cleanup()
  end)

  it("commits under load with certificates of more than 2/3 of the stake", function()
    c:wait_committed(c:load(30))
    local top = c:check_agreement()
    for i = 1, 4 do
      assert.are.equal("node0:1000,node1:1000,node2:1000,node3:1000", (set_of(c, i)))
    end
    for h = 1, top do
      local b = c.nodes[1]:call("block_get", { height = h })
      local n = 0
      for _ in pairs(b.cert.sigs) do n = n + 1 end
      assert.is_true(n >= 3, "height " .. h .. " has " .. n .. " precommits")
    end
  end)

  it("goes on when a validator is killed, and the restarted one catches up", function()
    c.nodes[3]:kill("KILL")
    c:wait_committed(c:load(20))
    local h = c:min_height()
    c:start(3)
    c:wait_height(h)
    c:wait_committed(c:load(5))
    c:check_agreement()
  end)

  it("a stake change moves the set at an epoch boundary + 2, on every node alike", function()
    local n4 = c.nodes[4]
    c.nodes[1]:send_wait("alice", "sys", "transfer", { "node3", 1000000000 })
    c.nonce = nil                           -- c:load asks for alice's nonce again
    local r = n4:send_wait("node3", "sys", "unstake", { 1000 })
    -- Out: node3 has no stake left.
    local since = wait_set(c, "node0:1000,node1:1000,node2:1000", r.height)
    assert.are.equal(2, since % PARAMS.epoch, "in force at a boundary + 2, not " .. since)
    assert.is_true(since - 2 >= r.height)
    -- Back in with a stake of its own: a candidate staking.
    r = n4:send_wait("node3", "sys", "stake", { 500 })
    since = wait_set(c, "node0:1000,node1:1000,node2:1000,node3:500", since)
    assert.are.equal(2, since % PARAMS.epoch)
    assert.is_true(since - 2 >= r.height)
    c:check_agreement()
  end)

  it("a byzantine validator's two prevotes become evidence: slashed, jailed, out of the set; the chain goes on", function()
    c.nodes[4]:kill("KILL")                 -- node3 turns byzantine
    local info = c.nodes[1]:call("chain_info")
    local H = info.height + 1               -- no load now: the height stays
    local keyfile = c.nodes[4].home .. "/keys/node3.key"
    local sk = core.unhex(support.decode_json(support.read_file(keyfile)).secret_key)
    local X, Y = string.rep("a", 64), string.rep("b", 64)
    local function sig(hash) return core.sign(sk, string.format("lunet-pos|pv|%d|9|%s", H, hash)) end
    local function vote(hash)
      return core.encode({ from = "node3", t = "p", m = core.encode({ k = "pv", h = H, r = 9,
                           hash = hash, v = "node3", sig = sig(hash) }) })
    end
    local peers = {}
    for i = 1, 3 do
      local p = tools.peer({ key = keyfile, chain = info.chain_id,
                             connect = "127.0.0.1:" .. c.nodes[i].p2p })
      assert.is_true(p.up, "the byzantine peer could not connect to node " .. i)
      p:send(vote(X))
      p:send(vote(Y))
      peers[i] = p
    end
    for i = 1, 3 do
      support.wait_until(50, 100, function()
        return #c:log_lines(i, "evidence: node3 signed two pv at height " .. H) > 0
      end, "node " .. i .. " recorded no evidence:\n" .. c.nodes[i]:log_tail(10))
    end
    for _, p in pairs(peers) do p:close() end
    -- Anyone submits it.
    local e = { validator = "node3", height = H, round = 9, type = "pv",
                a = { hash = X, sig = core.hex(sig(X)) }, b = { hash = Y, sig = core.hex(sig(Y)) } }
    local r = c.nodes[1]:send_wait("bob", "sys", "evidence", { e })
    assert.is_true(r.receipt.ok, r.receipt.error)
    -- The same evidence twice is refused.
    local again = c.nodes[1]:send_wait("bob", "sys", "evidence", { e })
    assert.is_false(again.receipt.ok)
    assert.truthy(tostring(again.receipt.error):find("node3 was punished at block", 1, true),
                  tostring(again.receipt.error))
    c.nonce = nil
    for i = 1, 3 do
      local a = c.nodes[i]:call("account_get", { account = "node3" })
      assert.are.equal(450, a.stake)
      assert.are.equal(r.height + 1000, a.jailed_until)
      assert.are.equal("node0:1000,node1:1000,node2:1000", (set_of(c, i)))
    end
    -- Past the next boundaries it stays out; the three go on.
    local h = c:min_height()
    support.wait_until(300, 100, function()
      c:wait_committed(c:load(2))
      return c:min_height() >= h + 2 * PARAMS.epoch
    end, "the chain did not go on")
    for i = 1, 3 do assert.are.equal("node0:1000,node1:1000,node2:1000", (set_of(c, i))) end
    c:check_agreement()
  end)

  it("a node synced from genesis reaches the same blocks and state roots", function()
    local n4 = c.nodes[4]
    c.nonce = nil
    assert.is_true(os.execute("rm -rf '" .. n4.home .. "/data'") == 0 or true)
    c:start(4)
    local h = c:min_height()
    support.wait_until(300, 100, function() return c:height(4) >= h end,
                       function() return "node 4 stuck at " .. c:height(4) .. " of " .. h end)
    c:wait_committed(c:load(3))
    assert.is_true(c:check_agreement() >= h)
    assert.are.equal((set_of(c, 1)), (set_of(c, 4)))
    assert.are.equal(450, n4:call("account_get", { account = "node3" }).stake)
  end)
end)
