/* vote.c -- approval votes and the producers' totals (see vote.h). */
#include <stdlib.h>
#include <string.h>

#include "vote.h"
#include "valset.h"
#include "codec.h"
#include "err.h"
#include "genesis.h"
#include "stake.h"

static size_t name_key(char p, const char *name, uint8_t *buf)
{
    size_t n = strlen(name);
    buf[0] = (uint8_t)p;
    memcpy(buf + 1, name, n);
    return n + 1;
}

static int cmp_name(const void *a, const void *b) { return strcmp(a, b); }

int ln_vote_load(ln_overlay *ov, const char *voter, ln_vote_name *names, size_t *n)
{
    *n = 0;
    if (!ln_name_valid(voter, strlen(voter))) return LN_EBADNAME;
    uint8_t key[1 + LN_NAME_MAX];
    const uint8_t *v;
    size_t vl;
    int rc = ln_overlay_get(ov, key, name_key('v', voter, key), &v, &vl);
    if (rc == LN_ENOTFOUND) return 0;
    if (rc < 0) return rc;
    msgpack_zone z;
    msgpack_object o;
    if (!msgpack_zone_init(&z, 1024)) return LN_ENOMEM;
    rc = ln_codec_unpack(v, vl, &z, &o);
    if (rc < 0 || o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size > LN_VOTES_MAX) rc = LN_EIO;
    for (uint32_t i = 0; rc == 0 && i < o.via.array.size; i++)
        if (ln_codec_str(&o.via.array.ptr[i], names[i], sizeof names[i]) < 0) rc = LN_EIO;
    if (rc == 0) *n = o.via.array.size;
    msgpack_zone_destroy(&z);
    return rc;
}

static int votes_save(ln_overlay *ov, const char *voter, const ln_vote_name *names, size_t n)
{
    uint8_t key[1 + LN_NAME_MAX];
    size_t kl = name_key('v', voter, key);
    if (n == 0) return ln_overlay_delete(ov, key, kl);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    ln_sbuffer_init(&sb, 16 * (n + 1));
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, (uint32_t)n);
    for (size_t i = 0; i < n; i++) ln_pack_str(&pk, names[i]);
    int rc = sb.data ? ln_overlay_set(ov, key, kl, (const uint8_t *)sb.data, sb.size) : LN_ENOMEM;
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int ln_vote_weight(ln_overlay *ov, const char *producer, uint64_t *w)
{
    uint8_t key[1 + LN_NAME_MAX];
    return ln_stake_amount_get(ov, key, name_key('V', producer, key), w);
}

/* producer's total += add - sub (sub never passes what add put there; if
** it does, totals and stakes disagree: LN_EIO, a corrupt state). */
static int weight_add(ln_overlay *ov, const char *producer, uint64_t add, uint64_t sub)
{
    uint8_t key[1 + LN_NAME_MAX];
    return ln_stake_amount_add(ov, key, name_key('V', producer, key), add, sub);
}

static int validators(ln_overlay *ov, ln_genesis **out)
{
    ln_genesis *g = malloc(sizeof *g);
    if (!g) return LN_ENOMEM;
    int rc = ln_genesis_load(ov, g);
    if (rc == LN_ENOTFOUND) {             /* a chain built without a record: no candidates */
        memset(g, 0, sizeof *g);
        rc = 0;
    }
    if (rc < 0) {
        free(g);
        return rc;
    }
    *out = g;
    return 0;
}

int ln_vote_set(ln_overlay *ov, const char *voter, const ln_vote_name *names, size_t n,
                char *why, size_t whylen)
{
    if (n > LN_VOTES_MAX)
        return ln_errf(why, whylen, LN_ETOOBIG, "vote: at most %d producers, not %zu",
                       LN_VOTES_MAX, n);
    ln_vote_name now[LN_VOTES_MAX], old[LN_VOTES_MAX];
    memcpy(now, names, n * sizeof *now);
    qsort(now, n, sizeof *now, cmp_name);
    for (size_t i = 1; i < n; i++)
        if (strcmp(now[i - 1], now[i]) == 0)
            return ln_errf(why, whylen, LN_EINVAL, "vote: %s is named twice", now[i]);
    ln_genesis *g;
    int rc = validators(ov, &g);
    if (rc < 0) return ln_errf(why, whylen, rc, "vote: the validators: %s", ln_strerror(rc));
    /* In the order given, so that the first unknown name is the one told. */
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint32_t k = 0;
        while (k < g->m.nval && strcmp(g->m.val_names[k], names[i]) != 0) k++;
        if (k == g->m.nval)
            rc = ln_errf(why, whylen, LN_ENOTFOUND,
                         "vote: %s is not a validator (only validators can produce blocks)",
                         names[i]);
    }
    free(g);
    if (rc < 0) return rc;
    size_t nold;
    ln_stake st;
    if ((rc = ln_vote_load(ov, voter, old, &nold)) < 0 || (rc = ln_stake_load(ov, voter, &st)) < 0)
        return ln_errf(why, whylen, rc, "vote: the votes of %s: %s", voter, ln_strerror(rc));
    for (size_t i = 0; rc == 0 && st.stake && i < nold; i++) rc = weight_add(ov, old[i], 0, st.stake);
    for (size_t i = 0; rc == 0 && st.stake && i < n; i++) rc = weight_add(ov, now[i], st.stake, 0);
    if (rc == 0) rc = votes_save(ov, voter, now, n);
    return rc < 0 ? ln_errf(why, whylen, rc, "vote: %s", ln_strerror(rc)) : 0;
}

int ln_vote_restake(ln_overlay *ov, const char *voter, uint64_t add, uint64_t sub)
{
    ln_vote_name names[LN_VOTES_MAX];
    size_t n;
    int rc = ln_vote_load(ov, voter, names, &n);
    for (size_t i = 0; rc == 0 && i < n; i++) rc = weight_add(ov, names[i], add, sub);
    return rc;
}

typedef struct {
    const char *name;
    uint64_t w;
} ranked;

static int by_weight(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->w != y->w) return x->w > y->w ? -1 : 1;
    return strcmp(x->name, y->name);
}

int ln_vote_top(ln_overlay *ov, uint64_t height, size_t want, ln_vote_name *names, size_t *n)
{
    *n = 0;
    if (want > LN_VOTES_MAX) want = LN_VOTES_MAX;
    ln_genesis *g;
    int rc = validators(ov, &g);
    if (rc < 0) return rc;
    ranked r[LN_MAX_VALIDATORS];
    size_t nr = 0;
    for (uint32_t i = 0; rc == 0 && i < g->m.nval; i++) {
        uint64_t at, until;
        if ((rc = ln_valset_jail(ov, g->m.val_names[i], &at, &until)) < 0 || until > height) continue;
        r[nr].name = g->m.val_names[i];
        rc = ln_vote_weight(ov, r[nr].name, &r[nr].w);
        nr++;
    }
    /* Every validator jailed: all of them rather than no producer at all. */
    if (rc == 0 && nr == 0) {
        for (; rc == 0 && nr < g->m.nval; nr++) {
            r[nr].name = g->m.val_names[nr];
            rc = ln_vote_weight(ov, r[nr].name, &r[nr].w);
        }
    }
    if (rc == 0) {
        qsort(r, nr, sizeof *r, by_weight);
        size_t k = nr < want ? nr : want;
        for (size_t i = 0; i < k; i++) memcpy(names[i], r[i].name, sizeof names[i]);
        qsort(names, k, sizeof *names, cmp_name);
        *n = k;
    }
    free(g);
    return rc;
}
