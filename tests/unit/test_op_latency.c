/*
 * test_op_latency.c — what the concurrent structures count for their
 * metrics beyond hits and misses: sampled operation latencies
 * (gomap_latency_t), the snapshot map's copy times, the sharded map's
 * optimistic-read retries, process-wide RCU counts (gomap_rcu_stats) and
 * the core map's budget thresholds.
 *
 *   buckets        the bucket of a duration at and around every bound
 *                  (src/base/latency.h), and a histogram two threads add
 *                  to: samples, buckets and sum exact.
 *   shard_sampling in a new thread (its count of timed calls starts at
 *                  0), k x GOMAP_LATENCY_SAMPLE gets give exactly k get
 *                  samples and no write sample; sets, deletes and
 *                  computes are writes; load_or_store is neither. Buckets
 *                  add up to samples; the sum is at least samples x 1 ns.
 *   cache_sampling the same for the cache's gets, sets and deletes.
 *   sync_sampling  the same for the sync map's loads, and its stores,
 *                  compare-and-swaps and deletes (load_or_store: neither).
 *   snap_copies    every write of a non-empty version counts one copy;
 *                  clear counts none.
 *   shard_retries  a get that meets a shard held by a compute callback
 *                  counts one retry and one fallback to the lock (the
 *                  callback waits, lock-free, until the stats show it).
 *                  Optimistic gets are off under ThreadSanitizer: there
 *                  both stay 0.
 *   rcu_counts     sync map overwrites retire blocks; after
 *                  gomap_rcu_barrier every one is freed, and the barrier
 *                  counts as a wait.
 *   budget         gomap_stats reports the memory limit and how many
 *                  thresholds fired.
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"

#include <gomap/cache.h>
#include <gomap/diag.h>
#include <gomap/reclaim.h>
#include <gomap/shardmap.h>
#include <gomap/snapmap.h>
#include <gomap/syncmap.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "base/latency.h"

enum { S = GOMAP_LATENCY_SAMPLE };

/* Runs fn(ctx) on a new thread and waits for it: the thread's count of
 * timed calls starts at zero. */
static void on_new_thread(void *(*fn)(void *), void *ctx)
{
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, fn, ctx), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
}

static void check_hist(const gomap_latency_t *l, uint64_t samples)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < GOMAP_LATENCY_BUCKETS; i++)
        sum += l->buckets[i];
    CHECK_EQ(l->samples, samples);
    CHECK_EQ(sum, samples);
    CHECK(l->sum_ns >= samples); /* every sample took at least 1 ns */
}

/* ---- buckets ----------------------------------------------------------------------- */

static struct lat_hist shared_hist;

static void *add_many(void *arg)
{
    uint64_t d = (uint64_t)(uintptr_t)arg;
    for (int i = 0; i < 1000; i++)
        gomap__lat_add(&shared_hist, d);
    return NULL;
}

static void test_buckets(void)
{
    CHECK_EQ(gomap__lat_bucket(0), 0u);
    CHECK_EQ(gomap__lat_bucket(1), 0u);
    CHECK_EQ(gomap__lat_bucket(GOMAP_LATENCY_MIN_NS), 0u);
    for (unsigned i = 1; i < GOMAP_LATENCY_BUCKETS - 1; i++) {
        uint64_t bound = (uint64_t)GOMAP_LATENCY_MIN_NS << i;
        CHECK_EQ(gomap__lat_bucket(bound), i);
        CHECK_EQ(gomap__lat_bucket(bound - 1), i);
        CHECK_EQ(gomap__lat_bucket(bound / 2 + 1), i);
    }
    uint64_t last = (uint64_t)GOMAP_LATENCY_MIN_NS << (GOMAP_LATENCY_BUCKETS - 2);
    CHECK_EQ(gomap__lat_bucket(last + 1), GOMAP_LATENCY_BUCKETS - 1u);
    CHECK_EQ(gomap__lat_bucket(UINT64_MAX), GOMAP_LATENCY_BUCKETS - 1u);

    pthread_t a, b;
    CHECK_EQ(pthread_create(&a, NULL, add_many, (void *)(uintptr_t)100), 0);
    CHECK_EQ(pthread_create(&b, NULL, add_many, (void *)(uintptr_t)5000), 0);
    CHECK_EQ(pthread_join(a, NULL), 0);
    CHECK_EQ(pthread_join(b, NULL), 0);
    gomap_latency_t l;
    gomap__lat_read(&shared_hist, &l);
    CHECK_EQ(l.samples, 2000u);
    CHECK_EQ(l.sum_ns, 1000u * 100 + 1000u * 5000);
    CHECK_EQ(l.buckets[gomap__lat_bucket(100)], 1000u);
    CHECK_EQ(l.buckets[gomap__lat_bucket(5000)], 1000u);
}

/* ---- sharded map ------------------------------------------------------------------- */

static int add_one(const void *key, void *val, bool *present, void *ctx)
{
    (void)key, (void)ctx;
    if (*present)
        ++*(uint64_t *)val;
    else
        *(uint64_t *)val = 1, *present = true;
    return 0;
}

static void *shard_ops(void *arg)
{
    gomap_shard_t *m = arg;
    uint64_t v = 7, out;
    gomap_shard_stats_t st;
    for (uint64_t k = 0; k < 10 * S; k++)
        (void)gomap_shard_get(m, &k, &out);
    CHECK_EQ(gomap_shard_stats(m, &st, NULL, 0), 0);
    check_hist(&st.get_latency, 10);
    check_hist(&st.write_latency, 0);
    for (uint64_t k = 0; k < 2 * S; k++)
        CHECK_EQ(gomap_shard_set(m, &k, &v), 0);
    for (uint64_t k = 0; k < S; k++)
        CHECK_EQ(gomap_shard_compute(m, &k, add_one, NULL), 0);
    for (uint64_t k = 0; k < S; k++)
        CHECK(gomap_shard_delete(m, &k));
    for (uint64_t k = 0; k < 5 * S; k++)
        CHECK_EQ(gomap_shard_load_or_store(m, &k, &v, &out, NULL), 0);
    CHECK_EQ(gomap_shard_stats(m, &st, NULL, 0), 0);
    check_hist(&st.get_latency, 10);
    check_hist(&st.write_latency, 4);
    return NULL;
}

static void test_shard_sampling(void)
{
    gomap_shard_options o = {.map = {.key_kind = GOMAP_KEY_U64, .val_size = 8}, .shards = 4};
    gomap_shard_t *m;
    CHECK_EQ(gomap_shard_new(&m, &o), 0);
    on_new_thread(shard_ops, m);
    gomap_shard_free(m);
}

/* ---- cache ------------------------------------------------------------------------- */

static void *cache_ops(void *arg)
{
    gomap_cache_t *c = arg;
    uint64_t v = 7, out;
    gomap_cache_stats_t st;
    for (uint64_t k = 0; k < 3 * S; k++)
        CHECK_EQ(gomap_cache_set(c, &k, &v, 0), 0);
    for (uint64_t k = 0; k < 6 * S; k++)
        (void)gomap_cache_get(c, &k, &out);
    for (uint64_t k = 0; k < S; k++)
        (void)gomap_cache_delete(c, &k);
    CHECK_EQ(gomap_cache_stats(c, &st), 0);
    check_hist(&st.get_latency, 6);
    check_hist(&st.write_latency, 4);
    return NULL;
}

static void test_cache_sampling(void)
{
    gomap_cache_options o = {.map = {.key_kind = GOMAP_KEY_U64, .val_size = 8}};
    gomap_cache_t *c;
    CHECK_EQ(gomap_cache_new(&c, &o), 0);
    on_new_thread(cache_ops, c);
    gomap_cache_free(c);
}

/* ---- sync map ---------------------------------------------------------------------- */

static void *sync_ops(void *arg)
{
    gomap_sync_t *m = arg;
    uint64_t v = 7, out;
    gomap_sync_stats_t st;
    for (uint64_t k = 0; k < 2 * S; k++)
        CHECK_EQ(gomap_sync_store(m, &k, &v), 0);
    for (uint64_t k = 0; k < 5 * S; k++)
        (void)gomap_sync_load(m, &k, &out);
    for (uint64_t k = 0; k < S; k++) {
        uint64_t nv = v + 1;
        CHECK_EQ(gomap_sync_compare_and_swap(m, &k, &v, &nv), 1);
    }
    for (uint64_t k = 0; k < S; k++)
        gomap_sync_delete(m, &k);
    for (uint64_t k = 0; k < 3 * S; k++)
        CHECK_EQ(gomap_sync_load_or_store(m, &k, &v, &out, NULL), 0);
    CHECK_EQ(gomap_sync_stats(m, &st), 0);
    check_hist(&st.get_latency, 5);
    check_hist(&st.write_latency, 4); /* load_or_store is neither */
    return NULL;
}

static void test_sync_sampling(void)
{
    gomap_options o = {.key_kind = GOMAP_KEY_U64, .val_size = 8};
    gomap_sync_t *m;
    CHECK_EQ(gomap_sync_new(&m, &o), 0);
    on_new_thread(sync_ops, m);
    gomap_sync_free(m);
}

/* ---- snapshot map ------------------------------------------------------------------ */

static void test_snap_copies(void)
{
    gomap_options o = {.key_kind = GOMAP_KEY_U64, .val_size = 8};
    gomap_snap_t *m;
    CHECK_EQ(gomap_snap_new(&m, &o), 0);
    gomap_snap_stats_t st;
    for (uint64_t k = 0; k < 20; k++)
        CHECK_EQ(gomap_snap_set(m, &k, &k), 0);
    CHECK_EQ(gomap_snap_clear(m), 0);
    uint64_t k = 1;
    CHECK_EQ(gomap_snap_set(m, &k, &k), 0);
    CHECK_EQ(gomap_snap_stats(m, &st), 0);
    /* 20 sets and the set after the clear copy the version before them;
     * the clear copies nothing. */
    check_hist(&st.copy_latency, 21);
    gomap_snap_free(m);
}

/* ---- optimistic retries ------------------------------------------------------------ */

#if !defined(__SANITIZE_THREAD__)
struct hold {
    gomap_shard_t *m;
    atomic_int inside; /* the callback holds the shard */
};

/* Adds 1, holding the shard until the stats show the other thread's get
 * gave up its lock-free attempt (it then waits for the lock). */
static int hold_until_fallback(const void *key, void *val, bool *present, void *ctx)
{
    (void)key, (void)present;
    struct hold *h = ctx;
    ++*(uint64_t *)val;
    atomic_store(&h->inside, 1);
    gomap_shard_stats_t st;
    do {
        usleep(100);
        CHECK_EQ(gomap_shard_stats(h->m, &st, NULL, 0), 0);
    } while (st.optimistic_fallbacks == 0);
    return 0;
}

static void *hold_shard(void *arg)
{
    struct hold *h = arg;
    uint64_t k = 1;
    CHECK_EQ(gomap_shard_compute(h->m, &k, hold_until_fallback, h), 0);
    return NULL;
}
#endif

static void test_shard_retries(void)
{
    gomap_shard_options o = {.map = {.key_kind = GOMAP_KEY_U64, .val_size = 8}, .shards = 1};
    gomap_shard_t *m;
    CHECK_EQ(gomap_shard_new(&m, &o), 0);
    uint64_t k = 1, v = 41, out = 0;
    CHECK_EQ(gomap_shard_set(m, &k, &v), 0);
    gomap_shard_stats_t st;
    CHECK_EQ(gomap_shard_stats(m, &st, NULL, 0), 0);
    CHECK_EQ(st.optimistic_retries, 0u);
    CHECK_EQ(st.optimistic_fallbacks, 0u);
#if defined(__SANITIZE_THREAD__)
    CHECK(gomap_shard_get(m, &k, &out) && out == 41);
    CHECK_EQ(gomap_shard_stats(m, &st, NULL, 0), 0);
    CHECK_EQ(st.optimistic_retries, 0u); /* gets take the lock here */
#else
    alarm(60); /* a get that never counted its fallback would hang */
    struct hold h = {.m = m};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, hold_shard, &h), 0);
    while (!atomic_load(&h.inside))
        usleep(100);
    CHECK(gomap_shard_get(m, &k, &out));
    CHECK_EQ(out, 42u); /* the compute's +1, after it released the shard */
    CHECK_EQ(pthread_join(t, NULL), 0);
    alarm(0);
    CHECK_EQ(gomap_shard_stats(m, &st, NULL, 0), 0);
    /* The shard was held through both lock-free attempts: the first met an
     * odd sequence count and gave up at once. */
    CHECK_EQ(st.optimistic_retries, 1u);
    CHECK_EQ(st.optimistic_fallbacks, 1u);
#endif
    char why[256];
    CHECK_EQ(gomap_shard_validate(m, why, sizeof why), 0);
    gomap_shard_free(m);
}

/* ---- RCU --------------------------------------------------------------------------- */

static void test_rcu_counts(void)
{
    gomap_rcu_stats_t before, after;
    gomap_rcu_barrier(); /* nothing of earlier tests left in flight */
    gomap_rcu_stats(&before);
    CHECK_EQ(before.freed, before.retired);
    gomap_options o = {.key_kind = GOMAP_KEY_U64, .val_size = 8};
    gomap_sync_t *m;
    CHECK_EQ(gomap_sync_new(&m, &o), 0);
    for (uint64_t round = 0; round < 3; round++)
        for (uint64_t k = 0; k < 1000; k++)
            CHECK_EQ(gomap_sync_store(m, &k, &round), 0);
    gomap_rcu_barrier();
    gomap_rcu_stats(&after);
    CHECK(after.retired > before.retired); /* overwritten values */
    CHECK_EQ(after.freed, after.retired);
    CHECK(after.waits >= before.waits + 1); /* the barrier at least */
    CHECK(after.wait_ns >= after.wait_max_ns);
    CHECK(after.wait_max_ns > 0);
    gomap_sync_free(m);
    gomap_rcu_stats(NULL); /* ignored */
}

/* ---- budget ------------------------------------------------------------------------ */

static void on_budget(const gomap_t *m, double t, size_t held, size_t limit, void *ctx)
{
    (void)m, (void)t, (void)held, (void)limit;
    ++*(int *)ctx;
}

static void test_budget(void)
{
    /* A limit far above what the test fills, so no growth meets it. */
    size_t limit = (size_t)64 << 20;
    gomap_options o = {.key_kind = GOMAP_KEY_U64, .val_size = 8, .mem_limit = limit};
    gomap_t *m;
    CHECK_EQ(gomap_new(&m, &o), 0);
    double th[] = {0.001, 0.002, 0.99};
    int fired = 0;
    CHECK_EQ(gomap_set_budget_handler(m, th, 3, on_budget, &fired), 0);
    gomap_stats_t st;
    CHECK_EQ(gomap_stats(m, &st), 0);
    CHECK_EQ(st.mem_limit, limit);
    CHECK_EQ(st.budget_crossed, 0u);
    uint64_t k = 0;
    while (st.bytes_held < (size_t)(0.003 * (double)limit)) {
        CHECK_EQ(gomap_set(m, &k, &k), 0);
        k++;
        CHECK_EQ(gomap_stats(m, &st), 0);
    }
    CHECK_EQ(st.budget_crossed, 2u);
    CHECK_EQ(fired, 2);
    gomap_free(m);
}

int main(void)
{
    RUN(test_buckets);
    RUN(test_shard_sampling);
    RUN(test_cache_sampling);
    RUN(test_sync_sampling);
    RUN(test_snap_copies);
    RUN(test_shard_retries);
    RUN(test_rcu_counts);
    RUN(test_budget);
    puts("ok");
    return 0;
}
