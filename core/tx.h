/*
** tx.h -- signed transactions: strict decoding, digest, signature checks.
**
** The wire format (DESIGN, "Wire format") is a canonical msgpack map
**   {account: str, actions: [{args: [...], contract: str, method: str}],
**    chain_id: str, expires: uint, max_fee: uint, nonce: uint,
**    signatures: [{key: bin(32), sig: bin(64)}]}
** The digest is BLAKE2b-256 of the same map without `signatures`; the
** transaction id is that digest. Unknown fields are refused.
** int results: 0 or a negative LN_E* code (err.h).
*/
#ifndef LN_TX_H
#define LN_TX_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "crypto.h"

#define LN_TX_MAX_BYTES    (128u * 1024)
#define LN_TX_MAX_SIGS     8
#define LN_TX_MAX_ACTIONS  16
#define LN_CHAIN_ID_MAX    64

typedef struct ln_tx {
    msgpack_zone zone;
    msgpack_object root;
    char account[LN_NAME_MAX + 1];
    char chain_id[LN_CHAIN_ID_MAX + 1];
    uint64_t nonce, expires, max_fee;
    const msgpack_object *actions;          /* each a checked action map */
    uint32_t nactions;
    uint32_t nsigs;
    uint8_t keys[LN_TX_MAX_SIGS][LN_PK_LEN];
    uint8_t sigs[LN_TX_MAX_SIGS][LN_SIG_LEN];
    uint8_t id[LN_HASH_LEN];                /* the digest */
    size_t size;                            /* encoded bytes */
    char why[160];                          /* what was wrong, on LN_EBADTX */
} ln_tx;

/* Decodes and checks the shape of a signed transaction; computes its id.
** Codec errors (LN_ETRUNC, LN_ENONCANON, ...), LN_ETXSIZE, LN_EBADTX (tx->why
** says which field), LN_EDUPSIG. The zone is released by ln_tx_free even on
** failure. Signatures are not verified here. */
int  ln_tx_decode(ln_tx *tx, const uint8_t *p, size_t n);
void ln_tx_free(ln_tx *tx);

/* Every signature over the id: 0 or LN_EBADSIG. */
int  ln_tx_verify(const ln_tx *tx);

/* Reads action i: borrowed pointers into the transaction. */
void ln_tx_action(const ln_tx *tx, uint32_t i, const char **contract, size_t *cl,
                  const char **method, size_t *ml, const msgpack_object **args);

/* Signs an unsigned canonical encoding (the map without `signatures`) with
** the given secret keys and returns the signed encoding, malloc()ed. */
int  ln_tx_sign(const uint8_t *unsigned_tx, size_t n, const uint8_t (*sks)[LN_SK_LEN],
                size_t nkeys, uint8_t **out, size_t *outlen);

#endif
