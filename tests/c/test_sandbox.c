/*
** test_sandbox.c -- ln_sandbox_* directly: lifecycle, exact metering, kills,
** loading, freezing, deterministic iteration, hostile code.
*/
#include <math.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <lualib.h>

#include "test.h"
#include "sandbox.h"
#include "chunks.h"
#include "err.h"

#define LIMIT   100000000ull        /* gas: out of the way unless a test lowers it */

typedef struct {
    int rc;                         /* ln_sandbox_pcall's */
    uint64_t gas;
    char out[256];                  /* the result, or the error */
} run_result;

/* Loads src, runs it in a fresh env under a meter with `arg` as its one
** argument (...), and records the result as text. */
static run_result run_arg(ln_sandbox *sb, const char *src, double arg,
                          uint64_t limit, size_t cap)
{
    run_result r;
    lua_State *L = ln_sandbox_L(sb);
    memset(&r, 0, sizeof r);
    r.rc = ln_sandbox_load(sb, src, strlen(src), "=test");
    if (r.rc < 0) {
        snprintf(r.out, sizeof r.out, "%s", lua_tostring(L, -1));
        lua_settop(L, 0);
        return r;
    }
    ln_sandbox_newenv(sb);
    lua_setfenv(L, -2);
    lua_pushnumber(L, arg);
    ln_sandbox_meter_begin(sb, limit, cap);
    r.rc = ln_sandbox_pcall(sb, 1, 1);
    r.gas = ln_sandbox_meter_end(sb);
    const char *s = lua_isnil(L, -1) ? "nil" : lua_isboolean(L, -1)
                  ? (lua_toboolean(L, -1) ? "true" : "false") : lua_tostring(L, -1);
    snprintf(r.out, sizeof r.out, "%s", s ? s : "(not text)");
    lua_settop(L, 0);
    return r;
}

static run_result run(ln_sandbox *sb, const char *src)
{
    return run_arg(sb, src, 0, LIMIT, LN_SANDBOX_MEM_CAP);
}

static ln_sandbox *fresh(void)
{
    ln_sandbox *sb;
    ASSERT_EQ(ln_sandbox_new(NULL, &sb), 0);
    ln_sandbox_freeze(sb);
    return sb;
}

/* Hostile code must end, not hang: a test that runs it dies after `secs`. */
static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "timed out: sandboxed code ran unmetered\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

static void deadline(unsigned secs)
{
    signal(SIGALRM, on_alarm);
    alarm(secs);
}

/* CPU seconds of this process: bounds that hold on a busy machine. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

#define ASSERT_OK(r, want) do {                                         \
    run_result r_ = (r);                                                \
    if (r_.rc != 0) LN_FAIL("call failed (%d): %s", r_.rc, r_.out);     \
    ASSERT_STR(r_.out, want);                                           \
} while (0)

#define ASSERT_FAILS(r, code, needle) do {                              \
    run_result r_ = (r);                                                \
    if (r_.rc != (code))                                                \
        LN_FAIL("want rc %d, got %d: %s", (code), r_.rc, r_.out);       \
    if (!strstr(r_.out, needle))                                        \
        LN_FAIL("error \"%s\" does not say \"%s\"", r_.out, needle);    \
} while (0)

/* ---- lifecycle -------------------------------------------------------- */

TEST(sandbox_new_free_repeats_and_free_null_is_a_noop)
{
    for (int i = 0; i < 50; i++) {
        ln_sandbox *sb;
        ASSERT_EQ(ln_sandbox_new(&i, &sb), 0);
        ASSERT(ln_sandbox_ud(ln_sandbox_L(sb)) == &i);
        ASSERT(ln_sandbox_of(ln_sandbox_L(sb)) == sb);
        ASSERT(ln_sandbox_mem_used(sb) > 0);
        ln_sandbox_free(sb);
    }
    ln_sandbox_free(NULL);
}

TEST(sandbox_runs_code_after_freeze)
{
    ln_sandbox *sb = fresh();
    ASSERT_OK(run(sb, "return ('x'):rep(3) .. math.floor(2.5) .. #table.concat({'a','b'})"),
              "xxx22");
    ln_sandbox_free(sb);
}

/* ---- metering --------------------------------------------------------- */

static uint64_t loop_gas(ln_sandbox *sb, double n)
{
    run_result r = run_arg(sb, "local n = ... for i = 1, n do end", n, LIMIT,
                           LN_SANDBOX_MEM_CAP);
    if (r.rc != 0) LN_FAIL("loop of %g failed: %s", n, r.out);
    return r.gas;
}

TEST(sandbox_gas_counts_every_instruction)
{
    ln_sandbox *sb = fresh();
    /* "return" is one instruction (RET0); "local x = 1" two (KSHORT, RET0). */
    ASSERT_EQ(run(sb, "return").gas, 1);
    ASSERT_EQ(run(sb, "local x = 1").gas, 2);
    ASSERT_EQ(run(sb, "local x = 1 x = x + 1 x = x + 1").gas, 4);
    ln_sandbox_free(sb);
}

TEST(sandbox_gas_of_n_more_iterations_is_n_more)
{
    ln_sandbox *sb = fresh();
    for (double n = 0; n < 5000; n += 37) {
        uint64_t a = loop_gas(sb, n), b = loop_gas(sb, n + 1000);
        if (b - a != 1000) LN_FAIL("n=%g: gas(n+1000) - gas(n) = %llu", n,
                                   (unsigned long long)(b - a));
    }
    ln_sandbox_free(sb);
}

TEST(sandbox_gas_is_exact_around_each_hook_period)
{
    ln_sandbox *sb = fresh();
    for (int k = 1; k <= 4; k++) {
        for (int d = -12; d <= 12; d++) {
            double n = (double)(k * LN_GAS_PERIOD + d);
            uint64_t a = loop_gas(sb, n), b = loop_gas(sb, n + 1);
            if (b - a != 1) LN_FAIL("n=%g: one more iteration cost %llu", n,
                                    (unsigned long long)(b - a));
        }
    }
    ln_sandbox_free(sb);
}

TEST(sandbox_gas_is_the_same_in_a_fresh_and_a_used_sandbox)
{
    const char *src = "local t = {} for i = 1, 300 do t['k' .. i] = {i} end "
                      "local n = 0 for k, v in pairs(t) do n = n + v[1] end "
                      "return (string.gsub(string.rep('ab', 50), 'a', 'c')) .. n";
    ln_sandbox *a = fresh(), *b = fresh();
    for (int i = 0; i < 20; i++) run(b, "local t = {} for i = 1, 1000 do t[i] = {} end");
    run_result ra = run(a, src), rb = run(b, src);
    ASSERT_OK(ra, rb.out);
    ASSERT_EQ(ra.gas, rb.gas);
    ln_sandbox_free(a);
    ln_sandbox_free(b);
}

TEST(sandbox_gas_limit_kills_an_endless_loop_at_the_limit)
{
    ln_sandbox *sb = fresh();
    deadline(20);
    run_result r = run_arg(sb, "while true do end", 0, 100000, LN_SANDBOX_MEM_CAP);
    ASSERT_EQ(r.rc, LN_EGAS);
    ASSERT_EQ(r.gas, 100000);
    ASSERT_EQ(ln_sandbox_killed(sb), LN_EGAS);
    /* The next call starts clean. */
    ASSERT_OK(run(sb, "return 7"), "7");
    ASSERT_EQ(ln_sandbox_killed(sb), 0);
    ln_sandbox_free(sb);
}

/* A lean sandbox has no drain: it is smaller, counts to the last hook
** (meter_end gives what meter_stop gives) and kills at the limit as
** exactly as a full one. */
TEST(sandbox_lean_counts_to_the_last_hook_and_kills_at_the_limit)
{
    static const uint8_t seed[32] = { 7 };
    ln_sandbox *lean, *full = fresh();
    ASSERT_EQ(ln_sandbox_new_lean(NULL, seed, &lean), 0);
    ln_sandbox_freeze(lean);
    ASSERT(ln_sandbox_mem_used(lean) < ln_sandbox_mem_used(full));
    ASSERT_OK(run(lean, "return ('x'):rep(3)"), "xxx");
    for (double n = 100; n < 5000; n += 397) {
        uint64_t exact = loop_gas(full, n), counted = loop_gas(lean, n);
        if (counted % LN_GAS_PERIOD != 0 || counted > exact || exact - counted >= LN_GAS_PERIOD)
            LN_FAIL("n=%g: lean %llu, exact %llu", n, (unsigned long long)counted,
                    (unsigned long long)exact);
    }
    deadline(20);
    run_result r = run_arg(lean, "while true do end", 0, 100000, LN_SANDBOX_MEM_CAP);
    ASSERT_EQ(r.rc, LN_EGAS);
    ASSERT_EQ(r.gas, 100000);
    ASSERT_OK(run(lean, "return 7"), "7");
    ln_sandbox_free(lean);
    ln_sandbox_free(full);
}

TEST(sandbox_kill_is_sticky_through_pcall)
{
    ln_sandbox *sb = fresh();
    deadline(20);
    run_result r = run_arg(sb,
        "for i = 1, 100 do pcall(function() while true do end end) end return 'survived'",
        0, 100000, LN_SANDBOX_MEM_CAP);
    ASSERT_FAILS(r, LN_EGAS, "out of gas");
    ASSERT_EQ(r.gas, 100000);
    ln_sandbox_free(sb);
}

TEST(sandbox_kill_is_not_swallowed_by_an_xpcall_handler_that_loops)
{
    ln_sandbox *sb = fresh();
    deadline(20);
    run_result r = run_arg(sb,
        "xpcall(function() while true do end end, function() while true do end end) "
        "return 'survived'", 0, 100000, LN_SANDBOX_MEM_CAP);
    ASSERT_FAILS(r, LN_EGAS, "out of gas");
    ln_sandbox_free(sb);
}

TEST(sandbox_xpcall_calls_its_handler_on_an_ordinary_error)
{
    ln_sandbox *sb = fresh();
    ASSERT_OK(run(sb, "local ok, m = xpcall(function(a) error('bad ' .. a, 0) end, "
                      "function(e) return 'handled: ' .. e end, 'x') "
                      "return tostring(ok) .. ' ' .. m"), "false handled: bad x");
    ASSERT_OK(run(sb, "local ok, a, b = xpcall(function(x, y) return x + y, 'z' end, "
                      "error, 1, 2) return tostring(ok) .. a .. b"), "true3z");
    ASSERT_OK(run(sb, "local ok, m = xpcall(error, function() error('again') end) "
                      "return m"), "error in error handling");
    ln_sandbox_free(sb);
}

/* A C function the tests register: pauses the meter, calls its argument,
** resumes. Instructions run while paused must still count. */
static int paused_call(lua_State *L)
{
    ln_sandbox *sb = ln_sandbox_of(L);
    int p = ln_sandbox_pause(sb);
    lua_call(L, lua_gettop(L) - 1, 0);
    ln_sandbox_resume(sb, p);
    return 0;
}

TEST(sandbox_instructions_count_while_the_meter_is_paused)
{
    ln_sandbox *sb;
    ASSERT_EQ(ln_sandbox_new(NULL, &sb), 0);
    ln_sandbox_register_fn(sb, "paused_call", paused_call, NULL);
    ln_sandbox_freeze(sb);
    const char *src = "local n = ... paused_call(function() for i = 1, n do end end)";
    uint64_t a = run_arg(sb, src, 3000, LIMIT, LN_SANDBOX_MEM_CAP).gas;
    uint64_t b = run_arg(sb, src, 4000, LIMIT, LN_SANDBOX_MEM_CAP).gas;
    ASSERT_EQ(b - a, 1000);
    ln_sandbox_free(sb);
}

TEST(sandbox_charge_kills_and_the_kill_reaches_the_host)
{
    ln_sandbox *sb = fresh();
    deadline(20);
    /* 1e9 bytes cost ~6e7 gas: refused before one byte is allocated. */
    size_t before = ln_sandbox_mem_used(sb);
    double t0 = now();
    run_result r = run_arg(sb, "local ok = pcall(string.rep, 'x', 1e9) return 'survived'",
                           0, 1000000, LN_SANDBOX_MEM_CAP);
    ASSERT_FAILS(r, LN_EGAS, "out of gas");
    ASSERT(now() - t0 < 1.0);
    ASSERT(ln_sandbox_mem_used(sb) < before + (1u << 20));
    ln_sandbox_free(sb);
}

/* ---- memory ----------------------------------------------------------- */

TEST(sandbox_memory_cap_kills_a_string_bomb)
{
    ln_sandbox *sb = fresh();
    deadline(20);
    run_result r = run_arg(sb, "local s = 'x' while true do s = s .. s end",
                           0, LIMIT, 1u << 20);
    ASSERT_FAILS(r, LN_EMEM, "out of memory");
    ASSERT_EQ(ln_sandbox_killed(sb), LN_EMEM);
    ASSERT_OK(run(sb, "return #string.rep('y', 1000)"), "1000");
    ln_sandbox_free(sb);
}

TEST(sandbox_memory_cap_kills_a_table_bomb_through_pcall)
{
    ln_sandbox *sb = fresh();
    deadline(20);
    run_result r = run_arg(sb,
        "local t = {} "
        "for k = 1, 50 do pcall(function() while true do t[#t + 1] = {} end end) end "
        "return 'survived'", 0, LIMIT, 1u << 20);
    ASSERT_FAILS(r, LN_EMEM, "out of memory");
    ASSERT_OK(run(sb, "local t = {} for i = 1, 100 do t[i] = i end return #t"), "100");
    ln_sandbox_free(sb);
}

TEST(sandbox_memory_cap_counts_only_growth_during_the_call)
{
    ln_sandbox *sb = fresh();
    /* 200 KB (and the 256 KB buffer that builds it) fits a 1 MB cap, call
    ** after call: what earlier calls left behind does not count. */
    for (int i = 0; i < 10; i++)
        ASSERT_OK(run_arg(sb, "return #string.rep(string.char(65 + ...), 200000)",
                          i, LIMIT, 1u << 20), "200000");
    ln_sandbox_free(sb);
}

/* ---- loading ---------------------------------------------------------- */

TEST(sandbox_load_refuses_bytecode)
{
    ln_sandbox *sb = fresh();
    lua_State *L = ln_sandbox_L(sb);
    static const char fake[] = "\033LJ\002\000\000\000";
    ASSERT_EQ(ln_sandbox_load(sb, fake, sizeof fake - 1, "=evil"), LN_ECODE);
    ASSERT(strstr(lua_tostring(L, -1), "mode") != NULL);
    lua_settop(L, 0);

    /* A real chunk dumped by an ordinary state is refused too. */
    lua_State *P = luaL_newstate();
    luaL_openlibs(P);
    ASSERT_EQ(luaL_dostring(P, "return string.dump(function() return 1 end)"), 0);
    size_t n;
    const char *bc = lua_tolstring(P, -1, &n);
    ASSERT(n > 4 && memcmp(bc, "\033LJ", 3) == 0);
    ASSERT_EQ(ln_sandbox_load(sb, bc, n, "=evil"), LN_ECODE);
    lua_close(P);
    lua_settop(L, 0);
    ln_sandbox_free(sb);
}

TEST(sandbox_load_reports_syntax_errors_with_the_chunk_name)
{
    ln_sandbox *sb = fresh();
    run_result r = run(sb, "return +");
    ASSERT_EQ(r.rc, LN_ECODE);
    ASSERT(strstr(r.out, "test:1:") != NULL);
    ln_sandbox_free(sb);
}

TEST(sandbox_load_cached_leaves_the_same_heap_whether_the_store_had_the_chunk_or_not)
{
    const char *src = "local M = {} function M.f(n) local s = 0 for i = 1, n do s = s + i end "
                      "return s end return M";
    ln__chunks_clear();
    ln_sandbox *a = fresh(), *b = fresh(), *c = fresh();
    size_t before = ln_sandbox_mem_used(a);
    ASSERT_EQ(ln_sandbox_mem_used(b), before);
    ASSERT_EQ(ln_sandbox_load_cached(a, src, strlen(src), "=m"), 0);   /* parsed */
    ASSERT_EQ(ln_sandbox_load_cached(b, src, strlen(src), "=m"), 0);   /* from the store */
    ASSERT_EQ(ln_sandbox_mem_used(a), ln_sandbox_mem_used(b));
    ASSERT_EQ(ln_sandbox_load(c, src, strlen(src), "=m"), 0);           /* parsed in place */
    ASSERT(ln_sandbox_mem_used(c) != ln_sandbox_mem_used(a));
    /* The same code either way: the same answers, the same gas. */
    ln_sandbox *sbs[3] = { a, b, c };
    uint64_t gas[3];
    for (int i = 0; i < 3; i++) {
        lua_State *L = ln_sandbox_L(sbs[i]);
        ln_sandbox_newenv(sbs[i]);
        lua_setfenv(L, -2);
        lua_call(L, 0, 1);
        lua_getfield(L, -1, "f");
        lua_pushnumber(L, 1000);
        ln_sandbox_meter_begin(sbs[i], LIMIT, LN_SANDBOX_MEM_CAP);
        ASSERT_EQ(ln_sandbox_pcall(sbs[i], 1, 1), 0);
        gas[i] = ln_sandbox_meter_end(sbs[i]);
        ASSERT_EQ(lua_tonumber(L, -1), 500500);
        lua_settop(L, 0);
    }
    ASSERT_EQ(gas[0], gas[1]);
    ASSERT_EQ(gas[0], gas[2]);
    /* A source that does not compile gives the compiler's message, each time. */
    ASSERT_EQ(ln_sandbox_load_cached(a, "return +", 8, "=bad"), LN_ECODE);
    ASSERT(strstr(lua_tostring(ln_sandbox_L(a), -1), "bad:1:") != NULL);
    ASSERT_EQ(ln_sandbox_load_cached(b, "return +", 8, "=bad"), LN_ECODE);
    ASSERT(strstr(lua_tostring(ln_sandbox_L(b), -1), "bad:1:") != NULL);
    ln_sandbox_free(a);
    ln_sandbox_free(b);
    ln_sandbox_free(c);
}

/* ---- fingerprint ------------------------------------------------------ */

TEST(sandbox_fingerprint_is_stable_across_calls)
{
    char a[65], b[65];
    ASSERT_EQ(ln_sandbox_fingerprint(a), 0);
    ASSERT_EQ(ln_sandbox_fingerprint(b), 0);
    ASSERT_EQ(strlen(a), 64);
    ASSERT_STR(a, b);
}

/* ---- whitelist and freezing ------------------------------------------- */

TEST(sandbox_exposes_no_escape_routes)
{
    ln_sandbox *sb = fresh();
    static const char *const absent[] = {
        "load", "loadstring", "dofile", "loadfile", "require", "package", "module",
        "getfenv", "setfenv", "debug", "ffi", "jit", "newproxy", "collectgarbage",
        "coroutine", "os", "io", "print", "_G", "gcinfo", "rawlen", NULL
    };
    for (const char *const *n = absent; *n; n++) {
        char src[128];
        snprintf(src, sizeof src, "return type(%s)", *n);
        run_result r = run(sb, src);
        if (r.rc != 0 || strcmp(r.out, "nil") != 0)
            LN_FAIL("%s is reachable: %s", *n, r.out);
    }
    ASSERT_OK(run(sb, "return type(string.dump)"), "nil");
    ASSERT_OK(run(sb, "return type(('x').dump)"), "nil");
    ASSERT_OK(run(sb, "return type(math.random)"), "nil");
    ASSERT_OK(run(sb, "return type(math.randomseed)"), "nil");
    ASSERT_OK(run(sb, "return type(getmetatable(''))"), "string");
    ln_sandbox_free(sb);
}

TEST(sandbox_frozen_tables_refuse_every_write)
{
    ln_sandbox *sb = fresh();
    static const char *const writes[] = {
        "string.upper = function() return 'pwned' end",
        "string.evil = 1",
        "math.floor = nil",
        "table.insert = print",
        "bit.band = 1",
        "rawset(string, 'upper', 1)",
        "rawset(math, 'x', 1)",
        "table.insert(string, 1)",
        "table.remove(math)",
        "table.sort(table)",
        "setmetatable(string, {})",
        "setmetatable(math, nil)",
        "getmetatable('').__index = {}",
        NULL
    };
    for (const char *const *w = writes; *w; w++) {
        run_result r = run(sb, *w);
        if (r.rc != LN_ECALL) LN_FAIL("`%s` was allowed: %s", *w, r.out);
    }
    ASSERT_OK(run(sb, "return ('abc'):upper() .. math.floor(1.5) .. type(table.insert)"),
              "ABC1function");
    ln_sandbox_free(sb);
}

TEST(sandbox_frozen_tables_stay_readable_and_iterable)
{
    ln_sandbox *sb = fresh();
    ASSERT_OK(run(sb, "local n = 0 for k, v in pairs(math) do n = n + 1 end return n"), "12");
    ASSERT_OK(run(sb, "local k = next(bit) return k"), "arshift");
    ASSERT_OK(run(sb, "local f, s = pairs(string) return (s == string)"), "true");
    ln_sandbox_free(sb);
}

static int host_answer(lua_State *L)
{
    lua_pushinteger(L, 42);
    return 1;
}

TEST(sandbox_registered_tables_are_frozen)
{
    ln_sandbox *sb;
    static const luaL_Reg api[] = { { "answer", host_answer }, { NULL, NULL } };
    ASSERT_EQ(ln_sandbox_new(NULL, &sb), 0);
    ln_sandbox_register(sb, "host", api, NULL);
    lua_State *L = ln_sandbox_L(sb);
    lua_createtable(L, 0, 1);
    lua_pushinteger(L, 5);
    lua_setfield(L, -2, "height");
    ln_sandbox_freeze_table(L, -1);
    ln_sandbox_setglobal(sb, "info");
    ln_sandbox_freeze(sb);
    ASSERT_OK(run(sb, "return host.answer() + info.height"), "47");
    ASSERT_EQ(run(sb, "host.answer = function() return 0 end").rc, LN_ECALL);
    ASSERT_EQ(run(sb, "info.height = 6").rc, LN_ECALL);
    ASSERT_EQ(run(sb, "rawset(info, 'height', 6)").rc, LN_ECALL);
    ASSERT_OK(run(sb, "return host.answer() + info.height"), "47");
    ln_sandbox_free(sb);
}

TEST(sandbox_globals_do_not_survive_the_call)
{
    ln_sandbox *sb = fresh();
    ASSERT_OK(run(sb, "leak = 'x' pairs = nil string = nil return leak"), "x");
    ASSERT_OK(run(sb, "return tostring(leak) .. type(pairs) .. type(string)"),
              "nilfunctiontable");
    ln_sandbox_free(sb);
}

/* ---- no addresses ----------------------------------------------------- */

TEST(sandbox_tostring_and_format_reveal_no_address)
{
    ln_sandbox *sb = fresh();
    ASSERT_OK(run(sb, "return tostring({}) .. tostring(print or pairs)"), "tablefunction");
    ASSERT_OK(run(sb, "return string.format('%s %s %5s', {}, pairs, true)"),
              "table function  true");
    ASSERT_FAILS(run(sb, "return string.format('%p', {})"), LN_ECALL, "%p");
    ASSERT_FAILS(run(sb, "return string.format('%10p', {})"), LN_ECALL, "%p");
    ASSERT_FAILS(run(sb, "error({})"), LN_ECALL, "(error object is a table value)");
    ASSERT_OK(run(sb, "local t = setmetatable({}, {__tostring = function() return 'T' end}) "
                      "return tostring(t) .. string.format('%s', t)"), "TT");
    ln_sandbox_free(sb);
}

/* ---- deterministic iteration ------------------------------------------ */

TEST(sandbox_pairs_order_is_numbers_strings_booleans_then_the_rest)
{
    ln_sandbox *sb = fresh();
    const char *src =
        "local t = {} local order = ... "
        "local keys = {'b', 10, true, 'a', -1.5, false, 'ab', 2} "
        "if order == 1 then for i = #keys, 1, -1 do t[keys[i]] = i end "
        "else for i = 1, #keys do t[keys[i]] = i end end "
        "local out = {} for k in pairs(t) do out[#out + 1] = tostring(k) end "
        "return table.concat(out, ' ')";
    ASSERT_OK(run_arg(sb, src, 0, LIMIT, LN_SANDBOX_MEM_CAP), "-1.5 2 10 a ab b false true");
    ASSERT_OK(run_arg(sb, src, 1, LIMIT, LN_SANDBOX_MEM_CAP), "-1.5 2 10 a ab b false true");
    ln_sandbox_free(sb);
}

TEST(sandbox_next_walks_on_after_the_current_key_is_cleared)
{
    ln_sandbox *sb = fresh();
    ASSERT_OK(run(sb, "local t = {a = 1, b = 2, c = 3, [1] = 4} local seen = {} "
                      "for k in next, t do seen[#seen + 1] = tostring(k) t[k] = nil end "
                      "return table.concat(seen, ',') .. '|' .. tostring(next(t))"),
              "1,a,b,c|nil");
    ASSERT_OK(run(sb, "local t = {x = 1, y = 2} local a = next(t) local b = next(t, a) "
                      "return a .. b .. tostring(next(t, b))"), "xynil");
    ln_sandbox_free(sb);
}

TEST(sandbox_pairs_iterator_called_by_hand_does_not_crash)
{
    ln_sandbox *sb = fresh();
    ASSERT_OK(run(sb, "local f = pairs({a = 1}) return f()"), "a");
    ASSERT_OK(run(sb, "local f = pairs({a = 1}) return tostring(f(nil, nil))"), "a");
    ASSERT_OK(run(sb, "local f = pairs({a = 1}) return tostring(f(42))"), "a");
    ln_sandbox_free(sb);
}

TEST(sandbox_table_keys_come_in_the_same_order_whatever_the_insertion_order)
{
    ln_sandbox *sb = fresh();
    ASSERT_OK(run(sb, "local a, b, c = {n = 'a'}, {n = 'b'}, {n = 'c'} "
                      "local t1 = {} t1[c] = 1 t1[a] = 1 t1[b] = 1 "
                      "local t2 = {} t2[b] = 1 t2[c] = 1 t2[a] = 1 t2[a] = nil t2[a] = 1 "
                      "local o1, o2 = '', '' "
                      "for k in pairs(t1) do o1 = o1 .. k.n end "
                      "for k in pairs(t2) do o2 = o2 .. k.n end "
                      "return tostring(o1 == o2 and #o1 == 3)"), "true");
    ln_sandbox_free(sb);
}

/* Gas of `src` in `n` fresh sandboxes; fails unless all agree. */
static void same_gas_in_fresh_sandboxes(const char *src, int n)
{
    ln_sandbox *first = fresh();
    run_result want = run(first, src);
    ASSERT_EQ(want.rc, 0);
    for (int i = 0; i < n; i++) {
        ln_sandbox *sb = fresh();
        run_result r = run(sb, src);
        ASSERT_OK(r, want.out);
        if (r.gas != want.gas)
            LN_FAIL("sandbox %d: gas %llu, first sandbox %llu", i,
                    (unsigned long long)r.gas, (unsigned long long)want.gas);
        ln_sandbox_free(sb);
    }
    ln_sandbox_free(first);
}

/* Number keys hash by value: insert/delete churn on them rehashes at the
** same points in every sandbox. */
TEST(sandbox_gas_of_number_key_churn_is_the_same_in_every_sandbox)
{
    same_gas_in_fresh_sandboxes(
        "local v = {} "
        "for i = 1, 4000 do v[i * 1.5] = i if i > 5 then v[(i - 5) * 1.5] = nil end end "
        "local n = 0 for k, x in pairs(v) do n = n + x end return n", 8);
}

/* The garbage collector must run at the same points everywhere, though how
** much each of its steps frees follows the string hash. */
TEST(sandbox_gas_with_the_collector_at_work_is_the_same_in_every_sandbox)
{
    same_gas_in_fresh_sandboxes(
        "for r = 1, 40 do "
        "  for i = 1, 3000 do local s = 'str' .. i end "
        "  local junk = {} for i = 1, 3000 do junk[i] = { i } end "
        "end "
        "local t, out = {}, {} for i = 1, 8 do t[{ id = i }] = true end "
        "for k in pairs(t) do out[#out + 1] = k.id end return table.concat(out, ',')", 6);
}

/* Which new key of a table with deleted entries lands on a dead node, hence
** when the table rehashes, hence allocation gas, follows the key's hash: for
** strings LuaJIT's seed (given by the sandbox), for tables and functions
** their address (the sandbox's arena slot). */
TEST(sandbox_gas_of_string_key_churn_is_the_same_in_every_sandbox)
{
    same_gas_in_fresh_sandboxes(
        "local t = {} "
        "for i = 1, 4000 do t['key' .. i] = i if i > 5 then t['key' .. (i - 5)] = nil end end "
        "local n = 0 for k, v in pairs(t) do n = n + v end return n", 8);
}

TEST(sandbox_gas_of_object_key_churn_is_the_same_in_every_sandbox)
{
    for (int round = 0; round < 10; round++)
        same_gas_in_fresh_sandboxes(
            "local u, keys = {}, {} "
            "for i = 1, 4000 do "
            "  local o = {} keys[i] = o u[o] = i if i > 5 then u[keys[i - 5]] = nil end "
            "end "
            "local n = 0 for k, x in pairs(u) do n = n + x end return n", 8);
}

/* One chunk, kept across calls as a contract's cached chunk is: mode 1
** leaves 512 KB of garbage; mode 0 makes 12 tables, 640 KB of garbage (the
** collector runs in the middle when mode 1 ran before), 6 more tables,
** and lists the 12 as pairs orders them. */
static const char order_src[] =
    "return function(mode)\n"
    "  if mode == 1 then for i = 1, 8000 do local s = string.format('%030d', i) end return '' end\n"
    "  local keys, t = {}, {}\n"
    "  for i = 1, 6 do keys[i] = { i = i } end\n"
    "  for i = 1, 10000 do local s = string.format('%029dj', i) end\n"
    "  for i = 7, 12 do keys[i] = { i = i } end\n"
    "  for i = 1, 12 do t[keys[i]] = true end\n"
    "  local o = {} for k in pairs(t) do o[#o + 1] = k.i end return table.concat(o, ',')\n"
    "end\n";

static void order_call(ln_sandbox *sb, int ref, double mode, char *out, size_t n)
{
    lua_State *L = ln_sandbox_L(sb);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_pushnumber(L, mode);
    ln_sandbox_meter_begin(sb, LIMIT, LN_SANDBOX_MEM_CAP);
    int rc = ln_sandbox_pcall(sb, 1, 1);
    ln_sandbox_meter_end(sb);
    if (rc != 0) LN_FAIL("mode %g failed: %s", mode, lua_tostring(L, -1));
    snprintf(out, n, "%s", lua_tostring(L, -1));
    lua_settop(L, 0);
}

static int order_chunk(ln_sandbox *sb)
{
    lua_State *L = ln_sandbox_L(sb);
    ASSERT_EQ(ln_sandbox_load(sb, order_src, strlen(order_src), "=order"), 0);
    ln_sandbox_newenv(sb);
    lua_setfenv(L, -2);
    lua_call(L, 0, 1);
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

TEST(sandbox_pairs_order_of_table_keys_does_not_depend_on_earlier_calls)
{
    static const char want[] = "1,2,3,4,5,6,7,8,9,10,11,12";
    char got[256];
    ln_sandbox *a = fresh(), *b = fresh();
    int ra = order_chunk(a), rb = order_chunk(b);
    order_call(a, ra, 0, got, sizeof got);
    ASSERT_STR(got, want);
    order_call(b, rb, 1, got, sizeof got);         /* the earlier call */
    order_call(b, rb, 0, got, sizeof got);
    ASSERT_STR(got, want);
    ln_sandbox_free(a);
    ln_sandbox_free(b);
}

/* ---- capped strings --------------------------------------------------- */

static ln_sandbox *capped(void)
{
    ln_sandbox *sb;
    ASSERT_EQ(ln_sandbox_new(NULL, &sb), 0);
    ASSERT_EQ(ln_sandbox_cap_strings(sb, 16384), 0);
    ln_sandbox_freeze(sb);
    return sb;
}

TEST(sandbox_capped_strings_stop_every_way_of_building_a_longer_one)
{
    ln_sandbox *sb = capped();
    static const char *const killed[] = {
        "local s = string.rep('x', 10000) return #(s .. s)",
        "local s = string.rep('x', 16384) return #(s .. 1)",
        "return #string.format('%s%s', string.rep('x', 9000), string.rep('y', 9000))",
        "return #(string.gsub(string.rep('x', 9000), 'x', 'yy'))",
        "local ok = pcall(function() local s = string.rep('x', 10000) return s .. s end) "
            "return 'survived'",
        NULL
    };
    for (const char *const *k = killed; *k; k++)
        ASSERT_FAILS(run(sb, *k), LN_ETOOBIG, "string too long");
    /* Functions that know the length first refuse with an error. */
    ASSERT_FAILS(run(sb, "return #string.rep('x', 16385)"), LN_ECALL,
                 "string.rep: a string of 16385 bytes is longer than the 16384");
    ASSERT_FAILS(run(sb, "local t = {} for i = 1, 3 do t[i] = string.rep('x', 8000) end "
                         "return #table.concat(t, ',')"), LN_ECALL,
                 "table.concat: a string of 24002 bytes is longer than the 16384");
    ASSERT_OK(run(sb, "local ok = pcall(string.rep, 'x', 1e6) return tostring(ok)"), "false");
    /* Up to the cap everything works. */
    ASSERT_OK(run(sb, "local s = string.rep('ab', 8192) local u = s:upper() "
                      "return #s .. ' ' .. #(string.rep('x', 8192) .. string.rep('y', 8192)) .. ' ' .. "
                      "tostring(u < s) .. ' ' .. #table.concat({ s:sub(1, 100), u:sub(1, 100) })"),
              "16384 16384 true 200");
    ln_sandbox_free(sb);
}

TEST(sandbox_capped_strings_refuse_a_longer_literal_when_loading)
{
    ln_sandbox *sb = capped();
    lua_State *L = ln_sandbox_L(sb);
    static char src[40000];
    static const struct { const char *open, *close; int loads; } cases[] = {
        { "return '", "'", 0 }, { "return \"", "\"", 0 }, { "return [[", "]]", 0 },
        { "return [==[", "]==]", 0 },
        { "--[[", "]] return 1", 1 }, { "--[=[", "]=] return 1", 1 },
        { "return [==[]]]=]", "]==]", 0 },        /* the right closing level */
        { "return 'a\\z\n  ", "'", 0 }, { "return 'a\\\n", "'", 0 },
        { "return '\\'", "'", 0 },                 /* an escaped quote does not end it */
        { NULL, NULL, 0 }
    };
    for (int i = 0; cases[i].open; i++) {
        for (int over = 0; over <= 1; over++) {
            size_t body = 16384 - 8 + (size_t)over * 16;   /* with up to 6 bytes of the case's own */
            int n = snprintf(src, sizeof src, "%s", cases[i].open);
            memset(src + n, 'x', body);
            snprintf(src + n + body, sizeof src - (size_t)n - body, "%s", cases[i].close);
            int want = (!over || cases[i].loads) ? 0 : LN_ECODE;
            int rc = ln_sandbox_load(sb, src, strlen(src), "=lit");
            if (rc != want)
                LN_FAIL("case %d (%s...%s), %zu bytes: load gave %d", i, cases[i].open,
                        cases[i].close, body, rc);
            if (rc == LN_ECODE)
                ASSERT(strstr(lua_tostring(L, -1), "longer than 16384") != NULL);
            lua_settop(L, 0);
            ASSERT_EQ(ln_sandbox_load_cached(sb, src, strlen(src), "=lit"), want);
            lua_settop(L, 0);
        }
    }
    ln_sandbox_free(sb);
}

TEST(sandbox_cap_strings_takes_one_power_of_two_of_8_kib_or_more)
{
    ln_sandbox *sb;
    ASSERT_EQ(ln_sandbox_new(NULL, &sb), 0);
    ASSERT_EQ(ln_sandbox_cap_strings(sb, 1000), LN_EINVAL);
    ASSERT_EQ(ln_sandbox_cap_strings(sb, 4096), LN_EINVAL);
    ASSERT_EQ(ln_sandbox_cap_strings(sb, 20000), LN_EINVAL);
    ASSERT_EQ(ln_sandbox_cap_strings(sb, 8192), 0);
    ASSERT_EQ(ln_sandbox_cap_strings(sb, 8192), LN_EINVAL);
    ln_sandbox_free(sb);
}

/* ---- hostile code ----------------------------------------------------- */

TEST(sandbox_pattern_backtracking_is_metered)
{
    ln_sandbox *sb = fresh();
    deadline(20);
    double t0 = now();
    ASSERT_FAILS(run_arg(sb, "return string.find(('a'):rep(40), ('a*'):rep(20) .. 'b')",
                         0, 1000000, LN_SANDBOX_MEM_CAP), LN_EGAS, "out of gas");
    ASSERT_FAILS(run_arg(sb, "return string.find(('a'):rep(200000), 'a*b')",
                         0, 1000000, LN_SANDBOX_MEM_CAP), LN_EGAS, "out of gas");
    ASSERT_FAILS(run_arg(sb, "return string.find(('a'):rep(200000), ('a'):rep(5000) .. 'b', 1, true)",
                         0, 1000000, LN_SANDBOX_MEM_CAP), LN_EGAS, "out of gas");
    ASSERT(now() - t0 < 5.0);
    ln_sandbox_free(sb);
}

TEST(sandbox_patterns_match_as_in_lua)
{
    ln_sandbox *sb = fresh();
    ASSERT_OK(run(sb, "return (string.gsub('hello world', '(%w+)', '<%1>'))"), "<hello> <world>");
    ASSERT_OK(run(sb, "return (string.gsub('abc', '%w', '%0%0'))"), "aabbcc");
    ASSERT_OK(run(sb, "return (string.gsub('abc', '', '-'))"), "-a-b-c-");
    ASSERT_OK(run(sb, "return (string.gsub('a b c', '%s', {[' '] = '_'}))"), "a_b_c");
    ASSERT_OK(run(sb, "return (string.gsub('x = 1', '(%w+) = (%w+)', '%2 = %1'))"), "1 = x");
    ASSERT_OK(run(sb, "return select(2, string.gsub('aaa', 'a', 'b', 2))"), "2");
    ASSERT_OK(run(sb, "return table.concat({string.find('hello', 'l+')}, ',')"), "3,4");
    ASSERT_OK(run(sb, "return table.concat({string.find('a.b', '.', 1, true)}, ',')"), "2,2");
    ASSERT_OK(run(sb, "return string.match('key=val', '^(%a+)=(%a+)$')"), "key");
    ASSERT_OK(run(sb, "return string.match('  trim  ', '^%s*(.-)%s*$')"), "trim");
    ASSERT_OK(run(sb, "return string.match('f(a(b)c)d', '%b()')"), "(a(b)c)");
    ASSERT_OK(run(sb, "return string.match('THE (quick) fox', '%f[%a]%a+', 5)"), "quick");
    ASSERT_OK(run(sb, "return string.match('hello', '()ll()')"), "3");
    ASSERT_OK(run(sb, "return tostring(string.match('abc', 'x'))"), "nil");
    ASSERT_OK(run(sb, "local o = {} for w in string.gmatch('one two  three', '%a+') do "
                      "o[#o + 1] = w end return table.concat(o, '|')"), "one|two|three");
    ASSERT_OK(run(sb, "local o = {} for k, v in ('a=1, b=2'):gmatch('(%w+)=(%w+)') do "
                      "o[#o + 1] = k .. v end return table.concat(o)"), "a1b2");
    ASSERT_OK(run(sb, "return ('%d'):format(7) .. ('abc'):sub(2) .. ('Ab'):upper()"), "7bcAB");
    ASSERT_OK(run(sb, "return string.match('\\128\\255z', '%a')"), "z");
    ASSERT_FAILS(run(sb, "return string.find('a', '%')"), LN_ECALL, "malformed pattern");
    ASSERT_FAILS(run(sb, "return string.find('a', '[a')"), LN_ECALL, "missing ']'");
    ASSERT_FAILS(run(sb, "return string.gsub('a', '(a)', '%2')"), LN_ECALL, "invalid capture index");
    ASSERT_FAILS(run(sb, "return string.find(('a'):rep(500), ('a?'):rep(500))"), LN_ECALL,
                 "pattern too complex");
    ln_sandbox_free(sb);
}

TEST(sandbox_deep_recursion_is_an_error_not_a_crash)
{
    ln_sandbox *sb = fresh();
    deadline(60);
    ASSERT_FAILS(run(sb, "local function f(n) return 1 + f(n + 1) end return f(1)"),
                 LN_ECALL, "stack overflow");
    ASSERT_FAILS(run(sb, "local function f(s) return (string.gsub(s, '.', f)) end return f('x')"),
                 LN_ECALL, "C stack overflow");
    ASSERT_FAILS(run(sb, "local t = setmetatable({}, {}) getmetatable(t).__tostring = "
                         "function(x) return tostring(x) end return tostring(t)"),
                 LN_ECALL, "stack overflow");
    ASSERT_FAILS(run(sb, "local function f() local t = {2, 1} "
                         "table.sort(t, function(a, b) f() return a < b end) end f()"),
                 LN_ECALL, "stack overflow");
    ASSERT_FAILS(run(sb, "local function f() local ok, e = xpcall(f, function(m) return m end) "
                         "error(e, 0) end f()"), LN_ECALL, "C stack overflow");
    ASSERT_FAILS(run(sb, "local function f() local ok, e = pcall(f) error(e, 0) end f()"),
                 LN_ECALL, "stack overflow");
    ASSERT_OK(run(sb, "return 'still here'"), "still here");
    ln_sandbox_free(sb);
}

TEST(sandbox_linear_string_work_is_charged_even_when_nothing_is_allocated)
{
    ln_sandbox *sb = fresh();
    /* s:upper() of an upper-case string and tonumber of a long numeral
    ** allocate nothing new; 100 of them on 1 MB must still cost. */
    run_result r = run_arg(sb, "local s = string.rep('A', 1000000) "
                               "for i = 1, 100 do local u = s:upper() local n = tonumber(s) end",
                           0, LIMIT, LN_SANDBOX_MEM_CAP);
    ASSERT_EQ(r.rc, 0);
    ASSERT(r.gas > 100 * 2 * (1000000 >> 4));
    /* ... while s:sub charges by what it takes: a byte is cheap. */
    r = run_arg(sb, "local s = string.rep('A', 1000000) local n = 0 "
                    "for i = 1, 1000 do n = n + #s:sub(i, i) + #s:sub(-i, -i) end "
                    "return n .. #s:sub(999990) .. #s:sub(-20, -11) .. #s:sub(5, 4)",
                0, LIMIT, LN_SANDBOX_MEM_CAP);
    ASSERT_OK(r, "200011100");
    ASSERT(r.gas < 200000);
    ln_sandbox_free(sb);
}

/* ---- work in proportion to its size ----------------------------------- */

TEST(sandbox_table_insert_refuses_positions_out_of_bounds)
{
    ln_sandbox *sb = fresh();
    deadline(20);                   /* LuaJIT walks 2^31 slots for -2^31 */
    ASSERT_FAILS(run(sb, "local t = {1, 2, 3} table.insert(t, -2^31, 0)"), LN_ECALL,
                 "position out of bounds");
    ASSERT_FAILS(run(sb, "local t = {1, 2, 3} table.insert(t, 0, 0)"), LN_ECALL,
                 "position out of bounds");
    ASSERT_FAILS(run(sb, "local t = {1, 2, 3} table.insert(t, 5, 0)"), LN_ECALL,
                 "position out of bounds");
    ASSERT_FAILS(run(sb, "table.insert({}, 0/0, 0)"), LN_ECALL, "no integer representation");
    ASSERT_OK(run(sb, "local t = {1, 2, 3} table.insert(t, 4, 9) table.insert(t, 1, 0) "
                      "table.insert(t, 6) return table.concat(t, ',')"), "0,1,2,3,9,6");
    ln_sandbox_free(sb);
}

TEST(sandbox_table_insert_charges_each_value_it_moves)
{
    ln_sandbox *sb = fresh();
    const char *src = "local t = {} for i = 1, 20000 do t[i] = i end "
                      "table.insert(t, ... == 1 and 1 or #t + 1, 0)";
    uint64_t front = run_arg(sb, src, 1, LIMIT, LN_SANDBOX_MEM_CAP).gas;
    uint64_t back = run_arg(sb, src, 0, LIMIT, LN_SANDBOX_MEM_CAP).gas;
    /* 20000 values moved, at LN_GAS_VALUES; the two differ by a few
    ** instructions besides. */
    if (front < back + LN_GAS_VALUES(20000) - 8)
        LN_FAIL("insert at 1 cost %llu, at the end %llu: moving 20000 values is free",
                (unsigned long long)front, (unsigned long long)back);
    ln_sandbox_free(sb);
}

TEST(sandbox_string_rep_counts_a_number_separator)
{
    ln_sandbox *sa = fresh(), *sb = fresh();   /* one each: no warm buffers */
    /* 100 reps of a result that exists already: nothing is allocated, so
    ** only the charge counts; each copies 10000 + 9 * 9999 bytes. */
    const char *src = "local s = string.rep('x', 10000, %s) "
                      "for i = 1, 100 do local r = string.rep('x', 10000, %s) end return #s";
    char num[256], str[256];
    snprintf(num, sizeof num, src, "123456789", "123456789");
    snprintf(str, sizeof str, src, "'123456789'", "'123456789'");
    run_result a = run(sa, num), b = run(sb, str);
    ASSERT_OK(a, "99991");
    ASSERT_OK(b, "99991");
    if (a.gas < 100 * (99991 >> 4))
        LN_FAIL("100 x 99991 bytes built for %llu gas", (unsigned long long)a.gas);
    if (a.gas + 4 < b.gas || b.gas + 4 < a.gas)
        LN_FAIL("separator 123456789 cost %llu, '123456789' %llu",
                (unsigned long long)a.gas, (unsigned long long)b.gas);
    ln_sandbox_free(sa);
    ln_sandbox_free(sb);
}

/* Gas of 100 rounds of `body` over t = {1..7000} and s = 7000 bytes, in a
** fresh sandbox (a used one has its stack grown already). */
static uint64_t bulk_gas(const char *body)
{
    ln_sandbox *sb = fresh();
    char src[512];
    snprintf(src, sizeof src, "local t = {} for i = 1, 7000 do t[i] = i %% 200 + 1 end "
                              "local s = string.rep('a', 7000) "
                              "for k = 1, 100 do %s end", body);
    run_result r = run(sb, src);
    if (r.rc != 0) LN_FAIL("`%s` failed: %s", body, r.out);
    ln_sandbox_free(sb);
    return r.gas;
}

TEST(sandbox_c_functions_pay_for_each_value_they_take_or_return)
{
    static const char *const takes[] = {
        "local a = select(7000, unpack(t))", "local a = math.max(unpack(t))",
        "local a = math.min(unpack(t))", "local a = string.char(unpack(t))",
        "local a = bit.bor(unpack(t))", "local a = assert(unpack(t))", NULL
    };
    uint64_t none = bulk_gas("local a = t[1]");
    uint64_t unpacked = bulk_gas("local a = unpack(t)");
    uint64_t per_round = LN_GAS_VALUES(7000);       /* 7000 values, 100 rounds */
    if (unpacked < none + 100 * per_round)
        LN_FAIL("unpack of 7000 values x 100: %llu gas over %llu",
                (unsigned long long)unpacked, (unsigned long long)none);
    for (const char *const *b = takes; *b; b++) {
        uint64_t g = bulk_gas(*b);
        if (g < unpacked + 100 * per_round)
            LN_FAIL("`%s` x 100: %llu gas, unpack alone %llu", *b,
                    (unsigned long long)g, (unsigned long long)unpacked);
    }
    uint64_t one = bulk_gas("local a = s:byte(1)");
    uint64_t all = bulk_gas("local a = s:byte(1, -1)");
    if (all < one + 100 * per_round)
        LN_FAIL("s:byte(1, -1) of 7000 bytes x 100: %llu gas, s:byte(1) %llu",
                (unsigned long long)all, (unsigned long long)one);
}

TEST(sandbox_walks_pay_for_every_slot_of_an_emptied_table)
{
    /* The array part keeps its 100000+ slots once every value is cleared:
    ** a walk still visits each of them. */
    static const char *const walks[] = {
        "local m = table.maxn(t)", "for k in pairs(t) do end", "local k = next(t)",
        "for k in pairs(setmetatable({}, {__index = t})) do end", NULL
    };
    const char *src = "local t = {} for i = 1, 100000 do t[i] = i end "
                      "for i = 1, 100000 do t[i] = nil end for r = 1, 100 do %s end";
    char buf[512];
    snprintf(buf, sizeof buf, src, "local m = r");
    ln_sandbox *sb = fresh();
    uint64_t none = run(sb, buf).gas;
    for (int i = 0; walks[i]; i++) {
        snprintf(buf, sizeof buf, src, walks[i]);
        run_result r = run(sb, buf);
        ASSERT_EQ(r.rc, 0);
        /* The last one walks an empty table: it must stay cheap. */
        if (walks[i + 1] && r.gas < none + 100 * LN_GAS_SLOTS(100000))
            LN_FAIL("`%s` x 100 over 100000 empty slots: %llu gas, %llu without it",
                    walks[i], (unsigned long long)r.gas, (unsigned long long)none);
        if (!walks[i + 1] && r.gas > none + 100 * 100)
            LN_FAIL("`%s` x 100 over an empty table: %llu gas, %llu without it",
                    walks[i], (unsigned long long)r.gas, (unsigned long long)none);
    }
    ln_sandbox_free(sb);
}

/* ---- determinism across builds ---------------------------------------- */

TEST(sandbox_integer_arguments_do_not_depend_on_the_processor)
{
    ln_sandbox *sb = fresh();
    static const char *const refused[] = {
        "return string.format('%d', 0/0)", "return string.format('%5d', 1/0)",
        "return string.format('%d', 2^63)", "return string.format('%x', -2^64)",
        "return string.format('%c', 0/0)", "return string.char(65, 0/0)",
        "return math.ldexp(1, 0/0)", "return unpack({1, 2}, 1, 0/0)",
        "return ('abc'):rep(0/0)", "return ('abc'):sub(1/0)", "return ('abc'):byte(0/0)",
        "return table.concat({'a'}, '', 0/0)", "return bit.tohex(1, 0/0)",
        "return string.find('abc', 'b', 0/0)", "return string.gsub('aaa', 'a', 'b', 1/0)", NULL
    };
    for (const char *const *r = refused; *r; r++)
        ASSERT_FAILS(run(sb, *r), LN_ECALL, "no integer representation");
    /* Beyond the int32 range a position is clamped, not wrapped. */
    ASSERT_OK(run(sb, "return ('abc'):sub(2, 2^40) .. ('abc'):sub(-2^40, 1) .. "
                      "('abc'):sub(2^40) .. '|' .. string.format('%d %x %c', 2^53, -1, 65)"),
              "bca|9007199254740992 ffffffffffffffff A");
    ln_sandbox_free(sb);
}

static double powi(double x, double y)
{
    uint64_t e = (uint64_t)fabs(y);
    double r = 1, b = x;
    while (e) {
        if (e & 1) r *= b;
        e >>= 1;
        if (e) b *= b;
    }
    return y < 0 ? 1 / r : r;
}

TEST(sandbox_pow_is_integer_powering_or_refused)
{
    ln_sandbox *sb = fresh();
    /* The C library's pow rounds 1.1^10 to ...0023; binary powering, the
    ** same on every build, gives ...0019. */
    char want[128];
    snprintf(want, sizeof want, "%.17g %.17g %.17g", powi(1.1, 10), powi(1.01, -50), powi(3, 40));
    ASSERT_OK(run(sb, "local a, b = 1.1, 10 return string.format('%.17g %.17g %.17g', "
                      "a ^ b, 1.01 ^ -50, 3 ^ 40)"), want);
    ASSERT_OK(run(sb, "return tostring(10 ^ 18 == 1000000000000000000) .. (-2) ^ 3 .. "
                      "2 ^ -2 .. ' ' .. 0 ^ -1 .. ' ' .. (0/0) ^ 0 .. ' ' .. 2 ^ (1/0)"),
              "true-80.25 inf 1 inf");
    ASSERT_FAILS(run(sb, "local x = 0.5 return 2 ^ x"), LN_EFLOAT, "integer exponents");
    ASSERT_FAILS(run(sb, "return 2 ^ 0.5"), LN_EFLOAT, "integer exponents");
    ASSERT_FAILS(run(sb, "local ok = pcall(function() return 2 ^ (0/0) end) return 'caught'"),
                 LN_EFLOAT, "integer exponents");
    ASSERT_OK(run(sb, "return 'next call'"), "next call");
    /* A constant 2 ^ 0.5 is not folded when the chunk compiles: the chunk
    ** loads, and only running the expression fails. */
    ASSERT_OK(run(sb, "local function f() return 2 ^ 0.5 end return 'loads'"), "loads");
    ASSERT_FAILS(run(sb, "local function f() return 2 ^ 0.5 end return f()"), LN_EFLOAT,
                 "integer exponents");
    ln_sandbox_free(sb);
}

static const ln_test tests[] = {
    T(sandbox_new_free_repeats_and_free_null_is_a_noop),
    T(sandbox_runs_code_after_freeze),
    T(sandbox_gas_counts_every_instruction),
    T(sandbox_gas_of_n_more_iterations_is_n_more),
    T(sandbox_gas_is_exact_around_each_hook_period),
    T(sandbox_gas_is_the_same_in_a_fresh_and_a_used_sandbox),
    T(sandbox_gas_limit_kills_an_endless_loop_at_the_limit),
    T(sandbox_lean_counts_to_the_last_hook_and_kills_at_the_limit),
    T(sandbox_kill_is_sticky_through_pcall),
    T(sandbox_kill_is_not_swallowed_by_an_xpcall_handler_that_loops),
    T(sandbox_xpcall_calls_its_handler_on_an_ordinary_error),
    T(sandbox_instructions_count_while_the_meter_is_paused),
    T(sandbox_charge_kills_and_the_kill_reaches_the_host),
    T(sandbox_memory_cap_kills_a_string_bomb),
    T(sandbox_memory_cap_kills_a_table_bomb_through_pcall),
    T(sandbox_memory_cap_counts_only_growth_during_the_call),
    T(sandbox_load_refuses_bytecode),
    T(sandbox_load_reports_syntax_errors_with_the_chunk_name),
    T(sandbox_load_cached_leaves_the_same_heap_whether_the_store_had_the_chunk_or_not),
    T(sandbox_fingerprint_is_stable_across_calls),
    T(sandbox_exposes_no_escape_routes),
    T(sandbox_frozen_tables_refuse_every_write),
    T(sandbox_frozen_tables_stay_readable_and_iterable),
    T(sandbox_registered_tables_are_frozen),
    T(sandbox_globals_do_not_survive_the_call),
    T(sandbox_tostring_and_format_reveal_no_address),
    T(sandbox_pairs_order_is_numbers_strings_booleans_then_the_rest),
    T(sandbox_next_walks_on_after_the_current_key_is_cleared),
    T(sandbox_pairs_iterator_called_by_hand_does_not_crash),
    T(sandbox_table_keys_come_in_the_same_order_whatever_the_insertion_order),
    T(sandbox_gas_of_number_key_churn_is_the_same_in_every_sandbox),
    T(sandbox_gas_with_the_collector_at_work_is_the_same_in_every_sandbox),
    T(sandbox_gas_of_string_key_churn_is_the_same_in_every_sandbox),
    T(sandbox_gas_of_object_key_churn_is_the_same_in_every_sandbox),
    T(sandbox_pairs_order_of_table_keys_does_not_depend_on_earlier_calls),
    T(sandbox_capped_strings_stop_every_way_of_building_a_longer_one),
    T(sandbox_capped_strings_refuse_a_longer_literal_when_loading),
    T(sandbox_cap_strings_takes_one_power_of_two_of_8_kib_or_more),
    T(sandbox_pattern_backtracking_is_metered),
    T(sandbox_patterns_match_as_in_lua),
    T(sandbox_deep_recursion_is_an_error_not_a_crash),
    T(sandbox_linear_string_work_is_charged_even_when_nothing_is_allocated),
    T(sandbox_table_insert_refuses_positions_out_of_bounds),
    T(sandbox_table_insert_charges_each_value_it_moves),
    T(sandbox_string_rep_counts_a_number_separator),
    T(sandbox_c_functions_pay_for_each_value_they_take_or_return),
    T(sandbox_walks_pay_for_every_slot_of_an_emptied_table),
    T(sandbox_integer_arguments_do_not_depend_on_the_processor),
    T(sandbox_pow_is_integer_powering_or_refused),
    { 0 }
};

LN_TEST_MAIN(tests)
