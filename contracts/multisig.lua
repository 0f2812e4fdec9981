-- contracts/multisig.lua -- a multisig wallet: its owners propose calls that
-- the wallet makes with its own authority once enough of them approve.
-- init(owners, threshold): 1-16 distinct account names, and how many of
--   them must approve (1..#owners). Both are fixed for the wallet's life.
-- propose(contract, method, args): an owner proposes the call
--   contract.method(unpack(args)); the proposer's approval counts. Returns
--   the proposal's id (1, 2, ...); emits `proposed`.
-- approve(id), revoke(id): an owner adds or withdraws its approval of an
--   open proposal; emit `approved` / `revoked` with the new count.
-- execute(id): an owner runs an open proposal that has `threshold`
--   approvals: the wallet calls contract.method(...) itself, so the callee
--   sees msg.sender == the wallet, and the wallet acts with its own authority
--   (token.transfer moves the wallet's tokens). Returns the callee's result;
--   emits `executed` after the callee's events.
-- proposal(id), owners(), threshold(): read-only.
-- A proposal runs at most once: it is marked executed before the call. If the
-- call fails, execute fails with the callee's error and every write of the
-- transaction is reverted, the mark included: the proposal stays open with
-- its approvals and can be executed again (say, once the wallet holds the
-- tokens it was short of).
-- The deploy makes the wallet's account held by the deployer; hand it to the
-- wallet (sys.updateauth of its active, then owner, to {threshold = 1,
-- accounts = {{account = WALLET, permission = "active", weight = 1}}}) so
-- that nobody's keys can act as the wallet: only its code, through execute.

local M = {}

local MAX_OWNERS, MAX_ARGS = 16, 16

local function _check_account(name, what)
  if type(name) ~= "string" or #name < 1 or #name > 12 or not name:match("^[a-z0-9.]+$") then
    error(what .. " must be an account name, got " .. tostring(name))
  end
end

local function _require_owner()
  require_auth(msg.sender)
  if not storage.get("owner:" .. msg.sender) then
    error(msg.sender .. " is not an owner of this wallet")
  end
end

-- The proposal `id`, which must be open.
local function _open(id)
  if type(id) ~= "number" then error("proposal id must be a number, got " .. tostring(id)) end
  local p = storage.get("p:" .. id)
  if not p then error("no proposal " .. id) end
  if p.status ~= "open" then error("proposal " .. id .. " is " .. p.status) end
  return p
end

function M.init(owners, threshold)
  if type(owners) ~= "table" or #owners < 1 or #owners > MAX_OWNERS then
    error("owners must be a list of 1-" .. MAX_OWNERS .. " account names")
  end
  for i, name in ipairs(owners) do
    _check_account(name, "owner " .. i)
    if storage.get("owner:" .. name) then error("owner " .. name .. " is listed twice") end
    storage.set("owner:" .. name, true)
  end
  if type(threshold) ~= "number" or threshold % 1 ~= 0 or threshold < 1 or threshold > #owners then
    error("threshold must be an integer of 1-" .. #owners .. ", got " .. tostring(threshold))
  end
  storage.set("owners", owners)
  storage.set("threshold", threshold)
  storage.set("next", 1)
end

function M.propose(contract, method, args)
  _require_owner()
  _check_account(contract, "contract")
  if type(method) ~= "string" or #method < 1 or #method > 64 then
    error("method must be a string of 1-64 bytes, got " .. tostring(method))
  end
  args = args or {}
  if type(args) ~= "table" then error("args must be a list, got " .. type(args)) end
  local n = 0
  for _ in pairs(args) do n = n + 1 end
  if n > MAX_ARGS or n ~= #args then
    error("args must be a list of at most " .. MAX_ARGS .. " values")
  end
  local id = storage.get("next")
  storage.set("next", id + 1)
  storage.set("p:" .. id, { proposer = msg.sender, contract = contract, method = method,
                            args = args, approvals = { [msg.sender] = true }, count = 1,
                            status = "open" })
  emit("proposed", { id = id, proposer = msg.sender, contract = contract, method = method })
  return id
end

function M.approve(id)
  _require_owner()
  local p = _open(id)
  if p.approvals[msg.sender] then
    error(msg.sender .. " already approved proposal " .. id)
  end
  p.approvals[msg.sender] = true
  p.count = p.count + 1
  storage.set("p:" .. id, p)
  emit("approved", { id = id, owner = msg.sender, approvals = p.count })
  return p.count
end

function M.revoke(id)
  _require_owner()
  local p = _open(id)
  if not p.approvals[msg.sender] then
    error(msg.sender .. " has not approved proposal " .. id)
  end
  p.approvals[msg.sender] = nil
  p.count = p.count - 1
  storage.set("p:" .. id, p)
  emit("revoked", { id = id, owner = msg.sender, approvals = p.count })
  return p.count
end

function M.execute(id)
  _require_owner()
  local p = _open(id)
  local need = storage.get("threshold")
  if p.count < need then
    error("proposal " .. id .. " has " .. p.count .. " of " .. need .. " approvals")
  end
  -- Marked first, so a callee that calls back into the wallet finds it run.
  p.status = "executed"
  p.executed_at = block.height
  storage.set("p:" .. id, p)
  local result = call(p.contract, p.method, unpack(p.args))
  emit("executed", { id = id, by = msg.sender, contract = p.contract, method = p.method })
  return result
end

function M.proposal(id)
  if type(id) ~= "number" then error("proposal id must be a number, got " .. tostring(id)) end
  return storage.get("p:" .. id)
end

function M.owners()
  return storage.get("owners")
end

function M.threshold()
  return storage.get("threshold")
end

return M
