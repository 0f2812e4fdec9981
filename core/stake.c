/* stake.c -- bonded balance, the total and unbonding (see stake.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stake.h"
#include "account.h"
#include "codec.h"
#include "err.h"

#define NAMES_MAX 4096                 /* accounts due at one height */

static size_t stake_key(const char *name, uint8_t *buf)
{
    size_t n = strlen(name);
    buf[0] = 't';
    memcpy(buf + 1, name, n);
    return n + 1;
}

static void due_key(uint64_t at, uint8_t buf[9])
{
    buf[0] = 'u';
    for (int i = 0; i < 8; i++) buf[1 + i] = (uint8_t)(at >> (56 - 8 * i));
}

static int get_uint(const msgpack_object *o, const char *k, uint64_t *v)
{
    const msgpack_object *x = ln_codec_map_get(o, k);
    if (!x || x->type != MSGPACK_OBJECT_POSITIVE_INTEGER) return LN_EIO;
    *v = x->via.u64;
    return 0;
}

int ln_stake_load(ln_overlay *ov, const char *name, ln_stake *out)
{
    memset(out, 0, sizeof *out);
    uint8_t key[1 + LN_NAME_MAX];
    if (!ln_name_valid(name, strlen(name))) return LN_EBADNAME;
    const uint8_t *v;
    size_t vl;
    int rc = ln_overlay_get(ov, key, stake_key(name, key), &v, &vl);
    if (rc == LN_ENOTFOUND) return 0;
    if (rc < 0) return rc;
    msgpack_zone z;
    msgpack_object o;
    if (!msgpack_zone_init(&z, 512)) return LN_ENOMEM;
    rc = ln_codec_unpack(v, vl, &z, &o);
    if (rc < 0 || o.type != MSGPACK_OBJECT_MAP) rc = LN_EIO;
    if (rc == 0) rc = get_uint(&o, "stake", &out->stake);
    const msgpack_object *u = rc == 0 ? ln_codec_map_get(&o, "unbonding") : NULL;
    if (u && (u->type != MSGPACK_OBJECT_ARRAY || u->via.array.size > LN_UNBONDING_MAX)) rc = LN_EIO;
    for (uint32_t i = 0; rc == 0 && u && i < u->via.array.size; i++) {
        const msgpack_object *e = &u->via.array.ptr[i];
        if (e->type != MSGPACK_OBJECT_MAP) rc = LN_EIO;
        if (rc == 0) rc = get_uint(e, "amount", &out->unbonding[i].amount);
        if (rc == 0) rc = get_uint(e, "at", &out->unbonding[i].at);
        out->nunbonding = i + 1;
    }
    msgpack_zone_destroy(&z);
    if (rc < 0) memset(out, 0, sizeof *out);
    return rc < 0 ? LN_EIO : 0;
}

static int stake_save(ln_overlay *ov, const char *name, const ln_stake *s)
{
    uint8_t key[1 + LN_NAME_MAX];
    size_t kl = stake_key(name, key);
    if (s->stake == 0 && s->nunbonding == 0) return ln_overlay_delete(ov, key, kl);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    ln_sbuffer_init(&sb, 64);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, s->nunbonding ? 2 : 1);
    ln_pack_str(&pk, "stake");
    msgpack_pack_uint64(&pk, s->stake);
    if (s->nunbonding) {
        ln_pack_str(&pk, "unbonding");
        msgpack_pack_array(&pk, s->nunbonding);
        for (uint32_t i = 0; i < s->nunbonding; i++) {
            msgpack_pack_map(&pk, 2);
            ln_pack_str(&pk, "amount");
            msgpack_pack_uint64(&pk, s->unbonding[i].amount);
            ln_pack_str(&pk, "at");
            msgpack_pack_uint64(&pk, s->unbonding[i].at);
        }
    }
    int rc = sb.data ? ln_overlay_set(ov, key, kl, (const uint8_t *)sb.data, sb.size) : LN_ENOMEM;
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int ln_stake_amount_get(ln_overlay *ov, const uint8_t *key, size_t kl, uint64_t *out)
{
    const uint8_t *v;
    size_t vl;
    *out = 0;
    int rc = ln_overlay_get(ov, key, kl, &v, &vl);
    if (rc == LN_ENOTFOUND) return 0;
    if (rc < 0) return rc;
    msgpack_zone z;
    msgpack_object o;
    if (!msgpack_zone_init(&z, 64)) return LN_ENOMEM;
    rc = ln_codec_unpack(v, vl, &z, &o);
    if (rc == 0 && o.type == MSGPACK_OBJECT_POSITIVE_INTEGER) *out = o.via.u64;
    else rc = LN_EIO;
    msgpack_zone_destroy(&z);
    return rc;
}

int ln_stake_amount_add(ln_overlay *ov, const uint8_t *key, size_t kl, uint64_t add,
                        uint64_t sub)
{
    uint64_t t;
    int rc = ln_stake_amount_get(ov, key, kl, &t);
    if (rc < 0) return rc;
    if (t + add < sub) return LN_EIO;
    t = t + add - sub;
    if (t == 0) return ln_overlay_delete(ov, key, kl);
    uint8_t buf[9];
    msgpack_sbuffer sb = { 0, (char *)buf, sizeof buf };
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_uint64(&pk, t);
    return ln_overlay_set(ov, key, kl, buf, sb.size);
}

int ln_stake_total(ln_overlay *ov, uint64_t *total)
{
    return ln_stake_amount_get(ov, (const uint8_t *)"t", 1, total);
}

static int total_add(ln_overlay *ov, uint64_t add, uint64_t sub)
{
    return ln_stake_amount_add(ov, (const uint8_t *)"t", 1, add, sub);
}

int ln_stake_bond(ln_overlay *ov, const char *name, uint64_t amount, char *why, size_t whylen)
{
    ln_account a;
    int rc = ln_account_load(ov, name, &a);
    if (rc == LN_ENOTFOUND) return ln_errf(why, whylen, LN_ENOACCOUNT, "unknown account %s", name);
    if (rc < 0) return ln_errf(why, whylen, rc, "account %s: %s", name, ln_strerror(rc));
    if (a.balance < amount)
        return ln_errf(why, whylen, LN_EBALANCE, "insufficient balance: has %llu, needs %llu",
                       (unsigned long long)a.balance, (unsigned long long)amount);
    ln_stake s;
    if ((rc = ln_stake_load(ov, name, &s)) < 0)
        return ln_errf(why, whylen, rc, "stake of %s: %s", name, ln_strerror(rc));
    a.balance -= amount;
    s.stake += amount;
    if ((rc = ln_account_save(ov, &a)) == 0 && (rc = stake_save(ov, name, &s)) == 0)
        rc = total_add(ov, amount, 0);
    return rc < 0 ? ln_errf(why, whylen, rc, "stake: %s", ln_strerror(rc)) : 0;
}

/* The names due at height `at` into a zone-backed object; adds name. */
static int due_add(ln_overlay *ov, uint64_t at, const char *name)
{
    uint8_t key[9];
    due_key(at, key);
    const uint8_t *v;
    size_t vl = 0;                       /* none yet: the list starts empty */
    msgpack_zone z;
    msgpack_object o = { .type = MSGPACK_OBJECT_ARRAY };
    if (!msgpack_zone_init(&z, 1024)) return LN_ENOMEM;
    int rc = ln_overlay_get(ov, key, sizeof key, &v, &vl);
    if (rc == 0) {
        rc = ln_codec_unpack(v, vl, &z, &o);
        if (rc < 0 || o.type != MSGPACK_OBJECT_ARRAY) rc = LN_EIO;
    } else if (rc == LN_ENOTFOUND) {
        rc = 0;
    }
    uint32_t n = rc == 0 ? o.via.array.size : 0, at_pos = n;
    int have = 0;
    size_t nl = strlen(name);
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        const msgpack_object *e = &o.via.array.ptr[i];
        if (e->type != MSGPACK_OBJECT_STR) { rc = LN_EIO; break; }
        size_t el = e->via.str.size;
        int c = memcmp(e->via.str.ptr, name, el < nl ? el : nl);
        if (c == 0) c = el < nl ? -1 : el > nl;
        if (c == 0) have = 1;
        if (c > 0 && at_pos == n) at_pos = i;
    }
    if (rc == 0 && !have && n >= NAMES_MAX) rc = LN_EFULL;
    if (rc < 0 || have) {
        msgpack_zone_destroy(&z);
        return rc;
    }
    msgpack_sbuffer sb;
    msgpack_packer pk;
    ln_sbuffer_init(&sb, vl + 16);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, n + 1);
    for (uint32_t i = 0; i <= n; i++) {
        if (i == at_pos) ln_pack_str(&pk, name);
        if (i < n) ln_pack_strn(&pk, o.via.array.ptr[i].via.str.ptr, o.via.array.ptr[i].via.str.size);
    }
    rc = sb.data ? ln_overlay_set(ov, key, sizeof key, (const uint8_t *)sb.data, sb.size) : LN_ENOMEM;
    msgpack_sbuffer_destroy(&sb);
    msgpack_zone_destroy(&z);
    return rc;
}

int ln_stake_unbond(ln_overlay *ov, const char *name, uint64_t amount, uint64_t at,
                    char *why, size_t whylen)
{
    ln_stake s;
    int rc = ln_stake_load(ov, name, &s);
    if (rc < 0) return ln_errf(why, whylen, rc, "stake of %s: %s", name, ln_strerror(rc));
    if (s.stake < amount)
        return ln_errf(why, whylen, LN_EBALANCE, "insufficient stake: has %llu, needs %llu",
                       (unsigned long long)s.stake, (unsigned long long)amount);
    /* Two unstakes due at one height are one entry. */
    uint32_t i = 0;
    while (i < s.nunbonding && s.unbonding[i].at != at) i++;
    if (i == s.nunbonding) {
        if (s.nunbonding == LN_UNBONDING_MAX)
            return ln_errf(why, whylen, LN_EFULL, "%s has %d amounts unbonding already; wait for one",
                           name, LN_UNBONDING_MAX);
        s.unbonding[s.nunbonding++] = (ln_unbond){ 0, at };
    }
    s.unbonding[i].amount += amount;
    s.stake -= amount;
    if ((rc = stake_save(ov, name, &s)) == 0 && (rc = total_add(ov, 0, amount)) == 0)
        rc = due_add(ov, at, name);
    return rc < 0 ? ln_errf(why, whylen, rc, "unstake: %s", ln_strerror(rc)) : 0;
}

int ln_stake_slash(ln_overlay *ov, const char *name, uint64_t percent, uint64_t *burned)
{
    ln_stake s;
    int rc = ln_stake_load(ov, name, &s);
    *burned = 0;
    if (rc < 0) return rc;
    if (percent > 100) percent = 100;
    uint64_t cut = s.stake / 100 * percent + s.stake % 100 * percent / 100;   /* no overflow */
    if (cut == 0) return 0;
    s.stake -= cut;
    if ((rc = stake_save(ov, name, &s)) == 0 && (rc = total_add(ov, 0, cut)) == 0) *burned = cut;
    return rc;
}

/* name's entries due at height or before go back to its balance. */
static int release_one(ln_overlay *ov, const char *name, uint64_t height)
{
    ln_stake s;
    ln_account a;
    int rc = ln_stake_load(ov, name, &s);
    if (rc == 0) rc = ln_account_load(ov, name, &a);
    if (rc < 0) return rc == LN_ENOTFOUND ? 0 : rc;   /* an account gone: nothing to return to */
    uint32_t k = 0;
    for (uint32_t i = 0; i < s.nunbonding; i++) {
        if (s.unbonding[i].at <= height) a.balance += s.unbonding[i].amount;
        else s.unbonding[k++] = s.unbonding[i];
    }
    if (k == s.nunbonding) return 0;
    s.nunbonding = k;
    if ((rc = ln_account_save(ov, &a)) < 0) return rc;
    return stake_save(ov, name, &s);
}

int ln_stake_release(ln_overlay *ov, uint64_t height)
{
    uint8_t key[9];
    due_key(height, key);
    const uint8_t *v;
    size_t vl;
    int rc = ln_overlay_get(ov, key, sizeof key, &v, &vl);
    if (rc == LN_ENOTFOUND) return 0;
    if (rc < 0) return rc;
    /* v is borrowed until the next write, and the names point into it. */
    uint8_t *copy = malloc(vl);
    msgpack_zone z;
    msgpack_object o;
    if (!copy || !msgpack_zone_init(&z, 1024)) {
        free(copy);
        return LN_ENOMEM;
    }
    memcpy(copy, v, vl);
    rc = ln_codec_unpack(copy, vl, &z, &o);
    if (rc < 0 || o.type != MSGPACK_OBJECT_ARRAY) rc = LN_EIO;
    for (uint32_t i = 0; rc == 0 && i < o.via.array.size; i++) {
        const msgpack_object *e = &o.via.array.ptr[i];
        char name[LN_NAME_MAX + 1];
        if (ln_codec_str(e, name, sizeof name) < 0) rc = LN_EIO;
        else rc = release_one(ov, name, height);
    }
    msgpack_zone_destroy(&z);
    free(copy);
    if (rc == 0) rc = ln_overlay_delete(ov, key, sizeof key);
    return rc;
}
