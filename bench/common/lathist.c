/*
 * lathist.c — merging and reading log-linear latency histograms
 * (lathist.h).
 */
#include "common/lathist.h"

void lathist_merge(lathist *into, const lathist *from)
{
    for (unsigned b = 0; b < LATHIST_BUCKETS; b++)
        into->count[b] += from->count[b];
    into->n += from->n;
    into->max = from->max > into->max ? from->max : into->max;
}

/* The lowest value of bucket b and its width. */
static void bucket_range(unsigned b, double *lo, double *width)
{
    if (b < 2 * LATHIST_SUB) {
        *lo = b;
        *width = 1;
        return;
    }
    unsigned e = b / LATHIST_SUB + 3, sub = b % LATHIST_SUB;
    *width = (double)(UINT64_C(1) << (e - 4));
    *lo = (double)(UINT64_C(1) << e) + sub * *width;
}

double lathist_quantile(const lathist *h, double q)
{
    if (h->n == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->n), seen = 0;
    for (unsigned b = 0; b < LATHIST_BUCKETS; b++) {
        seen += h->count[b];
        if (seen > rank) {
            double lo, width;
            bucket_range(b, &lo, &width);
            double mid = lo + (width - 1) / 2;
            return mid < (double)h->max ? mid : (double)h->max;
        }
    }
    return (double)h->max;
}
