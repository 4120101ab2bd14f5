/*
 * clock.h — the two clocks of gomap-bench: CLOCK_MONOTONIC for phases (many
 * operations per reading), and the time-stamp counter for per-insert
 * latencies, where a system call per reading would distort the run.
 */
#ifndef GOMAP_BENCH_CLOCK_H
#define GOMAP_BENCH_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline double clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
static inline uint64_t clock_ticks(void) { return __rdtsc(); }
#else
static inline uint64_t clock_ticks(void) { return (uint64_t)clock_ns(); }
#endif

/* Nanoseconds per tick, measured once against CLOCK_MONOTONIC. */
double clock_ns_per_tick(void);

#endif /* GOMAP_BENCH_CLOCK_H */
