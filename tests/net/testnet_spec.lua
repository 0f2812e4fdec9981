-- tests/net/testnet_spec.lua -- `lunet testnet N --out DIR` writes N node
-- homes on one genesis, and `lunet start --home DIR/node<i>` runs each on
-- the ports and peers of its node.lua. Four poa validators then propose in
-- turn, agree on every block, and commit a transaction sent to any of them;
-- four on the default consensus (bft) commit one with a 2/3 certificate;
-- four pow miners agree on the final blocks that hold one; four dpos
-- producers take turns and finalize a transfer, with eve's stake and votes.

local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")
local socket = require "socket"

local q = support.quote

-- `base` .. `base`+n-1 all free now. Below the kernel's ephemeral range
-- (32768 up), so the nodes' own outgoing connections cannot take them.
local function free_ports(n)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
  for _ = 1, 100 do
    local base = math.random(20000, 32000)
    local held, ok = {}, true
    for p = base, base + n - 1 do
      local s = socket.bind("127.0.0.1", p)
      if not s then ok = false; break end
      held[#held + 1] = s
    end
    for _, s in ipairs(held) do s:close() end
    if ok then return base end
  end
  error("no " .. n .. " consecutive free ports below 32000")
end

local function key_of(path)
  return assert(support.decode_json(assert(support.read_file(path), "no " .. path)))
end

local function mode_of(path) return support.sh("stat -c %a " .. q(path)) end

local function one_line_usage(pattern, code, out, err)
  assert.equal(2, code, err)
  assert.equal("", out)
  assert.matches("^lunet testnet: [^\n]+\n$", err)
  assert.matches(pattern, err)
end

-- Starts DIR/node0..3 exactly as documented: `lunet start --home
-- DIR/node<i>`, on the ports of their node.lua. support's Node:start adds
-- --rpc, --p2p and --config; a wrapper drops them, so the node runs from
-- node.lua alone.
local function start_homes(dir, base, tag)
  local wrapper = support.run_dir() .. "/start-home-only.sh"
  support.write_file(wrapper, "#!/bin/sh\nexec " .. q(support.BIN) .. ' "$1" "$2" "$3"\n')
  os.execute("chmod +x " .. q(wrapper))
  local nodes, bin = {}, support.BIN
  support.BIN = wrapper
  local ok, err = pcall(function()
    for i = 0, 3 do
      local n = support.node({ name = tag .. "-node" .. i })
      n.home = dir .. "/node" .. i
      n.port, n.p2p = base + 2 * i, base + 2 * i + 1
      n.url = "http://127.0.0.1:" .. n.port
      nodes[i] = n
      n:start({ command = "start" })
    end
  end)
  support.BIN = bin
  assert(ok, err)
  return nodes
end

local function stop(nodes)
  for i = 0, 3 do
    if nodes and nodes[i] then nodes[i]:stop() end
  end
end

-- `lunet send sys transfer TO AMOUNT --as FROM` to node i, with its home's
-- keys, as testnet's summary says; returns the transaction id.
local function cli_send(dir, nodes, i, from, to, amount)
  local code, o, err = support.lunet({ "send", "sys", "transfer", to, tostring(amount),
                                       "--as", from, "--home", dir .. "/node" .. i,
                                       "--rpc", nodes[i].url, "--timeout", "10" })
  assert.equal(0, code, err)
  local id = o:match("hash%s+(%x+)")
  assert(id, "no hash in lunet send's output: " .. o)
  return id
end

-- Waits until all four are at one height >= least, checks that they hold
-- the same block (hash, state root) at every height, and returns node0's
-- blocks 1..top.
local function same_blocks(nodes, least)
  local top = support.wait_until(100, 100, function()
    local hs = {}
    for i = 0, 3 do hs[i] = nodes[i]:call("chain_info").height end
    return hs[0] >= least and hs[0] == hs[1] and hs[1] == hs[2] and hs[2] == hs[3] and hs[0]
  end, function()
    local s = {}
    for i = 0, 3 do s[#s + 1] = "node" .. i .. " at " .. nodes[i]:call("chain_info").height end
    return "the nodes never reached one height >= " .. least .. ": " .. table.concat(s, ", ")
  end)
  local blocks = {}
  for height = 0, top do
    local b0 = nodes[0]:call("block_get", { height = height })
    for i = 1, 3 do
      local b = nodes[i]:call("block_get", { height = height })
      assert.equal(b0.hash, b.hash, "block " .. height .. " of node" .. i)
      assert.equal(b0.header.state_root, b.header.state_root)
    end
    if height > 0 then blocks[height] = b0 end
  end
  return blocks
end

describe("lunet testnet", function()
  local dir, base, out
  local nodes = {}

  lazy_setup(function()
    dir = support.run_dir() .. "/tn"
    base = free_ports(8)
    local code, o, err = support.lunet({ "testnet", "4", "--out", dir, "--consensus", "poa",
                                         "--base-port", tostring(base) })
    assert.equal(0, code, err)
    out = o
  end)

  lazy_teardown(function() support.cleanup() end)

  it("testnet - writes each home's validator key (0600), the account keys, and node.lua with its ports and peers", function()
    for i = 0, 3 do
      local home = dir .. "/node" .. i
      local vk = home .. "/keys/node" .. i .. ".key"
      assert.equal("node" .. i, key_of(vk).account)
      assert.equal("600", mode_of(vk))
      for j = 0, 3 do   -- only its own validator key
        if j ~= i then assert.is_nil(io.open(home .. "/keys/node" .. j .. ".key")) end
      end
      for _, name in ipairs({ "alice", "bob", "carol", "dave", "eve" }) do
        assert.equal("600", mode_of(home .. "/keys/" .. name .. ".key"))
        assert.equal(key_of(dir .. "/keys/" .. name .. ".key").public_key,
                     key_of(home .. "/keys/" .. name .. ".key").public_key)
      end
      local nl = dofile(home .. "/node.lua")
      assert.equal("127.0.0.1:" .. (base + 2 * i), nl.rpc)
      assert.equal("127.0.0.1:" .. (base + 2 * i + 1), nl.p2p)
      local want = {}
      for j = 0, 3 do
        if j ~= i then want[#want + 1] = "127.0.0.1:" .. (base + 2 * j + 1) end
      end
      assert.same(want, nl.peers)
      assert.is_truthy(out:find("start --home " .. home .. "\n", 1, true), out)
    end
    assert.equal("600", mode_of(dir .. "/keys/alice.key"))
  end)

  it("testnet - gives every home the same genesis: node0..node3 with their keys, a chain_id of its own, genesis_time, the plugin copied", function()
    local text = assert(support.read_file(dir .. "/genesis.lua"))
    for i = 0, 3 do
      assert.equal(text, support.read_file(dir .. "/node" .. i .. "/config.lua"))
    end
    local g = dofile(dir .. "/genesis.lua")
    assert.matches("^lunet%-consortium%-testnet%-%x%x%x%x%x%x%x%x$", g.chain_id)
    assert.is_true(math.abs(g.genesis_time - os.time()) < 600)
    assert.equal(4, #g.validators)
    for i = 0, 3 do
      assert.equal("node" .. i, g.validators[i + 1].name)
      assert.equal(key_of(dir .. "/node" .. i .. "/keys/node" .. i .. ".key").public_key,
                   g.validators[i + 1].key)
    end
    assert.equal(5, #g.accounts)
    for _, a in ipairs(g.accounts) do
      assert.equal(key_of(dir .. "/keys/" .. a.name .. ".key").public_key, a.key)
      assert.equal(1000000000000, a.balance)
    end
    local plugin = support.sh("cd " .. q(dir) .. " && pwd") .. "/consensus/poa.lua"
    assert.equal(plugin, g.consensus.plugin)
    assert.equal(support.read_file(support.ROOT .. "/consensus/poa.lua"), support.read_file(plugin))
    assert.same({ block_ms = 100, empty_blocks = false }, g.consensus.params)
    -- another testnet from the same template is another chain
    local code, _, err = support.lunet({ "testnet", "1", "--out", support.run_dir() .. "/other",
                                         "--consensus", "poa" })
    assert.equal(0, code, err)
    assert.are_not.equal(g.chain_id, dofile(support.run_dir() .. "/other/genesis.lua").chain_id)
  end)

  it("testnet - refuses bad arguments with exit 2 and one line, and writes nothing", function()
    local fresh = support.run_dir() .. "/never"
    one_line_usage("1%.%.64", support.lunet({ "testnet", "0", "--out", fresh }))
    one_line_usage("1%.%.64", support.lunet({ "testnet", "65", "--out", fresh }))
    one_line_usage("1%.%.64", support.lunet({ "testnet", "four", "--out", fresh }))
    one_line_usage("%-%-out DIR is required", support.lunet({ "testnet", "4" }))
    one_line_usage("no consensus plugin consensus/nosuch%.lua",
                   support.lunet({ "testnet", "4", "--out", fresh, "--consensus", "nosuch" }))
    one_line_usage("no room for 4 nodes", support.lunet({ "testnet", "4", "--out", fresh,
                                                          "--consensus", "poa",
                                                          "--base-port", "65530" }))
    assert.is_nil(io.open(fresh .. "/genesis.lua"))
    local before = support.read_file(dir .. "/genesis.lua")
    one_line_usage("node0 exists; %-%-force replaces",
                   support.lunet({ "testnet", "4", "--out", dir, "--consensus", "poa" }))
    assert.equal(before, support.read_file(dir .. "/genesis.lua"))
    local code, usage = support.lunet({ "testnet", "--help" })
    assert.equal(0, code)
    assert.matches("usage: lunet testnet N %-%-out DIR", usage)
  end)

  it("testnet - lunet start refuses, in one line, a node.lua key it does not know", function()
    local home = support.run_dir() .. "/badnode"
    os.execute("mkdir -p " .. q(home))
    support.write_file(home .. "/node.lua", 'return { rpc = "127.0.0.1:1", prers = {} }\n')
    local code, _, err = support.lunet({ "start", "--home", home })
    assert.equal(1, code)
    assert.matches("^lunet start: [^\n]*node%.lua: unknown key 'prers' %(known: rpc, p2p, peers, cors, query_gas_max%)\n$", err)
  end)

  describe("four poa nodes started with `lunet start --home DIR/node<i>`", function()
    lazy_setup(function() nodes = start_homes(dir, base, "poa") end)
    lazy_teardown(function() stop(nodes) end)

    it("testnet - a transaction sent to node2 with lunet send is committed and all four see it at one height", function()
      for i = 0, 3 do
        assert.equal(0, nodes[i]:call("chain_info").height)
      end
      local id = cli_send(dir, nodes, 2, "alice", "bob", 10)
      local h
      for i = 0, 3 do
        local got = nodes[i]:wait_committed(id)
        assert.is_true(got.receipt.ok)
        h = h or got.height
        assert.equal(h, got.height)
      end
      support.wait_until(50, 100, function()
        return nodes[1]:call("account_get", { account = "bob" }).balance == 1000000000010
      end, "node1 never saw bob's balance go up by 10")
    end)

    it("testnet - poa with four validators: blocks' proposers rotate node0..node3 and every node has the same blocks and state roots", function()
      -- one sender per transaction, each into a block of its own
      local senders = { { 0, "bob" }, { 1, "carol" }, { 3, "dave" }, { 2, "eve" } }
      for _, s in ipairs(senders) do
        nodes[s[1]]:wait_committed(cli_send(dir, nodes, s[1], s[2], "alice", 1))
      end
      local proposers = {}
      for height, b in ipairs(same_blocks(nodes, 5)) do
        assert.equal("node" .. (height % 4), b.header.proposer, "proposer of block " .. height)
        proposers[b.header.proposer] = true
      end
      assert.same({ node0 = true, node1 = true, node2 = true, node3 = true }, proposers)
      local info = nodes[3]:call("chain_info")
      assert.equal("poa", info.consensus)
      assert.same({ "node0", "node1", "node2", "node3" }, info.validators)
    end)
  end)

  describe("four miners of a testnet on pow", function()
    local pdir, pnodes
    lazy_setup(function()
      pdir = support.run_dir() .. "/tn-pow"
      local pbase = free_ports(8)
      local code, _, err = support.lunet({ "testnet", "4", "--out", pdir, "--consensus", "pow",
                                           "--base-port", tostring(pbase) })
      assert.equal(0, code, err)
      pnodes = start_homes(pdir, pbase, "pow")
    end)
    lazy_teardown(function() stop(pnodes) end)

    it("testnet - pow: a transaction sent to node3 goes final on all four, and their final blocks agree", function()
      local id = cli_send(pdir, pnodes, 3, "eve", "alice", 3)
      local at
      for i = 0, 3 do
        local r = support.wait_until(600, 100, function()
          local r = pnodes[i]:call("tx_get", { hash = id })
          return r.status == "final" and r
        end, "node" .. i .. ": the transaction never went final")
        assert.is_true(r.receipt.ok)
        at = at or r.height
        assert.equal(at, r.height)
      end
      local top
      for i = 0, 3 do
        local info = pnodes[i]:call("chain_info")
        assert.equal("pow", info.consensus)
        assert.is_true(info.final_height >= at and info.final_height < info.height)
        top = math.min(top or info.final_height, info.final_height)
      end
      for height = 1, top do
        local b0 = pnodes[0]:call("block_get", { height = height })
        assert.is_true(b0.final)
        for i = 1, 3 do
          assert.equal(b0.hash, pnodes[i]:call("block_get", { height = height }).hash,
                       "block " .. height .. " of node" .. i)
        end
      end
    end)
  end)

  describe("four nodes of a testnet on pos", function()
    local sdir, snodes
    lazy_setup(function()
      sdir = support.run_dir() .. "/tn-pos"
      local sbase = free_ports(8)
      local code, _, err = support.lunet({ "testnet", "4", "--out", sdir, "--consensus", "pos",
                                           "--base-port", tostring(sbase) })
      assert.equal(0, code, err)
      snodes = start_homes(sdir, sbase, "pos")
    end)
    lazy_teardown(function() stop(snodes) end)

    it("testnet - pos: the validators start with the template's stake, vote with it, and all four agree", function()
      local genesis = support.read_file(sdir .. "/genesis.lua")
      local staked = 0
      for _ in genesis:gmatch("stake = 1000000") do staked = staked + 1 end
      assert.equal(4, staked)
      local id = cli_send(sdir, snodes, 2, "bob", "carol", 5)
      for i = 0, 3 do assert.is_true(snodes[i]:wait_committed(id).receipt.ok) end
      same_blocks(snodes, 1)
      for i = 0, 3 do
        local info = snodes[i]:call("chain_info")
        assert.equal("pos", info.consensus)
        assert.equal(4, #info.validator_set.set)
        for _, v in ipairs(info.validator_set.set) do assert.equal(1000000, v.power) end
        assert.equal(1000000, snodes[i]:call("account_get", { account = "node" .. i }).stake)
      end
    end)
  end)

  describe("four producers of a testnet on dpos", function()
    local ddir, dnodes
    lazy_setup(function()
      ddir = support.run_dir() .. "/tn-dpos"
      local dbase = free_ports(8)
      local code, _, err = support.lunet({ "testnet", "4", "--out", ddir, "--consensus", "dpos",
                                           "--base-port", tostring(dbase) })
      assert.equal(0, code, err)
      dnodes = start_homes(ddir, dbase, "dpos")
    end)
    lazy_teardown(function() stop(dnodes) end)

    it("testnet - dpos: eve stakes and votes with lunet send, every node shows her votes, and a transfer goes final on all four", function()
      local function send(...)
        local args = { "send", "sys", ... }
        for _, a in ipairs({ "--as", "eve", "--home", ddir .. "/node2", "--rpc", dnodes[2].url,
                             "--timeout", "10" }) do args[#args + 1] = a end
        local code, o, err = support.lunet(args)
        assert.equal(0, code, o .. err)
      end
      send("stake", "5000")
      send("vote", '["node3","node1"]')
      local id = cli_send(ddir, dnodes, 1, "alice", "bob", 4)
      for i = 0, 3 do
        support.wait_until(600, 100, function()
          return dnodes[i]:call("tx_get", { hash = id }).status == "final"
        end, "node" .. i .. ": the transfer never went final")
        local eve = support.wait_until(100, 100, function()
          local a = dnodes[i]:call("account_get", { account = "eve" })
          return #a.votes == 2 and a
        end, "node" .. i .. ": eve's votes not seen")
        assert.same({ "node1", "node3" }, eve.votes)
        assert.equal(5000, eve.stake)
        assert.equal("dpos", dnodes[i]:call("chain_info").consensus)
      end
      -- Final blocks agree (a head may still change for a moment when two
      -- producers built on one parent).
      local top
      for i = 0, 3 do
        local f = support.wait_until(300, 100, function()
          local ci = dnodes[i]:call("chain_info")
          return ci.final_height >= 8 and ci.final_height
        end, "node" .. i .. ": no block 8 final")
        top = math.min(top or f, f)
      end
      local by = {}
      for height = 1, top do
        local b0 = dnodes[0]:call("block_get", { height = height })
        by[b0.header.proposer] = true
        for i = 1, 3 do
          local b = dnodes[i]:call("block_get", { height = height })
          assert.equal(b0.hash, b.hash, "block " .. height .. " of node" .. i)
          assert.is_true(b.final)
        end
      end
      for i = 0, 3 do assert.truthy(by["node" .. i], "node" .. i .. " made no block") end
    end)
  end)

  describe("four nodes of a testnet on the default consensus (bft)", function()
    local bdir, bnodes
    lazy_setup(function()
      bdir = support.run_dir() .. "/tn-bft"
      local bbase = free_ports(8)
      local code, _, err = support.lunet({ "testnet", "4", "--out", bdir,
                                           "--base-port", tostring(bbase) })
      assert.equal(0, code, err)
      bnodes = start_homes(bdir, bbase, "bft")
    end)
    lazy_teardown(function() stop(bnodes) end)

    it("testnet - bft: a transaction sent to node1 is committed by all four with a certificate of more than 2/3, and their blocks agree", function()
      local id = cli_send(bdir, bnodes, 1, "carol", "dave", 7)
      for i = 0, 3 do assert.is_true(bnodes[i]:wait_committed(id).receipt.ok) end
      local blocks = same_blocks(bnodes, 1)
      local sigs = 0
      for _ in pairs(blocks[#blocks].cert.sigs or {}) do sigs = sigs + 1 end
      assert.is_true(sigs >= 3, "certificate with " .. sigs .. " signatures")
      assert.equal("bft", bnodes[0]:call("chain_info").consensus)
    end)
  end)
end)
