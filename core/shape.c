/* shape.c -- objects, depth and bytes of a msgpack item, from its bytes. */
#include <string.h>

#include "shape.h"
#include "err.h"

static uint64_t be(const uint8_t *p, size_t k)
{
    uint64_t v = 0;
    for (size_t i = 0; i < k; i++) v = v << 8 | p[i];
    return v;
}

int ln_shape_of(const uint8_t *p, size_t n, size_t max_objects, size_t max_depth, ln_shape *s)
{
    /* left[d]: objects still to read in the container open at depth d + 1
    ** (a map's entries count twice: key and value). */
    uint64_t left[LN_SHAPE_MAX_DEPTH + 1];
    size_t depth = 0, off = 0;
    memset(s, 0, sizeof *s);
    if (max_depth > LN_SHAPE_MAX_DEPTH) max_depth = LN_SHAPE_MAX_DEPTH;
    left[0] = 1;                               /* the item itself */
    for (;;) {
        while (depth > 0 && left[depth] == 0) depth--;
        if (left[depth] == 0) break;           /* depth 0: the item is done */
        left[depth]--;
        if (++s->objects > max_objects) return LN_ETOOBIG;
        if (off >= n) return LN_ETRUNC;
        uint8_t b = p[off++];
        uint64_t count = 0, payload = 0;
        size_t hl = 0;                          /* length bytes after the type byte */
        int container = 0;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixints, nil, booleans */
        } else if (b >= 0x80 && b <= 0x8f) {
            container = 1, count = 2u * (b & 0x0f);
        } else if (b >= 0x90 && b <= 0x9f) {
            container = 1, count = b & 0x0f;
        } else if (b >= 0xa0 && b <= 0xbf) {
            payload = b & 0x1f;
        } else {
            switch (b) {
            case 0xc1: return LN_EBADBYTE;
            case 0xc4: case 0xd9: hl = 1; break;                 /* bin8, str8 */
            case 0xc5: case 0xda: hl = 2; break;
            case 0xc6: case 0xdb: hl = 4; break;
            case 0xc7: hl = 1, payload = 1; break;               /* ext8/16/32: + type */
            case 0xc8: hl = 2, payload = 1; break;
            case 0xc9: hl = 4, payload = 1; break;
            case 0xca: payload = 4; break;                       /* float32 */
            case 0xcb: payload = 8; break;
            case 0xcc: case 0xd0: payload = 1; break;            /* (u)int8..64 */
            case 0xcd: case 0xd1: payload = 2; break;
            case 0xce: case 0xd2: payload = 4; break;
            case 0xcf: case 0xd3: payload = 8; break;
            case 0xd4: payload = 2; break;                       /* fixext 1..16: + type */
            case 0xd5: payload = 3; break;
            case 0xd6: payload = 5; break;
            case 0xd7: payload = 9; break;
            case 0xd8: payload = 17; break;
            case 0xdc: hl = 2, container = 1; break;             /* array16/32 */
            case 0xdd: hl = 4, container = 1; break;
            case 0xde: hl = 2, container = 2; break;             /* map16/32 */
            case 0xdf: hl = 4, container = 2; break;
            }
        }
        if (hl) {
            if (n - off < hl) return LN_ETRUNC;
            uint64_t v = be(p + off, hl);
            off += hl;
            if (container) count = container == 2 ? 2 * v : v;
            else payload += v;
            if (container) container = 1;
        }
        if (container) {
            if (depth + 1 > max_depth) return LN_EDEPTH;
            if (++depth > s->depth) s->depth = depth;
            left[depth] = count;
            continue;
        }
        if (payload > n - off) return LN_ETRUNC;
        if (b >= 0xa0 && b <= 0xbf) s->bytes += payload;
        else if (b == 0xc4 || b == 0xc5 || b == 0xc6 || (b >= 0xd9 && b <= 0xdb)) s->bytes += payload;
        else if ((b >= 0xc7 && b <= 0xc9) || (b >= 0xd4 && b <= 0xd8)) s->bytes += payload - 1;
        off += (size_t)payload;
    }
    s->used = off;
    return 0;
}
