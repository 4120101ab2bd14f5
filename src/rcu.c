/*
 * rcu.c — deferred frees through liburcu's call_rcu (see rcu.h).
 */
#include "rcu.h"

#include <time.h>

#if defined(GOMAP_TSAN)
/* The token every read-side section releases and every deferred free
 * acquires (rcu.h). Its value is never used; only its address. */
char gomap__rcu_readers_done;
#endif

static void run_free(struct rcu_head *head)
{
    struct gomap_retired *r = caa_container_of(head, struct gomap_retired, head);
#if defined(GOMAP_TSAN)
    __tsan_acquire(&gomap__rcu_readers_done);
    __tsan_acquire(r);
#endif
    r->free_fn(r);
}

void gomap__rcu_retire(struct gomap_retired *r, void (*free_fn)(struct gomap_retired *r))
{
    r->free_fn = free_fn;
#if defined(GOMAP_TSAN)
    __tsan_release(r);
#endif
    urcu_bp_call_rcu(&r->head, run_free);
}

void gomap__rcu_wait_a_little(void)
{
    struct timespec ts = {0, 200 * 1000};
    nanosleep(&ts, NULL);
}
