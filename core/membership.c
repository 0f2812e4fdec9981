/*
** membership.c -- the genesis record "g" as the membership actions read and
** rewrite it (see membership.h).
*/
#include <string.h>

#include "membership.h"
#include "codec.h"
#include "err.h"

static int key_is(const msgpack_object *k, const char *s)
{
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(s) &&
           memcmp(k->via.str.ptr, s, k->via.str.size) == 0;
}

int ln_membership_decode(const uint8_t *g, size_t len, ln_membership *out)
{
    msgpack_zone z;
    msgpack_object o;
    memset(out, 0, sizeof *out);
    msgpack_zone_init(&z, 2048);
    int rc = ln_codec_unpack(g, len, &z, &o);
    if (rc == 0 && o.type != MSGPACK_OBJECT_MAP) rc = LN_EIO;
    const msgpack_object *admin = rc == 0 ? ln_codec_map_get(&o, "admin") : NULL;
    const msgpack_object *vals = rc == 0 ? ln_codec_map_get(&o, "validators") : NULL;
    const msgpack_object *mems = rc == 0 ? ln_codec_map_get(&o, "members") : NULL;
    if (admin && (admin->type != MSGPACK_OBJECT_STR ||
                  !ln_name_valid(admin->via.str.ptr, admin->via.str.size)))
        rc = LN_EIO;
    if (rc == 0 && admin) memcpy(out->admin, admin->via.str.ptr, admin->via.str.size);
    if (!vals || vals->type != MSGPACK_OBJECT_ARRAY || vals->via.array.size == 0 ||
        vals->via.array.size > LN_MAX_VALIDATORS)
        rc = LN_EIO;
    for (uint32_t i = 0; rc == 0 && i < vals->via.array.size; i++) {
        const msgpack_object *name = ln_codec_map_get(&vals->via.array.ptr[i], "name");
        const msgpack_object *key = ln_codec_map_get(&vals->via.array.ptr[i], "key");
        if (!name || name->type != MSGPACK_OBJECT_STR ||
            !ln_name_valid(name->via.str.ptr, name->via.str.size) ||
            !key || key->type != MSGPACK_OBJECT_BIN || key->via.bin.size != LN_PK_LEN) {
            rc = LN_EIO;
            break;
        }
        memcpy(out->val_names[i], name->via.str.ptr, name->via.str.size);
        memcpy(out->val_keys[i], key->via.bin.ptr, LN_PK_LEN);
        out->nval = i + 1;
    }
    if (rc == 0 && mems && (mems->type != MSGPACK_OBJECT_ARRAY ||
                            mems->via.array.size > LN_MAX_MEMBERS))
        rc = LN_EIO;
    for (uint32_t i = 0; rc == 0 && mems && i < mems->via.array.size; i++) {
        const msgpack_object *key = &mems->via.array.ptr[i];
        if (key->type != MSGPACK_OBJECT_BIN || key->via.bin.size != LN_PK_LEN) {
            rc = LN_EIO;
            break;
        }
        memcpy(out->mem_keys[i], key->via.bin.ptr, LN_PK_LEN);
        out->nmem = i + 1;
    }
    msgpack_zone_destroy(&z);
    return rc < 0 ? LN_EIO : 0;
}

static int key_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

static void pack_roster_field(msgpack_packer *pk, const ln_membership *m, int validators)
{
    if (!validators) {
        msgpack_pack_str(pk, 7);
        msgpack_pack_str_body(pk, "members", 7);
        msgpack_pack_array(pk, m->nmem);
        for (uint32_t i = 0; i < m->nmem; i++) {
            msgpack_pack_bin(pk, LN_PK_LEN);
            msgpack_pack_bin_body(pk, m->mem_keys[i], LN_PK_LEN);
        }
        return;
    }
    msgpack_pack_str(pk, 10);
    msgpack_pack_str_body(pk, "validators", 10);
    msgpack_pack_array(pk, m->nval);
    for (uint32_t i = 0; i < m->nval; i++) {
        size_t nl = strlen(m->val_names[i]);
        msgpack_pack_map(pk, 2);
        msgpack_pack_str(pk, 3);
        msgpack_pack_str_body(pk, "key", 3);
        msgpack_pack_bin(pk, LN_PK_LEN);
        msgpack_pack_bin_body(pk, m->val_keys[i], LN_PK_LEN);
        msgpack_pack_str(pk, 4);
        msgpack_pack_str_body(pk, "name", 4);
        msgpack_pack_str(pk, nl);
        msgpack_pack_str_body(pk, m->val_names[i], nl);
    }
}

/* The record's other fields stay as they were, keys in canonical order;
** "members" goes when empty, as genesis leaves it out. */
int ln__membership_save(ln_overlay *ov, msgpack_sbuffer *scratch, const ln_membership *m,
                        const char *what, char *why, size_t n)
{
    static const char *const mine[2] = { "members", "validators" };
    const uint8_t *g;
    size_t gl;
    msgpack_zone z;
    msgpack_object o;
    msgpack_packer pk;
    int rc = ln_overlay_get(ov, (const uint8_t *)"g", 1, &g, &gl);
    if (rc < 0) return ln_errf(why, n, rc, "%s: %s", what, ln_strerror(rc));
    msgpack_zone_init(&z, 2048);
    rc = ln_codec_unpack(g, gl, &z, &o);
    scratch->size = 0;
    msgpack_packer_init(&pk, scratch, msgpack_sbuffer_write);
    if (rc == 0) {
        int want[2] = { m->nmem > 0, 1 }, done[2] = { 0, 0 };
        uint32_t count = (uint32_t)want[0] + (uint32_t)want[1];
        for (uint32_t i = 0; i < o.via.map.size; i++) {
            const msgpack_object *k = &o.via.map.ptr[i].key;
            if (!key_is(k, mine[0]) && !key_is(k, mine[1])) count++;
        }
        msgpack_pack_map(&pk, count);
        for (uint32_t i = 0; i < o.via.map.size; i++) {
            const msgpack_object_kv *kv = &o.via.map.ptr[i];
            if (key_is(&kv->key, mine[0]) || key_is(&kv->key, mine[1])) continue;
            for (int j = 0; j < 2; j++)
                if (want[j] && !done[j] &&
                    key_cmp(mine[j], strlen(mine[j]), kv->key.via.str.ptr, kv->key.via.str.size) < 0) {
                    pack_roster_field(&pk, m, j);
                    done[j] = 1;
                }
            msgpack_pack_object(&pk, kv->key);
            msgpack_pack_object(&pk, kv->val);
        }
        for (int j = 0; j < 2; j++)
            if (want[j] && !done[j]) pack_roster_field(&pk, m, j);
        rc = ln_codec_check((const uint8_t *)scratch->data, scratch->size);
    }
    msgpack_zone_destroy(&z);
    if (rc < 0) return ln_errf(why, n, LN_EIO, "%s: the genesis record is corrupt", what);
    rc = ln_overlay_set(ov, (const uint8_t *)"g", 1, (const uint8_t *)scratch->data,
                        scratch->size);
    if (rc < 0) return ln_errf(why, n, rc, "%s: %s", what, ln_strerror(rc));
    return 0;
}

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
