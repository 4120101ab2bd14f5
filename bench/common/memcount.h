/*
 * memcount.h — a counting allocator for the strategies matrix's memory
 * columns: a gomap_allocator (gomap/map.h) that passes every block to
 * malloc/free and keeps the bytes live, and, in C++ terms, what the tbb
 * contender's allocator adapter counts into.
 *
 * The count is spread over MEMCOUNT_SLOTS cache lines, a thread adding to
 * the slot of its own (threads take slots in turn), so that a map whose
 * writers allocate on every write (the sync map) does not make them share
 * one counter line; a slot may go negative where another thread (liburcu's
 * reclaimer) frees what one allocated. memcount_live sums the slots: exact
 * while no thread allocates or frees, a moment's approximation otherwise.
 * The peak is not tracked per block: the matrix samples memcount_live every
 * millisecond of a run (parallel.h), so a peak shorter than that may be
 * missed.
 *
 * Ownership: a memcount is the caller's, and must outlive every block
 * counted through it (a map's allocator must outlive the map).
 */
#ifndef GOMAP_BENCH_MEMCOUNT_H
#define GOMAP_BENCH_MEMCOUNT_H

#include <gomap/map.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { MEMCOUNT_SLOTS = 16 };

typedef struct {
    struct {
        int64_t bytes __attribute__((aligned(64))); /* atomic (relaxed) */
    } slot[MEMCOUNT_SLOTS];
    gomap_allocator alloc;          /* counts into this memcount */
} memcount;

/* Zeroes mc and points mc->alloc at it. */
void memcount_init(memcount *mc);

/* Counts size bytes allocated (negative: freed) by the calling thread. */
void memcount_add(memcount *mc, int64_t size);

/* The bytes allocated and not yet freed through mc. */
int64_t memcount_live(const memcount *mc);

/* memcount_live, for par_job's gauge (ctx: the memcount). */
int64_t memcount_gauge(void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* GOMAP_BENCH_MEMCOUNT_H */
