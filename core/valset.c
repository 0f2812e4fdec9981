/* valset.c -- pos's validator set by stake, the jail and evidence (see valset.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "valset.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "registry.h"
#include "stake.h"

#define SETS_MAX 2

static const ln_pos_params DEFAULTS = { 0, 10, 21, 5, 100, 0 };

static void param(const msgpack_object *o, const char *k, uint64_t lo, uint64_t hi, uint64_t *v)
{
    const msgpack_object *x = ln_codec_map_get(o, k);
    if (x && x->type == MSGPACK_OBJECT_POSITIVE_INTEGER && x->via.u64 >= lo && x->via.u64 <= hi)
        *v = x->via.u64;
}

int ln_pos_params_at(ln_overlay *ov, uint64_t height, ln_pos_params *out)
{
    *out = DEFAULTS;
    ln_plugin_ref ref;
    int rc = ln_registry_at(ov, LN_SLOT_CONSENSUS, height, &ref);
    if (rc == LN_ENOTFOUND) return 0;
    if (rc < 0) return rc;
    out->on = strcmp(ref.name, "pos") == 0;
    out->dpos = strcmp(ref.name, "dpos") == 0;
    msgpack_zone z;
    msgpack_object o;
    if ((out->on || out->dpos) && ref.plen) {
        if (!msgpack_zone_init(&z, 512)) {
            ln_plugin_ref_free(&ref);
            return LN_ENOMEM;
        }
        if (ln_codec_unpack(ref.params, ref.plen, &z, &o) == 0) {
            param(&o, "epoch", 1, 1000, &out->epoch);
            param(&o, "max_validators", 1, LN_MAX_VALIDATORS, &out->max_validators);
            param(&o, "slash_percent", 0, 100, &out->slash_percent);
            param(&o, "jail_blocks", 1, 1000000000, &out->jail_blocks);
        }
        msgpack_zone_destroy(&z);
    }
    ln_plugin_ref_free(&ref);
    return 0;
}

/* ---- the "v" record -------------------------------------------------- */

static int load_sets(ln_overlay *ov, ln_valset *sets, size_t *n)
{
    *n = 0;
    const uint8_t *v;
    size_t vl;
    int rc = ln_overlay_get(ov, (const uint8_t *)"v", 1, &v, &vl);
    if (rc < 0) return rc;
    msgpack_zone z;
    msgpack_object o;
    if (!msgpack_zone_init(&z, 2048)) return LN_ENOMEM;
    rc = ln_codec_unpack(v, vl, &z, &o);
    if (rc < 0 || o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size > SETS_MAX) rc = LN_EIO;
    for (uint32_t i = 0; rc == 0 && i < o.via.array.size; i++) {
        const msgpack_object *e = &o.via.array.ptr[i];
        const msgpack_object *from = ln_codec_map_get(e, "from"), *set = ln_codec_map_get(e, "set");
        ln_valset *s = &sets[i];
        memset(s, 0, sizeof *s);
        if (!from || from->type != MSGPACK_OBJECT_POSITIVE_INTEGER || !set ||
            set->type != MSGPACK_OBJECT_ARRAY || set->via.array.size > LN_MAX_VALIDATORS) {
            rc = LN_EIO;
            break;
        }
        s->from = from->via.u64;
        for (uint32_t j = 0; rc == 0 && j < set->via.array.size; j++) {
            const msgpack_object *x = &set->via.array.ptr[j], *pw = ln_codec_map_get(x, "power");
            if (ln_codec_str(ln_codec_map_get(x, "name"), s->names[j], sizeof s->names[j]) < 0 ||
                !pw || pw->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                rc = LN_EIO;
            else
                s->power[j] = pw->via.u64;
            s->n = j + 1;
        }
        *n = i + 1;
    }
    msgpack_zone_destroy(&z);
    return rc < 0 ? LN_EIO : 0;
}

static int save_sets(ln_overlay *ov, const ln_valset *sets, size_t n)
{
    if (n == 0) return ln_overlay_delete(ov, (const uint8_t *)"v", 1);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    ln_sbuffer_init(&sb, 512);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_map(&pk, 2);
        ln_pack_str(&pk, "from");
        msgpack_pack_uint64(&pk, sets[i].from);
        ln_pack_str(&pk, "set");
        msgpack_pack_array(&pk, sets[i].n);
        for (uint32_t j = 0; j < sets[i].n; j++) {
            msgpack_pack_map(&pk, 2);
            ln_pack_str(&pk, "name");
            ln_pack_str(&pk, sets[i].names[j]);
            ln_pack_str(&pk, "power");
            msgpack_pack_uint64(&pk, sets[i].power[j]);
        }
    }
    int rc = sb.data ? ln_overlay_set(ov, (const uint8_t *)"v", 1, (const uint8_t *)sb.data, sb.size)
                     : LN_ENOMEM;
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int ln_valset_at(ln_overlay *ov, uint64_t height, ln_valset *out)
{
    ln_valset *sets = malloc(SETS_MAX * sizeof *sets);
    size_t n;
    int rc = sets ? load_sets(ov, sets, &n) : LN_ENOMEM;
    int k = -1;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (sets[i].from <= height) k = (int)i;
    if (rc == 0 && k < 0) rc = LN_ENOTFOUND;
    if (rc == 0) *out = sets[k];
    free(sets);
    return rc;
}

/* ---- the jail ------------------------------------------------------------ */

static size_t jail_key(const char *name, uint8_t *buf)
{
    size_t n = strlen(name);
    buf[0] = 'j';
    memcpy(buf + 1, name, n);
    return n + 1;
}

int ln_valset_jail(ln_overlay *ov, const char *name, uint64_t *at, uint64_t *until)
{
    *at = *until = 0;
    uint8_t key[1 + LN_NAME_MAX];
    if (!ln_name_valid(name, strlen(name))) return LN_EBADNAME;
    const uint8_t *v;
    size_t vl;
    int rc = ln_overlay_get(ov, key, jail_key(name, key), &v, &vl);
    if (rc == LN_ENOTFOUND) return 0;
    if (rc < 0) return rc;
    msgpack_zone z;
    msgpack_object o;
    if (!msgpack_zone_init(&z, 128)) return LN_ENOMEM;
    rc = ln_codec_unpack(v, vl, &z, &o);
    const msgpack_object *a = rc == 0 ? ln_codec_map_get(&o, "at") : NULL;
    const msgpack_object *u = rc == 0 ? ln_codec_map_get(&o, "until") : NULL;
    if (a && u && a->type == MSGPACK_OBJECT_POSITIVE_INTEGER && u->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        *at = a->via.u64;
        *until = u->via.u64;
    } else {
        rc = LN_EIO;
    }
    msgpack_zone_destroy(&z);
    return rc < 0 ? LN_EIO : 0;
}

static int jail_save(ln_overlay *ov, const char *name, uint64_t at, uint64_t until)
{
    uint8_t key[1 + LN_NAME_MAX], buf[64];
    msgpack_sbuffer sb = { 0, (char *)buf, sizeof buf };
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    ln_pack_str(&pk, "at");
    msgpack_pack_uint64(&pk, at);
    ln_pack_str(&pk, "until");
    msgpack_pack_uint64(&pk, until);
    return ln_overlay_set(ov, key, jail_key(name, key), buf, sb.size);
}

/* ---- the election ------------------------------------------------------ */

typedef struct {
    const char *name;
    uint64_t stake;
} cand;

static int by_stake(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->stake != y->stake) return x->stake > y->stake ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const cand *)a)->name, ((const cand *)b)->name);
}

/* The set elected from the state after block height. */
static int elect(ln_overlay *ov, uint64_t height, const ln_pos_params *pp, ln_valset *out)
{
    ln_genesis *g = malloc(sizeof *g);
    if (!g) return LN_ENOMEM;
    int rc = ln_genesis_load(ov, g);
    cand c[LN_MAX_VALIDATORS], free_[LN_MAX_VALIDATORS];
    size_t nc = 0, nf = 0;
    for (uint32_t i = 0; rc == 0 && i < g->m.nval; i++) {
        ln_stake st;
        uint64_t at, until;
        const char *name = g->m.val_names[i];
        if ((rc = ln_stake_load(ov, name, &st)) < 0 || (rc = ln_valset_jail(ov, name, &at, &until)) < 0)
            break;
        if (until > height) continue;
        free_[nf++] = (cand){ name, 1 };
        if (st.stake > 0) c[nc++] = (cand){ name, st.stake };
    }
    if (rc < 0) {
        free(g);
        return rc;
    }
    memset(out, 0, sizeof *out);
    if (nc == 0) {               /* nobody staked: every validator free, else every one */
        if (nf == 0)
            for (uint32_t i = 0; i < g->m.nval; i++) free_[nf++] = (cand){ g->m.val_names[i], 1 };
        memcpy(c, free_, nf * sizeof *c);
        nc = nf;
    }
    qsort(c, nc, sizeof *c, by_stake);
    if (nc > pp->max_validators) nc = pp->max_validators;
    qsort(c, nc, sizeof *c, by_name);
    uint64_t total = 0;
    for (size_t i = 0; i < nc; i++) total += c[i].stake;   /* stakes are safe ints: no overflow */
    int shift = 0;
    while ((total >> shift) > LN_POWER_TOTAL_MAX) shift++;
    for (size_t i = 0; i < nc; i++) {
        snprintf(out->names[i], sizeof out->names[i], "%s", c[i].name);
        out->power[i] = c[i].stake >> shift ? c[i].stake >> shift : 1;
    }
    out->n = (uint32_t)nc;
    free(g);
    return 0;
}

int ln_valset_end_block(ln_overlay *ov, uint64_t height)
{
    ln_pos_params pp;
    int rc = ln_pos_params_at(ov, height + 1, &pp);
    if (rc < 0) return rc;
    ln_valset *sets = malloc((SETS_MAX + 1) * sizeof *sets);
    if (!sets) return LN_ENOMEM;
    size_t n = 0;
    rc = load_sets(ov, sets, &n);
    if (rc == LN_ENOTFOUND) rc = 0;
    if (rc == 0 && !pp.on) {
        if (n) rc = save_sets(ov, sets, 0);
        free(sets);
        return rc;
    }
    size_t was = n;
    /* Sets no longer in force at height + 1 go. */
    size_t k = 0;
    while (rc == 0 && k + 1 < n && sets[k + 1].from <= height + 1) k++;
    if (k) {
        memmove(sets, sets + k, (n - k) * sizeof *sets);
        n -= k;
    }
    if (rc == 0 && (n == 0 || height % pp.epoch == 0)) {
        ln_valset *s = &sets[n == 0 ? 0 : n == SETS_MAX ? SETS_MAX - 1 : n];
        uint64_t from = n == 0 ? height + 1 : height + 2;
        if ((rc = elect(ov, height, &pp, s)) == 0) {
            s->from = from;
            n = (size_t)(s - sets) + 1;
        }
        k = 1;
    }
    if (rc == 0 && (k || n != was)) rc = save_sets(ov, sets, n);
    free(sets);
    return rc;
}

/* ---- evidence -------------------------------------------------------- */

/* What evidence reads of a block header (chain.h: canonical msgpack of its
** nine fields, the block hash its BLAKE2b-256). */
typedef struct {
    char chain_id[LN_CHAIN_ID_MAX + 1], proposer[LN_NAME_MAX + 1];
    uint64_t height;
    int64_t slot;                  /* the s of its dpos data ({s, l, t}); -1: none */
} hdr_info;

static int hdr_read(const uint8_t *p, size_t n, hdr_info *h)
{
    msgpack_zone z;
    msgpack_object o;
    if (!msgpack_zone_init(&z, 1024)) return LN_ENOMEM;
    int rc = ln_codec_unpack(p, n, &z, &o);
    const msgpack_object *ht = rc == 0 ? ln_codec_map_get(&o, "height") : NULL;
    const msgpack_object *c = rc == 0 ? ln_codec_map_get(&o, "consensus") : NULL;
    const msgpack_object *s = ln_codec_map_get(c, "s");
    if (rc < 0 || o.type != MSGPACK_OBJECT_MAP || o.via.map.size != 9 || !ht ||
        ht->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        ln_codec_str(ln_codec_map_get(&o, "chain_id"), h->chain_id, sizeof h->chain_id) < 0 ||
        ln_codec_str(ln_codec_map_get(&o, "proposer"), h->proposer, sizeof h->proposer) < 0) {
        rc = LN_EINVAL;
    } else {
        h->height = ht->via.u64;
        h->slot = s && s->type == MSGPACK_OBJECT_POSITIVE_INTEGER && s->via.u64 <= LN_SAFE_INT
                  ? (int64_t)s->via.u64 : -1;
    }
    msgpack_zone_destroy(&z);
    return rc;
}

int ln_valset_header_bytes(const char *s, size_t n, uint8_t buf[LN_EVIDENCE_HEADER_MAX], size_t *len)
{
    if (n % 2 == 0 && n / 2 <= LN_EVIDENCE_HEADER_MAX) {
        char hex[2 * LN_EVIDENCE_HEADER_MAX + 1];       /* ln_unhex wants its digits NUL-terminated */
        memcpy(hex, s, n);
        hex[n] = '\0';
        if (ln_unhex(hex, buf, n / 2) == 0) {
            *len = n / 2;
            return 0;
        }
    }
    if (n > LN_EVIDENCE_HEADER_MAX) return LN_ETOOBIG;
    memcpy(buf, s, n);
    *len = n;
    return 0;
}

int ln_valset_header_height(const uint8_t *p, size_t n, uint64_t *height)
{
    hdr_info h;
    int rc = hdr_read(p, n, &h);
    if (rc == 0) *height = h.height;
    return rc;
}

/* "blk": two headers of this chain by the validator, one height, one slot,
** two blocks. *eh gets their height, hash the two hashes in hex (what dpos
** signs). */
static int judge_blk(const ln_evidence *e, const char *chain_id, uint64_t height, uint64_t *eh,
                     char hash[2][65], char *why, size_t whylen)
{
    hdr_info h[2];
    for (int i = 0; i < 2; i++) {
        char k = i ? 'b' : 'a';
        uint8_t hh[LN_HASH_LEN];
        if (hdr_read(e->header[i], e->hlen[i], &h[i]) < 0)
            return ln_errf(why, whylen, LN_EINVAL, "evidence: %c.header is not a block header", k);
        if (strcmp(h[i].chain_id, chain_id) != 0)
            return ln_errf(why, whylen, LN_EINVAL, "evidence: %c.header is of chain %s, not %s", k,
                           h[i].chain_id, chain_id);
        if (strcmp(h[i].proposer, e->validator) != 0)
            return ln_errf(why, whylen, LN_EINVAL, "evidence: %c.header was proposed by %s, not %s", k,
                           h[i].proposer, e->validator);
        if (h[i].slot < 0)
            return ln_errf(why, whylen, LN_EINVAL, "evidence: %c.header has no dpos slot", k);
        /* What the producer signed: the hash of these very bytes. */
        ln_hash(e->header[i], e->hlen[i], hh);
        ln_hex(hh, LN_HASH_LEN, hash[i]);
    }
    if (h[0].height != h[1].height)
        return ln_errf(why, whylen, LN_EINVAL, "evidence: the headers are of heights %llu and %llu, not one",
                       (unsigned long long)h[0].height, (unsigned long long)h[1].height);
    if (h[0].slot != h[1].slot)
        return ln_errf(why, whylen, LN_EINVAL, "evidence: the headers are of slots %lld and %lld: no double signing",
                       (long long)h[0].slot, (long long)h[1].slot);
    if (strcmp(hash[0], hash[1]) == 0)
        return ln_errf(why, whylen, LN_EINVAL, "evidence: both headers are of the same block: no double signing");
    if (h[0].height == 0 || h[0].height > height)
        return ln_errf(why, whylen, LN_EINVAL, "evidence: height %llu is not a block below %llu",
                       (unsigned long long)h[0].height, (unsigned long long)height);
    *eh = h[0].height;
    return 0;
}

/* "pv"/"pc": two votes at one height, round and type for two blocks. */
static int judge_votes(const ln_evidence *e, uint64_t height, char *why, size_t whylen)
{
    if (strcmp(e->type, "pv") != 0 && strcmp(e->type, "pc") != 0)
        return ln_errf(why, whylen, LN_EINVAL, "evidence: type must be pv or pc");
    if (e->height == 0 || e->height > height)
        return ln_errf(why, whylen, LN_EINVAL, "evidence: height %llu is not a block below %llu",
                       (unsigned long long)e->height, (unsigned long long)height);
    if (strcmp(e->hash[0], e->hash[1]) == 0)
        return ln_errf(why, whylen, LN_EINVAL, "evidence: both votes are for the same block: no double signing");
    return 0;
}

int ln_valset_evidence(ln_overlay *ov, uint64_t height, const ln_evidence *e,
                       uint64_t *slashed, uint64_t *until, char *why, size_t whylen)
{
    *slashed = *until = 0;
    ln_pos_params pp;
    int rc = ln_pos_params_at(ov, height, &pp);
    if (rc < 0) return ln_errf(why, whylen, rc, "evidence: registry: %s", ln_strerror(rc));
    int blk = strcmp(e->type, "blk") == 0;
    if (blk ? !pp.dpos : !pp.on)
        return ln_errf(why, whylen, LN_EINVAL, "evidence: the consensus plugin in force is not %s",
                       blk ? "dpos" : "pos");
    if (!blk && (rc = judge_votes(e, height, why, whylen)) < 0) return rc;
    ln_genesis *g = malloc(sizeof *g);
    if (!g) return ln_errf(why, whylen, LN_ENOMEM, "out of memory");
    if ((rc = ln_genesis_load(ov, g)) < 0) {
        free(g);
        return ln_errf(why, whylen, rc, "evidence: membership: %s", ln_strerror(rc));
    }
    uint8_t pk[LN_PK_LEN];
    int found = 0;
    for (uint32_t i = 0; i < g->m.nval && !found; i++)
        if (strcmp(g->m.val_names[i], e->validator) == 0) {
            memcpy(pk, g->m.val_keys[i], LN_PK_LEN);
            found = 1;
        }
    char hash[2][65];
    uint64_t eh = e->height;
    if (!found)
        rc = ln_errf(why, whylen, LN_ENOTFOUND, "evidence: %s is not a validator", e->validator);
    else if (blk)
        rc = judge_blk(e, g->chain_id, height, &eh, hash, why, whylen);
    free(g);
    if (rc < 0) return rc;
    for (int i = 0; i < 2; i++) {
        char msg[160];
        int len = blk ? snprintf(msg, sizeof msg, "%s", hash[i])
                      : snprintf(msg, sizeof msg, "lunet-pos|%s|%llu|%llu|%s", e->type,
                                 (unsigned long long)e->height, (unsigned long long)e->round, e->hash[i]);
        if (ln_verify(pk, e->sig[i], (const uint8_t *)msg, (size_t)len) < 0)
            return ln_errf(why, whylen, LN_EBADSIG, "evidence: %s %c is not signed by %s's key",
                           blk ? "header" : "vote", i ? 'b' : 'a', e->validator);
    }
    uint64_t at, jailed;
    if ((rc = ln_valset_jail(ov, e->validator, &at, &jailed)) < 0)
        return ln_errf(why, whylen, rc, "evidence: jail of %s: %s", e->validator, ln_strerror(rc));
    if (jailed && eh <= at)
        return ln_errf(why, whylen, LN_EEXIST,
                       "evidence: %s was punished at block %llu for what it signed up to then",
                       e->validator, (unsigned long long)at);
    /* Punished: the stake burned, the jail, out of every set recorded. */
    if ((rc = ln_stake_slash(ov, e->validator, pp.slash_percent, slashed)) < 0 ||
        (rc = jail_save(ov, e->validator, height, height + pp.jail_blocks)) < 0)
        return ln_errf(why, whylen, rc, "evidence: %s", ln_strerror(rc));
    *until = height + pp.jail_blocks;
    ln_valset *sets = malloc(SETS_MAX * sizeof *sets);
    size_t n = 0;
    rc = sets ? load_sets(ov, sets, &n) : LN_ENOMEM;
    if (rc == LN_ENOTFOUND) rc = 0;
    int changed = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        ln_valset *s = &sets[i];
        for (uint32_t j = 0; j < s->n; j++)
            if (s->n > 1 && strcmp(s->names[j], e->validator) == 0) {
                memmove(s->names[j], s->names[j + 1], (s->n - j - 1) * sizeof s->names[0]);
                memmove(&s->power[j], &s->power[j + 1], (s->n - j - 1) * sizeof s->power[0]);
                s->n--;
                changed = 1;
                break;
            }
    }
    if (rc == 0 && changed) rc = save_sets(ov, sets, n);
    free(sets);
    return rc < 0 ? ln_errf(why, whylen, rc, "evidence: %s", ln_strerror(rc)) : 0;
}
