/*
 * test_syncmap_linearizable.c — every operation of gomap_sync_t is
 * linearizable (gomap/syncmap.h, "Ordering").
 *
 * Thousands of short random histories run on a fresh sync map each: 2, 3
 * or 4 threads, released together, each doing 10-30 operations (load,
 * store, swap, load_or_store, load_and_delete, delete, compare_and_swap,
 * compare_and_delete, now and then clear) on 2-4 keys with values 0-2, so
 * threads collide on keys and compare-and-swaps sometimes match. Every
 * operation is recorded with timestamps taken before the call and after
 * the return, and the whole history is checked by tests/support/lincheck
 * (Wing-Gong search with memoisation): some order of the operations that
 * respects real time must give each one exactly the answer it got. After
 * the threads end, every key is loaded once more (so the final contents
 * are checked too) and gomap_sync_validate must pass.
 *
 * A history's map starts in one of four shapes, built by the main thread
 * with recorded (and checked) operations, so that the racing operations
 * hit every path of Go's algorithm:
 *   - empty: new keys go to the dirty map under the mutex;
 *   - filled: some keys stored, all still in the dirty map;
 *   - promoted: keys stored, then loaded until the misses (as many as the
 *     dirty map's keys) promote the dirty map to the read-only part: loads,
 *     overwrites and deletes then take the lock-free path;
 *   - expunged: promoted, one key deleted (nil in the read-only part),
 *     then a new key stored, which rebuilds the dirty map from the
 *     read-only part and expunges the deleted key: racing stores must
 *     un-expunge it under the mutex.
 * Loads in the racing phase cause further promotions. The run checks that
 * promotions and dirty-map rebuilds did happen, and that threads did
 * overlap. Every case runs under the three hash variants (builtin,
 * all-colliding, truncated).
 *
 * GOMAP_TEST_SEED reproduces the operations of every history (and the hash
 * seeds), not the thread interleavings, which the scheduler decides; a
 * violation prints the history seed and the minimal violating history.
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "hashvariant.h"
#include "lincheck.h"

#include <gomap/syncmap.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define LEN_OF(a) (sizeof(a) / sizeof((a)[0]))

enum {
    HISTORIES = 4000 / WORK_DIV,  /* per hash variant */
    MAX_SETUP = 64,
    FREE_BATCH = 64,              /* maps freed together (see finish_map) */
};

/* ------------------------------------------------------------------------ */
/* The sync map as lincheck sees it                                          */
/* ------------------------------------------------------------------------ */

static bool sm_load(void *m, uint64_t k, uint64_t *val)
{
    bool found = gomap_sync_load(m, lincheck_key(k), val);
    CHECK_MSG(found || *val == 0, "load of an absent key gave %" PRIu64, *val);
    return found;
}

static void sm_store(void *m, uint64_t k, uint64_t val)
{
    CHECK_EQ(gomap_sync_store(m, lincheck_key(k), &val), 0);
}

static bool sm_swap(void *m, uint64_t k, uint64_t val, uint64_t *prev)
{
    bool loaded = true;
    CHECK_EQ(gomap_sync_swap(m, lincheck_key(k), &val, prev, &loaded), 0);
    return loaded;
}

static bool sm_load_or_store(void *m, uint64_t k, uint64_t val, uint64_t *actual)
{
    bool loaded = true;
    CHECK_EQ(gomap_sync_load_or_store(m, lincheck_key(k), &val, actual, &loaded), 0);
    return loaded;
}

static bool sm_load_and_delete(void *m, uint64_t k, uint64_t *val)
{
    bool found = gomap_sync_load_and_delete(m, lincheck_key(k), val);
    CHECK_MSG(found || *val == 0, "load_and_delete of an absent key gave %" PRIu64, *val);
    return found;
}

static void sm_delete(void *m, uint64_t k)
{
    gomap_sync_delete(m, lincheck_key(k));
}

static bool sm_compare_and_swap(void *m, uint64_t k, uint64_t old, uint64_t new_val)
{
    int rc = gomap_sync_compare_and_swap(m, lincheck_key(k), &old, &new_val);
    CHECK_MSG(rc == 0 || rc == 1, "compare_and_swap returned %d", rc);
    return rc == 1;
}

static bool sm_compare_and_delete(void *m, uint64_t k, uint64_t old)
{
    return gomap_sync_compare_and_delete(m, lincheck_key(k), &old);
}

static void sm_clear(void *m)
{
    gomap_sync_clear(m);
}

/* len is not in the adapter: it is documented as exact only when no write
 * is in flight, not as linearizable; Range is not a snapshot either. */
static const lc_adapter sync_adapter = {
    .name = "gomap_sync",
    .load = sm_load,
    .store = sm_store,
    .swap = sm_swap,
    .load_or_store = sm_load_or_store,
    .load_and_delete = sm_load_and_delete,
    .del = sm_delete,
    .compare_and_swap = sm_compare_and_swap,
    .compare_and_delete = sm_compare_and_delete,
    .clear = sm_clear,
};

/* ------------------------------------------------------------------------ */
/* The starting shapes                                                       */
/* ------------------------------------------------------------------------ */

enum shape { SHAPE_EMPTY, SHAPE_FILLED, SHAPE_PROMOTED, SHAPE_EXPUNGED, SHAPE_COUNT };

static const char *const shape_names[SHAPE_COUNT] = {"empty", "filled", "promoted", "expunged"};

typedef struct {
    lc_op ops[MAX_SETUP];
    size_t n;
} script;

static void add(script *s, lc_kind kind, unsigned key, uint64_t val)
{
    CHECK(s->n < MAX_SETUP);
    s->ops[s->n++] = (lc_op){.kind = kind, .key = key, .arg = val};
}

/* Stores keys [0, nkeys) with random values. */
static void store_keys(script *s, unsigned nkeys, unsigned nvalues, uint64_t *rng)
{
    for (unsigned k = 0; k < nkeys; k++)
        add(s, LC_STORE, k, test_rand_below(rng, nvalues));
}

/* Loads keys [0, nkeys) `rounds` times: each load of a key only in the
 * dirty map is a miss, and nkeys misses promote a dirty map of nkeys keys. */
static void load_keys(script *s, unsigned nkeys, unsigned rounds)
{
    for (unsigned r = 0; r < rounds; r++)
        for (unsigned k = 0; k < nkeys; k++)
            add(s, LC_LOAD, k, 0);
}

static void build_script(script *s, enum shape shape, unsigned nkeys, unsigned nvalues,
                         uint64_t *rng)
{
    s->n = 0;
    switch (shape) {
    case SHAPE_EMPTY:
        break;
    case SHAPE_FILLED:
        for (unsigned k = 0; k < nkeys; k++)
            if (test_rand_below(rng, 2))
                add(s, LC_STORE, k, test_rand_below(rng, nvalues));
        break;
    case SHAPE_PROMOTED:
        store_keys(s, nkeys, nvalues, rng);
        load_keys(s, nkeys, 2);
        break;
    case SHAPE_EXPUNGED:
        store_keys(s, nkeys - 1, nvalues, rng);
        load_keys(s, nkeys - 1, 2);
        add(s, LC_DELETE, 0, 0);
        add(s, LC_STORE, nkeys - 1, test_rand_below(rng, nvalues));
        break;
    case SHAPE_COUNT:
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* Running histories                                                         */
/* ------------------------------------------------------------------------ */

typedef struct {
    size_t histories, ops, concurrent, overlapping, configs;
    uint64_t promotions, dirty_copies;
    size_t by_shape[SHAPE_COUNT];
    gomap_sync_t *used[FREE_BATCH];  /* maps done with, not yet freed */
    size_t nused;
} totals;

static gomap_sync_t *new_sync_map(int variant)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    hash_variant_keys(&o, variant);
    o.val_size = sizeof(uint64_t);
    gomap_sync_t *m = NULL;
    CHECK_EQ(gomap_sync_new(&m, &o), 0);
    return m;
}

/* gomap_sync_free clears the map, then waits until what it retired has
 * passed an RCU grace period (milliseconds). Freed one by one, the maps of
 * a run would spend most of its time waiting; cleared together first, they
 * share one wait. */
static void free_used_maps(totals *t)
{
    for (size_t i = 0; i < t->nused; i++)
        gomap_sync_clear(t->used[i]);
    for (size_t i = 0; i < t->nused; i++)
        gomap_sync_free(t->used[i]);
    t->nused = 0;
}

/* Validates the map (no thread is running), adds its counters and puts it
 * aside to be freed. */
static void finish_map(gomap_sync_t *m, totals *t)
{
    char why[256];
    int rc = gomap_sync_validate(m, why, sizeof why);
    CHECK_MSG(rc == 0, "gomap_sync_validate: %s", why);
    gomap_sync_stats_t st;
    CHECK_EQ(gomap_sync_stats(m, &st), 0);
    t->promotions += st.promotions;
    t->dirty_copies += st.dirty_copies;
    if (t->nused == FREE_BATCH)
        free_used_maps(t);
    t->used[t->nused++] = m;
}

static void run_one(int variant, int index, uint64_t *rng, totals *t)
{
    static const unsigned pauses[] = {0, 30, 100, 300};
    script setup;
    enum shape shape = (enum shape)test_rand_below(rng, SHAPE_COUNT);
    lc_config cfg = {
        .threads = 2 + (unsigned)(index % 3),
        .nkeys = 2 + (unsigned)test_rand_below(rng, 3),
        .ops_per_thread = 10 + (unsigned)test_rand_below(rng, 21),
        .nvalues = 3,
        .final_loads = true,
        .pause = pauses[test_rand_below(rng, LEN_OF(pauses))],
        .seed = test_rand(rng),
        .report = stderr,
    };
    build_script(&setup, shape, cfg.nkeys, cfg.nvalues, rng);
    cfg.setup = setup.ops;
    cfg.nsetup = setup.n;

    gomap_sync_t *m = new_sync_map(variant);
    lc_outcome out = lincheck_run(&sync_adapter, m, &cfg);
    CHECK_MSG(out.verdict == LC_OK,
              "%s hash, history %d: %u threads x %u ops on %u keys, start %s, "
              "history seed %" PRIu64 ": %s",
              hash_variant_name(variant), index, cfg.threads, cfg.ops_per_thread, cfg.nkeys,
              shape_names[shape], cfg.seed,
              out.verdict == LC_VIOLATION ? "not linearizable" : "invalid history");
    finish_map(m, t);
    t->histories++;
    t->ops += out.ops;
    t->concurrent += out.concurrent;
    t->overlapping += out.overlapping;
    t->configs += out.stats.configs;
    t->by_shape[shape]++;
}

static void run_variant(int variant)
{
    uint64_t rng = test_seed() ^ (0x51A7ull * (unsigned)(variant + 1));
    totals t = {0};
    for (int i = 0; i < HISTORIES; i++)
        run_one(variant, i, &rng, &t);
    free_used_maps(&t);
    printf("  %s hash: %zu histories (%zu empty, %zu filled, %zu promoted, %zu expunged "
           "starts), %zu operations, %zu of %zu racing ones overlapped another thread's, "
           "%zu search configurations, %" PRIu64 " promotions, %" PRIu64
           " dirty rebuilds: all linearizable\n",
           hash_variant_name(variant), t.histories, t.by_shape[SHAPE_EMPTY],
           t.by_shape[SHAPE_FILLED], t.by_shape[SHAPE_PROMOTED], t.by_shape[SHAPE_EXPUNGED],
           t.ops, t.overlapping, t.concurrent, t.configs, t.promotions, t.dirty_copies);
    fflush(stdout);
    /* The test tested something: racing operations met, and the shapes
     * reached the read-only part and the dirty-map rebuild. */
    CHECK(t.overlapping > 0);
    CHECK(t.promotions >= t.by_shape[SHAPE_PROMOTED] + t.by_shape[SHAPE_EXPUNGED]);
    CHECK(t.dirty_copies >= t.by_shape[SHAPE_EXPUNGED]);
}

static void test_builtin_hash(void) { run_variant(HV_BUILTIN); }
static void test_degenerate_hash(void) { run_variant(HV_DEGENERATE); }
static void test_truncated_hash(void) { run_variant(HV_TRUNCATED); }

int main(void)
{
    test_seed();
    RUN(test_builtin_hash);
    RUN(test_degenerate_hash);
    RUN(test_truncated_hash);
    return 0;
}
