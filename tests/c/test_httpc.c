/* test_httpc.c -- the blocking HTTP client (core/httpc.c): URLs, response
** parsing, and requests over real loopback sockets to a scripted server
** thread that counts the connections it accepts and keeps what it read. */
#include "test.h"
#include "err.h"
#include "httpc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#define ASSERT_HAS(hay, needle) do {                                    \
    if (!strstr((hay), (needle)))                                       \
        LN_FAIL("expected \"%s\" in:\n%s", (needle), (hay));            \
} while (0)

/* ---- URLs -------------------------------------------------------------- */

TEST(url_parse_reads_host_port_and_path)
{
    ln_httpc_url u;
    char err[256];
    ASSERT_EQ(ln_httpc_url_parse("http://127.0.0.1:8765", &u, err, sizeof err), 0);
    ASSERT_STR(u.host, "127.0.0.1");
    ASSERT_EQ(u.port, 8765);
    ASSERT_STR(u.path, "/");
    ASSERT_EQ(ln_httpc_url_parse("http://node.example/rpc/v1?x=1#frag", &u, err, sizeof err), 0);
    ASSERT_STR(u.host, "node.example");
    ASSERT_EQ(u.port, 80);
    ASSERT_STR(u.path, "/rpc/v1?x=1");
    ASSERT_EQ(ln_httpc_url_parse("HTTP://[::1]:9000/", &u, err, sizeof err), 0);
    ASSERT_STR(u.host, "::1");
    ASSERT_EQ(u.port, 9000);
    ASSERT_EQ(ln_httpc_url_parse("localhost:8765", &u, err, sizeof err), 0);   /* no scheme */
    ASSERT_STR(u.host, "localhost");
    ASSERT_EQ(u.port, 8765);
}

TEST(url_parse_refuses_other_schemes_and_bad_ports)
{
    ln_httpc_url u;
    char err[256];
    ASSERT_EQ(ln_httpc_url_parse("https://x:1/", &u, err, sizeof err), LN_EINVAL);
    ASSERT_HAS(err, "only http:// is supported");
    ASSERT_EQ(ln_httpc_url_parse("http://u:p@x:1/", &u, err, sizeof err), LN_EINVAL);
    ASSERT_EQ(ln_httpc_url_parse("http://x:0/", &u, err, sizeof err), LN_EINVAL);
    ASSERT_EQ(ln_httpc_url_parse("http://x:65536/", &u, err, sizeof err), LN_EINVAL);
    ASSERT_EQ(ln_httpc_url_parse("http://x:port/", &u, err, sizeof err), LN_EINVAL);
    ASSERT_EQ(ln_httpc_url_parse("http://", &u, err, sizeof err), LN_EINVAL);
    ASSERT_EQ(ln_httpc_url_parse("", &u, err, sizeof err), LN_EINVAL);
}

/* ---- HTTP responses ---------------------------------------------------- */

static int parse(const char *raw, ln_httpc_response *r, char *err, size_t errlen)
{
    return ln_httpc_parse(raw, strlen(raw), r, err, errlen);
}

TEST(response_with_chunked_body_is_decoded)
{
    ln_httpc_response r;
    char err[256];
    const char *raw =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
        "7\r\n{\"a\": 1\r\n"
        "a;ext=1\r\n, \"b\": [2,\r\n"
        "2\r\n3]\r\n"
        "1\r\n}\r\n"
        "0\r\nX-Trailer: yes\r\n\r\n";
    ASSERT_EQ(parse(raw, &r, err, sizeof err), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR(r.body, "{\"a\": 1, \"b\": [2,3]}");
    ASSERT_EQ(r.body_len, strlen(r.body));
    ln_httpc_response_free(&r);
}

TEST(response_with_content_length_or_close_delimited_body)
{
    ln_httpc_response r;
    char err[256];
    ASSERT_EQ(parse("HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nhelloEXTRA", &r, err,
                    sizeof err), 0);
    ASSERT_EQ(r.status, 404);
    ASSERT_STR(r.body, "hello");
    ln_httpc_response_free(&r);
    ASSERT_EQ(parse("HTTP/1.0 200 OK\r\n\r\nuntil close", &r, err, sizeof err), 0);
    ASSERT_STR(r.body, "until close");
    ln_httpc_response_free(&r);
    ASSERT_EQ(parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", &r, err,
                    sizeof err), 0);
    ASSERT_EQ(r.status, 204);
    ASSERT_EQ(r.body_len, 0);
    ln_httpc_response_free(&r);
}

TEST(response_cut_short_or_malformed_is_refused)
{
    ln_httpc_response r;
    char err[256];
    ASSERT_EQ(parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", &r, err, sizeof err),
              LN_EINVAL);
    ASSERT_HAS(err, "ended before it was complete");
    ASSERT_EQ(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", &r, err,
                    sizeof err), LN_EINVAL);
    ASSERT_EQ(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", &r, err,
                    sizeof err), LN_EINVAL);
    ASSERT_HAS(err, "malformed HTTP response");
    ASSERT_EQ(parse("SSH-2.0-OpenSSH\r\n", &r, err, sizeof err), LN_EINVAL);
    ASSERT_EQ(parse("", &r, err, sizeof err), LN_EINVAL);
}

TEST(url_parse_refuses_hosts_paths_and_urls_over_their_limits)
{
    ln_httpc_url u;
    char err[2048], url[3000];
    char host[LN_HTTPC_HOST_MAX + 2];
    memset(host, 'h', sizeof host - 1);
    host[LN_HTTPC_HOST_MAX] = 0;                              /* 255: fits */
    snprintf(url, sizeof url, "http://%s:1/", host);
    ASSERT_EQ(ln_httpc_url_parse(url, &u, err, sizeof err), 0);
    ASSERT_EQ(strlen(u.host), LN_HTTPC_HOST_MAX);
    host[LN_HTTPC_HOST_MAX] = 'h';                            /* 256 */
    host[LN_HTTPC_HOST_MAX + 1] = 0;
    snprintf(url, sizeof url, "http://%s:1/", host);
    ASSERT_EQ(ln_httpc_url_parse(url, &u, err, sizeof err), LN_EINVAL);
    ASSERT_HAS(err, "bad host");

    char path[LN_HTTPC_PATH_MAX + 2];
    memset(path, 'p', sizeof path - 1);
    path[0] = '/';
    path[LN_HTTPC_PATH_MAX] = 0;                              /* 1023: fits */
    snprintf(url, sizeof url, "http://x%s", path);
    ASSERT_EQ(ln_httpc_url_parse(url, &u, err, sizeof err), 0);
    ASSERT_STR(u.path, path);
    path[LN_HTTPC_PATH_MAX] = 'p';                            /* 1024 */
    path[LN_HTTPC_PATH_MAX + 1] = 0;
    snprintf(url, sizeof url, "http://x%s", path);
    ASSERT_EQ(ln_httpc_url_parse(url, &u, err, sizeof err), LN_EINVAL);
    ASSERT_HAS(err, "path too long");
    path[LN_HTTPC_PATH_MAX - 2] = 0;                          /* 1021 + "?q" = 1023 */
    snprintf(url, sizeof url, "http://x%s?q", path);
    ASSERT_EQ(ln_httpc_url_parse(url, &u, err, sizeof err), 0);
    snprintf(url, sizeof url, "http://x%s?qq", path);         /* 1024 with the query */
    ASSERT_EQ(ln_httpc_url_parse(url, &u, err, sizeof err), LN_EINVAL);
    ASSERT_HAS(err, "path too long");

    memset(url, 'a', sizeof url - 1);
    url[sizeof url - 1] = 0;
    ASSERT_EQ(ln_httpc_url_parse(url, &u, err, sizeof err), LN_EINVAL);
    ASSERT_HAS(err, "URL longer than 2048 bytes");
    ASSERT_EQ(ln_httpc_url_parse("http://x:1/a b", &u, err, sizeof err), LN_EINVAL);
    ASSERT_HAS(err, "is not a URL like http://127.0.0.1:8765");
}

TEST(response_body_over_the_limit_is_etoobig)
{
    size_t body = LN_HTTPC_MAX_BODY + 1;
    char head[128];
    int hl = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", body);
    char *raw = malloc((size_t)hl + body);
    ASSERT(raw != NULL);
    memcpy(raw, head, (size_t)hl);
    memset(raw + hl, 'b', body);
    ln_httpc_response r;
    char err[256];
    ASSERT_EQ(ln_httpc_parse(raw, (size_t)hl + body, &r, err, sizeof err), LN_ETOOBIG);
    ASSERT_HAS(err, "response body larger than 67108864 bytes");
    /* at the limit it is whole */
    ASSERT_EQ(ln_httpc_parse(raw, (size_t)hl + body - 1, &r, err, sizeof err), LN_EINVAL);
    hl = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n",
                  LN_HTTPC_MAX_BODY);
    memcpy(raw + 1, head, (size_t)hl);
    ASSERT_EQ(ln_httpc_parse(raw + 1, (size_t)hl + LN_HTTPC_MAX_BODY, &r, err, sizeof err), 0);
    ASSERT_EQ(r.body_len, LN_HTTPC_MAX_BODY);
    ASSERT_EQ(r.body[LN_HTTPC_MAX_BODY], 0);
    ln_httpc_response_free(&r);
    free(raw);
}

/* ---- requests against a scripted server -------------------------------- */

/* What the server does with the request it reads: answer and keep the
** connection, answer and close it without saying so, or send the start of
** an answer and close. */
enum { KEEP, CLOSE_SILENTLY, CLOSE_MID_RESPONSE };

typedef struct {
    int lfd, port;
    const int *script;
    int n;
    int accepted, served;
    int conn_of[8];             /* the connection (1, 2, ...) request i came on */
    char req[8][1024];          /* the head and body of request i */
    pthread_t th;
} server;

static void *serve(void *arg)
{
    server *s = arg;
    while (s->served < s->n) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) break;                    /* the listener was shut down */
        s->accepted++;
        char buf[4096];
        size_t have = 0;
        while (s->served < s->n) {
            ssize_t r = recv(fd, buf + have, sizeof buf - 1 - have, 0);
            if (r <= 0) break;
            have += (size_t)r;
            buf[have] = 0;
            char *end = strstr(buf, "\r\n\r\n");
            if (!end) continue;
            const char *cl = strstr(buf, "Content-Length: ");
            size_t body = cl ? strtoul(cl + 16, NULL, 10) : 0;
            if (have < (size_t)(end + 4 - buf) + body) continue;
            int k = s->served++;
            s->conn_of[k] = s->accepted;
            snprintf(s->req[k], sizeof s->req[k], "%.1023s", buf);
            char out[256];
            int l;
            if (s->script[k] == CLOSE_MID_RESPONSE)
                l = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
            else
                l = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nreq %d\n",
                             k + 1);
            send(fd, out, (size_t)l, MSG_NOSIGNAL);
            have = 0;
            if (s->script[k] != KEEP) break;
        }
        close(fd);
    }
    return NULL;
}

static void start(server *s, const int *script, int n)
{
    memset(s, 0, sizeof *s);
    ASSERT(n <= 8);
    s->script = script;
    s->n = n;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    ASSERT_EQ(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    ASSERT_EQ(listen(s->lfd, 8), 0);
    ASSERT_EQ(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    ASSERT_EQ(pthread_create(&s->th, NULL, serve, s), 0);
}

/* Ends the server (an accept still waiting returns) and joins it. */
static void stop(server *s)
{
    shutdown(s->lfd, SHUT_RDWR);
    pthread_join(s->th, NULL);
    close(s->lfd);
}

static ln_httpc_url url_of(const server *s, const char *path)
{
    char url[128], err[256];
    ln_httpc_url u;
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s->port, path);
    ASSERT_EQ(ln_httpc_url_parse(url, &u, err, sizeof err), 0);
    return u;
}

/* A request on the kept connection c that must succeed with "req N". */
static void kept_ok(ln_httpc_conn *c, const char *method, const char *body, int n)
{
    ln_httpc_response r;
    char err[256], want[16];
    int rc = ln_httpc_conn_request(c, method, "/p", body && *body ? "application/json" : NULL,
                                   body, body ? strlen(body) : 0, 5000, &r, err, sizeof err);
    if (rc < 0) LN_FAIL("request %d: %s", n, err);
    ASSERT_EQ(r.status, 200);
    snprintf(want, sizeof want, "req %d\n", n);
    ASSERT_STR(r.body, want);
    ln_httpc_response_free(&r);
}

TEST(httpc_kept_connection_carries_requests_one_after_another)
{
    static const int script[] = { KEEP, KEEP, KEEP };
    server s;
    start(&s, script, 3);
    ln_httpc_url u = url_of(&s, "/");
    ln_httpc_conn *c;
    ASSERT_EQ(ln_httpc_conn_new(&u, &c), 0);
    kept_ok(c, "POST", "{\"a\":1}", 1);
    kept_ok(c, "GET", NULL, 2);
    kept_ok(c, "POST", NULL, 3);
    ln_httpc_conn_free(c);
    stop(&s);
    ASSERT_EQ(s.accepted, 1);
    ASSERT_EQ(s.conn_of[2], 1);
    char want[128];
    snprintf(want, sizeof want, "POST /p HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", s.port);
    ASSERT_EQ(strncmp(s.req[0], want, strlen(want)), 0);
    ASSERT_HAS(s.req[0], "\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}");
    ASSERT(!strstr(s.req[0], "Connection: close"));
    ASSERT(!strstr(s.req[1], "Content-Length"));             /* a GET without a body */
    ASSERT_HAS(s.req[2], "Content-Length: 0\r\n");
}

TEST(httpc_one_shot_request_asks_the_server_to_close)
{
    static const int script[] = { KEEP, KEEP };
    server s;
    start(&s, script, 2);
    ln_httpc_url u = url_of(&s, "/rpc?x=1");
    ln_httpc_response r;
    char err[256];
    ASSERT_EQ(ln_httpc_post_json(&u, "{}", 5000, &r, err, sizeof err), 0);
    ASSERT_STR(r.body, "req 1\n");
    ln_httpc_response_free(&r);
    ASSERT_EQ(ln_httpc_get(&u, 5000, &r, err, sizeof err), 0);
    ASSERT_STR(r.body, "req 2\n");
    ln_httpc_response_free(&r);
    stop(&s);
    ASSERT_EQ(s.accepted, 2);
    ASSERT_EQ(strncmp(s.req[0], "POST /rpc?x=1 HTTP/1.1\r\n", 24), 0);
    ASSERT_HAS(s.req[0], "\r\nConnection: close\r\n");
    ASSERT_EQ(strncmp(s.req[1], "GET /rpc?x=1 HTTP/1.1\r\n", 23), 0);
    ASSERT_HAS(s.req[1], "\r\nConnection: close\r\n");
}

TEST(httpc_kept_connection_closed_silently_is_dialed_again_for_the_next_request)
{
    static const int script[] = { CLOSE_SILENTLY, KEEP };
    server s;
    start(&s, script, 2);
    ln_httpc_url u = url_of(&s, "/");
    ln_httpc_conn *c;
    ASSERT_EQ(ln_httpc_conn_new(&u, &c), 0);
    kept_ok(c, "POST", "{}", 1);
    kept_ok(c, "POST", "{}", 2);
    ln_httpc_conn_free(c);
    stop(&s);
    ASSERT_EQ(s.accepted, 2);
    ASSERT_EQ(s.served, 2);            /* the second request was sent once more, not twice */
    ASSERT_EQ(s.conn_of[1], 2);
}

TEST(httpc_answer_cut_short_on_a_kept_connection_is_an_error_and_not_sent_again)
{
    static const int script[] = { KEEP, CLOSE_MID_RESPONSE, KEEP };
    server s;
    start(&s, script, 3);
    ln_httpc_url u = url_of(&s, "/");
    ln_httpc_conn *c;
    ASSERT_EQ(ln_httpc_conn_new(&u, &c), 0);
    kept_ok(c, "POST", "{}", 1);
    ln_httpc_response r;
    char err[256];
    ASSERT_EQ(ln_httpc_conn_request(c, "POST", "/", "application/json", "{}", 2, 5000, &r, err,
                                    sizeof err), LN_EIO);
    ASSERT_HAS(err, "closed the connection mid-response");
    ln_httpc_conn_free(c);
    stop(&s);
    ASSERT_EQ(s.served, 2);            /* the server may have acted on it: no second send */
    ASSERT_EQ(s.accepted, 1);
}

TEST(httpc_times_out_on_a_silent_server)
{
    /* A listening socket that never accepts: the kernel completes the
    ** handshake, nobody ever answers. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ASSERT_EQ(listen(fd, 4), 0);
    socklen_t al = sizeof a;
    ASSERT_EQ(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    char url[64], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/", ntohs(a.sin_port));
    ln_httpc_url u;
    ln_httpc_response r;
    ASSERT_EQ(ln_httpc_url_parse(url, &u, err, sizeof err), 0);
    ASSERT_EQ(ln_httpc_post_json(&u, "{}", 300, &r, err, sizeof err), LN_EIO);
    ASSERT_HAS(err, "timed out after 300 ms");
    close(fd);
}

static const ln_test tests[] = {
    T(url_parse_reads_host_port_and_path),
    T(url_parse_refuses_other_schemes_and_bad_ports),
    T(url_parse_refuses_hosts_paths_and_urls_over_their_limits),
    T(response_with_chunked_body_is_decoded),
    T(response_with_content_length_or_close_delimited_body),
    T(response_cut_short_or_malformed_is_refused),
    T(response_body_over_the_limit_is_etoobig),
    T(httpc_kept_connection_carries_requests_one_after_another),
    T(httpc_one_shot_request_asks_the_server_to_close),
    T(httpc_kept_connection_closed_silently_is_dialed_again_for_the_next_request),
    T(httpc_answer_cut_short_on_a_kept_connection_is_an_error_and_not_sent_again),
    T(httpc_times_out_on_a_silent_server),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
