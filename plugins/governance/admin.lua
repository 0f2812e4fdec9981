-- plugins/governance/admin.lua -- one account decides, at once.
--
-- The chain's default policy: a proposal by the admin is passed and
-- carried out in the transaction that makes it; nobody else may propose.
-- Without an admin nothing can change (the membership is fixed).
--
-- params: admin = ACCOUNT   (the config's `admin` is put here)
--
-- Proposals: propose(kind, body) -> id; kinds and bodies as in every
-- policy: plugin {slot, code, params, at, name}, param {name, value},
-- member {op, key}, validator {op, name, key, power}, spend {to, amount,
-- memo}, code {contract, source}. Queries: proposal(id), proposals(status),
-- policy(). vote, execute and cancel have nothing to do here.
--
-- Storage, the same in every policy of plugins/governance/: a swap of the
-- governance slot keeps gov's storage, so the new policy takes over the
-- proposals of the old one, open ones included.
--   "next"          the id of the next proposal (1 first)
--   "p:ID"          {kind, body, proposer, height, status, why}; policies
--                   that vote add ends (the last height at which votes
--                   count), eta (the first height at which a passed
--                   proposal may be carried out), and stake.lua deposit,
--                   deposit_to, mode and total
--   "v:ID:ACCOUNT"  a vote {choice, weight}
--   "t:ID"          stake.lua's running tally {yes, no, abstain, veto}
-- A status goes voting -> passed | rejected | expired | cancelled, and
-- passed -> queued (a timelock) -> executed | failed; each change is an
-- event `proposal` {id, kind, status, why}. A policy keeps its params
-- under its own key ("admin" here).

local M = { NAME = "admin" }

local function _admin()
  return storage.get("admin")
end

local function _transition(id, p, status, why)
  p.status = status
  p.why = why
  storage.set("p:" .. id, p)
  emit("proposal", { id = id, kind = p.kind, status = status, why = why })
end

function M.init(params)
  local admin = params and params.admin
  if admin ~= nil and type(admin) ~= "string" then error("params.admin must be an account name") end
  storage.set("admin", admin or false)
  if storage.get("next") == nil then storage.set("next", 1) end
end

function M.propose(kind, body)
  local admin = _admin()
  if not admin then error("nobody decides: the chain names no admin") end
  require_auth(msg.sender)
  if msg.sender ~= admin then
    local what = (kind == "member" or kind == "validator") and "change membership" or "decide"
    error("only the admin " .. admin .. " may " .. what .. ", not " .. msg.sender)
  end
  system.check(kind, body)
  local id = storage.get("next")
  storage.set("next", id + 1)
  local p = { kind = kind, body = body, proposer = msg.sender, height = block.height }
  _transition(id, p, "voting")
  _transition(id, p, "passed")
  system.apply(kind, body)
  _transition(id, p, "executed")
  return id
end

function M.vote()
  error("admin.lua has no votes: the admin's proposals pass at once")
end

function M.execute(id)
  local p = storage.get("p:" .. tostring(id))
  if not p then error("no proposal " .. tostring(id)) end
  error("proposal " .. tostring(id) .. " is " .. p.status)
end

function M.cancel(id)
  M.execute(id)
end

function M.proposal(id)
  local p = storage.get("p:" .. tostring(id))
  if p then p.id = id end
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
  return { name = "admin", admin = _admin() or nil }
end

return M
