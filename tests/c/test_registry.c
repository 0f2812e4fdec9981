/* test_registry.c -- the plugin registry in the state (core/registry.c):
** history by height, codes by hash, and what install refuses. */
#include "test.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "registry.h"

static ln_overlay *fresh(ln_state **st)
{
    ln_crypto_init();
    ASSERT_EQ(ln_state_open(NULL, st), 0);
    return ln_overlay_new(*st);
}

/* params {k = v} as canonical msgpack, in buf. */
static size_t params(uint8_t *buf, const char *k, uint64_t v)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    ln_pack_str(&pk, k);
    msgpack_pack_uint64(&pk, v);
    memcpy(buf, sb.data, sb.size);
    size_t n = sb.size;
    msgpack_sbuffer_destroy(&sb);
    return n;
}

TEST(registry_gives_the_plugin_in_force_at_each_height)
{
    ln_state *st;
    ln_overlay *ov = fresh(&st);
    uint8_t p1[32], p2[32];
    size_t l1 = params(p1, "block_ms", 10), l2 = params(p2, "timeout_ms", 500);
    ASSERT_EQ(ln_registry_install(ov, LN_SLOT_CONSENSUS, "poa", "return {}", 9, p1, l1, 0), 0);
    ASSERT_EQ(ln_registry_install(ov, LN_SLOT_CONSENSUS, "bft", "return { x = 1 }", 16, p2, l2, 50), 0);
    ln_plugin_ref r;
    ASSERT_EQ(ln_registry_at(ov, LN_SLOT_CONSENSUS, 0, &r), 0);
    ASSERT_STR(r.name, "poa");
    ASSERT_EQ(r.from, 0);
    ASSERT_EQ(r.plen, l1);
    ASSERT_MEM(r.params, p1, l1);
    ln_plugin_ref_free(&r);
    ASSERT_EQ(ln_registry_at(ov, LN_SLOT_CONSENSUS, 49, &r), 0);
    ASSERT_STR(r.name, "poa");
    ln_plugin_ref_free(&r);
    ASSERT_EQ(ln_registry_at(ov, LN_SLOT_CONSENSUS, 50, &r), 0);
    ASSERT_STR(r.name, "bft");
    ASSERT_EQ(r.from, 50);
    uint8_t h[LN_HASH_LEN];
    ln_hash("return { x = 1 }", 16, h);
    ASSERT_MEM(r.hash, h, LN_HASH_LEN);
    char *code;
    size_t cl;
    ASSERT_EQ(ln_registry_code(ov, r.hash, &code, &cl), 0);
    ASSERT_STR(code, "return { x = 1 }");
    ASSERT_EQ(cl, 16);
    free(code);
    ln_plugin_ref_free(&r);
    ASSERT_EQ(ln_registry_at(ov, LN_SLOT_PRICING, 7, &r), LN_ENOTFOUND);
    ln_overlay_free(ov);
    ln_state_close(st);
}

/* Two changes in one block (a param, then a swap) both give from = h + 1:
** the later replaces the earlier, the history stays one entry per height. */
TEST(registry_a_second_entry_from_the_same_height_replaces_the_first)
{
    ln_state *st;
    ln_overlay *ov = fresh(&st);
    ASSERT_EQ(ln_registry_install(ov, LN_SLOT_CONSENSUS, "poa", "return {}", 9, NULL, 0, 0), 0);
    ASSERT_EQ(ln_registry_install(ov, LN_SLOT_CONSENSUS, "poa", "return {}", 9, NULL, 0, 10), 0);
    ASSERT_EQ(ln_registry_install(ov, LN_SLOT_CONSENSUS, "bft", "return { 1 }", 12, NULL, 0, 10), 0);
    ln_plugin_ref r;
    ASSERT_EQ(ln_registry_at(ov, LN_SLOT_CONSENSUS, 10, &r), 0);
    ASSERT_STR(r.name, "bft");
    ln_plugin_ref_free(&r);
    ASSERT_EQ(ln_registry_at(ov, LN_SLOT_CONSENSUS, 9, &r), 0);
    ASSERT_STR(r.name, "poa");
    ASSERT_EQ(r.from, 0);
    ln_plugin_ref_free(&r);
    ln_overlay_free(ov);
    ln_state_close(st);
}

static const char VALS[4][LN_NAME_MAX + 1] = { "v0", "v1", "v2", "v3" };

typedef struct { int activated, postponed; uint64_t at; } heard;

static void on_swap(void *ud, const ln_swap *s, int activated)
{
    heard *h = ud;
    if (activated) h->activated++; else h->postponed++;
    h->at = s->at;
}

TEST(registry_a_swap_goes_into_force_with_more_than_two_thirds_ready_else_waits)
{
    ln_state *st;
    ln_overlay *ov = fresh(&st);
    ASSERT_EQ(ln_registry_install(ov, LN_SLOT_CONSENSUS, "poa", "return {}", 9, NULL, 0, 0), 0);
    const char *bft = "return { bft = true }";
    uint8_t hash[LN_HASH_LEN];
    ln_hash(bft, strlen(bft), hash);
    ASSERT_EQ(ln_registry_schedule(ov, LN_SLOT_CONSENSUS, "bft", bft, strlen(bft), NULL, 0, 20), 0);
    ASSERT_EQ(ln_registry_schedule(ov, LN_SLOT_CONSENSUS, "x", "return {}", 9, NULL, 0, 30), LN_EEXIST);
    uint8_t other[LN_HASH_LEN] = { 1 };
    ASSERT_EQ(ln_registry_ready(ov, LN_SLOT_CONSENSUS, other, "v0"), LN_ENOTFOUND);
    ASSERT_EQ(ln_registry_ready(ov, LN_SLOT_PRICING, hash, "v0"), LN_ENOTFOUND);
    ASSERT_EQ(ln_registry_ready(ov, LN_SLOT_CONSENSUS, hash, "v1"), 0);
    ASSERT_EQ(ln_registry_ready(ov, LN_SLOT_CONSENSUS, hash, "v0"), 0);
    ASSERT_EQ(ln_registry_ready(ov, LN_SLOT_CONSENSUS, hash, "v0"), 0);      /* twice: once */
    ASSERT_EQ(ln_registry_ready(ov, LN_SLOT_CONSENSUS, hash, "gone"), 0);    /* not a validator: not counted */
    ln_swap *w;
    size_t n;
    ASSERT_EQ(ln_registry_pending(ov, &w, &n), 0);
    ASSERT_EQ(n, 1);
    ASSERT_EQ(w[0].nready, 3);
    ASSERT_STR(w[0].ready[0], "gone");      /* sorted */
    ASSERT_STR(w[0].ready[1], "v0");
    ln_swaps_free(w, n);
    /* Not due before block 19 ends. */
    heard h = { 0, 0, 0 };
    ASSERT_EQ(ln_registry_advance(ov, 18, VALS, 4, 5, on_swap, &h), 0);
    ASSERT_EQ(h.activated + h.postponed, 0);
    /* 2 of 4 is not more than 2/3: at moves 5 on. */
    ASSERT_EQ(ln_registry_advance(ov, 19, VALS, 4, 5, on_swap, &h), 0);
    ASSERT_EQ(h.postponed, 1);
    ASSERT_EQ(h.at, 20);
    ASSERT_EQ(ln_registry_pending(ov, &w, &n), 0);
    ASSERT_EQ(w[0].at, 25);
    ln_swaps_free(w, n);
    ln_plugin_ref r;
    ASSERT_EQ(ln_registry_at(ov, LN_SLOT_CONSENSUS, 20, &r), 0);
    ASSERT_STR(r.name, "poa");
    ln_plugin_ref_free(&r);
    /* 3 of 4 is: in force from 25, the pending record gone. */
    ASSERT_EQ(ln_registry_ready(ov, LN_SLOT_CONSENSUS, hash, "v3"), 0);
    ASSERT_EQ(ln_registry_advance(ov, 24, VALS, 4, 5, on_swap, &h), 0);
    ASSERT_EQ(h.activated, 1);
    ASSERT_EQ(ln_registry_pending(ov, &w, &n), 0);
    ASSERT_EQ(n, 0);
    ln_swaps_free(w, n);
    ASSERT_EQ(ln_registry_at(ov, LN_SLOT_CONSENSUS, 24, &r), 0);
    ASSERT_STR(r.name, "poa");
    ln_plugin_ref_free(&r);
    ASSERT_EQ(ln_registry_at(ov, LN_SLOT_CONSENSUS, 25, &r), 0);
    ASSERT_STR(r.name, "bft");
    ASSERT_MEM(r.hash, hash, LN_HASH_LEN);
    ln_plugin_ref_free(&r);
    ln_overlay_free(ov);
    ln_state_close(st);
}

TEST(registry_refuses_a_history_that_would_not_move_forward)
{
    ln_state *st;
    ln_overlay *ov = fresh(&st);
    ASSERT_EQ(ln_registry_install(ov, LN_SLOT_GOVERNANCE, "admin", "return {}", 9, NULL, 0, 10), 0);
    ASSERT_EQ(ln_registry_install(ov, LN_SLOT_GOVERNANCE, "council", "return {}", 9, NULL, 0, 3),
              LN_EINVAL);
    ASSERT_EQ(ln_registry_install(ov, LN_SLOT_GOVERNANCE, "", "return {}", 9, NULL, 0, 11), LN_EINVAL);
    ASSERT_EQ(ln_registry_install(ov, LN_SLOT_GOVERNANCE, "a-name-longer-than-thirty-one-b",
                                  "return {}", 9, NULL, 0, 11), 0);
    ASSERT_EQ(ln_registry_install(ov, LN_SLOT_GOVERNANCE, "a-name-longer-than-thirty-one-by",
                                  "return {}", 9, NULL, 0, 12), LN_EINVAL);
    static char big[LN_PLUGIN_CODE_MAX + 1];
    memset(big, ' ', sizeof big);
    ASSERT_EQ(ln_registry_install(ov, LN_SLOT_PRICING, "big", big, sizeof big, NULL, 0, 0),
              LN_ETOOBIG);
    uint8_t junk[] = { 0x81, 0xa1, 'b', 0xa1, 'x', 0xa1 };   /* not one canonical map */
    ASSERT_EQ(ln_registry_install(ov, LN_SLOT_PRICING, "flat", "return {}", 9, junk, sizeof junk, 0),
              LN_EINVAL);
    ln_plugin_ref r;
    ASSERT_EQ(ln_registry_at(ov, LN_SLOT_PRICING, 5, &r), LN_ENOTFOUND);
    ASSERT_EQ(ln_registry_at(ov, LN_SLOT_GOVERNANCE, 100, &r), 0);
    ASSERT_STR(r.name, "a-name-longer-than-thirty-one-b");
    ln_plugin_ref_free(&r);
    ln_overlay_free(ov);
    ln_state_close(st);
}

TEST(registry_slot_names_round_trip)
{
    for (int s = 0; s < LN_NSLOTS; s++) ASSERT_EQ(ln_slot_of(ln_slot_name((ln_slot)s)), s);
    ASSERT_EQ(ln_slot_of("storage"), -1);
}

static const ln_test tests[] = {
    T(registry_gives_the_plugin_in_force_at_each_height),
    T(registry_refuses_a_history_that_would_not_move_forward),
    T(registry_slot_names_round_trip),
    T(registry_a_second_entry_from_the_same_height_replaces_the_first),
    T(registry_a_swap_goes_into_force_with_more_than_two_thirds_ready_else_waits),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
