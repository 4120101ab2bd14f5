/*
 * lock_choice.c — measures the locks the sharded map could use, on this
 * machine, for docs/shardmap.md: `gomap-lock-choice`.
 *
 * The same sharded map code runs with each lock kind of src/shard_lock.h
 * (rwlock, rwlock preferring writers, mutex, adaptive mutex, spinlock), all
 * with gets under the lock, and as the library builds it (adaptive mutex,
 * optimistic gets: "adaptive+optim"), over
 * the mixes that decide a lock: read-heavy 90/9/1 and 98/1/1 (get, set,
 * delete) and exchange 10/40/40/10 (get, set, delete, compute +1), keys
 * uniform or Zipf(0.99) over 1e4 keys, with the automatic shard count and
 * with one shard (every thread on one lock), at 1, 2 and 8 threads (8 on
 * 2 cores: oversubscribed, where a lock that spins while its holder is
 * descheduled collapses). Each thread's operations are drawn before timing;
 * the kinds run interleaved, each repetition starting from a different
 * kind; the figure is the median wall time per operation (all threads'
 * operations), and each variant's ratio to the rwlock.
 *
 * Usage: gomap-lock-choice [--reps N] [--ops N] [--threads 1,2,8]
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/compute_add_one.h"
#include "common/keystream.h"
#include "common/median.h"
#include "shard/shardmap_internal.h"

enum { MAX_THREADS = 8, MAX_REPS = 15, KEYS = 10000 };
#define SEED 0x6c6f636bull

enum { OP_GET, OP_SET, OP_DELETE, OP_UPDATE };

typedef struct {
    uint8_t kind;
    uint64_t key;
} op;

/* Percentages of get, set, delete and update (compute +1). */
typedef struct {
    unsigned get, set, del, update;
} op_mix;

typedef struct {
    const char *name;
    op_mix mix;
} mix_case;

/* Zipf(theta) over ranks 0..n-1 by inversion of its distribution function:
 * cdf[r] = P(rank <= r). */
static double *zipf_cdf(size_t n, double theta)
{
    double *cdf = malloc(n * sizeof *cdf), sum = 0;
    if (!cdf)
        return NULL;
    for (size_t r = 0; r < n; r++)
        cdf[r] = sum += 1.0 / pow((double)(r + 1), theta);
    for (size_t r = 0; r < n; r++)
        cdf[r] /= sum;
    return cdf;
}

static size_t zipf_rank(const double *cdf, size_t n, double u)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Thread t's `count` operations: kinds by the mix, keys uniform over the
 * KEYS set keys or Zipf-distributed over them (cdf not NULL), the hot ranks
 * scattered over the key space by ks_key. */
static op *make_ops(op_mix mix, const double *cdf, unsigned t, size_t count)
{
    op *ops = malloc(count * sizeof *ops);
    for (size_t i = 0; ops && i < count; i++) {
        uint64_t r = ks_mix(SEED + ((uint64_t)t << 40 | i) * KS_GOLDEN);
        unsigned p = (unsigned)(r % 100);
        double u = (double)(r >> 11) * 0x1.0p-53;
        size_t rank = cdf ? zipf_rank(cdf, KEYS, u) : (size_t)(u * KEYS);
        ops[i].kind = p < mix.get ? OP_GET : p < mix.get + mix.set ? OP_SET
                    : p < mix.get + mix.set + mix.del ? OP_DELETE : OP_UPDATE;
        ops[i].key = ks_key(SEED, STREAM_SET, rank);
    }
    return ops;
}

static const mix_case mixes[] = {
    {"90/9/1", {90, 9, 1, 0}},
    {"98/1/1", {98, 1, 1, 0}},
    {"10/40/40/10", {10, 40, 40, 10}},
};

typedef struct {
    gomap_shard_t *m;
    const op *ops;
    size_t n;
    uint64_t sum;
    pthread_barrier_t *start;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    uint64_t sum = 0, v;
    pthread_barrier_wait(w->start);
    for (size_t i = 0; i < w->n; i++) {
        uint64_t key = w->ops[i].key;
        switch (w->ops[i].kind) {
        case OP_GET:
            if (gomap_shard_get(w->m, &key, &v))
                sum += v + 1;
            break;
        case OP_SET:
            gomap_shard_set(w->m, &key, &key);
            break;
        case OP_DELETE:
            gomap_shard_delete(w->m, &key);
            break;
        default:
            gomap_shard_compute(w->m, &key, compute_add_one, NULL);
            break;
        }
    }
    w->sum = sum;
    return NULL;
}

/* The variants measured: each lock kind with gets under the lock, then the
 * library's own choice. */
static const struct {
    const char *name;
    int kind;
    bool optimistic;
} variants[] = {
    {"rwlock", SHARD_LOCK_RWLOCK, false},
    {"rwlock-writer", SHARD_LOCK_RWLOCK_WRITER, false},
    {"mutex", SHARD_LOCK_MUTEX, false},
    {"mutex-adaptive", SHARD_LOCK_MUTEX_ADAPTIVE, false},
    {"spin", SHARD_LOCK_SPIN, false},
    {"adaptive+optim", SHARD_LOCK_DEFAULT, true},
};
enum { VARIANTS = sizeof variants / sizeof variants[0] };

/* One timed run: ns per operation over all threads. */
static double run(int v, unsigned shards, unsigned threads, op *const *streams, size_t per)
{
    gomap_shard_options o = {.map = {.key_kind = GOMAP_KEY_U64, .val_size = 8, .hint = KEYS},
                             .shards = shards};
    gomap_shard_t *m;
    if (gomap__shard_new_locked(&m, &o, variants[v].kind, variants[v].optimistic) != 0) {
        fprintf(stderr, "gomap-lock-choice: out of memory\n");
        exit(1);
    }
    for (uint64_t i = 0; i < KEYS; i++) {
        uint64_t key = ks_key(SEED, STREAM_SET, i);
        gomap_shard_set(m, &key, &i);
    }
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, threads + 1);
    pthread_t tid[MAX_THREADS];
    worker w[MAX_THREADS];
    for (unsigned t = 0; t < threads; t++) {
        w[t] = (worker){m, streams[t], per, 0, &start};
        pthread_create(&tid[t], NULL, work, &w[t]);
    }
    double t0 = clock_ns();
    pthread_barrier_wait(&start);
    for (unsigned t = 0; t < threads; t++)
        pthread_join(tid[t], NULL);
    double ns = (clock_ns() - t0) / (double)(per * threads);
    pthread_barrier_destroy(&start);
    gomap_shard_free(m);
    return ns;
}

static unsigned parse_threads(const char *s, unsigned *out)
{
    unsigned n = 0;
    for (char *end; *s && n < 4; s = *end ? end + 1 : end) {
        unsigned long v = strtoul(s, &end, 10);
        if (v == 0 || v > MAX_THREADS || end == s)
            return 0;
        out[n++] = (unsigned)v;
    }
    return n;
}

int main(int argc, char **argv)
{
    unsigned reps = 5, threads[4] = {1, 2, 8}, nthreads = 3;
    size_t total_ops = 2000000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--reps"))
            reps = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--ops"))
            total_ops = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--threads"))
            nthreads = parse_threads(argv[i + 1], threads);
    }
    if (reps < 1 || reps > MAX_REPS || nthreads == 0 || total_ops < 1000) {
        fprintf(stderr, "usage: gomap-lock-choice [--reps 1..%d] [--ops N>=1000] "
                        "[--threads 1,2,8]\n", MAX_REPS);
        return 2;
    }
    double *cdf = zipf_cdf(KEYS, 0.99);
    if (!cdf) {
        fprintf(stderr, "gomap-lock-choice: out of memory\n");
        return 1;
    }
    printf("ns per operation (median of %u; all threads' operations), %zu ops per run, "
           "%d keys\n", reps, total_ops, KEYS);
    printf("%-12s %-7s %-6s %3s", "mix", "keys", "shards", "thr");
    for (int v = 0; v < VARIANTS; v++)
        printf(" %15s", variants[v].name);
    printf("\n");
    for (size_t mi = 0; mi < sizeof mixes / sizeof mixes[0]; mi++)
        for (int zipf = 0; zipf <= 1; zipf++)
            for (unsigned shards = 0; shards <= 1; shards++)
                for (unsigned ti = 0; ti < nthreads; ti++) {
                    unsigned nt = threads[ti];
                    size_t per = total_ops / nt;
                    op *streams[MAX_THREADS];
                    for (unsigned t = 0; t < nt; t++)
                        if (!(streams[t] = make_ops(mixes[mi].mix, zipf ? cdf : NULL, t, per))) {
                            fprintf(stderr, "gomap-lock-choice: out of memory\n");
                            return 1;
                        }
                    double ns[VARIANTS][MAX_REPS];
                    for (unsigned r = 0; r < reps; r++)
                        for (int j = 0; j < VARIANTS; j++) {
                            int v = (int)((r + (unsigned)j) % VARIANTS);
                            ns[v][r] = run(v, shards, nt, streams, per);
                        }
                    printf("%-12s %-7s %-6s %3u", mixes[mi].name, zipf ? "zipf" : "uniform",
                           shards ? "1" : "auto", nt);
                    double base = 0;
                    for (int v = 0; v < VARIANTS; v++) {
                        double med = bench_median(ns[v], reps);
                        if (v == 0)
                            base = med;
                        printf(" %7.1f (%4.2fx)", med, med / base);
                    }
                    printf("\n");
                    fflush(stdout);
                    for (unsigned t = 0; t < nt; t++)
                        free(streams[t]);
                }
    free(cdf);
    return 0;
}
