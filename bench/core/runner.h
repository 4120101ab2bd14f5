/*
 * runner.h — runs one workload on one in-process implementation.
 *
 * The data a workload needs (key set, query set) is built once per case and
 * shared by every implementation and repetition: bench_case holds it.
 */
#ifndef GOMAP_BENCH_RUNNER_H
#define GOMAP_BENCH_RUNNER_H

#include "common/bench.h"

typedef struct {
    bench_workload wl;
    bench_key_type type;
    size_t n;
    uint64_t seed;
    size_t min_ops;     /* lookups and churn steps: max(n, min_ops); inserts
                           and iterations repeat to at least min_ops */
    bench_keyset set;   /* set keys (n, or n + steps for churn) */
    bench_keyset queries;
} bench_case;

/* Builds what the case needs. Returns 0 or -ENOMEM. */
int case_prepare(bench_case *c);
void case_release(bench_case *c);

/* One run. Returns 0, -ENOMEM if the implementation could not create
 * its map, or -ENOTSUP if it lacks the workload's operation (iterate). */
int run_inprocess(const bench_impl *impl, const bench_case *c, bench_result *r);

#endif /* GOMAP_BENCH_RUNNER_H */
