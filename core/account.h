/*
** account.h -- named accounts, their permissions and authority checks.
**
** An account lives in state under "a" NAME as a canonical msgpack map:
**   {active: AUTH, balance: uint, [code: bin(32)], nonce: uint, owner: AUTH}
**   AUTH = {accounts: [{account: str, permission: str, weight: uint}],
**           keys: [{key: bin(32), weight: uint}], threshold: uint}
** A permission is satisfied when the weights of the signing keys, plus the
** weights of the listed account permissions that are themselves satisfied
** (at most LN_AUTH_DEPTH levels down), reach its threshold. `owner`
** satisfies `active` too. An entry {account = C, permission = "code"} is
** satisfied only inside a call made by contract C (ln_signers.code): that is
** how an account lends its authority to a contract's code; nothing else
** does (DESIGN, "Authority in nested calls"). One check reads at most 512 account records;
** past that the permission is, deterministically, not satisfied.
** int results: 0 or a negative LN_E* code (err.h).
*/
#ifndef LN_ACCOUNT_H
#define LN_ACCOUNT_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "crypto.h"
#include "state.h"

#define LN_AUTH_MAX    8       /* keys, and accounts, per permission */
#define LN_AUTH_DEPTH  4

typedef struct {
    uint8_t key[LN_PK_LEN];
    uint32_t weight;
} ln_keyweight;

typedef struct {
    char account[LN_NAME_MAX + 1];
    char permission[LN_NAME_MAX + 1];
    uint32_t weight;
} ln_acctweight;

typedef struct {
    uint32_t threshold;
    uint32_t nkeys, naccounts;
    ln_keyweight keys[LN_AUTH_MAX];
    ln_acctweight accounts[LN_AUTH_MAX];
} ln_authority;

typedef struct {
    char name[LN_NAME_MAX + 1];
    uint64_t balance, nonce;
    int has_code;
    uint8_t code_hash[LN_HASH_LEN];
    ln_authority owner, active;
} ln_account;

/* The authority present in a check: the signer keys of a transaction,
** already verified (its own actions), or the code of the contract making
** a nested call (code: its name; NULL or "" when none). */
typedef struct {
    const uint8_t (*keys)[LN_PK_LEN];
    size_t n;
    const char *code;
} ln_signers;

/* State key of account `name`: "a" + name. buf has room for 1 + 12 bytes. */
size_t ln_account_key(const char *name, uint8_t *buf);

/* LN_ENOTFOUND, or LN_EBADNAME; LN_EIO-like codes from the overlay. */
int  ln_account_load(ln_overlay *ov, const char *name, ln_account *a);
int  ln_account_save(ln_overlay *ov, const ln_account *a);
int  ln_account_exists(ln_overlay *ov, const char *name);   /* 1 or 0 */

/* A single-key authority: threshold 1, one key of weight 1. */
void ln_authority_key(ln_authority *au, const uint8_t pk[LN_PK_LEN]);
/* An authority held by another account's permission. */
void ln_authority_account(ln_authority *au, const char *account, const char *perm);

/* Packs an authority as in the layout above. */
void ln_authority_pack(msgpack_packer *pk, const ln_authority *au);
/* Reads an authority from a msgpack object: LN_EINVAL with why filled. */
int  ln_authority_parse(const msgpack_object *o, ln_authority *au, char *why, size_t whylen);

/* 0 when `signers` satisfy name@perm ("owner" or "active"); LN_EAUTH,
** LN_ENOACCOUNT. */
int  ln_account_authorized(ln_overlay *ov, const char *name, const char *perm,
                           const ln_signers *s);

/* The same for an account already loaded (a is name@perm's record). */
int  ln_account_authorized_acct(ln_overlay *ov, const ln_account *a, const char *perm,
                                const ln_signers *s);

/* Encodes the account record (malloc()ed, caller free()s). */
int  ln_account_encode(const ln_account *a, uint8_t **out, size_t *len);
int  ln_account_decode(const uint8_t *p, size_t n, ln_account *a);

#endif
