/*
** contract.h -- the contract host: runs contract methods in a sandbox over a
** state overlay, and the system actions of the `sys` account.
**
** A vm is one fresh sandbox for one block (or one query) over one overlay.
** Contracts see the API of DESIGN ("Contract API"): storage, msg, block,
** emit, call, require_auth, crypto, error, and log (below). Values that cross into storage,
** events, call arguments and results are copied as canonical msgpack, so
** floats and functions are refused there.
**
** The host's work is charged before it is done (prices below): reading and
** writing storage, encoding (codec.h's work count: values visited, a table
** shared twice walked twice, slots, bytes, key sorts; it stops where the
** gas runs out and a failed or refused encoding pays what it did),
** decoding (per value built), loading a contract's code (per byte of
** source, once per transaction, whether this block loaded it before or
** not), and what a receipt keeps: event data and a transaction's result at
** most 64 KiB encoded, an error at most LN_ERROR_MAX bytes (cut there),
** each byte charged like event data. A contract's strings are at most
** LN_STRING_MAX bytes (ln_sandbox_cap_strings): arguments, stored values
** and literals longer than that are refused.
**
** State keys: "c" NAME holds a contract's source; "s" NAME "/" KEY its
** storage (values are canonical msgpack).
**
** System actions (contract "sys"):
**   deploy(name, source, ...)   create account `name` held by the sender's
**                               active permission (or, if it exists, act
**                               with its authority), store the source, run
**                               init(...) once
**   newaccount(name, pubkey)    an account held by one key (32 bytes or hex)
**   updateauth(account, permission, authority)   needs account@owner
**   transfer(to, amount)        native balance, from the sender
**   stake(amount)               the sender's balance becomes stake (stake.h)
**   unstake(amount)             its stake returns to its balance
**                               unbonding_blocks (a chain param) later
**   evidence(e)                 two conflicting signed votes of a pos
**                               validator, or two headers a dpos producer
**                               signed for one slot: slashes and jails it (valset.h),
**                               event "slash" {slashed, until, validator}
**   vote(producers)             the sender approves these validators as
**                               producers (at most 30; {} clears), weighted
**                               by its stake (vote.h)
** Authority: each action checks the authority present (DESIGN, "Authority
** in nested calls"): the signatures in the transaction's own actions, the
** calling contract's code inside a nested call (see account.h, "code").
** Membership (only when the sender is the genesis `admin`; EAUTH otherwise,
** and always on a chain whose genesis names no admin). Each rewrites the
** genesis record "g" (genesis.h) and emits an event of contract "sys"
** named after the action:
**   addmember(key)              a node key (32 bytes or 64 hex digits) that
**                               may connect but does not validate
**   removemember(key)
**   addvalidator(name, key)     creates account `name` held by key when it
**                               does not exist
**   removevalidator(name)       never the last one
** Duplicates give EEXIST, unknown entries ENOTFOUND, a full list EFULL.
** int results: 0 or a negative LN_E* code (err.h).
*/
#ifndef LN_CONTRACT_H
#define LN_CONTRACT_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "account.h"
#include "membership.h"
#include "state.h"

#define LN_CODE_MAX        (256u * 1024)
#define LN_STORAGE_KEY_MAX 242     /* "s" NAME "/" KEY fits LN_STATE_KEY_MAX */
#define LN_CALL_DEPTH_MAX  8
#define LN_EVENT_NAME_MAX  64
#define LN_EVENT_DATA_MAX  (64u * 1024)   /* bytes of an event's encoded data */
#define LN_RESULT_MAX      (64u * 1024)   /* bytes of a transaction's encoded result */
#define LN_STRING_MAX      (16u * 1024)   /* bytes of any string a contract has (ln_sandbox_cap_strings) */
#define LN_ERROR_MAX       LN_STRING_MAX  /* bytes of a receipt's error; longer ones are cut */

/* Gas of host work, charged before it is done. */
#define LN_GAS_STORE_READ(n)   (100 + ((uint64_t)(n) >> 4))
#define LN_GAS_STORE_WRITE(n)  (500 + (uint64_t)(n) * 4)
#define LN_GAS_CALL            1000
#define LN_GAS_SYS             2000
#define LN_GAS_DEPLOY_BYTE     4
#define LN_GAS_LOAD(n)         (100 + ((uint64_t)(n) >> 1))   /* a contract's code, once per transaction */
#define LN_GAS_DECODE(items)   ((uint64_t)(items) * 8)     /* values and keys built from msgpack */
#define LN_GAS_RECEIPT(n)      ((uint64_t)(n) * 4)         /* error and result bytes, as event data */
#define LN_LOG_MAX             LN_STRING_MAX  /* bytes of one log(...) line; longer ones are cut */
#define LN_LOG_VALUE_BYTES     32          /* what a value that is not a string counts as in log() */

/* log(...): where contract text goes. A contract's log(...) joins its
** arguments with spaces (strings as they are, numbers, booleans and nil as
** text, other values as <table> ...) and, when a sink is set, hands it to
** the sink with `where`, the chunk and line that called log ("token:12").
** It costs the same whether a sink is set or not: 100 gas plus a string's
** copy (LN_GAS_COPY_BYTES) of its string arguments' bytes and
** LN_LOG_VALUE_BYTES for each other value, charged before the work; the
** text is neither state nor receipt. One sink for the process (NULL: none),
** set before vms run; queries on worker threads call it too. */
typedef void (*ln_contract_log_fn)(const char *where, const char *text, size_t len, void *ud);
void ln_contract_log_sink(ln_contract_log_fn fn, void *ud);

typedef struct ln_vm ln_vm;

typedef struct {
    uint64_t height, time;
    uint8_t hash[LN_HASH_LEN];     /* the parent block's hash: block.hash */
} ln_blockinfo;

/* Net bytes a run's kept writes added to (> 0) or freed from (< 0) the
** storage (keys and values) and code of one contract. */
typedef struct {
    char contract[LN_NAME_MAX + 1];
    int64_t bytes;
} ln_stored;

/* What a run used, as the meter measured it (DESIGN, "Pricing plugin"):
** instructions and host work (gas), storage bytes added and freed (net per
** contract, summed), the most memory it held at once (mem_peak, bytes),
** method calls made (the actions and the calls they made, failed ones
** too) and the bytes of its events. tx_bytes is the transaction's size,
** which exec.c fills in. stored: the net change per contract, by name. */
typedef struct {
    uint64_t gas, storage_added, storage_freed, tx_bytes, mem_peak, calls, events_bytes;
    ln_stored *stored;             /* malloc()ed; NULL when nothing changed */
    uint32_t nstored;
} ln_usage;

void ln_usage_free(ln_usage *u);

/* What one run produced. Buffers are malloc()ed; ln_outcome_free. */
typedef struct {
    int code;                      /* 0, or LN_E* why it failed */
    char *error;                   /* message when code != 0 */
    uint8_t *result;               /* msgpack of the last action's result */
    size_t result_len;
    uint8_t *events;               /* msgpack array of {contract, data, name} */
    size_t events_len;
    uint64_t gas_used;
    ln_usage usage;                /* usage.gas is gas_used */
} ln_outcome;

int  ln_vm_new(ln_overlay *ov, const ln_blockinfo *bi, ln_vm **out);
void ln_vm_free(ln_vm *vm);                 /* NULL is a no-op */

/* Runs a transaction's actions atomically as `origin` with the signer keys
** verified: on failure every write of every action is reverted. Returns 0
** when the run happened (see out->code for its result), < 0 on host errors. */
int  ln_vm_run(ln_vm *vm, const char *origin, const ln_signers *signers,
               const msgpack_object *actions, uint32_t nactions,
               uint64_t gas_limit, ln_outcome *out);

/* Runs one public method read-only: its writes are reverted. args is a
** msgpack array (NULL for none). */
int  ln_vm_query(ln_vm *vm, const char *contract, const char *method,
                 const msgpack_object *args, uint64_t gas_limit, ln_outcome *out);

void ln_outcome_free(ln_outcome *o);

/* Puts src in place as the code of the existing account name, its storage
** kept (a governance swap, system.set_code, a dev chain's reload), then,
** when init_args (a msgpack array) is given, runs init(args...) as the
** contract itself. Each step is atomic under gas_limit: out says why the
** first that failed did (code that does not load is not put in place; an
** init that fails leaves the code and undoes only its own writes). */
int  ln_vm_install(ln_vm *vm, const char *name, const char *src, size_t len,
                   const msgpack_object *init_args, uint64_t gas_limit, ln_outcome *out);

#endif
