/* test_json.c -- command-line arguments as JSON (core/json.c): what is
** JSON and what is text, what is refused and why, the canonical msgpack of
** a value, and the checks and text of values built by hand. */
#include "test.h"
#include "codec.h"
#include "err.h"
#include "json.h"

#include <math.h>

/* ---- helpers ----------------------------------------------------------- */

/* Hex of p[0..n) in a static buffer (one at a time). */
static const char *hexof(const uint8_t *p, size_t n)
{
    static char buf[4096];
    ASSERT(2 * n < sizeof buf);
    for (size_t i = 0; i < n; i++) snprintf(buf + 2 * i, 3, "%02x", p[i]);
    buf[2 * n] = 0;
    return buf;
}

/* Canonical msgpack of one argument text, as hex. */
static const char *arg_hex(const char *text)
{
    cJSON *v = NULL;
    char err[256];
    int rc = ln_json_arg(text, &v, err, sizeof err);
    if (rc < 0) LN_FAIL("ln_json_arg(%s): %s", text, err);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ASSERT_EQ(ln_json_pack(v, &pk), 0);
    ASSERT_EQ(ln_codec_check((const uint8_t *)sb.data, sb.size), 0);
    const char *h = hexof((const uint8_t *)sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    cJSON_Delete(v);
    return h;
}

/* ln_json_arg's code for text, and its message in err. */
static int arg_rc(const char *text, char *err, size_t errlen)
{
    cJSON *v = NULL;
    err[0] = 0;
    int rc = ln_json_arg(text, &v, err, errlen);
    if (rc == 0) cJSON_Delete(v);
    else ASSERT(v == NULL);
    return rc;
}

/* The string an argument became; fails if it is not a string. */
static void arg_is_text(const char *text)
{
    cJSON *v = NULL;
    char err[256];
    ASSERT_EQ(ln_json_arg(text, &v, err, sizeof err), 0);
    if (!cJSON_IsString(v)) LN_FAIL("'%s' should be text", text);
    ASSERT_STR(v->valuestring, text);
    cJSON_Delete(v);
}

#define ASSERT_HAS(hay, needle) do {                                    \
    if (!strstr((hay), (needle)))                                       \
        LN_FAIL("expected \"%s\" in:\n%s", (needle), (hay));            \
} while (0)

/* ---- arguments: JSON or text ------------------------------------------- */

TEST(args_word_that_is_not_json_is_text)
{
    arg_is_text("bob");
    arg_is_text("");
    arg_is_text("hello world");
    arg_is_text("1.2.3");           /* a version, not a number */
}

TEST(args_lax_json_that_cjson_would_take_is_text)
{
    arg_is_text("01");              /* leading zero */
    arg_is_text("00");
    arg_is_text("1-2");
    arg_is_text("-");
    arg_is_text("truex");
    arg_is_text("[1]x");
    arg_is_text("+1");
    arg_is_text(".5");
    arg_is_text("1.");
    arg_is_text("[1,2");            /* unclosed */
    arg_is_text("[1,]");
    arg_is_text("tru");
    arg_is_text("'x'");
    arg_is_text("NaN");
    arg_is_text("\"a\tb\"");        /* raw control character in a JSON string */
    arg_is_text("10 20");
}

TEST(args_integers_bools_arrays_objects_are_json)
{
    ASSERT_STR(arg_hex("10"), "0a");
    ASSERT_STR(arg_hex(" -5 "), "fb");
    ASSERT_STR(arg_hex("-0"), "00");
    ASSERT_STR(arg_hex("true"), "c3");
    ASSERT_STR(arg_hex("false"), "c2");
    ASSERT_STR(arg_hex("null"), "c0");   /* a whole argument may be null */
    ASSERT_STR(arg_hex("[1,2]"), "920102");
    ASSERT_STR(arg_hex("[]"), "90");
    ASSERT_STR(arg_hex("{}"), "80");
    ASSERT_STR(arg_hex("bob"), "a3626f62");
}

TEST(args_quoted_json_is_a_string)
{
    ASSERT_STR(arg_hex("\"10\""), "a23130");
    ASSERT_STR(arg_hex("\"true\""), "a474727565");
    ASSERT_STR(arg_hex("\"\\u00e9\""), "a2c3a9");    /* escapes decoded to UTF-8 */
}

TEST(args_floats_are_refused_with_a_clear_error)
{
    char err[256];
    const char *floats[] = { "1.5", "1e3", "1.0", "-0.5", "2E-2", "[1, 1.5]", "{\"a\": 2.5}" };
    for (size_t i = 0; i < sizeof floats / sizeof *floats; i++) {
        if (arg_rc(floats[i], err, sizeof err) != LN_EFLOAT)
            LN_FAIL("'%s' was not refused as a float (%s)", floats[i], err);
        ASSERT_HAS(err, "floats are not allowed");
    }
    arg_rc("1.5", err, sizeof err);
    ASSERT_HAS(err, "1.5 is not an integer");
}

TEST(args_integers_beyond_2_53_are_refused)
{
    char err[256];
    ASSERT_STR(arg_hex("9007199254740991"), "cf001fffffffffffff");
    ASSERT_STR(arg_hex("-9007199254740991"), "d3ffe0000000000001");
    ASSERT_EQ(arg_rc("9007199254740992", err, sizeof err), LN_ERANGE);
    ASSERT_HAS(err, "9007199254740992 is outside the safe integer range");
    ASSERT_EQ(arg_rc("-9007199254740992", err, sizeof err), LN_ERANGE);
    ASSERT_EQ(arg_rc("123456789012345678901234567890", err, sizeof err), LN_ERANGE);
    ASSERT_EQ(arg_rc("[1, {\"x\": 99999999999999999}]", err, sizeof err), LN_ERANGE);
}

TEST(args_null_inside_a_container_is_refused)
{
    char err[256];
    ASSERT_EQ(arg_rc("[1, null]", err, sizeof err), LN_ETYPE);
    ASSERT_HAS(err, "null is allowed only as a whole argument");
    ASSERT_EQ(arg_rc("{\"a\": null}", err, sizeof err), LN_ETYPE);
}

TEST(args_duplicate_keys_nul_escapes_and_deep_nesting_are_refused)
{
    char err[256], deep[128];
    ASSERT_EQ(arg_rc("{\"a\": 1, \"a\": 2}", err, sizeof err), LN_EDUPKEY);
    ASSERT_HAS(err, "duplicate key \"a\"");
    ASSERT_EQ(arg_rc("\"a\\u0000b\"", err, sizeof err), LN_EINVAL);
    /* LN_JSON_MAX_DEPTH arrays pass, one more does not */
    memset(deep, 0, sizeof deep);
    memset(deep, '[', LN_JSON_MAX_DEPTH);
    memset(deep + LN_JSON_MAX_DEPTH, ']', LN_JSON_MAX_DEPTH);
    ASSERT_EQ(arg_rc(deep, err, sizeof err), 0);
    memset(deep, 0, sizeof deep);
    memset(deep, '[', LN_JSON_MAX_DEPTH + 1);
    memset(deep + LN_JSON_MAX_DEPTH + 1, ']', LN_JSON_MAX_DEPTH + 1);
    ASSERT_EQ(arg_rc(deep, err, sizeof err), LN_EDEPTH);
}

TEST(args_text_that_is_not_utf8_packs_as_bin)
{
    ASSERT_STR(arg_hex("\xff\x01"), "c402ff01");
}

TEST(pack_sorts_keys_by_bytes_and_uses_the_shortest_integers)
{
    ASSERT_STR(arg_hex("{\"to\":\"bob\",\"amt\":-200,\"tags\":[true,false]}"),
               "83" "a3616d74" "d1ff38" "a474616773" "92c3c2" "a2746f" "a3626f62");
    ASSERT_STR(arg_hex("{\"b\":3,\"ab\":1,\"a\":2}"), "83" "a16102" "a2616201" "a16203");
    ASSERT_STR(arg_hex("[127,128,255,256,65535,65536,4294967295,4294967296]"),
               "98" "7f" "cc80" "ccff" "cd0100" "cdffff" "ce00010000" "ceffffffff"
               "cf0000000100000000");
    ASSERT_STR(arg_hex("[-1,-32,-33,-128,-129,-32768,-32769,-2147483648,-2147483649]"),
               "99" "ff" "e0" "d0df" "d080" "d1ff7f" "d18000" "d2ffff7fff" "d280000000"
               "d3ffffffff7fffffff");
}

/* ---- values built by hand ---------------------------------------------- */

/* ln_json_pack's code for v (deleted). */
static int pack_rc(cJSON *v)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = ln_json_pack(v, &pk);
    msgpack_sbuffer_destroy(&sb);
    cJSON_Delete(v);
    return rc;
}

/* n arrays, one inside the other. */
static cJSON *nested(int n)
{
    cJSON *v = cJSON_CreateArray();
    for (int i = 1; i < n; i++) {
        cJSON *outer = cJSON_CreateArray();
        cJSON_AddItemToArray(outer, v);
        v = outer;
    }
    return v;
}

TEST(json_pack_refuses_built_values_that_an_argument_could_not_hold)
{
    ASSERT_EQ(pack_rc(cJSON_CreateNumber(1.5)), LN_EFLOAT);
    ASSERT_EQ(pack_rc(cJSON_CreateNumber(NAN)), LN_EFLOAT);
    ASSERT_EQ(pack_rc(cJSON_CreateNumber(9007199254740992.0)), LN_ERANGE);
    ASSERT_EQ(pack_rc(cJSON_CreateNumber(-9007199254740992.0)), LN_ERANGE);
    ASSERT_EQ(pack_rc(cJSON_CreateNumber(-9007199254740991.0)), 0);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "a", cJSON_CreateNumber(1));
    cJSON_AddItemToObject(o, "b", cJSON_CreateNumber(2));
    cJSON_AddItemToObject(o, "a", cJSON_CreateNumber(3));      /* cJSON keeps both */
    ASSERT_EQ(pack_rc(o), LN_EDUPKEY);
    ASSERT_EQ(pack_rc(nested(LN_JSON_MAX_DEPTH)), 0);
    ASSERT_EQ(pack_rc(nested(LN_JSON_MAX_DEPTH + 1)), LN_EDEPTH);
    ASSERT_EQ(pack_rc(cJSON_CreateRaw("1")), LN_ETYPE);
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, cJSON_CreateNumber(2));
    cJSON_AddItemToArray(a, cJSON_CreateNumber(0.25));           /* refused deep down too */
    ASSERT_EQ(pack_rc(a), LN_EFLOAT);
}

static int failing_write(void *data, const char *buf, size_t len)
{
    (void)data; (void)buf; (void)len;
    return -1;
}

TEST(json_pack_reports_a_writer_that_fails_as_enomem)
{
    const char *args[] = { "{\"to\":\"bob\",\"n\":[1,2]}", "[1,\"x\",true]", "-7", "bob" };
    for (size_t i = 0; i < sizeof args / sizeof *args; i++) {
        cJSON *v = NULL;
        char err[256];
        ASSERT_EQ(ln_json_arg(args[i], &v, err, sizeof err), 0);
        msgpack_packer pk;
        msgpack_packer_init(&pk, NULL, failing_write);
        if (ln_json_pack(v, &pk) != LN_ENOMEM) LN_FAIL("%s: not LN_ENOMEM", args[i]);
        cJSON_Delete(v);
    }
}

TEST(json_check_text_refuses_a_string_or_key_that_is_not_utf8)
{
    char err[256];
    cJSON *v = NULL;
    ASSERT_EQ(ln_json_arg("\xff\x01", &v, err, sizeof err), 0);   /* text, not JSON */
    ASSERT_EQ(ln_json_check_text(v, err, sizeof err), LN_EINVAL);
    ASSERT_HAS(err, "is not valid UTF-8 text");
    cJSON_Delete(v);

    ASSERT_EQ(ln_json_arg("[\"caf\\u00e9\", {\"k\": [\"x\"]}]", &v, err, sizeof err), 0);
    ASSERT_EQ(ln_json_check_text(v, err, sizeof err), 0);
    /* deep in the tree */
    cJSON_AddItemToArray(cJSON_GetObjectItem(cJSON_GetArrayItem(v, 1), "k"),
                         cJSON_CreateString("\xc3"));
    ASSERT_EQ(ln_json_check_text(v, err, sizeof err), LN_EINVAL);
    cJSON_Delete(v);

    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "ok", cJSON_CreateTrue());
    cJSON_AddItemToObject(o, "\xfe" "k", cJSON_CreateTrue());
    ASSERT_EQ(ln_json_check_text(o, err, sizeof err), LN_EINVAL);
    ASSERT_HAS(err, "an object key is not valid UTF-8");
    cJSON_Delete(o);
}

/* ln_json_text of the argument text, compared with want. */
static void text_is(const char *arg, const char *want)
{
    cJSON *v = NULL;
    char err[256];
    ASSERT_EQ(ln_json_arg(arg, &v, err, sizeof err), 0);
    char *t = ln_json_text(v);
    ASSERT_STR(t, want);
    free(t);
    cJSON_Delete(v);
}

TEST(json_text_shows_a_string_bare_and_anything_else_as_compact_json)
{
    text_is("bob", "bob");
    text_is("\"10\"", "10");                 /* the string 10, shown as people read it */
    text_is("10", "10");
    text_is("null", "null");
    text_is("false", "false");
    text_is("[ 1, { \"a\" : true } ]", "[1,{\"a\":true}]");
    text_is("{\"s\": \"x\\\"y\"}", "{\"s\":\"x\\\"y\"}");
}

static const ln_test tests[] = {
    T(args_word_that_is_not_json_is_text),
    T(args_lax_json_that_cjson_would_take_is_text),
    T(args_integers_bools_arrays_objects_are_json),
    T(args_quoted_json_is_a_string),
    T(args_floats_are_refused_with_a_clear_error),
    T(args_integers_beyond_2_53_are_refused),
    T(args_null_inside_a_container_is_refused),
    T(args_duplicate_keys_nul_escapes_and_deep_nesting_are_refused),
    T(args_text_that_is_not_utf8_packs_as_bin),
    T(pack_sorts_keys_by_bytes_and_uses_the_shortest_integers),
    T(json_pack_refuses_built_values_that_an_argument_could_not_hold),
    T(json_pack_reports_a_writer_that_fails_as_enomem),
    T(json_check_text_refuses_a_string_or_key_that_is_not_utf8),
    T(json_text_shows_a_string_bare_and_anything_else_as_compact_json),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
