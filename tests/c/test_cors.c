/* test_cors.c -- the node's answers to browsers (ln_rpc_cors, core/rpc.c):
** a real node (temp home, LevelDB, the poa plugin) behind a real ln_rpc on
** 127.0.0.1:<free port>, asked over a loopback socket. The test's thread
** runs the loop between its socket reads, so no second thread is needed.
** The same behaviour through `lunet dev --cors` is tested with processes in
** tests/net/http_spec.lua and, in Chromium, clients/js/test/cors.test.js. */
#include <errno.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include "test.h"
#include "crypto.h"
#include "err.h"
#include "node.h"
#include "rpc.h"

#ifndef LN_SOURCE_DIR
#define LN_SOURCE_DIR "."
#endif

typedef struct {
    char dir[64];
    uv_loop_t loop;
    ln_node *node;
    ln_rpc *rpc;
    int port;
} fixture;

static void start(fixture *f)
{
    ln_test_tmpdir(f->dir, sizeof f->dir, "cors");
    ln_crypto_init();
    char config[128], home[128], text[512];
    snprintf(config, sizeof config, "%s/config.lua", f->dir);
    snprintf(home, sizeof home, "%s/home", f->dir);
    snprintf(text, sizeof text,
             "return { chain_id = 'cors-test', validators = { 'node0' },\n"
             "  accounts = { { name = 'alice', balance = 1000 } },\n"
             "  consensus = { plugin = '%s/consensus/poa.lua', params = { block_ms = 50 } } }\n",
             LN_SOURCE_DIR);
    FILE *fp = fopen(config, "wb");
    ASSERT(fp != NULL);
    fputs(text, fp);
    fclose(fp);
    ASSERT_EQ(uv_loop_init(&f->loop), 0);
    ln_node_config cfg = { .home = home, .config = config, .dev = 1 };
    char err[300] = "";
    int rc = ln_node_open(&cfg, &f->loop, &f->node, err, sizeof err);
    if (rc) LN_FAIL("ln_node_open: %s: %s", ln_errname(rc), err);
    ASSERT_EQ(ln_rpc_start(f->node, &f->loop, "127.0.0.1:0", &f->rpc), 0);
    f->port = ln_rpc_port(f->rpc);
    ASSERT(f->port > 0);
}

static void stop(fixture *f)
{
    ln_rpc_stop(f->rpc);
    ln_node_close(f->node);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ASSERT_EQ(uv_loop_close(&f->loop), 0);
    ln_test_rmtree(f->dir);
}

typedef struct {
    int status;
    char head[2048];             /* status line and headers, lower-cased names */
    char body[1024];
} answer;

/* Sends req as it is and runs the loop until the whole answer has come
** back (the server closes), at most 10 s. */
static void ask_raw(fixture *f, const char *req, const char *method, answer *a)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)f->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);   /* the listener's backlog takes it */
    ssize_t n = (ssize_t)strlen(req);
    ASSERT_EQ(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
    char buf[4096];
    size_t len = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        ssize_t r = recv(fd, buf + len, sizeof buf - 1 - len, MSG_DONTWAIT);
        if (r == 0) break;                                   /* the server closed: all there */
        if (r > 0) { len += (size_t)r; ASSERT(len < sizeof buf - 1); continue; }
        ASSERT(errno == EAGAIN || errno == EWOULDBLOCK);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 10) LN_FAIL("no whole answer to %s within 10 s", method);
        usleep(1000);
    }
    close(fd);
    buf[len] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    ASSERT(end != NULL);
    *end = '\0';
    ASSERT(strlen(buf) < sizeof a->head);
    for (size_t i = 0; buf[i]; i++)
        a->head[i] = (char)((buf[i] >= 'A' && buf[i] <= 'Z') ? buf[i] + 32 : buf[i]);
    a->head[strlen(buf)] = '\0';
    snprintf(a->body, sizeof a->body, "%s", end + 4);
    ASSERT_EQ(sscanf(a->head, "http/1.1 %d", &a->status), 1);
}

/* One request (Connection: close) with its Content-Length. */
static void ask(fixture *f, const char *method, const char *origin, const char *extra,
                const char *body, answer *a)
{
    char req[2048];
    size_t bl = body ? strlen(body) : 0;
    int n = snprintf(req, sizeof req, "%s / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s%s%s"
                     "Content-Length: %zu\r\n\r\n%s", method,
                     origin ? "Origin: " : "", origin ? origin : "", origin ? "\r\n" : "",
                     extra ? extra : "", bl, body ? body : "");
    ASSERT(n > 0 && (size_t)n < sizeof req);
    ask_raw(f, req, method, a);
}

/* The value of a header (name lower case) in a->head, lower-cased, or "". */
static const char *header(const answer *a, const char *name)
{
    static char v[512];
    char key[128];
    snprintf(key, sizeof key, "\r\n%s:", name);
    const char *p = strstr(a->head, key);
    v[0] = '\0';
    if (!p) return v;
    p += strlen(key);
    while (*p == ' ') p++;
    size_t n = strcspn(p, "\r");
    if (n >= sizeof v) n = sizeof v - 1;
    memcpy(v, p, n);
    v[n] = '\0';
    return v;
}

static const char RPC[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chain_info\",\"params\":{}}";
static const char ASK_POST[] = "Access-Control-Request-Method: POST\r\n"
                               "Access-Control-Request-Headers: content-type\r\n";

/* An origin written as a person might, with capitals, a default port or a
** trailing slash, lets in the Origin a browser sends for it. */
TEST(cors_origins_are_kept_as_browsers_send_them)
{
    fixture f;
    start(&f);
    const char *given[] = { "HTTP://LocalHost:3000/", "https://App.Example:443", "http://127.0.0.1:0080",
                            "http://[::1]:8080", "https://x.example:8443/" };
    ASSERT_EQ(ln_rpc_cors(f.rpc, given, 5), 0);
    const char *sent[] = { "http://localhost:3000", "https://app.example", "http://127.0.0.1",
                           "http://[::1]:8080", "https://x.example:8443" };
    answer a;
    for (int i = 0; i < 5; i++) {
        ask(&f, "POST", sent[i], "Content-Type: application/json\r\n", RPC, &a);
        ASSERT_EQ(a.status, 200);
        ASSERT(strstr(a.body, "\"chain_id\":\"cors-test\"") != NULL);
        ASSERT_STR(header(&a, "access-control-allow-origin"), sent[i]);
        ASSERT_STR(header(&a, "vary"), "origin");
    }
    /* The same host on another port, another scheme, or the default port
    ** written out in the request, is another origin. */
    const char *others[] = { "http://localhost:3001", "http://app.example", "https://app.example:443",
                             "http://localhost:3000/" };
    for (int i = 0; i < 4; i++) {
        ask(&f, "POST", others[i], "Content-Type: application/json\r\n", RPC, &a);
        ASSERT_EQ(a.status, 200);
        if (strstr(a.head, "access-control-allow-origin")) LN_FAIL("%s was let in", others[i]);
    }
    stop(&f);
}

/* A JSON POST's preflight from a listed origin: 204, the methods, the
** headers asked for, how long to keep the answer, and Vary. From any other
** origin: 403 and no Allow-Origin, Allow-Methods or Allow-Headers. */
TEST(cors_preflight_of_a_json_post_gets_methods_headers_and_max_age)
{
    fixture f;
    start(&f);
    const char *given[] = { "https://app.example" };
    ASSERT_EQ(ln_rpc_cors(f.rpc, given, 1), 0);
    answer a;
    ask(&f, "OPTIONS", "https://app.example", ASK_POST, NULL, &a);
    ASSERT_EQ(a.status, 204);
    ASSERT_STR(header(&a, "access-control-allow-origin"), "https://app.example");
    ASSERT_STR(header(&a, "access-control-allow-methods"), "get, post, options");
    ASSERT_STR(header(&a, "access-control-allow-headers"), "content-type");
    ASSERT_STR(header(&a, "access-control-max-age"), "600");
    ASSERT_STR(header(&a, "vary"), "origin");
    ASSERT_STR(header(&a, "content-length"), "0");
    ASSERT_STR(a.body, "");
    /* Headers a page adds of its own are answered too; a list that is not
    ** header names is not echoed. */
    ask(&f, "OPTIONS", "https://app.example", "Access-Control-Request-Method: POST\r\n"
        "Access-Control-Request-Headers: content-type,x-request-id\r\n", NULL, &a);
    ASSERT_STR(header(&a, "access-control-allow-headers"), "content-type,x-request-id");
    ask(&f, "OPTIONS", "https://app.example", "Access-Control-Request-Method: POST\r\n"
        "Access-Control-Request-Headers: content-type;evil=1\r\n", NULL, &a);
    ASSERT_STR(header(&a, "access-control-allow-headers"), "content-type");
    const char *refused[] = { "https://evil.example", "http://app.example", "null", "" };
    for (int i = 0; i < 4; i++) {
        ask(&f, "OPTIONS", refused[i], ASK_POST, NULL, &a);
        if (a.status != 403) LN_FAIL("preflight from \"%s\": %d", refused[i], a.status);
        ASSERT(strstr(a.body, "-32600") != NULL);
        ASSERT(!strstr(a.head, "access-control-allow-"));
    }
    stop(&f);
}

/* Origins that are not one are refused, and the list in force stays. */
TEST(cors_refuses_what_is_not_an_origin_and_keeps_the_list_in_force)
{
    fixture f;
    start(&f);
    const char *good[] = { "https://app.example" };
    ASSERT_EQ(ln_rpc_cors(f.rpc, good, 1), 0);
    char longest[300] = "https://";
    memset(longest + 8, 'a', 260);
    longest[268] = '\0';
    const char *bad[] = { "https://app.example/app", "https://user@app.example", "https://app.example?x",
                          "https://app.example#x", "http://a.example:0", "http://a.example:65536",
                          "http://a.example:8x", "http://a.example:", "app.example", "://app.example",
                          "1http://app.example", "http://", "http://[::1", "null", "", "https://a b",
                          "https://a.example,https://b.example", "https://\xc3\xa9.example", longest };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *one[] = { bad[i] };
        if (ln_rpc_cors(f.rpc, one, 1) != LN_EINVAL) LN_FAIL("\"%s\" was taken as an origin", bad[i]);
    }
    const char *many[LN_RPC_MAX_CORS + 1];
    for (int i = 0; i <= LN_RPC_MAX_CORS; i++) many[i] = "https://app.example";
    ASSERT_EQ(ln_rpc_cors(f.rpc, many, LN_RPC_MAX_CORS + 1), LN_EINVAL);
    answer a;
    ask(&f, "POST", "https://app.example", "Content-Type: application/json\r\n", RPC, &a);
    ASSERT_STR(header(&a, "access-control-allow-origin"), "https://app.example");
    /* "*" lets any origin in; an empty list turns CORS off again. */
    const char *any[] = { "*" };
    ASSERT_EQ(ln_rpc_cors(f.rpc, any, 1), 0);
    ask(&f, "OPTIONS", "http://whatever.example:9", ASK_POST, NULL, &a);
    ASSERT_EQ(a.status, 204);
    ASSERT_STR(header(&a, "access-control-allow-origin"), "http://whatever.example:9");
    ASSERT_EQ(ln_rpc_cors(f.rpc, NULL, 0), 0);
    ask(&f, "OPTIONS", "http://whatever.example:9", ASK_POST, NULL, &a);
    ASSERT_EQ(a.status, 405);
    ASSERT(!strstr(a.head, "access-control-"));
    ASSERT(!strstr(a.head, "vary"));
    stop(&f);
}

/* The server's own refusals (a body over the limit, announced by its
** Content-Length) carry the same CORS headers, so a page can read them. */
TEST(cors_headers_go_on_the_servers_own_refusals)
{
    fixture f;
    start(&f);
    const char *given[] = { "https://app.example" };
    ASSERT_EQ(ln_rpc_cors(f.rpc, given, 1), 0);
    static const char big[] = "POST / HTTP/1.1\r\nHost: x\r\nOrigin: %s\r\n"
                              "Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n";
    char req[512];
    answer a;
    snprintf(req, sizeof req, big, "https://app.example");
    ask_raw(&f, req, "POST", &a);
    ASSERT_EQ(a.status, 413);
    ASSERT_STR(header(&a, "access-control-allow-origin"), "https://app.example");
    ASSERT_STR(header(&a, "vary"), "origin");
    snprintf(req, sizeof req, big, "https://evil.example");
    ask_raw(&f, req, "POST", &a);
    ASSERT_EQ(a.status, 413);
    ASSERT(!strstr(a.head, "access-control-"));
    ASSERT_STR(header(&a, "vary"), "origin");
    /* Without --cors, nothing is added. */
    ASSERT_EQ(ln_rpc_cors(f.rpc, NULL, 0), 0);
    snprintf(req, sizeof req, big, "https://app.example");
    ask_raw(&f, req, "POST", &a);
    ASSERT_EQ(a.status, 413);
    ASSERT(!strstr(a.head, "access-control-"));
    ASSERT(!strstr(a.head, "vary"));
    stop(&f);
}

static const ln_test tests[] = {
    T(cors_origins_are_kept_as_browsers_send_them),
    T(cors_preflight_of_a_json_post_gets_methods_headers_and_max_age),
    T(cors_refuses_what_is_not_an_origin_and_keeps_the_list_in_force),
    T(cors_headers_go_on_the_servers_own_refusals),
    { NULL, NULL },
};

LN_TEST_MAIN(tests)
