/*
 * test_shardmap_resize_stress.c — 8 threads on one sharded map while a ninth
 * resizes it over and over (gomap_shard_resize, growing and shrinking
 * between 1 and 32 shards), and the auto mode under 8 threads; under TSan
 * and ASan in those builds.
 *
 *   test_resize_stress  each worker mixes, on its own keys, sets, deletes
 *                       and gets whose answers it knows (a key it wrote
 *                       last gives exactly that value, a key it deleted is
 *                       absent: no write is lost, no stale value comes back
 *                       while the key's shard moves); on 8 shared counter
 *                       keys, compute increments (exact at the end); on a
 *                       shared churn range, sets, deletes, gets, visits,
 *                       load_or_store; and now and then len, range,
 *                       snapshot and stats. Values are 4-word records
 *                       written word by word, checked whole everywhere.
 *                       Afterwards: validate, counters exact, every own key
 *                       as its owner left it, the stats' totals add up.
 *   test_auto_contended the auto mode with its default threshold and a
 *                       small window, 8 threads writing one hot 1-shard
 *                       map: the map must have grown once the threads are
 *                       done if any window was contended; the contents are
 *                       checked either way (the scheduler decides the
 *                       waits, so the growth is reported, not asserted;
 *                       test_shardmap_resize's deterministic trigger
 *                       asserts it).
 * Work is bounded by operation counts (divided by WORK_DIV under
 * sanitizers), never by time. Seed: test_seed().
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
#include <string.h>

#include "shard/shard_tune.h"

enum { WORKERS = 8, OWN = 64, COUNTERS = 8, CHURN = 256, WORDS = 4, OPS = 100000 / WORK_DIV };

typedef struct {
    uint64_t w[WORDS];
} rec;

static rec rec_of(uint64_t v)
{
    rec r;
    for (int i = 0; i < WORDS; i++)
        r.w[i] = v;
    return r;
}

static void check_rec(const void *p, const char *what)
{
    rec r;
    memcpy(&r, p, sizeof r);
    for (int i = 1; i < WORDS; i++)
        CHECK_MSG(r.w[i] == r.w[0], "%s: a record with words %" PRIu64 " and %" PRIu64, what,
                  r.w[0], r.w[i]);
}

typedef struct {
    gomap_shard_t *m;
    atomic_bool done;
    atomic_uint running;
} run_state;

typedef struct {
    run_state *run;
    unsigned id;
    uint64_t rng;
    uint64_t own[OWN];          /* value + 1 of own key i, 0 = absent */
    uint64_t incs[COUNTERS];
    size_t checks;
} worker;

static uint64_t own_key(unsigned id, unsigned i) { return 1000000 + (uint64_t)id * OWN + i; }

static int increment(const void *key, void *val, bool *present, void *ctx)
{
    (void)key;
    (void)ctx;
    check_rec(val, "counter");
    volatile uint64_t *w = val;
    for (int i = 0; i < WORDS; i++)
        w[i] = w[i] + 1;
    *present = true;
    return 0;
}

static void look(const void *key, void *val, void *ctx)
{
    (void)key;
    (void)ctx;
    check_rec(val, "visit");
}

static bool range_check(const void *key, const void *val, void *ctx)
{
    (void)key;
    check_rec(val, "range");
    ++*(size_t *)ctx;
    return true;
}

static void snap_check(const void *key, const void *val, void *ctx)
{
    (void)key;
    (void)ctx;
    check_rec(val, "snapshot");
}

static void own_op(worker *w)
{
    gomap_shard_t *m = w->run->m;
    unsigned i = (unsigned)test_rand_below(&w->rng, OWN);
    uint64_t k = own_key(w->id, i);
    unsigned what = (unsigned)test_rand_below(&w->rng, 10);
    if (what < 4) {
        uint64_t v = test_rand(&w->rng) >> 1;
        rec r = rec_of(v);
        CHECK_EQ(gomap_shard_set(m, &k, &r), 0);
        w->own[i] = v + 1;
    } else if (what < 5) {
        CHECK_EQ(gomap_shard_delete(m, &k), w->own[i] != 0);
        w->own[i] = 0;
    } else {
        rec r;
        bool found = gomap_shard_get(m, &k, &r);
        CHECK_MSG(found == (w->own[i] != 0), "own key %" PRIu64 ": found %d, expected %d", k,
                  found, w->own[i] != 0);
        if (found) {
            check_rec(&r, "own get");
            CHECK_MSG(r.w[0] == w->own[i] - 1, "own key %" PRIu64 ": %" PRIu64 ", wrote %"
                      PRIu64, k, r.w[0], w->own[i] - 1);
        }
        w->checks++;
    }
}

static void shared_op(worker *w)
{
    gomap_shard_t *m = w->run->m;
    uint64_t k = COUNTERS + test_rand_below(&w->rng, CHURN); /* not a counter */
    rec r = rec_of(test_rand(&w->rng)), got;
    switch (test_rand_below(&w->rng, 6)) {
    case 0:
        CHECK_EQ(gomap_shard_set(m, &k, &r), 0);
        break;
    case 1:
        (void)gomap_shard_delete(m, &k);
        break;
    case 2: {
        bool loaded;
        CHECK_EQ(gomap_shard_load_or_store(m, &k, &r, &got, &loaded), 0);
        check_rec(&got, "load_or_store");
        break;
    }
    case 3:
        (void)gomap_shard_visit(m, &k, look, NULL);
        break;
    default:
        if (gomap_shard_get(m, &k, &got))
            check_rec(&got, "shared get");
        break;
    }
}

static void whole_op(worker *w)
{
    gomap_shard_t *m = w->run->m;
    switch (test_rand_below(&w->rng, 4)) {
    case 0: {
        size_t n = 0;
        gomap_shard_range(m, range_check, &n);
        break;
    }
    case 1:
        (void)shardcheck_each(m, snap_check, NULL);
        break;
    case 2:
        CHECK(gomap_shard_len(m) <= COUNTERS + CHURN + WORKERS * OWN);
        break;
    default: {
        gomap_shard_stats_t st = shardcheck_stats(m, NULL, 0);
        CHECK(st.total.entries <= 2 * (COUNTERS + CHURN + WORKERS * OWN));
        break;
    }
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    for (size_t n = 0; n < OPS; n++) {
        unsigned what = (unsigned)test_rand_below(&w->rng, 100);
        if (what < 45)
            own_op(w);
        else if (what < 60) {
            unsigned c = (unsigned)test_rand_below(&w->rng, COUNTERS);
            uint64_t k = c;
            CHECK_EQ(gomap_shard_compute(w->run->m, &k, increment, NULL), 0);
            w->incs[c]++;
        } else if (what < 99)
            shared_op(w);
        else
            whole_op(w);
    }
    atomic_fetch_sub_explicit(&w->run->running, 1, memory_order_release);
    return NULL;
}

typedef struct {
    run_state *run;
    uint64_t rng;
    uint64_t calls;
} resizer;

static void *resizer_main(void *arg)
{
    resizer *r = arg;
    while (atomic_load_explicit(&r->run->running, memory_order_acquire) != 0) {
        unsigned n = 1u << test_rand_below(&r->rng, 6);
        CHECK_EQ(gomap_shard_resize(r->run->m, n), 0);
        CHECK_EQ(gomap_shard_count(r->run->m), n);
        r->calls++;
        sched_yield();
    }
    return NULL;
}

static void check_end(gomap_shard_t *m, worker *ws)
{
    CHECK_SHARD_VALID(m);
    for (uint64_t c = 0; c < COUNTERS; c++) {
        uint64_t want = 0;
        for (int t = 0; t < WORKERS; t++)
            want += ws[t].incs[c];
        rec got = rec_of(0);
        (void)gomap_shard_get(m, &c, &got);
        check_rec(&got, "final counter");
        CHECK_MSG(got.w[0] == want, "counter %" PRIu64 ": %" PRIu64 " after %" PRIu64
                  " increments", c, got.w[0], want);
    }
    for (int t = 0; t < WORKERS; t++)
        for (unsigned i = 0; i < OWN; i++) {
            uint64_t k = own_key(ws[t].id, i);
            rec got;
            bool found = gomap_shard_get(m, &k, &got);
            CHECK_EQ(found, ws[t].own[i] != 0);
            CHECK(!found || got.w[0] == ws[t].own[i] - 1);
        }
    gomap_shard_stats_t st = shardcheck_stats(m, NULL, 0);
    CHECK_EQ(st.total.entries, gomap_shard_len(m));
    CHECK_EQ(st.total.ops, st.total.hits + st.total.misses);
    CHECK(st.total.lock_acquisitions >= st.total.waits);
}

static void run_workers(gomap_shard_t *m, uint64_t seed, bool with_resizer, const char *label)
{
    run_state run = {m, false, WORKERS};
    worker ws[WORKERS];
    pthread_t th[WORKERS + 1];
    for (unsigned t = 0; t < WORKERS; t++) {
        memset(&ws[t], 0, sizeof ws[t]);
        ws[t].run = &run;
        ws[t].id = t;
        ws[t].rng = seed ^ (uint64_t)(t + 1) * 0x9E3779B97F4A7C15ull;
        CHECK_EQ(pthread_create(&th[t], NULL, worker_main, &ws[t]), 0);
    }
    resizer rz = {&run, seed ^ 0x2E5, 0};
    if (with_resizer)
        CHECK_EQ(pthread_create(&th[WORKERS], NULL, resizer_main, &rz), 0);
    for (unsigned t = 0; t < WORKERS + (unsigned)with_resizer; t++)
        CHECK_EQ(pthread_join(th[t], NULL), 0);
    check_end(m, ws);
    size_t checks = 0;
    for (unsigned t = 0; t < WORKERS; t++)
        checks += ws[t].checks;
    gomap_shard_stats_t st = shardcheck_stats(m, NULL, 0);
    printf("   %s: %d threads x %d ops, %zu own-key gets checked, %" PRIu64 " resizes (%u "
           "shards now), %" PRIu64 " of %" PRIu64 " lock acquisitions waited\n", label, WORKERS,
           OPS, checks, st.resizes, st.shards, st.total.waits,
           st.total.lock_acquisitions);
}

static void test_resize_stress(void)
{
    gomap_shard_t *m = shardcheck_new_u64(HV_BUILTIN, sizeof(rec), 4);
    run_workers(m, test_seed(), true, "resized by a ninth thread");
    CHECK(shardcheck_stats(m, NULL, 0).resizes > 0);
    gomap_shard_free(m);
}

static void test_auto_contended(void)
{
    gomap_shard_t *m = shardcheck_new_auto(sizeof(rec), 1, 32);
    gomap__shard_tune(m, 1024, 100);
    run_workers(m, test_seed() ^ 0xA0, false, "1 shard, auto mode");
    gomap_shard_free(m);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_seed();
    RUN(test_resize_stress);
    RUN(test_auto_contended);
    printf("ok\n");
    return 0;
}
