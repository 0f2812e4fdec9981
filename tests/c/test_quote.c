/*
** test_quote.c -- what a transaction would pay (core/quote.c): an unsigned
** transaction made signable, quoted like its signed form, the run's writes
** discarded, and the refusals a quote reports.
*/
#include "test.h"

#include "account.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "quote.h"
#include "tx.h"

static uint8_t pk[LN_PK_LEN], sk[1][LN_SK_LEN];

/* alice's unsigned transaction calling sys.transfer(bob, 5) with nonce n. */
static uint8_t *unsigned_tx(const char *account, uint64_t max_fee, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer p;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&p, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&p, 6);
    ln_pack_str(&p, "account"); ln_pack_str(&p, account);
    ln_pack_str(&p, "actions");
    msgpack_pack_array(&p, 1);
    msgpack_pack_map(&p, 3);
    ln_pack_str(&p, "args");
    msgpack_pack_array(&p, 2);
    ln_pack_str(&p, "bob");
    msgpack_pack_uint64(&p, 5);
    ln_pack_str(&p, "contract"); ln_pack_str(&p, "sys");
    ln_pack_str(&p, "method"); ln_pack_str(&p, "transfer");
    ln_pack_str(&p, "chain_id"); ln_pack_str(&p, "test");
    ln_pack_str(&p, "expires"); msgpack_pack_uint64(&p, 100);
    ln_pack_str(&p, "max_fee"); msgpack_pack_uint64(&p, max_fee);
    ln_pack_str(&p, "nonce"); msgpack_pack_uint64(&p, 0);
    *len = sb.size;
    return (uint8_t *)sb.data;
}

static ln_state *chain(void)
{
    ASSERT_EQ(ln_crypto_init(), 0);
    ln_keypair(pk, sk[0]);
    ln_state *st;
    ASSERT_EQ(ln_state_open(NULL, &st), 0);
    ln_overlay *ov = ln_overlay_new(st);
    const char *names[] = { "alice", "bob" };
    for (int i = 0; i < 2; i++) {
        ln_account a;
        memset(&a, 0, sizeof a);
        snprintf(a.name, sizeof a.name, "%s", names[i]);
        ln_authority_key(&a.owner, pk);
        a.active = a.owner;
        a.balance = i == 0 ? 1000000 : 10;
        ASSERT_EQ(ln_account_save(ov, &a), 0);
    }
    uint8_t root[LN_HASH_LEN];
    ASSERT_EQ(ln_overlay_commit(ov, NULL, root), 0);
    ln_overlay_free(ov);
    return st;
}

static const ln_blockctx BC = { "test", 5, 1700000000, { 0 }, 1, 0, NULL, NULL, NULL };

TEST(quote_blank_signed_decodes_to_the_same_transaction)
{
    size_t n, bn;
    uint8_t *u = unsigned_tx("alice", 5000, &n);
    uint8_t *b = ln_quote_blank_signed(u, n, &bn);
    ASSERT(b != NULL);
    ln_tx tx;
    ASSERT_EQ(ln_tx_decode(&tx, b, bn), 0);
    uint8_t id[LN_HASH_LEN];
    ln_hash(u, n, id);
    ASSERT_MEM(tx.id, id, LN_HASH_LEN);
    ASSERT_EQ(tx.nsigs, 1);
    ASSERT_EQ(tx.max_fee, 5000);
    /* the size of the same transaction with one real signature */
    uint8_t *s;
    size_t sn;
    ASSERT_EQ(ln_tx_sign(u, n, (const uint8_t (*)[LN_SK_LEN])sk, 1, &s, &sn), 0);
    ASSERT_EQ(bn, sn);
    ASSERT(ln_quote_blank_signed(s, sn, &bn) == NULL);   /* not an unsigned map */
    ln_tx_free(&tx);
    free(s);
    free(b);
    free(u);
}

TEST(quote_of_an_unsigned_transaction_is_the_quote_of_its_signed_form_and_keeps_nothing)
{
    ln_state *st = chain();
    uint8_t before[LN_HASH_LEN], after[LN_HASH_LEN];
    ln_state_root(st, before);
    size_t n, sn;
    uint8_t *u = unsigned_tx("alice", 500000, &n), *s;
    ASSERT_EQ(ln_tx_sign(u, n, (const uint8_t (*)[LN_SK_LEN])sk, 1, &s, &sn), 0);
    ln_quote a, b;
    char why[320];
    ASSERT_EQ(ln_quote_tx(st, &BC, u, n, &a, why, sizeof why), 0);
    ASSERT_EQ(ln_quote_tx(st, &BC, s, sn, &b, why, sizeof why), 0);
    ASSERT_EQ(a.code, 0);
    ASSERT_EQ(a.ok, 1);
    ASSERT(a.fee > 0);
    ASSERT_EQ(a.fee, b.fee);
    ASSERT_EQ(a.fee, a.usage.gas);                    /* the built-in rule */
    ASSERT_STR(a.payer, "alice");
    ASSERT_EQ(a.gas_limit, 500000);
    ASSERT_EQ(a.usage.tx_bytes, sn);
    ASSERT_EQ(a.usage.calls, 1);
    ln_state_root(st, after);
    ASSERT_MEM(before, after, LN_HASH_LEN);
    ln_quote_free(&a);
    ln_quote_free(&b);
    free(u);
    free(s);
    ln_state_close(st);
}

TEST(quote_reports_the_refusal_a_transaction_would_meet)
{
    ln_state *st = chain();
    size_t n;
    ln_quote q;
    char why[320];
    uint8_t *u = unsigned_tx("bob", 11, &n);
    ASSERT_EQ(ln_quote_tx(st, &BC, u, n, &q, why, sizeof why), 0);
    ASSERT_EQ(q.code, LN_EBALANCE);
    ASSERT_STR(q.why, "bob has 10, max_fee is 11");
    free(u);
    u = unsigned_tx("carol", 1, &n);
    ASSERT_EQ(ln_quote_tx(st, &BC, u, n, &q, why, sizeof why), 0);
    ASSERT_EQ(q.code, LN_ENOACCOUNT);
    free(u);
    ln_blockctx other = BC;
    other.chain_id = "other";
    u = unsigned_tx("alice", 1000, &n);
    ASSERT_EQ(ln_quote_tx(st, &other, u, n, &q, why, sizeof why), 0);
    ASSERT_EQ(q.code, LN_ECHAINID);
    free(u);
    static const uint8_t junk[] = { 0x86, 0xc0 };
    ASSERT_EQ(ln_quote_tx(st, &BC, junk, sizeof junk, &q, why, sizeof why) < 0, 1);
    ASSERT_EQ(ln_quote_tx(st, &BC, (const uint8_t *)"\x81\xa1x\x01", 4, &q, why, sizeof why), LN_EBADTX);
    ln_state_close(st);
}

static const ln_test tests[] = {
    T(quote_blank_signed_decodes_to_the_same_transaction),
    T(quote_of_an_unsigned_transaction_is_the_quote_of_its_signed_form_and_keeps_nothing),
    T(quote_reports_the_refusal_a_transaction_would_meet),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
