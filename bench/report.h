/*
 * report.h — gomap-bench's results and their four renderings: an aligned
 * table for a terminal, CSV and JSON for machines, and Markdown (one table
 * per key type, peers as ratios to gomap) for the README and docs.
 */
#ifndef GOMAP_BENCH_REPORT_H
#define GOMAP_BENCH_REPORT_H

#include <stdio.h>

#include "bench.h"

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
    uint64_t checksum;
    bool checksum_ok;           /* same in every run and as gomap's */
} bench_row;

/* One contender's figures for one case (workload x threads) of the
 * concurrent suite (`--suite sync`), over all repetitions. */
typedef struct {
    const char *workload;
    unsigned threads;
    const char *impl;
    unsigned reps;
    uint64_t ops;               /* per run, all threads */
    double ns_med, ns_min, ns_max; /* wall time of the parallel phase / ops */
    double ratio;               /* ns_med / gomap-sync's ns_med; 0 for gomap-sync */
    double scaling;             /* throughput / own throughput at base_threads; 0 if none */
    unsigned base_threads;      /* 2 if run, else the fewest threads run */
    int64_t retired_peak;       /* gomap-sync's retired bytes (median over runs) */
    int64_t retired_end;        /* ... peak, and at the end; -1: not measured */
    uint64_t checksum;
    bool checked;               /* deterministic: every contender must agree */
    bool checksum_ok;           /* same in every run and as gomap-sync's (if checked) */
} sync_row;

/* What a run was: printed with every format. */
typedef struct {
    const char *profile;
    uint64_t seed;
    unsigned reps;
    size_t min_ops;
    char machine[160];          /* CPU model, cores, memory */
    const char *impls[8];       /* "name: what" lines */
    unsigned nimpls;
    const char *threads;        /* sync suite: "1,2,8" */
    double scale;               /* sync suite: operation-count multiplier */
} bench_params;

typedef enum { FMT_TABLE, FMT_CSV, FMT_JSON, FMT_MARKDOWN } bench_format;

void report_write(FILE *out, bench_format fmt, const bench_params *p, const bench_row *rows,
                  size_t nrows);

/* The same four renderings for the concurrent suite. */
void report_write_sync(FILE *out, bench_format fmt, const bench_params *p, const sync_row *rows,
                       size_t nrows);

/* The median of v[0..n-1] (n >= 1); sorts v. */
double bench_median(double *v, unsigned n);

#endif /* GOMAP_BENCH_REPORT_H */
