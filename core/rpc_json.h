/*
** rpc_json.h -- msgpack <-> JSON as the RPC renders them (the rules are in
** rpc.h), the JSON builders the RPC files share, and strict base64.
** Internals of the RPC server (ln__rpc_ prefix); tests/c/test_rpc.c uses
** them too. A cJSON result is the caller's (cJSON_Delete); NULL means out of
** memory.
*/
#ifndef LN_RPC_JSON_H
#define LN_RPC_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>
#include <cjson/cJSON.h>

/* Strict RFC 4648 base64 (standard alphabet, '=' padding required, no
** whitespace, unused bits zero). *out malloc()ed (non-NULL even when empty),
** the caller free()s. LN_EINVAL, LN_ENOMEM. */
int   ln__rpc_base64_decode(const char *s, size_t n, uint8_t **out, size_t *outlen);

/* What cJSON would take but must not: JSON text that is not UTF-8 or holds
** a NUL byte (LN_ETYPE), or a string with the escape \u0000 (LN_EINVAL;
** cJSON's strings end at a NUL, so "a\u0000b" would read as "a"). Writes the
** reason into why. Valid JSON text gives 0; the rest is left to the parser. */
int   ln__rpc_json_check(const char *p, size_t n, char *why, size_t whylen);

/* Canonical msgpack of a JSON value (see the rendering rules in rpc.h);
** *out malloc()ed. LN_EFLOAT (fraction, inf), LN_ERANGE (beyond
** +-LN_SAFE_INT), LN_EDUPKEY, LN_EDEPTH, LN_ETOOBIG, LN_EINVAL (string not
** UTF-8), LN_ETYPE, LN_ENOMEM. */
int   ln__rpc_json_to_msgpack(const cJSON *j, uint8_t **out, size_t *len);

/* JSON of a msgpack value (rules in rpc.h). */
cJSON *ln__rpc_msgpack_to_json(const msgpack_object *o);

/* Builders. put/push add v (taking it) and return 0, or -1 (v deleted)
** when v is NULL or adding fails, so `bad |= put(...)` collects failures. */
int    ln__rpc_put(cJSON *o, const char *k, cJSON *v);
int    ln__rpc_push(cJSON *a, cJSON *v);
cJSON *ln__rpc_i64(int64_t v);              /* exact, also beyond 2^53 */
cJSON *ln__rpc_u64(uint64_t v);
cJSON *ln__rpc_hex(const uint8_t *p, size_t n, int prefix);   /* "0x" when prefix */
cJSON *ln__rpc_text(const char *p, size_t n);   /* a string, or "0x<hex>" if not text */
cJSON *ln__rpc_hash(const msgpack_object *o);   /* bin(32) as plain hex, else rendered; NULL o: null */
cJSON *ln__rpc_or_null(const msgpack_object *o);   /* rendered; NULL o: null */

#endif
