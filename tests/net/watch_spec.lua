-- tests/net/watch_spec.lua -- `lunet dev --watch` on a project folder: an
-- edited contract is upgraded in place by the dev node (code replaced,
-- storage kept, init not run again) and its spec runs again; code that
-- does not compile is not sent; an edited spec runs; a contract no key of
-- the home holds is left alone, and each step is logged. An edited plugin
-- file of the config's slots is swapped through governance (the admin's
-- gov.propose) at the next heights, with no transaction of ours; one that
-- does not compile or load is not proposed; a policy's refusal is logged.

local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")
local q = support.quote

-- Waits until node's log has, since mark, a line matching each pattern in
-- turn; returns what it logged.
local function wait_log_of(node, mark, pats, what)
  return support.wait_until(150, 100, function()
    local log, at = node:log_since(mark), 1
    for _, p in ipairs(pats) do
      local s, e = log:find(p, at)
      if not s then return nil end
      at = e + 1
    end
    return log
  end, function() return what .. ":\n" .. node:log_since(mark) end)
end

-- Replaces from with to in the file dir .. file, which must have it; the new text.
local function edit_file(dir, file, from, to)
  local path = dir .. file
  local text = support.read_file(path)
  local out = text:gsub(from, to)
  assert(out ~= text, file .. " has no " .. from)
  support.write_file(path, out)
  return out
end

describe("dev --watch", function()
  local node, dir

  lazy_setup(function()
    dir = support.run_dir() .. "/project"
    os.execute("mkdir -p " .. q(dir) .. " && cd " .. q(dir) .. " && " .. q(support.BIN) ..
               " new counter >/dev/null")
    assert(support.read_file(dir .. "/contracts/counter.lua"), "lunet new wrote no contract")
    node = support.node({ name = "watch" })
    node:start({ cwd = dir, args = { "--watch" } })
    support.wait_until(50, 100, function() return node:log_tail(20):find("watch: contracts", 1, true) end,
                       function() return "the node never said it watches:\n" .. node:log_tail(10) end)
  end)

  lazy_teardown(function() support.cleanup() end)

  -- lunet ARGS... in the project folder against the node.
  local function cli(...)
    local parts = { "cd", q(dir), "&&", q(support.BIN) }
    for _, a in ipairs({ ... }) do parts[#parts + 1] = q(a) end
    for _, a in ipairs({ "--rpc", node.url, "--home", node.home }) do parts[#parts + 1] = q(a) end
    local out = dir .. "/.out"
    local a, _, c = os.execute(table.concat(parts, " ") .. " >" .. q(out) .. " 2>&1 </dev/null")
    return type(a) == "number" and a / 256 or c, support.read_file(out) or ""
  end

  local function wait_log(mark, pats, what) return wait_log_of(node, mark, pats, what) end
  local function edit(file, from, to) return edit_file(dir .. "/contracts/", file, from, to) end

  it("upgrades an edited contract in place: code replaced, storage kept, init not run", function()
    local code, out = cli("deploy", "counter", "contracts/counter.lua", "0", "--as", "alice")
    assert.equal(0, code, out)
    code, out = cli("send", "counter", "bump", "3", "--as", "bob")
    assert.equal(0, code, out)
    local mark = node:log_mark()
    -- a new method, and an init that would leave a mark if it ran again
    edit("counter.lua", "\nreturn M\n", "\nfunction M.double(account) return 2 * _count(account) end\n" ..
         'function M.inits() return storage.get("inits") or 0 end\nreturn M\n')
    edit("counter.lua", 'storage%.set%("start", start%)',
         'storage.set("start", start) storage.set("inits", (storage.get("inits") or 0) + 1)')
    local log = wait_log(mark, { "watch: upgrading counter from contracts/counter%.lua %(signed by alice%)",
                                 "watch: counter upgraded at height %d+: code replaced, storage kept",
                                 "watch: lunet test contracts/counter_spec%.lua",
                                 "watch: contracts/counter_spec%.lua passed" },
                         "the dev node never upgraded counter and ran its spec")
    assert.matches("lunet test: 3 passed, 0 failed", log, 1, true)
    assert.equal(3, node:call("contract_query", { contract = "counter", method = "count", args = { "bob" } }).result)
    assert.equal(6, node:call("contract_query", { contract = "counter", method = "double", args = { "bob" } }).result)
    assert.equal(0, node:call("contract_query", { contract = "counter", method = "inits", args = {} }).result)
    local text = support.read_file(dir .. "/contracts/counter.lua")
    assert.equal(support.core.hex(support.core.hash(text)),
                 node:call("account_get", { account = "counter" }).code_hash)
  end)

  it("does not send code that does not compile, and logs its file and line", function()
    local mark = node:log_mark()
    local nonce = node:call("account_get", { account = "alice" }).pending_nonce
    local good = support.read_file(dir .. "/contracts/counter.lua")
    support.write_file(dir .. "/contracts/counter.lua", "local M = {}\nfunction M.f( end\nreturn M\n")
    wait_log(mark, { "warn  watch: contracts/counter%.lua does not compile, counter not upgraded: " ..
                     "contracts/counter%.lua:2: ",
                     "watch: contracts/counter_spec%.lua failed %(exit 1%)" },
             "the dev node never refused the broken contract")
    assert.equal(nonce, node:call("account_get", { account = "alice" }).pending_nonce)
    assert.equal(6, node:call("contract_query", { contract = "counter", method = "double", args = { "bob" } }).result)
    -- put back: the chain runs this code already, so only the spec runs
    mark = node:log_mark()
    support.write_file(dir .. "/contracts/counter.lua", good)
    wait_log(mark, { "watch: contracts/counter%.lua changed; counter runs this code already",
                     "watch: contracts/counter_spec%.lua passed" }, "the restored file was not seen")
  end)

  it("runs an edited spec again", function()
    local mark = node:log_mark()
    edit("counter_spec.lua", 'it%("starts every account at the init value"', 'it("starts at the init value"')
    wait_log(mark, { "watch: contracts/counter_spec%.lua changed",
                     "watch: lunet test contracts/counter_spec%.lua",
                     "watch: contracts/counter_spec%.lua passed" }, "the edited spec never ran")
  end)

  it("leaves a contract that no key of the home holds, and says so", function()
    support.write_file(dir .. "/contracts/held.lua", "return { f = function() return 1 end }\n")
    local code, out = cli("deploy", "held", "contracts/held.lua", "--as", "alice")
    assert.equal(0, code, out)
    local pk = support.core.keypair(support.core.hash("a key this home does not have"))
    local auth = string.format('{"threshold":1,"keys":[{"key":"%s","weight":1}]}', support.core.hex(pk))
    for _, perm in ipairs({ "active", "owner" }) do   -- owner would satisfy active too
      code, out = cli("send", "sys", "updateauth", "held", perm, auth, "--as", "alice")
      assert.equal(0, code, out)
    end
    local mark = node:log_mark()
    support.write_file(dir .. "/contracts/held.lua", "return { f = function() return 2 end }\n")
    wait_log(mark, { "warn  watch: contracts/held%.lua changed, but no key in [^\n]*/keys holds held@active: not upgraded" },
             "the dev node never said it could not upgrade held")
    assert.equal(1, node:call("contract_query", { contract = "held", method = "f", args = {} }).result)
  end)

  it("is for lunet dev only", function()
    local code, _, err = support.lunet({ "start", "--home", node.home, "--watch" })
    assert.equal(2, code)
    assert.matches("--watch is for lunet dev", err, 1, true)
  end)
end)

describe("dev --watch, plugin files", function()
  local node, dir

  lazy_setup(function()
    dir = support.run_dir() .. "/plugins-project"
    -- the working directory's copies feed the slots (genesis looks there first)
    for _, f in ipairs({ "consensus/poa.lua", "plugins/pricing/flat.lua", "plugins/governance/admin.lua" }) do
      os.execute("mkdir -p " .. q(dir .. "/" .. f:match("^(.*)/")))
      support.write_file(dir .. "/" .. f, assert(support.read_file(support.ROOT .. "/" .. f)))
    end
    node = support.node({ name = "watch-plugins" })
    node:start({ cwd = dir, args = { "--watch" } })
    support.wait_until(50, 100, function()
      return node:log_tail(20):find("watch: plugins/governance/admin.lua: the governance plugin", 1, true)
    end, function() return "the node never said it watches the plugin files:\n" .. node:log_tail(10) end)
  end)

  lazy_teardown(function() support.cleanup() end)

  local function wait_log(mark, pats, what) return wait_log_of(node, mark, pats, what) end
  local function edit(file, from, to) return edit_file(dir .. "/", file, from, to) end

  local function hash_hex(text) return support.core.hex(support.core.hash(text)) end

  -- Waits until chain_info says slot runs text; returns its entry.
  local function wait_plugin(slot, text)
    return support.wait_until(100, 100, function()
      local p = node:call("chain_info").plugins[slot]
      return p.hash == hash_hex(text) and p
    end, function()
      return slot .. " never ran the edited file:\n" .. node:log_tail(15)
    end)
  end

  it("swaps an edited consensus plugin at the next heights, with no transaction of ours", function()
    local mark = node:log_mark()
    local text = edit("consensus/poa.lua", 'local M = { VERSION = "1%.0", NAME = "poa" }',
                      '-- edited live\nlocal M = { VERSION = "1.1", NAME = "poa" }')
    local log = wait_log(mark, { "watch: proposing the consensus swap to poa from consensus/poa%.lua at %d+ %(signed by alice%)",
                                 "watch: consensus/poa%.lua changed: consensus swap to poa scheduled at %d+",
                                 "consensus: poa in force from height %d+ %(loaded in",
                                 "watch: consensus/poa%.lua in force from height %d+" },
                         "the dev node never swapped the edited consensus plugin")
    local at = tonumber(log:match("scheduled at (%d+)"))
    assert.equal(at, tonumber(log:match("consensus: poa in force from height (%d+)")))
    local p = wait_plugin("consensus", text)
    assert.equal(at, p.since)
    assert.equal("poa", p.name)
    assert.same({ block_ms = 50, empty_blocks = false }, p.params)   -- the params in force, kept
    assert.same({}, node:call("chain_info").pending)
    -- the chain goes on under the new code
    local r = node:send_wait("bob", "sys", "transfer", { "carol", 5 })
    assert.is_true(r.receipt.ok)
    assert.is_true(r.height >= at)
  end)

  it("swaps an edited pricing plugin: the fees follow", function()
    local before = node:send_wait("bob", "sys", "transfer", { "carol", 5 }).receipt
    assert.equal(before.gas_used, before.fee)   -- flat.lua: 1 per gas
    local mark = node:log_mark()
    local text = edit("plugins/pricing/flat.lua", "pricing%.params%.price or 1", "pricing.params.price or 3")
    wait_log(mark, { "watch: plugins/pricing/flat%.lua changed: pricing swap to flat scheduled at %d+",
                     "watch: plugins/pricing/flat%.lua in force from height %d+" },
             "the dev node never swapped the edited pricing plugin")
    wait_plugin("pricing", text)
    local after = node:send_wait("bob", "sys", "transfer", { "carol", 5 }).receipt
    assert.is_true(after.ok)
    assert.equal(3 * after.gas_used, after.fee)
  end)

  it("proposes nothing for a plugin file that does not compile, and logs its line", function()
    local nonce = node:call("account_get", { account = "alice" }).pending_nonce
    local good = support.read_file(dir .. "/plugins/pricing/flat.lua")
    local mark = node:log_mark()
    support.write_file(dir .. "/plugins/pricing/flat.lua", "local M = {}\nfunction M.charge( end\nreturn M\n")
    wait_log(mark, { "warn  watch: plugins/pricing/flat%.lua does not compile, nothing proposed: " ..
                     "plugins/pricing/flat%.lua:2: " }, "the dev node never refused the broken plugin")
    assert.same({}, node:call("chain_info").pending)
    assert.equal(nonce, node:call("account_get", { account = "alice" }).pending_nonce)
    assert.equal(hash_hex(good), node:call("chain_info").plugins.pricing.hash)
    mark = node:log_mark()
    support.write_file(dir .. "/plugins/pricing/flat.lua", good)
    wait_log(mark, { "watch: plugins/pricing/flat%.lua changed; the pricing slot runs this code already" },
             "the restored file was not seen")
  end)

  it("proposes nothing for a plugin file that does not load as its slot's", function()
    local nonce = node:call("account_get", { account = "alice" }).pending_nonce
    local good = support.read_file(dir .. "/consensus/poa.lua")
    local mark = node:log_mark()
    support.write_file(dir .. "/consensus/poa.lua", 'return { NAME = "poa" }\n')
    wait_log(mark, { "warn  watch: consensus/poa%.lua does not load as the consensus plugin, nothing " ..
                     "proposed: the code's table has no function init" },
             "the dev node never refused a plugin without init")
    assert.same({}, node:call("chain_info").pending)
    assert.equal(nonce, node:call("account_get", { account = "alice" }).pending_nonce)
    mark = node:log_mark()
    support.write_file(dir .. "/consensus/poa.lua", good)
    wait_log(mark, { "watch: consensus/poa%.lua changed; the consensus slot runs this code already" },
             "the restored file was not seen")
  end)

  it("logs the policy's refusal from the receipt", function()
    -- the governance file now holds the council policy: the admin's swap passes
    local mark = node:log_mark()
    local council = assert(support.read_file(support.ROOT .. "/plugins/governance/council.lua"))
    support.write_file(dir .. "/plugins/governance/admin.lua", council)
    wait_log(mark, { "watch: plugins/governance/admin%.lua in force from height %d+" },
             "the dev node never swapped the governance plugin")
    assert.equal("council", node:call("contract_query", { contract = "gov", method = "policy", args = {} }).result.name)
    -- under the council only validators propose: alice's proposal fails
    mark = node:log_mark()
    edit("plugins/pricing/flat.lua", "pricing%.params%.price or 3", "pricing.params.price or 5")
    wait_log(mark, { "warn  watch: plugins/pricing/flat%.lua changed: the pricing swap was refused: " ..
                     "[^\n]*only validators propose in the council: alice is not one" },
             "the dev node never logged the council's refusal")
    assert.same({}, node:call("chain_info").pending)
    local r = node:send_wait("bob", "sys", "transfer", { "carol", 5 }).receipt
    assert.equal(3 * r.gas_used, r.fee)
  end)
end)

describe("dev --watch, a chain without an admin", function()
  lazy_teardown(function() support.cleanup() end)

  it("has nobody to propose a swap: it says so and sends nothing", function()
    local dir = support.run_dir() .. "/no-admin"
    os.execute("mkdir -p " .. q(dir .. "/plugins/pricing"))
    local flat = assert(support.read_file(support.ROOT .. "/plugins/pricing/flat.lua"))
    support.write_file(dir .. "/plugins/pricing/flat.lua", flat)
    local cfg = support.read_file(support.CONFIG):gsub('\n%s*admin = "alice",[^\n]*', "")
    assert(not cfg:find("admin =", 1, true), "configs/dev.lua kept its admin")
    support.write_file(dir .. "/no-admin.lua", cfg)
    local node = support.node({ name = "watch-no-admin" })
    node:start({ cwd = dir, config = dir .. "/no-admin.lua", args = { "--watch" } })
    support.wait_until(50, 100, function()
      return node:log_tail(20):find("watch: plugins/pricing/flat.lua: the pricing plugin", 1, true)
    end, function() return "the node never said it watches flat.lua:\n" .. node:log_tail(10) end)
    local mark = node:log_mark()
    support.write_file(dir .. "/plugins/pricing/flat.lua", flat:gsub("pricing%.params%.price or 1", "pricing.params.price or 2"))
    support.wait_until(100, 100, function()
      return node:log_since(mark):find("warn  watch: plugins/pricing/flat.lua changed, but the chain names no admin " ..
                                       "to propose the swap: nothing sent", 1, true)
    end, function() return "the node never said nobody proposes:\n" .. node:log_since(mark) end)
    assert.same({}, node:call("chain_info").pending)
    for _, name in ipairs({ "alice", "node0" }) do
      assert.equal(0, node:call("account_get", { account = name }).pending_nonce)
    end
    assert.equal(0, node:call("chain_info").height)
  end)
end)
