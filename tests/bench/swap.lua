-- tests/bench/swap.lua -- what a live consensus swap costs (README,
-- "Performance"): four poa validators under a steady load are swapped to
-- bft by a governance proposal; the block interval and the confirmation
-- latency in the 20 blocks before and after the swap height, and the time
-- each node spent loading bft. Not part of `make test`:
--
--   build/lunet test tests/bench/swap.lua
--   RATE=400 build/lunet test tests/bench/swap.lua    # transfers per second (default 200)
--
-- Blocks are timed as node 1's /events stream delivers them; a transfer's
-- latency runs from its tx_submit to the arrival of the block that holds it.

local cluster = dofile("tests/net/cluster.lua")
local support = cluster.support

local RATE = tonumber(os.getenv("RATE") or "200")
local BFT_PARAMS = { timeout_propose_ms = 1000, timeout_vote_ms = 300, timeout_delta_ms = 500 }

local function pct(xs, p)
  if #xs == 0 then return 0 end
  local s = {}
  for i, x in ipairs(xs) do s[i] = x end
  table.sort(s)
  return s[math.max(1, math.ceil(#s * p / 100))]
end

-- Block arrivals from an SSE connection read without blocking.
local function block_clock(node)
  local c = assert(require("socket").tcp())
  assert(c:connect("127.0.0.1", node.port))
  assert(c:send("GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"))
  c:settimeout(0)
  local buf, at = "", {}
  local clock = {}
  function clock.poll()
    local data, err, partial = c:receive("*a")
    local got = data or partial
    if got and #got > 0 then buf = buf .. got end
    assert(err ~= "closed", "the event stream closed")
    local now = support.now()
    while true do
      local i, j = buf:find("\n\n", 1, true)
      if not i then break end
      local ev = buf:sub(1, i - 1)
      buf = buf:sub(j + 1)
      if ev:find("event: block", 1, true) then
        local h = tonumber(ev:match('"height":(%d+)'))
        if h and not at[h] then at[h] = now end
      end
    end
  end
  clock.at = at
  function clock.close() c:close() end
  return clock
end

describe("a live consensus swap", function()
  lazy_teardown(support.cleanup)

  it("figures", function()
    local c = cluster.new(4, { consensus = "poa", params = { block_ms = 100 },
                               extra_config = 'admin = "alice",' }):start_all()
    c:wait_committed(c:load(6))
    local n1 = c.nodes[1]
    local clock = block_clock(n1)
    local info = n1:call("chain_info")
    local nonce = {}
    for _, a in ipairs({ "alice", "bob", "carol" }) do
      nonce[a] = n1:call("account_get", { account = a }).nonce
    end
    local sent = {}
    local senders = { "bob", "carol" }   -- alice proposes
    local k = 0
    local function submit(n)
      for _ = 1, n do
        k = k + 1
        local from = senders[k % 2 + 1]
        local bytes, id = n1:tx(from, { { contract = "sys", method = "transfer", args = { "dave", 1 } } },
                                { nonce = nonce[from], chain_id = info.chain_id, expires = 1e9 })
        nonce[from] = nonce[from] + 1
        local node = c.nodes[k % 4 + 1]
        local t = support.now()
        assert(node:submit(bytes))
        sent[#sent + 1] = { id = id, t = t }
      end
    end
    -- Steady load: RATE per second, polled every 2 ms, until 25 blocks past at.
    local at
    local t0 = support.now()
    local step = 0
    while true do
      step = step + 1
      local want = math.floor((support.now() - t0) * RATE) - #sent
      if want > 0 then submit(want) end
      clock.poll()
      if step == 1000 then       -- ~2-3 s in: propose the swap 30 blocks ahead
        local bft = support.read_file(support.ROOT .. "/consensus/bft.lua")
        at = n1:call("chain_info").height + 30
        local bytes = n1:tx("alice", { { contract = "gov", method = "propose",
                                         args = { "plugin", { slot = "consensus", code = bft, at = at,
                                                              params = BFT_PARAMS } } } },
                            { nonce = nonce.alice, chain_id = info.chain_id, expires = 1e9,
                              max_fee = 100000000 })
        assert(n1:submit(bytes))
      end
      if at and clock.at[at + 25] then break end
      support.sleep_ms(2)
      assert(support.now() - t0 < 300, "the chain did not reach 25 blocks past the swap")
    end
    clock.close()
    -- Each transfer's block, then its latency by window.
    local win = { before = { lat = {}, gap = {} }, after = { lat = {}, gap = {} } }
    for h = at - 20, at + 19 do
      local w = h < at and win.before or win.after
      if clock.at[h] and clock.at[h - 1] then w.gap[#w.gap + 1] = (clock.at[h] - clock.at[h - 1]) * 1000 end
    end
    for _, s in ipairs(sent) do
      local r = n1:call("tx_get", { hash = s.id })
      if r.status == "committed" and r.height >= at - 20 and r.height < at + 20 and clock.at[r.height] then
        local w = r.height < at and win.before or win.after
        w.lat[#w.lat + 1] = (clock.at[r.height] - s.t) * 1000
      end
    end
    print(string.format("\nlive swap poa -> bft at height %d, %d transfers/s, 4 validators", at, RATE))
    for _, name in ipairs({ "before", "after" }) do
      local w = win[name]
      print(string.format("  20 blocks %-6s  block interval p50 %6.1f ms p99 %6.1f ms   " ..
                          "confirmation p50 %6.1f ms p99 %6.1f ms  (%d transfers)", name,
                          pct(w.gap, 50), pct(w.gap, 99), pct(w.lat, 50), pct(w.lat, 99), #w.lat))
    end
    print(string.format("  the swap: block %d -> %d took %.1f ms", at - 1, at,
                        (clock.at[at] - clock.at[at - 1]) * 1000))
    for i = 1, 4 do
      local l = c:log_lines(i, "consensus: bft in force from height " .. at)[1] or "?"
      print("  node" .. (i - 1) .. ": " .. (l:match("%(loaded in [%d.]+ ms%)") or l))
    end
    c:check_agreement()
    c:stop_all()
  end)
end)
