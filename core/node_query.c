/*
** node_query.c -- work off the loop on the query workers (node.h): read-only
** calls (ln_node_query), quotes (ln_node_quote) and dry runs of a
** transaction (ln_node_dry_run, what a client needs to set max_fee). Each
** runs over a view of the store taken on the loop when it was asked, with
** the head's context of that moment: one committed state, whatever the
** loop commits meanwhile, so a slow contract never holds up blocks. Nothing
** they write is kept, and the mempool never sees them.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node.h"
#include "node_int.h"
#include "err.h"
#include "exec.h"
#include "quote.h"
#include "sandbox.h"

/* What every job here starts with: the view (the worker's alone) and the
** context of the block it runs in. */
typedef struct {
    ln_qjob job;                         /* first */
    ln_node *n;
    ln_store *view;
    ln_blockctx bc;
    char chain_id[LN_CHAIN_ID_MAX + 1];
} head_job;

/* On the loop: takes the view and the context of block head + ahead (0: the
** head's own, as its transactions saw it; 1: the next block), its time no
** earlier than min_time, under gas_cap. */
static int head_job_take(ln_node *n, head_job *j, uint64_t ahead, uint64_t min_time,
                         uint64_t gas_cap)
{
    j->n = n;
    snprintf(j->chain_id, sizeof j->chain_id, "%s", n->chain_id);
    int rc = ln_store_view(ln_chain_store(n->chain), &j->view);
    if (rc < 0) return rc;
    ln_header h;
    uint8_t hash[LN_HASH_LEN];
    ln_chain_head(n->chain, &h, hash);
    ln_blockctx bc = { j->chain_id, h.height + ahead, min_time > h.time ? min_time : h.time,
                       { 0 }, 1, gas_cap, NULL, NULL, NULL };
    memcpy(bc.prev, hash, LN_HASH_LEN);
    j->bc = bc;
    return 0;
}

/* On the worker: the state of the view. */
static int head_job_state(head_job *j, ln_state **st)
{
    ln_sandbox_thread_high_slots();
    return ln_state_open(j->view, st);
}

/* ---- queries ----------------------------------------------------------- */

typedef struct {
    head_job h;                          /* first */
    char contract[LN_NAME_MAX + 1];
    char *method;
    uint8_t *args;
    size_t alen;
    int rc;
    ln_outcome out;
    ln_query_cb cb;
    void *ud;
} query_job;

static void query_work(ln_qjob *job)
{
    query_job *q = (query_job *)job;
    ln_state *st = NULL;
    q->rc = head_job_state(&q->h, &st);
    if (q->rc == 0)
        q->rc = ln_exec_query(st, &q->h.bc, q->contract, q->method, q->args, q->alen, &q->out);
    ln_state_close(st);
}

static void query_done(ln_qjob *job, int status)
{
    query_job *q = (query_job *)job;
    ln_store_close(q->h.view);
    int rc = status < 0 ? status : q->rc;
    q->cb(q->h.n, rc, rc < 0 ? NULL : &q->out, q->ud);
    ln_outcome_free(&q->out);
    free(q->method);
    free(q->args);
    free(q);
}

int ln_node_query(ln_node *n, const char *contract, const char *method,
                  const uint8_t *args, size_t alen, ln_query_cb cb, void *ud)
{
    if (!n->queries) return LN_ECLOSED;
    if (strlen(contract) > LN_NAME_MAX) return LN_EBADNAME;
    query_job *q = calloc(1, sizeof *q);
    if (!q) return LN_ENOMEM;
    q->cb = cb;
    q->ud = ud;
    snprintf(q->contract, sizeof q->contract, "%s", contract);
    q->method = strdup(method);
    q->args = args ? malloc(alen ? alen : 1) : NULL;
    int rc = !q->method || (args && !q->args) ? LN_ENOMEM : 0;
    if (rc == 0 && args) memcpy(q->args, args, alen);
    q->alen = alen;
    if (rc == 0) rc = head_job_take(n, &q->h, 0, 0, n->query_gas_max);
    if (rc == 0) rc = ln_qpool_submit(n->queries, &q->h.job, query_work, query_done);
    if (rc < 0) {
        ln_store_close(q->h.view);
        free(q->method);
        free(q->args);
        free(q);
    }
    return rc;
}

/* ---- quotes and dry runs: a transaction in the next block ---------------- */

typedef struct {
    head_job h;                          /* first */
    uint8_t *tx;
    size_t len;
    int rc;
    char why[320];
    ln_quote q;
    ln_quote_cb cb;
    void *ud;
} quote_job;

static void quote_work(ln_qjob *job)
{
    quote_job *q = (quote_job *)job;
    ln_state *st = NULL;
    q->rc = head_job_state(&q->h, &st);
    if (q->rc == 0) q->rc = ln_quote_tx(st, &q->h.bc, q->tx, q->len, &q->q, q->why, sizeof q->why);
    ln_state_close(st);
}

static void quote_done(ln_qjob *job, int status)
{
    quote_job *q = (quote_job *)job;
    ln_store_close(q->h.view);
    int rc = status < 0 ? status : q->rc;
    q->cb(q->h.n, rc, rc < 0 ? NULL : &q->q, q->why, q->ud);
    if (rc == 0) ln_quote_free(&q->q);
    free(q->tx);
    free(q);
}

/* A copy of tx (len bytes) in *out; LN_ENOMEM. */
static int copy_tx(const uint8_t *tx, size_t len, uint8_t **out)
{
    if (!(*out = malloc(len ? len : 1))) return LN_ENOMEM;
    memcpy(*out, tx, len);
    return 0;
}

int ln_node_quote(ln_node *n, const uint8_t *tx, size_t len, ln_quote_cb cb, void *ud)
{
    if (!n->queries) return LN_ECLOSED;
    quote_job *q = calloc(1, sizeof *q);
    if (!q) return LN_ENOMEM;
    q->len = len;
    q->cb = cb;
    q->ud = ud;
    int rc = copy_tx(tx, len, &q->tx);
    if (rc == 0) rc = head_job_take(n, &q->h, 1, 0, 0);
    if (rc == 0) rc = ln_qpool_submit(n->queries, &q->h.job, quote_work, quote_done);
    if (rc < 0) {
        ln_store_close(q->h.view);
        free(q->tx);
        free(q);
    }
    return rc;
}

typedef struct {
    head_job h;                          /* first */
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
    ln_state *st = NULL;
    ln_overlay *ov = NULL;
    d->rc = head_job_state(&d->h, &st);
    if (d->rc == 0 && !(ov = ln_overlay_new(st))) d->rc = LN_ENOMEM;
    const uint8_t *txs[1] = { d->tx };
    if (d->rc == 0) d->rc = ln_exec_block(ov, &d->h.bc, txs, &d->len, 1, 0, &d->r);
    ln_overlay_free(ov);                 /* its writes go */
    ln_state_close(st);
}

static void dryrun_done(ln_qjob *job, int status)
{
    dryrun_job *d = (dryrun_job *)job;
    ln_store_close(d->h.view);
    int rc = status < 0 ? status : d->rc;
    d->cb(d->h.n, rc, rc < 0 ? NULL : &d->r, d->ud);
    if (status == 0 && d->rc == 0) ln_receipt_free(&d->r);
    free(d->tx);
    free(d);
}

int ln_node_dry_run(ln_node *n, const uint8_t *tx, size_t len, ln_dryrun_cb cb, void *ud)
{
    if (!n->queries) return LN_ECLOSED;
    dryrun_job *d = calloc(1, sizeof *d);
    if (!d) return LN_ENOMEM;
    d->len = len;
    d->cb = cb;
    d->ud = ud;
    int rc = copy_tx(tx, len, &d->tx);
    /* As the next block: its time no earlier than now. */
    if (rc == 0) rc = head_job_take(n, &d->h, 1, (uint64_t)time(NULL), 0);
    if (rc == 0) rc = ln_qpool_submit(n->queries, &d->h.job, dryrun_work, dryrun_done);
    if (rc < 0) {
        ln_store_close(d->h.view);
        free(d->tx);
        free(d);
    }
    return rc;
}
