/*
** contract.c -- the contract host.
**
** Every method call, top-level or nested, goes through do_call on a frame
** that says which contract runs and who called it. The code that starts a
** call (ln_vm_run, host_call) owns the frame, the overlay savepoint and the
** event mark, and restores all three whatever the call did, so an error
** that unwinds through several contracts leaves nothing half-done.
**
** The meter kills a call by refusing allocations, and a refusal outside a
** pcall would unwind past the sandbox: so whatever may allocate while the
** meter runs (arguments, results) happens under a pcall (run_action), and
** values cross the boundary through vm->scratch, never through malloc()ed
** buffers that a raise could leak. Compiled chunks are cached per vm; a
** revert that takes back a code write drops the cache with it.
*/
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "genesis.h"
#include "membership.h"
#include "sandbox.h"
#include "contract_int.h"

static const ln_signers no_signers = { NULL, 0, NULL };

#define SKEY_MAX LN_STORAGE_KEY_MAX

/* ---- helpers ---------------------------------------------------------- */

/* Raises msg as the call's error, remembering its code for the receipt.
** Like luaL_error, the text starts with the contract's position when a
** contract called the function that raises. */
int ln__vm_raise(lua_State *L, int code, const char *fmt, ...)
{
    ln_vm *vm = ln_sandbox_ud(L);
    char msg[sizeof vm->errmsg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    luaL_where(L, 1);
    snprintf(vm->errmsg, sizeof vm->errmsg, "%s%s", lua_tostring(L, -1), msg);
    lua_pop(L, 1);
    vm->errcode = code;
    lua_pushstring(L, vm->errmsg);
    return lua_error(L);
}

frame *ln__vm_top(ln_vm *vm) { return &vm->frames[vm->depth - 1]; }

/* code: the contract whose code makes this call, "" for the transaction's
** own actions. */
void ln__vm_push_frame(ln_vm *vm, const char *contract, const char *sender, const char *code)
{
    /* The names may be another frame's: copy through locals. */
    char c[LN_NAME_MAX + 1], s[LN_NAME_MAX + 1], a[LN_NAME_MAX + 1];
    snprintf(c, sizeof c, "%s", contract);
    snprintf(s, sizeof s, "%s", sender);
    snprintf(a, sizeof a, "%s", code);
    frame *f = &vm->frames[vm->depth++];
    memcpy(f->contract, c, sizeof c);
    memcpy(f->sender, s, sizeof s);
    memcpy(f->code, a, sizeof a);
}

/* 0 when the authority present in the top frame satisfies acct@perm
** (DESIGN, "Authority in nested calls"): the transaction's signatures in
** its own actions; inside a call made by contract C, C's own active
** authority and whatever lends itself to C with {account = C, permission =
** "code"}. LN_EAUTH or LN_ENOACCOUNT otherwise. */
int ln__vm_authorized(ln_vm *vm, const char *acct, const char *perm)
{
    const frame *f = ln__vm_top(vm);
    if (!f->code[0]) return ln_account_authorized(vm->ov, acct, perm, vm->signers);
    if (strcmp(acct, f->code) == 0 && strcmp(perm, "active") == 0) return 0;
    ln_signers code = { NULL, 0, f->code };
    return ln_account_authorized(vm->ov, acct, perm, &code);
}

/* The checks below look at the type first: lua_tolstring would turn a
** number into a string in place and let it pass. */
const char *ln__vm_check_name(lua_State *L, int idx, const char *what)
{
    size_t n = 0;
    const char *s = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &n) : NULL;
    if (!s || !ln_name_valid(s, n))
        ln__vm_raise(L, LN_EBADNAME, "%s must be an account name (1-12 of a-z 0-9 .)", what);
    return s;
}

/* Encodes the value at idx into vm->scratch, at most max bytes: 0 or the
** codec's LN_E* code. The encoding counts its work as it goes and stops
** where the gas left runs out; what it did is charged, done or failed
** (that charge raises the kill when it does not fit). Raises nothing else.
** The bytes stay valid until the next use of scratch; nothing is
** malloc()ed that a raise could leak. */
static int pack_scratch(lua_State *L, ln_vm *vm, int idx, size_t max)
{
    msgpack_packer pk;
    vm->scratch.size = 0;
    msgpack_packer_init(&pk, &vm->scratch, msgpack_sbuffer_write);
    uint64_t left = ln_sandbox_gas_left(L);
    ln_codec_meter m = { 0, left >= UINT64_MAX / 16 ? UINT64_MAX : left * 16 + 15, max,
                         ln_sandbox_table_slots };
    int rc = ln_codec_pack_lua_metered(L, idx, &pk, &m);
    ln_sandbox_charge(L, LN_GAS_ENCODE(m.work));
    return rc;
}

/* pack_scratch that raises with `what` on values that cannot cross. */
static void encode_max(lua_State *L, ln_vm *vm, int idx, const char *what, size_t max)
{
    int rc = pack_scratch(L, vm, idx, max);
    if (rc == LN_ETOOBIG)
        ln__vm_raise(L, rc, "%s: %s (the most is %u bytes encoded)", what, ln_strerror(rc), (unsigned)max);
    if (rc < 0) ln__vm_raise(L, rc, "%s: %s", what, ln_strerror(rc));
}

void ln__vm_encode(lua_State *L, ln_vm *vm, int idx, const char *what)
{
    encode_max(L, vm, idx, what, LN_SANDBOX_MEM_CAP);
}

/* What building values out of msgpack costs, before it is done. */
static void charge_items(lua_State *L, uint64_t items)
{
    ln_sandbox_charge(L, LN_GAS_DECODE(items));
}

/* Pushes the value in vm->scratch, charging the copy. */
static void unpack_scratch(lua_State *L, ln_vm *vm, const char *what)
{
    ln_sandbox_charge(L, LN_GAS_COPY_BYTES(vm->scratch.size));
    int rc = ln_codec_decode_lua_charged(L, (const uint8_t *)vm->scratch.data, vm->scratch.size,
                                         LN_STRING_MAX, charge_items);
    if (rc < 0) ln__vm_raise(L, rc, "%s: %s", what, ln_strerror(rc));
}

/* Replaces the value at idx with a deep copy made through msgpack. */
static void copy_value(lua_State *L, ln_vm *vm, int idx, const char *what)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    ln__vm_encode(L, vm, idx, what);
    unpack_scratch(L, vm, what);
    lua_replace(L, idx);
}

/* Empties the chunk cache without allocating. */
void ln__vm_clear_cache(lua_State *L, ln_vm *vm)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->cache_ref);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_pushnil(L);
        lua_rawset(L, -4);
    }
    lua_pop(L, 1);
}

void ln__vm_stored(lua_State *L, ln_vm *vm, const char *contract, int64_t delta)
{
    if (delta == 0) return;
    if (vm->nstlog == vm->capstlog) {
        uint32_t cap = vm->capstlog ? 2 * vm->capstlog : 16;
        ln_stored *n = realloc(vm->stlog, cap * sizeof *n);
        if (!n) ln__vm_raise(L, LN_ENOMEM, "%s", ln_strerror(LN_ENOMEM));
        vm->stlog = n;
        vm->capstlog = cap;
    }
    ln_stored *e = &vm->stlog[vm->nstlog++];
    size_t n = strnlen(contract, LN_NAME_MAX);
    memcpy(e->contract, contract, n);
    e->contract[n] = 0;
    e->bytes = delta;
}

/* Undoes the top savepoint. Compiled chunks cached since code_writes was
** taken may be of code the revert takes away: then the cache goes too. */
static void revert(lua_State *L, ln_vm *vm, uint32_t code_writes)
{
    ln_overlay_revert(vm->ov);
    if (vm->code_writes != code_writes) ln__vm_clear_cache(L, vm);
}

static size_t storage_key(const char *contract, const char *k, size_t kl, uint8_t *buf)
{
    size_t cl = strlen(contract);
    buf[0] = 's';
    memcpy(buf + 1, contract, cl);
    buf[1 + cl] = '/';
    memcpy(buf + 2 + cl, k, kl);
    return 2 + cl + kl;
}

size_t ln__vm_code_key(const char *name, uint8_t *buf)
{
    size_t n = strlen(name);
    buf[0] = 'c';
    memcpy(buf + 1, name, n);
    return n + 1;
}

/* ---- the contract API ------------------------------------------------- */

/* The state key of storage key argument 1 of the running contract, in
** key (room for LN_STATE_KEY_MAX); its length. *kl: the storage key's. */
static size_t check_skey(lua_State *L, ln_vm *vm, uint8_t *key, size_t *kl)
{
    const char *k = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, kl) : NULL;
    if (!k || *kl == 0 || *kl > SKEY_MAX)
        ln__vm_raise(L, LN_EINVAL, "storage key must be a string of 1-%d bytes", SKEY_MAX);
    return storage_key(ln__vm_top(vm)->contract, k, *kl, key);
}

static int host_storage_get(lua_State *L)
{
    ln_vm *vm = lua_touserdata(L, lua_upvalueindex(1));
    size_t kl;
    uint8_t key[2 + LN_NAME_MAX + LN_STORAGE_KEY_MAX];
    size_t n = check_skey(L, vm, key, &kl);
    const uint8_t *v;
    size_t vl;
    ln_sandbox_charge(L, LN_GAS_STORE_READ(0));
    int rc = ln_overlay_get(vm->ov, key, n, &v, &vl);
    if (rc == LN_ENOTFOUND) {
        lua_pushnil(L);
        return 1;
    }
    if (rc < 0) return ln__vm_raise(L, rc, "storage.get: %s", ln_strerror(rc));
    ln_sandbox_charge(L, LN_GAS_STORE_READ(vl));
    /* gov keeps the code its proposals carry (run_action lets its arguments
    ** hold up to LN_CODE_MAX) and reads it back to carry a proposal out. */
    size_t max = strcmp(ln__vm_top(vm)->contract, "gov") == 0 ? LN_CODE_MAX : LN_STRING_MAX;
    rc = ln_codec_decode_lua_charged(L, v, vl, max, charge_items);
    if (rc < 0) return ln__vm_raise(L, rc, "storage.get: stored value: %s", ln_strerror(rc));
    return 1;
}

static int host_storage_set(lua_State *L)
{
    ln_vm *vm = lua_touserdata(L, lua_upvalueindex(1));
    size_t kl;
    uint8_t key[2 + LN_NAME_MAX + LN_STORAGE_KEY_MAX];
    size_t n = check_skey(L, vm, key, &kl);
    int rc;
    int64_t after = 0;
    if (lua_isnoneornil(L, 2)) {
        ln_sandbox_charge(L, LN_GAS_STORE_WRITE(kl));
    } else {
        encode_max(L, vm, 2, "storage.set", LN_STATE_VALUE_MAX);
        ln_sandbox_charge(L, LN_GAS_STORE_WRITE(kl + vm->scratch.size));
        after = (int64_t)(kl + vm->scratch.size);
    }
    /* The meter's bytes: key and value, what was there before. */
    const uint8_t *old;
    size_t oldl;
    int64_t before = ln_overlay_get(vm->ov, key, n, &old, &oldl) == 0 ? (int64_t)(kl + oldl) : 0;
    if (after) rc = ln_overlay_set(vm->ov, key, n, (const uint8_t *)vm->scratch.data, vm->scratch.size);
    else rc = ln_overlay_delete(vm->ov, key, n);
    if (rc < 0) return ln__vm_raise(L, rc, "storage.set: %s", ln_strerror(rc));
    ln__vm_stored(L, vm, ln__vm_top(vm)->contract, after - before);
    return 0;
}

static int host_storage_delete(lua_State *L)
{
    lua_settop(L, 1);
    lua_pushnil(L);
    return host_storage_set(L);
}

static int host_emit(lua_State *L)
{
    ln_vm *vm = lua_touserdata(L, lua_upvalueindex(1));
    size_t nl = 0;
    const char *name = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &nl) : NULL;
    if (!name || nl == 0 || nl > LN_EVENT_NAME_MAX)
        return ln__vm_raise(L, LN_EINVAL, "emit: event name must be a string of 1-%d bytes",
                     LN_EVENT_NAME_MAX);
    lua_settop(L, 2);
    encode_max(L, vm, 2, "emit", LN_EVENT_DATA_MAX);
    size_t dl = vm->scratch.size;
    ln_sandbox_charge(L, LN_GAS_STORE_WRITE(nl + dl));
    const char *c = ln__vm_top(vm)->contract;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &vm->ev, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str(&pk, 8);
    msgpack_pack_str_body(&pk, "contract", 8);
    msgpack_pack_str(&pk, strlen(c));
    msgpack_pack_str_body(&pk, c, strlen(c));
    msgpack_pack_str(&pk, 4);
    msgpack_pack_str_body(&pk, "data", 4);
    msgpack_sbuffer_write(&vm->ev, vm->scratch.data, dl);
    msgpack_pack_str(&pk, 4);
    msgpack_pack_str_body(&pk, "name", 4);
    msgpack_pack_str(&pk, nl);
    msgpack_pack_str_body(&pk, name, nl);
    vm->nev++;
    return 0;
}

static int do_call(lua_State *L);
static int run_action(lua_State *L);

static int host_call(lua_State *L)
{
    ln_vm *vm = lua_touserdata(L, lua_upvalueindex(1));
    char contract[LN_NAME_MAX + 1], sender[LN_NAME_MAX + 1];
    snprintf(contract, sizeof contract, "%s", ln__vm_check_name(L, 1, "call: contract"));
    if (lua_type(L, 2) != LUA_TSTRING) return ln__vm_raise(L, LN_EINVAL, "call: method must be a string");
    if (vm->depth >= LN_CALL_DEPTH_MAX)
        return ln__vm_raise(L, LN_EDEPTHCALL, "call depth exceeded (max %d)", LN_CALL_DEPTH_MAX);
    ln_sandbox_charge(L, LN_GAS_CALL);
    int n = lua_gettop(L);
    for (int i = 3; i <= n; i++) copy_value(L, vm, i, "call argument");
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->docall_ref);
    lua_insert(L, 1);

    /* From begin to release or revert nothing but a kill may raise: a
    ** contract's pcall must never go on with the callee's savepoint open. */
    snprintf(sender, sizeof sender, "%s", ln__vm_top(vm)->contract);
    int depth = vm->depth;
    size_t evlen = vm->ev.size;
    uint32_t nev = vm->nev, code_writes = vm->code_writes, nst = vm->nstlog;
    vm->calls++;
    ln_overlay_begin(vm->ov);
    ln__vm_push_frame(vm, contract, sender, sender);   /* the caller's code is the authority */
    int rc = lua_pcall(L, n, 1, 0);
    vm->depth = depth;
    if (rc == 0) rc = pack_scratch(L, vm, -1, LN_SANDBOX_MEM_CAP);   /* the result must cross too */
    else rc = 1;
    if (rc != 0) {
        revert(L, vm, code_writes);
        vm->ev.size = evlen;
        vm->nev = nev;
        vm->nstlog = nst;
        if (rc < 0) return ln__vm_raise(L, rc, "call result: %s", ln_strerror(rc));
        return lua_error(L);          /* the callee's error, or the kill */
    }
    ln_overlay_release(vm->ov);
    lua_pop(L, 1);
    unpack_scratch(L, vm, "call result");
    return 1;
}

static int host_require_auth(lua_State *L)
{
    ln_vm *vm = lua_touserdata(L, lua_upvalueindex(1));
    const char *acct = ln__vm_check_name(L, 1, "require_auth: account");
    const char *perm = lua_isnoneornil(L, 2) ? "active"
                     : lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
    if (!perm || (strcmp(perm, "active") != 0 && strcmp(perm, "owner") != 0))
        return ln__vm_raise(L, LN_EINVAL, "require_auth: permission must be active or owner");
    ln_sandbox_charge(L, LN_GAS_STORE_READ(64) * 2);
    int rc = ln__vm_authorized(vm, acct, perm);
    if (rc == LN_ENOACCOUNT)
        return ln__vm_raise(L, LN_ENOACCOUNT, "missing authority of %s@%s: no such account", acct, perm);
    if (rc < 0)
        return ln__vm_raise(L, LN_EAUTH, "missing authority of %s@%s", acct, perm);
    return 0;
}


/* ---- log(...) ---------------------------------------------------------- */

static ln_contract_log_fn log_fn;
static void *log_ud;

void ln_contract_log_sink(ln_contract_log_fn fn, void *ud)
{
    log_fn = fn;
    log_ud = ud;
}

/* The text of a value that is not a string, into buf (room for 32). Its
** length is never charged (LN_LOG_VALUE_BYTES is), so how a build prints a
** number cannot change the gas. */
static size_t log_value(lua_State *L, int i, char *buf)
{
    int t = lua_type(L, i);
    if (t == LUA_TNUMBER) {
        double x = lua_tonumber(L, i);
        if (x != x) return (size_t)snprintf(buf, 32, "nan");
        if (x == floor(x) && fabs(x) < 1e18) return (size_t)snprintf(buf, 32, "%.0f", x);
        return (size_t)snprintf(buf, 32, "%.14g", x);
    }
    if (t == LUA_TBOOLEAN) return (size_t)snprintf(buf, 32, "%s", lua_toboolean(L, i) ? "true" : "false");
    return (size_t)snprintf(buf, 32, t == LUA_TNIL || t == LUA_TNONE ? "nil" : "<%s>", lua_typename(L, t));
}

/* log(...): charged first, by the arguments alone; then, if there is a
** sink, the text is built in C memory (never the sandbox's heap) and
** handed over. */
static int host_log(lua_State *L)
{
    int n = lua_gettop(L);
    uint64_t bytes = n > 1 ? (uint64_t)n - 1 : 0;
    for (int i = 1; i <= n; i++) {
        size_t l = LN_LOG_VALUE_BYTES;
        if (lua_type(L, i) == LUA_TSTRING) lua_tolstring(L, i, &l);
        bytes += l;
    }
    if (bytes > LN_LOG_MAX) bytes = LN_LOG_MAX;
    ln_sandbox_charge(L, 100 + LN_GAS_VALUES(n) + LN_GAS_COPY_BYTES(bytes));
    ln_contract_log_fn fn = log_fn;
    if (!fn) return 0;
    char *text = malloc(LN_LOG_MAX + 1), where[LUA_IDSIZE + 24] = "?";
    if (!text) return 0;
    size_t len = 0;
    for (int i = 1; i <= n && len < LN_LOG_MAX; i++) {
        char v[32];
        const char *s = v;
        size_t l;
        if (lua_type(L, i) == LUA_TSTRING) s = lua_tolstring(L, i, &l);
        else l = log_value(L, i, v);
        if (i > 1) text[len++] = ' ';
        if (l > LN_LOG_MAX - len) l = LN_LOG_MAX - len;
        memcpy(text + len, s, l);
        len += l;
    }
    text[len] = 0;
    lua_Debug ar;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar))
        snprintf(where, sizeof where, "%s:%d", ar.short_src, ar.currentline);
    fn(where, text, len, log_ud);
    free(text);
    return 0;
}

static const luaL_Reg storage_api[] = {
    { "get", host_storage_get }, { "set", host_storage_set },
    { "delete", host_storage_delete }, { NULL, NULL }
};

static const luaL_Reg crypto_api[] = {
    { "hash", ln_sandbox_l_hash }, { "verify", ln_sandbox_l_verify }, { NULL, NULL }
};

/* ---- loading and calling contracts ------------------------------------ */

/* Charges loading the code of contract `name` (bytes: its size, known on
** the first use in this vm), once per transaction, whether this vm has
** loaded it already or not: an earlier transaction of the block must not
** make this one cheaper. */
static void charge_load(lua_State *L, ln_vm *vm, const char *name, size_t bytes)
{
    loadrec *r = NULL;
    for (uint32_t i = 0; i < vm->nloads && !r; i++)
        if (strcmp(vm->loads[i].name, name) == 0) r = &vm->loads[i];
    if (!r) {
        if (vm->nloads == vm->capl) {
            uint32_t cap = vm->capl ? 2 * vm->capl : 16;
            loadrec *nl = realloc(vm->loads, cap * sizeof *nl);
            if (!nl) ln__vm_raise(L, LN_ENOMEM, "%s", ln_strerror(LN_ENOMEM));
            vm->loads = nl;
            vm->capl = cap;
        }
        r = &vm->loads[vm->nloads++];
        snprintf(r->name, sizeof r->name, "%s", name);
        r->paid = 0;
    }
    if (bytes) r->bytes = bytes;
    if (r->paid != vm->tx_serial) {
        r->paid = vm->tx_serial;
        ln_sandbox_charge(L, LN_GAS_LOAD(r->bytes));
    }
}

/* Pushes the compiled chunk of contract `name`, loading it on first use in
** this vm (through the process's chunk store: ln_sandbox_load_cached). The
** load is charged by charge_load; the vm's own bookkeeping is not. */
static void push_chunk(lua_State *L, ln_vm *vm, const char *name)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->cache_ref);
    lua_getfield(L, -1, name);
    if (!lua_isnil(L, -1)) {
        charge_load(L, vm, name, 0);
        lua_remove(L, -2);
        return;
    }
    lua_pop(L, 1);
    uint8_t key[1 + LN_NAME_MAX];
    size_t kl = ln__vm_code_key(name, key);
    const uint8_t *src;
    size_t sl;
    if (ln_overlay_get(vm->ov, key, kl, &src, &sl) < 0)
        ln__vm_raise(L, LN_ENOCODE, "account %s has no contract", name);
    charge_load(L, vm, name, sl);
    char chunk[LN_NAME_MAX + 2];
    snprintf(chunk, sizeof chunk, "=%s", name);
    int paused = ln_sandbox_pause(vm->sb);
    int rc = ln_sandbox_load_cached(vm->sb, (const char *)src, sl, chunk);
    if (rc == 0) {
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, name);
    }
    ln_sandbox_resume(vm->sb, paused);
    if (rc < 0) ln__vm_raise(L, LN_ECODE, "contract %s does not load: %s", name, lua_tostring(L, -1));
    lua_remove(L, -2);
}

/* Runs the chunk of the top frame's contract in a fresh environment and
** pushes the table of methods it returns. */
void ln__vm_push_module(lua_State *L, ln_vm *vm)
{
    frame *f = ln__vm_top(vm);
    push_chunk(L, vm, f->contract);
    ln_sandbox_newenv(vm->sb);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, f->sender);
    lua_setfield(L, -2, "sender");
    lua_pushstring(L, f->contract);
    lua_setfield(L, -2, "contract");
    lua_pushstring(L, vm->origin);
    lua_setfield(L, -2, "origin");
    lua_setfield(L, -2, "msg");
    if (strcmp(f->contract, "gov") == 0) {     /* the governance plugin alone */
        lua_rawgeti(L, LUA_REGISTRYINDEX, vm->system_ref);
        lua_setfield(L, -2, "system");
    }
    lua_setfenv(L, -2);
    lua_call(L, 0, 1);
    if (!lua_istable(L, -1))
        ln__vm_raise(L, LN_ECODE, "contract %s must return a table of methods", f->contract);
}


/* do_call(contract, method, ...) on the frame its caller pushed: returns the
** method's first result. */
static int do_call(lua_State *L)
{
    ln_vm *vm = lua_touserdata(L, lua_upvalueindex(1));
    const char *c = lua_tostring(L, 1);
    const char *m = lua_tostring(L, 2);
    if (strcmp(c, "sys") == 0) return ln__sys_action(L, vm, m);
    if (m[0] == '_') return ln__vm_raise(L, LN_EPRIVATE, "method %s.%s is private", c, m);
    /* sys_deploy calls init itself; no call, query or transaction may. */
    if (strcmp(m, "init") == 0)
        return ln__vm_raise(L, LN_EPRIVATE, "method %s.init runs only at deploy", c);
    int nargs = lua_gettop(L) - 2;
    ln__vm_push_module(L, vm);
    lua_getfield(L, -1, m);
    if (!lua_isfunction(L, -1))
        return ln__vm_raise(L, LN_ENOMETHOD, "contract %s has no method %s", c, m);
    lua_replace(L, 2);                /* fn in place of the method name */
    lua_pop(L, 1);                    /* the module */
    lua_remove(L, 1);
    lua_call(L, nargs, 1);
    return 1;
}

/* ---- vm --------------------------------------------------------------- */

int ln_vm_new(ln_overlay *ov, const ln_blockinfo *bi, ln_vm **out)
{
    ln_vm *vm = calloc(1, sizeof *vm);
    if (!vm) return LN_ENOMEM;
    /* Seeded by the parent hash: every node hashes alike, and the seed is
    ** not known before the parent exists. */
    int rc = ln_sandbox_new_seeded(vm, bi->hash, &vm->sb);
    if (rc < 0) {
        free(vm);
        return rc;
    }
    vm->ov = ov;
    vm->bi = *bi;
    vm->signers = &no_signers;
    msgpack_sbuffer_init(&vm->ev);
    lua_State *L = ln_sandbox_L(vm->sb);
    if ((rc = ln_sandbox_cap_strings(vm->sb, LN_STRING_MAX)) < 0) {
        ln_sandbox_free(vm->sb);
        free(vm);
        return rc;
    }
    ln_sandbox_register(vm->sb, "storage", storage_api, vm);
    ln_sandbox_register(vm->sb, "crypto", crypto_api, vm);
    ln_sandbox_register_fn(vm->sb, "emit", host_emit, vm);
    ln_sandbox_register_fn(vm->sb, "call", host_call, vm);
    ln_sandbox_register_fn(vm->sb, "require_auth", host_require_auth, vm);
    ln_sandbox_register_fn(vm->sb, "log", host_log, vm);
    char hex[2 * LN_HASH_LEN + 1];
    ln_hex(bi->hash, LN_HASH_LEN, hex);
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, (lua_Number)bi->height);
    lua_setfield(L, -2, "height");
    lua_pushnumber(L, (lua_Number)bi->time);
    lua_setfield(L, -2, "time");
    lua_pushstring(L, hex);
    lua_setfield(L, -2, "hash");
    ln_sandbox_freeze_table(L, -1);
    ln_sandbox_setglobal(vm->sb, "block");
    ln_sandbox_freeze(vm->sb);
    lua_newtable(L);
    vm->cache_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    /* Made once, so that starting an action allocates nothing while the
    ** meter runs: outside a pcall a kill could not be caught. */
    lua_pushlightuserdata(L, vm);
    lua_pushcclosure(L, do_call, 1);
    vm->docall_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushcfunction(L, run_action);
    vm->run_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    ln__govern_table(L, vm);
    vm->system_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    msgpack_sbuffer_init(&vm->scratch);
    *out = vm;
    return 0;
}

void ln_vm_free(ln_vm *vm)
{
    if (!vm) return;
    ln_sandbox_free(vm->sb);
    free(vm->loads);
    free(vm->stlog);
    msgpack_sbuffer_destroy(&vm->ev);
    msgpack_sbuffer_destroy(&vm->scratch);
    free(vm);
}

void ln_usage_free(ln_usage *u)
{
    free(u->stored);
    memset(u, 0, sizeof *u);
}

void ln_outcome_free(ln_outcome *o)
{
    free(o->error);
    free(o->result);
    free(o->events);
    ln_usage_free(&o->usage);
    memset(o, 0, sizeof *o);
}

static void fail_len(ln_outcome *out, int code, const char *msg, size_t len)
{
    out->code = code;
    free(out->error);
    out->error = malloc(len + 1);
    if (out->error) {
        memcpy(out->error, msg, len);
        out->error[len] = '\0';
    }
    free(out->result);
    out->result = NULL;
    out->result_len = 0;
}

static void fail(ln_outcome *out, int code, const char *msg)
{
    if (!msg) msg = ln_strerror(code);
    fail_len(out, code, msg, strlen(msg));
}

/* The error of a failed pcall at the top of the stack, with its code. The
** text goes into the receipt: cut to LN_ERROR_MAX bytes (on a character
** boundary) and charged like event data. A kill's text is the sandbox's
** own and costs nothing more. */
static void take_error(ln_vm *vm, int rc, ln_outcome *out)
{
    lua_State *L = ln_sandbox_L(vm->sb);
    const char *msg = lua_tostring(L, -1);
    int code = rc;
    if (rc == LN_ECALL && vm->errcode && msg && strcmp(msg, vm->errmsg) == 0)
        code = vm->errcode;
    if (!msg) msg = ln_strerror(code);
    size_t len = strnlen(msg, LN_ERROR_MAX + 1);
    if (len > LN_ERROR_MAX) {
        len = LN_ERROR_MAX;
        while (len > 0 && ((unsigned char)msg[len] & 0xc0) == 0x80) len--;
    }
    if (!ln_sandbox_killed(vm->sb)) ln_sandbox_charge_host(vm->sb, LN_GAS_RECEIPT(len));
    fail_len(out, code, msg, len);
    lua_pop(L, 1);
}

static void take_events(ln_vm *vm, ln_outcome *out)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    ln_sbuffer_init(&sb, 512);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, vm->nev);
    if (vm->ev.size) msgpack_sbuffer_write(&sb, vm->ev.data, vm->ev.size);
    out->events = (uint8_t *)sb.data;
    out->events_len = sb.size;
}

/* Undoes every savepoint opened since the overlay was at depth d. */
static void revert_to(ln_vm *vm, size_t d, uint32_t code_writes)
{
    lua_State *L = ln_sandbox_L(vm->sb);
    while (ln_overlay_depth(vm->ov) > d) ln_overlay_revert(vm->ov);
    if (vm->code_writes != code_writes) ln__vm_clear_cache(L, vm);
}

static void release_to(ln_vm *vm, size_t d)
{
    while (ln_overlay_depth(vm->ov) > d) ln_overlay_release(vm->ov);
}

/* Names an action by the contract and method it calls. */
typedef struct {
    ln_vm *vm;
    const char *contract;
    const char *method;
    size_t ml;
    const msgpack_object *args;     /* msgpack array or NULL */
    ln_outcome *out;
} action;

#define MAX_ARGS 4000

/* run_action(a): the protected body of one action. Pushes the arguments,
** calls the method on the frame run_one pushed, and encodes its result into
** a->out. Everything that may allocate happens here, under the pcall. */
static int run_action(lua_State *L)
{
    action *a = lua_touserdata(L, 1);
    ln_vm *vm = a->vm;
    uint32_t na = a->args ? a->args->via.array.size : 0;
    lua_settop(L, 0);
    if (na > MAX_ARGS || !lua_checkstack(L, (int)na + 4))
        return ln__vm_raise(L, LN_ETOOBIG, "too many arguments (max %d)", MAX_ARGS);
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->docall_ref);
    lua_pushstring(L, a->contract);
    lua_pushlstring(L, a->method, a->ml);
    /* A contract's strings are capped; the source handed to sys.deploy is
    ** read by the host, never by contract code, and the governance contract
    ** only stores and hands on the code a proposal carries. */
    size_t max = strcmp(a->contract, "sys") == 0 ? SIZE_MAX
               : strcmp(a->contract, "gov") == 0 ? LN_CODE_MAX   /* a plugin's code in a proposal */
               : LN_STRING_MAX;
    for (uint32_t i = 0; i < na; i++) {
        int rc = ln_codec_push_strmax(L, &a->args->via.array.ptr[i], max);
        if (rc < 0) return ln__vm_raise(L, rc, "argument %u: %s", i + 1, ln_strerror(rc));
    }
    lua_call(L, (int)na + 2, 1);
    /* The result goes into the receipt (or the query's answer): capped and
    ** charged like event data. */
    encode_max(L, vm, -1, "result", vm->result_max);
    ln_sandbox_charge(L, LN_GAS_RECEIPT(vm->scratch.size));
    ln_outcome *out = a->out;
    free(out->result);
    out->result = malloc(vm->scratch.size);
    out->result_len = out->result ? vm->scratch.size : 0;
    if (!out->result) return ln__vm_raise(L, LN_ENOMEM, "result: %s", ln_strerror(LN_ENOMEM));
    memcpy(out->result, vm->scratch.data, vm->scratch.size);
    return 0;
}

/* Calls one method on a fresh frame inside the running meter; on success
** out->result holds its encoded result. */
static int run_one(ln_vm *vm, const char *sender, const char *c, size_t cl,
                   const char *m, size_t ml, const msgpack_object *args, ln_outcome *out)
{
    lua_State *L = ln_sandbox_L(vm->sb);
    char contract[LN_NAME_MAX + 1];
    if (!ln_name_valid(c, cl)) {
        fail(out, LN_EBADNAME, "contract must be an account name");
        return LN_EBADNAME;
    }
    if (ml == 0 || memchr(m, 0, ml)) {
        fail(out, LN_ENOMETHOD, "method must be a non-empty string without NUL bytes");
        return LN_ENOMETHOD;
    }
    snprintf(contract, sizeof contract, "%.*s", (int)cl, c);
    snprintf(vm->action, sizeof vm->action, "%s.%.*s", contract, (int)(ml > 64 ? 64 : ml), m);
    action a = { vm, contract, m, ml, args, out };
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->run_ref);     /* allocates nothing */
    lua_pushlightuserdata(L, &a);
    vm->errcode = 0;
    vm->depth = 0;
    vm->calls++;
    ln__vm_push_frame(vm, contract, sender, "");
    int rc = ln_sandbox_pcall(vm->sb, 1, 0);
    vm->depth = 0;
    if (rc < 0) take_error(vm, rc, out);
    return rc;
}

/* No contract's load is paid yet in the transaction that starts. */
static void new_transaction(ln_vm *vm)
{
    vm->tx_serial++;
}

/* Starts a run as origin with signers: a savepoint, the meter. *d and
** *code_writes are what ends it needs. */
static void run_begin(ln_vm *vm, const char *origin, const ln_signers *signers,
                      size_t result_max, uint64_t gas_limit, size_t *d, uint32_t *code_writes)
{
    vm->origin = origin;
    vm->signers = signers ? signers : &no_signers;
    vm->result_max = result_max;
    new_transaction(vm);
    vm->ev.size = 0;
    vm->nev = 0;
    vm->calls = 0;
    vm->nstlog = 0;
    *d = ln_overlay_depth(vm->ov);
    *code_writes = vm->code_writes;
    ln_overlay_begin(vm->ov);
    ln_sandbox_meter_begin(vm->sb, gas_limit, LN_SANDBOX_MEM_CAP);
}

/* The receipt's text of a call stopped for gas or memory: what ran, where,
** and the limit ("out of gas in token.transfer at token:12: the limit is
** 5000 gas"). Every node stops at the same instruction, so the text is the
** same everywhere. */
static void kill_text(ln_vm *vm, int code, ln_outcome *out)
{
    const char *where = ln_sandbox_kill_where(vm->sb);
    char msg[LN_NAME_MAX + 66 + LUA_IDSIZE + 120];
    int n = snprintf(msg, sizeof msg, "%s in %s%s%s", ln_strerror(code), vm->action,
                     *where ? " at " : "", where);
    if (n < 0 || (size_t)n >= sizeof msg) n = (int)sizeof msg - 1;
    if (code == LN_EGAS)
        snprintf(msg + n, sizeof msg - (size_t)n, ": the limit is %llu gas",
                 (unsigned long long)ln_sandbox_gas_limit(vm->sb));
    else
        snprintf(msg + n, sizeof msg - (size_t)n, ": the cap is %u MiB of memory",
                 (unsigned)(LN_SANDBOX_MEM_CAP >> 20));
    fail(out, code, msg);
}

/* Ends a run that gave rc: its gas, a kill the meter found only at the
** end, its writes kept (keep, and nothing failed) or all undone (a kill may
** have left inner savepoints open), its events. */
/* The usage of the run that ends: the storage changes of the writes it
** kept, summed per contract (by name). */
static void take_usage(ln_vm *vm, int kept, ln_outcome *out)
{
    ln_usage *u = &out->usage;
    ln_usage_free(u);
    u->gas = out->gas_used;
    u->mem_peak = ln_sandbox_mem_peak(vm->sb);
    u->calls = vm->calls;
    u->events_bytes = vm->ev.size;
    if (!kept || !vm->nstlog) return;
    ln_stored *st = malloc(vm->nstlog * sizeof *st);
    if (!st) return;                 /* out of host memory: the counts are lost, not the run */
    uint32_t n = 0;
    for (uint32_t i = 0; i < vm->nstlog; i++) {
        const ln_stored *e = &vm->stlog[i];
        uint32_t j = 0;
        while (j < n && strcmp(st[j].contract, e->contract) < 0) j++;
        if (j < n && strcmp(st[j].contract, e->contract) == 0) {
            st[j].bytes += e->bytes;
            continue;
        }
        memmove(&st[j + 1], &st[j], (n - j) * sizeof *st);
        st[j] = *e;
        n++;
    }
    uint32_t k = 0;
    for (uint32_t j = 0; j < n; j++) {
        if (st[j].bytes > 0) u->storage_added += (uint64_t)st[j].bytes;
        if (st[j].bytes < 0) u->storage_freed += (uint64_t)-st[j].bytes;
        if (st[j].bytes) st[k++] = st[j];
    }
    if (k) {
        u->stored = st;
        u->nstored = k;
    } else {
        free(st);
    }
}

static void run_end(ln_vm *vm, int rc, size_t d, uint32_t code_writes, int keep, ln_outcome *out)
{
    out->gas_used = ln_sandbox_meter_end(vm->sb);
    if (ln_sandbox_killed(vm->sb)) {
        rc = ln_sandbox_killed(vm->sb);
        if (rc == LN_EGAS || rc == LN_EMEM) kill_text(vm, rc, out);
        else if (out->code != rc) fail(out, rc, ln_strerror(rc));
    }
    if (keep && rc == 0) {
        release_to(vm, d);
    } else {
        revert_to(vm, d, code_writes);
        if (rc != 0) {
            vm->ev.size = 0;
            vm->nev = 0;
        }
    }
    take_events(vm, out);
    take_usage(vm, keep && rc == 0, out);
    lua_settop(ln_sandbox_L(vm->sb), 0);
    vm->signers = &no_signers;
}

int ln_vm_run(ln_vm *vm, const char *origin, const ln_signers *signers,
              const msgpack_object *actions, uint32_t nactions,
              uint64_t gas_limit, ln_outcome *out)
{
    memset(out, 0, sizeof *out);
    size_t d;
    uint32_t code_writes;
    run_begin(vm, origin, signers, LN_RESULT_MAX, gas_limit, &d, &code_writes);
    int rc = 0;
    for (uint32_t i = 0; i < nactions && rc == 0; i++) {
        const msgpack_object_kv *kv = actions[i].via.map.ptr;  /* args, contract, method */
        rc = run_one(vm, origin, kv[1].val.via.str.ptr, kv[1].val.via.str.size,
                     kv[2].val.via.str.ptr, kv[2].val.via.str.size, &kv[0].val, out);
    }
    run_end(vm, rc, d, code_writes, 1, out);
    return 0;
}

typedef struct {
    ln_vm *vm;
    const char *src;
    size_t len;
    const msgpack_object *args;     /* NULL: store the code; else run init(args...) */
} install;

static int install_body(lua_State *L)
{
    install *a = lua_touserdata(L, 1);
    ln_vm *vm = a->vm;
    const char *name = ln__vm_top(vm)->contract;
    lua_settop(L, 0);
    if (!a->args) {
        ln_account acc;
        int rc = ln_account_load(vm->ov, name, &acc);
        if (rc < 0) return ln__vm_raise(L, rc, "account %s: %s", name, ln_strerror(rc));
        ln__vm_store_code(L, vm, &acc, a->src, a->len);
        ln__vm_push_module(L, vm);     /* it must load and return its methods */
        return 0;
    }
    ln__vm_push_module(L, vm);
    lua_getfield(L, -1, "init");
    if (!lua_isfunction(L, -1)) return 0;
    uint32_t n = a->args->via.array.size;
    if (n > MAX_ARGS || !lua_checkstack(L, (int)n + 2))
        return ln__vm_raise(L, LN_ETOOBIG, "too many arguments (max %d)", MAX_ARGS);
    for (uint32_t i = 0; i < n; i++) {
        int rc = ln_codec_push(L, &a->args->via.array.ptr[i]);
        if (rc < 0) return ln__vm_raise(L, rc, "argument %u: %s", i + 1, ln_strerror(rc));
    }
    lua_call(L, (int)n, 0);
    return 0;
}

/* One protected step of ln_vm_install as the contract itself. */
static int install_step(ln_vm *vm, const char *name, install *a, uint64_t gas, ln_outcome *out)
{
    size_t d;
    uint32_t code_writes;
    memset(out, 0, sizeof *out);
    run_begin(vm, name, NULL, LN_RESULT_MAX, gas, &d, &code_writes);
    lua_State *L = ln_sandbox_L(vm->sb);
    lua_pushcfunction(L, install_body);
    lua_pushlightuserdata(L, a);
    vm->errcode = 0;
    vm->depth = 0;
    ln__vm_push_frame(vm, name, name, name);
    int rc = ln_sandbox_pcall(vm->sb, 1, 0);
    vm->depth = 0;
    if (rc < 0) take_error(vm, rc, out);
    run_end(vm, rc, d, code_writes, 1, out);
    return out->code;
}

int ln_vm_install(ln_vm *vm, const char *name, const char *src, size_t len,
                  const msgpack_object *init_args, uint64_t gas_limit, ln_outcome *out)
{
    install a = { vm, src, len, NULL };
    if (install_step(vm, name, &a, gas_limit, out) != 0 || !init_args) return 0;
    ln_outcome_free(out);
    a.args = init_args;
    install_step(vm, name, &a, gas_limit, out);
    return 0;
}

int ln_vm_query(ln_vm *vm, const char *contract, const char *method,
                const msgpack_object *args, uint64_t gas_limit, ln_outcome *out)
{
    memset(out, 0, sizeof *out);
    if (!ln_name_valid(contract, strlen(contract)) || strcmp(contract, "sys") == 0) {
        fail(out, LN_EBADNAME, "contract must be an account name");
        return 0;
    }
    if (args && args->type != MSGPACK_OBJECT_ARRAY) {
        fail(out, LN_EINVAL, "args must be an array");
        return 0;
    }
    size_t d;
    uint32_t code_writes;
    run_begin(vm, "", NULL, LN_SANDBOX_MEM_CAP, gas_limit, &d, &code_writes);
    int rc = run_one(vm, "", contract, strlen(contract), method, strlen(method), args, out);
    run_end(vm, rc, d, code_writes, 0, out);   /* a query's writes go */
    return 0;
}
