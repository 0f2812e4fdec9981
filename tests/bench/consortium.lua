-- tests/bench/consortium.lua -- figures of a 4-validator BFT consortium on
-- this machine (README, "Performance"), and a long kill/restart soak. Not
-- part of `make test`:
--
--   build/lunet test tests/bench/consortium.lua             # figures + 100 cycles
--   CYCLES=10 build/lunet test tests/bench/consortium.lua   # a shorter soak
--   ONLY=figures build/lunet test tests/bench/consortium.lua
--
-- figures: `lunet bench` against node 1 of 4 (sustained tx/s at saturation,
-- then confirmation latency at steady rates below it).
-- soak: each cycle submits transfers, kill -9s one validator (in turn),
-- measures how long the chain stalls (kill -> next commit seen by the
-- survivors), restarts it and measures its catch-up (start -> at the
-- survivors' height); at the end every node must agree on every block and
-- every transaction seen committed must still be there.

local cluster = dofile("tests/net/cluster.lua")
local support = cluster.support

local PARAMS = { timeout_propose_ms = 1000, timeout_vote_ms = 300, timeout_delta_ms = 500 }
local ONLY = os.getenv("ONLY")

local function pct(xs, p)
  if #xs == 0 then return 0 end
  table.sort(xs)
  return xs[math.max(1, math.ceil(#xs * p / 100))]
end

local function bench(node, args)
  local argv = { "bench", "--rpc", node.url, "--home", node.home, "--json" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local code, out, err = support.lunet(argv)
  assert(code == 0, "lunet bench failed: " .. out .. err)
  return assert(support.decode_json(out:match("{.*}")))
end

describe("consortium of 4 bft validators", function()
  lazy_teardown(support.cleanup)

  if ONLY == nil or ONLY == "figures" then
    it("figures", function()
      -- A fresh cluster per line: every run adds its recipients to the
      -- state, and a bigger state is slower to update.
      local function line(label, args)
        local c = cluster.new(4, { params = PARAMS }):start_all()
        local r = bench(c.nodes[1], args)
        print(string.format("%-22s %6.0f tx/s  p50 %6.1f ms  p99 %6.1f ms  (%d blocks)", label,
                            r.tps, r.latency_ms.p50, r.latency_ms.p99, r.blocks or -1))
        c:stop_all()
      end
      for _, rate in ipairs({ 1000, 2000, 3000, 4000, 4500 }) do
        line("--rate " .. rate, { "-n", tostring(rate * 8), "--rate", tostring(rate) })
      end
      line("saturation -n 30000", { "-n", "30000" })
    end)
  end

  if ONLY == nil or ONLY == "soak" then
    it("kill -9 and restart, cycle after cycle", function()
      local cycles = tonumber(os.getenv("CYCLES") or "100")
      local c = cluster.new(4, { params = PARAMS }):start_all()
      local stalls, catchups = {}, {}
      for cycle = 1, cycles do
        local victim = cycle % 4 + 1
        c:wait_committed(c:load(12))
        local others = {}
        for _, i in ipairs(c:running()) do if i ~= victim then others[#others + 1] = i end end
        local h0 = c:height(others[1])
        local t_kill = support.now()
        c.nodes[victim]:kill("KILL")
        -- The stall: until the survivors commit a block with transactions
        -- sent after the kill.
        c:wait_committed(c:load(6))
        stalls[#stalls + 1] = (support.now() - t_kill) * 1000
        local target = c:height(others[1])
        assert(target > h0)
        local t_start = support.now()
        c:start(victim)
        support.wait_until(600, 20, function() return c:height(victim) >= target end,
                           "validator " .. victim .. " did not catch up")
        catchups[#catchups + 1] = (support.now() - t_start) * 1000
        if cycle % 10 == 0 then
          io.stderr:write(string.format("cycle %d: height %d\n", cycle, target))
        end
      end
      local top = c:check_agreement()
      local n = 0
      for _ in pairs(c.seen) do n = n + 1 end
      print(string.format("%d kill -9/restart cycles, height %d, %d transactions seen committed, all nodes agree",
                          cycles, top, n))
      print(string.format("stall after a kill (kill -> transactions sent after it committed): p50 %.0f ms  p99 %.0f ms  max %.0f ms",
                          pct(stalls, 50), pct(stalls, 99), pct(stalls, 100)))
      print(string.format("catch-up of the restarted validator (start, incl. process start -> at the others' height): p50 %.0f ms  p99 %.0f ms",
                          pct(catchups, 50), pct(catchups, 99)))
      c:stop_all()
    end)
  end
end)
