-- tests/lua/pricing/stake_policy.lua -- a governance policy for
-- tests/lua/staking_spec.lua that only reads stake through the system
-- table: stake_of(account), total().
-- Slot: governance.  Params: none.

local M = { NAME = "stake_reader" }

function M.init() end
function M.propose() error("nothing to propose") end
function M.stake_of(account) return system.stake(account) end
function M.total() return system.total_stake() end

return M
