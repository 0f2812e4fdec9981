-- configs/dev.lua -- the one-node development chain of `lunet dev`.
-- Keys: accounts and validators without a `key` (hex) use HOME/keys/NAME.key,
-- which dev mode creates on first start. Balances are integers.

return {
  chain_id = "lunet-dev",
  validators = { "node0" },
  admin = "alice",           -- decides alone (plugins/governance/admin.lua): swaps, params, members
  accounts = {
    { name = "alice", balance = 1000000000000 },
    { name = "bob",   balance = 1000000000000 },
    { name = "carol", balance = 1000000000000 },
    { name = "dave",  balance = 1000000000000 },
    { name = "eve",   balance = 1000000000000 },
  },
  consensus = {
    plugin = "consensus/poa.lua",
    params = { block_ms = 50, empty_blocks = false },
  },
}
