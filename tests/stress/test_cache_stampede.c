/*
 * test_cache_stampede.c — many threads missing the same key at once load it
 * once (gomap/cache.h, gomap_cache_get_or_load: "However many threads miss
 * the same key at the same time, load runs once: the other threads wait for
 * it and return its value (0) or its failure").
 *
 *   test_one_key       1000 threads (64 KiB stacks) released by a barrier
 *                      call get_or_load on one missing key. The loader lets
 *                      every thread reach its call, sleeps ~20 ms, and
 *                      returns only once stats.load_waits shows the other 999
 *                      waiting: it runs exactly once and every thread gets its
 *                      value (0, or 1 for one that found it stored). The key
 *                      is then held, the stats count 1 load and 999 waits.
 *   test_one_key_fails the same with a loader that fails with a code of its
 *                      own: one call, every thread gets that code and zeros,
 *                      nothing is stored; the next get_or_load loads again.
 *                      And with a loader whose TTL overflows the clock: one
 *                      call, -EINVAL to every thread, nothing stored.
 *   test_many_keys     64 keys x 16 threads each, all at once: 64 loader
 *                      calls, one per key, and every thread gets its key's
 *                      value.
 * Fewer threads under TSan (its per-thread cost); sanitizer builds get
 * larger stacks. Nothing here asserts on time: the sleep only makes the
 * load last while the others arrive, and the wait for load_waits gives up
 * only after two minutes (a hang guard).
 */
#define _POSIX_C_SOURCE 200809L

#include "cachecheck.h"
#include "check.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if WORK_DIV > 1
enum { N = 250 };
#else
enum { N = 1000 };
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define STACK_SIZE (256 * 1024)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define STACK_SIZE (256 * 1024)
#endif
#endif
#ifndef STACK_SIZE
#define STACK_SIZE (64 * 1024)
#endif

enum { KEYS = 64, PER_KEY = 16, FAIL_CODE = 4242 };

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

typedef struct {
    gomap_cache_t *c;
    pthread_barrier_t start;
    atomic_int arrived;            /* threads about to call get_or_load */
    atomic_int loader_calls;
    atomic_int loaders_inside;
    int threads;                   /* in this run */
    int loaders_expected;          /* loads that run at once */
    int fail;                      /* the loader fails (1), or sets a TTL that
                                      overflows the clock (2) */
} run;

typedef struct {
    run *r;
    uint64_t key;
    int rc;
    uint64_t val;
} caller;

static uint64_t value_of(uint64_t key)
{
    return key * 1000003 + 17;
}

/* Waits for every thread to reach its call, for the ~20 ms the brief
 * load takes, and until every other thread waits for a load. */
static int loader(const void *key, void *val_out, uint64_t *ttl_ns, void *ctx)
{
    run *r = ctx;
    (void)ttl_ns;
    uint64_t k;
    memcpy(&k, key, 8);
    atomic_fetch_add(&r->loader_calls, 1);
    atomic_fetch_add(&r->loaders_inside, 1);
    while (atomic_load(&r->arrived) < r->threads)
        sleep_ms(1);
    sleep_ms(20);
    uint64_t want = (uint64_t)(r->threads - r->loaders_expected);
    for (long polls = 0;; polls++) {
        gomap_cache_stats_t s = cachecheck_stats(r->c);
        if (s.load_waits >= want)
            break;
        /* A hang guard, not a timing check: two minutes of polls. */
        CHECK_MSG(polls < 60000, "the loader of key %" PRIu64 " waited two minutes for the other "
                  "callers to wait: stats.load_waits stayed at %" PRIu64 " of %" PRIu64, k,
                  s.load_waits, want);
        sleep_ms(2);
    }
    uint64_t v = value_of(k);
    memcpy(val_out, &v, 8);
    if (r->fail == 2) {
        *ttl_ns = UINT64_MAX - 1; /* a deadline past 2^64: -EINVAL to everyone */
        return 0;
    }
    return r->fail ? FAIL_CODE : 0;
}

static void *caller_thread(void *arg)
{
    caller *cl = arg;
    run *r = cl->r;
    pthread_barrier_wait(&r->start);
    atomic_fetch_add(&r->arrived, 1);
    cl->val = 0xDEADDEADDEADDEADull;
    cl->rc = gomap_cache_get_or_load(r->c, &cl->key, &cl->val, loader, r);
    return NULL;
}

/* Runs `threads` callers, caller i on key keys[i % nkeys]. */
static void stampede(run *r, caller *cl, int threads, int nkeys)
{
    pthread_attr_t attr;
    CHECK(pthread_attr_init(&attr) == 0);
    CHECK(pthread_attr_setstacksize(&attr, STACK_SIZE) == 0);
    pthread_t *th = calloc((size_t)threads, sizeof *th);
    CHECK(th != NULL);
    atomic_init(&r->arrived, 0);
    atomic_init(&r->loader_calls, 0);
    atomic_init(&r->loaders_inside, 0);
    r->threads = threads;
    r->loaders_expected = nkeys;
    CHECK(pthread_barrier_init(&r->start, NULL, (unsigned)threads) == 0);
    for (int i = 0; i < threads; i++) {
        cl[i] = (caller){r, 1000 + (uint64_t)(i % nkeys), 0, 0};
        int rc = pthread_create(&th[i], &attr, caller_thread, &cl[i]);
        CHECK_MSG(rc == 0, "pthread_create #%d: %s", i, strerror(rc));
    }
    for (int i = 0; i < threads; i++)
        CHECK(pthread_join(th[i], NULL) == 0);
    pthread_barrier_destroy(&r->start);
    pthread_attr_destroy(&attr);
    free(th);
}

static gomap_cache_t *new_cache(void)
{
    gomap_cache_options o = cachecheck_options(GOMAP_KEY_U64, 8, NULL, NULL);
    o.shards = 4;
    return cachecheck_new(&o);
}

static void test_one_key(void)
{
    caller *cl = calloc(N, sizeof *cl);
    CHECK(cl != NULL);
    run r;
    memset(&r, 0, sizeof r);
    r.c = new_cache();
    stampede(&r, cl, N, 1);
    CHECK_MSG(atomic_load(&r.loader_calls) == 1, "%d threads: the loader ran %d times", N,
              atomic_load(&r.loader_calls));
    int zeros = 0;
    for (int i = 0; i < N; i++) {
        CHECK_MSG((cl[i].rc == 0 || cl[i].rc == 1) && cl[i].val == value_of(1000), "thread %d: "
                  "returned %d with value %" PRIu64, i, cl[i].rc, cl[i].val);
        zeros += cl[i].rc == 0;
    }
    CHECK_MSG(zeros == N, "%d of %d threads got 0 (the rest a hit while every other thread was "
              "waiting for the load)", zeros, N);
    uint64_t v = 0;
    CHECK(gomap_cache_get(r.c, &(uint64_t){1000}, &v) && v == value_of(1000));
    gomap_cache_stats_t s = cachecheck_stats(r.c);
    CHECK_EQ(s.loads, 1);
    CHECK_EQ(s.load_failures, 0);
    CHECK_EQ(s.load_waits, N - 1);
    CHECK_EQ(s.sets, 1);
    CHECK_EQ(s.entries, 1);
    printf("   %d threads, one key: 1 load, %" PRIu64 " waits\n", N, s.load_waits);
    CHECK_CACHE_VALID(r.c);
    gomap_cache_free(r.c);
    free(cl);
}

static int load_ok(const void *key, void *val_out, uint64_t *ttl_ns, void *ctx)
{
    (void)ttl_ns;
    uint64_t k;
    memcpy(&k, key, 8);
    uint64_t v = value_of(k);
    memcpy(val_out, &v, 8);
    ++*(int *)ctx;
    return 0;
}

static void one_key_fails(int how)
{
    const int want = how == 1 ? FAIL_CODE : -EINVAL;
    caller *cl = calloc(N, sizeof *cl);
    CHECK(cl != NULL);
    run r;
    memset(&r, 0, sizeof r);
    r.c = new_cache();
    r.fail = how;
    stampede(&r, cl, N, 1);
    CHECK_MSG(atomic_load(&r.loader_calls) == 1, "%d threads: the failing loader ran %d times", N,
              atomic_load(&r.loader_calls));
    for (int i = 0; i < N; i++)
        CHECK_MSG(cl[i].rc == want && cl[i].val == 0, "thread %d: returned %d with value %"
                  PRIu64 " (expected %d and zeros)", i, cl[i].rc, cl[i].val, want);
    CHECK(!gomap_cache_get(r.c, &(uint64_t){1000}, NULL));
    CHECK_EQ(gomap_cache_len(r.c), 0);
    gomap_cache_stats_t s = cachecheck_stats(r.c);
    CHECK_EQ(s.sets, 0);
    if (how == 1) {
        CHECK_EQ(s.loads, 0);
        CHECK_EQ(s.load_failures, 1);
    }
    /* Not cached: the next miss loads again. */
    int calls = 0;
    uint64_t v = 0;
    CHECK_EQ(gomap_cache_get_or_load(r.c, &(uint64_t){1000}, &v, load_ok, &calls), 0);
    CHECK_EQ(calls, 1);
    CHECK_EQ(v, value_of(1000));
    printf("   %d threads, one key, %s: 1 call, every thread got %d\n", N,
           how == 1 ? "a failing loader" : "a loader's TTL past 2^64", want);
    CHECK_CACHE_VALID(r.c);
    gomap_cache_free(r.c);
    free(cl);
}

static void test_one_key_fails(void)
{
    one_key_fails(1);
    one_key_fails(2);
}

static void test_many_keys(void)
{
    const int threads = KEYS * PER_KEY / (WORK_DIV > 1 ? 2 : 1);
    const int per_key = threads / KEYS;
    caller *cl = calloc((size_t)threads, sizeof *cl);
    CHECK(cl != NULL);
    run r;
    memset(&r, 0, sizeof r);
    r.c = new_cache();
    stampede(&r, cl, threads, KEYS);
    CHECK_MSG(atomic_load(&r.loader_calls) == KEYS, "%d keys x %d threads: %d loader calls",
              KEYS, per_key, atomic_load(&r.loader_calls));
    for (int i = 0; i < threads; i++)
        CHECK_MSG((cl[i].rc == 0 || cl[i].rc == 1) && cl[i].val == value_of(cl[i].key),
                  "thread %d (key %" PRIu64 "): returned %d with value %" PRIu64, i, cl[i].key,
                  cl[i].rc, cl[i].val);
    CHECK_EQ(gomap_cache_len(r.c), KEYS);
    gomap_cache_stats_t s = cachecheck_stats(r.c);
    CHECK_EQ(s.loads, KEYS);
    CHECK_EQ(s.load_waits, threads - KEYS);
    printf("   %d keys x %d threads: %d loads\n", KEYS, per_key, KEYS);
    CHECK_CACHE_VALID(r.c);
    gomap_cache_free(r.c);
    free(cl);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_seed();
    RUN(test_one_key);
    RUN(test_one_key_fails);
    RUN(test_many_keys);
    printf("ok\n");
    return 0;
}
