/*
** govern.c -- the governance contract `gov`: its `system` table, putting
** its code in place, and the probe that refuses a plugin that would not
** load (see govern.h).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "codec.h"
#include "contract_int.h"
#include "err.h"
#include "genesis.h"
#include "govern.h"
#include "params.h"
#include "plugin.h"
#include "pricing.h"
#include "stake.h"

#define GOV "gov"

static ln_vm *vm_of(lua_State *L)
{
    ln_vm *vm = lua_touserdata(L, lua_upvalueindex(1));
    /* Only gov's own code holds the table; a function cannot cross a call. */
    if (strcmp(ln__vm_top(vm)->contract, GOV) != 0)
        ln__vm_raise(L, LN_EAUTH, "system: only the governance contract may call it");
    ln_sandbox_charge(L, LN_GAS_SYS);
    return vm;
}

static uint64_t check_uint(lua_State *L, int idx, const char *what)
{
    lua_Number n = lua_tonumber(L, idx);
    if (lua_type(L, idx) != LUA_TNUMBER || n < 0 || n != (lua_Number)(int64_t)n ||
        n > (lua_Number)LN_SAFE_INT)
        ln__vm_raise(L, LN_EINVAL, "%s must be a non-negative integer", what);
    return (uint64_t)n;
}

static void check_key(lua_State *L, int idx, const char *what, uint8_t pk[LN_PK_LEN])
{
    if (!ln_codec_lua_bytes(L, idx, pk, LN_PK_LEN))
        ln__vm_raise(L, LN_EBADKEY, "%s: key must be 32 bytes or 64 hex digits", what);
}

static void push_hex(lua_State *L, const uint8_t *p, size_t n)
{
    char hex[2 * 64 + 1];
    ln_hex(p, n, hex);
    lua_pushstring(L, hex);
}

static void load_genesis(lua_State *L, ln_vm *vm, ln_genesis *g)
{
    if (ln_genesis_load(vm->ov, g) < 0)
        ln__vm_raise(L, LN_EIO, "system: this chain has no membership record");
}

/* ---- plugin swaps and params ------------------------------------------- */

static ln_slot check_slot(lua_State *L, int idx)
{
    const char *s = lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : "";
    int slot = ln_slot_of(s);
    if (slot < 0)
        ln__vm_raise(L, LN_EINVAL, "no plugin slot '%.32s' (consensus, governance, pricing)", s);
    return (ln_slot)slot;
}

/* The params table at idx (nil: {}) as canonical msgpack, malloc()ed. */
static uint8_t *encode_params(lua_State *L, ln_vm *vm, int idx, size_t *len)
{
    if (lua_isnoneornil(L, idx)) {
        lua_newtable(L);
        lua_replace(L, idx);
    }
    if (!lua_istable(L, idx)) ln__vm_raise(L, LN_EINVAL, "params must be a table of named values");
    ln__vm_encode(L, vm, idx, "params");
    uint8_t *p = malloc(vm->scratch.size ? vm->scratch.size : 1);
    if (!p) ln__vm_raise(L, LN_ENOMEM, "%s", ln_strerror(LN_ENOMEM));
    memcpy(p, vm->scratch.data, vm->scratch.size);
    *len = vm->scratch.size;
    /* An empty Lua table encodes as an array; params are a map. */
    if (*len == 1 && p[0] == 0x90) p[0] = 0x80;
    if (p[0] < 0x80 || (p[0] > 0x8f && p[0] != 0xde && p[0] != 0xdf)) {
        free(p);
        ln__vm_raise(L, LN_EINVAL, "params must be a table of named values");
    }
    return p;
}

/* schedule(slot, code, params, at [, name]) */
static int sys_schedule(lua_State *L)
{
    ln_vm *vm = vm_of(L);
    ln_slot slot = check_slot(L, 1);
    size_t cl = 0;
    const char *code = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &cl) : NULL;
    if (!code || cl == 0 || cl > LN_PLUGIN_CODE_MAX || code[0] == '\033')
        return ln__vm_raise(L, LN_ECODE, "schedule: code must be Lua text of 1-%u bytes", LN_PLUGIN_CODE_MAX);
    uint64_t at = check_uint(L, 4, "schedule: at");
    /* Validators need a block between to say they are ready. */
    if (at < vm->bi.height + 2)
        return ln__vm_raise(L, LN_EINVAL, "schedule: at must be %llu or later (the head is %llu)",
                            (unsigned long long)vm->bi.height + 2, (unsigned long long)vm->bi.height);
    char name[LN_PLUGIN_NAME_MAX + 1] = "";
    if (!lua_isnoneornil(L, 5)) {
        size_t nl = 0;
        const char *n = lua_type(L, 5) == LUA_TSTRING ? lua_tolstring(L, 5, &nl) : NULL;
        if (!n || nl == 0 || nl > LN_PLUGIN_NAME_MAX)
            return ln__vm_raise(L, LN_EINVAL, "schedule: name must be 1-%d characters", LN_PLUGIN_NAME_MAX);
        memcpy(name, n, nl + 1);
    }
    ln_sandbox_charge(L, (uint64_t)cl * LN_GAS_DEPLOY_BYTE);
    size_t plen;
    uint8_t *params = encode_params(L, vm, 3, &plen);
    char why[256], found[LN_PLUGIN_NAME_MAX + 1];
    int paused = ln_sandbox_pause(vm->sb);
    int rc = ln_govern_probe(vm->ov, &vm->bi, slot, code, cl, params, plen, found, why, sizeof why);
    ln_sandbox_resume(vm->sb, paused);
    if (rc < 0) {
        free(params);
        return ln__vm_raise(L, LN_EPLUGIN, "schedule: %s plugin refused: %s", ln_slot_name(slot), why);
    }
    uint8_t hash[LN_HASH_LEN];
    ln_hash(code, cl, hash);
    if (!name[0] && found[0]) snprintf(name, sizeof name, "%s", found);
    if (!name[0]) {
        char hex[2 * LN_HASH_LEN + 1];
        ln_hex(hash, LN_HASH_LEN, hex);
        snprintf(name, sizeof name, "%.8s", hex);
    }
    rc = ln_registry_schedule(vm->ov, slot, name, code, cl, params, plen, at);
    free(params);
    if (rc == LN_EEXIST)
        return ln__vm_raise(L, LN_EEXIST, "schedule: the %s slot has a swap pending already",
                            ln_slot_name(slot));
    if (rc < 0) return ln__vm_raise(L, rc, "schedule: %s", ln_strerror(rc));
    push_hex(L, hash, LN_HASH_LEN);
    return 1;
}

/* A plugin's param: its slot's plugin again, with params[key] = value,
** from the next block. */
static int set_plugin_param(lua_State *L, ln_vm *vm, ln_slot slot, const char *key)
{
    if (slot == LN_SLOT_GOVERNANCE)
        return ln__vm_raise(L, LN_EINVAL, "set_param: a policy keeps its params in its own storage");
    ln_plugin_ref ref;
    int rc = ln_registry_at(vm->ov, slot, vm->bi.height + 1, &ref);
    if (rc < 0) return ln__vm_raise(L, rc, "set_param: %s: %s", ln_slot_name(slot), ln_strerror(rc));
    rc = ln_codec_decode_lua(L, ref.params, ref.plen);
    if (rc < 0) {
        ln_plugin_ref_free(&ref);
        return ln__vm_raise(L, LN_EIO, "set_param: %s params: %s", ln_slot_name(slot), ln_strerror(rc));
    }
    lua_pushvalue(L, 2);
    lua_setfield(L, -2, key);
    size_t plen;
    uint8_t *params = encode_params(L, vm, lua_gettop(L), &plen);
    char *code = NULL;
    size_t cl = 0;
    rc = ln_registry_code(vm->ov, ref.hash, &code, &cl);
    if (rc == 0) rc = ln_registry_install(vm->ov, slot, ref.name, code, cl, params, plen, vm->bi.height + 1);
    free(code);
    free(params);
    ln_plugin_ref_free(&ref);
    if (rc < 0) return ln__vm_raise(L, rc, "set_param: %s", ln_strerror(rc));
    return 0;
}

/* set_param(name, value) */
static int sys_set_param(lua_State *L)
{
    ln_vm *vm = vm_of(L);
    size_t nl = 0;
    const char *name = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &nl) : NULL;
    if (!name || nl == 0 || nl > 64) return ln__vm_raise(L, LN_EINVAL, "set_param: name must be a string");
    const char *dot = strchr(name, '.');
    if (dot) {
        char sname[16];
        snprintf(sname, sizeof sname, "%.*s", (int)(dot - name), name);
        int slot = ln_slot_of(sname);
        if (slot < 0 || !dot[1])
            return ln__vm_raise(L, LN_EINVAL, "set_param: %s: no slot %s (consensus.KEY or pricing.KEY)",
                                name, sname);
        lua_settop(L, 2);
        return set_plugin_param(L, vm, (ln_slot)slot, dot + 1);
    }
    uint64_t v = check_uint(L, 2, "set_param: value");
    char why[160];
    int rc = ln_params_set(vm->ov, name, v, why, sizeof why);
    if (rc < 0) return ln__vm_raise(L, rc == LN_ENOTFOUND ? LN_EINVAL : rc, "set_param: %s", why);
    return 0;
}

/* ---- membership, treasury, code ----------------------------------------- */

static int membership(lua_State *L, const char *action)
{
    ln_vm *vm = vm_of(L);
    int validator = strstr(action, "validator") != NULL, add = action[0] == 'a';
    const char *name = validator ? ln__vm_check_name(L, 1, action) : NULL;
    uint8_t pk[LN_PK_LEN] = { 0 };
    if (!validator || add) check_key(L, validator ? 2 : 1, action, pk);
    if (validator && add && !lua_isnoneornil(L, 3) && check_uint(L, 3, "power") != 1)
        return ln__vm_raise(L, LN_EINVAL, "%s: power must be 1 (every validator has one vote)", action);
    ln__sys_membership(L, vm, action, name, pk, 0);
    return 0;
}

static int sys_add_member(lua_State *L)       { return membership(L, "addmember"); }
static int sys_remove_member(lua_State *L)    { return membership(L, "removemember"); }
static int sys_add_validator(lua_State *L)    { return membership(L, "addvalidator"); }
static int sys_remove_validator(lua_State *L) { return membership(L, "removevalidator"); }

/* spend(to, amount): from the treasury. */
static int sys_spend(lua_State *L)
{
    ln_vm *vm = vm_of(L);
    const char *to = ln__vm_check_name(L, 1, "spend: to");
    uint64_t amount = check_uint(L, 2, "spend: amount");
    if (amount == 0) return ln__vm_raise(L, LN_EINVAL, "spend: amount must be positive");
    ln_account t, d;
    if (ln_account_load(vm->ov, "treasury", &t) < 0)
        return ln__vm_raise(L, LN_ENOACCOUNT, "spend: this chain has no treasury");
    if (t.balance < amount)
        return ln__vm_raise(L, LN_EBALANCE, "spend: the treasury holds %llu, not %llu",
                            (unsigned long long)t.balance, (unsigned long long)amount);
    if (strcmp(to, "treasury") == 0) return 0;
    if (ln_account_load(vm->ov, to, &d) < 0)
        return ln__vm_raise(L, LN_ENOACCOUNT, "spend: unknown account %s", to);
    t.balance -= amount;
    d.balance += amount;
    int rc = ln_account_save(vm->ov, &t);
    if (rc == 0) rc = ln_account_save(vm->ov, &d);
    if (rc < 0) return ln__vm_raise(L, rc, "spend: %s", ln_strerror(rc));
    return 0;
}

/* deposit(amount): the account that called gov pays amount into gov's own
** balance (a policy's proposal deposit, which gov gives back with
** sys.transfer). Only with that account's authority: its transaction's
** signatures, or a contract's own code; a contract cannot pay from its
** caller's balance. */
static int sys_deposit(lua_State *L)
{
    ln_vm *vm = vm_of(L);
    uint64_t amount = check_uint(L, 1, "deposit: amount");
    if (amount == 0) return ln__vm_raise(L, LN_EINVAL, "deposit: amount must be positive");
    const char *from = ln__vm_top(vm)->sender;
    if (ln__vm_authorized(vm, from, "active") < 0)
        return ln__vm_raise(L, LN_EAUTH, "deposit: missing authority of %s@active", from);
    ln_account f, g;
    if (ln_account_load(vm->ov, from, &f) < 0)
        return ln__vm_raise(L, LN_ENOACCOUNT, "deposit: unknown account %s", from);
    if (f.balance < amount)
        return ln__vm_raise(L, LN_EBALANCE, "deposit: %s holds %llu, not %llu", from,
                            (unsigned long long)f.balance, (unsigned long long)amount);
    if (strcmp(from, GOV) == 0) return 0;
    if (ln_account_load(vm->ov, GOV, &g) < 0)
        return ln__vm_raise(L, LN_ENOACCOUNT, "deposit: this chain has no %s account", GOV);
    f.balance -= amount;
    g.balance += amount;
    int rc = ln_account_save(vm->ov, &f);
    if (rc == 0) rc = ln_account_save(vm->ov, &g);
    if (rc < 0) return ln__vm_raise(L, rc, "deposit: %s", ln_strerror(rc));
    return 0;
}

/* set_code(contract, source): when the contract's owner permission is
** satisfied by gov's own authority (an entry gov@active). */
static int sys_set_code(lua_State *L)
{
    ln_vm *vm = vm_of(L);
    const char *c = ln__vm_check_name(L, 1, "set_code: contract");
    size_t sl = 0;
    const char *src = lua_type(L, 2) == LUA_TSTRING ? lua_tolstring(L, 2, &sl) : NULL;
    if (!src || sl == 0 || sl > LN_CODE_MAX || src[0] == '\033')
        return ln__vm_raise(L, LN_ECODE, "set_code: source must be Lua text of 1-%u bytes", LN_CODE_MAX);
    if (!strcmp(c, "sys") || !strcmp(c, GOV))
        return ln__vm_raise(L, LN_EAUTH, "set_code: %s changes only through its slot", c);
    ln_sandbox_charge(L, (uint64_t)sl * LN_GAS_DEPLOY_BYTE);
    ln_account a;
    int rc = ln_account_load(vm->ov, c, &a);
    if (rc < 0) return ln__vm_raise(L, LN_ENOACCOUNT, "set_code: unknown account %s", c);
    ln_signers govs = { NULL, 0, GOV };
    if (ln_account_authorized(vm->ov, c, "owner", &govs) < 0)
        return ln__vm_raise(L, LN_EAUTH, "set_code: %s@owner is not held by gov@active", c);
    char chunk[LN_NAME_MAX + 2];
    snprintf(chunk, sizeof chunk, "=%s", c);
    int paused = ln_sandbox_pause(vm->sb);
    rc = ln_sandbox_load(vm->sb, src, sl, chunk);
    ln_sandbox_resume(vm->sb, paused);
    if (rc < 0) return ln__vm_raise(L, LN_ECODE, "set_code: %s", lua_tostring(L, -1));
    lua_pop(L, 1);
    ln__vm_store_code(L, vm, &a, src, sl);
    return 0;
}

/* ---- reads -------------------------------------------------------------- */

static int sys_validators(lua_State *L)
{
    ln_vm *vm = vm_of(L);
    ln_genesis *g = lua_newuserdata(L, sizeof *g);
    load_genesis(L, vm, g);
    lua_createtable(L, (int)g->m.nval, 0);
    for (uint32_t i = 0; i < g->m.nval; i++) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, g->m.val_names[i]);
        lua_setfield(L, -2, "name");
        push_hex(L, g->m.val_keys[i], LN_PK_LEN);
        lua_setfield(L, -2, "key");
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

static int sys_members(lua_State *L)
{
    ln_vm *vm = vm_of(L);
    ln_genesis *g = lua_newuserdata(L, sizeof *g);
    load_genesis(L, vm, g);
    lua_createtable(L, (int)g->m.nmem, 0);
    for (uint32_t i = 0; i < g->m.nmem; i++) {
        push_hex(L, g->m.mem_keys[i], LN_PK_LEN);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

static int sys_params(lua_State *L)
{
    ln_vm *vm = vm_of(L);
    ln_params p;
    if (ln_params_load(vm->ov, &p) < 0) return ln__vm_raise(L, LN_EIO, "params: the record is corrupt");
    lua_createtable(L, 0, LN_PARAMS_COUNT);
    for (int i = 0; i < LN_PARAMS_COUNT; i++) {
        lua_pushnumber(L, (lua_Number)ln_params_get(&p, i));
        lua_setfield(L, -2, ln_params_name(i));
    }
    return 1;
}

/* Bonded stake (stake.h). */
static int sys_stake(lua_State *L)
{
    ln_vm *vm = vm_of(L);
    ln_stake st;
    int rc = ln_stake_load(vm->ov, ln__vm_check_name(L, 1, "stake: account"), &st);
    if (rc < 0) return ln__vm_raise(L, rc, "stake: %s", ln_strerror(rc));
    lua_pushnumber(L, (lua_Number)st.stake);
    return 1;
}

static int sys_total_stake(lua_State *L)
{
    ln_vm *vm = vm_of(L);
    uint64_t t;
    int rc = ln_stake_total(vm->ov, &t);
    if (rc < 0) return ln__vm_raise(L, rc, "total_stake: %s", ln_strerror(rc));
    lua_pushnumber(L, (lua_Number)t);
    return 1;
}

/* ---- proposal kinds ------------------------------------------------------ */

/* body[field] pushed; raises when required and absent. */
static int field(lua_State *L, int body, const char *kind, const char *f, int required)
{
    lua_getfield(L, body, f);
    if (required && lua_isnil(L, -1))
        ln__vm_raise(L, LN_EINVAL, "%s proposal: body.%s is required", kind, f);
    return lua_gettop(L);
}

/* check(kind, body) and apply(kind, body): apply = 1 carries it out. A
** check runs the same code over a savepoint that is undone, so it refuses
** exactly what applying would. */
static int kind_run(lua_State *L, int apply)
{
    ln_vm *vm = vm_of(L);
    const char *kind = lua_type(L, 1) == LUA_TSTRING ? lua_tostring(L, 1) : "";
    if (!lua_istable(L, 2)) return ln__vm_raise(L, LN_EINVAL, "%s proposal: body must be a table", kind);
    lua_settop(L, 2);
    lua_CFunction fn;
    int n;
    if (!strcmp(kind, "plugin")) {
        static const char *const f[] = { "slot", "code", "params", "at", "name" };
        for (n = 0; n < 5; n++) field(L, 2, kind, f[n], n != 2 && n != 4);
        fn = sys_schedule;
    } else if (!strcmp(kind, "param")) {
        field(L, 2, kind, "name", 1);
        field(L, 2, kind, "value", 1);
        n = 2;
        fn = sys_set_param;
    } else if (!strcmp(kind, "member") || !strcmp(kind, "validator")) {
        int validator = kind[0] == 'v';
        field(L, 2, kind, "op", 1);
        const char *op = lua_tostring(L, -1);
        int add = op && !strcmp(op, "add");
        if (!add && (!op || strcmp(op, "remove")))
            return ln__vm_raise(L, LN_EINVAL, "%s proposal: body.op must be add or remove", kind);
        lua_pop(L, 1);
        fn = validator ? (add ? sys_add_validator : sys_remove_validator)
                       : (add ? sys_add_member : sys_remove_member);
        n = 0;
        if (validator) field(L, 2, kind, "name", 1), n++;
        if (!validator || add) field(L, 2, kind, "key", 1), n++;
        if (validator && add) field(L, 2, kind, "power", 0), n++;
    } else if (!strcmp(kind, "spend")) {
        field(L, 2, kind, "to", 1);
        field(L, 2, kind, "amount", 1);
        n = 2;
        fn = sys_spend;
    } else if (!strcmp(kind, "code")) {
        field(L, 2, kind, "contract", 1);
        field(L, 2, kind, "source", 1);
        n = 2;
        fn = sys_set_code;
    } else {
        return ln__vm_raise(L, LN_EINVAL,
                            "unknown proposal kind '%.32s' (plugin, param, member, validator, spend, code)",
                            kind);
    }
    lua_pushlightuserdata(L, vm);
    lua_pushcclosure(L, fn, 1);
    lua_insert(L, -n - 1);
    if (apply) {
        lua_call(L, n, 0);
    } else {
        size_t evlen = vm->ev.size;
        uint32_t nev = vm->nev, nst = vm->nstlog;
        ln_overlay_begin(vm->ov);
        int rc = lua_pcall(L, n, 0, 0);
        ln_overlay_revert(vm->ov);
        vm->ev.size = evlen;
        vm->nev = nev;
        vm->nstlog = nst;
        if (rc != 0) return lua_error(L);   /* the refusal (its code kept in vm->errcode), or a kill */
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int sys_check(lua_State *L) { return kind_run(L, 0); }
static int sys_apply(lua_State *L) { return kind_run(L, 1); }

void ln__govern_table(lua_State *L, ln_vm *vm)
{
    static const luaL_Reg fns[] = {
        { "schedule", sys_schedule }, { "set_param", sys_set_param },
        { "add_member", sys_add_member }, { "remove_member", sys_remove_member },
        { "add_validator", sys_add_validator }, { "remove_validator", sys_remove_validator },
        { "spend", sys_spend }, { "deposit", sys_deposit }, { "set_code", sys_set_code },
        { "validators", sys_validators }, { "members", sys_members }, { "params", sys_params },
        { "stake", sys_stake }, { "total_stake", sys_total_stake },
        { "check", sys_check }, { "apply", sys_apply },
        { NULL, NULL }
    };
    lua_createtable(L, 0, sizeof fns / sizeof fns[0]);
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushlightuserdata(L, vm);
        lua_pushcclosure(L, f->func, 1);
        lua_setfield(L, -2, f->name);
    }
    ln_sandbox_freeze_table(L, -1);
}

/* ---- putting the policy in place, and probes ----------------------------- */

/* [params] as a msgpack array of one, unpacked into z. */
static int params_args(const uint8_t *params, size_t plen, msgpack_sbuffer *sb, msgpack_zone *z,
                       msgpack_object *args)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 1);
    if (params && plen) msgpack_sbuffer_write(sb, (const char *)params, plen);
    else msgpack_pack_map(&pk, 0);
    return ln_codec_unpack((const uint8_t *)sb->data, sb->size, z, args);
}

/* gov's code becomes code and init(params) runs; why on failure. */
static int install_policy(ln_overlay *ov, const ln_blockinfo *bi, const char *code, size_t len,
                          const uint8_t *params, size_t plen, char *why, size_t whylen)
{
    msgpack_sbuffer sb;
    msgpack_zone z;
    msgpack_object args;
    msgpack_sbuffer_init(&sb);
    msgpack_zone_init(&z, 1024);
    ln_vm *vm = NULL;
    int rc = params_args(params, plen, &sb, &z, &args);
    if (rc == 0) rc = ln_vm_new(ov, bi, &vm);
    if (rc == 0) {
        ln_outcome out;
        ln_vm_install(vm, GOV, code, len, &args, LN_GOVERN_INIT_GAS, &out);
        if (out.code) rc = ln_errf(why, whylen, LN_EPLUGIN, "%s", out.error ? out.error : ln_strerror(out.code));
        ln_outcome_free(&out);
    } else {
        ln_errf(why, whylen, rc, "%s", ln_strerror(rc));
    }
    ln_vm_free(vm);
    msgpack_zone_destroy(&z);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int ln_govern_install(ln_overlay *ov, const ln_blockinfo *bi, char *why, size_t whylen)
{
    ln_plugin_ref ref;
    int rc = ln_registry_at(ov, LN_SLOT_GOVERNANCE, bi->height, &ref);
    if (rc < 0) return ln_errf(why, whylen, rc, "governance: %s", ln_strerror(rc));
    char *code = NULL;
    size_t len = 0;
    rc = ln_registry_code(ov, ref.hash, &code, &len);
    if (rc < 0) ln_errf(why, whylen, rc, "governance: code: %s", ln_strerror(rc));
    else rc = install_policy(ov, bi, code, len, ref.params, ref.plen, why, whylen);
    free(code);
    ln_plugin_ref_free(&ref);
    return rc;
}

/* The host a consensus plugin's init gets in a probe: the validators of
** the state, the parent as head, and nothing that reaches a network. */
typedef struct {
    ln_genesis g;
    const ln_blockinfo *bi;
} probe_host;

static size_t p_validators(void *ud, const char **names, size_t cap)
{
    probe_host *p = ud;
    for (size_t i = 0; i < p->g.m.nval && i < cap; i++) names[i] = p->g.m.val_names[i];
    return p->g.m.nval;
}
static const char *p_self(void *ud) { (void)ud; return ""; }
static int p_head(void *ud, ln_plugin_block *out)
{
    probe_host *p = ud;
    memset(out, 0, sizeof *out);
    out->height = p->bi->height ? p->bi->height - 1 : 0;
    out->time = p->bi->time;
    memcpy(out->hash, p->bi->hash, LN_HASH_LEN);
    return 0;
}
static int p_propose(void *ud, ln_plugin_block *out, char *why, size_t whylen)
{
    (void)ud; (void)out;
    return ln_errf(why, whylen, LN_EINVAL, "not in a probe");
}
static int p_execute(void *ud, const uint8_t *d, size_t n, ln_plugin_block *out, char *why, size_t wl)
{
    (void)d; (void)n;
    return p_propose(ud, out, why, wl);
}
static int p_commit(void *ud, const uint8_t h[LN_HASH_LEN], const uint8_t *d, size_t dl,
                    const uint8_t *c, size_t cl, char *why, size_t whylen)
{
    (void)ud; (void)h; (void)d; (void)dl; (void)c; (void)cl;
    return ln_errf(why, whylen, LN_EINVAL, "not in a probe");
}
static size_t p_pending(void *ud) { (void)ud; return 0; }
static void p_timer(void *ud, uint64_t ms, const char *id) { (void)ud; (void)ms; (void)id; }
static int p_sign(void *ud, const uint8_t *m, size_t n, uint8_t sig[LN_SIG_LEN])
{
    (void)ud; (void)m; (void)n;
    memset(sig, 0, LN_SIG_LEN);
    return LN_EAUTH;
}
static int p_key_of(void *ud, const char *v, uint8_t pk[LN_PK_LEN])
{
    probe_host *p = ud;
    for (uint32_t i = 0; i < p->g.m.nval; i++)
        if (strcmp(p->g.m.val_names[i], v) == 0) {
            memcpy(pk, p->g.m.val_keys[i], LN_PK_LEN);
            return 0;
        }
    return LN_ENOTFOUND;
}
static void p_log(void *ud, const char *msg) { (void)ud; (void)msg; }
static int p_out(void *ud, const uint8_t *m, size_t n) { (void)ud; (void)m; (void)n; return 0; }
static int p_send(void *ud, const char *to, const uint8_t *m, size_t n)
{
    (void)to;
    return p_out(ud, m, n);
}
static int p_persist(void *ud, const char *k, const uint8_t *v, size_t n)
{
    (void)ud; (void)k; (void)v; (void)n;
    return 0;
}
static int p_recall(void *ud, const char *k, uint8_t **v, size_t *n)
{
    (void)ud; (void)k; (void)v; (void)n;
    return LN_ENOTFOUND;
}
static uint64_t p_now(void *ud) { return ((probe_host *)ud)->bi->time * 1000; }

/* The chunk alone, in a sandbox of its own: it must return a table; its
** NAME field into name; required (NULL: none) must be a function in it. */
static int probe_chunk(const char *code, size_t len, const char *required,
                       char name[LN_PLUGIN_NAME_MAX + 1], char *why, size_t whylen)
{
    ln_sandbox *sb;
    int rc = ln_sandbox_new(NULL, &sb);
    if (rc < 0) return ln_errf(why, whylen, rc, "%s", ln_strerror(rc));
    lua_State *L = ln_sandbox_L(sb);
    ln_sandbox_freeze(sb);
    rc = ln_sandbox_load(sb, code, len, "=plugin");
    if (rc == 0) {
        ln_sandbox_newenv(sb);
        lua_setfenv(L, -2);
        ln_sandbox_meter_begin(sb, LN_PLUGIN_BUDGET, LN_PLUGIN_MEM);
        rc = ln_sandbox_pcall(sb, 0, 1);
        ln_sandbox_meter_end(sb);
    }
    if (rc < 0) {
        const char *e = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : ln_strerror(rc);
        rc = ln_errf(why, whylen, LN_EPLUGIN, "%s", e);
    } else if (!lua_istable(L, -1)) {
        rc = ln_errf(why, whylen, LN_EPLUGIN, "the code must return a table of callbacks");
    } else {
        lua_getfield(L, -1, "NAME");
        size_t nl = 0;
        const char *nm = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &nl) : NULL;
        if (nm && nl > 0 && nl <= LN_PLUGIN_NAME_MAX) memcpy(name, nm, nl + 1);
        lua_pop(L, 1);
        if (required) {
            lua_getfield(L, -1, required);
            if (!lua_isfunction(L, -1))
                rc = ln_errf(why, whylen, LN_EPLUGIN, "the code's table has no function %s", required);
        }
    }
    ln_sandbox_free(sb);
    return rc;
}

int ln_govern_probe(ln_overlay *ov, const ln_blockinfo *bi, ln_slot slot, const char *code,
                    size_t len, const uint8_t *params, size_t plen, char name[LN_PLUGIN_NAME_MAX + 1],
                    char *why, size_t whylen)
{
    static const char *const required[LN_NSLOTS] = { "init", "propose", "charge" };
    name[0] = 0;
    if (slot == LN_SLOT_PRICING)        /* loaded as the pricing host loads it, with its params */
        return ln_pricing_check(bi, "probe", code, len, params, plen, name, why, whylen);
    int rc = probe_chunk(code, len, required[slot], name, why, whylen);
    if (rc < 0) return rc;
    if (slot == LN_SLOT_GOVERNANCE) {
        /* Its init over the state as it is, undone. */
        if ((rc = ln_overlay_begin(ov)) < 0) return ln_errf(why, whylen, rc, "%s", ln_strerror(rc));
        rc = install_policy(ov, bi, code, len, params, plen, why, whylen);
        ln_overlay_revert(ov);
        return rc;
    }
    if (slot != LN_SLOT_CONSENSUS) return 0;
    probe_host *ph = calloc(1, sizeof *ph);
    if (!ph) return ln_errf(why, whylen, LN_ENOMEM, "%s", ln_strerror(LN_ENOMEM));
    ph->bi = bi;
    if (ln_genesis_load(ov, &ph->g) < 0) {
        free(ph);
        return ln_errf(why, whylen, LN_EIO, "no membership record to start a consensus plugin on");
    }
    ln_plugin_host host = {
        .ud = ph, .validators = p_validators, .self = p_self, .head = p_head, .propose = p_propose,
        .execute = p_execute, .commit = p_commit, .pending = p_pending, .timer = p_timer,
        .sign = p_sign, .key_of = p_key_of, .log = p_log, .broadcast = p_out, .send = p_send,
        .persist = p_persist, .recall = p_recall, .now_ms = p_now,
    };
    ln_plugin *pl = NULL;
    char w[200];
    rc = ln_plugin_load(&host, name[0] ? name : "probe", code, len, params, plen, &pl, w, sizeof w);
    ln_plugin_free(pl);
    free(ph);
    if (rc < 0) return ln_errf(why, whylen, LN_EPLUGIN, "%s", w);
    return 0;
}

int ln_govern_genesis(ln_overlay *ov, uint64_t time, char *err, size_t errlen)
{
    ln_blockinfo bi = { 0, time, { 0 } };
    char why[256];
    if (ln_govern_install(ov, &bi, why, sizeof why) < 0)
        return ln_errf(err, errlen, LN_ECONFIG, "config: governance plugin: %s", why);
    if (ln_pricing_check_slot(ov, &bi, why, sizeof why) < 0)
        return ln_errf(err, errlen, LN_ECONFIG, "config: %s", why);
    return 0;
}
