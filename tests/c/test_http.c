/* test_http.c -- the HTTP server (core/http.c) over real loopback sockets;
** the JSON-RPC layer above it is tested in test_rpc.c.
**
** Each server test runs a real ln_http_server on 127.0.0.1:<free port> in the
** test's loop, and a client thread that speaks HTTP over blocking sockets.
** When the client is done it wakes the loop (uv_async), the server closes,
** and the test checks its counts and that uv_loop_close() returns 0. A
** watchdog timer fails a test that does not finish in 10 s, saying what it
** was waiting for. */
#include <errno.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include "test.h"
#include "err.h"
#include "http.h"

/* ---- fixture ------------------------------------------------------------ */

typedef struct fixture fixture;
struct fixture {
    uv_loop_t loop;
    ln_http_server *srv;
    int port;
    uv_async_t done;
    uv_timer_t watchdog;
    uv_timer_t t;               /* a test's own timer (async responses, streams) */
    int t_used;
    uv_thread_t thread;
    void (*client)(fixture *f);
    ln_http_handler handler;
    const char *waiting_for;
    /* loop side */
    int handled, closed, gone, need_gone, client_done, shut, ticks;
    int alive_at_response;
    int late_ms;                /* when /slow is answered; 50 if 0 */
    atomic_int dispatched;      /* the handler has seen /slow (read by the client) */
    ln_http_req *held;          /* an open stream */
    ln_http_req *late;          /* a request to answer from the timer */
    /* client side (read by the test after the join) */
    int status[4];
    char body[4][256];
    char hdrs[4][1024];
    int eof[4];
    int got_events;
};

static void on_server_closed(ln_http_server *srv, void *ud)
{
    (void)srv;
    fixture *f = ud;
    f->closed++;
}

static void maybe_shutdown(fixture *f)
{
    if (f->shut || !f->client_done || f->gone < f->need_gone || f->late) return;
    f->shut = 1;
    uv_close((uv_handle_t *)&f->watchdog, NULL);
    if (f->t_used && !uv_is_closing((uv_handle_t *)&f->t)) uv_close((uv_handle_t *)&f->t, NULL);
    ln_http_server_close(f->srv, on_server_closed, f);
}

static void on_client_done(uv_async_t *a)
{
    fixture *f = a->data;
    f->client_done = 1;
    uv_close((uv_handle_t *)&f->done, NULL);
    maybe_shutdown(f);
}

static void on_watchdog(uv_timer_t *t)
{
    fixture *f = t->data;
    LN_FAIL("no result in 10 s: %s", f->waiting_for ? f->waiting_for : "the client never finished");
}

static void client_main(void *arg)
{
    fixture *f = arg;
    f->client(f);
    uv_async_send(&f->done);
}

static void run(fixture *f, const ln_http_limits *lim)
{
    ASSERT_EQ(uv_loop_init(&f->loop), 0);
    ASSERT_EQ(ln_http_server_start(&f->loop, "127.0.0.1:0", lim, f->handler, f, &f->srv), 0);
    f->port = ln_http_server_port(f->srv);
    ASSERT(f->port > 0);
    ASSERT_EQ(uv_async_init(&f->loop, &f->done, on_client_done), 0);
    f->done.data = f;
    uv_timer_init(&f->loop, &f->watchdog);
    f->watchdog.data = f;
    uv_timer_start(&f->watchdog, on_watchdog, 10000, 0);
    if (f->t_used) { uv_timer_init(&f->loop, &f->t); f->t.data = f; }
    ASSERT_EQ(uv_thread_create(&f->thread, client_main, f), 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ASSERT_EQ(uv_thread_join(&f->thread), 0);
    ASSERT_EQ(f->closed, 1);
    ASSERT_EQ(uv_loop_close(&f->loop), 0);
}

/* ---- blocking client ---------------------------------------------------- */

typedef struct {
    int fd;
    char buf[16384];
    size_t len;
} cl;

static void cl_open(cl *c, int port)
{
    c->len = 0;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(c->fd >= 0);
    struct timeval tv = { 5, 0 };
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
}

static void cl_close(cl *c)
{
    close(c->fd);
    c->fd = -1;
}

/* Closes with a reset (SO_LINGER 0) instead of a FIN. */
static void cl_reset(cl *c)
{
    struct linger lg = { 1, 0 };
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    cl_close(c);
}

static void cl_send(cl *c, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
        if (w <= 0) return;          /* the server may have closed: the test checks replies */
        s += w;
        n -= (size_t)w;
    }
}

static void cl_puts(cl *c, const char *s) { cl_send(c, s, strlen(s)); }

/* More bytes into the buffer: >0 read, 0 EOF (or reset), -1 timeout. */
static int cl_fill(cl *c)
{
    if (c->len == sizeof c->buf) return -1;
    ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (r > 0) { c->len += (size_t)r; return (int)r; }
    if (r == 0 || errno == ECONNRESET) return 0;
    return -1;
}

static void cl_consume(cl *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Reads one response with a Content-Length (or none: then up to EOF).
** Returns the status, or -1 if the connection ended or timed out first. */
static int cl_response(cl *c, char *body, size_t bcap, char *hdrs, size_t hcap)
{
    char *end;
    for (;;) {
        end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        if (end) break;
        if (cl_fill(c) <= 0) return -1;
    }
    size_t hl = (size_t)(end - c->buf) + 4;
    int status = 0;
    if (sscanf(c->buf, "HTTP/1.1 %d", &status) != 1) return -1;
    char *h = strndup(c->buf, hl);
    if (hdrs) snprintf(hdrs, hcap, "%s", h);
    long clen = -1;
    char *cl_at = strcasestr(h, "\r\nContent-Length:");
    if (cl_at) clen = strtol(cl_at + 17, NULL, 10);
    if (status < 200 || status == 204 || status == 304) clen = 0;
    free(h);
    cl_consume(c, hl);
    if (clen < 0) {                  /* to EOF */
        while (cl_fill(c) > 0) {}
        clen = (long)c->len;
    }
    while (c->len < (size_t)clen)
        if (cl_fill(c) <= 0) return -1;
    if (body) {
        size_t n = (size_t)clen < bcap - 1 ? (size_t)clen : bcap - 1;
        memcpy(body, c->buf, n);
        body[n] = '\0';
    }
    cl_consume(c, (size_t)clen);
    return status;
}

/* 1 if the server closed the connection (EOF or reset) with no more data. */
static int cl_eof(cl *c)
{
    if (c->len) return 0;
    return cl_fill(c) == 0;
}

static void simple_get(fixture *f, int i, const char *path)
{
    cl c;
    cl_open(&c, f->port);
    char req[256];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    cl_puts(&c, req);
    f->status[i] = cl_response(&c, f->body[i], sizeof f->body[i], f->hdrs[i], sizeof f->hdrs[i]);
    cl_close(&c);
}

/* ---- handlers ----------------------------------------------------------- */

/* Echoes method, path, query, a header and the body length. */
static void h_echo(ln_http_req *req, void *ud)
{
    fixture *f = ud;
    f->handled++;
    char buf[256];
    const char *x = ln_http_req_header(req, "x-test");
    int n = snprintf(buf, sizeof buf, "%s %s ?%s x=%s len=%zu", req->method, req->path,
                     req->query, x ? x : "-", req->body_len);
    ln_http_respond(req, 200, "text/plain", buf, (size_t)n);
}

static void on_late(uv_timer_t *t)
{
    fixture *f = t->data;
    ln_http_req *req = f->late;
    f->late = NULL;
    f->alive_at_response = ln_http_req_alive(req);
    ln_http_respond(req, 200, "text/plain", "late", 4);
    maybe_shutdown(f);
}

/* /slow is answered 50 ms later from a timer; anything else at once. */
static void h_async(ln_http_req *req, void *ud)
{
    fixture *f = ud;
    f->handled++;
    if (strcmp(req->path, "/slow") == 0) {
        f->late = req;
        atomic_store(&f->dispatched, 1);
        uv_timer_start(&f->t, on_late, f->late_ms ? (uint64_t)f->late_ms : 50, 0);
        return;
    }
    ln_http_respond(req, 200, "text/plain", "fast", 4);
}

/* ---- server tests ------------------------------------------------------- */

static void c_one_get(fixture *f) { simple_get(f, 0, "/hello/w%20x?a=1&b=2"); }

TEST(http_get_returns_the_handlers_response)
{
    fixture f = { .client = c_one_get, .handler = h_echo };
    run(&f, NULL);
    ASSERT_EQ(f.handled, 1);
    ASSERT_EQ(f.status[0], 200);
    ASSERT_STR(f.body[0], "GET /hello/w%20x ?a=1&b=2 x=- len=0");
    ASSERT(strstr(f.hdrs[0], "Content-Type: text/plain\r\n"));
    ASSERT(strstr(f.hdrs[0], "Connection: keep-alive\r\n"));
}

static void c_keep_alive(fixture *f)
{
    cl c;
    cl_open(&c, f->port);
    cl_puts(&c, "GET /one HTTP/1.1\r\nHost: x\r\nX-Test: first\r\n\r\n");
    f->status[0] = cl_response(&c, f->body[0], sizeof f->body[0], NULL, 0);
    cl_puts(&c, "POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    f->status[1] = cl_response(&c, f->body[1], sizeof f->body[1], NULL, 0);
    cl_close(&c);
}

TEST(http_keep_alive_serves_two_requests_on_one_connection)
{
    fixture f = { .client = c_keep_alive, .handler = h_echo };
    run(&f, NULL);
    ASSERT_EQ(f.handled, 2);
    ASSERT_EQ(f.status[0], 200);
    ASSERT_STR(f.body[0], "GET /one ? x=first len=0");
    ASSERT_EQ(f.status[1], 200);
    ASSERT_STR(f.body[1], "POST /two ? x=- len=5");
}

static void c_pipelined(fixture *f)
{
    cl c;
    cl_open(&c, f->port);
    cl_puts(&c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
    f->status[0] = cl_response(&c, f->body[0], sizeof f->body[0], NULL, 0);
    f->status[1] = cl_response(&c, f->body[1], sizeof f->body[1], NULL, 0);
    cl_close(&c);
}

TEST(http_pipelined_requests_are_answered_in_order)
{
    fixture f = { .client = c_pipelined, .handler = h_async, .t_used = 1 };
    run(&f, NULL);
    ASSERT_EQ(f.handled, 2);
    ASSERT_STR(f.body[0], "late");
    ASSERT_STR(f.body[1], "fast");
}

static void c_big_content_length(fixture *f)
{
    cl c;
    cl_open(&c, f->port);
    cl_puts(&c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\nabc");
    f->status[0] = cl_response(&c, f->body[0], sizeof f->body[0], f->hdrs[0], sizeof f->hdrs[0]);
    f->eof[0] = cl_eof(&c);
    cl_close(&c);
}

TEST(http_body_over_limit_by_content_length_gets_413)
{
    fixture f = { .client = c_big_content_length, .handler = h_echo };
    run(&f, NULL);
    ASSERT_EQ(f.handled, 0);
    ASSERT_EQ(f.status[0], 413);
    ASSERT(strstr(f.hdrs[0], "Connection: close\r\n"));
    ASSERT_EQ(f.eof[0], 1);
}

static void c_big_chunked(fixture *f)
{
    cl c;
    cl_open(&c, f->port);
    cl_puts(&c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[600];
    memset(chunk, 'a', sizeof chunk);
    for (int i = 0; i < 3; i++) {
        cl_puts(&c, "258\r\n");      /* 600 bytes */
        cl_send(&c, chunk, sizeof chunk);
        cl_puts(&c, "\r\n");
    }
    f->status[0] = cl_response(&c, f->body[0], sizeof f->body[0], NULL, 0);
    f->eof[0] = cl_eof(&c);
    cl_close(&c);
}

TEST(http_chunked_body_over_limit_gets_413)
{
    fixture f = { .client = c_big_chunked, .handler = h_echo };
    ln_http_limits lim = { .max_body = 1000 };
    run(&f, &lim);
    ASSERT_EQ(f.handled, 0);
    ASSERT_EQ(f.status[0], 413);
    ASSERT_EQ(f.eof[0], 1);
}

static void c_big_headers(fixture *f)
{
    cl c;
    cl_open(&c, f->port);
    cl_puts(&c, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
    char pad[9000];
    memset(pad, 'b', sizeof pad);
    cl_send(&c, pad, sizeof pad);
    cl_puts(&c, "\r\n\r\n");
    f->status[0] = cl_response(&c, f->body[0], sizeof f->body[0], NULL, 0);
    f->eof[0] = cl_eof(&c);
    cl_close(&c);
}

TEST(http_headers_over_limit_get_431_and_close)
{
    fixture f = { .client = c_big_headers, .handler = h_echo };
    run(&f, NULL);
    ASSERT_EQ(f.handled, 0);
    ASSERT_EQ(f.status[0], 431);
    ASSERT_EQ(f.eof[0], 1);
}

static void c_garbage(fixture *f)
{
    cl c;
    cl_open(&c, f->port);
    cl_send(&c, "\x01\x02\xff garbage \x00\r\n\r\n", 16);
    f->status[0] = cl_response(&c, f->body[0], sizeof f->body[0], NULL, 0);
    f->eof[0] = cl_eof(&c);
    cl_close(&c);
    simple_get(f, 1, "/after");
}

TEST(http_garbage_gets_400_and_the_next_connection_is_served)
{
    fixture f = { .client = c_garbage, .handler = h_echo };
    run(&f, NULL);
    ASSERT_EQ(f.status[0], 400);
    ASSERT_EQ(f.eof[0], 1);
    ASSERT_EQ(f.status[1], 200);
    ASSERT_STR(f.body[1], "GET /after ? x=- len=0");
    ASSERT_EQ(f.handled, 1);
}

static void c_slow(fixture *f) { simple_get(f, 0, "/slow"); }

TEST(http_async_response_after_a_timer_reaches_the_client)
{
    fixture f = { .client = c_slow, .handler = h_async, .t_used = 1 };
    run(&f, NULL);
    ASSERT_EQ(f.handled, 1);
    ASSERT_EQ(f.status[0], 200);
    ASSERT_STR(f.body[0], "late");
    ASSERT_EQ(f.alive_at_response, 1);
}

/* Until the handler holds /slow (bounded: the watchdog fails the test). */
static void wait_dispatched(fixture *f)
{
    while (!atomic_load(&f->dispatched)) usleep(1000);
}

/* Resets the connection once the server holds the request. */
static void c_reset_early(fixture *f)
{
    cl c;
    cl_open(&c, f->port);
    cl_puts(&c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_dispatched(f);               /* the answer comes 500 ms later */
    cl_reset(&c);
}

TEST(http_client_reset_before_an_async_response_drops_it_safely)
{
    fixture f = { .client = c_reset_early, .handler = h_async, .t_used = 1, .late_ms = 500,
                  .waiting_for = "the handler to get /slow" };
    f.alive_at_response = -1;
    run(&f, NULL);
    ASSERT_EQ(f.handled, 1);
    ASSERT_EQ(f.alive_at_response, 0);   /* the server saw the reset before answering */
}

static void c_close_early(fixture *f)
{
    cl c;
    cl_open(&c, f->port);
    cl_puts(&c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_dispatched(f);
    cl_close(&c);                     /* the late response goes to a closed socket */
}

TEST(http_client_close_before_an_async_response_does_not_crash)
{
    fixture f = { .client = c_close_early, .handler = h_async, .t_used = 1, .late_ms = 200,
                  .waiting_for = "the handler to get /slow" };
    f.alive_at_response = -1;
    run(&f, NULL);
    ASSERT_EQ(f.handled, 1);
    ASSERT_NE(f.alive_at_response, -1);
}

/* Three idle connections on a server of two: the newest pushes out the one
** idle the longest. */
static void c_too_many(fixture *f)
{
    cl a, b, x;
    cl_open(&a, f->port);
    cl_puts(&a, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    f->status[0] = cl_response(&a, NULL, 0, NULL, 0);
    cl_open(&b, f->port);
    cl_puts(&b, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
    f->status[1] = cl_response(&b, NULL, 0, NULL, 0);
    cl_open(&x, f->port);             /* the third: a goes */
    cl_puts(&x, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
    f->status[2] = cl_response(&x, NULL, 0, NULL, 0);
    f->eof[0] = cl_eof(&a);
    cl_puts(&b, "GET /b2 HTTP/1.1\r\nHost: x\r\n\r\n");   /* b stays */
    f->status[3] = cl_response(&b, NULL, 0, NULL, 0);
    cl_close(&x);
    cl_close(&a);
    cl_close(&b);
}

TEST(http_a_full_server_sheds_its_longest_idle_connection_for_a_newcomer)
{
    fixture f = { .client = c_too_many, .handler = h_echo };
    ln_http_limits lim = { .max_conns = 2 };
    run(&f, &lim);
    ASSERT_EQ(f.status[0], 200);
    ASSERT_EQ(f.status[1], 200);
    ASSERT_EQ(f.status[2], 200);
    ASSERT_EQ(f.eof[0], 1);
    ASSERT_EQ(f.status[3], 200);
    ASSERT_EQ(f.handled, 4);
}

TEST(http_an_address_at_its_limit_sheds_its_own_longest_idle_connection)
{
    fixture f = { .client = c_too_many, .handler = h_echo };
    ln_http_limits lim = { .max_conns = 100, .max_per_addr = 2 };
    run(&f, &lim);
    ASSERT_EQ(f.status[2], 200);
    ASSERT_EQ(f.eof[0], 1);
    ASSERT_EQ(f.status[3], 200);
}

/* a's request is with the handler (/slow, answered 300 ms later) when x
** comes: nothing can go for x, so x is closed and a still gets its answer. */
static void c_busy_full(fixture *f)
{
    cl a, x;
    cl_open(&a, f->port);
    cl_puts(&a, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int i = 0; i < 500 && !atomic_load(&f->dispatched); i++) usleep(10000);
    cl_open(&x, f->port);
    cl_puts(&x, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
    f->eof[1] = cl_eof(&x);
    f->status[0] = cl_response(&a, f->body[0], sizeof f->body[0], NULL, 0);
    cl_close(&x);
    cl_close(&a);
}

TEST(http_a_full_server_of_busy_connections_closes_the_newcomer)
{
    fixture f = { .client = c_busy_full, .handler = h_async, .t_used = 1, .late_ms = 300 };
    ln_http_limits lim = { .max_conns = 1 };
    run(&f, &lim);
    ASSERT_EQ(f.eof[1], 1);
    ASSERT_EQ(f.status[0], 200);
    ASSERT_STR(f.body[0], "late");
}

static void on_stream_gone(ln_http_req *req, void *ud)
{
    (void)req;
    fixture *f = ud;
    f->gone++;
    f->held = NULL;
    if (f->t_used) uv_timer_stop(&f->t);
    maybe_shutdown(f);
}

static void on_tick(uv_timer_t *t)
{
    fixture *f = t->data;
    if (!f->held) return;
    char ev[64];
    int n = snprintf(ev, sizeof ev, "event: tick\ndata: %d\n\n", ++f->ticks);
    ASSERT_EQ(ln_http_stream_write(f->held, ev, (size_t)n), 0);
    if (f->ticks == 2) uv_timer_stop(t);
}

static void h_stream(ln_http_req *req, void *ud)
{
    fixture *f = ud;
    f->handled++;
    ASSERT_EQ(ln_http_stream_begin(req, 200, "text/event-stream", on_stream_gone, f), 0);
    f->held = req;
    if (f->t_used) uv_timer_start(&f->t, on_tick, 20, 20);
}

static void c_sse(fixture *f)
{
    cl c;
    cl_open(&c, f->port);
    cl_puts(&c, "GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n");
    while (!memmem(c.buf, c.len, "data: 2\n\n", 9))
        if (cl_fill(&c) <= 0) break;
    f->got_events = memmem(c.buf, c.len, "event: tick\ndata: 1\n\n", 21) &&
                    memmem(c.buf, c.len, "event: tick\ndata: 2\n\n", 21);
    snprintf(f->hdrs[0], sizeof f->hdrs[0], "%.*s", (int)c.len, c.buf);
    cl_close(&c);
}

TEST(http_sse_stream_gets_two_events_and_notices_the_client_close)
{
    fixture f = { .client = c_sse, .handler = h_stream, .t_used = 1, .need_gone = 1,
                  .waiting_for = "the stream's gone callback after the client closed" };
    run(&f, NULL);
    ASSERT_EQ(f.handled, 1);
    ASSERT_EQ(f.got_events, 1);
    ASSERT(strstr(f.hdrs[0], "HTTP/1.1 200 OK\r\n"));
    ASSERT(strstr(f.hdrs[0], "Content-Type: text/event-stream\r\n"));
    ASSERT_EQ(f.gone, 1);
}

/* Opens a stream and keeps it; the server is closed under it. */
static void c_sse_stays(fixture *f)
{
    cl c;
    cl_open(&c, f->port);
    cl_puts(&c, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    while (!memmem(c.buf, c.len, "\r\n\r\n", 4))
        if (cl_fill(&c) <= 0) break;
    c.len = 0;
    uv_async_send(&f->done);          /* the server closes now ... */
    f->eof[0] = cl_eof(&c);           /* ... and the client sees the end */
    cl_close(&c);
}

static void client_no_done(void *arg)
{
    fixture *f = arg;
    f->client(f);
}

TEST(http_server_close_ends_open_streams_and_closes_every_handle)
{
    fixture f = { .client = c_sse_stays, .handler = h_stream };
    ASSERT_EQ(uv_loop_init(&f.loop), 0);
    ASSERT_EQ(ln_http_server_start(&f.loop, "127.0.0.1:0", NULL, h_stream, &f, &f.srv), 0);
    f.port = ln_http_server_port(f.srv);
    uv_async_init(&f.loop, &f.done, on_client_done);
    f.done.data = &f;
    uv_timer_init(&f.loop, &f.watchdog);
    f.watchdog.data = &f;
    uv_timer_start(&f.watchdog, on_watchdog, 10000, 0);
    ASSERT_EQ(uv_thread_create(&f.thread, client_no_done, &f), 0);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    ASSERT_EQ(uv_thread_join(&f.thread), 0);
    ASSERT_EQ(f.handled, 1);
    ASSERT_EQ(f.gone, 1);             /* from the server's close */
    ASSERT_EQ(f.closed, 1);
    ASSERT_EQ(f.eof[0], 1);
    ASSERT_EQ(uv_loop_close(&f.loop), 0);
}

static void c_idle(fixture *f)
{
    cl c;
    cl_open(&c, f->port);
    cl_puts(&c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    f->status[0] = cl_response(&c, NULL, 0, NULL, 0);
    f->eof[0] = cl_eof(&c);           /* nothing sent: closed after idle_ms */
    cl_close(&c);
}

TEST(http_idle_keep_alive_connection_is_closed_after_the_timeout)
{
    fixture f = { .client = c_idle, .handler = h_echo };
    ln_http_limits lim = { .idle_ms = 100 };
    run(&f, &lim);
    ASSERT_EQ(f.status[0], 200);
    ASSERT_EQ(f.eof[0], 1);
}

static void c_incomplete(fixture *f)
{
    cl c;
    cl_open(&c, f->port);
    cl_puts(&c, "GET /a HTTP/1.1\r\nHost: x\r\n");   /* never ends */
    f->status[0] = cl_response(&c, NULL, 0, NULL, 0);
    f->eof[0] = cl_eof(&c);
    cl_close(&c);
}

TEST(http_incomplete_request_gets_408_after_the_request_timeout)
{
    fixture f = { .client = c_incomplete, .handler = h_echo };
    ln_http_limits lim = { .request_ms = 100 };
    run(&f, &lim);
    ASSERT_EQ(f.handled, 0);
    ASSERT_EQ(f.status[0], 408);
    ASSERT_EQ(f.eof[0], 1);
}

static void c_http10(fixture *f)
{
    cl c;
    cl_open(&c, f->port);
    cl_puts(&c, "GET /old HTTP/1.0\r\n\r\n");
    f->status[0] = cl_response(&c, f->body[0], sizeof f->body[0], f->hdrs[0], sizeof f->hdrs[0]);
    f->eof[0] = cl_eof(&c);
    cl_close(&c);
}

TEST(http_10_request_without_keep_alive_is_closed_after_the_response)
{
    fixture f = { .client = c_http10, .handler = h_echo };
    run(&f, NULL);
    ASSERT_EQ(f.status[0], 200);
    ASSERT(strstr(f.hdrs[0], "Connection: close\r\n"));
    ASSERT_EQ(f.eof[0], 1);
}

static void c_expect(fixture *f)
{
    cl c;
    cl_open(&c, f->port);
    cl_puts(&c, "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
    f->status[0] = cl_response(&c, NULL, 0, NULL, 0);     /* the interim 100 */
    cl_puts(&c, "abc");
    f->status[1] = cl_response(&c, f->body[1], sizeof f->body[1], NULL, 0);
    cl_close(&c);
}

TEST(http_expect_100_continue_gets_the_interim_response)
{
    fixture f = { .client = c_expect, .handler = h_echo };
    run(&f, NULL);
    ASSERT_EQ(f.status[0], 100);
    ASSERT_EQ(f.status[1], 200);
    ASSERT_STR(f.body[1], "POST /e ? x=- len=3");
}

/* Headers with empty values, and many headers: parsed, not confused. */
static void c_odd_headers(fixture *f)
{
    cl c;
    cl_open(&c, f->port);
    cl_puts(&c, "GET /h HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Test: v\r\n\r\n");
    f->status[0] = cl_response(&c, f->body[0], sizeof f->body[0], NULL, 0);
    cl_close(&c);
}

TEST(http_empty_header_value_does_not_shift_the_next_header)
{
    fixture f = { .client = c_odd_headers, .handler = h_echo };
    run(&f, NULL);
    ASSERT_EQ(f.status[0], 200);
    ASSERT_STR(f.body[0], "GET /h ? x=v len=0");
}

/* Answers the query's length if the path is /health and the query is all
** 'x'; else 500 with what it saw. */
static void h_url_check(ln_http_req *req, void *ud)
{
    fixture *f = ud;
    f->handled++;
    size_t n = strlen(req->query);
    int ok = strcmp(req->path, "/health") == 0 && strspn(req->query, "x") == n;
    char buf[64];
    int bl = snprintf(buf, sizeof buf, "%zu", n);
    if (ok) ln_http_respond(req, 200, "text/plain", buf, (size_t)bl);
    else ln_http_respond(req, 500, "text/plain", req->path, strlen(req->path));
}

#define URL_MAX_X 2100

/* GET /health?xxx... for every query length from 0 to URL_MAX_X on one
** connection: the url's copies cross each doubling of the request's arena
** (256, 512, 1024, 2048 bytes with the headers). */
static void c_every_url_length(fixture *f)
{
    cl c;
    cl_open(&c, f->port);
    char *req = malloc(URL_MAX_X + 64);
    ASSERT(req != NULL);
    f->status[0] = 200;
    for (int n = 0; n <= URL_MAX_X; n++) {
        int hl = snprintf(req, 64, "GET /health%s", n ? "?" : "");
        memset(req + hl, 'x', (size_t)n);
        snprintf(req + hl + n, 64, " HTTP/1.1\r\nHost: x\r\n\r\n");
        cl_puts(&c, req);
        char body[64], want[32];
        int st = cl_response(&c, body, sizeof body, NULL, 0);
        snprintf(want, sizeof want, "%d", n);
        if (st != 200 || strcmp(body, want) != 0) {
            f->status[0] = st;
            snprintf(f->body[0], sizeof f->body[0], "query of %d x: %d %.60s", n, st, body);
            break;
        }
    }
    free(req);
    cl_close(&c);
}

TEST(http_path_and_query_survive_every_url_length)
{
    fixture f = { .client = c_every_url_length, .handler = h_url_check };
    run(&f, NULL);
    if (f.status[0] != 200) LN_FAIL("%s", f.body[0]);
}

#define BIG_BODY (16u << 20)

/* Answers a BIG_BODY-byte body. */
static void h_big(ln_http_req *req, void *ud)
{
    fixture *f = ud;
    f->handled++;
    char *body = malloc(BIG_BODY);
    ASSERT(body != NULL);
    memset(body, 'b', BIG_BODY);
    ln_http_respond(req, 200, "application/octet-stream", body, BIG_BODY);
    free(body);
}

/* Asks for the big body with Connection: close and reads it in 64 KiB
** steps with a pause after each: far slower than the server writes, over
** many request timeouts (lim.request_ms), never idle for one. */
static void c_slow_reader(fixture *f)
{
    cl c;
    c.len = 0;
    c.fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(c.fd >= 0);
    int rcvbuf = 64 * 1024;
    setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct timeval tv = { 5, 0 };
    setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)f->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(c.fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cl_puts(&c, "GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    static char chunk[64 * 1024];
    size_t total = 0, body_at = 0;
    char head[512] = "";
    for (;;) {
        ssize_t r = recv(c.fd, chunk, sizeof chunk, 0);
        if (r <= 0) break;
        if (total < sizeof head - 1) {
            size_t k = (size_t)r < sizeof head - 1 - total ? (size_t)r : sizeof head - 1 - total;
            memcpy(head + total, chunk, k);
            char *e = strstr(head, "\r\n\r\n");
            if (e && !body_at) body_at = (size_t)(e - head) + 4;
        }
        total += (size_t)r;
        usleep(6000);
    }
    f->status[0] = atoi(head + 9);
    snprintf(f->body[0], sizeof f->body[0], "%zu", body_at ? total - body_at : 0);
    cl_close(&c);
}

TEST(http_slow_reader_gets_a_whole_large_response_before_the_close)
{
    fixture f = { .client = c_slow_reader, .handler = h_big };
    ln_http_limits lim = { .request_ms = 1000 };
    run(&f, &lim);
    ASSERT_EQ(f.status[0], 200);
    char want[32];
    snprintf(want, sizeof want, "%u", BIG_BODY);
    ASSERT_STR(f.body[0], want);
}

TEST(http_query_get_finds_and_decodes_parameters)
{
    char *v;
    size_t n;
    ASSERT_EQ(ln_http_query_get("a=1&args=%5B1%2C%22x+y%22%5D&b", "args", &v, &n), 0);
    ASSERT_STR(v, "[1,\"x y\"]");
    ASSERT_EQ(n, 9);
    free(v);
    ASSERT_EQ(ln_http_query_get("a=1&b", "b", &v, &n), 0);
    ASSERT_STR(v, "");
    free(v);
    ASSERT_EQ(ln_http_query_get("a=1", "args", &v, &n), LN_ENOTFOUND);
    ASSERT_EQ(ln_http_query_get("", "args", &v, &n), LN_ENOTFOUND);
    ASSERT_EQ(ln_http_query_get("args=%zz", "args", &v, &n), LN_EINVAL);
    ASSERT_EQ(ln_http_query_get("args=%4", "args", &v, &n), LN_EINVAL);
    char out[16];
    ASSERT_EQ(ln_http_unescape("a%2Fb+c", 7, out), 5);
    ASSERT_STR(out, "a/b+c");
}

static void h_never(ln_http_req *req, void *ud) { (void)ud; ln_http_respond(req, 500, NULL, NULL, 0); }
static void count_close(ln_http_server *s, void *ud) { (void)s; (*(int *)ud)++; }

TEST(http_start_refuses_bad_addresses_and_an_address_in_use)
{
    uv_loop_t loop;
    ln_http_server *a = NULL, *b = NULL;
    ASSERT_EQ(uv_loop_init(&loop), 0);
    ASSERT_EQ(ln_http_server_start(&loop, "127.0.0.1", NULL, h_never, NULL, &b), LN_EINVAL);
    ASSERT_EQ(ln_http_server_start(&loop, "127.0.0.1:99999", NULL, h_never, NULL, &b), LN_EINVAL);
    ASSERT_EQ(ln_http_server_start(&loop, "nohost:80", NULL, h_never, NULL, &b), LN_EINVAL);
    ASSERT_EQ(ln_http_server_start(&loop, "[::1:80", NULL, h_never, NULL, &b), LN_EINVAL);
    ASSERT_EQ(ln_http_server_start(&loop, "localhost:0", NULL, h_never, NULL, &a), 0);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ln_http_server_port(a));
    ASSERT_EQ(ln_http_server_start(&loop, addr, NULL, h_never, NULL, &b), LN_EEXIST);
    ASSERT(b == NULL);
    int closed = 0;
    ln_http_server_close(a, count_close, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ(closed, 1);
    ASSERT_EQ(uv_loop_close(&loop), 0);
}

static const ln_test tests[] = {
    T(http_get_returns_the_handlers_response),
    T(http_keep_alive_serves_two_requests_on_one_connection),
    T(http_pipelined_requests_are_answered_in_order),
    T(http_body_over_limit_by_content_length_gets_413),
    T(http_chunked_body_over_limit_gets_413),
    T(http_headers_over_limit_get_431_and_close),
    T(http_garbage_gets_400_and_the_next_connection_is_served),
    T(http_async_response_after_a_timer_reaches_the_client),
    T(http_client_reset_before_an_async_response_drops_it_safely),
    T(http_client_close_before_an_async_response_does_not_crash),
    T(http_a_full_server_sheds_its_longest_idle_connection_for_a_newcomer),
    T(http_an_address_at_its_limit_sheds_its_own_longest_idle_connection),
    T(http_a_full_server_of_busy_connections_closes_the_newcomer),
    T(http_sse_stream_gets_two_events_and_notices_the_client_close),
    T(http_server_close_ends_open_streams_and_closes_every_handle),
    T(http_idle_keep_alive_connection_is_closed_after_the_timeout),
    T(http_incomplete_request_gets_408_after_the_request_timeout),
    T(http_10_request_without_keep_alive_is_closed_after_the_response),
    T(http_expect_100_continue_gets_the_interim_response),
    T(http_empty_header_value_does_not_shift_the_next_header),
    T(http_path_and_query_survive_every_url_length),
    T(http_slow_reader_gets_a_whole_large_response_before_the_close),
    T(http_query_get_finds_and_decodes_parameters),
    T(http_start_refuses_bad_addresses_and_an_address_in_use),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
