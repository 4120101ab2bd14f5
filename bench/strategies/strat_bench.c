/*
 * strat_bench.c — the strategies matrix: the workload table, a case's
 * stream and its file for the Go peer, the cap on contenders whose writes
 * copy the map, the single-thread reference checksum, and the interleaved
 * repetitions of every case (timed by parallel.c, which the sync suite
 * shares). The loop is in strat_workloads.h; the contenders in
 * strat_impls.c, peers/peer_tbb.cc and the Go peer (stratbench.go).
 */
#include "strategies/strat_bench.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/peer_go.h"
#include "common/progress.h"
#include "strategies/reclaim_probe.h"
#include "strategies/strat_maps.h"

/* ---- the workloads ---------------------------------------------------------- */

static const op_mix mixes[STWL_COUNT] = {
    /* name, get, set, delete, update, grow */
    [STWL_READ_90] = {"read-90", 90, 9, 1, 0, false, 0},
    [STWL_READ_98] = {"read-98", 98, 1, 1, 0, false, 0},
    [STWL_EXCHANGE] = {"exchange", 10, 40, 40, 10, false, 0},
    [STWL_RAPID_GROW] = {"rapid-grow", 5, 80, 5, 10, true, 0},
};

static const char *const dist_names[DIST_COUNT] = {"uniform", "zipf"};

enum {
    /* Operations of a run at scale 1, all threads together: a contender
     * runs 10-200 ms on the 2-core machine (rapid-grow: n operations). */
    STRAT_OPS = 300000,
};

/* Entries a capped contender may copy in one run at scale 1: 0.1-0.25 s
 * of copying on the 2-core machine, one copy at 1e6 keys (docs/bench.md). */
#define STRAT_COPY_BUDGET 1e6

int strat_workload_parse(const char *name)
{
    for (int w = 0; w < STWL_COUNT; w++)
        if (strcmp(name, mixes[w].name) == 0)
            return w;
    return -1;
}

int strat_dist_parse(const char *name)
{
    for (int d = 0; d < DIST_COUNT; d++)
        if (strcmp(name, dist_names[d]) == 0)
            return d;
    return -1;
}

/* ---- one run ------------------------------------------------------------------ */

typedef struct {
    const strat_impl *impl;
    void *m;
    const op_stream *st;
    uint64_t slice, per;
} strat_share;

/* Thread t runs operations t*slice .. t*slice + per - 1. */
static void share_body(void *ctx, unsigned t, par_tally *tally)
{
    const strat_share *sh = ctx;
    reclaim_probe_writer();
    sh->impl->body(sh->m, sh->st, t * sh->slice, sh->per, tally);
}

/* The run's bytes: the counting allocator's figures (par_run sampled them)
 * for most; for a mem_malloc contender the mallinfo2 bytes of its fill
 * plus those its run added (malloc_run), the peak raised by as much as
 * that total exceeds the counted bytes at the end. */
static void run_bytes(const strat_map *sm, int64_t malloc_run, par_result *r)
{
    if (!sm->counted) {
        r->held_end = r->held_peak = -1;
        return;
    }
    if (!sm->impl->mem_malloc)
        return;
    if (sm->malloc_fill < 0 || malloc_run == INT64_MIN) {
        r->held_end = r->held_peak = -1;
        return;
    }
    int64_t total = sm->malloc_fill + malloc_run;
    r->held_peak += total - r->held_end;
    r->held_end = total;
}

/* One timed run of the first `per` operations of each thread's slice on
 * sm's map, with its latency, bytes and reclamation figures in *r. */
static int run_map(strat_map *sm, const op_stream *st, unsigned threads, uint64_t per,
                   par_result *r, uint64_t *errors)
{
    const strat_impl *impl = sm->impl;
    strat_share sh = {impl, sm->m, st, st->nops / threads, per};
    par_job job = {.threads = threads, .body = share_body, .ctx = &sh,
                   .retired = impl->retired, .m = sm->m, .latency = sm->counted,
                   .held = sm->counted ? memcount_gauge : NULL, .held_ctx = &sm->mem};
    int64_t m0 = INT64_MIN;
    if (sm->counted && (impl->rcu || impl->mem_malloc))
        maps_quiesce(); /* no other run's deferred frees (and their grace
                           periods) during this one */
    if (sm->counted && impl->mem_malloc)
        m0 = maps_malloc_bytes();
    reclaim_probe_start();
    int rc = par_run(&job, r, errors);
    maps_note_retired(r->retired_end);
    if (impl->rcu && sm->counted)
        reclaim_probe_read(&r->grace_periods, &r->pause_ns);
    int64_t m1 = m0 != INT64_MIN && m0 >= 0 ? maps_malloc_bytes() : INT64_MIN;
    run_bytes(sm, m1 == INT64_MIN ? INT64_MIN : m1 - m0, r);
    r->len_end = (int64_t)impl->len(sm->m);
    return rc;
}

/* `rounds` runs of the first `per` operations of each thread's slice, each
 * on a fresh, prefilled map: *ready if not NULL (taken), else one filled
 * here (counted if `count`). ns and checksum add up over the rounds; the
 * other figures are the last round's; the maps are queued to be freed
 * (strat_maps.h). */
static int run_inprocess(const strat_impl *impl, const op_stream *st, unsigned threads,
                         uint64_t per, unsigned rounds, strat_map **ready, bool count,
                         par_result *r)
{
    uint64_t errors = 0;
    r->retired_peak = r->retired_end = -1;
    for (unsigned i = 0; i < rounds; i++) {
        strat_map *sm = *ready ? *ready : maps_prefilled(impl, st, count);
        *ready = NULL;
        if (!sm)
            return -ENOMEM;
        par_result one = {0};
        int rc = run_map(sm, st, threads, per, &one, &errors);
        double ns = r->ns + one.ns;
        uint64_t checksum = r->checksum + one.checksum + (uint64_t)one.len_end;
        int64_t peak = one.retired_peak > r->retired_peak ? one.retired_peak : r->retired_peak;
        *r = one;
        r->ns = ns;
        r->checksum = checksum;
        r->retired_peak = peak;
        maps_release(sm);
        if (rc)
            return rc;
    }
    r->ops = per * threads * rounds;
    if (errors) {
        fprintf(stderr, "gomap-bench: %s: %llu operations ran out of memory\n", impl->name,
                (unsigned long long)errors);
        return -ENOMEM;
    }
    return 0;
}

/* ---- a case ------------------------------------------------------------------- */

typedef struct {
    const strat_suite *s;
    const op_mix *mix;
    op_dist dist;
    size_t n;
    op_stream st;
    char path[256];     /* the stream's file for the Go peer; "" if none */
    unsigned rounds;    /* runs of the stream per timed run (rapid-grow at small n) */
    double budget;      /* entries a capped contender may copy in a run */
    bool capping;       /* the writes_copy contenders are capped in this case */
    uint64_t cap;       /* the prefix they run on one thread */
    unsigned threads;   /* of the runs under way */
    uint64_t cap_per;   /* the operations of each thread's slice they run then */
    uint64_t ref_whole; /* the reference's checksum of one round of the stream */
    uint64_t ref_cap;   /* ... of its first `cap` operations */
    strat_map *ready[PAR_MAX_CONTENDERS]; /* the repetition's prefilled maps */
} strat_case;

/* The peer process that runs contender w (impl NULL). */
static struct go_peer *peer_of(const strat_suite *s, const strat_contender *w)
{
    return w->peer ? w->peer : s->par.go;
}

/* Whether the suite measures latency, bytes and reclamation: the
 * strategies matrix does; the cache suite, which runs on its machinery,
 * does not. */
static bool measuring(const strat_suite *s)
{
    return !s->mixes && !s->capacity;
}

/* The Go peer's figures beyond time and checksum, from its reply (its
 * README): " lat=P50/P99/P999/MAX bytes=END/PEAK len=N gcs=N pause=NS";
 * -1 for any that is missing. */
static void go_figures(const char *reply, par_result *r)
{
    const char *f;
    r->retired_peak = r->retired_end = r->held_end = r->held_peak = r->grace_periods = -1;
    r->lat[0] = r->lat[1] = r->lat[2] = r->lat[3] = r->pause_ns = -1;
    r->len_end = 0;
    if ((f = strstr(reply, " lat=")) != NULL)
        sscanf(f, " lat=%lf/%lf/%lf/%lf", &r->lat[0], &r->lat[1], &r->lat[2], &r->lat[3]);
    if ((f = strstr(reply, " bytes=")) != NULL)
        sscanf(f, " bytes=%" SCNd64 "/%" SCNd64, &r->held_end, &r->held_peak);
    if ((f = strstr(reply, " len=")) != NULL)
        sscanf(f, " len=%" SCNd64, &r->len_end);
    if ((f = strstr(reply, " gcs=")) != NULL)
        sscanf(f, " gcs=%" SCNd64, &r->grace_periods);
    if ((f = strstr(reply, " pause=")) != NULL)
        sscanf(f, " pause=%lf", &r->pause_ns);
}

/* How a contender's bytes are counted (par_row.mem_method). */
static const char *mem_method(const strat_contender *w)
{
    return !w->impl ? "go-heap" : w->impl->mem_malloc ? "mallinfo2" : "allocator";
}

static bool is_capped(const strat_case *c, const strat_contender *w)
{
    return c->capping && w->impl && w->impl->writes_copy;
}

/* What contender w runs: per operations of each thread's slice, rounds times. */
static uint64_t per_of(const strat_case *c, const strat_contender *w, unsigned *rounds)
{
    *rounds = is_capped(c, w) ? 1 : c->rounds;
    return is_capped(c, w) ? c->cap_per : c->st.nops / c->threads;
}

/* Before each repetition of a prefilled case: the Go peer fills its maps
 * while the in-process contenders' maps are filled here and the previous
 * repetition's are freed on a helper thread (strat_maps.h); all of it is
 * done when this returns. 0, or -1 if memory or the peer failed. */
static int prepare_rep(void *ctx, unsigned rep)
{
    strat_case *c = ctx;
    const strat_suite *s = c->s;
    int rc = 0;
    (void)rep;
    maps_free_start();
    if (c->st.prefill) {
        for (unsigned w = 0; w < s->nwho; w++)
            if (!s->who[w].impl)
                go_peer_send(peer_of(s, &s->who[w]), "prep %s %s", s->who[w].name, c->path);
        for (unsigned w = 0; w < s->nwho; w++) {
            const strat_impl *impl = s->who[w].impl;
            if (impl && !c->ready[w])
                c->ready[w] = maps_prefilled(impl, &c->st, measuring(s));
            rc = impl && !c->ready[w] ? -1 : rc;
        }
        for (unsigned w = 0; w < s->nwho; w++)
            rc = !s->who[w].impl && go_peer_await(peer_of(s, &s->who[w])) ? -1 : rc;
    }
    maps_free_wait();
    return rc;
}

static int run_one(void *ctx, unsigned who, unsigned rep, par_result *r)
{
    strat_case *c = ctx;
    const strat_contender *w = &c->s->who[who];
    unsigned rounds;
    uint64_t per = per_of(c, w, &rounds);
    (void)rep;
    if (w->impl)
        return run_inprocess(w->impl, &c->st, c->threads, per, rounds, &c->ready[who],
                             measuring(c->s), r);
    struct go_peer *peer = peer_of(c->s, w);
    if (go_peer_parallel(peer, &r->ns, &r->ops, &r->checksum, "strat %s %s %u %" PRIu64 " %u",
                         w->name, c->path, c->threads, per, rounds))
        return -1;
    go_figures(go_peer_reply(peer), r);
    return 0;
}

/* The reference checksums (strat_reference, one thread, untimed) of the
 * whole stream and of its first c->cap operations, in one pass. 0 or
 * -ENOMEM. */
static int reference_sums(strat_case *c)
{
    par_tally t = {0, 0, NULL};
    strat_map *sm = maps_prefilled(&strat_reference, &c->st, false);
    if (!sm)
        return -ENOMEM;
    strat_reference.body(sm->m, &c->st, 0, c->cap, &t);
    c->ref_cap = t.sum + strat_reference.len(sm->m);
    strat_reference.body(sm->m, &c->st, c->cap, c->st.nops - c->cap, &t);
    c->ref_whole = t.sum + strat_reference.len(sm->m);
    maps_release(sm);
    return t.errors ? -ENOMEM : 0;
}

/* Runs the case at c->threads for every contender, interleaved, and fills
 * s->nwho rows. Returns -1 if a run failed. */
static int run_threads(strat_case *c, par_row *rows, bool *ok)
{
    static par_result res[PAR_MAX_CONTENDERS][PAR_MAX_REPS];
    const strat_suite *s = c->s;
    const char *names[PAR_MAX_CONTENDERS];
    char what[128], sz[32];
    for (unsigned w = 0; w < s->nwho; w++)
        names[w] = s->who[w].name;
    if (c->capping)
        c->cap_per = opstream_copy_prefix(&c->st, c->mix->grow, c->threads, c->budget);
    snprintf(sz, sizeof sz, "%zu", c->n);
    snprintf(what, sizeof what, "%s %s n=%s, %u threads", c->mix->name, dist_names[c->dist], sz,
             c->threads);
    if (par_interleave(s->nwho, s->par.reps, names, what, prepare_rep, run_one, c, res)) {
        *ok = false;
        return -1;
    }
    for (unsigned w = 0; w < s->nwho; w++) {
        unsigned rounds;
        bool capped = is_capped(c, &s->who[w]);
        per_of(c, &s->who[w], &rounds);
        uint64_t want = (capped ? c->ref_cap : c->ref_whole) * rounds;
        rows[w] = (par_row){.workload = c->mix->name, .dist = dist_names[c->dist], .n = c->n,
                            .threads = c->threads, .impl = s->who[w].name,
                            .capped = capped, .dropped = -1, .refused = -1};
        par_row_fill(&rows[w], res[w], s->par.reps, w ? &rows[0] : NULL,
                     c->threads == 1 && !s->capacity ? &want : NULL, ok);
        rows[w].mem_method = rows[w].bytes_per_entry >= 0 ? mem_method(&s->who[w]) : NULL;
    }
    return 0;
}

static bool any_go(const strat_suite *s)
{
    for (unsigned w = 0; w < s->nwho; w++)
        if (!s->who[w].impl)
            return true;
    return false;
}

static bool any_capped_kind(const strat_suite *s)
{
    for (unsigned w = 0; w < s->nwho; w++)
        if (s->who[w].impl && s->who[w].impl->writes_copy)
            return true;
    return false;
}

static void case_release(strat_case *c);

/* Builds the case's stream (and its file when the Go peer runs), its
 * rounds and cap, and the reference checksums. Returns 0, or -1 with a
 * message (and nothing left to release). */
static int case_prepare(strat_case *c)
{
    const strat_suite *s = c->s;
    double ops = s->par.scale * STRAT_OPS, budget = s->par.scale * STRAT_COPY_BUDGET;
    uint64_t nops = c->mix->grow ? c->n : (uint64_t)(ops + 0.5);
    unsigned tmax = 1;
    bool one = false; /* a one-thread run, checked against the reference */
    for (unsigned t = 0; t < s->par.nthreads; t++) {
        tmax = s->par.threads[t] > tmax ? s->par.threads[t] : tmax;
        one = one || s->par.threads[t] == 1;
    }
    nops = nops < tmax ? tmax : nops;
    double rounds = ops / (double)nops;
    c->rounds = c->mix->grow && rounds >= 1.5 ? (unsigned)(rounds + 0.5) : 1;
    if (opstream_make(&c->st, c->mix, c->dist, c->n, nops, s->seed)) {
        fprintf(stderr, "gomap-bench: out of memory building the %s stream\n", c->mix->name);
        return -1;
    }
    if (s->capacity && !c->mix->grow) {
        c->st.prefill = s->capacity < c->n ? s->capacity : c->n;
        one = false; /* what a cache keeps is its own: no reference checksum */
    }
    int rc = any_go(s) ? opstream_write_temp(&c->st, c->path, sizeof c->path) : 0;
    if (rc)
        fprintf(stderr, "gomap-bench: cannot write the operation stream: %s\n", strerror(-rc));
    c->budget = budget;
    c->capping = any_capped_kind(s) &&
                 opstream_copy_prefix(&c->st, c->mix->grow, 1, budget / c->rounds) < c->st.nops;
    c->cap = c->capping ? opstream_copy_prefix(&c->st, c->mix->grow, 1, budget) : c->st.nops;
    if (rc == 0 && one && (rc = reference_sums(c)) != 0)
        fprintf(stderr, "gomap-bench: out of memory in the reference run of %s\n", c->mix->name);
    if (rc)
        case_release(c);
    return rc ? -1 : 0;
}

/* Frees what the case holds: maps, the stream and its file. */
static void case_release(strat_case *c)
{
    for (unsigned w = 0; w < c->s->nwho; w++)
        if (c->ready[w])
            maps_release(c->ready[w]);
    maps_free_start();
    maps_free_wait();
    if (*c->path)
        unlink(c->path);
    opstream_free(&c->st);
}

/* The suite's workloads: its own table, or the strategies'. */
static const op_mix *suite_mixes(const strat_suite *s, unsigned *n)
{
    *n = s->mixes ? s->nmixes : STWL_COUNT;
    return s->mixes ? s->mixes : mixes;
}

size_t strat_suite_rows(const strat_suite *s)
{
    unsigned nmixes;
    suite_mixes(s, &nmixes);
    return (size_t)nmixes * DIST_COUNT * s->nsizes * s->par.nthreads * s->nwho;
}

/* The cache suite's dropped-writes pass (opstream.h, OP_SET_GET) on
 * `threads` threads: every contender runs once, untimed, on a copy of the
 * case's stream whose operations all set a key and get it back, in a full
 * cache; the counts go to row[0..nwho). 0 or -1 (message given). */
static int drop_pass(strat_case *c, par_row *row, unsigned threads)
{
    const strat_suite *s = c->s;
    op_stream sg;
    char path[256] = "";
    if (opstream_set_get_copy(&sg, &c->st, threads) ||
        (any_go(s) && opstream_write_temp(&sg, path, sizeof path))) {
        fprintf(stderr, "gomap-bench: cannot build the dropped-writes pass of %s\n",
                c->mix->name);
        opstream_free(&sg);
        return -1;
    }
    int rc = 0;
    for (unsigned w = 0; w < s->nwho && rc == 0; w++) {
        par_result r = {0};
        strat_map *ready = NULL;
        uint64_t per = sg.nops / threads;
        per = per < OPS_SET_GET_MAX / threads ? per : OPS_SET_GET_MAX / threads - 1;
        rc = s->who[w].impl ? run_inprocess(s->who[w].impl, &sg, threads, per, 1, &ready, false,
                                            &r)
                            : go_peer_parallel(peer_of(s, &s->who[w]), &r.ns, &r.ops, &r.checksum,
                                               "strat %s %s %u %" PRIu64 " 1", s->who[w].name,
                                               path, threads, per);
        uint64_t refused = r.checksum / OPS_REFUSED;
        uint64_t readable = r.checksum % OPS_REFUSED / OPS_READABLE;
        row[w].refused = (int64_t)refused;
        row[w].dropped = (int64_t)(r.ops - refused - readable);
        row[w].drop_ops = r.ops;
        if (rc)
            fprintf(stderr, "gomap-bench: %s failed the dropped-writes pass of %s\n",
                    s->who[w].name, c->mix->name);
    }
    maps_free_start();
    maps_free_wait();
    if (*path)
        unlink(path);
    opstream_free(&sg);
    return rc ? -1 : 0;
}

/* The dropped-writes passes of a case whose rows[0..nrows) are written: at
 * each of STRAT_DROP_THREADS that was run, into its rows; if none was, at
 * the last of them, into the first rows. 0 or -1. */
static int drop_passes(strat_case *c, par_row *rows, size_t nrows)
{
    static const unsigned counts[] = {STRAT_DROP_THREADS};
    unsigned n = sizeof counts / sizeof counts[0];
    bool any = false;
    int rc = 0;
    for (unsigned k = 0; k < n; k++)
        for (size_t i = 0; i < nrows; i += c->s->nwho)
            if (rows[i].threads == counts[k]) {
                rc = drop_pass(c, &rows[i], counts[k]) ? -1 : rc;
                any = true;
            }
    return any ? rc : drop_pass(c, rows, counts[n - 1]);
}

/* Runs one case at every thread count; returns the rows written. */
static size_t run_case(strat_case *c, par_row *rows, progress *pg, bool *ok)
{
    const strat_suite *s = c->s;
    size_t nrows = 0;
    if (case_prepare(c)) {
        *ok = false;
        return 0;
    }
    for (unsigned t = 0; t < s->par.nthreads; t++) {
        c->threads = s->par.threads[t];
        char label[128];
        snprintf(label, sizeof label, "%s %-10s %-7s n=%-8zu threads=%-3u",
                 s->mixes ? "cache" : "strategies", c->mix->name, dist_names[c->dist], c->n,
                 c->threads);
        progress_step(pg, label);
        if (run_threads(c, rows + nrows, ok) == 0)
            nrows += s->nwho;
    }
    if (s->capacity && c->mix->set && nrows && drop_passes(c, rows, nrows))
        *ok = false;
    case_release(c);
    par_scaling(rows, 0, nrows, par_base_threads(s->par.threads, s->par.nthreads));
    return nrows;
}

size_t strat_suite_run(const strat_suite *s, par_row *rows, bool *ok)
{
    size_t nrows = 0, ncases = 0;
    progress pg;
    unsigned nmixes;
    const op_mix *mx = suite_mixes(s, &nmixes);
    for (unsigned wl = 0; wl < nmixes; wl++)
        for (unsigned d = 0; d < DIST_COUNT; d++)
            ncases += (s->par.workloads >> wl & s->dists >> d & 1) * s->nsizes * s->par.nthreads;
    progress_start(&pg, ncases, s->par.quiet);
    for (unsigned wl = 0; wl < nmixes; wl++)
        for (unsigned d = 0; d < DIST_COUNT; d++)
            for (unsigned z = 0; z < s->nsizes; z++) {
                if (!(s->par.workloads >> wl & s->dists >> d & 1))
                    continue;
                strat_case c = {.s = s, .mix = &mx[wl], .dist = (op_dist)d, .n = s->sizes[z]};
                nrows += run_case(&c, rows + nrows, &pg, ok);
            }
    progress_end(&pg);
    return nrows;
}
