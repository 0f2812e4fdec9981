/* params.c -- the chain params in the state (see params.h). */
#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "codec.h"
#include "err.h"
#include "params.h"
#include "tx.h"

/* Name, default, bounds: a bound keeps a vote from making the chain unable
** to take a block (a gas cap of 0) or a node unable to hold one. */
static const struct {
    const char *name;
    size_t off;
    uint64_t dflt, min, max;
} table[LN_PARAMS_COUNT] = {
    { "block_bytes_max",  offsetof(ln_params, block_bytes_max),  8u << 20, 64u << 10, 8u << 20 },
    { "block_gas_max",    offsetof(ln_params, block_gas_max),    500000000ull, 1000000ull, 10000000000ull },
    { "mempool_max",      offsetof(ln_params, mempool_max),      200000, 100, 1000000 },
    { "swap_delay",       offsetof(ln_params, swap_delay),       10, 1, 100000 },
    { "tx_bytes_max",     offsetof(ln_params, tx_bytes_max),     LN_TX_MAX_BYTES, 1024, LN_TX_MAX_BYTES },
    { "unbonding_blocks", offsetof(ln_params, unbonding_blocks), 100, 1, 10000000 },
};

static uint64_t *field(ln_params *p, int i) { return (uint64_t *)((char *)p + table[i].off); }

const char *ln_params_name(int i) { return i >= 0 && i < LN_PARAMS_COUNT ? table[i].name : NULL; }

uint64_t ln_params_get(const ln_params *p, int i)
{
    return *field((ln_params *)p, i);
}

void ln_params_default(ln_params *p)
{
    for (int i = 0; i < LN_PARAMS_COUNT; i++) *field(p, i) = table[i].dflt;
}

static int find(const char *name, size_t n)
{
    for (int i = 0; i < LN_PARAMS_COUNT; i++)
        if (strlen(table[i].name) == n && memcmp(table[i].name, name, n) == 0) return i;
    return -1;
}

int ln_params_load(ln_overlay *ov, ln_params *out)
{
    ln_params_default(out);
    const uint8_t *v;
    size_t vl;
    int rc = ln_overlay_get(ov, (const uint8_t *)"q", 1, &v, &vl);
    if (rc == LN_ENOTFOUND) return 0;
    if (rc < 0) return rc;
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 512);
    rc = ln_codec_unpack(v, vl, &z, &o);
    if (rc < 0 || o.type != MSGPACK_OBJECT_MAP) rc = LN_EIO;
    for (uint32_t j = 0; rc == 0 && j < o.via.map.size; j++) {
        const msgpack_object_kv *kv = &o.via.map.ptr[j];
        int i = kv->key.type == MSGPACK_OBJECT_STR ? find(kv->key.via.str.ptr, kv->key.via.str.size) : -1;
        if (i < 0 || kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER) rc = LN_EIO;
        else *field(out, i) = kv->val.via.u64;
    }
    msgpack_zone_destroy(&z);
    return rc;
}

int ln_params_set(ln_overlay *ov, const char *name, uint64_t value, char *why, size_t whylen)
{
    int i = find(name, strlen(name));
    if (i < 0) return ln_errf(why, whylen, LN_ENOTFOUND, "%s is no chain param", name);
    if (value < table[i].min || value > table[i].max)
        return ln_errf(why, whylen, LN_EINVAL, "%s must be %llu-%llu, not %llu", name,
                       (unsigned long long)table[i].min, (unsigned long long)table[i].max,
                       (unsigned long long)value);
    ln_params p;
    int rc = ln_params_load(ov, &p);
    if (rc < 0) return ln_errf(why, whylen, rc, "params: %s", ln_strerror(rc));
    *field(&p, i) = value;
    /* Only those off their default: a chain that never changed one keeps
    ** no record, and the map stays sorted (the table is). */
    uint32_t n = 0;
    for (int j = 0; j < LN_PARAMS_COUNT; j++) n += *field(&p, j) != table[j].dflt;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, n);
    for (int j = 0; j < LN_PARAMS_COUNT; j++)
        if (*field(&p, j) != table[j].dflt) {
            ln_pack_str(&pk, table[j].name);
            msgpack_pack_uint64(&pk, *field(&p, j));
        }
    rc = n ? ln_overlay_set(ov, (const uint8_t *)"q", 1, (const uint8_t *)sb.data, sb.size)
           : ln_overlay_delete(ov, (const uint8_t *)"q", 1);
    msgpack_sbuffer_destroy(&sb);
    if (rc < 0) return ln_errf(why, whylen, rc, "params: %s", ln_strerror(rc));
    return 0;
}
