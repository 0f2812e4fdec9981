/*
** p2p_frame.h -- the typed frames of the P2P protocol (p2p.h says who
** sends which, and when): their C form, encoding and decoding.
**
** A frame is one msgpack map; its string field `t` names the type. Decoding
** reads what the type needs and nothing else: a field that is missing or of
** the wrong type reads as absent (the frame is then ignored by its
** handler), so a frame from a newer peer with more fields still works.
** Decoded bytes and strings point into the frame's buffer: the frame must
** outlive the decoded form. int results: 0 or a negative LN_E* code.
*/
#ifndef LN_P2P_FRAME_H
#define LN_P2P_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "crypto.h"
#include "tx.h"

#define LN_P2P_ADDR_MAX   64            /* "host:port", with its NUL */
#define LN_P2P_TYPE_MAX   17            /* bytes of t (1-16), with its NUL */

enum {
    LN_P2P_UNKNOWN = 0,                 /* a t this build does not know */
    LN_P2P_CONSENSUS,                   /* "p" */
    LN_P2P_TX,                          /* "tx" */
    LN_P2P_TXS,                         /* "txs" */
    LN_P2P_BLK,                         /* "blk" */
    LN_P2P_HEAD,                        /* "head" */
    LN_P2P_GET,                         /* "get" */
    LN_P2P_ADDR                         /* "addr" */
};

typedef struct {
    const uint8_t *p;                   /* NULL: absent */
    size_t n;
} ln_p2p_bytes;

typedef struct {
    char addr[LN_P2P_ADDR_MAX];
    const uint8_t *key;                 /* LN_PK_LEN bytes */
} ln_p2p_addr;

typedef struct {
    int type;
    /* p */
    char from[LN_NAME_MAX + 1];         /* "" when absent */
    ln_p2p_bytes m;
    const uint8_t *sig;                 /* LN_SIG_LEN bytes, or NULL */
    /* tx (ntxs <= 1), txs: the entries that are bin, in order */
    ln_p2p_bytes *txs;
    size_t ntxs;
    /* blk: b (the block), h (the sender's head), n (the block's height) */
    ln_p2p_bytes b;
    uint64_t h, n;                      /* 0 when absent; also head's h */
    int has_h, last;
    /* get */
    uint64_t from_height;
    int has_from;
    /* addr: the well-formed entries among the first max_addrs */
    ln_p2p_addr *addrs;
    size_t naddrs;
    msgpack_unpacked u;                 /* what the fields point into */
} ln_p2p_frame;

/* Decodes a frame. LN_EINVAL when it is not a msgpack map whose t is a
** string of 1 to LN_P2P_TYPE_MAX - 1 bytes (the sender is to be dropped);
** LN_ENOMEM. An unknown t gives 0 and type LN_P2P_UNKNOWN. On 0 the caller
** calls ln_p2p_frame_free. */
int  ln_p2p_frame_decode(const uint8_t *p, size_t n, size_t max_addrs, ln_p2p_frame *f);
void ln_p2p_frame_free(ln_p2p_frame *f);

/* Encoders: each initialises sb (msgpack_sbuffer_destroy by the caller) and
** writes one frame; sb->data is NULL when out of memory. */
void ln_p2p_frame_consensus(msgpack_sbuffer *sb, const char *from, const uint8_t *m, size_t len,
                            const uint8_t *sig);   /* sig NULL: no sig field */
void ln_p2p_frame_txs(msgpack_sbuffer *sb, uint8_t *const *txs, const size_t *lens, size_t k,
                      size_t bytes);               /* bytes: their total, to size the buffer */
void ln_p2p_frame_blk(msgpack_sbuffer *sb, const uint8_t *blk, size_t len, uint64_t head,
                      uint64_t height, int last);
void ln_p2p_frame_head(msgpack_sbuffer *sb, uint64_t height);
void ln_p2p_frame_get(msgpack_sbuffer *sb, uint64_t from);
void ln_p2p_frame_addr(msgpack_sbuffer *sb, const ln_p2p_addr *a, size_t k);

#endif
