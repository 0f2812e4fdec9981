-- tests/net/cluster.lua -- N real validators on loopback for the multi-node
-- specs: keys, one shared genesis, `lunet start` processes that dial each
-- other, a transaction load, and the checks every fault test ends with.
--
--   local cluster = dofile("tests/net/cluster.lua")
--   local c = cluster.new(4, { consensus = "bft", params = {...} })
--   c:start_all()                         -- node1..node4 = validators node0..node3
--   local ids = c:load(20)                -- 20 transfers, spread over the nodes
--   c:wait_committed(ids)                 -- on every running node
--   c:check_agreement()                   -- same hashes and roots at every height
--
-- Each node dials every other through c.dial[i][j] (default: j's P2P port),
-- so a spec can put a proxy in between (partitions). c.extra_args are
-- flags for every node's `lunet start`, c.node_args[i] for node i's.

-- One support instance for nodes and tools, so one cleanup stops them all.
local tools = dofile("tests/net/tools.lua")
local support = tools.support
local ffi = require "ffi"
local core = support.core

local M = { support = support, tools = tools }
local Cluster = {}
Cluster.__index = Cluster

local SIGSTOP, SIGCONT = 19, 18

-- A cluster description: n node homes with keys and a shared genesis file
-- (not started). opts: consensus ("bft"), params (the plugin's), stakes
-- (validator i's genesis stake, by i).
function M.new(n, opts)
  opts = opts or {}
  local c = setmetatable({ n = n, nodes = {}, dial = {}, seen = {}, next_sender = 0 }, Cluster)
  local dir = support.run_dir()
  local vals = {}
  for i = 1, n do
    local node = support.node({ name = "v" .. (i - 1) .. "-" .. math.random(1e6) })
    node.validator = "node" .. (i - 1)
    local code, out, err = support.lunet({ "keys", "new", node.validator, "--home", node.home })
    assert(code == 0, "keys new: " .. out .. err)
    local key = support.decode_json(support.read_file(node.home .. "/keys/" .. node.validator .. ".key"))
    local stake = opts.stakes and opts.stakes[i]
    vals[i] = string.format('{ name = %q, key = %q%s }', node.validator, key.public_key,
                            stake and (", stake = " .. stake) or "")
    c.nodes[i] = node
  end
  -- Client accounts: their keys live in node 1's home (the specs sign there).
  local accounts = {}
  for _, a in ipairs({ "alice", "bob", "carol" }) do
    local code, out, err = support.lunet({ "keys", "new", a, "--home", c.nodes[1].home })
    assert(code == 0, "keys new: " .. out .. err)
    local key = support.decode_json(support.read_file(c.nodes[1].home .. "/keys/" .. a .. ".key"))
    accounts[#accounts + 1] = string.format('{ name = %q, balance = 1000000000000, key = %q }',
                                            a, key.public_key)
  end
  local params = {}
  for k, v in pairs(opts.params or {}) do params[#params + 1] = string.format("%s = %s", k, tostring(v)) end
  table.sort(params)
  c.config = dir .. "/genesis-" .. math.random(1e6) .. ".lua"
  support.write_file(c.config, string.format([[
return {
  chain_id = %q,
  genesis_time = %d,
  validators = { %s },
  accounts = { %s },
  consensus = { plugin = %q, params = { %s } },
  %s
}
]], "cluster-" .. math.random(1e9), os.time(), table.concat(vals, ", "), table.concat(accounts, ", "),
      support.ROOT .. "/consensus/" .. (opts.consensus or "bft") .. ".lua", table.concat(params, ", "),
      opts.extra_config or ""))
  for i = 1, n do
    c.dial[i] = {}
    for j = 1, n do
      if i ~= j then c.dial[i][j] = c.nodes[j].p2p end
    end
  end
  return c
end

-- Starts node i (`lunet start`, dialing every other node).
function Cluster:start(i)
  local args = {}
  for j = 1, self.n do
    if j ~= i and self.dial[i][j] then
      args[#args + 1] = "--peer"
      args[#args + 1] = "127.0.0.1:" .. self.dial[i][j]
    end
  end
  for _, a in ipairs(self.extra_args or {}) do args[#args + 1] = a end
  for _, a in ipairs(self.node_args and self.node_args[i] or {}) do args[#args + 1] = a end
  if self.listen_any then                    -- advertise no address (see partition)
    args[#args + 1] = "--p2p"
    args[#args + 1] = "0.0.0.0:" .. self.nodes[i].p2p
  end
  return self.nodes[i]:start({ command = "start", config = self.config, args = args })
end

function Cluster:start_all()
  for i = 1, self.n do self:start(i) end
  return self
end

function Cluster:stop_all()
  for i, node in ipairs(self.nodes) do
    if node.stopped then self:resume(i) end
    node:stop()
  end
end

function Cluster:running()
  local out = {}
  for i, node in ipairs(self.nodes) do
    if node.pid and not node.stopped then out[#out + 1] = i end
  end
  return out
end

function Cluster:pause(i)
  ffi.C.kill(self.nodes[i].pid, SIGSTOP)
  self.nodes[i].stopped = true
end

function Cluster:resume(i)
  local node = self.nodes[i]
  if node.pid then ffi.C.kill(node.pid, SIGCONT) end
  node.stopped = nil
end

function Cluster:height(i)
  return self.nodes[i]:call("chain_info").height
end

-- The lowest height among the running nodes.
function Cluster:min_height()
  local h
  for _, i in ipairs(self:running()) do
    local x = self:height(i)
    if not h or x < h then h = x end
  end
  return h
end

-- Waits until every running node is at height >= h.
function Cluster:wait_height(h, seconds)
  support.wait_until(math.floor((seconds or 20) * 10), 100, function()
    return self:min_height() >= h
  end, function()
    local hs = {}
    for _, i in ipairs(self:running()) do hs[#hs + 1] = self.nodes[i].name .. "=" .. self:height(i) end
    return "heights never reached " .. h .. ": " .. table.concat(hs, " ")
  end)
end

-- Submits k transfers from alice/bob/carol (signed in node 1's home),
-- to the running nodes in turn; returns their ids. Nonces are tracked here.
function Cluster:load(k, to)
  local ids = {}
  local senders = { "alice", "bob", "carol" }
  self.nonce = self.nonce or {}
  local running = to or self:running()
  local signer = self.nodes[1]
  for x = 1, k do
    self.next_sender = self.next_sender % #senders + 1
    local from = senders[self.next_sender]
    if not self.nonce[from] then
      self.nonce[from] = self.nodes[running[1]]:call("account_get", { account = from }).nonce
    end
    local node = self.nodes[running[(x - 1) % #running + 1]]
    local info = self.info or node:call("chain_info")
    self.info = info
    local bytes, id = signer:tx(from, { { contract = "sys", method = "transfer",
                                          args = { "dave" .. self.next_sender, 1 } } },
                                { nonce = self.nonce[from], chain_id = info.chain_id,
                                  expires = 1e9 })
    local res, err = node:submit(bytes)
    assert(res, "tx_submit refused: " .. tostring(err and err.message))
    self.nonce[from] = self.nonce[from] + 1
    ids[#ids + 1] = id
  end
  return ids
end

-- Waits until every id is committed (or final) on every running node; records them as
-- seen (check_agreement later checks they are still there).
function Cluster:wait_committed(ids, seconds)
  for _, i in ipairs(self:running()) do
    local node = self.nodes[i]
    support.wait_until(math.floor((seconds or 30) * 10), 100, function()
      for _, id in ipairs(ids) do
        local r = node:call("tx_get", { hash = id })
        if r.status ~= "committed" and r.status ~= "final" then return false end
        self.seen[id] = r.height
      end
      return true
    end, node.name .. ": transactions not all committed")
  end
end

-- Every running node has the same block hash and state root at every
-- height they share, and every transaction seen committed is still
-- committed at the same height.
function Cluster:check_agreement()
  local running = self:running()
  local top = self:min_height()
  local ref = self.nodes[running[1]]
  for h = 1, top do
    local want = ref:call("block_get", { height = h })
    for k = 2, #running do
      local got = self.nodes[running[k]]:call("block_get", { height = h })
      assert(got.hash == want.hash, string.format("height %d: %s has %s, %s has %s", h,
             ref.name, want.hash, self.nodes[running[k]].name, got.hash))
      assert(got.header.state_root == want.header.state_root,
             string.format("height %d: state roots differ", h))
    end
  end
  for id, height in pairs(self.seen) do
    for _, i in ipairs(running) do
      local r = self.nodes[i]:call("tx_get", { hash = id })
      assert((r.status == "committed" or r.status == "final") and r.height == height,
             self.nodes[i].name .. ": transaction " .. id .. " is no longer committed at " .. height)
    end
  end
  return top
end

-- The lines of node i's log (this start) that contain pattern (plain).
function Cluster:log_lines(i, pattern)
  local out = {}
  for l in (support.read_file(self.nodes[i].log) or ""):gmatch("[^\n]+") do
    if l:find(pattern, 1, true) then out[#out + 1] = l end
  end
  return out
end

M.core = core
return M
