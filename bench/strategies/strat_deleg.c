/*
 * strat_deleg.c — the delegation map (gomap/delegmap.h) in the strategies
 * matrix, on uint64 keys and 8-byte values:
 *
 *   deleg-comb         workers = 0 (combining), synchronous calls
 *   deleg-1w           one owner thread, synchronous calls
 *   deleg-comb-batch   combining, gomap_deleg_submit of BATCH operations
 *                      then gomap_deleg_wait: BATCH in flight per thread
 *   deleg-1w-batch     one owner thread, the same batches
 *
 * update = gomap_deleg_compute (+1 on the server). The synchronous ones run
 * the matrix's loop (strat_workloads.h); the batch ones run the same
 * operations BATCH at a time, in stream order, so a thread's operations on
 * one key take effect in the order of the stream and a one-thread run's
 * checksum is the reference's.
 */
#include <string.h>

#include <gomap/delegmap.h>

#include "common/compute_add_one.h"
#include "strategies/strat_workloads.h"

enum { BATCH = 32, PREFILL_BATCH = 256 };

static void *deleg_create(unsigned workers, unsigned depth, size_t hint,
                          const gomap_allocator *alloc)
{
    gomap_deleg_options o;
    memset(&o, 0, sizeof o);
    o.map = (gomap_options){.key_kind = GOMAP_KEY_U64, .val_size = sizeof(uint64_t), .hint = hint,
                            .alloc = alloc};
    o.workers = workers;
    o.queue_depth = depth;
    gomap_deleg_t *m;
    return gomap_deleg_new(&m, &o) == 0 ? m : NULL;
}

static void *comb_create(size_t hint, const gomap_allocator *alloc)
{
    return deleg_create(0, BATCH, hint, alloc);
}

static void *one_worker_create(size_t hint, const gomap_allocator *alloc)
{
    return deleg_create(1, BATCH, hint, alloc);
}
static void deleg_destroy(void *m) { gomap_deleg_free(m); }
static size_t deleg_len(void *m) { return gomap_deleg_len(m); }

/* ---- synchronous -------------------------------------------------------------------- */

static bool deleg_get(void *m, uint64_t key, uint64_t *val)
{
    return gomap_deleg_get(m, &key, val);
}

static int deleg_set(void *m, uint64_t key, uint64_t val)
{
    return gomap_deleg_set(m, &key, &val);
}

static void deleg_del(void *m, uint64_t key) { gomap_deleg_delete(m, &key); }

static int deleg_update(void *m, uint64_t key)
{
    return gomap_deleg_compute(m, &key, compute_add_one, NULL);
}

static const strat_ops deleg_ops = {deleg_get, deleg_set, deleg_del, deleg_update};
STRAT_INSTANTIATE(deleg, deleg_ops)

/* ---- batches ------------------------------------------------------------------------ */

/* The prefill, PREFILL_BATCH sets at a time. */
static int deleg_prefill_batched(void *m, uint64_t seed, uint64_t n)
{
    gomap_deleg_op ops[PREFILL_BATCH];
    uint64_t keys[PREFILL_BATCH], vals[PREFILL_BATCH];
    for (uint64_t i = 0; i < n;) {
        size_t k = 0;
        for (; k < PREFILL_BATCH && i < n; k++, i++) {
            keys[k] = ks_key(seed, STREAM_SET, i);
            vals[k] = i + 1;
            ops[k] = (gomap_deleg_op){.kind = GOMAP_DELEG_SET, .key = &keys[k], .val = &vals[k]};
        }
        gomap_deleg_submit(m, ops, k, 0);
        gomap_deleg_wait(m, ops, k);
        for (size_t j = 0; j < k; j++)
            if (ops[j].result < 0)
                return ops[j].result;
    }
    return 0;
}

/* The operation of stream entry j (OP_SET_GET belongs to the cache suite,
 * which does not run this contender). */
static void batch_op(gomap_deleg_op *op, const op_stream *s, uint64_t j, uint64_t *val)
{
    static const int kinds[] = {GOMAP_DELEG_GET, GOMAP_DELEG_SET, GOMAP_DELEG_DELETE,
                                GOMAP_DELEG_COMPUTE};
    *op = (gomap_deleg_op){.kind = kinds[s->op[j] & 3], .key = &s->key[j], .val = val};
    if (s->op[j] == OP_SET)
        *val = j;
    else if (s->op[j] == OP_UPDATE)
        op->fn = compute_add_one;
}

static void deleg_batch_body(void *m, const op_stream *s, uint64_t from, uint64_t count,
                             par_tally *out)
{
    gomap_deleg_op ops[BATCH];
    uint64_t vals[BATCH];
    par_tally t = {0, 0, NULL}; /* sums only: samples go to out->lat */
    for (uint64_t j = from, end = from + count; j < end;) {
        /* The sample: the batch holding operation j, j % STRAT_LAT_EVERY
         * == 0, timed from its submit to the end of its wait (the time
         * each of its operations waited for its result). */
        bool timed = out->lat && j / BATCH % (STRAT_LAT_EVERY / BATCH) == 0;
        size_t k = 0;
        for (; k < BATCH && j < end; k++, j++)
            batch_op(&ops[k], s, j, &vals[k]);
        uint64_t t0 = timed ? clock_ticks_ordered() : 0;
        gomap_deleg_submit(m, ops, k, 0);
        gomap_deleg_wait(m, ops, k);
        if (timed)
            lathist_add(out->lat, clock_ticks_ordered() - t0);
        for (size_t i = 0; i < k; i++) {
            if (ops[i].kind == GOMAP_DELEG_GET && ops[i].result)
                t.sum += vals[i] + 1;
            else if (ops[i].kind != GOMAP_DELEG_DELETE && ops[i].result < 0)
                t.errors++;
        }
    }
    out->sum += t.sum;
    out->errors += t.errors;
}

const strat_impl strat_impl_deleg_comb = {
    .name = "deleg-comb",
    .what = "gomap_deleg_t (gomap/delegmap.h), combining, synchronous calls; update = compute",
    .create = comb_create,
    .destroy = deleg_destroy,
    .prefill = deleg_prefill_batched,
    .body = deleg_body,
    .len = deleg_len,
};

const strat_impl strat_impl_deleg_1w = {
    .name = "deleg-1w",
    .what = "gomap_deleg_t, 1 owner thread, synchronous calls; update = compute",
    .create = one_worker_create,
    .destroy = deleg_destroy,
    .prefill = deleg_prefill_batched,
    .body = deleg_body,
    .len = deleg_len,
};

const strat_impl strat_impl_deleg_comb_batch = {
    .name = "deleg-comb-batch",
    .what = "gomap_deleg_t, combining, gomap_deleg_submit + wait of 32 operations per thread",
    .create = comb_create,
    .destroy = deleg_destroy,
    .prefill = deleg_prefill_batched,
    .body = deleg_batch_body,
    .len = deleg_len,
};

const strat_impl strat_impl_deleg_1w_batch = {
    .name = "deleg-1w-batch",
    .what = "gomap_deleg_t, 1 owner thread, gomap_deleg_submit + wait of 32 operations per thread",
    .create = one_worker_create,
    .destroy = deleg_destroy,
    .prefill = deleg_prefill_batched,
    .body = deleg_batch_body,
    .len = deleg_len,
};
