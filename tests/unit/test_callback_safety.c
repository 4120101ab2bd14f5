/*
 * test_callback_safety.c — every call the headers document as safe from a
 * callback, called from every kind of callback, returns (no hang), and the
 * memory it defers comes back.
 *
 * The callback kinds: a sync map range, a sharded map's compute, visit and
 * range, a snapshot map's update and view range. From inside each one the
 * test calls, on other maps:
 *
 *   - gomap_sync_free of a sync map holding replaced values (memory retired
 *     and not yet freed: the free must not wait for it there),
 *   - gomap_snap_free of a snapshot map with retired versions,
 *   - gomap_shard_free of a sharded map,
 *   - writes that grow a sharded map with lock-free gets past the size at
 *     which a write frees outgrown arrays after a grace period,
 *   - a store, a set and a snapshot-map set on live maps of each kind.
 *
 * Each case runs in a forked child with a hang guard (alarm): before the
 * fix, the frees waited for a grace period that the callback's own
 * read-side section (or another thread's) blocked, for ever. After the
 * callback returns the child calls gomap_rcu_barrier and checks that the
 * freed maps gave every byte back to their (counting, thread-safe)
 * allocator, and that the live maps hold what was written.
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "child.h"
#include "locked_alloc.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>

enum { ALARM_SECONDS = 60, FILL = 200, GROW_KEYS = 20000 };

/* Maps the callbacks act on; created in the child before the callback. */
typedef struct {
    locked_alloc victims_alloc;   /* every map that gets freed */
    gomap_sync_t *sync_victim;
    gomap_snap_t *snap_victim;
    gomap_shard_t *shard_victim;
    gomap_shard_t *grower;        /* lock-free gets (u64 keys), one shard */
    gomap_sync_t *sync_live;
    gomap_snap_t *snap_live;
    gomap_shard_t *shard_live;
    int calls;                    /* callbacks that did the work (once) */
} victims;

static victims V;

static void make_victims(void)
{
    locked_alloc_init(&V.victims_alloc);
    gomap_options o = {.key_kind = GOMAP_KEY_U64, .val_size = sizeof(uint64_t),
                       .alloc = &V.victims_alloc.iface};
    CHECK_EQ(gomap_sync_new(&V.sync_victim, &o), 0);
    CHECK_EQ(gomap_snap_new(&V.snap_victim, &o), 0);
    gomap_shard_options so = {.map = o, .shards = 4};
    CHECK_EQ(gomap_shard_new(&V.shard_victim, &so), 0);
    for (uint64_t k = 0; k < FILL; k++) {
        uint64_t v = k * 3;
        CHECK_EQ(gomap_sync_store(V.sync_victim, &k, &v), 0);
        v++;
        CHECK_EQ(gomap_sync_store(V.sync_victim, &k, &v), 0); /* retires a box */
        CHECK_EQ(gomap_shard_set(V.shard_victim, &k, &v), 0);
        if (k < 20)
            CHECK_EQ(gomap_snap_set(V.snap_victim, &k, &v), 0); /* retires versions */
    }
    gomap_options lo = {.key_kind = GOMAP_KEY_U64, .val_size = sizeof(uint64_t)};
    gomap_shard_options go = {.map = lo, .shards = 1};
    CHECK_EQ(gomap_shard_new(&V.grower, &go), 0);
    CHECK_EQ(gomap_sync_new(&V.sync_live, &lo), 0);
    CHECK_EQ(gomap_snap_new(&V.snap_live, &lo), 0);
    gomap_shard_options lso = {.map = lo, .shards = 4};
    CHECK_EQ(gomap_shard_new(&V.shard_live, &lso), 0);
}

/* What every callback does, the first time it is called. */
static void act(void)
{
    if (V.calls++)
        return;
    gomap_sync_free(V.sync_victim);
    gomap_snap_free(V.snap_victim);
    gomap_shard_free(V.shard_victim);
    for (uint64_t k = 0; k < GROW_KEYS; k++)
        CHECK_EQ(gomap_shard_set(V.grower, &k, &k), 0);
    uint64_t k = 7, v = 70;
    CHECK_EQ(gomap_sync_store(V.sync_live, &k, &v), 0);
    CHECK_EQ(gomap_snap_set(V.snap_live, &k, &v), 0);
    CHECK_EQ(gomap_shard_set(V.shard_live, &k, &v), 0);
}

/* After the callback: everything written is there, every freed byte is
 * back once the deferred frees are done. */
static void check_after(void)
{
    CHECK_EQ(V.calls, 1);
    uint64_t k = 7, v = 0;
    CHECK(gomap_sync_load(V.sync_live, &k, &v) && v == 70);
    CHECK(gomap_snap_get(V.snap_live, &k, &v) && v == 70);
    CHECK(gomap_shard_get(V.shard_live, &k, &v) && v == 70);
    CHECK_EQ(gomap_shard_len(V.grower), GROW_KEYS);
    for (uint64_t i = 0; i < GROW_KEYS; i += 97)
        CHECK(gomap_shard_get(V.grower, &i, &v) && v == i);
    /* A write outside any callback may free the arrays the growth retired. */
    CHECK_EQ(gomap_shard_set(V.grower, &k, &v), 0);
    gomap_rcu_barrier();
    fail_alloc c = locked_alloc_counts(&V.victims_alloc);
    CHECK_MSG(c.live_blocks == 0 && c.live_bytes == 0,
              "freed maps still hold %zu blocks, %zu bytes", c.live_blocks, c.live_bytes);
    gomap_sync_free(V.sync_live);
    gomap_snap_free(V.snap_live);
    gomap_shard_free(V.shard_live);
    gomap_shard_free(V.grower);
}

/* ------------------------------------------------------------------------ */
/* The callback kinds                                                        */
/* ------------------------------------------------------------------------ */

static bool range_fn(const void *key, const void *val, void *ctx)
{
    (void)key, (void)val, (void)ctx;
    act();
    return true;
}

static int compute_fn(const void *key, void *val, bool *present, void *ctx)
{
    (void)key, (void)val, (void)present, (void)ctx;
    act();
    return 0;
}

static void visit_fn(const void *key, void *val, void *ctx)
{
    (void)key, (void)val, (void)ctx;
    act();
}

static int update_fn(gomap_t *copy, void *ctx)
{
    (void)ctx;
    act();
    uint64_t k = 1, v = 11;
    return gomap_set(copy, &k, &v);
}

typedef enum { SYNC_RANGE, SHARD_COMPUTE, SHARD_VISIT, SHARD_RANGE, SNAP_UPDATE,
               SNAP_VIEW_RANGE, KINDS } kind;

static const char *const kind_names[KINDS] = {
    "sync range", "shard compute", "shard visit", "shard range", "snap update",
    "snap view range"};

static void run_kind(void *arg)
{
    kind k = (kind)(intptr_t)arg;
    make_victims();
    gomap_options o = {.key_kind = GOMAP_KEY_U64, .val_size = sizeof(uint64_t)};
    uint64_t key = 1, val = 10;
    switch (k) {
    case SYNC_RANGE: {
        gomap_sync_t *m;
        CHECK_EQ(gomap_sync_new(&m, &o), 0);
        CHECK_EQ(gomap_sync_store(m, &key, &val), 0);
        gomap_sync_range(m, range_fn, NULL);
        gomap_sync_free(m);
        break;
    }
    case SHARD_COMPUTE:
    case SHARD_VISIT:
    case SHARD_RANGE: {
        gomap_shard_t *m;
        gomap_shard_options so = {.map = o};
        CHECK_EQ(gomap_shard_new(&m, &so), 0);
        CHECK_EQ(gomap_shard_set(m, &key, &val), 0);
        if (k == SHARD_COMPUTE)
            CHECK_EQ(gomap_shard_compute(m, &key, compute_fn, NULL), 0);
        else if (k == SHARD_VISIT)
            CHECK(gomap_shard_visit(m, &key, visit_fn, NULL));
        else
            gomap_shard_range(m, range_fn, NULL);
        gomap_shard_free(m);
        break;
    }
    case SNAP_UPDATE:
    case SNAP_VIEW_RANGE: {
        gomap_snap_t *m;
        CHECK_EQ(gomap_snap_new(&m, &o), 0);
        CHECK_EQ(gomap_snap_set(m, &key, &val), 0);
        if (k == SNAP_UPDATE) {
            CHECK_EQ(gomap_snap_update(m, update_fn, NULL), 0);
            CHECK(gomap_snap_get(m, &key, &val) && val == 11);
        } else {
            const gomap_snap_view_t *view = gomap_snap_acquire(m);
            gomap_snap_view_range(view, range_fn, NULL);
            gomap_snap_release(view);
        }
        gomap_snap_free(m);
        break;
    }
    default:
        CHECK(!"unknown kind");
    }
    check_after();
    locked_alloc_destroy(&V.victims_alloc);
}

static void test_every_callback_kind(void)
{
    for (int k = 0; k < KINDS; k++) {
        printf("   %s\n", kind_names[k]);
        fflush(stdout);
        child_result r = run_child(run_kind, (void *)(intptr_t)k, ALARM_SECONDS);
        bool hung = WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGALRM;
        CHECK_MSG(!hung, "%s: a call from the callback hung (killed after %d s)",
                  kind_names[k], ALARM_SECONDS);
        CHECK_MSG(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
                  "%s: child status %#x, stderr:\n%s", kind_names[k], r.status, r.err);
        child_result_free(&r);
    }
}

int main(void)
{
    RUN(test_every_callback_kind);
    printf("test_callback_safety: ok\n");
    return 0;
}
