/*
** bench_tree.c -- the cost of a reorg on LevelDB: two branches of K blocks
** and K + 1 blocks off one parent, TXS native transfers a block (each to an
** account of its own), then the head moved from one tip to the other and back
** (ln_chain_choose: the state rewound and replayed, blocks, index and
** receipts moved, one synced batch). Prints the time per reorg and per
** block reverted (the applied ones come with it), next to a plain commit.
**
**   build/bench_tree [TXS]     (default 100 transfers a block)
*/
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "chain.h"
#include "codec.h"
#include "err.h"
#include "tree.h"
#include "tx.h"

static uint8_t pk[LN_PK_LEN], sk[LN_SK_LEN];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_tree: %s: %s\n", what, ln_strerror(rc));
    exit(1);
}

static void pstr(msgpack_packer *p, const char *s)
{
    msgpack_pack_str(p, strlen(s));
    msgpack_pack_str_body(p, s, strlen(s));
}

static void transfer(uint64_t nonce, const char *to, uint8_t **out, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer p;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&p, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&p, 6);
    pstr(&p, "account"); pstr(&p, "alice");
    pstr(&p, "actions");
    msgpack_pack_array(&p, 1);
    msgpack_pack_map(&p, 3);
    pstr(&p, "args");
    msgpack_pack_array(&p, 2);
    pstr(&p, to);
    msgpack_pack_uint64(&p, 1);
    pstr(&p, "contract"); pstr(&p, "sys");
    pstr(&p, "method"); pstr(&p, "transfer");
    pstr(&p, "chain_id"); pstr(&p, "bench");
    pstr(&p, "expires"); msgpack_pack_uint64(&p, 1000000000);
    pstr(&p, "max_fee"); msgpack_pack_uint64(&p, 1000000);
    pstr(&p, "nonce"); msgpack_pack_uint64(&p, nonce);
    if (ln_tx_sign((uint8_t *)sb.data, sb.size, (const uint8_t (*)[LN_SK_LEN])sk, 1, out, len) < 0)
        die("sign", LN_EINVAL);
    msgpack_sbuffer_destroy(&sb);
}

/* A block of txs transfers on parent (nonces from *nonce on, recipients
** tag.N), imported or committed; its hash into out. */
static double block(ln_chain *c, const uint8_t parent[LN_HASH_LEN], int commit, size_t txs,
                    uint64_t *nonce, const char *tag, uint64_t time, uint8_t out[LN_HASH_LEN])
{
    uint8_t **tx = calloc(txs, sizeof *tx);
    size_t *lens = calloc(txs, sizeof *lens);
    for (size_t i = 0; i < txs; i++) {
        char to[16];
        snprintf(to, sizeof to, "%s%llu", tag, (unsigned long long)*nonce);
        transfer((*nonce)++, to, &tx[i], &lens[i]);
    }
    ln_pblock *b;
    int rc = ln_chain_build_on(c, parent, "alice", time, NULL, 0, (const uint8_t *const *)tx, lens,
                               txs, 1, 0, &b);
    if (rc < 0) die("build", rc);
    if (b->n != txs || !b->receipts[0].ok) die("build: a transfer failed", LN_EINVAL);
    memcpy(out, b->hash, LN_HASH_LEN);
    double t0 = now();
    rc = commit ? ln_chain_commit(c, b, NULL, 0) : ln_chain_import(c, b, NULL, 0);
    double t = now() - t0;
    if (rc < 0) die(commit ? "commit" : "import", rc);
    ln_pblock_free(b);
    for (size_t i = 0; i < txs; i++) free(tx[i]);
    free(tx);
    free(lens);
    return t;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb; (void)flag; (void)f;
    return remove(p);
}

int main(int argc, char **argv)
{
    size_t txs = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 100;
    if (txs < 1) txs = 1;
    ln_crypto_init();
    uint8_t seed[32] = { 9 };
    ln_keypair_seed(seed, pk, sk);
    printf("reorg on LevelDB, %zu transfers a block (each to an account of its own)\n", txs);
    const size_t ks[] = { 1, 5, 20, 50 };
    for (size_t x = 0; x < sizeof ks / sizeof ks[0]; x++) {
        size_t k = ks[x];
        char dir[] = "/tmp/bench_tree.XXXXXX", err[200];
        if (!mkdtemp(dir)) die("mkdtemp", LN_EIO);
        ln_chain *c;
        int rc = ln_chain_open(dir, &c, err, sizeof err);
        if (rc < 0) die(err, rc);
        ln_chain_set_forks(c, 1);
        ln_overlay *ov = ln_overlay_new(ln_chain_state(c));
        ln_account a;
        memset(&a, 0, sizeof a);
        snprintf(a.name, sizeof a.name, "alice");
        ln_authority_key(&a.owner, pk);
        a.active = a.owner;
        a.balance = 1000000000000ull;
        if ((rc = ln_account_save(ov, &a)) < 0) die("account", rc);
        /* The recipients, one per transfer of either branch. */
        for (size_t i = 0; i < (k + 1) * txs; i++) {
            for (int br = 0; br < 2; br++) {
                ln_account r = a;
                snprintf(r.name, sizeof r.name, "%c%u", br ? 'b' : 'a', (unsigned)(i % 10000000));
                r.balance = 0;
                if ((rc = ln_account_save(ov, &r)) < 0) die("account", rc);
            }
        }
        if ((rc = ln_chain_genesis(c, "bench", 1700000000, ov)) < 0) die("genesis", rc);
        uint8_t g[LN_HASH_LEN], ta[LN_HASH_LEN], tb[LN_HASH_LEN], p[LN_HASH_LEN];
        ln_chain_head(c, NULL, g);
        /* Branch A, committed: K blocks. Branch B, imported: K + 1. */
        uint64_t na = 0, nb = 0;
        double commit_t = 0;
        memcpy(p, g, LN_HASH_LEN);
        for (size_t i = 0; i < k; i++) {
            commit_t += block(c, p, 1, txs, &na, "a", 1700000001 + i, ta);
            memcpy(p, ta, LN_HASH_LEN);
        }
        memcpy(p, g, LN_HASH_LEN);
        for (size_t i = 0; i <= k; i++) {
            block(c, p, 0, txs, &nb, "b", 1700000001 + i, tb);
            memcpy(p, tb, LN_HASH_LEN);
        }
        /* Both ways, a few rounds: A -> B reverts K, B -> A reverts K + 1. */
        double t_ab = 0, t_ba = 0;
        int rounds = 3;
        for (int r = 0; r < rounds; r++) {
            double t0 = now();
            if ((rc = ln_chain_choose(c, tb, NULL)) < 0) die("choose", rc);
            double t1 = now();
            if ((rc = ln_chain_choose(c, ta, NULL)) < 0) die("choose back", rc);
            t_ab += t1 - t0;
            t_ba += now() - t1;
        }
        t_ab /= rounds;
        t_ba /= rounds;
        /* Each way moves 2K + 1 blocks: K (or K + 1) reverted, the others applied. */
        double per = (t_ab + t_ba) / (2 * k + 1);
        printf("K=%-3zu reorg A->B (%zu reverted, %zu applied) %7.2f ms, B->A %7.2f ms; "
               "%.2f ms per block reverted or applied (%.1f us per transfer); a commit %.2f ms\n",
               k, k, k + 1, t_ab * 1000, t_ba * 1000, per * 1000, per * 1e6 / txs,
               commit_t / k * 1000);
        ln_chain_close(c);
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
    return 0;
}
