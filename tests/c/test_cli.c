/* test_cli.c -- the CLI client: the argument list, transaction bytes, key
** files and usage errors. Each argument's JSON is json.c's (test_json.c),
** URLs and responses httpc.c's (test_httpc.c); the commands against a real
** node are tested in tests/net/cli_spec.lua. */
#include "test.h"
#include "cli.h"
#include "crypto.h"
#include "err.h"
#include "json.h"
#include "tx.h"

#include <netinet/in.h>
#include <stdarg.h>
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

static char *mktmp(char *buf, size_t len) { return ln_test_tmpdir(buf, len, "cli"); }

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

/* ---- arguments ------------------------------------------------------- */

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
    ln_test_rmtree(home);
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
    ln_test_rmtree(home);
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

static const ln_test tests[] = {
    T(args_list_names_the_failing_argument),
    T(tx_unsigned_bytes_match_the_hand_encoding),
    T(tx_unsigned_signs_into_a_transaction_the_node_decoder_accepts),
    T(tx_unsigned_refuses_bad_names_and_methods),
    T(keys_new_writes_a_0600_key_file_that_show_and_list_read_back),
    T(keys_new_refuses_to_overwrite_and_bad_names),
    T(usage_errors_exit_2_with_one_line),
    T(unreachable_node_is_a_one_line_failure),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
