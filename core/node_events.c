/*
** node_events.c -- what the node tells of its committed blocks: the
** subscribers (ln_node_subscribe) hear of each block and the reorg watcher
** (ln_node_watch_reorgs) of each reorg, from the loop after the commit;
** the log has a line per block and per failed call in it.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "codec.h"
#include "err.h"
#include "node.h"
#include "node_int.h"
#include "tx.h"

static int still_subscribed(ln_node *n, ln_block_cb cb, void *ud)
{
    for (size_t i = 0; i < n->nsubs; i++)
        if (n->subs[i].cb == cb && n->subs[i].ud == ud) return 1;
    return 0;
}

/* Subscribers hear of a block after the commit returns, from the loop (an
** idle handle), never from inside a plugin callback: what they do (an SSE
** write, an unsubscribe) cannot reach back into the commit. */
struct note {
    note *next;
    uint64_t height;
    msgpack_sbuffer receipts;            /* array of the block's receipts */
    int is_reorg;
    ln_reorg_event reorg;
};


static void free_notes(note *q)
{
    for (note *next; q; q = next) {
        next = q->next;
        msgpack_sbuffer_destroy(&q->receipts);
        free(q);
    }
}

static void notes_closed(uv_handle_t *h)
{
    ln_node *n = h->data;
    free(h);
    n->open_handles--;
    ln__node_maybe_free(n);
}

static void on_notes(uv_idle_t *h)
{
    ln_node *n = h->data;
    note *q = n->notes;
    n->notes = NULL;
    n->notes_tail = &n->notes;
    for (note *one = q; one; one = one->next) {
        uint8_t *blk;
        size_t bl;
        if (one->is_reorg) {
            if (n->reorg_cb) n->reorg_cb(n, &one->reorg, n->reorg_ud);
            continue;
        }
        if (!n->nsubs || ln_chain_block(n->chain, one->height, &blk, &bl) < 0) continue;
        /* A callback may unsubscribe (itself or another): call a copy. */
        size_t ns = n->nsubs;
        subscriber *subs = malloc(ns * sizeof *subs);
        if (subs) {
            memcpy(subs, n->subs, ns * sizeof *subs);
            for (size_t i = 0; i < ns; i++)
                if (still_subscribed(n, subs[i].cb, subs[i].ud))
                    subs[i].cb(n, blk, bl, (const uint8_t *)one->receipts.data,
                               one->receipts.size, subs[i].ud);
            free(subs);
        }
        free(blk);
    }
    free_notes(q);
    if (!n->notes && n->notes_idle == h) {   /* nothing new meanwhile: no handle kept */
        n->notes_idle = NULL;
        uv_close((uv_handle_t *)h, notes_closed);
    }
}

/* A note at the end of the queue, the idle handle started; NULL when
** nobody listens or out of memory. */
static note *note_new(ln_node *n, int reorg)
{
    if ((reorg ? !n->reorg_cb : !n->nsubs) || n->closing) return NULL;
    if (!n->notes_idle) {
        uv_idle_t *h = malloc(sizeof *h);
        if (!h || uv_idle_init(n->loop, h) < 0) {
            free(h);
            return NULL;
        }
        h->data = n;
        n->notes_idle = h;
        n->open_handles++;             /* until notes_closed */
        uv_idle_start(h, on_notes);
    }
    note *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    msgpack_sbuffer_init(&q->receipts);
    *n->notes_tail = q;
    n->notes_tail = &q->next;
    return q;
}

void ln__node_note_block(ln_node *n, uint64_t height, msgpack_sbuffer *receipts)
{
    note *q = note_new(n, 0);
    if (!q) {
        msgpack_sbuffer_destroy(receipts);
        return;
    }
    q->height = height;
    q->receipts = *receipts;
}

void ln__node_note_reorg(ln_node *n, const ln_reorg_event *ev)
{
    note *q = note_new(n, 1);
    if (!q) return;
    q->is_reorg = 1;
    q->reorg = *ev;
}

void ln_node_watch_reorgs(ln_node *n, ln_reorg_cb cb, void *ud)
{
    n->reorg_cb = cb;
    n->reorg_ud = ud;
}

/* At close: the queued notes dropped, the idle handle closed. */
void ln__node_notes_close(ln_node *n)
{
    if (n->notes_idle) {
        uv_close((uv_handle_t *)n->notes_idle, notes_closed);
        n->notes_idle = NULL;
        free_notes(n->notes);
        n->notes = NULL;
    }
}

/* Queues block b's news for the subscribers. */
void ln__node_notify(ln_node *n, const ln_pblock *b)
{
    if (!n->nsubs || n->closing) return;
    msgpack_sbuffer rs;
    msgpack_packer pk;
    msgpack_sbuffer_init(&rs);
    msgpack_packer_init(&pk, &rs, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, b->n);
    for (size_t i = 0; i < b->n; i++) {
        uint8_t *enc;
        size_t el;
        if (ln_receipt_encode(&b->receipts[i], &enc, &el) == 0) {
            msgpack_sbuffer_write(&rs, (const char *)enc, el);
            free(enc);
        } else {
            msgpack_pack_nil(&pk);
        }
    }
    ln__node_note_block(n, b->hdr.height, &rs);
}

#define LOG_FAILED_MAX 20                /* failed calls logged per block; the rest counted */

/* The log's line for a committed block, and one per failed call in it. */
void ln__node_log_block(const ln_pblock *b)
{
    ln__node_log("block %llu: %zu tx%s, %llu gas, %.1f ms (executed %.1f, committed %.1f)",
                 (unsigned long long)b->hdr.height, b->n, b->n == 1 ? "" : "s",
                 (unsigned long long)b->gas, b->exec_ms + b->commit_ms, b->exec_ms, b->commit_ms);
    size_t failed = 0;
    for (size_t i = 0; i < b->n; i++) {
        const ln_receipt *r = &b->receipts[i];
        if (r->ok || failed++ >= LOG_FAILED_MAX) continue;
        char id[2 * LN_HASH_LEN + 1], call[2 * LN_NAME_MAX + 70] = "?";
        ln_hex(r->txid, LN_HASH_LEN, id);
        ln_tx tx;
        if (ln_tx_decode(&tx, b->txs[i], b->lens[i]) == 0 && tx.nactions > 0) {
            const char *c, *m;
            size_t cl, ml;
            const msgpack_object *args;
            ln_tx_action(&tx, 0, &c, &cl, &m, &ml, &args);
            snprintf(call, sizeof call, "%.*s.%.*s%s", (int)cl, c, (int)(ml > 64 ? 64 : ml), m,
                     tx.nactions > 1 ? " (first of its actions)" : "");
        }
        ln_tx_free(&tx);
        /* Evidence that came second: expected when several honest nodes
        ** submit it (node_evidence.c); the submitter says so itself. */
        int second = r->code == LN_EEXIST && strcmp(call, "sys.evidence") == 0;
        ln__node_logl(second ? LN_LOG_DEBUG : LN_LOG_INFO, "tx %s %s failed: %s: %s", id, call,
                      ln_errname(r->code), r->error ? r->error : ln_strerror(r->code));
    }
    if (failed > LOG_FAILED_MAX)
        ln__node_log("block %llu: %zu more failed calls, not logged",
                     (unsigned long long)b->hdr.height, failed - LOG_FAILED_MAX);
}

int ln_node_subscribe(ln_node *n, ln_block_cb cb, void *ud)
{
    if (n->nsubs == n->capsubs) {
        size_t cap = n->capsubs ? n->capsubs * 2 : 8;
        subscriber *s = realloc(n->subs, cap * sizeof *s);
        if (!s) return LN_ENOMEM;
        n->subs = s;
        n->capsubs = cap;
    }
    n->subs[n->nsubs].cb = cb;
    n->subs[n->nsubs].ud = ud;
    n->nsubs++;
    return 0;
}

void ln_node_unsubscribe(ln_node *n, ln_block_cb cb, void *ud)
{
    for (size_t i = 0; i < n->nsubs; i++)
        if (n->subs[i].cb == cb && n->subs[i].ud == ud) {
            n->subs[i] = n->subs[--n->nsubs];
            return;
        }
}
