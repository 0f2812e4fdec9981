-- consensus/dpos.lua -- delegated proof of stake: token holders approve
-- producers with sys.vote (weighted by their stake); the top `producers`
-- validators by votes, sorted by name, take turns of `blocks_per_turn`
-- blocks, one block a slot of `block_ms`. Time is cut into slots
-- (slot = floor(now_ms / block_ms)); slot s belongs to the producer
-- schedule[floor(s / blocks_per_turn) % #schedule + 1], so a producer that
-- is down or late simply leaves its slots empty and the next one goes on
-- when its own turn comes (the timeout is the turn's length).
--
-- Blocks fork before they are final and go through the block tree
-- (node.import, node.choose, node.finalize). A block is final (the last
-- irreversible block, as EOS has it) once more than 2/3 of the producers
-- of the schedule have made a block on top of it. Forks go to the branch
-- confirmed by more producers: the higher last irreversible block, then
-- the higher block; on a tie the head stays.
--
-- A block's header carries, in its consensus field, s (its slot), l (the
-- last irreversible height of the branch it builds on) and t (the ranking
-- in its parent's state: the top `producers` validators by votes, sorted
-- by name, node.producers). The schedule in force for a block is the t of
-- the block at height l on its branch: a change of votes takes effect once
-- the block that records it is final, so every node, whichever branch it
-- saw first, agrees on the schedule. Before anyone voted (all weigh 0)
-- the ranking is the first `producers` validators by name; l = 0 (the
-- genesis, or a block of the plugin before) uses that too.
-- Each block keeps, for its children, each producer's highest block on its
-- branch above its last irreversible block (see summary()), so a block
-- costs O(producers) however long finality stalls (fewer than 2/3 of the
-- producers up), and finality resumes once they are back.
-- Certificate: {sig}: the producer's signature of the block hash.
-- Slot: consensus.
-- Params: producers (default 21, 1..30): the size of the schedule;
--         blocks_per_turn (default 6, 1..1000): blocks a producer makes in
--           a row;
--         block_ms (default 500, 10..60000): the length of a slot;
--         drift_ms (default 5000): how far ahead of this node's clock a
--           block's slot may start;
--         slash_percent (default 5, 0..100): the stake burned from a
--           producer proven to have signed two blocks for one slot
--           (sys.evidence, type "blk");
--         jail_blocks (default 100, 1..10^9): the blocks it is then left
--           out of the ranking (node.producers) for.
-- Double signing: a peer's block that joins the tree in a slot where its
-- producer made another block of that height is proof; both headers
-- (node.header) and signatures are logged and go to node.evidence, which
-- submits them as sys.evidence from this node's validator account.
-- Deterministic: verify_block and verify_commit read their arguments,
-- headers of the block's branch (node.block), the ranking in its parent's
-- state (node.producers) and node.key(); only the drift check reads the
-- clock, and it refuses a block only until the clock gets there. What the
-- summaries keep (in memory, and the head's with node.persist) is what
-- those headers give, so a node that has them decides as one without.

local M = { VERSION = "1.0", NAME = "dpos", FORKS = true }

local floor, concat = math.floor, table.concat

local node, P
local last_slot = -1           -- the last slot this node made a block in
local heard_at = 0             -- when a peer's block last came in, or start (ms)
local CACHE_MAX = 4096         -- entries of the evidence caches below
local sigs, nsigs = {}, 0      -- a peer's block's signature by hash (verify_commit)
local slots, nslots = {}, 0    -- "producer|slot" -> the first block seen there {hash, height, sig}

local function int(x, lo, hi)
  return type(x) == "number" and x % 1 == 0 and x >= lo and x <= hi
end

local function param(name, default, lo, hi)
  local v = P[name]
  if v == nil then v = default end
  if not int(v, lo, hi) then
    error(("params.%s must be an integer %d..%d"):format(name, lo, hi), 0)
  end
  return v
end

-- A block's dpos data, or nil (the genesis, a block of another plugin).
local function data(b)
  local c = b.consensus
  if type(c) == "table" and type(c.s) == "number" then return c end
  return nil
end

-- The block at height h on b's branch (h <= b.height): down to the
-- head's chain, then by height.
local function ancestor(b, h)
  while b and b.height > h do
    if b.canonical then return node.block(h) end
    b = node.block(b.prev)
  end
  return b
end

-- Before any vote, and for a block without a ranking: the first
-- `producers` validators by name.
local function default_ranking()
  local v = {}
  for i, name in ipairs(node.validators()) do v[i] = name end
  table.sort(v)
  local out = {}
  for i = 1, math.min(P.producers, #v) do out[i] = v[i] end
  return out
end

-- The ranking a block records, or nil (then the default one).
local function ranking_of(at)
  local c = at and data(at)
  if c and type(c.t) == "table" and #c.t > 0 then return c.t end
  return nil
end

local function producer_for(slot, sched)
  return sched[floor(slot / P.blocks_per_turn) % #sched + 1]
end

-- The last irreversible height of b's branch is the highest block under
-- more than 2/3 of b's schedule's producers, never below what b's parent
-- had (its data's l). Counted from b down, the producers come in the
-- order of their highest block on the branch above l: the LIB is the
-- block under the need-th of the schedule among them, so each block keeps
-- that list (its summary), cut at its own LIB, which is its children's l:
-- a child's list is its proposer, then its parent's. O(producers) a
-- block, however long finality stalls (a walk down to l would cost the
-- length of the stall every block, past the callback's budget at last).
--
-- A summary: lib; next, the schedule for b's children (the ranking of
-- the block at lib, nil for the default one); then name, height and prev
-- (the parent's hash, which leads to the block at lib) of each producer's
-- highest block above lib, highest first. The last 2 x HALF blocks' stay
-- in two generations (the older dropped when the newer fills: the head's
-- is always there). One missing (a restart, a branch long gone) is made
-- by a walk down to a block with one, or to l. The head's goes to
-- node.persist every PERSIST_EVERY heights and at stop, so a restart
-- walks that far, not back to l.
local sums, olds, nsums = {}, {}, 0
local HALF, PERSIST_EVERY = 2048, 64

local function sum_get(hash)
  local s = sums[hash]
  if s then return s end
  s = olds[hash]
  if s then
    if nsums >= HALF then sums, olds, nsums = {}, sums, 0 end
    sums[hash], nsums = s, nsums + 1
  end
  return s
end

local function sum_put(hash, s)
  if nsums >= HALF then sums, olds, nsums = {}, sums, 0 end
  sums[hash], nsums = s, nsums + 1
end

local function summary(b)
  local s = sum_get(b.hash)
  if s then return s end
  local l = data(b).l
  local names, heights, prevs = { b.proposer }, { b.height }, { b.prev }
  local seen = { [b.proposer] = true }
  local function add(name, h, prev)
    if h > l and not seen[name] then
      seen[name] = true
      names[#names + 1], heights[#heights + 1], prevs[#prevs + 1] = name, h, prev
    end
  end
  local parent = node.block(b.prev)
  local ps = parent and data(parent) and sum_get(parent.hash)
  local sched
  if ps and ps.lib == l then
    for i = 1, #ps.names do add(ps.names[i], ps.heights[i], ps.prevs[i]) end
    sched = ps.next
  else
    -- The parent's is missing, or it is no dpos block: walk down, to l
    -- or to a block with a summary.
    local x = parent
    while x and x.height > l do
      local xs = data(x) and sum_get(x.hash)
      if xs and xs.lib <= l then
        for i = 1, #xs.names do add(xs.names[i], xs.heights[i], xs.prevs[i]) end
        break
      end
      add(x.proposer, x.height, x.prev)
      x = node.block(x.prev)
    end
    sched = ranking_of((x and x.height == l) and x or ancestor(parent or b, l))
  end
  local member, producers = {}, sched or default_ranking()
  for _, name in ipairs(producers) do member[name] = true end
  local count, need = 0, floor(2 * #producers / 3) + 1
  s = { lib = l, next = sched, names = {}, heights = {}, prevs = {} }
  for i = 1, #names do
    if member[names[i]] then
      count = count + 1
      if count >= need then
        s.lib = heights[i] - 1
        s.next = ranking_of(node.block(prevs[i]))
        break
      end
    end
  end
  for i = 1, #names do
    if heights[i] <= s.lib then break end
    s.names[i], s.heights[i], s.prevs[i] = names[i], heights[i], prevs[i]
  end
  sum_put(b.hash, s)
  return s
end

local function lib_of(b)
  if not data(b) then return 0 end
  return summary(b).lib
end

-- The schedule for a block on b (whose l is lib_of(b)); on a block
-- without dpos data, l is 0: the genesis's, the default one.
local function schedule_on(b)
  return data(b) and summary(b).next or default_ranking()
end

-- The head's summary, kept across restarts (see summary()).
local function keep(head)
  local s = head and data(head) and sum_get(head.hash)
  if s then
    node.persist("lib", { hash = head.hash, producers = P.producers, lib = s.lib,
                          next = s.next or false, names = s.names, heights = s.heights,
                          prevs = s.prevs })
  end
end

-- A list of n strings (n nil: of any length).
local function strings(t, n)
  if type(t) ~= "table" then return false end
  n = n or #t
  if #t ~= n then return false end
  for i = 1, n do
    if type(t[i]) ~= "string" then return false end
  end
  return true
end

local function recall_summary()
  local r = node.recall("lib")
  if type(r) ~= "table" or type(r.hash) ~= "string" or r.producers ~= P.producers
     or not int(r.lib, 0, 2 ^ 53) or type(r.names) ~= "table" then
    return
  end
  local n = #r.names
  if not strings(r.names, n) or not strings(r.prevs, n) or type(r.heights) ~= "table"
     or #r.heights ~= n or (r.next ~= false and not (strings(r.next) and #r.next > 0)) then
    return
  end
  for i = 1, n do
    if not int(r.heights[i], r.lib + 1, 2 ^ 53) then return end
  end
  sum_put(r.hash, { lib = r.lib, next = r.next or nil, names = r.names, heights = r.heights,
                    prevs = r.prevs })
end

local function finalize()
  local head = node.head()
  local l = lib_of(head)
  if head.height % PERSIST_EVERY == 0 then keep(head) end
  if l < 1 then return end
  local b = node.block(l)
  if not b or b.final then return end
  local ok, why = node.finalize(b.hash)
  if not ok then node.log("finalize failed: " .. tostring(why)) end
end

local function same(a, b)
  if type(a) ~= "table" or #a ~= #b then return false end
  for i = 1, #b do
    if a[i] ~= b[i] then return false end
  end
  return true
end

local function slot_now() return floor(node.now() / P.block_ms) end

local function arm()
  local now = node.now()
  node.timer(P.block_ms - now % P.block_ms + 1, "slot")
end

local function produce()
  local me = node.self()
  local head = node.head()
  local slot = slot_now()
  local hc = data(head)
  if slot <= last_slot or (hc and slot <= hc.s) then return end
  local l = lib_of(head)
  if producer_for(slot, schedule_on(head)) ~= me then return end
  -- A head a whole round old while blocks still come in (or just after
  -- start): this node is catching up; a block on it would only fork.
  local round = P.producers * P.blocks_per_turn * P.block_ms
  local now = node.now()
  local head_ms = hc and hc.s * P.block_ms or head.time * 1000
  if now - head_ms > round and now - heard_at < round then return end
  local ranking, err = node.producers(P.producers)
  if not ranking then
    node.log("ranking failed: " .. tostring(err))
    return
  end
  local block
  block, err = node.propose({ s = slot, l = l, t = ranking })
  if not block then
    node.log("propose failed: " .. tostring(err))
    return
  end
  -- Never two blocks in one slot, across restarts too.
  local done = node.recall("slot")
  if type(done) == "number" and done >= slot then
    last_slot = done
    return
  end
  node.persist("slot", slot)
  last_slot = slot
  local ok, why = node.commit(block, { sig = node.sign(block.hash) })
  if not ok then
    node.log("commit failed: " .. tostring(why))
    return
  end
  finalize()
end

function M.init(host, params)
  node = host
  P = {}
  for k, v in pairs(params) do P[k] = v end
  P.producers = param("producers", 21, 1, 30)
  P.blocks_per_turn = param("blocks_per_turn", 6, 1, 1000)
  P.block_ms = param("block_ms", 500, 10, 60000)
  P.drift_ms = param("drift_ms", 5000, 0, 86400000)
  -- Read by the core (sys.evidence); checked here so a bad value is refused.
  P.slash_percent = param("slash_percent", 5, 0, 100)
  P.jail_blocks = param("jail_blocks", 100, 1, 1000000000)
end

function M.start()
  heard_at = node.now()
  local done = node.recall("slot")
  if type(done) == "number" then last_slot = done end
  recall_summary()
  arm()
end

function M.stop() keep(node.head()) end

function M.on_timer(id)
  if id ~= "slot" then return end
  arm()
  produce()
end

-- A producer's second block for a slot it made a block in already, at
-- one height: proof of double signing. Both headers with their signatures
-- go to node.evidence (sys.evidence, type "blk"), which submits it.
local function double_signed(block)
  local c, sig = data(block), sigs[block.hash]
  if not c or not sig then return end
  local k = block.proposer .. "|" .. c.s
  local first = slots[k]
  if not first then
    if nslots >= CACHE_MAX then slots, nslots = {}, 0 end
    slots[k], nslots = { hash = block.hash, height = block.height, sig = sig }, nslots + 1
    return
  end
  if first.hash == block.hash or first.height ~= block.height or first.reported then return end
  local ha, hb = node.header(first.hash), node.header(block.hash)
  if not ha or not hb then return end
  first.reported = true
  local sent, why = node.evidence({ validator = block.proposer, type = "blk",
                                    a = { header = ha, sig = node.hex(first.sig) },
                                    b = { header = hb, sig = node.hex(sig) } })
  node.log(("evidence: %s made two blocks for slot %d at height %d: %s and %s; %s"):format(
    block.proposer, c.s, block.height, first.hash:sub(1, 12), block.hash:sub(1, 12),
    sent and "submitted" or "not submitted: " .. tostring(why)))
end

-- The branch confirmed by more producers wins: the higher last
-- irreversible block, then the higher block.
function M.on_block(block)
  heard_at = node.now()
  double_signed(block)
  local head = node.head()
  local lb, lh = lib_of(block), lib_of(head)
  if lb < lh or (lb == lh and block.height <= head.height) then return end
  local ok, why = node.choose(block.hash)
  if not ok then
    node.log("choose failed: " .. tostring(why))
    return
  end
  finalize()
end

function M.verify_block(block)
  local c = block.consensus
  if type(c) ~= "table" or not int(c.s, 0, 2 ^ 53) or not int(c.l, 0, 2 ^ 53)
     or type(c.t) ~= "table" or #c.t < 1 or #c.t > P.producers then
    return nil, "no dpos data in the header"
  end
  local parent = node.block(block.prev)
  if not parent then return nil, "unknown parent" end
  local pc = data(parent)
  if pc and c.s <= pc.s then return nil, "bad slot: not after its parent's" end
  if c.s * P.block_ms > node.now() + P.drift_ms then return nil, "bad slot: in the future" end
  local l = lib_of(parent)
  if c.l ~= l then
    return nil, ("bad last irreversible block: %d, %d expected"):format(c.l, l)
  end
  local want = producer_for(c.s, schedule_on(parent))
  if block.proposer ~= want then
    return nil, ("slot %d is %s's, not %s's"):format(c.s, want, tostring(block.proposer))
  end
  local ranking, err = node.producers(P.producers, parent.hash)
  if not ranking then return nil, "no state for its parent: " .. tostring(err) end
  if not same(c.t, ranking) then
    return nil, "bad ranking: " .. concat(ranking, ",") .. " expected"
  end
  return true
end

function M.verify_commit(block, cert)
  if type(cert) ~= "table" or type(cert.sig) ~= "string" then
    return nil, "no producer signature"
  end
  local key = node.key(block.proposer)
  if not key or not node.verify(key, cert.sig, block.hash) then
    return nil, "not signed by the producer " .. tostring(block.proposer)
  end
  if nsigs >= CACHE_MAX then sigs, nsigs = {}, 0 end
  sigs[block.hash], nsigs = cert.sig, nsigs + 1     -- for evidence, once it joins the tree
  return true
end

return M
