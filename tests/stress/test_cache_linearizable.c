/*
 * test_cache_linearizable.c — the cache's keyed calls are linearizable
 * (gomap/cache.h, "Thread-safety": "Each keyed call is linearizable: it takes
 * its key's shard lock for its whole effect"), and so is len on a cache
 * whose entries never leave but by delete.
 *
 * Thousands of short random histories run on a fresh unbounded cache
 * without TTLs each (nothing expires, nothing is evicted, so the cache is a
 * map): 2, 3 or 4 threads released together, each doing 10-30 operations
 * on 2-6 keys with values 0-2. The operations, as tests/support/lincheck
 * sees them:
 *   load     gomap_cache_get (a miss must give zeros)
 *   store    gomap_cache_set (must return 0)
 *   delete   gomap_cache_delete
 *   len      gomap_cache_len (every shard at one instant)
 * Every operation is recorded with timestamps taken before the call and
 * after the return, and the whole history is checked by lincheck (Wing-Gong
 * search with memoisation): some order of the operations that respects real
 * time must give each one exactly the answer it got. Every history starts
 * from a few stores by the main thread (recorded too); after the threads end
 * every key is loaded once more and gomap_cache_validate must pass, and the
 * removals balance: every store made an entry or replaced one (stats.sets =
 * len + on_remove calls), all of them REPLACED or DELETED.
 *
 * Runs: 1 shard and 16 shards. GOMAP_TEST_SEED reproduces the operations of
 * every history (and the hash seeds), not the interleavings; a violation
 * prints the history's seed and the minimal violating history.
 */
#include "cachecheck.h"
#include "check.h"
#include "lincheck.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum { HISTORIES = 3000 / WORK_DIV, MAX_SETUP = LC_MAX_KEYS };

static bool c_load(void *c, uint64_t k, uint64_t *val)
{
    bool found = gomap_cache_get(c, lincheck_key(k), val);
    CHECK_MSG(found || *val == 0, "get of an absent key gave %" PRIu64, *val);
    return found;
}

static void c_store(void *c, uint64_t k, uint64_t val)
{
    CHECK_EQ(gomap_cache_set(c, lincheck_key(k), &val, 0), 0);
}

static void c_delete(void *c, uint64_t k)
{
    (void)gomap_cache_delete(c, lincheck_key(k));
}

static size_t c_len(void *c)
{
    return gomap_cache_len(c);
}

static const lc_adapter cache_adapter = {
    .name = "gomap_cache",
    .load = c_load,
    .store = c_store,
    .del = c_delete,
    .len = c_len,
};

/* load, store, swap, load_or_store, load_and_delete, delete, cas, cad,
 * clear, len, snapshot: only what the cache has. */
static const unsigned weights[LC_KIND_COUNT] = {8, 6, 0, 0, 0, 4, 0, 0, 0, 3, 0};

typedef struct {
    size_t histories, ops, concurrent, overlapping, configs;
} totals;

static void run_one(unsigned shards, int index, uint64_t *rng, totals *t)
{
    static const unsigned pauses[] = {0, 30, 100, 300};
    lc_op setup[MAX_SETUP];
    lc_config cfg = {
        .threads = 2 + (unsigned)(index % 3),
        .nkeys = 2 + (unsigned)test_rand_below(rng, 5),
        .ops_per_thread = 10 + (unsigned)test_rand_below(rng, 21),
        .nvalues = 3,
        .weights = weights,
        .final_loads = true,
        .pause = pauses[test_rand_below(rng, 4)],
        .seed = test_rand(rng),
        .report = stderr,
    };
    size_t n = 0;
    for (unsigned k = 0; k < cfg.nkeys; k++)
        if (test_rand_below(rng, 2))
            setup[n++] = (lc_op){.kind = LC_STORE, .key = k, .arg = test_rand_below(rng, 3)};
    cfg.setup = setup;
    cfg.nsetup = n;

    cache_removals rec;
    cache_removals_init(&rec, NULL, NULL);
    gomap_cache_options o = cachecheck_options(GOMAP_KEY_U64, sizeof(uint64_t), NULL, &rec);
    o.shards = shards;
    gomap_cache_t *c = cachecheck_new(&o);
    lc_outcome out = lincheck_run(&cache_adapter, c, &cfg);
    CHECK_MSG(out.verdict == LC_OK,
              "%u shards, history %d: %u threads x %u ops on %u keys, history seed %" PRIu64
              ": %s", shards, index, cfg.threads, cfg.ops_per_thread, cfg.nkeys, cfg.seed,
              out.verdict == LC_VIOLATION ? "not linearizable" : "invalid history");
    CHECK_CACHE_VALID(c);
    CHECK_EQ(cache_removed(&rec, GOMAP_CACHE_EXPIRED), 0);
    CHECK_EQ(cache_removed(&rec, GOMAP_CACHE_EVICTED), 0);
    gomap_cache_stats_t s = cachecheck_stats(c);
    /* Every store made an entry or replaced one. */
    CHECK_EQ(s.sets, gomap_cache_len(c) + cache_removed_total(&rec));
    CHECK_EQ(s.removed[GOMAP_CACHE_REPLACED], cache_removed(&rec, GOMAP_CACHE_REPLACED));
    CHECK_EQ(s.removed[GOMAP_CACHE_DELETED], cache_removed(&rec, GOMAP_CACHE_DELETED));
    gomap_cache_free(c);
    t->histories++;
    t->ops += out.ops;
    t->concurrent += out.concurrent;
    t->overlapping += out.overlapping;
    t->configs += out.stats.configs;
}

static void run_config(unsigned shards, uint64_t salt)
{
    uint64_t rng = test_seed() ^ salt;
    totals t = {0, 0, 0, 0, 0};
    for (int i = 0; i < HISTORIES; i++)
        run_one(shards, i, &rng, &t);
    printf("   %u shard%s: %zu histories, %zu operations, %zu of %zu racing ones overlapped "
           "another thread's, %zu search configurations: all linearizable\n", shards,
           shards == 1 ? "" : "s", t.histories, t.ops, t.overlapping, t.concurrent, t.configs);
    /* The test tested something: racing operations met. */
    CHECK(t.overlapping > 0);
}

static void test_one_shard(void) { run_config(1, 0x11); }
static void test_sixteen_shards(void) { run_config(16, 0x16); }

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_seed();
    RUN(test_one_shard);
    RUN(test_sixteen_shards);
    printf("ok\n");
    return 0;
}
