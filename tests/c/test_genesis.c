/* test_genesis.c -- a chain's genesis from its config (core/genesis.c):
** config files written to a temporary folder, each refusal with LN_ECONFIG
** and the reason it gives, the state a good config makes (accounts,
** validators, the record "g", the consensus plugin in the registry), keys
** from HOME/keys and made in dev mode, and the record's own round trip. */
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "codec.h"
#include "config.h"
#include "crypto.h"
#include "err.h"
#include "genesis.h"
#include "registry.h"

/* ---- a folder with a config, a plugin and a home ------------------------ */

static char dir[64], config[128], home[128];

/* 64 hex digits of byte b, repeated. */
static const char *hexkey(int b)
{
    static char buf[4][2 * LN_PK_LEN + 1];
    static int k;
    char *p = buf[k++ & 3];
    for (int i = 0; i < LN_PK_LEN; i++) snprintf(p + 2 * i, 3, "%02x", b);
    return p;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    ASSERT(fputs(text, f) >= 0);
    ASSERT_EQ(fclose(f), 0);
}

/* DIR/configs/config.lua, DIR/consensus/tiny.lua, DIR/home (empty). */
static void setup(void)
{
    char path[160];
    ln_test_tmpdir(dir, sizeof dir, "genesis");
    ASSERT_EQ(ln_crypto_init(), 0);
    snprintf(path, sizeof path, "%s/configs", dir);
    ASSERT_EQ(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/consensus", dir);
    ASSERT_EQ(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/consensus/tiny.lua", dir);
    write_file(path, "return { NAME = 'tiny' }\n");
    snprintf(config, sizeof config, "%s/configs/config.lua", dir);
    snprintf(home, sizeof home, "%s/home", dir);
    ASSERT_EQ(mkdir(home, 0700), 0);
}

static void teardown(void) { ln_test_rmtree(dir); }

/* A config that makes a chain, in three fields. A later field of a Lua
** table constructor replaces an earlier one, so VALS ", " CONS ", chain_id = 5"
** changes one field. */
#define CHAIN "chain_id = 'test'"
#define VALS  "validators = { { name = 'node0', key = '@K@' } }"
#define CONS  "consensus = { plugin = 'consensus/tiny.lua' }"
#define BASE  CHAIN ", " VALS ", " CONS

/* Writes `return { FIELDS }`, each @K@ in FIELDS replaced by the hex of one
** key, and builds a genesis from it over a fresh in-memory state. */
typedef struct {
    int rc;
    char err[512];
    ln_genesis g;
    uint64_t time;
    ln_state *st;
    ln_overlay *ov;
} built;

static built *build(const char *fields, int dev)
{
    built *b = calloc(1, sizeof *b);
    static char text[32768];
    ASSERT(b != NULL);
    const char *key = hexkey(0xa0);
    size_t n = 0;
    n += (size_t)snprintf(text, sizeof text, "return { ");
    for (const char *f = fields; *f; ) {
        ASSERT(n + 2 * LN_PK_LEN + 8 < sizeof text);
        if (!strncmp(f, "@K@", 3)) {
            memcpy(text + n, key, 2 * LN_PK_LEN);
            n += 2 * LN_PK_LEN;
            f += 3;
        } else {
            text[n++] = *f++;
        }
    }
    snprintf(text + n, sizeof text - n, " }\n");
    write_file(config, text);
    ASSERT_EQ(ln_state_open(NULL, &b->st), 0);
    b->ov = ln_overlay_new(b->st);
    ASSERT(b->ov != NULL);
    ln_genesis_spec spec = { config, home, dev, "f00d" };
    b->rc = ln_genesis_build(&spec, b->ov, &b->g, &b->time, b->err, sizeof b->err);
    return b;
}

static void built_free(built *b)
{
    ln_overlay_free(b->ov);
    ln_state_close(b->st);
    free(b);
}

/* The config FIELDS is refused with LN_ECONFIG and a reason that says why. */
static void refused(const char *fields, const char *why)
{
    built *b = build(fields, 0);
    if (b->rc != LN_ECONFIG)
        LN_FAIL("{ %s } gave %s (%s), want ECONFIG", fields, ln_errname(b->rc), b->err);
    if (!strstr(b->err, why))
        LN_FAIL("{ %s }: \"%s\" does not say \"%s\"", fields, b->err, why);
    built_free(b);
}

/* ---- a good config ---------------------------------------------------------- */

TEST(genesis_build_writes_accounts_validators_the_record_and_the_consensus_plugin)
{
    setup();
    ln_key k;
    memset(&k, 0, sizeof k);
    snprintf(k.account, sizeof k.account, "node1");
    ln_keypair(k.pk, k.sk);
    ASSERT_EQ(ln_keyfile_write(home, &k, 0), 0);
    char fields[2048];
    snprintf(fields, sizeof fields,
             "chain_id = 'consortium-1', genesis_time = 1767225600, admin = 'alice', "
             "accounts = { { name = 'alice', balance = 1000, key = '@K@' }, "
             "             { name = 'bob', key = '%s' } }, "
             "validators = { { name = 'node0', key = '%s' }, 'node1' }, "
             "members = { '%s' }, "
             "consensus = { plugin = 'consensus/tiny.lua', params = { block_ms = 500 } }",
             hexkey(0xb0), hexkey(0xc0), hexkey(0xd0));
    built *b = build(fields, 0);
    if (b->rc) LN_FAIL("%s", b->err);
    ASSERT_EQ(b->time, 1767225600);
    ln_genesis *g = &b->g;
    ASSERT_STR(g->chain_id, "consortium-1");
    ASSERT_STR(g->fingerprint, "f00d");
    ASSERT_STR(g->m.admin, "alice");
    ASSERT_EQ(g->m.nval, 2);
    ASSERT_STR(g->m.val_names[0], "node0");
    ASSERT_STR(g->m.val_names[1], "node1");
    ASSERT_MEM(g->m.val_keys[1], k.pk, LN_PK_LEN);
    ASSERT_EQ(g->m.nmem, 1);
    ASSERT_EQ(g->m.mem_keys[0][0], 0xd0);

    /* accounts: each held by its key; validators too */
    const char *names[] = { "alice", "bob", "node0", "node1" };
    const int first[] = { 0xa0, 0xb0, 0xc0, -1 };
    const uint64_t bal[] = { 1000, 0, 0, 0 };
    for (int i = 0; i < 4; i++) {
        ln_account a;
        ASSERT_EQ(ln_account_load(b->ov, names[i], &a), 0);
        ASSERT_EQ(a.balance, bal[i]);
        ASSERT_EQ(a.nonce, 0);
        ASSERT_EQ(a.owner.nkeys, 1);
        ASSERT_MEM(&a.active, &a.owner, sizeof a.owner);
        if (first[i] >= 0) ASSERT_EQ(a.owner.keys[0].key[0], first[i]);
        else ASSERT_MEM(a.owner.keys[0].key, k.pk, LN_PK_LEN);
    }
    /* the record as written is the one returned */
    ln_genesis back;
    ASSERT_EQ(ln_genesis_load(b->ov, &back), 0);
    ASSERT_MEM(&back, g, sizeof back);
    /* the plugin: its file's base name, its code and params from height 0 */
    ln_plugin_ref ref;
    ASSERT_EQ(ln_registry_at(b->ov, LN_SLOT_CONSENSUS, 0, &ref), 0);
    ASSERT_STR(ref.name, "tiny");
    ASSERT_EQ(ref.from, 0);
    static const uint8_t params[] = { 0x81, 0xa8, 'b', 'l', 'o', 'c', 'k', '_', 'm', 's', 0xcd, 0x01, 0xf4 };
    ASSERT_EQ(ref.plen, sizeof params);
    ASSERT_MEM(ref.params, params, sizeof params);
    char *code;
    size_t cl;
    ASSERT_EQ(ln_registry_code(b->ov, ref.hash, &code, &cl), 0);
    ASSERT_STR(code, "return { NAME = 'tiny' }\n");
    free(code);
    ln_plugin_ref_free(&ref);
    built_free(b);
    teardown();
}

TEST(genesis_build_without_a_genesis_time_takes_the_time_now_and_empty_params)
{
    setup();
    /* The clock the genesis reads: time() is a coarser one, and may still
    ** say the second before. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t before = (uint64_t)ts.tv_sec;
    built *b = build(BASE, 0);
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t after = (uint64_t)ts.tv_sec;
    if (b->rc) LN_FAIL("%s", b->err);
    ASSERT(b->time >= before && b->time <= after);
    ASSERT_STR(b->g.m.admin, "");
    ASSERT_EQ(b->g.m.nmem, 0);
    ln_plugin_ref ref;
    ASSERT_EQ(ln_registry_at(b->ov, LN_SLOT_CONSENSUS, 0, &ref), 0);
    ASSERT_EQ(ref.plen, 1);
    ASSERT_EQ(ref.params[0], 0x80);            /* {} */
    ln_plugin_ref_free(&ref);
    built_free(b);
    /* params = {} is an empty table, which Lua cannot tell from a list */
    b = build(CHAIN ", " VALS ", consensus = { plugin = 'consensus/tiny.lua', params = {} }", 0);
    ASSERT_EQ(b->rc, 0);
    built_free(b);
    teardown();
}

TEST(genesis_build_in_dev_mode_makes_the_missing_keys_and_then_reads_them)
{
    setup();
    const char *fields = "chain_id = 'dev', accounts = { { name = 'alice', balance = 5 } }, "
                         "validators = { 'node0' }, consensus = { plugin = 'consensus/tiny.lua' }";
    built *b = build(fields, 0);                 /* not in dev mode: no key, no chain */
    ASSERT_EQ(b->rc, LN_ECONFIG);
    if (!strstr(b->err, "account alice has no key in the config and ") ||
        !strstr(b->err, "/home/keys/alice.key"))
        LN_FAIL("%s", b->err);
    built_free(b);

    b = build(fields, 1);
    if (b->rc) LN_FAIL("%s", b->err);
    char path[256];
    struct stat sb;
    ln_key ka, kn;
    snprintf(path, sizeof path, "%s/keys/alice.key", home);
    ASSERT_EQ(stat(path, &sb), 0);
    ASSERT_EQ(sb.st_mode & 0777, 0600);
    ASSERT_EQ(ln_keyfile_read(path, &ka, NULL, 0), 0);
    snprintf(path, sizeof path, "%s/keys/node0.key", home);
    ASSERT_EQ(ln_keyfile_read(path, &kn, NULL, 0), 0);
    ln_account a;
    ASSERT_EQ(ln_account_load(b->ov, "alice", &a), 0);
    ASSERT_MEM(a.owner.keys[0].key, ka.pk, LN_PK_LEN);
    ASSERT_MEM(b->g.m.val_keys[0], kn.pk, LN_PK_LEN);
    uint8_t root1[LN_HASH_LEN], root2[LN_HASH_LEN];
    ASSERT_EQ(ln_overlay_root(b->ov, root1), 0);
    built_free(b);

    /* again, dev or not: the same keys, so the same state */
    b = build(fields, 0);
    if (b->rc) LN_FAIL("%s", b->err);
    ASSERT_EQ(ln_overlay_root(b->ov, root2), 0);
    ASSERT_MEM(root1, root2, LN_HASH_LEN);
    built_free(b);
    teardown();
}

/* ---- configs that cannot make a chain --------------------------------------- */

TEST(genesis_build_refuses_a_config_that_is_not_a_table_of_known_fields)
{
    setup();
    write_file(config, "return {");
    ln_state *st;
    ASSERT_EQ(ln_state_open(NULL, &st), 0);
    ln_overlay *ov = ln_overlay_new(st);
    ln_genesis g;
    uint64_t t;
    char err[512];
    ln_genesis_spec spec = { config, home, 0, "f00d" };
    ASSERT_EQ(ln_genesis_build(&spec, ov, &g, &t, err, sizeof err), LN_ECONFIG);
    ASSERT(strstr(err, "config.lua") != NULL);
    write_file(config, "return 'x'");
    ASSERT_EQ(ln_genesis_build(&spec, ov, &g, &t, err, sizeof err), LN_ECONFIG);
    ASSERT(strstr(err, "must return a table") != NULL);
    spec.config = "/nonexistent/config.lua";
    ASSERT_EQ(ln_genesis_build(&spec, ov, &g, &t, err, sizeof err), LN_ECONFIG);
    ASSERT(strstr(err, "config /nonexistent/config.lua: cannot read") != NULL);
    ln_overlay_free(ov);
    ln_state_close(st);

    refused("1, 2", "config: must be a table");
    refused(BASE ", acounts = {}", "config: unknown field 'acounts' (known: accounts, admin, "
                                   "chain_id, consensus, genesis_time, governance, members, params, pricing, validators)");
    refused(BASE ", genesis_time = 0.5", "configs are data");
    teardown();
}

TEST(genesis_build_refuses_a_bad_chain_id_genesis_time_or_admin)
{
    setup();
    const char *chain = "config: chain_id must be 1-64 printable ASCII characters, "
                        "no space, quote or backslash";
    refused(VALS ", " CONS, chain);
    refused(VALS ", " CONS ", chain_id = 5", chain);
    refused(VALS ", " CONS ", chain_id = ''", chain);
    refused(VALS ", " CONS ", chain_id = string.rep('c', 65)", chain);
    refused(VALS ", " CONS ", chain_id = 'a b'", chain);
    refused(VALS ", " CONS ", chain_id = 'a\"b'", chain);
    built *b = build(VALS ", " CONS ", chain_id = string.rep('c', 64)", 0);
    ASSERT_EQ(b->rc, 0);
    built_free(b);
    const char *gt = "config: genesis_time must be a non-negative integer (unix seconds)";
    refused(BASE ", genesis_time = 'now'", gt);
    refused(BASE ", genesis_time = -1", gt);
    refused(BASE ", admin = 'Root'", "config: admin must be the name of an account in accounts "
                                     "or validators");
    refused(BASE ", admin = 5", "config: admin must be the name");
    refused(BASE ", admin = 'carol'", "config: admin carol is not in accounts or validators");
    b = build(BASE ", admin = 'node0'", 0);       /* a validator is an account */
    ASSERT_EQ(b->rc, 0);
    ASSERT_STR(b->g.m.admin, "node0");
    built_free(b);
    teardown();
}

TEST(genesis_build_refuses_bad_accounts)
{
    setup();
    char f[1024];
#define ACCTS(list) (snprintf(f, sizeof f, "%s, accounts = %s", BASE, list), f)
    refused(ACCTS("'alice'"), "config: accounts must be a list of {name=, balance=, key=}");
    refused(ACCTS("{ x = 1 }"), "config: accounts must be a list");
    refused(ACCTS("{ 5 }"), "config: accounts[1].name must be an account name (not sys, gov or treasury)");
    refused(ACCTS("{ { balance = 1 } }"), "config: accounts[1].name must be an account name");
    refused(ACCTS("{ { name = 'sys' } }"), "config: accounts[1].name must be an account name (not sys, gov or treasury)");
    refused(ACCTS("{ { name = 'Alice' } }"), "config: accounts[1].name must be an account name");
    refused(ACCTS("{ { name = 'alice', key = '@K@' }, { name = 'alice', key = '@K@' } }"),
            "config: accounts[2]: alice is listed twice");
    refused(ACCTS("{ { name = 'alice', balance = 'lots' } }"),
            "config: accounts[1].balance must be a non-negative integer");
    refused(ACCTS("{ { name = 'alice', balance = -1 } }"),
            "config: accounts[1].balance must be a non-negative integer");
    refused(ACCTS("{ { name = 'alice', key = 'abc' } }"),
            "account alice: key must be 64 hex digits (or left out to use HOME/keys/alice.key)");
    refused(ACCTS("{ { name = 'alice', key = 7 } }"), "account alice: key must be 64 hex digits");
    refused(ACCTS("{ { name = 'alice', key = string.rep('zz', 32) } }"), "account alice: key is not hex");
    refused(ACCTS("{ { name = 'alice' } }"), "account alice has no key in the config and ");
#undef ACCTS
    teardown();
}

TEST(genesis_build_refuses_bad_validators_and_members)
{
    setup();
    static char f[32768];
    const char *vals = "config: validators must be a list of 1-64 names";
    refused(CHAIN ", " CONS, vals);
    refused(CHAIN ", " CONS ", validators = {}", vals);
    refused(CHAIN ", " CONS ", validators = 'node0'", vals);
    int n = snprintf(f, sizeof f, "%s, validators = { ", CHAIN ", " CONS);
    for (int i = 0; i < 65; i++)
        n += snprintf(f + n, sizeof f - (size_t)n, "{ name = 'v%d', key = '%s' }, ", i, hexkey(i));
    snprintf(f + n, sizeof f - (size_t)n, "}");
    refused(f, vals);
    const char *one = "config: validators[1] must be a name (not sys, gov or treasury) or {name=, key=}";
    refused(CHAIN ", " CONS ", validators = { 'sys' }", one);
    refused(CHAIN ", " CONS ", validators = { 'Node0' }", one);
    refused(CHAIN ", " CONS ", validators = { 5 }", one);
    refused(CHAIN ", " CONS ", validators = { 'thirteen.chr' .. 's' }", one);
    refused(CHAIN ", " CONS ", validators = { { key = '@K@' } }", one);
    refused(CHAIN ", " CONS ", validators = { { name = 'node0', key = '@K@' }, { name = 'node0', key = '@K@' } }",
            "config: validators[2]: node0 is listed twice");
    refused(CHAIN ", " CONS ", validators = { { name = 'node0', key = 'abc' } }",
            "account node0: key must be 64 hex digits");
    refused(CHAIN ", " CONS ", validators = { 'node9' }", "account node9 has no key in the config and ");
    refused(CHAIN ", " CONS ", validators = { { name = 'node0', key = '@K@' }, { name = 'node1', key = '@K@' } }",
            "config: validators[2]: node1 has the key of node0");

    refused(BASE ", members = 'x'", "config: members must be a list of up to 256 public keys (hex)");
    const char *mem = "config: members[2] must be a public key, 64 hex digits";
    snprintf(f, sizeof f, "%s, members = { '%s', 'abcd' }", BASE, hexkey(1));
    refused(f, mem);
    snprintf(f, sizeof f, "%s, members = { '%s', 5 }", BASE, hexkey(1));
    refused(f, mem);
    snprintf(f, sizeof f, "%s, members = { '%s', string.rep('zz', 32) }", BASE, hexkey(1));
    refused(f, mem);
    snprintf(f, sizeof f, "%s, members = { '%s', '%s' }", BASE, hexkey(1), hexkey(1));
    refused(f, "config: members[2] is listed twice");
    n = snprintf(f, sizeof f, "%s, members = { ", BASE);
    for (int i = 0; i < 257; i++)
        n += snprintf(f + n, sizeof f - (size_t)n, "'%04x%s', ", i, hexkey(0) + 4);
    snprintf(f + n, sizeof f - (size_t)n, "}");
    ASSERT((size_t)n < sizeof f - 2);
    refused(f, "config: members must be a list of up to 256 public keys (hex)");
    teardown();
}

TEST(genesis_build_refuses_a_consensus_slot_that_names_no_readable_plugin)
{
    setup();
    const char *slot = "config: consensus = { plugin = \"consensus/NAME.lua\", params = {...} }";
    refused(CHAIN ", " VALS, slot);
    refused(CHAIN ", " VALS ", consensus = 'poa'", slot);
    refused(CHAIN ", " VALS ", consensus = { params = {} }", slot);
    refused(CHAIN ", " VALS ", consensus = { plugin = 5 }", slot);
    refused(CHAIN ", " VALS ", consensus = { plugin = '/nonexistent/poa.lua' }",
            "config: consensus plugin /nonexistent/poa.lua: cannot read");
    refused(CHAIN ", " VALS ", consensus = { plugin = 'consensus/tiny.lua', params = 5 }",
            "config: consensus.params must be a table of named values");
    refused(CHAIN ", " VALS ", consensus = { plugin = 'consensus/tiny.lua', params = { 1, 2 } }",
            "config: consensus.params must be a table of named values");
    refused(CHAIN ", " VALS ", consensus = { plugin = 'consensus/.lua' }",
            "config: consensus plugin consensus/.lua: its name must be 1-31 characters");
    char path[256], big[512];
    snprintf(path, sizeof path, "%s/consensus/p_with_a_name_far_longer_than_thirty_one.lua", dir);
    write_file(path, "return {}\n");
    snprintf(big, sizeof big, "%s, consensus = { plugin = '%s' }", CHAIN ", " VALS, path);
    refused(big, "its name must be 1-31 characters");
    /* a plugin larger than the registry keeps */
    snprintf(path, sizeof path, "%s/consensus/huge.lua", dir);
    FILE *fp = fopen(path, "w");
    ASSERT(fp != NULL);
    fputs("return {}\n", fp);
    for (size_t i = 10; i <= LN_PLUGIN_CODE_MAX; i++) fputc(i % 64 ? '-' : '\n', fp);   /* one byte over */
    ASSERT_EQ(fclose(fp), 0);
    refused(CHAIN ", " VALS ", consensus = { plugin = 'consensus/huge.lua' }",
            "config: consensus plugin consensus/huge.lua: larger than 262144 bytes");
    teardown();
}

TEST(genesis_build_finds_a_plugin_beside_the_configs_folder_or_where_the_path_says)
{
    setup();
    built *b = build(BASE, 0);                      /* DIR/configs/../consensus/tiny.lua */
    if (b->rc) LN_FAIL("%s", b->err);
    built_free(b);
    char path[256], f[512];
    snprintf(path, sizeof path, "%s/elsewhere.lua", dir);
    write_file(path, "return {}\n");
    snprintf(f, sizeof f, "%s, consensus = { plugin = '%s' }", CHAIN ", " VALS, path);
    b = build(f, 0);
    if (b->rc) LN_FAIL("%s", b->err);
    ln_plugin_ref ref;
    ASSERT_EQ(ln_registry_at(b->ov, LN_SLOT_CONSENSUS, 0, &ref), 0);
    ASSERT_STR(ref.name, "elsewhere");
    ln_plugin_ref_free(&ref);
    built_free(b);
    teardown();
}

/* path's BLAKE2b is the registry's entry for slot at height 0. */
static void feeds(ln_overlay *ov, ln_slot slot, const char *path)
{
    char *code;
    size_t cl;
    uint8_t h[LN_HASH_LEN];
    ASSERT_EQ(ln_file_read(path, &code, &cl), 0);
    ln_hash(code, cl, h);
    free(code);
    ln_plugin_ref ref;
    ASSERT_EQ(ln_registry_at(ov, slot, 0, &ref), 0);
    ASSERT_MEM(ref.hash, h, LN_HASH_LEN);
    ln_plugin_ref_free(&ref);
}

TEST(genesis_plugin_file_is_the_file_the_genesis_reads_for_each_slot)
{
    setup();
    char other[256], f[768], path[1024], want[256], err[256];
    snprintf(other, sizeof other, "%s/cheap.lua", dir);
    write_file(other, "local M = { NAME = 'cheap' }\n"
                      "function M.admit(tx, sender) return true, tx.max_fee end\n"
                      "function M.charge(tx, r) return { fee = 0 } end\nreturn M\n");
    snprintf(f, sizeof f, "%s, pricing = { plugin = '%s' }", BASE, other);
    built *b = build(f, 0);
    if (b->rc) LN_FAIL("%s", b->err);
    uint8_t *enc;
    size_t el;
    ASSERT_EQ(ln_config_eval(config, &enc, &el, err, sizeof err), 0);
    /* named, beside the configs folder */
    ASSERT_EQ(ln_genesis_plugin_file(config, enc, el, LN_SLOT_CONSENSUS, path, sizeof path, err,
                                     sizeof err), 0);
    snprintf(want, sizeof want, "%s/configs/../consensus/tiny.lua", dir);
    ASSERT_STR(path, want);
    /* named, where the path says */
    ASSERT_EQ(ln_genesis_plugin_file(config, enc, el, LN_SLOT_PRICING, path, sizeof path, err,
                                     sizeof err), 0);
    ASSERT_STR(path, other);
    /* the default, where lunet's own files are */
    ASSERT_EQ(ln_genesis_plugin_file(config, enc, el, LN_SLOT_GOVERNANCE, path, sizeof path, err,
                                     sizeof err), 0);
    size_t pl = strlen(path), tl = strlen("plugins/governance/admin.lua");
    ASSERT(pl > tl && strcmp(path + pl - tl, "plugins/governance/admin.lua") == 0);
    ASSERT_EQ(ln_genesis_plugin_file(config, enc, el, LN_SLOT_CONSENSUS, path, sizeof path, err,
                                     sizeof err), 0);
    feeds(b->ov, LN_SLOT_CONSENSUS, path);
    feeds(b->ov, LN_SLOT_PRICING, other);
    free(enc);
    built_free(b);
    /* a config without a consensus slot names no file for it */
    b = build(CHAIN ", " VALS, 0);
    built_free(b);
    ASSERT_EQ(ln_config_eval(config, &enc, &el, err, sizeof err), 0);
    ASSERT_EQ(ln_genesis_plugin_file(config, enc, el, LN_SLOT_CONSENSUS, path, sizeof path, err,
                                     sizeof err), LN_ECONFIG);
    ASSERT(strstr(err, "consensus = { plugin") != NULL);
    free(enc);
    teardown();
}

/* ---- the record ---------------------------------------------------------- */

TEST(genesis_record_round_trips_and_leaves_out_an_absent_admin_and_members)
{
    ln_state *st;
    ASSERT_EQ(ln_state_open(NULL, &st), 0);
    ln_overlay *ov = ln_overlay_new(st);
    ln_genesis g, back;
    ASSERT_EQ(ln_genesis_load(ov, &back), LN_ENOTFOUND);
    memset(&g, 0, sizeof g);
    snprintf(g.chain_id, sizeof g.chain_id, "c");
    snprintf(g.fingerprint, sizeof g.fingerprint, "ab");
    g.m.nval = 1;
    snprintf(g.m.val_names[0], sizeof g.m.val_names[0], "v");
    memset(g.m.val_keys[0], 1, LN_PK_LEN);
    ASSERT_EQ(ln_genesis_save(ov, &g), 0);
    const uint8_t *p;
    size_t n;
    ASSERT_EQ(ln_overlay_get(ov, (const uint8_t *)"g", 1, &p, &n), 0);
    /* {chain_id: "c", fingerprint: "ab", validators: [{key, name: "v"}]} */
    static const uint8_t want_head[] = { 0x83, 0xa8, 'c', 'h', 'a', 'i', 'n', '_', 'i', 'd', 0xa1, 'c',
                                         0xab, 'f', 'i', 'n', 'g', 'e', 'r', 'p', 'r', 'i', 'n', 't',
                                         0xa2, 'a', 'b', 0xaa, 'v', 'a', 'l', 'i', 'd', 'a', 't', 'o',
                                         'r', 's', 0x91, 0x82, 0xa3, 'k', 'e', 'y', 0xc4, 0x20 };
    ASSERT(n > sizeof want_head);
    ASSERT_MEM(p, want_head, sizeof want_head);
    ASSERT_EQ(ln_codec_check(p, n), 0);
    ASSERT_EQ(ln_genesis_load(ov, &back), 0);
    ASSERT_MEM(&back, &g, sizeof g);

    snprintf(g.m.admin, sizeof g.m.admin, "alice");
    g.m.nmem = 2;
    memset(g.m.mem_keys[0], 2, LN_PK_LEN);
    memset(g.m.mem_keys[1], 3, LN_PK_LEN);
    ASSERT_EQ(ln_genesis_save(ov, &g), 0);
    ASSERT_EQ(ln_overlay_get(ov, (const uint8_t *)"g", 1, &p, &n), 0);
    ASSERT_EQ(p[0], 0x85);
    ASSERT_EQ(ln_codec_check(p, n), 0);
    ASSERT_EQ(ln_genesis_decode(p, n, &back), 0);
    ASSERT_MEM(&back, &g, sizeof g);
    ln_overlay_free(ov);
    ln_state_close(st);
}

/* A record {admin, chain_id, fingerprint, members, validators} whose field
** `field` is written by val (left out when val is NULL); the others are
** good. The bytes go to sb (the caller's). */
typedef void (*packfn)(msgpack_packer *pk);

static void v_key(msgpack_packer *pk, int b, size_t n)
{
    uint8_t key[LN_PK_LEN + 1];
    memset(key, b, sizeof key);
    ln_pack_bin(pk, key, n);
}

static void v_validator(msgpack_packer *pk, const char *name, size_t keylen)
{
    msgpack_pack_map(pk, 2);
    ln_pack_str(pk, "key");
    v_key(pk, 1, keylen);
    ln_pack_str(pk, "name");
    ln_pack_str(pk, name);
}

static void good_validators(msgpack_packer *pk) { msgpack_pack_array(pk, 1); v_validator(pk, "v", LN_PK_LEN); }
static void good_members(msgpack_packer *pk) { msgpack_pack_array(pk, 1); v_key(pk, 2, LN_PK_LEN); }
static void good_admin(msgpack_packer *pk) { ln_pack_str(pk, "alice"); }
static void good_text(msgpack_packer *pk) { ln_pack_str(pk, "x"); }

static void bad_name(msgpack_packer *pk) { ln_pack_str(pk, "Alice"); }
static void bad_int(msgpack_packer *pk) { msgpack_pack_uint64(pk, 5); }
static void bad_long_text(msgpack_packer *pk) { ln_pack_str(pk, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefX"); }
static void bad_members_type(msgpack_packer *pk) { ln_pack_str(pk, "members"); }
static void bad_member_key(msgpack_packer *pk) { msgpack_pack_array(pk, 1); v_key(pk, 2, LN_PK_LEN - 1); }
static void bad_members_257(msgpack_packer *pk)
{
    msgpack_pack_array(pk, LN_MAX_MEMBERS + 1);
    for (int i = 0; i <= LN_MAX_MEMBERS; i++) v_key(pk, i, LN_PK_LEN);
}
static void bad_validators_none(msgpack_packer *pk) { msgpack_pack_array(pk, 0); }
static void bad_validators_65(msgpack_packer *pk)
{
    char name[8];
    msgpack_pack_array(pk, LN_MAX_VALIDATORS + 1);
    for (int i = 0; i <= LN_MAX_VALIDATORS; i++) {
        snprintf(name, sizeof name, "v%d", i);
        v_validator(pk, name, LN_PK_LEN);
    }
}
static void bad_validator_key(msgpack_packer *pk) { msgpack_pack_array(pk, 1); v_validator(pk, "v", LN_PK_LEN + 1); }
static void bad_validator_name(msgpack_packer *pk) { msgpack_pack_array(pk, 1); v_validator(pk, "V", LN_PK_LEN); }
static void bad_validator_entry(msgpack_packer *pk) { msgpack_pack_array(pk, 1); ln_pack_str(pk, "v"); }

static void record(msgpack_sbuffer *sb, const char *field, packfn val)
{
    static const char *keys[] = { "admin", "chain_id", "fingerprint", "members", "validators" };
    packfn good[] = { good_admin, good_text, good_text, good_members, good_validators };
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    int n = 0;
    for (int i = 0; i < 5; i++) n += strcmp(keys[i], field) != 0 || val != NULL;
    msgpack_pack_map(&pk, (uint32_t)n);
    for (int i = 0; i < 5; i++) {
        int mine = strcmp(keys[i], field) == 0;
        if (mine && !val) continue;
        ln_pack_str(&pk, keys[i]);
        (mine ? val : good[i])(&pk);
    }
}

TEST(genesis_decode_says_eio_for_a_record_off_its_layout)
{
    msgpack_sbuffer sb;
    ln_genesis g;
    record(&sb, "", NULL);
    ASSERT_EQ(ln_genesis_decode((const uint8_t *)sb.data, sb.size, &g), 0);
    ASSERT_STR(g.m.admin, "alice");
    ASSERT_EQ(g.m.nmem, 1);
    ASSERT_EQ(g.m.nval, 1);
    /* with the codec's refusal too: a byte after the record */
    msgpack_sbuffer_write(&sb, "", 1);
    ASSERT_EQ(ln_genesis_decode((const uint8_t *)sb.data, sb.size, &g), LN_EIO);
    msgpack_sbuffer_destroy(&sb);
    ASSERT_EQ(ln_genesis_decode((const uint8_t *)"\x90", 1, &g), LN_EIO);

    struct { const char *field; packfn val; } bad[] = {
        { "admin", bad_name }, { "admin", bad_int },
        { "chain_id", bad_int }, { "chain_id", bad_long_text }, { "chain_id", NULL },
        { "fingerprint", bad_long_text }, { "fingerprint", NULL },
        { "members", bad_members_type }, { "members", bad_member_key }, { "members", bad_members_257 },
        { "validators", NULL }, { "validators", bad_validators_none }, { "validators", bad_validators_65 },
        { "validators", bad_validator_key }, { "validators", bad_validator_name },
        { "validators", bad_validator_entry },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        record(&sb, bad[i].field, bad[i].val);
        int rc = ln_genesis_decode((const uint8_t *)sb.data, sb.size, &g);
        if (rc != LN_EIO) LN_FAIL("case %zu (%s) gave %s, want EIO", i + 1, bad[i].field, ln_errname(rc));
        msgpack_sbuffer_destroy(&sb);
    }
    /* admin and members may be left out */
    record(&sb, "admin", NULL);
    ASSERT_EQ(ln_genesis_decode((const uint8_t *)sb.data, sb.size, &g), 0);
    ASSERT_STR(g.m.admin, "");
    msgpack_sbuffer_destroy(&sb);
    record(&sb, "members", NULL);
    ASSERT_EQ(ln_genesis_decode((const uint8_t *)sb.data, sb.size, &g), 0);
    ASSERT_EQ(g.m.nmem, 0);
    msgpack_sbuffer_destroy(&sb);
}

static const ln_test tests[] = {
    T(genesis_build_writes_accounts_validators_the_record_and_the_consensus_plugin),
    T(genesis_build_without_a_genesis_time_takes_the_time_now_and_empty_params),
    T(genesis_build_in_dev_mode_makes_the_missing_keys_and_then_reads_them),
    T(genesis_build_refuses_a_config_that_is_not_a_table_of_known_fields),
    T(genesis_build_refuses_a_bad_chain_id_genesis_time_or_admin),
    T(genesis_build_refuses_bad_accounts),
    T(genesis_build_refuses_bad_validators_and_members),
    T(genesis_build_refuses_a_consensus_slot_that_names_no_readable_plugin),
    T(genesis_build_finds_a_plugin_beside_the_configs_folder_or_where_the_path_says),
    T(genesis_plugin_file_is_the_file_the_genesis_reads_for_each_slot),
    T(genesis_record_round_trips_and_leaves_out_an_absent_admin_and_members),
    T(genesis_decode_says_eio_for_a_record_off_its_layout),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
