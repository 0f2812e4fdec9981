/* test_params.c -- the chain params in the state (core/params.c): defaults,
** changes and their bounds, the record's bytes. */
#include "test.h"
#include "crypto.h"
#include "err.h"
#include "params.h"

TEST(params_default_then_set_then_back_to_no_record)
{
    ln_state *st;
    ln_crypto_init();
    ASSERT_EQ(ln_state_open(NULL, &st), 0);
    ln_overlay *ov = ln_overlay_new(st);
    ln_params p;
    ASSERT_EQ(ln_params_load(ov, &p), 0);
    ASSERT_EQ(p.block_gas_max, 500000000ull);
    ASSERT_EQ(p.swap_delay, 10);
    char why[160];
    ASSERT_EQ(ln_params_set(ov, "swap_delay", 3, why, sizeof why), 0);
    ASSERT_EQ(ln_params_set(ov, "block_gas_max", 2000000, why, sizeof why), 0);
    ASSERT_EQ(ln_params_load(ov, &p), 0);
    ASSERT_EQ(p.swap_delay, 3);
    ASSERT_EQ(p.block_gas_max, 2000000);
    ASSERT_EQ(p.mempool_max, 200000);
    /* Sorted keys, only what differs. */
    const uint8_t *v;
    size_t vl;
    ASSERT_EQ(ln_overlay_get(ov, (const uint8_t *)"q", 1, &v, &vl), 0);
    ASSERT_EQ(v[0], 0x82);
    ASSERT_MEM(v + 2, "block_gas_max", 13);
    ASSERT_EQ(ln_params_set(ov, "swap_delay", 10, why, sizeof why), 0);
    ASSERT_EQ(ln_params_set(ov, "block_gas_max", 500000000, why, sizeof why), 0);
    ASSERT_EQ(ln_overlay_get(ov, (const uint8_t *)"q", 1, &v, &vl), LN_ENOTFOUND);
    ln_overlay_free(ov);
    ln_state_close(st);
}

TEST(params_refuses_unknown_names_and_values_out_of_range)
{
    ln_state *st;
    ln_crypto_init();
    ASSERT_EQ(ln_state_open(NULL, &st), 0);
    ln_overlay *ov = ln_overlay_new(st);
    char why[160];
    ASSERT_EQ(ln_params_set(ov, "gas", 1, why, sizeof why), LN_ENOTFOUND);
    ASSERT_STR(why, "gas is no chain param");
    ASSERT_EQ(ln_params_set(ov, "block_gas_max", 0, why, sizeof why), LN_EINVAL);
    ASSERT_STR(why, "block_gas_max must be 1000000-10000000000, not 0");
    ASSERT_EQ(ln_params_set(ov, "tx_bytes_max", 1u << 20, why, sizeof why), LN_EINVAL);
    ASSERT_EQ(ln_params_set(ov, "swap_delay", 0, why, sizeof why), LN_EINVAL);
    /* A corrupt record is an I/O error, not defaults. */
    ASSERT_EQ(ln_overlay_set(ov, (const uint8_t *)"q", 1, (const uint8_t *)"\x81\xa1x\x01", 4), 0);
    ln_params p;
    ASSERT_EQ(ln_params_load(ov, &p), LN_EIO);
    ln_overlay_free(ov);
    ln_state_close(st);
}

static const ln_test tests[] = {
    T(params_default_then_set_then_back_to_no_record),
    T(params_refuses_unknown_names_and_values_out_of_range),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
