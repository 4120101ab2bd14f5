/*
 * lathist.h — a log-linear histogram of latencies, for the strategies
 * matrix's sampled operation times: bounded memory whatever the run's
 * length (LATHIST_BUCKETS counters), relative error under 1/32.
 *
 * Values are in any unit (the matrix records time-stamp-counter ticks and
 * converts at the end). Values below 32 have a bucket each; above, each
 * power of two [2^e, 2^(e+1)) is split into 16 equal buckets.
 *
 * Ownership and threads: a histogram is plain memory owned by its caller;
 * one thread records into it at a time (each worker thread has its own),
 * and lathist_merge combines them once the threads have stopped.
 */
#ifndef GOMAP_BENCH_LATHIST_H
#define GOMAP_BENCH_LATHIST_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { LATHIST_SUB = 16, LATHIST_BUCKETS = 64 * LATHIST_SUB };

typedef struct {
    uint64_t count[LATHIST_BUCKETS];
    uint64_t n;   /* values recorded */
    uint64_t max; /* the largest, exactly */
} lathist;

/* The bucket of value v. */
static inline unsigned lathist_bucket(uint64_t v)
{
    if (v < 2 * LATHIST_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= 5 */
    return (e - 3) * LATHIST_SUB + (unsigned)(v >> (e - 4) & (LATHIST_SUB - 1));
}

static inline void lathist_add(lathist *h, uint64_t v)
{
    h->count[lathist_bucket(v)]++;
    h->n++;
    h->max = v > h->max ? v : h->max;
}

/* into += from. */
void lathist_merge(lathist *into, const lathist *from);

/* The value at quantile q (0 < q < 1): the middle of its bucket, at most
 * the maximum recorded; 0 if nothing was recorded. */
double lathist_quantile(const lathist *h, double q);

#ifdef __cplusplus
}
#endif

#endif /* GOMAP_BENCH_LATHIST_H */
