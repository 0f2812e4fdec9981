-- contracts/{{name}}.lua -- a counter per account, made by `lunet new`: a
-- starting point to edit.
-- Init params: start (an integer, default 0), where every count begins.
-- Methods: bump(by) adds `by` (a positive integer, default 1) to the
-- sender's count and returns it; count(account) reads an account's count.

local M = {}

local function _key(account)
  return "count:" .. account
end

local function _count(account)
  return storage.get(_key(account)) or storage.get("start")
end

function M.init(start)
  start = start or 0
  if type(start) ~= "number" or start % 1 ~= 0 then
    error("init: start must be an integer, got " .. tostring(start))
  end
  storage.set("start", start)
end

function M.bump(by)
  require_auth(msg.sender)
  by = by or 1
  if type(by) ~= "number" or by < 1 or by % 1 ~= 0 then
    error("bump: by must be a positive integer, got " .. tostring(by))
  end
  local n = _count(msg.sender) + by
  storage.set(_key(msg.sender), n)
  emit("bumped", { account = msg.sender, count = n })
  log("bumped", msg.sender, "to", n)
  return n
end

function M.count(account)
  return _count(account)
end

return M
