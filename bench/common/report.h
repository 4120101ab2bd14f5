/*
 * report.h — gomap-bench's results and their four renderings: an aligned
 * table for a terminal, CSV and JSON for machines, and Markdown (one table
 * per key type, peers as ratios to gomap) for the README and docs. The
 * concurrent suites' rows (par_row) have their own four renderings.
 */
#ifndef GOMAP_BENCH_REPORT_H
#define GOMAP_BENCH_REPORT_H

#include <stdio.h>

#include "common/bench.h"

/* One implementation's figures for one case, over all repetitions. */
typedef struct {
    bench_workload wl;
    bench_key_type type;
    size_t n;
    const char *impl;
    unsigned reps;
    uint64_t ops;               /* per run */
    double ns_med, ns_min, ns_max; /* per operation */
    double ratio;               /* ns_med / gomap's ns_med for the case; 0 if none */
    double bytes_per_entry;     /* < 0: not measured */
    double p50, p99, p999, max; /* insert-latency: medians over runs (ns) */
    double over20us, over100us; /* insert-latency: inserts slower than 20 / 100 us,
                                   medians over runs */
    uint64_t hist[LAT_BINS];    /* insert-latency: every run's histogram, summed */
    uint64_t checksum;
    bool checksum_ok;           /* same in every run and as gomap's */
} bench_row;

/* One contender's figures for one case of a concurrent suite, over all
 * repetitions: (workload x threads) for `--suite sync`, (workload x key
 * distribution x n x threads) for `--suite strategies`. */
typedef struct {
    const char *workload;
    const char *dist;           /* strategies: "uniform" or "zipf"; NULL for sync */
    size_t n;                   /* strategies: the key universe; 0 for sync */
    unsigned threads;
    const char *impl;
    unsigned reps;
    uint64_t ops;               /* per run, all threads */
    double ns_med, ns_min, ns_max; /* wall time of the parallel phase / ops */
    double ratio;               /* ns_med / the base contender's ns_med; 0 for the base */
    double scaling;             /* throughput / own throughput at base_threads; 0 if none */
    unsigned base_threads;      /* 2 if run, else the fewest threads run */
    int64_t retired_peak;       /* retired bytes of a map with deferred reclamation */
    int64_t retired_end;        /* (median over runs), peak and at the end; -1: not measured */
    double lat_p50, lat_p99, lat_p999, lat_max; /* strategies: sampled latency of one
                                   operation, ns (medians over runs); < 0: not measured */
    double bytes_per_entry;     /* strategies: bytes held at the end / entries then, and */
    double peak_bytes_per_entry; /* the peak held during the run / the same entries;
                                   < 0: not measured */
    const char *mem_method;     /* how the bytes were counted: "allocator", "mallinfo2",
                                   "go-heap"; NULL: not measured */
    int64_t grace_periods;      /* strategies: RCU grace periods waited during a run (Go:
                                   collections); < 0: none ("–") */
    double pause_ns;            /* a writer's longest wait for one (Go: longest
                                   stop-the-world pause); < 0: none ("–") */
    uint64_t checksum;
    bool checked;               /* deterministic: checked against an expected value */
    bool checksum_ok;           /* every run's checksum as expected (if checked) */
    bool capped;                /* strategies: ran fewer operations than the others
                                   (a contender whose writes cost O(n); docs/bench.md) */
    int64_t dropped, refused;   /* cache suite: of drop_ops set-then-get operations, the
                                   sets that returned success but whose value the same
                                   thread could not read right after, and the sets that
                                   returned failure; -1: not measured */
    uint64_t drop_ops;
} par_row;

/* A figure that is not a throughput (the cache suite's expiry and memory
 * measurements): name, e.g. "reclaim-idle p99.9", its value and unit. */
typedef struct {
    char name[96];
    const char *impl;
    double value;
    const char *unit;           /* "ms", "ns", "B/entry", "x" */
} bench_metric;

/* What a run was: printed with every format. */
typedef struct {
    const char *profile;
    uint64_t seed;
    unsigned reps;
    size_t min_ops;
    char machine[160];          /* CPU model, cores, memory */
    const char *impls[16];      /* "name: what" lines (PAR_MAX_CONTENDERS) */
    unsigned nimpls;
    const char *suite;          /* concurrent suites: "sync" or "strategies" */
    const char *base;           /* concurrent suites: the contender ratios are against */
    const char *threads;        /* concurrent suites: "1,2,8" */
    double scale;               /* concurrent suites: operation-count multiplier */
    const char *sizes;          /* strategies: "1e4,1e6" */
    const bench_metric *metrics; /* cache suite: printed after the rows (not in CSV) */
    size_t nmetrics;
} bench_params;

typedef enum { FMT_TABLE, FMT_CSV, FMT_JSON, FMT_MARKDOWN } bench_format;

void report_write(FILE *out, bench_format fmt, const bench_params *p, const bench_row *rows,
                  size_t nrows);

/* The insert-latency rows' distributions as a complementary CDF for
 * gnuplot (bench/charts/growth_latency.gp): per case, a comment line, a
 * header line "latency_ns" and the implementations' names, then one line
 * per histogram bin: its lower bound and, per implementation, the fraction
 * of inserts at least that slow (all runs pooled). Cases are separated by
 * two blank lines (gnuplot's `index`). */
void report_write_ccdf(FILE *out, const bench_params *p, const bench_row *rows, size_t nrows);

/* The same four renderings for the concurrent suites (p->suite). */
void report_write_par(FILE *out, bench_format fmt, const bench_params *p, const par_row *rows,
                      size_t nrows);

/* bench_median (median.h) for the suites' rows. */
#include "common/median.h"

#endif /* GOMAP_BENCH_REPORT_H */
