-- consensus/pow.lua -- permissioned proof of work: the validators mine;
-- a block counts when H(its hash || nonce) falls below the target of its
-- difficulty, the branch with the most work is the head, and a block is
-- final once `confirmations` blocks are on top of it. A node whose head
-- is more than 10 * block_ms old while blocks still come in (catching up)
-- does not mine until it has caught up, or until none came for as long.
--
-- A block's header carries, in its consensus field, d (its difficulty:
-- the hashes it takes on average; target = floor((2^256 - 1) / d)), t
-- (its time, ms), s (the time of the first block of its retarget window)
-- and w (the work of its branch: the sum of the d of it and its
-- ancestors). Its certificate is {nonce, sig}: the nonce (as 8 bytes, big
-- endian, after the 64 hex digits of the block hash) and the proposer's
-- signature of the hash, so only validators mine (a member's key does not
-- sign for a validator).
-- Every `window` blocks d is retargeted toward `block_ms`:
-- d' = floor(d * expected / took), took clamped to expected / 4 .. 4 *
-- expected (Bitcoin's rule), expected = (window - 1) * block_ms.
-- Slot: consensus.
-- Params: difficulty (default 20000): d from genesis, 1..2^32;
--         block_ms (default 1000): the block interval aimed at;
--         window (default 10): blocks per retarget, 2..1000;
--         confirmations (default 6): blocks on top that make one final
--           (once they took half the time they should: confirmations *
--           block_ms / 2 by their headers' times);
--         slice (default 20000): nonces per search on a worker;
--         pause_ms (default 0): a pause between searches, to leave CPU
--           to others on a shared host (the hash rate drops with it);
--         drift_ms (default 15000): how far ahead of this node's clock a
--           block's time may be.
-- Deterministic: verify_block and verify_commit read their arguments, the
-- parent (node.block) and node.key(), except the drift check, which
-- refuses a block from the future only until the clock gets there.

local M = { VERSION = "1.0", NAME = "pow", FORKS = true }

local floor, max, min, concat, char = math.floor, math.max, math.min, table.concat, string.char

local node, P
local job                      -- the block being mined: { block, target, prev, at }
local next_nonce = 0
local heard_at = 0             -- when a block last came in or the head last moved (ms)
local MAX_D = 4294967296

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

-- floor((2^256 - 1) / d) in 64 hex digits: long division, digit by digit
-- (every number stays below 2^37).
local HEX = "0123456789abcdef"
local targets = {}
local function target_of(d)
  local t = targets[d]
  if t then return t end
  local out, r = {}, 0
  for i = 1, 64 do
    local cur = r * 16 + 15
    local q = floor(cur / d)
    r = cur - q * d
    out[i] = HEX:sub(q + 1, q + 1)
  end
  t = concat(out)
  targets[d] = t
  return t
end

local function be64(n)
  local b = {}
  for i = 8, 1, -1 do
    b[i] = char(n % 256)
    n = floor(n / 256)
  end
  return concat(b)
end

-- What a block says of itself; a block without pow data (genesis, or one
-- made under the plugin before) starts the count.
local function info(b)
  local c = b.consensus
  if type(c) == "table" then return c end
  local t = b.time * 1000
  return { d = P.difficulty, t = t, s = t, w = 0 }
end

-- d and s of the block at height after parent (parent's info pi), made at t.
local function expected(pi, height, t)
  if height % P.window ~= 0 then return pi.d, pi.s end
  local want = (P.window - 1) * P.block_ms
  local took = min(max(pi.t - pi.s, floor(want / 4)), want * 4)
  if took < 1 then took = 1 end
  local d = floor(pi.d * want / took)
  return min(max(d, 1), MAX_D), t
end

local function is_validator(name)
  for _, v in ipairs(node.validators()) do
    if v == name then return true end
  end
  return false
end

-- The block `confirmations` below the head and its ancestors are final,
-- once the blocks on top of it took at least half the time they should
-- (by their headers): blocks that came faster than they can spread (the
-- first ones, before a retarget) may still lose to a branch on its way.
local function finalize()
  local head = node.head()
  local h = head.height - P.confirmations
  if h < 1 then return end
  local b = node.block(h)
  if not b or b.final then return end
  if info(head).t - info(b).t < P.confirmations * P.block_ms / 2 then return end
  local ok, why = node.finalize(b.hash)
  if not ok then node.log("finalize failed: " .. tostring(why)) end
end

local function mine_next()
  job = nil
  if not is_validator(node.self()) then return end
  local head = node.head()
  local hi = info(head)
  -- A head long past while blocks still come in: this node is catching up.
  -- Blocks mined on it would only fork (and could finalize a branch the
  -- others left), so wait, unless nothing has come for as long.
  local now, quiet = node.now(), 10 * P.block_ms
  if now - hi.t > quiet and now - heard_at < quiet then
    node.timer(P.block_ms, "mine")
    return
  end
  local t = max(node.now(), hi.t)
  local d, s = expected(hi, head.height + 1, t)
  local block, err = node.propose({ d = d, s = s, t = t, w = hi.w + d })
  if not block then
    node.log("propose failed: " .. tostring(err))
    node.timer(P.block_ms, "mine")
    return
  end
  job = { block = block, target = target_of(d), prev = head.hash, at = t }
  next_nonce = 0
  node.mine(block.hash, job.target, P.slice, 0)
end

function M.init(host, params)
  node = host
  P = {}
  for k, v in pairs(params) do P[k] = v end
  P.difficulty = param("difficulty", 20000, 1, MAX_D)
  P.block_ms = param("block_ms", 1000, 1, 600000)
  P.window = param("window", 10, 2, 1000)
  P.confirmations = param("confirmations", 6, 1, 10000)
  P.slice = param("slice", 20000, 1, 1048576)
  P.pause_ms = param("pause_ms", 0, 0, 60000)
  P.drift_ms = param("drift_ms", 15000, 0, 86400000)
  if (P.window - 1) * P.block_ms > 1048576 then
    error("params: (window - 1) * block_ms must be at most 1048576 ms", 0)
  end
end

function M.start()
  heard_at = node.now()
  node.timer(10, "mine")
  node.timer(1000, "tick")
end

function M.stop()
  job = nil
end

function M.on_timer(id)
  if id == "mine" then
    if not job then mine_next() end
  elseif id == "slice" then
    if job then node.mine(job.block.hash, job.target, P.slice, next_nonce) end
  elseif id == "tick" then
    node.timer(1000, "tick")
    finalize()
    if not job then mine_next() end
  end
end

function M.on_mined(nonce, hash, nxt)
  if not job then return end
  if node.head().hash ~= job.prev then return mine_next() end   -- the head moved
  if not nonce then
    -- A new block for transactions that came: at once for an empty one,
    -- else now and then (a search has no progress to lose: every nonce is
    -- a fresh chance; building a full block again has a cost).
    local age = node.now() - job.at
    if node.pending() > 0 and ((job.block.txs == 0 and age > P.block_ms / 4) or age > P.block_ms) then
      return mine_next()
    end
    next_nonce = nxt
    if P.pause_ms > 0 then
      node.timer(P.pause_ms, "slice")
    else
      node.mine(job.block.hash, job.target, P.slice, nxt)
    end
    return
  end
  local ok, why = node.commit(job.block, { nonce = nonce, sig = node.sign(job.block.hash) })
  if not ok then node.log("commit failed: " .. tostring(why)) end
  finalize()
  mine_next()
end

-- A peer's block joined the tree: the branch with the most work wins (on
-- a tie the head stays).
function M.on_block(block)
  heard_at = node.now()
  local head = node.head()
  if info(block).w <= info(head).w then return end
  local ok, why = node.choose(block.hash)
  if not ok then
    node.log("choose failed: " .. tostring(why))
    return
  end
  finalize()
  if job then mine_next() end
end

function M.verify_block(block)
  if not is_validator(block.proposer) then
    return nil, "proposer " .. tostring(block.proposer) .. " is not a validator"
  end
  local c = block.consensus
  if type(c) ~= "table" or not int(c.d, 1, MAX_D) or not int(c.t, 0, 2 ^ 53)
     or not int(c.s, 0, 2 ^ 53) or not int(c.w, 1, 2 ^ 53) then
    return nil, "no proof-of-work data in the header"
  end
  local parent = node.block(block.prev)
  if not parent then return nil, "unknown parent" end
  local pi = info(parent)
  if c.t < pi.t then return nil, "bad timestamp: before its parent's" end
  if c.t > node.now() + P.drift_ms then return nil, "bad timestamp: in the future" end
  local d, s = expected(pi, block.height, c.t)
  if c.d ~= d then
    return nil, ("too little work: difficulty %d, %d expected"):format(c.d, d)
  end
  if c.s ~= s or c.w ~= pi.w + d then return nil, "bad retarget window or work" end
  return true
end

function M.verify_commit(block, cert)
  if type(cert) ~= "table" or not int(cert.nonce, 0, 2 ^ 53) or type(cert.sig) ~= "string" then
    return nil, "no proof of work"
  end
  local c = block.consensus
  if type(c) ~= "table" or not int(c.d, 1, MAX_D) then return nil, "no proof-of-work data" end
  local h = node.hex(node.hash(block.hash .. be64(cert.nonce)))
  if not (h < target_of(c.d)) then return nil, "too little work: hash above the target" end
  local key = node.key(block.proposer)
  if not key or not node.verify(key, cert.sig, block.hash) then
    return nil, "not signed by the proposer " .. tostring(block.proposer)
  end
  return true
end

return M
