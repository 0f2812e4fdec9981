/* lmod.c -- the `lunet.core` module for host Lua states. */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "lmod.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "exec.h"
#include "genesis.h"
#include "govern.h"
#include "quote.h"
#include "registry.h"
#include "sandbox.h"
#include "stake.h"
#include "vote.h"
#include "state.h"
#include "tx.h"

#define CHAIN_MT "lunet.chain"

#define LOG_LINES 64

typedef struct {
    ln_state *st;
    char chain_id[LN_CHAIN_ID_MAX + 1];
    uint64_t height, time;
    uint8_t head[LN_HASH_LEN];
    uint8_t parent[LN_HASH_LEN];    /* the head's parent: block.hash of queries */
    char proposer[LN_NAME_MAX + 1]; /* the first validator proposes every block */
    char *log[LOG_LINES];           /* what the blocks had to say, the newest last */
    int nlog;
} lchain;

/* ln_blockctx.log: the last LOG_LINES lines, for chain:log(). */
static void keep_line(void *ud, const char *line)
{
    lchain *c = ud;
    if (c->nlog == LOG_LINES) {
        free(c->log[0]);
        memmove(c->log, c->log + 1, (LOG_LINES - 1) * sizeof *c->log);
        c->nlog--;
    }
    char *copy = strdup(line);
    if (copy) c->log[c->nlog++] = copy;
}

/* What contracts log(...) while a chain of this state applies a block or
** runs a query: "where: text" lines, handed to Lua after the call. */
typedef struct {
    char **line;
    size_t n, cap;
} loglines;

static void collect_log(const char *where, const char *text, size_t len, void *ud)
{
    loglines *ll = ud;
    if (ll->n == ll->cap) {
        size_t cap = ll->cap ? 2 * ll->cap : 8;
        char **nl = realloc(ll->line, cap * sizeof *nl);
        if (!nl) return;
        ll->line = nl;
        ll->cap = cap;
    }
    size_t wl = strlen(where);
    char *s = malloc(wl + 2 + len + 1);
    if (!s) return;
    memcpy(s, where, wl);
    memcpy(s + wl, ": ", 2);
    memcpy(s + wl + 2, text, len);
    s[wl + 2 + len] = 0;
    ll->line[ll->n++] = s;
}

/* Pushes the lines as an array and frees them. */
static void push_loglines(lua_State *L, loglines *ll)
{
    lua_createtable(L, (int)ll->n, 0);
    for (size_t i = 0; i < ll->n; i++) {
        lua_pushstring(L, ll->line[i]);
        lua_rawseti(L, -2, (int)i + 1);
        free(ll->line[i]);
    }
    free(ll->line);
    memset(ll, 0, sizeof *ll);
}

static int push_err(lua_State *L, int rc)
{
    lua_pushnil(L);
    lua_pushstring(L, ln_strerror(rc));
    lua_pushstring(L, ln_errname(rc));
    return 3;
}

static const char *check_bytes(lua_State *L, int idx, size_t n, const char *what)
{
    size_t l;
    const char *s = luaL_checklstring(L, idx, &l);
    if (l != n) luaL_error(L, "%s must be %d bytes, got %d", what, (int)n, (int)l);
    return s;
}

static void push_hex(lua_State *L, const uint8_t *p, size_t n)
{
    char buf[2 * 64 + 1];
    ln_hex(p, n, buf);
    lua_pushstring(L, buf);
}

static int l_keypair(lua_State *L)
{
    uint8_t pk[LN_PK_LEN], sk[LN_SK_LEN];
    if (lua_isnoneornil(L, 1))
        ln_keypair(pk, sk);
    else
        ln_keypair_seed((const uint8_t *)check_bytes(L, 1, 32, "seed"), pk, sk);
    lua_pushlstring(L, (const char *)pk, LN_PK_LEN);
    lua_pushlstring(L, (const char *)sk, LN_SK_LEN);
    return 2;
}

/* sign(sk, bytes) -> 64-byte Ed25519 signature */
static int l_sign(lua_State *L)
{
    const uint8_t *sk = (const uint8_t *)check_bytes(L, 1, LN_SK_LEN, "secret key");
    size_t n;
    const char *m = luaL_checklstring(L, 2, &n);
    uint8_t sig[LN_SIG_LEN];
    ln_sign(sk, (const uint8_t *)m, n, sig);
    lua_pushlstring(L, (const char *)sig, LN_SIG_LEN);
    return 1;
}

/* verify(pk, sig, bytes) -> boolean */
static int l_verify(lua_State *L)
{
    const uint8_t *pk = (const uint8_t *)check_bytes(L, 1, LN_PK_LEN, "public key");
    const uint8_t *sig = (const uint8_t *)check_bytes(L, 2, LN_SIG_LEN, "signature");
    size_t n;
    const char *m = luaL_checklstring(L, 3, &n);
    lua_pushboolean(L, ln_verify(pk, sig, (const uint8_t *)m, n) == 0);
    return 1;
}

static int l_hash(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    uint8_t h[LN_HASH_LEN];
    ln_hash(s, n, h);
    lua_pushlstring(L, (const char *)h, LN_HASH_LEN);
    return 1;
}

static int l_hex(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < n; i++) {
        char h[3];
        ln_hex((const uint8_t *)s + i, 1, h);
        luaL_addlstring(&b, h, 2);
    }
    luaL_pushresult(&b);
    return 1;
}

static int l_unhex(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    if (n % 2) return push_err(L, LN_EINVAL);
    uint8_t *out = malloc(n / 2 + 1);
    if (!out) return luaL_error(L, "out of memory");
    int rc = ln_unhex(s, out, n / 2);
    if (rc == 0) lua_pushlstring(L, (const char *)out, n / 2);
    free(out);
    return rc == 0 ? 1 : push_err(L, rc);
}

static int l_encode(lua_State *L)
{
    uint8_t *buf;
    size_t n;
    luaL_checkany(L, 1);
    int rc = ln_codec_encode_lua(L, 1, &buf, &n);
    if (rc < 0) return push_err(L, rc);
    lua_pushlstring(L, (const char *)buf, n);
    free(buf);
    return 1;
}

static int l_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    int rc = ln_codec_decode_lua(L, (const uint8_t *)s, n);
    return rc < 0 ? push_err(L, rc) : 1;
}

/* sign_tx(unsigned_table, {sk...}) -> signed bytes, id hex */
static int l_sign_tx(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    size_t nk = lua_objlen(L, 2);
    if (nk == 0 || nk > LN_TX_MAX_SIGS) return luaL_error(L, "sign_tx: 1-%d keys", LN_TX_MAX_SIGS);
    uint8_t sks[LN_TX_MAX_SIGS][LN_SK_LEN];
    for (size_t i = 0; i < nk; i++) {
        lua_rawgeti(L, 2, (int)i + 1);
        memcpy(sks[i], check_bytes(L, -1, LN_SK_LEN, "secret key"), LN_SK_LEN);
        lua_pop(L, 1);
    }
    uint8_t *utx, *stx;
    size_t un, sn;
    int rc = ln_codec_encode_lua(L, 1, &utx, &un);
    if (rc < 0) return push_err(L, rc);
    rc = ln_tx_sign(utx, un, (const uint8_t (*)[LN_SK_LEN])sks, nk, &stx, &sn);
    uint8_t id[LN_HASH_LEN];
    ln_hash(utx, un, id);
    free(utx);
    if (rc < 0) return push_err(L, rc);
    lua_pushlstring(L, (const char *)stx, sn);
    free(stx);
    push_hex(L, id, LN_HASH_LEN);
    return 2;
}

static int l_fingerprint(lua_State *L)
{
    char hex[65];
    int rc = ln_sandbox_fingerprint(hex);
    if (rc < 0) return push_err(L, rc);
    lua_pushstring(L, hex);
    return 1;
}

static int l_verify_proof(lua_State *L)
{
    size_t rl, kl, vl = 0, pl;
    const char *root = luaL_checklstring(L, 1, &rl);
    const char *k = luaL_checklstring(L, 2, &kl);
    const char *v = lua_isnil(L, 3) ? NULL : luaL_checklstring(L, 3, &vl);
    const char *p = luaL_checklstring(L, 4, &pl);
    uint8_t r[LN_HASH_LEN];
    if (rl != 2 * LN_HASH_LEN || ln_unhex(root, r, LN_HASH_LEN) < 0)
        return luaL_error(L, "root must be 64 hex digits");
    lua_pushboolean(L, ln_state_verify(r, (const uint8_t *)k, kl, (const uint8_t *)v, vl,
                                       (const uint8_t *)p, pl) == 0);
    return 1;
}

/* ---- chains ----------------------------------------------------------- */

static lchain *check_chain(lua_State *L)
{
    lchain *c = luaL_checkudata(L, 1, CHAIN_MT);
    if (!c->st) luaL_error(L, "chain is closed");
    return c;
}

static void set_str(lua_State *L, const char *k, const char *v);
static void set_num(lua_State *L, const char *k, double v);

/* core.chain(config): a chain from a genesis config as a table (the
** fields of a config file: chain_id, genesis_time, accounts with hex keys,
** validators with hex keys, consensus, governance, pricing, params, admin),
** built by the node's own genesis (genesis.h) in an in-memory state. */
static int l_chain(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lchain *c = lua_newuserdata(L, sizeof *c);
    memset(c, 0, sizeof *c);
    luaL_getmetatable(L, CHAIN_MT);
    lua_setmetatable(L, -2);
    uint8_t *enc = NULL;
    size_t el = 0;
    int rc = ln_codec_encode_lua(L, 1, &enc, &el);
    if (rc < 0) return luaL_error(L, "chain: the config does not encode: %s", ln_strerror(rc));
    char fp[65], err[512] = "";
    if ((rc = ln_sandbox_fingerprint(fp)) == 0) rc = ln_state_open(NULL, &c->st);
    ln_overlay *ov = rc == 0 ? ln_overlay_new(c->st) : NULL;
    ln_genesis *g = malloc(sizeof *g);
    uint64_t time = 0;
    ln_genesis_spec spec = { NULL, NULL, 0, fp };
    if (rc == 0 && (!ov || !g)) rc = LN_ENOMEM;
    if (rc == 0) rc = ln_genesis_build_from(&spec, enc, el, ov, g, &time, err, sizeof err);
    free(enc);
    if (rc == 0) {
        ln_blockinfo bi = { 0, time, { 0 } };
        char why[256];
        if ((rc = ln_govern_install(ov, &bi, why, sizeof why)) < 0)
            snprintf(err, sizeof err, "governance plugin: %s", why);
        else if ((rc = ln_pricing_check_slot(ov, &bi, why, sizeof why)) < 0)
            snprintf(err, sizeof err, "%s", why);
    }
    if (rc == 0) {
        snprintf(c->chain_id, sizeof c->chain_id, "%s", g->chain_id);
        if (g->m.nval) snprintf(c->proposer, sizeof c->proposer, "%s", g->m.val_names[0]);
        c->time = time;
        rc = ln_overlay_commit(ov, NULL, c->head);
    }
    ln_overlay_free(ov);
    free(g);
    if (rc < 0) return luaL_error(L, "genesis: %s", err[0] ? err : ln_strerror(rc));
    /* The genesis hash is the hash of its state root and chain id. */
    ln_hasher h;
    ln_hash_init(&h);
    ln_hash_update(&h, c->chain_id, strlen(c->chain_id));
    ln_hash_update(&h, c->head, LN_HASH_LEN);
    ln_hash_final(&h, c->head);
    return 1;
}

/* chain:plugin(slot) -> {name, hash, since, params}: the plugin in force at
** the next block. */
static int chain_plugin(lua_State *L)
{
    lchain *c = check_chain(L);
    int slot = ln_slot_of(luaL_checkstring(L, 2));
    if (slot < 0) return luaL_error(L, "no plugin slot %s (consensus, governance, pricing)", lua_tostring(L, 2));
    ln_overlay *ov = ln_overlay_new(c->st);
    ln_plugin_ref ref;
    int rc = ov ? ln_registry_at(ov, (ln_slot)slot, c->height + 1, &ref) : LN_ENOMEM;
    ln_overlay_free(ov);
    if (rc < 0) return luaL_error(L, "plugin: %s", ln_strerror(rc));
    lua_createtable(L, 0, 4);
    set_str(L, "name", ref.name);
    push_hex(L, ref.hash, LN_HASH_LEN);
    lua_setfield(L, -2, "hash");
    set_num(L, "since", (double)ref.from);
    if (ln_codec_decode_lua(L, ref.params, ref.plen) == 0) lua_setfield(L, -2, "params");
    ln_plugin_ref_free(&ref);
    return 1;
}

/* chain:pending() -> {{slot, name, hash, at, ready = {names}}}: swaps
** scheduled and not in force yet. */
static int chain_pending(lua_State *L)
{
    lchain *c = check_chain(L);
    ln_overlay *ov = ln_overlay_new(c->st);
    ln_swap *sw = NULL;
    size_t n = 0;
    int rc = ov ? ln_registry_pending(ov, &sw, &n) : LN_ENOMEM;
    ln_overlay_free(ov);
    if (rc < 0) return luaL_error(L, "pending: %s", ln_strerror(rc));
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 5);
        set_str(L, "slot", ln_slot_name(sw[i].slot));
        set_str(L, "name", sw[i].name);
        push_hex(L, sw[i].hash, LN_HASH_LEN);
        lua_setfield(L, -2, "hash");
        set_num(L, "at", (double)sw[i].at);
        lua_createtable(L, (int)sw[i].nready, 0);
        for (uint32_t j = 0; j < sw[i].nready; j++) {
            lua_pushstring(L, sw[i].ready[j]);
            lua_rawseti(L, -2, (int)j + 1);
        }
        lua_setfield(L, -2, "ready");
        lua_rawseti(L, -2, (int)i + 1);
    }
    ln_swaps_free(sw, n);
    return 1;
}

static int chain_gc(lua_State *L)
{
    lchain *c = luaL_checkudata(L, 1, CHAIN_MT);
    ln_state_close(c->st);
    c->st = NULL;
    for (int i = 0; i < c->nlog; i++) free(c->log[i]);
    c->nlog = 0;
    return 0;
}

/* chain:log() -> {lines}: what the blocks had to say (a pricing plugin's
** faults and log lines), oldest first; emptied. */
static int chain_log(lua_State *L)
{
    lchain *c = check_chain(L);
    lua_createtable(L, c->nlog, 0);
    for (int i = 0; i < c->nlog; i++) {
        lua_pushstring(L, c->log[i]);
        lua_rawseti(L, -2, i + 1);
        free(c->log[i]);
    }
    c->nlog = 0;
    return 1;
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

static void set_num(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void set_msgpack(lua_State *L, const char *k, const uint8_t *p, size_t n)
{
    if (!p) return;
    if (ln_codec_decode_lua(L, p, n) == 0) lua_setfield(L, -2, k);
}

static void push_usage(lua_State *L, const ln_usage *u)
{
    lua_createtable(L, 0, 8);
    set_num(L, "gas", (double)u->gas);
    set_num(L, "storage_added", (double)u->storage_added);
    set_num(L, "storage_freed", (double)u->storage_freed);
    set_num(L, "tx_bytes", (double)u->tx_bytes);
    set_num(L, "mem_peak", (double)u->mem_peak);
    set_num(L, "calls", (double)u->calls);
    set_num(L, "events_bytes", (double)u->events_bytes);
    lua_createtable(L, 0, (int)u->nstored);
    for (uint32_t i = 0; i < u->nstored; i++) set_num(L, u->stored[i].contract, (double)u->stored[i].bytes);
    lua_setfield(L, -2, "stored");
}

static void push_receipt(lua_State *L, const ln_receipt *r)
{
    lua_createtable(L, 0, 10);
    push_hex(L, r->txid, LN_HASH_LEN);
    lua_setfield(L, -2, "hash");
    lua_pushboolean(L, r->ok);
    lua_setfield(L, -2, "ok");
    lua_pushboolean(L, r->included);
    lua_setfield(L, -2, "included");
    if (r->code) set_str(L, "code", ln_errname(r->code));
    if (r->error) set_str(L, "error", r->error);
    set_msgpack(L, "result", r->result, r->result_len);
    if (r->events) set_msgpack(L, "events", r->events, r->events_len);
    else { lua_newtable(L); lua_setfield(L, -2, "events"); }
    set_num(L, "gas_used", (double)r->gas_used);
    set_num(L, "fee", (double)r->fee);
    if (r->included) {
        set_str(L, "payer", r->payer);
        push_usage(L, &r->usage);
        lua_setfield(L, -2, "usage");
    }
}

/* Block hash: BLAKE2b-256 of {chain_id, height, prev, root, time, txs}. */
static void block_hash(lchain *c, const uint8_t root[LN_HASH_LEN],
                       const ln_receipt *rs, size_t n)
{
    ln_hasher h;
    uint8_t be[16];
    for (int i = 0; i < 8; i++) {
        be[i] = (uint8_t)(c->height >> (56 - 8 * i));
        be[8 + i] = (uint8_t)(c->time >> (56 - 8 * i));
    }
    ln_hash_init(&h);
    ln_hash_update(&h, c->chain_id, strlen(c->chain_id));
    ln_hash_update(&h, be, sizeof be);
    ln_hash_update(&h, c->head, LN_HASH_LEN);
    ln_hash_update(&h, root, LN_HASH_LEN);
    for (size_t i = 0; i < n; i++)
        if (rs[i].included) ln_hash_update(&h, rs[i].txid, LN_HASH_LEN);
    ln_hash_final(&h, c->head);
}

/* chain:apply({tx...} [, time]) -> receipts, root hex, logs: one block;
** logs: what its contracts log(...), "where: text" lines. */
static int chain_apply(lua_State *L)
{
    lchain *c = check_chain(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    uint64_t t = lua_isnoneornil(L, 3) ? c->time + 1 : (uint64_t)luaL_checknumber(L, 3);
    if (t < c->time) return luaL_error(L, "block time cannot go back (%d < %d)", (int)t, (int)c->time);
    size_t n = lua_objlen(L, 2);
    const uint8_t **txs = calloc(n + 1, sizeof *txs);
    size_t *lens = calloc(n + 1, sizeof *lens);
    ln_receipt *rs = calloc(n + 1, sizeof *rs);
    if (!txs || !lens || !rs) {
        free(txs); free(lens); free(rs);
        return luaL_error(L, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 2, (int)i + 1);
        txs[i] = (const uint8_t *)lua_tolstring(L, -1, &lens[i]);
        if (!txs[i]) {
            free(txs); free(lens); free(rs);
            return luaL_error(L, "apply: transaction %d is not a string", (int)i + 1);
        }
        /* The table keeps the strings alive; the stack copy can go. */
        lua_pop(L, 1);
    }
    ln_blockctx bc = { c->chain_id, c->height + 1, t, { 0 }, 1, LN_GAS_CAP_CHAIN, c->proposer,
                       keep_line, c };
    memcpy(bc.prev, c->head, LN_HASH_LEN);
    uint8_t root[LN_HASH_LEN];
    loglines logs = { NULL, 0, 0 };
    ln_contract_log_sink(collect_log, &logs);
    int rc = ln_exec_apply(c->st, &bc, txs, lens, n, rs, NULL, root);
    ln_contract_log_sink(NULL, NULL);
    if (rc < 0) {
        free(txs); free(lens); free(rs);
        push_loglines(L, &logs);
        return luaL_error(L, "apply: %s", ln_strerror(rc));
    }
    c->height++;
    c->time = t;
    memcpy(c->parent, c->head, LN_HASH_LEN);
    block_hash(c, root, rs, n);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        push_receipt(L, &rs[i]);
        lua_rawseti(L, -2, (int)i + 1);
        ln_receipt_free(&rs[i]);
    }
    push_hex(L, root, LN_HASH_LEN);
    push_loglines(L, &logs);
    free(txs); free(lens); free(rs);
    return 3;
}

/* chain:query(contract, method, args) -> ok, value|error, gas, code, logs. The
** query sees the head block's context: the block.height, block.time and
** block.hash (its parent's hash) that the head's transactions saw. */
static int chain_query(lua_State *L)
{
    lchain *c = check_chain(L);
    const char *contract = luaL_checkstring(L, 2);
    const char *method = luaL_checkstring(L, 3);
    uint8_t *args = NULL;
    size_t alen = 0;
    if (!lua_isnoneornil(L, 4)) {
        int rc = ln_codec_encode_lua(L, 4, &args, &alen);
        if (rc < 0) return luaL_error(L, "query args: %s", ln_strerror(rc));
    }
    ln_blockctx bc = { c->chain_id, c->height, c->time, { 0 }, 1, 0, NULL, NULL, NULL };
    memcpy(bc.prev, c->parent, LN_HASH_LEN);
    ln_outcome out;
    loglines logs = { NULL, 0, 0 };
    ln_contract_log_sink(collect_log, &logs);
    int rc = ln_exec_query(c->st, &bc, contract, method, args, alen, &out);
    ln_contract_log_sink(NULL, NULL);
    free(args);
    if (rc < 0) {
        push_loglines(L, &logs);
        return luaL_error(L, "query: %s", ln_strerror(rc));
    }
    lua_pushboolean(L, out.code == 0);
    if (out.code == 0) {
        if (!out.result || ln_codec_decode_lua(L, out.result, out.result_len) < 0)
            lua_pushnil(L);
    } else {
        lua_pushstring(L, out.error ? out.error : ln_strerror(out.code));
    }
    lua_pushnumber(L, (lua_Number)out.gas_used);
    if (out.code) lua_pushstring(L, ln_errname(out.code)); else lua_pushnil(L);
    ln_outcome_free(&out);
    push_loglines(L, &logs);
    return 5;
}

/* chain:quote(tx bytes, signed or unsigned) -> {code, why, fee, payer,
** gas_limit, ok, error, usage}: what it would pay in the next block. */
static int chain_quote(lua_State *L)
{
    lchain *c = check_chain(L);
    size_t n;
    const char *tx = luaL_checklstring(L, 2, &n);
    ln_blockctx bc = { c->chain_id, c->height + 1, c->time + 1, { 0 }, 1, 0, c->proposer, NULL, NULL };
    memcpy(bc.prev, c->head, LN_HASH_LEN);
    ln_quote q;
    char why[320];
    int rc = ln_quote_tx(c->st, &bc, (const uint8_t *)tx, n, &q, why, sizeof why);
    if (rc < 0) return luaL_error(L, "quote: %s", why);
    lua_createtable(L, 0, 8);
    if (q.code) {
        set_str(L, "code", ln_errname(q.code));
        set_str(L, "why", q.why);
    } else {
        set_num(L, "fee", (double)q.fee);
        set_str(L, "payer", q.payer);
        set_num(L, "gas_limit", (double)q.gas_limit);
        lua_pushboolean(L, q.ok);
        lua_setfield(L, -2, "ok");
        if (!q.ok) set_str(L, "error", q.error);
        push_usage(L, &q.usage);
        lua_setfield(L, -2, "usage");
    }
    ln_quote_free(&q);
    return 1;
}

static int chain_get(lua_State *L)
{
    lchain *c = check_chain(L);
    size_t kl;
    const char *k = luaL_checklstring(L, 2, &kl);
    uint8_t *v;
    size_t vl;
    int rc = ln_state_get(c->st, (const uint8_t *)k, kl, &v, &vl);
    if (rc == LN_ENOTFOUND) {
        lua_pushnil(L);
        return 1;
    }
    if (rc < 0) return push_err(L, rc);
    lua_pushlstring(L, (const char *)v, vl);
    free(v);
    return 1;
}

static int chain_account(lua_State *L)
{
    check_chain(L);
    const char *name = luaL_checkstring(L, 2);
    lua_settop(L, 2);
    lua_pushliteral(L, "a");
    lua_insert(L, 2);
    lua_concat(L, 2);
    lua_pushcfunction(L, chain_get);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_call(L, 2, 1);
    if (lua_isnil(L, -1)) return 1;
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    if (ln_codec_decode_lua(L, (const uint8_t *)s, n) < 0) return luaL_error(L, "account record is corrupt");
    lua_pushstring(L, name);
    lua_setfield(L, -2, "account");
    /* Its stake (stake.h): 0 and no unbonding when it has none. */
    ln_overlay *ov = ln_overlay_new(check_chain(L)->st);
    ln_stake st;
    ln_vote_name votes[LN_VOTES_MAX];
    size_t nv = 0;
    int rc = ov ? ln_stake_load(ov, name, &st) : LN_ENOMEM;
    if (rc == 0) rc = ln_vote_load(ov, name, votes, &nv);
    ln_overlay_free(ov);
    if (rc < 0) return luaL_error(L, "stake or vote record: %s", ln_strerror(rc));
    lua_createtable(L, (int)nv, 0);
    for (size_t i = 0; i < nv; i++) {
        lua_pushstring(L, votes[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "votes");
    set_num(L, "stake", (double)st.stake);
    lua_createtable(L, (int)st.nunbonding, 0);
    for (uint32_t i = 0; i < st.nunbonding; i++) {
        lua_createtable(L, 0, 2);
        set_num(L, "amount", (double)st.unbonding[i].amount);
        set_num(L, "at", (double)st.unbonding[i].at);
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "unbonding");
    return 1;
}

static int chain_prove(lua_State *L)
{
    lchain *c = check_chain(L);
    size_t kl;
    const char *k = luaL_checklstring(L, 2, &kl);
    uint8_t *p;
    size_t pl;
    int rc = ln_state_prove(c->st, (const uint8_t *)k, kl, &p, &pl);
    if (rc < 0) return push_err(L, rc);
    lua_pushlstring(L, (const char *)p, pl);
    free(p);
    return 1;
}

static int chain_root(lua_State *L)
{
    lchain *c = check_chain(L);
    uint8_t r[LN_HASH_LEN];
    ln_state_root(c->st, r);
    push_hex(L, r, LN_HASH_LEN);
    return 1;
}

static int chain_head(lua_State *L)
{
    push_hex(L, check_chain(L)->head, LN_HASH_LEN);
    return 1;
}

static int chain_height(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)check_chain(L)->height);
    return 1;
}

static int chain_time(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)check_chain(L)->time);
    return 1;
}

static int chain_chain_id(lua_State *L)
{
    lua_pushstring(L, check_chain(L)->chain_id);
    return 1;
}

/* chain:producers(want): the ranking dpos reads (node.producers) after the head. */
static int chain_producers(lua_State *L)
{
    lchain *c = check_chain(L);
    lua_Integer want = luaL_checkinteger(L, 2);
    luaL_argcheck(L, want >= 1 && want <= LN_VOTES_MAX, 2, "want must be 1..30");
    ln_vote_name names[LN_VOTES_MAX];
    size_t n = 0;
    ln_overlay *ov = ln_overlay_new(c->st);
    int rc = ov ? ln_vote_top(ov, c->height, (size_t)want, names, &n) : LN_ENOMEM;
    ln_overlay_free(ov);
    if (rc < 0) return push_err(L, rc);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

static const luaL_Reg chain_methods[] = {
    { "apply", chain_apply }, { "query", chain_query }, { "get", chain_get },
    { "account", chain_account }, { "prove", chain_prove }, { "root", chain_root },
    { "head", chain_head }, { "height", chain_height }, { "time", chain_time },
    { "chain_id", chain_chain_id }, { "producers", chain_producers }, { "plugin", chain_plugin }, { "pending", chain_pending },
    { "log", chain_log }, { "quote", chain_quote },
    { NULL, NULL }
};

static const luaL_Reg core_fns[] = {
    { "keypair", l_keypair }, { "sign", l_sign }, { "verify", l_verify }, { "hash", l_hash }, { "hex", l_hex }, { "unhex", l_unhex },
    { "encode", l_encode }, { "decode", l_decode }, { "sign_tx", l_sign_tx },
    { "chain", l_chain }, { "fingerprint", l_fingerprint },
    { "verify_proof", l_verify_proof }, { NULL, NULL }
};

int luaopen_lunet_core(lua_State *L)
{
    ln_crypto_init();
    if (luaL_newmetatable(L, CHAIN_MT)) {
        lua_pushcfunction(L, chain_gc);
        lua_setfield(L, -2, "__gc");
        lua_newtable(L);
        luaL_register(L, NULL, chain_methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    lua_newtable(L);
    luaL_register(L, NULL, core_fns);
    return 1;
}
