/*
 * shard_lock.h — the lock of one shard of a sharded map, with the time it
 * made callers wait.
 *
 * The kind is a property of the map, fixed at creation. The library always
 * uses SHARD_LOCK_DEFAULT; the other kinds exist so that `gomap-lock-choice`
 * (bench/choice/lock_choice.c) can measure them against each other on the same
 * map code, which is how the default was chosen (docs/shardmap.md):
 *   rwlock         pthread_rwlock_t, glibc's default (readers preferred)
 *   rwlock-writer  pthread_rwlock_t preferring writers (no writer starvation)
 *   mutex          pthread_mutex_t: reads exclusive too
 *   mutex-adaptive PTHREAD_MUTEX_ADAPTIVE_NP: spins a little before sleeping
 *   spin           a test-and-test-and-set spinlock (never sleeps): the
 *                  kind that collapses when threads outnumber cores
 *
 * Every acquisition first tries without waiting. Only when that fails does
 * it read the clock, block, and add the wait to the shard's counters, so an
 * uncontended acquisition costs the lock's own fast path and nothing else.
 */
#ifndef GOMAP_SHARD_LOCK_H
#define GOMAP_SHARD_LOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "base/atomics.h"

enum shard_lock_kind {
    SHARD_LOCK_RWLOCK,
    SHARD_LOCK_RWLOCK_WRITER,
    SHARD_LOCK_MUTEX,
    SHARD_LOCK_MUTEX_ADAPTIVE,
    SHARD_LOCK_SPIN,
    SHARD_LOCK_KINDS
};

#define SHARD_LOCK_DEFAULT SHARD_LOCK_MUTEX_ADAPTIVE

/* The lock. Which member is live depends on the map's kind. */
typedef union shard_lock {
    pthread_rwlock_t rw;
    pthread_mutex_t mu;
    atomic_int spin;
} shard_lock;

/* The waits of one lock: acquisitions that had to wait, and how long they
 * waited. Written only after a failed try-lock. */
typedef struct shard_waits {
    _Atomic uint64_t count;
    _Atomic uint64_t ns;
} shard_waits;

/* 0 or an errno value from pthread (the lock is then unusable). */
static inline int shard_lock_init(shard_lock *l, int kind)
{
    int rc = 0;
    switch (kind) {
    case SHARD_LOCK_RWLOCK:
    case SHARD_LOCK_RWLOCK_WRITER: {
        pthread_rwlockattr_t a;
        pthread_rwlockattr_init(&a);
        if (kind == SHARD_LOCK_RWLOCK_WRITER)
            pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        rc = pthread_rwlock_init(&l->rw, &a);
        pthread_rwlockattr_destroy(&a);
        break;
    }
    case SHARD_LOCK_MUTEX:
    case SHARD_LOCK_MUTEX_ADAPTIVE: {
        pthread_mutexattr_t a;
        pthread_mutexattr_init(&a);
        if (kind == SHARD_LOCK_MUTEX_ADAPTIVE)
            pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
        rc = pthread_mutex_init(&l->mu, &a);
        pthread_mutexattr_destroy(&a);
        break;
    }
    default:
        atomic_init(&l->spin, 0);
        break;
    }
    return rc;
}

static inline void shard_lock_destroy(shard_lock *l, int kind)
{
    if (kind <= SHARD_LOCK_RWLOCK_WRITER)
        pthread_rwlock_destroy(&l->rw);
    else if (kind <= SHARD_LOCK_MUTEX_ADAPTIVE)
        pthread_mutex_destroy(&l->mu);
}

static inline uint64_t shard_lock_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline bool spin_try(shard_lock *l)
{
    return !load_relaxed(&l->spin) &&
           !exchange_acquire(&l->spin, 1);
}

/* Spins until the lock is free: the caller has already failed to take it. */
static inline void spin_wait(shard_lock *l)
{
    while (!spin_try(l))
        cpu_relax();
}

/* Tries to take the lock without waiting; shared = for reading. */
static inline bool shard_lock_try(shard_lock *l, int kind, bool shared)
{
    switch (kind) {
    case SHARD_LOCK_RWLOCK:
    case SHARD_LOCK_RWLOCK_WRITER:
        return (shared ? pthread_rwlock_tryrdlock(&l->rw) : pthread_rwlock_trywrlock(&l->rw)) == 0;
    case SHARD_LOCK_MUTEX:
    case SHARD_LOCK_MUTEX_ADAPTIVE:
        return pthread_mutex_trylock(&l->mu) == 0;
    default:
        return spin_try(l);
    }
}

/* Takes the lock, waiting as long as needed, and counts the wait in *w. */
void gomap__shard_lock_wait(shard_lock *l, int kind, bool shared, shard_waits *w);

static inline void shard_lock_take(shard_lock *l, int kind, bool shared, shard_waits *w)
{
    if (__builtin_expect(!shard_lock_try(l, kind, shared), 0))
        gomap__shard_lock_wait(l, kind, shared, w);
}

static inline void shard_lock_release(shard_lock *l, int kind)
{
    switch (kind) {
    case SHARD_LOCK_RWLOCK:
    case SHARD_LOCK_RWLOCK_WRITER:
        pthread_rwlock_unlock(&l->rw);
        break;
    case SHARD_LOCK_MUTEX:
    case SHARD_LOCK_MUTEX_ADAPTIVE:
        pthread_mutex_unlock(&l->mu);
        break;
    default:
        store_release(&l->spin, 0);
        break;
    }
}

#endif /* GOMAP_SHARD_LOCK_H */
