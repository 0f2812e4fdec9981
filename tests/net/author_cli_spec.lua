-- tests/net/author_cli_spec.lua -- the client commands a contract author
-- leans on, as processes against a real `lunet dev`: fees from a dry run,
-- errors named by file and line, deploy's compile check, lunet account,
-- lunet tx with the transaction's body, and hashes with or without 0x.

local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")

local HEX64 = "^" .. string.rep("%x", 64) .. "$"

local BUG = [[
local M = {}
function M.init() storage.set("n", 0) end
function M.bump() storage.set("n", storage.get("n") + 1) return storage.get("n") end
function M.boom()
  storage.set("n", -1)
  error("boom")
end
return M
]]

local function field(out, name)
  return out:match("\n" .. name .. "%s+([^\n]*)") or out:match("^" .. name .. "%s+([^\n]*)")
end

local function fields(out, name)
  local all = {}
  for v in ("\n" .. out):gmatch("\n" .. name .. "%s+([^\n]*)") do all[#all + 1] = v end
  return all
end

describe("author cli", function()
  local node, dir

  lazy_setup(function()
    node = support.node({ name = "author" }):start()
    dir = support.run_dir() .. "/project"
    os.execute("mkdir -p " .. support.quote(dir .. "/contracts"))
    support.write_file(dir .. "/contracts/bug.lua", BUG)
  end)

  lazy_teardown(function() support.cleanup() end)

  -- `lunet ARGS...` run in the project folder, against the node.
  local function cli(...)
    local args = { ... }
    local parts = { "cd", support.quote(dir), "&&", support.quote(support.BIN) }
    for _, a in ipairs(args) do parts[#parts + 1] = support.quote(a) end
    for _, a in ipairs({ "--rpc", node.url, "--home", node.home }) do parts[#parts + 1] = support.quote(a) end
    local out, err = dir .. "/.out", dir .. "/.err"
    local a, _, c = os.execute(table.concat(parts, " ") .. " >" .. support.quote(out) .. " 2>" ..
                               support.quote(err) .. " </dev/null")
    local code = type(a) == "number" and a / 256 or c
    return code, support.read_file(out) or "", support.read_file(err) or ""
  end

  describe("deploy", function()
    it("refuses a file that does not compile, naming file and line, and sends nothing", function()
      support.write_file(dir .. "/contracts/bad.lua", "local M = {}\nfunction M.f( return 1 end\nreturn M\n")
      local before = node:call("account_get", { account = "alice" })
      local code, out, err = cli("deploy", "bad", "contracts/bad.lua", "--as", "alice")
      assert.equal(1, code)
      assert.equal("", out)
      assert.matches("^lunet deploy: contracts/bad%.lua:2: [^\n]+%(nothing was sent%)\n$", err)
      local after = node:call("account_get", { account = "alice" })
      assert.equal(before.nonce, after.nonce)
      assert.equal(before.pending_nonce, after.pending_nonce)
      assert.is_nil(node:rpc("account_get", { account = "bad" }))
    end)

    it("a failed call of code deployed from a file names the file and line", function()
      local code, out, err = cli("deploy", "bug", "contracts/bug.lua", "--as", "alice")
      assert.equal(0, code, err)
      assert.equal("true", field(out, "ok"))
      code, out, err = cli("send", "bug", "boom", "--as", "alice")
      assert.equal(1, code)
      assert.equal("contracts/bug.lua:6: boom", field(out, "error"))
      assert.matches("failed: contracts/bug%.lua:6: boom\n$", err)
      -- the chain's own text is the account's: --json shows it as it is
      code, out = cli("send", "bug", "boom", "--as", "alice", "--json")
      assert.equal(1, code)
      assert.equal("bug:6: boom", support.decode_json(out).receipt.error)
      -- lunet tx of it names the file too
      code, out = cli("tx", support.decode_json(out).hash)
      assert.equal(0, code)
      assert.equal("contracts/bug.lua:6: boom", field(out, "error"))
    end)

    it("names the account again once its code is no longer the file's", function()
      local got = node:deploy_source("alice", "bug", BUG .. "-- changed\n")
      assert.is_true(got.receipt.ok, got.receipt.error)
      local code, out = cli("send", "bug", "boom", "--as", "alice")
      assert.equal(1, code)
      assert.equal("bug:6: boom", field(out, "error"))
    end)
  end)

  describe("fees", function()
    it("send takes max_fee from a dry run, so an account with a small balance can send", function()
      local code, out, err = cli("keys", "new", "small")
      assert.equal(0, code, err)
      local hex = out:match("%x+")
      assert.is_true(node:send_wait("alice", "sys", "newaccount", { "small", hex }).receipt.ok)
      assert.is_true(node:send_wait("alice", "sys", "transfer", { "small", 5000 }).receipt.ok)
      code, out, err = cli("send", "sys", "transfer", "bob", "1", "--as", "small")
      assert.equal(0, code, err)
      assert.equal("true", field(out, "ok"))
      local got = node:call("tx_get", { hash = field(out, "hash"), body = true })
      local fee = got.receipt.fee
      assert.equal(fee + math.floor(fee / 2) + 1000, got.tx.max_fee)
      assert.equal(5000 - 1 - fee, node:call("account_get", { account = "small" }).balance)
    end)

    it("an explicit --max-fee wins over the dry run", function()
      local code, out, err = cli("send", "bug", "bump", "--as", "alice", "--max-fee", "77777")
      assert.equal(0, code, err)
      local got = node:call("tx_get", { hash = field(out, "hash"), body = true })
      assert.equal(77777, got.tx.max_fee)
    end)
  end)

  describe("reads", function()
    it("account prints balance, nonces, permissions and the code hash", function()
      local a = node:call("account_get", { account = "bug" })
      local code, out, err = cli("account", "bug")
      assert.equal(0, code, err)
      assert.equal("bug", field(out, "account"))
      assert.equal(tostring(a.balance), field(out, "balance"))
      assert.equal(tostring(a.nonce), field(out, "nonce"))
      assert.equal(tostring(a.pending_nonce), field(out, "pending_nonce"))
      assert.equal("threshold 1: alice@active (weight 1)", field(out, "active"))
      assert.equal("threshold 1: alice@active (weight 1)", field(out, "owner"))
      assert.equal(a.code_hash, field(out, "code_hash"))
      code, out = cli("account", "alice")
      assert.equal(0, code)
      assert.matches("^threshold 1: key %x+ %(weight 1%)$", field(out, "active"))
      assert.equal("none (no contract)", field(out, "code_hash"))
    end)

    it("account --json is account_get's answer; an unknown account exits 1", function()
      local code, out = cli("account", "bug", "--json")
      assert.equal(0, code)
      local v = support.decode_json(out)
      assert.equal(node:call("account_get", { account = "bug" }).code_hash, v.code_hash)
      local code2, _, err = cli("account", "nobody")
      assert.equal(1, code2)
      assert.matches("^lunet account: [^\n]*nobody[^\n]*\n$", err)
      local code3 = cli("account")
      assert.equal(2, code3)
    end)

    it("tx shows the transaction: sender, nonce, max_fee, signatures, actions with arguments", function()
      local code, out, err = cli("send", "sys", "transfer", "bob", "3", "--as", "carol")
      assert.equal(0, code, err)
      local hash = field(out, "hash")
      local body = node:call("tx_get", { hash = hash, body = true }).tx
      code, out = cli("tx", hash)
      assert.equal(0, code)
      assert.equal("carol", field(out, "sender"))
      assert.equal(tostring(body.nonce), field(out, "nonce"))
      assert.equal(tostring(body.max_fee), field(out, "max_fee"))
      assert.equal("1", field(out, "signatures"))
      assert.same({ 'sys.transfer("bob", 3)' }, fields(out, "action"))
      assert.equal("true", field(out, "ok"))
      -- a deploy's source is shown cut, with its length
      local dep = node:deploy_source("alice", "bug2", BUG)
      code, out = cli("tx", dep.hash)
      assert.matches('^sys%.deploy%("bug2", "local M = {}\\nfunction.-%.%.%." %(' .. #BUG .. ' bytes%)%)$',
                     fields(out, "action")[1])
    end)

    it("tx and block take a hash with or without 0x, and a block's prev pastes into block", function()
      local info = node:call("chain_info")
      local code, out = cli("block")
      assert.equal(0, code)
      local prev = field(out, "prev")
      assert.matches("^0x%x+$", prev)
      code, out = cli("block", prev)
      assert.equal(0, code, out)
      assert.equal(tostring(info.height - 1), field(out, "height"))
      code, out = cli("block", "0X" .. info.head:upper())
      assert.equal(0, code)
      assert.equal(info.head, field(out, "hash"))
      local tx = node:call("block_get", { height = info.height }).txs[1].hash
      assert.matches(HEX64, tx)
      for _, h in ipairs({ tx, "0x" .. tx, tx:upper() }) do
        code, out = cli("tx", h)
        assert.equal(0, code, h)
        assert.equal(tx, field(out, "hash"))
      end
      assert.equal(2, (cli("tx", "0x" .. tx:sub(3))))
    end)
  end)
end)
