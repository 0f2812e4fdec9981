-- tests/net/crash_spec.lua -- kill -9 a real `lunet dev` process while a
-- client submits transactions, restart it on the same home, and check that
-- nothing the client saw committed is lost and the chain is whole: every
-- height from 1 to the head exists, each header links to its parent, and the
-- head's state root is the node's and its state tree's. Also: a clean
-- SIGTERM stop (exit 0, streams ended) and a restart that goes on.

local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")
local json = support.json

local CYCLES = 8
local SENDERS = { "alice", "bob", "carol" }

describe("crash", function()
  local node
  local seen = {}          -- tx id -> height at which the client saw it committed
  local nseen = 0

  lazy_setup(function()
    node = support.node({ name = "crash" }):start()
  end)

  lazy_teardown(function() support.cleanup() end)

  -- One batch of JSON-RPC calls; returns the responses by id, or nil when
  -- the node does not answer (it is being killed).
  local function batch(calls)
    local body = {}
    for i, c in ipairs(calls) do
      body[i] = { jsonrpc = "2.0", id = i, method = c[1], params = c[2] }
    end
    local ok, st, resp = pcall(node.post, node, json.encode(body))
    if not ok or st ~= 200 or type(resp) ~= "table" then return nil end
    local by_id = {}
    for _, r in ipairs(resp) do by_id[r.id] = r end
    return by_id
  end

  -- Submits transfers from SENDERS (consecutive nonces, many in flight) and
  -- polls their receipts, recording what it sees committed, until the node
  -- dies: a helper process kills it with SIGKILL `delay` seconds after the
  -- start, wherever the node is then (admitting, building, committing,
  -- answering). Returns the commits seen in this cycle.
  local function run_until_killed(delay)
    local nonces = {}
    for _, a in ipairs(SENDERS) do
      nonces[a] = node:call("account_get", { account = a }).nonce
    end
    local info = node:call("chain_info")
    local pending, got, round = {}, 0, 0
    node:kill_after(delay, "KILL")
    local deadline = support.now() + delay + 5
    while support.now() < deadline do
      round = round + 1
      local calls, ids = {}, {}
      for _, a in ipairs(SENDERS) do
        for _ = 1, 3 do
          local bytes, id = node:tx(a, { { contract = "sys", method = "transfer",
                                            args = { "dave", round } } },
                                    { nonce = nonces[a], chain_id = info.chain_id,
                                      expires = info.height + 10000 })
          nonces[a] = nonces[a] + 1
          calls[#calls + 1] = { "tx_submit", { tx = support.base64(bytes) } }
          ids[#ids + 1] = id
        end
      end
      local res = batch(calls)
      if not res then break end
      for i, id in ipairs(ids) do
        local r = res[i]
        if not r then break end          -- cut short by the kill
        if r.error and r.error.code == -32084 then break end   -- ECLOSED
        assert.is_table(r.result, "tx_submit refused: " .. json.encode(r.error or r))
        pending[id] = true
      end
      local polls, order = {}, {}
      for id in pairs(pending) do
        polls[#polls + 1] = { "tx_get", { hash = id } }
        order[#order + 1] = id
      end
      res = batch(polls)
      if not res then break end
      for i, id in ipairs(order) do
        local r = res[i] and res[i].result
        if r and r.status == "committed" then
          seen[id] = r.height
          nseen = nseen + 1
          got = got + 1
          pending[id] = nil
        end
      end
    end
    support.wait_until(100, 50, function() return not node:alive() end,
                       "the node was not killed within 5 s of its schedule")
    assert.equal("signal", node.ended.how)
    assert.equal(9, node.ended.value)
    return got
  end

  -- Checks the chain after a restart; returns the head height.
  local function check_chain()
    -- Every transaction the client saw committed is still committed, at the same height.
    local ids = {}
    for id in pairs(seen) do ids[#ids + 1] = id end
    for i = 1, #ids, 100 do
      local calls = {}
      for k = i, math.min(i + 99, #ids) do calls[#calls + 1] = { "tx_get", { hash = ids[k] } } end
      local res = assert(batch(calls), "tx_get batch failed after restart")
      for k = 1, #calls do
        local id = ids[i + k - 1]
        local r = res[k].result
        assert.equal("committed", r.status, "tx " .. id .. " was committed at height " ..
                     seen[id] .. " before the crash, now " .. tostring(r.status))
        assert.equal(seen[id], r.height, "tx " .. id .. " moved")
      end
    end
    -- Heights 0..head all exist and link.
    local info = node:call("chain_info")
    local blocks = {}
    for from = 0, info.height, 100 do
      local calls = {}
      for h = from, math.min(from + 99, info.height) do calls[#calls + 1] = { "block_get", { height = h } } end
      local res = assert(batch(calls), "block_get batch failed after restart")
      for k = 1, #calls do
        local h = from + k - 1
        local r = res[k]
        assert.is_table(r.result, "block " .. h .. " is missing below head " .. info.height .. ": " ..
                        json.encode(r.error or r))
        blocks[h] = r.result
      end
    end
    for h = 1, info.height do
      local b = blocks[h]
      assert.equal(h, b.header.height)
      assert.equal(blocks[h - 1].hash, support.plain_hex(b.header.prev),
                   "block " .. h .. " does not link to block " .. (h - 1))
    end
    local head = blocks[info.height]
    assert.equal(info.head, head.hash)
    assert.equal(info.state_root, support.plain_hex(head.header.state_root))
    -- The state tree the node reads from has that root too, and proves from it.
    local st = node:call("state_get", { key = "adave" })
    assert.equal(info.height, st.height)
    assert.equal(info.state_root, st.state_root, "the state tree's root differs from the head header's")
    assert.is_true(support.core.verify_proof(st.state_root, "adave",
                                             support.core.unhex(support.plain_hex(st.raw)),
                                             support.core.unhex(support.plain_hex(st.proof))))
    -- Nothing seen committed is above the head.
    for id, h in pairs(seen) do
      assert.is_true(h <= info.height, "tx " .. id .. " at height " .. h .. " above head " .. info.height)
    end
    return info.height
  end

  it("keeps every committed transaction and a linked chain across " .. CYCLES .. " kill -9 restarts", function()
    math.randomseed(7)
    local last = 0
    for cycle = 1, CYCLES do
      run_until_killed(0.25 + math.random() * 0.5)
      node:start()
      local h = check_chain()
      if os.getenv("LUNET_NET_VERBOSE") then
        print(string.format("cycle %d: head %d, %d receipts seen in all", cycle, h, nseen))
      end
      assert.is_true(h >= last, "cycle " .. cycle .. ": head went back from " .. last .. " to " .. h)
      last = h
    end
    assert.is_true(nseen >= CYCLES * 3)
    -- The node still takes transactions after the last restart.
    local got = node:send_wait("alice", "sys", "transfer", { "eve", 1 })
    assert.equal(last + 1, got.height)
  end)

  it("exits 0 on SIGTERM with an /events client and a pending transaction, ending the stream", function()
    local stream = node:events()
    finally(function() stream:close() end)
    local nonce = node:call("account_get", { account = "carol" }).nonce
    local id = node:send("carol", "sys", "transfer", { "eve", 1 }, { nonce = nonce + 5 })  -- a gap: stays pending
    assert.equal("pending", node:call("tx_get", { hash = id }).status)
    local how, code = node:kill("TERM")
    assert.equal("exit", how)
    assert.equal(0, code)
    local ev, err = stream:next(2)
    assert.is_nil(ev)
    assert.equal("closed", err)
    node:start()
  end)

  it("goes on from the last block after a clean SIGTERM stop", function()
    local got = node:send_wait("bob", "sys", "transfer", { "eve", 2 })
    local before = node:call("chain_info")
    assert.equal(got.height, before.height)
    local how, code = node:kill("TERM")
    assert.equal("exit", how)
    assert.equal(0, code)
    node:start()
    local after = node:call("chain_info")
    assert.equal(before.height, after.height)
    assert.equal(before.head, after.head)
    assert.equal(before.state_root, after.state_root)
    assert.equal("committed", node:call("tx_get", { hash = got.hash }).status)
    local nxt = node:send_wait("bob", "sys", "transfer", { "eve", 3 })
    assert.equal(before.height + 1, nxt.height)
    local b = node:call("block_get", { height = nxt.height })
    assert.equal(before.head, support.plain_hex(b.header.prev))
  end)
end)
