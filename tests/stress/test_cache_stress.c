/*
 * test_cache_stress.c — 8 threads on one bounded cache (gomap/cache.h),
 * under TSan and ASan in those builds.
 *
 *   test_no_dropped_write  every thread sets keys of its own, in rounds, in
 *                          a cache whose bound holds them all (1 shard with
 *                          max_cost the total; 4 shards each holding the
 *                          total): every set returns 0 and the same thread's
 *                          get right after it sees the value; after a barrier
 *                          every thread reads every other thread's keys with
 *                          their latest values. Nothing is evicted.
 *   test_over_bound        threads set, set_cost, get, delete and
 *                          get_or_load random keys of a key space far larger
 *                          than max_cost (1 shard; 8 shards), while a
 *                          sampler thread reads gomap_cache_stats (no lock)
 *                          and len: stats.cost never exceeds max_cost, the
 *                          counters never go back, len never
 *                          exceeds it (unit costs); every value read is
 *                          whole and belongs to its key; on_remove never
 *                          reports EXPIRED (no TTL); at the end validate
 *                          passes, len <= max_cost, and the accounting
 *                          balances: successful sets + loader stores = len +
 *                          on_remove calls of every cause, deletes that
 *                          returned true = DELETED removals, stats.removed[]
 *                          = on_remove calls, stats.sets = sets + stores,
 *                          hits + misses = gets + get_or_load calls. Once more without on_remove
 *                          (overwrites in place): the bound and the values.
 *                          And with TTLs of 1-20 ms on the real clock, the
 *                          maintenance thread and run_maintenance calls
 *                          among the operations: the same checks, EXPIRED
 *                          removals included in the balance.
 * Work is bounded by operation counts (divided by WORK_DIV under TSan),
 * never by time. Seed: test_seed() (the operation streams; the interleaving
 * is the scheduler's).
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

enum { THREADS = 8 };

/* Values: the key and a check word derived from it and a version. */
typedef struct {
    uint64_t key, version, check;
} val24;

static val24 make_val(uint64_t key, uint64_t version)
{
    return (val24){key, version, (key * 0x9E3779B97F4A7C15ull) ^ version ^ 0xC0FFEEull};
}

static void check_val(const val24 *v, uint64_t key, const char *what)
{
    CHECK_MSG(v->key == key && v->check == ((key * 0x9E3779B97F4A7C15ull) ^ v->version ^
              0xC0FFEEull), "%s: key %" PRIu64 " holds a value of key %" PRIu64 " (version %"
              PRIu64 ", check %" PRIx64 "): torn or misplaced", what, key, v->key, v->version,
              v->check);
}

static gomap_cache_t *new_cache(cache_removals *rec, uint64_t max_cost, unsigned shards)
{
    gomap_cache_options o = cachecheck_options(GOMAP_KEY_U64, sizeof(val24), NULL, rec);
    o.max_cost = max_cost;
    o.shards = shards;
    return cachecheck_new(&o);
}

/* ------------------------------------------------------------------------ */
/* No dropped write                                                          */
/* ------------------------------------------------------------------------ */

enum { OWN_KEYS = 400 / WORK_DIV, ROUNDS = 6 };

typedef struct {
    gomap_cache_t *c;
    pthread_barrier_t barrier;
} own_run;

typedef struct {
    own_run *run;
    unsigned id;
} own_worker;

static uint64_t own_key(unsigned t, uint64_t i)
{
    return (uint64_t)t << 32 | (uint32_t)(i * 2654435761u);
}

static void *own_thread(void *arg)
{
    own_worker *w = arg;
    gomap_cache_t *c = w->run->c;
    for (uint64_t round = 1; round <= ROUNDS; round++) {
        for (uint64_t i = 0; i < OWN_KEYS; i++) {
            uint64_t k = own_key(w->id, i);
            val24 v = make_val(k, round), out;
            int rc = gomap_cache_set(c, &k, &v, 0);
            CHECK_MSG(rc == 0, "thread %u, round %" PRIu64 ": set of key %" PRIu64 ": %d", w->id,
                      round, k, rc);
            memset(&out, 0, sizeof out);
            CHECK_MSG(gomap_cache_get(c, &k, &out) && out.version == round, "thread %u, round %"
                      PRIu64 ": key %" PRIu64 " not seen right after its set (version %" PRIu64
                      "): a dropped write", w->id, round, k, out.version);
            check_val(&out, k, "own key");
        }
        pthread_barrier_wait(&w->run->barrier);
        /* Everyone's keys, with this round's values. */
        for (unsigned t = 0; t < THREADS; t++) {
            unsigned other = (w->id + t) % THREADS;
            for (uint64_t i = 0; i < OWN_KEYS; i++) {
                uint64_t k = own_key(other, i);
                val24 out;
                memset(&out, 0, sizeof out);
                CHECK_MSG(gomap_cache_get(c, &k, &out) && out.version == round, "thread %u, "
                          "round %" PRIu64 ": thread %u's key %" PRIu64 " after the barrier: "
                          "version %" PRIu64, w->id, round, other, k, out.version);
                check_val(&out, k, "another thread's key");
            }
        }
        pthread_barrier_wait(&w->run->barrier);
    }
    return NULL;
}

static void no_dropped_write(unsigned shards)
{
    const uint64_t total = (uint64_t)THREADS * OWN_KEYS;
    cache_removals rec;
    cache_removals_init(&rec, NULL, NULL);
    own_run run;
    run.c = new_cache(&rec, total * shards, shards);
    CHECK(pthread_barrier_init(&run.barrier, NULL, THREADS) == 0);
    pthread_t th[THREADS];
    own_worker w[THREADS];
    for (unsigned t = 0; t < THREADS; t++) {
        w[t] = (own_worker){&run, t};
        CHECK(pthread_create(&th[t], NULL, own_thread, &w[t]) == 0);
    }
    for (unsigned t = 0; t < THREADS; t++)
        CHECK(pthread_join(th[t], NULL) == 0);
    pthread_barrier_destroy(&run.barrier);
    CHECK_EQ(gomap_cache_len(run.c), total);
    CHECK_EQ(cache_removed(&rec, GOMAP_CACHE_EVICTED), 0);
    CHECK_EQ(cache_removed(&rec, GOMAP_CACHE_REPLACED), total * (ROUNDS - 1));
    gomap_cache_stats_t s = cachecheck_stats(run.c);
    CHECK_EQ(s.cost, total);
    CHECK_EQ(s.sets, total * ROUNDS);
    CHECK_CACHE_VALID(run.c);
    gomap_cache_free(run.c);
    printf("   %u shard%s: %d threads x %d keys x %d rounds, every set seen at once\n", shards,
           shards == 1 ? "" : "s", THREADS, OWN_KEYS, ROUNDS);
}

static void test_no_dropped_write(void)
{
    no_dropped_write(1);
    no_dropped_write(4);
}

/* ------------------------------------------------------------------------ */
/* Over the bound                                                            */
/* ------------------------------------------------------------------------ */

enum { OPS = 40000 / WORK_DIV };

typedef struct {
    gomap_cache_t *c;
    uint64_t max_cost, keyspace;
    bool costs;
    bool ttls;                 /* short TTLs, maintenance thread, run_maintenance */
    pthread_barrier_t start;
    atomic_int running;
    atomic_uint_fast64_t loader_calls;
} bound_run;

typedef struct {
    bound_run *run;
    unsigned id;
    uint64_t rng;
    uint64_t sets_ok, deletes_true, hits, lookups;
} bound_worker;

typedef struct {
    bound_run *run;
    uint64_t samples, max_seen;
} sampler;

static void bound_hook(const void *key, const void *val, gomap_cache_cause cause, void *ctx)
{
    const bool *ttls = ctx;
    uint64_t k;
    memcpy(&k, key, 8);
    val24 v;
    memcpy(&v, val, sizeof v);
    CHECK_MSG(*ttls || cause != GOMAP_CACHE_EXPIRED, "key %" PRIu64 " EXPIRED without a TTL", k);
    check_val(&v, k, "on_remove");
}

/* 0 (no default: never), or 1-20 ms, or never. */
static uint64_t pick_ttl(bound_run *run, uint64_t r)
{
    if (!run->ttls)
        return 0;
    switch (r % 4) {
    case 0: return GOMAP_CACHE_NO_EXPIRY;
    default: return 1000000 * (1 + (r >> 2) % 20);
    }
}

static int bound_loader(const void *key, void *val_out, uint64_t *ttl_ns, void *ctx)
{
    (void)ttl_ns;
    bound_run *run = ctx;
    uint64_t k;
    memcpy(&k, key, 8);
    val24 v = make_val(k, 0);
    memcpy(val_out, &v, sizeof v);
    atomic_fetch_add_explicit(&run->loader_calls, 1, memory_order_relaxed);
    return 0;
}

static void *bound_thread(void *arg)
{
    bound_worker *w = arg;
    bound_run *run = w->run;
    pthread_barrier_wait(&run->start);
    for (uint64_t i = 0; i < OPS; i++) {
        uint64_t r = test_rand(&w->rng);
        uint64_t k = test_rand_below(&w->rng, run->keyspace);
        val24 v = make_val(k, (uint64_t)w->id << 32 | i), out;
        switch (r % 10) {
        case 0: case 1: case 2: {
            if (run->ttls && (r >> 40) % 64 == 0) {
                gomap_cache_run_maintenance(run->c);
                break;
            }
            int rc = gomap_cache_set(run->c, &k, &v, pick_ttl(run, r >> 12));
            CHECK_MSG(rc == 0, "set: %d", rc);
            w->sets_ok++;
            break;
        }
        case 3: {
            uint64_t cost = run->costs ? 1 + (r >> 8) % 8 : 1;
            int rc = gomap_cache_set_cost(run->c, &k, &v, pick_ttl(run, r >> 12), cost);
            CHECK_MSG(rc == 0, "set_cost: %d", rc);
            w->sets_ok++;
            break;
        }
        case 4:
            w->deletes_true += gomap_cache_delete(run->c, &k);
            break;
        case 5: {
            w->lookups++;
            int rc = gomap_cache_get_or_load(run->c, &k, &out, bound_loader, run);
            CHECK_MSG(rc == 0 || rc == 1, "get_or_load: %d", rc);
            check_val(&out, k, "get_or_load");
            break;
        }
        default:
            w->lookups++;
            if (gomap_cache_get(run->c, &k, &out)) {
                check_val(&out, k, "get");
                w->hits++;
            }
        }
    }
    return NULL;
}

static void *sampler_thread(void *arg)
{
    sampler *s = arg;
    bound_run *run = s->run;
    gomap_cache_stats_t prev = {0};
    pthread_barrier_wait(&run->start);
    while (atomic_load_explicit(&run->running, memory_order_acquire)) {
        gomap_cache_stats_t st = cachecheck_stats(run->c);
        CHECK_MSG(st.cost <= run->max_cost, "sampled stats.cost %" PRIu64 " over max_cost %"
                  PRIu64, st.cost, run->max_cost);
        /* Read with no lock, the counters still only grow. */
        CHECK(st.hits >= prev.hits && st.misses >= prev.misses && st.sets >= prev.sets);
        for (unsigned k = 1; k < 5; k++)
            CHECK(st.removed[k] >= prev.removed[k]);
        prev = st;
        if (st.cost > s->max_seen)
            s->max_seen = st.cost;
        if (!run->costs) {
            size_t n = gomap_cache_len(run->c);
            CHECK_MSG(n <= run->max_cost, "sampled len %zu over max_cost %" PRIu64, n,
                      run->max_cost);
        }
        s->samples++;
    }
    return NULL;
}

static void over_bound(uint64_t max_cost, unsigned shards, bool costs, bool track, bool ttls,
                       uint64_t seed)
{
    cache_removals rec;
    cache_removals_init(&rec, bound_hook, &ttls);
    bound_run run;
    gomap_cache_options o = cachecheck_options(GOMAP_KEY_U64, sizeof(val24), NULL,
                                               track ? &rec : NULL);
    o.max_cost = max_cost;
    o.shards = shards;
    o.maintenance_thread = ttls;
    run.c = cachecheck_new(&o);
    run.ttls = ttls;
    run.max_cost = max_cost;
    run.keyspace = max_cost * 8;
    run.costs = costs;
    atomic_init(&run.running, 1);
    atomic_init(&run.loader_calls, 0);
    CHECK(pthread_barrier_init(&run.start, NULL, THREADS + 1) == 0);
    pthread_t th[THREADS], sth;
    bound_worker w[THREADS];
    sampler smp = {&run, 0, 0};
    for (unsigned t = 0; t < THREADS; t++) {
        w[t] = (bound_worker){&run, t, seed ^ (0x1234567ull * (t + 1)), 0, 0, 0, 0};
        CHECK(pthread_create(&th[t], NULL, bound_thread, &w[t]) == 0);
    }
    CHECK(pthread_create(&sth, NULL, sampler_thread, &smp) == 0);
    for (unsigned t = 0; t < THREADS; t++)
        CHECK(pthread_join(th[t], NULL) == 0);
    atomic_store_explicit(&run.running, 0, memory_order_release);
    CHECK(pthread_join(sth, NULL) == 0);
    pthread_barrier_destroy(&run.start);

    uint64_t sets = 0, deletes = 0, hits = 0, lookups = 0;
    for (unsigned t = 0; t < THREADS; t++) {
        sets += w[t].sets_ok;
        deletes += w[t].deletes_true;
        hits += w[t].hits;
        lookups += w[t].lookups;
    }
    uint64_t loads = atomic_load(&run.loader_calls);
    CHECK_CACHE_VALID(run.c);
    size_t len = gomap_cache_len(run.c);
    gomap_cache_stats_t s = cachecheck_stats(run.c);
    CHECK_MSG(s.cost <= max_cost && (costs || len <= max_cost), "at the end: len %zu, cost %"
              PRIu64 ", max_cost %" PRIu64, len, s.cost, max_cost);
    /* The shards' own figures add up to the totals, lock waits included.
     * With TTLs the maintenance thread still runs (it takes shard locks
     * and expires entries), so the per-shard figures are read between two
     * totals: the counters must fall between them, and the cost is exact
     * only when nothing else runs. */
    gomap_cache_shard_counters per[8];
    CHECK(shards <= 8);
    CHECK_EQ(gomap_cache_shard_stats(run.c, per, shards), 0);
    gomap_cache_stats_t after = cachecheck_stats(run.c);
    uint64_t waits = 0, wait_ns = 0, cost = 0, hits_sum = 0;
    for (unsigned k = 0; k < shards; k++) {
        waits += per[k].lock_waits, wait_ns += per[k].lock_wait_ns;
        cost += per[k].cost, hits_sum += per[k].hits;
    }
    CHECK(s.lock_waits <= waits && waits <= after.lock_waits);
    CHECK(s.lock_wait_ns <= wait_ns && wait_ns <= after.lock_wait_ns);
    CHECK(s.hits <= hits_sum && hits_sum <= after.hits);
    if (!ttls)
        CHECK(waits == s.lock_waits && wait_ns == s.lock_wait_ns && cost == s.cost &&
              hits_sum == s.hits);
    printf("   %" PRIu64 " lock acquisitions waited, %.3f ms in all\n", waits, (double)wait_ns / 1e6);
    if (!track) {
        /* No on_remove: present keys are overwritten in place; only the
         * bound, the values and validate are checked. */
        printf("   max_cost %" PRIu64 ", %u shard%s%s, no on_remove: %" PRIu64 " sets, %" PRIu64
               " loads, %" PRIu64 " hits; %" PRIu64 " samples, highest cost seen %" PRIu64 "\n",
               max_cost, shards, shards == 1 ? "" : "s", costs ? ", costs 1-8" : "", sets, loads,
               hits, smp.samples, smp.max_seen);
        gomap_cache_free(run.c);
        return;
    }
    uint64_t removed = cache_removed_total(&rec);
    CHECK_MSG(sets + loads == len + removed, "%" PRIu64 " sets + %" PRIu64 " loads stored, but %zu"
              " held + %" PRIu64 " removed (evicted %" PRIu64 ", replaced %" PRIu64 ", deleted %"
              PRIu64 ")", sets, loads, len, removed, cache_removed(&rec, GOMAP_CACHE_EVICTED),
              cache_removed(&rec, GOMAP_CACHE_REPLACED), cache_removed(&rec, GOMAP_CACHE_DELETED));
    CHECK_EQ(cache_removed(&rec, GOMAP_CACHE_DELETED), deletes);
    CHECK_EQ(s.entries, len);
    for (int c = GOMAP_CACHE_EXPIRED; c <= GOMAP_CACHE_DELETED; c++)
        CHECK_MSG(s.removed[c] == cache_removed(&rec, (gomap_cache_cause)c), "stats.removed[%s] %"
                  PRIu64 ", on_remove %" PRIu64, cache_cause_names[c], s.removed[c],
                  cache_removed(&rec, (gomap_cache_cause)c));
    CHECK_EQ(s.loads, loads);
    CHECK_EQ(s.sets, sets + loads);
    CHECK_EQ(s.hits + s.misses, lookups);
    CHECK(cache_removed(&rec, GOMAP_CACHE_EVICTED) > 0);
    printf("   max_cost %" PRIu64 ", %u shard%s%s%s: %" PRIu64 " sets, %" PRIu64 " loads, %" PRIu64
           " hits, %" PRIu64 " evicted, %" PRIu64 " expired; %" PRIu64 " samples, highest cost "
           "seen %" PRIu64 "\n", max_cost, shards, shards == 1 ? "" : "s", costs ? ", costs 1-8" :
           "", ttls ? ", TTLs 1-20 ms, maintenance thread" : "", sets, loads, hits,
           cache_removed(&rec, GOMAP_CACHE_EVICTED), cache_removed(&rec, GOMAP_CACHE_EXPIRED),
           smp.samples, smp.max_seen);
    gomap_cache_free(run.c);
}

static void test_over_bound(void)
{
    uint64_t seed = test_seed();
    over_bound(256, 1, false, true, false, seed);
    over_bound(1024, 8, false, true, false, seed + 1);
    over_bound(512, 2, true, true, false, seed + 2);
    over_bound(512, 2, true, false, false, seed + 3);
    over_bound(512, 4, false, true, true, seed + 4);
    over_bound(256, 1, true, true, true, seed + 5);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_seed();
    RUN(test_no_dropped_write);
    RUN(test_over_bound);
    printf("ok\n");
    return 0;
}
