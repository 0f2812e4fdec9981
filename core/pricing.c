/*
** pricing.c -- the host of the pricing plugin (see pricing.h).
**
** A callback runs as one metered pcall of a C function (run_cb) that builds
** the callback's arguments and then calls it: whatever the arguments cost
** (a transaction of 128 KiB becomes a table) is inside the budget and the
** memory cap, and nothing is built outside a protected call. Answers are
** read back with raw access only: a metamethod on an answer would run
** outside the meter.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "pricing.h"
#include "codec.h"
#include "err.h"
#include "params.h"
#include "registry.h"
#include "sandbox.h"
#include "stake.h"

/* Strings the host pushes for every call, interned once (str_ref): the
** keys of a fee, the proposer, the chain id. */
enum { S_FEE, S_PAYER, S_TO, S_PROPOSER, S_CHAIN, S_TXKEYS, S_NSTR = S_TXKEYS + 6 };

enum { CB_ADMIT, CB_CHARGE, CB_BLOCK, CB_QUOTE };
static const char *const cb_names[] = { "admit", "charge", "on_block", "quote" };

struct ln_pricing {
    ln_sandbox *sb;
    ln_overlay *ov;                  /* the overlay of the callback running */
    int module_ref;
    int glue_fn[4];                  /* registry: the glue's functions (cb_names) */
    int run_ref;                     /* registry: run_cb, a closure over this */
    const struct callargs *args;     /* the callback run_cb is to run */
    int has[4];                      /* which of the callbacks (cb_names) it has */
    int tx_ref;                      /* registry slot: the last transaction's table */
    int has_tx;                      /* tx_ref holds the table of tx_id */
    int str_ref[S_NSTR];             /* registry slots: strings pushed per call */
    int txmt_ref;                    /* registry: a transaction table's metatable */
    const ln_tx *cur_tx;             /* the transaction of the callback running, or NULL */
    uint8_t tx_id[LN_HASH_LEN];
    uint64_t height, time;
    char proposer[LN_NAME_MAX + 1];
    char name[LN_PLUGIN_NAME_MAX + 1];
    msgpack_sbuffer scratch;         /* a value on its way into the state */
    ln_pricing_log_fn log;
    void *log_ud;
    uint32_t nlog;                   /* lines logged by this sandbox */
};

#define LOG_LINES 16                 /* pricing.log lines a block's plugin may write */

static void push_str(lua_State *L, const ln_pricing *p, int which)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->str_ref[which]);
}

static const char *const to_names[] = { "burn", "treasury", "proposer" };

static int fee_to_of(const char *s, ln_fee_to *to)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, to_names[i]) == 0) {
            *to = (ln_fee_to)i;
            return 0;
        }
    return -1;
}

/* ---- what the plugin may call ------------------------------------------- */

static ln_pricing *self(lua_State *L) { return lua_touserdata(L, lua_upvalueindex(1)); }

static uint64_t check_uint(lua_State *L, int idx, const char *what)
{
    lua_Number n = lua_tonumber(L, idx);
    if (lua_type(L, idx) != LUA_TNUMBER || !(n >= 0) || n != (lua_Number)(int64_t)n ||
        n > (lua_Number)LN_SAFE_INT)
        luaL_error(L, "%s must be an integer from 0 to 2^53-1", what);
    return (uint64_t)n;
}

static const char *check_name(lua_State *L, int idx, const char *what)
{
    size_t n = 0;
    const char *s = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &n) : NULL;
    if (!s || !ln_name_valid(s, n)) luaL_error(L, "%s must be an account name", what);
    return s;
}

/* "f" KEY of argument 1 into buf; its length. */
static size_t check_key(lua_State *L, uint8_t buf[1 + LN_PRICING_KEY_MAX])
{
    size_t kl = 0;
    const char *k = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &kl) : NULL;
    if (!k || kl == 0 || kl > LN_PRICING_KEY_MAX)
        luaL_error(L, "pricing key must be a string of 1-%d bytes", LN_PRICING_KEY_MAX);
    buf[0] = 'f';
    memcpy(buf + 1, k, kl);
    return kl + 1;
}

static void charge_items(lua_State *L, uint64_t items)
{
    ln_sandbox_charge(L, LN_GAS_DECODE(items));
}

static int h_get(lua_State *L)
{
    ln_pricing *p = self(L);
    uint8_t key[1 + LN_PRICING_KEY_MAX];
    size_t kl = check_key(L, key);
    const uint8_t *v;
    size_t vl;
    ln_sandbox_charge(L, LN_GAS_STORE_READ(0));
    int rc = ln_overlay_get(p->ov, key, kl, &v, &vl);
    if (rc == LN_ENOTFOUND) {
        lua_pushnil(L);
        return 1;
    }
    if (rc < 0) return luaL_error(L, "pricing.get: %s", ln_strerror(rc));
    ln_sandbox_charge(L, LN_GAS_STORE_READ(vl));
    rc = ln_codec_decode_lua_charged(L, v, vl, LN_STATE_VALUE_MAX, charge_items);
    if (rc < 0) return luaL_error(L, "pricing.get: stored value: %s", ln_strerror(rc));
    return 1;
}

static int h_set(lua_State *L)
{
    ln_pricing *p = self(L);
    uint8_t key[1 + LN_PRICING_KEY_MAX];
    size_t kl = check_key(L, key);
    int rc;
    if (lua_isnoneornil(L, 2)) {
        ln_sandbox_charge(L, LN_GAS_STORE_WRITE(kl));
        rc = ln_overlay_delete(p->ov, key, kl);
    } else {
        msgpack_packer pk;
        p->scratch.size = 0;
        msgpack_packer_init(&pk, &p->scratch, msgpack_sbuffer_write);
        uint64_t left = ln_sandbox_gas_left(L);
        ln_codec_meter m = { 0, left >= UINT64_MAX / 16 ? UINT64_MAX : left * 16 + 15,
                             LN_STATE_VALUE_MAX, ln_sandbox_table_slots };
        rc = ln_codec_pack_lua_metered(L, 2, &pk, &m);
        ln_sandbox_charge(L, LN_GAS_ENCODE(m.work));
        if (rc < 0) return luaL_error(L, "pricing.set: %s", ln_strerror(rc));
        ln_sandbox_charge(L, LN_GAS_STORE_WRITE(kl + p->scratch.size));
        rc = ln_overlay_set(p->ov, key, kl, (const uint8_t *)p->scratch.data, p->scratch.size);
    }
    if (rc < 0) return luaL_error(L, "pricing.set: %s", ln_strerror(rc));
    return 0;
}

static int h_balance(lua_State *L)
{
    ln_pricing *p = self(L);
    const char *name = check_name(L, 1, "pricing.balance: account");
    ln_sandbox_charge(L, LN_GAS_STORE_READ(128));
    ln_account a;
    int rc = ln_account_load(p->ov, name, &a);
    if (rc == LN_ENOTFOUND) lua_pushnil(L);
    else if (rc < 0) return luaL_error(L, "pricing.balance: %s", ln_strerror(rc));
    else lua_pushnumber(L, (lua_Number)a.balance);
    return 1;
}

static int h_stake(lua_State *L)
{
    ln_pricing *p = self(L);
    const char *name = check_name(L, 1, "pricing.stake: account");
    ln_sandbox_charge(L, LN_GAS_STORE_READ(64));
    ln_stake s;
    int rc = ln_stake_load(p->ov, name, &s);
    if (rc < 0) return luaL_error(L, "pricing.stake: %s", ln_strerror(rc));
    lua_pushnumber(L, (lua_Number)s.stake);
    return 1;
}

static int h_total_stake(lua_State *L)
{
    ln_pricing *p = self(L);
    ln_sandbox_charge(L, LN_GAS_STORE_READ(8));
    uint64_t t;
    int rc = ln_stake_total(p->ov, &t);
    if (rc < 0) return luaL_error(L, "pricing.total_stake: %s", ln_strerror(rc));
    lua_pushnumber(L, (lua_Number)t);
    return 1;
}

static int h_collect(lua_State *L)
{
    ln_pricing *p = self(L);
    ln_fee f;
    memset(&f, 0, sizeof f);
    const char *name = check_name(L, 1, "pricing.collect: account");
    f.fee = check_uint(L, 2, "pricing.collect: amount");
    ln_fee_to to;
    const char *ts = lua_type(L, 3) == LUA_TSTRING ? lua_tostring(L, 3) : "";
    if (fee_to_of(ts, &to) < 0)
        return luaL_error(L, "pricing.collect: to must be burn, treasury or proposer");
    f.to[to] = f.fee;
    snprintf(f.payer, sizeof f.payer, "%s", name);
    ln_sandbox_charge(L, 3 * LN_GAS_STORE_WRITE(128));
    uint64_t taken = 0;
    int rc = ln_pricing_pay(p->ov, &f, p->proposer, &taken);
    if (rc == LN_ENOACCOUNT) return luaL_error(L, "pricing.collect: no account %s", name);
    if (rc < 0) return luaL_error(L, "pricing.collect: %s", ln_strerror(rc));
    lua_pushnumber(L, (lua_Number)taken);
    return 1;
}

static int h_chain(lua_State *L)
{
    ln_pricing *p = self(L);
    ln_sandbox_charge(L, LN_GAS_STORE_READ(128));
    ln_params pa;
    int rc = ln_params_load(p->ov, &pa);
    if (rc < 0) return luaL_error(L, "pricing.chain: %s", ln_strerror(rc));
    lua_createtable(L, 0, LN_PARAMS_COUNT);
    for (int i = 0; i < LN_PARAMS_COUNT; i++) {
        lua_pushnumber(L, (lua_Number)ln_params_get(&pa, i));
        lua_setfield(L, -2, ln_params_name(i));
    }
    return 1;
}

static int h_muldiv(lua_State *L)
{
    uint64_t a = check_uint(L, 1, "pricing.muldiv: a"), b = check_uint(L, 2, "pricing.muldiv: b");
    uint64_t c = check_uint(L, 3, "pricing.muldiv: c");
    if (c == 0) return luaL_error(L, "pricing.muldiv: division by zero");
    unsigned __int128 r = (unsigned __int128)a * b / c;
    if (r > (unsigned __int128)LN_SAFE_INT) return luaL_error(L, "pricing.muldiv: result beyond 2^53-1");
    lua_pushnumber(L, (lua_Number)(uint64_t)r);
    return 1;
}

/* log(...): its arguments as text, tab-separated, cut at 200 bytes. */
static int h_log(lua_State *L)
{
    ln_pricing *p = self(L);
    char line[256];
    size_t n = 0;
    int top = lua_gettop(L);
    for (int i = 1; i <= top && n < 200; i++) {
        size_t l;
        const char *s = ln_sandbox_errtext(L, i, &l);
        n += (size_t)snprintf(line + n, sizeof line - n, "%s%.*s", i > 1 ? "\t" : "",
                              (int)(l > 200 ? 200 : l), s);
    }
    line[n < 200 ? n : 200] = 0;
    ln_sandbox_charge(L, LN_GAS_COPY_BYTES(n));
    /* A plugin that logs per transaction must not flood the node's log. */
    if (p->log && p->nlog < LOG_LINES) p->log(p->log_ud, line);
    if (p->log && ++p->nlog == LOG_LINES + 1) p->log(p->log_ud, "(more lines of this block dropped)");
    return 0;
}

static const luaL_Reg pricing_api[] = {
    { "get", h_get }, { "set", h_set }, { "balance", h_balance }, { "stake", h_stake },
    { "total_stake", h_total_stake }, { "collect", h_collect }, { "chain", h_chain },
    { "muldiv", h_muldiv }, { "log", h_log }, { NULL, NULL }
};

/* Adds amount to the balance of dst, when there is such an account. */
static int credit(ln_overlay *ov, const char *dst, uint64_t amount)
{
    ln_account a;
    if (!amount || !dst || !dst[0]) return 0;
    int rc = ln_account_load(ov, dst, &a);
    if (rc == LN_ENOTFOUND || rc == LN_EBADNAME) return 0;   /* nobody to give it to: burned */
    if (rc < 0) return rc;
    a.balance += amount;
    return ln_account_save(ov, &a);
}

int ln_pricing_pay(ln_overlay *ov, const ln_fee *f, const char *proposer, uint64_t *taken)
{
    ln_account a;
    *taken = 0;
    int rc = ln_account_load(ov, f->payer, &a);
    if (rc == LN_ENOTFOUND || rc == LN_EBADNAME) return LN_ENOACCOUNT;
    if (rc < 0) return rc;
    uint64_t t = f->fee < a.balance ? f->fee : a.balance;
    if (t == 0) return 0;
    a.balance -= t;
    if ((rc = ln_account_save(ov, &a)) < 0) return rc;
    *taken = t;
    uint64_t left = t, got[LN_FEE_NTO];
    for (int i = 0; i < LN_FEE_NTO; i++) {
        got[i] = f->to[i] < left ? f->to[i] : left;
        left -= got[i];
    }
    if ((rc = credit(ov, "treasury", got[LN_FEE_TREASURY])) < 0) return rc;
    return credit(ov, proposer, got[LN_FEE_PROPOSER]);
}

/* ---- Lua values of the host's C types ------------------------------------ */

static void set_num(lua_State *L, const char *k, uint64_t v)
{
    lua_pushnumber(L, (lua_Number)v);
    lua_setfield(L, -2, k);
}

static void set_str(lua_State *L, const char *k, const char *v, size_t n)
{
    lua_pushlstring(L, v, n);
    lua_setfield(L, -2, k);
}

/* The glue between the host and the plugin's callbacks, run in the
** plugin's sandbox: it fills the callbacks' argument tables and calls the
** plugin's function of the moment (looked up on every call: a plugin may
** replace its callbacks). The tables for
** usage, sender, ctx, totals and header are made once and refilled for
** each call (a table per call would be garbage to collect per
** transaction): they are the plugin's to read during the call, not to
** keep. Each callback's glue runs inside its budget: few instructions
** (no helper calls, upvalues read once). The plugin is called from the
** same lines as ever (18, 23, 28, 32): a plugin that replaces a callback
** with what is not a function fails with "pricing glue:LINE: attempt to
** call ...", and that text is in what nodes answer. Trusted code, loaded
** before the plugin, reached only from the registry. */
static const char glue_src[] =
    "local M, none = ...\n"
    "local rawget = rawget\n"
    "local U = { gas = 0, storage_added = 0, storage_freed = 0, tx_bytes = 0, mem_peak = 0,\n"
    "            calls = 0, events_bytes = 0, stored = false }\n"
    "local T = { gas = 0, storage_added = 0, storage_freed = 0, tx_bytes = 0, mem_peak = 0,\n"
    "            calls = 0, events_bytes = 0, txs = 0 }\n"
    "local S = { account = '', balance = 0, nonce = 0 }\n"
    "local C = { contract = '', method = '', height = 0, time = 0, proposer = '' }\n"
    "local H = { height = 0, time = 0, proposer = '' }\n"
    "-- (four lines where a helper was: error texts name the lines of the\n"
    "-- calls below, 18, 23, 28 and 32, and nodes give those texts out, so\n"
    "-- the calls stay where they always were)\n"
    "--\n"
    "return {\n"

    "  admit = function(tx, account, balance, nonce)\n"
    "    local s = S\n"
    "    s.account, s.balance, s.nonce = account, balance, nonce\n"
    "    return rawget(M, 'admit')(tx, s)\n"                                   /* line 18 */
    "  end,\n"
    "  charge = function(tx, gas, sa, sf, txb, mp, calls, eb, stored, contract, method, h, t, p)\n"
    "    local u, c = U, C u.gas, u.storage_added, u.storage_freed, u.tx_bytes = gas, sa, sf, txb\n"
    "    u.mem_peak, u.calls, u.events_bytes, u.stored = mp, calls, eb, stored or none c.contract, "
    "c.method, c.height, c.time, c.proposer = contract, method, h, t, p\n"
    "    return rawget(M, 'charge')(u, tx, c)\n"                               /* line 23 */
    "  end,\n"
    "  on_block = function(ntx, gas, sa, sf, txb, mp, calls, eb, h, t, p)\n"
    "    local u, hd = T, H u.gas, u.storage_added, u.storage_freed, u.tx_bytes = gas, sa, sf, txb\n"
    "    u.mem_peak, u.calls, u.events_bytes, u.txs = mp, calls, eb, ntx hd.height, hd.time, "
    "hd.proposer = h, t, p\n"
    "    return rawget(M, 'on_block')(u, hd)\n"                                /* line 28 */
    "  end,\n"
    "  quote = function(tx, gas, sa, sf, txb, mp, calls, eb, stored)\n"
    "    local u = U u.gas, u.storage_added, u.storage_freed, u.tx_bytes = gas, sa, sf, txb "
    "u.mem_peak, u.calls, u.events_bytes, u.stored = mp, calls, eb, stored or none\n"
    "    return rawget(M, 'quote')(tx, u)\n"                                   /* line 32 */
    "  end,\n"
    "}\n";

/* tx.actions, built when first read (most models never read it): the
** __index of a transaction's table, while a callback about it runs. */
static int tx_index(lua_State *L)
{
    ln_pricing *p = self(L);
    if (lua_type(L, 2) != LUA_TSTRING || strcmp(lua_tostring(L, 2), "actions") != 0) return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->tx_ref);
    int current = p->cur_tx && lua_rawequal(L, 1, -1);
    lua_pop(L, 1);
    if (!current) return luaL_error(L, "tx.actions is read only while a callback about tx runs");
    const ln_tx *tx = p->cur_tx;
    lua_createtable(L, (int)tx->nactions, 0);
    for (uint32_t i = 0; i < tx->nactions; i++) {
        const char *c, *m;
        size_t cl, ml;
        const msgpack_object *args;
        ln_tx_action(tx, i, &c, &cl, &m, &ml, &args);
        lua_createtable(L, 0, 3);
        lua_pushlstring(L, c, cl);
        lua_setfield(L, -2, "contract");
        lua_pushlstring(L, m, ml);
        lua_setfield(L, -2, "method");
        if (ln_codec_push(L, args) < 0) return luaL_error(L, "transaction arguments do not decode");
        lua_setfield(L, -2, "args");
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);
    return 1;
}

/* The transaction's table: built once per transaction (admit and charge
** share it). */
static void push_tx(lua_State *L, ln_pricing *p, const ln_tx *tx)
{
    if (p->has_tx && memcmp(p->tx_id, tx->id, LN_HASH_LEN) == 0) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, p->tx_ref);
        return;
    }
    const uint64_t nums[] = { tx->expires, tx->max_fee, tx->nonce, tx->size };
    lua_createtable(L, 0, 7);
    for (int i = 0; i < 6; i++) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, p->str_ref[S_TXKEYS + i]);
        if (i == 0) {
            lua_pushstring(L, tx->account);
        } else if (i == 1) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, p->str_ref[S_CHAIN]);
            if (strcmp(lua_tostring(L, -1), tx->chain_id) != 0) {   /* the first, or another chain's */
                lua_pop(L, 1);
                lua_pushstring(L, tx->chain_id);
                lua_pushvalue(L, -1);
                lua_rawseti(L, LUA_REGISTRYINDEX, p->str_ref[S_CHAIN]);
            }
        } else {
            lua_pushnumber(L, (lua_Number)nums[i - 2]);
        }
        lua_rawset(L, -3);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->txmt_ref);
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawseti(L, LUA_REGISTRYINDEX, p->tx_ref);
    p->has_tx = 1;
    memcpy(p->tx_id, tx->id, LN_HASH_LEN);
}

/* The usage's seven numbers, then (with_stored) its stored table. */
static void push_usage(lua_State *L, const ln_usage *u, int with_stored)
{
    lua_pushnumber(L, (lua_Number)u->gas);
    lua_pushnumber(L, (lua_Number)u->storage_added);
    lua_pushnumber(L, (lua_Number)u->storage_freed);
    lua_pushnumber(L, (lua_Number)u->tx_bytes);
    lua_pushnumber(L, (lua_Number)u->mem_peak);
    lua_pushnumber(L, (lua_Number)u->calls);
    lua_pushnumber(L, (lua_Number)u->events_bytes);
    if (!with_stored) return;
    if (!u->nstored) {
        lua_pushnil(L);                 /* the glue's frozen empty table */
        return;
    }
    lua_createtable(L, 0, (int)u->nstored);
    for (uint32_t i = 0; i < u->nstored; i++) {
        lua_pushnumber(L, (lua_Number)u->stored[i].bytes);
        lua_setfield(L, -2, u->stored[i].contract);
    }
}

typedef struct callargs {
    int kind, nres;
    const ln_tx *tx;
    const ln_account *sender;
    const ln_usage *u;
    uint64_t ntx;
} callargs;

/* run_cb(): the protected, metered body of a callback (p->args): its
** arguments, then the call through the glue. One closure per plugin, made
** at load: a closure per call would be garbage to collect. */
static int run_cb(lua_State *L)
{
    ln_pricing *p = self(L);
    const callargs *a = p->args;
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->glue_fn[a->kind]);
    switch (a->kind) {
    case CB_ADMIT:
        push_tx(L, p, a->tx);
        lua_pushstring(L, a->sender->name);
        lua_pushnumber(L, (lua_Number)a->sender->balance);
        lua_pushnumber(L, (lua_Number)a->sender->nonce);
        break;
    case CB_CHARGE: {
        const char *c, *m;
        size_t cl, ml;
        const msgpack_object *args;
        ln_tx_action(a->tx, 0, &c, &cl, &m, &ml, &args);
        push_tx(L, p, a->tx);
        push_usage(L, a->u, 1);
        lua_pushlstring(L, c, cl);
        lua_pushlstring(L, m, ml);
        lua_pushnumber(L, (lua_Number)p->height);
        lua_pushnumber(L, (lua_Number)p->time);
        push_str(L, p, S_PROPOSER);
        break;
    }
    case CB_BLOCK:
        lua_pushnumber(L, (lua_Number)a->ntx);
        push_usage(L, a->u, 0);
        lua_pushnumber(L, (lua_Number)p->height);
        lua_pushnumber(L, (lua_Number)p->time);
        push_str(L, p, S_PROPOSER);
        break;
    case CB_QUOTE:
        push_tx(L, p, a->tx);
        push_usage(L, a->u, 1);
        break;
    }
    lua_call(L, lua_gettop(L) - 1, a->nres);
    return a->nres;
}

/* 1 when the plugin's table has a function for callback kind. */
static int find(ln_pricing *p, int kind)
{
    lua_State *L = ln_sandbox_L(p->sb);
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->module_ref);
    lua_pushstring(L, cb_names[kind]);
    lua_rawget(L, -2);
    int yes = lua_isfunction(L, -1);
    lua_pop(L, 2);
    return yes;
}

/* Runs callback a->kind over ov, metered, leaving its a->nres results on
** the stack; LN_EPLUGIN with why when it failed. */
static int call(ln_pricing *p, ln_overlay *ov, callargs *a, char *why, size_t whylen)
{
    lua_State *L = ln_sandbox_L(p->sb);
    lua_settop(L, 0);
    p->ov = ov;
    p->cur_tx = a->tx;
    p->args = a;
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->run_ref);
    ln_sandbox_meter_begin(p->sb, LN_PRICING_BUDGET, LN_PRICING_MEM);
    int rc = ln_sandbox_pcall(p->sb, 0, a->nres);
    ln_sandbox_meter_stop(p->sb);
    p->ov = NULL;
    p->cur_tx = NULL;
    p->args = NULL;
    if (rc == 0) return 0;
    if (rc == LN_EGAS) {
        ln_errf(why, whylen, LN_EPLUGIN, "pricing plugin %s: %s: stopped after its budget of %llu "
                "instructions", p->name, cb_names[a->kind], (unsigned long long)LN_PRICING_BUDGET);
    } else if (rc == LN_EMEM) {
        ln_errf(why, whylen, LN_EPLUGIN, "pricing plugin %s: %s: stopped at its memory cap of %u "
                "bytes", p->name, cb_names[a->kind], LN_PRICING_MEM);
    } else {
        size_t n;
        const char *e = ln_sandbox_errtext(L, -1, &n);
        ln_errf(why, whylen, LN_EPLUGIN, "pricing plugin %s: %s: %.*s", p->name, cb_names[a->kind],
                (int)(n > 300 ? 300 : n), e);
    }
    lua_settop(L, 0);
    return LN_EPLUGIN;
}

/* The refusal "false, why" at the top two slots: its code (named at the
** start of why, among the transaction errors, else LN_EPRICING) and why. */
static int refusal(ln_pricing *p, const char *cb, char *why, size_t whylen)
{
    lua_State *L = ln_sandbox_L(p->sb);
    size_t n = 0;
    const char *r = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
    if (!r) {
        r = "refused";
        n = 7;
    }
    int code = LN_EPRICING;
    size_t skip = 0;
    if (n > 2 && r[0] == 'E') {
        size_t k = 1;
        while (k < n && k < 16 && r[k] >= 'A' && r[k] <= 'Z') k++;
        if (k < n && r[k] == ':') {
            char name[16];
            memcpy(name, r, k);
            name[k] = 0;
            for (int c = -59; c <= -40; c++)
                if (strcmp(ln_errname(c), name) == 0) {
                    code = c;
                    skip = k + 1;
                    while (skip < n && r[skip] == ' ') skip++;
                }
        }
    }
    ln_errf(why, whylen, code, "%.*s", (int)(n - skip > 300 ? 300 : n - skip), r + skip);
    (void)cb;
    lua_settop(L, 0);
    return code;
}

/* What an answer is, for a message about garbage. */
static const char *what(lua_State *L, int idx)
{
    return lua_typename(L, lua_type(L, idx));
}

/* Reads {fee, payer, to} at the top into out. */
static int read_fee(ln_pricing *p, const char *cb, const ln_tx *tx, ln_fee *out, char *why,
                    size_t whylen)
{
    lua_State *L = ln_sandbox_L(p->sb);
    int t = lua_gettop(L) - 1;           /* the answer; the reason after it */
    if (!lua_toboolean(L, t)) return refusal(p, cb, why, whylen);
    int rc = 0;
    if (!lua_istable(L, t)) {
        rc = ln_errf(why, whylen, LN_EPLUGIN, "pricing plugin %s: %s returned a %s, not a table "
                     "{fee, payer, to} or false", p->name, cb, what(L, t));
        goto done;
    }
    push_str(L, p, S_FEE);
    lua_rawget(L, t);
    lua_Number f = lua_tonumber(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER || !(f >= 0) || f != (lua_Number)(int64_t)f ||
        f > (lua_Number)LN_SAFE_INT) {
        rc = ln_errf(why, whylen, LN_EPLUGIN, "pricing plugin %s: %s: fee must be an integer from "
                     "0 to 2^53-1, not a %s", p->name, cb, what(L, -1));
        goto done;
    }
    out->fee = (uint64_t)f;
    push_str(L, p, S_PAYER);
    lua_rawget(L, t);
    size_t pl = 0;
    const char *payer = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &pl) : NULL;
    if (!payer || !ln_name_valid(payer, pl)) {
        rc = ln_errf(why, whylen, LN_EPLUGIN, "pricing plugin %s: %s: payer must be an account name",
                     p->name, cb);
        goto done;
    }
    memcpy(out->payer, payer, pl + 1);
    push_str(L, p, S_TO);
    lua_rawget(L, t);
    memset(out->to, 0, sizeof out->to);
    ln_fee_to to = LN_FEE_BURN;
    if (lua_isnil(L, -1) || (lua_type(L, -1) == LUA_TSTRING && fee_to_of(lua_tostring(L, -1), &to) == 0)) {
        out->to[to] = out->fee;
    } else if (lua_istable(L, -1)) {
        /* Amounts for some of burn, treasury and proposer, adding up to fee. */
        uint64_t sum = 0;
        int bad = 0;
        for (int i = 0; i < LN_FEE_NTO && !bad; i++) {
            lua_pushstring(L, to_names[i]);
            lua_rawget(L, -2);
            lua_Number x = lua_tonumber(L, -1);
            if (!lua_isnil(L, -1) && (lua_type(L, -1) != LUA_TNUMBER || !(x >= 0) ||
                                      x != (lua_Number)(int64_t)x || x > (lua_Number)LN_SAFE_INT))
                bad = 1;
            else if (!lua_isnil(L, -1))
                sum += out->to[i] = (uint64_t)x;
            lua_pop(L, 1);
        }
        if (bad || sum != out->fee) {
            rc = ln_errf(why, whylen, LN_EPLUGIN, "pricing plugin %s: %s: the amounts of to must be "
                         "integers that add up to fee", p->name, cb);
            goto done;
        }
    } else {
        rc = ln_errf(why, whylen, LN_EPLUGIN, "pricing plugin %s: %s: to must be burn, treasury, "
                     "proposer or a table of amounts for them", p->name, cb);
        goto done;
    }
    if (strcmp(out->payer, tx->account) == 0 && out->fee > tx->max_fee)
        rc = ln_errf(why, whylen, LN_EPLUGIN, "pricing plugin %s: %s asked %s for %llu, more than its "
                     "max_fee %llu", p->name, cb, tx->account, (unsigned long long)out->fee,
                     (unsigned long long)tx->max_fee);
done:
    lua_settop(L, 0);
    return rc;
}

/* ---- the callbacks -------------------------------------------------------- */

int ln_pricing_admit(ln_pricing *p, ln_overlay *ov, const ln_tx *tx, const ln_account *sender,
                     uint64_t *gas_limit, char *why, size_t whylen)
{
    *gas_limit = UINT64_MAX;
    if (!p->has[CB_ADMIT]) return 0;
    callargs a = { CB_ADMIT, 2, tx, sender, NULL, 0 };
    int rc = call(p, ov, &a, why, whylen);
    if (rc < 0) return rc;
    lua_State *L = ln_sandbox_L(p->sb);
    if (lua_type(L, 1) != LUA_TBOOLEAN && !lua_isnil(L, 1)) {
        rc = ln_errf(why, whylen, LN_EPLUGIN, "pricing plugin %s: admit returned a %s, not true or "
                     "false", p->name, what(L, 1));
    } else if (!lua_toboolean(L, 1)) {
        return refusal(p, "admit", why, whylen);
    } else if (!lua_isnil(L, 2)) {
        lua_Number n = lua_tonumber(L, 2);
        if (lua_type(L, 2) != LUA_TNUMBER || !(n >= 0) || n != (lua_Number)(int64_t)n ||
            n > (lua_Number)LN_SAFE_INT)
            rc = ln_errf(why, whylen, LN_EPLUGIN, "pricing plugin %s: admit: the gas limit must be "
                         "an integer from 0 to 2^53-1, not a %s", p->name, what(L, 2));
        else
            *gas_limit = (uint64_t)n;
    }
    lua_settop(L, 0);
    return rc;
}

int ln_pricing_charge(ln_pricing *p, ln_overlay *ov, const ln_tx *tx, const ln_usage *u,
                      ln_fee *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    callargs a = { CB_CHARGE, 2, tx, NULL, u, 0 };
    int rc = call(p, ov, &a, why, whylen);
    if (rc == 0) rc = read_fee(p, "charge", tx, out, why, whylen);
    if (rc == 0 && strcmp(out->payer, tx->account) != 0 && !ln_account_exists(ov, out->payer))
        rc = ln_errf(why, whylen, LN_EPLUGIN, "pricing plugin %s: charge: the payer %s has no account",
                     p->name, out->payer);
    return rc;
}

int ln_pricing_block(ln_pricing *p, ln_overlay *ov, const ln_usage *totals, uint64_t ntx,
                     char *why, size_t whylen)
{
    if (!p->has[CB_BLOCK]) return 0;
    callargs a = { CB_BLOCK, 0, NULL, NULL, totals, ntx };
    return call(p, ov, &a, why, whylen);
}

int ln_pricing_quote(ln_pricing *p, ln_overlay *ov, const ln_tx *tx, const ln_usage *u,
                     ln_fee *out, char *why, size_t whylen)
{
    if (!p->has[CB_QUOTE]) return ln_pricing_charge(p, ov, tx, u, out, why, whylen);
    memset(out, 0, sizeof *out);
    callargs a = { CB_QUOTE, 2, tx, NULL, u, 0 };
    int rc = call(p, ov, &a, why, whylen);
    if (rc == 0) rc = read_fee(p, "quote", tx, out, why, whylen);
    return rc;
}

/* ---- loading -------------------------------------------------------------- */

static int load(ln_pricing *p, const ln_blockinfo *bi, const char *code, size_t cl,
                const uint8_t *params, size_t plen, char *why, size_t whylen)
{
    int rc = ln_sandbox_new_lean(p, bi->hash, &p->sb);     /* its meters stop, never drain */
    if (rc < 0) return ln_errf(why, whylen, rc, "pricing plugin: %s", ln_strerror(rc));
    lua_State *L = ln_sandbox_L(p->sb);
    lua_createtable(L, 0, 12);
    for (const luaL_Reg *r = pricing_api; r->name; r++) {
        lua_pushlightuserdata(L, p);
        lua_pushcclosure(L, r->func, 1);
        lua_setfield(L, -2, r->name);
    }
    if (params && plen) rc = ln_codec_decode_lua(L, params, plen);
    else lua_newtable(L);
    if (rc < 0) return ln_errf(why, whylen, LN_EPLUGIN, "pricing plugin %s: params: %s", p->name,
                               ln_strerror(rc));
    ln_sandbox_freeze_table(L, -1);
    lua_setfield(L, -2, "params");
    ln_sandbox_freeze_table(L, -1);
    ln_sandbox_setglobal(p->sb, "pricing");
    lua_createtable(L, 0, 3);
    set_num(L, "height", p->height);
    set_num(L, "time", p->time);
    set_str(L, "proposer", p->proposer, strlen(p->proposer));
    ln_sandbox_freeze_table(L, -1);
    ln_sandbox_setglobal(p->sb, "block");
    ln_sandbox_freeze(p->sb);
    char chunk[LN_PLUGIN_NAME_MAX + 8];
    snprintf(chunk, sizeof chunk, "=%s", p->name);
    if (ln_sandbox_load_cached(p->sb, code, cl, chunk) < 0)
        return ln_errf(why, whylen, LN_EPLUGIN, "pricing plugin %s does not load: %s", p->name,
                       lua_tostring(L, -1));
    ln_sandbox_newenv(p->sb);
    lua_setfenv(L, -2);
    ln_sandbox_meter_begin(p->sb, LN_PRICING_BUDGET, LN_PRICING_MEM);
    rc = ln_sandbox_pcall(p->sb, 0, 1);
    ln_sandbox_meter_end(p->sb);
    if (rc < 0) {
        size_t n;
        const char *e = ln_sandbox_errtext(L, -1, &n);
        return ln_errf(why, whylen, LN_EPLUGIN, "pricing plugin %s: %.*s", p->name,
                       (int)(n > 300 ? 300 : n), e);
    }
    if (!lua_istable(L, -1))
        return ln_errf(why, whylen, LN_EPLUGIN, "pricing plugin %s must return a table of callbacks",
                       p->name);
    p->module_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    for (int k = 0; k < 4; k++) {
        p->has[k] = find(p, k);
        lua_rawgeti(L, LUA_REGISTRYINDEX, p->module_ref);
        lua_pushstring(L, cb_names[k]);
        lua_rawget(L, -2);
        int other = !p->has[k] && !lua_isnil(L, -1);
        lua_pop(L, 2);
        if (other)
            return ln_errf(why, whylen, LN_EPLUGIN, "pricing plugin %s: %s must be a function",
                           p->name, cb_names[k]);
    }
    /* Parsed once per process, like the plugins (a parse per block cost a
    ** third of opening the plugin). */
    if (ln_sandbox_load_cached(p->sb, glue_src, sizeof glue_src - 1, "=pricing glue") < 0)
        return ln_errf(why, whylen, LN_ECODE, "pricing glue: %s", lua_tostring(L, -1));
    ln_sandbox_newenv(p->sb);
    lua_setfenv(L, -2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->module_ref);
    lua_newtable(L);
    ln_sandbox_freeze_table(L, -1);
    if (lua_pcall(L, 2, 1, 0) != 0 || !lua_istable(L, -1))
        return ln_errf(why, whylen, LN_ECODE, "pricing glue does not run");
    for (int k = 0; k < 4; k++) {              /* the glue is the host's: it never changes */
        lua_pushstring(L, cb_names[k]);
        lua_rawget(L, -2);
        p->glue_fn[k] = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_pop(L, 1);
    lua_pushlightuserdata(L, p);
    lua_pushcclosure(L, run_cb, 1);
    p->run_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushboolean(L, 0);
    p->tx_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    const char *strs[S_NSTR] = { "fee", "payer", "to", p->proposer, "",
                                 "account", "chain_id", "expires", "max_fee", "nonce", "size" };
    for (int i = 0; i < S_NSTR; i++) {
        lua_pushstring(L, strs[i]);
        p->str_ref[i] = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_createtable(L, 0, 1);                /* a transaction's metatable: actions on demand */
    lua_pushlightuserdata(L, p);
    lua_pushcclosure(L, tx_index, 1);
    lua_setfield(L, -2, "__index");
    p->txmt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (!p->has[CB_CHARGE])
        return ln_errf(why, whylen, LN_EPLUGIN, "pricing plugin %s has no function charge", p->name);
    return 0;
}

int ln_pricing_open(ln_overlay *ov, const ln_blockinfo *bi, const char *proposer,
                    ln_pricing **out, char *why, size_t whylen)
{
    *out = NULL;
    ln_plugin_ref ref;
    int rc = ln_registry_at(ov, LN_SLOT_PRICING, bi->height, &ref);
    if (rc == LN_ENOTFOUND) return 0;
    if (rc < 0) return ln_errf(why, whylen, rc, "pricing: the registry: %s", ln_strerror(rc));
    char *code = NULL;
    size_t cl = 0;
    ln_pricing *p = calloc(1, sizeof *p);
    if (!p) rc = ln_errf(why, whylen, LN_ENOMEM, "%s", ln_strerror(LN_ENOMEM));
    else if ((rc = ln_registry_code(ov, ref.hash, &code, &cl)) < 0)
        ln_errf(why, whylen, LN_EIO, "pricing: the code of %s: %s", ref.name, ln_strerror(rc));
    if (rc == 0) {
        p->height = bi->height;
        p->time = bi->time;
        snprintf(p->proposer, sizeof p->proposer, "%s", proposer ? proposer : "");
        snprintf(p->name, sizeof p->name, "%s", ref.name);
        msgpack_sbuffer_init(&p->scratch);
        rc = load(p, bi, code, cl, ref.params, ref.plen, why, whylen);
    }
    free(code);
    ln_plugin_ref_free(&ref);
    if (rc < 0) {
        ln_pricing_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int ln_pricing_check(const ln_blockinfo *bi, const char *name, const char *code, size_t len,
                     const uint8_t *params, size_t plen, char found[LN_PLUGIN_NAME_MAX + 1],
                     char *why, size_t whylen)
{
    ln_pricing *p = calloc(1, sizeof *p);
    if (!p) return ln_errf(why, whylen, LN_ENOMEM, "%s", ln_strerror(LN_ENOMEM));
    p->height = bi->height;
    p->time = bi->time;
    snprintf(p->name, sizeof p->name, "%s", name);
    msgpack_sbuffer_init(&p->scratch);
    int rc = load(p, bi, code, len, params, plen, why, whylen);
    if (rc == 0 && found) {
        found[0] = 0;
        lua_State *L = ln_sandbox_L(p->sb);
        lua_rawgeti(L, LUA_REGISTRYINDEX, p->module_ref);
        lua_pushliteral(L, "NAME");
        lua_rawget(L, -2);
        size_t nl = 0;
        const char *nm = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &nl) : NULL;
        if (nm && nl > 0 && nl <= LN_PLUGIN_NAME_MAX) memcpy(found, nm, nl + 1);
        lua_pop(L, 2);
    }
    ln_pricing_free(p);
    return rc < 0 ? LN_EPLUGIN : 0;
}

int ln_pricing_check_slot(ln_overlay *ov, const ln_blockinfo *bi, char *why, size_t whylen)
{
    ln_pricing *p = NULL;
    int rc = ln_pricing_open(ov, bi, "", &p, why, whylen);
    ln_pricing_free(p);
    return rc;
}

void ln_pricing_free(ln_pricing *p)
{
    if (!p) return;
    ln_sandbox_free(p->sb);
    msgpack_sbuffer_destroy(&p->scratch);
    free(p);
}

const char *ln_pricing_name(const ln_pricing *p) { return p->name; }
uint64_t ln_pricing_height(const ln_pricing *p) { return p->height; }

void ln_pricing_set_log(ln_pricing *p, ln_pricing_log_fn fn, void *ud)
{
    p->log = fn;
    p->log_ud = ud;
}
