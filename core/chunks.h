/*
** chunks.h -- the process's store of compiled contract chunks: bytecode
** keyed by a 32-byte hash of the source and its chunk name, shared by every
** sandbox and thread, at most LN__CHUNKS_MAX bytes (the least recently used
** go first). Internal to the sandbox (ln_sandbox_load_cached).
*/
#ifndef LN_CHUNKS_H
#define LN_CHUNKS_H

#include <stddef.h>
#include <stdint.h>

#define LN__CHUNKS_MAX  ((size_t)64 << 20)

/* Calls use(bytes, n, ud) with the bytecode of key while holding the
** store's lock, and returns what use returned; 1 when key is not there
** (use is not called). */
int  ln__chunks_use(const uint8_t key[32],
                    int (*use)(const uint8_t *bc, size_t n, void *ud), void *ud);

/* Stores a copy of bc under key (a key already there is left as it is).
** LN_ENOMEM, or 0 (also when bc alone is over LN__CHUNKS_MAX: then nothing
** is kept). */
int  ln__chunks_put(const uint8_t key[32], const uint8_t *bc, size_t n);

/* Empties the store (tests). */
void ln__chunks_clear(void);

#endif
