/*
** contract.c -- the contract host.
**
** Every method call, top-level or nested, goes through do_call on a frame
** that says which contract runs and who called it. The code that starts a
** call (ln_vm_run, host_call) owns the frame, the overlay savepoint and the
** event mark, and restores all three whatever the call did, so an error
** that unwinds through several contracts leaves nothing half-done.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "sandbox.h"

typedef struct {
    char contract[LN_NAME_MAX + 1];
    char sender[LN_NAME_MAX + 1];
} frame;

struct ln_vm {
    ln_sandbox *sb;
    ln_overlay *ov;
    ln_blockinfo bi;
    const char *origin;
    const ln_signers *signers;
    frame frames[LN_CALL_DEPTH_MAX + 2];
    int depth;
    int in_deploy;
    int cache_ref;
    msgpack_sbuffer ev;             /* events, each a packed map */
    uint32_t nev;
    int errcode;                    /* code of the last error the host raised */
    char errmsg[256];
};

static const ln_signers no_signers = { NULL, 0 };

/* ---- helpers ---------------------------------------------------------- */

/* Raises msg as the call's error, remembering its code for the receipt. */
static int raise(lua_State *L, int code, const char *fmt, ...)
{
    ln_vm *vm = ln_sandbox_ud(L);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vm->errmsg, sizeof vm->errmsg, fmt, ap);
    va_end(ap);
    vm->errcode = code;
    lua_pushstring(L, vm->errmsg);
    return lua_error(L);
}

static frame *top(ln_vm *vm) { return &vm->frames[vm->depth - 1]; }

static void push_frame(ln_vm *vm, const char *contract, const char *sender)
{
    frame *f = &vm->frames[vm->depth++];
    snprintf(f->contract, sizeof f->contract, "%s", contract);
    snprintf(f->sender, sizeof f->sender, "%s", sender);
}

static const char *check_name(lua_State *L, int idx, const char *what)
{
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    if (!s || lua_type(L, idx) != LUA_TSTRING || !ln_name_valid(s, n))
        raise(L, LN_EBADNAME, "%s must be an account name (1-12 of a-z 0-9 .)", what);
    return s;
}

/* Encodes the value at idx; raises with `what` on values that cannot cross. */
static void encode(lua_State *L, int idx, const char *what, uint8_t **out, size_t *len)
{
    int rc = ln_codec_encode_lua(L, idx, out, len);
    if (rc < 0) raise(L, rc, "%s: %s", what, ln_strerror(rc));
}

/* Replaces the value at idx with a deep copy made through msgpack. */
static void copy_value(lua_State *L, int idx, const char *what)
{
    uint8_t *buf;
    size_t len;
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    encode(L, idx, what, &buf, &len);
    ln_sandbox_charge(L, LN_GAS_COPY_BYTES(len));
    int rc = ln_codec_decode_lua(L, buf, len);
    free(buf);
    if (rc < 0) raise(L, rc, "%s: %s", what, ln_strerror(rc));
    lua_replace(L, idx);
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

static size_t code_key(const char *name, uint8_t *buf)
{
    size_t n = strlen(name);
    buf[0] = 'c';
    memcpy(buf + 1, name, n);
    return n + 1;
}

/* ---- the contract API ------------------------------------------------- */

static const char *check_skey(lua_State *L, size_t *kl)
{
    const char *k = lua_tolstring(L, 1, kl);
    if (lua_type(L, 1) != LUA_TSTRING || *kl == 0 || *kl > LN_STORAGE_KEY_MAX)
        luaL_error(L, "storage key must be a string of 1-%d bytes", LN_STORAGE_KEY_MAX);
    return k;
}

static int host_storage_get(lua_State *L)
{
    ln_vm *vm = lua_touserdata(L, lua_upvalueindex(1));
    size_t kl;
    const char *k = check_skey(L, &kl);
    uint8_t key[2 + LN_NAME_MAX + LN_STORAGE_KEY_MAX];
    size_t n = storage_key(top(vm)->contract, k, kl, key);
    const uint8_t *v;
    size_t vl;
    ln_sandbox_charge(L, LN_GAS_STORE_READ(0));
    int rc = ln_overlay_get(vm->ov, key, n, &v, &vl);
    if (rc == LN_ENOTFOUND) {
        lua_pushnil(L);
        return 1;
    }
    if (rc < 0) return luaL_error(L, "storage.get: %s", ln_strerror(rc));
    ln_sandbox_charge(L, LN_GAS_STORE_READ(vl));
    rc = ln_codec_decode_lua(L, v, vl);
    if (rc < 0) return luaL_error(L, "storage.get: stored value: %s", ln_strerror(rc));
    return 1;
}

static int host_storage_set(lua_State *L)
{
    ln_vm *vm = lua_touserdata(L, lua_upvalueindex(1));
    size_t kl;
    const char *k = check_skey(L, &kl);
    uint8_t key[2 + LN_NAME_MAX + LN_STORAGE_KEY_MAX];
    size_t n = storage_key(top(vm)->contract, k, kl, key);
    int rc;
    if (lua_isnoneornil(L, 2)) {
        ln_sandbox_charge(L, LN_GAS_STORE_WRITE(kl));
        rc = ln_overlay_delete(vm->ov, key, n);
    } else {
        uint8_t *v;
        size_t vl;
        int erc = ln_codec_encode_lua(L, 2, &v, &vl);
        if (erc < 0) return luaL_error(L, "storage.set: %s", ln_strerror(erc));
        if (vl > LN_CODEC_MAX_ITEM) {
            free(v);
            return luaL_error(L, "storage.set: value of %d bytes is over the limit of %d",
                              (int)vl, (int)LN_CODEC_MAX_ITEM);
        }
        /* The charge may raise: hold the bytes in the arena, not in malloc. */
        uint8_t *copy = lua_newuserdata(L, vl);
        memcpy(copy, v, vl);
        free(v);
        ln_sandbox_charge(L, LN_GAS_STORE_WRITE(kl + vl));
        rc = ln_overlay_set(vm->ov, key, n, copy, vl);
        lua_pop(L, 1);
    }
    if (rc < 0) return luaL_error(L, "storage.set: %s", ln_strerror(rc));
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
    size_t nl;
    const char *name = lua_tolstring(L, 1, &nl);
    if (lua_type(L, 1) != LUA_TSTRING || nl == 0 || nl > LN_EVENT_NAME_MAX)
        return luaL_error(L, "emit: event name must be a string of 1-%d bytes", LN_EVENT_NAME_MAX);
    lua_settop(L, 2);
    uint8_t *data;
    size_t dl;
    int rc = ln_codec_encode_lua(L, 2, &data, &dl);
    if (rc < 0) return luaL_error(L, "emit: %s", ln_strerror(rc));
    /* Copy into the arena so the charge below cannot leak the buffer. */
    uint8_t *copy = lua_newuserdata(L, dl);
    memcpy(copy, data, dl);
    free(data);
    ln_sandbox_charge(L, LN_GAS_STORE_WRITE(nl + dl));
    const char *c = top(vm)->contract;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &vm->ev, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str(&pk, 8);
    msgpack_pack_str_body(&pk, "contract", 8);
    msgpack_pack_str(&pk, strlen(c));
    msgpack_pack_str_body(&pk, c, strlen(c));
    msgpack_pack_str(&pk, 4);
    msgpack_pack_str_body(&pk, "data", 4);
    msgpack_sbuffer_write(&vm->ev, (const char *)copy, dl);
    msgpack_pack_str(&pk, 4);
    msgpack_pack_str_body(&pk, "name", 4);
    msgpack_pack_str(&pk, nl);
    msgpack_pack_str_body(&pk, name, nl);
    vm->nev++;
    return 0;
}

static int do_call(lua_State *L);

static int host_call(lua_State *L)
{
    ln_vm *vm = lua_touserdata(L, lua_upvalueindex(1));
    const char *c = check_name(L, 1, "call: contract");
    if (lua_type(L, 2) != LUA_TSTRING) return luaL_error(L, "call: method must be a string");
    if (vm->depth >= LN_CALL_DEPTH_MAX)
        return raise(L, LN_EDEPTHCALL, "call depth exceeded (max %d)", LN_CALL_DEPTH_MAX);
    ln_sandbox_charge(L, LN_GAS_CALL);
    int n = lua_gettop(L);
    for (int i = 3; i <= n; i++) copy_value(L, i, "call argument");

    char sender[LN_NAME_MAX + 1];
    snprintf(sender, sizeof sender, "%s", top(vm)->contract);
    int depth = vm->depth;
    size_t evlen = vm->ev.size;
    uint32_t nev = vm->nev;
    ln_overlay_begin(vm->ov);
    push_frame(vm, c, sender);

    lua_pushlightuserdata(L, vm);
    lua_pushcclosure(L, do_call, 1);
    lua_insert(L, 1);
    int rc = lua_pcall(L, n, 1, 0);
    vm->depth = depth;
    if (rc != 0) {
        ln_overlay_revert(vm->ov);
        vm->ev.size = evlen;
        vm->nev = nev;
        return lua_error(L);          /* the callee's error, or the kill */
    }
    ln_overlay_release(vm->ov);
    copy_value(L, -1, "call result");
    return 1;
}

static int host_require_auth(lua_State *L)
{
    ln_vm *vm = lua_touserdata(L, lua_upvalueindex(1));
    const char *acct = check_name(L, 1, "require_auth: account");
    const char *perm = luaL_optstring(L, 2, "active");
    if (strcmp(perm, "active") != 0 && strcmp(perm, "owner") != 0)
        return luaL_error(L, "require_auth: permission must be active or owner");
    /* A contract that calls another acts with its own authority. */
    if (vm->depth > 1 && strcmp(acct, top(vm)->sender) == 0) return 0;
    ln_sandbox_charge(L, LN_GAS_STORE_READ(64) * 2);
    int rc = ln_account_authorized(vm->ov, acct, perm, vm->signers);
    if (rc == LN_ENOACCOUNT)
        return raise(L, LN_ENOACCOUNT, "missing authority of %s@%s: no such account", acct, perm);
    if (rc < 0)
        return raise(L, LN_EAUTH, "missing authority of %s@%s", acct, perm);
    return 0;
}

static int host_hash(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    ln_sandbox_charge(L, LN_GAS_HASH(n));
    uint8_t h[LN_HASH_LEN];
    ln_hash(s, n, h);
    lua_pushlstring(L, (const char *)h, LN_HASH_LEN);
    return 1;
}

/* Accepts raw bytes of length n, or 2n hex digits. */
static int bytes_arg(lua_State *L, int idx, uint8_t *out, size_t n)
{
    size_t l;
    const char *s = lua_tolstring(L, idx, &l);
    if (!s || lua_type(L, idx) != LUA_TSTRING) return 0;
    if (l == n) { memcpy(out, s, n); return 1; }
    if (l == 2 * n) {
        char hex[2 * LN_SIG_LEN + 1];
        memcpy(hex, s, l);
        hex[l] = 0;
        return ln_unhex(hex, out, n) == 0;
    }
    return 0;
}

static int host_verify(lua_State *L)
{
    uint8_t pk[LN_PK_LEN], sig[LN_SIG_LEN];
    size_t n;
    int okpk = bytes_arg(L, 1, pk, LN_PK_LEN);
    int oksig = bytes_arg(L, 2, sig, LN_SIG_LEN);
    const char *m = luaL_checklstring(L, 3, &n);
    ln_sandbox_charge(L, LN_GAS_VERIFY + LN_GAS_HASH(n));
    lua_pushboolean(L, okpk && oksig && ln_verify(pk, sig, (const uint8_t *)m, n) == 0);
    return 1;
}

static const luaL_Reg storage_api[] = {
    { "get", host_storage_get }, { "set", host_storage_set },
    { "delete", host_storage_delete }, { NULL, NULL }
};

static const luaL_Reg crypto_api[] = {
    { "hash", host_hash }, { "verify", host_verify }, { NULL, NULL }
};

/* ---- loading and calling contracts ------------------------------------ */

/* Pushes the compiled chunk of contract `name`, compiling it on first use
** in this vm. Compiling is host work: not charged, instructions only. */
static void push_chunk(lua_State *L, ln_vm *vm, const char *name)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->cache_ref);
    lua_getfield(L, -1, name);
    if (!lua_isnil(L, -1)) {
        lua_remove(L, -2);
        return;
    }
    lua_pop(L, 1);
    uint8_t key[1 + LN_NAME_MAX];
    size_t kl = code_key(name, key);
    const uint8_t *src;
    size_t sl;
    if (ln_overlay_get(vm->ov, key, kl, &src, &sl) < 0)
        raise(L, LN_ENOCODE, "account %s has no contract", name);
    char chunk[LN_NAME_MAX + 2];
    snprintf(chunk, sizeof chunk, "=%s", name);
    int paused = ln_sandbox_pause(vm->sb);
    int rc = ln_sandbox_load(vm->sb, (const char *)src, sl, chunk);
    ln_sandbox_resume(vm->sb, paused);
    if (rc < 0) raise(L, LN_ECODE, "contract %s does not load: %s", name, lua_tostring(L, -1));
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, name);
    lua_remove(L, -2);
}

/* Runs the chunk of the top frame's contract in a fresh environment and
** pushes the table of methods it returns. */
static void push_module(lua_State *L, ln_vm *vm)
{
    frame *f = top(vm);
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
    lua_setfenv(L, -2);
    lua_call(L, 0, 1);
    if (!lua_istable(L, -1))
        raise(L, LN_ECODE, "contract %s must return a table of methods", f->contract);
}

static int sys_action(lua_State *L, ln_vm *vm, const char *m);

/* do_call(contract, method, ...) on the frame its caller pushed: returns the
** method's first result. */
static int do_call(lua_State *L)
{
    ln_vm *vm = lua_touserdata(L, lua_upvalueindex(1));
    const char *c = lua_tostring(L, 1);
    const char *m = lua_tostring(L, 2);
    if (strcmp(c, "sys") == 0) return sys_action(L, vm, m);
    if (m[0] == '_') return raise(L, LN_EPRIVATE, "method %s.%s is private", c, m);
    if (strcmp(m, "init") == 0 && !vm->in_deploy)
        return raise(L, LN_EPRIVATE, "method %s.init runs only at deploy", c);
    int nargs = lua_gettop(L) - 2;
    push_module(L, vm);
    lua_getfield(L, -1, m);
    if (!lua_isfunction(L, -1))
        return raise(L, LN_ENOMETHOD, "contract %s has no method %s", c, m);
    lua_replace(L, 2);                /* fn in place of the method name */
    lua_pop(L, 1);                    /* the module */
    lua_remove(L, 1);
    lua_call(L, nargs, 1);
    return 1;
}

/* ---- system actions --------------------------------------------------- */

static uint64_t check_amount(lua_State *L, int idx)
{
    lua_Number n = lua_tonumber(L, idx);
    if (lua_type(L, idx) != LUA_TNUMBER || n <= 0 || n != (lua_Number)(int64_t)n ||
        n > (lua_Number)LN_SAFE_INT)
        raise(L, LN_EINVAL, "amount must be a positive integer");
    return (uint64_t)n;
}

static void load_account(lua_State *L, ln_vm *vm, const char *name, ln_account *a)
{
    int rc = ln_account_load(vm->ov, name, a);
    if (rc == LN_ENOTFOUND) raise(L, LN_ENOACCOUNT, "unknown account %s", name);
    if (rc < 0) raise(L, rc, "account %s: %s", name, ln_strerror(rc));
}

static void save_account(lua_State *L, ln_vm *vm, const ln_account *a)
{
    int rc = ln_account_save(vm->ov, a);
    if (rc < 0) raise(L, rc, "account %s: %s", a->name, ln_strerror(rc));
}

static void need_auth(lua_State *L, ln_vm *vm, const char *acct, const char *perm)
{
    frame *f = top(vm);
    if (vm->depth > 1 && strcmp(f->sender, acct) == 0 && strcmp(perm, "active") == 0) return;
    if (ln_account_authorized(vm->ov, acct, perm, vm->signers) < 0)
        raise(L, LN_EAUTH, "missing authority of %s@%s", acct, perm);
}

static int sys_deploy(lua_State *L, ln_vm *vm)
{
    const char *name = check_name(L, 3, "deploy: name");
    size_t sl;
    const char *src = lua_tolstring(L, 4, &sl);
    if (lua_type(L, 4) != LUA_TSTRING || sl == 0 || sl > LN_CODE_MAX)
        return raise(L, LN_ECODE, "deploy: source must be a string of 1-%u bytes", LN_CODE_MAX);
    if (strcmp(name, "sys") == 0) return raise(L, LN_EAUTH, "deploy: sys is reserved");
    ln_sandbox_charge(L, LN_GAS_SYS + (uint64_t)sl * LN_GAS_DEPLOY_BYTE);
    char chunk[LN_NAME_MAX + 2];
    snprintf(chunk, sizeof chunk, "=%s", name);
    int paused = ln_sandbox_pause(vm->sb);
    int rc = ln_sandbox_load(vm->sb, src, sl, chunk);
    ln_sandbox_resume(vm->sb, paused);
    if (rc < 0) return raise(L, LN_ECODE, "deploy: %s", lua_tostring(L, -1));
    lua_pop(L, 1);

    const char *sender = top(vm)->sender;
    ln_account a;
    int fresh = 0;
    rc = ln_account_load(vm->ov, name, &a);
    if (rc == LN_ENOTFOUND) {
        memset(&a, 0, sizeof a);
        snprintf(a.name, sizeof a.name, "%s", name);
        ln_authority_account(&a.owner, sender, "active");
        ln_authority_account(&a.active, sender, "active");
        fresh = 1;
    } else if (rc < 0) {
        return raise(L, rc, "deploy: account %s: %s", name, ln_strerror(rc));
    } else {
        need_auth(L, vm, name, "active");
    }
    int first = !a.has_code;
    a.has_code = 1;
    ln_hash(src, sl, a.code_hash);
    save_account(L, vm, &a);
    uint8_t key[1 + LN_NAME_MAX];
    size_t kl = code_key(name, key);
    if ((rc = ln_overlay_set(vm->ov, key, kl, (const uint8_t *)src, sl)) < 0)
        return raise(L, rc, "deploy: %s", ln_strerror(rc));
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->cache_ref);
    lua_pushnil(L);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
    (void)fresh;

    if (first) {
        /* init(...) runs once, as the deployed contract, called by the sender. */
        int nargs = lua_gettop(L) - 4;
        push_frame(vm, name, sender);
        push_module(L, vm);
        lua_getfield(L, -1, "init");
        if (lua_isfunction(L, -1)) {
            lua_replace(L, 4);        /* init in place of the source */
            lua_settop(L, 4 + nargs);
            vm->in_deploy = 1;
            lua_call(L, nargs, 0);
            vm->in_deploy = 0;
        }
        vm->depth--;
    }
    lua_pushstring(L, name);
    return 1;
}

static int sys_newaccount(lua_State *L, ln_vm *vm)
{
    const char *name = check_name(L, 3, "newaccount: name");
    uint8_t pk[LN_PK_LEN];
    if (!bytes_arg(L, 4, pk, LN_PK_LEN))
        return raise(L, LN_EBADKEY, "newaccount: key must be 32 bytes or 64 hex digits");
    ln_sandbox_charge(L, LN_GAS_SYS);
    if (ln_account_exists(vm->ov, name) || strcmp(name, "sys") == 0)
        return raise(L, LN_EEXIST, "newaccount: account %s already exists", name);
    ln_account a;
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "%s", name);
    ln_authority_key(&a.owner, pk);
    ln_authority_key(&a.active, pk);
    save_account(L, vm, &a);
    lua_pushstring(L, name);
    return 1;
}

static int sys_updateauth(lua_State *L, ln_vm *vm)
{
    const char *name = check_name(L, 3, "updateauth: account");
    const char *perm = lua_tostring(L, 4);
    if (!perm || (strcmp(perm, "owner") && strcmp(perm, "active")))
        return raise(L, LN_EINVAL, "updateauth: permission must be owner or active");
    ln_sandbox_charge(L, LN_GAS_SYS);
    ln_account a;
    load_account(L, vm, name, &a);
    need_auth(L, vm, name, "owner");
    uint8_t *buf;
    size_t len;
    lua_settop(L, 5);
    encode(L, 5, "updateauth: authority", &buf, &len);
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 1024);
    char why[160] = "malformed authority";
    ln_authority au;
    int rc = ln_codec_unpack(buf, len, &z, &o);
    if (rc == 0) rc = ln_authority_parse(&o, &au, why, sizeof why);
    msgpack_zone_destroy(&z);
    free(buf);
    if (rc < 0) return raise(L, LN_EINVAL, "updateauth: %s", why);
    if (strcmp(perm, "owner") == 0) a.owner = au; else a.active = au;
    save_account(L, vm, &a);
    return 0;
}

static int sys_transfer(lua_State *L, ln_vm *vm)
{
    const char *to = check_name(L, 3, "transfer: to");
    uint64_t amount = check_amount(L, 4);
    ln_sandbox_charge(L, LN_GAS_SYS);
    ln_account from, dst;
    load_account(L, vm, top(vm)->sender, &from);
    if (from.balance < amount)
        return raise(L, LN_EBALANCE, "insufficient balance: has %llu, needs %llu",
                     (unsigned long long)from.balance, (unsigned long long)amount);
    from.balance -= amount;
    save_account(L, vm, &from);
    load_account(L, vm, to, &dst);
    dst.balance += amount;
    save_account(L, vm, &dst);
    return 0;
}

static int sys_action(lua_State *L, ln_vm *vm, const char *m)
{
    if (strcmp(m, "deploy") == 0) return sys_deploy(L, vm);
    if (strcmp(m, "newaccount") == 0) return sys_newaccount(L, vm);
    if (strcmp(m, "updateauth") == 0) return sys_updateauth(L, vm);
    if (strcmp(m, "transfer") == 0) return sys_transfer(L, vm);
    return raise(L, LN_ENOMETHOD, "contract sys has no method %s", m);
}

/* ---- vm --------------------------------------------------------------- */

int ln_vm_new(ln_overlay *ov, const ln_blockinfo *bi, ln_vm **out)
{
    ln_vm *vm = calloc(1, sizeof *vm);
    if (!vm) return LN_ENOMEM;
    int rc = ln_sandbox_new(vm, &vm->sb);
    if (rc < 0) {
        free(vm);
        return rc;
    }
    vm->ov = ov;
    vm->bi = *bi;
    vm->signers = &no_signers;
    msgpack_sbuffer_init(&vm->ev);
    lua_State *L = ln_sandbox_L(vm->sb);
    ln_sandbox_register(vm->sb, "storage", storage_api, vm);
    ln_sandbox_register(vm->sb, "crypto", crypto_api, vm);
    ln_sandbox_register_fn(vm->sb, "emit", host_emit, vm);
    ln_sandbox_register_fn(vm->sb, "call", host_call, vm);
    ln_sandbox_register_fn(vm->sb, "require_auth", host_require_auth, vm);
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
    *out = vm;
    return 0;
}

void ln_vm_free(ln_vm *vm)
{
    if (!vm) return;
    ln_sandbox_free(vm->sb);
    msgpack_sbuffer_destroy(&vm->ev);
    free(vm);
}

void ln_outcome_free(ln_outcome *o)
{
    free(o->error);
    free(o->result);
    free(o->events);
    memset(o, 0, sizeof *o);
}

static void fail(ln_outcome *out, int code, const char *msg)
{
    out->code = code;
    free(out->error);
    out->error = strdup(msg ? msg : ln_strerror(code));
    free(out->result);
    out->result = NULL;
    out->result_len = 0;
}

/* The error of a failed pcall at the top of the stack, with its code. */
static void take_error(ln_vm *vm, int rc, ln_outcome *out)
{
    lua_State *L = ln_sandbox_L(vm->sb);
    const char *msg = lua_tostring(L, -1);
    int code = rc;
    if (rc == LN_ECALL && vm->errcode && msg && strcmp(msg, vm->errmsg) == 0)
        code = vm->errcode;
    fail(out, code, msg);
    lua_pop(L, 1);
}

static int set_result(ln_vm *vm, ln_outcome *out)
{
    lua_State *L = ln_sandbox_L(vm->sb);
    free(out->result);
    out->result = NULL;
    int rc = ln_codec_encode_lua(L, -1, &out->result, &out->result_len);
    lua_pop(L, 1);
    if (rc < 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "result: %s", ln_strerror(rc));
        fail(out, rc, msg);
    }
    return rc;
}

static void take_events(ln_vm *vm, ln_outcome *out)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, vm->nev);
    if (vm->ev.size) msgpack_sbuffer_write(&sb, vm->ev.data, vm->ev.size);
    out->events = (uint8_t *)sb.data;
    out->events_len = sb.size;
}

/* Calls one method on a fresh frame inside the running meter; leaves the
** result on the stack on success. */
static int run_one(ln_vm *vm, const char *sender, const char *c, size_t cl,
                   const char *m, size_t ml, const msgpack_object *args, ln_outcome *out)
{
    lua_State *L = ln_sandbox_L(vm->sb);
    char contract[LN_NAME_MAX + 1];
    snprintf(contract, sizeof contract, "%.*s", (int)cl, c);
    lua_pushlightuserdata(L, vm);
    lua_pushcclosure(L, do_call, 1);
    lua_pushstring(L, contract);
    lua_pushlstring(L, m, ml);
    int nargs = 0;
    if (args) {
        if (!lua_checkstack(L, (int)args->via.array.size + 4)) {
            lua_settop(L, 0);
            fail(out, LN_ETOOBIG, "too many arguments");
            return LN_ETOOBIG;
        }
        for (uint32_t i = 0; i < args->via.array.size; i++, nargs++) {
            int rc = ln_codec_push(L, &args->via.array.ptr[i]);
            if (rc < 0) {
                lua_settop(L, 0);
                char msg[96];
                snprintf(msg, sizeof msg, "argument %u: %s", i + 1, ln_strerror(rc));
                fail(out, rc, msg);
                return rc;
            }
        }
    }
    vm->errcode = 0;
    vm->depth = 0;
    push_frame(vm, contract, sender);
    int rc = ln_sandbox_pcall(vm->sb, nargs + 2, 1);
    vm->depth = 0;
    vm->in_deploy = 0;
    if (rc < 0) take_error(vm, rc, out);
    return rc;
}

int ln_vm_run(ln_vm *vm, const char *origin, const ln_signers *signers,
              const msgpack_object *actions, uint32_t nactions,
              uint64_t gas_limit, ln_outcome *out)
{
    lua_State *L = ln_sandbox_L(vm->sb);
    memset(out, 0, sizeof *out);
    vm->origin = origin;
    vm->signers = signers ? signers : &no_signers;
    vm->ev.size = 0;
    vm->nev = 0;
    ln_overlay_begin(vm->ov);
    ln_sandbox_meter_begin(vm->sb, gas_limit, LN_SANDBOX_MEM_CAP);
    int rc = 0;
    for (uint32_t i = 0; i < nactions && rc == 0; i++) {
        const msgpack_object_kv *kv = actions[i].via.map.ptr;  /* args, contract, method */
        rc = run_one(vm, origin, kv[1].val.via.str.ptr, kv[1].val.via.str.size,
                     kv[2].val.via.str.ptr, kv[2].val.via.str.size, &kv[0].val, out);
        if (rc == 0) rc = set_result(vm, out);
    }
    out->gas_used = ln_sandbox_meter_end(vm->sb);
    if (rc == 0 && ln_sandbox_killed(vm->sb)) {
        rc = ln_sandbox_killed(vm->sb);
        fail(out, rc, ln_strerror(rc));
    }
    if (rc == 0) {
        ln_overlay_release(vm->ov);
        take_events(vm, out);
    } else {
        ln_overlay_revert(vm->ov);
        vm->ev.size = 0;
        vm->nev = 0;
        take_events(vm, out);
    }
    lua_settop(L, 0);
    vm->signers = &no_signers;
    return 0;
}

int ln_vm_query(ln_vm *vm, const char *contract, const char *method,
                const msgpack_object *args, uint64_t gas_limit, ln_outcome *out)
{
    lua_State *L = ln_sandbox_L(vm->sb);
    memset(out, 0, sizeof *out);
    if (!ln_name_valid(contract, strlen(contract)) || strcmp(contract, "sys") == 0) {
        fail(out, LN_EBADNAME, "contract must be an account name");
        return 0;
    }
    if (args && args->type != MSGPACK_OBJECT_ARRAY) {
        fail(out, LN_EINVAL, "args must be an array");
        return 0;
    }
    vm->origin = "";
    vm->signers = &no_signers;
    vm->ev.size = 0;
    vm->nev = 0;
    ln_overlay_begin(vm->ov);
    ln_sandbox_meter_begin(vm->sb, gas_limit, LN_SANDBOX_MEM_CAP);
    int rc = run_one(vm, "", contract, strlen(contract), method, strlen(method), args, out);
    if (rc == 0) rc = set_result(vm, out);
    out->gas_used = ln_sandbox_meter_end(vm->sb);
    if (rc == 0 && ln_sandbox_killed(vm->sb)) {
        rc = ln_sandbox_killed(vm->sb);
        fail(out, rc, ln_strerror(rc));
    }
    ln_overlay_revert(vm->ov);
    take_events(vm, out);
    lua_settop(L, 0);
    return 0;
}
