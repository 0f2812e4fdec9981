-- contracts/credentials_spec.lua -- verifiable credentials
-- (contracts/credentials.lua), run by `lunet test` in the real sandbox. The
-- issuer's Ed25519 keys, signatures and claim trees are made here for real
-- with lunet.core (libsodium, BLAKE2b-256), as an issuer's software would.

local testing = require "lunet.testing"
local core = require "lunet.core"

local function assert_failed(r, text, code)
  assert.is_true(r.included, "the transaction was refused: " .. tostring(r.error))
  assert.is_false(r.ok, "the call succeeded; expected: " .. text)
  assert.is_truthy(tostring(r.error):find(text, 1, true),
                   "error '" .. tostring(r.error) .. "' does not say '" .. text .. "'")
  if code then assert.equal(code, r.code, "code of: " .. tostring(r.error)) end
  assert.same({}, r.events)
end

local function assert_ok(r)
  assert.is_true(r.included, "refused: " .. tostring(r.error))
  assert.is_true(r.ok, "failed: " .. tostring(r.error))
  return r
end

-- The issuer's side: salted claims in a Merkle tree of sorted pairs.

local function leaf(claim, salt) return core.hash("\0" .. salt .. claim) end

local function parent(a, b)
  if a < b then return core.hash("\1" .. a .. b) end
  return core.hash("\1" .. b .. a)
end

-- The root over `leaves`, and for each leaf its proof (sibling hashes, leaf
-- to root; an odd last node moves up a level unchanged and adds nothing).
local function tree(leaves)
  local level, pos, proofs = {}, {}, {}
  for i, h in ipairs(leaves) do level[i], pos[i], proofs[i] = h, i, {} end
  while #level > 1 do
    local up = {}
    for i = 1, #level, 2 do
      up[#up + 1] = level[i + 1] and parent(level[i], level[i + 1]) or level[i]
    end
    for k = 1, #leaves do
      local i = pos[k]
      local sib
      if i % 2 == 1 then sib = level[i + 1] else sib = level[i - 1] end
      if sib then table.insert(proofs[k], sib) end
      pos[k] = math.floor((i + 1) / 2)
    end
    level = up
  end
  return level[1], proofs
end

local CLAIMS = { "name=Alice Liddell", "born=1852-05-04", "over18=yes", "country=GB", "degree=BA" }

local function credential(claims)
  local salts, leaves = {}, {}
  for i, c in ipairs(claims) do
    salts[i] = core.hash("salt " .. i .. " " .. c)    -- 32 bytes; a holder keeps them
    leaves[i] = leaf(c, salts[i])
  end
  local root, proofs = tree(leaves)
  return { claims = claims, salts = salts, root = root, proofs = proofs }
end

local function message(contract, issuer, subject, root, expires)
  return table.concat({ "lunet.credential", contract, issuer, subject, tostring(expires), root }, "\n")
end

describe("credentials", function()
  local chain, uni_pk, uni_sk, cred

  local function sign(subject, root, expires, sk, contract)
    return core.sign(sk or uni_sk, message(contract or "credentials", "uni", subject, root, expires))
  end

  local function issue(subject, c, expires, sig)
    expires = expires or 0
    return chain:send("uni", "credentials", "issue", subject, c.root, expires,
                      sig or sign(subject, c.root, expires))
  end

  local function verify(id) return chain:query("credentials", "verify", id) end

  local function verify_claim(id, i, claim, salt, proof)
    return chain:query("credentials", "verify_claim", id, claim or cred.claims[i],
                       salt or cred.salts[i], proof or cred.proofs[i])
  end

  before_each(function()
    chain = testing.chain()
    uni_pk, uni_sk = chain:new_account("uni", 10 ^ 9)     -- the issuer's account and key
    assert_ok(chain:deploy("alice", "credentials", "contracts/credentials.lua"))
    assert_ok(chain:send("alice", "credentials", "add_issuer", "uni", uni_pk))
    cred = credential(CLAIMS)
  end)

  describe("issuers", function()
    it("makes the deployer the admin unless init names another", function()
      assert.equal("alice", chain:query("credentials", "admin"))
      assert_ok(chain:deploy("alice", "creds2", "contracts/credentials.lua", "bob"))
      assert.equal("bob", chain:query("creds2", "admin"))
      assert_failed(chain:deploy("alice", "creds3", "contracts/credentials.lua", "Bob"),
                    "admin must be an account name, got Bob")
      assert.is_nil(chain:account("creds3"))
    end)

    it("registers an issuer's key and emits issuer_added", function()
      local pk = testing.keypair("bob")
      local r = assert_ok(chain:send("alice", "credentials", "add_issuer", "bob", core.hex(pk)))
      assert.same({ { contract = "credentials", name = "issuer_added",
                      data = { issuer = "bob", key = core.hex(pk) } } }, r.events)
      assert.equal(core.hex(pk), chain:query("credentials", "issuer", "bob"))
      assert.equal(uni_pk, chain:query("credentials", "issuer", "uni"))
    end)

    it("refuses anyone but the admin", function()
      assert_failed(chain:send("bob", "credentials", "add_issuer", "bob", testing.keypair("bob")),
                    "only the admin alice may do this, not bob")
      assert_failed(chain:send("uni", "credentials", "remove_issuer", "uni"),
                    "only the admin alice may do this, not uni")
      assert.is_nil(chain:query("credentials", "issuer", "bob"))
      assert.equal(uni_pk, chain:query("credentials", "issuer", "uni"))
    end)

    it("refuses a key that is not 32 bytes or 64 hex digits, and an issuer twice", function()
      for _, key in ipairs { uni_pk:sub(2), string.rep("g", 64), core.hex(uni_pk) .. "00" } do
        assert_failed(chain:send("alice", "credentials", "add_issuer", "bob", key),
                      "key must be 32 bytes or 64 hex digits")
      end
      assert_failed(chain:send("alice", "credentials", "add_issuer", "uni", testing.keypair("bob")),
                    "issuer uni is already registered")
      assert.is_nil(chain:query("credentials", "issuer", "bob"))
      assert.equal(uni_pk, chain:query("credentials", "issuer", "uni"))
    end)

    it("removes an issuer, emits issuer_removed, and refuses one not registered", function()
      local r = assert_ok(chain:send("alice", "credentials", "remove_issuer", "uni"))
      assert.same({ issuer = "uni" }, r.events[1].data)
      assert.is_nil(chain:query("credentials", "issuer", "uni"))
      assert_failed(chain:send("alice", "credentials", "remove_issuer", "uni"), "issuer uni is not registered")
    end)
  end)

  describe("issue", function()
    it("stores a credential signed by its issuer and returns its id, the hash of what was signed", function()
      local r = assert_ok(issue("alice", cred))
      local m = message("credentials", "uni", "alice", cred.root, 0)
      assert.equal(m, chain:query("credentials", "message", "uni", "alice", cred.root, 0))
      assert.equal(core.hex(core.hash(m)), r.result)
      assert.same({ valid = true, issuer = "uni", subject = "alice", expires = 0 }, verify(r.result))
    end)

    it("emits issued with the id, the issuer, the subject and the expiry", function()
      local r = assert_ok(issue("alice", cred, 500))
      assert.same({ { contract = "credentials", name = "issued",
                      data = { id = r.result, issuer = "uni", subject = "alice", expires = 500 } } }, r.events)
    end)

    it("refuses an account that is not a registered issuer, even with the issuer's signature", function()
      local sig = sign("alice", cred.root, 0)
      local r = chain:send("bob", "credentials", "issue", "alice", cred.root, 0, sig)
      assert_failed(r, "bob is not a registered issuer")
      local id = core.hex(core.hash(message("credentials", "uni", "alice", cred.root, 0)))
      assert.same({ valid = false, why = "no credential " .. id }, verify(id))
    end)

    it("refuses a signature by another key, over other content, or with a bit flipped", function()
      local _, bob_sk = testing.keypair("bob")
      local good = sign("alice", cred.root, 0)
      local flipped = good:sub(1, 10) .. string.char(bit.bxor(good:byte(11), 1)) .. good:sub(12)
      for _, sig in ipairs {
        sign("alice", cred.root, 0, bob_sk),                 -- not uni's key
        sign("bob", cred.root, 0),                           -- another subject
        sign("alice", cred.root, 99),                        -- another expiry
        sign("alice", cred.root, 0, nil, "creds2"),          -- for another registry
        flipped, "", 7,
      } do
        assert_failed(issue("alice", cred, 0, sig), "signature does not verify with uni's key")
      end
      local id = core.hex(core.hash(message("credentials", "uni", "alice", cred.root, 0)))
      assert.is_false(verify(id).valid)
    end)

    it("refuses a root that is not 32 bytes, a bad subject, and an expiry in the past", function()
      assert_failed(chain:send("uni", "credentials", "issue", "alice", "short", 0, sign("alice", "short", 0)),
                    "claims_root must be 32 bytes or 64 hex digits, got 5 bytes")
      assert_failed(issue("Alice", cred), "subject must be an account name, got Alice")
      local h = chain:height() + 1
      assert_failed(issue("alice", cred, h), "expires must be after height " .. h .. ", got " .. h)
      assert_failed(issue("alice", cred, -1), "expires must be a height or 0, got -1")
    end)

    it("refuses the same credential twice", function()
      local id = assert_ok(issue("alice", cred)).result
      assert_failed(issue("alice", cred), "credential " .. id .. " already exists")
      assert.is_true(verify(id).valid)
    end)
  end)

  describe("verify", function()
    it("says why an unknown id is not valid, and refuses an id that is not 64 hex digits", function()
      local id = string.rep("ab", 32)
      assert.same({ valid = false, why = "no credential " .. id }, verify(id))
      assert.error_matches(function() verify("xyz") end, "credential id must be 64 hex digits, got xyz")
    end)

    it("stops at the expiry height", function()
      local exp = chain:height() + 5
      local id = assert_ok(issue("alice", cred, exp)).result
      chain:advance(exp - 1 - chain:height())
      assert.is_true(verify(id).valid)
      chain:advance(1)
      assert.same({ valid = false, why = "expired at height " .. exp }, verify(id))
    end)

    it("withdraws an issuer's credentials with the issuer, and checks the signature with its key of now", function()
      local id = assert_ok(issue("alice", cred)).result
      assert_ok(chain:send("alice", "credentials", "remove_issuer", "uni"))
      assert.same({ valid = false, why = "issuer uni is not registered" }, verify(id))
      assert_ok(chain:send("alice", "credentials", "add_issuer", "uni", testing.keypair("eve")))
      assert.same({ valid = false, why = "signature does not verify with uni's key" }, verify(id))
      assert_ok(chain:send("alice", "credentials", "remove_issuer", "uni"))
      assert_ok(chain:send("alice", "credentials", "add_issuer", "uni", uni_pk))
      assert.is_true(verify(id).valid)
    end)
  end)

  describe("revoke", function()
    local id
    before_each(function() id = assert_ok(issue("carol", cred)).result end)

    it("lets the issuer revoke, with a reason in the event", function()
      local r = assert_ok(chain:send("uni", "credentials", "revoke", id, "degree withdrawn"))
      assert.same({ { contract = "credentials", name = "revoked",
                      data = { id = id, by = "uni", reason = "degree withdrawn" } } }, r.events)
      assert.same({ valid = false, why = "revoked at height " .. chain:height() }, verify(id))
    end)

    it("lets the admin revoke", function()
      assert_ok(chain:send("alice", "credentials", "revoke", id))
      assert.is_false(verify(id).valid)
    end)

    it("refuses the subject and other accounts", function()
      for _, who in ipairs { "carol", "bob" } do
        assert_failed(chain:send(who, "credentials", "revoke", id),
                      "only the issuer uni or the admin may revoke, not " .. who)
      end
      assert.is_true(verify(id).valid)
    end)

    it("refuses a second revocation, an unknown id and a malformed one", function()
      assert_ok(chain:send("uni", "credentials", "revoke", id))
      local at = chain:height()
      assert_failed(chain:send("alice", "credentials", "revoke", id), "was revoked at height " .. at)
      local other = string.rep("0", 64)
      assert_failed(chain:send("uni", "credentials", "revoke", other), "no credential " .. other)
      assert_failed(chain:send("uni", "credentials", "revoke", "nope"), "credential id must be 64 hex digits")
      assert.same({ valid = false, why = "revoked at height " .. at }, verify(id))
    end)
  end)

  describe("verify_claim", function()
    local id
    before_each(function() id = assert_ok(issue("carol", cred)).result end)

    it("accepts each claim with its salt and proof, one at a time", function()
      for i, claim in ipairs(CLAIMS) do
        assert.same({ valid = true, issuer = "uni", subject = "carol", expires = 0, claim = claim },
                    verify_claim(id, i))
      end
    end)

    it("refuses a changed claim, another claim's salt or proof, and a cut proof", function()
      local no = { valid = false, why = "claim is not in credential " .. id }
      assert.same(no, verify_claim(id, 3, "over18=no"))
      assert.same(no, verify_claim(id, 3, nil, cred.salts[2]))
      assert.same(no, verify_claim(id, 3, nil, nil, cred.proofs[1]))
      assert.same(no, verify_claim(id, 3, nil, nil, { cred.proofs[3][1] }))
      assert.same(no, verify_claim(id, 3, nil, nil, {}))
    end)

    it("does not take an inner node of the tree as a claim: leaves and nodes hash apart", function()
      -- The inner node over claims 1 and 2 is H(0x01 .. lo .. hi): offer its
      -- bytes as salt and claim (as a leaf hashed like a node, or with no
      -- prefix, would take them), and walk up from there.
      local a, b = leaf(CLAIMS[1], cred.salts[1]), leaf(CLAIMS[2], cred.salts[2])
      local lo, hi = a, b
      if b < a then lo, hi = b, a end
      local up = { cred.proofs[1][2], cred.proofs[1][3] }
      local no = { valid = false, why = "claim is not in credential " .. id }
      assert.same(no, verify_claim(id, 1, hi, lo, up))
      assert.same(no, verify_claim(id, 1, lo:sub(32) .. hi, "\1" .. lo:sub(1, 31), up))
    end)

    it("accepts a one-claim credential with an empty proof", function()
      local one = credential({ "member=yes" })
      assert.equal(one.root, leaf("member=yes", one.salts[1]))
      local oid = assert_ok(issue("dave", one)).result
      assert.is_true(chain:query("credentials", "verify_claim", oid, "member=yes", one.salts[1], {}).valid)
    end)

    it("takes the root, salt, proof hashes and signature in hex too, as JSON clients send them", function()
      local other = credential({ "role=auditor", "team=risk", "level=3" })
      local sig = sign("eve", other.root, 0)
      local hid = assert_ok(chain:send("uni", "credentials", "issue", "eve", core.hex(other.root), 0,
                                       core.hex(sig))).result
      assert.equal(core.hex(core.hash(message("credentials", "uni", "eve", other.root, 0))), hid)
      assert.is_true(verify(hid).valid)
      local hexproof = {}
      for i, h in ipairs(other.proofs[2]) do hexproof[i] = core.hex(h) end
      local v = chain:query("credentials", "verify_claim", hid, "team=risk", core.hex(other.salts[2]), hexproof)
      assert.is_true(v.valid, v.why)
      assert.is_false(chain:query("credentials", "verify_claim", hid, "team=ops",
                                  core.hex(other.salts[2]), hexproof).valid)
    end)

    it("says the credential is revoked rather than checking the claim", function()
      assert_ok(chain:send("uni", "credentials", "revoke", id))
      assert.same({ valid = false, why = "revoked at height " .. chain:height() }, verify_claim(id, 1))
    end)

    it("refuses a malformed salt, claim or proof", function()
      local function err(...)
        local ok, e = chain:try_query("credentials", "verify_claim", id, ...)
        assert.is_false(ok)
        return e
      end
      assert.matches("salt must be 32 bytes or 64 hex digits, got 31 bytes", err(CLAIMS[1], cred.salts[1]:sub(2), cred.proofs[1]))
      assert.matches("claim must be a string of 1%-1024 bytes", err("", cred.salts[1], cred.proofs[1]))
      assert.matches("proof%[2%] must be 32 bytes or 64 hex digits, got 3 bytes", err(CLAIMS[1], cred.salts[1], { cred.proofs[1][1], "abc" }))
      local long = {}
      for i = 1, 33 do long[i] = cred.root end
      assert.matches("proof must be a list of at most 32 hashes", err(CLAIMS[1], cred.salts[1], long))
    end)

    it("lets another contract admit a subject on one disclosed claim inside a transaction", function()
      assert_ok(chain:deploy_source("alice", "club", [[
        return { join = function(id, claim, salt, proof)
          require_auth(msg.sender)
          local v = call("credentials", "verify_claim", id, claim, salt, proof)
          if not v.valid then error("not admitted: " .. v.why) end
          if v.subject ~= msg.sender then error("credential of " .. v.subject .. ", not " .. msg.sender) end
          if v.claim ~= "over18=yes" then error("claim " .. v.claim .. " does not admit") end
          storage.set("in:" .. msg.sender, true)
          emit("joined", { who = msg.sender })
          return true
        end,
        member = function(who) return storage.get("in:" .. who) == true end }]]))
      local args = { id, CLAIMS[3], cred.salts[3], cred.proofs[3] }
      assert_failed(chain:send("bob", "club", "join", unpack(args)), "credential of carol, not bob")
      assert_failed(chain:send("carol", "club", "join", id, CLAIMS[4], cred.salts[4], cred.proofs[4]),
                    "claim country=GB does not admit")
      assert.is_false(chain:query("club", "member", "bob"))
      local r = assert_ok(chain:send("carol", "club", "join", unpack(args)))
      assert.same({ who = "carol" }, r.events[1].data)
      assert.is_true(chain:query("club", "member", "carol"))
      assert_ok(chain:send("uni", "credentials", "revoke", id))
      assert_failed(chain:send("carol", "club", "join", unpack(args)), "not admitted: revoked at height")
    end)
  end)
end)
