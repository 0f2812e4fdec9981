-- tests/lua/tx_spec.lua -- transactions: every bad transaction is refused
-- with a stable code and changes nothing; failed calls are included and pay
-- their fee; the wire format of DESIGN is what the node implements.
--
-- The spec carries its own msgpack encoder (below) and signs with libsodium
-- through the FFI, so the bytes it sends are built independently of the
-- node's codec and of core.sign_tx.

local testing = require "lunet.testing"
local core = require "lunet.core"
local ffi = require "ffi"

ffi.cdef [[
int crypto_sign_detached(unsigned char *sig, unsigned long long *siglen,
                         const unsigned char *m, unsigned long long mlen,
                         const unsigned char *sk);
int crypto_generichash(unsigned char *out, size_t outlen,
                       const unsigned char *in, unsigned long long inlen,
                       const unsigned char *key, size_t keylen);
]]

-- ---- an independent canonical msgpack encoder ---------------------------

local mp = {}
local BIN = {}

function mp.bin(s) return setmetatable({ s }, BIN) end

local function be(n, bytes)
  local t = {}
  for i = bytes, 1, -1 do
    t[i] = string.char(n % 256)
    n = math.floor(n / 256)
  end
  return table.concat(t)
end

function mp.uint(n)
  if n < 128 then return string.char(n) end
  if n < 256 then return "\204" .. be(n, 1) end
  if n < 65536 then return "\205" .. be(n, 2) end
  if n < 4294967296 then return "\206" .. be(n, 4) end
  return "\207" .. be(n, 8)
end

function mp.int(n)
  if n >= 0 then return mp.uint(n) end
  if n >= -32 then return string.char(256 + n) end
  if n >= -128 then return "\208" .. string.char(256 + n) end
  if n >= -32768 then return "\209" .. be(65536 + n, 2) end
  return "\210" .. be(4294967296 + n, 4)
end

function mp.str(s)
  local n = #s
  if n < 32 then return string.char(0xa0 + n) .. s end
  if n < 256 then return "\217" .. be(n, 1) .. s end
  if n < 65536 then return "\218" .. be(n, 2) .. s end
  return "\219" .. be(n, 4) .. s
end

function mp.binary(s)
  local n = #s
  if n < 256 then return "\196" .. be(n, 1) .. s end
  if n < 65536 then return "\197" .. be(n, 2) .. s end
  return "\198" .. be(n, 4) .. s
end

function mp.array_head(n)
  if n < 16 then return string.char(0x90 + n) end
  if n < 65536 then return "\220" .. be(n, 2) end
  return "\221" .. be(n, 4)
end

function mp.map_head(n)
  if n < 16 then return string.char(0x80 + n) end
  if n < 65536 then return "\222" .. be(n, 2) end
  return "\223" .. be(n, 4)
end

-- A map from a list of {key, encoded value}, in the list's order.
function mp.map_raw(list)
  local parts = { mp.map_head(#list) }
  for _, kv in ipairs(list) do
    parts[#parts + 1] = mp.str(kv[1])
    parts[#parts + 1] = kv[2]
  end
  return table.concat(parts)
end

function mp.enc(v)
  local t = type(v)
  if v == nil then return "\192" end
  if t == "boolean" then return v and "\195" or "\194" end
  if t == "number" then
    assert(v == math.floor(v), "the spec encoder takes integers only")
    return mp.int(v)
  end
  if t == "string" then return mp.str(v) end
  if getmetatable(v) == BIN then return mp.binary(v[1]) end
  assert(t == "table")
  if next(v) == nil or v[1] ~= nil then
    local parts = { mp.array_head(#v) }
    for i = 1, #v do parts[#parts + 1] = mp.enc(v[i]) end
    return table.concat(parts)
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys)
  local list = {}
  for i, k in ipairs(keys) do list[i] = { k, mp.enc(v[k]) } end
  return mp.map_raw(list)
end

-- ---- independent hashing and signing (libsodium) ------------------------

local function blake2b(s)
  local out = ffi.new("unsigned char[32]")
  assert(ffi.C.crypto_generichash(out, 32, s, #s, nil, 0) == 0)
  return ffi.string(out, 32)
end

local function ed25519(sk, m)
  local sig = ffi.new("unsigned char[64]")
  assert(ffi.C.crypto_sign_detached(sig, nil, m, #m, sk) == 0)
  return ffi.string(sig, 64)
end

-- ---- building transactions ----------------------------------------------

local function key_of(chain, name) return chain.keys[name].sk end

-- The unsigned transaction of DESIGN as a Lua table: alice pays bob 1.
local function unsigned(chain, over)
  local a = chain:account("alice")
  local t = {
    account = "alice",
    actions = { { args = { "bob", 1 }, contract = "sys", method = "transfer" } },
    chain_id = chain.c:chain_id(),
    expires = chain:height() + 100,
    max_fee = 100000000,
    nonce = a and a.nonce or 0,
  }
  for k, v in pairs(over or {}) do t[k] = v end
  return t
end

-- {key, encoded value} pairs of a table, sorted by key.
local function fields(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local list = {}
  for i, k in ipairs(keys) do list[i] = { k, mp.enc(t[k]) } end
  return list
end

local function sort_fields(list)
  table.sort(list, function(a, b) return a[1] < b[1] end)
  return list
end

-- Signatures of the digest of the map `list` (without signatures).
local function signatures(list, sks)
  local digest = blake2b(mp.map_raw(list))
  local sigs = {}
  for i, sk in ipairs(sks) do
    sigs[i] = { key = mp.bin(sk:sub(33)), sig = mp.bin(ed25519(sk, digest)) }
  end
  return sigs, digest
end

-- The signed encoding of the field list: signatures over its digest, the
-- signatures field added and the fields sorted.
local function signed(list, sks)
  local sigs, digest = signatures(list, sks)
  local full = {}
  for i, kv in ipairs(list) do full[i] = kv end
  full[#full + 1] = { "signatures", mp.enc(sigs) }
  return mp.map_raw(sort_fields(full)), digest
end

local function tx_bytes(chain, over, sks)
  return signed(fields(unsigned(chain, over)), sks or { key_of(chain, "alice") })
end

-- Fields of a valid signed transaction, as a list to tamper with.
local function signed_fields(chain, over, sks)
  local list = fields(unsigned(chain, over))
  local sigs = signatures(list, sks or { key_of(chain, "alice") })
  list[#list + 1] = { "signatures", mp.enc(sigs) }
  return list
end

local function without(list, key)
  local out = {}
  for _, kv in ipairs(list) do
    if kv[1] ~= key then out[#out + 1] = kv end
  end
  return out
end

local function replace(list, key, encoded)
  local out = {}
  for i, kv in ipairs(list) do
    out[i] = kv[1] == key and { key, encoded } or kv
  end
  return out
end

-- ---- checking refusals --------------------------------------------------

local function snapshot(chain)
  local a, b = chain:account("alice"), chain:account("bob")
  return { root = chain:root(), nonce = a.nonce, balance = a.balance, bob = b.balance }
end

-- Applies bytes alone in a block; the receipt must refuse with `code` (and
-- `msg` in its error, plainly) and the state must not move.
local function refused(chain, bytes, code, msg)
  local before = snapshot(chain)
  local r = chain.c:apply({ bytes })[1]
  assert.is_false(r.included)
  assert.is_false(r.ok)
  assert.equal(code, r.code)
  assert.is_string(r.error)
  if msg then
    assert.is_truthy(r.error:find(msg, 1, true),
                     "error '" .. r.error .. "' does not say '" .. msg .. "'")
  end
  assert.same(before, snapshot(chain))
  return r
end

local function accepted(chain, bytes)
  local before = snapshot(chain)
  local r = chain.c:apply({ bytes })[1]
  assert.is_true(r.included, r.error)
  assert.is_true(r.ok, r.error)
  assert.equal(before.nonce + 1, chain:account("alice").nonce)
  return r
end

-- s with bit `mask` (default 1) of byte i flipped.
local function flip(s, i, mask)
  local b = s:byte(i)
  mask = mask or 1
  local nb = (math.floor(b / mask) % 2 == 1) and b - mask or b + mask
  return s:sub(1, i - 1) .. string.char(nb) .. s:sub(i + 1)
end

-- =========================================================================

describe("transaction encoding", function()
  local chain
  before_each(function() chain = testing.chain() end)

  it("accepts a transaction built by the spec's own encoder", function()
    accepted(chain, tx_bytes(chain))
    assert.equal(1, chain:account("bob").balance - 1e12)
  end)

  it("refuses an integer in a longer form than needed (ENONCANON)", function()
    local list = replace(signed_fields(chain), "nonce", "\204\000")   -- uint8 0
    refused(chain, mp.map_raw(list), "ENONCANON")
  end)

  it("refuses an expires in uint32 form that fits a fixint (ENONCANON)", function()
    local t = unsigned(chain)
    local list = replace(signed_fields(chain), "expires", "\206" .. be(t.expires, 4))
    refused(chain, mp.map_raw(list), "ENONCANON")
  end)

  it("refuses a short string in a str8 header (ENONCANON)", function()
    local list = replace(signed_fields(chain), "account", "\217\005alice")
    refused(chain, mp.map_raw(list), "ENONCANON")
  end)

  it("refuses the transaction map in a map16 header (ENONCANON)", function()
    local bytes = tx_bytes(chain)
    refused(chain, "\222\000\007" .. bytes:sub(2), "ENONCANON")
  end)

  it("refuses unsorted keys (EUNSORTED)", function()
    local list = signed_fields(chain)
    list[1], list[2] = list[2], list[1]        -- actions before account
    refused(chain, mp.map_raw(list), "EUNSORTED")
  end)

  it("refuses a duplicated key (EDUPKEY)", function()
    local list = signed_fields(chain)
    table.insert(list, 6, list[6])             -- nonce twice
    refused(chain, mp.map_raw(list), "EDUPKEY")
  end)

  it("refuses every truncated prefix of a valid transaction (ETRUNC)", function()
    local bytes = tx_bytes(chain)
    local before = snapshot(chain)
    local prefixes = {}
    for n = 0, #bytes - 1 do prefixes[#prefixes + 1] = bytes:sub(1, n) end
    local rs = chain.c:apply(prefixes)
    assert.equal(#bytes, #rs)
    for n, r in ipairs(rs) do
      assert.is_false(r.included, "prefix of " .. (n - 1) .. " bytes was included")
      assert.equal("ETRUNC", r.code, "prefix of " .. (n - 1) .. " bytes")
    end
    assert.same(before, snapshot(chain))
    accepted(chain, bytes)                     -- the whole is fine
  end)

  it("refuses trailing bytes after the transaction (ETRAILING)", function()
    refused(chain, tx_bytes(chain) .. "\000", "ETRAILING")
  end)

  it("refuses a float in max_fee (EFLOAT)", function()
    local list = replace(signed_fields(chain), "max_fee", "\203\065\151\215\132\000\000\000\000")
    refused(chain, mp.map_raw(list), "EFLOAT")
  end)

  it("refuses a float inside the action arguments (EFLOAT)", function()
    local acts = mp.array_head(1) .. mp.map_raw {
      { "args", mp.array_head(2) .. mp.str("bob") .. "\203\063\240\000\000\000\000\000\000" },
      { "contract", mp.str("sys") }, { "method", mp.str("transfer") } }
    local list = replace(fields(unsigned(chain)), "actions", acts)
    refused(chain, signed(list, { key_of(chain, "alice") }), "EFLOAT")
  end)

  it("refuses an ext value (EEXT)", function()
    local list = replace(signed_fields(chain), "chain_id", "\212\001\000")
    refused(chain, mp.map_raw(list), "EEXT")
  end)

  it("refuses the reserved byte 0xc1 (EBADBYTE)", function()
    local list = replace(signed_fields(chain), "nonce", "\193")
    refused(chain, mp.map_raw(list), "EBADBYTE")
  end)

  it("refuses an unknown field and names it (EBADTX)", function()
    local list = fields(unsigned(chain, { memo = "hello" }))
    refused(chain, signed(list, { key_of(chain, "alice") }), "EBADTX", "unknown field 'memo'")
  end)

  it("names the unknown field when it takes the place of a known one", function()
    -- seven fields, nonce present, signatures missing, memo extra
    local list = fields(unsigned(chain, { memo = "hello" }))
    refused(chain, mp.map_raw(list), "EBADTX", "unknown field 'memo'")
  end)

  for _, f in ipairs { "account", "actions", "chain_id", "expires", "max_fee", "nonce",
                       "signatures" } do
    it("refuses a transaction without " .. f .. " (EBADTX)", function()
      local list = without(signed_fields(chain), f)
      refused(chain, mp.map_raw(list), "EBADTX", "missing field '" .. f .. "'")
    end)
  end

  -- field, what is wrong, bad value, what the error must say
  local bad_values = {
    { "account", "an integer", 5, "account must be an account name" },
    { "account", "upper case", "Alice", "account must be an account name" },
    { "account", "13 characters", "thirteenchars", "account must be an account name" },
    { "actions", "a string", "transfer", "actions must be an array of 1-16 actions" },
    { "actions", "empty", {}, "actions must be an array of 1-16 actions" },
    { "actions", "a string action", { "transfer" },
      "actions[1] must be a map {args, contract, method}" },
    { "actions", "an action without args", { { contract = "sys", method = "transfer" } },
      "actions[1] must be a map {args, contract, method}" },
    { "actions", "an action with a 4th field",
      { { args = {}, contract = "sys", method = "transfer", memo = 1 } },
      "actions[1] must be a map {args, contract, method}" },
    { "actions", "an action with a misnamed field",
      { { args = {}, contract = "sys", methods = "transfer" } },
      "actions[1] must have exactly args, contract and method" },
    { "actions", "string args", { { args = "bob", contract = "sys", method = "transfer" } },
      "actions[1].args must be an array" },
    { "actions", "a contract that is no name", { { args = {}, contract = "Sys", method = "transfer" } },
      "actions[1].contract must be an account name" },
    { "actions", "an integer contract", { { args = {}, contract = 7, method = "transfer" } },
      "actions[1].contract must be an account name" },
    { "actions", "an empty method", { { args = {}, contract = "sys", method = "" } },
      "actions[1].method must be a string of 1-64 bytes" },
    { "actions", "a 65-byte method",
      { { args = {}, contract = "sys", method = string.rep("m", 65) } },
      "actions[1].method must be a string of 1-64 bytes" },
    { "actions", "a boolean method in the 2nd action",
      { { args = {}, contract = "sys", method = "transfer" },
        { args = {}, contract = "sys", method = false } },
      "actions[2].method must be a string of 1-64 bytes" },
    { "chain_id", "an integer", 7, "chain_id must be a string of 1-64 bytes" },
    { "chain_id", "empty", "", "chain_id must be a string of 1-64 bytes" },
    { "chain_id", "65 bytes", string.rep("c", 65), "chain_id must be a string of 1-64 bytes" },
    { "chain_id", "bin", mp.bin("lunet-test"), "chain_id must be a string of 1-64 bytes" },
    { "expires", "a string", "100", "expires must be an unsigned integer" },
    { "expires", "negative", -1, "expires must be an unsigned integer" },
    { "max_fee", "negative", -1, "max_fee must be an unsigned integer" },
    { "max_fee", "bin", mp.bin("\001"), "max_fee must be an unsigned integer" },
    { "max_fee", "nil", nil, "max_fee must be an unsigned integer" },
    { "nonce", "a boolean", true, "nonce must be an unsigned integer" },
    { "nonce", "an array", {}, "nonce must be an unsigned integer" },
  }
  for _, case in ipairs(bad_values) do
    local f, what, v, why = case[1], case[2], case[3], case[4]
    it("refuses " .. what .. " as " .. f .. " (EBADTX: " .. why .. ")", function()
      local list = replace(fields(unsigned(chain)), f, mp.enc(v))
      refused(chain, signed(list, { key_of(chain, "alice") }), "EBADTX", why)
    end)
  end

  local function with_signatures(chain_, sigs)
    local list = fields(unsigned(chain_))
    list[#list + 1] = { "signatures", mp.enc(sigs) }
    return mp.map_raw(list)
  end

  local function good_sig(chain_)
    local sigs = signatures(fields(unsigned(chain_)), { key_of(chain_, "alice") })
    return sigs[1]
  end

  it("refuses signatures that are not an array (EBADTX)", function()
    refused(chain, with_signatures(chain, "sig"), "EBADTX", "signatures must be an array of 1-8")
  end)

  it("refuses an empty signature list (EBADTX)", function()
    refused(chain, with_signatures(chain, {}), "EBADTX", "signatures must be an array of 1-8")
  end)

  it("refuses a signature that is not a {key, sig} map (EBADTX)", function()
    local s = good_sig(chain)
    refused(chain, with_signatures(chain, { "x" }), "EBADTX", "signatures[1] must be a map {key, sig}")
    refused(chain, with_signatures(chain, { { key = s.key, sig = s.sig, by = "alice" } }),
            "EBADTX", "signatures[1] must be a map {key, sig}")
    refused(chain, with_signatures(chain, { { key = s.key } }),
            "EBADTX", "signatures[1] must be a map {key, sig}")
  end)

  it("refuses a key that is not bin(32) (EBADTX)", function()
    local s = good_sig(chain)
    refused(chain, with_signatures(chain, { { key = core.hex(s.key[1]), sig = s.sig } }),
            "EBADTX", "signatures[1].key must be bin(32)")
    refused(chain, with_signatures(chain, { { key = mp.bin(s.key[1]:sub(2)), sig = s.sig } }),
            "EBADTX", "signatures[1].key must be bin(32)")
  end)

  it("refuses a sig that is not bin(64) (EBADTX)", function()
    local s = good_sig(chain)
    refused(chain, with_signatures(chain, { { key = s.key, sig = mp.bin(s.sig[1] .. "\000") } }),
            "EBADTX", "signatures[1].sig must be bin(64)")
    refused(chain, with_signatures(chain, { { key = s.key, sig = 0 } }),
            "EBADTX", "signatures[1].sig must be bin(64)")
  end)

  local function transfers(n)
    local acts = {}
    for i = 1, n do acts[i] = { args = { "bob", 1 }, contract = "sys", method = "transfer" } end
    return acts
  end

  it("accepts 16 actions", function()
    local r = accepted(chain, tx_bytes(chain, { actions = transfers(16) }))
    assert.is_true(r.ok)
    assert.equal(1e12 + 16, chain:account("bob").balance)
  end)

  it("refuses 17 actions (EBADTX)", function()
    refused(chain, tx_bytes(chain, { actions = transfers(17) }), "EBADTX",
            "actions must be an array of 1-16 actions")
  end)

  local function sks(n)
    local t = { key_of(chain, "alice") }
    for i = 2, n do
      local _, sk = core.keypair(core.hash("extra signer " .. i))
      t[i] = sk
    end
    return t
  end

  it("accepts 8 signatures, extra ones by keys outside the permission", function()
    accepted(chain, tx_bytes(chain, nil, sks(8)))
  end)

  it("refuses 9 signatures (EBADTX)", function()
    refused(chain, tx_bytes(chain, nil, sks(9)), "EBADTX", "signatures must be an array of 1-8")
  end)

  it("refuses two signatures by the same key (EDUPSIG)", function()
    local alice = key_of(chain, "alice")
    refused(chain, tx_bytes(chain, nil, { alice, alice }), "EDUPSIG")
    refused(chain, tx_bytes(chain, nil, { alice, sks(2)[2], alice }), "EDUPSIG",
            "signatures[3] has the key of signatures[1]")
  end)

  -- Pads the args so the signed encoding is exactly `size` bytes.
  local function sized(size)
    local pad = 70000
    local function build(p)
      return tx_bytes(chain, { actions = { { args = { "bob", 1, string.rep("x", p) },
                                              contract = "sys", method = "transfer" } } })
    end
    local bytes = build(pad)
    bytes = build(pad + size - #bytes)
    assert.equal(size, #bytes)
    return bytes
  end

  it("accepts a transaction of exactly 128 KiB", function()
    accepted(chain, sized(128 * 1024))
  end)

  it("refuses a transaction over 128 KiB (ETXSIZE)", function()
    refused(chain, sized(128 * 1024 + 1), "ETXSIZE")
  end)

  it("refuses what is not a map at all (EBADTX)", function()
    refused(chain, mp.enc({ "account", "alice" }), "EBADTX", "a transaction must be a map")
  end)
end)

-- =========================================================================

describe("transaction admission", function()
  local chain
  before_each(function() chain = testing.chain() end)

  it("refuses a signature with one bit flipped (EBADSIG)", function()
    local bytes = tx_bytes(chain)
    refused(chain, flip(bytes, #bytes), "EBADSIG")          -- last byte of sig
    refused(chain, flip(bytes, #bytes - 63, 128), "EBADSIG") -- first byte of sig
  end)

  it("refuses signed bytes with one bit flipped (EBADSIG)", function()
    local bytes = tx_bytes(chain)
    local at = bytes:find("transfer", 1, true)
    refused(chain, flip(bytes, at + 7), "EBADSIG")           -- "transfes"
    at = bytes:find("bob", 1, true)
    refused(chain, flip(bytes, at + 1), "EBADSIG")           -- "bnb"
  end)

  it("says which signature does not verify", function()
    local bytes = tx_bytes(chain, nil, { key_of(chain, "alice"), key_of(chain, "bob") })
    refused(chain, flip(bytes, #bytes), "EBADSIG", "signatures[2]")
  end)

  it("refuses a signature by a key outside the account's permission (EAUTH)", function()
    refused(chain, tx_bytes(chain, nil, { key_of(chain, "bob") }), "EAUTH", "alice@active")
  end)

  it("refuses a transaction for another chain (ECHAINID)", function()
    refused(chain, tx_bytes(chain, { chain_id = "other-chain" }), "ECHAINID", "other-chain")
  end)

  it("refuses a reused nonce (ENONCE)", function()
    accepted(chain, tx_bytes(chain, { nonce = 0 }))
    refused(chain, tx_bytes(chain, { nonce = 0 }), "ENONCE", "alice expects nonce 1, got 0")
  end)

  it("refuses a future nonce (ENONCE)", function()
    refused(chain, tx_bytes(chain, { nonce = 1 }), "ENONCE", "alice expects nonce 0, got 1")
  end)

  it("refuses the second of two transactions with one nonce in a block", function()
    local a = tx_bytes(chain, { nonce = 0 })
    local b = tx_bytes(chain, { nonce = 0, actions = { { args = { "carol", 1 },
                                                           contract = "sys", method = "transfer" } } })
    local rs = chain.c:apply({ a, b })
    assert.is_true(rs[1].ok)
    assert.is_false(rs[2].included)
    assert.equal("ENONCE", rs[2].code)
    assert.equal(1e12, chain:account("carol").balance)
  end)

  it("refuses a transaction whose expires is below the block height (EEXPIRED)", function()
    chain:advance(3)
    -- the next block is height 4
    refused(chain, tx_bytes(chain, { expires = 3 }), "EEXPIRED", "expired at height 3, block is 4")
  end)

  it("accepts a transaction whose expires is the block height", function()
    chain:advance(3)
    accepted(chain, tx_bytes(chain, { expires = 4 }))
  end)

  it("refuses a transaction from an unknown account (ENOACCOUNT)", function()
    local _, sk = core.keypair(core.hash("nobody"))
    refused(chain, tx_bytes(chain, { account = "nobody", nonce = 0 }, { sk }), "ENOACCOUNT", "nobody")
  end)

  it("refuses a sender whose balance is below max_fee (EBALANCE)", function()
    chain:new_account("poor", 1000)
    local r = chain:send_with({ max_fee = 1001 }, "poor", "sys", "transfer", "bob", 1)
    assert.is_false(r.included)
    assert.equal("EBALANCE", r.code)
    assert.is_truthy(r.error:find("poor has 1000, max_fee is 1001", 1, true), r.error)
    assert.equal(1000, chain:balance("poor"))
    assert.equal(0, chain:account("poor").nonce)
  end)

  it("accepts a sender whose balance equals max_fee", function()
    chain:new_account("poor", 5000)
    local r = chain:send_with({ max_fee = 5000 }, "poor", "sys", "transfer", "bob", 1)
    assert.is_true(r.ok, r.error)
    assert.equal(5000 - 1 - r.fee, chain:balance("poor"))
  end)

  it("refuses a refused transaction without changing the block's other transactions", function()
    local bad = tx_bytes(chain, { chain_id = "other" })
    local good = tx_bytes(chain)
    local rs = chain.c:apply({ bad, good })
    assert.equal("ECHAINID", rs[1].code)
    assert.is_true(rs[2].ok)
  end)
end)

-- =========================================================================

local BOX = [[
local M = {}
function M.set(k, v)
  storage.set(k, v)
  emit("set", { k = k })
  return true
end
function M.fail_after_write(k)
  storage.set(k, "dirty")
  emit("dirty", { k = k })
  error("boom: refusing " .. k)
end
function M.spin(k)
  storage.set(k, "spinning")
  emit("spin", { k = k })
  while true do end
end
function M.get(k) return storage.get(k) end
return M
]]

describe("failed calls", function()
  local chain
  before_each(function()
    chain = testing.chain()
    local r = chain:deploy_source("alice", "box", BOX)
    assert.is_true(r.ok, r.error)
  end)

  it("include a contract error: nonce used, fee charged, writes and events reverted", function()
    local a = chain:account("alice")
    local root = chain:root()
    local r = chain:send("alice", "box", "fail_after_write", "k")
    assert.is_true(r.included)
    assert.is_false(r.ok)
    assert.equal("ECALL", r.code)
    assert.is_truthy(r.error:find("boom: refusing k", 1, true), r.error)
    assert.is_true(r.gas_used > 0)
    assert.equal(r.gas_used, r.fee)
    assert.equal("alice", r.payer)
    assert.same({}, r.events)
    assert.is_nil(chain:query("box", "get", "k"))
    local b = chain:account("alice")
    assert.equal(a.nonce + 1, b.nonce)
    assert.equal(a.balance - r.fee, b.balance)
    assert.are_not.equal(root, chain:root())
  end)

  it("include a call out of gas: the whole max_fee is charged, writes reverted", function()
    local a = chain:account("alice")
    local r = chain:send_with({ max_fee = 20000 }, "alice", "box", "spin", "k")
    assert.is_true(r.included)
    assert.is_false(r.ok)
    assert.equal("EGAS", r.code)
    assert.is_truthy(r.error:find("out of gas", 1, true), r.error)
    assert.equal(20000, r.gas_used)
    assert.equal(20000, r.fee)
    assert.same({}, r.events)
    assert.is_nil(chain:query("box", "get", "k"))
    assert.equal(a.nonce + 1, chain:account("alice").nonce)
    assert.equal(a.balance - 20000, chain:balance("alice"))
  end)

  it("keep a successful call's writes and events", function()
    local r = chain:send("alice", "box", "set", "k", "v")
    assert.is_true(r.ok, r.error)
    assert.equal(1, #r.events)
    assert.equal("set", r.events[1].name)
    assert.equal("v", chain:query("box", "get", "k"))
  end)

  it("make a transaction's actions atomic: the 2nd failing reverts the 1st", function()
    local a = chain:account("alice")
    local tx = chain:transaction("alice", {
      { contract = "box", method = "set", args = { "first", "v" } },
      { contract = "sys", method = "transfer", args = { "bob", 7 } },
      { contract = "box", method = "fail_after_write", args = { "second" } },
    })
    local r = chain.c:apply({ tx })[1]
    assert.is_true(r.included)
    assert.is_false(r.ok)
    assert.is_truthy(r.error:find("boom: refusing second", 1, true), r.error)
    assert.same({}, r.events)
    assert.is_nil(chain:query("box", "get", "first"))
    assert.is_nil(chain:query("box", "get", "second"))
    assert.equal(1e12, chain:balance("bob"))
    assert.equal(a.balance - r.fee, chain:balance("alice"))
    assert.equal(a.nonce + 1, chain:account("alice").nonce)
  end)

  it("make a transaction's actions run in order when all succeed", function()
    local tx = chain:transaction("alice", {
      { contract = "box", method = "set", args = { "first", 1 } },
      { contract = "box", method = "set", args = { "second", 2 } },
    })
    local r = chain.c:apply({ tx })[1]
    assert.is_true(r.ok, r.error)
    assert.equal(2, #r.events)
    assert.equal(1, chain:query("box", "get", "first"))
    assert.equal(2, chain:query("box", "get", "second"))
  end)

  it("charge the fee even when the call spends the whole balance", function()
    chain:new_account("spender", 1000000)
    local r = chain:send_with({ max_fee = 100000 }, "spender", "sys", "transfer", "bob", 1000000)
    assert.is_true(r.included)
    assert.is_true(r.fee > 0)
    assert.equal(r.gas_used, r.fee)
    assert.is_false(r.ok)
    assert.equal("EBALANCE", r.code)
    assert.equal(1e12, chain:balance("bob"))
    assert.equal(1000000 - r.fee, chain:balance("spender"))
    assert.equal(1, chain:account("spender").nonce)
  end)

  it("let a call spend all but its fee", function()
    chain:new_account("spender", 1000000)
    local r = chain:send_with({ max_fee = 100000 }, "spender", "sys", "transfer", "bob", 900000)
    assert.is_true(r.ok, r.error)
    assert.equal(1e12 + 900000, chain:balance("bob"))
    assert.equal(100000 - r.fee, chain:balance("spender"))
  end)
end)

-- =========================================================================

describe("wire format", function()
  local chain
  before_each(function() chain = testing.chain() end)

  it("encodes an unsigned transaction byte for byte as the spec's encoder does", function()
    local t = unsigned(chain)
    assert.equal(mp.enc(t), core.encode(t))
  end)

  it("makes the transaction id BLAKE2b-256 of the unsigned canonical encoding", function()
    local t = unsigned(chain)
    local want = core.hex(blake2b(core.encode(t)))
    assert.equal(core.hex(core.hash(core.encode(t))), want)
    local bytes, id = core.sign_tx(t, { key_of(chain, "alice") })
    assert.equal(want, id)
    local r = chain.c:apply({ bytes })[1]
    assert.is_true(r.ok, r.error)
    assert.equal(want, r.hash)
  end)

  it("accepts a transaction encoded and signed independently of the node", function()
    local list = fields(unsigned(chain))
    local bytes, digest = signed(list, { key_of(chain, "alice") })
    -- the signed map: 0x87, the six unsigned fields, then signatures last
    assert.equal("\135", bytes:sub(1, 1))
    assert.equal(mp.map_raw(list):sub(2), bytes:sub(2, #mp.map_raw(list)))
    local r = accepted(chain, bytes)
    assert.equal(core.hex(digest), r.hash)
    assert.equal(1e12 + 1, chain:balance("bob"))
  end)

  it("signs the same bytes the node signs: core.sign_tx equals the spec's signer", function()
    local t = unsigned(chain)
    local mine = signed(fields(t), { key_of(chain, "alice") })
    local theirs = core.sign_tx(t, { key_of(chain, "alice") })
    assert.equal(mine, theirs)
  end)

  it("refuses a signature over the signed encoding instead of the digest (EBADSIG)", function()
    local list = fields(unsigned(chain))
    local sk = key_of(chain, "alice")
    local sig = ed25519(sk, mp.map_raw(list))       -- the bytes, not their hash
    list[#list + 1] = { "signatures", mp.enc { { key = mp.bin(sk:sub(33)), sig = mp.bin(sig) } } }
    refused(chain, mp.map_raw(list), "EBADSIG")
  end)
end)
