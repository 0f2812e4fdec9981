/* test_home.c -- a home's chain against a config (ln_home_check) and
** --reset (ln_home_reset), on chains a real node made in a temporary home
** (LevelDB on disk, the repository's poa plugin). The commands that use
** them are tested in tests/net/home_spec.lua. */
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "crypto.h"
#include "err.h"
#include "home.h"
#include "node.h"

#ifndef LN_SOURCE_DIR
#define LN_SOURCE_DIR "."
#endif

static char dir[64];

static const char *path_of(const char *name)
{
    static char buf[4][256];
    static int k;
    char *p = buf[k++ & 3];
    snprintf(p, 256, "%s/%s", dir, name);
    return p;
}

/* dir/NAME: a config of chain `chain_id` with block_ms `ms` and, when
** not 0, genesis_time `t`. */
static const char *config(const char *name, const char *chain_id, int ms, unsigned long t)
{
    char text[1024], gt[64] = "";
    if (t) snprintf(gt, sizeof gt, "  genesis_time = %lu,\n", t);
    snprintf(text, sizeof text,
             "return {\n"
             "  chain_id = '%s',\n%s"
             "  validators = { 'node0' },\n"
             "  accounts = { { name = 'alice', balance = 1000 } },\n"
             "  consensus = { plugin = '%s/consensus/poa.lua', params = { block_ms = %d } },\n"
             "}\n", chain_id, gt, LN_SOURCE_DIR, ms);
    const char *p = path_of(name);
    FILE *f = fopen(p, "wb");
    ASSERT(f != NULL);
    ASSERT_EQ(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
    return p;
}

/* A node makes the chain of cfg in dir/home (keys created), then stops. */
static void make_chain(const char *cfg)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    ln_node_config c = { .home = path_of("home"), .config = cfg, .dev = 1 };
    ln_node *n;
    char err[300] = "";
    int rc = ln_node_open(&c, &loop, &n, err, sizeof err);
    if (rc < 0) LN_FAIL("ln_node_open: %s", err);
    ln_node_close(n);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ(uv_loop_close(&loop), 0);
}

static void setup(void)
{
    ln_test_tmpdir(dir, sizeof dir, "home");
    ASSERT_EQ(ln_crypto_init(), 0);
    fflush(stdout);
    /* the node prints the dev accounts it creates: not this test's output */
    ASSERT(freopen("/dev/null", "w", stdout) != NULL);
}

#define ASSERT_HAS(hay, needle) do {                                    \
    if (!strstr((hay), (needle)))                                       \
        LN_FAIL("expected \"%s\" in:\n%s", (needle), (hay));            \
} while (0)

TEST(home_without_a_chain_takes_any_config)
{
    setup();
    char err[600] = "";
    ASSERT_EQ(ln_home_check(path_of("home"), config("a.lua", "one", 50, 0), err, sizeof err), 0);
    mkdir(path_of("home"), 0755);
    ASSERT_EQ(ln_home_check(path_of("home"), config("a.lua", "one", 50, 0), err, sizeof err), 0);
    ln_test_rmtree(dir);
}

TEST(home_check_takes_the_config_that_made_the_chain)
{
    setup();
    const char *cfg = config("a.lua", "one", 50, 0);
    make_chain(cfg);
    char err[600] = "";
    /* genesis_time was now when the chain was made: a config without one
    ** still makes this chain */
    sleep(1);
    int rc = ln_home_check(path_of("home"), cfg, err, sizeof err);
    if (rc) LN_FAIL("%s: %s", ln_errname(rc), err);
    ln_test_rmtree(dir);
}

TEST(home_check_refuses_another_chain_id_genesis_or_genesis_time_and_says_which)
{
    setup();
    make_chain(config("a.lua", "one", 50, 1700000000));
    char err[600];
    struct { const char *cfg, *says; } cases[] = {
        { config("b.lua", "two", 50, 1700000000), "the chain id differs" },
        { config("c.lua", "one", 51, 1700000000), "the genesis differs" },
        { config("d.lua", "one", 50, 1700000001), "the genesis time differs" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        err[0] = 0;
        ASSERT_EQ(ln_home_check(path_of("home"), cases[i].cfg, err, sizeof err), LN_ECONFIG);
        ASSERT_HAS(err, cases[i].says);
        ASSERT_HAS(err, "holds chain 'one'");
        ASSERT_HAS(err, "--reset");
    }
    ASSERT_EQ(ln_home_check(path_of("home"), config("e.lua", "one", 50, 1700000000), err, sizeof err), 0);
    ln_test_rmtree(dir);
}

TEST(home_check_of_a_home_in_use_is_elocked)
{
    setup();
    const char *cfg = config("a.lua", "one", 50, 0);
    make_chain(cfg);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ln_node_config c = { .home = path_of("home"), .config = cfg };
    ln_node *n;
    char err[600] = "";
    ASSERT_EQ(ln_node_open(&c, &loop, &n, err, sizeof err), 0);
    ASSERT_EQ(ln_home_check(path_of("home"), cfg, err, sizeof err), LN_ELOCKED);
    ASSERT_HAS(err, "in use");
    ln_node_close(n);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ(uv_loop_close(&loop), 0);
    ln_test_rmtree(dir);
}

TEST(home_reset_removes_the_chain_and_keeps_the_keys)
{
    setup();
    make_chain(config("a.lua", "one", 50, 0));
    mkdir(path_of("home/plugin"), 0700);
    FILE *f = fopen(path_of("home/plugin/x"), "wb");
    ASSERT(f != NULL);
    fclose(f);
    char err[600] = "";
    ASSERT_EQ(ln_home_reset(path_of("home"), err, sizeof err), 0);
    ASSERT(access(path_of("home/data"), F_OK) != 0);
    ASSERT(access(path_of("home/plugin"), F_OK) != 0);
    ASSERT_EQ(access(path_of("home/keys/alice.key"), R_OK), 0);
    /* then any config goes, and a second reset finds nothing to do */
    ASSERT_EQ(ln_home_check(path_of("home"), config("b.lua", "two", 50, 0), err, sizeof err), 0);
    ASSERT_EQ(ln_home_reset(path_of("home"), err, sizeof err), 0);
    ln_test_rmtree(dir);
}

static const ln_test tests[] = {
    T(home_without_a_chain_takes_any_config),
    T(home_check_takes_the_config_that_made_the_chain),
    T(home_check_refuses_another_chain_id_genesis_or_genesis_time_and_says_which),
    T(home_check_of_a_home_in_use_is_elocked),
    T(home_reset_removes_the_chain_and_keeps_the_keys),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
