-- tests/lua/contracts/walker.lua -- records the order in which pairs and
-- next visit a table of string, number, boolean and table keys, so specs can
-- check that the order is fixed (DESIGN "The sandbox").
-- walk(n, backward): builds the table (keys inserted first to last, or last
-- to first), stores both orders under "pairs" and "next", returns pairs'.
-- stored(key): what walk stored; names(): what tostring shows.

local M = {}

local function name(k)
  if type(k) == "table" then return "table:" .. k.id end
  return type(k) .. ":" .. tostring(k)
end

local function keys(n)
  local ks = {}
  for i = 1, n do
    ks[#ks + 1] = "s" .. i
    ks[#ks + 1] = i * 7 - 20
    ks[#ks + 1] = { id = i }
  end
  for _, k in ipairs { true, false, 0.5, -1e15, 2 ^ 40, "", "S", "\255" } do ks[#ks + 1] = k end
  return ks
end

function M.walk(n, backward)
  local ks, t = keys(n), {}
  local first, last, step = 1, #ks, 1
  if backward then first, last, step = #ks, 1, -1 end
  for i = first, last, step do t[ks[i]] = i end
  local by_pairs, by_next = {}, {}
  for k in pairs(t) do by_pairs[#by_pairs + 1] = name(k) end
  local k = next(t)
  while k ~= nil do
    by_next[#by_next + 1] = name(k)
    k = next(t, k)
  end
  storage.set("pairs", by_pairs)
  storage.set("next", by_next)
  return by_pairs
end

function M.stored(key)
  return storage.get(key)
end

-- What sandboxed code can learn about addresses: nothing.
function M.names()
  return { tostring({}), tostring(print or M.names), tostring(M.names), string.format("%s", {}) }
end

return M
