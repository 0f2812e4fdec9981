/*
** exec.h -- applying a block of transactions to the state.
**
** For each transaction, in order: decode strictly, check chain_id, expiry,
** the sender account, its nonce, the signatures and the sender's active
** authority. A transaction that fails a check is refused: its receipt says
** why (included = 0) and the state is untouched. Then the pricing plugin
** in force (pricing.h) admits it, giving its gas limit (at most
** LN_TX_GAS_MAX), and it runs; the meter's usage goes to the plugin's
** charge, which names the fee, the payer and where the fee goes (burned,
** to the treasury or to the block's proposer), or refuses it: then the
** call is undone and the transaction refused. Whatever the call did, an
** included transaction's nonce advances and the fee is taken; a failed
** call reverts all its writes and events. A call that leaves the payer
** less than the fee is reverted too (EBALANCE), priced again, and the fee
** taken from what the payer has. At the end of the block the plugin's
** on_block sees the block's totals.
**
** A chain without a pricing slot runs the built-in rule: the sender's
** balance must cover max_fee, gas_limit = min(max_fee / gas_price,
** LN_TX_GAS_MAX), fee = gas_used * gas_price, the sender pays, burned.
** When the pricing plugin fails (it raises, exhausts its budget or answers
** garbage), the transaction is refused (LN_EPLUGIN) and the block goes on;
** a transaction whose actions all call `gov` is priced by the built-in
** rule then, so governance can always replace a broken plugin. The failure
** goes to bc->log. sys.ready or sys.evidence alone from a validator is free
** (LN_FREE_GAS): no fee, no balance needed, the nonce taken as any other.
** The block runs in one fresh sandbox, the pricing plugin in another.
** int results: 0 or a negative LN_E* code (err.h).
*/
#ifndef LN_EXEC_H
#define LN_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "contract.h"
#include "pricing.h"
#include "registry.h"
#include "state.h"
#include "tx.h"

#define LN_TX_GAS_MAX   50000000ull   /* instructions per transaction */
#define LN_QUERY_GAS    50000000ull
#define LN_FREE_GAS     200000ull     /* a validator's sys.ready or sys.evidence: no fee, this much gas */
#define LN_GAS_CAP_CHAIN UINT64_MAX   /* ln_blockctx.gas_cap: the chain param block_gas_max */

typedef struct {
    const char *chain_id;
    uint64_t height, time;
    uint8_t prev[LN_HASH_LEN];      /* parent block hash (block.hash) */
    uint64_t gas_price;             /* fee units per gas; 0 means 1 */
    uint64_t gas_cap;               /* block gas: no transaction starts once the
                                    ** block has used this much; 0: no cap (and no
                                    ** block_bytes_max); LN_GAS_CAP_CHAIN: the chain
                                    ** params' block_gas_max and block_bytes_max */
    const char *proposer;           /* the block's proposer (fees "to proposer"); NULL: none */
    void (*log)(void *ud, const char *line);   /* the pricing plugin's faults and lines; NULL: none */
    void *log_ud;
} ln_blockctx;

typedef struct {
    uint8_t txid[LN_HASH_LEN];
    int included;                   /* 0: refused by a check, state untouched */
    int ok;                         /* the call succeeded */
    int code;                       /* 0 or LN_E* */
    char *error;                    /* message when !ok */
    uint8_t *result;                /* msgpack, NULL when none */
    size_t result_len;
    uint8_t *events;                /* msgpack array */
    size_t events_len;
    uint64_t gas_used, fee;
    char payer[LN_NAME_MAX + 1];
    ln_usage usage;                 /* what the meter measured (contract.h) */
} ln_receipt;

/* The checks that decide whether a decoded transaction may run at height:
** chain id, expiry, the sender account, its nonce, the signatures (with
** LN_CHECK_SIGS; else they were verified already), the sender's active
** authority and (without LN_CHECK_NOFEE) that its balance covers max_fee.
** With LN_CHECK_POOL the nonce may be ahead of the account's (a mempool
** holds it until its turn). 0 with *sender loaded, or LN_ECHAINID,
** LN_EEXPIRED, LN_ENOACCOUNT, LN_ENONCE, LN_EBADSIG, LN_EAUTH, LN_EBALANCE
** with the reason in why. */
enum { LN_CHECK_SIGS = 1, LN_CHECK_POOL = 2, LN_CHECK_NOFEE = 4 };
int  ln_exec_check(ln_overlay *ov, const char *chain_id, uint64_t height, const ln_tx *tx,
                   int flags, ln_account *sender, char *why, size_t whylen);

/* Admission of a decoded transaction (signatures verified already) at
** height, the head's next, over ov (nothing is written to it):
** ln_exec_check with LN_CHECK_POOL, then the pricing plugin's admit, so
** that what inclusion would refuse is refused at the door. The plugin runs
** in *gate, opened on first use and again when height moves on (the
** caller frees it with ln_pricing_free); time is the head's. Without a
** pricing slot, the built-in rule's balance check. */
int  ln_exec_admit(ln_overlay *ov, const char *chain_id, uint64_t height, uint64_t time,
                   const ln_tx *tx, ln_pricing **gate, ln_account *sender,
                   char *why, size_t whylen);

/* Applies n encoded transactions over ov. sigs_checked: the signatures of
** these exact bytes were verified already (mempool), so they are skipped.
** receipts has room for n. Transactions left over once the block reached
** bc->gas_cap get included = 0 and code LN_EFULL: not refused, deferred to a
** later block. */
int  ln_exec_block(ln_overlay *ov, const ln_blockctx *bc,
                   const uint8_t *const *txs, const size_t *lens, size_t n,
                   int sigs_checked, ln_receipt *receipts);

/* The end of block bi (ln_exec_block does it after the transactions):
** swaps due at the next height go into force when more than 2/3 of the
** validators are ready, else wait swap_delay blocks (registry.h); a new
** governance policy is put in place as gov's code. cb hears of each. */
int  ln_exec_end_block(ln_overlay *ov, const ln_blockinfo *bi, uint64_t swap_delay,
                       ln_swap_cb cb, void *ud);
/* ln_exec_block over a fresh overlay, then commits it: the new root in root,
** the state changes in b (NULL for an in-memory state). */
int  ln_exec_apply(ln_state *s, const ln_blockctx *bc,
                   const uint8_t *const *txs, const size_t *lens, size_t n,
                   ln_receipt *receipts, ln_batch *b, uint8_t root[LN_HASH_LEN]);

/* A read-only call against the committed state s, under bc->gas_cap gas
** (0: LN_QUERY_GAS). */
int  ln_exec_query(ln_state *s, const ln_blockctx *bc, const char *contract,
                   const char *method, const uint8_t *args, size_t args_len,
                   ln_outcome *out);

/* Canonical msgpack of a receipt: {error, events, fee, gas_used, ok, payer,
** result, usage}, usage as {calls, events_bytes, gas, mem_peak,
** storage_added, storage_freed, stored (only when some contract's bytes
** changed: {contract: bytes}), tx_bytes}; malloc()ed. */
int  ln_receipt_encode(const ln_receipt *r, uint8_t **out, size_t *len);
void ln_receipt_free(ln_receipt *r);

#endif
