-- tests/lua/contracts/chatty.lua -- logs and fails on purpose, for
-- tests/lua/author_spec.lua: what log(...) and errors say about where.
-- Init params: none. Methods: say(x), boom(), spin(), eat(), get().

local M = {}

function M.init() storage.set("n", 0) end

function M.say(x)
  log("say", x, "n is", storage.get("n"))
  storage.set("n", storage.get("n") + 1)
  return storage.get("n")
end

function M.boom()
  storage.set("n", -1)
  error("boom")
end

function M.spin()
  local i = 0
  while true do i = i + 1 end
end

function M.eat()
  local t = {}
  for i = 1, 1e9 do t[i] = string.rep("y", 4096) .. i end
end

function M.get()
  log("get")
  return storage.get("n")
end

return M
