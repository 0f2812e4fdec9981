/*
** sandbox.c -- deterministic, metered LuaJIT states.
**
** Three mechanisms make a result depend only on its inputs:
** - the arena: every allocation of a sandbox comes from one private mapping
**   through size-classed free lists, so the same operations allocate the
**   same offsets, the GC runs at the same points and memory caps hit at the
**   same instruction on every node;
** - the meter: the count hook fires every LN_GAS_PERIOD instructions; at the
**   end the rest of the period is measured exactly by draining it with a
**   loop of one instruction per step (meter_end);
** - the whitelist: code sees frozen copies of what it may use, and the
**   functions that could leak order or addresses (pairs, next, tostring,
**   string.format) are replaced.
*/
#include <math.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <lualib.h>
#include <luajit.h>

#include "sandbox.h"
#include "crypto.h"
#include "err.h"

/* ---- arena ------------------------------------------------------------ */

#define SMALL_STEP   16
#define SMALL_MAX    1024
#define NSMALL       (SMALL_MAX / SMALL_STEP)     /* classes 16..1024 */
#define NLARGE       40                           /* 2^11 .. 2^50 */

typedef struct freeblk { struct freeblk *next; } freeblk;

struct ln_sandbox {
    lua_State *L;
    void *ud;
    /* arena */
    uint8_t *base;
    size_t size, top, in_use;
    freeblk *small[NSMALL + 1];
    freeblk *large[NLARGE];
    /* meter */
    int metering, draining, killed;
    uint64_t gas_limit, firings, explicit_gas, alloc_bytes;
    size_t mem_base, mem_cap;
    lua_Number drain_i, drain_fresh;
    int drain_ref, frozen_ref, env_mt_ref, base_ref;
};

static size_t size_class(size_t n, int *large, int *idx)
{
    if (n <= SMALL_MAX) {
        size_t c = (n + SMALL_STEP - 1) / SMALL_STEP;
        if (c == 0) c = 1;
        *large = 0, *idx = (int)c;
        return c * SMALL_STEP;
    }
    int b = 11;
    while (((size_t)1 << b) < n) b++;
    *large = 1, *idx = b - 11;
    return (size_t)1 << b;
}

static void *arena_get(ln_sandbox *sb, size_t n)
{
    int large, idx;
    size_t cs = size_class(n, &large, &idx);
    if (large && idx >= NLARGE) return NULL;
    freeblk **list = large ? &sb->large[idx] : &sb->small[idx];
    if (*list) {
        freeblk *f = *list;
        *list = f->next;
        return f;
    }
    if (cs > sb->size - sb->top) return NULL;
    void *p = sb->base + sb->top;
    sb->top += cs;
    return p;
}

static void arena_put(ln_sandbox *sb, void *p, size_t n)
{
    int large, idx;
    size_class(n, &large, &idx);
    freeblk *f = p;
    freeblk **list = large ? &sb->large[idx] : &sb->small[idx];
    f->next = *list;
    *list = f;
}

static uint64_t gas_so_far(const ln_sandbox *sb)
{
    return sb->firings * LN_GAS_PERIOD + sb->explicit_gas +
           (sb->alloc_bytes >> LN_GAS_ALLOC_SHIFT);
}

/* The lua_Alloc of every sandbox. While a meter runs, growth is charged as
** gas and checked against the memory cap; a refusal makes LuaJIT raise a
** memory error and marks the call killed, so the hook re-raises it. */
static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    ln_sandbox *sb = ud;
    if (nsize == 0) {
        if (ptr) {
            arena_put(sb, ptr, osize);
            sb->in_use -= osize;
        }
        return NULL;
    }
    size_t old = ptr ? osize : 0;
    if (sb->metering && nsize > old) {
        if (sb->killed) return NULL;
        size_t grow = nsize - old;
        if (sb->in_use + grow > sb->mem_base + sb->mem_cap) {
            sb->killed = LN_EMEM;
            return NULL;
        }
        sb->alloc_bytes += grow;
        if (gas_so_far(sb) > sb->gas_limit) {
            sb->killed = LN_EGAS;
            return NULL;
        }
    }
    if (ptr) {
        int l1, i1, l2, i2;
        if (size_class(osize, &l1, &i1) == size_class(nsize, &l2, &i2)) {
            sb->in_use += nsize - osize;
            return ptr;
        }
    }
    void *np = arena_get(sb, nsize);
    if (!np) return NULL;
    if (ptr) {
        memcpy(np, ptr, osize < nsize ? osize : nsize);
        arena_put(sb, ptr, osize);
    }
    sb->in_use += nsize - old;
    return np;
}

ln_sandbox *ln_sandbox_of(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

void *ln_sandbox_ud(lua_State *L) { return ln_sandbox_of(L)->ud; }
lua_State *ln_sandbox_L(ln_sandbox *sb) { return sb->L; }
size_t ln_sandbox_mem_used(const ln_sandbox *sb) { return sb->in_use; }
int ln_sandbox_killed(ln_sandbox *sb) { return sb->killed; }

/* ---- meter ------------------------------------------------------------ */

static const char *kill_text(int killed)
{
    return killed == LN_EMEM ? "out of memory" : "out of gas";
}

static void sb_hook(lua_State *L, lua_Debug *ar)
{
    ln_sandbox *sb = ln_sandbox_of(L);
    if (sb->draining) {
        const char *name;
        for (int i = 1; (name = lua_getlocal(L, ar, i)) != NULL; i++) {
            int hit = strcmp(name, "i") == 0;
            if (hit) sb->drain_i = lua_tonumber(L, -1);
            lua_pop(L, 1);
            if (hit) break;
        }
        lua_pushliteral(L, "drained");
        lua_error(L);
    }
    if (!sb->metering) return;
    if (!sb->killed) {
        sb->firings++;
        if (gas_so_far(sb) > sb->gas_limit) sb->killed = LN_EGAS;
    }
    if (sb->killed) {
        /* From now on every instruction raises again: pcall cannot hold it. */
        lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1);
        lua_pushstring(L, kill_text(sb->killed));
        lua_error(L);
    }
}

/* Runs the drain loop from a fresh or partial count; returns the loop index
** at which the count ran out. */
static lua_Number drain(ln_sandbox *sb)
{
    lua_State *L = sb->L;
    sb->draining = 1;
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->drain_ref);
    lua_pcall(L, 0, 0, 0);
    lua_pop(L, 1);
    sb->draining = 0;
    return sb->drain_i;
}

void ln_sandbox_meter_begin(ln_sandbox *sb, uint64_t gas_limit, size_t mem_cap)
{
    sb->gas_limit = gas_limit;
    sb->firings = sb->explicit_gas = sb->alloc_bytes = 0;
    sb->mem_base = sb->in_use;
    sb->mem_cap = mem_cap;
    sb->killed = 0;
    sb->metering = 1;
    lua_sethook(sb->L, sb_hook, LUA_MASKCOUNT, LN_GAS_PERIOD);
}

uint64_t ln_sandbox_meter_end(ln_sandbox *sb)
{
    uint64_t gas;
    sb->metering = 0;
    if (!sb->killed) {
        /* Instructions since the last hook = what a fresh count drains to
        ** minus what this partial count drained to. */
        lua_Number left = drain(sb);
        gas = gas_so_far(sb) + (uint64_t)(sb->drain_fresh - left);
        if (gas > sb->gas_limit) sb->killed = LN_EGAS;
    } else {
        gas = gas_so_far(sb);
    }
    if (sb->killed == LN_EGAS || gas > sb->gas_limit) gas = sb->gas_limit;
    lua_sethook(sb->L, NULL, 0, 0);
    return gas;
}

void ln_sandbox_charge(lua_State *L, uint64_t gas)
{
    ln_sandbox *sb = ln_sandbox_of(L);
    if (!sb->metering) return;
    if (!sb->killed) {
        sb->explicit_gas += gas;
        if (gas_so_far(sb) > sb->gas_limit) sb->killed = LN_EGAS;
    }
    if (sb->killed) {
        lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1);
        lua_pushstring(L, kill_text(sb->killed));
        lua_error(L);
    }
}

const char *ln_sandbox_errtext(lua_State *L, int idx, size_t *len)
{
    if (idx < 0 && idx > LUA_REGISTRYINDEX) idx = lua_gettop(L) + idx + 1;
    int t = lua_type(L, idx);
    if (t != LUA_TSTRING && t != LUA_TNUMBER) {
        lua_pushfstring(L, "(error object is a %s value)", lua_typename(L, t));
        lua_replace(L, idx);
    }
    return lua_tolstring(L, idx, len);
}

int ln_sandbox_pcall(ln_sandbox *sb, int nargs, int nresults)
{
    lua_State *L = sb->L;
    int base = lua_gettop(L) - nargs - 1;
    int rc = lua_pcall(L, nargs, nresults, 0);
    if (sb->killed) {
        lua_settop(L, base);
        lua_pushstring(L, kill_text(sb->killed));
        return sb->killed;
    }
    if (rc == 0) return 0;
    ln_sandbox_errtext(L, -1, NULL);
    return rc == LUA_ERRMEM ? LN_EMEM : LN_ECALL;
}

/* ---- frozen tables ---------------------------------------------------- */

static int frozen_newindex(lua_State *L)
{
    return luaL_error(L, "attempt to modify a read-only table");
}

static int is_frozen(lua_State *L, int idx)
{
    ln_sandbox *sb = ln_sandbox_of(L);
    if (!lua_getmetatable(L, idx)) return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->frozen_ref);
    int r = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return r;
}

static void freeze(lua_State *L, int idx)
{
    ln_sandbox *sb = ln_sandbox_of(L);
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->frozen_ref);
    lua_setmetatable(L, idx);
}

static void check_writable(lua_State *L, int idx, const char *fn)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    if (is_frozen(L, idx))
        luaL_error(L, "%s: table is read-only", fn);
}

/* ---- deterministic iteration ------------------------------------------ */

typedef struct {
    int rank;            /* 0 number, 1 string, 2 boolean, 3 other */
    double num;
    const char *s;
    size_t len;
    uintptr_t off;
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
    ln_sandbox *sb = ln_sandbox_of(L);
    memset(k, 0, sizeof *k);
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER: k->rank = 0; k->num = lua_tonumber(L, idx); break;
    case LUA_TSTRING: k->rank = 1; k->s = lua_tolstring(L, idx, &k->len); break;
    case LUA_TBOOLEAN: k->rank = 2; k->num = lua_toboolean(L, idx); break;
    default:
        k->rank = 3;
        k->off = (uintptr_t)lua_topointer(L, idx) - (uintptr_t)sb->base;
    }
}

static uint64_t log2ceil(uint64_t n)
{
    uint64_t b = 1;
    while (((uint64_t)1 << b) < n && b < 63) b++;
    return b;
}

/* Pushes a table of t's keys (t at idx) in the deterministic order; returns
** the count. Charges for the count and the sort before doing them. */
static int sorted_keys(lua_State *L, int idx)
{
    int n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) { lua_pop(L, 1); n++; }
    ln_sandbox_charge(L, LN_GAS_PAIRS(n) * log2ceil((uint64_t)n + 1));
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

/* upvalues: 1 sorted keys, 2 count, 3 position */
static int pairs_iter(lua_State *L)
{
    int n = (int)lua_tointeger(L, lua_upvalueindex(2));
    int pos = (int)lua_tointeger(L, lua_upvalueindex(3));
    while (pos < n) {
        pos++;
        lua_rawgeti(L, lua_upvalueindex(1), pos);
        lua_pushvalue(L, -1);
        lua_rawget(L, 1);
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
    int n = sorted_keys(L, 1);
    lua_pushinteger(L, n);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, pairs_iter, 3);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static int sb_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    int n = sorted_keys(L, 1);
    int keys = lua_gettop(L);
    int pos = 0;
    if (!lua_isnil(L, 2)) {
        /* Binary search for the given key. */
        skey want, have;
        describe(L, 2, &want);
        int lo = 1, hi = n;
        while (lo <= hi) {
            int mid = (lo + hi) / 2;
            lua_rawgeti(L, keys, mid);
            describe(L, -1, &have);
            lua_pop(L, 1);
            int c = skey_cmp(&want, &have);
            if (c == 0) { pos = mid; break; }
            if (c < 0) hi = mid - 1; else lo = mid + 1;
        }
        if (pos == 0) return luaL_error(L, "invalid key to 'next'");
    }
    for (pos++; pos <= n; pos++) {
        lua_rawgeti(L, keys, pos);
        lua_pushvalue(L, -1);
        lua_rawget(L, 1);
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
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER: case LUA_TSTRING:
        lua_pushvalue(L, idx);
        lua_tolstring(L, -1, NULL);
        return;
    case LUA_TBOOLEAN:
        lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
        return;
    case LUA_TTABLE:
        if (luaL_callmeta(L, idx, "__tostring")) {
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

/* The originals, kept as upvalue 1 of each wrapper. */
static int call_orig(lua_State *L)
{
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

static int w_rep(lua_State *L)
{
    size_t l, sl = 0;
    luaL_checklstring(L, 1, &l);
    lua_Number n = luaL_checknumber(L, 2);
    if (lua_type(L, 3) == LUA_TSTRING) lua_tolstring(L, 3, &sl);
    if (n > 0) {
        double bytes = (double)(l + sl) * n;
        ln_sandbox_charge(L, bytes > 1e15 ? UINT64_MAX / 2
                                          : LN_GAS_COPY_BYTES((uint64_t)bytes));
    }
    return call_orig(L);
}

static int w_match(lua_State *L)     /* find, match, gmatch, gsub */
{
    size_t sl, pl;
    luaL_checklstring(L, 1, &sl);
    luaL_checklstring(L, 2, &pl);
    ln_sandbox_charge(L, LN_GAS_MATCH(sl, pl));
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
        while (f < end && strchr("-+ #0123456789.", *f)) f++;
        if (f >= end) break;
        arg++;
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
    lua_Number i = luaL_optnumber(L, 3, 1);
    lua_Number j = luaL_optnumber(L, 4, (lua_Number)lua_objlen(L, 1));
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
        ln_sandbox_charge(L, LN_GAS_COPY_BYTES(bytes));
    }
    return call_orig(L);
}

static int w_sort(lua_State *L)
{
    check_writable(L, 1, "table.sort");
    uint64_t n = lua_objlen(L, 1);
    ln_sandbox_charge(L, LN_GAS_SORT(n) * log2ceil(n + 1));
    return call_orig(L);
}

static int w_insert(lua_State *L)
{
    check_writable(L, 1, "table.insert");
    ln_sandbox_charge(L, LN_GAS_COPY_BYTES(lua_objlen(L, 1) * 8));
    return call_orig(L);
}

static int w_remove(lua_State *L)
{
    check_writable(L, 1, "table.remove");
    ln_sandbox_charge(L, LN_GAS_COPY_BYTES(lua_objlen(L, 1) * 8));
    return call_orig(L);
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

static const char *const base_names[] = {
    "assert", "error", "ipairs", "pcall", "rawequal", "rawget", "select",
    "setmetatable", "getmetatable", "tonumber", "type", "unpack", "xpcall",
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

static int setup(lua_State *L)
{
    ln_sandbox *sb = ln_sandbox_of(L);
    open_lib(L, luaopen_base, "");
    open_lib(L, luaopen_string, LUA_STRLIBNAME);
    open_lib(L, luaopen_table, LUA_TABLIBNAME);
    open_lib(L, luaopen_math, LUA_MATHLIBNAME);
    open_lib(L, luaopen_bit, LUA_BITLIBNAME);

    lua_newtable(L);                                  /* the frozen metatable */
    lua_pushcfunction(L, frozen_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    sb->frozen_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    /* The real string table is what string methods reach through the string
    ** metatable, so it is edited in place, not copied. */
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    wrap(L, "rep", w_rep);
    wrap(L, "find", w_match);
    wrap(L, "match", w_match);
    wrap(L, "gmatch", w_match);
    wrap(L, "gsub", w_match);
    wrap(L, "format", w_format);
    freeze(L, -1);
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
    lua_pushcfunction(L, sb_pairs);
    lua_setfield(L, base, "pairs");
    lua_pushcfunction(L, sb_next);
    lua_setfield(L, base, "next");
    lua_pushcfunction(L, sb_rawset);
    lua_setfield(L, base, "rawset");
    lua_pushcfunction(L, sb_tostring);
    lua_setfield(L, base, "tostring");

    copy_fields(L, "math", math_names);
    freeze(L, -1);
    lua_setfield(L, base, "math");
    copy_fields(L, "bit", bit_names);
    freeze(L, -1);
    lua_setfield(L, base, "bit");
    copy_fields(L, "table", table_names);
    wrap(L, "concat", w_concat);
    wrap(L, "insert", w_insert);
    wrap(L, "remove", w_remove);
    wrap(L, "sort", w_sort);
    freeze(L, -1);
    lua_setfield(L, base, "table");

    lua_pushvalue(L, base);
    sb->base_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    lua_newtable(L);                                  /* env metatable */
    lua_pushvalue(L, base);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    sb->env_mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    /* The drain loop: one FORL per step, its index read by the hook. */
    if (luaL_loadstring(L, "for i = 1, 1e9 do end") != 0) return lua_error(L);
    sb->drain_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, 0);
    return 0;
}

int ln_sandbox_new(void *ud, ln_sandbox **out)
{
    ln_sandbox *sb = calloc(1, sizeof *sb);
    if (!sb) return LN_ENOMEM;
    sb->ud = ud;
    sb->size = LN_SANDBOX_ARENA;
    sb->base = mmap(NULL, sb->size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (sb->base == MAP_FAILED) {
        free(sb);
        return LN_ENOMEM;
    }
    sb->L = lua_newstate(sb_alloc, sb);
    if (!sb->L) {
        munmap(sb->base, sb->size);
        free(sb);
        return LN_ENOMEM;
    }
    lua_State *L = sb->L;
    luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
    lua_pushcfunction(L, setup);
    if (lua_pcall(L, 0, 0, 0) != 0) {
        ln_sandbox_free(sb);
        return LN_ENOMEM;
    }
    /* Calibrate the drain: what a fresh count drains to. */
    lua_sethook(L, sb_hook, LUA_MASKCOUNT, LN_GAS_PERIOD);
    sb->drain_fresh = drain(sb);
    lua_sethook(L, NULL, 0, 0);
    *out = sb;
    return 0;
}

void ln_sandbox_free(ln_sandbox *sb)
{
    if (!sb) return;
    /* Everything the state owns lives in the arena: unmapping it frees all. */
    munmap(sb->base, sb->size);
    free(sb);
}

void ln_sandbox_register(ln_sandbox *sb, const char *name, const luaL_Reg *fns, void *ud)
{
    lua_State *L = sb->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->base_ref);
    lua_newtable(L);
    for (; fns->name; fns++) {
        lua_pushlightuserdata(L, ud);
        lua_pushcclosure(L, fns->func, 1);
        lua_setfield(L, -2, fns->name);
    }
    freeze(L, -1);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

void ln_sandbox_register_fn(ln_sandbox *sb, const char *name, lua_CFunction fn, void *ud)
{
    lua_State *L = sb->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->base_ref);
    lua_pushlightuserdata(L, ud);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

void ln_sandbox_setglobal(ln_sandbox *sb, const char *name)
{
    lua_State *L = sb->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->base_ref);
    lua_insert(L, -2);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

void ln_sandbox_freeze_table(lua_State *L, int idx)
{
    freeze(L, idx);
}

int ln_sandbox_pause(ln_sandbox *sb)
{
    int was = sb->metering;
    sb->metering = 0;
    return was;
}

void ln_sandbox_resume(ln_sandbox *sb, int paused)
{
    sb->metering = paused;
}

void ln_sandbox_freeze(ln_sandbox *sb)
{
    lua_State *L = sb->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->base_ref);
    freeze(L, -1);
    lua_pop(L, 1);
}

int ln_sandbox_load(ln_sandbox *sb, const char *src, size_t len, const char *name)
{
    /* Mode "t": a binary chunk is refused by the loader itself. */
    if (luaL_loadbufferx(sb->L, src, len, name, "t") != 0) {
        ln_sandbox_errtext(sb->L, -1, NULL);
        return LN_ECODE;
    }
    return 0;
}

void ln_sandbox_newenv(ln_sandbox *sb)
{
    lua_State *L = sb->L;
    lua_createtable(L, 0, 4);
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->env_mt_ref);
    lua_setmetatable(L, -2);
}

/* ---- fingerprint ------------------------------------------------------ */

/* Gas of a fixed suite: any build whose bytecode or metering differs gives
** a different list, hence a different hash. */
static const char *const calibration[] = {
    "local s = 0 for i = 1, 1000 do s = s + i end return s",
    "local t = {} for i = 1, 200 do t[i] = i * 2 end return #t",
    "local t = {} for i = 1, 50 do t['k' .. i] = i end local n = 0 "
        "for k, v in pairs(t) do n = n + v end return n",
    "local function f(n) if n < 2 then return n end return f(n-1) + f(n-2) end return f(15)",
    "return string.rep('ab', 100) .. string.format('%d', 42)",
    "local t = {} for i = 1, 100 do t[i] = 100 - i end table.sort(t) return t[1]",
    NULL
};

int ln_sandbox_fingerprint(char hex[65])
{
    ln_sandbox *sb;
    int rc = ln_sandbox_new(NULL, &sb);
    if (rc < 0) return rc;
    ln_sandbox_freeze(sb);
    lua_State *L = sb->L;
    uint8_t gas_list[8 * 16];
    size_t n = 0;
    for (const char *const *c = calibration; *c; c++, n++) {
        if (ln_sandbox_load(sb, *c, strlen(*c), "=calibration") < 0) {
            ln_sandbox_free(sb);
            return LN_ECODE;
        }
        ln_sandbox_newenv(sb);
        lua_setfenv(L, -2);
        ln_sandbox_meter_begin(sb, 100000000, LN_SANDBOX_MEM_CAP);
        rc = ln_sandbox_pcall(sb, 0, 0);
        uint64_t gas = ln_sandbox_meter_end(sb);
        if (rc < 0) {
            ln_sandbox_free(sb);
            return rc;
        }
        for (int b = 0; b < 8; b++) gas_list[n * 8 + (size_t)b] = (uint8_t)(gas >> (8 * b));
    }
    uint8_t h[LN_HASH_LEN];
    ln_hash(gas_list, n * 8, h);
    ln_hex(h, LN_HASH_LEN, hex);
    ln_sandbox_free(sb);
    return 0;
}
