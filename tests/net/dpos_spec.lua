-- tests/net/dpos_spec.lua -- consensus/dpos.lua on real validators over real
-- TCP on loopback: four producers under load take their turns, one killed
-- -9 has its turns skipped and catches up when restarted; with two down
-- finality stalls, a block costs the plugin no more as the stall grows,
-- and finality resumes when they are back; a block is final exactly when
-- more than 2/3 of the producers built on it; stake and
-- sys.vote move a producer in and out of the schedule once the block that
-- records it is final, on every node, and a node synced from genesis
-- reaches the same state roots; a producer cut off by a proxy builds a
-- branch of its own that loses to the branch the others confirm, even
-- when its branch is the longer; bad votes through the CLI; a
-- validator's bad blocks; a producer's two blocks for one slot, which the
-- honest producers submit as sys.evidence themselves, slash and jail it
-- and take it out of the schedule;
-- poa swapped to dpos on a live chain.

local cluster = dofile("tests/net/cluster.lua")
local support, tools = cluster.support, cluster.tools

local BPT, BLOCK_MS = 2, 250
local function params(producers)
  return { producers = producers, blocks_per_turn = BPT, block_ms = BLOCK_MS }
end

local function info(c, i) return c.nodes[i]:call("chain_info") end
local function block(c, i, h) return c.nodes[i]:call("block_get", { height = h }) end

-- The schedule in force for a block: the ranking (t) of the block at the
-- height its data names (l) on node i's chain; when that block has none
-- (the genesis, a block of the plugin before) the first validators by name.
local function schedule_of(c, i, b, n)
  local l = b.header.consensus.l
  local at = l > 0 and block(c, i, l).header.consensus    -- none: a block of the plugin before
  if at then return at.t end
  local out = {}
  for k = 1, n do out[k] = "node" .. (k - 1) end
  return out
end

-- Once every running node made final the blocks up to the lowest head
-- (final blocks never change; the head's may, for a moment, when two
-- producers built on one parent): the same hash and state root at every
-- height on every running node, and every transaction seen committed final
-- at one height on all.
local function agree(c)
  local running = c:running()
  local top = c:min_height()
  support.wait_until(600, 100, function()
    for _, i in ipairs(running) do
      if info(c, i).final_height < top then return false end
    end
    return true
  end, "the nodes did not finalize up to height " .. top)
  for h = 1, top do
    local want = block(c, running[1], h)
    for k = 2, #running do
      local got = block(c, running[k], h)
      assert.are.equal(want.hash, got.hash, "height " .. h .. " on node " .. running[k])
      assert.are.equal(want.header.state_root, got.header.state_root, "root at height " .. h)
    end
  end
  -- (At the height every node has now: one committed at the head may have
  -- moved to another block when that head lost.)
  for id in pairs(c.seen) do
    local at
    for _, i in ipairs(running) do
      local r = c.nodes[i]:call("tx_get", { hash = id })
      at = at or r.height
      assert.is_true(r.status == "final" and r.height == at, "transaction " .. id .. " on node " .. i)
    end
  end
end

local function owner(sched, slot)
  return sched[math.floor(slot / BPT) % #sched + 1]
end

-- Every block in heights from..to of node i was made by the owner of its
-- slot under its schedule; returns the proposers seen, by name.
local function check_turns(c, i, from, to, n)
  local seen = {}
  for h = from, to do
    local b = block(c, i, h)
    local cons = b.header.consensus
    local want = owner(schedule_of(c, i, b, n), cons.s)
    assert.are.equal(want, b.header.proposer, "height " .. h .. ", slot " .. cons.s)
    seen[b.header.proposer] = (seen[b.header.proposer] or 0) + 1
  end
  return seen
end

-- The highest block under more than 2/3 of the producers (of the head's
-- schedule, n of them), counted from the head down, as the rule says.
local function lib_by_rule(c, i, head, need)
  local seen, count = {}, 0
  for h = head, 1, -1 do
    local p = block(c, i, h).header.proposer
    if not seen[p] then
      seen[p], count = true, count + 1
      if count >= need then return h - 1 end
    end
  end
  return 0
end

describe("dpos with four producers", function()
  lazy_teardown(support.cleanup)

  it("under load: turns kept, a producer killed -9 skipped, restarted it catches up", function()
    local c = cluster.new(4, { consensus = "dpos", params = params(4) })
    c:start_all()
    c:wait_height(12, 60)
    c:wait_committed(c:load(30), 60)
    local seen = check_turns(c, 1, 1, c:height(1), 4)
    for k = 0, 3 do assert.truthy(seen["node" .. k], "node" .. k .. " made no block") end
    -- node3 down: the others go on, and blocks still go final (3 of 4).
    c.nodes[4]:kill("KILL")
    local h0 = c:height(1)
    local f0 = info(c, 1).final_height
    local ids = c:load(30)
    c:wait_committed(ids, 60)
    c:wait_height(h0 + 16, 60)
    support.wait_until(300, 100, function() return info(c, 1).final_height > h0 + 4 end,
                       "no block went final without node3")
    assert.is_true(info(c, 1).final_height > f0)
    local skipped = false
    local prev = block(c, 1, h0 + 3).header.consensus.s
    for h = h0 + 4, h0 + 16 do
      local b = block(c, 1, h)
      assert.are_not.equal("node3", b.header.proposer, "a block by node3 while it was down")
      if b.header.consensus.s > prev + 1 then skipped = true end
      prev = b.header.consensus.s
    end
    assert.is_true(skipped, "no slot left empty while node3 was down")
    check_turns(c, 1, h0, h0 + 16, 4)
    -- Back: it catches up, makes blocks in its turns again, all agree.
    c:start(4)
    local back = c:height(1)
    support.wait_until(600, 100, function()
      local top = c:height(1)
      for h = back + 1, top do
        if block(c, 1, h).header.proposer == "node3" then return true end
      end
      return false
    end, "node3 made no block after its restart")
    c:wait_committed(c:load(12), 60)
    agree(c)
    c:stop_all()
  end)

  it("two of four down: finality stalls, a block costs the plugin the same work however long; back, it resumes", function()
    local c = cluster.new(4, { consensus = "dpos",
                               params = { producers = 4, blocks_per_turn = BPT, block_ms = 20 } })
    c:start_all()
    -- Past height 64, where each node keeps its summary (node.persist).
    support.wait_until(600, 100, function() return info(c, 1).final_height >= 70 end,
                       "nothing went final with all four up")
    for i = 3, 4 do c.nodes[i]:kill("KILL") end
    local n1 = c.nodes[1]
    -- Height and the plugin's instructions since start, read together.
    local function sample()
      local st, body = n1:http("GET", "/metrics", nil, { timeout = 2 })
      assert.are.equal(200, st)
      return tonumber(body:match("\nlunet_height (%d+)")),
             tonumber(body:match("\nlunet_consensus_gas_total (%d+)"))
    end
    local function at(h)
      local got
      support.wait_until(6000, 20, function()
        local height, gas = sample()
        if height >= h then got = { height = height, gas = gas } end
        return got ~= nil
      end, "node0 did not reach height " .. h)
      return got
    end
    local function per_block(from, to)
      local a, b = at(from), at(to)
      return (b.gas - a.gas) / (b.height - a.height)
    end
    local f0 = info(c, 1).final_height
    local h0 = c:height(1)
    -- A walk down to the stalled last irreversible block would cost each
    -- block ~130 instructions a block of the stall: 3x at 400 as at 40.
    local early = per_block(h0 + 20, h0 + 60)
    local late = per_block(h0 + 400, h0 + 440)
    assert.is_true(early > 0)
    assert.is_true(late < 1.5 * early, ("%.0f instructions a block at 400 blocks of stall, %.0f at 40")
                   :format(late, early))
    local stalled = info(c, 1).final_height
    assert.is_true(stalled <= h0, "a block went final with two of four producers down")
    assert.is_true(stalled >= f0)
    -- Back, from the summaries they kept: the last irreversible block
    -- moves past the stall on every node.
    c:start(3)
    c:start(4)
    local back = c:height(1)
    support.wait_until(1200, 100, function()
      for i = 1, 4 do
        if info(c, i).final_height <= back then return false end
      end
      return true
    end, function()
      local out = { "finality did not resume past " .. back }
      for i = 1, 4 do
        local r = info(c, i)
        out[#out + 1] = ("node %d: height %d, final %d:\n%s"):format(i, r.height, r.final_height,
                                                                     c.nodes[i]:log_tail(8))
      end
      return table.concat(out, "\n")
    end)
    agree(c)
    c:stop_all()
  end)

  it("a block is final once more than 2/3 of the producers built on it; tx_get says final", function()
    local c = cluster.new(4, { consensus = "dpos", params = params(4) })
    c:start_all()
    c:wait_height(10, 60)
    local ids = c:load(10)
    c:wait_committed(ids, 60)
    local checked = 0
    for _ = 1, 20 do
      -- chain_info gives head and final height at one instant; the blocks
      -- read after it count if that head is still the head's chain's.
      local ci = info(c, 2)
      assert.is_true(ci.final_height < ci.height, "final at the head")
      local lib = lib_by_rule(c, 2, ci.height, 3)
      if support.plain_hex(block(c, 2, ci.height).hash) == support.plain_hex(ci.head) then
        assert.are.equal(lib, ci.final_height, "final height at head " .. ci.height)
        checked = checked + 1
        if checked == 5 then break end
      end
      support.wait_until(100, 50, function() return info(c, 2).height > ci.height end,
                         "the head did not move")
    end
    assert.are.equal(5, checked, "the head kept changing under the check")
    local ci = info(c, 1)
    assert.is_true(block(c, 1, ci.final_height).final)
    assert.is_false(block(c, 1, ci.height).final)
    support.wait_until(300, 100, function()
      for _, id in ipairs(ids) do
        if c.nodes[3]:call("tx_get", { hash = id }).status ~= "final" then return false end
      end
      return true
    end, "transactions never final")
    agree(c)
    c:stop_all()
  end)
end)

describe("dpos votes", function()
  lazy_teardown(support.cleanup)

  it("stake and sys.vote move a producer in and out once final; a node synced from genesis agrees", function()
    -- Three producers of four validators: before any vote node0..node2.
    local c = cluster.new(4, { consensus = "dpos", params = params(3) })
    for i = 1, 3 do c:start(i) end
    c:wait_height(8, 60)
    check_turns(c, 1, 1, c:height(1), 3)
    local n1 = c.nodes[1]
    -- Bad votes through the CLI, with stable codes.
    local code, out, err = n1:cli("send", "sys", "vote", '["node1","bob"]', "--as", "alice")
    assert.are_not.equal(0, code)
    assert.truthy((out .. err):find("bob is not a validator", 1, true), out .. err)
    code, out, err = n1:cli("send", "sys", "vote", '["node1","node1"]', "--as", "alice")
    assert.are_not.equal(0, code)
    assert.truthy((out .. err):find("node1 is named twice", 1, true), out .. err)
    code, out, err = n1:cli("send", "sys", "vote", '"node1"', "--as", "alice")
    assert.are_not.equal(0, code)
    assert.truthy((out .. err):find("must be a list of names", 1, true), out .. err)
    -- alice's stake for node3, bob's for node0 and node1: node2 drops out.
    n1:send_wait("alice", "sys", "stake", { 1000 })
    n1:send_wait("bob", "sys", "stake", { 500 })
    n1:send_wait("bob", "sys", "vote", { { "node0", "node1" } })
    code, out, err = n1:cli("send", "sys", "vote", '["node3"]', "--as", "alice")
    assert.are.equal(0, code, out .. err)
    assert.are.same({ "node3" }, n1:call("account_get", { account = "alice" }).votes)
    -- The first block that records the new ranking, then its finality.
    local rec
    support.wait_until(300, 100, function()
      for h = c:height(1), 1, -1 do
        local t = block(c, 1, h).header.consensus.t
        if t and t[3] == "node3" then
          rec = h
        elseif rec then
          return true
        end
      end
      return false
    end, "no block records node3 in the ranking")
    assert.are.same({ "node0", "node1", "node3" }, block(c, 1, rec).header.consensus.t)
    support.wait_until(300, 100, function() return info(c, 1).final_height >= rec end,
                       "the block recording the new ranking never went final")
    -- node3 is not running: its turns are skipped, node2 makes no more
    -- blocks once the schedule that left it out is in force.
    c:wait_height(info(c, 1).final_height + 12, 60)
    local top = c:height(1)
    local switched
    for h = rec, top do
      local b = block(c, 1, h)
      if b.header.consensus.l >= rec then
        switched = switched or h
        assert.are_not.equal("node2", b.header.proposer, "node2 made block " .. h .. " after it left")
      end
    end
    assert.truthy(switched, "no block under the new schedule")
    check_turns(c, 1, 1, top, 3)
    -- node3 starts from genesis: it syncs every block, votes included,
    -- and makes blocks in its turns.
    c:start(4)
    support.wait_until(900, 100, function()
      local t = c:height(1)
      for h = top + 1, t do
        if block(c, 1, h).header.proposer == "node3" then return true end
      end
      return false
    end, "node3 made no block after it synced")
    c:wait_committed(c:load(9), 60)
    -- alice clears her vote: node3 weighs 0, node2 is back (ties by name).
    n1:send_wait("alice", "sys", "vote", { {} })
    local back
    support.wait_until(600, 100, function()
      local t, f = c:height(1), info(c, 1).final_height
      for h = top + 1, t do
        local b = block(c, 1, h)
        local r = b.header.consensus.t
        if r[3] == "node2" and h <= f then back = back or h end
        if back and b.header.consensus.l >= back and b.header.proposer == "node2" then return true end
      end
      return false
    end, "node2 never came back")
    agree(c)
    -- Same state roots on the synced node as on the others.
    local h = c:min_height()
    for i = 2, 4 do
      assert.are.equal(block(c, 1, h).header.state_root, block(c, i, h).header.state_root)
    end
    c:stop_all()
  end)
end)

describe("dpos partitioned", function()
  lazy_teardown(support.cleanup)

  -- Four validators whose P2P goes through a proxy; cut: the ports between
  -- node 4 and the others.
  local function partitioned(p)
    local c = cluster.new(4, { consensus = "dpos", params = p or params(4) })
    local map, cut, taken = {}, {}, {}
    for _, node in ipairs(c.nodes) do taken[node.port], taken[node.p2p] = true, true end
    for i = 1, 4 do
      for j = 1, 4 do
        if i ~= j then
          local port
          repeat port = support.free_port() until not taken[port]
          taken[port] = true
          map[port] = c.nodes[j].p2p
          c.dial[i][j] = port
          if i == 4 or j == 4 then cut[#cut + 1] = port end
        end
      end
    end
    c.listen_any = true
    return c, tools.proxy(map), cut
  end

  it("a producer cut off builds a branch of its own; healed, it takes the branch more producers confirm", function()
    local c, px, cut = partitioned()
    c:start_all()
    c:wait_height(10, 60)
    c:wait_committed(c:load(6), 60)
    px:cut(cut)
    local h0 = math.max(c:height(1), c:height(4))
    local lone = c:load(1, { 4 })[1]           -- only on node 4's side
    local many = c:load(3, { 1, 2, 3 })
    c.nodes[4]:wait_committed(lone, 600)
    -- Node 4 alone: its blocks are never final; the three go on.
    support.wait_until(600, 100, function()
      local b = block(c, 4, c:height(4))
      return b.header.proposer == "node3" and c:height(4) > h0 + 1
    end, "node 4 made no block of its own")
    local f4 = info(c, 4).final_height
    support.wait_until(300, 100, function() return info(c, 1).final_height > h0 + 2 end,
                       "the three made no block final")
    assert.are_not.equal(block(c, 1, c:height(4)).hash, block(c, 4, c:height(4)).hash)
    assert.are.equal(f4, info(c, 4).final_height)
    local before = c.nodes[4]:metric("lunet_reorgs_total")
    px:heal()
    -- Node 4 reorgs to the others' branch; its transaction goes back to a
    -- mempool and into a block of that branch.
    support.wait_until(600, 100, function()
      return c.nodes[4]:metric("lunet_reorgs_total") > before
    end, "node 4 never reorged")
    c:wait_committed(many, 60)
    c:wait_committed({ lone }, 60)
    support.wait_until(300, 100, function()
      return info(c, 4).final_height > h0 + 2
    end, "node 4 never agreed on final blocks")
    agree(c)
    c:stop_all()
    px:stop()
  end)
  it("a fork far above a final block stalled long ago: healed, the two sides find where they meet", function()
    local c, px, cut = partitioned({ producers = 4, blocks_per_turn = BPT, block_ms = 20 })
    c:start_all()
    support.wait_until(600, 100, function() return info(c, 1).final_height >= 10 end,
                       "nothing went final with all four up")
    -- node1 and node2 down: two of four produce, nothing more goes final,
    -- and the head climbs well past one answer to a get (64 blocks) above
    -- the last final block.
    for i = 2, 3 do c.nodes[i]:kill("KILL") end
    support.wait_until(600, 100, function()
      return math.min(c:height(1), c:height(4)) > info(c, 1).final_height + 200
    end, "the head did not climb 200 blocks above the final block")
    px:cut(cut)
    local h0 = math.max(c:height(1), c:height(4))
    support.wait_until(600, 100, function()
      return math.min(c:height(1), c:height(4)) > h0 + 4
    end, "the two sides made no branches of their own")
    local h = math.min(c:height(1), c:height(4))
    assert.are_not.equal(block(c, 1, h).hash, block(c, 4, h).hash)
    local parted = math.max(c:height(1), c:height(4))
    px:heal()
    -- Each side's blocks now reach the other with parents it lacks, far
    -- above its final block: it must find where the branches meet, take
    -- the higher one, and both build on it.
    support.wait_until(600, 100, function()
      local top = math.min(c:height(1), c:height(4)) - 2
      return top > parted and block(c, 1, top).hash == block(c, 4, top).hash
    end, function()
      return "the two sides never met on one branch:\n" .. c.nodes[1]:log_tail(5) .. "\n" ..
             c.nodes[4]:log_tail(5)
    end)
    -- With all four back, finality resumes past the stall and every node agrees.
    c:start(2)
    c:start(3)
    local back = math.max(c:height(1), c:height(4))
    support.wait_until(1200, 100, function()
      for i = 1, 4 do
        if info(c, i).final_height <= back then return false end
      end
      return true
    end, "finality did not resume")
    agree(c)
    c:stop_all()
    px:stop()
  end)

  it("the branch more producers confirmed wins over a longer one", function()
    local c, px, cut = partitioned()
    c:start_all()
    c:wait_height(10, 60)
    px:cut(cut)
    local h0 = math.max(c:height(1), c:height(4))
    support.wait_until(300, 100, function() return info(c, 1).final_height > h0 + 2 end,
                       "the three made no block final")
    -- The three stop while node 4 alone makes its branch the longer one.
    local top = math.max(c:height(1), c:height(2), c:height(3)) + 1   -- + one on its way
    for i = 1, 3 do c:pause(i) end
    support.wait_until(600, 100, function() return c:height(4) > top + 6 end,
                       "node 4's branch did not pass the others'")
    local mark = c.nodes[4]:log_mark()
    local before = c:height(4)
    for i = 1, 3 do c:resume(i) end
    px:heal()
    -- Node 4 leaves its longer branch for the shorter one whose last
    -- irreversible block is higher: a reorg to a lower height.
    local down
    support.wait_until(600, 100, function()
      for line in c.nodes[4]:log_since(mark):gmatch("[^\n]+") do
        local from, to = line:match("reorg: head (%d+) %x+%.%.%. %-> (%d+) ")
        if from and tonumber(to) < tonumber(from) then down = line end
      end
      return down
    end, function() return "node 4 did not reorg to a lower head:\n" .. c.nodes[4]:log_tail(10) end)
    assert.is_true(tonumber(down:match("head (%d+)")) >= before - 1, down)
    agree(c)
    c:stop_all()
    px:stop()
  end)
end)

describe("dpos swapped in on a live chain", function()
  lazy_teardown(support.cleanup)

  it("poa to dpos under load: dpos from its height on every node, nothing lost, a node from genesis agrees", function()
    local c = cluster.new(4, { consensus = "poa", params = { block_ms = 100 },
                               extra_config = 'admin = "alice", params = { swap_delay = 6 },' }):start_all()
    c:wait_committed(c:load(6))
    local n1 = c.nodes[1]
    local at = n1:call("chain_info").height + 12
    local r = n1:send_wait("alice", "gov", "propose",
                           { "plugin", { slot = "consensus", at = at, params = params(4),
                                         code = support.read_file(support.ROOT .. "/consensus/dpos.lua") } },
                           { max_fee = 100000000 })
    assert(r.receipt.ok, r.receipt.error)
    c.nonce = nil
    local ids = {}
    support.wait_until(600, 10, function()
      for _, id in ipairs(c:load(3)) do ids[#ids + 1] = id end
      support.sleep_ms(100)
      return c:min_height() > at + 12
    end, "the chain did not pass height " .. at + 12)
    c:wait_committed(ids, 60)
    for i = 1, 4 do
      local ci = c.nodes[i]:call("chain_info")
      assert.are.equal("dpos", ci.plugins.consensus.name)
      assert.are.equal(at, ci.plugins.consensus.since)
    end
    assert.is_nil(block(c, 1, at - 1).header.consensus)
    check_turns(c, 1, at, c:height(1), 4)
    support.wait_until(300, 100, function() return info(c, 1).final_height > at end,
                       "no dpos block went final")
    -- A node that starts over from genesis follows poa, then dpos.
    c.nodes[4]:stop()
    support.sh("rm -rf " .. support.quote(c.nodes[4].home .. "/data"))
    c:start(4)
    c:wait_height(c:min_height(), 60)
    support.wait_until(600, 100, function() return c:height(4) >= c:height(1) - 2 end,
                       "node 4 did not catch up")
    c:wait_committed(c:load(6), 60)
    agree(c)
    c:stop_all()
  end)
end)

-- ---- blocks by hand ------------------------------------------------------------

local core = cluster.core
local E = core.encode
local function bin32(s) assert(#s == 32); return "\xc4\x20" .. s end
local function unhex0x(s) return core.unhex(s:sub(1, 2) == "0x" and s:sub(3) or s) end
local ZERO = string.rep("\0", 32)

-- A block frame {b, h, last, n, t = "blk"}: header as given (prev: the
-- raw hash), no transactions, cert {sig} (not a real signature).
local function block_frame(h)
  local header = "\x89" .. E("chain_id") .. E(h.chain_id) .. E("consensus") .. E(h.consensus) ..
                 E("height") .. E(h.height) .. E("prev") .. bin32(h.prev) ..
                 E("proposer") .. E(h.proposer) .. E("receipts_root") .. bin32(ZERO) ..
                 E("state_root") .. bin32(ZERO) .. E("time") .. E(h.time) ..
                 E("tx_root") .. bin32(ZERO)
  local cert = "\x81" .. E("sig") .. "\xc4\x40" .. string.rep("\1", 64)
  local blk = "\x84" .. E("cert") .. cert .. E("hash") .. bin32(core.hash(header)) ..
              E("header") .. header .. E("txs") .. "\x90"
  local b = #blk < 256 and "\xc4" .. string.char(#blk)
            or "\xc5" .. string.char(math.floor(#blk / 256), #blk % 256)
  return "\x85" .. E("b") .. b .. blk ..
         E("h") .. E(h.height) .. E("last") .. "\xc3" .. E("n") .. E(h.height) .. E("t") .. E("blk")
end

describe("dpos against a validator's blocks", function()
  lazy_teardown(support.cleanup)

  it("a slot not its own, a slot ahead, a wrong irreversible height or ranking: refused, the sender dropped", function()
    -- Three producers of four validators; node3 never runs: its key sends.
    local c = cluster.new(4, { consensus = "dpos", params = params(3) })
    for i = 1, 3 do c:start(i) end
    c:wait_height(8, 60)
    local node = c.nodes[1]
    -- A block on node 1's head now, as node0 would make it in its next
    -- slot, with `over` changed. A child's l is its parent's last
    -- irreversible height: the head's, which the node has made final.
    local function frame(over)
      local ci = node:call("chain_info")     -- head and final height at one instant
      local head = block(c, 1, ci.height)
      local cons = head.header.consensus
      local sched = schedule_of(c, 1, head, 3)
      local mine = math.max(math.floor(os.time() * 1000 / BLOCK_MS) + 1, cons.s + 1)
      while owner(sched, mine) ~= "node0" do mine = mine + 1 end
      local h = { chain_id = ci.chain_id, prev = unhex0x(head.hash), height = ci.height + 1,
                  time = head.header.time, proposer = "node0",
                  consensus = { s = mine, l = ci.final_height, t = { "node0", "node1", "node2" } } }
      for k, v in pairs(over(ci.final_height, mine)) do
        if k == "consensus" then
          for ck, cv in pairs(v) do h.consensus[ck] = cv end
        else
          h[k] = v
        end
      end
      return block_frame(h), ci.final_height
    end
    local function peer()
      local p = tools.peer({ key = c.nodes[4].home .. "/keys/node3.key",
                             chain = node:call("chain_info").chain_id,
                             connect = "127.0.0.1:" .. node.p2p })
      assert.is_true(p.up, "could not connect: " .. table.concat(p:lines(), "\n"))
      return p
    end
    local mark = node:log_mark()
    local p = peer()
    p:send((frame(function() return { proposer = "node3" } end)))          -- not its slot
    p:send((frame(function(_, s) return { consensus = { s = s + 3600 * 1000 / BLOCK_MS } } end)))
    local bad, lib = frame(function(l) return { consensus = { l = l + 1000 } } end)
    p:send(bad)                                                             -- a wrong lib
    assert.truthy(p:wait_down(20000), "the sender was not dropped")
    local log = node:log_since(mark)
    assert.truthy(log:find("is node0's, not node3's", 1, true), log)
    assert.truthy(log:find("bad slot: in the future", 1, true), log)
    assert.truthy(log:find(("bad last irreversible block: %d, %d expected"):format(lib + 1000, lib),
                           1, true), log)
    assert.truthy(log:find("dropping", 1, true), log)
    p:close()
    -- A ranking the parent's state does not give.
    mark = node:log_mark()
    p = peer()
    p:send((frame(function() return { consensus = { t = { "node0", "node1", "node3" } } } end)))
    support.wait_until(100, 100, function()
      return node:log_since(mark):find("bad ranking: node0,node1,node2 expected", 1, true)
    end, function() return "not refused for its ranking:\n" .. node:log_tail(10) end)
    assert.truthy(node:health())
    p:close()
    local ci = node:call("chain_info")
    -- The chain goes on.
    c:wait_height(ci.height + 4, 60)
    agree(c)
    c:stop_all()
  end)
end)

describe("dpos against a producer that signs two blocks for one slot", function()
  lazy_teardown(support.cleanup)

  it("the honest producers submit its two headers themselves: slashed, jailed, out of the schedule once final, the chain goes on", function()
    local p = params(4)
    p.slash_percent, p.jail_blocks = 10, 1000
    local c = cluster.new(4, { consensus = "dpos", params = p })
    for i = 1, 4 do c:start(i) end
    c:wait_height(10, 60)
    local n1 = c.nodes[1]
    local before = n1:call("account_get", { account = "node3" }).stake or 0
    -- node2 paused: a block of node3's goes final only with node3 on top
    -- of it again. node3 is killed just after the last block of its turn,
    -- which then stays above the final height while node2 is away.
    c:pause(3)
    local b
    support.wait_until(1000, 10, function()
      local top = block(c, 1, info(c, 1).height)
      if top.header.proposer == "node3" and top.header.consensus.s % BPT == BPT - 1 and #top.txs == 0 then
        b = top
        return true
      end
    end, "node3 made no block at the end of its turn")
    c.nodes[4]:kill("KILL")
    local hb, slot = b.header.height, b.header.consensus.s
    assert.is_true(info(c, 1).final_height < hb, "node3's block went final already")
    local function header(time)
      local x = b.header
      return "\x89" .. E("chain_id") .. E(x.chain_id) .. E("consensus") .. E(x.consensus) ..
             E("height") .. E(x.height) .. E("prev") .. bin32(unhex0x(x.prev)) ..
             E("proposer") .. E(x.proposer) .. E("receipts_root") .. bin32(unhex0x(x.receipts_root)) ..
             E("state_root") .. bin32(unhex0x(x.state_root)) .. E("time") .. E(time) ..
             E("tx_root") .. bin32(unhex0x(x.tx_root))
    end
    local real = header(b.header.time)
    assert.are.equal(unhex0x(b.hash), core.hash(real))
    -- node3's key signs a second block for that slot, another time, and
    -- sends it to node0 and node1; nobody submits anything.
    local sk = core.unhex(support.decode_json(support.read_file(c.nodes[4].home .. "/keys/node3.key")).secret_key)
    local function sign(bytes) return core.sign(sk, core.hex(core.hash(bytes))) end
    local second = header(b.header.time + 1)
    local blk = "\x84" .. E("cert") .. "\x81" .. E("sig") .. "\xc4\x40" .. sign(second) ..
                E("hash") .. bin32(core.hash(second)) .. E("header") .. second .. E("txs") .. "\x90"
    local frame = "\x85" .. E("b") .. "\xc5" .. string.char(math.floor(#blk / 256), #blk % 256) .. blk ..
                  E("h") .. E(hb) .. E("last") .. "\xc3" .. E("n") .. E(hb) .. E("t") .. E("blk")
    -- Connected to both first, then sent at once: the first evidence a
    -- block takes punishes, and a node that sees the block after that
    -- finds node3 punished already and sends nothing.
    local chain_id = info(c, 1).chain_id
    local peers = {}
    for i = 1, 2 do
      peers[i] = tools.peer({ key = c.nodes[4].home .. "/keys/node3.key", chain = chain_id,
                              connect = "127.0.0.1:" .. c.nodes[i].p2p })
      assert.is_true(peers[i].up, "could not connect: " .. table.concat(peers[i]:lines(), "\n"))
    end
    for i = 1, 2 do peers[i]:send(frame) end
    local caught = ("evidence: node3 made two blocks for slot %d at height %d: "):format(slot, hb)
    local outcome = "evidence: node3 punished for height " .. hb .. " by this node's sys.evidence in block "
    local refused = "evidence: this node's sys.evidence against node3 at height " .. hb .. " refused in block "
    local submitted = {}
    for i = 1, 2 do
      support.wait_until(200, 100, function() return #c:log_lines(i, caught) > 0 end,
                         function() return "node " .. i .. " caught nothing:\n" .. c.nodes[i]:log_tail(10) end)
      local lines = c:log_lines(i, caught)
      assert.are.equal(1, #lines, table.concat(lines, "\n"))
      if lines[1]:find("; submitted", 1, true) then
        -- It says how its own fared in one line: punished, or came second.
        submitted["node" .. (i - 1)] = i
        support.wait_until(200, 100, function()
          return #c:log_lines(i, outcome) + #c:log_lines(i, refused) > 0
        end, function() return "node " .. i .. " logged no outcome:\n" .. c.nodes[i]:log_tail(10) end)
        assert.are.equal(1, #c:log_lines(i, outcome) + #c:log_lines(i, refused))
      else
        assert.truthy(lines[1]:find("; not submitted: node3 was punished at block", 1, true), lines[1])
      end
    end
    for i = 1, 2 do peers[i]:close() end
    c:resume(3)
    local txs, punished_at = {}, nil
    local top = c:height(1)
    for h = hb, top do
      for _, t in ipairs(block(c, 1, h).txs) do
        local a = t.actions[1]
        if a.contract == "sys" and a.method == "evidence" then txs[#txs + 1] = { t = t, h = h } end
      end
    end
    local nsub = 0
    for _ in pairs(submitted) do nsub = nsub + 1 end
    assert.are.equal(nsub, #txs)
    for _, x in ipairs(txs) do
      assert.truthy(submitted[x.t.account], x.t.account .. " sent evidence it did not log")
      submitted[x.t.account] = nil                      -- once each
      local r = n1:call("tx_get", { hash = x.t.hash }).receipt
      assert.are.equal(0, r.fee)
      if r.ok then
        assert.is_nil(punished_at, "two evidence transactions punished")
        punished_at = x.h
        assert.are.equal("slash", r.events[1].name)
      else
        assert.truthy(tostring(r.error):find("node3 was punished at block " .. tostring(punished_at), 1, true),
                      tostring(r.error))
      end
    end
    assert.truthy(punished_at, "no evidence transaction punished node3")
    -- Anyone may still send it: the same evidence again is refused.
    local function signed(bytes) return { header = core.hex(bytes), sig = core.hex(sign(bytes)) } end
    local e = { validator = "node3", type = "blk", a = signed(real), b = signed(second) }
    local again = n1:send_wait("bob", "sys", "evidence", { e })
    assert.is_false(again.receipt.ok)
    assert.truthy(tostring(again.receipt.error):find("node3 was punished at block " .. punished_at, 1, true),
                  tostring(again.receipt.error))
    c.nonce = nil
    local r = { height = punished_at }
    for i = 1, 3 do
      support.wait_until(200, 100, function() return c:height(i) >= punished_at end, "node " .. i .. " behind")
      local a = c.nodes[i]:call("account_get", { account = "node3" })
      assert.are.equal(r.height + 1000, a.jailed_until)
      assert.are.equal(before - math.floor(before / 10), a.stake or 0)
    end
    -- The ranking without node3, then the block recording it final: from
    -- there on node3's turns are gone and the three go on.
    local rec
    support.wait_until(300, 100, function()
      for h = c:height(1), r.height, -1 do
        local t = block(c, 1, h).header.consensus.t
        if #t == 3 then rec = h end
      end
      return rec ~= nil
    end, "no block recorded the ranking without node3")
    assert.are.same({ "node0", "node1", "node2" }, block(c, 1, rec).header.consensus.t)
    support.wait_until(600, 100, function() return info(c, 1).final_height >= rec end,
                       "the ranking without node3 did not go final")
    local from
    support.wait_until(600, 100, function()
      for h = rec + 1, c:height(1) do
        if block(c, 1, h).header.consensus.l >= rec then from = h return true end
      end
    end, "no block under the new schedule")
    c:wait_height(from + 12, 60)
    local seen = check_turns(c, 1, from, from + 12, 4)
    assert.is_nil(seen.node3)
    agree(c)
    -- No node sent the evidence again: theirs and bob's.
    local n = 0
    for h = hb, c:min_height() do
      for _, t in ipairs(block(c, 1, h).txs) do
        if t.actions[1].method == "evidence" then n = n + 1 end
      end
    end
    assert.are.equal(#txs + 1, n)
    c:stop_all()
  end)
end)
