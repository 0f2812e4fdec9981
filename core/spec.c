/*
** spec.c -- `lunet test`: busted specs run with the lunet.testing fixture,
** whose chains execute in the real metered sandbox (lmod.c), then the gas
** report (lua/lunet/output.lua).
*/
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "lmod.h"
#include "opts.h"
#include "paths.h"
#include "spec.h"

/* Where Debian's Lua 5.1 C modules are (busted's lfs, term, system): the
** multiarch folder of the platform this was built for (CMake's
** CMAKE_LIBRARY_ARCHITECTURE), then /usr/local. */
#ifndef LN_LIB_ARCH
#define LN_LIB_ARCH ""
#endif
#define LN_LUA_CPATH "/usr/lib/" LN_LIB_ARCH "/lua/5.1/?.so;/usr/local/lib/lua/5.1/?.so"

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

/* busted's options that take the next argument as their value (`--filter
** PAT`): that value is not a path. The `--opt=value` form is one argument. */
static int takes_value(const char *a)
{
    static const char *const with_value[] = {
        "-o", "--output", "-p", "--pattern", "--exclude-pattern", "-t", "--tags",
        "--exclude-tags", "--filter", "--filter-out", "--exclude-names-file", "--name",
        "-m", "--lpath", "--cpath", "-r", "--run", "--repeat", "--seed", "--lang",
        "--loaders", "--helper", "-e", "-C", "--directory", "-f", "--config-file",
        "-Xoutput", "--Xoutput", "-Xhelper", "--Xhelper", NULL
    };
    for (const char *const *w = with_value; *w; w++)
        if (!strcmp(a, *w)) return 1;
    return 0;
}

/* The lua/ folder (paths.h): where lua/lunet/testing.lua is. */
static void lua_dir(char *out, size_t n)
{
    if (ln_path_find("lua/lunet/testing.lua", out, n) == 0) {
        out[strlen(out) - strlen("/lunet/testing.lua")] = 0;
        return;
    }
    snprintf(out, n, "lua");
}

int ln_cmd_test(int argc, char **argv)
{
    if (ln_opts_wants_help(argc, argv)) {
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
    snprintf(path, sizeof path, "%s;%s", lua_tostring(L, -1), LN_LUA_CPATH);
    lua_pop(L, 1);
    lua_pushstring(L, path);
    lua_setfield(L, -2, "cpath");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_lunet_core);
    lua_setfield(L, -2, "lunet.core");
    lua_pop(L, 2);

    /* Loaded before busted, so its gas table and log lines outlive
    ** busted's insulation. */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lunet.core");
    lua_call(L, 1, 1);
    lua_newtable(L);
    lua_setfield(L, -2, "gas_stats");
    lua_newtable(L);
    lua_setfield(L, -2, "logs");
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
        else if (takes_value(argv[i]) && i + 1 < argc) {
            lua_pushstring(L, argv[i++]);        /* the option, then its value */
            lua_rawseti(L, -2, ++n);
        }
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

