/*
** state.c -- the authenticated state tree (a binary Patricia Merkle trie over
** BLAKE2b paths), its flat map, the overlay with its journal, and proofs.
** The tree layout, the proof encoding and the store keys are in state.h.
*/
#include "state.h"
#include "crypto.h"
#include "err.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>     /* crypto_shorthash: keyed hash for the hash tables */

#define HL LN_HASH_LEN

static const uint8_t ZERO[HL];
static const uint8_t META_KEY[] = "Nroot";
#define META_KLEN 5
#define META_LEN  (HL + 8)

/* ---- hash tables: key bytes -> entry ------------------------------------
** Open addressing, linear probing, backward-shift deletion, load <= 1/2.
** Entries are allocated one by one so that pointers to them (the journal's)
** survive a resize. The table hash is SipHash keyed with a per-state random
** seed, so keys chosen by contracts cannot force collisions; table order is
** never observable (commits sort by path). */

enum { E_WRITE = 1,     /* overlay: a pending write (v NULL: a delete) */
       E_CACHE = 2 };   /* overlay: a cached committed value (v NULL: absent) */

typedef struct ent {
    uint8_t *v;         /* value (malloc()ed, non-NULL even when empty) or NULL */
    uint64_t h;         /* table hash of the key */
    uint64_t sp;        /* overlay: the savepoint that last journaled this */
    uint32_t vl;
    uint16_t kl;
    uint8_t  fl;        /* overlay: E_WRITE, E_CACHE or 0 (nothing known) */
    uint8_t  kh[HL];    /* H(k): set in committed map entries, and in overlay
                        ** entries at commit */
    uint8_t  k[];
} ent;

typedef struct {
    ent  **tab;
    size_t mask;        /* capacity - 1; capacity 0 before the first insert */
    size_t n;
} table;

/* Room for one more item after n in the array *p of *cap items of size sz
** (doubling, first the first time). 0, or -1 when out of memory. */
static int grow(void *p, size_t *cap, size_t n, size_t sz, size_t first)
{
    if (n < *cap) return 0;
    size_t c = *cap ? 2 * *cap : first;
    void *np = realloc(*(void **)p, c * sz);
    if (!np) return -1;
    *(void **)p = np;
    *cap = c;
    return 0;
}

static uint64_t khash(const uint8_t *seed, const uint8_t *k, size_t kl)
{
    static const uint8_t nothing[1];
    uint8_t out[crypto_shorthash_BYTES];
    uint64_t h;
    crypto_shorthash(out, kl ? k : nothing, kl, seed);
    memcpy(&h, out, sizeof h);
    return h;
}

/* The slot of k: the entry, or the empty slot where it would go. The table
** must have a capacity. */
static ent **tab_slot(const table *t, const uint8_t *k, size_t kl, uint64_t h)
{
    size_t i = h & t->mask;
    for (;;) {
        ent *e = t->tab[i];
        if (!e || (e->h == h && e->kl == kl && memcmp(e->k, k, kl) == 0))
            return &t->tab[i];
        i = (i + 1) & t->mask;
    }
}

static ent *tab_get(const table *t, const uint8_t *k, size_t kl, uint64_t h)
{
    return t->n ? *tab_slot(t, k, kl, h) : NULL;
}

/* Makes room for `more` inserts without another allocation. LN_ENOMEM. */
static int tab_reserve(table *t, size_t more)
{
    size_t cap = t->tab ? t->mask + 1 : 0, want = t->n + more, ncap;
    if (want * 2 <= cap)
        return 0;
    for (ncap = cap ? cap : 16; ncap < want * 2; ncap *= 2)
        ;
    ent **nt = calloc(ncap, sizeof *nt);
    if (!nt)
        return LN_ENOMEM;
    for (size_t i = 0; i < cap; i++) {
        ent *e = t->tab[i];
        if (!e)
            continue;
        size_t j = e->h & (ncap - 1);
        while (nt[j])
            j = (j + 1) & (ncap - 1);
        nt[j] = e;
    }
    free(t->tab);
    t->tab = nt;
    t->mask = ncap - 1;
    return 0;
}

/* Removes the entry at slot (not freeing it), shifting its run back. */
static void tab_remove(table *t, ent **slot)
{
    size_t i = (size_t)(slot - t->tab), j = i;
    t->tab[i] = NULL;
    t->n--;
    for (;;) {
        j = (j + 1) & t->mask;
        ent *e = t->tab[j];
        if (!e)
            return;
        size_t home = e->h & t->mask;
        /* e may move to i unless its home lies cyclically in (i, j] */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            t->tab[i] = e;
            t->tab[j] = NULL;
            i = j;
        }
    }
}

/* Frees every entry and value; the table is empty and keeps no memory. */
static void tab_clear(table *t)
{
    if (t->tab) {
        for (size_t i = 0; i <= t->mask; i++) {
            if (t->tab[i]) {
                free(t->tab[i]->v);
                free(t->tab[i]);
            }
        }
    }
    free(t->tab);
    t->tab = NULL;
    t->mask = 0;
    t->n = 0;
}

static ent *ent_new(const uint8_t *k, size_t kl, uint64_t h)
{
    ent *e = malloc(sizeof *e + kl);
    if (!e)
        return NULL;
    e->v = NULL;
    e->h = h;
    e->sp = 0;
    e->vl = 0;
    e->kl = (uint16_t)kl;
    e->fl = 0;
    if (kl)
        memcpy(e->k, k, kl);
    return e;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

/* ---- tree nodes -----------------------------------------------------------
** A stub is a node known only by its hash (store-backed states): it is
** loaded from "N" || hash on first use and replaced by the loaded node.
** Nodes are allocated at the size of their kind. */

enum { N_STUB, N_LEAF, N_BRANCH };

typedef struct node {           /* every node starts so; a stub is only this */
    uint8_t hash[HL];
    uint8_t kind;
    uint8_t depth;              /* branch: the bit it splits on */
} node;

typedef struct {
    node    h;
    uint8_t kh[HL], vh[HL];
} leaf_node;

typedef struct {
    node    h;
    node   *child[2];
    uint8_t path[HL];           /* the paths below, bits from depth on zeroed */
} branch_node;

#define LEAF(n) ((leaf_node *)(n))
#define BR(n)   ((branch_node *)(n))

struct ln_state {
    ln_store *st;               /* NULL: in memory */
    node     *root;             /* NULL: the empty tree */
    size_t    count;
    size_t    nodes;            /* nodes allocated, stubs included */
    uint64_t  gen;              /* commits so far: overlays of older gens are stale */
    table     map;              /* in memory: the flat key -> value map */
    uint8_t   seed[crypto_shorthash_KEYBYTES];
    node    **leaves, **branches;   /* allocated, unused nodes for commits */
    size_t    nleaves, nbranches, cappool;
};

static inline int bit(const uint8_t *p, unsigned i)
{
    return (p[i >> 3] >> (7 - (i & 7))) & 1;
}

static inline uint64_t be64(const uint8_t *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return __builtin_bswap64(x);
}

/* The first bit >= from where a and b differ (they agree before from);
** 256 if they are equal. */
static unsigned cpl(const uint8_t *a, const uint8_t *b, unsigned from)
{
    for (unsigned w = from >> 6; w < 4; w++) {
        uint64_t x = be64(a + 8 * w) ^ be64(b + 8 * w);
        if (x)
            return w * 64 + (unsigned)__builtin_clzll(x);
    }
    return 256;
}

static void hash_leaf(const uint8_t kh[HL], const uint8_t vh[HL], uint8_t out[HL])
{
    uint8_t buf[1 + 2 * HL];
    buf[0] = 0x00;
    memcpy(buf + 1, kh, HL);
    memcpy(buf + 1 + HL, vh, HL);
    ln_hash(buf, sizeof buf, out);
}

static void hash_branch(unsigned d, const uint8_t l[HL], const uint8_t r[HL],
                        uint8_t out[HL])
{
    uint8_t buf[2 + 2 * HL];
    buf[0] = 0x01;
    buf[1] = (uint8_t)d;
    memcpy(buf + 2, l, HL);
    memcpy(buf + 2 + HL, r, HL);
    ln_hash(buf, sizeof buf, out);
}

static node *node_alloc(ln_state *s, size_t size)
{
    node *n = malloc(size);
    if (n)
        s->nodes++;
    return n;
}

static void node_free(ln_state *s, node *n)
{
    free(n);
    s->nodes--;
}

static node *stub_new(ln_state *s, const uint8_t hash[HL])
{
    node *n = node_alloc(s, sizeof(node));
    if (n) {
        memcpy(n->hash, hash, HL);
        n->kind = N_STUB;
        n->depth = 0;
    }
    return n;
}

static void tree_free(ln_state *s, node *n)
{
    if (!n)
        return;
    if (n->kind == N_BRANCH) {
        tree_free(s, BR(n)->child[0]);
        tree_free(s, BR(n)->child[1]);
    }
    node_free(s, n);
}

/* Makes sure the pools hold n leaves and n branches. LN_ENOMEM. */
static int pools_fill(ln_state *s, size_t n)
{
    if (n > s->cappool) {
        node **l = realloc(s->leaves, n * sizeof *l);
        if (l)
            s->leaves = l;
        node **b = realloc(s->branches, n * sizeof *b);
        if (b)
            s->branches = b;
        if (!l || !b)
            return LN_ENOMEM;
        s->cappool = n;
    }
    for (; s->nleaves < n; s->nleaves++)
        if (!(s->leaves[s->nleaves] = node_alloc(s, sizeof(leaf_node))))
            return LN_ENOMEM;
    for (; s->nbranches < n; s->nbranches++)
        if (!(s->branches[s->nbranches] = node_alloc(s, sizeof(branch_node))))
            return LN_ENOMEM;
    return 0;
}

static void pools_free(ln_state *s)
{
    while (s->nleaves)
        node_free(s, s->leaves[--s->nleaves]);
    while (s->nbranches)
        node_free(s, s->branches[--s->nbranches]);
    free(s->leaves);
    free(s->branches);
}

/* Loads the stub at *tp from the store, checking the record against the
** hash. LN_EIO (missing or corrupt node), LN_ENOMEM. */
static int load(ln_state *s, node **tp)
{
    node *stub = *tp, *n = NULL;
    uint8_t key[1 + HL], *rec, h[HL];
    size_t rl;
    key[0] = 'N';
    memcpy(key + 1, stub->hash, HL);
    int rc = ln_store_get(s->st, key, sizeof key, &rec, &rl);
    if (rc == LN_ENOTFOUND)
        return LN_EIO;
    if (rc < 0)
        return rc;
    rc = LN_EIO;
    if (rl == 1 + 2 * HL && rec[0] == 0x00) {
        ln_hash(rec, rl, h);
        if (memcmp(h, stub->hash, HL) != 0)
            goto out;
        rc = LN_ENOMEM;
        if (!(n = node_alloc(s, sizeof(leaf_node))))
            goto out;
        n->kind = N_LEAF;
        n->depth = 0;
        memcpy(LEAF(n)->kh, rec + 1, HL);
        memcpy(LEAF(n)->vh, rec + 1 + HL, HL);
    } else if (rl >= 2 + 2 * HL && rec[0] == 0x01
               && rl == 2 + 2 * HL + (rec[1] + 7u) / 8) {
        unsigned d = rec[1], pb = (d + 7) / 8;
        ln_hash(rec, 2 + 2 * HL, h);
        if (memcmp(h, stub->hash, HL) != 0)
            goto out;
        rc = LN_ENOMEM;
        node *l = stub_new(s, rec + 2), *r = stub_new(s, rec + 2 + HL);
        if (!l || !r || !(n = node_alloc(s, sizeof(branch_node)))) {
            if (l) node_free(s, l);
            if (r) node_free(s, r);
            goto out;
        }
        n->kind = N_BRANCH;
        n->depth = (uint8_t)d;
        BR(n)->child[0] = l;
        BR(n)->child[1] = r;
        memset(BR(n)->path, 0, HL);
        memcpy(BR(n)->path, rec + 2 + 2 * HL, pb);
        if (d & 7)
            BR(n)->path[d >> 3] &= (uint8_t)(0xff << (8 - (d & 7)));
    } else {
        goto out;
    }
    memcpy(n->hash, stub->hash, HL);
    node_free(s, stub);
    *tp = n;
    rc = 0;
out:
    free(rec);
    return rc;
}

/* Puts node n's record under "N" || hash into b. */
static void put_node(ln_batch *b, const node *n)
{
    uint8_t key[1 + HL], rec[2 + 3 * HL];
    size_t rl;
    key[0] = 'N';
    memcpy(key + 1, n->hash, HL);
    if (n->kind == N_LEAF) {
        rec[0] = 0x00;
        memcpy(rec + 1, LEAF(n)->kh, HL);
        memcpy(rec + 1 + HL, LEAF(n)->vh, HL);
        rl = 1 + 2 * HL;
    } else {
        rec[0] = 0x01;
        rec[1] = n->depth;
        memcpy(rec + 2, BR(n)->child[0]->hash, HL);
        memcpy(rec + 2 + HL, BR(n)->child[1]->hash, HL);
        memcpy(rec + 2 + 2 * HL, BR(n)->path, (n->depth + 7u) / 8);
        rl = 2 + 2 * HL + (n->depth + 7u) / 8;
    }
    ln_batch_put(b, key, sizeof key, rec, rl);
}

/* ---- batch update -------------------------------------------------------
** upd() merges a sorted run of changes into the subtree at *tp, which sits at
** bit `depth` of the trie: every path below it and every change agree on the
** bits before depth. Three passes share it:
**   M_LOAD   loads the stubs the update will touch (may fail; changes nothing)
**   M_HASH   computes the new hashes, changing nothing
**   M_APPLY  rebuilds the tree in place; cannot fail: stubs were loaded by
**            M_LOAD and new nodes come from pools sized beforehand
** In M_APPLY a change creates at most one leaf and one branch (a new key
** adds one of each; branches only disappear with deleted keys). */

enum { M_LOAD, M_HASH, M_APPLY };

typedef struct {
    uint8_t kh[HL];
    uint8_t vh[HL];
    ent   **slot;       /* overlay slot of the write; (*slot)->v NULL: delete */
    ent    *old;        /* in memory: the key's entry in the map, or NULL */
} change;

typedef struct {
    ln_state *s;        /* M_APPLY takes new nodes from its pools */
    ln_batch *b;        /* M_APPLY with a store */
    int       mode;
    int       err;      /* M_LOAD: first failure */
    long      dcount;   /* M_APPLY: keys added - keys removed */
} upd_ctx;

typedef struct {
    node   *n;          /* M_APPLY: the new subtree (NULL: empty) */
    int     empty;
    uint8_t hash[HL];   /* M_HASH, M_APPLY */
} res;

static int is_del(const change *c)
{
    return (*c->slot)->v == NULL;
}

/* First index in c[0..n) whose path has bit j set (paths agree before j). */
static size_t split_at(const change *c, size_t n, unsigned j)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (bit(c[mid].kh, j))
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static void res_of(res *r, node *t)
{
    r->n = t;
    r->empty = t == NULL;
    if (t)
        memcpy(r->hash, t->hash, HL);
}

/* Joins the results of both sides of bit j. reuse: the branch that stood at
** j before (reused or freed), or NULL. path: any path of the region. */
static void join(upd_ctx *u, node *reuse, unsigned j, const uint8_t *path,
                 res *l, res *r, res *out)
{
    if (l->empty || r->empty) {
        if (reuse && u->mode == M_APPLY)
            node_free(u->s, reuse);         /* the survivor moves up */
        *out = l->empty ? *r : *l;
        return;
    }
    out->empty = 0;
    out->n = NULL;
    if (u->mode == M_LOAD)
        return;
    hash_branch(j, l->hash, r->hash, out->hash);
    if (u->mode != M_APPLY)
        return;
    node *b = reuse;
    if (!b) {
        b = u->s->branches[--u->s->nbranches];
        b->kind = N_BRANCH;
        b->depth = (uint8_t)j;
        memset(BR(b)->path, 0, HL);
        memcpy(BR(b)->path, path, j / 8);
        if (j & 7)
            BR(b)->path[j >> 3] = path[j >> 3] & (uint8_t)(0xff << (8 - (j & 7)));
    }
    BR(b)->child[0] = l->n;
    BR(b)->child[1] = r->n;
    memcpy(b->hash, out->hash, HL);
    if (u->b)
        put_node(u->b, b);
    out->n = b;
}

static void upd(upd_ctx *u, node **tp, unsigned depth,
                change *c, size_t n, res *out);

/* Splits c at bit j, with the existing subtree t (or NULL) going to side
** `side`, recurses on both sides and joins them at j. */
static void fork(upd_ctx *u, node *t, int side, unsigned j,
                 change *c, size_t n, res *out)
{
    size_t k = split_at(c, n, j);
    node *lt = side == 0 ? t : NULL, *rt = side == 1 ? t : NULL;
    res l, r;
    upd(u, &lt, j + 1, c, k, &l);
    upd(u, &rt, j + 1, c + k, n - k, &r);
    join(u, NULL, j, c[0].kh, &l, &r, out);
}

static void new_leaf(upd_ctx *u, const change *c, res *out)
{
    out->empty = 0;
    out->n = NULL;
    if (u->mode == M_LOAD)
        return;
    hash_leaf(c->kh, c->vh, out->hash);
    if (u->mode != M_APPLY)
        return;
    node *lf = u->s->leaves[--u->s->nleaves];
    lf->kind = N_LEAF;
    lf->depth = 0;
    memcpy(LEAF(lf)->kh, c->kh, HL);
    memcpy(LEAF(lf)->vh, c->vh, HL);
    memcpy(lf->hash, out->hash, HL);
    if (u->b)
        put_node(u->b, lf);
    u->dcount++;
    out->n = lf;
}

static void upd(upd_ctx *u, node **tp, unsigned depth,
                change *c, size_t n, res *out)
{
    node *t = *tp;
    if (n == 0 || u->err) {
        res_of(out, t);
        return;
    }
    if (t && t->kind == N_STUB) {
        int rc = load(u->s, tp);        /* only in M_LOAD and M_HASH */
        if (rc < 0) {
            u->err = rc;
            res_of(out, t);
            return;
        }
        t = *tp;
    }

    if (!t) {                           /* build from the changes alone */
        if (n == 1) {
            if (is_del(c))
                res_of(out, NULL);      /* deleting an absent key */
            else
                new_leaf(u, c, out);
            return;
        }
        fork(u, NULL, 0, cpl(c[0].kh, c[n - 1].kh, depth), c, n, out);
        return;
    }

    if (t->kind == N_LEAF) {
        const uint8_t *kh = LEAF(t)->kh;
        if (n == 1 && memcmp(c[0].kh, kh, HL) == 0) {
            if (is_del(c)) {            /* the key goes */
                if (u->mode == M_APPLY) {
                    node_free(u->s, t);
                    u->dcount--;
                }
                res_of(out, NULL);
                return;
            }
            out->empty = 0;
            out->n = t;
            if (u->mode == M_LOAD)
                return;
            hash_leaf(kh, c[0].vh, out->hash);
            if (u->mode == M_APPLY) {   /* a new value for the key */
                memcpy(LEAF(t)->vh, c[0].vh, HL);
                memcpy(t->hash, out->hash, HL);
                if (u->b)
                    put_node(u->b, t);
            }
            return;
        }
        /* the first bit where {kh} and c disagree; c is sorted, so the
        ** extremes c[0], c[n-1] and kh bound it */
        unsigned j = cpl(c[0].kh, c[n - 1].kh, depth), x;
        if ((x = cpl(kh, c[0].kh, depth)) < j) j = x;
        fork(u, t, bit(kh, j), j, c, n, out);
        return;
    }

    /* a branch at d: do the changes all stay inside its prefix? */
    unsigned d = t->depth, m = d, x;
    const uint8_t *p = BR(t)->path;
    if ((x = cpl(p, c[0].kh, depth)) < m) m = x;
    if ((x = cpl(p, c[n - 1].kh, depth)) < m) m = x;
    if (m < d) {                        /* some leave it at bit m */
        fork(u, t, bit(p, m), m, c, n, out);
        return;
    }
    size_t k = split_at(c, n, d);
    res l, r;
    __builtin_prefetch(BR(t)->child[0]);    /* one side is read for its hash */
    __builtin_prefetch(BR(t)->child[1]);
    upd(u, &BR(t)->child[0], d + 1, c, k, &l);
    upd(u, &BR(t)->child[1], d + 1, c + k, n - k, &r);
    if (u->mode == M_LOAD) {
        out->empty = 0;
        out->n = t;
        return;
    }
    join(u, u->mode == M_APPLY ? t : NULL, d, p, &l, &r, out);
}

/* ---- committed state ----------------------------------------------------- */

int ln_state_open(ln_store *st, ln_state **out)
{
    int rc = ln_crypto_init();
    if (rc < 0)
        return rc;
    ln_state *s = calloc(1, sizeof *s);
    if (!s)
        return LN_ENOMEM;
    s->st = st;
    randombytes_buf(s->seed, sizeof s->seed);
    if (st) {
        uint8_t *meta;
        size_t ml;
        rc = ln_store_get(st, META_KEY, META_KLEN, &meta, &ml);
        if (rc < 0 && rc != LN_ENOTFOUND) {
            free(s);
            return rc;
        }
        if (rc == 0) {
            if (ml != META_LEN) {
                free(meta);
                free(s);
                return LN_EIO;
            }
            uint64_t cnt = 0;
            for (int i = 7; i >= 0; i--)
                cnt = cnt << 8 | meta[HL + i];
            s->count = (size_t)cnt;
            if (memcmp(meta, ZERO, HL) != 0 && !(s->root = stub_new(s, meta))) {
                free(meta);
                free(s);
                return LN_ENOMEM;
            }
            free(meta);
        }
    }
    *out = s;
    return 0;
}

void ln_state_close(ln_state *s)
{
    if (!s)
        return;
    tree_free(s, s->root);
    pools_free(s);
    tab_clear(&s->map);
    free(s);
}

void ln_state_root(const ln_state *s, uint8_t root[32])
{
    memcpy(root, s->root ? s->root->hash : ZERO, HL);
}

size_t ln_state_count(const ln_state *s)
{
    return s->count;
}

/* "S" || k into buf (1 + LN_STATE_KEY_MAX bytes); returns the length. */
static size_t value_key(uint8_t *buf, const uint8_t *k, size_t kl)
{
    buf[0] = 'S';
    if (kl)
        memcpy(buf + 1, k, kl);
    return 1 + kl;
}

int ln_state_get(ln_state *s, const uint8_t *k, size_t kl,
                 uint8_t **v, size_t *vl)
{
    if (kl > LN_STATE_KEY_MAX)
        return LN_ETOOBIG;
    if (s->st) {
        uint8_t key[1 + LN_STATE_KEY_MAX];
        return ln_store_get(s->st, key, value_key(key, k, kl), v, vl);
    }
    ent *e = tab_get(&s->map, k, kl, khash(s->seed, k, kl));
    if (!e)
        return LN_ENOTFOUND;
    if (!(*v = dup_bytes(e->v, e->vl)))
        return LN_ENOMEM;
    *vl = e->vl;
    return 0;
}

/* Replaces every node at `level` (root = 0) and below by a stub. */
static void trim(ln_state *s, node **tp, unsigned level)
{
    node *t = *tp;
    if (t->kind == N_STUB)
        return;
    if (level == 0) {
        node *stub = stub_new(s, t->hash);
        if (stub) {                     /* out of memory: keep it cached */
            tree_free(s, t);
            *tp = stub;
        }
        return;
    }
    if (t->kind == N_BRANCH) {
        trim(s, &BR(t)->child[0], level - 1);
        trim(s, &BR(t)->child[1], level - 1);
    }
}

void ln_state_trim(ln_state *s, size_t max_nodes)
{
    if (!s->st || !s->root || s->nodes <= max_nodes)
        return;
    /* a trie of random paths is close to balanced: levels < L hold about
    ** 2^L nodes, plus 2^L stubs at level L */
    unsigned level = 0;
    while (level < 60 && ((size_t)4 << level) <= max_nodes)
        level++;
    trim(s, &s->root, level);
}

/* ---- overlay ------------------------------------------------------------- */

typedef struct {
    ent     *e;
    uint8_t *v;         /* the value before (owned by the record) */
    uint64_t sp;
    uint32_t vl;
    uint8_t  fl;
} undo;

typedef struct {
    size_t   mark;      /* journal length at begin */
    uint64_t id;
} savepoint;

struct ln_overlay {
    ln_state  *s;
    uint64_t   gen;     /* s->gen when last in step */
    table      t;
    size_t     nwrites; /* entries with E_WRITE */
    undo      *log;
    size_t     nlog, caplog;
    savepoint *sps;
    size_t     depth, capsps;
    uint64_t   next_sp;
};

ln_overlay *ln_overlay_new(ln_state *s)
{
    ln_overlay *o = calloc(1, sizeof *o);
    if (o) {
        o->s = s;
        o->gen = s->gen;
    }
    return o;
}

static void log_drop(ln_overlay *o)
{
    for (size_t i = 0; i < o->nlog; i++)
        free(o->log[i].v);
    o->nlog = 0;
}

void ln_overlay_free(ln_overlay *o)
{
    if (!o)
        return;
    log_drop(o);
    tab_clear(&o->t);
    free(o->log);
    free(o->sps);
    free(o);
}

int ln_overlay_get(ln_overlay *o, const uint8_t *k, size_t kl,
                   const uint8_t **v, size_t *vl)
{
    ln_state *s = o->s;
    if (o->gen != s->gen)
        return LN_EINVAL;
    if (kl > LN_STATE_KEY_MAX)
        return LN_ETOOBIG;
    uint64_t h = khash(s->seed, k, kl);
    ent *e = tab_get(&o->t, k, kl, h);
    if (!e || !e->fl) {
        if (!s->st) {                   /* borrow from the committed map */
            if (!(e = tab_get(&s->map, k, kl, h)))
                return LN_ENOTFOUND;
        } else {                        /* read through, caching hits and misses */
            uint8_t key[1 + LN_STATE_KEY_MAX], *val = NULL;
            size_t len = 0;
            int rc = ln_store_get(s->st, key, value_key(key, k, kl), &val, &len);
            if (rc < 0 && rc != LN_ENOTFOUND)
                return rc;
            if (!e) {
                if (tab_reserve(&o->t, 1) < 0 || !(e = ent_new(k, kl, h))) {
                    free(val);
                    return LN_ENOMEM;
                }
                *tab_slot(&o->t, k, kl, h) = e;
                o->t.n++;
            }
            e->v = val;
            e->vl = (uint32_t)len;
            e->fl = E_CACHE;
        }
    }
    if (!e->v)
        return LN_ENOTFOUND;
    *v = e->v;
    *vl = e->vl;
    return 0;
}

/* Sets k to nv[0..vl) (taking nv) or, with nv NULL, deletes it. */
static int write_entry(ln_overlay *o, const uint8_t *k, size_t kl,
                       uint8_t *nv, size_t vl)
{
    ln_state *s = o->s;
    uint64_t h = khash(s->seed, k, kl);
    if (o->depth && grow(&o->log, &o->caplog, o->nlog, sizeof *o->log, 64) < 0)
        goto oom;
    if (tab_reserve(&o->t, 1) < 0)
        goto oom;
    ent **slot = tab_slot(&o->t, k, kl, h), *e = *slot;
    if (!e) {
        if (!(e = ent_new(k, kl, h)))
            goto oom;
        *slot = e;
        o->t.n++;
    }
    uint64_t sp = o->depth ? o->sps[o->depth - 1].id : 0;
    if (o->depth && e->sp != sp) {      /* first write in this savepoint */
        o->log[o->nlog++] = (undo){ e, e->v, e->sp, e->vl, e->fl };
        e->sp = sp;
    } else {
        free(e->v);
    }
    if (!(e->fl & E_WRITE))
        o->nwrites++;
    e->v = nv;
    e->vl = (uint32_t)vl;
    e->fl = E_WRITE;
    return 0;
oom:
    free(nv);
    return LN_ENOMEM;
}

int ln_overlay_set(ln_overlay *o, const uint8_t *k, size_t kl,
                   const uint8_t *v, size_t vl)
{
    if (o->gen != o->s->gen)
        return LN_EINVAL;
    if (kl > LN_STATE_KEY_MAX || vl > LN_STATE_VALUE_MAX)
        return LN_ETOOBIG;
    uint8_t *nv = dup_bytes(v, vl);
    if (!nv)
        return LN_ENOMEM;
    return write_entry(o, k, kl, nv, vl);
}

int ln_overlay_delete(ln_overlay *o, const uint8_t *k, size_t kl)
{
    if (o->gen != o->s->gen)
        return LN_EINVAL;
    if (kl > LN_STATE_KEY_MAX)
        return LN_ETOOBIG;
    return write_entry(o, k, kl, NULL, 0);
}

int ln_overlay_begin(ln_overlay *o)
{
    if (grow(&o->sps, &o->capsps, o->depth, sizeof *o->sps, 8) < 0)
        return LN_ENOMEM;
    o->sps[o->depth++] = (savepoint){ o->nlog, ++o->next_sp };
    return (int)o->depth;
}

void ln_overlay_release(ln_overlay *o)
{
    if (o->depth == 0)
        return;
    if (--o->depth == 0)
        log_drop(o);                    /* nothing left to revert to */
}

void ln_overlay_revert(ln_overlay *o)
{
    if (o->depth == 0)
        return;
    size_t mark = o->sps[--o->depth].mark;
    while (o->nlog > mark) {
        undo *r = &o->log[--o->nlog];
        if ((r->e->fl & E_WRITE) && !(r->fl & E_WRITE))
            o->nwrites--;
        free(r->e->v);
        r->e->v = r->v;
        r->e->vl = r->vl;
        r->e->sp = r->sp;
        r->e->fl = r->fl;
    }
}

size_t ln_overlay_depth(const ln_overlay *o)
{
    return o->depth;
}

void ln_overlay_each(ln_overlay *o, void (*fn)(void *ud, const uint8_t *k, size_t kl,
                                               const uint8_t *v, size_t vl), void *ud)
{
    for (size_t i = 0; o->t.tab && i <= o->t.mask; i++) {
        const ent *e = o->t.tab[i];
        if (e && (e->fl & E_WRITE))
            fn(ud, e->k, e->kl, e->v, e->vl);
    }
}

static int cmp_change(const void *a, const void *b)
{
    return memcmp(((const change *)a)->kh, ((const change *)b)->kh, HL);
}

/* The overlay's writes as changes sorted by path; *nsets: how many are sets.
** In memory, a key already in the map reuses its path, and deleting a key
** the map lacks is dropped. */
static int collect(ln_overlay *o, change **out, size_t *n, size_t *nsets)
{
    ln_state *s = o->s;
    change *c = malloc((o->nwrites ? o->nwrites : 1) * sizeof *c);
    size_t m = 0, sets = 0;
    if (!c)
        return LN_ENOMEM;
    for (size_t i = 0; o->t.tab && i <= o->t.mask; i++) {
        ent *e = o->t.tab[i], *old;
        if (!e || !(e->fl & E_WRITE))
            continue;
        old = NULL;
        if (s->st) {
            ln_hash(e->k, e->kl, e->kh);
        } else if ((old = tab_get(&s->map, e->k, e->kl, e->h))) {
            memcpy(e->kh, old->kh, HL);
        } else if (!e->v) {
            continue;
        } else {
            ln_hash(e->k, e->kl, e->kh);
        }
        memcpy(c[m].kh, e->kh, HL);
        c[m].old = old;
        if (e->v) {
            ln_hash(e->v, e->vl, c[m].vh);
            sets++;
        }
        c[m++].slot = &o->t.tab[i];
    }
    qsort(c, m, sizeof *c, cmp_change);
    *out = c;
    *n = m;
    *nsets = sets;
    return 0;
}

int ln_overlay_root(ln_overlay *o, uint8_t root[32])
{
    ln_state *s = o->s;
    if (o->gen != s->gen)
        return LN_EINVAL;
    change *c;
    size_t n, nsets;
    int rc = collect(o, &c, &n, &nsets);
    if (rc < 0)
        return rc;
    upd_ctx u = { .s = s, .mode = M_HASH };
    res r;
    upd(&u, &s->root, 0, c, n, &r);
    free(c);
    if (u.err)
        return u.err;
    memcpy(root, r.empty ? ZERO : r.hash, HL);
    return 0;
}

/* Moves the committed writes into the flat map (in memory) or into b. */
static void apply_values(ln_state *s, ln_batch *b, change *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ent **oslot = c[i].slot, *e = *oslot;
        if (b) {
            uint8_t key[1 + LN_STATE_KEY_MAX];
            size_t kl = value_key(key, e->k, e->kl);
            if (e->v)
                ln_batch_put(b, key, kl, e->v, e->vl);
            else
                ln_batch_delete(b, key, kl);
            continue;
        }
        ent *m = c[i].old;              /* entries stay put when the table grows */
        if (!e->v) {                    /* collect() dropped deletes of absent keys */
            ent **slot = tab_slot(&s->map, e->k, e->kl, e->h);
            tab_remove(&s->map, slot);
            free(m->v);
            free(m);
        } else if (m) {                 /* a new value for a key */
            free(m->v);
            m->v = e->v;
            m->vl = e->vl;
            e->v = NULL;
        } else {                        /* a new key: the entry moves over */
            e->fl = 0;
            e->sp = 0;
            *tab_slot(&s->map, e->k, e->kl, e->h) = e;
            s->map.n++;
            *oslot = NULL;
        }
    }
}

int ln_overlay_commit(ln_overlay *o, ln_batch *b, uint8_t root[32])
{
    ln_state *s = o->s;
    if (o->gen != s->gen || o->depth || (b == NULL) != (s->st == NULL))
        return LN_EINVAL;
    change *c;
    size_t n, nsets;
    int rc = collect(o, &c, &n, &nsets);
    if (rc < 0)
        return rc;
    upd_ctx u = { .s = s, .b = b, .mode = M_LOAD };
    res r;
    if (s->st)
        upd(&u, &s->root, 0, c, n, &r);
    if ((rc = u.err) < 0 || (rc = pools_fill(s, nsets)) < 0
        || (!s->st && (rc = tab_reserve(&s->map, nsets)) < 0)) {
        free(c);
        return rc;
    }

    /* from here on nothing can fail */
    u.mode = M_APPLY;
    upd(&u, &s->root, 0, c, n, &r);
    s->root = r.n;
    s->count = (size_t)((long)s->count + u.dcount);
    apply_values(s, b, c, n);
    if (b) {
        uint8_t meta[META_LEN];
        uint64_t cnt = s->count;
        memcpy(meta, r.empty ? ZERO : r.hash, HL);
        for (int i = 0; i < 8; i++, cnt >>= 8)
            meta[HL + i] = (uint8_t)cnt;
        ln_batch_put(b, META_KEY, META_KLEN, meta, META_LEN);
    }
    memcpy(root, r.empty ? ZERO : r.hash, HL);
    free(c);
    tab_clear(&o->t);
    o->nwrites = 0;
    o->gen = ++s->gen;
    return 0;
}

/* ---- proofs ---------------------------------------------------------------- */

int ln_state_prove(ln_state *s, const uint8_t *k, size_t kl,
                   uint8_t **proof, size_t *plen)
{
    if (kl > LN_STATE_KEY_MAX)
        return LN_ETOOBIG;
    uint8_t kh[HL], steps[256 * (1 + HL)], *p;
    size_t m = 0;
    node **tp = &s->root;
    ln_hash(k, kl, kh);
    while (*tp) {
        int rc;
        if ((*tp)->kind == N_STUB && (rc = load(s, tp)) < 0)
            return rc;
        node *t = *tp;
        if (t->kind == N_LEAF)
            break;
        int side = bit(kh, t->depth);
        steps[m * (1 + HL)] = t->depth;
        memcpy(steps + m * (1 + HL) + 1, BR(t)->child[!side]->hash, HL);
        m++;
        tp = &BR(t)->child[side];
    }
    node *leaf = *tp;
    int other = leaf && memcmp(LEAF(leaf)->kh, kh, HL) != 0;
    size_t head = 1 + (other ? 2 * HL : 0), len = head + m * (1 + HL);
    if (!(p = malloc(len)))
        return LN_ENOMEM;
    p[0] = !leaf ? 0 : other ? 2 : 1;
    if (other) {
        memcpy(p + 1, LEAF(leaf)->kh, HL);
        memcpy(p + 1 + HL, LEAF(leaf)->vh, HL);
    }
    memcpy(p + head, steps, m * (1 + HL));
    *proof = p;
    *plen = len;
    return 0;
}

int ln_state_verify(const uint8_t root[32], const uint8_t *k, size_t kl,
                    const uint8_t *v, size_t vl,
                    const uint8_t *proof, size_t plen)
{
    uint8_t kh[HL], h[HL], vh[HL];
    size_t head;
    if (plen < 1)
        return LN_EPROOF;
    ln_hash(k, kl, kh);
    switch (proof[0]) {
    case 0:
        return plen == 1 && !v && memcmp(root, ZERO, HL) == 0 ? 0 : LN_EPROOF;
    case 1:
        if (!v)
            return LN_EPROOF;
        ln_hash(v, vl, vh);
        hash_leaf(kh, vh, h);
        head = 1;
        break;
    case 2:
        if (v || plen < 1 + 2 * HL || memcmp(proof + 1, kh, HL) == 0)
            return LN_EPROOF;
        hash_leaf(proof + 1, proof + 1 + HL, h);
        head = 1 + 2 * HL;
        break;
    default:
        return LN_EPROOF;
    }
    if ((plen - head) % (1 + HL) != 0)
        return LN_EPROOF;
    size_t m = (plen - head) / (1 + HL);
    const uint8_t *st = proof + head;
    for (size_t i = 1; i < m; i++)
        if (st[i * (1 + HL)] <= st[(i - 1) * (1 + HL)])
            return LN_EPROOF;
    for (size_t i = m; i-- > 0;) {
        unsigned d = st[i * (1 + HL)];
        const uint8_t *sib = st + i * (1 + HL) + 1;
        if (bit(kh, d))
            hash_branch(d, sib, h, h);
        else
            hash_branch(d, h, sib, h);
    }
    return memcmp(h, root, HL) == 0 ? 0 : LN_EPROOF;
}
