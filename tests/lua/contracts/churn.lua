-- tests/lua/contracts/churn.lua -- keeps the garbage collector busy with
-- short-lived strings that are made again and again. Whether such a string
-- is still interned or must be allocated anew depends on how far the
-- collector got; that, and so gas and memory, must be the same on every node.
-- strings(rounds [, pre]): after `pre` garbage tables, `rounds` rounds of
-- garbage strings and tables; returns 0.
-- keys(rounds [, pre]): after each round, the order in which pairs visits eight
-- fresh table keys ("|"-separated rounds of ","-separated ids).

local M = {}

function M.strings(rounds, pre)
  for i = 1, pre or 0 do local _ = { i } end
  for _ = 1, rounds do
    for i = 1, 3000 do local s = "str" .. i end
    local junk = {}
    for i = 1, 3000 do junk[i] = { i } end
  end
  return 0
end

function M.keys(rounds, pre)
  for i = 1, pre or 0 do local _ = { i } end
  local out = {}
  for r = 1, rounds do
    for i = 1, 3000 do local _ = "str" .. i end
    local t = {}
    for i = 1, 8 do t[{ id = i }] = true end
    local ids = {}
    for k in pairs(t) do ids[#ids + 1] = k.id end
    out[r] = table.concat(ids, ",")
  end
  return table.concat(out, "|")
end

return M
