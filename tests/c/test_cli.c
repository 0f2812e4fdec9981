/* test_cli.c -- placeholder */
#include "test.h"
#include "cli.h"
TEST(placeholder) { ASSERT(ln_cli_is_command("send")); }
static const ln_test tests[] = { T(placeholder), { NULL, NULL } };
LN_TEST_MAIN(tests)
