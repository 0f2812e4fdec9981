/*
** whitelist.c -- what sandboxed code sees (see whitelist.h): the libraries
** it may use, frozen, and the functions replaced because the originals
** would leak order or addresses (pairs, next, tostring, string.format),
** run unmetered (xpcall handlers, the pattern matcher) or work in
** proportion to their input without being charged (the wrappers).
*/
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>

#include <lualib.h>

#include "whitelist.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "pattern.h"
#include "sandbox.h"

/* ---- frozen tables ---------------------------------------------------- */

static int frozen_newindex(lua_State *L)
{
    return luaL_error(L, "attempt to modify a read-only table");
}

int ln__whitelist_entries(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx)) return 0;
    lua_pushliteral(L, "__newindex");
    lua_rawget(L, -2);
    int frozen = lua_tocfunction(L, -1) == frozen_newindex;
    lua_pop(L, 1);
    if (!frozen) {
        lua_pop(L, 1);
        return 0;
    }
    lua_pushliteral(L, "__index");
    lua_rawget(L, -2);
    lua_remove(L, -2);
    return 1;
}

static int is_frozen(lua_State *L, int idx)
{
    if (!ln__whitelist_entries(L, idx)) return 0;
    lua_pop(L, 1);
    return 1;
}

/* The entries move to a hidden table; with the table empty, assigning to an
** existing key also reaches __newindex. */
void ln__whitelist_freeze(lua_State *L, int idx)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    if (is_frozen(L, idx)) return;
    lua_newtable(L);
    int entries = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, entries);
    }
    lua_pushnil(L);
    while (lua_next(L, entries)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_pushnil(L);
        lua_rawset(L, idx);
    }
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, entries);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, frozen_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, idx);
    lua_pop(L, 1);
}

static void check_writable(lua_State *L, int idx, const char *fn)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    if (is_frozen(L, idx))
        luaL_error(L, "%s: table is read-only", fn);
}

/* Pushes the table whose entries the table at idx shows: its hidden
** entries if frozen, else itself. */
static void push_entries(lua_State *L, int idx)
{
    if (!ln__whitelist_entries(L, idx)) lua_pushvalue(L, idx);
}

/* ---- deterministic iteration ------------------------------------------ */

typedef struct {
    int rank;            /* 0 number, 1 string, 2 boolean, 3 other */
    double num;
    const char *s;
    size_t len;
    uint64_t off;
    int pos;             /* index in the key list table */
} skey;

static int skey_cmp(const void *a_, const void *b_)
{
    const skey *a = a_, *b = b_;
    if (a->rank != b->rank) return a->rank < b->rank ? -1 : 1;
    switch (a->rank) {
    case 0: return a->num < b->num ? -1 : a->num > b->num;
    case 1: {
        size_t m = a->len < b->len ? a->len : b->len;
        int c = memcmp(a->s, b->s, m);
        if (c) return c;
        return a->len < b->len ? -1 : a->len > b->len;
    }
    case 2: return (int)a->num - (int)b->num;
    default: return a->off < b->off ? -1 : a->off > b->off;
    }
}

static void describe(lua_State *L, int idx, skey *k)
{
    memset(k, 0, sizeof *k);
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER: k->rank = 0; k->num = lua_tonumber(L, idx); break;
    case LUA_TSTRING: k->rank = 1; k->s = lua_tolstring(L, idx, &k->len); break;
    case LUA_TBOOLEAN: k->rank = 2; k->num = lua_toboolean(L, idx); break;
    default:
        k->rank = 3;
        k->off = ln__sandbox_order(L, idx);
    }
}

static uint64_t log2ceil(uint64_t n)
{
    uint64_t b = 1;
    while (((uint64_t)1 << b) < n && b < 63) b++;
    return b;
}

/* Pushes a table of t's keys (t at idx) in the deterministic order; returns
** the count. Charged before each step: the two walks by the slots they
** visit, the sort by the keys and their bytes (strings compare bytewise). */
static int sorted_keys(lua_State *L, int idx)
{
    ln_sandbox_charge(L, 2 * LN_GAS_SLOTS(ln_sandbox_table_slots(L, idx)));
    int n = 0;
    uint64_t kbytes = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        n++;
        if (lua_type(L, -1) == LUA_TSTRING) kbytes += lua_objlen(L, -1);
    }
    uint64_t lg = log2ceil((uint64_t)n + 1);
    ln_sandbox_charge(L, (LN_GAS_PAIRS(n) + LN_GAS_COPY_BYTES(kbytes)) * lg);
    lua_createtable(L, n, 0);                         /* keys, unsorted */
    int keys = lua_gettop(L);
    skey *d = lua_newuserdata(L, sizeof(skey) * (size_t)(n ? n : 1));
    int i = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_rawseti(L, keys, ++i);
        describe(L, -1, &d[i - 1]);
        d[i - 1].pos = i;
    }
    qsort(d, (size_t)n, sizeof(skey), skey_cmp);
    lua_createtable(L, n, 0);                         /* keys, sorted */
    for (i = 0; i < n; i++) {
        lua_rawgeti(L, keys, d[i].pos);
        lua_rawseti(L, -2, i + 1);
    }
    lua_replace(L, keys);
    lua_pop(L, 1);                                    /* the descriptors */
    return n;
}

/* upvalues: 1 sorted keys, 2 count, 3 position, 4 the entries table. The
** arguments are ignored: the iterator walks the table it was made for. */
static int pairs_iter(lua_State *L)
{
    int n = (int)lua_tointeger(L, lua_upvalueindex(2));
    int pos = (int)lua_tointeger(L, lua_upvalueindex(3));
    while (pos < n) {
        pos++;
        lua_rawgeti(L, lua_upvalueindex(1), pos);
        lua_pushvalue(L, -1);
        lua_rawget(L, lua_upvalueindex(4));
        if (!lua_isnil(L, -1)) {
            lua_pushinteger(L, pos);
            lua_replace(L, lua_upvalueindex(3));
            return 2;
        }
        lua_pop(L, 2);
    }
    lua_pushinteger(L, pos);
    lua_replace(L, lua_upvalueindex(3));
    lua_pushnil(L);
    return 1;
}

static int sb_pairs(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    push_entries(L, 1);                               /* 2 */
    int n = sorted_keys(L, 2);                        /* 3 */
    lua_pushinteger(L, n);
    lua_pushinteger(L, 0);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, pairs_iter, 4);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* next(t, k): the key after k in the deterministic order. k need not be in
** t any more (it may have been cleared during the traversal): the walk goes
** on from where k would be. */
static int sb_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    push_entries(L, 1);                               /* 3 */
    int n = sorted_keys(L, 3);
    int keys = lua_gettop(L);
    int pos = 0;
    if (!lua_isnil(L, 2)) {
        skey want, have;
        describe(L, 2, &want);
        int lo = 1, hi = n + 1;                       /* first key >= k */
        while (lo < hi) {
            int mid = lo + (hi - lo) / 2;
            lua_rawgeti(L, keys, mid);
            describe(L, -1, &have);
            lua_pop(L, 1);
            if (skey_cmp(&have, &want) < 0) lo = mid + 1; else hi = mid;
        }
        pos = lo - 1;
        if (lo <= n) {
            lua_rawgeti(L, keys, lo);
            if (lua_rawequal(L, -1, 2)) pos = lo;
            lua_pop(L, 1);
        }
    }
    for (pos++; pos <= n; pos++) {
        lua_rawgeti(L, keys, pos);
        lua_pushvalue(L, -1);
        lua_rawget(L, 3);
        if (!lua_isnil(L, -1)) return 2;
        lua_pop(L, 2);
    }
    lua_pushnil(L);
    return 1;
}

/* ---- replaced functions ----------------------------------------------- */

/* Pushes a string for the value at idx that never shows an address. */
static void safe_tostring(lua_State *L, int idx)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER: case LUA_TSTRING:
        lua_pushvalue(L, idx);
        lua_tolstring(L, -1, NULL);
        return;
    case LUA_TBOOLEAN:
        lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
        return;
    case LUA_TTABLE:
        if (luaL_getmetafield(L, idx, "__tostring")) {
            lua_pushvalue(L, idx);
            ln__sandbox_call(L, 1, 1);
            if (!lua_isstring(L, -1))
                luaL_error(L, "'__tostring' must return a string");
            return;
        }
        /* fall through */
    default:
        lua_pushstring(L, luaL_typename(L, idx));
    }
}

static int sb_tostring(lua_State *L)
{
    luaL_checkany(L, 1);
    safe_tostring(L, 1);
    return 1;
}

static int sb_rawset(lua_State *L)
{
    check_writable(L, 1, "rawset");
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

/* xpcall(f, handler, ...): the handler runs once the error has unwound, not
** at the point of the error. An error raised by the count hook would run
** the handler inside the hook, where no count hook fires: unmetered. A kill
** is not the handler's to see; it goes on. */
static int sb_xpcall(lua_State *L)
{
    luaL_checkany(L, 2);
    int n = lua_gettop(L);
    ln__sandbox_check_depth(L);
    lua_pushboolean(L, 1);                            /* n + 1 */
    lua_pushvalue(L, 1);
    for (int i = 3; i <= n; i++) lua_pushvalue(L, i);
    if (ln__sandbox_pcall(L, n - 2, LUA_MULTRET) == 0) return lua_gettop(L) - n;
    lua_pushboolean(L, 0);
    lua_replace(L, n + 1);
    lua_pushvalue(L, 2);
    lua_insert(L, -2);                                /* handler, error */
    if (ln__sandbox_pcall(L, 1, 1) != 0) {
        lua_pop(L, 1);
        lua_pushliteral(L, "error in error handling");
    }
    return 2;
}

/* The originals, kept as upvalue 1 of each wrapper. */
static int call_orig(lua_State *L)
{
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

static int call_orig_nested(lua_State *L)
{
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    ln__sandbox_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

/* ---- integer arguments ------------------------------------------------
** LuaJIT turns a number argument into an int32 by a C cast, whose result
** for NaN, an infinity or a number out of range depends on the processor
** (x86 gives INT_MIN, ARM saturates). So the wrappers pass such arguments
** through here first: NaN and infinities are refused; other numbers are
** truncated toward zero and clamped to +-(2^31-1), which no count or
** position of the sandbox reaches, and put back in place. */

lua_Number ln__whitelist_intarg(lua_State *L, int idx, lua_Number def)
{
    if (lua_isnoneornil(L, idx)) return def;
    lua_Number n = luaL_checknumber(L, idx);
    if (n != n || n - n != 0) luaL_argerror(L, idx, "number has no integer representation");
    n = n < 0 ? -floor(-n) : floor(n);
    if (n > INT32_MAX) n = INT32_MAX;
    if (n < -INT32_MAX) n = -INT32_MAX;
    lua_pushnumber(L, n);
    lua_replace(L, idx);
    return n;
}

/* Raises before building a string longer than the sandbox's cap (which
** would kill the call): functions that know the length beforehand refuse
** with an error a pcall can catch. */
static void too_long(lua_State *L, const char *fn, double bytes)
{
    size_t max = ln_sandbox_string_max(L);
    if (max && bytes > (double)max)
        luaL_error(L, "%s: a string of %.0f bytes is longer than the %d a string may have",
                   fn, bytes, (int)max);
}

static lua_Number posrel(lua_Number pos, lua_Number len)
{
    return pos < 0 ? pos + len + 1 : pos;
}

static int w_rep(lua_State *L)
{
    size_t l, sl = 0;
    luaL_checklstring(L, 1, &l);
    lua_Number n = luaL_checknumber(L, 2);
    if (!lua_isnoneornil(L, 3)) luaL_checklstring(L, 3, &sl);   /* a number too */
    if (n > 0) {
        double bytes = (double)(l + sl) * n;
        too_long(L, "string.rep", bytes - (double)sl);
        ln_sandbox_charge(L, bytes > 1e15 ? UINT64_MAX / 2
                                          : LN_GAS_COPY_BYTES((uint64_t)bytes));
    }
    ln__whitelist_intarg(L, 2, 0);
    return call_orig(L);
}

/* upper, lower, reverse, tonumber: work in proportion to the length of a
** string first argument, which may come out as a string that already
** exists (then nothing is allocated, so nothing else would charge it). */
static int w_linear(lua_State *L)
{
    size_t l = 0;
    if (lua_type(L, 1) == LUA_TSTRING) lua_tolstring(L, 1, &l);
    ln_sandbox_charge(L, LN_GAS_COPY_BYTES(l));
    return call_orig(L);
}

/* sub: in proportion to the length of the result. */
static int w_sub(lua_State *L)
{
    size_t l = 0;
    if (lua_type(L, 1) == LUA_TSTRING) lua_tolstring(L, 1, &l);
    lua_Number i = ln__whitelist_intarg(L, 2, 1), j = ln__whitelist_intarg(L, 3, -1);
    i = posrel(i, (lua_Number)l);
    j = posrel(j, (lua_Number)l);
    if (i < 1) i = 1;
    if (j > (lua_Number)l) j = (lua_Number)l;
    ln_sandbox_charge(L, LN_GAS_COPY_BYTES(j >= i ? (uint64_t)(j - i + 1) : 0));
    return call_orig(L);
}

/* ---- values in bulk -----------------------------------------------------
** A C function that takes or returns n values works in proportion to n
** within one VM instruction: LN_GAS_VALUES(n), before. */

/* max, min, band, bor, bxor, assert (which returns what it takes). */
static int w_values(lua_State *L)
{
    ln_sandbox_charge(L, LN_GAS_VALUES(lua_gettop(L)));
    return call_orig(L);
}

static int w_char(lua_State *L)
{
    int n = lua_gettop(L);
    ln_sandbox_charge(L, LN_GAS_VALUES(n));
    for (int i = 1; i <= n; i++) ln__whitelist_intarg(L, i, 0);
    return call_orig(L);
}

/* select(n, ...) takes all the values and returns those from n on. */
static int w_select(lua_State *L)
{
    ln_sandbox_charge(L, LN_GAS_VALUES(lua_gettop(L)));
    if (lua_type(L, 1) != LUA_TSTRING) ln__whitelist_intarg(L, 1, 0);
    return call_orig(L);
}

/* The count of the positions i..j, as string.byte and unpack take them. */
static uint64_t span(lua_Number i, lua_Number j)
{
    return j >= i ? (uint64_t)(j - i + 1) : 0;
}

static int w_unpack(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Number i = ln__whitelist_intarg(L, 2, 1);
    lua_Number j = ln__whitelist_intarg(L, 3, (lua_Number)lua_objlen(L, 1));
    ln_sandbox_charge(L, LN_GAS_VALUES(span(i, j)));
    return call_orig(L);
}

static int w_byte(lua_State *L)
{
    size_t l;
    luaL_checklstring(L, 1, &l);
    lua_Number i = ln__whitelist_intarg(L, 2, 1);
    lua_Number j = ln__whitelist_intarg(L, 3, i);
    i = posrel(i, (lua_Number)l);
    j = posrel(j, (lua_Number)l);
    if (i < 1) i = 1;
    if (j > (lua_Number)l) j = (lua_Number)l;
    ln_sandbox_charge(L, LN_GAS_VALUES(span(i, j)));
    return call_orig(L);
}

/* math.ldexp and bit.tohex: their second argument is an int32. */
static int w_int2(lua_State *L)
{
    ln__whitelist_intarg(L, 2, 0);
    return call_orig(L);
}

static int w_format(lua_State *L)
{
    size_t fl;
    const char *f = luaL_checklstring(L, 1, &fl);
    const char *end = f + fl;
    uint64_t bytes = fl;
    int arg = 1;
    while (f < end) {
        if (*f++ != '%') continue;
        if (f < end && *f == '%') { f++; continue; }
        while (f < end && *f && strchr("-+ #0123456789.", *f)) f++;
        if (f >= end) break;
        arg++;
        if (*f == 'p')                /* the address of the argument */
            return luaL_error(L, "invalid option '%%p' to 'format'");
        /* Integer conversions cast the number in C: NaN, infinities and
        ** numbers out of range would print what the processor makes of
        ** them (x86: -9223372036854775808). */
        if (*f && strchr("diouxXc", *f) && lua_isnumber(L, arg)) {
            lua_Number n = lua_tonumber(L, arg);
            lua_Number hi = (*f == 'd' || *f == 'i') ? 9223372036854775808.0
                                                   : 18446744073709551616.0;
            if (*f == 'c') ln__whitelist_intarg(L, arg, 0);
            else if (!(n >= -9223372036854775808.0 && n < hi))
                return luaL_argerror(L, arg, "number has no integer representation");
        }
        if (*f == 's' || *f == 'q') {
            int t = lua_type(L, arg);
            if (t != LUA_TSTRING && t != LUA_TNUMBER && t != LUA_TNONE) {
                safe_tostring(L, arg);
                lua_replace(L, arg);
            }
        }
        if (lua_type(L, arg) == LUA_TSTRING) bytes += lua_objlen(L, arg);
        bytes += 24;
        f++;
    }
    ln_sandbox_charge(L, LN_GAS_COPY_BYTES(bytes));
    return call_orig(L);
}

static int w_concat(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    size_t sepl = 0;
    if (lua_type(L, 2) == LUA_TSTRING) lua_tolstring(L, 2, &sepl);
    lua_Number i = ln__whitelist_intarg(L, 3, 1);
    lua_Number j = ln__whitelist_intarg(L, 4, (lua_Number)lua_objlen(L, 1));
    if (j >= i) {
        double cnt = j - i + 1;
        ln_sandbox_charge(L, LN_GAS_COPY_BYTES(cnt > 1e12 ? 1e12 : cnt * 8));
        uint64_t bytes = 0;
        for (lua_Number k = i; k <= j; k++) {
            lua_rawgeti(L, 1, (int)k);
            if (lua_type(L, -1) == LUA_TSTRING) bytes += lua_objlen(L, -1);
            lua_pop(L, 1);
            bytes += sepl;
        }
        too_long(L, "table.concat", (double)bytes - (double)sepl);
        ln_sandbox_charge(L, LN_GAS_COPY_BYTES(bytes));
    }
    return call_orig(L);
}

static int w_sort(lua_State *L)
{
    check_writable(L, 1, "table.sort");
    uint64_t n = lua_objlen(L, 1);
    ln_sandbox_charge(L, LN_GAS_SORT(n) * log2ceil(n + 1));
    return call_orig_nested(L);                       /* the comparator, __lt */
}

/* insert(t, pos, v) moves the values from pos on up by one: pos must be in
** 1..#t+1 (LuaJIT would walk from #t down to any pos, 2^31 steps for a
** negative one), and each value moved is charged. */
static int w_insert(lua_State *L)
{
    check_writable(L, 1, "table.insert");
    if (lua_gettop(L) == 3) {
        lua_Number len = (lua_Number)lua_objlen(L, 1);
        lua_Number pos = ln__whitelist_intarg(L, 2, 0);
        luaL_argcheck(L, pos >= 1 && pos <= len + 1, 2, "position out of bounds");
        ln_sandbox_charge(L, LN_GAS_VALUES(span(pos, len)));
    }
    return call_orig(L);
}

/* maxn walks every slot, the empty ones of an emptied array too. */
static int w_maxn(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    ln_sandbox_charge(L, LN_GAS_SLOTS(ln_sandbox_table_slots(L, 1)));
    return call_orig(L);
}

static int w_remove(lua_State *L)
{
    check_writable(L, 1, "table.remove");
    ln__whitelist_intarg(L, 2, 0);
    ln_sandbox_charge(L, LN_GAS_COPY_BYTES(lua_objlen(L, 1) * 8));
    return call_orig(L);
}

/* ---- x ^ y --------------------------------------------------------------
**
**     +-----------------------------------------------------------------+
**     |  THIS FILE REPLACES pow(3) FOR THE WHOLE PROCESS.                |
**     +-----------------------------------------------------------------+
**
** The interpreter computes x ^ y by calling the C library's pow (through
** the PLT, as the parser does when it folds constants), whose last bits
** differ between libm versions and processors. While this thread runs or
** compiles sandboxed code (ln__sandbox_running), pow is replaced by integer
** powering: y an integer, x ^ y is x multiplied by itself by binary
** powering (exact while the result fits 2^53, rounded the same way on
** every build beyond), 1 / x ^ -y for y < 0. A fractional y (or NaN) gives
** NaN and kills the call (LN_EFLOAT, "x ^ y takes integer exponents only")
** before the next instruction; the parser does not fold a NaN, so a
** constant 2 ^ 0.5 fails when it runs, not when it compiles. Everywhere
** else (host Lua, other code) the C library's pow answers, found once with
** dlsym(RTLD_NEXT). If LuaJIT ever computed ^ without calling pow, the
** test sandbox.sandbox_pow_is_integer_powering_or_refused fails. */

static double powi(double x, double y)
{
    if (fabs(y) >= 9007199254740992.0) {           /* 2^53 and up: even */
        double ax = fabs(x);
        if (x != x) return x;
        if (ax == 1) return 1;
        return (ax > 1) == (y > 0) ? HUGE_VAL : 0;
    }
    uint64_t e = (uint64_t)fabs(y);
    double r = 1, b = x;
    while (e) {
        if (e & 1) r *= b;
        e >>= 1;
        if (e) b *= b;
    }
    return y < 0 ? 1 / r : r;
}

double pow(double x, double y)
{
    int frac = y != floor(y) && !isinf(y);
    if (ln__sandbox_compiling()) return frac ? NAN : powi(x, y);   /* not folded */
    ln_sandbox *sb = ln__sandbox_running();
    if (!sb) {
        static double (*real)(double, double);
        if (!real) real = (double (*)(double, double))dlsym(RTLD_NEXT, "pow");
        return real ? real(x, y) : NAN;
    }
    if (frac) {
        ln__sandbox_kill(sb, LN_EFLOAT);
        return NAN;
    }
    return powi(x, y);
}

/* ---- building the whitelist ------------------------------------------- */

static void open_lib(lua_State *L, lua_CFunction f, const char *name)
{
    lua_pushcfunction(L, f);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}

/* Copies the named fields of global table `lib` into a new table at the top. */
static void copy_fields(lua_State *L, const char *lib, const char *const *names)
{
    lua_getglobal(L, lib);
    lua_newtable(L);
    for (; *names; names++) {
        lua_getfield(L, -2, *names);
        lua_setfield(L, -2, *names);
    }
    lua_remove(L, -2);
}

/* Replaces field `name` of the table at the top by wrapper(original). */
static void wrap(lua_State *L, const char *name, lua_CFunction w)
{
    lua_getfield(L, -1, name);
    lua_pushcclosure(L, w, 1);
    lua_setfield(L, -2, name);
}

static void set_fn(lua_State *L, const char *name, lua_CFunction f)
{
    lua_pushcfunction(L, f);
    lua_setfield(L, -2, name);
}

static const char *const base_names[] = {
    "assert", "error", "ipairs", "pcall", "rawequal", "rawget", "select",
    "setmetatable", "getmetatable", "tonumber", "type", "unpack",
    NULL
};
static const char *const math_names[] = {
    "abs", "ceil", "floor", "fmod", "huge", "max", "min", "modf", "sqrt",
    "ldexp", "frexp", "pi", NULL
};
static const char *const table_names[] = {
    "concat", "insert", "remove", "sort", "maxn", NULL
};
static const char *const bit_names[] = {
    "tobit", "tohex", "bnot", "band", "bor", "bxor", "lshift", "rshift",
    "arshift", "rol", "ror", "bswap", NULL
};

int ln_sandbox_l_hash(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    ln_sandbox_charge(L, LN_GAS_HASH(n));
    uint8_t h[LN_HASH_LEN];
    ln_hash(s, n, h);
    lua_pushlstring(L, (const char *)h, LN_HASH_LEN);
    return 1;
}

int ln_sandbox_l_verify(lua_State *L)
{
    uint8_t pk[LN_PK_LEN], sig[LN_SIG_LEN];
    size_t n;
    int ok = ln_codec_lua_bytes(L, 1, pk, LN_PK_LEN) && ln_codec_lua_bytes(L, 2, sig, LN_SIG_LEN);
    const char *m = luaL_checklstring(L, 3, &n);
    ln_sandbox_charge(L, LN_GAS_VERIFY + LN_GAS_HASH(n));
    lua_pushboolean(L, ok && ln_verify(pk, sig, (const uint8_t *)m, n) == 0);
    return 1;
}

/* What each library's functions become: a wrapper that charges and then
** calls the original (WRAP), or a function of the sandbox's own (OWN).
** One list per library, to audit at a glance. */
enum { WRAP, OWN };
typedef struct { const char *name; int how; lua_CFunction fn; } fnspec;

static const fnspec string_fns[] = {
    { "rep", WRAP, w_rep }, { "upper", WRAP, w_linear }, { "lower", WRAP, w_linear },
    { "reverse", WRAP, w_linear }, { "sub", WRAP, w_sub }, { "format", WRAP, w_format },
    { "byte", WRAP, w_byte }, { "char", WRAP, w_char },
    { "find", OWN, ln__pattern_find }, { "match", OWN, ln__pattern_match },
    { "gmatch", OWN, ln__pattern_gmatch }, { "gsub", OWN, ln__pattern_gsub },
    { NULL, 0, NULL }
};
static const fnspec base_fns[] = {
    { "tonumber", WRAP, w_linear }, { "unpack", WRAP, w_unpack }, { "select", WRAP, w_select },
    { "assert", WRAP, w_values }, { "pairs", OWN, sb_pairs }, { "next", OWN, sb_next },
    { "rawset", OWN, sb_rawset }, { "tostring", OWN, sb_tostring }, { "xpcall", OWN, sb_xpcall },
    { NULL, 0, NULL }
};
static const fnspec math_fns[] = {
    { "max", WRAP, w_values }, { "min", WRAP, w_values }, { "ldexp", WRAP, w_int2 },
    { NULL, 0, NULL }
};
static const fnspec bit_fns[] = {
    { "band", WRAP, w_values }, { "bor", WRAP, w_values }, { "bxor", WRAP, w_values },
    { "tohex", WRAP, w_int2 }, { NULL, 0, NULL }
};
static const fnspec table_fns[] = {
    { "concat", WRAP, w_concat }, { "insert", WRAP, w_insert }, { "remove", WRAP, w_remove },
    { "sort", WRAP, w_sort }, { "maxn", WRAP, w_maxn }, { NULL, 0, NULL }
};

/* Applies a list to the table at the top. */
static void apply(lua_State *L, const fnspec *f)
{
    for (; f->name; f++)
        if (f->how == WRAP) wrap(L, f->name, f->fn);
        else set_fn(L, f->name, f->fn);
}

/* A frozen copy of library lib's listed names, with fns applied, as field
** lib of the table at base. */
static void copy_lib(lua_State *L, int base, const char *lib, const char *const *names,
                     const fnspec *fns)
{
    copy_fields(L, lib, names);
    apply(L, fns);
    ln__whitelist_freeze(L, -1);
    lua_setfield(L, base, lib);
}

void ln__whitelist_open(lua_State *L)
{
    open_lib(L, luaopen_base, "");
    open_lib(L, luaopen_string, LUA_STRLIBNAME);
    open_lib(L, luaopen_table, LUA_TABLIBNAME);
    open_lib(L, luaopen_math, LUA_MATHLIBNAME);
    open_lib(L, luaopen_bit, LUA_BITLIBNAME);

    /* The real string table is what string methods reach through the string
    ** metatable, so it is edited in place, not copied. */
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pushnil(L);
    lua_setfield(L, -2, "gfind");
    apply(L, string_fns);
    ln__whitelist_freeze(L, -1);
    int strlib = lua_gettop(L);
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);

    lua_newtable(L);                                  /* shared globals */
    int base = lua_gettop(L);
    lua_pushvalue(L, strlib);
    lua_setfield(L, base, "string");
    for (const char *const *n = base_names; *n; n++) {
        lua_getglobal(L, *n);
        lua_setfield(L, base, *n);
    }
    apply(L, base_fns);
    copy_lib(L, base, "math", math_names, math_fns);
    copy_lib(L, base, "bit", bit_names, bit_fns);
    copy_lib(L, base, "table", table_names, table_fns);
    lua_remove(L, strlib);
}
