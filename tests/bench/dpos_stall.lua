-- tests/bench/dpos_stall.lua -- what a block costs dpos while finality
-- stalls (README, "Performance"). Four producers of which only node0 and
-- node1 run: fewer than the 3 of 4 that make a block final, so the last
-- irreversible block stays at 0 and the stall is as long as the chain.
-- At each height of AT, the consensus plugin's instructions a block
-- (lunet_consensus_gas_total) and node0's CPU a block (/proc) over the
-- next WINDOW blocks. Not part of `make test`:
--
--   build/lunet test tests/bench/dpos_stall.lua
--   AT=100,1000,10000 BLOCK_MS=20 build/lunet test tests/bench/dpos_stall.lua

local cluster = dofile("tests/net/cluster.lua")
local support = cluster.support

local AT, WINDOW = {}, tonumber(os.getenv("WINDOW") or "100")
for h in (os.getenv("AT") or "100,1000"):gmatch("%d+") do AT[#AT + 1] = tonumber(h) end
local BLOCK_MS = tonumber(os.getenv("BLOCK_MS") or "20")

-- Height, plugin instructions and CPU seconds of node i, read together.
local function sample(node)
  local st, body = node:http("GET", "/metrics", nil, { timeout = 5 })
  assert(st == 200, "GET /metrics")
  local m = {}
  for line in body:gmatch("[^\n]+") do
    local n, v = line:match("^([%w_]+)%s+(%S+)$")
    if n then m[n] = tonumber(v) end
  end
  local stat = support.read_file("/proc/" .. node.pid .. "/stat")
  local fields = {}
  for f in stat:match("%) (.*)$"):gmatch("%S+") do fields[#fields + 1] = f end
  -- utime and stime, fields 14 and 15 of stat (12 and 13 after the name).
  local cpu = (tonumber(fields[12]) + tonumber(fields[13])) / 100
  return m.lunet_height, m.lunet_consensus_gas_total, cpu
end

local function at_height(node, h)
  local got
  support.wait_until(100000, 20, function()
    local height, gas, cpu = sample(node)
    if height >= h then
      got = { height = height, gas = gas, cpu = cpu }
      return true
    end
    return false
  end, "node0 did not reach height " .. h)
  return got
end

describe("dpos while finality stalls", function()
  lazy_teardown(support.cleanup)

  it("costs a block the same at every stall length", function()
    local c = cluster.new(4, { consensus = "dpos",
                               params = { producers = 4, blocks_per_turn = 2, block_ms = BLOCK_MS } })
    c:start(1)
    c:start(2)
    for _, h in ipairs(AT) do
      local a = at_height(c.nodes[1], h)
      local b = at_height(c.nodes[1], h + WINDOW)
      local n = b.height - a.height
      print(string.format("stall %6d blocks: %9.0f instructions/block, %7.0f us CPU/block (node0, %d blocks)",
                          h, (b.gas - a.gas) / n, (b.cpu - a.cpu) * 1e6 / n, n))
      assert.are.equal(0, c.nodes[1]:call("chain_info").final_height)
    end
  end)
end)
