/*
** test_stake.c -- bonded balance (core/stake.c): bond and unbond with the
** total, what each refuses, the end-of-block release of what is due, one
** entry per due height, the records' bytes, and a record that does not
** decode.
*/
#include "test.h"

#include "account.h"
#include "err.h"
#include "stake.h"
#include "state.h"

static ln_overlay *chain(ln_state **st)
{
    ASSERT_EQ(ln_state_open(NULL, st), 0);
    ln_overlay *ov = ln_overlay_new(*st);
    ASSERT(ov != NULL);
    const char *names[] = { "alice", "bob" };
    for (int i = 0; i < 2; i++) {
        ln_account a;
        memset(&a, 0, sizeof a);
        snprintf(a.name, sizeof a.name, "%s", names[i]);
        a.balance = 1000;
        ASSERT_EQ(ln_account_save(ov, &a), 0);
    }
    return ov;
}

static uint64_t balance(ln_overlay *ov, const char *name)
{
    ln_account a;
    ASSERT_EQ(ln_account_load(ov, name, &a), 0);
    return a.balance;
}

static uint64_t total(ln_overlay *ov)
{
    uint64_t t;
    ASSERT_EQ(ln_stake_total(ov, &t), 0);
    return t;
}

TEST(stake_bond_moves_balance_to_stake_and_the_total)
{
    ln_state *st;
    ln_overlay *ov = chain(&st);
    char why[160];
    ln_stake s;
    ASSERT_EQ(ln_stake_load(ov, "alice", &s), 0);
    ASSERT_EQ(s.stake, 0);
    ASSERT_EQ(total(ov), 0);
    ASSERT_EQ(ln_stake_bond(ov, "alice", 300, why, sizeof why), 0);
    ASSERT_EQ(ln_stake_bond(ov, "bob", 1000, why, sizeof why), 0);
    ASSERT_EQ(ln_stake_bond(ov, "alice", 1, why, sizeof why), 0);
    ASSERT_EQ(balance(ov, "alice"), 699);
    ASSERT_EQ(balance(ov, "bob"), 0);
    ASSERT_EQ(ln_stake_load(ov, "alice", &s), 0);
    ASSERT_EQ(s.stake, 301);
    ASSERT_EQ(s.nunbonding, 0);
    ASSERT_EQ(total(ov), 1301);
    const uint8_t *v;
    size_t vl;
    ASSERT_EQ(ln_overlay_get(ov, (const uint8_t *)"talice", 6, &v, &vl), 0);
    ASSERT_EQ(vl, 10);
    ASSERT_MEM(v, "\x81\xa5stake\xcd\x01\x2d", 10);
    ln_overlay_free(ov);
    ln_state_close(st);
}

TEST(stake_bond_and_unbond_refuse_what_is_not_there)
{
    ln_state *st;
    ln_overlay *ov = chain(&st);
    char why[160];
    ASSERT_EQ(ln_stake_bond(ov, "alice", 1001, why, sizeof why), LN_EBALANCE);
    ASSERT_STR(why, "insufficient balance: has 1000, needs 1001");
    ASSERT_EQ(ln_stake_bond(ov, "carol", 1, why, sizeof why), LN_ENOACCOUNT);
    ASSERT_EQ(ln_stake_bond(ov, "alice", 10, why, sizeof why), 0);
    ASSERT_EQ(ln_stake_unbond(ov, "alice", 11, 50, why, sizeof why), LN_EBALANCE);
    ASSERT_STR(why, "insufficient stake: has 10, needs 11");
    ASSERT_EQ(balance(ov, "alice"), 990);
    ASSERT_EQ(total(ov), 10);
    ln_overlay_free(ov);
    ln_state_close(st);
}

TEST(stake_release_returns_what_is_due_at_its_height_only)
{
    ln_state *st;
    ln_overlay *ov = chain(&st);
    char why[160];
    ASSERT_EQ(ln_stake_bond(ov, "alice", 500, why, sizeof why), 0);
    ASSERT_EQ(ln_stake_bond(ov, "bob", 500, why, sizeof why), 0);
    ASSERT_EQ(ln_stake_unbond(ov, "alice", 100, 20, why, sizeof why), 0);
    ASSERT_EQ(ln_stake_unbond(ov, "alice", 50, 20, why, sizeof why), 0);   /* one entry */
    ASSERT_EQ(ln_stake_unbond(ov, "alice", 7, 30, why, sizeof why), 0);
    ASSERT_EQ(ln_stake_unbond(ov, "bob", 200, 20, why, sizeof why), 0);
    ln_stake s;
    ASSERT_EQ(ln_stake_load(ov, "alice", &s), 0);
    ASSERT_EQ(s.stake, 343);
    ASSERT_EQ(s.nunbonding, 2);
    ASSERT_EQ(s.unbonding[0].amount, 150);
    ASSERT_EQ(s.unbonding[0].at, 20);
    ASSERT_EQ(total(ov), 643);
    /* "u" AT: the accounts due then, sorted */
    const uint8_t *v;
    size_t vl;
    ASSERT_EQ(ln_overlay_get(ov, (const uint8_t *)"u\0\0\0\0\0\0\0\x14", 9, &v, &vl), 0);
    ASSERT_EQ(vl, 11);
    ASSERT_MEM(v, "\x92\xa5" "alice\xa3" "bob", 11);
    ASSERT_EQ(ln_stake_release(ov, 19), 0);
    ASSERT_EQ(balance(ov, "alice"), 500);
    ASSERT_EQ(ln_stake_release(ov, 20), 0);
    ASSERT_EQ(balance(ov, "alice"), 650);
    ASSERT_EQ(balance(ov, "bob"), 700);
    ASSERT_EQ(ln_overlay_get(ov, (const uint8_t *)"u\0\0\0\0\0\0\0\x14", 9, &v, &vl), LN_ENOTFOUND);
    ASSERT_EQ(ln_stake_load(ov, "alice", &s), 0);
    ASSERT_EQ(s.nunbonding, 1);
    ASSERT_EQ(s.unbonding[0].at, 30);
    ASSERT_EQ(ln_stake_release(ov, 30), 0);
    ASSERT_EQ(balance(ov, "alice"), 657);
    ASSERT_EQ(ln_stake_load(ov, "bob", &s), 0);
    ASSERT_EQ(s.stake, 300);
    ln_overlay_free(ov);
    ln_state_close(st);
}

TEST(stake_unbond_refuses_more_than_the_entries_an_account_may_have)
{
    ln_state *st;
    ln_overlay *ov = chain(&st);
    char why[160];
    ASSERT_EQ(ln_stake_bond(ov, "alice", 100, why, sizeof why), 0);
    for (uint64_t i = 0; i < LN_UNBONDING_MAX; i++)
        ASSERT_EQ(ln_stake_unbond(ov, "alice", 1, 10 + i, why, sizeof why), 0);
    ASSERT_EQ(ln_stake_unbond(ov, "alice", 1, 99, why, sizeof why), LN_EFULL);
    ASSERT_EQ(ln_stake_unbond(ov, "alice", 1, 10, why, sizeof why), 0);   /* an existing height */
    ln_overlay_free(ov);
    ln_state_close(st);
}

TEST(stake_a_record_that_does_not_decode_is_eio)
{
    ln_state *st;
    ln_overlay *ov = chain(&st);
    ASSERT_EQ(ln_overlay_set(ov, (const uint8_t *)"talice", 6, (const uint8_t *)"\x81\xa5stake\xa1x", 9), 0);
    ln_stake s;
    ASSERT_EQ(ln_stake_load(ov, "alice", &s), LN_EIO);
    ASSERT_EQ(ln_overlay_set(ov, (const uint8_t *)"t", 1, (const uint8_t *)"\xc0", 1), 0);
    uint64_t t;
    ASSERT_EQ(ln_stake_total(ov, &t), LN_EIO);
    ln_overlay_free(ov);
    ln_state_close(st);
}

static const ln_test tests[] = {
    T(stake_bond_moves_balance_to_stake_and_the_total),
    T(stake_bond_and_unbond_refuse_what_is_not_there),
    T(stake_release_returns_what_is_due_at_its_height_only),
    T(stake_unbond_refuses_more_than_the_entries_an_account_may_have),
    T(stake_a_record_that_does_not_decode_is_eio),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
