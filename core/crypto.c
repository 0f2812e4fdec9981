/* crypto.c -- hashes, Ed25519, hex and key files over libsodium and cJSON. */
#include "crypto.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

_Static_assert(sizeof(crypto_generichash_state) <= sizeof(ln_hasher),
               "ln_hasher too small for crypto_generichash_state");
_Static_assert(_Alignof(crypto_generichash_state) <= _Alignof(ln_hasher),
               "ln_hasher under-aligned for crypto_generichash_state");
_Static_assert(LN_PK_LEN == crypto_sign_PUBLICKEYBYTES, "pk size");
_Static_assert(LN_SK_LEN == crypto_sign_SECRETKEYBYTES, "sk size");
_Static_assert(LN_SEED_LEN == crypto_sign_SEEDBYTES, "seed size");
_Static_assert(LN_SIG_LEN == crypto_sign_BYTES, "sig size");

#define KEYFILE_MAX 4096    /* a key file is ~250 bytes; refuse anything silly */

int ln_crypto_init(void)
{
    return sodium_init() < 0 ? LN_EINVAL : 0;   /* 1 = already done */
}

/* ---- hashing ----------------------------------------------------------- */

void ln_hash(const void *p, size_t n, uint8_t out[LN_HASH_LEN])
{
    crypto_generichash(out, LN_HASH_LEN, p, n, NULL, 0);
}

void ln_hash_init(ln_hasher *h)
{
    crypto_generichash_init((crypto_generichash_state *)h->opaque, NULL, 0,
                            LN_HASH_LEN);
}

void ln_hash_update(ln_hasher *h, const void *p, size_t n)
{
    crypto_generichash_update((crypto_generichash_state *)h->opaque, p, n);
}

void ln_hash_final(ln_hasher *h, uint8_t out[LN_HASH_LEN])
{
    crypto_generichash_final((crypto_generichash_state *)h->opaque, out,
                             LN_HASH_LEN);
}

/* ---- Ed25519 ----------------------------------------------------------- */

void ln_keypair(uint8_t pk[LN_PK_LEN], uint8_t sk[LN_SK_LEN])
{
    crypto_sign_keypair(pk, sk);
}

void ln_keypair_seed(const uint8_t seed[LN_SEED_LEN], uint8_t pk[LN_PK_LEN],
                     uint8_t sk[LN_SK_LEN])
{
    crypto_sign_seed_keypair(pk, sk, seed);
}

void ln_sign(const uint8_t sk[LN_SK_LEN], const uint8_t *m, size_t n,
             uint8_t sig[LN_SIG_LEN])
{
    crypto_sign_detached(sig, NULL, m, n, sk);
}

int ln_verify(const uint8_t pk[LN_PK_LEN], const uint8_t sig[LN_SIG_LEN],
              const uint8_t *m, size_t n)
{
    return crypto_sign_verify_detached(sig, m, n, pk) == 0 ? 0 : LN_EBADSIG;
}

/* 1 when sk's seed derives pk and sk's public half is pk. */
static int key_consistent(const uint8_t pk[LN_PK_LEN],
                          const uint8_t sk[LN_SK_LEN])
{
    uint8_t dpk[LN_PK_LEN], dsk[LN_SK_LEN];
    crypto_sign_seed_keypair(dpk, dsk, sk);     /* the seed is sk[0..32) */
    int ok = sodium_memcmp(dsk, sk, LN_SK_LEN) == 0 &&
             memcmp(dpk, pk, LN_PK_LEN) == 0;
    sodium_memzero(dsk, sizeof dsk);
    return ok;
}

/* ---- hex --------------------------------------------------------------- */

void ln_hex(const uint8_t *p, size_t n, char *out)
{
    sodium_bin2hex(out, 2 * n + 1, p, n);
}

int ln_unhex(const char *s, uint8_t *out, size_t n)
{
    size_t got = 0;
    if (strnlen(s, 2 * n + 1) != 2 * n)
        return LN_EINVAL;
    /* hex_end == NULL: fails unless all 2n chars are consumed. */
    if (sodium_hex2bin(out, n, s, 2 * n, NULL, &got, NULL) != 0 || got != n)
        return LN_EINVAL;
    return 0;
}

/* ---- names ------------------------------------------------------------- */

int ln_name_valid(const char *s, size_t n)
{
    if (n < 1 || n > LN_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.'))
            return 0;
    }
    return 1;
}

/* ---- key files --------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int ln_keyfile_write(const char *home, const ln_key *k, int overwrite)
{
    char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX];
    char pkhex[2 * LN_PK_LEN + 1], skhex[2 * LN_SK_LEN + 1], text[512];
    size_t nl = strnlen(k->account, sizeof k->account);
    int len, fd, rc;

    if (!ln_name_valid(k->account, nl))
        return LN_EBADNAME;
    if (!key_consistent(k->pk, k->sk))
        return LN_EBADKEY;
    if ((size_t)snprintf(dir, sizeof dir, "%s/keys", home) >= sizeof dir ||
        (size_t)snprintf(path, sizeof path, "%s/%s.key", dir, k->account) >= sizeof path ||
        (size_t)snprintf(tmp, sizeof tmp, "%s/.%s.key.XXXXXX", dir, k->account) >= sizeof tmp)
        return LN_EIO;                              /* path too long */

    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return LN_EIO;
    struct stat sb;
    if (!overwrite && lstat(path, &sb) == 0)        /* fast path; link() decides */
        return LN_EEXIST;

    ln_hex(k->pk, LN_PK_LEN, pkhex);
    ln_hex(k->sk, LN_SK_LEN, skhex);
    /* Names are [a-z0-9.] and hex needs no escaping, so no JSON library is
    ** needed here, and no copy of the secret is left in freed heap memory. */
    len = snprintf(text, sizeof text,
                   "{\n  \"account\": \"%s\",\n  \"public_key\": \"%s\",\n"
                   "  \"secret_key\": \"%s\"\n}\n", k->account, pkhex, skhex);
    sodium_memzero(skhex, sizeof skhex);

    rc = LN_EIO;
    fd = mkostemp(tmp, O_CLOEXEC);                  /* created 0600 */
    if (fd < 0)
        goto out;
    if (fchmod(fd, 0600) < 0 || write_all(fd, text, (size_t)len) < 0 ||
        fsync(fd) < 0) {
        close(fd);
        goto out_unlink;
    }
    if (close(fd) < 0)
        goto out_unlink;

    if (overwrite) {
        if (rename(tmp, path) < 0)
            goto out_unlink;
    } else {
        /* link() refuses an existing target atomically; rename() would not. */
        if (link(tmp, path) < 0) {
            rc = errno == EEXIST ? LN_EEXIST : LN_EIO;
            goto out_unlink;
        }
        unlink(tmp);
    }
    rc = fsync_dir(dir) < 0 ? LN_EIO : 0;
    goto out;

out_unlink:
    unlink(tmp);
out:
    sodium_memzero(text, sizeof text);
    return rc;
}


/* The string field `name` of obj, or NULL. */
static const char *json_str(const cJSON *obj, const char *name)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

static int parse_key(const char *text, size_t n, ln_key *k,
                     char *errbuf, size_t errlen)
{
    cJSON *root = cJSON_ParseWithLength(text, n);
    const char *acct, *pkhex, *skhex;
    int rc = LN_EBADKEY;

    if (!cJSON_IsObject(root)) {
        ln_errf(errbuf, errlen, rc, "not a JSON object");
        goto out;
    }
    if (!(acct = json_str(root, "account")) ||
        !ln_name_valid(acct, strlen(acct))) {
        ln_errf(errbuf, errlen, rc, "account: missing or not a valid name");
        goto out;
    }
    if (!(pkhex = json_str(root, "public_key")) ||
        ln_unhex(pkhex, k->pk, LN_PK_LEN) < 0) {
        ln_errf(errbuf, errlen, rc, "public_key: not %d hex digits", 2 * LN_PK_LEN);
        goto out;
    }
    if (!(skhex = json_str(root, "secret_key")) ||
        ln_unhex(skhex, k->sk, LN_SK_LEN) < 0) {
        ln_errf(errbuf, errlen, rc, "secret_key: not %d hex digits", 2 * LN_SK_LEN);
        goto out;
    }
    if (!key_consistent(k->pk, k->sk)) {
        ln_errf(errbuf, errlen, rc, "public_key does not match secret_key");
        goto out;
    }
    memcpy(k->account, acct, strlen(acct) + 1);
    rc = 0;
out:
    if (root) {
        cJSON *sk = cJSON_GetObjectItemCaseSensitive(root, "secret_key");
        if (cJSON_IsString(sk))
            sodium_memzero(sk->valuestring, strlen(sk->valuestring));
        cJSON_Delete(root);
    }
    return rc;
}

int ln_keyfile_read(const char *path, ln_key *k, char *errbuf, size_t errlen)
{
    char text[KEYFILE_MAX + 1];
    size_t n = 0;
    ln_key tk;
    struct stat sb;
    int fd, rc;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT
            ? ln_errf(errbuf, errlen, LN_ENOTFOUND, "no such file")
            : ln_errf(errbuf, errlen, LN_EIO, "cannot open: %s", strerror(errno));
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return ln_errf(errbuf, errlen, LN_EIO, "not a regular file");
    }
    for (;;) {
        ssize_t r = read(fd, text + n, sizeof text - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = ln_errf(errbuf, errlen, LN_EIO, "read: %s", strerror(errno));
            close(fd);
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == sizeof text)
            break;
    }
    close(fd);

    if (n > KEYFILE_MAX) {
        rc = ln_errf(errbuf, errlen, LN_EBADKEY, "larger than %d bytes", KEYFILE_MAX);
        goto out;
    }
    rc = parse_key(text, n, &tk, errbuf, errlen);
    if (rc == 0)
        *k = tk;
out:
    sodium_memzero(&tk, sizeof tk);
    sodium_memzero(text, sizeof text);
    return rc;
}
