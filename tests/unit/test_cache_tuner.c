/*
 * test_cache_tuner.c — the cache's count-min sketch (src/cache/cache_sketch.h)
 * and window tuner (src/cache/cache_tuner.h), internal modules of the cache.
 *
 * Sketch: a key incremented k times is estimated at least min(k, 15) and
 * saturates at 15; the counts halve when a sample completes, by a sweep
 * of a few blocks an increment that ends within capacity / 8; growing
 * restarts the counts and keeps working; out of memory (init and grow)
 * leaves the sketch unchanged and usable, and the bytes it reports are the
 * bytes it holds.
 *
 * Tuner: on a recency-heavy stream (every key reused a few times soon after
 * its first use, then never) the window share climbs to the 80 % shadow's;
 * on a frequency-heavy stream (a skewed hot set under a scan of one-hit
 * wonders) it stays at 1 %; a seed repeats a run's shares exactly; its
 * memory is bounded whatever the capacity and matches what it allocated;
 * every allocation of gomap__tuner_new failed in turn gives NULL and leaks
 * nothing. The keys' hashes come from test_seed().
 */
#include "check.h"
#include "fail_alloc.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "cache/cache_sketch.h"
#include "cache/cache_tuner.h"

static uint64_t seed;

/* The hash the map would give key k (seeded from the run's seed). */
static uint64_t key_hash(uint64_t k)
{
    uint64_t s = k ^ seed;
    return test_rand(&s);
}

/* ---- sketch ---- */

static void test_sketch_counts(void)
{
    cache_sketch s;
    CHECK_EQ(gomap__sketch_init(&s, 1000, seed, NULL), 0);
    CHECK_EQ(s.sample, 10000);
    CHECK(s.width >= 4000 && (s.width & (s.width - 1)) == 0);
    /* 4 rows of width / 16 words, and a mark bit a 64-byte block. */
    size_t mark_words = (s.width / 32 + 63) / 64;
    CHECK_EQ(gomap__sketch_bytes(&s), (s.width / 16 * 4 + mark_words) * sizeof(uint64_t));
    /* Key k is incremented k % 21 times: 0..20, some past saturation; 1000
     * increments stay below the sample, so nothing is halved. */
    for (uint64_t k = 0; k < 100; k++)
        for (uint64_t i = 0; i < k % 21; i++)
            gomap__sketch_increment(&s, key_hash(k));
    for (uint64_t k = 0; k < 100; k++) {
        unsigned f = gomap__sketch_frequency(&s, key_hash(k)), want = k % 21 < 15 ? k % 21 : 15;
        CHECK_MSG(f >= want && f <= 15, "key %" PRIu64 ": %u, incremented %" PRIu64, k, f, k % 21);
        if (k % 21 >= 15)
            CHECK_EQ(f, 15);
    }
    gomap__sketch_free(&s, NULL);
    CHECK(s.words == NULL);
    gomap__sketch_free(&s, NULL); /* twice is harmless */

    /* Capacity 0 is sized as 1, in one block. */
    CHECK_EQ(gomap__sketch_init(&s, 0, seed, NULL), 0);
    CHECK_EQ(s.sample, 10);
    CHECK_EQ(s.width, 32); /* one 64-byte block of counters at least */
    gomap__sketch_free(&s, NULL);
}

static void test_sketch_halving(void)
{
    cache_sketch s;
    CHECK_EQ(gomap__sketch_init(&s, 16, seed, NULL), 0);
    CHECK_EQ(s.sample, 160);
    uint64_t hot = key_hash(UINT64_MAX);
    for (int i = 0; i < 15; i++)
        gomap__sketch_increment(&s, hot);
    CHECK_EQ(gomap__sketch_frequency(&s, hot), 15);
    /* Other keys until the sample completes: then the count of additions
     * and every counter halve (hot's 15s become 7s), in effect at once,
     * in work by a sweep the next increments carry out. */
    size_t before = s.additions;
    uint64_t k = 0;
    while (s.additions >= before) {
        before = s.additions;
        CHECK(k < 10000);
        gomap__sketch_increment(&s, key_hash(k++));
    }
    CHECK_EQ(s.additions, s.sample / 2);
    CHECK_EQ(s.swept, 0);
    CHECK_EQ(gomap__sketch_frequency(&s, hot), 7);
    gomap__sketch_increment(&s, key_hash(k++)); /* 2 blocks: swept in one */
    CHECK_EQ(s.swept, s.width / 32);
    CHECK_EQ(gomap__sketch_frequency(&s, hot), 7);
    /* Saturated counters are not counted as additions: a key at 15 alone
     * does not age the sketch. */
    cache_sketch t;
    CHECK_EQ(gomap__sketch_init(&t, 2, seed, NULL), 0); /* sample 20 */
    for (int i = 0; i < 1000; i++)
        gomap__sketch_increment(&t, hot);
    CHECK_EQ(gomap__sketch_frequency(&t, hot), 15);
    gomap__sketch_free(&t, NULL);
    gomap__sketch_free(&s, NULL);
}

/* A wide sketch halves over many increments, a few blocks each, and is
 * done within capacity / 8 of them; every estimate reads halved from the
 * moment the sample completes, swept or not. */
enum { PROBES = 1000 };

static void test_sketch_halving_sweep(void)
{
    cache_sketch s;
    CHECK_EQ(gomap__sketch_init(&s, 1024, seed, NULL), 0);
    size_t blocks = s.width / 32;
    CHECK(blocks >= 64);
    /* Probe keys with counts 0..15, then fill until one increment short
     * of the sample. */
    static unsigned before[PROBES];
    for (uint64_t p = 0; p < PROBES; p++)
        for (uint64_t i = 0; i < p % 16; i++)
            gomap__sketch_increment(&s, key_hash(1000000 + p));
    uint64_t k = 0;
    while (s.additions + 1 < s.sample)
        gomap__sketch_increment(&s, key_hash(k++));
    for (uint64_t p = 0; p < PROBES; p++)
        before[p] = gomap__sketch_frequency(&s, key_hash(1000000 + p));
    gomap__sketch_increment(&s, key_hash(k++)); /* completes the sample */
    CHECK_EQ(s.additions, s.sample / 2);
    CHECK_EQ(s.swept, 0);
    /* Halved, though no block has been swept: (c + 1) / 2 where the
     * completing key shares all four counters. */
    for (uint64_t p = 0; p < PROBES; p++) {
        unsigned f = gomap__sketch_frequency(&s, key_hash(1000000 + p));
        CHECK_MSG(f == before[p] / 2 || f == (before[p] + 1) / 2,
                  "probe %" PRIu64 ": %u before, %u after the sample", p, before[p], f);
    }
    size_t steps = 0;
    while (s.swept < blocks) {
        size_t was = s.swept;
        gomap__sketch_increment(&s, key_hash(k++));
        CHECK(s.swept > was && s.swept - was <= 2); /* bounded work a call */
        steps++;
    }
    CHECK_MSG(steps <= 1024 / 8, "the sweep took %zu increments", steps);
    gomap__sketch_free(&s, NULL);
}

static void test_sketch_ensure(void)
{
    fail_alloc fa;
    fail_alloc_init(&fa);
    cache_sketch s;
    CHECK_EQ(gomap__sketch_init(&s, 16, seed, &fa.iface), 0);
    CHECK_EQ(fa.live_bytes, gomap__sketch_bytes(&s));
    uint64_t h = key_hash(1);
    for (int i = 0; i < 5; i++)
        gomap__sketch_increment(&s, h);
    CHECK_EQ(gomap__sketch_frequency(&s, h), 5);

    /* Not larger: nothing changes. */
    uint64_t *words = s.words;
    CHECK_EQ(gomap__sketch_ensure(&s, 10, &fa.iface), 0);
    CHECK_EQ(gomap__sketch_ensure(&s, 16, &fa.iface), 0);
    CHECK(s.words == words);
    CHECK_EQ(s.sample, 160);
    CHECK_EQ(gomap__sketch_frequency(&s, h), 5);

    /* Larger, rows wide enough already (the smallest sketch, one block of
     * 32 counters a row, fits 4 x 8): the sample grows, the counts stay. */
    cache_sketch one;
    CHECK_EQ(gomap__sketch_init(&one, 1, seed, &fa.iface), 0);
    gomap__sketch_increment(&one, h);
    CHECK_EQ(gomap__sketch_ensure(&one, 8, &fa.iface), 0);
    CHECK_EQ(one.sample, 80);
    CHECK_EQ(one.width, 32);
    CHECK_EQ(gomap__sketch_frequency(&one, h), 1);
    gomap__sketch_free(&one, &fa.iface);

    /* Out of memory: -ENOMEM, the sketch as it was, still counting. */
    cache_sketch copy = s;
    fa.fail_all = 1;
    CHECK_EQ(gomap__sketch_ensure(&s, 5000, &fa.iface), -ENOMEM);
    fa.fail_all = 0;
    CHECK(memcmp(&copy, &s, sizeof s) == 0);
    CHECK_EQ(gomap__sketch_frequency(&s, h), 5);
    gomap__sketch_increment(&s, h);
    CHECK_EQ(gomap__sketch_frequency(&s, h), 6);

    /* Larger: wider rows, counts restart, and it keeps working. */
    CHECK_EQ(gomap__sketch_ensure(&s, 5000, &fa.iface), 0);
    CHECK(s.width >= 20000);
    CHECK_EQ(s.sample, 50000);
    CHECK_EQ(s.additions, 0);
    CHECK_EQ(fa.live_bytes, gomap__sketch_bytes(&s));
    CHECK_EQ(gomap__sketch_frequency(&s, h), 0);
    for (uint64_t k = 0; k < 3000; k++)
        for (uint64_t i = 0; i < k % 4; i++)
            gomap__sketch_increment(&s, key_hash(k));
    for (uint64_t k = 0; k < 3000; k++)
        CHECK(gomap__sketch_frequency(&s, key_hash(k)) >= k % 4);
    gomap__sketch_free(&s, &fa.iface);
    CHECK_EQ(fa.live_bytes, 0);
    CHECK_EQ(fa.live_blocks, 0);
}

static void test_sketch_enomem(void)
{
    fail_alloc fa;
    fail_alloc_init(&fa);
    cache_sketch s;
    memset(&s, 0x5a, sizeof s);
    cache_sketch copy = s;
    fail_alloc_fail_nth(&fa, 1);
    CHECK_EQ(gomap__sketch_init(&s, 100, seed, &fa.iface), -ENOMEM);
    CHECK_EQ(fa.failures, 1);
    CHECK(memcmp(&copy, &s, sizeof s) == 0);
    /* Too large to allocate at all. */
    CHECK_EQ(gomap__sketch_init(&s, SIZE_MAX, seed, &fa.iface), -ENOMEM);
    CHECK(memcmp(&copy, &s, sizeof s) == 0);
    CHECK_EQ(gomap__sketch_init(&s, 100, seed, &fa.iface), 0);
    copy = s;
    CHECK_EQ(gomap__sketch_ensure(&s, SIZE_MAX, &fa.iface), -ENOMEM);
    CHECK(memcmp(&copy, &s, sizeof s) == 0);
    gomap__sketch_free(&s, &fa.iface);
    CHECK_EQ(fa.live_bytes, 0);
}

/* ---- tuner ---- */

/* Recency-heavy: key i is first used at step i and reused `reuses` times
 * at the given lags (in steps) after it, then never again; each step
 * accesses the new key and the reuses due. Returns the share at the end
 * and the highest share seen. */
static double recency_stream(cache_tuner *t, size_t steps, double *max_share)
{
    static const size_t lags[] = {40, 150, 400};
    *max_share = 0;
    for (size_t i = 0; i < steps; i++) {
        gomap__tuner_access(t, key_hash(i));
        for (size_t l = 0; l < sizeof lags / sizeof lags[0]; l++)
            if (i >= lags[l])
                gomap__tuner_access(t, key_hash(i - lags[l]));
        double sh = gomap__tuner_window_share(t);
        *max_share = sh > *max_share ? sh : *max_share;
    }
    return gomap__tuner_window_share(t);
}

/* Frequency-heavy: a skewed hot set (key u^3 x hot for u uniform), every
 * 4th access a one-hit wonder of a scan. */
static double frequency_stream(cache_tuner *t, size_t n, uint64_t hot, uint64_t rng,
                               double *max_share)
{
    uint64_t scan = 1ull << 40;
    *max_share = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t k;
        if (i % 4 == 3) {
            k = scan++;
        } else {
            double u = (double)(test_rand(&rng) >> 11) / 9007199254740992.0;
            k = (uint64_t)((double)hot * u * u * u);
        }
        gomap__tuner_access(t, key_hash(k));
        double sh = gomap__tuner_window_share(t);
        *max_share = sh > *max_share ? sh : *max_share;
    }
    return gomap__tuner_window_share(t);
}

static void test_tuner_recency(void)
{
    static const size_t caps[] = {500, 1000, 4000};
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        cache_tuner *t = gomap__tuner_new(caps[c], seed, NULL);
        CHECK(t != NULL);
        CHECK(gomap__tuner_window_share(t) == 0.01);
        double max, end = recency_stream(t, 200 * caps[c] / WORK_DIV, &max);
        printf("  recency, capacity %zu: share %.2f (max %.2f)\n", caps[c], end, max);
        /* Up from 1 %: to 80 %, or to 20 % where every reuse of the stream
         * falls within 20 % of the capacity and the two shadows tie. */
        CHECK_MSG(end >= 0.2, "capacity %zu: share %.3f", caps[c], end);
        gomap__tuner_free(t, NULL);
    }
}

static void test_tuner_frequency(void)
{
    static const size_t caps[] = {500, 1000, 4000};
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        cache_tuner *t = gomap__tuner_new(caps[c], seed, NULL);
        CHECK(t != NULL);
        double max, end = frequency_stream(t, 200 * caps[c] / WORK_DIV, 4 * caps[c], seed, &max);
        printf("  frequency, capacity %zu: share %.2f (max %.2f)\n", caps[c], end, max);
        CHECK_MSG(end <= 0.06, "capacity %zu: share %.3f", caps[c], end);
        gomap__tuner_free(t, NULL);
    }
}

static void test_tuner_deterministic(void)
{
    enum { CAP = 300, N = 60 * CAP };
    cache_tuner *a = gomap__tuner_new(CAP, seed, NULL), *b = gomap__tuner_new(CAP, seed, NULL);
    CHECK(a && b);
    uint64_t rng = seed;
    for (size_t i = 0; i < N; i++) {
        /* Phases of recency and frequency so the share moves both ways. */
        uint64_t k = (i / (10 * CAP)) % 2 ? i / 2 : test_rand_below(&rng, 3 * CAP);
        gomap__tuner_access(a, key_hash(k));
        gomap__tuner_access(b, key_hash(k));
        CHECK(gomap__tuner_window_share(a) == gomap__tuner_window_share(b));
    }
    gomap__tuner_free(a, NULL);
    gomap__tuner_free(b, NULL);
}

static void test_tuner_bytes(void)
{
    static const size_t caps[] = {0, 1, 2, 10, 1000, 1024, 1025, 100000, (size_t)1 << 40, SIZE_MAX};
    size_t largest = 0;
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        fail_alloc fa;
        fail_alloc_init(&fa);
        cache_tuner *t = gomap__tuner_new(caps[c], seed, &fa.iface);
        CHECK(t != NULL);
        size_t bytes = gomap__tuner_bytes(t);
        CHECK_EQ(bytes, fa.live_bytes);
        CHECK_MSG(bytes < 72 * 1024, "capacity %zu: %zu bytes", caps[c], bytes);
        largest = bytes > largest ? bytes : largest;
        /* A little traffic: no allocation after creation. */
        size_t allocs = fa.allocs;
        for (uint64_t k = 0; k < 5000; k++)
            gomap__tuner_access(t, key_hash(k % 1500));
        CHECK_EQ(fa.allocs, allocs);
        gomap__tuner_free(t, &fa.iface);
        CHECK_EQ(fa.live_bytes, 0);
        CHECK_EQ(fa.live_blocks, 0);
    }
    printf("  largest tuner: %zu bytes\n", largest);
    gomap__tuner_free(NULL, NULL);
}

static void test_tuner_oom(void)
{
    for (size_t n = 1;; n++) {
        fail_alloc fa;
        fail_alloc_init(&fa);
        fail_alloc_fail_nth(&fa, n);
        cache_tuner *t = gomap__tuner_new(2000, seed, &fa.iface);
        if (t) {
            CHECK_EQ(fa.failures, 0);
            CHECK(n > 1);
            gomap__tuner_free(t, &fa.iface);
            CHECK_EQ(fa.live_bytes, 0);
            break;
        }
        CHECK_EQ(fa.failures, 1);
        CHECK_EQ(fa.live_bytes, 0);
        CHECK_EQ(fa.live_blocks, 0);
    }
}

int main(void)
{
    seed = test_seed();
    RUN(test_sketch_counts);
    RUN(test_sketch_halving);
    RUN(test_sketch_halving_sweep);
    RUN(test_sketch_ensure);
    RUN(test_sketch_enomem);
    RUN(test_tuner_recency);
    RUN(test_tuner_frequency);
    RUN(test_tuner_deterministic);
    RUN(test_tuner_bytes);
    RUN(test_tuner_oom);
    return 0;
}
