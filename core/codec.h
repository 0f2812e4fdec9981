/*
** codec.h -- canonical msgpack: the one encoding of every lunet object.
** int results: 0 or a negative LN_E* code (core/err.h).
** Inputs are borrowed for the call. No NULL pointers unless a comment says so.
**
** Canonical means: nil, true, false; integers in their shortest form (a value
** >= 0 always as positive fixint/uint8/16/32/64, a value < 0 as negative
** fixint/int8/16/32/64); text as str, raw bytes as bin; str/bin/array/map
** headers in their shortest form; map keys are str, sorted by their bytes
** (memcmp, a prefix before the longer key), no duplicates. No float32/64, no
** ext/fixext, no 0xc1. At most LN_CODEC_MAX_DEPTH nested arrays/maps (the
** outermost is level 1) and LN_CODEC_MAX_ITEM bytes per str/bin or elements
** per array/map.
**
** Refusals, when several apply: the scan goes left to right, depth first, and
** the first problem met is the one returned. At one item the order is
**   1. type byte: ETRUNC (no byte left); in key position anything that is
**      not a str -> EKEYTYPE; else EBADBYTE (0xc1), EFLOAT, EEXT;
**   2. header: ETRUNC (header cut), ENONCANON (longer form than needed);
**   3. EDEPTH (array/map beyond LN_CODEC_MAX_DEPTH);
**   4. ETOOBIG (claimed size or count beyond LN_CODEC_MAX_ITEM);
**   5. ETRUNC (claimed payload or count larger than the bytes left);
**   6. the contents; a map key is compared with the previous key as soon as
**      it is read, before its value: EDUPKEY, EUNSORTED.
** ETRAILING only once the whole item is valid.
**
** Lua mapping: nil, boolean, number (integers within +-LN_SAFE_INT), string
** (str and bin both become Lua strings; a Lua string goes out as str when it
** is valid UTF-8, else as bin; map keys always as str), table (an array
** 1..n, or a map with string keys; an empty table is an empty array).
** So {} and bin do not survive a trip through Lua unchanged: an empty map
** comes back as an empty array, a bin holding valid UTF-8 as a str.
*/
#ifndef LN_CODEC_H
#define LN_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>
#include <lua.h>

#define LN_CODEC_MAX_DEPTH 32          /* nesting of arrays/maps */
#define LN_CODEC_MAX_ITEM  (1u << 20)  /* bytes of one str/bin; elements of one array/map */
#define LN_SAFE_INT        9007199254740991LL  /* 2^53-1: Lua numbers beyond lose precision */

/* Validates that p[0..n) is exactly one canonical item: 0, or LN_ETRUNC,
** LN_ETRAILING, LN_ENONCANON, LN_EFLOAT, LN_EEXT, LN_EDUPKEY, LN_EUNSORTED,
** LN_EKEYTYPE, LN_EDEPTH, LN_ETOOBIG, LN_EBADBYTE (precedence above).
** Allocates nothing, never reads past p+n; p may be NULL when n is 0. */
int ln_codec_check(const uint8_t *p, size_t n);

/* ln_codec_check, then unpacks into *out using zone z (msgpack_zone_init by
** the caller; the caller clears or destroys it). Nothing is taken from z
** unless the check passed; LN_ENOMEM if z runs dry (then *out is undefined).
** Strings and bins in *out point into p: p must outlive *out.
** Integers are not range-limited here. */
int ln_codec_unpack(const uint8_t *p, size_t n, msgpack_zone *z, msgpack_object *out);

/* ln_codec_check that also counts the items (values, and map keys) in
** *items: for a caller that charges a decoding before it is done. */
int ln_codec_items(const uint8_t *p, size_t n, uint64_t *items);

/* Finds key in a MAP object; NULL if absent or o is not a map. o may be NULL
** (then NULL), so lookups chain: ln_codec_map_get(ln_codec_map_get(tx, "a"), "b"). */
const msgpack_object *ln_codec_map_get(const msgpack_object *o, const char *key);
/* Copies a str object (o may be NULL) into out as a C string: 0, or
** LN_EINVAL when o is missing, not a str, or has n bytes or more. */
int ln_codec_str(const msgpack_object *o, char *out, size_t n);

/* Pushes o as a Lua value: nil/boolean/number (integers beyond +-LN_SAFE_INT
** give LN_ERANGE)/string (str and bin)/table (arrays 1..n, maps with str keys,
** else LN_EKEYTYPE). Floats give LN_EFLOAT, ext LN_EEXT, nesting beyond
** LN_CODEC_MAX_DEPTH LN_EDEPTH, a full Lua stack LN_ENOMEM. On error pushes
** nothing. Tables are filled raw. Raises only Lua's out-of-memory error. */
int ln_codec_push(lua_State *L, const msgpack_object *o);

/* Encodes the Lua value at idx canonically onto pk. nil, booleans; numbers
** that are integral and within +-LN_SAFE_INT (non-integers, inf, nan give
** LN_EFLOAT; bigger integers LN_ERANGE; -0 goes out as 0); strings as str
** when valid UTF-8, else bin, longer than LN_CODEC_MAX_ITEM -> LN_ETOOBIG;
** tables: empty -> empty array; keys exactly 1..n (no holes) -> array; all
** keys strings -> map sorted by bytes (keys as str whatever their bytes);
** anything else -> LN_EKEYTYPE; more than LN_CODEC_MAX_ITEM entries ->
** LN_ETOOBIG. Metatables are ignored (raw access). Nesting deeper than
** LN_CODEC_MAX_DEPTH (which also stops cycles) -> LN_EDEPTH; functions,
** userdata, threads, cdata -> LN_ETYPE; a failing pk write or a full Lua
** stack -> LN_ENOMEM. On error what was packed is garbage and the caller
** drops the buffer. Leaves the Lua stack as it was, calls no metamethod and
** raises nothing but Lua's out-of-memory error. Allocates no Lua object,
** except that a map of more than 64 keys looks its keys up by
** lua_pushlstring, which may take a GC step. */
int ln_codec_pack_lua(lua_State *L, int idx, msgpack_packer *pk);

/* The work of an encoding, for callers that charge it (the contract host):
** LN_CODEC_WORK_VALUE units per value visited, LN_CODEC_WORK_SLOT per
** table slot walked (an emptied array's slots too, as slots() tells),
** LN_CODEC_WORK_BYTE per byte written, and LN_CODEC_WORK_KEY per key plus
** LN_CODEC_WORK_BYTE per key byte, times log2 of the key count, to sort a
** map. A table reached twice is walked twice: this is what bounds { t, t }
** nested. The encoding stops with LN_EGAS as soon as work would pass limit,
** and with LN_ETOOBIG once it has written more than max_bytes; work then
** holds what was done, which the caller charges like a success. slots may
** be NULL: then a slot per key. */
#define LN_CODEC_WORK_VALUE 256
#define LN_CODEC_WORK_SLOT  4
#define LN_CODEC_WORK_BYTE  4
#define LN_CODEC_WORK_KEY   64
typedef struct {
    uint64_t work;                  /* in: 0; out: units done */
    uint64_t limit;
    size_t max_bytes;
    size_t (*slots)(lua_State *L, int idx);
} ln_codec_meter;

/* ln_codec_pack_lua under a meter (see above). */
int ln_codec_pack_lua_metered(lua_State *L, int idx, msgpack_packer *pk, ln_codec_meter *m);
/* The same with max_item in place of LN_CODEC_MAX_ITEM (consensus messages). */
int ln_codec_pack_lua_metered_limit(lua_State *L, int idx, msgpack_packer *pk, ln_codec_meter *m,
                                    size_t max_item);

/* Convenience: encode/decode whole buffers. ln_codec_encode_lua sets *out to
** a malloc()ed buffer of *outlen bytes that the caller free()s, only on
** success (LN_ENOMEM if malloc fails). ln_codec_decode_lua = unpack + push:
** on success one value is pushed, on error nothing. */
int ln_codec_encode_lua(lua_State *L, int idx, uint8_t **out, size_t *outlen);
int ln_codec_decode_lua(lua_State *L, const uint8_t *p, size_t n);
/* The same with max_item in place of LN_CODEC_MAX_ITEM: for consensus
** messages, which carry whole blocks (bounded by the P2P frame size). */
int ln_codec_encode_lua_limit(lua_State *L, int idx, size_t max_item, uint8_t **out, size_t *outlen);
int ln_codec_decode_lua_limit(lua_State *L, const uint8_t *p, size_t n, size_t max_item);
/* ln_codec_push that refuses (LN_ETOOBIG) a string or bin longer than max
** bytes, pushing nothing: for contracts, whose strings are capped
** (ln_sandbox_cap_strings). */
int ln_codec_push_strmax(lua_State *L, const msgpack_object *o, size_t max);
/* ln_codec_decode_lua with that refusal, which calls charge(L, items)
** between the check (which counts the items, as ln_codec_items) and the
** building: for callers that charge a decoding before it is done. charge
** may raise; on a refused encoding it is not called. */
int ln_codec_decode_lua_charged(lua_State *L, const uint8_t *p, size_t n, size_t max,
                                void (*charge)(lua_State *L, uint64_t items));

/* Reads the Lua string at idx as n raw bytes, or as 2n hex digits (either
** case), into out. 1 when it is one of those, 0 otherwise (out then
** undefined). For keys and signatures handed to the host by Lua code. */
int ln_codec_lua_bytes(lua_State *L, int idx, uint8_t *out, size_t n);

/* Packing shorthands: a C string as str, n bytes as str, n bytes as bin. */
void ln_pack_str(msgpack_packer *pk, const char *s);
void ln_pack_strn(msgpack_packer *pk, const char *s, size_t n);
void ln_pack_bin(msgpack_packer *pk, const void *p, size_t n);

/* msgpack_sbuffer_init with room for cap bytes: msgpack-c's first write
** would otherwise take 8 KiB, a page fault per small encoding. */
void ln_sbuffer_init(msgpack_sbuffer *sb, size_t cap);

/* True when p[0..n) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int ln_utf8_valid(const uint8_t *p, size_t n);

#endif
