-- lunet.testing -- the busted fixture: fresh in-memory chains whose
-- transactions are signed for real and run through the node's own code
-- (decode, signature and nonce checks, metered sandbox, fees, state root).
--
--   local testing = require "lunet.testing"
--   local chain = testing.chain()     -- alice, bob, carol, dave, eve funded
--   local r = chain:deploy("alice", "token", "contracts/token.lua", "LUN", 1000)
--   local r = chain:send("alice", "token", "transfer", "bob", 10)
--   local v = chain:query("token", "balance_of", "bob")   -- raises on error
--   chain:advance(blocks [, seconds]); chain:root()
--
-- Receipts carry `logs`, what the block's contracts log(...) ("where: text"
-- lines; also printed by `lunet test`, test by test). Errors and logs of
-- code deployed from a file name the file: the chain's own text says
-- "token:12: boom" (the chunk is the account), which the fixture writes as
-- "contracts/token.lua:12: boom" for an account it deployed from that file.
--
-- Options of testing.chain{...}: chain_id ("lunet-test"), time (genesis
-- time, 1700000000), balance (per dev account, 10^12), max_fee (per
-- transaction, 10^8), and as in a config file: consensus, governance and
-- pricing ({ plugin = FILE, params = {...} }), params (chain params),
-- admin (the default policy's admin), validators (names; default
-- { "node0" }: keys derived like the dev accounts'), stakes ({ NAME =
-- amount }: validators' stake bonded at genesis). The validators ready
-- every scheduled swap as their nodes would, in the next block, except
-- those in not_ready (names: nodes that cannot load the new code). The
-- first validator proposes every block (fees "to proposer" go to it).
--
-- Pricing: chain:quote(from, contract, method, ...) is what the call would
-- pay in the next block ({fee, payer, usage, gas_limit, ok, error}, or
-- {code, why} when it would be refused); chain:batch({{from, contract,
-- method, args...}, ...}) sends them all in one block and returns their
-- receipts; chain:stake(from, amount) / chain:unstake(from, amount) bond
-- and unbond native balance; chain:vote_producers(from, producers) sets
-- approval votes (sys.vote; chain:vote is governance's);
-- chain:producers(n) gives dpos's ranking after the head (node.producers:
-- the top n validators by votes, sorted by name, jailed ones left out);
-- chain:log()
-- gives what the blocks had to say (a pricing plugin's faults and log
-- lines) since it was last asked.

local core = require "lunet.core"

local M = { _VERSION = "0.1" }

M.ACCOUNTS = { "alice", "bob", "carol", "dave", "eve" }

local Chain = {}
Chain.__index = Chain

-- Dev keys are derived from the name, so every run signs the same way.
function M.keypair(name)
  return core.keypair(core.hash("lunet dev key " .. name))
end

function M.chain(opts)
  opts = opts or {}
  local keys, accounts, listed = {}, {}, {}
  for _, name in ipairs(M.ACCOUNTS) do
    local pk, sk = M.keypair(name)
    keys[name] = { pk = pk, sk = sk }
    listed[name] = true
    accounts[#accounts + 1] = { name = name, key = core.hex(pk), balance = opts.balance or 1e12 }
  end
  local validators = {}
  for _, name in ipairs(opts.validators or { "node0" }) do
    if not keys[name] then
      local pk, sk = M.keypair(name)
      keys[name] = { pk = pk, sk = sk }
    end
    validators[#validators + 1] = { name = name, key = core.hex(keys[name].pk),
                                    stake = opts.stakes and opts.stakes[name] or nil }
  end
  local c = core.chain {
    chain_id = opts.chain_id or "lunet-test",
    genesis_time = opts.time or 1700000000,
    accounts = accounts,
    validators = validators,
    admin = opts.admin,
    consensus = opts.consensus or { plugin = "consensus/poa.lua" },
    governance = opts.governance,
    pricing = opts.pricing,
    params = opts.params,
  }
  local not_ready = {}
  for _, name in ipairs(opts.not_ready or {}) do not_ready[name] = true end
  return setmetatable({ c = c, keys = keys, max_fee = opts.max_fee or 1e8,
                        validators = validators, not_ready = not_ready, sources = {} }, Chain)
end

-- "NAME:LINE" of an account deployed from a file -> "FILE:LINE", where
-- NAME stands alone (not the end of a path or a longer name).
local function positions(self, s)
  if type(s) ~= "string" or not next(self.sources) then return s end
  return (s:gsub("()([%w%.]+):(%d+)", function(at, name, line)
    local path = self.sources[name]
    if not path or (at > 1 and s:sub(at - 1, at - 1):match("[%w%./_%-]")) then return nil end
    return path .. ":" .. line
  end))
end

-- Notes what contracts logged (for the report of `lunet test`) and returns
-- the lines with positions as files.
local function logged(self, lines)
  local out = {}
  for i, l in ipairs(lines or {}) do out[i] = positions(self, l) end
  local sink = core.logs
  if sink then for _, l in ipairs(out) do sink[#sink + 1] = l end end
  return out
end

local function record_gas(contract, method, gas)
  local stats = core.gas_stats
  if not stats then return end
  local name = contract .. "." .. method
  local s = stats[name]
  if not s then
    s = { n = 0, total = 0, min = gas, max = gas }
    stats[name] = s
  end
  s.n, s.total = s.n + 1, s.total + gas
  if gas < s.min then s.min = gas end
  if gas > s.max then s.max = gas end
end

local function pack(...)
  return { n = select("#", ...), ... }
end

local function args_of(t)
  local args = {}
  for i = 1, t.n do
    if t[i] == nil then
      error("argument " .. i .. " is nil: transaction arguments cannot be nil", 3)
    end
    args[i] = t[i]
  end
  return args
end

-- The unsigned transaction of DESIGN's wire format. opts may set nonce,
-- expires, max_fee, chain_id and keys (a list of secret keys).
function Chain:transaction(account, actions, opts)
  opts = opts or {}
  local acct = self.c:account(account)
  local tx = {
    account = account,
    actions = actions,
    chain_id = opts.chain_id or self.c:chain_id(),
    expires = opts.expires or self.c:height() + 100,
    max_fee = opts.max_fee or self.max_fee,
    nonce = opts.nonce or (acct and acct.nonce) or 0,
  }
  local sks = opts.keys
  if not sks then
    local k = self.keys[account]
    if not k then error("no key for account " .. tostring(account), 2) end
    sks = { k.sk }
  end
  local bytes, id = core.sign_tx(tx, sks)
  if not bytes then error("cannot sign: " .. tostring(id), 2) end
  return bytes, id
end

-- The validators' sys.ready for each swap pending that they have not
-- readied (their nodes would send it once they loaded the code).
local function ready_txs(self)
  local out = {}
  for _, s in ipairs(self.c:pending()) do
    local done = {}
    for _, v in ipairs(s.ready) do done[v] = true end
    for _, v in ipairs(self.validators) do
      if not done[v.name] and not self.not_ready[v.name] then
        local acct = self.c:account(v.name)
        out[#out + 1] = core.sign_tx({
          account = v.name, chain_id = self.c:chain_id(), expires = self.c:height() + 100,
          max_fee = 0, nonce = acct and acct.nonce or 0,
          actions = { { contract = "sys", method = "ready", args = { s.slot, s.hash } } },
        }, { self.keys[v.name].sk })
      end
    end
  end
  return out
end

-- One block of raw transactions, after the validators' readiness: their
-- receipts, with errors as files, and what the block's contracts logged.
local function apply(self, txs, time)
  local all_txs = ready_txs(self)
  local nready = #all_txs
  for _, tx in ipairs(txs) do all_txs[#all_txs + 1] = tx end
  local all, _, lines = self.c:apply(all_txs, time)
  local logs = logged(self, lines)
  local receipts = {}
  for i = nready + 1, #all do
    local r = all[i]
    r.error = positions(self, r.error)
    r.logs = logs
    receipts[#receipts + 1] = r
  end
  return receipts, logs
end

-- Applies raw encoded transactions as one block; returns the receipts and
-- what the block's contracts logged.
function Chain:apply(txs, time)
  return apply(self, txs, time)
end

-- Sends one action as `from` in a block of its own; returns the receipt.
function Chain:send(from, contract, method, ...)
  local tx = self:transaction(from, { { contract = contract, method = method,
                                        args = args_of(pack(...)) } })
  local r = apply(self, { tx })[1]
  if r.included then record_gas(contract, method, r.gas_used) end
  return r
end

-- Like send, with transaction options (nonce, expires, max_fee, chain_id, keys).
function Chain:send_with(opts, from, contract, method, ...)
  local tx = self:transaction(from, { { contract = contract, method = method,
                                        args = args_of(pack(...)) } }, opts)
  return apply(self, { tx })[1]
end

-- Sends each {from, contract, method, args...} as its own transaction, all
-- in one block (a sender's nonces follow each other); returns the receipts
-- in order.
function Chain:batch(calls)
  local nonces, txs = {}, {}
  for i, call in ipairs(calls) do
    local from, contract, method = call[1], call[2], call[3]
    if type(from) ~= "string" or type(contract) ~= "string" or type(method) ~= "string" then
      error("batch: call " .. i .. " must be {from, contract, method, args...}", 2)
    end
    local acct = self.c:account(from)
    nonces[from] = nonces[from] or (acct and acct.nonce) or 0
    local args = {}
    for k = 4, table.maxn(call) do args[#args + 1] = call[k] end
    txs[i] = self:transaction(from, { { contract = contract, method = method, args = args } },
                              { nonce = nonces[from] })
    nonces[from] = nonces[from] + 1
  end
  local rs = apply(self, txs)
  for i, r in ipairs(rs) do
    if r.included then record_gas(calls[i][2], calls[i][3], r.gas_used) end
  end
  return rs
end

-- What the call would pay in the next block, by the pricing plugin in
-- force (its quote, else its charge): the call runs as if `from` had
-- signed it, and nothing it does is kept.
function Chain:quote(from, contract, method, ...)
  local acct = self.c:account(from)
  local unsigned = core.encode {
    account = from,
    actions = { { contract = contract, method = method, args = args_of(pack(...)) } },
    chain_id = self.c:chain_id(),
    expires = self.c:height() + 100,
    max_fee = self.max_fee,
    nonce = (acct and acct.nonce) or 0,
  }
  return self.c:quote(unsigned)
end

-- Bonds (stake) or starts unbonding (unstake) amount of from's balance;
-- returns the receipt.
function Chain:stake(from, amount)
  return self:send(from, "sys", "stake", amount)
end

function Chain:unstake(from, amount)
  return self:send(from, "sys", "unstake", amount)
end

-- Sets from's approval votes for producers (a list of validators' names;
-- {} clears); returns the receipt.
function Chain:vote_producers(from, producers)
  return self:send(from, "sys", "vote", producers)
end

-- What the blocks had to say since the last call: {lines}.
function Chain:log()
  return self.c:log()
end

-- Deploys the contract in file `path` to account `name`; extra arguments go
-- to its init.
function Chain:deploy(from, name, path, ...)
  local f, err = io.open(path, "rb")
  if not f then error("cannot read " .. path .. ": " .. tostring(err), 2) end
  local src = f:read("*a")
  f:close()
  self.sources[name] = path
  return self:deploy_source(from, name, src, ...)
end

function Chain:deploy_source(from, name, src, ...)
  local tx = self:transaction(from, { { contract = "sys", method = "deploy",
                                        args = { name, src, unpack(args_of(pack(...))) } } })
  local r = apply(self, { tx })[1]
  if r.included then record_gas(name, "deploy", r.gas_used) end
  return r
end

-- Runs a method read-only and returns its result; raises with the error.
function Chain:query(contract, method, ...)
  local ok, v = self:try_query(contract, method, ...)
  if not ok then error(v, 2) end
  return v
end

-- Like query, without raising: ok, value|error, gas_used, code, logs.
function Chain:try_query(contract, method, ...)
  local ok, v, gas, code, lines = self.c:query(contract, method, args_of(pack(...)))
  if not ok then v = positions(self, v) end
  return ok, v, gas, code, logged(self, lines)
end

-- Produces `blocks` empty blocks (default 1) and moves block.time on by
-- `seconds` in all (default one second per block).
function Chain:advance(blocks, seconds)
  blocks = blocks or 1
  seconds = seconds or blocks
  local t0 = self.c:time()
  for i = 1, blocks do
    apply(self, {}, t0 + math.floor(seconds * i / blocks))
  end
end

-- Governance by transaction (the policy in force is gov's code): each
-- returns the receipt; a proposal's id is the result of propose.
function Chain:propose(from, kind, body)
  return self:send(from, "gov", "propose", kind, body)
end

function Chain:vote(from, id, choice)
  return self:send(from, "gov", "vote", id, choice)
end

-- The plugin of slot in force at the next block: {name, hash, since, params}.
function Chain:plugin(slot)
  return self.c:plugin(slot)
end

-- Swaps scheduled and not in force yet: {{slot, name, hash, at, ready}}.
function Chain:pending()
  return self.c:pending()
end

-- A new account held by a fresh key, funded by alice.
function Chain:new_account(name, balance)
  local pk, sk = core.keypair(core.hash("lunet test key " .. name))
  local r = self:send("alice", "sys", "newaccount", name, pk)
  if not r.ok then error("newaccount " .. name .. ": " .. tostring(r.error), 2) end
  self.keys[name] = { pk = pk, sk = sk }
  if balance and balance > 0 then
    r = self:send("alice", "sys", "transfer", name, balance)
    if not r.ok then error("funding " .. name .. ": " .. tostring(r.error), 2) end
  end
  return pk, sk
end

-- The raw bytes under a state key, or nil: "c" .. name is a contract's
-- source, "s" .. name .. "/" .. key its storage (canonical msgpack).
function Chain:get(key) return self.c:get(key) end

function Chain:root() return self.c:root() end
function Chain:head() return self.c:head() end
function Chain:height() return self.c:height() end
function Chain:time() return self.c:time() end
function Chain:account(name) return self.c:account(name) end
-- The producers dpos ranks after the head (node.producers(want)).
function Chain:producers(want) return self.c:producers(want) end
function Chain:balance(name)
  local a = self.c:account(name)
  return a and a.balance
end

return M
