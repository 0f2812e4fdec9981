-- tests/lua/contracts/probe.lua -- exposes each part of the contract API to
-- the specs in tests/lua/: storage, msg, block, emit, call, require_auth,
-- crypto and error, one small public method each.

local M = {}

function M.set(key, value)
  storage.set(key, value)
  return true
end

function M.get(key)
  return storage.get(key)
end

function M.delete(key)
  storage.delete(key)
  return true
end

function M.whoami()
  return { sender = msg.sender, contract = msg.contract, origin = msg.origin }
end

function M.block()
  return { height = block.height, time = block.time, hash = block.hash }
end

function M.emit(name, data)
  emit(name, data)
  return true
end

function M.emit_many(n)
  for i = 1, n do emit("e" .. i, { i = i }) end
  return n
end

-- call(contract, method, ...) as it is: an error in the callee propagates.
function M.call(contract, method, ...)
  return call(contract, method, ...)
end

-- Writes and emits around a call it catches; returns what the call gave.
function M.try_call(contract, method, ...)
  storage.set("before", true)
  local ok, res = pcall(call, contract, method, ...)
  storage.set("after", true)
  emit("caught", { ok = ok })
  if ok then return { ok = true, result = res } end
  return { ok = false, err = res }
end

-- Writes, emits, then calls; the callee's error is not caught.
function M.write_then_call(contract, method, ...)
  storage.set("mine", true)
  emit("mine", {})
  return call(contract, method, ...)
end

function M.write_then_fail(key, value, message)
  storage.set(key, value)
  emit("wrote", { key = key })
  error(message)
end

function M.auth(account, permission)
  require_auth(account, permission)
  return true
end

function M.auth_sender()
  require_auth(msg.sender)
  return msg.sender
end

function M.hash(bytes)
  return crypto.hash(bytes)
end

function M.verify(pubkey, sig, bytes)
  return crypto.verify(pubkey, sig, bytes)
end

-- Calls itself n times: n + 1 frames of this contract.
function M.depth(n)
  if n == 0 then return 0 end
  return call(msg.contract, "depth", n - 1) + 1
end

function M._secret()
  return "leaked"
end

return M
