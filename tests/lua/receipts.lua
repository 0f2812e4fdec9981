-- tests/lua/receipts.lua -- receipt checks the staking specs share
-- (staking_spec, vote_spec, pos_spec, dpos_evidence_spec).
--
--   local rc = dofile("tests/lua/receipts.lua")   -- specs run from the repository root
--   rc.ok(chain:send("eve", "sys", "stake", 100))
--   rc.failed(chain:send("eve", "sys", "unstake", 10^9), "EINVAL", "more than")

local assert = require "luassert"

local M = {}

-- r went through.
function M.ok(r)
  assert.is_true(r.ok, r.error)
  return r
end

-- r was included in a block and failed with code, its error naming text.
function M.failed(r, code, text)
  assert.is_true(r.included)
  assert.is_false(r.ok)
  assert.are.equal(code, r.code, r.error)
  assert.is_truthy(r.error:find(text, 1, true), r.error)
  return r
end

return M
