/*
 * test_shardmap_stress.c — several threads on one sharded map
 * (gomap/shardmap.h), 4 of them on however many cores there are, with 1
 * shard (every thread meets every other on one lock) and with many; under
 * TSan and ASan in those builds.
 *
 *   test_mixed        every thread mixes every operation on a shared map.
 *                     Values are 64-byte records whose 8 words are equal;
 *                     every write (set, load_or_store, a compute, a visit in
 *                     place) writes all 8 words one at a time, so a reader
 *                     that saw half a write would see words that differ. Gets,
 *                     load_or_store answers, compute and visit callbacks,
 *                     range callbacks and every entry of every snapshot must
 *                     show whole records. Counter keys are incremented only,
 *                     with compute (inserting the first time) and visit: at
 *                     the end each counter holds exactly the increments the
 *                     threads made of it, and they add up to what the threads
 *                     counted. Stats and heatmaps (text and SVG) run beside
 *                     the writes too. Also with degenerate hashes (every key
 *                     in one shard).
 *   test_prefix       one writer inserts keys 0, 1, 2, ... in order, each set
 *                     returning before the next starts, and publishes how
 *                     many have returned. Readers take snapshots and len:
 *                     every snapshot holds exactly {0 .. k-1} for some k (no
 *                     gap: no shard seen at another instant than the rest),
 *                     k lies between the count published before and after
 *                     the snapshot (+1 for the set in flight), and what one
 *                     reader sees never goes back (snapshot or len); every
 *                     key published before a get is found. Where every key
 *                     lives in one shard (1 shard, or a degenerate hash) a
 *                     range must be such a prefix too ("the entries of one
 *                     shard are seen at one instant"). 1 and 16 shards, and 16
 *                     with a degenerate hash; rounds of growing size.
 *   test_clear        the same writer while a thread clears the map now and
 *                     then: every snapshot holds an interval {j .. k-1} (a
 *                     clear is one instant too) that does not reach past the
 *                     writer's progress.
 * gomap_shard_validate passes at the end of every run, and the stats add up.
 * Work is bounded by operation counts (divided by WORK_DIV under TSan),
 * never by time. Seed: test_seed() (the operation streams; the interleaving
 * is the scheduler's).
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "hashvariant.h"
#include "shardcheck.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Debug level 2 (the asan build) validates a map inside its writes, and a
 * snapshot of several shards is built by inserting every entry into a new
 * map: there, smaller maps in the ordered-insert tests. */
#if GOMAP_DEBUG_LEVEL >= 2
#define SNAP_DIV 4
#else
#define SNAP_DIV 1
#endif

enum { THREADS = 4, WORDS = 8, COUNTERS = 8, CHURN = 512, STATS_N = 20 };

/* ------------------------------------------------------------------------ */
/* Records                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct {
    uint64_t w[WORDS];
} rec;

static void check_rec(const void *p, const char *what)
{
    rec r;
    memcpy(&r, p, sizeof r);
    for (int i = 1; i < WORDS; i++)
        CHECK_MSG(r.w[i] == r.w[0], "%s: a record with words %" PRIu64 " and %" PRIu64
                  " (half a write seen)", what, r.w[0], r.w[i]);
}

/* Writes v into every word, one at a time. */
static void write_words(void *p, uint64_t v)
{
    volatile uint64_t *w = p;
    for (int i = 0; i < WORDS; i++)
        w[i] = v;
}

/* Adds 1 to every word, one at a time (a reader between two would see
 * words that differ). */
static void bump_words(void *p)
{
    volatile uint64_t *w = p;
    for (int i = 0; i < WORDS; i++)
        w[i] = w[i] + 1;
}

/* ------------------------------------------------------------------------ */
/* Mixed operations                                                          */
/* ------------------------------------------------------------------------ */

typedef struct {
    gomap_shard_t *m;
    pthread_barrier_t start;
    size_t ops;
} mixed_run;

typedef struct {
    mixed_run *run;
    uint64_t rng;
    uint64_t incs[COUNTERS];
    size_t snapshots, ranges;
    gomap_shard_counters per[STATS_N];
    FILE *sink;              /* heatmaps go here (/dev/null) */
} mixed_worker;

static int increment(const void *key, void *val, bool *present, void *ctx)
{
    (void)key;
    (void)ctx;
    check_rec(val, "counter compute"); /* zeroed when absent */
    bump_words(val);
    *present = true;
    return 0;
}

static void bump_visit(const void *key, void *val, void *ctx)
{
    (void)key;
    (void)ctx;
    check_rec(val, "visit");
    bump_words(val);
}

static void look_visit(const void *key, void *val, void *ctx)
{
    (void)key;
    (void)ctx;
    check_rec(val, "visit (read)");
}

static int rewrite(const void *key, void *val, bool *present, void *ctx)
{
    uint64_t v = *(const uint64_t *)ctx;
    (void)key;
    check_rec(val, "compute");
    switch (v % 4) {
    case 0: *present = false; return 0;       /* delete */
    case 1: return 1;                         /* abandon after... */
    default: break;
    }
    write_words(val, v);
    *present = true;
    return v % 4 == 3 ? -7 : 0;               /* ...or after rewriting */
}

static bool range_check(const void *key, const void *val, void *ctx)
{
    uint64_t k;
    memcpy(&k, key, sizeof k);
    CHECK_MSG(k < COUNTERS + CHURN, "range produced key %" PRIu64, k);
    check_rec(val, "range");
    return ++*(size_t *)ctx < 200; /* sometimes stops early */
}

static void snap_check(const void *key, const void *val, void *ctx)
{
    (void)ctx;
    uint64_t k;
    memcpy(&k, key, sizeof k);
    CHECK_MSG(k < COUNTERS + CHURN, "snapshot holds key %" PRIu64, k);
    check_rec(val, "snapshot");
}

static void mixed_op(mixed_worker *w)
{
    gomap_shard_t *m = w->run->m;
    uint64_t r = test_rand_below(&w->rng, 1000);
    if (r < 300) {
        uint64_t c = test_rand_below(&w->rng, COUNTERS);
        if (r < 150 || !gomap_shard_visit(m, &c, bump_visit, NULL))
            CHECK_EQ(gomap_shard_compute(m, &c, increment, NULL), 0);
        w->incs[c]++;
        return;
    }
    uint64_t k = r < 980 ? COUNTERS + test_rand_below(&w->rng, CHURN)
                         : test_rand_below(&w->rng, COUNTERS);
    uint64_t v = test_rand(&w->rng) >> 1;
    rec in, out;
    write_words(&in, v);
    bool loaded;
    if (r >= 980) { /* reads of the counters */
        if (gomap_shard_get(m, &k, &out))
            check_rec(&out, "get (counter)");
        return;
    }
    switch (r % 10) {
    case 0: case 1:
        CHECK_EQ(gomap_shard_set(m, &k, &in), 0);
        break;
    case 2:
        (void)gomap_shard_delete(m, &k);
        break;
    case 3:
        CHECK_EQ(gomap_shard_load_or_store(m, &k, &in, &out, &loaded), 0);
        check_rec(&out, "load_or_store");
        break;
    case 4: {
        int rc = gomap_shard_compute(m, &k, rewrite, &v);
        CHECK_MSG(rc == 0 || rc == 1 || rc == -7, "compute returned %d", rc);
        break;
    }
    case 5:
        (void)gomap_shard_visit(m, &k, r & 1 ? bump_visit : look_visit, NULL);
        break;
    case 6: case 7:
        if (gomap_shard_get(m, &k, &out))
            check_rec(&out, "get");
        break;
    case 8:
        if (r < 340) {
            w->snapshots++;
            shardcheck_each(m, snap_check, NULL);
        } else if (r < 380) {
            size_t n = 0;
            w->ranges++;
            gomap_shard_range(m, range_check, &n);
        }
        break;
    default: {
        size_t n = gomap_shard_len(m);
        CHECK_MSG(n <= COUNTERS + CHURN, "len %zu", n);
        if (r < 300 + 10 * 4) {
            /* Diagnostics may run beside writes too (race-free). */
            gomap_shard_stats_t st = shardcheck_stats(m, w->per, STATS_N);
            CHECK(st.total.entries <= COUNTERS + CHURN && st.max_entries <= st.total.entries);
            CHECK_EQ(gomap_shard_heatmap(m, w->sink, r & 1 ? GOMAP_HEATMAP_SVG
                                                         : GOMAP_HEATMAP_TEXT), 0);
        }
        break;
    }
    }
}

static void *mixed_main(void *arg)
{
    mixed_worker *w = arg;
    pthread_barrier_wait(&w->run->start);
    for (size_t i = 0; i < w->run->ops; i++)
        mixed_op(w);
    return NULL;
}

static void run_mixed(unsigned shards, int variant, uint64_t seed)
{
    mixed_run run;
    run.m = shardcheck_new_u64(variant, sizeof(rec), shards);
    run.ops = 40000 / WORK_DIV;
    CHECK_EQ(pthread_barrier_init(&run.start, NULL, THREADS), 0);
    mixed_worker ws[THREADS];
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        memset(&ws[t], 0, sizeof ws[t]);
        ws[t].run = &run;
        ws[t].rng = seed ^ (uint64_t)(t + 1) * 0xD1B54A32D192ED03ull ^ shards;
        ws[t].sink = fopen("/dev/null", "w");
        CHECK(ws[t].sink != NULL);
        CHECK_EQ(pthread_create(&th[t], NULL, mixed_main, &ws[t]), 0);
    }
    size_t snaps = 0, ranges = 0;
    for (int t = 0; t < THREADS; t++) {
        CHECK_EQ(pthread_join(th[t], NULL), 0);
        snaps += ws[t].snapshots;
        ranges += ws[t].ranges;
        fclose(ws[t].sink);
    }
    pthread_barrier_destroy(&run.start);

    CHECK_SHARD_VALID(run.m);
    uint64_t all = 0;
    for (uint64_t c = 0; c < COUNTERS; c++) {
        uint64_t want = 0;
        for (int t = 0; t < THREADS; t++)
            want += ws[t].incs[c];
        rec got;
        memset(&got, 0, sizeof got);
        bool found = gomap_shard_get(run.m, &c, &got);
        CHECK_MSG(found || want == 0, "counter %" PRIu64 " missing", c);
        check_rec(&got, "final counter");
        CHECK_MSG(got.w[0] == want, "counter %" PRIu64 " is %" PRIu64 " after %" PRIu64
                  " increments", c, got.w[0], want);
        all += got.w[0];
    }
    uint64_t total_incs = 0;
    for (int t = 0; t < THREADS; t++)
        for (int c = 0; c < COUNTERS; c++)
            total_incs += ws[t].incs[c];
    CHECK_EQ(all, total_incs);
    size_t n = shardcheck_each(run.m, snap_check, NULL);
    CHECK_EQ(n, gomap_shard_len(run.m));
    gomap_shard_stats_t st = shardcheck_stats(run.m, NULL, 0);
    CHECK_EQ(st.total.entries, n);
    CHECK_EQ(st.total.ops, st.total.hits + st.total.misses);
    printf("   %u shards, %s hash: %d threads x %zu ops, %" PRIu64 " increments, %zu snapshots, "
           "%zu ranges, %" PRIu64 " lock waits\n", shards, hash_variant_name(variant), THREADS,
           run.ops, all, snaps, ranges, st.total.waits);
    gomap_shard_free(run.m);
}

static void test_mixed(void)
{
    uint64_t seed = test_seed();
    run_mixed(1, HV_BUILTIN, seed);
    run_mixed(64, HV_BUILTIN, seed + 1);
    run_mixed(16, HV_DEGENERATE, seed + 2);
}

/* ------------------------------------------------------------------------ */
/* Ordered inserts: snapshots and len are prefixes                           */
/* ------------------------------------------------------------------------ */

typedef struct {
    gomap_shard_t *m;
    uint64_t n;                 /* keys the writer inserts */
    bool clears;                /* a thread clears now and then */
    bool one_shard;             /* every key in one shard: a range is a
                                   snapshot too */
    _Atomic uint64_t published; /* sets that have returned */
    atomic_bool done;
    _Atomic uint64_t started;   /* checks the readers have begun */
    _Atomic uint64_t gate_at;   /* while the writer waits for a check to
                                   begin: `started` when it began to wait;
                                   else UINT64_MAX */
    pthread_barrier_t start;
} order_run;

typedef struct {
    order_run *run;
    uint64_t rng;
    uint64_t last;              /* the largest prefix this reader saw */
    size_t snapshots, lens, gets, nonempty;
} reader;

/* The writer and the readers keep pace with each other, whatever the load
 * of the machine: every GATE inserts the writer waits until a reader has
 * begun a check (and goes on inserting while it runs), and after each
 * check a reader waits for an insert (see pace()). Neither waits for the
 * other while the other waits. */
enum { GATE = 64 };

static void gate(order_run *o)
{
    uint64_t c = atomic_load_explicit(&o->started, memory_order_acquire);
    atomic_store_explicit(&o->gate_at, c, memory_order_release);
    while (atomic_load_explicit(&o->started, memory_order_acquire) == c)
        sched_yield();
    atomic_store_explicit(&o->gate_at, UINT64_MAX, memory_order_release);
}

static void *writer_main(void *arg)
{
    order_run *o = arg;
    pthread_barrier_wait(&o->start);
    for (uint64_t k = 0; k < o->n; k++) {
        CHECK_EQ(gomap_shard_set(o->m, &k, &k), 0);
        atomic_store_explicit(&o->published, k + 1, memory_order_release);
        if (k % GATE == GATE - 1)
            gate(o);
    }
    atomic_store_explicit(&o->done, true, memory_order_release);
    return NULL;
}

typedef struct {
    uint64_t count, min, max;
} span;

static void span_add(const void *key, const void *val, void *ctx)
{
    span *s = ctx;
    uint64_t k, v;
    memcpy(&k, key, sizeof k);
    memcpy(&v, val, sizeof v);
    CHECK_MSG(v == k, "snapshot: key %" PRIu64 " holds %" PRIu64, k, v);
    s->min = s->count == 0 || k < s->min ? k : s->min;
    s->max = s->count == 0 || k > s->max ? k : s->max;
    s->count++;
}

static uint64_t published(order_run *o)
{
    return atomic_load_explicit(&o->published, memory_order_acquire);
}

static bool span_range(const void *key, const void *val, void *ctx)
{
    span_add(key, val, ctx);
    return true;
}

/* A snapshot between two readings of the writer's progress; with
 * by_range, a range over a map whose keys all live in one shard ("the
 * entries of one shard are seen at one instant"). */
static void check_snapshot(reader *r, bool by_range)
{
    order_run *o = r->run;
    span s = {0, 0, 0};
    uint64_t before = published(o);
    if (by_range)
        gomap_shard_range(o->m, span_range, &s);
    else
        shardcheck_each(o->m, span_add, &s);
    uint64_t after = published(o);
    r->snapshots++;
    if (s.count == 0) {
        CHECK_MSG(o->clears || before == 0, "empty snapshot after %" PRIu64 " inserts", before);
        return;
    }
    r->nonempty++;
    /* Distinct keys between min and max: an interval exactly when the
     * count matches. */
    CHECK_MSG(s.max - s.min + 1 == s.count, "snapshot of %" PRIu64 " keys spans %" PRIu64
              " .. %" PRIu64 ": a gap (not one instant)", s.count, s.min, s.max);
    CHECK_MSG(s.max + 1 <= after + 1, "snapshot holds key %" PRIu64 " while only %" PRIu64
              " sets had returned (and one in flight)", s.max, after);
    if (o->clears)
        return;
    CHECK_MSG(s.min == 0, "snapshot starts at key %" PRIu64, s.min);
    CHECK_MSG(s.count >= before, "snapshot has %" PRIu64 " keys, but %" PRIu64 " sets had "
              "returned before it", s.count, before);
    CHECK_MSG(s.count >= r->last, "snapshot has %" PRIu64 " keys after this reader saw %" PRIu64,
              s.count, r->last);
    r->last = s.count;
}

static void check_len(reader *r)
{
    order_run *o = r->run;
    uint64_t before = published(o);
    uint64_t n = gomap_shard_len(o->m);
    uint64_t after = published(o);
    r->lens++;
    CHECK_MSG(n <= after + 1, "len %" PRIu64 " with %" PRIu64 " sets returned", n, after);
    if (o->clears)
        return;
    CHECK_MSG(n >= before && n >= r->last, "len %" PRIu64 ": %" PRIu64 " sets had returned "
              "before, and this reader saw %" PRIu64 " already", n, before, r->last);
    r->last = n;
}

static void check_get(reader *r)
{
    order_run *o = r->run;
    uint64_t before = published(o);
    if (before == 0 || o->clears)
        return;
    uint64_t k = test_rand_below(&r->rng, before), v = ~0ull;
    r->gets++;
    CHECK_MSG(gomap_shard_get(o->m, &k, &v) && v == k, "key %" PRIu64 " (of %" PRIu64
              " inserted) not found", k, before);
}

/* After a check, lets the writer make an insert, if it made none during
 * the check, before the next one (readers that never paused could hold the
 * shards most of the time and starve it), unless the writer waits for a
 * check to begin. */
static bool writer_waits(order_run *o)
{
    uint64_t g = atomic_load_explicit(&o->gate_at, memory_order_acquire);
    return g != UINT64_MAX && atomic_load_explicit(&o->started, memory_order_acquire) == g;
}

/* Returns the writer's progress as the check begins. */
static uint64_t begin_check(order_run *o)
{
    atomic_fetch_add_explicit(&o->started, 1, memory_order_release);
    return published(o);
}

/* Waits (if need be) until the writer has made an insert since `at`. */
static void pace(order_run *o, uint64_t at)
{
    uint64_t target = at + 1;
    while (published(o) < target && !atomic_load_explicit(&o->done, memory_order_acquire) &&
           !writer_waits(o))
        sched_yield();
}

static void *reader_main(void *arg)
{
    reader *r = arg;
    order_run *o = r->run;
    pthread_barrier_wait(&o->start);
    while (!atomic_load_explicit(&o->done, memory_order_acquire)) {
        uint64_t x = test_rand_below(&r->rng, 8);
        uint64_t at = begin_check(o);
        if (x < 2)
            check_snapshot(r, o->one_shard && x == 1);
        else if (x < 5)
            check_len(r);
        else
            check_get(r);
        pace(o, at);
    }
    check_snapshot(r, false); /* after the writer: everything */
    return NULL;
}

static void *clearer_main(void *arg)
{
    reader *r = arg;
    order_run *o = r->run;
    pthread_barrier_wait(&o->start);
    while (!atomic_load_explicit(&o->done, memory_order_acquire)) {
        uint64_t at = begin_check(o);
        check_snapshot(r, false);
        check_snapshot(r, o->one_shard);
        gomap_shard_clear(o->m);
        pace(o, at);
    }
    return NULL;
}

typedef struct {
    size_t snaps, lens, gets, nonempty;
} order_totals;

/* One round: a fresh map, the writer and THREADS - 1 readers (one of them
 * clearing, with `clears`). */
static void order_round(unsigned shards, int variant, bool clears, uint64_t n, uint64_t seed,
                        order_totals *tot)
{
    order_run o;
    memset(&o, 0, sizeof o);
    o.m = shardcheck_new_u64(variant, 8, shards);
    o.n = n;
    o.clears = clears;
    o.one_shard = shards == 1 || variant != HV_BUILTIN;
    atomic_init(&o.published, 0);
    atomic_init(&o.done, false);
    atomic_init(&o.started, 0);
    atomic_init(&o.gate_at, UINT64_MAX);
    CHECK_EQ(pthread_barrier_init(&o.start, NULL, THREADS), 0);
    reader rs[THREADS - 1];
    pthread_t th[THREADS];
    CHECK_EQ(pthread_create(&th[0], NULL, writer_main, &o), 0);
    for (int t = 0; t < THREADS - 1; t++) {
        memset(&rs[t], 0, sizeof rs[t]);
        rs[t].run = &o;
        rs[t].rng = seed ^ (uint64_t)(t + 1) * 0x9E3779B97F4A7C15ull;
        bool clearer = clears && t == 0;
        CHECK_EQ(pthread_create(&th[t + 1], NULL, clearer ? clearer_main : reader_main, &rs[t]),
                 0);
    }
    for (int t = 0; t < THREADS; t++)
        CHECK_EQ(pthread_join(th[t], NULL), 0);
    for (int t = 0; t < THREADS - 1; t++) {
        tot->snaps += rs[t].snapshots;
        tot->lens += rs[t].lens;
        tot->gets += rs[t].gets;
        tot->nonempty += rs[t].nonempty;
        if (!clears)
            CHECK_EQ(rs[t].last, o.n); /* the final snapshot: every key */
    }
    CHECK_SHARD_VALID(o.m);
    size_t len = gomap_shard_len(o.m);
    CHECK(clears ? len <= o.n : len == o.n);
    pthread_barrier_destroy(&o.start);
    gomap_shard_free(o.m);
}

/* Rounds of growing size: small maps make cheap snapshots, so many of them
 * meet the writer mid-way. */
static void run_order(unsigned shards, int variant, bool clears, uint64_t seed)
{
    order_totals tot = {0, 0, 0, 0};
    uint64_t inserts = 0;
    /* A degenerate hash makes every operation walk one chain of every key:
     * smaller maps. */
    uint64_t most = (variant == HV_BUILTIN ? 16000 : 2000) / WORK_DIV / SNAP_DIV;
    for (uint64_t n = most / 32; n <= most; n *= 2) {
        for (int r = 0; r < 3; r++) {
            order_round(shards, variant, clears, n, seed + n + (uint64_t)r, &tot);
            inserts += n;
        }
    }
    printf("   %u shards, %s hash%s: %" PRIu64 " ordered inserts; %zu snapshots%s (%zu non-empty), "
           "%zu lens, %zu gets, all consistent\n", shards, hash_variant_name(variant),
           clears ? ", with clears" : "", inserts, tot.snaps,
           shards == 1 || variant != HV_BUILTIN ? " and ranges" : "", tot.nonempty, tot.lens,
           tot.gets);
}

static void test_prefix(void)
{
    uint64_t seed = test_seed() ^ 0x0D0Eull;
    run_order(1, HV_BUILTIN, false, seed);
    run_order(16, HV_BUILTIN, false, seed + 1);
    run_order(16, HV_DEGENERATE, false, seed + 2);
}

static void test_clear(void)
{
    uint64_t seed = test_seed() ^ 0xC1EA5ull;
    run_order(1, HV_BUILTIN, true, seed);
    run_order(16, HV_BUILTIN, true, seed + 1);
    run_order(16, HV_DEGENERATE, true, seed + 2);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_seed();
    RUN(test_mixed);
    RUN(test_prefix);
    RUN(test_clear);
    printf("ok\n");
    return 0;
}
