-- tests/bench/consensus.lua -- poa, bft, pos, dpos and pow side by side on this
-- machine (README, "Performance"): four validators of each on loopback,
-- one workload. Not part of `make test`:
--
--   build/lunet test tests/bench/consensus.lua
--   RATE=200 SECS=30 ONLY=dpos build/lunet test tests/bench/consensus.lua
--
-- The workload: RATE transfers a second for SECS seconds, signed here and
-- submitted to node 1 one by one (alice, bob and carol in turn). Node 1's
-- chain_info is polled every 10 ms for height and final_height; a
-- transfer is committed when the head first reaches its block's height and
-- final when final_height does (under poa, bft and pos the same moment;
-- under dpos once 3 of the 4 producers built on it). pos's validators have
-- unequal stakes (4:3:2:1), so the proposer turns and quorums are weighted.
-- Latencies are from its submit to those moments (resolution ~10-20 ms).
-- Then `lunet bench -n 20000` against the same cluster gives the
-- saturation throughput (submit -> committed). pow's line also gives the
-- blocks a second and the difficulty it retargeted to.

local cluster = dofile("tests/net/cluster.lua")
local support = cluster.support

local RATE = tonumber(os.getenv("RATE") or "100")
local SECS = tonumber(os.getenv("SECS") or "20")
local ONLY = os.getenv("ONLY")

local CONFIGS = {
  { name = "poa", params = { block_ms = 100 } },
  { name = "bft", params = { timeout_propose_ms = 1000, timeout_vote_ms = 300, timeout_delta_ms = 500 } },
  { name = "pos", params = { timeout_propose_ms = 1000, timeout_vote_ms = 300, timeout_delta_ms = 500 },
    stakes = { 4000, 3000, 2000, 1000 } },
  { name = "pow", params = { difficulty = 200000, block_ms = 1000, window = 5, confirmations = 6,
                             slice = 20000, pause_ms = 5 } },
  { name = "dpos", params = { producers = 4, blocks_per_turn = 2, block_ms = 250 } },
}

local function pct(xs, p)
  if #xs == 0 then return 0 end
  table.sort(xs)
  return xs[math.max(1, math.ceil(#xs * p / 100))]
end

local function steady(c)
  local node = c.nodes[1]
  local subs, seen_h, seen_f = {}, {}, {}
  local last_h, last_f = node:call("chain_info").height, 0
  local h0 = last_h
  local t0 = support.now()
  local total, sent = RATE * SECS, 0
  local function poll()
    local ci = node:call("chain_info")
    local t = support.now()
    for h = last_h + 1, ci.height do seen_h[h] = t end
    for h = last_f + 1, ci.final_height do seen_f[h] = t end
    if ci.height > last_h then last_h = ci.height end
    if ci.final_height > last_f then last_f = ci.final_height end
    return ci
  end
  while sent < total do
    while sent < total and t0 + sent / RATE <= support.now() do
      local id = c:load(1, { 1 })[1]
      subs[#subs + 1] = { id = id, at = support.now() }
      sent = sent + 1
    end
    poll()
    support.sleep_ms(10)
  end
  local t_end = support.now()
  -- Until the last transfers of each sender are final.
  local heights = {}
  support.wait_until(12000, 10, function()
    poll()
    for k = #subs - 2, #subs do
      local r = node:call("tx_get", { hash = subs[k].id })
      if r.status ~= "final" and not (r.status == "committed" and r.height <= last_f) then
        return false
      end
      heights[k] = r.height
    end
    return last_f >= math.max(heights[#subs], heights[#subs - 1], heights[#subs - 2])
  end, "the last transfers never became final")
  local commit, final, done_at = {}, {}, 0
  for _, s in ipairs(subs) do
    local r = node:call("tx_get", { hash = s.id })
    assert(r.status == "committed" or r.status == "final", "transfer " .. s.id .. " " .. r.status)
    local ch, fh = seen_h[r.height], seen_f[r.height]
    if ch then
      commit[#commit + 1] = math.max(0, ch - s.at) * 1000
      if ch > done_at then done_at = ch end
    end
    if fh then final[#final + 1] = math.max(0, fh - s.at) * 1000 end
  end
  local h1 = node:call("chain_info").height
  return {
    tps = #subs / (done_at - t0), commit = commit, final = final,
    blocks_per_s = (h1 - h0) / (support.now() - t0), window_s = t_end - t0,
  }
end

local function bench(node)
  local code, out, err = support.lunet({ "bench", "--rpc", node.url, "--home", node.home, "--json",
                                         "-n", "20000" })
  assert(code == 0, "lunet bench failed: " .. out .. err)
  return assert(support.decode_json(out:match("{.*}")))
end

-- pow: warm until a retarget window took about block_ms a block.
local function warm_pow(c, params)
  local node = c.nodes[1]
  support.wait_until(3000, 100, function()
    local h = node:call("chain_info").height
    if h < 4 * params.window then return false end
    local a = node:call("block_get", { height = h - params.window }).header.consensus
    local b = node:call("block_get", { height = h }).header.consensus
    local per = (b.t - a.t) / params.window
    return per > params.block_ms / 2 and per < params.block_ms * 2
  end, "pow never settled near block_ms")
end

describe("consensus plugins side by side", function()
  lazy_teardown(support.cleanup)

  it("figures", function()
    print(string.format("%d transfers/s for %d s, 4 validators on this machine", RATE, SECS))
    for _, cfg in ipairs(CONFIGS) do
      if ONLY == nil or ONLY == cfg.name then
        local c = cluster.new(4, { consensus = cfg.name, params = cfg.params,
                                             stakes = cfg.stakes }):start_all()
        if cfg.name == "pow" then warm_pow(c, cfg.params) end
        local r = steady(c)
        local extra = ""
        if cfg.name == "pow" then
          local ci = c.nodes[1]:call("chain_info")
          local d = c.nodes[1]:call("block_get", { height = ci.height }).header.consensus.d
          extra = string.format("  %.2f blocks/s at difficulty %d (%.2f M hashes/s)", r.blocks_per_s,
                                d, d * r.blocks_per_s / 1e6)
        end
        print(string.format("%-4s steady: %6.1f tx/s  committed p50 %7.1f p99 %7.1f ms  final p50 "
                            .. "%7.1f p99 %7.1f ms%s", cfg.name, r.tps, pct(r.commit, 50),
                            pct(r.commit, 99), pct(r.final, 50), pct(r.final, 99), extra))
        if os.getenv("SATURATION") ~= "0" then
          local s = bench(c.nodes[1])
          print(string.format("%-4s saturation (-n 20000): %6.0f tx/s, committed p50 %7.1f p99 %7.1f ms",
                              cfg.name, s.tps, s.latency_ms.p50, s.latency_ms.p99))
        end
        c:stop_all()
      end
    end
  end)
end)
