-- consensus/pos.lua -- proof of stake: the BFT rounds of bft.lua (Tendermint
-- style: propose, prevote, precommit, commit on > 2/3, final at once) with
-- votes counted by stake, for an open set of validators elected by stake.
--
-- Voting power: the set and each validator's power come from the state
-- (node.validators(), node.powers()): the core elects them when it
-- executes blocks (core/valset.h), so every node and a node syncing from
-- genesis get the same set. Every `epoch` blocks the top `max_validators`
-- validators of the chain by stake (not jailed; ties by name) become the
-- set from two blocks later, each with its stake as power. A quorum is
-- more than 2/3 of the set's total power; a later round is joined once
-- more than 1/3 of the power is seen there.
-- Proposer: CometBFT's weighted round robin. Each step every validator's
-- priority grows by its power, the highest (ties: the first by name)
-- proposes and loses the total power; before the steps the priorities are
-- rescaled to a spread of at most twice the total and centred on their
-- average. Priorities start at 0 when a set comes into force; height H of
-- a set in force since S is step H - S + 1, and round r is r more steps
-- from there. Over a cycle of total-power steps each validator proposes
-- exactly its power's times.
-- Double signing: two signed votes of one validator for different blocks
-- at one height, round and type are persisted under
-- "evidence|NAME|HEIGHT|ROUND|TYPE" in the form sys.evidence takes
-- ({validator, height, round, type, a = {hash, sig}, b = {hash, sig}}, sig
-- in hex), logged and submitted with node.evidence (the node sends
-- sys.evidence from its validator account, free, once per validator and
-- height); anyone else may submit them too (lunet send sys evidence
-- JSON): the core checks both signatures of "lunet-pos|TYPE|H|R|HASH"
-- against the validator's key, burns slash_percent of its stake, jails it
-- for jail_blocks and takes it out of the set.
-- Crash safety as bft.lua: the last vote and proposal signed, and the
-- lock, are written with node.persist before they are sent.
-- Slot: consensus.
-- Params (the core reads the first four from the registry):
--   max_validators (default 21, 1..64): the size of the set;
--   epoch (default 10, 1..1000): blocks between elections (a restarted
--     node replays the proposer priorities since the set came in force,
--     at most epoch + 1 steps, well inside a callback's budget);
--   slash_percent (default 5, 0..100): stake burned by valid evidence;
--   jail_blocks (default 100): blocks out of the set after it;
--   timeout_propose_ms (1000), timeout_vote_ms (500), timeout_delta_ms
--   (500), block_ms (0), empty_blocks (false), verbose (false): as bft.lua.
-- Deterministic: verify_block and verify_commit read only their arguments,
-- node.validators(), node.powers() and node.key(); time and timers decide
-- only *when*.

local M = { VERSION = "1.0", NAME = "pos" }

local floor, ceil, format, match, huge = math.floor, math.ceil, string.format, string.match, math.huge
local concat, sort = table.concat, table.sort

local MAX_AHEAD = 64          -- rounds ahead of ours a message may be for

local node, P, rb_ms

-- the validators of the height: names, power by name, their total
local vals, nvals, power, total, is_val, me
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

-- More than 2/3 (quorum) and more than 1/3 (f + 1) of the total power.
local function quorum(w) return w * 3 > total * 2 end
local function third(w) return w * 3 > total end

-- ---- the weighted round robin (CometBFT's proposer selection) ----------

-- Go's integer division, truncated toward zero.
local function tdiv(a, b)
  local q = a / b
  return q >= 0 and floor(q) or -floor(-q)
end

-- `times` steps of the set st = { names (sorted), pw, prio, total }:
-- rescale and centre the priorities, then each step adds every power and
-- takes the total from the highest (the first by name of equals). Returns
-- the last chosen.
local function wrr_steps(st, times)
  local names, pw, prio, tot = st.names, st.pw, st.prio, st.total
  local n = #names
  local mx, mn = -huge, huge
  for i = 1, n do
    local p = prio[names[i]]
    if p > mx then mx = p end
    if p < mn then mn = p end
  end
  local window = 2 * tot
  if mx - mn > window then
    local ratio = ceil((mx - mn) / window)
    for i = 1, n do prio[names[i]] = tdiv(prio[names[i]], ratio) end
  end
  local sum = 0
  for i = 1, n do sum = sum + prio[names[i]] end
  local avg = floor(sum / n)
  for i = 1, n do prio[names[i]] = prio[names[i]] - avg end
  local best
  for _ = 1, times do
    best = nil
    for i = 1, n do
      local v = names[i]
      local p = prio[v] + pw[v]
      prio[v] = p
      if not best or p > prio[best] then best = v end
    end
    prio[best] = prio[best] - tot
  end
  return best
end

local function wrr_new(names, pw)
  local st = { names = {}, pw = pw, prio = {}, total = 0 }
  for i = 1, #names do
    st.names[i] = names[i]
    st.prio[names[i]] = 0
    st.total = st.total + pw[names[i]]
  end
  sort(st.names)
  return st
end

local function wrr_copy(st)
  local c = { names = st.names, pw = st.pw, prio = {}, total = st.total }
  for k, v in pairs(st.prio) do c.prio[k] = v end
  return c
end

-- The proposers of heights since.. of a set, for tests and tools: a list
-- of `count` names, round 0 of each height.
function M.proposers(names, pw, count)
  local st, out = wrr_new(names, pw), {}
  for i = 1, count do out[i] = wrr_steps(st, 1) end
  return out
end

-- The proposer of round r at the height that is step `steps` of a set.
function M.round_proposer(names, pw, steps, r)
  local st = wrr_new(names, pw)
  local first
  for _ = 1, steps do first = wrr_steps(st, 1) end
  if r == 0 then return first end
  return wrr_steps(st, r)
end

-- The height's proposer state: wrr (after step H - since + 1), its round 0
-- proposer, and rounds' proposers as found.
local wrr, wrr_key, wrr_h, by_round
local since

local function wrr_height(h)
  local key = since .. "|" .. concat(vals, ",")
  if wrr and wrr_key == key and wrr_h == h - 1 then
    by_round = { [0] = wrr_steps(wrr, 1) }
  else
    wrr = wrr_new(vals, power)
    local first
    for _ = since, h do first = wrr_steps(wrr, 1) end
    by_round = { [0] = first }
  end
  wrr_key, wrr_h = key, h
end

local function proposer(h, r)
  if since == 0 then return vals[(h + r) % nvals + 1] end   -- no set by stake: power 1 each
  local p = by_round[r]
  if not p then
    p = wrr_steps(wrr_copy(wrr), r)
    by_round[r] = p
  end
  return p
end

local function vote_bytes(t, h, r, hash)
  return format("lunet-pos|%s|%d|%d|%s", t, h, r, hash)
end

local function prop_bytes(h, r, pol, hash)
  return format("lunet-pos|prop|%d|%d|%d|%s", h, r, pol, hash)
end

local function timeout(base, r)
  return base + r * P.timeout_delta_ms
end

local function evidence(kind, a, b)
  local key = format("%s|%d|%s", a.v, a.r, kind)
  if reported[key] then return end           -- once per validator, round and kind
  reported[key] = true
  local function bare(m) return { hash = m.hash, sig = node.hex(m.sig) } end
  local e = { validator = a.v, height = H, round = a.r, type = kind, a = bare(a), b = bare(b) }
  node.persist(format("evidence|%s|%d|%d|%s", a.v, H, a.r, kind), e)
  -- Two proposals are logged and kept, not submitted: sys.evidence takes votes.
  local sent, why = false, "sys.evidence takes votes"
  if kind ~= "proposal" then sent, why = node.evidence(e) end
  node.log(format("evidence: %s signed two %s at height %d round %d: %s and %s; %s",
                  a.v, kind, H, a.r, a.hash, b.hash, sent and "submitted" or "not submitted: " .. why))
end

local function saw(r, name)
  local s = seen[r]
  if not s then s = { w = 0 }; seen[r] = s end
  if not s[name] then s[name] = true; s.w = s.w + power[name] end
end

-- Counts a vote whose signature is checked. Returns false for a repeat.
local function add_vote(m)
  local rounds = votes[m.k]
  local set = rounds[m.r]
  if not set then set = { by = {}, count = {}, w = 0 }; rounds[m.r] = set end
  local prev = set.by[m.v]
  if prev then
    if prev.hash ~= m.hash then evidence(m.k, prev, m) end
    return false
  end
  set.by[m.v] = m
  local w = power[m.v]
  set.w = set.w + w
  local was = set.count[m.hash] or 0
  set.count[m.hash] = was + w
  if quorum(was + w) and not quorum(was) then
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
  power, since = node.powers()
  total = 0
  is_val = {}
  for i = 1, nvals do
    is_val[vals[i]] = true
    total = total + power[vals[i]]
  end
  if since > 0 then wrr_height(H) end
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
    if s and third(s.w) then
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
  if step == "prevote" and pv and quorum(pv.w) and not fired.tpv then
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
  if pc and quorum(pc.w) and not fired.tpc then
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

local function count(params, name, default, lo, hi)
  local v = params[name]
  if v == nil then return default end
  if not int(v, lo, hi) then error(format("params.%s must be an integer, %d..%d", name, lo, hi), 0) end
  return v
end

function M.init(host, params)
  node = host
  -- Read by the core (valset.h) from the registry; checked here so that a
  -- config or swap with bad ones is refused.
  count(params, "max_validators", 21, 1, 64)
  count(params, "epoch", 10, 1, 1000)
  count(params, "slash_percent", 5, 0, 100)
  count(params, "jail_blocks", 100, 1, 1000000000)
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
  local pw = node.powers()
  local member, all = {}, 0
  for i = 1, #validators do
    member[validators[i]] = true
    all = all + (pw[validators[i]] or 0)
  end
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
    n = n + pw[name]
  end
  if n * 3 <= all * 2 then
    return nil, format("certificate has %d of the voting power %d: more than 2/3 needed", n, all)
  end
  return true
end

return M
