/* chain.c -- blocks, receipts and the tx index next to the state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chain.h"
#include "chain_int.h"
#include "codec.h"
#include "err.h"
#include "shape.h"
#include "tree.h"

#define be64 ln__be64
#define rd_be64 ln__rd_be64

/* Milliseconds on the monotonic clock: how long a block took, for the log. */
static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void pstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pbin(msgpack_packer *pk, const uint8_t *p, size_t n)
{
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, p, n);
}

static void pack_header(msgpack_packer *pk, const ln_header *h)
{
    msgpack_pack_map(pk, 9);
    pstr(pk, "chain_id"); pstr(pk, h->chain_id);
    pstr(pk, "consensus");
    if (h->cons_len) pk->callback(pk->data, (const char *)h->cons, h->cons_len);
    else msgpack_pack_nil(pk);
    pstr(pk, "height"); msgpack_pack_uint64(pk, h->height);
    pstr(pk, "prev"); pbin(pk, h->prev, LN_HASH_LEN);
    pstr(pk, "proposer"); pstr(pk, h->proposer);
    pstr(pk, "receipts_root"); pbin(pk, h->receipts_root, LN_HASH_LEN);
    pstr(pk, "state_root"); pbin(pk, h->state_root, LN_HASH_LEN);
    pstr(pk, "time"); msgpack_pack_uint64(pk, h->time);
    pstr(pk, "tx_root"); pbin(pk, h->tx_root, LN_HASH_LEN);
}

int ln_header_encode(const ln_header *h, uint8_t **out, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    ln_sbuffer_init(&sb, 512);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_header(&pk, h);
    if (!sb.data) return LN_ENOMEM;
    *out = (uint8_t *)sb.data;
    *len = sb.size;
    return 0;
}

void ln_header_hash(const ln_header *h, uint8_t hash[LN_HASH_LEN])
{
    uint8_t *enc;
    size_t len;
    if (ln_header_encode(h, &enc, &len) < 0) {
        memset(hash, 0, LN_HASH_LEN);
        return;
    }
    ln_hash(enc, len, hash);
    free(enc);
}

void ln_merkle_root(const uint8_t (*leaves)[LN_HASH_LEN], size_t n, uint8_t root[LN_HASH_LEN])
{
    if (n == 0) {
        memset(root, 0, LN_HASH_LEN);
        return;
    }
    uint8_t (*lvl)[LN_HASH_LEN] = malloc(n * LN_HASH_LEN);
    if (!lvl) {
        memset(root, 0, LN_HASH_LEN);
        return;
    }
    memcpy(lvl, leaves, n * LN_HASH_LEN);
    while (n > 1) {
        size_t m = 0;
        for (size_t i = 0; i < n; i += 2, m++) {
            if (i + 1 == n) {
                memmove(lvl[m], lvl[i], LN_HASH_LEN);
            } else {
                ln_hasher h;
                ln_hash_init(&h);
                ln_hash_update(&h, lvl[i], LN_HASH_LEN);
                ln_hash_update(&h, lvl[i + 1], LN_HASH_LEN);
                ln_hash_final(&h, lvl[m]);
            }
        }
        n = m;
    }
    memcpy(root, lvl[0], LN_HASH_LEN);
    free(lvl);
}

int ln__header_cons(const msgpack_object *o, ln_header *h)
{
    h->cons_len = 0;
    if (!o || o->type == MSGPACK_OBJECT_NIL) return 0;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, *o);
    int rc = sb.data && sb.size <= LN_HEADER_CONS_MAX ? 0 : LN_EBADBLOCK;
    if (rc == 0) {
        memcpy(h->cons, sb.data, sb.size);
        h->cons_len = (uint32_t)sb.size;
    }
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* Reads the header of an encoded block. */
static int parse_header(const msgpack_object *h, ln_header *out)
{
    memset(out, 0, sizeof *out);
    if (h->type != MSGPACK_OBJECT_MAP) return LN_EBADBLOCK;
    const msgpack_object *v;
#define GETBIN(name, dst) \
    if (!(v = ln_codec_map_get(h, name)) || v->type != MSGPACK_OBJECT_BIN || \
        v->via.bin.size != LN_HASH_LEN) return LN_EBADBLOCK; \
    memcpy(dst, v->via.bin.ptr, LN_HASH_LEN);
#define GETU(name, dst) \
    if (!(v = ln_codec_map_get(h, name)) || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) \
        return LN_EBADBLOCK; \
    dst = v->via.u64;
#define GETS(name, dst) \
    if (!(v = ln_codec_map_get(h, name)) || v->type != MSGPACK_OBJECT_STR || \
        v->via.str.size >= sizeof dst) return LN_EBADBLOCK; \
    memcpy(dst, v->via.str.ptr, v->via.str.size);
    GETS("chain_id", out->chain_id);
    if (ln__header_cons(ln_codec_map_get(h, "consensus"), out) < 0) return LN_EBADBLOCK;
    GETU("height", out->height);
    GETBIN("prev", out->prev);
    GETS("proposer", out->proposer);
    GETBIN("receipts_root", out->receipts_root);
    GETBIN("state_root", out->state_root);
    GETU("time", out->time);
    GETBIN("tx_root", out->tx_root);
#undef GETBIN
#undef GETU
#undef GETS
    return 0;
}

static int load_head(ln_chain *c)
{
    uint8_t *v;
    size_t vl;
    int rc = ln_store_get(c->st, (const uint8_t *)"Mhead", 5, &v, &vl);
    if (rc == LN_ENOTFOUND) return 0;
    if (rc < 0) return rc;
    if (vl != 8) {
        free(v);
        return LN_EIO;
    }
    uint64_t height = rd_be64(v);
    free(v);
    uint8_t *blk;
    size_t bl;
    if ((rc = ln_chain_block(c, height, &blk, &bl)) < 0) return rc == LN_ENOTFOUND ? LN_EIO : rc;
    rc = ln__chain_parse_stored(blk, bl, &c->head);
    free(blk);
    if (rc < 0) return rc;
    ln_header_hash(&c->head, c->head_hash);
    c->has_head = 1;
    return ln__tree_open(c);
}

int ln__chain_parse_stored(const uint8_t *blk, size_t bl, ln_header *h)
{
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 4096);
    int rc = ln_codec_unpack(blk, bl, &z, &o);
    const msgpack_object *hdr = rc == 0 ? ln_codec_map_get(&o, "header") : NULL;
    if (rc == 0) rc = parse_header(hdr ? hdr : &o, h);
    msgpack_zone_destroy(&z);
    return rc < 0 ? LN_EIO : 0;
}

int ln_chain_open(const char *dir, ln_chain **out, char *err, size_t errlen)
{
    ln_chain *c = calloc(1, sizeof *c);
    if (!c) return LN_ENOMEM;
    int rc = ln_store_open_err(dir, &c->st, err, errlen);
    if (rc < 0) {
        free(c);
        return rc;
    }
    if ((rc = ln_state_open(c->st, &c->state)) < 0) {
        snprintf(err, errlen, "state: %s", ln_strerror(rc));
        ln_chain_close(c);
        return rc;
    }
    if ((rc = load_head(c)) < 0) {
        snprintf(err, errlen, "head block: %s", ln_strerror(rc));
        ln_chain_close(c);
        return rc;
    }
    if (c->has_head) {
        /* The state and the head were written in one batch: they agree,
        ** unless the store was damaged. */
        uint8_t root[LN_HASH_LEN];
        ln_state_root(c->state, root);
        if (memcmp(root, c->head.state_root, LN_HASH_LEN) != 0) {
            snprintf(err, errlen, "state root does not match head block %llu",
                     (unsigned long long)c->head.height);
            ln_chain_close(c);
            return LN_EIO;
        }
    }
    *out = c;
    return 0;
}

void ln_chain_close(ln_chain *c)
{
    if (!c) return;
    ln_state_close(c->state);
    ln_store_close(c->st);
    free(c);
}

ln_state *ln_chain_state(ln_chain *c) { return c->state; }

void ln_chain_set_log(ln_chain *c, void (*log)(void *ud, const char *line), void *ud)
{
    c->log = log;
    c->log_ud = ud;
}
ln_store *ln_chain_store(ln_chain *c) { return c->st; }

int ln_chain_head(ln_chain *c, ln_header *h, uint8_t hash[LN_HASH_LEN])
{
    if (!c->has_head) return LN_ENOTFOUND;
    if (h) *h = c->head;
    if (hash) memcpy(hash, c->head_hash, LN_HASH_LEN);
    return 0;
}

int ln__chain_encode_block(const ln_header *h, const uint8_t hash[LN_HASH_LEN],
                        uint8_t *const *txs, const size_t *lens, size_t n,
                        const uint8_t *cert, size_t certlen, msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    size_t need = 512 + certlen;         /* sized once: a block is megabytes */
    for (size_t i = 0; i < n; i++) need += lens[i] + 5;
    ln_sbuffer_init(sb, need);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    pstr(&pk, "cert");
    if (cert && certlen) msgpack_sbuffer_write(sb, (const char *)cert, certlen);
    else msgpack_pack_nil(&pk);
    pstr(&pk, "hash"); pbin(&pk, hash, LN_HASH_LEN);
    pstr(&pk, "header"); pack_header(&pk, h);
    pstr(&pk, "txs");
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) pbin(&pk, txs[i], lens[i]);
    return sb->data ? 0 : LN_ENOMEM;
}

/* Puts block, hash index and head into b; commits b. */
static int write_block(ln_chain *c, ln_batch *b, const ln_header *h, const uint8_t hash[LN_HASH_LEN],
                       uint8_t *const *txs, const size_t *lens, size_t n,
                       const uint8_t *cert, size_t certlen)
{
    msgpack_sbuffer sb;
    int rc = ln__chain_encode_block(h, hash, txs, lens, n, cert, certlen, &sb);
    if (rc < 0) return rc;
    uint8_t bk[9] = { 'B' }, hk[1 + LN_HASH_LEN] = { 'H' }, hv[8];
    be64(h->height, bk + 1);
    be64(h->height, hv);
    memcpy(hk + 1, hash, LN_HASH_LEN);
    ln_batch_put(b, bk, sizeof bk, (const uint8_t *)sb.data, sb.size);
    ln_batch_put(b, hk, sizeof hk, hv, 8);
    ln_batch_put(b, (const uint8_t *)"Mhead", 5, hv, 8);
    msgpack_sbuffer_destroy(&sb);
    return ln_store_commit(c->st, b);
}

/* After an overlay was folded into the state but its batch did not reach the
** store, the state in memory is ahead of the disk (state.h): read it again
** from the store, so that the chain is exactly what was last committed. */
void ln__chain_reload_state(ln_chain *c)
{
    ln_state *s;
    if (ln_state_open(c->st, &s) < 0) {
        c->broken = 1;
        return;
    }
    ln_state_close(c->state);
    c->state = s;
}

int ln_chain_genesis(ln_chain *c, const char *chain_id, uint64_t time, ln_overlay *ov)
{
    if (c->broken) {
        ln_overlay_free(ov);
        return LN_EIO;
    }
    if (c->has_head) {
        ln_overlay_free(ov);
        return LN_EEXIST;
    }
    ln_batch *b = ln_batch_new();
    if (!b) return LN_ENOMEM;
    ln_header h;
    memset(&h, 0, sizeof h);
    snprintf(h.chain_id, sizeof h.chain_id, "%s", chain_id);
    h.time = time;
    int rc = ln_overlay_commit(ov, b, h.state_root);
    ln_overlay_free(ov);
    uint8_t hash[LN_HASH_LEN];
    if (rc == 0) {
        ln_header_hash(&h, hash);
        ln__tree_index(b, &h, hash, 1);
        if ((rc = write_block(c, b, &h, hash, NULL, NULL, 0, NULL, 0)) < 0) ln__chain_reload_state(c);
    }
    ln_batch_free(b);
    if (rc < 0) return rc;
    c->head = h;
    memcpy(c->head_hash, hash, LN_HASH_LEN);
    c->has_head = 1;
    c->final = 0;
    return 0;
}

void ln_pblock_free(ln_pblock *b)
{
    if (!b) return;
    ln_overlay_free(b->ov);
    for (size_t i = 0; i < b->n; i++) {
        free(b->txs[i]);
        ln_receipt_free(&b->receipts[i]);
    }
    free(b->txs);
    free(b->lens);
    free(b->receipts);
    free(b->refused_ids);
    ln__tree_base_free(b->base);
    free(b);
}

int ln_chain_build(ln_chain *c, const char *proposer, uint64_t time,
                   const uint8_t *const *txs, const size_t *lens, size_t n,
                   int sigs_checked, uint64_t gas_cap, ln_pblock **out)
{
    if (c->broken) return LN_EIO;
    if (!c->has_head) return LN_ENOTFOUND;
    ln_overlay *ov = ln_overlay_new(c->state);
    if (!ov) return LN_ENOMEM;
    return ln__chain_build(c, &c->head, c->head_hash, ov, proposer, time, NULL, 0, txs, lens, n,
                           sigs_checked, gas_cap, out);
}

int ln__chain_build(ln_chain *c, const ln_header *parent, const uint8_t phash[LN_HASH_LEN],
                    ln_overlay *ov, const char *proposer, uint64_t time,
                    const uint8_t *cons, size_t clen, const uint8_t *const *txs,
                    const size_t *lens, size_t n, int sigs_checked, uint64_t gas_cap,
                    ln_pblock **out)
{
    (void)c;
    if (clen > LN_HEADER_CONS_MAX) {
        ln_overlay_free(ov);
        return LN_ETOOBIG;
    }
    ln_pblock *b = calloc(1, sizeof *b);
    ln_receipt *rs = calloc(n + 1, sizeof *rs);
    if (!b || !rs) {
        free(b);
        free(rs);
        ln_overlay_free(ov);
        return LN_ENOMEM;
    }
    b->ov = ov;
    b->txs = calloc(n + 1, sizeof *b->txs);
    b->lens = calloc(n + 1, sizeof *b->lens);
    b->receipts = calloc(n + 1, sizeof *b->receipts);
    b->refused_ids = calloc(n + 1, LN_HASH_LEN);
    if (!b->txs || !b->lens || !b->receipts || !b->refused_ids) {
        free(rs);
        ln_pblock_free(b);
        return LN_ENOMEM;
    }
    ln_header *h = &b->hdr;
    memcpy(h->chain_id, parent->chain_id, sizeof h->chain_id);
    h->height = parent->height + 1;
    h->time = time > parent->time ? time : parent->time;
    memcpy(h->prev, phash, LN_HASH_LEN);
    snprintf(h->proposer, sizeof h->proposer, "%s", proposer);
    if (clen) memcpy(h->cons, cons, clen);
    h->cons_len = (uint32_t)clen;

    ln_blockctx bc = { h->chain_id, h->height, h->time, { 0 }, 1, gas_cap, h->proposer, c->log, c->log_ud };
    memcpy(bc.prev, h->prev, LN_HASH_LEN);
    double t0 = mono_ms();
    int rc = ln_exec_block(b->ov, &bc, txs, lens, n, sigs_checked, rs);
    if (rc < 0) {
        free(rs);
        ln_pblock_free(b);
        return rc;
    }
    uint8_t (*ids)[LN_HASH_LEN] = calloc(n + 1, LN_HASH_LEN);
    uint8_t (*rh)[LN_HASH_LEN] = calloc(n + 1, LN_HASH_LEN);
    if (!ids || !rh) rc = LN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (rc < 0) {                      /* out of memory: drop the rest */
            ln_receipt_free(&rs[i]);
            continue;
        }
        if (!rs[i].included) {
            if (rs[i].code != LN_EFULL)            /* deferred ones stay pending */
                memcpy(b->refused_ids[b->refused++], rs[i].txid, LN_HASH_LEN);
            ln_receipt_free(&rs[i]);
            continue;
        }
        uint8_t *copy = malloc(lens[i] ? lens[i] : 1), *enc;
        size_t el;
        if (!copy || ln_receipt_encode(&rs[i], &enc, &el) < 0) {
            free(copy);
            ln_receipt_free(&rs[i]);
            rc = LN_ENOMEM;
            continue;
        }
        size_t k = b->n++;
        memcpy(copy, txs[i], lens[i]);
        b->txs[k] = copy;
        b->lens[k] = lens[i];
        b->receipts[k] = rs[i];
        b->gas += rs[i].gas_used;
        memcpy(ids[k], rs[i].txid, LN_HASH_LEN);
        ln_hash(enc, el, rh[k]);
        free(enc);
    }
    free(rs);
    if (rc < 0) {
        free(ids);
        free(rh);
        ln_pblock_free(b);
        return rc;
    }
    ln_merkle_root((const uint8_t (*)[LN_HASH_LEN])ids, b->n, h->tx_root);
    ln_merkle_root((const uint8_t (*)[LN_HASH_LEN])rh, b->n, h->receipts_root);
    free(ids);
    free(rh);
    rc = ln_overlay_root(b->ov, h->state_root);
    if (rc < 0) {
        ln_pblock_free(b);
        return rc;
    }
    ln_header_hash(h, b->hash);
    b->exec_ms = mono_ms() - t0;
    *out = b;
    return 0;
}

int ln_chain_commit(ln_chain *c, ln_pblock *b, const uint8_t *cert, size_t certlen)
{
    if (c->broken) return LN_EIO;
    if (!b->ov) return LN_EINVAL;         /* a commit of it was tried already */
    if (b->hdr.height != c->head.height + 1 ||
        memcmp(b->hdr.prev, c->head_hash, LN_HASH_LEN) != 0)
        return LN_EBADBLOCK;
    double t0 = mono_ms();
    ln_batch *batch = ln_batch_new();
    if (!batch) return LN_ENOMEM;
    /* Receipts first: until the overlay is folded in, nothing has changed. */
    for (size_t i = 0; i < b->n; i++) {
        msgpack_sbuffer sb;
        if (ln__chain_receipt_value(b->hdr.height, i, &b->receipts[i], &sb) < 0) {
            ln_batch_free(batch);
            return LN_ENOMEM;
        }
        uint8_t rk[1 + LN_HASH_LEN] = { 'R' };
        memcpy(rk + 1, b->receipts[i].txid, LN_HASH_LEN);
        ln_batch_put(batch, rk, sizeof rk, (const uint8_t *)sb.data, sb.size);
        msgpack_sbuffer_destroy(&sb);
    }
    /* The tree's records read the values the block replaces: before the fold. */
    int rc = ln__tree_commit(c, batch, b);
    if (rc < 0) {
        ln_batch_free(batch);
        return rc;
    }
    uint8_t root[LN_HASH_LEN];
    rc = ln_overlay_commit(b->ov, batch, root);
    if (rc < 0) {                          /* nothing changed */
        ln_batch_free(batch);
        return rc;
    }
    /* The overlay is spent: this block cannot be committed again. */
    ln_overlay_free(b->ov);
    b->ov = NULL;
    if (memcmp(root, b->hdr.state_root, LN_HASH_LEN) != 0)
        rc = LN_EBADBLOCK;                 /* its writes changed after the build */
    else
        rc = write_block(c, batch, &b->hdr, b->hash, b->txs, b->lens, b->n, cert, certlen);
    ln_batch_free(batch);
    if (rc < 0) {
        /* Memory is ahead of disk: go back to what the store holds. */
        ln__chain_reload_state(c);
        return rc;
    }
    c->head = b->hdr;
    memcpy(c->head_hash, b->hash, LN_HASH_LEN);
    if (!c->forks) c->final = b->hdr.height;
    ln_state_trim(c->state, 1u << 20);
    b->commit_ms = mono_ms() - t0;
    return 0;
}

int ln__chain_receipt_value(uint64_t height, size_t i, const ln_receipt *r, msgpack_sbuffer *sb)
{
    uint8_t *enc;
    size_t el;
    if (ln_receipt_encode(r, &enc, &el) < 0) return LN_ENOMEM;
    msgpack_packer pk;
    ln_sbuffer_init(sb, 512 + el);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pstr(&pk, "height"); msgpack_pack_uint64(&pk, height);
    pstr(&pk, "index"); msgpack_pack_uint64(&pk, i);
    pstr(&pk, "receipt");
    msgpack_sbuffer_write(sb, (const char *)enc, el);
    free(enc);
    if (sb->data) return 0;
    msgpack_sbuffer_destroy(sb);
    return LN_ENOMEM;
}

int ln_chain_block(ln_chain *c, uint64_t height, uint8_t **blk, size_t *len)
{
    uint8_t k[9] = { 'B' };
    be64(height, k + 1);
    return ln_store_get(c->st, k, sizeof k, blk, len);
}

int ln_chain_block_by_hash(ln_chain *c, const uint8_t hash[LN_HASH_LEN], uint8_t **blk, size_t *len)
{
    uint8_t k[1 + LN_HASH_LEN] = { 'H' };
    memcpy(k + 1, hash, LN_HASH_LEN);
    uint8_t *v;
    size_t vl;
    int rc = ln_store_get(c->st, k, sizeof k, &v, &vl);
    if (rc == LN_ENOTFOUND) {            /* a block of the tree, off the head's chain */
        k[0] = 'X';
        return ln_store_get(c->st, k, sizeof k, blk, len);
    }
    if (rc < 0) return rc;
    uint64_t height = vl == 8 ? rd_be64(v) : 0;
    free(v);
    return ln_chain_block(c, height, blk, len);
}

int ln_chain_receipt(ln_chain *c, const uint8_t id[LN_HASH_LEN], uint8_t **rec, size_t *len)
{
    uint8_t k[1 + LN_HASH_LEN] = { 'R' };
    memcpy(k + 1, id, LN_HASH_LEN);
    return ln_store_get(c->st, k, sizeof k, rec, len);
}

/* ---- blocks from peers ------------------------------------------------- */

int ln_pblock_bytes(const ln_pblock *b, msgpack_sbuffer *sb)
{
    uint8_t *hdr;
    size_t hl;
    if (ln_header_encode(&b->hdr, &hdr, &hl) < 0) return LN_ENOMEM;
    msgpack_packer pk;
    ln_sbuffer_init(sb, hl + 64 + b->n * 256);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    ln_pack_str(&pk, "hash");
    ln_pack_bin(&pk, b->hash, LN_HASH_LEN);
    ln_pack_str(&pk, "header");
    msgpack_sbuffer_write(sb, (const char *)hdr, hl);
    ln_pack_str(&pk, "txs");
    msgpack_pack_array(&pk, b->n);
    for (size_t i = 0; i < b->n; i++) ln_pack_bin(&pk, b->txs[i], b->lens[i]);
    free(hdr);
    return sb->data ? 0 : LN_ENOMEM;
}

static void bin32(const msgpack_object *o, uint8_t out[LN_HASH_LEN])
{
    if (o && o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == LN_HASH_LEN)
        memcpy(out, o->via.bin.ptr, LN_HASH_LEN);
}

int ln_block_parse(const uint8_t *blk, size_t bl, size_t max_objects, ln_block_view *p,
                   char *why, size_t whylen)
{
    memset(p, 0, sizeof *p);
    msgpack_zone_init(&p->z, 4096);
    msgpack_object o;
    ln_shape sh;
    int rc = ln_shape_of(blk, bl, max_objects, LN_CODEC_MAX_DEPTH, &sh);
    if (rc < 0 && rc != LN_ETRUNC && rc != LN_EBADBYTE)
        return ln_errf(why, whylen, rc, "block of more than %zu objects or %d levels",
                       max_objects, LN_CODEC_MAX_DEPTH);
    if (rc == 0) rc = ln_codec_unpack(blk, bl, &p->z, &o);
    const msgpack_object *hdr = rc == 0 ? ln_codec_map_get(&o, "header") : NULL;
    const msgpack_object *hash = rc == 0 ? ln_codec_map_get(&o, "hash") : NULL;
    const msgpack_object *ht = ln_codec_map_get(hdr, "height");
    const msgpack_object *tm = ln_codec_map_get(hdr, "time");
    p->txs = rc == 0 ? ln_codec_map_get(&o, "txs") : NULL;
    p->cert = rc == 0 ? ln_codec_map_get(&o, "cert") : NULL;
    ln_header *h = &p->hdr;
    if (rc < 0 || !hash || hash->type != MSGPACK_OBJECT_BIN || hash->via.bin.size != LN_HASH_LEN ||
        !p->txs || p->txs->type != MSGPACK_OBJECT_ARRAY ||
        !ht || ht->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        !tm || tm->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        ln_codec_str(ln_codec_map_get(hdr, "proposer"), h->proposer, sizeof h->proposer) < 0 ||
        !ln_name_valid(h->proposer, strlen(h->proposer)))
        return ln_errf(why, whylen, LN_EBADBLOCK, "malformed block");
    h->height = ht->via.u64;
    h->time = tm->via.u64;
    if (ln__header_cons(ln_codec_map_get(hdr, "consensus"), h) < 0)
        return ln_errf(why, whylen, LN_EBADBLOCK, "malformed block: consensus data over %d bytes",
                       LN_HEADER_CONS_MAX);
    bin32(ln_codec_map_get(hdr, "prev"), h->prev);
    bin32(ln_codec_map_get(hdr, "state_root"), h->state_root);
    memcpy(p->hash, hash->via.bin.ptr, LN_HASH_LEN);
    return 0;
}

void ln_block_view_free(ln_block_view *v)
{
    msgpack_zone_destroy(&v->z);
}
