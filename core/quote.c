/* quote.c -- what a transaction would pay (see quote.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quote.h"
#include "codec.h"
#include "err.h"
#include "pricing.h"

/* The unsigned map {6 fields} as a signed one with a signature of zeros:
** "signatures" sorts after every other field, so it goes last. */
uint8_t *ln_quote_blank_signed(const uint8_t *p, size_t n, size_t *out)
{
    if (n < 2 || p[0] != 0x86) return NULL;
    static const uint8_t tail[] = {
        0xaa, 's', 'i', 'g', 'n', 'a', 't', 'u', 'r', 'e', 's', 0x91, 0x82,
        0xa3, 'k', 'e', 'y', 0xc4, 32 };
    size_t len = n + sizeof tail + 32 + 6 + 64;
    uint8_t *b = malloc(len);
    if (!b) return NULL;
    uint8_t *w = b;
    *w++ = 0x87;
    memcpy(w, p + 1, n - 1);
    w += n - 1;
    memcpy(w, tail, sizeof tail);
    w += sizeof tail;
    memset(w, 0, 32);
    w += 32;
    memcpy(w, "\xa3sig\xc4\x40", 6);
    w += 6;
    memset(w, 0, 64);
    w += 64;
    *out = (size_t)(w - b);
    return b;
}

void ln_quote_free(ln_quote *q)
{
    ln_usage_free(&q->usage);
}

/* 0 with q filled, a refusal in q->code; < 0 when the host failed. */
static int quote_decoded(ln_overlay *ov, const ln_blockctx *bc, ln_tx *tx, ln_quote *q)
{
    ln_blockinfo bi = { bc->height, bc->time, { 0 } };
    memcpy(bi.hash, bc->prev, LN_HASH_LEN);
    if (strcmp(tx->chain_id, bc->chain_id) != 0) {
        q->code = ln_errf(q->why, sizeof q->why, LN_ECHAINID, "transaction is for chain '%s', "
                          "this is '%s'", tx->chain_id, bc->chain_id);
        return 0;
    }
    ln_account sender;
    if (ln_account_load(ov, tx->account, &sender) < 0) {
        q->code = ln_errf(q->why, sizeof q->why, LN_ENOACCOUNT, "%s", tx->account);
        return 0;
    }
    int rc;
    ln_pricing *pr = NULL;
    uint64_t unit = bc->gas_price ? bc->gas_price : 1, limit = tx->max_fee / unit;
    rc = ln_pricing_open(ov, &bi, "", &pr, q->why, sizeof q->why);
    if (rc == 0 && pr) rc = ln_pricing_admit(pr, ov, tx, &sender, &limit, q->why, sizeof q->why);
    else if (rc == 0 && sender.balance < tx->max_fee)
        rc = ln_errf(q->why, sizeof q->why, LN_EBALANCE, "%s has %llu, max_fee is %llu", tx->account,
                     (unsigned long long)sender.balance, (unsigned long long)tx->max_fee);
    if (rc < 0) {
        ln_pricing_free(pr);
        q->code = rc;
        return rc == LN_EIO || rc == LN_ENOMEM ? rc : 0;
    }
    if (limit > LN_TX_GAS_MAX) limit = LN_TX_GAS_MAX;
    q->gas_limit = limit;
    /* As if signed: the keys of the sender's active permission. */
    uint8_t keys[LN_AUTH_MAX][LN_PK_LEN];
    for (uint32_t i = 0; i < sender.active.nkeys; i++) memcpy(keys[i], sender.active.keys[i].key, LN_PK_LEN);
    ln_signers s = { (const uint8_t (*)[LN_PK_LEN])keys, sender.active.nkeys, NULL };
    ln_vm *vm = NULL;
    ln_outcome out;
    memset(&out, 0, sizeof out);
    rc = ln_vm_new(ov, &bi, &vm);
    if (rc == 0) rc = ln_vm_run(vm, tx->account, &s, tx->actions, tx->nactions, limit, &out);
    ln_vm_free(vm);
    if (rc < 0) {
        ln_pricing_free(pr);
        ln_outcome_free(&out);
        return rc;
    }
    q->ok = out.code == 0;
    if (out.code) snprintf(q->error, sizeof q->error, "%s", out.error ? out.error : ln_strerror(out.code));
    q->usage = out.usage;
    q->usage.tx_bytes = tx->size;
    memset(&out.usage, 0, sizeof out.usage);
    ln_outcome_free(&out);
    ln_fee fee = { q->usage.gas * unit, "", { 0 } };
    snprintf(fee.payer, sizeof fee.payer, "%s", tx->account);
    if (pr) rc = ln_pricing_quote(pr, ov, tx, &q->usage, &fee, q->why, sizeof q->why);
    ln_pricing_free(pr);
    if (rc < 0) {
        q->code = rc;
        return 0;
    }
    q->fee = fee.fee;
    snprintf(q->payer, sizeof q->payer, "%s", fee.payer);
    return 0;
}

int ln_quote_tx(ln_state *s, const ln_blockctx *bc, const uint8_t *p, size_t len,
                ln_quote *q, char *why, size_t whylen)
{
    memset(q, 0, sizeof *q);
    uint8_t *copy = NULL;
    if (len > 1 && p[0] == 0x86) {
        if (!(copy = ln_quote_blank_signed(p, len, &len))) return LN_ENOMEM;
        p = copy;
    }
    ln_tx tx;
    int rc = ln_tx_decode(&tx, p, len);
    if (rc < 0) {
        ln_errf(why, whylen, rc, "%s", tx.why[0] ? tx.why : ln_strerror(rc));
        ln_tx_free(&tx);
        free(copy);
        return rc;
    }
    ln_overlay *ov = ln_overlay_new(s);
    rc = ov ? 0 : LN_ENOMEM;
    if (rc == 0) rc = quote_decoded(ov, bc, &tx, q);
    ln_overlay_free(ov);
    ln_tx_free(&tx);
    free(copy);
    return rc;
}
