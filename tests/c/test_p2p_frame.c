/* test_p2p_frame.c -- the typed frames of the P2P protocol
** (core/p2p_frame.c): each encoder's bytes decoded back, what decoding
** refuses, and fields that are missing, mistyped or more than this build
** knows. Frames in a running node are tested in test_p2p_fuzzed.c and
** tests/net/p2p_spec.lua. */
#include "test.h"
#include "codec.h"
#include "err.h"
#include "p2p_frame.h"

/* ---- helpers ----------------------------------------------------------- */

static void pstr(msgpack_packer *p, const char *s)
{
    msgpack_pack_str(p, strlen(s));
    msgpack_pack_str_body(p, s, strlen(s));
}

static void pbin(msgpack_packer *p, const void *b, size_t n)
{
    msgpack_pack_bin(p, n);
    msgpack_pack_bin_body(p, b, n);
}

/* A frame built by hand: sb is the caller's (msgpack_sbuffer_destroy). */
static msgpack_packer begin(msgpack_sbuffer *sb)
{
    msgpack_packer p;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&p, sb, msgpack_sbuffer_write);
    return p;
}

/* Decodes sb's frame; fails the test unless it gives want. */
static void decode(const msgpack_sbuffer *sb, size_t max_addrs, ln_p2p_frame *f, int want)
{
    int rc = ln_p2p_frame_decode((const uint8_t *)sb->data, sb->size, max_addrs, f);
    if (rc != want) LN_FAIL("decode gave %d, want %d", rc, want);
}

/* ---- encoders, decoded back ---------------------------------------------- */

TEST(p2p_frame_each_encoder_is_decoded_back_to_what_it_was_given)
{
    msgpack_sbuffer sb;
    ln_p2p_frame f;
    uint8_t sig[LN_SIG_LEN], m[3] = { 1, 2, 3 };
    memset(sig, 0x5a, sizeof sig);

    ln_p2p_frame_consensus(&sb, "node2", m, sizeof m, sig);
    decode(&sb, 0, &f, 0);
    ASSERT_EQ(f.type, LN_P2P_CONSENSUS);
    ASSERT_STR(f.from, "node2");
    ASSERT_EQ(f.m.n, 3);
    ASSERT_MEM(f.m.p, m, 3);
    ASSERT(f.sig != NULL);
    ASSERT_MEM(f.sig, sig, LN_SIG_LEN);
    ln_p2p_frame_free(&f);
    msgpack_sbuffer_destroy(&sb);
    ln_p2p_frame_consensus(&sb, "node2", m, sizeof m, NULL);
    decode(&sb, 0, &f, 0);
    ASSERT(f.sig == NULL);
    ln_p2p_frame_free(&f);
    msgpack_sbuffer_destroy(&sb);

    uint8_t t0[] = { 0xaa }, t1[] = { 0xbb, 0xcc }, *txs[] = { t0, t1 };
    size_t lens[] = { 1, 2 };
    ln_p2p_frame_txs(&sb, txs, lens, 2, 3);
    decode(&sb, 0, &f, 0);
    ASSERT_EQ(f.type, LN_P2P_TXS);
    ASSERT_EQ(f.ntxs, 2);
    ASSERT_EQ(f.txs[1].n, 2);
    ASSERT_MEM(f.txs[1].p, t1, 2);
    ln_p2p_frame_free(&f);
    msgpack_sbuffer_destroy(&sb);

    uint8_t blk[40];
    memset(blk, 7, sizeof blk);
    ln_p2p_frame_blk(&sb, blk, sizeof blk, 9, 4, 1);
    decode(&sb, 0, &f, 0);
    ASSERT_EQ(f.type, LN_P2P_BLK);
    ASSERT_EQ(f.b.n, 40);
    ASSERT_MEM(f.b.p, blk, 40);
    ASSERT(f.has_h);
    ASSERT_EQ(f.h, 9);
    ASSERT_EQ(f.n, 4);
    ASSERT_EQ(f.last, 1);
    ln_p2p_frame_free(&f);
    msgpack_sbuffer_destroy(&sb);

    ln_p2p_frame_head(&sb, 1ull << 40);
    decode(&sb, 0, &f, 0);
    ASSERT_EQ(f.type, LN_P2P_HEAD);
    ASSERT(f.has_h);
    ASSERT_EQ(f.h, 1ull << 40);
    ln_p2p_frame_free(&f);
    msgpack_sbuffer_destroy(&sb);

    ln_p2p_frame_get(&sb, 0);
    decode(&sb, 0, &f, 0);
    ASSERT_EQ(f.type, LN_P2P_GET);
    ASSERT(f.has_from);
    ASSERT_EQ(f.from_height, 0);
    ln_p2p_frame_free(&f);
    msgpack_sbuffer_destroy(&sb);

    uint8_t k1[LN_PK_LEN], k2[LN_PK_LEN];
    memset(k1, 1, sizeof k1);
    memset(k2, 2, sizeof k2);
    ln_p2p_addr a[2] = { { "127.0.0.1:7001", k1 }, { "[::1]:7003", k2 } };
    ln_p2p_frame_addr(&sb, a, 2);
    decode(&sb, 8, &f, 0);
    ASSERT_EQ(f.type, LN_P2P_ADDR);
    ASSERT_EQ(f.naddrs, 2);
    ASSERT_STR(f.addrs[1].addr, "[::1]:7003");
    ASSERT_MEM(f.addrs[1].key, k2, LN_PK_LEN);
    ln_p2p_frame_free(&f);
    msgpack_sbuffer_destroy(&sb);
}

TEST(p2p_frame_encodings_are_canonical_maps_with_t_last)
{
    msgpack_sbuffer sb;
    ln_p2p_frame_head(&sb, 5);
    static const uint8_t head[] = { 0x82, 0xa1, 'h', 0x05, 0xa1, 't', 0xa4, 'h', 'e', 'a', 'd' };
    ASSERT_EQ(sb.size, sizeof head);
    ASSERT_MEM(sb.data, head, sizeof head);
    msgpack_sbuffer_destroy(&sb);
    ln_p2p_frame_get(&sb, 300);
    static const uint8_t get[] = { 0x82, 0xa4, 'f', 'r', 'o', 'm', 0xcd, 0x01, 0x2c,
                                   0xa1, 't', 0xa3, 'g', 'e', 't' };
    ASSERT_EQ(sb.size, sizeof get);
    ASSERT_MEM(sb.data, get, sizeof get);
    msgpack_sbuffer_destroy(&sb);

    uint8_t sig[LN_SIG_LEN] = { 0 }, blk[3] = { 0 }, k[LN_PK_LEN] = { 0 }, *txs[] = { blk };
    size_t lens[] = { 3 };
    ln_p2p_addr a[1] = { { "h:1", k } };
    for (int i = 0; i < 4; i++) {
        if (i == 0) ln_p2p_frame_consensus(&sb, "v", blk, 3, sig);
        if (i == 1) ln_p2p_frame_txs(&sb, txs, lens, 1, 3);
        if (i == 2) ln_p2p_frame_blk(&sb, blk, 3, 1, 1, 0);
        if (i == 3) ln_p2p_frame_addr(&sb, a, 1);
        if (ln_codec_check((const uint8_t *)sb.data, sb.size) != 0) LN_FAIL("frame %d is not canonical", i);
        msgpack_sbuffer_destroy(&sb);
    }
}

/* ---- decoding what peers send ------------------------------------------- */

TEST(p2p_frame_decode_refuses_what_is_not_a_map_with_a_type_of_1_to_16_bytes)
{
    msgpack_sbuffer sb;
    ln_p2p_frame f;
    msgpack_packer p;
    static const uint8_t junk[] = { 0xc1, 0x00 };
    ASSERT_EQ(ln_p2p_frame_decode(junk, sizeof junk, 8, &f), LN_EINVAL);
    ASSERT_EQ(ln_p2p_frame_decode(junk, 0, 8, &f), LN_EINVAL);

    p = begin(&sb);
    msgpack_pack_array(&p, 1);
    pstr(&p, "head");
    decode(&sb, 8, &f, LN_EINVAL);
    msgpack_sbuffer_destroy(&sb);

    const char *types[] = { NULL, "", "0123456789abcdefg" };    /* none, empty, 17 bytes */
    for (int i = 0; i < 3; i++) {
        p = begin(&sb);
        msgpack_pack_map(&p, 1);
        if (types[i]) { pstr(&p, "t"); pstr(&p, types[i]); }
        else { pstr(&p, "h"); msgpack_pack_uint64(&p, 1); }
        decode(&sb, 8, &f, LN_EINVAL);
        msgpack_sbuffer_destroy(&sb);
    }
    p = begin(&sb);
    msgpack_pack_map(&p, 1);
    pstr(&p, "t");
    pbin(&p, "head", 4);                      /* bytes, not text */
    decode(&sb, 8, &f, LN_EINVAL);
    msgpack_sbuffer_destroy(&sb);

    /* a type of 16 bytes this build does not know: decoded, and unknown */
    p = begin(&sb);
    msgpack_pack_map(&p, 2);
    pstr(&p, "t");
    pstr(&p, "0123456789abcdef");
    pstr(&p, "x");
    msgpack_pack_uint64(&p, 1);
    decode(&sb, 8, &f, 0);
    ASSERT_EQ(f.type, LN_P2P_UNKNOWN);
    ln_p2p_frame_free(&f);
    msgpack_sbuffer_destroy(&sb);
}

TEST(p2p_frame_fields_missing_or_of_another_type_read_as_absent)
{
    msgpack_sbuffer sb;
    ln_p2p_frame f;
    msgpack_packer p;
    uint8_t sig63[LN_SIG_LEN - 1] = { 0 };

    /* p: from is a number, sig is short, m is text */
    p = begin(&sb);
    msgpack_pack_map(&p, 4);
    pstr(&p, "from"); msgpack_pack_uint64(&p, 7);
    pstr(&p, "m"); pstr(&p, "msg");
    pstr(&p, "sig"); pbin(&p, sig63, sizeof sig63);
    pstr(&p, "t"); pstr(&p, "p");
    decode(&sb, 8, &f, 0);
    ASSERT_EQ(f.type, LN_P2P_CONSENSUS);
    ASSERT_STR(f.from, "");
    ASSERT(f.m.p == NULL);
    ASSERT(f.sig == NULL);
    ln_p2p_frame_free(&f);
    msgpack_sbuffer_destroy(&sb);

    /* blk: h is negative, n is missing, last is 1 rather than true; an empty block is present */
    p = begin(&sb);
    msgpack_pack_map(&p, 4);
    pstr(&p, "b"); pbin(&p, "", 0);
    pstr(&p, "h"); msgpack_pack_int64(&p, -1);
    pstr(&p, "last"); msgpack_pack_uint64(&p, 1);
    pstr(&p, "t"); pstr(&p, "blk");
    decode(&sb, 8, &f, 0);
    ASSERT(f.b.p != NULL);
    ASSERT_EQ(f.b.n, 0);
    ASSERT_EQ(f.has_h, 0);
    ASSERT_EQ(f.n, 0);
    ASSERT_EQ(f.last, 0);
    ln_p2p_frame_free(&f);
    msgpack_sbuffer_destroy(&sb);

    /* tx with text for b; txs with entries of other types among the bins */
    p = begin(&sb);
    msgpack_pack_map(&p, 2);
    pstr(&p, "b"); pstr(&p, "tx");
    pstr(&p, "t"); pstr(&p, "tx");
    decode(&sb, 8, &f, 0);
    ASSERT_EQ(f.type, LN_P2P_TX);
    ASSERT_EQ(f.ntxs, 0);
    ln_p2p_frame_free(&f);
    msgpack_sbuffer_destroy(&sb);
    p = begin(&sb);
    msgpack_pack_map(&p, 2);
    pstr(&p, "b");
    msgpack_pack_array(&p, 4);
    pbin(&p, "\x01", 1);
    msgpack_pack_nil(&p);
    pstr(&p, "x");
    pbin(&p, "\x02\x03", 2);
    pstr(&p, "t"); pstr(&p, "txs");
    decode(&sb, 8, &f, 0);
    ASSERT_EQ(f.ntxs, 2);
    ASSERT_EQ(f.txs[1].n, 2);
    ASSERT_MEM(f.txs[1].p, "\x02\x03", 2);
    ln_p2p_frame_free(&f);
    msgpack_sbuffer_destroy(&sb);

    /* get with a text height, head with more fields than this build knows */
    p = begin(&sb);
    msgpack_pack_map(&p, 2);
    pstr(&p, "from"); pstr(&p, "12");
    pstr(&p, "t"); pstr(&p, "get");
    decode(&sb, 8, &f, 0);
    ASSERT_EQ(f.has_from, 0);
    ln_p2p_frame_free(&f);
    msgpack_sbuffer_destroy(&sb);
    p = begin(&sb);
    msgpack_pack_map(&p, 3);
    pstr(&p, "h"); msgpack_pack_uint64(&p, 8);
    pstr(&p, "t"); pstr(&p, "head");
    pstr(&p, "z"); msgpack_pack_array(&p, 0);
    decode(&sb, 8, &f, 0);
    ASSERT_EQ(f.type, LN_P2P_HEAD);
    ASSERT(f.has_h);
    ASSERT_EQ(f.h, 8);
    ln_p2p_frame_free(&f);
    msgpack_sbuffer_destroy(&sb);
}

TEST(p2p_frame_addr_keeps_the_well_formed_entries_among_the_first_max_addrs)
{
    msgpack_sbuffer sb;
    ln_p2p_frame f;
    uint8_t k[LN_PK_LEN], shortk[LN_PK_LEN - 1];
    memset(k, 9, sizeof k);
    memset(shortk, 9, sizeof shortk);
    char longa[LN_P2P_ADDR_MAX + 1];
    memset(longa, 'a', sizeof longa - 1);
    longa[sizeof longa - 1] = 0;                  /* 64 bytes: no room for its NUL */
    msgpack_packer p = begin(&sb);
    msgpack_pack_map(&p, 2);
    pstr(&p, "a");
    msgpack_pack_array(&p, 6);
    for (int i = 0; i < 6; i++) {
        if (i == 3) { msgpack_pack_uint64(&p, 3); continue; }         /* not a map */
        msgpack_pack_map(&p, 2);
        pstr(&p, "a");
        pstr(&p, i == 2 ? longa : i == 5 ? "late:5" : i == 0 ? "h:0" : "h:1");
        pstr(&p, "k");
        if (i == 1) pbin(&p, shortk, sizeof shortk); else pbin(&p, k, sizeof k);
    }
    pstr(&p, "t"); pstr(&p, "addr");
    decode(&sb, 5, &f, 0);             /* the sixth entry is past max_addrs */
    ASSERT_EQ(f.naddrs, 2);
    ASSERT_STR(f.addrs[0].addr, "h:0");
    ASSERT_STR(f.addrs[1].addr, "h:1");
    ASSERT_MEM(f.addrs[1].key, k, LN_PK_LEN);
    ln_p2p_frame_free(&f);
    decode(&sb, 6, &f, 0);
    ASSERT_EQ(f.naddrs, 3);
    ASSERT_STR(f.addrs[2].addr, "late:5");
    ln_p2p_frame_free(&f);
    decode(&sb, 0, &f, 0);
    ASSERT_EQ(f.naddrs, 0);
    ln_p2p_frame_free(&f);
    msgpack_sbuffer_destroy(&sb);
}

static const ln_test tests[] = {
    T(p2p_frame_each_encoder_is_decoded_back_to_what_it_was_given),
    T(p2p_frame_encodings_are_canonical_maps_with_t_last),
    T(p2p_frame_decode_refuses_what_is_not_a_map_with_a_type_of_1_to_16_bytes),
    T(p2p_frame_fields_missing_or_of_another_type_read_as_absent),
    T(p2p_frame_addr_keeps_the_well_formed_entries_among_the_first_max_addrs),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
