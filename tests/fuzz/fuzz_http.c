/*
** fuzz_http.c -- libFuzzer target: hostile bytes into the HTTP server over a
** real loopback connection, parsed by http.c and handed to a handler that
** does what the RPC routes do with a request (headers, query parameters,
** %-decoding, JSON-RPC with no node behind it), answered, and the
** connection ended by the client's EOF.
**   make fuzz          (clang -fsanitize=fuzzer,address,undefined)
**   seeds and regressions: tests/fuzz/corpus_http, replayed by `make test`
*/
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "err.h"
#include "http.h"
#include "rpc.h"

static uv_loop_t loop;
static ln_http_server *srv;
static int port;

static void answered(char *json, void *ud)
{
    ln_http_req *req = ud;
    if (json) ln_http_respond(req, 200, "application/json", json, strlen(json));
    else ln_http_respond(req, 204, NULL, NULL, 0);
    free(json);
}

static void handler(ln_http_req *req, void *ud)
{
    (void)ud;
    if (strcmp(req->method, "POST") == 0) {
        ln__rpc_process(NULL, req->body, req->body_len, answered, req);
        return;
    }
    const char *o = ln_http_req_header(req, "Origin");
    if (o) ln_http_req_add_header(req, "Access-Control-Allow-Origin", o);
    char *v = NULL;
    size_t vl = 0;
    if (ln_http_query_get(req->query, "args", &v, &vl) == 0) {
        char why[96];
        if (ln__rpc_json_check(v, vl, why, sizeof why) == 0) {
            cJSON *j = cJSON_ParseWithLength(v, vl);
            uint8_t *mp = NULL;
            size_t ml = 0;
            if (j && ln__rpc_json_to_msgpack(j, &mp, &ml) == 0) free(mp);
            cJSON_Delete(j);
        }
        free(v);
    }
    size_t pl = strlen(req->path);
    char *path = malloc(pl + 1);
    int n = path ? ln_http_unescape(req->path, pl, path) : -1;
    ln_http_respond(req, n < 0 ? 400 : 200, "text/plain", path ? path : "", n < 0 ? 0 : (size_t)n);
    free(path);
}

static void setup(void)
{
    uv_loop_init(&loop);
    ln_http_limits lim = { .request_ms = 1000, .idle_ms = 1000 };
    if (ln_http_server_start(&loop, "127.0.0.1:0", &lim, handler, NULL, &srv) < 0) abort();
    port = ln_http_server_port(srv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv) setup();
    if (size > 256 * 1024) return 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) abort();
    fcntl(fd, F_SETFL, O_NONBLOCK);
    size_t off = 0;
    int wrote_all = 0;
    char buf[65536];
    for (int spins = 0; spins < 200000; spins++) {
        if (!wrote_all) {
            ssize_t w = off < size ? send(fd, data + off, size - off, MSG_NOSIGNAL) : 0;
            if (w > 0) off += (size_t)w;
            if (off == size || (w < 0 && errno != EAGAIN)) {
                shutdown(fd, SHUT_WR);
                wrote_all = 1;
            }
        }
        uv_run(&loop, UV_RUN_NOWAIT);
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN)) break;   /* the server closed */
    }
    close(fd);
    while (ln_http_server_conns(srv) > 0) uv_run(&loop, UV_RUN_NOWAIT);
    return 0;
}
