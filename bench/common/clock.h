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
/* The tick counter read in program order: every earlier instruction has
 * completed before it is read, and no later one starts before. Around one
 * sampled operation among untimed ones, so that the sample is that
 * operation's time, not the part of it that did not overlap its
 * neighbours (a plain read lets the processor run the next operations'
 * cache misses under it). */
static inline uint64_t clock_ticks_ordered(void)
{
    _mm_lfence();
    uint64_t t = __rdtsc();
    _mm_lfence();
    return t;
}
#else
static inline uint64_t clock_ticks(void) { return (uint64_t)clock_ns(); }
static inline uint64_t clock_ticks_ordered(void) { return (uint64_t)clock_ns(); }
#endif

/* Nanoseconds per tick, measured once against CLOCK_MONOTONIC. */
double clock_ns_per_tick(void);

#endif /* GOMAP_BENCH_CLOCK_H */
