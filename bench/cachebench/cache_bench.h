/*
 * cache_bench.h — gomap-bench's cache suite (`--suite cache`), defined in
 * docs/cache-bench.md:
 *
 *   - throughput: the strategies matrix's machinery (strat_bench.h) on the
 *     cache's workloads — read-100, read-75 (75 % gets, 25 % sets) and
 *     insert-evict (every operation a set, half of them of a fresh key) —
 *     keys Zipf 0.99 over a universe of 1e6, every cache bounded to 1e5
 *     entries of cost 1 and starting full with the 1e5 most popular keys;
 *     contenders gomap's cache, gomap's sharded map (no bound: the
 *     ceiling), Caffeine (the Java peer), Ristretto and golang-lru (the Go
 *     peer); each workload that sets is followed by a dropped-writes pass;
 *   - expiry and memory, gomap's cache alone: time from an entry's deadline
 *     to its on_remove(EXPIRED), idle and busy; get latency during a mass
 *     expiry against the same gets with nothing expiring; bytes of
 *     metadata per entry.
 */
#ifndef GOMAP_BENCH_CACHE_BENCH_H
#define GOMAP_BENCH_CACHE_BENCH_H

#include "common/report.h"
#include "strategies/strat_bench.h"

typedef enum { CWL_READ_100, CWL_READ_75, CWL_INSERT_EVICT, CWL_COUNT } cache_workload;

/* The workloads, indexed by cache_workload (strat_suite's mixes). */
extern const op_mix cache_mixes[CWL_COUNT];

/* The workload called `name`, or -1. */
int cache_workload_parse(const char *name);

/* The key universe and the bound of the throughput runs at scale 1. */
enum { CACHE_UNIVERSE = 1000000, CACHE_CAPACITY = 100000 };

/* gomap-cache: gomap_cache_t bounded to its create() hint; NULL-terminated
 * list of the in-process contenders (gomap-cache, then shard). */
extern const strat_impl *const cache_impls[];

enum { CACHE_MAX_METRICS = 32 };

/* Runs the expiry and memory measurements at `scale` (1: 1e6 entries in
 * the mass expiry; fewer below) and fills out[0..return). */
size_t cache_expiry_run(double scale, bool quiet, bench_metric *out);

#endif /* GOMAP_BENCH_CACHE_BENCH_H */
