/*
** fuzz_rpc.c -- libFuzzer target: hostile bytes as a JSON-RPC POST body
** through ln__rpc_process to a real dev node on a temporary home (LevelDB
** on disk, the real sandbox for contract_query), the loop run until the
** answer comes. Every answer must be valid UTF-8 JSON.
**   make fuzz          (clang -fsanitize=fuzzer,address,undefined)
**   seeds and regressions: tests/fuzz/corpus_rpc, replayed by `make test`
*/
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "codec.h"
#include "err.h"
#include "node.h"
#include "rpc.h"

#ifndef LN_SOURCE_DIR
#define LN_SOURCE_DIR "."
#endif

static uv_loop_t loop;
static ln_node *node;
static char home[] = "/tmp/lunet-fuzz-rpc.XXXXXX";

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb; (void)flag; (void)f;
    return remove(p);
}

static void rm_home(void)
{
    nftw(home, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
    char config[600], err[512];
    if (!mkdtemp(home)) abort();
    atexit(rm_home);
    snprintf(config, sizeof config, "%s/configs/dev.lua", LN_SOURCE_DIR);
    uv_loop_init(&loop);
    ln_node_config cfg = { .home = home, .config = config, .dev = 1, .query_gas_max = 1000000 };
    if (ln_node_open(&cfg, &loop, &node, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz_rpc: %s\n", err);
        abort();
    }
}

static void answered(char *json, void *ud)
{
    int *done = ud;
    *done = 1;
    if (json) {
        if (!ln_utf8_valid((const uint8_t *)json, strlen(json))) abort();
        cJSON *j = cJSON_Parse(json);
        if (!j) abort();
        cJSON_Delete(j);
    }
    free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!node) setup();
    if (size > 64 * 1024) return 0;
    int done = 0;
    ln__rpc_process(node, (const char *)data, size, answered, &done);
    while (!done) uv_run(&loop, UV_RUN_ONCE);
    return 0;
}
