/*
** plugin.h -- the host of a consensus plugin.
**
** A plugin is a Lua file returning a table of callbacks (DESIGN, "Plugins").
** It lives in a sandbox of its own for as long as it is installed (its
** upvalues are its memory between callbacks) and each callback runs under
** an instruction budget: a plugin that loops or allocates without end is
** stopped, the callback reports LN_EPLUGIN with the reason, and the node
** goes on. The plugin reaches the node only through the `node` table,
** whose functions call back into the ln_plugin_host below.
** int results: 0 or a negative LN_E* code (err.h).
*/
#ifndef LN_PLUGIN_H
#define LN_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

#define LN_PLUGIN_BUDGET   20000000ull   /* instructions per callback */
#define LN_PLUGIN_MEM      (64u << 20)   /* bytes of growth per callback */
#define LN_PLUGIN_MSG_MAX  (16u << 20)   /* bytes of one string in a message (a block) */
#define LN_PLUGIN_MSG_OBJECTS (1u << 14) /* objects (shape.h) in a message or certificate
                                         ** from a peer: a bft proposal has ~80 */

typedef struct ln_plugin ln_plugin;   /* opaque */

/* A block as a plugin sees it (node.head(), node.propose(), node.execute(),
** verify_block): its table has height, hash, prev and state_root (hex),
** proposer, time, txs (how many), consensus (the header's data, decoded,
** when it has some), final and canonical (node.block) and, when data is
** set, data (its bytes). */
#define LN_PLUGIN_PRODUCERS_MAX 30      /* names node.producers() gives at most */
#define LN_PLUGIN_CONS_MAX 512           /* bytes of a header's consensus data */

typedef struct {
    uint64_t height, time;
    uint8_t hash[LN_HASH_LEN], prev[LN_HASH_LEN], state_root[LN_HASH_LEN];
    char proposer[LN_NAME_MAX + 1];
    size_t ntx;
    const uint8_t *data;             /* NULL: none; else valid until the callback returns */
    size_t dlen;
    size_t cons_len;                 /* the header's consensus data (msgpack): `consensus` */
    uint8_t cons[LN_PLUGIN_CONS_MAX];
    int tree;                        /* 1: `final` and `canonical` below are known */
    int final, canonical;
} ln_plugin_block;

/* What the node provides, in C types; plugin.c turns them into Lua values.
** why/whylen: a one-line reason when a call fails. */
typedef struct {
    void *ud;
    /* The validators' names, in order: up to cap into names (valid until the
    ** next call into the node); returns how many there are. */
    size_t (*validators)(void *ud, const char **names, size_t cap);
    /* node.powers(): each validator's voting power (up to cap into names
    ** and power) and the first height of the set; NULL: not offered. */
    size_t (*powers)(void *ud, const char **names, uint64_t *power, size_t cap, uint64_t *since);
    const char *(*self)(void *ud);                     /* this node's validator name, "" if none */
    int  (*head)(void *ud, ln_plugin_block *out);      /* LN_ENOTFOUND: no chain yet */
    /* Builds the next block from the mempool; out->data is the block's bytes
    ** for peers. < 0 with why. */
    int  (*propose)(void *ud, ln_plugin_block *out, char *why, size_t whylen);
    /* Re-executes a block given as its bytes (a peer's proposal) on the head. */
    int  (*execute)(void *ud, const uint8_t *data, size_t len, ln_plugin_block *out,
                    char *why, size_t whylen);
    /* Commits the block with this hash and certificate (msgpack): the one
    ** proposed or executed last, else the block in data (NULL: none),
    ** executed first. */
    int  (*commit)(void *ud, const uint8_t hash[LN_HASH_LEN], const uint8_t *data, size_t dlen,
                   const uint8_t *cert, size_t len, char *why, size_t whylen);
    size_t (*pending)(void *ud);   /* accounts with a transaction a block could take now */
    void (*timer)(void *ud, uint64_t ms, const char *id);
    int  (*sign)(void *ud, const uint8_t *m, size_t n, uint8_t sig[LN_SIG_LEN]);
    int  (*key_of)(void *ud, const char *validator, uint8_t pk[LN_PK_LEN]);   /* LN_ENOTFOUND */
    void (*log)(void *ud, const char *msg);
    int  (*broadcast)(void *ud, const uint8_t *msg, size_t len);
    int  (*send)(void *ud, const char *to, const uint8_t *msg, size_t len);
    int  (*persist)(void *ud, const char *key, const uint8_t *val, size_t len);
    int  (*recall)(void *ud, const char *key, uint8_t **val, size_t *len);   /* LN_ENOTFOUND */
    uint64_t (*now_ms)(void *ud);
    /* node.propose(data): propose with data as the header's consensus field
    ** (msgpack). NULL: not offered. */
    int  (*propose_with)(void *ud, const uint8_t *cons, size_t clen, ln_plugin_block *out,
                         char *why, size_t whylen);
    /* For plugins whose blocks fork (tree.h); NULL: not offered. import: a
    ** block's bytes join the tree; choose: the head moves there; finalize:
    ** it and its ancestors are final; block: a known block by hash (hash
    ** NULL: the head's chain at height), LN_ENOTFOUND; mine: a nonce search
    ** off the loop whose end comes as on_mined. */
    int  (*import)(void *ud, const uint8_t *data, size_t len, ln_plugin_block *out,
                   char *why, size_t whylen);
    int  (*choose)(void *ud, const uint8_t hash[LN_HASH_LEN], char *why, size_t whylen);
    int  (*finalize)(void *ud, const uint8_t hash[LN_HASH_LEN], char *why, size_t whylen);
    int  (*block)(void *ud, const uint8_t *hash, uint64_t height, ln_plugin_block *out);
    int  (*mine)(void *ud, const uint8_t *bytes, size_t len, const uint8_t target[LN_HASH_LEN],
                 uint64_t from, uint64_t tries, char *why, size_t whylen);
    /* node.producers(want [, block]): the top `want` (at most
    ** LN_PLUGIN_PRODUCERS_MAX) validators by approval votes in the state
    ** after the block (hash NULL: the head), sorted by name (vote.h); *n
    ** how many. LN_EORPHAN, LN_EFINAL as ln_chain_state_at. NULL: not
    ** offered. */
    int  (*producers)(void *ud, const uint8_t *hash, size_t want,
                      char (*names)[LN_NAME_MAX + 1], size_t *n);
    /* node.header(hash): a known block's header as the chain encodes it
    ** (canonical msgpack, what its hash hashes; malloc()ed), for evidence.
    ** LN_ENOTFOUND. NULL: not offered. */
    int  (*header)(void *ud, const uint8_t hash[LN_HASH_LEN], uint8_t **out, size_t *len);
    /* node.evidence(e): evidence of double signing in the form sys.evidence
    ** takes (valset.h), as canonical msgpack, for the node to submit from
    ** its validator account. 0 when submitted; else why says why not (not
    ** a validator, sent already, punished already, ...). NULL: not offered. */
    int  (*evidence)(void *ud, const uint8_t *e, size_t len, char *why, size_t whylen);
} ln_plugin_host;

/* Loads the plugin source and runs its chunk; then init(node, params) with
** params given as canonical msgpack (a map, or NULL for {}). *why gets the
** reason on failure. */
int  ln_plugin_load(const ln_plugin_host *host, const char *name, const char *src, size_t len,
                    const uint8_t *params, size_t plen, ln_plugin **out,
                    char *why, size_t whylen);
void ln_plugin_free(ln_plugin *p);                      /* NULL is a no-op */
const char *ln_plugin_name(const ln_plugin *p);
/* The instructions its chunk and callbacks used since it was loaded, the
** host's work charged to them included (what the budget counts). */
uint64_t ln_plugin_gas(const ln_plugin *p);

/* Callbacks. A missing callback is a no-op (0). On failure *why says what
** happened ("on_timer: out of gas", "plugin.lua:12: ..."). */
int  ln_plugin_start(ln_plugin *p, char *why, size_t whylen);
/* stop(): the plugin is handed over (a swap) or the node shuts down. */
int  ln_plugin_stop(ln_plugin *p, char *why, size_t whylen);
int  ln_plugin_on_timer(ln_plugin *p, const char *id, char *why, size_t whylen);
/* on_message(from, msg) with msg decoded from its msgpack inside the
** metered call. A message the peer is to blame for is refused before the
** plugin sees it, with a code of shape.h (more than LN_PLUGIN_MSG_OBJECTS
** objects: LN_ETOOBIG) or of the codec (not canonical msgpack), or
** LN_ETOOBIG when decoding it passes the memory cap; LN_EPLUGIN when the
** plugin failed. */
int  ln_plugin_on_message(ln_plugin *p, const char *from, const uint8_t *msg, size_t len,
                          char *why, size_t whylen);

/* FORKS = true in the plugin's table: its blocks may fork before they are
** final (tree.h); the node keeps a block tree for it. */
int  ln_plugin_forks(ln_plugin *p);
/* on_block(block): a peer's block joined the tree (sync); the plugin may
** choose it. on_mined(nonce, hash, next) after node.mine: the nonce and the
** hash found (nil, nil when none was in the tries) and the next nonce to try. */
int  ln_plugin_on_block(ln_plugin *p, const ln_plugin_block *block, char *why, size_t whylen);
int  ln_plugin_on_mined(ln_plugin *p, int found, uint64_t nonce, const uint8_t hash[LN_HASH_LEN],
                        uint64_t next, char *why, size_t whylen);

/* Asks the plugin about a block from a peer: verify_block(block), then
** verify_commit(block, cert, validators), each under the budget. block is
** what its header claims (data not passed); cert is msgpack (NULL:
** none; decoded inside the metered verify_commit, nil if it does not
** decode). 0 when both answer true; LN_EBADBLOCK with the plugin's reason;
** LN_EPLUGIN when it fails or has no verify_commit; LN_ETOOBIG (or another
** code of shape.h) for a certificate of more than LN_PLUGIN_MSG_OBJECTS
** objects, refused before anything runs. A missing verify_block counts as
** true. */
int  ln_plugin_verify(ln_plugin *p, const ln_plugin_block *block,
                      const uint8_t *cert, size_t certlen, char *why, size_t whylen);

#endif
