/*
 * test_syncmap_slab.c — where the sync map's values and entries live
 * (src/sync/syncmap_slab.c): blocks the map owns, recycled after a grace
 * period, freed whole with the map.
 *
 *   test_box_reuse       overwrites of one key with every allocation
 *                        refused: they succeed while recycled or carved
 *                        boxes last, then fail with -ENOMEM leaving the
 *                        value as it was; once the retired boxes' grace
 *                        period has passed, overwrites succeed again, still
 *                        without any allocation.
 *   test_entry_reuse     keys added and cleared (entries made and retired)
 *                        round after round: after the first round every
 *                        entry and box is recycled, no block allocated.
 *   test_other_stripe    one thread adds keys, another deletes them: the
 *                        adder takes the deleter's recycled objects (another
 *                        stripe's free list), so memory stops growing.
 *   test_random_model    seeded random writes, deletes, ranges and clears
 *                        against a model, grace periods let pass at random
 *                        points: the answers match, and the memory the map
 *                        holds in the second half of the run is bounded by
 *                        what it held in the first (objects are reused, not
 *                        accumulated).
 *   test_big_values      values bigger than a block (a block each): stored,
 *                        replaced, deleted and freed without a leak.
 *   test_free_blocks     freeing a map of many keys frees blocks, not keys
 *                        (far fewer allocator calls than keys), and leaks
 *                        nothing.
 *
 * Every allocation goes through locked_alloc (the reclaimer thread frees
 * too), whose counters say what the map holds. Seeds: test_seed().
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "locked_alloc.h"

#include <gomap/reclaim.h>
#include <gomap/syncmap.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_SYNC_VALID(m) \
    do { char why_[256] = ""; int rc_ = gomap_sync_validate((m), why_, sizeof why_); \
         if (rc_ != 0) check_fail(__FILE__, __LINE__, "gomap_sync_validate(" #m ")", why_); } while (0)

static gomap_sync_t *sync_new(locked_alloc *la, size_t hint)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = GOMAP_KEY_U64;
    o.val_size = sizeof(uint64_t);
    o.hint = hint;
    o.alloc = &la->iface;
    gomap_sync_t *m = NULL;
    CHECK_EQ(gomap_sync_new(&m, &o), 0);
    return m;
}

static void store(gomap_sync_t *m, uint64_t k, uint64_t v)
{
    CHECK_EQ(gomap_sync_store(m, &k, &v), 0);
}

/* Lets every retirement so far through its grace period: stats hands the
 * partial batches to RCU, the barrier waits for their callbacks. */
static void let_grace_pass(gomap_sync_t *m)
{
    gomap_sync_stats_t s;
    CHECK_EQ(gomap_sync_stats(m, &s), 0);
    gomap_rcu_barrier();
}

static void free_and_check(gomap_sync_t *m, locked_alloc *la, const char *where)
{
    gomap_sync_free(m);
    fail_alloc c = locked_alloc_counts(la);
    CHECK_MSG(c.live_blocks == 0 && c.live_bytes == 0, "%s: %zu blocks, %zu bytes leaked",
              where, c.live_blocks, c.live_bytes);
    locked_alloc_destroy(la);
}

static bool no_op(const void *k, const void *v, void *ctx)
{
    (void)k;
    (void)v;
    (void)ctx;
    return true;
}

/* ------------------------------------------------------------------------ */

static void test_box_reuse(void)
{
    locked_alloc la;
    locked_alloc_init(&la);
    gomap_sync_t *m = sync_new(&la, 0);
    uint64_t k = 1, v = 0, got = 0;
    store(m, k, v);
    gomap_sync_range(m, no_op, NULL); /* promoted: overwrites are lock-free */
    let_grace_pass(m);

    locked_alloc_arm(&la, 0, true);
    size_t refused0 = locked_alloc_counts(&la).failures;
    int rc = 0;
    while (rc == 0) {
        CHECK_MSG(v < 100000, "overwrites never ran out of boxes");
        uint64_t nv = v + 1;
        rc = gomap_sync_store(m, &k, &nv);
        if (rc == 0)
            v = nv;
    }
    CHECK_EQ(rc, -ENOMEM);
    CHECK_EQ(locked_alloc_counts(&la).failures, refused0 + 1);
    CHECK(gomap_sync_load(m, &k, &got) && got == v);
    CHECK_EQ(gomap_sync_len(m), 1);
    CHECK_SYNC_VALID(m);
    printf("   %" PRIu64 " overwrites before a new block was needed\n", v);

    /* The replaced boxes come back after their grace period. */
    let_grace_pass(m);
    size_t allocs0 = locked_alloc_counts(&la).allocs;
    for (uint64_t i = 0; i < v; i++) {
        uint64_t nv = 1000000 + i;
        CHECK_EQ(gomap_sync_store(m, &k, &nv), 0);
        CHECK(gomap_sync_load(m, &k, &got) && got == nv);
    }
    CHECK_EQ(locked_alloc_counts(&la).allocs, allocs0);
    locked_alloc_arm(&la, 0, false);
    CHECK_SYNC_VALID(m);
    free_and_check(m, &la, "box reuse");
}

/* ------------------------------------------------------------------------ */

enum { ROUND_KEYS = 300 };

static void add_keys(gomap_sync_t *m, uint64_t from, uint64_t round)
{
    for (uint64_t k = from; k < ROUND_KEYS; k++)
        store(m, k, k * 1000 + round);
}

static void check_keys(gomap_sync_t *m, uint64_t round)
{
    for (uint64_t k = 0; k < ROUND_KEYS; k++) {
        uint64_t got = 0;
        CHECK(gomap_sync_load(m, &k, &got) && got == k * 1000 + round);
    }
    CHECK_EQ(gomap_sync_len(m), ROUND_KEYS);
}

static void delete_keys(gomap_sync_t *m, uint64_t round)
{
    for (uint64_t k = 0; k < ROUND_KEYS; k++) {
        uint64_t got = 0;
        CHECK(gomap_sync_load_and_delete(m, &k, &got));
        CHECK_EQ(got, k * 1000 + round);
    }
    CHECK_EQ(gomap_sync_len(m), 0);
}

/* An allocator over locked_alloc that counts the allocations of 1 KiB or
 * more: the map's blocks (1 KiB and up) and big tables, not the core map's
 * overflow buckets, which a presized table may still need now and then. */
struct big_count {
    gomap_allocator iface;
    locked_alloc *la;
    atomic_size_t big;
};

static void *bc_alloc(size_t size, void *ctx)
{
    struct big_count *b = ctx;
    if (size >= 1024)
        atomic_fetch_add(&b->big, 1);
    return b->la->iface.alloc(size, b->la->iface.ctx);
}

static void bc_free(void *p, size_t size, void *ctx)
{
    struct big_count *b = ctx;
    b->la->iface.free(p, size, b->la->iface.ctx);
}

static void test_entry_reuse(void)
{
    locked_alloc la;
    locked_alloc_init(&la);
    struct big_count bc = {{bc_alloc, bc_free, &bc}, &la, 0};
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = GOMAP_KEY_U64;
    o.val_size = sizeof(uint64_t);
    /* Presized: after a clear, the first new key makes a dirty map of the
     * hint's size, so the other keys need an entry and a box each and no
     * table growth. */
    o.hint = 4 * ROUND_KEYS;
    o.alloc = &bc.iface;
    gomap_sync_t *m = NULL;
    CHECK_EQ(gomap_sync_new(&m, &o), 0);
    add_keys(m, 0, 0);
    gomap_sync_clear(m);
    let_grace_pass(m);
    for (uint64_t round = 1; round <= 6; round++) {
        add_keys(m, ROUND_KEYS - 1, round); /* the dirty map: allocated */
        size_t before = atomic_load(&bc.big);
        add_keys(m, 0, round);
        check_keys(m, round);
        CHECK_SYNC_VALID(m);
        gomap_sync_clear(m); /* retires every entry and box */
        size_t after = atomic_load(&bc.big);
        CHECK_MSG(after == before, "round %" PRIu64 ": %zu new blocks (recycling expected)",
                  round, after - before);
        let_grace_pass(m);
    }
    free_and_check(m, &la, "entry reuse");
}

/* ------------------------------------------------------------------------ */

struct adder {
    gomap_sync_t *m;
    uint64_t round;
};

static void *adder_main(void *arg)
{
    struct adder *a = arg;
    add_keys(a->m, 0, a->round);
    return NULL;
}

static void test_other_stripe(void)
{
    locked_alloc la;
    locked_alloc_init(&la);
    gomap_sync_t *m = sync_new(&la, 4 * ROUND_KEYS);
    size_t live_after[12];
    for (uint64_t round = 0; round < 12; round++) {
        /* A new thread each round: stripes are handed out round robin, so
         * the adder is rarely on the deleter's (this thread's) stripe. */
        struct adder a = {m, round};
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, adder_main, &a), 0);
        CHECK_EQ(pthread_join(t, NULL), 0);
        delete_keys(m, round);
        let_grace_pass(m);
        live_after[round] = locked_alloc_counts(&la).live_bytes;
    }
    CHECK_MSG(live_after[11] == live_after[1],
              "memory grew from %zu to %zu bytes while keys were added and deleted",
              live_after[1], live_after[11]);
    free_and_check(m, &la, "other stripe");
}

/* ------------------------------------------------------------------------ */

enum { MKEYS = 200 };

static void check_model(gomap_sync_t *m, const bool *present, const uint64_t *val, size_t n,
                        size_t step)
{
    for (uint64_t k = 0; k < MKEYS; k++) {
        uint64_t got = 0;
        bool found = gomap_sync_load(m, &k, &got);
        CHECK_MSG(found == present[k] && (!found || got == val[k]),
                  "step %zu: key %" PRIu64 " found %d value %" PRIu64 ", model %d %" PRIu64,
                  step, k, found, got, present[k], val[k]);
    }
    CHECK_EQ(gomap_sync_len(m), n);
}

static void test_random_model(void)
{
    uint64_t rng = test_seed();
    locked_alloc la;
    locked_alloc_init(&la);
    gomap_sync_t *m = sync_new(&la, 0);
    bool present[MKEYS] = {false};
    uint64_t val[MKEYS] = {0};
    size_t n = 0, peak[2] = {0, 0}, writes = 0;
    const size_t steps = 40000 / WORK_DIV;
    for (size_t step = 0; step < steps; step++) {
        uint64_t k = test_rand_below(&rng, MKEYS), v = test_rand(&rng);
        unsigned op = (unsigned)test_rand_below(&rng, 100);
        if (op < 50) {
            store(m, k, v);
            n += !present[k];
            present[k] = true;
            val[k] = v;
            writes++;
        } else if (op < 85) {
            uint64_t got = 0;
            CHECK(gomap_sync_load_and_delete(m, &k, &got) == present[k]);
            CHECK(!present[k] || got == val[k]);
            n -= present[k];
            present[k] = false;
        } else if (op < 97) {
            uint64_t got = 0;
            CHECK(gomap_sync_load(m, &k, &got) == present[k]); /* misses promote */
        } else if (op < 99) {
            gomap_sync_range(m, no_op, NULL);
        } else if (test_rand_below(&rng, 10) == 0) {
            gomap_sync_clear(m);
            memset(present, 0, sizeof present);
            n = 0;
        }
        if (test_rand_below(&rng, 500) == 0) {
            let_grace_pass(m);
            check_model(m, present, val, n, step);
            CHECK_SYNC_VALID(m);
        }
        size_t live = locked_alloc_counts(&la).live_bytes, *p = &peak[step >= steps / 2];
        *p = live > *p ? live : *p;
    }
    check_model(m, present, val, n, steps);
    CHECK_SYNC_VALID(m);
    printf("   %zu steps, %zu writes, peak bytes held %zu (first half), %zu (second)\n", steps,
           writes, peak[0], peak[1]);
    /* The slack: one more block of the largest size (256 KiB) a kind. */
    CHECK_MSG(peak[1] <= 2 * peak[0] + ((size_t)512 << 10),
              "the map held %zu bytes, then %zu: memory was not reused", peak[0], peak[1]);
    free_and_check(m, &la, "random model");
}

/* ------------------------------------------------------------------------ */

static void test_big_values(void)
{
    /* Values bigger than the biggest block: a block each. */
    static const size_t sizes[] = {65536 - 64, 65536, 200000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        locked_alloc la;
        locked_alloc_init(&la);
        gomap_options o;
        memset(&o, 0, sizeof o);
        o.key_kind = GOMAP_KEY_U64;
        o.val_size = sizes[i];
        o.alloc = &la.iface;
        gomap_sync_t *m = NULL;
        CHECK_EQ(gomap_sync_new(&m, &o), 0);
        unsigned char *v = calloc(1, sizes[i]), *got = calloc(1, sizes[i]);
        CHECK(v && got);
        for (uint64_t round = 0; round < 4; round++) {
            for (uint64_t k = 0; k < 6; k++) {
                memset(v, (int)(k + round), sizes[i]);
                CHECK_EQ(gomap_sync_store(m, &k, v), 0);
            }
            for (uint64_t k = 0; k < 6; k++) {
                CHECK(gomap_sync_load(m, &k, got));
                CHECK(got[0] == (unsigned char)(k + round) &&
                      got[sizes[i] - 1] == (unsigned char)(k + round));
            }
            uint64_t k = round;
            gomap_sync_delete(m, &k);
            CHECK_SYNC_VALID(m);
            let_grace_pass(m);
        }
        free(v);
        free(got);
        free_and_check(m, &la, "big values");
    }
}

/* ------------------------------------------------------------------------ */

static void test_free_blocks(void)
{
    const uint64_t keys = 200000 / WORK_DIV;
    locked_alloc la;
    locked_alloc_init(&la);
    gomap_sync_t *m = sync_new(&la, 0);
    for (uint64_t k = 0; k < keys; k++)
        store(m, k * 0x9E3779B97F4A7C15ull, k);
    gomap_sync_range(m, no_op, NULL);
    for (uint64_t k = 0; k < keys; k += 3) { /* some replaced, some deleted */
        uint64_t key = k * 0x9E3779B97F4A7C15ull;
        if (k % 2)
            store(m, key, k + 1);
        else
            gomap_sync_delete(m, &key);
    }
    size_t frees0 = locked_alloc_counts(&la).frees;
    gomap_sync_free(m);
    fail_alloc c = locked_alloc_counts(&la);
    printf("   %" PRIu64 " keys freed with %zu allocator calls\n", keys, c.frees - frees0);
    CHECK_MSG(c.live_blocks == 0 && c.live_bytes == 0, "%zu blocks, %zu bytes leaked",
              c.live_blocks, c.live_bytes);
    /* Two a key when entries and values were allocated one by one; what is
     * left is mostly the tables' overflow buckets (the core map allocates
     * those one by one: about 3 a hundred keys here). */
    CHECK_MSG(c.frees - frees0 < keys / 10, "%zu frees for %" PRIu64 " keys", c.frees - frees0,
              keys);
    locked_alloc_destroy(&la);
}

int main(void)
{
    test_seed();
    RUN(test_box_reuse);
    RUN(test_entry_reuse);
    RUN(test_other_stripe);
    RUN(test_random_model);
    RUN(test_big_values);
    RUN(test_free_blocks);
    printf("ok\n");
    return 0;
}
