/* test_cli.c -- the CLI client: arguments, transaction bytes, URLs, HTTP
** responses, key files, and the commands against a fake JSON-RPC node. */
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

/* ---- a fake node ------------------------------------------------------- */

typedef struct {
    int lfd, port, stop;
    pthread_t th;
    int chunked;            /* answer with Transfer-Encoding: chunked */
    int silent;             /* accept, read, never answer */
    int fail_receipt;       /* receipts say ok = false */
    int reject_submit;      /* tx_submit answers a JSON-RPC error */
    int polls;              /* tx_get calls so far */
    char last_hash[65];
    char why[256];          /* what the fake node disliked, if anything */
    char query_args[256];
} fake;

static fake node;

static cJSON *rpc_error(const char *msg, const char *name, const char *why)
{
    cJSON *e = cJSON_CreateObject(), *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "code", -32000);
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddStringToObject(d, "name", name);
    cJSON_AddStringToObject(d, "why", why);
    cJSON_AddItemToObject(e, "data", d);
    return e;
}

static cJSON *handle(const char *method, const cJSON *params, cJSON **error)
{
    cJSON *r = cJSON_CreateObject();
    if (!strcmp(method, "chain_info")) {
        cJSON_AddStringToObject(r, "chain_id", "dev");
        cJSON_AddNumberToObject(r, "height", 41);
        cJSON_AddStringToObject(r, "head", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
        cJSON_AddStringToObject(r, "consensus", "poa");
    } else if (!strcmp(method, "account_get")) {
        const cJSON *a = cJSON_GetObjectItem(params, "account");
        cJSON_AddStringToObject(r, "account", cJSON_IsString(a) ? a->valuestring : "?");
        cJSON_AddNumberToObject(r, "nonce", 7);
        cJSON_AddNumberToObject(r, "balance", 1000);
        cJSON_AddItemToObject(r, "permissions", cJSON_CreateObject());
    } else if (!strcmp(method, "tx_submit")) {
        const cJSON *b = cJSON_GetObjectItem(params, "tx");
        uint8_t bin[4096];
        size_t n = 0;
        ln_tx tx;
        if (node.reject_submit) {
            *error = rpc_error(node.reject_submit == 1 ? "wrong nonce"
                               : "wrong nonce: expected 8, got 7", "ENONCE", "expected 8, got 7");
        } else if (!cJSON_IsString(b) ||
            sodium_base642bin(bin, sizeof bin, b->valuestring, strlen(b->valuestring), NULL,
                              &n, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
            snprintf(node.why, sizeof node.why, "tx is not base64");
        } else if (ln_tx_decode(&tx, bin, n) < 0 || ln_tx_verify(&tx) < 0) {
            snprintf(node.why, sizeof node.why, "tx does not decode or verify: %s", tx.why);
            ln_tx_free(&tx);
        } else {
            if (strcmp(tx.account, "alice") || strcmp(tx.chain_id, "dev") || tx.nonce != 7 ||
                tx.expires != 141)
                snprintf(node.why, sizeof node.why, "wrong fields %s %s %llu %llu", tx.account,
                         tx.chain_id, (unsigned long long)tx.nonce,
                         (unsigned long long)tx.expires);
            ln_hex(tx.id, LN_HASH_LEN, node.last_hash);
            cJSON_AddStringToObject(r, "hash", node.last_hash);
            ln_tx_free(&tx);
        }
        if (node.why[0] && !*error)
            *error = rpc_error("bad transaction", "EBADTX", node.why);
    } else if (!strcmp(method, "tx_get")) {
        const cJSON *h = cJSON_GetObjectItem(params, "hash");
        if (!cJSON_IsString(h) || strcmp(h->valuestring, node.last_hash)) {
            cJSON_AddStringToObject(r, "status", "unknown");
        } else if (node.polls++ == 0) {
            cJSON_AddStringToObject(r, "status", "pending");
        } else {
            cJSON *rc = cJSON_CreateObject(), *ev = cJSON_CreateArray(),
                  *e = cJSON_CreateObject(), *d = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "status", "committed");
            cJSON_AddNumberToObject(r, "height", 42);
            cJSON_AddBoolToObject(rc, "ok", !node.fail_receipt);
            if (node.fail_receipt) {
                cJSON_AddNullToObject(rc, "result");
                cJSON_AddStringToObject(rc, "error", "insufficient balance: has 3, needs 10");
            } else {
                cJSON_AddNumberToObject(rc, "result", 10);
                cJSON_AddNullToObject(rc, "error");
            }
            cJSON_AddNumberToObject(rc, "gas_used", 523);
            cJSON_AddNumberToObject(rc, "fee", 600);
            cJSON_AddStringToObject(rc, "payer", "alice");
            cJSON_AddStringToObject(e, "contract", "token");
            cJSON_AddStringToObject(e, "name", "transfer");
            cJSON_AddNumberToObject(d, "amount", 10);
            cJSON_AddItemToObject(e, "data", d);
            cJSON_AddItemToArray(ev, e);
            cJSON_AddItemToObject(rc, "events", ev);
            cJSON_AddItemToObject(r, "receipt", rc);
        }
    } else if (!strcmp(method, "contract_query")) {
        char *s = cJSON_PrintUnformatted(cJSON_GetObjectItem(params, "args"));
        snprintf(node.query_args, sizeof node.query_args, "%s", s ? s : "");
        free(s);
        cJSON_AddStringToObject(r, "result", "LUN");
        cJSON_AddNumberToObject(r, "gas_used", 99);
    } else if (!strcmp(method, "block_get")) {
        cJSON *hd = cJSON_CreateObject();
        const cJSON *h = cJSON_GetObjectItem(params, "height");
        cJSON_AddStringToObject(r, "hash", "ab");
        cJSON_AddNumberToObject(hd, "height", cJSON_IsNumber(h) ? h->valuedouble : -1);
        cJSON_AddStringToObject(hd, "proposer", "val0");
        cJSON_AddItemToObject(r, "header", hd);
        cJSON_AddItemToObject(r, "txs", cJSON_CreateArray());
        cJSON_AddItemToObject(r, "cert", cJSON_CreateObject());
    } else {
        cJSON_Delete(r);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "code", -32601);
        cJSON_AddStringToObject(e, "message", "Method not found");
        *error = e;
        return NULL;
    }
    if (*error) {
        cJSON_Delete(r);
        return NULL;
    }
    return r;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

static void serve_one(int fd)
{
    char req[65536];
    size_t n = 0;
    char *body = NULL;
    size_t clen = 0;
    while (n < sizeof req - 1) {
        ssize_t r = read(fd, req + n, sizeof req - 1 - n);
        if (r <= 0) return;
        n += (size_t)r;
        req[n] = 0;
        char *end = strstr(req, "\r\n\r\n");
        if (!end) continue;
        char *cl = strcasestr(req, "Content-Length:");
        clen = cl ? strtoul(cl + 15, NULL, 10) : 0;
        body = end + 4;
        if ((size_t)(req + n - body) >= clen) break;
    }
    if (!body || node.silent) {
        while (!node.stop) usleep(10000);
        return;
    }
    cJSON *in = cJSON_ParseWithLength(body, clen), *error = NULL;
    const cJSON *m = cJSON_GetObjectItem(in, "method");
    ASSERT(strncmp(req, "POST / HTTP/1.1\r\n", 17) == 0);
    ASSERT(cJSON_IsString(m));
    ASSERT_STR(cJSON_GetObjectItem(in, "jsonrpc")->valuestring, "2.0");
    cJSON *result = handle(m->valuestring, cJSON_GetObjectItem(in, "params"), &error);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "jsonrpc", "2.0");
    cJSON_AddItemToObject(o, "id", cJSON_Duplicate(cJSON_GetObjectItem(in, "id"), 1));
    if (error) cJSON_AddItemToObject(o, "error", error);
    else cJSON_AddItemToObject(o, "result", result);
    char *text = cJSON_PrintUnformatted(o), head[256];
    size_t tl = strlen(text);
    if (node.chunked) {
        /* two chunks, split mid-text */
        snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                 "Content-Type: application/json\r\n\r\n%zx\r\n", tl / 2);
        write_all(fd, head, strlen(head));
        write_all(fd, text, tl / 2);
        snprintf(head, sizeof head, "\r\n%zx\r\n", tl - tl / 2);
        write_all(fd, head, strlen(head));
        write_all(fd, text + tl / 2, tl - tl / 2);
        write_all(fd, "\r\n0\r\n\r\n", 7);
    } else {
        snprintf(head, sizeof head, "HTTP/1.1 %d OK\r\nContent-Length: %zu\r\n"
                 "Content-Type: application/json\r\n\r\n", error ? 400 : 200, tl);
        write_all(fd, head, strlen(head));
        write_all(fd, text, tl);
    }
    free(text);
    cJSON_Delete(o);
    cJSON_Delete(in);
}

static void *serve(void *arg)
{
    (void)arg;
    while (!node.stop) {
        struct pollfd p = { .fd = node.lfd, .events = POLLIN };
        if (poll(&p, 1, 50) <= 0) continue;
        int fd = accept(node.lfd, NULL, NULL);
        if (fd < 0) continue;
        serve_one(fd);
        close(fd);
    }
    return NULL;
}

static void node_start(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    memset(&node, 0, sizeof node);      /* a fresh node per test, also in one process */
    node.lfd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(node.lfd >= 0);
    ASSERT_EQ(bind(node.lfd, (struct sockaddr *)&a, sizeof a), 0);
    ASSERT_EQ(listen(node.lfd, 16), 0);
    ASSERT_EQ(getsockname(node.lfd, (struct sockaddr *)&a, &al), 0);
    node.port = ntohs(a.sin_port);
    ASSERT_EQ(pthread_create(&node.th, NULL, serve, NULL), 0);
}

static void node_stop(void)
{
    node.stop = 1;
    ASSERT_EQ(pthread_join(node.th, NULL), 0);
    close(node.lfd);
}

static char rpc_url[64], home[64];

/* A fake node and a home with alice's key. */
static void setup(void)
{
    init();
    node_start();
    snprintf(rpc_url, sizeof rpc_url, "http://127.0.0.1:%d", node.port);
    mktmp(home, sizeof home);
    ASSERT_EQ(run("keys", "new", "alice", "--home", home, NULL), 0);
}

static void teardown(void)
{
    node_stop();
    rm_rf(home);
}

TEST(send_signs_submits_waits_and_prints_the_receipt)
{
    setup();
    int rc = run("send", "token", "transfer", "bob", "10", "--as", "alice",
                 "--home", home, "--rpc", rpc_url, NULL);
    if (rc != 0) LN_FAIL("exit %d: %s (node: %s)", rc, errs, node.why);
    ASSERT_STR(node.why, "");
    ASSERT_EQ(node.polls, 2);                   /* pending, then committed */
    ASSERT_HAS(out, node.last_hash);
    ASSERT_HAS(out, "status    committed\n");
    ASSERT_HAS(out, "ok        true\n");
    ASSERT_HAS(out, "result    10\n");
    ASSERT_HAS(out, "gas_used  523\n");
    ASSERT_HAS(out, "event     token transfer {\"amount\":10}\n");
    ASSERT(!strstr(out, "error"));
    ASSERT_STR(errs, "");
    teardown();
}

TEST(send_over_a_chunked_reply_prints_json)
{
    setup();
    node.chunked = 1;
    ASSERT_EQ(run("send", "--json", "token", "transfer", "--as", "alice", "bob", "10",
                  "--home", home, "--rpc", rpc_url, NULL), 0);
    cJSON *o = cJSON_Parse(out);
    ASSERT(o != NULL);
    ASSERT_STR(cJSON_GetObjectItem(o, "hash")->valuestring, node.last_hash);
    ASSERT(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "receipt"), "ok")));
    cJSON_Delete(o);
    teardown();
}

TEST(send_exits_1_when_the_receipt_is_not_ok)
{
    setup();
    node.fail_receipt = 1;
    ASSERT_EQ(run("send", "token", "transfer", "bob", "10", "--as", "alice",
                  "--home", home, "--rpc", rpc_url, NULL), 1);
    ASSERT_HAS(out, "ok        false\n");
    ASSERT_HAS(out, "error     insufficient balance: has 3, needs 10\n");
    ASSERT_HAS(errs, "failed: insufficient balance: has 3, needs 10\n");
    teardown();
}

TEST(send_no_wait_prints_the_hash_only)
{
    setup();
    ASSERT_EQ(run("send", "token", "transfer", "bob", "10", "--as", "alice", "--no-wait",
                  "--home", home, "--rpc", rpc_url, NULL), 0);
    ASSERT_EQ(node.polls, 0);
    ASSERT_EQ(strlen(out), 65);
    ASSERT_EQ(strncmp(out, node.last_hash, 64), 0);
    teardown();
}

TEST(send_reports_the_nodes_error_object_in_one_line)
{
    setup();
    node.reject_submit = 1;
    ASSERT_EQ(run("send", "token", "transfer", "bob", "10", "--as", "alice",
                  "--home", home, "--rpc", rpc_url, NULL), 1);
    ASSERT_STR(errs, "lunet send: tx_submit: wrong nonce [ENONCE]: expected 8, got 7\n");
    node.reject_submit = 2;     /* the message already says why: said once */
    ASSERT_EQ(run("send", "token", "transfer", "bob", "10", "--as", "alice",
                  "--home", home, "--rpc", rpc_url, NULL), 1);
    ASSERT_STR(errs, "lunet send: tx_submit: wrong nonce: expected 8, got 7 [ENONCE]\n");
    teardown();
}

TEST(send_without_a_key_file_fails_before_any_request)
{
    setup();
    ASSERT_EQ(run("send", "token", "transfer", "--as", "bob", "--home", home,
                  "--rpc", rpc_url, NULL), 1);
    ASSERT_HAS(errs, "no key file");
    ASSERT_HAS(errs, "/keys/bob.key");
    teardown();
}

TEST(deploy_sends_sys_deploy_with_name_source_and_args)
{
    char file[128];
    setup();
    snprintf(file, sizeof file, "%s/c.lua", home);
    FILE *f = fopen(file, "w");
    ASSERT(f != NULL);
    fputs("return { init = function() end }\n", f);
    fclose(f);
    ASSERT_EQ(run("deploy", "token", file, "LUN", "1000", "--as", "alice",
                  "--home", home, "--rpc", rpc_url, NULL), 0);
    ASSERT_STR(node.why, "");
    ASSERT_HAS(out, "ok        true\n");
    ASSERT_EQ(run("deploy", "token", "/nonexistent/x.lua", "--as", "alice",
                  "--home", home, "--rpc", rpc_url, NULL), 1);
    ASSERT_HAS(errs, "cannot read /nonexistent/x.lua");
    teardown();
}

TEST(query_prints_the_bare_result_and_sends_json_args)
{
    setup();
    ASSERT_EQ(run("query", "token", "balance_of", "bob", "[1,{\"b\":2}]", "null",
                  "--rpc", rpc_url, NULL), 0);
    ASSERT_STR(out, "LUN\n");
    ASSERT_STR(node.query_args, "[\"bob\",[1,{\"b\":2}],null]");
    ASSERT_EQ(run("query", "token", "balance_of", "bob", "--json", "--rpc", rpc_url, NULL), 0);
    ASSERT_STR(out, "{\"result\":\"LUN\",\"gas_used\":99}\n");
    teardown();
}

TEST(info_block_and_tx_print_what_the_node_says)
{
    setup();
    ASSERT_EQ(run("info", "--rpc", rpc_url, NULL), 0);
    ASSERT_HAS(out, "chain_id   dev\nheight     41\nhead       0011");
    ASSERT_HAS(out, "consensus  poa\n");
    ASSERT_EQ(run("block", "--rpc", rpc_url, NULL), 0);        /* head: chain_info's 41 */
    ASSERT_HAS(out, "height    41\n");
    ASSERT_HAS(out, "proposer  val0\n");
    ASSERT_EQ(run("block", "7", "--json", "--rpc", rpc_url, NULL), 0);
    ASSERT_HAS(out, "\"height\":7");
    ASSERT_EQ(run("tx", "00000000000000000000000000000000000000000000000000000000000000AA",
                  "--rpc", rpc_url, NULL), 1);
    ASSERT_HAS(errs, "does not know transaction 0000");
    ASSERT_HAS(errs, "00aa\n");                                 /* lowercased */
    ASSERT_EQ(run("frob", NULL), 2);
    teardown();
}

TEST(httpc_times_out_on_a_silent_server)
{
    ln_httpc_url u;
    ln_httpc_response r;
    char err[256];
    init();
    node_start();
    node.silent = 1;
    snprintf(rpc_url, sizeof rpc_url, "http://127.0.0.1:%d/", node.port);
    ASSERT_EQ(ln_httpc_url_parse(rpc_url, &u, err, sizeof err), 0);
    ASSERT_EQ(ln_httpc_post_json(&u, "{}", 300, &r, err, sizeof err), LN_EIO);
    ASSERT_HAS(err, "timed out after 300 ms");
    node_stop();
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
    T(send_signs_submits_waits_and_prints_the_receipt),
    T(send_over_a_chunked_reply_prints_json),
    T(send_exits_1_when_the_receipt_is_not_ok),
    T(send_no_wait_prints_the_hash_only),
    T(send_reports_the_nodes_error_object_in_one_line),
    T(send_without_a_key_file_fails_before_any_request),
    T(deploy_sends_sys_deploy_with_name_source_and_args),
    T(query_prints_the_bare_result_and_sends_json_args),
    T(info_block_and_tx_print_what_the_node_says),
    T(httpc_times_out_on_a_silent_server),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
