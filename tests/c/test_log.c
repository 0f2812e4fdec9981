/* test_log.c -- the names of log levels (core/log.c), as --log-level takes
** them. The node's log itself is tested on real processes in
** tests/net/log_spec.lua. */
#include "test.h"
#include "log.h"

TEST(log_levels_read_and_print_by_their_four_names)
{
    const char *names[] = { "debug", "info", "warn", "error" };
    for (int i = 0; i < 4; i++) {
        ASSERT_EQ(ln_log_level_of(names[i]), i);
        ASSERT_STR(ln_log_level_name(i), names[i]);
    }
    ASSERT(LN_LOG_DEBUG < LN_LOG_INFO && LN_LOG_INFO < LN_LOG_WARN && LN_LOG_WARN < LN_LOG_ERROR);
}

TEST(log_level_of_anything_else_is_minus_one)
{
    const char *bad[] = { "", "INFO", "warning", "info ", "trace", "0" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) ASSERT_EQ(ln_log_level_of(bad[i]), -1);
    ASSERT_STR(ln_log_level_name(4), "?");
    ASSERT_STR(ln_log_level_name(-1), "?");
}

static const ln_test tests[] = {
    T(log_levels_read_and_print_by_their_four_names),
    T(log_level_of_anything_else_is_minus_one),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
