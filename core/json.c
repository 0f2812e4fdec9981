/* json.c -- command-line arguments as JSON, and JSON as canonical msgpack. */
#include "json.h"
#include "codec.h"
#include "err.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ---- strict lexical scan ------------------------------------------------
** cJSON checks the structure but is lax about tokens ("+1", "01", raw
** control characters) and reads numbers as doubles. This scan runs first
** over the whole text: it decides whether the tokens are strict JSON and
** notes the first float, the first unsafe integer and any "\u0000". */

typedef struct {
    const char *flt;  int fltlen;    /* first number with a fraction or exponent */
    const char *big;  int biglen;    /* first integer beyond +-LN_SAFE_INT */
    int nul;                         /* a \u0000 escape */
} scan;

static int is_digit(char c) { return c >= '0' && c <= '9'; }
/* What may follow a number or literal: whitespace, a delimiter, the end. */
static int is_delim(char c)
{
    return !c || c == ' ' || c == '\t' || c == '\n' || c == '\r' || strchr(",]}:", c);
}
static int is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* 1 when s holds only strict JSON tokens and whitespace. */
static int scan_tokens(const char *s, scan *sc)
{
    memset(sc, 0, sizeof *sc);
    size_t i = 0;
    while (s[i]) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || strchr("{}[],:", c)) {
            i++;
        } else if (c == '"') {
            for (i++;; ) {
                unsigned char ch = (unsigned char)s[i];
                if (ch == 0 || ch < 0x20) return 0;
                if (ch == '"') { i++; break; }
                if (ch != '\\') { i++; continue; }
                char e = s[i + 1];
                if (e && strchr("\"\\/bfnrt", e)) { i += 2; continue; }
                if (e != 'u') return 0;
                for (int k = 2; k < 6; k++)
                    if (!is_hex(s[i + k])) return 0;
                if (!strncmp(s + i + 2, "0000", 4)) sc->nul = 1;
                i += 6;
            }
        } else if (c == '-' || is_digit(c)) {
            size_t start = i, d0;
            int isfloat = 0;
            if (s[i] == '-') i++;
            d0 = i;
            if (s[i] == '0') i++;
            else if (s[i] >= '1' && s[i] <= '9') while (is_digit(s[i])) i++;
            else return 0;
            size_t dn = i - d0;
            if (s[i] == '.') {
                i++;
                if (!is_digit(s[i])) return 0;
                while (is_digit(s[i])) i++;
                isfloat = 1;
            }
            if (s[i] == 'e' || s[i] == 'E') {
                i++;
                if (s[i] == '+' || s[i] == '-') i++;
                if (!is_digit(s[i])) return 0;
                while (is_digit(s[i])) i++;
                isfloat = 1;
            }
            if (!is_delim(s[i])) return 0;          /* "01", "1-2" */
            if (isfloat && !sc->flt) {
                sc->flt = s + start;
                sc->fltlen = (int)(i - start);
            } else if (!isfloat && !sc->big &&
                       (dn > 16 || strtoull(s + d0, NULL, 10) > (unsigned long long)LN_SAFE_INT)) {
                sc->big = s + start;
                sc->biglen = (int)(i - start);
            }
        } else if (!strncmp(s + i, "true", 4) && is_delim(s[i + 4])) {
            i += 4;
        } else if (!strncmp(s + i, "false", 5) && is_delim(s[i + 5])) {
            i += 5;
        } else if (!strncmp(s + i, "null", 4) && is_delim(s[i + 4])) {
            i += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

/* ---- object members in key order --------------------------------------- */

static int cmp_key(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string, y->string);   /* unsigned bytes; a prefix sorts first */
}

/* The members of object o sorted by key: *out is malloc()ed (NULL when
** there are none). LN_EDUPKEY (naming the key in err), LN_ETYPE for a member
** without a key, LN_ENOMEM. */
static int members(const cJSON *o, const cJSON ***out, size_t *n, char *err, size_t errlen)
{
    size_t cnt = 0, k = 0;
    for (const cJSON *c = o->child; c; c = c->next) cnt++;
    *out = NULL;
    *n = cnt;
    if (cnt == 0) return 0;
    const cJSON **v = malloc(cnt * sizeof *v);
    if (!v) return ln_errf(err, errlen, LN_ENOMEM, "out of memory");
    for (const cJSON *c = o->child; c; c = c->next) {
        if (!c->string) {
            free(v);
            return ln_errf(err, errlen, LN_ETYPE, "object member without a key");
        }
        v[k++] = c;
    }
    qsort(v, cnt, sizeof *v, cmp_key);
    for (k = 1; k < cnt; k++)
        if (!strcmp(v[k - 1]->string, v[k]->string)) {
            int rc = ln_errf(err, errlen, LN_EDUPKEY, "duplicate key \"%.40s\" in an object",
                          v[k]->string);
            free(v);
            return rc;
        }
    *out = v;
    return 0;
}

/* ---- checks on the parsed value ---------------------------------------- */

static int check_tree(const cJSON *v, int depth, char *err, size_t errlen)
{
    if (cJSON_IsNull(v) && depth > 0)
        return ln_errf(err, errlen, LN_ETYPE,
                    "null is allowed only as a whole argument, not inside an array or "
                    "object (a Lua table cannot hold nil)");
    if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
        return 0;
    if (depth + 1 > LN_JSON_MAX_DEPTH)
        return ln_errf(err, errlen, LN_EDEPTH, "nested deeper than %d levels", LN_JSON_MAX_DEPTH);
    if (cJSON_IsObject(v)) {
        const cJSON **m;
        size_t n;
        int rc = members(v, &m, &n, err, errlen);
        free(m);
        if (rc < 0) return rc;
    }
    for (const cJSON *c = v->child; c; c = c->next) {
        int rc = check_tree(c, depth + 1, err, errlen);
        if (rc < 0) return rc;
    }
    return 0;
}

int ln_json_arg(const char *text, cJSON **out, char *err, size_t errlen)
{
    scan sc;
    cJSON *v = NULL;
    size_t n = strlen(text);

    if (ln_utf8_valid((const uint8_t *)text, n) && scan_tokens(text, &sc))
        v = cJSON_ParseWithOpts(text, NULL, 1);
    if (!v) {                                   /* not JSON: the text itself */
        v = cJSON_CreateString(text);
        if (!v) return ln_errf(err, errlen, LN_ENOMEM, "out of memory");
        *out = v;
        return 0;
    }
    int rc = 0;
    if (sc.flt)
        rc = ln_errf(err, errlen, LN_EFLOAT,
                  "%.*s is not an integer: floats are not allowed (to pass it as text, "
                  "quote it: '\"%.*s\"')", sc.fltlen > 40 ? 40 : sc.fltlen, sc.flt,
                  sc.fltlen > 40 ? 40 : sc.fltlen, sc.flt);
    else if (sc.big)
        rc = ln_errf(err, errlen, LN_ERANGE,
                  "%.*s is outside the safe integer range -%lld..%lld (to pass it as text, "
                  "quote it)", sc.biglen > 40 ? 40 : sc.biglen, sc.big,
                  LN_SAFE_INT, LN_SAFE_INT);
    else if (sc.nul)
        rc = ln_errf(err, errlen, LN_EINVAL, "\\u0000 is not allowed in a string");
    else
        rc = check_tree(v, 0, err, errlen);
    if (rc < 0) {
        cJSON_Delete(v);
        return rc;
    }
    *out = v;
    return 0;
}

int ln_json_check_text(const cJSON *v, char *err, size_t errlen)
{
    if (v->string && !ln_utf8_valid((const uint8_t *)v->string, strlen(v->string)))
        return ln_errf(err, errlen, LN_EINVAL, "an object key is not valid UTF-8");
    if (cJSON_IsString(v) &&
        !ln_utf8_valid((const uint8_t *)v->valuestring, strlen(v->valuestring)))
        return ln_errf(err, errlen, LN_EINVAL, "\"%.40s\" is not valid UTF-8 text", v->valuestring);
    for (const cJSON *c = v->child; c; c = c->next) {
        int rc = ln_json_check_text(c, err, errlen);
        if (rc < 0) return rc;
    }
    return 0;
}

/* ---- canonical msgpack ------------------------------------------------- */

#define PK(call) do { if ((call) < 0) return LN_ENOMEM; } while (0)

static int pack(const cJSON *v, msgpack_packer *pk, int depth)
{
    if (cJSON_IsNull(v)) { PK(msgpack_pack_nil(pk)); return 0; }
    if (cJSON_IsTrue(v)) { PK(msgpack_pack_true(pk)); return 0; }
    if (cJSON_IsFalse(v)) { PK(msgpack_pack_false(pk)); return 0; }
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d != d) return LN_EFLOAT;                         /* NaN */
        if (d > (double)LN_SAFE_INT || d < -(double)LN_SAFE_INT) return LN_ERANGE;
        int64_t i = (int64_t)d;
        if ((double)i != d) return LN_EFLOAT;
        if (i < 0) PK(msgpack_pack_int64(pk, i));
        else PK(msgpack_pack_uint64(pk, (uint64_t)i));
        return 0;
    }
    if (cJSON_IsString(v)) {
        size_t n = strlen(v->valuestring);
        if (n > LN_CODEC_MAX_ITEM) return LN_ETOOBIG;
        if (ln_utf8_valid((const uint8_t *)v->valuestring, n)) {
            PK(msgpack_pack_str(pk, n));
            PK(msgpack_pack_str_body(pk, v->valuestring, n));
        } else {
            PK(msgpack_pack_bin(pk, n));
            PK(msgpack_pack_bin_body(pk, v->valuestring, n));
        }
        return 0;
    }
    if (!cJSON_IsArray(v) && !cJSON_IsObject(v)) return LN_ETYPE;
    if (depth + 1 > LN_JSON_MAX_DEPTH) return LN_EDEPTH;
    if (cJSON_IsArray(v)) {
        size_t n = 0;
        for (const cJSON *c = v->child; c; c = c->next) n++;
        if (n > LN_CODEC_MAX_ITEM) return LN_ETOOBIG;
        PK(msgpack_pack_array(pk, n));
        for (const cJSON *c = v->child; c; c = c->next) {
            int rc = pack(c, pk, depth + 1);
            if (rc < 0) return rc;
        }
        return 0;
    }
    const cJSON **m;
    size_t n;
    int rc = members(v, &m, &n, NULL, 0);
    if (rc < 0) return rc;
    if (n > LN_CODEC_MAX_ITEM) rc = LN_ETOOBIG;
    if (rc == 0 && msgpack_pack_map(pk, n) < 0) rc = LN_ENOMEM;
    for (size_t k = 0; rc == 0 && k < n; k++) {
        size_t kl = strlen(m[k]->string);
        if (msgpack_pack_str(pk, kl) < 0 || msgpack_pack_str_body(pk, m[k]->string, kl) < 0)
            rc = LN_ENOMEM;
        else
            rc = pack(m[k], pk, depth + 1);
    }
    free(m);
    return rc;
}

int ln_json_pack(const cJSON *v, msgpack_packer *pk)
{
    return pack(v, pk, 0);
}

char *ln_json_text(const cJSON *v)
{
    if (cJSON_IsString(v))
        return strdup(v->valuestring);
    return cJSON_PrintUnformatted(v);
}
