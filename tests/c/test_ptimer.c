/* test_ptimer.c -- a plugin's named one-shot timers (core/ptimer.c). */
#include "test.h"
#include "err.h"
#include "ptimer.h"

typedef struct { char fired[16][32]; int n; } log_t;

static void fire(const char *id, void *ud)
{
    log_t *l = ud;
    if (l->n < 16) snprintf(l->fired[l->n++], 32, "%s", id);
}

static void closed(void *ud) { *(int *)ud = 1; }

TEST(ptimer_armed_before_start_fires_only_after_start)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    log_t l = { .n = 0 };
    ln_ptimers *t;
    ASSERT_EQ(ln_ptimers_new(&loop, fire, &l, &t), 0);
    ASSERT_EQ(ln_ptimers_arm(t, 1, "a"), 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    ASSERT_EQ(l.n, 0);
    ln_ptimers_start(t);
    while (l.n < 1) uv_run(&loop, UV_RUN_ONCE);
    ASSERT_STR(l.fired[0], "a");
    int done = 0;
    ln_ptimers_close(t, closed, &done);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT(done);
    ASSERT_EQ(uv_loop_close(&loop), 0);
}

TEST(ptimer_rearming_an_id_replaces_it_and_close_stops_every_timer)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    log_t l = { .n = 0 };
    ln_ptimers *t;
    ASSERT_EQ(ln_ptimers_new(&loop, fire, &l, &t), 0);
    ln_ptimers_start(t);
    ASSERT_EQ(ln_ptimers_arm(t, 100000, "x"), 0);
    ASSERT_EQ(ln_ptimers_arm(t, 1, "x"), 0);       /* the same timer, sooner */
    ASSERT_EQ(ln_ptimers_arm(t, 100000, "late"), 0);
    while (l.n < 1) uv_run(&loop, UV_RUN_ONCE);
    ASSERT_STR(l.fired[0], "x");
    int done = 0;
    ln_ptimers_close(t, closed, &done);            /* "late" never fires */
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT(done);
    ASSERT_EQ(l.n, 1);
    ASSERT_EQ(uv_loop_close(&loop), 0);
}

TEST(ptimer_refuses_past_its_cap)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    log_t l = { .n = 0 };
    ln_ptimers *t;
    ASSERT_EQ(ln_ptimers_new(&loop, fire, &l, &t), 0);
    char id[16];
    for (int i = 0; i < LN_PTIMER_MAX; i++) {
        snprintf(id, sizeof id, "t%d", i);
        ASSERT_EQ(ln_ptimers_arm(t, 1000, id), 0);
    }
    ASSERT_EQ(ln_ptimers_arm(t, 1000, "one-more"), LN_EFULL);
    ASSERT_EQ(ln_ptimers_arm(t, 5, "t0"), 0);      /* re-arming one is fine */
    int done = 0;
    ln_ptimers_close(t, closed, &done);            /* never started: no handles */
    ASSERT(done);
    ASSERT_EQ(uv_loop_close(&loop), 0);
}

static const ln_test tests[] = {
    T(ptimer_armed_before_start_fires_only_after_start),
    T(ptimer_rearming_an_id_replaces_it_and_close_stops_every_timer),
    T(ptimer_refuses_past_its_cap),
    { NULL, NULL }
};

LN_TEST_MAIN(tests)
