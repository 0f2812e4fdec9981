-- contracts/credentials.lua -- verifiable credentials: registered issuers sign
-- credentials about subjects; anyone checks them, and a holder discloses one
-- claim at a time without revealing the others.
-- init([admin]): the account that registers issuers (default: the deployer).
-- add_issuer(issuer, key), remove_issuer(issuer): by the admin; `key` is the
--   issuer's Ed25519 public key (32 bytes or 64 hex digits). Emit
--   `issuer_added` / `issuer_removed`.
-- issue(subject, claims_root, expires, sig): by a registered issuer; `sig`
--   is the issuer's signature of message(issuer, subject, claims_root,
--   expires). Returns the credential's id (the hex BLAKE2b-256 of that
--   message); emits `issued`. `expires`: first height at which the
--   credential is no longer valid, 0 for never.
-- revoke(id [, reason]): by its issuer or the admin; emits `revoked`.
-- verify(id): {valid = true, issuer, subject, expires} when the credential
--   exists, is not revoked or expired, its issuer is registered and the
--   signature verifies with the issuer's key as registered now (so removing
--   an issuer withdraws all its credentials at once); else {valid = false,
--   why}.
-- verify_claim(id, claim, salt, proof): verify(id), and `claim` is one of
--   the credential's claims: a leaf H(0x00 .. salt .. claim) that `proof` (a
--   list of sibling hashes) leads up to claims_root, each step H(0x01 ..
--   lower .. higher) of the two hashes sorted by bytes; a level's odd last
--   hash moves up unchanged. Salts are 32 random bytes per claim, so the
--   other leaves reveal nothing. Returns verify's table, with `claim` if valid.
-- message(issuer, subject, claims_root, expires), issuer(name), admin(): read-only.
-- Hashes and salts are 32 bytes, or 64 hex digits as JSON clients send them
-- (`lunet query`, contract_query); signatures 64 bytes or 128 hex digits.

local M = {}

local MAX_PROOF, MAX_CLAIM = 32, 1024

local function _check_account(name, what)
  if type(name) ~= "string" or #name < 1 or #name > 12 or not name:match("^[a-z0-9.]+$") then
    error(what .. " must be an account name, got " .. tostring(name))
  end
end

-- 32 bytes, from themselves or from 64 hex digits.
local function _bytes32(s, what)
  if type(s) == "string" and #s == 64 and s:match("^%x+$") then
    return (s:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
  end
  if type(s) ~= "string" or #s ~= 32 then
    error(what .. " must be 32 bytes or 64 hex digits, got " ..
          (type(s) == "string" and #s .. " bytes" or type(s)))
  end
  return s
end

local function _hex32(s)
  return string.format(string.rep("%02x", 32), s:byte(1, 32))
end

local function _require_admin()
  require_auth(msg.sender)
  local admin = storage.get("admin")
  if msg.sender ~= admin then error("only the admin " .. admin .. " may do this, not " .. msg.sender) end
end

-- What an issuer signs: bound to this contract, so a signature made for one
-- registry is no credential in another. Fields are separated by newlines
-- (names and the decimal height have none); the 32-byte root comes last.
local function _message(issuer, subject, root, expires)
  _check_account(issuer, "issuer")
  _check_account(subject, "subject")
  root = _bytes32(root, "claims_root")
  if type(expires) ~= "number" or expires % 1 ~= 0 or expires < 0 or expires > 2 ^ 53 - 1 then
    error("expires must be a height or 0, got " .. tostring(expires))
  end
  return table.concat({ "lunet.credential", msg.contract, issuer, subject,
                        string.format("%d", expires), root }, "\n")
end

local function _check_id(id)
  if type(id) ~= "string" or not id:match("^%x+$") or #id ~= 64 then
    error("credential id must be 64 hex digits, got " .. tostring(id))
  end
end

function M.init(admin)
  admin = admin or msg.sender
  _check_account(admin, "admin")
  storage.set("admin", admin)
end

function M.add_issuer(issuer, key)
  _require_admin()
  _check_account(issuer, "issuer")
  if type(key) ~= "string" or not (#key == 32 or (#key == 64 and key:match("^%x+$"))) then
    error("key must be 32 bytes or 64 hex digits")
  end
  if storage.get("i:" .. issuer) then error("issuer " .. issuer .. " is already registered") end
  storage.set("i:" .. issuer, key)
  emit("issuer_added", { issuer = issuer, key = key })
  return true
end

function M.remove_issuer(issuer)
  _require_admin()
  _check_account(issuer, "issuer")
  if not storage.get("i:" .. issuer) then error("issuer " .. issuer .. " is not registered") end
  storage.delete("i:" .. issuer)
  emit("issuer_removed", { issuer = issuer })
  return true
end

function M.issue(subject, claims_root, expires, sig)
  require_auth(msg.sender)
  local issuer = msg.sender
  local key = storage.get("i:" .. issuer)
  if not key then error(issuer .. " is not a registered issuer") end
  claims_root = _bytes32(claims_root, "claims_root")
  local m = _message(issuer, subject, claims_root, expires)
  if expires ~= 0 and expires <= block.height then
    error("expires must be after height " .. block.height .. ", got " .. expires)
  end
  if type(sig) ~= "string" or not crypto.verify(key, sig, m) then
    error("signature does not verify with " .. issuer .. "'s key")
  end
  local id = _hex32(crypto.hash(m))
  if storage.get("c:" .. id) then error("credential " .. id .. " already exists") end
  storage.set("c:" .. id, { issuer = issuer, subject = subject, root = claims_root,
                            expires = expires, sig = sig, issued = block.height })
  emit("issued", { id = id, issuer = issuer, subject = subject, expires = expires })
  return id
end

function M.revoke(id, reason)
  require_auth(msg.sender)
  _check_id(id)
  local c = storage.get("c:" .. id)
  if not c then error("no credential " .. id) end
  if msg.sender ~= c.issuer and msg.sender ~= storage.get("admin") then
    error("only the issuer " .. c.issuer .. " or the admin may revoke, not " .. msg.sender)
  end
  if c.revoked then error("credential " .. id .. " was revoked at height " .. c.revoked.at) end
  if reason ~= nil and (type(reason) ~= "string" or #reason > 256) then
    error("reason must be a string of at most 256 bytes")
  end
  c.revoked = { by = msg.sender, at = block.height, reason = reason }
  storage.set("c:" .. id, c)
  emit("revoked", { id = id, by = msg.sender, reason = reason })
  return true
end

function M.verify(id)
  _check_id(id)
  local c = storage.get("c:" .. id)
  if not c then return { valid = false, why = "no credential " .. id } end
  if c.revoked then return { valid = false, why = "revoked at height " .. c.revoked.at } end
  if c.expires ~= 0 and block.height >= c.expires then
    return { valid = false, why = "expired at height " .. c.expires }
  end
  local key = storage.get("i:" .. c.issuer)
  if not key then return { valid = false, why = "issuer " .. c.issuer .. " is not registered" } end
  if not crypto.verify(key, c.sig, _message(c.issuer, c.subject, c.root, c.expires)) then
    return { valid = false, why = "signature does not verify with " .. c.issuer .. "'s key" }
  end
  return { valid = true, issuer = c.issuer, subject = c.subject, expires = c.expires }
end

function M.verify_claim(id, claim, salt, proof)
  if type(claim) ~= "string" or #claim < 1 or #claim > MAX_CLAIM then
    error("claim must be a string of 1-" .. MAX_CLAIM .. " bytes")
  end
  salt = _bytes32(salt, "salt")
  if type(proof) ~= "table" or #proof > MAX_PROOF then
    error("proof must be a list of at most " .. MAX_PROOF .. " hashes")
  end
  local res = M.verify(id)
  if not res.valid then return res end
  local node = crypto.hash("\0" .. salt .. claim)
  for i, sib in ipairs(proof) do
    sib = _bytes32(sib, "proof[" .. i .. "]")
    if node < sib then node = crypto.hash("\1" .. node .. sib) else node = crypto.hash("\1" .. sib .. node) end
  end
  if node ~= storage.get("c:" .. id).root then
    return { valid = false, why = "claim is not in credential " .. id }
  end
  res.claim = claim
  return res
end

function M.message(issuer, subject, claims_root, expires)
  return _message(issuer, subject, claims_root, expires)
end

function M.issuer(name)
  _check_account(name, "issuer")
  return storage.get("i:" .. name)
end

function M.admin()
  return storage.get("admin")
end

return M
