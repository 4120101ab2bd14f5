/*
 * test_shard_reentrancy.c — a callback that calls back into the sharded map
 * it runs under is reported, not hung (gomap/shardmap.h, "Thread-safety"):
 *
 *   fatal error: re-entrant call into a locked gomap shard (would deadlock)
 *
 * through the misuse report and the fault handler of gomap/diag.h, then
 * abort(). Each case runs in a forked child (child.h) with a hang guard
 * (alarm): a child that hangs, exits, or dies any other way fails the test.
 *
 *   test_reported     compute, visit and range callbacks each calling every
 *                     call that takes a shard of the same map: get,
 *                     get_many, set,
 *                     delete, load_or_store, compute (same key, and a key of
 *                     another shard: the rule is "the same map", not "the same
 *                     shard"), visit, range, len, snapshot, clear. (Stats
 *                     take no lock and are allowed: test_shardmap_diag.)
 *                     With 16 shards, and the four cases the header's rule
 *                     is built on also with 1 shard. The child must die of
 *                     SIGABRT with the line above on stderr and no sanitizer
 *                     report; the installed fault handler must have been
 *                     called with that message, its context, and the report
 *                     that stderr shows; the inner call must not return.
 *   test_not_reported callbacks calling into other sharded maps, nested two
 *                     levels (A's compute -> B's compute -> C's get, and
 *                     visit/range -> other maps), and calls into A after its
 *                     callback returned: every answer right, exit 0, silent
 *                     stderr, handler not called.
 *   test_other_thread a callback on A calling into B while another thread
 *                     holds B's only shard (in a compute or a range
 *                     callback): the call waits, then sees that thread's
 *                     write; no report.
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "child.h"
#include "deathcheck.h"
#include "hashvariant.h"
#include "shardcheck.h"

#include <gomap/diag.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#define REENTRY_MSG "re-entrant call into a locked gomap shard (would deadlock)"

enum { ALARM_SECONDS = 20, FILL = 64, SHARDS = 16 };

/* ------------------------------------------------------------------------ */
/* Re-entrant calls                                                          */
/* ------------------------------------------------------------------------ */

typedef enum { OUT_COMPUTE, OUT_VISIT, OUT_RANGE, OUT_COUNT } outer_op;
static const char *const outer_names[] = {"compute", "visit", "range"};

typedef enum {
    IN_GET, IN_GET_MANY, IN_SET, IN_DELETE, IN_LOAD_OR_STORE, IN_COMPUTE_SAME, IN_COMPUTE_OTHER, IN_VISIT,
    IN_RANGE, IN_LEN, IN_SNAPSHOT, IN_CLEAR, IN_COUNT
} inner_op;
static const char *const inner_names[] = {
    "get", "get_many", "set", "delete", "load_or_store", "compute (same key)",
    "compute (key of another shard)", "visit", "range", "len", "snapshot", "clear",
};

typedef struct {
    outer_op outer;
    inner_op inner;
    unsigned shards;
} reentry_case;

typedef struct {
    gomap_shard_t *m;
    inner_op inner;
    uint64_t k1, k2;    /* the outer key; a key of another shard */
} reentry_ctx;

static int noop_compute(const void *key, void *val, bool *present, void *ctx)
{
    (void)key;
    (void)val;
    (void)present;
    (void)ctx;
    return 0;
}

static void noop_visit(const void *key, void *val, void *ctx)
{
    (void)key;
    (void)val;
    (void)ctx;
}

static bool noop_range(const void *key, const void *val, void *ctx)
{
    (void)key;
    (void)val;
    (void)ctx;
    return true;
}

/* The inner call, from inside a callback that holds k1's shard. */
static void reenter(reentry_ctx *c)
{
    child_info("entered %s\n", inner_names[c->inner]);
    uint64_t v = 5, out;
    bool loaded;
    gomap_t *snap = NULL;
    switch (c->inner) {
    case IN_GET: (void)gomap_shard_get(c->m, &c->k1, &out); break;
    case IN_GET_MANY: (void)gomap_shard_get_many(c->m, &c->k1, 1, &out, NULL); break;
    case IN_SET: (void)gomap_shard_set(c->m, &c->k1, &v); break;
    case IN_DELETE: (void)gomap_shard_delete(c->m, &c->k1); break;
    case IN_LOAD_OR_STORE: (void)gomap_shard_load_or_store(c->m, &c->k1, &v, &out, &loaded); break;
    case IN_COMPUTE_SAME: (void)gomap_shard_compute(c->m, &c->k1, noop_compute, NULL); break;
    case IN_COMPUTE_OTHER: (void)gomap_shard_compute(c->m, &c->k2, noop_compute, NULL); break;
    case IN_VISIT: (void)gomap_shard_visit(c->m, &c->k2, noop_visit, NULL); break;
    case IN_RANGE: gomap_shard_range(c->m, noop_range, NULL); break;
    case IN_LEN: (void)gomap_shard_len(c->m); break;
    case IN_SNAPSHOT: (void)gomap_shard_snapshot(c->m, &snap); break;
    case IN_CLEAR: gomap_shard_clear(c->m); break;
    case IN_COUNT: break;
    }
    child_info("survived\n");
}

static int reenter_compute(const void *key, void *val, bool *present, void *ctx)
{
    (void)key;
    (void)val;
    (void)present;
    reenter(ctx);
    return 0;
}

static void reenter_visit(const void *key, void *val, void *ctx)
{
    (void)key;
    (void)val;
    reenter(ctx);
}

static bool reenter_range(const void *key, const void *val, void *ctx)
{
    reentry_ctx *c = ctx;
    (void)val;
    c->k1 = *(const uint64_t *)key; /* the shard being held is this key's */
    reenter(ctx);
    return false;
}

static void reentry_body(void *arg)
{
    const reentry_case *rc = arg;
    gomap_set_fault_handler(death_info_handler, death_token());
    gomap_shard_t *m = shardcheck_new_u64(HV_BUILTIN, 8, rc->shards);
    for (uint64_t k = 0; k < FILL; k++)
        CHECK_EQ(gomap_shard_set(m, &k, &k), 0);
    reentry_ctx c = {m, rc->inner, 3, 3};
    if (rc->shards > 1) {
        unsigned s1 = shardcheck_shard_of(m, &c.k1);
        while (shardcheck_shard_of(m, &c.k2) == s1)
            c.k2++;
        CHECK(c.k2 < FILL);
    }
    child_info("map %p\n", (void *)m);
    switch (rc->outer) {
    case OUT_COMPUTE: (void)gomap_shard_compute(m, &c.k1, reenter_compute, &c); break;
    case OUT_VISIT: (void)gomap_shard_visit(m, &c.k1, reenter_visit, &c); break;
    default: gomap_shard_range(m, reenter_range, &c); break;
    }
    child_info("outer call returned\n");
}

static void run_reported(outer_op outer, inner_op inner, unsigned shards)
{
    reentry_case rc = {outer, inner, shards};
    char label[128];
    snprintf(label, sizeof label, "%s callback calls %s, %u shard%s", outer_names[outer],
             inner_names[inner], shards, shards == 1 ? "" : "s");
    child_result r = run_child(reentry_body, &rc, ALARM_SECONDS);
    death_expect_reported(label, &r, REENTRY_MSG, "the re-entrant call", "the callback");
    child_result_free(&r);
}

static void test_reported(void)
{
    /* The header's own examples first, with one shard and with many. */
    static const unsigned counts[] = {1, SHARDS};
    for (int s = 0; s < 2; s++) {
        run_reported(OUT_COMPUTE, IN_GET, counts[s]);
        run_reported(OUT_VISIT, IN_SET, counts[s]);
        run_reported(OUT_RANGE, IN_LEN, counts[s]);
    }
    run_reported(OUT_COMPUTE, IN_COMPUTE_OTHER, SHARDS);
    size_t n = 7;
    for (int o = 0; o < OUT_COUNT; o++) {
        for (int i = 0; i < IN_COUNT; i++) {
            run_reported((outer_op)o, (inner_op)i, SHARDS);
            n++;
        }
    }
    printf("   %zu re-entrant calls, each reported\n", n);
}

/* ------------------------------------------------------------------------ */
/* Calls into other maps                                                     */
/* ------------------------------------------------------------------------ */

typedef struct {
    gomap_shard_t *a, *b, *c;
    uint64_t got_c;        /* what C's get returned, two callbacks deep */
    int depth_reached;
} nest;

/* B's compute callback: reads C (two levels below A's callback). */
static int b_compute(const void *key, void *val, bool *present, void *ctx)
{
    nest *n = ctx;
    (void)key;
    uint64_t k = 7;
    CHECK(gomap_shard_get(n->c, &k, &n->got_c));
    uint64_t v = n->got_c + 1;
    memcpy(val, &v, 8);
    *present = true;
    n->depth_reached = 2;
    return 0;
}

/* A's compute callback: uses B (get, set, compute with a callback of its
 * own) and C. */
static int a_compute(const void *key, void *val, bool *present, void *ctx)
{
    nest *n = ctx;
    (void)key;
    (void)present;
    uint64_t k = 7, v = 0;
    CHECK(gomap_shard_get(n->b, &k, &v));
    uint64_t nv = v + 1;
    CHECK_EQ(gomap_shard_set(n->b, &k, &nv), 0);
    uint64_t nk = 1000;
    CHECK_EQ(gomap_shard_compute(n->b, &nk, b_compute, n), 0);
    CHECK_EQ(gomap_shard_len(n->c), FILL);
    uint64_t out = 42;
    memcpy(val, &out, 8);
    return 0;
}

/* C's compute callback: reads B. */
static int c_compute(const void *key, void *val, bool *present, void *ctx)
{
    nest *n = ctx;
    uint64_t v = 0;
    CHECK(gomap_shard_get(n->b, key, &v));
    v++;
    memcpy(val, &v, 8);
    *present = true;
    return 0;
}

/* A's visit callback: a set on B, then a compute on C whose callback reads
 * B (A -> C -> B). */
static void a_visit(const void *key, void *val, void *ctx)
{
    nest *n = ctx;
    (void)key;
    (void)val;
    uint64_t k = 8, v = 9;
    CHECK_EQ(gomap_shard_set(n->b, &k, &v), 0);
    CHECK_EQ(gomap_shard_compute(n->c, &k, c_compute, n), 0);
}

static bool a_range(const void *key, const void *val, void *ctx)
{
    nest *n = ctx;
    (void)val;
    uint64_t v = 0;
    CHECK(gomap_shard_get(n->b, key, &v));
    gomap_t *snap = NULL;
    CHECK_EQ(gomap_shard_snapshot(n->c, &snap), 0);
    CHECK(gomap_len(snap) >= FILL);
    gomap_free(snap);
    return true;
}

static gomap_shard_t *filled(unsigned shards, uint64_t mul)
{
    gomap_shard_t *m = shardcheck_new_u64(HV_BUILTIN, 8, shards);
    for (uint64_t k = 0; k < FILL; k++) {
        uint64_t v = k * mul;
        CHECK_EQ(gomap_shard_set(m, &k, &v), 0);
    }
    return m;
}

static void nested_body(void *arg)
{
    unsigned shards = *(const unsigned *)arg;
    gomap_set_fault_handler(death_info_handler, death_token());
    nest n = {filled(shards, 1), filled(shards, 100), filled(shards, 10000), 0, 0};
    uint64_t k = 3, v = 0;

    /* A's compute -> B's get, set, compute -> its callback -> C's get. */
    CHECK_EQ(gomap_shard_compute(n.a, &k, a_compute, &n), 0);
    CHECK_EQ(n.depth_reached, 2);
    CHECK_EQ(n.got_c, 70000);
    CHECK(gomap_shard_get(n.a, &k, &v) && v == 42);
    CHECK(gomap_shard_get(n.b, &(uint64_t){7}, &v) && v == 701);
    CHECK(gomap_shard_get(n.b, &(uint64_t){1000}, &v) && v == 70001);

    /* After the callbacks returned, A, B and C are free again: more
     * callbacks on A, and plain calls from A's visit and range callbacks
     * into B and C. */
    CHECK(gomap_shard_visit(n.a, &k, a_visit, &n));
    CHECK(gomap_shard_get(n.c, &(uint64_t){8}, &v) && v == 10);
    gomap_shard_range(n.a, a_range, &n);
    CHECK_EQ(gomap_shard_compute(n.a, &k, a_compute, &n), 0);
    CHECK_EQ(gomap_shard_len(n.a), FILL);
    CHECK_EQ(gomap_shard_len(n.b), FILL + 1);
    CHECK(gomap_shard_get(n.b, &(uint64_t){7}, &v) && v == 702);
    CHECK_SHARD_VALID(n.a);
    CHECK_SHARD_VALID(n.b);
    CHECK_SHARD_VALID(n.c);
    gomap_shard_free(n.a);
    gomap_shard_free(n.b);
    gomap_shard_free(n.c);
    child_info("done 1\n");
}

static void test_not_reported(void)
{
    static const unsigned counts[] = {1, SHARDS};
    for (int s = 0; s < 2; s++) {
        char label[64];
        snprintf(label, sizeof label, "nested calls into other maps, %u shards", counts[s]);
        child_result r = run_child(nested_body, (void *)&counts[s], ALARM_SECONDS);
        death_expect_clean(label, &r);
        child_result_free(&r);
    }
}

/* ------------------------------------------------------------------------ */
/* Waiting for another thread is not re-entrancy                             */
/* ------------------------------------------------------------------------ */

typedef struct {
    gomap_shard_t *a, *b;
    bool holder_ranges;     /* the other thread holds B in a range, else a compute */
    atomic_int holding;     /* the other thread holds B's shard */
    atomic_int calling;     /* A's callback is about to call into B */
    uint64_t seen;
} wait_ctx;

static void pause_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void hold_until_called(wait_ctx *w)
{
    atomic_store_explicit(&w->holding, 1, memory_order_release);
    while (!atomic_load_explicit(&w->calling, memory_order_acquire))
        pause_ms(1);
    pause_ms(50); /* let the other call reach B's lock and wait */
}

static int holder_compute(const void *key, void *val, bool *present, void *ctx)
{
    (void)key;
    (void)present;
    hold_until_called(ctx);
    uint64_t v = 777;
    memcpy(val, &v, 8);
    return 0;
}

static bool holder_range(const void *key, const void *val, void *ctx)
{
    (void)key;
    (void)val;
    hold_until_called(ctx);
    return false;
}

static void *holder_thread(void *arg)
{
    wait_ctx *w = arg;
    uint64_t k = 5;
    if (w->holder_ranges)
        gomap_shard_range(w->b, holder_range, w);
    else
        CHECK_EQ(gomap_shard_compute(w->b, &k, holder_compute, w), 0);
    return NULL;
}

static int caller_compute(const void *key, void *val, bool *present, void *ctx)
{
    wait_ctx *w = ctx;
    (void)key;
    (void)val;
    (void)present;
    uint64_t k = 5, v = 888;
    atomic_store_explicit(&w->calling, 1, memory_order_release);
    if (w->holder_ranges)
        CHECK_EQ(gomap_shard_set(w->b, &k, &v), 0); /* waits for the range */
    else
        CHECK(gomap_shard_get(w->b, &k, &w->seen)); /* waits for the compute */
    return 0;
}

static void wait_body(void *arg)
{
    bool ranges = *(const bool *)arg;
    gomap_set_fault_handler(death_info_handler, death_token());
    wait_ctx w = {filled(SHARDS, 1), filled(1, 1), ranges, 0, 0, 0};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, holder_thread, &w), 0);
    while (!atomic_load_explicit(&w.holding, memory_order_acquire))
        pause_ms(1);
    uint64_t k = 9;
    CHECK_EQ(gomap_shard_compute(w.a, &k, caller_compute, &w), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    uint64_t v = 0;
    CHECK(gomap_shard_get(w.b, &(uint64_t){5}, &v));
    if (ranges) {
        CHECK_EQ(v, 888);
    } else {
        /* The get started while the compute held the shard: it is ordered
         * after the compute's commit. */
        CHECK_EQ(w.seen, 777);
        CHECK_EQ(v, 777);
    }
    gomap_shard_free(w.a);
    gomap_shard_free(w.b);
    child_info("done 1\n");
}

static void test_other_thread(void)
{
    static const bool ranges[] = {false, true};
    for (int i = 0; i < 2; i++) {
        char label[96];
        snprintf(label, sizeof label, "A's callback calls into B while another thread holds B "
                 "(%s)", ranges[i] ? "range" : "compute");
        child_result r = run_child(wait_body, (void *)&ranges[i], ALARM_SECONDS);
        death_expect_clean(label, &r);
        child_result_free(&r);
    }
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_seed();
    RUN(test_reported);
    RUN(test_not_reported);
    RUN(test_other_thread);
    printf("ok\n");
    return 0;
}
