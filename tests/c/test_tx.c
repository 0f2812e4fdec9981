/* test_tx.c -- signed transactions (tx.c) on hand-built encodings; the
** authority checks of accounts they rely on are in test_account.c.
**
** Encodings are assembled byte by byte here, not with the codec or msgpack-c,
** and hashed and signed with libsodium directly, so the tests pin the wire
** format of DESIGN rather than whatever tx.c happens to produce. */
#include <time.h>

#include <sodium.h>

#include "test.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "tx.h"

/* ---- a byte builder ---------------------------------------------------- */

#define BUFMAX (LN_TX_MAX_BYTES + 4096)

typedef struct { uint8_t b[BUFMAX]; size_t n; } buf;

static void put(buf *b, const void *p, size_t n)
{
    ASSERT(b->n + n <= BUFMAX);
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void put8(buf *b, uint8_t v) { put(b, &v, 1); }

static void putbe(buf *b, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--) put8(b, (uint8_t)(v >> (8 * i)));
}

static void uint_(buf *b, uint64_t v)
{
    if (v < 128) put8(b, (uint8_t)v);
    else if (v < 256) { put8(b, 0xcc); putbe(b, v, 1); }
    else if (v < 65536) { put8(b, 0xcd); putbe(b, v, 2); }
    else if (v < 4294967296ull) { put8(b, 0xce); putbe(b, v, 4); }
    else { put8(b, 0xcf); putbe(b, v, 8); }
}

static void strn(buf *b, const char *s, size_t n)
{
    if (n < 32) put8(b, (uint8_t)(0xa0 | n));
    else if (n < 256) { put8(b, 0xd9); putbe(b, n, 1); }
    else if (n < 65536) { put8(b, 0xda); putbe(b, n, 2); }
    else { put8(b, 0xdb); putbe(b, n, 4); }
    put(b, s, n);
}

static void str(buf *b, const char *s) { strn(b, s, strlen(s)); }

static void bin(buf *b, const uint8_t *p, size_t n)
{
    ASSERT(n < 256);
    put8(b, 0xc4);
    put8(b, (uint8_t)n);
    put(b, p, n);
}

static void arr(buf *b, uint32_t n) { ASSERT(n < 16); put8(b, (uint8_t)(0x90 | n)); }
static void map(buf *b, uint32_t n) { ASSERT(n < 16); put8(b, (uint8_t)(0x80 | n)); }

/* ---- transactions as lists of fields ------------------------------------ */

typedef struct { char key[16]; buf *val; } field;
typedef struct { field f[12]; int n; } fields;

static buf *newbuf(void)
{
    buf *b = calloc(1, sizeof *b);
    ASSERT(b != NULL);
    return b;
}

static void free_fields(fields *fs)
{
    for (int i = 0; i < fs->n; i++) free(fs->f[i].val);
    fs->n = 0;
}

/* Sets key to a fresh buffer (replacing its value, or adding it sorted). */
static buf *set(fields *fs, const char *key)
{
    for (int i = 0; i < fs->n; i++)
        if (!strcmp(fs->f[i].key, key)) {
            fs->f[i].val->n = 0;
            return fs->f[i].val;
        }
    int at = fs->n;
    while (at > 0 && strcmp(fs->f[at - 1].key, key) > 0) at--;
    ASSERT(fs->n < 12);
    memmove(&fs->f[at + 1], &fs->f[at], (size_t)(fs->n - at) * sizeof fs->f[0]);
    snprintf(fs->f[at].key, sizeof fs->f[at].key, "%s", key);
    fs->f[at].val = newbuf();
    fs->n++;
    return fs->f[at].val;
}

static void drop(fields *fs, const char *key)
{
    for (int i = 0; i < fs->n; i++)
        if (!strcmp(fs->f[i].key, key)) {
            free(fs->f[i].val);
            memmove(&fs->f[i], &fs->f[i + 1], (size_t)(fs->n - i - 1) * sizeof fs->f[0]);
            fs->n--;
            return;
        }
}

static void encode(const fields *fs, buf *out)
{
    out->n = 0;
    map(out, (uint32_t)fs->n);
    for (int i = 0; i < fs->n; i++) {
        str(out, fs->f[i].key);
        put(out, fs->f[i].val->b, fs->f[i].val->n);
    }
}

static void transfer_action(buf *b)
{
    map(b, 3);
    str(b, "args"); arr(b, 2); str(b, "bob"); uint_(b, 1);
    str(b, "contract"); str(b, "sys");
    str(b, "method"); str(b, "transfer");
}

/* alice pays bob 1: the six unsigned fields of DESIGN. */
static void base(fields *fs)
{
    memset(fs, 0, sizeof *fs);
    str(set(fs, "account"), "alice");
    buf *a = set(fs, "actions");
    arr(a, 1);
    transfer_action(a);
    str(set(fs, "chain_id"), "lunet-test");
    uint_(set(fs, "expires"), 100);
    uint_(set(fs, "max_fee"), 100000);
    uint_(set(fs, "nonce"), 0);
}

typedef struct { uint8_t pk[LN_PK_LEN], sk[LN_SK_LEN]; } keypair;

static keypair key(int i)
{
    keypair k;
    uint8_t seed[32] = { 0 };
    seed[0] = (uint8_t)i;
    seed[1] = 0x5a;
    ASSERT_EQ(crypto_sign_seed_keypair(k.pk, k.sk, seed), 0);
    return k;
}

static void blake2b(const uint8_t *p, size_t n, uint8_t out[32])
{
    ASSERT_EQ(crypto_generichash(out, 32, p, n, NULL, 0), 0);
}

/* Adds `signatures` by keys over the digest of the current fields. */
static void sign_fields(fields *fs, const keypair *ks, int nk)
{
    buf *u = newbuf();
    uint8_t digest[32];
    encode(fs, u);
    blake2b(u->b, u->n, digest);
    free(u);
    buf *s = set(fs, "signatures");
    ASSERT(nk < 16);
    arr(s, (uint32_t)nk);
    for (int i = 0; i < nk; i++) {
        uint8_t sig[64];
        ASSERT_EQ(crypto_sign_detached(sig, NULL, digest, 32, ks[i].sk), 0);
        map(s, 2);
        str(s, "key"); bin(s, ks[i].pk, 32);
        str(s, "sig"); bin(s, sig, 64);
    }
}

/* A valid signed transaction by alice's key (key 1). */
static void signed_base(fields *fs)
{
    keypair k = key(1);
    base(fs);
    sign_fields(fs, &k, 1);
}

static int decode(const buf *b, ln_tx *tx)
{
    int rc = ln_tx_decode(tx, b->b, b->n);
    return rc;
}

/* Decodes fs and expects code (and, for EBADTX, `why` in tx.why). */
static void expect(const fields *fs, int code, const char *why)
{
    buf *b = newbuf();
    ln_tx tx;
    encode(fs, b);
    int rc = decode(b, &tx);
    if (rc != code)
        LN_FAIL("expected %s, got %s (%s)", ln_errname(code), ln_errname(rc), tx.why);
    if (why && !strstr(tx.why, why)) LN_FAIL("why '%s' does not say '%s'", tx.why, why);
    ln_tx_free(&tx);
    free(b);
}

/* ---- decoding good transactions ----------------------------------------- */

TEST(tx_decode_reads_every_field_of_a_hand_built_transaction)
{
    fields fs;
    signed_base(&fs);
    buf *b = newbuf();
    encode(&fs, b);
    ln_tx tx;
    ASSERT_EQ(decode(b, &tx), 0);
    ASSERT_STR(tx.account, "alice");
    ASSERT_STR(tx.chain_id, "lunet-test");
    ASSERT_EQ(tx.expires, 100);
    ASSERT_EQ(tx.max_fee, 100000);
    ASSERT_EQ(tx.nonce, 0);
    ASSERT_EQ(tx.nactions, 1);
    ASSERT_EQ(tx.nsigs, 1);
    ASSERT_EQ(tx.size, b->n);
    keypair k = key(1);
    ASSERT_MEM(tx.keys[0], k.pk, 32);
    ln_tx_free(&tx);
    free(b);
    free_fields(&fs);
}

TEST(tx_decode_reads_large_integers_in_their_shortest_forms)
{
    fields fs;
    base(&fs);
    uint_(set(&fs, "expires"), 70000);             /* uint32 */
    uint_(set(&fs, "max_fee"), 5000000000ull);     /* uint64 */
    uint_(set(&fs, "nonce"), 300);                 /* uint16 */
    keypair k = key(1);
    sign_fields(&fs, &k, 1);
    buf *b = newbuf();
    encode(&fs, b);
    ln_tx tx;
    ASSERT_EQ(decode(b, &tx), 0);
    ASSERT_EQ(tx.expires, 70000);
    ASSERT_EQ(tx.max_fee, 5000000000ull);
    ASSERT_EQ(tx.nonce, 300);
    ASSERT_EQ(ln_tx_verify(&tx), 0);
    ln_tx_free(&tx);
    free(b);
    free_fields(&fs);
}

TEST(tx_id_is_blake2b_of_the_hand_built_unsigned_encoding)
{
    fields fs;
    base(&fs);
    buf *u = newbuf();
    encode(&fs, u);
    uint8_t want[32];
    blake2b(u->b, u->n, want);
    keypair k = key(1);
    sign_fields(&fs, &k, 1);
    buf *b = newbuf();
    encode(&fs, b);
    ln_tx tx;
    ASSERT_EQ(decode(b, &tx), 0);
    ASSERT_MEM(tx.id, want, 32);
    /* the signed encoding is the unsigned one with 0x87 and signatures last */
    ASSERT_EQ(b->b[0], 0x87);
    ASSERT_EQ(u->b[0], 0x86);
    ASSERT_MEM(b->b + 1, u->b + 1, u->n - 1);
    ln_tx_free(&tx);
    free(u);
    free(b);
    free_fields(&fs);
}

TEST(tx_id_does_not_depend_on_the_signatures)
{
    fields fs;
    keypair ks[2] = { key(1), key(2) };
    base(&fs);
    sign_fields(&fs, ks, 1);
    buf *b = newbuf();
    encode(&fs, b);
    ln_tx one, two;
    ASSERT_EQ(decode(b, &one), 0);
    drop(&fs, "signatures");
    sign_fields(&fs, ks, 2);
    encode(&fs, b);
    ASSERT_EQ(decode(b, &two), 0);
    ASSERT_MEM(one.id, two.id, 32);
    ASSERT_EQ(two.nsigs, 2);
    ln_tx_free(&one);
    ln_tx_free(&two);
    free(b);
    free_fields(&fs);
}

TEST(tx_action_reads_contract_method_and_args)
{
    fields fs;
    signed_base(&fs);
    buf *b = newbuf();
    encode(&fs, b);
    ln_tx tx;
    ASSERT_EQ(decode(b, &tx), 0);
    const char *c, *m;
    size_t cl, ml;
    const msgpack_object *args;
    ln_tx_action(&tx, 0, &c, &cl, &m, &ml, &args);
    ASSERT_EQ(cl, 3);
    ASSERT(memcmp(c, "sys", 3) == 0);
    ASSERT_EQ(ml, 8);
    ASSERT(memcmp(m, "transfer", 8) == 0);
    ASSERT_EQ(args->type, MSGPACK_OBJECT_ARRAY);
    ASSERT_EQ(args->via.array.size, 2);
    ASSERT_EQ(args->via.array.ptr[1].via.u64, 1);
    ln_tx_free(&tx);
    free(b);
    free_fields(&fs);
}

/* ---- decoding bad encodings --------------------------------------------- */

TEST(tx_decode_refuses_every_truncated_prefix)
{
    fields fs;
    signed_base(&fs);
    buf *b = newbuf();
    encode(&fs, b);
    for (size_t n = 0; n < b->n; n++) {
        /* a heap copy of exactly n bytes, so ASan sees any read past it */
        uint8_t *p = malloc(n ? n : 1);
        memcpy(p, b->b, n);
        ln_tx tx;
        int rc = ln_tx_decode(&tx, p, n);
        if (rc != LN_ETRUNC) LN_FAIL("prefix of %zu bytes: %s", n, ln_errname(rc));
        ln_tx_free(&tx);
        free(p);
    }
    free(b);
    free_fields(&fs);
}

TEST(tx_decode_refuses_trailing_bytes)
{
    fields fs;
    signed_base(&fs);
    buf *b = newbuf();
    encode(&fs, b);
    put8(b, 0xc0);
    ln_tx tx;
    ASSERT_EQ(decode(b, &tx), LN_ETRAILING);
    ln_tx_free(&tx);
    free(b);
    free_fields(&fs);
}

TEST(tx_decode_refuses_an_integer_in_a_longer_form)
{
    fields fs;
    signed_base(&fs);
    buf *v = set(&fs, "nonce");
    put8(v, 0xcc);
    put8(v, 0);
    expect(&fs, LN_ENONCANON, NULL);
    v = set(&fs, "nonce");
    put8(v, 0);
    v = set(&fs, "max_fee");
    put8(v, 0xcf);
    putbe(v, 100000, 8);
    expect(&fs, LN_ENONCANON, NULL);
    free_fields(&fs);
}

TEST(tx_decode_refuses_a_string_in_a_longer_header)
{
    fields fs;
    signed_base(&fs);
    buf *v = set(&fs, "account");
    put8(v, 0xd9);
    put8(v, 5);
    put(v, "alice", 5);
    expect(&fs, LN_ENONCANON, NULL);
    free_fields(&fs);
}

TEST(tx_decode_refuses_unsorted_fields)
{
    fields fs;
    signed_base(&fs);
    field t = fs.f[4];                 /* max_fee after nonce */
    fs.f[4] = fs.f[5];
    fs.f[5] = t;
    expect(&fs, LN_EUNSORTED, NULL);
    free_fields(&fs);
}

TEST(tx_decode_refuses_a_float)
{
    fields fs;
    signed_base(&fs);
    buf *v = set(&fs, "max_fee");
    put8(v, 0xcb);
    putbe(v, 0x40f86a0000000000ull, 8);   /* 100000.0 */
    expect(&fs, LN_EFLOAT, NULL);
    v = set(&fs, "expires");
    put8(v, 0xca);
    putbe(v, 0x42c80000u, 4);             /* 100.0f */
    expect(&fs, LN_EFLOAT, NULL);
    free_fields(&fs);
}

TEST(tx_decode_refuses_an_unknown_field)
{
    fields fs;
    signed_base(&fs);
    str(set(&fs, "memo"), "hi");
    expect(&fs, LN_EBADTX, "unknown field 'memo'");
    free_fields(&fs);
}

TEST(tx_decode_names_an_unknown_field_that_stands_in_for_a_known_one)
{
    fields fs;
    signed_base(&fs);
    drop(&fs, "signatures");
    str(set(&fs, "memo"), "hi");       /* seven fields; nonce is there */
    expect(&fs, LN_EBADTX, "unknown field 'memo'");
    drop(&fs, "memo");
    str(set(&fs, "zzz"), "hi");        /* sorted after nonce */
    expect(&fs, LN_EBADTX, "unknown field 'zzz'");
    free_fields(&fs);
}

TEST(tx_decode_refuses_each_missing_field)
{
    static const char *const names[] = {
        "account", "actions", "chain_id", "expires", "max_fee", "nonce", "signatures"
    };
    for (int i = 0; i < 7; i++) {
        fields fs;
        signed_base(&fs);
        drop(&fs, names[i]);
        char why[64];
        snprintf(why, sizeof why, "missing field '%s'", names[i]);
        expect(&fs, LN_EBADTX, why);
        free_fields(&fs);
    }
}

TEST(tx_decode_refuses_a_wrong_type_in_each_field)
{
    struct { const char *field; uint8_t bytes[8]; size_t n; const char *why; } cases[] = {
        { "account", { 0x05 }, 1, "account must be an account name" },
        { "account", { 0xa5, 'A', 'l', 'i', 'c', 'e' }, 6, "account must be an account name" },
        { "account", { 0xa0 }, 1, "account must be an account name" },
        { "actions", { 0xa1, 'x' }, 2, "actions must be an array" },
        { "actions", { 0x90 }, 1, "actions must be an array of 1-16" },
        { "actions", { 0x91, 0x01 }, 2, "actions[1] must be a map" },
        { "actions", { 0x91, 0x80 }, 2, "actions[1] must be a map" },
        { "chain_id", { 0x07 }, 1, "chain_id must be a string" },
        { "chain_id", { 0xa0 }, 1, "chain_id must be a string" },
        { "chain_id", { 0xc4, 0x01, 'x' }, 3, "chain_id must be a string" },
        { "expires", { 0xa1, '1' }, 2, "expires must be an unsigned integer" },
        { "expires", { 0xff }, 1, "expires must be an unsigned integer" },
        { "max_fee", { 0xd0, 0x80 }, 2, "max_fee must be an unsigned integer" },
        { "max_fee", { 0xc0 }, 1, "max_fee must be an unsigned integer" },
        { "nonce", { 0xc3 }, 1, "nonce must be an unsigned integer" },
        { "nonce", { 0x90 }, 1, "nonce must be an unsigned integer" },
        { "signatures", { 0xa1, 's' }, 2, "signatures must be an array of 1-8" },
        { "signatures", { 0x90 }, 1, "signatures must be an array of 1-8" },
        { "signatures", { 0x91, 0x00 }, 2, "signatures[1] must be a map {key, sig}" },
        { "signatures", { 0x91, 0x80 }, 2, "signatures[1] must be a map {key, sig}" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fields fs;
        signed_base(&fs);
        put(set(&fs, cases[i].field), cases[i].bytes, cases[i].n);
        expect(&fs, LN_EBADTX, cases[i].why);
        free_fields(&fs);
    }
}

TEST(tx_decode_refuses_a_bad_action)
{
    struct { const char *args, *contract, *method; const char *why; } cases[] = {
        { "str", "sys", "transfer", "actions[1].args must be an array" },
        { NULL, "Sys", "transfer", "actions[1].contract must be an account name" },
        { NULL, "thirteenchars", "transfer", "actions[1].contract must be an account name" },
        { NULL, "sys", "", "actions[1].method must be a string of 1-64 bytes" },
        { NULL, "sys", "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm",
          "actions[1].method must be a string of 1-64 bytes" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fields fs;
        keypair k = key(1);
        base(&fs);
        buf *a = set(&fs, "actions");
        arr(a, 1);
        map(a, 3);
        str(a, "args");
        if (cases[i].args) str(a, cases[i].args); else arr(a, 0);
        str(a, "contract"); str(a, cases[i].contract);
        str(a, "method"); str(a, cases[i].method);
        sign_fields(&fs, &k, 1);
        expect(&fs, LN_EBADTX, cases[i].why);
        free_fields(&fs);
    }
    /* keys other than args, contract, method */
    fields fs;
    keypair k = key(1);
    base(&fs);
    buf *a = set(&fs, "actions");
    arr(a, 1);
    map(a, 3);
    str(a, "args"); arr(a, 0);
    str(a, "contract"); str(a, "sys");
    str(a, "methods"); str(a, "transfer");
    sign_fields(&fs, &k, 1);
    expect(&fs, LN_EBADTX, "actions[1] must have exactly args, contract and method");
    free_fields(&fs);
}

TEST(tx_decode_refuses_a_bad_signature_entry)
{
    keypair k = key(1);
    uint8_t sig[64] = { 0 };
    for (int c = 0; c < 4; c++) {
        fields fs;
        base(&fs);
        buf *s = set(&fs, "signatures");
        arr(s, 1);
        map(s, 2);
        str(s, "key");
        if (c == 0) bin(s, k.pk, 31);
        else if (c == 1) strn(s, (const char *)"0123456789abcdef0123456789abcdef", 32);
        else bin(s, k.pk, 32);
        str(s, "sig");
        if (c == 2) bin(s, sig, 63);
        else if (c == 3) uint_(s, 0);
        else bin(s, sig, 64);
        expect(&fs, LN_EBADTX, c < 2 ? "signatures[1].key must be bin(32)"
                                     : "signatures[1].sig must be bin(64)");
        free_fields(&fs);
    }
}

static void actions_n(fields *fs, int n)
{
    buf *a = set(fs, "actions");
    if (n < 16) arr(a, (uint32_t)n);
    else { put8(a, 0xdc); putbe(a, (uint64_t)n, 2); }
    for (int i = 0; i < n; i++) transfer_action(a);
}

TEST(tx_decode_takes_16_actions_and_refuses_17)
{
    keypair k = key(1);
    fields fs;
    base(&fs);
    actions_n(&fs, 16);
    sign_fields(&fs, &k, 1);
    expect(&fs, 0, NULL);
    drop(&fs, "signatures");
    actions_n(&fs, 17);
    sign_fields(&fs, &k, 1);
    expect(&fs, LN_EBADTX, "actions must be an array of 1-16 actions");
    free_fields(&fs);
}

TEST(tx_decode_takes_8_signatures_and_refuses_9)
{
    keypair ks[9];
    for (int i = 0; i < 9; i++) ks[i] = key(i + 1);
    fields fs;
    base(&fs);
    sign_fields(&fs, ks, 8);
    expect(&fs, 0, NULL);
    drop(&fs, "signatures");
    sign_fields(&fs, ks, 9);
    expect(&fs, LN_EBADTX, "signatures must be an array of 1-8 signatures");
    free_fields(&fs);
}

TEST(tx_decode_refuses_a_duplicated_signature_key)
{
    keypair ks[3] = { key(1), key(2), key(1) };
    fields fs;
    base(&fs);
    sign_fields(&fs, ks, 3);
    expect(&fs, LN_EDUPSIG, "signatures[3] has the key of signatures[1]");
    free_fields(&fs);
}

/* alice's transaction padded (an extra string argument) to `size` bytes. */
static void padded(buf *b, size_t size)
{
    keypair k = key(1);
    size_t pad = 100000;
    for (int round = 0; round < 2; round++) {
        fields fs;
        base(&fs);
        buf *a = set(&fs, "actions");
        arr(a, 1);
        map(a, 3);
        str(a, "args"); arr(a, 3); str(a, "bob"); uint_(a, 1);
        char *p = malloc(pad);
        memset(p, 'x', pad);
        strn(a, p, pad);
        free(p);
        str(a, "contract"); str(a, "sys");
        str(a, "method"); str(a, "transfer");
        sign_fields(&fs, &k, 1);
        encode(&fs, b);
        free_fields(&fs);
        pad += size - b->n;
    }
    ASSERT_EQ(b->n, size);
}

TEST(tx_decode_takes_128_kib_and_refuses_one_byte_more)
{
    buf *b = newbuf();
    ln_tx tx;
    padded(b, LN_TX_MAX_BYTES);
    ASSERT_EQ(decode(b, &tx), 0);
    ASSERT_EQ(ln_tx_verify(&tx), 0);
    ln_tx_free(&tx);
    padded(b, LN_TX_MAX_BYTES + 1);
    ASSERT_EQ(decode(b, &tx), LN_ETXSIZE);
    ln_tx_free(&tx);
    free(b);
}

TEST(tx_decode_refuses_what_is_not_a_map)
{
    buf *b = newbuf();
    arr(b, 1);
    str(b, "alice");
    ln_tx tx;
    ASSERT_EQ(decode(b, &tx), LN_EBADTX);
    ASSERT(strstr(tx.why, "a transaction must be a map") != NULL);
    ln_tx_free(&tx);
    free(b);
}

/* ---- signing and verifying ---------------------------------------------- */

TEST(tx_sign_then_verify_round_trips)
{
    keypair ks[2] = { key(1), key(2) };
    uint8_t sks[2][LN_SK_LEN];
    memcpy(sks[0], ks[0].sk, LN_SK_LEN);
    memcpy(sks[1], ks[1].sk, LN_SK_LEN);
    fields fs;
    base(&fs);
    buf *u = newbuf();
    encode(&fs, u);
    uint8_t *out;
    size_t n;
    ASSERT_EQ(ln_tx_sign(u->b, u->n, (const uint8_t (*)[LN_SK_LEN])sks, 2, &out, &n), 0);
    ln_tx tx;
    ASSERT_EQ(ln_tx_decode(&tx, out, n), 0);
    ASSERT_EQ(tx.nsigs, 2);
    ASSERT_MEM(tx.keys[0], ks[0].pk, 32);
    ASSERT_MEM(tx.keys[1], ks[1].pk, 32);
    ASSERT_EQ(ln_tx_verify(&tx), 0);
    uint8_t want[32];
    blake2b(u->b, u->n, want);
    ASSERT_MEM(tx.id, want, 32);
    ln_tx_free(&tx);
    free(out);
    free(u);
    free_fields(&fs);
}

TEST(tx_sign_gives_the_hand_built_signed_encoding)
{
    keypair k = key(1);
    fields fs;
    base(&fs);
    buf *u = newbuf(), *want = newbuf();
    encode(&fs, u);
    sign_fields(&fs, &k, 1);            /* Ed25519 is deterministic */
    encode(&fs, want);
    uint8_t *out;
    size_t n;
    ASSERT_EQ(ln_tx_sign(u->b, u->n, (const uint8_t (*)[LN_SK_LEN])k.sk, 1, &out, &n), 0);
    ASSERT_EQ(n, want->n);
    ASSERT_MEM(out, want->b, n);
    free(out);
    free(u);
    free(want);
    free_fields(&fs);
}

TEST(tx_verify_refuses_a_flipped_bit_in_the_signature)
{
    fields fs;
    signed_base(&fs);
    buf *b = newbuf();
    encode(&fs, b);
    for (size_t at = b->n - 64; at < b->n; at += 9) {
        b->b[at] ^= 0x10;
        ln_tx tx;
        ASSERT_EQ(decode(b, &tx), 0);
        ASSERT_EQ(ln_tx_verify(&tx), LN_EBADSIG);
        ln_tx_free(&tx);
        b->b[at] ^= 0x10;
    }
    free(b);
    free_fields(&fs);
}

TEST(tx_verify_refuses_a_flipped_bit_in_the_signed_bytes)
{
    fields fs;
    signed_base(&fs);
    buf *b = newbuf();
    encode(&fs, b);
    uint8_t *m = memmem(b->b, b->n, "lunet-test", 10);
    ASSERT(m != NULL);
    m[9] ^= 1;                          /* lunet-tesu */
    ln_tx tx;
    ASSERT_EQ(decode(b, &tx), 0);
    ASSERT_STR(tx.chain_id, "lunet-tesu");
    ASSERT_EQ(ln_tx_verify(&tx), LN_EBADSIG);
    ln_tx_free(&tx);
    free(b);
    free_fields(&fs);
}

TEST(tx_verify_refuses_when_any_one_signature_is_bad)
{
    keypair ks[3] = { key(1), key(2), key(3) };
    fields fs;
    base(&fs);
    sign_fields(&fs, ks, 3);
    buf *b = newbuf();
    encode(&fs, b);
    ln_tx tx;
    ASSERT_EQ(decode(b, &tx), 0);
    ASSERT_EQ(ln_tx_verify(&tx), 0);
    ln_tx_free(&tx);
    /* entry = 0x82, "key" (4 bytes), bin header (2), pk, "sig" (4), bin
    ** header (2), sig: the byte before the third entry ends the second sig */
    uint8_t *third_pk = memmem(b->b, b->n, ks[2].pk, 32);
    ASSERT(third_pk != NULL);
    uint8_t *third = third_pk - 2 - 4 - 1;
    ASSERT_EQ(third[0], 0x82);
    third[-1] ^= 1;
    ASSERT_EQ(decode(b, &tx), 0);
    ASSERT_EQ(ln_tx_verify(&tx), LN_EBADSIG);
    ln_tx_free(&tx);
    free(b);
    free_fields(&fs);
}

TEST(tx_sign_refuses_what_is_not_an_unsigned_transaction)
{
    keypair k = key(1);
    uint8_t sks[9][LN_SK_LEN];
    for (int i = 0; i < 9; i++) memcpy(sks[i], key(i + 1).sk, LN_SK_LEN);
    uint8_t *out = NULL;
    size_t n;
    fields fs;
    base(&fs);
    buf *u = newbuf();
    encode(&fs, u);
    ASSERT_EQ(ln_tx_sign(u->b, u->n, (const uint8_t (*)[LN_SK_LEN])k.sk, 0, &out, &n), LN_EINVAL);
    ASSERT_EQ(ln_tx_sign(u->b, u->n, (const uint8_t (*)[LN_SK_LEN])sks, 9, &out, &n), LN_EINVAL);
    ASSERT_EQ(ln_tx_sign(u->b, u->n - 1, (const uint8_t (*)[LN_SK_LEN])sks, 1, &out, &n), LN_ETRUNC);
    /* a key sorted after "signatures" would make the output unsorted */
    drop(&fs, "nonce");
    uint_(set(&fs, "zonce"), 0);
    encode(&fs, u);
    ASSERT_EQ(ln_tx_sign(u->b, u->n, (const uint8_t (*)[LN_SK_LEN])sks, 1, &out, &n), LN_EINVAL);
    /* seven fields is not the unsigned map */
    uint_(set(&fs, "nonce"), 0);
    encode(&fs, u);
    ASSERT_EQ(ln_tx_sign(u->b, u->n, (const uint8_t (*)[LN_SK_LEN])sks, 1, &out, &n), LN_EINVAL);
    ASSERT(out == NULL);
    free(u);
    free_fields(&fs);
}

static const ln_test tests[] = {
    T(tx_decode_reads_every_field_of_a_hand_built_transaction),
    T(tx_decode_reads_large_integers_in_their_shortest_forms),
    T(tx_id_is_blake2b_of_the_hand_built_unsigned_encoding),
    T(tx_id_does_not_depend_on_the_signatures),
    T(tx_action_reads_contract_method_and_args),
    T(tx_decode_refuses_every_truncated_prefix),
    T(tx_decode_refuses_trailing_bytes),
    T(tx_decode_refuses_an_integer_in_a_longer_form),
    T(tx_decode_refuses_a_string_in_a_longer_header),
    T(tx_decode_refuses_unsorted_fields),
    T(tx_decode_refuses_a_float),
    T(tx_decode_refuses_an_unknown_field),
    T(tx_decode_names_an_unknown_field_that_stands_in_for_a_known_one),
    T(tx_decode_refuses_each_missing_field),
    T(tx_decode_refuses_a_wrong_type_in_each_field),
    T(tx_decode_refuses_a_bad_action),
    T(tx_decode_refuses_a_bad_signature_entry),
    T(tx_decode_takes_16_actions_and_refuses_17),
    T(tx_decode_takes_8_signatures_and_refuses_9),
    T(tx_decode_refuses_a_duplicated_signature_key),
    T(tx_decode_takes_128_kib_and_refuses_one_byte_more),
    T(tx_decode_refuses_what_is_not_a_map),
    T(tx_sign_then_verify_round_trips),
    T(tx_sign_gives_the_hand_built_signed_encoding),
    T(tx_verify_refuses_a_flipped_bit_in_the_signature),
    T(tx_verify_refuses_a_flipped_bit_in_the_signed_bytes),
    T(tx_verify_refuses_when_any_one_signature_is_bad),
    T(tx_sign_refuses_what_is_not_an_unsigned_transaction),
    { 0 }
};
LN_TEST_MAIN(tests)
