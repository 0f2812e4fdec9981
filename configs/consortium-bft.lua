-- configs/consortium-bft.lua -- a 4-validator consortium on Byzantine fault
-- tolerant consensus (consensus/bft.lua): validators node0..node3 propose
-- and vote in rounds, a block commits with votes of more than 2/3 of them,
-- so the chain goes on with one of the four down. Accounts alice, bob,
-- carol, dave and eve are funded.
--
-- One machine:  lunet testnet 4 --out DIR   (bft is testnet's default)
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
--   3. on each host:  lunet init --home HOME --config consortium-bft.lua
--      then  lunet start --home HOME --p2p HOST:PORT --peer OTHER:PORT ...
--      (or put rpc, p2p and peers in HOME/node.lua).
-- A validator or account without a hex `key` uses HOME/keys/NAME.key, so
-- without keys here only a host holding every key file can create the chain.
--
-- Params: a round waits timeout_propose_ms for the proposal and
-- timeout_vote_ms for votes, each longer by timeout_delta_ms per failed
-- round; block_ms is the least time between a commit and the next
-- proposal; empty_blocks = false proposes only when transactions wait.

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
    plugin = "consensus/bft.lua",
    params = {
      timeout_propose_ms = 1000,
      timeout_vote_ms = 300,
      timeout_delta_ms = 500,
      block_ms = 0,
      empty_blocks = false,
    },
  },
}
