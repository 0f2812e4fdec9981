/* test_mempool.c -- admission, replacement, caps and block selection. */
#include "test.h"
#include "err.h"
#include "mempool.h"

static ln_tx mk(const char *account, uint64_t nonce, uint64_t fee, uint8_t tag)
{
    ln_tx t;
    memset(&t, 0, sizeof t);
    snprintf(t.account, sizeof t.account, "%s", account);
    t.nonce = nonce;
    t.max_fee = fee;
    t.expires = 100;
    t.id[0] = tag;
    t.id[1] = (uint8_t)nonce;
    t.id[2] = (uint8_t)account[0];
    return t;
}

static const uint8_t bytes[16] = { 1, 2, 3 };

static uint64_t nonce_zero(const char *a, void *ud) { (void)a; (void)ud; return 0; }
static uint64_t nonce_two(const char *a, void *ud) { (void)ud; return a[0] == 'a' ? 2 : 0; }
static uint64_t nonce_one_for_alice(const char *a, void *ud) { (void)ud; return a[0] == 'a' ? 1 : 0; }

TEST(mempool_admits_a_transaction_once)
{
    ln_mempool *mp;
    ASSERT_EQ(ln_mempool_new(10, 1 << 20, &mp), 0);
    ln_tx t = mk("alice", 0, 10, 1);
    ASSERT_EQ(ln_mempool_add(mp, &t, bytes, sizeof bytes, 0), 0);
    ASSERT_EQ(ln_mempool_add(mp, &t, bytes, sizeof bytes, 0), LN_EKNOWN);
    ASSERT_EQ(ln_mempool_count(mp), 1);
    ASSERT(ln_mempool_has(mp, t.id));
    ln_mempool_free(mp);
}

TEST(mempool_refuses_a_nonce_below_the_committed_one)
{
    ln_mempool *mp;
    ASSERT_EQ(ln_mempool_new(10, 1 << 20, &mp), 0);
    ln_tx t = mk("alice", 3, 10, 1);
    ASSERT_EQ(ln_mempool_add(mp, &t, bytes, sizeof bytes, 4), LN_ENONCE);
    ASSERT_EQ(ln_mempool_count(mp), 0);
    ln_mempool_free(mp);
}

TEST(mempool_replaces_only_with_a_higher_max_fee)
{
    ln_mempool *mp;
    ASSERT_EQ(ln_mempool_new(10, 1 << 20, &mp), 0);
    ln_tx a = mk("alice", 0, 10, 1), same = mk("alice", 0, 10, 2), more = mk("alice", 0, 11, 3);
    ASSERT_EQ(ln_mempool_add(mp, &a, bytes, sizeof bytes, 0), 0);
    ASSERT_EQ(ln_mempool_add(mp, &same, bytes, sizeof bytes, 0), LN_EUNDERPRICED);
    ASSERT_EQ(ln_mempool_add(mp, &more, bytes, sizeof bytes, 0), 0);
    ASSERT_EQ(ln_mempool_count(mp), 1);
    ASSERT(!ln_mempool_has(mp, a.id));
    ASSERT(ln_mempool_has(mp, more.id));
    ln_mempool_free(mp);
}

TEST(mempool_full_refuses_with_efull)
{
    ln_mempool *mp;
    ASSERT_EQ(ln_mempool_new(2, 1 << 20, &mp), 0);
    ln_tx a = mk("alice", 0, 1, 1), b = mk("bob", 0, 1, 2), c = mk("carol", 0, 1, 3);
    ASSERT_EQ(ln_mempool_add(mp, &a, bytes, sizeof bytes, 0), 0);
    ASSERT_EQ(ln_mempool_add(mp, &b, bytes, sizeof bytes, 0), 0);
    ASSERT_EQ(ln_mempool_add(mp, &c, bytes, sizeof bytes, 0), LN_EFULL);
    ln_mempool_free(mp);
}

TEST(mempool_byte_cap_refuses_with_efull)
{
    ln_mempool *mp;
    ASSERT_EQ(ln_mempool_new(100, 20, &mp), 0);
    ln_tx a = mk("alice", 0, 1, 1), b = mk("bob", 0, 1, 2);
    ASSERT_EQ(ln_mempool_add(mp, &a, bytes, sizeof bytes, 0), 0);
    ASSERT_EQ(ln_mempool_add(mp, &b, bytes, sizeof bytes, 0), LN_EFULL);
    ln_mempool_free(mp);
}

TEST(mempool_select_takes_consecutive_nonces_only)
{
    ln_mempool *mp;
    ASSERT_EQ(ln_mempool_new(10, 1 << 20, &mp), 0);
    ln_tx a0 = mk("alice", 0, 1, 1), a1 = mk("alice", 1, 1, 2), a3 = mk("alice", 3, 1, 3);
    ln_tx b0 = mk("bob", 0, 1, 4);
    /* Arrival out of nonce order: 1 before 0. */
    ASSERT_EQ(ln_mempool_add(mp, &a1, bytes, sizeof bytes, 0), 0);
    ASSERT_EQ(ln_mempool_add(mp, &b0, bytes, sizeof bytes, 0), 0);
    ASSERT_EQ(ln_mempool_add(mp, &a0, bytes, sizeof bytes, 0), 0);
    ASSERT_EQ(ln_mempool_add(mp, &a3, bytes, sizeof bytes, 0), 0);
    const ln_mtx *out[10];
    size_t n = ln_mempool_select(mp, nonce_zero, NULL, 10, 1 << 20, out);
    ASSERT_EQ(n, 3);
    ASSERT_STR(out[0]->account, "alice");
    ASSERT_EQ(out[0]->nonce, 0);
    ASSERT_EQ(out[1]->nonce, 1);
    ASSERT_STR(out[2]->account, "bob");
    ln_mempool_free(mp);
}

TEST(mempool_select_respects_max_txs_and_bytes)
{
    ln_mempool *mp;
    ASSERT_EQ(ln_mempool_new(10, 1 << 20, &mp), 0);
    for (uint64_t i = 0; i < 5; i++) {
        ln_tx t = mk("alice", i, 1, (uint8_t)(10 + i));
        ASSERT_EQ(ln_mempool_add(mp, &t, bytes, sizeof bytes, 0), 0);
    }
    const ln_mtx *out[10];
    ASSERT_EQ(ln_mempool_select(mp, nonce_zero, NULL, 3, 1 << 20, out), 3);
    ASSERT_EQ(ln_mempool_select(mp, nonce_zero, NULL, 10, 2 * sizeof bytes, out), 2);
    ln_mempool_free(mp);
}

TEST(mempool_remove_and_prune_drop_committed_and_stale)
{
    ln_mempool *mp;
    ASSERT_EQ(ln_mempool_new(10, 1 << 20, &mp), 0);
    ln_tx a0 = mk("alice", 0, 1, 1), a1 = mk("alice", 1, 1, 2), a2 = mk("alice", 2, 1, 3);
    ln_tx b0 = mk("bob", 0, 1, 4);
    b0.expires = 5;
    ASSERT_EQ(ln_mempool_add(mp, &a0, bytes, sizeof bytes, 0), 0);
    ASSERT_EQ(ln_mempool_add(mp, &a1, bytes, sizeof bytes, 0), 0);
    ASSERT_EQ(ln_mempool_add(mp, &a2, bytes, sizeof bytes, 0), 0);
    ASSERT_EQ(ln_mempool_add(mp, &b0, bytes, sizeof bytes, 0), 0);
    ln_mempool_remove(mp, (const uint8_t (*)[LN_HASH_LEN])a0.id, 1);
    ASSERT_EQ(ln_mempool_count(mp), 3);
    /* alice's committed nonce is now 2 (a1 went in elsewhere); b0 expired. */
    ASSERT_EQ(ln_mempool_prune(mp, 6, nonce_two, NULL), 2);
    ASSERT_EQ(ln_mempool_count(mp), 1);
    ASSERT(ln_mempool_has(mp, a2.id));
    ASSERT_EQ(ln_mempool_bytes(mp), sizeof bytes);
    ln_mempool_free(mp);
}

/* A replacement may not take the pool past its byte cap either. */
TEST(mempool_replacement_keeps_the_byte_cap)
{
    ln_mempool *mp;
    static const uint8_t big[40] = { 9 };
    ASSERT_EQ(ln_mempool_new(100, 30, &mp), 0);
    ln_tx a = mk("alice", 0, 1, 1), more = mk("alice", 0, 2, 2);
    ASSERT_EQ(ln_mempool_add(mp, &a, bytes, sizeof bytes, 0), 0);
    ASSERT_EQ(ln_mempool_add(mp, &more, big, sizeof big, 0), LN_EFULL);
    ASSERT(ln_mempool_has(mp, a.id));
    ASSERT(!ln_mempool_has(mp, more.id));
    ASSERT_EQ(ln_mempool_count(mp), 1);
    ASSERT_EQ(ln_mempool_bytes(mp), sizeof bytes);
    /* One that fits replaces, and the accounting follows. */
    ASSERT_EQ(ln_mempool_add(mp, &more, big, 20, 0), 0);
    ASSERT_EQ(ln_mempool_count(mp), 1);
    ASSERT_EQ(ln_mempool_bytes(mp), 20);
    ln_mempool_free(mp);
}

/* Select skips what is below the committed nonce and stops an account at
** its first gap; remove and prune keep count and bytes exact. */
TEST(mempool_select_with_gaps_and_accounting_after_prune)
{
    ln_mempool *mp;
    ASSERT_EQ(ln_mempool_new(16, 1 << 20, &mp), 0);
    uint64_t an[] = { 0, 1, 2, 3, 5, 6 };
    ln_tx at[6];
    for (int i = 0; i < 6; i++) {
        at[i] = mk("alice", an[i], 1, (uint8_t)(20 + i));
        ASSERT_EQ(ln_mempool_add(mp, &at[i], bytes, sizeof bytes, 0), 0);
    }
    ln_tx b1 = mk("bob", 1, 1, 40);               /* bob's nonce 0 never came */
    ASSERT_EQ(ln_mempool_add(mp, &b1, bytes, sizeof bytes, 0), 0);
    const ln_mtx *out[16];
    /* alice committed up to 2: takes 2, 3, stops before the gap at 4. */
    size_t n = ln_mempool_select(mp, nonce_two, NULL, 16, 1 << 20, out);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(out[0]->nonce, 2);
    ASSERT_EQ(out[1]->nonce, 3);
    ASSERT_EQ(ln_mempool_prune(mp, 1, nonce_two, NULL), 2);
    ASSERT_EQ(ln_mempool_count(mp), 5);
    ASSERT_EQ(ln_mempool_bytes(mp), 5 * sizeof bytes);
    ln_mempool_remove(mp, (const uint8_t (*)[LN_HASH_LEN])at[2].id, 1);
    ln_mempool_remove(mp, (const uint8_t (*)[LN_HASH_LEN])at[2].id, 1);
    ASSERT_EQ(ln_mempool_count(mp), 4);
    /* Everything expires: the pool is empty and can take more. */
    ASSERT_EQ(ln_mempool_prune(mp, 1000, nonce_zero, NULL), 4);
    ASSERT_EQ(ln_mempool_count(mp), 0);
    ASSERT_EQ(ln_mempool_bytes(mp), 0);
    ASSERT_EQ(ln_mempool_select(mp, nonce_zero, NULL, 16, 1 << 20, out), 0);
    ASSERT_EQ(ln_mempool_add(mp, &at[0], bytes, sizeof bytes, 0), 0);
    ASSERT_EQ(ln_mempool_count(mp), 1);
    ln_mempool_free(mp);
}

TEST(mempool_ready_counts_only_what_a_block_could_take)
{
    ln_mempool *mp;
    ASSERT_EQ(ln_mempool_new(10, 1 << 20, &mp), 0);
    ln_tx gap = mk("bob", 5, 1, 1);                 /* bob is at nonce 0: a gap */
    ASSERT_EQ(ln_mempool_add(mp, &gap, bytes, sizeof bytes, 0), 0);
    ASSERT_EQ(ln_mempool_ready(mp), 0);
    ln_tx a0 = mk("alice", 0, 1, 2), a1 = mk("alice", 1, 1, 3);
    ASSERT_EQ(ln_mempool_add(mp, &a1, bytes, sizeof bytes, 0), 0);
    ASSERT_EQ(ln_mempool_ready(mp), 0);               /* alice's 1 waits for her 0 */
    ASSERT_EQ(ln_mempool_add(mp, &a0, bytes, sizeof bytes, 0), 0);
    ASSERT_EQ(ln_mempool_ready(mp), 1);
    uint8_t ids[1][LN_HASH_LEN];
    memcpy(ids[0], a0.id, LN_HASH_LEN);
    ln_mempool_remove(mp, (const uint8_t (*)[LN_HASH_LEN])ids, 1);   /* a0 committed */
    ASSERT_EQ(ln_mempool_ready(mp), 0);               /* until a prune says alice is at 1 */
    ln_mempool_prune(mp, 1, nonce_one_for_alice, NULL);
    ASSERT_EQ(ln_mempool_ready(mp), 1);
    memcpy(ids[0], a1.id, LN_HASH_LEN);
    ln_mempool_remove(mp, (const uint8_t (*)[LN_HASH_LEN])ids, 1);
    ASSERT_EQ(ln_mempool_ready(mp), 0);
    ASSERT_EQ(ln_mempool_count(mp), 1);               /* bob's gap stays */
    ln_mempool_free(mp);
}

TEST(mempool_next_nonce_follows_the_consecutive_waiting_nonces)
{
    ln_mempool *mp;
    ASSERT_EQ(ln_mempool_new(10, 1 << 20, &mp), 0);
    ASSERT_EQ(ln_mempool_next_nonce(mp, "alice", 3), 3);   /* nothing waits */
    ln_tx a3 = mk("alice", 3, 1, 1), a4 = mk("alice", 4, 1, 2), a6 = mk("alice", 6, 1, 3);
    ln_tx b0 = mk("bob", 0, 1, 4);
    ASSERT_EQ(ln_mempool_add(mp, &a4, bytes, sizeof bytes, 3), 0);
    ASSERT_EQ(ln_mempool_next_nonce(mp, "alice", 3), 3);   /* 4 waits behind 3 */
    ASSERT_EQ(ln_mempool_add(mp, &a3, bytes, sizeof bytes, 3), 0);
    ASSERT_EQ(ln_mempool_add(mp, &a6, bytes, sizeof bytes, 3), 0);
    ASSERT_EQ(ln_mempool_add(mp, &b0, bytes, sizeof bytes, 0), 0);
    ASSERT_EQ(ln_mempool_next_nonce(mp, "alice", 3), 5);   /* 3, 4; 6 is past a gap */
    ASSERT_EQ(ln_mempool_next_nonce(mp, "bob", 0), 1);
    ASSERT_EQ(ln_mempool_next_nonce(mp, "carol", 0), 0);
    /* 3 committed but not pruned yet: it is skipped, not counted twice. */
    ASSERT_EQ(ln_mempool_next_nonce(mp, "alice", 4), 5);
    /* Committed past what waits (another node's transactions). */
    ASSERT_EQ(ln_mempool_next_nonce(mp, "alice", 9), 9);
    ln_tx a5 = mk("alice", 5, 1, 5);
    ASSERT_EQ(ln_mempool_add(mp, &a5, bytes, sizeof bytes, 3), 0);
    ASSERT_EQ(ln_mempool_next_nonce(mp, "alice", 3), 7);   /* the gap filled */
    ln_mempool_free(mp);
}

TEST(mempool_get_gives_a_waiting_transaction_and_its_bytes_until_it_goes)
{
    ln_mempool *mp;
    ASSERT_EQ(ln_mempool_new(10, 1 << 20, &mp), 0);
    ln_tx a = mk("alice", 0, 10, 1), b = mk("bob", 0, 10, 2);
    ASSERT_EQ(ln_mempool_add(mp, &a, bytes, sizeof bytes, 0), 0);
    ASSERT(ln_mempool_get(mp, b.id) == NULL);
    const ln_mtx *m = ln_mempool_get(mp, a.id);
    ASSERT(m != NULL);
    ASSERT_MEM(m->id, a.id, LN_HASH_LEN);
    ASSERT_STR(m->account, "alice");
    ASSERT_EQ(m->len, sizeof bytes);
    ASSERT_MEM(m->bytes, bytes, sizeof bytes);
    ln_mempool_remove(mp, (const uint8_t (*)[LN_HASH_LEN])a.id, 1);
    ASSERT(ln_mempool_get(mp, a.id) == NULL);
    ln_mempool_free(mp);
}

static const ln_test tests[] = {
    T(mempool_next_nonce_follows_the_consecutive_waiting_nonces),
    T(mempool_get_gives_a_waiting_transaction_and_its_bytes_until_it_goes),
    T(mempool_ready_counts_only_what_a_block_could_take),
    T(mempool_admits_a_transaction_once),
    T(mempool_refuses_a_nonce_below_the_committed_one),
    T(mempool_replaces_only_with_a_higher_max_fee),
    T(mempool_full_refuses_with_efull),
    T(mempool_byte_cap_refuses_with_efull),
    T(mempool_select_takes_consecutive_nonces_only),
    T(mempool_select_respects_max_txs_and_bytes),
    T(mempool_remove_and_prune_drop_committed_and_stale),
    T(mempool_replacement_keeps_the_byte_cap),
    T(mempool_select_with_gaps_and_accounting_after_prune),
    { 0, 0 }
};
LN_TEST_MAIN(tests)
