/*
** daemon.c -- `lunet dev` and `lunet start`: open the node on a libuv loop,
** run until SIGINT or SIGTERM, then close every handle and exit. A kill -9
** loses nothing committed: every block is one synced LevelDB batch.
*/
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "codec.h"
#include "config.h"
#include "crypto.h"
#include "daemon.h"
#include "err.h"
#include "node.h"
#include "rpc.h"

#ifndef LN_SOURCE_DIR
#define LN_SOURCE_DIR "."
#endif

static const char usage_dev[] =
    "usage: lunet dev [--home DIR] [--rpc HOST:PORT] [--p2p HOST:PORT] [--config FILE]\n"
    "                 [--peer HOST:PORT]...\n"
    "\n"
    "Runs a one-validator development chain: data in DIR (default .lunet/dev),\n"
    "JSON-RPC on 127.0.0.1:8765, dev accounts alice, bob, carol, dave and eve\n"
    "funded, their keys written to DIR/keys and printed. The genesis comes from\n"
    "FILE (default configs/dev.lua) on the first start; later starts go on from\n"
    "the last committed block. Stop with Ctrl-C.\n";

static const char usage_start[] =
    "usage: lunet start --home DIR [--rpc HOST:PORT] [--p2p HOST:PORT] [--config FILE]\n"
    "                   [--peer HOST:PORT]...\n"
    "\n"
    "Runs a node on the chain in DIR (created from FILE's genesis on the first\n"
    "start; keys of accounts and validators must be in the config or DIR/keys).\n"
    "P2P listens on --p2p and dials every --peer, keeping the connections up,\n"
    "and the other members' addresses its peers tell it; only validators and\n"
    "members (the genesis's, then as the admin's transactions change them) are\n"
    "let in. The node key is the validator's, else DIR/keys/node.key (created\n"
    "when missing). A --p2p of 0.0.0.0:PORT listens everywhere and tells peers\n"
    "no address of its own.\n"
    "DIR/node.lua, when present, gives this node's defaults as Lua data (`lunet\n"
    "testnet` writes it):\n"
    "    return { rpc = \"HOST:PORT\", p2p = \"HOST:PORT\", peers = { \"HOST:PORT\", ... } }\n"
    "Flags override it; any --peer replaces its peers. Without it: --rpc\n"
    "127.0.0.1:8765, --p2p 127.0.0.1:7765. --config defaults to DIR/config.lua.\n"
    "Stop with Ctrl-C.\n";

static const char usage_init[] =
    "usage: lunet init --home DIR --config FILE [--new-keys]\n"
    "\n"
    "Creates the chain in DIR from FILE's genesis (accounts, validators, the\n"
    "consensus plugin, this build's VM fingerprint), prints its genesis hash and\n"
    "exits. Keys of accounts and validators without a `key` in the config must\n"
    "be in DIR/keys/NAME.key; --new-keys creates the missing ones. A home that\n"
    "already has a chain is left as it is. Then: lunet start --home DIR.\n";

typedef struct {
    uv_signal_t sigint, sigterm;
    ln_node *node;
    ln_rpc *rpc;
    uv_loop_t *loop;
} daemon_t;

static void on_signal(uv_signal_t *h, int signum)
{
    daemon_t *d = h->data;
    fprintf(stderr, "\n%s: stopping\n", signum == SIGINT ? "SIGINT" : "SIGTERM");
    ln_rpc_stop(d->rpc);
    d->rpc = NULL;
    ln_node_close(d->node);
    d->node = NULL;
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
}

static int flag(int argc, char **argv, int *i, const char *name, const char **out)
{
    if (strcmp(argv[*i], name) != 0) return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "lunet: %s needs a value\n", name);
        exit(2);
    }
    *out = argv[++*i];
    return 1;
}

#define MAX_PEERS 64

/* HOME/node.lua: how this node runs, so `lunet start --home DIR` is the
** whole command. Other keys are refused: a misspelt one would be ignored. */
typedef struct {
    char rpc[256], p2p[256];
    char peers[MAX_PEERS][256];
    size_t npeers;
} node_file;

static int nf_str(const msgpack_object *v, char *out, size_t n)
{
    return ln_codec_str(v, out, n) < 0 || !out[0] ? -1 : 0;
}

/* 0 when there is no node.lua (nf left empty) or it was read; else
** LN_ECONFIG and a one-line reason in err. */
static int node_file_read(const char *home, node_file *nf, char *err, size_t errlen)
{
    char path[PATH_MAX];
    memset(nf, 0, sizeof *nf);
    if (snprintf(path, sizeof path, "%s/node.lua", home) >= (int)sizeof path ||
        access(path, F_OK) != 0)
        return 0;
    uint8_t *enc;
    size_t el;
    int rc = ln_config_eval(path, &enc, &el, err, errlen);
    if (rc < 0) return rc;
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 1024);
    rc = ln_codec_unpack(enc, el, &z, &o);
    if (rc < 0 || (o.type != MSGPACK_OBJECT_MAP &&            /* `return {}` is an empty array */
                   !(o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == 0))) {
        rc = ln_errf(err, errlen, LN_ECONFIG, "%s: must return a table", path);
        goto done;
    }
    for (uint32_t i = 0; o.type == MSGPACK_OBJECT_MAP && i < o.via.map.size; i++) {
        const msgpack_object *k = &o.via.map.ptr[i].key, *v = &o.via.map.ptr[i].val;
        int kl = k->type == MSGPACK_OBJECT_STR ? (int)k->via.str.size : 0;
        const char *ks = k->type == MSGPACK_OBJECT_STR ? k->via.str.ptr : "";
        if (kl == 3 && !memcmp(ks, "rpc", 3)) {
            if (nf_str(v, nf->rpc, sizeof nf->rpc) < 0) {
                rc = ln_errf(err, errlen, LN_ECONFIG, "%s: rpc must be \"HOST:PORT\"", path);
                goto done;
            }
        } else if (kl == 3 && !memcmp(ks, "p2p", 3)) {
            if (nf_str(v, nf->p2p, sizeof nf->p2p) < 0) {
                rc = ln_errf(err, errlen, LN_ECONFIG, "%s: p2p must be \"HOST:PORT\"", path);
                goto done;
            }
        } else if (kl == 5 && !memcmp(ks, "peers", 5)) {
            int ok = v->type == MSGPACK_OBJECT_ARRAY && v->via.array.size <= MAX_PEERS;
            for (uint32_t j = 0; ok && j < v->via.array.size; j++)
                ok = nf_str(&v->via.array.ptr[j], nf->peers[j], sizeof nf->peers[j]) == 0;
            if (!ok) {
                rc = ln_errf(err, errlen, LN_ECONFIG,
                             "%s: peers must be a list of up to %d \"HOST:PORT\"", path, MAX_PEERS);
                goto done;
            }
            nf->npeers = v->via.array.size;
        } else {
            rc = ln_errf(err, errlen, LN_ECONFIG, "%s: unknown key '%.*s' (known: rpc, p2p, peers)",
                         path, kl > 40 ? 40 : kl, ks);
            goto done;
        }
    }
    rc = 0;
done:
    msgpack_zone_destroy(&z);
    free(enc);
    return rc;
}

static int run(int argc, char **argv, int dev)
{
    const char *usage = dev ? usage_dev : usage_start;
    const char *home = dev ? ".lunet/dev" : NULL, *rpc = NULL;
    const char *p2p = NULL, *config = NULL;
    const char *peers[MAX_PEERS];
    size_t npeers = 0;
    for (int i = 1; i < argc; i++) {
        const char *peer;
        if (flag(argc, argv, &i, "--peer", &peer)) {
            if (npeers == sizeof peers / sizeof peers[0]) {
                fprintf(stderr, "lunet: at most %zu --peer\n", npeers);
                return 2;
            }
            peers[npeers++] = peer;
            continue;
        }
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return 0;
        }
        if (flag(argc, argv, &i, "--home", &home) || flag(argc, argv, &i, "--rpc", &rpc) ||
            flag(argc, argv, &i, "--p2p", &p2p) || flag(argc, argv, &i, "--config", &config))
            continue;
        fprintf(stderr, "lunet %s: unknown argument '%s'\n%s", dev ? "dev" : "start", argv[i], usage);
        return 2;
    }
    if (!home) {
        fprintf(stderr, "lunet start: --home DIR is required\n");
        return 2;
    }
    static node_file nf;
    if (!dev) {
        char err[512] = "";
        if (node_file_read(home, &nf, err, sizeof err) < 0) {
            fprintf(stderr, "lunet start: %s\n", err);
            return 1;
        }
        if (!rpc && nf.rpc[0]) rpc = nf.rpc;
        if (!p2p && nf.p2p[0]) p2p = nf.p2p;
        if (npeers == 0) {               /* any --peer replaces node.lua's */
            for (size_t i = 0; i < nf.npeers; i++) peers[i] = nf.peers[i];
            npeers = nf.npeers;
        }
    }
    if (!rpc) rpc = "127.0.0.1:8765";
    if (!p2p) p2p = "127.0.0.1:7765";
    char cfgbuf[PATH_MAX];
    if (!config) {
        if (dev) {
            config = "configs/dev.lua";
            if (access(config, R_OK) != 0) {
                snprintf(cfgbuf, sizeof cfgbuf, "%s/configs/dev.lua", LN_SOURCE_DIR);
                config = cfgbuf;
            }
        } else {
            snprintf(cfgbuf, sizeof cfgbuf, "%s/config.lua", home);
            config = cfgbuf;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    uv_loop_t *loop = uv_default_loop();
    daemon_t d = { .loop = loop };
    ln_node_config cfg = { .home = home, .config = config, .rpc_addr = rpc, .p2p_addr = p2p, .dev = dev };
    char err[512] = "";
    int rc = ln_node_open(&cfg, loop, &d.node, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "lunet %s: %s\n", dev ? "dev" : "start", err[0] ? err : ln_strerror(rc));
        return 1;
    }
    if (rpc && (rc = ln_rpc_start(d.node, loop, rpc, &d.rpc)) < 0) {
        fprintf(stderr, "lunet %s: JSON-RPC on %s: %s\n", dev ? "dev" : "start", rpc,
                rc == LN_EEXIST ? "address in use" : ln_strerror(rc));
        ln_node_close(d.node);
        uv_run(loop, UV_RUN_DEFAULT);
        uv_loop_close(loop);
        return 1;
    }
    for (size_t i = 0; i < npeers; i++)
        if ((rc = ln_node_connect(d.node, peers[i])) < 0) {
            fprintf(stderr, "lunet %s: --peer %s: %s\n", dev ? "dev" : "start", peers[i],
                    ln_strerror(rc));
            ln_rpc_stop(d.rpc);
            ln_node_close(d.node);
            uv_run(loop, UV_RUN_DEFAULT);
            uv_loop_close(loop);
            return 1;
        }
    ln_node_info info;
    ln_node_info_get(d.node, &info);
    char head[2 * 32 + 1];
    ln_hex(info.head, 32, head);
    printf("lunet %s: chain %s, consensus %s, height %llu, head %.16s\n",
           dev ? "dev" : "node", info.chain_id, info.consensus,
           (unsigned long long)info.height, head);
    printf("JSON-RPC on http://%s  (data in %s)\n", rpc, home);
    if (p2p) printf("P2P on %s, %zu peer(s) to dial\n", p2p, npeers);
    uv_signal_init(loop, &d.sigint);
    uv_signal_init(loop, &d.sigterm);
    d.sigint.data = d.sigterm.data = &d;
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    if (d.node) {                 /* the loop stopped on a fatal error */
        ln_rpc_stop(d.rpc);
        ln_node_close(d.node);
        uv_close((uv_handle_t *)&d.sigint, NULL);
        uv_close((uv_handle_t *)&d.sigterm, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
        uv_loop_close(loop);
        return 1;
    }
    uv_loop_close(loop);
    return 0;
}

int ln_cmd_init(int argc, char **argv)
{
    const char *home = NULL, *config = NULL;
    int new_keys = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_init, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--new-keys")) {
            new_keys = 1;
            continue;
        }
        if (flag(argc, argv, &i, "--home", &home) || flag(argc, argv, &i, "--config", &config))
            continue;
        fprintf(stderr, "lunet init: unknown argument '%s'\n%s", argv[i], usage_init);
        return 2;
    }
    if (!home || !config) {
        fprintf(stderr, "lunet init: --home DIR and --config FILE are required\n");
        return 2;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    ln_node_config cfg = { .home = home, .config = config, .dev = new_keys };
    ln_node *node;
    char err[512] = "";
    int rc = ln_node_open(&cfg, &loop, &node, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "lunet init: %s\n", err[0] ? err : ln_strerror(rc));
        uv_loop_close(&loop);
        return 1;
    }
    ln_node_info info;
    ln_node_info_get(node, &info);
    char head[2 * 32 + 1];
    ln_hex(info.head, 32, head);
    printf("chain %s in %s: height %llu, head %s, consensus %s\n", info.chain_id, home,
           (unsigned long long)info.height, head, info.consensus);
    ln_node_close(node);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 0;
}

int ln_cmd_dev(int argc, char **argv) { return run(argc, argv, 1); }
int ln_cmd_start(int argc, char **argv) { return run(argc, argv, 0); }
