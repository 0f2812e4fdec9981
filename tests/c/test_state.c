/* test_state.c -- the state tree, the overlay and its journal, proofs, and
** the LevelDB backend. Roots are checked against ref_root(), an independent
** from-scratch computation of the trie hash defined in state.h. */
#include "test.h"
#include "state.h"
#include "store.h"
#include "crypto.h"
#include "err.h"

#include <stdio.h>
#include <unistd.h>

static const uint8_t ZERO[32];

/* ---- helpers ---------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return rng_state = x;
}

static ln_state *mem_state(void)
{
    ln_state *s = NULL;
    ASSERT_EQ(ln_state_open(NULL, &s), 0);
    ASSERT(s != NULL);
    return s;
}

static void set(ln_overlay *o, const char *k, const char *v)
{
    ASSERT_EQ(ln_overlay_set(o, (const uint8_t *)k, strlen(k),
                             (const uint8_t *)v, strlen(v)), 0);
}

static void del(ln_overlay *o, const char *k)
{
    ASSERT_EQ(ln_overlay_delete(o, (const uint8_t *)k, strlen(k)), 0);
}

/* Checks a read: rc and got[0..gl) against v (v NULL: absent). */
static void check_read(int line, const char *what, const char *k, int rc,
                       const uint8_t *got, size_t gl, const char *v)
{
    if (!v && rc != LN_ENOTFOUND)
        LN_FAIL("line %d: %s of \"%s\": rc %d, want LN_ENOTFOUND", line, what, k, rc);
    if (!v)
        return;
    if (rc != 0)
        LN_FAIL("line %d: %s of \"%s\": rc %d, want 0", line, what, k, rc);
    if (gl != strlen(v) || memcmp(got, v, gl) != 0)
        LN_FAIL("line %d: %s of \"%s\": \"%.*s\", want \"%s\"", line, what, k,
                (int)gl, (const char *)got, v);
}

static void sees(int line, ln_overlay *o, const char *k, const char *v)
{
    const uint8_t *got = NULL;
    size_t gl = 0;
    int rc = ln_overlay_get(o, (const uint8_t *)k, strlen(k), &got, &gl);
    check_read(line, "overlay read", k, rc, got, gl, v);
}

static void committed(int line, ln_state *s, const char *k, const char *v)
{
    uint8_t *got = NULL;
    size_t gl = 0;
    int rc = ln_state_get(s, (const uint8_t *)k, strlen(k), &got, &gl);
    check_read(line, "committed read", k, rc, got, gl, v);
    free(got);
}

/* Asserts that the overlay reads v for k (v NULL: absent). */
#define ASSERT_SEES(o, k, v)      sees(__LINE__, (o), (k), (v))
/* Asserts the committed value of k (v NULL: absent). */
#define ASSERT_COMMITTED(s, k, v) committed(__LINE__, (s), (k), (v))

static void commit_mem(ln_overlay *o, uint8_t root[32])
{
    ASSERT_EQ(ln_overlay_commit(o, NULL, root), 0);
}

static void root_of(ln_state *s, uint8_t root[32])
{
    ln_state_root(s, root);
}

/* ---- the reference: the trie hash of state.h, from scratch ------------- */

typedef struct { uint8_t kh[32], vh[32]; } pair;

static int cmp_pair(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

static int refbit(const uint8_t *p, unsigned i)
{
    return (p[i / 8] >> (7 - i % 8)) & 1;
}

static void ref_hash(const pair *p, size_t n, uint8_t out[32])
{
    uint8_t buf[66];
    if (n == 0) {
        memset(out, 0, 32);
        return;
    }
    if (n == 1) {
        buf[0] = 0;
        memcpy(buf + 1, p->kh, 32);
        memcpy(buf + 33, p->vh, 32);
        ln_hash(buf, 65, out);
        return;
    }
    unsigned d = 0;
    while (refbit(p[0].kh, d) == refbit(p[n - 1].kh, d))
        d++;
    size_t k = 0;
    while (!refbit(p[k].kh, d))
        k++;
    buf[0] = 1;
    buf[1] = (uint8_t)d;
    ref_hash(p, k, buf + 2);
    ref_hash(p + k, n - k, buf + 34);
    ln_hash(buf, 66, out);
}

/* Root of the map given as n keys and values (NULL value: absent). */
static void ref_root(char **keys, uint8_t **vals, size_t *vls, size_t n,
                     uint8_t out[32])
{
    pair *p = malloc((n ? n : 1) * sizeof *p);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!vals[i])
            continue;
        ln_hash(keys[i], strlen(keys[i]), p[m].kh);
        ln_hash(vals[i], vls[i], p[m].vh);
        m++;
    }
    qsort(p, m, sizeof *p, cmp_pair);
    ref_hash(p, m, out);
    free(p);
}

/* ---- temporary LevelDB directories ------------------------------------ */

static char tmpdir[64];

static ln_store *tmp_store(void)
{
    ln_store *st = NULL;
    ln_test_tmpdir(tmpdir, sizeof tmpdir, "state");
    ASSERT_EQ(ln_store_open(tmpdir, &st), 0);
    return st;
}

static void tmp_store_remove(void)
{
    ln_test_rmtree(tmpdir);
}

/* Commits o into the store-backed state in one synced batch. */
static void commit_store(ln_store *st, ln_overlay *o, uint8_t root[32])
{
    ln_batch *b = ln_batch_new();
    ASSERT(b != NULL);
    ASSERT_EQ(ln_overlay_commit(o, b, root), 0);
    ASSERT_EQ(ln_store_commit(st, b), 0);
    ln_batch_free(b);
}

static void key_of(char *buf, unsigned i)
{
    sprintf(buf, "key/%u", i);
}

static void val_of(char *buf, unsigned i, unsigned ver)
{
    sprintf(buf, "value %u version %u", i, ver);
}

/* ---- tree basics -------------------------------------------------------- */

TEST(state_empty_root_is_zero_hash)
{
    ln_state *s = mem_state();
    uint8_t r[32] = { 1 };
    root_of(s, r);
    ASSERT_MEM(r, ZERO, 32);
    ASSERT_EQ(ln_state_count(s), 0);

    ln_overlay *o = ln_overlay_new(s);
    memset(r, 1, 32);
    ASSERT_EQ(ln_overlay_root(o, r), 0);
    ASSERT_MEM(r, ZERO, 32);
    set(o, "a", "1");
    del(o, "a");
    del(o, "never");
    memset(r, 1, 32);
    commit_mem(o, r);
    ASSERT_MEM(r, ZERO, 32);
    ASSERT_EQ(ln_state_count(s), 0);
    ln_overlay_free(o);
    ln_state_close(s);

    ln_store *st = tmp_store();
    ASSERT_EQ(ln_state_open(st, &s), 0);
    memset(r, 1, 32);
    root_of(s, r);
    ASSERT_MEM(r, ZERO, 32);
    ln_state_close(s);
    ln_store_close(st);
    tmp_store_remove();
}

TEST(state_single_key_root_is_its_leaf_hash)
{
    ln_state *s = mem_state();
    ln_overlay *o = ln_overlay_new(s);
    uint8_t r[32], want[32], buf[65];
    set(o, "alice", "100");
    commit_mem(o, r);
    buf[0] = 0;
    ln_hash("alice", 5, buf + 1);
    ln_hash("100", 3, buf + 33);
    ln_hash(buf, 65, want);
    ASSERT_MEM(r, want, 32);
    ASSERT_EQ(ln_state_count(s), 1);
    ln_overlay_free(o);
    ln_state_close(s);
}

TEST(overlay_get_sees_own_writes_before_commit)
{
    ln_state *s = mem_state();
    ln_overlay *o = ln_overlay_new(s);
    ASSERT_SEES(o, "a", NULL);
    set(o, "a", "1");
    ASSERT_SEES(o, "a", "1");
    ASSERT_COMMITTED(s, "a", NULL);
    set(o, "a", "22");
    ASSERT_SEES(o, "a", "22");
    del(o, "a");
    ASSERT_SEES(o, "a", NULL);
    set(o, "a", "");
    ASSERT_SEES(o, "a", "");
    set(o, "", "empty key");
    ASSERT_SEES(o, "", "empty key");
    ln_overlay_free(o);
    ln_state_close(s);
}

TEST(overlay_reads_committed_value_under_own_writes)
{
    ln_state *s = mem_state();
    ln_overlay *o = ln_overlay_new(s);
    uint8_t r[32];
    set(o, "a", "committed");
    set(o, "b", "committed b");
    commit_mem(o, r);
    ASSERT_SEES(o, "a", "committed");
    set(o, "a", "pending");
    del(o, "b");
    ASSERT_SEES(o, "a", "pending");
    ASSERT_SEES(o, "b", NULL);
    ASSERT_COMMITTED(s, "a", "committed");
    ASSERT_COMMITTED(s, "b", "committed b");
    ln_overlay_free(o);
    ln_state_close(s);
}

TEST(overlay_revert_undoes_exactly_its_writes)
{
    ln_state *s = mem_state();
    ln_overlay *o = ln_overlay_new(s);
    uint8_t r[32];
    set(o, "a", "1");
    set(o, "b", "2");
    commit_mem(o, r);
    set(o, "c", "3");                   /* before the savepoint: stays */
    ASSERT_EQ(ln_overlay_begin(o), 1);
    set(o, "a", "10");
    del(o, "b");
    set(o, "d", "4");
    set(o, "c", "33");
    set(o, "c", "333");
    ASSERT_SEES(o, "c", "333");
    ln_overlay_revert(o);
    ASSERT_EQ(ln_overlay_depth(o), 0);
    ASSERT_SEES(o, "a", "1");
    ASSERT_SEES(o, "b", "2");
    ASSERT_SEES(o, "c", "3");
    ASSERT_SEES(o, "d", NULL);
    uint8_t want[32], got[32];
    ln_overlay *fresh = ln_overlay_new(s);
    set(fresh, "c", "3");
    ASSERT_EQ(ln_overlay_root(fresh, want), 0);
    ASSERT_EQ(ln_overlay_root(o, got), 0);
    ASSERT_MEM(got, want, 32);
    ln_overlay_free(fresh);
    ln_overlay_free(o);
    ln_state_close(s);
}

TEST(overlay_nested_begin_begin_revert_release)
{
    ln_state *s = mem_state();
    ln_overlay *o = ln_overlay_new(s);
    ASSERT_EQ(ln_overlay_begin(o), 1);
    set(o, "x", "1");
    ASSERT_EQ(ln_overlay_begin(o), 2);
    set(o, "x", "2");
    set(o, "y", "2");
    ln_overlay_revert(o);               /* inner: only x=2, y=2 go */
    ASSERT_EQ(ln_overlay_depth(o), 1);
    ASSERT_SEES(o, "x", "1");
    ASSERT_SEES(o, "y", NULL);
    ASSERT_EQ(ln_overlay_begin(o), 2);
    set(o, "z", "3");
    set(o, "x", "4");
    ln_overlay_release(o);              /* inner kept: now the outer's */
    ASSERT_EQ(ln_overlay_depth(o), 1);
    ASSERT_SEES(o, "z", "3");
    ASSERT_SEES(o, "x", "4");
    set(o, "x", "5");
    ln_overlay_revert(o);               /* outer: everything since its begin */
    ASSERT_EQ(ln_overlay_depth(o), 0);
    ASSERT_SEES(o, "x", NULL);
    ASSERT_SEES(o, "z", NULL);

    set(o, "k", "0");
    ASSERT_EQ(ln_overlay_begin(o), 1);
    ASSERT_EQ(ln_overlay_begin(o), 2);
    set(o, "k", "2");
    ln_overlay_release(o);
    ln_overlay_release(o);              /* depth 0: all kept */
    ASSERT_SEES(o, "k", "2");
    ln_overlay_revert(o);               /* depth 0: no-op */
    ASSERT_SEES(o, "k", "2");
    uint8_t r[32];
    commit_mem(o, r);
    ASSERT_COMMITTED(s, "k", "2");
    ASSERT_COMMITTED(s, "x", NULL);
    ASSERT_EQ(ln_state_count(s), 1);
    ln_overlay_free(o);
    ln_state_close(s);
}

TEST(overlay_free_discards_pending_writes)
{
    ln_state *s = mem_state();
    ln_overlay *o = ln_overlay_new(s);
    uint8_t r0[32], r1[32];
    set(o, "a", "1");
    commit_mem(o, r0);
    set(o, "a", "2");
    set(o, "b", "2");
    ln_overlay_free(o);
    root_of(s, r1);
    ASSERT_MEM(r1, r0, 32);
    ASSERT_COMMITTED(s, "a", "1");
    ASSERT_COMMITTED(s, "b", NULL);
    ln_state_close(s);
}

TEST(overlay_root_matches_commit_and_changes_nothing)
{
    ln_state *s = mem_state();
    ln_overlay *o = ln_overlay_new(s);
    uint8_t r0[32], pred[32], r1[32], now[32];
    char k[32], v[48];
    for (unsigned i = 0; i < 200; i++) {
        key_of(k, i); val_of(v, i, 0); set(o, k, v);
    }
    commit_mem(o, r0);
    for (unsigned i = 0; i < 200; i += 3) {
        key_of(k, i); val_of(v, i, 1); set(o, k, v);
    }
    for (unsigned i = 1; i < 200; i += 7) {
        key_of(k, i); del(o, k);
    }
    ASSERT_EQ(ln_overlay_root(o, pred), 0);
    ASSERT(memcmp(pred, r0, 32) != 0);
    root_of(s, now);
    ASSERT_MEM(now, r0, 32);
    ASSERT_COMMITTED(s, "key/3", "value 3 version 0");
    commit_mem(o, r1);
    ASSERT_MEM(r1, pred, 32);
    ln_overlay_free(o);
    ln_state_close(s);
}

TEST(state_delete_restores_root_before_insert)
{
    ln_state *s = mem_state();
    ln_overlay *o = ln_overlay_new(s);
    uint8_t before[32], mid[32], after[32];
    char k[32], v[48];
    for (unsigned i = 0; i < 100; i++) {
        key_of(k, i); val_of(v, i, 0); set(o, k, v);
    }
    commit_mem(o, before);
    set(o, "newcomer", "x");
    commit_mem(o, mid);
    ASSERT(memcmp(mid, before, 32) != 0);
    ASSERT_EQ(ln_state_count(s), 101);
    del(o, "newcomer");
    commit_mem(o, after);
    ASSERT_MEM(after, before, 32);
    ASSERT_EQ(ln_state_count(s), 100);

    for (unsigned i = 100; i < 150; i++) {     /* a batch in, then out */
        key_of(k, i); val_of(v, i, 0); set(o, k, v);
    }
    commit_mem(o, mid);
    for (unsigned i = 100; i < 150; i++) {
        key_of(k, i); del(o, k);
    }
    commit_mem(o, after);
    ASSERT_MEM(after, before, 32);

    for (unsigned i = 0; i < 100; i++) {       /* down to nothing */
        key_of(k, i); del(o, k);
    }
    commit_mem(o, after);
    ASSERT_MEM(after, ZERO, 32);
    ASSERT_EQ(ln_state_count(s), 0);
    ln_overlay_free(o);
    ln_state_close(s);
}

TEST(state_root_independent_of_insert_order_and_history)
{
    enum { N = 300 };
    char *keys[N];
    uint8_t *vals[N];
    size_t vls[N];
    char k[32], v[48];
    for (unsigned i = 0; i < N; i++) {
        key_of(k, i); val_of(v, i, 7);
        keys[i] = strdup(k);
        vals[i] = (uint8_t *)strdup(v);
        vls[i] = strlen(v);
    }
    uint8_t want[32], ra[32], rb[32], rc[32];
    ref_root(keys, vals, vls, N, want);

    /* A: in order, one commit */
    ln_state *a = mem_state();
    ln_overlay *o = ln_overlay_new(a);
    for (unsigned i = 0; i < N; i++)
        set(o, keys[i], (char *)vals[i]);
    commit_mem(o, ra);
    ln_overlay_free(o);

    /* B: reverse order over many commits, with wrong values and extra keys
    ** that are fixed and deleted later */
    ln_state *b = mem_state();
    o = ln_overlay_new(b);
    for (unsigned i = N; i-- > 0;) {
        set(o, keys[i], "wrong");
        if (i % 5 == 0) {
            sprintf(k, "extra/%u", i);
            set(o, k, "junk");
        }
        if (i % 37 == 0)
            commit_mem(o, rb);
    }
    commit_mem(o, rb);
    for (unsigned i = 0; i < N; i++) {
        set(o, keys[i], (char *)vals[i]);
        if (i % 5 == 0) {
            sprintf(k, "extra/%u", i);
            del(o, k);
        }
        if (i % 41 == 0)
            commit_mem(o, rb);
    }
    commit_mem(o, rb);
    ln_overlay_free(o);

    /* C: shuffled, one key per commit, each first deleted then set */
    ln_state *c = mem_state();
    o = ln_overlay_new(c);
    unsigned perm[N];
    for (unsigned i = 0; i < N; i++)
        perm[i] = i;
    for (unsigned i = N - 1; i > 0; i--) {
        unsigned j = (unsigned)(rnd() % (i + 1)), t = perm[i];
        perm[i] = perm[j]; perm[j] = t;
    }
    for (unsigned i = 0; i < N; i++) {
        del(o, keys[perm[i]]);
        set(o, keys[perm[i]], (char *)vals[perm[i]]);
        commit_mem(o, rc);
    }
    ln_overlay_free(o);

    ASSERT_MEM(ra, want, 32);
    ASSERT_MEM(rb, want, 32);
    ASSERT_MEM(rc, want, 32);
    ASSERT_EQ(ln_state_count(a), N);
    ASSERT_EQ(ln_state_count(b), N);
    ASSERT_EQ(ln_state_count(c), N);
    ln_state_close(a);
    ln_state_close(b);
    ln_state_close(c);
    for (unsigned i = 0; i < N; i++) {
        free(keys[i]);
        free(vals[i]);
    }
}

TEST(state_commit_then_get_returns_committed_values)
{
    ln_state *s = mem_state();
    ln_overlay *o = ln_overlay_new(s);
    uint8_t r[32];
    char k[32], v[48];
    for (unsigned i = 0; i < 50; i++) {
        key_of(k, i); val_of(v, i, 0); set(o, k, v);
    }
    set(o, "empty", "");
    commit_mem(o, r);
    ASSERT_EQ(ln_overlay_depth(o), 0);
    ASSERT_EQ(ln_state_count(s), 51);
    for (unsigned i = 0; i < 50; i++) {
        key_of(k, i); val_of(v, i, 0);
        ASSERT_COMMITTED(s, k, v);
        ASSERT_SEES(o, k, v);
    }
    ASSERT_COMMITTED(s, "empty", "");
    ASSERT_COMMITTED(s, "key/50", NULL);
    ln_overlay_free(o);
    ln_state_close(s);
}

TEST(overlay_rejects_oversize_key_and_value)
{
    ln_state *s = mem_state();
    ln_overlay *o = ln_overlay_new(s);
    uint8_t key[LN_STATE_KEY_MAX + 1], *big = calloc(1, LN_STATE_VALUE_MAX + 1);
    const uint8_t *v;
    size_t vl;
    uint8_t r[32];
    memset(key, 'k', sizeof key);
    ASSERT(big != NULL);
    ASSERT_EQ(ln_overlay_set(o, key, LN_STATE_KEY_MAX + 1, big, 1), LN_ETOOBIG);
    ASSERT_EQ(ln_overlay_delete(o, key, LN_STATE_KEY_MAX + 1), LN_ETOOBIG);
    ASSERT_EQ(ln_overlay_get(o, key, LN_STATE_KEY_MAX + 1, &v, &vl), LN_ETOOBIG);
    ASSERT_EQ(ln_overlay_set(o, key, 1, big, LN_STATE_VALUE_MAX + 1), LN_ETOOBIG);
    ASSERT_EQ(ln_overlay_set(o, key, LN_STATE_KEY_MAX, big, LN_STATE_VALUE_MAX), 0);
    commit_mem(o, r);
    ASSERT_EQ(ln_state_count(s), 1);
    ASSERT_EQ(ln_overlay_get(o, key, LN_STATE_KEY_MAX, &v, &vl), 0);
    ASSERT_EQ(vl, LN_STATE_VALUE_MAX);
    free(big);
    ln_overlay_free(o);
    ln_state_close(s);
}

TEST(overlay_commit_refuses_open_savepoint_and_wrong_batch)
{
    ln_state *s = mem_state();
    ln_overlay *o = ln_overlay_new(s);
    uint8_t r[32];
    ln_batch *b = ln_batch_new();
    set(o, "a", "1");
    ASSERT_EQ(ln_overlay_commit(o, b, r), LN_EINVAL);   /* in-memory state */
    ASSERT_EQ(ln_overlay_begin(o), 1);
    ASSERT_EQ(ln_overlay_commit(o, NULL, r), LN_EINVAL);
    ln_overlay_release(o);
    ASSERT_SEES(o, "a", "1");
    ASSERT_EQ(ln_overlay_commit(o, NULL, r), 0);
    ln_batch_free(b);
    ln_overlay_free(o);
    ln_state_close(s);
}

TEST(overlay_is_stale_after_another_overlay_commits)
{
    ln_state *s = mem_state();
    ln_overlay *a = ln_overlay_new(s), *b = ln_overlay_new(s);
    const uint8_t *v;
    size_t vl;
    uint8_t r[32];
    set(b, "x", "b's");
    set(a, "x", "a's");
    commit_mem(a, r);
    ASSERT_EQ(ln_overlay_get(b, (const uint8_t *)"x", 1, &v, &vl), LN_EINVAL);
    ASSERT_EQ(ln_overlay_set(b, (const uint8_t *)"x", 1, (const uint8_t *)"", 0), LN_EINVAL);
    ASSERT_EQ(ln_overlay_commit(b, NULL, r), LN_EINVAL);
    ASSERT_SEES(a, "x", "a's");         /* the committer stays usable */
    ln_overlay_free(b);
    ln_overlay_free(a);
    ln_state_close(s);
}

/* ---- proofs ------------------------------------------------------------- */

static int verify_str(const uint8_t root[32], const char *k, const char *v,
                      const uint8_t *p, size_t pl)
{
    return ln_state_verify(root, (const uint8_t *)k, strlen(k),
                           (const uint8_t *)v, v ? strlen(v) : 0, p, pl);
}

static void prove_str(ln_state *s, const char *k, uint8_t **p, size_t *pl)
{
    ASSERT_EQ(ln_state_prove(s, (const uint8_t *)k, strlen(k), p, pl), 0);
}

/* A tree of n keys key/0.. with value version 0. */
static ln_state *tree_of(unsigned n, uint8_t root[32])
{
    ln_state *s = mem_state();
    ln_overlay *o = ln_overlay_new(s);
    char k[32], v[48];
    for (unsigned i = 0; i < n; i++) {
        key_of(k, i); val_of(v, i, 0); set(o, k, v);
    }
    commit_mem(o, root);
    ln_overlay_free(o);
    return s;
}

TEST(proof_membership_verifies_and_rejects_wrong_value_key_root)
{
    uint8_t root[32], bad[32], *p;
    size_t pl;
    char k[32], v[48];
    ln_state *s = tree_of(1000, root);
    for (unsigned i = 0; i < 1000; i += 37) {
        key_of(k, i); val_of(v, i, 0);
        prove_str(s, k, &p, &pl);
        ASSERT_EQ(p[0], 1);
        ASSERT_EQ(verify_str(root, k, v, p, pl), 0);
        ASSERT_EQ(verify_str(root, k, "wrong value", p, pl), LN_EPROOF);
        ASSERT_EQ(verify_str(root, k, NULL, p, pl), LN_EPROOF);
        key_of(k, i + 1);
        ASSERT_EQ(verify_str(root, k, v, p, pl), LN_EPROOF);
        key_of(k, i);
        memcpy(bad, root, 32);
        bad[31] ^= 1;
        ASSERT_EQ(verify_str(bad, k, v, p, pl), LN_EPROOF);
        ASSERT_EQ(verify_str(ZERO, k, v, p, pl), LN_EPROOF);
        free(p);
    }
    ln_state_close(s);
}

TEST(proof_rejects_truncated_extended_and_garbled)
{
    uint8_t root[32], *p, *q;
    size_t pl;
    ln_state *s = tree_of(500, root);
    const char *cases[][2] = { { "key/17", "value 17 version 0" },
                               { "absent/1", NULL } };
    for (int c = 0; c < 2; c++) {
        const char *k = cases[c][0], *v = cases[c][1];
        prove_str(s, k, &p, &pl);
        ASSERT(pl > 33);
        ASSERT_EQ(verify_str(root, k, v, p, pl), 0);
        for (size_t n = 0; n < pl; n++)
            ASSERT_EQ(verify_str(root, k, v, p, n), LN_EPROOF);
        q = malloc(pl + 33);
        memcpy(q, p, pl);
        memset(q + pl, 0, 33);
        ASSERT_EQ(verify_str(root, k, v, q, pl + 1), LN_EPROOF);
        ASSERT_EQ(verify_str(root, k, v, q, pl + 33), LN_EPROOF);
        for (size_t i = 0; i < pl; i++) {
            for (int b = 0; b < 8; b++) {
                memcpy(q, p, pl);
                q[i] ^= (uint8_t)(1 << b);
                if (verify_str(root, k, v, q, pl) != LN_EPROOF)
                    LN_FAIL("%s: proof with byte %zu bit %d flipped verifies", k, i, b);
            }
        }
        free(q);
        free(p);
    }
    ln_state_close(s);
}

TEST(proof_absence_in_empty_single_and_large_trees)
{
    uint8_t root[32], *p;
    size_t pl;
    char k[32];

    ln_state *s = mem_state();                  /* empty */
    root_of(s, root);
    prove_str(s, "nobody", &p, &pl);
    ASSERT_EQ(pl, 1);
    ASSERT_EQ(verify_str(root, "nobody", NULL, p, pl), 0);
    ASSERT_EQ(verify_str(root, "nobody", "x", p, pl), LN_EPROOF);
    root[0] = 1;
    ASSERT_EQ(verify_str(root, "nobody", NULL, p, pl), LN_EPROOF);
    free(p);
    ln_state_close(s);

    s = tree_of(1, root);                       /* one key */
    prove_str(s, "nobody", &p, &pl);
    ASSERT_EQ(p[0], 2);
    ASSERT_EQ(pl, 65);
    ASSERT_EQ(verify_str(root, "nobody", NULL, p, pl), 0);
    ASSERT_EQ(verify_str(root, "nobody", "x", p, pl), LN_EPROOF);
    ASSERT_EQ(verify_str(root, "key/0", NULL, p, pl), LN_EPROOF);
    free(p);
    prove_str(s, "key/0", &p, &pl);
    ASSERT_EQ(pl, 1);
    ASSERT_EQ(verify_str(root, "key/0", "value 0 version 0", p, pl), 0);
    ASSERT_EQ(verify_str(root, "key/0", NULL, p, pl), LN_EPROOF);
    free(p);
    ln_state_close(s);

    s = tree_of(1000, root);                    /* many keys */
    for (unsigned i = 0; i < 200; i++) {
        sprintf(k, "absent/%u", i);
        prove_str(s, k, &p, &pl);
        ASSERT_EQ(p[0], 2);
        ASSERT_EQ(verify_str(root, k, NULL, p, pl), 0);
        ASSERT_EQ(verify_str(root, k, "", p, pl), LN_EPROOF);
        /* the proof names another key's leaf: it proves nothing about it */
        key_of(k, i);
        ASSERT_EQ(verify_str(root, k, NULL, p, pl), LN_EPROOF);
        free(p);
    }
    for (unsigned i = 0; i < 1000; i += 97) {   /* present keys: no absence */
        key_of(k, i);
        prove_str(s, k, &p, &pl);
        ASSERT_EQ(verify_str(root, k, NULL, p, pl), LN_EPROOF);
        free(p);
    }
    ln_state_close(s);
}

TEST(proof_absence_cannot_be_forged_from_a_neighbour_leaf)
{
    /* Claim "key/a is absent" using the leaf of a key that sits on another
    ** branch: the branch depths in the hashes force the real search path. */
    uint8_t root[32], *pa, *pb;
    size_t pal, pbl;
    char k[32], v[48];
    ln_state *s = tree_of(64, root);
    key_of(k, 5);
    prove_str(s, k, &pa, &pal);
    for (unsigned i = 0; i < 64; i++) {
        if (i == 5)
            continue;
        char kb[32];
        key_of(kb, i);
        val_of(v, i, 0);
        prove_str(s, kb, &pb, &pbl);
        /* forged: tag 2 with kb's leaf, then kb's steps */
        uint8_t *f = malloc(1 + 64 + pbl - 1);
        uint8_t kh[32], vh[32];
        ln_hash(kb, strlen(kb), kh);
        ln_hash(v, strlen(v), vh);
        f[0] = 2;
        memcpy(f + 1, kh, 32);
        memcpy(f + 33, vh, 32);
        memcpy(f + 65, pb + 1, pbl - 1);
        ASSERT_EQ(verify_str(root, kb, v, pb, pbl), 0);
        ASSERT_EQ(verify_str(root, k, NULL, f, 64 + pbl), LN_EPROOF);
        /* nor may a key's own leaf, presented as "another key's" */
        ASSERT_EQ(verify_str(root, kb, NULL, f, 64 + pbl), LN_EPROOF);
        free(f);
        free(pb);
    }
    free(pa);
    ln_state_close(s);
}

/* ---- LevelDB backend ---------------------------------------------------- */

TEST(store_commit_reopen_keeps_root_values_and_proofs)
{
    ln_store *st = tmp_store();
    ln_state *s;
    uint8_t r1[32], r2[32], rm[32], *p;
    size_t pl;
    char k[32], v[48];
    ASSERT_EQ(ln_state_open(st, &s), 0);
    ln_overlay *o = ln_overlay_new(s);
    for (unsigned i = 0; i < 500; i++) {
        key_of(k, i); val_of(v, i, 0); set(o, k, v);
    }
    commit_store(st, o, r1);
    for (unsigned i = 0; i < 500; i += 4) {
        key_of(k, i); del(o, k);
    }
    commit_store(st, o, r1);
    ln_overlay_free(o);
    ln_state_close(s);
    ln_store_close(st);

    ln_state *m = tree_of(500, rm);             /* the same in memory */
    o = ln_overlay_new(m);
    for (unsigned i = 0; i < 500; i += 4) {
        key_of(k, i); del(o, k);
    }
    commit_mem(o, rm);
    ln_overlay_free(o);
    ASSERT_MEM(r1, rm, 32);

    ASSERT_EQ(ln_store_open(tmpdir, &st), 0);
    ASSERT_EQ(ln_state_open(st, &s), 0);
    root_of(s, r2);
    ASSERT_MEM(r2, r1, 32);
    ASSERT_EQ(ln_state_count(s), 375);
    for (unsigned i = 0; i < 500; i++) {
        key_of(k, i); val_of(v, i, 0);
        const char *want = i % 4 ? v : NULL;
        ASSERT_COMMITTED(s, k, want);
        prove_str(s, k, &p, &pl);
        ASSERT_EQ(verify_str(r2, k, want, p, pl), 0);
        free(p);
    }

    o = ln_overlay_new(s);                      /* and it goes on from there */
    ASSERT_SEES(o, "key/1", "value 1 version 0");
    ASSERT_SEES(o, "key/0", NULL);
    set(o, "key/0", "back");
    set(o, "key/1", "changed");
    commit_store(st, o, r2);
    ln_overlay_free(o);
    o = ln_overlay_new(m);
    set(o, "key/0", "back");
    set(o, "key/1", "changed");
    commit_mem(o, rm);
    ln_overlay_free(o);
    ASSERT_MEM(r2, rm, 32);
    ASSERT_COMMITTED(s, "key/1", "changed");

    ln_state_close(s);
    ln_state_close(m);
    ln_store_close(st);
    tmp_store_remove();
}

TEST(store_commit_writes_nothing_until_batch_is_committed)
{
    ln_store *st = tmp_store();
    ln_state *s;
    uint8_t r0[32], r1[32], r2[32];
    ASSERT_EQ(ln_state_open(st, &s), 0);
    ln_overlay *o = ln_overlay_new(s);
    set(o, "a", "1");
    commit_store(st, o, r0);
    set(o, "a", "2");
    set(o, "b", "2");
    ln_batch *b = ln_batch_new();
    ASSERT_EQ(ln_overlay_commit(o, NULL, r1), LN_EINVAL);  /* needs a batch */
    ASSERT_EQ(ln_overlay_commit(o, b, r1), 0);
    ASSERT(ln_batch_count(b) > 0);
    ASSERT(memcmp(r1, r0, 32) != 0);
    ln_batch_free(b);                          /* never committed */
    ln_overlay_free(o);
    ln_state_close(s);

    ASSERT_EQ(ln_state_open(st, &s), 0);        /* the store still has r0 */
    root_of(s, r2);
    ASSERT_MEM(r2, r0, 32);
    ASSERT_COMMITTED(s, "a", "1");
    ASSERT_COMMITTED(s, "b", NULL);
    ln_state_close(s);
    ln_store_close(st);
    tmp_store_remove();
}

TEST(store_trim_reloads_nodes_on_use)
{
    ln_store *st = tmp_store();
    ln_state *s;
    uint8_t r[32], rm[32], *p;
    size_t pl;
    char k[32], v[48];
    ASSERT_EQ(ln_state_open(st, &s), 0);
    ln_state *m = mem_state();
    ln_overlay *o = ln_overlay_new(s), *om = ln_overlay_new(m);
    for (unsigned round = 0; round < 6; round++) {
        for (unsigned i = 0; i < 300; i++) {
            unsigned x = (unsigned)(rnd() % 1000);
            key_of(k, x);
            if (rnd() % 4 == 0) {
                del(o, k); del(om, k);
            } else {
                val_of(v, x, round); set(o, k, v); set(om, k, v);
            }
        }
        commit_store(st, o, r);
        commit_mem(om, rm);
        ASSERT_MEM(r, rm, 32);
        ln_state_trim(s, round % 2 ? 0 : 40);
        for (unsigned i = 0; i < 1000; i += 53) {
            key_of(k, i);
            prove_str(s, k, &p, &pl);
            uint8_t *val; size_t vl;
            int rc = ln_state_get(s, (uint8_t *)k, strlen(k), &val, &vl);
            ASSERT(rc == 0 || rc == LN_ENOTFOUND);
            ASSERT_EQ(ln_state_verify(r, (uint8_t *)k, strlen(k),
                                      rc == 0 ? val : NULL, rc == 0 ? vl : 0, p, pl), 0);
            if (rc == 0) free(val);
            free(p);
        }
        ln_state_trim(s, 0);
    }
    ASSERT_EQ(ln_state_count(s), ln_state_count(m));
    ln_overlay_free(o);
    ln_overlay_free(om);
    ln_state_close(s);
    ln_state_close(m);
    ln_store_close(st);
    tmp_store_remove();
}

TEST(store_corrupt_node_fails_with_eio_and_changes_nothing)
{
    ln_store *st = tmp_store();
    ln_state *s;
    uint8_t r[32], r2[32], key[33], *p;
    size_t pl;
    char k[32], v[48];
    ASSERT_EQ(ln_state_open(st, &s), 0);
    ln_overlay *o = ln_overlay_new(s);
    for (unsigned i = 0; i < 20; i++) {
        key_of(k, i); val_of(v, i, 0); set(o, k, v);
    }
    commit_store(st, o, r);
    ln_overlay_free(o);
    ln_state_close(s);

    key[0] = 'N';             /* the root's record: a well-formed leaf of another key */
    memcpy(key + 1, r, 32);
    uint8_t fake[65] = { 0 };
    ln_hash("key/1", 5, fake + 1);
    ASSERT_EQ(ln_store_put(st, key, 33, fake, sizeof fake), 0);

    ASSERT_EQ(ln_state_open(st, &s), 0);
    ASSERT_EQ(ln_state_prove(s, (const uint8_t *)"key/1", 5, &p, &pl), LN_EIO);
    o = ln_overlay_new(s);
    set(o, "key/1", "new");
    ASSERT_EQ(ln_overlay_root(o, r2), LN_EIO);
    ln_batch *b = ln_batch_new();
    ASSERT_EQ(ln_overlay_commit(o, b, r2), LN_EIO);
    ASSERT_EQ(ln_batch_count(b), 0);
    root_of(s, r2);
    ASSERT_MEM(r2, r, 32);
    ASSERT_SEES(o, "key/1", "new");             /* the overlay is intact */
    ln_batch_free(b);
    ln_overlay_free(o);

    key[0] = 'N';                               /* a missing node too */
    ASSERT_EQ(ln_store_delete(st, key, 33), 0);
    ln_state_close(s);
    ASSERT_EQ(ln_state_open(st, &s), 0);
    ASSERT_EQ(ln_state_prove(s, (const uint8_t *)"key/1", 5, &p, &pl), LN_EIO);
    ln_state_close(s);
    ln_store_close(st);
    tmp_store_remove();
}

/* ---- randomized, against a reference map -------------------------------- */

enum { RK = 96 };               /* a small key space: many overwrites */

typedef struct {
    uint8_t *v[RK];
    size_t   vl[RK];
} refmap;

static void ref_copy(refmap *dst, const refmap *src)
{
    for (int i = 0; i < RK; i++) {
        dst->vl[i] = src->vl[i];
        dst->v[i] = NULL;
        if (src->v[i]) {
            dst->v[i] = malloc(src->vl[i] + 1);
            memcpy(dst->v[i], src->v[i], src->vl[i] + 1);
        }
    }
}

static void ref_free(refmap *m)
{
    for (int i = 0; i < RK; i++)
        free(m->v[i]);
}

/* 2000 random ops (set, delete, get, begin, release, revert, commit) on an
** overlay of s, checked against a reference map with snapshots as its
** journal. st: the store behind s, or NULL. */
static void random_ops(ln_store *st, ln_state *s)
{
    char *keys[RK];
    char k[32];
    refmap cur = { 0 }, committed = { 0 }, snaps[64];
    size_t nsnap = 0;
    for (int i = 0; i < RK; i++) {             /* start from what s holds */
        sprintf(k, "rk/%d", i);
        keys[i] = strdup(k);
        uint8_t *cv;
        size_t cl;
        int rc = ln_state_get(s, (uint8_t *)k, strlen(k), &cv, &cl);
        ASSERT(rc == 0 || rc == LN_ENOTFOUND);
        if (rc == 0) {
            cur.v[i] = malloc(cl + 1);
            memcpy(cur.v[i], cv, cl);
            cur.v[i][cl] = 0;
            cur.vl[i] = cl;
            free(cv);
        }
    }
    ref_copy(&committed, &cur);
    ln_overlay *o = ln_overlay_new(s);
    uint8_t r[32], want[32];
    int commits = 0;
    for (int op = 0; op < 2000; op++) {
        int x = (int)(rnd() % RK), what = (int)(rnd() % 100);
        const uint8_t *gv;
        size_t gl;
        if (what < 40) {                        /* set */
            size_t vl = rnd() % 24;
            uint8_t *v = malloc(vl + 1);
            for (size_t i = 0; i < vl; i++)
                v[i] = (uint8_t)rnd();
            v[vl] = 0;
            ASSERT_EQ(ln_overlay_set(o, (uint8_t *)keys[x], strlen(keys[x]), v, vl), 0);
            free(cur.v[x]);
            cur.v[x] = v;
            cur.vl[x] = vl;
        } else if (what < 55) {                 /* delete */
            ASSERT_EQ(ln_overlay_delete(o, (uint8_t *)keys[x], strlen(keys[x])), 0);
            free(cur.v[x]);
            cur.v[x] = NULL;
        } else if (what < 80) {                 /* get */
            int rc = ln_overlay_get(o, (uint8_t *)keys[x], strlen(keys[x]), &gv, &gl);
            if (!cur.v[x]) {
                ASSERT_EQ(rc, LN_ENOTFOUND);
            } else {
                ASSERT_EQ(rc, 0);
                ASSERT_EQ(gl, cur.vl[x]);
                ASSERT_MEM(gv, cur.v[x], gl);
            }
        } else if (what < 87) {                 /* begin */
            if (nsnap < 64) {
                ASSERT_EQ(ln_overlay_begin(o), (int)nsnap + 1);
                ref_copy(&snaps[nsnap++], &cur);
            }
        } else if (what < 91) {                 /* release */
            if (nsnap) {
                ln_overlay_release(o);
                ref_free(&snaps[--nsnap]);
            }
        } else if (what < 96) {                 /* revert */
            if (nsnap) {
                ln_overlay_revert(o);
                ref_free(&cur);
                cur = snaps[--nsnap];
            }
        } else if (nsnap == 0) {                /* commit */
            if (st)
                commit_store(st, o, r);
            else
                commit_mem(o, r);
            ref_root(keys, cur.v, cur.vl, RK, want);
            ASSERT_MEM(r, want, 32);
            ref_free(&committed);
            ref_copy(&committed, &cur);
            commits++;
        }
        ASSERT_EQ(ln_overlay_depth(o), nsnap);
        if (op % 97 == 0) {                     /* committed state untouched */
            for (int i = 0; i < RK; i++) {
                uint8_t *cv;
                size_t cl;
                int rc = ln_state_get(s, (uint8_t *)keys[i], strlen(keys[i]), &cv, &cl);
                if (!committed.v[i]) {
                    ASSERT_EQ(rc, LN_ENOTFOUND);
                } else {
                    ASSERT_EQ(rc, 0);
                    ASSERT_EQ(cl, committed.vl[i]);
                    ASSERT_MEM(cv, committed.v[i], cl);
                    free(cv);
                }
            }
        }
    }
    ASSERT(commits >= 10);
    while (nsnap)
        ref_free(&snaps[--nsnap]);
    while (ln_overlay_depth(o))
        ln_overlay_release(o);
    if (st)
        commit_store(st, o, r);
    else
        commit_mem(o, r);
    ref_root(keys, cur.v, cur.vl, RK, want);
    ASSERT_MEM(r, want, 32);

    /* a from-scratch tree of the final map has the same root */
    ln_state *fresh = mem_state();
    ln_overlay *fo = ln_overlay_new(fresh);
    size_t n = 0;
    for (int i = RK; i-- > 0;) {
        if (cur.v[i]) {
            ASSERT_EQ(ln_overlay_set(fo, (uint8_t *)keys[i], strlen(keys[i]),
                                     cur.v[i], cur.vl[i]), 0);
            n++;
        }
    }
    uint8_t fr[32];
    commit_mem(fo, fr);
    ASSERT_MEM(fr, r, 32);
    ASSERT_EQ(ln_state_count(s), n);
    ASSERT_EQ(ln_state_count(fresh), n);
    for (int i = 0; i < RK; i++) {              /* and every proof verifies */
        uint8_t *p;
        size_t pl;
        ASSERT_EQ(ln_state_prove(s, (uint8_t *)keys[i], strlen(keys[i]), &p, &pl), 0);
        ASSERT_EQ(ln_state_verify(r, (uint8_t *)keys[i], strlen(keys[i]),
                                  cur.v[i], cur.vl[i], p, pl), 0);
        free(p);
    }
    ln_overlay_free(fo);
    ln_state_close(fresh);
    ln_overlay_free(o);
    ref_free(&cur);
    ref_free(&committed);
    for (int i = 0; i < RK; i++)
        free(keys[i]);
}

TEST(state_random_ops_match_reference_map)
{
    for (uint64_t seed = 1; seed <= 5; seed++) {
        rng_state = 0x9e3779b97f4a7c15ull * seed;
        ln_state *s = mem_state();
        random_ops(NULL, s);
        ln_state_close(s);
    }
}

TEST(store_random_ops_match_reference_map)
{
    ln_store *st = tmp_store();
    ln_state *s;
    ASSERT_EQ(ln_state_open(st, &s), 0);
    random_ops(st, s);
    uint8_t r[32], r2[32];
    root_of(s, r);
    ln_state_close(s);
    ASSERT_EQ(ln_state_open(st, &s), 0);        /* reopened, it goes on */
    root_of(s, r2);
    ASSERT_MEM(r2, r, 32);
    random_ops(st, s);
    ln_state_close(s);
    ln_store_close(st);
    tmp_store_remove();
}

static const ln_test tests[] = {
    T(state_empty_root_is_zero_hash),
    T(state_single_key_root_is_its_leaf_hash),
    T(overlay_get_sees_own_writes_before_commit),
    T(overlay_reads_committed_value_under_own_writes),
    T(overlay_revert_undoes_exactly_its_writes),
    T(overlay_nested_begin_begin_revert_release),
    T(overlay_free_discards_pending_writes),
    T(overlay_root_matches_commit_and_changes_nothing),
    T(state_delete_restores_root_before_insert),
    T(state_root_independent_of_insert_order_and_history),
    T(state_commit_then_get_returns_committed_values),
    T(overlay_rejects_oversize_key_and_value),
    T(overlay_commit_refuses_open_savepoint_and_wrong_batch),
    T(overlay_is_stale_after_another_overlay_commits),
    T(proof_membership_verifies_and_rejects_wrong_value_key_root),
    T(proof_rejects_truncated_extended_and_garbled),
    T(proof_absence_in_empty_single_and_large_trees),
    T(proof_absence_cannot_be_forged_from_a_neighbour_leaf),
    T(store_commit_reopen_keeps_root_values_and_proofs),
    T(store_commit_writes_nothing_until_batch_is_committed),
    T(store_trim_reloads_nodes_on_use),
    T(store_corrupt_node_fails_with_eio_and_changes_nothing),
    T(state_random_ops_match_reference_map),
    T(store_random_ops_match_reference_map),
    {0}
};
LN_TEST_MAIN(tests)
