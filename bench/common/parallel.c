/*
 * parallel.c — one timed run on T threads started together, the
 * interleaved repetitions of a case and each contender's row (parallel.h).
 */
#include "common/parallel.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"

/* ---- one run ------------------------------------------------------------------ */

typedef struct {
    const par_job *job;
    unsigned index;
    pthread_barrier_t *go;
    double t0, t1;
    par_tally tally;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(w->go);
    w->t0 = clock_ns();
    w->job->body(w->job->ctx, w->index, &w->tally);
    w->t1 = clock_ns();
    return NULL;
}

/* The retired and held bytes, sampled every millisecond while the threads
 * run (the sampler sleeps in between, so it takes next to no CPU). */
typedef struct {
    const par_job *job;
    atomic_bool stop;
    int64_t peak, held_peak;
} sampler;

static void sample(sampler *s)
{
    const par_job *job = s->job;
    int64_t r = job->retired ? job->retired(job->m) : -1;
    int64_t h = job->held ? job->held(job->held_ctx) : -1;
    s->peak = r > s->peak ? r : s->peak;
    s->held_peak = h > s->held_peak ? h : s->held_peak;
}

static void *sampler_main(void *arg)
{
    sampler *s = arg;
    const struct timespec ms = {0, 1000000};
    while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
        sample(s);
        nanosleep(&ms, NULL);
    }
    return NULL;
}

/* The threads' latency samples merged, as percentiles in ns into r->lat. */
static void latency_figures(const lathist *hist, unsigned threads, par_result *r)
{
    static const double q[3] = {0.50, 0.99, 0.999};
    lathist all = {{0}, 0, 0};
    double k = clock_ns_per_tick();
    for (unsigned i = 0; i < threads; i++)
        lathist_merge(&all, &hist[i]);
    for (unsigned i = 0; i < 3; i++)
        r->lat[i] = all.n ? k * lathist_quantile(&all, q[i]) : -1;
    r->lat[3] = all.n ? k * (double)all.max : -1;
}

int par_run(const par_job *job, par_result *r, uint64_t *errors)
{
    unsigned threads = job->threads;
    r->retired_peak = r->retired_end = r->held_peak = r->held_end = -1;
    r->grace_periods = -1;
    r->pause_ns = -1;
    for (unsigned i = 0; i < 4; i++)
        r->lat[i] = -1;
    if (threads < 1 || threads > PAR_MAX_THREADS)
        return -EINVAL;
    worker *w = calloc(threads, sizeof *w);
    pthread_t *tid = calloc(threads, sizeof *tid);
    lathist *hist = job->latency ? calloc(threads, sizeof *hist) : NULL;
    if (!w || !tid || (job->latency && !hist)) {
        free(w);
        free(tid);
        free(hist);
        return -ENOMEM;
    }
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, threads + 1);
    sampler smp = {.job = job, .peak = -1, .held_peak = -1};
    pthread_t smp_tid;
    atomic_init(&smp.stop, false);
    bool sampling = (job->retired || job->held) &&
                    pthread_create(&smp_tid, NULL, sampler_main, &smp) == 0;
    for (unsigned i = 0; i < threads; i++) {
        w[i] = (worker){.job = job, .index = i, .go = &go, .tally.lat = hist ? &hist[i] : NULL};
        if (pthread_create(&tid[i], NULL, worker_main, &w[i]) != 0) {
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
    for (unsigned i = 0; i < threads; i++) {
        first = w[i].t0 < first ? w[i].t0 : first;
        last = w[i].t1 > last ? w[i].t1 : last;
        r->checksum += w[i].tally.sum;
        *errors += w[i].tally.errors;
    }
    r->ns = last - first;
    sample(&smp);
    if (job->retired) {
        r->retired_end = job->retired(job->m);
        r->retired_peak = smp.peak;
    }
    if (job->held) {
        r->held_end = job->held(job->held_ctx);
        r->held_peak = smp.held_peak;
    }
    if (hist)
        latency_figures(hist, threads, r);
    free(hist);
    free(w);
    free(tid);
    return 0;
}

/* ---- a case ------------------------------------------------------------------- */

int par_interleave(unsigned nwho, unsigned reps, const char *const *names, const char *what,
                   int (*prepare)(void *ctx, unsigned rep),
                   int (*run)(void *ctx, unsigned who, unsigned rep, par_result *r), void *ctx,
                   par_result (*res)[PAR_MAX_REPS])
{
    for (unsigned rep = 0; rep < reps; rep++) {
        if (prepare && prepare(ctx, rep)) {
            fprintf(stderr, "gomap-bench: preparing the maps failed on %s\n", what);
            return -1;
        }
        for (unsigned k = 0; k < nwho; k++) {
            unsigned w = (rep + k) % nwho;
            memset(&res[w][rep], 0, sizeof res[w][rep]);
            if (run(ctx, w, rep, &res[w][rep])) {
                fprintf(stderr, "gomap-bench: %s failed on %s\n", names[w], what);
                return -1;
            }
        }
    }
    return 0;
}

static int64_t median_i64(const int64_t *x, unsigned n)
{
    double v[PAR_MAX_REPS];
    for (unsigned i = 0; i < n; i++)
        v[i] = (double)x[i];
    return (int64_t)bench_median(v, n);
}

/* The median over reps of figure f of each result (see figure()); -1 if any
 * run did not measure it. */
enum { FIG_LAT = 0, FIG_BPE = 4, FIG_PEAK_BPE, FIG_GP, FIG_PAUSE };

static double figure(const par_result *r, unsigned f)
{
    double per = r->len_end > 0 ? (double)r->len_end : 1;
    switch (f) {
    case FIG_BPE: return r->held_end < 0 ? -1 : (double)r->held_end / per;
    case FIG_PEAK_BPE: return r->held_peak < 0 ? -1 : (double)r->held_peak / per;
    case FIG_GP: return (double)r->grace_periods;
    case FIG_PAUSE: return r->pause_ns;
    default: return r->lat[f - FIG_LAT];
    }
}

static double median_figure(const par_result *res, unsigned reps, unsigned f)
{
    double v[PAR_MAX_REPS];
    for (unsigned rep = 0; rep < reps; rep++)
        if ((v[rep] = figure(&res[rep], f)) < 0)
            return -1;
    return bench_median(v, reps);
}

void par_row_fill(par_row *row, const par_result *res, unsigned reps, const par_row *base,
                  const uint64_t *want, bool *ok)
{
    double v[PAR_MAX_REPS];
    int64_t peak[PAR_MAX_REPS], end[PAR_MAX_REPS];
    row->reps = reps;
    row->ops = res[0].ops;
    row->checksum = res[0].checksum;
    row->checked = want != NULL;
    row->checksum_ok = true;
    row->ns_min = 1e300;
    row->ns_max = 0;
    for (unsigned rep = 0; rep < reps; rep++) {
        v[rep] = res[rep].ns / (double)(res[rep].ops ? res[rep].ops : 1);
        row->ns_min = v[rep] < row->ns_min ? v[rep] : row->ns_min;
        row->ns_max = v[rep] > row->ns_max ? v[rep] : row->ns_max;
        peak[rep] = res[rep].retired_peak;
        end[rep] = res[rep].retired_end;
        if (want && res[rep].checksum != *want)
            row->checksum_ok = false;
    }
    row->ns_med = bench_median(v, reps);
    row->retired_peak = median_i64(peak, reps);
    row->retired_end = median_i64(end, reps);
    row->ratio = base && base->ns_med > 0 ? row->ns_med / base->ns_med : 0;
    row->lat_p50 = median_figure(res, reps, FIG_LAT);
    row->lat_p99 = median_figure(res, reps, FIG_LAT + 1);
    row->lat_p999 = median_figure(res, reps, FIG_LAT + 2);
    row->lat_max = median_figure(res, reps, FIG_LAT + 3);
    row->bytes_per_entry = median_figure(res, reps, FIG_BPE);
    row->peak_bytes_per_entry = median_figure(res, reps, FIG_PEAK_BPE);
    double gp = median_figure(res, reps, FIG_GP);
    row->grace_periods = gp < 0 ? -1 : (int64_t)(gp + 0.5);
    row->pause_ns = median_figure(res, reps, FIG_PAUSE);
    if (!row->checksum_ok) {
        fprintf(stderr, "gomap-bench: CHECKSUM MISMATCH: %s on %s%s%s, %u threads\n", row->impl,
                row->workload, row->dist ? " " : "", row->dist ? row->dist : "", row->threads);
        *ok = false;
    }
}

unsigned par_base_threads(const unsigned *threads, unsigned n)
{
    unsigned base = threads[0];
    for (unsigned i = 0; i < n; i++) {
        if (threads[i] == 2)
            return 2;
        base = threads[i] < base ? threads[i] : base;
    }
    return base;
}

void par_scaling(par_row *rows, size_t first, size_t end, unsigned base)
{
    for (size_t i = first; i < end; i++) {
        rows[i].base_threads = base;
        for (size_t j = first; j < end; j++)
            if (rows[j].threads == base && strcmp(rows[j].impl, rows[i].impl) == 0 &&
                rows[i].ns_med > 0)
                rows[i].scaling = rows[j].ns_med / rows[i].ns_med;
    }
}
