/* test_membership.c -- the sys membership actions: who may call them, what
** they refuse, and the genesis record "g" they rewrite. */
#include "test.h"
#include "account.h"
#include "codec.h"
#include "contract.h"
#include "crypto.h"
#include "err.h"
#include "exec.h"
#include "genesis.h"
#include "tx.h"

#define GAS 50000000ull

static uint8_t alice_pk[LN_PK_LEN], alice_sk[LN_SK_LEN];
static uint8_t bob_pk[LN_PK_LEN], bob_sk[LN_SK_LEN];
static uint8_t v0_pk[LN_PK_LEN];

static void pstr(msgpack_packer *p, const char *s)
{
    msgpack_pack_str(p, strlen(s));
    msgpack_pack_str_body(p, s, strlen(s));
}

static void pbin(msgpack_packer *p, const uint8_t *b, size_t n)
{
    msgpack_pack_bin(p, n);
    msgpack_pack_bin_body(p, b, n);
}

static void key_of(int i, uint8_t pk[LN_PK_LEN])
{
    memset(pk, 0, LN_PK_LEN);
    pk[0] = 0xee;
    pk[1] = (uint8_t)(i >> 8);
    pk[2] = (uint8_t)i;
}

/* The genesis record through genesis.h: admin (NULL: none), nval validators
** v0.. (v0 with v0_pk), nmem members. */
static void write_g(ln_overlay *ov, const char *admin, int nval, int nmem)
{
    ln_genesis *g = calloc(1, sizeof *g);
    snprintf(g->chain_id, sizeof g->chain_id, "test");
    snprintf(g->fingerprint, sizeof g->fingerprint, "f00d");
    if (admin) snprintf(g->m.admin, sizeof g->m.admin, "%s", admin);
    for (int i = 0; i < nmem; i++) key_of(1000 + i, g->m.mem_keys[i]);
    g->m.nmem = (uint32_t)nmem;
    for (int i = 0; i < nval; i++) {
        snprintf(g->m.val_names[i], sizeof g->m.val_names[i], "v%d", i);
        if (i == 0) memcpy(g->m.val_keys[i], v0_pk, LN_PK_LEN); else key_of(2000 + i, g->m.val_keys[i]);
    }
    g->m.nval = (uint32_t)nval;
    ASSERT_EQ(ln_genesis_save(ov, g), 0);
    free(g);
}

static void save(ln_overlay *ov, const char *name, const uint8_t pk[LN_PK_LEN])
{
    ln_account a;
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "%s", name);
    ln_authority_key(&a.owner, pk);
    a.active = a.owner;
    a.balance = 1000000000;
    ASSERT_EQ(ln_account_save(ov, &a), 0);
}

/* A committed in-memory state: alice, bob, v0 and the given "g" (admin
** NULL: none; with_g 0: no record at all). */
static ln_state *chain_with(const char *admin, int nval, int nmem, int with_g)
{
    ln_crypto_init();
    uint8_t seed[32] = { 1 };
    ln_keypair_seed(seed, alice_pk, alice_sk);
    seed[0] = 2;
    ln_keypair_seed(seed, bob_pk, bob_sk);
    uint8_t sk[LN_SK_LEN];
    seed[0] = 3;
    ln_keypair_seed(seed, v0_pk, sk);
    ln_state *st;
    ASSERT_EQ(ln_state_open(NULL, &st), 0);
    ln_overlay *ov = ln_overlay_new(st);
    save(ov, "alice", alice_pk);
    save(ov, "bob", bob_pk);
    save(ov, "v0", v0_pk);
    if (with_g) write_g(ov, admin, nval, nmem);
    uint8_t root[LN_HASH_LEN];
    ASSERT_EQ(ln_overlay_commit(ov, NULL, root), 0);
    ln_overlay_free(ov);
    return st;
}

static ln_state *chain(void) { return chain_with("alice", 1, 0, 1); }

/* One action's arguments: "k" a key (bytes), "s" a string. */
typedef struct { char t; const void *v; size_t n; } arg;
#define KEY(p) ((arg){ 'k', (p), LN_PK_LEN })
#define STR(s) ((arg){ 's', (s), strlen(s) })

typedef struct {
    int code;
    char error[256];
    uint32_t nevents;
    char event[32];
} result;

/* Runs sys.method(args...) as `sender` over a fresh overlay of st; commits
** the writes when it succeeded. */
static result run_as(ln_state *st, const char *sender, const char *contract, const char *method,
                     const arg *args, int nargs)
{
    msgpack_sbuffer sb;
    msgpack_packer p;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&p, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&p, 1);
    msgpack_pack_map(&p, 3);
    pstr(&p, "args");
    msgpack_pack_array(&p, (uint32_t)nargs);
    for (int i = 0; i < nargs; i++) {
        if (args[i].t == 'k') pbin(&p, args[i].v, args[i].n);
        else { msgpack_pack_str(&p, args[i].n); msgpack_pack_str_body(&p, args[i].v, args[i].n); }
    }
    pstr(&p, "contract"); pstr(&p, contract);
    pstr(&p, "method"); pstr(&p, method);
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 1024);
    ASSERT_EQ(ln_codec_unpack((const uint8_t *)sb.data, sb.size, &z, &o), 0);

    ln_overlay *ov = ln_overlay_new(st);
    ln_blockinfo bi = { 1, 1700000000, { 0 } };
    ln_vm *vm;
    ASSERT_EQ(ln_vm_new(ov, &bi, &vm), 0);
    ln_outcome out;
    ASSERT_EQ(ln_vm_run(vm, sender, NULL, o.via.array.ptr, o.via.array.size, GAS, &out), 0);
    result r;
    memset(&r, 0, sizeof r);
    r.code = out.code;
    if (out.error) snprintf(r.error, sizeof r.error, "%s", out.error);
    msgpack_zone ez;
    msgpack_object ev;
    msgpack_zone_init(&ez, 1024);
    ASSERT_EQ(ln_codec_unpack(out.events, out.events_len, &ez, &ev), 0);
    r.nevents = ev.via.array.size;
    if (r.nevents) {
        const msgpack_object *name = ln_codec_map_get(&ev.via.array.ptr[0], "name");
        snprintf(r.event, sizeof r.event, "%.*s", (int)name->via.str.size, name->via.str.ptr);
    }
    msgpack_zone_destroy(&ez);
    uint8_t root[LN_HASH_LEN];
    if (out.code == 0) ASSERT_EQ(ln_overlay_commit(ov, NULL, root), 0);
    ln_outcome_free(&out);
    ln_vm_free(vm);
    ln_overlay_free(ov);
    msgpack_zone_destroy(&z);
    msgpack_sbuffer_destroy(&sb);
    return r;
}

static result sys_as(ln_state *st, const char *sender, const char *method, const arg *args, int n)
{
    return run_as(st, sender, "sys", method, args, n);
}

static void root_of(ln_state *st, uint8_t root[LN_HASH_LEN]) { ln_state_root(st, root); }

/* The membership the record holds now (static: one at a time). */
static ln_membership *membership(ln_state *st)
{
    static ln_genesis g;
    uint8_t *p;
    size_t n;
    ASSERT_EQ(ln_state_get(st, (const uint8_t *)"g", 1, &p, &n), 0);
    ASSERT_EQ(ln_codec_check(p, n), 0);
    ASSERT_EQ(ln_genesis_decode(p, n, &g), 0);
    free(p);
    return &g.m;
}

#define ASSERT_REFUSED(r, want, text) do {                             \
    result r_ = (r);                                                   \
    if (r_.code != (want))                                             \
        LN_FAIL("code %s (%s), want %s", ln_errname(r_.code), r_.error, ln_errname(want)); \
    if (!strstr(r_.error, (text)))                                     \
        LN_FAIL("error \"%s\" does not say \"%s\"", r_.error, (text));  \
    ASSERT_EQ(r_.nevents, 0);                                          \
} while (0)

TEST(membership_admin_adds_a_member_and_g_stays_canonical)
{
    ln_state *st = chain();
    uint8_t k[LN_PK_LEN];
    key_of(7, k);
    result r = sys_as(st, "alice", "addmember", (arg[]){ KEY(k) }, 1);
    ASSERT_EQ(r.code, 0);
    ASSERT_EQ(r.nevents, 1);
    ASSERT_STR(r.event, "addmember");
    ln_membership *m = membership(st);
    ASSERT_STR(m->admin, "alice");
    ASSERT_EQ(m->nmem, 1);
    ASSERT_MEM(m->mem_keys[0], k, LN_PK_LEN);
    ASSERT_EQ(m->nval, 1);
    ASSERT_STR(m->val_names[0], "v0");

    /* Other fields unchanged. */
    uint8_t *g;
    size_t gl;
    ASSERT_EQ(ln_state_get(st, (const uint8_t *)"g", 1, &g, &gl), 0);
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 1024);
    ASSERT_EQ(ln_codec_unpack(g, gl, &z, &o), 0);
    const msgpack_object *c = ln_codec_map_get(&o, "chain_id");
    const msgpack_object *f = ln_codec_map_get(&o, "fingerprint");
    ASSERT(c && c->via.str.size == 4 && memcmp(c->via.str.ptr, "test", 4) == 0);
    ASSERT(f && f->via.str.size == 4 && memcmp(f->via.str.ptr, "f00d", 4) == 0);
    ASSERT_EQ(o.via.map.size, 5);
    msgpack_zone_destroy(&z);
    free(g);
    ln_state_close(st);
}

TEST(membership_add_then_remove_gives_back_the_genesis_bytes)
{
    ln_state *st = chain();
    uint8_t before[LN_HASH_LEN], after[LN_HASH_LEN], k[LN_PK_LEN];
    root_of(st, before);
    key_of(7, k);
    ASSERT_EQ(sys_as(st, "alice", "addmember", (arg[]){ KEY(k) }, 1).code, 0);
    result r = sys_as(st, "alice", "removemember", (arg[]){ KEY(k) }, 1);
    ASSERT_EQ(r.code, 0);
    ASSERT_STR(r.event, "removemember");
    ASSERT_EQ(sys_as(st, "alice", "addvalidator", (arg[]){ STR("v1"), KEY(k) }, 2).code, 0);
    ASSERT_EQ(sys_as(st, "alice", "removevalidator", (arg[]){ STR("v1") }, 1).code, 0);
    /* Only v1's account (created by addvalidator) is left of all that. */
    ln_overlay *ov = ln_overlay_new(st);
    ASSERT(ln_account_exists(ov, "v1"));
    ASSERT_EQ(ln_overlay_delete(ov, (const uint8_t *)"av1", 3), 0);
    ASSERT_EQ(ln_overlay_root(ov, after), 0);
    ln_overlay_free(ov);
    ASSERT_MEM(before, after, LN_HASH_LEN);
    ln_state_close(st);
}

TEST(membership_non_admin_sender_is_refused_eauth_and_the_root_is_unchanged)
{
    ln_state *st = chain();
    uint8_t before[LN_HASH_LEN], after[LN_HASH_LEN], k[LN_PK_LEN];
    key_of(7, k);
    ASSERT_EQ(sys_as(st, "alice", "addmember", (arg[]){ KEY(k) }, 1).code, 0);
    ASSERT_EQ(sys_as(st, "alice", "addvalidator", (arg[]){ STR("v1"), KEY(bob_pk) }, 2).code, 0);
    root_of(st, before);
    uint8_t k2[LN_PK_LEN];
    key_of(8, k2);
    const char *want = "only the admin alice may change membership, not bob";
    ASSERT_REFUSED(sys_as(st, "bob", "addmember", (arg[]){ KEY(k2) }, 1), LN_EAUTH, want);
    ASSERT_REFUSED(sys_as(st, "bob", "removemember", (arg[]){ KEY(k) }, 1), LN_EAUTH, want);
    ASSERT_REFUSED(sys_as(st, "bob", "addvalidator", (arg[]){ STR("v2"), KEY(k2) }, 2), LN_EAUTH, want);
    ASSERT_REFUSED(sys_as(st, "bob", "removevalidator", (arg[]){ STR("v1") }, 1), LN_EAUTH, want);
    /* A validator is not the admin either. */
    ASSERT_REFUSED(sys_as(st, "v0", "addmember", (arg[]){ KEY(k2) }, 1), LN_EAUTH, "not v0");
    root_of(st, after);
    ASSERT_MEM(before, after, LN_HASH_LEN);
    ln_state_close(st);
}

TEST(membership_a_contract_called_by_the_admin_is_not_the_admin)
{
    ln_state *st = chain();
    const char *src = "return { go = function(k) return call('sys', 'addmember', k) end }";
    ASSERT_EQ(sys_as(st, "alice", "deploy", (arg[]){ STR("relay"), STR(src) }, 2).code, 0);
    uint8_t before[LN_HASH_LEN], after[LN_HASH_LEN], k[LN_PK_LEN];
    root_of(st, before);
    key_of(7, k);
    ASSERT_REFUSED(run_as(st, "alice", "relay", "go", (arg[]){ KEY(k) }, 1), LN_EAUTH,
                   "only the admin alice may change membership, not relay");
    root_of(st, after);
    ASSERT_MEM(before, after, LN_HASH_LEN);
    ln_state_close(st);
}

TEST(membership_is_fixed_without_an_admin_or_a_genesis_record)
{
    uint8_t k[LN_PK_LEN];
    key_of(7, k);
    ln_state *st = chain_with(NULL, 1, 0, 1);
    ASSERT_REFUSED(sys_as(st, "alice", "addmember", (arg[]){ KEY(k) }, 1), LN_EAUTH,
                   "membership is fixed: the genesis names no admin");
    ln_state_close(st);
    st = chain_with(NULL, 1, 0, 0);
    ASSERT_REFUSED(sys_as(st, "alice", "addvalidator", (arg[]){ STR("v1"), KEY(k) }, 2), LN_EAUTH,
                   "membership is fixed");
    ln_state_close(st);
}

TEST(membership_bad_keys_and_names_are_refused)
{
    ln_state *st = chain();
    uint8_t before[LN_HASH_LEN], after[LN_HASH_LEN];
    root_of(st, before);
    const char *hex63 = "abababababababababababababababababababababababababababababababa";
    const char *nothex = "zzababababababababababababababababababababababababababababababab";
    const char *want = "key must be 32 bytes or 64 hex digits";
    ASSERT_REFUSED(sys_as(st, "alice", "addmember", (arg[]){ STR("xyz") }, 1), LN_EBADKEY, want);
    ASSERT_REFUSED(sys_as(st, "alice", "addmember", (arg[]){ STR(hex63) }, 1), LN_EBADKEY, want);
    ASSERT_REFUSED(sys_as(st, "alice", "addmember", (arg[]){ STR(nothex) }, 1), LN_EBADKEY, want);
    ASSERT_REFUSED(sys_as(st, "alice", "addmember", NULL, 0), LN_EBADKEY, want);
    uint8_t short_key[31] = { 1 };
    ASSERT_REFUSED(sys_as(st, "alice", "removemember", (arg[]){ { 'k', short_key, 31 } }, 1),
                   LN_EBADKEY, want);
    ASSERT_REFUSED(sys_as(st, "alice", "addvalidator", (arg[]){ STR("v1"), STR("xyz") }, 2),
                   LN_EBADKEY, want);
    ASSERT_REFUSED(sys_as(st, "alice", "addvalidator", (arg[]){ STR("Bad Name"), KEY(bob_pk) }, 2),
                   LN_EBADNAME, "name must be an account name");
    ASSERT_REFUSED(sys_as(st, "alice", "addvalidator", (arg[]){ STR("sys"), KEY(bob_pk) }, 2),
                   LN_EBADNAME, "sys is reserved");
    ASSERT_REFUSED(sys_as(st, "alice", "removevalidator", (arg[]){ STR("") }, 1),
                   LN_EBADNAME, "name must be an account name");
    /* Hex works as well as bytes. */
    char hex[2 * LN_PK_LEN + 1];
    ln_hex(bob_pk, LN_PK_LEN, hex);
    ASSERT_EQ(sys_as(st, "alice", "addmember", (arg[]){ STR(hex) }, 1).code, 0);
    ln_membership *m = membership(st);
    ASSERT_EQ(m->nmem, 1);
    ASSERT_MEM(m->mem_keys[0], bob_pk, LN_PK_LEN);

    root_of(st, after);
    ASSERT(memcmp(before, after, LN_HASH_LEN) != 0);
    ln_state_close(st);
}

TEST(membership_duplicates_are_eexist_and_unknown_entries_enotfound)
{
    ln_state *st = chain();
    uint8_t k[LN_PK_LEN], k2[LN_PK_LEN];
    key_of(7, k);
    key_of(8, k2);
    ASSERT_EQ(sys_as(st, "alice", "addmember", (arg[]){ KEY(k) }, 1).code, 0);
    uint8_t before[LN_HASH_LEN], after[LN_HASH_LEN];
    root_of(st, before);
    ASSERT_REFUSED(sys_as(st, "alice", "addmember", (arg[]){ KEY(k) }, 1), LN_EEXIST,
                   "is a member already");
    ASSERT_REFUSED(sys_as(st, "alice", "removemember", (arg[]){ KEY(k2) }, 1), LN_ENOTFOUND,
                   "is not a member");
    /* A validator's key is not a member's. */
    ASSERT_REFUSED(sys_as(st, "alice", "removemember", (arg[]){ KEY(v0_pk) }, 1), LN_ENOTFOUND,
                   "is not a member");
    ASSERT_REFUSED(sys_as(st, "alice", "addvalidator", (arg[]){ STR("v0"), KEY(k2) }, 2), LN_EEXIST,
                   "v0 is a validator already");
    ASSERT_REFUSED(sys_as(st, "alice", "addvalidator", (arg[]){ STR("v9"), KEY(v0_pk) }, 2),
                   LN_EEXIST, "is validator v0's already");
    ASSERT_REFUSED(sys_as(st, "alice", "removevalidator", (arg[]){ STR("v9") }, 1), LN_ENOTFOUND,
                   "v9 is not a validator");
    root_of(st, after);
    ASSERT_MEM(before, after, LN_HASH_LEN);
    ln_state_close(st);
}

TEST(membership_the_last_validator_cannot_be_removed)
{
    ln_state *st = chain();
    uint8_t before[LN_HASH_LEN], after[LN_HASH_LEN];
    root_of(st, before);
    ASSERT_REFUSED(sys_as(st, "alice", "removevalidator", (arg[]){ STR("v0") }, 1), LN_EINVAL,
                   "v0 is the last validator");
    root_of(st, after);
    ASSERT_MEM(before, after, LN_HASH_LEN);
    /* With two, either may go; then the other is the last. */
    ASSERT_EQ(sys_as(st, "alice", "addvalidator", (arg[]){ STR("v1"), KEY(bob_pk) }, 2).code, 0);
    result r = sys_as(st, "alice", "removevalidator", (arg[]){ STR("v0") }, 1);
    ASSERT_EQ(r.code, 0);
    ASSERT_STR(r.event, "removevalidator");
    ln_membership *m = membership(st);
    ASSERT_EQ(m->nval, 1);
    ASSERT_STR(m->val_names[0], "v1");
    ASSERT_MEM(m->val_keys[0], bob_pk, LN_PK_LEN);

    ASSERT_REFUSED(sys_as(st, "alice", "removevalidator", (arg[]){ STR("v1") }, 1), LN_EINVAL,
                   "v1 is the last validator");
    ln_state_close(st);
}

TEST(membership_lists_are_capped_at_256_members_and_64_validators)
{
    ln_state *st = chain_with("alice", LN_MAX_VALIDATORS - 1, LN_MAX_MEMBERS - 1, 1);
    uint8_t k[LN_PK_LEN], k2[LN_PK_LEN];
    key_of(7, k);
    key_of(8, k2);
    ASSERT_EQ(sys_as(st, "alice", "addmember", (arg[]){ KEY(k) }, 1).code, 0);
    ASSERT_EQ(sys_as(st, "alice", "addvalidator", (arg[]){ STR("last"), KEY(k) }, 2).code, 0);
    ln_membership *m = membership(st);
    ASSERT_EQ(m->nmem, LN_MAX_MEMBERS);
    ASSERT_EQ(m->nval, LN_MAX_VALIDATORS);
    ASSERT_STR(m->val_names[LN_MAX_VALIDATORS - 1], "last");

    uint8_t before[LN_HASH_LEN], after[LN_HASH_LEN];
    root_of(st, before);
    ASSERT_REFUSED(sys_as(st, "alice", "addmember", (arg[]){ KEY(k2) }, 1), LN_EFULL,
                   "there are 256 members");
    ASSERT_REFUSED(sys_as(st, "alice", "addvalidator", (arg[]){ STR("more"), KEY(k2) }, 2), LN_EFULL,
                   "there are 64 validators");
    root_of(st, after);
    ASSERT_MEM(before, after, LN_HASH_LEN);
    ln_state_close(st);
}

TEST(membership_addvalidator_creates_the_account_like_genesis_and_keeps_an_existing_one)
{
    ln_state *st = chain();
    uint8_t k[LN_PK_LEN];
    key_of(7, k);
    ASSERT_EQ(sys_as(st, "alice", "addvalidator", (arg[]){ STR("newval"), KEY(k) }, 2).code, 0);
    ASSERT_EQ(sys_as(st, "alice", "addvalidator", (arg[]){ STR("bob"), KEY(k) }, 2).code, LN_EEXIST);
    uint8_t k2[LN_PK_LEN];
    key_of(8, k2);
    ASSERT_EQ(sys_as(st, "alice", "addvalidator", (arg[]){ STR("bob"), KEY(k2) }, 2).code, 0);
    ln_overlay *ov = ln_overlay_new(st);
    ln_account a;
    ASSERT_EQ(ln_account_load(ov, "newval", &a), 0);
    ASSERT_EQ(a.balance, 0);
    ASSERT_EQ(a.owner.nkeys, 1);
    ASSERT_MEM(a.owner.keys[0].key, k, LN_PK_LEN);
    ASSERT_EQ(a.active.nkeys, 1);
    ASSERT_EQ(ln_account_load(ov, "bob", &a), 0);       /* bob's own key stays */
    ASSERT_EQ(a.balance, 1000000000);
    ASSERT_MEM(a.owner.keys[0].key, bob_pk, LN_PK_LEN);
    ln_overlay_free(ov);
    ln_membership *m = membership(st);
    ASSERT_EQ(m->nval, 3);
    ASSERT_STR(m->val_names[1], "newval");
    ASSERT_STR(m->val_names[2], "bob");
    ASSERT_MEM(m->val_keys[2], k2, LN_PK_LEN);

    ln_state_close(st);
}

/* Through block execution with signed transactions: a non-admin's call is
** included (nonce and fee) and refused, "g" untouched. */
static void signed_tx(const char *account, const uint8_t *sk, uint64_t nonce, const char *method,
                      const uint8_t key[LN_PK_LEN], uint8_t **out, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer p;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&p, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&p, 6);
    pstr(&p, "account"); pstr(&p, account);
    pstr(&p, "actions");
    msgpack_pack_array(&p, 1);
    msgpack_pack_map(&p, 3);
    pstr(&p, "args");
    msgpack_pack_array(&p, 1);
    pbin(&p, key, LN_PK_LEN);
    pstr(&p, "contract"); pstr(&p, "sys");
    pstr(&p, "method"); pstr(&p, method);
    pstr(&p, "chain_id"); pstr(&p, "test");
    pstr(&p, "expires"); msgpack_pack_uint64(&p, 1000000);
    pstr(&p, "max_fee"); msgpack_pack_uint64(&p, 1000000);
    pstr(&p, "nonce"); msgpack_pack_uint64(&p, nonce);
    ASSERT_EQ(ln_tx_sign((uint8_t *)sb.data, sb.size, (const uint8_t (*)[LN_SK_LEN])sk, 1, out, len), 0);
    msgpack_sbuffer_destroy(&sb);
}

TEST(membership_signed_transactions_bob_refused_alice_admitted)
{
    ln_state *st = chain();
    uint8_t k[LN_PK_LEN];
    key_of(7, k);
    uint8_t *txs[2];
    size_t lens[2];
    signed_tx("bob", bob_sk, 0, "addmember", k, &txs[0], &lens[0]);
    signed_tx("alice", alice_sk, 0, "addmember", k, &txs[1], &lens[1]);
    ln_blockctx bc = { "test", 1, 1700000001, { 0 }, 1, 0, NULL, NULL, NULL };
    ln_receipt rs[2];
    uint8_t root[LN_HASH_LEN];
    ASSERT_EQ(ln_exec_apply(st, &bc, (const uint8_t *const *)txs, lens, 1, rs, NULL, root), 0);
    ASSERT(rs[0].included);
    ASSERT(!rs[0].ok);
    ASSERT_EQ(rs[0].code, LN_EAUTH);
    ln_membership *m = membership(st);
    ASSERT_EQ(m->nmem, 0);

    ln_receipt_free(&rs[0]);
    bc.height = 2;
    ASSERT_EQ(ln_exec_apply(st, &bc, (const uint8_t *const *)&txs[1], &lens[1], 1, rs, NULL, root), 0);
    ASSERT(rs[0].ok);
    m = membership(st);
    ASSERT_EQ(m->nmem, 1);
    ASSERT_MEM(m->mem_keys[0], k, LN_PK_LEN);

    ln_receipt_free(&rs[0]);
    free(txs[0]);
    free(txs[1]);
    ln_state_close(st);
}

static const ln_test tests[] = {
    T(membership_admin_adds_a_member_and_g_stays_canonical),
    T(membership_add_then_remove_gives_back_the_genesis_bytes),
    T(membership_non_admin_sender_is_refused_eauth_and_the_root_is_unchanged),
    T(membership_a_contract_called_by_the_admin_is_not_the_admin),
    T(membership_is_fixed_without_an_admin_or_a_genesis_record),
    T(membership_bad_keys_and_names_are_refused),
    T(membership_duplicates_are_eexist_and_unknown_entries_enotfound),
    T(membership_the_last_validator_cannot_be_removed),
    T(membership_lists_are_capped_at_256_members_and_64_validators),
    T(membership_addvalidator_creates_the_account_like_genesis_and_keeps_an_existing_one),
    T(membership_signed_transactions_bob_refused_alice_admitted),
    { 0, 0 }
};
LN_TEST_MAIN(tests)
