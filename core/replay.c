/* replay.c -- `lunet pricing replay` (see replay.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "replay.h"
#include "cli.h"
#include "codec.h"
#include "config.h"
#include "err.h"
#include "json.h"
#include "opts.h"
#include "pricing.h"
#include "quote.h"
#include "registry.h"
#include "rpcc.h"
#include "stake.h"

#define BATCH 100                       /* tx_get calls per JSON-RPC batch */
#define UNLIMITED (LN_SAFE_INT / 4)     /* a replayed account's balance */

static const char usage_text[] =
    "usage: lunet pricing replay FILE [--from H] [--to H] [--params JSON] [options]\n"
    "\n"
    "Runs the pricing model in FILE (a pricing plugin) over the usage the\n"
    "receipts of blocks H..H recorded, block by block as a node would run it,\n"
    "and prints for each payer and each contract called what it paid and what\n"
    "it would pay, and how many transactions the model would refuse. Blocks\n"
    "and receipts come from the node at --rpc. The model runs on a scratch\n"
    "state: the chain params and stakes as the node has them now, balances\n"
    "unlimited, its own state empty at --from.\n"
    "\n"
    "options:\n";

static const ln_opt options[] = {
    { "from", 0, LN_OPT_UINT, "H", 1, LN_SAFE_INT, "the first block (default 1)" },
    { "to", 0, LN_OPT_UINT, "H", 1, LN_SAFE_INT, "the last block (default the head)" },
    { "params", 0, LN_OPT_STR, "JSON", 0, 0, "the model's params, a JSON object (default {})" },
    { "rpc", 0, LN_OPT_STR, "URL", 0, 0, "the node (default " LN_CLI_DEFAULT_RPC ")" },
    { "json", 0, LN_OPT_FLAG, NULL, 0, 0, "print the result as one JSON object" },
    { NULL, 0, 0, NULL, 0, 0, NULL }
};

/* What one account (or contract) paid and would pay. */
typedef struct {
    char name[LN_NAME_MAX + 1];
    uint64_t txs, paid, would, refused;
} row;

typedef struct {
    row *r;
    size_t n, cap;
} rows;

/* The row of name, made on first use; rows stay sorted by name, so a row
** moves when another is made: use it at once. */
static row *row_of(rows *t, const char *name)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(t->r[mid].name, name);
        if (c == 0) return &t->r[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        row *r = realloc(t->r, cap * sizeof *r);
        if (!r) return NULL;
        t->r = r;
        t->cap = cap;
    }
    memmove(&t->r[lo + 1], &t->r[lo], (t->n - lo) * sizeof *t->r);
    memset(&t->r[lo], 0, sizeof *t->r);
    snprintf(t->r[lo].name, sizeof t->r[lo].name, "%s", name);
    t->n++;
    return &t->r[lo];
}

typedef struct {
    ln_rpcc *rpc;
    ln_state *st;
    ln_overlay *ov;
    uint8_t *total;                     /* the chain's "t" (total stake), raw; NULL: none */
    size_t total_len;
    rows payers, contracts;
    uint64_t ntx, refused, paid, would;
    char err[600];
} replay;

static int failf(replay *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int failf(replay *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    return -1;
}

/* The raw value of a state key at the node's head; NULL (0) when absent. */
static int state_raw(replay *r, const char *key, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    cJSON *p = cJSON_CreateObject(), *res = NULL;
    cJSON_AddStringToObject(p, "key", key);
    if (ln_rpcc_call(r->rpc, "state_get", p, &res, r->err, sizeof r->err) < 0) return -1;
    const char *raw = ln_rpcc_str(res, "raw");
    int rc = 0;
    if (raw && raw[0] == '0' && raw[1] == 'x') {
        size_t n = (strlen(raw) - 2) / 2;
        *out = malloc(n ? n : 1);
        if (!*out || ln_unhex(raw + 2, *out, n) < 0) rc = failf(r, "state_get %s: bad raw value", key);
        else *len = n;
    }
    cJSON_Delete(res);
    return rc;
}

/* name has an account in the scratch state: unlimited balance, its stake
** as the node has it now. */
static int ensure_account(replay *r, const char *name)
{
    if (!name[0] || ln_account_exists(r->ov, name)) return 0;
    ln_account a;
    memset(&a, 0, sizeof a);
    snprintf(a.name, sizeof a.name, "%s", name);
    a.balance = UNLIMITED;
    cJSON *p = cJSON_CreateObject(), *res = NULL;
    cJSON_AddStringToObject(p, "account", name);
    uint64_t stake = 0;
    if (ln_rpcc_call(r->rpc, "account_get", p, &res, NULL, 0) == 0) ln_rpcc_uint(res, "stake", &stake);
    cJSON_Delete(res);
    a.balance += stake;
    char why[160];
    int rc = ln_account_save(r->ov, &a);
    if (rc == 0 && stake) rc = ln_stake_bond(r->ov, name, stake, why, sizeof why);
    /* Shares are of the chain's total, not of the stakes seen so far. */
    if (rc == 0 && r->total) rc = ln_overlay_set(r->ov, (const uint8_t *)"t", 1, r->total, r->total_len);
    return rc < 0 ? failf(r, "scratch account %s: %s", name, ln_strerror(rc)) : 0;
}

/* The transaction of a block_get item, decoded as the node decoded it;
** *bytes (what it points into) is the caller's to free after it. */
static int tx_of(replay *r, const cJSON *j, ln_tx *tx, uint8_t **bytes)
{
    *bytes = NULL;
    static const char *const fields[] = { "account", "actions", "chain_id", "expires", "max_fee", "nonce" };
    cJSON *u = cJSON_CreateObject();
    for (int i = 0; u && i < 6; i++) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, fields[i]);
        if (!f) {
            cJSON_Delete(u);
            return failf(r, "a block's transaction has no %s", fields[i]);
        }
        cJSON_AddItemToObject(u, fields[i], cJSON_Duplicate(f, 1));
    }
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = u ? ln_json_pack(u, &pk) : LN_ENOMEM;
    cJSON_Delete(u);
    size_t len = 0;
    uint8_t *b = rc == 0 ? ln_quote_blank_signed((const uint8_t *)sb.data, sb.size, &len) : NULL;
    msgpack_sbuffer_destroy(&sb);
    if (!b) return failf(r, "a block's transaction does not encode: %s", ln_strerror(rc ? rc : LN_EINVAL));
    rc = ln_tx_decode(tx, b, len);
    if (rc < 0) {
        failf(r, "a block's transaction does not decode: %s", tx->why);
        ln_tx_free(tx);
        free(b);
        return -1;
    }
    *bytes = b;
    return 0;
}

static uint64_t num(const cJSON *o, const char *k)
{
    uint64_t v = 0;
    ln_rpcc_uint(o, k, &v);
    return v;
}

/* The usage a receipt recorded (gas_used and the size alone when it has
** none: a chain older than receipts' usage). */
static int usage_of(const cJSON *rc, const ln_tx *tx, ln_usage *u)
{
    memset(u, 0, sizeof *u);
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(rc, "usage");
    u->gas = num(j ? j : rc, j ? "gas" : "gas_used");
    u->tx_bytes = j ? num(j, "tx_bytes") : tx->size;
    if (!j) return 0;
    u->storage_added = num(j, "storage_added");
    u->storage_freed = num(j, "storage_freed");
    u->mem_peak = num(j, "mem_peak");
    u->calls = num(j, "calls");
    u->events_bytes = num(j, "events_bytes");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "stored"), *e;
    size_t n = (size_t)cJSON_GetArraySize(st);
    if (!cJSON_IsObject(st) || !n) return 0;
    if (!(u->stored = calloc(n, sizeof *u->stored))) return LN_ENOMEM;
    cJSON_ArrayForEach(e, st) {
        if (!cJSON_IsNumber(e) || !ln_name_valid(e->string, strlen(e->string))) continue;
        snprintf(u->stored[u->nstored].contract, sizeof u->stored[0].contract, "%s", e->string);
        u->stored[u->nstored++].bytes = (int64_t)e->valuedouble;
    }
    return 0;
}

/* The receipts of a block's transactions, by tx_get in batches. */
static int receipts(replay *r, const cJSON *txs, cJSON ***out)
{
    int n = cJSON_GetArraySize(txs);
    cJSON **rs = calloc((size_t)n + 1, sizeof *rs);
    if (!rs) return failf(r, "out of memory");
    *out = rs;
    for (int i = 0; i < n; i += BATCH) {
        cJSON *arr = cJSON_CreateArray();
        for (int k = i; k < n && k < i + BATCH; k++) {
            cJSON *p = cJSON_CreateObject();
            const char *h = ln_rpcc_str(cJSON_GetArrayItem(txs, k), "hash");
            cJSON_AddStringToObject(p, "hash", h ? h : "");
            cJSON_AddItemToArray(arr, ln_rpcc_item((double)k, "tx_get", p));
        }
        char *body = cJSON_PrintUnformatted(arr);
        cJSON_Delete(arr);
        cJSON *reply = NULL;
        int rc = body ? ln_rpcc_post(r->rpc, "tx_get", body, strlen(body), &reply, r->err, sizeof r->err) : -1;
        free(body);
        if (rc < 0) return -1;
        for (int k = i; k < n && k < i + BATCH; k++) {
            const cJSON *item = ln_rpcc_by_id(reply, (double)k);
            const cJSON *res = cJSON_GetObjectItemCaseSensitive(item, "result");
            const cJSON *rec = cJSON_GetObjectItemCaseSensitive(res, "receipt");
            if (cJSON_IsObject(rec)) rs[k] = cJSON_Duplicate(rec, 1);
        }
        cJSON_Delete(reply);
    }
    return 0;
}

/* Adds to name's row; -1 when out of memory. */
static int add(rows *t, const char *name, uint64_t txs, uint64_t paid, uint64_t would, uint64_t refused)
{
    row *w = row_of(t, name);
    if (!w) return -1;
    w->txs += txs;
    w->paid += paid;
    w->would += would;
    w->refused += refused;
    return 0;
}

/* Replays block h. */
static int replay_block(replay *r, uint64_t h)
{
    cJSON *p = cJSON_CreateObject(), *blk = NULL, **rs = NULL;
    cJSON_AddNumberToObject(p, "height", (double)h);
    if (ln_rpcc_call(r->rpc, "block_get", p, &blk, r->err, sizeof r->err) < 0) return -1;
    const cJSON *hdr = cJSON_GetObjectItemCaseSensitive(blk, "header");
    const cJSON *txs = cJSON_GetObjectItemCaseSensitive(blk, "txs");
    const char *proposer = ln_rpcc_str(hdr, "proposer"), *prev = ln_rpcc_str(hdr, "prev");
    ln_blockinfo bi = { h, num(hdr, "time"), { 0 } };
    if (prev && strlen(prev) == 2 + 2 * LN_HASH_LEN) ln_unhex(prev + 2, bi.hash, LN_HASH_LEN);
    if (!proposer || !ln_name_valid(proposer, strlen(proposer))) proposer = "";
    int rc = receipts(r, txs, &rs);
    ln_pricing *pr = NULL;
    char why[320];
    if (rc == 0 && ensure_account(r, proposer) < 0) rc = -1;
    if (rc == 0 && ln_pricing_open(r->ov, &bi, proposer, &pr, why, sizeof why) < 0)
        rc = failf(r, "block %llu: %s", (unsigned long long)h, why);
    ln_usage totals;
    memset(&totals, 0, sizeof totals);
    uint64_t ntx = 0;
    for (int i = 0; rc == 0 && pr && i < cJSON_GetArraySize(txs); i++) {
        const cJSON *rec = rs[i];
        ln_tx tx;
        uint8_t *bytes = NULL;
        if (!rec || tx_of(r, cJSON_GetArrayItem(txs, i), &tx, &bytes) < 0) {
            if (!rec) failf(r, "block %llu: transaction %d has no receipt", (unsigned long long)h, i);
            rc = -1;
            break;
        }
        const char *c, *m;
        size_t cl, ml;
        const msgpack_object *args;
        ln_tx_action(&tx, 0, &c, &cl, &m, &ml, &args);
        char contract[LN_NAME_MAX + 1];
        snprintf(contract, sizeof contract, "%.*s", (int)cl, c);
        const char *payer = ln_rpcc_str(rec, "payer");
        uint64_t fee = num(rec, "fee");
        ln_usage u;
        if (usage_of(rec, &tx, &u) < 0 || ensure_account(r, tx.account) < 0 ||
            ensure_account(r, contract) < 0 || (payer && ensure_account(r, payer) < 0)) {
            ln_usage_free(&u);
            ln_tx_free(&tx);
            free(bytes);
            rc = -1;
            break;
        }
        tx.size = u.tx_bytes;
        int oom = (payer && add(&r->payers, payer, 1, fee, 0, 0) < 0) ||
                  add(&r->contracts, contract, 1, fee, 0, 0) < 0;
        r->paid += fee;
        r->ntx++;
        ln_account sender;
        uint64_t limit;
        ln_fee f;
        size_t d = ln_overlay_depth(r->ov);
        ln_overlay_begin(r->ov);
        int prc = ln_account_load(r->ov, tx.account, &sender);
        if (prc == 0) prc = ln_pricing_admit(pr, r->ov, &tx, &sender, &limit, why, sizeof why);
        if (prc == 0) prc = ln_pricing_charge(pr, r->ov, &tx, &u, &f, why, sizeof why);
        uint64_t taken = 0;
        if (prc == 0 && ensure_account(r, f.payer) == 0) prc = ln_pricing_pay(r->ov, &f, proposer, &taken);
        while (ln_overlay_depth(r->ov) > d) {
            if (prc == 0) ln_overlay_release(r->ov);
            else ln_overlay_revert(r->ov);
        }
        if (prc < 0) {
            oom |= add(&r->payers, tx.account, 0, 0, 0, 1) < 0 || add(&r->contracts, contract, 0, 0, 0, 1) < 0;
            r->refused++;
        } else {
            oom |= add(&r->payers, f.payer, 0, 0, taken, 0) < 0 || add(&r->contracts, contract, 0, 0, taken, 0) < 0;
            r->would += taken;
            totals.gas += u.gas;
            totals.storage_added += u.storage_added;
            totals.storage_freed += u.storage_freed;
            totals.tx_bytes += u.tx_bytes;
            totals.calls += u.calls;
            totals.events_bytes += u.events_bytes;
            if (u.mem_peak > totals.mem_peak) totals.mem_peak = u.mem_peak;
            ntx++;
        }
        if (oom) rc = failf(r, "out of memory");
        ln_usage_free(&u);
        ln_tx_free(&tx);
        free(bytes);
    }
    if (rc == 0 && pr) {
        ln_overlay_begin(r->ov);
        if (ln_pricing_block(pr, r->ov, &totals, ntx, why, sizeof why) < 0) ln_overlay_revert(r->ov);
        else ln_overlay_release(r->ov);
    }
    ln_pricing_free(pr);
    for (int i = 0; rs && i < cJSON_GetArraySize(txs); i++) cJSON_Delete(rs[i]);
    free(rs);
    cJSON_Delete(blk);
    if (rc == 0 && (rc = ln_stake_release(r->ov, h)) < 0) rc = failf(r, "stake: %s", ln_strerror(rc));
    return rc;
}

static void print_rows(FILE *out, const char *what, const rows *t, const char *count)
{
    fprintf(out, "  %-12s %10s %16s %16s %10s\n", what, count, "paid", "would pay", "refused");
    for (size_t i = 0; i < t->n; i++)
        fprintf(out, "  %-12s %10llu %16llu %16llu %10llu\n", t->r[i].name,
                (unsigned long long)t->r[i].txs, (unsigned long long)t->r[i].paid,
                (unsigned long long)t->r[i].would, (unsigned long long)t->r[i].refused);
}

static cJSON *rows_json(const rows *t, const char *key, const char *count)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < t->n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, key, t->r[i].name);
        cJSON_AddNumberToObject(o, count, (double)t->r[i].txs);
        cJSON_AddNumberToObject(o, "paid", (double)t->r[i].paid);
        cJSON_AddNumberToObject(o, "would_pay", (double)t->r[i].would);
        cJSON_AddNumberToObject(o, "refused", (double)t->r[i].refused);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

/* The scratch state: the model in the pricing slot, the chain's params
** and total stake. */
static int scratch(replay *r, const char *name, const char *code, size_t cl, const uint8_t *params,
                   size_t plen)
{
    int rc = ln_state_open(NULL, &r->st);
    if (rc == 0 && !(r->ov = ln_overlay_new(r->st))) rc = LN_ENOMEM;
    if (rc == 0) rc = ln_registry_install(r->ov, LN_SLOT_PRICING, name, code, cl, params, plen, 0);
    if (rc < 0) return failf(r, "scratch state: %s", ln_strerror(rc));
    uint8_t *q;
    size_t ql;
    if (state_raw(r, "q", &q, &ql) < 0 || state_raw(r, "t", &r->total, &r->total_len) < 0) return -1;
    if (q) rc = ln_overlay_set(r->ov, (const uint8_t *)"q", 1, q, ql);
    if (rc == 0 && r->total) rc = ln_overlay_set(r->ov, (const uint8_t *)"t", 1, r->total, r->total_len);
    free(q);
    return rc < 0 ? failf(r, "scratch state: %s", ln_strerror(rc)) : 0;
}

static int run(replay *r, const ln_args *a, const char *file, int json)
{
    char *code = NULL;
    size_t cl = 0;
    if (ln_file_read_max(file, LN_PLUGIN_CODE_MAX, &code, &cl) < 0)
        return failf(r, "cannot read %s (at most %u bytes)", file, LN_PLUGIN_CODE_MAX);
    char name[LN_PLUGIN_NAME_MAX + 1];
    size_t nl = ln_plugin_name_of(file, name, sizeof name);
    if (nl == 0 || nl > LN_PLUGIN_NAME_MAX) snprintf(name, sizeof name, "model");
    /* params: a JSON object, as canonical msgpack */
    msgpack_sbuffer psb;
    msgpack_packer ppk;
    msgpack_sbuffer_init(&psb);
    msgpack_packer_init(&ppk, &psb, msgpack_sbuffer_write);
    cJSON *pj = NULL;
    int rc = ln_json_arg(ln_args_str(a, "params", "{}"), &pj, r->err, sizeof r->err);
    if (rc == 0 && !cJSON_IsObject(pj)) rc = failf(r, "--params must be a JSON object");
    if (rc == 0 && cJSON_GetArraySize(pj) == 0) msgpack_pack_map(&ppk, 0);
    else if (rc == 0 && (rc = ln_json_pack(pj, &ppk)) < 0) failf(r, "--params: %s", ln_strerror(rc));
    cJSON_Delete(pj);
    ln_blockinfo bi = { 1, 0, { 0 } };
    char why[320];
    if (rc == 0 && ln_pricing_check(&bi, name, code, cl, (const uint8_t *)psb.data, psb.size, NULL,
                                    why, sizeof why) < 0)
        rc = failf(r, "%s: %s", file, why);
    if (rc == 0 && ln_rpcc_open(ln_args_str(a, "rpc", LN_CLI_DEFAULT_RPC), LN_CLI_RPC_TIMEOUT_MS,
                                &r->rpc, r->err, sizeof r->err) < 0)
        rc = -1;
    cJSON *info = NULL;
    if (rc == 0 && ln_rpcc_call(r->rpc, "chain_info", NULL, &info, r->err, sizeof r->err) < 0) rc = -1;
    uint64_t head = num(info, "height");
    uint64_t from = ln_args_uint(a, "from", 1), to = ln_args_uint(a, "to", head);
    char chain[LN_CHAIN_ID_MAX + 1] = "";
    if (info && ln_rpcc_str(info, "chain_id")) snprintf(chain, sizeof chain, "%s", ln_rpcc_str(info, "chain_id"));
    cJSON_Delete(info);
    if (rc == 0 && (to > head || from > to))
        rc = failf(r, "blocks %llu..%llu: the node's head is %llu", (unsigned long long)from,
                   (unsigned long long)to, (unsigned long long)head);
    if (rc == 0) rc = scratch(r, name, code, cl, (const uint8_t *)psb.data, psb.size);
    for (uint64_t h = from; rc == 0 && h <= to; h++) rc = replay_block(r, h);
    free(code);
    msgpack_sbuffer_destroy(&psb);
    if (rc < 0) return -1;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", name);
        cJSON_AddStringToObject(o, "chain_id", chain);
        cJSON_AddNumberToObject(o, "from", (double)from);
        cJSON_AddNumberToObject(o, "to", (double)to);
        cJSON_AddNumberToObject(o, "transactions", (double)r->ntx);
        cJSON_AddNumberToObject(o, "paid", (double)r->paid);
        cJSON_AddNumberToObject(o, "would_pay", (double)r->would);
        cJSON_AddNumberToObject(o, "refused", (double)r->refused);
        cJSON_AddItemToObject(o, "payers", rows_json(&r->payers, "account", "txs"));
        cJSON_AddItemToObject(o, "contracts", rows_json(&r->contracts, "contract", "calls"));
        char *s = cJSON_Print(o);
        cJSON_Delete(o);
        if (!s) return failf(r, "out of memory");
        puts(s);
        free(s);
        return 0;
    }
    printf("pricing replay: %s over blocks %llu..%llu of %s, %llu transactions\n", name,
           (unsigned long long)from, (unsigned long long)to, chain, (unsigned long long)r->ntx);
    printf("\nby payer (txs: those it sent)\n");
    print_rows(stdout, "account", &r->payers, "txs");
    printf("\nby contract called (the first action's)\n");
    print_rows(stdout, "contract", &r->contracts, "calls");
    printf("\n  %-12s %10llu %16llu %16llu %10llu\n", "total", (unsigned long long)r->ntx,
           (unsigned long long)r->paid, (unsigned long long)r->would, (unsigned long long)r->refused);
    return 0;
}

int ln_cmd_pricing(int argc, char **argv)
{
    if (argc < 2 || ln_opts_wants_help(argc, argv) || strcmp(argv[1], "replay") != 0) {
        int help = ln_opts_wants_help(argc, argv);
        fputs(usage_text, help ? stdout : stderr);
        ln_opts_usage(help ? stdout : stderr, options);
        if (!help && argc >= 2) fprintf(stderr, "\nlunet pricing: unknown subcommand '%s'\n", argv[1]);
        return help ? 0 : 2;
    }
    ln_args a;
    char err[200] = "";
    if (ln_opts_parse(options, argc - 1, argv + 1, &a, err, sizeof err) < 0 || a.npos != 1) {
        fprintf(stderr, "lunet pricing replay: %s (see lunet pricing --help)\n",
                err[0] ? err : "give one FILE");
        ln_args_free(&a);
        return 2;
    }
    replay r;
    memset(&r, 0, sizeof r);
    int rc = run(&r, &a, a.pos[0], ln_args_flag(&a, "json"));
    if (rc < 0) fprintf(stderr, "lunet pricing replay: %s\n", r.err);
    free(r.payers.r);
    free(r.contracts.r);
    free(r.total);
    ln_overlay_free(r.ov);
    ln_state_close(r.st);
    ln_rpcc_close(r.rpc);
    ln_args_free(&a);
    return rc < 0 ? 1 : 0;
}
