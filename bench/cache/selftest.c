/*
 * selftest.c — gomap-cachesim --self-test: the policies on synthetic traces
 * whose answers are known, and (when the traces are there) on gli and loop
 * against the reference figures of traces/README.md's independent
 * simulator. Each failed check prints a line; the count is returned.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/sim.h"
#include "cache/trace.h"

static int failures;

#define CHECK(cond, ...)                                                                         \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            failures++;                                                                          \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                      \
            fprintf(stderr, __VA_ARGS__);                                                        \
            fprintf(stderr, "\n");                                                               \
        }                                                                                        \
    } while (0)

static int64_t run(const policy_kind *k, const uint32_t *keys, size_t n, size_t cap, uint64_t seed)
{
    uint32_t n_keys = 0;
    for (size_t i = 0; i < n; i++)
        n_keys = keys[i] >= n_keys ? keys[i] + 1 : n_keys;
    return sim_run(k, keys, n, n_keys, cap, seed);
}

/* Hand-worked answers: LRU and Bélády on 0 1 2 0 3 1 0 2. */
static void test_crafted(void)
{
    static const uint32_t t[] = {0, 1, 2, 0, 3, 1, 0, 2};
    size_t n = sizeof t / sizeof t[0];
    /* LRU, 3 entries: hits at the 2nd 0 and the 3rd 0 only. */
    CHECK(run(&policy_lru, t, n, 3, 1) == 2, "LRU@3 %" PRId64, run(&policy_lru, t, n, 3, 1));
    /* Bélády, 3 entries: 3 is never used again, so it bypasses and 0 1 2 stay. */
    CHECK(run(&policy_belady, t, n, 3, 1) == 4, "Belady@3 %" PRId64, run(&policy_belady, t, n, 3, 1));
    /* Bélády, 2 entries: 2 and 3 bypass; 0 and 1 hit at positions 3, 5, 6. */
    CHECK(run(&policy_belady, t, n, 2, 1) == 3, "Belady@2 %" PRId64, run(&policy_belady, t, n, 2, 1));
    /* A loop of cap keys hits after the first pass; of cap + 1, LRU never hits. */
    uint32_t loop[400];
    for (size_t i = 0; i < 400; i++)
        loop[i] = (uint32_t)(i % 10);
    CHECK(run(&policy_lru, loop, 400, 10, 1) == 390, "LRU loop fits");
    for (size_t i = 0; i < 400; i++)
        loop[i] = (uint32_t)(i % 11);
    CHECK(run(&policy_lru, loop, 400, 10, 1) == 0, "LRU loop of cap+1");
    /* Bélády on a loop of cap + 1 keys misses once per cap accesses or so. */
    int64_t opt = run(&policy_belady, loop, 400, 10, 1);
    CHECK(opt >= 400 - 11 - 400 / 10 - 1, "Belady loop of cap+1: %" PRId64, opt);
}

static uint32_t *random_trace(size_t n, uint32_t keys, bool skewed, uint64_t seed)
{
    uint32_t *t = malloc(n * sizeof *t);
    uint64_t s = seed;
    for (size_t i = 0; t && i < n; i++) {
        double u = (double)(sim_rand(&s) >> 11) / 9007199254740992.0;
        t[i] = (uint32_t)((double)keys * (skewed ? u * u * u : u));
    }
    return t;
}

/* Bélády is an upper bound; no policy ever holds more than its capacity
 * (sim_run fails then). */
static void test_bounds(uint64_t seed)
{
    static const size_t caps[] = {1, 2, 7, 64, 500};
    enum { N = 20000 };
    uint32_t *traces[3] = {random_trace(N, 1000, false, seed), random_trace(N, 2000, true, seed + 1),
                           malloc(N * sizeof(uint32_t))};
    if (!traces[0] || !traces[1] || !traces[2]) {
        CHECK(0, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < N; i++)
        traces[2][i] = (uint32_t)(i % 300);
    for (size_t t = 0; t < 3; t++)
        for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
            int64_t opt = run(&policy_belady, traces[t], N, caps[c], seed);
            CHECK(opt >= 0, "Belady over capacity");
            for (size_t p = 0; policy_all[p]; p++) {
                int64_t h = run(policy_all[p], traces[t], N, caps[c], seed);
                CHECK(h >= 0, "%s over capacity %zu (trace %zu)", policy_all[p]->name, caps[c], t);
                CHECK(h <= opt, "%s beats Belady: %" PRId64 " > %" PRId64 " (trace %zu, cap %zu)",
                      policy_all[p]->name, h, opt, t, caps[c]);
            }
        }
out:
    for (size_t t = 0; t < 3; t++)
        free(traces[t]);
}

/* 40 hot keys, each read 3 times a round, then 150 keys read once: LRU
 * loses the hot set to every scan; scan-resistant policies keep it. */
static void test_scan(uint64_t seed)
{
    enum { ROUNDS = 30, HOT = 40, SCAN = 150, N = ROUNDS * (3 * HOT + SCAN) };
    uint32_t *t = malloc(N * sizeof *t), next = HOT;
    size_t n = 0;
    for (size_t r = 0; t && r < ROUNDS; r++) {
        for (uint32_t h = 0; h < HOT; h++)
            t[n++] = h, t[n++] = h, t[n++] = h;
        for (size_t s = 0; s < SCAN; s++)
            t[n++] = next++;
    }
    if (!t) {
        CHECK(0, "out of memory");
        return;
    }
    int64_t lru = run(&policy_lru, t, n, 100, seed);
    CHECK(lru == ROUNDS * HOT * 2, "LRU on the scan: %" PRId64, lru);
    const policy_kind *resistant[] = {&policy_sieve, &policy_s3fifo, &policy_wtinylfu, &policy_ours};
    for (size_t i = 0; i < sizeof resistant / sizeof resistant[0]; i++) {
        int64_t h = run(resistant[i], t, n, 100, seed);
        CHECK(h > lru + (ROUNDS / 2) * HOT, "%s on the scan: %" PRId64 " vs LRU %" PRId64,
              resistant[i]->name, h, lru);
    }
    free(t);
}

/* A fixed seed repeats a run exactly (the jitter and the sketch's hashing
 * come from it). */
static void test_deterministic(uint64_t seed)
{
    enum { N = 30000 };
    uint32_t *t = random_trace(N, 3000, true, seed);
    if (!t) {
        CHECK(0, "out of memory");
        return;
    }
    for (size_t p = 0; policy_all[p]; p++) {
        if (policy_all[p] == &policy_gomap)
            continue; /* the real cache's jitter is its own, not the seed's */
        int64_t a = run(policy_all[p], t, N, 200, seed), b = run(policy_all[p], t, N, 200, seed);
        CHECK(a == b, "%s differs between runs with seed %" PRIu64 ": %" PRId64 " vs %" PRId64,
              policy_all[p]->name, seed, a, b);
    }
    free(t);
}

/* Agreement with the independent simulator of traces/README.md, within
 * 1 point, where it gives a figure. */
static void test_reference(uint64_t seed, const char *dir)
{
    static const struct {
        const char *trace;
        const policy_kind *kind;
        size_t size;
        double ratio;
    } ref[] = {
        {"gli", &policy_lru, 1000, 11.2},     {"gli", &policy_s3fifo, 1000, 35.1},
        {"gli", &policy_sieve, 1000, 31.3},   {"gli", &policy_wtinylfu, 1000, 50.5},
        {"gli", &policy_belady, 1000, 53.1},  {"loop", &policy_lru, 1000, 0.0},
        {"loop", &policy_s3fifo, 1000, 89.6}, {"loop", &policy_belady, 1000, 98.7},
    };
    const char *loaded = NULL;
    trace t = {0};
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        if (!loaded || loaded != ref[i].trace) {
            trace_free(&t);
            loaded = ref[i].trace;
            size_t c = 0;
            while (c < trace_catalog_len && strcmp(trace_catalog[c].name, loaded))
                c++;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, trace_catalog[c].file);
            CHECK(trace_load(&t, path, trace_catalog[c].format) == 0, "%s", path);
            if (!t.keys)
                return;
        }
        int64_t h = sim_run(ref[i].kind, t.keys, t.len, t.n_keys, ref[i].size, seed);
        double r = 100.0 * (double)h / (double)t.len;
        CHECK(r > ref[i].ratio - 1 && r < ref[i].ratio + 1, "%s@%zu %s: %.1f, reference %.1f",
              ref[i].trace, ref[i].size, ref[i].kind->name, r, ref[i].ratio);
    }
    trace_free(&t);
}

int sim_self_test(uint64_t seed, const char *trace_dir)
{
    printf("gomap-cachesim self-test, seed %" PRIu64 "\n", seed);
    test_crafted();
    test_bounds(seed);
    test_scan(seed);
    test_deterministic(seed);
    if (trace_dir)
        test_reference(seed, trace_dir);
    printf("%s (%d failed checks)\n", failures ? "FAILED" : "passed", failures);
    return failures;
}
