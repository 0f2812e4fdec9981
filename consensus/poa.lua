-- consensus/poa.lua -- proof of authority: the validators of the genesis
-- propose in turn (height % #validators); a block is final when its
-- proposer has signed it.
-- Slot: consensus.
-- Params: block_ms (default 100, an integer 1..86400000): how often the
--           proposer looks at the mempool; a block holds what arrived
--           since the last one.
--         empty_blocks (default false): also produce blocks with no
--           transactions, one every block_ms.
-- Deterministic: verify_block and verify_commit read only their arguments
-- and node.validators()/node.key(); node.now() and timers decide only
-- *when* to propose.

local M = { VERSION = "1.0", NAME = "poa" }

local node, block_ms, empty_blocks

local function proposer_for(height, validators)
  return validators[height % #validators + 1]
end

function M.init(host, params)
  node = host
  block_ms = params.block_ms
  if block_ms == nil then block_ms = 100 end
  if type(block_ms) ~= "number" or block_ms % 1 ~= 0 or block_ms < 1 or block_ms > 86400000 then
    error("params.block_ms must be an integer number of milliseconds, 1..86400000", 0)
  end
  empty_blocks = params.empty_blocks
  if empty_blocks == nil then empty_blocks = false end
  if type(empty_blocks) ~= "boolean" then
    error("params.empty_blocks must be true or false", 0)
  end
end

function M.start()
  node.timer(block_ms, "tick")
end

function M.on_timer(id)
  if id ~= "tick" then return end
  node.timer(block_ms, "tick")
  local head = node.head()
  local me = node.self()
  if proposer_for(head.height + 1, node.validators()) ~= me then return end
  if node.pending() == 0 and not empty_blocks then return end
  local block, err = node.propose()
  if not block then
    node.log("propose failed: " .. tostring(err))
    return
  end
  local cert = { signer = me, sig = node.sign(block.hash) }
  local ok, why = node.commit(block, cert)
  if not ok then node.log("commit failed: " .. tostring(why)) end
end

function M.verify_block(block)
  local want = proposer_for(block.height, node.validators())
  if block.proposer ~= want then
    return nil, "proposer " .. tostring(block.proposer) .. " is not " .. want
  end
  return true
end

function M.verify_commit(block, cert, validators)
  if type(cert) ~= "table" or cert.signer ~= block.proposer then
    return nil, "certificate is not signed by the proposer " .. tostring(block.proposer)
  end
  local key = node.key(cert.signer)
  if not key or not node.verify(key, cert.sig, block.hash) then
    return nil, "bad proposer signature"
  end
  return true
end

return M
