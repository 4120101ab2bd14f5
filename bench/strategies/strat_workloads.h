/*
 * strat_workloads.h — the loop of the strategies matrix, written once and
 * instantiated by each in-process contender on its own operations (in C,
 * and in C++ for the tbb peer).
 *
 * A contender defines a `static const strat_ops` of its operations and
 * expands STRAT_INSTANTIATE(prefix, ops): the loop below is inlined with
 * the operations known at compile time, so the timed loop calls the map
 * directly, as sync_workloads.h does for the sync suite.
 * bench/peers/go/stratbench.go runs the same loop in Go.
 */
#ifndef GOMAP_BENCH_STRAT_WORKLOADS_H
#define GOMAP_BENCH_STRAT_WORKLOADS_H

#include <errno.h>

#include "common/clock.h"
#include "common/keystream.h"
#include "common/lathist.h"
#include "strategies/strat_bench.h"

/* A contender's operations on uint64 keys and values. get returns whether
 * the key was found and stores its value; set inserts or overwrites; del
 * deletes if present; update adds 1 to the value, an absent key counting
 * as 0 (so it inserts 1), atomically. set and update return 0 or -ENOMEM. */
typedef struct {
    bool (*get)(void *m, uint64_t key, uint64_t *val);
    int (*set)(void *m, uint64_t key, uint64_t val);
    void (*del)(void *m, uint64_t key);
    int (*update)(void *m, uint64_t key);
} strat_ops;

#define STRAT_LOOP static inline __attribute__((always_inline))

/* The latency sample: operation j is timed when j % STRAT_LAT_EVERY == 0
 * (and out->lat is not NULL), with the time-stamp counter, into out->lat. */
#define STRAT_LAT_EVERY 64

/* Operations [from, from + count) of s. A get that hits adds value + 1 to
 * the sum; operation j that sets stores j; OP_SET_GET as opstream.h says
 * (a set that fails with -ENOMEM counts as refused there, not as an
 * error). Every STRAT_LAT_EVERY-th operation is timed into out->lat. */
STRAT_LOOP void strat_loop(const strat_ops *o, void *m, const op_stream *s, uint64_t from,
                           uint64_t count, par_tally *out)
{
    par_tally t = {0, 0, NULL};
    const uint8_t *op = s->op;
    const uint64_t *key = s->key;
    lathist *lat = out->lat;
    uint64_t v = 0;
    for (uint64_t j = from, end = from + count; j < end; j++) {
        bool timed = lat && j % STRAT_LAT_EVERY == 0;
        uint64_t t0 = timed ? clock_ticks_ordered() : 0;
        switch (op[j]) {
        case OP_GET:
            if (o->get(m, key[j], &v))
                t.sum += v + 1;
            break;
        case OP_SET: t.errors += o->set(m, key[j], j) < 0; break;
        case OP_DELETE: o->del(m, key[j]); break;
        case OP_SET_GET:
            if (o->set(m, key[j], j) < 0)
                t.sum += OPS_REFUSED;
            else if (o->get(m, key[j], &v) && v == j)
                t.sum += OPS_READABLE;
            break;
        default: t.errors += o->update(m, key[j]) < 0; break;
        }
        if (timed)
            lathist_add(lat, clock_ticks_ordered() - t0);
    }
    out->sum += t.sum;
    out->errors += t.errors;
}

/* The untimed prefill, one set at a time. */
STRAT_LOOP int strat_prefill_loop(const strat_ops *o, void *m, uint64_t seed, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (o->set(m, ks_key(seed, STREAM_SET, i), i + 1) < 0)
            return -ENOMEM;
    return 0;
}

/* Defines prefix_prefill and prefix_body (strat_impl's prefill and body)
 * on the operations `ops`, a static const strat_ops. (A contender may
 * prefill its own way and leave prefix_prefill unused.) */
#define STRAT_INSTANTIATE(prefix, ops)                                                         \
    __attribute__((unused)) static int prefix##_prefill(void *m, uint64_t seed, uint64_t n)    \
    {                                                                                          \
        return strat_prefill_loop(&(ops), m, seed, n);                                         \
    }                                                                                          \
    static void prefix##_body(void *m, const op_stream *s, uint64_t from, uint64_t count,      \
                              par_tally *t)                                                    \
    {                                                                                          \
        strat_loop(&(ops), m, s, from, count, t);                                              \
    }

#endif /* GOMAP_BENCH_STRAT_WORKLOADS_H */
