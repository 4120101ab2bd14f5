/*
 * reclaim_probe.c — counting and timing liburcu's grace periods
 * (reclaim_probe.h).
 */
#include "strategies/reclaim_probe.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/clock.h"

static atomic_llong grace_periods;
static atomic_llong pause_max_ticks;
static atomic_bool called; /* the wrapper ran at least once */
static _Thread_local bool writer;

void urcu_memb_synchronize_rcu(void);

/* liburcu's synchronize_rcu, the one this file's definition hides. */
static void (*real_synchronize(void))(void)
{
    static void (*real)(void);
    void (*f)(void) = __atomic_load_n(&real, __ATOMIC_ACQUIRE);
    if (!f) {
        f = (void (*)(void))dlsym(RTLD_NEXT, "urcu_memb_synchronize_rcu");
        if (!f) {
            fprintf(stderr, "gomap-bench: liburcu's urcu_memb_synchronize_rcu not found\n");
            abort();
        }
        __atomic_store_n(&real, f, __ATOMIC_RELEASE);
    }
    return f;
}

/* The definition every caller reaches (reclaim_probe.h). */
void urcu_memb_synchronize_rcu(void)
{
    uint64_t t0 = clock_ticks();
    real_synchronize()();
    atomic_store_explicit(&called, true, memory_order_relaxed);
    atomic_fetch_add_explicit(&grace_periods, 1, memory_order_relaxed);
    if (!writer)
        return;
    long long d = (long long)(clock_ticks() - t0);
    long long old = atomic_load_explicit(&pause_max_ticks, memory_order_relaxed);
    while (d > old && !atomic_compare_exchange_weak_explicit(&pause_max_ticks, &old, d,
                                                             memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
}

bool reclaim_probe_active(void)
{
    /* One grace period of our own, if none has run yet, to see whether the
     * call comes here. */
    if (!atomic_load_explicit(&called, memory_order_relaxed)) {
        void (*sync_rcu)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "urcu_memb_synchronize_rcu");
        if (sync_rcu == urcu_memb_synchronize_rcu)
            atomic_store_explicit(&called, true, memory_order_relaxed);
    }
    return atomic_load_explicit(&called, memory_order_relaxed);
}

void reclaim_probe_writer(void) { writer = true; }

void reclaim_probe_start(void)
{
    atomic_store_explicit(&grace_periods, 0, memory_order_relaxed);
    atomic_store_explicit(&pause_max_ticks, 0, memory_order_relaxed);
}

void reclaim_probe_read(int64_t *gps, double *pause_ns)
{
    if (!reclaim_probe_active()) {
        *gps = -1;
        *pause_ns = -1;
        return;
    }
    *gps = atomic_load_explicit(&grace_periods, memory_order_relaxed);
    *pause_ns = (double)atomic_load_explicit(&pause_max_ticks, memory_order_relaxed) *
                clock_ns_per_tick();
}
