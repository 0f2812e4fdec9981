/*
** membership.c -- lookups in a chain's membership and the events of the sys
** membership actions (see membership.h).
*/
#include <stdio.h>
#include <string.h>

#include "membership.h"
#include "codec.h"
#include "err.h"

void ln__membership_event(msgpack_sbuffer *ev, const char *action,
                          const uint8_t key[LN_PK_LEN], const char *name)
{
    msgpack_packer pk;
    size_t al = strlen(action);
    msgpack_packer_init(&pk, ev, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str(&pk, 8);
    msgpack_pack_str_body(&pk, "contract", 8);
    msgpack_pack_str(&pk, 3);
    msgpack_pack_str_body(&pk, "sys", 3);
    msgpack_pack_str(&pk, 4);
    msgpack_pack_str_body(&pk, "data", 4);
    msgpack_pack_map(&pk, name ? 2 : 1);
    msgpack_pack_str(&pk, 3);
    msgpack_pack_str_body(&pk, "key", 3);
    msgpack_pack_bin(&pk, LN_PK_LEN);
    msgpack_pack_bin_body(&pk, key, LN_PK_LEN);
    if (name) {
        msgpack_pack_str(&pk, 4);
        msgpack_pack_str_body(&pk, "name", 4);
        msgpack_pack_str(&pk, strlen(name));
        msgpack_pack_str_body(&pk, name, strlen(name));
    }
    msgpack_pack_str(&pk, 4);
    msgpack_pack_str_body(&pk, "name", 4);
    msgpack_pack_str(&pk, al);
    msgpack_pack_str_body(&pk, action, al);
}

static int find_member(const ln_membership *m, const uint8_t pk[LN_PK_LEN])
{
    for (uint32_t i = 0; i < m->nmem; i++)
        if (memcmp(m->mem_keys[i], pk, LN_PK_LEN) == 0) return (int)i;
    return -1;
}

/* The validator named name or with key pk (either may be NULL); -1: none. */
static int find_validator(const ln_membership *m, const char *name, const uint8_t *pk)
{
    for (uint32_t i = 0; i < m->nval; i++)
        if ((name && strcmp(m->val_names[i], name) == 0) ||
            (pk && memcmp(m->val_keys[i], pk, LN_PK_LEN) == 0))
            return (int)i;
    return -1;
}

int ln_membership_add_member(ln_membership *m, const uint8_t pk[LN_PK_LEN], char *why, size_t n)
{
    char hex[2 * LN_PK_LEN + 1];
    ln_hex(pk, LN_PK_LEN, hex);
    if (find_member(m, pk) >= 0)
        return ln_errf(why, n, LN_EEXIST, "addmember: %.16s... is a member already", hex);
    if (m->nmem >= LN_MAX_MEMBERS)
        return ln_errf(why, n, LN_EFULL, "addmember: there are %d members, the most there may be",
                       LN_MAX_MEMBERS);
    memcpy(m->mem_keys[m->nmem++], pk, LN_PK_LEN);
    return 0;
}

int ln_membership_remove_member(ln_membership *m, const uint8_t pk[LN_PK_LEN], char *why, size_t n)
{
    char hex[2 * LN_PK_LEN + 1];
    ln_hex(pk, LN_PK_LEN, hex);
    int i = find_member(m, pk);
    if (i < 0) return ln_errf(why, n, LN_ENOTFOUND, "removemember: %.16s... is not a member", hex);
    memmove(m->mem_keys[i], m->mem_keys[i + 1], (m->nmem - (uint32_t)i - 1) * LN_PK_LEN);
    m->nmem--;
    return 0;
}

int ln_membership_add_validator(ln_membership *m, const char *name, const uint8_t pk[LN_PK_LEN],
                                char *why, size_t n)
{
    char hex[2 * LN_PK_LEN + 1];
    ln_hex(pk, LN_PK_LEN, hex);
    if (find_validator(m, name, NULL) >= 0)
        return ln_errf(why, n, LN_EEXIST, "addvalidator: %s is a validator already", name);
    int i = find_validator(m, NULL, pk);
    if (i >= 0)
        return ln_errf(why, n, LN_EEXIST, "addvalidator: key %.16s... is validator %s's already",
                       hex, m->val_names[i]);
    if (m->nval >= LN_MAX_VALIDATORS)
        return ln_errf(why, n, LN_EFULL,
                       "addvalidator: there are %d validators, the most there may be",
                       LN_MAX_VALIDATORS);
    snprintf(m->val_names[m->nval], sizeof m->val_names[m->nval], "%s", name);
    memcpy(m->val_keys[m->nval++], pk, LN_PK_LEN);
    return 0;
}

int ln_membership_remove_validator(ln_membership *m, const char *name, uint8_t pk[LN_PK_LEN],
                                   char *why, size_t n)
{
    int i = find_validator(m, name, NULL);
    if (i < 0) return ln_errf(why, n, LN_ENOTFOUND, "removevalidator: %s is not a validator", name);
    if (m->nval == 1)
        return ln_errf(why, n, LN_EINVAL,
                       "removevalidator: %s is the last validator; a chain needs one", name);
    memcpy(pk, m->val_keys[i], LN_PK_LEN);
    memmove(m->val_names[i], m->val_names[i + 1],
            (m->nval - (uint32_t)i - 1) * sizeof m->val_names[0]);
    memmove(m->val_keys[i], m->val_keys[i + 1], (m->nval - (uint32_t)i - 1) * LN_PK_LEN);
    m->nval--;
    return 0;
}
