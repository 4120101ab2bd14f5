/*
 * strat_maps.h — the life of the strategies matrix's maps outside the
 * timed phases: filling them and freeing them.
 *
 * Filling a map of a million keys, and freeing it, takes longer than the
 * run timed on it (the sync map's free waits until RCU has reclaimed every
 * entry: about a second here). Neither is timed, so the matrix overlaps
 * them: before a repetition, strat_bench.c fills every in-process
 * contender's map while the Go peer fills its own, and the maps of the
 * repetition before are freed meanwhile on a helper thread. All of that is
 * over before the first timed phase of the repetition starts: nothing runs
 * beside the threads being timed.
 */
#ifndef GOMAP_BENCH_STRAT_MAPS_H
#define GOMAP_BENCH_STRAT_MAPS_H

#include "common/memcount.h"
#include "strategies/strat_bench.h"

/* A contender's map, with what counts its bytes. Owned by whoever
 * maps_prefilled gave it to, until maps_release. */
typedef struct {
    const strat_impl *impl;
    void *m;
    memcount mem;        /* the allocator the map was created with (when counted) */
    bool counted;        /* mem counts the map's bytes */
    int64_t malloc_fill; /* impl->mem_malloc: the bytes (mallinfo2) its creation
                            and prefill took; else -1 */
} strat_map;

/* A fresh map holding the stream's prefill, presized for it, its bytes
 * counted (`count`: through a counting allocator, and for a mem_malloc
 * contender with mallinfo2 too, after maps_quiesce, so that nothing else
 * allocates or frees meanwhile); NULL if memory ran out. */
strat_map *maps_prefilled(const strat_impl *impl, const op_stream *st, bool count);

/* Queues the map to be freed by the next maps_free_start (freed at once if
 * the queue cannot grow). */
void maps_release(strat_map *sm);

/* Notes that a run ended with `retired` bytes still waiting for liburcu's
 * reclaimer (par_result.retired_end; -1: none measured). */
void maps_note_retired(int64_t retired);

/* Waits until no other thread frees memory or waits for a grace period on
 * the matrix's behalf: the maps being freed are, and the deferred frees of
 * earlier runs are done (a barrier, when a run noted some). Before a run
 * whose grace periods or mallinfo2 bytes are counted. */
void maps_quiesce(void);

/* The bytes glibc's malloc has handed out and not taken back (mallinfo2:
 * in-use chunks and mmapped blocks, all arenas); -1 where there is no
 * mallinfo2 (other C libraries, sanitizers, which replace malloc). */
int64_t maps_malloc_bytes(void);

/* Starts freeing every map queued, on a helper thread (here if it cannot
 * start), and returns. */
void maps_free_start(void);

/* Waits until the maps being freed are. */
void maps_free_wait(void);

#endif /* GOMAP_BENCH_STRAT_MAPS_H */
