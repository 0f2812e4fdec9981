-- tests/net/cli_spec.lua -- the lunet client commands (keys, deploy, send,
-- query, tx, block, info) run as processes against a real `lunet dev` on
-- loopback: what they print, --json, and one-line errors with exit codes.

local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")
local json = support.json

local HEX64 = "^" .. string.rep("%x", 64) .. "$"

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

-- The value of a `name  value` line of the CLI's plain output.
local function field(out, name)
  return out:match("\n" .. name .. "%s+([^\n]*)") or out:match("^" .. name .. "%s+([^\n]*)")
end

-- stderr is one line "lunet CMD: ..." ending in a newline.
local function assert_one_line_error(err, cmd)
  assert.matches("^lunet " .. cmd .. ": [^\n]+\n$", err)
end

describe("cli", function()
  local node

  lazy_setup(function()
    node = support.node({ name = "cli" }):start()
  end)

  lazy_teardown(function() support.cleanup() end)

  describe("keys", function()
    it("keys new writes a 0600 key file and prints its public key", function()
      local code, out, err = node:cli("keys", "new", "zed")
      assert.equal(0, code, err)
      local pk = trim(out)
      assert.matches(HEX64, pk)
      local path = node.home .. "/keys/zed.key"
      local k = support.decode_json(assert(support.read_file(path)))
      assert.equal("zed", k.account)
      assert.equal(pk, k.public_key)
      assert.equal(128, #k.secret_key)
      assert.equal("600", support.sh("stat -c %a " .. support.quote(path)))
    end)

    it("keys new refuses to overwrite a key file", function()
      local before = support.read_file(node.home .. "/keys/alice.key")
      local code, _, err = node:cli("keys", "new", "alice")
      assert.equal(1, code)
      assert_one_line_error(err, "keys")
      assert.equal(before, support.read_file(node.home .. "/keys/alice.key"))
    end)

    it("keys list prints every account with its public key", function()
      local code, out = node:cli("keys", "list")
      assert.equal(0, code)
      for _, name in ipairs({ "alice", "bob", "carol", "dave", "eve" }) do
        local pk = support.core.hex(node:key(name).pk)
        assert.matches("\n?" .. name .. "%s+" .. pk, out)
      end
    end)

    it("keys list --json parses as JSON", function()
      local code, out = node:cli("keys", "list", "--json")
      assert.equal(0, code)
      local v = support.decode_json(out)
      assert.is_table(v, out)
      assert.matches(support.core.hex(node:key("bob").pk), out, 1, true)
    end)

    it("keys show prints the public key and never the secret key", function()
      local k = node:key("alice")
      local code, out = node:cli("keys", "show", "alice")
      assert.equal(0, code)
      assert.equal(support.core.hex(k.pk), trim(out))
      assert.is_nil(out:find(support.core.hex(k.sk), 1, true))
    end)

    it("keys show of a missing key file exits 1 with one line naming the file", function()
      local code, out, err = node:cli("keys", "show", "nobody")
      assert.equal(1, code)
      assert.equal("", out)
      assert_one_line_error(err, "keys")
      assert.matches("nobody.key", err, 1, true)
    end)
  end)

  describe("transactions", function()
    local deploy_hash

    it("deploy runs init and prints the committed receipt", function()
      local code, out, err = node:cli("deploy", "token", support.ROOT .. "/contracts/token.lua",
                                      "LUN", "1000000", "--as", "alice")
      assert.equal(0, code, err)
      assert.equal("committed", field(out, "status"))
      assert.equal("true", field(out, "ok"))
      deploy_hash = field(out, "hash")
      assert.matches(HEX64, deploy_hash)
      assert.equal("committed", node:call("tx_get", { hash = deploy_hash }).status)
    end)

    it("send waits for the receipt and query then prints 10", function()
      local code, out, err = node:cli("send", "token", "transfer", "bob", "10", "--as", "alice")
      assert.equal(0, code, err)
      assert.equal("committed", field(out, "status"))
      assert.equal("true", field(out, "ok"))
      assert.matches('"to":"bob"', out, 1, true)
      code, out, err = node:cli("query", "token", "balance_of", "bob")
      assert.equal(0, code, err)
      assert.equal("10\n", out)
    end)

    it("send --no-wait prints only the hash, which then commits", function()
      local code, out, err = node:cli("send", "token", "transfer", "carol", "5", "--as", "alice", "--no-wait")
      assert.equal(0, code, err)
      local hash = trim(out)
      assert.matches(HEX64, hash)
      local got = node:wait_committed(hash)
      assert.is_true(got.receipt.ok)
    end)

    it("send --json prints the tx_get answer as JSON", function()
      local code, out, err = node:cli("send", "token", "transfer", "dave", "4", "--as", "alice", "--json")
      assert.equal(0, code, err)
      local v = support.decode_json(out)
      assert.is_table(v, out)
      assert.equal("committed", v.status)
      assert.is_true(v.receipt.ok)
      assert.equal(node:call("tx_get", { hash = v.hash }).height, v.height)
    end)

    it("send of a call that fails exits 1 with one line and prints the receipt", function()
      local code, out, err = node:cli("send", "token", "transfer", "alice", "5", "--as", "eve")
      assert.equal(1, code)
      assert.equal("false", field(out, "ok"))
      assert_one_line_error(err, "send")
      assert.matches("insufficient balance", err, 1, true)
    end)

    it("tx HASH prints the status, height and receipt", function()
      local code, out, err = node:cli("tx", deploy_hash)
      assert.equal(0, code, err)
      assert.equal(deploy_hash, field(out, "hash"))
      assert.equal("committed", field(out, "status"))
      assert.equal("1", field(out, "height"))
    end)

    it("tx HASH --json parses as JSON", function()
      local code, out = node:cli("tx", deploy_hash, "--json")
      assert.equal(0, code)
      local v = support.decode_json(out)
      assert.equal("committed", v.status)
      assert.equal(1, v.height)
    end)

    it("query --json prints result and gas_used", function()
      local code, out = node:cli("query", "token", "symbol", "--json")
      assert.equal(0, code)
      local v = support.decode_json(out)
      assert.equal("LUN", v.result)
      assert.is_true(v.gas_used > 0)
    end)
  end)

  describe("chain", function()
    it("info prints the chain id and the node's height", function()
      local info = node:call("chain_info")
      local code, out = node:cli("info")
      assert.equal(0, code)
      assert.equal("lunet-dev", field(out, "chain_id"))
      assert.equal(info.head, field(out, "head"))
      assert.equal(tostring(info.height), field(out, "height"))
    end)

    it("info --json parses as JSON and equals chain_info", function()
      local code, out = node:cli("info", "--json")
      assert.equal(0, code)
      local v = support.decode_json(out)
      local info = node:call("chain_info")
      assert.equal(info.chain_id, v.chain_id)
      assert.equal(info.head, v.head)
    end)

    it("block without a height prints the head block", function()
      local info = node:call("chain_info")
      local code, out = node:cli("block", "--json")
      assert.equal(0, code)
      local v = support.decode_json(out)
      assert.equal(info.head, v.hash)
      assert.equal(info.height, v.header.height)
    end)

    it("block 1 holds the deploy transaction", function()
      local code, out = node:cli("block", "1", "--json")
      assert.equal(0, code)
      local v = support.decode_json(out)
      assert.equal(1, v.header.height)
      assert.equal("deploy", v.txs[1].actions[1].method)
      code, out = node:cli("block", "1")
      assert.equal(0, code)
      assert.matches(v.hash, out, 1, true)
    end)
  end)

  describe("errors", function()
    it("query of an unknown contract exits 1 with one line naming it", function()
      local code, out, err = node:cli("query", "nosuch", "balance_of", "bob")
      assert.equal(1, code)
      assert.equal("", out)
      assert_one_line_error(err, "query")
      assert.matches("nosuch", err, 1, true)
    end)

    it("an argument 1.5 is a usage error: exit 2, one line naming the argument", function()
      local info = node:call("chain_info")
      local code, out, err = node:cli("send", "token", "transfer", "bob", "1.5", "--as", "alice")
      assert.equal(2, code)
      assert.equal("", out)
      assert.matches("^lunet send: [^\n]*1%.5[^\n]*\n$", err)
      assert.equal(info.height, node:call("chain_info").height)
    end)

    it("send as an account without a key file exits 1 with one line naming the file", function()
      local code, out, err = node:cli("send", "token", "transfer", "bob", "1", "--as", "nokey")
      assert.equal(1, code)
      assert.equal("", out)
      assert_one_line_error(err, "send")
      assert.matches("nokey.key", err, 1, true)
    end)

    it("a block beyond the head exits 1 with one line", function()
      local code, _, err = node:cli("block", "999999")
      assert.equal(1, code)
      assert_one_line_error(err, "block")
    end)

    it("a hash that is not 64 hex digits is a usage error", function()
      local code, _, err = node:cli("tx", "xyz")
      assert.equal(2, code)
      assert_one_line_error(err, "tx")
    end)

    local offline = { { "info" }, { "query", "token", "symbol" }, { "block" },
                      { "send", "token", "transfer", "bob", "1", "--as", "alice" } }
    for _, args in ipairs(offline) do
      it(args[1] .. " with no node running exits 1 with one line saying it cannot connect", function()
        local port = support.free_port()
        local a = {}
        for i, x in ipairs(args) do a[i] = x end
        a[#a + 1] = "--rpc"
        a[#a + 1] = "http://127.0.0.1:" .. port
        a[#a + 1] = "--home"
        a[#a + 1] = node.home
        local code, out, err = support.lunet(a)
        assert.equal(1, code)
        assert.equal("", out)
        assert_one_line_error(err, args[1])
        assert.matches("cannot connect", err, 1, true)
      end)
    end
  end)
end)

-- A node that never proposes: what is sent waits in its mempool.
describe("cli send --no-wait", function()
  local node

  lazy_setup(function()
    node = support.node({ name = "cli-idle" }):start({ config = support.idle_config() })
  end)

  lazy_teardown(function() support.cleanup() end)

  it("takes the nonce after the account's waiting transactions, so sends in a row all wait", function()
    local hashes = {}
    for i = 1, 3 do
      local code, out, err = node:cli("send", "sys", "transfer", "bob", tostring(i), "--as", "carol", "--no-wait")
      assert.equal(0, code, err)
      hashes[i] = trim(out)
      assert.matches(HEX64, hashes[i])
    end
    for _, h in ipairs(hashes) do assert.equal("pending", node:call("tx_get", { hash = h }).status) end
    local a = node:call("account_get", { account = "carol" })
    assert.equal(0, a.nonce)
    assert.equal(3, a.pending_nonce)
    assert.equal(3, node:call("chain_info").mempool)
  end)
end)
