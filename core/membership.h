/*
** membership.h -- changes to who runs a chain, as the sys membership
** actions (addmember, removemember, addvalidator, removevalidator) and a
** governance policy make them: on an ln_membership in memory (genesis.h
** reads and writes the record), and the events they emit.
** int results: 0, or LN_EEXIST (a duplicate), LN_ENOTFOUND (no such entry),
** LN_EFULL (the list is full), LN_EINVAL (the last validator), with why
** "ACTION: what was wrong".
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
int  ln_membership_add_member(ln_membership *m, const uint8_t pk[LN_PK_LEN], char *why, size_t n);
int  ln_membership_remove_member(ln_membership *m, const uint8_t pk[LN_PK_LEN], char *why,
                                 size_t n);
int  ln_membership_add_validator(ln_membership *m, const char *name, const uint8_t pk[LN_PK_LEN],
                                 char *why, size_t n);
/* pk gets the removed validator's key. */
int  ln_membership_remove_validator(ln_membership *m, const char *name, uint8_t pk[LN_PK_LEN],
                                    char *why, size_t n);

#endif
