-- consensus/bft.lua -- Byzantine fault tolerant consensus in the style of
-- Tendermint: with n validators of equal power it stays safe while at most
-- f = floor((n - 1) / 3) of them misbehave, and a block is final as soon as
-- it is committed (a certificate of > 2/3 precommit signatures).
--
-- Each height runs rounds; round r's proposer is validators[(h + r) % n + 1].
--   propose    the proposer sends its block (or the block it saw > 2/3
--              prevote for earlier: the "valid" block, with those prevotes);
--   prevote    everyone prevotes the proposal if it executes to its hash
--              and does not contradict their lock, else nil;
--   precommit  on > 2/3 prevotes for a block: lock on it and precommit it;
--              on > 2/3 nil prevotes: precommit nil;
--   commit     on > 2/3 precommits for a block: commit it with them.
-- Rounds that stall move on after timeouts that grow with the round; f + 1
-- validators seen in a later round pull a node there.
-- Crash safety: the last vote signed is written with node.persist before it
-- is sent (and the lock, with its block, before a precommit), so a restarted
-- validator never signs two different votes at one height, round and step,
-- and keeps its lock. Two signed votes (or proposals) of one validator for
-- different blocks at one height and round are evidence: persisted under
-- "evidence|NAME|HEIGHT|ROUND|KIND" and logged.
-- Slot: consensus.
-- Params: timeout_propose_ms (default 1000): wait for round 0's proposal;
--         timeout_vote_ms (default 500): wait after > 2/3 votes of any kind;
--         timeout_delta_ms (default 500): added to both per round;
--         block_ms (default 0): least time from one commit to the next
--           proposal (lets transactions gather);
--         empty_blocks (default false): propose with an empty mempool too;
--         verbose (default false): log every round, vote and commit.
-- Deterministic: verify_block and verify_commit read only their arguments,
-- node.validators() and node.key(); time and timers decide only *when*.

local M = { VERSION = "1.0", NAME = "bft" }

local floor, format, match = math.floor, string.format, string.match

local MAX_AHEAD = 64          -- rounds ahead of ours a message may be for

local node, P, rb_ms

-- the validators of the height
local vals, nvals, quorum, f1, is_val, me
-- the height's state
local H, R, step
local locked_hash, locked_r, valid_hash, valid_r
local blocks                   -- hash -> block bytes known at this height
local executed                 -- hash -> true once it executed to that hash
local props                    -- round -> the round proposer's proposal
local votes                    -- votes.pv / votes.pc: round -> { by, count, n }
local polka, decided           -- round -> hash with > 2/3 prevotes / precommits
local seen                     -- round -> { n = distinct validators, [name] = true }
local fired                    -- rules that fire once per round
local reported                 -- evidence recorded at this height
local mine                     -- what this validator sent this round, for resending
local round_at, committed_at
local waiting                  -- round 0 waits for transactions
local last, last_prop          -- the last vote / proposal signed (persisted)
local restored = false

local function trace(...)
  if P.verbose then node.log(format(...)) end
end

local function int(x, lo, hi)
  return type(x) == "number" and x % 1 == 0 and x >= lo and x <= hi
end

local function hexhash(x)
  return type(x) == "string" and #x == 64 and match(x, "^[0-9a-f]+$") ~= nil
end

local function proposer(h, r)
  return vals[(h + r) % nvals + 1]
end

local function vote_bytes(t, h, r, hash)
  return format("lunet-bft|%s|%d|%d|%s", t, h, r, hash)
end

local function prop_bytes(h, r, pol, hash)
  return format("lunet-bft|prop|%d|%d|%d|%s", h, r, pol, hash)
end

local function timeout(base, r)
  return base + r * P.timeout_delta_ms
end

local function evidence(kind, a, b)
  local key = format("%s|%d|%s", a.v, a.r, kind)
  if reported[key] then return end           -- once per validator, round and kind
  reported[key] = true
  local function bare(m) return { hash = m.hash, r = m.r, sig = m.sig, v = m.v } end
  node.persist(format("evidence|%s|%d|%d|%s", a.v, H, a.r, kind),
               { kind = kind, h = H, r = a.r, v = a.v, a = bare(a), b = bare(b) })
  node.log(format("evidence: %s signed two %s at height %d round %d: %s and %s",
                  a.v, kind, H, a.r, a.hash, b.hash))
end

local function saw(r, name)
  local s = seen[r]
  if not s then s = { n = 0 }; seen[r] = s end
  if not s[name] then s[name] = true; s.n = s.n + 1 end
end

-- Counts a vote whose signature is checked. Returns false for a repeat.
local function add_vote(m)
  local rounds = votes[m.k]
  local set = rounds[m.r]
  if not set then set = { by = {}, count = {}, n = 0 }; rounds[m.r] = set end
  local prev = set.by[m.v]
  if prev then
    if prev.hash ~= m.hash then evidence(m.k, prev, m) end
    return false
  end
  set.by[m.v] = m
  set.n = set.n + 1
  local c = (set.count[m.hash] or 0) + 1
  set.count[m.hash] = c
  if c == quorum then
    if m.k == "pv" then polka[m.r] = m.hash
    elseif m.hash ~= "" then decided[m.r] = m.hash end
  end
  saw(m.r, m.v)
  return true
end

local function on_vote(m)
  if not is_val[m.v] or type(m.sig) ~= "string" or #m.sig ~= 64 or
     (m.hash ~= "" and not hexhash(m.hash)) then
    return
  end
  m = { k = m.k, h = m.h, r = m.r, hash = m.hash, v = m.v, sig = m.sig }   -- nothing else kept
  local set = votes[m.k][m.r]
  local prev = set and set.by[m.v]
  if prev and prev.hash == m.hash then return end          -- a repeat
  if not node.verify(node.key(m.v), m.sig, vote_bytes(m.k, H, m.r, m.hash)) then
    node.log(format("bad %s signature from %s at height %d round %d", m.k, m.v, H, m.r))
    return
  end
  add_vote(m)
end

-- True when hash is a block at this height that executes to that hash.
-- The proposal's signature covers the hash, not the bytes: bytes that do
-- not execute to it are dropped, so other bytes for that hash (a later
-- proposal of it) can still be tried.
local function valid(hash)
  if executed[hash] then return true end
  local data = blocks[hash]
  if not data then return false end
  local b, why = node.execute(data)
  if b ~= nil and b.hash == hash and is_val[b.proposer] == true then
    executed[hash] = true
    return true
  end
  blocks[hash] = nil
  node.log(format("block %s at height %d refused: %s", hash, H,
                  b and "not the hash it was proposed with" or tostring(why)))
  return false
end

-- Signs and sends a vote; never two different ones at one (height, round, step).
local ORDER = { pv = 1, pc = 2 }
local function cast(t, hash)
  if not is_val[me] then return end
  local sig
  if last and last.h == H and last.r == R and last.t == t then
    if last.hash ~= hash then return end
    sig = last.sig
  elseif not last or H > last.h or (H == last.h and (R > last.r or
         (R == last.r and ORDER[t] > ORDER[last.t]))) then
    sig = node.sign(vote_bytes(t, H, R, hash))
    local rec = { h = H, r = R, t = t, hash = hash, sig = sig }
    node.persist("vote", rec)            -- on disk before anyone sees it (raises if not)
    last = rec
  else
    return                               -- signed a later step before a restart
  end
  local m = { k = t, h = H, r = R, hash = hash, v = me, sig = sig }
  trace("%s %d/%d %s", t, H, R, hash == "" and "nil" or hash:sub(1, 12))
  mine[t] = m
  add_vote(m)
  node.broadcast(m)
end

-- { NAME = signature } of the votes of kind k ("pv", "pc") at round r for hash.
local function sigs_for(k, r, hash)
  local set, sigs = votes[k][r], {}
  if set then
    for name, v in pairs(set.by) do
      if v.hash == hash then sigs[name] = v.sig end
    end
  end
  return sigs
end

local function lock(hash)
  node.persist("lock", { h = H, r = R, hash = hash, data = blocks[hash],
                         pol = sigs_for("pv", R, hash) })
  locked_hash, locked_r = hash, R          -- on disk first, as votes are
end

local function propose()
  if last_prop and last_prop.h == H and last_prop.r >= R then return end
  local hash, data, pol
  if valid_hash and blocks[valid_hash] then
    hash, data, pol = valid_hash, blocks[valid_hash], valid_r
  else
    if R == 0 and not P.empty_blocks and node.pending() == 0 then return end
    local wait = P.block_ms - (node.now() - committed_at)
    if wait > 0 then
      node.timer(wait, format("start|%d|%d", H, R))
      return
    end
    local b, why = node.propose()
    if not b then
      node.log("propose failed: " .. tostring(why))
      return
    end
    hash, data, pol = b.hash, b.data, -1
    blocks[hash] = data
    executed[hash] = true
  end
  local rec = { h = H, r = R, hash = hash }
  node.persist("prop", rec)
  last_prop = rec
  local m = { k = "prop", h = H, r = R, pol = pol, hash = hash, data = data, v = me,
              sig = node.sign(prop_bytes(H, R, pol, hash)) }
  if pol >= 0 then m.polsigs = sigs_for("pv", pol, hash) end
  props[R] = m
  mine.prop = m
  trace("propose %d/%d %s pol %d, %d bytes", H, R, hash:sub(1, 12), pol, #data)
  saw(R, me)
  node.broadcast(m)
end

local function start_round(r)
  R, step, round_at = r, "propose", node.now()
  fired = {}
  trace("round %d/%d proposer %s pending %d", H, r, proposer(H, r), node.pending())
  mine = {}
  waiting = r == 0 and not P.empty_blocks and node.pending() == 0 and not props[0]
  if waiting then
    node.timer(20, format("wait|%d", H))
    return
  end
  if proposer(H, R) == me then propose() end
  node.timer(timeout(P.timeout_propose_ms, R), format("tp|%d|%d", H, R))
end

local function new_height(head)
  H = head.height + 1
  vals = node.validators()
  nvals = #vals
  quorum = floor(2 * nvals / 3) + 1
  f1 = nvals - quorum + 1
  is_val = {}
  for i = 1, nvals do is_val[vals[i]] = true end
  me = node.self()
  locked_hash, locked_r, valid_hash, valid_r = nil, -1, nil, -1
  blocks, executed, props = {}, {}, {}
  votes = { pv = {}, pc = {} }
  polka, decided, seen, fired, mine, reported = {}, {}, {}, {}, {}, {}
  committed_at = node.now()
  local r = 0
  if not restored then                   -- what was signed before a restart
    restored = true
    local lk = node.recall("lock")
    if type(lk) == "table" and lk.h == H and hexhash(lk.hash) and type(lk.data) == "string" then
      locked_hash, locked_r, valid_hash, valid_r = lk.hash, lk.r, lk.hash, lk.r
      blocks[lk.hash] = lk.data
      for name, sig in pairs(lk.pol or {}) do
        on_vote({ k = "pv", h = H, r = lk.r, hash = lk.hash, v = name, sig = sig })
      end
    end
    if last and last.h == H then r = last.r end
  end
  start_round(r)
  if last and last.h == H and last.r == R then
    waiting = false
    step = last.t == "pv" and "prevote" or "precommit"
    cast(last.t, last.hash)                   -- sends the same signature again
  end
end

-- The host commits blocks from peers too (catch-up): follow its head.
local function sync()
  local head = node.head()
  if head.height + 1 ~= H then new_height(head) end
end

local function commit(r, hash)
  local ok, why = node.commit({ hash = hash, data = blocks[hash] },
                              { round = r, sigs = sigs_for("pc", r, hash) })
  trace("commit %d/%d %s", H, r, hash:sub(1, 12))
  if not ok then
    -- Keep the height (votes, lock): the block may still come by sync.
    node.log(format("commit of %s at height %d failed: %s", hash, H, tostring(why)))
    decided[r] = nil
    blocks[hash], executed[hash] = nil, nil
  end
  local head = node.head()
  if head.height + 1 ~= H then new_height(head) end
  return ok
end

-- One rule of the state machine that applies now, applied; false if none.
local function rule()
  for r, hash in pairs(decided) do
    if blocks[hash] and valid(hash) then
      return commit(r, hash)
    end
  end
  for r = R + 1, R + MAX_AHEAD do
    local s = seen[r]
    if s and s.n >= f1 then
      start_round(r)
      return true
    end
  end
  local p = props[R]
  if step == "propose" and p then
    if p.pol == -1 then
      local ok = valid(p.hash) and (locked_r == -1 or locked_hash == p.hash)
      step = "prevote"
      cast("pv", ok and p.hash or "")
      return true
    elseif polka[p.pol] == p.hash then
      local ok = valid(p.hash) and (locked_r <= p.pol or locked_hash == p.hash)
      step = "prevote"
      cast("pv", ok and p.hash or "")
      return true
    end
  end
  local pv, pc = votes.pv[R], votes.pc[R]
  if step == "prevote" and pv and pv.n >= quorum and not fired.tpv then
    fired.tpv = true
    node.timer(timeout(P.timeout_vote_ms, R), format("tpv|%d|%d", H, R))
  end
  local ph = polka[R]
  if ph and ph ~= "" and step ~= "propose" and not fired.lock and blocks[ph] and valid(ph) then
    fired.lock = true
    if step == "prevote" then
      lock(ph)
      step = "precommit"
      cast("pc", ph)
    end
    valid_hash, valid_r = ph, R
    return true
  end
  if step == "prevote" and ph == "" then
    step = "precommit"
    cast("pc", "")
    return true
  end
  if pc and pc.n >= quorum and not fired.tpc then
    fired.tpc = true
    node.timer(timeout(P.timeout_vote_ms, R), format("tpc|%d|%d", H, R))
  end
  return false
end

local function progress()
  for _ = 1, 32 do
    if not rule() then return end
  end
end

local function on_proposal(from, m)
  if from ~= proposer(H, m.r) or m.v ~= from or not hexhash(m.hash) or
     type(m.data) ~= "string" or type(m.sig) ~= "string" or not int(m.pol, -1, m.r - 1) then
    return
  end
  -- Bytes of rounds far ahead are not kept (a proposer could send one block
  -- per future round); the proposer sends them again while its round stalls.
  local keep = m.r <= R + 1
  local have = props[m.r]
  if have and have.hash == m.hash then           -- sent again: the bytes may be new to us
    if keep and not blocks[m.hash] then blocks[m.hash] = m.data end
    return
  end
  if not node.verify(node.key(from), m.sig, prop_bytes(H, m.r, m.pol, m.hash)) then
    node.log(format("bad proposal signature from %s at height %d round %d", from, H, m.r))
    return
  end
  if have then
    evidence("proposal", have, m)
    return
  end
  props[m.r] = { k = "prop", h = H, r = m.r, pol = m.pol, hash = m.hash, v = m.v, sig = m.sig }
  trace("proposal %d/%d from %s: %s", H, m.r, from, m.hash:sub(1, 12))
  if keep and not blocks[m.hash] then blocks[m.hash] = m.data end
  saw(m.r, from)
  if type(m.polsigs) == "table" and m.pol >= 0 then
    local n = 0
    for name, sig in pairs(m.polsigs) do
      n = n + 1
      if n > nvals then break end
      on_vote({ k = "pv", h = H, r = m.pol, hash = m.hash, v = name, sig = sig })
    end
  end
end

-- Sends this round's own messages again while the round stalls: a peer
-- that was cut off or restarted has not seen them.
local function resend()
  if node.now() - round_at < rb_ms then return end
  for _, k in ipairs({ "prop", "pv", "pc" }) do
    local m = mine[k]
    if m and m.h == H and m.r == R then node.broadcast(m) end
  end
end

local function param(params, name, default, lo, hi)
  local v = params[name]
  if v == nil then return default end
  if not int(v, lo, hi) then
    error(format("params.%s must be an integer number of milliseconds, %d..%d", name, lo, hi), 0)
  end
  return v
end

function M.init(host, params)
  node = host
  P = {
    timeout_propose_ms = param(params, "timeout_propose_ms", 1000, 1, 600000),
    timeout_vote_ms = param(params, "timeout_vote_ms", 500, 1, 600000),
    timeout_delta_ms = param(params, "timeout_delta_ms", 500, 0, 600000),
    block_ms = param(params, "block_ms", 0, 0, 600000),
    empty_blocks = params.empty_blocks,
    verbose = params.verbose,
  }
  for _, k in ipairs({ "empty_blocks", "verbose" }) do
    if P[k] == nil then P[k] = false end
    if type(P[k]) ~= "boolean" then error("params." .. k .. " must be true or false", 0) end
  end
  rb_ms = P.timeout_propose_ms
  local lv, lp = node.recall("vote"), node.recall("prop")
  if type(lv) == "table" and int(lv.h, 0, 2 ^ 53) and int(lv.r, 0, 2 ^ 31) and ORDER[lv.t] then
    last = lv
  end
  if type(lp) == "table" and int(lp.h, 0, 2 ^ 53) and int(lp.r, 0, 2 ^ 31) then last_prop = lp end
end

function M.start()
  new_height(node.head())
  progress()
  node.timer(rb_ms, "resend")
end

function M.on_timer(id)
  sync()
  if id == "resend" then
    node.timer(rb_ms, "resend")
    resend()
    progress()
    return
  end
  local kind, h, r = match(id, "^(%a+)|(%d+)|?(%d*)$")
  h, r = tonumber(h), tonumber(r)
  if h ~= H then return end
  if kind == "wait" then
    -- Round 0 before its proposal: the proposer proposes, and the others
    -- start their timeout, as soon as a transaction waits.
    if R ~= 0 or step ~= "propose" or props[0] then return end
    if node.pending() > 0 then
      if waiting then start_round(0)
      elseif proposer(H, 0) == me then propose() end
    end
    if R == 0 and step == "propose" and not props[0] then node.timer(20, format("wait|%d", H)) end
  elseif r ~= R then
    return
  elseif kind == "start" and step == "propose" then
    propose()
  elseif kind == "tp" and step == "propose" then
    step = "prevote"
    cast("pv", "")
  elseif kind == "tpv" and step == "prevote" then
    step = "precommit"
    cast("pc", "")
  elseif kind == "tpc" then
    start_round(R + 1)
  end
  progress()
end

function M.on_message(from, m)
  sync()
  if type(m) ~= "table" or m.h ~= H or not int(m.r, 0, R + MAX_AHEAD) then return end
  if waiting then                        -- others are at it: our turn to time out
    waiting = false
    node.timer(timeout(P.timeout_propose_ms, 0), format("tp|%d|0", H))
  end
  if m.k == "prop" then
    on_proposal(from, m)
  elseif m.k == "pv" or m.k == "pc" then
    on_vote(m)
  else
    return
  end
  progress()
end

function M.verify_block(block)
  for _, v in ipairs(node.validators()) do
    if v == block.proposer then return true end
  end
  return nil, "proposer " .. tostring(block.proposer) .. " is not a validator"
end

function M.verify_commit(block, cert, validators)
  if type(cert) ~= "table" or not int(cert.round, 0, 2 ^ 31) or type(cert.sigs) ~= "table" then
    return nil, "certificate must be { round = R, sigs = { NAME = signature } }"
  end
  local member = {}
  for i = 1, #validators do member[validators[i]] = true end
  local need = floor(2 * #validators / 3) + 1
  local bytes = vote_bytes("pc", block.height, cert.round, block.hash)
  local n = 0
  for name, sig in pairs(cert.sigs) do
    if not member[name] then
      return nil, "certificate signer " .. tostring(name) .. " is not a validator"
    end
    local key = node.key(name)
    if type(sig) ~= "string" or not key or not node.verify(key, sig, bytes) then
      return nil, "bad precommit signature from " .. name
    end
    n = n + 1
  end
  if n < need then
    return nil, format("certificate has %d of the %d precommits needed", n, need)
  end
  return true
end

return M
