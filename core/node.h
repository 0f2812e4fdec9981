/*
** node.h -- a running lunet node: chain, mempool, consensus plugin host,
** all driven by one libuv loop. This is what the RPC layer and the CLI see.
**
** Everything here runs on the loop thread, except where a callback says
** otherwise. int results: 0 or a negative LN_E* code (err.h). Returned
** buffers are malloc()ed and the caller's (free()).
*/
#ifndef LN_NODE_H
#define LN_NODE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "contract.h"
#include "exec.h"
#include "genesis.h"
#include "quote.h"
#include "stake.h"
#include "vote.h"
#include "crypto.h"
#include "log.h"

typedef struct ln_node ln_node;   /* opaque */

#define LN_NODE_MAX_VALIDATORS LN_MAX_VALIDATORS   /* 64 (genesis.h) */
#define LN_NODE_MAX_MEMBERS    LN_MAX_MEMBERS       /* 256 */

typedef struct {
    const char *home;            /* data dir: HOME/data (LevelDB), HOME/keys */
    const char *config;          /* genesis/config file (Lua data), read at first start */
    const char *rpc_addr;        /* "127.0.0.1:8765"; NULL: no RPC */
    const char *p2p_addr;        /* "127.0.0.1:7765"; NULL: no P2P */
    int dev;                     /* dev mode: write and print dev keys */
    uint64_t query_gas_max;      /* instructions per query; 0: LN_NODE_QUERY_GAS */
    uint64_t p2p_penalty_ms;     /* a first strike's hold-off (net.h); 0: the default */
    int no_ready;                /* a validator that never says it is ready for a swap */
} ln_node_config;

/* Queries (ln_node_query) run on their own worker threads, never on the
** loop: at most LN_NODE_QUERY_WORKERS at once, LN_NODE_QUERY_QUEUE more
** waiting, each under query_gas_max instructions. */
#define LN_NODE_QUERY_GAS      10000000ull
#define LN_NODE_QUERY_WORKERS  2
#define LN_NODE_QUERY_QUEUE    256

/* Opens (or creates from the config's genesis) the chain in HOME and starts
** the node's services on loop. *err gets a one-line reason on failure.
**
** P2P (p2p.h, which describes the protocol), when p2p_addr is given: the
** node's identity is its validator key, else HOME/keys/node.key (created
** when missing); a peer is let in when its key is a validator's or member's
** (the config's `members`, hex public keys, then the admin's
** sys.addmember/removemember ...; after each committed block the node
** reloads them, drops peers no longer in, and signs or stops signing as a
** validator). */
int  ln_node_open(const ln_node_config *cfg, uv_loop_t *loop, ln_node **out,
                  char *err, size_t errlen);
/* Dials a peer ("HOST:PORT") and keeps the connection up. LN_ECLOSED when
** the node has no P2P (no p2p_addr), LN_EINVAL for a bad address. */
int  ln_node_connect(ln_node *n, const char *addr);

/* Stops services; the handles close on the loop, then the node is freed. */
void ln_node_close(ln_node *n);

typedef struct {
    char chain_id[65];
    char consensus[32];          /* the consensus plugin's name */
    uint64_t height, time;
    uint64_t final_height;       /* the last final block's */
    uint8_t head[LN_HASH_LEN];
    uint8_t state_root[LN_HASH_LEN];
    size_t mempool;              /* transactions waiting */
    uint64_t txs_committed;
    char fingerprint[65];
    size_t nvalidators;          /* validators, in genesis order */
    char validators[LN_NODE_MAX_VALIDATORS][LN_NAME_MAX + 1];
    /* pos: the set by stake in force at the next height, since set_from;
    ** nset 0 when none */
    size_t nset;
    uint64_t set_from;
    char set_names[LN_NODE_MAX_VALIDATORS][LN_NAME_MAX + 1];
    uint64_t set_power[LN_NODE_MAX_VALIDATORS];
    char self[LN_NAME_MAX + 1];  /* this node's validator name, "" if none */
    size_t peers;                /* P2P peers connected now */
    char admin[LN_NAME_MAX + 1]; /* may change membership (sys.addmember ...); "" if nobody */
    size_t nmembers;             /* keys that may connect besides the validators' */
    uint8_t members[LN_NODE_MAX_MEMBERS][LN_PK_LEN];
} ln_node_info;

void ln_node_info_get(ln_node *n, ln_node_info *out);

/* Blocks are canonical msgpack maps {cert, hash, header, txs}: header as in
** DESIGN ("Objects"), txs the encoded transactions (bin), cert the
** consensus plugin's commit certificate. LN_ENOTFOUND. */
int  ln_node_block_by_height(ln_node *n, uint64_t height, uint8_t **blk, size_t *len);
int  ln_node_block_by_hash(ln_node *n, const uint8_t hash[LN_HASH_LEN], uint8_t **blk, size_t *len);

/* Submission: checked and signature-verified off the loop; cb runs on the
** loop with 0 and the id, or an LN_E* code and a reason. If the call itself
** returns an error, cb never runs. */
typedef void (*ln_submit_cb)(int status, const uint8_t id[LN_HASH_LEN],
                             const char *why, void *ud);
int  ln_node_submit(ln_node *n, const uint8_t *tx, size_t len, ln_submit_cb cb, void *ud);

/* Status of a transaction: LN_TX_UNKNOWN, LN_TX_PENDING, LN_TX_COMMITTED
** or LN_TX_FINAL (then *height and *receipt: the canonical receipt map of
** exec.h). LN_TX_FINAL only under a plugin whose blocks fork (pow): under
** the others a committed block is final at once and stays "committed". */
enum { LN_TX_UNKNOWN = 0, LN_TX_PENDING = 1, LN_TX_COMMITTED = 2, LN_TX_FINAL = 3 };
int  ln_node_tx_status(ln_node *n, const uint8_t id[LN_HASH_LEN], uint64_t *height,
                       uint8_t **receipt, size_t *len);

/* The encoded transaction of a waiting or committed id (malloc()ed): from
** the mempool, else from its block. LN_ENOTFOUND. */
int  ln_node_tx_bytes(ln_node *n, const uint8_t id[LN_HASH_LEN], uint8_t **tx, size_t *len);

/* A query's end, on the loop: status 0 and out (borrowed for the call;
** out->code says whether the call failed, EGAS beyond query_gas_max), or
** LN_ECLOSED (the node closed before it ran) or LN_ENOMEM, with out NULL. */
typedef void (*ln_query_cb)(ln_node *n, int status, const ln_outcome *out, void *ud);

/* A read-only call off the loop (see LN_NODE_QUERY_*), against the state
** at the head when this is called: blocks committed while it runs are not
** seen. args: msgpack array or NULL (copied). LN_EBUSY when the queue is
** full, LN_ECLOSED, LN_ENOMEM: then cb never runs. */
int  ln_node_query(ln_node *n, const char *contract, const char *method,
                   const uint8_t *args, size_t alen, ln_query_cb cb, void *ud);

/* What a transaction (signed or unsigned: quote.h) would pay in the next
** block, worked out off the loop like a query, against the state at the
** head when this is called. cb gets status 0 and q (borrowed for the
** call), or the decoding's code with why (q NULL), or LN_ECLOSED,
** LN_ENOMEM. LN_EBUSY, LN_ECLOSED, LN_ENOMEM: then cb never runs. */
typedef void (*ln_quote_cb)(ln_node *n, int status, const ln_quote *q, const char *why, void *ud);
int  ln_node_quote(ln_node *n, const uint8_t *tx, size_t len, ln_quote_cb cb, void *ud);

/* The account's stake and unbonding entries (stake.h); zero when none. */
int  ln_node_stake(ln_node *n, const char *name, ln_stake *out);
/* A dry run of a signed transaction (a client's fee estimate): checked and
** executed as the next block would (height + 1, on the head's state, its
** signatures verified), off the loop on the query workers, its writes
** thrown away. cb runs on the loop with 0 and the receipt (borrowed for
** the call: included = 0 with code and error when a check refused it), or
** LN_ECLOSED or LN_ENOMEM with NULL. LN_EBUSY (the queries' queue is
** full), LN_ECLOSED, LN_ENOMEM from the call itself: then cb never runs. */
typedef void (*ln_dryrun_cb)(ln_node *n, int status, const ln_receipt *r, void *ud);
int  ln_node_dry_run(ln_node *n, const uint8_t *tx, size_t len, ln_dryrun_cb cb, void *ud);
/* pos's jail of name (valset.h): *until 0 when it was never punished. */
int  ln_node_jail(ln_node *n, const char *name, uint64_t *at, uint64_t *until);
/* The producers the account approves (vote.h), sorted; *k = 0 when none. */
int  ln_node_votes(ln_node *n, const char *name, ln_vote_name names[LN_VOTES_MAX], size_t *k);

/* The account record (canonical msgpack, account.h layout). LN_ENOTFOUND. */
int  ln_node_account(ln_node *n, const char *name, uint8_t **rec, size_t *len);

/* 0 when a signature of pk alone satisfies account@perm ("active",
** "owner") at the head; LN_EAUTH, LN_ENOACCOUNT. */
int  ln_node_authorized(ln_node *n, const char *account, const char *perm,
                        const uint8_t pk[LN_PK_LEN]);

/* The nonce the account's next transaction takes: its committed nonce moved
** past its consecutive waiting transactions (ln_mempool_next_nonce). */
uint64_t ln_node_pending_nonce(ln_node *n, const char *name);

/* A state value at the head with its proof against the head's state root. */
int  ln_node_state_get(ln_node *n, const uint8_t *key, size_t klen,
                       uint8_t **val, size_t *vlen, uint8_t **proof, size_t *plen,
                       uint64_t *height, uint8_t root[LN_HASH_LEN]);

/* New blocks and events, for subscriptions (SSE): cb gets each committed
** block (canonical msgpack, as block_by_height) and its receipts (array). */
typedef void (*ln_block_cb)(ln_node *n, const uint8_t *blk, size_t len,
                            const uint8_t *receipts, size_t rlen, void *ud);
/* The plugins in force at the head and the swaps pending, as canonical
** msgpack: {consensus, governance, pricing: {hash (hex), name, params,
** since}, pending: [{at, hash, name, ready, slot}]} (DESIGN,
** chain_info.plugins). *out is the caller's. */
int  ln_node_plugins(ln_node *n, uint8_t **out, size_t *len);
/* The plugin of slot in force at height (-1: the head; at most head + 1):
** {code, hash, name, params, since}. LN_EINVAL for no such slot,
** LN_ENOTFOUND for a height past head + 1. */
int  ln_node_plugin_get(ln_node *n, const char *slot, int64_t height, uint8_t **out, size_t *len);
/* Would code load as slot's plugin at the next height, with params
** (canonical msgpack of a map)? The probe governance runs on a proposal
** (ln_govern_probe), over the head's state. 0, or LN_EPLUGIN (LN_EINVAL
** for no such slot) with why. */
int  ln_node_plugin_probe(ln_node *n, const char *slot, const char *code, size_t len,
                          const uint8_t *params, size_t plen, char *why, size_t whylen);

/* A reorg (DESIGN: SSE `reorg`): the head moved from one branch to
** another, depth blocks reverted. One watcher (the RPC server); it hears of
** it from the loop after the blocks' own news. */
typedef struct {
    uint64_t from_height, to_height, depth;
    uint8_t from[LN_HASH_LEN], to[LN_HASH_LEN];
} ln_reorg_event;
typedef void (*ln_reorg_cb)(ln_node *n, const ln_reorg_event *ev, void *ud);
void ln_node_watch_reorgs(ln_node *n, ln_reorg_cb cb, void *ud);   /* cb NULL: none */

/* 1 when the block with this hash is final (on the head's chain, at or
** below the final height), else 0. */
int  ln_node_block_final(ln_node *n, const uint8_t hash[LN_HASH_LEN]);

int  ln_node_subscribe(ln_node *n, ln_block_cb cb, void *ud);
void ln_node_unsubscribe(ln_node *n, ln_block_cb cb, void *ud);

/* The node's log: one line per event on stderr, "HH:MM:SS LEVEL text"
** (UTC), written whole (lines from query threads do not interleave). A
** line below the level is not written. The level is the process's, info
** unless set; what the node computes never depends on it. */
void ln_node_log_level(int level);           /* LN_LOG_* (log.h) */
/* A line of the node's log from a part of the daemon (the watcher). */
void ln_node_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prometheus text of the node's metrics (malloc()ed). */
char *ln_node_metrics(ln_node *n);

#endif
