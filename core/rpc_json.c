/*
** rpc_json.c -- msgpack <-> JSON for the RPC (rules in rpc.h), the shared
** JSON builders, and strict base64 (rpc_json.h).
*/
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "rpc_json.h"

/* ---- JSON building ------------------------------------------------------ */

/* Adds v under k; -1 (and v deleted) when v is NULL or adding fails. */
int ln__rpc_put(cJSON *o, const char *k, cJSON *v)
{
    if (!v) return -1;
    if (!cJSON_AddItemToObject(o, k, v)) { cJSON_Delete(v); return -1; }
    return 0;
}

int ln__rpc_push(cJSON *a, cJSON *v)
{
    if (!v) return -1;
    if (!cJSON_AddItemToArray(a, v)) { cJSON_Delete(v); return -1; }
    return 0;
}

/* Integers print exactly: small ones through cJSON, others as raw text. */
cJSON *ln__rpc_i64(int64_t v)
{
    if (v > -2147483647LL && v < 2147483647LL) return cJSON_CreateNumber((double)v);
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return cJSON_CreateRaw(buf);
}

cJSON *ln__rpc_u64(uint64_t v)
{
    if (v < 2147483647ULL) return cJSON_CreateNumber((double)v);
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return cJSON_CreateRaw(buf);
}

/* Hex of p[0..n), "0x"-prefixed when prefix. */
cJSON *ln__rpc_hex(const uint8_t *p, size_t n, int prefix)
{
    char *s = malloc(2 * n + 3);
    if (!s) return NULL;
    size_t o = 0;
    if (prefix) { s[0] = '0'; s[1] = 'x'; o = 2; }
    ln_hex(p, n, s + o);
    cJSON *j = cJSON_CreateString(s);
    free(s);
    return j;
}

/* A str that JSON can carry as text: valid UTF-8, no NUL. */
static int texty(const char *p, size_t n)
{
    return ln_utf8_valid((const uint8_t *)p, n) && memchr(p, 0, n) == NULL;
}

cJSON *ln__rpc_text(const char *p, size_t n)
{
    if (!texty(p, n)) return ln__rpc_hex((const uint8_t *)p, n, 1);
    char *s = malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, p, n);
    s[n] = '\0';
    cJSON *j = cJSON_CreateString(s);
    free(s);
    return j;
}

static cJSON *mp_to_json(const msgpack_object *o, int depth)
{
    if (depth > LN_CODEC_MAX_DEPTH + 1) return cJSON_CreateNull();
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return cJSON_CreateNull();
    case MSGPACK_OBJECT_BOOLEAN: return cJSON_CreateBool(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return ln__rpc_u64(o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return ln__rpc_i64(o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return cJSON_CreateNumber(o->via.f64);
    case MSGPACK_OBJECT_STR: return ln__rpc_text(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN: return ln__rpc_hex((const uint8_t *)o->via.bin.ptr, o->via.bin.size, 1);
    case MSGPACK_OBJECT_ARRAY: {
        cJSON *a = cJSON_CreateArray();
        if (!a) return NULL;
        for (uint32_t i = 0; i < o->via.array.size; i++)
            if (ln__rpc_push(a, mp_to_json(&o->via.array.ptr[i], depth + 1)) < 0) {
                cJSON_Delete(a);
                return NULL;
            }
        return a;
    }
    case MSGPACK_OBJECT_MAP: {
        cJSON *m = cJSON_CreateObject();
        if (!m) return NULL;
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            cJSON *kj = k->type == MSGPACK_OBJECT_STR ? ln__rpc_text(k->via.str.ptr, k->via.str.size)
                                                      : mp_to_json(k, depth + 1);
            char *ks = !kj ? NULL : cJSON_IsString(kj) ? strdup(kj->valuestring)
                                                       : cJSON_PrintUnformatted(kj);
            cJSON_Delete(kj);
            int bad = !ks || ln__rpc_put(m, ks, mp_to_json(&o->via.map.ptr[i].val, depth + 1)) < 0;
            free(ks);
            if (bad) { cJSON_Delete(m); return NULL; }
        }
        return m;
    }
    default: return cJSON_CreateNull();   /* ext: never in canonical data */
    }
}

cJSON *ln__rpc_msgpack_to_json(const msgpack_object *o)
{
    return mp_to_json(o, 1);
}

/* A hash field: bin(32) as plain hex, anything else rendered. */
cJSON *ln__rpc_hash(const msgpack_object *o)
{
    if (!o) return cJSON_CreateNull();
    if (o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == LN_HASH_LEN)
        return ln__rpc_hex((const uint8_t *)o->via.bin.ptr, LN_HASH_LEN, 0);
    return ln__rpc_msgpack_to_json(o);
}

cJSON *ln__rpc_or_null(const msgpack_object *o)
{
    return o ? ln__rpc_msgpack_to_json(o) : cJSON_CreateNull();
}

/* ---- JSON -> canonical msgpack ------------------------------------------ */

static int keycmp(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string, y->string);
}

static int pack_json(msgpack_packer *pk, const cJSON *j, int depth)
{
    int rc = 0;
    switch (j->type & 0xFF) {
    case cJSON_NULL: return msgpack_pack_nil(pk) ? LN_ENOMEM : 0;
    case cJSON_True: return msgpack_pack_true(pk) ? LN_ENOMEM : 0;
    case cJSON_False: return msgpack_pack_false(pk) ? LN_ENOMEM : 0;
    case cJSON_Number: {
        double d = j->valuedouble;
        if (!isfinite(d)) return fabs(d) > 0 && !isnan(d) ? LN_ERANGE : LN_EFLOAT;
        if (fabs(d) > (double)LN_SAFE_INT) return LN_ERANGE;
        if (d != floor(d)) return LN_EFLOAT;
        int64_t v = (int64_t)d;
        return msgpack_pack_int64(pk, v) ? LN_ENOMEM : 0;
    }
    case cJSON_String: {
        const char *s = j->valuestring;
        size_t n = strlen(s);
        if (n > LN_CODEC_MAX_ITEM) return LN_ETOOBIG;
        if (!ln_utf8_valid((const uint8_t *)s, n)) return LN_EINVAL;
        if (msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n)) return LN_ENOMEM;
        return 0;
    }
    case cJSON_Array: {
        if (depth > LN_CODEC_MAX_DEPTH) return LN_EDEPTH;
        int n = cJSON_GetArraySize(j);
        if ((size_t)n > LN_CODEC_MAX_ITEM) return LN_ETOOBIG;
        if (msgpack_pack_array(pk, (size_t)n)) return LN_ENOMEM;
        for (const cJSON *c = j->child; c && rc == 0; c = c->next)
            rc = pack_json(pk, c, depth + 1);
        return rc;
    }
    case cJSON_Object: {
        if (depth > LN_CODEC_MAX_DEPTH) return LN_EDEPTH;
        int n = cJSON_GetArraySize(j);
        if ((size_t)n > LN_CODEC_MAX_ITEM) return LN_ETOOBIG;
        const cJSON **kids = malloc(sizeof *kids * (n ? (size_t)n : 1));
        if (!kids) return LN_ENOMEM;
        int i = 0;
        for (const cJSON *c = j->child; c; c = c->next) kids[i++] = c;
        qsort(kids, (size_t)n, sizeof *kids, keycmp);
        for (i = 0; i < n && rc == 0; i++) {
            size_t kl = strlen(kids[i]->string);
            if (i > 0 && strcmp(kids[i - 1]->string, kids[i]->string) == 0) rc = LN_EDUPKEY;
            else if (kl > LN_CODEC_MAX_ITEM) rc = LN_ETOOBIG;
            else if (!ln_utf8_valid((const uint8_t *)kids[i]->string, kl)) rc = LN_EINVAL;
        }
        if (rc == 0 && msgpack_pack_map(pk, (size_t)n)) rc = LN_ENOMEM;
        for (i = 0; i < n && rc == 0; i++) {
            size_t kl = strlen(kids[i]->string);
            if (msgpack_pack_str(pk, kl) || msgpack_pack_str_body(pk, kids[i]->string, kl))
                rc = LN_ENOMEM;
            else
                rc = pack_json(pk, kids[i], depth + 1);
        }
        free(kids);
        return rc;
    }
    default: return LN_ETYPE;
    }
}

int ln__rpc_json_to_msgpack(const cJSON *j, uint8_t **out, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = pack_json(&pk, j, 1);
    if (rc == 0) rc = ln_codec_check((const uint8_t *)sb.data, sb.size);
    if (rc < 0) { msgpack_sbuffer_destroy(&sb); return rc; }
    *len = sb.size;
    *out = (uint8_t *)msgpack_sbuffer_release(&sb);
    return 0;
}

/* ---- checks before parsing -------------------------------------------- */

int ln__rpc_json_check(const char *p, size_t n, char *why, size_t whylen)
{
    if (!ln_utf8_valid((const uint8_t *)p, n))
        return ln_errf(why, whylen, LN_ETYPE, "parse error: the JSON text is not valid UTF-8");
    if (memchr(p, 0, n))
        return ln_errf(why, whylen, LN_ETYPE, "parse error: the JSON text holds a NUL byte");
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"') {
            in_str = !in_str;
        } else if (in_str && p[i] == '\\' && i + 1 < n) {
            /* cJSON would cut the string at the NUL: "a\u0000b" reads as "a" */
            if (p[i + 1] == 'u' && i + 5 < n && memcmp(p + i + 2, "0000", 4) == 0)
                return ln_errf(why, whylen, LN_EINVAL, "a string holds \\u0000 (NUL), "
                               "which is not allowed (at byte %zu)", i);
            i++;                        /* the escaped character */
        }
    }
    return 0;
}

/* ---- base64 ------------------------------------------------------------- */

/* Hand-written: libsodium's sodium_base642bin (1.0.18, original variant)
** takes bytes >= 0x80 as letters ("a\x80\x80a" decodes), which the strict
** rules of rpc_json.h refuse. */
static int b64val(int ch)
{
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+') return 62;
    if (ch == '/') return 63;
    return -1;
}

int ln__rpc_base64_decode(const char *s, size_t n, uint8_t **out, size_t *outlen)
{
    if (n % 4 != 0) return LN_EINVAL;
    size_t pad = 0;
    if (n >= 4 && s[n - 1] == '=') pad = s[n - 2] == '=' ? 2 : 1;
    size_t olen = n / 4 * 3 - pad;
    uint8_t *buf = malloc(olen ? olen : 1);
    if (!buf) return LN_ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int last = i + 4 == n;
        int v[4];
        for (int k = 0; k < 4; k++) {
            int ch = (unsigned char)s[i + k];
            if (ch == '=' && last && k >= 4 - (int)pad) { v[k] = 0; continue; }
            if ((v[k] = b64val(ch)) < 0) { free(buf); return LN_EINVAL; }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        if (last && pad == 2 && (v[1] & 0x0f)) { free(buf); return LN_EINVAL; }
        if (last && pad == 1 && (v[2] & 0x03)) { free(buf); return LN_EINVAL; }
        buf[o++] = (uint8_t)(w >> 16);
        if (!(last && pad == 2)) buf[o++] = (uint8_t)(w >> 8);
        if (!(last && pad >= 1)) buf[o++] = (uint8_t)w;
    }
    *out = buf;
    *outlen = olen;
    return 0;
}
