/* cli.c -- keys, deploy, send, query, tx, block, info over JSON-RPC (see
** cli.h); `gov` is in cli_gov.c, with what the two share in cli_int.h. */
#include "cli.h"
#include "cli_int.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "httpc.h"
#include "opts.h"
#include "rpcc.h"
#include "json.h"
#include "tx.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <msgpack.h>
#include <sodium.h>

/* ---- usage texts ------------------------------------------------------- */

#define ARGS_RULES                                                               \
    "Each ARG is parsed as JSON when it is valid JSON and taken as text\n"       \
    "otherwise: bob -> \"bob\", 10 -> 10, '[1,2]' -> [1,2], true -> true,\n"     \
    "'{\"a\":1}' -> a map. Quote text that looks like JSON: '\"10\"'. Refused: floats\n" \
    "(1.5, 1e3), integers beyond +-9007199254740991, null inside an array or\n"  \
    "object (a whole argument may be null: the method receives nil).\n"

static const char usage_keys[] =
    "usage: lunet keys new NAME | list | show NAME  [--home DIR] [--json]\n"
    "\n"
    "  new NAME   create a key pair for account NAME in DIR/keys/NAME.key (mode\n"
    "             0600; never overwrites) and print its public key (hex)\n"
    "  list       print `NAME PUBLIC_KEY` for every key file in DIR/keys\n"
    "  show NAME  print NAME's public key (never the secret key)\n";

static const char usage_deploy[] =
    "usage: lunet deploy NAME FILE [ARG...] --as ACCOUNT [options]\n"
    "\n"
    "Deploys the Lua contract in FILE to account NAME: sends the action\n"
    "sys.deploy(NAME, <source of FILE>, ARG...) signed by ACCOUNT, so the\n"
    "contract's init(ARG...) runs. Waits for the receipt and prints it; exits 1\n"
    "when the deploy fails.\n"
    "\n" ARGS_RULES;

static const char usage_send[] =
    "usage: lunet send CONTRACT METHOD [ARG...] --as ACCOUNT [options]\n"
    "\n"
    "Signs a transaction calling CONTRACT.METHOD(ARG...) with the key in\n"
    "DIR/keys/ACCOUNT.key (chain_id and expiry from chain_info, nonce from\n"
    "account_get), submits it, waits until it is committed and prints the\n"
    "receipt: ok, result, error, gas_used, fee, payer, events. Exits 1 when the\n"
    "call failed (receipt ok = false) or no receipt came in time.\n"
    "Send the next transaction from one account after the previous receipt:\n"
    "the node may not count a pending transaction in the nonce.\n"
    "\n" ARGS_RULES;

static const char usage_query[] =
    "usage: lunet query CONTRACT METHOD [ARG...] [options]\n"
    "\n"
    "Runs CONTRACT.METHOD(ARG...) read-only on the node and prints the result:\n"
    "text as is, anything else as JSON. With --json: {\"result\", \"gas_used\"}.\n"
    "\n" ARGS_RULES;

static const char usage_tx[] =
    "usage: lunet tx HASH [options]\n"
    "\n"
    "Prints a transaction's status (pending, committed), block height and\n"
    "receipt. Exits 1 when the node does not know the transaction.\n";

static const char usage_block[] =
    "usage: lunet block [HEIGHT | HASH] [options]\n"
    "\n"
    "Prints a block (default: the head): its hash, header fields, transactions\n"
    "and commit certificate.\n";

static const char usage_info[] =
    "usage: lunet info [options]\n"
    "\n"
    "Prints the node's chain_info: chain_id, height, head, consensus, ...\n";

/* ---- options ----------------------------------------------------------- */

static const ln_opt common_opts[] = { COMMON_OPTS, { NULL, 0, 0, NULL, 0, 0, NULL } };

static const ln_opt send_opts[] = {
    COMMON_OPTS,
    { "max-fee", 0, LN_OPT_UINT, "N", 0, (uint64_t)LN_SAFE_INT,
      "the most the transaction may cost (default 10000000)" },
    { "no-wait", 0, LN_OPT_FLAG, NULL, 0, 0, "print the transaction hash once the node accepts it" },
    { "timeout", 0, LN_OPT_UINT, "S", 1, 86400, "how long to wait for the receipt (default 30 s)" },
    { NULL, 0, 0, NULL, 0, 0, NULL }
};

/* One line on the err stream: "lunet CMD: what", with a pointer to the
** help for a usage error. Returns the exit code: 1, or 2 for usage. */
static int say(cli *c, int usage, const char *fmt, va_list ap)
{
    fprintf(c->err, "lunet %s: ", c->cmd);
    vfprintf(c->err, fmt, ap);
    if (usage) fprintf(c->err, " (see lunet %s --help)", c->cmd);
    fputc('\n', c->err);
    return usage ? 2 : 1;
}

static int failf(cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = say(c, 0, fmt, ap);
    va_end(ap);
    return rc;
}

static int usagef(cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = say(c, 1, fmt, ap);
    va_end(ap);
    return rc;
}


/* Reads the parsed options into c; 0, or the exit code of a usage error. */
static int take_opts(cli *c, const ln_args *a)
{
    c->rpcurl = ln_args_str(a, "rpc", LN_CLI_DEFAULT_RPC);
    c->home = ln_args_str(a, "home", LN_CLI_DEFAULT_HOME);
    c->as = ln_args_str(a, "as", NULL);
    c->json = ln_args_flag(a, "json");
    c->no_wait = ln_args_flag(a, "no-wait");
    c->max_fee = ln_args_uint(a, "max-fee", LN_CLI_DEFAULT_MAX_FEE);
    c->timeout_s = (int)ln_args_uint(a, "timeout", LN_CLI_WAIT_SECONDS);
    c->pos = a->pos;
    c->npos = a->npos;
    if (!*c->home)
        return usagef(c, "--home must not be empty");
    if (c->as && !ln_name_valid(c->as, strlen(c->as)))
        return usagef(c, "--as '%s' is not an account name (1-12 of a-z 0-9 .)", c->as);
    char err[256];
    int rc = ln_rpcc_open(c->rpcurl, LN_CLI_RPC_TIMEOUT_MS, &c->rpc, err, sizeof err);
    if (rc == LN_EINVAL) return usagef(c, "--rpc: %s", err);
    if (rc < 0) return failf(c, "%s", err);
    return 0;
}

/* ---- output ------------------------------------------------------------ */

/* Prints v as one line of compact JSON. */
static int print_json(cli *c, const cJSON *v)
{
    char *s = cJSON_PrintUnformatted(v);
    if (!s) return failf(c, "out of memory");
    fprintf(c->out, "%s\n", s);
    free(s);
    return 0;
}

static void row(table *t, const char *key, char *val)     /* takes val */
{
    if (t->n == 64 || !val) {
        free(val);
        return;
    }
    t->key[t->n] = key;
    t->val[t->n++] = val;
}

static void row_json(table *t, const char *key, const cJSON *v)
{
    if (v) row(t, key, ln_json_text(v));
}

static void table_print(table *t, FILE *out)
{
    int w = 0;
    for (int i = 0; i < t->n; i++)
        if ((int)strlen(t->key[i]) > w) w = (int)strlen(t->key[i]);
    for (int i = 0; i < t->n; i++) {
        fprintf(out, "%-*s  %s\n", w, t->key[i], t->val[i]);
        free(t->val[i]);
    }
    t->n = 0;
}

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list)) return 1;
    return 0;
}

/* The fields of object o: those in order first, then the rest as they come,
** skipping those in skip. */
static void rows_ordered(table *t, const cJSON *o, const char *const *order,
                         const char *const *skip)
{
    for (const char *const *k = order; *k; k++)
        row_json(t, *k, cJSON_GetObjectItemCaseSensitive(o, *k));
    for (const cJSON *f = o ? o->child : NULL; f; f = f->next)
        if (f->string && !in_list(f->string, order) && !in_list(f->string, skip))
            row_json(t, f->string, f);
}

/* An event: "contract name {data}" from whatever of those it has. */
static char *event_text(const cJSON *e)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
    if (!cJSON_IsObject(e) || !cJSON_IsString(name))
        return ln_json_text(e);
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(e, "contract");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(e, "data");
    char *d = data ? cJSON_PrintUnformatted(data) : NULL;
    size_t n = strlen(name->valuestring) + (d ? strlen(d) : 0) +
               (cJSON_IsString(ct) ? strlen(ct->valuestring) : 0) + 4;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s%s%s", cJSON_IsString(ct) ? ct->valuestring : "",
                 cJSON_IsString(ct) ? " " : "", name->valuestring, d ? " " : "", d ? d : "");
    free(d);
    return s;
}

/* Prints a tx_get result {status, height, receipt} with its hash. */
static void print_receipt(cli *c, const char *hash, const cJSON *r)
{
    static const char *const order[] = { "ok", "result", "error", "gas_used", "fee",
                                         "payer", NULL };
    static const char *const skip[] = { "events", NULL };
    table t = { .n = 0 };
    const cJSON *rc = cJSON_GetObjectItemCaseSensitive(r, "receipt");
    row(&t, "hash", strdup(hash));
    row_json(&t, "status", cJSON_GetObjectItemCaseSensitive(r, "status"));
    row_json(&t, "height", cJSON_GetObjectItemCaseSensitive(r, "height"));
    if (cJSON_IsObject(rc)) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(rc, "error");
        for (const char *const *k = order; *k; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(rc, *k);
            if (!strcmp(*k, "error") && (cJSON_IsNull(e) ||
                (cJSON_IsString(e) && !*e->valuestring)))
                continue;
            row_json(&t, *k, v);
        }
        for (const cJSON *f = rc->child; f; f = f->next)
            if (f->string && !in_list(f->string, order) && !in_list(f->string, skip))
                row_json(&t, f->string, f);
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(rc, "events");
        const cJSON *x;
        if (cJSON_IsArray(ev))
            cJSON_ArrayForEach(x, ev) row(&t, "event", event_text(x));
    }
    table_print(&t, c->out);
}

/* ---- JSON-RPC ---------------------------------------------------------- */

#define jstr ln_rpcc_str
#define juint ln_rpcc_uint

/* Calls method with params (taken, may be NULL); on success *result is the
** caller's. Returns 0, or 1 with the error printed. */
static int rpc(cli *c, const char *method, cJSON *params, cJSON **result)
{
    char err[600];
    if (ln_rpcc_call(c->rpc, method, params, result, err, sizeof err) < 0)
        return failf(c, "%s", err);
    return 0;
}

/* ---- pure parts -------------------------------------------------------- */

int ln_cli_args(int n, char *const *texts, int first, cJSON **out, char *err, size_t errlen)
{
    char why[320];
    cJSON *arr = cJSON_CreateArray();
    if (!arr) {
        snprintf(err, errlen, "out of memory");
        return LN_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        cJSON *v;
        int rc = ln_json_arg(texts[i], &v, why, sizeof why);
        if (rc < 0) {
            if (err && errlen) snprintf(err, errlen, "argument %d: %s", first + i, why);
            cJSON_Delete(arr);
            return rc;
        }
        cJSON_AddItemToArray(arr, v);
    }
    *out = arr;
    return 0;
}

int ln_cli_tx_unsigned(const ln_cli_tx *t, uint8_t **out, size_t *outlen,
                       char *err, size_t errlen)
{
#define BAD(code, ...) do { if (err && errlen) snprintf(err, errlen, __VA_ARGS__); \
                            return code; } while (0)
    if (!ln_name_valid(t->account, strlen(t->account)))
        BAD(LN_EBADNAME, "'%.40s' is not an account name", t->account);
    if (!ln_name_valid(t->contract, strlen(t->contract)))
        BAD(LN_EBADNAME, "contract '%.40s' is not an account name", t->contract);
    size_t ml = strlen(t->method), cl = strlen(t->chain_id);
    if (ml < 1 || ml > 64)
        BAD(LN_EINVAL, "method must be 1-64 bytes");
    if (cl < 1 || cl > LN_CHAIN_ID_MAX)
        BAD(LN_EINVAL, "chain_id must be 1-%d bytes", LN_CHAIN_ID_MAX);
    if (!cJSON_IsArray(t->args))
        BAD(LN_EINVAL, "args must be an array");

    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = 0, i = 0;
    msgpack_pack_map(&pk, 6);
    ln_pack_str(&pk, "account");  ln_pack_str(&pk, t->account);
    ln_pack_str(&pk, "actions");  msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 3);
    ln_pack_str(&pk, "args");
    msgpack_pack_array(&pk, (size_t)cJSON_GetArraySize(t->args));
    const cJSON *a;
    cJSON_ArrayForEach(a, t->args) {
        i++;
        if ((rc = ln_json_pack(a, &pk)) < 0) break;
    }
    if (rc == 0) {
        ln_pack_str(&pk, "contract"); ln_pack_str(&pk, t->contract);
        ln_pack_str(&pk, "method");   ln_pack_str(&pk, t->method);
        ln_pack_str(&pk, "chain_id"); ln_pack_str(&pk, t->chain_id);
        ln_pack_str(&pk, "expires");  msgpack_pack_uint64(&pk, t->expires);
        ln_pack_str(&pk, "max_fee");  msgpack_pack_uint64(&pk, t->max_fee);
        ln_pack_str(&pk, "nonce");    msgpack_pack_uint64(&pk, t->nonce);
        if (!sb.data) rc = LN_ENOMEM;
        else rc = ln_codec_check((const uint8_t *)sb.data, sb.size);
        if (rc < 0 && err && errlen)
            snprintf(err, errlen, "the transaction does not encode: %s", ln_strerror(rc));
    } else if (err && errlen) {
        snprintf(err, errlen, "argument %d: %s", i, ln_strerror(rc));
    }
    if (rc < 0) {
        msgpack_sbuffer_destroy(&sb);
        return rc;
    }
    *out = (uint8_t *)sb.data;
    *outlen = sb.size;
    return 0;
#undef BAD
}

/* ---- keys -------------------------------------------------------------- */

static int mkdir_p(const char *dir)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0700) < 0 && errno != EEXIST) return -1;
        *s = '/';
    }
    return mkdir(p, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* Reads HOME/keys/NAME.key into *k; 0, or 1 with the error printed. */
static int load_key(cli *c, const char *name, ln_key *k)
{
    char path[PATH_MAX], why[200];
    snprintf(path, sizeof path, "%s/keys/%s.key", c->home, name);
    int rc = ln_keyfile_read(path, k, why, sizeof why);
    if (rc == LN_ENOTFOUND)
        return failf(c, "no key file %s (keys are read from --home DIR, default %s)",
                     path, LN_CLI_DEFAULT_HOME);
    if (rc < 0)
        return failf(c, "%s: %s", path, why);
    if (strcmp(k->account, name)) {
        sodium_memzero(k, sizeof *k);
        return failf(c, "%s holds the key of account '%s', not '%s'", path, k->account, name);
    }
    return 0;
}

static int keys_new(cli *c, const char *name)
{
    ln_key k;
    char hex[2 * LN_PK_LEN + 1];
    if (!ln_name_valid(name, strlen(name)))
        return usagef(c, "'%s' is not an account name (1-12 of a-z 0-9 .)", name);
    if (mkdir_p(c->home) < 0)
        return failf(c, "cannot create %s: %s", c->home, strerror(errno));
    memset(&k, 0, sizeof k);
    snprintf(k.account, sizeof k.account, "%s", name);
    ln_keypair(k.pk, k.sk);
    int rc = ln_keyfile_write(c->home, &k, 0);
    sodium_memzero(k.sk, sizeof k.sk);
    if (rc == LN_EEXIST)
        return failf(c, "%s/keys/%s.key already exists; not overwriting it", c->home, name);
    if (rc < 0)
        return failf(c, "cannot write %s/keys/%s.key: %s", c->home, name, ln_strerror(rc));
    ln_hex(k.pk, LN_PK_LEN, hex);
    if (c->json) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/keys/%s.key", c->home, name);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "account", name);
        cJSON_AddStringToObject(o, "public_key", hex);
        cJSON_AddStringToObject(o, "file", path);
        rc = print_json(c, o);
        cJSON_Delete(o);
        return rc;
    }
    fprintf(c->out, "%s\n", hex);
    return 0;
}

static int keys_show(cli *c, const char *name)
{
    ln_key k;
    char hex[2 * LN_PK_LEN + 1];
    if (!ln_name_valid(name, strlen(name)))
        return usagef(c, "'%s' is not an account name (1-12 of a-z 0-9 .)", name);
    if (load_key(c, name, &k)) return 1;
    sodium_memzero(k.sk, sizeof k.sk);
    ln_hex(k.pk, LN_PK_LEN, hex);
    if (c->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "account", name);
        cJSON_AddStringToObject(o, "public_key", hex);
        int rc = print_json(c, o);
        cJSON_Delete(o);
        return rc;
    }
    fprintf(c->out, "%s\n", hex);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int keys_list(cli *c)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/keys", c->home);
    char **names = NULL;
    size_t n = 0, cap = 0;
    int status = 0;
    DIR *d = opendir(dir);
    if (!d && errno != ENOENT)
        return failf(c, "cannot read %s: %s", dir, strerror(errno));
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] == '.' || l < 5 || strcmp(e->d_name + l - 4, ".key")) continue;
        if (n == cap) {
            char **nn = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof *names);
            if (!nn) break;
            names = nn;
        }
        names[n] = strndup(e->d_name, l - 4);
        if (names[n]) n++;
    }
    if (d) closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_str);

    cJSON *arr = c->json ? cJSON_CreateArray() : NULL;
    table t = { .n = 0 };
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX], why[200], hex[2 * LN_PK_LEN + 1];
        ln_key k;
        if ((size_t)snprintf(path, sizeof path, "%s/%s.key", dir, names[i]) >= sizeof path)
            continue;
        if (ln_keyfile_read(path, &k, why, sizeof why) < 0) {
            fprintf(c->err, "lunet keys: %s: %s\n", path, why);
            status = 1;
            continue;
        }
        sodium_memzero(k.sk, sizeof k.sk);
        ln_hex(k.pk, LN_PK_LEN, hex);
        if (strcmp(k.account, names[i]))
            fprintf(c->err, "lunet keys: %s holds account '%s'\n", path, k.account);
        if (arr) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "account", k.account);
            cJSON_AddStringToObject(o, "public_key", hex);
            cJSON_AddItemToArray(arr, o);
        } else {
            if (t.n == 64) table_print(&t, c->out);
            row(&t, names[i], strdup(hex));     /* borrows names[i] until printed */
        }
    }
    if (arr) {
        print_json(c, arr);
        cJSON_Delete(arr);
    }
    table_print(&t, c->out);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return status;
}

static int cmd_keys(cli *c)
{
    if (c->npos < 1)
        return usagef(c, "which? keys new NAME, keys list or keys show NAME");
    const char *sub = c->pos[0];
    int want = !strcmp(sub, "list") ? 1 : (!strcmp(sub, "new") || !strcmp(sub, "show")) ? 2 : 0;
    if (!want)
        return usagef(c, "unknown subcommand '%s' (new, list, show)", sub);
    if (c->npos != want)
        return usagef(c, want == 1 ? "keys list takes no arguments"
                                   : "keys %s takes one NAME", sub);
    if (!strcmp(sub, "new")) return keys_new(c, c->pos[1]);
    if (!strcmp(sub, "show")) return keys_show(c, c->pos[1]);
    return keys_list(c);
}

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

/* Signs and submits contract.method(args) as c->as; waits for and prints
** the receipt unless --no-wait. With got, a receipt with ok = true is not
** printed: tx_get's answer, with its hash, goes to *got (the caller's).
** Returns the exit code. */
static int transact(cli *c, const char *contract, const char *method, const cJSON *args,
                    cJSON **got)
{
    ln_key k;
    cJSON *info = NULL, *acct = NULL, *sub = NULL, *st = NULL;
    uint8_t *utx = NULL, *stx = NULL;
    size_t ulen = 0, slen = 0;
    char *b64 = NULL, err[400], hash[2 * LN_HASH_LEN + 1];
    int status = 1;
    uint64_t height, nonce;
    const char *chain_id, *h;

    if (!c->as)
        return usagef(c, "--as ACCOUNT is required: who signs the transaction");
    if (load_key(c, c->as, &k)) return 1;

    if (rpc(c, "chain_info", NULL, &info)) goto out;
    if (!(chain_id = jstr(info, "chain_id")) || juint(info, "height", &height) < 0) {
        failf(c, "chain_info: the reply lacks chain_id or height");
        goto out;
    }
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "account", c->as);
    if (rpc(c, "account_get", p, &acct)) goto out;
    if (juint(acct, "nonce", &nonce) < 0) {
        failf(c, "account_get: no nonce for account '%s' (does it exist on this chain?)",
              c->as);
        goto out;
    }
    /* Past the account's transactions still waiting, so sends in a row
    ** with --no-wait do not take one nonce twice. */
    juint(acct, "pending_nonce", &nonce);

    ln_cli_tx t = { c->as, chain_id, nonce, height + LN_CLI_EXPIRES_AFTER, c->max_fee,
                    contract, method, args };
    if (ln_cli_tx_unsigned(&t, &utx, &ulen, err, sizeof err) < 0) {
        failf(c, "%s", err);
        goto out;
    }
    uint8_t id[LN_HASH_LEN];
    ln_hash(utx, ulen, id);
    ln_hex(id, LN_HASH_LEN, hash);
    int rc = ln_tx_sign(utx, ulen, (const uint8_t (*)[LN_SK_LEN])&k.sk, 1, &stx, &slen);
    if (rc < 0) {
        failf(c, "cannot sign: %s", ln_strerror(rc));
        goto out;
    }
    if (slen > LN_TX_MAX_BYTES) {
        failf(c, "the transaction is %zu bytes; the limit is %u", slen, LN_TX_MAX_BYTES);
        goto out;
    }
    size_t blen = sodium_base64_ENCODED_LEN(slen, sodium_base64_VARIANT_ORIGINAL);
    if (!(b64 = malloc(blen))) {
        failf(c, "out of memory");
        goto out;
    }
    sodium_bin2base64(b64, blen, stx, slen, sodium_base64_VARIANT_ORIGINAL);
    p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "tx", b64);
    if (rpc(c, "tx_submit", p, &sub)) goto out;
    if ((h = jstr(sub, "hash")) && strcmp(h, hash))
        fprintf(c->err, "lunet %s: warning: the node names the transaction %s, "
                "this client computed %s\n", c->cmd, h, hash);
    if (h) snprintf(hash, sizeof hash, "%.64s", h);

    if (c->no_wait) {
        if (c->json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "hash", hash);
            status = print_json(c, o);
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
        if (rpc(c, "tx_get", p, &st)) goto out;
        s = jstr(st, "status");
        if (!s) {
            failf(c, "tx_get: the reply lacks a status");
            goto out;
        }
        if (!strcmp(s, "committed") || !strcmp(s, "final")) break;
        if (!strcmp(s, "pending")) seen = 1;
        else if (seen) {
            failf(c, "transaction %s was dropped by the node (status %s; expired or "
                  "evicted?)", hash, s);
            goto out;
        }
        if (mono_s() >= deadline) {
            failf(c, "transaction %s not committed after %d s (status %s); it may still "
                  "be: lunet tx %s", hash, c->timeout_s, s, hash);
            goto out;
        }
        sleep_ms(250);
    }

    const cJSON *r = cJSON_GetObjectItemCaseSensitive(st, "receipt");
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(r, "ok");
    if (!cJSON_IsBool(ok)) {
        failf(c, "tx_get: transaction %s is committed but the reply has no receipt.ok", hash);
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
        if (print_json(c, st)) goto out;
    } else if (!got) {
        print_receipt(c, hash, st);
    }
    if (cJSON_IsTrue(ok)) {
        status = 0;
    } else {
        const char *why = jstr(r, "error");
        failf(c, "transaction %s failed%s%s", hash, why ? ": " : "", why ? why : "");
    }
out:
    sodium_memzero(&k, sizeof k);
    cJSON_Delete(info);
    cJSON_Delete(acct);
    cJSON_Delete(sub);
    cJSON_Delete(st);
    free(utx);
    free(stx);
    free(b64);
    return status;
}

static int cmd_send(cli *c)
{
    char err[400];
    cJSON *args;
    if (c->npos < 2)
        return usagef(c, "send wants CONTRACT METHOD [ARG...]");
    if (!ln_name_valid(c->pos[0], strlen(c->pos[0])))
        return usagef(c, "CONTRACT '%s' is not an account name", c->pos[0]);
    size_t ml = strlen(c->pos[1]);
    if (ml < 1 || ml > 64)
        return usagef(c, "METHOD must be 1-64 bytes");
    if (ln_cli_args(c->npos - 2, c->pos + 2, 1, &args, err, sizeof err) < 0)
        return usagef(c, "%s", err);
    int rc = transact(c, c->pos[0], c->pos[1], args, NULL);
    cJSON_Delete(args);
    return rc;
}

/* Reads a Lua source file (a contract, a plugin): 0, or 1 with the error printed. */
static int read_source(cli *c, const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    if (!f) return failf(c, "cannot read %s: %s", path, strerror(errno));
    size_t cap = LN_TX_MAX_BYTES + 1, n;
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(f);
        return failf(c, "out of memory");
    }
    n = fread(buf, 1, cap, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return failf(c, "cannot read %s", path);
    }
    if (n == cap) {
        free(buf);
        return failf(c, "%s is larger than a transaction may be (%u bytes)", path,
                     LN_TX_MAX_BYTES);
    }
    if (memchr(buf, 0, n)) {
        free(buf);
        return failf(c, "%s holds NUL bytes; Lua source is text", path);
    }
    buf[n] = 0;
    *out = buf;
    return 0;
}

static int cmd_deploy(cli *c)
{
    char err[400], *src = NULL;
    cJSON *args;
    if (c->npos < 2)
        return usagef(c, "deploy wants NAME FILE [ARG...]");
    if (!ln_name_valid(c->pos[0], strlen(c->pos[0])))
        return usagef(c, "NAME '%s' is not an account name (1-12 of a-z 0-9 .)", c->pos[0]);
    if (ln_cli_args(c->npos - 2, c->pos + 2, 1, &args, err, sizeof err) < 0)
        return usagef(c, "%s", err);
    if (!c->as) {
        cJSON_Delete(args);
        return usagef(c, "--as ACCOUNT is required: who signs the transaction");
    }
    if (read_source(c, c->pos[1], &src)) {
        cJSON_Delete(args);
        return 1;
    }
    cJSON *name = cJSON_CreateString(c->pos[0]), *code = cJSON_CreateString(src);
    free(src);
    if (!name || !code) {
        cJSON_Delete(name);
        cJSON_Delete(code);
        cJSON_Delete(args);
        return failf(c, "out of memory");
    }
    cJSON_InsertItemInArray(args, 0, code);
    cJSON_InsertItemInArray(args, 0, name);
    int rc = transact(c, "sys", "deploy", args, NULL);
    cJSON_Delete(args);
    return rc;
}

/* ---- reads ------------------------------------------------------------- */

static int cmd_query(cli *c)
{
    char err[400];
    cJSON *args, *res = NULL;
    if (c->npos < 2)
        return usagef(c, "query wants CONTRACT METHOD [ARG...]");
    if (!ln_name_valid(c->pos[0], strlen(c->pos[0])))
        return usagef(c, "CONTRACT '%s' is not an account name", c->pos[0]);
    if (ln_cli_args(c->npos - 2, c->pos + 2, 1, &args, err, sizeof err) < 0)
        return usagef(c, "%s", err);
    if (ln_json_check_text(args, err, sizeof err) < 0) {
        cJSON_Delete(args);
        return usagef(c, "%s (a query sends its arguments as JSON)", err);
    }
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "contract", c->pos[0]);
    cJSON_AddStringToObject(p, "method", c->pos[1]);
    cJSON_AddItemToObject(p, "args", args);
    if (rpc(c, "contract_query", p, &res)) return 1;
    int rc = 0;
    if (c->json) {
        rc = print_json(c, res);
    } else {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(res, "result");
        char *s = v ? ln_json_text(v) : strdup("null");
        if (s) fprintf(c->out, "%s\n", s);
        else rc = failf(c, "out of memory");
        free(s);
    }
    cJSON_Delete(res);
    return rc;
}

static int is_hash(const char *s)
{
    uint8_t b[LN_HASH_LEN];
    return ln_unhex(s, b, sizeof b) == 0;
}

/* A hash (is_hash) in lowercase, as the wire format writes it. */
static void lower_hash(const char *s, char out[2 * LN_HASH_LEN + 1])
{
    for (int i = 0; i < 2 * LN_HASH_LEN; i++)
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] + ('a' - 'A') : s[i]);
    out[2 * LN_HASH_LEN] = 0;
}

static int cmd_tx(cli *c)
{
    char hash[2 * LN_HASH_LEN + 1];
    cJSON *st = NULL;
    if (c->npos != 1)
        return usagef(c, "tx wants one HASH");
    if (!is_hash(c->pos[0]))
        return usagef(c, "'%s' is not a transaction hash (64 hex digits)", c->pos[0]);
    lower_hash(c->pos[0], hash);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "hash", hash);
    if (rpc(c, "tx_get", p, &st)) return 1;
    const char *s = jstr(st, "status");
    int rc = 0;
    if (c->json) rc = print_json(c, st);
    else if (s && strcmp(s, "unknown")) print_receipt(c, hash, st);
    if (!s || !strcmp(s, "unknown"))
        rc = failf(c, "the node does not know transaction %s", hash);
    cJSON_Delete(st);
    return rc;
}

static int cmd_block(cli *c)
{
    cJSON *p = cJSON_CreateObject(), *blk = NULL;
    uint64_t height;
    if (c->npos > 1) {
        cJSON_Delete(p);
        return usagef(c, "block wants at most one HEIGHT or HASH");
    }
    if (c->npos == 1 && is_hash(c->pos[0])) {
        char hash[2 * LN_HASH_LEN + 1];
        lower_hash(c->pos[0], hash);
        cJSON_AddStringToObject(p, "hash", hash);
    } else if (c->npos == 1) {
        if (ln_opts_uint(c->pos[0], 0, (uint64_t)LN_SAFE_INT, &height) < 0) {
            cJSON_Delete(p);
            return usagef(c, "'%s' is neither a height nor a block hash", c->pos[0]);
        }
        cJSON_AddNumberToObject(p, "height", (double)height);
    } else {
        cJSON *info;
        if (rpc(c, "chain_info", NULL, &info)) {
            cJSON_Delete(p);
            return 1;
        }
        int bad = juint(info, "height", &height) < 0;
        cJSON_Delete(info);
        if (bad) {
            cJSON_Delete(p);
            return failf(c, "chain_info: the reply lacks a height");
        }
        cJSON_AddNumberToObject(p, "height", (double)height);
    }
    if (rpc(c, "block_get", p, &blk)) return 1;
    if (c->json) {
        int rc = print_json(c, blk);
        cJSON_Delete(blk);
        return rc;
    }
    static const char *const horder[] = { "height", "chain_id", "time", "proposer", "prev",
        "tx_root", "state_root", "receipts_root", "consensus", NULL };
    static const char *const none[] = { NULL };
    table t = { .n = 0 };
    const cJSON *txs = cJSON_GetObjectItemCaseSensitive(blk, "txs"), *x;
    row_json(&t, "hash", cJSON_GetObjectItemCaseSensitive(blk, "hash"));
    rows_ordered(&t, cJSON_GetObjectItemCaseSensitive(blk, "header"), horder, none);
    if (cJSON_IsArray(txs)) {
        char *n = malloc(24);
        if (n) snprintf(n, 24, "%d", cJSON_GetArraySize(txs));
        row(&t, "txs", n);
    }
    row_json(&t, "cert", cJSON_GetObjectItemCaseSensitive(blk, "cert"));
    table_print(&t, c->out);
    if (cJSON_IsArray(txs))
        cJSON_ArrayForEach(x, txs) {
            const cJSON *h = cJSON_GetObjectItemCaseSensitive(x, "hash");
            char *s = ln_json_text(cJSON_IsString(h) ? h : x);
            if (s) fprintf(c->out, "  tx  %s\n", s);
            free(s);
        }
    cJSON_Delete(blk);
    return 0;
}

static int cmd_info(cli *c)
{
    cJSON *info;
    static const char *const order[] = { "chain_id", "height", "head", "consensus", NULL };
    static const char *const none[] = { NULL };
    if (c->npos)
        return usagef(c, "info takes no arguments");
    if (rpc(c, "chain_info", NULL, &info)) return 1;
    int rc = 0;
    if (c->json) {
        rc = print_json(c, info);
    } else {
        table t = { .n = 0 };
        rows_ordered(&t, info, order, none);
        table_print(&t, c->out);
    }
    cJSON_Delete(info);
    return rc;
}

/* ---- shared with cli_gov.c (cli_int.h) --------------------------------- */

int ln__cli_fail(cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = say(c, 0, fmt, ap);
    va_end(ap);
    return rc;
}

int ln__cli_usage(cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = say(c, 1, fmt, ap);
    va_end(ap);
    return rc;
}

int ln__cli_rpc(cli *c, const char *method, cJSON *params, cJSON **result)
{
    return rpc(c, method, params, result);
}

int ln__cli_print_json(cli *c, const cJSON *v) { return print_json(c, v); }
void ln__cli_row(table *t, const char *key, char *val) { row(t, key, val); }
void ln__cli_table_print(table *t, FILE *out) { table_print(t, out); }

int ln__cli_transact(cli *c, const char *contract, const char *method, const cJSON *args,
                     cJSON **got)
{
    return transact(c, contract, method, args, got);
}

int ln__cli_read_source(cli *c, const char *path, char **out) { return read_source(c, path, out); }

/* ---- dispatch ---------------------------------------------------------- */

static const struct {
    const char *name;
    int (*fn)(cli *);
    const ln_opt *opts;
    const char *usage;
    int (*help)(int argc, char **argv, FILE *out);   /* NULL: usage and opts */
} commands[] = {
    { "keys",   cmd_keys,    common_opts,      usage_keys,   NULL },
    { "deploy", cmd_deploy,  send_opts,        usage_deploy, NULL },
    { "send",   cmd_send,    send_opts,        usage_send,   NULL },
    { "query",  cmd_query,   common_opts,      usage_query,  NULL },
    { "tx",     cmd_tx,      common_opts,      usage_tx,     NULL },
    { "block",  cmd_block,   common_opts,      usage_block,  NULL },
    { "info",   cmd_info,    common_opts,      usage_info,   NULL },
    { "gov",    ln__cli_gov, ln__cli_gov_opts, NULL,         ln__cli_gov_help },
};
#define NCOMMANDS (sizeof commands / sizeof *commands)

int ln_cli_is_command(const char *cmd)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(cmd, commands[i].name)) return 1;
    return 0;
}

int ln_cli_run(int argc, char **argv, FILE *out, FILE *err)
{
    size_t i;
    for (i = 0; i < NCOMMANDS; i++)
        if (argc > 0 && !strcmp(argv[0], commands[i].name)) break;
    if (i == NCOMMANDS) {
        fprintf(err, "lunet: unknown command '%s'\n", argc > 0 ? argv[0] : "");
        return 2;
    }
    if (ln_opts_wants_help(argc, argv)) {
        if (commands[i].help) return commands[i].help(argc, argv, out);
        fprintf(out, "%s\noptions (anywhere among the arguments; `--` ends them):\n",
                commands[i].usage);
        ln_opts_usage(out, commands[i].opts);
        return 0;
    }
    cli c;
    memset(&c, 0, sizeof c);
    c.out = out;
    c.err = err;
    c.cmd = commands[i].name;
    ln_args a;
    char why[256];
    int rc = ln_opts_parse(commands[i].opts, argc, argv, &a, why, sizeof why) < 0
           ? usagef(&c, "%s", why) : take_opts(&c, &a);
    c.args = &a;
    if (rc == 0)
        rc = commands[i].fn(&c);
    ln_rpcc_close(c.rpc);
    ln_args_free(&a);
    fflush(out);
    return rc;
}
