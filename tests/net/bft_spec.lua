-- tests/net/bft_spec.lua -- four real validators running consensus/bft.lua
-- over real TCP on loopback, under faults: a validator killed and
-- restarted, one paused past the round timeout, all four restarted from
-- disk. After each: every node has the same block hashes and state roots at
-- every common height, and every transaction seen committed stays committed.

local cluster = dofile("tests/net/cluster.lua")
local support = cluster.support

-- Short timeouts keep stalled rounds short in tests.
local PARAMS = { timeout_propose_ms = 600, timeout_vote_ms = 200, timeout_delta_ms = 200 }

describe("bft with 4 validators", function()
  lazy_teardown(support.cleanup)

  it("commits with certificates of > 2/3 precommits, and every node agrees", function()
    local c = cluster.new(4, { params = PARAMS }):start_all()
    local ids = c:load(30)
    c:wait_committed(ids)
    local top = c:check_agreement()
    assert.is_true(top >= 1)
    local proposers = {}
    for h = 1, top do
      local b = c.nodes[1]:call("block_get", { height = h })
      local n = 0
      for _ in pairs(b.cert.sigs) do n = n + 1 end
      assert.is_true(n >= 3, "height " .. h .. " has " .. n .. " precommits")
      proposers[b.header.proposer] = true
    end
    c:stop_all()
  end)

  it("a validator that knows one peer finds the others by address exchange", function()
    local c = cluster.new(4, { params = PARAMS })
    c.dial[4] = { [1] = c.nodes[1].p2p }            -- node 4 dials node 1 only
    for j = 1, 3 do c.dial[j][4] = nil end          -- and nobody dials node 4
    c:start_all()
    support.wait_until(100, 100, function()
      return c.nodes[4]:call("chain_info").peers == 3
    end, "node 4 did not reach all three peers")
    c:wait_committed(c:load(6))
    c:check_agreement()
    c:stop_all()
  end)

  it("goes on when one validator is killed, and the restarted one catches up", function()
    local c = cluster.new(4, { params = PARAMS }):start_all()
    c:wait_committed(c:load(10))
    c.nodes[4]:kill("KILL")
    local ids = c:load(30)
    c:wait_committed(ids)
    local h = c:min_height()
    c:start(4)
    c:wait_height(h)
    c:wait_committed(c:load(10))
    c:check_agreement()
    c:stop_all()
  end)

  it("survives a validator paused past the round timeout", function()
    local c = cluster.new(4, { params = PARAMS }):start_all()
    c:wait_committed(c:load(5))
    c:pause(2)
    -- Heights go on without it; within four heights it was round 0's
    -- proposer once, and that height needed a later round.
    local h0 = c:min_height()
    while c:min_height() < h0 + 5 do c:wait_committed(c:load(3)) end
    c:resume(2)
    local h = c:min_height()
    c:wait_committed(c:load(10))
    c:wait_height(h + 1)
    local top = c:check_agreement()
    local later = 0
    for x = h0 + 1, top do
      if c.nodes[1]:call("block_get", { height = x }).cert.round > 0 then later = later + 1 end
    end
    assert.is_true(later > 0, "no height needed a second round")
    c:stop_all()
  end)

  it("restarts all four at once from disk and goes on", function()
    local c = cluster.new(4, { params = PARAMS }):start_all()
    local ids = c:load(20)
    c:wait_committed(ids)
    c:load(20)                          -- in flight when the nodes die
    for i = 1, 4 do c.nodes[i]:kill("KILL") end
    c:start_all()
    c.nonce = nil                       -- resync from the chain
    c:wait_committed(c:load(10))
    c:check_agreement()
    c:stop_all()
  end)
end)
