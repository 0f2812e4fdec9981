/* test_tree.c -- the block tree on LevelDB: blocks imported off the head,
** reorgs to either branch and back, finality and pruning, a reorg killed
** midway, and the state after a reorg against a chain that only ever saw
** the winning branch. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "account.h"
#include "chain.h"
#include "codec.h"
#include "err.h"
#include "tree.h"
#include "tx.h"

static uint8_t pk[LN_PK_LEN], sk[LN_SK_LEN];

static void pstr(msgpack_packer *p, const char *s)
{
    msgpack_pack_str(p, strlen(s));
    msgpack_pack_str_body(p, s, strlen(s));
}

/* alice sends `amount` to `to`. */
static void transfer_tx(uint64_t nonce, const char *to, uint64_t amount, uint8_t **out, size_t *len)
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

static ln_chain *open_chain(const char *dir, int forks)
{
    ln_chain *c;
    char err[200];
    ASSERT_EQ(ln_chain_open(dir, &c, err, sizeof err), 0);
    ln_chain_set_forks(c, forks);
    if (ln_chain_head(c, NULL, NULL) == LN_ENOTFOUND) {
        ln_crypto_init();
        uint8_t seed[32] = { 7 };
        ln_keypair_seed(seed, pk, sk);
        ln_overlay *ov = ln_overlay_new(ln_chain_state(c));
        const char *names[] = { "alice", "bob", "carol" };
        for (int i = 0; i < 3; i++) {
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

/* A block on parent with alice's transfer (nonce, to, amount), no cert. */
static ln_pblock *block_on(ln_chain *c, const uint8_t parent[LN_HASH_LEN], uint64_t nonce,
                           const char *to, uint64_t amount, uint64_t time)
{
    uint8_t *tx;
    size_t len;
    transfer_tx(nonce, to, amount, &tx, &len);
    const uint8_t *txs[1] = { tx };
    ln_pblock *b;
    ASSERT_EQ(ln_chain_build_on(c, parent, "alice", time, NULL, 0, txs, &len, 1, 0, 0, &b), 0);
    ASSERT_EQ(b->n, 1);
    ASSERT(b->receipts[0].ok);
    free(tx);
    return b;
}

/* Commits on the head; its hash into out. */
static void commit_on_head(ln_chain *c, uint64_t nonce, const char *to, uint64_t amount,
                           uint64_t time, uint8_t out[LN_HASH_LEN])
{
    uint8_t head[LN_HASH_LEN];
    ASSERT_EQ(ln_chain_head(c, NULL, head), 0);
    ln_pblock *b = block_on(c, head, nonce, to, amount, time);
    memcpy(out, b->hash, LN_HASH_LEN);
    ASSERT_EQ(ln_chain_commit(c, b, NULL, 0), 0);
    ln_pblock_free(b);
}

static void import_on(ln_chain *c, const uint8_t parent[LN_HASH_LEN], uint64_t nonce,
                      const char *to, uint64_t amount, uint64_t time, uint8_t out[LN_HASH_LEN])
{
    ln_pblock *b = block_on(c, parent, nonce, to, amount, time);
    memcpy(out, b->hash, LN_HASH_LEN);
    ASSERT_EQ(ln_chain_import(c, b, NULL, 0), 0);
    ln_pblock_free(b);
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

static void head_is(ln_chain *c, const uint8_t hash[LN_HASH_LEN], uint64_t height)
{
    ln_header h;
    uint8_t hh[LN_HASH_LEN], root[LN_HASH_LEN];
    ASSERT_EQ(ln_chain_head(c, &h, hh), 0);
    ASSERT_MEM(hh, hash, LN_HASH_LEN);
    ASSERT_EQ(h.height, height);
    ln_state_root(ln_chain_state(c), root);
    ASSERT_MEM(root, h.state_root, LN_HASH_LEN);
}

static int has_receipt(ln_chain *c, const uint8_t id[LN_HASH_LEN])
{
    uint8_t *r;
    size_t rl;
    int rc = ln_chain_receipt(c, id, &r, &rl);
    if (rc == 0) free(r);
    return rc == 0;
}

/* Branch A: genesis, a1 (bob 10), a2 (bob 20); branch B: genesis, b1 (carol
** 5), b2, b3 (carol 6, 7), imported off the head. */
typedef struct {
    uint8_t g[LN_HASH_LEN], a1[LN_HASH_LEN], a2[LN_HASH_LEN];
    uint8_t b1[LN_HASH_LEN], b2[LN_HASH_LEN], b3[LN_HASH_LEN];
} forks;

static void two_branches(ln_chain *c, forks *f)
{
    ASSERT_EQ(ln_chain_head(c, NULL, f->g), 0);
    commit_on_head(c, 0, "bob", 10, 1700000001, f->a1);
    commit_on_head(c, 1, "bob", 20, 1700000002, f->a2);
    import_on(c, f->g, 0, "carol", 5, 1700000001, f->b1);
    import_on(c, f->b1, 1, "carol", 6, 1700000002, f->b2);
    import_on(c, f->b2, 2, "carol", 7, 1700000003, f->b3);
}

TEST(tree_import_keeps_the_head_and_choose_moves_it_to_the_other_branch)
{
    char dir[64];
    ln_test_tmpdir(dir, sizeof dir, "tree");
    ln_chain *c = open_chain(dir, 1);
    forks f;
    two_branches(c, &f);
    head_is(c, f.a2, 2);                       /* imports do not move the head */
    ASSERT_EQ(balance(c, "bob"), 1000000030);
    ln_tree_info ti;
    ASSERT_EQ(ln_chain_info(c, f.b3, &ti), 0);
    ASSERT(!ti.canonical && !ti.final);
    ASSERT_EQ(ti.hdr.height, 3);

    ln_reorg r;
    ASSERT_EQ(ln_chain_choose(c, f.b3, &r), 0);
    head_is(c, f.b3, 3);
    ASSERT_EQ(r.from_height, 2);
    ASSERT_EQ(r.ancestor, 0);
    ASSERT_EQ(r.nreverted, 2);
    ASSERT_EQ(r.napplied, 3);
    ASSERT_MEM(r.reverted[0], f.a2, LN_HASH_LEN);
    ASSERT_MEM(r.applied[0], f.b1, LN_HASH_LEN);
    ASSERT_MEM(r.applied[2], f.b3, LN_HASH_LEN);
    ln_reorg_free(&r);
    ASSERT_EQ(balance(c, "bob"), 1000000000);
    ASSERT_EQ(balance(c, "carol"), 1000000018);
    /* The head's chain by height, blocks by hash on and off it. */
    uint8_t at[LN_HASH_LEN];
    ASSERT_EQ(ln_chain_hash_at(c, 2, at), 0);
    ASSERT_MEM(at, f.b2, LN_HASH_LEN);
    uint8_t *blk;
    size_t bl;
    ASSERT_EQ(ln_chain_block_by_hash(c, f.a2, &blk, &bl), 0);   /* off the chain, kept */
    free(blk);
    ASSERT_EQ(ln_chain_info(c, f.a2, &ti), 0);
    ASSERT(!ti.canonical);

    /* And back: the state is branch A's again, byte for byte. */
    ASSERT_EQ(ln_chain_choose(c, f.a2, NULL), 0);
    head_is(c, f.a2, 2);
    ASSERT_EQ(balance(c, "bob"), 1000000030);
    ASSERT_EQ(balance(c, "carol"), 1000000000);
    ASSERT_EQ(ln_chain_block(c, 3, &blk, &bl), LN_ENOTFOUND);
    ln_chain_close(c);

    /* Reopened: the head and its state agree (ln_chain_open checks). */
    c = open_chain(dir, 1);
    head_is(c, f.a2, 2);
    ln_chain_close(c);
    ln_test_rmtree(dir);
}

/* A balance as an overlay reads it. */
static uint64_t balance_in(ln_overlay *ov, const char *name)
{
    ln_account a;
    ASSERT_EQ(ln_account_load(ov, name, &a), 0);
    return a.balance;
}

TEST(tree_state_at_reads_any_block_of_the_tree_and_writes_nothing)
{
    char dir[64];
    ln_test_tmpdir(dir, sizeof dir, "tree");
    ln_chain *c = open_chain(dir, 1);
    forks f;
    two_branches(c, &f);
    uint8_t root[LN_HASH_LEN], after[LN_HASH_LEN];
    ln_state_root(ln_chain_state(c), root);
    const struct { const uint8_t *at; uint64_t bob, carol; } want[] = {
        { f.a2, 1000000030, 1000000000 }, { f.a1, 1000000010, 1000000000 },
        { f.g, 1000000000, 1000000000 },  { f.b1, 1000000000, 1000000005 },
        { f.b3, 1000000000, 1000000018 },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ln_overlay *ov;
        ASSERT_EQ(ln_chain_state_at(c, want[i].at, &ov), 0);
        ASSERT_EQ(balance_in(ov, "bob"), want[i].bob);
        ASSERT_EQ(balance_in(ov, "carol"), want[i].carol);
        ln_overlay_free(ov);
    }
    /* The head and its state did not move. */
    head_is(c, f.a2, 2);
    ln_state_root(ln_chain_state(c), after);
    ASSERT_MEM(after, root, LN_HASH_LEN);
    uint8_t unknown[LN_HASH_LEN] = { 7 };
    ln_overlay *ov = NULL;
    ASSERT_EQ(ln_chain_state_at(c, unknown, &ov), LN_EORPHAN);
    /* Below the final block: gone. */
    ASSERT_EQ(ln_chain_finalize(c, f.a1), 0);
    ASSERT_EQ(ln_chain_state_at(c, f.b1, &ov), LN_EORPHAN);
    ASSERT_EQ(ln_chain_state_at(c, f.a1, &ov), 0);
    ASSERT_EQ(balance_in(ov, "bob"), 1000000010);
    ln_overlay_free(ov);
    ln_chain_close(c);
    ln_test_rmtree(dir);
}

TEST(tree_receipts_follow_the_head_chain)
{
    char dir[64];
    ln_test_tmpdir(dir, sizeof dir, "tree");
    ln_chain *c = open_chain(dir, 1);
    forks f;
    uint8_t head[LN_HASH_LEN];
    ASSERT_EQ(ln_chain_head(c, NULL, f.g), 0);
    /* a1 holds the very transaction b1 holds; a2 one of its own. */
    uint8_t *tx;
    size_t len;
    transfer_tx(0, "carol", 5, &tx, &len);
    const uint8_t *txs[1] = { tx };
    ln_pblock *b;
    ASSERT_EQ(ln_chain_build_on(c, f.g, "alice", 1700000001, NULL, 0, txs, &len, 1, 0, 0, &b), 0);
    uint8_t shared[LN_HASH_LEN];
    memcpy(shared, b->receipts[0].txid, LN_HASH_LEN);
    ASSERT_EQ(ln_chain_commit(c, b, NULL, 0), 0);
    ln_pblock_free(b);
    free(tx);
    b = block_on(c, f.g, 0, "bob", 1, 1700000001);      /* another b1' */
    ln_pblock_free(b);
    ASSERT_EQ(ln_chain_head(c, NULL, head), 0);
    b = block_on(c, head, 1, "bob", 9, 1700000002);
    uint8_t only_a[LN_HASH_LEN];
    memcpy(only_a, b->receipts[0].txid, LN_HASH_LEN);
    ASSERT_EQ(ln_chain_commit(c, b, NULL, 0), 0);
    ln_pblock_free(b);
    ASSERT(has_receipt(c, only_a));

    /* Branch B: the shared transaction again, then two more. */
    transfer_tx(0, "carol", 5, &tx, &len);
    txs[0] = tx;
    ASSERT_EQ(ln_chain_build_on(c, f.g, "bob", 1700000005, NULL, 0, txs, &len, 1, 0, 0, &b), 0);
    memcpy(f.b1, b->hash, LN_HASH_LEN);
    ASSERT_EQ(ln_chain_import(c, b, NULL, 0), 0);
    ln_pblock_free(b);
    free(tx);
    import_on(c, f.b1, 1, "carol", 6, 1700000006, f.b2);
    import_on(c, f.b2, 2, "carol", 7, 1700000007, f.b3);
    ASSERT_EQ(ln_chain_choose(c, f.b3, NULL), 0);
    ASSERT(!has_receipt(c, only_a));           /* only on the abandoned branch */
    uint8_t *rv;
    size_t rl;
    ASSERT_EQ(ln_chain_receipt(c, shared, &rv, &rl), 0);   /* in both: the new branch's */
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 1024);
    ASSERT_EQ(ln_codec_unpack(rv, rl, &z, &o), 0);
    ASSERT_EQ(ln_codec_map_get(&o, "height")->via.u64, 1);
    msgpack_zone_destroy(&z);
    free(rv);
    ln_chain_close(c);
    ln_test_rmtree(dir);
}

/* The state after a reorg is the state of a chain that only ever saw the
** winning branch: same roots, same head hash. */
TEST(tree_state_after_reorg_matches_a_chain_that_saw_only_the_winner)
{
    char d1[64], d2[64];
    ln_test_tmpdir(d1, sizeof d1, "tree");
    ln_test_tmpdir(d2, sizeof d2, "tree");
    ln_chain *c = open_chain(d1, 1);
    forks f;
    two_branches(c, &f);
    ASSERT_EQ(ln_chain_choose(c, f.b3, NULL), 0);

    ln_chain *w = open_chain(d2, 0);             /* no forks ever */
    uint8_t h1[LN_HASH_LEN], h2[LN_HASH_LEN], h3[LN_HASH_LEN];
    commit_on_head(w, 0, "carol", 5, 1700000001, h1);
    commit_on_head(w, 1, "carol", 6, 1700000002, h2);
    commit_on_head(w, 2, "carol", 7, 1700000003, h3);
    ASSERT_MEM(h1, f.b1, LN_HASH_LEN);
    ASSERT_MEM(h3, f.b3, LN_HASH_LEN);
    uint8_t r1[LN_HASH_LEN], r2[LN_HASH_LEN];
    ln_state_root(ln_chain_state(c), r1);
    ln_state_root(ln_chain_state(w), r2);
    ASSERT_MEM(r1, r2, LN_HASH_LEN);
    ASSERT_EQ(ln_state_count(ln_chain_state(c)), ln_state_count(ln_chain_state(w)));
    /* Flat values too: every account read back the same. */
    const char *names[] = { "alice", "bob", "carol" };
    for (int i = 0; i < 3; i++) ASSERT_EQ(balance(c, names[i]), balance(w, names[i]));
    /* A block built on top of each gives one hash. */
    commit_on_head(c, 3, "bob", 1, 1700000009, h1);
    commit_on_head(w, 3, "bob", 1, 1700000009, h2);
    ASSERT_MEM(h1, h2, LN_HASH_LEN);
    ln_chain_close(c);
    ln_chain_close(w);
    ln_test_rmtree(d1);
    ln_test_rmtree(d2);
}

TEST(tree_final_blocks_are_never_reverted_and_dead_branches_are_pruned)
{
    char dir[64];
    ln_test_tmpdir(dir, sizeof dir, "tree");
    ln_chain *c = open_chain(dir, 1);
    forks f;
    two_branches(c, &f);
    ASSERT_EQ(ln_chain_final(c), 0);
    ASSERT_EQ(ln_chain_finalize(c, f.b1), LN_EINVAL);    /* off the head's chain */
    ASSERT_EQ(ln_chain_choose(c, f.b3, NULL), 0);
    ASSERT_EQ(ln_chain_finalize(c, f.b1), 0);
    ASSERT_EQ(ln_chain_final(c), 1);
    ln_tree_info ti;
    ASSERT_EQ(ln_chain_info(c, f.b1, &ti), 0);
    ASSERT(ti.canonical && ti.final);
    ASSERT_EQ(ln_chain_info(c, f.b2, &ti), 0);
    ASSERT(ti.canonical && !ti.final);
    /* Branch A left at genesis, below the final block: gone. */
    uint8_t *blk;
    size_t bl;
    ASSERT_EQ(ln_chain_block_by_hash(c, f.a1, &blk, &bl), LN_ENOTFOUND);
    ASSERT_EQ(ln_chain_choose(c, f.a2, NULL), LN_ENOTFOUND);
    /* A branch from below the final block is refused, built or chosen. */
    ln_pblock *b;
    ASSERT_EQ(ln_chain_build_on(c, f.g, "alice", 1700000009, NULL, 0, NULL, NULL, 0, 0, 0, &b),
              LN_EFINAL);
    /* A branch from the final block itself is fine, and a reorg to it
    ** reverts b2 and b3 only. */
    uint8_t c2[LN_HASH_LEN], c3[LN_HASH_LEN], c4[LN_HASH_LEN];
    import_on(c, f.b1, 1, "bob", 1, 1700000010, c2);
    import_on(c, c2, 2, "bob", 1, 1700000011, c3);
    import_on(c, c3, 3, "bob", 1, 1700000012, c4);
    ASSERT_EQ(ln_chain_choose(c, c4, NULL), 0);
    head_is(c, c4, 4);
    /* Final at 3: choosing b3 (left at 1) would revert c2 and c3. */
    ASSERT_EQ(ln_chain_finalize(c, c3), 0);
    ASSERT_EQ(ln_chain_choose(c, f.b3, NULL), LN_ENOTFOUND);   /* pruned */
    ASSERT_EQ(ln_chain_choose(c, c2, NULL), LN_EFINAL);        /* an ancestor below final */
    head_is(c, c4, 4);
    ln_chain_close(c);
    /* Finality survives a reopen. */
    c = open_chain(dir, 1);
    ASSERT_EQ(ln_chain_final(c), 3);
    ln_chain_close(c);
    ln_test_rmtree(dir);
}

TEST(tree_without_forks_every_commit_is_final)
{
    char dir[64];
    ln_test_tmpdir(dir, sizeof dir, "tree");
    ln_chain *c = open_chain(dir, 0);
    uint8_t h1[LN_HASH_LEN], g[LN_HASH_LEN];
    ASSERT_EQ(ln_chain_head(c, NULL, g), 0);
    commit_on_head(c, 0, "bob", 1, 1700000001, h1);
    ASSERT_EQ(ln_chain_final(c), 1);
    ln_pblock *b;
    ASSERT_EQ(ln_chain_build_on(c, g, "alice", 1700000001, NULL, 0, NULL, NULL, 0, 0, 0, &b),
              LN_EFINAL);
    b = block_on(c, h1, 1, "carol", 1, 1700000002);
    ASSERT_EQ(ln_chain_import(c, b, NULL, 0), LN_EINVAL);
    ln_pblock_free(b);
    ASSERT_EQ(ln_chain_finalize(c, h1), LN_EINVAL);
    ln_chain_close(c);
    c = open_chain(dir, 0);
    ASSERT_EQ(ln_chain_final(c), 1);
    ln_chain_close(c);
    ln_test_rmtree(dir);
}

/* A child flips the head between two branches in a loop and is killed:
** after reopen the head is one branch's tip and the state is its state. */
TEST(tree_kill_during_reorgs_leaves_one_branch_or_the_other)
{
    char dir[64];
    ln_test_tmpdir(dir, sizeof dir, "tree");
    ln_chain *c = open_chain(dir, 1);
    forks f;
    two_branches(c, &f);
    ln_chain_close(c);
    for (int round = 0; round < 3; round++) {
        int p[2];
        ASSERT_EQ(pipe(p), 0);
        pid_t pid = fork();
        ASSERT(pid >= 0);
        if (pid == 0) {
            char err[200];
            ln_chain *cc;
            close(p[0]);
            if (ln_chain_open(dir, &cc, err, sizeof err) < 0) _exit(3);
            ln_chain_set_forks(cc, 1);
            for (uint64_t i = 0;; i++) {
                if (ln_chain_choose(cc, i % 2 ? f.a2 : f.b3, NULL) < 0) _exit(4);
                if (i == 4 && write(p[1], "x", 1) != 1) _exit(5);   /* under way */
            }
        }
        close(p[1]);
        char x;
        ASSERT_EQ(read(p[0], &x, 1), 1);
        usleep(1000 * (unsigned)(round * 7));
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        close(p[0]);
        ASSERT(WIFSIGNALED(st));
        char err[200];
        ASSERT_EQ(ln_chain_open(dir, &c, err, sizeof err), 0);   /* checks root == head's */
        ln_chain_set_forks(c, 1);
        ln_header h;
        uint8_t hh[LN_HASH_LEN];
        ASSERT_EQ(ln_chain_head(c, &h, hh), 0);
        if (h.height == 3) {
            ASSERT_MEM(hh, f.b3, LN_HASH_LEN);
            ASSERT_EQ(balance(c, "carol"), 1000000018);
            ASSERT_EQ(balance(c, "bob"), 1000000000);
        } else {
            ASSERT_EQ(h.height, 2);
            ASSERT_MEM(hh, f.a2, LN_HASH_LEN);
            ASSERT_EQ(balance(c, "bob"), 1000000030);
            ASSERT_EQ(balance(c, "carol"), 1000000000);
        }
        /* Both tips are still in the tree and can be chosen. */
        ASSERT_EQ(ln_chain_choose(c, f.b3, NULL), 0);
        head_is(c, f.b3, 3);
        ASSERT_EQ(ln_chain_choose(c, f.a2, NULL), 0);
        head_is(c, f.a2, 2);
        ln_chain_close(c);
    }
    ln_test_rmtree(dir);
}

static const ln_test tests[] = {
    T(tree_import_keeps_the_head_and_choose_moves_it_to_the_other_branch),
    T(tree_state_at_reads_any_block_of_the_tree_and_writes_nothing),
    T(tree_receipts_follow_the_head_chain),
    T(tree_state_after_reorg_matches_a_chain_that_saw_only_the_winner),
    T(tree_final_blocks_are_never_reverted_and_dead_branches_are_pruned),
    T(tree_without_forks_every_commit_is_final),
    T(tree_kill_during_reorgs_leaves_one_branch_or_the_other),
    { 0, 0 }
};
LN_TEST_MAIN(tests)
