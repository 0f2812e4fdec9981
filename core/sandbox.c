/*
** sandbox.c -- deterministic, metered LuaJIT states: the lifecycle and the
** meter. Three mechanisms make a result depend only on its inputs:
** - the arena (arena.c): every allocation of a sandbox comes from one
**   private mapping at a fixed address, so the same operations allocate the
**   same offsets on every node. The collector never runs by itself: it
**   would pace itself by how much each step frees, and how much a step
**   frees depends on LuaJIT's string hash. Full collections run at fixed
**   points instead (collect_if_due), and after each the free lists are
**   sorted by address, so that where new objects land depends on which
**   blocks are free, not on the order the sweep freed them in;
** - the meter (here): the count hook fires every LN_GAS_PERIOD
**   instructions; at the end the rest of the period is measured exactly by
**   draining it with a loop of one instruction per step (meter_end);
** - the whitelist (whitelist.c, pattern.c): code sees frozen copies of what
**   it may use, and the functions that could leak order or addresses
**   (pairs, next, tostring, string.format) or run unmetered (the pattern
**   matcher, xpcall handlers) are replaced.
*/
#include <string.h>
#include <stdlib.h>

#include <lualib.h>
#include <luajit.h>

#include "sandbox.h"
#include "arena.h"
#include "chunks.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "whitelist.h"

struct ln_sandbox {
    lua_State *L;
    void *ud;
    ln__arena arena;
    size_t live;               /* in_use after the last full collection */
    /* meter */
    int armed;                 /* between meter_begin and meter_end */
    int metering;              /* armed and not paused: charges apply */
    int draining, killed, cdepth;
    int lean;                  /* no drain (ln_sandbox_new_lean): no exact count */
    uint64_t gas_limit, firings, explicit_gas, alloc_bytes;
    size_t mem_base, mem_cap;
    size_t mem_peak;           /* most bytes over mem_base this meter held */
    int drain_pos, drain_fresh;
    int drain_ref, env_mt_ref, base_ref;
    int gas_text_ref, mem_text_ref, float_text_ref, str_text_ref;  /* kill texts, made before any kill */
    char kill_where[LUA_IDSIZE + 16];    /* "chunk:line" of the kill, "" if not known */
    ln_sandbox *outer;         /* the sandbox running on this thread before this one */
    /* strings (ln_sandbox_cap_strings) */
    size_t str_max;            /* 0: no cap */
    void *tmpbuf;              /* LuaJIT's temporary buffer, where strings are built;
                               ** &tmpbuf (no block's address) when not capped */
    void *probe_hit;           /* while probing: the block that grew to str_max */
    int probing, found;        /* 1 finding the buffer, 2 confirming it; found: confirmed */
};

/* The sandbox whose code this thread runs, and whether it is compiling
** sandboxed source: math that must not depend on the build (x ^ y,
** whitelist.c) asks. */
static __thread ln_sandbox *running;
static __thread int compiling;

/* ---- memory ----------------------------------------------------------- */

/* Collects all garbage, keeps the collector stopped, and puts every free
** list in address order. Allocations it makes are not charged. */
static void collect(ln_sandbox *sb)
{
    int metering = sb->metering;
    sb->metering = 0;
    lua_gc(sb->L, LUA_GCCOLLECT, 0);
    lua_gc(sb->L, LUA_GCSTOP, 0);     /* a full collection restarts it */
    ln__arena_sort(&sb->arena);
    sb->live = sb->arena.in_use;
    sb->metering = metering;
}

/* A full collection once what was allocated since the last one reaches
** half of what survived it (at least GC_MIN): the work of
** collecting stays proportional to what is allocated, which is charged. */
#define GC_MIN  ((size_t)1 << 20)
static void collect_if_due(ln_sandbox *sb)
{
    size_t in_use = sb->arena.in_use;
    size_t debt = in_use > sb->live ? in_use - sb->live : 0;
    size_t due = sb->live / 2 > GC_MIN ? sb->live / 2 : GC_MIN;
    if (debt >= due) collect(sb);
}

static uint64_t gas_so_far(const ln_sandbox *sb)
{
    return sb->firings * LN_GAS_PERIOD + sb->explicit_gas +
           (sb->alloc_bytes >> LN_GAS_ALLOC_SHIFT);
}

static void sb_hook(lua_State *L, lua_Debug *ar);

/* Notes where the call is killed: the innermost Lua function's chunk and
** line. The stack is the same on every node at the same kill, so is the
** text. lua_getinfo "Sl" allocates nothing (short_src is the ar's). Only
** where the VM has stored its frame: in the hook, in a C function, and in
** the allocator (LuaJIT saves base and pc before anything that may
** allocate, as a memory error unwinds from there); not from pow, which the
** VM calls straight from an instruction. */
static void note_where(ln_sandbox *sb)
{
    lua_Debug ar;
    sb->kill_where[0] = 0;
    for (int level = 0; level < 32 && lua_getstack(sb->L, level, &ar); level++)
        if (lua_getinfo(sb->L, "Sl", &ar) && ar.currentline > 0 && ar.what[0] != 'C') {
            snprintf(sb->kill_where, sizeof sb->kill_where, "%s:%d", ar.short_src, ar.currentline);
            return;
        }
}

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
/* Growth of a metered call: charged as gas and checked against the memory
** cap; a refusal makes LuaJIT raise a memory error and marks the call
** killed, so the hook re-raises it. 0 to go on. */
static inline __attribute__((always_inline)) int metered_growth(ln_sandbox *sb, size_t grow)
{
    if (sb->killed) return -1;
    if (sb->arena.in_use + grow > sb->mem_base + sb->mem_cap) {
        mark_killed(sb, LN_EMEM);
        note_where(sb);
        return -1;
    }
    sb->alloc_bytes += grow;
    if (sb->arena.in_use + grow > sb->mem_base + sb->mem_peak)
        sb->mem_peak = sb->arena.in_use + grow - sb->mem_base;
    if (gas_so_far(sb) > sb->gas_limit) {
        mark_killed(sb, LN_EGAS);
        note_where(sb);
        return -1;
    }
    return 0;
}

/* The temporary buffer, where LuaJIT builds every string (.., rep, format,
** concat, ...): it may not grow past the cap; and the probe that finds it
** (ln_sandbox_cap_strings). */
static __attribute__((noinline, cold)) void *watched_alloc(ln_sandbox *sb, void *ptr, size_t osize,
                                                          size_t nsize)
{
    int tmp = ptr && ptr == sb->tmpbuf;
    if (tmp && nsize > sb->str_max && (sb->metering || sb->probing)) {
        if (sb->probing) sb->found = 1;           /* the probe's refusal */
        else if (!sb->killed) mark_killed(sb, LN_ETOOBIG);
        return NULL;
    }
    size_t old = ptr ? osize : 0;
    if (sb->metering && nsize > old && metered_growth(sb, nsize - old) < 0) return NULL;
    void *np = ln__arena_realloc(&sb->arena, ptr, osize, nsize);
    if (tmp && (np || nsize == 0)) sb->tmpbuf = np;
    else if (sb->probing == 1 && np && nsize == sb->str_max) sb->probe_hit = np;
    return np;
}

/* The lua_Alloc of every sandbox. */
static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    ln_sandbox *sb = ud;
    if (ptr == sb->tmpbuf || sb->probing) return watched_alloc(sb, ptr, osize, nsize);
    size_t old = ptr ? osize : 0;
    if (sb->metering && nsize > old && metered_growth(sb, nsize - old) < 0) return NULL;
    return ln__arena_realloc(&sb->arena, ptr, osize, nsize);
}

ln_sandbox *ln_sandbox_of(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

void *ln_sandbox_ud(lua_State *L) { return ln_sandbox_of(L)->ud; }
lua_State *ln_sandbox_L(ln_sandbox *sb) { return sb->L; }
size_t ln_sandbox_mem_used(const ln_sandbox *sb) { return sb->arena.in_use; }
size_t ln_sandbox_mem_peak(const ln_sandbox *sb) { return sb->mem_peak; }
int ln_sandbox_killed(ln_sandbox *sb) { return sb->killed; }
const char *ln_sandbox_kill_where(const ln_sandbox *sb) { return sb->killed ? sb->kill_where : ""; }
uint64_t ln_sandbox_gas_limit(const ln_sandbox *sb) { return sb->gas_limit; }

/* ---- meter ------------------------------------------------------------ */

/* Pushes the text of the kill. It was interned at setup: once a call is
** killed, every allocation fails, so pushing a new string would raise a
** memory error (inside the hook) or panic (outside any pcall). */
static void push_kill_text(lua_State *L, ln_sandbox *sb)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX,
                sb->killed == LN_EMEM ? sb->mem_text_ref :
                sb->killed == LN_EFLOAT ? sb->float_text_ref :
                sb->killed == LN_ETOOBIG ? sb->str_text_ref : sb->gas_text_ref);
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
        if (sb->metering && gas_so_far(sb) > sb->gas_limit) {
            sb->killed = LN_EGAS;
            note_where(sb);
        } else if (sb->metering) {
            collect_if_due(sb);
        }
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
    sb->mem_base = sb->arena.in_use;
    sb->mem_cap = mem_cap;
    sb->mem_peak = 0;
    sb->killed = 0;
    sb->kill_where[0] = 0;
    sb->cdepth = 0;
    sb->armed = sb->metering = 1;
    sb->outer = running;
    running = sb;
    lua_sethook(sb->L, sb_hook, LUA_MASKCOUNT, LN_GAS_PERIOD);
}

uint64_t ln_sandbox_meter_end(ln_sandbox *sb)
{
    if (sb->lean) {                     /* nothing to drain with: the count so far */
        uint64_t gas = ln_sandbox_meter_stop(sb);
        lua_sethook(sb->L, NULL, 0, 0);
        return gas;
    }
    uint64_t gas;
    sb->metering = 0;
    sb->armed = 0;
    running = sb->outer;
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

uint64_t ln_sandbox_meter_stop(ln_sandbox *sb)
{
    /* The hook stays: disarmed it does nothing, and setting it again at the
    ** next begin is cheap when LuaJIT's dispatch mode does not change. */
    sb->metering = 0;
    sb->armed = 0;
    running = sb->outer;
    return sb->killed ? sb->gas_limit : gas_so_far(sb);
}

uint64_t ln_sandbox_gas_left(lua_State *L)
{
    ln_sandbox *sb = ln_sandbox_of(L);
    if (!sb->metering) return UINT64_MAX;
    uint64_t used = gas_so_far(sb);
    return sb->killed || used >= sb->gas_limit ? 0 : sb->gas_limit - used;
}

int ln_sandbox_charge_host(ln_sandbox *sb, uint64_t gas)
{
    if (!sb->metering || sb->killed) return sb->killed;
    sb->explicit_gas += gas;
    if (gas_so_far(sb) > sb->gas_limit) sb->killed = LN_EGAS;
    return sb->killed;
}

ln_sandbox *ln__sandbox_running(void) { return running; }
int ln__sandbox_compiling(void) { return compiling; }

void ln__sandbox_kill(ln_sandbox *sb, int why)
{
    if (sb->armed && !sb->killed) mark_killed(sb, why);
}

void ln_sandbox_charge(lua_State *L, uint64_t gas)
{
    ln_sandbox *sb = ln_sandbox_of(L);
    if (!sb->metering) return;
    if (!sb->killed) {
        sb->explicit_gas += gas;
        if (gas_so_far(sb) > sb->gas_limit) {
            sb->killed = LN_EGAS;
            note_where(sb);
        }
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

/* ---- C functions that call back into sandboxed code ------------------ */

void ln__sandbox_check_depth(lua_State *L)
{
    if (ln_sandbox_of(L)->cdepth >= LN_SANDBOX_CDEPTH) luaL_error(L, "C stack overflow");
}

int ln__sandbox_pcall(lua_State *L, int nargs, int nresults)
{
    ln_sandbox *sb = ln_sandbox_of(L);
    ln__sandbox_check_depth(L);
    sb->cdepth++;
    int rc = lua_pcall(L, nargs, nresults, 0);
    sb->cdepth--;
    if (rc != 0 && sb->killed) lua_error(L);
    return rc;
}

void ln__sandbox_call(lua_State *L, int nargs, int nresults)
{
    if (ln__sandbox_pcall(L, nargs, nresults) != 0) lua_error(L);
}

/* Tables and functions as keys come in the order they were made (the
** arena numbers its blocks): where one lands depends on what earlier calls
** left in the free lists and when the collector ran, the order it was made
** in does not. Nothing else reaches here from sandboxed code. */
uint64_t ln__sandbox_order(lua_State *L, int idx)
{
    ln_sandbox *sb = ln_sandbox_of(L);
    const void *p = lua_topointer(L, idx);
    int t = lua_type(L, idx);
    if (t == LUA_TTABLE || t == LUA_TFUNCTION || t == LUA_TTHREAD)
        return ln__arena_seq(&sb->arena, p);
    return ((uint64_t)1 << 32) + (uint64_t)((uintptr_t)p - (uintptr_t)sb->arena.base);
}

/* ---- table sizes ------------------------------------------------------
** A walk over a table (lua_next, table.maxn) visits every slot of its array
** and hash parts, the empty ones too: a table whose array was emptied keeps
** it until the next rehash. The C API does not tell these sizes, so they
** are read from LuaJIT's GCtab (lj_obj.h, GC64 layout: asize, a uint32 at
** byte 48, then hmask). tables_selfcheck compares what is read with tables
** of known sizes at every sandbox creation: on a build laid out otherwise
** no sandbox can be made (LN_ECODE), rather than charge wrongly. */
#define GCTAB_ASIZE  48
#define GCTAB_HMASK  52

size_t ln_sandbox_table_slots(lua_State *L, int idx)
{
    const uint8_t *t = lua_topointer(L, idx);
    uint32_t asize, hmask;
    memcpy(&asize, t + GCTAB_ASIZE, sizeof asize);
    memcpy(&hmask, t + GCTAB_HMASK, sizeof hmask);
    return (size_t)asize + hmask + 1;
}

static int tables_selfcheck(lua_State *L)
{
    static const int sizes[][2] = { { 0, 0 }, { 5, 0 }, { 0, 1 }, { 0, 2 }, { 3, 9 }, { 100, 7 } };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int a = sizes[i][0], h = sizes[i][1], hbits = 0;
        while (h > 0 && (1 << hbits) < h) hbits++;
        if (h == 1) hbits = 1;                    /* LuaJIT's hsize2hbits */
        size_t want = (size_t)(a ? a + 1 : 0) + (size_t)(hbits ? (1 << hbits) - 1 : 0) + 1;
        lua_createtable(L, a, h);
        size_t got = ln_sandbox_table_slots(L, -1);
        lua_pop(L, 1);
        if (got != want) return LN_ECODE;
    }
    return 0;
}

/* ---- lifecycle -------------------------------------------------------- */

static int setup(lua_State *L)
{
    ln_sandbox *sb = ln_sandbox_of(L);
    ln__whitelist_open(L);
    int base = lua_gettop(L);
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
    lua_pushliteral(L, "x ^ y takes integer exponents only");
    sb->float_text_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushliteral(L, "string too long");
    sb->str_text_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    if (sb->lean) {
        lua_settop(L, 0);
        return 0;
    }
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


static const uint8_t default_seed[LN_HASH_LEN] = { 'l', 'u', 'n', 'e', 't' };

int ln_sandbox_new(void *ud, ln_sandbox **out)
{
    return ln_sandbox_new_seeded(ud, NULL, out);
}

static int make(void *ud, const uint8_t seed[LN_HASH_LEN], int lean, ln_sandbox **out)
{
    ln_sandbox *sb = calloc(1, sizeof *sb);
    if (!sb) return LN_ENOMEM;
    sb->ud = ud;
    sb->lean = lean;
    sb->tmpbuf = &sb->tmpbuf;
    if (ln__arena_open(&sb->arena, LN_SANDBOX_ARENA) < 0) {
        free(sb);
        return LN_ENOMEM;
    }
    ln__arena_seed(seed ? seed : default_seed);
    sb->L = lua_newstate(sb_alloc, sb);
    ln__arena_seed(NULL);
    if (!sb->L) {
        ln__arena_close(&sb->arena);
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
    if ((!lean && drain_selfcheck(sb) < 0) || tables_selfcheck(L) < 0) {
        ln_sandbox_free(sb);
        return LN_ECODE;
    }
    collect(sb);
    if (!lean) {
        /* What a fresh count drains to. */
        lua_sethook(L, sb_hook, LUA_MASKCOUNT, LN_GAS_PERIOD);
        sb->drain_fresh = drain(sb);
        lua_sethook(L, NULL, 0, 0);
    }
    *out = sb;
    return 0;
}

int ln_sandbox_new_seeded(void *ud, const uint8_t seed[LN_HASH_LEN], ln_sandbox **out)
{
    return make(ud, seed, 0, out);
}

int ln_sandbox_new_lean(void *ud, const uint8_t seed[LN_HASH_LEN], ln_sandbox **out)
{
    return make(ud, seed, 1, out);
}

void ln_sandbox_free(ln_sandbox *sb)
{
    if (!sb) return;
    /* Everything the state owns lives in the arena: releasing it frees all. */
    ln__arena_close(&sb->arena);
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
    ln__whitelist_freeze(L, -1);
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
    ln__whitelist_freeze(L, idx);
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
    ln__whitelist_freeze(L, -1);
    /* Environments read the entries directly: one lookup less per global. */
    lua_rawgeti(L, LUA_REGISTRYINDEX, sb->env_mt_ref);
    ln__whitelist_entries(L, -2);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 2);
}

/* ---- strings ----------------------------------------------------------
** Two instructions work in proportion to string lengths: .. (LuaJIT copies
** the operands into its temporary buffer, then finds the result among the
** existing strings by comparing bytes; no allocation when it exists) and
** <, <= on strings (bytes compared up to the first difference). Neither
** can be charged from outside the interpreter. So in a capped sandbox no
** string is longer than str_max bytes: the temporary buffer, where every
** string LuaJIT builds is built, may not grow past it (the call is killed,
** LN_ETOOBIG), the host hands in no longer string, and a chunk with a
** longer literal does not load. One instruction then touches at most
** str_max bytes (two operands of a comparison, a result of ..). */

/* If s[i..] opens a long bracket [=*[, the index after it (and its level);
** else 0. */
static size_t long_open(const char *s, size_t n, size_t i, size_t *level)
{
    if (i >= n || s[i] != '[') return 0;
    size_t j = i + 1;
    while (j < n && s[j] == '=') j++;
    if (j >= n || s[j] != '[') return 0;
    *level = j - i - 1;
    return j + 1;
}

/* The index after the ]=*] of level that closes a long bracket opened at
** from; *len gets the length of what it holds. */
static size_t long_close(const char *s, size_t n, size_t from, size_t level, size_t *len)
{
    for (size_t i = from; i < n; i++) {
        if (s[i] != ']') continue;
        size_t j = i + 1;
        while (j < n && s[j] == '=') j++;
        if (j - i - 1 == level && j < n && s[j] == ']') {
            *len = i - from;
            return j + 1;
        }
    }
    *len = n - from;
    return n;
}

static int is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* 1 when the source holds a string literal of more than max bytes between
** its delimiters (escapes make a literal shorter than its source, never
** longer), or a name that long. Follows LuaJIT's lexer: comments, long
** brackets, quotes with backslash escapes, \z and escaped line ends. */
static int long_literal(const char *s, size_t n, size_t max)
{
    size_t i = 0, level, len;
    while (i < n) {
        char c = s[i];
        if (c == '-' && i + 1 < n && s[i + 1] == '-') {
            size_t open = long_open(s, n, i + 2, &level);
            if (open) {
                i = long_close(s, n, open, level, &len);
            } else {
                while (i < n && s[i] != '\n' && s[i] != '\r') i++;
            }
        } else if (c == '[') {
            size_t open = long_open(s, n, i, &level);
            if (!open) {
                i++;
                continue;
            }
            i = long_close(s, n, open, level, &len);
            if (len > max) return 1;
        } else if (c == '"' || c == '\'') {
            size_t start = ++i;
            while (i < n && s[i] != c && s[i] != '\n' && s[i] != '\r') {
                if (s[i] != '\\' || i + 1 >= n) {
                    i++;
                } else if (s[i + 1] == 'z') {
                    for (i += 2; i < n && is_space(s[i]); i++) {}
                } else if (s[i + 1] == '\n' || s[i + 1] == '\r') {
                    i += 2;
                    if (i < n && (s[i] == '\n' || s[i] == '\r') && s[i] != s[i - 1]) i++;
                } else {
                    i += 2;
                }
            }
            if (i - start > max) return 1;
            i++;
        } else if (c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) {
            size_t start = i;                 /* a name is a string too */
            while (i < n && (s[i] == '_' || (s[i] >= '0' && s[i] <= '9') ||
                             ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') ||
                             (unsigned char)s[i] >= 0x80)) i++;
            if (i - start > max) return 1;
        } else {
            i++;
        }
    }
    return 0;
}

/* The compile-time half of the cap: LN_ECODE with the reason pushed. */
static int check_literals(ln_sandbox *sb, const char *src, size_t len)
{
    if (!sb->str_max || !long_literal(src, len, sb->str_max)) return 0;
    lua_pushfstring(sb->L, "a string literal or name is longer than %d bytes", (int)sb->str_max);
    return LN_ECODE;
}

static int concat_probe(lua_State *L)
{
    lua_concat(L, 2);
    return 1;
}

/* Pushes a string of n bytes without LuaJIT's temporary buffer. */
static int push_x(lua_State *L, size_t n)
{
    char *x = malloc(n);
    if (!x) return LN_ENOMEM;
    memset(x, 'x', n);
    lua_pushlstring(L, x, n);
    free(x);
    return 0;
}

int ln_sandbox_cap_strings(ln_sandbox *sb, size_t max)
{
    lua_State *L = sb->L;
    if (max < 8192 || (max & (max - 1)) || sb->str_max) return LN_EINVAL;
    /* Find the temporary buffer (4 KiB after setup): a string of max / 2 +
    ** 1 bytes made by .. grows it to max; one of max + 1 bytes then tries
    ** to grow that block again, and is refused. */
    sb->str_max = max;
    sb->probing = 1;
    int rc = push_x(L, max / 4);
    if (rc == 0) rc = push_x(L, max / 4 + 1);
    if (rc == 0) {
        lua_concat(L, 2);
        lua_pop(L, 1);
    }
    sb->tmpbuf = sb->probe_hit;
    sb->probing = 2;                   /* now refuse, metered or not */
    sb->found = 0;
    lua_pushcfunction(L, concat_probe);
    if (rc == 0) rc = push_x(L, max / 2);
    if (rc == 0) rc = push_x(L, max / 2 + 1);
    if (rc == 0 && lua_pcall(L, 2, 1, 0) == 0) rc = LN_ECODE;   /* it must fail */
    lua_settop(L, 0);
    sb->probing = 0;
    if (rc == 0 && (!sb->tmpbuf || !sb->found)) rc = LN_ECODE;
    if (rc < 0) {
        sb->str_max = 0;
        sb->tmpbuf = &sb->tmpbuf;
    }
    return rc;
}

size_t ln_sandbox_string_max(lua_State *L)
{
    return ln_sandbox_of(L)->str_max;
}

int ln_sandbox_load(ln_sandbox *sb, const char *src, size_t len, const char *name)
{
    if (check_literals(sb, src, len) < 0) return LN_ECODE;
    /* Mode "t": a binary chunk is refused by the loader itself. The parser
    ** folds constant expressions: x ^ y must fold as the VM computes it. */
    compiling++;
    int rc = luaL_loadbufferx(sb->L, src, len, name, "t");
    compiling--;
    if (rc != 0) {
        ln_sandbox_errtext(sb->L, -1, NULL);
        return LN_ECODE;
    }
    return 0;
}

/* ---- the shared chunk store ----------------------------------------------
** Parsing costs ~20 ns per byte of source, loading the bytecode it makes
** ~1.5: so a contract is parsed once per process, in a state of its own,
** and every sandbox loads its bytecode, also on the first use. The
** sandbox's heap then does not depend on whether the store had it. */

typedef struct {
    uint8_t *p;
    size_t n, cap;
} dumpbuf;

static int dump_write(lua_State *L, const void *p, size_t n, void *ud)
{
    (void)L;
    dumpbuf *b = ud;
    if (n > b->cap - b->n) {
        size_t cap = b->cap ? b->cap : 4096;
        while (n > cap - b->n) cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        if (!np) return 1;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    return 0;
}

typedef struct {
    lua_State *L;
    const char *name;
} load_into;

static int load_bytecode(const uint8_t *bc, size_t n, void *ud)
{
    load_into *t = ud;
    return luaL_loadbufferx(t->L, (const char *)bc, n, t->name, "b") == 0 ? 0 : LN_ECODE;
}

int ln_sandbox_load_cached(ln_sandbox *sb, const char *src, size_t len, const char *name)
{
    if (check_literals(sb, src, len) < 0) return LN_ECODE;
    uint8_t key[LN_HASH_LEN];
    ln_hasher h;
    ln_hash_init(&h);
    ln_hash_update(&h, name, strlen(name) + 1);
    ln_hash_update(&h, src, len);
    ln_hash_final(&h, key);
    load_into t = { sb->L, name };
    int rc = ln__chunks_use(key, load_bytecode, &t);
    if (rc <= 0) return rc;
    lua_State *P = luaL_newstate();                 /* the parse's own state */
    if (!P) return LN_ENOMEM;
    compiling++;
    rc = luaL_loadbufferx(P, src, len, name, "t");
    compiling--;
    if (rc != 0) {
        size_t ml;
        const char *msg = lua_tolstring(P, -1, &ml);
        lua_pushlstring(sb->L, msg ? msg : "does not compile", msg ? ml : 16);
        lua_close(P);
        return LN_ECODE;
    }
    dumpbuf b = { NULL, 0, 0 };
    rc = lua_dump(P, dump_write, &b) == 0 && b.n ? 0 : LN_ENOMEM;
    lua_close(P);
    if (rc == 0) rc = ln__chunks_put(key, b.p, b.n);
    if (rc == 0) rc = load_bytecode(b.p, b.n, &t);
    free(b.p);
    return rc;
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
    "local t = {} for i = 1, 100 do table.insert(t, 1, i) end "
        "local u = {} for i = 1, 64 do u[i] = i end for i = 1, 64 do u[i] = nil end "
        "return select('#', unpack(t)) + math.max(unpack(t)) + #string.rep('ab', 10, 7) + 3 ^ 5 "
        "+ table.maxn(u)",
    NULL
};

/* A value the contract host would encode: the work it counts (codec.h,
** table sizes read from LuaJIT) goes into the fingerprint too. */
static const char calibration_value[] =
    "local e = {} for i = 1, 64 do e[i] = i end for i = 1, 64 do e[i] = nil end "
    "local t = { 1, 2, 3 } return { a = { t, t }, b = 'text', c = { d = true, e = e } }";

static int calibration_work(ln_sandbox *sb, uint64_t *work)
{
    lua_State *L = sb->L;
    if (ln_sandbox_load(sb, calibration_value, strlen(calibration_value), "=calibration") < 0)
        return LN_ECODE;
    ln_sandbox_newenv(sb);
    lua_setfenv(L, -2);
    if (lua_pcall(L, 0, 1, 0) != 0) return LN_ECODE;
    msgpack_sbuffer buf;
    msgpack_packer pk;
    msgpack_sbuffer_init(&buf);
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    ln_codec_meter m = { 0, UINT64_MAX, SIZE_MAX, ln_sandbox_table_slots };
    int rc = ln_codec_pack_lua_metered(L, -1, &pk, &m);
    msgpack_sbuffer_destroy(&buf);
    lua_settop(L, 0);
    *work = m.work;
    return rc;
}

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
    uint64_t work;
    if ((rc = calibration_work(sb, &work)) < 0) {
        ln_sandbox_free(sb);
        return rc;
    }
    for (int b = 0; b < 8; b++) gas_list[n * 8 + (size_t)b] = (uint8_t)(work >> (8 * b));
    n++;
    uint8_t h[LN_HASH_LEN];
    ln_hash(gas_list, n * 8, h);
    ln_hex(h, LN_HASH_LEN, hex);
    ln_sandbox_free(sb);
    return 0;
}
