/* test_tx.c -- signed transactions (tx.c) on hand-built encodings, and the
** authority checks of accounts (account.c) they rely on.
**
** Encodings are assembled byte by byte here, not with the codec or msgpack-c,
** and hashed and signed with libsodium directly, so the tests pin the wire
** format of DESIGN rather than whatever tx.c happens to produce. */
#include <time.h>

#include <sodium.h>

#include "test.h"
#include "account.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "state.h"
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

/* ---- authorities and authority checks (account.c) ------------------------ */

/* Parses the authority encoded in b. */
static int parse(const buf *b, ln_authority *au, char *why, size_t wl)
{
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 1024);
    int rc = ln_codec_unpack(b->b, b->n, &z, &o);
    if (rc == 0) rc = ln_authority_parse(&o, au, why, wl);
    msgpack_zone_destroy(&z);
    return rc;
}

/* {accounts: [], keys: [{key, weight}...], threshold} */
static void keys_authority(buf *b, const keypair *ks, const uint32_t *w, int n, uint32_t threshold)
{
    b->n = 0;
    map(b, 3);
    str(b, "accounts"); arr(b, 0);
    str(b, "keys"); arr(b, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        map(b, 2);
        str(b, "key"); bin(b, ks[i].pk, 32);
        str(b, "weight"); uint_(b, w[i]);
    }
    str(b, "threshold"); uint_(b, threshold);
}

TEST(authority_parse_reads_keys_weights_and_threshold)
{
    keypair ks[2] = { key(1), key(2) };
    uint32_t w[2] = { 2, 1 };
    buf *b = newbuf();
    keys_authority(b, ks, w, 2, 3);
    ln_authority au;
    char why[160] = "";
    ASSERT_EQ(parse(b, &au, why, sizeof why), 0);
    ASSERT_EQ(au.threshold, 3);
    ASSERT_EQ(au.nkeys, 2);
    ASSERT_EQ(au.naccounts, 0);
    ASSERT_MEM(au.keys[1].key, ks[1].pk, 32);
    ASSERT_EQ(au.keys[0].weight, 2);
    free(b);
}

TEST(authority_parse_refuses_weights_below_the_threshold)
{
    keypair ks[2] = { key(1), key(2) };
    uint32_t w[2] = { 1, 1 };
    buf *b = newbuf();
    keys_authority(b, ks, w, 2, 3);
    ln_authority au;
    char why[160] = "";
    ASSERT_EQ(parse(b, &au, why, sizeof why), LN_EINVAL);
    ASSERT(strstr(why, "weights sum to 2, threshold 3") != NULL);
    keys_authority(b, ks, w, 2, 0);
    ASSERT_EQ(parse(b, &au, why, sizeof why), LN_EINVAL);
    ASSERT(strstr(why, "threshold must be an integer >= 1") != NULL);
    free(b);
}

TEST(authority_parse_refuses_a_key_listed_twice)
{
    keypair ks[2] = { key(1), key(1) };
    uint32_t w[2] = { 1, 1 };
    buf *b = newbuf();
    keys_authority(b, ks, w, 2, 2);
    ln_authority au;
    char why[160] = "";
    ASSERT_EQ(parse(b, &au, why, sizeof why), LN_EINVAL);
    ASSERT(strstr(why, "keys[2].key is listed twice") != NULL);
    free(b);
}

TEST(authority_parse_refuses_an_account_permission_listed_twice)
{
    buf *b = newbuf();
    map(b, 3);
    str(b, "accounts"); arr(b, 2);
    for (int i = 0; i < 2; i++) {
        map(b, 3);
        str(b, "account"); str(b, "bob");
        str(b, "permission"); str(b, "active");
        str(b, "weight"); uint_(b, 1);
    }
    str(b, "keys"); arr(b, 0);
    str(b, "threshold"); uint_(b, 2);
    ln_authority au;
    char why[160] = "";
    ASSERT_EQ(parse(b, &au, why, sizeof why), LN_EINVAL);
    ASSERT(strstr(why, "accounts[2] (bob@active) is listed twice") != NULL);
    free(b);
}

TEST(authority_parse_refuses_an_unknown_field_in_an_entry)
{
    keypair k = key(1);
    buf *b = newbuf();
    map(b, 3);
    str(b, "accounts"); arr(b, 0);
    str(b, "keys"); arr(b, 1);
    map(b, 3);
    str(b, "delay"); uint_(b, 5);
    str(b, "key"); bin(b, k.pk, 32);
    str(b, "weight"); uint_(b, 1);
    str(b, "threshold"); uint_(b, 1);
    ln_authority au;
    char why[160] = "";
    ASSERT_EQ(parse(b, &au, why, sizeof why), LN_EINVAL);
    ASSERT(strstr(why, "keys[1] must be a map {key, weight}") != NULL);
    b->n = 0;
    map(b, 2);
    str(b, "accounts"); arr(b, 1);
    map(b, 4);
    str(b, "account"); str(b, "bob");
    str(b, "note"); str(b, "x");
    str(b, "permission"); str(b, "active");
    str(b, "weight"); uint_(b, 1);
    str(b, "threshold"); uint_(b, 1);
    ASSERT_EQ(parse(b, &au, why, sizeof why), LN_EINVAL);
    ASSERT(strstr(why, "accounts[1] must be a map {account, permission, weight}") != NULL);
    free(b);
}

TEST(authority_pack_then_parse_round_trips)
{
    ln_authority au, back;
    keypair k = key(4);
    ln_authority_key(&au, k.pk);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ln_authority_pack(&pk, &au);
    ASSERT_EQ(ln_codec_check((const uint8_t *)sb.data, sb.size), 0);
    buf *b = newbuf();
    put(b, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    ASSERT_EQ(parse(b, &back, NULL, 0), 0);
    ASSERT_MEM(&back, &au, sizeof au);
    free(b);
}

/* An in-memory state with accounts a1..; each account's authorities are set
** by the test. */
typedef struct { ln_state *st; ln_overlay *ov; } world;

static world new_world(void)
{
    world w;
    ASSERT_EQ(ln_crypto_init(), 0);
    ASSERT_EQ(ln_state_open(NULL, &w.st), 0);
    w.ov = ln_overlay_new(w.st);
    ASSERT(w.ov != NULL);
    return w;
}

static void free_world(world *w)
{
    ln_overlay_free(w->ov);
    ln_state_close(w->st);
}

static void save(world *w, const char *name, const ln_authority *owner, const ln_authority *active)
{
    ln_account a;
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "%s", name);
    a.owner = *owner;
    a.active = *active;
    a.balance = 1000;
    ASSERT_EQ(ln_account_save(w->ov, &a), 0);
}

static int authorized(world *w, const char *name, const char *perm, const keypair *ks, int n)
{
    uint8_t keys[8][LN_PK_LEN];
    for (int i = 0; i < n; i++) memcpy(keys[i], ks[i].pk, LN_PK_LEN);
    ln_signers s = { (const uint8_t (*)[LN_PK_LEN])keys, (size_t)n, NULL };
    return ln_account_authorized(w->ov, name, perm, &s);
}

TEST(account_authorized_adds_key_weights_to_the_threshold)
{
    world w = new_world();
    keypair ks[3] = { key(1), key(2), key(3) }, owner = key(9);
    ln_authority o, act;
    ln_authority_key(&o, owner.pk);
    memset(&act, 0, sizeof act);
    act.threshold = 2;
    act.nkeys = 3;
    for (int i = 0; i < 3; i++) {
        memcpy(act.keys[i].key, ks[i].pk, 32);
        act.keys[i].weight = 1;
    }
    save(&w, "msig", &o, &act);
    ASSERT_EQ(authorized(&w, "msig", "active", ks, 1), LN_EAUTH);
    ASSERT_EQ(authorized(&w, "msig", "active", ks + 1, 2), 0);
    keypair pair[2] = { ks[0], ks[2] };
    ASSERT_EQ(authorized(&w, "msig", "active", pair, 2), 0);
    ASSERT_EQ(authorized(&w, "msig", "owner", ks, 3), LN_EAUTH);   /* active is not owner */
    ASSERT_EQ(authorized(&w, "msig", "active", &owner, 1), 0);     /* owner is active */
    ASSERT_EQ(authorized(&w, "nobody", "active", ks, 3), LN_ENOACCOUNT);
    free_world(&w);
}

TEST(account_authorized_follows_account_permissions_four_levels)
{
    world w = new_world();
    keypair stranger = key(50);
    char names[7][8];
    keypair ks[7];
    for (int i = 0; i < 7; i++) {
        snprintf(names[i], sizeof names[i], "lvl%d", i);
        ks[i] = key(20 + i);
    }
    for (int i = 0; i < 7; i++) {
        ln_authority au;
        if (i < 6) ln_authority_account(&au, names[i + 1], "active");
        else ln_authority_key(&au, ks[i].pk);
        save(&w, names[i], &au, &au);
    }
    /* lvl0 -> lvl1 -> ... -> lvl6 (key). From lvlN the key is 6-N levels down. */
    ASSERT_EQ(authorized(&w, "lvl2", "active", &ks[6], 1), 0);       /* 4 down */
    ASSERT_EQ(authorized(&w, "lvl1", "active", &ks[6], 1), LN_EAUTH); /* 5 down */
    ASSERT_EQ(authorized(&w, "lvl0", "active", &stranger, 1), LN_EAUTH);
    free_world(&w);
}

TEST(account_authorized_ends_on_a_cycle_of_account_permissions)
{
    world w = new_world();
    keypair kx = key(31), stranger = key(50);
    ln_authority x_own, x_act, y_au;
    ln_authority_key(&x_own, kx.pk);
    ln_authority_account(&x_act, "cyy", "active");
    ln_authority_account(&y_au, "cyx", "active");
    save(&w, "cyx", &x_own, &x_act);
    save(&w, "cyy", &y_au, &y_au);
    ASSERT_EQ(authorized(&w, "cyy", "active", &stranger, 1), LN_EAUTH);
    ASSERT_EQ(authorized(&w, "cyy", "active", &kx, 1), 0);   /* cyx@active via its owner */
    ASSERT_EQ(authorized(&w, "cyy", "owner", &kx, 1), 0);
    free_world(&w);
}

/* A tree of account permissions 4 levels deep, 8 wide (4681 accounts, all
** distinct, so nothing is remembered): the signer's key is on one leaf.
** The search visits the tree depth first and reads at most 512 records, so
** a key on the first leaf is found and one on the last leaf is not, however
** the machine runs: the bound is on work, not on time. */
static void build_tree(world *w, const keypair *holder, int leaf)
{
    static char names[4681][13];
    int level_start[6] = { 0, 1, 9, 73, 585, 4681 };
    for (int i = 0; i < 4681; i++) snprintf(names[i], sizeof names[i], "t%d", i);
    for (int lv = 0; lv < 5; lv++)
        for (int i = level_start[lv]; i < level_start[lv + 1]; i++) {
            ln_authority au;
            memset(&au, 0, sizeof au);
            au.threshold = 1;
            if (lv < 4) {
                au.naccounts = 8;
                for (int j = 0; j < 8; j++) {
                    int child = level_start[lv + 1] + (i - level_start[lv]) * 8 + j;
                    snprintf(au.accounts[j].account, sizeof au.accounts[j].account, "%s", names[child]);
                    snprintf(au.accounts[j].permission, sizeof au.accounts[j].permission, "active");
                    au.accounts[j].weight = 1;
                }
            } else {
                /* Leaves: an unrelated key, or the holder's on the chosen one. */
                keypair other = key(61);
                ln_authority_key(&au, i == level_start[4] + leaf ? holder->pk : other.pk);
            }
            save(w, names[i], &au, &au);
        }
}

TEST(account_authorized_bounds_the_work_of_a_web_too_big_to_remember)
{
    keypair holder = key(60);
    world w = new_world();
    build_tree(&w, &holder, 0);
    ASSERT_EQ(authorized(&w, "t0", "active", &holder, 1), 0);
    free_world(&w);

    w = new_world();
    build_tree(&w, &holder, 4095);
    ASSERT_EQ(authorized(&w, "t0", "active", &holder, 1), LN_EAUTH);
    free_world(&w);
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
    T(authority_parse_reads_keys_weights_and_threshold),
    T(authority_parse_refuses_weights_below_the_threshold),
    T(authority_parse_refuses_a_key_listed_twice),
    T(authority_parse_refuses_an_account_permission_listed_twice),
    T(authority_parse_refuses_an_unknown_field_in_an_entry),
    T(authority_pack_then_parse_round_trips),
    T(account_authorized_adds_key_weights_to_the_threshold),
    T(account_authorized_follows_account_permissions_four_levels),
    T(account_authorized_ends_on_a_cycle_of_account_permissions),
    T(account_authorized_bounds_the_work_of_a_web_too_big_to_remember),
    { 0 }
};
LN_TEST_MAIN(tests)
