-- contracts/names.lua -- a name registry: short names held by accounts for a
-- number of blocks, renewable by their owner, free again once expired.
-- init(period): a registration or a renewal lasts `period` blocks.
-- register(name): the sender takes a free or expired name until height
--   block.height + period; emits `registered`.
-- renew(name): the owner extends a name it holds by `period`; emits `renewed`.
-- transfer(name, to): the owner gives a name it holds, with its expiry, to
--   another account; emits `transferred`.
-- resolve(name): the owner, or nil if the name is free or expired.
-- lookup(name): {owner, expires, expired} or nil; period(): read-only.
-- A name is 1-32 of a-z, 0-9 and '-'. `expires` is the first height at which
-- the name is free again. Registering is free: the only cost is the
-- transaction's fee. (A contract cannot take a user's tokens: inside its call
-- to a token it acts only for itself, so a paid registry would need a
-- deposit step first.) Records live under "n:" .. name.

local M = {}

local function _check_name(name)
  if type(name) ~= "string" or #name < 1 or #name > 32 or not name:match("^[a-z0-9%-]+$") then
    error("name must be 1-32 of a-z, 0-9 and '-', got " .. tostring(name))
  end
end

local function _check_account(name)
  if type(name) ~= "string" or #name < 1 or #name > 12 or not name:match("^[a-z0-9.]+$") then
    error("invalid account name: " .. tostring(name))
  end
end

local function _check_period(n)
  if type(n) ~= "number" or n < 1 or n % 1 ~= 0 or n > 100000000 then
    error("period must be an integer of 1-100000000 blocks, got " .. tostring(n))
  end
end

-- The record of a name that is held now, or nil.
local function _held(name)
  local rec = storage.get("n:" .. name)
  if rec and block.height < rec.expires then return rec end
  return nil
end

-- The record of a name the sender holds now; refuses anything else.
local function _owned(name)
  _check_name(name)
  local rec = storage.get("n:" .. name)
  if not rec then error("name " .. name .. " is not registered") end
  if block.height >= rec.expires then
    error("name " .. name .. " expired at height " .. rec.expires)
  end
  if rec.owner ~= msg.sender then
    error("name " .. name .. " is held by " .. rec.owner .. ", not " .. msg.sender)
  end
  return rec
end

function M.init(period)
  _check_period(period)
  storage.set("period", period)
end

function M.register(name)
  require_auth(msg.sender)
  _check_name(name)
  local rec = _held(name)
  if rec then
    error("name " .. name .. " is held by " .. rec.owner .. " until height " .. rec.expires)
  end
  rec = { owner = msg.sender, expires = block.height + storage.get("period") }
  storage.set("n:" .. name, rec)
  emit("registered", { name = name, owner = rec.owner, expires = rec.expires })
  return rec.expires
end

function M.renew(name)
  require_auth(msg.sender)
  local rec = _owned(name)
  rec.expires = rec.expires + storage.get("period")
  storage.set("n:" .. name, rec)
  emit("renewed", { name = name, owner = rec.owner, expires = rec.expires })
  return rec.expires
end

function M.transfer(name, to)
  require_auth(msg.sender)
  local rec = _owned(name)
  _check_account(to)
  rec.owner = to
  storage.set("n:" .. name, rec)
  emit("transferred", { name = name, from = msg.sender, to = to, expires = rec.expires })
  return true
end

function M.resolve(name)
  _check_name(name)
  local rec = _held(name)
  return rec and rec.owner
end

function M.lookup(name)
  _check_name(name)
  local rec = storage.get("n:" .. name)
  if not rec then return nil end
  rec.expired = block.height >= rec.expires
  return rec
end

function M.period()
  return storage.get("period")
end

return M
