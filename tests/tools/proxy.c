/*
** proxy.c -- lunet-proxy: TCP forwarding between real nodes on loopback,
** with partitions made on command (see usage below).
**
** Each route (LISTEN_PORT=TARGET_PORT) accepts on 127.0.0.1 and pipes bytes
** both ways to 127.0.0.1:TARGET_PORT. A side stops being read while the
** other side has more than HIGH_WATER bytes waiting to be written, and is
** read again below LOW_WATER, so a slow reader slows the writer instead of
** growing our memory. An end of stream is passed on as a shutdown once the
** bytes before it are written; a connection is closed when both directions
** ended, on any error, or when its route is cut.
*/
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "addr.h"
#include "err.h"

#define MAX_ROUTES 64
#define READ_CHUNK (64u * 1024)
#define HIGH_WATER (1u << 20)
#define LOW_WATER  (256u * 1024)
#define CTL_LINE   1024

static const char usage[] =
    "usage: lunet-proxy --control HOST:PORT LISTEN_PORT=TARGET_PORT ...\n"
    "Accepts on 127.0.0.1:LISTEN_PORT and forwards both ways to\n"
    "127.0.0.1:TARGET_PORT. Prints `ready` once every port is bound. The\n"
    "control port takes lines, each answered by one line, `ok ...` or\n"
    "`error <why>`:\n"
    "  cut P1 P2 ...   close every connection through these listen ports, and\n"
    "                  from now on close new ones at once\n"
    "  heal [P1 ...]   lift the cut on these ports (all, without ports)\n"
    "  status          `ok LISTEN=TARGET:open|cut:CONNECTIONS ...`\n"
    "SIGTERM or SIGINT closes everything and exits 0.\n"
    "Exit: 0 done, 1 error, 2 usage.\n";

typedef struct conn conn;

typedef struct {
    uv_tcp_t listener;
    int port, target, cut;
    conn *conns;
    size_t nconns;
} route;

typedef struct {
    uv_tcp_t tcp;
    conn *c;
    int eof, paused, shut;       /* read its end; reading stopped; its write half closed */
} side;

struct conn {
    side a, b;                   /* a: the client; b: the target */
    route *r;
    conn *prev, *next;           /* r->conns while not closing */
    uv_connect_t creq;
    uv_shutdown_t sreq_a, sreq_b;
    int nclosed, closing;
};

typedef struct ctl {
    uv_tcp_t tcp;
    struct ctl *prev, *next;
    int closing;
    size_t len;
    char buf[CTL_LINE];
} ctl;

typedef struct {
    uv_write_t w;                /* w.data: the side written to */
    char *bytes;                 /* freed with the request */
} wreq;

static uv_loop_t *loop;
static route routes[MAX_ROUTES];
static size_t nroutes;
static uv_tcp_t control;
static ctl *ctls;
static uv_signal_t sigterm, sigint;

static void conn_close(conn *c);
static void start_reading(side *s);

/* ---- connections --------------------------------------------------------- */

static side *other(side *s) { return s == &s->c->a ? &s->c->b : &s->c->a; }

static void on_conn_closed(uv_handle_t *h)
{
    side *s = h->data;
    conn *c = s->c;
    if (++c->nclosed == 2) free(c);
}

static void conn_close(conn *c)
{
    if (c->closing) return;
    c->closing = 1;
    route *r = c->r;
    if (c->prev) c->prev->next = c->next; else r->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    r->nconns--;
    uv_close((uv_handle_t *)&c->a.tcp, on_conn_closed);
    uv_close((uv_handle_t *)&c->b.tcp, on_conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h; (void)suggested;
    char *p = malloc(READ_CHUNK);
    *buf = uv_buf_init(p, p ? READ_CHUNK : 0);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    side *s = req->data;
    conn *c = s->c;
    if (c->closing) return;
    if (status < 0) { conn_close(c); return; }
    s->shut = 1;
    if (c->a.shut && c->b.shut) conn_close(c);   /* both directions ended */
}

static void on_write(uv_write_t *w, int status)
{
    wreq *wr = (wreq *)w;
    side *dst = w->data;
    free(wr->bytes);
    free(wr);
    conn *c = dst->c;
    if (c->closing) return;
    if (status < 0) { conn_close(c); return; }
    side *src = other(dst);
    if (src->paused && uv_stream_get_write_queue_size((uv_stream_t *)&dst->tcp) < LOW_WATER) {
        src->paused = 0;
        start_reading(src);
    }
}

/* Ends dst's write half once what was queued before is written. */
static void pass_eof(side *dst)
{
    conn *c = dst->c;
    uv_shutdown_t *req = dst == &c->a ? &c->sreq_a : &c->sreq_b;
    req->data = dst;
    if (uv_shutdown(req, (uv_stream_t *)&dst->tcp, on_shutdown) < 0) conn_close(c);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    side *src = st->data, *dst = other(src);
    conn *c = src->c;
    if (n <= 0 || c->closing) {
        free(buf->base);
        if (c->closing || n == 0) return;
        if (n == UV_EOF) {
            src->eof = 1;
            uv_read_stop(st);
            pass_eof(dst);
        } else {
            conn_close(c);
        }
        return;
    }
    wreq *w = malloc(sizeof *w);
    if (!w) { free(buf->base); conn_close(c); return; }
    w->bytes = buf->base;
    w->w.data = dst;
    uv_buf_t b = uv_buf_init(buf->base, (unsigned)n);
    if (uv_write(&w->w, (uv_stream_t *)&dst->tcp, &b, 1, on_write) < 0) {
        free(w->bytes);
        free(w);
        conn_close(c);
        return;
    }
    if (uv_stream_get_write_queue_size((uv_stream_t *)&dst->tcp) > HIGH_WATER) {
        src->paused = 1;                 /* backpressure: dst is not keeping up */
        uv_read_stop(st);
    }
}

static void start_reading(side *s)
{
    if (s->eof || s->paused) return;
    if (uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read) < 0) conn_close(s->c);
}

static void on_target_connected(uv_connect_t *req, int status)
{
    conn *c = req->data;
    if (c->closing) return;
    if (status < 0) { conn_close(c); return; }
    start_reading(&c->a);
    if (!c->closing) start_reading(&c->b);
}

static void on_route_conn(uv_stream_t *l, int status)
{
    route *r = l->data;
    if (status < 0) return;
    conn *c = calloc(1, sizeof *c);
    if (!c) return;
    c->r = r;
    c->a.c = c->b.c = c;
    uv_tcp_init(loop, &c->a.tcp);
    uv_tcp_init(loop, &c->b.tcp);
    c->a.tcp.data = &c->a;
    c->b.tcp.data = &c->b;
    c->next = r->conns;
    if (r->conns) r->conns->prev = c;
    r->conns = c;
    r->nconns++;
    if (uv_accept(l, (uv_stream_t *)&c->a.tcp) < 0 || r->cut) { conn_close(c); return; }
    uv_tcp_nodelay(&c->a.tcp, 1);
    uv_tcp_nodelay(&c->b.tcp, 1);
    struct sockaddr_in to;
    uv_ip4_addr("127.0.0.1", r->target, &to);
    c->creq.data = c;
    if (uv_tcp_connect(&c->creq, &c->b.tcp, (const struct sockaddr *)&to,
                       on_target_connected) < 0)
        conn_close(c);
}

/* ---- control ------------------------------------------------------------- */

static void on_ctl_closed(uv_handle_t *h) { free(h->data); }

static void ctl_close(ctl *k)
{
    if (k->closing) return;
    k->closing = 1;
    if (k->prev) k->prev->next = k->next; else ctls = k->next;
    if (k->next) k->next->prev = k->prev;
    uv_close((uv_handle_t *)&k->tcp, on_ctl_closed);
}

static void on_reply_written(uv_write_t *w, int status)
{
    wreq *wr = (wreq *)w;
    (void)status;
    free(wr->bytes);
    free(wr);
}

static void reply(ctl *k, const char *text)
{
    size_t n = strlen(text);
    wreq *w = malloc(sizeof *w);
    char *p = malloc(n + 1);
    if (!w || !p) { free(w); free(p); ctl_close(k); return; }
    memcpy(p, text, n);
    p[n] = '\n';
    w->bytes = p;
    uv_buf_t b = uv_buf_init(p, (unsigned)(n + 1));
    if (uv_write(&w->w, (uv_stream_t *)&k->tcp, &b, 1, on_reply_written) < 0) {
        free(p);
        free(w);
        ctl_close(k);
    }
}

static route *route_of(long port)
{
    for (size_t i = 0; i < nroutes; i++)
        if (routes[i].port == port) return &routes[i];
    return NULL;
}

/* The routes named by the words of args (all routes when args is empty and
** all_if_none); NULL and a reason in why otherwise. */
static int pick(char *args, int all_if_none, route **out, size_t *n, char *why, size_t wl)
{
    *n = 0;
    for (char *w = strtok(args, " \t"); w; w = strtok(NULL, " \t")) {
        char *end;
        long p = strtol(w, &end, 10);
        route *r = *end ? NULL : route_of(p);
        if (!r) { snprintf(why, wl, "error unknown port %.32s", w); return -1; }
        if (*n < MAX_ROUTES) out[(*n)++] = r;
    }
    if (*n == 0 && all_if_none)
        for (size_t i = 0; i < nroutes; i++) out[(*n)++] = &routes[i];
    if (*n == 0) { snprintf(why, wl, "error which ports?"); return -1; }
    return 0;
}

static void command(ctl *k, char *line)
{
    char *args = strchr(line, ' ');
    if (args) *args++ = '\0'; else args = line + strlen(line);
    route *rs[MAX_ROUTES];
    size_t n;
    char out[MAX_ROUTES * 32 + 16];
    if (!strcmp(line, "cut") || !strcmp(line, "heal")) {
        int cut = line[0] == 'c';
        if (pick(args, !cut, rs, &n, out, sizeof out) < 0) { reply(k, out); return; }
        for (size_t i = 0; i < n; i++) {
            rs[i]->cut = cut;
            while (cut && rs[i]->conns) conn_close(rs[i]->conns);
        }
        reply(k, "ok");
    } else if (!strcmp(line, "status") && !*args) {
        size_t o = (size_t)snprintf(out, sizeof out, "ok");
        for (size_t i = 0; i < nroutes && o < sizeof out; i++)
            o += (size_t)snprintf(out + o, sizeof out - o, " %d=%d:%s:%zu", routes[i].port,
                                  routes[i].target, routes[i].cut ? "cut" : "open",
                                  routes[i].nconns);
        reply(k, out);
    } else {
        snprintf(out, sizeof out, "error unknown command '%.64s'", line);
        reply(k, out);
    }
}

static void on_ctl_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    ctl *k = h->data;
    (void)suggested;
    *buf = uv_buf_init(k->buf + k->len, (unsigned)(sizeof k->buf - k->len));
}

static void on_ctl_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    ctl *k = st->data;
    (void)buf;
    if (n == 0 || k->closing) return;
    if (n < 0) { ctl_close(k); return; }
    k->len += (size_t)n;
    char *nl;
    while (!k->closing && (nl = memchr(k->buf, '\n', k->len))) {
        *nl = '\0';
        if (nl > k->buf && nl[-1] == '\r') nl[-1] = '\0';
        command(k, k->buf);
        size_t used = (size_t)(nl + 1 - k->buf);
        memmove(k->buf, nl + 1, k->len - used);
        k->len -= used;
    }
    if (k->len == sizeof k->buf) {        /* no newline in a whole buffer */
        reply(k, "error line too long");
        k->len = 0;
        ctl_close(k);
    }
}

static void on_control_conn(uv_stream_t *l, int status)
{
    if (status < 0) return;
    ctl *k = calloc(1, sizeof *k);
    if (!k) return;
    uv_tcp_init(loop, &k->tcp);
    k->tcp.data = k;
    k->next = ctls;
    if (ctls) ctls->prev = k;
    ctls = k;
    if (uv_accept(l, (uv_stream_t *)&k->tcp) < 0 ||
        uv_read_start((uv_stream_t *)&k->tcp, on_ctl_alloc, on_ctl_read) < 0)
        ctl_close(k);
}

/* ---- setup and shutdown -------------------------------------------------- */

static void on_signal(uv_signal_t *s, int signum)
{
    (void)s; (void)signum;
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
    uv_close((uv_handle_t *)&control, NULL);
    while (ctls) ctl_close(ctls);
    for (size_t i = 0; i < nroutes; i++) {
        while (routes[i].conns) conn_close(routes[i].conns);
        uv_close((uv_handle_t *)&routes[i].listener, NULL);
    }
}

static int listen_on(uv_tcp_t *t, const struct sockaddr_storage *ss, uv_connection_cb cb,
                     const char *what)
{
    int rc = uv_tcp_init(loop, t);
    if (rc == 0 && (rc = uv_tcp_bind(t, (const struct sockaddr *)ss, 0)) == 0)
        rc = uv_listen((uv_stream_t *)t, 128, cb);
    if (rc < 0) {
        fprintf(stderr, "lunet-proxy: listen on %s: %s\n", what, uv_strerror(rc));
        return -1;
    }
    return 0;
}

static int port_of(const char *s, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 1 || v > 65535) return -1;
    *out = v;
    return 0;
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("lunet-proxy: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs(" (try --help)\n", stderr);
    return 2;
}

int main(int argc, char **argv)
{
    const char *ctl_addr = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(usage, stdout); return 0; }
        if (!strcmp(a, "--control")) {
            if (++i >= argc) return usage_error("%s needs HOST:PORT", a);
            ctl_addr = argv[i];
            continue;
        }
        char buf[32];
        const char *eq = strchr(a, '=');
        long lp, tp;
        if (!eq || (size_t)(eq - a) >= sizeof buf) return usage_error("bad route '%s'", a);
        memcpy(buf, a, (size_t)(eq - a));
        buf[eq - a] = '\0';
        if (port_of(buf, &lp) < 0 || port_of(eq + 1, &tp) < 0)
            return usage_error("bad route '%s' (want LISTEN_PORT=TARGET_PORT)", a);
        if (route_of(lp)) return usage_error("listen port of '%s' given twice", a);
        if (nroutes == MAX_ROUTES) return usage_error("more than 64 routes at '%s'", a);
        routes[nroutes].port = (int)lp;
        routes[nroutes].target = (int)tp;
        nroutes++;
    }
    struct sockaddr_storage css;
    if (!ctl_addr) return usage_error("%s", "--control HOST:PORT is required");
    if (ln_addr_parse(ctl_addr, &css) < 0) return usage_error("--control: bad address '%s'", ctl_addr);
    if (nroutes == 0) return usage_error("%s", "no LISTEN_PORT=TARGET_PORT given");
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);

    loop = uv_default_loop();
    if (listen_on(&control, &css, on_control_conn, ctl_addr) < 0) return 1;
    for (size_t i = 0; i < nroutes; i++) {
        route *r = &routes[i];
        struct sockaddr_in a;
        char what[32];
        snprintf(what, sizeof what, "127.0.0.1:%d", r->port);
        uv_ip4_addr("127.0.0.1", r->port, &a);
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        memcpy(&ss, &a, sizeof a);
        if (listen_on(&r->listener, &ss, on_route_conn, what) < 0) return 1;
        r->listener.data = r;
    }
    uv_signal_init(loop, &sigterm);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    printf("ready\n");
    uv_run(loop, UV_RUN_DEFAULT);
    return uv_loop_close(loop) == 0 ? 0 : 1;
}
