/*
** exec.c -- applying a block of transactions to the state: each
** transaction's checks, its run, its price (the pricing plugin's, through
** pricing.h, or the built-in rule) and its receipt; the end of a block.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "codec.h"
#include "err.h"
#include "genesis.h"
#include "govern.h"
#include "params.h"
#include "pricing.h"
#include "registry.h"
#include "sandbox.h"
#include "stake.h"
#include "valset.h"

static void refuse(ln_receipt *r, int code, const char *why)
{
    r->included = 0;
    r->ok = 0;
    r->code = code;
    if (why && *why) {
        size_t n = strlen(ln_strerror(code)) + strlen(why) + 3;
        r->error = malloc(n);
        if (r->error) snprintf(r->error, n, "%s: %s", ln_strerror(code), why);
    } else {
        r->error = strdup(ln_strerror(code));
    }
}

int ln_exec_check(ln_overlay *ov, const char *chain_id, uint64_t height, const ln_tx *tx,
                  int flags, ln_account *sender, char *why, size_t whylen)
{
    if (strcmp(tx->chain_id, chain_id) != 0) {
        snprintf(why, whylen, "transaction is for chain '%s', this is '%s'",
                 tx->chain_id, chain_id);
        return LN_ECHAINID;
    }
    if (height > tx->expires) {
        snprintf(why, whylen, "expired at height %llu, %s is %llu",
                 (unsigned long long)tx->expires,
                 flags & LN_CHECK_POOL ? "next block" : "block",
                 (unsigned long long)height);
        return LN_EEXPIRED;
    }
    int rc = ln_account_load(ov, tx->account, sender);
    if (rc == LN_ENOTFOUND) {
        snprintf(why, whylen, "%s", tx->account);
        return LN_ENOACCOUNT;
    }
    if (rc < 0) return rc;
    /* The pool takes nonces ahead of the account's: they wait their turn. */
    if (flags & LN_CHECK_POOL ? tx->nonce < sender->nonce : tx->nonce != sender->nonce) {
        snprintf(why, whylen, "%s expects nonce %llu%s, got %llu", tx->account,
                 (unsigned long long)sender->nonce, flags & LN_CHECK_POOL ? " or later" : "",
                 (unsigned long long)tx->nonce);
        return LN_ENONCE;
    }
    if (flags & LN_CHECK_SIGS && ln_tx_verify(tx) < 0) {
        for (uint32_t i = 0; i < tx->nsigs; i++)
            if (ln_verify(tx->keys[i], tx->sigs[i], tx->id, LN_HASH_LEN) < 0) {
                char key[2 * LN_PK_LEN + 1];
                ln_hex(tx->keys[i], LN_PK_LEN, key);
                snprintf(why, whylen, "signatures[%u] by key %.16s... does not verify over "
                         "the transaction id", i + 1, key);
                break;
            }
        return LN_EBADSIG;
    }
    ln_signers s = { (const uint8_t (*)[LN_PK_LEN])tx->keys, tx->nsigs, NULL };
    if ((rc = ln_account_authorized_acct(ov, sender, "active", &s)) < 0) {
        snprintf(why, whylen, "signatures do not satisfy %s@active", tx->account);
        return LN_EAUTH;
    }
    if (!(flags & LN_CHECK_NOFEE) && sender->balance < tx->max_fee) {
        snprintf(why, whylen, "%s has %llu, max_fee is %llu", tx->account,
                 (unsigned long long)sender->balance, (unsigned long long)tx->max_fee);
        return LN_EBALANCE;
    }
    return 0;
}

/* sys.ready or sys.evidence alone, from a validator: neither the swap's
** readiness gate nor the punishment of a double signer may depend on a
** validator's balance; nobody else gets them free. The call runs under
** LN_FREE_GAS, and a refused one still takes the sender's nonce. */
static int is_free(ln_overlay *ov, const ln_tx *tx)
{
    if (tx->nactions != 1) return 0;
    const msgpack_object_kv *kv = tx->actions[0].via.map.ptr;   /* args, contract, method */
    const msgpack_object_str *m = &kv[2].val.via.str;
    if (kv[1].val.via.str.size != 3 || memcmp(kv[1].val.via.str.ptr, "sys", 3) != 0 ||
        !((m->size == 5 && memcmp(m->ptr, "ready", 5) == 0) ||
          (m->size == 8 && memcmp(m->ptr, "evidence", 8) == 0)))
        return 0;
    ln_genesis *g = malloc(sizeof *g);
    int yes = 0;
    if (g && ln_genesis_load(ov, g) == 0)
        for (uint32_t i = 0; i < g->m.nval && !yes; i++) yes = strcmp(g->m.val_names[i], tx->account) == 0;
    free(g);
    return yes;
}

/* Every action calls the governance contract: such a transaction is
** priced by the built-in rule when the pricing plugin fails, so that
** governance can always replace a broken one. */
static int is_governance(const ln_tx *tx)
{
    for (uint32_t i = 0; i < tx->nactions; i++) {
        const msgpack_object_kv *kv = tx->actions[i].via.map.ptr;
        if (kv[1].val.via.str.size != 3 || memcmp(kv[1].val.via.str.ptr, "gov", 3) != 0) return 0;
    }
    return 1;
}

/* How a transaction is priced. */
enum { PRICE_PLUGIN, PRICE_BUILTIN, PRICE_FREE };

/* One block's run: its vm, its pricing plugin and what its transactions
** used in all. */
typedef struct {
    ln_vm *vm;
    ln_overlay *ov;
    const ln_blockctx *bc;
    ln_pricing *pr;                 /* NULL: the built-in rule, or broken */
    int broken;                     /* the plugin in force did not load: fault says why */
    char fault[256];
    ln_usage totals;
    uint64_t ntx;
} blockrun;

static void say(const ln_blockctx *bc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const ln_blockctx *bc, const char *fmt, ...)
{
    if (!bc->log) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    bc->log(bc->log_ud, line);
}

static void plugin_log(void *ud, const char *line)
{
    const ln_blockctx *bc = ud;
    say(bc, "pricing plugin: %s", line);
}

/* The fee of a run: the plugin's charge, or the built-in rule (gas times
** the price, the sender pays, burned). In a savepoint of its own: a charge
** that refuses or fails leaves nothing. */
static int price(blockrun *br, int how, const ln_tx *tx, const ln_usage *u, ln_fee *fee,
                 char *why, size_t whylen)
{
    uint64_t unit = br->bc->gas_price ? br->bc->gas_price : 1;
    if (how != PRICE_PLUGIN) {
        fee->fee = how == PRICE_FREE ? 0 : u->gas * unit;
        snprintf(fee->payer, sizeof fee->payer, "%s", tx->account);
        memset(fee->to, 0, sizeof fee->to);
        fee->to[LN_FEE_BURN] = fee->fee;
        return 0;
    }
    int rc = ln_overlay_begin(br->ov);
    if (rc < 0) return ln_errf(why, whylen, rc, "cannot open a savepoint");
    rc = ln_pricing_charge(br->pr, br->ov, tx, u, fee, why, whylen);
    if (rc < 0) ln_overlay_revert(br->ov);
    else ln_overlay_release(br->ov);
    return rc;
}

static void take_outcome(ln_receipt *r, ln_outcome *out)
{
    r->included = 1;
    r->ok = out->code == 0;
    r->code = out->code;
    r->error = out->error;
    r->result = out->result;
    r->result_len = out->result_len;
    r->events = out->events;
    r->events_len = out->events_len;
    r->gas_used = out->gas_used;
    r->usage = out->usage;
    memset(out, 0, sizeof *out);
}

/* Undoes (keep 0) or keeps every savepoint opened since depth d. */
static void close_to(ln_overlay *ov, size_t d, int keep)
{
    while (ln_overlay_depth(ov) > d) {
        if (keep) ln_overlay_release(ov);
        else ln_overlay_revert(ov);
    }
}

/* Runs a checked transaction priced `how` with gas limit `limit`; the
** savepoints opened since depth d (its admission's) are closed here,
** kept or undone. A refusal leaves the state as it was at d. */
static void run_priced(blockrun *br, size_t d, int how, const ln_tx *tx, size_t n,
                       uint64_t limit, ln_receipt *r)
{
    ln_overlay *ov = br->ov;
    char why[320] = "";
    ln_signers s = { (const uint8_t (*)[LN_PK_LEN])tx->keys, tx->nsigs, NULL };
    ln_outcome out;
    ln_fee fee;
    /* A savepoint around the call: if the call leaves the payer unable to
    ** pay its fee, its writes go and the fee comes from what was there. */
    int rc = ln_overlay_begin(ov) < 0 ? LN_ENOMEM : 0;
    if (rc == 0) rc = ln_vm_run(br->vm, tx->account, &s, tx->actions, tx->nactions, limit, &out);
    if (rc < 0) {
        close_to(ov, d, 0);
        refuse(r, rc, "the contract host failed");
        return;
    }
    size_t call = ln_overlay_depth(ov) - 1;
    out.usage.tx_bytes = n;
    rc = price(br, how, tx, &out.usage, &fee, why, sizeof why);
    if (rc == LN_EPLUGIN && is_governance(tx)) {
        say(br->bc, "block %llu: %s; a governance transaction goes on at one fee unit per gas",
            (unsigned long long)br->bc->height, why);
        how = PRICE_BUILTIN;
        rc = price(br, how, tx, &out.usage, &fee, why, sizeof why);
    }
    ln_account payer;
    int lrc = rc < 0 ? 0 : ln_account_load(ov, fee.payer, &payer);
    if (rc == 0 && (lrc < 0 || payer.balance < fee.fee)) {
        char msg[200];
        if (lrc < 0)
            snprintf(msg, sizeof msg, "the call removed the payer account %s", fee.payer);
        else
            snprintf(msg, sizeof msg, "insufficient balance: the call left %s %llu, the fee is %llu",
                     fee.payer, (unsigned long long)payer.balance, (unsigned long long)fee.fee);
        ln_usage u = out.usage;
        u.stored = NULL;
        u.nstored = 0;
        u.storage_added = u.storage_freed = 0;        /* the call's writes go */
        close_to(ov, call, 0);
        ln_outcome_free(&out);
        out.code = LN_EBALANCE;
        out.error = strdup(msg);
        out.gas_used = u.gas;
        out.usage = u;
        /* Priced again on what is left: the call's writes are gone. */
        rc = price(br, how, tx, &out.usage, &fee, why, sizeof why);
    }
    if (rc < 0) {
        close_to(ov, d, 0);
        ln_outcome_free(&out);
        if (rc == LN_EPLUGIN)
            say(br->bc, "block %llu: transaction refused: %s", (unsigned long long)br->bc->height, why);
        refuse(r, rc, why);
        return;
    }
    close_to(ov, d, 1);
    uint64_t taken = 0;
    ln_account sender;
    if (strcmp(fee.payer, tx->account) == 0 && fee.to[LN_FEE_BURN] == fee.fee) {
        /* The common case in one write: the sender pays, the fee burns. */
        rc = ln_account_load(ov, tx->account, &sender);
        taken = rc == 0 && fee.fee > sender.balance ? sender.balance : fee.fee;
        if (rc == 0) sender.balance -= taken;
    } else {
        rc = ln_pricing_pay(ov, &fee, br->bc->proposer, &taken);
        if (rc == 0) rc = ln_account_load(ov, tx->account, &sender);
    }
    if (rc == 0) {
        sender.nonce++;
        rc = ln_account_save(ov, &sender);
    }
    if (rc < 0) {
        /* Both were loaded from this very state a moment ago. */
        ln_outcome_free(&out);
        refuse(r, LN_EIO, "the payer's or the sender's account does not load");
        return;
    }
    take_outcome(r, &out);
    r->fee = taken;
    snprintf(r->payer, sizeof r->payer, "%s", fee.payer);
}

static void apply_one(blockrun *br, const uint8_t *p, size_t n, int sigs_checked, ln_receipt *r)
{
    ln_overlay *ov = br->ov;
    const ln_blockctx *bc = br->bc;
    ln_tx tx;
    char why[320] = "";
    memset(r, 0, sizeof *r);
    int rc = ln_tx_decode(&tx, p, n);
    ln_hash(p, n, r->txid);
    if (rc == 0) memcpy(r->txid, tx.id, LN_HASH_LEN);
    if (rc < 0) {
        refuse(r, rc, tx.why);          /* empty for codec errors */
        ln_tx_free(&tx);
        return;
    }
    int how = br->pr ? PRICE_PLUGIN : PRICE_BUILTIN;
    if (is_free(ov, &tx)) how = PRICE_FREE;      /* a validator's sys.ready or sys.evidence */
    else if (br->broken && is_governance(&tx)) how = PRICE_BUILTIN;
    ln_account sender;
    int flags = (sigs_checked ? 0 : LN_CHECK_SIGS) | (how == PRICE_BUILTIN ? 0 : LN_CHECK_NOFEE);
    rc = ln_exec_check(ov, bc->chain_id, bc->height, &tx, flags, &sender, why, sizeof why);
    if (rc == 0 && br->broken && how == PRICE_PLUGIN)
        rc = ln_errf(why, sizeof why, LN_EPLUGIN, "%s", br->fault);
    if (rc < 0) {
        refuse(r, rc, why);
        ln_tx_free(&tx);
        return;
    }
    uint64_t unit = bc->gas_price ? bc->gas_price : 1, limit = tx.max_fee / unit;
    size_t d = ln_overlay_depth(ov);
    if (how == PRICE_FREE) {
        limit = LN_FREE_GAS;
    } else if (how == PRICE_PLUGIN) {
        if (ln_overlay_begin(ov) < 0)
            rc = ln_errf(why, sizeof why, LN_ENOMEM, "cannot open a savepoint");
        else
            rc = ln_pricing_admit(br->pr, ov, &tx, &sender, &limit, why, sizeof why);
        if (rc == LN_EPLUGIN && is_governance(&tx)) {
            close_to(ov, d, 0);
            say(bc, "block %llu: %s; a governance transaction goes on at one fee unit per gas",
                (unsigned long long)bc->height, why);
            how = PRICE_BUILTIN;
            limit = tx.max_fee / unit;
            rc = sender.balance < tx.max_fee
                 ? ln_errf(why, sizeof why, LN_EBALANCE, "%s has %llu, max_fee is %llu", tx.account,
                           (unsigned long long)sender.balance, (unsigned long long)tx.max_fee)
                 : 0;
        }
        if (rc < 0) {
            close_to(ov, d, 0);
            if (rc == LN_EPLUGIN)
                say(bc, "block %llu: transaction refused: %s", (unsigned long long)bc->height, why);
            refuse(r, rc, why);
            ln_tx_free(&tx);
            return;
        }
    }
    if (limit > LN_TX_GAS_MAX) limit = LN_TX_GAS_MAX;
    run_priced(br, d, how, &tx, n, limit, r);
    ln_tx_free(&tx);
}

int ln_exec_block(ln_overlay *ov, const ln_blockctx *bc,
                  const uint8_t *const *txs, const size_t *lens, size_t n,
                  int sigs_checked, ln_receipt *receipts)
{
    ln_blockinfo bi = { bc->height, bc->time, { 0 } };
    memcpy(bi.hash, bc->prev, LN_HASH_LEN);
    ln_params p;
    int rc = ln_params_load(ov, &p);     /* the parent's: a change counts from the next block */
    if (rc < 0) return rc;
    uint64_t cap = bc->gas_cap == LN_GAS_CAP_CHAIN ? p.block_gas_max : bc->gas_cap;
    blockrun br;
    memset(&br, 0, sizeof br);
    br.ov = ov;
    br.bc = bc;
    if ((rc = ln_vm_new(ov, &bi, &br.vm)) < 0) return rc;
    /* The pricing plugin in force, in a sandbox of the block's. One that
    ** does not load refuses the block's transactions, the chain goes on. */
    rc = ln_pricing_open(ov, &bi, bc->proposer ? bc->proposer : "", &br.pr, br.fault, sizeof br.fault);
    if (rc == LN_EPLUGIN) {
        br.broken = 1;
        say(bc, "block %llu: %s", (unsigned long long)bc->height, br.fault);
    } else if (rc < 0) {
        ln_vm_free(br.vm);
        return rc;
    }
    if (br.pr) ln_pricing_set_log(br.pr, plugin_log, (void *)bc);
    uint64_t gas = 0, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] > p.tx_bytes_max) {
            memset(&receipts[i], 0, sizeof receipts[i]);
            ln_hash(txs[i], lens[i], receipts[i].txid);
            char why[96];
            snprintf(why, sizeof why, "%zu bytes; tx_bytes_max is %llu", lens[i],
                     (unsigned long long)p.tx_bytes_max);
            refuse(&receipts[i], LN_ETXSIZE, why);
            continue;
        }
        bytes += lens[i];
        if ((cap && gas >= cap) || (bc->gas_cap && bytes > p.block_bytes_max)) {
            memset(&receipts[i], 0, sizeof receipts[i]);
            ln_hash(txs[i], lens[i], receipts[i].txid);
            refuse(&receipts[i], LN_EFULL, cap && gas >= cap ? "the block reached its gas cap"
                                                             : "the block reached block_bytes_max");
            continue;
        }
        apply_one(&br, txs[i], lens[i], sigs_checked, &receipts[i]);
        if (!receipts[i].included) continue;
        const ln_usage *u = &receipts[i].usage;
        gas += receipts[i].gas_used;
        br.totals.gas += u->gas;
        br.totals.storage_added += u->storage_added;
        br.totals.storage_freed += u->storage_freed;
        br.totals.tx_bytes += u->tx_bytes;
        br.totals.calls += u->calls;
        br.totals.events_bytes += u->events_bytes;
        if (u->mem_peak > br.totals.mem_peak) br.totals.mem_peak = u->mem_peak;
        br.ntx++;
    }
    if (br.pr) {
        char why[320];
        if ((rc = ln_overlay_begin(ov)) < 0) {
            rc = ln_errf(why, sizeof why, rc, "cannot open a savepoint");
        } else {
            rc = ln_pricing_block(br.pr, ov, &br.totals, br.ntx, why, sizeof why);
            if (rc < 0) ln_overlay_revert(ov);
            else ln_overlay_release(ov);
        }
        if (rc < 0) say(bc, "block %llu: %s", (unsigned long long)bc->height, why);
    }
    ln_pricing_free(br.pr);
    ln_vm_free(br.vm);
    if ((rc = ln_stake_release(ov, bc->height)) < 0) return rc;
    return ln_exec_end_block(ov, &bi, p.swap_delay, NULL, NULL);
}

int ln_exec_admit(ln_overlay *ov, const char *chain_id, uint64_t height, uint64_t time,
                  const ln_tx *tx, ln_pricing **gate, ln_account *sender, char *why, size_t whylen)
{
    int free_tx = is_free(ov, tx);
    int rc = ln_exec_check(ov, chain_id, height, tx, LN_CHECK_POOL | LN_CHECK_NOFEE, sender, why, whylen);
    if (rc < 0 || free_tx) return rc;
    if (*gate && ln_pricing_height(*gate) != height) {
        ln_pricing_free(*gate);
        *gate = NULL;
    }
    if (!*gate) {
        /* Out of the blocks' arena slots: this sandbox lives as long as the
        ** head, which no other node shares. */
        ln_blockinfo bi = { height, time, { 0 } };
        int was = ln_sandbox_high_slots(1);
        rc = ln_pricing_open(ov, &bi, "", gate, why, whylen);
        ln_sandbox_high_slots(was);
        if (rc < 0 && !(rc == LN_EPLUGIN && is_governance(tx))) return rc;
    }
    uint64_t limit;
    if (*gate) {
        size_t d = ln_overlay_depth(ov);
        rc = ln_overlay_begin(ov) < 0 ? LN_ENOMEM : ln_pricing_admit(*gate, ov, tx, sender, &limit, why, whylen);
        close_to(ov, d, 0);             /* admission changes nothing */
        if (rc != LN_EPLUGIN || !is_governance(tx)) return rc;
    }
    /* The built-in rule: the sender's balance covers max_fee. */
    if (sender->balance < tx->max_fee)
        return ln_errf(why, whylen, LN_EBALANCE, "%s has %llu, max_fee is %llu", tx->account,
                       (unsigned long long)sender->balance, (unsigned long long)tx->max_fee);
    return 0;
}

typedef struct {
    int governance;                 /* the governance slot changed */
    ln_swap_cb cb;
    void *ud;
} advance;

static void on_swap(void *ud, const ln_swap *s, int activated)
{
    advance *a = ud;
    if (activated && s->slot == LN_SLOT_GOVERNANCE) a->governance = 1;
    if (a->cb) a->cb(a->ud, s, activated);
}

int ln_exec_end_block(ln_overlay *ov, const ln_blockinfo *bi, uint64_t swap_delay,
                      ln_swap_cb cb, void *ud)
{
    ln_genesis *g = malloc(sizeof *g);
    if (!g) return LN_ENOMEM;
    int rc = ln_genesis_load(ov, g);
    if (rc == LN_ENOTFOUND) {           /* a chain without membership: no swaps */
        free(g);
        return 0;
    }
    advance a = { 0, cb, ud };
    if (rc == 0)
        rc = ln_registry_advance(ov, bi->height, (const char (*)[LN_NAME_MAX + 1])g->m.val_names,
                                 g->m.nval, swap_delay, on_swap, &a);
    free(g);
    /* pos's validator set, elected under the plugin in force next (valset.h). */
    if (rc == 0) rc = ln_valset_end_block(ov, bi->height);
    if (rc < 0 || !a.governance) return rc;
    /* The new policy is gov's code from the next block; its init sees the
    ** open proposals. An init that fails leaves the code, undoes its writes. */
    ln_blockinfo next = *bi;
    next.height++;
    char why[256];
    rc = ln_govern_install(ov, &next, why, sizeof why);
    return rc == LN_EPLUGIN ? 0 : rc;
}

int ln_exec_apply(ln_state *s, const ln_blockctx *bc,
                  const uint8_t *const *txs, const size_t *lens, size_t n,
                  ln_receipt *receipts, ln_batch *b, uint8_t root[LN_HASH_LEN])
{
    ln_overlay *ov = ln_overlay_new(s);
    if (!ov) return LN_ENOMEM;
    int rc = ln_exec_block(ov, bc, txs, lens, n, 0, receipts);
    if (rc == 0) rc = ln_overlay_commit(ov, b, root);
    ln_overlay_free(ov);
    return rc;
}

int ln_exec_query(ln_state *s, const ln_blockctx *bc, const char *contract,
                  const char *method, const uint8_t *args, size_t args_len,
                  ln_outcome *out)
{
    ln_blockinfo bi = { bc->height, bc->time, { 0 } };
    memcpy(bi.hash, bc->prev, LN_HASH_LEN);
    msgpack_zone z;
    msgpack_object o;
    const msgpack_object *ap = NULL;
    memset(out, 0, sizeof *out);
    if (!msgpack_zone_init(&z, 1024)) return LN_ENOMEM;
    if (args) {
        int rc = ln_codec_unpack(args, args_len, &z, &o);
        if (rc < 0) {
            msgpack_zone_destroy(&z);
            return rc;
        }
        ap = &o;
    }
    ln_overlay *ov = ln_overlay_new(s);
    ln_vm *vm = NULL;
    int rc = ov ? ln_vm_new(ov, &bi, &vm) : LN_ENOMEM;
    uint64_t gas = bc->gas_cap ? bc->gas_cap : LN_QUERY_GAS;
    if (rc == 0) rc = ln_vm_query(vm, contract, method, ap, gas, out);
    ln_vm_free(vm);
    ln_overlay_free(ov);
    msgpack_zone_destroy(&z);
    return rc;
}

static void pack_key(msgpack_packer *pk, const char *k)
{
    msgpack_pack_str(pk, strlen(k));
    msgpack_pack_str_body(pk, k, strlen(k));
}

/* usage as in receipts: {calls, events_bytes, gas, mem_peak,
** storage_added, storage_freed, [stored: {contract: bytes}], tx_bytes}. */
static void pack_usage(msgpack_packer *pk, const ln_usage *u)
{
    msgpack_pack_map(pk, u->nstored ? 8 : 7);
    pack_key(pk, "calls");
    msgpack_pack_uint64(pk, u->calls);
    pack_key(pk, "events_bytes");
    msgpack_pack_uint64(pk, u->events_bytes);
    pack_key(pk, "gas");
    msgpack_pack_uint64(pk, u->gas);
    pack_key(pk, "mem_peak");
    msgpack_pack_uint64(pk, u->mem_peak);
    pack_key(pk, "storage_added");
    msgpack_pack_uint64(pk, u->storage_added);
    pack_key(pk, "storage_freed");
    msgpack_pack_uint64(pk, u->storage_freed);
    if (u->nstored) {
        pack_key(pk, "stored");
        msgpack_pack_map(pk, u->nstored);
        for (uint32_t i = 0; i < u->nstored; i++) {
            pack_key(pk, u->stored[i].contract);
            msgpack_pack_int64(pk, u->stored[i].bytes);
        }
    }
    pack_key(pk, "tx_bytes");
    msgpack_pack_uint64(pk, u->tx_bytes);
}

int ln_receipt_encode(const ln_receipt *r, uint8_t **out, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    ln_sbuffer_init(&sb, 512);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 8);
    pack_key(&pk, "error");
    if (r->error) pack_key(&pk, r->error); else msgpack_pack_nil(&pk);
    pack_key(&pk, "events");
    if (r->events) msgpack_sbuffer_write(&sb, (const char *)r->events, r->events_len);
    else msgpack_pack_array(&pk, 0);
    pack_key(&pk, "fee");
    msgpack_pack_uint64(&pk, r->fee);
    pack_key(&pk, "gas_used");
    msgpack_pack_uint64(&pk, r->gas_used);
    pack_key(&pk, "ok");
    if (r->ok) msgpack_pack_true(&pk); else msgpack_pack_false(&pk);
    pack_key(&pk, "payer");
    pack_key(&pk, r->payer);
    pack_key(&pk, "result");
    if (r->result) msgpack_sbuffer_write(&sb, (const char *)r->result, r->result_len);
    else msgpack_pack_nil(&pk);
    pack_key(&pk, "usage");
    pack_usage(&pk, &r->usage);
    if (!sb.data) return LN_ENOMEM;
    *out = (uint8_t *)sb.data;
    *len = sb.size;
    return 0;
}

void ln_receipt_free(ln_receipt *r)
{
    free(r->error);
    free(r->result);
    free(r->events);
    ln_usage_free(&r->usage);
    memset(r, 0, sizeof *r);
}
