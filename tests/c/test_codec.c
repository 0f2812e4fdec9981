/* test_codec.c -- canonical msgpack: exact bytes, refusals, the Lua bridge. */
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "test.h"
#include "codec.h"
#include "err.h"

#define B(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

static lua_State *new_lua(void)
{
    lua_State *L = luaL_newstate();
    ASSERT(L != NULL);
    luaL_openlibs(L);
    return L;
}

/* Runs chunk src and leaves its one result on the stack. */
static void eval(lua_State *L, const char *src)
{
    if (luaL_loadstring(L, src) != 0 || lua_pcall(L, 0, 1, 0) != 0)
        LN_FAIL("lua: %s", lua_tostring(L, -1));
}

/* Encodes the value of src; the buffer is the caller's on 0. */
static int enc(lua_State *L, const char *src, uint8_t **out, size_t *outlen)
{
    eval(L, src);
    int top = lua_gettop(L);
    int rc = ln_codec_encode_lua(L, -1, out, outlen);
    ASSERT_EQ(lua_gettop(L), top);
    lua_pop(L, 1);
    return rc;
}

static int enc_rc(lua_State *L, const char *src)
{
    uint8_t *buf = NULL;
    size_t n;
    int rc = enc(L, src, &buf, &n);
    if (rc == 0) free(buf);
    return rc;
}

static void expect_bytes(lua_State *L, const char *src, const uint8_t *want, size_t n)
{
    uint8_t *buf;
    size_t len;
    int rc = enc(L, src, &buf, &len);
    if (rc) LN_FAIL("%s: %s", src, ln_errname(rc));
    if (len != n || memcmp(buf, want, n) != 0) {
        fprintf(stderr, "%s gave", src);
        for (size_t i = 0; i < len; i++) fprintf(stderr, " %02x", buf[i]);
        fputc('\n', stderr);
        LN_FAIL("%s: bytes differ", src);
    }
    ASSERT_EQ(ln_codec_check(buf, len), 0);
    free(buf);
}

/* Checks a copy of p[0..n) in a block of exactly n bytes, so ASan sees any
** read past the end. Also runs unpack and decode_lua, which must agree. */
static int check_exact(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);
    ASSERT(q != NULL);
    if (n) memcpy(q, p, n);
    int rc = ln_codec_check(q, n);
    msgpack_zone z;
    msgpack_object o;
    ASSERT(msgpack_zone_init(&z, 256));
    int urc = ln_codec_unpack(q, n, &z, &o);
    ASSERT_EQ(urc, rc);
    if (rc) ASSERT(msgpack_zone_is_empty(&z));
    msgpack_zone_destroy(&z);
    free(q);
    return rc;
}

#define EXPECT_CHECK(want, ...) do {                                   \
    int rc_ = check_exact(B(__VA_ARGS__));                             \
    if (rc_ != (want)) LN_FAIL("{%s}: got %s, want %s", #__VA_ARGS__,  \
                               ln_errname(rc_), ln_errname(want));     \
} while (0)

static const char *deq_src =
    "local function deq(a, b)\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) ~= 'table' then return a == b end\n"
    "  for k, v in pairs(a) do if not deq(v, b[k]) then return false end end\n"
    "  for k in pairs(b) do if a[k] == nil then return false end end\n"
    "  return true\n"
    "end\n"
    "return deq";

TEST(codec_round_trips_every_type)
{
    static const char *vals[] = {
        "nil", "true", "false", "0", "1", "127", "128", "255", "256", "65535",
        "65536", "4294967295", "4294967296", "9007199254740991", "-1", "-32",
        "-33", "-128", "-129", "-32768", "-32769", "-2147483648", "-2147483649",
        "-9007199254740991", "''", "'hello'", "'h\\195\\169llo \\226\\130\\172 \\240\\157\\132\\158'",
        "string.rep('x', 31)", "string.rep('x', 32)", "string.rep('x', 255)",
        "string.rep('x', 256)", "string.rep('x', 65535)", "string.rep('x', 65536)",
        "'\\255\\0\\1'", "string.rep('\\255', 255)", "string.rep('\\255', 256)",
        "string.rep('\\255', 70000)", "{}", "{1, 2, 3}", "{a = 1, b = {c = {d = 'e'}}}",
        "{x = {1, {y = true}}, [''] = false, z = {}}",
        "(function() local t = {} for i = 1, 16 do t[i] = i end return t end)()",
        "(function() local t = {} for i = 1, 70000 do t[i] = i % 3 end return t end)()",
        "(function() local t = {} for i = 1, 16 do t['k' .. i] = i end return t end)()",
        "(function() local t = {} for i = 1, 70000 do t['k' .. i] = -i end return t end)()",
        "{{{{{{{{{{}}}}}}}}}}",
    };
    lua_State *L = new_lua();
    eval(L, deq_src);
    int deq = lua_gettop(L);
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        uint8_t *a, *b;
        size_t an, bn;
        char src[512];
        snprintf(src, sizeof src, "return %s", vals[i]);
        eval(L, src);
        int v = lua_gettop(L);
        int rc = ln_codec_encode_lua(L, v, &a, &an);
        if (rc) LN_FAIL("%s: %s", vals[i], ln_errname(rc));
        ASSERT_EQ(ln_codec_check(a, an), 0);
        ASSERT_EQ(ln_codec_decode_lua(L, a, an), 0);
        ASSERT_EQ(lua_gettop(L), v + 1);
        lua_pushvalue(L, deq);
        lua_pushvalue(L, v);
        lua_pushvalue(L, v + 1);
        lua_call(L, 2, 1);
        if (!lua_toboolean(L, -1)) LN_FAIL("%s does not come back equal", vals[i]);
        lua_pop(L, 1);
        ASSERT_EQ(ln_codec_encode_lua(L, v + 1, &b, &bn), 0);
        ASSERT_EQ(bn, an);
        ASSERT_MEM(a, b, an);
        free(a);
        free(b);
        lua_settop(L, deq);
    }
    lua_close(L);
}

TEST(codec_encodes_exact_bytes)
{
    lua_State *L = new_lua();
    expect_bytes(L, "return {b = 1, a = {1, 2}}",
                 B(0x82, 0xa1, 'a', 0x92, 0x01, 0x02, 0xa1, 'b', 0x01));
    expect_bytes(L, "return nil", B(0xc0));
    expect_bytes(L, "return false", B(0xc2));
    expect_bytes(L, "return true", B(0xc3));
    expect_bytes(L, "return 0", B(0x00));
    expect_bytes(L, "return -0", B(0x00));
    expect_bytes(L, "return 127", B(0x7f));
    expect_bytes(L, "return 128", B(0xcc, 0x80));
    expect_bytes(L, "return 255", B(0xcc, 0xff));
    expect_bytes(L, "return 256", B(0xcd, 0x01, 0x00));
    expect_bytes(L, "return 65535", B(0xcd, 0xff, 0xff));
    expect_bytes(L, "return 65536", B(0xce, 0x00, 0x01, 0x00, 0x00));
    expect_bytes(L, "return 2^32", B(0xcf, 0, 0, 0, 1, 0, 0, 0, 0));
    expect_bytes(L, "return 2^53 - 1", B(0xcf, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
    expect_bytes(L, "return -1", B(0xff));
    expect_bytes(L, "return -32", B(0xe0));
    expect_bytes(L, "return -33", B(0xd0, 0xdf));
    expect_bytes(L, "return -128", B(0xd0, 0x80));
    expect_bytes(L, "return -129", B(0xd1, 0xff, 0x7f));
    expect_bytes(L, "return -32768", B(0xd1, 0x80, 0x00));
    expect_bytes(L, "return -32769", B(0xd2, 0xff, 0xff, 0x7f, 0xff));
    expect_bytes(L, "return -2^31", B(0xd2, 0x80, 0, 0, 0));
    expect_bytes(L, "return -2^31 - 1", B(0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff));
    expect_bytes(L, "return ''", B(0xa0));
    expect_bytes(L, "return 'ab'", B(0xa2, 'a', 'b'));
    expect_bytes(L, "return {}", B(0x90));
    expect_bytes(L, "return {{}}", B(0x91, 0x90));
    expect_bytes(L, "return {[''] = 1}", B(0x81, 0xa0, 0x01));
    lua_close(L);
}

TEST(codec_picks_shortest_str_and_bin_headers)
{
    static const struct { const char *src; uint8_t head[5]; size_t hn; } cases[] = {
        { "return string.rep('x', 31)",    { 0xbf }, 1 },
        { "return string.rep('x', 32)",    { 0xd9, 32 }, 2 },
        { "return string.rep('x', 255)",   { 0xd9, 0xff }, 2 },
        { "return string.rep('x', 256)",   { 0xda, 0x01, 0x00 }, 3 },
        { "return string.rep('x', 65536)", { 0xdb, 0, 1, 0, 0 }, 5 },
        { "return ''",                     { 0xa0 }, 1 },
        { "return '\\255'",                { 0xc4, 0x01 }, 2 },
        { "return string.rep('\\255', 256)",   { 0xc5, 0x01, 0x00 }, 3 },
        { "return string.rep('\\255', 65536)", { 0xc6, 0, 1, 0, 0 }, 5 },
        { "return (function() local t = {} for i = 1, 15 do t[i] = 0 end return t end)()", { 0x9f }, 1 },
        { "return (function() local t = {} for i = 1, 16 do t[i] = 0 end return t end)()", { 0xdc, 0, 16 }, 3 },
        { "return (function() local t = {} for i = 1, 65536 do t[i] = 0 end return t end)()", { 0xdd, 0, 1, 0, 0 }, 5 },
        { "return (function() local t = {} for i = 1, 15 do t['k' .. i] = 0 end return t end)()", { 0x8f }, 1 },
        { "return (function() local t = {} for i = 1, 16 do t['k' .. i] = 0 end return t end)()", { 0xde, 0, 16 }, 3 },
        { "return (function() local t = {} for i = 1, 65536 do t['k' .. i] = 0 end return t end)()", { 0xdf, 0, 1, 0, 0 }, 5 },
    };
    lua_State *L = new_lua();
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint8_t *buf;
        size_t n;
        ASSERT_EQ(enc(L, cases[i].src, &buf, &n), 0);
        if (n < cases[i].hn || memcmp(buf, cases[i].head, cases[i].hn) != 0)
            LN_FAIL("%s: header %02x...", cases[i].src, buf[0]);
        ASSERT_EQ(ln_codec_check(buf, n), 0);
        free(buf);
    }
    lua_close(L);
}

TEST(codec_accepts_the_shortest_form_at_each_boundary)
{
    EXPECT_CHECK(0, 0xcc, 0x80);
    EXPECT_CHECK(0, 0xcd, 0x01, 0x00);
    EXPECT_CHECK(0, 0xce, 0x00, 0x01, 0x00, 0x00);
    EXPECT_CHECK(0, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0);
    EXPECT_CHECK(0, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
    EXPECT_CHECK(0, 0xd0, 0xdf);
    EXPECT_CHECK(0, 0xd1, 0xff, 0x7f);
    EXPECT_CHECK(0, 0xd2, 0xff, 0xff, 0x7f, 0xff);
    EXPECT_CHECK(0, 0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff);
    EXPECT_CHECK(0, 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0);
    EXPECT_CHECK(0, 0xc4, 0x00);
    EXPECT_CHECK(0, 0x80);
    EXPECT_CHECK(0, 0xc0);
    EXPECT_CHECK(0, 0xc2);
    EXPECT_CHECK(0, 0xc3);
}

TEST(codec_refuses_non_shortest_int)
{
    EXPECT_CHECK(LN_ENONCANON, 0xcc, 0x05);
    EXPECT_CHECK(LN_ENONCANON, 0xcc, 0x7f);
    EXPECT_CHECK(LN_ENONCANON, 0xcd, 0x00, 0xff);
    EXPECT_CHECK(LN_ENONCANON, 0xce, 0x00, 0x00, 0xff, 0xff);
    EXPECT_CHECK(LN_ENONCANON, 0xcf, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff);
    EXPECT_CHECK(LN_ENONCANON, 0xd0, 0xe0);                      /* -32 */
    EXPECT_CHECK(LN_ENONCANON, 0xd1, 0xff, 0x80);                /* -128 */
    EXPECT_CHECK(LN_ENONCANON, 0xd2, 0xff, 0xff, 0x80, 0x00);    /* -32768 */
    EXPECT_CHECK(LN_ENONCANON, 0xd3, 0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0);
}

TEST(codec_refuses_non_negative_in_signed_form)
{
    EXPECT_CHECK(LN_ENONCANON, 0xd0, 0x05);
    EXPECT_CHECK(LN_ENONCANON, 0xd0, 0x00);
    EXPECT_CHECK(LN_ENONCANON, 0xd0, 0x7f);
    EXPECT_CHECK(LN_ENONCANON, 0xd1, 0x00, 0x05);
    EXPECT_CHECK(LN_ENONCANON, 0xd1, 0x7f, 0xff);
    EXPECT_CHECK(LN_ENONCANON, 0xd2, 0x00, 0x00, 0x00, 0x05);
    EXPECT_CHECK(LN_ENONCANON, 0xd3, 0, 0, 0, 0, 0, 0, 0, 0x05);
    EXPECT_CHECK(LN_ENONCANON, 0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
}

TEST(codec_refuses_non_shortest_headers)
{
    EXPECT_CHECK(LN_ENONCANON, 0xd9, 0x01, 'a');
    EXPECT_CHECK(LN_ENONCANON, 0xda, 0x00, 0x01, 'a');
    EXPECT_CHECK(LN_ENONCANON, 0xdb, 0x00, 0x00, 0x00, 0x01, 'a');
    EXPECT_CHECK(LN_ENONCANON, 0xc5, 0x00, 0x01, 'a');
    EXPECT_CHECK(LN_ENONCANON, 0xc6, 0x00, 0x00, 0x00, 0x01, 'a');
    EXPECT_CHECK(LN_ENONCANON, 0xdc, 0x00, 0x01, 0x01);
    EXPECT_CHECK(LN_ENONCANON, 0xdc, 0x00, 0x00);
    EXPECT_CHECK(LN_ENONCANON, 0xdd, 0x00, 0x00, 0x00, 0x01, 0x01);
    EXPECT_CHECK(LN_ENONCANON, 0xde, 0x00, 0x00);
    EXPECT_CHECK(LN_ENONCANON, 0xdf, 0x00, 0x00, 0x00, 0x01, 0xa0, 0x01);

    /* one past the bound, each form is right: d9 with 32 bytes, dc with 16 items */
    uint8_t s[34] = { 0xd9, 32 };
    memset(s + 2, 'x', 32);
    ASSERT_EQ(check_exact(s, sizeof s), 0);
    s[1] = 31;
    ASSERT_EQ(check_exact(s, 33), LN_ENONCANON);
    uint8_t a[19] = { 0xdc, 0x00, 16 };
    ASSERT_EQ(check_exact(a, sizeof a), 0);
    a[2] = 15;
    ASSERT_EQ(check_exact(a, 18), LN_ENONCANON);
}

TEST(codec_refuses_floats)
{
    EXPECT_CHECK(LN_EFLOAT, 0xca, 0x3f, 0x80, 0x00, 0x00);
    EXPECT_CHECK(LN_EFLOAT, 0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0);
    EXPECT_CHECK(LN_EFLOAT, 0xcb);                  /* the type byte decides */
    EXPECT_CHECK(LN_EFLOAT, 0x91, 0xca, 0, 0, 0, 0);
    EXPECT_CHECK(LN_EFLOAT, 0x81, 0xa1, 'a', 0xcb, 0, 0, 0, 0, 0, 0, 0, 0);
}

TEST(codec_refuses_ext)
{
    EXPECT_CHECK(LN_EEXT, 0xd4, 0x01, 0x00);
    EXPECT_CHECK(LN_EEXT, 0xd5, 0x01, 0x00, 0x00);
    EXPECT_CHECK(LN_EEXT, 0xd6, 0x01, 0, 0, 0, 0);
    EXPECT_CHECK(LN_EEXT, 0xd7, 0x01, 0, 0, 0, 0, 0, 0, 0, 0);
    EXPECT_CHECK(LN_EEXT, 0xd8, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    EXPECT_CHECK(LN_EEXT, 0xc7, 0x01, 0x01, 0x00);
    EXPECT_CHECK(LN_EEXT, 0xc8, 0x00, 0x01, 0x01, 0x00);
    EXPECT_CHECK(LN_EEXT, 0xc9, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00);
    EXPECT_CHECK(LN_EEXT, 0x91, 0xd4, 0xff, 0x00);
}

TEST(codec_refuses_duplicate_keys)
{
    EXPECT_CHECK(LN_EDUPKEY, 0x82, 0xa1, 'a', 0x01, 0xa1, 'a', 0x02);
    EXPECT_CHECK(LN_EDUPKEY, 0x82, 0xa0, 0x01, 0xa0, 0x02);
    EXPECT_CHECK(LN_EDUPKEY, 0x83, 0xa1, 'a', 0x01, 0xa1, 'b', 0x01, 0xa1, 'b', 0x01);
    /* found before the duplicate's value is read */
    EXPECT_CHECK(LN_EDUPKEY, 0x82, 0xa1, 'a', 0x01, 0xa1, 'a', 0xc1);
}

TEST(codec_refuses_unsorted_keys)
{
    EXPECT_CHECK(0, 0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0x02);
    EXPECT_CHECK(LN_EUNSORTED, 0x82, 0xa1, 'b', 0x01, 0xa1, 'a', 0x02);
    /* a prefix comes first */
    EXPECT_CHECK(0, 0x82, 0xa1, 'a', 0x01, 0xa2, 'a', 'b', 0x02);
    EXPECT_CHECK(LN_EUNSORTED, 0x82, 0xa2, 'a', 'b', 0x01, 0xa1, 'a', 0x02);
    EXPECT_CHECK(0, 0x82, 0xa0, 0x01, 0xa1, 'a', 0x02);
    EXPECT_CHECK(LN_EUNSORTED, 0x82, 0xa1, 'a', 0x01, 0xa0, 0x02);
    /* bytes, not length: "ab" < "b" */
    EXPECT_CHECK(0, 0x82, 0xa2, 'a', 'b', 0x01, 0xa1, 'b', 0x02);
    EXPECT_CHECK(LN_EUNSORTED, 0x82, 0xa1, 'b', 0x01, 0xa2, 'a', 'b', 0x02);
    /* bytes compare unsigned */
    EXPECT_CHECK(0, 0x82, 0xa1, 'a', 0x01, 0xa2, 0xc3, 0xa9, 0x02);
    EXPECT_CHECK(LN_EUNSORTED, 0x82, 0xa2, 0xc3, 0xa9, 0x01, 0xa1, 'a', 0x02);
}

TEST(codec_refuses_non_str_key)
{
    EXPECT_CHECK(LN_EKEYTYPE, 0x81, 0x01, 0x01);
    EXPECT_CHECK(LN_EKEYTYPE, 0x81, 0xc4, 0x01, 'a', 0x01);
    EXPECT_CHECK(LN_EKEYTYPE, 0x81, 0xc0, 0x01);
    EXPECT_CHECK(LN_EKEYTYPE, 0x81, 0x90, 0x01);
    /* in key position EKEYTYPE comes before EBADBYTE, EFLOAT, EEXT */
    EXPECT_CHECK(LN_EKEYTYPE, 0x81, 0xc1, 0x01);
    EXPECT_CHECK(LN_EKEYTYPE, 0x81, 0xca, 0, 0, 0, 0, 0x01);
    EXPECT_CHECK(LN_EKEYTYPE, 0x81, 0xd4, 0, 0, 0x01);
    EXPECT_CHECK(LN_EKEYTYPE, 0x82, 0xa1, 'a', 0x01, 0x02, 0x01);
}

TEST(codec_refuses_every_truncated_prefix)
{
    lua_State *L = new_lua();
    uint8_t *buf;
    size_t n;
    ASSERT_EQ(enc(L, "return {a = {1, -200, 70000, 2^40, -2^40, -40000, 300},"
                     " b = string.rep('x', 300), c = '\\255\\254', d = {true, false},"
                     " e = {f = {}, g = string.rep('\\1', 40)}, h = {[''] = 0}}",
                  &buf, &n), 0);
    ASSERT_EQ(check_exact(buf, n), 0);
    for (size_t i = 0; i < n; i++) {
        int rc = check_exact(buf, i);
        if (rc != LN_ETRUNC) LN_FAIL("prefix of %zu of %zu bytes: %s", i, n, ln_errname(rc));
        int top = lua_gettop(L);
        ASSERT_EQ(ln_codec_decode_lua(L, buf, i), LN_ETRUNC);
        ASSERT_EQ(lua_gettop(L), top);
    }
    ASSERT_EQ(ln_codec_check(NULL, 0), LN_ETRUNC);
    free(buf);
    lua_close(L);
}

TEST(codec_refuses_trailing_byte)
{
    EXPECT_CHECK(LN_ETRAILING, 0x01, 0x01);
    EXPECT_CHECK(LN_ETRAILING, 0x91, 0x01, 0x00);
    EXPECT_CHECK(LN_ETRAILING, 0xc0, 0xc1);        /* whatever the extra byte is */
    EXPECT_CHECK(LN_ETRAILING, 0xa1, 'a', 'b');
}

TEST(codec_refuses_depth_33_accepts_32)
{
    uint8_t b[40];
    memset(b, 0x91, 32);
    b[32] = 0x01;
    ASSERT_EQ(check_exact(b, 33), 0);
    memset(b, 0x91, 33);
    b[33] = 0x01;
    ASSERT_EQ(check_exact(b, 34), LN_EDEPTH);
    /* maps count too: 32 arrays around an empty map */
    memset(b, 0x91, 32);
    b[32] = 0x80;
    ASSERT_EQ(check_exact(b, 33), LN_EDEPTH);
    memset(b, 0x91, 31);
    b[31] = 0x80;
    ASSERT_EQ(check_exact(b, 32), 0);
}

TEST(codec_refuses_huge_counts_without_allocating)
{
    EXPECT_CHECK(LN_ETOOBIG, 0xdd, 0xff, 0xff, 0xff, 0xff);   /* 2^32-1 elements */
    EXPECT_CHECK(LN_ETOOBIG, 0xdf, 0xff, 0xff, 0xff, 0xff);
    EXPECT_CHECK(LN_ETOOBIG, 0xdd, 0x00, 0x10, 0x00, 0x01);   /* MAX_ITEM + 1 */
    EXPECT_CHECK(LN_ETRUNC,  0xdd, 0x00, 0x10, 0x00, 0x00);   /* MAX_ITEM, no bytes */
    EXPECT_CHECK(LN_ETRUNC,  0xdc, 0x01, 0x00, 0x01);
    EXPECT_CHECK(LN_ETRUNC,  0xde, 0x00, 0x10, 0xa0, 0x01, 0xa1, 'a', 0x01);
    EXPECT_CHECK(LN_ETRUNC,  0x92, 0x91, 0x90);
    /* check_exact also asserts unpack took nothing from its zone */
}

TEST(codec_refuses_oversize_str)
{
    EXPECT_CHECK(LN_ETOOBIG, 0xdb, 0x00, 0x10, 0x00, 0x01);   /* claimed, absent */
    EXPECT_CHECK(LN_ETOOBIG, 0xc6, 0x00, 0x10, 0x00, 0x01);
    EXPECT_CHECK(LN_ETOOBIG, 0xdb, 0xff, 0xff, 0xff, 0xff);
    EXPECT_CHECK(LN_ETRUNC,  0xdb, 0x00, 0x10, 0x00, 0x00);

    size_t n = 5 + LN_CODEC_MAX_ITEM + 1;
    uint8_t *b = malloc(n);
    ASSERT(b != NULL);
    memset(b, 'x', n);
    memcpy(b, (const uint8_t[]){ 0xdb, 0x00, 0x10, 0x00, 0x00 }, 5);
    ASSERT_EQ(ln_codec_check(b, n - 1), 0);                   /* exactly MAX_ITEM */
    memcpy(b, (const uint8_t[]){ 0xdb, 0x00, 0x10, 0x00, 0x01 }, 5);
    ASSERT_EQ(ln_codec_check(b, n), LN_ETOOBIG);              /* present, too big */
    free(b);
}

TEST(codec_refuses_byte_c1)
{
    EXPECT_CHECK(LN_EBADBYTE, 0xc1);
    EXPECT_CHECK(LN_EBADBYTE, 0x92, 0x01, 0xc1);
    EXPECT_CHECK(LN_EBADBYTE, 0x81, 0xa1, 'a', 0xc1);
}

TEST(codec_reports_the_first_problem_in_byte_order)
{
    EXPECT_CHECK(LN_EFLOAT, 0x92, 0xca, 0, 0, 0, 0, 0xc1);
    EXPECT_CHECK(LN_EBADBYTE, 0x92, 0xc1, 0xca, 0, 0, 0, 0);
    EXPECT_CHECK(LN_ENONCANON, 0x92, 0xcc, 0x01, 0xd4, 0, 0);
    EXPECT_CHECK(LN_EUNSORTED, 0x82, 0xa1, 'b', 0x01, 0xa1, 'a', 0xcc, 0x01);
    /* header before depth, depth before size, size before truncation */
    uint8_t b[40];
    memset(b, 0x91, 32);
    memcpy(b + 32, (const uint8_t[]){ 0xdc, 0x00, 0x01 }, 3);
    ASSERT_EQ(check_exact(b, 35), LN_ENONCANON);
    memcpy(b + 32, (const uint8_t[]){ 0xdd, 0xff, 0xff, 0xff, 0xff }, 5);
    ASSERT_EQ(check_exact(b, 37), LN_EDEPTH);
    ASSERT_EQ(check_exact(b + 1, 36), LN_ETOOBIG);
}

TEST(codec_lua_refuses_non_integers)
{
    lua_State *L = new_lua();
    ASSERT_EQ(enc_rc(L, "return 0.5"), LN_EFLOAT);
    ASSERT_EQ(enc_rc(L, "return -0.5"), LN_EFLOAT);
    ASSERT_EQ(enc_rc(L, "return 1/0"), LN_EFLOAT);
    ASSERT_EQ(enc_rc(L, "return -1/0"), LN_EFLOAT);
    ASSERT_EQ(enc_rc(L, "return 0/0"), LN_EFLOAT);
    ASSERT_EQ(enc_rc(L, "return {1, {a = 2.25}}"), LN_EFLOAT);
    ASSERT_EQ(enc_rc(L, "return 2^51 + 0.5"), LN_EFLOAT);
    lua_close(L);
}

TEST(codec_lua_refuses_unsafe_integers)
{
    lua_State *L = new_lua();
    ASSERT_EQ(enc_rc(L, "return 2^53"), LN_ERANGE);
    ASSERT_EQ(enc_rc(L, "return -2^53"), LN_ERANGE);
    ASSERT_EQ(enc_rc(L, "return 2^63"), LN_ERANGE);
    ASSERT_EQ(enc_rc(L, "return 1e300"), LN_ERANGE);
    ASSERT_EQ(enc_rc(L, "return {x = {2^60}}"), LN_ERANGE);
    ASSERT_EQ(enc_rc(L, "return 2^53 - 1"), 0);
    ASSERT_EQ(enc_rc(L, "return -(2^53 - 1)"), 0);
    lua_close(L);
}

TEST(codec_lua_refuses_mixed_keys_and_holes)
{
    lua_State *L = new_lua();
    ASSERT_EQ(enc_rc(L, "return {1, x = 2}"), LN_EKEYTYPE);
    ASSERT_EQ(enc_rc(L, "return {1, nil, 3}"), LN_EKEYTYPE);
    ASSERT_EQ(enc_rc(L, "return {[2] = 1}"), LN_EKEYTYPE);
    ASSERT_EQ(enc_rc(L, "return {[0] = 1}"), LN_EKEYTYPE);
    ASSERT_EQ(enc_rc(L, "return {[-1] = 1}"), LN_EKEYTYPE);
    ASSERT_EQ(enc_rc(L, "return {[1.5] = 1}"), LN_EKEYTYPE);
    ASSERT_EQ(enc_rc(L, "return {[true] = 1}"), LN_EKEYTYPE);
    ASSERT_EQ(enc_rc(L, "return {[{}] = 1}"), LN_EKEYTYPE);
    ASSERT_EQ(enc_rc(L, "return {a = {1, ['2'] = 2}}"), LN_EKEYTYPE);
    /* a table whose holes were filled is an array again */
    ASSERT_EQ(enc_rc(L, "local t = {1, nil, 3} t[2] = 2 return t"), 0);
    lua_close(L);
}

TEST(codec_lua_refuses_functions_and_userdata)
{
    lua_State *L = new_lua();
    ASSERT_EQ(enc_rc(L, "return print"), LN_ETYPE);
    ASSERT_EQ(enc_rc(L, "return function() end"), LN_ETYPE);
    ASSERT_EQ(enc_rc(L, "return coroutine.create(print)"), LN_ETYPE);
    ASSERT_EQ(enc_rc(L, "return {f = print}"), LN_ETYPE);
    ASSERT_EQ(enc_rc(L, "return {1, 2, print}"), LN_ETYPE);
    uint8_t *buf;
    size_t n;
    lua_newuserdata(L, 8);
    ASSERT_EQ(ln_codec_encode_lua(L, -1, &buf, &n), LN_ETYPE);
    lua_pushlightuserdata(L, &n);
    ASSERT_EQ(ln_codec_encode_lua(L, -1, &buf, &n), LN_ETYPE);
    ASSERT_EQ(lua_gettop(L), 2);
    lua_close(L);
}

TEST(codec_lua_refuses_self_reference)
{
    lua_State *L = new_lua();
    ASSERT_EQ(enc_rc(L, "local t = {} t.self = t return t"), LN_EDEPTH);
    ASSERT_EQ(enc_rc(L, "local t = {} t[1] = t return t"), LN_EDEPTH);
    ASSERT_EQ(enc_rc(L, "local a, b = {}, {} a.b = b b.a = a return a"), LN_EDEPTH);
    lua_close(L);
}

TEST(codec_lua_refuses_depth_33_accepts_32)
{
    lua_State *L = new_lua();
    static const char *nest =
        "local n = ... local t = 1 for i = 1, n do t = {t} end return t";
    for (int d = 31; d <= 34; d++) {
        ASSERT_EQ(luaL_loadstring(L, nest), 0);
        lua_pushinteger(L, d);
        ASSERT_EQ(lua_pcall(L, 1, 1, 0), 0);
        uint8_t *buf;
        size_t n;
        int rc = ln_codec_encode_lua(L, -1, &buf, &n);
        ASSERT_EQ(rc, d <= 32 ? 0 : LN_EDEPTH);
        if (!rc) {
            ASSERT_EQ(ln_codec_check(buf, n), 0);
            free(buf);
        }
        lua_pop(L, 1);
    }
    lua_close(L);
}

TEST(codec_lua_ignores_metatables)
{
    lua_State *L = new_lua();
    const char *boom = "local function boom() error('metamethod called') end "
        "local mt = {__index = boom, __newindex = boom, __len = boom, __pairs = boom,"
        " __ipairs = boom, __eq = boom, __lt = boom, __le = boom, __tostring = boom,"
        " __concat = boom, __call = boom, __metatable = 'locked'} ";
    char src[1024];
    snprintf(src, sizeof src, "%s return setmetatable({a = 1}, mt)", boom);
    expect_bytes(L, src, B(0x81, 0xa1, 'a', 0x01));
    snprintf(src, sizeof src, "%s return setmetatable({1, 2}, mt)", boom);
    expect_bytes(L, src, B(0x92, 0x01, 0x02));
    /* what __index would supply does not exist */
    expect_bytes(L, "return setmetatable({}, {__index = {1, 2}})", B(0x90));
    expect_bytes(L, "return setmetatable({1}, {__index = {[2] = 2}})", B(0x91, 0x01));
    lua_close(L);
}

TEST(codec_lua_sends_utf8_as_str_and_other_bytes_as_bin)
{
    lua_State *L = new_lua();
    expect_bytes(L, "return '\\195\\169'", B(0xa2, 0xc3, 0xa9));                   /* é */
    expect_bytes(L, "return '\\240\\159\\152\\128'", B(0xa4, 0xf0, 0x9f, 0x98, 0x80));
    expect_bytes(L, "return '\\255'", B(0xc4, 0x01, 0xff));
    expect_bytes(L, "return '\\192\\128'", B(0xc4, 0x02, 0xc0, 0x80));             /* overlong NUL */
    expect_bytes(L, "return '\\237\\160\\128'", B(0xc4, 0x03, 0xed, 0xa0, 0x80));  /* surrogate */
    expect_bytes(L, "return 'a\\0b'", B(0xa3, 'a', 0x00, 'b'));
    /* map keys are str whatever their bytes */
    expect_bytes(L, "return {['\\255'] = '\\255'}", B(0x81, 0xa1, 0xff, 0xc4, 0x01, 0xff));
    lua_close(L);
}

TEST(codec_lua_sorts_keys_by_bytes)
{
    lua_State *L = new_lua();
    expect_bytes(L, "return {b = 1, a = 2, ab = 3, [''] = 4, B = 5, ['\\255'] = 6}",
                 B(0x86, 0xa0, 0x04, 0xa1, 'B', 0x05, 0xa1, 'a', 0x02,
                   0xa2, 'a', 'b', 0x03, 0xa1, 'b', 0x01, 0xa1, 0xff, 0x06));
    /* maps beyond the on-stack key limit: same bytes whatever the insertion order */
    uint8_t *a, *b;
    size_t an, bn;
    ASSERT_EQ(enc(L, "local t = {} for i = 1, 300 do t['k' .. i] = {i} end return t", &a, &an), 0);
    ASSERT_EQ(enc(L, "local t = {} for i = 300, 1, -1 do t['k' .. i] = {i} end "
                     "for i = 1, 100 do t['x' .. i] = 1 end "
                     "for i = 1, 100 do t['x' .. i] = nil end return t", &b, &bn), 0);
    ASSERT_EQ(an, bn);
    ASSERT_MEM(a, b, an);
    ASSERT_EQ(ln_codec_check(a, an), 0);
    ASSERT_EQ(a[0], 0xde);
    ASSERT_MEM(a + 3, "\xa2k1\x91\x01\xa3k10\x91\x0a", 10);
    free(a);
    free(b);
    lua_close(L);
}

TEST(codec_lua_refuses_oversize_string)
{
    lua_State *L = new_lua();
    ASSERT_EQ(enc_rc(L, "return string.rep('x', 2^20)"), 0);
    ASSERT_EQ(enc_rc(L, "return string.rep('x', 2^20 + 1)"), LN_ETOOBIG);
    ASSERT_EQ(enc_rc(L, "return {[string.rep('x', 2^20 + 1)] = 1}"), LN_ETOOBIG);
    lua_close(L);
}

static int failing_writer(void *data, const char *buf, size_t len)
{
    (void)buf;
    size_t *budget = data;
    if (len > *budget) return -1;
    *budget -= len;
    return 0;
}

TEST(codec_pack_lua_reports_writer_failure_as_enomem)
{
    lua_State *L = new_lua();
    eval(L, "return {a = {1, 2, {b = 'c'}}, d = string.rep('x', 1000)}");
    for (size_t budget = 0; budget < 20; budget++) {
        size_t left = budget;
        msgpack_packer pk;
        msgpack_packer_init(&pk, &left, failing_writer);
        ASSERT_EQ(ln_codec_pack_lua(L, 1, &pk), LN_ENOMEM);
        ASSERT_EQ(lua_gettop(L), 1);
    }
    size_t big = 4096;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &big, failing_writer);
    ASSERT_EQ(ln_codec_pack_lua(L, -1, &pk), 0);
    ASSERT_EQ(lua_gettop(L), 1);
    lua_close(L);
}

TEST(codec_utf8_valid_refuses_overlongs_surrogates_and_out_of_range)
{
    ASSERT(ln_utf8_valid((const uint8_t *)"", 0));
    ASSERT(ln_utf8_valid(B('h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd')));
    ASSERT(ln_utf8_valid(B(0xc3, 0xa9)));                       /* U+00E9 */
    ASSERT(ln_utf8_valid(B(0xdf, 0xbf)));                       /* U+07FF */
    ASSERT(ln_utf8_valid(B(0xe0, 0xa0, 0x80)));                 /* U+0800 */
    ASSERT(ln_utf8_valid(B(0xed, 0x9f, 0xbf)));                 /* U+D7FF */
    ASSERT(ln_utf8_valid(B(0xee, 0x80, 0x80)));                 /* U+E000 */
    ASSERT(ln_utf8_valid(B(0xef, 0xbf, 0xbf)));                 /* U+FFFF */
    ASSERT(ln_utf8_valid(B(0xf0, 0x90, 0x80, 0x80)));           /* U+10000 */
    ASSERT(ln_utf8_valid(B(0xf4, 0x8f, 0xbf, 0xbf)));           /* U+10FFFF */
    ASSERT(ln_utf8_valid(B('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 0xe2, 0x82, 0xac)));

    ASSERT(!ln_utf8_valid(B(0x80)));                            /* lone continuation */
    ASSERT(!ln_utf8_valid(B(0xc0, 0x80)));                      /* overlong */
    ASSERT(!ln_utf8_valid(B(0xc1, 0xbf)));
    ASSERT(!ln_utf8_valid(B(0xe0, 0x9f, 0xbf)));
    ASSERT(!ln_utf8_valid(B(0xf0, 0x8f, 0xbf, 0xbf)));
    ASSERT(!ln_utf8_valid(B(0xed, 0xa0, 0x80)));                /* U+D800 */
    ASSERT(!ln_utf8_valid(B(0xed, 0xbf, 0xbf)));                /* U+DFFF */
    ASSERT(!ln_utf8_valid(B(0xf4, 0x90, 0x80, 0x80)));          /* U+110000 */
    ASSERT(!ln_utf8_valid(B(0xf5, 0x80, 0x80, 0x80)));
    ASSERT(!ln_utf8_valid(B(0xff)));
    ASSERT(!ln_utf8_valid(B(0xe2, 0x82)));                      /* cut */
    ASSERT(!ln_utf8_valid(B(0xc3, 'a')));
    ASSERT(!ln_utf8_valid(B('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 0xc3)));
}

TEST(codec_unpack_builds_objects)
{
    lua_State *L = new_lua();
    uint8_t *buf;
    size_t n;
    ASSERT_EQ(enc(L, "return {n = -5, u = 300, s = 'hi', b = '\\255', t = true,"
                     " a = {1, {}}, m = {x = 0}}", &buf, &n), 0);
    msgpack_zone z;
    msgpack_object o;
    ASSERT(msgpack_zone_init(&z, 1024));
    ASSERT_EQ(ln_codec_unpack(buf, n, &z, &o), 0);
    ASSERT_EQ(o.type, MSGPACK_OBJECT_MAP);
    ASSERT_EQ(o.via.map.size, 7);
    const msgpack_object *v = ln_codec_map_get(&o, "n");
    ASSERT(v && v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && v->via.i64 == -5);
    v = ln_codec_map_get(&o, "u");
    ASSERT(v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 == 300);
    v = ln_codec_map_get(&o, "s");
    ASSERT(v && v->type == MSGPACK_OBJECT_STR && v->via.str.size == 2);
    ASSERT_MEM(v->via.str.ptr, "hi", 2);
    ASSERT((const uint8_t *)v->via.str.ptr > buf && (const uint8_t *)v->via.str.ptr < buf + n);
    v = ln_codec_map_get(&o, "b");
    ASSERT(v && v->type == MSGPACK_OBJECT_BIN && v->via.bin.size == 1);
    ASSERT_EQ((uint8_t)v->via.bin.ptr[0], 0xff);
    v = ln_codec_map_get(&o, "t");
    ASSERT(v && v->type == MSGPACK_OBJECT_BOOLEAN && v->via.boolean);
    v = ln_codec_map_get(&o, "a");
    ASSERT(v && v->type == MSGPACK_OBJECT_ARRAY && v->via.array.size == 2);
    ASSERT_EQ(v->via.array.ptr[1].type, MSGPACK_OBJECT_ARRAY);
    ASSERT_EQ(v->via.array.ptr[1].via.array.size, 0);
    v = ln_codec_map_get(ln_codec_map_get(&o, "m"), "x");
    ASSERT(v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 == 0);
    /* ln_codec_push gives back what the Lua encoder started from */
    int top = lua_gettop(L);
    ASSERT_EQ(ln_codec_push(L, &o), 0);
    uint8_t *again;
    size_t an;
    ASSERT_EQ(ln_codec_encode_lua(L, -1, &again, &an), 0);
    ASSERT_EQ(an, n);
    ASSERT_MEM(again, buf, n);
    lua_settop(L, top);
    free(again);
    msgpack_zone_destroy(&z);
    free(buf);
    lua_close(L);
}

TEST(codec_map_get_finds_keys)
{
    const uint8_t b[] = { 0x83, 0xa0, 0x01, 0xa1, 'a', 0x02, 0xa2, 'a', 'b', 0x03 };
    msgpack_zone z;
    msgpack_object o;
    ASSERT(msgpack_zone_init(&z, 256));
    ASSERT_EQ(ln_codec_unpack(b, sizeof b, &z, &o), 0);
    ASSERT_EQ(ln_codec_map_get(&o, "")->via.u64, 1);
    ASSERT_EQ(ln_codec_map_get(&o, "a")->via.u64, 2);
    ASSERT_EQ(ln_codec_map_get(&o, "ab")->via.u64, 3);
    ASSERT(ln_codec_map_get(&o, "b") == NULL);
    ASSERT(ln_codec_map_get(&o, "abc") == NULL);
    ASSERT(ln_codec_map_get(ln_codec_map_get(&o, "a"), "x") == NULL);  /* not a map */
    ASSERT(ln_codec_map_get(NULL, "a") == NULL);
    const uint8_t c[] = { 0x81, 0xa2, 'a', 'b', 0x01 };
    ASSERT_EQ(ln_codec_unpack(c, sizeof c, &z, &o), 0);
    ASSERT(ln_codec_map_get(&o, "a") == NULL);                        /* a prefix */
    ASSERT(ln_codec_map_get(&o, "") == NULL);
    msgpack_zone_destroy(&z);
}

/* An allocator that refuses to grow anything while fail_growth is set, as
** a sandbox's memory cap does: Lua then raises LUA_ERRMEM mid-push. */
static int fail_growth;

static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    if (fail_growth && nsize > osize) return NULL;
    return realloc(ptr, nsize);
}

static void charge_nothing(lua_State *L, uint64_t items)
{
    (void)L;
    (void)items;
}

/* A 40-byte string: within each cap below, so the push allocates, and fails. */
static uint8_t short_str[2 + 40];

static int decode_charged_raising(lua_State *L)
{
    fail_growth = 1;
    ln_codec_decode_lua_charged(L, short_str, sizeof short_str, 64, charge_nothing);
    return 0;
}

static int push_strmax_raising(lua_State *L)
{
    msgpack_object o = { .type = MSGPACK_OBJECT_STR };
    o.via.str.ptr = (const char *)short_str + 2;
    o.via.str.size = 40;
    fail_growth = 1;
    ln_codec_push_strmax(L, &o, 64);
    return 0;
}

static int decode_limit_raising(lua_State *L)
{
    fail_growth = 1;
    ln_codec_decode_lua_limit(L, short_str, sizeof short_str, 16u << 20);
    return 0;
}

TEST(codec_limits_of_a_push_that_raised_do_not_outlive_it)
{
    lua_State *L = lua_newstate(capped_alloc, NULL);
    ASSERT(L != NULL);
    short_str[0] = 0xd9;
    short_str[1] = 40;
    memset(short_str + 2, 'y', 40);
    static uint8_t long_str[2 + 200];
    long_str[0] = 0xd9;
    long_str[1] = 200;
    memset(long_str + 2, 'x', 200);
    /* A str 32 header claiming one byte past the default item limit. */
    static const uint8_t over[] = { 0xdb, 0x00, 0x10, 0x00, 0x01 };
    lua_CFunction raising[] = { decode_charged_raising, push_strmax_raising, decode_limit_raising };
    for (size_t i = 0; i < sizeof raising / sizeof *raising; i++) {
        lua_pushcfunction(L, raising[i]);
        ASSERT_EQ(lua_pcall(L, 0, 0, 0), LUA_ERRMEM);
        fail_growth = 0;
        lua_settop(L, 0);
        /* Plain calls have no string cap and the default item limit. */
        ASSERT_EQ(ln_codec_decode_lua(L, long_str, sizeof long_str), 0);
        size_t n;
        lua_tolstring(L, -1, &n);
        ASSERT_EQ(n, 200u);
        lua_settop(L, 0);
        ASSERT_EQ(ln_codec_check(over, sizeof over), LN_ETOOBIG);
    }
    lua_close(L);
}

TEST(codec_push_refuses_unsafe_integers_and_pushes_nothing)
{
    lua_State *L = new_lua();
    static const uint8_t big[] = { 0x92, 0x01, 0xcf, 0x00, 0x20, 0, 0, 0, 0, 0, 0 };      /* 2^53 */
    static const uint8_t neg[] = { 0x81, 0xa1, 'a', 0xd3, 0xff, 0xe0, 0, 0, 0, 0, 0, 0 }; /* -2^53 */
    static const uint8_t ok[]  = { 0xcf, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    ASSERT_EQ(ln_codec_decode_lua(L, big, sizeof big), LN_ERANGE);
    ASSERT_EQ(ln_codec_decode_lua(L, neg, sizeof neg), LN_ERANGE);
    ASSERT_EQ(lua_gettop(L), 0);
    ASSERT_EQ(ln_codec_decode_lua(L, ok, sizeof ok), 0);
    ASSERT(lua_tonumber(L, -1) == 9007199254740991.0);
    lua_pop(L, 1);

    msgpack_zone z;
    msgpack_object o;
    ASSERT(msgpack_zone_init(&z, 256));
    ASSERT_EQ(ln_codec_unpack(big, sizeof big, &z, &o), 0);   /* not range-limited */
    ASSERT_EQ(o.via.array.ptr[1].via.u64, 1ull << 53);
    ASSERT_EQ(ln_codec_push(L, &o), LN_ERANGE);
    ASSERT_EQ(ln_codec_unpack(neg, sizeof neg, &z, &o), 0);
    ASSERT_EQ(ln_codec_push(L, &o), LN_ERANGE);
    ASSERT_EQ(lua_gettop(L), 0);
    msgpack_zone_destroy(&z);
    lua_close(L);
}

/* xorshift64*: the same inputs on every run */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

TEST(codec_check_survives_random_and_mutated_input)
{
    lua_State *L = new_lua();
    uint8_t *valid;
    size_t vn;
    ASSERT_EQ(enc(L, "return {a = {1, -200, 70000, 2^40}, b = string.rep('x', 40),"
                     " c = '\\255', d = {{}, {e = false}}, f = -2^40}", &valid, &vn), 0);
    uint8_t buf[96];
    int accepted = 0;
    for (int i = 0; i < 200000; i++) {
        size_t n;
        if (i & 1) {                    /* a few bytes of a valid encoding changed */
            n = vn;
            memcpy(buf, valid, vn);
            for (int k = (int)(rnd() % 3); k >= 0; k--) buf[rnd() % vn] = (uint8_t)rnd();
            if (rnd() % 4 == 0) n = rnd() % (vn + 1);
        } else {                        /* noise, biased to short headers */
            n = rnd() % 24;
            for (size_t k = 0; k < n; k++) buf[k] = (uint8_t)(rnd() % 3 ? rnd() : rnd() % 0x20 + 0x80);
        }
        int rc = check_exact(buf, n);
        int top = lua_gettop(L);
        int drc = ln_codec_decode_lua(L, buf, n);
        ASSERT(drc == rc || (rc == 0 && drc == LN_ERANGE));
        ASSERT_EQ(lua_gettop(L), top + (drc == 0));
        if (drc == 0) {
            accepted++;
            uint8_t *again;
            size_t an;
            int erc = ln_codec_encode_lua(L, -1, &again, &an);
            if (erc == 0) {
                ASSERT_EQ(ln_codec_check(again, an), 0);
                free(again);
            } else {    /* a nil inside an array leaves a hole in Lua */
                ASSERT_EQ(erc, LN_EKEYTYPE);
                ASSERT(memchr(buf, 0xc0, n) != NULL);
            }
            lua_pop(L, 1);
        }
    }
    ASSERT(accepted > 1000);
    free(valid);
    lua_close(L);
}

/* ---- metered encoding ------------------------------------------------- */

static int sbuf_write(void *data, const char *buf, size_t len)
{
    return msgpack_sbuffer_write(data, buf, len);
}

/* Encodes the value of src under a meter; the bytes land in *out. */
static int metered(lua_State *L, const char *src, ln_codec_meter *m, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(out);
    msgpack_packer_init(&pk, out, sbuf_write);
    eval(L, src);
    int top = lua_gettop(L);
    int rc = ln_codec_pack_lua_metered(L, -1, &pk, m);
    ASSERT_EQ(lua_gettop(L), top);
    lua_pop(L, 1);
    return rc;
}

TEST(codec_metered_encoding_gives_the_same_bytes_and_counts_them)
{
    lua_State *L = new_lua();
    const char *src = "return { a = { 1, 2, 3 }, b = 'text', c = { d = true } }";
    uint8_t *want;
    size_t wn;
    ASSERT_EQ(enc(L, src, &want, &wn), 0);
    ln_codec_meter m = { 0, UINT64_MAX, SIZE_MAX, NULL };
    msgpack_sbuffer out;
    ASSERT_EQ(metered(L, src, &m, &out), 0);
    ASSERT_EQ(out.size, wn);
    ASSERT(memcmp(out.data, want, wn) == 0);
    /* 8 values (the maps, the array, 1 2 3, 'text', true), every byte,
    ** each key walked and sorted. */
    ASSERT(m.work >= 8 * LN_CODEC_WORK_VALUE + wn);
    msgpack_sbuffer_destroy(&out);
    free(want);
    lua_close(L);
}

TEST(codec_metered_encoding_walks_a_shared_table_each_time_and_stops_at_the_limit)
{
    lua_State *L = new_lua();
    /* { t, t } nested 12 deep: 2^13 - 1 values visited. */
    ln_codec_meter m = { 0, UINT64_MAX, SIZE_MAX, NULL };
    msgpack_sbuffer out;
    ASSERT_EQ(metered(L, "local t = {} for i = 1, 12 do t = { t, t } end return t", &m, &out), 0);
    ASSERT(m.work >= 8191 * LN_CODEC_WORK_VALUE);
    msgpack_sbuffer_destroy(&out);
    /* 30 deep would be 2^31 visits: the meter stops it within one value's
    ** work past the limit, having written little. */
    ln_codec_meter small = { 0, 100000, SIZE_MAX, NULL };
    ASSERT_EQ(metered(L, "local t = {} for i = 1, 30 do t = { t, t } end return t", &small, &out),
              LN_EGAS);
    ASSERT(small.work > small.limit);
    ASSERT(small.work <= small.limit + LN_CODEC_WORK_VALUE + 64);
    ASSERT(out.size < 100000);
    msgpack_sbuffer_destroy(&out);
    lua_close(L);
}

TEST(codec_metered_encoding_stops_at_max_bytes_and_counts_a_failure)
{
    lua_State *L = new_lua();
    ln_codec_meter m = { 0, UINT64_MAX, 1000, NULL };
    msgpack_sbuffer out;
    ASSERT_EQ(metered(L, "return string.rep('x', 5000)", &m, &out), LN_ETOOBIG);
    ASSERT(out.size <= 1000);
    msgpack_sbuffer_destroy(&out);
    /* A function after 5000 integers: refused, the 5000 visits counted. */
    ln_codec_meter f = { 0, UINT64_MAX, SIZE_MAX, NULL };
    ASSERT_EQ(metered(L, "local t = {} for i = 1, 5000 do t[i] = i end t[5001] = print return t",
                      &f, &out), LN_ETYPE);
    ASSERT(f.work >= 5000 * LN_CODEC_WORK_VALUE);
    msgpack_sbuffer_destroy(&out);
    lua_close(L);
}

/* Counts slots as the sandbox does, by a count the test controls. */
static size_t fake_slots(lua_State *L, int idx)
{
    (void)L, (void)idx;
    return 100000;
}

TEST(codec_metered_encoding_charges_the_slots_a_walk_visits)
{
    lua_State *L = new_lua();
    ln_codec_meter m = { 0, UINT64_MAX, SIZE_MAX, fake_slots };
    msgpack_sbuffer out;
    ASSERT_EQ(metered(L, "return {}", &m, &out), 0);
    ASSERT(m.work >= 100000 * LN_CODEC_WORK_SLOT);
    msgpack_sbuffer_destroy(&out);
    lua_close(L);
}

static const ln_test tests[] = {
    T(codec_round_trips_every_type),
    T(codec_encodes_exact_bytes),
    T(codec_picks_shortest_str_and_bin_headers),
    T(codec_accepts_the_shortest_form_at_each_boundary),
    T(codec_refuses_non_shortest_int),
    T(codec_refuses_non_negative_in_signed_form),
    T(codec_refuses_non_shortest_headers),
    T(codec_refuses_floats),
    T(codec_refuses_ext),
    T(codec_refuses_duplicate_keys),
    T(codec_refuses_unsorted_keys),
    T(codec_refuses_non_str_key),
    T(codec_refuses_every_truncated_prefix),
    T(codec_refuses_trailing_byte),
    T(codec_refuses_depth_33_accepts_32),
    T(codec_refuses_huge_counts_without_allocating),
    T(codec_refuses_oversize_str),
    T(codec_refuses_byte_c1),
    T(codec_reports_the_first_problem_in_byte_order),
    T(codec_lua_refuses_non_integers),
    T(codec_lua_refuses_unsafe_integers),
    T(codec_lua_refuses_mixed_keys_and_holes),
    T(codec_lua_refuses_functions_and_userdata),
    T(codec_lua_refuses_self_reference),
    T(codec_lua_refuses_depth_33_accepts_32),
    T(codec_lua_ignores_metatables),
    T(codec_lua_sends_utf8_as_str_and_other_bytes_as_bin),
    T(codec_lua_sorts_keys_by_bytes),
    T(codec_lua_refuses_oversize_string),
    T(codec_pack_lua_reports_writer_failure_as_enomem),
    T(codec_utf8_valid_refuses_overlongs_surrogates_and_out_of_range),
    T(codec_unpack_builds_objects),
    T(codec_map_get_finds_keys),
    T(codec_push_refuses_unsafe_integers_and_pushes_nothing),
    T(codec_limits_of_a_push_that_raised_do_not_outlive_it),
    T(codec_check_survives_random_and_mutated_input),
    T(codec_metered_encoding_gives_the_same_bytes_and_counts_them),
    T(codec_metered_encoding_walks_a_shared_table_each_time_and_stops_at_the_limit),
    T(codec_metered_encoding_stops_at_max_bytes_and_counts_a_failure),
    T(codec_metered_encoding_charges_the_slots_a_walk_visits),
    {0}
};
LN_TEST_MAIN(tests)
