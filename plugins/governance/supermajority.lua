-- plugins/governance/supermajority.lua -- at least 2/3 of the validators,
-- then a timelock.
--
-- The validators' accounts vote, one vote each (system.validators(): a
-- validator's account bears its name). Any of them may propose, and the
-- proposer votes yes by proposing. A proposal passes once at least
-- `threshold` of the validators in office vote yes within voting_blocks
-- blocks; replacing the governance plugin itself (a plugin proposal for
-- the governance slot) needs governance_threshold instead. A passed
-- proposal is queued for timelock_blocks blocks, so everyone sees what is
-- coming, and then anyone may carry it out with execute(id). It is
-- rejected once no and abstain leave too few validators to reach the bar,
-- and it expires when its voting ends first. A plugin proposal's `at` must
-- leave room for the timelock: at least the proposal's height +
-- timelock_blocks + 2.
--
-- params: threshold = "2/3"             (default) a fraction "N/D" or a
--                                       percentage "66.7%": yes >= it
--         governance_threshold = "3/4"  (default) the same, for a
--                                       governance swap; not below threshold
--         voting_blocks = N             (default 100) votes count at the
--                                       heights H .. H + N of the proposal's block H
--         timelock_blocks = N           (default 20) execute(id) runs a
--                                       proposal passed at height P from P + N
--
-- Methods: propose(kind, body) -> id (kinds and bodies as in admin.lua),
-- vote(id, "yes" | "no" | "abstain") -> status (there is no veto),
-- execute(id) -> status: anyone; carries out a queued proposal once its
-- timelock is over, or records the outcome once voting has ended,
-- cancel(id): the proposer, while it is voting. Queries:
-- proposal(id) (with votes = {yes, no, abstain} and of = validators in
-- office), proposals([status]), policy().
--
-- Votes are counted among the validators in office when counted. Storage:
-- the layout of admin.lua's header, so open proposals carry over when this
-- policy replaces another or another replaces it.

local M = { NAME = "supermajority" }

local function _cfg()
  return storage.get("supermajority")
end

-- "2/3" or "66.7%" (at most two decimals) as {num, den}, 0 < num <= den <= 10000.
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
    error("params." .. name .. " must be a fraction like \"2/3\" or a percentage like \"66.7%\", " ..
          "above 0 and at most 1, not " .. tostring(v))
  end
  return { n, d }
end

local function _blocks(params, name, default)
  local v = params[name]
  if v == nil then return default end
  if type(v) ~= "number" or v % 1 ~= 0 or v < 0 or v > 1000000 then
    error("params." .. name .. " must be an integer of 0-1000000, not " .. tostring(v))
  end
  return v
end

local function _council()
  local names = {}
  for i, v in ipairs(system.validators()) do names[i] = v.name end
  return names
end

local function _member(account)
  for _, name in ipairs(_council()) do
    if name == account then return true end
  end
  return false
end

local function _get(id)
  local p = type(id) == "number" and storage.get("p:" .. id)
  if not p then error("no proposal " .. tostring(id)) end
  return p
end

local function _governance_swap(kind, body)
  return kind == "plugin" and type(body) == "table" and body.slot == "governance"
end

-- The bar of a proposal: {num, den} and its text.
local function _bar(p)
  local cfg = _cfg()
  local r = _governance_swap(p.kind, p.body) and cfg.governance_threshold or cfg.threshold
  return r, r[1] .. "/" .. r[2]
end

-- Sets the status and says so; the caller stores the record. A deposit
-- taken under stake.lua goes back to its proposer once the vote is over.
local function _transition(id, p, status, why)
  p.status = status
  p.why = why
  emit("proposal", { id = id, kind = p.kind, status = status, why = why })
  if status ~= "voting" and (p.deposit or 0) > 0 and not p.deposit_to then
    p.deposit_to = p.proposer
    call("sys", "transfer", p.proposer, p.deposit)
  end
end

-- Yes, no and abstain among the validators in office; their number.
local function _count(id)
  local c, names = { yes = 0, no = 0, abstain = 0 }, _council()
  for _, name in ipairs(names) do
    local v = storage.get("v:" .. id .. ":" .. name)
    if v then
      local choice = v.choice == "veto" and "no" or v.choice   -- a veto cast under stake.lua
      c[choice] = (c[choice] or 0) + 1
    end
  end
  return c, #names
end

-- Carries out a passed proposal: executed, or failed with the reason (the
-- transaction still records it). The check first, over a savepoint, so a
-- refusal leaves nothing half done behind the pcall.
local function _run(id, p)
  local ok, err = pcall(system.check, p.kind, p.body)
  if ok then ok, err = pcall(system.apply, p.kind, p.body) end
  if ok then _transition(id, p, "executed") else _transition(id, p, "failed", tostring(err)) end
end

-- Passes (and queues) or rejects a voting proposal when the votes decide it.
local function _decide(id, p)
  local c, n = _count(id)
  local r, text = _bar(p)
  if c.yes * r[2] >= r[1] * n then
    _transition(id, p, "passed", c.yes .. " of " .. n .. " validators voted yes (" .. text .. " needed)")
    p.eta = block.height + _cfg().timelock_blocks
    if p.eta > block.height then
      _transition(id, p, "queued", "executable from height " .. p.eta)
    else
      _run(id, p)
    end
  elseif (n - c.no - c.abstain) * r[2] < r[1] * n then
    _transition(id, p, "rejected", (c.no + c.abstain) .. " of " .. n ..
                " validators voted no or abstained (" .. text .. " needed)")
  end
end

function M.init(params)
  params = params or {}
  local cfg = {
    threshold = _ratio(params.threshold or "2/3", "threshold"),
    governance_threshold = _ratio(params.governance_threshold or "3/4", "governance_threshold"),
    voting_blocks = _blocks(params, "voting_blocks", 100),
    timelock_blocks = _blocks(params, "timelock_blocks", 20),
  }
  if cfg.voting_blocks < 1 then error("params.voting_blocks must be at least 1") end
  local t, g = cfg.threshold, cfg.governance_threshold
  if g[1] * t[2] < t[1] * g[2] then
    error("params.governance_threshold (" .. g[1] .. "/" .. g[2] .. ") is below threshold (" ..
          t[1] .. "/" .. t[2] .. ")")
  end
  storage.set("supermajority", cfg)
  if storage.get("next") == nil then storage.set("next", 1) end
end

function M.propose(kind, body)
  require_auth(msg.sender)
  if not _member(msg.sender) then
    error("only validators propose under supermajority: " .. msg.sender .. " is not one")
  end
  system.check(kind, body)
  local cfg = _cfg()
  if kind == "plugin" and body.at < block.height + cfg.timelock_blocks + 2 then
    error("plugin proposal: at must leave room for the timelock of " .. cfg.timelock_blocks ..
          " blocks: " .. (block.height + cfg.timelock_blocks + 2) .. " or later")
  end
  local id = storage.get("next")
  storage.set("next", id + 1)
  local p = { kind = kind, body = body, proposer = msg.sender, height = block.height,
              ends = block.height + cfg.voting_blocks }
  _transition(id, p, "voting")
  storage.set("v:" .. id .. ":" .. msg.sender, { choice = "yes", weight = 1 })
  emit("vote", { id = id, voter = msg.sender, choice = "yes", weight = 1 })
  _decide(id, p)
  storage.set("p:" .. id, p)
  return id
end

function M.vote(id, choice)
  require_auth(msg.sender)
  local p = _get(id)
  if p.status ~= "voting" then error("proposal " .. id .. " is " .. p.status .. ", not voting") end
  local ends = p.ends or p.height
  if block.height > ends then error("voting on proposal " .. id .. " ended at height " .. ends) end
  if not _member(msg.sender) then
    error("only validators vote under supermajority: " .. msg.sender .. " is not one")
  end
  if choice ~= "yes" and choice ~= "no" and choice ~= "abstain" then
    error("a vote is yes, no or abstain (supermajority has no veto), not " .. tostring(choice))
  end
  local key = "v:" .. id .. ":" .. msg.sender
  local had = storage.get(key)
  if had then error(msg.sender .. " voted " .. had.choice .. " on proposal " .. id .. " already") end
  storage.set(key, { choice = choice, weight = 1 })
  emit("vote", { id = id, voter = msg.sender, choice = choice, weight = 1 })
  _decide(id, p)
  storage.set("p:" .. id, p)
  return p.status
end

function M.execute(id)
  local p = _get(id)
  if p.status == "voting" then
    _decide(id, p)          -- the validators in office may have changed
    if p.status == "voting" then
      local ends = p.ends or p.height
      if block.height <= ends then error("proposal " .. id .. " is voting until height " .. ends) end
      local c, n = _count(id)
      local _, text = _bar(p)
      _transition(id, p, "expired", "voting ended at height " .. ends .. " with " .. c.yes .. " of " ..
                  n .. " validators for it (" .. text .. " needed)")
    end
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
  storage.set("p:" .. id, p)
  return p.status
end

function M.proposal(id)
  local p = type(id) == "number" and storage.get("p:" .. id)
  if not p then return nil end
  p.id = id
  p.votes, p.of = _count(id)
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
  local t, g = cfg.threshold, cfg.governance_threshold
  return { name = "supermajority", threshold = t[1] .. "/" .. t[2],
           governance_threshold = g[1] .. "/" .. g[2], voting_blocks = cfg.voting_blocks,
           timelock_blocks = cfg.timelock_blocks, council = _council() }
end

return M
