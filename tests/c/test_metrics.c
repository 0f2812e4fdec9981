/* test_metrics.c -- Prometheus text from a table of metrics (core/metrics.c):
** the HELP and TYPE lines, families of labelled entries, and how values
** print. The node's own table is read over HTTP in tests/net/http_spec.lua. */
#include "test.h"
#include "metrics.h"

/* Each getter reads its slot of the caller's array. */
static double v0(void *ud) { return ((const double *)ud)[0]; }
static double v1(void *ud) { return ((const double *)ud)[1]; }
static double v2(void *ud) { return ((const double *)ud)[2]; }
static double v3(void *ud) { return ((const double *)ud)[3]; }

TEST(metrics_text_gives_help_type_and_a_value_line_per_metric)
{
    const ln_metric t[] = {
        { "lunet_height", LN_METRIC_GAUGE, "Height of the head block.", NULL, v0 },
        { "lunet_blocks_total", LN_METRIC_COUNTER, "Blocks committed since start.", NULL, v1 },
    };
    double vals[] = { 12, 7 };
    char *s = ln_metrics_text(t, 2, vals);
    ASSERT_STR(s, "# HELP lunet_height Height of the head block.\n"
                  "# TYPE lunet_height gauge\n"
                  "lunet_height 12\n"
                  "# HELP lunet_blocks_total Blocks committed since start.\n"
                  "# TYPE lunet_blocks_total counter\n"
                  "lunet_blocks_total 7\n");
    free(s);
    s = ln_metrics_text(t, 0, vals);
    ASSERT_STR(s, "");
    free(s);
}

TEST(metrics_entries_of_one_family_share_its_help_and_type_lines)
{
    const ln_metric t[] = {
        { "lunet_sig_checks_total", LN_METRIC_COUNTER, "Signatures checked.", "where=\"pool\"", v0 },
        { "lunet_sig_checks_total", LN_METRIC_COUNTER, "", "where=\"block\"", v1 },
        { "lunet_peers", LN_METRIC_GAUGE, "Peers connected.", NULL, v2 },
        { "lunet_sig_checks_total", LN_METRIC_COUNTER, "Signatures checked.", "where=\"rpc\"", v3 },
    };
    double vals[] = { 3, 4, 2, 1 };
    char *s = ln_metrics_text(t, 4, vals);
    /* the family's lines come once for the entries that follow each other;
    ** an entry after another family starts its own lines again */
    ASSERT_STR(s, "# HELP lunet_sig_checks_total Signatures checked.\n"
                  "# TYPE lunet_sig_checks_total counter\n"
                  "lunet_sig_checks_total{where=\"pool\"} 3\n"
                  "lunet_sig_checks_total{where=\"block\"} 4\n"
                  "# HELP lunet_peers Peers connected.\n"
                  "# TYPE lunet_peers gauge\n"
                  "lunet_peers 2\n"
                  "# HELP lunet_sig_checks_total Signatures checked.\n"
                  "# TYPE lunet_sig_checks_total counter\n"
                  "lunet_sig_checks_total{where=\"rpc\"} 1\n");
    free(s);
}

/* The value line of one gauge reading v. */
static void value_is(double v, const char *want)
{
    const ln_metric t[] = { { "m", LN_METRIC_GAUGE, "h", NULL, v0 } };
    char *s = ln_metrics_text(t, 1, &v);
    ASSERT(s != NULL);
    const char *line = strstr(s, "\nm ");
    ASSERT(line != NULL);
    char got[64];
    snprintf(got, sizeof got, "%s", line + 3);
    got[strcspn(got, "\n")] = 0;
    if (strcmp(got, want) != 0) LN_FAIL("%.17g printed as \"%s\", want \"%s\"", v, got, want);
    free(s);
}

TEST(metrics_integral_values_print_whole_and_fractional_ones_as_decimals)
{
    value_is(0, "0");
    value_is(-3, "-3");
    value_is(1700000000, "1700000000");
    value_is(9007199254740991.0, "9007199254740991");      /* 2^53 - 1: every digit */
    value_is(0.25, "0.25");
    value_is(-1.5, "-1.5");
    value_is(0.001, "0.001");
}

static const ln_test tests[] = {
    T(metrics_text_gives_help_type_and_a_value_line_per_metric),
    T(metrics_entries_of_one_family_share_its_help_and_type_lines),
    T(metrics_integral_values_print_whole_and_fractional_ones_as_decimals),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
