/*
** params.h -- the chain params: limits the core reads from the state at
** each block, so that governance can change them on a running chain
** (DESIGN, "Governance plugin"). A change made in block h is read from
** block h + 1 on: the core reads them from the parent's state.
**
** State key "q": canonical msgpack map of those that differ from the
** defaults below (absent: all defaults).
** int results: 0 or a negative LN_E* code (err.h).
*/
#ifndef LN_PARAMS_H
#define LN_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"

typedef struct {
    uint64_t block_gas_max;      /* gas of all a block's transactions */
    uint64_t block_bytes_max;    /* bytes of a block's transactions */
    uint64_t tx_bytes_max;       /* bytes of one transaction */
    uint64_t mempool_max;        /* transactions a node's mempool holds */
    uint64_t swap_delay;         /* blocks a swap waits when too few validators are ready */
    uint64_t unbonding_blocks;   /* blocks before unstaked balance returns */
} ln_params;

#define LN_PARAMS_COUNT 6

/* The defaults: what a chain without "q" runs with. */
void ln_params_default(ln_params *p);

/* The params in force over ov (defaults for those not set). LN_EIO when
** "q" does not decode. */
int  ln_params_load(ln_overlay *ov, ln_params *out);

/* Sets the param name to value in "q", checking its range: LN_ENOTFOUND
** for a name that is no chain param, LN_EINVAL for a value out of range,
** with the reason in why. */
int  ln_params_set(ln_overlay *ov, const char *name, uint64_t value, char *why, size_t whylen);

/* The i-th param's name (0 <= i < LN_PARAMS_COUNT) and its value in p. */
const char *ln_params_name(int i);
uint64_t    ln_params_get(const ln_params *p, int i);

#endif
