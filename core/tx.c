/* tx.c -- signed transactions: strict decoding, digest and signatures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tx.h"
#include "codec.h"
#include "err.h"

#define BAD(...) do { snprintf(tx->why, sizeof tx->why, __VA_ARGS__); return LN_EBADTX; } while (0)

static int str_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

static int check_action(ln_tx *tx, uint32_t i, const msgpack_object *a)
{
    if (a->type != MSGPACK_OBJECT_MAP || a->via.map.size != 3)
        BAD("actions[%u] must be a map {args, contract, method}", i + 1);
    const msgpack_object_kv *kv = a->via.map.ptr;   /* sorted: args, contract, method */
    if (!str_is(&kv[0].key, "args") || !str_is(&kv[1].key, "contract") ||
        !str_is(&kv[2].key, "method"))
        BAD("actions[%u] must have exactly args, contract and method", i + 1);
    if (kv[0].val.type != MSGPACK_OBJECT_ARRAY)
        BAD("actions[%u].args must be an array", i + 1);
    const msgpack_object *c = &kv[1].val, *m = &kv[2].val;
    if (c->type != MSGPACK_OBJECT_STR || !ln_name_valid(c->via.str.ptr, c->via.str.size))
        BAD("actions[%u].contract must be an account name", i + 1);
    if (m->type != MSGPACK_OBJECT_STR || m->via.str.size == 0 || m->via.str.size > 64)
        BAD("actions[%u].method must be a string of 1-64 bytes", i + 1);
    return 0;
}

static int get_u64(ln_tx *tx, const msgpack_object *v, const char *name, uint64_t *out)
{
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) BAD("%s must be an unsigned integer", name);
    *out = v->via.u64;
    return 0;
}

int ln_tx_decode(ln_tx *tx, const uint8_t *p, size_t n)
{
    memset(tx, 0, sizeof *tx);
    if (!msgpack_zone_init(&tx->zone, 2048)) return LN_ENOMEM;
    tx->size = n;
    if (n > LN_TX_MAX_BYTES) return LN_ETXSIZE;
    int rc = ln_codec_unpack(p, n, &tx->zone, &tx->root);
    if (rc < 0) return rc;
    const msgpack_object *o = &tx->root;
    static const char *const fields[] = {
        "account", "actions", "chain_id", "expires", "max_fee", "nonce", "signatures"
    };
    if (o->type != MSGPACK_OBJECT_MAP) BAD("a transaction must be a map");
    /* Unknown fields first: one may stand where a known one belongs. */
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        int known = 0;
        for (int f = 0; f < 7; f++) known |= str_is(k, fields[f]);
        if (!known) {
            char name[33];
            size_t l = k->via.str.size > 32 ? 32 : k->via.str.size;
            for (size_t j = 0; j < l; j++) {
                char ch = k->via.str.ptr[j];
                name[j] = ch >= 0x20 && ch < 0x7f ? ch : '?';
            }
            name[l] = 0;
            BAD("unknown field '%s'", name);
        }
    }
    for (int f = 0; f < 7; f++)
        if (!ln_codec_map_get(o, fields[f])) BAD("missing field '%s'", fields[f]);
    /* Seven known keys, unique and sorted: the fields are positional. */
    const msgpack_object_kv *kv = o->via.map.ptr;
    const msgpack_object *v = &kv[0].val;
    if (v->type != MSGPACK_OBJECT_STR || !ln_name_valid(v->via.str.ptr, v->via.str.size))
        BAD("account must be an account name (1-12 of a-z 0-9 .)");
    memcpy(tx->account, v->via.str.ptr, v->via.str.size);

    v = &kv[1].val;
    if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size == 0 ||
        v->via.array.size > LN_TX_MAX_ACTIONS)
        BAD("actions must be an array of 1-%d actions", LN_TX_MAX_ACTIONS);
    tx->actions = v->via.array.ptr;
    tx->nactions = v->via.array.size;
    for (uint32_t i = 0; i < tx->nactions; i++)
        if ((rc = check_action(tx, i, &tx->actions[i])) < 0) return rc;

    v = &kv[2].val;
    if (v->type != MSGPACK_OBJECT_STR || v->via.str.size == 0 ||
        v->via.str.size > LN_CHAIN_ID_MAX)
        BAD("chain_id must be a string of 1-%d bytes", LN_CHAIN_ID_MAX);
    memcpy(tx->chain_id, v->via.str.ptr, v->via.str.size);

    if ((rc = get_u64(tx, &kv[3].val, "expires", &tx->expires)) < 0) return rc;
    if ((rc = get_u64(tx, &kv[4].val, "max_fee", &tx->max_fee)) < 0) return rc;
    if ((rc = get_u64(tx, &kv[5].val, "nonce", &tx->nonce)) < 0) return rc;

    v = &kv[6].val;
    if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size == 0 ||
        v->via.array.size > LN_TX_MAX_SIGS)
        BAD("signatures must be an array of 1-%d signatures", LN_TX_MAX_SIGS);
    tx->nsigs = v->via.array.size;
    for (uint32_t i = 0; i < tx->nsigs; i++) {
        const msgpack_object *s = &v->via.array.ptr[i];
        if (s->type != MSGPACK_OBJECT_MAP || s->via.map.size != 2 ||
            !str_is(&s->via.map.ptr[0].key, "key") || !str_is(&s->via.map.ptr[1].key, "sig"))
            BAD("signatures[%u] must be a map {key, sig}", i + 1);
        const msgpack_object *k = &s->via.map.ptr[0].val, *g = &s->via.map.ptr[1].val;
        if (k->type != MSGPACK_OBJECT_BIN || k->via.bin.size != LN_PK_LEN)
            BAD("signatures[%u].key must be bin(32)", i + 1);
        if (g->type != MSGPACK_OBJECT_BIN || g->via.bin.size != LN_SIG_LEN)
            BAD("signatures[%u].sig must be bin(64)", i + 1);
        memcpy(tx->keys[i], k->via.bin.ptr, LN_PK_LEN);
        memcpy(tx->sigs[i], g->via.bin.ptr, LN_SIG_LEN);
        for (uint32_t j = 0; j < i; j++)
            if (memcmp(tx->keys[j], tx->keys[i], LN_PK_LEN) == 0) {
                snprintf(tx->why, sizeof tx->why, "signatures[%u] has the key of signatures[%u]",
                         i + 1, j + 1);
                return LN_EDUPSIG;
            }
    }

    /* The digest covers the map without `signatures`. The encoding is
    ** canonical, so that map is these very bytes with a fixmap(6) header
    ** (0x86 for 0x87) up to the fixstr header of "signatures", the last key.
    ** Strings of the decoded object point into p. */
    const uint8_t *sigkey = (const uint8_t *)kv[6].key.via.str.ptr - 1;
    if (p[0] != 0x87 || sigkey <= p || sigkey >= p + n || *sigkey != 0xaa)
        BAD("a transaction must be a map of seven fields");
    uint8_t hdr = 0x86;
    ln_hasher h;
    ln_hash_init(&h);
    ln_hash_update(&h, &hdr, 1);
    ln_hash_update(&h, p + 1, (size_t)(sigkey - (p + 1)));
    ln_hash_final(&h, tx->id);
    return 0;
}

void ln_tx_free(ln_tx *tx)
{
    msgpack_zone_destroy(&tx->zone);
}

int ln_tx_verify(const ln_tx *tx)
{
    for (uint32_t i = 0; i < tx->nsigs; i++)
        if (ln_verify(tx->keys[i], tx->sigs[i], tx->id, LN_HASH_LEN) < 0)
            return LN_EBADSIG;
    return 0;
}

void ln_tx_action(const ln_tx *tx, uint32_t i, const char **contract, size_t *cl,
                  const char **method, size_t *ml, const msgpack_object **args)
{
    const msgpack_object_kv *kv = tx->actions[i].via.map.ptr;
    *args = &kv[0].val;
    *contract = kv[1].val.via.str.ptr;
    *cl = kv[1].val.via.str.size;
    *method = kv[2].val.via.str.ptr;
    *ml = kv[2].val.via.str.size;
}

int ln_tx_sign(const uint8_t *utx, size_t n, const uint8_t (*sks)[LN_SK_LEN],
               size_t nkeys, uint8_t **out, size_t *outlen)
{
    int rc = ln_codec_check(utx, n);
    if (rc < 0) return rc;
    /* Six fields fit a fixmap; the signed map has a seventh, sorted last. */
    if (n < 1 || utx[0] != 0x86 || nkeys == 0 || nkeys > LN_TX_MAX_SIGS) return LN_EINVAL;
    uint8_t id[LN_HASH_LEN];
    ln_hash(utx, n, id);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    uint8_t hdr = 0x87;
    msgpack_sbuffer_write(&sb, (const char *)&hdr, 1);
    msgpack_sbuffer_write(&sb, (const char *)utx + 1, n - 1);
    msgpack_pack_str(&pk, 10);
    msgpack_pack_str_body(&pk, "signatures", 10);
    msgpack_pack_array(&pk, nkeys);
    for (size_t i = 0; i < nkeys; i++) {
        uint8_t sig[LN_SIG_LEN];
        ln_sign(sks[i], id, LN_HASH_LEN, sig);
        msgpack_pack_map(&pk, 2);
        msgpack_pack_str(&pk, 3);
        msgpack_pack_str_body(&pk, "key", 3);
        msgpack_pack_bin(&pk, LN_PK_LEN);
        msgpack_pack_bin_body(&pk, sks[i] + 32, LN_PK_LEN);   /* sk = seed || pk */
        msgpack_pack_str(&pk, 3);
        msgpack_pack_str_body(&pk, "sig", 3);
        msgpack_pack_bin(&pk, LN_SIG_LEN);
        msgpack_pack_bin_body(&pk, sig, LN_SIG_LEN);
    }
    if (!sb.data) return LN_ENOMEM;
    /* Never hand out a non-canonical encoding (a key sorted after
    ** "signatures" in the input would make one). */
    if ((rc = ln_codec_check((const uint8_t *)sb.data, sb.size)) < 0) {
        msgpack_sbuffer_destroy(&sb);
        return LN_EINVAL;
    }
    *out = (uint8_t *)sb.data;
    *outlen = sb.size;
    return 0;
}
