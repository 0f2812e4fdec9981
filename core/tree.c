/* tree.c -- the block tree: blocks off the head, reorgs and finality (tree.h). */
#include <stdlib.h>
#include <string.h>

#include "chain_int.h"
#include "codec.h"
#include "err.h"
#include "tree.h"

#define HL LN_HASH_LEN

/* ---- keys ---------------------------------------------------------------- */

static void hkey(uint8_t k[1 + HL], char p, const uint8_t hash[HL])
{
    k[0] = (uint8_t)p;
    memcpy(k + 1, hash, HL);
}

static void nkey(uint8_t k[9], char p, uint64_t height)
{
    k[0] = (uint8_t)p;
    ln__be64(height, k + 1);
}

static void ykey(uint8_t k[9 + HL], uint64_t height, const uint8_t hash[HL])
{
    nkey(k, 'Y', height);
    memcpy(k + 9, hash, HL);
}

static const uint8_t MFINAL[] = "Mfinal";
#define MFINAL_LEN 6

/* ---- a set of key -> value (NULL: absent), sorted for lookups ------------ */

typedef struct {
    uint8_t *k, *v;
    uint32_t kl, vl;
} kv;

typedef struct {
    kv *e;
    size_t n, cap;
    int err;
} kvset;

static void kv_free(kvset *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->e[i].k);
        free(s->e[i].v);
    }
    free(s->e);
    s->e = NULL;
    s->n = s->cap = 0;
}

static void kv_add(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    kvset *s = ud;
    if (s->err) return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        kv *e = realloc(s->e, cap * sizeof *e);
        if (!e) {
            s->err = LN_ENOMEM;
            return;
        }
        s->e = e;
        s->cap = cap;
    }
    kv *x = &s->e[s->n];
    x->k = malloc(kl ? kl : 1);
    x->v = v ? malloc(vl ? vl : 1) : NULL;
    if (!x->k || (v && !x->v)) {
        free(x->k);
        free(x->v);
        s->err = LN_ENOMEM;
        return;
    }
    if (kl) memcpy(x->k, k, kl);
    if (v && vl) memcpy(x->v, v, vl);
    x->kl = (uint32_t)kl;
    x->vl = (uint32_t)vl;
    s->n++;
}

static int kv_cmp(const void *a, const void *b)
{
    const kv *x = a, *y = b;
    size_t m = x->kl < y->kl ? x->kl : y->kl;
    int c = m ? memcmp(x->k, y->k, m) : 0;
    return c ? c : (x->kl > y->kl) - (x->kl < y->kl);
}

static const kv *kv_find(const kvset *s, const uint8_t *k, size_t kl)
{
    if (!s || !s->n) return NULL;
    kv key = { (uint8_t *)k, NULL, (uint32_t)kl, 0 };
    return bsearch(&key, s->e, s->n, sizeof *s->e, kv_cmp);
}

void ln__tree_base_free(void *base)
{
    kv_free(base);
    free(base);
}

/* ---- "U" records ---------------------------------------------------------- */

static void put_u32(msgpack_sbuffer *sb, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    msgpack_sbuffer_write(sb, (const char *)b, 4);
}

/* The "U" record of block b: what its overlay writes against the values
** before it (those of base, else the head's state), and its receipts. */
static int undo_encode(ln_chain *c, const ln_pblock *b, msgpack_sbuffer *sb)
{
    kvset w = { 0 };
    ln_overlay_each(b->ov, kv_add, &w);
    int rc = w.err;
    msgpack_sbuffer_init(sb);
    put_u32(sb, 0);                          /* the count, set below */
    uint32_t n = 0;
    for (size_t i = 0; rc == 0 && i < w.n; i++) {
        const kv *x = &w.e[i], *old = kv_find(b->base, x->k, x->kl);
        uint8_t *ov = NULL;
        size_t ol = 0;
        int has_old;
        if (old) {
            has_old = old->v != NULL;
            ol = old->vl;
        } else {
            int g = ln_state_get(c->state, x->k, x->kl, &ov, &ol);
            if (g < 0 && g != LN_ENOTFOUND) rc = g;
            has_old = g == 0;
        }
        const uint8_t *ob = old ? old->v : ov;
        int same = has_old == (x->v != NULL) && (!has_old || (ol == x->vl && !memcmp(ob, x->v, ol)));
        if (rc == 0 && !same) {
            uint8_t kl[2] = { (uint8_t)(x->kl >> 8), (uint8_t)x->kl };
            uint8_t has = (uint8_t)((has_old ? 1 : 0) | (x->v ? 2 : 0));
            msgpack_sbuffer_write(sb, (const char *)kl, 2);
            msgpack_sbuffer_write(sb, (const char *)x->k, x->kl);
            msgpack_sbuffer_write(sb, (const char *)&has, 1);
            if (has_old) {
                put_u32(sb, (uint32_t)ol);
                msgpack_sbuffer_write(sb, (const char *)ob, ol);
            }
            if (x->v) {
                put_u32(sb, x->vl);
                msgpack_sbuffer_write(sb, (const char *)x->v, x->vl);
            }
            n++;
        }
        free(ov);
    }
    kv_free(&w);
    put_u32(sb, (uint32_t)b->n);
    for (size_t i = 0; rc == 0 && i < b->n; i++) {
        msgpack_sbuffer rv;
        if ((rc = ln__chain_receipt_value(b->hdr.height, i, &b->receipts[i], &rv)) < 0) break;
        msgpack_sbuffer_write(sb, (const char *)b->receipts[i].txid, HL);
        put_u32(sb, (uint32_t)rv.size);
        msgpack_sbuffer_write(sb, rv.data, rv.size);
        msgpack_sbuffer_destroy(&rv);
    }
    if (rc == 0 && !sb->data) rc = LN_ENOMEM;
    if (rc < 0) {
        msgpack_sbuffer_destroy(sb);
        return rc;
    }
    for (int i = 0; i < 4; i++) sb->data[i] = (char)(n >> (24 - 8 * i));
    return 0;
}

typedef struct {
    const uint8_t *p, *end;
} rd;

static int rd_take(rd *r, size_t n, const uint8_t **out)
{
    if ((size_t)(r->end - r->p) < n) return LN_EIO;
    *out = r->p;
    r->p += n;
    return 0;
}

static int rd_u32(rd *r, uint32_t *v)
{
    const uint8_t *b;
    if (rd_take(r, 4, &b) < 0) return LN_EIO;
    *v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 0;
}

typedef void (*write_fn)(void *ud, const uint8_t *k, size_t kl, int has, const uint8_t *v,
                         size_t vl);
typedef void (*rcpt_fn)(void *ud, const uint8_t id[HL], const uint8_t *rv, size_t rl);

/* Walks a "U" record: wf gets each key with its value before (after: 1)
** or after, rf each receipt. LN_EIO when it does not parse. */
static int undo_walk(const uint8_t *u, size_t ul, int after, write_fn wf, rcpt_fn rf, void *ud)
{
    rd r = { u, u + ul };
    uint32_t n, m;
    if (rd_u32(&r, &n) < 0) return LN_EIO;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *kl, *k, *has, *ov = NULL, *nv = NULL;
        uint32_t ol = 0, nl = 0;
        if (rd_take(&r, 2, &kl) < 0 || rd_take(&r, (size_t)(kl[0] << 8 | kl[1]), &k) < 0 ||
            rd_take(&r, 1, &has) < 0)
            return LN_EIO;
        if ((*has & 1) && (rd_u32(&r, &ol) < 0 || rd_take(&r, ol, &ov) < 0)) return LN_EIO;
        if ((*has & 2) && (rd_u32(&r, &nl) < 0 || rd_take(&r, nl, &nv) < 0)) return LN_EIO;
        if (wf) {
            if (after) wf(ud, k, (size_t)(kl[0] << 8 | kl[1]), *has & 2, nv, nl);
            else wf(ud, k, (size_t)(kl[0] << 8 | kl[1]), *has & 1, ov, ol);
        }
    }
    if (rd_u32(&r, &m) < 0) return LN_EIO;
    for (uint32_t i = 0; i < m; i++) {
        const uint8_t *id, *rv;
        uint32_t rl;
        if (rd_take(&r, HL, &id) < 0 || rd_u32(&r, &rl) < 0 || rd_take(&r, rl, &rv) < 0)
            return LN_EIO;
        if (rf) rf(ud, id, rv, rl);
    }
    return r.p == r.end ? 0 : LN_EIO;
}

/* Writes a record's values into an overlay. */
typedef struct {
    ln_overlay *ov;
    int err;
} to_ov;

static void write_ov(void *ud, const uint8_t *k, size_t kl, int has, const uint8_t *v, size_t vl)
{
    to_ov *t = ud;
    int rc = has ? ln_overlay_set(t->ov, k, kl, v, vl) : ln_overlay_delete(t->ov, k, kl);
    if (rc < 0 && !t->err) t->err = rc;
}

static int get_undo(ln_chain *c, const uint8_t hash[HL], uint8_t **u, size_t *ul)
{
    uint8_t k[1 + HL];
    hkey(k, 'U', hash);
    int rc = ln_store_get(c->st, k, sizeof k, u, ul);
    return rc == LN_ENOTFOUND ? LN_EFINAL : rc;    /* none kept: it cannot be reverted */
}

/* Applies block hash's values before (after = 0) or after it to ov. */
static int replay(ln_chain *c, ln_overlay *ov, const uint8_t hash[HL], int after)
{
    uint8_t *u;
    size_t ul;
    int rc = get_undo(c, hash, &u, &ul);
    if (rc < 0) return rc;
    to_ov t = { ov, 0 };
    rc = undo_walk(u, ul, after, write_ov, NULL, &t);
    free(u);
    return rc < 0 ? rc : t.err;
}

/* ---- the index ------------------------------------------------------------ */

void ln__tree_index(ln_batch *batch, const ln_header *h, const uint8_t hash[HL], int final)
{
    uint8_t tk[1 + HL], ck[9], fv[8], *enc;
    size_t el;
    hkey(tk, 'T', hash);
    nkey(ck, 'C', h->height);
    if (ln_header_encode(h, &enc, &el) == 0) {
        ln_batch_put(batch, tk, sizeof tk, enc, el);
        free(enc);
    }
    ln_batch_put(batch, ck, sizeof ck, hash, HL);
    if (final) {
        ln__be64(h->height, fv);
        ln_batch_put(batch, MFINAL, MFINAL_LEN, fv, 8);
    }
}

int ln__tree_commit(ln_chain *c, ln_batch *batch, const ln_pblock *b)
{
    ln__tree_index(batch, &b->hdr, b->hash, !c->forks);
    if (!c->forks) return 0;
    msgpack_sbuffer sb;
    int rc = undo_encode(c, b, &sb);
    if (rc < 0) return rc;
    uint8_t uk[1 + HL];
    hkey(uk, 'U', b->hash);
    ln_batch_put(batch, uk, sizeof uk, (const uint8_t *)sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return 0;
}

int ln__tree_open(ln_chain *c)
{
    uint8_t *v;
    size_t vl;
    int rc = ln_store_get(c->st, MFINAL, MFINAL_LEN, &v, &vl);
    c->final = c->head.height;
    if (rc == LN_ENOTFOUND) return 0;
    if (rc < 0) return rc;
    if (vl == 8 && ln__rd_be64(v) <= c->head.height) c->final = ln__rd_be64(v);
    free(v);
    return 0;
}

void ln_chain_set_forks(ln_chain *c, int on)
{
    /* Off: blocks are final once committed, the ones up to the head too. */
    if (c->forks && !on && c->has_head) c->final = c->head.height;
    c->forks = on != 0;
}
int  ln_chain_forks(const ln_chain *c) { return c->forks; }
uint64_t ln_chain_final(const ln_chain *c) { return c->final; }

int ln_chain_hash_at(ln_chain *c, uint64_t height, uint8_t hash[HL])
{
    if (!c->has_head || height > c->head.height) return LN_ENOTFOUND;
    uint8_t k[9], *v;
    size_t vl;
    nkey(k, 'C', height);
    int rc = ln_store_get(c->st, k, sizeof k, &v, &vl);
    if (rc == 0) {
        if (vl == HL) memcpy(hash, v, HL);
        free(v);
        return vl == HL ? 0 : LN_EIO;
    }
    if (rc != LN_ENOTFOUND) return rc;
    /* A block from before the index: its hash from its header. */
    uint8_t *blk;
    size_t bl;
    ln_header h;
    if ((rc = ln_chain_block(c, height, &blk, &bl)) < 0) return rc;
    rc = ln__chain_parse_stored(blk, bl, &h);
    free(blk);
    if (rc == 0) ln_header_hash(&h, hash);
    return rc;
}

static int on_head_chain(ln_chain *c, const ln_header *h, const uint8_t hash[HL])
{
    uint8_t at[HL];
    return ln_chain_hash_at(c, h->height, at) == 0 && memcmp(at, hash, HL) == 0;
}

int ln_chain_info(ln_chain *c, const uint8_t hash[HL], ln_tree_info *out)
{
    uint8_t k[1 + HL], *v;
    size_t vl;
    memset(out, 0, sizeof *out);
    hkey(k, 'T', hash);
    int rc = ln_store_get(c->st, k, sizeof k, &v, &vl);
    if (rc == 0) {
        rc = ln__chain_parse_stored(v, vl, &out->hdr);
        free(v);
    } else if (rc == LN_ENOTFOUND) {     /* a block from before the index */
        uint8_t *blk;
        size_t bl;
        if ((rc = ln_chain_block_by_hash(c, hash, &blk, &bl)) < 0) return rc;
        rc = ln__chain_parse_stored(blk, bl, &out->hdr);
        free(blk);
    }
    if (rc < 0) return rc;
    out->canonical = on_head_chain(c, &out->hdr, hash);
    out->final = out->canonical && out->hdr.height <= c->final;
    return 0;
}

/* ---- building off the head ---------------------------------------------- */

/* The blocks off the head's chain from hash down to the head's chain
** (newest first, none when hash is on it), and the height of the block
** where they meet it. LN_EORPHAN for a block not in the tree; LN_EFINAL
** when they meet it below the final block. */
static int branch_of(ln_chain *c, const uint8_t hash[HL], uint8_t (**out)[HL], size_t *n,
                     uint64_t *ancestor)
{
    uint8_t (*path)[HL] = NULL, cur[HL];
    size_t k = 0, cap = 0;
    memcpy(cur, hash, HL);
    for (;;) {
        ln_tree_info ti;
        int rc = ln_chain_info(c, cur, &ti);
        if (rc == 0 && ti.hdr.height == 0 && !ti.canonical) rc = LN_ENOTFOUND;  /* another genesis */
        if (rc < 0) {
            free(path);
            return rc == LN_ENOTFOUND ? LN_EORPHAN : rc;
        }
        if (ti.canonical) {
            if (ti.hdr.height < c->final) {
                free(path);
                return LN_EFINAL;
            }
            *out = path;
            *n = k;
            *ancestor = ti.hdr.height;
            return 0;
        }
        if (ti.hdr.height <= c->final) {  /* left the head's chain below final */
            free(path);
            return LN_EFINAL;
        }
        if (k == cap) {
            cap = cap ? cap * 2 : 16;
            uint8_t (*p)[HL] = realloc(path, cap * HL);
            if (!p) {
                free(path);
                return LN_ENOMEM;
            }
            path = p;
        }
        memcpy(path[k++], cur, HL);
        memcpy(cur, ti.hdr.prev, HL);
    }
}

/* An overlay on the head's state that reads as block hash's state: the
** blocks above the ancestor rewound, the branch's replayed. */
static int overlay_at(ln_chain *c, const uint8_t hash[HL], ln_overlay **out)
{
    uint8_t (*path)[HL];
    size_t n;
    uint64_t anc;
    int rc = branch_of(c, hash, &path, &n, &anc);
    if (rc < 0) return rc;
    ln_overlay *ov = ln_overlay_new(c->state);
    if (!ov) rc = LN_ENOMEM;
    for (uint64_t h = c->head.height; rc == 0 && h > anc; h--) {
        uint8_t at[HL];
        if ((rc = ln_chain_hash_at(c, h, at)) == 0) rc = replay(c, ov, at, 0);
    }
    for (size_t i = n; rc == 0 && i > 0; i--) rc = replay(c, ov, path[i - 1], 1);
    free(path);
    if (rc < 0) {
        ln_overlay_free(ov);
        return rc;
    }
    *out = ov;
    return 0;
}

int ln_chain_state_at(ln_chain *c, const uint8_t hash[HL], ln_overlay **out)
{
    if (c->broken) return LN_EIO;
    if (!c->has_head) return LN_ENOTFOUND;
    if (memcmp(hash, c->head_hash, HL) != 0) return overlay_at(c, hash, out);
    return (*out = ln_overlay_new(c->state)) ? 0 : LN_ENOMEM;
}

int ln_chain_build_on(ln_chain *c, const uint8_t parent[HL], const char *proposer,
                      uint64_t time, const uint8_t *cons, size_t clen,
                      const uint8_t *const *txs, const size_t *lens, size_t n,
                      int sigs_checked, uint64_t gas_cap, ln_pblock **out)
{
    if (c->broken) return LN_EIO;
    if (!c->has_head) return LN_ENOTFOUND;
    ln_tree_info pi;
    int rc = ln_chain_info(c, parent, &pi);
    if (rc == LN_ENOTFOUND) return LN_EORPHAN;
    if (rc < 0) return rc;
    ln_overlay *ov = NULL;
    kvset *base = calloc(1, sizeof *base);
    if (!base) return LN_ENOMEM;
    if (memcmp(parent, c->head_hash, HL) == 0) {
        if (!(ov = ln_overlay_new(c->state))) rc = LN_ENOMEM;
    } else if ((rc = overlay_at(c, parent, &ov)) == 0) {
        ln_overlay_each(ov, kv_add, base);
        rc = base->err;
        if (rc == 0 && base->n) qsort(base->e, base->n, sizeof *base->e, kv_cmp);
    }
    if (rc == 0) rc = ln__chain_build(c, &pi.hdr, parent, ov, proposer, time, cons, clen, txs, lens,
                                      n, sigs_checked, gas_cap, out);
    else ln_overlay_free(ov);
    if (rc < 0) {
        ln__tree_base_free(base);
        return rc;
    }
    (*out)->base = base;
    return 0;
}

int ln_chain_import(ln_chain *c, ln_pblock *b, const uint8_t *cert, size_t certlen)
{
    if (c->broken) return LN_EIO;
    if (!c->forks || !b->ov) return LN_EINVAL;
    uint8_t tk[1 + HL], *v;
    size_t vl;
    hkey(tk, 'T', b->hash);
    int rc = ln_store_get(c->st, tk, sizeof tk, &v, &vl);
    if (rc == 0) {
        free(v);
        return 0;                            /* known already */
    }
    if (rc != LN_ENOTFOUND) return rc;
    msgpack_sbuffer blk, u;
    if ((rc = undo_encode(c, b, &u)) < 0) return rc;
    if ((rc = ln__chain_encode_block(&b->hdr, b->hash, b->txs, b->lens, b->n, cert, certlen,
                                     &blk)) < 0) {
        msgpack_sbuffer_destroy(&u);
        return rc;
    }
    ln_batch *batch = ln_batch_new();
    if (batch) {
        uint8_t xk[1 + HL], uk[1 + HL], yk[9 + HL], *enc;
        size_t el;
        hkey(xk, 'X', b->hash);
        hkey(uk, 'U', b->hash);
        ykey(yk, b->hdr.height, b->hash);
        ln_batch_put(batch, xk, sizeof xk, (const uint8_t *)blk.data, blk.size);
        ln_batch_put(batch, uk, sizeof uk, (const uint8_t *)u.data, u.size);
        ln_batch_put(batch, yk, sizeof yk, NULL, 0);
        if (ln_header_encode(&b->hdr, &enc, &el) == 0) {
            ln_batch_put(batch, tk, sizeof tk, enc, el);
            free(enc);
            rc = ln_store_commit(c->st, batch);
        } else {
            rc = LN_ENOMEM;
        }
    }
    rc = batch ? rc : LN_ENOMEM;
    ln_batch_free(batch);
    msgpack_sbuffer_destroy(&blk);
    msgpack_sbuffer_destroy(&u);
    return rc;
}

/* ---- choose ----------------------------------------------------------------- */

void ln_reorg_free(ln_reorg *r)
{
    if (!r) return;
    free(r->reverted);
    free(r->applied);
    r->reverted = r->applied = NULL;
}

typedef struct {
    ln_batch *b;
    int put;
} rcpt_ctx;

static void rcpt_move(void *ud, const uint8_t id[HL], const uint8_t *rv, size_t rl)
{
    rcpt_ctx *x = ud;
    uint8_t rk[1 + HL];
    hkey(rk, 'R', id);
    if (x->put) ln_batch_put(x->b, rk, sizeof rk, rv, rl);
    else ln_batch_delete(x->b, rk, sizeof rk);
}

/* Moves block hash at height between "B" (on: onto the head's chain) and
** "X", with its index and receipts. */
static int move_block(ln_chain *c, ln_batch *b, const uint8_t hash[HL], uint64_t height, int on)
{
    uint8_t xk[1 + HL], hk[1 + HL], yk[9 + HL], bk[9], ck[9], hv[8], *blk, *u;
    size_t bl, ul;
    hkey(xk, 'X', hash);
    hkey(hk, 'H', hash);
    ykey(yk, height, hash);
    nkey(bk, 'B', height);
    nkey(ck, 'C', height);
    int rc = on ? ln_store_get(c->st, xk, sizeof xk, &blk, &bl)
                : ln_store_get(c->st, bk, sizeof bk, &blk, &bl);
    if (rc < 0) return rc == LN_ENOTFOUND ? LN_EIO : rc;
    if ((rc = get_undo(c, hash, &u, &ul)) < 0) {
        free(blk);
        return rc;
    }
    rcpt_ctx rx = { b, on };
    rc = undo_walk(u, ul, 1, NULL, rcpt_move, &rx);
    free(u);
    if (rc == 0 && on) {
        ln__be64(height, hv);
        ln_batch_put(b, bk, sizeof bk, blk, bl);
        ln_batch_put(b, ck, sizeof ck, hash, HL);
        ln_batch_put(b, hk, sizeof hk, hv, 8);
        ln_batch_delete(b, xk, sizeof xk);
        ln_batch_delete(b, yk, sizeof yk);
    } else if (rc == 0) {
        ln_batch_put(b, xk, sizeof xk, blk, bl);
        ln_batch_put(b, yk, sizeof yk, NULL, 0);
        ln_batch_delete(b, hk, sizeof hk);
    }
    free(blk);
    return rc;
}

int ln_chain_choose(ln_chain *c, const uint8_t hash[HL], ln_reorg *out)
{
    if (out) memset(out, 0, sizeof *out);
    if (c->broken) return LN_EIO;
    if (!c->has_head) return LN_ENOTFOUND;
    if (memcmp(hash, c->head_hash, HL) == 0) return 0;
    ln_tree_info to;
    int rc = ln_chain_info(c, hash, &to);
    if (rc < 0) return rc;
    uint8_t (*path)[HL] = NULL, (*rev)[HL] = NULL;
    size_t n = 0, nrev = 0;
    uint64_t anc;
    if ((rc = branch_of(c, hash, &path, &n, &anc)) < 0) return rc == LN_EORPHAN ? LN_ENOTFOUND : rc;
    if (anc < c->final) {
        free(path);
        return LN_EFINAL;
    }
    ln_overlay *ov = ln_overlay_new(c->state);
    ln_batch *b = ln_batch_new();
    nrev = (size_t)(c->head.height - anc);
    rev = calloc(nrev + 1, HL);
    rc = ov && b && rev ? 0 : LN_ENOMEM;
    /* The writes: back to the ancestor, then up the branch. Receipts of the
    ** reverted blocks go before the new ones', so a transaction in both
    ** keeps its new receipt. */
    for (size_t i = 0; rc == 0 && i < nrev; i++) {
        uint64_t h = c->head.height - i;
        if ((rc = ln_chain_hash_at(c, h, rev[i])) == 0 && (rc = replay(c, ov, rev[i], 0)) == 0)
            rc = move_block(c, b, rev[i], h, 0);
    }
    for (size_t i = n; rc == 0 && i > 0; i--)
        if ((rc = replay(c, ov, path[i - 1], 1)) == 0)
            rc = move_block(c, b, path[i - 1], to.hdr.height - (i - 1), 1);
    for (uint64_t h = to.hdr.height + 1; rc == 0 && h <= c->head.height; h++) {
        uint8_t bk[9], ck[9];
        nkey(bk, 'B', h);
        nkey(ck, 'C', h);
        ln_batch_delete(b, bk, sizeof bk);
        ln_batch_delete(b, ck, sizeof ck);
    }
    uint8_t root[HL], hv[8];
    if (rc == 0) {
        ln__be64(to.hdr.height, hv);
        ln_batch_put(b, (const uint8_t *)"Mhead", 5, hv, 8);
        rc = ln_overlay_commit(ov, b, root);
        if (rc == 0 && memcmp(root, to.hdr.state_root, HL) != 0) rc = LN_EIO;  /* damaged records */
        if (rc == 0) rc = ln_store_commit(c->st, b);
        if (rc < 0) ln__chain_reload_state(c);    /* memory may be ahead of the store */
    }
    ln_overlay_free(ov);
    ln_batch_free(b);
    if (rc < 0) {
        free(path);
        free(rev);
        return rc;
    }
    if (out) {
        out->from_height = c->head.height;
        memcpy(out->from, c->head_hash, HL);
        out->to_height = to.hdr.height;
        memcpy(out->to, hash, HL);
        out->ancestor = anc;
        out->nreverted = nrev;
        out->reverted = rev;
        out->napplied = n;
        /* path is newest first: the caller gets it oldest first */
        for (size_t i = 0; i < n / 2; i++) {
            uint8_t t[HL];
            memcpy(t, path[i], HL);
            memcpy(path[i], path[n - 1 - i], HL);
            memcpy(path[n - 1 - i], t, HL);
        }
        out->applied = path;
    } else {
        free(path);
        free(rev);
    }
    c->head = to.hdr;
    memcpy(c->head_hash, hash, HL);
    ln_state_trim(c->state, 1u << 20);
    return 0;
}

/* ---- finality ----------------------------------------------------------------- */

int ln_chain_finalize(ln_chain *c, const uint8_t hash[HL])
{
    if (c->broken) return LN_EIO;
    if (!c->forks) return LN_EINVAL;
    ln_tree_info ti;
    int rc = ln_chain_info(c, hash, &ti);
    if (rc == LN_ENOTFOUND || (rc == 0 && !ti.canonical)) return LN_EINVAL;
    if (rc < 0) return rc;
    uint64_t fh = ti.hdr.height;
    if (fh <= c->final) return 0;
    ln_batch *b = ln_batch_new();
    if (!b) return LN_ENOMEM;
    uint8_t fv[8], k[1 + HL];
    ln__be64(fh, fv);
    ln_batch_put(b, MFINAL, MFINAL_LEN, fv, 8);
    /* Final blocks are never reverted: their before-values go. */
    for (uint64_t h = c->final + 1; rc == 0 && h <= fh; h++) {
        uint8_t at[HL];
        if ((rc = ln_chain_hash_at(c, h, at)) == 0) {
            hkey(k, 'U', at);
            ln_batch_delete(b, k, sizeof k);
        }
    }
    /* Branches that left the head's chain at or below it: gone. */
    ln_iter *it = NULL;
    if (rc == 0) rc = ln_iter_new(c->st, (const uint8_t *)"Y", 1, &it);
    const uint8_t *ik, *iv;
    size_t ikl, ivl;
    int more;
    while (rc == 0 && (more = ln_iter_next(it, &ik, &ikl, &iv, &ivl)) != 0) {
        if (more < 0) {
            rc = more;
            break;
        }
        if (ikl != 9 + HL || ln__rd_be64(ik + 1) > fh) break;
        static const char pre[] = { 'X', 'T', 'U' };
        for (size_t i = 0; i < sizeof pre; i++) {
            hkey(k, pre[i], ik + 9);
            ln_batch_delete(b, k, sizeof k);
        }
        ln_batch_delete(b, ik, ikl);
    }
    ln_iter_free(it);
    if (rc == 0) rc = ln_store_commit(c->st, b);
    ln_batch_free(b);
    if (rc == 0) c->final = fh;
    return rc;
}

int ln_chain_block_receipts(ln_chain *c, const uint8_t hash[HL],
                            void (*fn)(void *ud, const uint8_t id[HL], const uint8_t *rv, size_t rl),
                            void *ud)
{
    uint8_t *u;
    size_t ul;
    int rc = get_undo(c, hash, &u, &ul);
    if (rc == LN_EFINAL) return LN_ENOTFOUND;
    if (rc < 0) return rc;
    rc = undo_walk(u, ul, 1, NULL, fn, ud);
    free(u);
    return rc;
}

int ln_chain_each_off(ln_chain *c, void (*fn)(void *ud, const uint8_t hash[HL], uint64_t height),
                      void *ud)
{
    ln_iter *it;
    int rc = ln_iter_new(c->st, (const uint8_t *)"Y", 1, &it), more;
    const uint8_t *k, *v;
    size_t kl, vl;
    while (rc == 0 && (more = ln_iter_next(it, &k, &kl, &v, &vl)) != 0) {
        if (more < 0) rc = more;
        else if (kl == 9 + HL) fn(ud, k + 9, ln__rd_be64(k + 1));
    }
    ln_iter_free(it);
    return rc;
}
