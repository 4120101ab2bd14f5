/*
 * strat_batch.h — the strategies matrix's loop for contenders that read in
 * batches (shard-batch, sync-batch in strat_impls.c): the stream's
 * operations in order, except that each run of consecutive gets, up to
 * STRAT_GET_BATCH of them, is answered by one batch-get call. A write is
 * made only after the gets before it, and the gets after it are asked only
 * after it, so a thread's operations on one key take effect in stream order
 * and a one-thread run's checksum is the reference's.
 */
#ifndef GOMAP_BENCH_STRAT_BATCH_H
#define GOMAP_BENCH_STRAT_BATCH_H

#include "strategies/strat_workloads.h"

enum { STRAT_GET_BATCH = 32 };

/* A map's batch get (gomap_shard_get_many's shape): n uint64 keys, their
 * values and found flags out; returns the number found. */
typedef size_t (*strat_get_many)(void *m, const uint64_t *keys, size_t n, uint64_t *vals,
                                 bool *found);

/* Operations [from, from + count) of s: gets batched, the rest one by one
 * through o (as strat_loop). */
STRAT_LOOP void strat_batch_loop(const strat_ops *o, strat_get_many get_many, void *m,
                                 const op_stream *s, uint64_t from, uint64_t count,
                                 par_tally *out)
{
    uint64_t vals[STRAT_GET_BATCH];
    bool found[STRAT_GET_BATCH];
    for (uint64_t j = from, end = from + count; j < end;) {
        uint64_t first = j;
        while (j < end && j - first < STRAT_GET_BATCH && s->op[j] == OP_GET)
            j++;
        if (j == first) {
            strat_loop(o, m, s, j++, 1, out);
            continue;
        }
        get_many(m, &s->key[first], (size_t)(j - first), vals, found);
        for (size_t k = 0; k < j - first; k++)
            if (found[k])
                out->sum += vals[k] + 1;
    }
}

/* Defines prefix_batch_body (a strat_impl body) on ops and get_many. */
#define STRAT_BATCH_INSTANTIATE(prefix, ops, get_many)                                          \
    static void prefix##_batch_body(void *m, const op_stream *s, uint64_t from, uint64_t count, \
                                    par_tally *t)                                               \
    {                                                                                           \
        strat_batch_loop(&(ops), get_many, m, s, from, count, t);                               \
    }

#endif /* GOMAP_BENCH_STRAT_BATCH_H */
