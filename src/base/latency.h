/*
 * latency.h — sampled operation latencies (gomap_latency_t, gomap/map.h).
 *
 * A structure keeps one struct lat_hist per kind of operation it times. An
 * operation calls lat_start on entry and lat_stop on return (or, on a get,
 * branches on lat_due to a timed copy of itself): lat_start
 * counts the call in a thread-local tick and reads the clock only on every
 * GOMAP_LATENCY_SAMPLE-th call of the thread (0 otherwise), so an unsampled
 * call pays a thread-local increment and a branch. lat_stop records a
 * sampled call with relaxed atomic adds in one of LAT_STRIPES copies of
 * the histogram, chosen per thread, so threads rarely write the same line.
 * lat_record times a call every time (the snapshot map's copies, which are
 * rare and the figure an operator watches).
 *
 * A histogram is embedded in its structure and zeroed with it (all-zero is
 * an empty histogram); it needs no init and no teardown.
 */
#ifndef GOMAP_BASE_LATENCY_H
#define GOMAP_BASE_LATENCY_H

#include <gomap/map.h>

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#define LAT_STRIPES 4

/* A stripe fills whole cache lines (three), so two stripes share at most
 * the line where one ends, when the structure holding them is not
 * line-aligned (structures come from the user's allocator). */
struct lat_stripe {
    _Atomic uint64_t buckets[GOMAP_LATENCY_BUCKETS];
    _Atomic uint64_t sum_ns;
    uint64_t pad_;
};

struct lat_hist {
    struct lat_stripe stripe[LAT_STRIPES];
};

/* The calling thread's count of timed operations (any structure). */
extern _Thread_local unsigned gomap__lat_tick __attribute__((tls_model("initial-exec")));

static inline uint64_t lat_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Counts a call: true if it is to be timed (every GOMAP_LATENCY_SAMPLE-th
 * of the thread). The hottest calls (gets) branch on it to a timed copy of
 * themselves, so the untimed ones keep no start time across their work. */
static inline bool lat_due(void)
{
    return (++gomap__lat_tick & (GOMAP_LATENCY_SAMPLE - 1)) == 0;
}

/* The start of a sampled call (a time, never 0), or 0 if this call is not
 * sampled. */
static inline uint64_t lat_start(void)
{
    if (__builtin_expect(!lat_due(), 1))
        return 0;
    return lat_now_ns() | 1; /* never 0, off by at most 1 ns */
}

/* Adds a call of d ns to h. */
void gomap__lat_add(struct lat_hist *h, uint64_t d);

/* Ends a call lat_start began: records it in h if it was sampled. */
static inline void lat_stop(struct lat_hist *h, uint64_t t0)
{
    if (__builtin_expect(t0 != 0, 0))
        gomap__lat_add(h, lat_now_ns() - t0);
}

/* Sums h's stripes into *out. Relaxed loads: see gomap_latency_t. */
void gomap__lat_read(const struct lat_hist *h, gomap_latency_t *out);

/* The bucket of a d ns sample (exposed for the tests' sake). */
unsigned gomap__lat_bucket(uint64_t d);

#endif /* GOMAP_BASE_LATENCY_H */
