/*
 * trace.h — the traces gomap-cachesim replays (traces/README.md): their
 * readers, and the map from a trace's keys to dense ids 0..n_keys-1 (in
 * order of first access), which every policy indexes its key table with.
 */
#ifndef GOMAP_CACHESIM_TRACE_H
#define GOMAP_CACHESIM_TRACE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { TRACE_LIRS, TRACE_CACHE2K } trace_format;

/* A known trace: its file under the trace folder and the cache sizes (in
 * entries) worth measuring on it; sizes end at the first 0. */
typedef struct {
    const char *name;
    const char *file;
    trace_format format;
    size_t sizes[5];
} trace_info;

extern const trace_info trace_catalog[];
extern const size_t trace_catalog_len;

typedef struct {
    uint32_t *keys; /* dense ids, one per access */
    size_t len;
    uint32_t n_keys;
} trace;

/* Reads `path` (decompressed by gzip -dc or xz -dc through a pipe) into t.
 * Returns 0, or -1 after a message on stderr. */
int trace_load(trace *t, const char *path, trace_format format);

/* Maps raw keys to dense ids in place; returns the number of distinct keys,
 * or -1 when out of memory. */
int64_t trace_densify(uint64_t *raw, size_t n, uint32_t *ids);

void trace_free(trace *t);

#endif /* GOMAP_CACHESIM_TRACE_H */
