/*
** rpc.h -- the node's HTTP face: JSON-RPC 2.0, health, metrics, queries by
** URL, Server-Sent Events and the dashboard (core/http.h underneath).
** Three files: rpc.c (the server and its routes), rpc_call.c (JSON-RPC
** calls and methods), rpc_json.c (msgpack <-> JSON, base64).
**
** Routes:
**   POST /                      JSON-RPC 2.0, one call or a batch (at most
**                               LN_RPC_MAX_BATCH); 200 with the response,
**                               204 when every call was a notification
**   GET  /                      the dashboard page (core/dashboard.html)
**   GET  /health                {"ok": true, "height": N}
**   GET  /metrics               Prometheus text: ln_node_metrics() + lunet_rpc_*
**   GET  /c/CONTRACT/METHOD?args=<url-encoded JSON array>
**                               {"result", "gas_used"}; errors as
**                               {"error": {code, message, data}} with 400
**                               (503 for EBUSY)
**   OPTIONS *                   a CORS preflight, when ln_rpc_cors gave origins
**   GET  /events                SSE: "event: block" {height, hash, txs, time},
**                               "event: contract" {height, tx, contract, name,
**                               data}; a ": ping" comment every LN_RPC_PING_MS
**
** Methods (params are a JSON object; DESIGN "Wire format"):
**   chain_info     {}                     -> {chain_id, height, head, consensus, time,
**                                             state_root, mempool, fingerprint, txs_committed}
**   block_get      {height} | {hash}      -> {hash, header, txs, cert}; each tx is its
**                                             decoded map plus "hash"
**   tx_submit      {tx: base64}           -> {hash}      (after the node's checks)
**   tx_get         {hash, body?: bool}    -> {status: "pending"|"committed"|"unknown",
**                                             height, receipt}   (null when unknown);
**                                             with body: true also tx, the transaction
**                                             decoded as in block_get
**   tx_estimate    {tx: base64}           -> the receipt the signed transaction would get
**                                             in the next block now, plus included, code
**                                             and hash: nothing is kept (a dry run on the
**                                             query workers, for a client's max_fee)
**   contract_query {contract, method, args?: [...]} -> {result, gas_used}
**                                             (off the loop: ln_node_query)
**   account_get    {account}              -> {account, nonce, pending_nonce, balance,
**                                             permissions: {owner, active}, code_hash?}
**                                             (pending_nonce: the nonce after the account's
**                                             waiting transactions that follow nonce)
**   state_get      {key: "text" | "0x<hex>"} -> {key, value, raw, proof, height, state_root}
**                                             (value, raw null when absent with a proof)
**
** JSON rendering of msgpack: nil, booleans, integers as numbers (exact, also
** beyond 2^53), str as strings (a str that is not valid UTF-8 or holds a NUL
** as "0x<hex>"), bin as "0x<hex>". Hashes that name things (head, block and
** tx hash, state_root) are plain lowercase hex; params take them with or
** without "0x". JSON into msgpack (contract args): integers within
** +-LN_SAFE_INT (1 and 1.0 are the same JSON number), strings as str (also
** "0x..." ones), arrays, objects as maps with sorted keys.
**
** Error codes (the "code" of a JSON-RPC error object):
**   -32700  parse error          the body is not JSON, not UTF-8, or holds
**                                a NUL byte
**   -32600  invalid request      not an object or array, empty or too long
**                                batch, "jsonrpc" not "2.0", no string method,
**                                bad id, params not structured, a string
**                                with the escape \u0000 (NUL) anywhere
**   -32601  method not found
**   -32602  invalid params       missing or mistyped field, bad base64, bad
**                                hex, float or unsafe integer, bad name
**   -32603  internal error       out of memory, a node failure with no code
**   -32000 + LN_E*               the node refused (err.h): the code is
**                                -32000 + the LN_E* value, "data" is
**                                {"name": "EBADSIG", "why": "<reason>"}, e.g.
**     -32001 ENOTFOUND  -32002 EIO       -32003 ENOMEM    -32004 EINVAL
**     -32010..-32022    codec refusals of the transaction (ETRUNC .. EBADBYTE)
**     -32030 EBADSIG    -32031 EBADKEY   -32032 EPROOF
**     -32040 EBADTX     -32041 ECHAINID  -32042 ENONCE    -32043 EEXPIRED
**     -32044 ENOACCOUNT -32045 EAUTH     -32046 EBALANCE  -32047 EBADNAME
**     -32048 EDUPSIG    -32049 ETXSIZE
**     -32060 EGAS       -32061 EMEM      -32062 ECALL     -32063 ENOCODE
**     -32064 ENOMETHOD  -32065 EPRIVATE  -32066 ECODE     -32067 EDEPTHCALL
**     -32068 EREADONLY
**     -32085 EBUSY      too many queries waiting (LN_NODE_QUERY_QUEUE): try again
** The message says what was wrong ("wrong nonce: expected 3, got 5"); where
** it quotes the request, bytes that are not UTF-8 show as '?'.
**
** int results: 0 or a negative LN_E* code (err.h). Everything here runs on
** the loop thread; queries run on the node's query workers.
*/
#ifndef LN_RPC_H
#define LN_RPC_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <msgpack.h>
#include <cjson/cJSON.h>

#include "node.h"
#include "rpc_call.h"   /* JSON-RPC processing, error codes */
#include "rpc_json.h"   /* msgpack <-> JSON */

#define LN_RPC_PING_MS    15000   /* SSE keep-alive comment */

typedef struct ln_rpc ln_rpc;   /* opaque */

/* Serves node on host_port ("127.0.0.1:8765"; port 0 takes a free one) and
** subscribes to its blocks. Sets *out only on success. The errors of
** ln_http_server_start (LN_EINVAL, LN_EEXIST: address in use, LN_EIO),
** LN_ENOMEM, or ln_node_subscribe's. */
int  ln_rpc_start(ln_node *node, uv_loop_t *loop, const char *host_port, ln_rpc **out);

/* Unsubscribes, closes the server and every connection (SSE clients are cut);
** the handles close on the loop, then r is freed. Calls already handed to
** the node (tx_submit) still answer or drop their request when the node
** calls back; nothing there touches r. NULL is a no-op. */
void ln_rpc_stop(ln_rpc *r);

/* Answers browsers' CORS requests for these origins (copied; "*" is any
** origin): preflights (OPTIONS with Access-Control-Request-Method) get 204,
** the allowed methods, the headers asked for and Access-Control-Max-Age;
** responses to an allowed Origin carry Access-Control-Allow-Origin (the
** origin echoed) and Vary: Origin; other origins get neither (403 for a
** preflight). With no origins (the default) nothing of this is sent and
** OPTIONS is 405. Each origin is "*" or scheme://host[:port][/] (no path, at
** most LN_RPC_ORIGIN_MAX bytes), kept as a browser writes it in Origin:
** "HTTPS://App.Example:443/" lets "https://app.example" in. At most
** LN_RPC_MAX_CORS. LN_EINVAL (then nothing changed), LN_ENOMEM. */
#define LN_RPC_MAX_CORS   32
#define LN_RPC_ORIGIN_MAX 255
int  ln_rpc_cors(ln_rpc *r, const char *const *origins, size_t n);

/* The bound port (useful after port 0). */
int  ln_rpc_port(const ln_rpc *r);

#endif
