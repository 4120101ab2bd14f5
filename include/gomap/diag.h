/*
 * gomap/diag.h — views of a map's shape, misuse reports and memory budgets.
 *
 * Thread-safety: gomap_stats, gomap_dump and gomap_heatmap are reads of the
 * map (see gomap/map.h): any number may run beside other reads, none beside
 * a write. Nothing here is meant for a hot path. gomap_set_fault_handler is
 * process-wide and may be called from any thread. gomap_set_budget_handler is
 * a write of the map.
 *
 * The concurrent maps. Their core maps are reached only through what their
 * API hands out: a snapshot view's map (gomap_snap_view_map: frozen, so any
 * thread may read it while the view is held), the private copy of a
 * gomap_snap_update callback, and the copy gomap_shard_snapshot returns.
 * The sharded map has its own stats and heatmap (gomap/shardmap.h). The
 * fault handler serves the misuse reports of every map kind.
 */
#ifndef GOMAP_DIAG_H
#define GOMAP_DIAG_H

#include <stdio.h>

#include "map.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Statistics                                                                */
/* ------------------------------------------------------------------------ */

#define GOMAP_HIST_CHAIN 9  /* chain_hist buckets: 0..7 overflow, 8 = 8 or more */
#define GOMAP_HIST_SLOTS 9  /* slots_hist buckets: 0..8 live slots */

typedef struct gomap_stats {
    size_t entries;           /* gomap_len */
    unsigned b;               /* log2 of the bucket count */
    size_t buckets;           /* 2^b, or 0 while no array is allocated */
    size_t overflow_buckets;  /* overflow buckets chained to the current array */
    bool growing;             /* an old array is still being evacuated */
    bool same_size_grow;      /* the growth in progress keeps the size */
    size_t old_buckets;       /* size of the old array while growing, else 0 */
    size_t evacuated;         /* old buckets evacuated so far, while growing */
    size_t bytes_held;        /* bytes currently allocated by the map,
                                 including memory retired for live iterators */
    size_t mapped_bytes;      /* the part of bytes_held in arrays mapped
                                 with mmap (default allocator, arrays of
                                 1 MiB and more), which malloc's statistics
                                 do not see */
    size_t live_iterators;    /* iterators started and not yet exhausted or
                                 ended (an iterator abandoned without
                                 gomap_iter_done stays counted) */
    size_t retained_bytes;    /* bytes kept for live iterators (outgrown
                                 arrays, deleted string keys): at most 4 x
                                 the live array, or 1 MiB for small maps */
    uint64_t iterator_reclaims; /* times the map freed what it kept because
                                 live iterators outgrew that bound, ending
                                 them (one that steps again is reported) */
    uint64_t reseeds;         /* times the hash seed was re-randomised since
                                 creation (map emptied by delete, or cleared) */
    double load_factor;       /* entries / buckets (0 without an array) */
    size_t mem_limit;         /* gomap_options.mem_limit (0: none) */
    unsigned budget_crossed;  /* thresholds of gomap_set_budget_handler
                                 reached so far (each fires once; setting
                                 the handler again starts over) */
    /* Chains of the current array by number of overflow buckets
     * (chain_hist[i]: chains with i overflow buckets; the last counts i or
     * more), and buckets of the current array, overflow buckets included, by
     * number of live slots (slots_hist[i]: buckets with i live entries). */
    size_t chain_hist[GOMAP_HIST_CHAIN];
    size_t slots_hist[GOMAP_HIST_SLOTS];
} gomap_stats_t;

/* Fills *out with the map's current shape. Returns 0 or -EINVAL (NULL m or
 * out). Cost: O(buckets).
 * Context: a read of m: takes no lock and never waits. Callable anywhere
 * the map may be read, callbacks included (a snapshot view's map at any
 * time while the view is held). */
GOMAP_API int gomap_stats(const gomap_t *m, gomap_stats_t *out);

/* ------------------------------------------------------------------------ */
/* Dump and heatmap                                                          */
/* ------------------------------------------------------------------------ */

/* Writes the header and every bucket (tophash bytes, keys rendered by kind,
 * values as hex, overflow chains, the old array while growing), for a person
 * to read. Returns 0, -EINVAL (NULL m or out) or -EIO (write error). Output
 * grows with the map: meant for small maps and debugging.
 * Context: a read of m: takes no lock and never waits. Callable anywhere
 * the map may be read, callbacks included (a snapshot view's map at any
 * time while the view is held). */
GOMAP_API int gomap_dump(const gomap_t *m, FILE *out);

enum {
    GOMAP_HEATMAP_TEXT = 0, /* terminal: Unicode shades, at most 80 columns */
    GOMAP_HEATMAP_SVG = 1   /* an SVG picture with a legend */
};

/* Draws bucket occupancy: each cell is one bucket, or a run of consecutive
 * buckets folded together when the map has more buckets than cells (the
 * output says how many buckets a cell holds; nothing is truncated). A cell's
 * shade is the mean live slots per bucket, 0..8; cells containing overflow
 * chains are marked. Returns 0, -EINVAL (bad format or NULL) or -EIO.
 * Context: a read of m: takes no lock and never waits. Callable anywhere
 * the map may be read, callbacks included (a snapshot view's map at any
 * time while the view is held). */
GOMAP_API int gomap_heatmap(const gomap_t *m, FILE *out, int format);

/* ------------------------------------------------------------------------ */
/* Misuse reports                                                            */
/* ------------------------------------------------------------------------ */

/* The facts of a detected misuse, as printed in the report. Strings are
 * owned by the library and valid during the handler call. */
typedef struct gomap_fault {
    const char *message;          /* Go's text, e.g. "concurrent map writes" */
    const gomap_t *map;
    uint64_t thread_id;           /* the detecting thread (Linux thread id) */
    const char *thread_name;
    const void *call_site;        /* return address of the detecting call */
    uint64_t other_thread_id;     /* the writer holding the mark; 0 if unknown */
    const char *other_thread_name;   /* "" if unknown */
    const void *other_call_site;  /* where that writer entered its write */
    size_t count;                 /* the map's header when detected */
    unsigned b;
    bool growing;
    size_t overflow_buckets;
    const char *report;           /* the whole report as printed to stderr */
} gomap_fault;

typedef void (*gomap_fault_fn)(const gomap_fault *fault, void *ctx);

/* Installs a process-wide handler called after the report is printed and
 * before abort(), so a program can flush logs or write its own dump. It runs
 * on a thread of its own while the detecting thread waits: when it returns
 * (or after 30 seconds) the process aborts, and nothing it does can resume
 * the faulting thread. NULL removes the handler.
 * Context: takes a process-wide lock briefly (never held while a handler
 * runs); never waits otherwise. Callable from any thread, inside any map's
 * callback, and from the handler itself. */
GOMAP_API void gomap_set_fault_handler(gomap_fault_fn fn, void *ctx);

/* ------------------------------------------------------------------------ */
/* Memory budget                                                             */
/* ------------------------------------------------------------------------ */

#define GOMAP_BUDGET_MAX_THRESHOLDS 8

typedef void (*gomap_budget_fn)(const gomap_t *m, double threshold,
                                size_t bytes_held, size_t mem_limit, void *ctx);

/* Calls fn once for each threshold (a fraction of gomap_options.mem_limit,
 * e.g. 0.80, 0.92, 0.97) the first time the map's memory reaches it, in
 * increasing order, at the end of the write that crossed it (the map is
 * consistent; fn must not write to this map). Replaces any earlier handler
 * and re-arms every threshold (any the map already reaches fire at the end
 * of this call). Returns 0, or -EINVAL (NULL m, map without a limit,
 * n over GOMAP_BUDGET_MAX_THRESHOLDS, a threshold outside (0, 1], or fn or
 * thresholds NULL with n > 0).
 * Context: a write of m (gomap/map.h): no lock of its own, never waits.
 * The concurrent maps take no mem_limit, so none of their core maps has a
 * budget: on a snapshot view's map (a published version) the call is
 * reported as misuse, whatever its arguments; on an update callback's copy
 * it returns -EINVAL. */
GOMAP_API int gomap_set_budget_handler(gomap_t *m, const double *thresholds, size_t n,
                                       gomap_budget_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* GOMAP_DIAG_H */
