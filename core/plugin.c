/* plugin.c -- the host of a consensus plugin: its sandbox and `node` table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "sandbox.h"
#include "shape.h"

struct ln_plugin {
    ln_plugin_host host;
    msgpack_sbuffer scratch;             /* one encoded argument on its way to the host */
    ln_sandbox *sb;
    int module_ref;
    uint64_t gas;                        /* instructions its callbacks used (ln_plugin_gas) */
    char name[64];
};

#define TIMER_ID_MAX 128                 /* bytes in a timer id */
#define OBJECT_BYTES 128                 /* a decoded object at most: a table with its slot */

static ln_plugin *self_of(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

/* Lua values of the host's C types. */

/* t[k] = v for the table at the top. */
static void set_hex(lua_State *L, const char *k, const uint8_t h[LN_HASH_LEN])
{
    char hex[2 * LN_HASH_LEN + 1];
    ln_hex(h, LN_HASH_LEN, hex);
    lua_pushlstring(L, hex, 2 * LN_HASH_LEN);
    lua_setfield(L, -2, k);
}

static void set_num(lua_State *L, const char *k, uint64_t v)
{
    lua_pushnumber(L, (lua_Number)v);
    lua_setfield(L, -2, k);
}

static void push_block(lua_State *L, const ln_plugin_block *b)
{
    lua_createtable(L, 0, 8);
    set_num(L, "height", b->height);
    set_num(L, "time", b->time);
    set_num(L, "txs", b->ntx);
    set_hex(L, "hash", b->hash);
    set_hex(L, "prev", b->prev);
    set_hex(L, "state_root", b->state_root);
    lua_pushstring(L, b->proposer);
    lua_setfield(L, -2, "proposer");
    if (b->cons_len) {
        /* At most LN_PLUGIN_CONS_MAX bytes of a header: bounded work. */
        if (ln_codec_decode_lua_limit(L, b->cons, b->cons_len, LN_PLUGIN_CONS_MAX) < 0) lua_pushnil(L);
        lua_setfield(L, -2, "consensus");
    }
    if (b->tree) {
        lua_pushboolean(L, b->final);
        lua_setfield(L, -2, "final");
        lua_pushboolean(L, b->canonical);
        lua_setfield(L, -2, "canonical");
    }
    if (b->data) {
        lua_pushlstring(L, (const char *)b->data, b->dlen);
        lua_setfield(L, -2, "data");
    }
}

#define MAX_VALIDATORS 256

static void push_validators(lua_State *L, ln_plugin *p)
{
    const char *names[MAX_VALIDATORS];
    size_t n = p->host.validators(p->host.ud, names, MAX_VALIDATORS);
    if (n > MAX_VALIDATORS) n = MAX_VALIDATORS;
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
}

/* nil and the reason, as node.propose/execute fail. */
static int fail2(lua_State *L, const char *why)
{
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
}

static int n_validators(lua_State *L)
{
    push_validators(L, self_of(L));
    return 1;
}

/* node.powers() -> { NAME = power }, since */
static int n_powers(lua_State *L)
{
    ln_plugin *p = self_of(L);
    if (!p->host.powers) return luaL_error(L, "node.powers: not offered here");
    const char *names[MAX_VALIDATORS];
    uint64_t power[MAX_VALIDATORS], since = 0;
    size_t n = p->host.powers(p->host.ud, names, power, MAX_VALIDATORS, &since);
    if (n > MAX_VALIDATORS) n = MAX_VALIDATORS;
    lua_createtable(L, 0, (int)n);
    for (size_t i = 0; i < n; i++) {
        lua_pushnumber(L, (lua_Number)power[i]);
        lua_setfield(L, -2, names[i]);
    }
    lua_pushnumber(L, (lua_Number)since);
    return 2;
}

static int n_self(lua_State *L)
{
    ln_plugin *p = self_of(L);
    lua_pushstring(L, p->host.self(p->host.ud));
    return 1;
}

static int n_head(lua_State *L)
{
    ln_plugin *p = self_of(L);
    ln_plugin_block b;
    memset(&b, 0, sizeof b);
    if (p->host.head(p->host.ud, &b) < 0) lua_pushnil(L);
    else push_block(L, &b);
    return 1;
}

static void encode_arg(lua_State *L, ln_plugin *p, int idx, const uint8_t **buf, size_t *len,
                       const char *fn);

static int n_propose(lua_State *L)
{
    ln_plugin *p = self_of(L);
    ln_plugin_block b;
    char why[200] = "";
    memset(&b, 0, sizeof b);
    int rc;
    if (!lua_isnoneornil(L, 1)) {
        if (!p->host.propose_with) return luaL_error(L, "node.propose: no header data here");
        const uint8_t *d;
        size_t dl;
        encode_arg(L, p, 1, &d, &dl, "node.propose: data");
        rc = p->host.propose_with(p->host.ud, d, dl, &b, why, sizeof why);
    } else {
        rc = p->host.propose(p->host.ud, &b, why, sizeof why);
    }
    if (rc < 0) return fail2(L, why);
    push_block(L, &b);
    return 1;
}

/* The block bytes of argument idx: a string, or a block table's `data`;
** NULL (with *len 0) when it has none. */
static const char *block_data(lua_State *L, int idx, size_t *len)
{
    *len = 0;
    if (lua_type(L, idx) == LUA_TSTRING) return lua_tolstring(L, idx, len);
    if (!lua_istable(L, idx)) return NULL;
    lua_getfield(L, idx, "data");
    const char *d = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, len) : NULL;
    lua_pop(L, 1);   /* the table still holds the string */
    return d;
}

static int n_execute(lua_State *L)
{
    ln_plugin *p = self_of(L);
    size_t dl;
    const char *d = block_data(L, 1, &dl);
    if (!d) return luaL_error(L, "node.execute: give a block (with data) or its bytes");
    ln_plugin_block b;
    char why[300] = "";
    memset(&b, 0, sizeof b);
    if (p->host.execute(p->host.ud, (const uint8_t *)d, dl, &b, why, sizeof why) < 0)
        return fail2(L, why);
    b.data = NULL;                   /* the caller has the bytes */
    push_block(L, &b);
    return 1;
}

/* Encodes argument idx into the plugin's scratch buffer (reused, so a
** raise leaks nothing): its work is counted as it goes, stops where the
** callback's budget runs out, and is charged, done or failed, like a
** contract's. The bytes live until the next encoding. */
static void encode_arg(lua_State *L, ln_plugin *p, int idx, const uint8_t **buf, size_t *len,
                       const char *fn)
{
    msgpack_packer pk;
    p->scratch.size = 0;
    msgpack_packer_init(&pk, &p->scratch, msgpack_sbuffer_write);
    uint64_t left = ln_sandbox_gas_left(L);
    ln_codec_meter m = { 0, left >= UINT64_MAX / 16 ? UINT64_MAX : left * 16 + 15,
                         LN_PLUGIN_MSG_MAX + (64u << 10), ln_sandbox_table_slots };
    int rc = ln_codec_pack_lua_metered_limit(L, idx, &pk, &m, LN_PLUGIN_MSG_MAX);
    ln_sandbox_charge(L, LN_GAS_ENCODE(m.work));
    if (rc < 0) luaL_error(L, "%s: %s", fn, ln_strerror(rc));
    *buf = (const uint8_t *)p->scratch.data;
    *len = p->scratch.size;
}

static int n_commit(lua_State *L)
{
    ln_plugin *p = self_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "hash");
    size_t hl = 0;
    const char *hex = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &hl) : NULL;
    uint8_t hash[LN_HASH_LEN];
    if (!hex) return luaL_error(L, "node.commit: block.hash must be a hex string");
    if (hl != 2 * LN_HASH_LEN || ln_unhex(hex, hash, LN_HASH_LEN) < 0)
        return fail2(L, "block hash is not 64 hex digits");
    size_t dl;
    const char *d = block_data(L, 1, &dl);
    const uint8_t *cert = NULL;
    size_t cl = 0;
    if (!lua_isnoneornil(L, 2)) encode_arg(L, p, 2, &cert, &cl, "node.commit: cert");
    char why[160] = "";
    int rc = p->host.commit(p->host.ud, hash, (const uint8_t *)d, dl, cert, cl, why, sizeof why);
    if (rc < 0) return fail2(L, why[0] ? why : ln_strerror(rc));
    lua_pushboolean(L, 1);
    return 1;
}

static int n_pending(lua_State *L)
{
    ln_plugin *p = self_of(L);
    lua_pushnumber(L, (lua_Number)p->host.pending(p->host.ud));
    return 1;
}

static int n_timer(lua_State *L)
{
    ln_plugin *p = self_of(L);
    lua_Number ms = luaL_checknumber(L, 1);
    size_t il;
    const char *id = luaL_checklstring(L, 2, &il);
    if (!(ms >= 0 && ms <= 86400000))      /* NaN too */
        return luaL_error(L, "node.timer: ms must be 0..86400000");
    if (il == 0 || il > TIMER_ID_MAX || strlen(id) != il)
        return luaL_error(L, "node.timer: id must be 1-%d bytes of text", TIMER_ID_MAX);
    p->host.timer(p->host.ud, (uint64_t)ms, id);
    return 0;
}

static int n_sign(lua_State *L)
{
    ln_plugin *p = self_of(L);
    size_t n;
    const char *m = luaL_checklstring(L, 1, &n);
    uint8_t sig[LN_SIG_LEN];
    if (p->host.sign(p->host.ud, (const uint8_t *)m, n, sig) < 0)
        return luaL_error(L, "node.sign: this node has no validator key");
    lua_pushlstring(L, (const char *)sig, LN_SIG_LEN);
    return 1;
}

/* m[0..n) in hex, pushed; charged like a copy of its bytes. m must stay
** valid if this raises (a Lua string's bytes, not malloc()ed ones). */
static void push_hex(lua_State *L, const char *m, size_t n, const char *what)
{
    ln_sandbox_charge(L, LN_GAS_COPY_BYTES(2 * n));
    char *buf = malloc(2 * n + 1);
    if (!buf) luaL_error(L, "%s: out of memory", what);
    ln_hex((const uint8_t *)m, n, buf);
    lua_pushlstring(L, buf, 2 * n);
    free(buf);
}

static int n_hex(lua_State *L)
{
    size_t n;
    const char *m = luaL_checklstring(L, 1, &n);
    push_hex(L, m, n, "node.hex");
    return 1;
}

static int n_key(lua_State *L)
{
    ln_plugin *p = self_of(L);
    uint8_t pk[LN_PK_LEN];
    if (p->host.key_of(p->host.ud, luaL_checkstring(L, 1), pk) < 0) lua_pushnil(L);
    else lua_pushlstring(L, (const char *)pk, LN_PK_LEN);
    return 1;
}

static int n_now(lua_State *L)
{
    ln_plugin *p = self_of(L);
    lua_pushnumber(L, (lua_Number)p->host.now_ms(p->host.ud));
    return 1;
}

static int n_log(lua_State *L)
{
    ln_plugin *p = self_of(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    int n = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        if (i > 1) luaL_addchar(&b, ' ');
        if (lua_type(L, i) == LUA_TSTRING || lua_type(L, i) == LUA_TNUMBER) {
            lua_pushvalue(L, i);
            luaL_addvalue(&b);
        } else {
            luaL_addstring(&b, luaL_typename(L, i));
        }
    }
    luaL_pushresult(&b);
    p->host.log(p->host.ud, lua_tostring(L, -1));
    return 0;
}

static int n_broadcast(lua_State *L)
{
    ln_plugin *p = self_of(L);
    const uint8_t *m;
    size_t n;
    encode_arg(L, p, 1, &m, &n, "node.broadcast");
    int rc = p->host.broadcast(p->host.ud, m, n);
    lua_pushboolean(L, rc == 0);
    return 1;
}

static int n_send(lua_State *L)
{
    ln_plugin *p = self_of(L);
    const char *to = luaL_checkstring(L, 1);
    const uint8_t *m;
    size_t n;
    encode_arg(L, p, 2, &m, &n, "node.send");
    int rc = p->host.send(p->host.ud, to, m, n);
    lua_pushboolean(L, rc == 0);
    return 1;
}

static int n_persist(lua_State *L)
{
    ln_plugin *p = self_of(L);
    const char *k = luaL_checkstring(L, 1);
    const uint8_t *v;
    size_t n;
    lua_settop(L, 2);
    encode_arg(L, p, 2, &v, &n, "node.persist");
    int rc = p->host.persist(p->host.ud, k, v, n);
    if (rc < 0) return luaL_error(L, "node.persist: %s", ln_strerror(rc));
    return 0;
}

static int n_recall(lua_State *L)
{
    ln_plugin *p = self_of(L);
    const char *k = luaL_checkstring(L, 1);
    uint8_t *v;
    size_t n;
    int rc = p->host.recall(p->host.ud, k, &v, &n);
    if (rc == LN_ENOTFOUND) {
        lua_pushnil(L);
        return 1;
    }
    if (rc < 0) return luaL_error(L, "node.recall: %s", ln_strerror(rc));
    rc = ln_codec_decode_lua_limit(L, v, n, LN_PLUGIN_MSG_MAX);
    free(v);
    if (rc < 0) return luaL_error(L, "node.recall: %s", ln_strerror(rc));
    return 1;
}

/* ---- fork plugins (tree.h) ---- */

/* A block hash argument: 64 hex digits, or a block table's hash. */
static void arg_hash(lua_State *L, int idx, uint8_t out[LN_HASH_LEN], const char *fn)
{
    size_t hl = 0;
    const char *hex = NULL;
    if (lua_type(L, idx) == LUA_TSTRING) {
        hex = lua_tolstring(L, idx, &hl);
    } else if (lua_istable(L, idx)) {
        lua_getfield(L, idx, "hash");
        if (lua_type(L, -1) == LUA_TSTRING) hex = lua_tolstring(L, -1, &hl);
        lua_pop(L, 1);                   /* the table still holds the string */
    }
    if (!hex || hl != 2 * LN_HASH_LEN || ln_unhex(hex, out, LN_HASH_LEN) < 0)
        luaL_error(L, "%s: give a block or its hash (64 hex digits)", fn);
}

static ln_plugin *fork_host(lua_State *L, const void *fn, const char *name)
{
    ln_plugin *p = self_of(L);
    if (!fn) luaL_error(L, "node.%s: not offered here", name);
    return p;
}

static int n_import(lua_State *L)
{
    ln_plugin *p = fork_host(L, self_of(L)->host.import, "import");
    size_t dl;
    const char *d = block_data(L, 1, &dl);
    if (!d) return luaL_error(L, "node.import: give a block (with data) or its bytes");
    ln_plugin_block b;
    char why[300] = "";
    memset(&b, 0, sizeof b);
    if (p->host.import(p->host.ud, (const uint8_t *)d, dl, &b, why, sizeof why) < 0)
        return fail2(L, why);
    push_block(L, &b);
    return 1;
}

static int hash_call(lua_State *L, int (*fn)(void *, const uint8_t *, char *, size_t),
                     const char *name)
{
    ln_plugin *p = fork_host(L, (const void *)fn, name);
    uint8_t h[LN_HASH_LEN];
    char fname[32], why[300] = "";
    snprintf(fname, sizeof fname, "node.%s", name);
    arg_hash(L, 1, h, fname);
    if (fn(p->host.ud, h, why, sizeof why) < 0) return fail2(L, why);
    lua_pushboolean(L, 1);
    return 1;
}

static int n_choose(lua_State *L) { return hash_call(L, self_of(L)->host.choose, "choose"); }
static int n_finalize(lua_State *L) { return hash_call(L, self_of(L)->host.finalize, "finalize"); }

static int n_block(lua_State *L)
{
    ln_plugin *p = fork_host(L, self_of(L)->host.block, "block");
    ln_plugin_block b;
    memset(&b, 0, sizeof b);
    int rc;
    if (lua_type(L, 1) == LUA_TNUMBER) {
        lua_Number h = lua_tonumber(L, 1);
        if (!(h >= 0 && h <= 9007199254740992.0) || h != (lua_Number)(uint64_t)h)
            return luaL_error(L, "node.block: a height is an integer >= 0");
        rc = p->host.block(p->host.ud, NULL, (uint64_t)h, &b);
    } else {
        uint8_t hash[LN_HASH_LEN];
        arg_hash(L, 1, hash, "node.block");
        rc = p->host.block(p->host.ud, hash, 0, &b);
    }
    if (rc < 0) lua_pushnil(L);
    else push_block(L, &b);
    return 1;
}

/* node.mine(bytes, target, tries [, from]): target as 64 hex digits. */
static int n_mine(lua_State *L)
{
    ln_plugin *p = fork_host(L, self_of(L)->host.mine, "mine");
    size_t bl, tl;
    const char *bytes = luaL_checklstring(L, 1, &bl);
    const char *t = luaL_checklstring(L, 2, &tl);
    lua_Number tries = luaL_checknumber(L, 3), from = luaL_optnumber(L, 4, 0);
    uint8_t target[LN_HASH_LEN];
    if (tl != 2 * LN_HASH_LEN || ln_unhex(t, target, LN_HASH_LEN) < 0)
        return luaL_error(L, "node.mine: target must be 64 hex digits");
    if (!(tries >= 1 && tries <= 4294967296.0) || !(from >= 0 && from <= 9007199254740992.0))
        return luaL_error(L, "node.mine: tries must be 1..2^32 and from 0..2^53");
    char why[200] = "";
    if (p->host.mine(p->host.ud, (const uint8_t *)bytes, bl, target, (uint64_t)from,
                     (uint64_t)tries, why, sizeof why) < 0)
        return fail2(L, why);
    lua_pushboolean(L, 1);
    return 1;
}

/* node.producers(want [, block]): names, or nil and why. */
static int n_producers(lua_State *L)
{
    ln_plugin *p = fork_host(L, self_of(L)->host.producers, "producers");
    lua_Number want = luaL_checknumber(L, 1);
    if (!(want >= 1 && want <= LN_PLUGIN_PRODUCERS_MAX) || want != (lua_Number)(int)want)
        return luaL_error(L, "node.producers: want must be an integer 1..%d", LN_PLUGIN_PRODUCERS_MAX);
    uint8_t hash[LN_HASH_LEN];
    int has = !lua_isnoneornil(L, 2);
    if (has) arg_hash(L, 2, hash, "node.producers");
    char names[LN_PLUGIN_PRODUCERS_MAX][LN_NAME_MAX + 1];
    size_t n = 0;
    int rc = p->host.producers(p->host.ud, has ? hash : NULL, (size_t)want, names, &n);
    if (rc < 0) return fail2(L, ln_strerror(rc));
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

/* node.header(hash or block): the header's bytes in hex, or nil. */
static int n_header(lua_State *L)
{
    ln_plugin *p = fork_host(L, (const void *)self_of(L)->host.header, "header");
    uint8_t hash[LN_HASH_LEN], *h;
    size_t hl;
    arg_hash(L, 1, hash, "node.header");
    if (p->host.header(p->host.ud, hash, &h, &hl) < 0) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushlstring(L, (const char *)h, hl);     /* Lua's from here: nothing leaks if we raise */
    free(h);
    push_hex(L, lua_tostring(L, -1), hl, "node.header");
    return 1;
}

/* node.evidence(e): true, or false and why it was not submitted. */
static int n_evidence(lua_State *L)
{
    ln_plugin *p = self_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    if (!p->host.evidence) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, "node.evidence: not offered here");
        return 2;
    }
    lua_settop(L, 1);
    const uint8_t *e;
    size_t n;
    encode_arg(L, p, 1, &e, &n, "node.evidence");
    char why[300] = "";
    int rc = p->host.evidence(p->host.ud, e, n, why, sizeof why);
    lua_pushboolean(L, rc == 0);
    if (rc == 0) return 1;
    lua_pushstring(L, why[0] ? why : ln_strerror(rc));
    return 2;
}

static const luaL_Reg node_api[] = {
    { "validators", n_validators }, { "powers", n_powers }, { "self", n_self }, { "head", n_head },
    { "propose", n_propose }, { "execute", n_execute }, { "commit", n_commit }, { "pending", n_pending },
    { "timer", n_timer }, { "sign", n_sign }, { "verify", ln_sandbox_l_verify },
    { "hash", ln_sandbox_l_hash }, { "hex", n_hex }, { "key", n_key }, { "now", n_now },
    { "log", n_log }, { "broadcast", n_broadcast }, { "send", n_send },
    { "persist", n_persist }, { "recall", n_recall }, { "import", n_import },
    { "choose", n_choose }, { "finalize", n_finalize }, { "block", n_block }, { "mine", n_mine },
    { "producers", n_producers }, { "header", n_header }, { "evidence", n_evidence },
    { NULL, NULL }
};

/* Bytes from a peer that become an argument of a callback. They are
** decoded inside the metered call, so the memory cap and the gas meter
** cover every object they build: a message out of proportion fails the
** call instead of the node. */
typedef struct {
    const uint8_t *p;
    size_t n, max_item;
    int at;                      /* its place among the arguments (1 = the first) */
    int nil_on_error;            /* bytes that do not decode give nil, not a failure */
    int rc, decoded;             /* the codec's answer; 1 once decoded */
} rawarg;

/* (fn, args...) with a placeholder at raw->at: decodes, then calls fn. */
static int decode_then_call(lua_State *L)
{
    rawarg *r = lua_touserdata(L, lua_upvalueindex(1));
    if ((r->rc = ln_codec_decode_lua_limit(L, r->p, r->n, r->max_item)) < 0) {
        if (!r->nil_on_error) return luaL_error(L, "%s", ln_strerror(r->rc));
        lua_pushnil(L);
    }
    r->decoded = 1;
    lua_replace(L, r->at + 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* Calls module[cb] with the nargs values on top of the stack, metered,
** keeping nres results on the stack (the caller clears it); raw (may be
** NULL) is decoded into its argument first, inside the call. -1 when the
** plugin has no such callback (the arguments are popped). */
static int call_keep(ln_plugin *p, const char *cb, int nargs, int nres, rawarg *raw,
                     char *why, size_t whylen)
{
    lua_State *L = ln_sandbox_L(p->sb);
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->module_ref);
    /* Raw: a metamethod here would run outside the meter. */
    lua_pushstring(L, cb);
    lua_rawget(L, -2);
    lua_remove(L, -2);
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, nargs + 1);
        return -1;
    }
    lua_insert(L, -(nargs + 1));
    if (raw) {
        lua_pushlightuserdata(L, raw);
        lua_pushcclosure(L, decode_then_call, 1);
        lua_insert(L, -(nargs + 2));
    }
    ln_sandbox_meter_begin(p->sb, LN_PLUGIN_BUDGET, LN_PLUGIN_MEM);
    int rc = ln_sandbox_pcall(p->sb, raw ? nargs + 1 : nargs, nres);
    p->gas += ln_sandbox_meter_end(p->sb);
    if (rc < 0 && raw && !raw->decoded) {
        /* The peer's bytes, not the plugin: refused before any plugin code ran. */
        if (raw->rc == 0) raw->rc = LN_ETOOBIG;    /* past the memory cap or the meter */
        if (why)
            snprintf(why, whylen, "%s.%s: its argument does not decode: %s", p->name, cb,
                     raw->rc == LN_ETOOBIG ? "too big" : ln_strerror(raw->rc));
        lua_settop(L, 0);
        return raw->rc;
    }
    if (rc < 0) {
        if (why) {
            if (rc == LN_EGAS)
                snprintf(why, whylen, "%s.%s: stopped after its budget of %llu instructions",
                         p->name, cb, (unsigned long long)LN_PLUGIN_BUDGET);
            else
                snprintf(why, whylen, "%s.%s: %s", p->name, cb, lua_tostring(L, -1));
        }
        lua_settop(L, 0);
        return LN_EPLUGIN;
    }
    return 0;
}

/* Calls module[cb] for its effects; a missing callback is a no-op. */
static int call(ln_plugin *p, const char *cb, int nargs, char *why, size_t whylen)
{
    int rc = call_keep(p, cb, nargs, 0, NULL, why, whylen);
    lua_settop(ln_sandbox_L(p->sb), 0);
    return rc == -1 ? 0 : rc;
}

/* A verify_* answer on the stack: true, or nil/false and a reason. */
static int verdict(ln_plugin *p, const char *cb, char *why, size_t whylen)
{
    lua_State *L = ln_sandbox_L(p->sb);
    int ok = lua_toboolean(L, -2);
    if (!ok && why) {
        const char *r = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "refused";
        snprintf(why, whylen, "%s.%s: %s", p->name, cb, r);
    }
    lua_settop(L, 0);
    return ok ? 0 : LN_EBADBLOCK;
}

int ln_plugin_load(const ln_plugin_host *host, const char *name, const char *src, size_t len,
                   const uint8_t *params, size_t plen, ln_plugin **out,
                   char *why, size_t whylen)
{
    ln_plugin *p = calloc(1, sizeof *p);
    if (!p) return LN_ENOMEM;
    p->host = *host;
    msgpack_sbuffer_init(&p->scratch);
    snprintf(p->name, sizeof p->name, "%s", name);
    int rc = ln_sandbox_new(p, &p->sb);
    if (rc < 0) {
        free(p);
        return rc;
    }
    lua_State *L = ln_sandbox_L(p->sb);
    ln_sandbox_freeze(p->sb);
    char chunk[80];
    snprintf(chunk, sizeof chunk, "=%s", name);
    if (ln_sandbox_load(p->sb, src, len, chunk) < 0) {
        snprintf(why, whylen, "%s does not load: %s", name, lua_tostring(L, -1));
        ln_plugin_free(p);
        return LN_EPLUGIN;
    }
    ln_sandbox_newenv(p->sb);
    lua_setfenv(L, -2);
    ln_sandbox_meter_begin(p->sb, LN_PLUGIN_BUDGET, LN_PLUGIN_MEM);
    rc = ln_sandbox_pcall(p->sb, 0, 1);
    p->gas += ln_sandbox_meter_end(p->sb);
    if (rc < 0 || !lua_istable(L, -1)) {
        snprintf(why, whylen, "%s: %s", name,
                 rc < 0 ? lua_tostring(L, -1) : "must return a table of callbacks");
        ln_plugin_free(p);
        return LN_EPLUGIN;
    }
    p->module_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    /* The node table: frozen functions over this plugin, and its params. */
    lua_newtable(L);
    for (const luaL_Reg *r = node_api; r->name; r++) {
        lua_pushlightuserdata(L, p);
        lua_pushcclosure(L, r->func, 1);
        lua_setfield(L, -2, r->name);
    }
    if (params && plen) {
        if ((rc = ln_codec_decode_lua(L, params, plen)) < 0) {
            snprintf(why, whylen, "%s: params: %s", name, ln_strerror(rc));
            ln_plugin_free(p);
            return LN_EPLUGIN;
        }
    } else {
        lua_newtable(L);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "params");
    ln_sandbox_freeze_table(L, -2);
    if ((rc = call(p, "init", 2, why, whylen)) < 0) {
        ln_plugin_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void ln_plugin_free(ln_plugin *p)
{
    if (!p) return;
    ln_sandbox_free(p->sb);
    msgpack_sbuffer_destroy(&p->scratch);
    free(p);
}

const char *ln_plugin_name(const ln_plugin *p) { return p->name; }
uint64_t ln_plugin_gas(const ln_plugin *p) { return p->gas; }

int ln_plugin_start(ln_plugin *p, char *why, size_t whylen)
{
    return call(p, "start", 0, why, whylen);
}

int ln_plugin_stop(ln_plugin *p, char *why, size_t whylen)
{
    return call(p, "stop", 0, why, whylen);
}

int ln_plugin_on_timer(ln_plugin *p, const char *id, char *why, size_t whylen)
{
    lua_pushstring(ln_sandbox_L(p->sb), id);
    return call(p, "on_timer", 1, why, whylen);
}

int ln_plugin_forks(ln_plugin *p)
{
    lua_State *L = ln_sandbox_L(p->sb);
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->module_ref);
    lua_pushstring(L, "FORKS");
    lua_rawget(L, -2);
    int on = lua_type(L, -1) == LUA_TBOOLEAN && lua_toboolean(L, -1);
    lua_settop(L, 0);
    return on;
}

int ln_plugin_on_block(ln_plugin *p, const ln_plugin_block *block, char *why, size_t whylen)
{
    push_block(ln_sandbox_L(p->sb), block);
    return call(p, "on_block", 1, why, whylen);
}

int ln_plugin_on_mined(ln_plugin *p, int found, uint64_t nonce, const uint8_t hash[LN_HASH_LEN],
                       uint64_t next, char *why, size_t whylen)
{
    lua_State *L = ln_sandbox_L(p->sb);
    if (found) {
        lua_pushnumber(L, (lua_Number)nonce);
        char hex[2 * LN_HASH_LEN + 1];
        ln_hex(hash, LN_HASH_LEN, hex);
        lua_pushlstring(L, hex, 2 * LN_HASH_LEN);
    } else {
        lua_pushnil(L);
        lua_pushnil(L);
    }
    lua_pushnumber(L, (lua_Number)next);
    return call(p, "on_mined", 3, why, whylen);
}

/* A message or certificate from a peer: refused before anything is built
** when its shape is out of proportion to what a plugin sends. */
static int check_shape(const char *what, const uint8_t *m, size_t len, char *why, size_t whylen)
{
    ln_shape sh;
    int rc = ln_shape_of(m, len, LN_PLUGIN_MSG_OBJECTS, LN_CODEC_MAX_DEPTH, &sh);
    if (rc == LN_ETOOBIG)
        snprintf(why, whylen, "%s: more than %u objects", what, LN_PLUGIN_MSG_OBJECTS);
    else if (rc < 0)
        snprintf(why, whylen, "%s: %s", what, ln_strerror(rc));
    /* What it would take once built stays well inside the memory cap, so
    ** decoding it never meets the cap midway. */
    else if (sh.bytes + sh.objects * OBJECT_BYTES > LN_PLUGIN_MEM / 2)
        rc = ln_errf(why, whylen, LN_ETOOBIG, "%s: %zu bytes once decoded, more than %u", what,
                     sh.bytes + sh.objects * OBJECT_BYTES, LN_PLUGIN_MEM / 2);
    return rc;
}

int ln_plugin_on_message(ln_plugin *p, const char *from, const uint8_t *msg, size_t len,
                         char *why, size_t whylen)
{
    char what[64];
    snprintf(what, sizeof what, "message from %s", from);
    int rc = check_shape(what, msg, len, why, whylen);
    if (rc < 0) return rc;
    lua_State *L = ln_sandbox_L(p->sb);
    rawarg raw = { msg, len, LN_PLUGIN_MSG_MAX, 2, 0, 0, 0 };
    lua_pushstring(L, from);
    lua_pushnil(L);                              /* the message, once decoded */
    rc = call_keep(p, "on_message", 2, 0, &raw, why, whylen);
    lua_settop(L, 0);
    return rc == -1 ? 0 : rc;
}

int ln_plugin_verify(ln_plugin *p, const ln_plugin_block *block,
                     const uint8_t *cert, size_t certlen, char *why, size_t whylen)
{
    lua_State *L = ln_sandbox_L(p->sb);
    int rc = cert ? check_shape("certificate", cert, certlen, why, whylen) : 0;
    if (rc < 0) return rc;
    push_block(L, block);
    rc = call_keep(p, "verify_block", 1, 2, NULL, why, whylen);
    if (rc == 0 && (rc = verdict(p, "verify_block", why, whylen)) < 0) return rc;
    if (rc == LN_EPLUGIN) return rc;
    push_block(L, block);
    lua_pushnil(L);                              /* the certificate, once decoded */
    push_validators(L, p);
    rawarg raw = { cert, certlen, LN_CODEC_MAX_ITEM, 2, 1, 0, 0 };
    rc = call_keep(p, "verify_commit", 3, 2, cert ? &raw : NULL, why, whylen);
    if (rc == -1) {
        /* Without verify_commit no certificate can be trusted. */
        snprintf(why, whylen, "%s has no verify_commit", p->name);
        return LN_EPLUGIN;
    }
    if (rc < 0) return rc;
    return verdict(p, "verify_commit", why, whylen);
}
