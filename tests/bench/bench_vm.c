/*
** bench_vm.c -- the cost of metering: a CPU-bound Lua workload (arithmetic
** and table work, ~50M VM instructions) in a metered sandbox against the
** same code in a plain luaL_newstate() with the JIT off and no hook.
** Also runs the two halves of the difference apart: the sandbox without
** its meter (arena allocator, whitelist) and a plain state with a count
** hook (LuaJIT's hook-mode dispatch).
**
** Build and run by hand (release flags, like the node):
**   gcc -O2 -std=c11 -D_GNU_SOURCE -Icore tests/bench/bench_vm.c core/sandbox.c \
**       core/arena.c core/whitelist.c core/pattern.c core/crypto.c core/codec.c core/err.c \
**       $(pkg-config --cflags --libs luajit libsodium msgpack libcjson) -lm \
**       -o /tmp/bench_vm && /tmp/bench_vm [N [VARIANT]]
** N is the loop count (default 4000000, about 40M instructions). VARIANT
** (plain, hook, sandbox, metered) runs only that one, once: for a profiler,
** e.g. valgrind --tool=callgrind /tmp/bench_vm 1000000 metered, whose
** instruction counts do not depend on what else the machine runs.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <luajit.h>

#include "sandbox.h"

static int ROUNDS = 5;

static const char workload[] =
    "local n = ...\n"
    "local t, s = {}, 0\n"
    "for i = 1, n do\n"
    "  local k = i % 1024\n"
    "  local v = (t[k] or 0) + i * 3\n"
    "  t[k] = v\n"
    "  s = (s + v % 7) % 1000003\n"
    "end\n"
    "return s\n";

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, lua_State *L)
{
    fprintf(stderr, "bench_vm: %s: %s\n", what, L ? lua_tostring(L, -1) : "");
    exit(1);
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)L, (void)ar;
}

/* Best of ROUNDS in a plain state, JIT off; with a count hook if asked. */
static double plain(double n, int hooked, double *result)
{
    double best = 1e30;
    for (int r = 0; r < ROUNDS; r++) {
        lua_State *L = luaL_newstate();
        luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
        if (luaL_loadbuffer(L, workload, sizeof workload - 1, "=workload")) die("load", L);
        lua_pushnumber(L, n);
        if (hooked) lua_sethook(L, count_hook, LUA_MASKCOUNT, LN_GAS_PERIOD);
        double t0 = now();
        if (lua_pcall(L, 1, 1, 0)) die("run", L);
        double t = now() - t0;
        *result = lua_tonumber(L, -1);
        if (t < best) best = t;
        lua_close(L);
    }
    return best;
}

/* Best of ROUNDS in a fresh sandbox, metered or not. */
static double sandboxed(double n, int metered, double *result, uint64_t *gas)
{
    double best = 1e30;
    for (int r = 0; r < ROUNDS; r++) {
        ln_sandbox *sb;
        if (ln_sandbox_new(NULL, &sb) < 0) die("ln_sandbox_new", NULL);
        ln_sandbox_freeze(sb);
        lua_State *L = ln_sandbox_L(sb);
        if (ln_sandbox_load(sb, workload, sizeof workload - 1, "=workload") < 0) die("load", L);
        ln_sandbox_newenv(sb);
        lua_setfenv(L, -2);
        lua_pushnumber(L, n);
        double t0 = now();
        if (metered) {
            ln_sandbox_meter_begin(sb, UINT64_MAX / 4, LN_SANDBOX_MEM_CAP);
            if (ln_sandbox_pcall(sb, 1, 1) < 0) die("run", L);
            *gas = ln_sandbox_meter_end(sb);
        } else if (lua_pcall(L, 1, 1, 0)) {
            die("run", L);
        }
        double t = now() - t0;
        *result = lua_tonumber(L, -1);
        if (t < best) best = t;
        ln_sandbox_free(sb);
    }
    return best;
}

int main(int argc, char **argv)
{
    double n = argc > 1 ? atof(argv[1]) : 4000000;
    double r1, r2, r3, r4;
    uint64_t gas = 0;
    if (argc > 2) {
        const char *v = argv[2];
        double t;
        ROUNDS = 1;
        if (!strcmp(v, "plain")) t = plain(n, 0, &r1);
        else if (!strcmp(v, "hook")) t = plain(n, 1, &r1);
        else if (!strcmp(v, "sandbox")) t = sandboxed(n, 0, &r1, &gas);
        else if (!strcmp(v, "metered")) t = sandboxed(n, 1, &r1, &gas);
        else {
            fprintf(stderr, "bench_vm: variant is plain, hook, sandbox or metered\n");
            return 2;
        }
        printf("%s: %.3f s, result %.0f\n", v, t, r1);
        return 0;
    }
    double t_plain = plain(n, 0, &r1);
    double t_hook = plain(n, 1, &r2);
    double t_sb = sandboxed(n, 0, &r3, &gas);
    double t_meter = sandboxed(n, 1, &r4, &gas);
    if (r1 != r2 || r1 != r3 || r1 != r4) {
        fprintf(stderr, "bench_vm: results differ: %.0f %.0f %.0f %.0f\n", r1, r2, r3, r4);
        return 1;
    }
    printf("workload: %.0f iterations, %llu instructions (gas), best of %d\n",
           n, (unsigned long long)gas, ROUNDS);
    printf("plain state, JIT off, no hook      %8.3f s  %6.2f ns/instr  1.00x\n",
           t_plain, t_plain * 1e9 / (double)gas);
    printf("plain state, count hook every %d  %8.3f s  %6.2f ns/instr  %.2fx\n",
           LN_GAS_PERIOD, t_hook, t_hook * 1e9 / (double)gas, t_hook / t_plain);
    printf("sandbox, meter off                 %8.3f s  %6.2f ns/instr  %.2fx\n",
           t_sb, t_sb * 1e9 / (double)gas, t_sb / t_plain);
    printf("sandbox, metered                   %8.3f s  %6.2f ns/instr  %.2fx\n",
           t_meter, t_meter * 1e9 / (double)gas, t_meter / t_plain);
    return 0;
}
