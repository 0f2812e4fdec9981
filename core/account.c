/* account.c -- account records, authorities and their checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "codec.h"
#include "err.h"

size_t ln_account_key(const char *name, uint8_t *buf)
{
    size_t n = strlen(name);
    buf[0] = 'a';
    memcpy(buf + 1, name, n);
    return n + 1;
}

void ln_authority_key(ln_authority *au, const uint8_t pk[LN_PK_LEN])
{
    memset(au, 0, sizeof *au);
    au->threshold = 1;
    au->nkeys = 1;
    memcpy(au->keys[0].key, pk, LN_PK_LEN);
    au->keys[0].weight = 1;
}

void ln_authority_account(ln_authority *au, const char *account, const char *perm)
{
    memset(au, 0, sizeof *au);
    au->threshold = 1;
    au->naccounts = 1;
    snprintf(au->accounts[0].account, sizeof au->accounts[0].account, "%s", account);
    snprintf(au->accounts[0].permission, sizeof au->accounts[0].permission, "%s", perm);
    au->accounts[0].weight = 1;
}

void ln_authority_pack(msgpack_packer *pk, const ln_authority *au)
{
    msgpack_pack_map(pk, 3);
    ln_pack_str(pk, "accounts");
    msgpack_pack_array(pk, au->naccounts);
    for (uint32_t i = 0; i < au->naccounts; i++) {
        msgpack_pack_map(pk, 3);
        ln_pack_str(pk, "account");
        ln_pack_str(pk, au->accounts[i].account);
        ln_pack_str(pk, "permission");
        ln_pack_str(pk, au->accounts[i].permission);
        ln_pack_str(pk, "weight");
        msgpack_pack_uint32(pk, au->accounts[i].weight);
    }
    ln_pack_str(pk, "keys");
    msgpack_pack_array(pk, au->nkeys);
    for (uint32_t i = 0; i < au->nkeys; i++) {
        msgpack_pack_map(pk, 2);
        ln_pack_str(pk, "key");
        msgpack_pack_bin(pk, LN_PK_LEN);
        msgpack_pack_bin_body(pk, au->keys[i].key, LN_PK_LEN);
        ln_pack_str(pk, "weight");
        msgpack_pack_uint32(pk, au->keys[i].weight);
    }
    ln_pack_str(pk, "threshold");
    msgpack_pack_uint32(pk, au->threshold);
}

static int get_uint(const msgpack_object *m, const char *k, uint64_t max, uint64_t *out)
{
    const msgpack_object *v = ln_codec_map_get(m, k);
    if (!v || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 > max)
        return LN_EINVAL;
    *out = v->via.u64;
    return 0;
}

static int get_name(const msgpack_object *m, const char *k, char *out)
{
    const msgpack_object *v = ln_codec_map_get(m, k);
    if (!v || v->type != MSGPACK_OBJECT_STR ||
        !ln_name_valid(v->via.str.ptr, v->via.str.size))
        return LN_EINVAL;
    memcpy(out, v->via.str.ptr, v->via.str.size);
    out[v->via.str.size] = 0;
    return 0;
}

#define WHY(...) do { if (why) snprintf(why, whylen, __VA_ARGS__); return LN_EINVAL; } while (0)

int ln_authority_parse(const msgpack_object *o, ln_authority *au, char *why, size_t whylen)
{
    memset(au, 0, sizeof *au);
    if (o->type != MSGPACK_OBJECT_MAP) WHY("authority must be a map");
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR) WHY("authority keys must be strings");
        const char *ks = k->via.str.ptr;
        size_t kl = k->via.str.size;
        if (!((kl == 8 && !memcmp(ks, "accounts", 8)) || (kl == 4 && !memcmp(ks, "keys", 4)) ||
              (kl == 9 && !memcmp(ks, "threshold", 9))))
            WHY("unknown authority field '%.*s'", (int)(kl > 32 ? 32 : kl), ks);
    }
    uint64_t t;
    if (get_uint(o, "threshold", UINT32_MAX, &t) < 0 || t == 0)
        WHY("authority threshold must be an integer >= 1");
    au->threshold = (uint32_t)t;
    uint64_t total = 0;
    const msgpack_object *keys = ln_codec_map_get(o, "keys");
    if (keys) {
        if (keys->type != MSGPACK_OBJECT_ARRAY || keys->via.array.size > LN_AUTH_MAX)
            WHY("authority keys must be an array of at most %d", LN_AUTH_MAX);
        for (uint32_t i = 0; i < keys->via.array.size; i++) {
            const msgpack_object *e = &keys->via.array.ptr[i];
            const msgpack_object *kv = e->type == MSGPACK_OBJECT_MAP ? ln_codec_map_get(e, "key") : NULL;
            uint64_t w;
            if (!kv || (kv->type != MSGPACK_OBJECT_BIN && kv->type != MSGPACK_OBJECT_STR))
                WHY("keys[%u].key must be 32 bytes", i + 1);
            if (e->via.map.size != 2)
                WHY("keys[%u] must be a map {key, weight}", i + 1);
            const char *kp = kv->type == MSGPACK_OBJECT_BIN ? kv->via.bin.ptr : kv->via.str.ptr;
            uint32_t kl = kv->type == MSGPACK_OBJECT_BIN ? kv->via.bin.size : kv->via.str.size;
            if (kl == LN_PK_LEN) {
                memcpy(au->keys[i].key, kp, LN_PK_LEN);
            } else if (kl == 2 * LN_PK_LEN) {
                char hex[2 * LN_PK_LEN + 1];
                memcpy(hex, kp, kl);
                hex[kl] = 0;
                if (ln_unhex(hex, au->keys[i].key, LN_PK_LEN) < 0)
                    WHY("keys[%u].key is not valid hex", i + 1);
            } else {
                WHY("keys[%u].key must be 32 bytes or 64 hex digits", i + 1);
            }
            for (uint32_t j = 0; j < i; j++)
                if (memcmp(au->keys[j].key, au->keys[i].key, LN_PK_LEN) == 0)
                    WHY("keys[%u].key is listed twice", i + 1);
            if (get_uint(e, "weight", UINT32_MAX, &w) < 0 || w == 0)
                WHY("keys[%u].weight must be an integer >= 1", i + 1);
            au->keys[i].weight = (uint32_t)w;
            total += w;
        }
        au->nkeys = keys->via.array.size;
    }
    const msgpack_object *accs = ln_codec_map_get(o, "accounts");
    if (accs) {
        if (accs->type != MSGPACK_OBJECT_ARRAY || accs->via.array.size > LN_AUTH_MAX)
            WHY("authority accounts must be an array of at most %d", LN_AUTH_MAX);
        for (uint32_t i = 0; i < accs->via.array.size; i++) {
            const msgpack_object *e = &accs->via.array.ptr[i];
            uint64_t w;
            if (e->type != MSGPACK_OBJECT_MAP || get_name(e, "account", au->accounts[i].account) < 0)
                WHY("accounts[%u].account must be an account name", i + 1);
            if (e->via.map.size != 3)
                WHY("accounts[%u] must be a map {account, permission, weight}", i + 1);
            if (get_name(e, "permission", au->accounts[i].permission) < 0 ||
                (strcmp(au->accounts[i].permission, "owner") && strcmp(au->accounts[i].permission, "active") &&
                 strcmp(au->accounts[i].permission, "code")))
                WHY("accounts[%u].permission must be owner, active or code", i + 1);
            for (uint32_t j = 0; j < i; j++)
                if (!strcmp(au->accounts[j].account, au->accounts[i].account) &&
                    !strcmp(au->accounts[j].permission, au->accounts[i].permission))
                    WHY("accounts[%u] (%s@%s) is listed twice", i + 1,
                        au->accounts[i].account, au->accounts[i].permission);
            if (get_uint(e, "weight", UINT32_MAX, &w) < 0 || w == 0)
                WHY("accounts[%u].weight must be an integer >= 1", i + 1);
            au->accounts[i].weight = (uint32_t)w;
            total += w;
        }
        au->naccounts = accs->via.array.size;
    }
    if (total < au->threshold)
        WHY("authority can never be satisfied: weights sum to %llu, threshold %u",
            (unsigned long long)total, au->threshold);
    return 0;
}

int ln_account_encode(const ln_account *a, uint8_t **out, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    ln_sbuffer_init(&sb, 512);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, a->has_code ? 5 : 4);
    ln_pack_str(&pk, "active");
    ln_authority_pack(&pk, &a->active);
    ln_pack_str(&pk, "balance");
    msgpack_pack_uint64(&pk, a->balance);
    if (a->has_code) {
        ln_pack_str(&pk, "code");
        msgpack_pack_bin(&pk, LN_HASH_LEN);
        msgpack_pack_bin_body(&pk, a->code_hash, LN_HASH_LEN);
    }
    ln_pack_str(&pk, "nonce");
    msgpack_pack_uint64(&pk, a->nonce);
    ln_pack_str(&pk, "owner");
    ln_authority_pack(&pk, &a->owner);
    if (!sb.data) return LN_ENOMEM;
    *out = (uint8_t *)sb.data;
    *len = sb.size;
    return 0;
}

int ln_account_decode(const uint8_t *p, size_t n, ln_account *a)
{
    msgpack_zone z;
    msgpack_object o;
    char name[LN_NAME_MAX + 1];
    memcpy(name, a->name, sizeof name);
    memset(a, 0, sizeof *a);
    memcpy(a->name, name, sizeof name);
    if (!msgpack_zone_init(&z, 1024)) return LN_ENOMEM;
    int rc = ln_codec_unpack(p, n, &z, &o);
    if (rc < 0) goto done;
    rc = LN_EINVAL;
    if (o.type != MSGPACK_OBJECT_MAP) goto done;
    if (get_uint(&o, "balance", UINT64_MAX, &a->balance) < 0) goto done;
    if (get_uint(&o, "nonce", UINT64_MAX, &a->nonce) < 0) goto done;
    const msgpack_object *c = ln_codec_map_get(&o, "code");
    if (c) {
        if (c->type != MSGPACK_OBJECT_BIN || c->via.bin.size != LN_HASH_LEN) goto done;
        memcpy(a->code_hash, c->via.bin.ptr, LN_HASH_LEN);
        a->has_code = 1;
    }
    const msgpack_object *ow = ln_codec_map_get(&o, "owner");
    const msgpack_object *ac = ln_codec_map_get(&o, "active");
    if (!ow || !ac) goto done;
    if (ln_authority_parse(ow, &a->owner, NULL, 0) < 0) goto done;
    if (ln_authority_parse(ac, &a->active, NULL, 0) < 0) goto done;
    rc = 0;
done:
    msgpack_zone_destroy(&z);
    return rc;
}

/* A transaction reads the same few account records several times (admission,
** authority checks, the fee); decoding one costs more than comparing its
** bytes. So the records last decoded or saved on this thread are kept, one
** per slot by name, with their bytes: a record is decoded again only when
** its bytes differ. */
#define DECODED_SLOTS 256
#define DECODED_MAX   768

static __thread struct {
    size_t len;
    uint8_t raw[DECODED_MAX];
    ln_account acct;
} decoded[DECODED_SLOTS];

static unsigned slot_of(const char *name)
{
    uint32_t h = 2166136261u;
    for (; *name; name++) h = (h ^ (uint8_t)*name) * 16777619u;
    return h % DECODED_SLOTS;
}

static void remember(const uint8_t *v, size_t vl, const ln_account *a)
{
    if (vl > DECODED_MAX) return;
    unsigned i = slot_of(a->name);
    memcpy(decoded[i].raw, v, vl);
    decoded[i].len = vl;
    decoded[i].acct = *a;
}

/* a->name is set; fills the rest from the record v. */
static int decode_cached(const uint8_t *v, size_t vl, ln_account *a)
{
    unsigned i = slot_of(a->name);
    if (decoded[i].len == vl && strcmp(decoded[i].acct.name, a->name) == 0 &&
        memcmp(decoded[i].raw, v, vl) == 0) {
        *a = decoded[i].acct;
        return 0;
    }
    int rc = ln_account_decode(v, vl, a);
    if (rc == 0) remember(v, vl, a);
    return rc;
}

int ln_account_load(ln_overlay *ov, const char *name, ln_account *a)
{
    uint8_t key[1 + LN_NAME_MAX];
    size_t nl = strlen(name);
    if (!ln_name_valid(name, nl)) return LN_EBADNAME;
    size_t kl = ln_account_key(name, key);
    const uint8_t *v;
    size_t vl;
    int rc = ln_overlay_get(ov, key, kl, &v, &vl);
    if (rc < 0) return rc;
    memcpy(a->name, name, nl + 1);
    return decode_cached(v, vl, a);
}

int ln_account_exists(ln_overlay *ov, const char *name)
{
    uint8_t key[1 + LN_NAME_MAX];
    size_t nl = strlen(name);
    if (!ln_name_valid(name, nl)) return 0;
    size_t kl = ln_account_key(name, key);
    const uint8_t *v;
    size_t vl;
    return ln_overlay_get(ov, key, kl, &v, &vl) == 0;
}

int ln_account_save(ln_overlay *ov, const ln_account *a)
{
    uint8_t key[1 + LN_NAME_MAX];
    uint8_t *val;
    size_t vl;
    if (!ln_name_valid(a->name, strlen(a->name))) return LN_EBADNAME;
    int rc = ln_account_encode(a, &val, &vl);
    if (rc < 0) return rc;
    size_t kl = ln_account_key(a->name, key);
    rc = ln_overlay_set(ov, key, kl, val, vl);
    if (rc == 0) remember(val, vl, a);   /* the next load of it decodes nothing */
    free(val);
    return rc;
}

/* One authority check. Whether name@perm is satisfied at a given depth
** depends only on the state and the signers, so each answer is kept: a web
** of accounts that hold each other's permissions costs one load per (name,
** perm, depth) instead of one per path. AUTH_LOADS bounds the account
** records one check may read; past it, what is left counts as unsatisfied
** (deterministically: the search order is fixed). */
#define AUTH_MEMO   128
#define AUTH_LOADS  512

typedef struct {
    const ln_signers *s;
    int loads, n;
    struct {
        char name[LN_NAME_MAX + 1];
        uint8_t owner, depth;
        int rc;
    } memo[AUTH_MEMO];
} authcheck;

static int satisfied(ln_overlay *ov, authcheck *c, const char *name, int owner, int depth);

static int authority_met(ln_overlay *ov, authcheck *c, const ln_authority *au, int depth)
{
    uint64_t w = 0;
    for (uint32_t i = 0; i < au->nkeys && w < au->threshold; i++)
        for (size_t j = 0; j < c->s->n; j++)
            if (memcmp(au->keys[i].key, c->s->keys[j], LN_PK_LEN) == 0) {
                w += au->keys[i].weight;
                break;
            }
    for (uint32_t i = 0; i < au->naccounts && w < au->threshold; i++) {
        const ln_acctweight *e = &au->accounts[i];
        if (strcmp(e->permission, "code") == 0) {
            /* Lent to that contract's code: met only inside its calls. */
            if (c->s->code && strcmp(c->s->code, e->account) == 0) w += e->weight;
        } else if (depth < LN_AUTH_DEPTH &&
                   satisfied(ov, c, e->account, strcmp(e->permission, "owner") == 0, depth + 1) == 0) {
            w += e->weight;
        }
    }
    return w >= au->threshold;
}

static int satisfied(ln_overlay *ov, authcheck *c, const char *name, int owner, int depth)
{
    for (int i = 0; i < c->n; i++)
        if (c->memo[i].owner == owner && c->memo[i].depth == depth &&
            strcmp(c->memo[i].name, name) == 0)
            return c->memo[i].rc;
    if (c->loads >= AUTH_LOADS) return LN_EAUTH;
    c->loads++;
    ln_account a;
    int rc = ln_account_load(ov, name, &a);
    if (rc == LN_ENOTFOUND) rc = LN_ENOACCOUNT;
    if (rc == 0) {
        /* owner satisfies active too */
        if (authority_met(ov, c, owner ? &a.owner : &a.active, depth))
            rc = 0;
        else if (!owner && authority_met(ov, c, &a.owner, depth))
            rc = 0;
        else
            rc = LN_EAUTH;
    }
    if (c->n < AUTH_MEMO) {
        snprintf(c->memo[c->n].name, sizeof c->memo[c->n].name, "%s", name);
        c->memo[c->n].owner = (uint8_t)owner;
        c->memo[c->n].depth = (uint8_t)depth;
        c->memo[c->n].rc = rc;
        c->n++;
    }
    return rc;
}

int ln_account_authorized(ln_overlay *ov, const char *name, const char *perm,
                          const ln_signers *s)
{
    authcheck c;            /* on the stack: no allocation that could fail on one node only */
    c.s = s;
    c.loads = c.n = 0;
    return satisfied(ov, &c, name, strcmp(perm, "owner") == 0, 0);
}

int ln_account_authorized_acct(ln_overlay *ov, const ln_account *a, const char *perm,
                               const ln_signers *s)
{
    authcheck c;
    c.s = s;
    c.loads = 1;            /* as if ln_account_authorized had loaded a */
    c.n = 0;
    int owner = strcmp(perm, "owner") == 0;
    if (authority_met(ov, &c, owner ? &a->owner : &a->active, 0)) return 0;
    if (!owner && authority_met(ov, &c, &a->owner, 0)) return 0;
    return LN_EAUTH;
}
