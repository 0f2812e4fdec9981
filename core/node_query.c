/*
** node_query.c -- read-only calls off the loop (ln_node_query, ln_node_quote,
** node.h): each runs on the query workers over a view of the store taken
** on the loop, so a slow contract never holds up blocks. Dry runs
** (node_dryrun.c) run the same way.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"
#include "node_int.h"
#include "err.h"
#include "exec.h"
#include "quote.h"
#include "sandbox.h"

/* A query runs on a worker over a view of the store taken on the loop when
** it was asked, with the head's header of that moment: one committed state,
** whatever the loop commits meanwhile. The view is the worker's alone. */
typedef struct {
    ln_qjob job;                         /* first */
    ln_node *n;
    ln_store *view;
    ln_blockctx bc;
    char chain_id[LN_CHAIN_ID_MAX + 1];
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
    ln_sandbox_thread_high_slots();
    ln_state *st = NULL;
    q->rc = ln_state_open(q->view, &st);
    if (q->rc == 0)
        q->rc = ln_exec_query(st, &q->bc, q->contract, q->method, q->args, q->alen, &q->out);
    ln_state_close(st);
}

static void query_done(ln_qjob *job, int status)
{
    query_job *q = (query_job *)job;
    ln_store_close(q->view);
    int rc = status < 0 ? status : q->rc;
    q->cb(q->n, rc, rc < 0 ? NULL : &q->out, q->ud);
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
    q->n = n;
    q->cb = cb;
    q->ud = ud;
    snprintf(q->contract, sizeof q->contract, "%s", contract);
    snprintf(q->chain_id, sizeof q->chain_id, "%s", n->chain_id);
    q->method = strdup(method);
    q->args = args ? malloc(alen ? alen : 1) : NULL;
    int rc = !q->method || (args && !q->args) ? LN_ENOMEM : 0;
    if (rc == 0 && args) memcpy(q->args, args, alen);
    q->alen = alen;
    if (rc == 0) rc = ln_store_view(ln_chain_store(n->chain), &q->view);
    if (rc == 0) {
        ln_header h;
        uint8_t hash[LN_HASH_LEN];
        ln_chain_head(n->chain, &h, hash);
        ln_blockctx bc = { q->chain_id, h.height, h.time, { 0 }, 1, n->query_gas_max, NULL, NULL, NULL };
        memcpy(bc.prev, hash, LN_HASH_LEN);
        q->bc = bc;
        rc = ln_qpool_submit(n->queries, &q->job, query_work, query_done);
    }
    if (rc < 0) {
        ln_store_close(q->view);
        free(q->method);
        free(q->args);
        free(q);
    }
    return rc;
}

/* A quote, like a query: on a worker, over a view of the head. */
typedef struct {
    ln_qjob job;                         /* first */
    ln_node *n;
    ln_store *view;
    ln_blockctx bc;
    char chain_id[LN_CHAIN_ID_MAX + 1];
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
    ln_sandbox_thread_high_slots();
    ln_state *st = NULL;
    q->rc = ln_state_open(q->view, &st);
    if (q->rc == 0) q->rc = ln_quote_tx(st, &q->bc, q->tx, q->len, &q->q, q->why, sizeof q->why);
    ln_state_close(st);
}

static void quote_done(ln_qjob *job, int status)
{
    quote_job *q = (quote_job *)job;
    ln_store_close(q->view);
    int rc = status < 0 ? status : q->rc;
    q->cb(q->n, rc, rc < 0 ? NULL : &q->q, q->why, q->ud);
    if (rc == 0) ln_quote_free(&q->q);
    free(q->tx);
    free(q);
}

int ln_node_quote(ln_node *n, const uint8_t *tx, size_t len, ln_quote_cb cb, void *ud)
{
    if (!n->queries) return LN_ECLOSED;
    quote_job *q = calloc(1, sizeof *q);
    if (!q || !(q->tx = malloc(len ? len : 1))) {
        free(q);
        return LN_ENOMEM;
    }
    memcpy(q->tx, tx, len);
    q->len = len;
    q->n = n;
    q->cb = cb;
    q->ud = ud;
    snprintf(q->chain_id, sizeof q->chain_id, "%s", n->chain_id);
    int rc = ln_store_view(ln_chain_store(n->chain), &q->view);
    if (rc == 0) {
        ln_header h;
        uint8_t hash[LN_HASH_LEN];
        ln_chain_head(n->chain, &h, hash);
        ln_blockctx bc = { q->chain_id, h.height + 1, h.time, { 0 }, 1, 0, NULL, NULL, NULL };
        memcpy(bc.prev, hash, LN_HASH_LEN);
        q->bc = bc;
        rc = ln_qpool_submit(n->queries, &q->job, quote_work, quote_done);
    }
    if (rc < 0) {
        ln_store_close(q->view);
        free(q->tx);
        free(q);
    }
    return rc;
}
