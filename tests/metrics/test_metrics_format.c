/*
 * test_metrics_format.c — gomap_metrics_write's output and the registry's
 * contract (gomap/metrics.h, docs/metrics.md).
 *
 *   bad_input     NULL everywhere; names empty, too long, not UTF-8
 *                 (stray continuation, overlong, surrogate, past
 *                 U+10FFFF, cut short), with control characters: -EINVAL;
 *                 a taken name -EEXIST, an unknown one -ENOENT; longest
 *                 name and multi-byte UTF-8 accepted.
 *   oom           every allocation of gomap_metrics_new and of each add
 *                 refused in turn: -ENOMEM, the registry's output exactly
 *                 as before, nothing leaked.
 *   empty         an empty registry (the scrape histogram alone), and one
 *                 of each structure type, each empty: promtool and the
 *                 strict reader of tests/support/promparse.h accept it;
 *                 every value equals the structure's own stats.
 *   busy          the same after work: sets, gets, deletes, a core map in
 *                 mid-growth, a sync map with promotions and retired
 *                 memory, snapshot versions and a held view, a cache on a
 *                 test clock with expirations, evictions, replacements,
 *                 deletes and failed and successful loads; names with a
 *                 quote, a backslash and UTF-8, written escaped.
 *   callback      a core map's callback that refuses leaves its samples
 *                 out and counts gomap_metrics_func_failures_total.
 *   remove        a removed structure is gone from the next scrape and
 *                 may then be freed; its name can be added again.
 *   io_error      a stream that cannot be written: -EIO.
 *   concurrent    scrapes from two threads while two threads write a
 *                 sharded map and a third adds and removes structures:
 *                 each output parses, counters never go down (run under
 *                 TSan in that preset).
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "fail_alloc.h"
#include "promparse.h"
#include "shardcheck.h"
#include "testclock.h"

#include "metrics/metrics_internal.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static char *scrape(gomap_metrics_t *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    CHECK_EQ(gomap_metrics_write(r, f), 0);
    CHECK_EQ(fclose(f), 0);
    CHECK(buf != NULL && strlen(buf) == len);
    return buf;
}

/* A scrape, checked by promtool and the strict reader. */
static prom_doc *scrape_checked(gomap_metrics_t *r)
{
    char *text = scrape(r);
    prom_promtool(text);
    prom_doc *d = prom_parse(text);
    free(text);
    return d;
}

static char *lbl(const char *map)
{
    static char buf[8][256];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof buf[0], "map=\"%s\"", map);
    return b;
}

/* A core map behind the program's own lock: the callback of the header's
 * example. */
typedef struct {
    pthread_mutex_t lock;
    gomap_t *map;
    bool refuse;
} locked_map;

static int locked_map_stats(gomap_stats_t *out, void *ctx)
{
    locked_map *lm = ctx;
    pthread_mutex_lock(&lm->lock);
    int rc = lm->refuse ? -EAGAIN : gomap_stats(lm->map, out);
    pthread_mutex_unlock(&lm->lock);
    return rc;
}

/* One structure of each type, registered under the given names. */
typedef struct {
    gomap_metrics_t *r;
    locked_map core;
    gomap_sync_t *sync;
    gomap_shard_t *shard;
    gomap_snap_t *snap;
    gomap_cache_t *cache;
    testclock clk;
    const char *names[5];  /* core, sync, shard, snap, cache: as given */
    const char *labels[5]; /* ... escaped as label values */
} zoo;

enum { ZOO_SHARDS = 8, ZOO_CACHE_SHARDS = 2 };

static void zoo_new(zoo *z, const char *const names[5], const char *const labels[5])
{
    memset(z, 0, sizeof *z);
    memcpy(z->names, names, sizeof z->names);
    memcpy(z->labels, labels, sizeof z->labels);
    CHECK_EQ(gomap_metrics_new(&z->r), 0);
    gomap_options o = shardcheck_u64_options(sizeof(uint64_t));
    pthread_mutex_init(&z->core.lock, NULL);
    CHECK_EQ(gomap_new(&z->core.map, &o), 0);
    CHECK_EQ(gomap_sync_new(&z->sync, &o), 0);
    /* Made with half its shards and resized after it is added: the
     * registry follows the count. */
    gomap_shard_options so = {.map = o, .shards = ZOO_SHARDS / 2};
    CHECK_EQ(gomap_shard_new(&z->shard, &so), 0);
    CHECK_EQ(gomap_snap_new(&z->snap, &o), 0);
    testclock_init(&z->clk, 1000000000);
    gomap_cache_options co;
    memset(&co, 0, sizeof co);
    co.map = o;
    co.max_cost = 128; /* 64 a shard: the 40 entries that expire all fit */
    co.shards = ZOO_CACHE_SHARDS;
    co.clock = testclock_read;
    co.clock_ctx = &z->clk;
    CHECK_EQ(gomap_cache_new(&z->cache, &co), 0);
    CHECK_EQ(gomap_metrics_add_func(z->r, names[0], locked_map_stats, &z->core), 0);
    CHECK_EQ(gomap_metrics_add_sync(z->r, names[1], z->sync), 0);
    CHECK_EQ(gomap_metrics_add_shard(z->r, names[2], z->shard), 0);
    CHECK_EQ(gomap_shard_resize(z->shard, ZOO_SHARDS), 0);
    CHECK_EQ(gomap_shard_count(z->shard), ZOO_SHARDS);
    CHECK_EQ(gomap_metrics_add_snap(z->r, names[3], z->snap), 0);
    CHECK_EQ(gomap_metrics_add_cache(z->r, names[4], z->cache), 0);
}

static void zoo_free(zoo *z)
{
    gomap_metrics_free(z->r);
    gomap_free(z->core.map);
    pthread_mutex_destroy(&z->core.lock);
    gomap_sync_free(z->sync);
    gomap_shard_free(z->shard);
    gomap_snap_free(z->snap);
    gomap_cache_free(z->cache);
}

/* A family's expected value for one structure; ns: in nanoseconds (the
 * exporter writes seconds). */
typedef struct {
    const char *name;
    double value;
    bool ns;
} want;

static void expect_all(const prom_doc *d, const char *labels, const want *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double got = prom_value(d, w[i].name, labels);
        double v = w[i].ns ? w[i].value / 1e9 : w[i].value;
        bool ok = w[i].ns ? got >= v * (1 - 1e-12) && got <= v * (1 + 1e-12) + 1e-12 : got == v;
        CHECK_MSG(ok, "%s{%s} = %.17g, stats say %.17g", w[i].name, labels, got, v);
    }
}

#define EXPECT_ALL(d, labels, ...)                               \
    do {                                                         \
        const want w_[] = {__VA_ARGS__};                         \
        expect_all((d), (labels), w_, sizeof w_ / sizeof w_[0]); \
    } while (0)

#define V(name, v)               \
    {                            \
        name, (double)(v), false \
    }
#define NS(name, v)             \
    {                           \
        name, (double)(v), true \
    }

static void check_core(const zoo *z, const prom_doc *d)
{
    gomap_stats_t s;
    CHECK_EQ(gomap_stats(z->core.map, &s), 0);
    EXPECT_ALL(d, lbl(z->labels[0]), V("gomap_entries", s.entries),
               V("gomap_memory_held_bytes", s.bytes_held), V("gomap_map_buckets", s.buckets),
               V("gomap_map_overflow_buckets", s.overflow_buckets),
               V("gomap_map_load_factor", s.load_factor), V("gomap_map_growing", s.growing),
               V("gomap_map_growth_old_buckets", s.old_buckets),
               V("gomap_map_growth_evacuated_buckets", s.evacuated),
               V("gomap_map_mapped_bytes", s.mapped_bytes),
               V("gomap_map_retained_bytes", s.retained_bytes),
               V("gomap_map_live_iterators", s.live_iterators),
               V("gomap_map_reseeds_total", s.reseeds),
               V("gomap_map_iterator_reclaims_total", s.iterator_reclaims),
               V("gomap_map_memory_limit_bytes", s.mem_limit),
               V("gomap_map_budget_thresholds_crossed", s.budget_crossed));
}

/* A gomap_latency_t's series: count, sum and every cumulative bucket. */
static void check_latency_series(const prom_doc *d, const char *name, const char *labels,
                                 const gomap_latency_t *l)
{
    char key[400];
    snprintf(key, sizeof key, "%s_count", name);
    CHECK(prom_value(d, key, labels) == (double)l->samples);
    snprintf(key, sizeof key, "%s_sum", name);
    CHECK(fabs(prom_value(d, key, labels) - (double)l->sum_ns * 1e-9) < 1e-9);
    snprintf(key, sizeof key, "%s_bucket", name);
    uint64_t cum = 0;
    for (unsigned i = 0; i < GOMAP_LATENCY_BUCKETS; i++) {
        cum += l->buckets[i];
        char bl[600];
        if (i + 1 < GOMAP_LATENCY_BUCKETS)
            snprintf(bl, sizeof bl, "%s,le=\"%g\"", labels,
                     (double)((uint64_t)GOMAP_LATENCY_MIN_NS << i) * 1e-9);
        else
            snprintf(bl, sizeof bl, "%s,le=\"+Inf\"", labels);
        CHECK_MSG(prom_value(d, key, bl) == (double)cum, "%s: bucket %u", name, i);
    }
}

/* gomap_operation_duration_seconds{map=label, op=op}. */
static void check_latency(const prom_doc *d, const char *label, const char *op,
                          const gomap_latency_t *l)
{
    char labels[300];
    snprintf(labels, sizeof labels, "map=\"%s\",op=\"%s\"", label, op);
    check_latency_series(d, "gomap_operation_duration_seconds", labels, l);
}

static void check_sync(const zoo *z, const prom_doc *d)
{
    gomap_sync_stats_t s;
    CHECK_EQ(gomap_sync_stats(z->sync, &s), 0);
    check_latency(d, z->labels[1], "get", &s.get_latency);
    check_latency(d, z->labels[1], "write", &s.write_latency);
    EXPECT_ALL(d, lbl(z->labels[1]), V("gomap_entries", s.len),
               V("gomap_memory_retired_bytes", s.retired_bytes),
               V("gomap_memory_reclaimed_bytes_total", s.reclaimed_bytes),
               V("gomap_sync_read_entries", s.read_entries),
               V("gomap_sync_dirty_entries", s.dirty_entries), V("gomap_sync_amended", s.amended),
               V("gomap_sync_misses", s.misses), V("gomap_sync_promotions_total", s.promotions),
               V("gomap_sync_dirty_copies_total", s.dirty_copies),
               V("gomap_sync_retired_objects", s.retired_objects));
}

static void check_shard(const zoo *z, const prom_doc *d)
{
    gomap_shard_counters per[ZOO_SHARDS];
    gomap_shard_stats_t s;
    CHECK_EQ(gomap_shard_stats(z->shard, &s, per, ZOO_SHARDS), 0);
    EXPECT_ALL(d, lbl(z->labels[2]), V("gomap_entries", s.total.entries),
               V("gomap_memory_held_bytes", s.total.bytes_held), V("gomap_shards", ZOO_SHARDS),
               V("gomap_shard_imbalance", s.imbalance),
               V("gomap_shard_resizes_total", s.resizes),
               V("gomap_shard_optimistic_retries_total", s.optimistic_retries),
               V("gomap_shard_optimistic_fallbacks_total", s.optimistic_fallbacks));
    check_latency(d, z->labels[2], "get", &s.get_latency);
    check_latency(d, z->labels[2], "write", &s.write_latency);
    CHECK_EQ(prom_count(d, "gomap_shard_hits_total"), ZOO_SHARDS);
    CHECK_EQ(prom_count(d, "gomap_shard_lock_acquisitions_total"), ZOO_SHARDS);
    for (unsigned i = 0; i < ZOO_SHARDS; i++) {
        char sl[300];
        snprintf(sl, sizeof sl, "map=\"%s\",shard=\"%u\"", z->labels[2], i);
        EXPECT_ALL(d, sl, V("gomap_shard_entries", per[i].entries),
                   V("gomap_shard_memory_held_bytes", per[i].bytes_held),
                   V("gomap_shard_hits_total", per[i].hits),
                   V("gomap_shard_misses_total", per[i].misses),
                   V("gomap_shard_lock_waits_total", per[i].waits),
                   V("gomap_shard_lock_acquisitions_total", per[i].lock_acquisitions),
                   NS("gomap_shard_lock_wait_seconds_total", per[i].wait_ns));
    }
}

static void check_snap(const zoo *z, const prom_doc *d)
{
    gomap_snap_stats_t s;
    CHECK_EQ(gomap_snap_stats(z->snap, &s), 0);
    EXPECT_ALL(d, lbl(z->labels[3]), V("gomap_entries", s.len),
               V("gomap_memory_held_bytes", s.bytes_current),
               V("gomap_memory_retired_bytes", s.retired_bytes),
               V("gomap_memory_reclaimed_bytes_total", s.reclaimed_bytes),
               V("gomap_snap_versions_total", s.versions), V("gomap_snap_views", s.views),
               V("gomap_snap_retired_versions", s.retired_versions));
    check_latency_series(d, "gomap_snap_copy_duration_seconds", lbl(z->labels[3]),
                         &s.copy_latency);
}

static void check_cache(const zoo *z, const prom_doc *d)
{
    gomap_cache_stats_t s;
    CHECK_EQ(gomap_cache_stats(z->cache, &s), 0);
    check_latency(d, z->labels[4], "get", &s.get_latency);
    check_latency(d, z->labels[4], "write", &s.write_latency);
    EXPECT_ALL(d, lbl(z->labels[4]), V("gomap_entries", s.entries),
               V("gomap_memory_held_bytes", s.bytes_held), V("gomap_shards", s.shards),
               V("gomap_cache_hits_total", s.hits), V("gomap_cache_misses_total", s.misses),
               V("gomap_cache_sets_total", s.sets), V("gomap_cache_rejected_total", s.rejected),
               NS("gomap_cache_loader_seconds_total", s.load_ns),
               V("gomap_cache_loader_waits_total", s.load_waits), V("gomap_cache_cost", s.cost),
               V("gomap_cache_max_cost", s.max_cost),
               NS("gomap_cache_wheel_drift_max_seconds", s.wheel_drift_max_ns),
               NS("gomap_cache_wheel_drift_seconds_total", s.wheel_drift_sum_ns),
               V("gomap_cache_wheel_cascades_total", s.wheel_cascades),
               V("gomap_cache_maintenance_runs_total", s.maintenance_runs),
               NS("gomap_cache_maintenance_seconds_total", s.maintenance_ns),
               V("gomap_cache_window_share", s.window_share),
               V("gomap_cache_write_budget", s.write_budget_max),
               NS("gomap_cache_wheel_lag_max_seconds", s.wheel_lag_max_ns),
               V("gomap_cache_evict_batch_size_sum", s.removed[GOMAP_CACHE_EVICTED]));
    static const char *const causes[] = {NULL, "expired", "evicted", "replaced", "deleted"};
    char l[300];
    snprintf(l, sizeof l, "map=\"%s\",direction=\"raised\"", z->labels[4]);
    EXPECT_ALL(d, l, V("gomap_cache_write_budget_changes_total", s.write_budget_raises));
    snprintf(l, sizeof l, "map=\"%s\",direction=\"cut\"", z->labels[4]);
    EXPECT_ALL(d, l, V("gomap_cache_write_budget_changes_total", s.write_budget_cuts));
    /* The batch histogram: cumulative buckets at 1, 2, 4 ... 128 and +Inf. */
    static const char *const le[GOMAP_CACHE_BATCH_BUCKETS] = {"1",  "2",  "4",   "8",   "16",
                                                              "32", "64", "128", "+Inf"};
    uint64_t cum = 0;
    for (unsigned b = 0; b < GOMAP_CACHE_BATCH_BUCKETS; b++) {
        cum += s.evict_batches[b];
        snprintf(l, sizeof l, "map=\"%s\",le=\"%s\"", z->labels[4], le[b]);
        EXPECT_ALL(d, l, V("gomap_cache_evict_batch_size_bucket", cum));
    }
    EXPECT_ALL(d, lbl(z->labels[4]), V("gomap_cache_evict_batch_size_count", cum));
    /* Per shard. */
    gomap_cache_shard_counters per[ZOO_CACHE_SHARDS];
    CHECK_EQ(gomap_cache_shard_stats(z->cache, per, ZOO_CACHE_SHARDS), 0);
    CHECK_EQ(prom_count(d, "gomap_cache_shard_hits_total"), ZOO_CACHE_SHARDS);
    for (unsigned i = 0; i < ZOO_CACHE_SHARDS; i++) {
        snprintf(l, sizeof l, "map=\"%s\",shard=\"%u\"", z->labels[4], i);
        EXPECT_ALL(d, l, V("gomap_cache_shard_hits_total", per[i].hits),
                   V("gomap_cache_shard_misses_total", per[i].misses),
                   V("gomap_cache_shard_sets_total", per[i].sets),
                   V("gomap_cache_shard_evictions_total", per[i].evictions),
                   V("gomap_cache_shard_expirations_total", per[i].expirations),
                   V("gomap_cache_shard_entries", per[i].entries),
                   V("gomap_cache_shard_cost", per[i].cost),
                   V("gomap_cache_shard_lock_waits_total", per[i].lock_waits),
                   NS("gomap_cache_shard_lock_wait_seconds_total", per[i].lock_wait_ns));
    }
    for (int c = GOMAP_CACHE_EXPIRED; c <= GOMAP_CACHE_DELETED; c++) {
        snprintf(l, sizeof l, "map=\"%s\",cause=\"%s\"", z->labels[4], causes[c]);
        EXPECT_ALL(d, l, V("gomap_cache_removed_total", s.removed[c]));
    }
    snprintf(l, sizeof l, "map=\"%s\",result=\"success\"", z->labels[4]);
    EXPECT_ALL(d, l, V("gomap_cache_loader_calls_total", s.loads));
    snprintf(l, sizeof l, "map=\"%s\",result=\"failure\"", z->labels[4]);
    EXPECT_ALL(d, l, V("gomap_cache_loader_calls_total", s.load_failures));
}

/* Every value the exporter wrote equals what the structures' own stats
 * say now (the structures are quiet). */
static void check_values(const zoo *z, const prom_doc *d)
{
    check_core(z, d);
    check_sync(z, d);
    check_shard(z, d);
    check_snap(z, d);
    check_cache(z, d);
    static const char *const types[] = {"map", "sync", "shard", "snap", "cache"};
    for (int i = 0; i < 5; i++) {
        char il[300];
        snprintf(il, sizeof il, "map=\"%s\",type=\"%s\"", z->labels[i], types[i]);
        EXPECT_ALL(d, il, V("gomap_info", 1));
    }
    /* Families that are not for a kind have no sample of it. */
    double v;
    CHECK(!prom_find(d, "gomap_memory_held_bytes", lbl(z->labels[1]), &v)); /* sync */
    CHECK(!prom_find(d, "gomap_map_buckets", lbl(z->labels[2]), &v));
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */
/* ------------------------------------------------------------------------ */

static void test_bad_input(void)
{
    CHECK_EQ(gomap_metrics_new(NULL), -EINVAL);
    gomap_metrics_t *r;
    CHECK_EQ(gomap_metrics_new(&r), 0);
    gomap_options o = shardcheck_u64_options(sizeof(uint64_t));
    gomap_shard_t *m;
    gomap_shard_options so = {.map = o, .shards = 2};
    CHECK_EQ(gomap_shard_new(&m, &so), 0);

    CHECK_EQ(gomap_metrics_add_shard(NULL, "a", m), -EINVAL);
    CHECK_EQ(gomap_metrics_add_shard(r, NULL, m), -EINVAL);
    CHECK_EQ(gomap_metrics_add_shard(r, "a", NULL), -EINVAL);
    CHECK_EQ(gomap_metrics_add_sync(r, "a", NULL), -EINVAL);
    CHECK_EQ(gomap_metrics_add_snap(r, "a", NULL), -EINVAL);
    CHECK_EQ(gomap_metrics_add_cache(r, "a", NULL), -EINVAL);
    CHECK_EQ(gomap_metrics_add_func(r, "a", NULL, NULL), -EINVAL);
    CHECK_EQ(gomap_metrics_add_func(NULL, "a", locked_map_stats, NULL), -EINVAL);
    static const char *const bad[] = {
        "",
        "tab\there",
        "nl\nhere",
        "del\x7f",
        "\x80",
        "a\xc3",
        "\xc3\x28",
        "\xc0\xaf",
        "\xe0\x80\xaf",
        "\xed\xa0\x80",
        "\xf4\x90\x80\x80",
        "\xf8\x88\x80\x80\x80",
        "\xff",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(gomap_metrics_add_shard(r, bad[i], m) == -EINVAL, "name %zu accepted", i);
    char longest[GOMAP_METRICS_NAME_MAX + 2];
    memset(longest, 'x', sizeof longest);
    longest[GOMAP_METRICS_NAME_MAX + 1] = '\0';
    CHECK_EQ(gomap_metrics_add_shard(r, longest, m), -EINVAL);
    longest[GOMAP_METRICS_NAME_MAX] = '\0';
    CHECK_EQ(gomap_metrics_add_shard(r, longest, m), 0);
    CHECK_EQ(gomap_metrics_add_shard(r, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", m), 0);
    CHECK_EQ(gomap_metrics_add_shard(r, "a", m), 0);
    CHECK_EQ(gomap_metrics_add_shard(r, "a", m), -EEXIST);
    CHECK_EQ(gomap_metrics_add_func(r, "a", locked_map_stats, NULL), -EEXIST);

    CHECK_EQ(gomap_metrics_remove(NULL, "a"), -EINVAL);
    CHECK_EQ(gomap_metrics_remove(r, NULL), -EINVAL);
    CHECK_EQ(gomap_metrics_remove(r, "b"), -ENOENT);
    CHECK_EQ(gomap_metrics_remove(r, "a"), 0);
    CHECK_EQ(gomap_metrics_remove(r, "a"), -ENOENT);
    CHECK_EQ(gomap_metrics_write(NULL, stdout), -EINVAL);
    CHECK_EQ(gomap_metrics_write(r, NULL), -EINVAL);
    prom_doc *d = scrape_checked(r);
    CHECK_EQ(prom_count(d, "gomap_shard_hits_total"), 4); /* two maps of 2 shards */
    prom_free(d);
    gomap_metrics_free(r);
    gomap_metrics_free(NULL);
    gomap_shard_free(m);
}

static void test_oom(void)
{
    fail_alloc fa;
    fail_alloc_init(&fa);
    gomap_metrics_t *r = NULL;
    for (size_t n = 1;; n++) {
        fail_alloc_fail_nth(&fa, n);
        int rc = gomap__metrics_new_with(&r, &fa.iface);
        if (rc == 0)
            break;
        CHECK_EQ(rc, -ENOMEM);
        CHECK(r == NULL);
        CHECK_EQ(fa.live_blocks, 0);
    }
    fail_alloc_fail_nth(&fa, 0);
    gomap_options o = shardcheck_u64_options(sizeof(uint64_t));
    gomap_shard_t *m;
    gomap_shard_options so = {.map = o, .shards = 4};
    CHECK_EQ(gomap_shard_new(&m, &so), 0);
    CHECK_EQ(gomap_metrics_add_shard(r, "first", m), 0);
    const char *names[] = {"other", "a\"quoted\\name"};
    for (int k = 0; k < 2; k++) {
        size_t failures = 0;
        for (size_t n = 1;; n++) {
            size_t live = fa.live_blocks;
            fail_alloc_fail_nth(&fa, n);
            int rc = gomap_metrics_add_shard(r, names[k], m);
            fail_alloc_fail_nth(&fa, 0);
            if (rc == 0)
                break;
            failures++;
            CHECK_EQ(rc, -ENOMEM);
            CHECK_EQ(fa.live_blocks, live);
            /* Unchanged: the structures registered before, and nothing else. */
            prom_doc *d = scrape_checked(r);
            CHECK_EQ(prom_count(d, "gomap_shard_hits_total"), 4 * (size_t)(k + 1));
            CHECK_EQ(prom_count(d, "gomap_info"), (size_t)(k + 1));
            prom_free(d);
            CHECK_EQ(gomap_metrics_remove(r, names[k]), -ENOENT);
        }
        CHECK(failures >= 3); /* the entry, its name, its label, its counters */
    }
    gomap_metrics_free(r);
    CHECK_EQ(fa.live_blocks, 0);
    gomap_shard_free(m);
}

static const char *const plain_names[5] = {"core", "sync", "shard", "snap", "cache"};

static void test_empty(void)
{
    gomap_metrics_t *r;
    CHECK_EQ(gomap_metrics_new(&r), 0);
    prom_doc *d = scrape_checked(r);
    CHECK_EQ(d->nfam, 1);
    CHECK(prom_has_family(d, "gomap_metrics_scrape_duration_seconds"));
    EXPECT_ALL(d, "", V("gomap_metrics_scrape_duration_seconds_count", 0));
    prom_free(d);
    d = scrape_checked(r);
    EXPECT_ALL(d, "", V("gomap_metrics_scrape_duration_seconds_count", 1));
    prom_free(d);
    gomap_metrics_free(r);

    zoo z;
    zoo_new(&z, plain_names, plain_names);
    d = scrape_checked(z.r);
    check_values(&z, d);
    EXPECT_ALL(d, "map=\"core\"", V("gomap_metrics_func_failures_total", 0));
    prom_free(d);
    zoo_free(&z);
}

static int fail_load(const void *key, void *val, uint64_t *ttl, void *ctx)
{
    (void)key;
    (void)val;
    (void)ttl;
    (void)ctx;
    return -EIO;
}

static int good_load(const void *key, void *val, uint64_t *ttl, void *ctx)
{
    (void)ttl;
    (void)ctx;
    *(uint64_t *)val = *(const uint64_t *)key + 1;
    return 0;
}

static void make_busy(zoo *z)
{
    for (uint64_t k = 0; k < 3000; k++) {
        CHECK_EQ(gomap_set(z->core.map, &k, &k), 0);
        CHECK_EQ(gomap_sync_store(z->sync, &k, &k), 0);
        CHECK_EQ(gomap_shard_set(z->shard, &k, &k), 0);
    }
    for (uint64_t k = 0; k < 3000; k += 3) {
        uint64_t v;
        CHECK(gomap_sync_load(z->sync, &k, &v));
        CHECK(gomap_shard_get(z->shard, &k, &v));
        CHECK(gomap_shard_delete(z->shard, &k));
        CHECK(!gomap_shard_get(z->shard, &k, &v));
    }
    for (uint64_t k = 5000; k < 8000; k++)
        CHECK(!gomap_sync_load(z->sync, &k, NULL)); /* misses: promotions */
    for (uint64_t k = 0; k < 1000; k += 2)
        gomap_sync_delete(z->sync, &k);
    for (uint64_t k = 0; k < 50; k++)
        CHECK_EQ(gomap_snap_set(z->snap, &k, &k), 0);
    /* Cache: 40 entries expire, others are evicted past max_cost 128, some
     * replaced and deleted, loads succeed and fail. */
    for (uint64_t k = 0; k < 40; k++)
        CHECK_EQ(gomap_cache_set(z->cache, &k, &k, 1000000), 0);
    testclock_advance(&z->clk, 5000000000ull);
    gomap_cache_run_maintenance(z->cache);
    for (uint64_t k = 100; k < 300; k++)
        CHECK_EQ(gomap_cache_set(z->cache, &k, &k, 0), 0);
    for (uint64_t k = 280; k < 300; k++) {
        CHECK_EQ(gomap_cache_set(z->cache, &k, &k, 0), 0);
        uint64_t v;
        CHECK(gomap_cache_get(z->cache, &k, &v));
    }
    for (uint64_t k = 300; k < 305; k++) { /* deleted right after its set: still there */
        CHECK_EQ(gomap_cache_set(z->cache, &k, &k, 0), 0);
        CHECK(gomap_cache_delete(z->cache, &k));
    }
    uint64_t v, k = 9999;
    CHECK_EQ(gomap_cache_get_or_load(z->cache, &k, &v, fail_load, NULL), -EIO);
    CHECK_EQ(gomap_cache_get_or_load(z->cache, &k, &v, good_load, NULL), 0);
    CHECK_EQ(gomap_cache_get_or_load(z->cache, &k, &v, good_load, NULL), 1);
}

static void test_busy(void)
{
    static const char *const names[5] = {"core map", "sync\"quoted\"", "shard\\slash",
                                         "snap \xc3\xa9t\xc3\xa9", "cache"};
    static const char *const labels[5] = {"core map", "sync\\\"quoted\\\"", "shard\\\\slash",
                                          "snap \xc3\xa9t\xc3\xa9", "cache"};
    zoo z;
    zoo_new(&z, names, labels);
    make_busy(&z);
    const gomap_snap_view_t *view = gomap_snap_acquire(z.snap);
    CHECK(view != NULL);
    uint64_t k = 77;
    CHECK_EQ(gomap_snap_set(z.snap, &k, &k), 0); /* the viewed version is retired */
    /* A core map caught growing: insert until it is. */
    gomap_stats_t ms;
    uint64_t next = 100000;
    do {
        CHECK_EQ(gomap_set(z.core.map, &next, &next), 0);
        next++;
        CHECK_EQ(gomap_stats(z.core.map, &ms), 0);
    } while (!ms.growing);
    /* Sync stats flush the map's pending boxes to the reclaimer; once it
     * has freed them, the figures stay still. */
    gomap_sync_stats_t ys;
    CHECK_EQ(gomap_sync_stats(z.sync, &ys), 0);
    /* Enough calls on this thread that some are timed. */
    for (uint64_t i = 0; i < 2 * GOMAP_LATENCY_SAMPLE; i++) {
        uint64_t out;
        (void)gomap_shard_get(z.shard, &i, &out);
    }
    for (uint64_t i = 0; i < 2 * GOMAP_LATENCY_SAMPLE; i++) {
        uint64_t out;
        (void)gomap_cache_get(z.cache, &i, &out);
    }
    gomap_rcu_barrier();
    gomap_rcu_stats_t rs;
    gomap_rcu_stats(&rs);
    prom_doc *d = scrape_checked(z.r);
    check_values(&z, d);
    CHECK(prom_value(d, "gomap_operation_duration_seconds_count",
                     "map=\"cache\",op=\"get\"") >= 2);
    char shard_get[300];
    snprintf(shard_get, sizeof shard_get, "map=\"%s\",op=\"get\"", labels[2]);
    CHECK(prom_value(d, "gomap_operation_duration_seconds_count", shard_get) >= 2);
    CHECK(prom_value(d, "gomap_snap_copy_duration_seconds_count", lbl(labels[3])) > 0);
    /* Nothing retires while the test is quiet: the figures are still. */
    CHECK(prom_value(d, "gomap_rcu_retired_total", "") == (double)rs.retired);
    CHECK(prom_value(d, "gomap_rcu_freed_total", "") == (double)rs.freed);
    CHECK(prom_value(d, "gomap_rcu_grace_period_waits_total", "") >= 1);
    CHECK(prom_value(d, "gomap_map_growing", "map=\"core map\"") == 1);
    CHECK(prom_value(d, "gomap_snap_views", lbl(labels[3])) == 1);
    CHECK(prom_value(d, "gomap_memory_retired_bytes", lbl(labels[3])) > 0);
    CHECK(prom_value(d, "gomap_cache_removed_total", "map=\"cache\",cause=\"expired\"") == 40);
    CHECK(prom_value(d, "gomap_cache_removed_total", "map=\"cache\",cause=\"evicted\"") > 0);
    CHECK(prom_value(d, "gomap_sync_promotions_total", lbl(labels[1])) > 0);
    prom_free(d);
    gomap_snap_release(view);
    zoo_free(&z);
}

static void test_callback(void)
{
    zoo z;
    zoo_new(&z, plain_names, plain_names);
    z.core.refuse = true;
    prom_doc *d = scrape_checked(z.r);
    double v;
    CHECK(!prom_find(d, "gomap_entries", "map=\"core\"", &v));
    CHECK(!prom_find(d, "gomap_info", "map=\"core\",type=\"map\"", &v));
    EXPECT_ALL(d, "map=\"core\"", V("gomap_metrics_func_failures_total", 1));
    CHECK(prom_find(d, "gomap_entries", "map=\"shard\"", &v));
    prom_free(d);
    z.core.refuse = false;
    d = scrape_checked(z.r);
    EXPECT_ALL(d, "map=\"core\"", V("gomap_metrics_func_failures_total", 1));
    check_values(&z, d);
    prom_free(d);
    zoo_free(&z);
}

static void test_remove(void)
{
    zoo z;
    zoo_new(&z, plain_names, plain_names);
    CHECK_EQ(gomap_metrics_remove(z.r, "shard"), 0);
    gomap_shard_free(z.shard); /* no scrape reads it again */
    prom_doc *d = scrape_checked(z.r);
    double v;
    CHECK(!prom_find(d, "gomap_entries", "map=\"shard\"", &v));
    CHECK(!prom_has_family(d, "gomap_shard_hits_total"));
    CHECK(prom_find(d, "gomap_entries", "map=\"cache\"", &v));
    prom_free(d);
    gomap_shard_options so = {.map = shardcheck_u64_options(sizeof(uint64_t)),
                              .shards = ZOO_SHARDS};
    CHECK_EQ(gomap_shard_new(&z.shard, &so), 0);
    CHECK_EQ(gomap_metrics_add_shard(z.r, "shard", z.shard), 0);
    d = scrape_checked(z.r);
    check_values(&z, d);
    prom_free(d);
    zoo_free(&z);
}

static void test_io_error(void)
{
    zoo z;
    zoo_new(&z, plain_names, plain_names);
    FILE *f = fopen("/dev/full", "w");
    CHECK(f != NULL);
    CHECK_EQ(gomap_metrics_write(z.r, f), -EIO);
    fclose(f);
    zoo_free(&z);
}

/* ---- concurrent ---------------------------------------------------------------- */

enum { CONC_SCRAPES = 150, CONC_WRITES = 200000 / WORK_DIV };

typedef struct {
    gomap_metrics_t *r;
    gomap_shard_t *m;
    atomic_bool done;
    uint64_t seed;
} conc;

static void *conc_writer(void *arg)
{
    conc *c = arg;
    uint64_t s = c->seed | 1;
    for (int i = 0; i < CONC_WRITES; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        uint64_t k = s % 5000, v;
        if (s % 10 == 0)
            CHECK_EQ(gomap_shard_set(c->m, &k, &k), 0);
        else
            (void)gomap_shard_get(c->m, &k, &v);
    }
    return NULL;
}

static void *conc_scraper(void *arg)
{
    conc *c = arg;
    double last_hits = 0;
    for (int i = 0; i < CONC_SCRAPES; i++) {
        char *text = scrape(c->r);
        prom_doc *d = prom_parse(text);
        double hits = 0;
        for (size_t j = 0; j < d->n; j++)
            if (strcmp(d->samples[j].name, "gomap_shard_hits_total") == 0 &&
                strstr(d->samples[j].labels, "map=\"busy\""))
                hits += d->samples[j].value;
        CHECK_MSG(hits >= last_hits, "hits went down: %g after %g", hits, last_hits);
        last_hits = hits;
        prom_free(d);
        free(text);
    }
    return NULL;
}

static void *conc_churn(void *arg)
{
    conc *c = arg;
    gomap_shard_options so = {.map = shardcheck_u64_options(sizeof(uint64_t)), .shards = 4};
    for (int i = 0; !atomic_load(&c->done); i++) {
        gomap_shard_t *m;
        CHECK_EQ(gomap_shard_new(&m, &so), 0);
        char name[32];
        snprintf(name, sizeof name, "churn%d", i % 3);
        CHECK_EQ(gomap_metrics_add_shard(c->r, name, m), 0);
        CHECK_EQ(gomap_metrics_remove(c->r, name), 0);
        gomap_shard_free(m); /* removed: no scrape reads it any more */
    }
    return NULL;
}

static void test_concurrent(void)
{
    conc c = {.seed = test_seed()};
    atomic_init(&c.done, false);
    CHECK_EQ(gomap_metrics_new(&c.r), 0);
    gomap_shard_options so = {.map = shardcheck_u64_options(sizeof(uint64_t)), .shards = 16};
    CHECK_EQ(gomap_shard_new(&c.m, &so), 0);
    CHECK_EQ(gomap_metrics_add_shard(c.r, "busy", c.m), 0);
    pthread_t w[2], s[2], ch;
    for (int i = 0; i < 2; i++)
        CHECK_EQ(pthread_create(&w[i], NULL, conc_writer, &c), 0);
    for (int i = 0; i < 2; i++)
        CHECK_EQ(pthread_create(&s[i], NULL, conc_scraper, &c), 0);
    CHECK_EQ(pthread_create(&ch, NULL, conc_churn, &c), 0);
    for (int i = 0; i < 2; i++)
        CHECK_EQ(pthread_join(w[i], NULL), 0);
    for (int i = 0; i < 2; i++)
        CHECK_EQ(pthread_join(s[i], NULL), 0);
    atomic_store(&c.done, true);
    CHECK_EQ(pthread_join(ch, NULL), 0);
    /* Quiet now: exact. */
    prom_doc *d = scrape_checked(c.r);
    gomap_shard_stats_t st;
    CHECK_EQ(gomap_shard_stats(c.m, &st, NULL, 0), 0);
    CHECK_EQ(st.total.ops, 2 * CONC_WRITES);
    EXPECT_ALL(d, "map=\"busy\"", V("gomap_entries", st.total.entries));
    prom_free(d);
    gomap_metrics_free(c.r);
    gomap_shard_free(c.m);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    RUN(test_bad_input);
    RUN(test_oom);
    RUN(test_empty);
    RUN(test_busy);
    RUN(test_callback);
    RUN(test_remove);
    RUN(test_io_error);
    RUN(test_concurrent);
    printf("ok\n");
    return 0;
}
