/* admit.c -- admission of submitted transactions (see admit.h). */
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "admit.h"
#include "err.h"

#define VERIFIED_SLOTS   (1u << 18)   /* bytes whose signatures held */
#define INFLIGHT_BUCKETS 4096
#define SUBMIT_CHUNK     32           /* submissions per pool work item */

/* A submission's signature check runs once: on the worker pool, or on the
** loop when a block that holds the transaction comes first and claims it. */
enum { SUB_QUEUED, SUB_RUNNING, SUB_DONE, SUB_CLAIMED };

typedef struct sub {
    ln_admit *a;
    struct sub *next;                    /* in a->inflight_by */
    struct sub *next_q;                  /* in a->queued, then in its chunk */
    uint8_t *bytes;
    size_t len;
    uint8_t bh[LN_HASH_LEN];             /* hash of the bytes */
    ln_tx tx;
    int rc;                              /* decode, then verify (SUB_DONE) */
    int vrc;                             /* the loop's verify (SUB_CLAIMED) */
    int decoded;                         /* tx holds a zone (ln_tx_free) */
    int flags;
    _Atomic int state;
    ln_admit_cb cb;
    void *ud;
} sub;

struct ln_admit {
    uv_loop_t *loop;
    ln_admit_host host;
    uv_idle_t dispatch;                  /* hands this turn's submissions to the pool */
    int armed, closing, handle_open;
    sub *queued, **queued_tail;
    sub *inflight_by[INFLIGHT_BUCKETS];
    size_t inflight, inflight_bytes;
    /* Direct-mapped: an entry overwritten costs one more check, never a
    ** wrong answer (whole hashes are compared). */
    uint8_t (*verified)[LN_HASH_LEN];
    uint64_t at_admission, in_blocks;
    void (*close_cb)(void *ud);
    void *close_ud;
};

static uint8_t *verified_slot(const ln_admit *a, const uint8_t bh[LN_HASH_LEN])
{
    uint32_t k = (uint32_t)bh[2] | (uint32_t)bh[3] << 8 | (uint32_t)bh[4] << 16;
    return a->verified[k % VERIFIED_SLOTS];
}

int ln_admit_verified(const ln_admit *a, const uint8_t bh[LN_HASH_LEN])
{
    return memcmp(verified_slot(a, bh), bh, LN_HASH_LEN) == 0;
}

static void verified_put(ln_admit *a, const uint8_t bh[LN_HASH_LEN])
{
    memcpy(verified_slot(a, bh), bh, LN_HASH_LEN);
}

static sub **bucket(ln_admit *a, const uint8_t bh[LN_HASH_LEN])
{
    return &a->inflight_by[((size_t)bh[5] | (size_t)bh[6] << 8) % INFLIGHT_BUCKETS];
}

static sub *inflight_find(ln_admit *a, const uint8_t bh[LN_HASH_LEN])
{
    for (sub *r = *bucket(a, bh); r; r = r->next)
        if (memcmp(r->bh, bh, LN_HASH_LEN) == 0) return r;
    return NULL;
}

static void inflight_unlink(ln_admit *a, sub *r)
{
    for (sub **p = bucket(a, r->bh); *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            return;
        }
}

/* On a pool thread. */
static void check_one(sub *r)
{
    /* Admission yields the CPU to the loop thread, where consensus runs:
    ** under a flood of submissions blocks keep coming on time, and the
    ** flood waits (bounded by LN_ADMIT_MAX_INFLIGHT) instead. */
    static _Thread_local int lowered;
    if (!lowered) {
        lowered = 1;
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
    }
    int expect = SUB_QUEUED;
    r->decoded = 1;
    if (!atomic_compare_exchange_strong(&r->state, &expect, SUB_RUNNING)) {
        r->rc = ln_tx_decode(&r->tx, r->bytes, r->len);   /* claimed: no verify */
        return;
    }
    r->rc = ln_tx_decode(&r->tx, r->bytes, r->len);
    if (r->rc == 0) r->rc = ln_tx_verify(&r->tx);
    atomic_store(&r->state, SUB_DONE);
}

int ln_admit_check(ln_admit *a, const uint8_t *p, size_t len, const uint8_t bh[LN_HASH_LEN])
{
    if (ln_admit_verified(a, bh)) return 0;
    sub *r = inflight_find(a, bh);
    if (r) {
        int expect = SUB_QUEUED;
        if (!atomic_compare_exchange_strong(&r->state, &expect, SUB_CLAIMED)) {
            if (expect == SUB_CLAIMED) return r->vrc;   /* an earlier block checked it */
            /* A worker has it: its answer is a few microseconds away, and
            ** r->rc is its to write until the state says SUB_DONE. */
            while (atomic_load(&r->state) == SUB_RUNNING) sched_yield();
            return r->rc;
        }
    }
    ln_tx d;
    int rc = ln_tx_decode(&d, p, len);
    if (rc == 0) rc = ln_tx_verify(&d);
    ln_tx_free(&d);
    a->in_blocks++;
    if (r) r->vrc = rc;
    if (rc == 0) verified_put(a, bh);
    return rc;
}

static void maybe_closed(ln_admit *a)
{
    if (a->closing && !a->handle_open && a->inflight == 0) {
        void (*cb)(void *) = a->close_cb;
        void *ud = a->close_ud;
        free(a->verified);
        free(a);
        if (cb) cb(ud);
    }
}

static void admit_one(sub *r, int status)
{
    ln_admit *a = r->a;
    char why[200] = "";
    inflight_unlink(a, r);
    int state = atomic_load(&r->state);
    if (state == SUB_CLAIMED && r->rc == 0) r->rc = r->vrc;
    int rc = status < 0 ? LN_EINVAL : r->rc;
    if (rc == LN_EBADTX) snprintf(why, sizeof why, "%s", r->tx.why);
    if (state == SUB_DONE) a->at_admission++;
    if (rc == 0 && state != SUB_QUEUED) verified_put(a, r->bh);
    if (a->closing) rc = ln_errf(why, sizeof why, LN_ECLOSED, "the node is shutting down");
    int take = 0;
    if (rc == 0)
        rc = a->host.accept(a->host.ud, &r->tx, r->bytes, r->len, r->bh, r->flags, &take, why,
                            sizeof why);
    if (take) r->bytes = NULL;
    r->cb(rc, r->tx.id, why, r->ud);
    if (r->decoded) ln_tx_free(&r->tx);
    a->inflight_bytes -= r->len;
    free(r->bytes);
    free(r);
    a->inflight--;
    maybe_closed(a);
}

typedef struct {
    uv_work_t w;
    sub *first;
} chunk;

static void chunk_work(uv_work_t *w)
{
    chunk *c = w->data;
    for (sub *r = c->first; r; r = r->next_q) check_one(r);
}

static void chunk_done(uv_work_t *w, int status)
{
    chunk *c = w->data;
    for (sub *r = c->first, *next; r; r = next) {
        next = r->next_q;
        admit_one(r, status);
    }
    free(c);
}

/* Hands what was submitted this turn to the pool, in chunks spread over
** its threads. */
static void on_dispatch(uv_idle_t *h)
{
    ln_admit *a = h->data;
    uv_idle_stop(h);
    a->armed = 0;
    size_t q = 0;
    for (sub *r = a->queued; r; r = r->next_q) q++;
    size_t per = (q + 3) / 4;
    if (per > SUBMIT_CHUNK) per = SUBMIT_CHUNK;
    if (per < 1) per = 1;
    while (a->queued) {
        chunk *c = calloc(1, sizeof *c);
        sub *r = a->queued, *last = r;
        for (size_t k = 1; k < per && last->next_q; k++) last = last->next_q;
        a->queued = last->next_q;
        last->next_q = NULL;
        if (c) {
            c->first = r;
            c->w.data = c;
        }
        if (!c || uv_queue_work(a->loop, &c->w, chunk_work, chunk_done) < 0) {
            free(c);                   /* cannot happen on a live loop: check here */
            for (sub *x = r, *next; x; x = next) {
                next = x->next_q;
                check_one(x);
                admit_one(x, 0);
            }
        }
    }
    a->queued_tail = &a->queued;
}

int ln_admit_new(uv_loop_t *loop, const ln_admit_host *host, ln_admit **out)
{
    ln_admit *a = calloc(1, sizeof *a);
    if (!a || !(a->verified = calloc(VERIFIED_SLOTS, LN_HASH_LEN))) {
        free(a);
        return LN_ENOMEM;
    }
    a->loop = loop;
    a->host = *host;
    a->queued_tail = &a->queued;
    *out = a;
    return 0;
}

static void idle_closed(uv_handle_t *h)
{
    ln_admit *a = h->data;
    a->handle_open = 0;
    maybe_closed(a);
}

void ln_admit_close(ln_admit *a, void (*cb)(void *ud), void *ud)
{
    a->closing = 1;
    a->close_cb = cb;
    a->close_ud = ud;
    sub *q = a->queued;
    a->queued = NULL;
    a->queued_tail = &a->queued;
    a->inflight++;                       /* held while answering what is queued */
    for (sub *next; q; q = next) {
        next = q->next_q;
        admit_one(q, 0);
    }
    if (a->handle_open) uv_close((uv_handle_t *)&a->dispatch, idle_closed);
    a->inflight--;
    maybe_closed(a);
}

int ln_admit_submit(ln_admit *a, const uint8_t *tx, size_t len, int flags, ln_admit_cb cb,
                    void *ud)
{
    if (a->closing) return LN_ECLOSED;
    if (len > LN_TX_MAX_BYTES) return LN_ETXSIZE;
    if (a->inflight >= LN_ADMIT_MAX_INFLIGHT || a->inflight_bytes + len > LN_ADMIT_MAX_BYTES)
        return LN_EFULL;
    sub *r = calloc(1, sizeof *r);
    if (!r || !(r->bytes = malloc(len ? len : 1))) {
        free(r);
        return LN_ENOMEM;
    }
    if (!a->handle_open) {
        if (uv_idle_init(a->loop, &a->dispatch) < 0) {
            free(r->bytes);
            free(r);
            return LN_ENOMEM;
        }
        a->dispatch.data = a;
        a->handle_open = 1;
    }
    memcpy(r->bytes, tx, len);
    r->len = len;
    ln_hash(tx, len, r->bh);
    r->a = a;
    r->flags = flags;
    r->cb = cb;
    r->ud = ud;
    *a->queued_tail = r;
    a->queued_tail = &r->next_q;
    if (!a->armed) {
        a->armed = 1;
        uv_idle_start(&a->dispatch, on_dispatch);
    }
    sub **b = bucket(a, r->bh);
    r->next = *b;
    *b = r;
    a->inflight++;
    a->inflight_bytes += len;
    return 0;
}

size_t ln_admit_inflight(const ln_admit *a) { return a->inflight; }

void ln_admit_stats(const ln_admit *a, uint64_t *at_admission, uint64_t *in_blocks)
{
    *at_admission = a->at_admission;
    *in_blocks = a->in_blocks;
}
