/*
** test_pricing.c -- the pricing plugin's host (core/pricing.c) from C: a
** chain without a pricing slot, plugins that do not load, the answers of
** charge read and checked (fee, payer, to and its split), a refusal's code
** named by its reason, a callback stopped at its budget, the plugin's
** own state keys, callbacks looked up on every call, what pay moves
** where, muldiv, and ln_pricing_check.
*/
#include "test.h"

#include "account.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "pricing.h"
#include "registry.h"
#include "state.h"
#include "tx.h"

static const ln_blockinfo BI = { 7, 1700000000, { 0 } };

/* An in-memory state with alice (balance 1000), treasury and node0, and
** the plugin src in the pricing slot (NULL: no slot). */
static ln_overlay *chain(ln_state **st, const char *src)
{
    ASSERT_EQ(ln_crypto_init(), 0);
    ASSERT_EQ(ln_state_open(NULL, st), 0);
    ln_overlay *ov = ln_overlay_new(*st);
    ASSERT(ov != NULL);
    const char *names[] = { "alice", "treasury", "node0" };
    for (int i = 0; i < 3; i++) {
        ln_account a;
        memset(&a, 0, sizeof a);
        snprintf(a.name, sizeof a.name, "%s", names[i]);
        a.balance = i == 0 ? 1000 : 0;
        ASSERT_EQ(ln_account_save(ov, &a), 0);
    }
    if (src) ASSERT_EQ(ln_registry_install(ov, LN_SLOT_PRICING, "test", src, strlen(src), NULL, 0, 0), 0);
    return ov;
}

/* A decoded transaction from alice calling box.ping, max_fee 500. */
static void tx_of(ln_tx *tx, uint8_t **bytes)
{
    static const char unsigned_tx[] =
        "\x86\xa7" "account\xa5" "alice\xa7" "actions\x91\x83\xa4" "args\x90\xa8" "contract\xa3" "box"
        "\xa6" "method\xa4" "ping\xa8" "chain_id\xa4" "test\xa7" "expires\x64\xa7" "max_fee\xcd\x01\xf4"
        "\xa5" "nonce\x00";
    uint8_t pk[LN_PK_LEN], sk[1][LN_SK_LEN];
    ln_keypair(pk, sk[0]);
    size_t n;
    ASSERT_EQ(ln_tx_sign((const uint8_t *)unsigned_tx, sizeof unsigned_tx - 1,
                         (const uint8_t (*)[LN_SK_LEN])sk, 1, bytes, &n), 0);
    ASSERT_EQ(ln_tx_decode(tx, *bytes, n), 0);
}

static const ln_usage U = { 300, 0, 0, 150, 1024, 1, 0, NULL, 0 };

/* charge answers `ret` (Lua expression over usage u and transaction tx);
** the host's code and why. */
static int charge_with(const char *ret, ln_fee *fee, char *why, size_t wl)
{
    char src[512];
    snprintf(src, sizeof src, "return { charge = function(u, tx) return %s end }", ret);
    ln_state *st;
    ln_overlay *ov = chain(&st, src);
    ln_pricing *p;
    ASSERT_EQ(ln_pricing_open(ov, &BI, "node0", &p, why, wl), 0);
    ASSERT(p != NULL);
    ln_tx tx;
    uint8_t *b;
    tx_of(&tx, &b);
    int rc = ln_pricing_charge(p, ov, &tx, &U, fee, why, wl);
    ln_tx_free(&tx);
    free(b);
    ln_pricing_free(p);
    ln_overlay_free(ov);
    ln_state_close(st);
    return rc;
}

TEST(pricing_open_gives_no_plugin_on_a_chain_without_a_pricing_slot)
{
    ln_state *st;
    ln_overlay *ov = chain(&st, NULL);
    ln_pricing *p = (ln_pricing *)&p;
    char why[200];
    ASSERT_EQ(ln_pricing_open(ov, &BI, "", &p, why, sizeof why), 0);
    ASSERT(p == NULL);
    ln_overlay_free(ov);
    ln_state_close(st);
}

TEST(pricing_open_refuses_a_plugin_that_does_not_load_or_has_no_charge)
{
    static const struct { const char *src, *why; } cases[] = {
        { "return {", "does not load" },
        { "error('boom')", "boom" },
        { "return 5", "must return a table of callbacks" },
        { "return {}", "has no function charge" },
        { "return { charge = function() end, quote = 1 }", "quote must be a function" },
        { "while true do end", "pricing plugin test: " },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ln_state *st;
        ln_overlay *ov = chain(&st, cases[i].src);
        ln_pricing *p;
        char why[300] = "";
        ASSERT_EQ(ln_pricing_open(ov, &BI, "", &p, why, sizeof why), LN_EPLUGIN);
        ASSERT(p == NULL);
        if (!strstr(why, cases[i].why)) LN_FAIL("case %zu: '%s' lacks '%s'", i, why, cases[i].why);
        ln_overlay_free(ov);
        ln_state_close(st);
    }
}

TEST(pricing_charge_reads_fee_payer_and_where_it_goes)
{
    ln_fee f;
    char why[300];
    if (charge_with("{ fee = u.gas + 1, payer = tx.account }", &f, why, sizeof why) != 0) LN_FAIL("%s", why);
    ASSERT_EQ(f.fee, 301);
    ASSERT_STR(f.payer, "alice");
    ASSERT_EQ(f.to[LN_FEE_BURN], 301);
    ASSERT_EQ(charge_with("{ fee = 10, payer = 'alice', to = 'treasury' }", &f, why, sizeof why), 0);
    ASSERT_EQ(f.to[LN_FEE_TREASURY], 10);
    ASSERT_EQ(f.to[LN_FEE_BURN], 0);
    ASSERT_EQ(charge_with("{ fee = 10, payer = 'treasury', to = { burn = 3, proposer = 7 } }", &f, why,
                          sizeof why), 0);
    ASSERT_STR(f.payer, "treasury");
    ASSERT_EQ(f.to[LN_FEE_BURN], 3);
    ASSERT_EQ(f.to[LN_FEE_PROPOSER], 7);
    ASSERT_EQ(charge_with("{ fee = 500, payer = 'alice' }", &f, why, sizeof why), 0);   /* = max_fee */
}

TEST(pricing_charge_refuses_what_is_not_a_fee_with_eplugin)
{
    static const struct { const char *ret, *why; } cases[] = {
        { "'free'", "charge returned a string, not a table" },
        { "{ payer = 'alice' }", "fee must be an integer" },
        { "{ fee = -1, payer = 'alice' }", "fee must be an integer" },
        { "{ fee = 0.5, payer = 'alice' }", "fee must be an integer" },
        { "{ fee = 2^53, payer = 'alice' }", "fee must be an integer" },
        { "{ fee = 0/0, payer = 'alice' }", "fee must be an integer" },
        { "{ fee = 1, payer = 'Alice' }", "payer must be an account name" },
        { "{ fee = 1, payer = 'ghost' }", "the payer ghost has no account" },
        { "{ fee = 1, payer = 'alice', to = 'moon' }", "to must be burn, treasury, proposer" },
        { "{ fee = 5, payer = 'alice', to = { burn = 2, proposer = 2 } }", "add up to fee" },
        { "{ fee = 5, payer = 'alice', to = { burn = 6, proposer = -1 } }", "add up to fee" },
        { "{ fee = 501, payer = 'alice' }", "asked alice for 501, more than its max_fee 500" },
        { "setmetatable({}, { __index = function() while true do end end })", "fee must be an integer" },
        { "error('no')", "charge: " },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ln_fee f;
        char why[300] = "";
        ASSERT_EQ(charge_with(cases[i].ret, &f, why, sizeof why), LN_EPLUGIN);
        if (!strstr(why, cases[i].why)) LN_FAIL("case %zu: '%s' lacks '%s'", i, why, cases[i].why);
    }
}

TEST(pricing_refusal_takes_its_code_from_a_transaction_error_named_first)
{
    static const struct { const char *ret; int code; const char *why; } cases[] = {
        { "false, 'EQUOTA: alice used it all'", LN_EQUOTA, "alice used it all" },
        { "false, 'EFROZEN:box'", LN_EFROZEN, "box" },
        { "nil, 'EBALANCE: short'", LN_EBALANCE, "short" },
        { "false, 'EIO: not a transaction error'", LN_EPRICING, "EIO: not a transaction error" },
        { "false, 'ENOPE: unknown'", LN_EPRICING, "ENOPE: unknown" },
        { "false, 'no reason given by name'", LN_EPRICING, "no reason given by name" },
        { "false", LN_EPRICING, "refused" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ln_fee f;
        char why[300] = "";
        ASSERT_EQ(charge_with(cases[i].ret, &f, why, sizeof why), cases[i].code);
        ASSERT_STR(why, cases[i].why);
    }
}

TEST(pricing_admit_gives_the_gas_limit_or_none)
{
    static const struct { const char *ret; int code; uint64_t limit; } cases[] = {
        { "true", 0, UINT64_MAX },
        { "true, 1234", 0, 1234 },
        { "true, tx.max_fee - s.balance + 500", 0, 0 },
        { "true, -1", LN_EPLUGIN, 0 },
        { "true, 'lots'", LN_EPLUGIN, 0 },
        { "1", LN_EPLUGIN, 0 },
        { "false, 'EMAXFEE: too low'", LN_EMAXFEE, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char src[400];
        snprintf(src, sizeof src, "return { admit = function(tx, s) return %s end, charge = function() end }",
                 cases[i].ret);
        ln_state *st;
        ln_overlay *ov = chain(&st, src);
        ln_pricing *p;
        char why[300] = "";
        ASSERT_EQ(ln_pricing_open(ov, &BI, "", &p, why, sizeof why), 0);
        ln_tx tx;
        uint8_t *b;
        tx_of(&tx, &b);
        ln_account alice;
        ASSERT_EQ(ln_account_load(ov, "alice", &alice), 0);
        uint64_t limit = 99;
        int rc = ln_pricing_admit(p, ov, &tx, &alice, &limit, why, sizeof why);
        if (rc != cases[i].code) LN_FAIL("case %zu: %d (%s), not %d", i, rc, why, cases[i].code);
        if (rc == 0) ASSERT_EQ(limit, cases[i].limit);
        ln_tx_free(&tx);
        free(b);
        ln_pricing_free(p);
        ln_overlay_free(ov);
        ln_state_close(st);
    }
}

TEST(pricing_callback_that_loops_stops_at_its_budget)
{
    ln_fee f;
    char why[300] = "";
    ASSERT_EQ(charge_with("(function() while true do end end)()", &f, why, sizeof why), LN_EPLUGIN);
    ASSERT(strstr(why, "charge: stopped after its budget of 2000000 instructions") != NULL);
}

TEST(pricing_state_keys_live_under_f_and_on_block_sees_the_totals)
{
    ln_state *st;
    ln_overlay *ov = chain(&st,
        "return { charge = function() end,"
        "  on_block = function(t, h) pricing.set('seen', { gas = t.gas, txs = t.txs, height = h.height,"
        "                                                 proposer = h.proposer, was = pricing.get('seen') }) end }");
    ln_pricing *p;
    char why[300];
    ASSERT_EQ(ln_pricing_open(ov, &BI, "node0", &p, why, sizeof why), 0);
    ASSERT_EQ(ln_pricing_block(p, ov, &U, 3, why, sizeof why), 0);
    const uint8_t *v;
    size_t vl;
    ASSERT_EQ(ln_overlay_get(ov, (const uint8_t *)"fseen", 5, &v, &vl), 0);
    static const uint8_t want[] = "\x84\xa3gas\xcd\x01\x2c\xa6height\x07\xa8proposer\xa5node0\xa3txs\x03";
    ASSERT_EQ(vl, sizeof want - 1);
    ASSERT_MEM(v, want, vl);
    ln_pricing_free(p);
    ln_overlay_free(ov);
    ln_state_close(st);
}

/* The host calls the plugin's function of the moment: one that replaces
** its own charge is charged by the new one from the next call on, with
** other callbacks run in between. */
TEST(pricing_callbacks_are_looked_up_on_every_call)
{
    ln_state *st;
    ln_overlay *ov = chain(&st,
        "local M = {}\n"
        "function M.charge(u, tx)\n"
        "  M.charge = function(u2, tx2) return { fee = u2.gas + 2, payer = tx2.account } end\n"
        "  return { fee = u.gas + 1, payer = tx.account }\n"
        "end\n"
        "function M.admit(tx, s) return true, s.balance + tx.max_fee end\n"
        "return M\n");
    ln_pricing *p;
    char why[300];
    ASSERT_EQ(ln_pricing_open(ov, &BI, "node0", &p, why, sizeof why), 0);
    ln_tx tx;
    uint8_t *b;
    tx_of(&tx, &b);
    ln_account alice;
    ASSERT_EQ(ln_account_load(ov, "alice", &alice), 0);
    ln_fee f;
    uint64_t limit = 0;
    ASSERT_EQ(ln_pricing_charge(p, ov, &tx, &U, &f, why, sizeof why), 0);
    ASSERT_EQ(f.fee, 301);
    ASSERT_EQ(ln_pricing_admit(p, ov, &tx, &alice, &limit, why, sizeof why), 0);
    ASSERT_EQ(limit, 1500);
    ASSERT_EQ(ln_pricing_quote(p, ov, &tx, &U, &f, why, sizeof why), 0);   /* no quote: charge's */
    ASSERT_EQ(f.fee, 302);
    ASSERT_EQ(ln_pricing_charge(p, ov, &tx, &U, &f, why, sizeof why), 0);
    ASSERT_EQ(f.fee, 302);
    ln_tx_free(&tx);
    free(b);
    ln_pricing_free(p);
    ln_overlay_free(ov);
    ln_state_close(st);
}

/* A plugin that removes its charge fails on the next call with the text
** nodes have always given for it (the glue's line of the call). */
TEST(pricing_a_callback_removed_fails_with_the_glue_line)
{
    ln_fee f;
    char why[300] = "";
    ln_state *st;
    ln_overlay *ov = chain(&st, "local M = {} function M.charge(u, tx) M.charge = nil "
                                "return { fee = 1, payer = tx.account } end return M");
    ln_pricing *p;
    ASSERT_EQ(ln_pricing_open(ov, &BI, "node0", &p, why, sizeof why), 0);
    ln_tx tx;
    uint8_t *b;
    tx_of(&tx, &b);
    ASSERT_EQ(ln_pricing_charge(p, ov, &tx, &U, &f, why, sizeof why), 0);
    ASSERT_EQ(ln_pricing_charge(p, ov, &tx, &U, &f, why, sizeof why), LN_EPLUGIN);
    ASSERT_STR(why, "pricing plugin test: charge: pricing glue:23: attempt to call a nil value");
    ln_tx_free(&tx);
    free(b);
    ln_pricing_free(p);
    ln_overlay_free(ov);
    ln_state_close(st);
}

TEST(pricing_pay_takes_at_most_the_balance_and_burns_first)
{
    ln_state *st;
    ln_overlay *ov = chain(&st, NULL);
    ln_fee f = { 1500, "alice", { 400, 500, 600 } };   /* burn, treasury, proposer */
    uint64_t taken;
    ASSERT_EQ(ln_pricing_pay(ov, &f, "node0", &taken), 0);
    ASSERT_EQ(taken, 1000);
    ln_account a;
    ASSERT_EQ(ln_account_load(ov, "alice", &a), 0);
    ASSERT_EQ(a.balance, 0);
    ASSERT_EQ(ln_account_load(ov, "treasury", &a), 0);
    ASSERT_EQ(a.balance, 500);
    ASSERT_EQ(ln_account_load(ov, "node0", &a), 0);
    ASSERT_EQ(a.balance, 100);
    /* a proposer without an account: its part is burned */
    ln_fee g = { 100, "treasury", { 0, 0, 100 } };
    ASSERT_EQ(ln_pricing_pay(ov, &g, "nobody", &taken), 0);
    ASSERT_EQ(taken, 100);
    ASSERT_EQ(ln_account_load(ov, "treasury", &a), 0);
    ASSERT_EQ(a.balance, 400);
    ln_fee h = { 1, "ghost", { 1, 0, 0 } };
    ASSERT_EQ(ln_pricing_pay(ov, &h, "", &taken), LN_ENOACCOUNT);
    ln_overlay_free(ov);
    ln_state_close(st);
}

TEST(pricing_muldiv_is_exact_past_2_to_the_53_in_between)
{
    ln_fee f;
    char why[300] = "";
    /* (2^53 - 1) * 3 / 4, and 10^15 * 10^15 / 10^15: the products need 64 bits and more */
    ASSERT_EQ(charge_with("{ fee = pricing.muldiv(9007199254740991, 3, 4), payer = 'treasury' }", &f, why,
                          sizeof why), 0);
    ASSERT_EQ(f.fee, 6755399441055743ull);
    ASSERT_EQ(charge_with("{ fee = pricing.muldiv(1e15, 1e15, 1e15), payer = 'treasury' }", &f, why,
                          sizeof why), 0);
    ASSERT_EQ(f.fee, 1000000000000000ull);
    ASSERT_EQ(charge_with("{ fee = pricing.muldiv(1e15, 1e15, 1), payer = 'treasury' }", &f, why,
                          sizeof why), LN_EPLUGIN);
    ASSERT(strstr(why, "result beyond 2^53-1") != NULL);
    ASSERT_EQ(charge_with("{ fee = pricing.muldiv(1, 1, 0), payer = 'treasury' }", &f, why, sizeof why),
              LN_EPLUGIN);
    ASSERT(strstr(why, "division by zero") != NULL);
}

TEST(pricing_check_loads_with_params_and_gives_the_name)
{
    static const char src[] =
        "local price = pricing.params.price\n"
        "if not price then error('params.price is required') end\n"
        "return { NAME = 'priced', charge = function() end }";
    char name[LN_PLUGIN_NAME_MAX + 1], why[300] = "";
    static const uint8_t params[] = "\x81\xa5price\x03";
    ASSERT_EQ(ln_pricing_check(&BI, "p", src, sizeof src - 1, params, sizeof params - 1, name, why,
                               sizeof why), 0);
    ASSERT_STR(name, "priced");
    ASSERT_EQ(ln_pricing_check(&BI, "p", src, sizeof src - 1, NULL, 0, name, why, sizeof why), LN_EPLUGIN);
    ASSERT(strstr(why, "params.price is required") != NULL);
}

static const ln_test tests[] = {
    T(pricing_open_gives_no_plugin_on_a_chain_without_a_pricing_slot),
    T(pricing_open_refuses_a_plugin_that_does_not_load_or_has_no_charge),
    T(pricing_charge_reads_fee_payer_and_where_it_goes),
    T(pricing_charge_refuses_what_is_not_a_fee_with_eplugin),
    T(pricing_refusal_takes_its_code_from_a_transaction_error_named_first),
    T(pricing_admit_gives_the_gas_limit_or_none),
    T(pricing_callback_that_loops_stops_at_its_budget),
    T(pricing_state_keys_live_under_f_and_on_block_sees_the_totals),
    T(pricing_callbacks_are_looked_up_on_every_call),
    T(pricing_a_callback_removed_fails_with_the_glue_line),
    T(pricing_pay_takes_at_most_the_balance_and_burns_first),
    T(pricing_muldiv_is_exact_past_2_to_the_53_in_between),
    T(pricing_check_loads_with_params_and_gives_the_name),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
