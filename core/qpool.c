/*
** qpool.c -- worker threads and a bounded queue (qpool.h).
**
** One mutex guards the queue, the finished list and the counts. A worker
** takes the oldest job, runs it unlocked, puts it on the finished list and
** wakes the loop (uv_async), which calls the done callbacks. Closing empties
** the queue, tells the workers to stop after their job, and joins them once
** the last one has said it is leaving.
*/
#include <stdlib.h>

#include "err.h"
#include "qpool.h"

struct ln_qpool {
    uv_loop_t *loop;
    uv_async_t wake;
    uv_mutex_t mu;
    uv_cond_t cv;
    uv_thread_t *threads;
    unsigned nthreads, alive;        /* started; not yet leaving */
    ln_qjob *head, *tail;            /* waiting */
    ln_qjob *finished;               /* ran, done not called yet */
    size_t waiting, running, queue_max;
    uint64_t refused;
    int stopping;
    ln_qpool_close_cb close_cb;
    void *close_ud;
};

static void worker(void *arg)
{
    ln_qpool *p = arg;
    uv_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stopping) uv_cond_wait(&p->cv, &p->mu);
        if (!p->head) break;                 /* stopping, nothing left */
        ln_qjob *j = p->head;
        p->head = j->next;
        if (!p->head) p->tail = NULL;
        p->waiting--;
        p->running++;
        uv_mutex_unlock(&p->mu);
        j->work(j);
        uv_mutex_lock(&p->mu);
        p->running--;
        j->status = 0;
        j->next = p->finished;
        p->finished = j;
        uv_async_send(&p->wake);
    }
    p->alive--;
    uv_mutex_unlock(&p->mu);
    uv_async_send(&p->wake);
}

static void on_closed(uv_handle_t *h)
{
    ln_qpool *p = h->data;
    uv_cond_destroy(&p->cv);
    uv_mutex_destroy(&p->mu);
    ln_qpool_close_cb cb = p->close_cb;
    void *ud = p->close_ud;
    free(p->threads);
    free(p);
    if (cb) cb(ud);
}

/* Finished jobs, oldest first: the list is built newest first. */
static void on_wake(uv_async_t *a)
{
    ln_qpool *p = a->data;
    uv_mutex_lock(&p->mu);
    ln_qjob *list = p->finished;
    p->finished = NULL;
    int gone = p->stopping && p->alive == 0;
    uv_mutex_unlock(&p->mu);
    ln_qjob *rev = NULL;
    while (list) {
        ln_qjob *next = list->next;
        list->next = rev;
        rev = list;
        list = next;
    }
    while (rev) {
        ln_qjob *next = rev->next;
        rev->done(rev, rev->status);
        rev = next;
    }
    if (gone && !uv_is_closing((uv_handle_t *)&p->wake)) {
        for (unsigned i = 0; i < p->nthreads; i++) uv_thread_join(&p->threads[i]);
        uv_close((uv_handle_t *)&p->wake, on_closed);
    }
}

int ln_qpool_new(uv_loop_t *loop, unsigned workers, size_t queue_max, ln_qpool **out)
{
    if (workers == 0) workers = 1;
    ln_qpool *p = calloc(1, sizeof *p);
    if (!p) return LN_ENOMEM;
    p->threads = calloc(workers, sizeof *p->threads);
    if (!p->threads) { free(p); return LN_ENOMEM; }
    p->loop = loop;
    p->queue_max = queue_max;
    if (uv_mutex_init(&p->mu) < 0) { free(p->threads); free(p); return LN_ENOMEM; }
    if (uv_cond_init(&p->cv) < 0) {
        uv_mutex_destroy(&p->mu);
        free(p->threads);
        free(p);
        return LN_ENOMEM;
    }
    uv_async_init(loop, &p->wake, on_wake);
    p->wake.data = p;
    for (unsigned i = 0; i < workers; i++) {
        uv_mutex_lock(&p->mu);
        p->alive++;
        uv_mutex_unlock(&p->mu);
        if (uv_thread_create(&p->threads[i], worker, p) < 0) {
            uv_mutex_lock(&p->mu);
            p->alive--;
            uv_mutex_unlock(&p->mu);
            ln_qpool_close(p, NULL, NULL);
            return LN_EIO;
        }
        p->nthreads++;
    }
    *out = p;
    return 0;
}

int ln_qpool_submit(ln_qpool *p, ln_qjob *job, ln_qjob_work work, ln_qjob_done done)
{
    job->next = NULL;
    job->work = work;
    job->done = done;
    job->status = 0;
    uv_mutex_lock(&p->mu);
    int rc = 0;
    if (p->stopping) {
        rc = LN_ECLOSED;
    } else if (p->waiting >= p->queue_max) {
        p->refused++;
        rc = LN_EBUSY;
    } else {
        if (p->tail) p->tail->next = job; else p->head = job;
        p->tail = job;
        p->waiting++;
        uv_cond_signal(&p->cv);
    }
    uv_mutex_unlock(&p->mu);
    return rc;
}

void ln_qpool_stats(ln_qpool *p, size_t *running, size_t *waiting, uint64_t *refused)
{
    uv_mutex_lock(&p->mu);
    *running = p->running;
    *waiting = p->waiting;
    *refused = p->refused;
    uv_mutex_unlock(&p->mu);
}

void ln_qpool_close(ln_qpool *p, ln_qpool_close_cb cb, void *ud)
{
    uv_mutex_lock(&p->mu);
    p->stopping = 1;
    p->close_cb = cb;
    p->close_ud = ud;
    ln_qjob *list = p->head;
    p->head = p->tail = NULL;
    p->waiting = 0;
    uv_cond_broadcast(&p->cv);
    uv_mutex_unlock(&p->mu);
    while (list) {
        ln_qjob *next = list->next;
        list->done(list, LN_ECLOSED);
        list = next;
    }
    uv_async_send(&p->wake);             /* joins once every worker has left */
}
