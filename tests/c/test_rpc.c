/* test_rpc.c -- the JSON-RPC layer of the node's HTTP face, with no node
** behind it: strict base64, msgpack <-> JSON (core/rpc_json.c), error codes
** and objects, and the request and batch rules (core/rpc_call.c). The
** methods against a real node are tested in tests/net/rpc_spec.lua. */
#include "test.h"
#include "codec.h"
#include "err.h"
#include "rpc.h"

/* ---- rpc helpers -------------------------------------------------------- */

static void b64_ok(const char *in, const char *want)
{
    uint8_t *out;
    size_t n;
    int rc = ln__rpc_base64_decode(in, strlen(in), &out, &n);
    if (rc) LN_FAIL("base64 \"%s\": %s", in, ln_errname(rc));
    if (n != strlen(want) || memcmp(out, want, n) != 0) LN_FAIL("base64 \"%s\": wrong bytes", in);
    free(out);
}

static void b64_bad(const char *in)
{
    uint8_t *out = NULL;
    size_t n;
    int rc = ln__rpc_base64_decode(in, strlen(in), &out, &n);
    if (rc != LN_EINVAL) LN_FAIL("base64 \"%s\" was accepted (%d)", in, rc);
}

TEST(rpc_base64_decodes_the_rfc4648_vectors)
{
    b64_ok("", "");
    b64_ok("Zg==", "f");
    b64_ok("Zm8=", "fo");
    b64_ok("Zm9v", "foo");
    b64_ok("Zm9vYg==", "foob");
    b64_ok("Zm9vYmE=", "fooba");
    b64_ok("Zm9vYmFy", "foobar");
    b64_ok("+/+/", "\xfb\xff\xbf");
}

TEST(rpc_base64_refuses_anything_not_strict)
{
    b64_bad("Zg");        /* no padding */
    b64_bad("Zg=");
    b64_bad("Zm9v\n");
    b64_bad(" Zm9v");
    b64_bad("Zm9vYg=a");
    b64_bad("Zg==Zm9v");  /* padding in the middle */
    b64_bad("====");
    b64_bad("Z===");
    b64_bad("Zh==");      /* unused bits set */
    b64_bad("Zm9=");
    b64_bad("Zm-_");      /* url alphabet */
}

TEST(rpc_base64_refuses_bytes_outside_the_alphabet)
{
    b64_bad("a\x80\x80" "a");  /* libsodium 1.0.18 takes these as letters */
    b64_bad("Zm9\xff");
    b64_bad("\xc3\xa9Zg");
    b64_bad("Zm9v\x01\x02==");
}

static void to_mp(const char *json, const uint8_t *want, size_t wn)
{
    cJSON *j = cJSON_Parse(json);
    ASSERT(j != NULL);
    uint8_t *out;
    size_t n;
    int rc = ln__rpc_json_to_msgpack(j, &out, &n);
    cJSON_Delete(j);
    if (rc) LN_FAIL("%s: %s", json, ln_errname(rc));
    if (n != wn || memcmp(out, want, n) != 0) {
        for (size_t i = 0; i < n; i++) fprintf(stderr, " %02x", out[i]);
        fputc('\n', stderr);
        LN_FAIL("%s: bytes differ", json);
    }
    ASSERT_EQ(ln_codec_check(out, n), 0);
    free(out);
}

static int to_mp_rc(const char *json)
{
    cJSON *j = cJSON_Parse(json);
    ASSERT(j != NULL);
    uint8_t *out = NULL;
    size_t n;
    int rc = ln__rpc_json_to_msgpack(j, &out, &n);
    cJSON_Delete(j);
    if (rc == 0) free(out);
    return rc;
}

#define B(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

TEST(rpc_json_to_msgpack_gives_canonical_bytes)
{
    to_mp("[]", B(0x90));
    to_mp("{\"b\":1,\"a\":[-1,\"x\",true,null]}",
          B(0x82, 0xa1, 'a', 0x94, 0xff, 0xa1, 'x', 0xc3, 0xc0, 0xa1, 'b', 0x01));
    to_mp("[127,128,-33,65536,9007199254740991]",
          B(0x95, 0x7f, 0xcc, 0x80, 0xd0, 0xdf, 0xce, 0x00, 0x01, 0x00, 0x00,
            0xcf, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
    to_mp("[\"0xab\", 2.0, -0]", B(0x93, 0xa4, '0', 'x', 'a', 'b', 0x02, 0x00));
    to_mp("{\"ab\":0,\"a\":0,\"b\":0}", B(0x83, 0xa1, 'a', 0, 0xa2, 'a', 'b', 0, 0xa1, 'b', 0));
}

TEST(rpc_json_to_msgpack_refuses_floats_unsafe_integers_and_duplicate_keys)
{
    ASSERT_EQ(to_mp_rc("[1.5]"), LN_EFLOAT);
    ASSERT_EQ(to_mp_rc("[9007199254740992]"), LN_ERANGE);
    ASSERT_EQ(to_mp_rc("[-9007199254740992]"), LN_ERANGE);
    ASSERT_EQ(to_mp_rc("[1e300]"), LN_ERANGE);
    ASSERT_EQ(to_mp_rc("{\"a\":1,\"a\":2}"), LN_EDUPKEY);
    char deep[200] = "";
    for (int i = 0; i < 33; i++) strcat(deep, "[");
    for (int i = 0; i < 33; i++) strcat(deep, "]");
    ASSERT_EQ(to_mp_rc(deep), LN_EDEPTH);
    deep[32] = '\0';                   /* 32 levels are fine */
    memset(deep + 32, ']', 32);
    deep[64] = '\0';
    ASSERT_EQ(to_mp_rc(deep), 0);
}

static char *to_json(const uint8_t *p, size_t n)
{
    msgpack_zone z;
    msgpack_zone_init(&z, 1024);
    msgpack_object o;
    ASSERT_EQ(ln_codec_unpack(p, n, &z, &o), 0);
    cJSON *j = ln__rpc_msgpack_to_json(&o);
    ASSERT(j != NULL);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    msgpack_zone_destroy(&z);
    return s;
}

TEST(rpc_msgpack_to_json_renders_bin_as_hex_and_integers_exactly)
{
    char *s = to_json(B(0x84, 0xa1, 'a', 0xc4, 0x02, 0x01, 0xab,
                        0xa1, 'b', 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                        0xa1, 'c', 0x92, 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0, 0xc2,
                        0xa1, 'd', 0xa3, 'x', '"', 'y'));
    ASSERT_STR(s, "{\"a\":\"0x01ab\",\"b\":18446744073709551615,"
                  "\"c\":[-9223372036854775808,false],\"d\":\"x\\\"y\"}");
    free(s);
    s = to_json(B(0x93, 0xc0, 0xd1, 0xfc, 0x18, 0xa2, 0xff, 0xfe));   /* str not UTF-8 */
    ASSERT_STR(s, "[null,-1000,\"0xfffe\"]");
    free(s);
}

TEST(rpc_msgpack_to_json_renders_a_str_holding_a_nul_as_hex_and_any_key_as_text)
{
    /* {"a\0b": "x\0", 7: "ok", true: 1} is not canonical, but a stored
    ** value of an older chain or a peer's block may be rendered all the same */
    const uint8_t raw[] = { 0x83, 0xa3, 'a', 0, 'b', 0xa2, 'x', 0,
                            0x07, 0xa2, 'o', 'k',
                            0xc3, 0x01 };
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    ASSERT_EQ(msgpack_unpack_next(&u, (const char *)raw, sizeof raw, NULL), MSGPACK_UNPACK_SUCCESS);
    cJSON *j = ln__rpc_msgpack_to_json(&u.data);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    msgpack_unpacked_destroy(&u);
    ASSERT_STR(s, "{\"0x610062\":\"0x7800\",\"7\":\"ok\",\"true\":1}");
    free(s);
    /* integers at the edge of what cJSON prints exactly */
    s = to_json(B(0x94, 0xce, 0x7f, 0xff, 0xff, 0xfe, 0xce, 0x7f, 0xff, 0xff, 0xff,
                  0xd2, 0x80, 0x00, 0x00, 0x01, 0xd2, 0x80, 0x00, 0x00, 0x00));
    ASSERT_STR(s, "[2147483646,2147483647,-2147483647,-2147483648]");
    free(s);
}

TEST(rpc_lunet_errors_map_to_32000_plus_the_code_with_name_and_why)
{
    ASSERT_EQ(ln__rpc_errcode(LN_EBADSIG), -32030);
    ASSERT_EQ(ln__rpc_errcode(LN_ENONCE), -32042);
    ASSERT_EQ(ln__rpc_errcode(LN_ENOTFOUND), -32001);
    ASSERT_EQ(ln__rpc_errcode(0), -32603);
    cJSON *e = ln__rpc_error(LN_ENONCE, NULL, "expected 3, got 5");
    char *s = cJSON_PrintUnformatted(e);
    ASSERT_STR(s, "{\"code\":-32042,\"message\":\"wrong nonce: expected 3, got 5\","
                  "\"data\":{\"name\":\"ENONCE\",\"why\":\"expected 3, got 5\"}}");
    free(s);
    cJSON_Delete(e);
    e = ln__rpc_error(LN_RPC_JSON_PARAMS, NULL, NULL);
    s = cJSON_PrintUnformatted(e);
    ASSERT_STR(s, "{\"code\":-32602,\"message\":\"invalid params\"}");
    free(s);
    cJSON_Delete(e);
}

typedef struct { int calls; char *text; } answer;

static void on_answer(char *json, void *ud)
{
    answer *a = ud;
    a->calls++;
    a->text = json;
}

/* Runs a body through the JSON-RPC layer with no node behind it. */
static cJSON *rpc(const char *body, answer *a)
{
    memset(a, 0, sizeof *a);
    ln__rpc_process(NULL, body, strlen(body), on_answer, a);
    ASSERT_EQ(a->calls, 1);
    cJSON *j = a->text ? cJSON_Parse(a->text) : NULL;
    free(a->text);
    return j;
}

static int err_code(const cJSON *resp)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(resp, "error");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "code");
    return c ? (int)c->valuedouble : 0;
}

TEST(rpc_malformed_json_gets_a_parse_error)
{
    answer a;
    cJSON *r = rpc("{\"jsonrpc\":\"2.0\",", &a);
    ASSERT_EQ(err_code(r), -32700);
    ASSERT(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r, "id")));
    cJSON_Delete(r);
    r = rpc("{} trailing", &a);
    ASSERT_EQ(err_code(r), -32700);
    cJSON_Delete(r);
}

TEST(rpc_invalid_requests_get_32600)
{
    answer a;
    const char *bad[] = {
        "[]", "42", "\"x\"",
        "{\"jsonrpc\":\"1.0\",\"method\":\"chain_info\",\"id\":1}",
        "{\"method\":\"chain_info\",\"id\":1}",
        "{\"jsonrpc\":\"2.0\",\"id\":1}",
        "{\"jsonrpc\":\"2.0\",\"method\":5,\"id\":1}",
        "{\"jsonrpc\":\"2.0\",\"method\":\"chain_info\",\"id\":{}}",
        "{\"jsonrpc\":\"2.0\",\"method\":\"chain_info\",\"params\":3,\"id\":1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cJSON *r = rpc(bad[i], &a);
        if (err_code(r) != -32600) LN_FAIL("%s: code %d", bad[i], err_code(r));
        cJSON_Delete(r);
    }
}

/* Like rpc(), and the answer must be valid UTF-8 (JSON text is). */
static cJSON *rpc_utf8(const char *body, size_t len, answer *a)
{
    memset(a, 0, sizeof *a);
    ln__rpc_process(NULL, body, len, on_answer, a);
    ASSERT_EQ(a->calls, 1);
    ASSERT(a->text != NULL);
    if (!ln_utf8_valid((const uint8_t *)a->text, strlen(a->text)))
        LN_FAIL("answer to %.40s... is not UTF-8: %s", body, a->text);
    cJSON *j = cJSON_Parse(a->text);
    free(a->text);
    ASSERT(j != NULL);
    return j;
}

TEST(rpc_nul_in_a_method_or_id_is_refused_not_cut)
{
    answer a;
    const char *bad[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chain_info\\u0000evil\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":\"a\\u0000b\",\"method\":\"chain_info\"}",
        "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chain_info\",\"params\":{\"x\":\"\\u0000\"}}]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cJSON *r = rpc_utf8(bad[i], strlen(bad[i]), &a);
        if (err_code(r) != -32600) LN_FAIL("%s: code %d", bad[i], err_code(r));
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "error"), "message");
        ASSERT(strstr(m->valuestring, "\\u0000") != NULL);
        cJSON_Delete(r);
    }
    /* a raw NUL byte is not JSON */
    static const char raw[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chain_info\0evil\"}";
    cJSON *r = rpc_utf8(raw, sizeof raw - 1, &a);
    ASSERT_EQ(err_code(r), -32700);
    cJSON_Delete(r);
    /* an escaped backslash before u0000 is six characters, no NUL */
    const char *esc = "{\"jsonrpc\":\"2.0\",\"id\":\"\\\\u0000\",\"method\":\"nope\"}";
    r = rpc_utf8(esc, strlen(esc), &a);
    ASSERT_EQ(err_code(r), -32601);
    ASSERT_STR(cJSON_GetObjectItemCaseSensitive(r, "id")->valuestring, "\\u0000");
    cJSON_Delete(r);
}

TEST(rpc_invalid_utf8_in_a_request_gets_a_valid_json_answer)
{
    answer a;
    const char *bad[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\xfe\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":\"\xc3\",\"method\":\"nope\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xed\xa0\x80\"}",     /* a surrogate */
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xc0\xaf\"}",         /* overlong */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cJSON *r = rpc_utf8(bad[i], strlen(bad[i]), &a);
        if (err_code(r) != -32700) LN_FAIL("request %zu: code %d", i, err_code(r));
        cJSON_Delete(r);
    }
    /* a method name cut inside a character by the message's limit */
    char body[256], m[80];
    memset(m, 'a', 63);
    snprintf(m + 63, sizeof m - 63, "\xc3\xa9");
    snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\"}", m);
    cJSON *r = rpc_utf8(body, strlen(body), &a);
    ASSERT_EQ(err_code(r), -32601);
    cJSON_Delete(r);
}

TEST(rpc_error_messages_that_quote_bytes_stay_utf8)
{
    cJSON *e = ln__rpc_error(LN_RPC_JSON_METHOD, "no route GET /\xff\xe2\x82", NULL);
    char *s = cJSON_PrintUnformatted(e);
    ASSERT_STR(s, "{\"code\":-32601,\"message\":\"no route GET /???\"}");
    free(s);
    cJSON_Delete(e);
    e = ln__rpc_error(LN_ECALL, NULL, "token.lua:3: \xe2\x82\xac and \x80");
    s = cJSON_PrintUnformatted(e);
    ASSERT(ln_utf8_valid((const uint8_t *)s, strlen(s)));
    ASSERT(strstr(s, "\xe2\x82\xac and ?\"") != NULL);
    free(s);
    cJSON_Delete(e);
}

TEST(rpc_unknown_method_gets_32601_with_the_id)
{
    answer a;
    cJSON *r = rpc("{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":\"q1\"}", &a);
    ASSERT_EQ(err_code(r), -32601);
    ASSERT_STR(cJSON_GetObjectItemCaseSensitive(r, "id")->valuestring, "q1");
    cJSON_Delete(r);
}

TEST(rpc_batch_answers_each_call_in_order_and_skips_notifications)
{
    answer a;
    cJSON *r = rpc("[{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":1},"
                   "{\"jsonrpc\":\"2.0\",\"method\":\"y\"},"
                   "7,"
                   "{\"jsonrpc\":\"2.0\",\"method\":\"z\",\"id\":3}]", &a);
    ASSERT(cJSON_IsArray(r));
    ASSERT_EQ(cJSON_GetArraySize(r), 3);
    ASSERT_EQ(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(r, 0), "id")->valuedouble, 1);
    ASSERT_EQ(err_code(cJSON_GetArrayItem(r, 1)), -32600);
    ASSERT_EQ(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(r, 2), "id")->valuedouble, 3);
    ASSERT_EQ(err_code(cJSON_GetArrayItem(r, 2)), -32601);
    cJSON_Delete(r);
}

TEST(rpc_only_notifications_get_no_response)
{
    answer a;
    cJSON *r = rpc("[{\"jsonrpc\":\"2.0\",\"method\":\"x\"},{\"jsonrpc\":\"2.0\",\"method\":\"y\"}]", &a);
    ASSERT(r == NULL);
    r = rpc("{\"jsonrpc\":\"2.0\",\"method\":\"chain_info\"}", &a);
    ASSERT(r == NULL);
}

TEST(rpc_batch_over_the_limit_is_refused)
{
    char *body = malloc(64 * (LN_RPC_MAX_BATCH + 1) + 2);
    strcpy(body, "[");
    for (int i = 0; i <= LN_RPC_MAX_BATCH; i++)
        strcat(body, i ? ",{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":1}"
                       : "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":1}");
    strcat(body, "]");
    answer a;
    cJSON *r = rpc(body, &a);
    ASSERT_EQ(err_code(r), -32600);
    cJSON_Delete(r);
    free(body);
}

static const ln_test tests[] = {
    T(rpc_base64_decodes_the_rfc4648_vectors),
    T(rpc_base64_refuses_anything_not_strict),
    T(rpc_base64_refuses_bytes_outside_the_alphabet),
    T(rpc_json_to_msgpack_gives_canonical_bytes),
    T(rpc_json_to_msgpack_refuses_floats_unsafe_integers_and_duplicate_keys),
    T(rpc_msgpack_to_json_renders_bin_as_hex_and_integers_exactly),
    T(rpc_msgpack_to_json_renders_a_str_holding_a_nul_as_hex_and_any_key_as_text),
    T(rpc_lunet_errors_map_to_32000_plus_the_code_with_name_and_why),
    T(rpc_malformed_json_gets_a_parse_error),
    T(rpc_invalid_requests_get_32600),
    T(rpc_nul_in_a_method_or_id_is_refused_not_cut),
    T(rpc_invalid_utf8_in_a_request_gets_a_valid_json_answer),
    T(rpc_error_messages_that_quote_bytes_stay_utf8),
    T(rpc_unknown_method_gets_32601_with_the_id),
    T(rpc_batch_answers_each_call_in_order_and_skips_notifications),
    T(rpc_only_notifications_get_no_response),
    T(rpc_batch_over_the_limit_is_refused),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
