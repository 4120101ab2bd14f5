/*
 * check.h — the test suite's assertions, seeds and helpers.
 *
 * A failed CHECK prints file:line, the condition and (for the _EQ forms) both
 * values, then aborts, so ctest reports the test as failed. Randomised tests
 * take their seed from test_seed(), which prints it; setting GOMAP_TEST_SEED
 * reproduces a run.
 */
#ifndef GOMAP_TEST_CHECK_H
#define GOMAP_TEST_CHECK_H

#include <gomap.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

void check_fail(const char *file, int line, const char *what, const char *detail);

#define CHECK(cond) \
    do { if (!(cond)) check_fail(__FILE__, __LINE__, #cond, NULL); } while (0)

#define CHECK_MSG(cond, ...) \
    do { if (!(cond)) { char d_[512]; snprintf(d_, sizeof d_, __VA_ARGS__); \
         check_fail(__FILE__, __LINE__, #cond, d_); } } while (0)

#define CHECK_EQ(a, b) \
    do { long long a_ = (long long)(a), b_ = (long long)(b); \
         if (a_ != b_) { char d_[128]; snprintf(d_, sizeof d_, "%lld != %lld", a_, b_); \
         check_fail(__FILE__, __LINE__, #a " == " #b, d_); } } while (0)

/* Fails with the validator's reason unless gomap_validate(m) passes. */
#define CHECK_VALID(m) \
    do { char why_[256]; int rc_ = gomap_validate((m), why_, sizeof why_); \
         if (rc_ != 0) check_fail(__FILE__, __LINE__, "gomap_validate(" #m ")", why_); } while (0)

/* A new map of these options (everything else zero), failing the test
 * with gomap_strerror's text unless gomap_new succeeds. */
gomap_t *check_map_new(gomap_key_kind kind, size_t key_size, size_t val_size, size_t hint);

/* A uint64_t -> uint64_t map in check mode `mode`, presized for `hint`,
 * holding k -> k for every k < fill; fails the test on any error. */
gomap_t *check_u64_map(gomap_check_mode mode, size_t hint, uint64_t fill);

/* gomap_stats(m), failing the test unless it succeeds. The struct is
 * filled with 0xFF bytes first, so a field the call leaves unset shows. */
gomap_stats_t check_map_stats(const gomap_t *m);

/* Runs one test function, printing its name first. */
#define RUN(fn) do { printf("== %s\n", #fn); fflush(stdout); fn(); } while (0)

/* The run's seed: GOMAP_TEST_SEED if set, else from the clock. Printed once
 * with the line that reproduces it. */
uint64_t test_seed(void);

/* ThreadSanitizer slows single-threaded tests down about twentyfold and has
 * nothing to find in them that the other builds miss: such tests divide
 * their amount of work by WORK_DIV. */
#if defined(__SANITIZE_THREAD__)
#define WORK_DIV 4
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WORK_DIV 4
#endif
#endif
#ifndef WORK_DIV
#define WORK_DIV 1
#endif

/* Go's bucket count for n entries: the smallest power of two that holds n
 * under the load factor 6.5 (one bucket up to 8 entries). The _nonempty
 * form counts an empty map as one bucket, the other as none (an empty map
 * owns no array after gomap_shrink). */
static inline size_t test_buckets_for_nonempty(size_t n)
{
    size_t b = 1;
    while (n > 8 && (double)n > 6.5 * (double)b)
        b *= 2;
    return b;
}

static inline size_t test_buckets_for(size_t n)
{
    return n ? test_buckets_for_nonempty(n) : 0;
}

/* splitmix64: a small, fast, seedable generator for tests. */
static inline uint64_t test_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0. */
static inline uint64_t test_rand_below(uint64_t *state, uint64_t n)
{
    return test_rand(state) % n;
}

#endif /* GOMAP_TEST_CHECK_H */
