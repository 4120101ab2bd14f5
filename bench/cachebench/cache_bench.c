/*
 * cache_bench.c — the cache suite's workloads, its in-process cache
 * contender, and the expiry and memory measurements of gomap's cache
 * (cache_bench.h). The throughput runs are the strategies matrix's
 * (strat_bench.c); the Java and Go peers run the same streams.
 */
#include "cachebench/cache_bench.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gomap/cache.h>

#include "common/clock.h"
#include "common/keystream.h"
#include "strategies/strat_workloads.h"

/* ---- the workloads ---------------------------------------------------------- */

const op_mix cache_mixes[CWL_COUNT] = {
    /* name, get, set, delete, update, grow, fresh % of sets */
    [CWL_READ_100] = {"read-100", 100, 0, 0, 0, false, 0},
    [CWL_READ_75] = {"read-75", 75, 25, 0, 0, false, 0},
    [CWL_INSERT_EVICT] = {"insert-evict", 0, 100, 0, 0, false, 50},
};

int cache_workload_parse(const char *name)
{
    for (int w = 0; w < CWL_COUNT; w++)
        if (strcmp(name, cache_mixes[w].name) == 0)
            return w;
    return -1;
}

/* ---- gomap-cache -------------------------------------------------------------- */

/* u64 keys and values, bounded to `bound` entries of cost 1, no TTL. */
static gomap_cache_t *cache_make(size_t bound, bool maintenance, void (*on_remove)(
                                     const void *, const void *, gomap_cache_cause, void *),
                                 void *ctx)
{
    gomap_cache_options o = {
        .map = {.key_kind = GOMAP_KEY_U64, .val_size = sizeof(uint64_t), .hint = bound},
        .max_cost = bound,
        .on_remove = on_remove,
        .remove_ctx = ctx,
        .maintenance_thread = maintenance,
    };
    gomap_cache_t *c;
    return gomap_cache_new(&c, &o) == 0 ? c : NULL;
}

/* The cache suite measures no bytes: the matrix passes no allocator here. */
static void *gc_create(size_t bound, const gomap_allocator *alloc)
{
    (void)alloc;
    return cache_make(bound, false, NULL, NULL);
}
static void gc_destroy(void *m) { gomap_cache_free(m); }
static size_t gc_len(void *m) { return gomap_cache_len(m); }

static bool gc_get(void *m, uint64_t key, uint64_t *val) { return gomap_cache_get(m, &key, val); }

static int gc_set(void *m, uint64_t key, uint64_t val)
{
    return gomap_cache_set(m, &key, &val, GOMAP_CACHE_NO_EXPIRY);
}

static void gc_del(void *m, uint64_t key) { gomap_cache_delete(m, &key); }

/* Not atomic; no cache workload updates. */
static int gc_update(void *m, uint64_t key)
{
    uint64_t v = 0;
    gc_get(m, key, &v);
    return gc_set(m, key, v + 1);
}

static const strat_ops gc_ops = {gc_get, gc_set, gc_del, gc_update};
STRAT_INSTANTIATE(gc, gc_ops)

static const strat_impl cache_impl_gomap = {
    .name = "gomap-cache",
    .what = "gomap_cache_t (gomap/cache.h), shards auto, max_cost = bound, cost 1, no TTL",
    .create = gc_create,
    .destroy = gc_destroy,
    .prefill = gc_prefill,
    .body = gc_body,
    .len = gc_len,
};

const strat_impl *const cache_impls[] = {&cache_impl_gomap, &strat_impl_shard, NULL};

/* ---- latency samples ---------------------------------------------------------------- */

typedef struct {
    double *v;
    size_t n, cap;
} samples;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The p-quantile of the sorted samples (floor(p * n), as the runner does). */
static double quantile(const samples *s, double p)
{
    if (s->n == 0)
        return 0;
    size_t i = (size_t)(p * (double)s->n);
    return s->v[i < s->n ? i : s->n - 1];
}

static size_t add_metric(bench_metric *out, size_t k, const char *name, const char *what,
                         double value, const char *unit)
{
    if (k == CACHE_MAX_METRICS)
        return k;
    out[k] = (bench_metric){.impl = "gomap-cache", .value = value, .unit = unit};
    snprintf(out[k].name, sizeof out[k].name, "%s %s", name, what);
    return k + 1;
}

/* p50, p99.9 and max of s (sorted here) as three metrics, scaled by mul;
 * with over > 0, also the samples above `over` (scaled), as a count. */
static size_t add_quantiles(bench_metric *out, size_t k, const char *name, samples *s,
                            double mul, const char *unit, double over)
{
    qsort(s->v, s->n, sizeof *s->v, cmp_double);
    k = add_metric(out, k, name, "p50", quantile(s, 0.5) * mul, unit);
    k = add_metric(out, k, name, "p99.9", quantile(s, 0.999) * mul, unit);
    k = add_metric(out, k, name, "max", s->n ? s->v[s->n - 1] * mul : 0, unit);
    if (over > 0) {
        size_t above = 0;
        while (above < s->n && s->v[s->n - 1 - above] * mul > over)
            above++;
        char what[64];
        snprintf(what, sizeof what, "calls over %.0f %s (of %zu)", over, unit, s->n);
        k = add_metric(out, k, name, what, (double)above, "calls");
    }
    return k;
}

/* ---- time to reclaim -------------------------------------------------------------- */

/* Entries set with a TTL store their deadline (by the bench's clock, read
 * just before the set: at most the cache's own, so a latency is never
 * understated) as their value; on_remove records now - deadline. */
typedef struct {
    samples lat;
    atomic_size_t n;
    atomic_bool stop;
    gomap_cache_t *c;
    uint64_t seed;
} reclaim_run;

static void on_expired(const void *key, const void *val, gomap_cache_cause cause, void *ctx)
{
    reclaim_run *r = ctx;
    (void)key;
    if (cause != GOMAP_CACHE_EXPIRED)
        return;
    uint64_t deadline;
    memcpy(&deadline, val, sizeof deadline);
    size_t i = atomic_fetch_add(&r->n, 1);
    if (i < r->lat.cap)
        r->lat.v[i] = clock_ns() - (double)deadline;
}

/* Traffic on keys that never expire (the busy case's two threads). */
static void *traffic_main(void *arg)
{
    reclaim_run *r = arg;
    uint64_t i = 0, v;
    while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
        uint64_t key = ks_key(r->seed, STREAM_PICK, i++ % CACHE_CAPACITY);
        if (i % 4 == 0)
            gomap_cache_set(r->c, &key, &i, GOMAP_CACHE_NO_EXPIRY);
        else
            gomap_cache_get(r->c, &key, &v);
    }
    return NULL;
}

static void sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1e3), (long)((ms - (double)(long)(ms / 1e3) * 1e3) * 1e6)};
    nanosleep(&ts, NULL);
}

/* n entries with TTLs spread over 50..550 ms, the maintenance thread on;
 * busy: two threads doing gets and sets on other keys until the last one
 * is reclaimed. */
static size_t reclaim_latency(size_t n, bool busy, bench_metric *out, size_t k)
{
    reclaim_run r = {.lat = {calloc(n, sizeof(double)), 0, n}, .seed = 7};
    atomic_init(&r.n, 0);
    atomic_init(&r.stop, false);
    r.c = r.lat.v ? cache_make(0, true, on_expired, &r) : NULL;
    pthread_t tid[2];
    unsigned started = 0;
    if (!r.c)
        goto out;
    for (uint64_t i = 0; busy && i < CACHE_CAPACITY; i++) {
        uint64_t key = ks_key(r.seed, STREAM_PICK, i);
        gomap_cache_set(r.c, &key, &i, GOMAP_CACHE_NO_EXPIRY);
    }
    while (busy && started < 2 && pthread_create(&tid[started], NULL, traffic_main, &r) == 0)
        started++;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t key = ks_key(r.seed, STREAM_SET, i);
        uint64_t ttl = (50 + i * 500 / n) * 1000000ull;
        uint64_t deadline = (uint64_t)clock_ns() + ttl;
        gomap_cache_set(r.c, &key, &deadline, ttl);
    }
    double give_up = clock_ns() + 5e9;
    while (atomic_load(&r.n) < n && clock_ns() < give_up)
        sleep_ms(10);
    atomic_store(&r.stop, true);
    for (unsigned t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    size_t reclaimed = atomic_load(&r.n);
    if (reclaimed < n)
        fprintf(stderr, "gomap-bench: cache: only %zu of %zu expired entries reclaimed in 5 s\n",
                reclaimed, n);
    /* Freed first: any entry still held is reported (and counted) now, and
     * no callback runs while the samples are sorted. */
    gomap_cache_free(r.c);
    r.lat.n = atomic_load(&r.n) < n ? atomic_load(&r.n) : n;
    k = add_quantiles(out, k, busy ? "reclaim-busy" : "reclaim-idle", &r.lat, 1e-6, "ms", 0);
out:
    free(r.lat.v);
    return k;
}

/* ---- gets during a mass expiry ----------------------------------------------------- */

typedef struct {
    gomap_cache_t *c;
    size_t n;             /* entries that expire (or, the baseline, do not) */
    size_t gets;          /* the baseline: as many as the expiry run made */
    double until;         /* the expiry run: stop reading then at the latest */
    atomic_size_t gone;   /* expired entries reclaimed */
    samples lat;          /* ticks per get */
} mass_run;

static void on_mass(const void *key, const void *val, gomap_cache_cause cause, void *ctx)
{
    (void)key;
    (void)val;
    if (cause == GOMAP_CACHE_EXPIRED)
        atomic_fetch_add_explicit(&((mass_run *)ctx)->gone, 1, memory_order_relaxed);
}

/* Reads until every expiring entry is reclaimed (or m->until), or, with
 * m->gets set, that many times; half the gets ask for a live key, half for
 * one of the n others. */
static void mass_read(mass_run *m)
{
    uint64_t v;
    for (size_t i = 0; i < m->lat.cap; i++) {
        if (m->gets ? i == m->gets
                    : (i % 256 == 0 &&
                       (atomic_load_explicit(&m->gone, memory_order_relaxed) >= m->n ||
                        clock_ns() > m->until)))
            break;
        uint64_t r = ks_mix(i), key = r & 1 ? ks_key(3, STREAM_PICK, (r >> 1) % CACHE_CAPACITY)
                                            : ks_key(3, STREAM_SET, (r >> 1) % m->n);
        uint64_t t0 = clock_ticks();
        gomap_cache_get(m->c, &key, &v);
        m->lat.v[m->lat.n++] = (double)(clock_ticks() - t0);
    }
}

/* A cache of 1e5 live entries and n more, all due at one instant (expire)
 * or never; the maintenance thread on; one thread reading from 100 ms
 * before that instant. Returns the gets made, or 0. */
static size_t mass_case(size_t n, bool expire, size_t gets, samples *lat)
{
    mass_run m = {.n = n, .gets = gets, .lat = *lat};
    atomic_init(&m.gone, 0);
    gomap_cache_options o = {
        .map = {.key_kind = GOMAP_KEY_U64, .val_size = sizeof(uint64_t), .hint = n + CACHE_CAPACITY},
        .on_remove = on_mass,
        .remove_ctx = &m,
        .maintenance_thread = true,
    };
    if (gomap_cache_new(&m.c, &o))
        return 0;
    for (uint64_t i = 0; i < CACHE_CAPACITY; i++) {
        uint64_t key = ks_key(3, STREAM_PICK, i);
        gomap_cache_set(m.c, &key, &i, GOMAP_CACHE_NO_EXPIRY);
    }
    /* Setting 1e6 entries takes about a second here: all are due 2.5 s per
     * million (at least 0.2 s) from now, each with the TTL left to that
     * instant, so every deadline falls in the same wheel tick. */
    double lead = 2.5e9 * (double)n / 1e6;
    double due = clock_ns() + (lead > 0.2e9 ? lead : 0.2e9);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t key = ks_key(3, STREAM_SET, i), now = (uint64_t)clock_ns();
        uint64_t ttl = !expire ? GOMAP_CACHE_NO_EXPIRY
                       : (double)now + 1e6 < due ? (uint64_t)due - now : 1000000;
        gomap_cache_set(m.c, &key, &i, ttl);
    }
    while (clock_ns() < due - 100e6)
        sleep_ms(5);
    m.until = due + 5e9;
    mass_read(&m);
    if (expire && atomic_load(&m.gone) < n)
        fprintf(stderr, "gomap-bench: cache: %zu of %zu entries reclaimed by the end of the "
                        "mass expiry run\n", atomic_load(&m.gone), n);
    gomap_cache_free(m.c);
    *lat = m.lat;
    return m.lat.n;
}

static size_t mass_expiry(size_t n, bench_metric *out, size_t k)
{
    enum { MAX_GETS = 16000000 };
    samples with = {calloc(MAX_GETS, sizeof(double)), 0, MAX_GETS};
    samples without = {calloc(MAX_GETS, sizeof(double)), 0, MAX_GETS};
    size_t gets = with.v && without.v ? mass_case(n, true, 0, &with) : 0;
    if (gets && mass_case(n, false, gets, &without)) {
        double tick = clock_ns_per_tick();
        double p_with, p_without;
        k = add_quantiles(out, k, "get-mass-expiry", &with, tick, "ns", 1e5);
        p_with = out[k - 3].value;
        k = add_quantiles(out, k, "get-no-expiry", &without, tick, "ns", 1e5);
        p_without = out[k - 3].value;
        k = add_metric(out, k, "get-mass-expiry", "p99.9 / no-expiry p99.9",
                       p_without > 0 ? p_with / p_without : 0, "x");
    }
    free(with.v);
    free(without.v);
    return k;
}

/* ---- memory --------------------------------------------------------------------- */

/* bytes_held / entries - 16 (the u64 key and value) of a bounded cache
 * filled to its bound n. */
static size_t metadata(size_t n, bench_metric *out, size_t k)
{
    gomap_cache_t *c = cache_make(n, false, NULL, NULL);
    gomap_cache_stats_t st;
    char name[32];
    if (!c)
        return k;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t key = ks_key(5, STREAM_SET, i);
        gomap_cache_set(c, &key, &i, GOMAP_CACHE_NO_EXPIRY);
    }
    if (gomap_cache_stats(c, &st) == 0 && st.entries) {
        snprintf(name, sizeof name, "metadata n=%zu", n);
        k = add_metric(out, k, name, "bytes_held/entries-16",
                       (double)st.bytes_held / (double)st.entries - 16, "B/entry");
    }
    gomap_cache_free(c);
    return k;
}

size_t cache_expiry_run(double scale, bool quiet, bench_metric *out)
{
    size_t k = 0, reclaim_n = (size_t)(20000 * scale) + 100, mass_n = (size_t)(1e6 * scale) + 100;
    if (!quiet)
        fprintf(stderr, "gomap-bench: cache expiry: reclaim, idle then busy (%zu entries)\n",
                reclaim_n);
    k = reclaim_latency(reclaim_n, false, out, k);
    k = reclaim_latency(reclaim_n, true, out, k);
    if (!quiet)
        fprintf(stderr, "gomap-bench: cache expiry: gets during a mass expiry of %zu entries\n",
                mass_n);
    k = mass_expiry(mass_n, out, k);
    k = metadata(CACHE_CAPACITY, out, k);
    if (scale >= 1)
        k = metadata(10 * CACHE_CAPACITY, out, k);
    return k;
}
