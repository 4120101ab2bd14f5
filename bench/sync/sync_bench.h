/*
 * sync_bench.h — gomap-bench's concurrent suite (`--suite sync`): Go's
 * sync.Map benchmarks (src/sync/map_bench_test.go) on uint64 keys and
 * values, run at several thread counts by gomap_sync_t, by a lock around a
 * core gomap_t (Go's RWMutexMap baseline), and by Go's sync.Map in the Go
 * peer. docs/bench.md ("The concurrent suite") defines every workload.
 *
 * A run: an untimed setup on a fresh map, then T threads started together,
 * thread t running keys t*ops .. t*ops + ops/T - 1 (testing.B's RunParallel
 * gives goroutine t the start t*b.N). Timed: the wall time from the first
 * thread's start to the last thread's end.
 */
#ifndef GOMAP_BENCH_SYNC_H
#define GOMAP_BENCH_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/parallel.h"

typedef enum {
    SWL_LOAD_MOSTLY_HITS,
    SWL_LOAD_MOSTLY_MISSES,
    SWL_LOAD_OR_STORE_BALANCED,
    SWL_LOAD_OR_STORE_UNIQUE,
    SWL_LOAD_OR_STORE_COLLISION,
    SWL_LOAD_AND_DELETE_BALANCED,
    SWL_LOAD_AND_DELETE_UNIQUE,
    SWL_LOAD_AND_DELETE_COLLISION,
    SWL_RANGE,
    SWL_ADVERSARIAL_ALLOC,
    SWL_ADVERSARIAL_DELETE,
    SWL_STORE_OVERWRITE,
    SWL_COUNT
} sync_workload;

/* "load-mostly-hits", ... (the Go peer's names too). */
const char *sync_workload_name(sync_workload wl);

/* The workload called `name`: "load-mostly-hits" or Go's "LoadMostlyHits"
 * (case and dashes ignored). -1 if there is none. */
int sync_workload_parse(const char *name);

/* Total operations of one run at profile scale 1 (split over the threads). */
uint64_t sync_workload_ops(sync_workload wl);

/* Whether every contender must report the same checksum (false where the
 * result depends on scheduling or iteration order). */
bool sync_workload_checked(sync_workload wl);

/* An in-process contender. setup and body are sync_workloads.h's loops
 * instantiated on the contender's own operations, so the timed loop makes
 * direct calls into the map. */
typedef struct sync_impl {
    const char *name;
    const char *what;      /* one line for the report header */
    bool by_default;       /* run when --impls does not name it */
    void *(*create)(void); /* NULL on failure */
    void (*destroy)(void *m);
    void (*setup)(void *m, sync_workload wl, par_tally *t);
    void (*body)(void *m, sync_workload wl, uint64_t start, uint64_t count, par_tally *t);
    size_t (*len)(void *m);      /* called while no thread runs */
    int64_t (*retired)(void *m); /* retired bytes now; NULL if not a sync map */
} sync_impl;

/* gomap-sync, mutex-map, rwlock-map. NULL-terminated. */
extern const sync_impl *const sync_impls[];

/* One run of `wl` by an in-process contender on `threads` threads with
 * `ops` operations in all. Returns 0, -EINVAL (threads out of range) or
 * -ENOMEM (map not created, or an operation ran out of memory). Exits the
 * process if a thread cannot be started. */
int sync_run_inprocess(const sync_impl *impl, sync_workload wl, unsigned threads, uint64_t ops,
                       par_result *r);

/* A contender of the suite: in process, or the Go peer (impl NULL). */
typedef struct {
    const char *name;
    const sync_impl *impl;
} sync_contender;

typedef struct {
    sync_contender who[PAR_MAX_CONTENDERS]; /* who[0] is gomap-sync, the base */
    unsigned nwho;
    par_settings par;         /* workloads: bit per sync_workload; scale
                                 multiplies sync_workload_ops */
} sync_suite;

/* Runs every case (workload x thread count), each repetition running every
 * contender in turn from a different first one, and fills rows (room for
 * SWL_COUNT * nthreads * nwho). Returns the rows written; *ok turns false
 * if a run failed or a checked checksum disagreed. */
size_t sync_suite_run(const sync_suite *s, par_row *rows, bool *ok);

#endif /* GOMAP_BENCH_SYNC_H */
