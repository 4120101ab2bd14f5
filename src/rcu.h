/*
 * rcu.h — read-side sections and deferred frees for lock-free readers.
 *
 * Memory that a reader may reach without a lock (the sync map's read-only
 * part, its entries and value boxes) is never freed directly: the writer that
 * unlinks it *retires* it, and liburcu calls the free function after a grace
 * period, when every read-side section that was running at the time of the
 * retirement has ended. A reader therefore brackets every lock-free access
 * with gomap__rcu_read_lock / gomap__rcu_read_unlock and may use what it found
 * until the unlock.
 *
 * Flavour: liburcu's "bulletproof" flavour (urcu-bp). A thread registers
 * itself on its first read-side section and is unregistered by liburcu when
 * it exits, so users never register anything. Measured against the
 * membarrier flavour with the same lazy registration done here, a read-side
 * section costs the same (2.3-2.8 ns against 2.4-3.2 ns per lock+unlock pair
 * on the development VM; `gomap-rcu-choice`, docs/syncmap.md), so the
 * simpler one is used. Sections nest; a thread may block inside one (the
 * sync map takes its mutex inside), but must never wait for a grace period
 * there (gomap__rcu_wait_a_little).
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

#include <stddef.h>

#if defined(__SANITIZE_THREAD__)
#define GOMAP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GOMAP_TSAN 1
#endif
#endif

/* The read-side lock and unlock are a few lines each: liburcu's static
 * inline versions, which the LGPL's ten-line rule lets any code inline.
 * Sanitizer builds (GOMAP_RCU_OUT_OF_LINE) call the library's functions
 * instead, so that TSan does not instrument liburcu's internals and UBSan
 * does not report liburcu 0.13's own misalignment (its per-thread reader
 * struct is declared 128-byte aligned but allocated at 32 bytes). */
#if !defined(GOMAP_TSAN) && !GOMAP_RCU_OUT_OF_LINE
#define _LGPL_SOURCE
#endif
#include <urcu-bp.h>

#if defined(GOMAP_TSAN)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
extern char gomap__rcu_readers_done;
#endif

/* A block that can be retired: embed it (anywhere) in the retired object. */
struct gomap_retired {
    struct rcu_head head;
    void (*free_fn)(struct gomap_retired *r); /* called after the grace period */
};

static inline void gomap__rcu_read_lock(void)
{
    urcu_bp_read_lock();
}

static inline void gomap__rcu_read_unlock(void)
{
#if defined(GOMAP_TSAN)
    __tsan_release(&gomap__rcu_readers_done);
#endif
    urcu_bp_read_unlock();
}

/* Calls r->free_fn(r) on liburcu's call_rcu thread once every read-side
 * section running now has ended. Never blocks; may be called inside a
 * read-side section and with locks held. Whatever the caller wrote before
 * retiring is visible to free_fn. */
void gomap__rcu_retire(struct gomap_retired *r, void (*free_fn)(struct gomap_retired *r));

/* Sleeps for about a grace period's worth of time, for callers waiting
 * until their own retirements have been freed. Must not be called inside a
 * read-side section (the wait would never end) or from a free function. */
void gomap__rcu_wait_a_little(void);

#endif /* GOMAP_RCU_H */
