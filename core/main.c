/*
** main.c -- the lunet command line.
**
** Each command is a function taking its own argv; `lunet CMD --help` prints
** its usage. Errors are one line on stderr and a non-zero exit code.
*/
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "bench.h"
#include "cli.h"
#include "daemon.h"
#include "crypto.h"
#include "err.h"
#include "lmod.h"
#include "sandbox.h"
#include "testnet.h"

#ifndef LN_SOURCE_DIR
#define LN_SOURCE_DIR "."
#endif

#define LUNET_VERSION "0.1.0"

static const char usage_main[] =
    "usage: lunet <command> [options]\n"
    "\n"
    "lunet is a blockchain node for permissioned consortium chains whose\n"
    "consensus, governance, pricing and contracts are Lua plugins running in a\n"
    "deterministic, metered LuaJIT sandbox.\n"
    "\n"
    "commands:\n"
    "  dev              run a one-validator development chain (data in .lunet/dev)\n"
    "  init             create a node's chain from a config (--home DIR --config FILE)\n"
    "  start            run a node on an existing home (--home DIR)\n"
    "  testnet N        write N node homes sharing one genesis (--out DIR)\n"
    "  keys             create, list and show account keys (new NAME, list, show NAME)\n"
    "  deploy           deploy a Lua contract: NAME FILE [ARG...] --as ACCOUNT\n"
    "  send             sign and send a transaction, print its receipt\n"
    "  query            run a contract method read-only, print the result\n"
    "  tx HASH          a transaction's status and receipt\n"
    "  block [HEIGHT]   a block (default: the head)\n"
    "  info             the node's chain_info\n"
    "  test [PATH...]   run busted specs against the real sandbox (default: contracts/)\n"
    "  bench            the standard workload: M token transfers, tx/s, latency, CPU\n"
    "  fingerprint      print this build's VM fingerprint (gas of a calibration suite)\n"
    "  version          print the version\n"
    "  help             this text\n"
    "\n"
    "`lunet <command> --help` describes each command.\n";

static const char usage_test[] =
    "usage: lunet test [options] [PATH...]\n"
    "\n"
    "Runs busted specs (files named *_spec.lua under each PATH; default\n"
    "contracts/) with the lunet.testing fixture: each testing.chain() is a fresh\n"
    "in-memory chain whose transactions are signed, checked and executed by the\n"
    "node's own code in the metered sandbox. Prints a gas report per contract\n"
    "method, then one line `N passed, N failed`. Exits non-zero when a spec fails.\n"
    "\n"
    "options (others are passed to busted):\n"
    "  --filter PATTERN   run only tests whose name matches\n"
    "  --no-gas-report    skip the gas report\n"
    "  -h, --help         this text\n";

static int has_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

/* The lua/ folder: beside the binary's parent (installed or build tree),
** else the source tree the binary was built from. */
static void lua_dir(char *out, size_t n)
{
    char exe[PATH_MAX], probe[PATH_MAX + 64];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (l > 0) {
        exe[l] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(probe, sizeof probe, "%s/../lua/lunet/testing.lua", exe);
            if (access(probe, R_OK) == 0 && strlen(exe) + 8 <= n) {
                snprintf(out, n, "%s/../lua", exe);
                return;
            }
        }
    }
    snprintf(out, n, "%s/lua", LN_SOURCE_DIR);
}

static int cmd_test(int argc, char **argv)
{
    if (has_help(argc, argv)) {
        fputs(usage_test, stdout);
        return 0;
    }
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "lunet test: cannot create a Lua state\n");
        return 1;
    }
    luaL_openlibs(L);
    char dir[PATH_MAX], path[3 * PATH_MAX];
    lua_dir(dir, sizeof dir);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    snprintf(path, sizeof path,
             "%s/?.lua;%s/?/init.lua;/usr/share/lua/5.1/?.lua;/usr/share/lua/5.1/?/init.lua;%s",
             dir, dir, lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_pushstring(L, path);
    lua_setfield(L, -2, "path");
    lua_getfield(L, -1, "cpath");
    snprintf(path, sizeof path, "%s;/usr/lib/x86_64-linux-gnu/lua/5.1/?.so",
             lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_pushstring(L, path);
    lua_setfield(L, -2, "cpath");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_lunet_core);
    lua_setfield(L, -2, "lunet.core");
    lua_pop(L, 2);

    /* Loaded before busted, so its gas table outlives busted's insulation. */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lunet.core");
    lua_call(L, 1, 1);
    lua_newtable(L);
    lua_setfield(L, -2, "gas_stats");
    lua_pop(L, 1);

    /* busted reads its command line from the global `arg`. */
    int report = 1, paths = 0;
    lua_newtable(L);
    lua_pushliteral(L, "lunet test");
    lua_rawseti(L, -2, 0);
    int n = 0;
    lua_pushliteral(L, "--output=lunet.output");
    lua_rawseti(L, -2, ++n);
    lua_pushliteral(L, "--pattern=_spec");
    lua_rawseti(L, -2, ++n);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-gas-report")) {
            report = 0;
            continue;
        }
        if (argv[i][0] != '-') paths++;
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, ++n);
    }
    if (!paths) {
        lua_pushliteral(L, "contracts");
        lua_rawseti(L, -2, ++n);
    }
    lua_setglobal(L, "arg");
    lua_pushboolean(L, report);
    lua_setglobal(L, "LUNET_GAS_REPORT");

    /* busted names the run after the chunk that calls its runner. */
    static const char run[] =
        "require('busted.runner')({ standalone = false, output = 'utfTerminal' })";
    int rc = luaL_loadbuffer(L, run, sizeof run - 1, "@lunet test");
    if (rc == 0) rc = lua_pcall(L, 0, 0, 0);
    int status = 0;
    if (rc != 0) {
        /* busted ends a failed run by raising nil; anything else is ours. */
        if (!lua_isnil(L, -1))
            fprintf(stderr, "lunet test: %s\n", lua_tostring(L, -1));
        status = 1;
    }
    lua_close(L);
    return status;
}

static int cmd_fingerprint(int argc, char **argv)
{
    if (has_help(argc, argv)) {
        puts("usage: lunet fingerprint\n\nPrints the VM fingerprint: a hash of the gas this "
             "build meters for a fixed\ncalibration suite. Nodes whose builds meter "
             "differently print different values.");
        return 0;
    }
    char hex[65];
    int rc = ln_sandbox_fingerprint(hex);
    if (rc < 0) {
        fprintf(stderr, "lunet fingerprint: %s\n", ln_strerror(rc));
        return 1;
    }
    puts(hex);
    return 0;
}

int main(int argc, char **argv)
{
    if (ln_crypto_init() < 0) {
        fprintf(stderr, "lunet: libsodium failed to initialise\n");
        return 1;
    }
    if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "-h")) {
        fputs(usage_main, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "test")) return cmd_test(argc - 1, argv + 1);
    if (!strcmp(cmd, "fingerprint")) return cmd_fingerprint(argc - 1, argv + 1);
    if (!strcmp(cmd, "dev")) return ln_cmd_dev(argc - 1, argv + 1);
    if (!strcmp(cmd, "start")) return ln_cmd_start(argc - 1, argv + 1);
    if (!strcmp(cmd, "init")) return ln_cmd_init(argc - 1, argv + 1);
    if (!strcmp(cmd, "testnet")) return ln_cmd_testnet(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return ln_cmd_bench(argc - 1, argv + 1);
    if (ln_cli_is_command(cmd)) return ln_cli_run(argc - 1, argv + 1, stdout, stderr);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("lunet %s (%s)\n", LUNET_VERSION, LUA_RELEASE);
        return 0;
    }
    fprintf(stderr, "lunet: unknown command '%s' (see lunet help)\n", cmd);
    return 2;
}
