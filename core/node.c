/*
** node.c -- a running node: chain, mempool and consensus plugin on one loop.
**
** Blocks happen only through the consensus plugin: it asks for a proposal
** (node.propose), gathers agreement its own way and commits (node.commit).
** The node keeps at most one proposed block; committing it writes block,
** state, receipts and index in one synced batch (chain.c).
**
** Admission: a submitted transaction is decoded and its signatures verified
** on the libuv worker pool; back on the loop it is checked against the head
** state (chain, expiry, account, nonce, authority, balance) and enters the
** mempool. Its signatures are not verified again when the block executes.
**
** P2P: the protocol is p2p.c's (p2p.h); the node answers its questions
** (height, stored blocks, membership) and takes what it hands over: a
** transaction from a peer goes to admission like a client's; a committed
** block from a peer at head + 1 is checked by the consensus plugin
** (verify_block, verify_commit) before it costs an execution, then
** re-executed with its signatures verified and committed when its hash
** comes out the same; a consensus message goes to the plugin's on_message.
** The node tells p2p.c what to send: a transaction admitted from a client,
** a block committed.
**
** This file is the coordinator: the node struct (node_int.h), open and
** close, the commit path, admission's last step and the queries. The hosts
** it gives its parts live beside it: node_host.c (the consensus plugin's),
** node_p2p.c (the P2P protocol's), node_metrics.c (/metrics); and what it
** does for others: node_log.c (the log), node_events.c (subscribers hear
** of blocks and reorgs), node_query.c (queries, quotes and dry runs on the workers).
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "node.h"
#include "node_int.h"
#include "account.h"
#include "codec.h"
#include "err.h"
#include "exec.h"
#include "genesis.h"
#include "govern.h"
#include "registry.h"
#include "sandbox.h"
#include "tx.h"
#include "valset.h"

/* ---- plugin host ------------------------------------------------------ */


uint64_t ln__node_nonce(const char *account, void *ud)
{
    ln_node *n = ud;
    uint8_t key[1 + LN_NAME_MAX], *v;
    size_t kl = ln_account_key(account, key), vl;
    if (ln_state_get(ln_chain_state(n->chain), key, kl, &v, &vl) < 0) return 0;
    ln_account a;
    memset(&a, 0, sizeof a);
    int rc = ln_account_decode(v, vl, &a);
    free(v);
    return rc < 0 ? 0 : a.nonce;
}

static void membership_refresh(ln_node *n);

/* After b is committed (by this node's plugin or from a peer): mempool,
** metrics, subscribers, peers. Frees b. */
void ln__node_committed(ln_node *n, ln_pblock *b)
{
    /* Ours to send: decided before the block may change who we are. */
    int proposed = n->self[0] && strcmp(b->hdr.proposer, n->self) == 0;
    for (size_t i = 0; i < b->n && n->p2p; i++) {  /* late copies from peers: dropped */
        uint8_t bh[LN_HASH_LEN];
        ln_hash(b->txs[i], b->lens[i], bh);
        ln_p2p_seen(n->p2p, bh);
    }
    membership_refresh(n);
    for (size_t i = 0; i < b->n; i++) {
        ln_mempool_remove(n->mp, (const uint8_t (*)[LN_HASH_LEN])b->receipts[i].txid, 1);
        n->gas_total += b->receipts[i].gas_used;
    }
    ln_mempool_remove(n->mp, (const uint8_t (*)[LN_HASH_LEN])b->refused_ids, b->refused);
    ln_mempool_prune(n->mp, b->hdr.height + 1, ln__node_nonce, n);
    n->txs_committed += b->n;
    n->blocks++;
    double t = ln__node_wall();
    if (n->last_block_at > 0) n->block_interval = t - n->last_block_at;
    n->last_block_at = t;
    ln__node_notify(n, b);
    ln__node_swaps_committed(n);
    ln__node_evidence_committed(n);
    if (n->p2p) ln_p2p_committed(n->p2p, b->hdr.height, proposed);
    ln__node_log_block(b);
    ln_pblock_free(b);
}


/* ---- genesis ---------------------------------------------------------- */


/* Executes a parsed block at head + 1 (a peer's proposal or a committed
** block) and keeps it as the pending block once its hash matches: every
** transaction must be included, as the proposer executed it. Signatures
** of transactions this node admitted already are not checked again; the
** others are checked here. */
static int execute_parsed(ln_node *n, const ln_block_view *p, char *why, size_t whylen)
{
    const ln_header *claim = &p->hdr;
    uint64_t height = claim->height;
    ln_header head;
    if (ln_chain_head(n->chain, &head, NULL) < 0 || height != head.height + 1) {
        snprintf(why, whylen, "block %llu is not the next one (head %llu)",
                 (unsigned long long)height, (unsigned long long)head.height);
        return LN_EBADBLOCK;
    }
    if (n->pending && memcmp(n->pending->hash, p->hash, LN_HASH_LEN) == 0)
        return 0;                          /* executed already */
    size_t k = p->txs->via.array.size;
    const uint8_t **tx = NULL;
    size_t *lens = NULL;
    ln_pblock *b = NULL;
    int rc = ln__node_block_txs(n, p, &tx, &lens, why, whylen);
    if (rc < 0) goto done;
    ln_pblock_free(n->pending);            /* only one executed block at a time */
    n->pending = NULL;
    if ((rc = ln_chain_build(n->chain, claim->proposer, claim->time, tx, lens, k, 1, LN_GAS_CAP_CHAIN,
                             &b)) < 0) {
        snprintf(why, whylen, "block %llu: %s", (unsigned long long)height, ln_strerror(rc));
        goto done;
    }
    if (b->hdr.height != height || b->n != k || memcmp(b->hash, p->hash, LN_HASH_LEN) != 0) {
        snprintf(why, whylen, "block %llu: re-executed, its hash differs", (unsigned long long)height);
        rc = LN_EBADBLOCK;
        goto done;
    }
    n->pending = b;
    b = NULL;
done:
    ln_pblock_free(b);
    free(tx);
    free(lens);
    return rc;
}

int ln__node_block_txs(ln_node *n, const ln_block_view *p, const uint8_t ***txp, size_t **lensp,
                       char *why, size_t whylen)
{
    size_t k = p->txs->via.array.size;
    const uint8_t **tx = calloc(k + 1, sizeof *tx);
    size_t *lens = calloc(k + 1, sizeof *lens);
    int rc = 0;
    if (!tx || !lens) rc = ln_errf(why, whylen, LN_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < k; i++) {
        const msgpack_object *t = &p->txs->via.array.ptr[i];
        if (t->type != MSGPACK_OBJECT_BIN) {
            rc = ln_errf(why, whylen, LN_EBADBLOCK, "malformed block");
            break;
        }
        tx[i] = (const uint8_t *)t->via.bin.ptr;
        lens[i] = t->via.bin.size;
        uint8_t bh[LN_HASH_LEN];
        ln_hash(tx[i], lens[i], bh);
        int vrc = ln_admit_check(n->admit, tx[i], lens[i], bh);
        if (vrc < 0)
            rc = ln_errf(why, whylen, LN_EBADBLOCK, "block %llu: transaction %zu: %s",
                         (unsigned long long)p->hdr.height, i, ln_strerror(vrc));
    }
    if (rc < 0) {
        free(tx);
        free(lens);
        return rc;
    }
    *txp = tx;
    *lensp = lens;
    return 0;
}

/* execute_parsed of a block's bytes. */
int ln__node_execute(ln_node *n, const uint8_t *blk, size_t bl, char *why, size_t whylen)
{
    ln_block_view p;
    int rc = ln_block_parse(blk, bl, BLOCK_OBJECTS, &p, why, whylen);
    if (rc == 0) rc = execute_parsed(n, &p, why, whylen);
    ln_block_view_free(&p);
    return rc;
}

/* A committed block from a peer (sync): executed, then committed once the
** consensus plugin accepts it (verify_block and verify_commit with the
** block's certificate): the rules are the plugin's. */
int ln__node_apply(ln_node *n, const uint8_t *blk, size_t bl, char *why, size_t whylen)
{
    /* The certificate first, on the header as the block claims it: a
    ** block nobody certified costs no execution. Executing it then checks
    ** that the claim (the hash the certificate signs) is the block. */
    ln__node_plugin_due(n);            /* the rules in force at this height */
    if (!n->plugin) return ln_errf(why, whylen, LN_EPLUGIN, "no consensus plugin is loaded");
    if (ln_chain_forks(n->chain)) return ln__node_apply_fork(n, blk, bl, why, whylen);
    ln_block_view p;
    int rc = ln_block_parse(blk, bl, BLOCK_OBJECTS, &p, why, whylen);
    ln_plugin_block claim;
    ln__node_block(&p.hdr, p.hash, rc == 0 ? p.txs->via.array.size : 0, &claim);
    msgpack_sbuffer csb;
    msgpack_packer cpk;
    msgpack_sbuffer_init(&csb);
    msgpack_packer_init(&cpk, &csb, msgpack_sbuffer_write);
    if (rc == 0 && p.cert) msgpack_pack_object(&cpk, *p.cert);
    char pwhy[200];
    if (rc == 0 && (rc = ln_plugin_verify(n->plugin, &claim, (const uint8_t *)csb.data,
                                          csb.size, pwhy, sizeof pwhy)) < 0)
        snprintf(why, whylen, "block %llu: %s", (unsigned long long)p.hdr.height, pwhy);
    if (rc == 0) rc = execute_parsed(n, &p, why, whylen);
    ln_block_view_free(&p);
    if (rc < 0) {
        msgpack_sbuffer_destroy(&csb);
        return rc;
    }
    ln_pblock *b = n->pending;
    n->pending = NULL;
    rc = ln_chain_commit(n->chain, b, (const uint8_t *)csb.data, csb.size);
    msgpack_sbuffer_destroy(&csb);
    if (rc < 0) {
        snprintf(why, whylen, "block %llu: commit: %s", (unsigned long long)b->hdr.height,
                 ln_strerror(rc));
        ln_pblock_free(b);
        return rc;
    }
    ln__node_committed(n, b);
    return 0;
}

static int load_chain(ln_node *n, ln_overlay *ov, char *err, size_t errlen);
static int admit_accept(void *ud, const ln_tx *tx, uint8_t *bytes, size_t len,
                        const uint8_t bh[LN_HASH_LEN], int flags, int *take, char *why,
                        size_t whylen);

/* Builds the genesis state from the config, loads the consensus plugin on
** it (so a plugin or params that cannot work are refused before anything is
** written), then commits block 0. */
static int genesis(ln_node *n, const ln_node_config *cfg, char *err, size_t errlen)
{
    ln_genesis *g = malloc(sizeof *g);
    ln_overlay *ov = ln_overlay_new(ln_chain_state(n->chain));
    int rc = g && ov ? 0 : LN_ENOMEM;
    ln_genesis_spec spec = { cfg->config, n->home, cfg->dev, n->fingerprint };
    uint64_t time = 0;
    if (rc == 0) rc = ln_genesis_build(&spec, ov, g, &time, err, errlen);
    if (rc < 0) goto done;
    if ((rc = ln_govern_genesis(ov, time, err, errlen)) < 0) goto done;
    /* The header block 0 will have, for node.head() in the plugin's init. */
    ln_header *gh = &n->genesis_hdr;
    memset(gh, 0, sizeof *gh);
    snprintf(gh->chain_id, sizeof gh->chain_id, "%s", g->chain_id);
    gh->time = time;
    if ((rc = ln_overlay_root(ov, gh->state_root)) < 0) {
        snprintf(err, errlen, "genesis: %s", ln_strerror(rc));
        goto done;
    }
    ln_header_hash(gh, n->genesis_hash);
    n->has_genesis_hdr = 1;
    rc = load_chain(n, ov, err, errlen);
    n->has_genesis_hdr = 0;
    if (rc < 0) goto done;
    rc = ln_chain_genesis(n->chain, g->chain_id, time, ov);
    ov = NULL;
    if (rc < 0) {
        snprintf(err, errlen, "genesis: %s", ln_strerror(rc));
        ln_plugin_free(n->plugin);
        n->plugin = NULL;
    }
done:
    ln_overlay_free(ov);
    free(g);
    return rc;
}

/* ---- membership ----------------------------------------------------------- */

_Static_assert(MAX_VALIDATORS == LN_MAX_VALIDATORS && MAX_MEMBERS == LN_MAX_MEMBERS,
               "the node holds every member and validator the sys actions allow");

/* Reads admin, validators and members from the "g" record (through ov while
** the genesis is not committed). When they changed: this node signs as the
** first validator whose key is in HOME/keys, or stops signing, and peers
** that are neither members nor validators any more are dropped. Cheap when
** nothing changed: one state read and one hash. */
static int load_membership(ln_node *n, ln_overlay *ov)
{
    ln_overlay *own = ov ? NULL : ln_overlay_new(ln_chain_state(n->chain));
    const uint8_t *g;
    uint8_t h[LN_HASH_LEN];
    size_t gl;
    int rc = own || ov ? ln_overlay_get(ov ? ov : own, (const uint8_t *)"g", 1, &g, &gl) : LN_ENOMEM;
    if (rc < 0) {
        ln_overlay_free(own);
        return rc;
    }
    ln_hash(g, gl, h);
    int first = n->nval == 0;
    if (!first && memcmp(h, n->g_hash, LN_HASH_LEN) == 0) {
        ln_overlay_free(own);
        return 0;
    }
    ln_genesis *gen = malloc(sizeof *gen);
    rc = gen ? ln_genesis_decode(g, gl, gen) : LN_ENOMEM;
    ln_overlay_free(own);
    if (rc < 0) {
        free(gen);
        return rc;
    }
    const ln_membership *m = &gen->m;
    memcpy(n->g_hash, h, LN_HASH_LEN);
    n->nval = m->nval;
    memcpy(n->val_names, m->val_names, sizeof n->val_names);
    memcpy(n->val_keys, m->val_keys, sizeof n->val_keys);
    n->nmem = m->nmem;
    memcpy(n->mem_keys, m->mem_keys, sizeof n->mem_keys);
    memcpy(n->admin, m->admin, sizeof n->admin);
    free(gen);

    char was[LN_NAME_MAX + 1];
    memcpy(was, n->self, sizeof was);
    n->has_key = 0;
    n->self[0] = 0;
    for (size_t i = 0; i < n->nval && !n->has_key; i++) {
        char path[700];
        snprintf(path, sizeof path, "%s/keys/%s.key", n->home, n->val_names[i]);
        ln_key k;
        if (ln_keyfile_read(path, &k, NULL, 0) == 0 && memcmp(k.pk, n->val_keys[i], LN_PK_LEN) == 0) {
            n->key = k;
            n->has_key = 1;
            snprintf(n->self, sizeof n->self, "%s", n->val_names[i]);
        }
        sodium_memzero(&k, sizeof k);
    }
    if (!n->has_key) sodium_memzero(&n->key, sizeof n->key);
    if (!first && strcmp(was, n->self) != 0) {
        if (n->self[0]) ln__node_log("membership: this node validates as %s", n->self);
        else ln__node_log("membership: this node no longer validates (was %s)", was);
    }
    if (n->p2p) ln_p2p_recheck(n->p2p);
    return 0;
}

/* pos's set in force at the next height (ov: the genesis about to be
** written); none recorded: nset 0. */
static int load_valset(ln_node *n, ln_overlay *ov)
{
    ln_overlay *own = ov ? NULL : ln_overlay_new(ln_chain_state(n->chain));
    ln_valset *vs = malloc(sizeof *vs);
    ln_header h;
    uint64_t next = ln_chain_head(n->chain, &h, NULL) == 0 ? h.height + 1 : 1;
    int rc = vs && (ov || own) ? ln_valset_at(ov ? ov : own, next, vs) : LN_ENOMEM;
    if (rc == 0) {
        n->nset = vs->n;
        n->set_from = vs->from;
        for (uint32_t i = 0; i < vs->n; i++) {
            memcpy(n->set_names[i], vs->names[i], sizeof n->set_names[i]);
            n->set_power[i] = vs->power[i];
        }
    } else if (rc == LN_ENOTFOUND) {
        n->nset = 0;
        rc = 0;
    }
    free(vs);
    ln_overlay_free(own);
    return rc;
}

/* After each committed block, so that a membership action counts from the
** next height on. A record that does not decode leaves the last set. */
static void membership_refresh(ln_node *n)
{
    int rc = load_membership(n, NULL);
    if (rc < 0) ln__node_logl(LN_LOG_WARN, "membership: the genesis record does not load: %s", ln_strerror(rc));
    if ((rc = load_valset(n, NULL)) < 0)
        ln__node_logl(LN_LOG_WARN, "membership: the validator set does not load: %s", ln_strerror(rc));
}

void ln__node_membership(ln_node *n) { membership_refresh(n); }

/* Reads chain id, validators and the consensus plugin from the state (or
** from ov, the genesis about to be written) and loads the plugin. */
static int load_chain(ln_node *n, ln_overlay *ov, char *err, size_t errlen)
{
    ln_overlay *own = ov ? NULL : ln_overlay_new(ln_chain_state(n->chain));
    ln_overlay *rd = ov ? ov : own;
    ln_genesis *g = malloc(sizeof *g);
    ln_plugin_ref ref = { .params = NULL };
    char *code = NULL;
    size_t cl = 0;
    int rc = rd && g ? ln_genesis_load(rd, g) : LN_ENOMEM;
    if (rc < 0) {
        rc = ln_errf(err, errlen, LN_EIO, "genesis record %s", rc == LN_ENOTFOUND ? "missing"
                     : "is corrupt");
        goto done;
    }
    snprintf(n->chain_id, sizeof n->chain_id, "%s", g->chain_id);
    if (strcmp(g->fingerprint, n->fingerprint) != 0) {
        rc = ln_errf(err, errlen, LN_EFINGERPRINT,
                     "this build's VM fingerprint %.16s… differs from the chain's %.16s…: "
                     "gas would differ from the other nodes'", n->fingerprint, g->fingerprint);
        goto done;
    }
    if ((rc = load_membership(n, ov)) < 0 || (rc = load_valset(n, ov)) < 0) {
        rc = ln_errf(err, errlen, LN_EIO, "genesis record: membership is corrupt");
        goto done;
    }
    /* The plugin that governs the next block. */
    ln_header h;
    uint64_t next = ln_chain_head(n->chain, &h, NULL) == 0 ? h.height + 1 : 1;
    if ((rc = ln_registry_at(rd, LN_SLOT_CONSENSUS, next, &ref)) < 0 ||
        (rc = ln_registry_code(rd, ref.hash, &code, &cl)) < 0) {
        rc = ln_errf(err, errlen, LN_EIO, "no consensus plugin in the registry: %s",
                     ln_strerror(rc));
        goto done;
    }
    snprintf(n->consensus, sizeof n->consensus, "%s", ref.name);
    n->plugin_from = ref.from;
    ln_plugin_host host;
    ln__node_host(n, &host);
    char why[300];
    char pname[64];
    snprintf(pname, sizeof pname, "%s.lua", n->consensus);
    rc = ln_plugin_load(&host, pname, code, cl, ref.params, ref.plen, &n->plugin, why, sizeof why);
    if (rc < 0) snprintf(err, errlen, "consensus plugin: %s", why);
    else ln__node_forks_set(n);
done:
    free(code);
    ln_plugin_ref_free(&ref);
    ln_overlay_free(own);
    free(g);
    return rc;
}

static void free_node(ln_node *n)
{
    if (n->timers) ln_ptimers_close(n->timers, NULL, NULL);   /* open failed: none started */
    ln_pblock_free(n->pending);
    msgpack_sbuffer_destroy(&n->proposal);
    if (n->admit) ln_admit_close(n->admit, NULL, NULL);   /* open failed: nothing in flight */
    ln_plugin_free(n->plugin);
    ln_pricing_free(n->pricing);
    ln_mempool_free(n->mp);
    ln_chain_close(n->chain);
    free(n->subs);
    free(n);
}

/* What executing a block has to say (a pricing plugin's faults). */
static void chain_log(void *ud, const char *line)
{
    (void)ud;
    ln__node_log("%s", line);
}

int ln_node_open(const ln_node_config *cfg, uv_loop_t *loop, ln_node **out,
                 char *err, size_t errlen)
{
    ln_node *n = calloc(1, sizeof *n);
    if (!n) return LN_ENOMEM;
    n->loop = loop;
    msgpack_sbuffer_init(&n->proposal);
    n->block_txs = BLOCK_TXS;
    n->block_bytes = BLOCK_BYTES;
    n->mempool_max = MEMPOOL_TXS;
    n->no_ready = cfg->no_ready;
    snprintf(n->home, sizeof n->home, "%s", cfg->home);
    int rc;
    /* mkdir -p HOME */
    char path[600];
    snprintf(path, sizeof path, "%s", cfg->home);
    for (char *s = path + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(path, 0755);
            *s = '/';
        }
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", cfg->home, strerror(errno));
        free(n);
        return LN_EIO;
    }
    if ((rc = ln_sandbox_fingerprint(n->fingerprint)) < 0) {
        snprintf(err, errlen, "fingerprint: %s", ln_strerror(rc));
        free(n);
        return rc;
    }
    snprintf(path, sizeof path, "%s/data", cfg->home);
    if ((rc = ln_chain_open(path, &n->chain, err, errlen)) < 0) {
        if (rc == LN_ELOCKED)
            snprintf(err, errlen, "%s is in use by another lunet process", path);
        free(n);
        return rc;
    }
    ln_chain_set_log(n->chain, chain_log, n);
    if ((rc = ln_ptimers_new(loop, ln__node_on_timer, n, &n->timers)) < 0) {
        free_node(n);
        return rc;
    }
    n->notes_tail = &n->notes;
    ln_admit_host ah = { n, admit_accept };
    if ((rc = ln_admit_new(loop, &ah, &n->admit)) < 0) {
        free_node(n);
        return rc;
    }
    n->open_handles++;                 /* until admission has answered everything */
    if ((rc = ln_mempool_new(MEMPOOL_TXS, MEMPOOL_BYTES, &n->mp)) < 0) {
        snprintf(err, errlen, "mempool: %s", ln_strerror(rc));
        free_node(n);
        return rc;
    }
    if (ln_chain_head(n->chain, NULL, NULL) == LN_ENOTFOUND) {
        if (!cfg->config) {
            rc = ln_errf(err, errlen, LN_ECONFIG,
                         "%s has no chain yet: give a config (--config FILE)", cfg->home);
        } else {
            rc = genesis(n, cfg, err, errlen);
        }
    } else {
        rc = load_chain(n, NULL, err, errlen);
    }
    if (rc < 0) {
        free_node(n);                  /* no timer has a handle yet */
        return rc;
    }
    ln__node_fork_recover(n);
    if (cfg->p2p_addr && (rc = ln__node_p2p_start(n, cfg, err, errlen)) < 0) {
        free_node(n);                  /* no timer has a handle yet */
        return rc;
    }
    n->query_gas_max = cfg->query_gas_max ? cfg->query_gas_max : LN_NODE_QUERY_GAS;
    if ((rc = ln_qpool_new(loop, LN_NODE_QUERY_WORKERS, LN_NODE_QUERY_QUEUE, &n->queries)) < 0) {
        snprintf(err, errlen, "query workers: %s", ln_strerror(rc));
        ln_node_close(n);              /* P2P's handles close on the loop */
        return rc;
    }
    n->open_handles++;                 /* until the query workers are gone */
    /* Started: the timers the plugin's init armed run from now on. */
    ln_ptimers_start(n->timers);

    char why[300];
    if (ln_plugin_start(n->plugin, why, sizeof why) < 0) ln__node_logl(LN_LOG_WARN, "consensus: %s", why);
    *out = n;
    return 0;
}

/* The node goes when its last handle has closed and the last submission
** has come back from the worker pool. */
void ln__node_maybe_free(ln_node *n)
{
    if (n->closing && n->open_handles == 0) free_node(n);
}

static void part_closed(void *ud)
{
    ln_node *n = ud;
    n->open_handles--;
    ln__node_maybe_free(n);
}

void ln_node_close(ln_node *n)
{
    if (!n) return;
    n->closing = 1;
    n->open_handles++;                 /* held while closing what is open */
    if (n->admit) {
        ln_admit *a = n->admit;
        n->admit = NULL;
        ln_admit_close(a, part_closed, n);   /* answers, then one handle less */
    }
    if (n->p2p) {
        ln_p2p *p = n->p2p;
        n->p2p = NULL;
        ln_p2p_close(p, part_closed, n);
    }
    if (n->queries) {
        ln_qpool *q = n->queries;
        n->queries = NULL;
        ln_qpool_close(q, part_closed, n);
    }
    ln__node_notes_close(n);
    ln__node_swap_close(n);
    ln__node_fork_close(n);
    if (n->timers) {
        ln_ptimers *t = n->timers;
        n->timers = NULL;
        n->open_handles++;
        ln_ptimers_close(t, part_closed, n);
    }
    n->open_handles--;
    ln__node_maybe_free(n);
}

/* ---- queries ---------------------------------------------------------- */

void ln_node_info_get(ln_node *n, ln_node_info *out)
{
    memset(out, 0, sizeof *out);
    ln_header h;
    ln_chain_head(n->chain, &h, out->head);
    snprintf(out->chain_id, sizeof out->chain_id, "%s", n->chain_id);
    snprintf(out->consensus, sizeof out->consensus, "%s", n->consensus);
    snprintf(out->fingerprint, sizeof out->fingerprint, "%s", n->fingerprint);
    out->height = h.height;
    out->final_height = ln_chain_final(n->chain);
    out->time = h.time;
    memcpy(out->state_root, h.state_root, LN_HASH_LEN);
    out->mempool = ln_mempool_count(n->mp);
    out->txs_committed = n->txs_committed;
    out->nvalidators = n->nval;
    memcpy(out->validators, n->val_names, sizeof n->val_names);
    out->nset = n->nset;
    out->set_from = n->set_from;
    memcpy(out->set_names, n->set_names, sizeof n->set_names);
    memcpy(out->set_power, n->set_power, sizeof n->set_power);
    memcpy(out->self, n->self, sizeof n->self);
    memcpy(out->admin, n->admin, sizeof n->admin);
    out->nmembers = n->nmem;
    memcpy(out->members, n->mem_keys, sizeof n->mem_keys);
    out->peers = n->p2p ? ln_p2p_peers(n->p2p) : 0;
}

int ln_node_block_by_height(ln_node *n, uint64_t height, uint8_t **blk, size_t *len)
{
    return ln_chain_block(n->chain, height, blk, len);
}

int ln_node_block_by_hash(ln_node *n, const uint8_t hash[LN_HASH_LEN], uint8_t **blk, size_t *len)
{
    return ln_chain_block_by_hash(n->chain, hash, blk, len);
}

int ln_node_block_final(ln_node *n, const uint8_t hash[LN_HASH_LEN])
{
    ln_tree_info ti;
    return ln_chain_info(n->chain, hash, &ti) == 0 && ti.final;
}

/* admit.h's accept: a submission whose encoding and signatures passed
** meets the head state and the mempool. */
static int admit_accept(void *ud, const ln_tx *tx, uint8_t *bytes, size_t len,
                        const uint8_t bh[LN_HASH_LEN], int flags, int *take, char *why,
                        size_t whylen)
{
    ln_node *n = ud;
    ln_header h;
    ln_chain_head(n->chain, &h, NULL);
    ln_account acct;
    memset(&acct, 0, sizeof acct);
    ln_overlay *ov = ln_overlay_new(ln_chain_state(n->chain));
    int rc = ov ? ln_exec_admit(ov, n->chain_id, h.height + 1, h.time, tx, &n->pricing, &acct, why,
                                whylen)
                : LN_ENOMEM;
    if (rc == LN_EPLUGIN) ln__node_log("admission: %s", why);
    ln_overlay_free(ov);
    if (rc == 0) rc = ln_mempool_add(n->mp, tx, bytes, len, acct.nonce);
    if (rc == 0) n->submitted++; else n->refused++;
    if (rc == 0 && n->p2p) {
        ln_p2p_seen(n->p2p, bh);
        /* From a client: to every peer. From a peer: not relayed, as members
        ** connect to every member (address exchange), and a peer that comes
        ** up gets the mempool; relaying would send each transaction n times
        ** to every node instead of once. */
        if (!(flags & LN_ADMIT_PEER)) {
            ln_p2p_gossip(n->p2p, bytes, len);
            *take = 1;
        }
    }
    return rc;
}

int ln_node_submit(ln_node *n, const uint8_t *tx, size_t len, ln_submit_cb cb, void *ud)
{
    if (n->closing) return LN_ECLOSED;
    if (ln_mempool_count(n->mp) >= n->mempool_max) return LN_EFULL;
    return ln_admit_submit(n->admit, tx, len, 0, cb, ud);
}

int ln__node_submit_sys(ln_node *n, const char *method, const uint8_t *args, size_t alen,
                        uint64_t expires, ln_submit_cb cb, void *ud, uint8_t id[LN_HASH_LEN])
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    ln_pack_str(&pk, "account");
    ln_pack_str(&pk, n->self);
    ln_pack_str(&pk, "actions");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 3);
    ln_pack_str(&pk, "args");
    msgpack_sbuffer_write(&sb, (const char *)args, alen);    /* canonical already */
    ln_pack_str(&pk, "contract");
    ln_pack_str(&pk, "sys");
    ln_pack_str(&pk, "method");
    ln_pack_str(&pk, method);
    ln_pack_str(&pk, "chain_id");
    ln_pack_str(&pk, n->chain_id);
    ln_pack_str(&pk, "expires");
    msgpack_pack_uint64(&pk, expires);
    ln_pack_str(&pk, "max_fee");
    msgpack_pack_uint64(&pk, 0);
    ln_pack_str(&pk, "nonce");
    msgpack_pack_uint64(&pk, ln_node_pending_nonce(n, n->self));
    uint8_t *stx = NULL;
    size_t sl = 0;
    int rc = sb.data ? ln_tx_sign((const uint8_t *)sb.data, sb.size,
                                  (const uint8_t (*)[LN_SK_LEN])&n->key.sk, 1, &stx, &sl)
                     : LN_ENOMEM;
    msgpack_sbuffer_destroy(&sb);
    ln_tx tx;
    if (rc == 0 && id && (rc = ln_tx_decode(&tx, stx, sl)) == 0) {
        memcpy(id, tx.id, LN_HASH_LEN);
        ln_tx_free(&tx);
    }
    if (rc == 0) rc = ln_node_submit(n, stx, sl, cb, ud);
    free(stx);
    return rc;
}

int ln_node_tx_status(ln_node *n, const uint8_t id[LN_HASH_LEN], uint64_t *height,
                      uint8_t **receipt, size_t *len)
{
    *height = 0;
    *receipt = NULL;
    *len = 0;
    if (ln_mempool_has(n->mp, id)) return LN_TX_PENDING;
    uint8_t *rec;
    size_t rl;
    if (ln_chain_receipt(n->chain, id, &rec, &rl) < 0) return LN_TX_UNKNOWN;
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 1024);
    int st = LN_TX_UNKNOWN;
    if (ln_codec_unpack(rec, rl, &z, &o) == 0) {
        const msgpack_object *h = ln_codec_map_get(&o, "height");
        const msgpack_object *r = ln_codec_map_get(&o, "receipt");
        if (h && r && h->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            msgpack_sbuffer sb;
            msgpack_packer pk;
            msgpack_sbuffer_init(&sb);
            msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
            msgpack_pack_object(&pk, *r);
            *height = h->via.u64;
            *receipt = (uint8_t *)sb.data;
            *len = sb.size;
            st = ln_chain_forks(n->chain) && *height <= ln_chain_final(n->chain) ? LN_TX_FINAL
                                                                                  : LN_TX_COMMITTED;
        }
    }
    msgpack_zone_destroy(&z);
    free(rec);
    return st;
}

int ln_node_tx_bytes(ln_node *n, const uint8_t id[LN_HASH_LEN], uint8_t **tx, size_t *len)
{
    const ln_mtx *m = ln_mempool_get(n->mp, id);
    if (m) {
        if (!(*tx = malloc(m->len ? m->len : 1))) return LN_ENOMEM;
        memcpy(*tx, m->bytes, m->len);
        *len = m->len;
        return 0;
    }
    uint8_t *rec, *blk = NULL;
    size_t rl, bl = 0;
    int rc = ln_chain_receipt(n->chain, id, &rec, &rl);
    if (rc < 0) return rc;
    msgpack_zone z;
    msgpack_object o, b;
    msgpack_zone_init(&z, 1024);
    rc = ln_codec_unpack(rec, rl, &z, &o);
    const msgpack_object *h = rc == 0 ? ln_codec_map_get(&o, "height") : NULL;
    const msgpack_object *i = rc == 0 ? ln_codec_map_get(&o, "index") : NULL;
    rc = h && i && h->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
         i->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? 0 : LN_EIO;
    if (rc == 0) rc = ln_chain_block(n->chain, h->via.u64, &blk, &bl);
    if (rc == 0) rc = ln_codec_unpack(blk, bl, &z, &b);
    const msgpack_object *txs = rc == 0 ? ln_codec_map_get(&b, "txs") : NULL;
    if (rc == 0 && (!txs || txs->type != MSGPACK_OBJECT_ARRAY || i->via.u64 >= txs->via.array.size ||
                    txs->via.array.ptr[i->via.u64].type != MSGPACK_OBJECT_BIN))
        rc = LN_EIO;
    if (rc == 0) {
        const msgpack_object_bin *t = &txs->via.array.ptr[i->via.u64].via.bin;
        if ((*tx = malloc(t->size ? t->size : 1))) {
            memcpy(*tx, t->ptr, t->size);
            *len = t->size;
        } else {
            rc = LN_ENOMEM;
        }
    }
    msgpack_zone_destroy(&z);
    free(rec);
    free(blk);
    return rc;
}

int ln_node_stake(ln_node *n, const char *name, ln_stake *out)
{
    ln_overlay *ov = ln_overlay_new(ln_chain_state(n->chain));
    int rc = ov ? ln_stake_load(ov, name, out) : LN_ENOMEM;
    ln_overlay_free(ov);
    return rc;
}

int ln_node_jail(ln_node *n, const char *name, uint64_t *at, uint64_t *until)
{
    ln_overlay *ov = ln_overlay_new(ln_chain_state(n->chain));
    int rc = ov ? ln_valset_jail(ov, name, at, until) : LN_ENOMEM;
    ln_overlay_free(ov);
    return rc;
}

int ln_node_votes(ln_node *n, const char *name, ln_vote_name names[LN_VOTES_MAX], size_t *k)
{
    ln_overlay *ov = ln_overlay_new(ln_chain_state(n->chain));
    int rc = ov ? ln_vote_load(ov, name, names, k) : LN_ENOMEM;
    ln_overlay_free(ov);
    return rc;
}

int ln_node_account(ln_node *n, const char *name, uint8_t **rec, size_t *len)
{
    uint8_t key[1 + LN_NAME_MAX];
    if (!ln_name_valid(name, strlen(name))) return LN_EBADNAME;
    size_t kl = ln_account_key(name, key);
    return ln_state_get(ln_chain_state(n->chain), key, kl, rec, len);
}

int ln_node_authorized(ln_node *n, const char *account, const char *perm,
                       const uint8_t pk[LN_PK_LEN])
{
    ln_overlay *ov = ln_overlay_new(ln_chain_state(n->chain));
    if (!ov) return LN_ENOMEM;
    ln_signers s = { (const uint8_t (*)[LN_PK_LEN])pk, 1, NULL };
    int rc = ln_account_authorized(ov, account, perm, &s);
    ln_overlay_free(ov);
    return rc;
}

uint64_t ln_node_pending_nonce(ln_node *n, const char *name)
{
    return ln_mempool_next_nonce(n->mp, name, ln__node_nonce(name, n));
}

int ln_node_state_get(ln_node *n, const uint8_t *key, size_t klen,
                      uint8_t **val, size_t *vlen, uint8_t **proof, size_t *plen,
                      uint64_t *height, uint8_t root[LN_HASH_LEN])
{
    ln_header h;
    ln_chain_head(n->chain, &h, NULL);
    *height = h.height;
    ln_state_root(ln_chain_state(n->chain), root);
    int rc = ln_state_get(ln_chain_state(n->chain), key, klen, val, vlen);
    if (rc == LN_ENOTFOUND) {
        *val = NULL;
        *vlen = 0;
    } else if (rc < 0) {
        return rc;
    }
    rc = ln_state_prove(ln_chain_state(n->chain), key, klen, proof, plen);
    if (rc < 0) {
        free(*val);
        *val = NULL;
    }
    return rc;
}

