/*
** node_int.h -- what node.c shares with node_host.c (the consensus plugin's
** host), node_p2p.c (the P2P protocol's host) and node_metrics.c: the node
** struct and the commit path. Not a public face: node.h is.
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
    ln_p2p *p2p;                         /* NULL: no P2P */
    uint8_t key_pk[LN_PK_LEN];           /* our P2P identity */
    ln_admit *admit;                     /* submissions: checks on the pool, then ours */
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
    /* metrics */
    uint64_t txs_committed, blocks, gas_total, submitted, refused;
    double last_block_at, block_interval;
};

/* The node's log (node.h): one line at level (LN_LOG_*), the single path
** every line of the node takes. ln__node_log is a line at info. */
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

/* node_p2p.c: starts P2P on cfg->p2p_addr; a consensus message out. */
int  ln__node_p2p_start(ln_node *n, const ln_node_config *cfg, char *err, size_t errlen);
int  ln__node_consensus_out(ln_node *n, const char *to, const uint8_t *m, size_t len);

#endif
