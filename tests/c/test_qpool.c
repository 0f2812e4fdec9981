/* test_qpool.c -- the query worker pool: jobs run off the loop thread, in
** order, a full queue refuses with EBUSY, and closing answers the waiting
** jobs with ECLOSED, lets the running one finish and joins every thread.
** A job blocks on a gate the test opens, so what runs when is decided by
** the test, not by timing. */
#include <uv.h>

#include "test.h"
#include "err.h"
#include "qpool.h"

typedef struct {
    ln_qjob job;                 /* first */
    int id;
    uv_thread_t ran_on;
    int status, done;
} job;

static uv_mutex_t gate_mu;
static uv_cond_t gate_cv;
static int gate_open, started;
static int order[16], norder;

static void work(ln_qjob *j)
{
    job *x = (job *)j;
    x->ran_on = uv_thread_self();
    uv_mutex_lock(&gate_mu);
    started++;
    uv_cond_broadcast(&gate_cv);
    while (!gate_open) uv_cond_wait(&gate_cv, &gate_mu);
    uv_mutex_unlock(&gate_mu);
}

static void done(ln_qjob *j, int status)
{
    job *x = (job *)j;
    x->status = status;
    x->done++;
    order[norder++] = x->id;
}

static void wait_started(int n)
{
    uv_mutex_lock(&gate_mu);
    while (started < n) uv_cond_wait(&gate_cv, &gate_mu);
    uv_mutex_unlock(&gate_mu);
}

static void open_gate(void)
{
    uv_mutex_lock(&gate_mu);
    gate_open = 1;
    uv_cond_broadcast(&gate_cv);
    uv_mutex_unlock(&gate_mu);
}

static void setup(void)
{
    ASSERT_EQ(uv_mutex_init(&gate_mu), 0);
    ASSERT_EQ(uv_cond_init(&gate_cv), 0);
    gate_open = started = norder = 0;
}

static int closed;
static void on_closed(void *ud) { (void)ud; closed++; }

TEST(qpool_runs_jobs_off_the_loop_thread_in_order)
{
    setup();
    uv_loop_t loop;
    ASSERT_EQ(uv_loop_init(&loop), 0);
    ln_qpool *p;
    ASSERT_EQ(ln_qpool_new(&loop, 1, 8, &p), 0);
    job j[3];
    memset(j, 0, sizeof j);
    for (int i = 0; i < 3; i++) {
        j[i].id = i + 1;
        ASSERT_EQ(ln_qpool_submit(p, &j[i].job, work, done), 0);
    }
    open_gate();
    while (norder < 3) uv_run(&loop, UV_RUN_ONCE);
    uv_thread_t me = uv_thread_self();
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(j[i].status, 0);
        ASSERT_EQ(j[i].done, 1);
        ASSERT(!uv_thread_equal(&j[i].ran_on, &me));
        ASSERT_EQ(order[i], i + 1);
    }
    closed = 0;
    ln_qpool_close(p, on_closed, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ(closed, 1);
    ASSERT_EQ(uv_loop_close(&loop), 0);
}

TEST(qpool_full_queue_refuses_with_ebusy_and_close_answers_waiting_jobs_eclosed)
{
    setup();
    uv_loop_t loop;
    ASSERT_EQ(uv_loop_init(&loop), 0);
    ln_qpool *p;
    ASSERT_EQ(ln_qpool_new(&loop, 1, 2, &p), 0);
    job j[4];
    memset(j, 0, sizeof j);
    for (int i = 0; i < 4; i++) j[i].id = i + 1;
    ASSERT_EQ(ln_qpool_submit(p, &j[0].job, work, done), 0);
    wait_started(1);                     /* 1 runs (held at the gate) */
    ASSERT_EQ(ln_qpool_submit(p, &j[1].job, work, done), 0);
    ASSERT_EQ(ln_qpool_submit(p, &j[2].job, work, done), 0);
    ASSERT_EQ(ln_qpool_submit(p, &j[3].job, work, done), LN_EBUSY);
    size_t running, waiting;
    uint64_t refused;
    ln_qpool_stats(p, &running, &waiting, &refused);
    ASSERT_EQ(running, 1);
    ASSERT_EQ(waiting, 2);
    ASSERT_EQ(refused, 1);
    closed = 0;
    ln_qpool_close(p, on_closed, NULL);  /* 2 and 3 answered now */
    ASSERT_EQ(j[1].status, LN_ECLOSED);
    ASSERT_EQ(j[2].status, LN_ECLOSED);
    ASSERT_EQ(j[0].done, 0);
    open_gate();                         /* 1 finishes, then the pool goes */
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ(j[0].done, 1);
    ASSERT_EQ(j[0].status, 0);
    ASSERT_EQ(j[3].done, 0);
    ASSERT_EQ(closed, 1);
    ASSERT_EQ(uv_loop_close(&loop), 0);
}

static const ln_test tests[] = {
    T(qpool_runs_jobs_off_the_loop_thread_in_order),
    T(qpool_full_queue_refuses_with_ebusy_and_close_answers_waiting_jobs_eclosed),
    {0}
};
LN_TEST_MAIN(tests)
