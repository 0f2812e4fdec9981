/* test_chain.c -- blocks, receipts and head on LevelDB, across reopen and crash. */
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "account.h"
#include "chain.h"
#include "codec.h"
#include "err.h"
#include "tx.h"

static uint8_t pk[LN_PK_LEN], sk[LN_SK_LEN];

static void tmpdir(char *buf, size_t n) { ln_test_tmpdir(buf, n, "chain"); }

static void pstr(msgpack_packer *p, const char *s)
{
    msgpack_pack_str(p, strlen(s));
    msgpack_pack_str_body(p, s, strlen(s));
}

/* alice sends `amount` of the native balance to bob. */
static void transfer_tx(uint64_t nonce, uint64_t amount, uint8_t **out, size_t *len)
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
    pstr(&p, "bob");
    msgpack_pack_uint64(&p, amount);
    pstr(&p, "contract"); pstr(&p, "sys");
    pstr(&p, "method"); pstr(&p, "transfer");
    pstr(&p, "chain_id"); pstr(&p, "test");
    pstr(&p, "expires"); msgpack_pack_uint64(&p, 1000000);
    pstr(&p, "max_fee"); msgpack_pack_uint64(&p, 100000);
    pstr(&p, "nonce"); msgpack_pack_uint64(&p, nonce);
    ASSERT_EQ(ln_tx_sign((uint8_t *)sb.data, sb.size, (const uint8_t (*)[LN_SK_LEN])sk, 1, out, len), 0);
    msgpack_sbuffer_destroy(&sb);
}

static ln_chain *open_with_genesis(const char *dir)
{
    ln_chain *c;
    char err[200];
    ASSERT_EQ(ln_chain_open(dir, &c, err, sizeof err), 0);
    if (ln_chain_head(c, NULL, NULL) == LN_ENOTFOUND) {
        ln_crypto_init();
        uint8_t seed[32] = { 7 };
        ln_keypair_seed(seed, pk, sk);
        ln_overlay *ov = ln_overlay_new(ln_chain_state(c));
        const char *names[] = { "alice", "bob" };
        for (int i = 0; i < 2; i++) {
            ln_account a;
            memset(&a, 0, sizeof a);
            snprintf(a.name, sizeof a.name, "%s", names[i]);
            ln_authority_key(&a.owner, pk);
            a.active = a.owner;
            a.balance = 1000000000;
            ASSERT_EQ(ln_account_save(ov, &a), 0);
        }
        ASSERT_EQ(ln_chain_genesis(c, "test", 1700000000, ov), 0);
    }
    return c;
}

static void commit_block(ln_chain *c, uint64_t nonce, uint64_t amount)
{
    uint8_t *tx;
    size_t len;
    transfer_tx(nonce, amount, &tx, &len);
    const uint8_t *txs[1] = { tx };
    ln_pblock *b;
    ASSERT_EQ(ln_chain_build(c, "alice", 1700000000 + nonce + 1, txs, &len, 1, 0, 0, &b), 0);
    ASSERT_EQ(b->n, 1);
    ASSERT(b->receipts[0].ok);
    ASSERT_EQ(ln_chain_commit(c, b, NULL, 0), 0);
    ln_pblock_free(b);
    free(tx);
}

static uint64_t balance(ln_chain *c, const char *name)
{
    uint8_t key[16], *v;
    size_t kl = ln_account_key(name, key), vl;
    ASSERT_EQ(ln_state_get(ln_chain_state(c), key, kl, &v, &vl), 0);
    ln_account a;
    memset(&a, 0, sizeof a);
    ASSERT_EQ(ln_account_decode(v, vl, &a), 0);
    free(v);
    return a.balance;
}

TEST(chain_genesis_is_height_zero_and_survives_reopen)
{
    char dir[64];
    tmpdir(dir, sizeof dir);
    ln_chain *c = open_with_genesis(dir);
    ln_header h;
    uint8_t hash[LN_HASH_LEN], hash2[LN_HASH_LEN];
    ASSERT_EQ(ln_chain_head(c, &h, hash), 0);
    ASSERT_EQ(h.height, 0);
    ASSERT_STR(h.chain_id, "test");
    ln_chain_close(c);
    char err[200];
    ASSERT_EQ(ln_chain_open(dir, &c, err, sizeof err), 0);
    ASSERT_EQ(ln_chain_head(c, &h, hash2), 0);
    ASSERT_MEM(hash, hash2, LN_HASH_LEN);
    ln_chain_close(c);
    ln_test_rmtree(dir);
}

TEST(chain_commit_advances_head_and_stores_block_and_receipt)
{
    char dir[64];
    tmpdir(dir, sizeof dir);
    ln_chain *c = open_with_genesis(dir);
    uint8_t *tx;
    size_t len;
    transfer_tx(0, 5, &tx, &len);
    const uint8_t *txs[1] = { tx };
    ln_pblock *b;
    ASSERT_EQ(ln_chain_build(c, "alice", 1700000001, txs, &len, 1, 0, 0, &b), 0);
    uint8_t id[LN_HASH_LEN], bh[LN_HASH_LEN];
    memcpy(id, b->receipts[0].txid, LN_HASH_LEN);
    memcpy(bh, b->hash, LN_HASH_LEN);
    ASSERT_EQ(ln_chain_commit(c, b, NULL, 0), 0);
    ln_pblock_free(b);
    free(tx);

    ln_header h;
    uint8_t hash[LN_HASH_LEN];
    ASSERT_EQ(ln_chain_head(c, &h, hash), 0);
    ASSERT_EQ(h.height, 1);
    ASSERT_MEM(hash, bh, LN_HASH_LEN);
    uint8_t *blk, *rec;
    size_t bl, rl;
    ASSERT_EQ(ln_chain_block(c, 1, &blk, &bl), 0);
    ASSERT_EQ(ln_codec_check(blk, bl), 0);
    free(blk);
    ASSERT_EQ(ln_chain_block_by_hash(c, bh, &blk, &bl), 0);
    free(blk);
    ASSERT_EQ(ln_chain_receipt(c, id, &rec, &rl), 0);
    ASSERT_EQ(ln_codec_check(rec, rl), 0);
    free(rec);
    ASSERT_EQ(balance(c, "bob"), 1000000005);
    ln_chain_close(c);
    ln_test_rmtree(dir);
}

TEST(chain_refuses_a_block_not_built_on_the_head)
{
    char dir[64];
    tmpdir(dir, sizeof dir);
    ln_chain *c = open_with_genesis(dir);
    uint8_t *tx;
    size_t len;
    transfer_tx(0, 5, &tx, &len);
    const uint8_t *txs[1] = { tx };
    ln_pblock *b1, *b2;
    ASSERT_EQ(ln_chain_build(c, "alice", 1700000001, txs, &len, 1, 0, 0, &b1), 0);
    ASSERT_EQ(ln_chain_commit(c, b1, NULL, 0), 0);
    ln_pblock_free(b1);
    /* Built on the old head: stale. */
    ASSERT_EQ(ln_chain_build(c, "alice", 1700000002, txs, &len, 1, 0, 0, &b2), 0);
    b2->hdr.height = 1;
    ASSERT_EQ(ln_chain_commit(c, b2, NULL, 0), LN_EBADBLOCK);
    ln_pblock_free(b2);
    free(tx);
    ln_chain_close(c);
    ln_test_rmtree(dir);
}

TEST(chain_leaves_refused_transactions_out_of_the_block)
{
    char dir[64];
    tmpdir(dir, sizeof dir);
    ln_chain *c = open_with_genesis(dir);
    uint8_t *good, *replay;
    size_t gl, rl;
    transfer_tx(0, 5, &good, &gl);
    transfer_tx(0, 6, &replay, &rl);          /* same nonce: refused */
    const uint8_t *txs[2] = { good, replay };
    size_t lens[2] = { gl, rl };
    ln_pblock *b;
    ASSERT_EQ(ln_chain_build(c, "alice", 1700000001, txs, lens, 2, 0, 0, &b), 0);
    ASSERT_EQ(b->n, 1);
    ASSERT_EQ(b->refused, 1);
    ASSERT_EQ(ln_chain_commit(c, b, NULL, 0), 0);
    ln_pblock_free(b);
    free(good);
    free(replay);
    ASSERT_EQ(balance(c, "bob"), 1000000005);
    ln_chain_close(c);
    ln_test_rmtree(dir);
}

TEST(chain_gas_cap_defers_the_rest_without_refusing_it)
{
    char dir[64];
    tmpdir(dir, sizeof dir);
    ln_chain *c = open_with_genesis(dir);
    uint8_t *t0, *t1, *t2;
    size_t l[3];
    transfer_tx(0, 1, &t0, &l[0]);
    transfer_tx(1, 1, &t1, &l[1]);
    transfer_tx(2, 1, &t2, &l[2]);
    const uint8_t *txs[3] = { t0, t1, t2 };
    ln_pblock *b;
    /* A cap of 1 gas: the first transaction starts, nothing after it. */
    ASSERT_EQ(ln_chain_build(c, "alice", 1700000001, txs, l, 3, 0, 1, &b), 0);
    ASSERT_EQ(b->n, 1);
    ASSERT_EQ(b->refused, 0);
    ASSERT_EQ(ln_chain_commit(c, b, NULL, 0), 0);
    ln_pblock_free(b);
    /* The deferred two go into the next block. */
    ASSERT_EQ(ln_chain_build(c, "alice", 1700000002, txs + 1, l + 1, 2, 0, 0, &b), 0);
    ASSERT_EQ(b->n, 2);
    ASSERT_EQ(ln_chain_commit(c, b, NULL, 0), 0);
    ln_pblock_free(b);
    ASSERT_EQ(balance(c, "bob"), 1000000003);
    free(t0);
    free(t1);
    free(t2);
    ln_chain_close(c);
    ln_test_rmtree(dir);
}

/* A child commits blocks in a loop and is killed; after reopen the head is
** a whole block whose state root matches the stored state. */
TEST(chain_kill_during_commits_keeps_head_and_state_consistent)
{
    char dir[64];
    tmpdir(dir, sizeof dir);
    ln_chain *c = open_with_genesis(dir);
    ln_chain_close(c);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        char err[200];
        ln_chain *cc;
        if (ln_chain_open(dir, &cc, err, sizeof err) < 0) _exit(3);
        for (uint64_t i = 0;; i++) commit_block(cc, i, 1);
    }
    usleep(300000);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    char err[200];
    ASSERT_EQ(ln_chain_open(dir, &c, err, sizeof err), 0);   /* checks root == head's */
    ln_header h;
    ASSERT_EQ(ln_chain_head(c, &h, NULL), 0);
    ASSERT(h.height > 0);
    /* Every committed block moved exactly 1 to bob. */
    ASSERT_EQ(balance(c, "bob"), 1000000000 + h.height);
    for (uint64_t i = 1; i <= h.height; i++) {
        uint8_t *blk;
        size_t bl;
        ASSERT_EQ(ln_chain_block(c, i, &blk, &bl), 0);
        free(blk);
    }
    ln_chain_close(c);
    ln_test_rmtree(dir);
}

/* The store refuses the block's batch (the file size limit makes LevelDB's
** log write fail): the commit reports it and the chain stays what the store
** holds -- head, state root and balances -- in memory and after reopen. */
TEST(chain_failed_commit_leaves_memory_as_the_store_has_it)
{
    char dir[64];
    tmpdir(dir, sizeof dir);
    ln_chain *c = open_with_genesis(dir);
    commit_block(c, 0, 1);
    ln_header h0;
    uint8_t hash0[LN_HASH_LEN], root0[LN_HASH_LEN];
    ASSERT_EQ(ln_chain_head(c, &h0, hash0), 0);
    ln_state_root(ln_chain_state(c), root0);
    ASSERT_MEM(root0, h0.state_root, LN_HASH_LEN);

    uint8_t *tx;
    size_t len;
    transfer_tx(1, 7, &tx, &len);
    const uint8_t *txs[1] = { tx };
    ln_pblock *b;
    ASSERT_EQ(ln_chain_build(c, "alice", 1700000010, txs, &len, 1, 0, 0, &b), 0);
    ASSERT_EQ(b->n, 1);
    /* Make the batch bigger than the limit below (and keep the header true). */
    static uint8_t big[512 * 1024];
    memset(big, 'x', sizeof big);
    for (int i = 0; i < 4; i++) {
        uint8_t k[8] = { 'b', 'i', 'g', (uint8_t)('0' + i) };
        ASSERT_EQ(ln_overlay_set(b->ov, k, 4, big, sizeof big), 0);
    }
    ASSERT_EQ(ln_overlay_root(b->ov, b->hdr.state_root), 0);
    ln_header_hash(&b->hdr, b->hash);

    struct rlimit old, lim;
    ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 256 * 1024;
    signal(SIGXFSZ, SIG_IGN);
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = ln_chain_commit(c, b, NULL, 0);
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old), 0);
    ASSERT(rc < 0);
    /* Not twice: the block's writes are spent. */
    ASSERT(ln_chain_commit(c, b, NULL, 0) < 0);
    ln_pblock_free(b);

    ln_header h;
    uint8_t hash[LN_HASH_LEN], root[LN_HASH_LEN];
    ASSERT_EQ(ln_chain_head(c, &h, hash), 0);
    ASSERT_EQ(h.height, h0.height);
    ASSERT_MEM(hash, hash0, LN_HASH_LEN);
    ln_state_root(ln_chain_state(c), root);
    ASSERT_MEM(root, root0, LN_HASH_LEN);
    ASSERT_EQ(balance(c, "bob"), 1000000001);
    uint8_t *v;
    size_t vl;
    ASSERT_EQ(ln_state_get(ln_chain_state(c), (const uint8_t *)"big0", 4, &v, &vl), LN_ENOTFOUND);
    ln_chain_close(c);

    char err[200];
    ASSERT_EQ(ln_chain_open(dir, &c, err, sizeof err), 0);
    ASSERT_EQ(ln_chain_head(c, &h, hash), 0);
    ASSERT_MEM(hash, hash0, LN_HASH_LEN);
    ASSERT_EQ(balance(c, "bob"), 1000000001);
    /* The next block goes on from the head. */
    commit_block(c, 1, 7);
    ASSERT_EQ(balance(c, "bob"), 1000000008);
    free(tx);
    ln_chain_close(c);
    ln_test_rmtree(dir);
}

TEST(merkle_root_of_known_leaves)
{
    uint8_t l[3][LN_HASH_LEN], root[LN_HASH_LEN], want[LN_HASH_LEN], ab[LN_HASH_LEN];
    for (int i = 0; i < 3; i++) memset(l[i], i + 1, LN_HASH_LEN);
    ln_merkle_root((const uint8_t (*)[LN_HASH_LEN])l, 0, root);
    uint8_t zero[LN_HASH_LEN] = { 0 };
    ASSERT_MEM(root, zero, LN_HASH_LEN);
    ln_merkle_root((const uint8_t (*)[LN_HASH_LEN])l, 1, root);
    ASSERT_MEM(root, l[0], LN_HASH_LEN);
    /* three leaves: H(H(a||b) || c) */
    ln_hasher h;
    ln_hash_init(&h);
    ln_hash_update(&h, l[0], LN_HASH_LEN);
    ln_hash_update(&h, l[1], LN_HASH_LEN);
    ln_hash_final(&h, ab);
    ln_hash_init(&h);
    ln_hash_update(&h, ab, LN_HASH_LEN);
    ln_hash_update(&h, l[2], LN_HASH_LEN);
    ln_hash_final(&h, want);
    ln_merkle_root((const uint8_t (*)[LN_HASH_LEN])l, 3, root);
    ASSERT_MEM(root, want, LN_HASH_LEN);
}

static const ln_test tests[] = {
    T(chain_genesis_is_height_zero_and_survives_reopen),
    T(chain_commit_advances_head_and_stores_block_and_receipt),
    T(chain_refuses_a_block_not_built_on_the_head),
    T(chain_leaves_refused_transactions_out_of_the_block),
    T(chain_gas_cap_defers_the_rest_without_refusing_it),
    T(chain_kill_during_commits_keeps_head_and_state_consistent),
    T(chain_failed_commit_leaves_memory_as_the_store_has_it),
    T(merkle_root_of_known_leaves),
    { 0, 0 }
};
LN_TEST_MAIN(tests)
