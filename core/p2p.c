/*
** p2p.c -- the P2P protocol over net.h (frames and rules in p2p.h).
**
** Four concerns share the connections, each with its frames: gossip (tx,
** txs: a transaction newly admitted from a client goes to every peer; one
** from a peer is handed to the node unless seen lately, and not relayed),
** sync (blk, head, get: committed blocks and heads go out; a peer ahead is
** asked for what we lack), the address book (addr: members' addresses,
** dialed when there is no route to them) and consensus (p: messages between
** the validators' plugins).
**
** What a peer can make this node do is bounded per peer: a frame is
** measured (shape.h) before it is decoded, a get is answered a few blocks
** per loop turn from a timer (never more than one answer under way per
** peer, at most LN_P2P_SYNC_RATE blocks a second), and log lines repeated
** by one peer for one reason are counted, not written (LOG_BURST per
** LOG_WINDOW_MS, then one line with the count). A frame or message that
** breaks the protocol drops its sender with a strike (net.h).
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "log.h"
#include "p2p.h"
#include "p2p_frame.h"
#include "err.h"
#include "net.h"
#include "shape.h"

#define MAX_PEERS       LN_P2P_MAX_PEERS
#define MAX_ADDRS       LN_P2P_MAX_ADDRS
#define ADDR_MAX        LN_P2P_ADDR_MAX
#define SEEN_SLOTS      65536                    /* recently seen transactions */
#define GOSSIP_BYTES    (1u << 20)               /* flush a gossip frame past this */
#define MEMPOOL_OUT_BYTES (4u << 20)             /* of the mempool, to a peer that comes up */
#define SERVE_TURN_BLOCKS 16                     /* blocks of answers sent per loop turn */
#define SERVE_PEER_BLOCKS 4                      /* ... to one peer */
#define LOG_SLOTS       256                      /* (peer, reason) pairs whose lines are counted */
#define LOG_BURST       4                        /* lines per pair and window ... */
#define LOG_WINDOW_MS   2000                     /* ... then one line saying how many more */

/* One connected peer: its answer to get, paced by on_serve. */
typedef struct pstate {
    ln_peer *peer;
    struct pstate *prev, *next;          /* p->peers */
    int serving;                         /* an answer is under way: blocks from..last */
    uint64_t from, last;
    size_t bytes;                        /* of the answer so far */
    int asked;                           /* a get came meanwhile: from ask_from */
    uint64_t ask_from;
    double tokens;                       /* blocks it may be sent now (a bucket) */
    uint64_t tokens_at;                  /* loop time of the last refill, ms */
} pstate;

/* Lines of one (peer, reason) in the current window. */
typedef struct {
    uint8_t key[16];                     /* hash of peer and reason; all zero: free */
    uint64_t since;                      /* window start, loop time ms */
    unsigned lines, more;                /* written, counted */
    int level;                           /* of the sample */
    char from[ADDR_MAX];
    char sample[160];
} logslot;

/* Transactions going out as one txs frame. */
typedef struct txbatch {
    uint8_t **tx;
    size_t *len, k, cap, bytes;
} txbatch;

struct ln_p2p {
    uv_loop_t *loop;
    ln_p2p_host host;
    ln_net *net;
    char self_addr[ADDR_MAX];            /* where peers reach us ("" if we do not say) */
    uint8_t pk[LN_PK_LEN];               /* our identity */
    /* Member addresses: advertised by peers (key -> address); dialed: the
    ** addresses this node dials (--peer and learned), reached: keys met on
    ** a connection we dialed (its dialer keeps it up; no other route is
    ** needed), bad: refused blocks per key. */
    struct {
        uint8_t key[LN_PK_LEN];
        char addr[ADDR_MAX];
        int reached, bad, learned;       /* learned: dialed from an addr frame */
        uint64_t head;                   /* the height it last told us */
    } addrs[MAX_ADDRS];
    size_t naddrs;
    char dialed[MAX_PEERS][ADDR_MAX];
    size_t ndialed;
    uv_timer_t sync_timer;               /* asks a peer ahead of us for blocks */
    uint64_t sync_stuck_at;              /* our height at the last tick we were behind */
    int sync_ticks;                      /* ticks since, still there */
    size_t sync_rr;                      /* the next peer to ask, in turn */
    double sync_asked;                   /* when a block ahead last made us ask */
    double fork_asked;                   /* when a block on another branch last made us ask */
    uint64_t fork_back;                  /* how far below such a block the next ask starts */
    double sync_log_at;                  /* last sync progress line */
    /* Transactions admitted since the loop last polled, gossiped as one
    ** frame from a check handle: one encryption and write per peer for
    ** many transactions. */
    uv_check_t gossip_check;
    txbatch gossip;
    /* Transactions are known here by the hash of their exact bytes: seen
    ** arrived from peers or were admitted lately, so copies relayed by
    ** other peers are dropped. Direct-mapped: an entry overwritten costs
    ** one more check, never a wrong answer. */
    uint8_t (*seen)[LN_HASH_LEN];
    pstate *peers;                       /* every peer up */
    pstate *serve_rr;                    /* whose turn is first in the next serve */
    uv_timer_t serve_timer;              /* paces the answers to get */
    logslot *logs;
    ln_peer *current;                    /* the peer whose frame is being handled */
    uint64_t frames, refused;            /* metrics: frames handled, peers dropped for one */
    int closing, live;                   /* live: handles and the net not closed yet */
    void (*close_cb)(void *ud);
    void *close_ud;
};

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Writes line, unless `peer` (may be NULL) wrote LOG_BURST lines for this
** reason within the window: then it is counted, and a line with the
** count follows when the window is over (log_flush). */
static void log_limited(ln_p2p *p, int level, ln_peer *peer, const char *reason, const char *line)
{
    if (!p->logs) {
        p->host.log(p->host.ud, level, line);
        return;
    }
    uint8_t key[16];
    ln_hasher h;
    ln_hash_init(&h);
    if (peer) ln_hash_update(&h, ln_peer_key(peer), LN_PK_LEN);
    ln_hash_update(&h, reason, strlen(reason));
    uint8_t full[LN_HASH_LEN];
    ln_hash_final(&h, full);
    memcpy(key, full, sizeof key);
    key[0] |= 1;                         /* never all zero */
    logslot *sl = &p->logs[(key[1] | (size_t)key[2] << 8) % LOG_SLOTS];
    uint64_t now = uv_now(p->loop);
    if (memcmp(sl->key, key, sizeof key) != 0 || now - sl->since >= LOG_WINDOW_MS) {
        if (sl->more) {
            char sum[320];
            snprintf(sum, sizeof sum, "%s (and %u more like it from %s, not logged)",
                     sl->sample, sl->more, sl->from);
            p->host.log(p->host.ud, sl->level, sum);
        }
        memcpy(sl->key, key, sizeof key);
        sl->since = now;
        sl->lines = sl->more = 0;
        snprintf(sl->from, sizeof sl->from, "%s", peer ? ln_peer_addr(peer) : "peers");
    }
    if (sl->lines < LOG_BURST) {
        sl->lines++;
        sl->level = level;
        snprintf(sl->sample, sizeof sl->sample, "%s", line);
        p->host.log(p->host.ud, level, line);
    } else {
        sl->more++;
    }
}

/* The counts of windows that are over. */
static void log_flush(ln_p2p *p)
{
    uint64_t now = uv_now(p->loop);
    for (size_t i = 0; p->logs && i < LOG_SLOTS; i++) {
        logslot *sl = &p->logs[i];
        if (!sl->more || now - sl->since < LOG_WINDOW_MS) continue;
        char sum[320];
        snprintf(sum, sizeof sum, "%s (and %u more like it from %s, not logged)", sl->sample,
                 sl->more, sl->from);
        p->host.log(p->host.ud, sl->level, sum);
        memset(sl, 0, sizeof *sl);
    }
}

/* A log line about peer (may be NULL); the format is the reason. */
static void plog(ln_p2p *p, int level, ln_peer *peer, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void plog(ln_p2p *p, int level, ln_peer *peer, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log_limited(p, level, peer, fmt, line);
}

/* A line no peer can repeat at will. */
static void logf_(ln_p2p *p, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void logf_(ln_p2p *p, int level, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    p->host.log(p->host.ud, level, line);
}

void ln_p2p_log(ln_p2p *p, const char *line)
{
    if (!p->current) {
        p->host.log(p->host.ud, LN_LOG_INFO, line);
        return;
    }
    /* The reason is the line without its numbers: one peer's lines that
    ** differ only in heights and rounds are one reason. */
    char reason[160];
    size_t k = 0;
    for (const char *c = line; *c && k + 1 < sizeof reason; c++)
        if (*c < '0' || *c > '9') reason[k++] = *c;
    reason[k] = 0;
    log_limited(p, LN_LOG_INFO, p->current, reason, line);
}

/* ---- sending ------------------------------------------------------------ */

/* Sends the frame to `to` (NULL: to every up peer); the number of peers it
** was queued for. Destroys sb. */
static size_t send_frame(ln_p2p *p, ln_peer *to, msgpack_sbuffer *sb)
{
    size_t sent = 0;
    if (p->net && sb->data) {
        if (to) {
            sent = ln_peer_send(to, sb->data, sb->size) == 0;
        } else {
            ln_peer *ps[MAX_PEERS];
            size_t k = ln_net_peers(p->net, ps, MAX_PEERS);
            if (k > MAX_PEERS) k = MAX_PEERS;
            for (size_t i = 0; i < k; i++)
                if (ln_peer_send(ps[i], sb->data, sb->size) == 0) sent++;
        }
    }
    msgpack_sbuffer_destroy(sb);
    return sent;
}

size_t ln_p2p_peers(const ln_p2p *p)
{
    return p->net ? ln_net_peers(p->net, NULL, 0) : 0;
}

/* ---- the address book ---------------------------------------------------- */

/* The address book entry of key (created when missing and room is left). */
static int addr_entry(ln_p2p *p, const uint8_t key[LN_PK_LEN], int create)
{
    for (size_t i = 0; i < p->naddrs; i++)
        if (memcmp(p->addrs[i].key, key, LN_PK_LEN) == 0) return (int)i;
    if (!create || p->naddrs == MAX_ADDRS) return -1;
    memset(&p->addrs[p->naddrs], 0, sizeof p->addrs[0]);
    memcpy(p->addrs[p->naddrs].key, key, LN_PK_LEN);
    return (int)p->naddrs++;
}

static int dialing(ln_p2p *p, const char *addr)
{
    for (size_t i = 0; i < p->ndialed; i++)
        if (strcmp(p->dialed[i], addr) == 0) return 1;
    return 0;
}

static int connected(ln_p2p *p, const uint8_t key[LN_PK_LEN])
{
    ln_peer *ps[MAX_PEERS];
    size_t k = ln_net_peers(p->net, ps, MAX_PEERS);
    if (k > MAX_PEERS) k = MAX_PEERS;
    for (size_t i = 0; i < k; i++)
        if (memcmp(ln_peer_key(ps[i]), key, LN_PK_LEN) == 0) return 1;
    return 0;
}

/* {t="addr"}: our own address and those of the members we know, so a node
** started with one --peer finds the rest. */
static void addr_to(ln_p2p *p, ln_peer *to)
{
    ln_p2p_addr *a = malloc((MAX_ADDRS + 1) * sizeof *a);
    if (!a) return;
    size_t k = 0;
    if (p->self_addr[0]) {
        memcpy(a[k].addr, p->self_addr, ADDR_MAX);
        a[k++].key = p->pk;
    }
    for (size_t i = 0; i < p->naddrs; i++) {
        if (!p->addrs[i].addr[0]) continue;
        memcpy(a[k].addr, p->addrs[i].addr, ADDR_MAX);
        a[k++].key = p->addrs[i].key;
    }
    msgpack_sbuffer sb;
    ln_p2p_frame_addr(&sb, a, k);
    send_frame(p, to, &sb);
    free(a);
}

/* Learns members' addresses; dials those of members this node has no
** route to (not connected, and no dialer of ours has reached them). */
static void addr_in(ln_p2p *p, const ln_p2p_frame *f)
{
    for (size_t i = 0; i < f->naddrs; i++) {
        const uint8_t *key = f->addrs[i].key;
        const char *addr = f->addrs[i].addr;
        if (memcmp(key, p->pk, LN_PK_LEN) == 0) continue;
        int x = p->host.allowed(p->host.ud, key) ? addr_entry(p, key, 1) : -1;
        if (x < 0) continue;
        if (!p->addrs[x].addr[0]) snprintf(p->addrs[x].addr, sizeof p->addrs[x].addr, "%s", addr);
        if (p->addrs[x].reached || p->addrs[x].learned || connected(p, key) ||
            dialing(p, addr) || p->ndialed == MAX_PEERS)
            continue;
        p->addrs[x].learned = 1;           /* one learned address per member, at most */
        if (ln_net_connect(p->net, addr) == 0) {
            snprintf(p->dialed[p->ndialed++], ADDR_MAX, "%s", addr);
            logf_(p, LN_LOG_INFO, "p2p: dialing %s, learned from a peer", addr);
        }
    }
}

int ln_p2p_connect(ln_p2p *p, const char *addr)
{
    if (!p->net || p->closing) return LN_ECLOSED;
    int rc = ln_net_connect(p->net, addr);
    if (rc == 0 && p->ndialed < MAX_PEERS && strlen(addr) < ADDR_MAX)
        snprintf(p->dialed[p->ndialed++], ADDR_MAX, "%s", addr);
    return rc;
}

/* ---- gossip -------------------------------------------------------------- */

static size_t seen_slot(const uint8_t id[LN_HASH_LEN])
{
    return ((size_t)id[0] | (size_t)id[1] << 8) % SEEN_SLOTS;
}

int ln_p2p_seen(ln_p2p *p, const uint8_t bh[LN_HASH_LEN])
{
    if (!p->seen) return 0;
    uint8_t *slot = p->seen[seen_slot(bh)];
    if (memcmp(slot, bh, LN_HASH_LEN) == 0) return 1;
    memcpy(slot, bh, LN_HASH_LEN);
    return 0;
}

/* Appends a transaction (borrowed: the caller says who frees it); -1 when
** out of memory. */
static int txbatch_push(txbatch *b, uint8_t *tx, size_t len)
{
    if (b->k == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        uint8_t **t = realloc(b->tx, cap * sizeof *t);
        if (t) b->tx = t;
        size_t *l = realloc(b->len, cap * sizeof *l);
        if (l) b->len = l;
        if (!t || !l) return -1;
        b->cap = cap;
    }
    b->tx[b->k] = tx;
    b->len[b->k++] = len;
    b->bytes += len;
    return 0;
}

/* Sends the batch to `to` (NULL: every peer) and empties it. */
static void txbatch_send(ln_p2p *p, ln_peer *to, txbatch *b)
{
    if (!b->k) return;
    msgpack_sbuffer sb;
    ln_p2p_frame_txs(&sb, b->tx, b->len, b->k, b->bytes);
    send_frame(p, to, &sb);
    b->k = b->bytes = 0;
}

static void txbatch_free(txbatch *b, int owned)
{
    for (size_t i = 0; owned && i < b->k; i++) free(b->tx[i]);
    free(b->tx);
    free(b->len);
}

/* The gossip batch owns its transactions. */
static void gossip_flush(ln_p2p *p)
{
    txbatch *b = &p->gossip;
    if (!b->k) return;
    size_t k = b->k;
    uint8_t **tx = b->tx;
    txbatch_send(p, NULL, b);
    for (size_t i = 0; i < k; i++) free(tx[i]);
}

static void on_gossip_check(uv_check_t *h)
{
    gossip_flush(h->data);
}

void ln_p2p_gossip(ln_p2p *p, uint8_t *tx, size_t len)
{
    if (p->closing || !p->seen || txbatch_push(&p->gossip, tx, len) < 0) {
        free(tx);                      /* peers get it in the block */
        return;
    }
    if (p->gossip.bytes >= GOSSIP_BYTES) gossip_flush(p);
}

/* The mempool to a peer that just came up: what was admitted while it was
** away (cut off, restarted) reaches it, whoever proposes next. The batch
** borrows the pool's bytes: the pool does not change meanwhile. */
typedef struct {
    ln_p2p *p;
    ln_peer *to;
    txbatch b;
    size_t sent;
} mempool_out;

static void mempool_out_one(const uint8_t *tx, size_t len, void *ud)
{
    mempool_out *o = ud;
    if (o->sent >= MEMPOOL_OUT_BYTES || txbatch_push(&o->b, (uint8_t *)tx, len) < 0) return;
    o->sent += len;
    if (o->b.bytes >= GOSSIP_BYTES) txbatch_send(o->p, o->to, &o->b);
}

static void mempool_to(ln_p2p *p, ln_peer *to)
{
    mempool_out o;
    memset(&o, 0, sizeof o);
    o.p = p;
    o.to = to;
    p->host.mempool(p->host.ud, mempool_out_one, &o);
    txbatch_send(p, to, &o.b);
    txbatch_free(&o.b, 0);
}

/* Transactions from a peer: each handed to the node unless seen lately. */
static void txs_in(ln_p2p *p, const ln_p2p_frame *f)
{
    for (size_t i = 0; i < f->ntxs; i++) {
        uint8_t bh[LN_HASH_LEN];
        ln_hash(f->txs[i].p, f->txs[i].n, bh);
        if (!ln_p2p_seen(p, bh)) p->host.tx(p->host.ud, f->txs[i].p, f->txs[i].n, bh);
    }
}

/* ---- sync ---------------------------------------------------------------- */

#define FORK_BACK  LN_P2P_SYNC_BLOCKS   /* a first ask for another branch: this far below its block */

/* Block `height` as a blk frame to `to` (NULL: every peer); its size, 0 if
** there is no such block. A block this node proposed goes to every peer
** once committed: that is how blocks spread under a plugin that does not
** send them itself (poa); validators that agreed on it by votes have it
** already and skip it by its height. */
static size_t block_to(ln_p2p *p, ln_peer *to, uint64_t height, int last)
{
    uint8_t *blk;
    size_t bl;
    if (!p->net || p->host.block(p->host.ud, height, &blk, &bl) < 0) return 0;
    msgpack_sbuffer sb;
    ln_p2p_frame_blk(&sb, blk, bl, p->host.height(p->host.ud), height, last);
    send_frame(p, to, &sb);
    free(blk);
    return bl;
}

static void get_from(ln_p2p *p, ln_peer *to, uint64_t from)
{
    msgpack_sbuffer sb;
    ln_p2p_frame_get(&sb, from);
    send_frame(p, to, &sb);
}

static void get_to(ln_p2p *p, ln_peer *to)
{
    get_from(p, to, p->host.height(p->host.ud) + 1);
}

static uint64_t final_of(ln_p2p *p)
{
    return p->host.final ? p->host.final(p->host.ud) : p->host.height(p->host.ud);
}

/* {t="head"}: our new head, to every peer. A validator that agreed on a
** block by votes does not send the block (its peers have it); a peer that
** missed it learns it is behind and asks (on_sync_timer). */
static void head_out(ln_p2p *p, uint64_t height)
{
    msgpack_sbuffer sb;
    ln_p2p_frame_head(&sb, height);
    send_frame(p, NULL, &sb);
}

void ln_p2p_committed(ln_p2p *p, uint64_t height, int proposed)
{
    if (!p->net || p->closing) return;
    if (proposed) block_to(p, NULL, height, 1);
    else head_out(p, height);
}

static void peer_head(ln_p2p *p, ln_peer *peer, uint64_t h)
{
    int x = addr_entry(p, ln_peer_key(peer), 1);
    if (x >= 0) p->addrs[x].head = h;
}

/* Once a second: a peer that said it is ahead of us gets a "get" when we
** have not moved for a while, whatever stopped us from following
** (a block its proposer never sent us, a decision whose block we lack). */
static void on_sync_timer(uv_timer_t *t)
{
    ln_p2p *p = t->data;
    if (!p->net || p->closing) return;
    log_flush(p);
    uint64_t height = p->host.height(p->host.ud);
    if (wall() - p->sync_asked < 0.5) return;
    /* The peers ahead are asked in turn, not the one claiming the most: a
    ** peer that lies about its head gets one ask in k. */
    ln_peer *ps[MAX_PEERS], *best = NULL;
    uint64_t top = height;
    size_t k = ln_net_peers(p->net, ps, MAX_PEERS);
    if (k > MAX_PEERS) k = MAX_PEERS;
    for (size_t j = 0; j < k && !best; j++) {
        size_t i = (p->sync_rr + j) % k;
        int x = addr_entry(p, ln_peer_key(ps[i]), 0);
        if (x >= 0 && p->addrs[x].head > height) {
            top = p->addrs[x].head;
            best = ps[i];
            p->sync_rr = i + 1;
        }
    }
    /* Behind for a while at one height: stuck, not just a moment behind
    ** a peer that committed first (consensus is on its way here too, and
    ** the block would come twice). */
    if (!best) {
        p->sync_stuck_at = UINT64_MAX;
        return;
    }
    if (p->sync_stuck_at != height) {
        p->sync_stuck_at = height;
        p->sync_ticks = 0;
        return;
    }
    /* A height under load can take over a second: ask after two seconds
    ** at one height, or one when the peer is two heights ahead. */
    if (++p->sync_ticks < 2 && top < height + 2) return;
    p->sync_asked = wall();
    get_to(p, best);
}

/* A committed block: applied when it is the next one; a block further
** ahead makes us ask that peer for what we miss (at most every 0.5 s);
** an answer's last block says whether to ask again. */
static void blk_in(ln_p2p *p, ln_peer *peer, const ln_p2p_frame *f)
{
    uint64_t their = f->h;
    peer_head(p, peer, their);
    uint64_t head = p->host.height(p->host.ud);
    /* The block's height as the frame says (a block we have is not even
    ** parsed); the node checks it against the header. */
    uint64_t height = f->n;
    uint64_t final = final_of(p);
    char why[300];
    /* Under forks (final below head), blocks from the final height up: the
    ** one at the final height is ours or on a branch we refuse. */
    if (height == head + 1 || (final < head && height >= final && height <= head)) {
        int rc = p->host.apply(p->host.ud, f->b.p, f->b.n, why, sizeof why);
        if (rc == LN_EORPHAN) {
            /* Another branch: ask for it from below, not for every block
            ** of it that comes meanwhile. Paced apart from the asks for
            ** blocks ahead: those come first, and their answer is what
            ** meets the other branch. The ask starts FORK_BACK below the
            ** block, twice as far each time the answer did not reach where
            ** the branches meet, never below our final block (which every
            ** branch holds): a fork far above a final block stalled long
            ** ago is found in a few asks, not by every block since. */
            if (wall() - p->fork_asked > 0.5) {
                p->fork_asked = wall();
                uint64_t back = p->fork_back ? p->fork_back : FORK_BACK;
                uint64_t from = height > final + back ? height - back : final;
                if (back < (UINT64_C(1) << 40)) p->fork_back = back * 2;
                get_from(p, peer, from > 1 ? from : 1);
            }
        } else if (rc < 0) {
            plog(p, LN_LOG_WARN, peer, "p2p: block from %s refused: %s", ln_peer_addr(peer), why);
            int x = addr_entry(p, ln_peer_key(peer), 1);
            if (rc == LN_ETOOBIG || rc == LN_EDEPTH) {
                /* Bytes out of proportion to a block: nobody honest sends them. */
                p->refused++;
                logf_(p, LN_LOG_WARN, "p2p: dropping %s: %s", ln_peer_addr(peer), ln_strerror(rc));
                ln_peer_drop(peer, rc);
            } else if (rc == LN_EBADBLOCK && x >= 0 && ++p->addrs[x].bad >= LN_P2P_BAD_BLOCKS) {
                p->addrs[x].bad = 0;
                logf_(p, LN_LOG_WARN, "p2p: dropping %s: %d refused blocks", ln_peer_addr(peer),
                      LN_P2P_BAD_BLOCKS);
                ln_peer_drop(peer, LN_EBADBLOCK);
            }
        } else {
            if (their > height + 1 && wall() - p->sync_log_at >= 2) {
                p->sync_log_at = wall();
                logf_(p, LN_LOG_INFO, "sync: height %llu of %llu from %s", (unsigned long long)height,
                      (unsigned long long)their, ln_peer_addr(peer));
            } else if (their == height && p->sync_log_at > 0) {
                p->sync_log_at = 0;
                logf_(p, LN_LOG_INFO, "sync: caught up at height %llu", (unsigned long long)height);
            }
            if (height == head + 1) p->fork_back = 0;    /* our chain grew: no search on */
            /* Past its last block on its own chain, from the block after
            ** it: an answer below our head is the search for where another
            ** branch meets ours, and goes on up the peer's chain (blocks we
            ** have are skipped unread). */
            if (f->last && their > height) get_from(p, peer, height + 1);
        }
    } else if (height > head + 1 && wall() - p->sync_asked > 0.5) {
        /* Behind: ask, but not for every block broadcast meanwhile. */
        p->sync_asked = wall();
        get_to(p, peer);
    }
}

/* Refills ps's bucket: LN_P2P_SYNC_RATE blocks a second, at most
** LN_P2P_SYNC_BLOCKS saved up. */
static void refill(ln_p2p *p, pstate *ps)
{
    uint64_t now = uv_now(p->loop);
    ps->tokens += (double)(now - ps->tokens_at) * LN_P2P_SYNC_RATE / 1000.0;
    if (ps->tokens > LN_P2P_SYNC_BLOCKS) ps->tokens = LN_P2P_SYNC_BLOCKS;
    ps->tokens_at = now;
}

static void on_serve(uv_timer_t *t);

/* The serve timer, in ms from now: at least 1, so that it runs in a later
** loop turn, after what the loop has to poll. */
static void serve_at(ln_p2p *p, uint64_t ms)
{
    if (p->closing) return;
    if (ms < 1) ms = 1;
    if (uv_is_active((uv_handle_t *)&p->serve_timer) &&
        uv_timer_get_due_in(&p->serve_timer) <= ms)
        return;
    uv_timer_start(&p->serve_timer, on_serve, ms, 0);
}

/* Starts the answer to a get from `from` (the blocks we have from there). */
static void answer_begin(ln_p2p *p, pstate *ps, uint64_t from)
{
    uint64_t head = p->host.height(p->host.ud);
    ps->serving = 0;
    if (from < 1 || from > head) return;
    ps->serving = 1;
    ps->from = from;
    ps->last = head - from + 1 > LN_P2P_SYNC_BLOCKS ? from + LN_P2P_SYNC_BLOCKS - 1 : head;
    ps->bytes = 0;
}

/* The answers under way, a few blocks per loop turn: SERVE_PEER_BLOCKS to
** a peer and SERVE_TURN_BLOCKS in all, peers in turn, each within its
** bucket and only while it has read what it was sent. Then consensus and
** RPC have their turn, and the timer comes back. */
static void on_serve(uv_timer_t *t)
{
    ln_p2p *p = t->data;
    if (!p->net || p->closing || !p->peers) return;
    size_t budget = SERVE_TURN_BLOCKS;
    uint64_t wait = UINT64_MAX;          /* ms until a peer that waits may go on */
    pstate *start = p->serve_rr ? p->serve_rr : p->peers, *ps = start;
    do {
        pstate *next = ps->next ? ps->next : p->peers;
        refill(p, ps);
        for (size_t k = 0; ps->serving && k < SERVE_PEER_BLOCKS && budget > 0; k++) {
            if (ps->tokens < 1) {
                uint64_t ms = (uint64_t)((1 - ps->tokens) * 1000 / LN_P2P_SYNC_RATE) + 1;
                if (ms < wait) wait = ms;
                break;
            }
            if (ln_peer_unsent(ps->peer) >= LN_P2P_SYNC_BYTES) {
                if (10 < wait) wait = 10;    /* no callback says when it has read */
                break;
            }
            uint64_t h = ps->from++;
            int last = h >= ps->last || ps->bytes > LN_P2P_SYNC_BYTES;
            ps->bytes += block_to(p, ps->peer, h, last);
            ps->tokens -= 1;
            budget--;
            if (last) {
                ps->serving = 0;
                if (ps->asked) {
                    ps->asked = 0;
                    answer_begin(p, ps, ps->ask_from);
                }
            }
        }
        if (ps->serving && ps->tokens >= 1 && ln_peer_unsent(ps->peer) < LN_P2P_SYNC_BYTES)
            wait = 0;                        /* its share of this turn is spent: the next */
        ps = next;
        if (budget == 0) break;
    } while (ps != start);
    p->serve_rr = ps;
    if (wait != UINT64_MAX) serve_at(p, wait);
}

/* A get: answered from the serve timer. One answer at a time per peer: a
** get while one is under way is kept (the latest) and answered next. */
static void get_in(ln_p2p *p, pstate *ps, const ln_p2p_frame *f)
{
    if (!f->has_from || f->from_height < 1) return;
    if (ps->serving) {
        ps->asked = 1;
        ps->ask_from = f->from_height;
        return;
    }
    answer_begin(p, ps, f->from_height);
    if (ps->serving) serve_at(p, 0);
}

/* ---- consensus ------------------------------------------------------------ */

int ln_p2p_consensus(ln_p2p *p, const char *to, const char *from, const uint8_t *m,
                     size_t len, const uint8_t *sig)
{
    if (!p->net || p->closing) return LN_ENOTFOUND;
    ln_peer *dest = NULL;
    if (to) {
        ln_peer *ps[MAX_PEERS];
        size_t k = ln_net_peers(p->net, ps, MAX_PEERS);
        if (k > MAX_PEERS) k = MAX_PEERS;
        for (size_t i = 0; i < k && !dest; i++) {
            const char *v = p->host.validator(p->host.ud, ln_peer_key(ps[i]));
            if (v && strcmp(v, to) == 0) dest = ps[i];
        }
        if (!dest) return LN_ENOTFOUND;
    }
    msgpack_sbuffer sb;
    ln_p2p_frame_consensus(&sb, from, m, len, sig);
    return send_frame(p, dest, &sb) ? 0 : LN_ENOTFOUND;
}

/* A consensus message: from the validator whose key the connection has, or
** from a validator whose signature on the message says it speaks for it
** (a node made validator after it started: see ln_p2p_consensus). A
** message that does not decode, or is out of proportion, drops the sender;
** a plugin that fails on it is logged. */
static void consensus_in(ln_p2p *p, ln_peer *peer, const ln_p2p_frame *f)
{
    const char *from = p->host.validator(p->host.ud, ln_peer_key(peer));
    if (!from && f->m.p && f->sig && f->from[0]) {
        const uint8_t *vk = p->host.validator_key(p->host.ud, f->from);
        if (vk && ln_verify(vk, f->sig, f->m.p, f->m.n) == 0) from = f->from;
    }
    if (!from || !f->m.p) return;
    char why[300];
    int rc = p->host.message(p->host.ud, from, f->m.p, f->m.n, why, sizeof why);
    if (rc == LN_EPLUGIN || rc == LN_ENOMEM) {
        plog(p, LN_LOG_WARN, peer, "consensus: %s", why);
    } else if (rc < 0) {
        p->refused++;
        plog(p, LN_LOG_WARN, peer, "p2p: dropping %s: %s", ln_peer_addr(peer), why);
        ln_peer_drop(peer, rc);
    }
}

/* ---- peers and frames ------------------------------------------------------- */

static int net_allow(void *ud, const uint8_t pk[LN_PK_LEN])
{
    ln_p2p *p = ud;
    if (p->host.allowed(p->host.ud, pk)) return 1;
    char hex[2 * LN_PK_LEN + 1];
    ln_hex(pk, LN_PK_LEN, hex);
    plog(p, LN_LOG_WARN, NULL, "p2p: refused %.16s…: not a member", hex);
    return 0;
}

void ln_p2p_recheck(ln_p2p *p)
{
    if (!p->net) return;
    /* The handshake's rule again, for those admitted under the old set. */
    ln_peer *ps[MAX_PEERS];
    size_t k = ln_net_peers(p->net, ps, MAX_PEERS);
    for (size_t i = 0; i < k && i < MAX_PEERS; i++)
        if (!net_allow(p, ln_peer_key(ps[i]))) ln_peer_drop(ps[i], LN_ENOTMEMBER);
}

static void pstate_unlink(ln_p2p *p, pstate *ps)
{
    if (p->serve_rr == ps) p->serve_rr = ps->next;
    if (ps->prev) ps->prev->next = ps->next; else p->peers = ps->next;
    if (ps->next) ps->next->prev = ps->prev;
}

static void net_peer(void *ud, ln_peer *peer, int up)
{
    ln_p2p *p = ud;
    const char *v = p->host.validator(p->host.ud, ln_peer_key(peer));
    if (up) {
        pstate *ps = calloc(1, sizeof *ps);
        if (!ps) {
            ln_peer_drop(peer, LN_ENOMEM);
            return;
        }
        ps->peer = peer;
        ps->tokens = LN_P2P_SYNC_BLOCKS;
        ps->tokens_at = uv_now(p->loop);
        ps->next = p->peers;
        if (p->peers) p->peers->prev = ps;
        p->peers = ps;
        ln_peer_set_data(peer, ps);
        plog(p, LN_LOG_INFO, peer, "p2p: peer %s up (%s)", ln_peer_addr(peer), v ? v : "member");
        int x = addr_entry(p, ln_peer_key(peer), 1);
        if (x >= 0 && ln_peer_outbound(peer)) p->addrs[x].reached = 1;
        if (!p->closing) {
            get_to(p, peer);
            addr_to(p, peer);
            mempool_to(p, peer);
        }
    } else {
        pstate *ps = ln_peer_data(peer);
        if (ps) {
            pstate_unlink(p, ps);
            free(ps);
        }
        int why = ln_peer_why(peer);
        plog(p, LN_LOG_INFO, peer, "p2p: peer %s (%s) down%s%s", ln_peer_addr(peer), v ? v : "member",
             why ? ": " : "", why ? ln_strerror(why) : "");
    }
}

static void net_frame(void *ud, ln_peer *peer, const uint8_t *m, size_t len)
{
    ln_p2p *p = ud;
    pstate *ps = ln_peer_data(peer);
    if (p->closing || !ps) return;
    p->frames++;
    /* Measured before it is built: a frame of more objects than a
    ** legitimate one of its size could hold is not decoded at all. */
    ln_shape sh;
    int rc = ln_shape_of(m, len, LN_P2P_FRAME_OBJECTS, LN_P2P_FRAME_DEPTH, &sh);
    ln_p2p_frame f;
    if (rc == 0) rc = ln_p2p_frame_decode(m, len, MAX_ADDRS, &f);
    if (rc < 0) {
        p->refused++;
        plog(p, LN_LOG_WARN, peer, "p2p: dropping %s: frame refused: %s", ln_peer_addr(peer), ln_strerror(rc));
        ln_peer_drop(peer, rc == LN_ENOMEM ? LN_ENOMEM : LN_EINVAL);
        return;
    }
    p->current = peer;
    switch (f.type) {
    case LN_P2P_CONSENSUS: consensus_in(p, peer, &f); break;
    case LN_P2P_TX:
    case LN_P2P_TXS:       txs_in(p, &f); break;
    case LN_P2P_BLK:       if (f.b.p) blk_in(p, peer, &f); break;
    case LN_P2P_HEAD:      if (f.has_h) peer_head(p, peer, f.h); break;
    case LN_P2P_ADDR:      addr_in(p, &f); break;
    case LN_P2P_GET:       get_in(p, ps, &f); break;
    default:               break;         /* unknown t: a newer peer's */
    }
    p->current = NULL;
    ln_p2p_frame_free(&f);
}

void ln_p2p_stats(const ln_p2p *p, uint64_t *frames, uint64_t *refused)
{
    *frames = p->frames;
    *refused = p->refused;
}

/* ---- lifetime --------------------------------------------------------------- */

static void maybe_done(ln_p2p *p)
{
    if (!p->closing || p->live > 0) return;
    void (*cb)(void *) = p->close_cb;
    void *ud = p->close_ud;
    txbatch_free(&p->gossip, 1);
    free(p->seen);
    free(p->logs);
    free(p);
    if (cb) cb(ud);
}

static void handle_closed(uv_handle_t *h)
{
    ln_p2p *p = h->data;
    p->live--;
    maybe_done(p);
}

static void net_closed(ln_net *net, void *ud)
{
    (void)net;
    ln_p2p *p = ud;
    p->net = NULL;
    p->live--;
    maybe_done(p);
}

int ln_p2p_start(uv_loop_t *loop, const ln_p2p_config *cfg, const ln_p2p_host *host,
                 ln_p2p **out)
{
    ln_p2p *p = calloc(1, sizeof *p);
    if (!p) return LN_ENOMEM;
    p->loop = loop;
    p->host = *host;
    memcpy(p->pk, cfg->pk, LN_PK_LEN);
    const char *addr = cfg->listen;
    /* Advertised to peers unless it names no host in particular. */
    if (addr && strncmp(addr, "0.0.0.0:", 8) != 0 && strncmp(addr, "[::]:", 5) != 0 &&
        strlen(addr) < sizeof p->self_addr)
        snprintf(p->self_addr, sizeof p->self_addr, "%s", addr);
    ln_net_config nc;
    memset(&nc, 0, sizeof nc);
    memcpy(nc.pk, cfg->pk, LN_PK_LEN);
    memcpy(nc.sk, cfg->sk, LN_SK_LEN);
    nc.chain_id = cfg->chain_id;
    nc.listen = addr;
    nc.max_frame = cfg->max_frame;
    nc.max_outbuf = 4 * cfg->max_frame;
    nc.penalty_ms = cfg->penalty_ms;
    nc.allow = net_allow;
    nc.on_peer = net_peer;
    nc.on_frame = net_frame;
    nc.ud = p;
    p->logs = calloc(LOG_SLOTS, sizeof *p->logs);
    int rc = ln_net_start(loop, &nc, &p->net);
    sodium_memzero(&nc, sizeof nc);
    if (rc < 0) {
        free(p->logs);
        free(p);
        return rc;
    }
    p->live++;                         /* until net_closed */
    p->sync_stuck_at = UINT64_MAX;
    uv_timer_init(loop, &p->sync_timer);
    p->sync_timer.data = p;
    uv_timer_start(&p->sync_timer, on_sync_timer, 1000, 1000);
    p->live++;                         /* until handle_closed */
    uv_timer_init(loop, &p->serve_timer);
    p->serve_timer.data = p;
    p->live++;                         /* until handle_closed */
    uv_check_init(loop, &p->gossip_check);
    p->gossip_check.data = p;
    p->live++;                         /* until handle_closed */
    if ((p->seen = calloc(SEEN_SLOTS, LN_HASH_LEN)))
        uv_check_start(&p->gossip_check, on_gossip_check);
    *out = p;
    return 0;
}

void ln_p2p_close(ln_p2p *p, void (*cb)(void *ud), void *ud)
{
    if (p->closing) return;
    p->closing = 1;
    p->close_cb = cb;
    p->close_ud = ud;
    p->live++;                         /* held while closing what is open */
    log_flush(p);
    uv_close((uv_handle_t *)&p->gossip_check, handle_closed);
    uv_close((uv_handle_t *)&p->sync_timer, handle_closed);
    uv_close((uv_handle_t *)&p->serve_timer, handle_closed);
    if (p->net) ln_net_close(p->net, net_closed, p);
    p->live--;
    maybe_done(p);
}
