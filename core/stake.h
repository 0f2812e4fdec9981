/*
** stake.h -- native balance bonded as stake (DESIGN, "Staking"): each
** account's stake and unbonding entries, the chain's total, and the end of
** block step that returns unbonded amounts to their balances.
**
** State keys (values canonical msgpack):
**   "t" NAME   {stake: uint, unbonding: [{amount: uint, at: uint}]} (absent:
**              no stake; unbonding left out when empty)
**   "t"        the total stake of all accounts (uint; absent: 0)
**   "u" AT     the accounts with an unbonding entry due at height AT (8
**              bytes, big endian): an array of names, sorted
** bond moves balance to stake; unbond moves stake to an unbonding entry due
** at the height it is given (the caller's height + unbonding_blocks), and
** at the end of that block ln_stake_release puts it back in the balance.
** Everything is read from the overlay: every node decides alike.
** int results: 0 or a negative LN_E* code (err.h); LN_EIO when a record
** does not decode.
*/
#ifndef LN_STAKE_H
#define LN_STAKE_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"

#define LN_UNBONDING_MAX 32            /* unbonding entries an account may have */

typedef struct {
    uint64_t amount, at;
} ln_unbond;

typedef struct {
    uint64_t stake;
    uint32_t nunbonding;
    ln_unbond unbonding[LN_UNBONDING_MAX];
} ln_stake;

/* name's record; all zero when it has none. */
int ln_stake_load(ln_overlay *ov, const char *name, ln_stake *out);

/* The total stake into *total. */
int ln_stake_total(ln_overlay *ov, uint64_t *total);

/* An amount kept under key of its own (a msgpack uint; the total stake,
** vote.c's weights): *out 0 when absent, LN_EIO when it is not an amount. */
int ln_stake_amount_get(ln_overlay *ov, const uint8_t *key, size_t kl, uint64_t *out);
/* The amount under key += add - sub; 0 deletes the key. LN_EIO when sub
** passes what is there: the state disagrees with itself. */
int ln_stake_amount_add(ln_overlay *ov, const uint8_t *key, size_t kl, uint64_t add,
                        uint64_t sub);

/* Moves amount (> 0) of name's balance to its stake. LN_ENOACCOUNT,
** LN_EBALANCE with why. */
int ln_stake_bond(ln_overlay *ov, const char *name, uint64_t amount, char *why, size_t whylen);

/* Moves amount (> 0) of name's stake to an unbonding entry due at height
** at. LN_EBALANCE (less stake than that), LN_EFULL (LN_UNBONDING_MAX
** entries already) with why. */
int ln_stake_unbond(ln_overlay *ov, const char *name, uint64_t amount, uint64_t at,
                    char *why, size_t whylen);

/* Burns percent (0..100) of name's bonded stake, rounded down, into
** *burned; its unbonding entries are left. */
int ln_stake_slash(ln_overlay *ov, const char *name, uint64_t percent, uint64_t *burned);

/* The end of block height: the entries due at height go back to their
** accounts' balances. */
int ln_stake_release(ln_overlay *ov, uint64_t height);

#endif
