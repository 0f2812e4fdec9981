/* codec.c -- canonical msgpack: checker, unpacker, Lua bridge (see codec.h). */
#include <stdlib.h>
#include <string.h>
#include "codec.h"
#include "err.h"

/* ---- Item headers -------------------------------------------------------- */

/* One decoded header. kind is a MSGPACK_OBJECT_* of the seven we allow;
** v is the value (a negative integer as int64 bits), a length or a count. */
typedef struct {
    int kind;
    uint64_t v;
    size_t hl;          /* header bytes, type byte included */
} head;

/* The per-item limit of this thread's current call: LN_CODEC_MAX_ITEM, or
** the larger one an *_limit variant sets for its duration. */
static _Thread_local size_t item_max = LN_CODEC_MAX_ITEM;

/* The longest string this thread's current call may push into Lua: no
** bound but for the *_strmax variants. Every call that pushes sets it
** first: a push that a Lua error unwinds (a sandbox's memory cap) never
** gets to restore it. */
static _Thread_local size_t str_max = SIZE_MAX;

static int is_str_byte(uint8_t b)
{
    return (b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb);
}

/* Reads the header at p (p < end is not required): order 1 and 2 of codec.h.
** Checks the shortest form, not sizes against what follows. */
static int rd_head(const uint8_t *p, const uint8_t *end, head *h)
{
    if (p >= end) return LN_ETRUNC;
    uint8_t b = p[0];
    int w = 0;          /* bytes after the type byte */
    uint64_t min = 0;   /* unsigned forms: smallest value that needs this form */
    int64_t lo = 0;     /* signed forms: values >= lo have a shorter form */
    h->hl = 1;
    if (b <= 0x7f) { h->kind = MSGPACK_OBJECT_POSITIVE_INTEGER; h->v = b; return 0; }
    if (b >= 0xe0) {
        h->kind = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        h->v = (uint64_t)(int64_t)(int8_t)b;
        return 0;
    }
    if (b <= 0x8f) { h->kind = MSGPACK_OBJECT_MAP;   h->v = b & 0x0f; return 0; }
    if (b <= 0x9f) { h->kind = MSGPACK_OBJECT_ARRAY; h->v = b & 0x0f; return 0; }
    if (b <= 0xbf) { h->kind = MSGPACK_OBJECT_STR;   h->v = b & 0x1f; return 0; }
    switch (b) {
    case 0xc0: h->kind = MSGPACK_OBJECT_NIL; h->v = 0; return 0;
    case 0xc1: return LN_EBADBYTE;
    case 0xc2: case 0xc3: h->kind = MSGPACK_OBJECT_BOOLEAN; h->v = b & 1; return 0;
    case 0xca: case 0xcb: return LN_EFLOAT;
    case 0xc7: case 0xc8: case 0xc9:
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: return LN_EEXT;
    case 0xc4: h->kind = MSGPACK_OBJECT_BIN; w = 1; min = 0;     break;
    case 0xc5: h->kind = MSGPACK_OBJECT_BIN; w = 2; min = 256;   break;
    case 0xc6: h->kind = MSGPACK_OBJECT_BIN; w = 4; min = 65536; break;
    case 0xcc: h->kind = MSGPACK_OBJECT_POSITIVE_INTEGER; w = 1; min = 128;   break;
    case 0xcd: h->kind = MSGPACK_OBJECT_POSITIVE_INTEGER; w = 2; min = 256;   break;
    case 0xce: h->kind = MSGPACK_OBJECT_POSITIVE_INTEGER; w = 4; min = 65536; break;
    case 0xcf: h->kind = MSGPACK_OBJECT_POSITIVE_INTEGER; w = 8; min = 1ull << 32; break;
    case 0xd9: h->kind = MSGPACK_OBJECT_STR; w = 1; min = 32;    break;
    case 0xda: h->kind = MSGPACK_OBJECT_STR; w = 2; min = 256;   break;
    case 0xdb: h->kind = MSGPACK_OBJECT_STR; w = 4; min = 65536; break;
    case 0xdc: h->kind = MSGPACK_OBJECT_ARRAY; w = 2; min = 16;    break;
    case 0xdd: h->kind = MSGPACK_OBJECT_ARRAY; w = 4; min = 65536; break;
    case 0xde: h->kind = MSGPACK_OBJECT_MAP;   w = 2; min = 16;    break;
    case 0xdf: h->kind = MSGPACK_OBJECT_MAP;   w = 4; min = 65536; break;
    default:   /* 0xd0..0xd3: int8..int64 */
        h->kind = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        w = 1 << (b - 0xd0);
        lo = b == 0xd0 ? -32 : b == 0xd1 ? -128 : b == 0xd2 ? -32768 : -2147483648LL;
        break;
    }
    if ((size_t)(end - p) - 1 < (size_t)w) return LN_ETRUNC;
    uint64_t v = 0;
    for (int i = 1; i <= w; i++) v = v << 8 | p[i];
    h->hl = 1 + (size_t)w;
    if (h->kind == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        int64_t s = w == 1 ? (int8_t)v : w == 2 ? (int16_t)v
                  : w == 4 ? (int32_t)v : (int64_t)v;
        if (s >= lo) return LN_ENONCANON;   /* also every value >= 0 */
        h->v = (uint64_t)s;
    } else {
        if (v < min) return LN_ENONCANON;
        h->v = v;
    }
    return 0;
}

/* Bytes order of map keys: memcmp, then a prefix before the longer key. */
static int keycmp(const char *a, size_t an, const char *b, size_t bn)
{
    size_t m = an < bn ? an : bn;
    int c = m ? memcmp(a, b, m) : 0;
    if (c) return c;
    return (an > bn) - (an < bn);
}

/* ---- Checking ------------------------------------------------------------ */

/* Checks the item at *pp, advancing *pp past it and counting it (and what
** it holds) in *items. depth counts the arrays/maps around it. */
static int chk(const uint8_t **pp, const uint8_t *end, int depth, uint64_t *items)
{
    const uint8_t *p = *pp;
    (*items)++;
    head h = { 0 };
    int rc = rd_head(p, end, &h);
    if (rc) return rc;
    p += h.hl;
    size_t left = (size_t)(end - p);
    switch (h.kind) {
    case MSGPACK_OBJECT_STR:
    case MSGPACK_OBJECT_BIN:
        if (h.v > item_max) return LN_ETOOBIG;
        if (h.v > left) return LN_ETRUNC;
        p += h.v;
        break;
    case MSGPACK_OBJECT_ARRAY:
        if (depth >= LN_CODEC_MAX_DEPTH) return LN_EDEPTH;
        if (h.v > item_max) return LN_ETOOBIG;
        if (h.v > left) return LN_ETRUNC;
        for (uint64_t i = 0; i < h.v; i++)
            if ((rc = chk(&p, end, depth + 1, items)) != 0) return rc;
        break;
    case MSGPACK_OBJECT_MAP: {
        if (depth >= LN_CODEC_MAX_DEPTH) return LN_EDEPTH;
        if (h.v > item_max) return LN_ETOOBIG;
        if (h.v > left / 2) return LN_ETRUNC;
        const char *prev = NULL;
        size_t prevn = 0;
        for (uint64_t i = 0; i < h.v; i++) {
            if (p >= end) return LN_ETRUNC;
            if (!is_str_byte(*p)) return LN_EKEYTYPE;
            head k;
            if ((rc = rd_head(p, end, &k)) != 0) return rc;
            if ((rc = chk(&p, end, depth + 1, items)) != 0) return rc;
            const char *ks = (const char *)p - k.v;
            if (i > 0) {
                int c = keycmp(ks, (size_t)k.v, prev, prevn);
                if (c == 0) return LN_EDUPKEY;
                if (c < 0) return LN_EUNSORTED;
            }
            prev = ks;
            prevn = (size_t)k.v;
            if ((rc = chk(&p, end, depth + 1, items)) != 0) return rc;
        }
        break;
    }
    default:
        break;
    }
    *pp = p;
    return 0;
}

int ln_codec_items(const uint8_t *p, size_t n, uint64_t *items)
{
    *items = 0;
    if (n == 0) return LN_ETRUNC;
    const uint8_t *end = p + n;
    int rc = chk(&p, end, 0, items);
    if (rc) return rc;
    return p == end ? 0 : LN_ETRAILING;
}

int ln_codec_check(const uint8_t *p, size_t n)
{
    uint64_t items;
    return ln_codec_items(p, n, &items);
}

/* ---- Unpacking checked bytes --------------------------------------------- */

/* Builds the (checked) item at *pp into *o. */
static int build(const uint8_t **pp, const uint8_t *end, msgpack_zone *z,
                 msgpack_object *o)
{
    head h = { 0 };
    rd_head(*pp, end, &h);
    const uint8_t *p = *pp + h.hl;
    int rc;
    o->type = (msgpack_object_type)h.kind;
    switch (h.kind) {
    case MSGPACK_OBJECT_NIL: break;
    case MSGPACK_OBJECT_BOOLEAN: o->via.boolean = h.v != 0; break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: o->via.u64 = h.v; break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: o->via.i64 = (int64_t)h.v; break;
    case MSGPACK_OBJECT_STR:
    case MSGPACK_OBJECT_BIN:   /* str and bin share one layout */
        o->via.str.size = (uint32_t)h.v;
        o->via.str.ptr = (const char *)p;
        p += h.v;
        break;
    case MSGPACK_OBJECT_ARRAY: {
        msgpack_object *a = NULL;
        if (h.v && !(a = msgpack_zone_malloc(z, h.v * sizeof *a))) return LN_ENOMEM;
        o->via.array.size = (uint32_t)h.v;
        o->via.array.ptr = a;
        for (uint64_t i = 0; i < h.v; i++)
            if ((rc = build(&p, end, z, &a[i])) != 0) return rc;
        break;
    }
    case MSGPACK_OBJECT_MAP: {
        msgpack_object_kv *kv = NULL;
        if (h.v && !(kv = msgpack_zone_malloc(z, h.v * sizeof *kv))) return LN_ENOMEM;
        o->via.map.size = (uint32_t)h.v;
        o->via.map.ptr = kv;
        for (uint64_t i = 0; i < h.v; i++) {
            if ((rc = build(&p, end, z, &kv[i].key)) != 0) return rc;
            if ((rc = build(&p, end, z, &kv[i].val)) != 0) return rc;
        }
        break;
    }
    }
    *pp = p;
    return 0;
}

int ln_codec_unpack(const uint8_t *p, size_t n, msgpack_zone *z, msgpack_object *out)
{
    int rc = ln_codec_check(p, n);
    if (rc) return rc;
    return build(&p, p + n, z, out);
}

const msgpack_object *ln_codec_map_get(const msgpack_object *o, const char *key)
{
    if (!o || o->type != MSGPACK_OBJECT_MAP) return NULL;
    size_t kn = strlen(key);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kn &&
            (kn == 0 || memcmp(k->via.str.ptr, key, kn) == 0))
            return &o->via.map.ptr[i].val;
    }
    return NULL;
}

int ln_codec_str(const msgpack_object *o, char *out, size_t n)
{
    if (!o || o->type != MSGPACK_OBJECT_STR || o->via.str.size >= n) return LN_EINVAL;
    memcpy(out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = 0;
    return 0;
}

/* ---- To Lua -------------------------------------------------------------- */

static int push_int(lua_State *L, int neg, uint64_t v)
{
    if (neg) {
        if ((int64_t)v < -LN_SAFE_INT) return LN_ERANGE;
        lua_pushnumber(L, (lua_Number)(int64_t)v);
    } else {
        if (v > (uint64_t)LN_SAFE_INT) return LN_ERANGE;
        lua_pushnumber(L, (lua_Number)v);
    }
    return 0;
}

/* Pushes the (checked) item at *pp. On error the caller resets the stack. */
static int push_raw(lua_State *L, const uint8_t **pp, const uint8_t *end)
{
    head h = { 0 };
    rd_head(*pp, end, &h);
    const uint8_t *p = *pp + h.hl;
    int rc;
    switch (h.kind) {
    case MSGPACK_OBJECT_NIL: lua_pushnil(L); break;
    case MSGPACK_OBJECT_BOOLEAN: lua_pushboolean(L, (int)h.v); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        if ((rc = push_int(L, h.kind == MSGPACK_OBJECT_NEGATIVE_INTEGER, h.v)) != 0)
            return rc;
        break;
    case MSGPACK_OBJECT_STR:
    case MSGPACK_OBJECT_BIN:
        if (h.v > str_max) return LN_ETOOBIG;
        lua_pushlstring(L, (const char *)p, (size_t)h.v);
        p += h.v;
        break;
    case MSGPACK_OBJECT_ARRAY:
        if (!lua_checkstack(L, 3)) return LN_ENOMEM;
        lua_createtable(L, (int)h.v, 0);
        for (uint64_t i = 0; i < h.v; i++) {
            if ((rc = push_raw(L, &p, end)) != 0) return rc;
            lua_rawseti(L, -2, (int)i + 1);
        }
        break;
    case MSGPACK_OBJECT_MAP:
        if (!lua_checkstack(L, 3)) return LN_ENOMEM;
        lua_createtable(L, 0, (int)h.v);
        for (uint64_t i = 0; i < h.v; i++) {
            if ((rc = push_raw(L, &p, end)) != 0) return rc;
            if ((rc = push_raw(L, &p, end)) != 0) return rc;
            lua_rawset(L, -3);
        }
        break;
    }
    *pp = p;
    return 0;
}

static int push_obj(lua_State *L, const msgpack_object *o, int depth)
{
    int rc;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: lua_pushnil(L); return 0;
    case MSGPACK_OBJECT_BOOLEAN: lua_pushboolean(L, o->via.boolean); return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return push_int(L, 0, o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return push_int(L, 1, (uint64_t)o->via.i64);
    case MSGPACK_OBJECT_STR:
    case MSGPACK_OBJECT_BIN:
        if (o->via.str.size > str_max) return LN_ETOOBIG;
        lua_pushlstring(L, o->via.str.ptr, o->via.str.size);
        return 0;
    case MSGPACK_OBJECT_ARRAY:
        if (depth >= LN_CODEC_MAX_DEPTH) return LN_EDEPTH;
        if (!lua_checkstack(L, 3)) return LN_ENOMEM;
        lua_createtable(L, (int)o->via.array.size, 0);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if ((rc = push_obj(L, &o->via.array.ptr[i], depth + 1)) != 0) return rc;
            lua_rawseti(L, -2, (int)i + 1);
        }
        return 0;
    case MSGPACK_OBJECT_MAP:
        if (depth >= LN_CODEC_MAX_DEPTH) return LN_EDEPTH;
        if (!lua_checkstack(L, 3)) return LN_ENOMEM;
        lua_createtable(L, 0, (int)o->via.map.size);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            if (kv->key.type != MSGPACK_OBJECT_STR) return LN_EKEYTYPE;
            lua_pushlstring(L, kv->key.via.str.ptr, kv->key.via.str.size);
            if ((rc = push_obj(L, &kv->val, depth + 1)) != 0) return rc;
            lua_rawset(L, -3);
        }
        return 0;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return LN_EFLOAT;
    case MSGPACK_OBJECT_EXT: return LN_EEXT;
    }
    return LN_ETYPE;
}

static int push_top(lua_State *L, const msgpack_object *o)
{
    int base = lua_gettop(L);
    if (!lua_checkstack(L, 1)) return LN_ENOMEM;
    int rc = push_obj(L, o, 0);
    if (rc) lua_settop(L, base);
    return rc;
}

int ln_codec_push(lua_State *L, const msgpack_object *o)
{
    str_max = SIZE_MAX;
    return push_top(L, o);
}

/* Pushes checked bytes; item_max is not read. */
static int push_checked(lua_State *L, const uint8_t *p, size_t n)
{
    int base = lua_gettop(L);
    if (!lua_checkstack(L, 1)) return LN_ENOMEM;
    int rc = push_raw(L, &p, p + n);
    if (rc) lua_settop(L, base);
    return rc;
}

int ln_codec_decode_lua(lua_State *L, const uint8_t *p, size_t n)
{
    int rc = ln_codec_check(p, n);
    if (rc) return rc;
    str_max = SIZE_MAX;
    return push_checked(L, p, n);
}

/* ---- From Lua ------------------------------------------------------------ */

/* Map keys of up to STACK_KEYS entries stay on the Lua stack while we pack,
** which keeps their bytes alive without copying; bigger maps copy them. */
#define STACK_KEYS 64

typedef struct {
    const char *s;
    size_t n;
    int slot;           /* stack index of the key string; 0: s is a copy */
} mkey;

#define PK(call) do { if ((call) != 0) return LN_ENOMEM; } while (0)

/* The meter of this thread's metered encoding, NULL for the others. */
static _Thread_local ln_codec_meter *meter;

/* Adds w units of work: LN_EGAS once past the limit, else 0. */
static int work(uint64_t w)
{
    if (!meter) return 0;
    meter->work += w;
    return meter->work > meter->limit ? LN_EGAS : 0;
}

/* Work of walking the table at idx (before the walk). */
static int walk_work(lua_State *L, int idx, size_t nkeys)
{
    if (!meter) return 0;
    size_t slots = meter->slots ? meter->slots(L, idx) : nkeys;
    return work((uint64_t)slots * LN_CODEC_WORK_SLOT);
}

static uint64_t log2ceil(uint64_t n)
{
    uint64_t b = 1;
    while (((uint64_t)1 << b) < n && b < 63) b++;
    return b;
}

static int pack_val(lua_State *L, int idx, msgpack_packer *pk, int depth);

static int pack_num(msgpack_packer *pk, lua_Number d)
{
    if (d != d || d - d != 0) return LN_EFLOAT;     /* nan, inf */
    if (d > (lua_Number)LN_SAFE_INT || d < -(lua_Number)LN_SAFE_INT) return LN_ERANGE;
    int64_t i = (int64_t)d;
    if ((lua_Number)i != d) return LN_EFLOAT;
    PK(msgpack_pack_int64(pk, i));   /* uint forms for i >= 0, shortest */
    return 0;
}

/* A string as str (valid UTF-8, or a map key) or bin. */
static int pack_str(msgpack_packer *pk, const char *s, size_t n, int iskey)
{
    if (n > item_max) return LN_ETOOBIG;
    if (iskey || ln_utf8_valid((const uint8_t *)s, n)) {
        PK(msgpack_pack_str(pk, n));
        PK(msgpack_pack_str_body(pk, s, n));
    } else {
        PK(msgpack_pack_bin(pk, n));
        PK(msgpack_pack_bin_body(pk, s, n));
    }
    return 0;
}

static int mkey_cmp(const void *a, const void *b)
{
    const mkey *x = a, *y = b;
    return keycmp(x->s, x->n, y->s, y->n);
}

static void sort_keys(mkey *ks, size_t n)
{
    if (n > 16) {
        qsort(ks, n, sizeof *ks, mkey_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        mkey k = ks[i];
        size_t j = i;
        for (; j > 0 && mkey_cmp(&ks[j - 1], &k) > 0; j--) ks[j] = ks[j - 1];
        ks[j] = k;
    }
}

/* Copies all nstr string keys of the table at idx (total kbytes bytes) into
** one malloc()ed block: *ks, whose bytes follow the array. */
static int copy_keys(lua_State *L, int idx, size_t nstr, size_t kbytes, mkey **out)
{
    int rc = walk_work(L, idx, nstr);
    if (rc) return rc;
    mkey *ks = malloc(nstr * sizeof *ks + kbytes + 1);
    if (!ks) return LN_ENOMEM;
    char *bytes = (char *)(ks + nstr);
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);   /* all keys are strings */
        if (i < nstr && n <= kbytes) {
            memcpy(bytes, s, n);
            ks[i].s = bytes;
            ks[i].n = n;
            ks[i].slot = 0;
            bytes += n;
            kbytes -= n;
            i++;
        }
    }
    *out = ks;
    return i == nstr ? 0 : LN_EINVAL;   /* cannot happen: nothing ran between passes */
}

static int pack_map(lua_State *L, int idx, msgpack_packer *pk, int depth,
                    mkey *ks, size_t nk, size_t kbytes)
{
    int rc = work((LN_CODEC_WORK_KEY * (uint64_t)nk + LN_CODEC_WORK_BYTE * kbytes) *
                  log2ceil(nk + 1));
    if (rc) return rc;
    sort_keys(ks, nk);
    PK(msgpack_pack_map(pk, nk));
    for (size_t i = 0; i < nk; i++) {
        if ((rc = pack_str(pk, ks[i].s, ks[i].n, 1)) != 0) return rc;
        if (ks[i].slot) lua_pushvalue(L, ks[i].slot);
        else lua_pushlstring(L, ks[i].s, ks[i].n);
        lua_rawget(L, idx);
        rc = pack_val(L, lua_gettop(L), pk, depth + 1);
        lua_pop(L, 1);
        if (rc) return rc;
    }
    return 0;
}

static int pack_array(lua_State *L, int idx, msgpack_packer *pk, int depth, size_t n)
{
    PK(msgpack_pack_array(pk, n));
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, (int)i);
        int rc = pack_val(L, lua_gettop(L), pk, depth + 1);
        lua_pop(L, 1);
        if (rc) return rc;
    }
    return 0;
}

/* One walk over the keys decides the shape; string keys are anchored on the
** stack as we go (up to STACK_KEYS). The decision does not depend on the
** walk's order: ETOOBIG, then empty array, map, array, else EKEYTYPE. */
static int pack_tab(lua_State *L, int idx, msgpack_packer *pk, int depth)
{
    mkey small[STACK_KEYS], *ks = small;
    size_t n = 0, nstr = 0, nidx = 0, kbytes = 0;
    lua_Number maxk = 0;
    int onstack = 1, rc = 0, base = lua_gettop(L);

    if (depth >= LN_CODEC_MAX_DEPTH) return LN_EDEPTH;
    if (!lua_checkstack(L, 4)) return LN_ENOMEM;
    if (meter && meter->slots && (rc = walk_work(L, idx, 0)) != 0) return rc;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);                          /* keep the key only */
        n++;
        if (meter && !meter->slots && (rc = work(LN_CODEC_WORK_SLOT)) != 0) break;
        int t = lua_type(L, -1);
        if (t == LUA_TSTRING) {
            size_t kn;
            const char *s = lua_tolstring(L, -1, &kn);
            kbytes += kn;
            if (onstack && nstr < STACK_KEYS && lua_checkstack(L, 3)) {
                ks[nstr].s = s;
                ks[nstr].n = kn;
                ks[nstr].slot = lua_gettop(L);
                lua_pushvalue(L, -1);           /* anchor stays, copy walks on */
            } else {
                onstack = 0;
            }
            nstr++;
        } else if (t == LUA_TNUMBER) {
            lua_Number d = lua_tonumber(L, -1);
            if (d >= 1 && d <= (lua_Number)LN_CODEC_MAX_ITEM && d == (lua_Number)(int64_t)d) {
                nidx++;
                if (d > maxk) maxk = d;
            }
        }
    }
    if (rc == LN_EGAS) {
        /* the meter ran out during the walk */
    } else if (n > item_max) {
        rc = LN_ETOOBIG;
    } else if (n == 0) {
        rc = msgpack_pack_array(pk, 0) ? LN_ENOMEM : 0;
    } else if (nstr == n) {
        if (!onstack) {
            lua_settop(L, base);
            rc = copy_keys(L, idx, nstr, kbytes, &ks);
            if (!rc) rc = pack_map(L, idx, pk, depth, ks, nstr, kbytes);
            if (ks != small) free(ks);
        } else {
            rc = pack_map(L, idx, pk, depth, ks, nstr, kbytes);
        }
    } else if (nidx == n && maxk == (lua_Number)n) {
        rc = pack_array(L, idx, pk, depth, n);   /* n distinct keys in 1..n */
    } else {
        rc = LN_EKEYTYPE;
    }
    lua_settop(L, base);
    return rc;
}

static int pack_val(lua_State *L, int idx, msgpack_packer *pk, int depth)
{
    int rc = work(LN_CODEC_WORK_VALUE);
    if (rc) return rc;
    switch (lua_type(L, idx)) {
    case LUA_TNIL: PK(msgpack_pack_nil(pk)); return 0;
    case LUA_TBOOLEAN:
        PK(lua_toboolean(L, idx) ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
        return 0;
    case LUA_TNUMBER: return pack_num(pk, lua_tonumber(L, idx));
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        return pack_str(pk, s, n, 0);
    }
    case LUA_TTABLE: return pack_tab(L, idx, pk, depth);
    case LUA_TNONE: return LN_EINVAL;
    }
    return LN_ETYPE;   /* function, userdata, thread, cdata */
}

int ln_codec_pack_lua(lua_State *L, int idx, msgpack_packer *pk)
{
    if (idx < 0 && idx > LUA_REGISTRYINDEX) idx = lua_gettop(L) + idx + 1;
    return pack_val(L, idx, pk, 0);     /* pack_tab restores the stack */
}

/* The metered encoding writes through this: it counts the bytes. */
typedef struct {
    msgpack_packer *out;
    size_t bytes;
    int over;                       /* max_bytes passed */
} counted;

static int counted_write(void *data, const char *buf, size_t len)
{
    counted *c = data;
    c->bytes += len;
    if (c->bytes > meter->max_bytes) {
        c->over = 1;
        return -1;
    }
    if (work((uint64_t)len * LN_CODEC_WORK_BYTE)) return -1;
    return c->out->callback(c->out->data, buf, len);
}

int ln_codec_pack_lua_metered(lua_State *L, int idx, msgpack_packer *pk, ln_codec_meter *m)
{
    counted c = { pk, 0, 0 };
    msgpack_packer cpk;
    msgpack_packer_init(&cpk, &c, counted_write);
    ln_codec_meter *outer = meter;
    meter = m;
    int rc = ln_codec_pack_lua(L, idx, &cpk);
    meter = outer;
    if (rc && c.over) return LN_ETOOBIG;
    if (rc && m->work > m->limit) return LN_EGAS;
    return rc;
}

int ln_codec_pack_lua_metered_limit(lua_State *L, int idx, msgpack_packer *pk, ln_codec_meter *m,
                                    size_t max_item)
{
    size_t saved = item_max;
    item_max = max_item;
    int rc = ln_codec_pack_lua_metered(L, idx, pk, m);
    item_max = saved;
    return rc;
}

/* An output buffer that starts on the C stack and moves to the heap. */
typedef struct {
    uint8_t *p;
    size_t n, cap;
    uint8_t inl[256];
} obuf;

static int obuf_write(void *data, const char *buf, size_t len)
{
    obuf *b = data;
    if (len > b->cap - b->n) {
        size_t cap = b->cap;
        while (len > cap - b->n) {
            if (cap > SIZE_MAX / 2) return -1;
            cap *= 2;
        }
        uint8_t *np = b->p == b->inl ? malloc(cap) : realloc(b->p, cap);
        if (!np) return -1;
        if (b->p == b->inl) memcpy(np, b->inl, b->n);
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, buf, len);
    b->n += len;
    return 0;
}

int ln_codec_encode_lua(lua_State *L, int idx, uint8_t **out, size_t *outlen)
{
    obuf b;
    msgpack_packer pk;
    b.p = b.inl;
    b.n = 0;
    b.cap = sizeof b.inl;
    msgpack_packer_init(&pk, &b, obuf_write);
    int rc = ln_codec_pack_lua(L, idx, &pk);
    if (!rc && b.p == b.inl) {
        uint8_t *p = malloc(b.n);
        if (p) {
            memcpy(p, b.inl, b.n);
            b.p = p;
        } else {
            rc = LN_ENOMEM;
        }
    }
    if (rc) {
        if (b.p != b.inl) free(b.p);
        return rc;
    }
    *out = b.p;
    *outlen = b.n;
    return 0;
}

/* ---- UTF-8 --------------------------------------------------------------- */

int ln_utf8_valid(const uint8_t *p, size_t n)
{
    if (n == 0) return 1;
    const uint8_t *e = p + n;
    while (p < e) {
        while (e - p >= 8) {                    /* ASCII runs, 8 at a time */
            uint64_t w;
            memcpy(&w, p, 8);
            if (w & 0x8080808080808080ull) break;
            p += 8;
        }
        if (p >= e) break;
        uint8_t c = *p;
        if (c < 0x80) { p++; continue; }
        uint8_t lo = 0x80, hi = 0xbf;
        if (c < 0xc2) return 0;                 /* continuation, overlong lead */
        if (c < 0xe0) {
            if (e - p < 2 || (p[1] & 0xc0) != 0x80) return 0;
            p += 2;
        } else if (c < 0xf0) {
            if (c == 0xe0) lo = 0xa0;           /* overlong */
            else if (c == 0xed) hi = 0x9f;      /* surrogates */
            if (e - p < 3 || p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80) return 0;
            p += 3;
        } else if (c < 0xf5) {
            if (c == 0xf0) lo = 0x90;           /* overlong */
            else if (c == 0xf4) hi = 0x8f;      /* beyond U+10FFFF */
            if (e - p < 4 || p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80 ||
                (p[3] & 0xc0) != 0x80) return 0;
            p += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

void ln_sbuffer_init(msgpack_sbuffer *sb, size_t cap)
{
    msgpack_sbuffer_init(sb);
    sb->data = malloc(cap);
    if (sb->data) sb->alloc = cap;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int ln_codec_lua_bytes(lua_State *L, int idx, uint8_t *out, size_t n)
{
    size_t l;
    if (lua_type(L, idx) != LUA_TSTRING) return 0;
    const char *s = lua_tolstring(L, idx, &l);
    if (l == n) {
        memcpy(out, s, n);
        return 1;
    }
    if (l != 2 * n) return 0;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return 0;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 1;
}

int ln_codec_encode_lua_limit(lua_State *L, int idx, size_t max_item, uint8_t **out, size_t *outlen)
{
    size_t saved = item_max;
    item_max = max_item;
    int rc = ln_codec_encode_lua(L, idx, out, outlen);
    item_max = saved;
    return rc;
}

int ln_codec_decode_lua_charged(lua_State *L, const uint8_t *p, size_t n, size_t max,
                                void (*charge)(lua_State *L, uint64_t items))
{
    uint64_t items;
    int rc = ln_codec_items(p, n, &items);
    if (rc) return rc;
    charge(L, items);
    str_max = max;
    rc = push_checked(L, p, n);
    str_max = SIZE_MAX;
    return rc;
}

int ln_codec_push_strmax(lua_State *L, const msgpack_object *o, size_t max)
{
    str_max = max;
    int rc = push_top(L, o);
    str_max = SIZE_MAX;
    return rc;
}

int ln_codec_decode_lua_limit(lua_State *L, const uint8_t *p, size_t n, size_t max_item)
{
    /* The larger limit only for the check, which raises nothing: the push
    ** may (a memory cap) and must not leave it behind. */
    size_t saved = item_max;
    item_max = max_item;
    int rc = ln_codec_check(p, n);
    item_max = saved;
    if (rc) return rc;
    str_max = SIZE_MAX;
    return push_checked(L, p, n);
}

void ln_pack_strn(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void ln_pack_str(msgpack_packer *pk, const char *s)
{
    ln_pack_strn(pk, s, strlen(s));
}

void ln_pack_bin(msgpack_packer *pk, const void *p, size_t n)
{
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, p, n);
}
