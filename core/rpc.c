/*
** rpc.c -- JSON-RPC 2.0 and the GET routes over core/http (see rpc.h).
**
** A POST body becomes a batch of calls (one call is a batch of one that is
** answered unwrapped). Each call fills its slot of the batch; tx_submit fills
** it later, from the node's callback. The batch is answered when its last
** slot is filled. Nothing asynchronous points at the ln_rpc, so a stopped
** server never sees a late callback: the request is answered or dropped.
*/
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "http.h"
#include "rpc.h"
#include "tx.h"

#include "ln_dashboard.h"    /* generated from core/dashboard.html: ln_dashboard_html[] */

#define JSON_CT  "application/json"
#define METHOD_MAX 128
#define KEY_MAX    1024

typedef struct sse {
    ln_http_req *req;
    ln_rpc *rpc;
    struct sse *prev, *next;
} sse;

struct ln_rpc {
    ln_node *node;
    uv_loop_t *loop;
    ln_http_server *srv;
    uv_timer_t ping;
    sse *streams;
    size_t nstreams;
    uint64_t requests;
    int open;                    /* handles still to close: server, ping timer */
    int subscribed;
};

/* What went wrong in a call: a JSON-RPC code (<= -32600) or an LN_E* code. */
typedef struct {
    int code;
    char msg[256];
    char why[512];
    int has_gas;
    uint64_t gas_used;
} rerr;

static int fail(rerr *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(rerr *e, int code, const char *fmt, ...)
{
    int jsonrpc = code <= LN_RPC_JSON_REQUEST;   /* else an LN_E* code */
    e->code = code;
    e->msg[0] = e->why[0] = '\0';
    e->has_gas = 0;
    e->gas_used = 0;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(jsonrpc ? e->msg : e->why, jsonrpc ? sizeof e->msg : sizeof e->why, fmt, ap);
        va_end(ap);
    }
    return -1;
}

#define PARAMS(e, ...) fail((e), LN_RPC_JSON_PARAMS, __VA_ARGS__)
#define INTERNAL(e, ...) fail((e), LN_RPC_JSON_INTERNAL, __VA_ARGS__)

/* ---- JSON building ------------------------------------------------------ */

/* Adds v under k; -1 (and v deleted) when v is NULL or adding fails. */
static int put(cJSON *o, const char *k, cJSON *v)
{
    if (!v) return -1;
    if (!cJSON_AddItemToObject(o, k, v)) { cJSON_Delete(v); return -1; }
    return 0;
}

static int push(cJSON *a, cJSON *v)
{
    if (!v) return -1;
    if (!cJSON_AddItemToArray(a, v)) { cJSON_Delete(v); return -1; }
    return 0;
}

/* Integers print exactly: small ones through cJSON, others as raw text. */
static cJSON *json_i64(int64_t v)
{
    if (v > -2147483647LL && v < 2147483647LL) return cJSON_CreateNumber((double)v);
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return cJSON_CreateRaw(buf);
}

static cJSON *json_u64(uint64_t v)
{
    if (v < 2147483647ULL) return cJSON_CreateNumber((double)v);
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return cJSON_CreateRaw(buf);
}

/* Hex of p[0..n), "0x"-prefixed when prefix. */
static cJSON *json_hex(const uint8_t *p, size_t n, int prefix)
{
    char *s = malloc(2 * n + 3);
    if (!s) return NULL;
    size_t o = 0;
    if (prefix) { s[0] = '0'; s[1] = 'x'; o = 2; }
    ln_hex(p, n, s + o);
    cJSON *j = cJSON_CreateString(s);
    free(s);
    return j;
}

/* A str that JSON can carry as text: valid UTF-8, no NUL. */
static int texty(const char *p, size_t n)
{
    return ln_utf8_valid((const uint8_t *)p, n) && memchr(p, 0, n) == NULL;
}

static cJSON *json_text(const char *p, size_t n)
{
    if (!texty(p, n)) return json_hex((const uint8_t *)p, n, 1);
    char *s = malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, p, n);
    s[n] = '\0';
    cJSON *j = cJSON_CreateString(s);
    free(s);
    return j;
}

static cJSON *mp_to_json(const msgpack_object *o, int depth)
{
    if (depth > LN_CODEC_MAX_DEPTH + 1) return cJSON_CreateNull();
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return cJSON_CreateNull();
    case MSGPACK_OBJECT_BOOLEAN: return cJSON_CreateBool(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return json_u64(o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_i64(o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return cJSON_CreateNumber(o->via.f64);
    case MSGPACK_OBJECT_STR: return json_text(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN: return json_hex((const uint8_t *)o->via.bin.ptr, o->via.bin.size, 1);
    case MSGPACK_OBJECT_ARRAY: {
        cJSON *a = cJSON_CreateArray();
        if (!a) return NULL;
        for (uint32_t i = 0; i < o->via.array.size; i++)
            if (push(a, mp_to_json(&o->via.array.ptr[i], depth + 1)) < 0) {
                cJSON_Delete(a);
                return NULL;
            }
        return a;
    }
    case MSGPACK_OBJECT_MAP: {
        cJSON *m = cJSON_CreateObject();
        if (!m) return NULL;
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            cJSON *kj = k->type == MSGPACK_OBJECT_STR ? json_text(k->via.str.ptr, k->via.str.size)
                                                      : mp_to_json(k, depth + 1);
            char *ks = !kj ? NULL : cJSON_IsString(kj) ? strdup(kj->valuestring)
                                                       : cJSON_PrintUnformatted(kj);
            cJSON_Delete(kj);
            int bad = !ks || put(m, ks, mp_to_json(&o->via.map.ptr[i].val, depth + 1)) < 0;
            free(ks);
            if (bad) { cJSON_Delete(m); return NULL; }
        }
        return m;
    }
    default: return cJSON_CreateNull();   /* ext: never in canonical data */
    }
}

cJSON *ln__rpc_msgpack_to_json(const msgpack_object *o)
{
    return mp_to_json(o, 1);
}

/* Renders canonical msgpack bytes; NULL (and e set) if they do not decode. */
static cJSON *bytes_to_json(const uint8_t *p, size_t n, rerr *e)
{
    msgpack_zone z;
    if (!msgpack_zone_init(&z, 2048)) { INTERNAL(e, "out of memory"); return NULL; }
    msgpack_object o;
    int rc = ln_codec_unpack(p, n, &z, &o);
    cJSON *j = NULL;
    if (rc < 0) INTERNAL(e, "stored value does not decode: %s", ln_strerror(rc));
    else if (!(j = ln__rpc_msgpack_to_json(&o))) INTERNAL(e, "out of memory");
    msgpack_zone_destroy(&z);
    return j;
}

/* ---- JSON -> canonical msgpack ------------------------------------------ */

static int keycmp(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string, y->string);
}

static int pack_json(msgpack_packer *pk, const cJSON *j, int depth)
{
    int rc = 0;
    switch (j->type & 0xFF) {
    case cJSON_NULL: return msgpack_pack_nil(pk) ? LN_ENOMEM : 0;
    case cJSON_True: return msgpack_pack_true(pk) ? LN_ENOMEM : 0;
    case cJSON_False: return msgpack_pack_false(pk) ? LN_ENOMEM : 0;
    case cJSON_Number: {
        double d = j->valuedouble;
        if (!isfinite(d)) return fabs(d) > 0 && !isnan(d) ? LN_ERANGE : LN_EFLOAT;
        if (fabs(d) > (double)LN_SAFE_INT) return LN_ERANGE;
        if (d != floor(d)) return LN_EFLOAT;
        int64_t v = (int64_t)d;
        return msgpack_pack_int64(pk, v) ? LN_ENOMEM : 0;
    }
    case cJSON_String: {
        const char *s = j->valuestring;
        size_t n = strlen(s);
        if (n > LN_CODEC_MAX_ITEM) return LN_ETOOBIG;
        if (!ln_utf8_valid((const uint8_t *)s, n)) return LN_EINVAL;
        if (msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n)) return LN_ENOMEM;
        return 0;
    }
    case cJSON_Array: {
        if (depth > LN_CODEC_MAX_DEPTH) return LN_EDEPTH;
        int n = cJSON_GetArraySize(j);
        if ((size_t)n > LN_CODEC_MAX_ITEM) return LN_ETOOBIG;
        if (msgpack_pack_array(pk, (size_t)n)) return LN_ENOMEM;
        for (const cJSON *c = j->child; c && rc == 0; c = c->next)
            rc = pack_json(pk, c, depth + 1);
        return rc;
    }
    case cJSON_Object: {
        if (depth > LN_CODEC_MAX_DEPTH) return LN_EDEPTH;
        int n = cJSON_GetArraySize(j);
        if ((size_t)n > LN_CODEC_MAX_ITEM) return LN_ETOOBIG;
        const cJSON **kids = malloc(sizeof *kids * (n ? (size_t)n : 1));
        if (!kids) return LN_ENOMEM;
        int i = 0;
        for (const cJSON *c = j->child; c; c = c->next) kids[i++] = c;
        qsort(kids, (size_t)n, sizeof *kids, keycmp);
        for (i = 0; i < n && rc == 0; i++) {
            size_t kl = strlen(kids[i]->string);
            if (i > 0 && strcmp(kids[i - 1]->string, kids[i]->string) == 0) rc = LN_EDUPKEY;
            else if (kl > LN_CODEC_MAX_ITEM) rc = LN_ETOOBIG;
            else if (!ln_utf8_valid((const uint8_t *)kids[i]->string, kl)) rc = LN_EINVAL;
        }
        if (rc == 0 && msgpack_pack_map(pk, (size_t)n)) rc = LN_ENOMEM;
        for (i = 0; i < n && rc == 0; i++) {
            size_t kl = strlen(kids[i]->string);
            if (msgpack_pack_str(pk, kl) || msgpack_pack_str_body(pk, kids[i]->string, kl))
                rc = LN_ENOMEM;
            else
                rc = pack_json(pk, kids[i], depth + 1);
        }
        free(kids);
        return rc;
    }
    default: return LN_ETYPE;
    }
}

int ln__rpc_json_to_msgpack(const cJSON *j, uint8_t **out, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = pack_json(&pk, j, 1);
    if (rc == 0) rc = ln_codec_check((const uint8_t *)sb.data, sb.size);
    if (rc < 0) { msgpack_sbuffer_destroy(&sb); return rc; }
    *len = sb.size;
    *out = (uint8_t *)msgpack_sbuffer_release(&sb);
    return 0;
}

/* ---- base64 ------------------------------------------------------------- */

static int b64val(int ch)
{
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+') return 62;
    if (ch == '/') return 63;
    return -1;
}

int ln__rpc_base64_decode(const char *s, size_t n, uint8_t **out, size_t *outlen)
{
    if (n % 4 != 0) return LN_EINVAL;
    size_t pad = 0;
    if (n >= 4 && s[n - 1] == '=') pad = s[n - 2] == '=' ? 2 : 1;
    size_t olen = n / 4 * 3 - pad;
    uint8_t *buf = malloc(olen ? olen : 1);
    if (!buf) return LN_ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int last = i + 4 == n;
        int v[4];
        for (int k = 0; k < 4; k++) {
            int ch = (unsigned char)s[i + k];
            if (ch == '=' && last && k >= 4 - (int)pad) { v[k] = 0; continue; }
            if ((v[k] = b64val(ch)) < 0) { free(buf); return LN_EINVAL; }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        if (last && pad == 2 && (v[1] & 0x0f)) { free(buf); return LN_EINVAL; }
        if (last && pad == 1 && (v[2] & 0x03)) { free(buf); return LN_EINVAL; }
        buf[o++] = (uint8_t)(w >> 16);
        if (!(last && pad == 2)) buf[o++] = (uint8_t)(w >> 8);
        if (!(last && pad >= 1)) buf[o++] = (uint8_t)w;
    }
    *out = buf;
    *outlen = olen;
    return 0;
}

/* ---- errors ------------------------------------------------------------- */

int ln__rpc_errcode(int ln_code)
{
    return ln_code < 0 && ln_code > -1000 ? LN_RPC_JSON_LUNET + ln_code : LN_RPC_JSON_INTERNAL;
}

static const char *jsonrpc_text(int code)
{
    switch (code) {
    case LN_RPC_JSON_PARSE: return "parse error";
    case LN_RPC_JSON_REQUEST: return "invalid request";
    case LN_RPC_JSON_METHOD: return "method not found";
    case LN_RPC_JSON_PARAMS: return "invalid params";
    default: return "internal error";
    }
}

cJSON *ln__rpc_error(int code, const char *msg, const char *why)
{
    cJSON *e = cJSON_CreateObject();
    if (!e) return NULL;
    int bad = 0;
    if (code < 0 && code > -1000) {
        const char *what = ln_strerror(code);
        char buf[800];
        if (msg && *msg) snprintf(buf, sizeof buf, "%s", msg);
        else if (why && *why && !strstr(why, what)) snprintf(buf, sizeof buf, "%s: %s", what, why);
        else snprintf(buf, sizeof buf, "%s", why && *why ? why : what);
        bad |= put(e, "code", cJSON_CreateNumber(ln__rpc_errcode(code)));
        bad |= put(e, "message", cJSON_CreateString(buf));
        cJSON *d = cJSON_CreateObject();
        bad |= put(e, "data", d);
        if (d) {
            bad |= put(d, "name", cJSON_CreateString(ln_errname(code)));
            bad |= put(d, "why", cJSON_CreateString(why && *why ? why : what));
        }
    } else {
        bad |= put(e, "code", cJSON_CreateNumber(code));
        bad |= put(e, "message", cJSON_CreateString(msg && *msg ? msg : jsonrpc_text(code)));
    }
    if (bad) { cJSON_Delete(e); return NULL; }
    return e;
}

static cJSON *rerr_json(const rerr *e)
{
    cJSON *j = ln__rpc_error(e->code, e->msg, e->why);
    if (j && e->has_gas) {
        cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "data");
        if (d && put(d, "gas_used", json_u64(e->gas_used)) < 0) { cJSON_Delete(j); j = NULL; }
    }
    return j;
}

/* ---- params ------------------------------------------------------------- */

/* *s = the string field k; -1 (e set) if absent and required, or not a string. */
static int p_str(const cJSON *p, const char *k, const char **s, int required, rerr *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, k);
    *s = NULL;
    if (!v || cJSON_IsNull(v)) return required ? PARAMS(e, "missing param \"%s\"", k) : 0;
    if (!cJSON_IsString(v)) return PARAMS(e, "param \"%s\" must be a string", k);
    *s = v->valuestring;
    return 0;
}

static int p_uint(const cJSON *v, const char *k, uint64_t *out, rerr *e)
{
    if (!cJSON_IsNumber(v)) return PARAMS(e, "param \"%s\" must be an integer", k);
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || d < 0 || d > (double)LN_SAFE_INT)
        return PARAMS(e, "param \"%s\" must be an integer in 0..2^53-1", k);
    *out = (uint64_t)d;
    return 0;
}

/* A 32-byte hash as 64 hex digits, with or without "0x". */
static int p_hash(const char *s, const char *k, uint8_t out[LN_HASH_LEN], rerr *e)
{
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s += 2;
    if (strlen(s) != 2 * LN_HASH_LEN || ln_unhex(s, out, LN_HASH_LEN) < 0)
        return PARAMS(e, "param \"%s\" must be 64 hex digits", k);
    return 0;
}

/* ---- calls and batches -------------------------------------------------- */

typedef struct batch {
    ln__rpc_done done;
    void *ud;
    int is_batch;
    size_t n, waiting;
    cJSON **out;                 /* one response per slot; NULL: none */
} batch;

typedef struct call {
    batch *b;
    size_t slot;
    cJSON *id;                   /* a copy; NULL for a notification */
    int notify;
    uint8_t *buf;                /* tx_submit: the bytes, kept until the callback */
} call;

/* {"jsonrpc":"2.0", "result"|"error", "id"}; takes res/err. NULL on OOM. */
static cJSON *response(cJSON *id, cJSON *res, cJSON *err)
{
    cJSON *r = cJSON_CreateObject();
    int bad = !r;
    if (r) {
        bad |= put(r, "jsonrpc", cJSON_CreateString("2.0"));
        if (err) bad |= put(r, "error", err);
        else bad |= put(r, "result", res ? res : cJSON_CreateNull());
        bad |= put(r, "id", id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull());
        res = err = NULL;
    }
    cJSON_Delete(res);
    cJSON_Delete(err);
    if (bad) { cJSON_Delete(r); return NULL; }
    return r;
}

static void batch_finish(batch *b)
{
    char *text = NULL;
    if (b->is_batch) {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; i < b->n; i++) {
            if (!b->out[i]) continue;
            if (a) cJSON_AddItemToArray(a, b->out[i]);
            else cJSON_Delete(b->out[i]);
        }
        if (a && a->child) text = cJSON_PrintUnformatted(a);
        cJSON_Delete(a);
    } else if (b->out[0]) {
        text = cJSON_PrintUnformatted(b->out[0]);
        cJSON_Delete(b->out[0]);
    }
    ln__rpc_done done = b->done;
    void *ud = b->ud;
    free(b->out);
    free(b);
    done(text, ud);
}

static void batch_unwait(batch *b)
{
    if (--b->waiting == 0) batch_finish(b);
}

/* Fills c's slot with res or e (one of them), frees c. */
static void call_complete(call *c, cJSON *res, const rerr *e)
{
    batch *b = c->b;
    if (c->notify) {
        cJSON_Delete(res);
    } else {
        cJSON *r = e ? response(c->id, NULL, rerr_json(e)) : response(c->id, res, NULL);
        if (!r) {                       /* out of memory: try a small error */
            rerr oom;
            INTERNAL(&oom, "out of memory");
            r = response(c->id, NULL, rerr_json(&oom));
        }
        b->out[c->slot] = r;
    }
    cJSON_Delete(c->id);
    free(c->buf);
    free(c);
}

/* ---- methods ------------------------------------------------------------ */

typedef int (*method_fn)(ln_node *n, const cJSON *p, call *c, cJSON **res, rerr *e);
#define ASYNC 1

static int m_chain_info(ln_node *n, const cJSON *p, call *c, cJSON **res, rerr *e)
{
    (void)p; (void)c;
    ln_node_info in;
    memset(&in, 0, sizeof in);
    ln_node_info_get(n, &in);
    cJSON *o = cJSON_CreateObject();
    int bad = !o;
    if (o) {
        in.chain_id[sizeof in.chain_id - 1] = in.consensus[sizeof in.consensus - 1] = '\0';
        in.fingerprint[sizeof in.fingerprint - 1] = '\0';
        bad |= put(o, "chain_id", json_text(in.chain_id, strlen(in.chain_id)));
        bad |= put(o, "height", json_u64(in.height));
        bad |= put(o, "head", json_hex(in.head, LN_HASH_LEN, 0));
        bad |= put(o, "consensus", json_text(in.consensus, strlen(in.consensus)));
        bad |= put(o, "time", json_u64(in.time));
        bad |= put(o, "state_root", json_hex(in.state_root, LN_HASH_LEN, 0));
        bad |= put(o, "mempool", json_u64(in.mempool));
        bad |= put(o, "txs_committed", json_u64(in.txs_committed));
        bad |= put(o, "peers", json_u64(in.peers));
        bad |= put(o, "fingerprint", json_text(in.fingerprint, strlen(in.fingerprint)));
        cJSON *vals = cJSON_CreateArray();
        for (size_t i = 0; vals && i < in.nvalidators; i++)
            cJSON_AddItemToArray(vals, cJSON_CreateString(in.validators[i]));
        bad |= put(o, "validators", vals);
        in.admin[sizeof in.admin - 1] = '\0';
        bad |= put(o, "admin", in.admin[0] ? json_text(in.admin, strlen(in.admin)) : cJSON_CreateNull());
        cJSON *mems = cJSON_CreateArray();
        for (size_t i = 0; mems && i < in.nmembers; i++)
            bad |= push(mems, json_hex(in.members[i], LN_PK_LEN, 0));
        bad |= put(o, "members", mems);
    }
    if (bad) { cJSON_Delete(o); return INTERNAL(e, "out of memory"); }
    *res = o;
    return 0;
}

/* One encoded transaction: its decoded map plus "hash". */
static cJSON *render_tx(const uint8_t *p, size_t n)
{
    ln_tx tx;
    int rc = ln_tx_decode(&tx, p, n);
    cJSON *j = NULL;
    if (rc == 0) {
        j = ln__rpc_msgpack_to_json(&tx.root);
        if (j && put(j, "hash", json_hex(tx.id, LN_HASH_LEN, 0)) < 0) { cJSON_Delete(j); j = NULL; }
    } else {
        j = cJSON_CreateObject();
        if (j && (put(j, "raw", json_hex(p, n, 1)) < 0 ||
                  put(j, "error", cJSON_CreateString(ln_strerror(rc))) < 0)) {
            cJSON_Delete(j);
            j = NULL;
        }
    }
    ln_tx_free(&tx);
    return j;
}

/* A hash field: bin(32) as plain hex, anything else rendered. */
static cJSON *render_hash(const msgpack_object *o)
{
    if (!o) return cJSON_CreateNull();
    if (o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == LN_HASH_LEN)
        return json_hex((const uint8_t *)o->via.bin.ptr, LN_HASH_LEN, 0);
    return ln__rpc_msgpack_to_json(o);
}

static cJSON *render_or_null(const msgpack_object *o)
{
    return o ? ln__rpc_msgpack_to_json(o) : cJSON_CreateNull();
}

static cJSON *render_block(const uint8_t *blk, size_t len, rerr *e)
{
    msgpack_zone z;
    if (!msgpack_zone_init(&z, 4096)) { INTERNAL(e, "out of memory"); return NULL; }
    msgpack_object o;
    int rc = ln_codec_unpack(blk, len, &z, &o);
    if (rc < 0 || o.type != MSGPACK_OBJECT_MAP) {
        msgpack_zone_destroy(&z);
        INTERNAL(e, "stored block does not decode: %s", ln_strerror(rc));
        return NULL;
    }
    cJSON *j = cJSON_CreateObject();
    int bad = !j;
    if (j) {
        bad |= put(j, "hash", render_hash(ln_codec_map_get(&o, "hash")));
        bad |= put(j, "header", render_or_null(ln_codec_map_get(&o, "header")));
        const msgpack_object *txs = ln_codec_map_get(&o, "txs");
        cJSON *ta = cJSON_CreateArray();
        bad |= put(j, "txs", ta);
        if (ta && txs && txs->type == MSGPACK_OBJECT_ARRAY) {
            for (uint32_t i = 0; i < txs->via.array.size && !bad; i++) {
                const msgpack_object *t = &txs->via.array.ptr[i];
                bad |= push(ta, t->type == MSGPACK_OBJECT_BIN
                                    ? render_tx((const uint8_t *)t->via.bin.ptr, t->via.bin.size)
                                    : ln__rpc_msgpack_to_json(t));
            }
        }
        bad |= put(j, "cert", render_or_null(ln_codec_map_get(&o, "cert")));
    }
    msgpack_zone_destroy(&z);
    if (bad) { cJSON_Delete(j); INTERNAL(e, "out of memory"); return NULL; }
    return j;
}

static int m_block_get(ln_node *n, const cJSON *p, call *c, cJSON **res, rerr *e)
{
    (void)c;
    const cJSON *hv = cJSON_GetObjectItemCaseSensitive(p, "height");
    const char *hs;
    if (p_str(p, "hash", &hs, 0, e) < 0) return -1;
    if (hv && cJSON_IsNull(hv)) hv = NULL;
    if (!hv == !hs) return PARAMS(e, "give either \"height\" or \"hash\"");
    uint8_t *blk = NULL;
    size_t len = 0;
    int rc;
    if (hv) {
        uint64_t h = 0;
        if (p_uint(hv, "height", &h, e) < 0) return -1;
        rc = ln_node_block_by_height(n, h, &blk, &len);
        if (rc == LN_ENOTFOUND) return fail(e, rc, "no block at height %" PRIu64, h);
    } else {
        uint8_t id[LN_HASH_LEN];
        if (p_hash(hs, "hash", id, e) < 0) return -1;
        rc = ln_node_block_by_hash(n, id, &blk, &len);
        if (rc == LN_ENOTFOUND) return fail(e, rc, "no block with hash %s", hs);
    }
    if (rc < 0) return fail(e, rc, NULL);
    *res = render_block(blk, len, e);
    free(blk);
    return *res ? 0 : -1;
}

static void on_submitted(ln_node *n, int status, const uint8_t id[LN_HASH_LEN],
                         const char *why, void *ud)
{
    (void)n;
    call *c = ud;
    batch *b = c->b;
    rerr e;
    cJSON *res = NULL;
    if (status == 0) {
        res = cJSON_CreateObject();
        if (put(res, "hash", json_hex(id, LN_HASH_LEN, 0)) < 0) {
            cJSON_Delete(res);
            res = NULL;
            INTERNAL(&e, "out of memory");
        }
    } else {
        fail(&e, status < 0 ? status : LN_EINVAL, "%s", why ? why : "");
    }
    call_complete(c, res, res ? NULL : &e);
    batch_unwait(b);
}

static int m_tx_submit(ln_node *n, const cJSON *p, call *c, cJSON **res, rerr *e)
{
    (void)res;
    const char *s;
    if (p_str(p, "tx", &s, 1, e) < 0) return -1;
    uint8_t *tx;
    size_t len;
    int rc = ln__rpc_base64_decode(s, strlen(s), &tx, &len);
    if (rc == LN_ENOMEM) return INTERNAL(e, "out of memory");
    if (rc < 0) return PARAMS(e, "param \"tx\" must be base64 (RFC 4648, with padding)");
    if (len == 0) { free(tx); return PARAMS(e, "param \"tx\" is empty"); }
    c->buf = tx;
    rc = ln_node_submit(n, tx, len, on_submitted, c);
    if (rc < 0) {                       /* the callback will not run */
        free(c->buf);
        c->buf = NULL;
        return fail(e, rc, NULL);
    }
    return ASYNC;                       /* c may already be gone */
}

static int m_tx_get(ln_node *n, const cJSON *p, call *c, cJSON **res, rerr *e)
{
    (void)c;
    const char *s;
    uint8_t id[LN_HASH_LEN];
    if (p_str(p, "hash", &s, 1, e) < 0 || p_hash(s, "hash", id, e) < 0) return -1;
    uint64_t height = 0;
    uint8_t *rec = NULL;
    size_t rl = 0;
    int st = ln_node_tx_status(n, id, &height, &rec, &rl);
    if (st < 0) { free(rec); return fail(e, st, NULL); }
    cJSON *o = cJSON_CreateObject();
    int bad = !o;
    if (o) {
        bad |= put(o, "hash", json_hex(id, LN_HASH_LEN, 0));
        bad |= put(o, "status", cJSON_CreateString(st == LN_TX_COMMITTED ? "committed" :
                                                    st == LN_TX_PENDING ? "pending" : "unknown"));
        if (st == LN_TX_COMMITTED) {
            bad |= put(o, "height", json_u64(height));
            rerr ignore;
            cJSON *r = rec ? bytes_to_json(rec, rl, &ignore) : cJSON_CreateNull();
            bad |= put(o, "receipt", r ? r : json_hex(rec, rl, 1));
        } else {
            bad |= put(o, "height", cJSON_CreateNull());
            bad |= put(o, "receipt", cJSON_CreateNull());
        }
    }
    free(rec);
    if (bad) { cJSON_Delete(o); return INTERNAL(e, "out of memory"); }
    *res = o;
    return 0;
}

/* The query behind contract_query and GET /c/...; args is a JSON array or NULL. */
static int do_query(ln_node *n, const char *contract, const char *method,
                    const cJSON *args, cJSON **res, rerr *e)
{
    if (!ln_name_valid(contract, strlen(contract)))
        return PARAMS(e, "contract \"%.40s\" is not an account name (1-12 of a-z 0-9 .)", contract);
    size_t ml = strlen(method);
    if (ml == 0 || ml > METHOD_MAX) return PARAMS(e, "method must be 1..%d bytes", METHOD_MAX);
    uint8_t *a = NULL;
    size_t al = 0;
    if (args && !cJSON_IsNull(args)) {
        if (!cJSON_IsArray(args)) return PARAMS(e, "args must be an array");
        int rc = ln__rpc_json_to_msgpack(args, &a, &al);
        if (rc == LN_ENOMEM) return INTERNAL(e, "out of memory");
        if (rc < 0) return PARAMS(e, "args: %s", ln_strerror(rc));
    }
    ln_outcome out;
    memset(&out, 0, sizeof out);
    int rc = ln_node_query(n, contract, method, a, al, &out);
    free(a);
    if (rc < 0 || out.code != 0) {
        int code = rc < 0 ? rc : out.code;
        fail(e, code, "%s", out.error ? out.error : "");
        if (rc == 0) { e->has_gas = 1; e->gas_used = out.gas_used; }
        ln_outcome_free(&out);
        return -1;
    }
    cJSON *o = cJSON_CreateObject();
    int bad = !o;
    if (o) {
        cJSON *r = out.result && out.result_len ? bytes_to_json(out.result, out.result_len, e)
                                                : cJSON_CreateNull();
        if (!r) { ln_outcome_free(&out); cJSON_Delete(o); return -1; }
        bad |= put(o, "result", r);
        bad |= put(o, "gas_used", json_u64(out.gas_used));
    }
    ln_outcome_free(&out);
    if (bad) { cJSON_Delete(o); return INTERNAL(e, "out of memory"); }
    *res = o;
    return 0;
}

static int m_contract_query(ln_node *n, const cJSON *p, call *c, cJSON **res, rerr *e)
{
    (void)c;
    const char *contract, *method;
    if (p_str(p, "contract", &contract, 1, e) < 0 || p_str(p, "method", &method, 1, e) < 0)
        return -1;
    return do_query(n, contract, method, cJSON_GetObjectItemCaseSensitive(p, "args"), res, e);
}

static int m_account_get(ln_node *n, const cJSON *p, call *c, cJSON **res, rerr *e)
{
    (void)c;
    const char *name;
    if (p_str(p, "account", &name, 1, e) < 0) return -1;
    if (!ln_name_valid(name, strlen(name)))
        return PARAMS(e, "account \"%.40s\" is not an account name (1-12 of a-z 0-9 .)", name);
    uint8_t *rec = NULL;
    size_t rl = 0;
    int rc = ln_node_account(n, name, &rec, &rl);
    if (rc == LN_ENOTFOUND) return fail(e, rc, "no account named %s", name);
    if (rc < 0) return fail(e, rc, NULL);
    msgpack_zone z;
    msgpack_object o;
    if (!msgpack_zone_init(&z, 1024)) { free(rec); return INTERNAL(e, "out of memory"); }
    rc = ln_codec_unpack(rec, rl, &z, &o);
    if (rc < 0 || o.type != MSGPACK_OBJECT_MAP) {
        msgpack_zone_destroy(&z);
        free(rec);
        return INTERNAL(e, "account record does not decode: %s", ln_strerror(rc));
    }
    cJSON *j = cJSON_CreateObject(), *perms = cJSON_CreateObject();
    int bad = !j || !perms;
    if (!bad) {
        const msgpack_object *code = ln_codec_map_get(&o, "code");
        bad |= put(j, "account", cJSON_CreateString(name));
        bad |= put(j, "nonce", render_or_null(ln_codec_map_get(&o, "nonce")));
        bad |= put(j, "pending_nonce", json_u64(ln_node_pending_nonce(n, name)));
        bad |= put(j, "balance", render_or_null(ln_codec_map_get(&o, "balance")));
        bad |= put(perms, "owner", render_or_null(ln_codec_map_get(&o, "owner")));
        bad |= put(perms, "active", render_or_null(ln_codec_map_get(&o, "active")));
        bad |= put(j, "permissions", perms);
        perms = NULL;
        if (code) bad |= put(j, "code_hash", render_hash(code));
    }
    cJSON_Delete(perms);
    msgpack_zone_destroy(&z);
    free(rec);
    if (bad) { cJSON_Delete(j); return INTERNAL(e, "out of memory"); }
    *res = j;
    return 0;
}

static int m_state_get(ln_node *n, const cJSON *p, call *c, cJSON **res, rerr *e)
{
    (void)c;
    const char *ks;
    if (p_str(p, "key", &ks, 1, e) < 0) return -1;
    size_t kl = strlen(ks);
    uint8_t key[KEY_MAX];
    if (ks[0] == '0' && (ks[1] == 'x' || ks[1] == 'X')) {
        size_t hl = kl - 2;
        if (hl % 2 || hl / 2 > KEY_MAX || ln_unhex(ks + 2, key, hl / 2) < 0)
            return PARAMS(e, "param \"key\": \"0x\" must be followed by an even number of hex digits (at most %d bytes)", KEY_MAX);
        kl = hl / 2;
    } else {
        if (kl > KEY_MAX) return PARAMS(e, "param \"key\" is longer than %d bytes", KEY_MAX);
        memcpy(key, ks, kl);
    }
    if (kl == 0) return PARAMS(e, "param \"key\" is empty");
    uint8_t *val = NULL, *proof = NULL, root[LN_HASH_LEN];
    size_t vl = 0, pl = 0;
    uint64_t height = 0;
    memset(root, 0, sizeof root);
    int rc = ln_node_state_get(n, key, kl, &val, &vl, &proof, &pl, &height, root);
    if (rc < 0 && !(rc == LN_ENOTFOUND && proof)) {
        free(val);
        free(proof);
        if (rc == LN_ENOTFOUND) return fail(e, rc, "no state at key %.80s", ks);
        return fail(e, rc, NULL);
    }
    cJSON *j = cJSON_CreateObject();
    int bad = !j;
    if (j) {
        bad |= put(j, "key", cJSON_CreateString(ks));
        if (rc == 0 && val) {           /* ln_node_state_get: val NULL when absent */
            rerr ignore;
            cJSON *v = bytes_to_json(val, vl, &ignore);   /* not msgpack (code): null */
            bad |= put(j, "value", v ? v : cJSON_CreateNull());
            bad |= put(j, "raw", json_hex(val, vl, 1));
        } else {
            bad |= put(j, "value", cJSON_CreateNull());
            bad |= put(j, "raw", cJSON_CreateNull());
        }
        bad |= put(j, "proof", json_hex(proof, pl, 1));
        bad |= put(j, "height", json_u64(height));
        bad |= put(j, "state_root", json_hex(root, LN_HASH_LEN, 0));
    }
    free(val);
    free(proof);
    if (bad) { cJSON_Delete(j); return INTERNAL(e, "out of memory"); }
    *res = j;
    return 0;
}

static const struct { const char *name; method_fn fn; } methods[] = {
    { "chain_info",     m_chain_info },
    { "block_get",      m_block_get },
    { "tx_submit",      m_tx_submit },
    { "tx_get",         m_tx_get },
    { "contract_query", m_contract_query },
    { "account_get",    m_account_get },
    { "state_get",      m_state_get },
    { NULL, NULL }
};

/* ---- dispatch ----------------------------------------------------------- */

static cJSON *bad_request(const cJSON *id, const char *msg)
{
    return response((cJSON *)id, NULL, ln__rpc_error(LN_RPC_JSON_REQUEST, msg, NULL));
}

static void handle_one(ln_node *n, batch *b, size_t slot, const cJSON *rq)
{
    if (!cJSON_IsObject(rq)) {
        b->out[slot] = bad_request(NULL, "a call must be a JSON object");
        return;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(rq, "id");
    if (id && !cJSON_IsString(id) && !cJSON_IsNumber(id) && !cJSON_IsNull(id)) {
        b->out[slot] = bad_request(NULL, "\"id\" must be a string, a number or null");
        return;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rq, "jsonrpc");
    if (!cJSON_IsString(v) || strcmp(v->valuestring, "2.0") != 0) {
        b->out[slot] = bad_request(id, "\"jsonrpc\" must be \"2.0\"");
        return;
    }
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(rq, "method");
    if (!cJSON_IsString(m)) {
        b->out[slot] = bad_request(id, "\"method\" must be a string");
        return;
    }
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(rq, "params");
    cJSON *empty = NULL;
    if (p && !cJSON_IsNull(p) && !cJSON_IsObject(p) && !cJSON_IsArray(p)) {
        b->out[slot] = bad_request(id, "\"params\" must be an object");
        return;
    }
    call *c = calloc(1, sizeof *c);
    if (!c) return;                     /* slot stays empty: answered by omission */
    c->b = b;
    c->slot = slot;
    c->notify = id == NULL;
    c->id = id ? cJSON_Duplicate(id, 1) : NULL;
    rerr e;
    cJSON *res = NULL;
    int rc = -1;
    method_fn fn = NULL;
    for (int i = 0; methods[i].name; i++)
        if (strcmp(methods[i].name, m->valuestring) == 0) fn = methods[i].fn;
    if (!fn) {
        fail(&e, LN_RPC_JSON_METHOD, "method not found: %.64s", m->valuestring);
    } else if (p && cJSON_IsArray(p)) {
        PARAMS(&e, "params must be an object of named params");
    } else if (!n) {
        INTERNAL(&e, "no node behind this server");
    } else {
        if (!p || cJSON_IsNull(p)) p = empty = cJSON_CreateObject();
        if (!p) {
            INTERNAL(&e, "out of memory");
        } else {
            b->waiting++;               /* the node may call back before submit returns */
            rc = fn(n, p, c, &res, &e);
            if (rc == ASYNC) { cJSON_Delete(empty); return; }
            b->waiting--;
        }
    }
    cJSON_Delete(empty);
    call_complete(c, rc == 0 ? res : NULL, rc == 0 ? NULL : &e);
}

static void answer_now(ln__rpc_done done, void *ud, cJSON *r)
{
    char *text = r ? cJSON_PrintUnformatted(r) : NULL;
    cJSON_Delete(r);
    done(text, ud);
}

void ln__rpc_process(ln_node *node, const char *body, size_t len,
                     ln__rpc_done done, void *ud)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (root && end) {
        while (end < body + len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
            end++;
        if (end < body + len) { cJSON_Delete(root); root = NULL; }
    }
    if (!root) {
        char msg[96];
        size_t at = end && end >= body ? (size_t)(end - body) : 0;
        snprintf(msg, sizeof msg, "parse error: not JSON (at byte %zu)", at);
        answer_now(done, ud, response(NULL, NULL, ln__rpc_error(LN_RPC_JSON_PARSE, msg, NULL)));
        return;
    }
    int is_batch = cJSON_IsArray(root);
    size_t n = is_batch ? (size_t)cJSON_GetArraySize(root) : 1;
    if (!is_batch && !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        answer_now(done, ud, bad_request(NULL, "the body must be a JSON object or array"));
        return;
    }
    if (is_batch && (n == 0 || n > LN_RPC_MAX_BATCH)) {
        char msg[96];
        snprintf(msg, sizeof msg, n ? "batch of %zu calls; at most %d" : "empty batch",
                 n, LN_RPC_MAX_BATCH);
        cJSON_Delete(root);
        answer_now(done, ud, bad_request(NULL, msg));
        return;
    }
    batch *b = calloc(1, sizeof *b);
    cJSON **out = calloc(n, sizeof *out);
    if (!b || !out) {
        free(b);
        free(out);
        cJSON_Delete(root);
        rerr e;
        INTERNAL(&e, "out of memory");
        answer_now(done, ud, response(NULL, NULL, rerr_json(&e)));
        return;
    }
    b->done = done;
    b->ud = ud;
    b->is_batch = is_batch;
    b->n = n;
    b->out = out;
    b->waiting = 1;
    if (is_batch) {
        size_t i = 0;
        for (const cJSON *c = root->child; c; c = c->next) handle_one(node, b, i++, c);
    } else {
        handle_one(node, b, 0, root);
    }
    cJSON_Delete(root);
    batch_unwait(b);
}

/* ---- HTTP routes -------------------------------------------------------- */

static void respond_json(ln_http_req *req, int status, cJSON *j)
{
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text) {
        static const char oom[] = "{\"error\":{\"code\":-32603,\"message\":\"out of memory\"}}";
        ln_http_respond(req, 500, JSON_CT, oom, sizeof oom - 1);
        return;
    }
    ln_http_respond(req, status, JSON_CT, text, strlen(text));
    free(text);
}

/* {"error": {code, message[, data]}} with an HTTP status. */
static void respond_error(ln_http_req *req, int status, const rerr *e)
{
    cJSON *o = cJSON_CreateObject();
    if (o && put(o, "error", rerr_json(e)) < 0) { cJSON_Delete(o); o = NULL; }
    respond_json(req, status, o);
}

static void http_done(char *json, void *ud)
{
    ln_http_req *req = ud;
    if (json) ln_http_respond(req, 200, JSON_CT, json, strlen(json));
    else ln_http_respond(req, 204, NULL, NULL, 0);
    free(json);
}

static void route_query(ln_rpc *r, ln_http_req *req)
{
    /* /c/CONTRACT/METHOD */
    const char *p = req->path + 3, *slash = strchr(p, '/');
    rerr e;
    if (!slash || strchr(slash + 1, '/') || slash == p || !slash[1]) {
        PARAMS(&e, "use /c/<contract>/<method>?args=<JSON array>");
        respond_error(req, 400, &e);
        return;
    }
    char contract[64], method[METHOD_MAX + 1];
    size_t cl = (size_t)(slash - p), ml = strlen(slash + 1);
    if (cl >= sizeof contract || ml > METHOD_MAX * 3 ||
        ln_http_unescape(p, cl, contract) < 0) {
        PARAMS(&e, "bad contract in the path");
        respond_error(req, 400, &e);
        return;
    }
    char *mbuf = malloc(ml + 1);
    if (!mbuf || ln_http_unescape(slash + 1, ml, mbuf) < 0 || strlen(mbuf) > METHOD_MAX) {
        free(mbuf);
        PARAMS(&e, "bad method in the path");
        respond_error(req, 400, &e);
        return;
    }
    strcpy(method, mbuf);
    free(mbuf);
    char *argtext = NULL;
    size_t al = 0;
    cJSON *args = NULL;
    int rc = ln_http_query_get(req->query, "args", &argtext, &al);
    if (rc == LN_EINVAL) {
        PARAMS(&e, "args: bad %%-escape");
        respond_error(req, 400, &e);
        return;
    }
    if (rc == 0) {
        args = cJSON_ParseWithLength(argtext, al);
        free(argtext);
        if (!args || !cJSON_IsArray(args)) {
            cJSON_Delete(args);
            PARAMS(&e, "args must be a URL-encoded JSON array");
            respond_error(req, 400, &e);
            return;
        }
    }
    cJSON *res = NULL;
    rc = do_query(r->node, contract, method, args, &res, &e);
    cJSON_Delete(args);
    if (rc < 0) respond_error(req, e.code == LN_RPC_JSON_INTERNAL ? 500 : 400, &e);
    else respond_json(req, 200, res);
}

static void route_health(ln_rpc *r, ln_http_req *req)
{
    ln_node_info in;
    memset(&in, 0, sizeof in);
    ln_node_info_get(r->node, &in);
    char buf[96];
    int n = snprintf(buf, sizeof buf, "{\"ok\":true,\"height\":%" PRIu64 "}", in.height);
    ln_http_respond(req, 200, JSON_CT, buf, (size_t)n);
}

static void route_metrics(ln_rpc *r, ln_http_req *req)
{
    char *m = ln_node_metrics(r->node);
    size_t ml = m ? strlen(m) : 0;
    char tail[1024];
    int tl = snprintf(tail, sizeof tail,
        "%s# HELP lunet_rpc_requests_total HTTP requests served by the RPC server.\n"
        "# TYPE lunet_rpc_requests_total counter\n"
        "lunet_rpc_requests_total %" PRIu64 "\n"
        "# HELP lunet_rpc_connections Open HTTP connections.\n"
        "# TYPE lunet_rpc_connections gauge\n"
        "lunet_rpc_connections %zu\n"
        "# HELP lunet_rpc_sse_clients Open /events streams.\n"
        "# TYPE lunet_rpc_sse_clients gauge\n"
        "lunet_rpc_sse_clients %zu\n",
        ml && m[ml - 1] != '\n' ? "\n" : "",
        r->requests, ln_http_server_conns(r->srv), r->nstreams);
    char *all = malloc(ml + (size_t)tl + 1);
    if (!all) {
        free(m);
        ln_http_respond(req, 500, "text/plain", "out of memory\n", 14);
        return;
    }
    if (ml) memcpy(all, m, ml);
    memcpy(all + ml, tail, (size_t)tl);
    ln_http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", all, ml + (size_t)tl);
    free(all);
    free(m);
}

static void sse_gone(ln_http_req *req, void *ud)
{
    (void)req;
    sse *s = ud;
    ln_rpc *r = s->rpc;
    if (s->prev) s->prev->next = s->next; else r->streams = s->next;
    if (s->next) s->next->prev = s->prev;
    r->nstreams--;
    free(s);
}

static void route_events(ln_rpc *r, ln_http_req *req)
{
    sse *s = calloc(1, sizeof *s);
    if (!s) { ln_http_respond(req, 500, "text/plain", "out of memory\n", 14); return; }
    s->rpc = r;
    s->req = req;
    if (ln_http_stream_begin(req, 200, "text/event-stream", sse_gone, s) < 0) {
        free(s);
        return;
    }
    s->next = r->streams;
    if (r->streams) r->streams->prev = s;
    r->streams = s;
    r->nstreams++;
    static const char hello[] = "retry: 3000\n: lunet events\n\n";
    ln_http_stream_write(req, hello, sizeof hello - 1);
}

static void broadcast(ln_rpc *r, const char *event, cJSON *data)
{
    char *text = data ? cJSON_PrintUnformatted(data) : NULL;
    cJSON_Delete(data);
    if (!text) return;
    size_t n = strlen(event) + strlen(text) + 32;
    char *msg = malloc(n);
    if (msg) {
        int ml = snprintf(msg, n, "event: %s\ndata: %s\n\n", event, text);
        for (sse *s = r->streams; s; s = s->next)
            ln_http_stream_write(s->req, msg, (size_t)ml);   /* a failure ends in sse_gone */
    }
    free(msg);
    free(text);
}

static void on_block(ln_node *n, const uint8_t *blk, size_t len,
                     const uint8_t *receipts, size_t rlen, void *ud)
{
    (void)n;
    ln_rpc *r = ud;
    if (!r->streams) return;
    msgpack_zone z;
    if (!msgpack_zone_init(&z, 4096)) return;
    msgpack_object o, rs;
    if (ln_codec_unpack(blk, len, &z, &o) < 0) { msgpack_zone_destroy(&z); return; }
    const msgpack_object *hdr = ln_codec_map_get(&o, "header");
    const msgpack_object *txs = ln_codec_map_get(&o, "txs");
    const msgpack_object *hh = ln_codec_map_get(hdr, "height");
    const msgpack_object *ht = ln_codec_map_get(hdr, "time");
    cJSON *b = cJSON_CreateObject();
    if (b) {
        put(b, "height", render_or_null(hh));
        put(b, "hash", render_hash(ln_codec_map_get(&o, "hash")));
        put(b, "txs", json_u64(txs && txs->type == MSGPACK_OBJECT_ARRAY ? txs->via.array.size : 0));
        put(b, "time", render_or_null(ht));
    }
    broadcast(r, "block", b);
    if (receipts && rlen && ln_codec_unpack(receipts, rlen, &z, &rs) == 0 &&
        rs.type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < rs.via.array.size && r->streams; i++) {
            const msgpack_object *evs = ln_codec_map_get(&rs.via.array.ptr[i], "events");
            if (!evs || evs->type != MSGPACK_OBJECT_ARRAY || evs->via.array.size == 0) continue;
            char txh[2 * LN_HASH_LEN + 1] = "";
            if (txs && txs->type == MSGPACK_OBJECT_ARRAY && i < txs->via.array.size &&
                txs->via.array.ptr[i].type == MSGPACK_OBJECT_BIN) {
                const msgpack_object *t = &txs->via.array.ptr[i];
                ln_tx tx;
                if (ln_tx_decode(&tx, (const uint8_t *)t->via.bin.ptr, t->via.bin.size) == 0)
                    ln_hex(tx.id, LN_HASH_LEN, txh);
                ln_tx_free(&tx);
            }
            for (uint32_t k = 0; k < evs->via.array.size; k++) {
                const msgpack_object *ev = &evs->via.array.ptr[k];
                cJSON *j = cJSON_CreateObject();
                if (j) {
                    put(j, "height", render_or_null(hh));
                    put(j, "tx", txh[0] ? cJSON_CreateString(txh) : cJSON_CreateNull());
                    put(j, "contract", render_or_null(ln_codec_map_get(ev, "contract")));
                    put(j, "name", render_or_null(ln_codec_map_get(ev, "name")));
                    put(j, "data", render_or_null(ln_codec_map_get(ev, "data")));
                }
                broadcast(r, "contract", j);
            }
        }
    }
    msgpack_zone_destroy(&z);
}

static void on_ping(uv_timer_t *t)
{
    ln_rpc *r = t->data;
    static const char ping[] = ": ping\n\n";
    for (sse *s = r->streams; s; s = s->next)
        ln_http_stream_write(s->req, ping, sizeof ping - 1);
}

static void on_request(ln_http_req *req, void *ud)
{
    ln_rpc *r = ud;
    const char *m = req->method, *path = req->path;
    int get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    r->requests++;
    rerr e;
    if (strcmp(path, "/") == 0 && strcmp(m, "POST") == 0) {
        ln__rpc_process(r->node, req->body, req->body_len, http_done, req);
    } else if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
        if (get) ln_http_respond(req, 200, "text/html; charset=utf-8",
                                 ln_dashboard_html, sizeof ln_dashboard_html);
        else goto not_allowed;
    } else if (strcmp(path, "/health") == 0) {
        if (get) route_health(r, req); else goto not_allowed;
    } else if (strcmp(path, "/metrics") == 0) {
        if (get) route_metrics(r, req); else goto not_allowed;
    } else if (strcmp(path, "/events") == 0) {
        if (get) route_events(r, req); else goto not_allowed;
    } else if (strncmp(path, "/c/", 3) == 0) {
        if (get) route_query(r, req); else goto not_allowed;
    } else {
        fail(&e, LN_RPC_JSON_METHOD, "no route %.100s %.200s", m, path);
        respond_error(req, 404, &e);
    }
    return;
not_allowed:
    fail(&e, LN_RPC_JSON_METHOD, "%s is not allowed on %.200s", m, path);
    respond_error(req, 405, &e);
}

/* ---- start and stop ----------------------------------------------------- */

static void rpc_unopen(ln_rpc *r)
{
    if (--r->open == 0) free(r);
}

static void on_srv_closed(ln_http_server *srv, void *ud)
{
    (void)srv;
    rpc_unopen(ud);
}

static void on_ping_closed(uv_handle_t *h)
{
    rpc_unopen(h->data);
}

int ln_rpc_start(ln_node *node, uv_loop_t *loop, const char *host_port, ln_rpc **out)
{
    ln_rpc *r = calloc(1, sizeof *r);
    if (!r) return LN_ENOMEM;
    r->node = node;
    r->loop = loop;
    int rc = ln_http_server_start(loop, host_port, NULL, on_request, r, &r->srv);
    if (rc < 0) { free(r); return rc; }
    r->open = 1;
    rc = ln_node_subscribe(node, on_block, r);
    if (rc < 0) {
        ln_http_server_close(r->srv, on_srv_closed, r);
        return rc;
    }
    r->subscribed = 1;
    uv_timer_init(loop, &r->ping);
    r->ping.data = r;
    uv_timer_start(&r->ping, on_ping, LN_RPC_PING_MS, LN_RPC_PING_MS);
    r->open = 2;
    *out = r;
    return 0;
}

void ln_rpc_stop(ln_rpc *r)
{
    if (!r) return;
    if (r->subscribed) ln_node_unsubscribe(r->node, on_block, r);
    r->subscribed = 0;
    uv_close((uv_handle_t *)&r->ping, on_ping_closed);
    ln_http_server_close(r->srv, on_srv_closed, r);
}

int ln_rpc_port(const ln_rpc *r)
{
    return ln_http_server_port(r->srv);
}
