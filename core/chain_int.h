/*
** chain_int.h -- what chain.c shares with tree.c (the block tree): the chain
** struct, the block build on any parent's state and the records' helpers.
** Not a public face: chain.h and tree.h are.
*/
#ifndef LN_CHAIN_INT_H
#define LN_CHAIN_INT_H

#include "chain.h"

struct ln_chain {
    ln_store *st;
    ln_state *state;
    int has_head;
    int broken;                      /* memory may be ahead of disk: refuse writes */
    ln_header head;
    uint8_t head_hash[LN_HASH_LEN];
    int forks;                       /* blocks may be reverted until finalized (tree.h) */
    uint64_t final;                  /* the height of the last final block */
    void (*log)(void *ud, const char *line);
    void *log_ud;
};

static inline void ln__be64(uint64_t v, uint8_t *out)
{
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)(v >> (56 - 8 * i));
}

static inline uint64_t ln__rd_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

/* h->cons from a header's consensus object (NULL or nil: none). LN_EBADBLOCK
** past LN_HEADER_CONS_MAX bytes. */
int  ln__header_cons(const msgpack_object *o, ln_header *h);
/* The header and hash of a stored block's bytes. LN_EIO. */
int  ln__chain_parse_stored(const uint8_t *blk, size_t bl, ln_header *h);

/* Builds a block on parent (hash phash) over ov, which reads as parent's
** state; ov is taken (b->ov, or freed on error). */
int  ln__chain_build(ln_chain *c, const ln_header *parent, const uint8_t phash[LN_HASH_LEN],
                     ln_overlay *ov, const char *proposer, uint64_t time,
                     const uint8_t *cons, size_t clen, const uint8_t *const *txs,
                     const size_t *lens, size_t n, int sigs_checked, uint64_t gas_cap,
                     ln_pblock **out);
/* The stored bytes of a block: {cert, hash, header, txs}. sb is initialised. */
int  ln__chain_encode_block(const ln_header *h, const uint8_t hash[LN_HASH_LEN],
                            uint8_t *const *txs, const size_t *lens, size_t n,
                            const uint8_t *cert, size_t certlen, msgpack_sbuffer *sb);
/* The "R" value of receipt i of a block at height: {height, index, receipt}. */
int  ln__chain_receipt_value(uint64_t height, size_t i, const ln_receipt *r, msgpack_sbuffer *sb);
/* After a failed store commit: the state again as the store holds it. */
void ln__chain_reload_state(ln_chain *c);

/* tree.c: the records of a block committed on the head, into batch before
** its overlay is folded in: "T" and "C", and "U" (its writes and receipts)
** while blocks may be reverted, else "Mfinal". */
int  ln__tree_commit(ln_chain *c, ln_batch *batch, const ln_pblock *b);
/* "T" (the header by hash) and "C" (the hash by height) of a block on the
** head's chain; final: also "Mfinal" at its height. */
void ln__tree_index(ln_batch *batch, const ln_header *h, const uint8_t hash[LN_HASH_LEN], int final);
/* The final height as stored ("Mfinal"; absent: the head's). */
int  ln__tree_open(ln_chain *c);
/* Frees what ln_chain_build_on keeps in a block (b->base). */
void ln__tree_base_free(void *base);

#endif
