-- configs/consortium-pos.lua -- a 4-validator chain on proof of stake
-- (consensus/pos.lua): the BFT rounds of bft.lua with votes counted by
-- stake. Validators node0..node3 start with a stake each (bonded at
-- genesis: the `stake` field mints it), so the chain has voting power from
-- block 1; a block commits with precommits of more than 2/3 of the stake.
-- Accounts alice, bob, carol, dave and eve are funded.
--
-- One machine:  lunet testnet 4 --consensus pos --out DIR
--   makes four node homes from this file (testnet validator nodeI gets the
--   stake of validators[I+1] here, the last one's past the list).
-- Real hosts: as configs/consortium-bft.lua says (keys in the `key` fields,
-- the same file on every host, lunet init --config consortium-pos.lua).
--
-- Who validates: the validators listed here (or added by governance) that
-- have stake and are not jailed, the top max_validators by stake, elected
-- every epoch blocks (in force two blocks later). Anyone may stake
-- (lunet send sys stake AMOUNT) or unstake; a validator caught signing two
-- votes at one height and round (sys.evidence) loses slash_percent of its
-- stake and is jailed for jail_blocks blocks.
--
-- Params: max_validators, epoch, slash_percent, jail_blocks as above; the
-- rest as in consortium-bft.lua.

return {
  chain_id = "lunet-pos",
  -- genesis_time = 1767225600,
  validators = {
    { name = "node0", stake = 1000000 },
    { name = "node1", stake = 1000000 },
    { name = "node2", stake = 1000000 },
    { name = "node3", stake = 1000000 },
  },
  accounts = {
    { name = "alice", balance = 1000000000000 },
    { name = "bob",   balance = 1000000000000 },
    { name = "carol", balance = 1000000000000 },
    { name = "dave",  balance = 1000000000000 },
    { name = "eve",   balance = 1000000000000 },
  },
  consensus = {
    plugin = "consensus/pos.lua",
    params = {
      max_validators = 21,
      epoch = 10,
      slash_percent = 5,
      jail_blocks = 100,
      timeout_propose_ms = 1000,
      timeout_vote_ms = 300,
      timeout_delta_ms = 500,
      block_ms = 0,
      empty_blocks = false,
    },
  },
}
