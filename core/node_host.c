/*
** node_host.c -- the host the node gives its consensus plugin (plugin.h):
** node.head(), propose(), execute(), commit() and the rest, in C types.
** node.evidence is node_evidence.c's.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "err.h"
#include "node_int.h"
#include "pmem.h"
#include "tree.h"
#include "vote.h"

_Static_assert(LN_PLUGIN_PRODUCERS_MAX == LN_VOTES_MAX, "node.producers() fits a ranking");

/* The plugin's view of a block (plugin.h). */
void ln__node_block(const ln_header *h, const uint8_t hash[LN_HASH_LEN], size_t ntx,
                         ln_plugin_block *out)
{
    memset(out, 0, sizeof *out);
    out->height = h->height;
    out->time = h->time;
    memcpy(out->hash, hash, LN_HASH_LEN);
    memcpy(out->prev, h->prev, LN_HASH_LEN);
    memcpy(out->state_root, h->state_root, LN_HASH_LEN);
    snprintf(out->proposer, sizeof out->proposer, "%s", h->proposer);
    out->ntx = ntx;
    out->cons_len = h->cons_len;
    memcpy(out->cons, h->cons, h->cons_len);
}

/* pos's set by stake when one is in force (valset.h), else "g"'s. */
static size_t h_validators(void *ud, const char **names, size_t cap)
{
    ln_node *n = ud;
    if (n->nset) {
        for (size_t i = 0; i < n->nset && i < cap; i++) names[i] = n->set_names[i];
        return n->nset;
    }
    for (size_t i = 0; i < n->nval && i < cap; i++) names[i] = n->val_names[i];
    return n->nval;
}

/* Without a set by stake every validator has power 1, since height 0. */
static size_t h_powers(void *ud, const char **names, uint64_t *power, size_t cap, uint64_t *since)
{
    ln_node *n = ud;
    size_t k = h_validators(ud, names, cap);
    for (size_t i = 0; i < k && i < cap; i++) power[i] = n->nset ? n->set_power[i] : 1;
    *since = n->nset ? n->set_from : 0;
    return k;
}

static const char *h_self(void *ud) { return ((ln_node *)ud)->self; }

static int h_head(void *ud, ln_plugin_block *out)
{
    ln_node *n = ud;
    ln_header h;
    uint8_t hash[LN_HASH_LEN];
    if (ln_chain_head(n->chain, &h, hash) == 0)
        ln__node_block(&h, hash, 0, out);
    else if (n->has_genesis_hdr)         /* init while the genesis is checked */
        ln__node_block(&n->genesis_hdr, n->genesis_hash, 0, out);
    else
        return LN_ENOTFOUND;
    return 0;
}

static int h_execute(void *ud, const uint8_t *data, size_t len, ln_plugin_block *out,
                     char *why, size_t whylen)
{
    ln_node *n = ud;
    int rc = ln__node_execute(n, data, len, why, whylen);
    if (rc < 0) return rc;
    ln__node_block(&n->pending->hdr, n->pending->hash, n->pending->n, out);
    return 0;
}

static int propose(ln_node *n, const uint8_t *cons, size_t clen, ln_plugin_block *out, char *why,
                   size_t whylen);

static int h_propose(void *ud, ln_plugin_block *out, char *why, size_t whylen)
{
    return propose(ud, NULL, 0, out, why, whylen);
}

static int h_propose_with(void *ud, const uint8_t *cons, size_t clen, ln_plugin_block *out,
                          char *why, size_t whylen)
{
    if (clen > LN_HEADER_CONS_MAX)
        return ln_errf(why, whylen, LN_ETOOBIG, "propose: header data over %d bytes",
                       LN_HEADER_CONS_MAX);
    return propose(ud, cons, clen, out, why, whylen);
}

static int propose(ln_node *n, const uint8_t *cons, size_t clen, ln_plugin_block *out, char *why,
                   size_t whylen)
{
    size_t max = n->block_txs;
    const ln_mtx **sel = calloc(max + 1, sizeof *sel);
    const uint8_t **txs = calloc(max + 1, sizeof *txs);
    size_t *lens = calloc(max + 1, sizeof *lens);
    if (!sel || !txs || !lens) {
        free(sel); free(txs); free(lens);
        return ln_errf(why, whylen, LN_ENOMEM, "out of memory");
    }
    size_t k = ln_mempool_select(n->mp, ln__node_nonce, n, max, n->block_bytes, sel);
    for (size_t i = 0; i < k; i++) {
        txs[i] = sel[i]->bytes;
        lens[i] = sel[i]->len;
    }
    ln_pblock_free(n->pending);
    n->pending = NULL;
    uint64_t now = (uint64_t)ln__node_wall();
    uint8_t head[LN_HASH_LEN];
    int rc = ln_chain_head(n->chain, NULL, head);
    if (rc == 0)
        rc = cons ? ln_chain_build_on(n->chain, head, n->self, now, cons, clen, txs, lens, k, 1,
                                      LN_GAS_CAP_CHAIN, &n->pending)
                  : ln_chain_build(n->chain, n->self, now, txs, lens, k, 1, LN_GAS_CAP_CHAIN,
                                   &n->pending);
    free(sel); free(txs); free(lens);
    if (rc < 0) return ln_errf(why, whylen, rc, "propose: %s", ln_strerror(rc));
    /* Its bytes for peers, kept until the next proposal. */
    msgpack_sbuffer_destroy(&n->proposal);
    if (ln_pblock_bytes(n->pending, &n->proposal) < 0) {
        msgpack_sbuffer_init(&n->proposal);
        return ln_errf(why, whylen, LN_ENOMEM, "out of memory");
    }
    ln__node_block(&n->pending->hdr, n->pending->hash, n->pending->n, out);
    out->data = (const uint8_t *)n->proposal.data;
    out->dlen = n->proposal.size;
    return 0;
}

static int h_commit(void *ud, const uint8_t hash[LN_HASH_LEN], const uint8_t *data, size_t dlen,
                    const uint8_t *cert, size_t len, char *why, size_t whylen)
{
    ln_node *n = ud;
    char hash_hex[2 * LN_HASH_LEN + 1];
    ln_hex(hash, LN_HASH_LEN, hash_hex);
    /* Agreed on by votes, not built here: execute it first. */
    if ((!n->pending || memcmp(hash, n->pending->hash, LN_HASH_LEN) != 0) && data) {
        int rc = ln__node_execute(n, data, dlen, why, whylen);
        if (rc < 0) return rc;
    }
    if (!n->pending) {
        snprintf(why, whylen, "no proposed block to commit");
        return LN_EBADBLOCK;
    }
    if (memcmp(hash, n->pending->hash, LN_HASH_LEN) != 0) {
        snprintf(why, whylen, "block %s is not the proposed block", hash_hex);
        return LN_EBADBLOCK;
    }
    ln_pblock *b = n->pending;
    int rc = ln_chain_commit(n->chain, b, cert, len);
    if (rc < 0) {
        /* Memory may be ahead of disk now: stop; a restart recovers. */
        ln__node_logl(LN_LOG_ERROR, "fatal: commit of block %llu failed: %s", (unsigned long long)b->hdr.height,
              ln_strerror(rc));
        snprintf(why, whylen, "commit failed: %s", ln_strerror(rc));
        /* The chain is back at its head (chain.c), but the store refused
        ** a write: stop; the operator sees it, a restart goes on. */
        ln_pblock_free(b);
        n->pending = NULL;
        uv_stop(n->loop);
        n->closing = 1;
        return rc;
    }
    n->pending = NULL;
    ln__node_committed(n, b);
    return 0;
}

/* What a block could take now: transactions behind a nonce gap do not
** count (a plugin that proposes only when something waits would otherwise
** make empty blocks for as long as the gap lasts). */
static size_t h_pending(void *ud) { return ln_mempool_ready(((ln_node *)ud)->mp); }

void ln__node_on_timer(const char *id, void *ud)
{
    ln_node *n = ud;
    if (ln__node_plugin_due(n)) return;    /* the old plugin's timer */
    if (n->closing || !n->plugin) return;
    char why[256];
    if (ln_plugin_on_timer(n->plugin, id, why, sizeof why) < 0)
        ln__node_logl(LN_LOG_WARN, "consensus: %s", why);
}

static void h_timer(void *ud, uint64_t ms, const char *id)
{
    ln_node *n = ud;
    int rc = n->closing ? 0 : ln_ptimers_arm(n->timers, ms, id);
    if (rc == LN_EFULL)
        ln__node_logl(LN_LOG_WARN, "consensus: %d timers are armed already; '%.64s' is ignored", LN_PTIMER_MAX, id);
    else if (rc < 0)
        ln__node_logl(LN_LOG_WARN, "consensus: timer '%.64s' could not be armed: %s", id, ln_strerror(rc));
}

static int h_sign(void *ud, const uint8_t *m, size_t len, uint8_t sig[64])
{
    ln_node *n = ud;
    if (!n->has_key) return LN_EBADKEY;
    ln_sign(n->key.sk, m, len, sig);
    return 0;
}

static int h_key_of(void *ud, const char *v, uint8_t pk[LN_PK_LEN])
{
    ln_node *n = ud;
    for (size_t i = 0; i < n->nval; i++)
        if (strcmp(n->val_names[i], v) == 0) {
            memcpy(pk, n->val_keys[i], LN_PK_LEN);
            return 0;
        }
    return LN_ENOTFOUND;
}

/* Through p2p.c when there is P2P: a line the plugin writes for a peer's
** message counts against that peer (ln_p2p_log). */
static void h_log(void *ud, const char *msg)
{
    ln_node *n = ud;
    if (!n->p2p) {
        ln__node_log("consensus: %s", msg);
        return;
    }
    size_t len = strlen(msg) + sizeof "consensus: ";
    char *line = malloc(len);
    if (!line) return;
    snprintf(line, len, "consensus: %s", msg);
    ln_p2p_log(n->p2p, line);
    free(line);
}

static int h_broadcast(void *ud, const uint8_t *m, size_t len)
{
    return ln__node_consensus_out(ud, NULL, m, len);
}

static int h_send(void *ud, const char *to, const uint8_t *m, size_t len)
{
    return ln__node_consensus_out(ud, to, m, len);
}

static int h_persist(void *ud, const char *key, const uint8_t *v, size_t len)
{
    ln_node *n = ud;
    return ln_pmem_put(ln_chain_store(n->chain), n->home, key, v, len);
}

static int h_recall(void *ud, const char *key, uint8_t **v, size_t *len)
{
    ln_node *n = ud;
    return ln_pmem_get(ln_chain_store(n->chain), n->home, key, LN_PLUGIN_MSG_MAX + 4096, v, len);
}

static uint64_t h_now_ms(void *ud)
{
    (void)ud;
    return (uint64_t)(ln__node_wall() * 1000);
}

static int h_import(void *ud, const uint8_t *data, size_t len, ln_plugin_block *out, char *why,
                    size_t whylen)
{
    return ln__node_import(ud, data, len, 0, out, why, whylen);
}

static int h_choose(void *ud, const uint8_t hash[LN_HASH_LEN], char *why, size_t whylen)
{
    return ln__node_choose(ud, hash, why, whylen);
}

static int h_finalize(void *ud, const uint8_t hash[LN_HASH_LEN], char *why, size_t whylen)
{
    return ln__node_finalize(ud, hash, why, whylen);
}

static int h_block(void *ud, const uint8_t *hash, uint64_t height, ln_plugin_block *out)
{
    return ln__node_tree_block(ud, hash, height, out);
}

static int h_mine(void *ud, const uint8_t *bytes, size_t len, const uint8_t target[LN_HASH_LEN],
                  uint64_t from, uint64_t tries, char *why, size_t whylen)
{
    return ln__node_mine(ud, bytes, len, target, from, tries, why, whylen);
}

static int h_producers(void *ud, const uint8_t *hash, size_t want, char (*names)[LN_NAME_MAX + 1],
                       size_t *k)
{
    ln_node *n = ud;
    uint8_t head[LN_HASH_LEN];
    ln_overlay *ov;
    ln_tree_info *ti = malloc(sizeof *ti);
    int rc = ti ? 0 : LN_ENOMEM;
    if (rc == 0 && !hash) rc = ln_chain_head(n->chain, &ti->hdr, head);
    else if (rc == 0) rc = ln_chain_info(n->chain, hash, ti);
    uint64_t height = rc == 0 ? ti->hdr.height : 0;
    free(ti);
    if (rc == 0) rc = ln_chain_state_at(n->chain, hash ? hash : head, &ov);
    if (rc < 0) return rc;
    rc = ln_vote_top(ov, height, want, names, k);
    ln_overlay_free(ov);
    return rc;
}

static int h_header(void *ud, const uint8_t hash[LN_HASH_LEN], uint8_t **out, size_t *len)
{
    ln_node *n = ud;
    ln_tree_info *ti = malloc(sizeof *ti);
    int rc = ti ? ln_chain_info(n->chain, hash, ti) : LN_ENOMEM;
    if (rc == 0) rc = ln_header_encode(&ti->hdr, out, len);
    free(ti);
    return rc;
}

void ln__node_host(ln_node *n, ln_plugin_host *out)
{
    ln_plugin_host h = {
        .ud = n, .validators = h_validators, .powers = h_powers, .self = h_self, .head = h_head, .propose = h_propose,
        .execute = h_execute, .commit = h_commit, .pending = h_pending, .timer = h_timer,
        .sign = h_sign, .key_of = h_key_of, .log = h_log, .broadcast = h_broadcast,
        .send = h_send, .persist = h_persist, .recall = h_recall, .now_ms = h_now_ms,
        .propose_with = h_propose_with, .import = h_import, .choose = h_choose,
        .finalize = h_finalize, .block = h_block, .mine = h_mine, .producers = h_producers,
        .header = h_header, .evidence = ln__node_evidence,
    };
    *out = h;
}
