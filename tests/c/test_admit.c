/* test_admit.c -- admission (core/admit.c): checks on the worker pool, the
** host's accept on the loop, one signature check per transaction, close. */
#include "test.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "admit.h"

static uint8_t pk[LN_PK_LEN], sk[LN_SK_LEN];

/* A signed transfer of alice with this nonce (canonical msgpack). */
static uint8_t *make_tx(uint64_t nonce, int corrupt, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer p;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&p, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&p, 6);
    ln_pack_str(&p, "account"); ln_pack_str(&p, "alice");
    ln_pack_str(&p, "actions"); msgpack_pack_array(&p, 1);
    msgpack_pack_map(&p, 3);
    ln_pack_str(&p, "args"); msgpack_pack_array(&p, 2);
    ln_pack_str(&p, "bob"); msgpack_pack_uint64(&p, 1);
    ln_pack_str(&p, "contract"); ln_pack_str(&p, "sys");
    ln_pack_str(&p, "method"); ln_pack_str(&p, "transfer");
    ln_pack_str(&p, "chain_id"); ln_pack_str(&p, "t");
    ln_pack_str(&p, "expires"); msgpack_pack_uint64(&p, 100);
    ln_pack_str(&p, "max_fee"); msgpack_pack_uint64(&p, 1000);
    ln_pack_str(&p, "nonce"); msgpack_pack_uint64(&p, nonce);
    uint8_t *out;
    ASSERT_EQ(ln_tx_sign((const uint8_t *)sb.data, sb.size, (const uint8_t (*)[LN_SK_LEN])&sk, 1,
                         &out, len), 0);
    msgpack_sbuffer_destroy(&sb);
    if (corrupt) out[*len - 1] ^= 1;       /* the signature's last byte */
    return out;
}

typedef struct {
    int accepted, answered, last, closed;
    uint64_t last_nonce;
} world;

static int accept_cb(void *ud, const ln_tx *tx, uint8_t *bytes, size_t len,
                     const uint8_t bh[LN_HASH_LEN], int flags, int *take, char *why, size_t wl)
{
    (void)bytes; (void)len; (void)bh; (void)flags; (void)take;
    world *w = ud;
    w->accepted++;
    w->last_nonce = tx->nonce;
    if (tx->nonce == 7) return ln_errf(why, wl, LN_ENONCE, "seven is refused");
    return 0;
}

static void answered(int status, const uint8_t id[LN_HASH_LEN], const char *why, void *ud)
{
    (void)id; (void)why;
    world *w = ud;
    w->answered++;
    w->last = status;
}

static void closed(void *ud) { ((world *)ud)->closed = 1; }

static ln_admit *fresh(uv_loop_t *loop, world *w)
{
    ln_crypto_init();
    ln_keypair(pk, sk);
    memset(w, 0, sizeof *w);
    ASSERT_EQ(uv_loop_init(loop), 0);
    ln_admit_host h = { w, accept_cb };
    ln_admit *a;
    ASSERT_EQ(ln_admit_new(loop, &h, &a), 0);
    return a;
}

static void finish(uv_loop_t *loop, ln_admit *a, world *w)
{
    ln_admit_close(a, closed, w);
    uv_run(loop, UV_RUN_DEFAULT);
    ASSERT(w->closed);
    ASSERT_EQ(uv_loop_close(loop), 0);
}

TEST(admit_hands_a_good_transaction_to_accept_and_answers_its_status)
{
    uv_loop_t loop;
    world w;
    ln_admit *a = fresh(&loop, &w);
    size_t n;
    uint8_t *tx = make_tx(3, 0, &n);
    ASSERT_EQ(ln_admit_submit(a, tx, n, 0, answered, &w), 0);
    while (w.answered < 1) uv_run(&loop, UV_RUN_ONCE);
    ASSERT_EQ(w.accepted, 1);
    ASSERT_EQ(w.last_nonce, 3);
    ASSERT_EQ(w.last, 0);
    uint8_t bh[LN_HASH_LEN];
    ln_hash(tx, n, bh);
    ASSERT(ln_admit_verified(a, bh));              /* a block need not check it again */
    uint64_t at, in;
    ln_admit_stats(a, &at, &in);
    ASSERT_EQ(at, 1);
    ASSERT_EQ(ln_admit_check(a, tx, n, bh), 0);
    ln_admit_stats(a, &at, &in);
    ASSERT_EQ(in, 0);
    free(tx);
    finish(&loop, a, &w);
}

TEST(admit_refuses_a_bad_signature_before_accept_and_passes_accepts_refusal_on)
{
    uv_loop_t loop;
    world w;
    ln_admit *a = fresh(&loop, &w);
    size_t n;
    uint8_t *tx = make_tx(3, 1, &n);
    ASSERT_EQ(ln_admit_submit(a, tx, n, 0, answered, &w), 0);
    while (w.answered < 1) uv_run(&loop, UV_RUN_ONCE);
    ASSERT_EQ(w.accepted, 0);
    ASSERT_EQ(w.last, LN_EBADSIG);
    free(tx);
    tx = make_tx(7, 0, &n);
    ASSERT_EQ(ln_admit_submit(a, tx, n, 0, answered, &w), 0);
    while (w.answered < 2) uv_run(&loop, UV_RUN_ONCE);
    ASSERT_EQ(w.accepted, 1);
    ASSERT_EQ(w.last, LN_ENONCE);
    free(tx);
    finish(&loop, a, &w);
}

TEST(admit_check_of_a_queued_submission_claims_it_so_it_is_checked_once)
{
    uv_loop_t loop;
    world w;
    ln_admit *a = fresh(&loop, &w);
    size_t n;
    uint8_t *tx = make_tx(4, 0, &n), bh[LN_HASH_LEN];
    ln_hash(tx, n, bh);
    ASSERT_EQ(ln_admit_submit(a, tx, n, 0, answered, &w), 0);
    ASSERT_EQ(ln_admit_check(a, tx, n, bh), 0);    /* before the pool ran */
    while (w.answered < 1) uv_run(&loop, UV_RUN_ONCE);
    ASSERT_EQ(w.last, 0);
    uint64_t at, in;
    ln_admit_stats(a, &at, &in);
    ASSERT_EQ(at + in, 1);
    free(tx);
    finish(&loop, a, &w);
}

TEST(admit_close_answers_what_is_queued_with_eclosed)
{
    uv_loop_t loop;
    world w;
    ln_admit *a = fresh(&loop, &w);
    size_t n;
    uint8_t *tx = make_tx(5, 0, &n);
    ASSERT_EQ(ln_admit_submit(a, tx, n, 0, answered, &w), 0);
    ln_admit_close(a, closed, &w);
    ASSERT_EQ(w.answered, 1);
    ASSERT_EQ(w.last, LN_ECLOSED);
    ASSERT_EQ(w.accepted, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT(w.closed);
    ASSERT_EQ(uv_loop_close(&loop), 0);
    free(tx);
}

TEST(admit_bounds_what_is_in_flight)
{
    uv_loop_t loop;
    world w;
    ln_admit *a = fresh(&loop, &w);
    size_t n;
    uint8_t *tx = make_tx(6, 0, &n);
    int i = 0;
    while (ln_admit_submit(a, tx, n, 0, answered, &w) == 0) i++;
    ASSERT_EQ(i, LN_ADMIT_MAX_INFLIGHT);
    ASSERT_EQ(ln_admit_submit(a, tx, n, 0, answered, &w), LN_EFULL);
    ASSERT_EQ(ln_admit_inflight(a), LN_ADMIT_MAX_INFLIGHT);
    uint8_t big[LN_TX_MAX_BYTES + 1];
    memset(big, 0, sizeof big);
    ASSERT_EQ(ln_admit_submit(a, big, sizeof big, 0, answered, &w), LN_ETXSIZE);
    while (w.answered < i) uv_run(&loop, UV_RUN_ONCE);
    ASSERT_EQ(ln_admit_inflight(a), 0);
    free(tx);
    finish(&loop, a, &w);
}

static const ln_test tests[] = {
    T(admit_hands_a_good_transaction_to_accept_and_answers_its_status),
    T(admit_refuses_a_bad_signature_before_accept_and_passes_accepts_refusal_on),
    T(admit_check_of_a_queued_submission_claims_it_so_it_is_checked_once),
    T(admit_close_answers_what_is_queued_with_eclosed),
    T(admit_bounds_what_is_in_flight),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
