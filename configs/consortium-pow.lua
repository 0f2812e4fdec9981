-- configs/consortium-pow.lua -- a 4-validator consortium on permissioned
-- proof of work (consensus/pow.lua): validators node0..node3 mine, the
-- branch with the most work wins, a block is final 6 blocks deep;
-- accounts alice, bob, carol, dave and eve are funded.
--
-- One machine:  lunet testnet 4 --out DIR --consensus pow
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
--   3. on each host:  lunet init --home HOME --config consortium-pow.lua
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
    plugin = "consensus/pow.lua",
    -- 2 million hashes a block at first (a few tenths of a second for four
    -- miners on one host), retargeted every 10 blocks toward one block a
    -- second; pause_ms leaves CPU to the other nodes of one host.
    params = { difficulty = 2000000, block_ms = 1000, window = 10, confirmations = 6,
               slice = 20000, pause_ms = 5 },
  },
}
