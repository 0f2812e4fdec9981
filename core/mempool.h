/*
** mempool.h -- transactions admitted and waiting for a block.
**
** Each transaction is decoded and its signatures verified before it gets
** here (off the event loop; see node.c). The pool keeps, per account, the
** waiting transactions ordered by nonce; a block takes, account by account
** in order of arrival, the run of consecutive nonces that starts at the
** account's committed nonce. One id is admitted once. A transaction with
** the same account and nonce as a waiting one replaces it only with a
** higher max_fee. The pool is capped in count and bytes.
** int results: 0 or a negative LN_E* code (err.h).
*/
#ifndef LN_MEMPOOL_H
#define LN_MEMPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "tx.h"

typedef struct ln_mempool ln_mempool;   /* opaque */

typedef struct ln_mtx {
    uint8_t id[LN_HASH_LEN];
    char account[LN_NAME_MAX + 1];
    uint64_t nonce, max_fee, expires;
    uint8_t *bytes;                      /* the encoded transaction */
    size_t len;
} ln_mtx;

/* Tells the committed nonce of an account (0 for an unknown one). */
typedef uint64_t (*ln_nonce_fn)(const char *account, void *ud);

int    ln_mempool_new(size_t max_txs, size_t max_bytes, ln_mempool **out);
void   ln_mempool_free(ln_mempool *mp);          /* NULL is a no-op */

/* Adds a decoded, verified tx (bytes are copied). LN_EKNOWN if the id is
** there, LN_ENONCE if nonce < state_nonce, LN_EUNDERPRICED for a
** replacement whose max_fee is not higher, LN_EFULL, LN_ENOMEM. */
int    ln_mempool_add(ln_mempool *mp, const ln_tx *tx, const uint8_t *bytes, size_t len,
                      uint64_t state_nonce);
int    ln_mempool_has(const ln_mempool *mp, const uint8_t id[LN_HASH_LEN]);   /* 1 or 0 */
/* The waiting transaction with that id, or NULL; the pool's, valid until it changes. */
const ln_mtx *ln_mempool_get(const ln_mempool *mp, const uint8_t id[LN_HASH_LEN]);
size_t ln_mempool_count(const ln_mempool *mp);
/* Accounts whose first waiting transaction has the nonce they are at (as
** of the last add or prune): 0 when no transaction could go in a block,
** e.g. when all wait behind a nonce gap. */
size_t ln_mempool_ready(const ln_mempool *mp);
size_t ln_mempool_bytes(const ln_mempool *mp);

/* The nonce a new transaction of account should take: state_nonce (the
** committed one) moved past the account's waiting transactions whose nonces
** follow it without a gap. A client that sends several transactions without
** waiting for blocks takes this (RPC account_get's pending_nonce). */
uint64_t ln_mempool_next_nonce(const ln_mempool *mp, const char *account,
                               uint64_t state_nonce);

/* Fills out[] (room for max_txs) with transactions for the next block, at
** most max_bytes in all; returns how many. The entries stay owned by the
** pool until ln_mempool_remove or ln_mempool_prune. */
size_t ln_mempool_select(ln_mempool *mp, ln_nonce_fn nonce_of, void *ud,
                         size_t max_txs, size_t max_bytes, const ln_mtx **out);

/* Calls fn for every waiting transaction (account by account in order of
** arrival, nonces ascending); fn must not change the pool. Returns the count. */
size_t ln_mempool_each(const ln_mempool *mp, void (*fn)(const ln_mtx *tx, void *ud), void *ud);

/* Drops the given ids (committed). */
void   ln_mempool_remove(ln_mempool *mp, const uint8_t (*ids)[LN_HASH_LEN], size_t n);
/* Drops what can never be included: nonces below the account's committed
** nonce and transactions that expired before height. Returns the count. */
size_t ln_mempool_prune(ln_mempool *mp, uint64_t height, ln_nonce_fn nonce_of, void *ud);

#endif
