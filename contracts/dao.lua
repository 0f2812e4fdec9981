-- contracts/dao.lua -- a DAO treasury: members vote on spending the tokens
-- the DAO holds, and on who the members are.
-- init(token, members, quorum, threshold, period): `token` is the contract
--   of the tokens held (contracts/token.lua); `members` 1-64 distinct account
--   names; a proposal passes when at least `quorum` percent (1-100) of the
--   members at its creation voted and yes is more than `threshold` percent
--   (0-99) of the votes cast; voting lasts `period` blocks (1-100000000).
-- propose(kind, body): a member proposes; kinds and bodies:
--   "spend"  {to, amount [, memo]}  the DAO pays `amount` tokens to `to`
--   "member" {op = "add"|"remove", account}
--   Voting runs from the next block through height created + period.
--   Returns the id (1, 2, ...); emits `proposed`.
-- vote(id, choice): "yes" or "no", once, by a member who was one before the
--   proposal's block; emits `voted` with the tallies.
-- execute(id): any account, once voting is over, runs a proposal that
--   passed: a spend is a call token.transfer(to, amount) made by the DAO, so
--   it moves the DAO's own tokens; emits `executed` (and `member`).
-- proposal(id) (with `state`: voting, passed, rejected, executed),
--   members(), policy(), vote_of(id, account): read-only.
-- A proposal is marked executed before its action. If the action fails (the
-- DAO holds too few tokens, the member is already in), execute fails with
-- that error and everything is reverted: the proposal stays passed and can
-- be executed later. Votes cast by a member who is later removed still count.
-- Hand the DAO's account to its code after deploy, as for
-- contracts/multisig.lua, so that no key can move its tokens.

local M = {}

local MAX_MEMBERS = 64

local function _check_account(name, what)
  if type(name) ~= "string" or #name < 1 or #name > 12 or not name:match("^[a-z0-9.]+$") then
    error(what .. " must be an account name, got " .. tostring(name))
  end
end

local function _check_int(v, lo, hi, what)
  if type(v) ~= "number" or v % 1 ~= 0 or v < lo or v > hi then
    error(what .. " must be an integer of " .. lo .. "-" .. hi .. ", got " .. tostring(v))
  end
end

local function _require_member()
  require_auth(msg.sender)
  if not storage.get("m:" .. msg.sender) then
    error(msg.sender .. " is not a member")
  end
end

local function _get(id)
  if type(id) ~= "number" then error("proposal id must be a number, got " .. tostring(id)) end
  local p = storage.get("p:" .. id)
  if not p then error("no proposal " .. id) end
  return p
end

local function _state(p)
  if p.status == "executed" then return "executed" end
  if block.height <= p.ends then return "voting" end
  local cast = p.yes + p.no
  local policy = storage.get("policy")
  if cast * 100 >= policy.quorum * p.members and p.yes * 100 > policy.threshold * cast then
    return "passed"
  end
  return "rejected"
end

local function _add_member(account)
  if storage.get("m:" .. account) then error(account .. " is already a member") end
  local list = storage.get("members")
  if #list >= MAX_MEMBERS then error("the DAO has " .. MAX_MEMBERS .. " members, the most it can") end
  list[#list + 1] = account
  storage.set("members", list)
  storage.set("m:" .. account, block.height)    -- votes on proposals from later blocks
end

local function _remove_member(account)
  if not storage.get("m:" .. account) then error(account .. " is not a member") end
  local list, kept = storage.get("members"), {}
  if #list == 1 then error("cannot remove " .. account .. ", the last member") end
  for _, m in ipairs(list) do
    if m ~= account then kept[#kept + 1] = m end
  end
  storage.set("members", kept)
  storage.delete("m:" .. account)
end

-- Checks a proposal's body against its kind; returns the body to store.
local function _check_body(kind, body)
  if type(body) ~= "table" then error("body must be a table, got " .. type(body)) end
  if kind == "spend" then
    _check_account(body.to, "spend.to")
    local n = body.amount
    if type(n) ~= "number" or n % 1 ~= 0 or n < 1 then
      error("spend.amount must be a positive integer, got " .. tostring(n))
    end
    if body.memo ~= nil and (type(body.memo) ~= "string" or #body.memo > 256) then
      error("spend.memo must be a string of at most 256 bytes")
    end
    return { to = body.to, amount = body.amount, memo = body.memo }
  elseif kind == "member" then
    _check_account(body.account, "member.account")
    local member = storage.get("m:" .. body.account) ~= nil
    if body.op == "add" then
      if member then error(body.account .. " is already a member") end
    elseif body.op == "remove" then
      if not member then error(body.account .. " is not a member") end
    else
      error("member.op must be add or remove, got " .. tostring(body.op))
    end
    return { op = body.op, account = body.account }
  end
  error("kind must be spend or member, got " .. tostring(kind))
end

function M.init(token, members, quorum, threshold, period)
  _check_account(token, "token")
  if type(members) ~= "table" or #members < 1 or #members > MAX_MEMBERS then
    error("members must be a list of 1-" .. MAX_MEMBERS .. " account names")
  end
  _check_int(quorum, 1, 100, "quorum")
  _check_int(threshold, 0, 99, "threshold")
  _check_int(period, 1, 100000000, "period")
  storage.set("policy", { token = token, quorum = quorum, threshold = threshold, period = period })
  storage.set("members", {})
  for i, name in ipairs(members) do
    _check_account(name, "member " .. i)
    if storage.get("m:" .. name) then error("member " .. name .. " is listed twice") end
    _add_member(name)
  end
  storage.set("next", 1)
end

function M.propose(kind, body)
  _require_member()
  body = _check_body(kind, body)
  local id = storage.get("next")
  storage.set("next", id + 1)
  local p = { proposer = msg.sender, kind = kind, body = body, created = block.height,
              ends = block.height + storage.get("policy").period,
              members = #storage.get("members"), yes = 0, no = 0, status = "open" }
  storage.set("p:" .. id, p)
  emit("proposed", { id = id, proposer = msg.sender, kind = kind, ends = p.ends })
  return id
end

function M.vote(id, choice)
  _require_member()
  local p = _get(id)
  if storage.get("m:" .. msg.sender) >= p.created then
    error(msg.sender .. " joined after proposal " .. id .. " was made")
  end
  if block.height > p.ends then
    error("voting on proposal " .. id .. " ended at height " .. p.ends)
  end
  if choice ~= "yes" and choice ~= "no" then
    error("choice must be yes or no, got " .. tostring(choice))
  end
  local key = "v:" .. id .. ":" .. msg.sender
  local had = storage.get(key)
  if had then error(msg.sender .. " already voted " .. had .. " on proposal " .. id) end
  storage.set(key, choice)
  p[choice] = p[choice] + 1
  storage.set("p:" .. id, p)
  emit("voted", { id = id, member = msg.sender, choice = choice, yes = p.yes, no = p.no })
  return true
end

function M.execute(id)
  require_auth(msg.sender)
  local p = _get(id)
  local state = _state(p)
  if state == "voting" then
    error("proposal " .. id .. " is being voted on until height " .. p.ends)
  elseif state == "rejected" then
    local policy = storage.get("policy")
    error("proposal " .. id .. " did not pass: " .. p.yes .. " yes, " .. p.no .. " no of " ..
          p.members .. " members (quorum " .. policy.quorum .. "%, threshold " .. policy.threshold .. "%)")
  elseif state == "executed" then
    error("proposal " .. id .. " was executed at height " .. p.executed_at)
  end
  p.status, p.executed_at = "executed", block.height
  storage.set("p:" .. id, p)
  local b = p.body
  if p.kind == "spend" then
    call(storage.get("policy").token, "transfer", b.to, b.amount)
  else
    if b.op == "add" then _add_member(b.account) else _remove_member(b.account) end
    emit("member", { op = b.op, account = b.account })
  end
  emit("executed", { id = id, kind = p.kind, by = msg.sender })
  return true
end

function M.proposal(id)
  local p = _get(id)
  p.state = _state(p)
  return p
end

function M.vote_of(id, account)
  _check_account(account, "account")
  return storage.get("v:" .. tostring(id) .. ":" .. account)
end

function M.members()
  return storage.get("members")
end

function M.policy()
  return storage.get("policy")
end

return M
