/*
** node_int.h -- what node.c shares with node_host.c (the consensus plugin's
** host), node_p2p.c (the P2P protocol's host), node_metrics.c, node_log.c,
** node_events.c, node_query.c and the others beside it: the node struct
** and the commit path. Not a public face: node.h is.
*/
#ifndef LN_NODE_INT_H
#define LN_NODE_INT_H

#include <stdint.h>
#include <uv.h>

#include "admit.h"
#include "chain.h"
#include "mempool.h"
#include "node.h"
#include "p2p.h"
#include "plugin.h"
#include "ptimer.h"
#include "qpool.h"
#include "registry.h"
#include "tree.h"
#include "mine.h"

#define MAX_VALIDATORS   LN_NODE_MAX_VALIDATORS
#define MEMPOOL_TXS      200000
#define MEMPOOL_BYTES    (256u << 20)
#define BLOCK_TXS        10000
#define BLOCK_BYTES      (8u << 20)
#define BLOCK_GAS        (500ull * 1000 * 1000)   /* ~0.5-1 s of execution */
/* Objects (shape.h) of a block from a peer: its transactions (each one bin),
** the header, and a certificate as big as a plugin may send. */
#define BLOCK_OBJECTS    (BLOCK_TXS + 64 + LN_PLUGIN_MSG_OBJECTS)
_Static_assert(BLOCK_BYTES + (64u << 10) <= LN_P2P_MAX_FRAME, "a block and its frame fit a P2P frame");
#define MAX_MEMBERS      256                      /* genesis members besides validators */
#define LN_NODE_EVIDENCE_MAX 32                   /* evidence remembered as sent */


typedef struct {
    ln_block_cb cb;
    void *ud;
} subscriber;

typedef struct note note;

struct ln_node {
    uv_loop_t *loop;
    char home[512];
    ln_chain *chain;
    ln_mempool *mp;
    ln_plugin *plugin;
    char chain_id[LN_CHAIN_ID_MAX + 1];
    char fingerprint[65];
    char consensus[32];
    /* validators, in genesis order */
    size_t nval;
    char val_names[MAX_VALIDATORS][LN_NAME_MAX + 1];
    uint8_t val_keys[MAX_VALIDATORS][LN_PK_LEN];
    size_t nmem;                         /* members: may connect, do not validate */
    uint8_t mem_keys[MAX_MEMBERS][LN_PK_LEN];
    char admin[LN_NAME_MAX + 1];         /* who may change them; "" if nobody */
    uint8_t g_hash[LN_HASH_LEN];         /* of the "g" record they came from */
    /* pos's set by stake in force at the next height (valset.h); nset 0:
    ** none, the plugin sees val_names */
    size_t nset;
    uint64_t set_from;
    char set_names[MAX_VALIDATORS][LN_NAME_MAX + 1];
    uint64_t set_power[MAX_VALIDATORS];
    ln_p2p *p2p;                         /* NULL: no P2P */
    uint8_t key_pk[LN_PK_LEN];           /* our P2P identity */
    ln_admit *admit;                     /* submissions: checks on the pool, then ours */
    ln_pricing *pricing;                 /* the pricing plugin at admission (ln_exec_admit) */
    char self[LN_NAME_MAX + 1];
    ln_key key;
    int has_key;
    size_t block_txs, block_bytes;
    ln_pblock *pending;
    msgpack_sbuffer proposal;            /* the bytes of the last block proposed */
    ln_ptimers *timers;                  /* the plugin's */
    subscriber *subs;
    size_t nsubs, capsubs;
    note *notes, **notes_tail;           /* committed blocks the subscribers have yet to hear of */
    uv_idle_t *notes_idle;               /* open while there are notes (then closed) */
    int closing, open_handles;
    /* before genesis is committed: the header it will have */
    int has_genesis_hdr;
    ln_header genesis_hdr;
    uint8_t genesis_hash[LN_HASH_LEN];
    ln_qpool *queries;                   /* ln_node_query's workers */
    uint64_t query_gas_max;
    /* swaps (node_swap.c) */
    uint64_t plugin_from;                /* the registry entry of the loaded consensus plugin */
    uint8_t due_head[LN_HASH_LEN];       /* the head whose next height's plugin is loaded */
    int due_seen;                        /* due_head holds one (ln__node_plugin_due) */
    uv_idle_t *swap_idle;                /* after a commit, until the loop has seen to swaps */
    int no_ready;                        /* never says it is ready for a swap (--no-ready) */
    uint64_t mempool_max;                /* the chain param, as of the head */
    struct { ln_slot slot; uint64_t at; uint8_t hash[LN_HASH_LEN]; } sent[8], pend[8];
    size_t nsent, npend;                 /* sys.ready sent; swaps pending after the last commit */
    double swap_ms;                      /* the last consensus swap's load time */
    uint64_t swaps;
    /* forks (node_fork.c) */
    ln_miner *miner;                     /* node.mine's; NULL until the first search */
    ln_reorg_cb reorg_cb;                /* ln_node_watch_reorgs */
    void *reorg_ud;
    uint64_t reorgs, reorg_depth_last, reorg_depth_max, reorg_blocks;
    double reorg_ms_total;
    /* evidence submitted (node_evidence.c), a ring: once per (validator,
    ** height); waiting until a block takes it or it expires */
    struct {
        char validator[LN_NAME_MAX + 1];
        uint64_t height, expires;
        uint8_t id[LN_HASH_LEN];
        int waiting;
    } ev[LN_NODE_EVIDENCE_MAX];
    size_t nev, ev_next;
    /* metrics */
    uint64_t txs_committed, blocks, gas_total, submitted, refused;
    double last_block_at, block_interval;
};

/* node_log.c: the node's log (node.h): one line at level (LN_LOG_*), the
** single path every line of the node takes. ln__node_log is a line at info. */
void ln__node_logl(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ln__node_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
double ln__node_wall(void);                      /* unix seconds, with fractions */

/* The committed nonce of account (0 for an unknown one): ln_nonce_fn. */
uint64_t ln__node_nonce(const char *account, void *ud);

/* A block as the plugin sees it (plugin.h). */
void ln__node_block(const ln_header *h, const uint8_t hash[LN_HASH_LEN], size_t ntx,
                    ln_plugin_block *out);

/* A block's bytes (a peer's proposal) executed at head + 1 and kept as the
** pending block once its hash matches; LN_EBADBLOCK with why. */
int  ln__node_execute(ln_node *n, const uint8_t *blk, size_t bl, char *why, size_t whylen);
/* A committed block from a peer: the plugin's verify_block/verify_commit,
** executed, committed. */
int  ln__node_apply(ln_node *n, const uint8_t *blk, size_t bl, char *why, size_t whylen);
/* After b is committed: mempool, metrics, subscribers, peers. Frees b. */
void ln__node_committed(ln_node *n, ln_pblock *b);
/* The node goes once closing and its last handle is closed. */
void ln__node_maybe_free(ln_node *n);

/* node_host.c: the plugin host the node gives its consensus plugin, and
** what the plugin's timers call. */
void ln__node_host(ln_node *n, ln_plugin_host *out);
void ln__node_on_timer(const char *id, void *ud);

/* node_swap.c: after a commit, the loop sees to swaps and params;
** plugin_due loads the consensus plugin in force at head + 1 when it is
** not the one loaded (not from inside a plugin callback: then it waits);
** swap_close closes its handle. */
void ln__node_swaps_committed(ln_node *n);
int  ln__node_plugin_due(ln_node *n);     /* 1: it swapped */
void ln__node_swap_close(ln_node *n);

/* node.c: the transactions of a parsed block, checked as execute does
** (admission's checks; signatures verified unless admitted here). *tx and
** *lens are the caller's (free), pointing into the view. */
int  ln__node_block_txs(ln_node *n, const ln_block_view *p, const uint8_t ***tx, size_t **lens,
                        char *why, size_t whylen);
void ln__node_membership(ln_node *n);    /* reloads validators and members from state */

/* node_events.c: queues what subscribers hear: a block at height
** (receipts: its array, taken), or a reorg; they hear it from the loop. */
void ln__node_note_block(ln_node *n, uint64_t height, msgpack_sbuffer *receipts);
void ln__node_note_reorg(ln_node *n, const ln_reorg_event *ev);
void ln__node_notify(ln_node *n, const ln_pblock *b);   /* committed b's note, receipts encoded */
void ln__node_log_block(const ln_pblock *b);            /* the log's lines for committed b */
void ln__node_notes_close(ln_node *n);                  /* at close: notes dropped, handle closed */

/* node_evidence.c: node.evidence(e) (plugin.h): sys.evidence(e) from this
** node's validator account, signed with its key, once per (validator,
** height). After a commit, evidence_committed logs, once, how each of its
** transactions that a block took fared (punished, or came second). */
/* sys.METHOD(args) from this node's validator account, signed with its key,
** max_fee 0 (free for a validator: exec.h), submitted; args is one packed
** msgpack array. id (may be NULL) gets the transaction's id. */
int  ln__node_submit_sys(ln_node *n, const char *method, const uint8_t *args, size_t alen,
                         uint64_t expires, ln_submit_cb cb, void *ud, uint8_t id[LN_HASH_LEN]);
int  ln__node_evidence(void *ud, const uint8_t *e, size_t len, char *why, size_t whylen);
void ln__node_evidence_committed(ln_node *n);

/* node_fork.c: blocks of plugins whose blocks fork (tree.h). apply: a
** peer's block from sync joins the tree (LN_EORPHAN: its parent is
** unknown) and the plugin hears of it (on_block). The host's import,
** choose, finalize, block and mine. */
int  ln__node_apply_fork(ln_node *n, const uint8_t *blk, size_t bl, char *why, size_t whylen);
int  ln__node_import(ln_node *n, const uint8_t *blk, size_t bl, int from_peer, ln_plugin_block *out,
                     char *why, size_t whylen);
int  ln__node_choose(ln_node *n, const uint8_t hash[LN_HASH_LEN], char *why, size_t whylen);
int  ln__node_finalize(ln_node *n, const uint8_t hash[LN_HASH_LEN], char *why, size_t whylen);
int  ln__node_tree_block(ln_node *n, const uint8_t *hash, uint64_t height, ln_plugin_block *out);
int  ln__node_mine(ln_node *n, const uint8_t *bytes, size_t len, const uint8_t target[LN_HASH_LEN],
                   uint64_t from, uint64_t tries, char *why, size_t whylen);
void ln__node_fork_close(ln_node *n);   /* the miner's job, if any, then one handle less */
/* At open: the transactions of the blocks off the head's chain that it
** lacks go to admission again (a reorg's were in a mempool a crash lost). */
void ln__node_fork_recover(ln_node *n);
/* After a plugin is loaded: the tree on or off as it says. */
void ln__node_forks_set(ln_node *n);

/* node_p2p.c: starts P2P on cfg->p2p_addr; a consensus message out. */
int  ln__node_p2p_start(ln_node *n, const ln_node_config *cfg, char *err, size_t errlen);
int  ln__node_consensus_out(ln_node *n, const char *to, const uint8_t *m, size_t len);

#endif
