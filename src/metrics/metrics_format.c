/*
 * metrics_format.c — the Prometheus text exposition format 0.0.4 of what a
 * scrape read (gomap__metrics_gather).
 *
 * Families are described by tables: a family's name, type, help, and for
 * each kind of structure the stats field its value comes from (or none).
 * A family is written when at least one structure has a value for it:
 * "# HELP" and "# TYPE" once, then one line per structure (per shard for
 * per-shard families, per label value for the labelled ones), so a
 * family's lines are together. Names follow Prometheus conventions:
 * `gomap_` prefix, base units (seconds, bytes), counters end in _total.
 * docs/metrics.md lists them; keep it in step with these tables.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include <gomap/reclaim.h>

#include "metrics/metrics_internal.h"

const uint64_t gomap__metrics_scrape_le_ns[SCRAPE_BUCKETS] = {
    10000,   25000,    50000,    100000,   250000,    500000,    1000000,   2500000,
    5000000, 10000000, 25000000, 50000000, 100000000, 250000000, 500000000, 1000000000,
};

/* ---- fields ----------------------------------------------------------------------- */

/* How a stats field is read and printed. */
enum ftype {
    F_NONE, /* the structure has no such figure */
    F_U32,  /* unsigned */
    F_U64,  /* uint64_t or size_t (LP64) */
    F_NS,   /* uint64_t nanoseconds, printed as seconds */
    F_DBL,  /* double */
    F_BOOL, /* bool, printed 0 or 1 */
};

struct field {
    unsigned short off; /* offset in the stats struct */
    unsigned char type; /* enum ftype */
};

/* A field's offset, plus 0 when its size is that of the type given (a
 * compile error otherwise). */
#define F_U32_SIZE 4
#define F_U64_SIZE 8
#define F_NS_SIZE 8
#define F_DBL_SIZE 8
#define F_BOOL_SIZE 1
#define SIZE_IS(T, f, n) (sizeof(char[sizeof(((T *)0)->f) == (n) ? 1 : -1]) - 1)
#define FIELD(T, f, ty)                               \
    {                                                 \
        offsetof(T, f) + SIZE_IS(T, f, ty##_SIZE), ty \
    }

#define CORE(f, ty) [MK_FUNC] = FIELD(gomap_stats_t, f, ty)
#define SYNC(f, ty) [MK_SYNC] = FIELD(gomap_sync_stats_t, f, ty)
#define SHARD(f, ty) [MK_SHARD] = FIELD(gomap_shard_stats_t, f, ty)
#define SNAP(f, ty) [MK_SNAP] = FIELD(gomap_snap_stats_t, f, ty)
#define CACHE(f, ty) [MK_CACHE] = FIELD(gomap_cache_stats_t, f, ty)
#define PER_SHARD(f, ty) [MK_SHARD] = FIELD(gomap_shard_counters, f, ty)
#define PER_CACHE_SHARD(f, ty) [MK_CACHE] = FIELD(gomap_cache_shard_counters, f, ty)

/* A family: one sample per structure (or per shard, or per label value). */
struct family {
    const char *name, *type, *help;
    struct field f[MK_KINDS]; /* where each kind's value is */
    bool per_shard;           /* f[MK_SHARD] is in gomap_shard_counters,
                                 f[MK_CACHE] in gomap_cache_shard_counters */
};

/* ---- the families ----------------------------------------------------------------- */

static const struct family families[] = {
    /* Every structure. */
    {"gomap_entries",
     "gauge",
     "Entries held now (a cache's expired entries not yet reclaimed included).",
     {CORE(entries, F_U64), SYNC(len, F_U64), SHARD(total.entries, F_U64), SNAP(len, F_U64),
      CACHE(entries, F_U64)},
     false},
    {"gomap_memory_held_bytes",
     "gauge",
     "Bytes held from the allocator (a snapshot map: its current version).",
     {CORE(bytes_held, F_U64), SHARD(total.bytes_held, F_U64), SNAP(bytes_current, F_U64),
      CACHE(bytes_held, F_U64)},
     false},
    {"gomap_memory_retired_bytes",
     "gauge",
     "Bytes retired and not yet freed: waiting for an RCU grace period or for views to be "
     "released.",
     {SYNC(retired_bytes, F_U64), SNAP(retired_bytes, F_U64)},
     false},
    {"gomap_memory_reclaimed_bytes_total",
     "counter",
     "Bytes freed after a grace period.",
     {SYNC(reclaimed_bytes, F_U64), SNAP(reclaimed_bytes, F_U64)},
     false},
    {"gomap_shards",
     "gauge",
     "Number of shards.",
     {SHARD(shards, F_U32), CACHE(shards, F_U32)},
     false},

    /* Core maps (gomap_metrics_add_func). */
    {"gomap_map_buckets", "gauge", "Buckets of the current array.", {CORE(buckets, F_U64)}, false},
    {"gomap_map_overflow_buckets",
     "gauge",
     "Overflow buckets chained to the current array.",
     {CORE(overflow_buckets, F_U64)},
     false},
    {"gomap_map_load_factor", "gauge", "Entries per bucket.", {CORE(load_factor, F_DBL)}, false},
    {"gomap_map_growing",
     "gauge",
     "1 while an old array is being evacuated.",
     {CORE(growing, F_BOOL)},
     false},
    {"gomap_map_growth_old_buckets",
     "gauge",
     "Buckets of the old array while growing, else 0.",
     {CORE(old_buckets, F_U64)},
     false},
    {"gomap_map_growth_evacuated_buckets",
     "gauge",
     "Old buckets evacuated so far while growing.",
     {CORE(evacuated, F_U64)},
     false},
    {"gomap_map_mapped_bytes",
     "gauge",
     "The part of the bytes held in arrays mapped with mmap.",
     {CORE(mapped_bytes, F_U64)},
     false},
    {"gomap_map_retained_bytes",
     "gauge",
     "Bytes kept for live iterators.",
     {CORE(retained_bytes, F_U64)},
     false},
    {"gomap_map_live_iterators",
     "gauge",
     "Iterators started and not yet exhausted or ended.",
     {CORE(live_iterators, F_U64)},
     false},
    {"gomap_map_memory_limit_bytes",
     "gauge",
     "The map's memory limit (0: none).",
     {CORE(mem_limit, F_U64)},
     false},
    {"gomap_map_budget_thresholds_crossed",
     "gauge",
     "Memory-budget thresholds the map's bytes held have reached (each fires its handler once).",
     {CORE(budget_crossed, F_U32)},
     false},
    {"gomap_map_reseeds_total",
     "counter",
     "Times the hash seed was re-randomised.",
     {CORE(reseeds, F_U64)},
     false},
    {"gomap_map_iterator_reclaims_total",
     "counter",
     "Times memory kept for live iterators was freed, ending them.",
     {CORE(iterator_reclaims, F_U64)},
     false},

    /* Sync maps. */
    {"gomap_sync_read_entries",
     "gauge",
     "Keys in the read-only part, live or deleted.",
     {SYNC(read_entries, F_U64)},
     false},
    {"gomap_sync_dirty_entries",
     "gauge",
     "Keys in the dirty map.",
     {SYNC(dirty_entries, F_U64)},
     false},
    {"gomap_sync_amended",
     "gauge",
     "1 when the dirty map has keys the read-only part lacks.",
     {SYNC(amended, F_BOOL)},
     false},
    {"gomap_sync_misses",
     "gauge",
     "Loads that missed the read-only part since the last promotion.",
     {SYNC(misses, F_U64)},
     false},
    {"gomap_sync_promotions_total",
     "counter",
     "Dirty maps promoted to read-only.",
     {SYNC(promotions, F_U64)},
     false},
    {"gomap_sync_dirty_copies_total",
     "counter",
     "Dirty maps rebuilt from the read-only part (each a copy of every entry).",
     {SYNC(dirty_copies, F_U64)},
     false},
    {"gomap_sync_retired_objects",
     "gauge",
     "Blocks retired and not yet freed.",
     {SYNC(retired_objects, F_U64)},
     false},

    /* Sharded maps, per shard. */
    {"gomap_shard_entries",
     "gauge",
     "Entries held by the shard.",
     {PER_SHARD(entries, F_U64)},
     true},
    {"gomap_shard_memory_held_bytes",
     "gauge",
     "Bytes held by the shard's map.",
     {PER_SHARD(bytes_held, F_U64)},
     true},
    {"gomap_shard_hits_total",
     "counter",
     "Keyed operations on the shard that found their key.",
     {PER_SHARD(hits, F_U64)},
     true},
    {"gomap_shard_misses_total",
     "counter",
     "Keyed operations on the shard that did not find their key.",
     {PER_SHARD(misses, F_U64)},
     true},
    {"gomap_shard_lock_waits_total",
     "counter",
     "Acquisitions of the shard's lock that had to wait for another thread.",
     {PER_SHARD(waits, F_U64)},
     true},
    {"gomap_shard_lock_wait_seconds_total",
     "counter",
     "Time acquisitions of the shard's lock waited.",
     {PER_SHARD(wait_ns, F_NS)},
     true},
    {"gomap_shard_lock_acquisitions_total",
     "counter",
     "Acquisitions of the shard's lock, waiting or not (the auto mode watches the share "
     "that waited).",
     {PER_SHARD(lock_acquisitions, F_U64)},
     true},
    {"gomap_shard_resizes_total",
     "counter",
     "Resizes of the map's shard count finished (gomap_shard_resize and the auto mode).",
     {SHARD(resizes, F_U64)},
     false},
    {"gomap_shard_imbalance",
     "gauge",
     "Busiest shard's operations over the mean (1 = even).",
     {SHARD(imbalance, F_DBL)},
     false},
    {"gomap_shard_optimistic_retries_total",
     "counter",
     "Lock-free get attempts that a writer or a resize got in the way of.",
     {SHARD(optimistic_retries, F_U64)},
     false},
    {"gomap_shard_optimistic_fallbacks_total",
     "counter",
     "Gets that took the shard's lock after their lock-free attempts failed.",
     {SHARD(optimistic_fallbacks, F_U64)},
     false},

    /* Snapshot maps. */
    {"gomap_snap_versions_total",
     "counter",
     "Versions published by writes.",
     {SNAP(versions, F_U64)},
     false},
    {"gomap_snap_views", "gauge", "Views held now.", {SNAP(views, F_U64)}, false},
    {"gomap_snap_retired_versions",
     "gauge",
     "Replaced versions not yet freed.",
     {SNAP(retired_versions, F_U64)},
     false},

    /* Caches. */
    {"gomap_cache_hits_total",
     "counter",
     "Gets and get_or_load lookups that found a live entry.",
     {CACHE(hits, F_U64)},
     false},
    {"gomap_cache_misses_total",
     "counter",
     "Gets and get_or_load lookups that did not.",
     {CACHE(misses, F_U64)},
     false},
    {"gomap_cache_sets_total",
     "counter",
     "Sets and stores of loaded values.",
     {CACHE(sets, F_U64)},
     false},
    {"gomap_cache_rejected_total",
     "counter",
     "Sets and stores of loaded values refused.",
     {CACHE(rejected, F_U64)},
     false},
    {"gomap_cache_loader_seconds_total",
     "counter",
     "Time spent in loaders.",
     {CACHE(load_ns, F_NS)},
     false},
    {"gomap_cache_loader_waits_total",
     "counter",
     "get_or_load calls that waited for another thread's load.",
     {CACHE(load_waits, F_U64)},
     false},
    {"gomap_cache_cost", "gauge", "Cost held now.", {CACHE(cost, F_U64)}, false},
    {"gomap_cache_max_cost",
     "gauge",
     "The bound on the cost held (0 = unbounded).",
     {CACHE(max_cost, F_U64)},
     false},
    {"gomap_cache_wheel_drift_max_seconds",
     "gauge",
     "The latest an expired entry was reclaimed after its deadline.",
     {CACHE(wheel_drift_max_ns, F_NS)},
     false},
    {"gomap_cache_wheel_drift_seconds_total",
     "counter",
     "Sum over reclaimed expired entries of how late each was reclaimed.",
     {CACHE(wheel_drift_sum_ns, F_NS)},
     false},
    {"gomap_cache_wheel_cascades_total",
     "counter",
     "Entries moved down a timing wheel level.",
     {CACHE(wheel_cascades, F_U64)},
     false},
    {"gomap_cache_maintenance_runs_total",
     "counter",
     "Slices of maintenance work.",
     {CACHE(maintenance_runs, F_U64)},
     false},
    {"gomap_cache_maintenance_seconds_total",
     "counter",
     "Time spent in maintenance slices.",
     {CACHE(maintenance_ns, F_NS)},
     false},
    {"gomap_cache_window_share",
     "gauge",
     "The eviction policy's window as a share of the bound (shard 0).",
     {CACHE(window_share, F_DBL)},
     false},
    {"gomap_cache_shard_hits_total",
     "counter",
     "A cache shard's gets and get_or_load lookups that found a live entry.",
     {PER_CACHE_SHARD(hits, F_U64)},
     true},
    {"gomap_cache_shard_misses_total",
     "counter",
     "A cache shard's lookups that did not.",
     {PER_CACHE_SHARD(misses, F_U64)},
     true},
    {"gomap_cache_shard_sets_total",
     "counter",
     "A cache shard's sets and stores of loaded values.",
     {PER_CACHE_SHARD(sets, F_U64)},
     true},
    {"gomap_cache_shard_evictions_total",
     "counter",
     "A cache shard's entries evicted to respect its share of max_cost.",
     {PER_CACHE_SHARD(evictions, F_U64)},
     true},
    {"gomap_cache_shard_expirations_total",
     "counter",
     "A cache shard's entries reclaimed after their time to live ran out.",
     {PER_CACHE_SHARD(expirations, F_U64)},
     true},
    {"gomap_cache_shard_entries",
     "gauge",
     "Entries a cache shard holds now.",
     {PER_CACHE_SHARD(entries, F_U64)},
     true},
    {"gomap_cache_shard_cost",
     "gauge",
     "Cost a cache shard holds now.",
     {PER_CACHE_SHARD(cost, F_U64)},
     true},
    {"gomap_cache_shard_lock_waits_total",
     "counter",
     "Acquisitions of a cache shard's lock that had to wait for another thread.",
     {PER_CACHE_SHARD(lock_waits, F_U64)},
     true},
    {"gomap_cache_shard_lock_wait_seconds_total",
     "counter",
     "Time those acquisitions waited.",
     {PER_CACHE_SHARD(lock_wait_ns, F_NS)},
     true},
    {"gomap_cache_write_budget",
     "gauge",
     "Timing wheel entries a write works off when a tick has passed, now (the "
     "largest over shards; it doubles while writes fall behind).",
     {CACHE(write_budget_max, F_U32)},
     false},
    {"gomap_cache_wheel_lag_max_seconds",
     "gauge",
     "The most a timing wheel was behind the clock when its write budget was raised.",
     {CACHE(wheel_lag_max_ns, F_NS)},
     false},
    /* The eviction batch size histogram: write_cache_batches below. */
};

/* Families with a label of their own, one sample per label value: the
 * values and the field each comes from. One kind each. */
struct labelled_family {
    const char *name, *type, *help, *label;
    enum metrics_kind kind;
    const char *values[4];
    struct field f[4];
};

static const struct labelled_family labelled[] = {
    {"gomap_cache_removed_total",
     "counter",
     "Entries that left the cache, by cause.",
     "cause",
     MK_CACHE,
     {"expired", "evicted", "replaced", "deleted"},
     {FIELD(gomap_cache_stats_t, removed[GOMAP_CACHE_EXPIRED], F_U64),
      FIELD(gomap_cache_stats_t, removed[GOMAP_CACHE_EVICTED], F_U64),
      FIELD(gomap_cache_stats_t, removed[GOMAP_CACHE_REPLACED], F_U64),
      FIELD(gomap_cache_stats_t, removed[GOMAP_CACHE_DELETED], F_U64)}},
    {"gomap_cache_write_budget_changes_total",
     "counter",
     "Changes of a shard's write budget: raised (doubled, the wheel behind) or cut "
     "(halved, little to do).",
     "direction",
     MK_CACHE,
     {"raised", "cut"},
     {FIELD(gomap_cache_stats_t, write_budget_raises, F_U64),
      FIELD(gomap_cache_stats_t, write_budget_cuts, F_U64)}},
    {"gomap_cache_loader_calls_total",
     "counter",
     "Loader calls, by result.",
     "result",
     MK_CACHE,
     {"success", "failure"},
     {FIELD(gomap_cache_stats_t, loads, F_U64), FIELD(gomap_cache_stats_t, load_failures, F_U64)}},
};

static const char *const kind_names[MK_KINDS] = {"map", "sync", "shard", "snap", "cache"};

/* ---- values ----------------------------------------------------------------------- */

static const void *stats_of(const struct metrics_entry *e)
{
    return &e->st;
}

static void print_value(FILE *out, const void *base, struct field f)
{
    const char *p = (const char *)base + f.off;
    switch (f.type) {
    case F_U32: {
        unsigned v;
        memcpy(&v, p, sizeof v);
        fprintf(out, "%u", v);
        break;
    }
    case F_U64:
    case F_NS: {
        uint64_t v;
        memcpy(&v, p, sizeof v);
        if (f.type == F_NS)
            fprintf(out, "%llu.%09llu", (unsigned long long)(v / 1000000000u),
                    (unsigned long long)(v % 1000000000u));
        else
            fprintf(out, "%llu", (unsigned long long)v);
        break;
    }
    case F_DBL: {
        double v;
        memcpy(&v, p, sizeof v);
        if (isnan(v))
            fputs("NaN", out);
        else if (isinf(v))
            fputs(v > 0 ? "+Inf" : "-Inf", out);
        else
            fprintf(out, "%.17g", v);
        break;
    }
    default: {
        bool v;
        memcpy(&v, p, sizeof v);
        fputs(v ? "1" : "0", out);
        break;
    }
    }
}

static void header(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Whether any structure read by this scrape has a value for f. */
static bool any_sample(const gomap_metrics_t *r, const struct field *f)
{
    for (const struct metrics_entry *e = r->head; e; e = e->next)
        if (e->ok && f[e->kind].type != F_NONE)
            return true;
    return false;
}

static void write_family(const gomap_metrics_t *r, FILE *out, const struct family *fam)
{
    if (!any_sample(r, fam->f))
        return;
    header(out, fam->name, fam->type, fam->help);
    for (const struct metrics_entry *e = r->head; e; e = e->next) {
        struct field f = fam->f[e->kind];
        if (!e->ok || f.type == F_NONE)
            continue;
        if (fam->per_shard) {
            for (unsigned i = 0; i < e->nshards; i++) {
                fprintf(out, "%s{map=\"%s\",shard=\"%u\"} ", fam->name, e->label, i);
                print_value(out, (const char *)e->per_shard + (size_t)i * e->shard_size, f);
                fputc('\n', out);
            }
            continue;
        }
        fprintf(out, "%s{map=\"%s\"} ", fam->name, e->label);
        print_value(out, stats_of(e), f);
        fputc('\n', out);
    }
}

static void write_labelled(const gomap_metrics_t *r, FILE *out, const struct labelled_family *fam)
{
    bool any = false;
    for (const struct metrics_entry *e = r->head; e && !any; e = e->next)
        any = e->ok && e->kind == fam->kind;
    if (!any)
        return;
    header(out, fam->name, fam->type, fam->help);
    for (const struct metrics_entry *e = r->head; e; e = e->next) {
        if (!e->ok || e->kind != fam->kind)
            continue;
        for (int i = 0; i < 4 && fam->values[i]; i++) {
            fprintf(out, "%s{map=\"%s\",%s=\"%s\"} ", fam->name, e->label, fam->label,
                    fam->values[i]);
            print_value(out, stats_of(e), fam->f[i]);
            fputc('\n', out);
        }
    }
}

/* What every structure is: gomap_info{map, type} 1. */
static void write_info(const gomap_metrics_t *r, FILE *out)
{
    bool any = false;
    for (const struct metrics_entry *e = r->head; e && !any; e = e->next)
        any = e->ok;
    if (!any)
        return;
    header(out, "gomap_info", "gauge",
           "1 for each registered structure; type: map (a core map), sync, shard, snap, cache.");
    for (const struct metrics_entry *e = r->head; e; e = e->next)
        if (e->ok)
            fprintf(out, "gomap_info{map=\"%s\",type=\"%s\"} 1\n", e->label, kind_names[e->kind]);
}

/* One histogram's samples: counts[i] observations in bucket i (not
 * cumulative; n bounds, then +Inf), bounds le[i] scaled by `scale` (1e-9:
 * ns printed as seconds), and the sum as a field of `sum_base`. `labels`
 * is "" or the series' labels before le (`map="x"`, `map="x",op="get"`).
 * The caller writes the header once per family. */
struct hist {
    const uint64_t *le, *counts;
    unsigned n;
    double scale;
    const void *sum_base;
    struct field sum;
};

static void write_buckets(FILE *out, const char *name, const char *labels, struct hist h)
{
    uint64_t cum = 0;
    const char *sep = *labels ? "," : "";
    for (unsigned i = 0; i <= h.n; i++) {
        cum += h.counts[i];
        if (i < h.n)
            fprintf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
                    (double)h.le[i] * h.scale, (unsigned long long)cum);
        else
            fprintf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                    (unsigned long long)cum);
    }
    const char *open = *labels ? "{" : "", *close = *labels ? "}" : "";
    fprintf(out, "%s_sum%s%s%s ", name, open, labels, close);
    print_value(out, h.sum_base, h.sum);
    fprintf(out, "\n%s_count%s%s%s %llu\n", name, open, labels, close,
            (unsigned long long)cum);
}

/* Room for a series' labels: an escaped map name and a short label. */
#define LABELS_MAX (GOMAP_METRICS_NAME_MAX * 4 + 32)

/* Upper bounds of gomap_latency_t.buckets (the last is +Inf), in ns. */
static const uint64_t latency_le_ns[GOMAP_LATENCY_BUCKETS - 1] = {
    64ull << 0,  64ull << 1,  64ull << 2,  64ull << 3,  64ull << 4,  64ull << 5,  64ull << 6,
    64ull << 7,  64ull << 8,  64ull << 9,  64ull << 10, 64ull << 11, 64ull << 12, 64ull << 13,
    64ull << 14, 64ull << 15, 64ull << 16, 64ull << 17, 64ull << 18, 64ull << 19, 64ull << 20,
};
_Static_assert(GOMAP_LATENCY_MIN_NS == 64 && GOMAP_LATENCY_BUCKETS == 22,
               "latency_le_ns follows gomap_latency_t's buckets");

/* A gomap_latency_t's series, under `labels`. */
static void write_latency(FILE *out, const char *name, const char *labels,
                          const gomap_latency_t *lat)
{
    struct hist h = {latency_le_ns, lat->buckets, GOMAP_LATENCY_BUCKETS - 1, 1e-9,
                     lat, FIELD(gomap_latency_t, sum_ns, F_NS)};
    write_buckets(out, name, labels, h);
}

/* An entry's sampled get and write latencies (into *get and *write when
 * not NULL): false for the kinds that keep none. */
static bool latencies_of(const struct metrics_entry *e, const gomap_latency_t **get,
                         const gomap_latency_t **write)
{
    const gomap_latency_t *g, *w;
    switch (e->kind) {
    case MK_SYNC: g = &e->st.sync.get_latency, w = &e->st.sync.write_latency; break;
    case MK_SHARD: g = &e->st.shard.get_latency, w = &e->st.shard.write_latency; break;
    case MK_CACHE: g = &e->st.cache.get_latency, w = &e->st.cache.write_latency; break;
    default: return false;
    }
    if (get)
        *get = g, *write = w;
    return true;
}

/* The sampled latencies of operations of the sync and sharded maps and the
 * caches, by kind (op="get" or "write"), and the snapshot maps' copies. */
static void write_latencies(const gomap_metrics_t *r, FILE *out)
{
    const char *name = "gomap_operation_duration_seconds";
    bool any = false;
    for (const struct metrics_entry *e = r->head; e && !any; e = e->next)
        any = e->ok && latencies_of(e, NULL, NULL);
    if (any) {
        header(out, name, "histogram",
               "Duration of a sample of operations (one call in 64 of each thread), from entry "
               "to return: gets (sync: loads), and writes (set, delete, compute; sync: "
               "stores, swaps, compare-and-swaps, deletes).");
        for (const struct metrics_entry *e = r->head; e; e = e->next) {
            const gomap_latency_t *get, *wr;
            if (!e->ok || !latencies_of(e, &get, &wr))
                continue;
            char labels[LABELS_MAX];
            snprintf(labels, sizeof labels, "map=\"%s\",op=\"get\"", e->label);
            write_latency(out, name, labels, get);
            snprintf(labels, sizeof labels, "map=\"%s\",op=\"write\"", e->label);
            write_latency(out, name, labels, wr);
        }
    }
    name = "gomap_snap_copy_duration_seconds";
    any = false;
    for (const struct metrics_entry *e = r->head; e && !any; e = e->next)
        any = e->ok && e->kind == MK_SNAP;
    if (!any)
        return;
    header(out, name, "histogram",
           "Duration of every copy a write made of the current version's map.");
    for (const struct metrics_entry *e = r->head; e; e = e->next) {
        if (!e->ok || e->kind != MK_SNAP)
            continue;
        char labels[LABELS_MAX];
        snprintf(labels, sizeof labels, "map=\"%s\"", e->label);
        write_latency(out, name, labels, &e->st.snap.copy_latency);
    }
}

/* Process-wide deferred reclamation (gomap_rcu_stats), once per scrape
 * when any structure that reclaims through RCU is registered. */
static void write_rcu(const gomap_metrics_t *r, FILE *out)
{
    bool any = false;
    for (const struct metrics_entry *e = r->head; e && !any; e = e->next)
        any = e->ok && (e->kind == MK_SYNC || e->kind == MK_SHARD || e->kind == MK_SNAP);
    if (!any)
        return;
    gomap_rcu_stats_t st;
    gomap_rcu_stats(&st);
    static const struct {
        const char *name, *type, *help;
        struct field f;
    } rows[] = {
        {"gomap_rcu_retired_total", "counter",
         "Blocks handed to the reclaimer to free after a grace period (every map of the process).",
         FIELD(gomap_rcu_stats_t, retired, F_U64)},
        {"gomap_rcu_freed_total", "counter", "Retired blocks freed after their grace period.",
         FIELD(gomap_rcu_stats_t, freed, F_U64)},
        {"gomap_rcu_grace_period_waits_total", "counter",
         "Times a gomap call blocked its caller to wait for a grace period.",
         FIELD(gomap_rcu_stats_t, waits, F_U64)},
        {"gomap_rcu_grace_period_wait_seconds_total", "counter", "Time those waits took.",
         FIELD(gomap_rcu_stats_t, wait_ns, F_NS)},
        {"gomap_rcu_grace_period_wait_max_seconds", "gauge", "The longest of those waits.",
         FIELD(gomap_rcu_stats_t, wait_max_ns, F_NS)},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        header(out, rows[i].name, rows[i].type, rows[i].help);
        fprintf(out, "%s ", rows[i].name);
        print_value(out, &st, rows[i].f);
        fputc('\n', out);
    }
}

/* Upper bounds of gomap_cache_stats_t.evict_batches (the last is +Inf). */
static const uint64_t evict_batch_le[GOMAP_CACHE_BATCH_BUCKETS - 1] = {1, 2, 4, 8, 16, 32, 64, 128};

/* gomap_cache_evict_batch_size: per cache, the calls that evicted, by how
 * many entries; the sum is every eviction. */
static void write_cache_batches(const gomap_metrics_t *r, FILE *out)
{
    const char *name = "gomap_cache_evict_batch_size";
    bool any = false;
    for (const struct metrics_entry *e = r->head; e && !any; e = e->next)
        any = e->ok && e->kind == MK_CACHE;
    if (!any)
        return;
    header(out, name, "histogram",
           "Calls that evicted entries to respect max_cost, by how many they evicted.");
    for (const struct metrics_entry *e = r->head; e; e = e->next) {
        if (!e->ok || e->kind != MK_CACHE)
            continue;
        const gomap_cache_stats_t *st = &e->st.cache;
        struct hist h = {evict_batch_le, st->evict_batches, GOMAP_CACHE_BATCH_BUCKETS - 1, 1.0,
                         st, FIELD(gomap_cache_stats_t, removed[GOMAP_CACHE_EVICTED], F_U64)};
        char labels[LABELS_MAX];
        snprintf(labels, sizeof labels, "map=\"%s\"", e->label);
        write_buckets(out, name, labels, h);
    }
}

/* The registry's own: scrape durations, and add_func callbacks that
 * refused. */
static void write_registry(const gomap_metrics_t *r, FILE *out)
{
    const char *name = "gomap_metrics_scrape_duration_seconds";
    header(out, name, "histogram",
           "Time a scrape took to read every structure's stats and write them "
           "(earlier scrapes: this one is counted by the next).");
    struct hist h = {gomap__metrics_scrape_le_ns, r->scrape_le, SCRAPE_BUCKETS, 1e-9,
                     &r->scrape_ns, {0, F_NS}};
    write_buckets(out, name, "", h);
    bool any = false;
    for (const struct metrics_entry *e = r->head; e && !any; e = e->next)
        any = e->kind == MK_FUNC;
    if (!any)
        return;
    header(out, "gomap_metrics_func_failures_total", "counter",
           "Scrapes for which a structure's stats callback returned nonzero (left out).");
    for (const struct metrics_entry *e = r->head; e; e = e->next)
        if (e->kind == MK_FUNC)
            fprintf(out, "gomap_metrics_func_failures_total{map=\"%s\"} %llu\n", e->label,
                    (unsigned long long)e->func_failures);
}

int gomap__metrics_render(const gomap_metrics_t *r, FILE *out)
{
    write_info(r, out);
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        write_family(r, out, &families[i]);
    for (size_t i = 0; i < sizeof labelled / sizeof labelled[0]; i++)
        write_labelled(r, out, &labelled[i]);
    write_cache_batches(r, out);
    write_latencies(r, out);
    write_rcu(r, out);
    write_registry(r, out);
    if (fflush(out) != 0 || ferror(out))
        return -EIO;
    return 0;
}
