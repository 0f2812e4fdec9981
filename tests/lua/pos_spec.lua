-- tests/lua/pos_spec.lua -- proof of stake (consensus/pos.lua, core/valset.h):
-- the proposer by weighted round robin, the set elected by stake at genesis
-- and every epoch (in force two blocks later), sys.evidence slashing and
-- jailing a validator that signed two votes, and each input it refuses.

local testing = require "lunet.testing"
local core = require "lunet.core"
local pos = dofile("consensus/pos.lua")

local receipts = dofile("tests/lua/receipts.lua")
local ok, failed = receipts.ok, receipts.failed

local function counts(list)
  local c = {}
  for _, v in ipairs(list) do c[v] = (c[v] or 0) + 1 end
  return c
end

describe("pos - the proposer by weighted round robin", function()
  it("is exactly proportional to power over a cycle of total-power steps", function()
    local pw = { a = 3, b = 2, c = 1 }
    local c = counts(pos.proposers({ "a", "b", "c" }, pw, 6))
    assert.are.same({ a = 3, b = 2, c = 1 }, c)
    pw = { v1 = 700, v2 = 250, v3 = 49, v4 = 1 }
    c = counts(pos.proposers({ "v1", "v2", "v3", "v4" }, pw, 2 * 1000))
    assert.are.same({ v1 = 1400, v2 = 500, v3 = 98, v4 = 2 }, c)
  end)

  it("spreads a validator's turns over the cycle rather than in one run", function()
    local seq = pos.proposers({ "a", "b", "c" }, { a = 3, b = 2, c = 1 }, 6)
    assert.are.same({ "a", "b", "a", "c", "b", "a" }, seq)
  end)

  it("breaks ties by name and does not depend on the order it is given the set in", function()
    assert.are.same({ "a", "b", "c", "a", "b", "c" },
                    pos.proposers({ "c", "a", "b" }, { a = 1, b = 1, c = 1 }, 6))
    local pw = { n1 = 5, n2 = 9, n3 = 2, n4 = 9 }
    assert.are.same(pos.proposers({ "n1", "n2", "n3", "n4" }, pw, 100),
                    pos.proposers({ "n4", "n3", "n2", "n1" }, pw, 100))
  end)

  it("gives round r of a height the proposer r steps on", function()
    local names, pw = { "a", "b", "c", "d" }, { a = 10, b = 7, c = 3, d = 1 }
    local seq = pos.proposers(names, pw, 30)
    for steps = 1, 10 do
      for r = 0, 5 do
        assert.are.equal(seq[steps + r], pos.round_proposer(names, pw, steps, r))
      end
    end
  end)
end)

-- The set recorded in force at height h: { since, set = { {name, power} } }.
local function set_at(chain, h)
  local v = chain:get("v")
  if not v then return nil end
  local best
  for _, e in ipairs(core.decode(v)) do
    if e.from <= h then best = e end
  end
  return best
end

local function names(e)
  local out = {}
  for _, v in ipairs(e.set) do out[#out + 1] = v.name end
  return table.concat(out, ",")
end

local VALS = { "node0", "node1", "node2", "node3" }

local function pos_chain(params, stakes)
  return testing.chain {
    validators = VALS,
    stakes = stakes or { node0 = 400, node1 = 300, node2 = 200, node3 = 100 },
    consensus = { plugin = "consensus/pos.lua", params = params },
  }
end

describe("pos - the validator set by stake", function()
  it("starts with the top max_validators stakers, by name, power = stake", function()
    local chain = pos_chain({ max_validators = 3, epoch = 5 })
    local e = set_at(chain, 1)
    assert.are.equal(1, e.from)
    assert.are.same({ { name = "node0", power = 400 }, { name = "node1", power = 300 },
                      { name = "node2", power = 200 } }, e.set)
    assert.are.equal(400, chain:account("node0").stake)
  end)

  it("moves at an epoch boundary, in force two blocks later", function()
    local chain = pos_chain({ max_validators = 3, epoch = 5 })
    ok(chain:send("alice", "sys", "transfer", "node3", 1000000000))
    ok(chain:stake("node3", 250))                -- 350: above node2's 200
    while chain:height() < 4 do chain:advance(1) end
    assert.are.equal("node0,node1,node2", names(set_at(chain, 6)))
    chain:advance(1)                             -- block 5: the election
    assert.are.equal(5, chain:height())
    assert.are.equal("node0,node1,node2", names(set_at(chain, 6)))
    local e = set_at(chain, 7)
    assert.are.equal(7, e.from)
    assert.are.equal("node0,node1,node3", names(e))
    assert.are.equal(350, e.set[3].power)
    -- An unstake moves the set at the next boundary only.
    ok(chain:send("alice", "sys", "transfer", "node0", 1000000000))
    ok(chain:unstake("node0", 400))
    while chain:height() < 10 do chain:advance(1) end
    assert.are.equal("node0,node1,node3", names(set_at(chain, 11)))
    assert.are.equal("node1,node2,node3", names(set_at(chain, 12)))
  end)

  it("mints and bonds a validator's genesis stake, and refuses one that is not an amount", function()
    local chain = pos_chain({})
    assert.are.equal(1000, core.decode(chain:get("t")))
    assert.are.equal(0, chain:balance("node1"))
    for _, bad in ipairs({ -1, "5", true }) do
      local okc, err = pcall(pos_chain, {}, { node0 = 1, node1 = bad })
      assert.is_false(okc)
      assert.truthy(tostring(err):find("validators[2].stake must be a non-negative integer", 1, true),
                    tostring(err))
    end
  end)

  it("refuses a swap to pos with params out of range", function()
    local chain = testing.chain { validators = VALS, admin = "alice" }
    local code = assert(io.open("consensus/pos.lua")):read("*a")
    for _, c in ipairs({ { epoch = 0 }, { epoch = 1001 }, { max_validators = 65 },
                         { slash_percent = 101 }, { jail_blocks = 0 } }) do
      local r = chain:propose("alice", "plugin", { slot = "consensus", code = code, params = c,
                                                   at = chain:height() + 10 })
      assert.is_false(r.ok)
      local k = next(c)
      assert.truthy(r.error:find("params." .. k .. " must be an integer", 1, true), r.error)
    end
    assert.are.equal(0, #chain:pending())
  end)

  it("falls back to every validator with power 1 when nobody has stake", function()
    local chain = pos_chain({ epoch = 5 }, {})
    assert.are.same({ { name = "node0", power = 1 }, { name = "node1", power = 1 },
                      { name = "node2", power = 1 }, { name = "node3", power = 1 } },
                    set_at(chain, 1).set)
  end)

  it("is not recorded under another consensus plugin", function()
    local chain = testing.chain { validators = VALS, stakes = { node0 = 5 } }
    chain:advance(1)
    assert.is_nil(chain:get("v"))
  end)

  it("is elected from the swap's height when a live chain swaps to pos, and dropped when it swaps away", function()
    local chain = testing.chain { validators = VALS, admin = "alice",
                                  stakes = { node0 = 50, node1 = 40, node2 = 30, node3 = 20 } }
    local code = assert(io.open("consensus/pos.lua")):read("*a")
    local at = chain:height() + 3
    ok(chain:propose("alice", "plugin", { slot = "consensus", code = code, at = at,
                                          params = { max_validators = 2, epoch = 5 } }))
    while chain:height() + 2 < at do chain:advance(1) end
    assert.is_nil(chain:get("v"))
    chain:advance(1)                             -- block at - 1: the swap and the election
    assert.are.equal("pos", chain:plugin("consensus").name)
    local e = set_at(chain, at)
    assert.are.equal(at, e.from)
    assert.are.equal("node0,node1", names(e))
    local poa = assert(io.open("consensus/poa.lua")):read("*a")
    local back = chain:height() + 3
    ok(chain:propose("alice", "plugin", { slot = "consensus", code = poa, at = back }))
    while chain:height() + 1 < back do chain:advance(1) end
    assert.are.equal("poa", chain:plugin("consensus").name)
    assert.is_nil(chain:get("v"))
  end)

  it("makes the same state root on two chains from one genesis", function()
    local a, b = pos_chain({ epoch = 2 }), pos_chain({ epoch = 2 })
    for _, c in ipairs({ a, b }) do
      ok(c:send("alice", "sys", "transfer", "node3", 1000000000))
      ok(c:stake("node3", 999))
      c:advance(4)
    end
    assert.are.equal(a:root(), b:root())
  end)
end)

describe("pos - evidence of double signing (sys.evidence)", function()
  local A = string.rep("a", 64)
  local B = string.rep("b", 64)

  local function vote(chain, who, t, h, r, hash)
    return core.sign(chain.keys[who].sk, string.format("lunet-pos|%s|%d|%d|%s", t, h, r, hash))
  end

  -- Evidence of `who` signing pv A and B at height h round 0.
  local function evidence(chain, who, h)
    return { validator = who, height = h, round = 0, type = "pv",
             a = { hash = A, sig = core.hex(vote(chain, who, "pv", h, 0, A)) },
             b = { hash = B, sig = core.hex(vote(chain, who, "pv", h, 0, B)) } }
  end

  local function chain_of()
    local chain = pos_chain({ epoch = 5, slash_percent = 10, jail_blocks = 20 },
                            { node0 = 1000, node1 = 1000, node2 = 1000, node3 = 1000 })
    chain:advance(2)
    return chain
  end

  it("slashes (burns) slash_percent of the stake, jails, and takes it out of the set", function()
    local chain = chain_of()
    local r = ok(chain:send("bob", "sys", "evidence", evidence(chain, "node1", 2)))
    local h = chain:height()
    assert.are.equal(900, chain:account("node1").stake)
    assert.are.equal(3900, core.decode(chain:get("t")))
    assert.are.same({ name = "slash", contract = "sys",
                      data = { slashed = 100, ["until"] = h + 20, validator = "node1" } }, r.events[1])
    assert.are.same({ at = h, ["until"] = h + 20 }, core.decode(chain:get("jnode1")))
    assert.are.equal("node0,node2,node3", names(set_at(chain, h + 1)))
    -- Jailed: not elected at the next boundaries until the jail ends.
    while chain:height() < 15 do chain:advance(1) end
    assert.are.equal("node0,node2,node3", names(set_at(chain, 17)))
    while chain:height() < h + 20 + 5 do chain:advance(1) end
    assert.truthy(names(set_at(chain, chain:height() + 2)):find("node1", 1, true))
  end)

  it("takes the burned stake out of the producers the validator voted for", function()
    local chain = chain_of()
    ok(chain:send("alice", "sys", "transfer", "node1", 1000000000))
    ok(chain:vote_producers("node1", { "node2", "node3" }))
    assert.are.equal(1000, core.decode(chain:get("Vnode2")))
    ok(chain:send("bob", "sys", "evidence", evidence(chain, "node1", 2)))
    assert.are.equal(900, core.decode(chain:get("Vnode2")))
    assert.are.equal(900, core.decode(chain:get("Vnode3")))
  end)

  it("takes signatures as 64 raw bytes too", function()
    local chain = chain_of()
    local e = evidence(chain, "node2", 1)
    e.a.sig, e.b.sig = core.unhex(e.a.sig), core.unhex(e.b.sig)
    ok(chain:send("bob", "sys", "evidence", e))
    assert.are.equal(900, chain:account("node2").stake)
  end)

  it("refuses the same evidence twice, and older evidence of a punished validator (EEXIST)", function()
    local chain = chain_of()
    ok(chain:send("bob", "sys", "evidence", evidence(chain, "node1", 2)))
    failed(chain:send("bob", "sys", "evidence", evidence(chain, "node1", 2)), "EEXIST",
           "node1 was punished at block")
    failed(chain:send("carol", "sys", "evidence", evidence(chain, "node1", 1)), "EEXIST",
           "punished at block")
    assert.are.equal(900, chain:account("node1").stake)
  end)

  it("refuses evidence that proves nothing, each with its code", function()
    local chain = chain_of()
    local function case(mod, code, text)
      local e = evidence(chain, "node1", 2)
      mod(e)
      failed(chain:send("bob", "sys", "evidence", e), code, text)
    end
    failed(chain:send("bob", "sys", "evidence", "x"), "EINVAL", "e must be {validator")
    case(function(e) e.height = nil end, "EINVAL", "height must be a non-negative integer")
    case(function(e) e.type = "prop" end, "EINVAL", "type must be a string")
    case(function(e) e.type = "pp" end, "EINVAL", "type must be pv or pc")
    case(function(e) e.a = "x" end, "EINVAL", "a must be {hash, sig}")
    case(function(e) e.a.hash = "xyz" end, "EINVAL", "a.hash must be 64 hex digits")
    case(function(e) e.b.sig = "00" end, "EINVAL", "b.sig must be 64 bytes or 128 hex digits")
    -- the same block twice: no double signing
    case(function(e) e.b = e.a end, "EINVAL", "both votes are for the same block")
    -- one signature bad, or by another validator's key
    case(function(e) e.b.sig = core.hex(vote(chain, "node2", "pv", 2, 0, B)) end, "EBADSIG",
         "vote b is not signed by node1's key")
    -- two votes of different heights: b's signature is not of this height
    case(function(e) e.b.sig = core.hex(vote(chain, "node1", "pv", 1, 0, B)) end, "EBADSIG",
         "vote b is not signed")
    -- of different types
    case(function(e) e.a.sig = core.hex(vote(chain, "node1", "pc", 2, 0, A)) end, "EBADSIG",
         "vote a is not signed")
    case(function(e) e.validator = "alice" end, "ENOTFOUND", "alice is not a validator")
    case(function(e) e.height = 99 end, "EINVAL", "height 99 is not a block below")
    assert.are.equal(1000, chain:account("node1").stake)
    assert.is_nil(chain:get("jnode1"))
  end)

  it("is refused when the consensus plugin in force is not pos", function()
    local chain = testing.chain { validators = VALS }
    chain:advance(2)
    failed(chain:send("bob", "sys", "evidence", evidence(chain, "node1", 2)), "EINVAL",
           "the consensus plugin in force is not pos")
  end)
end)
