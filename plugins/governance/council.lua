-- plugins/governance/council.lua -- the validators decide, one vote each.
--
-- The council is the validators' accounts (system.validators(): a
-- validator's account bears its name). Any of them may propose, and the
-- proposer votes yes by proposing. A proposal passes once more than half
-- of the validators in office vote yes, within voting_blocks blocks, and
-- is carried out in the transaction of the vote that passes it. It is
-- rejected once no and abstain leave too few validators to pass it, and it
-- expires when its voting ends first. Replacing the governance plugin
-- itself passes on the same bar as anything else.
--
-- params: voting_blocks = N   (default 100) votes count at the heights
--                             H .. H + N of the proposal's block H
--
-- Methods: propose(kind, body) -> id (kinds and bodies as in admin.lua),
-- vote(id, "yes" | "no" | "abstain") -> status (there is no veto),
-- execute(id) -> status: anyone; records the outcome once voting has
-- ended, or carries out a proposal passed or queued under another policy,
-- cancel(id): the proposer, while it is voting. Queries: proposal(id)
-- (with votes = {yes, no, abstain} and of = validators in office),
-- proposals([status]), policy().
--
-- Votes are counted among the validators in office when counted: a
-- validator removed meanwhile no longer counts, one added may vote.
-- Storage: the layout of admin.lua's header, so open proposals carry over
-- when this policy replaces another or another replaces it.

local M = { NAME = "council" }

local function _cfg()
  return storage.get("council")
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

-- Passes or rejects a voting proposal when the votes decide it.
local function _decide(id, p)
  local c, n = _count(id)
  if c.yes * 2 > n then
    _transition(id, p, "passed", c.yes .. " of " .. n .. " validators voted yes")
    _run(id, p)
  elseif (n - c.no - c.abstain) * 2 <= n then
    _transition(id, p, "rejected", (c.no + c.abstain) .. " of " .. n .. " validators voted no or abstained")
  end
end

function M.init(params)
  params = params or {}
  local vb = params.voting_blocks
  if vb == nil then vb = 100 end
  if type(vb) ~= "number" or vb % 1 ~= 0 or vb < 1 or vb > 1000000 then
    error("params.voting_blocks must be an integer of 1-1000000, not " .. tostring(vb))
  end
  storage.set("council", { voting_blocks = vb })
  if storage.get("next") == nil then storage.set("next", 1) end
end

function M.propose(kind, body)
  require_auth(msg.sender)
  if not _member(msg.sender) then
    error("only validators propose in the council: " .. msg.sender .. " is not one")
  end
  system.check(kind, body)
  local id = storage.get("next")
  storage.set("next", id + 1)
  local p = { kind = kind, body = body, proposer = msg.sender, height = block.height,
              ends = block.height + _cfg().voting_blocks }
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
  if not _member(msg.sender) then error("only validators vote in the council: " .. msg.sender .. " is not one") end
  if choice ~= "yes" and choice ~= "no" and choice ~= "abstain" then
    error("a council vote is yes, no or abstain, not " .. tostring(choice))
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
      _transition(id, p, "expired", "voting ended at height " .. ends .. " with " .. c.yes .. " of " ..
                  n .. " validators for it")
    end
  elseif p.status == "passed" or p.status == "queued" then
    if p.eta and block.height < p.eta then error("proposal " .. id .. " is queued until height " .. p.eta) end
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
  return { name = "council", voting_blocks = _cfg().voting_blocks, council = _council(),
           bar = "more than half of the validators" }
end

return M
