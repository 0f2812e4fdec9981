-- tests/net/pos_spec.lua -- four real validators on consensus/pos.lua over
-- real TCP: votes counted by stake under load, a validator killed and
-- restarted, a stake change that moves the set at an epoch boundary + 2 on
-- every node alike, a byzantine validator whose two conflicting prevotes
-- (sent over the wire with its key) the honest nodes submit as
-- sys.evidence themselves, which slashes and jails it while the chain goes
-- on, and a node synced from genesis that
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

  -- The sys.evidence transactions in blocks from..to of node 1: {account, hash, height}.
  local function evidence_txs(from, to)
    local out = {}
    for h = from, to do
      for _, t in ipairs(c.nodes[1]:call("block_get", { height = h }).txs) do
        local a = t.actions and t.actions[1]
        if a and a.contract == "sys" and a.method == "evidence" then
          out[#out + 1] = { account = t.account, hash = t.hash, height = h }
        end
      end
    end
    return out
  end

  it("a byzantine validator's two prevotes are punished by the honest nodes themselves: slashed, jailed, out of the set; the chain goes on", function()
    c.nodes[4]:kill("KILL")                 -- node3 turns byzantine
    local info = c.nodes[1]:call("chain_info")
    local H = info.height + 1               -- no load now: the height stays
    local keyfile = c.nodes[4].home .. "/keys/node3.key"
    local sk = core.unhex(support.decode_json(support.read_file(keyfile)).secret_key)
    local X, Y = string.rep("a", 64), string.rep("b", 64)
    local function sig(hash, k) return core.sign(sk, string.format("lunet-pos|%s|%d|9|%s", k or "pv", H, hash)) end
    local function vote(hash, k)
      return core.encode({ from = "node3", t = "p", m = core.encode({ k = k or "pv", h = H, r = 9,
                           hash = hash, v = "node3", sig = sig(hash, k) }) })
    end
    -- Connected to all three first, then sent at once: the first evidence
    -- a node submits makes the next block, and a node still at H must see
    -- the votes before that block moves it on.
    local peers = {}
    for i = 1, 3 do
      local p = tools.peer({ key = keyfile, chain = info.chain_id,
                             connect = "127.0.0.1:" .. c.nodes[i].p2p })
      assert.is_true(p.up, "the byzantine peer could not connect to node " .. i)
      peers[i] = p
    end
    -- Two prevotes, then two precommits: evidence twice for one height,
    -- which a node submits once.
    local x, y, px, py = vote(X), vote(Y), vote(X, "pc"), vote(Y, "pc")
    for _, m in ipairs({ x, y, px, py }) do
      for i = 1, 3 do peers[i]:send(m) end
    end
    -- Nobody submits anything: each honest node sends sys.evidence itself
    -- (or finds node3 punished already), and the first a block takes
    -- slashes and jails node3 on every node.
    local caught = "evidence: node3 signed two pv at height " .. H .. " round 9: "
    for i = 1, 3 do
      support.wait_until(100, 100, function() return #c:log_lines(i, caught) > 0 end,
                         function() return "node " .. i .. " recorded no evidence:\n" .. c.nodes[i]:log_tail(10) end)
    end
    for _, p in pairs(peers) do p:close() end
    for i = 1, 3 do
      support.wait_until(100, 100, function()
        return (c.nodes[i]:call("account_get", { account = "node3" }).jailed_until or 0) > 0
      end, function() return "node3 is not jailed on node " .. i .. ":\n" .. c.nodes[i]:log_tail(10) end)
    end
    -- Each node that submitted hears how its transaction fared, in one
    -- line: it punished, or a block took it second and refused it.
    local submitted, outcome = {}, "evidence: node3 punished for height " .. H
    local second = "sys.evidence against node3 at height " .. H .. " refused in block"
    for i = 1, 3 do
      local lines = c:log_lines(i, caught)
      assert.are.equal(1, #lines, table.concat(lines, "\n"))
      -- The precommits' evidence, when a node saw them before the block
      -- moved it on, is not sent again.
      for _, l in ipairs(c:log_lines(i, "evidence: node3 signed two pc at height " .. H)) do
        assert.truthy(l:find("; not submitted: sent already", 1, true) or
                      l:find("; not submitted: node3 was punished at block", 1, true), l)
      end
      if lines[1]:find("; submitted", 1, true) then
        submitted["node" .. (i - 1)] = i
        support.wait_until(100, 100, function()
          return #c:log_lines(i, outcome) + #c:log_lines(i, second) > 0
        end, function() return "node " .. i .. " logged no outcome:\n" .. c.nodes[i]:log_tail(10) end)
        assert.are.equal(1, #c:log_lines(i, outcome) + #c:log_lines(i, second))
      else
        assert.truthy(lines[1]:find("not submitted: node3 was punished at block", 1, true), lines[1])
      end
    end
    -- One transaction per node that submitted; the first punished, the
    -- others were refused, and none cost a fee.
    local top = c:min_height()
    local txs = evidence_txs(H, top)
    local n, punished_at = 0, nil
    for _ in pairs(submitted) do n = n + 1 end
    assert.is_true(n >= 1)
    assert.are.equal(n, #txs)
    for _, t in ipairs(txs) do
      local i = submitted[t.account]
      assert.truthy(i, t.account .. " sent evidence it did not log")
      submitted[t.account] = nil                      -- once each
      local r = c.nodes[1]:call("tx_get", { hash = t.hash }).receipt
      assert.are.equal(0, r.fee)
      if r.ok then
        assert.is_nil(punished_at, "two evidence transactions punished")
        punished_at = t.height
        assert.are.equal("slash", r.events[1].name)
        assert.are.equal("node3", r.events[1].data.validator)
        assert.are.equal(1, #c:log_lines(i, outcome .. " by this node's sys.evidence in block " .. t.height))
      else
        assert.truthy(tostring(r.error):find("node3 was punished at block " .. (punished_at or ""), 1, true),
                      tostring(r.error))
        assert.are.equal(1, #c:log_lines(i, second .. " " .. t.height .. ": "))
      end
    end
    assert.truthy(punished_at, "no evidence transaction punished node3")
    -- The refusals are expected: no node logs them as failed calls at info.
    for i = 1, 3 do
      for _, l in ipairs(c:log_lines(i, "sys.evidence failed")) do
        assert.is_nil(l:find(" info ", 1, true), l)
      end
    end
    -- Anyone may still submit it: the same evidence again is refused.
    local e = { validator = "node3", height = H, round = 9, type = "pv",
                a = { hash = X, sig = core.hex(sig(X)) }, b = { hash = Y, sig = core.hex(sig(Y)) } }
    local again = c.nodes[1]:send_wait("bob", "sys", "evidence", { e })
    assert.is_false(again.receipt.ok)
    assert.truthy(tostring(again.receipt.error):find("node3 was punished at block " .. punished_at, 1, true),
                  tostring(again.receipt.error))
    c.nonce = nil
    for i = 1, 3 do
      local a = c.nodes[i]:call("account_get", { account = "node3" })
      assert.are.equal(450, a.stake)
      assert.are.equal(punished_at + 1000, a.jailed_until)
      assert.are.equal("node0:1000,node1:1000,node2:1000", (set_of(c, i)))
    end
    -- Past the next boundaries it stays out; the three go on, and send no
    -- more evidence.
    local h = c:min_height()
    support.wait_until(300, 100, function()
      c:wait_committed(c:load(2))
      return c:min_height() >= h + 2 * PARAMS.epoch
    end, "the chain did not go on")
    for i = 1, 3 do assert.are.equal("node0:1000,node1:1000,node2:1000", (set_of(c, i))) end
    local all = evidence_txs(H, c:min_height())
    assert.are.equal(#txs + 1, #all)                  -- and bob's
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
