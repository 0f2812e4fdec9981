-- tests/net/pricing_spec.lua -- the pricing plugin in a real `lunet dev`
-- process: JSON-RPC fee_quote (signed and unsigned transactions, and what
-- it refuses), receipts with their usage over tx_get, account_get's stake,
-- a transaction the plugin would refuse at inclusion refused at the door
-- (tx_submit), and a plugin that fails: the transaction is refused, the
-- node logs why and goes on making blocks.
-- Plugins: tests/lua/pricing/faulty.lua, plugins/pricing/fee_market.lua.

local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")
local core = support.core

local BOX = [[
local M = {}
function M.put(k, v) storage.set(k, v) end
function M.ping() return 1 end
return M
]]

-- configs/dev.lua with a pricing slot.
local function config(name, plugin, params)
  local cfg = support.read_file(support.CONFIG)
  local slot = string.format("return {\n  pricing = { plugin = %q, params = %s },", plugin, params)
  cfg = cfg:gsub("return {", function() return slot end, 1)
  local path = support.run_dir() .. "/" .. name .. ".lua"
  support.write_file(path, cfg)
  return path
end

local function unsigned(node, account, contract, method, args)
  local info = node:call("chain_info")
  return core.encode {
    account = account, chain_id = info.chain_id, expires = info.height + 100, max_fee = 10000000,
    nonce = (node:rpc("account_get", { account = account }) or { nonce = 0 }).nonce,
    actions = { { contract = contract, method = method, args = args } },
  }
end

describe("pricing over JSON-RPC", function()
  local node

  lazy_setup(function()
    local cfg = config("faulty", support.ROOT .. "/tests/lua/pricing/faulty.lua", '{ fault = "charge_error" }')
    node = support.node({ name = "pricing" }):start({ config = cfg })
    local r = node:deploy_source("alice", "box", BOX)
    assert(r.receipt.ok, "deploy box: " .. tostring(r.receipt.error))
    r = node:deploy_source("alice", "bad", BOX)
    assert(r.receipt.ok, "deploy bad: " .. tostring(r.receipt.error))
  end)

  lazy_teardown(function() support.cleanup() end)

  it("fee_quote answers what a signed transaction then pays, with its usage", function()
    local bytes = node:tx("bob", { { contract = "box", method = "put", args = { "k", "abc" } } })
    local q = node:call("fee_quote", { tx = support.base64(bytes) })
    assert.are.equal("bob", q.payer)
    assert.is_true(q.ok)
    assert.are.equal(5, q.usage.storage_added)
    assert.are.equal(#bytes, q.usage.tx_bytes)
    local res = assert(node:submit(bytes))
    local got = node:wait_committed(res.hash)
    assert.are.equal(q.fee, got.receipt.fee)
    assert.are.equal(q.usage.gas, got.receipt.usage.gas)
    assert.are.equal(5, got.receipt.usage.storage_added)
    assert.are.same({ box = 5 }, got.receipt.usage.stored)
    assert.are.equal(1, got.receipt.usage.calls)
  end)

  it("fee_quote takes an unsigned transaction, and keeps nothing the call did", function()
    local tx = unsigned(node, "carol", "box", "put", { "q", 1 })
    local q = node:call("fee_quote", { tx = support.base64(tx) })
    assert.are.equal("carol", q.payer)
    assert.is_true(q.fee > 0)
    assert.are.equal(0, node:call("account_get", { account = "carol" }).nonce)
    local st = node:call("state_get", { key = "sbox/q" })
    assert.is_nil(st.raw)
  end)

  it("fee_quote says how a failing call fails", function()
    local q = node:call("fee_quote", { tx = support.base64(unsigned(node, "carol", "box", "nope", {})) })
    assert.is_false(q.ok)
    assert.is_truthy(q.error:find("no method nope", 1, true), q.error)
  end)

  it("fee_quote refuses what is not a transaction, an unknown sender, and what the plugin would refuse", function()
    local _, e = node:rpc("fee_quote", { tx = "%%%" })
    assert.are.equal(-32602, e.code)
    _, e = node:rpc("fee_quote", {})
    assert.are.equal(-32602, e.code)
    _, e = node:rpc("fee_quote", { tx = "" })
    assert.are.equal(-32602, e.code)
    _, e = node:rpc("fee_quote", { tx = support.base64(string.rep("x", 128 * 1024 + 1)) })
    assert.are.equal(-32000 - 49, e.code)                           -- ETXSIZE: over a transaction's size
    assert.is_truthy(e.message:find("131073 bytes", 1, true), e.message)
    _, e = node:rpc("fee_quote", { tx = support.base64("\129\161a\1") })
    assert.are.equal(-32000 - 40, e.code)                           -- EBADTX
    _, e = node:rpc("fee_quote", { tx = support.base64(unsigned(node, "nobody", "box", "ping", {})) })
    assert.are.equal(-32000 - 44, e.code)                           -- ENOACCOUNT
    _, e = node:rpc("fee_quote", { tx = support.base64(unsigned(node, "carol", "bad", "ping", {})) })
    assert.are.equal(-32000 - 82, e.code)                           -- EPLUGIN
    assert.is_truthy(e.data.why:find("charge broke", 1, true), e.data.why)
    assert.is_true(node:health().ok)
  end)

  it("refuses the transaction the plugin fails on, logs why, and goes on making blocks", function()
    local mark = node:log_mark()
    local bad = node:send("dave", "bad", "put", { "k", 1 })
    local good = node:send("eve", "box", "put", { "e", 1 })
    node:wait_committed(good)
    support.wait_until(100, 50, function()
      return node:log_since(mark):find("transaction refused: pricing plugin faulty: charge: ", 1, true)
    end, "the node never logged the plugin's fault:\n" .. node:log_tail(20))
    support.wait_until(100, 50, function()
      return node:call("tx_get", { hash = bad }).status == "unknown"
    end, "the refused transaction stayed pending")
    assert.are.equal(0, node:call("account_get", { account = "dave" }).nonce)
    node:send_wait("dave", "box", "put", { "d", 1 })
  end)

  it("shows an account's stake and what it has unbonding", function()
    node:send_wait("alice", "sys", "stake", { 1000 })
    local r = node:send_wait("alice", "sys", "unstake", { 250 })
    local a = node:call("account_get", { account = "alice" })
    assert.are.equal(750, a.stake)
    assert.are.same({ { amount = 250, at = r.height + 100 } }, a.unbonding)
    local b = node:call("account_get", { account = "bob" })
    assert.are.equal(0, b.stake)
    assert.are.same({}, b.unbonding)
  end)
end)

describe("lunet pricing replay", function()
  local node

  lazy_setup(function()
    node = support.node({ name = "replay" }):start()
    local r = node:deploy_source("alice", "box", BOX)
    assert(r.receipt.ok, "deploy box: " .. tostring(r.receipt.error))
    for i = 1, 3 do node:send_wait("bob", "box", "put", { "k" .. i, string.rep("v", 100 * i) }) end
    node:send_wait("carol", "sys", "stake", { 5000 })
  end)

  lazy_teardown(function() support.cleanup() end)

  it("gives what each paid as what it would pay under the model the chain runs (flat.lua)", function()
    local code, out, err = support.lunet { "pricing", "replay", support.ROOT .. "/plugins/pricing/flat.lua",
                                           "--rpc", node.url, "--json" }
    assert.are.equal(0, code, err)
    local r = assert(support.decode_json(out))
    assert.are.equal("flat", r.model)
    assert.are.equal(5, r.transactions)
    assert.are.equal(r.paid, r.would_pay)
    assert.are.equal(0, r.refused)
    for _, p in ipairs(r.payers) do assert.are.equal(p.paid, p.would_pay, p.account) end
  end)

  it("prices the same usage by another model: fee_market with a tip costs base + tip per gas", function()
    local code, out, err = support.lunet { "pricing", "replay", support.ROOT .. "/plugins/pricing/fee_market.lua",
                                           "--params", '{"tip": 4}', "--from", "2", "--to", "4",
                                           "--rpc", node.url, "--json" }
    assert.are.equal(0, code, err)
    local r = assert(support.decode_json(out))
    assert.are.equal(3, r.transactions)                 -- bob's three puts
    assert.are.equal(5 * r.paid, r.would_pay)           -- base 1 + tip 4, per gas
    assert.are.same({ { contract = "box", calls = 3, paid = r.paid, would_pay = r.would_pay, refused = 0 } },
                    r.contracts)
  end)

  it("counts what a model would refuse (staked.lua: no stake, no service)", function()
    local code, out, err = support.lunet { "pricing", "replay", support.ROOT .. "/plugins/pricing/staked.lua",
                                           "--rpc", node.url }
    assert.are.equal(0, code, err)
    assert.is_truthy(out:find("pricing replay: staked over blocks 1..5", 1, true), out)
    assert.is_truthy(out:match("\n  bob +3 +%d+ +0 +3\n"), out)
    assert.is_truthy(out:match("\n  carol +1 +%d+ +0 +0\n"), out)
  end)

  it("says what is wrong with a model, its params, the blocks or the node", function()
    local cases = {
      { { "/nonexistent/model.lua" }, 1, "cannot read /nonexistent/model.lua" },
      { { support.ROOT .. "/plugins/pricing/flat.lua", "--params", "[1]" }, 1, "--params must be a JSON object" },
      { { support.ROOT .. "/plugins/pricing/flat.lua", "--params", '{"price": 0}' }, 1, "params.price must be a positive integer" },
      { { support.ROOT .. "/consensus/poa.lua" }, 1, "has no function charge" },
      { { support.ROOT .. "/plugins/pricing/flat.lua", "--to", "999" }, 1, "the node's head is" },
      { { support.ROOT .. "/plugins/pricing/flat.lua", "--from", "0" }, 2, "--from wants an integer" },
    }
    for _, c in ipairs(cases) do
      local args = { "pricing", "replay" }
      for _, a in ipairs(c[1]) do args[#args + 1] = a end
      args[#args + 1] = "--rpc"
      args[#args + 1] = node.url
      local code, _, err = support.lunet(args)
      assert.are.equal(c[2], code, err)
      assert.is_truthy(err:find(c[3], 1, true), err)
    end
    local code, _, err = support.lunet { "pricing", "replay", support.ROOT .. "/plugins/pricing/flat.lua",
                                         "--rpc", "http://127.0.0.1:1" }
    assert.are.equal(1, code)
    assert.is_truthy(err:find("lunet pricing replay: ", 1, true), err)
    code, _, err = support.lunet { "pricing", "rewind" }
    assert.are.equal(2, code)
    assert.is_truthy(err:find("unknown subcommand 'rewind'", 1, true), err)
  end)
end)

describe("lunet bench --pricing", function()
  it("runs the standard workload under a stake-priced model, every account staked first", function()
    local code, out, err = support.lunet { "bench", "-n", "300", "--senders", "5", "--json",
                                           "--pricing", support.ROOT .. "/plugins/pricing/staked.lua",
                                           "--pricing-params", '{"window": 50}' }
    assert.are.equal(0, code, err)
    local r = assert(support.decode_json(out))
    assert.is_true(r.ok)
    assert.are.equal(300, r.txs)
    assert.are.equal(0, r.refused + r.failed + r.uncommitted)
  end)

  it("refuses --pricing for a node it does not run, and params that are not an object", function()
    local code, _, err = support.lunet { "bench", "--pricing", "plugins/pricing/flat.lua", "--rpc",
                                         "http://127.0.0.1:1" }
    assert.are.equal(2, code)
    assert.is_truthy(err:find("--pricing FILE is for its own node", 1, true), err)
    code, _, err = support.lunet { "bench", "--pricing-params", "{}" }
    assert.are.equal(2, code)
    code, _, err = support.lunet { "bench", "-n", "10", "--pricing", support.ROOT .. "/plugins/pricing/flat.lua",
                                   "--pricing-params", "[1]" }
    assert.are.equal(2, code)
    assert.is_truthy(err:find("--pricing-params must be a JSON object", 1, true), err)
  end)
end)

describe("pricing at the door", function()
  local node

  lazy_setup(function()
    local cfg = config("market", support.ROOT .. "/plugins/pricing/fee_market.lua",
                       "{ base_fee = 50, min_gas = 1000 }")
    node = support.node({ name = "market" }):start({ config = cfg })
  end)

  lazy_teardown(function() support.cleanup() end)

  it("refuses at tx_submit what the plugin's admit would refuse at inclusion (EMAXFEE)", function()
    local bytes = node:tx("bob", { { contract = "sys", method = "transfer", args = { "carol", 1 } } },
                          { max_fee = 49999 })
    local res, e = node:submit(bytes)
    assert.is_nil(res)
    assert.are.equal(-32000 - 56, e.code)
    assert.is_truthy(e.data.why:find("below the base fee 50 times 1000 gas", 1, true), e.data.why)
    local got = node:send_wait("bob", "sys", "transfer", { "carol", 1 }, { max_fee = 1000000 })
    assert.is_true(got.receipt.ok)
    assert.is_true(got.receipt.fee >= got.receipt.gas_used * 50)
  end)
end)
