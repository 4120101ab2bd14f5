/*
 * test_misuse_no_false_positive.c — correctly synchronised programs never
 * trigger the misuse detector.
 *
 * The racing programs of test_misuse_death.c, made correct:
 *   - locked: WRITERS threads write (set, set_u64, assign, delete, shrink)
 *     their own keys and rewrite shared "stable" keys with the value they
 *     already have, READERS threads look keys up (get, get_u64, get_copy),
 *     take len, validate and clone, and ITERATORS threads iterate — whole
 *     iterations under one read lock, and iterations that take the lock for
 *     each step only (so other threads' writes, growth and shrink attempts
 *     happen between the steps of a live iterator, which gomap/map.h
 *     allows: they do not overlap any access). Every map access holds the
 *     lock: one mutex for everything, or a rwlock (readers shared, writers
 *     exclusive). In fast and strict mode. Every value read is checked, and
 *     the final contents must be exactly what the writers' last pass left;
 *   - readers only: READERS threads look up, iterate, clone and validate one
 *     map with no lock and no writer (allowed), in fast and strict mode;
 *   - one thread writing while it iterates (allowed: the iterating thread
 *     may set and delete).
 * A false report would end the process with SIGABRT, so reaching the end
 * is the assertion. Under ThreadSanitizer these programs must be clean:
 * the detector's mark is an atomic, and everything else is ordered by the
 * locks. Keys and interleavings come from test_seed().
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "check.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum {
    STABLE = 1000,           /* keys 0 .. STABLE-1: present from start to end */
    WRITERS = 2,
    OWN = 2000,              /* keys each writer owns */
    READERS = 2,
    ITERATORS = 2,
    ROUNDS = 8 / WORK_DIV,   /* writer passes over its keys */
    KEY_SPACE = STABLE + WRITERS * OWN,
    ABSENT = 64,             /* readers also look up keys KEY_SPACE .. +ABSENT */
    READ_BUDGET = 200000 / WORK_DIV, /* a reader stops after this many reads, */
    ITER_BUDGET = 500 / WORK_DIV,    /* an iterator after this many iterations,
                                        or when the writers are done */
    STABLE_TAG = 0xFF,
    FINAL_TAG = 0xFE,
};

/* A value is its key shifted left 8 bits, plus a tag: any value read can be
 * checked against its key. */
static uint64_t val_of(uint64_t key, unsigned tag)
{
    return key << 8 | tag;
}

static bool value_fits(uint64_t key, uint64_t v)
{
    if (key < STABLE)
        return v == val_of(key, STABLE_TAG);
    return v >> 8 == key;
}

/* First key owned by writer w. */
static uint64_t own_base(unsigned w)
{
    return STABLE + (uint64_t)w * OWN;
}

/* After the last pass, a writer's even-indexed keys hold FINAL_TAG and its
 * odd-indexed keys are deleted. */
static bool final_present(uint64_t key)
{
    return key < STABLE || (key < KEY_SPACE && (key - STABLE) % 2 == 0);
}

/* ------------------------------------------------------------------------ */
/* Locks                                                                     */
/* ------------------------------------------------------------------------ */

typedef enum { LOCK_MUTEX, LOCK_RWLOCK } lock_kind;

typedef struct {
    lock_kind kind;
    pthread_mutex_t mu;
    pthread_rwlock_t rw;
} map_lock;

static void lock_init(map_lock *l, lock_kind kind)
{
    l->kind = kind;
    CHECK(pthread_mutex_init(&l->mu, NULL) == 0);
    /* Writer preference: with glibc's default (readers first) a steady
     * stream of readers can starve the writers indefinitely. */
    pthread_rwlockattr_t a;
    CHECK(pthread_rwlockattr_init(&a) == 0);
    CHECK(pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP) == 0);
    CHECK(pthread_rwlock_init(&l->rw, &a) == 0);
    pthread_rwlockattr_destroy(&a);
}

static void lock_destroy(map_lock *l)
{
    pthread_mutex_destroy(&l->mu);
    pthread_rwlock_destroy(&l->rw);
}

static void lock_read(map_lock *l)
{
    CHECK(l->kind == LOCK_MUTEX ? pthread_mutex_lock(&l->mu) == 0
                                : pthread_rwlock_rdlock(&l->rw) == 0);
}

static void lock_write(map_lock *l)
{
    CHECK(l->kind == LOCK_MUTEX ? pthread_mutex_lock(&l->mu) == 0
                                : pthread_rwlock_wrlock(&l->rw) == 0);
}

static void unlock(map_lock *l)
{
    CHECK(l->kind == LOCK_MUTEX ? pthread_mutex_unlock(&l->mu) == 0
                                : pthread_rwlock_unlock(&l->rw) == 0);
}

/* ------------------------------------------------------------------------ */
/* Locked writers, readers and iterators                                     */
/* ------------------------------------------------------------------------ */

typedef struct {
    gomap_t *m;
    map_lock lock;
    pthread_barrier_t start;
    atomic_int writers_left;  /* readers and iterators stop when it is 0 */
    uint64_t seed;
} shared_state;

typedef struct {
    shared_state *sh;
    unsigned id;
    pthread_t thread;
    unsigned long ops;
} worker;

static void *writer_main(void *p)
{
    worker *w = p;
    shared_state *sh = w->sh;
    map_lock *l = &sh->lock;
    uint64_t s = sh->seed ^ (0x1000 + w->id);
    pthread_barrier_wait(&sh->start);
    for (unsigned r = 0; r < ROUNDS; r++) {
        for (uint64_t j = 0; j < OWN; j++) {
            uint64_t k = own_base(w->id) + j, v = val_of(k, r);
            void *slot = NULL;
            lock_write(l);
            switch (test_rand_below(&s, 4)) {
            case 0:
                CHECK_EQ(gomap_set(sh->m, &k, &v), 0);
                break;
            case 1:
                CHECK_EQ(gomap_set_u64(sh->m, k, &v), 0);
                break;
            case 2:
                CHECK(gomap_assign(sh->m, &k, &slot) >= 0);
                memcpy(slot, &v, sizeof v);
                break;
            default:
                (void)gomap_delete(sh->m, &k);
                break;
            }
            unlock(l);
            w->ops++;
            if (j % 16 == 0)
                sched_yield(); /* let readers in between the writers' turns */
            if (j % 64 == 0) {
                /* Rewrite a stable key with the value it has. */
                uint64_t sk = test_rand_below(&s, STABLE), sv = val_of(sk, STABLE_TAG);
                lock_write(l);
                CHECK_EQ(gomap_set(sh->m, &sk, &sv), 0);
                unlock(l);
            }
            if (j % 700 == 699) {
                lock_write(l);
                int rc = gomap_shrink(sh->m); /* -EBUSY while an iterator is live */
                unlock(l);
                CHECK_MSG(rc == 0 || rc == -EBUSY, "gomap_shrink: %s", gomap_strerror(rc));
            }
        }
    }
    /* The last pass: even-indexed keys get their final value, odd ones go. */
    for (uint64_t j = 0; j < OWN; j++) {
        uint64_t k = own_base(w->id) + j, v = val_of(k, FINAL_TAG);
        lock_write(l);
        if (j % 2 == 0)
            CHECK_EQ(gomap_set(sh->m, &k, &v), 0);
        else
            (void)gomap_delete(sh->m, &k);
        unlock(l);
    }
    atomic_fetch_sub_explicit(&sh->writers_left, 1, memory_order_release);
    return NULL;
}

static bool writers_running(shared_state *sh)
{
    return atomic_load_explicit(&sh->writers_left, memory_order_acquire) > 0;
}

static void *reader_main(void *p)
{
    worker *w = p;
    shared_state *sh = w->sh;
    map_lock *l = &sh->lock;
    uint64_t s = sh->seed ^ (0x2000 + w->id);
    pthread_barrier_wait(&sh->start);
    while (writers_running(sh) && w->ops < READ_BUDGET) {
        uint64_t k = test_rand_below(&s, KEY_SPACE + ABSENT), v = 0;
        unsigned how = (unsigned)test_rand_below(&s, 512);
        lock_read(l);
        bool found;
        if (how < 170) {
            uint64_t *pv = gomap_get(sh->m, &k);
            found = pv != NULL;
            if (found)
                v = *pv;
        } else if (how < 340) {
            uint64_t *pv = gomap_get_u64(sh->m, k);
            found = pv != NULL;
            if (found)
                v = *pv;
        } else if (how < 511) {
            found = gomap_get_copy(sh->m, &k, &v);
        } else {
            /* Whole-map reads, now and then. */
            size_t n = gomap_len(sh->m);
            CHECK_VALID(sh->m);
            gomap_t *c = NULL;
            CHECK_EQ(gomap_clone(&c, sh->m), 0);
            CHECK_EQ(gomap_len(c), n);
            unlock(l);
            gomap_free(c); /* the clone is this thread's own */
            w->ops++;
            continue;
        }
        unlock(l);
        w->ops++;
        if (k < STABLE)
            CHECK_MSG(found, "stable key %llu missing", (unsigned long long)k);
        if (k >= KEY_SPACE)
            CHECK_MSG(!found, "never-inserted key %llu found", (unsigned long long)k);
        if (found)
            CHECK_MSG(value_fits(k, v), "key %llu has value %#llx", (unsigned long long)k,
                      (unsigned long long)v);
    }
    return NULL;
}

/* One iteration under a single read lock: a consistent snapshot, so every
 * entry comes out exactly once and the count is gomap_len. */
static void iterate_locked(shared_state *sh, uint8_t *seen)
{
    memset(seen, 0, KEY_SPACE);
    lock_read(&sh->lock);
    size_t n = gomap_len(sh->m), produced = 0;
    gomap_iter it;
    gomap_iter_init(&it, sh->m);
    const void *kp;
    void *vp;
    while (gomap_iter_next(&it, &kp, &vp)) {
        uint64_t k, v;
        memcpy(&k, kp, sizeof k);
        memcpy(&v, vp, sizeof v);
        CHECK_MSG(k < KEY_SPACE && !seen[k], "key %llu produced twice or unknown",
                  (unsigned long long)k);
        CHECK(value_fits(k, v));
        seen[k] = 1;
        produced++;
    }
    CHECK_EQ(produced, n);
    unlock(&sh->lock);
    for (uint64_t k = 0; k < STABLE; k++)
        CHECK(seen[k]);
}

/* One iteration taking the read lock for each step only: writes, growth
 * and shrink attempts happen between the steps. Go's contract: no entry
 * twice, every entry present throughout (the stable keys) exactly once;
 * a key deleted and set again meanwhile is a new entry, produced or not.
 * Sometimes abandoned half way with gomap_iter_done. */
static void iterate_stepwise(shared_state *sh, uint8_t *seen, bool abandon)
{
    memset(seen, 0, KEY_SPACE);
    gomap_iter it;
    lock_read(&sh->lock);
    gomap_iter_init(&it, sh->m);
    unlock(&sh->lock);
    size_t produced = 0;
    for (;;) {
        const void *kp;
        void *vp;
        uint64_t k = 0, v = 0;
        lock_read(&sh->lock);
        bool more = gomap_iter_next(&it, &kp, &vp);
        if (more) {
            memcpy(&k, kp, sizeof k); /* valid until the next write: copy now */
            memcpy(&v, vp, sizeof v);
        }
        unlock(&sh->lock);
        if (!more)
            break;
        /* A writer's own key may be deleted and set again between two
         * steps: that is a new entry, which the iteration may produce
         * (again) or skip, as Go's may. A stable key is never deleted. */
        CHECK_MSG(k < KEY_SPACE && (k >= STABLE || !seen[k]), "key %llu produced twice or unknown",
                  (unsigned long long)k);
        CHECK(value_fits(k, v));
        seen[k] = 1;
        if (abandon && ++produced == STABLE / 2) {
            lock_read(&sh->lock);
            gomap_iter_done(&it);
            unlock(&sh->lock);
            return;
        }
    }
    for (uint64_t k = 0; k < STABLE; k++)
        CHECK_MSG(seen[k], "stable key %llu not produced", (unsigned long long)k);
}

static void *iterator_main(void *p)
{
    worker *w = p;
    shared_state *sh = w->sh;
    uint64_t s = sh->seed ^ (0x3000 + w->id);
    uint8_t *seen = malloc(KEY_SPACE);
    CHECK(seen != NULL);
    pthread_barrier_wait(&sh->start);
    while (writers_running(sh) && w->ops < ITER_BUDGET) {
        unsigned how = (unsigned)test_rand_below(&s, 4);
        if (how == 0)
            iterate_locked(sh, seen);
        else
            iterate_stepwise(sh, seen, how == 1);
        w->ops++;
    }
    free(seen);
    return NULL;
}

static void run_locked(gomap_check_mode mode, lock_kind kind)
{
    shared_state sh;
    memset(&sh, 0, sizeof sh);
    sh.seed = test_seed() ^ ((uint64_t)mode << 32) ^ (uint64_t)kind;
    sh.m = check_u64_map(mode, 0, 0);
    for (uint64_t k = 0; k < STABLE; k++) {
        uint64_t v = val_of(k, STABLE_TAG);
        CHECK_EQ(gomap_set(sh.m, &k, &v), 0);
    }
    lock_init(&sh.lock, kind);
    enum { THREADS = WRITERS + READERS + ITERATORS };
    CHECK(pthread_barrier_init(&sh.start, NULL, THREADS) == 0);
    atomic_init(&sh.writers_left, WRITERS);
    worker ws[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        memset(&ws[i], 0, sizeof ws[i]);
        ws[i].sh = &sh;
        ws[i].id = i; /* seeds differ per thread */
        void *(*fn)(void *) = i < WRITERS             ? writer_main
                              : i < WRITERS + READERS ? reader_main
                                                      : iterator_main;
        CHECK(pthread_create(&ws[i].thread, NULL, fn, &ws[i]) == 0);
    }
    unsigned long ops[3] = {0, 0, 0};
    for (unsigned i = 0; i < THREADS; i++) {
        CHECK(pthread_join(ws[i].thread, NULL) == 0);
        ops[i < WRITERS ? 0 : i < WRITERS + READERS ? 1 : 2] += ws[i].ops;
    }
    printf("%s mode, %s: %lu writes, %lu reads, %lu iterations, no report\n",
           mode == GOMAP_CHECK_STRICT ? "strict" : "fast",
           kind == LOCK_MUTEX ? "one mutex" : "rwlock", ops[0], ops[1], ops[2]);

    /* The final contents: stable keys, and each writer's even keys. */
    CHECK_VALID(sh.m);
    size_t want = 0;
    for (uint64_t k = 0; k < KEY_SPACE + ABSENT; k++) {
        uint64_t *pv = gomap_get_u64(sh.m, k);
        if (!final_present(k)) {
            CHECK_MSG(pv == NULL, "key %llu should be gone", (unsigned long long)k);
            continue;
        }
        want++;
        CHECK_MSG(pv != NULL, "key %llu missing", (unsigned long long)k);
        CHECK_EQ(*pv, val_of(k, k < STABLE ? STABLE_TAG : FINAL_TAG));
    }
    CHECK_EQ(gomap_len(sh.m), want);
    CHECK_EQ(gomap_shrink(sh.m), 0); /* no iterator was left live */
    CHECK_VALID(sh.m);
    CHECK_EQ(gomap_len(sh.m), want);
    pthread_barrier_destroy(&sh.start);
    lock_destroy(&sh.lock);
    gomap_free(sh.m);
}

static void test_locked_strict_rwlock(void)
{
    run_locked(GOMAP_CHECK_STRICT, LOCK_RWLOCK);
}

static void test_locked_strict_mutex(void)
{
    run_locked(GOMAP_CHECK_STRICT, LOCK_MUTEX);
}

static void test_locked_fast_rwlock(void)
{
    run_locked(GOMAP_CHECK_FAST, LOCK_RWLOCK);
}

static void test_locked_fast_mutex(void)
{
    run_locked(GOMAP_CHECK_FAST, LOCK_MUTEX);
}

/* ------------------------------------------------------------------------ */
/* Readers only, no lock                                                     */
/* ------------------------------------------------------------------------ */

enum { RO_KEYS = 5000, RO_ROUNDS = 6 / WORK_DIV };

typedef struct {
    gomap_t *m;
    pthread_barrier_t *start;
    pthread_t thread;
} ro_reader;

static void *ro_reader_main(void *p)
{
    ro_reader *r = p;
    uint8_t *seen = malloc(RO_KEYS);
    CHECK(seen != NULL);
    pthread_barrier_wait(r->start);
    for (int round = 0; round < RO_ROUNDS; round++) {
        for (uint64_t k = 0; k < RO_KEYS + ABSENT; k++) {
            uint64_t v = 0;
            bool found = k % 3 == 0   ? gomap_get_copy(r->m, &k, &v)
                         : k % 3 == 1 ? (gomap_get(r->m, &k) != NULL)
                                      : (gomap_get_u64(r->m, k) != NULL);
            CHECK_EQ(found, k < RO_KEYS);
            if (k % 3 == 0 && found)
                CHECK_EQ(v, val_of(k, STABLE_TAG));
        }
        memset(seen, 0, RO_KEYS);
        gomap_iter it;
        gomap_iter_init(&it, r->m);
        const void *kp;
        size_t produced = 0;
        while (gomap_iter_next(&it, &kp, NULL)) {
            uint64_t k;
            memcpy(&k, kp, sizeof k);
            CHECK(k < RO_KEYS && !seen[k]);
            seen[k] = 1;
            produced++;
        }
        CHECK_EQ(produced, RO_KEYS);
        gomap_iter_init(&it, r->m); /* and one abandoned half way */
        for (size_t i = 0; i < RO_KEYS / 2; i++)
            CHECK(gomap_iter_next(&it, NULL, NULL));
        gomap_iter_done(&it);
        gomap_t *c = NULL;
        CHECK_EQ(gomap_clone(&c, r->m), 0);
        CHECK_EQ(gomap_len(c), RO_KEYS);
        gomap_free(c);
        CHECK_VALID(r->m);
        CHECK_EQ(gomap_len(r->m), RO_KEYS);
    }
    free(seen);
    return NULL;
}

static void run_readers_only(gomap_check_mode mode)
{
    enum { N = 4 };
    gomap_t *m = check_u64_map(mode, 0, 0);
    for (uint64_t k = 0; k < RO_KEYS; k++) {
        uint64_t v = val_of(k, STABLE_TAG);
        CHECK_EQ(gomap_set(m, &k, &v), 0);
    }
    pthread_barrier_t start;
    CHECK(pthread_barrier_init(&start, NULL, N) == 0);
    ro_reader rs[N];
    for (unsigned i = 0; i < N; i++) {
        memset(&rs[i], 0, sizeof rs[i]);
        rs[i].m = m;
        rs[i].start = &start;
        CHECK(pthread_create(&rs[i].thread, NULL, ro_reader_main, &rs[i]) == 0);
    }
    for (unsigned i = 0; i < N; i++)
        CHECK(pthread_join(rs[i].thread, NULL) == 0);
    pthread_barrier_destroy(&start);
    CHECK_VALID(m);
    CHECK_EQ(gomap_shrink(m), 0); /* every iterator ended */
    CHECK_EQ(gomap_len(m), RO_KEYS);
    gomap_free(m);
    printf("%s mode: %d unlocked readers, no report\n",
           mode == GOMAP_CHECK_STRICT ? "strict" : "fast", N);
}

static void test_readers_only_strict(void)
{
    run_readers_only(GOMAP_CHECK_STRICT);
}

static void test_readers_only_fast(void)
{
    run_readers_only(GOMAP_CHECK_FAST);
}

/* ------------------------------------------------------------------------ */
/* One thread writing while it iterates                                      */
/* ------------------------------------------------------------------------ */

static void run_iterate_and_write(gomap_check_mode mode)
{
    enum { N = 3000 };
    gomap_t *m = check_u64_map(mode, 0, 0);
    for (uint64_t k = 0; k < N; k++)
        CHECK_EQ(gomap_set(m, &k, &k), 0);
    gomap_iter it;
    gomap_iter_init(&it, m);
    const void *kp;
    uint64_t next_new = N, steps = 0;
    while (gomap_iter_next(&it, &kp, NULL)) {
        uint64_t k;
        memcpy(&k, kp, sizeof k);
        if (k % 2 == 0)
            CHECK(gomap_delete(m, &k));
        CHECK_EQ(gomap_set(m, &next_new, &next_new), 0); /* grows the map */
        next_new++;
        steps++;
        CHECK(steps < 100 * N); /* inserted keys may come out, but not forever */
    }
    CHECK_VALID(m);
    gomap_free(m);
}

static void test_iterate_and_write_one_thread(void)
{
    run_iterate_and_write(GOMAP_CHECK_STRICT);
    run_iterate_and_write(GOMAP_CHECK_FAST);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_seed();
    RUN(test_readers_only_strict);
    RUN(test_readers_only_fast);
    RUN(test_iterate_and_write_one_thread);
    RUN(test_locked_strict_rwlock);
    RUN(test_locked_strict_mutex);
    RUN(test_locked_fast_rwlock);
    RUN(test_locked_fast_mutex);
    printf("ok\n");
    return 0;
}
