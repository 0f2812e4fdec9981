/*
** rpc_call.c -- JSON-RPC 2.0 over one POST body (rpc_call.h): batches,
** calls, the methods and their errors.
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
#include "rpc_call.h"
#include "registry.h"
#include "rpc_json.h"
#include "tx.h"

#define KEY_MAX    1024

int ln__rpc_fail(ln__rpc_err *e, int code, const char *fmt, ...)
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

#define PARAMS   LN__RPC_PARAMS
#define INTERNAL LN__RPC_INTERNAL

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

/* Copies s into buf (cut to len; s may be buf) as valid UTF-8: a byte that starts no
** valid sequence becomes '?'. Messages quote hostile input, and a cut may
** fall inside a character; the JSON around them must stay valid. */
static const char *scrub(const char *s, char *buf, size_t len)
{
    if (s != buf) snprintf(buf, len, "%s", s);
    size_t n = strlen(buf);
    for (size_t i = 0; i < n;) {
        uint8_t c = (uint8_t)buf[i];
        size_t k = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        if (k > 1 && (i + k > n || !ln_utf8_valid((const uint8_t *)buf + i, k))) {
            buf[i++] = '?';
            continue;
        }
        i += k;
    }
    return buf;
}

cJSON *ln__rpc_error(int code, const char *msg, const char *why)
{
    cJSON *e = cJSON_CreateObject();
    if (!e) return NULL;
    int bad = 0;
    char buf[800], wbuf[600];
    if (code < 0 && code > -1000) {
        const char *what = ln_strerror(code);
        if (msg && *msg) snprintf(buf, sizeof buf, "%s", msg);
        else if (why && *why && !strstr(why, what)) snprintf(buf, sizeof buf, "%s: %s", what, why);
        else snprintf(buf, sizeof buf, "%s", why && *why ? why : what);
        bad |= ln__rpc_put(e, "code", cJSON_CreateNumber(ln__rpc_errcode(code)));
        bad |= ln__rpc_put(e, "message", cJSON_CreateString(scrub(buf, buf, sizeof buf)));
        cJSON *d = cJSON_CreateObject();
        bad |= ln__rpc_put(e, "data", d);
        if (d) {
            bad |= ln__rpc_put(d, "name", cJSON_CreateString(ln_errname(code)));
            bad |= ln__rpc_put(d, "why", cJSON_CreateString(scrub(why && *why ? why : what,
                                                                   wbuf, sizeof wbuf)));
        }
    } else {
        bad |= ln__rpc_put(e, "code", cJSON_CreateNumber(code));
        bad |= ln__rpc_put(e, "message", cJSON_CreateString(scrub(msg && *msg ? msg : jsonrpc_text(code),
                                                                  buf, sizeof buf)));
    }
    if (bad) { cJSON_Delete(e); return NULL; }
    return e;
}

cJSON *ln__rpc_err_json(const ln__rpc_err *e)
{
    cJSON *j = ln__rpc_error(e->code, e->msg, e->why);
    if (j && e->has_gas) {
        cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "data");
        if (d && ln__rpc_put(d, "gas_used", ln__rpc_u64(e->gas_used)) < 0) { cJSON_Delete(j); j = NULL; }
    }
    return j;
}

/* ---- params ------------------------------------------------------------- */

/* *s = the string field k; -1 (e set) if absent and required, or not a string. */
static int p_str(const cJSON *p, const char *k, const char **s, int required, ln__rpc_err *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, k);
    *s = NULL;
    if (!v || cJSON_IsNull(v)) return required ? PARAMS(e, "missing param \"%s\"", k) : 0;
    if (!cJSON_IsString(v)) return PARAMS(e, "param \"%s\" must be a string", k);
    *s = v->valuestring;
    return 0;
}

static int p_uint(const cJSON *v, const char *k, uint64_t *out, ln__rpc_err *e)
{
    if (!cJSON_IsNumber(v)) return PARAMS(e, "param \"%s\" must be an integer", k);
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || d < 0 || d > (double)LN_SAFE_INT)
        return PARAMS(e, "param \"%s\" must be an integer in 0..2^53-1", k);
    *out = (uint64_t)d;
    return 0;
}

/* A 32-byte hash as 64 hex digits, with or without "0x". */
static int p_hash(const char *s, const char *k, uint8_t out[LN_HASH_LEN], ln__rpc_err *e)
{
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s += 2;
    if (strlen(s) != 2 * LN_HASH_LEN || ln_unhex(s, out, LN_HASH_LEN) < 0)
        return PARAMS(e, "param \"%s\" must be 64 hex digits", k);
    return 0;
}

/* Renders canonical msgpack bytes; NULL (and e set) if they do not decode. */
static cJSON *bytes_to_json(const uint8_t *p, size_t n, ln__rpc_err *e)
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
        bad |= ln__rpc_put(r, "jsonrpc", cJSON_CreateString("2.0"));
        if (err) bad |= ln__rpc_put(r, "error", err);
        else bad |= ln__rpc_put(r, "result", res ? res : cJSON_CreateNull());
        bad |= ln__rpc_put(r, "id", id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull());
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
static void call_complete(call *c, cJSON *res, const ln__rpc_err *e)
{
    batch *b = c->b;
    if (c->notify) {
        cJSON_Delete(res);
    } else {
        cJSON *r = e ? response(c->id, NULL, ln__rpc_err_json(e)) : response(c->id, res, NULL);
        if (!r) {                       /* out of memory: try a small error */
            ln__rpc_err oom;
            INTERNAL(&oom, "out of memory");
            r = response(c->id, NULL, ln__rpc_err_json(&oom));
        }
        b->out[c->slot] = r;
    }
    cJSON_Delete(c->id);
    free(c->buf);
    free(c);
}

/* ---- methods ------------------------------------------------------------ */

typedef int (*method_fn)(ln_node *n, const cJSON *p, call *c, cJSON **res, ln__rpc_err *e);
#define ASYNC 1

static int m_chain_info(ln_node *n, const cJSON *p, call *c, cJSON **res, ln__rpc_err *e)
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
        bad |= ln__rpc_put(o, "chain_id", ln__rpc_text(in.chain_id, strlen(in.chain_id)));
        bad |= ln__rpc_put(o, "height", ln__rpc_u64(in.height));
        bad |= ln__rpc_put(o, "final_height", ln__rpc_u64(in.final_height));
        bad |= ln__rpc_put(o, "head", ln__rpc_hex(in.head, LN_HASH_LEN, 0));
        bad |= ln__rpc_put(o, "consensus", ln__rpc_text(in.consensus, strlen(in.consensus)));
        bad |= ln__rpc_put(o, "time", ln__rpc_u64(in.time));
        bad |= ln__rpc_put(o, "state_root", ln__rpc_hex(in.state_root, LN_HASH_LEN, 0));
        bad |= ln__rpc_put(o, "mempool", ln__rpc_u64(in.mempool));
        bad |= ln__rpc_put(o, "txs_committed", ln__rpc_u64(in.txs_committed));
        bad |= ln__rpc_put(o, "peers", ln__rpc_u64(in.peers));
        bad |= ln__rpc_put(o, "fingerprint", ln__rpc_text(in.fingerprint, strlen(in.fingerprint)));
        cJSON *vals = cJSON_CreateArray();
        for (size_t i = 0; vals && i < in.nvalidators; i++)
            cJSON_AddItemToArray(vals, cJSON_CreateString(in.validators[i]));
        bad |= ln__rpc_put(o, "validators", vals);
        if (in.nset) {              /* pos: the set by stake, {since, set: [{name, power}]} */
            cJSON *vs = cJSON_CreateObject(), *set = cJSON_CreateArray();
            for (size_t i = 0; set && i < in.nset; i++) {
                cJSON *v = cJSON_CreateObject();
                bad |= ln__rpc_put(v, "name", ln__rpc_text(in.set_names[i], strlen(in.set_names[i])));
                bad |= ln__rpc_put(v, "power", ln__rpc_u64(in.set_power[i]));
                bad |= ln__rpc_push(set, v);
            }
            bad |= ln__rpc_put(vs, "since", ln__rpc_u64(in.set_from));
            bad |= ln__rpc_put(vs, "set", set);
            bad |= ln__rpc_put(o, "validator_set", vs);
        }
        in.admin[sizeof in.admin - 1] = '\0';
        bad |= ln__rpc_put(o, "admin", in.admin[0] ? ln__rpc_text(in.admin, strlen(in.admin)) : cJSON_CreateNull());
        cJSON *mems = cJSON_CreateArray();
        for (size_t i = 0; mems && i < in.nmembers; i++)
            bad |= ln__rpc_push(mems, ln__rpc_hex(in.members[i], LN_PK_LEN, 0));
        bad |= ln__rpc_put(o, "members", mems);
        uint8_t *pl = NULL;
        size_t pll = 0;
        cJSON *plugins = ln_node_plugins(n, &pl, &pll) == 0 ? bytes_to_json(pl, pll, e) : NULL;
        free(pl);
        /* DESIGN: chain_info.plugins {consensus, governance, pricing} and,
        ** beside it, pending. */
        cJSON *pending = plugins ? cJSON_DetachItemFromObjectCaseSensitive(plugins, "pending") : NULL;
        bad |= ln__rpc_put(o, "plugins", plugins ? plugins : cJSON_CreateNull());
        bad |= ln__rpc_put(o, "pending", pending ? pending : cJSON_CreateArray());
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
        if (j && ln__rpc_put(j, "hash", ln__rpc_hex(tx.id, LN_HASH_LEN, 0)) < 0) { cJSON_Delete(j); j = NULL; }
    } else {
        j = cJSON_CreateObject();
        if (j && (ln__rpc_put(j, "raw", ln__rpc_hex(p, n, 1)) < 0 ||
                  ln__rpc_put(j, "error", cJSON_CreateString(ln_strerror(rc))) < 0)) {
            cJSON_Delete(j);
            j = NULL;
        }
    }
    ln_tx_free(&tx);
    return j;
}

static cJSON *render_block(const uint8_t *blk, size_t len, ln__rpc_err *e)
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
        bad |= ln__rpc_put(j, "hash", ln__rpc_hash(ln_codec_map_get(&o, "hash")));
        bad |= ln__rpc_put(j, "header", ln__rpc_or_null(ln_codec_map_get(&o, "header")));
        const msgpack_object *txs = ln_codec_map_get(&o, "txs");
        cJSON *ta = cJSON_CreateArray();
        bad |= ln__rpc_put(j, "txs", ta);
        if (ta && txs && txs->type == MSGPACK_OBJECT_ARRAY) {
            for (uint32_t i = 0; i < txs->via.array.size && !bad; i++) {
                const msgpack_object *t = &txs->via.array.ptr[i];
                bad |= ln__rpc_push(ta, t->type == MSGPACK_OBJECT_BIN
                                    ? render_tx((const uint8_t *)t->via.bin.ptr, t->via.bin.size)
                                    : ln__rpc_msgpack_to_json(t));
            }
        }
        bad |= ln__rpc_put(j, "cert", ln__rpc_or_null(ln_codec_map_get(&o, "cert")));
    }
    msgpack_zone_destroy(&z);
    if (bad) { cJSON_Delete(j); INTERNAL(e, "out of memory"); return NULL; }
    return j;
}

static int m_block_get(ln_node *n, const cJSON *p, call *c, cJSON **res, ln__rpc_err *e)
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
        if (rc == LN_ENOTFOUND) return ln__rpc_fail(e, rc, "no block at height %" PRIu64, h);
    } else {
        uint8_t id[LN_HASH_LEN];
        if (p_hash(hs, "hash", id, e) < 0) return -1;
        rc = ln_node_block_by_hash(n, id, &blk, &len);
        if (rc == LN_ENOTFOUND) return ln__rpc_fail(e, rc, "no block with hash %s", hs);
    }
    if (rc < 0) return ln__rpc_fail(e, rc, NULL);
    *res = render_block(blk, len, e);
    free(blk);
    if (!*res) return -1;
    /* final: on the head's chain at or below the final height (DESIGN). */
    const cJSON *hh = cJSON_GetObjectItemCaseSensitive(*res, "hash");
    uint8_t bh[LN_HASH_LEN];
    const char *hx = cJSON_IsString(hh) ? hh->valuestring : "";
    if (!strncmp(hx, "0x", 2)) hx += 2;
    int fin = strlen(hx) == 2 * LN_HASH_LEN && ln_unhex(hx, bh, LN_HASH_LEN) == 0 &&
              ln_node_block_final(n, bh);
    if (ln__rpc_put(*res, "final", cJSON_CreateBool(fin)) < 0) {
        cJSON_Delete(*res);
        *res = NULL;
        return INTERNAL(e, "out of memory");
    }
    return 0;
}

static void on_submitted(int status, const uint8_t id[LN_HASH_LEN], const char *why, void *ud)
{
    call *c = ud;
    batch *b = c->b;
    ln__rpc_err e;
    cJSON *res = NULL;
    if (status == 0) {
        res = cJSON_CreateObject();
        if (ln__rpc_put(res, "hash", ln__rpc_hex(id, LN_HASH_LEN, 0)) < 0) {
            cJSON_Delete(res);
            res = NULL;
            INTERNAL(&e, "out of memory");
        }
    } else {
        ln__rpc_fail(&e, status < 0 ? status : LN_EINVAL, "%s", why ? why : "");
    }
    call_complete(c, res, res ? NULL : &e);
    batch_unwait(b);
}

static int m_tx_submit(ln_node *n, const cJSON *p, call *c, cJSON **res, ln__rpc_err *e)
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
        return ln__rpc_fail(e, rc, NULL);
    }
    return ASYNC;                       /* c may already be gone */
}

static int m_tx_get(ln_node *n, const cJSON *p, call *c, cJSON **res, ln__rpc_err *e)
{
    (void)c;
    const char *s;
    uint8_t id[LN_HASH_LEN];
    if (p_str(p, "hash", &s, 1, e) < 0 || p_hash(s, "hash", id, e) < 0) return -1;
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(p, "body");
    if (body && !cJSON_IsBool(body) && !cJSON_IsNull(body))
        return PARAMS(e, "param \"body\" must be true or false");
    uint64_t height = 0;
    uint8_t *rec = NULL;
    size_t rl = 0;
    int st = ln_node_tx_status(n, id, &height, &rec, &rl);
    if (st < 0) { free(rec); return ln__rpc_fail(e, st, NULL); }
    cJSON *o = cJSON_CreateObject();
    int bad = !o;
    if (o) {
        bad |= ln__rpc_put(o, "hash", ln__rpc_hex(id, LN_HASH_LEN, 0));
        bad |= ln__rpc_put(o, "status", cJSON_CreateString(st == LN_TX_COMMITTED ? "committed" :
                                                    st == LN_TX_FINAL ? "final" :
                                                    st == LN_TX_PENDING ? "pending" : "unknown"));
        if (st == LN_TX_COMMITTED || st == LN_TX_FINAL) {
            bad |= ln__rpc_put(o, "height", ln__rpc_u64(height));
            ln__rpc_err ignore;
            cJSON *r = rec ? bytes_to_json(rec, rl, &ignore) : cJSON_CreateNull();
            bad |= ln__rpc_put(o, "receipt", r ? r : ln__rpc_hex(rec, rl, 1));
        } else {
            bad |= ln__rpc_put(o, "height", cJSON_CreateNull());
            bad |= ln__rpc_put(o, "receipt", cJSON_CreateNull());
        }
        /* The transaction itself, decoded as in block_get, when asked. */
        uint8_t *tx;
        size_t tl;
        if (cJSON_IsTrue(body) && st != LN_TX_UNKNOWN && ln_node_tx_bytes(n, id, &tx, &tl) == 0) {
            bad |= ln__rpc_put(o, "tx", render_tx(tx, tl));
            free(tx);
        }
    }
    free(rec);
    if (bad) { cJSON_Delete(o); return INTERNAL(e, "out of memory"); }
    *res = o;
    return 0;
}

/* The "tx" param: base64 of 1 to LN_TX_MAX_BYTES bytes, decoded into *tx
** (malloc()ed). 0, or -1 with e set. */
static int p_tx(const cJSON *p, uint8_t **tx, size_t *len, ln__rpc_err *e)
{
    const char *s;
    if (p_str(p, "tx", &s, 1, e) < 0) return -1;
    int rc = ln__rpc_base64_decode(s, strlen(s), tx, len);
    if (rc == LN_ENOMEM) return INTERNAL(e, "out of memory");
    if (rc < 0) return PARAMS(e, "param \"tx\" must be base64 (RFC 4648, with padding)");
    if (*len == 0) { free(*tx); return PARAMS(e, "param \"tx\" is empty"); }
    if (*len > LN_TX_MAX_BYTES) {
        free(*tx);
        return ln__rpc_fail(e, LN_ETXSIZE, "the transaction is %zu bytes; the most is %u", *len,
                            LN_TX_MAX_BYTES);
    }
    return 0;
}

static cJSON *usage_json(const ln_usage *u)
{
    cJSON *o = cJSON_CreateObject(), *st = cJSON_CreateObject();
    int bad = !o || !st;
    if (!bad) {
        bad |= ln__rpc_put(o, "calls", ln__rpc_u64(u->calls));
        bad |= ln__rpc_put(o, "events_bytes", ln__rpc_u64(u->events_bytes));
        bad |= ln__rpc_put(o, "gas", ln__rpc_u64(u->gas));
        bad |= ln__rpc_put(o, "mem_peak", ln__rpc_u64(u->mem_peak));
        bad |= ln__rpc_put(o, "storage_added", ln__rpc_u64(u->storage_added));
        bad |= ln__rpc_put(o, "storage_freed", ln__rpc_u64(u->storage_freed));
        for (uint32_t i = 0; i < u->nstored && !bad; i++)
            bad |= ln__rpc_put(st, u->stored[i].contract, ln__rpc_i64(u->stored[i].bytes));
        bad |= ln__rpc_put(o, "stored", st);
        st = NULL;
        bad |= ln__rpc_put(o, "tx_bytes", ln__rpc_u64(u->tx_bytes));
    }
    cJSON_Delete(st);
    if (bad) { cJSON_Delete(o); return NULL; }
    return o;
}

static void on_quoted(ln_node *n, int status, const ln_quote *q, const char *why, void *ud)
{
    (void)n;
    call *c = ud;
    batch *b = c->b;
    ln__rpc_err e;
    cJSON *res = NULL;
    if (status < 0) {
        ln__rpc_fail(&e, status, "%s", why ? why : "");
    } else if (q->code) {
        ln__rpc_fail(&e, q->code, "%s", q->why);        /* what inclusion would refuse */
    } else {
        res = cJSON_CreateObject();
        int bad = !res;
        if (res) {
            bad |= ln__rpc_put(res, "fee", ln__rpc_u64(q->fee));
            bad |= ln__rpc_put(res, "payer", cJSON_CreateString(q->payer));
            bad |= ln__rpc_put(res, "gas_limit", ln__rpc_u64(q->gas_limit));
            bad |= ln__rpc_put(res, "ok", cJSON_CreateBool(q->ok));
            bad |= ln__rpc_put(res, "error", q->ok ? cJSON_CreateNull()
                                                   : ln__rpc_text(q->error, strlen(q->error)));
            bad |= ln__rpc_put(res, "usage", usage_json(&q->usage));
        }
        if (bad) {
            cJSON_Delete(res);
            res = NULL;
            INTERNAL(&e, "out of memory");
        }
    }
    call_complete(c, res, res ? NULL : &e);
    batch_unwait(b);
}

/* fee_quote {tx}: what the transaction (signed, or its unsigned map) would
** pay in the next block, by the pricing plugin in force (quote.h). */
static int m_fee_quote(ln_node *n, const cJSON *p, call *c, cJSON **res, ln__rpc_err *e)
{
    (void)res;
    uint8_t *tx;
    size_t len;
    if (p_tx(p, &tx, &len, e) < 0) return -1;
    int rc = ln_node_quote(n, tx, len, on_quoted, c);
    free(tx);
    if (rc < 0) {                       /* on_quoted will not run */
        if (rc == LN_EBUSY)
            return ln__rpc_fail(e, rc, "%d queries wait already; try again later", LN_NODE_QUERY_QUEUE);
        return ln__rpc_fail(e, rc, NULL);
    }
    return ASYNC;                       /* c is answered from on_quoted */
}

/* tx_estimate's answer: the receipt the transaction would get now, with
** included and the error code's name. */
static void on_dry_run(ln_node *n, int status, const ln_receipt *r, void *ud)
{
    (void)n;
    call *c = ud;
    batch *b = c->b;
    ln__rpc_err e;
    cJSON *o = NULL;
    uint8_t *enc = NULL;
    size_t el = 0;
    if (status < 0) {
        ln__rpc_fail(&e, status, NULL);
    } else if (ln_receipt_encode(r, &enc, &el) < 0 || !(o = bytes_to_json(enc, el, &e))) {
        INTERNAL(&e, "out of memory");
    } else {
        int bad = ln__rpc_put(o, "included", cJSON_CreateBool(r->included));
        bad |= ln__rpc_put(o, "code", r->code ? cJSON_CreateString(ln_errname(r->code))
                                            : cJSON_CreateNull());
        bad |= ln__rpc_put(o, "hash", ln__rpc_hex(r->txid, LN_HASH_LEN, 0));
        if (bad) {
            cJSON_Delete(o);
            o = NULL;
            INTERNAL(&e, "out of memory");
        }
    }
    free(enc);
    call_complete(c, o, o ? NULL : &e);
    batch_unwait(b);
}

static int m_tx_estimate(ln_node *n, const cJSON *p, call *c, cJSON **res, ln__rpc_err *e)
{
    (void)res;
    uint8_t *tx;
    size_t len;
    if (p_tx(p, &tx, &len, e) < 0) return -1;
    int rc = ln_node_dry_run(n, tx, len, on_dry_run, c);
    free(tx);
    if (rc < 0) {                       /* the callback will not run */
        if (rc == LN_EBUSY)
            return ln__rpc_fail(e, rc, "%d queries wait already; try again later",
                                LN_NODE_QUERY_QUEUE);
        return ln__rpc_fail(e, rc, NULL);
    }
    return ASYNC;
}

/* A query on its way: the caller's callback, until the node answers. */
typedef struct {
    ln__rpc_query_cb cb;
    void *ud;
} qwait;

static void on_queried(ln_node *n, int status, const ln_outcome *out, void *ud)
{
    (void)n;
    qwait w = *(qwait *)ud;
    free(ud);
    ln__rpc_err e;
    if (status < 0 || out->code != 0) {
        ln__rpc_fail(&e, status < 0 ? status : out->code, "%s",
                     status == 0 && out->error ? out->error : "");
        if (status == 0) { e.has_gas = 1; e.gas_used = out->gas_used; }
        w.cb(NULL, &e, w.ud);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON *r = !o ? NULL : out->result && out->result_len ? bytes_to_json(out->result, out->result_len, &e)
                                                          : cJSON_CreateNull();
    if (!r) {
        if (o) { cJSON_Delete(o); w.cb(NULL, &e, w.ud); return; }
        INTERNAL(&e, "out of memory");
        w.cb(NULL, &e, w.ud);
        return;
    }
    int bad = ln__rpc_put(o, "result", r);
    bad |= ln__rpc_put(o, "gas_used", ln__rpc_u64(out->gas_used));
    if (bad) {
        cJSON_Delete(o);
        INTERNAL(&e, "out of memory");
        w.cb(NULL, &e, w.ud);
        return;
    }
    w.cb(o, NULL, w.ud);
}

int ln__rpc_query(ln_node *n, const char *contract, const char *method, const cJSON *args,
                  ln__rpc_query_cb cb, void *ud, ln__rpc_err *e)
{
    if (!ln_name_valid(contract, strlen(contract)))
        return PARAMS(e, "contract \"%.40s\" is not an account name (1-12 of a-z 0-9 .)", contract);
    size_t ml = strlen(method);
    if (ml == 0 || ml > LN_RPC_METHOD_MAX) return PARAMS(e, "method must be 1..%d bytes", LN_RPC_METHOD_MAX);
    uint8_t *a = NULL;
    size_t al = 0;
    if (args && !cJSON_IsNull(args)) {
        if (!cJSON_IsArray(args)) return PARAMS(e, "args must be an array");
        int rc = ln__rpc_json_to_msgpack(args, &a, &al);
        if (rc == LN_ENOMEM) return INTERNAL(e, "out of memory");
        if (rc < 0) return PARAMS(e, "args: %s", ln_strerror(rc));
    }
    qwait *w = malloc(sizeof *w);
    if (!w) { free(a); return INTERNAL(e, "out of memory"); }
    w->cb = cb;
    w->ud = ud;
    int rc = ln_node_query(n, contract, method, a, al, on_queried, w);
    free(a);
    if (rc < 0) {                       /* on_queried will not run */
        free(w);
        if (rc == LN_EBUSY)
            return ln__rpc_fail(e, rc, "%d queries wait already; try again later",
                                LN_NODE_QUERY_QUEUE);
        return ln__rpc_fail(e, rc, NULL);
    }
    return 0;
}

static void on_call_queried(cJSON *res, const ln__rpc_err *e, void *ud)
{
    call *c = ud;
    batch *b = c->b;
    call_complete(c, res, e);
    batch_unwait(b);
}

static int m_contract_query(ln_node *n, const cJSON *p, call *c, cJSON **res, ln__rpc_err *e)
{
    (void)res;
    const char *contract, *method;
    if (p_str(p, "contract", &contract, 1, e) < 0 || p_str(p, "method", &method, 1, e) < 0)
        return -1;
    if (ln__rpc_query(n, contract, method, cJSON_GetObjectItemCaseSensitive(p, "args"),
                      on_call_queried, c, e) < 0)
        return -1;
    return ASYNC;                       /* c is answered from on_call_queried */
}

static int m_account_get(ln_node *n, const cJSON *p, call *c, cJSON **res, ln__rpc_err *e)
{
    (void)c;
    const char *name;
    if (p_str(p, "account", &name, 1, e) < 0) return -1;
    if (!ln_name_valid(name, strlen(name)))
        return PARAMS(e, "account \"%.40s\" is not an account name (1-12 of a-z 0-9 .)", name);
    uint8_t *rec = NULL;
    size_t rl = 0;
    int rc = ln_node_account(n, name, &rec, &rl);
    if (rc == LN_ENOTFOUND) return ln__rpc_fail(e, rc, "no account named %s", name);
    if (rc < 0) return ln__rpc_fail(e, rc, NULL);
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
        bad |= ln__rpc_put(j, "account", cJSON_CreateString(name));
        bad |= ln__rpc_put(j, "nonce", ln__rpc_or_null(ln_codec_map_get(&o, "nonce")));
        bad |= ln__rpc_put(j, "pending_nonce", ln__rpc_u64(ln_node_pending_nonce(n, name)));
        bad |= ln__rpc_put(j, "balance", ln__rpc_or_null(ln_codec_map_get(&o, "balance")));
        bad |= ln__rpc_put(perms, "owner", ln__rpc_or_null(ln_codec_map_get(&o, "owner")));
        bad |= ln__rpc_put(perms, "active", ln__rpc_or_null(ln_codec_map_get(&o, "active")));
        bad |= ln__rpc_put(j, "permissions", perms);
        perms = NULL;
        if (code) bad |= ln__rpc_put(j, "code_hash", ln__rpc_hash(code));
        ln_stake st;
        cJSON *ub = cJSON_CreateArray();
        bad |= !ub || ln_node_stake(n, name, &st) < 0;
        for (uint32_t i = 0; !bad && i < st.nunbonding; i++) {
            cJSON *u = cJSON_CreateObject();
            bad |= ln__rpc_push(ub, u);
            bad |= ln__rpc_put(u, "amount", ln__rpc_u64(st.unbonding[i].amount));
            bad |= ln__rpc_put(u, "at", ln__rpc_u64(st.unbonding[i].at));
        }
        if (!bad) bad |= ln__rpc_put(j, "stake", ln__rpc_u64(st.stake));
        bad |= ln__rpc_put(j, "unbonding", ub);
        uint64_t jail_at, until;                /* pos: jailed below height until */
        if (!bad && ln_node_jail(n, name, &jail_at, &until) == 0 && until)
            bad |= ln__rpc_put(j, "jailed_until", ln__rpc_u64(until));
        ln_vote_name votes[LN_VOTES_MAX];
        size_t nv = 0;
        cJSON *vs = cJSON_CreateArray();
        bad |= !vs || ln_node_votes(n, name, votes, &nv) < 0;
        for (size_t i = 0; !bad && i < nv; i++) bad |= ln__rpc_push(vs, cJSON_CreateString(votes[i]));
        bad |= ln__rpc_put(j, "votes", vs);
    }
    cJSON_Delete(perms);
    msgpack_zone_destroy(&z);
    free(rec);
    if (bad) { cJSON_Delete(j); return INTERNAL(e, "out of memory"); }
    *res = j;
    return 0;
}

static int m_state_get(ln_node *n, const cJSON *p, call *c, cJSON **res, ln__rpc_err *e)
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
        if (rc == LN_ENOTFOUND) return ln__rpc_fail(e, rc, "no state at key %.80s", ks);
        return ln__rpc_fail(e, rc, NULL);
    }
    cJSON *j = cJSON_CreateObject();
    int bad = !j;
    if (j) {
        bad |= ln__rpc_put(j, "key", cJSON_CreateString(ks));
        if (rc == 0 && val) {           /* ln_node_state_get: val NULL when absent */
            ln__rpc_err ignore;
            cJSON *v = bytes_to_json(val, vl, &ignore);   /* not msgpack (code): null */
            bad |= ln__rpc_put(j, "value", v ? v : cJSON_CreateNull());
            bad |= ln__rpc_put(j, "raw", ln__rpc_hex(val, vl, 1));
        } else {
            bad |= ln__rpc_put(j, "value", cJSON_CreateNull());
            bad |= ln__rpc_put(j, "raw", cJSON_CreateNull());
        }
        bad |= ln__rpc_put(j, "proof", ln__rpc_hex(proof, pl, 1));
        bad |= ln__rpc_put(j, "height", ln__rpc_u64(height));
        bad |= ln__rpc_put(j, "state_root", ln__rpc_hex(root, LN_HASH_LEN, 0));
    }
    free(val);
    free(proof);
    if (bad) { cJSON_Delete(j); return INTERNAL(e, "out of memory"); }
    *res = j;
    return 0;
}

/* plugin_get {slot, height?}: the plugin of slot in force at height
** (default: the head), with its code. */
static int m_plugin_get(ln_node *n, const cJSON *p, call *c, cJSON **res, ln__rpc_err *e)
{
    (void)c;
    const char *slot;
    if (p_str(p, "slot", &slot, 1, e) < 0) return -1;
    if (ln_slot_of(slot) < 0)
        return PARAMS(e, "slot \"%.40s\" is not a plugin slot (consensus, governance, pricing)", slot);
    int64_t height = -1;
    const cJSON *hv = p ? cJSON_GetObjectItemCaseSensitive(p, "height") : NULL;
    if (hv && !cJSON_IsNull(hv)) {
        uint64_t h = 0;
        if (p_uint(hv, "height", &h, e) < 0) return -1;
        height = (int64_t)h;
    }
    uint8_t *out = NULL;
    size_t ol = 0;
    int rc = ln_node_plugin_get(n, slot, height, &out, &ol);
    if (rc == LN_ENOTFOUND) return ln__rpc_fail(e, rc, "no %s plugin at height %lld", slot, (long long)height);
    if (rc < 0) return ln__rpc_fail(e, rc, NULL);
    *res = bytes_to_json(out, ol, e);
    free(out);
    return *res ? 0 : -1;
}

static const struct { const char *name; method_fn fn; } methods[] = {
    { "plugin_get",     m_plugin_get },
    { "chain_info",     m_chain_info },
    { "block_get",      m_block_get },
    { "tx_submit",      m_tx_submit },
    { "tx_get",         m_tx_get },
    { "tx_estimate",    m_tx_estimate },
    { "contract_query", m_contract_query },
    { "account_get",    m_account_get },
    { "fee_quote",      m_fee_quote },
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
    ln__rpc_err e;
    cJSON *res = NULL;
    int rc = -1;
    method_fn fn = NULL;
    for (int i = 0; methods[i].name; i++)
        if (strcmp(methods[i].name, m->valuestring) == 0) fn = methods[i].fn;
    if (!fn) {
        ln__rpc_fail(&e, LN_RPC_JSON_METHOD, "method not found: %.64s", m->valuestring);
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
    char why[96];
    int rc = ln__rpc_json_check(body, len, why, sizeof why);
    if (rc < 0) {
        cJSON *err = rc == LN_EINVAL ? bad_request(NULL, why)
                                     : response(NULL, NULL, ln__rpc_error(LN_RPC_JSON_PARSE, why, NULL));
        answer_now(done, ud, err);
        return;
    }
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
        ln__rpc_err e;
        INTERNAL(&e, "out of memory");
        answer_now(done, ud, response(NULL, NULL, ln__rpc_err_json(&e)));
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
