/* test_mine.c -- the proof-of-work search: what it finds is below the
** target, it tries no more than it is told, and off the loop a job's end
** comes on the loop while a job replaced by another is never heard. */
#include "test.h"
#include "err.h"
#include "mine.h"

static void target_of(unsigned zero_bits, uint8_t t[LN_HASH_LEN])
{
    memset(t, 0xff, LN_HASH_LEN);
    for (unsigned i = 0; i < zero_bits; i++) t[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
}

TEST(mine_search_finds_a_hash_below_the_target)
{
    ln_crypto_init();
    uint8_t target[LN_HASH_LEN], hash[LN_HASH_LEN], again[LN_HASH_LEN];
    target_of(12, target);                     /* 1 in 4096 */
    uint64_t nonce = 0;
    const uint8_t bytes[] = "block hash in hex";
    ASSERT_EQ(ln_mine_search(bytes, sizeof bytes, target, 0, 1u << 20, &nonce, hash), 1);
    ASSERT(memcmp(hash, target, LN_HASH_LEN) < 0);
    ln_mine_hash(bytes, sizeof bytes, nonce, again);
    ASSERT_MEM(hash, again, LN_HASH_LEN);
    /* The first one: every nonce before it fails. */
    for (uint64_t n = 0; n < nonce; n++) {
        ln_mine_hash(bytes, sizeof bytes, n, again);
        ASSERT(memcmp(again, target, LN_HASH_LEN) >= 0);
    }
    /* Not in the nonces tried: none found. */
    uint64_t n2 = 7;
    ASSERT_EQ(ln_mine_search(bytes, sizeof bytes, target, 0, nonce, &n2, hash), 0);
    ASSERT_EQ(n2, 7);
    /* An all-zero target: nothing is below it. */
    memset(target, 0, LN_HASH_LEN);
    ASSERT_EQ(ln_mine_search(bytes, sizeof bytes, target, 0, 1000, &n2, hash), 0);
}

typedef struct {
    int calls, found;
    uint64_t nonce, next;
    uint8_t hash[LN_HASH_LEN];
} heard;

static void on_end(int found, uint64_t nonce, const uint8_t hash[LN_HASH_LEN], uint64_t next,
                   void *ud)
{
    heard *h = ud;
    h->calls++;
    h->found = found;
    h->nonce = nonce;
    h->next = next;
    memcpy(h->hash, hash, LN_HASH_LEN);
}

static void closed(void *ud) { (*(int *)ud)++; }

TEST(mine_jobs_end_on_the_loop_and_a_replaced_job_is_not_heard)
{
    ln_crypto_init();
    uv_loop_t loop;
    ASSERT_EQ(uv_loop_init(&loop), 0);
    heard h = { 0 };
    ln_miner *m;
    ASSERT_EQ(ln_miner_new(&loop, on_end, &h, &m), 0);
    uint8_t none[LN_HASH_LEN], easy[LN_HASH_LEN];
    memset(none, 0, LN_HASH_LEN);
    target_of(8, easy);
    /* A job with no chance, replaced at once by one that finds. */
    ASSERT_EQ(ln_miner_start(m, (const uint8_t *)"a", 1, none, 0, 1000), 0);
    ASSERT_EQ(ln_miner_start(m, (const uint8_t *)"b", 1, easy, 100, 1u << 16), 0);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(h.calls, 1);
    ASSERT_EQ(h.found, 1);
    ASSERT(h.nonce >= 100);
    ASSERT_EQ(h.next, h.nonce + 1);
    uint8_t again[LN_HASH_LEN];
    ln_mine_hash((const uint8_t *)"b", 1, h.nonce, again);
    ASSERT_MEM(again, h.hash, LN_HASH_LEN);
    /* Tries run out: not found, and where to go on from. */
    ASSERT_EQ(ln_miner_start(m, (const uint8_t *)"c", 1, none, 5000, 300), 0);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(h.calls, 2);
    ASSERT_EQ(h.found, 0);
    ASSERT_EQ(h.next, 5300);
    /* Too many bytes are refused; closing with a job running: no callback. */
    uint8_t big[LN_MINE_MAX_BYTES + 1] = { 0 };
    ASSERT_EQ(ln_miner_start(m, big, sizeof big, easy, 0, 10), LN_ETOOBIG);
    ASSERT_EQ(ln_miner_start(m, (const uint8_t *)"d", 1, none, 0, 1u << 20), 0);
    int n_closed = 0;
    ln_miner_close(m, closed, &n_closed);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(n_closed, 1);
    ASSERT_EQ(h.calls, 2);
    ASSERT_EQ(uv_loop_close(&loop), 0);
}

static const ln_test tests[] = {
    T(mine_search_finds_a_hash_below_the_target),
    T(mine_jobs_end_on_the_loop_and_a_replaced_job_is_not_heard),
    { 0, 0 }
};
LN_TEST_MAIN(tests)
