/*
 * cache_maint.c — working off the wheels: gomap_cache_run_maintenance and
 * the maintenance thread.
 *
 * A shard is worked off in slices of SLICE_ENTRIES wheel entries, each
 * under the shard's mutex and followed by on_remove for what it expired
 * with no lock held, so a call that waits for the shard waits at most one
 * slice, whatever the size of a mass expiry.
 *
 * The thread wakes every wheel tick (2^24 ns) while any entry of the cache
 * is on a wheel (c->scheduled counts the shards with scheduled entries)
 * and otherwise sleeps until a set schedules one (gomap__maint_kick).
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "cache/cache_internal.h"

enum { SLICE_ENTRIES = WRITE_BUDGET_MAX }; /* a slice holds the shard as long as a write can */
#define IDLE_NS 1000000000ull

struct cache_maint {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    bool stop;            /* under mu */
    _Atomic bool idle;    /* sleeping until kicked */
};

void gomap__cache_shard_maintain(gomap_cache_t *c, struct cache_shard *s)
{
    for (bool done = false; !done;) {
        struct cache_notify nl;
        notify_init(&nl, s);
        uint64_t now = cache_now(c);
        cache_lock(s);
        uint64_t t0 = cache_mono_ns();
        done = gomap__wheel_advance(c, s, now, SLICE_ENTRIES, &nl);
        cache_count(&s->n.maint_runs, 1);
        cache_count(&s->n.maint_ns, cache_mono_ns() - t0);
        gomap__cache_unlock_notify(c, &nl);
    }
}

void gomap_cache_run_maintenance(gomap_cache_t *c)
{
    if (!c)
        return;
    for (unsigned k = 0; k < c->nshards; k++)
        gomap__cache_shard_maintain(c, &c->shards[k]);
}

/* Waits on the thread's condition variable (mu held) for at most ns. */
static void sleep_for(struct cache_maint *m, uint64_t ns)
{
    uint64_t at = cache_mono_ns() + ns;
    struct timespec ts = {(time_t)(at / 1000000000u), (long)(at % 1000000000u)};
    pthread_cond_timedwait(&m->wake, &m->mu, &ts);
}

static void *maint_main(void *arg)
{
    gomap_cache_t *c = arg;
    struct cache_maint *m = c->maint;
    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        if (load_seq_cst(&c->scheduled) == 0) {
            /* Idle: a kick wakes it. The flag and the count are sequentially
             * consistent, so a set that schedules after the check below sees
             * the flag and kicks; the kicker takes mu, so its signal cannot
             * fall between the check and the wait. The wait is bounded all
             * the same (IDLE_NS). */
            store_seq_cst(&m->idle, true);
            if (load_seq_cst(&c->scheduled) == 0)
                sleep_for(m, IDLE_NS);
            store_seq_cst(&m->idle, false);
            continue;
        }
        pthread_mutex_unlock(&m->mu);
        gomap_cache_run_maintenance(c);
        pthread_mutex_lock(&m->mu);
        if (!m->stop)
            sleep_for(m, (uint64_t)1 << WHEEL_TICK_SHIFT);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

void gomap__maint_kick(gomap_cache_t *c)
{
    struct cache_maint *m = c->maint;
    if (!m || !load_seq_cst(&m->idle))
        return;
    pthread_mutex_lock(&m->mu);
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->mu);
}

int gomap__maint_start(gomap_cache_t *c)
{
    struct cache_maint *m = gomap__alloc(c->alloc, sizeof *m);
    if (!m)
        return -ENOMEM;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&m->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (rc) {
        gomap__free(c->alloc, m, sizeof *m);
        return -ENOMEM;
    }
    pthread_mutex_init(&m->mu, NULL);
    m->stop = false;
    atomic_init(&m->idle, false);
    c->maint = m;
    if (pthread_create(&m->thread, NULL, maint_main, c)) {
        c->maint = NULL;
        pthread_cond_destroy(&m->wake);
        pthread_mutex_destroy(&m->mu);
        gomap__free(c->alloc, m, sizeof *m);
        return -EAGAIN;
    }
    return 0;
}

void gomap__maint_stop(gomap_cache_t *c)
{
    struct cache_maint *m = c->maint;
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->stop = true;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    pthread_cond_destroy(&m->wake);
    pthread_mutex_destroy(&m->mu);
    gomap__free(c->alloc, m, sizeof *m);
    c->maint = NULL;
}
