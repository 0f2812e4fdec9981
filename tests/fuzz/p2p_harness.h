/*
** p2p_harness.h -- a real node and one authenticated member, for feeding
** P2P frames to the node as that member: fuzz_p2p.c (libFuzzer) and
** tests/c/test_p2p_fuzzed.c (what the fuzzer found, replayed by make test).
**
** The node: a temp home, LevelDB on disk, consensus/bft.lua with one
** validator (node0, so blocks keep coming and get has something to
** serve), P2P on a loopback port, a first strike's hold-off of 1 ms. The
** member: an ln_net of its own with one of PH_KEYS genesis member keys,
** dialing the node; dropped, it is closed and the next key dials. All on
** one loop in this thread. A frame {t="p", from="node0", m=BIN} is signed
** as node0 before it goes (a member's consensus frames count only then),
** so the plugin's message path is reached too.
**
**   ph_setup();  ph_feed(bytes, n) ...;  ph_teardown();
** ph_feed returns once the node handled the frame (its frame count moved)
** or dropped the member; it aborts when neither happened in PH_STALL_MS,
** or when the node stops answering.
*/
#ifndef LN_P2P_HARNESS_H
#define LN_P2P_HARNESS_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <msgpack.h>
#include <uv.h>

#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "net.h"
#include "node.h"
#include "p2p.h"
#include "p2p_frame.h"
#include "shape.h"

#ifndef LN_SOURCE_DIR
#define LN_SOURCE_DIR "."
#endif

#define PH_KEYS     64
#define PH_STALL_MS 10000

static struct {
    uv_loop_t loop;
    ln_node *node;
    char dir[64], addr[32];
    ln_key node0;                        /* to sign "p" frames as node0 */
    uint8_t pk[PH_KEYS][LN_PK_LEN], sk[PH_KEYS][LN_SK_LEN];
    int next_key;
    ln_net *net;                         /* the member's */
    ln_peer *peer;                       /* while up */
    int net_open;
} PH;

static void ph_die(const char *what)
{
    fprintf(stderr, "p2p harness: %s\n", what);
    abort();
}

static uint64_t ph_metric(const char *name)
{
    char *m = ln_node_metrics(PH.node);
    if (!m) ph_die("no metrics");
    char needle[96];
    snprintf(needle, sizeof needle, "\n%s ", name);
    const char *at = strstr(m, needle);
    uint64_t v = 0;
    if (at) v = strtoull(at + strlen(needle), NULL, 10);
    free(m);
    return v;
}

static uint64_t ph_height(void)
{
    ln_node_info *info = malloc(sizeof *info);
    if (!info) ph_die("out of memory");
    ln_node_info_get(PH.node, info);
    uint64_t h = info->height;
    free(info);
    return h;
}

static void ph_on_peer(void *ud, ln_peer *p, int up)
{
    (void)ud;
    if (up) {
        PH.peer = p;
        return;
    }
    if (p == PH.peer) PH.peer = NULL;
}

static void ph_on_frame(void *ud, ln_peer *p, const uint8_t *m, size_t n)
{
    (void)ud; (void)p; (void)m; (void)n;         /* what the node answers is not looked at */
}

static void ph_on_closed(ln_net *net, void *ud)
{
    (void)net; (void)ud;
    PH.net_open = 0;
}

static void ph_close_member(void)
{
    if (!PH.net) return;
    ln_net *net = PH.net;
    PH.net = NULL;
    PH.peer = NULL;
    ln_net_close(net, ph_on_closed, NULL);
    while (PH.net_open) uv_run(&PH.loop, UV_RUN_ONCE);
}

/* Dials the node as the next member key until one comes up. */
static void ph_connect(void)
{
    for (int tries = 0; tries < 4 * PH_KEYS; tries++) {
        int k = PH.next_key++ % PH_KEYS;
        ln_net_config cfg;
        memset(&cfg, 0, sizeof cfg);
        memcpy(cfg.pk, PH.pk[k], LN_PK_LEN);
        memcpy(cfg.sk, PH.sk[k], LN_SK_LEN);
        cfg.chain_id = "fuzz-p2p";
        cfg.max_frame = 64u << 20;
        cfg.max_outbuf = 256u << 20;
        cfg.handshake_ms = 2000;
        cfg.on_peer = ph_on_peer;
        cfg.on_frame = ph_on_frame;
        if (ln_net_start(&PH.loop, &cfg, &PH.net) < 0) ph_die("member net does not start");
        PH.net_open = 1;
        if (ln_net_connect(PH.net, PH.addr) < 0) ph_die("member cannot dial");
        uint64_t until = uv_now(&PH.loop) + 3000;
        while (!PH.peer && uv_now(&PH.loop) < until) uv_run(&PH.loop, UV_RUN_ONCE);
        if (PH.peer) return;
        ph_close_member();                       /* held off: the next key */
    }
    ph_die("no member key gets in");
}

/* {t="p", from="node0", m=BIN}: the same frame signed as node0, into *out. */
static int ph_sign_as_node0(const uint8_t *data, size_t size, msgpack_sbuffer *out)
{
    ln_shape sh;
    if (ln_shape_of(data, size, LN_P2P_FRAME_OBJECTS, LN_P2P_FRAME_DEPTH, &sh) < 0) return 0;
    ln_p2p_frame f;
    if (ln_p2p_frame_decode(data, size, 0, &f) < 0) return 0;
    int ok = f.type == LN_P2P_CONSENSUS && strcmp(f.from, "node0") == 0 && f.m.p;
    if (ok) {
        uint8_t sig[LN_SIG_LEN];
        ln_sign(PH.node0.sk, f.m.p, f.m.n, sig);
        ln_p2p_frame_consensus(out, "node0", f.m.p, f.m.n, sig);
        ok = out->data != NULL;
    }
    ln_p2p_frame_free(&f);
    return ok;
}

static inline void ph_setup(void)
{
    if (ln_crypto_init() < 0) ph_die("libsodium");
    if (uv_loop_init(&PH.loop) < 0) ph_die("uv loop");
    snprintf(PH.dir, sizeof PH.dir, "/tmp/lunet-fuzz-p2p-XXXXXX");
    if (!mkdtemp(PH.dir)) ph_die("mkdtemp");
    /* The node's port: one the kernel had free a moment ago. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) < 0)
        ph_die("no free port");
    snprintf(PH.addr, sizeof PH.addr, "127.0.0.1:%d", ntohs(a.sin_port));
    close(fd);
    char path[300], home[100], err[300];
    snprintf(path, sizeof path, "%s/config.lua", PH.dir);
    snprintf(home, sizeof home, "%s/home", PH.dir);
    FILE *c = fopen(path, "w");
    if (!c) ph_die("config");
    fprintf(c, "return {\n  chain_id = 'fuzz-p2p', genesis_time = 1700000000,\n"
               "  validators = { 'node0' },\n  members = {\n");
    for (int i = 0; i < PH_KEYS; i++) {
        uint8_t seed[LN_SEED_LEN];
        memset(seed, 0x20 + i, sizeof seed);
        ln_keypair_seed(seed, PH.pk[i], PH.sk[i]);
        char hex[2 * LN_PK_LEN + 1];
        ln_hex(PH.pk[i], LN_PK_LEN, hex);
        fprintf(c, "    '%s',\n", hex);
    }
    fprintf(c, "  },\n  accounts = { { name = 'alice', balance = 1000000000000 } },\n"
               "  consensus = { plugin = '%s/consensus/bft.lua', params = { empty_blocks = true,\n"
               "    block_ms = 20, timeout_propose_ms = 200, timeout_vote_ms = 100 } },\n}\n",
            LN_SOURCE_DIR);
    fclose(c);
    ln_node_config cfg = { .home = home, .config = path, .p2p_addr = PH.addr, .dev = 1,
                           .p2p_penalty_ms = 1 };
    if (ln_node_open(&cfg, &PH.loop, &PH.node, err, sizeof err) < 0) ph_die(err);
    snprintf(path, sizeof path, "%s/keys/node0.key", home);
    if (ln_keyfile_read(path, &PH.node0, err, sizeof err) < 0) ph_die(err);
    /* A few blocks, so that get has something to serve. */
    uint64_t until = uv_now(&PH.loop) + 20000;
    while (ph_height() < 3 && uv_now(&PH.loop) < until) uv_run(&PH.loop, UV_RUN_ONCE);
    if (ph_height() < 3) ph_die("the node makes no blocks");
}

/* One frame from the member; returns 1 if the node dropped the member. */
static inline int ph_feed(const uint8_t *data, size_t size)
{
    if (!PH.peer) {
        ph_close_member();
        ph_connect();
    }
    msgpack_sbuffer signed_sb;
    memset(&signed_sb, 0, sizeof signed_sb);
    if (ph_sign_as_node0(data, size, &signed_sb)) {
        data = (const uint8_t *)signed_sb.data;
        size = signed_sb.size;
    }
    uint64_t before = ph_metric("lunet_p2p_frames_total");
    int rc = ln_peer_send(PH.peer, data, size);
    msgpack_sbuffer_destroy(&signed_sb);
    if (rc == LN_ETOOBIG || rc == LN_EINVAL) return 0;     /* not a frame the wire carries */
    if (rc < 0) ph_die("send");
    uint64_t until = uv_now(&PH.loop) + PH_STALL_MS;
    while (PH.peer && ph_metric("lunet_p2p_frames_total") == before) {
        if (uv_now(&PH.loop) > until) ph_die("a frame was neither handled nor refused in time");
        uv_run(&PH.loop, UV_RUN_ONCE);
    }
    /* What the frame set going (answers, admissions) gets a few turns. */
    for (int i = 0; i < 4; i++) uv_run(&PH.loop, UV_RUN_NOWAIT);
    return PH.peer == NULL;
}

static inline void ph_teardown(void)
{
    ph_close_member();
    ln_node_close(PH.node);
    PH.node = NULL;
    uv_run(&PH.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&PH.loop) != 0) ph_die("handles left open");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", PH.dir);
    if (system(cmd) != 0) ph_die("rm");
}

#endif
