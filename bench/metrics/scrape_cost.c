/*
 * scrape_cost.c — gomap-metrics-bench: what a metrics scrape costs
 * (docs/metrics.md, "Cost of a scrape").
 *
 *   gomap-metrics-bench [--entries N] [--threads T] [--seconds S] [--reps R]
 *
 * 1. Time per gomap_metrics_write (into memory, as the exporter renders)
 *    of a registry holding a sharded map of N entries, a cache of N
 *    entries, and both: the median and the slowest of 200 scrapes each.
 * 2. A read-90 run on the sharded map (T threads; 90 % gets, 9 % sets of
 *    present keys, 1 % deletes and re-inserts; uniform keys over N) for S
 *    seconds, without and with a scraper writing the whole registry every
 *    10 ms; R runs of each, alternating, the median reported, with the
 *    ratio of the two.
 * Defaults: N = 1,000,000, T = 2, S = 2, R = 3.
 */
#define _POSIX_C_SOURCE 200809L

#include <gomap.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One scrape into memory, as the exporter does; its length in *bytes. */
static uint64_t one_scrape(gomap_metrics_t *r, size_t *bytes)
{
    char *buf = NULL;
    size_t len = 0;
    uint64_t t0 = now_ns();
    FILE *f = open_memstream(&buf, &len);
    if (!f || gomap_metrics_write(r, f) != 0 || fclose(f) != 0) {
        fprintf(stderr, "gomap-metrics-bench: a scrape failed\n");
        exit(1);
    }
    uint64_t t = now_ns() - t0;
    free(buf);
    if (bytes)
        *bytes = len;
    return t;
}

enum { SCRAPES = 200 };

static void scrape_cost(const char *what, gomap_metrics_t *r)
{
    uint64_t t[SCRAPES];
    size_t bytes = 0;
    for (int i = 0; i < SCRAPES; i++)
        t[i] = one_scrape(r, &bytes);
    qsort(t, SCRAPES, sizeof t[0], cmp_u64);
    printf("%-28s %10.1f %10.1f %10zu\n", what, (double)t[SCRAPES / 2] / 1e3,
           (double)t[SCRAPES - 1] / 1e3, bytes);
}

/* ---- read-90 ---------------------------------------------------------------------- */

typedef struct {
    gomap_shard_t *m;
    gomap_metrics_t *r;
    uint64_t keys;
    atomic_bool stop;
    atomic_uint_fast64_t ops;
    atomic_uint_fast64_t scrapes;
} run;

static void *reader(void *arg)
{
    run *x = arg;
    uint64_t s = now_ns() | 1, ops = 0, v;
    while (!atomic_load_explicit(&x->stop, memory_order_relaxed)) {
        for (int i = 0; i < 256; i++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            uint64_t k = s % x->keys;
            unsigned op = (unsigned)(s >> 40) % 100;
            if (op < 90) {
                (void)gomap_shard_get(x->m, &k, &v);
            } else if (op < 99) {
                (void)gomap_shard_set(x->m, &k, &k);
            } else {
                (void)gomap_shard_delete(x->m, &k);
                (void)gomap_shard_set(x->m, &k, &k);
            }
        }
        ops += 256;
    }
    atomic_fetch_add(&x->ops, ops);
    return NULL;
}

static void *scraper(void *arg)
{
    run *x = arg;
    struct timespec period = {0, 10000000};
    while (!atomic_load_explicit(&x->stop, memory_order_relaxed)) {
        one_scrape(x->r, NULL);
        atomic_fetch_add(&x->scrapes, 1);
        nanosleep(&period, NULL);
    }
    return NULL;
}

/* Operations per second of one run; *scrapes_out: scrapes made. */
static double read90(run *x, unsigned threads, double seconds, bool scrape, uint64_t *scrapes_out)
{
    atomic_store(&x->stop, false);
    atomic_store(&x->ops, 0);
    atomic_store(&x->scrapes, 0);
    pthread_t t[64], sc;
    for (unsigned i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, reader, x);
    if (scrape)
        pthread_create(&sc, NULL, scraper, x);
    uint64_t t0 = now_ns();
    struct timespec d = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&d, NULL);
    atomic_store(&x->stop, true);
    for (unsigned i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double elapsed = (double)(now_ns() - t0) / 1e9;
    if (scrape)
        pthread_join(sc, NULL);
    *scrapes_out = atomic_load(&x->scrapes);
    return (double)atomic_load(&x->ops) / elapsed;
}

int main(int argc, char **argv)
{
    uint64_t n = 1000000;
    unsigned threads = 2, reps = 3;
    double seconds = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--entries") == 0)
            n = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--threads") == 0)
            threads = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--seconds") == 0)
            seconds = strtod(argv[i + 1], NULL);
        else if (strcmp(argv[i], "--reps") == 0)
            reps = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "usage: gomap-metrics-bench [--entries N] [--threads T] "
                            "[--seconds S] [--reps R]\n");
            return 2;
        }
    }
    if (n == 0 || threads == 0 || threads > 64 || reps == 0 || reps > 99 || seconds <= 0) {
        fprintf(stderr, "gomap-metrics-bench: bad argument\n");
        return 2;
    }

    gomap_shard_options so;
    memset(&so, 0, sizeof so);
    so.map.key_kind = GOMAP_KEY_U64;
    so.map.val_size = sizeof(uint64_t);
    so.map.hint = n;
    gomap_cache_options co;
    memset(&co, 0, sizeof co);
    co.map = so.map;
    gomap_shard_t *m;
    gomap_cache_t *c;
    gomap_metrics_t *rs, *rc, *both;
    if (gomap_shard_new(&m, &so) || gomap_cache_new(&c, &co) || gomap_metrics_new(&rs) ||
        gomap_metrics_new(&rc) || gomap_metrics_new(&both)) {
        fprintf(stderr, "gomap-metrics-bench: out of memory\n");
        return 1;
    }
    for (uint64_t k = 0; k < n; k++)
        if (gomap_shard_set(m, &k, &k) || gomap_cache_set(c, &k, &k, 0)) {
            fprintf(stderr, "gomap-metrics-bench: out of memory filling\n");
            return 1;
        }
    gomap_metrics_add_shard(rs, "shard", m);
    gomap_metrics_add_cache(rc, "cache", c);
    gomap_metrics_add_shard(both, "shard", m);
    gomap_metrics_add_cache(both, "cache", c);

    printf("gomap-metrics-bench: %llu entries; sharded map of %u shards, cache of %u shards\n\n",
           (unsigned long long)n, gomap_shard_count(m), gomap_cache_shards(c));
    printf("%-28s %10s %10s %10s\n", "scrape of", "median us", "max us", "bytes");
    scrape_cost("sharded map", rs);
    scrape_cost("cache", rc);
    scrape_cost("sharded map + cache", both);

    printf("\nread-90 on the sharded map, %u threads, %.1f s per run, median of %u runs:\n",
           threads, seconds, reps);
    run x = {.m = m, .r = both, .keys = n};
    double without[99], with[99];
    uint64_t scrapes = 0;
    for (unsigned i = 0; i < reps; i++) {
        without[i] = read90(&x, threads, seconds, false, &scrapes);
        with[i] = read90(&x, threads, seconds, true, &scrapes);
    }
    qsort(without, reps, sizeof without[0], cmp_double);
    qsort(with, reps, sizeof with[0], cmp_double);
    double a = without[reps / 2], b = with[reps / 2];
    printf("  without a scraper          %12.0f ops/s\n", a);
    printf("  scraped every 10 ms        %12.0f ops/s  (%llu scrapes in the last run)\n", b,
           (unsigned long long)scrapes);
    printf("  ratio                      %12.3f\n", b / a);

    gomap_metrics_free(both);
    gomap_metrics_free(rs);
    gomap_metrics_free(rc);
    gomap_cache_free(c);
    gomap_shard_free(m);
    return 0;
}
