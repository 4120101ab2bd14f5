/*
 * test_shardmap_rcu.c — the sharded map written from inside an RCU
 * read-side section: a sync map's range callback (gomap/syncmap.h).
 *
 * A sharded map with u64 keys reads optimistically, so memory its writes
 * retire is freed only after a grace period, which a thread inside a
 * read-side section cannot wait for (docs/shardmap.md, "Optimistic gets").
 * There, growth leaves the retired arrays for a later write (and clear
 * deletes the keys one by one, as it always does on such maps). Both must
 * leave the map exactly right:
 *
 *   grow_inside   a map filled from empty to N keys inside the callback
 *                 (many growths), checked there and again after a write
 *                 outside (which frees what was left), and validated.
 *   clear_inside  a grown map cleared inside the callback: empty, every
 *                 key gone, validate passes, and the map is refilled and
 *                 cleared again outside.
 *   no_deadlock   one thread writes the map inside a sync map callback
 *                 while another grows the same (one-shard) map past the
 *                 size where its outgrown arrays go to RCU: a grace period
 *                 that the first thread's section holds up. No write waits
 *                 for one (the arrays are handed to the reclaimer and
 *                 freed by a later write), so neither thread may hang on
 *                 the other; a grower that waited while holding the shard
 *                 would leave the writer inside the section waiting for
 *                 the shard forever (the test would hang).
 *
 * Leaks (arrays left behind) show under LSan.
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "hashvariant.h"
#include "shardcheck.h"

#include <gomap/syncmap.h>

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <stdint.h>
#include <string.h>

enum { N = 20000 }; /* 4 shards: arrays past 64 KiB, which a write frees */

static void fill(gomap_shard_t *m, uint64_t from, uint64_t to)
{
    for (uint64_t k = from; k < to; k++) {
        uint64_t v = k * 3 + 1;
        CHECK_EQ(gomap_shard_set(m, &k, &v), 0);
    }
}

static void expect_keys(gomap_shard_t *m, uint64_t n)
{
    CHECK_EQ(gomap_shard_len(m), n);
    for (uint64_t k = 0; k < n + 10; k++) {
        uint64_t v = 99;
        bool found = gomap_shard_get(m, &k, &v);
        CHECK_MSG(found == (k < n), "key %llu: found %d, want %d", (unsigned long long)k, found,
                  k < n);
        CHECK_EQ(v, found ? k * 3 + 1 : 0);
    }
    CHECK_SHARD_VALID(m);
}

typedef struct {
    gomap_shard_t *m;
    int calls;
    void (*inside)(gomap_shard_t *m);
} inside_call;

static bool run_inside(const void *key, const void *val, void *ctx)
{
    (void)key;
    (void)val;
    inside_call *c = ctx;
    c->calls++;
    c->inside(c->m);
    return false; /* once */
}

/* Runs inside(m) from a sync map's range callback. */
static void call_inside_rcu(gomap_shard_t *m, void (*inside)(gomap_shard_t *m))
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = GOMAP_KEY_U64;
    o.val_size = sizeof(uint64_t);
    gomap_sync_t *s;
    CHECK_EQ(gomap_sync_new(&s, &o), 0);
    uint64_t k = 1, v = 1;
    CHECK_EQ(gomap_sync_store(s, &k, &v), 0);
    inside_call c = {m, 0, inside};
    gomap_sync_range(s, run_inside, &c);
    CHECK_EQ(c.calls, 1);
    gomap_sync_free(s);
}

static void grow(gomap_shard_t *m)
{
    fill(m, 0, N);
    expect_keys(m, N);
}

static void test_grow_inside(void)
{
    gomap_shard_t *m = shardcheck_new_u64(HV_BUILTIN, sizeof(uint64_t), 4);
    call_inside_rcu(m, grow);
    expect_keys(m, N);
    fill(m, N, N + 1); /* a write outside: frees the arrays growth retired */
    expect_keys(m, N + 1);
    gomap_shard_free(m);
}

static void clear_all(gomap_shard_t *m)
{
    gomap_shard_clear(m);
    expect_keys(m, 0);
}

static void test_clear_inside(void)
{
    gomap_shard_t *m = shardcheck_new_u64(HV_BUILTIN, sizeof(uint64_t), 4);
    fill(m, 0, N);
    call_inside_rcu(m, clear_all);
    expect_keys(m, 0);
    fill(m, 0, N);
    expect_keys(m, N);
    gomap_shard_clear(m);
    expect_keys(m, 0);
    gomap_shard_free(m);
}

/* The race: the writer enters a sync map's range callback (a read-side
 * section), then keeps writing the map from there until the grower is done
 * or 300 ms have passed. The grower hands arrays to RCU while the writer's
 * section holds up their grace period; it must never wait for it. The
 * grower may be done before the writer's first write (it waits for
 * nothing), so the count of writes inside may be 0. */
typedef struct {
    pthread_barrier_t inside;   /* the writer is in its read-side section */
    _Atomic bool grown;         /* the grower is done */
    uint64_t writes;            /* done by the writer, inside */
} race;

static race the_race;

enum { INSIDE_BASE = 1000000 };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void write_inside(gomap_shard_t *m)
{
    pthread_barrier_wait(&the_race.inside);
    double until = now_s() + 0.3;
    while (!atomic_load(&the_race.grown) && now_s() < until) {
        uint64_t k = INSIDE_BASE + the_race.writes++, v = k * 3 + 1;
        CHECK_EQ(gomap_shard_set(m, &k, &v), 0);
    }
}

static void *writer_main(void *arg)
{
    call_inside_rcu(arg, write_inside);
    return NULL;
}

static void test_no_deadlock(void)
{
    gomap_shard_t *m = shardcheck_new_u64(HV_BUILTIN, sizeof(uint64_t), 1);
    CHECK_EQ(pthread_barrier_init(&the_race.inside, NULL, 2), 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, writer_main, m), 0);
    pthread_barrier_wait(&the_race.inside);
    fill(m, 0, N); /* grows past 64 KiB: batches wait for the writer's section */
    atomic_store(&the_race.grown, true);
    CHECK_EQ(pthread_join(t, NULL), 0);
    pthread_barrier_destroy(&the_race.inside);
    printf("   %llu writes inside the section\n", (unsigned long long)the_race.writes);
    CHECK_EQ(gomap_shard_len(m), (size_t)N + the_race.writes);
    for (uint64_t i = 0; i < the_race.writes; i++) {
        uint64_t k = INSIDE_BASE + i, v = 0;
        CHECK(gomap_shard_get(m, &k, &v) && v == k * 3 + 1);
    }
    CHECK_SHARD_VALID(m);
    gomap_shard_free(m);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    RUN(test_grow_inside);
    RUN(test_clear_inside);
    RUN(test_no_deadlock);
    printf("ok\n");
    return 0;
}
