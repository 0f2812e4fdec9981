/*
** membership.c -- lookups in a chain's membership and the events of the sys
** membership actions (see membership.h).
*/
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

int ln__membership_find_member(const ln_membership *m, const uint8_t pk[LN_PK_LEN])
{
    for (uint32_t i = 0; i < m->nmem; i++)
        if (memcmp(m->mem_keys[i], pk, LN_PK_LEN) == 0) return (int)i;
    return -1;
}

int ln__membership_find_validator(const ln_membership *m, const char *name, const uint8_t *pk)
{
    for (uint32_t i = 0; i < m->nval; i++)
        if ((name && strcmp(m->val_names[i], name) == 0) ||
            (pk && memcmp(m->val_keys[i], pk, LN_PK_LEN) == 0))
            return (int)i;
    return -1;
}
