/*
** shape.h -- how big a msgpack item would be once built, read from its
** bytes before anything is allocated.
**
** A decoder turns each wire object into a node of its own (a Lua table is
** ~60 bytes for the 1 byte of an empty array), so what a peer sends is
** measured first: objects (every nil, boolean, number, string, bin, ext,
** array and map counts one, and so do a map's keys), depth (nesting of arrays
** and maps, the outermost at 1) and bytes (of str, bin and ext payloads).
** Any msgpack is read, canonical or not: only its framing is checked. The
** walk stops as soon as a limit is passed, so it costs at most max_objects
** steps. int results: 0 or a negative LN_E* code (err.h).
*/
#ifndef LN_SHAPE_H
#define LN_SHAPE_H

#include <stddef.h>
#include <stdint.h>

#define LN_SHAPE_MAX_DEPTH 64          /* the deepest max_depth honoured */

typedef struct {
    size_t objects, depth, bytes;
    size_t used;                       /* bytes of the item: where the next one starts */
} ln_shape;

/* Measures the item at the start of p[0..n) into *s. LN_ETRUNC when the
** bytes end inside it, LN_EBADBYTE for 0xc1, LN_ETOOBIG once it has more
** than max_objects objects, LN_EDEPTH once it nests deeper than max_depth
** (at most LN_SHAPE_MAX_DEPTH); on an error *s holds what was counted. */
int ln_shape_of(const uint8_t *p, size_t n, size_t max_objects, size_t max_depth, ln_shape *s);

#endif
