/*
 * test_delegmap.c — the delegation map's contract (gomap/delegmap.h), in
 * combining mode and with 1 and 3 workers.
 *
 *   test_bad_options   gomap_deleg_new refuses NULL arguments, queue_depth
 *                      0 and over GOMAP_DELEG_QUEUE_MAX, too many workers, a
 *                      mem_limit and core options gomap_new refuses:
 *                      -EINVAL, *out NULL.
 *   test_basic         get, set, delete, compute (insert, modify, delete,
 *                      abandon with its own value), len, stats, validate;
 *                      NULL arguments everywhere; val_out NULL; string keys
 *                      copied (the caller's bytes overwritten after set).
 *   test_async         submit of a mixed batch (bad operations marked
 *                      -EINVAL and not posted), wait, poll, the answers of
 *                      every kind; operations on one key take effect in the
 *                      order posted; NOWAIT on a full queue refuses the rest
 *                      in order (-EAGAIN, counted); a blocking submit of
 *                      many more operations than queue_depth posts them all;
 *                      combining: a lone thread's synchronous calls run
 *                      directly, but behind its own unanswered submits.
 *   test_many_threads  GOMAP_DELEG_CLIENTS_MAX + 6 threads hold clients at
 *                      once: the ones past the bound go through the shared
 *                      client (stats.shared_ops), every answer right; when
 *                      they have exited every slot is free again
 *                      (stats.clients 0), and new threads register.
 *   test_exit_and_free threads that registered and exited, one thread that
 *                      uses more maps than it remembers (its oldest
 *                      registrations given back), maps freed while threads
 *                      that used them still run and exit after: nothing
 *                      leaks (ASan) and nothing is touched after free.
 */
#include "check.h"
#include "delegcheck.h"

#include <errno.h>
#include <sched.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

static gomap_deleg_options u64_opts(unsigned workers, unsigned depth)
{
    gomap_deleg_options o;
    memset(&o, 0, sizeof o);
    o.map = shardcheck_u64_options(8);
    o.workers = workers;
    o.queue_depth = depth;
    return o;
}

static void expect_einval(const gomap_deleg_options *o, const char *what)
{
    gomap_deleg_t *m = (gomap_deleg_t *)&m;
    int rc = gomap_deleg_new(&m, o);
    CHECK_MSG(rc == -EINVAL && m == NULL, "%s: rc %d", what, rc);
}

static void test_bad_options(void)
{
    gomap_deleg_options o = u64_opts(0, 8);
    CHECK_EQ(gomap_deleg_new(NULL, &o), -EINVAL);
    gomap_deleg_t *m = (gomap_deleg_t *)&m;
    CHECK_EQ(gomap_deleg_new(&m, NULL), -EINVAL);
    CHECK(m == NULL);
    o.queue_depth = 0;
    expect_einval(&o, "queue_depth 0");
    o.queue_depth = GOMAP_DELEG_QUEUE_MAX + 1;
    expect_einval(&o, "queue_depth too large");
    o = u64_opts(GOMAP_DELEG_WORKERS_MAX + 1, 8);
    expect_einval(&o, "too many workers");
    o = u64_opts(1, 8);
    o.map.mem_limit = 1 << 20;
    expect_einval(&o, "mem_limit");
    o = u64_opts(0, 8);
    o.map.key_kind = (gomap_key_kind)99;
    expect_einval(&o, "bad key kind");
    o = u64_opts(0, GOMAP_DELEG_QUEUE_MAX);
    CHECK_EQ(gomap_deleg_new(&m, &o), 0);
    gomap_deleg_free(m);
    gomap_deleg_free(NULL);
}

static int add_fn(const void *key, void *val, bool *present, void *ctx)
{
    (void)key;
    uint64_t v;
    memcpy(&v, val, 8);
    v += *(const uint64_t *)ctx;
    memcpy(val, &v, 8);
    *present = true;
    return 0;
}

static void basic_u64(unsigned workers)
{
    gomap_deleg_t *m = delegcheck_new_u64(0, 8, workers, 4);
    uint64_t k = 7, v = 70, out = 1;
    CHECK(!gomap_deleg_get(m, &k, &out) && out == 0);
    CHECK_EQ(gomap_deleg_set(m, &k, &v), 0);
    CHECK(gomap_deleg_get(m, &k, &out) && out == 70);
    CHECK(gomap_deleg_get(m, &k, NULL));
    CHECK_EQ(gomap_deleg_len(m), 1);
    uint64_t add = 5;
    CHECK_EQ(gomap_deleg_compute(m, &k, add_fn, &add), 0);
    CHECK(gomap_deleg_get(m, &k, &out) && out == 75);
    uint64_t k2 = 8;
    CHECK_EQ(gomap_deleg_compute(m, &k2, add_fn, &add), 0); /* inserts 0 + 5 */
    CHECK(gomap_deleg_get(m, &k2, &out) && out == 5);
    uint64_t nine = 9;
    shard_cop c = {.mode = COP_ABANDON, .val_size = 8, .abandon_rc = 42, .scribble = true};
    CHECK_EQ(delegcheck_compute(m, &k, &c), 42);
    CHECK(c.calls == 1 && c.was_present);
    CHECK_EQ(delegcheck_compute(m, &nine, &c), 42);
    CHECK(c.calls == 1 && !c.was_present && c.zeroed);
    CHECK(gomap_deleg_get(m, &k, &out) && out == 75);
    CHECK(!gomap_deleg_get(m, &nine, &out));
    c = (shard_cop){.mode = COP_DELETE, .val_size = 8};
    CHECK_EQ(delegcheck_compute(m, &k2, &c), 0);
    CHECK(!gomap_deleg_get(m, &k2, &out));
    CHECK(gomap_deleg_delete(m, &k));
    CHECK(!gomap_deleg_delete(m, &k));
    CHECK_EQ(gomap_deleg_len(m), 0);

    /* Bad arguments. */
    CHECK(!gomap_deleg_get(NULL, &k, &out));
    out = 3;
    CHECK(!gomap_deleg_get(m, NULL, &out) && out == 0);
    CHECK_EQ(gomap_deleg_set(NULL, &k, &v), -EINVAL);
    CHECK_EQ(gomap_deleg_set(m, NULL, &v), -EINVAL);
    CHECK_EQ(gomap_deleg_set(m, &k, NULL), -EINVAL);
    CHECK(!gomap_deleg_delete(NULL, &k));
    CHECK(!gomap_deleg_delete(m, NULL));
    CHECK_EQ(gomap_deleg_compute(NULL, &k, add_fn, &add), -EINVAL);
    CHECK_EQ(gomap_deleg_compute(m, NULL, add_fn, &add), -EINVAL);
    CHECK_EQ(gomap_deleg_compute(m, &k, NULL, &add), -EINVAL);
    CHECK_EQ(gomap_deleg_len(NULL), 0);
    CHECK_EQ(gomap_deleg_stats(NULL, NULL), -EINVAL);
    CHECK_EQ(gomap_deleg_stats(m, NULL), -EINVAL);
    CHECK_EQ(gomap_deleg_validate(NULL, NULL, 0), -EINVAL);

    for (uint64_t i = 0; i < 1000; i++)
        CHECK_EQ(gomap_deleg_set(m, &i, &i), 0);
    CHECK_EQ(gomap_deleg_len(m), 1000);
    gomap_deleg_stats_t st = delegcheck_stats(m);
    CHECK_EQ(st.workers, workers);
    CHECK_EQ(st.partitions, workers ? workers : 1);
    CHECK_EQ(st.clients, 1);
    CHECK_EQ(st.queue_depth, 4);
    CHECK_EQ(st.entries, 1000);
    CHECK_EQ(st.ops, 1000 + 16);
    if (workers) /* every call went through the worker's passes */
        CHECK(st.direct_ops == 0 && st.batches >= 1 && st.passes >= 1 && st.mean_batch >= 1.0);
    else /* a lone caller always finds nobody combining */
        CHECK(st.direct_ops == st.ops && st.batches == 0 && st.passes == 0);
    CHECK_EQ(st.full_waits, 0);
    CHECK_EQ(st.full_waiting, 0);
    CHECK_EQ(st.shared_ops, 0);
    CHECK_DELEG_VALID(m);
    gomap_deleg_free(m);
}

static void basic_str(unsigned workers)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = GOMAP_KEY_STR;
    o.val_size = 4;
    gomap_deleg_t *m = delegcheck_new(&o, workers, 2);
    char buf[32] = "hello, delegation";
    gomap_str k = {buf, strlen(buf)};
    uint32_t v = 11, out = 0;
    CHECK_EQ(gomap_deleg_set(m, &k, &v), 0);
    memset(buf, 'x', sizeof buf - 1); /* the map holds its own copy */
    gomap_str k2 = {"hello, delegation", 17};
    CHECK(gomap_deleg_get(m, &k2, &out) && out == 11);
    gomap_str bad = {NULL, 3};
    CHECK_EQ(gomap_deleg_set(m, &bad, &v), -EINVAL);
    CHECK(!gomap_deleg_get(m, &bad, &out));
    CHECK_DELEG_VALID(m);
    gomap_deleg_free(m);
}

static void test_basic(void)
{
    for (int i = 0; i < DELEGCHECK_NMODES; i++) {
        basic_u64(delegcheck_modes[i]);
        basic_str(delegcheck_modes[i]);
    }
}

/* ------------------------------------------------------------------------ */
/* Asynchronous operations                                                   */
/* ------------------------------------------------------------------------ */

static gomap_deleg_op op_of(int kind, const uint64_t *key, uint64_t *val)
{
    gomap_deleg_op op;
    memset(&op, 0, sizeof op);
    op.kind = kind;
    op.key = key;
    op.val = val;
    return op;
}

static void async_mixed(unsigned workers)
{
    gomap_deleg_t *m = delegcheck_new_u64(0, 8, workers, 8);
    enum { N = 12 };
    uint64_t keys[N], vals[N];
    gomap_deleg_op ops[N];
    for (int i = 0; i < N; i++)
        keys[i] = (uint64_t)i % 3; /* keys 0, 1, 2 repeated */
    uint64_t add = 10;
    /* In order on each key: set, get, compute +10, get; a bad kind, a NULL
     * key, a set without a value, a compute without fn. */
    for (int i = 0; i < 3; i++) {
        vals[i] = 100 + (uint64_t)i;
        ops[i] = op_of(GOMAP_DELEG_SET, &keys[i], &vals[i]);
        ops[3 + i] = op_of(GOMAP_DELEG_GET, &keys[i], &vals[3 + i]);
        ops[6 + i] = op_of(GOMAP_DELEG_COMPUTE, &keys[i], NULL);
        ops[6 + i].fn = add_fn;
        ops[6 + i].ctx = &add;
    }
    ops[9] = op_of(GOMAP_DELEG_GET, &keys[0], &vals[9]);
    ops[10] = op_of(77, &keys[1], &vals[10]);
    ops[11] = op_of(GOMAP_DELEG_SET, NULL, &vals[11]);
    CHECK_EQ(gomap_deleg_submit(m, ops, N, 0), 10);
    CHECK_EQ(ops[10].status, -EINVAL);
    CHECK_EQ(ops[11].status, -EINVAL);
    CHECK_EQ(gomap_deleg_wait(m, ops, N), 0);
    CHECK_EQ(gomap_deleg_poll(m, ops, N), N);
    for (int i = 0; i < 3; i++) {
        CHECK(ops[i].status == 0 && ops[i].result == 0);
        CHECK(ops[3 + i].status == 0 && ops[3 + i].result == 1 && vals[3 + i] == 100u + (unsigned)i);
        CHECK(ops[6 + i].status == 0 && ops[6 + i].result == 0);
    }
    CHECK(ops[9].result == 1 && vals[9] == 110);
    gomap_deleg_op bad = op_of(GOMAP_DELEG_COMPUTE, &keys[0], NULL);
    CHECK_EQ(gomap_deleg_submit(m, &bad, 1, 0), 0);
    CHECK_EQ(bad.status, -EINVAL);
    CHECK_EQ(gomap_deleg_submit(m, &bad, 1, 2), -EINVAL);
    CHECK_EQ(gomap_deleg_submit(NULL, &bad, 1, 0), -EINVAL);
    CHECK_EQ(gomap_deleg_submit(m, NULL, 1, 0), -EINVAL);
    CHECK_EQ(gomap_deleg_submit(m, NULL, 0, 0), 0);
    CHECK_EQ(gomap_deleg_wait(NULL, ops, 1), -EINVAL);
    CHECK_EQ(gomap_deleg_poll(m, NULL, 1), -EINVAL);
    CHECK_DELEG_VALID(m);
    gomap_deleg_free(m);
}

/* A queue of 4: NOWAIT posts 4 of 10 (the rest -EAGAIN, in order); then a
 * blocking submit of 200 sets posts all, and every one lands. */
static void async_full(unsigned workers)
{
    gomap_deleg_t *m = delegcheck_new_u64(0, 8, workers, 4);
    enum { N = 200 };
    static uint64_t keys[N], vals[N];
    static gomap_deleg_op ops[N];
    for (int i = 0; i < N; i++) {
        keys[i] = (uint64_t)i;
        vals[i] = (uint64_t)i * 3;
        ops[i] = op_of(GOMAP_DELEG_SET, &keys[i], &vals[i]);
    }
    int posted = gomap_deleg_submit(m, ops, 10, GOMAP_DELEG_NOWAIT);
    /* A worker may drain the queue meanwhile; in combining mode nothing is
     * served before a wait, so exactly 4 are posted. */
    CHECK(posted >= 4 && posted <= 10);
    if (workers == 0)
        CHECK_EQ(posted, 4);
    for (int i = posted; i < 10; i++)
        CHECK_EQ(ops[i].status, -EAGAIN);
    CHECK_EQ(gomap_deleg_wait(m, ops, 10), 0);
    gomap_deleg_stats_t st = delegcheck_stats(m);
    CHECK_EQ(st.refused, (uint64_t)(10 - posted));
    CHECK_EQ(gomap_deleg_submit(m, ops, N, 0), N);
    CHECK_EQ(gomap_deleg_wait(m, ops, N), 0);
    for (int i = 0; i < N; i++)
        CHECK(ops[i].status == 0 && ops[i].result == 0);
    CHECK_EQ(gomap_deleg_len(m), N);
    st = delegcheck_stats(m);
    if (workers == 0)
        CHECK(st.full_waits >= 1); /* nobody serves until the submitter does */
    CHECK_EQ(st.full_waiting, 0);
    CHECK_DELEG_VALID(m);
    gomap_deleg_free(m);
}

/* Direct calls: in combining mode a lone thread's synchronous calls run
 * directly (no pass, no batch); with operations of its own submitted and
 * not yet answered they go behind them through the ring, so a get sees
 * the submitted set. With workers nothing runs directly. */
static void async_then_direct(unsigned workers)
{
    gomap_deleg_t *m = delegcheck_new_u64(0, 8, workers, 8);
    uint64_t k = 5, v = 50, out = 0;
    CHECK_EQ(gomap_deleg_set(m, &k, &v), 0);
    CHECK(gomap_deleg_get(m, &k, &out) && out == 50);
    gomap_deleg_stats_t st = delegcheck_stats(m);
    CHECK_EQ(st.direct_ops, workers ? 0u : 2u);
    CHECK_EQ(st.ops, 2);
    if (workers == 0)
        CHECK_EQ(st.passes, 0);
    uint64_t v2 = 51;
    gomap_deleg_op set = op_of(GOMAP_DELEG_SET, &k, &v2);
    CHECK_EQ(gomap_deleg_submit(m, &set, 1, 0), 1);
    /* Combining: nobody has served the set yet; the get must follow it. */
    if (workers == 0)
        CHECK_EQ(set.status, -EINPROGRESS);
    CHECK(gomap_deleg_get(m, &k, &out) && out == 51);
    CHECK_EQ(gomap_deleg_wait(m, &set, 1), 0);
    CHECK(set.status == 0 && set.result == 0);
    st = delegcheck_stats(m);
    CHECK_EQ(st.direct_ops, workers ? 0u : 2u);
    CHECK_EQ(st.ops, 4);
    CHECK(gomap_deleg_delete(m, &k));
    CHECK_EQ(delegcheck_stats(m).direct_ops, workers ? 0u : 3u);
    CHECK_EQ(gomap_deleg_len(m), 0);
    CHECK_DELEG_VALID(m);
    gomap_deleg_free(m);
}

static void test_async(void)
{
    for (int i = 0; i < DELEGCHECK_NMODES; i++) {
        async_mixed(delegcheck_modes[i]);
        async_full(delegcheck_modes[i]);
        async_then_direct(delegcheck_modes[i]);
    }
}

/* ------------------------------------------------------------------------ */
/* Clients past the bound; threads that exit                                 */
/* ------------------------------------------------------------------------ */

enum { MANY = GOMAP_DELEG_CLIENTS_MAX + 6 };

typedef struct {
    gomap_deleg_t *m;
    pthread_barrier_t *bar;
    uint64_t id;
} many_arg;

static void *many_thread(void *arg)
{
    many_arg *a = arg;
    uint64_t k = a->id, v = a->id * 7, out = 0;
    CHECK_EQ(gomap_deleg_set(a->m, &k, &v), 0); /* registers */
    pthread_barrier_wait(a->bar);               /* every thread holds a client */
    CHECK(gomap_deleg_get(a->m, &k, &out) && out == v);
    gomap_deleg_op op = op_of(GOMAP_DELEG_GET, &k, &out);
    out = 0;
    CHECK_EQ(gomap_deleg_submit(a->m, &op, 1, 0), 1);
    CHECK_EQ(gomap_deleg_wait(a->m, &op, 1), 0);
    CHECK(op.result == 1 && out == v);
    pthread_barrier_wait(a->bar);
    return NULL;
}

static void run_many(gomap_deleg_t *m)
{
    pthread_t t[MANY];
    many_arg a[MANY];
    pthread_barrier_t bar;
    CHECK_EQ(pthread_barrier_init(&bar, NULL, MANY), 0);
    for (unsigned i = 0; i < MANY; i++) {
        a[i] = (many_arg){m, &bar, i};
        CHECK_EQ(pthread_create(&t[i], NULL, many_thread, &a[i]), 0);
    }
    for (unsigned i = 0; i < MANY; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    pthread_barrier_destroy(&bar);
}

static void many_threads(unsigned workers)
{
    gomap_deleg_t *m = delegcheck_new_u64(0, 8, workers, 2);
    run_many(m);
    gomap_deleg_stats_t st = delegcheck_stats(m);
    CHECK_EQ(st.clients, 0);
    /* Each thread past the bound makes three calls through the shared
     * client; in combining mode its two synchronous ones may run directly
     * instead, its submit never does. */
    uint64_t per_thread = workers ? 3 : 1;
    CHECK_MSG(st.shared_ops >= per_thread * (MANY - GOMAP_DELEG_CLIENTS_MAX), "%llu",
              (unsigned long long)st.shared_ops);
    CHECK_EQ(gomap_deleg_len(m), MANY);
    run_many(m); /* the slots are free again */
    CHECK_EQ(delegcheck_stats(m).clients, 0);
    CHECK_DELEG_VALID(m);
    gomap_deleg_free(m);
}

static void test_many_threads(void)
{
    for (int i = 0; i < DELEGCHECK_NMODES; i++)
        many_threads(delegcheck_modes[i]);
}

typedef struct {
    gomap_deleg_t *maps[12];
    unsigned n;
    uint64_t key;           /* the key set in every map */
    atomic_int used;        /* the thread's calls have returned */
    atomic_int go;
} exit_arg;

static void *use_and_exit(void *arg)
{
    exit_arg *a = arg;
    for (unsigned i = 0; i < a->n; i++) {
        uint64_t v = i;
        CHECK_EQ(gomap_deleg_set(a->maps[i], &a->key, &v), 0);
    }
    atomic_store(&a->used, 1);
    /* Wait until the main thread has freed the maps, then exit: the exit
     * must not touch them. */
    while (!atomic_load(&a->go))
        sched_yield();
    return NULL;
}

static void test_exit_and_free(void)
{
    for (int mode = 0; mode < DELEGCHECK_NMODES; mode++) {
        unsigned w = delegcheck_modes[mode];
        /* One thread registers with 12 maps (more than it remembers), then
         * exits with every map alive: each slot is free again. */
        exit_arg a;
        memset(&a, 0, sizeof a);
        a.n = 12;
        for (unsigned i = 0; i < a.n; i++)
            a.maps[i] = delegcheck_new_u64(0, 8, w, 2);
        atomic_store(&a.go, 1);
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, use_and_exit, &a), 0);
        CHECK_EQ(pthread_join(t, NULL), 0);
        for (unsigned i = 0; i < a.n; i++) {
            gomap_deleg_stats_t st = delegcheck_stats(a.maps[i]);
            CHECK_EQ(st.clients, 0);
            CHECK_EQ(st.entries, 1);
            CHECK_DELEG_VALID(a.maps[i]);
        }
        /* The same again, but the maps are freed before the thread exits. */
        atomic_store(&a.go, 0);
        atomic_store(&a.used, 0);
        a.key = 1000;
        CHECK_EQ(pthread_create(&t, NULL, use_and_exit, &a), 0);
        while (!atomic_load(&a.used))
            sched_yield();
        for (unsigned i = 0; i < a.n; i++)
            CHECK_EQ(gomap_deleg_len(a.maps[i]), 2);
        for (unsigned i = 0; i < a.n; i++)
            gomap_deleg_free(a.maps[i]);
        /* New maps, possibly at the same addresses: the exiting thread's
         * stale registrations must not release their slots. */
        for (unsigned i = 0; i < a.n; i++)
            a.maps[i] = delegcheck_new_u64(0, 8, w, 2);
        uint64_t k = 1, v = 1;
        for (unsigned i = 0; i < a.n; i++)
            CHECK_EQ(gomap_deleg_set(a.maps[i], &k, &v), 0);
        atomic_store(&a.go, 1);
        CHECK_EQ(pthread_join(t, NULL), 0);
        /* This thread's, except where it gave its oldest back (counted
         * before validate registers again). */
        for (unsigned i = 0; i < a.n; i++)
            CHECK_MSG(delegcheck_stats(a.maps[i]).clients == (i + 8 >= a.n), "map %u: %u "
                      "clients", i, delegcheck_stats(a.maps[i]).clients);
        for (unsigned i = 0; i < a.n; i++) {
            CHECK_DELEG_VALID(a.maps[i]);
            gomap_deleg_free(a.maps[i]);
        }
    }
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_seed();
    RUN(test_bad_options);
    RUN(test_basic);
    RUN(test_async);
    RUN(test_many_threads);
    RUN(test_exit_and_free);
    printf("ok\n");
    return 0;
}
