/* config.c -- config files: Lua data evaluated in a sandbox. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "tx.h"
#include "codec.h"
#include "err.h"
#include "contract.h"
#include "sandbox.h"

int ln_file_read(const char *path, char **out, size_t *len)
{
    return ln_file_read_max(path, LN_CODE_MAX, out, len);
}

int ln_file_read_max(const char *path, size_t max, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return LN_ENOTFOUND;
    if (fseek(f, 0, SEEK_END) < 0) { fclose(f); return LN_EIO; }
    long l = ftell(f);
    if (l < 0 || (size_t)l > max) { fclose(f); return LN_ETOOBIG; }
    rewind(f);
    char *b = malloc((size_t)l + 1);
    if (!b) { fclose(f); return LN_ENOMEM; }
    size_t got = fread(b, 1, (size_t)l, f);
    fclose(f);
    b[got] = 0;
    *out = b;
    *len = got;
    return 0;
}

int ln_config_eval(const char *path, uint8_t **out, size_t *len, char *err, size_t errlen)
{
    char *src;
    size_t sl;
    int rc = ln_file_read(path, &src, &sl);
    if (rc < 0) {
        snprintf(err, errlen, "config %s: %s", path, rc == LN_ENOTFOUND ? "cannot read" : ln_strerror(rc));
        return LN_ECONFIG;
    }
    ln_sandbox *sb;
    if ((rc = ln_sandbox_new(NULL, &sb)) < 0) {
        free(src);
        return rc;
    }
    ln_sandbox_freeze(sb);
    lua_State *L = ln_sandbox_L(sb);
    char name[600];
    snprintf(name, sizeof name, "@%s", path);
    rc = ln_sandbox_load(sb, src, sl, name);
    free(src);
    if (rc == 0) {
        ln_sandbox_newenv(sb);
        lua_setfenv(L, -2);
        ln_sandbox_meter_begin(sb, 10000000, 16u << 20);
        rc = ln_sandbox_pcall(sb, 0, 1);
        ln_sandbox_meter_end(sb);
    }
    if (rc < 0) {
        snprintf(err, errlen, "config %s: %s", path, lua_tostring(L, -1));
        ln_sandbox_free(sb);
        return LN_ECONFIG;
    }
    if (!lua_istable(L, -1)) {
        snprintf(err, errlen, "config %s must return a table", path);
        ln_sandbox_free(sb);
        return LN_ECONFIG;
    }
    rc = ln_codec_encode_lua(L, -1, out, len);
    ln_sandbox_free(sb);
    if (rc < 0) {
        snprintf(err, errlen, "config %s: %s (configs are data: strings, integers, tables)",
                 path, ln_strerror(rc));
        return LN_ECONFIG;
    }
    return 0;
}

int ln_chain_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > LN_CHAIN_ID_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') return 0;
    }
    return 1;
}

size_t ln_plugin_name_of(const char *path, char *out, size_t n)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t l = strcspn(base, "."), c = l < n ? l : n - 1;
    memcpy(out, base, c);
    out[c] = 0;
    return l;
}
