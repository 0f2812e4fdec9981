/*
** sys.c -- the actions of the system account `sys` (contract.h lists them):
** deploy, newaccount, updateauth, transfer, and the membership actions of
** the genesis admin.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "codec.h"
#include "contract_int.h"
#include "crypto.h"
#include "err.h"
#include "genesis.h"
#include "membership.h"
#include "params.h"
#include "registry.h"
#include "stake.h"
#include "valset.h"
#include "vote.h"

static uint64_t check_amount(lua_State *L, int idx)
{
    lua_Number n = lua_tonumber(L, idx);
    if (lua_type(L, idx) != LUA_TNUMBER || n <= 0 || n != (lua_Number)(int64_t)n ||
        n > (lua_Number)LN_SAFE_INT)
        ln__vm_raise(L, LN_EINVAL, "amount must be a positive integer");
    return (uint64_t)n;
}

static void load_account(lua_State *L, ln_vm *vm, const char *name, ln_account *a)
{
    int rc = ln_account_load(vm->ov, name, a);
    if (rc == LN_ENOTFOUND) ln__vm_raise(L, LN_ENOACCOUNT, "unknown account %s", name);
    if (rc < 0) ln__vm_raise(L, rc, "account %s: %s", name, ln_strerror(rc));
}

static void save_account(lua_State *L, ln_vm *vm, const ln_account *a)
{
    int rc = ln_account_save(vm->ov, a);
    if (rc < 0) ln__vm_raise(L, rc, "account %s: %s", a->name, ln_strerror(rc));
}

static void need_auth(lua_State *L, ln_vm *vm, const char *acct, const char *perm)
{
    if (ln__vm_authorized(vm, acct, perm) < 0)
        ln__vm_raise(L, LN_EAUTH, "missing authority of %s@%s", acct, perm);
}

static int sys_deploy(lua_State *L, ln_vm *vm)
{
    const char *name = ln__vm_check_name(L, 3, "deploy: name");
    size_t sl = 0;
    const char *src = lua_type(L, 4) == LUA_TSTRING ? lua_tolstring(L, 4, &sl) : NULL;
    if (!src || sl == 0 || sl > LN_CODE_MAX)
        return ln__vm_raise(L, LN_ECODE, "deploy: source must be a string of 1-%u bytes", LN_CODE_MAX);
    if (src[0] == '\033')
        return ln__vm_raise(L, LN_ECODE, "deploy: source must be Lua text, not bytecode");
    if (strcmp(name, "sys") == 0) return ln__vm_raise(L, LN_EAUTH, "deploy: sys is reserved");
    ln_sandbox_charge(L, LN_GAS_SYS + (uint64_t)sl * LN_GAS_DEPLOY_BYTE);
    char chunk[LN_NAME_MAX + 2];
    snprintf(chunk, sizeof chunk, "=%s", name);
    int paused = ln_sandbox_pause(vm->sb);
    int rc = ln_sandbox_load(vm->sb, src, sl, chunk);
    ln_sandbox_resume(vm->sb, paused);
    if (rc < 0) return ln__vm_raise(L, LN_ECODE, "deploy: %s", lua_tostring(L, -1));
    lua_pop(L, 1);

    const char *sender = ln__vm_top(vm)->sender;
    ln_account a;
    rc = ln_account_load(vm->ov, name, &a);
    if (rc == LN_ENOTFOUND) {
        memset(&a, 0, sizeof a);
        snprintf(a.name, sizeof a.name, "%s", name);
        ln_authority_account(&a.owner, sender, "active");
        ln_authority_account(&a.active, sender, "active");
    } else if (rc < 0) {
        return ln__vm_raise(L, rc, "deploy: account %s: %s", name, ln_strerror(rc));
    } else {
        need_auth(L, vm, name, "active");
    }
    int first = !a.has_code;
    ln__vm_store_code(L, vm, &a, src, sl);

    /* The code must return a table of methods, on a redeploy too; init(...)
    ** runs once, at the first deploy, as the contract, called by the sender. */
    int nargs = lua_gettop(L) - 4;
    ln__vm_push_frame(vm, name, sender, ln__vm_top(vm)->code);   /* init has the deployer's authority */
    ln__vm_push_module(L, vm);
    lua_getfield(L, -1, "init");
    if (first && lua_isfunction(L, -1)) {
        lua_replace(L, 4);            /* init in place of the source */
        lua_settop(L, 4 + nargs);
        lua_call(L, nargs, 0);
    }
    vm->depth--;
    lua_pushstring(L, name);
    return 1;
}

void ln__vm_store_code(lua_State *L, ln_vm *vm, ln_account *a, const char *src, size_t sl)
{
    a->has_code = 1;
    ln_hash(src, sl, a->code_hash);
    save_account(L, vm, a);
    uint8_t key[1 + LN_NAME_MAX];
    size_t kl = ln__vm_code_key(a->name, key);
    const uint8_t *old;
    size_t oldl;
    int64_t before = ln_overlay_get(vm->ov, key, kl, &old, &oldl) == 0 ? (int64_t)oldl : 0;
    int rc = ln_overlay_set(vm->ov, key, kl, (const uint8_t *)src, sl);
    if (rc < 0) ln__vm_raise(L, rc, "%s: code: %s", a->name, ln_strerror(rc));
    ln__vm_stored(L, vm, a->name, (int64_t)sl - before);
    vm->code_writes++;
    ln__vm_clear_cache(L, vm);
}

static int sys_newaccount(lua_State *L, ln_vm *vm)
{
    const char *name = ln__vm_check_name(L, 3, "newaccount: name");
    uint8_t pk[LN_PK_LEN];
    if (!ln_codec_lua_bytes(L, 4, pk, LN_PK_LEN))
        return ln__vm_raise(L, LN_EBADKEY, "newaccount: key must be 32 bytes or 64 hex digits");
    ln_sandbox_charge(L, LN_GAS_SYS);
    if (ln_account_exists(vm->ov, name) || strcmp(name, "sys") == 0)
        return ln__vm_raise(L, LN_EEXIST, "newaccount: account %s already exists", name);
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
    const char *name = ln__vm_check_name(L, 3, "updateauth: account");
    const char *perm = lua_tostring(L, 4);
    if (!perm || (strcmp(perm, "owner") && strcmp(perm, "active")))
        return ln__vm_raise(L, LN_EINVAL, "updateauth: permission must be owner or active");
    ln_sandbox_charge(L, LN_GAS_SYS);
    ln_account a;
    load_account(L, vm, name, &a);
    need_auth(L, vm, name, "owner");
    lua_settop(L, 5);
    ln__vm_encode(L, vm, 5, "updateauth: authority");
    const uint8_t *buf = (const uint8_t *)vm->scratch.data;
    size_t len = vm->scratch.size;
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 1024);
    char why[160] = "malformed authority";
    ln_authority au;
    int rc = ln_codec_unpack(buf, len, &z, &o);
    if (rc == 0) rc = ln_authority_parse(&o, &au, why, sizeof why);
    msgpack_zone_destroy(&z);
    if (rc < 0) return ln__vm_raise(L, LN_EINVAL, "updateauth: %s", why);
    /* A name that does not exist yet could be created by anyone later, and
    ** would then hold this permission. */
    for (uint32_t i = 0; i < au.naccounts; i++)
        if (!ln_account_exists(vm->ov, au.accounts[i].account))
            return ln__vm_raise(L, LN_ENOACCOUNT, "updateauth: authority names account %s, which does not exist",
                         au.accounts[i].account);
    if (strcmp(perm, "owner") == 0) a.owner = au; else a.active = au;
    save_account(L, vm, &a);
    return 0;
}

static int sys_transfer(lua_State *L, ln_vm *vm)
{
    const char *to = ln__vm_check_name(L, 3, "transfer: to");
    uint64_t amount = check_amount(L, 4);
    ln_sandbox_charge(L, LN_GAS_SYS);
    ln_account from, dst;
    load_account(L, vm, ln__vm_top(vm)->sender, &from);
    if (from.balance < amount)
        return ln__vm_raise(L, LN_EBALANCE, "insufficient balance: has %llu, needs %llu",
                     (unsigned long long)from.balance, (unsigned long long)amount);
    from.balance -= amount;
    save_account(L, vm, &from);
    load_account(L, vm, to, &dst);
    dst.balance += amount;
    save_account(L, vm, &dst);
    return 0;
}

/* stake(amount): the sender's balance becomes stake. unstake(amount): its
** stake starts unbonding and returns to its balance unbonding_blocks
** later (stake.h). Both act for the sender, as transfer does. */
static int sys_stake(lua_State *L, ln_vm *vm, int bond)
{
    uint64_t amount = check_amount(L, 3);
    ln_sandbox_charge(L, LN_GAS_SYS + 2 * LN_GAS_STORE_WRITE(64));
    const char *sender = ln__vm_top(vm)->sender;
    char why[160];
    int rc;
    if (bond) {
        rc = ln_stake_bond(vm->ov, sender, amount, why, sizeof why);
    } else {
        ln_params p;
        if ((rc = ln_params_load(vm->ov, &p)) < 0)
            return ln__vm_raise(L, rc, "unstake: chain params: %s", ln_strerror(rc));
        rc = ln_stake_unbond(vm->ov, sender, amount, vm->bi.height + p.unbonding_blocks, why, sizeof why);
    }
    if (rc < 0) return ln__vm_raise(L, rc, "%s", why);
    /* The weight of the sender's votes follows its stake (vote.h): one
    ** total written per producer it approves. */
    ln_vote_name votes[LN_VOTES_MAX];
    size_t nvotes = 0;
    if ((rc = ln_vote_load(vm->ov, sender, votes, &nvotes)) == 0) {
        ln_sandbox_charge(L, nvotes * LN_GAS_STORE_WRITE(16));
        rc = ln_vote_restake(vm->ov, sender, bond ? amount : 0, bond ? 0 : amount);
    }
    if (rc < 0)
        return ln__vm_raise(L, rc, "%s: its votes: %s", bond ? "stake" : "unstake", ln_strerror(rc));
    return 0;
}

/* vote(producers): the sender approves these producers (a list of at most
** LN_VOTES_MAX validators' names; {} clears), weighted by its stake. */
static int sys_vote(lua_State *L, ln_vm *vm)
{
    if (!lua_istable(L, 3))
        return ln__vm_raise(L, LN_EINVAL, "vote: producers must be a list of names");
    /* Counted first, so a huge table is refused before it is read. */
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, 3)) {
        lua_pop(L, 1);
        if (++count > LN_VOTES_MAX) {
            lua_pop(L, 1);
            return ln__vm_raise(L, LN_ETOOBIG, "vote: at most %d producers", LN_VOTES_MAX);
        }
    }
    ln_sandbox_charge(L, LN_GAS_SYS);
    ln_vote_name names[LN_VOTES_MAX], old[LN_VOTES_MAX];
    for (size_t i = 0; i < count; i++) {
        lua_rawgeti(L, 3, (int)i + 1);
        size_t nl;
        const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &nl) : NULL;
        if (lua_isnil(L, -1))               /* keys other than 1..count */
            return ln__vm_raise(L, LN_EINVAL, "vote: producers must be a list of names");
        if (!s || !ln_name_valid(s, nl))
            return ln__vm_raise(L, LN_EBADNAME, "vote: producer %zu is not an account name", i + 1);
        memcpy(names[i], s, nl + 1);
        lua_pop(L, 1);
    }
    /* A total written per producer it approved and approves, and its record. */
    const char *sender = ln__vm_top(vm)->sender;
    size_t nold = 0;
    int rc = ln_vote_load(vm->ov, sender, old, &nold);
    if (rc < 0) return ln__vm_raise(L, rc, "vote: the votes of %s: %s", sender, ln_strerror(rc));
    ln_sandbox_charge(L, (count + nold + 1) * LN_GAS_STORE_WRITE(16));
    char why[160];
    rc = ln_vote_set(vm->ov, sender, names, count, why, sizeof why);
    if (rc < 0) return ln__vm_raise(L, rc, "%s", why);
    return 0;
}

/* ---- membership ------------------------------------------------------- */

/* Loads the genesis record, charging for reading it and writing it back. */
static void membership_load(lua_State *L, ln_vm *vm, const char *what, ln_genesis *g)
{
    const uint8_t *p;
    size_t gl;
    int rc = ln_overlay_get(vm->ov, (const uint8_t *)"g", 1, &p, &gl);
    if (rc == LN_ENOTFOUND)
        ln__vm_raise(L, LN_EAUTH, "%s: membership is fixed: this chain has no genesis record", what);
    if (rc < 0) ln__vm_raise(L, rc, "%s: %s", what, ln_strerror(rc));
    ln_sandbox_charge(L, LN_GAS_SYS + LN_GAS_STORE_READ(gl) + LN_GAS_STORE_WRITE(gl));
    if (ln_genesis_decode(p, gl, g) < 0)
        ln__vm_raise(L, LN_EIO, "%s: the genesis record is corrupt", what);
}

/* A chain without a governance contract (one made before it, or built by
** hand): the genesis admin alone may change the membership. */
static void membership_admin(lua_State *L, ln_vm *vm, const char *what, const ln_genesis *g)
{
    const char *sender = ln__vm_top(vm)->sender;
    if (!g->m.admin[0])
        ln__vm_raise(L, LN_EAUTH, "%s: membership is fixed: the genesis names no admin", what);
    if (strcmp(sender, g->m.admin) != 0)
        ln__vm_raise(L, LN_EAUTH, "%s: only the admin %s may change membership, not %s",
              what, g->m.admin, sender);
}

static void membership_save(lua_State *L, ln_vm *vm, const char *what, const ln_genesis *g)
{
    int rc = ln_genesis_save(vm->ov, g);
    if (rc < 0) ln__vm_raise(L, rc, "%s: %s", what, ln_strerror(rc));
}


/* The event {contract = "sys", data = {key, name?}, name = action}. */
static void membership_event(ln_vm *vm, const char *action, const uint8_t key[LN_PK_LEN],
                             const char *name)
{
    ln__membership_event(&vm->ev, action, key, name);
    vm->nev++;
}

static void check_node_key(lua_State *L, int idx, const char *what, uint8_t pk[LN_PK_LEN])
{
    if (!ln_codec_lua_bytes(L, idx, pk, LN_PK_LEN))
        ln__vm_raise(L, LN_EBADKEY, "%s: key must be 32 bytes or 64 hex digits", what);
}

void ln__sys_membership(lua_State *L, ln_vm *vm, const char *action, const char *name,
                        const uint8_t key[LN_PK_LEN], int admin_only)
{
    uint8_t pk[LN_PK_LEN];           /* removevalidator fills in the key it removed */
    memcpy(pk, key, LN_PK_LEN);
    int add = action[0] == 'a', validator = strstr(action, "validator") != NULL;
    if (validator && add && (!strcmp(name, "sys") || !strcmp(name, "gov") || !strcmp(name, "treasury")))
        ln__vm_raise(L, LN_EBADNAME, "addvalidator: %s is reserved", name);
    ln_genesis g;
    membership_load(L, vm, action, &g);
    if (admin_only) membership_admin(L, vm, action, &g);
    char why[200];
    int rc = !validator ? (add ? ln_membership_add_member(&g.m, pk, why, sizeof why)
                               : ln_membership_remove_member(&g.m, pk, why, sizeof why))
           : add ? ln_membership_add_validator(&g.m, name, pk, why, sizeof why)
                 : ln_membership_remove_validator(&g.m, name, pk, why, sizeof why);
    if (rc < 0) ln__vm_raise(L, rc, "%s", why);
    /* As at genesis: a validator without an account gets one held by its
    ** key. An account that exists keeps its own keys. */
    if (validator && add && (rc = ln_genesis_validator_account(vm->ov, name, pk)) < 0)
        ln__vm_raise(L, rc, "%s: account %s: %s", action, name, ln_strerror(rc));
    membership_save(L, vm, action, &g);
    membership_event(vm, action, pk, name);
}

/* addmember(key), removemember(key), addvalidator(name, key),
** removevalidator(name). On a chain with a governance contract they are
** its proposals, made with the caller's authority: gov.propose("member",
** {op, key}) or ("validator", {op, name, key}), so the policy in force
** decides (admin.lua: the admin's pass at once). Without one, only the
** genesis admin, at once. */
static int sys_membership(lua_State *L, ln_vm *vm, const char *action)
{
    uint8_t pk[LN_PK_LEN];
    const char *name = NULL;
    int add = action[0] == 'a', validator = strstr(action, "validator") != NULL;
    if (validator) {
        char what[32];
        snprintf(what, sizeof what, "%s: name", action);
        name = ln__vm_check_name(L, 3, what);
    }
    if (!validator || add) check_node_key(L, validator ? 4 : 3, action, pk);
    ln_account gov;
    if (ln_account_load(vm->ov, "gov", &gov) < 0 || !gov.has_code) {
        ln__sys_membership(L, vm, action, name, pk, 1);
        return 0;
    }
    ln_sandbox_charge(L, LN_GAS_CALL);
    char hex[2 * LN_PK_LEN + 1];
    ln_hex(pk, LN_PK_LEN, hex);
    frame *f = ln__vm_top(vm);
    snprintf(f->contract, sizeof f->contract, "gov");    /* same sender, same authority */
    ln__vm_push_module(L, vm);
    lua_getfield(L, -1, "propose");
    if (!lua_isfunction(L, -1))
        return ln__vm_raise(L, LN_ENOMETHOD, "%s: the governance contract has no propose", action);
    lua_pushstring(L, validator ? "validator" : "member");
    lua_createtable(L, 0, 3);
    lua_pushstring(L, add ? "add" : "remove");
    lua_setfield(L, -2, "op");
    if (!validator || add) {
        lua_pushstring(L, hex);
        lua_setfield(L, -2, "key");
    }
    if (validator) {
        lua_pushstring(L, name);
        lua_setfield(L, -2, "name");
    }
    lua_call(L, 2, 1);
    return 1;
}

/* ready(slot, hash): the sender, a validator, loaded the code scheduled
** for slot (registry.h: a swap goes into force once more than 2/3 are). */
static int sys_ready(lua_State *L, ln_vm *vm)
{
    const char *sname = lua_type(L, 3) == LUA_TSTRING ? lua_tostring(L, 3) : "";
    int slot = ln_slot_of(sname);
    if (slot < 0)
        return ln__vm_raise(L, LN_EINVAL, "ready: no plugin slot '%.32s' (consensus, governance, pricing)",
                            sname);
    uint8_t hash[LN_HASH_LEN];
    if (!ln_codec_lua_bytes(L, 4, hash, LN_HASH_LEN))
        return ln__vm_raise(L, LN_EINVAL, "ready: hash must be 32 bytes or 64 hex digits");
    ln_genesis g;
    membership_load(L, vm, "ready", &g);
    const char *sender = ln__vm_top(vm)->sender;
    int validator = 0;
    for (uint32_t i = 0; i < g.m.nval && !validator; i++) validator = !strcmp(g.m.val_names[i], sender);
    if (!validator) return ln__vm_raise(L, LN_EAUTH, "ready: %s is not a validator", sender);
    int rc = ln_registry_ready(vm->ov, (ln_slot)slot, hash, sender);
    if (rc == LN_ENOTFOUND)
        return ln__vm_raise(L, LN_ENOTFOUND, "ready: no swap of the %s slot to that code is pending", sname);
    if (rc < 0) return ln__vm_raise(L, rc, "ready: %s", ln_strerror(rc));
    return 0;
}

/* ---- evidence (valset.h) ------------------------------------------------ */

static uint64_t ev_int(lua_State *L, int t, const char *k)
{
    lua_getfield(L, t, k);
    lua_Number n = lua_tonumber(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER || n < 0 || n != (lua_Number)(int64_t)n || n > (lua_Number)LN_SAFE_INT)
        ln__vm_raise(L, LN_EINVAL, "evidence: %s must be a non-negative integer", k);
    lua_pop(L, 1);
    return (uint64_t)n;
}

static void ev_str(lua_State *L, int t, const char *k, char *out, size_t cap)
{
    lua_getfield(L, t, k);
    size_t n = 0;
    const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
    if (!v || n >= cap) ln__vm_raise(L, LN_EINVAL, "evidence: %s must be a string of up to %zu bytes", k, cap - 1);
    memcpy(out, v, n);
    out[n] = 0;
    lua_pop(L, 1);
}

/* One vote, {hash, sig}, of the table at t's field k. */
static void ev_vote(lua_State *L, int t, const char *k, char hash[65], uint8_t sig[64])
{
    lua_getfield(L, t, k);
    if (!lua_istable(L, -1)) ln__vm_raise(L, LN_EINVAL, "evidence: %s must be {hash, sig}", k);
    int v = lua_gettop(L);
    ev_str(L, v, "hash", hash, 65);
    for (const char *c = hash; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
            ln__vm_raise(L, LN_EINVAL, "evidence: %s.hash must be 64 hex digits or \"\"", k);
    if (hash[0] && strlen(hash) != 64)
        ln__vm_raise(L, LN_EINVAL, "evidence: %s.hash must be 64 hex digits or \"\"", k);
    lua_getfield(L, v, "sig");
    if (!ln_codec_lua_bytes(L, -1, sig, 64))
        ln__vm_raise(L, LN_EINVAL, "evidence: %s.sig must be 64 bytes or 128 hex digits", k);
    lua_pop(L, 2);
}

/* One header, {header, sig}, of the table at t's field k, into buf
** (ln_valset_header_bytes); *len its length. */
static void ev_header(lua_State *L, int t, const char *k, uint8_t buf[LN_EVIDENCE_HEADER_MAX], size_t *len,
                      uint8_t sig[64])
{
    lua_getfield(L, t, k);
    if (!lua_istable(L, -1)) ln__vm_raise(L, LN_EINVAL, "evidence: %s must be {header, sig}", k);
    lua_getfield(L, -1, "header");
    if (lua_type(L, -1) != LUA_TSTRING)
        ln__vm_raise(L, LN_EINVAL, "evidence: %s.header must be the header's bytes or their hex", k);
    size_t n;
    const char *h = lua_tolstring(L, -1, &n);
    if (ln_valset_header_bytes(h, n, buf, len) < 0)
        ln__vm_raise(L, LN_EINVAL, "evidence: %s.header is over %d bytes", k, LN_EVIDENCE_HEADER_MAX);
    lua_getfield(L, -2, "sig");
    if (!ln_codec_lua_bytes(L, -1, sig, 64))
        ln__vm_raise(L, LN_EINVAL, "evidence: %s.sig must be 64 bytes or 128 hex digits", k);
    lua_pop(L, 3);
}

/* evidence(e): two votes of one validator for different blocks at one
** height, round and type (pos), or two headers it signed for one slot
** (dpos, type "blk"); valid ones slash and jail it, with an event. */
static int sys_evidence(lua_State *L, ln_vm *vm)
{
    if (!lua_istable(L, 3))
        return ln__vm_raise(L, LN_EINVAL, "evidence: e must be {validator, height, round, type, a, b}");
    ln_sandbox_charge(L, LN_GAS_SYS + 4 * LN_GAS_STORE_WRITE(64));
    ln_evidence e;
    memset(&e, 0, sizeof e);
    ev_str(L, 3, "validator", e.validator, sizeof e.validator);
    ev_str(L, 3, "type", e.type, sizeof e.type);
    uint8_t hbuf[2][LN_EVIDENCE_HEADER_MAX];
    if (strcmp(e.type, "blk") == 0) {
        ev_header(L, 3, "a", hbuf[0], &e.hlen[0], e.sig[0]);
        ev_header(L, 3, "b", hbuf[1], &e.hlen[1], e.sig[1]);
        e.header[0] = hbuf[0];
        e.header[1] = hbuf[1];
    } else {
        e.height = ev_int(L, 3, "height");
        e.round = ev_int(L, 3, "round");
        ev_vote(L, 3, "a", e.hash[0], e.sig[0]);
        ev_vote(L, 3, "b", e.hash[1], e.sig[1]);
    }
    char why[200];
    uint64_t burned, until;
    int rc = ln_valset_evidence(vm->ov, vm->bi.height, &e, &burned, &until, why, sizeof why);
    if (rc < 0) return ln__vm_raise(L, rc, "%s", why);
    /* The burned stake stops weighing in the producers the validator voted for. */
    if (burned && (rc = ln_vote_restake(vm->ov, e.validator, 0, burned)) < 0)
        return ln__vm_raise(L, rc, "evidence: %s", ln_strerror(rc));
    msgpack_packer pk;
    msgpack_packer_init(&pk, &vm->ev, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    ln_pack_str(&pk, "contract");
    ln_pack_str(&pk, "sys");
    ln_pack_str(&pk, "data");
    msgpack_pack_map(&pk, 3);
    ln_pack_str(&pk, "slashed");
    msgpack_pack_uint64(&pk, burned);
    ln_pack_str(&pk, "until");
    msgpack_pack_uint64(&pk, until);
    ln_pack_str(&pk, "validator");
    ln_pack_str(&pk, e.validator);
    ln_pack_str(&pk, "name");
    ln_pack_str(&pk, "slash");
    vm->nev++;
    return 0;
}

int ln__sys_action(lua_State *L, ln_vm *vm, const char *m)
{
    if (strcmp(m, "ready") == 0) return sys_ready(L, vm);
    if (strcmp(m, "deploy") == 0) return sys_deploy(L, vm);
    if (strcmp(m, "newaccount") == 0) return sys_newaccount(L, vm);
    if (strcmp(m, "updateauth") == 0) return sys_updateauth(L, vm);
    if (strcmp(m, "transfer") == 0) return sys_transfer(L, vm);
    if (strcmp(m, "stake") == 0) return sys_stake(L, vm, 1);
    if (strcmp(m, "unstake") == 0) return sys_stake(L, vm, 0);
    if (strcmp(m, "evidence") == 0) return sys_evidence(L, vm);
    if (strcmp(m, "vote") == 0) return sys_vote(L, vm);
    if (strcmp(m, "addmember") == 0 || strcmp(m, "removemember") == 0 ||
        strcmp(m, "addvalidator") == 0 || strcmp(m, "removevalidator") == 0)
        return sys_membership(L, vm, m);
    return ln__vm_raise(L, LN_ENOMETHOD, "contract sys has no method %s", m);
}

