/* test_shape.c -- measuring msgpack items before anything is built. */
#include "test.h"
#include "err.h"
#include "shape.h"

/* n empty arrays in one array32: 5 + n bytes. */
static uint8_t *empties(size_t n, size_t *len)
{
    uint8_t *p = malloc(5 + n);
    ASSERT(p);
    p[0] = 0xdd;
    p[1] = (uint8_t)(n >> 24); p[2] = (uint8_t)(n >> 16); p[3] = (uint8_t)(n >> 8); p[4] = (uint8_t)n;
    memset(p + 5, 0x90, n);
    *len = 5 + n;
    return p;
}

TEST(shape_counts_objects_depth_and_bytes)
{
    /* {"a": [1, "xyz", [true]], "b": bin(2)} */
    static const uint8_t m[] = { 0x82, 0xa1, 'a', 0x93, 0x01, 0xa3, 'x', 'y', 'z', 0x91, 0xc3,
                                 0xa1, 'b', 0xc4, 0x02, 9, 9 };
    ln_shape s;
    ASSERT_EQ(ln_shape_of(m, sizeof m, 100, 8, &s), 0);
    ASSERT_EQ(s.objects, 9);             /* map, a, array, 1, xyz, array, true, b, bin */
    ASSERT_EQ(s.depth, 3);
    ASSERT_EQ(s.bytes, 1 + 3 + 1 + 2);
    ASSERT_EQ(s.used, sizeof m);
}

TEST(shape_stops_at_the_object_limit)
{
    size_t len;
    uint8_t *p = empties(8449944, &len);
    ln_shape s;
    ASSERT_EQ(ln_shape_of(p, len, 16384, 32, &s), LN_ETOOBIG);
    ASSERT_EQ(s.objects, 16385);         /* and not one more */
    ASSERT_EQ(ln_shape_of(p, len, 8449945, 32, &s), 0);
    ASSERT_EQ(s.objects, 8449945);
    ASSERT_EQ(s.depth, 2);
    free(p);
}

TEST(shape_refuses_nesting_past_the_depth_limit)
{
    uint8_t deep[40];
    memset(deep, 0x91, sizeof deep);
    deep[sizeof deep - 1] = 0xc0;        /* [[[...[nil]...]]], 39 levels */
    ln_shape s;
    ASSERT_EQ(ln_shape_of(deep, sizeof deep, 1000, 39, &s), 0);
    ASSERT_EQ(s.depth, 39);
    ASSERT_EQ(ln_shape_of(deep, sizeof deep, 1000, 38, &s), LN_EDEPTH);
    ASSERT_EQ(ln_shape_of(deep, sizeof deep, 1000, 1000, &s), 0);   /* capped at LN_SHAPE_MAX_DEPTH */
}

TEST(shape_truncated_items_are_etrunc)
{
    static const uint8_t cut_header[] = { 0xdd, 0x00, 0x00 };
    static const uint8_t cut_payload[] = { 0xc4, 0x05, 1, 2 };
    static const uint8_t few_items[] = { 0x93, 0x01, 0x02 };
    static const uint8_t cut_int[] = { 0xcf, 1, 2, 3 };
    static const uint8_t huge_count[] = { 0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0 };
    ln_shape s;
    ASSERT_EQ(ln_shape_of(cut_header, sizeof cut_header, 100, 8, &s), LN_ETRUNC);
    ASSERT_EQ(ln_shape_of(cut_payload, sizeof cut_payload, 100, 8, &s), LN_ETRUNC);
    ASSERT_EQ(ln_shape_of(few_items, sizeof few_items, 100, 8, &s), LN_ETRUNC);
    ASSERT_EQ(ln_shape_of(cut_int, sizeof cut_int, 100, 8, &s), LN_ETRUNC);
    ASSERT_EQ(ln_shape_of(huge_count, sizeof huge_count, 100, 8, &s), LN_ETRUNC);
    ASSERT_EQ(ln_shape_of(NULL, 0, 100, 8, &s), LN_ETRUNC);
}

TEST(shape_reads_any_msgpack_and_stops_at_the_items_end)
{
    /* non-canonical ints, a float, ext types, 0xc1 refused; two items back to back */
    static const uint8_t m[] = { 0x95, 0xcd, 0x00, 0x01, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0,
                                 0xd4, 0x01, 0x07, 0xc7, 0x03, 0x02, 'e', 'x', 't',
                                 0xda, 0x00, 0x02, 'h', 'i', 0x2a };
    ln_shape s;
    ASSERT_EQ(ln_shape_of(m, sizeof m, 100, 8, &s), 0);
    ASSERT_EQ(s.objects, 6);
    ASSERT_EQ(s.bytes, 1 + 3 + 2);       /* ext payloads and the str */
    ASSERT_EQ(s.used, sizeof m - 1);     /* the next item (42) is not this one's */
    static const uint8_t bad[] = { 0x92, 0xc0, 0xc1 };
    ASSERT_EQ(ln_shape_of(bad, sizeof bad, 100, 8, &s), LN_EBADBYTE);
}

static const ln_test tests[] = {
    T(shape_counts_objects_depth_and_bytes),
    T(shape_stops_at_the_object_limit),
    T(shape_refuses_nesting_past_the_depth_limit),
    T(shape_truncated_items_are_etrunc),
    T(shape_reads_any_msgpack_and_stops_at_the_items_end),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
