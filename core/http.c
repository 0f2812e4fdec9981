/*
** http.c -- the HTTP/1.1 server: connections, parsing, responses, streams.
**
** A connection owns two handles (tcp, timer) and is reference counted: one
** reference for its handles (dropped in the last close callback), one for
** each request handed to the handler and not yet finished, one while
** conn_process runs. Its memory goes with the last reference.
**
** Input is appended to c->in and parsed by conn_process. When a request is
** complete the parser is paused and the request dispatched; parsing resumes
** (over the buffered rest) once it is answered. One timer per connection
** does the idle timeout (no request), the request timeout (first byte to
** complete request), the flush of the last response (as long as the client
** reads something every request timeout) and the lingering close (after
** the last byte is written).
*/
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "addr.h"
#include "err.h"
#include "http.h"

#define READ_CHUNK   (64u * 1024)   /* one read's buffer (shared by the server) */
#define INBUF_MAX    (64u * 1024)   /* unparsed input kept before reading stops */
#define LINGER_MS    2000           /* read and drop after the last response */

enum { T_NONE, T_IDLE, T_REQUEST, T_FLUSH, T_LINGER };
enum { H_URL, H_FIELD, H_VALUE };

typedef struct conn conn;

typedef struct req {
    ln_http_req pub;             /* first: handlers see &pub */
    conn *c;                     /* holds a reference; NULL when detached */
    char *arena;                 /* url, then name\0value\0 pairs, path, query */
    size_t alen, acap;
    size_t url_len, hbytes;
    int hstate;
    int hdone;                   /* every header is in: a refusal may read them */
    unsigned nh;
    struct { uint32_t name, value; } h[LN_HTTP_MAX_HEADERS];
    char *body;
    size_t blen, bcap;
    int is_head, streaming;
    char *extra;                 /* response header lines added by the handler */
    size_t elen;
    ln_http_gone_cb gone;
    void *gone_ud;
} req;

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shut;
    http_parser parser;
    ln_http_server *srv;         /* valid until the handles are closed */
    conn *prev, *next;           /* srv->conns while not closing */
    int refs, nclosed;
    int tkind;
    size_t armed_q;              /* unsent bytes when the timer was armed */
    uint64_t since;              /* srv->ticks when it went idle or began a request */
    uint8_t peer[16];            /* the client's IP address (v4 in the first 4) */
    int family;
    unsigned processing : 1, closing : 1, eof : 1, finishing : 1,
             write_blocked : 1, reading : 1;
    int fail_status;             /* set by a parser callback that refuses */
    char *in;                    /* unparsed input: in[inoff..inlen) */
    size_t inoff, inlen, incap;
    req *building;               /* being parsed */
    req *ready;                  /* parsed, about to be dispatched */
    req *pending;                /* with the handler, not yet answered */
    req *stream;                 /* streaming until ended or gone */
};

struct ln_http_server {
    uv_tcp_t listener;
    uv_loop_t *loop;
    ln_http_limits lim;
    ln_http_handler handler;
    void *ud;
    conn *conns;
    size_t nconns;               /* in the list */
    size_t live;                 /* connections whose handles are not closed yet */
    uint64_t shed, refused;      /* connections closed for a newcomer; newcomers closed */
    uint64_t ticks;              /* orders connections' state changes */
    int closing, listener_closed;
    ln_http_close_cb close_cb;
    void *close_ud;
    ln_http_refusal_cb on_refusal;
    int rbuf_busy;
    char rbuf[READ_CHUNK];
};

typedef struct {
    uv_write_t w;
    conn *c;
    char data[];
} wreq;

static const http_parser_settings settings;

/* ---- helpers ------------------------------------------------------------ */

const char *ln_http_status_text(int status)
{
    switch (status) {
#define LN_HTTP_STATUS(num, name, text) case num: return #text;
    HTTP_STATUS_MAP(LN_HTTP_STATUS)
#undef LN_HTTP_STATUS
    }
    return "Unknown";
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static int unescape(const char *s, size_t n, char *out, int plus)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n) return LN_EINVAL;
            int a = hexval((unsigned char)s[i + 1]), b = hexval((unsigned char)s[i + 2]);
            if (a < 0 || b < 0) return LN_EINVAL;
            out[o++] = (char)(a * 16 + b);
            i += 2;
        } else if (plus && s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return (int)o;
}

int ln_http_unescape(const char *s, size_t n, char *out)
{
    return unescape(s, n, out, 0);
}

int ln_http_query_get(const char *query, const char *name, char **out, size_t *len)
{
    size_t nl = strlen(name);
    const char *p = query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t seg = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', seg);
        size_t kl = eq ? (size_t)(eq - p) : seg;
        char *key = malloc(kl + 1);
        if (!key) return LN_ENOMEM;
        int k = unescape(p, kl, key, 1);
        int match = k >= 0 && (size_t)k == nl && memcmp(key, name, nl) == 0;
        free(key);
        if (match) {
            const char *v = eq ? eq + 1 : p + seg;
            size_t vl = eq ? seg - kl - 1 : 0;
            char *val = malloc(vl + 1);
            if (!val) return LN_ENOMEM;
            int r = unescape(v, vl, val, 1);
            if (r < 0) { free(val); return r; }
            *out = val;
            *len = (size_t)r;
            return 0;
        }
        if (!amp) break;
        p = amp + 1;
    }
    return LN_ENOTFOUND;
}

/* ---- requests ----------------------------------------------------------- */

static void conn_unref(conn *c);

static req *req_new(void)
{
    req *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->pub.method = r->pub.path = r->pub.query = r->pub.body = "";
    return r;
}

static void req_free(req *r)
{
    if (!r) return;
    conn *c = r->c;
    free(r->arena);
    free(r->body);
    free(r->extra);
    free(r);
    if (c) conn_unref(c);
}

/* Room for n more bytes: pointers into the arena stay valid until more is
** put than was reserved. -1 when out of memory. */
static int arena_reserve(req *r, size_t n)
{
    if (r->alen + n <= r->acap) return 0;
    size_t cap = r->acap ? r->acap : 256;
    while (cap < r->alen + n) cap *= 2;
    char *a = realloc(r->arena, cap);
    if (!a) return -1;
    r->arena = a;
    r->acap = cap;
    return 0;
}

/* p must not point into the arena unless its room was reserved first. */
static int arena_put(req *r, const void *p, size_t n)
{
    if (arena_reserve(r, n) < 0) return -1;
    if (n) memcpy(r->arena + r->alen, p, n);
    r->alen += n;
    return 0;
}

const char *ln_http_req_header(const ln_http_req *pub, const char *name)
{
    const req *r = (const req *)pub;
    for (unsigned i = 0; i < r->nh; i++) {
        if (strcasecmp(r->arena + r->h[i].name, name) == 0)
            return r->h[i].value == UINT32_MAX ? "" : r->arena + r->h[i].value;
    }
    return NULL;
}

#define EXTRA_MAX 2048               /* bytes of added header lines */

int ln_http_req_add_header(ln_http_req *pub, const char *name, const char *value)
{
    req *r = (req *)pub;
    size_t nl = strlen(name), vl = strlen(value);
    if (nl == 0 || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n")) return LN_EINVAL;
    if (r->elen + nl + vl + 4 > EXTRA_MAX) return LN_ETOOBIG;
    char *e = realloc(r->extra, r->elen + nl + vl + 5);
    if (!e) return LN_ENOMEM;
    r->extra = e;
    r->elen += (size_t)sprintf(e + r->elen, "%s: %s\r\n", name, value);
    return 0;
}

int ln_http_req_alive(const ln_http_req *pub)
{
    const req *r = (const req *)pub;
    return r->c && !r->c->closing;
}

/* ---- connections -------------------------------------------------------- */

static void conn_process(conn *c);
static void conn_close(conn *c);
static void conn_finish(conn *c, const char *raw, size_t n);

static void conn_ref(conn *c) { c->refs++; }

static void conn_unref(conn *c)
{
    if (--c->refs > 0) return;
    free(c->in);
    free(c);
}

static void srv_maybe_done(ln_http_server *srv)
{
    if (!srv->closing || !srv->listener_closed || srv->live > 0) return;
    if (srv->close_cb) srv->close_cb(srv, srv->close_ud);
    free(srv);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    conn *c = h->data;
    if (++c->nclosed < 2) return;
    req *s = c->stream;
    if (s) {
        c->stream = NULL;
        if (s->gone) s->gone(&s->pub, s->gone_ud);
        req_free(s);
    }
    ln_http_server *srv = c->srv;
    c->srv = NULL;
    srv->live--;
    srv_maybe_done(srv);
    conn_unref(c);
}

static void conn_close(conn *c)
{
    if (c->closing) return;
    c->closing = 1;
    ln_http_server *srv = c->srv;
    if (c->prev) c->prev->next = c->next; else srv->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    srv->nconns--;
    req_free(c->building);
    req_free(c->ready);
    c->building = c->ready = NULL;
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static size_t unsent(conn *c)
{
    return uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
}

static void timer_set(conn *c, int kind, uint64_t ms);
static void conn_fail(conn *c, int status);

static void on_timer(uv_timer_t *t)
{
    conn *c = t->data;
    int kind = c->tkind;
    c->tkind = T_NONE;
    if (kind == T_REQUEST && !c->finishing && !c->pending && !c->stream) {
        conn_fail(c, 408);
        return;
    }
    /* A client still reading a response keeps its connection for as long as
    ** it takes: only one that read nothing in a whole period is dropped. */
    size_t q = unsent(c);
    if ((kind == T_IDLE || kind == T_FLUSH) && q > 0 && q < c->armed_q) {
        timer_set(c, kind, kind == T_IDLE ? c->srv->lim.idle_ms : c->srv->lim.request_ms);
        return;
    }
    conn_close(c);
}

static void timer_set(conn *c, int kind, uint64_t ms)
{
    if (c->closing || c->tkind == kind) return;
    c->tkind = kind;
    c->armed_q = unsent(c);
    if (kind == T_IDLE || kind == T_REQUEST) c->since = ++c->srv->ticks;
    if (kind == T_NONE) uv_timer_stop(&c->timer);
    else uv_timer_start(&c->timer, on_timer, ms, 0);
}

static void on_write(uv_write_t *w, int status)
{
    wreq *wr = (wreq *)w;
    conn *c = wr->c;
    free(wr);
    if (c->closing) return;
    if (status < 0) { conn_close(c); return; }
    if (c->write_blocked &&
        uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) <= c->srv->lim.max_outbuf / 2) {
        c->write_blocked = 0;
        conn_process(c);
    }
}

/* Queues head+body as one write. LN_EIO (and the connection closes) on failure. */
static int conn_send(conn *c, const char *head, size_t hl, const void *body, size_t bl)
{
    if (c->closing) return LN_EIO;
    wreq *w = malloc(sizeof *w + hl + bl);
    if (!w) { conn_close(c); return LN_ENOMEM; }
    w->c = c;
    memcpy(w->data, head, hl);
    if (bl) memcpy(w->data + hl, body, bl);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)(hl + bl));
    if (uv_write(&w->w, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
        free(w);
        conn_close(c);
        return LN_EIO;
    }
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > c->srv->lim.max_outbuf)
        c->write_blocked = 1;
    return 0;
}

static void reading_update(conn *c);

static void on_shutdown(uv_shutdown_t *s, int status)
{
    conn *c = s->data;
    if (c->closing) return;
    if (status < 0 || c->eof) { conn_close(c); return; }
    /* Everything is written. Lingering close: read and drop until EOF or
    ** the timer, so a client still sending does not get a reset that eats
    ** our response. */
    uint64_t ms = c->srv->lim.request_ms < LINGER_MS ? c->srv->lim.request_ms : LINGER_MS;
    timer_set(c, T_LINGER, ms);
    reading_update(c);
}

/* Sends raw (may be NULL), then closes after the flush and a short linger. */
static void conn_finish(conn *c, const char *raw, size_t n)
{
    if (c->closing || c->finishing) return;
    if (raw && conn_send(c, raw, n, NULL, 0) < 0) return;
    c->finishing = 1;
    c->tkind = T_NONE;
    timer_set(c, T_FLUSH, c->srv->lim.request_ms);   /* then T_LINGER, in on_shutdown */
    c->shut.data = c;
    if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
        conn_close(c);
}

/* Answers a request refused before the handler saw it, then closes. Once its
** headers are in, the server's refusal callback may add header lines. */
static void conn_fail(conn *c, int status)
{
    char head[256 + EXTRA_MAX];      /* status line, 2 lines, the added ones, a 64-byte body */
    const char *text = ln_http_status_text(status);
    char body[64];
    req *r = c->building;
    if (r && r->hdone && c->srv->on_refusal) c->srv->on_refusal(&r->pub, status, c->srv->ud);
    int bl = snprintf(body, sizeof body, "%s\n", text);
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n%.*s"
                      "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                      status, text, r ? (int)r->elen : 0, r && r->extra ? r->extra : "", bl, body);
    req_free(c->building);
    c->building = NULL;
    conn_finish(c, head, (size_t)hl);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn *c = h->data;
    ln_http_server *srv = c->srv;
    (void)suggested;
    if (srv->rbuf_busy) { *buf = uv_buf_init(NULL, 0); return; }
    srv->rbuf_busy = 1;
    *buf = uv_buf_init(srv->rbuf, sizeof srv->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = s->data;
    if (buf->base == c->srv->rbuf) c->srv->rbuf_busy = 0;
    if (nread == 0 || c->closing) return;
    if (c->finishing || c->stream) {          /* dropped; EOF or error ends it */
        if (nread < 0) conn_close(c);
        return;
    }
    if (nread < 0) {
        if (nread != UV_EOF) { conn_close(c); return; }
        c->eof = 1;
        conn_process(c);
        return;
    }
    if (c->inoff > 0) {
        memmove(c->in, c->in + c->inoff, c->inlen - c->inoff);
        c->inlen -= c->inoff;
        c->inoff = 0;
    }
    if (c->inlen + (size_t)nread > c->incap) {
        size_t cap = c->incap ? c->incap : 4096;
        while (cap < c->inlen + (size_t)nread) cap *= 2;
        char *p = realloc(c->in, cap);
        if (!p) { conn_close(c); return; }
        c->in = p;
        c->incap = cap;
    }
    memcpy(c->in + c->inlen, buf->base, (size_t)nread);
    c->inlen += (size_t)nread;
    conn_process(c);
}

static void reading_update(conn *c)
{
    if (c->closing) return;
    int want = !c->eof && (c->finishing || c->stream || c->inlen - c->inoff < INBUF_MAX);
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
            conn_close(c);
            return;
        }
        c->reading = 1;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

static void dispatch(conn *c)
{
    req *r = c->ready;
    c->ready = NULL;
    r->c = c;
    conn_ref(c);
    c->pending = r;
    timer_set(c, T_NONE, 0);
    c->srv->handler(&r->pub, c->srv->ud);
}

/* Parses buffered input and dispatches complete requests, one at a time. */
static void conn_process(conn *c)
{
    if (c->processing || c->closing) return;
    c->processing = 1;
    conn_ref(c);
    while (!c->closing && !c->finishing && !c->pending && !c->stream &&
           !c->write_blocked && c->inoff < c->inlen) {
        size_t n = http_parser_execute(&c->parser, &settings, c->in + c->inoff,
                                       c->inlen - c->inoff);
        c->inoff += n;
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
            if (c->ready) dispatch(c);
        } else if (e != HPE_OK) {
            conn_fail(c, c->fail_status ? c->fail_status : 400);
        }
    }
    if (c->inoff == c->inlen) c->inoff = c->inlen = 0;
    if (!c->closing && !c->finishing && !c->pending && !c->stream && !c->write_blocked) {
        if (c->eof) {
            if (c->building || c->inoff < c->inlen) conn_close(c);
            else conn_finish(c, NULL, 0);
        } else if (!c->building) {
            timer_set(c, T_IDLE, c->srv->lim.idle_ms);
        }
    }
    reading_update(c);
    c->processing = 0;
    conn_unref(c);
}

/* ---- parser callbacks --------------------------------------------------- */

static int refuse(conn *c, int status)
{
    c->fail_status = status;
    return -1;
}

static int count(conn *c, size_t n)
{
    req *r = c->building;
    r->hbytes += n;
    return r->hbytes > c->srv->lim.max_header ? -1 : 0;
}

static int on_message_begin(http_parser *p)
{
    conn *c = p->data;
    req_free(c->building);
    c->building = req_new();
    if (!c->building) return refuse(c, 500);
    timer_set(c, T_REQUEST, c->srv->lim.request_ms);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    req *r = c->building;
    if (count(c, n) < 0) return refuse(c, 414);
    if (arena_put(r, at, n) < 0) return refuse(c, 500);
    r->url_len += n;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    req *r = c->building;
    if (count(c, n) < 0) return refuse(c, 431);
    if (r->hstate != H_FIELD) {
        if (arena_put(r, "", 1) < 0) return refuse(c, 500);   /* ends url or value */
        if (r->nh == LN_HTTP_MAX_HEADERS) return refuse(c, 431);
        r->h[r->nh].name = (uint32_t)r->alen;
        r->h[r->nh].value = UINT32_MAX;
        r->nh++;
        r->hstate = H_FIELD;
    }
    return arena_put(r, at, n) < 0 ? refuse(c, 500) : 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    req *r = c->building;
    if (count(c, n) < 0) return refuse(c, 431);
    if (r->hstate != H_VALUE) {
        if (arena_put(r, "", 1) < 0) return refuse(c, 500);   /* ends the name */
        r->h[r->nh - 1].value = (uint32_t)r->alen;
        r->hstate = H_VALUE;
    }
    return arena_put(r, at, n) < 0 ? refuse(c, 500) : 0;
}

static int on_headers_complete(http_parser *p)
{
    conn *c = p->data;
    req *r = c->building;
    if (arena_put(r, "", 1) < 0) return refuse(c, 500);
    r->hstate = H_URL;                  /* no more header pieces */
    r->hdone = 1;
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > c->srv->lim.max_body)
        return refuse(c, 413);
    const char *expect = ln_http_req_header(&r->pub, "Expect");
    if (expect && strcasecmp(expect, "100-continue") == 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (conn_send(c, cont, sizeof cont - 1, NULL, 0) < 0) return refuse(c, 500);
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    req *r = c->building;
    if (r->blen + n > c->srv->lim.max_body) return refuse(c, 413);
    if (r->blen + n + 1 > r->bcap) {
        size_t cap = r->bcap ? r->bcap : 1024;
        while (cap < r->blen + n + 1) cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b) return refuse(c, 500);
        r->body = b;
        r->bcap = cap;
    }
    memcpy(r->body + r->blen, at, n);
    r->blen += n;
    r->body[r->blen] = '\0';
    return 0;
}

static int on_message_complete(http_parser *p)
{
    conn *c = p->data;
    req *r = c->building;
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (r->url_len == 0 || http_parser_parse_url(r->arena, r->url_len, 0, &u) != 0)
        return refuse(c, 400);
    /* Path and query are copied from the url in the arena: reserve first, so
    ** that no realloc moves the bytes being copied. */
    size_t plen = (u.field_set & (1 << UF_PATH)) ? u.field_data[UF_PATH].len : 1;
    size_t qlen = (u.field_set & (1 << UF_QUERY)) ? u.field_data[UF_QUERY].len : 0;
    if (arena_reserve(r, plen + 1 + qlen + 1) < 0) return refuse(c, 500);
    size_t path_off = r->alen;
    if (u.field_set & (1 << UF_PATH)) {
        if (arena_put(r, r->arena + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len) < 0)
            return refuse(c, 500);
    } else if (arena_put(r, "/", 1) < 0) {
        return refuse(c, 500);
    }
    if (arena_put(r, "", 1) < 0) return refuse(c, 500);
    size_t query_off = r->alen;
    if ((u.field_set & (1 << UF_QUERY)) &&
        arena_put(r, r->arena + u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len) < 0)
        return refuse(c, 500);
    if (arena_put(r, "", 1) < 0) return refuse(c, 500);
    r->pub.method = http_method_str((enum http_method)p->method);
    r->pub.path = r->arena + path_off;
    r->pub.query = r->arena + query_off;
    r->pub.body = r->body ? r->body : "";
    r->pub.body_len = r->blen;
    r->pub.keep_alive = http_should_keep_alive(p) && !p->upgrade;
    r->is_head = p->method == HTTP_HEAD;
    c->ready = r;
    c->building = NULL;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- responses ---------------------------------------------------------- */

/* Takes the request off its connection: the connection may go on. */
static conn *req_detach(req *r)
{
    conn *c = r->c;
    if (c && c->pending == r) c->pending = NULL;
    if (c && c->stream == r) c->stream = NULL;
    return c;
}

void ln_http_respond(ln_http_req *pub, int status, const char *content_type,
                     const void *body, size_t len)
{
    req *r = (req *)pub;
    conn *c = req_detach(r);
    if (c && !c->closing && !r->streaming) {
        char head[512 + EXTRA_MAX];
        int hl = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\n%s%s%s%.*sContent-Length: %zu\r\n"
                          "Connection: %s\r\n\r\n",
                          status, ln_http_status_text(status),
                          content_type ? "Content-Type: " : "",
                          content_type ? content_type : "", content_type ? "\r\n" : "",
                          (int)r->elen, r->extra ? r->extra : "",
                          len, r->pub.keep_alive ? "keep-alive" : "close");
        if (hl > 0 && (size_t)hl < sizeof head &&
            conn_send(c, head, (size_t)hl, body, r->is_head ? 0 : len) == 0) {
            if (!r->pub.keep_alive) conn_finish(c, NULL, 0);
            else conn_process(c);
        } else {
            conn_close(c);
        }
    }
    req_free(r);
}

int ln_http_stream_begin(ln_http_req *pub, int status, const char *content_type,
                         ln_http_gone_cb gone, void *ud)
{
    req *r = (req *)pub;
    conn *c = r->c;
    if (!c || c->closing || c->pending != r) {
        req_detach(r);
        req_free(r);
        return LN_EIO;
    }
    char head[512 + EXTRA_MAX];
    int hl = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                      "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n"
                      "%.*sConnection: close\r\n\r\n",
                      status, ln_http_status_text(status),
                      content_type ? content_type : "application/octet-stream",
                      (int)r->elen, r->extra ? r->extra : "");
    if (hl <= 0 || (size_t)hl >= sizeof head || conn_send(c, head, (size_t)hl, NULL, 0) < 0) {
        req_detach(r);
        req_free(r);
        return LN_EIO;
    }
    c->pending = NULL;
    c->stream = r;
    r->streaming = 1;
    r->gone = gone;
    r->gone_ud = ud;
    c->inoff = c->inlen = 0;            /* the connection is the stream's now */
    timer_set(c, T_NONE, 0);
    reading_update(c);
    return 0;
}

int ln_http_stream_write(ln_http_req *pub, const void *p, size_t n)
{
    req *r = (req *)pub;
    conn *c = r->c;
    if (!c || c->closing || c->finishing || c->stream != r) return LN_EIO;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) + n > c->srv->lim.max_outbuf) {
        conn_close(c);                   /* a client that does not read */
        return LN_EIO;
    }
    return conn_send(c, p, n, NULL, 0) < 0 ? LN_EIO : 0;
}

void ln_http_stream_end(ln_http_req *pub)
{
    req *r = (req *)pub;
    conn *c = req_detach(r);
    if (c && !c->closing) conn_finish(c, NULL, 0);
    req_free(r);
}

/* ---- the server --------------------------------------------------------- */

static void peer_of(conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) < 0) return;
    c->family = ss.ss_family;
    if (ss.ss_family == AF_INET)
        memcpy(c->peer, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    else if (ss.ss_family == AF_INET6)
        memcpy(c->peer, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
}

static int same_peer(const conn *a, const conn *b)
{
    return a->family == b->family && memcmp(a->peer, b->peer, sizeof a->peer) == 0;
}

/* What a newcomer may push out: 0 an idle keep-alive connection, 1 one
** still sending its request (it had its chance), -1 nothing (a request
** with the handler, a response going out, a stream). */
static int shed_rank(const conn *c)
{
    if (c->closing || c->finishing || c->pending || c->stream || c->ready) return -1;
    if (!c->building && c->tkind == T_IDLE && unsent((conn *)c) == 0) return 0;
    if (c->building && c->tkind == T_REQUEST) return 1;
    return -1;
}

/* The connection to shed for a newcomer (of peer, when like is not NULL):
** the lowest rank, then the longest in that state. NULL if none. */
static conn *shed_pick(ln_http_server *srv, const conn *like)
{
    conn *best = NULL;
    int best_rank = 2;
    for (conn *c = srv->conns; c; c = c->next) {
        if (like && !same_peer(c, like)) continue;
        int r = shed_rank(c);
        if (r < 0) continue;
        if (r < best_rank || (r == best_rank && c->since < best->since)) {
            best = c;
            best_rank = r;
        }
    }
    return best;
}

/* A full server (or a client at its address's limit) sheds an idle
** connection for the newcomer rather than refusing it: a flood of idle
** connections cannot lock the clients out. Counting a peer's connections
** is a scan of at most max_conns entries, done once per connection. */
static void on_connection(uv_stream_t *l, int status)
{
    ln_http_server *srv = l->data;
    if (status < 0 || srv->closing) return;
    conn *c = calloc(1, sizeof *c);
    if (!c) return;
    if (uv_tcp_init(srv->loop, &c->tcp) < 0) { free(c); return; }
    uv_timer_init(srv->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->srv = srv;
    c->refs = 1;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    srv->live++;
    int ok = uv_accept(l, (uv_stream_t *)&c->tcp) == 0;
    if (ok) {
        peer_of(c);
        size_t same = 0;
        for (conn *o = srv->conns; o; o = o->next) same += same_peer(o, c);
        if (same >= srv->lim.max_per_addr) {
            conn *v = shed_pick(srv, c);
            if (v) { conn_close(v); srv->shed++; } else ok = 0;
        }
        if (ok && srv->nconns >= srv->lim.max_conns) {
            conn *v = shed_pick(srv, NULL);
            if (v) { conn_close(v); srv->shed++; } else ok = 0;
        }
    }
    c->next = srv->conns;                /* in the list, so conn_close can unlink it */
    if (srv->conns) srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    if (!ok) {
        srv->refused++;
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    timer_set(c, T_IDLE, srv->lim.idle_ms);
    reading_update(c);
}

static void on_listener_closed(uv_handle_t *h)
{
    ln_http_server *srv = h->data;
    srv->listener_closed = 1;
    srv_maybe_done(srv);
}

static void on_failed_listener_closed(uv_handle_t *h)
{
    free(h->data);
}

int ln_http_server_start(uv_loop_t *loop, const char *addr, const ln_http_limits *lim,
                         ln_http_handler handler, void *ud, ln_http_server **out)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    int rc = ln_addr_parse(addr, &ss);
    if (rc < 0) return rc;
    ln_http_server *srv = calloc(1, sizeof *srv);
    if (!srv) return LN_ENOMEM;
    if (lim) srv->lim = *lim;
    if (!srv->lim.max_header) srv->lim.max_header = LN_HTTP_MAX_HEADER;
    if (!srv->lim.max_body) srv->lim.max_body = LN_HTTP_MAX_BODY;
    if (!srv->lim.max_conns) srv->lim.max_conns = LN_HTTP_MAX_CONNS;
    if (!srv->lim.max_per_addr) srv->lim.max_per_addr = LN_HTTP_MAX_PER_ADDR;
    if (!srv->lim.max_outbuf) srv->lim.max_outbuf = LN_HTTP_MAX_OUTBUF;
    if (!srv->lim.idle_ms) srv->lim.idle_ms = LN_HTTP_IDLE_MS;
    if (!srv->lim.request_ms) srv->lim.request_ms = LN_HTTP_REQUEST_MS;
    srv->loop = loop;
    srv->handler = handler;
    srv->ud = ud;
    if ((rc = uv_tcp_init(loop, &srv->listener)) < 0) { free(srv); return ln_addr_uverr(rc); }
    srv->listener.data = srv;
    if ((rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&ss, 0)) < 0 ||
        (rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection)) < 0) {
        uv_close((uv_handle_t *)&srv->listener, on_failed_listener_closed);
        return ln_addr_uverr(rc);
    }
    /* A write to a socket the peer closed must give EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    *out = srv;
    return 0;
}

int ln_http_server_port(const ln_http_server *srv)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len) < 0) return 0;
    if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

size_t ln_http_server_conns(const ln_http_server *srv)
{
    return srv->nconns;
}

void ln_http_server_on_refusal(ln_http_server *srv, ln_http_refusal_cb cb)
{
    srv->on_refusal = cb;
}

void ln_http_server_stats(const ln_http_server *srv, uint64_t *shed, uint64_t *refused)
{
    *shed = srv->shed;
    *refused = srv->refused;
}

void ln_http_server_close(ln_http_server *srv, ln_http_close_cb cb, void *ud)
{
    if (srv->closing) return;
    srv->closing = 1;
    srv->close_cb = cb;
    srv->close_ud = ud;
    while (srv->conns) conn_close(srv->conns);
    uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
}
