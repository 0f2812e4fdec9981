/*
** whitelist.h -- what sandboxed code sees. Internal to the sandbox.
**
** The shared globals: assert error ipairs next pairs pcall rawequal rawget
** rawset select setmetatable getmetatable tonumber tostring type unpack
** xpcall, and the tables string, table (concat insert remove sort maxn),
** math (no random, nothing from libm whose last bits differ between
** builds) and bit. All are frozen. Replaced: pairs/next (a fixed order:
** numbers, strings by bytes, booleans, then other values in the order
** ln__sandbox_order gives), tostring and string.format (no addresses, no
** %p), rawset (refuses frozen tables), xpcall (the handler runs after the
** unwind), find/match/gmatch/gsub (pattern.h). Wrapped to charge before
** the work: rep, upper, lower, reverse, sub, format, byte, char,
** tonumber, unpack, select, assert, math.max/min, bit.band/bor/bxor, and
** table.concat, insert, remove, sort. Integer arguments go through
** ln__whitelist_intarg.
*/
#ifndef LN_WHITELIST_H
#define LN_WHITELIST_H

#include <lua.h>

/* Opens the libraries into L, edits the real string table in place (the
** string metatable reaches it) and locks the string metatable; pushes a new
** table of the shared globals, not yet frozen. */
void ln__whitelist_open(lua_State *L);

/* Makes the table at idx read-only in place: its entries move to a hidden
** table its metatable reads through (ln_sandbox_freeze_table). */
void ln__whitelist_freeze(lua_State *L, int idx);

/* An integer argument of a whitelisted function, checked so that the
** result does not depend on the processor: def when none or nil; NaN and
** infinities raise; else truncated toward zero, clamped to +-(2^31-1) and
** put back at idx. */
lua_Number ln__whitelist_intarg(lua_State *L, int idx, lua_Number def);

/* If the table at idx is frozen, pushes its hidden entries and returns 1;
** else pushes nothing and returns 0. */
int  ln__whitelist_entries(lua_State *L, int idx);

#endif
