/*
** bench_exec.c -- transactions applied per second: token transfers from 50
** funded senders to distinct fresh recipients, in blocks of 1000, over an
** in-memory state. Measures the whole path (strict decode, signature
** checks, authority, metered contract call, fee, state root) and the same
** with signatures already verified (as on the node that admitted them),
** by the clock and in CPU time (steadier on a shared machine).
**
**   build/bench_exec [TXS [pre|all [PLUGIN]]]
**       TXS     transfers (default 20000; `make bench` runs it)
**       pre     runs only the pre-verified pass (for profiling)
**       PLUGIN  a pricing plugin (plugins/pricing/flat.lua) in the
**               registry; without one the built-in rule prices
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "exec.h"
#include "registry.h"
#include "state.h"
#include "tx.h"

#ifndef LN_SOURCE_DIR
#define LN_SOURCE_DIR "."
#endif

#define SENDERS 50
#define BLOCK   1000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds of this thread: steadier than the clock on a shared machine. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double pre_cpu;               /* CPU seconds of the last run's blocks */

static void pstr(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* Signed transaction with one action; args packed by the callback. */
typedef void (*argfn)(msgpack_packer *pk, const void *ud);

static void make_tx(const char *account, const uint8_t sk[LN_SK_LEN], uint64_t nonce,
                    const char *contract, const char *method, argfn args, const void *ud,
                    uint8_t **out, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    pstr(&pk, "account"); pstr(&pk, account);
    pstr(&pk, "actions");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 3);
    pstr(&pk, "args"); args(&pk, ud);
    pstr(&pk, "contract"); pstr(&pk, contract);
    pstr(&pk, "method"); pstr(&pk, method);
    pstr(&pk, "chain_id"); pstr(&pk, "bench");
    pstr(&pk, "expires"); msgpack_pack_uint64(&pk, 1000000);
    pstr(&pk, "max_fee"); msgpack_pack_uint64(&pk, 1000000);
    pstr(&pk, "nonce"); msgpack_pack_uint64(&pk, nonce);
    if (ln_tx_sign((uint8_t *)sb.data, sb.size, (const uint8_t (*)[LN_SK_LEN])sk, 1, out, len) < 0) {
        fprintf(stderr, "sign failed\n");
        exit(1);
    }
    msgpack_sbuffer_destroy(&sb);
}

typedef struct { const char *to; uint64_t amount; const char *src; size_t srclen; } targs;

static void transfer_args(msgpack_packer *pk, const void *ud)
{
    const targs *a = ud;
    msgpack_pack_array(pk, 2);
    pstr(pk, a->to);
    msgpack_pack_uint64(pk, a->amount);
}

static void deploy_args(msgpack_packer *pk, const void *ud)
{
    const targs *a = ud;
    msgpack_pack_array(pk, 4);
    pstr(pk, "token");
    msgpack_pack_str(pk, a->srclen);
    msgpack_pack_str_body(pk, a->src, a->srclen);
    pstr(pk, "LUN");
    msgpack_pack_uint64(pk, 1000000000000ull);
}

static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long l = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)l);
    *n = fread(b, 1, (size_t)l, f);
    fclose(f);
    return b;
}

static uint64_t height = 0;
static const char *plugin;          /* the pricing plugin's file, or NULL */

static void apply(ln_state *st, uint8_t **txs, size_t *lens, size_t n, int verified,
                  int *failures)
{
    ln_blockctx bc = { "bench", ++height, 1700000000 + height, { 0 }, 1, 0, NULL, NULL, NULL };
    ln_receipt *rs = calloc(n, sizeof *rs);
    ln_overlay *ov = ln_overlay_new(st);
    uint8_t root[LN_HASH_LEN];
    ln_exec_block(ov, &bc, (const uint8_t *const *)txs, lens, n, verified, rs);
    ln_overlay_commit(ov, NULL, root);
    ln_overlay_free(ov);
    for (size_t i = 0; i < n; i++) {
        if (!rs[i].ok) {
            if (*failures < 3)
                fprintf(stderr, "tx %zu failed: %s\n", i, rs[i].error ? rs[i].error : "?");
            (*failures)++;
        }
        ln_receipt_free(&rs[i]);
    }
    free(rs);
}

/* Builds a fresh chain with SENDERS token holders; returns the state. */
static ln_state *setup(uint8_t sks[SENDERS + 1][LN_SK_LEN], char names[SENDERS + 1][16])
{
    ln_state *st;
    ln_state_open(NULL, &st);
    ln_overlay *ov = ln_overlay_new(st);
    for (int i = 0; i <= SENDERS; i++) {
        uint8_t pk[LN_PK_LEN], seed[32] = { 0 };
        seed[0] = (uint8_t)i;
        ln_keypair_seed(seed, pk, sks[i]);
        snprintf(names[i], 16, i == 0 ? "alice" : "sender%d", i);
        ln_account a;
        memset(&a, 0, sizeof a);
        snprintf(a.name, sizeof a.name, "%s", names[i]);
        ln_authority_key(&a.owner, pk);
        a.active = a.owner;
        a.balance = 1000000000000ull;
        ln_account_save(ov, &a);
    }
    if (plugin) {
        size_t cl;
        char *code = read_file(plugin, &cl);
        if (!code || ln_registry_install(ov, LN_SLOT_PRICING, "bench", code, cl, NULL, 0, 0) < 0) {
            fprintf(stderr, "cannot install %s\n", plugin);
            exit(1);
        }
        free(code);
    }
    uint8_t root[LN_HASH_LEN];
    ln_overlay_commit(ov, NULL, root);
    ln_overlay_free(ov);

    size_t srclen;
    char *src = read_file(LN_SOURCE_DIR "/contracts/token.lua", &srclen);
    if (!src) {
        fprintf(stderr, "cannot read contracts/token.lua\n");
        exit(1);
    }
    uint8_t *txs[SENDERS];
    size_t lens[SENDERS];
    int fails = 0;
    targs d = { NULL, 0, src, srclen };
    make_tx("alice", sks[0], 0, "sys", "deploy", deploy_args, &d, &txs[0], &lens[0]);
    apply(st, txs, lens, 1, 0, &fails);
    free(txs[0]);
    for (int i = 1; i <= SENDERS; i++) {
        targs t = { names[i], 1000000000, NULL, 0 };
        make_tx("alice", sks[0], (uint64_t)i, "token", "transfer", transfer_args, &t,
                &txs[i - 1], &lens[i - 1]);
    }
    apply(st, txs, lens, SENDERS, 0, &fails);
    for (int i = 0; i < SENDERS; i++) free(txs[i]);
    free(src);
    if (fails) {
        fprintf(stderr, "setup failed\n");
        exit(1);
    }
    return st;
}

static double run(int ntx, int verified, int *failures)
{
    static uint8_t sks[SENDERS + 1][LN_SK_LEN];
    static char names[SENDERS + 1][16];
    ln_state *st = setup(sks, names);
    uint8_t **txs = calloc((size_t)ntx, sizeof *txs);
    size_t *lens = calloc((size_t)ntx, sizeof *lens);
    char (*to)[16] = calloc((size_t)ntx, 16);
    for (int i = 0; i < ntx; i++) {
        int s = i % SENDERS + 1;
        snprintf(to[i], 16, "r%d", i);
        targs t = { to[i], 1, NULL, 0 };
        make_tx(names[s], sks[s], (uint64_t)(i / SENDERS), "token", "transfer",
                transfer_args, &t, &txs[i], &lens[i]);
    }
    double t0 = now(), c0 = cpu_now();
    for (int i = 0; i < ntx; i += BLOCK) {
        int n = ntx - i < BLOCK ? ntx - i : BLOCK;
        apply(st, txs + i, lens + i, (size_t)n, verified, failures);
    }
    double dt = now() - t0;
    pre_cpu = cpu_now() - c0;
    for (int i = 0; i < ntx; i++) free(txs[i]);
    free(txs);
    free(lens);
    free(to);
    ln_state_close(st);
    return dt;
}

int main(int argc, char **argv)
{
    int ntx = argc > 1 ? atoi(argv[1]) : 20000;
    ln_crypto_init();
    int fails = 0;
    int only_pre = argc > 2 && strcmp(argv[2], "pre") == 0;   /* for profiling */
    plugin = argc > 3 ? argv[3] : NULL;
    double full = only_pre ? 1 : run(ntx, 0, &fails);
    double pre = run(ntx, 1, &fails);
    if (fails) {
        fprintf(stderr, "%d transfers failed\n", fails);
        return 1;
    }
    printf("token transfers, %d txs in blocks of %d, %d senders, fresh recipients, priced by %s\n",
           ntx, BLOCK, SENDERS, plugin ? plugin : "the built-in rule");
    printf("  with signature checks:   %8.0f tx/s  %6.2f us/tx\n", ntx / full, full / ntx * 1e6);
    printf("  signatures pre-verified: %8.0f tx/s  %6.2f us/tx (execution + state update)\n",
           ntx / pre, pre / ntx * 1e6);
    printf("  the same in CPU time:    %8.0f tx/s  %6.2f us/tx\n", ntx / pre_cpu, pre_cpu / ntx * 1e6);
    return 0;
}
