/*
** sandbox.c -- deterministic, metered LuaJIT states.
**
** Three mechanisms make a result depend only on its inputs:
** - the arena: every allocation of a sandbox comes from one private mapping
**   through size-classed free lists, so the same operations allocate the
**   same offsets, the GC runs at the same points and memory caps hit at the
**   same instruction on every node. The collector never runs by itself: it
**   would pace itself by how much each step frees, and how much a step
**   frees depends on LuaJIT's string hash, which is seeded at random per
**   state. Full collections run at fixed points instead (collect_if_due),
**   and after each the free lists are sorted by address, so that where new
**   objects land depends on which blocks are free, not on the order the
**   sweep freed them in;
** - the meter: the count hook fires every LN_GAS_PERIOD instructions; at the
**   end the rest of the period is measured exactly by draining it with a
**   loop of one instruction per step (meter_end);
** - the whitelist: code sees frozen copies of what it may use, and the
**   functions that could leak order or addresses (pairs, next, tostring,
**   string.format) or run unmetered (the pattern matcher, xpcall handlers)
**   are replaced.
*/
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>

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
    int slot;                  /* arena slot, -1 when mapped elsewhere */
    size_t size, top, in_use;
    size_t live;               /* in_use after the last full collection */
    freeblk *small[NSMALL + 1];
    freeblk *large[NLARGE];
    /* meter */
    int armed;                 /* between meter_begin and meter_end */
    int metering;              /* armed and not paused: charges apply */
    int draining, killed, cdepth;
    uint64_t gas_limit, firings, explicit_gas, alloc_bytes;
    size_t mem_base, mem_cap;
    int drain_pos, drain_fresh;
    int drain_ref, env_mt_ref, base_ref;
    int gas_text_ref, mem_text_ref;  /* kill texts, made before any kill */
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

/* Merge sort of a free list by address. */
static freeblk *merge(freeblk *a, freeblk *b)
{
    freeblk head, *t = &head;
    while (a && b) {
        if ((uintptr_t)a < (uintptr_t)b) { t->next = a; a = a->next; }
        else { t->next = b; b = b->next; }
        t = t->next;
    }
    t->next = a ? a : b;
    return head.next;
}

static freeblk *sort_list(freeblk *l)
{
    freeblk *parts[64] = { 0 };
    while (l) {
        freeblk *next = l->next, *carry = l;
        l->next = NULL;
        int i = 0;
        for (; i < 63 && parts[i]; i++) {
            carry = merge(parts[i], carry);
            parts[i] = NULL;
        }
        parts[i] = merge(parts[i], carry);
        l = next;
    }
    freeblk *r = NULL;
    for (int i = 0; i < 64; i++) r = merge(parts[i], r);
    return r;
}

/* Collects all garbage, keeps the collector stopped, and puts every free
** list in address order. Allocations it makes are not charged. */
static void collect(ln_sandbox *sb)
{
    int metering = sb->metering;
    sb->metering = 0;
    lua_gc(sb->L, LUA_GCCOLLECT, 0);
    lua_gc(sb->L, LUA_GCSTOP, 0);     /* a full collection restarts it */
    for (int i = 0; i <= NSMALL; i++) sb->small[i] = sort_list(sb->small[i]);
    for (int i = 0; i < NLARGE; i++) sb->large[i] = sort_list(sb->large[i]);
    sb->live = sb->in_use;
    sb->metering = metering;
}

/* A full collection once what was allocated since the last one reaches
** half of what survived it (at least GC_MIN): the work of
** collecting stays proportional to what is allocated, which is charged. */
#define GC_MIN  ((size_t)1 << 20)
static void collect_if_due(ln_sandbox *sb)
{
    size_t debt = sb->in_use > sb->live ? sb->in_use - sb->live : 0;
    size_t due = sb->live / 2 > GC_MIN ? sb->live / 2 : GC_MIN;
    if (debt >= due) collect(sb);
}

static uint64_t gas_so_far(const ln_sandbox *sb)
{
    return sb->firings * LN_GAS_PERIOD + sb->explicit_gas +
           (sb->alloc_bytes >> LN_GAS_ALLOC_SHIFT);
}


static void sb_hook(lua_State *L, lua_Debug *ar);

/* Marks the call killed. From the next instruction on, every instruction
** raises again, so a pcall in the contract cannot hold the kill. */
static void mark_killed(ln_sandbox *sb, int why)
{
    sb->killed = why;
    lua_sethook(sb->L, sb_hook, LUA_MASKCOUNT, 1);
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
            mark_killed(sb, LN_EMEM);
            return NULL;
        }
        sb->alloc_bytes += grow;
        if (gas_so_far(sb) > sb->gas_limit) {
            mark_killed(sb, LN_EGAS);
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

/* Pushes the text of the kill. It was interned at setup: once a call is
** killed, every allocation fails, so pushing a new string would raise a
** memory error (inside the hook) or panic (outside any pcall). */
static void push_kill_text(lua_State *L, ln_sandbox *sb)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX,
                sb->killed == LN_EMEM ? sb->mem_text_ref : sb->gas_text_ref);
}

/* The drain: straight-line code of one instruction per line, "local a"
** then LN_GAS_PERIOD + 1 lines of "a = 1". Where the count runs out, the
** current line tells how many instructions ran (less the line of the first
** one, found at setup); the hook then switches itself off and the rest of
** the drain runs at full speed. No debug walk over locals, no unwinding. */
static int drain_line0 = -1;    /* line of the drain's first instruction */

static void push_drain_src(lua_State *L)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "local a\n");
    for (int i = 0; i <= LN_GAS_PERIOD; i++) luaL_addstring(&b, "a = 1\n");
    luaL_pushresult(&b);
}

static void sb_hook(lua_State *L, lua_Debug *ar)
{
    ln_sandbox *sb = ln_sandbox_of(L);
    if (sb->draining) {
        if (lua_getinfo(L, "l", ar) && ar->currentline >= 0)
            sb->drain_pos = ar->currentline - (drain_line0 < 0 ? 0 : drain_line0);
        lua_sethook(L, NULL, 0, 0);     /* the rest of the drain runs unhooked */
        return;
    }
    if (!sb->armed) return;
    if (!sb->killed) {
        /* Counted while paused too: instructions always count. */
        sb->firings++;
        if (sb->metering && gas_so_far(sb) > sb->gas_limit) sb->killed = LN_EGAS;
        else if (sb->metering) collect_if_due(sb);
    }
    if (sb->killed) {
        lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1);
        push_kill_text(L, sb);
        lua_error(L);
    }
}

/* Runs the drain loop on the hook count as it stands; returns how many
** instructions it ran before the count ran out. */
static int drain(ln_sandbox *sb)
{
    lua_State *L = sb->L;
    sb->draining = 1;
    sb->drain_pos = -2;                 /* not yet: the hook fills it in */
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->drain_ref);
    if (lua_pcall(L, 0, 0, 0) != 0) {
        lua_pop(L, 1);
        sb->drain_pos = -1;
    }
    sb->draining = 0;
    return sb->drain_pos < 0 ? -1 : sb->drain_pos;
}

/* Checks that a count of r drains to r - 1 for a few r, so that what
** meter_end computes is the exact instruction count. */
static int drain_selfcheck(ln_sandbox *sb)
{
    static const int counts[] = { 1, 2, 3, 4, 5, 6, 7, LN_GAS_PERIOD - 1, LN_GAS_PERIOD };
    if (drain_line0 < 0) {
        /* With a count of 1 the hook fires on the first instruction. */
        lua_sethook(sb->L, sb_hook, LUA_MASKCOUNT, 1);
        int first = drain(sb);
        lua_sethook(sb->L, NULL, 0, 0);
        if (first < 0) return LN_ECODE;
        drain_line0 = first;
    }
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        lua_sethook(sb->L, sb_hook, LUA_MASKCOUNT, counts[k]);
        int pos = drain(sb);
        lua_sethook(sb->L, NULL, 0, 0);
        if (pos != counts[k] - 1) return LN_ECODE;
    }
    return 0;
}

void ln_sandbox_meter_begin(ln_sandbox *sb, uint64_t gas_limit, size_t mem_cap)
{
    collect_if_due(sb);
    sb->gas_limit = gas_limit;
    sb->firings = sb->explicit_gas = sb->alloc_bytes = 0;
    sb->mem_base = sb->in_use;
    sb->mem_cap = mem_cap;
    sb->killed = 0;
    sb->cdepth = 0;
    sb->armed = sb->metering = 1;
    lua_sethook(sb->L, sb_hook, LUA_MASKCOUNT, LN_GAS_PERIOD);
}

uint64_t ln_sandbox_meter_end(ln_sandbox *sb)
{
    uint64_t gas;
    sb->metering = 0;
    sb->armed = 0;
    if (!sb->killed) {
        /* Instructions since the last hook = what a fresh count drains
        ** minus what this partial count drains. */
        int pos = drain(sb);
        gas = gas_so_far(sb) + (uint64_t)(sb->drain_fresh - pos);
        if (pos < 0 || gas > sb->gas_limit) sb->killed = LN_EGAS;
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
        push_kill_text(L, sb);
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
        push_kill_text(L, sb);
        return sb->killed;
    }
    if (rc == 0) return 0;
    ln_sandbox_errtext(L, -1, NULL);
    return rc == LUA_ERRMEM ? LN_EMEM : LN_ECALL;
}

/* lua_call for C functions that call back into sandboxed code: at most
** LN_SANDBOX_CDEPTH deep, so that no script can exhaust the C stack. The
** call is protected only to keep the depth count right; its error goes on. */
static void nested_call(lua_State *L, int nargs, int nresults)
{
    ln_sandbox *sb = ln_sandbox_of(L);
    if (sb->cdepth >= LN_SANDBOX_CDEPTH) luaL_error(L, "C stack overflow");
    sb->cdepth++;
    int rc = lua_pcall(L, nargs, nresults, 0);
    sb->cdepth--;
    if (rc != 0) lua_error(L);
}

/* ---- frozen tables ---------------------------------------------------- */

static int frozen_newindex(lua_State *L)
{
    return luaL_error(L, "attempt to modify a read-only table");
}

/* If the table at idx is frozen, pushes its entries table and returns 1. */
static int frozen_entries(lua_State *L, int idx)
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
    if (!frozen_entries(L, idx)) return 0;
    lua_pop(L, 1);
    return 1;
}

/* Moves the entries of the table at idx into a hidden table and gives it a
** metatable that reads through to them and refuses every write: with the
** table empty, assigning to an existing key also reaches __newindex. */
static void freeze(lua_State *L, int idx)
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
    if (!frozen_entries(L, idx)) lua_pushvalue(L, idx);
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
            nested_call(L, 1, 1);
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
    ln_sandbox *sb = ln_sandbox_of(L);
    luaL_checkany(L, 2);
    int n = lua_gettop(L);
    if (sb->cdepth >= LN_SANDBOX_CDEPTH) return luaL_error(L, "C stack overflow");
    lua_pushboolean(L, 1);                            /* n + 1 */
    lua_pushvalue(L, 1);
    for (int i = 3; i <= n; i++) lua_pushvalue(L, i);
    sb->cdepth++;
    int rc = lua_pcall(L, n - 2, LUA_MULTRET, 0);
    sb->cdepth--;
    if (rc == 0) return lua_gettop(L) - n;
    if (sb->killed) return lua_error(L);
    lua_pushboolean(L, 0);
    lua_replace(L, n + 1);
    lua_pushvalue(L, 2);
    lua_insert(L, -2);                                /* handler, error */
    sb->cdepth++;
    rc = lua_pcall(L, 1, 1, 0);
    sb->cdepth--;
    if (rc != 0) {
        if (sb->killed) return lua_error(L);
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
    nested_call(L, n, LUA_MULTRET);
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
    lua_Number i = luaL_optnumber(L, 2, 1), j = luaL_optnumber(L, 3, -1);
    if (i < 0) i += (lua_Number)l + 1;
    if (i < 1) i = 1;
    if (j < 0) j += (lua_Number)l + 1;
    if (j > (lua_Number)l) j = (lua_Number)l;
    ln_sandbox_charge(L, LN_GAS_COPY_BYTES(j >= i ? (uint64_t)(j - i + 1) : 0));
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
    return call_orig_nested(L);                       /* the comparator, __lt */
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

/* ---- the metered pattern matcher -------------------------------------- */

/* Lua 5.1's matcher (lstrlib.c, MIT licence), with ASCII classes that no
** locale changes, a recursion bound, and a step count charged as it goes:
** backtracking (("a*"):rep(20) .. "b") costs what it does, not what the
** lengths suggest. */

#define MAXCAPTURES   32
#define MATCH_DEPTH   200
#define CAP_UNFINISHED (-1)
#define CAP_POSITION   (-2)
#define L_ESC          '%'
#define SPECIALS       "^$*+?.([%-"
#define STEP_CHUNK     1024

typedef struct {
    const char *src_init, *src_end;
    lua_State *L;
    int level, depth;
    uint64_t steps;                  /* not yet charged */
    struct { const char *init; ptrdiff_t len; } capture[MAXCAPTURES];
} mstate;

#define uchar(c) ((unsigned char)(c))

static void steps_charge(mstate *ms, int all)
{
    uint64_t whole = ms->steps / LN_GAS_MATCH_STEPS;
    if (all && ms->steps % LN_GAS_MATCH_STEPS) whole++;
    if (!whole) return;
    ms->steps = all ? 0 : ms->steps % LN_GAS_MATCH_STEPS;
    ln_sandbox_charge(ms->L, whole);
}

static inline void step(mstate *ms, uint64_t n)
{
    ms->steps += n;
    if (ms->steps >= STEP_CHUNK) steps_charge(ms, 0);
}

static int c_alpha(int c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static int c_digit(int c) { return c >= '0' && c <= '9'; }

static int match_class(int c, int cl)
{
    int res;
    switch (cl | 0x20) {
    case 'a': res = c_alpha(c); break;
    case 'c': res = c < 32 || c == 127; break;
    case 'd': res = c_digit(c); break;
    case 'g': res = c > 32 && c < 127; break;
    case 'l': res = c >= 'a' && c <= 'z'; break;
    case 'p': res = c > 32 && c < 127 && !c_alpha(c) && !c_digit(c); break;
    case 's': res = c == ' ' || (c >= '\t' && c <= '\r'); break;
    case 'u': res = c >= 'A' && c <= 'Z'; break;
    case 'w': res = c_alpha(c) || c_digit(c); break;
    case 'x': res = c_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); break;
    case 'z': res = c == 0; break;
    default: return cl == c;
    }
    if (!c_alpha(cl)) return cl == c;
    return (cl >= 'a') ? res : !res;
}

static int check_capture(mstate *ms, int l)
{
    l -= '1';
    if (l < 0 || l >= ms->level || ms->capture[l].len == CAP_UNFINISHED)
        return luaL_error(ms->L, "invalid capture index");
    return l;
}

static int capture_to_close(mstate *ms)
{
    int level = ms->level;
    for (level--; level >= 0; level--)
        if (ms->capture[level].len == CAP_UNFINISHED) return level;
    return luaL_error(ms->L, "invalid pattern capture");
}

static const char *classend(mstate *ms, const char *p)
{
    switch (*p++) {
    case L_ESC:
        if (*p == '\0') luaL_error(ms->L, "malformed pattern (ends with '%%')");
        return p + 1;
    case '[':
        if (*p == '^') p++;
        do {
            if (*p == '\0') luaL_error(ms->L, "malformed pattern (missing ']')");
            if (*(p++) == L_ESC && *p != '\0') p++;
        } while (*p != ']');
        return p + 1;
    default:
        return p;
    }
}

static int matchbracketclass(int c, const char *p, const char *ec)
{
    int sig = 1;
    if (*(p + 1) == '^') {
        sig = 0;
        p++;
    }
    while (++p < ec) {
        if (*p == L_ESC) {
            p++;
            if (match_class(c, uchar(*p))) return sig;
        } else if (*(p + 1) == '-' && p + 2 < ec) {
            p += 2;
            if (uchar(*(p - 2)) <= c && c <= uchar(*p)) return sig;
        } else if (uchar(*p) == c) {
            return sig;
        }
    }
    return !sig;
}

static int singlematch(int c, const char *p, const char *ep)
{
    switch (*p) {
    case '.': return 1;
    case L_ESC: return match_class(c, uchar(*(p + 1)));
    case '[': return matchbracketclass(c, p, ep - 1);
    default: return uchar(*p) == c;
    }
}

static const char *match(mstate *ms, const char *s, const char *p);

static const char *matchbalance(mstate *ms, const char *s, const char *p)
{
    if (*p == 0 || *(p + 1) == 0)
        luaL_error(ms->L, "unbalanced pattern");
    if (s >= ms->src_end || *s != *p) return NULL;
    int b = *p, e = *(p + 1), cont = 1;
    while (++s < ms->src_end) {
        step(ms, 1);
        if (*s == e) {
            if (--cont == 0) return s + 1;
        } else if (*s == b) {
            cont++;
        }
    }
    return NULL;
}

static const char *max_expand(mstate *ms, const char *s, const char *p, const char *ep)
{
    ptrdiff_t i = 0;
    while (s + i < ms->src_end && singlematch(uchar(*(s + i)), p, ep)) {
        step(ms, 1);
        i++;
    }
    while (i >= 0) {
        const char *res = match(ms, s + i, ep + 1);
        if (res) return res;
        i--;
    }
    return NULL;
}

static const char *min_expand(mstate *ms, const char *s, const char *p, const char *ep)
{
    for (;;) {
        const char *res = match(ms, s, ep + 1);
        if (res) return res;
        if (s < ms->src_end && singlematch(uchar(*s), p, ep)) s++;
        else return NULL;
    }
}

static const char *start_capture(mstate *ms, const char *s, const char *p, int what)
{
    int level = ms->level;
    if (level >= MAXCAPTURES) luaL_error(ms->L, "too many captures");
    ms->capture[level].init = s;
    ms->capture[level].len = what;
    ms->level = level + 1;
    const char *res = match(ms, s, p);
    if (res == NULL) ms->level--;
    return res;
}

static const char *end_capture(mstate *ms, const char *s, const char *p)
{
    int l = capture_to_close(ms);
    ms->capture[l].len = s - ms->capture[l].init;
    const char *res = match(ms, s, p);
    if (res == NULL) ms->capture[l].len = CAP_UNFINISHED;
    return res;
}

static const char *match_capture(mstate *ms, const char *s, int l)
{
    l = check_capture(ms, l);
    size_t len = (size_t)ms->capture[l].len;
    step(ms, len);
    if ((size_t)(ms->src_end - s) >= len && memcmp(ms->capture[l].init, s, len) == 0)
        return s + len;
    return NULL;
}

static const char *do_match(mstate *ms, const char *s, const char *p)
{
init:
    step(ms, 1);
    switch (*p) {
    case '(':
        if (*(p + 1) == ')') return start_capture(ms, s, p + 2, CAP_POSITION);
        return start_capture(ms, s, p + 1, CAP_UNFINISHED);
    case ')':
        return end_capture(ms, s, p + 1);
    case L_ESC:
        switch (*(p + 1)) {
        case 'b':
            s = matchbalance(ms, s, p + 2);
            if (s == NULL) return NULL;
            p += 4;
            goto init;
        case 'f': {
            p += 2;
            if (*p != '[') luaL_error(ms->L, "missing '[' after '%%f' in pattern");
            const char *ep = classend(ms, p);
            char previous = (s == ms->src_init) ? '\0' : *(s - 1);
            char current = (s < ms->src_end) ? *s : '\0';
            if (matchbracketclass(uchar(previous), p, ep - 1) ||
                !matchbracketclass(uchar(current), p, ep - 1)) return NULL;
            p = ep;
            goto init;
        }
        default:
            if (c_digit(uchar(*(p + 1)))) {
                s = match_capture(ms, s, uchar(*(p + 1)));
                if (s == NULL) return NULL;
                p += 2;
                goto init;
            }
            goto dflt;
        }
    case '\0':
        return s;
    case '$':
        if (*(p + 1) == '\0') return (s == ms->src_end) ? s : NULL;
        goto dflt;
    default:
    dflt: {
        const char *ep = classend(ms, p);
        int m = s < ms->src_end && singlematch(uchar(*s), p, ep);
        switch (*ep) {
        case '?': {
            const char *res;
            if (m && (res = match(ms, s + 1, ep + 1)) != NULL) return res;
            p = ep + 1;
            goto init;
        }
        case '*':
            return max_expand(ms, s, p, ep);
        case '+':
            return m ? max_expand(ms, s + 1, p, ep) : NULL;
        case '-':
            return min_expand(ms, s, p, ep);
        default:
            if (!m) return NULL;
            s++;
            p = ep;
            goto init;
        }
    }
    }
}

static const char *match(mstate *ms, const char *s, const char *p)
{
    if (++ms->depth > MATCH_DEPTH) luaL_error(ms->L, "pattern too complex");
    const char *res = do_match(ms, s, p);
    ms->depth--;
    return res;
}

static void ms_init(mstate *ms, lua_State *L, const char *s, size_t l)
{
    ms->L = L;
    ms->src_init = s;
    ms->src_end = s + l;
    ms->level = ms->depth = 0;
    ms->steps = 0;
}

/* Plain search, counting the bytes compared. */
static const char *lmemfind(mstate *ms, const char *s1, size_t l1, const char *s2, size_t l2)
{
    if (l2 == 0) return s1;
    if (l2 > l1) return NULL;
    for (size_t i = 0; i + l2 <= l1; i++) {
        size_t k = 0;
        while (k < l2 && s1[i + k] == s2[k]) k++;
        step(ms, k + 1);
        if (k == l2) return s1 + i;
    }
    return NULL;
}

static void push_onecapture(mstate *ms, int i, const char *s, const char *e)
{
    if (i >= ms->level) {
        if (i == 0) lua_pushlstring(ms->L, s, (size_t)(e - s));
        else luaL_error(ms->L, "invalid capture index");
    } else {
        ptrdiff_t l = ms->capture[i].len;
        if (l == CAP_UNFINISHED) luaL_error(ms->L, "unfinished capture");
        if (l == CAP_POSITION)
            lua_pushinteger(ms->L, ms->capture[i].init - ms->src_init + 1);
        else
            lua_pushlstring(ms->L, ms->capture[i].init, (size_t)l);
    }
}

static int push_captures(mstate *ms, const char *s, const char *e)
{
    int nlevels = (ms->level == 0 && s) ? 1 : ms->level;
    luaL_checkstack(ms->L, nlevels, "too many captures");
    for (int i = 0; i < nlevels; i++) push_onecapture(ms, i, s, e);
    return nlevels;
}

static ptrdiff_t posrelat(ptrdiff_t pos, size_t len)
{
    if (pos < 0) pos += (ptrdiff_t)len + 1;
    return pos >= 0 ? pos : 0;
}

static int find_aux(lua_State *L, int find)
{
    size_t l1, l2;
    const char *s = luaL_checklstring(L, 1, &l1);
    const char *p = luaL_checklstring(L, 2, &l2);
    ptrdiff_t init = posrelat(luaL_optinteger(L, 3, 1), l1) - 1;
    if (init < 0) init = 0;
    else if ((size_t)init > l1) init = (ptrdiff_t)l1;
    ln_sandbox_charge(L, LN_GAS_MATCH(l1, l2));
    mstate ms;
    ms_init(&ms, L, s, l1);
    if (find && (lua_toboolean(L, 4) || strpbrk(p, SPECIALS) == NULL)) {
        const char *s2 = lmemfind(&ms, s + init, l1 - (size_t)init, p, l2);
        steps_charge(&ms, 1);
        if (s2) {
            lua_pushinteger(L, s2 - s + 1);
            lua_pushinteger(L, s2 - s + (ptrdiff_t)l2);
            return 2;
        }
    } else {
        int anchor = (*p == '^') ? (p++, 1) : 0;
        const char *s1 = s + init;
        do {
            const char *res;
            ms.level = 0;
            if ((res = match(&ms, s1, p)) != NULL) {
                steps_charge(&ms, 1);
                if (find) {
                    lua_pushinteger(L, s1 - s + 1);
                    lua_pushinteger(L, res - s);
                    return push_captures(&ms, NULL, 0) + 2;
                }
                return push_captures(&ms, s1, res);
            }
        } while (s1++ < ms.src_end && !anchor);
        steps_charge(&ms, 1);
    }
    lua_pushnil(L);
    return 1;
}

static int m_find(lua_State *L) { return find_aux(L, 1); }
static int m_match(lua_State *L) { return find_aux(L, 0); }

/* upvalues: 1 subject, 2 pattern, 3 position (0-based) */
static int gmatch_aux(lua_State *L)
{
    size_t ls;
    const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
    const char *p = lua_tostring(L, lua_upvalueindex(2));
    mstate ms;
    ms_init(&ms, L, s, ls);
    for (const char *src = s + lua_tointeger(L, lua_upvalueindex(3)); src <= ms.src_end; src++) {
        const char *e;
        ms.level = 0;
        if ((e = match(&ms, src, p)) != NULL) {
            lua_Integer newstart = e - s;
            if (e == src) newstart++;                 /* empty match: go on */
            lua_pushinteger(L, newstart);
            lua_replace(L, lua_upvalueindex(3));
            steps_charge(&ms, 1);
            return push_captures(&ms, src, e);
        }
    }
    lua_pushinteger(L, (lua_Integer)ls + 1);
    lua_replace(L, lua_upvalueindex(3));
    steps_charge(&ms, 1);
    return 0;
}

static int m_gmatch(lua_State *L)
{
    size_t ls, lp;
    luaL_checklstring(L, 1, &ls);
    luaL_checklstring(L, 2, &lp);
    ln_sandbox_charge(L, LN_GAS_MATCH(ls, lp));
    lua_settop(L, 2);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, gmatch_aux, 3);
    return 1;
}

static void add_s(mstate *ms, luaL_Buffer *b, const char *s, const char *e)
{
    size_t l;
    const char *news = lua_tolstring(ms->L, 3, &l);
    for (size_t i = 0; i < l; i++) {
        step(ms, 1);
        if (news[i] != L_ESC) {
            luaL_addchar(b, news[i]);
            continue;
        }
        i++;
        if (!c_digit(uchar(news[i]))) {
            luaL_addchar(b, news[i]);
        } else if (news[i] == '0') {
            step(ms, (uint64_t)(e - s));
            luaL_addlstring(b, s, (size_t)(e - s));
        } else {
            push_onecapture(ms, news[i] - '1', s, e);
            step(ms, lua_objlen(ms->L, -1));
            luaL_addvalue(b);
        }
    }
}

static int gettable(lua_State *L)
{
    lua_gettable(L, 1);
    return 1;
}

static void add_value(mstate *ms, luaL_Buffer *b, const char *s, const char *e)
{
    lua_State *L = ms->L;
    switch (lua_type(L, 3)) {
    case LUA_TNUMBER:
    case LUA_TSTRING:
        add_s(ms, b, s, e);
        return;
    case LUA_TFUNCTION: {
        lua_pushvalue(L, 3);
        int n = push_captures(ms, s, e);
        steps_charge(ms, 1);
        nested_call(L, n, 1);
        break;
    }
    case LUA_TTABLE:                                  /* __index may call back */
        lua_pushcfunction(L, gettable);
        lua_pushvalue(L, 3);
        push_onecapture(ms, 0, s, e);
        steps_charge(ms, 1);
        nested_call(L, 2, 1);
        break;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        lua_pushlstring(L, s, (size_t)(e - s));
    } else if (!lua_isstring(L, -1)) {
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    }
    step(ms, lua_objlen(L, -1));
    luaL_addvalue(b);
}

static int m_gsub(lua_State *L)
{
    size_t srcl, lp;
    const char *src = luaL_checklstring(L, 1, &srcl);
    const char *p = luaL_checklstring(L, 2, &lp);
    int tr = lua_type(L, 3);
    int max_s = luaL_optint(L, 4, (int)(srcl + 1));
    int anchor = (*p == '^') ? (p++, 1) : 0;
    int n = 0;
    luaL_argcheck(L, tr == LUA_TNUMBER || tr == LUA_TSTRING ||
                     tr == LUA_TFUNCTION || tr == LUA_TTABLE, 3,
                  "string/function/table expected");
    ln_sandbox_charge(L, LN_GAS_MATCH(srcl, lp));
    mstate ms;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    ms_init(&ms, L, src, srcl);
    while (n < max_s) {
        const char *e;
        ms.level = 0;
        e = match(&ms, src, p);
        if (e) {
            n++;
            add_value(&ms, &b, src, e);
        }
        if (e && e > src) {
            src = e;
        } else if (src < ms.src_end) {
            step(&ms, 1);
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        if (anchor) break;
    }
    step(&ms, (uint64_t)(ms.src_end - src));
    steps_charge(&ms, 1);
    luaL_addlstring(&b, src, (size_t)(ms.src_end - src));
    luaL_pushresult(&b);
    lua_pushinteger(L, n);
    return 2;
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

static int setup(lua_State *L)
{
    ln_sandbox *sb = ln_sandbox_of(L);
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
    wrap(L, "rep", w_rep);
    wrap(L, "upper", w_linear);
    wrap(L, "lower", w_linear);
    wrap(L, "reverse", w_linear);
    wrap(L, "sub", w_sub);
    wrap(L, "format", w_format);
    set_fn(L, "find", m_find);
    set_fn(L, "match", m_match);
    set_fn(L, "gmatch", m_gmatch);
    set_fn(L, "gsub", m_gsub);
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
    wrap(L, "tonumber", w_linear);
    set_fn(L, "pairs", sb_pairs);
    set_fn(L, "next", sb_next);
    set_fn(L, "rawset", sb_rawset);
    set_fn(L, "tostring", sb_tostring);
    set_fn(L, "xpcall", sb_xpcall);

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

    lua_pushliteral(L, "out of gas");
    sb->gas_text_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushliteral(L, "out of memory");
    sb->mem_text_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    push_drain_src(L);
    size_t dl;
    const char *ds = lua_tolstring(L, -1, &dl);
    if (luaL_loadbuffer(L, ds, dl, "=drain") != 0)
        return lua_error(L);
    lua_remove(L, -2);
    sb->drain_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, 0);
    return 0;
}

/* ---- where LuaJIT's hashes come from ------------------------------------
** LuaJIT hashes a string with a seed it draws from getrandom(2), through
** syscall(3), in lua_newstate; it hashes a table or function key by its
** address. Both decide which keys collide, hence when a table with deleted
** keys rehashes, hence allocations and gas. So a sandbox gets both from its
** inputs: the seed from the caller (a block's parent hash), the address from
** a fixed slot of the address space, the same on every node.
**
** syscall(3) is interposed here: while this thread creates a sandbox, a
** getrandom request is answered from the seed; every other call goes on to
** the C library unchanged. */

static __thread const uint8_t *pending_seed;

long syscall(long number, ...)
{
    va_list ap;
    long a[6];
    va_start(ap, number);
    for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
    va_end(ap);
    if (number == SYS_getrandom && pending_seed) {
        uint8_t *buf = (uint8_t *)a[0];
        size_t len = (size_t)a[1];
        for (size_t off = 0, ctr = 0; off < len; off += LN_HASH_LEN, ctr++) {
            uint8_t block[LN_HASH_LEN];
            ln_hasher h;
            ln_hash_init(&h);
            ln_hash_update(&h, pending_seed, LN_HASH_LEN);
            ln_hash_update(&h, &ctr, sizeof ctr);
            ln_hash_final(&h, block);
            memcpy(buf + off, block, len - off < LN_HASH_LEN ? len - off : LN_HASH_LEN);
        }
        return (long)len;
    }
    static long (*real)(long, ...);     /* shared by threads: atomic */
    long (*fn)(long, ...) = __atomic_load_n(&real, __ATOMIC_ACQUIRE);
    if (!fn) {
        fn = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
        __atomic_store_n(&real, fn, __ATOMIC_RELEASE);
    }
    if (!fn) {
        errno = ENOSYS;
        return -1;
    }
    return fn(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* Arena slots: LN_SANDBOX_SLOTS fixed places in the address space, taken
** lowest first, so the same sequence of sandboxes lands at the same
** addresses in every process. Nodes create and free sandboxes in the same
** order (the consensus plugin's first, then one per block). Queries run on
** worker threads, at times no other node shares: they take slots from the
** top (ln_sandbox_thread_high_slots), out of the blocks' way. The bitmap is
** atomic; a slot's cache entry belongs to whoever holds its bit. */
#define ARENA_BASE  ((uintptr_t)0x500000000000ull)   /* above ASan's shadow */
#define ARENA_SLOTS 64

static uint64_t slots_used;          /* atomic: queries take slots on worker threads */
static __thread int high_slots;      /* this thread takes slots from the top */

void ln_sandbox_thread_high_slots(void)
{
    high_slots = 1;
}

/* A slot's mapping outlives its sandbox: the next sandbox in that slot
** (a node runs one per block) finds its pages already faulted in, zeroed
** as a fresh mapping would be. Only the first ARENA_KEEP bytes stay
** resident; what a big block used beyond them goes back to the kernel. */
#define ARENA_KEEP  ((size_t)64 << 20)
static uint8_t *slot_cache[ARENA_SLOTS];   /* owned by whoever holds the slot's bit */

static uint8_t *arena_map(size_t size, int *slot)
{
    for (int k = 0; k < ARENA_SLOTS; k++) {
        int i = high_slots ? ARENA_SLOTS - 1 - k : k;
        uint64_t bit = (uint64_t)1 << i;
        if (__atomic_fetch_or(&slots_used, bit, __ATOMIC_ACQ_REL) & bit) continue;
        if (slot_cache[i] && size == LN_SANDBOX_ARENA) {
            *slot = i;
            return slot_cache[i];
        }
        void *want = (void *)(ARENA_BASE + (uintptr_t)i * LN_SANDBOX_ARENA);
        void *p = mmap(want, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
        if (p == want) {
            *slot = i;
            return p;
        }
        if (p != MAP_FAILED) munmap(p, size);   /* a kernel that took it as a hint */
        __atomic_fetch_and(&slots_used, ~bit, __ATOMIC_ACQ_REL);
    }
    /* Every slot taken or occupied: still a working sandbox, but its table
    ** key order may differ from other nodes'. */
    *slot = -1;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* used: the bytes the sandbox touched (its top). */
static void arena_unmap(uint8_t *base, size_t size, int slot, size_t used)
{
    if (slot < 0 || size != LN_SANDBOX_ARENA) {
        munmap(base, size);
    } else {
        size_t keep = used < ARENA_KEEP ? used : ARENA_KEEP;
        memset(base, 0, keep);
        if (used > keep) madvise(base + keep, used - keep, MADV_DONTNEED);
        slot_cache[slot] = base;
    }
    if (slot >= 0) __atomic_fetch_and(&slots_used, ~((uint64_t)1 << slot), __ATOMIC_ACQ_REL);
}

static const uint8_t default_seed[LN_HASH_LEN] = { 'l', 'u', 'n', 'e', 't' };

int ln_sandbox_new(void *ud, ln_sandbox **out)
{
    return ln_sandbox_new_seeded(ud, NULL, out);
}

int ln_sandbox_new_seeded(void *ud, const uint8_t seed[LN_HASH_LEN], ln_sandbox **out)
{
    ln_sandbox *sb = calloc(1, sizeof *sb);
    if (!sb) return LN_ENOMEM;
    sb->ud = ud;
    sb->size = LN_SANDBOX_ARENA;
    sb->base = arena_map(sb->size, &sb->slot);
    if (!sb->base) {
        free(sb);
        return LN_ENOMEM;
    }
    pending_seed = seed ? seed : default_seed;
    sb->L = lua_newstate(sb_alloc, sb);
    pending_seed = NULL;
    if (!sb->L) {
        arena_unmap(sb->base, sb->size, sb->slot, sb->top);
        free(sb);
        return LN_ENOMEM;
    }
    lua_State *L = sb->L;
    lua_gc(L, LUA_GCSTOP, 0);
    luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
    lua_pushcfunction(L, setup);
    if (lua_pcall(L, 0, 0, 0) != 0) {
        ln_sandbox_free(sb);
        return LN_ENOMEM;
    }
    if (drain_selfcheck(sb) < 0) {
        ln_sandbox_free(sb);
        return LN_ECODE;
    }
    collect(sb);
    /* What a fresh count drains to. */
    lua_sethook(L, sb_hook, LUA_MASKCOUNT, LN_GAS_PERIOD);
    sb->drain_fresh = drain(sb);
    lua_sethook(L, NULL, 0, 0);
    *out = sb;
    return 0;
}

void ln_sandbox_free(ln_sandbox *sb)
{
    if (!sb) return;
    /* Everything the state owns lives in the arena: releasing it frees all. */
    arena_unmap(sb->base, sb->size, sb->slot, sb->top);
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
    /* Environments read the entries directly: one lookup less per global. */
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->env_mt_ref);
    frozen_entries(L, -2);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 2);
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
    "return (string.gsub('hello world from lunet', '(%w+)', '<%1>'))",
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
