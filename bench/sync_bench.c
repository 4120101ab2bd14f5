/*
 * sync_bench.c — the concurrent suite: the workload table, one timed run on
 * T threads, and the interleaved repetitions of every case with their
 * medians, ratios, scaling and checksums. The loops themselves are in
 * sync_workloads.h; the contenders in sync_impls.c and the Go peer.
 */
#include "sync_bench.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "peer_go.h"

/* ---- the workloads ---------------------------------------------------------- */

static const struct {
    const char *name;
    uint64_t ops;   /* per run at scale 1: tens of ms on the 2-core machine */
    bool checked;
} workloads[SWL_COUNT] = {
    [SWL_LOAD_MOSTLY_HITS] = {"load-mostly-hits", 2000000, true},
    [SWL_LOAD_MOSTLY_MISSES] = {"load-mostly-misses", 2000000, true},
    [SWL_LOAD_OR_STORE_BALANCED] = {"load-or-store-balanced", 200000, true},
    [SWL_LOAD_OR_STORE_UNIQUE] = {"load-or-store-unique", 100000, true},
    [SWL_LOAD_OR_STORE_COLLISION] = {"load-or-store-collision", 2000000, true},
    [SWL_LOAD_AND_DELETE_BALANCED] = {"load-and-delete-balanced", 2000000, true},
    [SWL_LOAD_AND_DELETE_UNIQUE] = {"load-and-delete-unique", 2000000, true},
    [SWL_LOAD_AND_DELETE_COLLISION] = {"load-and-delete-collision", 2000000, true},
    [SWL_RANGE] = {"range", 2000, true},
    [SWL_ADVERSARIAL_ALLOC] = {"adversarial-alloc", 500000, true},
    /* Which key each Range deletes depends on iteration order, so the
     * loads' hits do too. */
    [SWL_ADVERSARIAL_DELETE] = {"adversarial-delete", 500000, false},
};

const char *sync_workload_name(sync_workload wl) { return workloads[wl].name; }
uint64_t sync_workload_ops(sync_workload wl) { return workloads[wl].ops; }
bool sync_workload_checked(sync_workload wl) { return workloads[wl].checked; }

/* Compares ignoring case and dashes: "LoadMostlyHits" = "load-mostly-hits". */
static bool same_name(const char *a, const char *b)
{
    for (;; a++, b++) {
        while (*a == '-')
            a++;
        while (*b == '-')
            b++;
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return false;
        if (!*a)
            return true;
    }
}

int sync_workload_parse(const char *name)
{
    for (int w = 0; w < SWL_COUNT; w++)
        if (same_name(name, workloads[w].name))
            return w;
    return -1;
}

/* ---- one run ------------------------------------------------------------------ */

typedef struct {
    const sync_impl *impl;
    void *m;
    sync_workload wl;
    uint64_t start, count;
    pthread_barrier_t *go;
    double t0, t1;
    sync_tally tally;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(w->go);
    w->t0 = clock_ns();
    w->impl->body(w->m, w->wl, w->start, w->count, &w->tally);
    w->t1 = clock_ns();
    return NULL;
}

/* gomap-sync's retired bytes, sampled every millisecond while the threads
 * run (the sampler sleeps in between, so it takes next to no CPU). */
typedef struct {
    const sync_impl *impl;
    void *m;
    atomic_bool stop;
    int64_t peak;
} sampler;

static void *sampler_main(void *arg)
{
    sampler *s = arg;
    const struct timespec ms = {0, 1000000};
    while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
        int64_t r = s->impl->retired(s->m);
        s->peak = r > s->peak ? r : s->peak;
        nanosleep(&ms, NULL);
    }
    return NULL;
}

int sync_run_inprocess(const sync_impl *impl, sync_workload wl, unsigned threads, uint64_t ops,
                       sync_result *r)
{
    memset(r, 0, sizeof *r);
    r->retired_peak = r->retired_end = -1;
    if (threads < 1 || threads > SYNC_MAX_THREADS)
        return -EINVAL;
    worker *w = calloc(threads, sizeof *w);
    pthread_t *tid = calloc(threads, sizeof *tid);
    void *m = w && tid ? impl->create() : NULL;
    if (!m) {
        free(w);
        free(tid);
        return -ENOMEM;
    }
    sync_tally setup = {0, 0};
    impl->setup(m, wl, &setup);

    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, threads + 1);
    sampler smp = {.impl = impl, .m = m, .peak = -1};
    pthread_t smp_tid;
    atomic_init(&smp.stop, false);
    bool sampling = impl->retired && pthread_create(&smp_tid, NULL, sampler_main, &smp) == 0;
    uint64_t per = ops / threads;
    for (unsigned i = 0; i < threads; i++) {
        w[i] = (worker){.impl = impl, .m = m, .wl = wl, .start = i * ops, .count = per,
                        .go = &go};
        if (pthread_create(&tid[i], NULL, worker_main, &w[i]) != 0) {
            /* The threads already started wait at the barrier for good. */
            fprintf(stderr, "gomap-bench: cannot start thread %u of %u\n", i + 1, threads);
            exit(1);
        }
    }
    pthread_barrier_wait(&go);
    for (unsigned i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    if (sampling) {
        atomic_store_explicit(&smp.stop, true, memory_order_release);
        pthread_join(smp_tid, NULL);
    }
    pthread_barrier_destroy(&go);

    double first = w[0].t0, last = w[0].t1;
    uint64_t sum = 0, errors = setup.errors;
    for (unsigned i = 0; i < threads; i++) {
        first = w[i].t0 < first ? w[i].t0 : first;
        last = w[i].t1 > last ? w[i].t1 : last;
        sum += w[i].tally.sum;
        errors += w[i].tally.errors;
    }
    r->ns = last - first;
    r->ops = per * threads;
    r->checksum = sum + impl->len(m);
    if (impl->retired) {
        r->retired_end = impl->retired(m);
        r->retired_peak = smp.peak > r->retired_end ? smp.peak : r->retired_end;
    }
    impl->destroy(m);
    free(w);
    free(tid);
    if (errors) {
        fprintf(stderr, "gomap-bench: %s: %llu operations of %s ran out of memory\n", impl->name,
                (unsigned long long)errors, workloads[wl].name);
        return -ENOMEM;
    }
    return 0;
}

/* ---- the suite ------------------------------------------------------------------- */

enum { MAX_REPS = 1000 };

static int run_one(const sync_suite *s, const sync_contender *who, sync_workload wl,
                   unsigned threads, uint64_t ops, sync_result *r)
{
    if (who->impl)
        return sync_run_inprocess(who->impl, wl, threads, ops, r);
    memset(r, 0, sizeof *r);
    r->retired_peak = r->retired_end = -1;
    return go_peer_sync(s->go, workloads[wl].name, threads, ops, &r->ns, &r->ops, &r->checksum);
}

static int64_t median_i64(const int64_t *x, unsigned n)
{
    double v[MAX_REPS];
    for (unsigned i = 0; i < n; i++)
        v[i] = (double)x[i];
    return (int64_t)bench_median(v, n);
}

/* Runs one case (workload, threads) for every contender, interleaved, and
 * fills s->nwho rows. Returns -1 if a run failed. */
static int run_case(const sync_suite *s, sync_workload wl, unsigned threads, sync_row *rows,
                    bool *ok)
{
    static sync_result res[SYNC_MAX_CONTENDERS][MAX_REPS];
    uint64_t ops = (uint64_t)(s->scale * (double)workloads[wl].ops + 0.5);
    ops = ops < threads ? threads : ops;
    for (unsigned rep = 0; rep < s->reps; rep++)
        for (unsigned k = 0; k < s->nwho; k++) {
            unsigned w = (rep + k) % s->nwho;
            if (run_one(s, &s->who[w], wl, threads, ops, &res[w][rep])) {
                fprintf(stderr, "gomap-bench: %s failed on %s, %u threads\n", s->who[w].name,
                        workloads[wl].name, threads);
                *ok = false;
                return -1;
            }
        }
    for (unsigned w = 0; w < s->nwho; w++) {
        sync_row *r = &rows[w];
        double v[MAX_REPS];
        int64_t peak[MAX_REPS], end[MAX_REPS];
        *r = (sync_row){.workload = workloads[wl].name, .threads = threads,
                        .impl = s->who[w].name, .reps = s->reps, .ops = res[w][0].ops,
                        .ns_min = 1e300, .checksum = res[w][0].checksum,
                        .checked = workloads[wl].checked, .checksum_ok = true};
        for (unsigned rep = 0; rep < s->reps; rep++) {
            const sync_result *x = &res[w][rep];
            v[rep] = x->ns / (double)(x->ops ? x->ops : 1);
            r->ns_min = v[rep] < r->ns_min ? v[rep] : r->ns_min;
            r->ns_max = v[rep] > r->ns_max ? v[rep] : r->ns_max;
            peak[rep] = x->retired_peak;
            end[rep] = x->retired_end;
            if (r->checked && x->checksum != res[0][0].checksum)
                r->checksum_ok = false;
        }
        r->ns_med = bench_median(v, s->reps);
        r->retired_peak = median_i64(peak, s->reps);
        r->retired_end = median_i64(end, s->reps);
        r->ratio = w > 0 && rows[0].ns_med > 0 ? r->ns_med / rows[0].ns_med : 0;
        if (!r->checksum_ok) {
            fprintf(stderr, "gomap-bench: CHECKSUM MISMATCH: %s on %s, %u threads\n", r->impl,
                    r->workload, threads);
            *ok = false;
        }
    }
    return 0;
}

/* The thread count each contender's scaling is measured against: 2 if it
 * was run (the machine's cores), else the fewest. */
static unsigned base_threads(const sync_suite *s)
{
    unsigned base = s->threads[0];
    for (unsigned i = 0; i < s->nthreads; i++) {
        if (s->threads[i] == 2)
            return 2;
        base = s->threads[i] < base ? s->threads[i] : base;
    }
    return base;
}

size_t sync_suite_run(const sync_suite *s, sync_row *rows, bool *ok)
{
    size_t nrows = 0, done = 0, ncases = 0;
    for (unsigned wl = 0; wl < SWL_COUNT; wl++)
        ncases += (s->workloads >> wl & 1) * s->nthreads;
    unsigned base = base_threads(s);
    for (unsigned wl = 0; wl < SWL_COUNT; wl++) {
        if (!(s->workloads >> wl & 1))
            continue;
        size_t first = nrows;
        for (unsigned t = 0; t < s->nthreads; t++) {
            if (!s->quiet)
                fprintf(stderr, "gomap-bench: sync %-26s threads=%-3u (%zu/%zu)\n",
                        workloads[wl].name, s->threads[t], ++done, ncases);
            if (run_case(s, (sync_workload)wl, s->threads[t], rows + nrows, ok) == 0)
                nrows += s->nwho;
        }
        /* Each row's throughput against its own contender's at `base`. */
        for (size_t i = first; i < nrows; i++) {
            rows[i].base_threads = base;
            for (size_t j = first; j < nrows; j++)
                if (rows[j].threads == base && strcmp(rows[j].impl, rows[i].impl) == 0 &&
                    rows[i].ns_med > 0)
                    rows[i].scaling = rows[j].ns_med / rows[i].ns_med;
        }
    }
    return nrows;
}
