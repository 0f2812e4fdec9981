/*
** bench_pricing.h -- `lunet bench --pricing FILE`: the standard workload
** under a pricing model. The bench's own node gets a config like dev.lua
** with FILE (and --pricing-params) in its pricing slot; before the timed
** window the funder and every sender bond LN_BENCH_STAKE (stake-priced
** models serve only staked accounts), and the token contract is paid
** native balance (models where the contract pays). Internal to bench.c.
** int results: 0 or 1 with the error printed, as bench.c's helpers.
*/
#ifndef LN_BENCH_PRICING_H
#define LN_BENCH_PRICING_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "rpcc.h"

#define LN_BENCH_STAKE 1000000ull       /* each account bonds this much */

/* bench.c's: "lunet bench: ..." as one line on stderr; returns 1. */
int ln__bench_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* 0 when params is a JSON object (ln_json_arg); else 1, said on stderr. */
int ln__bench_params_check(const char *params);

/* Writes DIR/bench-config.lua: dev_config (a config file) with the plugin
** file (made absolute) and params (a JSON object, NULL for {}) in its
** pricing slot; its path in out. */
int ln__bench_config(const char *dev_config, const char *plugin, const char *params,
                     const char *dir, char *out, size_t outlen);

/* Each of n accounts sends sys.stake(LN_BENCH_STAKE) in a transaction of
** its own, expiring at expires, and this waits until all are committed and
** succeeded. Account i is named at names + i * name_stride, signs with the
** key at sks + i * sk_stride, at nonce nonces[i] (nonces NULL: 0). */
int ln__bench_stake(ln_rpcc *k, const char *chain_id, uint64_t expires, size_t n,
                    const char *names, size_t name_stride, const uint8_t *sks, size_t sk_stride,
                    const uint64_t *nonces);

#endif
