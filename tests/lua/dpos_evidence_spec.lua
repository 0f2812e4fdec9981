-- tests/lua/dpos_evidence_spec.lua -- evidence of double signing under
-- dpos (sys.evidence, type "blk", core/valset.h): two block headers a
-- producer signed for one slot slash it by dpos's slash_percent, jail it for
-- jail_blocks and leave it out of the producers' ranking (node.producers)
-- until the jail ends; the same evidence twice and evidence that proves
-- nothing are refused, each with its code.

local testing = require "lunet.testing"
local core = require "lunet.core"
local dpos = dofile("consensus/dpos.lua")

local VALS = { "node0", "node1", "node2", "node3" }
local BIN = string.rep("\255", 32)   -- not UTF-8: encoded as bin, as a hash is

local receipts = dofile("tests/lua/receipts.lua")
local ok, failed = receipts.ok, receipts.failed

local function dpos_chain()
  local chain = testing.chain {
    validators = VALS,
    stakes = { node0 = 1000, node1 = 1000, node2 = 1000, node3 = 1000 },
    consensus = { plugin = "consensus/dpos.lua",
                  params = { producers = 3, slash_percent = 10, jail_blocks = 20 } },
  }
  chain:advance(2)
  return chain
end

-- A header's bytes as the chain encodes them; fields override.
local function header(chain, fields)
  local h = { chain_id = chain.c:chain_id(), height = 2, prev = BIN, proposer = "node1",
              receipts_root = BIN, state_root = BIN, time = 1000, tx_root = BIN,
              consensus = { s = 7, l = 0, t = { "node0", "node1", "node2" } } }
  for k, v in pairs(fields or {}) do h[k] = v end
  return core.encode(h)
end

-- What dpos's certificate signs: the block hash in hex.
local function signed(chain, who, bytes)
  return { header = bytes, sig = core.hex(core.sign(chain.keys[who].sk, core.hex(core.hash(bytes)))) }
end

-- Evidence of `who` signing two blocks at height 2 for slot 7.
local function evidence(chain, who)
  who = who or "node1"
  return { validator = who, type = "blk",
           a = signed(chain, who, header(chain, { proposer = who })),
           b = signed(chain, who, header(chain, { proposer = who, time = 1001 })) }
end

describe("dpos - evidence of two blocks signed for one slot (sys.evidence)", function()
  it("slashes slash_percent of the stake, jails, and leaves the ranking until the jail ends", function()
    local chain = dpos_chain()
    assert.are.same({ "node0", "node1", "node2" }, chain:producers(3))
    local r = ok(chain:send("bob", "sys", "evidence", evidence(chain)))
    local h = chain:height()
    assert.are.equal(900, chain:account("node1").stake)
    assert.are.same({ name = "slash", contract = "sys",
                      data = { slashed = 100, ["until"] = h + 20, validator = "node1" } }, r.events[1])
    assert.are.same({ at = h, ["until"] = h + 20 }, core.decode(chain:get("jnode1")))
    assert.are.same({ "node0", "node2", "node3" }, chain:producers(3))
    while chain:height() < h + 19 do chain:advance(1) end
    assert.are.same({ "node0", "node2", "node3" }, chain:producers(3))
    chain:advance(1)
    assert.are.same({ "node0", "node1", "node2" }, chain:producers(3))
  end)

  it("leaves a jailed producer out even with the most votes; every one jailed: all of them", function()
    local chain = dpos_chain()
    ok(chain:send("alice", "sys", "transfer", "node1", 1000000000))
    ok(chain:send("alice", "sys", "transfer", "node2", 1000000000))
    ok(chain:vote_producers("node1", { "node3" }))
    ok(chain:vote_producers("node2", { "node1" }))
    assert.are.same({ "node0", "node1", "node3" }, chain:producers(3))
    ok(chain:send("bob", "sys", "evidence", evidence(chain, "node1")))
    assert.are.same({ "node0", "node2", "node3" }, chain:producers(3))
    -- the burned stake of node1 left node3, the producer it voted for
    assert.are.equal(900, core.decode(chain:get("Vnode3")))
    for _, v in ipairs({ "node0", "node2", "node3" }) do
      ok(chain:send("bob", "sys", "evidence", evidence(chain, v)))
    end
    assert.are.same({ "node0", "node1", "node3" }, chain:producers(3))
  end)

  it("takes headers and signatures in hex too (what JSON carries)", function()
    local chain = dpos_chain()
    local e = evidence(chain)
    e.a.header, e.b.header = core.hex(e.a.header), core.hex(e.b.header)
    e.a.sig = core.unhex(e.a.sig)
    ok(chain:send("bob", "sys", "evidence", e))
    assert.are.equal(900, chain:account("node1").stake)
  end)

  it("refuses the same evidence twice (EEXIST); a later double signing is punished again", function()
    local chain = dpos_chain()
    ok(chain:send("bob", "sys", "evidence", evidence(chain)))
    failed(chain:send("carol", "sys", "evidence", evidence(chain)), "EEXIST", "node1 was punished at block")
    assert.are.equal(900, chain:account("node1").stake)
    local at = chain:height()
    chain:advance(2)
    local function later(time)
      return signed(chain, "node1", header(chain, { height = at + 1, time = time,
                                                    consensus = { s = 50, l = 0, t = {} } }))
    end
    ok(chain:send("bob", "sys", "evidence", { validator = "node1", type = "blk", a = later(1), b = later(2) }))
    assert.are.equal(810, chain:account("node1").stake)
  end)

  it("refuses evidence that proves nothing, each with its code", function()
    local chain = dpos_chain()
    local function case(mod, code, text)
      local e = evidence(chain)
      mod(e)
      failed(chain:send("bob", "sys", "evidence", e), code, text)
    end
    local function other(fields) fields.proposer = fields.proposer or "node1"; return signed(chain, "node1", header(chain, fields)) end
    case(function(e) e.a = "x" end, "EINVAL", "a must be {header, sig}")
    case(function(e) e.a.header = nil end, "EINVAL", "a.header must be the header's bytes or their hex")
    case(function(e) e.b.sig = "00" end, "EINVAL", "b.sig must be 64 bytes or 128 hex digits")
    case(function(e) e.a.header = string.rep("x", 2049) end, "EINVAL", "a.header is over 2048 bytes")
    case(function(e) e.a.header = string.rep("ab", 2049) end, "EINVAL", "a.header is over 2048 bytes")
    -- the same block twice
    case(function(e) e.b = e.a end, "EINVAL", "both headers are of the same block: no double signing")
    -- two slots, two heights: a producer's blocks on one branch
    case(function(e) e.b = other({ time = 1001, consensus = { s = 8, l = 0, t = {} } }) end,
         "EINVAL", "the headers are of slots 7 and 8: no double signing")
    case(function(e) e.b = other({ time = 1001, height = 3 }) end, "EINVAL", "of heights 2 and 3")
    -- not signed by the validator's key: by another's, or of another block
    case(function(e) e.b.sig = signed(chain, "node2", e.b.header).sig end, "EBADSIG",
         "header b is not signed by node1's key")
    case(function(e) e.a.sig = e.b.sig end, "EBADSIG", "header a is not signed by node1's key")
    case(function(e) e.validator = "alice" end, "ENOTFOUND", "alice is not a validator")
    case(function(e) e.b = other({ time = 1001, proposer = "node2" }) end, "EINVAL",
         "b.header was proposed by node2, not node1")
    case(function(e) e.a = other({ chain_id = "other" }) end, "EINVAL", "a.header is of chain other")
    case(function(e) e.a = other({ consensus = "x" }) end, "EINVAL", "a.header has no dpos slot")
    case(function(e) e.a = signed(chain, "node1", core.encode({ proposer = "node1" })) end, "EINVAL",
         "a.header is not a block header")
    -- every field of a header and one more: not a header
    case(function(e) e.a = other({ extra = 1 }) end, "EINVAL", "a.header is not a block header")
    case(function(e)
      e.a, e.b = other({ height = 99 }), other({ height = 99, time = 1001 })
    end, "EINVAL", "height 99 is not a block below")
    assert.are.equal(1000, chain:account("node1").stake)
    assert.is_nil(chain:get("jnode1"))
  end)

  it("is refused when the consensus plugin in force is not dpos", function()
    local chain = testing.chain { validators = VALS }
    chain:advance(2)
    failed(chain:send("bob", "sys", "evidence", evidence(chain)), "EINVAL",
           "the consensus plugin in force is not dpos")
    chain = testing.chain { validators = VALS, consensus = { plugin = "consensus/pos.lua", params = {} } }
    chain:advance(2)
    failed(chain:send("bob", "sys", "evidence", evidence(chain)), "EINVAL",
           "the consensus plugin in force is not dpos")
  end)

  it("takes slash_percent and jail_blocks as params, refusing bad ones", function()
    local node = { validators = function() return VALS end }
    assert.has_no.errors(function() dpos.init(node, { slash_percent = 0, jail_blocks = 1 }) end)
    assert.has_error(function() dpos.init(node, { slash_percent = 101 }) end,
                     "params.slash_percent must be an integer 0..100")
    assert.has_error(function() dpos.init(node, { jail_blocks = 0 }) end,
                     "params.jail_blocks must be an integer 1..1000000000")
  end)
end)
