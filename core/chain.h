/*
** chain.h -- the committed chain in LevelDB: blocks, receipts and the
** transaction index, written with the block's state changes in one atomic,
** synced batch, so a crash leaves either the whole block or none of it.
**
** Keys (the state module owns "S" and "N"):
**   "B" height(8, big endian)  the block: canonical msgpack
**                              {cert, hash: bin32, header, txs: [bin...]}
**   "H" hash                   height(8, big endian)
**   "R" txid                   {height, index, receipt}
**   "Mhead"                    height(8, big endian) of the head
** Header (canonical msgpack, DESIGN "Objects"): {chain_id, consensus,
** height, prev: bin32, proposer, receipts_root: bin32, state_root: bin32,
** time, tx_root: bin32}; the block hash is BLAKE2b-256 of its encoding.
** consensus is the plugin's data (node.propose(data)), nil for most, at most
** LN_HEADER_CONS_MAX bytes of canonical msgpack.
** The block tree (forks, finality) lives beside this: tree.h.
** tx_root and receipts_root are binary Merkle roots (H(l || r), an odd node
** moves up unchanged) over the transaction ids and the receipt hashes.
** int results: 0 or a negative LN_E* code (err.h).
*/
#ifndef LN_CHAIN_H
#define LN_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "exec.h"
#include "state.h"
#include "store.h"

#include <msgpack.h>

typedef struct ln_chain ln_chain;   /* opaque */

#define LN_HEADER_CONS_MAX 512       /* bytes of the consensus plugin's header data */

typedef struct {
    char chain_id[LN_CHAIN_ID_MAX + 1];
    uint64_t height, time;
    uint32_t cons_len;               /* 0: nil */
    uint8_t cons[LN_HEADER_CONS_MAX];    /* the consensus field: msgpack, as the plugin gave it */
    uint8_t prev[LN_HASH_LEN];
    uint8_t tx_root[LN_HASH_LEN], state_root[LN_HASH_LEN], receipts_root[LN_HASH_LEN];
    char proposer[LN_NAME_MAX + 1];
} ln_header;

/* A block built on the head and executed, not yet committed. */
typedef struct {
    ln_header hdr;
    uint8_t hash[LN_HASH_LEN];
    ln_overlay *ov;                  /* its state changes */
    size_t n;                        /* included transactions */
    uint8_t **txs;
    size_t *lens;
    ln_receipt *receipts;            /* of the included ones */
    size_t refused;                  /* given but refused (not in the block) */
    uint8_t (*refused_ids)[LN_HASH_LEN];
    void *base;                      /* built off the head: what ov holds besides (tree.c) */
    uint64_t gas;                    /* used by the included transactions */
    double exec_ms, commit_ms;       /* wall time executing and committing it (the log's) */
} ln_pblock;

/* Opens DIR (created if missing). LN_ELOCKED, LN_EIO; errbuf gets the text. */
int  ln_chain_open(const char *dir, ln_chain **out, char *err, size_t errlen);
void ln_chain_close(ln_chain *c);                 /* NULL is a no-op */
ln_state *ln_chain_state(ln_chain *c);
/* Where what executing a block has to tell the operator goes (a pricing
** plugin's faults: ln_blockctx.log). */
void ln_chain_set_log(ln_chain *c, void (*log)(void *ud, const char *line), void *ud);
ln_store *ln_chain_store(ln_chain *c);

/* The head header and hash; LN_ENOTFOUND before genesis. */
int  ln_chain_head(ln_chain *c, ln_header *h, uint8_t hash[LN_HASH_LEN]);

/* Writes block 0: the state the overlay holds (accounts, registry) and a
** header with no transactions. The overlay is consumed. */
int  ln_chain_genesis(ln_chain *c, const char *chain_id, uint64_t time, ln_overlay *ov);

/* Executes txs on the head state (sigs_checked: verified at admission) and
** builds the next block, up to gas_cap gas (0: no cap; what is left over is
** neither in the block nor refused). *out is the caller's (ln_pblock_free).
** Only one pending block at a time. */
int  ln_chain_build(ln_chain *c, const char *proposer, uint64_t time,
                    const uint8_t *const *txs, const size_t *lens, size_t n,
                    int sigs_checked, uint64_t gas_cap, ln_pblock **out);
/* Commits a built block with its certificate (msgpack, may be NULL). On
** failure the chain is back at its head (memory re-read from the store) and
** that block cannot be committed again (LN_EINVAL): build a new one. */
int  ln_chain_commit(ln_chain *c, ln_pblock *b, const uint8_t *cert, size_t certlen);
void ln_pblock_free(ln_pblock *b);                /* NULL is a no-op */

int  ln_chain_block(ln_chain *c, uint64_t height, uint8_t **blk, size_t *len);
int  ln_chain_block_by_hash(ln_chain *c, const uint8_t hash[LN_HASH_LEN],
                            uint8_t **blk, size_t *len);
/* {height, index, receipt} of a committed transaction. LN_ENOTFOUND. */
int  ln_chain_receipt(ln_chain *c, const uint8_t id[LN_HASH_LEN], uint8_t **rec, size_t *len);

/* A block as peers send it, {cert?, hash, header, txs} (a proposal has no
** cert), parsed once: what its header claims, its transactions (an array
** whose items the caller checks) and its certificate (NULL: none),
** pointing into the bytes and into z. ln_block_view_free. */
typedef struct {
    msgpack_zone z;
    ln_header hdr;                   /* height, time, proposer, prev, state_root */
    uint8_t hash[LN_HASH_LEN];       /* what the block says its hash is */
    const msgpack_object *txs, *cert;
} ln_block_view;

/* 0; LN_EBADBLOCK ("malformed block") with why; or a code of shape.h for
** bytes of more than max_objects objects (or nesting too deep), refused
** before anything is built. The view is the caller's to free either way. */
int  ln_block_parse(const uint8_t *blk, size_t len, size_t max_objects, ln_block_view *v,
                    char *why, size_t whylen);
void ln_block_view_free(ln_block_view *v);

/* The bytes a block travels in between validators before it is committed:
** canonical msgpack {hash, header, txs} (a stored block without its cert).
** sb is initialised here. LN_ENOMEM. */
int  ln_pblock_bytes(const ln_pblock *b, msgpack_sbuffer *sb);

/* The canonical header encoding, and its hash. */
int  ln_header_encode(const ln_header *h, uint8_t **out, size_t *len);
void ln_header_hash(const ln_header *h, uint8_t hash[LN_HASH_LEN]);
/* Merkle root of n 32-byte leaves (zero hash for none). */
void ln_merkle_root(const uint8_t (*leaves)[LN_HASH_LEN], size_t n, uint8_t root[LN_HASH_LEN]);

#endif
