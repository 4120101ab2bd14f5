/*
 * test_syncmap_stress.c — many threads on one sync map (gomap/syncmap.h).
 *
 * Threads (4, and 8 to oversubscribe the machine) run a fixed number of
 * seeded random operations each, on a small key space (64 keys: constant
 * contention, frequent promotions) and a large one (thousands of keys: dirty
 * rebuilds copy a lot), under the three hash variants of hashvariant.h.
 * What must hold under any interleaving:
 *
 *   - Shared keys: every thread runs every operation on them. Values are
 *     32 bytes {key, writer, seq, check}: any value read back (load, swap,
 *     load_or_store, load_and_delete, range) belongs to its key and is not
 *     torn.
 *   - Owned keys: each thread owns a disjoint set that only it writes, and
 *     checks every answer exactly against its own record (the last value it
 *     stored, or absent); its ranges must see exactly its present keys with
 *     those values (a key present for the whole range is visited).
 *   - Counters: a few keys every thread increments with load +
 *     compare_and_swap loops; at the end each holds exactly the number of
 *     increments made.
 *   - Ranges never visit a key twice; len stays within bounds.
 *   - After the threads join: validate passes, len equals what range counts
 *     and the totals above.
 * A last configuration adds clear to the shared operations (owned keys and
 * counters are then left out, since clear erases them).
 *
 * Work is bounded by operation counts, not time, and divided by WORK_DIV
 * under ThreadSanitizer. Seed: test_seed() (GOMAP_TEST_SEED reproduces the
 * operation streams; the interleaving is the scheduler's).
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "hashvariant.h"

#include <gomap/syncmap.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_SYNC_VALID(m) \
    do { char why_[256] = ""; int rc_ = gomap_sync_validate((m), why_, sizeof why_); \
         if (rc_ != 0) check_fail(__FILE__, __LINE__, "gomap_sync_validate(" #m ")", why_); } while (0)

enum { MAX_THREADS = 8, OWN = 32, COUNTERS = 4 };

/* ------------------------------------------------------------------------ */
/* Values                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct {
    uint64_t key, writer, seq, check;
} value;

static uint64_t value_check(uint64_t key, uint64_t writer, uint64_t seq)
{
    return (key * 0x9E3779B97F4A7C15ull) ^ (writer << 56) ^ (seq * 0xC2B2AE3D27D4EB4Full) ^
           0x5EED5EED5EED5EEDull;
}

static value mkval(uint64_t key, uint64_t writer, uint64_t seq)
{
    return (value){key, writer, seq, value_check(key, writer, seq)};
}

static void check_value(const value *v, uint64_t key, const char *what)
{
    CHECK_MSG(v->key == key && v->check == value_check(v->key, v->writer, v->seq),
              "%s: key %" PRIu64 " holds a value {key %" PRIu64 ", writer %" PRIu64 ", seq %"
              PRIu64 ", check %" PRIx64 "} (wrong key or torn)", what, key, v->key, v->writer,
              v->seq, v->check);
}

/* ------------------------------------------------------------------------ */
/* Configuration and shared state                                            */
/* ------------------------------------------------------------------------ */

typedef struct {
    int threads;
    uint64_t shared;    /* shared keys 0 .. shared-1 */
    bool with_clear;    /* shared ops include clear; no owned keys/counters */
    size_t ops;         /* per thread */
} config;

typedef struct {
    const config *cfg;
    gomap_sync_t *m;
    pthread_barrier_t start;
    uint64_t seed;
    uint64_t nkeys;     /* total key space */
} run_state;

/* Key layout: shared keys, then counters, then owned keys interleaved. */
static uint64_t counter_key(const run_state *rs, int c)
{
    return rs->cfg->shared + (uint64_t)c;
}

static uint64_t owned_key(const run_state *rs, int t, int j)
{
    return rs->cfg->shared + COUNTERS + (uint64_t)t + (uint64_t)rs->cfg->threads * (uint64_t)j;
}

typedef struct {
    run_state *rs;
    int id;
    uint64_t rng;
    uint64_t seq;
    bool own_present[OWN];
    value own_val[OWN];
    uint64_t increments[COUNTERS];
    unsigned char *seen;     /* per range: visited keys */
    size_t ranges;
} worker;

/* ------------------------------------------------------------------------ */
/* Operations                                                                */
/* ------------------------------------------------------------------------ */

static void shared_op(worker *w)
{
    gomap_sync_t *m = w->rs->m;
    uint64_t k = test_rand_below(&w->rng, w->rs->cfg->shared);
    value v = mkval(k, (uint64_t)w->id, ++w->seq), out, old;
    bool loaded;
    switch (test_rand_below(&w->rng, 9)) {
    case 0: case 1:
        if (gomap_sync_load(m, &k, &out))
            check_value(&out, k, "load");
        break;
    case 2:
        CHECK_EQ(gomap_sync_store(m, &k, &v), 0);
        break;
    case 3:
        CHECK_EQ(gomap_sync_swap(m, &k, &v, &out, &loaded), 0);
        if (loaded)
            check_value(&out, k, "swap");
        break;
    case 4:
        CHECK_EQ(gomap_sync_load_or_store(m, &k, &v, &out, &loaded), 0);
        check_value(&out, k, "load_or_store");
        if (!loaded)
            CHECK(memcmp(&out, &v, sizeof v) == 0);
        break;
    case 5:
        if (gomap_sync_load_and_delete(m, &k, &out))
            check_value(&out, k, "load_and_delete");
        break;
    case 6:
        gomap_sync_delete(m, &k);
        break;
    case 7:
        if (gomap_sync_load(m, &k, &old)) {
            check_value(&old, k, "load");
            int rc = gomap_sync_compare_and_swap(m, &k, &old, &v);
            CHECK(rc == 0 || rc == 1);
        }
        break;
    default:
        if (gomap_sync_load(m, &k, &old))
            (void)gomap_sync_compare_and_delete(m, &k, &old);
        break;
    }
}

/* An operation on a key only this thread writes: every answer is exact. */
static void owned_op(worker *w)
{
    gomap_sync_t *m = w->rs->m;
    int j = (int)test_rand_below(&w->rng, OWN);
    uint64_t k = owned_key(w->rs, w->id, j);
    value v = mkval(k, (uint64_t)w->id, ++w->seq), out;
    memset(&out, 0x77, sizeof out);
    bool had = w->own_present[j], loaded = !had, ok;
    const value *cur = &w->own_val[j];
    switch (test_rand_below(&w->rng, 8)) {
    case 0:
        ok = gomap_sync_load(m, &k, &out);
        CHECK_MSG(ok == had, "thread %d: own key %" PRIu64 " present %d, expected %d", w->id, k,
                  ok, had);
        if (had)
            CHECK(memcmp(&out, cur, sizeof out) == 0);
        return;
    case 1:
        CHECK_EQ(gomap_sync_store(m, &k, &v), 0);
        break;
    case 2:
        CHECK_EQ(gomap_sync_swap(m, &k, &v, &out, &loaded), 0);
        CHECK(loaded == had && (!had || memcmp(&out, cur, sizeof out) == 0));
        break;
    case 3:
        CHECK_EQ(gomap_sync_load_or_store(m, &k, &v, &out, &loaded), 0);
        CHECK(loaded == had && memcmp(&out, had ? cur : &v, sizeof out) == 0);
        if (had)
            return;
        break;
    case 4:
        ok = gomap_sync_load_and_delete(m, &k, &out);
        CHECK(ok == had && (!had || memcmp(&out, cur, sizeof out) == 0));
        w->own_present[j] = false;
        return;
    case 5:
        gomap_sync_delete(m, &k);
        w->own_present[j] = false;
        return;
    case 6: {
        /* Half the time the right old value, else a stale one. */
        value old = had && test_rand_below(&w->rng, 2) ? *cur : mkval(k, 99, 0);
        bool match = had && memcmp(&old, cur, sizeof old) == 0;
        CHECK_EQ(gomap_sync_compare_and_swap(m, &k, &old, &v), match);
        if (!match)
            return;
        break;
    }
    default: {
        value old = had && test_rand_below(&w->rng, 2) ? *cur : mkval(k, 99, 0);
        bool match = had && memcmp(&old, cur, sizeof old) == 0;
        CHECK(gomap_sync_compare_and_delete(m, &k, &old) == match);
        if (match)
            w->own_present[j] = false;
        return;
    }
    }
    w->own_present[j] = true;
    w->own_val[j] = v;
}

static void counter_op(worker *w)
{
    gomap_sync_t *m = w->rs->m;
    int c = (int)test_rand_below(&w->rng, COUNTERS);
    uint64_t k = counter_key(w->rs, c);
    for (;;) {
        value cur, next;
        CHECK(gomap_sync_load(m, &k, &cur));
        check_value(&cur, k, "counter load");
        next = mkval(k, 0, cur.seq + 1);
        int rc = gomap_sync_compare_and_swap(m, &k, &cur, &next);
        CHECK(rc == 0 || rc == 1);
        if (rc == 1)
            break;
    }
    w->increments[c]++;
}

typedef struct {
    worker *w;
    size_t own_seen;
    size_t visits;
} range_ctx;

static bool range_fn(const void *key, const void *val, void *arg)
{
    range_ctx *rc = arg;
    worker *w = rc->w;
    uint64_t k;
    value v;
    memcpy(&k, key, sizeof k);
    memcpy(&v, val, sizeof v);
    CHECK_MSG(k < w->rs->nkeys, "range produced key %" PRIu64 " never stored", k);
    CHECK_MSG(!w->seen[k], "range visited key %" PRIu64 " twice", k);
    w->seen[k] = 1;
    rc->visits++;
    check_value(&v, k, "range");
    const config *cfg = w->rs->cfg;
    uint64_t first_owned = cfg->shared + COUNTERS;
    if (!cfg->with_clear && k >= first_owned &&
        (int)((k - first_owned) % (uint64_t)cfg->threads) == w->id) {
        int j = (int)((k - first_owned) / (uint64_t)cfg->threads);
        CHECK_MSG(w->own_present[j], "thread %d: range produced own key %" PRIu64
                  " which it deleted", w->id, k);
        CHECK(memcmp(&v, &w->own_val[j], sizeof v) == 0);
        rc->own_seen++;
    }
    return true;
}

static void range_op(worker *w)
{
    memset(w->seen, 0, w->rs->nkeys);
    range_ctx rc = {w, 0, 0};
    gomap_sync_range(w->rs->m, range_fn, &rc);
    w->ranges++;
    if (!w->rs->cfg->with_clear) {
        size_t own = 0;
        for (int j = 0; j < OWN; j++)
            own += w->own_present[j];
        CHECK_MSG(rc.own_seen == own, "thread %d: range saw %zu of its %zu keys", w->id,
                  rc.own_seen, own);
        CHECK(rc.visits >= own + COUNTERS);
    }
    size_t n = gomap_sync_len(w->rs->m);
    CHECK_MSG(n <= w->rs->nkeys, "len %zu over the %" PRIu64 " possible keys", n, w->rs->nkeys);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    const config *cfg = w->rs->cfg;
    pthread_barrier_wait(&w->rs->start);
    for (size_t i = 0; i < cfg->ops; i++) {
        unsigned r = (unsigned)test_rand_below(&w->rng, 1000);
        if (r < 2)
            range_op(w);
        else if (cfg->with_clear) {
            if (r < 4)
                gomap_sync_clear(w->rs->m);
            else
                shared_op(w);
        } else if (r < 450)
            shared_op(w);
        else if (r < 800)
            owned_op(w);
        else
            counter_op(w);
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* A run                                                                     */
/* ------------------------------------------------------------------------ */

static void check_final(run_state *rs, worker *ws)
{
    const config *cfg = rs->cfg;
    gomap_sync_t *m = rs->m;
    CHECK_SYNC_VALID(m);
    size_t expect_fixed = 0;
    if (!cfg->with_clear) {
        for (int c = 0; c < COUNTERS; c++) {
            uint64_t k = counter_key(rs, c), total = 0;
            for (int t = 0; t < cfg->threads; t++)
                total += ws[t].increments[c];
            value v;
            CHECK(gomap_sync_load(m, &k, &v));
            check_value(&v, k, "final counter");
            CHECK_MSG(v.seq == total, "counter %d is %" PRIu64 " after %" PRIu64 " increments", c,
                      v.seq, total);
        }
        expect_fixed = COUNTERS;
        for (int t = 0; t < cfg->threads; t++) {
            for (int j = 0; j < OWN; j++) {
                uint64_t k = owned_key(rs, t, j);
                value v;
                bool ok = gomap_sync_load(m, &k, &v);
                CHECK_MSG(ok == ws[t].own_present[j], "thread %d key %" PRIu64 ": present %d, "
                          "expected %d", t, k, ok, ws[t].own_present[j]);
                if (ok)
                    CHECK(memcmp(&v, &ws[t].own_val[j], sizeof v) == 0);
                expect_fixed += ok;
            }
        }
    }
    size_t shared = 0;
    for (uint64_t k = 0; k < cfg->shared; k++) {
        value v;
        if (gomap_sync_load(m, &k, &v)) {
            check_value(&v, k, "final load");
            shared++;
        }
    }
    /* A range by a fresh worker record: no own keys (id -1 matches none). */
    worker probe;
    memset(&probe, 0, sizeof probe);
    probe.rs = rs;
    probe.id = -1;
    probe.seen = ws[0].seen;
    memset(probe.seen, 0, rs->nkeys);
    range_ctx rc = {&probe, 0, 0};
    gomap_sync_range(m, range_fn, &rc);
    CHECK_EQ(rc.visits, shared + expect_fixed);
    CHECK_EQ(gomap_sync_len(m), shared + expect_fixed);
    struct gomap_sync_stats s;
    CHECK_EQ(gomap_sync_stats(m, &s), 0);
    CHECK_EQ(s.len, shared + expect_fixed);
}

static void run(const config *cfg, int variant, uint64_t seed)
{
    printf("   %d threads, %" PRIu64 " shared keys%s, %zu ops each [%s hash]", cfg->threads,
           cfg->shared, cfg->with_clear ? " with clear" : "", cfg->ops,
           hash_variant_name(variant));
    fflush(stdout);
    gomap_options o;
    memset(&o, 0, sizeof o);
    hash_variant_keys(&o, variant);
    o.val_size = sizeof(value);
    run_state rs;
    memset(&rs, 0, sizeof rs);
    rs.cfg = cfg;
    rs.seed = seed;
    rs.nkeys = cfg->shared + COUNTERS + (uint64_t)cfg->threads * OWN;
    CHECK_EQ(gomap_sync_new(&rs.m, &o), 0);
    if (!cfg->with_clear) {
        for (int c = 0; c < COUNTERS; c++) {
            uint64_t k = counter_key(&rs, c);
            value v = mkval(k, 0, 0);
            CHECK_EQ(gomap_sync_store(rs.m, &k, &v), 0);
        }
    }
    CHECK_EQ(pthread_barrier_init(&rs.start, NULL, (unsigned)cfg->threads), 0);
    worker ws[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    for (int t = 0; t < cfg->threads; t++) {
        memset(&ws[t], 0, sizeof ws[t]);
        ws[t].rs = &rs;
        ws[t].id = t;
        ws[t].rng = seed ^ ((uint64_t)t + 1) * 0xD1B54A32D192ED03ull ^ cfg->shared ^
                    ((uint64_t)variant << 40) ^ ((uint64_t)cfg->threads << 48);
        ws[t].seen = malloc(rs.nkeys);
        CHECK(ws[t].seen);
        CHECK_EQ(pthread_create(&th[t], NULL, worker_main, &ws[t]), 0);
    }
    size_t ranges = 0;
    for (int t = 0; t < cfg->threads; t++) {
        CHECK_EQ(pthread_join(th[t], NULL), 0);
        ranges += ws[t].ranges;
    }
    pthread_barrier_destroy(&rs.start);
    check_final(&rs, ws);
    struct gomap_sync_stats s;
    CHECK_EQ(gomap_sync_stats(rs.m, &s), 0);
    printf(": %zu ranges, %" PRIu64 " promotions, %" PRIu64 " dirty copies\n", ranges,
           s.promotions, s.dirty_copies);
    for (int t = 0; t < cfg->threads; t++)
        free(ws[t].seen);
    gomap_sync_free(rs.m);
}

static void test_stress(void)
{
    uint64_t seed = test_seed();
    const size_t ops = 100000 / WORK_DIV;
    for (int variant = HV_BUILTIN; variant < HV_COUNT; variant++) {
        /* Every key collides under the degenerate hash: keep chains short. */
        uint64_t large = variant == HV_BUILTIN ? 4096 : 1024;
        const config cfgs[] = {
            {4, 64, false, ops},
            {8, 64, false, ops / 2},
            {4, large, false, ops},
            {8, large, false, ops / 2},
            {4, 64, true, ops},
            {8, large, true, ops / 2},
        };
        for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
            run(&cfgs[i], variant, seed);
    }
}

int main(void)
{
    RUN(test_stress);
    printf("ok\n");
    return 0;
}
