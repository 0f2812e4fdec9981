/*
** rpc.c -- the node's HTTP server and its routes (rpc.h): JSON-RPC posts go
** to rpc_call.c; health, metrics, queries by URL, Server-Sent Events and
** the dashboard are answered here.
*/
#include <ctype.h>
#include <inttypes.h>
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
#define PARAMS   LN__RPC_PARAMS

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
    char **cors;                 /* allowed origins ("*": any); NULL: no CORS */
    size_t ncors;
};

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
static void respond_error(ln_http_req *req, int status, const ln__rpc_err *e)
{
    cJSON *o = cJSON_CreateObject();
    if (o && ln__rpc_put(o, "error", ln__rpc_err_json(e)) < 0) { cJSON_Delete(o); o = NULL; }
    respond_json(req, status, o);
}

static void http_done(char *json, void *ud)
{
    ln_http_req *req = ud;
    if (json) ln_http_respond(req, 200, JSON_CT, json, strlen(json));
    else ln_http_respond(req, 204, NULL, NULL, 0);
    free(json);
}

/* 503 for a node that cannot take the query now, 500 for its failure, 400
** for what the query itself did wrong. */
static int query_status(const ln__rpc_err *e)
{
    if (e->code == LN_EBUSY || e->code == LN_ECLOSED) return 503;
    return e->code == LN_RPC_JSON_INTERNAL ? 500 : 400;
}

static void on_route_queried(cJSON *res, const ln__rpc_err *e, void *ud)
{
    ln_http_req *req = ud;
    if (e) respond_error(req, query_status(e), e);
    else respond_json(req, 200, res);
}

static void route_query(ln_rpc *r, ln_http_req *req)
{
    /* /c/CONTRACT/METHOD */
    const char *p = req->path + 3, *slash = strchr(p, '/');
    ln__rpc_err e;
    if (!slash || strchr(slash + 1, '/') || slash == p || !slash[1]) {
        PARAMS(&e, "use /c/<contract>/<method>?args=<JSON array>");
        respond_error(req, 400, &e);
        return;
    }
    char contract[64], method[LN_RPC_METHOD_MAX + 1];
    size_t cl = (size_t)(slash - p), ml = strlen(slash + 1);
    if (cl >= sizeof contract || ml > LN_RPC_METHOD_MAX * 3 ||
        ln_http_unescape(p, cl, contract) < 0) {
        PARAMS(&e, "bad contract in the path");
        respond_error(req, 400, &e);
        return;
    }
    char *mbuf = malloc(ml + 1);
    if (!mbuf || ln_http_unescape(slash + 1, ml, mbuf) < 0 || strlen(mbuf) > LN_RPC_METHOD_MAX) {
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
        char why[96];
        if (ln__rpc_json_check(argtext, al, why, sizeof why) < 0) {
            free(argtext);
            PARAMS(&e, "args: %s", why);
            respond_error(req, 400, &e);
            return;
        }
        args = cJSON_ParseWithLength(argtext, al);
        free(argtext);
        if (!args || !cJSON_IsArray(args)) {
            cJSON_Delete(args);
            PARAMS(&e, "args must be a URL-encoded JSON array");
            respond_error(req, 400, &e);
            return;
        }
    }
    rc = ln__rpc_query(r->node, contract, method, args, on_route_queried, req, &e);
    cJSON_Delete(args);
    if (rc < 0) respond_error(req, query_status(&e), &e);
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
    uint64_t shed, refused;
    ln_http_server_stats(r->srv, &shed, &refused);
    char tail[2048];
    int tl = snprintf(tail, sizeof tail,
        "%s# HELP lunet_rpc_requests_total HTTP requests served by the RPC server.\n"
        "# TYPE lunet_rpc_requests_total counter\n"
        "lunet_rpc_requests_total %" PRIu64 "\n"
        "# HELP lunet_rpc_connections Open HTTP connections.\n"
        "# TYPE lunet_rpc_connections gauge\n"
        "lunet_rpc_connections %zu\n"
        "# HELP lunet_rpc_sse_clients Open /events streams.\n"
        "# TYPE lunet_rpc_sse_clients gauge\n"
        "lunet_rpc_sse_clients %zu\n"
        "# HELP lunet_rpc_connections_shed_total Idle connections closed to let a newcomer in.\n"
        "# TYPE lunet_rpc_connections_shed_total counter\n"
        "lunet_rpc_connections_shed_total %" PRIu64 "\n"
        "# HELP lunet_rpc_connections_refused_total Newcomers closed: every connection was busy.\n"
        "# TYPE lunet_rpc_connections_refused_total counter\n"
        "lunet_rpc_connections_refused_total %" PRIu64 "\n",
        ml && m[ml - 1] != '\n' ? "\n" : "",
        r->requests, ln_http_server_conns(r->srv), r->nstreams, shed, refused);
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
        ln__rpc_put(b, "height", ln__rpc_or_null(hh));
        ln__rpc_put(b, "hash", ln__rpc_hash(ln_codec_map_get(&o, "hash")));
        ln__rpc_put(b, "txs", ln__rpc_u64(txs && txs->type == MSGPACK_OBJECT_ARRAY ? txs->via.array.size : 0));
        ln__rpc_put(b, "time", ln__rpc_or_null(ht));
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
                    ln__rpc_put(j, "height", ln__rpc_or_null(hh));
                    ln__rpc_put(j, "tx", txh[0] ? cJSON_CreateString(txh) : cJSON_CreateNull());
                    ln__rpc_put(j, "contract", ln__rpc_or_null(ln_codec_map_get(ev, "contract")));
                    ln__rpc_put(j, "name", ln__rpc_or_null(ln_codec_map_get(ev, "name")));
                    ln__rpc_put(j, "data", ln__rpc_or_null(ln_codec_map_get(ev, "data")));
                }
                broadcast(r, "contract", j);
            }
        }
    }
    msgpack_zone_destroy(&z);
}

/* SSE `reorg`: {from, to, depth}, from and to {height, hash}. */
static void on_reorg(ln_node *n, const ln_reorg_event *ev, void *ud)
{
    (void)n;
    ln_rpc *r = ud;
    if (!r->streams) return;
    cJSON *o = cJSON_CreateObject(), *from = cJSON_CreateObject(), *to = cJSON_CreateObject();
    if (o && from && to) {
        ln__rpc_put(from, "height", ln__rpc_u64(ev->from_height));
        ln__rpc_put(from, "hash", ln__rpc_hex(ev->from, LN_HASH_LEN, 0));
        ln__rpc_put(to, "height", ln__rpc_u64(ev->to_height));
        ln__rpc_put(to, "hash", ln__rpc_hex(ev->to, LN_HASH_LEN, 0));
        ln__rpc_put(o, "from", from);
        ln__rpc_put(o, "to", to);
        ln__rpc_put(o, "depth", ln__rpc_u64(ev->depth));
        from = to = NULL;
    }
    cJSON_Delete(from);
    cJSON_Delete(to);
    broadcast(r, "reorg", o);
}

static void on_ping(uv_timer_t *t)
{
    ln_rpc *r = t->data;
    static const char ping[] = ": ping\n\n";
    for (sse *s = r->streams; s; s = s->next)
        ln_http_stream_write(s->req, ping, sizeof ping - 1);
}

/* ---- CORS ----------------------------------------------------------------- */

/* o in the form a browser sends in Origin, into out: the scheme and host in
** lower case, the port without leading zeros and left out when it is the
** scheme's default (http 80, https 443), no trailing '/'. "*" stays "*".
** LN_EINVAL unless o is "*" or scheme://host[:port][/] in printable ASCII
** (no path, query, user info, comma or space; a port in 1..65535); a
** written origin that differs from the browser's only in these ways would
** otherwise never match, and nothing would say why. */
static int origin_canon(const char *o, char out[LN_RPC_ORIGIN_MAX + 1])
{
    size_t n = strlen(o);
    if (strcmp(o, "*") == 0) { strcpy(out, "*"); return 0; }
    if (n == 0 || n > LN_RPC_ORIGIN_MAX) return LN_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (o[i] <= ' ' || o[i] > '~' || strchr(",?#@\\", o[i])) return LN_EINVAL;
    const char *sep = strstr(o, "://");
    if (!sep || sep == o || !((o[0] | 0x20) >= 'a' && (o[0] | 0x20) <= 'z')) return LN_EINVAL;
    for (const char *p = o; p < sep; p++)
        if (!isalnum((unsigned char)*p) && !strchr("+-.", *p)) return LN_EINVAL;
    const char *host = sep + 3, *end = o + n;
    if (end > host && end[-1] == '/') end--;                 /* "https://app.example/" */
    if (memchr(host, '/', (size_t)(end - host))) return LN_EINVAL;
    const char *hend = host;
    if (*host == '[') {                                      /* an IPv6 literal */
        while (hend < end && *hend != ']') hend++;
        if (hend == end) return LN_EINVAL;
        hend++;
    } else {
        while (hend < end && *hend != ':') hend++;
    }
    if (hend == host) return LN_EINVAL;
    unsigned long port = 0;
    if (hend < end) {
        if (*hend != ':' || end - hend < 2 || end - hend > 6) return LN_EINVAL;
        for (const char *p = hend + 1; p < end; p++) {
            if (*p < '0' || *p > '9') return LN_EINVAL;
            port = port * 10 + (unsigned long)(*p - '0');
        }
        if (port == 0 || port > 65535) return LN_EINVAL;
    }
    size_t k = 0;
    for (const char *p = o; p < hend; p++) out[k++] = (char)tolower((unsigned char)*p);
    out[k] = '\0';
    size_t sl = (size_t)(sep - o);
    int dflt = (sl == 4 && memcmp(out, "http", 4) == 0 && port == 80) ||
               (sl == 5 && memcmp(out, "https", 5) == 0 && port == 443);
    if (port && !dflt) snprintf(out + k, LN_RPC_ORIGIN_MAX + 1 - k, ":%lu", port);
    return strlen(out) <= LN_RPC_ORIGIN_MAX ? 0 : LN_EINVAL;
}

int ln_rpc_cors(ln_rpc *r, const char *const *origins, size_t n)
{
    if (n > LN_RPC_MAX_CORS) return LN_EINVAL;
    char canon[LN_RPC_ORIGIN_MAX + 1];
    for (size_t i = 0; i < n; i++)
        if (origin_canon(origins[i], canon) < 0) return LN_EINVAL;
    char **list = n ? calloc(n, sizeof *list) : NULL;
    if (n && !list) return LN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        origin_canon(origins[i], canon);
        if (!(list[i] = strdup(canon))) {
            while (i--) free(list[i]);
            free(list);
            return LN_ENOMEM;
        }
    }
    for (size_t i = 0; i < r->ncors; i++) free(r->cors[i]);
    free(r->cors);
    r->cors = list;
    r->ncors = n;
    return 0;
}

/* The request's Origin when CORS lets it in, else NULL. */
static const char *cors_origin(const ln_rpc *r, const ln_http_req *req)
{
    const char *o = r->ncors ? ln_http_req_header(req, "Origin") : NULL;
    if (!o || !*o) return NULL;
    for (size_t i = 0; i < r->ncors; i++)
        if (strcmp(r->cors[i], "*") == 0 || strcmp(r->cors[i], o) == 0) return o;
    return NULL;
}

/* Header names a preflight may ask for: tokens, commas and spaces. */
static int header_list_ok(const char *s)
{
    if (strlen(s) > 512) return 0;
    for (; *s; s++)
        if (!(*s == ',' || *s == ' ' || *s == '-' || *s == '_' || (*s >= '0' && *s <= '9') ||
              (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
            return 0;
    return 1;
}

/* OPTIONS with Access-Control-Request-Method from an allowed origin: 204
** and what it may do; from any other origin: 403. */
static void route_preflight(ln_rpc *r, ln_http_req *req)
{
    const char *o = cors_origin(r, req);
    if (!o) {
        ln__rpc_err e;
        ln__rpc_fail(&e, LN_RPC_JSON_REQUEST, "origin not allowed (see lunet start --cors)");
        respond_error(req, 403, &e);
        return;
    }
    const char *want = ln_http_req_header(req, "Access-Control-Request-Headers");
    ln_http_req_add_header(req, "Access-Control-Allow-Origin", o);
    ln_http_req_add_header(req, "Vary", "Origin");
    ln_http_req_add_header(req, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    ln_http_req_add_header(req, "Access-Control-Allow-Headers",
                           want && *want && header_list_ok(want) ? want : "Content-Type");
    ln_http_req_add_header(req, "Access-Control-Max-Age", "600");
    ln_http_respond(req, 204, NULL, NULL, 0);
}

/* CORS headers for a response to an allowed origin; Vary whenever CORS is on. */
static void add_cors(const ln_rpc *r, ln_http_req *req)
{
    const char *origin = cors_origin(r, req);
    if (origin) {
        ln_http_req_add_header(req, "Access-Control-Allow-Origin", origin);
        ln_http_req_add_header(req, "Vary", "Origin");
    } else if (r->ncors) {
        ln_http_req_add_header(req, "Vary", "Origin");
    }
}

/* The server's own refusals (413, 408, 400) carry CORS headers too, so a
** page reads the status instead of a bare network error. */
static void on_refusal(ln_http_req *req, int status, void *ud)
{
    (void)status;
    add_cors(ud, req);
}

static void on_request(ln_http_req *req, void *ud)
{
    ln_rpc *r = ud;
    const char *m = req->method, *path = req->path;
    int get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    r->requests++;
    ln__rpc_err e;
    if (r->ncors && strcmp(m, "OPTIONS") == 0 &&
        ln_http_req_header(req, "Access-Control-Request-Method")) {
        route_preflight(r, req);
        return;
    }
    add_cors(r, req);
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
        ln__rpc_fail(&e, LN_RPC_JSON_METHOD, "no route %.100s %.200s", m, path);
        respond_error(req, 404, &e);
    }
    return;
not_allowed:
    ln__rpc_fail(&e, LN_RPC_JSON_METHOD, "%s is not allowed on %.200s", m, path);
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
    ln_http_server_on_refusal(r->srv, on_refusal);
    r->open = 1;
    rc = ln_node_subscribe(node, on_block, r);
    if (rc < 0) {
        ln_http_server_close(r->srv, on_srv_closed, r);
        return rc;
    }
    r->subscribed = 1;
    ln_node_watch_reorgs(node, on_reorg, r);
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
    ln_rpc_cors(r, NULL, 0);
    if (r->subscribed) {
        ln_node_unsubscribe(r->node, on_block, r);
        ln_node_watch_reorgs(r->node, NULL, NULL);
    }
    r->subscribed = 0;
    uv_close((uv_handle_t *)&r->ping, on_ping_closed);
    ln_http_server_close(r->srv, on_srv_closed, r);
}

int ln_rpc_port(const ln_rpc *r)
{
    return ln_http_server_port(r->srv);
}
