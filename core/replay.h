/*
** replay.h -- `lunet pricing replay FILE`: what past blocks would have paid
** under another pricing model (DESIGN, "Pricing plugin").
**
** It reads the blocks and their receipts from a node over JSON-RPC
** (block_get, tx_get: a running node will do) and runs the model in FILE
** over the usage each receipt recorded, block by block (admit, charge,
** on_block, as a node runs them), in a scratch state of its own: the
** chain params, accounts' stake and the total stake as the node has them
** now; balances unlimited (the question is what each would pay, not
** whether it could); the model's own state starting empty. It prints, per
** payer and per contract called, what was paid and what would be paid,
** and the transactions the model would have refused.
** Exit codes: 0 done, 1 failed (the node, the model), 2 usage.
*/
#ifndef LN_REPLAY_H
#define LN_REPLAY_H

/* `lunet pricing replay FILE [--from H] [--to H] [--params JSON] [--rpc URL] [--json]`. */
int ln_cmd_pricing(int argc, char **argv);

#endif
