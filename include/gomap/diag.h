/*
 * gomap/diag.h — views of a map's shape, for people and for tests.
 *
 * Thread-safety: every call here is a read of the map (see gomap/map.h): any
 * number may run beside other reads, none beside a write. Nothing here is
 * meant for a hot path.
 */
#ifndef GOMAP_DIAG_H
#define GOMAP_DIAG_H

#include "map.h"

#ifdef __cplusplus
extern "C" {
#endif

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
    uint64_t reseeds;         /* times the hash seed was re-randomised since
                                 creation (map emptied by delete, or cleared) */
    double load_factor;       /* entries / buckets (0 without an array) */
} gomap_stats_t;

/* Fills *out with the map's current shape. Returns 0 or -EINVAL. */
GOMAP_API int gomap_stats(const gomap_t *m, gomap_stats_t *out);

#ifdef __cplusplus
}
#endif

#endif /* GOMAP_DIAG_H */
