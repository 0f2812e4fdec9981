/*
** fuzz_tx.c -- libFuzzer target: hostile bytes through the transaction
** decoder (and with it the canonical msgpack checker), then through the
** checks a block applies, on a small in-memory chain.
**   make fuzz          (builds with clang -fsanitize=fuzzer,address,undefined)
**   (seeds: tests/fuzz/corpus_tx, three signed transactions for chain "fuzz")
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "exec.h"
#include "state.h"
#include "tx.h"

static ln_state *st;

static void setup(void)
{
    ln_crypto_init();
    ln_state_open(NULL, &st);
    ln_overlay *ov = ln_overlay_new(st);
    uint8_t seed[32] = { 1 }, pk[LN_PK_LEN], sk[LN_SK_LEN];
    ln_keypair_seed(seed, pk, sk);
    ln_account a;
    memset(&a, 0, sizeof a);
    strcpy(a.name, "alice");
    ln_authority_key(&a.owner, pk);
    a.active = a.owner;
    a.balance = 1000000000;
    ln_account_save(ov, &a);
    uint8_t root[LN_HASH_LEN];
    ln_overlay_commit(ov, NULL, root);
    ln_overlay_free(ov);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!st) setup();
    ln_tx tx;
    int rc = ln_tx_decode(&tx, data, size);
    if (rc == 0) {
        /* A decoded transaction re-checks as canonical. */
        if (ln_codec_check(data, size) != 0) abort();
        ln_tx_verify(&tx);
    }
    ln_tx_free(&tx);

    /* The whole block path: refused or run, never a crash, and a refused
    ** transaction leaves the root as it was. */
    uint8_t before[LN_HASH_LEN], after[LN_HASH_LEN];
    ln_state_root(st, before);
    ln_overlay *ov = ln_overlay_new(st);
    ln_blockctx bc = { "fuzz", 1, 1700000000, { 0 }, 1, 0, NULL, NULL, NULL };
    ln_receipt r;
    const uint8_t *txs[1] = { data };
    ln_exec_block(ov, &bc, txs, &size, 1, 0, &r);
    ln_overlay_root(ov, after);
    if (!r.included && memcmp(before, after, LN_HASH_LEN) != 0) abort();
    ln_receipt_free(&r);
    ln_overlay_free(ov);
    return 0;
}
