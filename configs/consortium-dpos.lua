-- configs/consortium-dpos.lua -- a 4-validator consortium on delegated
-- proof of stake (consensus/dpos.lua): the 4 validators node0..node3 are
-- the candidates, token holders approve producers with sys.vote (weighted
-- by their stake: `lunet send sys stake ...`), the top 4 by votes take
-- turns of 2 blocks of 250 ms, a block is final once 3 of the 4 producers
-- built on it; accounts alice, bob, carol, dave and eve are funded.
--
-- One machine:  lunet testnet 4 --out DIR --consensus dpos
--   makes four node homes from this file, with fresh keys, a chain_id of
--   its own and a genesis_time (see README, "A 4-node consortium").
--
-- Real hosts: every host must create its chain from the same genesis, so
-- every host gets the same file:
--   1. each validator host makes its key:  lunet keys new nodeI --home HOME
--      (and each account owner:  lunet keys new NAME --home THEIR_HOME);
--   2. the operator collects the public keys (`lunet keys show NAME`) into
--      the `key` fields below, e.g. { name = "node0", key = "<64 hex>" },
--      sets genesis_time (unix seconds) and sends the file to every host;
--   3. on each host:  lunet init --home HOME --config consortium-dpos.lua
--      then  lunet start --home HOME --p2p HOST:PORT --peer OTHER:PORT ...
--      (or put rpc, p2p and peers in HOME/node.lua).
-- A validator or account without a hex `key` uses HOME/keys/NAME.key, so
-- without keys here only a host holding every key file can create the chain.

return {
  chain_id = "lunet-consortium",
  -- genesis_time = 1767225600,
  validators = {
    { name = "node0" },
    { name = "node1" },
    { name = "node2" },
    { name = "node3" },
  },
  accounts = {
    { name = "alice", balance = 1000000000000 },
    { name = "bob",   balance = 1000000000000 },
    { name = "carol", balance = 1000000000000 },
    { name = "dave",  balance = 1000000000000 },
    { name = "eve",   balance = 1000000000000 },
  },
  consensus = {
    plugin = "consensus/dpos.lua",
    -- Before anyone votes, the schedule is the validators by name.
    params = { producers = 4, blocks_per_turn = 2, block_ms = 250 },
  },
}
