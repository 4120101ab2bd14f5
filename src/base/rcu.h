/*
 * rcu.h — read-side sections and deferred frees for lock-free readers.
 *
 * Memory that a reader may reach without a lock (the sync map's read-only
 * part, its entries and value boxes; the snapshot map's versions; the bucket
 * arrays a sharded map's optimistic gets walk) is never freed directly: the
 * writer that
 * unlinks it *retires* it, and liburcu calls the free function after a grace
 * period, when every read-side section that was running at the time of the
 * retirement has ended. A reader therefore brackets every lock-free access
 * with gomap__rcu_read_lock / gomap__rcu_read_unlock and may use what it found
 * until the unlock.
 *
 * Flavour: liburcu's membarrier flavour (urcu-memb), whose read-side
 * sections are a few plain loads and stores on a thread-local counter (the
 * writer side pays with membarrier(2)). It needs each reading thread
 * registered: gomap registers a thread on its first read-side section or
 * retirement (one thread-local flag tested each time) and unregisters it at
 * thread exit through a pthread key destructor, so users never register
 * anything. Measured against the "bulletproof" flavour (urcu-bp), which does
 * the same registration internally, a section costs 2.9-3.3 ns against
 * 3.7-4.6 ns on the development VM (`gomap-rcu-choice`, docs/syncmap.md).
 * Sections nest; a thread may block inside one (the sync map takes its
 * mutex inside), but must never wait for a grace period there
 * (gomap__rcu_synchronize, gomap__rcu_barrier).
 *
 * Every call into liburcu goes through this header and rcu.c
 * (tests/check_low_level.sh fails the suite on one anywhere else in src/).
 *
 * ThreadSanitizer does not see liburcu's ordering (the library is not
 * instrumented and its grace periods rest on membarrier). Two edges are
 * annotated instead of suppressing reports: every read-side section ends with
 * a release on one process-wide token, and every deferred free starts with an
 * acquire of that token and of the retired object, which the retiring thread
 * released. So TSan knows that the free happens after every reader that could
 * have seen the object, which is exactly the grace-period guarantee.
 */
#ifndef GOMAP_RCU_H
#define GOMAP_RCU_H

#include <stdbool.h>
#include <stddef.h>

#include "base/compiler.h"
#include "base/tsan.h"

/* The read-side lock and unlock are a few lines each: liburcu's static
 * inline versions, which the LGPL's ten-line rule lets any code inline.
 * Sanitizer builds (GOMAP_RCU_OUT_OF_LINE) call the library's functions
 * instead, so that TSan does not instrument liburcu's internals and UBSan
 * never sees liburcu's own code. */
#if !defined(GOMAP_TSAN) && !GOMAP_RCU_OUT_OF_LINE
#define _LGPL_SOURCE
#endif
#include <urcu/urcu-memb.h>
#include <urcu/call-rcu.h>

#if defined(GOMAP_TSAN)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
extern char gomap__rcu_readers_done;
#endif

/* liburcu-memb's call_rcu (its headers name it through a flavour macro). */
void urcu_memb_call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *head));

/* Set once this thread is registered with liburcu (rcu.c). initial-exec: a
 * plain %fs-relative load, not a call to __tls_get_addr. */
extern _Thread_local int gomap__rcu_registered __attribute__((tls_model("initial-exec")));

/* Registers the calling thread and arranges its unregistration at exit. */
void gomap__rcu_register(void);

static inline void gomap__rcu_ensure_registered(void)
{
    if (__builtin_expect(!gomap__rcu_registered, 0))
        gomap__rcu_register();
}

/* A block that can be retired: embed it (anywhere) in the retired object;
 * the free function finds the object with GOMAP_CONTAINER_OF (compiler.h). */
struct gomap_retired {
    struct rcu_head head;
    void (*free_fn)(struct gomap_retired *r); /* called after the grace period */
    bool (*ready)(struct gomap_retired *r);   /* gomap__rcu_defer_until only */
};

static inline void gomap__rcu_read_lock(void)
{
    gomap__rcu_ensure_registered();
    urcu_memb_read_lock();
}

static inline void gomap__rcu_read_unlock(void)
{
#if defined(GOMAP_TSAN)
    __tsan_release(&gomap__rcu_readers_done);
#endif
    urcu_memb_read_unlock();
}

/* Calls r->free_fn(r) on liburcu's call_rcu thread once every read-side
 * section running now has ended. Never blocks; may be called inside a
 * read-side section and with locks held. Whatever the caller wrote before
 * retiring is visible to free_fn. */
void gomap__rcu_retire(struct gomap_retired *r, void (*free_fn)(struct gomap_retired *r));

/* True when the calling thread is inside a read-side section. */
static inline bool gomap__rcu_in_read_section(void)
{
    return gomap__rcu_registered && urcu_memb_read_ongoing();
}

/* Waits for a grace period: returns once every read-side section that was
 * running at the call has ended. Context: may sleep; must not be called
 * where gomap__must_not_wait() (inside a read-side section the wait would
 * never end; inside a concurrent map's callback another thread may wait
 * for what it holds inside a read-side section), from a free function, or
 * holding a lock that a thread inside a read-side section may wait for.
 * What the sections that ended meanwhile did happens before the return
 * (for ThreadSanitizer too: it acquires the readers' token). */
void gomap__rcu_synchronize(void);

/* Waits until every free function retired (gomap__rcu_retire) or deferred
 * (gomap__rcu_defer_until) by any thread before the call has run, that is,
 * for the callbacks queued then; a deferred call that finds its object not
 * ready queues itself again, after the barrier's own callback, and is not
 * waited for (gomap_rcu_barrier is). Free functions see everything their
 * retiring thread did before retiring; what a free function did is visible
 * to the caller on return only through the caller's own acquire of a
 * counter the free function released (what gomap_sync_free and
 * gomap_snap_free read). Context: as gomap__rcu_synchronize. liburcu's
 * barrier (urcu_memb_barrier), except in ThreadSanitizer builds (rcu.c). */
void gomap__rcu_barrier(void);

/* The deferred form of "wait until ready(r), then done(r)", for callers
 * that must not wait (gomap__must_not_wait): the reclaimer checks ready(r)
 * after a grace period and calls done(r) once it is true, checking again
 * after each later grace period until then. Never blocks. ready and done
 * run on liburcu's call_rcu thread and must not wait either. Used to free a
 * map whose own retirements must be freed first. gomap_rcu_barrier waits
 * for every such deferred call made before it. */
void gomap__rcu_defer_until(struct gomap_retired *r, bool (*ready)(struct gomap_retired *r),
                            void (*done)(struct gomap_retired *r));

#endif /* GOMAP_RCU_H */
