/*
** httpc.h -- a small blocking HTTP/1.1 client, what the CLI and `lunet
** bench` need to reach a node: one request per TCP connection (`Connection:
** close`), or requests one at a time on a kept connection (ln_httpc_conn).
** Responses are parsed by Node's http-parser: status line, headers,
** Content-Length, chunked and close-delimited bodies.
**
** int results: 0 or a negative LN_E* code (core/err.h); a one-line reason
** (never more) goes to err[0..errlen) when err != NULL and errlen > 0:
**   LN_EINVAL  a bad URL, or a response that is not HTTP
**   LN_EIO     name lookup, connect, send or receive failed, or timed out
**   LN_ETOOBIG the response body exceeds LN_HTTPC_MAX_BODY
**   LN_ENOMEM  out of memory
** Inputs are borrowed for the call. No NULL pointers unless a comment says so.
** Writing to a closed socket never raises SIGPIPE.
*/
#ifndef LN_HTTPC_H
#define LN_HTTPC_H

#include <stddef.h>
#include <stdint.h>

#define LN_HTTPC_MAX_BODY   (64u << 20)   /* bytes of one response body */
#define LN_HTTPC_HOST_MAX   255
#define LN_HTTPC_PATH_MAX   1023

/* A parsed http:// URL. */
typedef struct {
    char host[LN_HTTPC_HOST_MAX + 1];   /* name or address; IPv6 without brackets */
    uint16_t port;                      /* 80 when the URL names none */
    char path[LN_HTTPC_PATH_MAX + 1];   /* path and ?query; "/" when empty */
} ln_httpc_url;

/* Parses "http://HOST[:PORT][/PATH][?QUERY]" (HOST may be [IPv6]); a string
** without "://" is read as "http://" + string, so "127.0.0.1:8765" works.
** Refuses other schemes (https is not supported), user info, port 0, and
** hosts or paths longer than the fields above. A #fragment is dropped.
** *out is written only on success. LN_EINVAL. */
int  ln_httpc_url_parse(const char *url, ln_httpc_url *out, char *err, size_t errlen);

/* A response. body is malloc()ed and NUL-terminated (the NUL is not counted
** in body_len; the body may hold other NULs); ln_httpc_response_free. */
typedef struct {
    int status;          /* 200, 404, ... */
    char *body;
    size_t body_len;
} ln_httpc_response;

void ln_httpc_response_free(ln_httpc_response *res);   /* NULL is a no-op */

/* Sends one request and reads the whole response within timeout_ms
** (connect, send and receive together). method is "GET" or "POST"; path is
** sent as is ("/" or u->path); ctype may be NULL (no Content-Type); body may
** be NULL when n is 0. Any HTTP status is a success here: the caller looks at
** res->status. *res is written only on success. */
int  ln_httpc_request(const ln_httpc_url *u, const char *method, const char *path,
                      const char *ctype, const void *body, size_t n, int timeout_ms,
                      ln_httpc_response *res, char *err, size_t errlen);

/* A kept connection: requests one at a time, HTTP/1.1 keep-alive. It dials
** on first use and again after the server closed it; a request that finds
** a kept connection closed before any byte of a response came back is sent
** once more on a new one. ln_httpc_conn_new does no I/O: LN_ENOMEM. */
typedef struct ln_httpc_conn ln_httpc_conn;   /* opaque */
int  ln_httpc_conn_new(const ln_httpc_url *u, ln_httpc_conn **out);
void ln_httpc_conn_free(ln_httpc_conn *c);                      /* NULL is a no-op */
int  ln_httpc_conn_request(ln_httpc_conn *c, const char *method, const char *path,
                           const char *ctype, const void *body, size_t n, int timeout_ms,
                           ln_httpc_response *res, char *err, size_t errlen);

/* Conveniences over ln_httpc_request at u->path. */
int  ln_httpc_post_json(const ln_httpc_url *u, const char *json, int timeout_ms,
                        ln_httpc_response *res, char *err, size_t errlen);
int  ln_httpc_get(const ln_httpc_url *u, int timeout_ms,
                  ln_httpc_response *res, char *err, size_t errlen);

/* Parses a complete response held in raw[0..n), as if the connection closed
** after its last byte (what ln_httpc_request does with the bytes it reads).
** Bytes after a complete response are ignored. LN_EINVAL when raw is not one
** complete HTTP/1.x response, LN_ETOOBIG, LN_ENOMEM. */
int  ln_httpc_parse(const char *raw, size_t n, ln_httpc_response *res,
                    char *err, size_t errlen);

#endif
