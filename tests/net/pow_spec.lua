-- tests/net/pow_spec.lua -- consensus/pow.lua on real validators over real
-- TCP on loopback, through a proxy that partitions them: two miners of one
-- genesis mine apart and meet (both end on the branch with more work, no
-- transaction lost), the loser killed -9 while it reorgs, a member's
-- blocks with a wrong parent, a bad timestamp or too little work refused
-- and scored, and a reorg deeper than `confirmations` refused.

local cluster = dofile("tests/net/cluster.lua")
local support, tools, core = cluster.support, cluster.tools, cluster.core

-- Low difficulty, short blocks, paused searches: two miners share the box.
local PARAMS = { difficulty = 20000, block_ms = 200, window = 4, confirmations = 40,
                 slice = 2000, pause_ms = 2 }
-- Blocks come fast until the first retargets: forks start past this height.
local WARM = 12

-- n validators (the first two mine; the rest never start) whose P2P goes
-- through a proxy; cross: the proxy ports between node 1 and node 2.
local function partitioned(n, params)
  local c = cluster.new(n, { consensus = "pow", params = params })
  local map, cross, taken = {}, {}, {}
  for _, node in ipairs(c.nodes) do taken[node.port], taken[node.p2p] = true, true end
  local function port_for_proxy()
    while true do
      local p = support.free_port()
      if not taken[p] then taken[p] = true; return p end
    end
  end
  for i = 1, n do
    for j = 1, n do
      if i ~= j then
        local port = port_for_proxy()
        map[port] = c.nodes[j].p2p
        c.dial[i][j] = port
        if i <= 2 and j <= 2 then cross[#cross + 1] = port end
      end
    end
  end
  c.listen_any = true
  return c, tools.proxy(map), cross
end

local function info(c, i) return c.nodes[i]:call("chain_info") end

local function work(c, i)
  local h = info(c, i).height
  return c.nodes[i]:call("block_get", { height = h }).header.consensus.w
end

-- Both on one head, past height h.
local function wait_converged(c, h, seconds)
  support.wait_until(math.floor((seconds or 60) * 10), 100, function()
    local a, b = info(c, 1), info(c, 2)
    return a.head == b.head and a.height > h
  end, function()
    local a, b = info(c, 1), info(c, 2)
    return string.format("no common head: node1 %d %s, node2 %d %s", a.height, a.head,
                         b.height, b.head)
  end)
end

-- The same blocks up to the lower final height, every one final there.
local function agree_on_final(c)
  local top = math.min(info(c, 1).final_height, info(c, 2).final_height)
  for h = 1, top do
    local a = c.nodes[1]:call("block_get", { height = h })
    local b = c.nodes[2]:call("block_get", { height = h })
    assert.equal(a.hash, b.hash, "height " .. h)
    assert.is_true(a.final and b.final, "block " .. h .. " is not final")
  end
  return top
end

local function status(c, i, id) return c.nodes[i]:call("tx_get", { hash = id }).status end

describe("pow with two miners", function()
  lazy_teardown(support.cleanup)

  it("mining apart then meeting: both end on the branch with more work, no transaction lost", function()
    local c, px, cross = partitioned(2, PARAMS)
    c:start_all()
    c:wait_height(WARM, 60)
    c:wait_committed(c:load(2))
    px:cut(cross)
    local cut = math.max(c:height(1), c:height(2))
    local a = c:load(1, { 1 })[1]          -- only on node 1's side
    local b = c:load(1, { 2 })[1]          -- only on node 2's side
    c.nodes[1]:wait_committed(a, 600)
    c.nodes[2]:wait_committed(b, 600)
    c:wait_height(cut + 2, 60)
    -- Apart: each side lacks the other's transaction, and a block of its own.
    assert.equal("unknown", status(c, 2, a))
    assert.equal("unknown", status(c, 1, b))
    local h1 = c.nodes[1]:call("block_get", { height = cut + 1 }).hash
    assert.are_not.equal(h1, c.nodes[2]:call("block_get", { height = cut + 1 }).hash)
    local events = { c.nodes[1]:events(), c.nodes[2]:events() }
    local before = { c.nodes[1]:metric("lunet_reorgs_total"), c.nodes[2]:metric("lunet_reorgs_total") }
    local top = math.max(c:height(1), c:height(2))
    px:heal()
    wait_converged(c, top)
    -- Both transactions committed on both nodes: the loser's went back to
    -- its mempool and into a block of the winning branch.
    c:wait_committed({ a, b }, 60)
    local reorged
    for i = 1, 2 do
      if c.nodes[i]:metric("lunet_reorgs_total") > before[i] then reorged = i end
    end
    assert.truthy(reorged, "neither node reorged")
    local ev = events[reorged]:wait_for("reorg", nil, 30)
    assert.truthy(ev, "no SSE reorg event from node " .. reorged)
    assert.is_true(ev.data.depth >= 1 and ev.data.to.height >= ev.data.from.height - ev.data.depth)
    assert.is_true(c.nodes[reorged]:metric("lunet_reorg_depth_max") >= 1)
    for _, e in ipairs(events) do e:close() end
    -- Final blocks agree, and a transaction goes final in time.
    support.wait_until(600, 100, function() return status(c, 1, a) == "final" end,
                       "transaction never final")
    agree_on_final(c)
    c:stop_all()
    px:stop()
  end)

  it("the loser killed -9 while it reorgs comes back on the winning branch", function()
    local c, px, cross = partitioned(2, PARAMS)
    c:start_all()
    c:wait_height(WARM, 60)
    c:wait_committed(c:load(2))
    px:cut(cross)
    local cut = math.max(c:height(1), c:height(2))
    local b = c:load(1, { 2 })[1]
    c.nodes[2]:wait_committed(b, 600)
    -- Node 2 stops mining: its branch loses. It may mine one more block
    -- after its work is read: node 1 passes it by far.
    local w2 = work(c, 2)
    local d2 = c.nodes[2]:call("block_get", { height = c:height(2) }).header.consensus.d
    c:pause(2)
    local a = c:load(1, { 1 })[1]
    c.nodes[1]:wait_committed(a, 600)
    support.wait_until(600, 100, function()
      return c:height(1) > cut + 3 and work(c, 1) > w2 + 16 * d2
    end, "node 1 did not pull ahead")
    px:heal()
    c:resume(2)
    support.sleep_ms(math.random(0, 30))    -- somewhere in sync or its reorg
    c.nodes[2]:kill("KILL")
    c:start(2)                              -- opens: its state root matches its head
    wait_converged(c, cut + 3)
    c:wait_committed({ a, b }, 60)
    assert.equal(c.nodes[1]:call("block_get", { height = cut + 1 }).hash,
                 c.nodes[2]:call("block_get", { height = cut + 1 }).hash)
    agree_on_final(c)
    c:stop_all()
    px:stop()
  end)
end)

-- ---- blocks by hand ------------------------------------------------------------

local E = core.encode
local function bin32(s) assert(#s == 32); return "\xc4\x20" .. s end
local function unhex0x(s) return core.unhex(s:sub(1, 2) == "0x" and s:sub(3) or s) end
local ZERO = string.rep("\0", 32)

local function be64(n)
  local t = {}
  for i = 8, 1, -1 do
    t[i] = string.char(n % 256)
    n = math.floor(n / 256)
  end
  return table.concat(t)
end

-- A block frame {b, h, last, n, t = "blk"}: header as given (prev: the
-- raw hash), no transactions, cert {nonce, sig}; n: the height the frame
-- says.
local function block_frame(h, nonce, n)
  local header = "\x89" .. E("chain_id") .. E(h.chain_id) .. E("consensus") .. E(h.consensus) ..
                 E("height") .. E(h.height) .. E("prev") .. bin32(h.prev) ..
                 E("proposer") .. E(h.proposer) .. E("receipts_root") .. bin32(ZERO) ..
                 E("state_root") .. bin32(ZERO) .. E("time") .. E(h.time) ..
                 E("tx_root") .. bin32(ZERO)
  local hash = core.hash(header)
  local cert = "\x82" .. E("nonce") .. E(nonce) .. E("sig") .. "\xc4\x40" .. string.rep("\1", 64)
  local blk = "\x84" .. E("cert") .. cert .. E("hash") .. bin32(hash) .. E("header") .. header ..
              E("txs") .. "\x90"
  local b = #blk < 256 and "\xc4" .. string.char(#blk)
            or "\xc5" .. string.char(math.floor(#blk / 256), #blk % 256)
  return "\x85" .. E("b") .. b .. blk ..
         E("h") .. E(n) .. E("last") .. "\xc3" .. E("n") .. E(n) .. E("t") .. E("blk"), hash
end

describe("pow against a member's blocks", function()
  local c, px
  lazy_setup(function()
    c, px = partitioned(3, PARAMS)          -- node2 never runs: its key is the sender's
    c:start(1)
    c:start(2)
    c:wait_height(WARM, 60)
  end)
  lazy_teardown(function()
    if c then c:stop_all() end
    if px then px:stop() end
    support.cleanup()
  end)

  local function peer(i)
    local p = tools.peer({ key = c.nodes[3].home .. "/keys/node2.key", chain = info(c, i).chain_id,
                           connect = "127.0.0.1:" .. c.nodes[i].p2p })
    assert.is_true(p.up, "could not connect: " .. table.concat(p:lines(), "\n"))
    return p
  end

  local function head_header(i)
    local hi = info(c, i)
    local b = c.nodes[i]:call("block_get", { height = hi.height })
    return b, hi
  end

  it("a wrong parent, a bad timestamp and a low difficulty are refused, and the sender dropped", function()
    local node = c.nodes[1]
    local head, hi = head_header(1)
    local mark = node:log_mark()
    local p = peer(1)
    local cons = head.header.consensus
    local base = { chain_id = hi.chain_id, proposer = "node0", prev = unhex0x(head.hash),
                   time = head.header.time }
    -- 1. its parent is the head, its height the head's: not the next one.
    local h1 = { height = hi.height, consensus = { d = cons.d, s = cons.s, t = cons.t, w = cons.w + cons.d } }
    -- 2. a time an hour ahead of the clock.
    local h2 = { height = hi.height + 1,
                 consensus = { d = cons.d, s = cons.s, t = cons.t + 3600000, w = cons.w + cons.d } }
    -- 3. difficulty 1: nearly no work.
    local h3 = { height = hi.height + 1, consensus = { d = 1, s = cons.s, t = cons.t, w = cons.w + 1 } }
    for _, h in ipairs({ h1, h2, h3 }) do
      for k, v in pairs(base) do h[k] = v end
      p:send((block_frame(h, 0, h.height)))
    end
    assert.truthy(p:wait_down(20000), "the sender was not dropped")
    local log = node:log_since(mark)
    assert.truthy(log:find("is at height " .. hi.height, 1, true), log)
    assert.truthy(log:find("bad timestamp: in the future", 1, true), log)
    assert.truthy(log:find("too little work: difficulty 1,", 1, true), log)
    assert.truthy(log:find("dropping", 1, true), log)
    assert.truthy(node:health())
    assert.is_true(info(c, 1).height >= hi.height)
    p:close()
  end)

  it("a hash above the target is refused: too little work", function()
    local node = c.nodes[2]
    -- A height inside a retarget window, so the head's d is the one due.
    local head, hi
    support.wait_until(200, 50, function()
      head, hi = head_header(2)
      return (hi.height + 1) % PARAMS.window ~= 0
    end, "no height inside a window")
    local cons = head.header.consensus
    local h = { chain_id = hi.chain_id, proposer = "node0", prev = unhex0x(head.hash),
                time = head.header.time, height = hi.height + 1,
                consensus = { d = cons.d, s = cons.s, t = cons.t + 1, w = cons.w + cons.d } }
    -- A nonce whose hash starts with f: above any target (d >= 2).
    local _, hash = block_frame(h, 0, h.height)
    local nonce = 0
    while core.hex(core.hash(core.hex(hash) .. be64(nonce))):sub(1, 1) ~= "f" do nonce = nonce + 1 end
    local mark = node:log_mark()
    local p = peer(2)
    p:send((block_frame(h, nonce, h.height)))
    support.wait_until(100, 100, function()
      return node:log_since(mark):find("hash above the target", 1, true)
    end, function() return "not refused for its work:\n" .. node:log_tail(10) end)
    assert.truthy(node:health())
    p:close()
  end)
end)

describe("pow with few confirmations", function()
  lazy_teardown(support.cleanup)

  it("a reorg deeper than confirmations is refused: each keeps its final blocks", function()
    local params = {}
    for k, v in pairs(PARAMS) do params[k] = v end
    params.confirmations = 3
    local c, px, cross = partitioned(2, params)
    c:start_all()
    c:wait_height(WARM, 60)
    px:cut(cross)
    local cut = math.max(c:height(1), c:height(2))
    -- Apart until each side's final block is past the cut.
    support.wait_until(600, 100, function()
      return info(c, 1).final_height > cut + 1 and info(c, 2).final_height > cut + 1
    end, "the sides did not finalize past the cut")
    local mine = { c.nodes[1]:call("block_get", { height = cut + 1 }).hash,
                   c.nodes[2]:call("block_get", { height = cut + 1 }).hash }
    assert.are_not.equal(mine[1], mine[2])
    local marks = { c.nodes[1]:log_mark(), c.nodes[2]:log_mark() }
    local reorgs = { c.nodes[1]:metric("lunet_reorgs_total"), c.nodes[2]:metric("lunet_reorgs_total") }
    px:heal()
    -- Met: a node sees the other's branch and refuses it.
    support.wait_until(600, 100, function()
      for i = 1, 2 do
        if c.nodes[i]:log_since(marks[i]):find("forks from below the final block", 1, true) then
          return true
        end
      end
    end, "no node refused the other's branch")
    for i = 1, 2 do
      assert.equal(reorgs[i], c.nodes[i]:metric("lunet_reorgs_total"))
      local b = c.nodes[i]:call("block_get", { height = cut + 1 })
      assert.equal(mine[i], b.hash)
      assert.is_true(b.final)
    end
    c:stop_all()
    px:stop()
  end)
end)
