/*
** membership.h -- what the sys membership actions (addmember, removemember,
** addvalidator, removevalidator; contract.c) share: lookups in the
** membership of the genesis record (genesis.h, which reads and writes it)
** and the events the actions emit. Internal to the contract host.
*/
#ifndef LN_MEMBERSHIP_H
#define LN_MEMBERSHIP_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "genesis.h"

/* Appends the event {contract = "sys", data = {key, name?}, name = action}. */
void ln__membership_event(msgpack_sbuffer *ev, const char *action,
                          const uint8_t key[LN_PK_LEN], const char *name);
/* Index of the member with key pk, of the validator named name or with key
** pk (either may be NULL); -1 when none. */
int  ln__membership_find_member(const ln_membership *m, const uint8_t pk[LN_PK_LEN]);
int  ln__membership_find_validator(const ln_membership *m, const char *name, const uint8_t *pk);

#endif
