-- tests/net/gov_spec.lua -- `lunet gov` run as processes against a real
-- `lunet dev` (configs/dev.lua: admin alice, one validator node0): propose,
-- show and list under admin.lua, the refusals (exit codes and one-line
-- messages), a live consensus swap poa -> bft, then the governance plugin
-- swapped for stake.lua, where vote, execute and cancel do their work.
-- The tests of a describe run in order on one node.

local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")
local core = support.core

local HEX64 = "^" .. string.rep("%x", 64) .. "$"

-- The value of a `name  value` line of the CLI's plain output.
local function field(out, name)
  return out:match("\n" .. name .. "%s+([^\n]*)") or out:match("^" .. name .. "%s+([^\n]*)")
end

local function one_line_error(err, cmd)
  assert.matches("^lunet " .. cmd .. ": [^\n]+\n$", err)
end

local function gov(node, ...)
  return node:cli("gov", ...)
end

-- Sends transfers (blocks come with transactions on the dev chain) until
-- the head is at least height.
local function drive_to(node, height)
  support.wait_until(200, 0, function()
    if node:call("chain_info").height >= height then return true end
    node:send_wait("bob", "sys", "transfer", { "carol", 1 })
  end, "the dev chain never reached height " .. height)
end

describe("lunet gov", function()
  local node

  lazy_setup(function()
    node = support.node({ name = "gov" }):start()
  end)

  lazy_teardown(function() support.cleanup() end)

  describe("help", function()
    it("gov --help lists the subcommands, and each subcommand has its own", function()
      local code, out = gov(node, "--help")
      assert.equal(0, code)
      for _, sub in ipairs({ "propose", "vote", "execute", "cancel", "list", "show" }) do
        assert.matches("\n  " .. sub .. " ", out, 1, true)
        local c, o = gov(node, sub, "--help")
        assert.equal(0, c)
        assert.matches("^usage: lunet gov " .. sub, o)
      end
      local _, o = gov(node, "propose", "--help")
      assert.matches("plugin SLOT FILE", o, 1, true)
      assert.matches("--at +N|H", o, 1, true)
      _, o = gov(node, "vote", "--help")
      assert.is_nil(o:find("--at", 1, true))
    end)
  end)

  describe("under admin.lua", function()
    it("propose param is carried out at once and prints the proposal", function()
      local code, out, err = gov(node, "propose", "param", "swap_delay", "3", "--as", "alice")
      assert.equal(0, code, err)
      assert.equal("1", field(out, "proposal"))
      assert.equal("param", field(out, "kind"))
      assert.equal("executed", field(out, "status"))
      local tx = field(out, "tx")
      assert.matches(HEX64, tx)
      assert.is_true(node:call("tx_get", { hash = tx }).receipt.ok)
    end)

    it("show prints the record and its body; list a row per proposal", function()
      local code, out, err = gov(node, "show", "1")
      assert.equal(0, code, err)
      assert.equal("1", field(out, "id"))
      assert.equal("alice", field(out, "proposer"))
      assert.equal("swap_delay", field(out, "name"))
      assert.equal("3", field(out, "value"))
      code, out, err = gov(node, "list")
      assert.equal(0, code, err)
      assert.matches("^ID%s+KIND%s+STATUS%s+PROPOSER%s+SUMMARY\n", out)
      assert.matches("\n1%s+param%s+executed%s+alice%s+swap_delay = 3\n", out)
      code, out = gov(node, "list", "voting")
      assert.equal(0, code)
      assert.equal("no proposals voting\n", out)
    end)

    it("--json prints the records, and propose --json the receipt with the proposal", function()
      local code, out = gov(node, "list", "--json")
      assert.equal(0, code)
      local v = support.decode_json(out)
      assert.equal(1, #v)
      assert.equal("executed", v[1].status)
      code, out = gov(node, "show", "1", "--json")
      assert.equal(0, code)
      assert.equal(3, support.decode_json(out).body.value)
      code, out = gov(node, "propose", "member", "add", string.rep("ab", 32), "--as", "alice", "--json")
      assert.equal(0, code)
      v = support.decode_json(out)
      assert.equal("committed", v.status)
      assert.equal(2, v.receipt.result)
      assert.equal("executed", v.proposal.status)
      assert.equal(string.rep("ab", 32), v.proposal.body.key)
      assert.same({ string.rep("ab", 32) }, node:call("chain_info").members)
    end)

    it("refuses what the policy refuses: exit 1 and the policy's reason on one line", function()
      local cases = {
        { { "propose", "param", "swap_delay", "4", "--as", "bob" }, "only the admin alice may decide, not bob" },
        { { "propose", "spend", "bob", "5", "--as", "alice" }, "the treasury holds 0, not 5" },
        { { "propose", "param", "no_such", "1", "--as", "alice" }, "no_such is no chain param" },
        { { "vote", "1", "yes", "--as", "alice" }, "admin.lua has no votes" },
        { { "execute", "1", "--as", "alice" }, "proposal 1 is executed" },
      }
      local before = node:call("chain_info").height
      for _, c in ipairs(cases) do
        local code, _, err = gov(node, unpack(c[1]))
        assert.equal(1, code, c[2])
        one_line_error(err, "gov " .. c[1][1])
        assert.matches(c[2], err, 1, true)
      end
      -- Each refusal is a committed transaction that changed nothing else.
      assert.is_true(node:call("chain_info").height >= before + #cases)
      local _, out = gov(node, "list", "--json")
      assert.equal(2, #support.decode_json(out))
    end)

    it("refuses bad command lines before sending anything: exit 2", function()
      local before = node:call("account_get", { account = "alice" }).nonce
      local cases = {
        { { "propose", "nope", "x", "--as", "alice" }, "unknown KIND 'nope'" },
        { { "propose", "member", "add", "xyz", "--as", "alice" }, "'xyz' is not a node key" },
        { { "propose", "spend", "bob", "0", "--as", "alice" }, "AMOUNT must be a positive integer" },
        { { "propose", "param", "swap_delay", "3", "--at", "+5", "--as", "alice" }, "--at is for plugin proposals" },
        { { "propose", "plugin", "consensus", "consensus/bft.lua", "--params", "[1]", "--as", "alice" },
          "--params wants a JSON object" },
        { { "propose", "plugin", "nowhere", "consensus/bft.lua", "--as", "alice" }, "'nowhere' is no plugin slot" },
        { { "propose", "plugin", "consensus", "consensus/bft.lua", "--at", "soon", "--as", "alice" },
          "--at wants a height H or +N" },
        { { "propose", "param", "swap_delay", "3" }, "--as ACCOUNT is required" },
        { { "vote", "1", "maybe", "--as", "alice" }, "'maybe' is no choice" },
        { { "vote", "x", "yes", "--as", "alice" }, "'x' is not a proposal id" },
        { { "list", "pending" }, "'pending' is no status" },
        { { "show" }, "show wants one ID" },
        { { "frob" }, "unknown subcommand 'frob'" },
        { {}, "which? propose" },
      }
      for _, c in ipairs(cases) do
        local code, out, err = gov(node, unpack(c[1]))
        assert.equal(2, code, c[2])
        assert.equal("", out)
        assert.matches(c[2], err, 1, true)
        assert.matches("^lunet gov[^\n]*%(see lunet gov[^\n]* %-%-help%)\n$", err)
      end
      assert.equal(before, node:call("account_get", { account = "alice" }).nonce)
    end)

    it("show of a proposal that does not exist, and a plugin file that is not there, exit 1", function()
      local code, out, err = gov(node, "show", "99")
      assert.equal(1, code)
      assert.equal("", out)
      assert.equal("lunet gov show: no proposal 99\n", err)
      code, _, err = gov(node, "propose", "plugin", "consensus", "/nonexistent/x.lua", "--as", "alice")
      assert.equal(1, code)
      one_line_error(err, "gov propose")
      assert.matches("/nonexistent/x.lua", err, 1, true)
    end)

    it("swaps consensus poa -> bft live: propose plugin --at +5, and blocks go on under bft", function()
      local head = node:call("chain_info").height
      local code, out, err = gov(node, "propose", "plugin", "consensus", support.ROOT .. "/consensus/bft.lua",
                                 "--at", "+5", "--as", "alice")
      assert.equal(0, code, err)
      assert.equal("executed", field(out, "status"))
      local id = field(out, "proposal")
      code, out = gov(node, "show", id)
      assert.equal(0, code)
      assert.equal(tostring(head + 5), field(out, "at"))
      local src = support.read_file(support.ROOT .. "/consensus/bft.lua")
      assert.equal("bft, " .. #src .. " bytes, hash " .. core.hex(core.hash(src)), field(out, "code"))
      assert.is_nil(out:find("Tendermint", 1, true))       -- not the source
      assert.equal("poa", node:call("chain_info").consensus)
      drive_to(node, head + 5)
      assert.equal("bft", node:call("chain_info").consensus)
      local r = node:send_wait("alice", "sys", "transfer", { "dave", 1 })
      assert.is_true(r.receipt.ok)
      assert.matches("consensus: bft in force from height " .. (head + 5), node:log_tail(200), 1, true)
    end)
  end)

  describe("under stake.lua", function()
    local treasury_fund = 1000

    it("the admin swaps the governance plugin for stake.lua", function()
      local head = node:call("chain_info").height
      local code, _, err = gov(node, "propose", "plugin", "governance",
                               support.ROOT .. "/plugins/governance/stake.lua", "--at", "+3",
                               "--params", '{"voting_blocks":8,"deposit":500}', "--as", "alice")
      assert.equal(0, code, err)
      drive_to(node, head + 3)
      local _, out = node:cli("query", "gov", "policy", "--json")
      assert.equal("stake", support.decode_json(out).result.name)
      -- node0, the one validator, pays for its votes; the treasury holds something to spend.
      node:send_wait("alice", "sys", "transfer", { "node0", 10 ^ 9 })
      node:send_wait("bob", "sys", "transfer", { "treasury", treasury_fund })
    end)

    local id

    it("anyone proposes with a deposit; only validators vote while nobody stakes", function()
      local code, out, err = gov(node, "propose", "spend", "eve", "100", "--memo", "audit", "--as", "bob")
      assert.equal(0, code, err)
      assert.equal("voting", field(out, "status"))
      id = field(out, "proposal")
      assert.equal(500, node:call("account_get", { account = "gov" }).balance)
      local _, e
      code, _, e = gov(node, "vote", id, "yes", "--as", "carol")
      assert.equal(1, code)
      assert.matches("only validators vote while nobody stakes: carol is not one", e, 1, true)
      code, out, err = gov(node, "vote", id, "yes", "--as", "node0")
      assert.equal(0, code, err)
      assert.equal("voting", field(out, "status"))
      code, _, e = gov(node, "vote", id, "no", "--as", "node0")
      assert.equal(1, code)
      assert.matches("node0 voted yes on proposal " .. id .. " already", e, 1, true)
      code, out = gov(node, "list", "voting")
      assert.equal(0, code)
      assert.matches("\n" .. id .. "%s+spend%s+voting%s+bob%s+100 to eve: audit\n", out)
    end)

    it("execute waits for the end of voting, then takes the tally and carries the spend out", function()
      local code, _, err = gov(node, "execute", id, "--as", "carol")
      assert.equal(1, code)
      assert.matches("the tally comes after it", err, 1, true)
      local _, out = gov(node, "show", id, "--json")
      drive_to(node, support.decode_json(out).ends + 1)
      local eve = node:call("account_get", { account = "eve" }).balance
      local out2
      code, out2, err = gov(node, "execute", id, "--as", "carol")
      assert.equal(0, code, err)
      assert.equal("executed", field(out2, "status"))
      assert.equal(eve + 100, node:call("account_get", { account = "eve" }).balance)
      assert.equal(treasury_fund - 100, node:call("account_get", { account = "treasury" }).balance)
      assert.equal(0, node:call("account_get", { account = "gov" }).balance)   -- the deposit went back
    end)

    it("cancel withdraws the proposer's own proposal and no one else's", function()
      local code, out, err = gov(node, "propose", "param", "swap_delay", "5", "--as", "dave")
      assert.equal(0, code, err)
      local pid = field(out, "proposal")
      local e
      code, _, e = gov(node, "cancel", pid, "--as", "bob")
      assert.equal(1, code)
      assert.matches("only dave may cancel proposal " .. pid, e, 1, true)
      code, out, err = gov(node, "cancel", pid, "--as", "dave")
      assert.equal(0, code, err)
      assert.equal("cancelled", field(out, "status"))
      assert.equal("cancelled by dave", field(out, "why"))
    end)
  end)
end)
