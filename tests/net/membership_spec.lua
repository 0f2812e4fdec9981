-- tests/net/membership_spec.lua -- membership changed by transactions of the
-- genesis admin, with real processes. A runs `lunet dev` on configs/dev.lua
-- plus admin = "alice" (and fixed keys, so that B can share the genesis). B
-- (`lunet start --peer A`) has a node key that is not a member: A refuses it
-- at the handshake until alice's sys.addmember commits; then B connects and
-- syncs. sys.addvalidator names a validator whose key B holds: it shows in
-- chain_info and B proposes its turns. removevalidator and removemember undo
-- that, and A drops B.

local support = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "support.lua")
local core = support.core

local function keyfile(home, name, pk, sk)
  support.write_key(home .. "/keys/" .. name .. ".key", name, pk, sk)
end

-- Lua source of a config value (strings, integers, booleans, tables).
local function to_lua(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" then return tostring(v) end
  local parts = {}
  for _, x in ipairs(v) do parts[#parts + 1] = to_lua(x) end
  local keys = {}
  for k in pairs(v) do if type(k) == "string" then keys[#keys + 1] = k end end
  table.sort(keys)
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. " = " .. to_lua(v[k]) end
  return "{ " .. table.concat(parts, ", ") .. " }"
end

local function head(node)
  local info = node:call("chain_info")
  return info.height, info.head
end

-- A line of `log` (a node's log since a mark) that says the node refused
-- hex's key at the handshake just then: not a count of earlier ones.
local function refusal(log, hex)
  for line in log:gmatch("[^\n]+") do
    if line:find("refused " .. hex:sub(1, 16), 1, true) and not line:find("more like it", 1, true) then
      return line
    end
  end
end

local function has(list, x)
  for _, y in ipairs(list or {}) do if y == x then return true end end
  return false
end

describe("membership", function()
  local a, b, config, b_hex, v1_hex

  lazy_setup(function()
    a = support.node({ name = "a" })
    b = support.node({ name = "b" })
    -- configs/dev.lua, with admin = "alice", every key fixed and a genesis time.
    local cfg = dofile(support.CONFIG)
    cfg.admin = "alice"
    cfg.genesis_time = 1700000000
    cfg.consensus.plugin = support.ROOT .. "/" .. cfg.consensus.plugin
    for _, acct in ipairs(cfg.accounts) do
      local pk, sk = core.keypair()
      acct.key = core.hex(pk)
      keyfile(a.home, acct.name, pk, sk)
    end
    for i, name in ipairs(cfg.validators) do
      local pk, sk = core.keypair()
      cfg.validators[i] = { name = name, key = core.hex(pk) }
      keyfile(a.home, name, pk, sk)
    end
    config = support.run_dir() .. "/membership.lua"
    support.write_file(config, "return " .. to_lua(cfg) .. "\n")
    local b_pk, b_sk = core.keypair()        -- B's node key: nobody's yet
    local v1_pk, v1_sk = core.keypair()      -- the validator v1 that B will be
    keyfile(b.home, "node", b_pk, b_sk)
    keyfile(b.home, "v1", v1_pk, v1_sk)
    b_hex, v1_hex = core.hex(b_pk), core.hex(v1_pk)
  end)

  lazy_teardown(function() support.cleanup() end)

  local function same_head(what)
    return support.wait_until(150, 100, function()
      local h1, hash1 = head(a)
      local h2, hash2 = head(b)
      return h1 == h2 and hash1 == hash2 and h1
    end, function()
      return string.format("%s: A at %s, B at %s; B's log:\n%s", what, tostring(head(a)),
                           tostring(head(b)), b:log_tail(15))
    end)
  end

  local function sys(method, args)
    local got = a:send_wait("alice", "sys", method, args)
    assert.is_true(got.receipt.ok, method .. ": " .. tostring(got.receipt.error))
    -- Through the governance contract: the proposal's transitions, and the
    -- membership event of the action itself.
    local names = {}
    for _, e in ipairs(got.receipt.events) do names[e.name] = true end
    assert.is_true(names[method], method .. " emitted no " .. method .. " event")
    assert.is_true(names.proposal)
    return got
  end

  it("membership - a node whose key is not a member is refused at the handshake", function()
    a:start({ config = config })
    local info = a:call("chain_info")
    assert.equal("alice", info.admin)
    assert.same({}, info.members)
    b:start({ command = "start", config = config, args = { "--peer", "127.0.0.1:" .. a.p2p } })
    assert.equal(a:call("block_get", { height = 0 }).hash, b:call("block_get", { height = 0 }).hash)
    support.wait_until(50, 100, function()
      return a:log_tail(50):find("refused " .. b_hex:sub(1, 16), 1, true)
    end, "A never refused B:\n" .. a:log_tail(10))
    a:send_wait("alice", "sys", "transfer", { "bob", 1 })
    -- B dials again after the block exists and is refused again: then it
    -- has had its chance to sync, and did not
    local mark = a:log_mark()
    support.wait_until(100, 100, function() return refusal(a:log_since(mark), b_hex) end,
                       function() return "A never refused B after the block:\n" .. a:log_tail(10) end)
    assert.equal(0, (head(b)))
    assert.is_nil(b:log_tail(50):find("p2p: peer [^\n]* up"), "B had a peer up:\n" .. b:log_tail(10))
  end)

  it("membership - a non-admin's addmember is committed as a failure and changes nothing", function()
    local got = a:send_wait("bob", "sys", "addmember", { b_hex })
    assert.is_false(got.receipt.ok)
    assert.matches("only the admin alice may change membership, not bob", got.receipt.error)
    assert.same({}, a:call("chain_info").members)
  end)

  it("membership - after alice's sys.addmember commits, the node connects and syncs to the same head", function()
    sys("addmember", { b_hex })
    assert.same({ b_hex }, a:call("chain_info").members)
    local h = same_head("B never caught up after addmember")
    assert.is_true(h >= 2)
    assert.same({ b_hex }, b:call("chain_info").members)
  end)

  it("membership - addvalidator shows in chain_info validators, and the node holding its key proposes its turns", function()
    local got = sys("addvalidator", { "v1", v1_hex })
    assert.same({ "node0", "v1" }, a:call("chain_info").validators)
    same_head("B never applied addvalidator")
    assert.same({ "node0", "v1" }, b:call("chain_info").validators)
    assert.truthy(b:log_tail(50):find("this node validates as v1", 1, true), b:log_tail(10))
    -- Turns alternate: of a few blocks, B (v1) proposes some.
    for i = 1, 4 do a:send_wait("alice", "sys", "transfer", { "bob", i }) end
    local by_v1 = 0
    for h = got.height + 1, (head(a)) do
      local blk = a:call("block_get", { height = h })
      if blk.header.proposer == "v1" then by_v1 = by_v1 + 1 end
    end
    assert.is_true(by_v1 > 0, "no block proposed by v1 after height " .. got.height)
  end)

  it("membership - removevalidator and removemember: the node stops validating, is dropped and left behind", function()
    sys("removevalidator", { "v1" })
    assert.same({ "node0" }, a:call("chain_info").validators)
    same_head("B never applied removevalidator")
    assert.truthy(b:log_tail(50):find("no longer validates", 1, true), b:log_tail(10))
    sys("removemember", { b_hex })
    assert.same({}, a:call("chain_info").members)
    support.wait_until(50, 100, function()
      return a:log_tail(80):find("down: peer is not a member", 1, true)
    end, "A never dropped B:\n" .. a:log_tail(10))
    a:send_wait("alice", "sys", "transfer", { "bob", 1 })
    local mark = a:log_mark()
    support.wait_until(100, 100, function() return refusal(a:log_since(mark), b_hex) end,
                       function() return "A never refused B after the block:\n" .. a:log_tail(10) end)
    assert.is_true((head(b)) < (head(a)), "B still follows A")
  end)

  it("membership - genesis refuses an admin that is not one of the accounts or validators", function()
    for i, case in ipairs({
      { 'admin = "zed"', "config: admin zed is not in accounts or validators" },
      { "admin = 5", "config: admin must be the name of an account in accounts or validators" },
    }) do
      local cfg = support.run_dir() .. "/bad-admin.lua"
      support.write_file(cfg, (support.read_file(config):gsub('admin = "alice"', case[1])))
      local home = support.run_dir() .. "/bad-admin-" .. i
      local code, _, err = support.lunet({ "init", "--home", home, "--config", cfg })
      assert.equal(1, code)
      assert.equal("lunet init: " .. case[2] .. "\n", err)
    end
  end)

  it("membership - genesis refuses a chain id that is not plain printable text, and sys as a name", function()
    local base = support.read_file(config)
    local chain_msg = "config: chain_id must be 1-64 printable ASCII characters, no space, quote or backslash"
    for i, case in ipairs({
      { base:gsub('chain_id = "[^"]*"', 'chain_id = "x\\nerror()"'), chain_msg },
      { base:gsub('chain_id = "[^"]*"', 'chain_id = "two words"'), chain_msg },
      { base:gsub('name = "alice"', 'name = "sys"', 1), "config: accounts[1].name must be an account name (not sys, gov or treasury)" },
    }) do
      local cfg = support.run_dir() .. "/bad-genesis-" .. i .. ".lua"
      support.write_file(cfg, case[1])
      local home = support.run_dir() .. "/bad-genesis-" .. i
      local code, _, err = support.lunet({ "init", "--home", home, "--config", cfg })
      assert.equal(1, code)
      assert.equal("lunet init: " .. case[2] .. "\n", err)
    end
  end)
end)
