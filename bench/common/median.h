/*
 * median.h — the median every gomap benchmark program reports (header-only,
 * so that the small programs that do not link report.c share it too).
 */
#ifndef GOMAP_BENCH_MEDIAN_H
#define GOMAP_BENCH_MEDIAN_H

#include <stdlib.h>

/* qsort's comparison of doubles, ascending. */
static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n-1] (n >= 1; of an even n, the mean of the middle
 * two); sorts v, so v[0] and v[n - 1] are then the minimum and maximum. */
static inline double bench_median(double *v, unsigned n)
{
    qsort(v, n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif /* GOMAP_BENCH_MEDIAN_H */
