/*
** pmem.h -- a plugin's crash-safe memory (node.persist / node.recall), kept
** by the node beside the chain, not in the state: a value is durable when
** ln_pmem_put returns. Small values go to LevelDB under "P" KEY; values of
** LN_PMEM_FILE_BYTES or more (a BFT lock holds its block) to a file of
** their own, HOME/plugin/HEX(KEY), written under a temporary name, synced
** and renamed into place (LevelDB would copy them through its log, memtable
** and compactions at every height). The LevelDB record of a big value is a
** marker byte (0xc1, never the first byte of msgpack), so a later small
** value replaces it. int results: 0 or a negative LN_E* code.
*/
#ifndef LN_PMEM_H
#define LN_PMEM_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define LN_PMEM_FILE_BYTES (64u << 10)
#define LN_PMEM_KEY_MAX    64          /* bytes of a key */

/* LN_ETOOBIG for a key over LN_PMEM_KEY_MAX, LN_EIO. */
int ln_pmem_put(ln_store *st, const char *home, const char *key, const uint8_t *v, size_t len);

/* *v is the caller's (free()), values up to max bytes. LN_ENOTFOUND. */
int ln_pmem_get(ln_store *st, const char *home, const char *key, size_t max, uint8_t **v,
                size_t *len);

#endif
