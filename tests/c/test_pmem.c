/* test_pmem.c -- a plugin's crash-safe memory (core/pmem.c): small values in
** LevelDB, big ones in files, each readable after a reopen. */
#include <sys/stat.h>

#include "test.h"
#include "err.h"
#include "pmem.h"

static char dir[64], home[96], db[96];

static ln_store *open_store(void)
{
    ln_store *st;
    ASSERT_EQ(ln_store_open(db, &st), 0);
    return st;
}

static void setup(void)
{
    ln_test_tmpdir(dir, sizeof dir, "pmem");
    snprintf(home, sizeof home, "%s/home", dir);
    snprintf(db, sizeof db, "%s/db", dir);
    ASSERT_EQ(mkdir(home, 0700), 0);
}

static void teardown(void) { ln_test_rmtree(dir); }

TEST(pmem_small_and_big_values_survive_a_reopen)
{
    setup();
    static uint8_t big[LN_PMEM_FILE_BYTES + 10];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)i;
    ln_store *st = open_store();
    ASSERT_EQ(ln_pmem_put(st, home, "vote", (const uint8_t *)"\x93\x01\x02\x03", 4), 0);
    ASSERT_EQ(ln_pmem_put(st, home, "lock", big, sizeof big), 0);
    ln_store_close(st);
    st = open_store();
    uint8_t *v;
    size_t n;
    ASSERT_EQ(ln_pmem_get(st, home, "vote", 1 << 20, &v, &n), 0);
    ASSERT_EQ(n, 4);
    ASSERT_MEM(v, "\x93\x01\x02\x03", 4);
    free(v);
    ASSERT_EQ(ln_pmem_get(st, home, "lock", 1 << 20, &v, &n), 0);
    ASSERT_EQ(n, sizeof big);
    ASSERT_MEM(v, big, sizeof big);
    free(v);
    ASSERT_EQ(ln_pmem_get(st, home, "none", 1 << 20, &v, &n), LN_ENOTFOUND);
    ln_store_close(st);
    teardown();
}

TEST(pmem_a_small_value_replaces_a_big_one)
{
    setup();
    static uint8_t big[LN_PMEM_FILE_BYTES];
    ln_store *st = open_store();
    ASSERT_EQ(ln_pmem_put(st, home, "k", big, sizeof big), 0);
    ASSERT_EQ(ln_pmem_put(st, home, "k", (const uint8_t *)"\xc0", 1), 0);
    uint8_t *v;
    size_t n;
    ASSERT_EQ(ln_pmem_get(st, home, "k", 1 << 20, &v, &n), 0);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(v[0], 0xc0);
    free(v);
    ln_store_close(st);
    teardown();
}

TEST(pmem_refuses_a_key_too_long)
{
    setup();
    ln_store *st = open_store();
    char key[LN_PMEM_KEY_MAX + 2];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = 0;
    ASSERT_EQ(ln_pmem_put(st, home, key, (const uint8_t *)"\xc0", 1), LN_ETOOBIG);
    ln_store_close(st);
    teardown();
}

static const ln_test tests[] = {
    T(pmem_small_and_big_values_survive_a_reopen),
    T(pmem_a_small_value_replaces_a_big_one),
    T(pmem_refuses_a_key_too_long),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
