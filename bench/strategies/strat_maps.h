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

#include "strategies/strat_bench.h"

/* A fresh map holding the stream's prefill, presized for it; NULL if
 * memory ran out. */
void *maps_prefilled(const strat_impl *impl, const op_stream *st);

/* Queues m to be freed by the next maps_free_start (freed at once if the
 * queue cannot grow). */
void maps_release(const strat_impl *impl, void *m);

/* Starts freeing every map queued, on a helper thread (here if it cannot
 * start), and returns. */
void maps_free_start(void);

/* Waits until the maps being freed are. */
void maps_free_wait(void);

#endif /* GOMAP_BENCH_STRAT_MAPS_H */
