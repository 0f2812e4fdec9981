/* test_cli.c -- the CLI client: arguments, transaction bytes, URLs, HTTP
** responses, key files and usage errors; the commands against a real node
** are tested in tests/net/cli_spec.lua. */
#include "test.h"
#include "cli.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "httpc.h"
#include "json.h"
#include "tx.h"

#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

/* ---- helpers ----------------------------------------------------------- */

static void init(void) { ASSERT_EQ(ln_crypto_init(), 0); }

/* Hex of p[0..n) in a static buffer (one at a time). */
static const char *hexof(const uint8_t *p, size_t n)
{
    static char buf[4096];
    ASSERT(2 * n < sizeof buf);
    ln_hex(p, n, buf);
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

static char *mktmp(char *buf, size_t len)
{
    snprintf(buf, len, "/tmp/ln_cli_XXXXXX");
    ASSERT(mkdtemp(buf) != NULL);
    return buf;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb; (void)flag; (void)f;
    return remove(p);
}

static void rm_rf(const char *dir) { ASSERT_EQ(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0); }

/* Runs `lunet ARGS...` (NULL-terminated) in-process; stdout and stderr land
** in out and err (NUL-terminated). Returns the exit code. */
static char out[65536], errs[8192];
static int run(const char *first, ...)
{
    char *argv[64];
    int argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        ASSERT(argc < 63);
        argv[argc++] = (char *)a;
    }
    va_end(ap);
    argv[argc] = NULL;
    FILE *o = tmpfile(), *e = tmpfile();
    ASSERT(o && e);
    int rc = ln_cli_run(argc, argv, o, e);
    fflush(o);
    fflush(e);
    rewind(o);
    rewind(e);
    size_t n = fread(out, 1, sizeof out - 1, o);
    out[n] = 0;
    n = fread(errs, 1, sizeof errs - 1, e);
    errs[n] = 0;
    fclose(o);
    fclose(e);
    return rc;
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

TEST(args_list_names_the_failing_argument)
{
    char *texts[] = { "bob", "10", "1.5" }, err[256];
    cJSON *arr = NULL;
    ASSERT_EQ(ln_cli_args(3, texts, 1, &arr, err, sizeof err), LN_EFLOAT);
    ASSERT(arr == NULL);
    ASSERT_HAS(err, "argument 3: 1.5");
    ASSERT_EQ(ln_cli_args(2, texts, 1, &arr, err, sizeof err), 0);
    ASSERT_EQ(cJSON_GetArraySize(arr), 2);
    cJSON_Delete(arr);
}

/* ---- the unsigned transaction ------------------------------------------ */

/* alice -> token.transfer("bob", 10) on chain "dev", nonce 7, expires 141,
** max_fee 10000000, written out by hand from DESIGN's wire format. */
static const char want_utx[] =
    "86"
    "a7" "6163636f756e74"       "a5" "616c696365"                 /* account: alice */
    "a7" "616374696f6e73"       "91" "83"                         /* actions: [{ */
        "a4" "61726773"         "92" "a3626f62" "0a"              /*   args: [bob, 10] */
        "a8" "636f6e7472616374" "a5" "746f6b656e"                 /*   contract: token */
        "a6" "6d6574686f64"     "a8" "7472616e73666572"           /*   method: transfer }] */
    "a8" "636861696e5f6964"     "a3" "646576"                     /* chain_id: dev */
    "a7" "65787069726573"       "cc8d"                            /* expires: 141 */
    "a7" "6d61785f666565"       "ce00989680"                      /* max_fee: 10000000 */
    "a5" "6e6f6e6365"           "07";                             /* nonce: 7 */

static uint8_t *build_transfer(size_t *n)
{
    char *texts[] = { "bob", "10" }, err[256];
    cJSON *args;
    uint8_t *utx = NULL;
    ASSERT_EQ(ln_cli_args(2, texts, 1, &args, err, sizeof err), 0);
    ln_cli_tx t = { "alice", "dev", 7, 141, 10000000, "token", "transfer", args };
    int rc = ln_cli_tx_unsigned(&t, &utx, n, err, sizeof err);
    if (rc < 0) LN_FAIL("ln_cli_tx_unsigned: %s", err);
    cJSON_Delete(args);
    return utx;
}

TEST(tx_unsigned_bytes_match_the_hand_encoding)
{
    size_t n;
    uint8_t *utx = build_transfer(&n);
    ASSERT_STR(hexof(utx, n), want_utx);
    free(utx);
}

TEST(tx_unsigned_signs_into_a_transaction_the_node_decoder_accepts)
{
    size_t n, sn;
    uint8_t *utx = build_transfer(&n), *stx, seed[LN_SEED_LEN], pk[LN_PK_LEN], sk[LN_SK_LEN];
    uint8_t id[LN_HASH_LEN];
    init();
    memset(seed, 7, sizeof seed);
    ln_keypair_seed(seed, pk, sk);
    ASSERT_EQ(ln_tx_sign(utx, n, (const uint8_t (*)[LN_SK_LEN])&sk, 1, &stx, &sn), 0);
    ln_tx tx;
    ASSERT_EQ(ln_tx_decode(&tx, stx, sn), 0);
    ASSERT_EQ(ln_tx_verify(&tx), 0);
    ln_hash(utx, n, id);
    ASSERT_MEM(tx.id, id, LN_HASH_LEN);
    ASSERT_STR(tx.account, "alice");
    ASSERT_STR(tx.chain_id, "dev");
    ASSERT_EQ(tx.nonce, 7);
    ASSERT_EQ(tx.expires, 141);
    ASSERT_EQ(tx.max_fee, 10000000);
    ASSERT_MEM(tx.keys[0], pk, LN_PK_LEN);
    ln_tx_free(&tx);
    free(stx);
    free(utx);
}

TEST(tx_unsigned_refuses_bad_names_and_methods)
{
    char err[256];
    uint8_t *utx = NULL;
    size_t n;
    cJSON *args = cJSON_CreateArray();
    ln_cli_tx t = { "Alice", "dev", 0, 1, 1, "token", "m", args };
    ASSERT_EQ(ln_cli_tx_unsigned(&t, &utx, &n, err, sizeof err), LN_EBADNAME);
    t.account = "alice";
    t.contract = "to ken";
    ASSERT_EQ(ln_cli_tx_unsigned(&t, &utx, &n, err, sizeof err), LN_EBADNAME);
    t.contract = "token";
    t.method = "";
    ASSERT_EQ(ln_cli_tx_unsigned(&t, &utx, &n, err, sizeof err), LN_EINVAL);
    t.method = "m";
    t.chain_id = "";
    ASSERT_EQ(ln_cli_tx_unsigned(&t, &utx, &n, err, sizeof err), LN_EINVAL);
    ASSERT(utx == NULL);
    cJSON_Delete(args);
}

/* ---- URLs -------------------------------------------------------------- */

TEST(url_parse_reads_host_port_and_path)
{
    ln_httpc_url u;
    char err[256];
    ASSERT_EQ(ln_httpc_url_parse("http://127.0.0.1:8765", &u, err, sizeof err), 0);
    ASSERT_STR(u.host, "127.0.0.1");
    ASSERT_EQ(u.port, 8765);
    ASSERT_STR(u.path, "/");
    ASSERT_EQ(ln_httpc_url_parse("http://node.example/rpc/v1?x=1#frag", &u, err, sizeof err), 0);
    ASSERT_STR(u.host, "node.example");
    ASSERT_EQ(u.port, 80);
    ASSERT_STR(u.path, "/rpc/v1?x=1");
    ASSERT_EQ(ln_httpc_url_parse("HTTP://[::1]:9000/", &u, err, sizeof err), 0);
    ASSERT_STR(u.host, "::1");
    ASSERT_EQ(u.port, 9000);
    ASSERT_EQ(ln_httpc_url_parse("localhost:8765", &u, err, sizeof err), 0);   /* no scheme */
    ASSERT_STR(u.host, "localhost");
    ASSERT_EQ(u.port, 8765);
}

TEST(url_parse_refuses_other_schemes_and_bad_ports)
{
    ln_httpc_url u;
    char err[256];
    ASSERT_EQ(ln_httpc_url_parse("https://x:1/", &u, err, sizeof err), LN_EINVAL);
    ASSERT_HAS(err, "only http:// is supported");
    ASSERT_EQ(ln_httpc_url_parse("http://u:p@x:1/", &u, err, sizeof err), LN_EINVAL);
    ASSERT_EQ(ln_httpc_url_parse("http://x:0/", &u, err, sizeof err), LN_EINVAL);
    ASSERT_EQ(ln_httpc_url_parse("http://x:65536/", &u, err, sizeof err), LN_EINVAL);
    ASSERT_EQ(ln_httpc_url_parse("http://x:port/", &u, err, sizeof err), LN_EINVAL);
    ASSERT_EQ(ln_httpc_url_parse("http://", &u, err, sizeof err), LN_EINVAL);
    ASSERT_EQ(ln_httpc_url_parse("", &u, err, sizeof err), LN_EINVAL);
}

/* ---- HTTP responses ---------------------------------------------------- */

static int parse(const char *raw, ln_httpc_response *r, char *err, size_t errlen)
{
    return ln_httpc_parse(raw, strlen(raw), r, err, errlen);
}

TEST(response_with_chunked_body_is_decoded)
{
    ln_httpc_response r;
    char err[256];
    const char *raw =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
        "7\r\n{\"a\": 1\r\n"
        "a;ext=1\r\n, \"b\": [2,\r\n"
        "2\r\n3]\r\n"
        "1\r\n}\r\n"
        "0\r\nX-Trailer: yes\r\n\r\n";
    ASSERT_EQ(parse(raw, &r, err, sizeof err), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR(r.body, "{\"a\": 1, \"b\": [2,3]}");
    ASSERT_EQ(r.body_len, strlen(r.body));
    ln_httpc_response_free(&r);
}

TEST(response_with_content_length_or_close_delimited_body)
{
    ln_httpc_response r;
    char err[256];
    ASSERT_EQ(parse("HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nhelloEXTRA", &r, err,
                    sizeof err), 0);
    ASSERT_EQ(r.status, 404);
    ASSERT_STR(r.body, "hello");
    ln_httpc_response_free(&r);
    ASSERT_EQ(parse("HTTP/1.0 200 OK\r\n\r\nuntil close", &r, err, sizeof err), 0);
    ASSERT_STR(r.body, "until close");
    ln_httpc_response_free(&r);
    ASSERT_EQ(parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", &r, err,
                    sizeof err), 0);
    ASSERT_EQ(r.status, 204);
    ASSERT_EQ(r.body_len, 0);
    ln_httpc_response_free(&r);
}

TEST(response_cut_short_or_malformed_is_refused)
{
    ln_httpc_response r;
    char err[256];
    ASSERT_EQ(parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", &r, err, sizeof err),
              LN_EINVAL);
    ASSERT_HAS(err, "ended before it was complete");
    ASSERT_EQ(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", &r, err,
                    sizeof err), LN_EINVAL);
    ASSERT_EQ(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", &r, err,
                    sizeof err), LN_EINVAL);
    ASSERT_HAS(err, "malformed HTTP response");
    ASSERT_EQ(parse("SSH-2.0-OpenSSH\r\n", &r, err, sizeof err), LN_EINVAL);
    ASSERT_EQ(parse("", &r, err, sizeof err), LN_EINVAL);
}

/* ---- keys -------------------------------------------------------------- */

TEST(keys_new_writes_a_0600_key_file_that_show_and_list_read_back)
{
    char home[64], path[128], pk[65];
    struct stat sb;
    ln_key k;
    init();
    mktmp(home, sizeof home);
    char sub[96];
    snprintf(sub, sizeof sub, "%s/nested/home", home);   /* created on demand */
    ASSERT_EQ(run("keys", "new", "alice", "--home", sub, NULL), 0);
    ASSERT_EQ(strlen(out), 65);
    snprintf(pk, sizeof pk, "%.64s", out);

    snprintf(path, sizeof path, "%s/keys/alice.key", sub);
    ASSERT_EQ(stat(path, &sb), 0);
    ASSERT_EQ(sb.st_mode & 0777, 0600);
    ASSERT_EQ(ln_keyfile_read(path, &k, NULL, 0), 0);
    ASSERT_STR(k.account, "alice");
    ASSERT_STR(hexof(k.pk, LN_PK_LEN), pk);

    ASSERT_EQ(run("keys", "show", "--home", sub, "alice", NULL), 0);   /* flags anywhere */
    ASSERT_EQ(strncmp(out, pk, 64), 0);
    ASSERT(!strstr(out, hexof(k.sk, LN_SK_LEN)));
    ASSERT_EQ(run("keys", "new", "bob", "--home", sub, NULL), 0);
    ASSERT_EQ(run("keys", "list", "--home", sub, NULL), 0);
    ASSERT_EQ(strncmp(out, "alice  ", 7), 0);
    ASSERT_HAS(out, pk);
    ASSERT_HAS(out, "\nbob    ");
    ASSERT_EQ(run("keys", "show", "alice", "--json", "--home", sub, NULL), 0);
    ASSERT_HAS(out, "\"public_key\":\"");
    ASSERT(!strstr(out, "secret"));
    rm_rf(home);
}

TEST(keys_new_refuses_to_overwrite_and_bad_names)
{
    char home[64], before[65];
    init();
    mktmp(home, sizeof home);
    ASSERT_EQ(run("keys", "new", "alice", "--home", home, NULL), 0);
    snprintf(before, sizeof before, "%.64s", out);
    ASSERT_EQ(run("keys", "new", "alice", "--home", home, NULL), 1);
    ASSERT_HAS(errs, "already exists");
    ASSERT_EQ(run("keys", "show", "alice", "--home", home, NULL), 0);
    ASSERT_EQ(strncmp(out, before, 64), 0);
    ASSERT_EQ(run("keys", "new", "Alice", "--home", home, NULL), 2);
    ASSERT_EQ(run("keys", "show", "carol", "--home", home, NULL), 1);
    ASSERT_HAS(errs, "no key file");
    ASSERT_EQ(run("keys", "frob", "--home", home, NULL), 2);
    ASSERT_EQ(run("keys", NULL), 2);
    rm_rf(home);
}

/* ---- usage ------------------------------------------------------------- */

TEST(usage_errors_exit_2_with_one_line)
{
    ASSERT_EQ(run("send", "token", NULL), 2);
    ASSERT_EQ(run("send", "token", "transfer", "bob", "1.5", "--as", "alice", NULL), 2);
    ASSERT_HAS(errs, "floats are not allowed");
    ASSERT_EQ(strchr(errs, '\n'), errs + strlen(errs) - 1);
    ASSERT_EQ(run("send", "token", "transfer", NULL), 2);         /* no --as */
    ASSERT_HAS(errs, "--as ACCOUNT is required");
    ASSERT_EQ(run("info", "--bogus", NULL), 2);
    ASSERT_EQ(run("info", "--rpc", NULL), 2);
    ASSERT_EQ(run("query", "token", "m", "--no-wait", NULL), 2);  /* send-only option */
    ASSERT_EQ(run("send", "t", "m", "--max-fee", "-1", "--as", "alice", NULL), 2);
    ASSERT_EQ(run("tx", "abc", NULL), 2);
    ASSERT_EQ(run("block", "x", NULL), 2);
    ASSERT_EQ(run("info", "--rpc", "https://h", NULL), 2);
    ASSERT_EQ(run("send", "--help", NULL), 0);
    ASSERT_HAS(out, "usage: lunet send");
}

TEST(unreachable_node_is_a_one_line_failure)
{
    /* a port nobody listens on: bind one, close it */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    ASSERT_EQ(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ASSERT_EQ(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", ntohs(a.sin_port));
    ASSERT_EQ(run("info", "--rpc", url, NULL), 1);
    ASSERT_HAS(errs, "lunet info: chain_info: cannot connect to 127.0.0.1:");
    ASSERT_EQ(strchr(errs, '\n'), errs + strlen(errs) - 1);
}

/* ---- the client against a silent peer ---------------------------------- */
/* The commands against a real node are in tests/net/cli_spec.lua. */

TEST(httpc_times_out_on_a_silent_server)
{
    /* A listening socket that never accepts: the kernel completes the
    ** handshake, nobody ever answers. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ASSERT_EQ(listen(fd, 4), 0);
    socklen_t al = sizeof a;
    ASSERT_EQ(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    char url[64], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/", ntohs(a.sin_port));
    ln_httpc_url u;
    ln_httpc_response r;
    ASSERT_EQ(ln_httpc_url_parse(url, &u, err, sizeof err), 0);
    ASSERT_EQ(ln_httpc_post_json(&u, "{}", 300, &r, err, sizeof err), LN_EIO);
    ASSERT_HAS(err, "timed out after 300 ms");
    close(fd);
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
    T(args_list_names_the_failing_argument),
    T(tx_unsigned_bytes_match_the_hand_encoding),
    T(tx_unsigned_signs_into_a_transaction_the_node_decoder_accepts),
    T(tx_unsigned_refuses_bad_names_and_methods),
    T(url_parse_reads_host_port_and_path),
    T(url_parse_refuses_other_schemes_and_bad_ports),
    T(response_with_chunked_body_is_decoded),
    T(response_with_content_length_or_close_delimited_body),
    T(response_cut_short_or_malformed_is_refused),
    T(keys_new_writes_a_0600_key_file_that_show_and_list_read_back),
    T(keys_new_refuses_to_overwrite_and_bad_names),
    T(usage_errors_exit_2_with_one_line),
    T(unreachable_node_is_a_one_line_failure),
    T(httpc_times_out_on_a_silent_server),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
