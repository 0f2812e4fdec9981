/*
** p2p.h -- the P2P protocol between the nodes of a chain, over net.h's
** authenticated, encrypted frames: transaction gossip, block sync, the
** address book and the delivery of consensus messages.
**
** The protocol owns its frames (p2p_frame.h) and never reaches into the
** chain: it asks the node through the callbacks of ln_p2p_host (height,
** a stored block, apply a block, take a transaction, deliver a consensus
** message), and the node tells it what happened through the functions
** below (a transaction admitted, a block committed). The node never builds
** a frame.
**
** Frames. Each is the plaintext of one net.h frame: a msgpack map whose
** field t, a str of 1-16 bytes, names its type. At most LN_P2P_MAX_FRAME
** bytes (net.h drops a peer that sends more), LN_P2P_FRAME_OBJECTS objects
** and LN_P2P_FRAME_DEPTH levels (shape.h), measured before anything is
** decoded. Fields are read by name; one that is missing or of another
** type than below makes the frame a no-op (nothing happens, no strike).
**   {t="p", from=NAME, m=BIN, sig=BIN(64)?}  a consensus message (the
**       plugin's node.broadcast/send), delivered to on_message with the
**       name of the validator whose key the connection has; a member's
**       connection counts only with sig, from's signature of m (a node
**       made validator after it started). m is msgpack of at most
**       LN_PLUGIN_MSG_OBJECTS objects (plugin.h), decoded inside the
**       plugin's metered call: one that does not decode, or is bigger,
**       drops the sender with a strike before the plugin sees it.
**   {t="txs", b=[BIN...]}  transactions a client submitted here, newly
**       admitted, one frame per loop turn ({t="tx", b=BIN}: one); not
**       relayed further; copies seen lately are dropped unchecked, the
**       rest go to admission like a client's. A peer that comes up gets
**       the mempool this way too.
**   {t="blk", b=BLOCK, h=HEAD, n=HEIGHT, last=BOOL}  a committed block
**       (node.h's block map, its bytes), sent by its proposer to every peer
**       and in answers to get; h is the sender's head. At our head + 1
**       (or, under a plugin whose blocks fork, above our final block): the
**       plugin's verify_block and verify_commit judge the header and
**       certificate, then it is re-executed and its hash compared. A block
**       refused so counts against the peer (LN_P2P_BAD_BLOCKS drop it); a
**       block out of proportion (more objects than a block's 10,000
**       transactions, header and a certificate of LN_PLUGIN_MSG_OBJECTS
**       can hold) drops it at once. Further ahead: we ask that peer
**       (get), at most every 0.5 s. One whose parent we lack (another
**       branch): we ask from LN_P2P_SYNC_BLOCKS below it, twice as far at
**       each such ask until our chain grows, never below our final block;
**       an answer's last block below the peer's head makes us ask from the
**       next, so the answers walk up to where the branches meet.
**   {t="head", h=HEIGHT}  a new head, from a node that did not propose
**       it; every second a node asks (get) the peers that said they are
**       ahead, in turn, once it is stuck at one height.
**   {t="get", from=HEIGHT}  asks for blocks from HEIGHT (>= 1) on; the
**       answer is up to LN_P2P_SYNC_BLOCKS blk frames in order (fewer past
**       LN_P2P_SYNC_BYTES), the last marked. Answers go out from a timer,
**       a few blocks per loop turn, at most LN_P2P_SYNC_RATE blocks a second
**       to one peer, only while it has read what it was sent; one answer
**       at a time per peer: a get meanwhile is kept (the latest) and
**       answered next, so a flood of gets costs one answer.
**   {t="addr", a=[{a="HOST:PORT", k=BIN(32)}...]}  the sender's P2P
**       address and the members' it knows (the first LN_P2P_MAX_ADDRS
**       entries are read); a member we have no route to is dialed, once.
**       Sent when a peer comes up.
**   any other t  ignored (a newer peer's).
** A frame that is not a msgpack map with such a t, or past the limits
** above, drops the peer with a strike on its identity (net.h).
**
** Logs. A line a peer's frame causes (a refused block, a plugin's
** complaint about a message, a peer up or down) counts against that peer:
** past a few lines for one reason in a window of seconds, only their count
** is written, once the window ends ("... (and 2996 more like it from
** ADDR, not logged)"). Lines that differ only in their digits are one
** reason.
**
** Everything runs on the loop thread. int results: 0 or a negative LN_E*
** code (err.h). Inputs are borrowed for the call unless a comment says so.
*/
#ifndef LN_P2P_H
#define LN_P2P_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "crypto.h"

#define LN_P2P_MAX_FRAME    ((8u << 20) + (64u << 10))   /* a frame's plaintext: a block of 8 MiB and room */
#define LN_P2P_SYNC_BLOCKS  64                /* blocks per answer to get */
#define LN_P2P_SYNC_BYTES   (4u << 20)        /* ... or fewer, past this many bytes */
#define LN_P2P_BAD_BLOCKS   3                 /* refused blocks before a peer is dropped */
#define LN_P2P_MAX_PEERS    256
#define LN_P2P_MAX_ADDRS    (64 + 256)        /* validators and members */
#define LN_P2P_SYNC_RATE    1024              /* blocks a second sent to one peer in answers */
#define LN_P2P_FRAME_OBJECTS 65536            /* objects (shape.h) in one frame */
#define LN_P2P_FRAME_DEPTH  8                 /* nesting of arrays and maps in one frame */

typedef struct ln_p2p ln_p2p;   /* opaque */

/* What the node provides. ud is passed back to each. */
typedef struct {
    void *ud;
    /* 1 when pk may connect (a validator's or a member's key). */
    int  (*allowed)(void *ud, const uint8_t pk[LN_PK_LEN]);
    /* The validator name of pk, or NULL. */
    const char *(*validator)(void *ud, const uint8_t pk[LN_PK_LEN]);
    /* The key of validator `name`, or NULL. */
    const uint8_t *(*validator_key)(void *ud, const char *name);
    /* The height of the head. */
    uint64_t (*height)(void *ud);
    /* The height of the last final block (below the head only when blocks
    ** may fork: then blocks from there up to head + 1 are applied, and
    ** one whose parent is unknown, LN_EORPHAN from apply, makes us ask
    ** its sender from the final height). NULL: the head's. */
    uint64_t (*final)(void *ud);
    /* The stored block at height (canonical bytes, the caller's: free()). */
    int  (*block)(void *ud, uint64_t height, uint8_t **blk, size_t *len);
    /* A committed block from a peer for head + 1: checked and committed, or
    ** refused with why: LN_EBADBLOCK counts against the peer; LN_ETOOBIG or
    ** LN_EDEPTH (out of proportion, shape.h) drops it at once; any other
    ** code (LN_EFINAL: on a branch that left ours below the final block)
    ** is only logged. */
    int  (*apply)(void *ud, const uint8_t *blk, size_t len, char *why, size_t whylen);
    /* A transaction from a peer, not seen lately (bh: the hash of its bytes). */
    void (*tx)(void *ud, const uint8_t *tx, size_t len, const uint8_t bh[LN_HASH_LEN]);
    /* Calls each(tx, len, arg) for the waiting transactions, in pool order;
    ** each must not change the pool. */
    void (*mempool)(void *ud, void (*each)(const uint8_t *tx, size_t len, void *arg), void *arg);
    /* A consensus message from validator `from`; < 0 with why when it
    ** fails: LN_EPLUGIN (or LN_ENOMEM) is logged, any other code refuses the
    ** message itself and drops the sender with a strike. */
    int  (*message)(void *ud, const char *from, const uint8_t *m, size_t len,
                    char *why, size_t whylen);
    /* One log line (no newline) at level (LN_LOG_*, log.h). */
    void (*log)(void *ud, int level, const char *line);
} ln_p2p_host;

typedef struct {
    uint8_t pk[LN_PK_LEN];              /* the node's identity */
    uint8_t sk[LN_SK_LEN];              /* copied; wiped once the net has it */
    const char *chain_id;
    const char *listen;                 /* "HOST:PORT" (net.h); advertised to peers
                                        ** unless its host is 0.0.0.0 or [::] */
    size_t max_frame;                   /* application frame, bytes */
    uint64_t penalty_ms;                /* a first strike's hold-off (net.h); 0: the default */
} ln_p2p_config;

/* Starts the net (net.h) and the protocol's timers. LN_EINVAL, LN_EEXIST
** (address in use), LN_EIO, LN_ENOMEM. */
int  ln_p2p_start(uv_loop_t *loop, const ln_p2p_config *cfg, const ln_p2p_host *host,
                  ln_p2p **out);

/* Dials a peer ("HOST:PORT") and keeps the connection up. LN_EINVAL,
** LN_ECLOSED (closing). */
int  ln_p2p_connect(ln_p2p *p, const char *addr);

/* Closes every handle; cb(ud) runs once all are closed, and p is freed
** before it runs. No host callback runs after this returns. */
void ln_p2p_close(ln_p2p *p, void (*cb)(void *ud), void *ud);

/* Peers connected (authenticated) now. */
size_t ln_p2p_peers(const ln_p2p *p);

/* Records the hash of a transaction's bytes as seen (a copy from a peer is
** then dropped unchecked); 1 if it was seen lately already. */
int  ln_p2p_seen(ln_p2p *p, const uint8_t bh[LN_HASH_LEN]);

/* A transaction a client submitted, newly admitted: to every peer, in one
** frame per loop turn. Takes tx (malloc()ed). */
void ln_p2p_gossip(ln_p2p *p, uint8_t *tx, size_t len);

/* Block `height` was committed: sent to every peer when this node
** proposed it, else its height (head). */
void ln_p2p_committed(ln_p2p *p, uint64_t height, int proposed);

/* A consensus message to validator `to` (NULL: every peer), as validator
** `from`; sig (NULL: none) is from's signature of m, for a node whose
** connection key is not from's. LN_ENOTFOUND when no peer took it. */
int  ln_p2p_consensus(ln_p2p *p, const char *to, const char *from, const uint8_t *m,
                      size_t len, const uint8_t *sig);

/* Membership changed: peers no longer allowed are dropped. */
void ln_p2p_recheck(ln_p2p *p);

/* A log line (no newline) written through host->log at info. While a peer's frame
** is being handled (the plugin logging from on_message), it counts against
** that peer: lines that differ only in their digits are one reason, and
** past a few per window only their count is written. */
void ln_p2p_log(ln_p2p *p, const char *line);

/* Frames handled since start, and peers dropped for what they sent. */
void ln_p2p_stats(const ln_p2p *p, uint64_t *frames, uint64_t *refused);

#endif
