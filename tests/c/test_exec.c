/* test_exec.c -- applying a block of transactions (core/exec.c): the
** checks that refuse a transaction and what they say, the pool's and the
** block's view of a nonce, signatures checked or trusted, the gas price and
** the gas limit it gives, the block gas cap that defers the rest, bytes that
** do not decode, receipts' canonical bytes, queries and ln_exec_apply.
** Signed transactions are built here with msgpack-c and signed with
** ln_tx_sign; the state is an in-memory one. What a failed call reverts and
** charges at the default price is in tests/lua/tx_spec.lua. */
#include "test.h"
#include "account.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "exec.h"
#include "genesis.h"
#include "registry.h"
#include "tx.h"

/* ---- signed transactions ------------------------------------------------ */

enum { ALICE, BOB, CAROL, NKEYS };
static const char *const names[NKEYS] = { "alice", "bob", "carol" };
static uint8_t pks[NKEYS][LN_PK_LEN], sks[NKEYS][LN_SK_LEN];

/* One argument: a string or an unsigned integer. */
typedef struct { char t; const char *s; uint64_t u; } arg;
#define S(x) ((arg){ 's', (x), 0 })
#define U(x) ((arg){ 'u', NULL, (x) })

typedef struct {
    const char *account, *chain_id, *contract, *method;
    uint64_t nonce, max_fee, expires;
    int signer;                     /* whose key signs: ALICE.. */
    int nargs;
    arg args[4];
} txspec;

/* account's transaction with nonce calling contract.method: chain "test",
** max_fee 1000000, expires 1000, signed by the account's own key. */
static txspec spec(int who, uint64_t nonce, const char *contract, const char *method)
{
    txspec t = { names[who], "test", contract, method, nonce, 1000000, 1000, who, 0, { { 0 } } };
    return t;
}

static void pstr(msgpack_packer *p, const char *s)
{
    msgpack_pack_str(p, strlen(s));
    msgpack_pack_str_body(p, s, strlen(s));
}

/* The signed encoding of t, malloc()ed. */
static uint8_t *build(const txspec *t, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer p;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&p, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&p, 6);
    pstr(&p, "account"); pstr(&p, t->account);
    pstr(&p, "actions");
    msgpack_pack_array(&p, 1);
    msgpack_pack_map(&p, 3);
    pstr(&p, "args");
    msgpack_pack_array(&p, (uint32_t)t->nargs);
    for (int i = 0; i < t->nargs; i++) {
        if (t->args[i].t == 's') pstr(&p, t->args[i].s);
        else msgpack_pack_uint64(&p, t->args[i].u);
    }
    pstr(&p, "contract"); pstr(&p, t->contract);
    pstr(&p, "method"); pstr(&p, t->method);
    pstr(&p, "chain_id"); pstr(&p, t->chain_id);
    pstr(&p, "expires"); msgpack_pack_uint64(&p, t->expires);
    pstr(&p, "max_fee"); msgpack_pack_uint64(&p, t->max_fee);
    pstr(&p, "nonce"); msgpack_pack_uint64(&p, t->nonce);
    uint8_t *out;
    ASSERT_EQ(ln_tx_sign((const uint8_t *)sb.data, sb.size,
                         (const uint8_t (*)[LN_SK_LEN])sks[t->signer], 1, &out, len), 0);
    msgpack_sbuffer_destroy(&sb);
    return out;
}

/* ---- a chain in memory ---------------------------------------------------- */

/* Stores what it is called with, fails when told, and spins. */
static const char BOX[] =
    "local M = {}\n"
    "function M.set(k, v) storage.set(k, v) emit('set', { k = k }) return v end\n"
    "function M.get(k) return storage.get(k) end\n"
    "function M.fail(k) storage.set(k, 'dirty') error('no ' .. k, 0) end\n"
    "function M.spin() while true do end end\n"
    "return M\n";

static ln_blockctx ctx(uint64_t height)
{
    ln_blockctx bc;
    memset(&bc, 0, sizeof bc);
    bc.chain_id = "test";
    bc.height = height;
    bc.time = 1700000000 + height;
    memset(bc.prev, (int)height, LN_HASH_LEN);
    return bc;
}

/* Applies n transactions (freed here) over st and commits them. */
static void apply(ln_state *st, const ln_blockctx *bc, uint8_t **txs, const size_t *lens, size_t n,
                  int sigs_checked, ln_receipt *rs)
{
    ln_overlay *ov = ln_overlay_new(st);
    ASSERT(ov != NULL);
    ASSERT_EQ(ln_exec_block(ov, bc, (const uint8_t *const *)txs, lens, n, sigs_checked, rs), 0);
    uint8_t root[LN_HASH_LEN];
    ASSERT_EQ(ln_overlay_commit(ov, NULL, root), 0);
    ln_overlay_free(ov);
    for (size_t i = 0; i < n; i++) free(txs[i]);
}

static ln_account account(ln_state *st, const char *name)
{
    ln_overlay *ov = ln_overlay_new(st);
    ln_account a;
    ASSERT_EQ(ln_account_load(ov, name, &a), 0);
    ln_overlay_free(ov);
    return a;
}

/* alice and bob with 10^9 each, carol with 1000; box deployed by alice in
** block 1 (alice's nonce is then 1). */
static ln_state *chain(void)
{
    ASSERT_EQ(ln_crypto_init(), 0);
    for (int i = 0; i < NKEYS; i++) {
        uint8_t seed[LN_SEED_LEN] = { (uint8_t)(i + 1), 0xe7 };
        ln_keypair_seed(seed, pks[i], sks[i]);
    }
    ln_state *st;
    ASSERT_EQ(ln_state_open(NULL, &st), 0);
    ln_overlay *ov = ln_overlay_new(st);
    for (int i = 0; i < NKEYS; i++) {
        ln_account a;
        memset(&a, 0, sizeof a);
        snprintf(a.name, sizeof a.name, "%s", names[i]);
        ln_authority_key(&a.owner, pks[i]);
        a.active = a.owner;
        a.balance = i == CAROL ? 1000 : 1000000000;
        ASSERT_EQ(ln_account_save(ov, &a), 0);
    }
    uint8_t root[LN_HASH_LEN];
    ASSERT_EQ(ln_overlay_commit(ov, NULL, root), 0);
    ln_overlay_free(ov);
    txspec t = spec(ALICE, 0, "sys", "deploy");
    t.nargs = 2;
    t.args[0] = S("box");
    t.args[1] = S(BOX);
    uint8_t *tx[1];
    size_t len[1];
    tx[0] = build(&t, &len[0]);
    ln_receipt r;
    ln_blockctx bc = ctx(1);
    apply(st, &bc, tx, len, 1, 0, &r);
    if (!r.ok) LN_FAIL("deploy: %s", r.error);
    ln_receipt_free(&r);
    return st;
}

/* ---- the checks ------------------------------------------------------------- */

/* ln_exec_check of t at height with flags: its code, and why in why. */
static int check(ln_state *st, const txspec *t, uint64_t height, int flags, char *why, size_t wl)
{
    size_t len;
    uint8_t *p = build(t, &len);
    ln_tx tx;
    ASSERT_EQ(ln_tx_decode(&tx, p, len), 0);
    ln_overlay *ov = ln_overlay_new(st);
    ln_account sender;
    why[0] = 0;
    int rc = ln_exec_check(ov, "test", height, &tx, flags, &sender, why, wl);
    if (rc == 0) ASSERT_STR(sender.name, t->account);
    ln_overlay_free(ov);
    ln_tx_free(&tx);
    free(p);
    return rc;
}

#define CHECK_REFUSES(t, height, flags, code, text) do {                   \
    char why_[200];                                                     \
    int rc_ = check(st, (t), (height), (flags), why_, sizeof why_);    \
    if (rc_ != (code))                                                  \
        LN_FAIL("check gave %s (%s), want %s", ln_errname(rc_), why_, ln_errname(code)); \
    if (!strstr(why_, (text)))                                          \
        LN_FAIL("why \"%s\" does not say \"%s\"", why_, (text));         \
} while (0)

TEST(exec_check_refuses_each_failed_check_with_its_code_and_the_numbers)
{
    ln_state *st = chain();
    char why[200];
    txspec t = spec(ALICE, 1, "box", "get");
    ASSERT_EQ(check(st, &t, 5, LN_CHECK_SIGS, why, sizeof why), 0);

    t.chain_id = "other";
    CHECK_REFUSES(&t, 5, LN_CHECK_SIGS, LN_ECHAINID, "transaction is for chain 'other', this is 'test'");
    t = spec(ALICE, 1, "box", "get");
    t.expires = 4;
    CHECK_REFUSES(&t, 5, LN_CHECK_SIGS, LN_EEXPIRED, "expired at height 4, block is 5");
    ASSERT_EQ(check(st, &t, 4, LN_CHECK_SIGS, why, sizeof why), 0);       /* its last height */
    t = spec(ALICE, 1, "box", "get");
    t.account = "dave";
    CHECK_REFUSES(&t, 5, LN_CHECK_SIGS, LN_ENOACCOUNT, "dave");
    t = spec(ALICE, 3, "box", "get");
    CHECK_REFUSES(&t, 5, LN_CHECK_SIGS, LN_ENONCE, "alice expects nonce 1, got 3");
    t = spec(ALICE, 0, "box", "get");
    CHECK_REFUSES(&t, 5, LN_CHECK_SIGS, LN_ENONCE, "alice expects nonce 1, got 0");
    t = spec(ALICE, 1, "box", "get");
    t.signer = BOB;                                    /* a good signature, the wrong key */
    CHECK_REFUSES(&t, 5, LN_CHECK_SIGS, LN_EAUTH, "signatures do not satisfy alice@active");
    t = spec(CAROL, 0, "box", "get");
    t.max_fee = 1001;
    CHECK_REFUSES(&t, 5, LN_CHECK_SIGS, LN_EBALANCE, "carol has 1000, max_fee is 1001");
    t.max_fee = 1000;
    ASSERT_EQ(check(st, &t, 5, LN_CHECK_SIGS, why, sizeof why), 0);
    ln_state_close(st);
}

TEST(exec_check_for_the_pool_takes_a_nonce_ahead_and_a_block_does_not)
{
    ln_state *st = chain();
    char why[200];
    txspec t = spec(ALICE, 4, "box", "get");
    ASSERT_EQ(check(st, &t, 5, LN_CHECK_SIGS | LN_CHECK_POOL, why, sizeof why), 0);
    CHECK_REFUSES(&t, 5, LN_CHECK_SIGS, LN_ENONCE, "alice expects nonce 1, got 4");
    t.nonce = 0;                                       /* behind: never */
    CHECK_REFUSES(&t, 5, LN_CHECK_SIGS | LN_CHECK_POOL, LN_ENONCE, "alice expects nonce 1 or later, got 0");
    t = spec(ALICE, 1, "box", "get");
    t.expires = 4;
    CHECK_REFUSES(&t, 5, LN_CHECK_POOL, LN_EEXPIRED, "expired at height 4, next block is 5");
    ln_state_close(st);
}

/* t's encoding with one bit of its first signature flipped. */
static uint8_t *bad_sig(const txspec *t, size_t *len)
{
    uint8_t *p = build(t, len);
    /* the signature is the last bin(64) of the encoding: its last byte */
    p[*len - 1] ^= 1;
    return p;
}

TEST(exec_check_verifies_signatures_only_when_asked_and_says_which_fails)
{
    ln_state *st = chain();
    txspec t = spec(ALICE, 1, "box", "get");
    size_t len;
    uint8_t *p = bad_sig(&t, &len);
    ln_tx tx;
    ASSERT_EQ(ln_tx_decode(&tx, p, len), 0);
    ln_overlay *ov = ln_overlay_new(st);
    ln_account sender;
    char why[200] = "";
    ASSERT_EQ(ln_exec_check(ov, "test", 5, &tx, LN_CHECK_SIGS, &sender, why, sizeof why), LN_EBADSIG);
    char key[17];
    ln_hex(pks[ALICE], 8, key);
    char want[120];
    snprintf(want, sizeof want, "signatures[1] by key %s... does not verify over the transaction id", key);
    ASSERT_STR(why, want);
    /* without LN_CHECK_SIGS the caller vouches for them (the mempool did) */
    ASSERT_EQ(ln_exec_check(ov, "test", 5, &tx, 0, &sender, why, sizeof why), 0);
    ln_overlay_free(ov);
    ln_tx_free(&tx);
    free(p);
    ln_state_close(st);
}

/* ---- blocks ------------------------------------------------------------------ */

TEST(exec_block_refuses_a_transaction_without_touching_the_state_and_says_why)
{
    ln_state *st = chain();
    uint8_t before[LN_HASH_LEN], after[LN_HASH_LEN];
    ln_state_root(st, before);
    txspec t = spec(ALICE, 7, "box", "set");
    t.nargs = 2;
    t.args[0] = S("k");
    t.args[1] = U(1);
    uint8_t *txs[3];
    size_t lens[3];
    txs[0] = build(&t, &lens[0]);
    ln_tx tx;
    ASSERT_EQ(ln_tx_decode(&tx, txs[0], lens[0]), 0);
    uint8_t id[LN_HASH_LEN];
    memcpy(id, tx.id, LN_HASH_LEN);
    ln_tx_free(&tx);
    /* bytes that do not decode: their hash names them */
    static const uint8_t junk[] = { 0x86, 0xa7, 'a', 'c', 'c' };
    txs[1] = malloc(sizeof junk);
    memcpy(txs[1], junk, sizeof junk);
    lens[1] = sizeof junk;
    uint8_t junk_id[LN_HASH_LEN];
    ln_hash(junk, sizeof junk, junk_id);
    t = spec(ALICE, 1, "box", "set");
    t.nargs = 2;
    t.args[0] = S("k");
    t.args[1] = U(1);
    t.contract = "Box";                            /* decodes, then is refused as EBADTX */
    txs[2] = build(&t, &lens[2]);
    ln_receipt rs[3];
    ln_blockctx bc = ctx(2);
    apply(st, &bc, txs, lens, 3, 0, rs);
    ln_state_root(st, after);
    ASSERT_MEM(before, after, LN_HASH_LEN);
    ASSERT_EQ(rs[0].included, 0);
    ASSERT_EQ(rs[0].code, LN_ENONCE);
    ASSERT_STR(rs[0].error, "wrong nonce: alice expects nonce 1, got 7");
    ASSERT_MEM(rs[0].txid, id, LN_HASH_LEN);
    ASSERT_EQ(rs[0].gas_used, 0);
    ASSERT_EQ(rs[0].fee, 0);
    ASSERT_EQ(rs[1].included, 0);
    ASSERT_EQ(rs[1].code, LN_ETRUNC);
    ASSERT_STR(rs[1].error, "truncated encoding");
    ASSERT_MEM(rs[1].txid, junk_id, LN_HASH_LEN);
    ASSERT_EQ(rs[2].included, 0);
    ASSERT_EQ(rs[2].code, LN_EBADTX);
    ASSERT_STR(rs[2].error, "malformed transaction: actions[1].contract must be an account name");
    for (int i = 0; i < 3; i++) ln_receipt_free(&rs[i]);
    ASSERT_EQ(account(st, "alice").nonce, 1);
    ln_state_close(st);
}

TEST(exec_block_charges_gas_times_the_price_and_limits_gas_to_max_fee_over_the_price)
{
    ln_state *st = chain();
    ln_account a0 = account(st, "alice");
    txspec t = spec(ALICE, 1, "box", "set");
    t.nargs = 2;
    t.args[0] = S("k");
    t.args[1] = U(5);
    txspec spin = spec(ALICE, 2, "box", "spin");
    spin.max_fee = 30001;                          /* 10000 gas at 3, the rest unused */
    txspec fail = spec(ALICE, 3, "box", "fail");
    fail.nargs = 1;
    fail.args[0] = S("k");
    uint8_t *txs[3];
    size_t lens[3];
    txs[0] = build(&t, &lens[0]);
    txs[1] = build(&spin, &lens[1]);
    txs[2] = build(&fail, &lens[2]);
    ln_receipt rs[3];
    ln_blockctx bc = ctx(2);
    bc.gas_price = 3;
    apply(st, &bc, txs, lens, 3, 0, rs);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(rs[i].included, 1);
        ASSERT_EQ(rs[i].fee, 3 * rs[i].gas_used);
        ASSERT_STR(rs[i].payer, "alice");
    }
    ASSERT(rs[0].ok);
    ASSERT_EQ(rs[1].code, LN_EGAS);
    ASSERT_EQ(rs[1].gas_used, 10000);
    ASSERT_EQ(rs[1].fee, 30000);
    ASSERT_EQ(rs[2].code, LN_ECALL);
    ASSERT_STR(rs[2].error, "no k");
    ln_account a = account(st, "alice");
    ASSERT_EQ(a.nonce, a0.nonce + 3);              /* a failed call uses its nonce */
    ASSERT_EQ(a.balance, a0.balance - rs[0].fee - rs[1].fee - rs[2].fee);
    for (int i = 0; i < 3; i++) ln_receipt_free(&rs[i]);
    /* the failed call's write is gone, the first call's stays */
    ln_outcome out;
    static const uint8_t karg[] = { 0x91, 0xa1, 'k' };
    bc = ctx(3);
    ASSERT_EQ(ln_exec_query(st, &bc, "box", "get", karg, sizeof karg, &out), 0);
    ASSERT_EQ(out.code, 0);
    ASSERT_EQ(out.result_len, 1);
    ASSERT_EQ(out.result[0], 5);
    ln_outcome_free(&out);
    ln_state_close(st);
}

TEST(exec_block_with_checked_signatures_trusts_them)
{
    ln_state *st = chain();
    txspec t = spec(ALICE, 1, "box", "set");
    t.nargs = 2;
    t.args[0] = S("k");
    t.args[1] = U(1);
    uint8_t *txs[1];
    size_t lens[1];
    ln_receipt r;
    ln_blockctx bc = ctx(2);
    txs[0] = bad_sig(&t, &lens[0]);
    apply(st, &bc, txs, lens, 1, 0, &r);
    ASSERT_EQ(r.included, 0);
    ASSERT_EQ(r.code, LN_EBADSIG);
    ln_receipt_free(&r);
    /* sigs_checked: these bytes were verified before (by the mempool), so
    ** they are not again; the bad signature shows that they are not */
    txs[0] = bad_sig(&t, &lens[0]);
    apply(st, &bc, txs, lens, 1, 1, &r);
    ASSERT_EQ(r.included, 1);
    ASSERT(r.ok);
    ln_receipt_free(&r);
    ln_state_close(st);
}

TEST(exec_block_past_its_gas_cap_defers_the_rest_untouched_with_efull)
{
    ln_state *st = chain();
    uint8_t *txs[3];
    size_t lens[3];
    uint8_t ids[3][LN_HASH_LEN];
    for (int i = 0; i < 3; i++) {
        txspec t = spec(ALICE, 1 + (uint64_t)i, "box", "set");
        t.nargs = 2;
        t.args[0] = S(i == 0 ? "a" : i == 1 ? "b" : "c");
        t.args[1] = U((uint64_t)i);
        txs[i] = build(&t, &lens[i]);
        ln_hash(txs[i], lens[i], ids[i]);
    }
    /* the first call costs more than the cap: it starts under it and runs
    ** whole; the second does not start */
    ln_receipt rs[3];
    ln_blockctx bc = ctx(2);
    bc.gas_cap = 1;
    apply(st, &bc, txs, lens, 3, 0, rs);
    ASSERT(rs[0].ok);
    ASSERT(rs[0].gas_used > 1);
    for (int i = 1; i < 3; i++) {
        ASSERT_EQ(rs[i].included, 0);
        ASSERT_EQ(rs[i].code, LN_EFULL);
        ASSERT(strstr(rs[i].error, "the block reached its gas cap") != NULL);
        ASSERT_EQ(rs[i].gas_used, 0);
        ASSERT_EQ(rs[i].fee, 0);
        ASSERT_MEM(rs[i].txid, ids[i], LN_HASH_LEN);
    }
    for (int i = 0; i < 3; i++) ln_receipt_free(&rs[i]);
    ASSERT_EQ(account(st, "alice").nonce, 2);
    /* deferred, not refused: they go into the next block, with no cap */
    for (int i = 1; i < 3; i++) {
        txspec t = spec(ALICE, 1 + (uint64_t)i, "box", "set");
        t.nargs = 2;
        t.args[0] = S(i == 1 ? "b" : "c");
        t.args[1] = U((uint64_t)i);
        txs[i - 1] = build(&t, &lens[i - 1]);
    }
    bc = ctx(3);
    apply(st, &bc, txs, lens, 2, 0, rs);
    ASSERT(rs[0].ok && rs[1].ok);
    ln_receipt_free(&rs[0]);
    ln_receipt_free(&rs[1]);
    ASSERT_EQ(account(st, "alice").nonce, 4);
    ln_state_close(st);
}

/* ---- the pricing plugin ------------------------------------------------------ */

/* A plugin that refuses a max_fee under 1000 (EMAXFEE) after writing its
** own key, gives a gas limit of max_fee / 10, charges 10 per gas to the
** proposer, and fails on box.get. */
static const char PRICED[] =
    "return {\n"
    "  admit = function(tx, s)\n"
    "    pricing.set('touched', true)\n"
    "    if tx.max_fee < 1000 then return false, 'EMAXFEE: under 1000' end\n"
    "    return true, math.floor(tx.max_fee / 10)\n"
    "  end,\n"
    "  charge = function(u, tx, ctx)\n"
    "    if ctx.method == 'get' then error('get is not for sale') end\n"
    "    return { fee = u.gas * 10, payer = tx.account, to = 'proposer' }\n"
    "  end,\n"
    "}\n";

/* chain() with PRICED in the pricing slot. */
static ln_state *priced_chain(void)
{
    ln_state *st = chain();
    ln_overlay *ov = ln_overlay_new(st);
    ASSERT_EQ(ln_registry_install(ov, LN_SLOT_PRICING, "priced", PRICED, sizeof PRICED - 1, NULL, 0, 0), 0);
    uint8_t root[LN_HASH_LEN];
    ASSERT_EQ(ln_overlay_commit(ov, NULL, root), 0);
    ln_overlay_free(ov);
    return st;
}

/* ln_exec_admit of t at height through *gate: its code. */
static int admit(ln_state *st, const txspec *t, uint64_t height, ln_pricing **gate, char *why, size_t wl)
{
    size_t len;
    uint8_t *p = build(t, &len);
    ln_tx tx;
    ASSERT_EQ(ln_tx_decode(&tx, p, len), 0);
    ln_overlay *ov = ln_overlay_new(st);
    ln_account sender;
    why[0] = 0;
    int rc = ln_exec_admit(ov, "test", height, 1700000000, &tx, gate, &sender, why, wl);
    const uint8_t *v;
    size_t vl;
    ASSERT_EQ(ln_overlay_get(ov, (const uint8_t *)"ftouched", 8, &v, &vl), LN_ENOTFOUND);
    ln_overlay_free(ov);
    ln_tx_free(&tx);
    free(p);
    return rc;
}

TEST(exec_admit_runs_the_plugins_admit_and_changes_nothing)
{
    ln_state *st = priced_chain();
    ln_pricing *gate = NULL;
    char why[320];
    txspec t = spec(BOB, 0, "box", "set");
    t.max_fee = 999;
    ASSERT_EQ(admit(st, &t, 2, &gate, why, sizeof why), LN_EMAXFEE);
    ASSERT_STR(why, "under 1000");
    t.max_fee = 1000;
    ASSERT_EQ(admit(st, &t, 2, &gate, why, sizeof why), 0);
    /* carol has 1000: the plugin, not the built-in rule, decides */
    txspec c = spec(CAROL, 0, "box", "set");
    c.max_fee = 5000;
    ASSERT_EQ(admit(st, &c, 2, &gate, why, sizeof why), 0);
    /* the pool's checks still come first */
    c.nonce = 7;
    ASSERT_EQ(admit(st, &c, 2, &gate, why, sizeof why), 0);
    c.nonce = 0;
    c.chain_id = "other";
    ASSERT_EQ(admit(st, &c, 2, &gate, why, sizeof why), LN_ECHAINID);
    ln_pricing_free(gate);
    ln_state_close(st);
}

TEST(exec_admit_keeps_its_plugin_for_a_height_and_loads_it_again_for_the_next)
{
    ln_state *st = priced_chain();
    ln_pricing *gate = NULL;
    char why[320];
    txspec t = spec(BOB, 0, "box", "set");
    ASSERT_EQ(admit(st, &t, 2, &gate, why, sizeof why), 0);
    ASSERT(gate != NULL);
    ASSERT_EQ(ln_pricing_height(gate), 2);
    ln_pricing *first = gate;
    ASSERT_EQ(admit(st, &t, 2, &gate, why, sizeof why), 0);
    ASSERT(gate == first);
    ASSERT_EQ(admit(st, &t, 3, &gate, why, sizeof why), 0);
    ASSERT_EQ(ln_pricing_height(gate), 3);
    ln_pricing_free(gate);
    ln_state_close(st);
}

TEST(exec_admit_without_a_pricing_slot_checks_that_the_balance_covers_max_fee)
{
    ln_state *st = chain();
    ln_pricing *gate = NULL;
    char why[320];
    txspec c = spec(CAROL, 0, "box", "set");
    c.max_fee = 1001;
    ASSERT_EQ(admit(st, &c, 2, &gate, why, sizeof why), LN_EBALANCE);
    ASSERT_STR(why, "carol has 1000, max_fee is 1001");
    ASSERT(gate == NULL);
    c.max_fee = 1000;
    ASSERT_EQ(admit(st, &c, 2, &gate, why, sizeof why), 0);
    ln_state_close(st);
}

static char logged[1024];
static void log_line(void *ud, const char *line)
{
    (void)ud;
    snprintf(logged, sizeof logged, "%s", line);
}

TEST(exec_block_prices_by_the_plugin_pays_the_proposer_and_logs_its_faults)
{
    ln_state *st = priced_chain();
    ln_overlay *ov = ln_overlay_new(st);
    ln_account p;
    memset(&p, 0, sizeof p);
    snprintf(p.name, sizeof p.name, "carol");
    ASSERT_EQ(ln_account_load(ov, "carol", &p), 0);
    ln_overlay_free(ov);
    uint64_t carol = p.balance;
    txspec a = spec(ALICE, 1, "box", "set");
    a.nargs = 2;
    a.args[0] = S("k");
    a.args[1] = U(1);
    txspec g = spec(BOB, 0, "box", "get");
    g.nargs = 1;
    g.args[0] = S("k");
    uint8_t *txs[2];
    size_t lens[2];
    txs[0] = build(&a, &lens[0]);
    txs[1] = build(&g, &lens[1]);
    ln_receipt rs[2];
    ln_blockctx bc = ctx(2);
    bc.proposer = "carol";
    bc.log = log_line;
    logged[0] = 0;
    apply(st, &bc, txs, lens, 2, 0, rs);
    ASSERT_EQ(rs[0].included, 1);
    ASSERT_EQ(rs[0].fee, rs[0].gas_used * 10);
    ASSERT_EQ(account(st, "carol").balance, carol + rs[0].fee);
    ASSERT_EQ(rs[1].included, 0);
    ASSERT_EQ(rs[1].code, LN_EPLUGIN);
    ASSERT(strstr(rs[1].error, "get is not for sale") != NULL);
    ASSERT(strstr(logged, "block 2: transaction refused: pricing plugin priced: charge: ") != NULL);
    ASSERT_EQ(account(st, "bob").nonce, 0);
    ln_receipt_free(&rs[0]);
    ln_receipt_free(&rs[1]);
    ln_state_close(st);
}

/* ---- receipts, queries, apply --------------------------------------------------- */

TEST(exec_receipt_encode_gives_the_canonical_receipt_map)
{
    ln_receipt r;
    memset(&r, 0, sizeof r);
    r.error = strdup("no");
    r.gas_used = 300;
    r.fee = 900;
    snprintf(r.payer, sizeof r.payer, "bob");
    r.usage.gas = 300;
    r.usage.tx_bytes = 200;
    uint8_t *p;
    size_t n;
    ASSERT_EQ(ln_receipt_encode(&r, &p, &n), 0);
    static const uint8_t failed[] = {
        0x88, 0xa5, 'e', 'r', 'r', 'o', 'r', 0xa2, 'n', 'o',
        0xa6, 'e', 'v', 'e', 'n', 't', 's', 0x90,
        0xa3, 'f', 'e', 'e', 0xcd, 0x03, 0x84,
        0xa8, 'g', 'a', 's', '_', 'u', 's', 'e', 'd', 0xcd, 0x01, 0x2c,
        0xa2, 'o', 'k', 0xc2,
        0xa5, 'p', 'a', 'y', 'e', 'r', 0xa3, 'b', 'o', 'b',
        0xa6, 'r', 'e', 's', 'u', 'l', 't', 0xc0,
        0xa5, 'u', 's', 'a', 'g', 'e', 0x87,
        0xa5, 'c', 'a', 'l', 'l', 's', 0x00,
        0xac, 'e', 'v', 'e', 'n', 't', 's', '_', 'b', 'y', 't', 'e', 's', 0x00,
        0xa3, 'g', 'a', 's', 0xcd, 0x01, 0x2c,
        0xa8, 'm', 'e', 'm', '_', 'p', 'e', 'a', 'k', 0x00,
        0xad, 's', 't', 'o', 'r', 'a', 'g', 'e', '_', 'a', 'd', 'd', 'e', 'd', 0x00,
        0xad, 's', 't', 'o', 'r', 'a', 'g', 'e', '_', 'f', 'r', 'e', 'e', 'd', 0x00,
        0xa8, 't', 'x', '_', 'b', 'y', 't', 'e', 's', 0xcc, 0xc8 };
    ASSERT_EQ(n, sizeof failed);
    ASSERT_MEM(p, failed, n);
    free(p);
    free(r.error);
    r.error = NULL;
    r.ok = 1;
    static const uint8_t result[] = { 0x92, 0x01, 0xc3 };
    static const uint8_t events[] = { 0x91, 0x80 };
    r.result = malloc(sizeof result);
    memcpy(r.result, result, sizeof result);
    r.result_len = sizeof result;
    r.events = malloc(sizeof events);
    memcpy(r.events, events, sizeof events);
    r.events_len = sizeof events;
    /* stored comes between storage_freed and tx_bytes, by contract name. */
    r.usage.stored = malloc(2 * sizeof *r.usage.stored);
    r.usage.nstored = 2;
    snprintf(r.usage.stored[0].contract, sizeof r.usage.stored[0].contract, "box");
    r.usage.stored[0].bytes = -7;
    snprintf(r.usage.stored[1].contract, sizeof r.usage.stored[1].contract, "token");
    r.usage.stored[1].bytes = 40;
    ASSERT_EQ(ln_receipt_encode(&r, &p, &n), 0);
    ASSERT_EQ(ln_codec_check(p, n), 0);
    ASSERT_MEM(p, "\x88\xa5" "error\xc0\xa6" "events\x91\x80", 17);
    static const uint8_t stored[] = { 0xa6, 's', 't', 'o', 'r', 'e', 'd', 0x82, 0xa3, 'b', 'o', 'x', 0xf9,
                                      0xa5, 't', 'o', 'k', 'e', 'n', 0x28 };
    ASSERT(memmem(p, n, stored, sizeof stored) != NULL);
    ASSERT(memmem(p, n, "\xa6" "result\x92\x01\xc3\xa5" "usage\x88", 17) != NULL);
    free(p);
    ln_receipt_free(&r);
    ASSERT(r.result == NULL && r.events == NULL && r.usage.stored == NULL);
}

TEST(exec_query_writes_nothing_and_runs_under_its_own_gas_cap)
{
    ln_state *st = chain();
    uint8_t before[LN_HASH_LEN], after[LN_HASH_LEN];
    ln_state_root(st, before);
    ln_blockctx bc = ctx(2);
    ln_outcome out;
    static const uint8_t set[] = { 0x92, 0xa1, 'k', 0x07 };
    ASSERT_EQ(ln_exec_query(st, &bc, "box", "set", set, sizeof set, &out), 0);
    ASSERT_EQ(out.code, 0);
    ASSERT(out.gas_used > 0);
    ln_outcome_free(&out);
    ln_state_root(st, after);
    ASSERT_MEM(before, after, LN_HASH_LEN);
    bc.gas_cap = 5000;
    ASSERT_EQ(ln_exec_query(st, &bc, "box", "spin", NULL, 0, &out), 0);
    ASSERT_EQ(out.code, LN_EGAS);
    ASSERT_EQ(out.gas_used, 5000);
    ln_outcome_free(&out);
    /* arguments that are not canonical msgpack never reach the contract */
    static const uint8_t floats[] = { 0x91, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0 };
    ASSERT_EQ(ln_exec_query(st, &bc, "box", "get", floats, sizeof floats, &out), LN_EFLOAT);
    ln_outcome_free(&out);
    ln_state_close(st);
}

TEST(exec_apply_commits_the_block_and_gives_the_states_new_root)
{
    ln_state *st = chain();
    uint8_t before[LN_HASH_LEN], root[LN_HASH_LEN], now[LN_HASH_LEN];
    ln_state_root(st, before);
    txspec t = spec(BOB, 0, "sys", "transfer");
    t.nargs = 2;
    t.args[0] = S("carol");
    t.args[1] = U(500);
    size_t len;
    uint8_t *tx = build(&t, &len);
    const uint8_t *txs[1] = { tx };
    ln_receipt r;
    ln_blockctx bc = ctx(2);
    ASSERT_EQ(ln_exec_apply(st, &bc, txs, &len, 1, &r, NULL, root), 0);
    if (!r.ok) LN_FAIL("%s", r.error);
    ln_receipt_free(&r);
    ln_state_root(st, now);
    ASSERT_MEM(root, now, LN_HASH_LEN);
    ASSERT(memcmp(root, before, LN_HASH_LEN) != 0);
    ASSERT_EQ(account(st, "carol").balance, 1500);
    /* the same bytes again: refused (nonce), and the root stays */
    ASSERT_EQ(ln_exec_apply(st, &bc, txs, &len, 1, &r, NULL, root), 0);
    ASSERT_EQ(r.code, LN_ENONCE);
    ln_receipt_free(&r);
    ASSERT_MEM(root, now, LN_HASH_LEN);
    free(tx);
    ln_state_close(st);
}


/* A contract that logs on its way: what log(...) costs and leaves behind
** must not depend on whether anyone reads the text. */
static const char LOGGER[] =
    "local M = {}\n"
    "function M.note(k)\n"
    "  log('note', k, 7, true, nil, {}, string.rep('x', 3000))\n"
    "  storage.set(k, k)\n"
    "  return k\n"
    "end\n"
    "return M\n";

static int sink_calls;
static void count_sink(const char *where, const char *text, size_t len, void *ud)
{
    (void)where;
    (void)text;
    (void)len;
    (void)ud;
    sink_calls++;
}

/* Deploys LOGGER and calls note in block 2: the root, and each receipt's bytes. */
static void logger_block(uint8_t root[LN_HASH_LEN], uint8_t **enc, size_t *el)
{
    ln_state *st = chain();
    txspec d = spec(ALICE, 1, "sys", "deploy");
    d.nargs = 2;
    d.args[0] = S("logger");
    d.args[1] = S(LOGGER);
    txspec c = spec(BOB, 0, "logger", "note");
    c.nargs = 1;
    c.args[0] = S("k");
    size_t lens[2];
    uint8_t *txs[2] = { build(&d, &lens[0]), build(&c, &lens[1]) };
    ln_receipt r[2];
    ln_blockctx bc = ctx(2);
    ASSERT_EQ(ln_exec_apply(st, &bc, (const uint8_t *const *)txs, lens, 2, r, NULL, root), 0);
    for (int i = 0; i < 2; i++) {
        if (!r[i].ok) LN_FAIL("transaction %d: %s", i, r[i].error);
        ASSERT_EQ(ln_receipt_encode(&r[i], &enc[i], &el[i]), 0);
        ln_receipt_free(&r[i]);
        free(txs[i]);
    }
    ln_state_close(st);
}

TEST(exec_block_gives_the_same_root_and_receipts_whether_log_text_is_read_or_not)
{
    uint8_t quiet[LN_HASH_LEN], heard[LN_HASH_LEN], *qe[2], *he[2];
    size_t ql[2], hl[2];
    ln_contract_log_sink(NULL, NULL);
    logger_block(quiet, qe, ql);
    sink_calls = 0;
    ln_contract_log_sink(count_sink, NULL);
    logger_block(heard, he, hl);
    ln_contract_log_sink(NULL, NULL);
    ASSERT_EQ(sink_calls, 1);                  /* the text was built and handed over */
    ASSERT_MEM(quiet, heard, LN_HASH_LEN);
    for (int i = 0; i < 2; i++) {              /* gas and fee included */
        ASSERT_EQ(ql[i], hl[i]);
        ASSERT_MEM(qe[i], he[i], ql[i]);
        free(qe[i]);
        free(he[i]);
    }
}

/* ---- what a validator sends free ------------------------------------------ */

/* carol made the chain's one validator ("g"), with nothing to pay with. */
static void carol_validates(ln_state *st)
{
    ln_overlay *ov = ln_overlay_new(st);
    ln_genesis *g = calloc(1, sizeof *g);
    ASSERT(ov != NULL && g != NULL);
    snprintf(g->chain_id, sizeof g->chain_id, "test");
    memset(g->fingerprint, 'a', 64);
    g->m.nval = 1;
    snprintf(g->m.val_names[0], sizeof g->m.val_names[0], "carol");
    memcpy(g->m.val_keys[0], pks[CAROL], LN_PK_LEN);
    ASSERT_EQ(ln_genesis_save(ov, g), 0);
    ln_account c;
    ASSERT_EQ(ln_account_load(ov, "carol", &c), 0);
    c.balance = 0;
    ASSERT_EQ(ln_account_save(ov, &c), 0);
    uint8_t root[LN_HASH_LEN];
    ASSERT_EQ(ln_overlay_commit(ov, NULL, root), 0);
    ln_overlay_free(ov);
    free(g);
}

/* ln_exec_admit of t at height 2 (no pricing slot): its code. */
static int admit_at_2(ln_state *st, const txspec *t)
{
    size_t len;
    uint8_t *p = build(t, &len);
    ln_tx tx;
    ASSERT_EQ(ln_tx_decode(&tx, p, len), 0);
    ln_overlay *ov = ln_overlay_new(st);
    ln_pricing *gate = NULL;
    ln_account sender;
    char why[200];
    int rc = ln_exec_admit(ov, "test", 2, 1700000002, &tx, &gate, &sender, why, sizeof why);
    ln_pricing_free(gate);
    ln_overlay_free(ov);
    ln_tx_free(&tx);
    free(p);
    return rc;
}

TEST(exec_block_runs_a_validators_sys_evidence_free_and_nobody_elses)
{
    ln_state *st = chain();
    carol_validates(st);
    /* The evidence is no table: the call fails, and still takes the
    ** nonce; a validator's costs nothing, anyone else's pays as usual. */
    txspec ev = spec(CAROL, 0, "sys", "evidence");
    ev.max_fee = 0;
    ev.nargs = 1;
    ev.args[0] = S("not a table");
    txspec ev2 = ev;
    ev2.nonce = 1;
    txspec other = spec(CAROL, 2, "sys", "transfer");   /* not evidence: not free */
    other.max_fee = 0;
    other.nargs = 2;
    other.args[0] = S("bob");
    other.args[1] = U(0);
    txspec bob = spec(BOB, 0, "sys", "evidence");       /* not a validator */
    bob.max_fee = 0;
    bob.nargs = 1;
    bob.args[0] = S("not a table");
    txspec paid = bob;
    paid.max_fee = 1000000;
    ASSERT_EQ(admit_at_2(st, &ev), 0);
    ASSERT_EQ(admit_at_2(st, &bob), 0);                 /* max_fee 0: nothing to cover */
    ln_account b0 = account(st, "bob");
    uint8_t *txs[5];
    size_t lens[5];
    txs[0] = build(&ev, &lens[0]);
    txs[1] = build(&ev2, &lens[1]);
    txs[2] = build(&other, &lens[2]);
    txs[3] = build(&bob, &lens[3]);
    paid.nonce = 1;
    txs[4] = build(&paid, &lens[4]);
    ln_receipt rs[5];
    ln_blockctx bc = ctx(2);
    apply(st, &bc, txs, lens, 5, 0, rs);
    for (int i = 0; i < 2; i++) {                       /* free, refused by sys, nonce taken */
        ASSERT_EQ(rs[i].included, 1);
        ASSERT_EQ(rs[i].ok, 0);
        ASSERT_EQ(rs[i].code, LN_EINVAL);
        ASSERT(strstr(rs[i].error, "evidence: e must be") != NULL);
        ASSERT_EQ(rs[i].fee, 0);
        ASSERT(rs[i].gas_used > 0 && rs[i].gas_used <= LN_FREE_GAS);
    }
    /* The built-in rule: max_fee 0 buys no gas, so the call runs out. */
    for (int i = 2; i < 4; i++) {
        ASSERT_EQ(rs[i].included, 1);
        ASSERT_EQ(rs[i].ok, 0);
        ASSERT_EQ(rs[i].code, LN_EGAS);
    }
    ASSERT_EQ(rs[4].included, 1);                       /* paid for: runs, and pays */
    ASSERT_EQ(rs[4].code, LN_EINVAL);
    ASSERT(rs[4].fee > 0);
    ASSERT_EQ(account(st, "carol").nonce, 3);
    ASSERT_EQ(account(st, "carol").balance, 0);
    ASSERT_EQ(account(st, "bob").nonce, 2);
    ASSERT_EQ(account(st, "bob").balance, b0.balance - rs[3].fee - rs[4].fee);
    for (int i = 0; i < 5; i++) ln_receipt_free(&rs[i]);
    ln_state_close(st);
}

static const ln_test tests[] = {
    T(exec_check_refuses_each_failed_check_with_its_code_and_the_numbers),
    T(exec_admit_runs_the_plugins_admit_and_changes_nothing),
    T(exec_admit_keeps_its_plugin_for_a_height_and_loads_it_again_for_the_next),
    T(exec_admit_without_a_pricing_slot_checks_that_the_balance_covers_max_fee),
    T(exec_block_prices_by_the_plugin_pays_the_proposer_and_logs_its_faults),
    T(exec_check_for_the_pool_takes_a_nonce_ahead_and_a_block_does_not),
    T(exec_check_verifies_signatures_only_when_asked_and_says_which_fails),
    T(exec_block_refuses_a_transaction_without_touching_the_state_and_says_why),
    T(exec_block_charges_gas_times_the_price_and_limits_gas_to_max_fee_over_the_price),
    T(exec_block_with_checked_signatures_trusts_them),
    T(exec_block_past_its_gas_cap_defers_the_rest_untouched_with_efull),
    T(exec_receipt_encode_gives_the_canonical_receipt_map),
    T(exec_query_writes_nothing_and_runs_under_its_own_gas_cap),
    T(exec_apply_commits_the_block_and_gives_the_states_new_root),
    T(exec_block_gives_the_same_root_and_receipts_whether_log_text_is_read_or_not),
    T(exec_block_runs_a_validators_sys_evidence_free_and_nobody_elses),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
