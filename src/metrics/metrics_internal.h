/*
 * metrics_internal.h — the metrics registry's layout, shared by metrics.c
 * (the registry: names, add, remove, reading each structure's stats),
 * metrics_format.c (the text exposition format) and metrics_server.c (the
 * HTTP exporter). docs/metrics.md has the families and their meaning.
 *
 * The registry is a list of entries sorted by name under one mutex of its
 * own. A scrape holds the mutex throughout: it reads every entry's stats
 * once into the entry (gomap__metrics_gather), then writes the families
 * from those copies, one family at a time over all entries, so a family's
 * lines stay together as the format requires. Entries are read only
 * through each structure's public stats call.
 */
#ifndef GOMAP_METRICS_INTERNAL_H
#define GOMAP_METRICS_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <gomap/metrics.h>

/* What an entry is; the order of gomap_info's type label values. */
enum metrics_kind { MK_FUNC, MK_SYNC, MK_SHARD, MK_SNAP, MK_CACHE, MK_KINDS };

struct metrics_entry {
    struct metrics_entry *next; /* next name in strcmp order */
    enum metrics_kind kind;
    char *name;                      /* as given */
    char *label;                     /* escaped for a label value */
    size_t name_size, label_size;    /* their allocations, NULs included */
    void *map;                       /* the structure, or fn's ctx */
    gomap_metrics_stats_fn fn;       /* MK_FUNC */
    void *per_shard;                 /* MK_SHARD: nshards gomap_shard_counters;
                                        MK_CACHE: gomap_cache_shard_counters */
    size_t shard_size;               /* bytes of one of them */
    unsigned nshards;
    bool ok;                /* st was read by this scrape */
    uint64_t func_failures; /* MK_FUNC: scrapes fn refused */
    union {
        gomap_stats_t core;
        gomap_sync_stats_t sync;
        gomap_shard_stats_t shard;
        gomap_snap_stats_t snap;
        gomap_cache_stats_t cache;
    } st; /* what this scrape read */
};

/* Upper bounds of the scrape duration histogram's buckets, in ns (the
 * +Inf bucket is implied): 10 us to 1 s, 1-2.5-5 steps. */
#define SCRAPE_BUCKETS 16
extern const uint64_t gomap__metrics_scrape_le_ns[SCRAPE_BUCKETS];

struct gomap_metrics {
    const gomap_allocator *alloc; /* NULL: malloc (tests inject failures) */
    pthread_mutex_t lock;         /* guards everything below */
    struct metrics_entry *head;
    uint64_t scrape_le[SCRAPE_BUCKETS + 1]; /* scrapes per bucket (not
                                               cumulative); the last is +Inf */
    uint64_t scrapes;
    uint64_t scrape_ns; /* total time of those scrapes */
};

/* gomap_metrics_new with an allocator for the registry's own blocks (the
 * tests' allocation failures). */
int gomap__metrics_new_with(gomap_metrics_t **out, const gomap_allocator *alloc);

/* Reads every entry's stats into it (entry->ok says which succeeded).
 * Caller holds r->lock. */
void gomap__metrics_gather(gomap_metrics_t *r);

/* Writes the exposition of what the last gather read. 0 or -EIO. Caller
 * holds r->lock. */
int gomap__metrics_render(const gomap_metrics_t *r, FILE *out);

#endif /* GOMAP_METRICS_INTERNAL_H */
