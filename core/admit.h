/*
** admit.h -- admission of submitted transactions.
**
** A submission is decoded and its signatures verified on the libuv worker
** pool (handed out in chunks once per loop turn, at a lower CPU priority
** than the loop thread, where consensus runs); back on the loop the node's
** own checks and mempool take it (the host's accept). Each transaction's
** signatures are verified once per node: a block that holds a transaction
** still waiting on the pool claims its check instead of doing it twice, and
** the exact bytes that passed are remembered, so a block need not check
** them again. Bytes are known by the hash of the bytes (the id leaves the
** signatures out, so keying by id would trust different signatures).
**
** Everything here runs on the loop thread but the decoding and checks of
** the pool. int results: 0 or a negative LN_E* code (err.h).
*/
#ifndef LN_ADMIT_H
#define LN_ADMIT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "tx.h"

#define LN_ADMIT_MAX_INFLIGHT   4096          /* submissions on the pool */
#define LN_ADMIT_MAX_BYTES      (64u << 20)   /* ... and their bytes */

typedef struct ln_admit ln_admit;   /* opaque */

/* A submission's answer: 0 and its id, or an LN_E* code and a reason. */
typedef void (*ln_admit_cb)(int status, const uint8_t id[LN_HASH_LEN], const char *why, void *ud);

enum { LN_ADMIT_PEER = 1 };          /* submitted by a peer, not by a client */

typedef struct {
    void *ud;
    /* On the loop: a submission whose encoding and signatures passed. The
    ** node's checks and mempool; 0 or an LN_E* code with why. Setting
    ** *take keeps bytes (the node frees them then). flags: the submit's. */
    int (*accept)(void *ud, const ln_tx *tx, uint8_t *bytes, size_t len,
                  const uint8_t bh[LN_HASH_LEN], int flags, int *take, char *why, size_t whylen);
} ln_admit_host;

/* LN_ENOMEM. */
int  ln_admit_new(uv_loop_t *loop, const ln_admit_host *host, ln_admit **out);

/* Submissions not handed to the pool yet are answered LN_ECLOSED now, those
** on the pool when they come back; then cb(ud) runs (from the loop, or at
** once if nothing was open) and a is freed. accept is not called again. */
void ln_admit_close(ln_admit *a, void (*cb)(void *ud), void *ud);

/* Queues tx (copied). If this returns an error, cb never runs: LN_ETXSIZE,
** LN_EFULL (too many in flight: the flood waits in no queue of its own),
** LN_ECLOSED, LN_ENOMEM. */
int  ln_admit_submit(ln_admit *a, const uint8_t *tx, size_t len, int flags, ln_admit_cb cb,
                     void *ud);

/* 1 when these exact bytes (bh: their hash) passed their signature check
** on this node lately. */
int  ln_admit_verified(const ln_admit *a, const uint8_t bh[LN_HASH_LEN]);

/* The signature check of a transaction in a block: 0 at once for bytes
** that passed already, else done here or taken from the submission
** checking the same bytes on the pool. 0 or the check's LN_E* code. */
int  ln_admit_check(ln_admit *a, const uint8_t *tx, size_t len, const uint8_t bh[LN_HASH_LEN]);

/* Submissions in flight, and signature checks done at admission and for
** blocks. */
size_t ln_admit_inflight(const ln_admit *a);
void ln_admit_stats(const ln_admit *a, uint64_t *at_admission, uint64_t *in_blocks);

#endif
