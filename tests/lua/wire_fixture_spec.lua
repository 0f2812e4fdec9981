-- tests/lua/wire_fixture_spec.lua -- the wire-format fixture that clients
-- are checked against (clients/js/test/fixtures/wire.json) holds the bytes
-- the node's own codec and signer give: canonical msgpack of every kind of
-- value at each size boundary, and a transaction signed with two keys.
-- lunet-client's tests (clients/js/test/wire.test.js) compare against the
-- same file, so the two encoders agree byte for byte.

local core = require "lunet.core"
local json = require "dkjson"

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local PATH = here .. "../../clients/js/test/fixtures/wire.json"
local NULL = setmetatable({}, { __tostring = function() return "null" end })

local function read(path)
  local f = assert(io.open(path, "rb"), "cannot open " .. path)
  local s = f:read("*a")
  f:close()
  return s
end

-- The fixture's JSON value as the Lua value the codec encodes (tags: see
-- the fixture's "about").
local function lua_value(v)
  if v == NULL then return nil end
  if type(v) ~= "table" then return v end
  if v["$nil"] then return nil end
  if v["$bin"] then return core.unhex(v["$bin"]) end
  if v["$binrep"] then return string.rep(core.unhex(v["$binrep"][1]), v["$binrep"][2]) end
  if v["$repeat"] then
    local x, n = v["$repeat"][1], v["$repeat"][2]
    if type(x) == "string" then return string.rep(x, n) end
    local t = {}
    for i = 1, n do t[i] = x end
    return t
  end
  local t = {}
  for k, x in pairs(v) do t[k] = lua_value(x) end
  return t
end

-- What the fixture records of an encoding: hex, or for a long one its
-- length, first 8 bytes and BLAKE2b-256.
local function matches(entry, bytes)
  if entry.hex then return core.hex(bytes) == entry.hex, core.hex(bytes) end
  local got = string.format("len %d head %s blake2b %s", #bytes, core.hex(bytes:sub(1, 8)),
                            core.hex(core.hash(bytes)))
  local want = string.format("len %d head %s blake2b %s", entry.len, entry.head, entry.blake2b)
  return got == want, got
end

describe("wire fixture", function()
  local fx = assert(json.decode(read(PATH), 1, NULL))

  it("holds fifty values, each with the node's encoding", function()
    assert.equal(50, #fx.values)
  end)

  it("is the node's canonical encoding of every value", function()
    for i, e in ipairs(fx.values) do
      local bytes = assert(core.encode(lua_value(e.value)))
      local ok, got = matches(e, bytes)
      assert(ok, string.format("value %d (%s): the node encodes it as %s", i,
                               json.encode(e.value):sub(1, 80), got))
    end
  end)

  it("is the node's signed transaction: unsigned bytes, hash and signed bytes", function()
    local t = fx.tx
    local sks, pks = {}, {}
    for i, seed in ipairs(t.seeds) do
      local pk, sk = core.keypair(core.unhex(seed))
      sks[i], pks[i] = sk, core.hex(pk)
    end
    assert.same(pks, t.public_keys)
    local unsigned = lua_value(t.unsigned)
    assert.equal(t.unsigned_hex, core.hex(assert(core.encode(unsigned))))
    local bytes, id = core.sign_tx(unsigned, sks)
    assert.equal(t.hash, id)
    assert.equal(t.hash, core.hex(core.hash(core.unhex(t.unsigned_hex))))
    assert.equal(t.signed_hex, core.hex(bytes))
  end)
end)
