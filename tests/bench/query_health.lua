-- tests/bench/query_health.lua -- how long GET /health takes while a batch
-- of 20 looping contract queries runs (README, "Performance"). Not part of
-- `make test`; compare binaries with LUNET_BIN:
--
--   build/lunet test tests/bench/query_health.lua
--   LUNET_BIN=/path/to/other/lunet build/lunet test tests/bench/query_health.lua
--   QUERY_GAS=50000000 build/lunet test tests/bench/query_health.lua   # --query-gas-max
--
-- Prints the latency of /health samples taken back to back from the moment
-- the batch is sent until its answer arrives (p50, max, count), and how long
-- the batch took.

local support = dofile("tests/net/support.lua")
local socket = require "socket"

local SPIN = "local M = {}\nfunction M.spin() local i = 0 while true do i = i + 1 end end\nreturn M\n"

local function batch(n)
  local calls = {}
  for i = 1, n do
    calls[i] = string.format('{"jsonrpc":"2.0","id":%d,"method":"contract_query",' ..
                             '"params":{"contract":"spinner","method":"spin","args":[]}}', i)
  end
  return "[" .. table.concat(calls, ",") .. "]"
end

describe("bench", function()
  lazy_teardown(function() support.cleanup() end)

  it("GET /health latency while 20 looping queries run", function()
    local gas = os.getenv("QUERY_GAS")
    local node = support.node({ name = "qh" }):start({ args = gas and { "--query-gas-max", gas } or nil })
    assert(node:deploy_source("alice", "spinner", SPIN).receipt.ok)
    local body = batch(20)
    local c = socket.tcp()
    c:settimeout(120)
    assert(c:connect("127.0.0.1", node.port))
    local t0 = support.now()
    c:send("POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n" ..
           "Content-Length: " .. #body .. "\r\n\r\n" .. body)
    c:settimeout(0)
    local lat, done, buf = {}, false, ""
    while not done do
      local t = support.now()
      local st = support.http(node.port, "GET", "/health", nil, { timeout = 60 })
      assert.equal(200, st)
      lat[#lat + 1] = (support.now() - t) * 1000
      local data, err, partial = c:receive("*a")
      buf = buf .. (data or partial or "")
      done = err == "closed" or data ~= nil
    end
    local took = (support.now() - t0) * 1000
    c:close()
    table.sort(lat)
    print(string.format("\n/health during 20 looping queries: p50 %.1f ms, max %.1f ms, %d samples; batch %.0f ms",
                        lat[math.ceil(#lat / 2)], lat[#lat], #lat, took))
  end)
end)
