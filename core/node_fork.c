/*
** node_fork.c -- the node's side of the block tree (tree.h), for consensus
** plugins whose blocks fork before they are final (FORKS = true: pow).
**
** A peer's block from sync is not applied at head + 1 as under poa or bft:
** once its parent is known and the plugin's verify_block and verify_commit
** accept it, it is executed on its parent's state and joins the tree, and
** the plugin hears of it (on_block) to choose the head. A choice that leaves
** the head's chain is a reorg: the transactions of the blocks abandoned go
** back to admission unless the new branch has them, subscribers hear of
** the new blocks and of the reorg, and peers of the new head.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "err.h"
#include "node_int.h"
#include "tx.h"

_Static_assert(LN_PLUGIN_CONS_MAX == LN_HEADER_CONS_MAX, "a header's data fits a plugin's block");

void ln__node_forks_set(ln_node *n)
{
    ln_chain_set_forks(n->chain, n->plugin && ln_plugin_forks(n->plugin));
}

static const char *short_hex(const uint8_t h[LN_HASH_LEN], char out[17])
{
    ln_hex(h, 8, out);
    return out;
}

/* A parsed block joins the tree: 1 when it is new, 0 when it was known.
** verify: the plugin's verify_block and verify_commit judge it first (a
** peer's block from sync; never from inside a plugin callback). */
static int import_parsed(ln_node *n, const ln_block_view *p, const uint8_t *cert, size_t cl,
                         int verify, char *why, size_t whylen)
{
    ln_tree_info ti, pi;
    char ph[17];
    unsigned long long height = (unsigned long long)p->hdr.height;
    if (ln_chain_info(n->chain, p->hash, &ti) == 0) return 0;
    int rc = ln_chain_info(n->chain, p->hdr.prev, &pi);
    uint64_t final = ln_chain_final(n->chain);
    /* Every block at or below the final one that is not ours is on a
    ** branch that left ours there: a parent unknown so low is one. */
    /* Refused, not held against the sender: an honest node that was cut
    ** off or is catching up may have mined such a block. */
    if (rc == LN_ENOTFOUND && p->hdr.height <= final + 1)
        return ln_errf(why, whylen, LN_EFINAL, "block %llu: forks from below the final block "
                       "%llu (a reorg that deep is refused)", height, (unsigned long long)final);
    if (rc == LN_ENOTFOUND)
        return ln_errf(why, whylen, LN_EORPHAN, "block %llu: its parent %s... is unknown here",
                       height, short_hex(p->hdr.prev, ph));
    if (rc < 0) return ln_errf(why, whylen, rc, "block %llu: %s", height, ln_strerror(rc));
    if (p->hdr.height != pi.hdr.height + 1)
        return ln_errf(why, whylen, LN_EBADBLOCK, "block %llu: its parent %s... is at height %llu",
                       height, short_hex(p->hdr.prev, ph), (unsigned long long)pi.hdr.height);
    if (pi.hdr.height < final || (pi.hdr.height == final && !pi.canonical))
        return ln_errf(why, whylen, LN_EFINAL,
                       "block %llu: forks from below the final block %llu (a reorg that deep is "
                       "refused)", height, (unsigned long long)final);
    if (verify) {
        ln_plugin_block claim;
        char pwhy[200];
        ln__node_block(&p->hdr, p->hash, p->txs->via.array.size, &claim);
        if ((rc = ln_plugin_verify(n->plugin, &claim, cert, cl, pwhy, sizeof pwhy)) < 0)
            return ln_errf(why, whylen, rc, "block %llu: %s", height, pwhy);
    }
    const uint8_t **tx;
    size_t *lens, k = p->txs->via.array.size;
    if ((rc = ln__node_block_txs(n, p, &tx, &lens, why, whylen)) < 0) return rc;
    ln_pblock *b = NULL;
    rc = ln_chain_build_on(n->chain, p->hdr.prev, p->hdr.proposer, p->hdr.time, p->hdr.cons,
                           p->hdr.cons_len, tx, lens, k, 1, LN_GAS_CAP_CHAIN, &b);
    if (rc == LN_EFINAL)
        rc = ln_errf(why, whylen, rc, "block %llu: forks from below the final block", height);
    else if (rc < 0)
        rc = ln_errf(why, whylen, rc, "block %llu: %s", height, ln_strerror(rc));
    else if (b->n != k || memcmp(b->hash, p->hash, LN_HASH_LEN) != 0)
        rc = ln_errf(why, whylen, LN_EBADBLOCK, "block %llu: re-executed, its hash differs", height);
    else if ((rc = ln_chain_import(n->chain, b, cert, cl)) < 0)
        rc = ln_errf(why, whylen, rc, "block %llu: storing it: %s", height, ln_strerror(rc));
    else
        rc = 1;
    ln_pblock_free(b);
    free(tx);
    free(lens);
    return rc;
}

/* The certificate of a parsed block, as msgpack (empty: none). */
static void cert_bytes(const ln_block_view *p, msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    if (p->cert && p->cert->type != MSGPACK_OBJECT_NIL) msgpack_pack_object(&pk, *p->cert);
}

int ln__node_apply_fork(ln_node *n, const uint8_t *blk, size_t bl, char *why, size_t whylen)
{
    ln_block_view p;
    msgpack_sbuffer cert;
    int rc = ln_block_parse(blk, bl, BLOCK_OBJECTS, &p, why, whylen);
    msgpack_sbuffer_init(&cert);
    if (rc == 0) {
        cert_bytes(&p, &cert);
        rc = import_parsed(n, &p, (const uint8_t *)cert.data, cert.size, 1, why, whylen);
    }
    if (rc == 1 && n->plugin) {
        ln_plugin_block b;
        char pwhy[256];
        ln__node_block(&p.hdr, p.hash, p.txs->via.array.size, &b);
        if (ln_plugin_on_block(n->plugin, &b, pwhy, sizeof pwhy) < 0)
            ln__node_log("consensus: %s", pwhy);
    }
    ln_block_view_free(&p);
    msgpack_sbuffer_destroy(&cert);
    return rc < 0 ? rc : 0;
}

int ln__node_import(ln_node *n, const uint8_t *blk, size_t bl, int from_peer, ln_plugin_block *out,
                    char *why, size_t whylen)
{
    if (!ln_chain_forks(n->chain))
        return ln_errf(why, whylen, LN_EINVAL, "this plugin's blocks do not fork (FORKS is not set)");
    ln_block_view p;
    msgpack_sbuffer cert;
    int rc = ln_block_parse(blk, bl, BLOCK_OBJECTS, &p, why, whylen);
    msgpack_sbuffer_init(&cert);
    if (rc == 0) {
        cert_bytes(&p, &cert);
        rc = import_parsed(n, &p, (const uint8_t *)cert.data, cert.size, from_peer, why, whylen);
    }
    if (rc >= 0) {
        ln_tree_info ti;
        ln__node_block(&p.hdr, p.hash, p.txs->via.array.size, out);
        if (ln_chain_info(n->chain, p.hash, &ti) == 0) {
            out->tree = 1;
            out->final = ti.final;
            out->canonical = ti.canonical;
        }
    }
    ln_block_view_free(&p);
    msgpack_sbuffer_destroy(&cert);
    return rc < 0 ? rc : 0;
}

/* ---- after the head moved --------------------------------------------------- */

typedef struct {
    ln_node *n;
    msgpack_sbuffer rs;                  /* the block's receipts, an array */
    size_t count;
    uint8_t (*ids)[LN_HASH_LEN];
    size_t nids, capids;
} applied_ctx;

static void applied_receipt(void *ud, const uint8_t id[LN_HASH_LEN], const uint8_t *rv, size_t rl)
{
    applied_ctx *a = ud;
    if (a->nids == a->capids) {
        size_t cap = a->capids ? a->capids * 2 : 64;
        uint8_t (*p)[LN_HASH_LEN] = realloc(a->ids, cap * LN_HASH_LEN);
        if (!p) return;
        a->ids = p;
        a->capids = cap;
    }
    memcpy(a->ids[a->nids++], id, LN_HASH_LEN);
    /* The receipt out of its "R" value {height, index, receipt}. */
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 1024);
    if (ln_codec_unpack(rv, rl, &z, &o) == 0) {
        const msgpack_object *r = ln_codec_map_get(&o, "receipt");
        const msgpack_object *g = ln_codec_map_get(r, "gas_used");
        msgpack_packer pk;
        msgpack_packer_init(&pk, &a->rs, msgpack_sbuffer_write);
        if (r) msgpack_pack_object(&pk, *r);
        else msgpack_pack_nil(&pk);
        if (g && g->type == MSGPACK_OBJECT_POSITIVE_INTEGER) a->n->gas_total += g->via.u64;
        a->count++;
    }
    msgpack_zone_destroy(&z);
}

/* A block now on the head's chain: its transactions leave the mempool,
** subscribers hear of it. */
static void block_applied(ln_node *n, const uint8_t hash[LN_HASH_LEN], uint64_t height)
{
    applied_ctx a = { .n = n };
    msgpack_sbuffer_init(&a.rs);
    if (ln_chain_block_receipts(n->chain, hash, applied_receipt, &a) < 0) {
        msgpack_sbuffer_destroy(&a.rs);
        free(a.ids);
        return;
    }
    ln_mempool_remove(n->mp, (const uint8_t (*)[LN_HASH_LEN])a.ids, a.nids);
    n->txs_committed += a.nids;
    n->blocks++;
    free(a.ids);
    /* The array's header goes before the receipts gathered. */
    msgpack_sbuffer all;
    msgpack_packer pk;
    msgpack_sbuffer_init(&all);
    msgpack_packer_init(&pk, &all, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, a.count);
    msgpack_sbuffer_write(&all, a.rs.data, a.rs.size);
    msgpack_sbuffer_destroy(&a.rs);
    ln__node_note_block(n, height, &all);
}

static void readmit_done(int status, const uint8_t id[LN_HASH_LEN], const char *why, void *ud)
{
    (void)status; (void)id; (void)why; (void)ud;
}

/* A block off the head's chain now: its transactions the new chain lacks
** go back to admission (checked again against the new head's state). */
static size_t block_reverted(ln_node *n, const uint8_t hash[LN_HASH_LEN])
{
    uint8_t *blk;
    size_t bl, back = 0;
    if (ln_chain_block_by_hash(n->chain, hash, &blk, &bl) < 0) return 0;
    ln_block_view p;
    char why[64];
    if (ln_block_parse(blk, bl, BLOCK_OBJECTS, &p, why, sizeof why) == 0) {
        for (uint32_t i = 0; i < p.txs->via.array.size; i++) {
            const msgpack_object *t = &p.txs->via.array.ptr[i];
            ln_tx tx;
            if (t->type != MSGPACK_OBJECT_BIN) continue;
            if (ln_tx_decode(&tx, (const uint8_t *)t->via.bin.ptr, t->via.bin.size) < 0) continue;
            uint8_t *r;
            size_t rl;
            int in_new = ln_chain_receipt(n->chain, tx.id, &r, &rl) == 0;
            if (in_new) free(r);
            ln_tx_free(&tx);
            /* As a client's: gossiped, so that a miner of the winning
            ** branch takes it even if this node goes down now. */
            if (!in_new && n->admit &&
                ln_admit_submit(n->admit, (const uint8_t *)t->via.bin.ptr, t->via.bin.size, 0,
                                readmit_done, NULL) == 0)
                back++;
        }
    }
    ln_block_view_free(&p);
    free(blk);
    return back;
}

static void recover_one(void *ud, const uint8_t hash[LN_HASH_LEN], uint64_t height)
{
    (void)height;
    size_t *back = ((void **)ud)[1];
    *back += block_reverted(((void **)ud)[0], hash);
}

void ln__node_fork_recover(ln_node *n)
{
    if (!ln_chain_forks(n->chain)) return;
    size_t back = 0;
    void *ud[2] = { n, &back };
    int rc = ln_chain_each_off(n->chain, recover_one, ud);
    if (rc < 0) ln__node_log("forks: the blocks off the head's chain do not read: %s", ln_strerror(rc));
    else if (back) ln__node_log("forks: %zu transactions of blocks off the head's chain back to "
                                "admission", back);
}

static void reorged(ln_node *n, const ln_reorg *r, double ms)
{
    size_t back = 0;
    for (size_t i = 0; i < r->nreverted; i++) back += block_reverted(n, r->reverted[i]);
    for (size_t i = 0; i < r->napplied; i++)
        block_applied(n, r->applied[i], r->ancestor + 1 + i);
    ln_mempool_prune(n->mp, r->to_height + 1, ln__node_nonce, n);
    ln__node_membership(n);
    double t = ln__node_wall();
    if (n->last_block_at > 0) n->block_interval = t - n->last_block_at;
    n->last_block_at = t;
    if (r->nreverted) {
        char a[17], b[17];
        n->reorgs++;
        n->reorg_depth_last = r->nreverted;
        n->reorg_blocks += r->nreverted;
        n->reorg_ms_total += ms;
        if (r->nreverted > n->reorg_depth_max) n->reorg_depth_max = r->nreverted;
        ln__node_log("reorg: head %llu %s... -> %llu %s..., %zu blocks reverted, %zu applied, "
                     "%zu transactions back to the mempool (%.2f ms)",
                     (unsigned long long)r->from_height, short_hex(r->from, a),
                     (unsigned long long)r->to_height, short_hex(r->to, b), r->nreverted,
                     r->napplied, back, ms);
        ln_reorg_event ev = { r->from_height, r->to_height, r->nreverted, { 0 }, { 0 } };
        memcpy(ev.from, r->from, LN_HASH_LEN);
        memcpy(ev.to, r->to, LN_HASH_LEN);
        ln__node_note_reorg(n, &ev);
    }
    ln__node_swaps_committed(n);
    ln__node_evidence_committed(n);
    if (n->p2p) ln_p2p_committed(n->p2p, r->to_height, 0);
}

int ln__node_choose(ln_node *n, const uint8_t hash[LN_HASH_LEN], char *why, size_t whylen)
{
    ln_reorg r;
    char h[17];
    double t0 = ln__node_wall();
    int rc = ln_chain_choose(n->chain, hash, &r);
    if (rc == LN_EFINAL)
        return ln_errf(why, whylen, rc, "block %s...: the head cannot move there without "
                       "reverting a final block", short_hex(hash, h));
    if (rc == LN_ENOTFOUND)
        return ln_errf(why, whylen, rc, "block %s... is not in the tree", short_hex(hash, h));
    if (rc < 0) return ln_errf(why, whylen, rc, "choose: %s", ln_strerror(rc));
    /* A block executed before this one was built on the old head. */
    ln_pblock_free(n->pending);
    n->pending = NULL;
    if (r.nreverted || r.napplied) reorged(n, &r, (ln__node_wall() - t0) * 1000);
    ln_reorg_free(&r);
    return 0;
}

int ln__node_finalize(ln_node *n, const uint8_t hash[LN_HASH_LEN], char *why, size_t whylen)
{
    char h[17];
    int rc = ln_chain_finalize(n->chain, hash);
    if (rc == LN_EINVAL)
        return ln_errf(why, whylen, rc, "block %s... is not on the head's chain",
                       short_hex(hash, h));
    if (rc < 0) return ln_errf(why, whylen, rc, "finalize: %s", ln_strerror(rc));
    return 0;
}

int ln__node_tree_block(ln_node *n, const uint8_t *hash, uint64_t height, ln_plugin_block *out)
{
    uint8_t at[LN_HASH_LEN];
    ln_tree_info ti;
    if (!hash) {
        int rc = ln_chain_hash_at(n->chain, height, at);
        if (rc < 0) return rc;
        hash = at;
    }
    int rc = ln_chain_info(n->chain, hash, &ti);
    if (rc < 0) return rc;
    ln__node_block(&ti.hdr, hash, 0, out);
    out->tree = 1;
    out->final = ti.final;
    out->canonical = ti.canonical;
    return 0;
}

/* ---- mining ----------------------------------------------------------------- */

static void on_mined(int found, uint64_t nonce, const uint8_t hash[LN_HASH_LEN], uint64_t next,
                     void *ud)
{
    ln_node *n = ud;
    if (n->closing) return;
    ln__node_plugin_due(n);
    if (!n->plugin) return;
    char why[256];
    if (ln_plugin_on_mined(n->plugin, found, nonce, hash, next, why, sizeof why) < 0)
        ln__node_log("consensus: %s", why);
}

int ln__node_mine(ln_node *n, const uint8_t *bytes, size_t len, const uint8_t target[LN_HASH_LEN],
                  uint64_t from, uint64_t tries, char *why, size_t whylen)
{
    if (n->closing) return ln_errf(why, whylen, LN_ECLOSED, "%s", ln_strerror(LN_ECLOSED));
    if (!n->miner) {
        int rc = ln_miner_new(n->loop, on_mined, n, &n->miner);
        if (rc < 0) return ln_errf(why, whylen, rc, "%s", ln_strerror(rc));
        n->open_handles++;               /* until the miner is closed */
    }
    int rc = ln_miner_start(n->miner, bytes, len, target, from, tries);
    if (rc < 0)
        return ln_errf(why, whylen, rc, "mine: %s", rc == LN_ETOOBIG ? "more than 1024 bytes"
                       : ln_strerror(rc));
    return 0;
}

static void miner_closed(void *ud)
{
    ln_node *n = ud;
    n->open_handles--;
    ln__node_maybe_free(n);
}

void ln__node_fork_close(ln_node *n)
{
    if (!n->miner) return;
    ln_miner *m = n->miner;
    n->miner = NULL;
    ln_miner_close(m, miner_closed, n);
}
