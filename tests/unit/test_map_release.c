/*
 * test_map_release.c — growth gives memory back as it goes, not all in the
 * insert that ends it (src/core/map_release.c, map_grow.c).
 *
 * - Overflow buckets: with a hash that piles keys into few buckets, the
 *   old array's chains have overflow buckets; the insert that ends the
 *   growth must free none of them, and each later write at most 32 (or the
 *   array), until all are gone. With an iterator live across the growth
 *   they are kept until it ends, and the iteration must still produce
 *   every entry exactly once.
 * - Old arrays of the default allocator (mappings of their own): right
 *   after the insert that ends a growth, the old array is still mapped;
 *   a bounded number of further writes gives it back, and from then on the
 *   mapped bytes are the current array's alone. Iterating while it is
 *   given back produces every entry exactly once.
 * - A custom allocator sees every block freed, with its size, by the end.
 * - mem_limit: memory waiting to be given back never makes a write fail.
 *
 * Every assertion is about what the allocator and gomap_stats report, never
 * about time.
 */
#include "check.h"
#include "fail_alloc.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A hash that sends keys to 16 buckets, with distinct top bytes: long
 * chains whatever the map's size. */
static uint64_t few_buckets_hash(const void *key, uint64_t seed)
{
    uint64_t k;
    memcpy(&k, key, sizeof k);
    (void)seed;
    return (k & 15) | (k * 0x9E3779B97F4A7C15ull & ~(uint64_t)0xFFFF);
}

static bool eq_u64(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(uint64_t)) == 0;
}

static gomap_t *new_chained(fail_alloc *fa)
{
    fail_alloc_init(fa);
    gomap_options o = {.key_kind = GOMAP_KEY_CUSTOM, .key_size = 8, .val_size = 8,
                       .hash = few_buckets_hash, .equal = eq_u64, .alloc = &fa->iface};
    gomap_t *m;
    CHECK_EQ(gomap_new(&m, &o), 0);
    return m;
}

static bool growing(const gomap_t *m)
{
    gomap_stats_t st;
    CHECK_EQ(gomap_stats(m, &st), 0);
    return st.growing;
}

static void put(gomap_t *m, uint64_t k)
{
    uint64_t v = k + 1;
    CHECK(gomap_set(m, &k, &v) >= 0);
}

/* Inserts keys from *next until a growth starts, then until it ends;
 * returns the frees of the insert that ended it. */
static size_t frees_ending_growth(gomap_t *m, fail_alloc *fa, uint64_t *next)
{
    while (!growing(m))
        put(m, (*next)++);
    for (;;) {
        size_t before = fa->frees;
        put(m, (*next)++);
        if (!growing(m))
            return fa->frees - before;
    }
}

/* Iterates m, checking that keys [0, n) each come out exactly once with
 * value k + 1 and nothing else does; inserts `add` keys from *next after
 * every `every`-th step (add 0: none). */
static void iterate_all_once(gomap_t *m, uint64_t n, uint64_t *next, unsigned every,
                             unsigned add)
{
    uint8_t *seen = calloc(n, 1);
    CHECK(seen != NULL);
    gomap_iter it;
    gomap_iter_init(&it, m);
    const void *k;
    void *v;
    unsigned steps = 0;
    while (gomap_iter_next(&it, &k, &v)) {
        uint64_t key, val;
        memcpy(&key, k, 8);
        memcpy(&val, v, 8);
        CHECK_EQ(val, key + 1);
        if (key < n) {
            CHECK_MSG(!seen[key], "key %llu produced twice", (unsigned long long)key);
            seen[key] = 1;
        }
        if (add && ++steps % every == 0)
            for (unsigned i = 0; i < add; i++)
                put(m, (*next)++);
    }
    gomap_iter_done(&it);
    for (uint64_t i = 0; i < n; i++)
        CHECK_MSG(seen[i], "key %llu not produced", (unsigned long long)i);
    free(seen);
}

static void test_overflow_freed_after_growth(void)
{
    fail_alloc fa;
    gomap_t *m = new_chained(&fa);
    uint64_t next = 0;
    while (next < 1000) /* chains of about 60 entries */
        put(m, next++);
    for (int growths = 0; growths < 2; growths++) {
        /* The insert that ends the growth frees nothing of the old array;
         * each later write frees at most 32 of its overflow buckets (and
         * with the last of them the array itself), until all are gone. */
        CHECK_EQ(frees_ending_growth(m, &fa, &next), 0);
        size_t freed = 0, quiet = 0;
        while (quiet < 4) {
            size_t before = fa.frees;
            put(m, next++);
            size_t n = fa.frees - before;
            CHECK_MSG(n <= 33, "one write freed %zu blocks", n); /* 32, then the array */
            freed += n;
            quiet = n ? 0 : quiet + 1;
        }
        CHECK_MSG(freed > 1, "only %zu blocks of the old array freed", freed);
    }
    CHECK_VALID(m);
    gomap_free(m);
    CHECK_EQ(fa.live_blocks, 0);
    CHECK_EQ(fa.live_bytes, 0);
}

/* An iterator live across a whole growth keeps every old chain: nothing is
 * freed while it grows, and the iteration is exact. */
static void test_overflow_kept_for_iterator(void)
{
    fail_alloc fa;
    gomap_t *m = new_chained(&fa);
    uint64_t next = 0;
    while (next < 3000 || growing(m))
        put(m, next++);
    uint64_t n = next;
    gomap_iter it;
    gomap_iter_init(&it, m);
    const void *k;
    void *v;
    CHECK(gomap_iter_next(&it, &k, &v));
    CHECK_EQ(frees_ending_growth(m, &fa, &next), 0);
    gomap_iter_done(&it);
    iterate_all_once(m, n, &next, 0, 0);
    /* The next writes give back what the iterator kept. */
    for (int i = 0; i < 4096; i++)
        put(m, next++);
    CHECK_VALID(m);
    gomap_free(m);
    CHECK_EQ(fa.live_blocks, 0);
}

/* Grows a default-allocator u64 map until a growth from an old array of at
 * least 2^13 buckets (over 1 MiB: a mapping of its own) ends. */
static gomap_t *grow_past_large(uint64_t *next, gomap_stats_t *at_end)
{
    gomap_options o = {.key_kind = GOMAP_KEY_U64, .val_size = 8};
    gomap_t *m;
    CHECK_EQ(gomap_new(&m, &o), 0);
    gomap_stats_t st = {0};
    /* gomap_stats costs O(buckets): asked only from shortly before the
     * growth from 2^13 buckets starts (at 6.5 x 2^13 entries), and every
     * 8th insert (the old array takes longer than that to give back). */
    while (*next < 53000)
        put(m, (*next)++);
    for (;;) {
        for (int i = 0; i < 8; i++)
            put(m, (*next)++);
        bool was = st.growing;
        size_t old = st.old_buckets;
        CHECK_EQ(gomap_stats(m, &st), 0);
        if (was && !st.growing && old >= ((size_t)1 << 13))
            break;
    }
    *at_end = st;
    return m;
}

/* Writes until the mapped bytes are the current array's alone (u64 -> u64:
 * 144-byte buckets after a 32-byte header); returns how many it took,
 * failing past 4096. */
static size_t array_bytes_u64(size_t buckets)
{
    return buckets * 144 + 32;
}

static unsigned writes_until_released(gomap_t *m, uint64_t *next)
{
    gomap_stats_t st;
    for (unsigned writes = 0;; writes++) {
        CHECK_EQ(gomap_stats(m, &st), 0);
        CHECK(!st.growing);
        if (st.mapped_bytes == array_bytes_u64(st.buckets))
            return writes;
        CHECK_MSG(writes < 4096, "still %zu bytes mapped for a %zu-bucket array",
                  st.mapped_bytes, st.buckets);
        put(m, (*next)++);
    }
}

static void test_old_array_released_in_slices(void)
{
    uint64_t next = 0;
    gomap_stats_t end;
    gomap_t *m = grow_past_large(&next, &end);
    size_t array = array_bytes_u64(end.buckets);
    CHECK_MSG(end.mapped_bytes > array, "old array already gone: mapped %zu, array %zu",
              end.mapped_bytes, array);
    /* Its overflow buckets go 32 a write (about a thousand of them), then
     * its 1.2 MB 256 KiB a write. */
    unsigned writes = writes_until_released(m, &next);
    CHECK_MSG(writes >= 5 && writes <= 256, "given back over %u writes", writes);
    CHECK_VALID(m);
    gomap_free(m);
}

/* Iterating (and inserting) while the old array is given back. */
static void test_iterate_while_releasing(void)
{
    uint64_t next = 0;
    gomap_stats_t end;
    gomap_t *m = grow_past_large(&next, &end);
    uint64_t n = next;
    iterate_all_once(m, n, &next, 97, 1);
    gomap_stats_t st;
    CHECK_EQ(gomap_stats(m, &st), 0);
    CHECK(st.mapped_bytes < end.mapped_bytes);
    CHECK_VALID(m);
    gomap_free(m);
}

/* An iterator live when the growth ends: the old array waits for it, then
 * is given back in slices by the writes after it ends. */
static void test_iterator_then_release(void)
{
    gomap_options o = {.key_kind = GOMAP_KEY_U64, .val_size = 8};
    gomap_t *m;
    CHECK_EQ(gomap_new(&m, &o), 0);
    uint64_t next = 0;
    while (next < 53000)
        put(m, next++);
    while (!growing(m))
        put(m, next++);
    uint64_t n = next;
    gomap_iter it;
    gomap_iter_init(&it, m);
    const void *k;
    void *v;
    CHECK(gomap_iter_next(&it, &k, &v));
    while (growing(m)) /* gomap_stats is O(buckets): every 8th insert */
        for (int i = 0; i < 8; i++)
            put(m, next++);
    gomap_stats_t st;
    CHECK_EQ(gomap_stats(m, &st), 0);
    CHECK(st.retained_bytes > 0);
    gomap_iter_done(&it);
    iterate_all_once(m, n, &next, 0, 0);
    /* Then its overflow buckets go 32 a write, and its pages 256 KiB. */
    CHECK(writes_until_released(m, &next) > 0);
    CHECK_EQ(gomap_stats(m, &st), 0);
    CHECK_EQ(st.retained_bytes, 0);
    CHECK_VALID(m);
    gomap_free(m);
}

/* Under a mem_limit, memory waiting to be given back never makes a write
 * fail: filling towards the limit, a write that reports -ENOMEM does so
 * with nothing waiting (the only mapped arrays are the live ones). */
static void test_limit_counts_released(void)
{
    uint64_t next = 0;
    gomap_stats_t end;
    gomap_t *probe = grow_past_large(&next, &end);
    gomap_free(probe);
    /* A limit a little over what the map held at the end of that growth,
     * old array included: the next growth cannot fit under it. */
    gomap_options o = {.key_kind = GOMAP_KEY_U64, .val_size = 8,
                       .mem_limit = end.bytes_held + (64 << 10)};
    gomap_t *m;
    CHECK_EQ(gomap_new(&m, &o), 0);
    /* Fill towards the limit (hash seeds differ: this map may need a
     * little more or less than the probe); every write succeeds, or
     * reports -ENOMEM with nothing waiting to be given back. */
    for (uint64_t k = 0; k < next + 20000; k++) {
        uint64_t v = k + 1;
        int rc = gomap_set(m, &k, &v);
        if (rc == -ENOMEM) {
            gomap_stats_t st;
            CHECK_EQ(gomap_stats(m, &st), 0);
            /* Live arrays only: the current one, and the old one while
             * it is being evacuated. */
            CHECK_EQ(st.mapped_bytes, array_bytes_u64(st.buckets) +
                                          (st.growing ? array_bytes_u64(st.old_buckets) : 0));
            break;
        }
        CHECK(rc >= 0);
    }
    CHECK_VALID(m);
    gomap_free(m);
}

int main(void)
{
    RUN(test_overflow_freed_after_growth);
    RUN(test_overflow_kept_for_iterator);
    RUN(test_old_array_released_in_slices);
    RUN(test_iterate_while_releasing);
    RUN(test_iterator_then_release);
    RUN(test_limit_counts_released);
    printf("test_map_release: ok\n");
    return 0;
}
