/*
** node_dryrun.c -- a transaction run for its receipt and thrown away
** (ln_node_dry_run, node.h): what a client needs to set max_fee. It runs
** on the query workers, over a view of the store taken on the loop, as
** the next block would run it on the head's state; nothing it writes is
** kept, and the mempool never sees it.
*/
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node.h"
#include "node_int.h"
#include "err.h"
#include "exec.h"
#include "sandbox.h"

typedef struct {
    ln_qjob job;                         /* first */
    ln_node *n;
    ln_store *view;
    ln_blockctx bc;
    char chain_id[LN_CHAIN_ID_MAX + 1];
    uint8_t *tx;
    size_t len;
    int rc;
    ln_receipt r;
    ln_dryrun_cb cb;
    void *ud;
} dryrun_job;

static void dryrun_work(ln_qjob *job)
{
    dryrun_job *d = (dryrun_job *)job;
    ln_sandbox_thread_high_slots();
    ln_state *st = NULL;
    ln_overlay *ov = NULL;
    d->rc = ln_state_open(d->view, &st);
    if (d->rc == 0 && !(ov = ln_overlay_new(st))) d->rc = LN_ENOMEM;
    const uint8_t *txs[1] = { d->tx };
    if (d->rc == 0) d->rc = ln_exec_block(ov, &d->bc, txs, &d->len, 1, 0, &d->r);
    ln_overlay_free(ov);                 /* its writes go */
    ln_state_close(st);
}

static void dryrun_done(ln_qjob *job, int status)
{
    dryrun_job *d = (dryrun_job *)job;
    ln_store_close(d->view);
    int rc = status < 0 ? status : d->rc;
    d->cb(d->n, rc, rc < 0 ? NULL : &d->r, d->ud);
    if (status == 0 && d->rc == 0) ln_receipt_free(&d->r);
    free(d->tx);
    free(d);
}

int ln_node_dry_run(ln_node *n, const uint8_t *tx, size_t len, ln_dryrun_cb cb, void *ud)
{
    if (!n->queries) return LN_ECLOSED;
    dryrun_job *d = calloc(1, sizeof *d);
    if (!d) return LN_ENOMEM;
    d->n = n;
    d->cb = cb;
    d->ud = ud;
    d->len = len;
    int rc = (d->tx = malloc(len ? len : 1)) ? 0 : LN_ENOMEM;
    if (rc == 0) {
        memcpy(d->tx, tx, len);
        rc = ln_store_view(ln_chain_store(n->chain), &d->view);
    }
    if (rc == 0) {
        ln_header h;
        uint8_t hash[LN_HASH_LEN];
        ln_chain_head(n->chain, &h, hash);
        snprintf(d->chain_id, sizeof d->chain_id, "%s", n->chain_id);
        /* As the next block: height + 1, its time no earlier than now. */
        uint64_t now = (uint64_t)time(NULL);
        ln_blockctx bc = { d->chain_id, h.height + 1, now > h.time ? now : h.time, { 0 }, 1, 0, NULL, NULL, NULL };
        memcpy(bc.prev, hash, LN_HASH_LEN);
        d->bc = bc;
        rc = ln_qpool_submit(n->queries, &d->job, dryrun_work, dryrun_done);
    }
    if (rc < 0) {
        ln_store_close(d->view);
        free(d->tx);
        free(d);
    }
    return rc;
}
