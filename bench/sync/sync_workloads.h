/*
 * sync_workloads.h — the loops of the concurrent suite, written once and
 * instantiated by each in-process contender on its own operations.
 *
 * A contender defines a `static const sync_ops` of its operations and
 * expands SYNC_INSTANTIATE(prefix, ops): the loops below are inlined with
 * the operations known at compile time, so the timed loop calls the map
 * directly (as the single-thread suite's adapters do). These are the loops
 * of Go's src/sync/map_bench_test.go; bench/peers/go/syncbench.go runs the
 * same ones on sync.Map. Every value found adds value + 1 to the thread's
 * sum, which makes the checksum (docs/bench.md).
 */
#ifndef GOMAP_BENCH_SYNC_WORKLOADS_H
#define GOMAP_BENCH_SYNC_WORKLOADS_H

#include <string.h>

#include "sync/sync_bench.h"

/* A contender's operations on uint64 keys and values. Writes return 0 or
 * -ENOMEM; lookups return whether the key was found and store its value
 * (0 if absent). range calls fn(key, value, ctx) on each entry until fn
 * returns false, and allows fn to call the other operations. */
typedef struct {
    bool (*load)(void *m, uint64_t key, uint64_t *val);
    int (*store)(void *m, uint64_t key, uint64_t val);
    int (*load_or_store)(void *m, uint64_t key, uint64_t val, uint64_t *actual, bool *loaded);
    bool (*load_and_delete)(void *m, uint64_t key, uint64_t *val);
    void (*del)(void *m, uint64_t key);
    int (*range)(void *m, bool (*fn)(const void *key, const void *val, void *ctx), void *ctx);
} sync_ops;

#define SYNC_LOOP static inline __attribute__((always_inline))

/* Go's constants: map_bench_test.go's mapSize, hits and misses. */
enum { SYNC_MAP_SIZE = 1024, SYNC_BALANCED = 128 };

static inline uint64_t sync_u64_at(const void *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Takes the value by address: it is read after `found` is evaluated (the
 * call that found it fills it). */
SYNC_LOOP void sync_found(par_tally *t, bool found, const uint64_t *val)
{
    if (found)
        t->sum += *val + 1;
}

SYNC_LOOP void sync_wrote(par_tally *t, int rc)
{
    if (rc < 0)
        t->errors++;
}

/* Range's callback: visit everything, summing value + 1. */
static bool sync_sum_entry(const void *key, const void *val, void *ctx)
{
    (void)key;
    ((par_tally *)ctx)->sum += sync_u64_at(val) + 1;
    return true;
}

/* AdversarialDelete's callback: delete the first key visited, stop. */
typedef struct {
    const sync_ops *ops;
    void *m;
} sync_delete_ctx;

static bool sync_delete_first(const void *key, const void *val, void *ctx)
{
    (void)val;
    sync_delete_ctx *c = ctx;
    c->ops->del(c->m, sync_u64_at(key));
    return false;
}

/* The untimed setup of each workload. */
SYNC_LOOP void sync_setup_loop(const sync_ops *o, void *m, sync_workload wl, par_tally *t)
{
    uint64_t hits = 0, v = 0;
    bool loaded = false;
    switch (wl) {
    case SWL_LOAD_MOSTLY_HITS: hits = SYNC_MAP_SIZE - 1; break;
    case SWL_LOAD_MOSTLY_MISSES: hits = 1; break;
    case SWL_LOAD_OR_STORE_BALANCED:
    case SWL_LOAD_AND_DELETE_BALANCED:
    case SWL_STORE_OVERWRITE: hits = SYNC_BALANCED; break;
    case SWL_LOAD_OR_STORE_COLLISION:
    case SWL_LOAD_AND_DELETE_COLLISION:
        sync_wrote(t, o->load_or_store(m, 0, 0, &v, &loaded));
        return;
    case SWL_RANGE:
    case SWL_ADVERSARIAL_DELETE:
        for (uint64_t i = 0; i < SYNC_MAP_SIZE; i++)
            sync_wrote(t, o->store(m, i, i));
        return;
    default: return;
    }
    for (uint64_t i = 0; i < hits; i++)
        sync_wrote(t, o->load_or_store(m, i, i, &v, &loaded));
    /* Go: "Prime the map to get it into a steady state." */
    for (uint64_t i = 0; i < hits * 2; i++)
        o->load(m, i % hits, &v);
}

/* One thread's share: keys i .. i + n - 1. */
SYNC_LOOP void sync_thread_loop(const sync_ops *o, void *m, sync_workload wl, uint64_t i,
                                uint64_t n, par_tally *out)
{
    par_tally t = {0, 0, NULL};
    uint64_t end = i + n, v = 0;
    bool loaded = false;
    switch (wl) {
    case SWL_LOAD_MOSTLY_HITS:   /* 1023 hits, 1 miss */
    case SWL_LOAD_MOSTLY_MISSES: /* 1 hit, 1023 misses */
        for (; i < end; i++)
            sync_found(&t, o->load(m, i % SYNC_MAP_SIZE, &v), &v);
        break;
    case SWL_LOAD_OR_STORE_BALANCED:
        for (; i < end; i++) {
            uint64_t j = i % (2 * SYNC_BALANCED);
            sync_wrote(&t, o->load_or_store(m, j < SYNC_BALANCED ? j : i, i, &v, &loaded));
            sync_found(&t, loaded, &v);
        }
        break;
    case SWL_LOAD_OR_STORE_UNIQUE:
        for (; i < end; i++) {
            sync_wrote(&t, o->load_or_store(m, i, i, &v, &loaded));
            sync_found(&t, loaded, &v);
        }
        break;
    case SWL_LOAD_OR_STORE_COLLISION:
        for (; i < end; i++) {
            sync_wrote(&t, o->load_or_store(m, 0, 0, &v, &loaded));
            sync_found(&t, loaded, &v);
        }
        break;
    case SWL_LOAD_AND_DELETE_BALANCED:
        for (; i < end; i++) {
            uint64_t j = i % (2 * SYNC_BALANCED);
            sync_found(&t, o->load_and_delete(m, j < SYNC_BALANCED ? j : i, &v), &v);
        }
        break;
    case SWL_LOAD_AND_DELETE_UNIQUE:
        for (; i < end; i++)
            sync_found(&t, o->load_and_delete(m, i, &v), &v);
        break;
    case SWL_LOAD_AND_DELETE_COLLISION:
        for (; i < end; i++)
            sync_found(&t, o->load_and_delete(m, 0, &v), &v);
        break;
    case SWL_RANGE: {
        par_tally visits = {0, 0, NULL}; /* its own: t stays in registers elsewhere */
        for (; i < end; i++)
            sync_wrote(&t, o->range(m, sync_sum_entry, &visits));
        t.sum += visits.sum;
        break;
    }
    case SWL_ADVERSARIAL_ALLOC: {
        uint64_t stores = 0, loads_since_store = 0;
        for (; i < end; i++) {
            sync_found(&t, o->load(m, i, &v), &v);
            if (++loads_since_store > stores) {
                sync_wrote(&t, o->load_or_store(m, i, stores, &v, &loaded));
                sync_found(&t, loaded, &v);
                loads_since_store = 0;
                stores++;
            }
        }
        break;
    }
    case SWL_STORE_OVERWRITE: /* not Go's: Store of a present key */
        for (; i < end; i++)
            sync_wrote(&t, o->store(m, i % SYNC_BALANCED, i));
        break;
    case SWL_ADVERSARIAL_DELETE: {
        sync_delete_ctx dc = {o, m};
        for (; i < end; i++) {
            sync_found(&t, o->load(m, i, &v), &v);
            if (i % SYNC_MAP_SIZE == 0) {
                sync_wrote(&t, o->range(m, sync_delete_first, &dc));
                sync_wrote(&t, o->store(m, i, i));
            }
        }
        break;
    }
    default: break;
    }
    *out = t;
}

/* Defines prefix_setup and prefix_body (sync_impl's setup and body) on the
 * operations `ops`, a static const sync_ops. */
#define SYNC_INSTANTIATE(prefix, ops)                                                          \
    static void prefix##_setup(void *m, sync_workload wl, par_tally *t)                       \
    {                                                                                          \
        sync_setup_loop(&(ops), m, wl, t);                                                     \
    }                                                                                          \
    static void prefix##_body(void *m, sync_workload wl, uint64_t start, uint64_t count,       \
                              par_tally *t)                                                   \
    {                                                                                          \
        sync_thread_loop(&(ops), m, wl, start, count, t);                                      \
    }

#endif /* GOMAP_BENCH_SYNC_WORKLOADS_H */
