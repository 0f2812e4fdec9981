/*
** rpcc.h -- a JSON-RPC 2.0 client of a lunet node over one kept HTTP
** connection (httpc.h): what the CLI and `lunet bench` speak.
**
** int results: 0 or a negative LN_E* code (err.h), with a one-line reason
** in err (err may be NULL when errlen is 0):
**   LN_EINVAL  a bad URL, or a reply that is not JSON-RPC
**   LN_EIO     the node cannot be reached, or did not answer in time
**   the node's own code when it answered with an error: its LN_E* code for
**   a refusal (-32000 + code), else LN_EINVAL; err is then
**   "message [ENAME]: why" as the node said it.
** Inputs are borrowed for the call. One thread at a time per client.
*/
#ifndef LN_RPCC_H
#define LN_RPCC_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "httpc.h"

typedef struct ln_rpcc ln_rpcc;   /* opaque */

/* A client of the node at url ("http://127.0.0.1:8765"); no I/O yet.
** timeout_ms bounds each request. LN_EINVAL (bad URL), LN_ENOMEM. */
int  ln_rpcc_open(const char *url, int timeout_ms, ln_rpcc **out, char *err, size_t errlen);
void ln_rpcc_close(ln_rpcc *c);                        /* NULL is a no-op */
const char *ln_rpcc_url(const ln_rpcc *c);             /* as given */

/* Calls method with params (taken; NULL sends {}). On success *result is
** the caller's (cJSON_Delete). */
int  ln_rpcc_call(ln_rpcc *c, const char *method, cJSON *params, cJSON **result,
                  char *err, size_t errlen);

/* Posts a JSON text as it is (a batch); on success *reply is its parsed
** body, the caller's. what names it in err ("tx_submit"). */
int  ln_rpcc_post(ln_rpcc *c, const char *what, const char *json, size_t len, cJSON **reply,
                  char *err, size_t errlen);

/* A batch request item {jsonrpc, id, method, params} (params taken). */
cJSON *ln_rpcc_item(double id, const char *method, cJSON *params);

/* The item of a batch reply whose id is id, or NULL. */
const cJSON *ln_rpcc_by_id(const cJSON *reply, double id);

/* The text of a JSON-RPC error object, as err above; the LN_E* code. */
int  ln_rpcc_errtext(const cJSON *error, char *out, size_t n);

/* GET path; the whole response in *res (ln_httpc_response_free). */
int  ln_rpcc_get(ln_rpcc *c, const char *path, ln_httpc_response *res, char *err, size_t errlen);

/* Field readers of a reply: a string, or NULL; a non-negative integer
** within the safe range (0), or -1. */
const char *ln_rpcc_str(const cJSON *o, const char *key);
int  ln_rpcc_uint(const cJSON *o, const char *key, uint64_t *out);

#endif
