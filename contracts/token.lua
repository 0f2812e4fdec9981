-- contracts/token.lua -- a fungible token with a fixed supply.
-- init(symbol, supply): mints `supply` to the deployer.
-- transfer(to, amount): moves amount from the sender; emits `transfer`.
-- balance_of(account), symbol(), total_supply(): read-only.
-- Amounts are integers; balances live under "bal:" .. account.

local M = {}

local function _balance(account)
  return storage.get("bal:" .. account) or 0
end

local function _check_account(name)
  if type(name) ~= "string" or #name < 1 or #name > 12 or not name:match("^[a-z0-9.]+$") then
    error("invalid account name: " .. tostring(name))
  end
end

local function _check_amount(amount)
  if type(amount) ~= "number" or amount <= 0 or amount % 1 ~= 0 then
    error("amount must be a positive integer, got " .. tostring(amount))
  end
end

function M.init(symbol, supply)
  if type(symbol) ~= "string" or not symbol:match("^[A-Z]+$") or #symbol > 8 then
    error("symbol must be 1-8 capital letters, got " .. tostring(symbol))
  end
  _check_amount(supply)
  storage.set("symbol", symbol)
  storage.set("supply", supply)
  storage.set("bal:" .. msg.sender, supply)
  emit("transfer", { from = "", to = msg.sender, amount = supply })
end

function M.transfer(to, amount)
  require_auth(msg.sender)
  _check_account(to)
  _check_amount(amount)
  local from = msg.sender
  local have = _balance(from)
  if have < amount then
    error("insufficient balance: has " .. have .. ", needs " .. amount)
  end
  storage.set("bal:" .. from, have - amount)
  storage.set("bal:" .. to, _balance(to) + amount)
  emit("transfer", { from = from, to = to, amount = amount })
  return true
end

function M.balance_of(account)
  _check_account(account)
  return _balance(account)
end

function M.symbol()
  return storage.get("symbol")
end

function M.total_supply()
  return storage.get("supply")
end

return M
