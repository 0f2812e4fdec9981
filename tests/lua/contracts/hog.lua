-- tests/lua/contracts/hog.lua -- allocates memory and holds it until the
-- call ends, to bring a call close to (or over) the per-call memory cap,
-- LN_SANDBOX_MEM_CAP (32 MiB).
-- fill(mib): keeps about mib MiB of distinct strings; returns their count.
-- spin(): never returns.

local M = {}

function M.fill(mib)
  local keep = {}
  for i = 1, mib * 64 do keep[i] = string.rep("x", 16000) .. i end   -- 64 per MiB
  storage.set("filled", #keep)
  return #keep
end

function M.filled()
  return storage.get("filled")
end

-- Runs until the gas runs out.
function M.spin()
  storage.set("spun", true)
  local n = 0
  while true do n = n + 1 end
end

return M
