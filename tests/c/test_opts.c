/* test_opts.c -- command-line options from one table (core/opts.c). */
#include <stdarg.h>

#include "test.h"
#include "err.h"
#include "opts.h"

static const ln_opt table[] = {
    { "rpc", 0, LN_OPT_STR, "URL", 0, 0, "the node" },
    { "count", 'n', LN_OPT_UINT, "M", 1, 100, "how many" },
    { "peer", 0, LN_OPT_LIST, "ADDR", 0, 0, "a peer (repeatable)" },
    { "json", 0, LN_OPT_FLAG, NULL, 0, 0, "JSON" },
    { NULL, 0, 0, NULL, 0, 0, NULL }
};

static int parse(ln_args *a, char *err, size_t errlen, ...)
{
    char *argv[32] = { "cmd" };
    int argc = 1;
    va_list ap;
    va_start(ap, errlen);
    for (char *s; (s = va_arg(ap, char *));) argv[argc++] = s;
    va_end(ap);
    return ln_opts_parse(table, argc, argv, a, err, errlen);
}

TEST(options_anywhere_among_positionals_in_both_spellings)
{
    ln_args a;
    char err[128];
    ASSERT_EQ(parse(&a, err, sizeof err, "x", "--rpc", "http://h:1", "y", "--count=7", "--json",
                    "z", NULL), 0);
    ASSERT_EQ(a.npos, 3);
    ASSERT_STR(a.pos[0], "x");
    ASSERT_STR(a.pos[2], "z");
    ASSERT_STR(ln_args_str(&a, "rpc", NULL), "http://h:1");
    ASSERT_EQ(ln_args_uint(&a, "count", 0), 7);
    ASSERT(ln_args_flag(&a, "json"));
    ln_args_free(&a);
}

TEST(short_option_repeatable_list_and_defaults)
{
    ln_args a;
    char err[128];
    ASSERT_EQ(parse(&a, err, sizeof err, "-n", "3", "--peer", "a:1", "--peer=b:2", NULL), 0);
    ASSERT_EQ(ln_args_uint(&a, "count", 0), 3);
    const ln_optval *p = ln_args_get(&a, "peer");
    ASSERT_EQ(p->nlist, 2);
    ASSERT_STR(p->list[0], "a:1");
    ASSERT_STR(p->list[1], "b:2");
    ASSERT_STR(ln_args_str(&a, "rpc", "dflt"), "dflt");
    ASSERT(!ln_args_flag(&a, "json"));
    ln_args_free(&a);
}

TEST(double_dash_ends_the_options)
{
    ln_args a;
    char err[128];
    ASSERT_EQ(parse(&a, err, sizeof err, "--", "--json", "-n", NULL), 0);
    ASSERT_EQ(a.npos, 2);
    ASSERT_STR(a.pos[0], "--json");
    ASSERT(!ln_args_flag(&a, "json"));
    ln_args_free(&a);
}

TEST(usage_errors_say_what_was_wrong)
{
    ln_args a;
    char err[128];
    ASSERT_EQ(parse(&a, err, sizeof err, "--frob", NULL), LN_EINVAL);
    ASSERT_STR(err, "unknown option --frob");
    ln_args_free(&a);
    ASSERT_EQ(parse(&a, err, sizeof err, "--rpc", NULL), LN_EINVAL);
    ASSERT_STR(err, "--rpc needs a value");
    ln_args_free(&a);
    ASSERT_EQ(parse(&a, err, sizeof err, "--json=1", NULL), LN_EINVAL);
    ASSERT_STR(err, "--json takes no value");
    ln_args_free(&a);
    ASSERT_EQ(parse(&a, err, sizeof err, "-n", "101", NULL), LN_EINVAL);
    ASSERT_STR(err, "--count wants an integer 1..100, not '101'");
    ln_args_free(&a);
    ASSERT_EQ(parse(&a, err, sizeof err, "-n", "07", NULL), LN_EINVAL);
    ln_args_free(&a);
    ASSERT_EQ(parse(&a, err, sizeof err, "-x", NULL), LN_EINVAL);
    ASSERT_STR(err, "unknown option -x");
    ln_args_free(&a);
}

TEST(help_is_asked_for_before_a_double_dash_only)
{
    char *yes[] = { "cmd", "x", "-h" }, *no[] = { "cmd", "--", "--help" };
    ASSERT(ln_opts_wants_help(3, yes));
    ASSERT(!ln_opts_wants_help(3, no));
}

TEST(usage_lists_every_option_aligned)
{
    char buf[1024] = "";
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    ln_opts_usage(f, table);
    fclose(f);
    ASSERT(strstr(buf, "  --rpc URL      the node\n"));
    ASSERT(strstr(buf, "  -n, --count M  how many\n"));
    ASSERT(strstr(buf, "  -h, --help     this text\n"));
}

static const ln_test tests[] = {
    T(options_anywhere_among_positionals_in_both_spellings),
    T(short_option_repeatable_list_and_defaults),
    T(double_dash_ends_the_options),
    T(usage_errors_say_what_was_wrong),
    T(help_is_asked_for_before_a_double_dash_only),
    T(usage_lists_every_option_aligned),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
