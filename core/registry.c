/* registry.c -- the plugin registry in the state (see registry.h). */
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "codec.h"
#include "err.h"
#include "registry.h"

static const char *const slot_names[LN_NSLOTS] = { "consensus", "governance", "pricing" };

const char *ln_slot_name(ln_slot s)
{
    return (unsigned)s < LN_NSLOTS ? slot_names[s] : "?";
}

int ln_slot_of(const char *name)
{
    for (int i = 0; i < LN_NSLOTS; i++)
        if (strcmp(name, slot_names[i]) == 0) return i;
    return -1;
}

void ln_plugin_ref_free(ln_plugin_ref *r)
{
    if (!r) return;
    free(r->params);
    r->params = NULL;
    r->plen = 0;
}

static size_t history_key(ln_slot slot, uint8_t *buf)
{
    size_t n = strlen(slot_names[slot]);
    buf[0] = 'r';
    memcpy(buf + 1, slot_names[slot], n);
    return n + 1;
}

static void code_key(const uint8_t hash[LN_HASH_LEN], uint8_t buf[1 + LN_HASH_LEN])
{
    buf[0] = 'k';
    memcpy(buf + 1, hash, LN_HASH_LEN);
}

/* One history entry into r (params copied). LN_EIO when it is not one. */
static int entry_read(const msgpack_object *e, ln_plugin_ref *r)
{
    const msgpack_object *from = ln_codec_map_get(e, "from");
    const msgpack_object *hash = ln_codec_map_get(e, "hash");
    const msgpack_object *params = ln_codec_map_get(e, "params");
    memset(r, 0, sizeof *r);
    if (!from || from->type != MSGPACK_OBJECT_POSITIVE_INTEGER || !hash ||
        hash->type != MSGPACK_OBJECT_BIN || hash->via.bin.size != LN_HASH_LEN ||
        ln_codec_str(ln_codec_map_get(e, "name"), r->name, sizeof r->name) < 0 ||
        !params || params->type != MSGPACK_OBJECT_MAP)
        return LN_EIO;
    r->from = from->via.u64;
    memcpy(r->hash, hash->via.bin.ptr, LN_HASH_LEN);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, *params);
    if (!sb.data) return LN_ENOMEM;
    r->params = (uint8_t *)sb.data;
    r->plen = sb.size;
    return 0;
}

int ln_registry_at(ln_overlay *ov, ln_slot slot, uint64_t height, ln_plugin_ref *out)
{
    uint8_t key[16];
    const uint8_t *v;
    size_t vl, kl = history_key(slot, key);
    int rc = ln_overlay_get(ov, key, kl, &v, &vl);
    if (rc < 0) return rc;
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 2048);
    rc = ln_codec_unpack(v, vl, &z, &o);
    if (rc < 0 || o.type != MSGPACK_OBJECT_ARRAY) rc = LN_EIO;
    const msgpack_object *found = NULL;
    for (uint32_t i = 0; rc == 0 && i < o.via.array.size; i++) {
        const msgpack_object *from = ln_codec_map_get(&o.via.array.ptr[i], "from");
        if (!from || from->type != MSGPACK_OBJECT_POSITIVE_INTEGER) rc = LN_EIO;
        else if (from->via.u64 <= height) found = &o.via.array.ptr[i];
    }
    if (rc == 0) rc = found ? entry_read(found, out) : LN_ENOTFOUND;
    msgpack_zone_destroy(&z);
    return rc;
}

int ln_registry_code(ln_overlay *ov, const uint8_t hash[LN_HASH_LEN], char **code, size_t *len)
{
    uint8_t key[1 + LN_HASH_LEN];
    const uint8_t *v;
    size_t vl;
    code_key(hash, key);
    int rc = ln_overlay_get(ov, key, sizeof key, &v, &vl);
    if (rc < 0) return rc;
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 64);
    rc = ln_codec_unpack(v, vl, &z, &o);
    if (rc == 0 && o.type == MSGPACK_OBJECT_STR) {
        if (!(*code = malloc(o.via.str.size + 1))) {
            rc = LN_ENOMEM;
        } else {
            memcpy(*code, o.via.str.ptr, o.via.str.size);
            (*code)[o.via.str.size] = 0;
            *len = o.via.str.size;
        }
    } else {
        rc = LN_EIO;
    }
    msgpack_zone_destroy(&z);
    return rc;
}

int ln_registry_install(ln_overlay *ov, ln_slot slot, const char *name, const char *code,
                        size_t len, const uint8_t *params, size_t plen, uint64_t from)
{
    size_t nl = strlen(name);
    if ((unsigned)slot >= LN_NSLOTS || nl == 0 || nl > LN_PLUGIN_NAME_MAX) return LN_EINVAL;
    if (len > LN_PLUGIN_CODE_MAX) return LN_ETOOBIG;
    uint8_t hash[LN_HASH_LEN], hkey[16], ckey[1 + LN_HASH_LEN];
    ln_hash(code, len, hash);
    size_t hkl = history_key(slot, hkey);
    const uint8_t *old = NULL;
    size_t oldlen = 0;
    int rc = ln_overlay_get(ov, hkey, hkl, &old, &oldlen);
    if (rc == LN_ENOTFOUND) rc = 0;             /* the slot's first plugin */
    if (rc < 0) return rc;

    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 2048);
    uint32_t n = 0;
    if (old) {
        rc = ln_codec_unpack(old, oldlen, &z, &o);
        if (rc < 0 || o.type != MSGPACK_OBJECT_ARRAY) rc = LN_EIO;
        else n = o.via.array.size;
        const msgpack_object *last = rc == 0 && n ? ln_codec_map_get(&o.via.array.ptr[n - 1], "from")
                                                  : NULL;
        if (rc == 0 && n && (!last || last->type != MSGPACK_OBJECT_POSITIVE_INTEGER)) rc = LN_EIO;
        else if (rc == 0 && n && from <= last->via.u64) rc = LN_EINVAL;
        else if (rc == 0 && n >= LN_REGISTRY_HISTORY) rc = LN_ETOOBIG;
    }
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (rc == 0) {
        msgpack_pack_array(&pk, n + 1);
        for (uint32_t i = 0; i < n; i++) msgpack_pack_object(&pk, o.via.array.ptr[i]);
        msgpack_pack_map(&pk, 4);
        ln_pack_str(&pk, "from");
        msgpack_pack_uint64(&pk, from);
        ln_pack_str(&pk, "hash");
        ln_pack_bin(&pk, hash, LN_HASH_LEN);
        ln_pack_str(&pk, "name");
        ln_pack_str(&pk, name);
        ln_pack_str(&pk, "params");
        if (params && plen) msgpack_sbuffer_write(&sb, (const char *)params, plen);
        else msgpack_pack_map(&pk, 0);
        rc = sb.data ? ln_codec_check((const uint8_t *)sb.data, sb.size) : LN_ENOMEM;
        if (rc < 0 && rc != LN_ENOMEM) rc = LN_EINVAL;     /* params not canonical */
    }
    msgpack_zone_destroy(&z);
    if (rc == 0) rc = ln_overlay_set(ov, hkey, hkl, (const uint8_t *)sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    if (rc < 0) return rc;
    /* The code, as a msgpack str, under its hash. */
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ln_pack_strn(&pk, code, len);
    code_key(hash, ckey);
    rc = sb.data ? ln_overlay_set(ov, ckey, sizeof ckey, (const uint8_t *)sb.data, sb.size)
                 : LN_ENOMEM;
    msgpack_sbuffer_destroy(&sb);
    return rc;
}
