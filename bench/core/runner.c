/*
 * runner.c — the workloads, run on an in-process implementation. Each run
 * builds its own map (setup is not timed) and times one phase with the
 * monotonic clock; insert-latency times every insert with the tick counter.
 * docs/bench.md defines the workloads; bench/peers/go/peer.go mirrors this.
 */
#include "core/runner.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/keystream.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#endif

/* Bytes the process's allocator holds (small and mmap'd chunks), or -1 if
 * it cannot say (another libc, or a sanitizer's allocator, which glibc's
 * statistics do not see). Differences of it count a map's memory. */
static int64_t heap_bytes(void)
{
#if !defined(UNDER_SANITIZER) && defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 mi = mallinfo2();
    return (int64_t)(mi.uordblks + mi.hblkhd);
#else
    return -1;
#endif
}

static int hit_percent(bench_workload wl)
{
    switch (wl) {
    case WL_LOOKUP_HIT: return 100;
    case WL_LOOKUP_MISS: return 0;
    default: return 50;
    }
}

static bool is_lookup(bench_workload wl)
{
    return wl == WL_LOOKUP_HIT || wl == WL_LOOKUP_50 || wl == WL_LOOKUP_MISS ||
           wl == WL_LOOKUP_BATCH;
}

int case_prepare(bench_case *c)
{
    size_t q = ks_queries(c->n, c->min_ops);
    size_t keys = c->wl == WL_CHURN ? c->n + q : c->n;
    if (ks_make_set(&c->set, c->type, c->seed, STREAM_SET, keys))
        return -ENOMEM;
    if (is_lookup(c->wl) &&
        ks_make_queries(&c->queries, c->type, c->seed, c->n, q, hit_percent(c->wl))) {
        ks_free(&c->set);
        return -ENOMEM;
    }
    return 0;
}

void case_release(bench_case *c)
{
    ks_free(&c->set);
    ks_free(&c->queries);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The element at quantile p of a sorted array (p in [0, 1]). */
static double quantile(const uint32_t *sorted, size_t n, double p)
{
    size_t i = (size_t)(p * (double)n);
    return sorted[i < n ? i : n - 1];
}

static int run_insert(const bench_impl *impl, const bench_case *c, bench_result *r)
{
    size_t rounds = ks_rounds(c->n, c->min_ops);
    size_t hint = c->wl == WL_INSERT_PRESIZED ? c->n : 0;
    for (size_t round = 0; round < rounds; round++) {
        int64_t before = heap_bytes();
        double t0 = clock_ns();
        void *m = impl->create(c->type, hint);
        if (!m)
            return -ENOMEM;
        impl->insert(m, &c->set, 0, c->n);
        r->ns += clock_ns() - t0;
        if (round + 1 == rounds) {
            int64_t after = heap_bytes();
            if (impl->unmalloced_bytes && before >= 0)
                after += (int64_t)impl->unmalloced_bytes(m);
            r->bytes = before < 0 ? -1 : after - before;
            r->checksum = impl->len(m);
        }
        impl->destroy(m);
    }
    r->ops = (uint64_t)rounds * c->n;
    return 0;
}

static int run_insert_latency(const bench_impl *impl, const bench_case *c, bench_result *r)
{
    uint32_t *lat = malloc(c->n * sizeof *lat);
    void *m = lat ? impl->create(c->type, 0) : NULL;
    if (!m) {
        free(lat);
        return -ENOMEM;
    }
    double t0 = clock_ns();
    for (size_t i = 0; i < c->n; i++) {
        uint64_t s = clock_ticks();
        impl->insert(m, &c->set, i, i + 1);
        uint64_t d = clock_ticks() - s;
        lat[i] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    }
    r->ns = clock_ns() - t0;
    r->ops = c->n;
    r->checksum = impl->len(m);
    impl->destroy(m);
    double k = clock_ns_per_tick();
    for (size_t i = 0; i < c->n; i++) {
        double ns = k * lat[i];
        r->over20us += ns > LAT_SLOW_NS;
        r->over100us += ns > LAT_VERY_SLOW_NS;
        r->hist[lat_bin(ns)]++;
    }
    qsort(lat, c->n, sizeof *lat, cmp_u32);
    r->p50 = k * quantile(lat, c->n, 0.50);
    r->p99 = k * quantile(lat, c->n, 0.99);
    r->p999 = k * quantile(lat, c->n, 0.999);
    r->max = k * lat[c->n - 1];
    free(lat);
    return 0;
}

/* The read-only workloads and churn share the setup: a map of the n set
 * keys, built by inserting them in order with no hint. */
static int run_on_built_map(const bench_impl *impl, const bench_case *c, bench_result *r)
{
    if (c->wl == WL_ITERATE && !impl->iterate)
        return -ENOTSUP;
    void *m = impl->create(c->type, 0);
    if (!m)
        return -ENOMEM;
    impl->insert(m, &c->set, 0, c->n);
    size_t q = ks_queries(c->n, c->min_ops);
    double t0 = clock_ns();
    if (c->wl == WL_ITERATE) {
        size_t rounds = ks_rounds(c->n, c->min_ops);
        for (size_t round = 0; round < rounds; round++)
            r->checksum = impl->iterate(m);
        r->ops = (uint64_t)rounds * c->n;
    } else if (c->wl == WL_CHURN) {
        size_t found = 0;
        for (size_t j = 0; j < q; j++) {
            found += impl->erase(m, &c->set, j, j + 1);
            impl->insert(m, &c->set, c->n + j, c->n + j + 1);
        }
        r->checksum = found + impl->len(m);
        r->ops = q;
    } else {
        bool batch = c->wl == WL_LOOKUP_BATCH && impl->lookup_batch;
        r->checksum = (batch ? impl->lookup_batch : impl->lookup)(m, &c->queries, 0, q);
        r->ops = q;
    }
    r->ns = clock_ns() - t0;
    impl->destroy(m);
    return 0;
}

int run_inprocess(const bench_impl *impl, const bench_case *c, bench_result *r)
{
    memset(r, 0, sizeof *r);
    r->bytes = -1;
    if (impl->latency_only && c->wl != WL_INSERT_LATENCY)
        return -ENOTSUP;
    switch (c->wl) {
    case WL_INSERT:
    case WL_INSERT_PRESIZED:
        return run_insert(impl, c, r);
    case WL_INSERT_LATENCY:
        return run_insert_latency(impl, c, r);
    default:
        return run_on_built_map(impl, c, r);
    }
}
