/*
** sandbox.h -- the deterministic, metered LuaJIT state that contracts and
** plugins run in.
**
** A sandbox is one lua_State with the JIT engine off, living in an arena of
** its own: a deterministic allocator over one private mapping, so the same
** sequence of operations gives the same allocations, GC steps and object
** offsets on every node. A block executes in a fresh sandbox; nothing that
** happened in another sandbox can change a result in this one. The
** collector never runs on its own (its pacing would follow LuaJIT's
** randomly seeded string hash): full collections run only at fixed points,
** the start of a meter and count-hook firings, once what was allocated since
** the last one reaches half the live heap (1 MB at least).
**
** Code sees only a whitelist: each call gets a fresh environment table whose
** misses fall through to frozen shared tables (string, table, math, bit and
** what the host registers). pairs/next iterate in a fixed order (numbers,
** then strings by bytes, then booleans, then tables and functions in the
** order they were created: not by address, which depends on what earlier
** calls left behind). tostring and string.format reveal no address, only
** source text is ever loaded. xpcall runs its handler after the error has
** unwound, so a kill never runs code outside the meter. C functions that
** call back into Lua (gsub, sort, tostring, format, xpcall) nest at most
** LN_SANDBOX_CDEPTH deep.
**
** Metering: gas is the exact number of VM instructions executed (a count
** hook every LN_GAS_PERIOD instructions plus an exact drain of the rest at
** the end), plus what ln_sandbox_charge() takes for C work in proportion to
** its size, before the work, plus LN_GAS_ALLOC_SHIFT-scaled bytes
** allocated. Charged C work (prices below): bytes built or copied (rep,
** concat, format, sub, upper...), pattern matching step by step (the
** sandbox's own matcher, so backtracking cannot run unmetered), values a C
** function takes or returns (unpack, byte, select, max, char, bit.bor,
** assert; table.insert per value it moves), table slots a walk visits,
** empty ones too (pairs, next, maxn: an emptied array keeps its slots),
** sorts by keys and key bytes. Exceeding gas or the memory cap kills the
** call: the kill is sticky, so a pcall in the contract cannot swallow it.
**
** One VM instruction, charged as one, can do work that grows with its
** operands; what bounds each:
** - .. (LuaJIT copies the operands and, when the result exists already,
**   compares it bytewise without allocating) and <, <= on two strings
**   (bytes compared up to the first difference): a sandbox whose strings
**   are capped (ln_sandbox_cap_strings; the contract host caps at 16 KiB)
**   builds, loads and receives no longer string, so one instruction
**   touches at most that many bytes. A sandbox without a cap bounds them
**   by its memory cap only (plugins, configs).
** - moving many values at once from Lua to Lua (`f(...)` and `return ...`
**   in a function that received thousands of arguments): C functions pay
**   for every value they produce, but Lua code can pass the same varargs on
**   again and again at one instruction each, bounded only by the Lua stack
**   (about 30,000 values). Exact metering of these needs the interpreter.
**
** Results do not depend on the build: integer arguments of whitelisted
** functions are checked before LuaJIT casts them (NaN and infinities are
** refused, other numbers clamped to the int32 range, where a C cast would
** give what the processor makes of them), string.format's integer
** conversions refuse what has no integer value, and x ^ y is integer
** powering (pow(3) is replaced while sandboxed code runs or compiles): a
** fractional exponent kills the call (LN_EFLOAT).
**
** int results: 0 or a negative LN_E* code (err.h).
*/
#ifndef LN_SANDBOX_H
#define LN_SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <lua.h>
#include <lauxlib.h>

typedef struct ln_sandbox ln_sandbox;   /* opaque */

#define LN_GAS_PERIOD       512         /* instructions between count hooks */
#define LN_GAS_ALLOC_SHIFT  6           /* 1 gas per 64 bytes allocated */
#define LN_SANDBOX_ARENA    (512u << 20)   /* address space reserved per sandbox */
#define LN_SANDBOX_MEM_CAP  (32u << 20)    /* default per-call memory cap */
#define LN_SANDBOX_CDEPTH   64          /* nested C-to-Lua calls ("C stack overflow") */

/* Gas prices of C work, charged before the work is done. */
#define LN_GAS_COPY_BYTES(n)    (((uint64_t)(n) >> 4) + 1)     /* rep, concat, format, sub, upper... */
#define LN_GAS_MATCH(s, p)      ((((uint64_t)(s) + (uint64_t)(p)) >> 4) + 1)   /* set-up; then: */
#define LN_GAS_MATCH_STEPS      4           /* matcher steps (items tried, bytes scanned) per gas */
#define LN_GAS_SORT(n)          ((uint64_t)(n) * 8 + 1)        /* times log2(n), see sort */
#define LN_GAS_HASH(n)          (((uint64_t)(n) >> 2) + 100)
#define LN_GAS_VERIFY           20000
#define LN_GAS_ENCODE(work)     ((uint64_t)(work) >> 4)     /* codec work units (codec.h) */
#define LN_GAS_PAIRS(n)         ((uint64_t)(n) * 4 + 1)
#define LN_GAS_VALUES(n)        ((uint64_t)(n) >> 1)           /* values taken or returned, moved */
#define LN_GAS_SLOTS(n)         ((uint64_t)(n) >> 2)           /* table slots walked, empty or not */

/* A fresh sandbox: arena, libraries, whitelist. ud is the host's, returned by
** ln_sandbox_ud(). LN_ENOMEM when the arena or state cannot be created,
** LN_ECODE when this LuaJIT build cannot be metered exactly (the drain
** self-check fails). */
int  ln_sandbox_new(void *ud, ln_sandbox **out);
/* The same, with LuaJIT's string hash seeded from seed (32 bytes; a block
** passes its parent's hash). ln_sandbox_new uses a fixed seed. */
int  ln_sandbox_new_seeded(void *ud, const uint8_t seed[32], ln_sandbox **out);
/* The same without the drain that meter_end counts the last instructions
** with: for a sandbox whose meters end with ln_sandbox_meter_stop (a
** pricing plugin's, one per block). Compiling the drain is about half of
** what making a sandbox costs. meter_end on it gives what meter_stop
** gives. */
int  ln_sandbox_new_lean(void *ud, const uint8_t seed[32], ln_sandbox **out);
void ln_sandbox_free(ln_sandbox *sb);             /* NULL is a no-op */
/* Sandboxes may be created and run on several threads at once, one thread
** per sandbox. Those created on the calling thread from now on take their
** arena slot from the top, so the blocks' sandboxes on the loop thread keep
** the slots (hence addresses) they have on every other node: for threads
** that run queries. */
void ln_sandbox_thread_high_slots(void);
/* The same for the sandboxes this thread creates until it is called again
** with 0: for one on the loop thread whose life no other node shares (the
** pricing plugin at admission). Returns what was set before. */
int  ln_sandbox_high_slots(int on);
lua_State *ln_sandbox_L(ln_sandbox *sb);
void *ln_sandbox_ud(lua_State *L);                /* the ud given to ln_sandbox_new */
ln_sandbox *ln_sandbox_of(lua_State *L);

/* Adds a frozen table `name` of C functions to the shared globals, each
** pushed as a closure over ud (lua_upvalueindex(1)). Only before freeze. */
void ln_sandbox_register(ln_sandbox *sb, const char *name, const luaL_Reg *fns, void *ud);
/* Adds one C function global `name`, a closure over ud. Only before freeze. */
void ln_sandbox_register_fn(ln_sandbox *sb, const char *name, lua_CFunction fn, void *ud);
/* Pops the value at the top into shared global `name`. Only before freeze. */
void ln_sandbox_setglobal(ln_sandbox *sb, const char *name);
/* Makes the table at idx read-only for sandboxed code, in place: its
** entries move to a hidden table its metatable reads through, so writes
** (new keys and existing ones), rawset, table.insert/remove/sort and
** setmetatable on it raise. Reads, pairs and next see the entries; raw
** access from C (lua_next, lua_rawget, the codec) sees an empty table. */
void ln_sandbox_freeze_table(lua_State *L, int idx);
/* Locks the shared globals; call once, after registering. */
void ln_sandbox_freeze(ln_sandbox *sb);

/* Caps the strings of this sandbox at max bytes (a power of two, 8 KiB at
** least); before freeze, once. From then on a call that builds a longer
** string (.., string.rep, format, concat, gsub...) is killed (LN_ETOOBIG,
** "string too long") and source with a longer literal does not load; the
** host must hand in no longer string. LN_ECODE when this LuaJIT's
** temporary buffer cannot be found (see "strings" in sandbox.c). */
int  ln_sandbox_cap_strings(ln_sandbox *sb, size_t max);
/* The cap, 0 for none: for C functions that can refuse before building. */
size_t ln_sandbox_string_max(lua_State *L);

/* Compiles source text (never bytecode) and pushes the chunk function.
** LN_ECODE with the compiler's message pushed instead. name is the chunk
** name that error messages show. */
int  ln_sandbox_load(ln_sandbox *sb, const char *src, size_t len, const char *name);

/* ln_sandbox_load for a contract's source, through a store of compiled
** chunks every sandbox of the process shares (keyed by the hash of name
** and source): a source is parsed once, in a state of its own, and the
** sandbox always loads the bytecode, so that its heap, hence its gas, is
** the same whether the store had the chunk or not. LN_ECODE with the
** compiler's message pushed; LN_ENOMEM. */
int  ln_sandbox_load_cached(ln_sandbox *sb, const char *src, size_t len, const char *name);

/* Pushes a fresh environment: an empty table whose misses read the frozen
** shared globals. */
void ln_sandbox_newenv(ln_sandbox *sb);

/* Metering. begin arms the hook with a gas limit and a cap on memory growth
** (bytes over what is in use now); end disarms it and returns the exact gas
** used, or gas_limit when the call was killed for gas. Only one meter runs
** at a time; nested calls share it. */
void     ln_sandbox_meter_begin(ln_sandbox *sb, uint64_t gas_limit, size_t mem_cap);
uint64_t ln_sandbox_meter_end(ln_sandbox *sb);
/* meter_end without the exact count: the gas counted up to the last hook
** (a multiple of LN_GAS_PERIOD instructions plus charges), gas_limit when
** killed. For callers that need the budget, not the count (a pricing
** plugin's callbacks): it saves the drain's few hundred instructions, and
** leaves the (disarmed) hook in place for the next meter_begin. Only for
** a sandbox that runs no code outside its meters. */
uint64_t ln_sandbox_meter_stop(ln_sandbox *sb);
/* 0 while the meter runs normally; LN_EGAS or LN_EMEM once the call is killed. */
int      ln_sandbox_killed(ln_sandbox *sb);
/* Where the kill happened: "chunk:line" of the innermost Lua function then
** ("token:12"), "" when not known (a kill found only at the end of the
** call) or nothing was killed. Valid until the next meter_begin. */
const char *ln_sandbox_kill_where(const ln_sandbox *sb);
/* The gas limit of the last meter_begin. */
uint64_t ln_sandbox_gas_limit(const ln_sandbox *sb);

/* Stops charging (for host work inside a metered call, such as compiling a
** contract's source); returns what resume needs. Instructions still count. */
int  ln_sandbox_pause(ln_sandbox *sb);
void ln_sandbox_resume(ln_sandbox *sb, int paused);

/* Charges gas for C work from inside a C function called by metered code;
** on exhaustion kills the call and raises (does not return). */
void ln_sandbox_charge(lua_State *L, uint64_t gas);

/* Gas the running call may still use (UINT64_MAX when nothing is charged):
** for C work that counts as it goes and must stop when it runs out. */
uint64_t ln_sandbox_gas_left(lua_State *L);

/* Charges host work done between Lua calls (the receipt of a call that
** failed), where nothing may raise: 0, or the kill (LN_EGAS when this did
** not fit) that ln_sandbox_killed reports from now on. */
int  ln_sandbox_charge_host(ln_sandbox *sb, uint64_t gas);

/* lua_pcall for metered code. 0, LN_EGAS, LN_EMEM, or LN_ECALL with the
** error message (a string) on the stack in place of the results. A killed
** call always reports the kill, whatever the code did with the error. */
int  ln_sandbox_pcall(ln_sandbox *sb, int nargs, int nresults);

/* crypto.hash(bytes) and crypto.verify(pubkey, sig, bytes) for sandboxed
** code (contracts' crypto table, plugins' node.hash and node.verify),
** charged LN_GAS_HASH and LN_GAS_VERIFY. pubkey and sig are raw bytes or
** hex; a verify that cannot even parse them is false. */
int  ln_sandbox_l_hash(lua_State *L);
int  ln_sandbox_l_verify(lua_State *L);

/* Text of the error value at idx without calling any metamethod: strings and
** numbers as such, other values as "(error object is a T value)". */
const char *ln_sandbox_errtext(lua_State *L, int idx, size_t *len);

/* The slots a walk over the table at idx visits (lua_next, table.maxn):
** its array and hash parts, empty slots included. */
size_t ln_sandbox_table_slots(lua_State *L, int idx);

/* Bytes the arena has handed out and not taken back. */
size_t ln_sandbox_mem_used(const ln_sandbox *sb);
/* The most bytes the running (or last) meter held over what was in use at
** its begin: what a metered call grew to at its peak. */
size_t ln_sandbox_mem_peak(const ln_sandbox *sb);

/* The VM fingerprint: BLAKE2b-256 over the gas of a fixed calibration suite
** and the work of encoding a fixed value (codec.h), in hex (65 bytes with
** NUL). Two builds that meter differently differ. */
int  ln_sandbox_fingerprint(char hex[65]);

/* ---- internal: shared with whitelist.c and pattern.c ------------------ */

/* Raises "C stack overflow" once C functions that call back into sandboxed
** code are LN_SANDBOX_CDEPTH deep. */
void     ln__sandbox_check_depth(lua_State *L);
/* lua_pcall for such a C function: checks and counts the depth; a killed
** call raises again rather than return. ln__sandbox_call raises any error. */
int      ln__sandbox_pcall(lua_State *L, int nargs, int nresults);
void     ln__sandbox_call(lua_State *L, int nargs, int nresults);
/* Where pairs puts the value at idx among keys that are not numbers,
** strings or booleans. */
uint64_t ln__sandbox_order(lua_State *L, int idx);
/* The sandbox whose code this thread is running, or NULL; whether this
** thread is compiling sandboxed source. */
ln_sandbox *ln__sandbox_running(void);
int      ln__sandbox_compiling(void);
/* Kills the running call for why (LN_EFLOAT) from where no Lua error may be
** raised: the next instruction raises. No-op outside a meter. */
void     ln__sandbox_kill(ln_sandbox *sb, int why);

#endif
