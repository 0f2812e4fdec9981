/*
** mine.h -- the proof-of-work nonce search: a nonce n such that
** H(bytes || n as 8 bytes, big endian) is below a target (both 32 bytes,
** compared big endian), H being BLAKE2b-256 (ln_hash). The search runs on
** libuv's worker pool, one job at a time per miner, so the loop (RPC, P2P)
** never waits for it; a job tries at most LN_MINE_MAX_TRIES nonces, so a
** node that closes waits at most that long for it.
** int results: 0 or a negative LN_E* code (err.h).
*/
#ifndef LN_MINE_H
#define LN_MINE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "crypto.h"

#define LN_MINE_MAX_TRIES  (1u << 20)     /* nonces in one job (~0.3 s here) */
#define LN_MINE_MAX_BYTES  1024           /* bytes hashed before the nonce */

/* Tries nonces from..from+tries-1 (stops short of 2^64): 1 with the first
** that works and its hash, 0 when none does. Pure; any thread. */
int  ln_mine_search(const uint8_t *bytes, size_t len, const uint8_t target[LN_HASH_LEN],
                    uint64_t from, uint64_t tries, uint64_t *nonce, uint8_t hash[LN_HASH_LEN]);

/* The hash of bytes || nonce (what ln_mine_search compares). */
void ln_mine_hash(const uint8_t *bytes, size_t len, uint64_t nonce, uint8_t hash[LN_HASH_LEN]);

typedef struct ln_miner ln_miner;   /* opaque */

/* The end of a job, on the loop: found (1) with the nonce and its hash, or
** not (0); next is the first nonce it did not try. */
typedef void (*ln_mine_cb)(int found, uint64_t nonce, const uint8_t hash[LN_HASH_LEN],
                           uint64_t next, void *ud);

int  ln_miner_new(uv_loop_t *loop, ln_mine_cb cb, void *ud, ln_miner **out);
/* Starts a job (tries capped at LN_MINE_MAX_TRIES). A job started while
** another runs replaces it: the one running ends unheard. LN_ETOOBIG for
** more than LN_MINE_MAX_BYTES, LN_ECLOSED once closing, LN_ENOMEM. */
int  ln_miner_start(ln_miner *m, const uint8_t *bytes, size_t len,
                    const uint8_t target[LN_HASH_LEN], uint64_t from, uint64_t tries);
/* No callback after this; closed(ud) runs once no job is left on a worker
** (at once when none is), and the miner is freed before it. */
void ln_miner_close(ln_miner *m, void (*closed)(void *ud), void *ud);

#endif
