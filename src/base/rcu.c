/*
 * rcu.c — deferred frees through liburcu's call_rcu (see rcu.h).
 */
#include "base/rcu.h"

#include <gomap/reclaim.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/assert.h"
#include "base/atomics.h"
#include "base/compiler.h"
#include "base/latency.h"
#include "base/misuse.h"
#include "base/scope.h"

_Thread_local int gomap__rcu_registered __attribute__((tls_model("initial-exec")));

static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static int exit_key_err;

static void unregister_at_exit(void *unused)
{
    (void)unused;
    urcu_memb_unregister_thread();
    gomap__rcu_registered = 0; /* a later destructor may use a map again */
}

static void make_exit_key(void)
{
    exit_key_err = pthread_key_create(&exit_key, unregister_at_exit);
}

void gomap__rcu_register(void)
{
    pthread_once(&exit_key_once, make_exit_key);
    if (exit_key_err) {
        /* Without a destructor the thread would stay registered after it
         * exits and grace periods would read its freed counter. */
        fprintf(stderr, "gomap: cannot create the thread-exit key that unregisters "
                        "threads from RCU (error %d)\n", exit_key_err);
        abort();
    }
    urcu_memb_register_thread();
    gomap__rcu_registered = 1;
    /* Any non-NULL value makes the destructor run at thread exit. */
    pthread_setspecific(exit_key, &gomap__rcu_registered);
}

#if defined(GOMAP_TSAN)
/* The token every read-side section releases and every deferred free
 * acquires (rcu.h). Its value is never used; only its address. */
char gomap__rcu_readers_done;
#endif

/* The retired block of a callback, once its grace period is over: for
 * TSan, everything every reader did before the grace period and everything
 * the retiring thread did before retiring happen before what follows. */
static struct gomap_retired *grace_over(struct rcu_head *head)
{
    struct gomap_retired *r = GOMAP_CONTAINER_OF(head, struct gomap_retired, head);
#if defined(GOMAP_TSAN)
    __tsan_acquire(&gomap__rcu_readers_done);
    __tsan_acquire(r);
#endif
    return r;
}

/* What gomap_rcu_stats reports: process-wide, relaxed (each a count of
 * events; no reader orders anything by them). `retired` is written by the
 * threads that retire, `freed` by the call_rcu thread; the waits by the
 * waiting thread, after a wait of a grace period, which dwarfs the add. */
static struct {
    _Atomic uint64_t retired, freed;
    _Atomic uint64_t waits, wait_ns, wait_max_ns;
} counts;

static void count_wait(uint64_t t0)
{
    uint64_t d = lat_now_ns() - t0;
    fetch_add_relaxed(&counts.waits, 1);
    fetch_add_relaxed(&counts.wait_ns, d);
    uint64_t max = load_relaxed(&counts.wait_max_ns);
    while (d > max && !cas_weak_relaxed(&counts.wait_max_ns, &max, d))
        ;
}

void gomap_rcu_stats(gomap_rcu_stats_t *out)
{
    if (!out)
        return;
    /* freed first: a block freed after this read was retired before the
     * read of retired below, so freed never exceeds retired. */
    out->freed = load_relaxed(&counts.freed);
    out->retired = load_relaxed(&counts.retired);
    if (out->freed > out->retired)
        out->freed = out->retired;
    out->waits = load_relaxed(&counts.waits);
    out->wait_ns = load_relaxed(&counts.wait_ns);
    out->wait_max_ns = load_relaxed(&counts.wait_max_ns);
}

static void run_free(struct rcu_head *head)
{
    struct gomap_retired *r = grace_over(head);
    r->free_fn(r);
    fetch_add_relaxed(&counts.freed, 1);
}

void gomap__rcu_retire(struct gomap_retired *r, void (*free_fn)(struct gomap_retired *r))
{
    fetch_add_relaxed(&counts.retired, 1);
    r->free_fn = free_fn;
#if defined(GOMAP_TSAN)
    __tsan_release(r);
#endif
    gomap__rcu_ensure_registered(); /* call_rcu wants a registered caller */
    urcu_memb_call_rcu(&r->head, run_free);
}

/* Deferred calls not yet done (gomap_rcu_barrier waits for them too, since
 * a check that finds its object not ready queues itself again, after the
 * barrier's own callback). */
static atomic_size_t deferred_pending;

/* On the call_rcu thread, which liburcu registers itself: queue again with
 * liburcu's call directly (gomap__rcu_retire would register it a second
 * time). */
static void run_when_ready(struct rcu_head *head)
{
    struct gomap_retired *r = grace_over(head);
    if (!r->ready(r)) {
        urcu_memb_call_rcu(&r->head, run_when_ready);
        return;
    }
    r->free_fn(r);
    fetch_add_relaxed(&counts.freed, 1);
    fetch_sub_release(&deferred_pending, 1);
}

void gomap__rcu_defer_until(struct gomap_retired *r, bool (*ready)(struct gomap_retired *r),
                            void (*done)(struct gomap_retired *r))
{
    r->free_fn = done;
    r->ready = ready;
    fetch_add_relaxed(&counts.retired, 1);
    fetch_add_relaxed(&deferred_pending, 1);
#if defined(GOMAP_TSAN)
    __tsan_release(r);
#endif
    gomap__rcu_ensure_registered();
    urcu_memb_call_rcu(&r->head, run_when_ready);
}

void gomap__rcu_synchronize(void)
{
    GOMAP_ASSERT(!gomap__rcu_in_read_section()); /* would wait for itself */
    uint64_t t0 = lat_now_ns();
    urcu_memb_synchronize_rcu(); /* any thread, registered or not */
    count_wait(t0);
#if defined(GOMAP_TSAN)
    /* Every read-side section that ended before the grace period released
     * this token (gomap__rcu_read_unlock): what they did happens before
     * what the caller does next, such as freeing what they read. */
    __tsan_acquire(&gomap__rcu_readers_done);
#endif
}

#if defined(GOMAP_TSAN)
/* liburcu's barrier allocates its completion on the calling thread and
 * frees it on the call_rcu thread, synchronised by futexes TSan cannot see
 * (the library is not instrumented): TSan builds wait for a callback of
 * their own instead. It runs after every callback queued before it on the
 * default call_rcu thread, which is the one gomap queues to (gomap never
 * creates per-CPU or per-thread call_rcu data). */
struct barrier_mark {
    struct rcu_head head;
    atomic_int done;
};

static void barrier_mark_done(struct rcu_head *head)
{
    struct barrier_mark *b = GOMAP_CONTAINER_OF(head, struct barrier_mark, head);
    __tsan_acquire(b); /* the queueing thread's writes (liburcu carries them) */
    store_release(&b->done, 1);
}

/* Polls the mark, sleeping about a grace period's worth of time between
 * looks. */
static void barrier_once(void)
{
    struct barrier_mark b;
    atomic_init(&b.done, 0);
    gomap__rcu_ensure_registered(); /* call_rcu wants a registered caller */
    __tsan_release(&b);
    urcu_memb_call_rcu(&b.head, barrier_mark_done);
    while (!load_acquire(&b.done)) {
        struct timespec ts = {0, 200 * 1000};
        nanosleep(&ts, NULL);
    }
}
#else
static void barrier_once(void)
{
    gomap__rcu_ensure_registered(); /* the barrier wants a registered caller */
    urcu_memb_barrier();
}
#endif

void gomap__rcu_barrier(void)
{
    GOMAP_ASSERT(!gomap__rcu_in_read_section()); /* would wait for itself */
    uint64_t t0 = lat_now_ns();
    barrier_once();
    count_wait(t0);
}

#define MSG_BARRIER_INSIDE "gomap_rcu_barrier called from inside a callback (would never return)"

void gomap_rcu_barrier(void)
{
    if (gomap__must_not_wait())
        gomap__report(NULL, MSG_BARRIER_INSIDE, 0, GOMAP_CALLER, NULL, NULL);
    GOMAP_ASSERT(!gomap__rcu_in_read_section()); /* would wait for itself */
    uint64_t t0 = lat_now_ns();
    do
        barrier_once();
    while (load_acquire(&deferred_pending) != 0);
    count_wait(t0);
}
