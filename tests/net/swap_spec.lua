-- tests/net/swap_spec.lua -- plugins swapped on a running chain of four
-- real validators: poa to bft by a governance proposal under steady load
-- (no restart, nothing lost or committed twice, the same hashes on every
-- node), a validator down across the swap that catches up through it,
-- validators that cannot load the new code postponing the swap instead of
-- halting the chain, and the governance and pricing plugins swapped.

local cluster = dofile("tests/net/cluster.lua")
local support = cluster.support

local BFT = support.read_file(support.ROOT .. "/consensus/bft.lua")
local BFT_PARAMS = { timeout_propose_ms = 600, timeout_vote_ms = 200, timeout_delta_ms = 200 }

local function new_cluster(extra)
  return cluster.new(4, { consensus = "poa", params = { block_ms = 100 },
                          extra_config = 'admin = "alice", params = { swap_delay = 6 },' .. (extra or "") })
end

-- alice's gov.propose of a consensus swap to code at head + ahead; its height.
local function propose_swap(c, code, params, ahead)
  local n1 = c.nodes[1]
  local at = n1:call("chain_info").height + ahead
  local r = n1:send_wait("alice", "gov", "propose",
                         { "plugin", { slot = "consensus", code = code, at = at, params = params } },
                         { max_fee = 100000000 })
  assert(r.receipt.ok, r.receipt.error)
  c.nonce = nil                    -- the load's own count of alice's nonces
  return at
end

local function propose_bft(c, ahead)
  return propose_swap(c, BFT, BFT_PARAMS, ahead)
end

-- Load in rounds until every running node is past height h.
local function load_past(c, h)
  local ids = {}
  support.wait_until(300, 10, function()
    local more = c:load(3)
    for _, id in ipairs(more) do ids[#ids + 1] = id end
    support.sleep_ms(100)
    return c:min_height() > h
  end, "the chain did not pass height " .. h)
  return ids
end

describe("live plugin swaps", function()
  lazy_teardown(support.cleanup)

  it("poa to bft under load: in force at its height on every node, nothing lost, same hashes", function()
    local c = new_cluster():start_all()
    c:wait_committed(c:load(6))
    local at = propose_bft(c, 12)
    local info = c.nodes[2]:call("chain_info")
    assert.are.equal(1, #info.pending)
    assert.are.equal("bft", info.pending[1].name)
    local ids = load_past(c, at + 8)
    c:wait_committed(ids)
    c:check_agreement()
    for i = 1, 4 do
      local ci = c.nodes[i]:call("chain_info")
      assert.are.equal("bft", ci.consensus)
      assert.are.equal("bft", ci.plugins.consensus.name)
      assert.are.equal(at, ci.plugins.consensus.since)
      assert.are.same({}, ci.pending)
      assert.are.equal(1, #c:log_lines(i, "consensus: bft in force from height " .. at))
    end
    -- Blocks before at carry poa's certificate, from at on bft's precommits.
    local before = c.nodes[1]:call("block_get", { height = at - 1 })
    local after = c.nodes[1]:call("block_get", { height = at })
    assert.is_nil(before.cert and before.cert.sigs)
    assert.is_truthy(after.cert.sigs)
    local pg = c.nodes[3]:call("plugin_get", { slot = "consensus", height = at - 1 })
    assert.are.equal("poa", pg.name)
    pg = c.nodes[3]:call("plugin_get", { slot = "consensus" })
    assert.are.equal("bft", pg.name)
    assert.are.equal(BFT, pg.code)
    -- A node that starts over from genesis follows poa, then bft.
    c.nodes[4]:stop()
    support.sh("rm -rf " .. support.quote(c.nodes[4].home .. "/data"))
    local mark = c.nodes[4]:log_mark()
    c:start(4)
    c:wait_height(c:min_height(), 30)
    c:wait_committed(c:load(6))
    c:check_agreement()
    assert.is_truthy(c.nodes[4]:log_since(mark):find("consensus: bft in force from height " .. at, 1, true))
    c:stop_all()
  end)

  it("a validator down across the swap catches up through it on restart", function()
    -- bft goes on with three of four; poa, from the swap on, waits for the
    -- fourth's turn: the restarted node syncs bft's blocks, then poa's.
    local c = cluster.new(4, { consensus = "bft", params = BFT_PARAMS,
                               extra_config = 'admin = "alice",' }):start_all()
    c:wait_committed(c:load(6))
    local poa = support.read_file(support.ROOT .. "/consensus/poa.lua")
    local at = propose_swap(c, poa, { block_ms = 100 }, 10)
    support.wait_until(100, 100, function()
      local p = c.nodes[1]:call("chain_info").pending[1]
      return p and #p.ready == 4
    end, "not every validator said it was ready")
    c.nodes[4]:kill("KILL")
    support.wait_until(300, 10, function()
      c:load(3)
      support.sleep_ms(100)
      return c:min_height() >= at - 1
    end, "the three did not reach the swap")
    c:start(4)
    support.wait_until(300, 100, function()
      c:load(2)
      return c:height(4) > at + 4 and c:min_height() > at + 4
    end, "the restarted node did not catch up past the swap")
    c:wait_committed(c:load(6))
    c:check_agreement()
    assert.are.equal("poa", c.nodes[4]:call("chain_info").consensus)
    assert.are.equal(1, #c:log_lines(4, "consensus: poa in force from height " .. at))
    c:stop_all()
  end)

  it("with two of four unable to load the code the swap is postponed and the chain goes on", function()
    local c = new_cluster()
    c.node_args = { [3] = { "--no-ready" }, [4] = { "--no-ready" } }
    c:start_all()
    c:wait_committed(c:load(6))
    local at = propose_bft(c, 8)
    local ids = load_past(c, at + 3)
    c:wait_committed(ids)
    c:check_agreement()
    local info = c.nodes[1]:call("chain_info")
    assert.are.equal("poa", info.consensus)
    local p = info.pending[1]
    assert.is_true(p.at >= at + 6, "the swap was not postponed: at " .. p.at)
    assert.are.same({ "node0", "node1" }, p.ready)
    assert.is_true(#c:log_lines(1, "postponed from height " .. at) == 1)
    -- node 3 loads it after all: three of four, the swap goes in.
    c.nodes[3]:stop()
    c.node_args[3] = nil
    c:start(3)
    support.wait_until(200, 100, function()
      c:load(2)
      return c.nodes[1]:call("chain_info").consensus == "bft"
    end, "the swap never went in once three were ready")
    c:wait_committed(c:load(6))
    c:check_agreement()
    c:stop_all()
  end)

  it("the governance plugin is swapped: the new policy's admin decides from its height", function()
    local c = new_cluster():start_all()
    c:wait_committed(c:load(3))
    local n1 = c.nodes[1]
    local admin = support.read_file(support.ROOT .. "/plugins/governance/admin.lua")
    local at = n1:call("chain_info").height + 6
    local r = n1:send_wait("alice", "gov", "propose",
                           { "plugin", { slot = "governance", code = admin, at = at,
                                         params = { admin = "bob" }, name = "admin-bob" } })
    assert(r.receipt.ok, r.receipt.error)
    c.nonce = nil
    c:wait_committed(load_past(c, at))
    assert.are.equal("admin-bob", n1:call("chain_info").plugins.governance.name)
    local pol = n1:call("contract_query", { contract = "gov", method = "policy", args = {} })
    assert.are.equal("bob", pol.result.admin)
    r = n1:send_wait("alice", "gov", "propose", { "param", { name = "swap_delay", value = 9 } })
    assert.is_false(r.receipt.ok)
    assert.matches("only the admin bob may decide, not alice", r.receipt.error, 1, true)
    r = n1:send_wait("bob", "gov", "propose", { "param", { name = "swap_delay", value = 9 } })
    assert(r.receipt.ok, r.receipt.error)
    c:check_agreement()
    c:stop_all()
  end)

  it("the pricing plugin is swapped: fees follow the new model from its height on every node", function()
    local c = new_cluster():start_all()
    c:wait_committed(c:load(3))
    local n1 = c.nodes[1]
    local before = n1:send_wait("bob", "sys", "transfer", { "carol", 1 })
    assert(before.receipt.ok, before.receipt.error)
    assert.are.equal(before.receipt.gas_used, before.receipt.fee)     -- flat.lua, price 1, burned
    local flat = support.read_file(support.ROOT .. "/plugins/pricing/flat.lua")
    local at = n1:call("chain_info").height + 6
    local r = n1:send_wait("alice", "gov", "propose",
                           { "plugin", { slot = "pricing", code = flat, at = at,
                                         params = { price = 3, to = "treasury" }, name = "flat-3" } })
    assert(r.receipt.ok, r.receipt.error)
    c.nonce = nil
    c:wait_committed(load_past(c, at))
    for i = 1, 4 do
      local p = c.nodes[i]:call("chain_info").plugins.pricing
      assert.are.equal("flat-3", p.name)
      assert.are.equal(at, p.since)
      assert.are.same({ price = 3, to = "treasury" }, p.params)
    end
    local treasury = n1:call("account_get", { account = "treasury" }).balance
    local after = n1:send_wait("bob", "sys", "transfer", { "carol", 1 })
    assert(after.receipt.ok, after.receipt.error)
    assert.is_true(after.height >= at)
    assert.are.equal(3 * after.receipt.gas_used, after.receipt.fee)
    support.wait_until(30, 50, function() return c:min_height() >= after.height end,
                       "every node has the block of the transfer")
    for i = 1, 4 do
      local t = c.nodes[i]:call("account_get", { account = "treasury" })
      assert.is_true(t.balance >= treasury + after.receipt.fee, "node " .. i .. "'s treasury")
    end
    c:check_agreement()
    c:stop_all()
  end)
end)
