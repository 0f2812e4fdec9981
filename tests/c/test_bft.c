/* test_bft.c -- consensus/bft.lua's rules, one validator at a time, through
** the real plugin host (core/plugin.c): the test plays the node (a host that
** records what the plugin broadcasts, persists and arms) and the three other
** validators (messages signed with their real keys). Covers what the
** multi-process specs reach only by chance: two timed-out rounds in a row,
** a lock kept across rounds, a restarted validator that never signs a second
** prevote at one height and round, and the commit certificate. */
#include "test.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "plugin.h"


#define NV 4
#define MAX_OUT 512
#define MAX_KV 32

static const char *names[NV] = { "v0", "v1", "v2", "v3" };

typedef struct {
    uint8_t pk[NV][LN_PK_LEN], sk[NV][LN_SK_LEN];
    int self;
    uint64_t height;                      /* head */
    char head_hash[65];
    struct { char key[80]; uint8_t *v; size_t n; } kv[MAX_KV];
    int nkv;
    uint8_t *out[MAX_OUT];
    size_t outn[MAX_OUT];
    int nout;
    char timers[MAX_OUT][80];
    int ntimers;
    int proposed, commits;
    char committed[65];
    uint8_t cert[4096];
    size_t certlen;
} world;

static world W;

static void hexhash(const char *data, size_t n, char out[65])
{
    uint8_t h[LN_HASH_LEN];
    ln_hash(data, n, h);
    ln_hex(h, LN_HASH_LEN, out);
}

/* ---- the host ------------------------------------------------------------ */

static size_t h_validators(void *ud, const char **out, size_t cap)
{
    (void)ud;
    for (size_t i = 0; i < NV && i < cap; i++) out[i] = names[i];
    return NV;
}
static const char *h_self(void *ud) { (void)ud; return names[W.self]; }
static void fill(ln_plugin_block *b, uint64_t height, const char *hash, const char *proposer)
{
    memset(b, 0, sizeof *b);
    b->height = height;
    ln_unhex(hash, b->hash, LN_HASH_LEN);
    snprintf(b->proposer, sizeof b->proposer, "%s", proposer);
}
static int h_head(void *ud, ln_plugin_block *b)
{
    (void)ud;
    fill(b, W.height, W.head_hash, "v0");
    return 0;
}
static char proposal[64];
static int h_propose(void *ud, ln_plugin_block *b, char *why, size_t wl)
{
    (void)ud; (void)why; (void)wl;
    char hash[65];
    int n = snprintf(proposal, sizeof proposal, "block %d by %s", ++W.proposed, names[W.self]);
    hexhash(proposal, (size_t)n, hash);
    fill(b, W.height + 1, hash, names[W.self]);
    b->data = (const uint8_t *)proposal;
    b->dlen = (size_t)n;
    return 0;
}
/* A block is its bytes; one starting "bad" does not execute. */
static int h_execute(void *ud, const uint8_t *d, size_t n, ln_plugin_block *b, char *why, size_t wl)
{
    (void)ud;
    if (n >= 3 && memcmp(d, "bad", 3) == 0) return ln_errf(why, wl, LN_EBADBLOCK, "bad block");
    char hash[65];
    hexhash((const char *)d, n, hash);
    fill(b, W.height + 1, hash, "v1");
    return 0;
}
static int h_commit(void *ud, const uint8_t hash[LN_HASH_LEN], const uint8_t *d, size_t dl,
                    const uint8_t *c, size_t cl, char *why, size_t wl)
{
    (void)ud; (void)d; (void)dl; (void)why; (void)wl;
    W.commits++;
    ln_hex(hash, LN_HASH_LEN, W.committed);
    memcpy(W.head_hash, W.committed, sizeof W.head_hash);
    W.height++;
    if (c && cl <= sizeof W.cert) {
        memcpy(W.cert, c, cl);
        W.certlen = cl;
    }
    return 0;
}
static size_t h_pending(void *ud) { (void)ud; return 1; }
static void h_timer(void *ud, uint64_t ms, const char *id)
{
    (void)ud; (void)ms;
    if (W.ntimers < MAX_OUT) snprintf(W.timers[W.ntimers++], sizeof W.timers[0], "%s", id);
}
static int h_sign(void *ud, const uint8_t *m, size_t n, uint8_t sig[64])
{
    (void)ud;
    ln_sign(W.sk[W.self], m, n, sig);
    return 0;
}
static int h_key_of(void *ud, const char *v, uint8_t pk[LN_PK_LEN])
{
    (void)ud;
    for (int i = 0; i < NV; i++)
        if (strcmp(v, names[i]) == 0) {
            memcpy(pk, W.pk[i], LN_PK_LEN);
            return 0;
        }
    return LN_ENOTFOUND;
}
static void h_log(void *ud, const char *m)
{
    (void)ud;
    if (getenv("BFT_LOG")) fprintf(stderr, "  bft: %s\n", m);
}
static int h_broadcast(void *ud, const uint8_t *m, size_t n)
{
    (void)ud;
    if (W.nout < MAX_OUT) {
        W.out[W.nout] = malloc(n);
        memcpy(W.out[W.nout], m, n);
        W.outn[W.nout++] = n;
    }
    return 0;
}
static int h_send(void *ud, const char *to, const uint8_t *m, size_t n)
{
    (void)to;
    return h_broadcast(ud, m, n);
}
static int h_persist(void *ud, const char *k, const uint8_t *v, size_t n)
{
    (void)ud;
    int i = 0;
    while (i < W.nkv && strcmp(W.kv[i].key, k) != 0) i++;
    if (i == W.nkv) {
        if (W.nkv == MAX_KV) return LN_EFULL;
        snprintf(W.kv[W.nkv++].key, sizeof W.kv[0].key, "%s", k);
    }
    free(W.kv[i].v);
    W.kv[i].v = malloc(n ? n : 1);
    memcpy(W.kv[i].v, v, n);
    W.kv[i].n = n;
    return 0;
}
static int h_recall(void *ud, const char *k, uint8_t **v, size_t *n)
{
    (void)ud;
    for (int i = 0; i < W.nkv; i++)
        if (strcmp(W.kv[i].key, k) == 0) {
            *v = malloc(W.kv[i].n ? W.kv[i].n : 1);
            memcpy(*v, W.kv[i].v, W.kv[i].n);
            *n = W.kv[i].n;
            return 0;
        }
    return LN_ENOTFOUND;
}
static uint64_t h_now(void *ud) { (void)ud; return 1000; }

static const ln_plugin_host host = {
    .validators = h_validators, .self = h_self, .head = h_head, .propose = h_propose,
    .execute = h_execute, .commit = h_commit, .pending = h_pending, .timer = h_timer,
    .sign = h_sign, .key_of = h_key_of, .log = h_log, .broadcast = h_broadcast, .send = h_send,
    .persist = h_persist, .recall = h_recall, .now_ms = h_now
};

/* ---- the world ----------------------------------------------------------- */

static void world_new(int self)
{
    for (int i = 0; i < W.nout; i++) free(W.out[i]);
    for (int i = 0; i < W.nkv; i++) free(W.kv[i].v);
    memset(&W, 0, sizeof W);
    for (int i = 0; i < NV; i++) {
        ln_keypair(W.pk[i], W.sk[i]);
    }
    W.self = self;
    memset(W.head_hash, '0', 64);
}

static ln_plugin *load(void)
{
    char path[512], why[256];
    snprintf(path, sizeof path, "%s/consensus/bft.lua", LN_SOURCE_DIR);
    FILE *f = fopen(path, "rb");
    ASSERT(f != NULL);
    static char src[65536];
    size_t n = fread(src, 1, sizeof src, f);
    fclose(f);
    ln_plugin *p;
    ASSERT_EQ(ln_plugin_load(&host, "bft.lua", src, n, NULL, 0, &p, why, sizeof why), 0);
    ASSERT_EQ(ln_plugin_start(p, why, sizeof why), 0);
    return p;
}

/* A message {k, h, r, hash, v, sig} (and pol, data for a proposal), signed
** by validator `by` as bft.lua signs. */
static void deliver(ln_plugin *p, const char *k, uint64_t h, int r, const char *hash, int by,
                    const char *data, int pol)
{
    char bytes[256];
    if (strcmp(k, "prop") == 0)
        snprintf(bytes, sizeof bytes, "lunet-bft|prop|%llu|%d|%d|%s", (unsigned long long)h, r, pol, hash);
    else
        snprintf(bytes, sizeof bytes, "lunet-bft|%s|%llu|%d|%s", k, (unsigned long long)h, r, hash);
    uint8_t sig[LN_SIG_LEN];
    ln_sign(W.sk[by], (const uint8_t *)bytes, strlen(bytes), sig);
    /* canonical: keys sorted by their bytes */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, data ? 8 : 6);
    if (data) { ln_pack_str(&pk, "data"); ln_pack_str(&pk, data); }
    ln_pack_str(&pk, "h"); msgpack_pack_uint64(&pk, h);
    ln_pack_str(&pk, "hash"); ln_pack_str(&pk, hash);
    ln_pack_str(&pk, "k"); ln_pack_str(&pk, k);
    if (data) { ln_pack_str(&pk, "pol"); msgpack_pack_int(&pk, pol); }
    ln_pack_str(&pk, "r"); msgpack_pack_int(&pk, r);
    ln_pack_str(&pk, "sig"); ln_pack_bin(&pk, sig, LN_SIG_LEN);
    ln_pack_str(&pk, "v"); ln_pack_str(&pk, names[by]);
    ASSERT_EQ(ln_codec_check((const uint8_t *)sb.data, sb.size), 0);
    const uint8_t *enc = (const uint8_t *)sb.data;
    size_t len = sb.size;
    char why[256];
    ASSERT_EQ(ln_plugin_on_message(p, names[by], enc, len, why, sizeof why), 0);
    msgpack_sbuffer_destroy(&sb);
}

static void fire(ln_plugin *p, const char *id)
{
    char why[256];
    ASSERT_EQ(ln_plugin_on_timer(p, id, why, sizeof why), 0);
}

static int armed(const char *id)
{
    for (int i = 0; i < W.ntimers; i++)
        if (strcmp(W.timers[i], id) == 0) return 1;
    return 0;
}

/* How many of this validator's broadcasts are `k` at round r (for hash,
** unless NULL; "" is nil). */
static int sent(const char *k, int r, const char *hash)
{
    int count = 0;
    for (int i = 0; i < W.nout; i++) {
        msgpack_zone z;
        msgpack_object o;
        msgpack_zone_init(&z, 1024);
        if (ln_codec_unpack(W.out[i], W.outn[i], &z, &o) == 0) {
            const msgpack_object *mk = ln_codec_map_get(&o, "k");
            const msgpack_object *mr = ln_codec_map_get(&o, "r");
            const msgpack_object *mh = ln_codec_map_get(&o, "hash");
            if (mk && mk->type == MSGPACK_OBJECT_STR && mk->via.str.size == strlen(k) &&
                memcmp(mk->via.str.ptr, k, mk->via.str.size) == 0 && mr &&
                mr->type == MSGPACK_OBJECT_POSITIVE_INTEGER && (int)mr->via.u64 == r &&
                (!hash || (mh && mh->type == MSGPACK_OBJECT_STR && mh->via.str.size == strlen(hash) &&
                           memcmp(mh->via.str.ptr, hash, mh->via.str.size) == 0)))
                count++;
        }
        msgpack_zone_destroy(&z);
    }
    return count;
}

static void block(const char *data, char hash[65]) { hexhash(data, strlen(data), hash); }

/* ---- the rules ----------------------------------------------------------- */

TEST(bft_commits_a_block_with_a_certificate_that_verify_commit_accepts)
{
    world_new(0);                          /* v0; round r's proposer at height 1 is v(1+r) */
    ln_plugin *p = load();
    char x[65];
    block("block x", x);
    deliver(p, "prop", 1, 0, x, 1, "block x", -1);
    ASSERT_EQ(sent("pv", 0, x), 1);
    deliver(p, "pv", 1, 0, x, 2, NULL, 0);
    deliver(p, "pv", 1, 0, x, 3, NULL, 0);
    ASSERT_EQ(sent("pc", 0, x), 1);        /* a polka: locked, precommitted */
    ASSERT_EQ(W.commits, 0);
    deliver(p, "pc", 1, 0, x, 2, NULL, 0);
    deliver(p, "pc", 1, 0, x, 3, NULL, 0);
    ASSERT_EQ(W.commits, 1);
    ASSERT_STR(W.committed, x);
    ln_plugin_free(p);
}

TEST(bft_two_timed_out_rounds_in_a_row_reach_round_two)
{
    world_new(0);
    ln_plugin *p = load();
    for (int r = 0; r < 2; r++) {
        char id[64];
        snprintf(id, sizeof id, "tp|1|%d", r);
        ASSERT(armed(id));
        fire(p, id);                       /* no proposal: prevote nil */
        ASSERT_EQ(sent("pv", r, ""), 1);
        deliver(p, "pv", 1, r, "", 1, NULL, 0);
        deliver(p, "pv", 1, r, "", 2, NULL, 0);
        ASSERT_EQ(sent("pc", r, ""), 1);   /* > 2/3 nil prevotes: precommit nil */
        deliver(p, "pc", 1, r, "", 1, NULL, 0);
        deliver(p, "pc", 1, r, "", 2, NULL, 0);
        snprintf(id, sizeof id, "tpc|1|%d", r);
        ASSERT(armed(id));                 /* > 2/3 precommits of any kind */
        fire(p, id);
    }
    ASSERT(armed("tp|1|2"));
    ASSERT_EQ(W.commits, 0);
    ln_plugin_free(p);
}

TEST(bft_a_lock_holds_in_later_rounds)
{
    world_new(0);
    ln_plugin *p = load();
    char x[65], y[65];
    block("block x", x);
    block("block y", y);
    deliver(p, "prop", 1, 0, x, 1, "block x", -1);
    deliver(p, "pv", 1, 0, x, 2, NULL, 0);
    deliver(p, "pv", 1, 0, x, 3, NULL, 0);
    ASSERT_EQ(sent("pc", 0, x), 1);        /* locked on x */
    deliver(p, "pc", 1, 0, "", 2, NULL, 0);
    deliver(p, "pc", 1, 0, "", 3, NULL, 0);
    fire(p, "tpc|1|0");                    /* round 1; its proposer is v2 */
    deliver(p, "prop", 1, 1, y, 2, "block y", -1);
    ASSERT_EQ(sent("pv", 1, y), 0);        /* y contradicts the lock */
    ASSERT_EQ(sent("pv", 1, ""), 1);
    ln_plugin_free(p);
}

TEST(bft_a_restarted_validator_never_prevotes_twice_at_one_height_and_round)
{
    world_new(0);
    ln_plugin *p = load();
    char x[65], y[65];
    block("block x", x);
    block("block y", y);
    deliver(p, "prop", 1, 0, x, 1, "block x", -1);
    ASSERT_EQ(sent("pv", 0, x), 1);
    ln_plugin_free(p);                     /* a crash: what was persisted stays */
    int before = W.nout;
    p = load();
    ASSERT(sent("pv", 0, x) >= 2);         /* the same vote, sent again */
    ASSERT(W.nout > before);
    deliver(p, "prop", 1, 0, y, 1, "block y", -1);
    ASSERT_EQ(sent("pv", 0, y), 0);
    ASSERT_EQ(sent("pv", 0, ""), 0);
    ln_plugin_free(p);
}

TEST(bft_a_bad_block_gets_a_nil_prevote)
{
    world_new(0);
    ln_plugin *p = load();
    char b[65];
    block("bad block", b);
    deliver(p, "prop", 1, 0, b, 1, "bad block", -1);
    ASSERT_EQ(sent("pv", 0, b), 0);
    ASSERT_EQ(sent("pv", 0, ""), 1);
    ln_plugin_free(p);
}

TEST(bft_bytes_that_do_not_match_a_proposed_hash_do_not_poison_it)
{
    world_new(0);
    ln_plugin *p = load();
    char x[65];
    block("block x", x);
    deliver(p, "prop", 1, 0, x, 1, "block y", -1);   /* signed hash x, other bytes */
    ASSERT_EQ(sent("pv", 0, ""), 1);
    deliver(p, "pv", 1, 0, "", 2, NULL, 0);
    deliver(p, "pv", 1, 0, "", 3, NULL, 0);
    deliver(p, "pc", 1, 0, "", 2, NULL, 0);
    deliver(p, "pc", 1, 0, "", 3, NULL, 0);
    fire(p, "tpc|1|0");
    deliver(p, "prop", 1, 1, x, 2, "block x", -1);   /* x again, with its bytes */
    ASSERT_EQ(sent("pv", 1, x), 1);
    ln_plugin_free(p);
}

TEST(bft_conflicting_votes_are_evidence)
{
    world_new(0);
    ln_plugin *p = load();
    char x[65], y[65];
    block("block x", x);
    block("block y", y);
    deliver(p, "pv", 1, 5, x, 3, NULL, 0);
    deliver(p, "pv", 1, 5, y, 3, NULL, 0);
    uint8_t *v;
    size_t n;
    ASSERT_EQ(h_recall(NULL, "evidence|v3|1|5|pv", &v, &n), 0);
    free(v);
    ASSERT_EQ(h_recall(NULL, "evidence|v3|1|5|pc", &v, &n), LN_ENOTFOUND);
    ln_plugin_free(p);
}

static void committed_block(ln_plugin_block *b) { fill(b, 1, W.committed, "v1"); }

TEST(bft_verify_commit_wants_more_than_two_thirds_of_valid_precommits)
{
    world_new(0);
    ln_plugin *p = load();
    char x[65];
    block("block x", x);
    deliver(p, "prop", 1, 0, x, 1, "block x", -1);
    deliver(p, "pv", 1, 0, x, 2, NULL, 0);
    deliver(p, "pv", 1, 0, x, 3, NULL, 0);
    deliver(p, "pc", 1, 0, x, 2, NULL, 0);
    deliver(p, "pc", 1, 0, x, 3, NULL, 0);
    ASSERT_EQ(W.commits, 1);
    char why[256] = "";
    ln_plugin_block cb;
    committed_block(&cb);
    ASSERT_EQ(ln_plugin_verify(p, &cb, W.cert, W.certlen, why, sizeof why), 0);
    /* the same certificate with one signature flipped */
    uint8_t bad[4096];
    memcpy(bad, W.cert, W.certlen);
    bad[W.certlen - 1] ^= 1;
    ASSERT_EQ(ln_plugin_verify(p, &cb, bad, W.certlen, why, sizeof why),
              LN_EBADBLOCK);
    ASSERT(strstr(why, "bad precommit signature") != NULL);
    /* two of four signatures */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    ln_pack_str(&pk, "round"); msgpack_pack_int(&pk, 0);
    ln_pack_str(&pk, "sigs"); msgpack_pack_map(&pk, 2);
    for (int i = 2; i <= 3; i++) {
        char bytes[128];
        snprintf(bytes, sizeof bytes, "lunet-bft|pc|1|0|%s", x);
        uint8_t sig[LN_SIG_LEN];
        ln_sign(W.sk[i], (const uint8_t *)bytes, strlen(bytes), sig);
        ln_pack_str(&pk, names[i]);
        ln_pack_bin(&pk, sig, LN_SIG_LEN);
    }
    const uint8_t *enc = (const uint8_t *)sb.data;
    size_t len = sb.size;
    ASSERT_EQ(ln_plugin_verify(p, &cb, enc, len, why, sizeof why), LN_EBADBLOCK);
    ASSERT(strstr(why, "2 of the 3 precommits") != NULL);
    msgpack_sbuffer_destroy(&sb);
    ln_plugin_free(p);
}

static const ln_test tests[] = {
    T(bft_commits_a_block_with_a_certificate_that_verify_commit_accepts),
    T(bft_two_timed_out_rounds_in_a_row_reach_round_two),
    T(bft_a_lock_holds_in_later_rounds),
    T(bft_a_restarted_validator_never_prevotes_twice_at_one_height_and_round),
    T(bft_a_bad_block_gets_a_nil_prevote),
    T(bft_bytes_that_do_not_match_a_proposed_hash_do_not_poison_it),
    T(bft_conflicting_votes_are_evidence),
    T(bft_verify_commit_wants_more_than_two_thirds_of_valid_precommits),
    { 0, 0 }
};
LN_TEST_MAIN(tests)
