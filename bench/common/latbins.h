/*
 * latbins.h — the insert-latency distribution gomap-bench reports: counts
 * of inserts slower than 20 us and 100 us, and a histogram on a log scale
 * (LAT_BINS_PER_DECADE bins a decade from LAT_MIN_NS), from which
 * `--ccdf FILE` writes the fraction of inserts at least as slow as each
 * bin's lower bound. The Go peer (bench/peers/go/peer.go) bins with the
 * same formula and sends its bins in its reply.
 */
#ifndef GOMAP_BENCH_LATBINS_H
#define GOMAP_BENCH_LATBINS_H

#include <math.h>
#include <stdint.h>

#define LAT_MIN_NS 10.0
#define LAT_BINS_PER_DECADE 10
#define LAT_BINS 90 /* 10 ns .. 10 s; the last bin holds everything slower */

/* The thresholds of the two counts. */
#define LAT_SLOW_NS 20000.0
#define LAT_VERY_SLOW_NS 100000.0

/* The bin of a latency: floor(10 * log10(ns / 10 ns)), clamped. */
static inline unsigned lat_bin(double ns)
{
    if (!(ns >= LAT_MIN_NS))
        return 0;
    double b = floor(log10(ns / LAT_MIN_NS) * LAT_BINS_PER_DECADE);
    return b < LAT_BINS - 1 ? (unsigned)b : LAT_BINS - 1;
}

/* The lower bound of bin b, ns. */
static inline double lat_bin_low(unsigned b)
{
    return LAT_MIN_NS * pow(10.0, (double)b / LAT_BINS_PER_DECADE);
}

#endif /* GOMAP_BENCH_LATBINS_H */
