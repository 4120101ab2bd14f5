/*
 * bench.h — what gomap-bench's parts share: workloads, key sets, and the
 * interface every in-process implementation (gomap and the C/C++ peers)
 * provides.
 *
 * An implementation runs whole phases (insert a range of keys, look up a
 * range of queries, ...) inside its own loop, so the timed code makes direct
 * calls into the table being measured; the harness calls it once per phase.
 * Values are uint64_t everywhere; key i of a key set is stored with value
 * i + 1, so sums of found values check that everyone did the same work.
 */
#ifndef GOMAP_BENCH_H
#define GOMAP_BENCH_H

#include <gomap/map.h>

#include "common/latbins.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { KEYS_U64, KEYS_STR } bench_key_type;

/* Workloads, in table order. docs/bench.md defines each one exactly. */
typedef enum {
    WL_INSERT,          /* grow from empty, no size hint */
    WL_INSERT_PRESIZED, /* same with the final size as hint */
    WL_INSERT_LATENCY,  /* one grow from empty, every insert timed */
    WL_LOOKUP_HIT,
    WL_LOOKUP_50,
    WL_LOOKUP_MISS,
    WL_LOOKUP_BATCH,    /* lookup-50's queries; batch API where there is one */
    WL_CHURN,           /* delete a key, insert a new one, size constant */
    WL_ITERATE,
    WL_COUNT
} bench_workload;

/* A key set: n keys of one type, as arrays the timed loops read in order.
 * String keys are gomap_str {ptr, len}; the bytes belong to the set. */
typedef struct {
    bench_key_type type;
    size_t n;
    uint64_t *u64;
    gomap_str *str;
    char *bytes; /* backing store of the string keys (owned) */
} bench_keyset;

/* One timed run of one workload by one implementation. */
typedef struct {
    double ns;          /* the timed phase, in nanoseconds */
    uint64_t ops;       /* operations timed */
    uint64_t checksum;  /* must agree across implementations and runs */
    int64_t bytes;      /* bytes the map holds (allocator-counted); -1 unknown */
    /* Per-insert latency in ns (insert-latency only, else 0), the inserts
     * slower than 20 us and 100 us, and the histogram (latbins.h). */
    double p50, p99, p999, max;
    uint64_t over20us, over100us;
    uint32_t hist[LAT_BINS];
} bench_result;

const char *bench_workload_name(bench_workload wl);
const char *bench_keys_name(bench_key_type type);

/* An in-process implementation. `map` is the implementation's own handle. */
typedef struct bench_impl {
    const char *name;
    const char *what;   /* one line: the library and its version or package */
    bool opt_in;        /* runs only when --impls names it */
    bool copies_keys;   /* stores its own copy of string keys */
    bool latency_only;  /* runs the insert-latency workload only */
    void *(*create)(bench_key_type type, size_t hint); /* NULL on failure */
    void (*destroy)(void *map);
    /* Inserts keys [from, to) of ks, key i with value i + 1. */
    void (*insert)(void *map, const bench_keyset *ks, size_t from, size_t to);
    /* Looks up queries [from, to); returns the sum of the values found. */
    uint64_t (*lookup)(void *map, const bench_keyset *q, size_t from, size_t to);
    /* Same answer through a batch API; NULL if the table has none. */
    uint64_t (*lookup_batch)(void *map, const bench_keyset *q, size_t from, size_t to);
    /* Deletes keys [from, to); returns how many were present. */
    size_t (*erase)(void *map, const bench_keyset *ks, size_t from, size_t to);
    /* Visits every entry; returns the sum of the values. */
    uint64_t (*iterate)(void *map);
    size_t (*len)(void *map);
    /* Bytes the map holds outside malloc (its own mappings), which the
     * allocator statistics the runner counts with do not see; NULL: none. */
    size_t (*unmalloced_bytes)(void *map);
} bench_impl;

/* The implementations compiled into this binary (peers only when their
 * packages were present at build time). NULL-terminated. */
extern const bench_impl *const bench_impls[];

extern const bench_impl bench_impl_gomap;
extern const bench_impl bench_impl_gomap_shard;
extern const bench_impl bench_impl_gomap_cache;
extern const bench_impl bench_impl_floor;
extern const bench_impl bench_impl_floor_mem;
extern const bench_impl bench_impl_absl;
extern const bench_impl bench_impl_glib;
extern const bench_impl bench_impl_uthash;

/* Stringify a macro's value (library versions in `what`). */
#define GOMAP_BENCH_STR_(x) #x
#define GOMAP_BENCH_STR(x) GOMAP_BENCH_STR_(x)

/* Helpers the adapters share: the stored value of key i. */
static inline uint64_t bench_value_of(size_t i) { return (uint64_t)i + 1; }

#ifdef __cplusplus
}
#endif

#endif /* GOMAP_BENCH_H */
