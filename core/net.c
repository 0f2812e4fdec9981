/*
** net.c -- the P2P transport: handshake, encrypted frames, dialers, strikes.
**
** A connection (struct ln_peer) owns two handles, tcp and timer (the
** handshake deadline, then the keepalive probe of a duplicate), and is
** freed in the close callback of the second; the down callback runs there
** too. A dialer owns one timer (its redial) and at most one connection at a
** time. The net counts its open handle groups (listener, check, idle,
** connections, dialers) in `live` and is freed, after the close callback,
** when that reaches 0.
**
** Input is read into the net's shared buffer and cut into frames: 4 length
** bytes into c->hdr, then the body into c->body, which is grown only after
** the length passed the limit of the connection's state, and given back
** after a frame bigger than a read. A connection that used its share of a
** loop turn (LN_NET_TURN_FRAMES frames or LN_NET_TURN_BYTES bytes) stops
** reading; what it had read past that waits in c->stash, and the net's idle
** handle feeds it on the next turn: one peer's flood cannot keep the loop
** from timers, other peers and RPC.
*/
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "addr.h"
#include "err.h"
#include "net.h"

#define READ_CHUNK   (64u * 1024)
#define MAX_STRIKE_RECORDS 1024

enum { S_CONNECTING, S_HELLO, S_AUTH, S_HELD, S_UP };

/* Plaintext of the transport's own frames (never an application's). */
enum { CTL_PING = 0x00, CTL_PONG = 0x01 };

typedef struct dialer dialer;

struct ln_peer {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t creq;
    ln_net *net;
    dialer *d;                   /* outbound: its dialer; NULL once the net closes */
    ln_peer *prev, *next;        /* net->conns while not closing */
    ln_peer *held, *holder;      /* a duplicate held on this one; the one holding us */
    void *data;                  /* the application's */
    int nclosed, state, why;
    unsigned closing : 1, up : 1, outbound : 1, probing : 1, paused : 1;
    uint64_t born, up_at;        /* loop times: accepted or dialed; authenticated */
    unsigned turn;               /* the net's turn the counts below are of */
    size_t turn_frames, turn_bytes;
    uint8_t hello[LN_NET_HELLO_MAX];   /* ours, as sent (without the length) */
    size_t hello_len;
    uint8_t epk[crypto_kx_PUBLICKEYBYTES], esk[crypto_kx_SECRETKEYBYTES];
    uint8_t rpk[LN_PK_LEN];      /* the other's identity, from its hello */
    uint8_t th[LN_HASH_LEN];     /* transcript hash */
    uint8_t rxk[crypto_kx_SESSIONKEYBYTES], txk[crypto_kx_SESSIONKEYBYTES];
    uint64_t rxn, txn;           /* frame counters, the nonces */
    uint8_t hdr[4];
    size_t hlen;
    uint32_t flen;               /* current frame's length, once hlen == 4 */
    uint8_t *body;
    size_t blen, bcap;
    uint8_t *stash;              /* read past the turn's share, fed next turn */
    size_t stash_len, stash_off;
    char addr[64], ip[48];
};

struct dialer {
    uv_timer_t timer;
    ln_net *net;
    dialer *next;
    ln_peer *conn;               /* the current attempt or connection */
    struct sockaddr_storage ss;
    char ip[48];
    uint64_t backoff;
    uint8_t pk[LN_PK_LEN];       /* who answered last time */
    unsigned has_pk : 1, self : 1;
};

/* Strikes against an IP (before the other end proved its identity),
** against an identity (after), or against an identity claimed from an IP
** whose signature failed: shared NAT or loopback addresses must not make
** one member's misbehaviour lock out the others. Counts decay: one strike
** is forgiven every strike_decay_ms after the last. */
enum { BY_IP, BY_PK, BY_IP_PK };

typedef struct strike {
    struct strike *next;
    int by;
    char ip[48];
    uint8_t pk[LN_PK_LEN];
    int n;
    uint64_t last, until;        /* loop times: last strike or decay step; hold-off end */
} strike;

struct ln_net {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_check_t check;            /* counts loop turns */
    uv_idle_t idle;              /* feeds paused connections on the next turn */
    int listening, idling;
    unsigned turn;
    ln_net_config cfg;           /* strings point into chain_id/listen below */
    char chain_id[LN_NET_CHAIN_ID_MAX + 1];
    size_t chain_len;
    ln_peer *conns;
    dialer *dialers;
    strike *strikes;
    size_t nstrikes;
    size_t live;
    int closing;
    ln_net_close_cb close_cb;
    void *close_ud;
    char rbuf[READ_CHUNK];
};

typedef struct {
    uv_write_t w;
    ln_peer *c;
    uint8_t data[];
} wreq;

static void conn_close(ln_peer *c, int why);
static void dialer_schedule(dialer *d, int was_up);
static void conn_resume(ln_peer *c);
static void on_idle(uv_idle_t *h);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* ---- addresses and strikes ---------------------------------------------- */

static void sa_ip(const struct sockaddr_storage *ss, char *ip, size_t n, int *port)
{
    ip[0] = '\0';
    *port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        uv_ip4_name(a, ip, n);
        *port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        uv_ip6_name(a, ip, n);
        *port = ntohs(a->sin6_port);
    }
}

static strike *strike_find(const ln_net *net, int by, const char *ip, const uint8_t *pk)
{
    for (strike *s = net->strikes; s; s = s->next) {
        if (s->by != by) continue;
        if (by != BY_PK && strcmp(s->ip, ip) != 0) continue;
        if (by != BY_IP && memcmp(s->pk, pk, LN_PK_LEN) != 0) continue;
        return s;
    }
    return NULL;
}

/* The count of s now, its decay applied. */
static int strike_count(const ln_net *net, const strike *s)
{
    uint64_t now = uv_now(net->loop), decay = net->cfg.strike_decay_ms;
    uint64_t steps = now > s->last ? (now - s->last) / decay : 0;
    return steps >= (uint64_t)s->n ? 0 : s->n - (int)steps;
}

/* Records one strike: the hold-off doubles with each one not yet forgiven. */
static void strike_add(ln_net *net, int by, const char *ip, const uint8_t *pk)
{
    if (by != BY_PK && !ip[0]) return;
    uint64_t now = uv_now(net->loop);
    strike *s = strike_find(net, by, ip, pk);
    if (s) {
        s->n = strike_count(net, s);
    } else {
        if (net->nstrikes >= MAX_STRIKE_RECORDS) {   /* forget the one ending first */
            strike **victim = &net->strikes;
            for (strike **p = &net->strikes; *p; p = &(*p)->next)
                if ((*p)->until < (*victim)->until) victim = p;
            s = *victim;
            *victim = s->next;
            net->nstrikes--;
        } else if (!(s = malloc(sizeof *s))) {
            return;
        }
        memset(s, 0, sizeof *s);
        s->by = by;
        if (by != BY_PK) snprintf(s->ip, sizeof s->ip, "%s", ip);
        if (by != BY_IP) memcpy(s->pk, pk, LN_PK_LEN);
        s->next = net->strikes;
        net->strikes = s;
        net->nstrikes++;
    }
    if (s->n < 1000) s->n++;
    s->last = now;
    int shift = s->n - 1 < 6 ? s->n - 1 : 6;
    s->until = now + (net->cfg.penalty_ms << shift);
}

/* Milliseconds the target is still held off (0: none). */
static uint64_t strike_wait(const ln_net *net, int by, const char *ip, const uint8_t *pk)
{
    strike *s = strike_find(net, by, ip, pk);
    uint64_t now = uv_now(net->loop);
    return s && s->until > now ? s->until - now : 0;
}

int ln_net_strikes(const ln_net *net, const char *ip)
{
    strike *s = strike_find(net, BY_IP, ip, NULL);
    return s ? strike_count(net, s) : 0;
}

int ln_net_key_strikes(const ln_net *net, const uint8_t pk[LN_PK_LEN])
{
    strike *s = strike_find(net, BY_PK, NULL, pk);
    return s ? strike_count(net, s) : 0;
}

/* ---- the net's lifetime ------------------------------------------------- */

static void net_maybe_done(ln_net *net)
{
    if (!net->closing || net->live > 0) return;
    if (net->close_cb) net->close_cb(net, net->close_ud);
    while (net->strikes) {
        strike *s = net->strikes;
        net->strikes = s->next;
        free(s);
    }
    sodium_memzero(net->cfg.sk, sizeof net->cfg.sk);
    free(net);
}

static void on_net_handle_closed(uv_handle_t *h)
{
    ln_net *net = h->data;
    net->live--;
    net_maybe_done(net);
}

/* ---- connections -------------------------------------------------------- */

static void promote(ln_peer *c);

static void on_conn_closed(uv_handle_t *h)
{
    ln_peer *c = h->data;
    if (++c->nclosed < 2) return;
    ln_net *net = c->net;
    if (c->up && net->cfg.on_peer) net->cfg.on_peer(net->cfg.ud, c, 0);
    dialer *d = c->d;
    if (d) {
        d->conn = NULL;
        dialer_schedule(d, c->up);
    }
    ln_peer *held = c->held;
    if (held) held->holder = NULL;
    free(c->body);
    free(c->stash);
    sodium_memzero(c, sizeof *c);
    free(c);
    /* The connection a duplicate waited on is gone: the duplicate takes
    ** over, unless that identity was just struck (dropped for what it sent). */
    if (held && !held->closing && !net->closing) {
        if (strike_wait(net, BY_PK, NULL, held->rpk) > 0) conn_close(held, LN_EHELDOFF);
        else promote(held);
    }
    net->live--;
    net_maybe_done(net);
}

static void conn_close(ln_peer *c, int why)
{
    if (c->closing) return;
    c->closing = 1;
    c->why = why;
    ln_net *net = c->net;
    if (c->prev) c->prev->next = c->next; else net->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    if (c->holder) {                     /* a held duplicate gives up its claim */
        c->holder->held = NULL;
        c->holder = NULL;
    }
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

/* Closes a connection that broke the protocol, with a strike on its
** identity once the signature proved it, else on its IP (a claimed key
** could be someone else's). */
static void conn_fail(ln_peer *c, int why)
{
    if (c->closing) return;
    if (c->state == S_UP) strike_add(c->net, BY_PK, NULL, c->rpk);
    else strike_add(c->net, BY_IP, c->ip, NULL);
    conn_close(c, why);
}

static ln_peer *conn_new(ln_net *net, int outbound)
{
    ln_peer *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    if (uv_tcp_init(net->loop, &c->tcp) < 0) { free(c); return NULL; }
    uv_timer_init(net->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->net = net;
    c->outbound = outbound;
    c->born = uv_now(net->loop);
    c->next = net->conns;
    if (net->conns) net->conns->prev = c;
    net->conns = c;
    net->live++;
    return c;
}

static void on_handshake_timeout(uv_timer_t *t)
{
    ln_peer *c = t->data;
    conn_close(c, LN_EEXPIRED);
}

static void on_write(uv_write_t *w, int status)
{
    wreq *wr = (wreq *)w;
    ln_peer *c = wr->c;
    free(wr);
    if (status < 0 && !c->closing) conn_close(c, 0);
}

/* Queues one frame: the length, then p (encrypted when the session is up). */
static int conn_send(ln_peer *c, const void *p, size_t n, int encrypt)
{
    size_t wire = n + (encrypt ? LN_NET_OVERHEAD : 0);
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) + 4 + wire >
        c->net->cfg.max_outbuf) {
        conn_close(c, LN_ESLOWPEER);           /* a peer that does not read */
        return LN_ECLOSED;
    }
    wreq *w = malloc(sizeof *w + 4 + wire);
    if (!w) return LN_ENOMEM;
    w->c = c;
    w->data[0] = (uint8_t)(wire >> 24);
    w->data[1] = (uint8_t)(wire >> 16);
    w->data[2] = (uint8_t)(wire >> 8);
    w->data[3] = (uint8_t)wire;
    if (encrypt) {
        uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES] = { 0 };
        for (int i = 0; i < 8; i++) nonce[i] = (uint8_t)(c->txn >> (8 * i));
        c->txn++;
        crypto_aead_xchacha20poly1305_ietf_encrypt(w->data + 4, NULL, p, n, NULL, 0,
                                                   NULL, nonce, c->txk);
    } else if (n) {
        memcpy(w->data + 4, p, n);
    }
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)(4 + wire));
    if (uv_write(&w->w, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
        free(w);
        conn_close(c, 0);
        return LN_ECLOSED;
    }
    return 0;
}

static void send_ctl(ln_peer *c, uint8_t ctl)
{
    conn_send(c, &ctl, 1, 1);
}

/* BLAKE2b over a domain tag and both hellos, dialer's first. */
static void transcript(ln_peer *c, const uint8_t *theirs, size_t tlen)
{
    const uint8_t *dh = c->outbound ? c->hello : theirs;
    size_t dl = c->outbound ? c->hello_len : tlen;
    const uint8_t *lh = c->outbound ? theirs : c->hello;
    size_t ll = c->outbound ? tlen : c->hello_len;
    uint8_t lens[4] = { (uint8_t)(dl >> 8), (uint8_t)dl, (uint8_t)(ll >> 8), (uint8_t)ll };
    ln_hasher h;
    ln_hash_init(&h);
    ln_hash_update(&h, "lunet-net-v1", 12);
    ln_hash_update(&h, lens, sizeof lens);
    ln_hash_update(&h, dh, dl);
    ln_hash_update(&h, lh, ll);
    ln_hash_final(&h, c->th);
}

/* What a side signs: its role ('D' dialer, 'L' listener) and the transcript. */
static void auth_msg(const ln_peer *c, int dialer_role, uint8_t m[1 + LN_HASH_LEN])
{
    m[0] = dialer_role ? 'D' : 'L';
    memcpy(m + 1, c->th, LN_HASH_LEN);
}

static ln_peer *up_peer_with(ln_net *net, const uint8_t pk[LN_PK_LEN], const ln_peer *except)
{
    for (ln_peer *p = net->conns; p; p = p->next)
        if (p != except && p->up && !p->closing && sodium_memcmp(p->rpk, pk, LN_PK_LEN) == 0)
            return p;
    return NULL;
}

static void on_hello(ln_peer *c, const uint8_t *p, size_t n)
{
    ln_net *net = c->net;
    if (n < 2 + 2 * LN_PK_LEN) { conn_fail(c, LN_ETRUNC); return; }
    if (p[0] != LN_NET_VERSION) { conn_close(c, LN_EINVAL); return; }
    size_t cl = p[1];
    if (n != 2 + cl + 2 * LN_PK_LEN) { conn_fail(c, LN_ETRUNC); return; }
    if (cl != net->chain_len || memcmp(p + 2, net->chain_id, cl) != 0) {
        conn_close(c, LN_ECHAINID);
        return;
    }
    const uint8_t *pk = p + 2 + cl, *epk = pk + LN_PK_LEN;
    memcpy(c->rpk, pk, LN_PK_LEN);
    if (sodium_memcmp(pk, net->cfg.pk, LN_PK_LEN) == 0) {   /* ourselves */
        if (c->d) c->d->self = 1;
        conn_close(c, LN_ESELF);
        return;
    }
    if (c->d) {
        memcpy(c->d->pk, pk, LN_PK_LEN);
        c->d->has_pk = 1;
    }
    /* An unproven claim, but refusing it costs the true owner nothing: it is
    ** held off anyway. No strike: the IP may be shared with honest peers.
    ** Nor is the key claimed again from an IP whose signature for it
    ** failed lately: that costs no signature work here. */
    if (strike_wait(net, BY_PK, NULL, pk) > 0 ||
        (!c->outbound && strike_wait(net, BY_IP_PK, c->ip, pk) > 0)) {
        conn_close(c, LN_EHELDOFF);
        return;
    }
    if (net->cfg.allow && net->cfg.allow(net->cfg.ud, pk) != 1) {
        conn_close(c, LN_ENOTMEMBER);
        return;
    }
    if (c->closing) return;              /* allow closed the net */
    int rc = c->outbound
        ? crypto_kx_client_session_keys(c->rxk, c->txk, c->epk, c->esk, epk)
        : crypto_kx_server_session_keys(c->rxk, c->txk, c->epk, c->esk, epk);
    sodium_memzero(c->esk, sizeof c->esk);
    if (rc != 0) { conn_fail(c, LN_EBADKEY); return; }
    transcript(c, p, n);
    uint8_t m[1 + LN_HASH_LEN], sig[LN_SIG_LEN];
    auth_msg(c, c->outbound, m);
    ln_sign(net->cfg.sk, m, sizeof m, sig);
    c->state = S_AUTH;
    conn_send(c, sig, sizeof sig, 0);
}

/* The connection is the peer's: on_peer(c, 1), then its frames. */
static void promote(ln_peer *c)
{
    ln_net *net = c->net;
    uv_timer_stop(&c->timer);
    c->state = S_UP;
    c->up = 1;
    c->up_at = uv_now(net->loop);
    if (c->d) c->d->backoff = 0;
    if (net->cfg.on_peer) net->cfg.on_peer(net->cfg.ud, c, 1);
    if (!c->closing && c->paused) conn_resume(c);
}

/* A duplicate waited keepalive_ms and the connection it would replace did
** not answer: that one is dead, the duplicate takes over (promote, from
** the close callback). */
static void on_probe_timeout(uv_timer_t *t)
{
    ln_peer *c = t->data;
    if (c->state != S_HELD || !c->holder) return;
    conn_close(c->holder, LN_ETIMEDOUT);
}

static void on_auth(ln_peer *c, const uint8_t *p, size_t n)
{
    ln_net *net = c->net;
    uint8_t m[1 + LN_HASH_LEN];
    auth_msg(c, !c->outbound, m);
    if (n != LN_SIG_LEN || ln_verify(c->rpk, p, m, sizeof m) != 0) {
        /* The claimed key is not blamed, but not claimed from here again
        ** for a while either. */
        if (!c->outbound) strike_add(net, BY_IP_PK, c->ip, c->rpk);
        conn_fail(c, LN_EBADSIG);
        return;
    }
    uv_timer_stop(&c->timer);
    ln_peer *old = up_peer_with(net, c->rpk, c);
    if (!old) {
        promote(c);
        return;
    }
    /* Both ends dialed each other at once: both keep the one dialed by the
    ** smaller key, so both keep the same one. */
    const uint8_t *dn = c->outbound ? net->cfg.pk : c->rpk;
    const uint8_t *dol = old->outbound ? net->cfg.pk : old->rpk;
    int cmp = memcmp(dn, dol, LN_PK_LEN);
    if (cmp != 0 && uv_now(net->loop) - old->up_at < net->cfg.handshake_ms) {
        if (cmp > 0) { conn_close(c, LN_EEXIST); return; }
        if (old->held) conn_close(old->held, LN_EEXIST);
        conn_close(old, LN_EEXIST);
        promote(c);                      /* old's down comes from its close callback */
        return;
    }
    /* Otherwise the connection up stays up while it answers: the newcomer
    ** (a restarted peer whose old link is dead, or someone else with its
    ** key) waits, unread, for the old one's answer to a ping. */
    if (old->held) { conn_close(c, LN_EEXIST); return; }
    c->state = S_HELD;
    c->holder = old;
    old->held = c;
    old->probing = 1;
    send_ctl(old, CTL_PING);
    uv_timer_start(&c->timer, on_probe_timeout, net->cfg.keepalive_ms, 0);
}

/* A transport frame (ping, pong): 1 if it was one. */
static int on_ctl(ln_peer *c, const uint8_t *p, size_t n)
{
    if (n != 1 || (p[0] != CTL_PING && p[0] != CTL_PONG)) return 0;
    if (p[0] == CTL_PING) {
        send_ctl(c, CTL_PONG);
    } else if (c->probing) {
        c->probing = 0;
        if (c->held) conn_close(c->held, LN_EEXIST);   /* alive: the newcomer goes */
    }
    return 1;
}

static void on_frame(ln_peer *c, uint8_t *p, size_t n)
{
    switch (c->state) {
    case S_HELLO: on_hello(c, p, n); return;
    case S_AUTH:  on_auth(c, p, n); return;
    case S_UP:    break;
    default:      conn_fail(c, LN_EINVAL); return;
    }
    uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES] = { 0 };
    for (int i = 0; i < 8; i++) nonce[i] = (uint8_t)(c->rxn >> (8 * i));
    unsigned long long ml;
    if (n < LN_NET_OVERHEAD ||
        crypto_aead_xchacha20poly1305_ietf_decrypt(p, &ml, NULL, p, n, NULL, 0,
                                                   nonce, c->rxk) != 0) {
        conn_fail(c, LN_EDECRYPT);
        return;
    }
    c->rxn++;
    if (on_ctl(c, p, (size_t)ml)) return;
    ln_net *net = c->net;
    if (net->cfg.on_frame) net->cfg.on_frame(net->cfg.ud, c, p, (size_t)ml);
}

/* Stops reading c until the next loop turn (or, held, until promoted). */
static void conn_pause(ln_peer *c)
{
    if (c->paused) return;
    c->paused = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
    ln_net *net = c->net;
    if (c->state != S_HELD && !net->idling && !net->closing) {
        net->idling = 1;
        uv_idle_start(&net->idle, on_idle);
    }
}

/* Cuts p[0..n) into frames; returns how much it used: less than n when the
** connection closed, is held, or used its share of this loop turn. */
static size_t conn_feed(ln_peer *c, const uint8_t *p, size_t n)
{
    ln_net *net = c->net;
    size_t used = 0;
    if (c->turn != net->turn) {
        c->turn = net->turn;
        c->turn_frames = c->turn_bytes = 0;
    }
    while (used < n && !c->closing) {
        if (c->state == S_HELD || c->turn_frames >= LN_NET_TURN_FRAMES ||
            c->turn_bytes >= LN_NET_TURN_BYTES) {
            conn_pause(c);
            return used;
        }
        const uint8_t *q = p + used;
        size_t left = n - used;
        if (c->hlen < 4) {
            size_t take = 4 - c->hlen < left ? 4 - c->hlen : left;
            memcpy(c->hdr + c->hlen, q, take);
            c->hlen += take;
            used += take;
            if (c->hlen < 4) break;
            c->flen = (uint32_t)c->hdr[0] << 24 | (uint32_t)c->hdr[1] << 16 |
                      (uint32_t)c->hdr[2] << 8 | c->hdr[3];
            size_t limit = c->state == S_UP ? net->cfg.max_frame + LN_NET_OVERHEAD
                                            : LN_NET_HELLO_MAX;
            if (c->flen > limit) { conn_fail(c, LN_ETOOBIG); break; }
            if (c->flen > c->bcap) {
                uint8_t *b = realloc(c->body, c->flen);
                if (!b) { conn_close(c, LN_ENOMEM); break; }
                c->body = b;
                c->bcap = c->flen;
            }
            c->blen = 0;
        } else {
            size_t want = c->flen - c->blen;
            size_t take = want < left ? want : left;
            memcpy(c->body + c->blen, q, take);
            c->blen += take;
            used += take;
        }
        if (c->hlen == 4 && c->blen == c->flen) {
            c->hlen = 0;
            c->turn_frames++;
            c->turn_bytes += c->flen + 4;
            on_frame(c, c->body, c->flen);
            /* A frame bigger than a read does not keep its buffer. */
            if (c->bcap > READ_CHUNK && !c->closing) {
                free(c->body);
                c->body = NULL;
                c->bcap = 0;
            }
        }
    }
    return used;
}

/* Keeps what c read past its share for the next turn. */
static void stash_keep(ln_peer *c, const uint8_t *p, size_t n)
{
    if (c->stash) {                      /* left over from the stash itself */
        memmove(c->stash, p, n);
    } else if (!(c->stash = malloc(n))) {
        conn_close(c, LN_ENOMEM);
        return;
    } else {
        memcpy(c->stash, p, n);
    }
    c->stash_len = n;
    c->stash_off = 0;
}

/* Feeds the stash; reads again once it is used up and the turn allows. */
static void conn_resume(ln_peer *c)
{
    if (c->state == S_HELD) return;
    c->paused = 0;
    if (c->stash) {
        size_t used = conn_feed(c, c->stash + c->stash_off, c->stash_len - c->stash_off);
        if (c->closing) return;
        c->stash_off += used;
        if (c->stash_off < c->stash_len) return;       /* paused again */
        free(c->stash);
        c->stash = NULL;
        c->stash_len = c->stash_off = 0;
    }
    if (c->paused) return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) conn_close(c, 0);
}

static void on_idle(uv_idle_t *h)
{
    ln_net *net = h->data;
    int again = 0;
    for (ln_peer *c = net->conns, *next; c; c = next) {
        next = c->next;
        if (c->paused && c->state != S_HELD) conn_resume(c);
        /* resuming may close c or others; restart the walk's link safely */
        if (next && next->closing) next = NULL;
    }
    for (ln_peer *c = net->conns; c; c = c->next)
        if (c->paused && c->state != S_HELD) again = 1;
    if (!again) {
        net->idling = 0;
        uv_idle_stop(h);
    }
}

static void on_check(uv_check_t *h)
{
    ln_net *net = h->data;
    net->turn++;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    ln_peer *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->net->rbuf, sizeof c->net->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    ln_peer *c = s->data;
    if (nread == 0 || c->closing) return;
    if (nread < 0) { conn_close(c, 0); return; }
    size_t used = conn_feed(c, (const uint8_t *)buf->base, (size_t)nread);
    if (!c->closing && used < (size_t)nread)
        stash_keep(c, (const uint8_t *)buf->base + used, (size_t)nread - used);
}

/* Fills c->ip and c->addr from the socket. */
static void conn_addr(ln_peer *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss, port = 0;
    memset(&ss, 0, sizeof ss);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        sa_ip(&ss, c->ip, sizeof c->ip, &port);
    snprintf(c->addr, sizeof c->addr, ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d",
             c->ip, port);
}

/* Sends our hello and starts reading: the connection is established. */
static void conn_begin(ln_peer *c)
{
    ln_net *net = c->net;
    conn_addr(c);
    uv_tcp_nodelay(&c->tcp, 1);
    crypto_kx_keypair(c->epk, c->esk);
    uint8_t *h = c->hello;
    h[0] = LN_NET_VERSION;
    h[1] = (uint8_t)net->chain_len;
    memcpy(h + 2, net->chain_id, net->chain_len);
    memcpy(h + 2 + net->chain_len, net->cfg.pk, LN_PK_LEN);
    memcpy(h + 2 + net->chain_len + LN_PK_LEN, c->epk, LN_PK_LEN);
    c->hello_len = 2 + net->chain_len + 2 * LN_PK_LEN;
    c->state = S_HELLO;
    if (conn_send(c, c->hello, c->hello_len, 0) < 0) return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) conn_close(c, 0);
}

/* Room for one more inbound handshake from c's IP: past the cap, the
** oldest of them goes (a slow handshake holds no place an honest one
** needs). An IP held off by strikes gets fewer and shorter ones. */
static void preauth_room(ln_net *net, ln_peer *c, int held)
{
    size_t cap = held ? LN_NET_PREAUTH_HELD : LN_NET_PREAUTH_PER_IP, k = 0, all = 0;
    ln_peer *oldest = NULL, *oldest_all = NULL;
    for (ln_peer *p = net->conns; p; p = p->next) {
        if (p == c || p->outbound || p->state == S_UP || p->state == S_HELD) continue;
        all++;
        if (!oldest_all || p->born < oldest_all->born) oldest_all = p;
        if (strcmp(p->ip, c->ip) != 0) continue;
        k++;
        if (!oldest || p->born < oldest->born) oldest = p;
    }
    if (k >= cap && oldest) conn_close(oldest, LN_EHELDOFF);
    else if (all >= LN_NET_PREAUTH_MAX && oldest_all) conn_close(oldest_all, LN_EHELDOFF);
}

static void on_connection(uv_stream_t *l, int status)
{
    ln_net *net = l->data;
    if (status < 0 || net->closing) return;
    ln_peer *c = conn_new(net, 0);
    if (!c) return;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) < 0) { conn_close(c, 0); return; }
    conn_addr(c);
    int held = strike_wait(net, BY_IP, c->ip, NULL) > 0;
    preauth_room(net, c, held);
    uint64_t ms = held && net->cfg.handshake_ms > LN_NET_HELD_HANDSHAKE_MS
                ? LN_NET_HELD_HANDSHAKE_MS : net->cfg.handshake_ms;
    uv_timer_start(&c->timer, on_handshake_timeout, ms, 0);
    conn_begin(c);
}

/* ---- dialers ------------------------------------------------------------ */

static void on_connect(uv_connect_t *r, int status)
{
    ln_peer *c = r->data;
    if (c->closing) return;
    if (status < 0) { conn_close(c, 0); return; }
    conn_begin(c);
}

static void on_dial_timer(uv_timer_t *t)
{
    dialer *d = t->data;
    ln_net *net = d->net;
    if (net->closing || d->conn || d->self) return;
    if (d->has_pk && up_peer_with(net, d->pk, NULL)) {   /* covered by an inbound peer */
        uv_timer_start(&d->timer, on_dial_timer, net->cfg.backoff_max_ms, 0);
        return;
    }
    uint64_t held = d->has_pk ? strike_wait(net, BY_PK, NULL, d->pk) : 0;
    if (held > 0) {                      /* struck since this timer was set */
        uv_timer_start(&d->timer, on_dial_timer, held, 0);
        return;
    }
    ln_peer *c = conn_new(net, 1);
    if (!c) { dialer_schedule(d, 0); return; }
    c->d = d;
    d->conn = c;
    c->creq.data = c;
    snprintf(c->ip, sizeof c->ip, "%s", d->ip);
    uv_timer_start(&c->timer, on_handshake_timeout, net->cfg.handshake_ms, 0);
    if (uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&d->ss, on_connect) < 0)
        conn_close(c, 0);                 /* its close callback schedules the retry */
}

/* After a connection ended: redial after the backoff, or the hold-off of
** the identity that answered last, whichever ends later. Strikes against
** the address's IP do not delay it: others behind that IP may have earned
** them, and a dial is ours, not theirs. */
static void dialer_schedule(dialer *d, int was_up)
{
    ln_net *net = d->net;
    if (net->closing || d->self) return;
    if (was_up || d->backoff == 0) d->backoff = net->cfg.backoff_min_ms;
    else if ((d->backoff *= 2) > net->cfg.backoff_max_ms) d->backoff = net->cfg.backoff_max_ms;
    uint64_t wait = d->backoff;
    uint64_t held = d->has_pk ? strike_wait(net, BY_PK, NULL, d->pk) : 0;   /* whoever answered last */
    if (held > wait) wait = held;
    uv_timer_start(&d->timer, on_dial_timer, wait, 0);
}

static void on_dialer_closed(uv_handle_t *h)
{
    dialer *d = h->data;
    ln_net *net = d->net;
    free(d);
    net->live--;
    net_maybe_done(net);
}

int ln_net_connect(ln_net *net, const char *addr)
{
    if (net->closing) return LN_ECLOSED;
    struct sockaddr_storage ss;
    int rc = ln_addr_parse(addr, &ss), port;
    if (rc < 0) return rc;
    dialer *d = calloc(1, sizeof *d);
    if (!d) return LN_ENOMEM;
    d->net = net;
    d->ss = ss;
    sa_ip(&ss, d->ip, sizeof d->ip, &port);
    uv_timer_init(net->loop, &d->timer);
    d->timer.data = d;
    d->next = net->dialers;
    net->dialers = d;
    net->live++;
    on_dial_timer(&d->timer);
    return 0;
}

/* ---- the net ------------------------------------------------------------ */

static void on_failed_listener_closed(uv_handle_t *h)
{
    ln_net *net = h->data;
    sodium_memzero(net->cfg.sk, sizeof net->cfg.sk);
    free(net);
}

int ln_net_start(uv_loop_t *loop, const ln_net_config *cfg, ln_net **out)
{
    if (!cfg->chain_id) return LN_EINVAL;
    size_t cl = strlen(cfg->chain_id);
    if (cl == 0 || cl > LN_NET_CHAIN_ID_MAX) return LN_EINVAL;
    uint8_t pk[LN_PK_LEN];
    crypto_sign_ed25519_sk_to_pk(pk, cfg->sk);
    if (sodium_memcmp(pk, cfg->pk, LN_PK_LEN) != 0) return LN_EBADKEY;
    struct sockaddr_storage ss;
    if (cfg->listen) {
        int rc = ln_addr_parse(cfg->listen, &ss);
        if (rc < 0) return rc;
    }
    ln_net *net = calloc(1, sizeof *net);
    if (!net) return LN_ENOMEM;
    net->loop = loop;
    net->cfg = *cfg;
    memcpy(net->chain_id, cfg->chain_id, cl + 1);
    net->chain_len = cl;
    net->cfg.chain_id = net->chain_id;
    net->cfg.listen = NULL;
    if (!net->cfg.max_frame) net->cfg.max_frame = LN_NET_MAX_FRAME;
    if (net->cfg.max_frame > UINT32_MAX - LN_NET_OVERHEAD) net->cfg.max_frame = UINT32_MAX - LN_NET_OVERHEAD;
    if (!net->cfg.max_outbuf) net->cfg.max_outbuf = LN_NET_MAX_OUTBUF;
    if (net->cfg.max_outbuf < net->cfg.max_frame + LN_NET_OVERHEAD + 4)
        net->cfg.max_outbuf = net->cfg.max_frame + LN_NET_OVERHEAD + 4;
    if (!net->cfg.handshake_ms) net->cfg.handshake_ms = LN_NET_HANDSHAKE_MS;
    if (!net->cfg.backoff_min_ms) net->cfg.backoff_min_ms = LN_NET_BACKOFF_MIN_MS;
    if (!net->cfg.backoff_max_ms) net->cfg.backoff_max_ms = LN_NET_BACKOFF_MAX_MS;
    if (!net->cfg.penalty_ms) net->cfg.penalty_ms = LN_NET_PENALTY_MS;
    if (!net->cfg.strike_decay_ms) net->cfg.strike_decay_ms = LN_NET_STRIKE_DECAY_MS;
    if (!net->cfg.keepalive_ms) net->cfg.keepalive_ms = LN_NET_KEEPALIVE_MS;
    if (cfg->listen) {
        int rc = uv_tcp_init(loop, &net->listener);
        if (rc < 0) { free(net); return ln_addr_uverr(rc); }
        net->listener.data = net;
        if ((rc = uv_tcp_bind(&net->listener, (const struct sockaddr *)&ss, 0)) < 0 ||
            (rc = uv_listen((uv_stream_t *)&net->listener, 511, on_connection)) < 0) {
            uv_close((uv_handle_t *)&net->listener, on_failed_listener_closed);
            return ln_addr_uverr(rc);
        }
        net->listening = 1;
        net->live++;
    }
    uv_check_init(loop, &net->check);
    net->check.data = net;
    uv_check_start(&net->check, on_check);
    uv_unref((uv_handle_t *)&net->check);     /* counting turns keeps no loop alive */
    uv_idle_init(loop, &net->idle);
    net->idle.data = net;
    net->live += 2;
    signal(SIGPIPE, SIG_IGN);
    *out = net;
    return 0;
}

int ln_net_port(const ln_net *net)
{
    if (!net->listening) return 0;
    struct sockaddr_storage ss;
    int len = sizeof ss, port;
    char ip[48];
    if (uv_tcp_getsockname(&net->listener, (struct sockaddr *)&ss, &len) < 0) return 0;
    sa_ip(&ss, ip, sizeof ip, &port);
    return port;
}

size_t ln_net_peers(const ln_net *net, ln_peer **out, size_t cap)
{
    size_t n = 0;
    for (ln_peer *p = net->conns; p; p = p->next) {
        if (!p->up || p->closing) continue;
        if (n < cap) out[n] = p;
        n++;
    }
    return n;
}

void ln_net_close(ln_net *net, ln_net_close_cb cb, void *ud)
{
    if (net->closing) return;
    net->closing = 1;
    net->close_cb = cb;
    net->close_ud = ud;
    net->live++;                         /* held while closing, so no early free */
    for (dialer *d = net->dialers; d; d = d->next) {
        if (d->conn) d->conn->d = NULL;
        d->conn = NULL;
    }
    while (net->conns) conn_close(net->conns, 0);
    while (net->dialers) {
        dialer *d = net->dialers;
        net->dialers = d->next;
        uv_close((uv_handle_t *)&d->timer, on_dialer_closed);
    }
    if (net->listening) uv_close((uv_handle_t *)&net->listener, on_net_handle_closed);
    uv_close((uv_handle_t *)&net->check, on_net_handle_closed);
    uv_close((uv_handle_t *)&net->idle, on_net_handle_closed);
    net->live--;
    net_maybe_done(net);
}

/* ---- peers -------------------------------------------------------------- */

int ln_peer_send(ln_peer *peer, const void *msg, size_t len)
{
    if (len > peer->net->cfg.max_frame) return LN_ETOOBIG;
    if (len == 1 && (((const uint8_t *)msg)[0] == CTL_PING || ((const uint8_t *)msg)[0] == CTL_PONG))
        return LN_EINVAL;                /* the transport's own */
    if (peer->closing || !peer->up) return LN_ECLOSED;
    return conn_send(peer, msg, len, 1);
}

size_t ln_peer_unsent(const ln_peer *peer)
{
    return peer->closing ? 0 : uv_stream_get_write_queue_size((const uv_stream_t *)&peer->tcp);
}

const uint8_t *ln_peer_key(const ln_peer *peer) { return peer->rpk; }
const char *ln_peer_addr(const ln_peer *peer) { return peer->addr; }
int ln_peer_outbound(const ln_peer *peer) { return peer->outbound; }
int ln_peer_why(const ln_peer *peer) { return peer->why; }
void *ln_peer_data(const ln_peer *peer) { return peer->data; }
void ln_peer_set_data(ln_peer *peer, void *data) { peer->data = data; }

void ln_peer_drop(ln_peer *peer, int why)
{
    if (peer->closing) return;
    /* The application judged what the peer sent: hold off that identity.
    ** A member taken off the list did nothing wrong (allow() refuses it
    ** from now on, and lets it in again once it is re-admitted). */
    if (why != 0 && why != LN_ENOTMEMBER && peer->state == S_UP)
        strike_add(peer->net, BY_PK, NULL, peer->rpk);
    conn_close(peer, why);
}
