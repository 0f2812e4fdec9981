/* test_plugin.c -- the consensus plugin host asking consensus/poa.lua about
** blocks from peers (ln_plugin_verify). */
#include "test.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "plugin.h"

#include <lauxlib.h>

static uint8_t vpk[LN_PK_LEN], vsk[LN_SK_LEN];

static void h_validators(void *ud, lua_State *L)
{
    (void)ud;
    lua_createtable(L, 1, 0);
    lua_pushliteral(L, "v0");
    lua_rawseti(L, -2, 1);
}
static const char *h_self(void *ud) { (void)ud; return ""; }
static void h_head(void *ud, lua_State *L) { (void)ud; lua_newtable(L); }
static int h_propose(void *ud, lua_State *L) { (void)ud; lua_pushliteral(L, "no"); return LN_EINVAL; }
static int h_execute(void *ud, lua_State *L, const uint8_t *d, size_t n)
{ (void)ud; (void)d; (void)n; lua_pushliteral(L, "no"); return LN_EINVAL; }
static int h_commit(void *ud, const char *h, const uint8_t *d, size_t dl, const uint8_t *c, size_t l,
                    char *w, size_t wl)
{ (void)ud; (void)h; (void)d; (void)dl; (void)c; (void)l; (void)w; (void)wl; return LN_EINVAL; }
static size_t h_pending(void *ud) { (void)ud; return 0; }
static void h_timer(void *ud, uint64_t ms, const char *id) { (void)ud; (void)ms; (void)id; }
static int h_sign(void *ud, const uint8_t *m, size_t n, uint8_t sig[64]) { (void)ud; (void)m; (void)n; (void)sig; return LN_EBADKEY; }
static void h_key_of(void *ud, lua_State *L, const char *v)
{
    (void)ud;
    if (strcmp(v, "v0") == 0) lua_pushlstring(L, (const char *)vpk, LN_PK_LEN);
    else lua_pushnil(L);
}
static void h_log(void *ud, const char *m) { (void)ud; (void)m; }
static int h_broadcast(void *ud, const uint8_t *m, size_t n) { (void)ud; (void)m; (void)n; return 0; }
static int h_send(void *ud, const char *to, const uint8_t *m, size_t n) { (void)ud; (void)to; (void)m; (void)n; return 0; }
static int h_persist(void *ud, const char *k, const uint8_t *v, size_t n) { (void)ud; (void)k; (void)v; (void)n; return 0; }
static int h_recall(void *ud, const char *k, uint8_t **v, size_t *n) { (void)ud; (void)k; (void)v; (void)n; return LN_ENOTFOUND; }
static uint64_t h_now(void *ud) { (void)ud; return 0; }

static const ln_plugin_host host = {
    NULL, h_validators, h_self, h_head, h_propose, h_execute, h_commit, h_pending, h_timer, h_sign,
    h_key_of, h_log, h_broadcast, h_send, h_persist, h_recall, h_now
};

typedef struct { const char *proposer; const char *hash; } blk;

static void push_blk(lua_State *L, void *ud)
{
    const blk *b = ud;
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, 1);
    lua_setfield(L, -2, "height");
    lua_pushstring(L, b->hash);
    lua_setfield(L, -2, "hash");
    lua_pushstring(L, b->proposer);
    lua_setfield(L, -2, "proposer");
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
    lua_State *L = luaL_newstate();
    uint8_t sig[LN_SIG_LEN];
    ln_sign(sk, (const uint8_t *)hash, strlen(hash), sig);
    lua_createtable(L, 0, 2);
    lua_pushlstring(L, (const char *)sig, LN_SIG_LEN);
    lua_setfield(L, -2, "sig");
    lua_pushstring(L, signer);
    lua_setfield(L, -2, "signer");
    uint8_t *enc;
    size_t len;
    ASSERT_EQ(ln_codec_encode_lua(L, -1, &enc, &len), 0);
    memcpy(out, enc, len);
    free(enc);
    lua_close(L);
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
    blk b = { "v0", HASH };
    char why[256] = "";
    ASSERT_EQ(ln_plugin_verify(p, push_blk, &b, cert, cl, why, sizeof why), 0);
    ln_plugin_free(p);
}

TEST(plugin_verify_refuses_a_block_from_the_wrong_proposer)
{
    ln_crypto_init();
    ln_keypair(vpk, vsk);
    ln_plugin *p = load_poa();
    uint8_t cert[256];
    size_t cl = cert_of("v0", HASH, vsk, cert);
    blk b = { "mallory", HASH };
    char why[256] = "";
    ASSERT_EQ(ln_plugin_verify(p, push_blk, &b, cert, cl, why, sizeof why), LN_EBADBLOCK);
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
    blk b = { "v0", HASH };
    char why[256] = "";
    ASSERT_EQ(ln_plugin_verify(p, push_blk, &b, cert, cl, why, sizeof why), LN_EBADBLOCK);
    ASSERT(strstr(why, "bad proposer signature") != NULL);
    ASSERT_EQ(ln_plugin_verify(p, push_blk, &b, NULL, 0, why, sizeof why), LN_EBADBLOCK);
    ln_plugin_free(p);
}

static const ln_test tests[] = {
    T(plugin_verify_accepts_the_proposers_signed_block),
    T(plugin_verify_refuses_a_block_from_the_wrong_proposer),
    T(plugin_verify_refuses_a_certificate_signed_by_another_key),
    { 0, 0 }
};
LN_TEST_MAIN(tests)
