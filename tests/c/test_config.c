/* test_config.c -- config files (core/config.c): Lua data evaluated in a
** sandbox under a budget, what may and may not be in one, chain ids, plugin
** names from paths, and file reads with a size limit. What a config must
** hold to make a chain is genesis.c's (test_genesis.c). */
#include <unistd.h>

#include "test.h"
#include "codec.h"
#include "config.h"
#include "err.h"

static char dir[64], path[128];

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    ASSERT(fputs(text, f) >= 0);
    ASSERT_EQ(fclose(f), 0);
}

static void setup(void)
{
    ln_test_tmpdir(dir, sizeof dir, "config");
    snprintf(path, sizeof path, "%s/c.lua", dir);
}

/* The config text evaluated: its code, its message in err. */
static int eval(const char *text, uint8_t **out, size_t *len, char *err, size_t errlen)
{
    write_file(text);
    err[0] = 0;
    return ln_config_eval(path, out, len, err, errlen);
}

#define REFUSED(text, why) do {                                            \
    uint8_t *o_ = NULL;                                                 \
    size_t l_;                                                          \
    char e_[512];                                                       \
    int rc_ = eval((text), &o_, &l_, e_, sizeof e_);                    \
    if (rc_ != LN_ECONFIG) LN_FAIL("%s: gave %d (%s)", (text), rc_, e_);  \
    if (!strstr(e_, (why))) LN_FAIL("%s: \"%s\" does not say \"%s\"", (text), e_, (why)); \
    ASSERT(strstr(e_, path) != NULL);                                   \
} while (0)

TEST(config_eval_gives_the_table_as_canonical_msgpack)
{
    setup();
    uint8_t *out;
    size_t n;
    char err[256];
    ASSERT_EQ(eval("local n = 2\nreturn { b = { 1, n * 3 }, a = 'x' .. 'y' }", &out, &n, err, sizeof err), 0);
    static const uint8_t want[] = { 0x82, 0xa1, 'a', 0xa2, 'x', 'y', 0xa1, 'b', 0x92, 0x01, 0x06 };
    ASSERT_EQ(n, sizeof want);
    ASSERT_MEM(out, want, n);
    free(out);
    ln_test_rmtree(dir);
}

TEST(config_eval_refuses_code_that_fails_loops_or_is_not_data)
{
    setup();
    REFUSED("return {", "c.lua:1:");
    REFUSED("error('no chain today')", "no chain today");
    REFUSED("return 42", "must return a table");
    REFUSED("while true do end", "config");
    REFUSED("local t = {} for i = 1, 1e9 do t[i] = i end return t", "config");
    REFUSED("return { f = function() end }", "(configs are data: strings, integers, tables)");
    REFUSED("return { x = 0.5 }", "(configs are data: strings, integers, tables)");
    /* nothing of the host is there: no io, os or require */
    REFUSED("return { io.open('/etc/passwd') }", "config");
    REFUSED("return { os.time() }", "config");
    REFUSED("return { require('os') }", "config");
    char err[256];
    uint8_t *out;
    size_t n;
    ASSERT_EQ(ln_config_eval("/nonexistent/c.lua", &out, &n, err, sizeof err), LN_ECONFIG);
    ASSERT_STR(err, "config /nonexistent/c.lua: cannot read");
    ln_test_rmtree(dir);
}

TEST(config_chain_id_takes_1_to_64_printable_characters_without_space_quote_or_backslash)
{
    char id[80];
    ASSERT_EQ(ln_chain_id_valid("lunet-consortium_1.0"), 1);
    ASSERT_EQ(ln_chain_id_valid("a"), 1);
    ASSERT_EQ(ln_chain_id_valid("~!#$%&'()*+,/:;<=>?@[]^`{|}"), 1);
    memset(id, 'c', 64);
    id[64] = 0;
    ASSERT_EQ(ln_chain_id_valid(id), 1);
    id[64] = 'c';
    id[65] = 0;
    ASSERT_EQ(ln_chain_id_valid(id), 0);
    const char *bad[] = { "", "a b", "a\"b", "a\\b", "a\tb", "a\x7f", "caf\xc3\xa9" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (ln_chain_id_valid(bad[i])) LN_FAIL("chain id \"%s\" was taken", bad[i]);
}

TEST(config_plugin_name_is_the_file_name_up_to_its_first_dot)
{
    char name[8];
    ASSERT_EQ(ln_plugin_name_of("consensus/bft.lua", name, sizeof name), 3);
    ASSERT_STR(name, "bft");
    ASSERT_EQ(ln_plugin_name_of("/a/b.c/poa.v2.lua", name, sizeof name), 3);
    ASSERT_STR(name, "poa");
    ASSERT_EQ(ln_plugin_name_of("admin", name, sizeof name), 5);
    ASSERT_STR(name, "admin");
    ASSERT_EQ(ln_plugin_name_of("dir/.lua", name, sizeof name), 0);
    ASSERT_STR(name, "");
    /* cut to fit, with the whole length returned so the caller can refuse it */
    ASSERT_EQ(ln_plugin_name_of("plugins/supermajority.lua", name, sizeof name), 13);
    ASSERT_STR(name, "superma");
}

TEST(config_file_read_stops_at_its_limit_and_ends_the_text_with_a_nul)
{
    setup();
    char *text;
    size_t n;
    write_file("0123456789");
    ASSERT_EQ(ln_file_read_max(path, 10, &text, &n), 0);
    ASSERT_EQ(n, 10);
    ASSERT_EQ(text[10], 0);
    free(text);
    ASSERT_EQ(ln_file_read_max(path, 9, &text, &n), LN_ETOOBIG);
    write_file("");
    ASSERT_EQ(ln_file_read(path, &text, &n), 0);
    ASSERT_EQ(n, 0);
    ASSERT_STR(text, "");
    free(text);
    ASSERT_EQ(ln_file_read("/nonexistent/file", &text, &n), LN_ENOTFOUND);
    ln_test_rmtree(dir);
}

static const ln_test tests[] = {
    T(config_eval_gives_the_table_as_canonical_msgpack),
    T(config_eval_refuses_code_that_fails_loops_or_is_not_data),
    T(config_chain_id_takes_1_to_64_printable_characters_without_space_quote_or_backslash),
    T(config_plugin_name_is_the_file_name_up_to_its_first_dot),
    T(config_file_read_stops_at_its_limit_and_ends_the_text_with_a_nul),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
