/* bench.c -- `lunet bench`, the standard throughput workload (see bench.h). */
#include "bench.h"
#include "bench_pricing.h"
#include "cli.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "httpc.h"
#include "opts.h"
#include "paths.h"
#include "proc.h"
#include "rpcc.h"
#include "tx.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <msgpack.h>
#include <sodium.h>

#define BENCH_MAX_FEE     100000ull   /* per transfer; a transfer burns ~5k gas */
#define SETUP_MAX_FEE     10000000ull
#define EXPIRES_AFTER     1000000     /* blocks: pre-signed transfers must not expire */
#define MAX_TXS           1000000
#define MAX_SENDERS       1000
#define MAX_CONNS         256
#define RPC_MAX_BATCH     100         /* LN_RPC_MAX_BATCH of core/rpc.h */
#define RPC_TIMEOUT_MS    60000
#define POLL_MS           5           /* head height poll */
#define NODE_START_S      30          /* our node must answer /health by then */
#define STALL_S           5           /* after a refusal: give up when nothing moves */

static const char usage[] =
    "usage: lunet bench [-n M] [--senders S] [--conns C] [--batch B] [options]\n"
    "\n"
    "Runs the standard workload: S funded senders, M pre-signed token\n"
    "transfers to distinct fresh recipients, submitted in parallel over\n"
    "JSON-RPC, timed from the first submit to the last transaction committed.\n"
    "Prints tx/s, confirmation latency p50/p99 (submit -> seen committed), node\n"
    "CPU per transaction and the node's peak RSS. Exits 1 when a transfer was\n"
    "refused, failed or did not commit in time.\n"
    "\n"
    "By default it starts its own node (`lunet dev` on a fresh temporary home\n"
    "and free ports) and stops it at the end. Setup (deploying the token,\n"
    "creating and funding the senders) and signing are not timed.\n"
    "\n"
    "options:\n";

static const ln_opt options[] = {
    { "count", 'n', LN_OPT_UINT, "M", 1, MAX_TXS, "transfers (default 20000)" },
    { "senders", 0, LN_OPT_UINT, "S", 1, MAX_SENDERS, "sending accounts (default 50)" },
    { "conns", 0, LN_OPT_UINT, "C", 1, MAX_CONNS,
      "parallel HTTP connections, one thread each (default 8)" },
    { "batch", 0, LN_OPT_UINT, "B", 1, RPC_MAX_BATCH, "tx_submit calls per JSON-RPC batch (default 100)" },
    { "rate", 0, LN_OPT_UINT, "R", 1, 10000000,
      "submit at most R transfers per second (default: as fast as the node takes them)" },
    { "rpc", 0, LN_OPT_STR, "URL", 0, 0, "use a running node instead (with --home: the funder's key)" },
    { "home", 0, LN_OPT_STR, "DIR", 0, 0,
      "where DIR/keys/ACCOUNT.key is (with --rpc; default " LN_CLI_DEFAULT_HOME ")" },
    { "as", 0, LN_OPT_STR, "ACCOUNT", 0, 0, "the funding account (default alice)" },
    { "pid", 0, LN_OPT_UINT, "PID", 1, INT_MAX, "the node's process, for CPU and RSS (with --rpc)" },
    { "token", 0, LN_OPT_STR, "FILE", 0, 0, "the token contract (default contracts/token.lua)" },
    { "timeout", 0, LN_OPT_UINT, "S", 1, 86400,
      "how long to wait for commits after the last submit (default 120)" },
    { "perf", 0, LN_OPT_STR, "FILE", 0, 0, "`perf record` the node over the timed window" },
    { "pricing", 0, LN_OPT_STR, "FILE", 0, 0,
      "its own node prices by this plugin; every account stakes, the token is funded" },
    { "pricing-params", 0, LN_OPT_STR, "JSON", 0, 0, "the pricing plugin's params (a JSON object)" },
    { "keep", 0, LN_OPT_FLAG, NULL, 0, 0, "keep the temporary node home" },
    { "json", 0, LN_OPT_FLAG, NULL, 0, 0, "print the summary as one JSON object" },
    { NULL, 0, 0, NULL, 0, 0, NULL }
};

/* ---- small helpers ----------------------------------------------------- */

#define now_s ln_proc_now
#define sleep_ms ln_proc_sleep_ms

#define failf ln__bench_fail

int ln__bench_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("lunet bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

/* base36 of v, lowercase, no padding. */
static void base36(uint64_t v, char *out)
{
    char tmp[16];
    int n = 0;
    do { tmp[n++] = "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36]; v /= 36; } while (v);
    while (n) *out++ = tmp[--n];
    *out = 0;
}

/* ---- the run ----------------------------------------------------------- */

typedef struct {
    char name[LN_NAME_MAX + 1];
    uint8_t pk[LN_PK_LEN], sk[LN_SK_LEN];
    uint64_t ntx;                /* transfers it sends */
    uint64_t base;               /* its nonce when they start */
    uint64_t seen;               /* how many are seen committed */
} sender;

typedef struct bench bench;

typedef struct {
    bench *b;
    ln_rpcc *rpc;                /* its own kept connection */
    pthread_t th;
    size_t lo, hi;               /* signing: transfers [lo, hi) */
    double done_at;              /* submission: when its last reply came */
    int rc;
} worker;

struct bench {
    /* options */
    long ntx, nsenders, conns, batch, timeout_s, rate;
    double go_at;                /* when the submitters started */
    const char *rpc, *home, *funder, *token_file, *perf_file, *pricing, *pricing_params;
    int json, keep, own_node;
    pid_t pid;                   /* the node's process, 0 if unknown */

    /* chain */
    char chain_id[LN_CHAIN_ID_MAX + 1];
    uint64_t height0;
    char tag[5], token[LN_NAME_MAX + 1];
    ln_key funder_key;
    sender *s;

    /* transfers: JSON pieces while signing, then batch bodies */
    char **piece;
    size_t *piece_len;
    uint8_t (*id)[LN_HASH_LEN];
    char **body;
    size_t *body_len;
    size_t nbatches;
    double *sent_at;             /* per batch */
    double *committed_at;        /* per transfer; 0 until seen */
    uint8_t *refused;            /* per transfer */

    /* shared counters */
    atomic_size_t next;
    atomic_size_t submitted, accepted, nrefused, nfailed, nverified;
    atomic_int submit_done;
    pthread_mutex_t mu;
    char first_refusal[512];
    char first_failure[512];
    pthread_cond_t go_cv;        /* the start gate of the submitters */
    int go;
};

static void note(bench *b, char *slot, const char *fmt, ...)
{
    pthread_mutex_lock(&b->mu);
    if (!slot[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(slot, 512, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&b->mu);
}

/* ---- JSON-RPC ---------------------------------------------------------- */

#define jstr ln_rpcc_str
#define juint ln_rpcc_uint

/* Posts a JSON text; *reply is the parsed body (the caller's). 0 or 1 with
** the error printed. */
static int post_json(ln_rpcc *k, const char *what, const char *body, cJSON **reply)
{
    char err[600];
    if (ln_rpcc_post(k, what, body, strlen(body), reply, err, sizeof err) < 0)
        return failf("%s", err);
    return 0;
}

/* One call; *result is the caller's. 0 or 1 with the error printed. */
static int rpc1(ln_rpcc *k, const char *method, cJSON *params, cJSON **result)
{
    char err[600];
    if (ln_rpcc_call(k, method, params, result, err, sizeof err) < 0)
        return failf("%s", err);
    return 0;
}

#define by_id ln_rpcc_by_id
#define rpc_errtext ln_rpcc_errtext

/* ---- transactions ------------------------------------------------------ */

enum { A_DEPLOY, A_NEWACCOUNT, A_PAY, A_TOKEN };

typedef struct {
    int kind;
    const char *name;            /* the account it concerns */
    uint64_t amount;
    const uint8_t *pk;           /* A_NEWACCOUNT */
} action;

#define pack_s ln_pack_strn
#define PACK_LIT(pk, s) ln_pack_strn(pk, s, sizeof s - 1)

static void pack_action(msgpack_packer *pk, const bench *b, const action *a,
                        const char *src, size_t srclen)
{
    msgpack_pack_map(pk, 3);
    PACK_LIT(pk, "args");
    switch (a->kind) {
    case A_DEPLOY:
        msgpack_pack_array(pk, 4);
        pack_s(pk, b->token, strlen(b->token));
        pack_s(pk, src, srclen);
        PACK_LIT(pk, "BENCH");
        msgpack_pack_uint64(pk, a->amount);
        break;
    case A_NEWACCOUNT:
        msgpack_pack_array(pk, 2);
        pack_s(pk, a->name, strlen(a->name));
        msgpack_pack_bin(pk, LN_PK_LEN);
        msgpack_pack_bin_body(pk, a->pk, LN_PK_LEN);
        break;
    default:
        msgpack_pack_array(pk, 2);
        pack_s(pk, a->name, strlen(a->name));
        msgpack_pack_uint64(pk, a->amount);
        break;
    }
    PACK_LIT(pk, "contract");
    if (a->kind == A_TOKEN) pack_s(pk, b->token, strlen(b->token));
    else PACK_LIT(pk, "sys");
    PACK_LIT(pk, "method");
    switch (a->kind) {
    case A_DEPLOY: PACK_LIT(pk, "deploy"); break;
    case A_NEWACCOUNT: PACK_LIT(pk, "newaccount"); break;
    default: PACK_LIT(pk, "transfer"); break;
    }
}

/* Packs {account, actions, chain_id, expires, max_fee, nonce}, signs it with
** sk and gives the base64 of the signed encoding (malloc()ed) and the id. */
static int make_tx(const bench *b, const char *account, uint64_t nonce, uint64_t max_fee,
                   const action *acts, size_t nacts, const char *src, size_t srclen,
                   const uint8_t sk[LN_SK_LEN], char **b64, uint8_t id[LN_HASH_LEN])
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    ln_sbuffer_init(&sb, 512 + srclen);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    PACK_LIT(&pk, "account");
    pack_s(&pk, account, strlen(account));
    PACK_LIT(&pk, "actions");
    msgpack_pack_array(&pk, nacts);
    for (size_t i = 0; i < nacts; i++) pack_action(&pk, b, &acts[i], src, srclen);
    PACK_LIT(&pk, "chain_id");
    pack_s(&pk, b->chain_id, strlen(b->chain_id));
    PACK_LIT(&pk, "expires");
    msgpack_pack_uint64(&pk, b->height0 + EXPIRES_AFTER);
    PACK_LIT(&pk, "max_fee");
    msgpack_pack_uint64(&pk, max_fee);
    PACK_LIT(&pk, "nonce");
    msgpack_pack_uint64(&pk, nonce);

    uint8_t *stx = NULL;
    size_t slen = 0;
    int rc = ln_codec_check((const uint8_t *)sb.data, sb.size);
    if (rc == 0) {
        ln_hash(sb.data, sb.size, id);
        rc = ln_tx_sign((const uint8_t *)sb.data, sb.size, (const uint8_t (*)[LN_SK_LEN])sk, 1,
                        &stx, &slen);
    }
    msgpack_sbuffer_destroy(&sb);
    if (rc < 0) return rc;
    size_t blen = sodium_base64_ENCODED_LEN(slen, sodium_base64_VARIANT_ORIGINAL);
    *b64 = malloc(blen);
    if (*b64) sodium_bin2base64(*b64, blen, stx, slen, sodium_base64_VARIANT_ORIGINAL);
    free(stx);
    return *b64 ? 0 : LN_ENOMEM;
}

/* Height from GET /health; -1 on failure. */
static long long health(ln_rpcc *k, char *err, size_t errlen)
{
    ln_httpc_response res = { 0, NULL, 0 };
    if (ln_rpcc_get(k, "/health", &res, err, errlen) < 0) return -1;
    const char *h = strstr(res.body, "\"height\":");
    long long height = h ? strtoll(h + 9, NULL, 10) : -1;
    if (res.status != 200 || !h) snprintf(err, errlen, "GET /health: HTTP %d", res.status);
    ln_httpc_response_free(&res);
    return res.status == 200 ? height : -1;
}

/* ---- setup: token and senders ------------------------------------------ */

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return failf("cannot read %s: %s", path, strerror(errno));
    char *buf = malloc(LN_TX_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, LN_TX_MAX_BYTES, f) : 0;
    fclose(f);
    if (!buf) return failf("out of memory");
    if (n == 0 || n >= LN_TX_MAX_BYTES - 1024 || !ln_utf8_valid((uint8_t *)buf, n)) {
        free(buf);
        return failf("%s: not a contract source of a sane size", path);
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

/* Waits until every hash in ids is committed with receipt.ok; 0 or 1. */
static int wait_receipts(ln_rpcc *k, char (*hex)[2 * LN_HASH_LEN + 1], size_t n, double timeout_s)
{
    double end = now_s() + timeout_s;
    for (;;) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++) {
            cJSON *p = cJSON_CreateObject();
            cJSON_AddStringToObject(p, "hash", hex[i]);
            cJSON_AddItemToArray(arr, ln_rpcc_item((double)i, "tx_get", p));
        }
        char *body = cJSON_PrintUnformatted(arr);
        cJSON_Delete(arr);
        cJSON *reply;
        int rc = body ? post_json(k, "tx_get", body, &reply) : failf("out of memory");
        free(body);
        if (rc) return rc;
        size_t done = 0;
        for (size_t i = 0; i < n; i++) {
            const cJSON *it = by_id(reply, (double)i);
            const cJSON *res = cJSON_GetObjectItemCaseSensitive(it, "result");
            const char *st = jstr(res, "status");
            if (!st || (strcmp(st, "committed") && strcmp(st, "final"))) continue;
            const cJSON *rcpt = cJSON_GetObjectItemCaseSensitive(res, "receipt");
            if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rcpt, "ok"))) {
                const char *why = jstr(rcpt, "error");
                failf("setup transaction %s failed: %s", hex[i], why ? why : "(no error text)");
                cJSON_Delete(reply);
                return 1;
            }
            done++;
        }
        cJSON_Delete(reply);
        if (done == n) return 0;
        if (now_s() > end)
            return failf("setup: %zu of %zu transactions committed after %.0f s", done, n,
                         timeout_s);
        sleep_ms(20);
    }
}

static int setup(bench *b, ln_rpcc *k)
{
    cJSON *info = NULL, *acct = NULL;
    char path[PATH_MAX], why[256];
    int rc = 1;

    /* funder key, chain, a fresh tag for every name this run makes */
    snprintf(path, sizeof path, "%s/keys/%s.key", b->home, b->funder);
    if (ln_keyfile_read(path, &b->funder_key, why, sizeof why) < 0)
        return failf("%s: %s", path, why);
    if (rpc1(k, "chain_info", NULL, &info)) return 1;
    const char *cid = jstr(info, "chain_id");
    if (!cid || strlen(cid) > LN_CHAIN_ID_MAX || juint(info, "height", &b->height0) < 0) {
        cJSON_Delete(info);
        return failf("chain_info: no chain_id or height");
    }
    snprintf(b->chain_id, sizeof b->chain_id, "%s", cid);
    cJSON_Delete(info);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "account", b->funder);
    if (rpc1(k, "account_get", p, &acct)) return 1;
    uint64_t fnonce, fbal;
    if (juint(acct, "nonce", &fnonce) < 0 || juint(acct, "balance", &fbal) < 0) {
        cJSON_Delete(acct);
        return failf("account_get %s: no nonce or balance", b->funder);
    }
    cJSON_Delete(acct);
    /* Stake-priced models serve staked accounts only. */
    if (b->pricing && ln__bench_stake(k, b->chain_id, b->height0 + EXPIRES_AFTER, 1, b->funder, 0,
                                      b->funder_key.sk, 0, &fnonce))
        return 1;
    fnonce += b->pricing != NULL;

    uint8_t rnd[4];
    randombytes_buf(rnd, sizeof rnd);
    for (int i = 0; i < 4; i++) b->tag[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[rnd[i] % 36];
    b->tag[4] = 0;
    snprintf(b->token, sizeof b->token, "bt%s", b->tag);

    uint64_t need = 0;
    for (long i = 0; i < b->nsenders; i++) {
        sender *s = &b->s[i];
        char idx[16];
        base36((uint64_t)i, idx);
        snprintf(s->name, sizeof s->name, "s%.4s%.7s", b->tag, idx);
        ln_keypair(s->pk, s->sk);
        s->ntx = (uint64_t)(b->ntx / b->nsenders + (i < b->ntx % b->nsenders));
        need += (s->ntx + 2) * BENCH_MAX_FEE;
    }
    if (b->pricing) need += ((uint64_t)b->ntx + 2) * BENCH_MAX_FEE;   /* the token's */
    size_t maxacts = 2 + 3 * (size_t)b->nsenders;
    size_t maxtx = (maxacts + LN_TX_MAX_ACTIONS - 1) / LN_TX_MAX_ACTIONS;
    if (fbal < need + maxtx * SETUP_MAX_FEE)
        return failf("%s has %llu, the senders' fees need %llu", b->funder,
                     (unsigned long long)fbal, (unsigned long long)(need + maxtx * SETUP_MAX_FEE));

    char *src = NULL;
    size_t srclen = 0;
    if (read_file(b->token_file, &src, &srclen)) return 1;

    /* one action list, cut into transactions of LN_TX_MAX_ACTIONS */
    action *acts = calloc(maxacts, sizeof *acts);
    char (*hex)[2 * LN_HASH_LEN + 1] = calloc(maxtx, sizeof *hex);
    char **b64 = calloc(maxtx, sizeof *b64);
    if (!acts || !hex || !b64) {
        failf("out of memory");
        goto out;
    }
    size_t na = 0;
    acts[na++] = (action){ A_DEPLOY, NULL, (uint64_t)b->ntx, NULL };
    if (b->pricing)                   /* for models where the contract pays */
        acts[na++] = (action){ A_PAY, b->token, ((uint64_t)b->ntx + 2) * BENCH_MAX_FEE, NULL };
    for (long i = 0; i < b->nsenders; i++) {
        sender *s = &b->s[i];
        acts[na++] = (action){ A_NEWACCOUNT, s->name, 0, s->pk };
        acts[na++] = (action){ A_PAY, s->name, (s->ntx + 2) * BENCH_MAX_FEE, NULL };
        if (s->ntx) acts[na++] = (action){ A_TOKEN, s->name, s->ntx, NULL };
    }
    size_t ntx = 0;
    for (size_t a = 0; a < na; a += LN_TX_MAX_ACTIONS, ntx++) {
        size_t cnt = na - a < LN_TX_MAX_ACTIONS ? na - a : LN_TX_MAX_ACTIONS;
        uint8_t id[LN_HASH_LEN];
        int r = make_tx(b, b->funder, fnonce + ntx, SETUP_MAX_FEE, acts + a, cnt,
                        src, srclen, b->funder_key.sk, &b64[ntx], id);
        if (r < 0) {
            failf("cannot build setup transaction %zu: %s", ntx, ln_strerror(r));
            goto out;
        }
        ln_hex(id, LN_HASH_LEN, hex[ntx]);
    }

    /* submit them in batches, then wait for the receipts */
    for (size_t c0 = 0; c0 < ntx; c0 += RPC_MAX_BATCH) {
        size_t c1 = c0 + RPC_MAX_BATCH < ntx ? c0 + RPC_MAX_BATCH : ntx;
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = c0; i < c1; i++) {
            cJSON *pp = cJSON_CreateObject();
            cJSON_AddStringToObject(pp, "tx", b64[i]);
            cJSON_AddItemToArray(arr, ln_rpcc_item((double)i, "tx_submit", pp));
        }
        char *body = cJSON_PrintUnformatted(arr);
        cJSON_Delete(arr);
        cJSON *reply = NULL;
        if (!body || post_json(k, "tx_submit", body, &reply)) {
            free(body);
            if (!body) failf("out of memory");
            goto out;
        }
        free(body);
        for (size_t i = c0; i < c1; i++) {
            const cJSON *it = by_id(reply, (double)i);
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(it, "error");
            if (!it || (e && !cJSON_IsNull(e))) {
                char t[400] = "no reply";
                if (e) rpc_errtext(e, t, sizeof t);
                failf("setup transaction %zu refused: %s", i, t);
                cJSON_Delete(reply);
                goto out;
            }
        }
        cJSON_Delete(reply);
    }
    for (size_t c0 = 0; c0 < ntx; c0 += RPC_MAX_BATCH)
        if (wait_receipts(k, hex + c0, ntx - c0 < RPC_MAX_BATCH ? ntx - c0 : RPC_MAX_BATCH, 60))
            goto out;

    if (b->pricing && ln__bench_stake(k, b->chain_id, b->height0 + EXPIRES_AFTER, (size_t)b->nsenders,
                                      b->s[0].name, sizeof *b->s, b->s[0].sk, sizeof *b->s, NULL))
        goto out;
    /* the senders' nonces (0 on a fresh account, but read them) */
    for (long i = 0; i < b->nsenders; i++) {
        p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "account", b->s[i].name);
        if (rpc1(k, "account_get", p, &acct)) goto out;
        int bad = juint(acct, "nonce", &b->s[i].base) < 0;
        cJSON_Delete(acct);
        if (bad) {
            failf("account_get %s: no nonce", b->s[i].name);
            goto out;
        }
    }
    if (!b->json)
        fprintf(stderr, "bench: token %s deployed, %ld senders funded in %zu transactions\n",
                b->token, b->nsenders, ntx);
    rc = 0;
out:
    if (b64)
        for (size_t i = 0; i < maxtx; i++) free(b64[i]);
    free(b64);
    free(hex);
    free(acts);
    free(src);
    return rc;
}

/* ---- signing (not timed) ----------------------------------------------- */

static void *sign_main(void *arg)
{
    worker *w = arg;
    bench *b = w->b;
    for (size_t k = w->lo; k < w->hi; k++) {
        sender *s = &b->s[k % (size_t)b->nsenders];
        char to[LN_NAME_MAX + 1], idx[16], *b64;
        base36(k, idx);
        snprintf(to, sizeof to, "r%.4s%.7s", b->tag, idx);
        action a = { A_TOKEN, to, 1, NULL };
        int rc = make_tx(b, s->name, s->base + k / (size_t)b->nsenders, BENCH_MAX_FEE, &a, 1,
                         NULL, 0, s->sk, &b64, b->id[k]);
        if (rc < 0) {
            w->rc = rc;
            return NULL;
        }
        size_t n = strlen(b64) + 96;
        b->piece[k] = malloc(n);
        if (!b->piece[k]) {
            free(b64);
            w->rc = LN_ENOMEM;
            return NULL;
        }
        int l = snprintf(b->piece[k], n,
                         "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"tx_submit\","
                         "\"params\":{\"tx\":\"%s\"}}", k, b64);
        b->piece_len[k] = (size_t)l;
        free(b64);
    }
    return NULL;
}

static int sign_all(bench *b)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nt = ncpu > 0 ? (size_t)ncpu : 2, M = (size_t)b->ntx;
    if (nt > M) nt = M;
    worker *w = calloc(nt, sizeof *w);
    if (!w) return failf("out of memory");
    for (size_t i = 0; i < nt; i++) {
        w[i].b = b;
        w[i].lo = M * i / nt;
        w[i].hi = M * (i + 1) / nt;
        if (pthread_create(&w[i].th, NULL, sign_main, &w[i]) != 0) {
            sign_main(&w[i]);
            w[i].th = 0;
        }
    }
    int rc = 0;
    for (size_t i = 0; i < nt; i++) {
        if (w[i].th) pthread_join(w[i].th, NULL);
        if (w[i].rc < 0) rc = w[i].rc;
    }
    free(w);
    if (rc < 0) return failf("signing: %s", ln_strerror(rc));

    /* batch bodies: "[" piece "," piece ... "]" */
    size_t B = (size_t)b->batch;
    b->nbatches = (M + B - 1) / B;
    b->body = calloc(b->nbatches, sizeof *b->body);
    b->body_len = calloc(b->nbatches, sizeof *b->body_len);
    b->sent_at = calloc(b->nbatches, sizeof *b->sent_at);
    if (!b->body || !b->body_len || !b->sent_at) return failf("out of memory");
    for (size_t i = 0; i < b->nbatches; i++) {
        size_t lo = i * B, hi = lo + B < M ? lo + B : M, n = 2;
        for (size_t k = lo; k < hi; k++) n += b->piece_len[k] + 1;
        char *p = b->body[i] = malloc(n + 1);
        if (!p) return failf("out of memory");
        *p++ = '[';
        for (size_t k = lo; k < hi; k++) {
            if (k > lo) *p++ = ',';
            memcpy(p, b->piece[k], b->piece_len[k]);
            p += b->piece_len[k];
            free(b->piece[k]);
            b->piece[k] = NULL;
        }
        *p++ = ']';
        *p = 0;
        b->body_len[i] = (size_t)(p - b->body[i]);
    }
    return 0;
}

/* ---- submission (timed) ------------------------------------------------ */

/* Counts transfers [lo, hi) of a batch accepted or refused by the reply;
** notes the first reason. */
static void batch_result(bench *b, size_t lo, size_t hi, const cJSON *reply)
{
    size_t bad = 0;
    for (size_t k = lo; k < hi; k++) {
        const cJSON *it = cJSON_IsArray(reply) ? by_id(reply, (double)k) : NULL;
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(it, "error");
        if (it && cJSON_GetObjectItemCaseSensitive(it, "result") && !e) continue;
        char t[400] = "no reply for it";
        if (e) rpc_errtext(e, t, sizeof t);
        char hx[2 * LN_HASH_LEN + 1];
        ln_hex(b->id[k], LN_HASH_LEN, hx);
        note(b, b->first_refusal, "transfer %zu (%s): %s", k, hx, t);
        b->refused[k] = 1;
        bad++;
    }
    atomic_fetch_add(&b->nrefused, bad);
    atomic_fetch_add(&b->accepted, (hi - lo) - bad);
}

static void *submit_main(void *arg)
{
    worker *w = arg;
    bench *b = w->b;
    char err[256];
    pthread_mutex_lock(&b->mu);
    while (!b->go) pthread_cond_wait(&b->go_cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
    for (;;) {
        size_t i = atomic_fetch_add(&b->next, 1);
        if (i >= b->nbatches) break;
        size_t lo = i * (size_t)b->batch, hi = lo + (size_t)b->batch;
        if (hi > (size_t)b->ntx) hi = (size_t)b->ntx;
        if (b->rate) {                 /* batch i leaves at its slot, not before */
            double wait = b->go_at + (double)lo / (double)b->rate - now_s();
            if (wait > 0) usleep((useconds_t)(wait * 1e6));
        }
        cJSON *reply = NULL;
        b->sent_at[i] = now_s();
        int rc = ln_rpcc_post(w->rpc, "tx_submit", b->body[i], b->body_len[i], &reply,
                              err, sizeof err);
        if (rc < 0) {
            note(b, b->first_refusal, "batch %zu: %s", i, err);
            for (size_t k = lo; k < hi; k++) b->refused[k] = 1;
            atomic_fetch_add(&b->nrefused, hi - lo);
        } else {
            batch_result(b, lo, hi, reply);
        }
        cJSON_Delete(reply);
        atomic_fetch_add(&b->submitted, hi - lo);
        w->done_at = now_s();
    }
    return NULL;
}

/* ---- commit tracking (the main thread, during the window) -------------- */

/* Reads every sender's nonce (account_get batches) and stamps the transfers
** newly below it with now. Returns how many were new, or -1. */
static long poll_nonces(bench *b, ln_rpcc *k)
{
    long fresh = 0;
    for (long lo = 0; lo < b->nsenders; lo += RPC_MAX_BATCH) {
        long hi = lo + RPC_MAX_BATCH < b->nsenders ? lo + RPC_MAX_BATCH : b->nsenders;
        size_t cap = (size_t)(hi - lo) * 160 + 4, n = 0;
        char *body = malloc(cap);
        if (!body) return -1;
        body[n++] = '[';
        for (long i = lo; i < hi; i++)
            n += (size_t)snprintf(body + n, cap - n,
                                  "%s{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"account_get\","
                                  "\"params\":{\"account\":\"%s\"}}",
                                  i > lo ? "," : "", i, b->s[i].name);
        body[n++] = ']';
        body[n] = 0;
        cJSON *reply;
        int rc = post_json(k, "account_get", body, &reply);
        free(body);
        if (rc) return -1;
        double t = now_s();
        for (long i = lo; i < hi; i++) {
            const cJSON *res = cJSON_GetObjectItemCaseSensitive(by_id(reply, (double)i), "result");
            uint64_t nonce;
            if (juint(res, "nonce", &nonce) < 0) continue;
            sender *s = &b->s[i];
            uint64_t seen = nonce > s->base ? nonce - s->base : 0;
            if (seen > s->ntx) seen = s->ntx;
            for (uint64_t j = s->seen; j < seen; j++) {
                size_t kk = (size_t)(j * (uint64_t)b->nsenders + (uint64_t)i);
                if (b->committed_at[kk] == 0) b->committed_at[kk] = t;
            }
            if (seen > s->seen) {
                fresh += (long)(seen - s->seen);
                s->seen = seen;
            }
        }
        cJSON_Delete(reply);
    }
    return fresh;
}

/* ---- verification (after the window) ----------------------------------- */

static void *verify_main(void *arg)
{
    worker *w = arg;
    bench *b = w->b;
    size_t B = (size_t)b->batch;
    char err[256], *body = malloc(B * 160 + 4);
    if (!body) {
        w->rc = LN_ENOMEM;
        return NULL;
    }
    for (;;) {
        size_t i = atomic_fetch_add(&b->next, 1);
        if (i >= b->nbatches) break;
        size_t lo = i * B, hi = lo + B < (size_t)b->ntx ? lo + B : (size_t)b->ntx, n = 0;
        body[n++] = '[';
        for (size_t k = lo; k < hi; k++) {
            char hx[2 * LN_HASH_LEN + 1];
            ln_hex(b->id[k], LN_HASH_LEN, hx);
            n += (size_t)sprintf(body + n, "%s{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":"
                                 "\"tx_get\",\"params\":{\"hash\":\"%s\"}}",
                                 k > lo ? "," : "", k, hx);
        }
        body[n++] = ']';
        body[n] = 0;
        cJSON *reply = NULL;
        if (ln_rpcc_post(w->rpc, "tx_get", body, n, &reply, err, sizeof err) < 0)
            note(b, b->first_failure, "%s", err);
        size_t bad = 0;
        for (size_t k = lo; k < hi; k++) {
            if (b->refused[k]) continue;             /* counted as refused */
            const cJSON *res = cJSON_GetObjectItemCaseSensitive(by_id(reply, (double)k), "result");
            const char *st = jstr(res, "status");
            const cJSON *rc = cJSON_GetObjectItemCaseSensitive(res, "receipt");
            if (st && (!strcmp(st, "committed") || !strcmp(st, "final")) &&
                cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rc, "ok")))
                continue;
            char hx[2 * LN_HASH_LEN + 1];
            ln_hex(b->id[k], LN_HASH_LEN, hx);
            const char *why = jstr(rc, "error");
            note(b, b->first_failure, "transfer %zu (%s): status %s%s%s", k, hx,
                 st ? st : "?", why ? ", error: " : "", why ? why : "");
            bad++;
        }
        cJSON_Delete(reply);
        atomic_fetch_add(&b->nfailed, bad);
        atomic_fetch_add(&b->nverified, hi - lo);
    }
    free(body);
    return NULL;
}

/* ---- report ------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (nearest rank) of sorted v[0..n). */
static double quantile(const double *v, size_t n, double q)
{
    if (!n) return 0;
    size_t r = (size_t)ceil(q * (double)n);
    return v[r ? r - 1 : 0];
}

/* ---- the command ------------------------------------------------------- */

/* 0, or 2 with the usage error printed. */
static int parse_args(bench *b, int argc, char **argv, ln_args *a)
{
    char why[256];
    if (ln_opts_parse(options, argc, argv, a, why, sizeof why) < 0) {
        fprintf(stderr, "lunet bench: %s (see lunet bench --help)\n", why);
        return 2;
    }
    if (a->npos) {
        fprintf(stderr, "lunet bench: unexpected argument '%s' (see lunet bench --help)\n",
                a->pos[0]);
        return 2;
    }
    b->ntx = (long)ln_args_uint(a, "count", 20000);
    b->nsenders = (long)ln_args_uint(a, "senders", 50);
    b->conns = (long)ln_args_uint(a, "conns", 8);
    b->batch = (long)ln_args_uint(a, "batch", 100);
    b->rate = (long)ln_args_uint(a, "rate", 0);
    b->timeout_s = (long)ln_args_uint(a, "timeout", 120);
    b->pid = (pid_t)ln_args_uint(a, "pid", 0);
    b->rpc = ln_args_str(a, "rpc", NULL);
    b->home = ln_args_str(a, "home", NULL);
    b->funder = ln_args_str(a, "as", "alice");
    b->token_file = ln_args_str(a, "token", NULL);
    b->perf_file = ln_args_str(a, "perf", NULL);
    b->keep = ln_args_flag(a, "keep");
    b->json = ln_args_flag(a, "json");
    if (!ln_name_valid(b->funder, strlen(b->funder))) {
        fprintf(stderr, "lunet bench: --as '%s' is not an account name\n", b->funder);
        return 2;
    }
    b->pricing = ln_args_str(a, "pricing", NULL);
    b->pricing_params = ln_args_str(a, "pricing-params", NULL);
    if ((b->pricing || b->pricing_params) && (b->rpc || !b->pricing)) {
        fprintf(stderr, "lunet bench: --pricing FILE is for its own node (not with --rpc)\n");
        return 2;
    }
    if (b->pricing_params && ln__bench_params_check(b->pricing_params)) return 2;
    if (b->pid && !b->rpc) {
        fprintf(stderr, "lunet bench: --pid goes with --rpc (its own node's pid is known)\n");
        return 2;
    }
    return 0;
}

int ln_cmd_bench(int argc, char **argv)
{
    if (ln_opts_wants_help(argc, argv)) {
        fputs(usage, stdout);
        ln_opts_usage(stdout, options);
        return 0;
    }
    bench *b = calloc(1, sizeof *b);
    if (!b) return failf("out of memory");
    ln_args args;
    int status = parse_args(b, argc, argv, &args);
    if (status) {
        ln_args_free(&args);
        free(b);
        return status;
    }
    status = 1;
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->go_cv, NULL);

    char home[PATH_MAX] = "", token[PATH_MAX], config[PATH_MAX], rpcurl[64];
    int have_config = 0;
    pid_t perf = 0;
    worker *w = NULL;
    ln_rpcc *kc = NULL;

    if (!b->token_file) {
        if (ln_path_find("contracts/token.lua", token, sizeof token) < 0) {
            failf("cannot find contracts/token.lua (run in the source tree or use --token)");
            goto out;
        }
        b->token_file = token;
    }

    /* the node: ours or the one at --rpc */
    if (!b->rpc) {
        snprintf(home, sizeof home, "/tmp/lunet-bench-XXXXXX");
        if (!mkdtemp(home)) {
            failf("cannot create a temporary home: %s", strerror(errno));
            home[0] = 0;
            goto out;
        }
        int port = ln_proc_free_port(), p2p = ln_proc_free_port();
        if (port < 0 || p2p < 0) {
            failf("no free port on 127.0.0.1");
            goto out;
        }
        if (access("configs/dev.lua", R_OK) != 0 &&
            ln_path_find("configs/dev.lua", config, sizeof config) == 0)
            have_config = 1;
        char rpcaddr[32], p2paddr[32];
        snprintf(rpcaddr, sizeof rpcaddr, "127.0.0.1:%d", port);
        snprintf(p2paddr, sizeof p2paddr, "127.0.0.1:%d", p2p);
        snprintf(rpcurl, sizeof rpcurl, "http://%s", rpcaddr);
        b->rpc = rpcurl;
        b->home = home;
        b->own_node = 1;
        if (b->pricing) {
            char cfg[PATH_MAX];
            if (ln__bench_config(have_config ? config : "configs/dev.lua", b->pricing,
                                 b->pricing_params, home, cfg, sizeof cfg))
                goto out;
            snprintf(config, sizeof config, "%s", cfg);
            have_config = 1;
        }
        b->pid = ln_proc_start_node(home, rpcaddr, p2paddr, have_config ? config : NULL);
        if (b->pid < 0) {
            b->pid = 0;
            failf("fork: %s", strerror(errno));
            goto out;
        }
    } else if (!b->home) {
        b->home = LN_CLI_DEFAULT_HOME;
    }
    char err[600];
    if (ln_rpcc_open(b->rpc, RPC_TIMEOUT_MS, &kc, err, sizeof err) < 0) {
        status = 2;
        failf("--rpc: %s", err);
        goto out;
    }
    if (b->own_node) {
        double end = now_s() + NODE_START_S;
        while (health(kc, err, sizeof err) < 0) {
            if (waitpid(b->pid, NULL, WNOHANG) == b->pid) {
                b->pid = 0;
                failf("the node exited at start");
                ln_proc_log_tail(home);
                goto out;
            }
            if (now_s() > end) {
                failf("the node did not answer on %s within %d s: %s", b->rpc, NODE_START_S,
                      err);
                ln_proc_log_tail(home);
                goto out;
            }
            sleep_ms(50);
        }
        if (!b->json)
            fprintf(stderr, "bench: node pid %d on %s, home %s\n", (int)b->pid, b->rpc, home);
    } else if (health(kc, err, sizeof err) < 0) {
        failf("%s: %s", b->rpc, err);
        goto out;
    }

    /* setup and signing */
    size_t M = (size_t)b->ntx;
    b->s = calloc((size_t)b->nsenders, sizeof *b->s);
    b->piece = calloc(M, sizeof *b->piece);
    b->piece_len = calloc(M, sizeof *b->piece_len);
    b->id = calloc(M, sizeof *b->id);
    b->committed_at = calloc(M, sizeof *b->committed_at);
    b->refused = calloc(M, 1);
    w = calloc((size_t)b->conns, sizeof *w);
    for (long i = 0; w && i < b->conns; i++)
        if (ln_rpcc_open(b->rpc, RPC_TIMEOUT_MS, &w[i].rpc, err, sizeof err) < 0) {
            failf("%s", err);
            goto out;
        }
    if (!b->s || !b->piece || !b->piece_len || !b->id || !b->committed_at || !b->refused || !w) {
        failf("out of memory");
        goto out;
    }
    double t_setup = now_s();
    long long h_setup = health(kc, err, sizeof err);
    if (setup(b, kc)) goto out;
    double setup_s = now_s() - t_setup;
    long long h_start = health(kc, err, sizeof err);
    double t_sign = now_s();
    if (sign_all(b)) goto out;
    double sign_s = now_s() - t_sign;
    free(b->piece);
    b->piece = NULL;
    if (!b->json)
        fprintf(stderr, "bench: setup %.2f s (%lld blocks), %zu transfers signed in %.2f s\n",
                setup_s, h_start - h_setup, M, sign_s);

    /* the timed window */
    if (b->perf_file && b->pid) {
        perf = ln_proc_start_perf(b->perf_file, b->pid);
        sleep_ms(500);                       /* let perf attach */
    }
    for (long i = 0; i < b->conns; i++) {
        w[i].b = b;
        if (health(w[i].rpc, err, sizeof err) < 0) {   /* connected before the window */
            failf("%s", err);
            goto out;
        }
    }
    long started = 0;
    while (started < b->conns && pthread_create(&w[started].th, NULL, submit_main,
                                                &w[started]) == 0)
        started++;
    if (started < b->conns) {
        failf("cannot start thread %ld of %ld", started + 1, b->conns);
        atomic_store(&b->next, b->nbatches);         /* nothing left for them */
    }
    long long cpu0 = b->pid ? ln_proc_cpu_ticks(b->pid) : -1;
    double self0 = ln_proc_self_cpu();
    double t0 = now_s();
    pthread_mutex_lock(&b->mu);
    b->go_at = t0;
    b->go = 1;
    pthread_cond_broadcast(&b->go_cv);
    pthread_mutex_unlock(&b->mu);
    if (started < b->conns) {
        for (long i = 0; i < started; i++) pthread_join(w[i].th, NULL);
        goto out;
    }

    double last_print = t0, t_end = t0, all_sent = 0, submit_end = 0, last_move = t0;
    long long height = h_start, h_end = h_start;
    size_t committed = 0;
    int poll_errors = 0;
    while (committed < M) {
        double t = now_s();
        size_t sub = atomic_load(&b->submitted);
        if (!all_sent && sub == M) all_sent = t;
        if (t - last_print >= 1.0) {
            last_print = t;
            fprintf(stderr, "bench: %6.1f s  submitted %zu/%zu  committed %zu  %.0f tx/s  "
                    "height %lld\n", t - t0, sub, M, committed,
                    committed / (t - t0 > 0 ? t - t0 : 1), height);
        }
        long long h = health(kc, err, sizeof err);
        if (h < 0) {
            if (++poll_errors > 100 || (b->own_node &&
                                        waitpid(b->pid, NULL, WNOHANG) == b->pid)) {
                failf("the node stopped answering: %s", err);
                if (b->own_node) ln_proc_log_tail(home);
                break;
            }
            sleep_ms(POLL_MS);
            continue;
        }
        poll_errors = 0;
        if (h != height) {
            height = h;
            long fresh = poll_nonces(b, kc);
            if (fresh < 0) break;
            if (fresh > 0) {
                committed += (size_t)fresh;
                t_end = last_move = now_s();
                h_end = h;
            }
            continue;
        }
        if (all_sent && t - all_sent > b->timeout_s) break;
        if (all_sent && atomic_load(&b->nrefused) && t - last_move > STALL_S) break;
        sleep_ms(POLL_MS);
    }
    long long cpu1 = b->pid ? ln_proc_cpu_ticks(b->pid) : -1;
    double self1 = ln_proc_self_cpu();
    if (perf > 0) {
        ln_proc_stop(perf, SIGINT, 30);
        perf = 0;
    }
    for (long i = 0; i < b->conns; i++) {
        pthread_join(w[i].th, NULL);
        if (w[i].done_at > submit_end) submit_end = w[i].done_at;
    }
    long hwm = b->pid ? ln_proc_status_kb(b->pid, "VmHWM") : -1;
    long rss = b->pid ? ln_proc_status_kb(b->pid, "VmRSS") : -1;

    /* every receipt */
    atomic_store(&b->next, 0);
    for (long i = 0; i < b->conns; i++) {
        w[i].rc = 0;
        if (pthread_create(&w[i].th, NULL, verify_main, &w[i]) != 0) {
            verify_main(&w[i]);
            w[i].th = 0;
        }
    }
    for (long i = 0; i < b->conns; i++)
        if (w[i].th) pthread_join(w[i].th, NULL);

    /* figures */
    double *lat = malloc((M ? M : 1) * sizeof *lat);
    size_t nl = 0;
    for (size_t k = 0; lat && k < M; k++)
        if (b->committed_at[k] > 0)
            lat[nl++] = (b->committed_at[k] - b->sent_at[k / (size_t)b->batch]) * 1000;
    if (lat) qsort(lat, nl, sizeof *lat, cmp_double);
    double secs = t_end - t0, tps = secs > 0 ? committed / secs : 0;
    double p50 = lat ? quantile(lat, nl, 0.50) : 0, p99 = lat ? quantile(lat, nl, 0.99) : 0;
    double lmax = nl ? lat[nl - 1] : 0;
    free(lat);
    long tck = sysconf(_SC_CLK_TCK);
    double node_cpu = cpu0 >= 0 && cpu1 >= 0 ? (double)(cpu1 - cpu0) / (double)tck : -1;
    double self_cpu = self1 - self0;
    size_t refused = atomic_load(&b->nrefused), failed = atomic_load(&b->nfailed);
    size_t uncommitted = M - committed;
    long long blocks = h_end - h_start;
    int ok = refused == 0 && failed == 0 && uncommitted == 0;

    if (b->json) {
        cJSON *o = cJSON_CreateObject(), *l = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "ok", ok);
        cJSON_AddNumberToObject(o, "txs", (double)M);
        cJSON_AddNumberToObject(o, "senders", (double)b->nsenders);
        cJSON_AddNumberToObject(o, "conns", (double)b->conns);
        cJSON_AddNumberToObject(o, "batch", (double)b->batch);
        cJSON_AddNumberToObject(o, "seconds", secs);
        cJSON_AddNumberToObject(o, "tps", tps);
        cJSON_AddNumberToObject(l, "p50", p50);
        cJSON_AddNumberToObject(l, "p99", p99);
        cJSON_AddNumberToObject(l, "max", lmax);
        cJSON_AddItemToObject(o, "latency_ms", l);
        cJSON_AddNumberToObject(o, "submit_seconds", submit_end ? submit_end - t0 : -1);
        cJSON_AddNumberToObject(o, "blocks", (double)blocks);
        if (node_cpu >= 0) {
            cJSON_AddNumberToObject(o, "node_cpu_seconds", node_cpu);
            cJSON_AddNumberToObject(o, "node_cpu_ms_per_tx", M ? node_cpu * 1000 / M : 0);
        }
        if (hwm >= 0) cJSON_AddNumberToObject(o, "node_peak_rss_mib", hwm / 1024.0);
        if (rss >= 0) cJSON_AddNumberToObject(o, "node_rss_mib", rss / 1024.0);
        cJSON_AddNumberToObject(o, "client_cpu_ms_per_tx", M ? self_cpu * 1000 / M : 0);
        cJSON_AddNumberToObject(o, "setup_seconds", setup_s);
        cJSON_AddNumberToObject(o, "sign_seconds", sign_s);
        cJSON_AddNumberToObject(o, "refused", (double)refused);
        cJSON_AddNumberToObject(o, "failed", (double)failed);
        cJSON_AddNumberToObject(o, "uncommitted", (double)uncommitted);
        char *s = cJSON_PrintUnformatted(o);
        if (s) puts(s);
        free(s);
        cJSON_Delete(o);
    } else {
        printf("lunet bench: %zu token transfers, %ld senders, %ld connections, batches of %ld\n",
               M, b->nsenders, b->conns, b->batch);
        printf("  throughput   %.0f tx/s  (%zu committed in %.3f s, %lld blocks, all "
               "submitted after %.3f s)\n", tps, committed, secs, blocks,
               submit_end ? submit_end - t0 : -1.0);
        printf("  latency      p50 %.1f ms  p99 %.1f ms  max %.1f ms  (batch sent -> seen "
               "committed)\n", p50, p99, lmax);
        if (node_cpu >= 0)
            printf("  node CPU     %.4f ms/tx  (%.2f s over the window, %.2f cores)\n",
                   M ? node_cpu * 1000 / M : 0, node_cpu, secs > 0 ? node_cpu / secs : 0);
        else
            printf("  node CPU     unknown (give --pid)\n");
        if (hwm >= 0)
            printf("  node memory  peak RSS %.1f MiB (VmHWM), now %.1f MiB\n", hwm / 1024.0,
                   rss / 1024.0);
        printf("  client CPU   %.4f ms/tx (this process, same window)\n",
               M ? self_cpu * 1000 / M : 0);
        printf("  refused %zu, failed %zu, uncommitted %zu\n", refused, failed, uncommitted);
    }
    fflush(stdout);
    if (b->first_refusal[0]) failf("first refusal: %s", b->first_refusal);
    if (b->first_failure[0]) failf("first failure: %s", b->first_failure);
    if (uncommitted && refused)
        failf("%zu transfers not seen committed (a refused nonce blocks its sender's later "
              "ones; gave up after %d s without progress)", uncommitted, STALL_S);
    else if (uncommitted)
        failf("%zu transfers not seen committed (timeout %ld s after the last submit)",
              uncommitted, b->timeout_s);
    status = ok ? 0 : 1;

out:
    if (perf > 0) ln_proc_stop(perf, SIGINT, 30);
    ln_rpcc_close(kc);
    for (long i = 0; w && i < b->conns; i++) ln_rpcc_close(w[i].rpc);
    if (b->own_node && b->pid > 0) ln_proc_stop(b->pid, SIGTERM, 15);
    if (home[0]) {
        if (status == 0 && !b->keep) ln_proc_rmtree(home);
        else failf("node home kept: %s (log in node.log)", home);
    }
    if (b->body)
        for (size_t i = 0; i < b->nbatches; i++) free(b->body[i]);
    if (b->piece)
        for (long i = 0; i < b->ntx; i++) free(b->piece[i]);
    if (b->s) sodium_memzero(b->s, (size_t)b->nsenders * sizeof *b->s);
    sodium_memzero(&b->funder_key, sizeof b->funder_key);
    free(b->piece);
    free(b->piece_len);
    free(b->body);
    free(b->body_len);
    free(b->sent_at);
    free(b->id);
    free(b->committed_at);
    free(b->refused);
    free(b->s);
    free(w);
    pthread_cond_destroy(&b->go_cv);
    pthread_mutex_destroy(&b->mu);
    ln_args_free(&args);
    free(b);
    return status;
}
