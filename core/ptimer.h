/*
** ptimer.h -- a plugin's timers: one-shot, known by an id (node.timer(ms,
** id) re-arms the timer of that id), on a libuv loop. Timers armed before
** ln_ptimers_start are kept and run from then on (a plugin's init arms
** timers before the node has started). A set belongs to one plugin: a swap
** closes the old plugin's set, so none of its timers fires for the new one.
** Everything runs on the loop thread. int results: 0 or a negative LN_E*.
*/
#ifndef LN_PTIMER_H
#define LN_PTIMER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define LN_PTIMER_MAX  1024            /* armed timers per set */

typedef struct ln_ptimers ln_ptimers;   /* opaque */
typedef void (*ln_ptimer_fire)(const char *id, void *ud);

/* LN_ENOMEM. */
int  ln_ptimers_new(uv_loop_t *loop, ln_ptimer_fire fire, void *ud, ln_ptimers **out);

/* Arms (or re-arms) timer id to fire once in ms. LN_EFULL with
** LN_PTIMER_MAX timers armed, LN_ENOMEM, LN_ECLOSED once closing. */
int  ln_ptimers_arm(ln_ptimers *t, uint64_t ms, const char *id);

/* Timers armed so far start now; later ones at once. */
void ln_ptimers_start(ln_ptimers *t);

/* Closes every timer; none fires after this. cb (may be NULL) runs once
** the handles are closed and t is freed (at once when there were none). */
void ln_ptimers_close(ln_ptimers *t, void (*cb)(void *ud), void *ud);

#endif
