/* bench_pricing.c -- the bench under a pricing model (see bench_pricing.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <msgpack.h>
#include <sodium.h>

#include "bench_pricing.h"
#include "codec.h"
#include "err.h"
#include "json.h"
#include "proc.h"
#include "tx.h"

#define failf ln__bench_fail

/* A JSON value as a Lua constructor: integers, strings, booleans, objects
** and arrays (what ln_json_arg accepts). */
static int lua_of(const cJSON *v, FILE *f)
{
    if (cJSON_IsNumber(v)) return fprintf(f, "%.0f", v->valuedouble) < 0;
    if (cJSON_IsBool(v)) return fputs(cJSON_IsTrue(v) ? "true" : "false", f) < 0;
    if (cJSON_IsString(v)) {
        fputc('"', f);
        for (const char *s = v->valuestring; *s; s++) {
            if (*s == '"' || *s == '\\') fputc('\\', f);
            if ((unsigned char)*s < 0x20) fprintf(f, "\\%03u", (unsigned char)*s);
            else fputc(*s, f);
        }
        return fputc('"', f) == EOF;
    }
    if (!cJSON_IsObject(v) && !cJSON_IsArray(v)) return 1;
    const cJSON *e;
    int bad = fputs("{ ", f) < 0;
    cJSON_ArrayForEach(e, v) {
        if (cJSON_IsObject(v)) {
            fputs("[", f);
            cJSON s = { .type = cJSON_String, .valuestring = e->string };
            bad |= lua_of(&s, f);
            fputs("] = ", f);
        }
        bad |= lua_of(e, f);
        fputs(", ", f);
    }
    return bad | (fputs("}", f) < 0);
}

int ln__bench_params_check(const char *params)
{
    cJSON *pj = NULL;
    char why[200] = "";
    int bad = ln_json_arg(params, &pj, why, sizeof why) < 0 || !cJSON_IsObject(pj);
    cJSON_Delete(pj);
    return bad ? failf("--pricing-params must be a JSON object%s%s", why[0] ? ": " : "", why) : 0;
}

int ln__bench_config(const char *dev_config, const char *plugin, const char *params,
                     const char *dir, char *out, size_t outlen)
{
    char abs[PATH_MAX], *src = NULL;
    if (!realpath(plugin, abs)) return failf("--pricing: cannot find %s", plugin);
    cJSON *pj = NULL;
    char why[200];
    if (ln_json_arg(params ? params : "{}", &pj, why, sizeof why) < 0 || !cJSON_IsObject(pj)) {
        cJSON_Delete(pj);
        return failf("--pricing-params must be a JSON object%s%s", why[0] ? ": " : "", why);
    }
    FILE *in = fopen(dev_config, "rb");
    size_t n = 0;
    if (in) {
        src = malloc(1 << 16);
        n = src ? fread(src, 1, (1 << 16) - 1, in) : 0;
        fclose(in);
    }
    char *ret = src && n ? (src[n] = 0, strstr(src, "return {")) : NULL;
    snprintf(out, outlen, "%s/bench-config.lua", dir);
    FILE *f = ret ? fopen(out, "wb") : NULL;
    int bad = !f;
    if (f) {
        /* the dev config with the pricing slot first in its table */
        fwrite(src, 1, (size_t)(ret - src) + strlen("return {"), f);
        fputs("\n  pricing = { plugin = ", f);
        cJSON s = { .type = cJSON_String, .valuestring = abs };
        bad |= lua_of(&s, f);
        fputs(", params = ", f);
        bad |= lua_of(pj, f);
        fputs(" },", f);
        fputs(ret + strlen("return {"), f);
        bad |= fclose(f) != 0;
    }
    cJSON_Delete(pj);
    free(src);
    return bad ? failf("cannot write %s from %s", out, dev_config) : 0;
}

/* The signed sys.stake(LN_BENCH_STAKE) of name, as base64 (malloc()ed). */
static char *stake_tx(const char *name, const char *chain_id, uint64_t nonce, uint64_t expires,
                      const uint8_t sk[LN_SK_LEN], uint8_t id[LN_HASH_LEN])
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    ln_sbuffer_init(&sb, 256);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    ln_pack_str(&pk, "account"); ln_pack_str(&pk, name);
    ln_pack_str(&pk, "actions");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 3);
    ln_pack_str(&pk, "args");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_uint64(&pk, LN_BENCH_STAKE);
    ln_pack_str(&pk, "contract"); ln_pack_str(&pk, "sys");
    ln_pack_str(&pk, "method"); ln_pack_str(&pk, "stake");
    ln_pack_str(&pk, "chain_id"); ln_pack_str(&pk, chain_id);
    ln_pack_str(&pk, "expires"); msgpack_pack_uint64(&pk, expires);
    ln_pack_str(&pk, "max_fee"); msgpack_pack_uint64(&pk, 100000);
    ln_pack_str(&pk, "nonce"); msgpack_pack_uint64(&pk, nonce);
    uint8_t *stx = NULL;
    size_t slen = 0;
    ln_hash(sb.data, sb.size, id);
    int rc = ln_tx_sign((const uint8_t *)sb.data, sb.size, (const uint8_t (*)[LN_SK_LEN])sk, 1, &stx, &slen);
    msgpack_sbuffer_destroy(&sb);
    if (rc < 0) return NULL;
    size_t blen = sodium_base64_ENCODED_LEN(slen, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(blen);
    if (b64) sodium_bin2base64(b64, blen, stx, slen, sodium_base64_VARIANT_ORIGINAL);
    free(stx);
    return b64;
}

int ln__bench_stake(ln_rpcc *k, const char *chain_id, uint64_t expires, size_t n,
                    const char *names, size_t name_stride, const uint8_t *sks, size_t sk_stride,
                    const uint64_t *nonces)
{
#define NAME(i) (names + (i) * name_stride)
    char (*hex)[2 * LN_HASH_LEN + 1] = calloc(n + 1, sizeof *hex);
    char err[600];
    int rc = hex ? 0 : failf("out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint8_t id[LN_HASH_LEN];
        char *b64 = stake_tx(NAME(i), chain_id, nonces ? nonces[i] : 0, expires, sks + i * sk_stride, id);
        cJSON *p = cJSON_CreateObject(), *res = NULL;
        cJSON_AddStringToObject(p, "tx", b64 ? b64 : "");
        free(b64);
        if (ln_rpcc_call(k, "tx_submit", p, &res, err, sizeof err) < 0)
            rc = failf("stake of %s refused: %s", NAME(i), err);
        cJSON_Delete(res);
        ln_hex(id, LN_HASH_LEN, hex[i]);
    }
    double end = ln_proc_now() + 60;
    for (size_t i = 0; rc == 0 && i < n;) {
        cJSON *p = cJSON_CreateObject(), *res = NULL;
        cJSON_AddStringToObject(p, "hash", hex[i]);
        if (ln_rpcc_call(k, "tx_get", p, &res, err, sizeof err) < 0) {
            rc = failf("%s", err);
            break;
        }
        const char *st = ln_rpcc_str(res, "status");
        const cJSON *rcpt = cJSON_GetObjectItemCaseSensitive(res, "receipt");
        if (st && !strcmp(st, "committed") && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rcpt, "ok")))
            rc = failf("stake of %s failed: %s", NAME(i), ln_rpcc_str(rcpt, "error"));
        else if (st && !strcmp(st, "committed")) i++;
        else if (ln_proc_now() > end) rc = failf("stake of %s did not commit in 60 s", NAME(i));
        else ln_proc_sleep_ms(20);
        cJSON_Delete(res);
    }
    free(hex);
    return rc;
#undef NAME
}
