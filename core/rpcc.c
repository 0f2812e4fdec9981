/* rpcc.c -- a JSON-RPC 2.0 client of a lunet node (see rpcc.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "err.h"
#include "rpcc.h"

#define JSON_LUNET (-32000)   /* JSON-RPC code of a node refusal: -32000 + LN_E* (rpc.h) */

struct ln_rpcc {
    ln_httpc_url url;
    ln_httpc_conn *conn;
    int timeout_ms;
    double next_id;
    char text[LN_HTTPC_HOST_MAX + LN_HTTPC_PATH_MAX + 32];
};

int ln_rpcc_open(const char *url, int timeout_ms, ln_rpcc **out, char *err, size_t errlen)
{
    ln_rpcc *c = calloc(1, sizeof *c);
    if (!c) return ln_errf(err, errlen, LN_ENOMEM, "out of memory");
    int rc = ln_httpc_url_parse(url, &c->url, err, errlen);
    if (rc == 0 && ln_httpc_conn_new(&c->url, &c->conn) < 0)
        rc = ln_errf(err, errlen, LN_ENOMEM, "out of memory");
    if (rc < 0) {
        free(c);
        return rc;
    }
    snprintf(c->text, sizeof c->text, "%s", url);
    c->timeout_ms = timeout_ms;
    *out = c;
    return 0;
}

void ln_rpcc_close(ln_rpcc *c)
{
    if (!c) return;
    ln_httpc_conn_free(c->conn);
    free(c);
}

const char *ln_rpcc_url(const ln_rpcc *c) { return c->text; }

const char *ln_rpcc_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int ln_rpcc_uint(const cJSON *o, const char *key, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= (double)LN_SAFE_INT) || (double)(uint64_t)d != d) return -1;
    *out = (uint64_t)d;
    return 0;
}

int ln_rpcc_errtext(const cJSON *e, char *out, size_t n)
{
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(e, "data");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
    const char *msg = ln_rpcc_str(e, "message"), *name = ln_rpcc_str(data, "name"),
               *why = ln_rpcc_str(data, "why");
    char tag[48] = "";
    if (name) snprintf(tag, sizeof tag, " [%s]", name);
    else if (cJSON_IsNumber(code)) snprintf(tag, sizeof tag, " [%d]", code->valueint);
    /* the node's message often carries the why already: say it once */
    int say_why = why && *why && (!msg || !strstr(msg, why));
    if (out && n)
        snprintf(out, n, "%s%s%s%s", msg ? msg : "error", tag, say_why ? ": " : "",
                 say_why ? why : "");
    int c = cJSON_IsNumber(code) ? code->valueint : 0;
    return c < JSON_LUNET && c > JSON_LUNET - 100 ? c - JSON_LUNET : LN_EINVAL;   /* LN_E* > -100 */
}

static int request(ln_rpcc *c, const char *what, const char *method, const char *path,
                   const char *body, size_t len, ln_httpc_response *res, char *err,
                   size_t errlen)
{
    char why[512];
    int rc = ln_httpc_conn_request(c->conn, method, path, body ? "application/json" : NULL,
                                   body, len, c->timeout_ms, res, why, sizeof why);
    if (rc < 0)
        return ln_errf(err, errlen, rc, "%s: %s%s", what, why,
                       strncmp(why, "cannot connect", 14) ? ""
                       : " (is a node running there? see --rpc)");
    return 0;
}

int ln_rpcc_get(ln_rpcc *c, const char *path, ln_httpc_response *res, char *err, size_t errlen)
{
    return request(c, path, "GET", path, NULL, 0, res, err, errlen);
}

int ln_rpcc_post(ln_rpcc *c, const char *what, const char *json, size_t len, cJSON **reply,
                 char *err, size_t errlen)
{
    ln_httpc_response res = { 0, NULL, 0 };
    int rc = request(c, what, "POST", c->url.path, json, len, &res, err, errlen);
    if (rc < 0) return rc;
    *reply = cJSON_ParseWithLength(res.body, res.body_len);
    int status = res.status;
    ln_httpc_response_free(&res);
    if (!*reply && status != 200)
        return ln_errf(err, errlen, LN_EINVAL, "%s: HTTP %d from %s", what, status, c->text);
    if (!*reply)
        return ln_errf(err, errlen, LN_EINVAL, "%s: the reply from %s is not JSON-RPC", what,
                       c->text);
    return 0;
}

cJSON *ln_rpcc_item(double id, const char *method, cJSON *params)
{
    cJSON *q = cJSON_CreateObject();
    if (!q) {
        cJSON_Delete(params);
        return NULL;
    }
    cJSON_AddStringToObject(q, "jsonrpc", "2.0");
    cJSON_AddNumberToObject(q, "id", id);
    cJSON_AddStringToObject(q, "method", method);
    cJSON_AddItemToObject(q, "params", params ? params : cJSON_CreateObject());
    return q;
}

const cJSON *ln_rpcc_by_id(const cJSON *reply, double id)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, reply) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(x, "id");
        if (cJSON_IsNumber(v) && v->valuedouble == id) return x;
    }
    return NULL;
}

int ln_rpcc_call(ln_rpcc *c, const char *method, cJSON *params, cJSON **result,
                 char *err, size_t errlen)
{
    cJSON *req = ln_rpcc_item(++c->next_id, method, params);
    char *body = req ? cJSON_PrintUnformatted(req) : NULL;
    cJSON_Delete(req);
    if (!body) return ln_errf(err, errlen, LN_ENOMEM, "out of memory");
    cJSON *reply = NULL;
    int rc = ln_rpcc_post(c, method, body, strlen(body), &reply, err, errlen);
    free(body);
    if (rc < 0) return rc;
    if (!cJSON_IsObject(reply)) {
        cJSON_Delete(reply);
        return ln_errf(err, errlen, LN_EINVAL, "%s: the reply from %s is not JSON-RPC", method,
                       c->text);
    }
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(reply, "error");
    if (e && !cJSON_IsNull(e)) {
        char text[480];
        rc = ln_rpcc_errtext(e, text, sizeof text);
        cJSON_Delete(reply);
        return ln_errf(err, errlen, rc, "%s: %s", method, text);
    }
    *result = cJSON_DetachItemFromObjectCaseSensitive(reply, "result");
    cJSON_Delete(reply);
    if (!*result)
        return ln_errf(err, errlen, LN_EINVAL, "%s: the reply from %s has neither result nor error",
                       method, c->text);
    return 0;
}
