/*
** json.h -- JSON values (cJSON) for the CLI: method arguments from the
** command line, and their canonical msgpack form.
**
** int results: 0 or a negative LN_E* code (core/err.h); a one-line reason
** goes to err[0..errlen) when err != NULL and errlen > 0. Inputs are
** borrowed for the call. Returned cJSON trees are the caller's
** (cJSON_Delete), returned strings are malloc()ed (free()).
**
** Method arguments (DESIGN, "Outside interfaces"). Each positional argument
** is parsed as JSON when it is one valid JSON text (RFC 8259, strictly: no
** "+1", "01", ".5", raw control characters in strings, or bytes that are not
** UTF-8), and taken as a string otherwise: bob -> "bob", 10 -> 10,
** '[1,2]' -> [1, 2], true -> true, '"10"' -> "10", '1.2.3' -> "1.2.3".
** A valid JSON text is then refused when it holds
**   - a number with a fraction or an exponent ("1.5", "1e3", even "1.0"):
**     LN_EFLOAT, floats are not allowed anywhere in lunet;
**   - an integer beyond +-LN_SAFE_INT (2^53-1): LN_ERANGE;
**   - null inside an array or object: LN_ETYPE. A Lua table cannot hold nil
**     (the entry would vanish or leave a hole), so null is allowed only as a
**     whole argument, where the contract receives nil in that position;
**   - an object with a repeated key: LN_EDUPKEY;
**   - "\u0000" in a string: LN_EINVAL;
**   - arrays/objects nested deeper than LN_JSON_MAX_DEPTH: LN_EDEPTH.
** To pass text that would parse as JSON, quote it: '"10"', '"true"', '"null"'.
**
** Canonical msgpack (codec.h) of a checked value: integers in their shortest
** form, strings as str when valid UTF-8 and as bin otherwise (as
** ln_codec_pack_lua does; only a plain, non-JSON argument can hold such
** bytes), true/false/nil, arrays, objects as maps with keys sorted by their
** bytes. The JSON value of a bin-bound string is not representable, so
** ln_json_check_text refuses it for JSON-only paths (contract_query).
*/
#ifndef LN_JSON_H
#define LN_JSON_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include <msgpack.h>

/* Containers within one argument. An argument sits at level 5 of a
** transaction (tx map, actions, action, args), and the codec allows 32. */
#define LN_JSON_MAX_DEPTH 28

/* Parses one command-line argument as above. Sets *out (never NULL) only on
** success. LN_EFLOAT, LN_ERANGE, LN_ETYPE, LN_EDUPKEY, LN_EINVAL, LN_EDEPTH,
** LN_ENOMEM. */
int  ln_json_arg(const char *text, cJSON **out, char *err, size_t errlen);

/* 0 when every string in v (and every object key) is valid UTF-8, so v can
** travel as JSON; else LN_EINVAL. */
int  ln_json_check_text(const cJSON *v, char *err, size_t errlen);

/* Packs a value accepted by ln_json_arg (or built to the same rules) as
** canonical msgpack onto pk. LN_EFLOAT for a non-integral number, LN_ERANGE
** beyond +-LN_SAFE_INT, LN_EDUPKEY, LN_EDEPTH beyond LN_JSON_MAX_DEPTH,
** LN_ETYPE for an invalid cJSON item, LN_ENOMEM if pk's writer fails. On
** error what was packed is garbage and the caller drops the buffer. */
int  ln_json_pack(const cJSON *v, msgpack_packer *pk);

/* v as one line of text for people: a string as its bare text, anything else
** as compact JSON. NULL only when out of memory. */
char *ln_json_text(const cJSON *v);

#endif
