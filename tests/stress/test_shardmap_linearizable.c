/*
 * test_shardmap_linearizable.c — every operation of the sharded map is
 * linearizable (gomap/shardmap.h, "Ordering": keyed operations, and len,
 * snapshot and clear, which hold every shard at once).
 *
 * Thousands of short random histories run on a fresh sharded map each: 2, 3
 * or 4 threads, released together, each doing 10-30 operations on 2-6 keys
 * with values 0-2, so that threads collide on keys and compare-and-swaps
 * sometimes match. The operations, as tests/support/lincheck sees them:
 *   load               gomap_shard_get
 *   store              gomap_shard_set
 *   load_or_store      gomap_shard_load_or_store
 *   delete             gomap_shard_delete
 *   swap, load_and_delete, compare_and_swap, compare_and_delete
 *                      gomap_shard_compute callbacks (a mismatched compare
 *                      either commits nothing or abandons, returning 1)
 *   clear, len         gomap_shard_clear, gomap_shard_len
 *   snapshot           gomap_shard_snapshot, then the copy's keys read
 * Every operation is recorded with timestamps taken before the call and
 * after the return, and the whole history is checked by lincheck (Wing-Gong
 * search with memoisation): some order of the operations that respects real
 * time must give each one exactly the answer it got. The whole-map
 * operations are weighted up: with 16 shards the keys live in different
 * shards, and a len or snapshot that saw one shard before a write and
 * another after it would be caught. Every history starts from a few stores
 * made by the main thread (recorded too); after the threads end every key is
 * loaded once more and gomap_shard_validate must pass.
 *
 * Runs: 1 shard and 16 shards (builtin hash), and 16 shards with the
 * degenerate hash (every key in one shard and one bucket chain); then the
 * same while another thread resizes the map over and over
 * (gomap_shard_resize to 1, 2, 4, ... 32 shards at random, growing and
 * shrinking): every history must stay linearizable through the moves, the
 * optimistic gets of the release and ASan builds included.
 * GOMAP_TEST_SEED reproduces the operations of every history (and the hash
 * seeds), not the interleavings; a violation prints the history's seed and
 * the minimal violating history.
 */
#include "check.h"
#include "hashvariant.h"
#include "lincheck.h"
#include "shardcheck.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum { HISTORIES = 3000 / WORK_DIV, MAX_SETUP = LC_MAX_KEYS };

/* ------------------------------------------------------------------------ */
/* The sharded map as lincheck sees it                                       */
/* ------------------------------------------------------------------------ */

static bool sh_load(void *m, uint64_t k, uint64_t *val)
{
    bool found = gomap_shard_get(m, lincheck_key(k), val);
    CHECK_MSG(found || *val == 0, "get of an absent key gave %" PRIu64, *val);
    return found;
}

static void sh_store(void *m, uint64_t k, uint64_t val)
{
    CHECK_EQ(gomap_shard_set(m, lincheck_key(k), &val), 0);
}

static bool sh_load_or_store(void *m, uint64_t k, uint64_t val, uint64_t *actual)
{
    bool loaded = true;
    CHECK_EQ(gomap_shard_load_or_store(m, lincheck_key(k), &val, actual, &loaded), 0);
    return loaded;
}

static void sh_delete(void *m, uint64_t k)
{
    (void)gomap_shard_delete(m, lincheck_key(k));
}

/* A compute that puts `val` (swap) or deletes (load_and_delete); the
 * previous value is what the callback was shown. */
static bool sh_replace(void *m, uint64_t k, cop_mode mode, uint64_t val, uint64_t *prev)
{
    shard_cop op = {.mode = mode, .val = &val, .val_size = 8, .seen = prev};
    CHECK_EQ(shardcheck_compute(m, lincheck_key(k), &op), 0);
    CHECK_EQ(op.calls, 1);
    CHECK_MSG(op.was_present || (op.zeroed && *prev == 0), "compute showed an absent key's "
              "value as %" PRIu64, *prev);
    return op.was_present;
}

static bool sh_swap(void *m, uint64_t k, uint64_t val, uint64_t *prev)
{
    return sh_replace(m, k, COP_PUT, val, prev);
}

static bool sh_load_and_delete(void *m, uint64_t k, uint64_t *val)
{
    return sh_replace(m, k, COP_DELETE, 0, val);
}

/* Compare-and-swap/delete: a mismatch abandons (compute returns 1) for odd
 * old values and commits nothing for even ones, so both paths race. */
static bool sh_compare(void *m, uint64_t k, cop_mode mode, uint64_t old, uint64_t new_val)
{
    shard_cop op = {.mode = mode, .val = &new_val, .expect = &old, .val_size = 8,
                    .abandon_rc = (int)(old & 1)};
    int rc = shardcheck_compute(m, lincheck_key(k), &op);
    CHECK_MSG(rc == (op.matched ? 0 : op.abandon_rc), "compute returned %d (matched %d)", rc,
              op.matched);
    return op.matched;
}

static bool sh_compare_and_swap(void *m, uint64_t k, uint64_t old, uint64_t new_val)
{
    return sh_compare(m, k, COP_CAS, old, new_val);
}

static bool sh_compare_and_delete(void *m, uint64_t k, uint64_t old)
{
    return sh_compare(m, k, COP_CAD, old, 0);
}

static void sh_clear(void *m)
{
    gomap_shard_clear(m);
}

static size_t sh_len(void *m)
{
    return gomap_shard_len(m);
}

static lc_state sh_snapshot(void *m, unsigned nkeys)
{
    gomap_t *snap = NULL;
    CHECK_EQ(gomap_shard_snapshot(m, &snap), 0);
    lc_state s = 0;
    size_t found = 0;
    for (unsigned k = 0; k < nkeys; k++) {
        uint64_t v;
        if (gomap_get_copy(snap, lincheck_key(k), &v)) {
            CHECK_MSG(v <= LC_MAX_VALUE, "snapshot: key %u holds %" PRIu64, k, v);
            s = lc_state_put(s, k, v);
            found++;
        }
    }
    CHECK_MSG(gomap_len(snap) == found, "snapshot of %zu entries, %zu of them known keys",
              gomap_len(snap), found);
    gomap_free(snap);
    return s;
}

static const lc_adapter shard_adapter = {
    .name = "gomap_shard",
    .load = sh_load,
    .store = sh_store,
    .swap = sh_swap,
    .load_or_store = sh_load_or_store,
    .load_and_delete = sh_load_and_delete,
    .del = sh_delete,
    .compare_and_swap = sh_compare_and_swap,
    .compare_and_delete = sh_compare_and_delete,
    .clear = sh_clear,
    .len = sh_len,
    .snapshot = sh_snapshot,
};

/* load, store, swap, load_or_store, load_and_delete, delete, cas, cad,
 * clear, len, snapshot: the whole-map ones weighted up. */
static const unsigned weights[LC_KIND_COUNT] = {8, 6, 4, 5, 4, 4, 6, 4, 2, 4, 4};

/* ------------------------------------------------------------------------ */
/* Running histories                                                         */
/* ------------------------------------------------------------------------ */

typedef struct {
    size_t histories, ops, concurrent, overlapping, configs;
    uint64_t resizes;      /* resizes finished while histories ran */
} totals;

/* A thread that resizes the map to 2^0 .. 2^5 shards at random (another
 * count than it has) until told to stop. */
typedef struct {
    gomap_shard_t *m;
    uint64_t rng;
    atomic_bool stop;
    uint64_t resizes;
} resizer;

static void *resize_main(void *arg)
{
    resizer *r = arg;
    while (!atomic_load_explicit(&r->stop, memory_order_acquire)) {
        unsigned n = 1u << test_rand_below(&r->rng, 6);
        if (n == gomap_shard_count(r->m))
            n = n == 1 ? 2 : n / 2;
        CHECK_EQ(gomap_shard_resize(r->m, n), 0);
        r->resizes++;
        sched_yield(); /* the history's threads run too, on 2 cores */
    }
    return NULL;
}

static void run_one(unsigned shards, int variant, bool resizing, int index, uint64_t *rng,
                    totals *t)
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

    gomap_shard_t *m = shardcheck_new_u64(variant, sizeof(uint64_t), shards);
    resizer rs = {m, test_rand(rng), false, 0};
    pthread_t th;
    if (resizing)
        CHECK_EQ(pthread_create(&th, NULL, resize_main, &rs), 0);
    lc_outcome out = lincheck_run(&shard_adapter, m, &cfg);
    if (resizing) {
        atomic_store_explicit(&rs.stop, true, memory_order_release);
        CHECK_EQ(pthread_join(th, NULL), 0);
        t->resizes += rs.resizes;
    }
    CHECK_MSG(out.verdict == LC_OK,
              "%u shards%s, %s hash, history %d: %u threads x %u ops on %u keys, history seed %"
              PRIu64 ": %s", shards, resizing ? " (resizing)" : "", hash_variant_name(variant),
              index, cfg.threads,
              cfg.ops_per_thread, cfg.nkeys, cfg.seed,
              out.verdict == LC_VIOLATION ? "not linearizable" : "invalid history");
    CHECK_SHARD_VALID(m);
    gomap_shard_free(m);
    t->histories++;
    t->ops += out.ops;
    t->concurrent += out.concurrent;
    t->overlapping += out.overlapping;
    t->configs += out.stats.configs;
}

static void run_config(unsigned shards, int variant, bool resizing, uint64_t salt)
{
    uint64_t rng = test_seed() ^ salt;
    totals t = {0, 0, 0, 0, 0, 0};
    /* A third as many histories while resizing: each resize waits for a
     * grace period, and the resizing thread shares the cores. */
    int histories = resizing ? HISTORIES / 3 : HISTORIES;
    for (int i = 0; i < histories; i++)
        run_one(shards, variant, resizing, i, &rng, &t);
    printf("   %u shard%s%s, %s hash: %zu histories, %zu operations, %zu of %zu racing ones "
           "overlapped another thread's, %" PRIu64 " resizes, %zu search configurations: all "
           "linearizable\n", shards, shards == 1 ? "" : "s",
           resizing ? " at first, resized meanwhile" : "", hash_variant_name(variant),
           t.histories, t.ops, t.overlapping, t.concurrent, t.resizes, t.configs);
    /* The test tested something: racing operations met (and resizes ran). */
    CHECK(t.overlapping > 0);
    CHECK(!resizing || t.resizes > 0);
}

static void test_one_shard(void) { run_config(1, HV_BUILTIN, false, 0x11); }
static void test_sixteen_shards(void) { run_config(16, HV_BUILTIN, false, 0x16); }
static void test_sixteen_shards_degenerate(void) { run_config(16, HV_DEGENERATE, false, 0xD6); }
static void test_resizing(void) { run_config(1, HV_BUILTIN, true, 0x2E); }
static void test_resizing_degenerate(void) { run_config(4, HV_DEGENERATE, true, 0x2D); }

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_seed();
    RUN(test_one_shard);
    RUN(test_sixteen_shards);
    RUN(test_sixteen_shards_degenerate);
    RUN(test_resizing);
    RUN(test_resizing_degenerate);
    printf("ok\n");
    return 0;
}
