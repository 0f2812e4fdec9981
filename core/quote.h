/*
** quote.h -- what a transaction would pay (JSON-RPC fee_quote, the
** fixture's chain:quote): it runs over a scratch overlay of the state as if
** its sender had signed it (the keys of the sender's active permission
** count as present; its writes are discarded), and the pricing plugin in
** force at the next height answers from what the meter measured: its quote,
** else its charge; without a pricing slot, the built-in rule (exec.h).
** int results: 0 or a negative LN_E* code (err.h).
*/
#ifndef LN_QUOTE_H
#define LN_QUOTE_H

#include <stddef.h>
#include <stdint.h>

#include "exec.h"

typedef struct {
    int code;                       /* 0, or why it would be refused (why) */
    char why[320];
    uint64_t fee;
    char payer[LN_NAME_MAX + 1];
    uint64_t gas_limit;             /* what admission gave the run */
    int ok;                         /* the call succeeded */
    char error[256];                /* the call's error when !ok */
    ln_usage usage;                 /* ln_quote_free */
} ln_quote;

/* tx: a signed transaction or an unsigned one (the map of its six fields,
** DESIGN "Wire format"). bc: the head's next block (height, time, prev;
** gas_price). 0 with q filled (q->code says whether it would be taken);
** the codec's or LN_EBADTX with why when tx does not decode, LN_ENOMEM. */
int  ln_quote_tx(ln_state *s, const ln_blockctx *bc, const uint8_t *tx, size_t len,
                 ln_quote *q, char *why, size_t whylen);
void ln_quote_free(ln_quote *q);

/* The unsigned transaction p (the canonical map of its six fields) as a
** signed one whose one signature is zeros: what ln_tx_decode takes, for
** those who read a transaction without its signatures. malloc()ed; NULL
** when p is not such a map or out of memory. */
uint8_t *ln_quote_blank_signed(const uint8_t *p, size_t n, size_t *out);

#endif
