/*
 * sync_bench.c — the concurrent suite: the workload table, one timed run on
 * T threads, and the interleaved repetitions of every case with their
 * medians, ratios, scaling and checksums (on parallel.c, which the
 * strategies suite shares). The loops themselves are in sync_workloads.h;
 * the contenders in sync_impls.c and the Go peer.
 */
#include "sync/sync_bench.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/peer_go.h"
#include "common/progress.h"

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
    [SWL_STORE_OVERWRITE] = {"store-overwrite", 2000000, true},
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
    uint64_t ops, per;
} sync_share;

/* Thread t runs keys t*ops .. t*ops + per - 1 (RunParallel's starts). */
static void share_body(void *ctx, unsigned t, par_tally *tally)
{
    const sync_share *sh = ctx;
    sh->impl->body(sh->m, sh->wl, t * sh->ops, sh->per, tally);
}

int sync_run_inprocess(const sync_impl *impl, sync_workload wl, unsigned threads, uint64_t ops,
                       par_result *r)
{
    memset(r, 0, sizeof *r);
    r->retired_peak = r->retired_end = -1;
    if (threads < 1 || threads > PAR_MAX_THREADS)
        return -EINVAL;
    void *m = impl->create();
    if (!m)
        return -ENOMEM;
    par_tally setup = {0, 0, NULL};
    impl->setup(m, wl, &setup);
    sync_share sh = {impl, m, wl, ops, ops / threads};
    par_job job = {.threads = threads, .body = share_body, .ctx = &sh,
                   .retired = impl->retired, .m = m};
    uint64_t errors = setup.errors;
    int rc = par_run(&job, r, &errors);
    r->ops = sh.per * threads;
    r->checksum += impl->len(m);
    impl->destroy(m);
    if (rc == 0 && errors) {
        fprintf(stderr, "gomap-bench: %s: %llu operations of %s ran out of memory\n", impl->name,
                (unsigned long long)errors, workloads[wl].name);
        rc = -ENOMEM;
    }
    return rc;
}

/* ---- the suite ------------------------------------------------------------------- */

typedef struct {
    const sync_suite *s;
    sync_workload wl;
    unsigned threads;
    uint64_t ops;
} sync_case;

static int run_one(void *ctx, unsigned who, unsigned rep, par_result *r)
{
    const sync_case *c = ctx;
    const sync_contender *w = &c->s->who[who];
    (void)rep;
    if (w->impl)
        return sync_run_inprocess(w->impl, c->wl, c->threads, c->ops, r);
    r->retired_peak = r->retired_end = -1;
    return go_peer_parallel(c->s->par.go, &r->ns, &r->ops, &r->checksum, "sync %s %u %" PRIu64,
                            workloads[c->wl].name, c->threads, c->ops);
}

/* Runs one case (workload, threads) for every contender, interleaved, and
 * fills s->nwho rows. Returns -1 if a run failed. */
static int run_case(const sync_suite *s, sync_workload wl, unsigned threads, par_row *rows,
                    bool *ok)
{
    static par_result res[PAR_MAX_CONTENDERS][PAR_MAX_REPS];
    const char *names[PAR_MAX_CONTENDERS];
    char what[96];
    uint64_t ops = (uint64_t)(s->par.scale * (double)workloads[wl].ops + 0.5);
    sync_case c = {s, wl, threads, ops < threads ? threads : ops};
    for (unsigned w = 0; w < s->nwho; w++)
        names[w] = s->who[w].name;
    snprintf(what, sizeof what, "%s, %u threads", workloads[wl].name, threads);
    if (par_interleave(s->nwho, s->par.reps, names, what, NULL, run_one, &c, res)) {
        *ok = false;
        return -1;
    }
    for (unsigned w = 0; w < s->nwho; w++) {
        rows[w] = (par_row){.workload = workloads[wl].name, .threads = threads,
                            .impl = s->who[w].name};
        par_row_fill(&rows[w], res[w], s->par.reps, w ? &rows[0] : NULL,
                     workloads[wl].checked ? &res[0][0].checksum : NULL, ok);
    }
    return 0;
}

size_t sync_suite_run(const sync_suite *s, par_row *rows, bool *ok)
{
    size_t nrows = 0, ncases = 0;
    progress pg;
    for (unsigned wl = 0; wl < SWL_COUNT; wl++)
        ncases += (s->par.workloads >> wl & 1) * s->par.nthreads;
    progress_start(&pg, ncases, s->par.quiet);
    unsigned base = par_base_threads(s->par.threads, s->par.nthreads);
    for (unsigned wl = 0; wl < SWL_COUNT; wl++) {
        if (!(s->par.workloads >> wl & 1))
            continue;
        size_t first = nrows;
        for (unsigned t = 0; t < s->par.nthreads; t++) {
            char label[96];
            snprintf(label, sizeof label, "sync %-26s threads=%-3u", workloads[wl].name,
                     s->par.threads[t]);
            progress_step(&pg, label);
            if (run_case(s, (sync_workload)wl, s->par.threads[t], rows + nrows, ok) == 0)
                nrows += s->nwho;
        }
        par_scaling(rows, first, nrows, base);
    }
    progress_end(&pg);
    return nrows;
}
