/*
** qpool.h -- a bounded pool of worker threads with a bounded queue, for
** work that must not run on the event loop (read-only contract queries).
**
** A job is a struct that starts with an ln_qjob. work runs on a worker
** thread; done runs on the loop thread afterwards with status 0, or with
** LN_ECLOSED for a job that never ran because the pool closed. Jobs start
** in the order they were submitted. Everything but work runs on the loop.
** int results: 0 or a negative LN_E* code (err.h).
*/
#ifndef LN_QPOOL_H
#define LN_QPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct ln_qpool ln_qpool;   /* opaque */
typedef struct ln_qjob ln_qjob;

typedef void (*ln_qjob_work)(ln_qjob *job);              /* worker thread */
typedef void (*ln_qjob_done)(ln_qjob *job, int status);  /* loop thread */
typedef void (*ln_qpool_close_cb)(void *ud);

struct ln_qjob {                    /* the pool's; set by ln_qpool_submit */
    ln_qjob *next;
    ln_qjob_work work;
    ln_qjob_done done;
    int status;
};

/* Starts workers threads (>= 1) that take jobs from a queue of at most
** queue_max waiting jobs. Sets *out only on success. LN_ENOMEM, LN_EIO
** (a thread did not start). */
int  ln_qpool_new(uv_loop_t *loop, unsigned workers, size_t queue_max, ln_qpool **out);

/* Queues job. LN_EBUSY when queue_max jobs wait already, LN_ECLOSED once
** the pool is closing; then done never runs for it. */
int  ln_qpool_submit(ln_qpool *p, ln_qjob *job, ln_qjob_work work, ln_qjob_done done);

/* Jobs running on a worker now, jobs waiting, and jobs refused (EBUSY) so far. */
void ln_qpool_stats(ln_qpool *p, size_t *running, size_t *waiting, uint64_t *refused);

/* Waiting jobs get done(LN_ECLOSED) now; running ones finish and get
** done(0); then the threads are joined, cb(ud) runs (cb may be NULL) and
** the pool is freed. Call once. */
void ln_qpool_close(ln_qpool *p, ln_qpool_close_cb cb, void *ud);

#endif
