/*
 * deleg_latency.c — gomap-deleg-latency: the latency of one synchronous
 * operation of the delegation map (combining and one worker) beside the
 * sharded map's, which gomap-bench's strategies matrix does not report.
 *
 * Each map holds N keys (ks_key(seed, STREAM_SET, i), value i + 1) and is
 * run by THREADS threads started together, each doing OPS operations of
 * read-90 (90 % get, 9 % set, 1 % delete) on uniform keys of the map;
 * every SAMPLE_EVERY-th operation is timed alone with the time-stamp
 * counter (clock.h), so timing does not dominate. A repetition runs every
 * contender once, the first one changing each time (A B C, B C A, ...);
 * the report gives, per contender, the median over repetitions of the p50,
 * p99 and p99.9 of that repetition's samples, in nanoseconds.
 *
 * usage: gomap-deleg-latency [reps] [n]     (default 5, 1000000)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gomap/delegmap.h>
#include <gomap/shardmap.h>

#include "common/clock.h"
#include "common/keystream.h"

enum { THREADS = 2, OPS = 200000, SAMPLE_EVERY = 16, MAX_REPS = 64 };
enum { SHARD, DELEG_COMB, DELEG_1W, NIMPLS };
static const char *const names[NIMPLS] = {"shard", "deleg-comb", "deleg-1w"};

typedef struct {
    int impl;
    void *m;
    uint64_t n, seed;
    unsigned id;
    pthread_barrier_t *bar;
    uint64_t *ticks; /* OPS / SAMPLE_EVERY samples */
    uint64_t sum;
} run_arg;

static bool op_get(int impl, void *m, uint64_t k, uint64_t *v)
{
    return impl == SHARD ? gomap_shard_get(m, &k, v) : gomap_deleg_get(m, &k, v);
}

static void op_set(int impl, void *m, uint64_t k, uint64_t v)
{
    if (impl == SHARD)
        gomap_shard_set(m, &k, &v);
    else
        gomap_deleg_set(m, &k, &v);
}

static void op_del(int impl, void *m, uint64_t k)
{
    if (impl == SHARD)
        gomap_shard_delete(m, &k);
    else
        gomap_deleg_delete(m, &k);
}

static void *thread_main(void *arg)
{
    run_arg *a = arg;
    pthread_barrier_wait(a->bar);
    for (uint64_t j = 0; j < OPS; j++) {
        uint64_t r = ks_key(a->seed, 5, j * THREADS + a->id);
        uint64_t k = ks_key(a->seed, STREAM_SET, (uint64_t)(((unsigned __int128)r * a->n) >> 64));
        unsigned pick = (unsigned)(ks_key(a->seed, 4, j * THREADS + a->id) % 100);
        uint64_t v = 0, t0 = j % SAMPLE_EVERY == 0 ? clock_ticks() : 0;
        if (pick < 90) {
            if (op_get(a->impl, a->m, k, &v))
                a->sum += v;
        } else if (pick < 99) {
            op_set(a->impl, a->m, k, j);
        } else {
            op_del(a->impl, a->m, k);
        }
        if (j % SAMPLE_EVERY == 0)
            a->ticks[j / SAMPLE_EVERY] = clock_ticks() - t0;
    }
    return NULL;
}

static void *make(int impl, uint64_t n, uint64_t seed)
{
    gomap_options mo = {.key_kind = GOMAP_KEY_U64, .val_size = 8, .hint = n};
    void *m = NULL;
    if (impl == SHARD) {
        gomap_shard_options o = {.map = mo};
        gomap_shard_t *s;
        m = gomap_shard_new(&s, &o) == 0 ? s : NULL;
    } else {
        gomap_deleg_options o = {.map = mo, .workers = impl == DELEG_1W, .queue_depth = 32};
        gomap_deleg_t *d;
        m = gomap_deleg_new(&d, &o) == 0 ? d : NULL;
    }
    for (uint64_t i = 0; m && i < n; i++)
        op_set(impl, m, ks_key(seed, STREAM_SET, i), i + 1);
    return m;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One run of impl: fills q[0..3) with p50, p99, p99.9 in ns. */
static int run(int impl, uint64_t n, uint64_t seed, double *q)
{
    void *m = make(impl, n, seed);
    if (!m)
        return -1;
    enum { PER = OPS / SAMPLE_EVERY };
    static uint64_t ticks[THREADS * PER];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, THREADS);
    run_arg a[THREADS];
    pthread_t t[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        a[i] = (run_arg){impl, m, n, seed, i, &bar, ticks + (size_t)i * PER, 0};
        pthread_create(&t[i], NULL, thread_main, &a[i]);
    }
    for (unsigned i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&bar);
    if (impl == SHARD)
        gomap_shard_free(m);
    else
        gomap_deleg_free(m);
    qsort(ticks, THREADS * PER, sizeof ticks[0], cmp_u64);
    static const double at[] = {0.50, 0.99, 0.999};
    for (int i = 0; i < 3; i++)
        q[i] = (double)ticks[(size_t)(at[i] * (THREADS * PER - 1))] * clock_ns_per_tick();
    return 0;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 0) : 1000000;
    if (reps < 1 || reps > MAX_REPS || n < 1) {
        fprintf(stderr, "usage: gomap-deleg-latency [reps 1..%d] [n >= 1]\n", MAX_REPS);
        return 2;
    }
    static double q[NIMPLS][3][MAX_REPS];
    for (int r = 0; r < reps; r++) {
        for (int k = 0; k < NIMPLS; k++) {
            int impl = (r + k) % NIMPLS;
            double got[3];
            if (run(impl, n, 42, got)) {
                fprintf(stderr, "gomap-deleg-latency: %s: out of memory\n", names[impl]);
                return 1;
            }
            for (int i = 0; i < 3; i++)
                q[impl][i][r] = got[i];
        }
    }
    printf("# %d threads, read-90 uniform, n = %llu, every %dth op timed, median of %d reps\n",
           THREADS, (unsigned long long)n, SAMPLE_EVERY, reps);
    printf("%-12s %10s %10s %10s %12s\n", "impl", "p50 ns", "p99 ns", "p99.9 ns", "p50 x shard");
    double base = 0;
    for (int impl = 0; impl < NIMPLS; impl++) {
        double med[3];
        for (int i = 0; i < 3; i++) {
            qsort(q[impl][i], (size_t)reps, sizeof(double), cmp_double);
            med[i] = q[impl][i][reps / 2];
        }
        if (impl == SHARD)
            base = med[0];
        printf("%-12s %10.0f %10.0f %10.0f %12.2f\n", names[impl], med[0], med[1], med[2],
               base > 0 ? med[0] / base : 0.0);
    }
    return 0;
}
