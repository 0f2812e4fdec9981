-- tests/lua/govtest.lua -- what the specs of the governance policies
-- (council_spec, supermajority_spec, stake_spec) share: chains whose
-- validators hold funds to pay for their votes, and receipt helpers.
--
--   local gt = dofile("tests/lua/govtest.lua")     -- specs run from the repository root
--   local chain = gt.chain("council", { voting_blocks = 10 }, { validators = 4 })

local testing = require "lunet.testing"
local assert = require "luassert"

local M = {}

function M.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

M.FUND = 10 ^ 10   -- what each validator gets from alice for its fees

-- A chain whose governance slot runs plugins/governance/NAME.lua with
-- params, and whose validators node0..node{N-1} are funded. opts go to
-- testing.chain; opts.validators is a count (default 4).
function M.chain(name, params, opts)
  opts = opts or {}
  local n = opts.validators or 4
  local names = {}
  for i = 1, n do names[i] = "node" .. (i - 1) end
  opts.validators = names
  if name then
    opts.governance = { plugin = "plugins/governance/" .. name .. ".lua", params = params or {} }
  end
  local chain = testing.chain(opts)
  for _, v in ipairs(names) do
    local r = chain:send("alice", "sys", "transfer", v, M.FUND)
    assert(r.ok, r.error)
  end
  return chain
end

function M.ok(r)
  assert.is_true(r.ok, r.error)
  return r
end

function M.refused(r, pattern)
  assert.is_false(r.ok, "not refused: " .. pattern)
  assert.matches(pattern, r.error, 1, true)
  return r
end

-- The data of the events named name in a receipt.
function M.events(r, name)
  local out = {}
  for _, e in ipairs(r.events) do
    if e.name == name then out[#out + 1] = e.data end
  end
  return out
end

-- The statuses a receipt's `proposal` events went through.
function M.statuses(r)
  local out = {}
  for _, e in ipairs(M.events(r, "proposal")) do out[#out + 1] = e.status end
  return out
end

function M.proposal(chain, id)
  return chain:query("gov", "proposal", id)
end

-- Advances until the next block is `height`.
function M.advance_to(chain, height)
  while chain:height() + 1 < height do chain:advance(1) end
end

return M
