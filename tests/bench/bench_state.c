/*
** bench_state.c -- cost of state commits: batches of 1000 random writes into
** trees of 10k, 100k and 1M keys (in memory; LevelDB for 10k and 100k), the
** BLAKE2b calls per changed key, and a token-transfer loop (4 keys per
** transfer) over an overlay with a savepoint per transfer.
** Not built by CMake yet. Build and run from the repository root:
**   gcc -std=c11 -D_GNU_SOURCE -O2 -Icore -o /tmp/bench_state \
**       tests/bench/bench_state.c core/state.c core/crypto.c core/store.c core/err.c \
**       $(pkg-config --cflags --libs libsodium libcjson) -lleveldb -Wl,--wrap=ln_hash
**   /tmp/bench_state            (all; "quick": 10k and 100k only;
**                                "memory|leveldb|transfers N": one case)
** -Wl,--wrap=ln_hash routes state.c's ln_hash calls through a counter here.
** ln_overlay_set/commit and the transfers are timed in this thread's CPU time
** (medians of the batches), ln_store_commit in wall time (it waits for fsync).
*/
#include "state.h"
#include "store.h"
#include "crypto.h"
#include "err.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH  1000
#ifndef ROUNDS
#define ROUNDS 20
#endif

static unsigned long long nhash, ntree;   /* all calls; tree nodes (65, 66 bytes) */

void __real_ln_hash(const void *p, size_t n, uint8_t out[LN_HASH_LEN]);
void __wrap_ln_hash(const void *p, size_t n, uint8_t out[LN_HASH_LEN])
{
    nhash++;
    ntree += n == 65 || n == 66;
    __real_ln_hash(p, n, out);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return rng;
}

/* Wall time, and this thread's CPU time: the machine may be shared, and
** LevelDB compacts on a thread of its own. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "%s: %s\n", what, ln_strerror(rc));
    exit(1);
}

static size_t key_of(char *buf, uint64_t i)
{
    return (size_t)sprintf(buf, "acct/%llu/balance", (unsigned long long)i);
}

static void put(ln_overlay *o, uint64_t i)
{
    char k[48];
    uint64_t v = rnd();
    int rc = ln_overlay_set(o, (uint8_t *)k, key_of(k, i), (uint8_t *)&v, sizeof v);
    if (rc < 0)
        die("set", rc);
}

static void commit(ln_store *st, ln_overlay *o, double *t_commit, double *t_store)
{
    uint8_t root[32];
    ln_batch *b = st ? ln_batch_new() : NULL;
    double t0 = cpu();
    int rc = ln_overlay_commit(o, b, root);
    if (rc < 0)
        die("commit", rc);
    *t_commit += cpu() - t0;
    double t1 = now();
    if (st && (rc = ln_store_commit(st, b)) < 0)
        die("store commit", rc);
    *t_store += now() - t1;
    ln_batch_free(b);
}

static int rm_entry(const char *p, const struct stat *sb, int f, struct FTW *w)
{
    (void)sb; (void)f; (void)w;
    return remove(p);
}

/* Fills a tree with n keys, then times ROUNDS commits of BATCH random
** writes (90% updates of existing keys, 10% new keys). */
static void bench_tree(size_t n, int leveldb)
{
    char dir[] = "/tmp/ln_bench_state_XXXXXX";
    ln_store *st = NULL;
    ln_state *s;
    int rc;
    if (leveldb) {
        if (!mkdtemp(dir) || (rc = ln_store_open(dir, &st)) < 0)
            die("store open", leveldb ? LN_EIO : 0);
    }
    if ((rc = ln_state_open(st, &s)) < 0)
        die("state open", rc);
    ln_overlay *o = ln_overlay_new(s);
    double tc = 0, ts = 0;
    double t0 = now();
    for (size_t i = 0; i < n; i++) {
        put(o, i);
        if ((i + 1) % 100000 == 0 || i + 1 == n)
            commit(st, o, &tc, &ts);
    }
    double tfill = now() - t0;

    /* per-batch times; the medians resist the noise of a shared machine.
    ** The tree is all in memory here (it was built in this process). */
    size_t next = n;
    double vc[ROUNDS], vs[ROUNDS], vset[ROUNDS], cold = 0;
    nhash = ntree = 0;
    for (int r = 0; r < ROUNDS; r++) {
        double a = cpu();
        for (int i = 0; i < BATCH; i++)
            put(o, rnd() % 10 ? rnd() % n : next++);
        vset[r] = cpu() - a;
        tc = ts = 0;
        commit(st, o, &tc, &ts);
        vc[r] = tc;
        vs[r] = ts;
    }
    unsigned long long nh = nhash, nt = ntree;
    if (leveldb) {              /* and once more with a cold node cache, as after a restart */
        ln_overlay_free(o);
        ln_state_close(s);
        if ((rc = ln_state_open(st, &s)) < 0)
            die("state reopen", rc);
        o = ln_overlay_new(s);
        for (int i = 0; i < BATCH; i++)
            put(o, rnd() % 10 ? rnd() % n : next++);
        tc = ts = 0;
        commit(st, o, &tc, &ts);
        cold = tc;
    }
    double per = 1e6 / BATCH;
    printf("%-7s %7zu keys: commit %5.2f us/key, hashes/key %4.1f (tree nodes %4.1f),"
           " overlay set %4.2f us/key",
           leveldb ? "leveldb" : "memory", n, median(vc, ROUNDS) * per,
           (double)nh / (ROUNDS * BATCH), (double)nt / (ROUNDS * BATCH),
           median(vset, ROUNDS) * per);
    if (leveldb)
        printf(", ln_store_commit %5.2f us/key; after reopen (cold cache) commit %5.2f us/key",
               median(vs, ROUNDS) * per, cold * per);
    printf("  [fill %.1f s]\n", tfill);
    fflush(stdout);
    ln_overlay_free(o);
    ln_state_close(s);
    if (leveldb) {
        ln_store_close(st);
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

/* A token transfer: savepoint, read two balances, write them, write the
** sender's nonce and a receipt key, release. A block of BATCH/4 transfers
** is then committed. Reports execution + state update per transfer. */
static void bench_transfers(size_t n)
{
    ln_state *s;
    int rc;
    if ((rc = ln_state_open(NULL, &s)) < 0)
        die("state open", rc);
    ln_overlay *o = ln_overlay_new(s);
    double tc = 0, ts = 0;
    for (size_t i = 0; i < n; i++)
        put(o, i);
    commit(NULL, o, &tc, &ts);

    int blocks = 40, per_block = BATCH / 4;
    char k[64];
    uint64_t seq = 0;
    double t0 = cpu();
    tc = 0;
    for (int b = 0; b < blocks; b++) {
        for (int t = 0; t < per_block; t++) {
            uint64_t from = rnd() % n, to = rnd() % n, bal[2] = { 0, 0 };
            const uint8_t *v;
            size_t vl, kl;
            ln_overlay_begin(o);
            for (int side = 0; side < 2; side++) {
                kl = key_of(k, side ? to : from);
                if (ln_overlay_get(o, (uint8_t *)k, kl, &v, &vl) == 0 && vl == 8)
                    memcpy(&bal[side], v, 8);
            }
            bal[0] -= 1;
            bal[1] += 1;
            for (int side = 0; side < 2; side++) {
                kl = key_of(k, side ? to : from);
                ln_overlay_set(o, (uint8_t *)k, kl, (uint8_t *)&bal[side], 8);
            }
            kl = (size_t)sprintf(k, "acct/%llu/nonce", (unsigned long long)from);
            ln_overlay_set(o, (uint8_t *)k, kl, (uint8_t *)&seq, 8);
            kl = (size_t)sprintf(k, "receipt/%llu", (unsigned long long)seq++);
            ln_overlay_set(o, (uint8_t *)k, kl, (uint8_t *)&seq, 8);
            ln_overlay_release(o);
        }
        commit(NULL, o, &tc, &ts);
    }
    double total = cpu() - t0, nt = (double)blocks * per_block;
    printf("transfers into %zu keys: %.2f us/transfer (state commit %.2f us of it)\n",
           n, total * 1e6 / nt, tc * 1e6 / nt);
    ln_overlay_free(o);
    ln_state_close(s);
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && strcmp(argv[1], "quick") == 0;
    if (ln_crypto_init() < 0)
        die("crypto init", LN_EINVAL);
    if (argc == 3) {            /* one case: memory|leveldb|transfers N */
        size_t n = (size_t)strtoull(argv[2], NULL, 10);
        if (strcmp(argv[1], "transfers") == 0)
            bench_transfers(n);
        else
            bench_tree(n, strcmp(argv[1], "leveldb") == 0);
        return 0;
    }
    printf("batches of %d random writes (90%% updates, 10%% new keys), %d rounds;\n"
           "hashes/key counts every BLAKE2b call (key and value hashes included)\n",
           BATCH, ROUNDS);
    bench_tree(10000, 0);
    bench_tree(100000, 0);
    if (!quick)
        bench_tree(1000000, 0);
    bench_tree(10000, 1);
    bench_tree(100000, 1);
    bench_transfers(10000);
    if (!quick)
        bench_transfers(1000000);
    return 0;
}
