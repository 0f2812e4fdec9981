/*
** pattern.h -- string.find, match, gmatch and gsub for the sandbox: Lua
** 5.1's patterns, matched by a matcher that charges gas as it steps
** (LN_GAS_MATCH to set up, then one gas per LN_GAS_MATCH_STEPS items
** tried or bytes scanned), so backtracking cannot run unmetered. Classes
** are ASCII whatever the locale; nesting is bounded ("pattern too
** complex"); replacement functions and tables run through
** ln__sandbox_call. Internal to the sandbox (whitelist.c installs them).
*/
#ifndef LN_PATTERN_H
#define LN_PATTERN_H

#include <lua.h>

int ln__pattern_find(lua_State *L);
int ln__pattern_match(lua_State *L);
int ln__pattern_gmatch(lua_State *L);
int ln__pattern_gsub(lua_State *L);

#endif
