/*
** membership.h -- who runs the chain, as the genesis record "g" holds it:
** canonical msgpack {admin?, chain_id, fingerprint, members?: [bin32],
** validators: [{key: bin32, name}]}. The sys actions addmember,
** removemember, addvalidator and removevalidator (contract.c) read it with
** ln_membership_decode and write it back with ln__membership_save.
** int results: 0 or a negative LN_E* code (err.h).
*/
#ifndef LN_MEMBERSHIP_H
#define LN_MEMBERSHIP_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "crypto.h"
#include "state.h"

#define LN_MAX_VALIDATORS  64
#define LN_MAX_MEMBERS     256     /* besides the validators */

typedef struct {
    char admin[LN_NAME_MAX + 1];   /* "" when the genesis names none */
    uint32_t nval, nmem;
    char val_names[LN_MAX_VALIDATORS][LN_NAME_MAX + 1];
    uint8_t val_keys[LN_MAX_VALIDATORS][LN_PK_LEN];
    uint8_t mem_keys[LN_MAX_MEMBERS][LN_PK_LEN];
} ln_membership;

/* Reads admin, validators and members of a "g" record. LN_EIO when the
** record is not one genesis or the actions above write. */
int  ln_membership_decode(const uint8_t *g, size_t len, ln_membership *out);

/* Internal to the contract host. */

/* Rewrites "g" in ov with m's validators and members, the record's other
** fields as they were; the new record is built in scratch. On error why
** holds "<what>: <reason>": LN_EIO when the record is corrupt, else the
** overlay's code. */
int  ln__membership_save(ln_overlay *ov, msgpack_sbuffer *scratch, const ln_membership *m,
                         const char *what, char *why, size_t n);
/* Appends the event {contract = "sys", data = {key, name?}, name = action}. */
void ln__membership_event(msgpack_sbuffer *ev, const char *action,
                          const uint8_t key[LN_PK_LEN], const char *name);
/* Index of the member with key pk, of the validator named name or with key
** pk (either may be NULL); -1 when none. */
int  ln__membership_find_member(const ln_membership *m, const uint8_t pk[LN_PK_LEN]);
int  ln__membership_find_validator(const ln_membership *m, const char *name, const uint8_t *pk);

#endif
