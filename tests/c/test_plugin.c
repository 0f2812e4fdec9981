/* test_plugin.c -- the consensus plugin host asking consensus/poa.lua about
** blocks from peers (ln_plugin_verify). */
#include "test.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "plugin.h"


static uint8_t vpk[LN_PK_LEN], vsk[LN_SK_LEN];

static size_t h_validators(void *ud, const char **out, size_t cap)
{
    (void)ud;
    if (cap) out[0] = "v0";
    return 1;
}
static const char *h_self(void *ud) { (void)ud; return ""; }
static int h_head(void *ud, ln_plugin_block *b) { (void)ud; memset(b, 0, sizeof *b); return 0; }
static int h_propose(void *ud, ln_plugin_block *b, char *w, size_t wl)
{ (void)ud; (void)b; return ln_errf(w, wl, LN_EINVAL, "no"); }
static int h_execute(void *ud, const uint8_t *d, size_t n, ln_plugin_block *b, char *w, size_t wl)
{ (void)ud; (void)d; (void)n; (void)b; return ln_errf(w, wl, LN_EINVAL, "no"); }
static int h_commit(void *ud, const uint8_t h[LN_HASH_LEN], const uint8_t *d, size_t dl,
                    const uint8_t *c, size_t l, char *w, size_t wl)
{ (void)ud; (void)h; (void)d; (void)dl; (void)c; (void)l; (void)w; (void)wl; return LN_EINVAL; }
static size_t h_pending(void *ud) { (void)ud; return 0; }
static void h_timer(void *ud, uint64_t ms, const char *id) { (void)ud; (void)ms; (void)id; }
static int h_sign(void *ud, const uint8_t *m, size_t n, uint8_t sig[64]) { (void)ud; (void)m; (void)n; (void)sig; return LN_EBADKEY; }
static int h_key_of(void *ud, const char *v, uint8_t pk[LN_PK_LEN])
{
    (void)ud;
    if (strcmp(v, "v0") != 0) return LN_ENOTFOUND;
    memcpy(pk, vpk, LN_PK_LEN);
    return 0;
}
static int logged;
static char last_log[256];
static void h_log(void *ud, const char *m)
{
    (void)ud;
    logged++;
    snprintf(last_log, sizeof last_log, "%s", m);
}
static int h_broadcast(void *ud, const uint8_t *m, size_t n) { (void)ud; (void)m; (void)n; return 0; }
static int h_send(void *ud, const char *to, const uint8_t *m, size_t n) { (void)ud; (void)to; (void)m; (void)n; return 0; }
static int h_persist(void *ud, const char *k, const uint8_t *v, size_t n) { (void)ud; (void)k; (void)v; (void)n; return 0; }
static int h_recall(void *ud, const char *k, uint8_t **v, size_t *n) { (void)ud; (void)k; (void)v; (void)n; return LN_ENOTFOUND; }
static uint64_t h_now(void *ud) { (void)ud; return 0; }

static const ln_plugin_host host = {
    .validators = h_validators, .self = h_self, .head = h_head, .propose = h_propose,
    .execute = h_execute, .commit = h_commit, .pending = h_pending, .timer = h_timer,
    .sign = h_sign, .key_of = h_key_of, .log = h_log, .broadcast = h_broadcast, .send = h_send,
    .persist = h_persist, .recall = h_recall, .now_ms = h_now
};

/* Block 1 with this proposer and hash (hex), as a peer's header claims it. */
static ln_plugin_block blk_of(const char *proposer, const char *hash)
{
    ln_plugin_block b;
    memset(&b, 0, sizeof b);
    b.height = 1;
    ln_unhex(hash, b.hash, LN_HASH_LEN);
    snprintf(b.proposer, sizeof b.proposer, "%s", proposer);
    return b;
}

static ln_plugin *load_poa(void)
{
    char path[512], why[256];
    snprintf(path, sizeof path, "%s/consensus/poa.lua", LN_SOURCE_DIR);
    FILE *f = fopen(path, "rb");
    ASSERT(f != NULL);
    static char src[16384];
    size_t n = fread(src, 1, sizeof src, f);
    fclose(f);
    ln_plugin *p;
    ASSERT_EQ(ln_plugin_load(&host, "poa.lua", src, n, NULL, 0, &p, why, sizeof why), 0);
    return p;
}

/* cert = {sig = sign(hash), signer = name}, canonical msgpack */
static size_t cert_of(const char *signer, const char *hash, const uint8_t sk[LN_SK_LEN],
                      uint8_t *out)
{
    uint8_t sig[LN_SIG_LEN];
    ln_sign(sk, (const uint8_t *)hash, strlen(hash), sig);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    ln_pack_str(&pk, "sig");
    ln_pack_bin(&pk, sig, LN_SIG_LEN);
    ln_pack_str(&pk, "signer");
    ln_pack_str(&pk, signer);
    size_t len = sb.size;
    memcpy(out, sb.data, len);
    msgpack_sbuffer_destroy(&sb);
    return len;
}

static const char HASH[] = "5b45b4d200bbe15861418ea7d8b1735d41af8f92ab781b52d3e0f79a6744cfbb";

TEST(plugin_verify_accepts_the_proposers_signed_block)
{
    ln_crypto_init();
    ln_keypair(vpk, vsk);
    ln_plugin *p = load_poa();
    uint8_t cert[256];
    size_t cl = cert_of("v0", HASH, vsk, cert);
    ln_plugin_block b = blk_of("v0", HASH);
    char why[256] = "";
    ASSERT_EQ(ln_plugin_verify(p, &b, cert, cl, why, sizeof why), 0);
    ln_plugin_free(p);
}

TEST(plugin_verify_refuses_a_block_from_the_wrong_proposer)
{
    ln_crypto_init();
    ln_keypair(vpk, vsk);
    ln_plugin *p = load_poa();
    uint8_t cert[256];
    size_t cl = cert_of("v0", HASH, vsk, cert);
    ln_plugin_block b = blk_of("mallory", HASH);
    char why[256] = "";
    ASSERT_EQ(ln_plugin_verify(p, &b, cert, cl, why, sizeof why), LN_EBADBLOCK);
    ASSERT(strstr(why, "proposer mallory is not v0") != NULL);
    ln_plugin_free(p);
}

TEST(plugin_verify_refuses_a_certificate_signed_by_another_key)
{
    ln_crypto_init();
    ln_keypair(vpk, vsk);
    uint8_t opk[LN_PK_LEN], osk[LN_SK_LEN];
    ln_keypair(opk, osk);
    ln_plugin *p = load_poa();
    uint8_t cert[256];
    size_t cl = cert_of("v0", HASH, osk, cert);
    ln_plugin_block b = blk_of("v0", HASH);
    char why[256] = "";
    ASSERT_EQ(ln_plugin_verify(p, &b, cert, cl, why, sizeof why), LN_EBADBLOCK);
    ASSERT(strstr(why, "bad proposer signature") != NULL);
    ASSERT_EQ(ln_plugin_verify(p, &b, NULL, 0, why, sizeof why), LN_EBADBLOCK);
    ln_plugin_free(p);
}

/* A plugin that logs what on_message gets. */
static ln_plugin *load_listener(void)
{
    static const char src[] =
        "local M, node = {}, nil\n"
        "function M.init(host) node = host end\n"
        "function M.on_message(from, m) node.log(from .. ' sent ' .. tostring(m.k)) end\n"
        "function M.verify_commit(b, cert) node.log('cert ' .. type(cert)) return true end\n"
        "return M\n";
    ln_plugin *p;
    char why[256];
    ASSERT_EQ(ln_plugin_load(&host, "listener.lua", src, sizeof src - 1, NULL, 0, &p, why,
                             sizeof why), 0);
    logged = 0;
    return p;
}

/* [[], [], ...]: n empty arrays (array32). */
static uint8_t *empties(size_t n, size_t *len)
{
    uint8_t *m = malloc(5 + n);
    ASSERT(m);
    m[0] = 0xdd;
    m[1] = (uint8_t)(n >> 24); m[2] = (uint8_t)(n >> 16); m[3] = (uint8_t)(n >> 8); m[4] = (uint8_t)n;
    memset(m + 5, 0x90, n);
    *len = 5 + n;
    return m;
}

TEST(plugin_message_reaches_on_message_decoded)
{
    ln_crypto_init();
    ln_plugin *p = load_listener();
    static const uint8_t m[] = { 0x81, 0xa1, 'k', 0xa2, 'p', 'v' };   /* {k = "pv"} */
    char why[256] = "";
    ASSERT_EQ(ln_plugin_on_message(p, "v0", m, sizeof m, why, sizeof why), 0);
    ASSERT_EQ(logged, 1);
    ASSERT_STR(last_log, "v0 sent pv");
    ln_plugin_free(p);
}

TEST(plugin_message_out_of_proportion_is_refused_before_anything_is_built)
{
    ln_crypto_init();
    ln_plugin *p = load_listener();
    size_t len;
    uint8_t *m = empties(8449944, &len);
    char why[256] = "";
    ASSERT_EQ(ln_plugin_on_message(p, "v0", m, len, why, sizeof why), LN_ETOOBIG);
    ASSERT(strstr(why, "more than 16384 objects") != NULL);
    free(m);
    /* Within the count, but big once built: 16000 strings of 4 KiB. */
    size_t k = 16000, sl = 4096;
    m = malloc(5 + k * (3 + sl));
    ASSERT(m);
    m[0] = 0xdd; m[1] = 0; m[2] = 0; m[3] = (uint8_t)(k >> 8); m[4] = (uint8_t)k;
    for (size_t i = 0; i < k; i++) {
        uint8_t *e = m + 5 + i * (3 + sl);
        e[0] = 0xc5; e[1] = (uint8_t)(sl >> 8); e[2] = (uint8_t)sl;
        memset(e + 3, 'x', sl);
    }
    ASSERT_EQ(ln_plugin_on_message(p, "v0", m, 5 + k * (3 + sl), why, sizeof why), LN_ETOOBIG);
    ASSERT(strstr(why, "once decoded") != NULL);
    free(m);
    ASSERT_EQ(logged, 0);                /* the plugin never ran */
    ln_plugin_free(p);
}

TEST(plugin_message_that_does_not_decode_is_refused_with_the_codecs_code)
{
    ln_crypto_init();
    ln_plugin *p = load_listener();
    static const uint8_t noncanon[] = { 0x81, 0xa1, 'k', 0xcc, 0x05 };   /* 5 as uint8 */
    static const uint8_t cut[] = { 0x82, 0xa1, 'k' };
    char why[256] = "";
    ASSERT_EQ(ln_plugin_on_message(p, "v0", noncanon, sizeof noncanon, why, sizeof why),
              LN_ENONCANON);
    ASSERT_EQ(ln_plugin_on_message(p, "v0", cut, sizeof cut, why, sizeof why), LN_ETRUNC);
    ASSERT_EQ(logged, 0);
    ln_plugin_free(p);
}

TEST(plugin_verify_refuses_a_certificate_out_of_proportion)
{
    ln_crypto_init();
    ln_plugin *p = load_listener();
    size_t len;
    uint8_t *cert = empties(20000, &len);
    ln_plugin_block b = blk_of("v0", HASH);
    char why[256] = "";
    ASSERT_EQ(ln_plugin_verify(p, &b, cert, len, why, sizeof why), LN_ETOOBIG);
    ASSERT_EQ(logged, 0);                /* refused before verify_commit */
    free(cert);
    static const uint8_t small[] = { 0x90 };
    ASSERT_EQ(ln_plugin_verify(p, &b, small, sizeof small, why, sizeof why), 0);
    ASSERT_STR(last_log, "cert table");  /* decoded inside the call */
    ln_plugin_free(p);
}

/* A value whose encoding is far more work than its size ({t, t} nested 28
** deep: 2^28 visits) stops the callback at its budget, instead of the node. */
TEST(plugin_encoding_a_shared_table_is_charged_and_stops_at_the_budget)
{
    static const char src[] =
        "local M, node = {}, nil\n"
        "function M.init(host) node = host end\n"
        "function M.on_timer(id)\n"
        "  local t = {}\n"
        "  for i = 1, 28 do t = { t, t } end\n"
        "  node.broadcast(t)\n"
        "end\n"
        "return M\n";
    ln_crypto_init();
    ln_plugin *p;
    char why[256];
    ASSERT_EQ(ln_plugin_load(&host, "dag.lua", src, sizeof src - 1, NULL, 0, &p, why, sizeof why), 0);
    ASSERT_EQ(ln_plugin_on_timer(p, "go", why, sizeof why), LN_EPLUGIN);
    ASSERT(strstr(why, "budget") != NULL);
    ln_plugin_free(p);
}

/* ln_plugin_gas: what the chunk and each callback ran, in instructions;
** a callback stopped at its budget counts the whole budget. */
TEST(plugin_gas_adds_up_the_instructions_of_its_callbacks)
{
    static const char src[] =
        "local M, x = {}, 0\n"
        "function M.on_timer(id)\n"
        "  if id == 'loop' then while true do x = x + 1 end end\n"
        "  for i = 1, 1000 do x = x + i end\n"
        "end\n"
        "return M\n";
    ln_plugin *p;
    char why[256];
    ASSERT_EQ(ln_plugin_load(&host, "count.lua", src, sizeof src - 1, NULL, 0, &p, why, sizeof why), 0);
    uint64_t g0 = ln_plugin_gas(p);
    ASSERT(g0 > 0);                                   /* the chunk and init */
    ASSERT_EQ(ln_plugin_on_timer(p, "go", why, sizeof why), 0);
    uint64_t g1 = ln_plugin_gas(p);
    ASSERT(g1 - g0 >= 4000 && g1 - g0 < 5000);        /* 4 instructions an iteration */
    ASSERT_EQ(ln_plugin_on_timer(p, "loop", why, sizeof why), LN_EPLUGIN);
    ASSERT_EQ(ln_plugin_gas(p) - g1, LN_PLUGIN_BUDGET);
    ln_plugin_free(p);
}

/* pow.lua: FORKS = true; node.mine refuses a bad target and is not offered
** by this host; on_block and on_mined reach it; its verify_block reads the
** block's consensus data (the parent: node.block is not offered here). */
TEST(plugin_forks_and_the_fork_hosts_functions)
{
    char path[512], why[256];
    snprintf(path, sizeof path, "%s/consensus/pow.lua", LN_SOURCE_DIR);
    FILE *f = fopen(path, "rb");
    ASSERT(f);
    static char src[65536];
    size_t n = fread(src, 1, sizeof src, f);
    fclose(f);
    ln_plugin *p;
    ASSERT_EQ(ln_plugin_load(&host, "pow.lua", src, n, NULL, 0, &p, why, sizeof why), 0);
    ASSERT_EQ(ln_plugin_forks(p), 1);
    /* No job: an end of search is ignored. */
    uint8_t h[LN_HASH_LEN] = { 0 };
    ASSERT_EQ(ln_plugin_on_mined(p, 0, 0, h, 5, why, sizeof why), 0);
    /* A block without pow data is refused before its parent is asked for. */
    ln_plugin_block b;
    memset(&b, 0, sizeof b);
    snprintf(b.proposer, sizeof b.proposer, "v0");
    b.height = 1;
    ASSERT_EQ(ln_plugin_verify(p, &b, NULL, 0, why, sizeof why), LN_EBADBLOCK);
    ASSERT(strstr(why, "no proof-of-work data") != NULL);
    /* With data: node.block is not offered by this host: the plugin fails. */
    static const uint8_t cons[] = { 0x84, 0xa1, 'd', 0x01, 0xa1, 's', 0x00, 0xa1, 't', 0x00,
                                    0xa1, 'w', 0x01 };
    memcpy(b.cons, cons, sizeof cons);
    b.cons_len = sizeof cons;
    ASSERT_EQ(ln_plugin_verify(p, &b, NULL, 0, why, sizeof why), LN_EPLUGIN);
    ASSERT(strstr(why, "node.block: not offered here") != NULL);
    ASSERT_EQ(ln_plugin_on_block(p, &b, why, sizeof why), LN_EPLUGIN);
    ln_plugin_free(p);

    /* Another plugin: no FORKS; node.mine needs a host that offers it. */
    static const char mine_src[] =
        "local M, node = {}, nil\n"
        "function M.init(host) node = host end\n"
        "function M.on_timer(id) node.mine('x', id, 10) end\n"
        "return M\n";
    ASSERT_EQ(ln_plugin_load(&host, "miner.lua", mine_src, sizeof mine_src - 1, NULL, 0, &p, why,
                             sizeof why), 0);
    ASSERT_EQ(ln_plugin_forks(p), 0);
    ASSERT_EQ(ln_plugin_on_timer(p, "not hex", why, sizeof why), LN_EPLUGIN);
    ASSERT(strstr(why, "node.mine: not offered here") != NULL);
    ln_plugin_free(p);
}

static const ln_test tests[] = {
    T(plugin_forks_and_the_fork_hosts_functions),
    T(plugin_gas_adds_up_the_instructions_of_its_callbacks),
    T(plugin_encoding_a_shared_table_is_charged_and_stops_at_the_budget),
    T(plugin_message_reaches_on_message_decoded),
    T(plugin_message_out_of_proportion_is_refused_before_anything_is_built),
    T(plugin_message_that_does_not_decode_is_refused_with_the_codecs_code),
    T(plugin_verify_refuses_a_certificate_out_of_proportion),
    T(plugin_verify_accepts_the_proposers_signed_block),
    T(plugin_verify_refuses_a_block_from_the_wrong_proposer),
    T(plugin_verify_refuses_a_certificate_signed_by_another_key),
    { 0, 0 }
};
LN_TEST_MAIN(tests)
