/*
** bench_mine.c -- the proof-of-work search on one core: nonces tried a
** second by ln_mine_search (BLAKE2b-256 of a 64-byte block hash in hex and
** an 8-byte nonce, the prefix's state computed once), against a target no
** hash meets, so every nonce is tried.
**
**   build/bench_mine [MILLIONS]     (default 20 million nonces)
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "mine.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    double millions = argc > 1 ? atof(argv[1]) : 20;
    uint64_t tries = (uint64_t)(millions * 1e6);
    ln_crypto_init();
    uint8_t target[LN_HASH_LEN] = { 0 }, hash[LN_HASH_LEN];
    const char *bytes = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    uint64_t nonce;
    double t0 = now();
    int found = ln_mine_search((const uint8_t *)bytes, 64, target, 0, tries, &nonce, hash);
    double t = now() - t0;
    printf("%llu nonces in %.2f s on one core: %.2f M hashes/s (%.0f ns each)%s\n",
           (unsigned long long)tries, t, tries / t / 1e6, t / tries * 1e9,
           found ? " (found one: impossible)" : "");
    return found;
}
