-- plugins/governance/stake.lua -- stake votes, with Cosmos's defaults.
--
-- Anyone may propose by paying a deposit into gov (system.deposit). Votes
-- are yes, no, abstain or veto, each weighed by the voter's stake when it
-- votes (system.stake). Once voting_blocks have passed, execute(id) takes
-- the tally, against the total stake at the proposal's height:
--   - fewer than `quorum` of it voted:            expired, deposit returned;
--   - veto is at least `veto` of the votes cast:  rejected, the deposit goes
--                                                 to the treasury;
--   - yes is more than `threshold` of yes + no + veto: passed, deposit
--     returned, carried out at once (or queued for timelock_blocks, then
--     carried out by execute(id));
--   - otherwise:                                  rejected, deposit returned.
-- Replacing the governance plugin itself passes on the same bar. A plugin
-- proposal's `at` must leave room for the vote and the timelock: at least
-- its height + voting_blocks + timelock_blocks + 2.
--
-- While nobody stakes (system.total_stake() is 0, as on every chain until
-- staking exists) the policy falls back to one vote per validator: the
-- validators' accounts vote with weight 1 and the total is the number of
-- validators when the proposal is made. Which way a proposal counts is
-- fixed when it is made (its `mode`: "stake" or "validators").
--
-- params: quorum = "33.4%"      (default) fractions: "N/D" or a percentage
--         threshold = "50%"     (default)   with at most two decimals
--         veto = "33.4%"        (default)
--         deposit = N           (default 1000000; 0: none) native units
--         voting_blocks = N     (default 100) votes count at the heights
--                               H .. H + N of the proposal's block H
--         timelock_blocks = N   (default 0)
--
-- Methods: propose(kind, body) -> id (kinds and bodies as in admin.lua),
-- vote(id, "yes" | "no" | "abstain" | "veto") -> status, execute(id) ->
-- status: anyone, once voting has ended or the timelock is over,
-- cancel(id): the proposer, while it is voting (the deposit comes back).
-- Queries: proposal(id) (with votes = {yes, no, abstain, veto}), proposals([status]), policy().
--
-- Storage: the layout of admin.lua's header ("t:ID" holds the running
-- tally), so open proposals carry over when this policy replaces another
-- or another replaces it; a proposal made under another policy counts its
-- validators' votes one each, and council.lua and supermajority.lua give a
-- deposit back when they close a proposal made here.

local M = { NAME = "stake" }

local CHOICES = { yes = true, no = true, abstain = true, veto = true }

local function _cfg()
  return storage.get("stake")
end

-- "33.4%" (at most two decimals) or "1/2" as {num, den}, 0 < num <= den <= 10000.
local function _ratio(v, name)
  local n, d
  if type(v) == "string" then
    local a, b = v:match("^(%d+)/(%d+)$")
    if a then
      n, d = tonumber(a), tonumber(b)
    else
      local i, f = v:match("^(%d+)%.?(%d*)%%$")
      if i and #f <= 2 then n, d = tonumber(i .. f), 10 ^ (#f + 2) end
    end
  end
  if not n or n < 1 or d > 10000 or n > d then
    error("params." .. name .. " must be a percentage like \"33.4%\" or a fraction like \"1/2\", " ..
          "above 0 and at most 1, not " .. tostring(v))
  end
  return { n, d }
end

local function _uint(params, name, default, lo)
  local v = params[name]
  if v == nil then return default end
  if type(v) ~= "number" or v % 1 ~= 0 or v < lo or v > 9007199254740991 then
    error("params." .. name .. " must be an integer of at least " .. lo .. ", not " .. tostring(v))
  end
  return v
end

-- a / b >= num / den (or > when strict), exact for integers up to 2^53:
-- a * den - num * b = (a - num * q) * den - num * r, with b = q * den + r.
local function _at_least(a, b, ratio, strict)
  local num, den = ratio[1], ratio[2]
  local q = math.floor(b / den)
  local r = b - q * den
  if r < 0 then q, r = q - 1, r + den elseif r >= den then q, r = q + 1, r - den end
  local lhs, rhs = (a - num * q) * den, num * r
  if strict then return lhs > rhs end
  return lhs >= rhs
end

local function _text(ratio)
  return ratio[1] .. "/" .. ratio[2]
end

local function _validator(account)
  for _, v in ipairs(system.validators()) do
    if v.name == account then return true end
  end
  return false
end

local function _get(id)
  local p = type(id) == "number" and storage.get("p:" .. id)
  if not p then error("no proposal " .. tostring(id)) end
  return p
end

-- Sets the status and says so; the caller stores the record.
local function _transition(id, p, status, why)
  p.status = status
  p.why = why
  emit("proposal", { id = id, kind = p.kind, status = status, why = why })
end

-- The deposit back to its proposer, or to the treasury; deposit_to says
-- where it went.
local function _settle_deposit(p, to)
  if (p.deposit or 0) > 0 and not p.deposit_to then
    p.deposit_to = to or p.proposer
    call("sys", "transfer", p.deposit_to, p.deposit)
  end
end

-- The tally {yes, no, abstain, veto} and the total it is measured against.
-- A proposal made under another policy has no tally: its validators'
-- votes count one each.
local function _tally(id, p)
  local t = storage.get("t:" .. id)
  if t and p.total then return t, p.total end
  t = { yes = 0, no = 0, abstain = 0, veto = 0 }
  local vs = system.validators()
  for _, v in ipairs(vs) do
    local b = storage.get("v:" .. id .. ":" .. v.name)
    if b and t[b.choice] then t[b.choice] = t[b.choice] + 1 end
  end
  return t, #vs
end

-- Carries out a passed proposal: executed, or failed with the reason (the
-- transaction still records it). The check first, over a savepoint, so a
-- refusal leaves nothing half done behind the pcall.
local function _run(id, p)
  local ok, err = pcall(system.check, p.kind, p.body)
  if ok then ok, err = pcall(system.apply, p.kind, p.body) end
  if ok then _transition(id, p, "executed") else _transition(id, p, "failed", tostring(err)) end
end

-- The outcome of a proposal whose voting has ended.
local function _close(id, p)
  local cfg = _cfg()
  local t, total = _tally(id, p)
  local cast = t.yes + t.no + t.abstain + t.veto
  local unit = p.mode == "stake" and " stake" or " validators"
  if total == 0 or not _at_least(cast, total, cfg.quorum) then
    _transition(id, p, "expired", "no quorum: " .. cast .. " of " .. total .. unit .. " voted, " ..
                _text(cfg.quorum) .. " needed")
    _settle_deposit(p)
  elseif cast > 0 and _at_least(t.veto, cast, cfg.veto) then
    _transition(id, p, "rejected", "vetoed: " .. t.veto .. " of " .. cast .. " votes cast, " ..
                _text(cfg.veto) .. " vetoes")
    _settle_deposit(p, "treasury")
  elseif t.yes + t.no + t.veto > 0 and _at_least(t.yes, t.yes + t.no + t.veto, cfg.threshold, true) then
    _transition(id, p, "passed", t.yes .. " yes of " .. (t.yes + t.no + t.veto) ..
                " yes, no and veto, more than " .. _text(cfg.threshold) .. " needed")
    _settle_deposit(p)
    p.eta = block.height + cfg.timelock_blocks
    if p.eta > block.height then
      _transition(id, p, "queued", "executable from height " .. p.eta)
    else
      _run(id, p)
    end
  else
    _transition(id, p, "rejected", t.yes .. " yes of " .. (t.yes + t.no + t.veto) ..
                " yes, no and veto, more than " .. _text(cfg.threshold) .. " needed")
    _settle_deposit(p)
  end
end

function M.init(params)
  params = params or {}
  local cfg = {
    quorum = _ratio(params.quorum or "33.4%", "quorum"),
    threshold = _ratio(params.threshold or "50%", "threshold"),
    veto = _ratio(params.veto or "33.4%", "veto"),
    deposit = _uint(params, "deposit", 1000000, 0),
    voting_blocks = _uint(params, "voting_blocks", 100, 1),
    timelock_blocks = _uint(params, "timelock_blocks", 0, 0),
  }
  storage.set("stake", cfg)
  if storage.get("next") == nil then storage.set("next", 1) end
end

function M.propose(kind, body)
  require_auth(msg.sender)
  system.check(kind, body)
  local cfg = _cfg()
  local room = block.height + cfg.voting_blocks + cfg.timelock_blocks + 2
  if kind == "plugin" and body.at < room then
    error("plugin proposal: at must leave room for " .. cfg.voting_blocks .. " blocks of voting and a timelock of " ..
          cfg.timelock_blocks .. ": " .. room .. " or later")
  end
  if cfg.deposit > 0 then system.deposit(cfg.deposit) end
  local id = storage.get("next")
  storage.set("next", id + 1)
  local total = system.total_stake()
  local p = { kind = kind, body = body, proposer = msg.sender, height = block.height,
              ends = block.height + cfg.voting_blocks, deposit = cfg.deposit,
              mode = total > 0 and "stake" or "validators",
              total = total > 0 and total or #system.validators() }
  _transition(id, p, "voting")
  storage.set("t:" .. id, { yes = 0, no = 0, abstain = 0, veto = 0 })
  storage.set("p:" .. id, p)
  return id
end

function M.vote(id, choice)
  require_auth(msg.sender)
  local p = _get(id)
  if p.status ~= "voting" then error("proposal " .. id .. " is " .. p.status .. ", not voting") end
  local ends = p.ends or p.height
  if block.height > ends then error("voting on proposal " .. id .. " ended at height " .. ends) end
  if not CHOICES[choice] then error("a vote is yes, no, abstain or veto, not " .. tostring(choice)) end
  local weight
  if p.mode == "stake" then
    weight = system.stake(msg.sender)
    if weight == 0 then error(msg.sender .. " has no stake to vote with") end
  else
    if not _validator(msg.sender) then
      error("only validators vote while nobody stakes: " .. msg.sender .. " is not one")
    end
    weight = 1
  end
  local key = "v:" .. id .. ":" .. msg.sender
  local had = storage.get(key)
  if had then error(msg.sender .. " voted " .. had.choice .. " on proposal " .. id .. " already") end
  storage.set(key, { choice = choice, weight = weight })
  local t = storage.get("t:" .. id)
  if t then
    t[choice] = t[choice] + weight
    storage.set("t:" .. id, t)
  end
  emit("vote", { id = id, voter = msg.sender, choice = choice, weight = weight })
  return p.status
end

function M.execute(id)
  local p = _get(id)
  if p.status == "voting" then
    local ends = p.ends or p.height
    if block.height <= ends then
      error("proposal " .. id .. " is voting until height " .. ends .. ": the tally comes after it")
    end
    _close(id, p)
  elseif p.status == "passed" or p.status == "queued" then
    if p.eta and block.height < p.eta then
      error("proposal " .. id .. " is queued until height " .. p.eta .. " (the head is " ..
            (block.height - 1) .. ")")
    end
    _run(id, p)
  else
    error("proposal " .. id .. " is " .. p.status)
  end
  storage.set("p:" .. id, p)
  return p.status
end

function M.cancel(id)
  require_auth(msg.sender)
  local p = _get(id)
  if p.status ~= "voting" then error("proposal " .. id .. " is " .. p.status .. ": only a vote can be cancelled") end
  if msg.sender ~= p.proposer then error("only " .. p.proposer .. " may cancel proposal " .. id) end
  _transition(id, p, "cancelled", "cancelled by " .. msg.sender)
  _settle_deposit(p)
  storage.set("p:" .. id, p)
  return p.status
end

function M.proposal(id)
  local p = type(id) == "number" and storage.get("p:" .. id)
  if not p then return nil end
  p.id = id
  p.votes = _tally(id, p)
  return p
end

function M.proposals(status)
  local out, n = {}, storage.get("next") - 1
  for id = math.max(1, n - 99), n do
    local p = storage.get("p:" .. id)
    if p and (status == nil or p.status == status) then
      p.id = id
      out[#out + 1] = p
    end
  end
  return out
end

function M.policy()
  local cfg = _cfg()
  local total = system.total_stake()
  return { name = "stake", quorum = _text(cfg.quorum), threshold = _text(cfg.threshold),
           veto = _text(cfg.veto), deposit = cfg.deposit, voting_blocks = cfg.voting_blocks,
           timelock_blocks = cfg.timelock_blocks, mode = total > 0 and "stake" or "validators" }
end

return M
