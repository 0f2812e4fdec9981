/*
** valset.h -- the validator set elected by stake for the consensus plugin
** registered as `pos` (DESIGN, "Consensus plugin"), the jail, and the
** evidence of double signing that slashes and jails (sys.evidence).
**
** The election lives here, in the execution of blocks, not in the plugin:
** it reads only the state, so every node and a node syncing from genesis
** get the same set. At the end of block h, when the plugin in force at
** h + 1 is pos:
**   - no set recorded yet (genesis, or a swap to pos): one is elected and in
**     force from h + 1;
**   - h a multiple of `epoch`: one is elected and in force from h + 2.
** Candidates are the validators of "g" (genesis.h) with stake, not jailed;
** the set is the top `max_validators` of them by stake (ties: by name),
** listed by name. Power is the stake, shifted right as far as needed for
** the set's total to stay under 2^40 (exact in a Lua number), at least 1.
** Without any staked candidate the set is every validator not jailed (all
** of them if every one is), power 1 each. When the plugin in force is not
** pos the record is dropped: the node goes back to "g"'s validators.
**
** State keys (values canonical msgpack):
**   "v"        the sets, oldest first, at most two: [{from, set: [{name,
**              power}]}]; the set in force at height H is the last with
**              from <= H
**   "j" NAME   {at, until}: punished at block `at`, jailed below `until`
**
** Evidence {validator, height, round, type = "pv"|"pc", a = {hash, sig},
** b = {hash, sig}}: two votes of one validator at one height, round and
** type for different blocks (hash: 64 hex digits, or "" for nil; sig: 64
** bytes or 128 hex digits), each an ed25519 signature by the validator's
** key in "g" of the bytes pos signs:  "lunet-pos|TYPE|HEIGHT|ROUND|HASH".
** Valid evidence burns `slash_percent` of the validator's bonded stake
** (its unbonding entries are left), jails it for `jail_blocks` and takes it
** out of every set recorded (unless it is a set's last member). Evidence
** for a height at or below the block of its last punishment is refused.
**
** Under dpos (consensus/dpos.lua), evidence {validator, type = "blk",
** a = {header, sig}, b = {header, sig}}: two block headers (their canonical
** encodings, chain.h) of this chain proposed by the validator at one height
** for one slot (the s of their consensus data) with different hashes, sig
** each an ed25519 signature by its key of the hash in hex (dpos's
** certificate). A producer never makes two blocks in one slot, so this is
** proof. The same punishment with dpos's `slash_percent` and `jail_blocks`;
** the height of the evidence is the headers'. A jailed validator is left out
** of the producers' ranking (vote.h) until its jail ends.
** int results: 0 or a negative LN_E* code (err.h), with why where given.
*/
#ifndef LN_VALSET_H
#define LN_VALSET_H

#include <stddef.h>
#include <stdint.h>

#include "genesis.h"
#include "state.h"

#define LN_POWER_TOTAL_MAX (1ull << 40)

/* pos's params as the core reads them from the registry (defaults when a
** param is absent or out of range: the plugin's init refuses those). */
typedef struct {
    int on;                        /* the plugin in force is pos */
    uint64_t epoch, max_validators, slash_percent, jail_blocks;
    int dpos;                      /* it is dpos (slash_percent, jail_blocks are its) */
} ln_pos_params;

typedef struct {
    uint64_t from;
    uint32_t n;
    char names[LN_MAX_VALIDATORS][LN_NAME_MAX + 1];
    uint64_t power[LN_MAX_VALIDATORS];
} ln_valset;

/* pos's params at height (the consensus plugin in force there). */
int ln_pos_params_at(ln_overlay *ov, uint64_t height, ln_pos_params *out);

/* The set in force at height. LN_ENOTFOUND when none is recorded. */
int ln_valset_at(ln_overlay *ov, uint64_t height, ln_valset *out);

/* The end of block height (after the registry's swaps): the election above. */
int ln_valset_end_block(ln_overlay *ov, uint64_t height);

/* name's jail: *until 0 when it was never punished. */
int ln_valset_jail(ln_overlay *ov, const char *name, uint64_t *at, uint64_t *until);

typedef struct {
    char validator[LN_NAME_MAX + 1];
    char type[4];                  /* "pv", "pc" or "blk" */
    uint64_t height, round;
    char hash[2][65];              /* "" for a nil vote */
    uint8_t sig[2][64];
    const uint8_t *header[2];      /* "blk": the two headers' encodings */
    size_t hlen[2];
} ln_evidence;

#define LN_EVIDENCE_HEADER_MAX 2048   /* bytes of a "blk" header: nine fields, consensus data up to 512 */

/* A "blk" evidence's header as it is carried, s[0..n) (need not end in a
** NUL): its bytes, or those bytes in hex (what JSON can carry; a header
** starts with a map's byte, never a hex digit). Its bytes into buf, *len
** their count. LN_ETOOBIG over LN_EVIDENCE_HEADER_MAX bytes. */
int ln_valset_header_bytes(const char *s, size_t n, uint8_t buf[LN_EVIDENCE_HEADER_MAX], size_t *len);

/* The height of a block header's canonical bytes; LN_EINVAL when they are
** not a header. */
int ln_valset_header_height(const uint8_t *p, size_t n, uint64_t *height);

/* Judges e in block height and, when it proves a double signature,
** punishes: *slashed gets the stake burned, *until the jail's end.
** LN_EINVAL (pos, or for "blk" dpos, not in force; same hash; height ahead;
** "blk": not a header of this chain by the validator, other heights or
** slots), LN_ENOTFOUND (unknown validator), LN_EBADSIG, LN_EEXIST (punished
** already). */
int ln_valset_evidence(ln_overlay *ov, uint64_t height, const ln_evidence *e,
                       uint64_t *slashed, uint64_t *until, char *why, size_t whylen);

#endif
