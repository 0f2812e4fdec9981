/* cli.c -- the client commands' options, output and dispatch; keys and the
** reads (query, tx, block, info, account) over JSON-RPC (see cli.h).
** Transactions (send, deploy) are cli_tx.c's. */
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
    "when the deploy fails. FILE is compiled first: a syntax error is printed\n"
    "as FILE:LINE and nothing is sent. The home notes (DIR/sources.json) that\n"
    "NAME runs FILE, so errors of NAME read FILE:LINE while its code is FILE's.\n"
    "max_fee as for send.\n"
    "\n" ARGS_RULES;

static const char usage_send[] =
    "usage: lunet send CONTRACT METHOD [ARG...] --as ACCOUNT [options]\n"
    "\n"
    "Signs a transaction calling CONTRACT.METHOD(ARG...) with the key in\n"
    "DIR/keys/ACCOUNT.key (chain_id and expiry from chain_info, nonce from\n"
    "account_get), submits it, waits until it is committed and prints the\n"
    "receipt: ok, result, error, gas_used, fee, payer, events. Exits 1 when the\n"
    "call failed (receipt ok = false) or no receipt came in time. The nonce\n"
    "follows the account's transactions waiting in the node (pending_nonce), so\n"
    "sends in a row with --no-wait work. Without --max-fee, the node first runs\n"
    "the signed transaction dry (tx_estimate) and max_fee is its fee x1.5 +\n"
    "1000, at most the balance.\n"
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
    "Prints a transaction's status (pending, committed, final), block height, what it\n"
    "is (sender, nonce, max_fee, expires, signatures, each action with its\n"
    "arguments) and its receipt. HASH is 64 hex digits, \"0x\" or not. Exits 1\n"
    "when the node does not know the transaction.\n";

static const char usage_block[] =
    "usage: lunet block [HEIGHT | HASH] [options]\n"
    "\n"
    "Prints a block (default: the head): its hash, header fields, transactions\n"
    "and commit certificate. HASH is 64 hex digits, \"0x\" or not: a block's\n"
    "prev as printed here works.\n";

static const char usage_account[] =
    "usage: lunet account NAME [options]\n"
    "\n"
    "Prints an account: balance, nonce, pending_nonce (the nonce its next\n"
    "transaction takes, past those waiting in the node's mempool), stake when\n"
    "there is any, each permission (threshold, keys and accounts with their\n"
    "weights) and the code hash of its contract. Exits 1 when there is no\n"
    "such account.\n";

static const char usage_info[] =
    "usage: lunet info [options]\n"
    "\n"
    "Prints the node's chain_info: chain_id, height, head, consensus, ...\n";

/* ---- options ----------------------------------------------------------- */

static const ln_opt common_opts[] = { COMMON_OPTS, { NULL, 0, 0, NULL, 0, 0, NULL } };

static const ln_opt send_opts[] = {
    COMMON_OPTS,
    { "max-fee", 0, LN_OPT_UINT, "N", 0, (uint64_t)LN_SAFE_INT,
      "the most the transaction may cost (default: a dry run's fee x1.5 + 1000, at most the balance)" },
    { "no-wait", 0, LN_OPT_FLAG, NULL, 0, 0, "print the transaction hash once the node accepts it" },
    { "timeout", 0, LN_OPT_UINT, "S", 1, 86400, "how long to wait for the receipt (default 30 s)" },
    { NULL, 0, 0, NULL, 0, 0, NULL }
};

int ln__cli_fail(cli *c, const char *fmt, ...)
{
    va_list ap;
    if (!c->err) return 1;                 /* quiet, for a try that has a fallback */
    fprintf(c->err, "lunet %s: ", c->cmd);
    va_start(ap, fmt);
    vfprintf(c->err, fmt, ap);
    va_end(ap);
    fputc('\n', c->err);
    return 1;
}

int ln__cli_usage(cli *c, const char *fmt, ...)
{
    va_list ap;
    fprintf(c->err, "lunet %s: ", c->cmd);
    va_start(ap, fmt);
    vfprintf(c->err, fmt, ap);
    va_end(ap);
    fprintf(c->err, " (see lunet %s --help)\n", c->cmd);
    return 2;
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
    c->max_fee_given = ln_args_get(a, "max-fee")->given > 0;
    c->timeout_s = (int)ln_args_uint(a, "timeout", LN_CLI_WAIT_SECONDS);
    c->pos = a->pos;
    c->npos = a->npos;
    if (!*c->home)
        return ln__cli_usage(c, "--home must not be empty");
    if (c->as && !ln_name_valid(c->as, strlen(c->as)))
        return ln__cli_usage(c, "--as '%s' is not an account name (1-12 of a-z 0-9 .)", c->as);
    char err[256];
    int rc = ln_rpcc_open(c->rpcurl, LN_CLI_RPC_TIMEOUT_MS, &c->rpc, err, sizeof err);
    if (rc == LN_EINVAL) return ln__cli_usage(c, "--rpc: %s", err);
    if (rc < 0) return ln__cli_fail(c, "%s", err);
    return 0;
}

/* ---- output ------------------------------------------------------------ */

/* Prints v as one line of compact JSON. */
int ln__cli_json(cli *c, const cJSON *v)
{
    char *s = cJSON_PrintUnformatted(v);
    if (!s) return ln__cli_fail(c, "out of memory");
    fprintf(c->out, "%s\n", s);
    free(s);
    return 0;
}

void ln__cli_row(table *t, const char *key, char *val)     /* takes val */
{
    if (t->n == 64 || !val) {
        free(val);
        return;
    }
    t->key[t->n] = key;
    t->val[t->n++] = val;
}

void ln__cli_row_json(table *t, const char *key, const cJSON *v)
{
    if (v) ln__cli_row(t, key, ln_json_text(v));
}

void ln__cli_table_print(table *t, FILE *out)
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
        ln__cli_row_json(t, *k, cJSON_GetObjectItemCaseSensitive(o, *k));
    for (const cJSON *f = o ? o->child : NULL; f; f = f->next)
        if (f->string && !in_list(f->string, order) && !in_list(f->string, skip))
            ln__cli_row_json(t, f->string, f);
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
/* An argument for a line: JSON, a long text cut with its length. */
static char *arg_text(const cJSON *a)
{
    enum { SHOW = 48 };
    if (!cJSON_IsString(a) || strlen(a->valuestring) <= 2 * SHOW) return cJSON_PrintUnformatted(a);
    size_t n = strlen(a->valuestring), cut = SHOW;
    while (cut > 0 && ((unsigned char)a->valuestring[cut] & 0xc0) == 0x80) cut--;
    char *head = strndup(a->valuestring, cut);
    cJSON *h = head ? cJSON_CreateString(head) : NULL;
    char *q = h ? cJSON_PrintUnformatted(h) : NULL, *out = NULL;
    if (q && (out = malloc(strlen(q) + 48)))
        sprintf(out, "%.*s...\" (%zu bytes)", (int)strlen(q) - 1, q, n);
    free(head);
    free(q);
    cJSON_Delete(h);
    return out;
}

/* contract.method(arg, ...) of an action {args, contract, method}. */
static char *action_text(const cJSON *act)
{
    const char *ct = jstr(act, "contract"), *m = jstr(act, "method");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(act, "args"), *a;
    size_t cap = 256, len;
    char *s = malloc(cap);
    if (!s) return NULL;
    len = (size_t)snprintf(s, cap, "%s.%s(", ct ? ct : "?", m ? m : "?");
    if (len >= cap) len = cap - 1;
    int first = 1;
    cJSON_ArrayForEach(a, args) {
        char *t = arg_text(a);
        size_t tl = t ? strlen(t) : 1;
        char *more = realloc(s, cap += tl + 4);
        if (!more) { free(t); break; }
        s = more;
        len += (size_t)sprintf(s + len, "%s%s", first ? "" : ", ", t ? t : "?");
        first = 0;
        free(t);
    }
    char *more = realloc(s, len + 2);
    if (more) {
        s = more;
        s[len++] = ')';
        s[len] = 0;
    }
    return s;
}

/* The transaction's own fields (tx_get with body): who sent it, its nonce,
** its actions with their arguments, what it may cost, how many signed. */
static void body_rows(table *t, const cJSON *tx)
{
    if (!cJSON_IsObject(tx)) return;
    ln__cli_row_json(t, "sender", cJSON_GetObjectItemCaseSensitive(tx, "account"));
    ln__cli_row_json(t, "nonce", cJSON_GetObjectItemCaseSensitive(tx, "nonce"));
    ln__cli_row_json(t, "max_fee", cJSON_GetObjectItemCaseSensitive(tx, "max_fee"));
    ln__cli_row_json(t, "expires", cJSON_GetObjectItemCaseSensitive(tx, "expires"));
    const cJSON *sigs = cJSON_GetObjectItemCaseSensitive(tx, "signatures"), *a;
    if (cJSON_IsArray(sigs)) {
        char *n = malloc(16);
        if (n) snprintf(n, 16, "%d", cJSON_GetArraySize(sigs));
        ln__cli_row(t, "signatures", n);
    }
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(tx, "actions"))
        ln__cli_row(t, "action", action_text(a));
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(tx, "error");
    if (cJSON_IsString(err)) ln__cli_row_json(t, "body", err);    /* the node could not decode it */
}

void ln__cli_receipt(cli *c, const char *hash, const cJSON *r)
{
    static const char *const order[] = { "ok", "result", "error", "gas_used", "fee",
                                         "payer", NULL };
    static const char *const skip[] = { "events", NULL };
    table t = { .n = 0 };
    const cJSON *rc = cJSON_GetObjectItemCaseSensitive(r, "receipt");
    ln__cli_row(&t, "hash", strdup(hash));
    ln__cli_row_json(&t, "status", cJSON_GetObjectItemCaseSensitive(r, "status"));
    ln__cli_row_json(&t, "height", cJSON_GetObjectItemCaseSensitive(r, "height"));
    body_rows(&t, cJSON_GetObjectItemCaseSensitive(r, "tx"));
    if (cJSON_IsObject(rc)) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(rc, "error");
        for (const char *const *k = order; *k; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(rc, *k);
            if (!strcmp(*k, "error") && (cJSON_IsNull(e) ||
                (cJSON_IsString(e) && !*e->valuestring)))
                continue;
            if (!strcmp(*k, "error") && cJSON_IsString(e)) {
                char *mapped = ln__cli_positions(c, e->valuestring);
                if (mapped) {
                    ln__cli_row(&t, *k, mapped);
                    continue;
                }
            }
            ln__cli_row_json(&t, *k, v);
        }
        for (const cJSON *f = rc->child; f; f = f->next)
            if (f->string && !in_list(f->string, order) && !in_list(f->string, skip))
                ln__cli_row_json(&t, f->string, f);
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(rc, "events");
        const cJSON *x;
        if (cJSON_IsArray(ev))
            cJSON_ArrayForEach(x, ev) ln__cli_row(&t, "event", event_text(x));
    }
    ln__cli_table_print(&t, c->out);
}

/* ---- JSON-RPC ---------------------------------------------------------- */


/* Calls method with params (taken, may be NULL); on success *result is the
** caller's. Returns 0, or 1 with the error printed. */
int ln__cli_rpc(cli *c, const char *method, cJSON *params, cJSON **result)
{
    char err[600];
    if (ln_rpcc_call(c->rpc, method, params, result, err, sizeof err) < 0)
        return ln__cli_fail(c, "%s", err);
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
int ln__cli_key(cli *c, const char *name, ln_key *k)
{
    char path[PATH_MAX], why[200];
    snprintf(path, sizeof path, "%s/keys/%s.key", c->home, name);
    int rc = ln_keyfile_read(path, k, why, sizeof why);
    if (rc == LN_ENOTFOUND)
        return ln__cli_fail(c, "no key file %s (keys are read from --home DIR, default %s)",
                     path, LN_CLI_DEFAULT_HOME);
    if (rc < 0)
        return ln__cli_fail(c, "%s: %s", path, why);
    if (strcmp(k->account, name)) {
        sodium_memzero(k, sizeof *k);
        return ln__cli_fail(c, "%s holds the key of account '%s', not '%s'", path, k->account, name);
    }
    return 0;
}

static int keys_new(cli *c, const char *name)
{
    ln_key k;
    char hex[2 * LN_PK_LEN + 1];
    if (!ln_name_valid(name, strlen(name)))
        return ln__cli_usage(c, "'%s' is not an account name (1-12 of a-z 0-9 .)", name);
    if (mkdir_p(c->home) < 0)
        return ln__cli_fail(c, "cannot create %s: %s", c->home, strerror(errno));
    memset(&k, 0, sizeof k);
    snprintf(k.account, sizeof k.account, "%s", name);
    ln_keypair(k.pk, k.sk);
    int rc = ln_keyfile_write(c->home, &k, 0);
    sodium_memzero(k.sk, sizeof k.sk);
    if (rc == LN_EEXIST)
        return ln__cli_fail(c, "%s/keys/%s.key already exists; not overwriting it", c->home, name);
    if (rc < 0)
        return ln__cli_fail(c, "cannot write %s/keys/%s.key: %s", c->home, name, ln_strerror(rc));
    ln_hex(k.pk, LN_PK_LEN, hex);
    if (c->json) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/keys/%s.key", c->home, name);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "account", name);
        cJSON_AddStringToObject(o, "public_key", hex);
        cJSON_AddStringToObject(o, "file", path);
        rc = ln__cli_json(c, o);
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
        return ln__cli_usage(c, "'%s' is not an account name (1-12 of a-z 0-9 .)", name);
    if (ln__cli_key(c, name, &k)) return 1;
    sodium_memzero(k.sk, sizeof k.sk);
    ln_hex(k.pk, LN_PK_LEN, hex);
    if (c->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "account", name);
        cJSON_AddStringToObject(o, "public_key", hex);
        int rc = ln__cli_json(c, o);
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
        return ln__cli_fail(c, "cannot read %s: %s", dir, strerror(errno));
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
            if (t.n == 64) ln__cli_table_print(&t, c->out);
            ln__cli_row(&t, names[i], strdup(hex));     /* borrows names[i] until printed */
        }
    }
    if (arr) {
        ln__cli_json(c, arr);
        cJSON_Delete(arr);
    }
    ln__cli_table_print(&t, c->out);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return status;
}

static int cmd_keys(cli *c)
{
    if (c->npos < 1)
        return ln__cli_usage(c, "which? keys new NAME, keys list or keys show NAME");
    const char *sub = c->pos[0];
    int want = !strcmp(sub, "list") ? 1 : (!strcmp(sub, "new") || !strcmp(sub, "show")) ? 2 : 0;
    if (!want)
        return ln__cli_usage(c, "unknown subcommand '%s' (new, list, show)", sub);
    if (c->npos != want)
        return ln__cli_usage(c, want == 1 ? "keys list takes no arguments"
                                   : "keys %s takes one NAME", sub);
    if (!strcmp(sub, "new")) return keys_new(c, c->pos[1]);
    if (!strcmp(sub, "show")) return keys_show(c, c->pos[1]);
    return keys_list(c);
}

/* ---- reads ------------------------------------------------------------- */

static int cmd_query(cli *c)
{
    char err[400];
    cJSON *args, *res = NULL;
    if (c->npos < 2)
        return ln__cli_usage(c, "query wants CONTRACT METHOD [ARG...]");
    if (!ln_name_valid(c->pos[0], strlen(c->pos[0])))
        return ln__cli_usage(c, "CONTRACT '%s' is not an account name", c->pos[0]);
    if (ln_cli_args(c->npos - 2, c->pos + 2, 1, &args, err, sizeof err) < 0)
        return ln__cli_usage(c, "%s", err);
    if (ln_json_check_text(args, err, sizeof err) < 0) {
        cJSON_Delete(args);
        return ln__cli_usage(c, "%s (a query sends its arguments as JSON)", err);
    }
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "contract", c->pos[0]);
    cJSON_AddStringToObject(p, "method", c->pos[1]);
    cJSON_AddItemToObject(p, "args", args);
    if (ln__cli_rpc(c, "contract_query", p, &res)) return 1;
    int rc = 0;
    if (c->json) {
        rc = ln__cli_json(c, res);
    } else {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(res, "result");
        char *s = v ? ln_json_text(v) : strdup("null");
        if (s) fprintf(c->out, "%s\n", s);
        else rc = ln__cli_fail(c, "out of memory");
        free(s);
    }
    cJSON_Delete(res);
    return rc;
}

/* A hash is 64 hex digits, with or without "0x" (as the node shows bytes,
** a block's prev), in either case. */
static const char *hex_digits(const char *s)
{
    return s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? s + 2 : s;
}

static int is_hash(const char *s)
{
    uint8_t b[LN_HASH_LEN];
    s = hex_digits(s);
    return strlen(s) == 2 * LN_HASH_LEN && ln_unhex(s, b, sizeof b) == 0;
}

/* A hash (is_hash) as the wire format writes it: lowercase, no "0x". */
static void lower_hash(const char *s, char out[2 * LN_HASH_LEN + 1])
{
    s = hex_digits(s);
    for (int i = 0; i < 2 * LN_HASH_LEN; i++)
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] + ('a' - 'A') : s[i]);
    out[2 * LN_HASH_LEN] = 0;
}

static int cmd_tx(cli *c)
{
    char hash[2 * LN_HASH_LEN + 1];
    cJSON *st = NULL;
    if (c->npos != 1)
        return ln__cli_usage(c, "tx wants one HASH");
    if (!is_hash(c->pos[0]))
        return ln__cli_usage(c, "'%s' is not a transaction hash (64 hex digits)", c->pos[0]);
    lower_hash(c->pos[0], hash);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "hash", hash);
    cJSON_AddTrueToObject(p, "body");
    if (ln__cli_rpc(c, "tx_get", p, &st)) return 1;
    const char *s = jstr(st, "status");
    int rc = 0;
    if (c->json) rc = ln__cli_json(c, st);
    else if (s && strcmp(s, "unknown")) ln__cli_receipt(c, hash, st);
    if (!s || !strcmp(s, "unknown"))
        rc = ln__cli_fail(c, "the node does not know transaction %s", hash);
    cJSON_Delete(st);
    return rc;
}

static int cmd_block(cli *c)
{
    cJSON *p = cJSON_CreateObject(), *blk = NULL;
    uint64_t height;
    if (c->npos > 1) {
        cJSON_Delete(p);
        return ln__cli_usage(c, "block wants at most one HEIGHT or HASH");
    }
    if (c->npos == 1 && is_hash(c->pos[0])) {
        char hash[2 * LN_HASH_LEN + 1];
        lower_hash(c->pos[0], hash);
        cJSON_AddStringToObject(p, "hash", hash);
    } else if (c->npos == 1) {
        if (ln_opts_uint(c->pos[0], 0, (uint64_t)LN_SAFE_INT, &height) < 0) {
            cJSON_Delete(p);
            return ln__cli_usage(c, "'%s' is neither a height nor a block hash", c->pos[0]);
        }
        cJSON_AddNumberToObject(p, "height", (double)height);
    } else {
        cJSON *info;
        if (ln__cli_rpc(c, "chain_info", NULL, &info)) {
            cJSON_Delete(p);
            return 1;
        }
        int bad = juint(info, "height", &height) < 0;
        cJSON_Delete(info);
        if (bad) {
            cJSON_Delete(p);
            return ln__cli_fail(c, "chain_info: the reply lacks a height");
        }
        cJSON_AddNumberToObject(p, "height", (double)height);
    }
    if (ln__cli_rpc(c, "block_get", p, &blk)) return 1;
    if (c->json) {
        int rc = ln__cli_json(c, blk);
        cJSON_Delete(blk);
        return rc;
    }
    static const char *const horder[] = { "height", "chain_id", "time", "proposer", "prev",
        "tx_root", "state_root", "receipts_root", "consensus", NULL };
    static const char *const none[] = { NULL };
    table t = { .n = 0 };
    const cJSON *txs = cJSON_GetObjectItemCaseSensitive(blk, "txs"), *x;
    ln__cli_row_json(&t, "hash", cJSON_GetObjectItemCaseSensitive(blk, "hash"));
    rows_ordered(&t, cJSON_GetObjectItemCaseSensitive(blk, "header"), horder, none);
    if (cJSON_IsArray(txs)) {
        char *n = malloc(24);
        if (n) snprintf(n, 24, "%d", cJSON_GetArraySize(txs));
        ln__cli_row(&t, "txs", n);
    }
    ln__cli_row_json(&t, "cert", cJSON_GetObjectItemCaseSensitive(blk, "cert"));
    ln__cli_table_print(&t, c->out);
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
        return ln__cli_usage(c, "info takes no arguments");
    if (ln__cli_rpc(c, "chain_info", NULL, &info)) return 1;
    int rc = 0;
    if (c->json) {
        rc = ln__cli_json(c, info);
    } else {
        table t = { .n = 0 };
        rows_ordered(&t, info, order, none);
        ln__cli_table_print(&t, c->out);
    }
    cJSON_Delete(info);
    return rc;
}

/* "threshold N: key HEX (w), NAME@PERM (w), ..." of an authority. */
static char *authority_text(const cJSON *au)
{
    uint64_t th = 0;
    juint(au, "threshold", &th);
    size_t cap = 64, len;
    char *s = malloc(cap);
    if (!s) return NULL;
    len = (size_t)snprintf(s, cap, "threshold %llu:", (unsigned long long)th);
    const char *lists[] = { "keys", "accounts" };
    int first = 1;
    for (int l = 0; l < 2; l++) {
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(au, lists[l])) {
            uint64_t w = 0;
            juint(e, "weight", &w);
            const char *k = jstr(e, "key"), *a = jstr(e, "account"), *p = jstr(e, "permission");
            char one[200];
            if (l == 0) snprintf(one, sizeof one, "key %s", k ? hex_digits(k) : "?");
            else snprintf(one, sizeof one, "%s@%s", a ? a : "?", p ? p : "?");
            size_t need = strlen(one) + 32;
            char *more = realloc(s, cap += need);
            if (!more) return s;
            s = more;
            len += (size_t)snprintf(s + len, need, "%s %s (weight %llu)", first ? "" : ",", one,
                                    (unsigned long long)w);
            first = 0;
        }
    }
    return s;
}

static int cmd_account(cli *c)
{
    cJSON *res = NULL;
    if (c->npos != 1)
        return ln__cli_usage(c, "account wants one NAME");
    if (!ln_name_valid(c->pos[0], strlen(c->pos[0])))
        return ln__cli_usage(c, "'%s' is not an account name (1-12 of a-z 0-9 .)", c->pos[0]);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "account", c->pos[0]);
    if (ln__cli_rpc(c, "account_get", p, &res)) return 1;
    int rc = 0;
    if (c->json) {
        rc = ln__cli_json(c, res);
    } else {
        static const char *const order[] = { "account", "balance", "nonce", "pending_nonce",
                                             "stake", "unbonding", "votes", NULL };
        static const char *const skip[] = { "permissions", "code_hash", NULL };
        table t = { .n = 0 };
        rows_ordered(&t, res, order, skip);
        const cJSON *perms = cJSON_GetObjectItemCaseSensitive(res, "permissions"), *pm;
        cJSON_ArrayForEach(pm, perms) ln__cli_row(&t, pm->string, authority_text(pm));
        const char *code = jstr(res, "code_hash");
        ln__cli_row(&t, "code_hash", strdup(code ? hex_digits(code) : "none (no contract)"));
        ln__cli_table_print(&t, c->out);
    }
    cJSON_Delete(res);
    return rc;
}

/* ---- dispatch ---------------------------------------------------------- */

static const struct {
    const char *name;
    int (*fn)(cli *);
    const ln_opt *opts;
    const char *usage;
    int (*help)(int argc, char **argv, FILE *out);   /* NULL: usage and opts */
} commands[] = {
    { "keys",    cmd_keys,       common_opts,      usage_keys,    NULL },
    { "deploy",  ln__cli_deploy, send_opts,        usage_deploy,  NULL },
    { "send",    ln__cli_send,   send_opts,        usage_send,    NULL },
    { "query",   cmd_query,      common_opts,      usage_query,   NULL },
    { "tx",      cmd_tx,         common_opts,      usage_tx,      NULL },
    { "block",   cmd_block,      common_opts,      usage_block,   NULL },
    { "info",    cmd_info,       common_opts,      usage_info,    NULL },
    { "account", cmd_account,    common_opts,      usage_account, NULL },
    { "gov",     ln__cli_gov,    ln__cli_gov_opts, NULL,          ln__cli_gov_help },
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
           ? ln__cli_usage(&c, "%s", why) : take_opts(&c, &a);
    c.args = &a;
    if (rc == 0)
        rc = commands[i].fn(&c);
    ln_rpcc_close(c.rpc);
    ln_args_free(&a);
    fflush(out);
    return rc;
}
