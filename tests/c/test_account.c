/* test_account.c -- accounts (core/account.c): authorities parsed from
** hand-built encodings and packed back, account records encoded and
** decoded, and the authority check: key and account weights toward a
** threshold, owner for active, the code permission, the depth and the
** bound on the records one check reads. */
#include <sodium.h>

#include "test.h"
#include "account.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "state.h"

/* ---- a byte builder ---------------------------------------------------- */

#define BUFMAX 4096

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

static buf *newbuf(void)
{
    buf *b = calloc(1, sizeof *b);
    ASSERT(b != NULL);
    return b;
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

/* ---- more authorities --------------------------------------------------- */

TEST(authority_parse_takes_a_key_as_64_hex_digits_and_refuses_other_lengths)
{
    keypair k = key(3);
    char hex[2 * LN_PK_LEN + 1];
    for (int i = 0; i < LN_PK_LEN; i++) snprintf(hex + 2 * i, 3, "%02X", k.pk[i]);
    buf *b = newbuf();
    ln_authority au;
    char why[160] = "";
    const char *keys[] = { hex, "abcd", "zz" };
    const char *whys[] = { NULL, "keys[1].key must be 32 bytes or 64 hex digits", NULL };
    for (int i = 0; i < 3; i++) {
        char kx[2 * LN_PK_LEN + 1];
        snprintf(kx, sizeof kx, "%s", keys[i]);
        if (i == 2) { memcpy(kx, hex, sizeof kx); kx[7] = 'g'; }       /* 64 digits, one not hex */
        b->n = 0;
        map(b, 2);
        str(b, "keys"); arr(b, 1);
        map(b, 2);
        str(b, "key"); str(b, kx);
        str(b, "weight"); uint_(b, 1);
        str(b, "threshold"); uint_(b, 1);
        int rc = parse(b, &au, why, sizeof why);
        if (i == 0) {
            ASSERT_EQ(rc, 0);
            ASSERT_MEM(au.keys[0].key, k.pk, LN_PK_LEN);
        } else {
            ASSERT_EQ(rc, LN_EINVAL);
            ASSERT(strstr(why, whys[i] ? whys[i] : "keys[1].key is not valid hex") != NULL);
        }
    }
    free(b);
}

TEST(authority_parse_takes_owner_active_and_code_and_refuses_other_permissions)
{
    const char *perms[] = { "owner", "active", "code", "admin", "Active" };
    buf *b = newbuf();
    for (int i = 0; i < 5; i++) {
        b->n = 0;
        map(b, 2);
        str(b, "accounts"); arr(b, 1);
        map(b, 3);
        str(b, "account"); str(b, "bob");
        str(b, "permission"); str(b, perms[i]);
        str(b, "weight"); uint_(b, 1);
        str(b, "threshold"); uint_(b, 1);
        ln_authority au;
        char why[160] = "";
        int rc = parse(b, &au, why, sizeof why);
        if (i < 3) {
            ASSERT_EQ(rc, 0);
            ASSERT_STR(au.accounts[0].permission, perms[i]);
            ASSERT_STR(au.accounts[0].account, "bob");
        } else {
            ASSERT_EQ(rc, LN_EINVAL);
            ASSERT(strstr(why, "accounts[1].permission must be owner, active or code") != NULL);
        }
    }
    free(b);
}

TEST(authority_parse_refuses_more_than_eight_keys_a_zero_weight_and_a_non_map)
{
    buf *b = newbuf();
    ln_authority au;
    char why[160] = "";
    keypair ks[9];
    uint32_t w[9];
    for (int i = 0; i < 9; i++) { ks[i] = key(40 + i); w[i] = 1; }
    keys_authority(b, ks, w, 8, 8);
    ASSERT_EQ(parse(b, &au, why, sizeof why), 0);
    ASSERT_EQ(au.nkeys, 8);
    keys_authority(b, ks, w, 9, 1);
    ASSERT_EQ(parse(b, &au, why, sizeof why), LN_EINVAL);
    ASSERT(strstr(why, "authority keys must be an array of at most 8") != NULL);
    w[1] = 0;
    keys_authority(b, ks, w, 2, 1);
    ASSERT_EQ(parse(b, &au, why, sizeof why), LN_EINVAL);
    ASSERT(strstr(why, "keys[2].weight must be an integer >= 1") != NULL);
    b->n = 0;
    arr(b, 0);
    ASSERT_EQ(parse(b, &au, why, sizeof why), LN_EINVAL);
    ASSERT(strstr(why, "authority must be a map") != NULL);
    b->n = 0;
    map(b, 1);
    str(b, "threshold"); put8(b, 0xcf); putbe(b, 1ull << 32, 8);     /* 2^32 does not fit */
    ASSERT_EQ(parse(b, &au, why, sizeof why), LN_EINVAL);
    ASSERT(strstr(why, "authority threshold must be an integer >= 1") != NULL);
    free(b);
}

/* ---- account records ---------------------------------------------------- */

/* alice: balance 5, nonce 2, code hash cc.., owner key(1), active lent to
** bob's code with weight 2 of 2. */
static ln_account sample(void)
{
    ln_account a;
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "alice");
    a.balance = 5;
    a.nonce = 2;
    a.has_code = 1;
    memset(a.code_hash, 0xcc, LN_HASH_LEN);
    keypair k = key(1);
    ln_authority_key(&a.owner, k.pk);
    ln_authority_account(&a.active, "bob", "code");
    a.active.accounts[0].weight = 2;
    a.active.threshold = 2;
    return a;
}

/* The record of sample(), byte by byte from account.h's layout. */
static void sample_bytes(buf *b)
{
    keypair k = key(1);
    uint8_t code[LN_HASH_LEN];
    memset(code, 0xcc, sizeof code);
    b->n = 0;
    map(b, 5);
    str(b, "active");
    map(b, 3);
    str(b, "accounts"); arr(b, 1);
    map(b, 3);
    str(b, "account"); str(b, "bob");
    str(b, "permission"); str(b, "code");
    str(b, "weight"); uint_(b, 2);
    str(b, "keys"); arr(b, 0);
    str(b, "threshold"); uint_(b, 2);
    str(b, "balance"); uint_(b, 5);
    str(b, "code"); bin(b, code, LN_HASH_LEN);
    str(b, "nonce"); uint_(b, 2);
    str(b, "owner");
    map(b, 3);
    str(b, "accounts"); arr(b, 0);
    str(b, "keys"); arr(b, 1);
    map(b, 2);
    str(b, "key"); bin(b, k.pk, LN_PK_LEN);
    str(b, "weight"); uint_(b, 1);
    str(b, "threshold"); uint_(b, 1);
}

TEST(account_encode_gives_the_layout_of_account_h_and_decode_reads_it_back)
{
    ln_account a = sample(), back;
    uint8_t *p;
    size_t n;
    ASSERT_EQ(ln_account_encode(&a, &p, &n), 0);
    buf *want = newbuf();
    sample_bytes(want);
    ASSERT_EQ(n, want->n);
    ASSERT_MEM(p, want->b, n);
    memset(&back, 0, sizeof back);
    snprintf(back.name, sizeof back.name, "alice");        /* the name is the key's, kept */
    ASSERT_EQ(ln_account_decode(p, n, &back), 0);
    ASSERT_MEM(&back, &a, sizeof a);
    free(p);
    /* without code there is no code field */
    a.has_code = 0;
    memset(a.code_hash, 0, LN_HASH_LEN);
    ASSERT_EQ(ln_account_encode(&a, &p, &n), 0);
    ASSERT_EQ(p[0], 0x84);
    ASSERT_EQ(ln_codec_check(p, n), 0);
    ASSERT_EQ(ln_account_decode(p, n, &back), 0);
    ASSERT_MEM(&back, &a, sizeof a);
    free(p);
    free(want);
}

TEST(account_decode_refuses_a_record_off_the_layout)
{
    ln_account a;
    buf *b = newbuf();
    sample_bytes(b);
    memset(&a, 0, sizeof a);
    ASSERT_EQ(ln_account_decode(b->b, b->n, &a), 0);
    /* code of 31 bytes: find the bin header c4 20 and shorten it */
    buf *c = newbuf();
    for (size_t i = 0; i + 1 < b->n; i++)
        if (b->b[i] == 0xc4 && b->b[i + 1] == 0x20 && i > 60 && i < 90) {
            put(c, b->b, i);
            put8(c, 0xc4);
            put8(c, 31);
            put(c, b->b + i + 2, 31);
            put(c, b->b + i + 2 + 32, b->n - i - 34);
            break;
        }
    ASSERT(c->n == b->n - 1);
    ASSERT_EQ(ln_account_decode(c->b, c->n, &a), LN_EINVAL);
    /* no owner */
    keypair k = key(1);
    c->n = 0;
    map(c, 3);
    str(c, "active");
    map(c, 2);
    str(c, "keys"); arr(c, 1);
    map(c, 2);
    str(c, "key"); bin(c, k.pk, LN_PK_LEN);
    str(c, "weight"); uint_(c, 1);
    str(c, "threshold"); uint_(c, 1);
    str(c, "balance"); uint_(c, 5);
    str(c, "nonce"); uint_(c, 2);
    ASSERT_EQ(ln_account_decode(c->b, c->n, &a), LN_EINVAL);
    /* a balance that is not an unsigned integer */
    c->n = 0;
    put(c, b->b, b->n);
    for (size_t i = 0; i + 8 < c->n; i++)
        if (!memcmp(c->b + i, "\xa7" "balance\x05", 9)) c->b[i + 8] = 0xff;   /* -1 */
    ASSERT_EQ(ln_account_decode(c->b, c->n, &a), LN_EINVAL);
    /* not canonical: the codec's code */
    c->n = 0;
    put(c, b->b, b->n);
    put8(c, 0x00);
    ASSERT_EQ(ln_account_decode(c->b, c->n, &a), LN_ETRAILING);
    c->n = 0;
    arr(c, 0);
    ASSERT_EQ(ln_account_decode(c->b, c->n, &a), LN_EINVAL);
    free(b);
    free(c);
}

/* ---- loading and saving ------------------------------------------------- */

TEST(account_load_refuses_a_bad_name_and_reads_what_the_state_holds_now)
{
    world w = new_world();
    ln_account a = sample(), got;
    ASSERT_EQ(ln_account_save(w.ov, &a), 0);
    ASSERT_EQ(ln_account_load(w.ov, "alice", &got), 0);
    ASSERT_EQ(got.balance, 5);
    ASSERT_EQ(ln_account_exists(w.ov, "alice"), 1);
    ASSERT_EQ(ln_account_load(w.ov, "carol", &got), LN_ENOTFOUND);
    ASSERT_EQ(ln_account_exists(w.ov, "carol"), 0);
    ASSERT_EQ(ln_account_load(w.ov, "Alice", &got), LN_EBADNAME);
    ASSERT_EQ(ln_account_load(w.ov, "", &got), LN_EBADNAME);
    ASSERT_EQ(ln_account_exists(w.ov, "Alice"), 0);
    snprintf(a.name, sizeof a.name, "no way");
    ASSERT_EQ(ln_account_save(w.ov, &a), LN_EBADNAME);

    /* the record rewritten under the account (another writer of the state,
    ** a revert): the next load reads the new bytes, not what it decoded before */
    a = sample();
    a.balance = 6;
    uint8_t *p, key[16];
    size_t n, kl = ln_account_key("alice", key);
    ASSERT_EQ(ln_account_encode(&a, &p, &n), 0);
    ASSERT_EQ(ln_overlay_set(w.ov, key, kl, p, n), 0);
    free(p);
    ASSERT_EQ(ln_account_load(w.ov, "alice", &got), 0);
    ASSERT_EQ(got.balance, 6);
    ASSERT_EQ(ln_overlay_begin(w.ov), 1);
    a.balance = 7;
    ASSERT_EQ(ln_account_save(w.ov, &a), 0);
    ASSERT_EQ(ln_account_load(w.ov, "alice", &got), 0);
    ASSERT_EQ(got.balance, 7);
    ln_overlay_revert(w.ov);
    ASSERT_EQ(ln_account_load(w.ov, "alice", &got), 0);
    ASSERT_EQ(got.balance, 6);
    free_world(&w);
}

/* ---- the code permission ------------------------------------------------- */

/* Runs the check with the keys of ks and the calling contract's code. */
static int authorized_in(world *w, const char *name, const char *perm, const keypair *ks, int n,
                         const char *code)
{
    uint8_t keys[8][LN_PK_LEN];
    for (int i = 0; i < n; i++) memcpy(keys[i], ks[i].pk, LN_PK_LEN);
    ln_signers s = { (const uint8_t (*)[LN_PK_LEN])keys, (size_t)n, code };
    return ln_account_authorized(w->ov, name, perm, &s);
}

TEST(account_code_permission_is_met_only_inside_a_call_by_that_contract)
{
    world w = new_world();
    keypair ka = key(1), stranger = key(50);
    ln_authority own, act;
    ln_authority_key(&own, ka.pk);
    ln_authority_account(&act, "vault", "code");
    save(&w, "alice", &own, &act);
    ASSERT_EQ(authorized_in(&w, "alice", "active", NULL, 0, "vault"), 0);
    ASSERT_EQ(authorized_in(&w, "alice", "active", &stranger, 1, "vault"), 0);
    ASSERT_EQ(authorized_in(&w, "alice", "active", NULL, 0, "other"), LN_EAUTH);
    ASSERT_EQ(authorized_in(&w, "alice", "active", NULL, 0, ""), LN_EAUTH);
    ASSERT_EQ(authorized_in(&w, "alice", "active", NULL, 0, NULL), LN_EAUTH);
    ASSERT_EQ(authorized_in(&w, "alice", "owner", NULL, 0, "vault"), LN_EAUTH);   /* active only */
    ASSERT_EQ(authorized_in(&w, "alice", "active", &ka, 1, NULL), 0);             /* owner's key */
    /* the entry names the contract; the contract's own record plays no part */
    ASSERT_EQ(ln_account_exists(w.ov, "vault"), 0);
    free_world(&w);
}

TEST(account_code_permission_adds_its_weight_and_counts_down_through_account_permissions)
{
    world w = new_world();
    keypair kb = key(2), kc = key(3);
    ln_authority own, act;
    ln_authority_key(&own, key(9).pk);
    /* bob@active: 2 of {key kb: 1, vault's code: 1} */
    memset(&act, 0, sizeof act);
    act.threshold = 2;
    act.nkeys = 1;
    memcpy(act.keys[0].key, kb.pk, LN_PK_LEN);
    act.keys[0].weight = 1;
    act.naccounts = 1;
    snprintf(act.accounts[0].account, sizeof act.accounts[0].account, "vault");
    snprintf(act.accounts[0].permission, sizeof act.accounts[0].permission, "code");
    act.accounts[0].weight = 1;
    save(&w, "bob", &own, &act);
    ASSERT_EQ(authorized_in(&w, "bob", "active", NULL, 0, "vault"), LN_EAUTH);
    ASSERT_EQ(authorized_in(&w, "bob", "active", &kb, 1, NULL), LN_EAUTH);
    ASSERT_EQ(authorized_in(&w, "bob", "active", &kb, 1, "vault"), 0);
    /* carol@active held by bob@active: what satisfies bob satisfies carol */
    ln_authority held;
    ln_authority_account(&held, "bob", "active");
    ln_authority_key(&own, kc.pk);
    save(&w, "carol", &own, &held);
    ASSERT_EQ(authorized_in(&w, "carol", "active", &kb, 1, "vault"), 0);
    ASSERT_EQ(authorized_in(&w, "carol", "active", &kb, 1, "other"), LN_EAUTH);
    free_world(&w);
}

TEST(account_authorized_acct_checks_the_record_it_is_given)
{
    world w = new_world();
    keypair ka = key(1), kb = key(2);
    ln_account a;
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "alice");
    ln_authority_key(&a.owner, ka.pk);
    ln_authority_key(&a.active, kb.pk);
    uint8_t keys[1][LN_PK_LEN];
    memcpy(keys[0], kb.pk, LN_PK_LEN);
    ln_signers s = { (const uint8_t (*)[LN_PK_LEN])keys, 1, NULL };
    /* not in the state: ln_account_authorized cannot find it */
    ASSERT_EQ(ln_account_authorized(w.ov, "alice", "active", &s), LN_ENOACCOUNT);
    ASSERT_EQ(ln_account_authorized_acct(w.ov, &a, "active", &s), 0);
    ASSERT_EQ(ln_account_authorized_acct(w.ov, &a, "owner", &s), LN_EAUTH);
    memcpy(keys[0], ka.pk, LN_PK_LEN);
    ASSERT_EQ(ln_account_authorized_acct(w.ov, &a, "owner", &s), 0);
    ASSERT_EQ(ln_account_authorized_acct(w.ov, &a, "active", &s), 0);   /* owner is active */
    free_world(&w);
}

static const ln_test tests[] = {
    T(authority_parse_reads_keys_weights_and_threshold),
    T(authority_parse_refuses_weights_below_the_threshold),
    T(authority_parse_refuses_a_key_listed_twice),
    T(authority_parse_refuses_an_account_permission_listed_twice),
    T(authority_parse_refuses_an_unknown_field_in_an_entry),
    T(authority_parse_takes_a_key_as_64_hex_digits_and_refuses_other_lengths),
    T(authority_parse_takes_owner_active_and_code_and_refuses_other_permissions),
    T(authority_parse_refuses_more_than_eight_keys_a_zero_weight_and_a_non_map),
    T(authority_pack_then_parse_round_trips),
    T(account_encode_gives_the_layout_of_account_h_and_decode_reads_it_back),
    T(account_decode_refuses_a_record_off_the_layout),
    T(account_load_refuses_a_bad_name_and_reads_what_the_state_holds_now),
    T(account_authorized_adds_key_weights_to_the_threshold),
    T(account_authorized_follows_account_permissions_four_levels),
    T(account_authorized_ends_on_a_cycle_of_account_permissions),
    T(account_authorized_bounds_the_work_of_a_web_too_big_to_remember),
    T(account_code_permission_is_met_only_inside_a_call_by_that_contract),
    T(account_code_permission_adds_its_weight_and_counts_down_through_account_permissions),
    T(account_authorized_acct_checks_the_record_it_is_given),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
