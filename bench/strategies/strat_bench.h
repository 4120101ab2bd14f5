/*
 * strat_bench.h — gomap-bench's strategies matrix (`--suite strategies`):
 * which concurrent map for which workload. Four operation mixes on uint64
 * keys and values (read-90, read-98, exchange, rapid-grow), keys uniform or
 * Zipf over a universe of n keys, at several thread counts, run by gomap's
 * sharded map (auto shards and one shard), snapshot map and sync map,
 * the delegation map, tbb::concurrent_hash_map, liburcu's cds_lfht, and
 * Go's sync.Map, RWMutex-guarded map and a channel-served worker pool in
 * the Go peer. Each row has throughput, sampled operation latency, bytes
 * per entry and reclamation figures. docs/bench.md ("The strategies
 * matrix") defines it all.
 *
 * A case (workload x distribution x n) builds its operation stream once
 * (opstream.h) and runs it at every thread count, every contender on the
 * same stream; a run is timed by parallel.c. One-thread runs are
 * deterministic: their checksums must equal the one a plain single-thread
 * core map computes on the same operations.
 */
#ifndef GOMAP_BENCH_STRAT_H
#define GOMAP_BENCH_STRAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gomap/map.h>

#include "strategies/opstream.h"
#include "common/parallel.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    STWL_READ_90,
    STWL_READ_98,
    STWL_EXCHANGE,
    STWL_RAPID_GROW,
    STWL_COUNT
} strat_workload;

/* The workload ("read-90", ...) or key distribution ("uniform", "zipf")
 * called `name`; -1 if there is none. */
int strat_workload_parse(const char *name);
int strat_dist_parse(const char *name);

/* An in-process contender. prefill and body run the stream's operations on
 * the contender's own map (strat_workloads.h instantiates them on its
 * operations, so the timed loop calls the map directly). */
typedef struct strat_impl {
    const char *name;
    const char *what;      /* one line for the report header */
    bool writes_copy;      /* every write copies the whole map (O(n)): capped */
    bool rcu;              /* defers frees through liburcu: its grace periods and
                              writers' waits are counted (reclaim_probe.h) */
    bool mem_malloc;       /* some of its memory bypasses `alloc` (allocated inside
                              a library): its bytes are measured with mallinfo2 */
    /* An empty map sized for hint keys (0: not presized) whose memory comes
     * from alloc (NULL: malloc/free; the matrix passes a counting one,
     * memcount.h, which must outlive the map); NULL on failure. */
    void *(*create)(size_t hint, const gomap_allocator *alloc);
    void (*destroy)(void *m);
    /* Puts keys ks_key(seed, STREAM_SET, i) = i + 1 for i < n. 0 or -ENOMEM. */
    int (*prefill)(void *m, uint64_t seed, uint64_t n);
    /* Runs operations [from, from + count) of s, adding to *t. */
    void (*body)(void *m, const op_stream *s, uint64_t from, uint64_t count, par_tally *t);
    size_t (*len)(void *m);      /* called while no thread runs */
    int64_t (*retired)(void *m); /* retired bytes now; NULL if none */
} strat_impl;

/* shard, shard-1, shard-auto, snap, sync, shard-batch, sync-batch, (when
 * built) tbb and cds_lfht, and the delegation map's deleg-comb, deleg-1w,
 * deleg-comb-batch, deleg-1w-batch. NULL-terminated. */
extern const strat_impl *const strat_impls[];

/* The delegation map's contenders (strat_deleg.c). */
extern const strat_impl strat_impl_deleg_comb, strat_impl_deleg_1w,
    strat_impl_deleg_comb_batch, strat_impl_deleg_1w_batch;

/* gomap_shard_t, shards auto: the matrix's base, and the cache suite's
 * ceiling (a map without bound or expiry). */
extern const strat_impl strat_impl_shard;

/* A plain core gomap_t, no lock: the single-thread reference whose
 * checksum every one-thread run must match. Not a contender. */
extern const strat_impl strat_reference;

struct go_peer;

/* A contender: in process, or a peer process's `name` (impl NULL): the Go
 * peer's (peer NULL: par.go) or another speaking its protocol (the cache
 * suite's Java peer). */
typedef struct {
    const char *name;
    const strat_impl *impl;
    struct go_peer *peer;
} strat_contender;

enum { STRAT_MAX_SIZES = 8 };

/* The thread counts of the cache suite's dropped-writes passes: one
 * thread, where nothing can come between a set and its get, and two, where
 * the other thread's sets may (strat_bench.c). */
#define STRAT_DROP_THREADS 1, 2

typedef struct {
    strat_contender who[PAR_MAX_CONTENDERS]; /* who[0] is the base */
    unsigned nwho;
    par_settings par;        /* workloads: bit per strat_workload; scale also
                                multiplies the copy budget */
    unsigned dists;          /* bit per op_dist */
    size_t sizes[STRAT_MAX_SIZES];
    unsigned nsizes;
    uint64_t seed;
    /* The cache suite (cache_bench.h) runs this matrix on its own
     * workloads: mixes[0..nmixes) instead of the strategies' (NULL), and
     * capacity > 0: every map starts holding the `capacity` most popular
     * keys of the universe (a cache contender is bounded to that, its
     * create() hint), no checksum is checked against the reference, and
     * every workload that sets is followed by a dropped-writes pass
     * (OP_SET_GET) whose counts go to the rows. */
    const op_mix *mixes;
    unsigned nmixes;
    uint64_t capacity;
} strat_suite;

/* Rows the suite can write: room for every case x thread count x contender. */
size_t strat_suite_rows(const strat_suite *s);

/* Runs every case (workload x distribution x n x thread count), each
 * repetition running every contender in turn from a different first one,
 * and fills rows. Returns the rows written; *ok turns false if a run
 * failed or a one-thread checksum differed from the reference. */
size_t strat_suite_run(const strat_suite *s, par_row *rows, bool *ok);

#ifdef __cplusplus
}
#endif

#endif /* GOMAP_BENCH_STRAT_H */
