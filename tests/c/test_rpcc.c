/* test_rpcc.c -- the JSON-RPC client and the kept HTTP connection under it
** (core/rpcc.c, core/httpc.c), against a scripted server thread on loopback
** that counts the connections it accepts. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test.h"
#include "err.h"
#include "rpcc.h"

/* Answers each request it reads with the next reply of a script; a reply
** marked close ends the connection after it is written. */
typedef struct {
    int lfd, port;
    const char *const *replies;
    const int *close_after;
    int n, accepted;
    pthread_t th;
} server;

static void *serve(void *arg)
{
    server *s = arg;
    int k = 0;
    while (k < s->n) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) break;
        s->accepted++;
        char buf[8192];
        size_t have = 0;
        while (k < s->n) {
            ssize_t r = recv(fd, buf + have, sizeof buf - 1 - have, 0);
            if (r <= 0) break;
            have += (size_t)r;
            buf[have] = 0;
            char *end = strstr(buf, "\r\n\r\n");
            if (!end) continue;
            const char *cl = strstr(buf, "Content-Length: ");
            size_t body = cl ? strtoul(cl + 16, NULL, 10) : 0;
            if (have < (size_t)(end + 4 - buf) + body) continue;
            char out[4096];
            int l = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             "Content-Length: %zu\r\n%s\r\n%s", strlen(s->replies[k]),
                             s->close_after[k] ? "Connection: close\r\n" : "", s->replies[k]);
            send(fd, out, (size_t)l, MSG_NOSIGNAL);
            have = 0;
            if (s->close_after[k++]) break;
        }
        close(fd);
    }
    return NULL;
}

static void start(server *s, const char *const *replies, const int *close_after, int n)
{
    memset(s, 0, sizeof *s);
    s->replies = replies;
    s->close_after = close_after;
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

static void stop(server *s)
{
    pthread_join(s->th, NULL);
    close(s->lfd);
}

static ln_rpcc *client(server *s)
{
    char url[64], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s->port);
    ln_rpcc *c;
    ASSERT_EQ(ln_rpcc_open(url, 2000, &c, err, sizeof err), 0);
    return c;
}

TEST(calls_share_one_kept_connection)
{
    static const char *const r[] = { "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"height\":5}}",
                                     "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":7}",
                                     "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":\"x\"}" };
    static const int close_after[] = { 0, 0, 1 };
    server s;
    start(&s, r, close_after, 3);
    ln_rpcc *c = client(&s);
    char err[256];
    cJSON *res;
    uint64_t h;
    ASSERT_EQ(ln_rpcc_call(c, "chain_info", NULL, &res, err, sizeof err), 0);
    ASSERT_EQ(ln_rpcc_uint(res, "height", &h), 0);
    ASSERT_EQ(h, 5);
    cJSON_Delete(res);
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(ln_rpcc_call(c, "m", NULL, &res, err, sizeof err), 0);
        cJSON_Delete(res);
    }
    ln_rpcc_close(c);
    stop(&s);
    ASSERT_EQ(s.accepted, 1);
}

TEST(a_connection_the_server_closed_is_dialed_again)
{
    static const char *const r[] = { "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1}",
                                     "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":2}" };
    static const int close_after[] = { 1, 1 };
    server s;
    start(&s, r, close_after, 2);
    ln_rpcc *c = client(&s);
    char err[256];
    cJSON *res;
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(ln_rpcc_call(c, "m", NULL, &res, err, sizeof err), 0);
        ASSERT_EQ((int)res->valuedouble, i + 1);
        cJSON_Delete(res);
    }
    ln_rpcc_close(c);
    stop(&s);
    ASSERT_EQ(s.accepted, 2);
}

TEST(a_node_refusal_comes_back_as_its_code_and_text)
{
    static const char *const r[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32042,\"message\":\"wrong nonce\","
        "\"data\":{\"name\":\"ENONCE\",\"why\":\"expected 3, got 5\"}}}",
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32601,\"message\":\"method not found\"}}" };
    static const int close_after[] = { 0, 1 };
    server s;
    start(&s, r, close_after, 2);
    ln_rpcc *c = client(&s);
    char err[256];
    cJSON *res = NULL;
    ASSERT_EQ(ln_rpcc_call(c, "tx_submit", NULL, &res, err, sizeof err), LN_ENONCE);
    ASSERT_STR(err, "tx_submit: wrong nonce [ENONCE]: expected 3, got 5");
    ASSERT_EQ(ln_rpcc_call(c, "nope", NULL, &res, err, sizeof err), LN_EINVAL);
    ASSERT_STR(err, "nope: method not found [-32601]");
    ASSERT(res == NULL);
    ln_rpcc_close(c);
    stop(&s);
}

TEST(an_unreachable_node_is_an_io_error_that_says_so)
{
    server s;
    static const char *const r[] = { "" };
    static const int close_after[] = { 1 };
    start(&s, r, close_after, 0);       /* bound and listening, then closed */
    stop(&s);
    ln_rpcc *c = client(&s);
    char err[256];
    cJSON *res;
    ASSERT_EQ(ln_rpcc_call(c, "chain_info", NULL, &res, err, sizeof err), LN_EIO);
    ASSERT(strstr(err, "chain_info: cannot connect to 127.0.0.1:"));
    ASSERT(strstr(err, "(is a node running there? see --rpc)"));
    ln_rpcc_close(c);
}

static const ln_test tests[] = {
    T(calls_share_one_kept_connection),
    T(a_connection_the_server_closed_is_dialed_again),
    T(a_node_refusal_comes_back_as_its_code_and_text),
    T(an_unreachable_node_is_an_io_error_that_says_so),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
