/* test_crypto.c -- hashes, signatures, hex, names and key files. */
#include "test.h"
#include "crypto.h"
#include "err.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ----------------------------------------------------------- */

static void init(void) { ASSERT_EQ(ln_crypto_init(), 0); }

static void unhex_ok(const char *s, uint8_t *out, size_t n)
{
    ASSERT_EQ(ln_unhex(s, out, n), 0);
}

static char *mktmp(char *buf, size_t len) { return ln_test_tmpdir(buf, len, "crypto"); }

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    ASSERT_EQ(fputs(text, f) >= 0, 1);
    ASSERT_EQ(fclose(f), 0);
}

static ln_key make_key(const char *name, uint8_t seedbyte)
{
    ln_key k;
    uint8_t seed[LN_SEED_LEN];
    memset(&k, 0, sizeof k);
    memset(seed, seedbyte, sizeof seed);
    snprintf(k.account, sizeof k.account, "%s", name);
    ln_keypair_seed(seed, k.pk, k.sk);
    return k;
}

/* ---- hashing ----------------------------------------------------------- */

TEST(hash_of_empty_matches_blake2b256_vector)
{
    uint8_t want[LN_HASH_LEN], got[LN_HASH_LEN];
    init();
    unhex_ok("0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8",
             want, sizeof want);
    ln_hash("", 0, got);
    ASSERT_MEM(got, want, LN_HASH_LEN);
    ln_hash(NULL, 0, got);
    ASSERT_MEM(got, want, LN_HASH_LEN);
}

TEST(hash_of_abc_matches_blake2b256_vector)
{
    uint8_t want[LN_HASH_LEN], got[LN_HASH_LEN];
    init();
    unhex_ok("bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319",
             want, sizeof want);
    ln_hash("abc", 3, got);
    ASSERT_MEM(got, want, LN_HASH_LEN);
}

TEST(hash_incremental_equals_one_shot)
{
    const char *msg = "the quick brown fox jumps over the lazy dog";
    uint8_t one[LN_HASH_LEN], inc[LN_HASH_LEN];
    ln_hasher h;
    init();
    ln_hash(msg, strlen(msg), one);
    ln_hash_init(&h);
    ln_hash_update(&h, msg, 4);
    ln_hash_update(&h, NULL, 0);
    ln_hash_update(&h, msg + 4, 10);
    ln_hash_update(&h, msg + 14, strlen(msg) - 14);
    ln_hash_final(&h, inc);
    ASSERT_MEM(inc, one, LN_HASH_LEN);
}

/* ---- signatures -------------------------------------------------------- */

TEST(sign_then_verify_succeeds)
{
    uint8_t pk[LN_PK_LEN], sk[LN_SK_LEN], sig[LN_SIG_LEN];
    const uint8_t m[] = "transfer 10 to bob";
    init();
    ln_keypair(pk, sk);
    ln_sign(sk, m, sizeof m, sig);
    ASSERT_EQ(ln_verify(pk, sig, m, sizeof m), 0);
}

TEST(verify_with_flipped_message_bit_fails_ebadsig)
{
    uint8_t pk[LN_PK_LEN], sk[LN_SK_LEN], sig[LN_SIG_LEN];
    uint8_t m[] = "transfer 10 to bob";
    init();
    ln_keypair(pk, sk);
    ln_sign(sk, m, sizeof m, sig);
    m[3] ^= 0x01;
    ASSERT_EQ(ln_verify(pk, sig, m, sizeof m), LN_EBADSIG);
}

TEST(verify_with_flipped_signature_bit_fails_ebadsig)
{
    uint8_t pk[LN_PK_LEN], sk[LN_SK_LEN], sig[LN_SIG_LEN];
    const uint8_t m[] = "transfer 10 to bob";
    init();
    ln_keypair(pk, sk);
    ln_sign(sk, m, sizeof m, sig);
    sig[10] ^= 0x04;
    ASSERT_EQ(ln_verify(pk, sig, m, sizeof m), LN_EBADSIG);
}

TEST(verify_with_flipped_key_bit_fails_ebadsig)
{
    uint8_t pk[LN_PK_LEN], sk[LN_SK_LEN], sig[LN_SIG_LEN];
    const uint8_t m[] = "transfer 10 to bob";
    init();
    ln_keypair(pk, sk);
    ln_sign(sk, m, sizeof m, sig);
    pk[0] ^= 0x01;
    ASSERT_EQ(ln_verify(pk, sig, m, sizeof m), LN_EBADSIG);
}

TEST(keypair_seed_is_deterministic)
{
    uint8_t seed[LN_SEED_LEN], pk1[LN_PK_LEN], sk1[LN_SK_LEN];
    uint8_t pk2[LN_PK_LEN], sk2[LN_SK_LEN];
    init();
    memset(seed, 7, sizeof seed);
    ln_keypair_seed(seed, pk1, sk1);
    ln_keypair_seed(seed, pk2, sk2);
    ASSERT_MEM(pk1, pk2, LN_PK_LEN);
    ASSERT_MEM(sk1, sk2, LN_SK_LEN);
    ASSERT_MEM(sk1, seed, LN_SEED_LEN);             /* seed||public */
    ASSERT_MEM(sk1 + LN_SEED_LEN, pk1, LN_PK_LEN);
    seed[0] ^= 1;
    ln_keypair_seed(seed, pk2, sk2);
    ASSERT(memcmp(pk1, pk2, LN_PK_LEN) != 0);
}

/* RFC 8032 section 7.1, TEST 1 (empty message). */
TEST(keypair_seed_and_sign_match_rfc8032_vector)
{
    uint8_t seed[LN_SEED_LEN], pk[LN_PK_LEN], sk[LN_SK_LEN];
    uint8_t wantpk[LN_PK_LEN], wantsig[LN_SIG_LEN], sig[LN_SIG_LEN];
    init();
    unhex_ok("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
             seed, sizeof seed);
    unhex_ok("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
             wantpk, sizeof wantpk);
    unhex_ok("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
             wantsig, sizeof wantsig);
    ln_keypair_seed(seed, pk, sk);
    ASSERT_MEM(pk, wantpk, LN_PK_LEN);
    ln_sign(sk, NULL, 0, sig);
    ASSERT_MEM(sig, wantsig, LN_SIG_LEN);
}

/* ---- hex --------------------------------------------------------------- */

TEST(hex_round_trips_as_lowercase)
{
    const uint8_t in[] = { 0x00, 0x01, 0xab, 0xcd, 0xef, 0xff };
    uint8_t out[sizeof in];
    char hex[2 * sizeof in + 1];
    ln_hex(in, sizeof in, hex);
    ASSERT_STR(hex, "0001abcdefff");
    ASSERT_EQ(ln_unhex(hex, out, sizeof out), 0);
    ASSERT_MEM(out, in, sizeof in);
    ln_hex(in, 0, hex);
    ASSERT_STR(hex, "");
}

TEST(unhex_accepts_uppercase)
{
    uint8_t out[3];
    ASSERT_EQ(ln_unhex("ABcDeF", out, 3), 0);
    ASSERT_EQ(out[0], 0xab);
    ASSERT_EQ(out[1], 0xcd);
    ASSERT_EQ(out[2], 0xef);
}

TEST(unhex_refuses_wrong_length_and_non_hex)
{
    uint8_t out[3];
    ASSERT_EQ(ln_unhex("abcd", out, 3), LN_EINVAL);       /* short */
    ASSERT_EQ(ln_unhex("abcdef00", out, 3), LN_EINVAL);   /* long */
    ASSERT_EQ(ln_unhex("abcde", out, 3), LN_EINVAL);      /* odd */
    ASSERT_EQ(ln_unhex("abcdeg", out, 3), LN_EINVAL);     /* not hex */
    ASSERT_EQ(ln_unhex("ab cde", out, 3), LN_EINVAL);     /* space */
    ASSERT_EQ(ln_unhex("", out, 3), LN_EINVAL);
    ASSERT_EQ(ln_unhex("", out, 0), 0);
}

/* ---- names ------------------------------------------------------------- */

static int valid(const char *s) { return ln_name_valid(s, strlen(s)); }

TEST(name_valid_accepts_lowercase_digits_and_dots)
{
    ASSERT_EQ(valid("alice"), 1);
    ASSERT_EQ(valid("a.b1"), 1);
    ASSERT_EQ(valid("abcdefghij12"), 1);    /* 12 chars */
    ASSERT_EQ(valid("a"), 1);
}

TEST(name_valid_refuses_empty_long_and_bad_chars)
{
    ASSERT_EQ(valid(""), 0);
    ASSERT_EQ(valid("abcdefghij123"), 0);   /* 13 chars */
    ASSERT_EQ(valid("Alice"), 0);
    ASSERT_EQ(valid("a-b"), 0);
    ASSERT_EQ(valid("a b"), 0);
    ASSERT_EQ(ln_name_valid("ab\0c", 4), 0);
}

/* ---- key files --------------------------------------------------------- */

TEST(keyfile_written_0600_in_0700_dir_and_read_back_equal)
{
    char home[64], path[128];
    struct stat sb;
    ln_key k = make_key("alice", 1), got;
    init();
    mktmp(home, sizeof home);
    ASSERT_EQ(ln_keyfile_write(home, &k, 0), 0);

    snprintf(path, sizeof path, "%s/keys", home);
    ASSERT_EQ(stat(path, &sb), 0);
    ASSERT_EQ(sb.st_mode & 0777, 0700);
    snprintf(path, sizeof path, "%s/keys/alice.key", home);
    ASSERT_EQ(stat(path, &sb), 0);
    ASSERT_EQ(sb.st_mode & 0777, 0600);

    memset(&got, 0xee, sizeof got);
    ASSERT_EQ(ln_keyfile_read(path, &got, NULL, 0), 0);
    ASSERT_STR(got.account, "alice");
    ASSERT_MEM(got.pk, k.pk, LN_PK_LEN);
    ASSERT_MEM(got.sk, k.sk, LN_SK_LEN);

    /* only the key file: the temp file was moved, not left behind */
    snprintf(path, sizeof path, "%s/keys", home);
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;
    ASSERT(d != NULL);
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            ASSERT_STR(e->d_name, "alice.key");
            n++;
        }
    closedir(d);
    ASSERT_EQ(n, 1);
    ln_test_rmtree(home);
}

TEST(keyfile_write_refuses_existing_file_without_overwrite)
{
    char home[64], path[128];
    ln_key a = make_key("bob", 1), b = make_key("bob", 2), got;
    init();
    mktmp(home, sizeof home);
    snprintf(path, sizeof path, "%s/keys/bob.key", home);
    ASSERT_EQ(ln_keyfile_write(home, &a, 0), 0);
    ASSERT_EQ(ln_keyfile_write(home, &b, 0), LN_EEXIST);
    ASSERT_EQ(ln_keyfile_read(path, &got, NULL, 0), 0);
    ASSERT_MEM(got.pk, a.pk, LN_PK_LEN);             /* untouched */
    ASSERT_EQ(ln_keyfile_write(home, &b, 1), 0);
    ASSERT_EQ(ln_keyfile_read(path, &got, NULL, 0), 0);
    ASSERT_MEM(got.pk, b.pk, LN_PK_LEN);             /* replaced */
    ln_test_rmtree(home);
}

TEST(keyfile_write_refuses_bad_name_and_mismatched_key)
{
    char home[64];
    ln_key k = make_key("Alice", 1), other = make_key("alice", 2);
    init();
    mktmp(home, sizeof home);
    ASSERT_EQ(ln_keyfile_write(home, &k, 0), LN_EBADNAME);
    memcpy(other.pk, make_key("alice", 3).pk, LN_PK_LEN);
    ASSERT_EQ(ln_keyfile_write(home, &other, 0), LN_EBADKEY);
    ln_test_rmtree(home);
}

TEST(keyfile_read_missing_file_returns_enotfound)
{
    char home[64], path[128];
    ln_key k;
    mktmp(home, sizeof home);
    snprintf(path, sizeof path, "%s/nope.key", home);
    ASSERT_EQ(ln_keyfile_read(path, &k, NULL, 0), LN_ENOTFOUND);
    ln_test_rmtree(home);
}

/* Writes {account, public_key, secret_key} with the given hex and reads it. */
static int read_crafted(const char *json, char *err, size_t errlen)
{
    char home[64], path[128];
    ln_key k;
    mktmp(home, sizeof home);
    snprintf(path, sizeof path, "%s/x.key", home);
    write_text(path, json);
    int rc = ln_keyfile_read(path, &k, err, errlen);
    ln_test_rmtree(home);
    return rc;
}

static void crafted_json(char *buf, size_t len, const char *acct,
                         const uint8_t *pk, size_t pkn,
                         const uint8_t *sk, size_t skn)
{
    char pkhex[2 * LN_PK_LEN + 1], skhex[2 * LN_SK_LEN + 1];
    ln_hex(pk, pkn, pkhex);
    ln_hex(sk, skn, skhex);
    snprintf(buf, len, "{\"account\":\"%s\",\"public_key\":\"%s\",\"secret_key\":\"%s\"}",
             acct, pkhex, skhex);
}

TEST(keyfile_read_accepts_crafted_good_file)   /* so the refusals below are real */
{
    char json[512], err[128] = "";
    ln_key k = make_key("carol", 4);
    init();
    crafted_json(json, sizeof json, "carol", k.pk, LN_PK_LEN, k.sk, LN_SK_LEN);
    ASSERT_EQ(read_crafted(json, err, sizeof err), 0);
}

TEST(keyfile_read_refuses_mismatched_public_key)
{
    char json[512], err[128] = "";
    ln_key k = make_key("carol", 4), o = make_key("carol", 5);
    init();
    crafted_json(json, sizeof json, "carol", o.pk, LN_PK_LEN, k.sk, LN_SK_LEN);
    ASSERT_EQ(read_crafted(json, err, sizeof err), LN_EBADKEY);
    ASSERT(strstr(err, "does not match") != NULL);
    /* secret's public half swapped too: the seed still decides */
    memcpy(k.sk + LN_SEED_LEN, o.pk, LN_PK_LEN);
    crafted_json(json, sizeof json, "carol", o.pk, LN_PK_LEN, k.sk, LN_SK_LEN);
    ASSERT_EQ(read_crafted(json, err, sizeof err), LN_EBADKEY);
}

TEST(keyfile_read_refuses_bad_json)
{
    char err[128] = "";
    ASSERT_EQ(read_crafted("{\"account\": \"carol\", ", err, sizeof err), LN_EBADKEY);
    ASSERT_STR(err, "not a JSON object");
    ASSERT_EQ(read_crafted("[1, 2]", NULL, 0), LN_EBADKEY);
    ASSERT_EQ(read_crafted("", NULL, 0), LN_EBADKEY);
}

TEST(keyfile_read_refuses_short_hex_and_bad_account)
{
    char json[512], err[128] = "";
    ln_key k = make_key("carol", 4);
    init();
    crafted_json(json, sizeof json, "carol", k.pk, LN_PK_LEN - 1, k.sk, LN_SK_LEN);
    ASSERT_EQ(read_crafted(json, err, sizeof err), LN_EBADKEY);
    ASSERT(strstr(err, "public_key") != NULL);
    crafted_json(json, sizeof json, "carol", k.pk, LN_PK_LEN, k.sk, LN_SK_LEN - 1);
    ASSERT_EQ(read_crafted(json, err, sizeof err), LN_EBADKEY);
    ASSERT(strstr(err, "secret_key") != NULL);
    crafted_json(json, sizeof json, "Carol", k.pk, LN_PK_LEN, k.sk, LN_SK_LEN);
    ASSERT_EQ(read_crafted(json, err, sizeof err), LN_EBADKEY);
    ASSERT(strstr(err, "account") != NULL);
}

static const ln_test tests[] = {
    T(hash_of_empty_matches_blake2b256_vector),
    T(hash_of_abc_matches_blake2b256_vector),
    T(hash_incremental_equals_one_shot),
    T(sign_then_verify_succeeds),
    T(verify_with_flipped_message_bit_fails_ebadsig),
    T(verify_with_flipped_signature_bit_fails_ebadsig),
    T(verify_with_flipped_key_bit_fails_ebadsig),
    T(keypair_seed_is_deterministic),
    T(keypair_seed_and_sign_match_rfc8032_vector),
    T(hex_round_trips_as_lowercase),
    T(unhex_accepts_uppercase),
    T(unhex_refuses_wrong_length_and_non_hex),
    T(name_valid_accepts_lowercase_digits_and_dots),
    T(name_valid_refuses_empty_long_and_bad_chars),
    T(keyfile_written_0600_in_0700_dir_and_read_back_equal),
    T(keyfile_write_refuses_existing_file_without_overwrite),
    T(keyfile_write_refuses_bad_name_and_mismatched_key),
    T(keyfile_read_missing_file_returns_enotfound),
    T(keyfile_read_accepts_crafted_good_file),
    T(keyfile_read_refuses_mismatched_public_key),
    T(keyfile_read_refuses_bad_json),
    T(keyfile_read_refuses_short_hex_and_bad_account),
    {0}
};
LN_TEST_MAIN(tests)
