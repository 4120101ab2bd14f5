/*
 * parallel.h — what gomap-bench's two concurrent suites share: one timed
 * run on T threads started together, the interleaved repetitions of a case,
 * and the statistics of each contender's row.
 *
 * `--suite sync` (sync_bench.c: Go's sync.Map benchmarks) and `--suite
 * strategies` (strat_bench.c: the strategies matrix) differ in their
 * workloads and contenders, not in how a run is timed or a row is made:
 *
 *   - par_run: the caller's map is ready; T threads wait at a barrier, run
 *     their share and stop; the time is the wall time from the first
 *     thread's start to the last one's end. A sampler thread may read a
 *     "retired bytes" figure every millisecond meanwhile.
 *   - par_interleave: every repetition runs every contender once, starting
 *     with a different one each time (A B C, B C A, ...), so drift on a
 *     shared machine falls on everyone alike.
 *   - par_row_fill: median and min-max of ns/op over the repetitions, the
 *     ratio to the base contender's median, and the checksum check.
 */
#ifndef GOMAP_BENCH_PARALLEL_H
#define GOMAP_BENCH_PARALLEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/lathist.h"
#include "common/report.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    PAR_MAX_THREADS = 256,
    PAR_MAX_THREAD_COUNTS = 8,
    PAR_MAX_CONTENDERS = 16,
    PAR_MAX_REPS = 1000
};

struct go_peer;

/* What both concurrent suites are told to run (from the command line). */
typedef struct {
    struct go_peer *go;       /* for the contenders run by the Go peer */
    unsigned workloads;       /* bit per workload of the suite */
    unsigned threads[PAR_MAX_THREAD_COUNTS];
    unsigned nthreads;
    unsigned reps;
    double scale;             /* multiplies the operations of a run */
    bool quiet;               /* no progress on stderr */
} par_settings;

/* A thread's running totals (kept on its own stack while it runs). */
typedef struct {
    uint64_t sum;          /* value + 1 for every value found */
    uint64_t errors;       /* operations that failed (-ENOMEM) */
    lathist *lat;          /* the thread's latency samples (time-stamp counter
                              ticks), or NULL: not sampled (par_job.latency) */
} par_tally;

/* One timed run of one contender. */
typedef struct {
    double ns;             /* wall time of the parallel phase */
    uint64_t ops;          /* operations timed, all threads */
    uint64_t checksum;     /* sum of value+1 over values found, + final length */
    int64_t retired_peak;  /* retired bytes (maps with deferred reclamation): */
    int64_t retired_end;   /* peak and at the end of the run; -1: not measured */
    double lat[4];         /* sampled operation latency, ns: p50, p99, p99.9,
                              max; -1: not measured */
    int64_t held_end;      /* bytes the map held at the end of the run, and */
    int64_t held_peak;     /* the most sampled during it; -1: not measured */
    int64_t len_end;       /* entries at the end (for bytes per entry) */
    int64_t grace_periods; /* RCU grace periods waited during the run; -1: none */
    double pause_ns;       /* a writer's longest wait for one; -1: none */
} par_result;

/* The parallel phase of a run: body(ctx, t, tally) is thread t's share
 * (t < threads). retired(m) and held(held_ctx), when not NULL, are sampled
 * every millisecond while the threads run, and once after they end. With
 * latency, each thread's tally has a histogram of its own (tally.lat), and
 * the run's percentiles go to par_result.lat. */
typedef struct {
    unsigned threads;
    void (*body)(void *ctx, unsigned thread, par_tally *t);
    void *ctx;
    int64_t (*retired)(void *m);
    void *m;
    int64_t (*held)(void *held_ctx);
    void *held_ctx;
    bool latency;
} par_job;

/* Runs the job: fills r->ns, r->retired_*, r->held_* (when sampled) and
 * r->lat (-1 when not sampled), and adds the threads' sums to r->checksum
 * and their errors to *errors. Returns 0, or -EINVAL (threads out of
 * range) or -ENOMEM. Exits the process if a thread cannot be started (the
 * threads already started would wait at the barrier for good). */
int par_run(const par_job *job, par_result *r, uint64_t *errors);

/* Runs reps repetitions of nwho contenders, repetition `rep` starting with
 * contender rep % nwho: run(ctx, who, rep, &res[who][rep]), after
 * prepare(ctx, rep) if prepare is not NULL (untimed work for the whole
 * repetition). Stops at the first call that fails (returns nonzero), with a
 * message naming names[who] (or the preparation) and `what` (the case),
 * and returns -1; else 0. */
int par_interleave(unsigned nwho, unsigned reps, const char *const *names, const char *what,
                   int (*prepare)(void *ctx, unsigned rep),
                   int (*run)(void *ctx, unsigned who, unsigned rep, par_result *r), void *ctx,
                   par_result (*res)[PAR_MAX_REPS]);

/* Fills the figures of *row from one contender's reps results: ops and
 * checksum of the first run, ns/op median and min-max, retired bytes
 * medians, the ratio of its median to base->ns_med (base NULL: none). If
 * want is not NULL the row is "checked": every repetition's checksum must
 * equal *want, or the row is marked and reported on stderr and *ok turns
 * false. The row's names (workload, impl, ...) are the caller's. */
void par_row_fill(par_row *row, const par_result *res, unsigned reps, const par_row *base,
                  const uint64_t *want, bool *ok);

/* The thread count each contender's scaling is measured against: 2 if it
 * is among threads[0..n) (the machine's cores), else the fewest. */
unsigned par_base_threads(const unsigned *threads, unsigned n);

/* For rows[first..end) (one case run at several thread counts): each row's
 * throughput / the same contender's at base threads, and base_threads. */
void par_scaling(par_row *rows, size_t first, size_t end, unsigned base);

#ifdef __cplusplus
}
#endif

#endif /* GOMAP_BENCH_PARALLEL_H */
