/*
 * resize_choice.c — how fast the sharded map's auto mode finds its shard
 * count, and the contention it measures on the way, on this machine, for
 * docs/shardmap.md ("Resizing"): `gomap-resize-choice`.
 *
 * Threads run a mix of gets, sets and deletes (read-90: 90/9/1, or
 * exchange: 10/40/40/10 with compute +1) on uint64 keys drawn uniformly
 * from a prefilled universe, for a fixed time, on three maps in turn:
 *   fixed-auto  the automatic shard count (4 x CPUs, at least 16): the
 *               "right count" the auto mode should reach;
 *   fixed-1     one shard, never resized;
 *   auto-1      one shard with auto_resize (default threshold and window).
 * Every 100 ms the main thread samples the operations done (each thread
 * publishes its count with a relaxed store) and the map's stats: the
 * throughput of the interval, the shard count, and the share of the
 * interval's lock acquisitions that had to wait (the figure the auto mode
 * watches). It prints the time series, then each map's throughput over its
 * last second, and when auto-1 first reached 0.9 x fixed-auto's.
 *
 * Usage: gomap-resize-choice [--threads N] [--seconds S] [--keys N]
 *                            [--mix read-90|exchange] [--reps N]
 * --reps repeats the three runs and reports medians of the summary.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gomap/shardmap.h>

#include "common/clock.h"
#include "common/compute_add_one.h"
#include "common/median.h"

enum { MAX_THREADS = 64, MAX_SAMPLES = 600, MAX_REPS = 15, SAMPLE_MS = 100, VARIANTS = 3 };

static const char *const names[VARIANTS] = {"fixed-auto", "fixed-1", "auto-1"};

typedef struct {
    unsigned get, set, del; /* percentages; the rest: compute +1 */
} mix;

typedef struct {
    gomap_shard_t *m;
    uint64_t keys;
    mix mx;
    uint64_t rng;
    atomic_bool *stop;
    _Alignas(64) _Atomic uint64_t done; /* operations so far (relaxed) */
} worker;

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void *work(void *arg)
{
    worker *w = arg;
    uint64_t n = 0, v;
    while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
        for (int i = 0; i < 256; i++, n++) {
            uint64_t r = splitmix(&w->rng);
            uint64_t key = (r >> 8) % w->keys;
            unsigned pick = (unsigned)(r & 0xFF) * 100 / 256;
            if (pick < w->mx.get)
                (void)gomap_shard_get(w->m, &key, &v);
            else if (pick < w->mx.get + w->mx.set)
                (void)gomap_shard_set(w->m, &key, &r);
            else if (pick < w->mx.get + w->mx.set + w->mx.del)
                (void)gomap_shard_delete(w->m, &key);
            else
                (void)gomap_shard_compute(w->m, &key, compute_add_one, NULL);
        }
        atomic_store_explicit(&w->done, n, memory_order_relaxed);
    }
    return NULL;
}

typedef struct {
    double mops[MAX_SAMPLES];   /* per interval */
    unsigned shards[MAX_SAMPLES];
    double waited[MAX_SAMPLES]; /* share of the interval's acquisitions */
    unsigned n;
} series;

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static gomap_shard_t *make(int variant, uint64_t keys)
{
    gomap_shard_options o;
    memset(&o, 0, sizeof o);
    o.map.key_kind = GOMAP_KEY_U64;
    o.map.val_size = 8;
    o.map.hint = keys;
    o.shards = variant == 0 ? 0 : 1;
    o.auto_resize = variant == 2;
    gomap_shard_t *m = NULL;
    if (gomap_shard_new(&m, &o) != 0) {
        fprintf(stderr, "gomap-resize-choice: out of memory\n");
        exit(1);
    }
    for (uint64_t k = 0; k < keys; k += 2)
        gomap_shard_set(m, &k, &k);
    return m;
}

static uint64_t total_done(worker *w, unsigned threads)
{
    uint64_t n = 0;
    for (unsigned t = 0; t < threads; t++)
        n += atomic_load_explicit(&w[t].done, memory_order_relaxed);
    return n;
}

static void run(int variant, unsigned threads, unsigned samples, uint64_t keys, mix mx,
                uint64_t seed, series *out)
{
    gomap_shard_t *m = make(variant, keys);
    atomic_bool stop = false;
    static worker w[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    for (unsigned t = 0; t < threads; t++) {
        w[t].m = m;
        w[t].keys = keys;
        w[t].mx = mx;
        w[t].rng = seed + t;
        w[t].stop = &stop;
        atomic_store_explicit(&w[t].done, 0, memory_order_relaxed);
        pthread_create(&tid[t], NULL, work, &w[t]);
    }
    uint64_t last = 0, last_acq = 0, last_waits = 0;
    double t_last = clock_ns();
    for (unsigned i = 0; i < samples; i++) {
        sleep_ms(SAMPLE_MS);
        double now = clock_ns();
        uint64_t done = total_done(w, threads);
        gomap_shard_stats_t st;
        gomap_shard_stats(m, &st, NULL, 0);
        uint64_t acq = st.total.lock_acquisitions - last_acq;
        uint64_t waits = st.total.waits - last_waits;
        out->mops[i] = (double)(done - last) / ((now - t_last) / 1e3);
        out->shards[i] = st.shards;
        out->waited[i] = acq ? (double)waits / (double)acq : 0;
        last = done;
        last_acq = st.total.lock_acquisitions;
        last_waits = st.total.waits;
        t_last = now;
    }
    out->n = samples;
    atomic_store_explicit(&stop, true, memory_order_relaxed);
    for (unsigned t = 0; t < threads; t++)
        pthread_join(tid[t], NULL);
    gomap_shard_free(m);
}

/* Mean throughput of the last second. */
static double tail_mops(const series *s)
{
    unsigned k = 1000 / SAMPLE_MS, from = s->n > k ? s->n - k : 0;
    double sum = 0;
    for (unsigned i = from; i < s->n; i++)
        sum += s->mops[i];
    return sum / (s->n - from);
}

/* The end of the first interval at which auto-1 ran at 0.9 x the right
 * count's steady throughput or more; -1 if never. */
static int reached_ms(const series *autos, double target)
{
    for (unsigned i = 0; i < autos->n; i++)
        if (autos->mops[i] >= 0.9 * target)
            return (int)((i + 1) * SAMPLE_MS);
    return -1;
}

static void usage(void)
{
    fprintf(stderr, "usage: gomap-resize-choice [--threads N] [--seconds S] [--keys N] "
                    "[--mix read-90|exchange] [--reps N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    unsigned threads = 8, seconds = 3, reps = 1;
    uint64_t keys = 100000;
    mix mx = {90, 9, 1};
    const char *mix_name = "read-90";
    for (int i = 1; i < argc; i += 2) { /* option, value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        if (!strcmp(a, "--threads"))
            threads = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--seconds"))
            seconds = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--keys"))
            keys = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--reps"))
            reps = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--mix") && !strcmp(v, "read-90"))
            mx = (mix){90, 9, 1}, mix_name = v;
        else if (!strcmp(a, "--mix") && !strcmp(v, "exchange"))
            mx = (mix){10, 40, 40}, mix_name = v;
        else
            usage();
    }
    unsigned samples = seconds * (1000 / SAMPLE_MS);
    if (!threads || threads > MAX_THREADS || !samples || samples > MAX_SAMPLES || !keys ||
        !reps || reps > MAX_REPS)
        usage();

    static series s[VARIANTS];
    double tails[VARIANTS][MAX_REPS], reach[MAX_REPS];
    printf("# %s, %u threads, %" PRIu64 " keys (half present), %u s per map, samples every %d "
           "ms\n", mix_name, threads, keys, seconds, SAMPLE_MS);
    for (unsigned r = 0; r < reps; r++) {
        for (int v = 0; v < VARIANTS; v++)
            run(v, threads, samples, keys, mx, 0x5EED + r, &s[v]);
        printf("\n# rep %u: Mops/s per %d ms (shards, share of acquisitions that waited)\n", r + 1,
               SAMPLE_MS);
        printf("%6s", "ms");
        for (int v = 0; v < VARIANTS; v++)
            printf(" | %-28s", names[v]);
        printf("\n");
        for (unsigned i = 0; i < samples; i++) {
            printf("%6u", (i + 1) * SAMPLE_MS);
            for (int v = 0; v < VARIANTS; v++)
                printf(" | %7.2f (%5u, %5.1f %%)     ", s[v].mops[i], s[v].shards[i],
                       100 * s[v].waited[i]);
            printf("\n");
        }
        for (int v = 0; v < VARIANTS; v++)
            tails[v][r] = tail_mops(&s[v]);
        reach[r] = reached_ms(&s[2], tails[0][r]);
    }
    printf("\n# median over %u rep%s: Mops/s over the last second\n", reps, reps == 1 ? "" : "s");
    for (int v = 0; v < VARIANTS; v++)
        printf("%-11s %7.2f  (%.2f x fixed-auto)\n", names[v], bench_median(tails[v], reps),
               bench_median(tails[v], reps) / bench_median(tails[0], reps));
    printf("auto-1 first at >= 0.9 x fixed-auto's last second: %.0f ms (median; -1: never)\n",
           bench_median(reach, reps));
    return 0;
}
