/*
** cli_tx.c -- the client commands that make transactions: send and deploy
** (see cli.h). They sign with HOME/keys/ACCOUNT.key, submit over JSON-RPC
** and wait for the receipt.
*/
#include "cli.h"
#include "cli_int.h"
#include "contract.h"
#include "crypto.h"
#include "err.h"
#include "json.h"
#include "sandbox.h"
#include "tx.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

/* ---- transactions ------------------------------------------------------ */

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* t signed with k: its canonical bytes in base64 (*b64, malloc()ed) and its
** id in hash. 0, or 1 with the error printed. */
static int sign_b64(cli *c, const ln_cli_tx *t, const ln_key *k, char **b64,
                    char hash[2 * LN_HASH_LEN + 1])
{
    uint8_t *utx = NULL, *stx = NULL, id[LN_HASH_LEN];
    size_t ulen = 0, slen = 0;
    char err[400];
    int status = 1;
    *b64 = NULL;
    if (ln_cli_tx_unsigned(t, &utx, &ulen, err, sizeof err) < 0) {
        ln__cli_fail(c, "%s", err);
        goto out;
    }
    ln_hash(utx, ulen, id);
    ln_hex(id, LN_HASH_LEN, hash);
    int rc = ln_tx_sign(utx, ulen, (const uint8_t (*)[LN_SK_LEN])&k->sk, 1, &stx, &slen);
    if (rc < 0) {
        ln__cli_fail(c, "cannot sign: %s", ln_strerror(rc));
        goto out;
    }
    if (slen > LN_TX_MAX_BYTES) {
        ln__cli_fail(c, "the transaction is %zu bytes; the limit is %u", slen, LN_TX_MAX_BYTES);
        goto out;
    }
    size_t blen = sodium_base64_ENCODED_LEN(slen, sodium_base64_VARIANT_ORIGINAL);
    if (!(*b64 = malloc(blen))) {
        ln__cli_fail(c, "out of memory");
        goto out;
    }
    sodium_bin2base64(*b64, blen, stx, slen, sodium_base64_VARIANT_ORIGINAL);
    status = 0;
out:
    free(utx);
    free(stx);
    return status;
}

/* The max_fee to give t when --max-fee is not: a dry run of t (tx_estimate)
** at the account's committed nonce with all it may spend (its balance, at
** most LN_CLI_DRY_RUN_FEE), then its fee and half again plus
** LN_CLI_FEE_MARGIN, at most the balance; a call the dry run stopped for
** gas keeps all it may spend. A node that cannot tell (a refusal, no
** tx_estimate) leaves the balance, at most LN_CLI_DEFAULT_MAX_FEE. */
static uint64_t estimate_fee(cli *c, ln_cli_tx t, const ln_key *k, uint64_t nonce,
                             uint64_t balance)
{
    uint64_t fallback = balance < LN_CLI_DEFAULT_MAX_FEE ? balance : LN_CLI_DEFAULT_MAX_FEE;
    t.nonce = nonce;
    t.max_fee = balance < LN_CLI_DRY_RUN_FEE ? balance : LN_CLI_DRY_RUN_FEE;
    char *b64 = NULL, hash[2 * LN_HASH_LEN + 1], err[600];
    cJSON *res = NULL;
    FILE *quiet = c->err;
    c->err = NULL;
    int bad = sign_b64(c, &t, k, &b64, hash);
    c->err = quiet;
    if (bad) return fallback;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "tx", b64);
    free(b64);
    if (ln_rpcc_call(c->rpc, "tx_estimate", p, &res, err, sizeof err) < 0) return fallback;
    uint64_t fee, est = fallback;
    const char *code = jstr(res, "code");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "included")) &&
        juint(res, "fee", &fee) == 0) {
        if (code && !strcmp(code, "EGAS")) est = t.max_fee;
        else est = fee + fee / 2 + LN_CLI_FEE_MARGIN;
        if (est > balance) est = balance;
    }
    cJSON_Delete(res);
    return est;
}

/* Signs and submits contract.method(args) as c->as; waits for and prints
** the receipt unless --no-wait. Returns the exit code. */
/* Signs and submits contract.method(args) as c->as; waits for and prints
** the receipt unless --no-wait. With got, a receipt with ok = true is not
** printed: tx_get's answer, with its hash, goes to *got (the caller's).
** Returns the exit code. */
static int transact(cli *c, const char *contract, const char *method, const cJSON *args,
                    cJSON **got)
{
    ln_key k;
    cJSON *info = NULL, *acct = NULL, *sub = NULL, *st = NULL;
    char *b64 = NULL, hash[2 * LN_HASH_LEN + 1];
    int status = 1;
    uint64_t height, nonce, pending, balance = 0;
    const char *chain_id, *h;

    if (!c->as)
        return ln__cli_usage(c, "--as ACCOUNT is required: who signs the transaction");
    if (ln__cli_key(c, c->as, &k)) return 1;

    if (ln__cli_rpc(c, "chain_info", NULL, &info)) goto out;
    if (!(chain_id = jstr(info, "chain_id")) || juint(info, "height", &height) < 0) {
        ln__cli_fail(c, "chain_info: the reply lacks chain_id or height");
        goto out;
    }
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "account", c->as);
    if (ln__cli_rpc(c, "account_get", p, &acct)) goto out;
    if (juint(acct, "nonce", &nonce) < 0) {
        ln__cli_fail(c, "account_get: no nonce for account '%s' (does it exist on this chain?)",
              c->as);
        goto out;
    }
    /* Past the account's transactions still waiting, so sends in a row
    ** with --no-wait do not take one nonce twice. */
    pending = nonce;
    juint(acct, "pending_nonce", &pending);
    juint(acct, "balance", &balance);

    ln_cli_tx t = { c->as, chain_id, pending, height + LN_CLI_EXPIRES_AFTER, c->max_fee,
                    contract, method, args };
    if (!c->max_fee_given) t.max_fee = estimate_fee(c, t, &k, nonce, balance);
    if (sign_b64(c, &t, &k, &b64, hash)) goto out;
    p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "tx", b64);
    if (ln__cli_rpc(c, "tx_submit", p, &sub)) goto out;
    if ((h = jstr(sub, "hash")) && strcmp(h, hash))
        fprintf(c->err, "lunet %s: warning: the node names the transaction %s, "
                "this client computed %s\n", c->cmd, h, hash);
    if (h) snprintf(hash, sizeof hash, "%.64s", h);

    if (c->no_wait) {
        if (c->json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "hash", hash);
            status = ln__cli_json(c, o);
            cJSON_Delete(o);
        } else {
            fprintf(c->out, "%s\n", hash);
            status = 0;
        }
        goto out;
    }

    double deadline = mono_s() + c->timeout_s;
    int seen = 0;
    const char *s = "pending";
    for (;;) {
        p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "hash", hash);
        cJSON_Delete(st);
        st = NULL;
        if (ln__cli_rpc(c, "tx_get", p, &st)) goto out;
        s = jstr(st, "status");
        if (!s) {
            ln__cli_fail(c, "tx_get: the reply lacks a status");
            goto out;
        }
        if (!strcmp(s, "committed") || !strcmp(s, "final")) break;
        if (!strcmp(s, "pending")) seen = 1;
        else if (seen) {
            ln__cli_fail(c, "transaction %s was dropped by the node (status %s; expired or "
                  "evicted?)", hash, s);
            goto out;
        }
        if (mono_s() >= deadline) {
            ln__cli_fail(c, "transaction %s not committed after %d s (status %s); it may still "
                  "be: lunet tx %s", hash, c->timeout_s, s, hash);
            goto out;
        }
        sleep_ms(250);
    }

    const cJSON *r = cJSON_GetObjectItemCaseSensitive(st, "receipt");
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(r, "ok");
    if (!cJSON_IsBool(ok)) {
        ln__cli_fail(c, "tx_get: transaction %s is committed but the reply has no receipt.ok", hash);
        goto out;
    }
    if (!cJSON_GetObjectItemCaseSensitive(st, "hash"))
        cJSON_AddStringToObject(st, "hash", hash);
    if (got && cJSON_IsTrue(ok)) {
        *got = st;
        st = NULL;
        status = 0;
        goto out;
    }
    if (c->json) {
        if (ln__cli_json(c, st)) goto out;
    } else if (!got) {
        ln__cli_receipt(c, hash, st);
    }
    if (cJSON_IsTrue(ok)) {
        status = 0;
    } else {
        const char *why = jstr(r, "error");
        char *mapped = why ? ln__cli_positions(c, why) : NULL;
        ln__cli_fail(c, "transaction %s failed%s%s", hash, why ? ": " : "",
                     mapped ? mapped : why ? why : "");
        free(mapped);
    }
out:
    sodium_memzero(&k, sizeof k);
    cJSON_Delete(info);
    cJSON_Delete(acct);
    cJSON_Delete(sub);
    cJSON_Delete(st);
    free(b64);
    return status;
}

int ln__cli_send(cli *c)
{
    char err[400];
    cJSON *args;
    if (c->npos < 2)
        return ln__cli_usage(c, "send wants CONTRACT METHOD [ARG...]");
    if (!ln_name_valid(c->pos[0], strlen(c->pos[0])))
        return ln__cli_usage(c, "CONTRACT '%s' is not an account name", c->pos[0]);
    size_t ml = strlen(c->pos[1]);
    if (ml < 1 || ml > 64)
        return ln__cli_usage(c, "METHOD must be 1-64 bytes");
    if (ln_cli_args(c->npos - 2, c->pos + 2, 1, &args, err, sizeof err) < 0)
        return ln__cli_usage(c, "%s", err);
    int rc = transact(c, c->pos[0], c->pos[1], args, NULL);
    cJSON_Delete(args);
    return rc;
}

/* ---- positions: ACCOUNT:LINE back to the file ---------------------------- */

/* HOME/sources.json: {"NAME": {"file": "/abs/path.lua", "code_hash": "<hex>"}}
** for each account deployed from a file by this home. An error's
** "NAME:LINE" (the chain names a contract's chunk after its account, the
** same on every node) reads as "FILE:LINE" while the account's code_hash
** on the node is still the file's. */
static void sources_path(const cli *c, char *out, size_t n)
{
    snprintf(out, n, "%s/sources.json", c->home);
}

static cJSON *sources_read(const cli *c)
{
    char path[PATH_MAX], *text = NULL;
    sources_path(c, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    cJSON *o = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n > 0 && n < (1 << 22) && fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)n + 1)) &&
            fread(text, 1, (size_t)n, f) == (size_t)n) {
            text[n] = 0;
            o = cJSON_Parse(text);
        }
    }
    fclose(f);
    free(text);
    if (o && !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        o = NULL;
    }
    return o;
}

/* Notes that NAME runs the code of file (its source src), replacing the
** file atomically. Failures are only warned about: the deploy happened. */
static void sources_note(cli *c, const char *name, const char *file, const char *src, size_t sl)
{
    char abs[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX + 8], hex[2 * LN_HASH_LEN + 1];
    uint8_t h[LN_HASH_LEN];
    if (!realpath(file, abs)) return;
    ln_hash(src, sl, h);
    ln_hex(h, LN_HASH_LEN, hex);
    cJSON *all = sources_read(c);
    if (!all) all = cJSON_CreateObject();
    cJSON *one = cJSON_CreateObject();
    if (!all || !one) {
        cJSON_Delete(all);
        cJSON_Delete(one);
        return;
    }
    cJSON_AddStringToObject(one, "file", abs);
    cJSON_AddStringToObject(one, "code_hash", hex);
    cJSON_DeleteItemFromObjectCaseSensitive(all, name);
    cJSON_AddItemToObject(all, name, one);
    char *text = cJSON_Print(all);
    cJSON_Delete(all);
    sources_path(c, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = text ? fopen(tmp, "wb") : NULL;
    int ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        if (c->err)
            fprintf(c->err, "lunet %s: warning: cannot write %s: errors will name %s, not %s\n",
                    c->cmd, path, name, file);
        unlink(tmp);
    }
    free(text);
}

/* The file as the user would type it from here: relative when under the
** working directory. */
static const char *shown(const char *abs, char *buf, size_t n)
{
    char cwd[PATH_MAX];
    size_t l;
    if (getcwd(cwd, sizeof cwd) && (l = strlen(cwd)) && strncmp(abs, cwd, l) == 0 && abs[l] == '/') {
        snprintf(buf, n, "%s", abs + l + 1);
        return buf;
    }
    return abs;
}

/* The file whose code account `name` runs, into file; 1 if known. */
static int source_of(cli *c, cJSON *all, const char *name, char *file, size_t n)
{
    if (c->src_name && !strcmp(name, c->src_name)) {     /* being deployed now */
        snprintf(file, n, "%s", c->src_file);
        return 1;
    }
    const cJSON *one = cJSON_GetObjectItemCaseSensitive(all, name);
    const char *f = jstr(one, "file"), *want = jstr(one, "code_hash"), *have;
    if (!f || !want) return 0;
    cJSON *p = cJSON_CreateObject(), *acct = NULL;
    cJSON_AddStringToObject(p, "account", name);
    char err[300];
    int same = ln_rpcc_call(c->rpc, "account_get", p, &acct, err, sizeof err) == 0 &&
               (have = jstr(acct, "code_hash")) &&
               !strcasecmp(have + (strncmp(have, "0x", 2) ? 0 : 2), want);
    cJSON_Delete(acct);
    if (same) {
        char buf[PATH_MAX];
        snprintf(file, n, "%s", shown(f, buf, sizeof buf));
    }
    return same;
}

static int name_char(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.'; }

char *ln__cli_positions(cli *c, const char *text)
{
    size_t n = strlen(text), cap = n + 1, len = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    cJSON *all = NULL;
    int loaded = 0;
    for (size_t i = 0; i < n;) {
        /* NAME:DIGITS, NAME standing alone: not the tail of a path or word */
        size_t j = i;
        int alone = i == 0 || !(isalnum((unsigned char)text[i - 1]) || strchr("./_-", text[i - 1]));
        while (alone && j < n && j - i <= LN_NAME_MAX && name_char(text[j])) j++;
        char name[LN_NAME_MAX + 1], file[PATH_MAX];
        if (alone && j > i && j - i <= LN_NAME_MAX && j + 1 < n && text[j] == ':' &&
            isdigit((unsigned char)text[j + 1])) {
            memcpy(name, text + i, j - i);
            name[j - i] = 0;
            if (!loaded++) all = sources_read(c);
            if (source_of(c, all, name, file, sizeof file)) {
                size_t fl = strlen(file);
                char *more = realloc(out, cap += fl);
                if (!more) break;
                out = more;
                memcpy(out + len, file, fl);
                len += fl;
                i = j;                   /* ":LINE" follows as it is */
                continue;
            }
        }
        out[len++] = text[i++];
    }
    out[len] = 0;
    cJSON_Delete(all);
    return out;
}

/* ---- deploy -------------------------------------------------------------- */

/* Compiles src as the chain will (source only, strings capped) with the
** file's name as the chunk's: 0, or 1 with "FILE:LINE: what" printed. */
static int check_syntax(cli *c, const char *file, const char *src, size_t sl)
{
    ln_sandbox *sb;
    char chunk[PATH_MAX + 2];
    if (ln_sandbox_new(NULL, &sb) < 0) return 0;       /* the node will say */
    snprintf(chunk, sizeof chunk, "@%s", file);
    int rc = ln_sandbox_cap_strings(sb, LN_STRING_MAX);
    if (rc == 0) rc = ln_sandbox_load(sb, src, sl, chunk);
    if (rc < 0 && rc == LN_ECODE)
        ln__cli_fail(c, "%s (nothing was sent)", lua_tostring(ln_sandbox_L(sb), -1));
    ln_sandbox_free(sb);
    return rc == LN_ECODE;
}

/* Reads a contract source file for deploy: 0, or 1 with the error printed. */
static int read_source(cli *c, const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    if (!f) return ln__cli_fail(c, "cannot read %s: %s", path, strerror(errno));
    size_t cap = LN_TX_MAX_BYTES + 1, n;
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(f);
        return ln__cli_fail(c, "out of memory");
    }
    n = fread(buf, 1, cap, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return ln__cli_fail(c, "cannot read %s", path);
    }
    if (n == cap) {
        free(buf);
        return ln__cli_fail(c, "%s is larger than a transaction may be (%u bytes)", path,
                     LN_TX_MAX_BYTES);
    }
    if (memchr(buf, 0, n)) {
        free(buf);
        return ln__cli_fail(c, "%s holds NUL bytes; a contract is Lua source text", path);
    }
    buf[n] = 0;
    *out = buf;
    return 0;
}

int ln__cli_deploy(cli *c)
{
    char err[400], *src = NULL;
    cJSON *args;
    if (c->npos < 2)
        return ln__cli_usage(c, "deploy wants NAME FILE [ARG...]");
    if (!ln_name_valid(c->pos[0], strlen(c->pos[0])))
        return ln__cli_usage(c, "NAME '%s' is not an account name (1-12 of a-z 0-9 .)", c->pos[0]);
    if (ln_cli_args(c->npos - 2, c->pos + 2, 1, &args, err, sizeof err) < 0)
        return ln__cli_usage(c, "%s", err);
    if (!c->as) {
        cJSON_Delete(args);
        return ln__cli_usage(c, "--as ACCOUNT is required: who signs the transaction");
    }
    if (read_source(c, c->pos[1], &src)) {
        cJSON_Delete(args);
        return 1;
    }
    size_t sl = strlen(src);
    if (check_syntax(c, c->pos[1], src, sl)) {
        free(src);
        cJSON_Delete(args);
        return 1;
    }
    cJSON *name = cJSON_CreateString(c->pos[0]), *code = cJSON_CreateString(src);
    if (!name || !code) {
        free(src);
        cJSON_Delete(name);
        cJSON_Delete(code);
        cJSON_Delete(args);
        return ln__cli_fail(c, "out of memory");
    }
    cJSON_InsertItemInArray(args, 0, code);
    cJSON_InsertItemInArray(args, 0, name);
    c->src_name = c->pos[0];            /* its errors name the file */
    c->src_file = c->pos[1];
    int rc = transact(c, "sys", "deploy", args, NULL);
    if (rc == 0 && !c->no_wait) sources_note(c, c->pos[0], c->pos[1], src, sl);
    free(src);
    cJSON_Delete(args);
    return rc;
}


/* ---- for cli_gov.c (cli_int.h) ------------------------------------------ */

int ln__cli_transact(cli *c, const char *contract, const char *method, const cJSON *args,
                     cJSON **got)
{
    return transact(c, contract, method, args, got);
}

int ln__cli_read_source(cli *c, const char *path, char **out) { return read_source(c, path, out); }
