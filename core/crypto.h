/*
** crypto.h -- hashes, Ed25519 signatures, hex and key files (libsodium).
** int results: 0 or a negative LN_E* code (core/err.h). Inputs are borrowed
** for the call; no NULL pointers unless a comment says so. Nothing here
** prints: failures come back as codes (and, for key files, a reason in errbuf).
** Call ln_crypto_init() once before anything else.
*/
#ifndef LN_CRYPTO_H
#define LN_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define LN_PK_LEN   32     /* Ed25519 public key */
#define LN_SK_LEN   64     /* Ed25519 secret key: libsodium's seed||public */
#define LN_SEED_LEN 32     /* the seed half of a secret key */
#define LN_SIG_LEN  64     /* Ed25519 detached signature */
#define LN_HASH_LEN 32     /* BLAKE2b-256 digest */
#define LN_NAME_MAX 12     /* account names: 1-12 chars of [a-z0-9.] */

/* sodium_init(). 0, or LN_EINVAL if libsodium cannot start. Idempotent. */
int  ln_crypto_init(void);

/* ---- hashing: BLAKE2b-256, unkeyed (crypto_generichash) ---------------- */

/* One-shot digest of p[0..n). p may be NULL when n is 0. */
void ln_hash(const void *p, size_t n, uint8_t out[LN_HASH_LEN]);

/* Incremental: init, update any number of times, final once. Gives the same
** digest as ln_hash over the concatenated pieces. Opaque state (holds a
** crypto_generichash_state; crypto.c checks that it fits); plain value, no
** free needed; reuse it only after another ln_hash_init. */
typedef struct { _Alignas(64) unsigned char opaque[384]; } ln_hasher;
void ln_hash_init(ln_hasher *h);
void ln_hash_update(ln_hasher *h, const void *p, size_t n);  /* p NULL ok if n 0 */
void ln_hash_final(ln_hasher *h, uint8_t out[LN_HASH_LEN]);

/* ---- Ed25519 ----------------------------------------------------------- */

void ln_keypair(uint8_t pk[LN_PK_LEN], uint8_t sk[LN_SK_LEN]);        /* random */
void ln_keypair_seed(const uint8_t seed[LN_SEED_LEN],                 /* deterministic */
                     uint8_t pk[LN_PK_LEN], uint8_t sk[LN_SK_LEN]);

/* Detached signature over m[0..n). m may be NULL when n is 0. */
void ln_sign(const uint8_t sk[LN_SK_LEN], const uint8_t *m, size_t n,
             uint8_t sig[LN_SIG_LEN]);

/* 0 if sig is pk's signature of m[0..n), else LN_EBADSIG. */
int  ln_verify(const uint8_t pk[LN_PK_LEN], const uint8_t sig[LN_SIG_LEN],
               const uint8_t *m, size_t n);

/* ---- hex --------------------------------------------------------------- */

/* Lowercase hex of p[0..n): writes 2n chars and a NUL to out (2n+1 bytes).
** Constant time, so it is fit for secrets. */
void ln_hex(const uint8_t *p, size_t n, char *out);

/* s must be a NUL-terminated string of exactly 2n hex digits (either case):
** writes n bytes to out and returns 0. Otherwise LN_EINVAL, and out[0..n)
** may hold a partial result (zero it if it was meant for a secret). */
int  ln_unhex(const char *s, uint8_t *out, size_t n);

/* ---- accounts and key files -------------------------------------------- */

/* 1 when s[0..n) is 1..LN_NAME_MAX chars of a-z, 0-9 and '.', else 0. */
int  ln_name_valid(const char *s, size_t n);

typedef struct {
    char    account[LN_NAME_MAX + 1];   /* NUL-terminated */
    uint8_t pk[LN_PK_LEN];
    uint8_t sk[LN_SK_LEN];              /* secret: sodium_memzero when done */
} ln_key;

/* Writes HOME/keys/NAME.key (NAME = k->account) as JSON
**   {"account": NAME, "public_key": "<hex 32>", "secret_key": "<hex 64>"}
** with mode 0600. HOME must exist; HOME/keys is created with mode 0700 if
** missing. The file is written to a temp file in HOME/keys, fsync'ed, then
** moved into place (and the directory fsync'ed), so a crash leaves either no
** key file or a whole one. With overwrite == 0 an existing file is never
** replaced, even by a concurrent writer.
** LN_EBADNAME if k->account is not a valid name, LN_EBADKEY if k->pk is not
** the public half of k->sk, LN_EEXIST if the file exists and overwrite == 0,
** LN_EIO for any file system failure (no temp file is left behind). */
int  ln_keyfile_write(const char *home, const ln_key *k, int overwrite);

/* Reads the key file at path into *k and checks it: a JSON object with string
** fields account (a valid name), public_key (64 hex digits) and secret_key
** (128 hex digits), where the secret key's seed yields that public key (and
** its public half equals it). Other fields are ignored; the file name is not
** compared with the account. *k is written only on success.
** LN_ENOTFOUND if path does not exist, LN_EIO if it cannot be read, LN_EBADKEY
** if it is not a valid key file. On failure a one-line reason (never key
** material) goes to errbuf when errbuf != NULL and errlen > 0. */
int  ln_keyfile_read(const char *path, ln_key *k, char *errbuf, size_t errlen);

#endif
