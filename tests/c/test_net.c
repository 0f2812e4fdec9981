/* test_net.c -- the P2P transport over real loopback sockets.
**
** Each test runs nets in its own loop on 127.0.0.1:<free port>. A test is a
** small state machine: every callback (peer up/down, frame, a raw client
** finishing) counts, then calls the test's step(), which moves it on and, at
** the end, closes every net. After uv_run the test checks the counts, that
** every up had its down and every net its close callback, and that
** uv_loop_close() returns 0. A watchdog fails a test that does not finish in
** 10 s, saying what it was waiting for.
**
** The raw client (a thread with a blocking socket) speaks the wire protocol
** itself, so tests can send what a well-behaved net never would: garbage, a
** wrong chain_id, an oversized length, a tampered or replayed frame. */
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <sodium.h>
#include <uv.h>

#include "test.h"
#include "err.h"
#include "crypto.h"
#include "net.h"

#define CHAIN "lunet-test"
#define MAXF 8

/* ---- fixture ------------------------------------------------------------ */

typedef struct fixture fixture;

typedef struct {
    fixture *f;
    ln_net *net;
    int started, closed, refuse;
    int refuse_first;            /* allow refuses this many first, then accepts */
    int count_only;              /* frames are counted, not kept */
    ln_net_frame_cb on_frame;    /* NULL: cb_frame */
    uint8_t pk[LN_PK_LEN], sk[LN_SK_LEN];
    int ups, downs, allows, why;
    ln_peer *peer;               /* the last peer up, while up */
    uint8_t *frame[MAXF];
    size_t flen[MAXF];
    int frames;
} node;

struct fixture {
    uv_loop_t loop;
    uv_timer_t watchdog;
    uv_async_t done;
    int async_used, client_done, shut, phase, port;
    uint64_t penalty_ms;         /* for nets started from here on; 0: the default */
    uint64_t decay_ms, keepalive_ms;   /* likewise */
    uint64_t t_drop;             /* loop time of a test's ln_peer_drop */
    uv_thread_t thread;
    void (*client)(fixture *f);
    void (*step)(fixture *f);
    const char *waiting_for;
    node n[4];
    /* raw client results (written by the thread, read after the join or the async) */
    int c_handshake, c_eof, c_err;
};

static void on_watchdog(uv_timer_t *t)
{
    fixture *f = t->data;
    LN_FAIL("no result in 10 s: %s", f->waiting_for ? f->waiting_for : "?");
}

static int cb_allow(void *ud, const uint8_t pk[LN_PK_LEN])
{
    node *n = ud;
    (void)pk;
    n->allows++;
    if (n->refuse_first > 0) {
        n->refuse_first--;
        return 0;
    }
    return !n->refuse;
}

static void cb_peer(void *ud, ln_peer *p, int up)
{
    node *n = ud;
    if (up) {
        n->ups++;
        n->peer = p;
    } else {
        n->downs++;
        n->why = ln_peer_why(p);
        if (n->peer == p) n->peer = NULL;
    }
    n->f->step(n->f);
}

static void cb_frame(void *ud, ln_peer *p, const uint8_t *msg, size_t len)
{
    node *n = ud;
    (void)p;
    if (n->count_only) {
        n->frames++;
        n->f->step(n->f);
        return;
    }
    ASSERT(n->frames < MAXF);
    n->frame[n->frames] = malloc(len ? len : 1);
    ASSERT(n->frame[n->frames]);
    if (len) memcpy(n->frame[n->frames], msg, len);
    n->flen[n->frames] = len;
    n->frames++;
    n->f->step(n->f);
}

static void cb_closed(ln_net *net, void *ud)
{
    node *n = ud;
    (void)net;
    n->closed++;
    n->net = NULL;
}

static void keys_for(int i, uint8_t pk[LN_PK_LEN], uint8_t sk[LN_SK_LEN])
{
    uint8_t seed[LN_SEED_LEN];
    memset(seed, 0x40 + i, sizeof seed);
    ln_keypair_seed(seed, pk, sk);
}

/* Starts node i (keys from seed i); listen may be NULL. */
static void node_start(fixture *f, int i, int key, const char *listen, const char *chain,
                       size_t max_frame)
{
    node *n = &f->n[i];
    n->f = f;
    keys_for(key, n->pk, n->sk);
    ln_net_config cfg;
    memset(&cfg, 0, sizeof cfg);
    memcpy(cfg.pk, n->pk, LN_PK_LEN);
    memcpy(cfg.sk, n->sk, LN_SK_LEN);
    cfg.chain_id = chain ? chain : CHAIN;
    cfg.listen = listen;
    cfg.max_frame = max_frame;
    cfg.handshake_ms = 2000;
    cfg.penalty_ms = f->penalty_ms;
    cfg.strike_decay_ms = f->decay_ms;
    cfg.keepalive_ms = f->keepalive_ms;
    cfg.allow = cb_allow;
    cfg.on_peer = cb_peer;
    cfg.on_frame = n->on_frame ? n->on_frame : cb_frame;
    cfg.ud = n;
    ASSERT_EQ(ln_net_start(&f->loop, &cfg, &n->net), 0);
    n->started++;
}

static void node_close(node *n)
{
    if (n->net) ln_net_close(n->net, cb_closed, n);
}

static void shutdown_all(fixture *f)
{
    if (f->shut) return;
    f->shut = 1;
    uv_close((uv_handle_t *)&f->watchdog, NULL);
    for (int i = 0; i < 4; i++) node_close(&f->n[i]);
}

static void on_client_done(uv_async_t *a)
{
    fixture *f = a->data;
    f->client_done = 1;
    uv_close((uv_handle_t *)&f->done, NULL);
    f->step(f);
}

static void client_main(void *arg)
{
    fixture *f = arg;
    f->client(f);
    uv_async_send(&f->done);
}

static void fx_init(fixture *f)
{
    memset(f, 0, sizeof *f);
    ASSERT_EQ(ln_crypto_init(), 0);
    ASSERT_EQ(uv_loop_init(&f->loop), 0);
    uv_timer_init(&f->loop, &f->watchdog);
    f->watchdog.data = f;
    uv_timer_start(&f->watchdog, on_watchdog, 10000, 0);
}

/* Starts the raw client thread (after the listener is up). */
static void fx_client(fixture *f, void (*client)(fixture *f))
{
    f->client = client;
    f->async_used = 1;
    ASSERT_EQ(uv_async_init(&f->loop, &f->done, on_client_done), 0);
    f->done.data = f;
    ASSERT_EQ(uv_thread_create(&f->thread, client_main, f), 0);
}

static void fx_run(fixture *f)
{
    uv_run(&f->loop, UV_RUN_DEFAULT);
    if (f->async_used) ASSERT_EQ(uv_thread_join(&f->thread), 0);
    for (int i = 0; i < 4; i++) {
        node *n = &f->n[i];
        ASSERT_EQ(n->closed, n->started);
        ASSERT_EQ(n->downs, n->ups);
    }
    ASSERT_EQ(uv_loop_close(&f->loop), 0);
}

static void fx_free(fixture *f)
{
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < f->n[i].frames; j++) free(f->n[i].frame[j]);
}

static char *addr_of(fixture *f, int i, char *buf, size_t n)
{
    snprintf(buf, n, "127.0.0.1:%d", ln_net_port(f->n[i].net));
    return buf;
}

/* ---- raw client: the wire protocol, spelled out ------------------------- */

typedef struct {
    int fd;
    uint8_t hello[LN_NET_HELLO_MAX];
    size_t hello_len;
    uint8_t rx[crypto_kx_SESSIONKEYBYTES], tx[crypto_kx_SESSIONKEYBYTES];
    uint64_t txn, rxn;
} raw;

static int raw_open(raw *r, int port)
{
    memset(r, 0, sizeof *r);
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (r->fd < 0) return -1;
    struct timeval tv = { 5, 0 };
    setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return connect(r->fd, (struct sockaddr *)&a, sizeof a);
}

static void raw_write(raw *r, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = send(r->fd, b, n, MSG_NOSIGNAL);
        if (w <= 0) return;              /* the net may have closed: the test checks */
        b += w;
        n -= (size_t)w;
    }
}

static void raw_frame(raw *r, const void *p, size_t n)
{
    uint8_t h[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };
    raw_write(r, h, 4);
    raw_write(r, p, n);
}

/* 1 read, 0 EOF or reset, -1 timeout. */
static int raw_read(raw *r, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t got = recv(r->fd, p, n, 0);
        if (got == 0 || (got < 0 && errno == ECONNRESET)) return 0;
        if (got < 0) return -1;
        p += got;
        n -= (size_t)got;
    }
    return 1;
}

/* One frame into p (cap bytes); its length, 0 on EOF, -1 on timeout or too big. */
static long raw_read_frame(raw *r, uint8_t *p, size_t cap)
{
    uint8_t h[4];
    int rc = raw_read(r, h, 4);
    if (rc <= 0) return rc;
    size_t n = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
    if (n > cap) return -1;
    rc = raw_read(r, p, n);
    return rc <= 0 ? rc : (long)n;
}

/* Waits for the net to close the connection: 1 if it did within 5 s. */
static int raw_wait_eof(raw *r)
{
    uint8_t b[256];
    for (;;) {
        ssize_t got = recv(r->fd, b, sizeof b, 0);
        if (got == 0 || (got < 0 && errno == ECONNRESET)) return 1;
        if (got < 0) return 0;
    }
}

static void raw_hello(raw *r, int key, const char *chain, uint8_t esk[crypto_kx_SECRETKEYBYTES])
{
    uint8_t pk[LN_PK_LEN], sk[LN_SK_LEN], epk[crypto_kx_PUBLICKEYBYTES];
    keys_for(key, pk, sk);
    crypto_kx_keypair(epk, esk);
    size_t cl = strlen(chain);
    r->hello[0] = LN_NET_VERSION;
    r->hello[1] = (uint8_t)cl;
    memcpy(r->hello + 2, chain, cl);
    memcpy(r->hello + 2 + cl, pk, LN_PK_LEN);
    memcpy(r->hello + 2 + cl + LN_PK_LEN, epk, LN_PK_LEN);
    r->hello_len = 2 + cl + 2 * LN_PK_LEN;
    raw_frame(r, r->hello, r->hello_len);
}

/* The dialer's side of the handshake with identity `key`, signing with
** `signer`'s key (the same, unless a test lies). 1 when done. */
static int raw_handshake_as(raw *r, int key, int signer)
{
    uint8_t pk[LN_PK_LEN], sk[LN_SK_LEN], esk[crypto_kx_SECRETKEYBYTES];
    keys_for(signer, pk, sk);
    raw_hello(r, key, CHAIN, esk);
    uint8_t theirs[LN_NET_HELLO_MAX];
    long tl = raw_read_frame(r, theirs, sizeof theirs);
    if (tl != (long)(2 + strlen(CHAIN) + 2 * LN_PK_LEN)) return 0;
    const uint8_t *lpk = theirs + 2 + strlen(CHAIN), *lepk = lpk + LN_PK_LEN;
    uint8_t epk[crypto_kx_PUBLICKEYBYTES];
    memcpy(epk, r->hello + 2 + strlen(CHAIN) + LN_PK_LEN, sizeof epk);
    if (crypto_kx_client_session_keys(r->rx, r->tx, epk, esk, lepk) != 0) return 0;
    uint8_t lens[4] = { (uint8_t)(r->hello_len >> 8), (uint8_t)r->hello_len,
                        (uint8_t)(tl >> 8), (uint8_t)tl };
    uint8_t m[1 + LN_HASH_LEN], sig[LN_SIG_LEN];
    ln_hasher h;
    ln_hash_init(&h);
    ln_hash_update(&h, "lunet-net-v1", 12);
    ln_hash_update(&h, lens, 4);
    ln_hash_update(&h, r->hello, r->hello_len);
    ln_hash_update(&h, theirs, (size_t)tl);
    ln_hash_final(&h, m + 1);
    m[0] = 'D';
    ln_sign(sk, m, sizeof m, sig);
    raw_frame(r, sig, sizeof sig);
    if (raw_read_frame(r, sig, sizeof sig) != LN_SIG_LEN) return 0;
    m[0] = 'L';
    return ln_verify(lpk, sig, m, sizeof m) == 0;
}

static int raw_handshake(raw *r, int key) { return raw_handshake_as(r, key, key); }

/* Encrypts msg as the next frame into out (4 + len + 16 bytes). */
static size_t raw_seal(raw *r, const void *msg, size_t len, uint8_t *out)
{
    size_t wire = len + LN_NET_OVERHEAD;
    out[0] = (uint8_t)(wire >> 24); out[1] = (uint8_t)(wire >> 16);
    out[2] = (uint8_t)(wire >> 8);  out[3] = (uint8_t)wire;
    uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES] = { 0 };
    for (int i = 0; i < 8; i++) nonce[i] = (uint8_t)(r->txn >> (8 * i));
    r->txn++;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + 4, NULL, msg, len, NULL, 0, NULL,
                                               nonce, r->tx);
    return 4 + wire;
}

/* Reads the next frame and decrypts it into out (cap bytes); its length, or
** -1 (EOF, timeout, too big, does not decrypt). */
static long raw_open_frame(raw *r, uint8_t *out, size_t cap)
{
    uint8_t buf[4096];
    long n = raw_read_frame(r, buf, sizeof buf);
    if (n < LN_NET_OVERHEAD || (size_t)n - LN_NET_OVERHEAD > cap) return -1;
    uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES] = { 0 };
    for (int i = 0; i < 8; i++) nonce[i] = (uint8_t)(r->rxn >> (8 * i));
    r->rxn++;
    unsigned long long ml;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &ml, NULL, buf, (size_t)n, NULL, 0,
                                                   nonce, r->rx) != 0)
        return -1;
    return (long)ml;
}

/* ---- two nets ----------------------------------------------------------- */

static void step_exchange(fixture *f)
{
    node *a = &f->n[0], *b = &f->n[1];
    if (f->phase == 0 && a->ups == 1 && b->ups == 1) {
        f->phase = 1;
        ASSERT_MEM(ln_peer_key(a->peer), b->pk, LN_PK_LEN);
        ASSERT_MEM(ln_peer_key(b->peer), a->pk, LN_PK_LEN);
        ASSERT_EQ(ln_peer_outbound(b->peer), 1);
        ASSERT_EQ(ln_peer_outbound(a->peer), 0);
        ASSERT_EQ(ln_net_peers(a->net, NULL, 0), 1);
        const char *am[] = { "a0", "a-one", "" }, *bm[] = { "b0", "b-one", "b-two!" };
        for (int i = 0; i < 3; i++) {
            ASSERT_EQ(ln_peer_send(a->peer, am[i], strlen(am[i])), 0);
            ASSERT_EQ(ln_peer_send(b->peer, bm[i], strlen(bm[i])), 0);
        }
        f->waiting_for = "three frames each way";
    }
    if (f->phase == 1 && a->frames == 3 && b->frames == 3) {
        f->phase = 2;
        shutdown_all(f);
    }
}

TEST(net_handshake_then_frames_both_ways_in_order)
{
    fixture f;
    fx_init(&f);
    f.step = step_exchange;
    f.waiting_for = "both ends up";
    char addr[64];
    node_start(&f, 0, 0, "127.0.0.1:0", NULL, 0);
    node_start(&f, 1, 1, NULL, NULL, 0);
    ASSERT_EQ(ln_net_connect(f.n[1].net, addr_of(&f, 0, addr, sizeof addr)), 0);
    fx_run(&f);
    const char *am[] = { "a0", "a-one", "" }, *bm[] = { "b0", "b-one", "b-two!" };
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(f.n[1].flen[i], strlen(am[i]));
        ASSERT_MEM(f.n[1].frame[i], am[i], strlen(am[i]));
        ASSERT_EQ(f.n[0].flen[i], strlen(bm[i]));
        ASSERT_MEM(f.n[0].frame[i], bm[i], strlen(bm[i]));
    }
    ASSERT_EQ(f.n[0].ups, 1);
    ASSERT_EQ(f.n[1].ups, 1);
    ASSERT_EQ(f.n[0].allows, 1);
    ASSERT_EQ(f.n[1].allows, 1);
    fx_free(&f);
}

#define BIG (1u << 20)

static void step_big(fixture *f)
{
    node *a = &f->n[0], *b = &f->n[1];
    if (f->phase == 0 && a->ups == 1 && b->ups == 1) {
        f->phase = 1;
        uint8_t *m = malloc(BIG);
        ASSERT(m);
        for (size_t i = 0; i < BIG; i++) m[i] = (uint8_t)(i * 7 + (i >> 11));
        ASSERT_EQ(ln_peer_send(b->peer, m, BIG), 0);
        free(m);
        f->waiting_for = "the 1 MiB frame";
    }
    if (f->phase == 1 && a->frames == 1) {
        f->phase = 2;
        shutdown_all(f);
    }
}

TEST(net_one_mib_frame_arrives_whole)
{
    fixture f;
    fx_init(&f);
    f.step = step_big;
    f.waiting_for = "both ends up";
    char addr[64];
    node_start(&f, 0, 0, "127.0.0.1:0", NULL, BIG);
    node_start(&f, 1, 1, NULL, NULL, BIG);
    ASSERT_EQ(ln_net_connect(f.n[1].net, addr_of(&f, 0, addr, sizeof addr)), 0);
    fx_run(&f);
    ASSERT_EQ(f.n[0].frames, 1);
    ASSERT_EQ(f.n[0].flen[0], BIG);
    for (size_t i = 0; i < BIG; i++)
        if (f.n[0].frame[0][i] != (uint8_t)(i * 7 + (i >> 11)))
            LN_FAIL("byte %zu differs", i);
    fx_free(&f);
}

static void step_toobig(fixture *f)
{
    node *a = &f->n[0], *b = &f->n[1];
    if (f->phase == 0 && a->ups == 1 && b->ups == 1) {
        f->phase = 1;
        static uint8_t m[1025];
        ASSERT_EQ(ln_peer_send(b->peer, m, sizeof m), LN_ETOOBIG);
        ASSERT_EQ(ln_peer_send(b->peer, m, sizeof m - 1), 0);
        f->waiting_for = "the 1024-byte frame";
    }
    if (f->phase == 1 && a->frames == 1) {
        f->phase = 2;
        ASSERT_EQ(a->downs, 0);          /* the refused send did not hurt the peer */
        shutdown_all(f);
    }
}

TEST(net_send_over_max_frame_returns_etoobig)
{
    fixture f;
    fx_init(&f);
    f.step = step_toobig;
    f.waiting_for = "both ends up";
    char addr[64];
    node_start(&f, 0, 0, "127.0.0.1:0", NULL, 1024);
    node_start(&f, 1, 1, NULL, NULL, 1024);
    ASSERT_EQ(ln_net_connect(f.n[1].net, addr_of(&f, 0, addr, sizeof addr)), 0);
    fx_run(&f);
    ASSERT_EQ(f.n[0].flen[0], 1024);
    fx_free(&f);
}

static void step_refused(fixture *f)
{
    node *a = &f->n[0], *b = &f->n[1];
    if (a->ups || b->ups) LN_FAIL("a refused identity came up (a %d, b %d)", a->ups, b->ups);
}

static void on_refused_poll(uv_timer_t *t)
{
    fixture *f = t->data;
    if (f->n[0].allows >= 2) {           /* refused, redialed, refused again */
        uv_close((uv_handle_t *)t, NULL);
        shutdown_all(f);
    }
}

TEST(net_non_member_refused_at_handshake)
{
    fixture f;
    fx_init(&f);
    f.step = step_refused;
    f.waiting_for = "the listener to refuse the dialer twice";
    char addr[64];
    node_start(&f, 0, 0, "127.0.0.1:0", NULL, 0);
    node_start(&f, 1, 1, NULL, NULL, 0);
    f.n[0].refuse = 1;
    ASSERT_EQ(ln_net_connect(f.n[1].net, addr_of(&f, 0, addr, sizeof addr)), 0);
    uv_timer_t poll;
    uv_timer_init(&f.loop, &poll);
    poll.data = &f;
    uv_timer_start(&poll, on_refused_poll, 10, 10);
    fx_run(&f);
    ASSERT_EQ(f.n[0].ups + f.n[1].ups, 0);
    ASSERT_EQ(f.n[0].frames + f.n[1].frames, 0);
    ASSERT(f.n[1].allows >= 1);          /* the dialer saw the listener's hello */
    fx_free(&f);
}

static void step_reconnect(fixture *f)
{
    node *a = &f->n[0], *b = &f->n[1], *a2 = &f->n[2];
    if (f->phase == 0 && a->ups == 1 && b->ups == 1) {
        f->phase = 1;
        f->waiting_for = "the listener to close and the dialer to see its peer go";
        node_close(a);
    }
    if (f->phase == 1 && a->closed == 1 && b->downs == 1) {
        f->phase = 2;
        char addr[64];
        snprintf(addr, sizeof addr, "127.0.0.1:%d", f->port);
        node_start(f, 2, 0, addr, NULL, 0);
        f->waiting_for = "the dialer to reconnect to the restarted listener";
    }
    if (f->phase == 2 && a2->ups == 1 && b->ups == 2) {
        f->phase = 3;
        ASSERT_EQ(ln_peer_send(b->peer, "again", 5), 0);
        f->waiting_for = "a frame over the new connection";
    }
    if (f->phase == 3 && a2->frames == 1) {
        f->phase = 4;
        shutdown_all(f);
    }
}

TEST(net_dialer_reconnects_after_listener_restarts)
{
    fixture f;
    fx_init(&f);
    f.step = step_reconnect;
    f.waiting_for = "both ends up";
    char addr[64];
    node_start(&f, 0, 0, "127.0.0.1:0", NULL, 0);
    node_start(&f, 1, 1, NULL, NULL, 0);
    f.port = ln_net_port(f.n[0].net);
    ASSERT_EQ(ln_net_connect(f.n[1].net, addr_of(&f, 0, addr, sizeof addr)), 0);
    fx_run(&f);
    ASSERT_EQ(f.n[1].ups, 2);
    ASSERT_EQ(f.n[2].flen[0], 5);
    ASSERT_MEM(f.n[2].frame[0], "again", 5);
    fx_free(&f);
}

static void step_close_all(fixture *f)
{
    if (f->phase == 0 && f->n[0].ups == 2 && f->n[1].ups == 1 && f->n[2].ups == 1) {
        f->phase = 1;
        ASSERT_EQ(ln_net_peers(f->n[0].net, NULL, 0), 2);
        ln_peer *ps[2];
        ASSERT_EQ(ln_net_peers(f->n[0].net, ps, 2), 2);
        /* queued, unsent frames must not keep anything alive */
        ASSERT_EQ(ln_peer_send(ps[0], "bye", 3), 0);
        ASSERT_EQ(ln_peer_send(ps[1], "bye", 3), 0);
        shutdown_all(f);
    }
}

TEST(net_close_with_peers_connected_closes_everything)
{
    fixture f;
    fx_init(&f);
    f.step = step_close_all;
    f.waiting_for = "one listener and two dialers up";
    char addr[64];
    node_start(&f, 0, 0, "127.0.0.1:0", NULL, 0);
    node_start(&f, 1, 1, NULL, NULL, 0);
    node_start(&f, 2, 2, NULL, NULL, 0);
    addr_of(&f, 0, addr, sizeof addr);
    ASSERT_EQ(ln_net_connect(f.n[1].net, addr), 0);
    ASSERT_EQ(ln_net_connect(f.n[2].net, addr), 0);
    fx_run(&f);                          /* checks every close callback and uv_loop_close */
    ASSERT_EQ(f.n[0].downs, 2);
    ASSERT_EQ(f.n[1].downs, 1);
    ASSERT_EQ(f.n[2].downs, 1);
    fx_free(&f);
}

/* ---- a raw client against a listening net ------------------------------- */

/* Ends the test once the client finished and the listener saw what it expects. */
static int want_downs, strikes_at_end;

static int key_strikes_at_end;
static int key1_strikes(const ln_net *net);

static void step_raw(fixture *f)
{
    if (f->shut || !f->client_done || f->n[0].downs < want_downs) return;
    strikes_at_end = ln_net_strikes(f->n[0].net, "127.0.0.1");
    key_strikes_at_end = key1_strikes(f->n[0].net);
    shutdown_all(f);
}

static int strikes_at_down, key_strikes_at_down;

/* Strikes against the raw client's identity (key 1). */
static int key1_strikes(const ln_net *net)
{
    uint8_t pk[LN_PK_LEN], sk[LN_SK_LEN];
    keys_for(1, pk, sk);
    return ln_net_key_strikes(net, pk);
}

static void step_note_strikes(fixture *f)
{
    if (f->n[0].downs == 1 && !strikes_at_down && !key_strikes_at_down) {
        strikes_at_down = ln_net_strikes(f->n[0].net, "127.0.0.1");
        key_strikes_at_down = key1_strikes(f->n[0].net);
    }
    step_raw(f);
}

static void run_raw(fixture *f, void (*client)(fixture *f), size_t max_frame, int downs)
{
    strikes_at_down = key_strikes_at_down = 0;
    fx_init(f);
    f->step = step_note_strikes;
    want_downs = downs;
    f->waiting_for = "the raw client and the listener";
    node_start(f, 0, 0, "127.0.0.1:0", NULL, max_frame);
    f->port = ln_net_port(f->n[0].net);
    fx_client(f, client);
    fx_run(f);
}

static void client_wrong_chain(fixture *f)
{
    raw r;
    uint8_t esk[crypto_kx_SECRETKEYBYTES], buf[LN_NET_HELLO_MAX];
    if (raw_open(&r, f->port) != 0) { f->c_err = 1; return; }
    raw_hello(&r, 1, "another-chain", esk);
    f->c_handshake = raw_read_frame(&r, buf, sizeof buf) > 0;   /* its hello */
    f->c_eof = raw_wait_eof(&r);                                /* and no signature */
    close(r.fd);
}

TEST(net_wrong_chain_id_refused)
{
    fixture f;
    run_raw(&f, client_wrong_chain, 0, 0);
    ASSERT_EQ(f.c_err, 0);
    ASSERT_EQ(f.c_handshake, 1);
    ASSERT_EQ(f.c_eof, 1);
    ASSERT_EQ(f.n[0].allows, 0);         /* refused before the member check */
    ASSERT_EQ(strikes_at_end, 0);        /* a config mismatch, not misbehaviour */
    ASSERT_EQ(f.n[0].ups, 0);
    fx_free(&f);
}

static void client_garbage_then_member(fixture *f)
{
    raw r;
    if (raw_open(&r, f->port) != 0) { f->c_err = 1; return; }
    static const uint8_t junk[] = { 0, 0, 0, 8, 'g', 'a', 'r', 'b', 'a', 'g', 'e', '!' };
    raw_write(&r, junk, sizeof junk);
    f->c_eof = raw_wait_eof(&r);
    close(r.fd);
    if (raw_open(&r, f->port) != 0) { f->c_err = 2; return; }
    f->c_handshake = raw_handshake(&r, 1);
    uint8_t out[64];
    raw_write(&r, out, raw_seal(&r, "next", 4, out));
    close(r.fd);
}

TEST(net_garbage_hello_dropped_and_listener_serves_next)
{
    fixture f;
    run_raw(&f, client_garbage_then_member, 0, 1);
    ASSERT_EQ(f.c_err, 0);
    ASSERT_EQ(f.c_eof, 1);
    ASSERT_EQ(f.c_handshake, 1);
    ASSERT_EQ(f.n[0].ups, 1);
    ASSERT_EQ(f.n[0].frames, 1);
    ASSERT_MEM(f.n[0].frame[0], "next", 4);
    ASSERT_EQ(strikes_at_down, 1);       /* the garbage, recorded against 127.0.0.1 */
    ASSERT_EQ(key_strikes_at_end, 0);    /* the member after it is not blamed */
    fx_free(&f);
}

static void client_oversized(fixture *f)
{
    raw r;
    if (raw_open(&r, f->port) != 0) { f->c_err = 1; return; }
    f->c_handshake = raw_handshake(&r, 1);
    uint32_t n = 1024 + LN_NET_OVERHEAD + 1;     /* one past max_frame + tag */
    uint8_t h[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };
    raw_write(&r, h, 4);                 /* no body follows: the length alone must do */
    f->c_eof = raw_wait_eof(&r);
    close(r.fd);
}

TEST(net_oversized_length_dropped_before_the_body)
{
    fixture f;
    strikes_at_down = key_strikes_at_down = 0;
    fx_init(&f);
    f.step = step_note_strikes;
    want_downs = 1;
    f.waiting_for = "the oversized length to drop the peer";
    node_start(&f, 0, 0, "127.0.0.1:0", NULL, 1024);
    f.port = ln_net_port(f.n[0].net);
    fx_client(&f, client_oversized);
    fx_run(&f);
    ASSERT_EQ(f.c_handshake, 1);
    ASSERT_EQ(f.c_eof, 1);
    ASSERT_EQ(f.n[0].why, LN_ETOOBIG);
    ASSERT_EQ(f.n[0].frames, 0);
    ASSERT_EQ(key_strikes_at_down, 1);   /* after the handshake: its identity */
    ASSERT_EQ(strikes_at_down, 0);       /* not 127.0.0.1 */
    fx_free(&f);
}

static void client_tampered(fixture *f)
{
    raw r;
    if (raw_open(&r, f->port) != 0) { f->c_err = 1; return; }
    f->c_handshake = raw_handshake(&r, 1);
    uint8_t out[64];
    raw_write(&r, out, raw_seal(&r, "good", 4, out));
    size_t n = raw_seal(&r, "evil", 4, out);
    out[4 + 2] ^= 0x01;                  /* one ciphertext bit */
    raw_write(&r, out, n);
    f->c_eof = raw_wait_eof(&r);
    close(r.fd);
}

TEST(net_tampered_ciphertext_drops_peer)
{
    fixture f;
    strikes_at_down = key_strikes_at_down = 0;
    fx_init(&f);
    f.step = step_note_strikes;
    want_downs = 1;
    f.waiting_for = "the tampered frame to drop the peer";
    node_start(&f, 0, 0, "127.0.0.1:0", NULL, 0);
    f.port = ln_net_port(f.n[0].net);
    fx_client(&f, client_tampered);
    fx_run(&f);
    ASSERT_EQ(f.c_handshake, 1);
    ASSERT_EQ(f.c_eof, 1);
    ASSERT_EQ(f.n[0].frames, 1);
    ASSERT_MEM(f.n[0].frame[0], "good", 4);
    ASSERT_EQ(f.n[0].why, LN_EDECRYPT);
    ASSERT_EQ(key_strikes_at_down, 1);
    ASSERT_EQ(strikes_at_down, 0);
    fx_free(&f);
}

static void client_replayed(fixture *f)
{
    raw r;
    if (raw_open(&r, f->port) != 0) { f->c_err = 1; return; }
    f->c_handshake = raw_handshake(&r, 1);
    uint8_t out[64];
    size_t n = raw_seal(&r, "once", 4, out);
    raw_write(&r, out, n);
    raw_write(&r, out, n);               /* the same frame again */
    f->c_eof = raw_wait_eof(&r);
    close(r.fd);
}

TEST(net_replayed_frame_drops_peer)
{
    fixture f;
    run_raw(&f, client_replayed, 0, 1);
    ASSERT_EQ(f.c_handshake, 1);
    ASSERT_EQ(f.c_eof, 1);
    ASSERT_EQ(f.n[0].frames, 1);
    ASSERT_EQ(f.n[0].why, LN_EDECRYPT);
    fx_free(&f);
}

static void client_bad_signature(fixture *f)
{
    raw r;
    if (raw_open(&r, f->port) != 0) { f->c_err = 1; return; }
    f->c_handshake = raw_handshake_as(&r, 1, 2);  /* claims 1, signs as 2 */
    f->c_eof = raw_wait_eof(&r);
    close(r.fd);
}

TEST(net_bad_handshake_signature_refused)
{
    fixture f;
    run_raw(&f, client_bad_signature, 0, 0);
    ASSERT_EQ(f.c_handshake, 1);         /* the net signed; it is ours that fails */
    ASSERT_EQ(f.c_eof, 1);
    ASSERT_EQ(f.n[0].allows, 1);
    ASSERT_EQ(f.n[0].ups, 0);
    ASSERT_EQ(strikes_at_end, 1);
    ASSERT_EQ(key_strikes_at_end, 0);    /* an unproven claim: key 1 is not blamed */
    fx_free(&f);
}

static void client_silent(fixture *f)
{
    raw r;
    uint8_t buf[LN_NET_HELLO_MAX];
    if (raw_open(&r, f->port) != 0) { f->c_err = 1; return; }
    f->c_handshake = raw_read_frame(&r, buf, sizeof buf) > 0;   /* its hello, then */
    f->c_eof = raw_wait_eof(&r);         /* closed after handshake_ms (2 s here) */
    close(r.fd);
}

TEST(net_handshake_not_done_in_time_closes)
{
    fixture f;
    run_raw(&f, client_silent, 0, 0);
    ASSERT_EQ(f.c_handshake, 1);
    ASSERT_EQ(f.c_eof, 1);
    ASSERT_EQ(f.n[0].ups, 0);
    fx_free(&f);
}

/* ---- strikes by identity ------------------------------------------------ */

#define PENALTY_MS 600

/* n0 listens; n1 (key 1) sends "bad", which n0's application drops; n2 (key
** 2, the same IP) dials then and must come up at once, while n1 is refused
** until the hold-off ends. */
static void step_key_strike(fixture *f)
{
    node *a = &f->n[0], *b = &f->n[1], *c = &f->n[2];
    uint64_t now = uv_now(&f->loop);
    if (f->phase == 0 && a->ups == 1 && b->ups == 1) {
        f->phase = 1;
        ASSERT_EQ(ln_peer_send(b->peer, "bad", 3), 0);
        f->waiting_for = "the listener to get the frame it drops";
    }
    if (f->phase == 1 && a->frames == 1) {
        f->phase = 2;
        f->t_drop = now;
        ln_peer_drop(a->peer, LN_EINVAL);
        ASSERT_EQ(ln_net_key_strikes(a->net, b->pk), 1);
        ASSERT_EQ(ln_net_key_strikes(a->net, c->pk), 0);
        ASSERT_EQ(ln_net_strikes(a->net, "127.0.0.1"), 0);
        char addr[64];
        ASSERT_EQ(ln_net_connect(c->net, addr_of(f, 0, addr, sizeof addr)), 0);
        f->waiting_for = "another identity from 127.0.0.1 to come up at once";
    }
    if (f->phase == 2 && c->ups == 1 && b->downs == 1) {
        f->phase = 3;
        if (now - f->t_drop >= PENALTY_MS)
            LN_FAIL("key 2 took %llu ms: held off with key 1",
                    (unsigned long long)(now - f->t_drop));
        ASSERT_EQ(b->ups, 1);            /* key 1 still out */
        f->waiting_for = "the struck identity to come back after its hold-off";
    }
    if (f->phase == 3 && b->ups == 2) {
        f->phase = 4;
        if (now - f->t_drop < PENALTY_MS)
            LN_FAIL("key 1 back after %llu ms, before its %d ms hold-off",
                    (unsigned long long)(now - f->t_drop), PENALTY_MS);
        shutdown_all(f);
    }
}

TEST(net_dropped_peer_struck_by_identity_and_same_ip_still_connects)
{
    fixture f;
    fx_init(&f);
    f.step = step_key_strike;
    f.penalty_ms = PENALTY_MS;
    f.waiting_for = "both ends up";
    char addr[64];
    node_start(&f, 0, 0, "127.0.0.1:0", NULL, 0);
    node_start(&f, 1, 1, NULL, NULL, 0);
    node_start(&f, 2, 2, NULL, NULL, 0);
    ASSERT_EQ(ln_net_connect(f.n[1].net, addr_of(&f, 0, addr, sizeof addr)), 0);
    fx_run(&f);
    /* n1 redialed during the hold-off (it saw n0's hello each time) but n0
    ** refused it before asking allow: n0 asked for n1 twice and n2 once. */
    ASSERT(f.n[1].allows >= 3);
    ASSERT_EQ(f.n[0].allows, 3);
    ASSERT_EQ(f.n[0].ups, 3);
    fx_free(&f);
}

/* n1 dials n0; n0 sends "bad"; n1's application drops n0. n1's dialer must
** then wait out n0's hold-off instead of redialing after the backoff. */
static void step_dialer_waits(fixture *f)
{
    node *a = &f->n[0], *b = &f->n[1];
    uint64_t now = uv_now(&f->loop);
    if (f->phase == 0 && a->ups == 1 && b->ups == 1) {
        f->phase = 1;
        ASSERT_EQ(ln_peer_send(a->peer, "bad", 3), 0);
        f->waiting_for = "the dialer to get the frame it drops";
    }
    if (f->phase == 1 && b->frames == 1) {
        f->phase = 2;
        f->t_drop = now;
        ln_peer_drop(b->peer, LN_EINVAL);
        ASSERT_EQ(ln_net_key_strikes(b->net, a->pk), 1);
        f->waiting_for = "the dialer to redial after the hold-off";
    }
    if (f->phase == 2 && b->ups == 2) {
        f->phase = 3;
        if (now - f->t_drop < PENALTY_MS)
            LN_FAIL("redialed after %llu ms, before the %d ms hold-off",
                    (unsigned long long)(now - f->t_drop), PENALTY_MS);
        shutdown_all(f);
    }
}

TEST(net_dialer_waits_hold_off_of_identity_it_dropped)
{
    fixture f;
    fx_init(&f);
    f.step = step_dialer_waits;
    f.penalty_ms = PENALTY_MS;
    f.waiting_for = "both ends up";
    char addr[64];
    node_start(&f, 0, 0, "127.0.0.1:0", NULL, 0);
    node_start(&f, 1, 1, NULL, NULL, 0);
    ASSERT_EQ(ln_net_connect(f.n[1].net, addr_of(&f, 0, addr, sizeof addr)), 0);
    fx_run(&f);
    ASSERT_EQ(f.n[0].allows, 2);         /* no attempt during the hold-off */
    ASSERT_EQ(f.n[1].allows, 2);
    ASSERT_EQ(f.n[0].ups, 2);
    fx_free(&f);
}

/* ---- strikes that decay, IPs shared with honest members ------------------ */

static void client_garbage_three(fixture *f)
{
    static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff };   /* a length past any limit */
    for (int i = 0; i < 3; i++) {
        raw r;
        if (raw_open(&r, f->port) != 0) { f->c_err = 1; return; }
        raw_write(&r, junk, sizeof junk);
        f->c_eof += raw_wait_eof(&r);
        close(r.fd);
    }
}

static uv_timer_t later;
static int strikes_later;

static void on_later(uv_timer_t *t)
{
    fixture *f = t->data;
    strikes_later = ln_net_strikes(f->n[0].net, "127.0.0.1");
    uv_close((uv_handle_t *)t, NULL);
    shutdown_all(f);
}

/* Once the client is done: the strikes now, and again after four decay periods. */
static void step_decay(fixture *f)
{
    if (f->phase == 0 && f->client_done && f->n[0].downs == 0) {
        f->phase = 1;
        strikes_at_end = ln_net_strikes(f->n[0].net, "127.0.0.1");
        uv_timer_init(&f->loop, &later);
        later.data = f;
        uv_timer_start(&later, on_later, 4 * f->decay_ms, 0);
        f->waiting_for = "four decay periods";
    }
}

TEST(net_strikes_decay_one_per_period_after_the_last)
{
    fixture f;
    fx_init(&f);
    f.penalty_ms = 50;
    f.decay_ms = 100;
    f.step = step_decay;
    f.waiting_for = "three garbage connections";
    node_start(&f, 0, 0, "127.0.0.1:0", NULL, 0);
    f.port = ln_net_port(f.n[0].net);
    fx_client(&f, client_garbage_three);
    fx_run(&f);
    ASSERT_EQ(f.c_err, 0);
    ASSERT_EQ(f.c_eof, 3);
    ASSERT_EQ(strikes_at_end, 3);
    ASSERT_EQ(strikes_later, 0);         /* forgiven, one per 100 ms */
    fx_free(&f);
}

static void client_garbage_then_handshake(fixture *f)
{
    client_garbage_three(f);
    client_garbage_three(f);
    raw r;
    if (raw_open(&r, f->port) != 0) { f->c_err = 2; return; }
    f->c_handshake = raw_handshake(&r, 1);
    close(r.fd);
}

TEST(net_ip_strikes_do_not_refuse_a_member_behind_that_ip)
{
    fixture f;
    run_raw(&f, client_garbage_then_handshake, 0, 1);
    ASSERT_EQ(f.c_err, 0);
    ASSERT_EQ(f.c_eof, 6);
    ASSERT_EQ(strikes_at_down, 6);       /* 127.0.0.1 held off for 32 s ... */
    ASSERT_EQ(f.c_handshake, 1);         /* ... and a member from there still gets in */
    ASSERT_EQ(f.n[0].ups, 1);
    fx_free(&f);
}

/* n1 (listening, its IP held off for 10 s by a raw client's garbage) dials
** n0, which refuses it once; the redial comes after the backoff, not after
** 127.0.0.1's hold-off. */
static void step_dial_despite_ip(fixture *f)
{
    node *a = &f->n[0], *b = &f->n[1];
    if (f->phase == 0 && f->client_done) {
        f->phase = 1;
        ASSERT_EQ(ln_net_strikes(b->net, "127.0.0.1"), 1);
        char addr[64];
        ASSERT_EQ(ln_net_connect(b->net, addr_of(f, 0, addr, sizeof addr)), 0);
        f->waiting_for = "n1 to redial n0 after the refusal, within the backoff";
    }
    if (f->phase == 1 && a->ups == 1 && b->ups == 1) {
        f->phase = 2;
        ASSERT_EQ(a->allows, 2);
        shutdown_all(f);
    }
}

static void client_garbage_once(fixture *f)
{
    raw r;
    static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff };
    if (raw_open(&r, f->port) != 0) { f->c_err = 1; return; }
    raw_write(&r, junk, sizeof junk);
    f->c_eof = raw_wait_eof(&r);
    close(r.fd);
}

TEST(net_dialer_does_not_wait_for_strikes_against_its_addresses_ip)
{
    fixture f;
    fx_init(&f);
    f.step = step_dial_despite_ip;
    f.waiting_for = "the raw client";
    node_start(&f, 0, 0, "127.0.0.1:0", NULL, 0);
    f.n[0].refuse_first = 1;
    f.penalty_ms = 20000;                /* n1's hold-offs: past the watchdog */
    node_start(&f, 1, 1, "127.0.0.1:0", NULL, 0);
    f.port = ln_net_port(f.n[1].net);
    fx_client(&f, client_garbage_once);
    fx_run(&f);
    ASSERT_EQ(f.c_eof, 1);
    fx_free(&f);
}

/* ---- a second connection with one identity -------------------------------- */

/* n1 (key 1) is up with n0; a raw client with key 1 dials n0 too. n0 pings
** n1's connection, n1's net answers, and the newcomer is closed. */
static void step_duplicate(fixture *f)
{
    node *a = &f->n[0], *b = &f->n[1];
    if (f->phase == 0 && a->ups == 1 && b->ups == 1) {
        f->phase = 1;
        f->port = ln_net_port(a->net);
        fx_client(f, f->client);
        f->waiting_for = "the newcomer to be closed";
    }
    if (f->phase == 1 && f->client_done) {
        f->phase = 2;
        ASSERT_EQ(a->downs, 0);          /* n1's connection stayed */
        ASSERT_EQ(ln_net_peers(a->net, NULL, 0), 1);
        ASSERT_EQ(ln_net_key_strikes(a->net, b->pk), 0);   /* a duplicate is no offence */
        shutdown_all(f);
    }
}

static void client_duplicate(fixture *f)
{
    raw r;
    if (raw_open(&r, f->port) != 0) { f->c_err = 1; return; }
    f->c_handshake = raw_handshake(&r, 1);
    f->c_eof = raw_wait_eof(&r);
    close(r.fd);
}

TEST(net_second_connection_with_a_live_identity_is_closed_and_the_first_stays)
{
    fixture f;
    fx_init(&f);
    f.step = step_duplicate;
    f.client = client_duplicate;
    f.waiting_for = "both ends up";
    char addr[64];
    node_start(&f, 0, 0, "127.0.0.1:0", NULL, 0);
    node_start(&f, 1, 1, NULL, NULL, 0);
    ASSERT_EQ(ln_net_connect(f.n[1].net, addr_of(&f, 0, addr, sizeof addr)), 0);
    fx_run(&f);
    ASSERT_EQ(f.c_err, 0);
    ASSERT_EQ(f.c_handshake, 1);
    ASSERT_EQ(f.c_eof, 1);
    ASSERT_EQ(f.n[0].ups, 1);
    ASSERT_EQ(f.n[1].ups, 1);
    ASSERT_EQ(f.n[0].frames, 0);         /* ping and pong are the transport's */
    ASSERT_EQ(f.n[1].frames, 0);
    fx_free(&f);
}

/* A raw client up as key 1 goes silent; a second connection as key 1
** waits keepalive_ms, then takes the first one's place and is read. */
static void client_dead_then_new(fixture *f)
{
    raw a, b;
    if (raw_open(&a, f->port) != 0 || !raw_handshake(&a, 1)) { f->c_err = 1; return; }
    /* A pong: the listener has taken A's signature (it is up there). */
    uint8_t ping = 0x00, pong[8], sealed[64];
    raw_write(&a, sealed, raw_seal(&a, &ping, 1, sealed));
    if (raw_open_frame(&a, pong, sizeof pong) != 1 || pong[0] != 0x01) { f->c_err = 4; return; }
    if (raw_open(&b, f->port) != 0) { f->c_err = 2; return; }
    f->c_handshake = raw_handshake(&b, 1);
    f->c_eof = raw_wait_eof(&a);         /* the silent one is closed ... */
    uint8_t out[64];
    raw_write(&b, out, raw_seal(&b, "b", 1, out));   /* ... and the new one is read */
    uint8_t in[64];
    f->c_err = raw_open_frame(&b, in, sizeof in) == 2 && memcmp(in, "ok", 2) == 0 ? 0 : 3;
    close(a.fd);
    close(b.fd);
}

static void step_takeover(fixture *f)
{
    node *a = &f->n[0];
    if (f->phase == 0 && a->frames == 1) {
        f->phase = 1;
        ASSERT_EQ(a->downs, 1);
        ASSERT_EQ(a->why, LN_ETIMEDOUT);
        ASSERT_EQ(ln_peer_send(a->peer, "ok", 2), 0);
        f->waiting_for = "the raw client to read the answer";
    }
    if (f->phase == 1 && f->client_done) {
        f->phase = 2;
        shutdown_all(f);
    }
}

TEST(net_second_connection_takes_over_from_one_that_does_not_answer)
{
    fixture f;
    fx_init(&f);
    f.keepalive_ms = 200;
    f.step = step_takeover;
    f.waiting_for = "the second connection's frame";
    node_start(&f, 0, 0, "127.0.0.1:0", NULL, 0);
    f.port = ln_net_port(f.n[0].net);
    fx_client(&f, client_dead_then_new);
    fx_run(&f);
    ASSERT_EQ(f.c_err, 0);
    ASSERT_EQ(f.c_handshake, 1);
    ASSERT_EQ(f.c_eof, 1);
    ASSERT_EQ(f.n[0].ups, 2);
    ASSERT_EQ(f.n[0].frames, 1);
    ASSERT_MEM(f.n[0].frame[0], "b", 1);
    fx_free(&f);
}

/* ---- the transport's own frames, fair shares ----------------------------- */

static void client_ping(fixture *f)
{
    raw r;
    if (raw_open(&r, f->port) != 0) { f->c_err = 1; return; }
    f->c_handshake = raw_handshake(&r, 1);
    uint8_t out[64], in[64], ping = 0x00;
    raw_write(&r, out, raw_seal(&r, &ping, 1, out));
    long n = raw_open_frame(&r, in, sizeof in);      /* the test's "\2", then the pong */
    if (n != 1 || in[0] != 0x02) f->c_err = 2;
    n = raw_open_frame(&r, in, sizeof in);
    if (n != 1 || in[0] != 0x01) f->c_err = 3;
    raw_write(&r, out, raw_seal(&r, "hi", 2, out));
    close(r.fd);
}

static void step_ping(fixture *f)
{
    node *a = &f->n[0];
    if (f->phase == 0 && a->ups == 1) {
        f->phase = 1;
        ASSERT_EQ(ln_peer_send(a->peer, "\0", 1), LN_EINVAL);
        ASSERT_EQ(ln_peer_send(a->peer, "\1", 1), LN_EINVAL);
        ASSERT_EQ(ln_peer_send(a->peer, "\2", 1), 0);
    }
    step_raw(f);
}

TEST(net_ping_is_answered_by_the_transport_and_never_delivered)
{
    fixture f;
    strikes_at_down = key_strikes_at_down = 0;
    fx_init(&f);
    f.step = step_ping;
    want_downs = 1;
    f.waiting_for = "the raw client's frames";
    node_start(&f, 0, 0, "127.0.0.1:0", NULL, 0);
    f.port = ln_net_port(f.n[0].net);
    fx_client(&f, client_ping);
    fx_run(&f);
    ASSERT_EQ(f.c_err, 0);
    ASSERT_EQ(f.c_handshake, 1);
    ASSERT_EQ(f.n[0].frames, 1);
    ASSERT_MEM(f.n[0].frame[0], "hi", 2);
    fx_free(&f);
}

#define FLOOD 3000

static uv_check_t turns;
static int frames_this_turn, most_in_a_turn, flood_in_order = 1;
static uint32_t flood_next;

static void on_turn(uv_check_t *h)
{
    (void)h;
    frames_this_turn = 0;
}

static void flood_frame(void *ud, ln_peer *p, const uint8_t *msg, size_t len)
{
    node *n = ud;
    (void)p;
    uint32_t k = len == 4 ? (uint32_t)msg[0] << 24 | (uint32_t)msg[1] << 16 |
                            (uint32_t)msg[2] << 8 | msg[3] : UINT32_MAX;
    if (k != flood_next++) flood_in_order = 0;
    if (++frames_this_turn > most_in_a_turn) most_in_a_turn = frames_this_turn;
    n->frames++;
    n->f->step(n->f);
}

static void client_flood(fixture *f)
{
    raw r;
    if (raw_open(&r, f->port) != 0) { f->c_err = 1; return; }
    f->c_handshake = raw_handshake(&r, 1);
    size_t one = 4 + 4 + LN_NET_OVERHEAD;
    uint8_t *buf = malloc(FLOOD * one);
    if (!buf) { f->c_err = 2; return; }
    for (uint32_t i = 0; i < FLOOD; i++) {
        uint8_t m[4] = { (uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };
        raw_seal(&r, m, 4, buf + i * one);
    }
    raw_write(&r, buf, FLOOD * one);     /* one write: the listener reads it in big chunks */
    free(buf);
    f->c_eof = raw_wait_eof(&r);         /* closed by the test once all arrived */
    close(r.fd);
}

static void step_flood(fixture *f)
{
    node *a = &f->n[0];
    if (f->phase == 0 && a->frames == FLOOD) {
        f->phase = 1;
        uv_close((uv_handle_t *)&turns, NULL);
        shutdown_all(f);
    }
}

TEST(net_a_flooding_peer_is_read_a_share_per_loop_turn)
{
    fixture f;
    fx_init(&f);
    f.step = step_flood;
    f.waiting_for = "every frame of the flood";
    f.n[0].on_frame = flood_frame;
    node_start(&f, 0, 0, "127.0.0.1:0", NULL, 0);
    uv_check_init(&f.loop, &turns);
    uv_check_start(&turns, on_turn);
    f.port = ln_net_port(f.n[0].net);
    fx_client(&f, client_flood);
    fx_run(&f);
    ASSERT_EQ(f.c_err, 0);
    ASSERT_EQ(f.c_handshake, 1);
    ASSERT_EQ(f.n[0].frames, FLOOD);
    ASSERT_EQ(flood_in_order, 1);
    if (most_in_a_turn > LN_NET_TURN_FRAMES)
        LN_FAIL("%d frames in one loop turn, more than %d", most_in_a_turn, LN_NET_TURN_FRAMES);
}

static const ln_test tests[] = {
    T(net_handshake_then_frames_both_ways_in_order),
    T(net_one_mib_frame_arrives_whole),
    T(net_send_over_max_frame_returns_etoobig),
    T(net_non_member_refused_at_handshake),
    T(net_wrong_chain_id_refused),
    T(net_garbage_hello_dropped_and_listener_serves_next),
    T(net_oversized_length_dropped_before_the_body),
    T(net_tampered_ciphertext_drops_peer),
    T(net_replayed_frame_drops_peer),
    T(net_bad_handshake_signature_refused),
    T(net_handshake_not_done_in_time_closes),
    T(net_dialer_reconnects_after_listener_restarts),
    T(net_close_with_peers_connected_closes_everything),
    T(net_dropped_peer_struck_by_identity_and_same_ip_still_connects),
    T(net_dialer_waits_hold_off_of_identity_it_dropped),
    T(net_strikes_decay_one_per_period_after_the_last),
    T(net_ip_strikes_do_not_refuse_a_member_behind_that_ip),
    T(net_dialer_does_not_wait_for_strikes_against_its_addresses_ip),
    T(net_second_connection_with_a_live_identity_is_closed_and_the_first_stays),
    T(net_second_connection_takes_over_from_one_that_does_not_answer),
    T(net_ping_is_answered_by_the_transport_and_never_delivered),
    T(net_a_flooding_peer_is_read_a_share_per_loop_turn),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
