/* exec.c -- applying a block of transactions to the state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "codec.h"
#include "err.h"
#include "genesis.h"
#include "govern.h"
#include "params.h"
#include "registry.h"

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
    if (sender->balance < tx->max_fee) {
        snprintf(why, whylen, "%s has %llu, max_fee is %llu", tx->account,
                 (unsigned long long)sender->balance, (unsigned long long)tx->max_fee);
        return LN_EBALANCE;
    }
    return 0;
}

/* sys.ready alone, from a validator: the swap's readiness gate must not
** depend on a validator's balance, and nobody else gets it free. */
static int is_ready(ln_overlay *ov, const ln_tx *tx)
{
    if (tx->nactions != 1) return 0;
    const msgpack_object_kv *kv = tx->actions[0].via.map.ptr;   /* args, contract, method */
    if (kv[1].val.via.str.size != 3 || memcmp(kv[1].val.via.str.ptr, "sys", 3) != 0 ||
        kv[2].val.via.str.size != 5 || memcmp(kv[2].val.via.str.ptr, "ready", 5) != 0)
        return 0;
    ln_genesis *g = malloc(sizeof *g);
    int yes = 0;
    if (g && ln_genesis_load(ov, g) == 0)
        for (uint32_t i = 0; i < g->m.nval && !yes; i++) yes = strcmp(g->m.val_names[i], tx->account) == 0;
    free(g);
    return yes;
}

static void apply_one(ln_vm *vm, ln_overlay *ov, const ln_blockctx *bc,
                      const uint8_t *p, size_t n, int sigs_checked, ln_receipt *r)
{
    ln_tx tx;
    char why[200] = "";
    memset(r, 0, sizeof *r);
    int rc = ln_tx_decode(&tx, p, n);
    ln_hash(p, n, r->txid);
    if (rc == 0) memcpy(r->txid, tx.id, LN_HASH_LEN);
    if (rc < 0) {
        refuse(r, rc, tx.why);          /* empty for codec errors */
        ln_tx_free(&tx);
        return;
    }
    ln_account sender;
    rc = ln_exec_check(ov, bc->chain_id, bc->height, &tx, sigs_checked ? 0 : LN_CHECK_SIGS,
                       &sender, why, sizeof why);
    if (rc < 0) {
        refuse(r, rc, why);
        ln_tx_free(&tx);
        return;
    }
    uint64_t price = bc->gas_price ? bc->gas_price : 1;
    uint64_t limit = tx.max_fee / price;
    if (limit > LN_TX_GAS_MAX) limit = LN_TX_GAS_MAX;
    if (is_ready(ov, &tx)) {          /* a validator saying it loaded a swap: free */
        limit = LN_READY_GAS;
        price = 0;
    }

    ln_signers s = { (const uint8_t (*)[LN_PK_LEN])tx.keys, tx.nsigs, NULL };
    ln_outcome out;
    /* A savepoint around the call: if the call leaves the sender unable to
    ** pay its fee, its writes go and the fee comes from what was there. */
    if ((rc = ln_overlay_begin(ov)) < 0) {
        refuse(r, rc, "cannot open a savepoint");
        ln_tx_free(&tx);
        return;
    }
    rc = ln_vm_run(vm, tx.account, &s, tx.actions, tx.nactions, limit, &out);
    if (rc < 0) {
        ln_overlay_revert(ov);
        ln_outcome_free(&out);
        refuse(r, rc, "the contract host failed");
        ln_tx_free(&tx);
        return;
    }
    uint64_t gas = out.gas_used, fee = gas * price;
    int lrc = ln_account_load(ov, tx.account, &sender);
    if (lrc < 0 || sender.balance < fee) {
        char msg[160];
        if (lrc < 0)
            snprintf(msg, sizeof msg, "the call removed the sender account %s", tx.account);
        else
            snprintf(msg, sizeof msg, "insufficient balance: the call left %s %llu, the fee is %llu",
                     tx.account, (unsigned long long)sender.balance, (unsigned long long)fee);
        ln_overlay_revert(ov);
        ln_outcome_free(&out);
        out.code = LN_EBALANCE;
        out.error = strdup(msg);
        out.gas_used = gas;
        if (ln_account_load(ov, tx.account, &sender) < 0) {
            /* Admission loaded it from this very state: cannot happen. */
            ln_outcome_free(&out);
            refuse(r, LN_EIO, "sender account vanished");
            ln_tx_free(&tx);
            return;
        }
    } else {
        ln_overlay_release(ov);
    }
    if (fee > sender.balance) fee = sender.balance;   /* admission: balance >= max_fee >= fee */
    sender.balance -= fee;
    sender.nonce++;
    ln_account_save(ov, &sender);

    r->included = 1;
    r->ok = out.code == 0;
    r->code = out.code;
    r->error = out.error;
    r->result = out.result;
    r->result_len = out.result_len;
    r->events = out.events;
    r->events_len = out.events_len;
    r->gas_used = out.gas_used;
    r->fee = fee;
    snprintf(r->payer, sizeof r->payer, "%s", tx.account);
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
    ln_vm *vm;
    if ((rc = ln_vm_new(ov, &bi, &vm)) < 0) return rc;
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
        apply_one(vm, ov, bc, txs[i], lens[i], sigs_checked, &receipts[i]);
        gas += receipts[i].gas_used;
    }
    ln_vm_free(vm);
    return ln_exec_end_block(ov, &bi, p.swap_delay, NULL, NULL);
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

int ln_receipt_encode(const ln_receipt *r, uint8_t **out, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    ln_sbuffer_init(&sb, 512);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 7);
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
    memset(r, 0, sizeof *r);
}
