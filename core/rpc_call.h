/*
** rpc_call.h -- JSON-RPC 2.0 over one POST body: batches, calls, the
** methods and their error objects (the methods and codes are listed in
** rpc.h). Internals of the RPC server (ln__rpc_ prefix), shared with the
** HTTP routes (rpc.c) and tests/c/test_rpc.c.
*/
#ifndef LN_RPC_CALL_H
#define LN_RPC_CALL_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "node.h"

#define LN_RPC_MAX_BATCH  100     /* calls in one batch */
#define LN_RPC_JSON_PARSE    -32700
#define LN_RPC_JSON_REQUEST  -32600
#define LN_RPC_JSON_METHOD   -32601
#define LN_RPC_JSON_PARAMS   -32602
#define LN_RPC_JSON_INTERNAL -32603
#define LN_RPC_JSON_LUNET    -32000   /* + LN_E* */
#define LN_RPC_METHOD_MAX    128      /* bytes in a contract method's name */

/* What went wrong in a call: a JSON-RPC code (<= -32600) with msg, or an
** LN_E* code with why (and the gas a failed query used). */
typedef struct {
    int code;
    char msg[256];
    char why[512];
    int has_gas;
    uint64_t gas_used;
} ln__rpc_err;

/* Fills e (printf-style text, fmt may be NULL) and returns -1. */
int   ln__rpc_fail(ln__rpc_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define LN__RPC_PARAMS(e, ...)   ln__rpc_fail((e), LN_RPC_JSON_PARAMS, __VA_ARGS__)
#define LN__RPC_INTERNAL(e, ...) ln__rpc_fail((e), LN_RPC_JSON_INTERNAL, __VA_ARGS__)

/* -32000 + code for an LN_E* code (< 0); LN_RPC_JSON_INTERNAL otherwise. */
int   ln__rpc_errcode(int ln_code);

/* A JSON-RPC error object {code, message[, data]}: for an LN_E* code (< 0)
** code is ln__rpc_errcode and data {name, why}; for a JSON-RPC code
** (<= -32600) just code and message. why/msg may be NULL. */
cJSON *ln__rpc_error(int code, const char *msg, const char *why);

/* The error object of e (with data.gas_used when e has it). */
cJSON *ln__rpc_err_json(const ln__rpc_err *e);

/* The query behind contract_query and GET /c/...: args is a JSON array or
** NULL. It runs off the loop (ln_node_query); cb gets {result, gas_used}
** (the callee's) or the error (borrowed), once, on the loop. Returns -1
** and e (EBUSY: too many queries waiting; bad params) when cb will not run. */
typedef void (*ln__rpc_query_cb)(cJSON *res, const ln__rpc_err *e, void *ud);
int   ln__rpc_query(ln_node *n, const char *contract, const char *method, const cJSON *args,
                    ln__rpc_query_cb cb, void *ud, ln__rpc_err *e);

/* Handles one POST body. done runs exactly once, with the response text
** (malloc()ed; done free()s it) or NULL when there is nothing to answer (only
** notifications). It runs before this returns unless a call is asynchronous
** (tx_submit, contract_query). node may be NULL: calls that would reach it get -32603
** (tests of malformed requests need no node). */
typedef void (*ln__rpc_done)(char *json, void *ud);
void  ln__rpc_process(ln_node *node, const char *body, size_t len,
                      ln__rpc_done done, void *ud);

#endif
