/*
** http.h -- a small HTTP/1.1 server on libuv (Node's http-parser 2.9).
**
** One handler sees every request. Requests on a connection are handled one
** at a time, in order: while a request waits for its response, later
** (pipelined) bytes are buffered, not parsed. Keep-alive follows HTTP/1.1
** rules (HTTP/1.0 only with "Connection: keep-alive").
**
** Lifetimes. The handler gets a request it must finish exactly once, now or
** later: ln_http_respond(), or ln_http_stream_begin() and then
** ln_http_stream_end() (or the stream's gone callback). A request stays valid
** until then even if its client went away or the server closed: responding to
** a dead request just frees it (the connection memory is reference counted).
** Every handle (listener, connections, timers) is closed by
** ln_http_server_close(); the server's memory is freed after its callback.
**
** Hostile input: malformed HTTP gets 400, a URL beyond the header limit 414,
** headers beyond it (or more than LN_HTTP_MAX_HEADERS lines) 431, a body
** beyond the body limit 413 (by Content-Length before it is read), a request that is not complete
** within the request timeout 408; each of these then closes the connection
** (see ln_http_server_on_refusal for headers on them).
** A response goes out whole however slowly the client reads, as long as it
** reads some of it within each request timeout (else it is dropped); a
** closing connection closes after the last byte is written.
** A newcomer beyond the connection limit, or beyond its address's limit,
** pushes out the connection idle the longest (of its address, at its
** address's limit), else one still sending its request; when every
** connection is busy (a request with the handler, a response going out, a
** stream) the newcomer is accepted and closed at once.
**
** int results: 0 or a negative LN_E* code (err.h). Inputs are borrowed for
** the call. Everything runs on the loop thread. Nothing here prints.
*/
#ifndef LN_HTTP_H
#define LN_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define LN_HTTP_MAX_HEADER    (8u * 1024)     /* request line + headers, bytes */
#define LN_HTTP_MAX_BODY      (1u << 20)      /* request body, bytes */
#define LN_HTTP_MAX_CONNS     1024            /* open connections */
#define LN_HTTP_MAX_PER_ADDR  256             /* open connections from one IP address */
#define LN_HTTP_IDLE_MS       30000           /* keep-alive connection with no request */
#define LN_HTTP_REQUEST_MS    10000           /* first byte to end of request */
#define LN_HTTP_MAX_OUTBUF    (4u << 20)      /* unsent bytes of a stream before it is dropped */
#define LN_HTTP_MAX_HEADERS   64              /* header lines kept per request */

typedef struct ln_http_server ln_http_server;   /* opaque */
typedef struct ln_http_req ln_http_req;

/* Limits; a zero field takes the default above. */
typedef struct {
    size_t max_header, max_body, max_conns, max_per_addr, max_outbuf;
    uint64_t idle_ms, request_ms;
} ln_http_limits;

/* What a handler sees. Fields are read-only; strings are NUL-terminated and
** live as long as the request. */
struct ln_http_req {
    const char *method;          /* "GET", "POST", ... */
    const char *path;            /* "/c/token/balance_of", still %-encoded */
    const char *query;           /* after '?', still encoded; "" if none */
    const char *body;            /* NUL-terminated too; "" if none */
    size_t body_len;
    int keep_alive;              /* the connection stays open after this one */
    void *data;                  /* the handler's own */
};

/* Called for each complete request. */
typedef void (*ln_http_handler)(ln_http_req *req, void *ud);
/* The server's handles are all closed; srv is freed when this returns. */
typedef void (*ln_http_close_cb)(ln_http_server *srv, void *ud);
/* A stream's connection closed (client gone, write error, server closing)
** before ln_http_stream_end: req is freed when this returns. */
typedef void (*ln_http_gone_cb)(ln_http_req *req, void *ud);

/* Listens on addr: "IPv4:port", "[IPv6]:port" or "localhost:port"; port 0
** takes a free one (see ln_http_server_port). lim may be NULL (defaults).
** Sets *out only on success. LN_EINVAL (bad address), LN_EEXIST (address in
** use), LN_EIO (other socket errors), LN_ENOMEM. After a bind or listen
** failure a handle is still closing: run the loop before uv_loop_close().
** Ignores SIGPIPE process-wide (a peer that went away must give EPIPE). */
int  ln_http_server_start(uv_loop_t *loop, const char *addr, const ln_http_limits *lim,
                          ln_http_handler handler, void *ud, ln_http_server **out);

/* The bound port. */
int  ln_http_server_port(const ln_http_server *srv);

/* Called when the server refuses a request whose headers it has read (a
** body over the limit, 413; a body not in within the request timeout, 408;
** a bad URL, 400) before the refusal goes out, with the handler's ud: it
** may add header lines with ln_http_req_add_header (CORS headers, so that a
** browser can read why). req lives only during the call. NULL: none. */
typedef void (*ln_http_refusal_cb)(ln_http_req *req, int status, void *ud);
void ln_http_server_on_refusal(ln_http_server *srv, ln_http_refusal_cb cb);

/* Open connections, for metrics. */
size_t ln_http_server_conns(const ln_http_server *srv);

/* Connections closed so far to make room for a newcomer (*shed), and
** newcomers closed because every connection was busy (*refused). */
void ln_http_server_stats(const ln_http_server *srv, uint64_t *shed, uint64_t *refused);

/* Stops listening and closes every connection (streams get their gone
** callback; requests waiting for a response stay valid, see above). cb (may
** be NULL) runs once every handle is closed. Call once. */
void ln_http_server_close(ln_http_server *srv, ln_http_close_cb cb, void *ud);

/* A header's value (name is case-insensitive), or NULL. Repeated headers:
** the first. */
const char *ln_http_req_header(const ln_http_req *req, const char *name);

/* Adds the header line "name: value" (copied) to the response to req,
** before ln_http_respond or ln_http_stream_begin. LN_EINVAL (an empty name,
** CR or LF, ':' in the name), LN_ETOOBIG (over 2 KiB added in all), LN_ENOMEM. */
int  ln_http_req_add_header(ln_http_req *req, const char *name, const char *value);

/* 1 while the client is still connected, else 0. */
int  ln_http_req_alive(const ln_http_req *req);

/* Sends the response and finishes req (freed; don't touch it again); not
** for a request whose stream began. Adds Content-Length and Connection. body
** (len bytes, copied; may be NULL when len is 0) with Content-Type
** content_type (NULL: none). Dropped quietly when the client is gone. */
void ln_http_respond(ln_http_req *req, int status, const char *content_type,
                     const void *body, size_t len);

/* Starts a streamed response (for Server-Sent Events): status and headers
** now, no Content-Length, "Cache-Control: no-cache"; the body ends when the
** connection closes. gone (may be NULL) runs if the connection closes before
** ln_http_stream_end; then req is freed after it returns. LN_EIO if the
** client is already gone (then nothing is registered and req is finished). */
int  ln_http_stream_begin(ln_http_req *req, int status, const char *content_type,
                          ln_http_gone_cb gone, void *ud);

/* Queues bytes (copied). LN_EIO when the connection is closing; a client that
** lets more than max_outbuf bytes pile up is dropped (and gets its gone
** callback, from the loop, not from inside this call). */
int  ln_http_stream_write(ln_http_req *req, const void *p, size_t n);

/* Ends the stream from the server side: flushes, closes the connection and
** frees req. gone is not called. */
void ln_http_stream_end(ln_http_req *req);

/* Finds parameter name in a query string ("a=1&b=x%20y") and %-decodes its
** value ('+' is a space) into a malloc()ed NUL-terminated *out of *len bytes
** (the caller free()s). LN_ENOTFOUND, LN_EINVAL (bad %-escape), LN_ENOMEM. */
int  ln_http_query_get(const char *query, const char *name, char **out, size_t *len);

/* %-decodes s[0..n) into out (room for n+1 bytes; NUL-terminated); '+' is
** kept. Returns the decoded length, or LN_EINVAL for a bad escape. */
int  ln_http_unescape(const char *s, size_t n, char *out);

/* "OK", "Not Found", ...; "Unknown" for codes it does not know. */
const char *ln_http_status_text(int status);

#endif
