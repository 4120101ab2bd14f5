/*
 * test_delegmap_stress.c — the delegation map under 8 threads, in
 * combining mode and with 1 and 3 workers (clean under ThreadSanitizer).
 *
 *   test_mixed         8 threads of seeded operations: keys of their own
 *                      (every answer checked against the thread's own
 *                      model: nobody else writes them), 64-byte values
 *                      written as 8 equal words (a torn value shows), and
 *                      compute counters on shared keys that must add up
 *                      exactly; half the threads work through submitted
 *                      batches of up to 40 operations with a queue depth of
 *                      8 (so they wait for room). Afterwards len, the
 *                      counters, validate and the stats (nobody waiting).
 *   test_backpressure  a client with queue_depth operations outstanding
 *                      is held (its first operation is a compute whose
 *                      callback waits for the test's signal, so nothing is
 *                      answered): a NOWAIT submit is refused (-EAGAIN,
 *                      counted), and a blocking submit from that client
 *                      waits and shows in stats.full_waiting; released,
 *                      every operation is answered and nothing is lost.
 * The waits for the other thread are bounded loops with short sleeps.
 */
#include "check.h"
#include "delegcheck.h"
#include "hashvariant.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

enum { THREADS = 8, OPS = 6000 / WORK_DIV, OWN_KEYS = 64, COUNTERS = 4, BATCH = 40 };

typedef struct {
    uint64_t w[8];
} rec64;

static rec64 rec_of(uint64_t x)
{
    rec64 r;
    for (int i = 0; i < 8; i++)
        r.w[i] = x;
    return r;
}

static void check_rec(const rec64 *r)
{
    for (int i = 1; i < 8; i++)
        CHECK_MSG(r->w[i] == r->w[0], "torn value: word %d %" PRIu64 ", word 0 %" PRIu64, i,
                  r->w[i], r->w[0]);
}

static int add_one(const void *key, void *val, bool *present, void *ctx)
{
    (void)key;
    (void)ctx;
    rec64 r;
    memcpy(&r, val, sizeof r);
    check_rec(&r);
    r = rec_of(r.w[0] + 1);
    memcpy(val, &r, sizeof r);
    *present = true;
    return 0;
}

typedef struct {
    gomap_deleg_t *m;
    unsigned id;
    uint64_t seed;
    uint64_t adds[COUNTERS];
    pthread_barrier_t *bar;
} worker;

static uint64_t own_key(unsigned id, uint64_t i) { return ((uint64_t)id + 1) << 32 | i; }

/* A batch of random operations on own keys and counters; checks and
 * applies the answers in order to the model (own keys) and the tally. */
static void batch_round(worker *w, uint64_t *rng, rec64 *model, bool *present)
{
    uint64_t keys[BATCH];
    rec64 vals[BATCH];
    gomap_deleg_op ops[BATCH];
    size_t n = 1 + test_rand_below(rng, BATCH);
    for (size_t i = 0; i < n; i++) {
        unsigned pick = (unsigned)test_rand_below(rng, 10);
        uint64_t ki = test_rand_below(rng, OWN_KEYS);
        keys[i] = pick == 9 ? test_rand_below(rng, COUNTERS) : own_key(w->id, ki);
        vals[i] = rec_of(test_rand(rng) >> 8);
        int kind = pick == 9 ? GOMAP_DELEG_COMPUTE : pick < 5 ? GOMAP_DELEG_GET
                 : pick < 8 ? GOMAP_DELEG_SET : GOMAP_DELEG_DELETE;
        ops[i] = (gomap_deleg_op){.kind = kind, .key = &keys[i], .val = &vals[i]};
        if (kind == GOMAP_DELEG_COMPUTE)
            ops[i].fn = add_one;
    }
    CHECK_EQ(gomap_deleg_submit(w->m, ops, n, 0), (int)n);
    CHECK_EQ(gomap_deleg_wait(w->m, ops, n), 0);
    for (size_t i = 0; i < n; i++) {
        CHECK_EQ(ops[i].status, 0);
        uint64_t ki = keys[i] & 0xFFFFFFFF;
        switch (ops[i].kind) {
        case GOMAP_DELEG_GET:
            CHECK_EQ(ops[i].result, present[ki]);
            if (present[ki])
                CHECK(memcmp(&vals[i], &model[ki], sizeof vals[i]) == 0);
            break;
        case GOMAP_DELEG_SET:
            CHECK_EQ(ops[i].result, 0);
            model[ki] = vals[i];
            present[ki] = true;
            break;
        case GOMAP_DELEG_DELETE:
            CHECK_EQ(ops[i].result, present[ki]);
            present[ki] = false;
            break;
        default:
            CHECK_EQ(ops[i].result, 0);
            w->adds[keys[i]]++;
            break;
        }
    }
}

static void sync_round(worker *w, uint64_t *rng, rec64 *model, bool *present)
{
    unsigned pick = (unsigned)test_rand_below(rng, 10);
    uint64_t ki = test_rand_below(rng, OWN_KEYS), k = own_key(w->id, ki);
    rec64 v = rec_of(test_rand(rng) >> 8), got;
    if (pick == 9) {
        uint64_t c = test_rand_below(rng, COUNTERS);
        CHECK_EQ(gomap_deleg_compute(w->m, &c, add_one, NULL), 0);
        w->adds[c]++;
    } else if (pick < 5) {
        bool found = gomap_deleg_get(w->m, &k, &got);
        CHECK_EQ(found, present[ki]);
        if (found)
            CHECK(memcmp(&got, &model[ki], sizeof got) == 0);
        else
            check_rec(&got);
    } else if (pick < 8) {
        CHECK_EQ(gomap_deleg_set(w->m, &k, &v), 0);
        model[ki] = v;
        present[ki] = true;
    } else {
        CHECK_EQ(gomap_deleg_delete(w->m, &k), present[ki]);
        present[ki] = false;
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    uint64_t rng = w->seed;
    rec64 model[OWN_KEYS];
    bool present[OWN_KEYS] = {false};
    pthread_barrier_wait(w->bar);
    for (unsigned i = 0; i < OPS; i++) {
        if (w->id & 1)
            batch_round(w, &rng, model, present);
        else
            sync_round(w, &rng, model, present);
    }
    return NULL;
}

static void mixed(unsigned workers)
{
    gomap_deleg_t *m = delegcheck_new_u64(0, sizeof(rec64), workers, 8);
    pthread_barrier_t bar;
    CHECK_EQ(pthread_barrier_init(&bar, NULL, THREADS), 0);
    worker w[THREADS];
    pthread_t t[THREADS];
    uint64_t seed = test_seed() ^ workers;
    for (unsigned i = 0; i < THREADS; i++) {
        w[i] = (worker){.m = m, .id = i, .seed = test_rand(&seed), .bar = &bar};
        CHECK_EQ(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    pthread_barrier_destroy(&bar);
    for (uint64_t c = 0; c < COUNTERS; c++) {
        uint64_t want = 0;
        for (unsigned i = 0; i < THREADS; i++)
            want += w[i].adds[c];
        rec64 got = rec_of(0);
        CHECK(gomap_deleg_get(m, &c, &got) == (want > 0));
        check_rec(&got);
        CHECK_MSG(got.w[0] == want, "counter %" PRIu64 ": %" PRIu64 ", %" PRIu64 " adds", c,
                  got.w[0], want);
    }
    CHECK_DELEG_VALID(m);
    gomap_deleg_stats_t st = delegcheck_stats(m);
    CHECK_EQ(st.full_waiting, 0);
    CHECK_EQ(st.entries, gomap_deleg_len(m));
    printf("   %s: %llu operations in %llu batches (mean %.1f), %llu passes, %llu waits for "
           "room, %llu sleeps\n", delegcheck_mode_name(workers), (unsigned long long)st.ops,
           (unsigned long long)st.batches, st.mean_batch, (unsigned long long)st.passes,
           (unsigned long long)st.full_waits, (unsigned long long)st.sleeps);
    gomap_deleg_free(m);
}

static void test_mixed(void)
{
    for (int i = 0; i < DELEGCHECK_NMODES; i++)
        mixed(delegcheck_modes[i]);
}

/* ------------------------------------------------------------------------ */
/* Backpressure                                                              */
/* ------------------------------------------------------------------------ */

enum { DEPTH = 4, MORE = 6, WAIT_ROUNDS = 20000 };

typedef struct {
    gomap_deleg_t *m;
    atomic_int held;      /* the callback runs */
    atomic_int release;   /* the callback may return */
    atomic_int phase;     /* the client's progress */
    int refused;          /* NOWAIT submit's count */
} bp_ctx;

static void nap(void)
{
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
}

static int hold_fn(const void *key, void *val, bool *present, void *ctx)
{
    (void)key;
    (void)val;
    bp_ctx *b = ctx;
    *present = true;
    atomic_store(&b->held, 1);
    for (int i = 0; i < WAIT_ROUNDS && !atomic_load(&b->release); i++)
        nap();
    CHECK(atomic_load(&b->release));
    return 0;
}

/* The client: DEPTH operations in flight (the first one held), then more. */
static void *bp_client(void *arg)
{
    bp_ctx *b = arg;
    uint64_t keys[DEPTH + MORE], vals[DEPTH + MORE];
    gomap_deleg_op ops[DEPTH + MORE];
    for (unsigned i = 0; i < DEPTH + MORE; i++) {
        keys[i] = 100 + i;
        vals[i] = i;
        ops[i] = (gomap_deleg_op){.kind = GOMAP_DELEG_SET, .key = &keys[i], .val = &vals[i]};
    }
    ops[0] = (gomap_deleg_op){.kind = GOMAP_DELEG_COMPUTE, .key = &keys[0], .fn = hold_fn,
                              .ctx = b};
    CHECK_EQ(gomap_deleg_submit(b->m, ops, DEPTH, 0), DEPTH);
    /* Served by the worker, or in combining mode by the helper thread
     * (serve_helper): this client never combines while its first
     * operation would hold it. */
    for (int i = 0; i < WAIT_ROUNDS && !atomic_load(&b->held); i++)
        nap();
    b->refused = DEPTH - gomap_deleg_submit(b->m, &ops[DEPTH], DEPTH, GOMAP_DELEG_NOWAIT);
    atomic_store(&b->phase, 1);
    CHECK_EQ(gomap_deleg_submit(b->m, &ops[DEPTH], MORE, 0), MORE); /* waits for room */
    CHECK_EQ(gomap_deleg_wait(b->m, ops, DEPTH + MORE), 0);
    for (unsigned i = 0; i < DEPTH + MORE; i++)
        CHECK(ops[i].status == 0 && ops[i].result == 0);
    atomic_store(&b->phase, 2);
    return NULL;
}

/* Combining mode: calls into the map until one of its calls, combining,
 * runs the held callback (and waits in it until released). */
static void *serve_helper(void *arg)
{
    bp_ctx *b = arg;
    uint64_t k = 1;
    for (int i = 0; i < WAIT_ROUNDS && !atomic_load(&b->held); i++)
        (void)gomap_deleg_get(b->m, &k, NULL);
    return NULL;
}

static void backpressure(unsigned workers)
{
    bp_ctx b;
    memset(&b, 0, sizeof b);
    /* The degenerate hash puts every key in one partition: the held one. */
    b.m = delegcheck_new_u64(HV_DEGENERATE, 8, workers, DEPTH);
    pthread_t t, helper;
    CHECK_EQ(pthread_create(&t, NULL, bp_client, &b), 0);
    if (workers == 0)
        CHECK_EQ(pthread_create(&helper, NULL, serve_helper, &b), 0);
    int i = 0;
    for (; i < WAIT_ROUNDS && !atomic_load(&b.phase); i++)
        nap();
    CHECK(atomic_load(&b.phase) >= 1);
    gomap_deleg_stats_t st;
    for (i = 0; i < WAIT_ROUNDS; i++, nap()) {
        st = delegcheck_stats(b.m);
        if (st.full_waiting == 1)
            break;
    }
    CHECK_EQ(st.full_waiting, 1);
    CHECK_EQ(b.refused, DEPTH);
    CHECK_EQ(st.refused, DEPTH);
    CHECK_EQ(st.full_waits, 0); /* counted when the wait ends */
    atomic_store(&b.release, 1);
    CHECK_EQ(pthread_join(t, NULL), 0);
    if (workers == 0)
        CHECK_EQ(pthread_join(helper, NULL), 0);
    st = delegcheck_stats(b.m);
    CHECK_EQ(st.full_waiting, 0);
    CHECK(st.full_waits >= 1);
    CHECK_EQ(gomap_deleg_len(b.m), DEPTH + MORE);
    for (uint64_t k = 100; k < 100 + DEPTH + MORE; k++)
        CHECK(gomap_deleg_get(b.m, &k, NULL));
    CHECK_DELEG_VALID(b.m);
    printf("   %s: held client waited for room (stats showed it), %d refused, nothing lost\n",
           delegcheck_mode_name(workers), b.refused);
    gomap_deleg_free(b.m);
}

static void test_backpressure(void)
{
    for (int i = 0; i < DELEGCHECK_NMODES; i++)
        backpressure(delegcheck_modes[i]);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_seed();
    RUN(test_mixed);
    RUN(test_backpressure);
    printf("ok\n");
    return 0;
}
