/*
** tree.h -- the block tree beside the committed chain (chain.h): blocks a
** consensus plugin may still revert, blocks of other branches, the choice of
** the head, and finality.
**
** A chain is in fork mode (ln_chain_set_forks) under a plugin whose blocks
** can fork before they are final (pow); otherwise every committed block is
** final at once (poa, bft) and nothing here is needed but the final height.
**
** Every block, canonical or not, was executed once, on its parent's state;
** what it changed is kept until it is final, so that the head moves to any
** block of the tree without executing anything again:
**   "T" hash            its header (canonical msgpack, what the hash hashes)
**   "C" height(8)       the hash of the head's chain at that height
**   "X" hash            a block off the head's chain (bytes as "B" holds them)
**   "Y" height(8) hash  "" : the blocks off the head's chain, by height
**   "U" hash            until final: the "S" keys it changed, each with the
**                       value before and after (absent: none), and its
**                       receipts (the "R" values), in this binary layout:
**                         u32 n, n x { u16 kl, key, u8 has (1: before,
**                         2: after), [u32 len, before], [u32 len, after] },
**                         u32 m, m x { txid(32), u32 len, R value }
**   "Mfinal"            height(8) of the last final block
** Moving the head from block a to block b (ln_chain_choose) rewinds "S"
** with the before-values of the blocks from a down to the common ancestor
** and replays the after-values up to b, in one overlay: its commit writes
** the tree nodes of b's root (nodes are kept by hash, so the old ones stay
** valid), and the same batch moves the blocks between "B" and "X", rewrites
** "C", "H", "R" and "Mhead": a crash leaves the node on one branch or the
** other. The state root is checked against b's header before the write.
** int results: 0 or a negative LN_E* code (err.h).
*/
#ifndef LN_TREE_H
#define LN_TREE_H

#include "chain.h"

/* Fork mode on or off (off: a block is final once committed). */
void ln_chain_set_forks(ln_chain *c, int on);
int  ln_chain_forks(const ln_chain *c);
uint64_t ln_chain_final(const ln_chain *c);       /* the final height */

/* What the tree knows of a block: its header, whether it is on the head's
** chain and whether it is final. LN_ENOTFOUND. */
typedef struct {
    ln_header hdr;
    int canonical, final;
} ln_tree_info;
int  ln_chain_info(ln_chain *c, const uint8_t hash[LN_HASH_LEN], ln_tree_info *out);
/* The hash of the head's chain at height. LN_ENOTFOUND. */
int  ln_chain_hash_at(ln_chain *c, uint64_t height, uint8_t hash[LN_HASH_LEN]);

/* Builds a block on the known block parent (the head or any block of the
** tree not below the final one), as ln_chain_build does on the head, with
** the consensus plugin's header data cons (msgpack, clen 0: nil).
** LN_EORPHAN: parent unknown; LN_EFINAL: parent below the final block. */
int  ln_chain_build_on(ln_chain *c, const uint8_t parent[LN_HASH_LEN], const char *proposer,
                       uint64_t time, const uint8_t *cons, size_t clen,
                       const uint8_t *const *txs, const size_t *lens, size_t n,
                       int sigs_checked, uint64_t gas_cap, ln_pblock **out);

/* An overlay that reads as the state after block `hash` (the head or any
** block of the tree not below the final one); the caller frees it. Its
** writes go nowhere. LN_EORPHAN: unknown block; LN_EFINAL: below the final
** block. */
int  ln_chain_state_at(ln_chain *c, const uint8_t hash[LN_HASH_LEN], ln_overlay **out);

/* Stores a block built with ln_chain_build_on in the tree, with its
** certificate, without moving the head (fork mode only: LN_EINVAL
** otherwise). A block known already: 0. b stays the caller's. */
int  ln_chain_import(ln_chain *c, ln_pblock *b, const uint8_t *cert, size_t certlen);

/* The head moves to block `hash` (see above). out (may be NULL) gets what
** changed; its arrays are the caller's (ln_reorg_free). LN_ENOTFOUND:
** unknown block; LN_EFINAL: it would revert a final block; LN_EIO: the
** store failed (the chain is then as it was). */
typedef struct {
    uint64_t from_height, to_height, ancestor;   /* ancestor: the common one's height */
    uint8_t from[LN_HASH_LEN], to[LN_HASH_LEN];
    size_t nreverted, napplied;
    uint8_t (*reverted)[LN_HASH_LEN];    /* from the old head down */
    uint8_t (*applied)[LN_HASH_LEN];     /* up to the new head */
} ln_reorg;
int  ln_chain_choose(ln_chain *c, const uint8_t hash[LN_HASH_LEN], ln_reorg *out);
void ln_reorg_free(ln_reorg *r);

/* Block `hash` of the head's chain and its ancestors are final: never
** reverted. Branches that leave the head's chain at or below it are
** deleted, and so are the before-values of the blocks now final. A block
** at or below the final height: no-op. LN_EINVAL: not on the head's chain
** (or not in fork mode). */
int  ln_chain_finalize(ln_chain *c, const uint8_t hash[LN_HASH_LEN]);

/* Calls fn for each block off the head's chain still kept ("Y": not yet
** pruned), lowest height first. LN_EIO. */
int  ln_chain_each_off(ln_chain *c, void (*fn)(void *ud, const uint8_t hash[LN_HASH_LEN],
                                                 uint64_t height), void *ud);

/* The receipts kept for block `hash` ("U"): calls fn with each txid and
** "R" value. LN_ENOTFOUND (final, or unknown). */
int  ln_chain_block_receipts(ln_chain *c, const uint8_t hash[LN_HASH_LEN],
                             void (*fn)(void *ud, const uint8_t id[LN_HASH_LEN],
                                        const uint8_t *rv, size_t rl), void *ud);

#endif
