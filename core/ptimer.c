/* ptimer.c -- a plugin's timers on a libuv loop (see ptimer.h). */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ptimer.h"

/* Its handle exists from when it is first armed on a started set until it
** fires without being armed again (or the set closes). */
typedef struct ptimer {
    uv_timer_t h;
    ln_ptimers *set;
    struct ptimer *next;
    uint64_t ms;
    int live;                            /* h is initialised */
    char id[];
} ptimer;

struct ln_ptimers {
    uv_loop_t *loop;
    ln_ptimer_fire fire;
    void *ud;
    ptimer *list;
    size_t n;
    int started, closing, open;          /* open: handles not closed yet */
    void (*close_cb)(void *ud);
    void *close_ud;
};

int ln_ptimers_new(uv_loop_t *loop, ln_ptimer_fire fire, void *ud, ln_ptimers **out)
{
    ln_ptimers *t = calloc(1, sizeof *t);
    if (!t) return LN_ENOMEM;
    t->loop = loop;
    t->fire = fire;
    t->ud = ud;
    *out = t;
    return 0;
}

static void unlink_timer(ln_ptimers *s, ptimer *t)
{
    for (ptimer **p = &s->list; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            s->n--;
            return;
        }
}

static void maybe_gone(ln_ptimers *s)
{
    if (!s->closing || s->open) return;
    void (*cb)(void *) = s->close_cb;
    void *ud = s->close_ud;
    free(s);
    if (cb) cb(ud);
}

static void timer_closed(uv_handle_t *h)
{
    ptimer *t = h->data;
    ln_ptimers *s = t->set;
    free(t);
    s->open--;
    maybe_gone(s);
}

static void on_timer(uv_timer_t *h)
{
    ptimer *t = h->data;
    ln_ptimers *s = t->set;
    if (s->closing) return;
    s->fire(t->id, s->ud);
    /* Done with, unless the callback armed it again (or closed the set:
    ** then the close has it). */
    if (!s->closing && !uv_is_active((uv_handle_t *)&t->h)) {
        unlink_timer(s, t);
        uv_close((uv_handle_t *)&t->h, timer_closed);
    }
}

/* Starts t (its handle first, if it has none); on failure t is dropped. */
static void start_one(ln_ptimers *s, ptimer *t)
{
    if (!t->live) {
        if (uv_timer_init(s->loop, &t->h) < 0) {
            unlink_timer(s, t);
            free(t);
            return;
        }
        t->h.data = t;
        t->live = 1;
        s->open++;
    }
    uv_timer_start(&t->h, on_timer, t->ms, 0);
}

int ln_ptimers_arm(ln_ptimers *s, uint64_t ms, const char *id)
{
    if (s->closing) return LN_ECLOSED;
    ptimer *t;
    for (t = s->list; t; t = t->next)
        if (strcmp(t->id, id) == 0) break;
    if (!t) {
        if (s->n >= LN_PTIMER_MAX) return LN_EFULL;
        size_t il = strlen(id);
        if (!(t = calloc(1, sizeof *t + il + 1))) return LN_ENOMEM;
        t->set = s;
        memcpy(t->id, id, il + 1);
        t->next = s->list;
        s->list = t;
        s->n++;
    }
    t->ms = ms;
    if (s->started) start_one(s, t);
    return 0;
}

void ln_ptimers_start(ln_ptimers *s)
{
    s->started = 1;
    for (ptimer *t = s->list, *next; t; t = next) {
        next = t->next;
        start_one(s, t);
    }
}

void ln_ptimers_close(ln_ptimers *s, void (*cb)(void *ud), void *ud)
{
    s->closing = 1;
    s->close_cb = cb;
    s->close_ud = ud;
    ptimer *t = s->list, *next;
    s->list = NULL;
    s->n = 0;
    for (; t; t = next) {
        next = t->next;
        if (t->live) uv_close((uv_handle_t *)&t->h, timer_closed);
        else free(t);
    }
    maybe_gone(s);
}
