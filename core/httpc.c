/* httpc.c -- blocking HTTP/1.1 client over a TCP socket (see httpc.h). */
#include "httpc.h"
#include "err.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>

#define URL_MAX 2048


/* ---- URLs -------------------------------------------------------------- */

int ln_httpc_url_parse(const char *url, ln_httpc_url *out, char *err, size_t errlen)
{
    char buf[URL_MAX + 8];
    struct http_parser_url pu;
    ln_httpc_url u;

    if (strlen(url) > URL_MAX)
        return ln_errf(err, errlen, LN_EINVAL, "URL longer than %d bytes", URL_MAX);
    snprintf(buf, sizeof buf, "%s%s", strstr(url, "://") ? "" : "http://", url);
    http_parser_url_init(&pu);
    if (http_parser_parse_url(buf, strlen(buf), 0, &pu) != 0 ||
        !(pu.field_set & (1 << UF_SCHEMA)) || !(pu.field_set & (1 << UF_HOST)))
        return ln_errf(err, errlen, LN_EINVAL, "'%s' is not a URL like http://127.0.0.1:8765", url);

    const char *scheme = buf + pu.field_data[UF_SCHEMA].off;
    size_t sl = pu.field_data[UF_SCHEMA].len;
    if (sl != 4 || strncasecmp(scheme, "http", 4) != 0)
        return ln_errf(err, errlen, LN_EINVAL, "'%s': only http:// is supported", url);
    if (pu.field_set & (1 << UF_USERINFO))
        return ln_errf(err, errlen, LN_EINVAL, "'%s': user info in the URL is not supported", url);

    memset(&u, 0, sizeof u);
    size_t hl = pu.field_data[UF_HOST].len;
    if (hl == 0 || hl > LN_HTTPC_HOST_MAX)
        return ln_errf(err, errlen, LN_EINVAL, "'%s': bad host", url);
    memcpy(u.host, buf + pu.field_data[UF_HOST].off, hl);

    u.port = 80;
    if (pu.field_set & (1 << UF_PORT)) {
        if (pu.port == 0)
            return ln_errf(err, errlen, LN_EINVAL, "'%s': bad port", url);
        u.port = pu.port;
    }

    size_t pl = 0;
    if (pu.field_set & (1 << UF_PATH)) {
        pl = pu.field_data[UF_PATH].len;
        if (pl > LN_HTTPC_PATH_MAX)
            return ln_errf(err, errlen, LN_EINVAL, "'%s': path too long", url);
        memcpy(u.path, buf + pu.field_data[UF_PATH].off, pl);
    }
    if (pl == 0)
        u.path[pl++] = '/';
    if (pu.field_set & (1 << UF_QUERY)) {
        size_t ql = pu.field_data[UF_QUERY].len;
        if (pl + 1 + ql > LN_HTTPC_PATH_MAX)
            return ln_errf(err, errlen, LN_EINVAL, "'%s': path too long", url);
        u.path[pl++] = '?';
        memcpy(u.path + pl, buf + pu.field_data[UF_QUERY].off, ql);
        pl += ql;
    }
    u.path[pl] = 0;
    *out = u;
    return 0;
}

/* ---- response parsing -------------------------------------------------- */

typedef struct {
    http_parser p;
    char *body;
    size_t len, cap;
    int status;
    int done, toobig, nomem;
} resp;

static int on_message_begin(http_parser *p)
{
    resp *r = p->data;
    r->len = 0;
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    resp *r = p->data;
    if (n > LN_HTTPC_MAX_BODY - r->len) {
        r->toobig = 1;
        return -1;
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + n + 1) cap *= 2;
        char *nb = realloc(r->body, cap);
        if (!nb) {
            r->nomem = 1;
            return -1;
        }
        r->body = nb;
        r->cap = cap;
    }
    memcpy(r->body + r->len, at, n);
    r->len += n;
    return 0;
}

static int on_message_complete(http_parser *p)
{
    resp *r = p->data;
    if (p->status_code / 100 == 1)      /* 100 Continue and friends: not the answer */
        return 0;
    r->status = (int)p->status_code;
    r->done = 1;
    http_parser_pause(p, 1);            /* whatever follows is not ours */
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void resp_init(resp *r)
{
    memset(r, 0, sizeof *r);
    http_parser_init(&r->p, HTTP_RESPONSE);
    r->p.data = r;
}

/* Feeds n bytes (n == 0: the stream ended). 1 when the response is complete,
** 0 when more is needed, else an LN_E* code with err set. */
static int resp_feed(resp *r, const char *data, size_t n, char *err, size_t errlen)
{
    http_parser_execute(&r->p, &settings, data, n);
    if (r->done)
        return 1;
    if (r->toobig)
        return ln_errf(err, errlen, LN_ETOOBIG, "response body larger than %u bytes",
                    LN_HTTPC_MAX_BODY);
    if (r->nomem)
        return ln_errf(err, errlen, LN_ENOMEM, "out of memory reading the response");
    enum http_errno e = HTTP_PARSER_ERRNO(&r->p);
    if (n == 0 && (e == HPE_OK || e == HPE_INVALID_EOF_STATE))
        return ln_errf(err, errlen, LN_EINVAL, "the response ended before it was complete");
    if (e != HPE_OK)
        return ln_errf(err, errlen, LN_EINVAL, "malformed HTTP response: %s",
                    http_errno_description(e));
    return 0;
}

/* Moves the body into res (an empty body is still a malloc()ed ""). */
static int resp_take(resp *r, ln_httpc_response *res, char *err, size_t errlen)
{
    if (!r->body) {
        r->body = malloc(1);
        if (!r->body)
            return ln_errf(err, errlen, LN_ENOMEM, "out of memory");
    }
    r->body[r->len] = 0;
    res->status = r->status;
    res->body = r->body;
    res->body_len = r->len;
    r->body = NULL;
    return 0;
}

int ln_httpc_parse(const char *raw, size_t n, ln_httpc_response *res,
                   char *err, size_t errlen)
{
    resp r;
    int rc = 0;
    resp_init(&r);
    if (n > 0)
        rc = resp_feed(&r, raw, n, err, errlen);
    if (rc == 0)
        rc = resp_feed(&r, NULL, 0, err, errlen);
    if (rc == 1)
        rc = resp_take(&r, res, err, errlen);
    free(r.body);
    return rc;
}

void ln_httpc_response_free(ln_httpc_response *res)
{
    if (!res) return;
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
}

/* ---- sockets ----------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 when fd is ready for ev, 0 at the deadline, -1 on a poll error. */
static int wait_fd(int fd, short ev, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd pfd = { .fd = fd, .events = ev };
        int rc = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
        if (rc > 0)
            return 1;
        if (rc < 0 && errno != EINTR)
            return -1;
    }
}

/* "host:port", with brackets around an IPv6 address. */
static void hostport(const ln_httpc_url *u, char *out, size_t n)
{
    snprintf(out, n, strchr(u->host, ':') ? "[%s]:%u" : "%s:%u", u->host, (unsigned)u->port);
}

static int dial(const ln_httpc_url *u, int64_t deadline, int timeout_ms,
                int *fdout, char *err, size_t errlen)
{
    char hp[LN_HTTPC_HOST_MAX + 16], port[8];
    struct addrinfo hints, *ai = NULL;
    hostport(u, hp, sizeof hp);
    snprintf(port, sizeof port, "%u", (unsigned)u->port);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int grc = getaddrinfo(u->host, port, &hints, &ai);
    if (grc != 0)
        return ln_errf(err, errlen, LN_EIO, "cannot resolve %s: %s", u->host, gai_strerror(grc));

    int last = ECONNREFUSED, timed_out = 0;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        a->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            freeaddrinfo(ai);
            *fdout = fd;
            return 0;
        }
        if (errno == EINPROGRESS) {
            int w = wait_fd(fd, POLLOUT, deadline);
            if (w == 1) {
                int soerr = 0;
                socklen_t sl = sizeof soerr;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) {
                    freeaddrinfo(ai);
                    *fdout = fd;
                    return 0;
                }
                last = soerr ? soerr : errno;
            } else if (w == 0) {
                timed_out = 1;
            } else {
                last = errno;
            }
        } else {
            last = errno;
        }
        close(fd);
        if (timed_out)
            break;
    }
    freeaddrinfo(ai);
    if (timed_out)
        return ln_errf(err, errlen, LN_EIO, "timed out after %d ms connecting to %s",
                    timeout_ms, hp);
    return ln_errf(err, errlen, LN_EIO, "cannot connect to %s: %s", hp, strerror(last));
}

static int send_all(int fd, const char *p, size_t n, int64_t deadline, int timeout_ms,
                    const char *hp, char *err, size_t errlen)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(fd, POLLOUT, deadline);
            if (rc == 0)
                return ln_errf(err, errlen, LN_EIO, "timed out after %d ms sending to %s",
                            timeout_ms, hp);
            if (rc < 0)
                return ln_errf(err, errlen, LN_EIO, "sending to %s: %s", hp, strerror(errno));
            continue;
        }
        return ln_errf(err, errlen, LN_EIO, "sending to %s: %s", hp, strerror(errno));
    }
    return 0;
}

/* ---- connections ------------------------------------------------------- */

struct ln_httpc_conn {
    ln_httpc_url u;
    int fd;                  /* -1 when not connected */
};

int ln_httpc_conn_new(const ln_httpc_url *u, ln_httpc_conn **out)
{
    ln_httpc_conn *c = calloc(1, sizeof *c);
    if (!c) return LN_ENOMEM;
    c->u = *u;
    c->fd = -1;
    *out = c;
    return 0;
}

static void conn_drop(ln_httpc_conn *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

void ln_httpc_conn_free(ln_httpc_conn *c)
{
    if (!c) return;
    conn_drop(c);
    free(c);
}

/* One exchange on c->fd: sends the request, reads its whole response.
** *got: a byte of the response came back (a failure before that on a
** reused connection means the server had closed it meanwhile). */
static int exchange(ln_httpc_conn *c, const char *head, size_t hl, const void *body, size_t n,
                    int64_t deadline, int timeout_ms, int *got, ln_httpc_response *res,
                    char *err, size_t errlen)
{
    char hp[LN_HTTPC_HOST_MAX + 16];
    hostport(&c->u, hp, sizeof hp);
    int rc;
    if ((rc = send_all(c->fd, head, hl, deadline, timeout_ms, hp, err, errlen)) < 0 ||
        (n > 0 && (rc = send_all(c->fd, body, n, deadline, timeout_ms, hp, err, errlen)) < 0)) {
        conn_drop(c);           /* so that a second attempt dials afresh */
        return rc;
    }
    resp r;
    resp_init(&r);
    size_t total = 0;
    for (rc = 0; rc == 0;) {
        char buf[65536];
        ssize_t k = recv(c->fd, buf, sizeof buf, 0);
        if (k > 0) {
            total += (size_t)k;
            *got = 1;
            rc = resp_feed(&r, buf, (size_t)k, err, errlen);
        } else if (k == 0) {
            enum http_errno e;
            rc = total == 0
                ? ln_errf(err, errlen, LN_EIO, "%s closed the connection without a response", hp)
                : resp_feed(&r, NULL, 0, err, errlen);
            e = HTTP_PARSER_ERRNO(&r.p);
            if (rc == LN_EINVAL && (e == HPE_OK || e == HPE_INVALID_EOF_STATE))
                rc = ln_errf(err, errlen, LN_EIO, "%s closed the connection mid-response", hp);
            if (rc == 1) r.p.flags |= F_CONNECTION_CLOSE;   /* it is closed */
        } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            int w = wait_fd(c->fd, POLLIN, deadline);
            if (w == 0)
                rc = ln_errf(err, errlen, LN_EIO, "timed out after %d ms waiting for %s",
                             timeout_ms, hp);
            else if (w < 0)
                rc = ln_errf(err, errlen, LN_EIO, "receiving from %s: %s", hp, strerror(errno));
        } else {
            rc = ln_errf(err, errlen, LN_EIO, "receiving from %s: %s", hp, strerror(errno));
        }
    }
    int keep = rc == 1 && http_should_keep_alive(&r.p);
    if (rc == 1) rc = resp_take(&r, res, err, errlen);
    free(r.body);
    if (rc < 0 || !keep) conn_drop(c);
    return rc;
}

/* The request line and headers; LN_EINVAL when they do not fit. */
static int request_head(const ln_httpc_url *u, const char *method, const char *path,
                        const char *ctype, const void *body, size_t n, int keep,
                        char *head, size_t cap, size_t *hl, char *err, size_t errlen)
{
    char hp[LN_HTTPC_HOST_MAX + 16], clen[48] = "";
    hostport(u, hp, sizeof hp);
    if (body || strcmp(method, "GET") != 0)
        snprintf(clen, sizeof clen, "Content-Length: %zu\r\n", n);
    int l = snprintf(head, cap,
                     "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: lunet-cli\r\n"
                     "Accept: application/json\r\n%s%s%s%s%s\r\n",
                     method, path, u->port == 80 && !strchr(u->host, ':') ? u->host : hp,
                     keep ? "" : "Connection: close\r\n",
                     ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "",
                     clen);
    if (l < 0 || (size_t)l >= cap)
        return ln_errf(err, errlen, LN_EINVAL, "request header too long");
    *hl = (size_t)l;
    return 0;
}

static int conn_request(ln_httpc_conn *c, int keep, const char *method, const char *path,
                        const char *ctype, const void *body, size_t n, int timeout_ms,
                        ln_httpc_response *res, char *err, size_t errlen)
{
    char head[2 * LN_HTTPC_PATH_MAX + 512];
    size_t hl = 0;
    int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int rc = request_head(&c->u, method, path, ctype, body, n, keep, head, sizeof head, &hl,
                          err, errlen);
    if (rc < 0) return rc;
    for (int attempt = 0; attempt < 2; attempt++) {
        int reused = c->fd >= 0, got = 0;
        if (!reused && (rc = dial(&c->u, deadline, timeout_ms, &c->fd, err, errlen)) < 0)
            return rc;
        rc = exchange(c, head, hl, body, n, deadline, timeout_ms, &got, res, err, errlen);
        if (rc >= 0 || !reused || got) return rc < 0 ? rc : 0;
        /* A kept connection the server had closed: once more on a new one. */
    }
    return rc;
}

int ln_httpc_conn_request(ln_httpc_conn *c, const char *method, const char *path,
                          const char *ctype, const void *body, size_t n, int timeout_ms,
                          ln_httpc_response *res, char *err, size_t errlen)
{
    return conn_request(c, 1, method, path, ctype, body, n, timeout_ms, res, err, errlen);
}

int ln_httpc_request(const ln_httpc_url *u, const char *method, const char *path,
                     const char *ctype, const void *body, size_t n, int timeout_ms,
                     ln_httpc_response *res, char *err, size_t errlen)
{
    ln_httpc_conn c = { *u, -1 };
    int rc = conn_request(&c, 0, method, path, ctype, body, n, timeout_ms, res, err, errlen);
    conn_drop(&c);
    return rc;
}

int ln_httpc_post_json(const ln_httpc_url *u, const char *json, int timeout_ms,
                       ln_httpc_response *res, char *err, size_t errlen)
{
    return ln_httpc_request(u, "POST", u->path, "application/json", json, strlen(json),
                            timeout_ms, res, err, errlen);
}

int ln_httpc_get(const ln_httpc_url *u, int timeout_ms,
                 ln_httpc_response *res, char *err, size_t errlen)
{
    return ln_httpc_request(u, "GET", u->path, NULL, NULL, 0, timeout_ms, res, err, errlen);
}
