/*
 * test_free_inside_callback.c — freeing a concurrent map from inside one of
 * its own callbacks, or waiting for reclamation from inside any callback,
 * is reported through the misuse report (gomap/diag.h) instead of hanging
 * or freeing memory the running call still uses:
 *
 *   fatal error: gomap sync map freed from inside its own callback
 *   fatal error: gomap snapshot map freed from inside its own callback
 *   fatal error: gomap sharded map freed from inside its own callback
 *   fatal error: gomap_rcu_barrier called from inside a callback (would never return)
 *
 * Each case runs in a forked child with a hang guard; the child must die of
 * SIGABRT with that first line on stderr, a "held:" line naming what the
 * callback holds, and the inner call must not have returned.
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "child.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>

enum { ALARM_SECONDS = 30 };

static const gomap_options u64_opts = {.key_kind = GOMAP_KEY_U64, .val_size = 8};

/* ---- what the callbacks do ------------------------------------------------------- */

typedef enum { FREE_OWN, BARRIER } action;

static action todo;
static void *own_map;
static void (*own_free)(void *);

static void sync_free_fn(void *m) { gomap_sync_free(m); }
static void snap_free_fn(void *m) { gomap_snap_free(m); }
static void shard_free_fn(void *m) { gomap_shard_free(m); }

static void act(void)
{
    if (todo == FREE_OWN)
        own_free(own_map);
    else
        gomap_rcu_barrier();
    fprintf(stderr, "the call returned\n");
}

static bool range_fn(const void *k, const void *v, void *ctx)
{
    (void)k, (void)v, (void)ctx;
    act();
    return false;
}

static int compute_fn(const void *k, void *v, bool *present, void *ctx)
{
    (void)k, (void)v, (void)present, (void)ctx;
    act();
    return 0;
}

static void visit_fn(const void *k, void *v, void *ctx)
{
    (void)k, (void)v, (void)ctx;
    act();
}

static int update_fn(gomap_t *copy, void *ctx)
{
    (void)copy, (void)ctx;
    act();
    return 0;
}

/* ---- the cases -------------------------------------------------------------------- */

typedef struct {
    const char *name;
    action what;
    void (*run)(void);
    const char *message;
    const char *held;     /* expected in the "held:" line */
} misuse_case;

static const uint64_t key = 1, val = 2;

static void sync_range_case(void)
{
    gomap_sync_t *m;
    CHECK_EQ(gomap_sync_new(&m, &u64_opts), 0);
    CHECK_EQ(gomap_sync_store(m, &key, &val), 0);
    own_map = m, own_free = sync_free_fn;
    gomap_sync_range(m, range_fn, NULL);
}

static gomap_shard_t *new_shard(void)
{
    gomap_shard_t *m;
    gomap_shard_options so = {.map = u64_opts, .shards = 4};
    CHECK_EQ(gomap_shard_new(&m, &so), 0);
    CHECK_EQ(gomap_shard_set(m, &key, &val), 0);
    own_map = m, own_free = shard_free_fn;
    return m;
}

static void shard_compute_case(void) { gomap_shard_compute(new_shard(), &key, compute_fn, NULL); }
static void shard_visit_case(void) { gomap_shard_visit(new_shard(), &key, visit_fn, NULL); }
static void shard_range_case(void) { gomap_shard_range(new_shard(), range_fn, NULL); }

static gomap_snap_t *new_snap(void)
{
    gomap_snap_t *m;
    CHECK_EQ(gomap_snap_new(&m, &u64_opts), 0);
    CHECK_EQ(gomap_snap_set(m, &key, &val), 0);
    own_map = m, own_free = snap_free_fn;
    return m;
}

static void snap_update_case(void) { gomap_snap_update(new_snap(), update_fn, NULL); }

static void snap_view_range_case(void)
{
    const gomap_snap_view_t *v = gomap_snap_acquire(new_snap());
    gomap_snap_view_range(v, range_fn, NULL);
}

#define MSG_SYNC "gomap sync map freed from inside its own callback"
#define MSG_SNAP "gomap snapshot map freed from inside its own callback"
#define MSG_SHARD "gomap sharded map freed from inside its own callback"
#define MSG_BARRIER "gomap_rcu_barrier called from inside a callback (would never return)"

static const misuse_case cases[] = {
    {"sync free in its range", FREE_OWN, sync_range_case, MSG_SYNC, "held: a range of 0x"},
    {"shard free in its compute", FREE_OWN, shard_compute_case, MSG_SHARD, "held: a shard of 0x"},
    {"shard free in its visit", FREE_OWN, shard_visit_case, MSG_SHARD, "held: a shard of 0x"},
    {"shard free in its range", FREE_OWN, shard_range_case, MSG_SHARD, "held: a shard of 0x"},
    {"snap free in its update", FREE_OWN, snap_update_case, MSG_SNAP,
     "held: the writers' mutex of 0x"},
    {"snap free in its view range", FREE_OWN, snap_view_range_case, MSG_SNAP,
     "held: a view range of 0x"},
    {"barrier in a sync range", BARRIER, sync_range_case, MSG_BARRIER, NULL},
    {"barrier in a shard compute", BARRIER, shard_compute_case, MSG_BARRIER, NULL},
    {"barrier in a snap update", BARRIER, snap_update_case, MSG_BARRIER, NULL},
};

static void run_case(void *arg)
{
    const misuse_case *c = arg;
    todo = c->what;
    c->run();
}

static void test_reported(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const misuse_case *c = &cases[i];
        printf("   %s\n", c->name);
        fflush(stdout);
        child_result r = run_child(run_case, (void *)c, ALARM_SECONDS);
        char first[256];
        snprintf(first, sizeof first, "fatal error: %s\n", c->message);
        CHECK_MSG(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT,
                  "%s: status %#x (SIGALRM = hang), stderr:\n%s", c->name, r.status, r.err);
        CHECK_MSG(strncmp(r.err, first, strlen(first)) == 0, "%s: stderr:\n%s", c->name, r.err);
        CHECK_MSG(!strstr(r.err, "the call returned"), "%s: the call returned", c->name);
        CHECK_MSG(!strstr(r.err, "Sanitizer"), "%s: sanitizer report:\n%s", c->name, r.err);
        if (c->held)
            CHECK_MSG(strstr(r.err, c->held) != NULL, "%s: no '%s' in:\n%s", c->name, c->held,
                      r.err);
        child_result_free(&r);
    }
}

int main(void)
{
    RUN(test_reported);
    printf("test_free_inside_callback: ok\n");
    return 0;
}
