/*
** daemon.c -- `lunet dev` and `lunet start`: open the node on a libuv loop,
** run until SIGINT or SIGTERM, then close every handle and exit. A kill -9
** loses nothing committed: every block is one synced LevelDB batch.
*/
#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
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
#include "home.h"
#include "node.h"
#include "opts.h"
#include "paths.h"
#include "rpc.h"
#include "watch.h"


#define USAGE_RPC_FLAGS \
    "\n" \
    "--cors ORIGIN (repeatable) lets browser pages from ORIGIN (\"https://app.example\",\n" \
    "or \"*\" for any) call the JSON-RPC and GET routes; none by default.\n" \
    "--query-gas-max N caps each query (contract_query, GET /c/...) at N VM\n" \
    "instructions (default 10000000); queries run off the event loop.\n" \
    "\n" \
    "A --config given for a home that has a chain must make that chain (its\n" \
    "chain id and genesis); else the node does not start and says which differs.\n" \
    "--reset wipes the home's chain first (data/ and plugin/; keys stay) and\n" \
    "begins again from the config. A relative --config not found from here is\n" \
    "looked for where lunet's files are (configs/...).\n" \
    "\n" \
    "The log (stderr) has one line per event, \"HH:MM:SS LEVEL text\": a line per\n" \
    "committed block (height, transactions, gas, time) and per failed call (tx\n" \
    "hash, contract.method, error) at info, peers and consensus at info and warn,\n" \
    "what contracts log() at debug. --log-level LEVEL (debug, info, warn, error;\n" \
    "default info) drops the lines below LEVEL.\n"

static const char usage_dev[] =
    "usage: lunet dev [--home DIR] [--rpc HOST:PORT] [--p2p HOST:PORT] [--config FILE]\n"
    "                 [--peer HOST:PORT]... [--cors ORIGIN]... [--query-gas-max N]\n"
    "                 [--log-level LEVEL] [--reset] [--watch]\n"
    "\n"
    "Runs a one-validator development chain: data in DIR (default .lunet/dev),\n"
    "JSON-RPC on 127.0.0.1:8765, dev accounts alice, bob, carol, dave and eve\n"
    "funded, their keys written to DIR/keys and printed. The genesis comes from\n"
    "FILE (default configs/dev.lua) on the first start; later starts go on from\n"
    "the last committed block. Stop with Ctrl-C.\n"
    "\n"
    "--watch keeps an eye on ./contracts: an edited contracts/NAME.lua whose\n"
    "account NAME runs a contract is upgraded in place (sys.deploy signed with\n"
    "a key of DIR/keys that holds NAME@active, such as the deployer's: code\n"
    "replaced, storage kept, init not run again), then contracts/NAME_spec.lua\n"
    "runs (lunet test, in a child process); an edited spec runs too. The plugin\n"
    "files of the config's slots are watched as well (consensus/poa.lua ...;\n"
    "governance and pricing: plugins/governance/admin.lua and\n"
    "plugins/pricing/flat.lua unless the config names others, from here first):\n"
    "an edited one is proposed by the chain's admin (gov.propose plugin, its\n"
    "key from DIR/keys) and swapped two blocks on. Code that does not compile\n"
    "or load is not sent. Each step is a \"watch:\" line of the log.\n"
    USAGE_RPC_FLAGS;

static const char usage_start[] =
    "usage: lunet start --home DIR [--rpc HOST:PORT] [--p2p HOST:PORT] [--config FILE]\n"
    "                   [--peer HOST:PORT]... [--cors ORIGIN]... [--query-gas-max N]\n"
    "                   [--log-level LEVEL] [--reset]\n"
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
    "    return { rpc = \"HOST:PORT\", p2p = \"HOST:PORT\", peers = { \"HOST:PORT\", ... },\n"
    "             cors = { \"ORIGIN\", ... }, query_gas_max = N }\n"
    "Flags override it; any --peer replaces its peers, any --cors its cors.\n"
    "Without it: --rpc 127.0.0.1:8765, --p2p 127.0.0.1:7765. --config defaults\n"
    "to DIR/config.lua. Stop with Ctrl-C.\n"
    USAGE_RPC_FLAGS;

static const char usage_init[] =
    "usage: lunet init --home DIR --config FILE [--new-keys]\n"
    "\n"
    "Creates the chain in DIR from FILE's genesis (accounts, validators, the\n"
    "consensus plugin, this build's VM fingerprint), prints its genesis hash and\n"
    "exits. Keys of accounts and validators without a `key` in the config must\n"
    "be in DIR/keys/NAME.key; --new-keys creates the missing ones. A home that\n"
    "already has that chain is left as it is; one whose chain FILE does not make\n"
    "(another chain id or genesis) is refused. Then: lunet start --home DIR.\n";

typedef struct {
    uv_signal_t sigint, sigterm;
    ln_node *node;
    ln_rpc *rpc;
    ln_watch *watch;               /* dev --watch; NULL otherwise */
    uv_loop_t *loop;
} daemon_t;

static void on_signal(uv_signal_t *h, int signum)
{
    daemon_t *d = h->data;
    ln_node_log(LN_LOG_INFO, "%s: stopping", signum == SIGINT ? "SIGINT" : "SIGTERM");
    ln_watch_stop(d->watch);
    d->watch = NULL;
    ln_rpc_stop(d->rpc);
    d->rpc = NULL;
    ln_node_close(d->node);
    d->node = NULL;
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
}

#define MAX_PEERS 64
#define MAX_CORS  LN_RPC_MAX_CORS

/* HOME/node.lua: how this node runs, so `lunet start --home DIR` is the
** whole command. Other keys are refused: a misspelt one would be ignored. */
typedef struct {
    char rpc[256], p2p[256];
    char peers[MAX_PEERS][256];
    size_t npeers;
    char cors[MAX_CORS][256];
    size_t ncors;
    uint64_t query_gas_max;      /* 0: not given */
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
        } else if (kl == 4 && !memcmp(ks, "cors", 4)) {
            int ok = v->type == MSGPACK_OBJECT_ARRAY && v->via.array.size <= MAX_CORS;
            for (uint32_t j = 0; ok && j < v->via.array.size; j++)
                ok = nf_str(&v->via.array.ptr[j], nf->cors[j], sizeof nf->cors[j]) == 0;
            if (!ok) {
                rc = ln_errf(err, errlen, LN_ECONFIG,
                             "%s: cors must be a list of up to %d origins (\"https://app.example\" or \"*\")",
                             path, MAX_CORS);
                goto done;
            }
            nf->ncors = v->via.array.size;
        } else if (kl == 13 && !memcmp(ks, "query_gas_max", 13)) {
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 == 0) {
                rc = ln_errf(err, errlen, LN_ECONFIG, "%s: query_gas_max must be a positive integer",
                             path);
                goto done;
            }
            nf->query_gas_max = v->via.u64;
        } else {
            rc = ln_errf(err, errlen, LN_ECONFIG,
                         "%s: unknown key '%.*s' (known: rpc, p2p, peers, cors, query_gas_max)",
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

/* The RPC server keeps up to LN_HTTP_MAX_CONNS connections besides the
** peers and the store's files: more than a common soft limit of 1024
** descriptors. Raises the soft limit to the hard one. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static const ln_opt run_opts[] = {
    { "home", 0, LN_OPT_STR, "DIR", 0, 0, "the node's data (dev: default .lunet/dev)" },
    { "rpc", 0, LN_OPT_STR, "HOST:PORT", 0, 0, "where JSON-RPC listens (default 127.0.0.1:8765)" },
    { "p2p", 0, LN_OPT_STR, "HOST:PORT", 0, 0, "where P2P listens (default 127.0.0.1:7765)" },
    { "config", 0, LN_OPT_STR, "FILE", 0, 0, "the genesis config, read at the first start" },
    { "peer", 0, LN_OPT_LIST, "HOST:PORT", 0, 0, "a peer to dial and keep (repeatable)" },
    { "cors", 0, LN_OPT_LIST, "ORIGIN", 0, 0, "let browser pages from ORIGIN call the node (repeatable)" },
    { "query-gas-max", 0, LN_OPT_UINT, "N", 1, UINT64_MAX, "VM instructions per query (default 10000000)" },
    { "no-ready", 0, LN_OPT_FLAG, NULL, 0, 0, "as a validator, never say this node is ready for a plugin swap" },
    { "log-level", 0, LN_OPT_STR, "LEVEL", 0, 0, "debug, info (default), warn or error: the least a line must be to be logged" },
    { "reset", 0, LN_OPT_FLAG, NULL, 0, 0, "wipe DIR's chain (data/, plugin/; keys stay) and begin again from the config" },
    { "watch", 0, LN_OPT_FLAG, NULL, 0, 0, "dev: upgrade edited contracts of ./contracts in place, rerun their specs, swap edited plugin files" },
    { NULL, 0, 0, NULL, 0, 0, NULL }
};

/* --help: the command's text, then its options. */
static int help(const char *text, const ln_opt *opts)
{
    fputs(text, stdout);
    fputs("\noptions:\n", stdout);
    ln_opts_usage(stdout, opts);
    return 0;
}

/* Parses argv against opts; a usage error is printed (exit code 2). */
static int parse(const char *cmd, const ln_opt *opts, int argc, char **argv, ln_args *a)
{
    char why[256];
    if (ln_opts_parse(opts, argc, argv, a, why, sizeof why) == 0 && !a->npos) return 0;
    if (a->npos) fprintf(stderr, "lunet %s: unexpected argument '%s'", cmd, a->pos[0]);
    else fprintf(stderr, "lunet %s: %s", cmd, why);
    fprintf(stderr, " (see lunet %s --help)\n", cmd);
    ln_args_free(a);
    return 2;
}

static int run_with(int dev, const ln_args *a);

/* A --config that is not where it was said, from the working directory,
** is looked for where lunet's own files are (paths.h): `--config
** configs/consortium-bft.lua` works anywhere. 0, or -1 with the error
** printed. */
static int config_path(const char *cmd, const char *config, char *out, size_t n)
{
    if (access(config, R_OK) == 0 || ln_path_find(config, out, n) < 0) {
        if (access(config, R_OK) != 0) {
            fprintf(stderr, "lunet %s: --config %s: cannot read it\n", cmd, config);
            return -1;
        }
        snprintf(out, n, "%s", config);
    }
    return 0;
}

static int run(int argc, char **argv, int dev)
{
    const char *cmd = dev ? "dev" : "start";
    if (ln_opts_wants_help(argc, argv)) return help(dev ? usage_dev : usage_start, run_opts);
    ln_args a;
    if (parse(cmd, run_opts, argc, argv, &a)) return 2;
    const ln_optval *pv = ln_args_get(&a, "peer"), *cv = ln_args_get(&a, "cors");
    if (pv->nlist > MAX_PEERS || cv->nlist > MAX_CORS) {
        fprintf(stderr, "lunet %s: at most %d --peer and %d --cors\n", cmd, MAX_PEERS, MAX_CORS);
        ln_args_free(&a);
        return 2;
    }
    const char *lv = ln_args_str(&a, "log-level", "info");
    if (ln_log_level_of(lv) < 0) {
        fprintf(stderr, "lunet %s: --log-level '%s' is none of debug, info, warn, error "
                "(see lunet %s --help)\n", cmd, lv, cmd);
        ln_args_free(&a);
        return 2;
    }
    ln_node_log_level(ln_log_level_of(lv));
    int rc = run_with(dev, &a);
    ln_args_free(&a);
    return rc;
}

static int run_with(int dev, const ln_args *a)
{
    const char *home = ln_args_str(a, "home", dev ? ".lunet/dev" : NULL);
    const char *rpc = ln_args_str(a, "rpc", NULL), *p2p = ln_args_str(a, "p2p", NULL);
    const char *config = ln_args_str(a, "config", NULL);
    const ln_optval *pv = ln_args_get(a, "peer"), *cv = ln_args_get(a, "cors");
    const char *peers[MAX_PEERS], *cors[MAX_CORS];
    size_t npeers = pv->nlist, ncors = cv->nlist;
    for (size_t i = 0; i < npeers; i++) peers[i] = pv->list[i];
    for (size_t i = 0; i < ncors; i++) cors[i] = cv->list[i];
    uint64_t query_gas_max = ln_args_uint(a, "query-gas-max", 0);
    const char *cmd = dev ? "dev" : "start";
    if (!dev && ln_args_flag(a, "watch")) {
        fprintf(stderr, "lunet start: --watch is for lunet dev (see lunet dev --help)\n");
        return 2;
    }
    if (!home) {
        fprintf(stderr, "lunet start: --home DIR is required\n");
        return 2;
    }
    char cfgfound[PATH_MAX];
    if (config && config_path(cmd, config, cfgfound, sizeof cfgfound) < 0) return 1;
    if (config) config = cfgfound;
    char herr[1024] = "";
    if (ln_args_flag(a, "reset")) {
        if (ln_home_reset(home, herr, sizeof herr) < 0) {
            fprintf(stderr, "lunet %s: --reset: %s\n", cmd, herr);
            return 1;
        }
        printf("lunet %s: --reset: %s's chain wiped (keys kept)\n", cmd, home);
    } else if (config && ln_home_check(home, config, herr, sizeof herr) < 0) {
        fprintf(stderr, "lunet %s: %s\n", cmd, herr);
        return 1;
    }
    node_file nf;
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
        if (ncors == 0) {                /* likewise any --cors */
            for (size_t i = 0; i < nf.ncors; i++) cors[i] = nf.cors[i];
            ncors = nf.ncors;
        }
        if (!query_gas_max) query_gas_max = nf.query_gas_max;
    }
    if (!rpc) rpc = "127.0.0.1:8765";
    if (!p2p) p2p = "127.0.0.1:7765";
    char cfgbuf[PATH_MAX];
    if (!config) {
        if (dev) {
            config = ln_path_find("configs/dev.lua", cfgbuf, sizeof cfgbuf) == 0 ? cfgbuf
                                                                                  : "configs/dev.lua";
        } else {
            snprintf(cfgbuf, sizeof cfgbuf, "%s/config.lua", home);
            config = cfgbuf;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    setvbuf(stdout, NULL, _IOLBF, 0);
    uv_loop_t *loop = uv_default_loop();
    daemon_t d = { .loop = loop };
    ln_node_config cfg = { .home = home, .config = config, .rpc_addr = rpc, .p2p_addr = p2p, .dev = dev,
                           .query_gas_max = query_gas_max, .no_ready = ln_args_flag(a, "no-ready") };
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
    if (d.rpc && ncors && (rc = ln_rpc_cors(d.rpc, cors, ncors)) < 0) {
        fprintf(stderr, "lunet %s: --cors: %s\n", dev ? "dev" : "start",
                rc == LN_EINVAL ? "an origin is \"*\" or scheme://host[:port]" : ln_strerror(rc));
        ln_rpc_stop(d.rpc);
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
    if (dev && ln_args_flag(a, "watch") &&
        (rc = ln_watch_start(loop, d.node, home, "contracts", config, &d.watch)) < 0)
        fprintf(stderr, "lunet dev: --watch: %s\n", ln_strerror(rc));
    uv_signal_init(loop, &d.sigint);
    uv_signal_init(loop, &d.sigterm);
    d.sigint.data = d.sigterm.data = &d;
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    if (d.node) {                 /* the loop stopped on a fatal error */
        ln_watch_stop(d.watch);
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

static const ln_opt init_opts[] = {
    { "home", 0, LN_OPT_STR, "DIR", 0, 0, "the node's data (required)" },
    { "config", 0, LN_OPT_STR, "FILE", 0, 0, "the genesis config (required)" },
    { "new-keys", 0, LN_OPT_FLAG, NULL, 0, 0, "create the missing keys in DIR/keys" },
    { NULL, 0, 0, NULL, 0, 0, NULL }
};

int ln_cmd_init(int argc, char **argv)
{
    if (ln_opts_wants_help(argc, argv)) return help(usage_init, init_opts);
    ln_args a;
    if (parse("init", init_opts, argc, argv, &a)) return 2;
    char home[PATH_MAX], config[PATH_MAX];
    snprintf(home, sizeof home, "%s", ln_args_str(&a, "home", ""));
    snprintf(config, sizeof config, "%s", ln_args_str(&a, "config", ""));
    int new_keys = ln_args_flag(&a, "new-keys");
    ln_args_free(&a);
    if (!home[0] || !config[0]) {
        fprintf(stderr, "lunet init: --home DIR and --config FILE are required\n");
        return 2;
    }
    char found[PATH_MAX], herr[1024];
    if (config_path("init", config, found, sizeof found) < 0) return 1;
    snprintf(config, sizeof config, "%s", found);
    if (ln_home_check(home, config, herr, sizeof herr) < 0) {
        fprintf(stderr, "lunet init: %s\n", herr);
        return 1;
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
