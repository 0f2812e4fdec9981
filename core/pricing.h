/*
** pricing.h -- the host of the pricing plugin (DESIGN, "Pricing plugin"): it
** turns what a transaction used into a fee and a payer, and may refuse one.
**
** The plugin in force at a height (the registry's pricing slot) is loaded
** in a sandbox of its own, seeded like the block's (ln_pricing_open): a
** fresh one for each block, so that what it decides depends on nothing but
** the block and the state; its upvalues last the block. The sandbox is a
** lean one (sandbox.h): a callback's budget is checked at the count hook,
** its exact count is never needed. Each callback runs
** under LN_PRICING_BUDGET instructions and LN_PRICING_MEM bytes, apart
** from the transaction's gas. A callback that raises, runs out of budget
** or answers what is not an answer fails: LN_EPLUGIN, with why.
**
**   admit(tx, sender)       -> true [, gas_limit] | false, why
**   charge(usage, tx, ctx)  -> {fee, payer, to}   | false, why
**   on_block(totals, header)
**   quote(tx, usage)        -> {fee, payer}        (absent: charge's answer)
**
** Only charge is required. tx = {account, actions = {{contract, method,
** args}}, chain_id, expires, max_fee, nonce, size}; sender = {account,
** balance, nonce}; usage = {gas, storage_added, storage_freed,
** tx_bytes, mem_peak, calls, events_bytes, stored = {[contract] = bytes}};
** ctx = {contract, method (the first action's), height, time, proposer};
** totals = usage's numbers summed over the block's transactions, and txs;
** header = {height, time, proposer}. The tables of usage, sender, ctx,
** totals and header are the host's, refilled for every call: read them
** during the call, do not keep them; tx.actions is made when first read.
** to is "burn" (the default),
** "treasury" or "proposer", or a table of amounts for some of them that
** add up to fee ({burn = 900, proposer = 100}). A refusal's why may start
** with the name of a
** transaction error ("EQUOTA: alice used ..."): that is its code, else
** LN_EPRICING.
**
** What a plugin sees besides: `block` {height, time, proposer} and
** `pricing`:
**   get(key), set(key, value)      its own state, under "f" KEY (nil deletes)
**   params                         the slot's params
**   chain()                        the chain params (params.h)
**   balance(account)               native balance, nil for no account
**   stake(account), total_stake()  bonded stake (stake.h)
**   collect(account, amount, to)   takes up to amount of account's balance
**                                  to "burn", "treasury" or "proposer";
**                                  returns what it took
**   muldiv(a, b, c)                floor(a * b / c) of integers, exact
**   log(...)                       a line for the node's log (16 per block)
** Host work is charged against the budget like a contract's.
** int results: 0 or a negative LN_E* code (err.h).
*/
#ifndef LN_PRICING_H
#define LN_PRICING_H

#include <stddef.h>
#include <stdint.h>

#include "account.h"
#include "contract.h"
#include "registry.h"
#include "state.h"
#include "tx.h"

#define LN_PRICING_BUDGET  2000000ull      /* instructions per callback */
#define LN_PRICING_MEM     (16u << 20)     /* bytes of growth per callback */
#define LN_PRICING_KEY_MAX 200             /* bytes of a key of pricing.get/set */

typedef struct ln_pricing ln_pricing;      /* opaque */

typedef enum { LN_FEE_BURN, LN_FEE_TREASURY, LN_FEE_PROPOSER, LN_FEE_NTO } ln_fee_to;

/* A fee: what charge or quote answered; to[] splits it between where it
** goes (they add up to fee). */
typedef struct {
    uint64_t fee;
    char payer[LN_NAME_MAX + 1];
    uint64_t to[LN_FEE_NTO];
} ln_fee;

/* Where a plugin's pricing.log lines go (NULL: nowhere). */
typedef void (*ln_pricing_log_fn)(void *ud, const char *line);

/* The plugin in force at bi->height over ov, in a fresh sandbox seeded with
** bi->hash; proposer names block.proposer ("" for none). *out is NULL and 0
** is returned when the chain has no pricing slot (the built-in rule:
** exec.h). LN_EPLUGIN with why when its code does not load or lacks
** charge; LN_EIO when the registry is corrupt. */
int  ln_pricing_open(ln_overlay *ov, const ln_blockinfo *bi, const char *proposer,
                     ln_pricing **out, char *why, size_t whylen);
void ln_pricing_free(ln_pricing *p);          /* NULL is a no-op */

/* Would code, with params, load as a pricing plugin? It runs in a scratch
** sandbox as ln_pricing_open would run it: it must return a table with
** the function charge, and admit, on_block and quote are functions where
** present. 0 with the NAME its table gives (or "") in found (may be NULL);
** LN_EPLUGIN with why. name: what its messages call it. */
int  ln_pricing_check(const ln_blockinfo *bi, const char *name, const char *code, size_t len,
                      const uint8_t *params, size_t plen, char found[LN_PLUGIN_NAME_MAX + 1],
                      char *why, size_t whylen);
/* The plugin in force at bi->height loads (a genesis checks its own):
** ln_pricing_open's codes. */
int  ln_pricing_check_slot(ln_overlay *ov, const ln_blockinfo *bi, char *why, size_t whylen);
const char *ln_pricing_name(const ln_pricing *p);
uint64_t ln_pricing_height(const ln_pricing *p);
void ln_pricing_set_log(ln_pricing *p, ln_pricing_log_fn fn, void *ud);

/* admit(tx, sender) over ov: 0 with *gas_limit (UINT64_MAX when the plugin
** gave none), or the plugin's refusal with why. A plugin without admit
** admits everything. What it wrote stays in ov: the caller reverts a
** refusal. */
int  ln_pricing_admit(ln_pricing *p, ln_overlay *ov, const ln_tx *tx, const ln_account *sender,
                      uint64_t *gas_limit, char *why, size_t whylen);

/* charge(usage, tx, ctx): 0 with the fee in out, or the refusal, or
** LN_EPLUGIN. The fee is checked: an integer within the safe range, an
** existing payer, and when the sender pays at most its max_fee. */
int  ln_pricing_charge(ln_pricing *p, ln_overlay *ov, const ln_tx *tx, const ln_usage *u,
                       ln_fee *out, char *why, size_t whylen);

/* on_block(totals, header) at the end of a block of ntx transactions. */
int  ln_pricing_block(ln_pricing *p, ln_overlay *ov, const ln_usage *totals, uint64_t ntx,
                      char *why, size_t whylen);

/* quote(tx, usage), or charge's answer when the plugin has no quote. */
int  ln_pricing_quote(ln_pricing *p, ln_overlay *ov, const ln_tx *tx, const ln_usage *u,
                      ln_fee *out, char *why, size_t whylen);

/* Takes what f asks of f->payer (at most its balance) to where f->to
** says: burned, to the treasury, to the proposer (burned when it is "" or
** has no account); a payer short of it pays the burn first, then the
** treasury, then the proposer. *taken: what was taken. LN_ENOACCOUNT when
** the payer has no account. */
int  ln_pricing_pay(ln_overlay *ov, const ln_fee *f, const char *proposer, uint64_t *taken);

#endif
