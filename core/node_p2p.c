/*
** node_p2p.c -- the host the node gives the P2P protocol (p2p.h): who may
** connect, the height, stored blocks, blocks and transactions from peers,
** consensus messages in and out.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"
#include "node_int.h"

static void peer_tx_done(int status, const uint8_t id[LN_HASH_LEN], const char *why, void *ud)
{
    (void)status; (void)id; (void)why; (void)ud;
}


/* The validator name of a key, or NULL. */
static const char *validator_of(ln_node *n, const uint8_t pk[LN_PK_LEN])
{
    for (size_t i = 0; i < n->nval; i++)
        if (memcmp(n->val_keys[i], pk, LN_PK_LEN) == 0) return n->val_names[i];
    return NULL;
}

static const char *p_validator(void *ud, const uint8_t pk[LN_PK_LEN])
{
    return validator_of(ud, pk);
}

static int p_allowed(void *ud, const uint8_t pk[LN_PK_LEN])
{
    ln_node *n = ud;
    if (validator_of(n, pk)) return 1;
    for (size_t i = 0; i < n->nmem; i++)
        if (memcmp(n->mem_keys[i], pk, LN_PK_LEN) == 0) return 1;
    return 0;
}

static const uint8_t *p_validator_key(void *ud, const char *name)
{
    ln_node *n = ud;
    for (size_t i = 0; i < n->nval; i++)
        if (strcmp(n->val_names[i], name) == 0) return n->val_keys[i];
    return NULL;
}

static uint64_t p_height(void *ud)
{
    ln_header h;
    return ln_chain_head(((ln_node *)ud)->chain, &h, NULL) == 0 ? h.height : 0;
}

static uint64_t p_final(void *ud)
{
    return ln_chain_final(((ln_node *)ud)->chain);
}

static int p_block(void *ud, uint64_t height, uint8_t **blk, size_t *len)
{
    return ln_chain_block(((ln_node *)ud)->chain, height, blk, len);
}

static int p_apply(void *ud, const uint8_t *blk, size_t len, char *why, size_t whylen)
{
    return ln__node_apply(ud, blk, len, why, whylen);
}

/* A transaction from a peer, not seen lately: admitted unless its exact
** bytes were verified here already. */
static void p_tx(void *ud, const uint8_t *tx, size_t len, const uint8_t bh[LN_HASH_LEN])
{
    ln_node *n = ud;
    if (ln_admit_verified(n->admit, bh) || n->closing ||
        ln_mempool_count(n->mp) >= n->mempool_max)
        return;
    ln_admit_submit(n->admit, tx, len, LN_ADMIT_PEER, peer_tx_done, NULL);
}

typedef struct {
    void (*each)(const uint8_t *tx, size_t len, void *arg);
    void *arg;
} mempool_walk;

static void mempool_walk_one(const ln_mtx *tx, void *ud)
{
    mempool_walk *w = ud;
    w->each(tx->bytes, tx->len, w->arg);
}

static void p_mempool(void *ud, void (*each)(const uint8_t *tx, size_t len, void *arg), void *arg)
{
    mempool_walk w = { each, arg };
    ln_mempool_each(((ln_node *)ud)->mp, mempool_walk_one, &w);
}

static int p_message(void *ud, const char *from, const uint8_t *m, size_t len,
                     char *why, size_t whylen)
{
    ln_node *n = ud;
    ln__node_plugin_due(n);
    if (!n->plugin) return 0;
    return ln_plugin_on_message(n->plugin, from, m, len, why, whylen);
}

static void p_log(void *ud, int level, const char *line)
{
    (void)ud;
    ln__node_logl(level, "%s", line);
}

int ln__node_consensus_out(ln_node *n, const char *to, const uint8_t *m, size_t len)
{
    if (!n->p2p) return LN_ENOTFOUND;
    /* A node made a validator after it started still connects with the key
    ** it started with: it signs what it sends as that validator, so peers
    ** can tell it speaks for it. */
    uint8_t sig[LN_SIG_LEN];
    int signed_as = n->has_key && n->self[0] && memcmp(n->key.pk, n->key_pk, LN_PK_LEN) != 0;
    if (signed_as) ln_sign(n->key.sk, m, len, sig);
    return ln_p2p_consensus(n->p2p, to, n->self, m, len, signed_as ? sig : NULL);
}

/* This node's P2P identity: its validator key, else HOME/keys/node.key. */
static int node_identity(ln_node *n, ln_key *k, char *err, size_t errlen)
{
    if (n->has_key) {
        *k = n->key;
        return 0;
    }
    char path[700], kerr[160];
    snprintf(path, sizeof path, "%s/keys/node.key", n->home);
    int rc = ln_keyfile_read(path, k, kerr, sizeof kerr);
    if (rc == LN_ENOTFOUND) {
        memset(k, 0, sizeof *k);
        snprintf(k->account, sizeof k->account, "node");
        ln_keypair(k->pk, k->sk);
        if ((rc = ln_keyfile_write(n->home, k, 0)) < 0)
            snprintf(err, errlen, "writing %s: %s", path, ln_strerror(rc));
        return rc;
    }
    if (rc < 0) snprintf(err, errlen, "%s: %s", path, kerr);
    return rc;
}

int ln__node_p2p_start(ln_node *n, const ln_node_config *cfg, char *err, size_t errlen)
{
    const char *addr = cfg->p2p_addr;
    ln_key k;
    int rc = node_identity(n, &k, err, errlen);
    if (rc < 0) return rc;
    memcpy(n->key_pk, k.pk, LN_PK_LEN);
    ln_p2p_config pc;
    memset(&pc, 0, sizeof pc);
    memcpy(pc.pk, k.pk, LN_PK_LEN);
    memcpy(pc.sk, k.sk, LN_SK_LEN);
    sodium_memzero(&k, sizeof k);
    pc.chain_id = n->chain_id;
    pc.listen = addr;
    pc.max_frame = LN_P2P_MAX_FRAME;
    pc.penalty_ms = cfg->p2p_penalty_ms;
    ln_p2p_host host = {
        .ud = n, .allowed = p_allowed, .validator = p_validator, .validator_key = p_validator_key,
        .height = p_height, .final = p_final, .block = p_block, .apply = p_apply, .tx = p_tx,
        .mempool = p_mempool, .message = p_message, .log = p_log
    };
    rc = ln_p2p_start(n->loop, &pc, &host, &n->p2p);
    sodium_memzero(&pc, sizeof pc);
    if (rc < 0) {
        snprintf(err, errlen, "P2P on %s: %s", addr,
                 rc == LN_EEXIST ? "address in use" : ln_strerror(rc));
        return rc;
    }
    n->open_handles++;                 /* until ln_p2p_close calls back */
    return 0;
}

int ln_node_connect(ln_node *n, const char *addr)
{
    if (!n->p2p || n->closing) return LN_ECLOSED;
    return ln_p2p_connect(n->p2p, addr);
}

