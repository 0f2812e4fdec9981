/*
** contract_int.h -- what contract.c (the contract host) shares with sys.c
** (the actions of the system account `sys`): the vm and its frames, and the
** helpers a host function uses. Not a public face: contract.h is.
*/
#ifndef LN_CONTRACT_INT_H
#define LN_CONTRACT_INT_H

#include <lua.h>

#include "contract.h"
#include "sandbox.h"

/* A call: which contract runs, who called it, and what authority is
** present. The transaction's signatures count only in its own actions
** (and the init a top-level deploy runs); inside a call made by contract
** C the authority is C's code: `code` names C. */
typedef struct {
    char contract[LN_NAME_MAX + 1];
    char sender[LN_NAME_MAX + 1];
    char code[LN_NAME_MAX + 1];     /* "" in the transaction's own actions */
} frame;

typedef struct {
    char name[LN_NAME_MAX + 1];
    size_t bytes;
    uint64_t paid;                  /* tx_serial of the last transaction that paid its load */
} loadrec;

struct ln_vm {
    ln_sandbox *sb;
    ln_overlay *ov;
    ln_blockinfo bi;
    const char *origin;
    const ln_signers *signers;
    frame frames[LN_CALL_DEPTH_MAX + 2];
    int depth;
    int cache_ref;                  /* registry: contract name -> compiled chunk */
    loadrec *loads;                 /* contracts this vm loaded: size, last transaction that paid */
    uint32_t nloads, capl;
    uint64_t tx_serial;             /* the transaction or query running, from 1 */
    int docall_ref, run_ref;        /* registry: do_call closure, run_action */
    uint32_t code_writes;           /* code stored so far; a revert past one drops the cache */
    msgpack_sbuffer scratch;        /* one value on its way across the boundary */
    msgpack_sbuffer ev;             /* events, each a packed map */
    uint32_t nev;
    size_t result_max;              /* LN_RESULT_MAX in a transaction, more in a query */
    int system_ref;                 /* registry: the governance contract's `system` table */
    int errcode;                    /* code of the last error the host raised */
    char errmsg[256];
    /* The meter's counts of the running transaction (ln_usage): calls, and
    ** each storage or code write's change in bytes, in order, so that a
    ** revert takes back exactly its own (nstored goes back). */
    uint64_t calls;
    ln_stored *stlog;
    uint32_t nstlog, capstlog;
    char action[LN_NAME_MAX + 66];  /* "contract.method" of the action running, for a kill's text */
};

/* Raises msg as the call's error, remembering its code for the receipt. */
int  ln__vm_raise(lua_State *L, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The frame of the running call. */
frame *ln__vm_top(ln_vm *vm);
/* A call of contract by sender with the authority of code's ("": the
** transaction's signatures). */
void ln__vm_push_frame(ln_vm *vm, const char *contract, const char *sender, const char *code);
/* 0 when the authority present satisfies acct@perm; LN_EAUTH, LN_ENOACCOUNT. */
int  ln__vm_authorized(ln_vm *vm, const char *acct, const char *perm);
/* Argument idx as an account name, else raises LN_EBADNAME naming what. */
const char *ln__vm_check_name(lua_State *L, int idx, const char *what);
/* Encodes the value at idx into vm->scratch (charged), raising on values
** that cannot cross. */
void ln__vm_encode(lua_State *L, ln_vm *vm, int idx, const char *what);
/* Notes that a write changed contract's stored bytes by delta; raises
** LN_ENOMEM. */
void ln__vm_stored(lua_State *L, ln_vm *vm, const char *contract, int64_t delta);
/* Empties the compiled-chunk cache (code changed). */
void ln__vm_clear_cache(lua_State *L, ln_vm *vm);
/* State key "c" NAME of a contract's code; its length. */
size_t ln__vm_code_key(const char *name, uint8_t *buf);
/* Runs the top frame's contract chunk and pushes its table of methods. */
void ln__vm_push_module(lua_State *L, ln_vm *vm);

/* sys.c: the action m of the system account, on the frame its caller pushed. */
int  ln__sys_action(lua_State *L, ln_vm *vm, const char *m);
/* sys.c: the membership action (addmember, removemember, addvalidator,
** removevalidator) on the record "g", with its event; admin_only: the
** sender must be the genesis admin. Raises on refusal. */
void ln__sys_membership(lua_State *L, ln_vm *vm, const char *action, const char *name,
                        const uint8_t pk[LN_PK_LEN], int admin_only);
/* sys.c: a's code becomes src (charged by the caller): the account record,
** the code, the compiled-chunk cache. */
void ln__vm_store_code(lua_State *L, ln_vm *vm, ln_account *a, const char *src, size_t sl);

/* govern.c: the `system` table of the governance contract (made once per
** vm; its registry ref goes in system_ref). */
void ln__govern_table(lua_State *L, ln_vm *vm);

#endif
