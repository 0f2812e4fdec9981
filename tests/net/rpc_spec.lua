-- tests/net/rpc_spec.lua -- JSON-RPC and the GET routes of a real `lunet
-- dev` process over HTTP on loopback: bad input gets a stable error code and
-- the node goes on answering; the happy paths return what rpc.h promises.

local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")
local core, json = support.core, support.json

local SPIN = [[
local M = {}
function M.spin() local i = 0 while true do i = i + 1 end end
return M
]]

describe("rpc", function()
  local node, chain_id

  lazy_setup(function()
    node = support.node({ name = "rpc" }):start()
    chain_id = node:call("chain_info").chain_id
    local r = node:deploy_source("alice", "token", support.read_file(support.ROOT .. "/contracts/token.lua"),
                                 { "LUN", 1000000 })
    assert(r.receipt.ok, "deploy token: " .. tostring(r.receipt.error))
    r = node:deploy_source("alice", "spinner", SPIN)
    assert(r.receipt.ok, "deploy spinner: " .. tostring(r.receipt.error))
  end)

  lazy_teardown(function() support.cleanup() end)

  local function assert_healthy()
    local h, err = node:health()
    assert.is_truthy(h, "GET /health failed after the bad request: " .. tostring(err))
    assert.is_true(h.ok)
  end

  -- POSTs body, expects HTTP 200 and one JSON-RPC error; returns it.
  local function rpc_error(body)
    local st, resp, raw = node:post(body)
    assert.equal(200, st, raw)
    assert.is_table(resp, raw)
    assert.equal("2.0", resp.jsonrpc)
    assert.is_nil(resp.result)
    assert.is_table(resp.error, raw)
    assert.is_string(resp.error.message)
    return resp.error, resp
  end

  local function call_body(method, params_json, id)
    return string.format('{"jsonrpc":"2.0","id":%s,"method":"%s","params":%s}',
                         id or "1", method, params_json or "{}")
  end

  describe("malformed requests", function()
    it("answers a body that is not JSON with -32700 parse error", function()
      local e = rpc_error('{"jsonrpc":"2.0","id":1,"method":')
      assert.equal(-32700, e.code)
      assert_healthy()
    end)

    it("answers the number 42 as a body with -32600 invalid request", function()
      assert.equal(-32600, rpc_error("42").code)
      assert_healthy()
    end)

    it("answers a JSON string as a body with -32600 invalid request", function()
      assert.equal(-32600, rpc_error('"x"').code)
      assert_healthy()
    end)

    it("answers jsonrpc \"1.0\" with -32600 and echoes the id", function()
      local e, resp = rpc_error('{"jsonrpc":"1.0","id":7,"method":"chain_info"}')
      assert.equal(-32600, e.code)
      assert.equal(7, resp.id)
      assert_healthy()
    end)

    it("answers a call without jsonrpc with -32600", function()
      assert.equal(-32600, rpc_error('{"id":1,"method":"chain_info"}').code)
      assert_healthy()
    end)

    it("answers an unknown method with -32601 method not found", function()
      local e = rpc_error(call_body("no_such_method"))
      assert.equal(-32601, e.code)
      assert.matches("no_such_method", e.message, 1, true)
      assert_healthy()
    end)

    it("answers params given as an array with -32602", function()
      assert.equal(-32602, rpc_error(call_body("chain_info", "[1]")).code)
      assert_healthy()
    end)

    it("answers an empty batch with -32600", function()
      assert.equal(-32600, rpc_error("[]").code)
      assert_healthy()
    end)

    it("answers a batch of 101 calls with -32600", function()
      local calls = {}
      for i = 1, 101 do calls[i] = call_body("chain_info", "{}", tostring(i)) end
      assert.equal(-32600, rpc_error("[" .. table.concat(calls, ",") .. "]").code)
      assert_healthy()
    end)

    it("refuses a body over 1 MiB with HTTP 413 and keeps serving", function()
      local st = node:http("POST", "/", nil, { length = (1024 * 1024) + 1 })
      assert.equal(413, st)
      assert_healthy()
    end)

    it("refuses a method name with \\u0000 inside with -32600 instead of running chain_info", function()
      local e = rpc_error('{"jsonrpc":"2.0","id":1,"method":"chain_info\\u0000evil"}')
      assert.equal(-32600, e.code)
      assert.matches("u0000", e.message, 1, true)
      assert_healthy()
    end)

    it("answers a body that is not UTF-8 with -32700 in valid JSON", function()
      local st, resp, raw = node:post('{"jsonrpc":"2.0","id":"\255","method":"\254\253"}')
      assert.equal(200, st)
      assert.is_nil(raw:find("[\128-\255]"), "the request's bytes came back: " .. raw)
      assert.is_table(resp, raw)
      assert.equal(-32700, resp.error.code)
      assert_healthy()
    end)

    it("answers an unknown path with HTTP 404 and a JSON error", function()
      local st, body = node:http("GET", "/no/such/route")
      assert.equal(404, st)
      assert.equal(-32601, support.decode_json(body).error.code)
      assert_healthy()
    end)
  end)

  describe("wrong param types", function()
    local cases = {
      { "block_get", '{"height":"x"}', "height" },
      { "block_get", '{"height":1.5}', "height" },
      { "block_get", '{"hash":5}', "hash" },
      { "block_get", '{}', "height" },
      { "tx_submit", '{"tx":5}', "tx" },
      { "tx_submit", '{}', "tx" },
      { "tx_get", '{"hash":7}', "hash" },
      { "tx_get", '{"hash":"zz"}', "hash" },
      { "contract_query", '{"contract":1,"method":"balance_of"}', "contract" },
      { "contract_query", '{"contract":"token","method":false}', "method" },
      { "contract_query", '{"contract":"token","method":"balance_of","args":"bob"}', "args" },
      { "contract_query", '{"contract":"token","method":"balance_of","args":[1.5]}', "args" },
      { "account_get", '{"account":[]}', "account" },
      { "account_get", '{"account":"Not A Name"}', "account" },
      { "state_get", '{"key":false}', "key" },
      { "state_get", '{"key":"0xabc"}', "key" },
    }
    for _, c in ipairs(cases) do
      local method, params, field = c[1], c[2], c[3]
      it(method .. " with " .. params .. " is -32602 invalid params naming " .. field, function()
        local e = rpc_error(call_body(method, params))
        assert.equal(-32602, e.code)
        assert.matches(field, e.message, 1, true)
        assert_healthy()
      end)
    end
  end)

  describe("tx_submit refusals", function()
    it("answers tx that is not base64 with -32602", function()
      local e = rpc_error(call_body("tx_submit", '{"tx":"!!!not base64!!!"}'))
      assert.equal(-32602, e.code)
      assert.matches("base64", e.message, 1, true)
      assert_healthy()
    end)

    it("answers base64 without padding with -32602", function()
      assert.equal(-32602, rpc_error(call_body("tx_submit", '{"tx":"wQ"}')).code)
      assert_healthy()
    end)

    local garbage = {
      { "\193", -32022, "EBADBYTE" },            -- 0xc1: never used in msgpack
      { "\146\001", -32010, "ETRUNC" },          -- an array of 2 with 1 item
      { "\001\002", -32011, "ETRAILING" },       -- an int, then a stray byte
      { "\203\063\240\000\000\000\000\000\000", -32013, "EFLOAT" },   -- float64 1.0
    }
    for _, g in ipairs(garbage) do
      it("answers msgpack " .. core.hex(g[1]) .. " with " .. g[2] .. " " .. g[3], function()
        local e = rpc_error(call_body("tx_submit", json.encode({ tx = support.base64(g[1]) })))
        assert.equal(g[2], e.code)
        assert.equal(g[3], e.data.name)
        assert.is_string(e.data.why)
        assert_healthy()
      end)
    end

    it("answers random bytes with a codec or malformed-transaction code", function()
      math.randomseed(20240611)
      for _ = 1, 20 do
        local t = {}
        for i = 1, 48 do t[i] = string.char(math.random(0, 255)) end
        local e = rpc_error(call_body("tx_submit", json.encode({ tx = support.base64(table.concat(t)) })))
        assert.is_true((e.code <= -32010 and e.code >= -32022) or e.code == -32040,
                       "code " .. tostring(e.code))
        assert.matches("^E[A-Z]+$", e.data.name)
      end
      assert_healthy()
    end)

    it("answers a tampered signature with -32030 EBADSIG", function()
      local bytes = node:tx("carol", { { contract = "token", method = "balance_of", args = { "bob" } } })
      -- The signature is the last 64 bytes of the canonical encoding.
      local last = bytes:byte(#bytes)
      local bad = bytes:sub(1, -2) .. string.char((last + 1) % 256)
      local res, e = node:submit(bad)
      assert.is_nil(res)
      assert.equal(-32030, e.code)
      assert.equal("EBADSIG", e.data.name)
      assert_healthy()
    end)

    it("answers a transaction for another chain with -32041 ECHAINID", function()
      local bytes = node:tx("carol", { { contract = "token", method = "balance_of", args = { "bob" } } },
                            { chain_id = "some-other-chain" })
      local res, e = node:submit(bytes)
      assert.is_nil(res)
      assert.equal(-32041, e.code)
      assert.equal("ECHAINID", e.data.name)
      assert.matches("some-other-chain", e.data.why, 1, true)
      assert_healthy()
    end)

    it("answers an unknown sender with -32044 ENOACCOUNT", function()
      local bytes = node:tx("nobody", { { contract = "token", method = "symbol", args = {} } },
                            { nonce = 0, sk = node:key("alice").sk })
      local res, e = node:submit(bytes)
      assert.is_nil(res)
      assert.equal(-32044, e.code)
      assert_healthy()
    end)

    it("answers the same transaction twice while pending with -32052 EKNOWN", function()
      -- nonce + 1 leaves a gap, so the transaction stays pending.
      local nonce = node:call("account_get", { account = "eve" }).nonce
      local bytes, id = node:tx("eve", { { contract = "token", method = "symbol", args = {} } },
                                { nonce = nonce + 1 })
      assert.equal(id, node:submit(bytes).hash)
      local res, e = node:submit(bytes)
      assert.is_nil(res)
      assert.equal(-32052, e.code)
      assert.equal("EKNOWN", e.data.name)
      assert.equal("pending", node:call("tx_get", { hash = id }).status)
      assert_healthy()
    end)

    it("answers a committed transaction sent again with -32042 ENONCE", function()
      local bytes, id = node:tx("bob", { { contract = "token", method = "symbol", args = {} } })
      assert.equal(id, node:submit(bytes).hash)
      node:wait_committed(id)
      local res, e = node:submit(bytes)
      assert.is_nil(res)
      assert.equal(-32042, e.code)
      assert.equal("ENONCE", e.data.name)
      assert_healthy()
    end)
  end)

  describe("execution", function()
    it("commits a call that runs out of gas with ok=false, the fee charged and the nonce used", function()
      local before = node:call("account_get", { account = "carol" })
      local got = node:send_wait("carol", "spinner", "spin", {}, { max_fee = 200000 })
      assert.equal("committed", got.status)
      assert.is_false(got.receipt.ok)
      assert.matches("out of gas", got.receipt.error, 1, true)
      assert.equal(200000, got.receipt.gas_used)
      local after = node:call("account_get", { account = "carol" })
      assert.equal(before.nonce + 1, after.nonce)
      assert.equal(before.balance - got.receipt.fee, after.balance)
      assert.is_true(got.receipt.fee > 0)
      assert_healthy()
    end)

    it("answers a query of a missing contract with -32063 ENOCODE", function()
      local res, e = node:rpc("contract_query", { contract = "nosuch", method = "x", args = {} })
      assert.is_nil(res)
      assert.equal(-32063, e.code)
      assert.equal("ENOCODE", e.data.name)
    end)

    it("answers a query of a missing method with -32064 ENOMETHOD", function()
      local res, e = node:rpc("contract_query", { contract = "token", method = "nope", args = {} })
      assert.is_nil(res)
      assert.equal(-32064, e.code)
    end)
  end)

  describe("batches", function()
    it("answers each call of a mixed batch by id and leaves notifications out", function()
      local st, resp, raw = node:post("[" .. table.concat({
        '{"jsonrpc":"2.0","id":1,"method":"chain_info"}',
        '{"jsonrpc":"2.0","method":"chain_info"}',                     -- notification
        '{"jsonrpc":"2.0","id":"b","method":"no_such_method"}',
        '5',
        '{"jsonrpc":"2.0","id":3,"method":"tx_get","params":{"hash":7}}',
        '{"jsonrpc":"2.0","method":"no_such_method"}',                 -- notification
      }, ",") .. "]")
      assert.equal(200, st)
      assert.is_table(resp, raw)
      assert.equal(4, #resp, raw)
      local by_id = {}
      for _, r in ipairs(resp) do by_id[r.id == nil and "null" or r.id] = r end
      assert.equal(chain_id, by_id[1].result.chain_id)
      assert.equal(-32601, by_id.b.error.code)
      assert.equal(-32600, by_id.null.error.code)
      assert.equal(-32602, by_id[3].error.code)
      assert_healthy()
    end)

    it("answers a batch of notifications only with HTTP 204 and no body", function()
      local st, _, raw = node:post('[{"jsonrpc":"2.0","method":"chain_info"},' ..
                                   '{"jsonrpc":"2.0","method":"account_get","params":{"account":"bob"}}]')
      assert.equal(204, st)
      assert.equal("", raw)
    end)

    it("answers a tx_submit inside a batch with its hash", function()
      local bytes, id = node:tx("dave", { { contract = "token", method = "symbol", args = {} } })
      local st, resp = node:post(json.encode({
        { jsonrpc = "2.0", id = 1, method = "tx_submit", params = { tx = support.base64(bytes) } },
        { jsonrpc = "2.0", id = 2, method = "chain_info" },
      }))
      assert.equal(200, st)
      local by_id = {}
      for _, r in ipairs(resp) do by_id[r.id] = r end
      assert.equal(id, by_id[1].result.hash)
      assert.equal(chain_id, by_id[2].result.chain_id)
      node:wait_committed(id)
    end)
  end)

  describe("happy paths", function()
    it("chain_info returns chain_id, height, head, consensus and state_root", function()
      local info = node:call("chain_info")
      assert.equal("lunet-dev", info.chain_id)
      assert.equal("poa", info.consensus)
      assert.is_number(info.height)
      assert.is_true(info.height >= 2)
      assert.matches("^%x+$", info.head)
      assert.equal(64, #info.head)
      assert.equal(64, #info.state_root)
      assert.equal(64, #info.fingerprint)
      assert.equal(core.fingerprint(), info.fingerprint)
      assert.is_number(info.mempool)
      assert.is_number(info.txs_committed)
    end)

    it("block_get by height and by hash return the same block, linked to its parent", function()
      local info = node:call("chain_info")
      local b = node:call("block_get", { height = info.height })
      assert.equal(info.head, b.hash)
      assert.equal(info.height, b.header.height)
      assert.equal(info.state_root, support.plain_hex(b.header.state_root))
      local same = node:call("block_get", { hash = b.hash })
      assert.same(b, same)
      local same0x = node:call("block_get", { hash = "0x" .. b.hash })
      assert.equal(b.hash, same0x.hash)
      local parent = node:call("block_get", { height = info.height - 1 })
      assert.equal(parent.hash, support.plain_hex(b.header.prev))
    end)

    it("block_get lists the block's transactions with their hashes", function()
      local got = node:send_wait("alice", "token", "transfer", { "carol", 3 })
      local b = node:call("block_get", { height = got.height })
      local found
      for _, t in ipairs(b.txs) do
        if t.hash == got.hash then found = t end
      end
      assert.is_table(found, "tx " .. got.hash .. " not in block " .. got.height)
      assert.equal("alice", found.account)
      assert.equal("transfer", found.actions[1].method)
      assert.same({ "carol", 3 }, found.actions[1].args)
    end)

    it("block_get of a height beyond the head is -32001 ENOTFOUND", function()
      local info = node:call("chain_info")
      local res, e = node:rpc("block_get", { height = info.height + 1000 })
      assert.is_nil(res)
      assert.equal(-32001, e.code)
      assert.equal("ENOTFOUND", e.data.name)
    end)

    it("tx_get goes from pending to committed with a receipt", function()
      local nonce = node:call("account_get", { account = "dave" }).nonce
      -- The second nonce first: it waits for the gap to fill.
      local id2 = node:send("dave", "token", "symbol", {}, { nonce = nonce + 1 })
      local pending = node:call("tx_get", { hash = id2 })
      assert.equal("pending", pending.status)
      assert.is_nil(pending.receipt)
      local id1 = node:send("dave", "token", "symbol", {}, { nonce = nonce })
      local c1 = node:wait_committed(id1)
      local c2 = node:wait_committed(id2)
      assert.equal("committed", c2.status)
      assert.is_true(c2.receipt.ok)
      assert.equal("LUN", c2.receipt.result)
      assert.is_true(c2.height >= c1.height)
      assert.equal("dave", c2.receipt.payer)
    end)

    it("tx_get with body: true adds the transaction, decoded as block_get shows it", function()
      local id = node:send("dave", "token", "transfer", { "bob", 2 })
      local got = node:wait_committed(id)
      assert.is_nil(got.tx)
      local full = node:call("tx_get", { hash = "0x" .. id, body = true })
      local blk = node:call("block_get", { height = full.height })
      local in_block
      for _, t in ipairs(blk.txs) do if t.hash == id then in_block = t end end
      assert.same(in_block, full.tx)
      assert.equal("dave", full.tx.account)
      assert.same({ "bob", 2 }, full.tx.actions[1].args)
      local bad = rpc_error(call_body("tx_get", '{"hash":"' .. id .. '","body":1}'))
      assert.equal(-32602, bad.code)
    end)

    it("tx_get of an unknown hash says unknown", function()
      local r = node:call("tx_get", { hash = string.rep("ab", 32) })
      assert.equal("unknown", r.status)
      assert.is_nil(r.receipt)
    end)

    it("contract_query returns the result and gas_used", function()
      node:send_wait("alice", "token", "transfer", { "bob", 10 })
      local r = node:call("contract_query", { contract = "token", method = "balance_of", args = { "bob" } })
      assert.is_true(r.result >= 10)
      assert.is_true(r.gas_used > 0)
      local s = node:call("contract_query", { contract = "token", method = "symbol" })
      assert.equal("LUN", s.result)
    end)

    it("account_get returns nonce, balance and permissions", function()
      local a = node:call("account_get", { account = "alice" })
      assert.equal("alice", a.account)
      assert.is_true(a.nonce >= 2)
      assert.is_number(a.balance)
      assert.is_table(a.permissions.owner)
      assert.is_table(a.permissions.active)
      local k = node:key("alice")
      assert.equal("0x" .. core.hex(k.pk), a.permissions.active.keys[1].key)
      local res, e = node:rpc("account_get", { account = "nobody" })
      assert.is_nil(res)
      assert.equal(-32001, e.code)
    end)

    it("state_get returns a value whose proof verifies against state_root", function()
      node:send_wait("alice", "token", "transfer", { "bob", 1 })
      local key = "stoken/bal:bob"
      local r = node:call("state_get", { key = key })
      local info = node:call("chain_info")
      assert.equal(info.state_root, r.state_root)
      local raw = core.unhex(support.plain_hex(r.raw))
      local proof = core.unhex(support.plain_hex(r.proof))
      assert.equal(r.value, core.decode(raw))
      assert.is_true(core.verify_proof(r.state_root, key, raw, proof))
      -- The proof is for that value only.
      assert.is_false(core.verify_proof(r.state_root, key, core.encode(r.value + 1), proof))
    end)

    it("state_get of an absent key returns null and a proof of absence", function()
      local key = "stoken/bal:nosuchacct"
      local r = node:call("state_get", { key = key })
      assert.is_nil(r.value)
      assert.is_nil(r.raw)
      local proof = core.unhex(support.plain_hex(r.proof))
      assert.is_true(core.verify_proof(r.state_root, key, nil, proof))
      assert.is_false(core.verify_proof(r.state_root, key, core.encode(1), proof))
    end)

    it("GET /c/token/balance_of?args=[\"bob\"] equals contract_query", function()
      local st, body = node:http("GET", "/c/token/balance_of?args=" .. support.urlencode('["bob"]'))
      assert.equal(200, st, body)
      local got = support.decode_json(body)
      local want = node:call("contract_query", { contract = "token", method = "balance_of", args = { "bob" } })
      assert.equal(want.result, got.result)
      assert.is_true(got.gas_used > 0)
    end)

    it("GET /c/ with args that are not a JSON array is HTTP 400 -32602", function()
      local st, body = node:http("GET", "/c/token/balance_of?args=bob")
      assert.equal(400, st)
      assert.equal(-32602, support.decode_json(body).error.code)
      assert_healthy()
    end)

    it("GET /metrics is Prometheus text with lunet_height at the head", function()
      local info = node:call("chain_info")
      local st, body, headers = node:http("GET", "/metrics")
      assert.equal(200, st)
      assert.matches("^text/plain", headers["content-type"])
      local h = tonumber(body:match("\nlunet_height (%d+)\n"))
      assert.is_number(h, body)
      assert.is_true(h >= info.height)
      assert.matches("# TYPE lunet_height gauge", body, 1, true)
      assert.matches("\nlunet_rpc_requests_total %d+\n", body)
    end)

    it("GET /health says ok and the height", function()
      local h = node:health()
      assert.is_true(h.ok)
      assert.is_true(h.height >= node:call("chain_info").height - 1)
    end)

    it("GET / returns the dashboard HTML", function()
      local st, body, headers = node:http("GET", "/")
      assert.equal(200, st)
      assert.matches("^text/html", headers["content-type"])
      assert.matches("<!doctype html>", body:lower(), 1, true)
      assert.matches("</html>", body:lower(), 1, true)
    end)

    it("GET /events delivers a block event and the contract's events when a block commits", function()
      local stream = node:events()
      finally(function() stream:close() end)
      assert.equal(200, stream.status)
      assert.matches("^text/event%-stream", stream.headers["content-type"])
      local id = node:send("alice", "token", "transfer", { "dave", 7 })
      local got = node:wait_committed(id)
      local b = stream:wait_for("block", function(d) return d.height == got.height end, 5)
      assert.is_table(b, "no block event for height " .. got.height)
      assert.equal(node:call("block_get", { height = got.height }).hash, b.data.hash)
      assert.is_true(b.data.txs >= 1)
      local ev = stream:wait_for("contract", function(d) return d.tx == id end, 5)
      assert.is_table(ev, "no contract event for tx " .. id)
      assert.equal("token", ev.data.contract)
      assert.equal("transfer", ev.data.name)
      assert.same({ from = "alice", to = "dave", amount = 7 }, ev.data.data)
    end)
  end)
end)

-- A node whose proposer looks at the mempool once a day: what is submitted
-- waits there, so account_get sees it pending for as long as the test runs.
describe("rpc account_get pending_nonce", function()
  local node

  lazy_setup(function()
    node = support.node({ name = "idle" }):start({ config = support.idle_config() })
  end)

  lazy_teardown(function() support.cleanup() end)

  local function transfer_tx(nonce)
    return node:send("carol", "sys", "transfer", { "bob", 1 }, { nonce = nonce })
  end

  it("counts the account's waiting transactions up to the first nonce gap", function()
    local a = node:call("account_get", { account = "carol" })
    assert.equal(0, a.nonce)
    assert.equal(0, a.pending_nonce)
    transfer_tx(1)                                      -- waits behind a gap
    assert.equal(0, node:call("account_get", { account = "carol" }).pending_nonce)
    transfer_tx(0)
    a = node:call("account_get", { account = "carol" })
    assert.equal(0, a.nonce)                          -- nothing committed
    assert.equal(2, a.pending_nonce)
    transfer_tx(3)                                      -- past a gap at 2
    assert.equal(2, node:call("account_get", { account = "carol" }).pending_nonce)
    transfer_tx(2)
    assert.equal(4, node:call("account_get", { account = "carol" }).pending_nonce)
    assert.equal(0, node:call("account_get", { account = "bob" }).pending_nonce)
    assert.equal(4, node:call("chain_info").mempool)
    assert.equal(0, node:call("chain_info").height)
  end)
end)

describe("rpc tx_estimate", function()
  local node

  lazy_setup(function()
    node = support.node({ name = "estimate" }):start({ config = support.idle_config() })
  end)

  lazy_teardown(function() support.cleanup() end)

  local function estimate(bytes)
    return node:rpc("tx_estimate", { tx = support.base64(bytes) })
  end

  it("runs a signed transaction as the next block would and keeps nothing", function()
    local before = node:call("chain_info")
    local bob = node:call("account_get", { account = "bob" })
    local bytes, id = node:tx("bob", { { contract = "sys", method = "transfer", args = { "carol", 5 } } })
    local r = assert(estimate(bytes))
    assert.is_true(r.included)
    assert.is_true(r.ok, r.error)
    assert.is_nil(r.code)
    assert.equal(id, r.hash)
    assert.is_true(r.gas_used > 0)
    assert.equal(r.gas_used, r.fee)
    assert.equal("bob", r.payer)
    local after = node:call("chain_info")
    assert.equal(before.state_root, after.state_root)
    assert.equal(0, after.mempool)
    assert.same(bob, node:call("account_get", { account = "bob" }))
    assert.equal("unknown", node:call("tx_get", { hash = id }).status)
    -- the same transaction submitted now costs what the dry run said
    assert(node:submit(bytes))
    assert.equal("pending", node:call("tx_get", { hash = id }).status)
  end)

  it("gives a failing call's error and its fee", function()
    local bytes = node:tx("eve", { { contract = "sys", method = "transfer", args = { "bob", 10 ^ 15 } } })
    local r = assert(estimate(bytes))
    assert.is_true(r.included)
    assert.is_false(r.ok)
    assert.matches("insufficient balance", r.error, 1, true)
    assert.is_true(r.fee > 0)
  end)

  it("says which check refuses a transaction, with included false", function()
    local bytes = node:tx("dave", { { contract = "sys", method = "transfer", args = { "bob", 1 } } },
                          { nonce = 7 })
    local r = assert(estimate(bytes))
    assert.is_false(r.included)
    assert.equal("ENONCE", r.code)
    assert.matches("nonce", r.error, 1, true)
  end)

  it("answers params that are not a transaction with -32602", function()
    local _, err = node:rpc("tx_estimate", { tx = "not base64!" })
    assert.equal(-32602, err.code)
    _, err = node:rpc("tx_estimate", {})
    assert.equal(-32602, err.code)
    local r = assert(node:rpc("tx_estimate", { tx = support.base64("garbage") }))
    assert.is_false(r.included)
    assert.is_string(r.code)
  end)
end)
