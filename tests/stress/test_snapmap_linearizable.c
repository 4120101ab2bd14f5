/*
 * test_snapmap_linearizable.c — every operation of gomap_snap_t is
 * linearizable (gomap/snapmap.h, "Ordering"), snapshots included.
 *
 * Thousands of short random histories run on a fresh snapshot map each: 2,
 * 3 or 4 threads, released together, each doing 10-30 operations on 2-4
 * keys with values 0-2, so that threads collide on keys and compare-and-
 * swaps sometimes match. The operations are the map's own (load = get,
 * store = set, delete, clear, len, and snapshot = a view acquired, keys
 * 0..nkeys-1 read through it, released) and the sync map's conditional ones
 * built from gomap_snap_update, each one atomic publish: swap,
 * load_or_store, load_and_delete, compare_and_swap and compare_and_delete
 * read the private copy, change it or (when there is nothing to change)
 * abandon it. Every operation is recorded with timestamps taken before the
 * call and after the return, and the history is checked by
 * tests/support/lincheck (Wing-Gong search with memoisation): some order of
 * the operations that respects real time must give each one exactly the
 * answer it got. After the threads end every key is loaded once more and
 * gomap_snap_validate must pass.
 *
 * A history's map starts empty or with some keys stored by the main thread
 * (recorded and checked too). Every case runs under the three hash
 * variants (builtin, all-colliding, truncated).
 *
 * GOMAP_TEST_SEED reproduces the operations of every history (and the hash
 * seeds), not the thread interleavings, which the scheduler decides; a
 * violation prints the history seed and the minimal violating history.
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "hashvariant.h"
#include "lincheck.h"

#include <gomap.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum {
    HISTORIES = 3000 / WORK_DIV,  /* per hash variant */
    MAX_SETUP = LC_MAX_KEYS,
    FREE_BATCH = 64,              /* maps freed together (see finish_map) */
    UNCHANGED = 1,                /* an update callback's "nothing to publish" */
};

/* ------------------------------------------------------------------------ */
/* The snapshot map as lincheck sees it                                      */
/* ------------------------------------------------------------------------ */

/* Key number k as a map key: spread out, 0 and the top bit included. */
static uint64_t real_key(uint64_t k)
{
    return k == 0 ? 0 : k == 1 ? UINT64_MAX : (k << 61) | (k * 0x9E3779B97F4A7C15ull >> 8);
}

static bool sn_load(void *m, uint64_t k, uint64_t *val)
{
    uint64_t key = real_key(k);
    bool found = gomap_snap_get(m, &key, val);
    CHECK_MSG(found || *val == 0, "get of an absent key gave %" PRIu64, *val);
    return found;
}

static void sn_store(void *m, uint64_t k, uint64_t val)
{
    uint64_t key = real_key(k);
    CHECK_EQ(gomap_snap_set(m, &key, &val), 0);
}

static void sn_delete(void *m, uint64_t k)
{
    uint64_t key = real_key(k);
    int rc = gomap_snap_delete(m, &key);
    CHECK_MSG(rc == 0 || rc == 1, "delete returned %d", rc);
}

static void sn_clear(void *m)
{
    CHECK_EQ(gomap_snap_clear(m), 0);
}

static size_t sn_len(void *m)
{
    return gomap_snap_len(m);
}

static lc_state sn_snapshot(void *m, unsigned nkeys)
{
    const gomap_snap_view_t *view = gomap_snap_acquire(m);
    lc_state s = 0;
    for (unsigned k = 0; k < nkeys; k++) {
        uint64_t key = real_key(k), v;
        if (gomap_snap_view_get(view, &key, &v))
            s = lc_state_put(s, k, v);
    }
    gomap_snap_release(view);
    return s;
}

/* ---- conditional operations: one update each ------------------------------- */

typedef struct {
    uint64_t key;
    uint64_t val;    /* the value to store */
    uint64_t old;    /* compare_and_*: the expected value */
    uint64_t out;    /* the value found (or stored, for load_or_store) */
    bool found;
} cond_op;

static int upd_swap(gomap_t *copy, void *ctx)
{
    cond_op *c = ctx;
    c->found = gomap_get_copy(copy, &c->key, &c->out);
    return gomap_set(copy, &c->key, &c->val);
}

static int upd_load_or_store(gomap_t *copy, void *ctx)
{
    cond_op *c = ctx;
    if ((c->found = gomap_get_copy(copy, &c->key, &c->out)))
        return UNCHANGED;
    c->out = c->val;
    return gomap_set(copy, &c->key, &c->val);
}

static int upd_load_and_delete(gomap_t *copy, void *ctx)
{
    cond_op *c = ctx;
    if (!(c->found = gomap_get_copy(copy, &c->key, &c->out)))
        return UNCHANGED;
    gomap_delete(copy, &c->key);
    return 0;
}

/* compare_and_swap (val set) and compare_and_delete (del). */
static int upd_compare(gomap_t *copy, cond_op *c, bool del)
{
    uint64_t cur;
    c->found = gomap_get_copy(copy, &c->key, &cur) && cur == c->old;
    if (!c->found)
        return UNCHANGED;
    if (del) {
        gomap_delete(copy, &c->key);
        return 0;
    }
    return gomap_set(copy, &c->key, &c->val);
}

static int upd_cas(gomap_t *copy, void *ctx)
{
    return upd_compare(copy, ctx, false);
}

static int upd_cad(gomap_t *copy, void *ctx)
{
    return upd_compare(copy, ctx, true);
}

/* Runs one conditional operation as an update; true if it found (loaded,
 * swapped, deleted) what it looked for. */
static bool run_cond(void *m, int (*fn)(gomap_t *, void *), cond_op *c)
{
    c->key = real_key(c->key);
    int rc = gomap_snap_update(m, fn, c);
    CHECK_MSG(rc == 0 || rc == UNCHANGED, "update returned %d", rc);
    return c->found;
}

static bool sn_swap(void *m, uint64_t k, uint64_t val, uint64_t *prev)
{
    cond_op c = {.key = k, .val = val};
    bool loaded = run_cond(m, upd_swap, &c);
    *prev = c.out;
    return loaded;
}

static bool sn_load_or_store(void *m, uint64_t k, uint64_t val, uint64_t *actual)
{
    cond_op c = {.key = k, .val = val};
    bool loaded = run_cond(m, upd_load_or_store, &c);
    *actual = c.out;
    return loaded;
}

static bool sn_load_and_delete(void *m, uint64_t k, uint64_t *val)
{
    cond_op c = {.key = k};
    bool loaded = run_cond(m, upd_load_and_delete, &c);
    *val = c.out;
    return loaded;
}

static bool sn_compare_and_swap(void *m, uint64_t k, uint64_t old, uint64_t new_val)
{
    cond_op c = {.key = k, .val = new_val, .old = old};
    return run_cond(m, upd_cas, &c);
}

static bool sn_compare_and_delete(void *m, uint64_t k, uint64_t old)
{
    cond_op c = {.key = k, .old = old};
    return run_cond(m, upd_cad, &c);
}

static const lc_adapter snap_adapter = {
    .name = "gomap_snap",
    .load = sn_load,
    .store = sn_store,
    .swap = sn_swap,
    .load_or_store = sn_load_or_store,
    .load_and_delete = sn_load_and_delete,
    .del = sn_delete,
    .compare_and_swap = sn_compare_and_swap,
    .compare_and_delete = sn_compare_and_delete,
    .clear = sn_clear,
    .len = sn_len,
    .snapshot = sn_snapshot,
};

/* ------------------------------------------------------------------------ */
/* Running histories                                                         */
/* ------------------------------------------------------------------------ */

typedef struct {
    size_t histories, ops, concurrent, overlapping, configs, filled;
    uint64_t versions;
    gomap_snap_t *used[FREE_BATCH];  /* maps done with, not yet freed */
    size_t nused;
} totals;

/* gomap_snap_free waits until the versions the map replaced have passed an
 * RCU grace period (milliseconds). Freed one by one, the maps of a run would
 * spend most of its time waiting; freed together, they share the wait. */
static void free_used_maps(totals *t)
{
    for (size_t i = 0; i < t->nused; i++)
        gomap_snap_free(t->used[i]);
    t->nused = 0;
}

static void finish_map(gomap_snap_t *m, totals *t)
{
    char why[256] = "";
    int rc = gomap_snap_validate(m, why, sizeof why);
    CHECK_MSG(rc == 0, "gomap_snap_validate: %s", why);
    gomap_snap_stats_t st;
    CHECK_EQ(gomap_snap_stats(m, &st), 0);
    CHECK_EQ(st.views, 0);
    t->versions += st.versions;
    if (t->nused == FREE_BATCH)
        free_used_maps(t);
    t->used[t->nused++] = m;
}

static void run_one(int variant, int index, uint64_t *rng, totals *t)
{
    static const unsigned pauses[] = {0, 30, 100, 300};
    lc_op setup[MAX_SETUP];
    /* 2-4 threads x 10-30 operations on 2-4 keys, values 0-2. */
    unsigned nkeys = 2 + (unsigned)test_rand_below(rng, 3);
    unsigned ops = 10 + (unsigned)test_rand_below(rng, 21);
    unsigned pause = pauses[test_rand_below(rng, sizeof pauses / sizeof pauses[0])];
    lc_config cfg = {
        .setup = setup,
        .threads = 2 + (unsigned)(index % 3),
        .nkeys = nkeys,
        .ops_per_thread = ops,
        .nvalues = 3,
        .pause = pause,
        .final_loads = true,
        .seed = test_rand(rng),
        .report = stderr,
    };
    bool filled = test_rand_below(rng, 2);
    for (unsigned k = 0; filled && k < cfg.nkeys; k++)
        if (test_rand_below(rng, 3))
            setup[cfg.nsetup++] = (lc_op){.kind = LC_STORE, .key = k,
                                          .arg = test_rand_below(rng, cfg.nvalues)};

    gomap_options o;
    memset(&o, 0, sizeof o);
    hash_variant_keys(&o, variant);
    o.val_size = sizeof(uint64_t);
    gomap_snap_t *m = NULL;
    CHECK_EQ(gomap_snap_new(&m, &o), 0);
    lc_outcome out = lincheck_run(&snap_adapter, m, &cfg);
    CHECK_MSG(out.verdict == LC_OK,
              "%s hash, history %d: %u threads x %u ops on %u keys, %s start, history seed %"
              PRIu64 ": %s", hash_variant_name(variant), index, cfg.threads,
              cfg.ops_per_thread, cfg.nkeys, filled ? "filled" : "empty", cfg.seed,
              out.verdict == LC_VIOLATION ? "not linearizable" : "invalid history");
    finish_map(m, t);
    t->histories++;
    t->filled += filled;
    t->ops += out.ops;
    t->concurrent += out.concurrent;
    t->overlapping += out.overlapping;
    t->configs += out.stats.configs;
}

static void run_variant(int variant)
{
    uint64_t rng = test_seed() ^ (0x5AA9ull * (unsigned)(variant + 1));
    totals t;
    memset(&t, 0, sizeof t);
    for (int i = 0; i < HISTORIES; i++)
        run_one(variant, i, &rng, &t);
    free_used_maps(&t);
    printf("  %s hash: %zu histories (%zu with a filled start), %zu operations, %zu of %zu "
           "racing ones overlapped another thread's, %zu search configurations, %" PRIu64
           " versions published: all linearizable\n",
           hash_variant_name(variant), t.histories, t.filled, t.ops, t.overlapping,
           t.concurrent, t.configs, t.versions);
    fflush(stdout);
    /* The test tested something: racing operations met and maps moved. */
    CHECK(t.overlapping > 0);
    CHECK(t.versions > t.histories);
}

static void test_histories(void)
{
    run_variant(hv_current);
}

int main(void)
{
    test_seed();
    RUN_VARIANTS(test_histories);
    printf("ok\n");
    return 0;
}
