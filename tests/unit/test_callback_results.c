/*
 * test_callback_results.c — a callback's nonzero result passes through
 * unchanged, and gomap's own errors are told apart from it.
 *
 * gomap_snap_update and gomap_shard_compute return their callback's value
 * when it is not 0, and change nothing then. Whatever the value (a positive
 * one the caller chose, or an errno that gomap itself also returns), it
 * comes back exactly, after the callback changed its copy, and nothing is
 * published or stored. gomap's own -EINVAL comes only from bad arguments,
 * before the callback would run.
 *
 *   snap_update_results    values 1, 7, INT_MAX, -1, -EINVAL, -ENOMEM,
 *                          INT_MIN: returned as is; no version published
 *                          (stats), the map and a view taken before are
 *                          as they were; then a 0 publishes.
 *   snap_update_einval     NULL map or fn: -EINVAL, fn never called.
 *   shard_compute_results  the same values, for a present key (value
 *                          changed in the copy) and an absent one (inserted
 *                          in the copy) and a delete: the map unchanged.
 *   shard_compute_einval   NULL map, key or fn, and a rejected string key:
 *                          -EINVAL, fn never called.
 *
 * Deterministic: no randomness.
 */
#include "check.h"

#include <gomap.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static const int results[] = {1, 7, INT_MAX, -1, -EINVAL, -ENOMEM, -EBUSY, INT_MIN};
enum { N_RESULTS = sizeof results / sizeof results[0] };

static int calls;

static gomap_options u64_options(void)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = GOMAP_KEY_U64;
    o.val_size = sizeof(uint64_t);
    return o;
}

/* ------------------------------------------------------------------------ */
/* Snapshot map                                                              */
/* ------------------------------------------------------------------------ */

/* Changes the copy (a new key, an overwrite, a delete), then returns *ctx. */
static int edit_then_return(gomap_t *copy, void *ctx)
{
    calls++;
    uint64_t k = 1000, v = 1;
    CHECK_EQ(gomap_set(copy, &k, &v), 0);
    k = 1;
    v = 999;
    CHECK_EQ(gomap_set(copy, &k, &v), 0);
    k = 2;
    CHECK(gomap_delete(copy, &k));
    return *(const int *)ctx;
}

/* The map holds keys 0..9 with value k * 10, and nothing else. */
static void expect_original(const gomap_t *map)
{
    CHECK_EQ(gomap_len(map), 10);
    for (uint64_t k = 0; k < 10; k++) {
        uint64_t v = 0;
        CHECK(gomap_get_copy(map, &k, &v));
        CHECK_EQ(v, k * 10);
    }
}

static void test_snap_update_results(void)
{
    gomap_options o = u64_options();
    gomap_snap_t *m = NULL;
    CHECK_EQ(gomap_snap_new(&m, &o), 0);
    for (uint64_t k = 0; k < 10; k++) {
        uint64_t v = k * 10;
        CHECK_EQ(gomap_snap_set(m, &k, &v), 0);
    }
    const gomap_snap_view_t *before = gomap_snap_acquire(m);
    gomap_snap_stats_t st0, st;
    CHECK_EQ(gomap_snap_stats(m, &st0), 0);
    for (size_t i = 0; i < N_RESULTS; i++) {
        calls = 0;
        int rc = gomap_snap_update(m, edit_then_return, (void *)&results[i]);
        CHECK_MSG(rc == results[i], "callback returned %d, update returned %d", results[i], rc);
        CHECK_EQ(calls, 1);
        CHECK_EQ(gomap_snap_stats(m, &st), 0);
        CHECK_EQ(st.versions, st0.versions);
        const gomap_snap_view_t *now = gomap_snap_acquire(m);
        CHECK(gomap_snap_view_map(now) == gomap_snap_view_map(before));
        expect_original(gomap_snap_view_map(now));
        gomap_snap_release(now);
    }
    expect_original(gomap_snap_view_map(before));
    gomap_snap_release(before);

    /* 0 publishes the batch. */
    static const int zero = 0;
    CHECK_EQ(gomap_snap_update(m, edit_then_return, (void *)&zero), 0);
    CHECK_EQ(gomap_snap_stats(m, &st), 0);
    CHECK_EQ(st.versions, st0.versions + 1);
    uint64_t k = 1, v = 0;
    CHECK(gomap_snap_get(m, &k, &v) && v == 999);
    gomap_snap_free(m);
}

static int must_not_run(gomap_t *copy, void *ctx)
{
    (void)copy, (void)ctx;
    calls++;
    return 0;
}

static void test_snap_update_einval(void)
{
    gomap_options o = u64_options();
    gomap_snap_t *m = NULL;
    CHECK_EQ(gomap_snap_new(&m, &o), 0);
    calls = 0;
    CHECK_EQ(gomap_snap_update(NULL, must_not_run, NULL), -EINVAL);
    CHECK_EQ(gomap_snap_update(m, NULL, NULL), -EINVAL);
    CHECK_EQ(calls, 0);
    gomap_snap_stats_t st;
    CHECK_EQ(gomap_snap_stats(m, &st), 0);
    CHECK_EQ(st.versions, 0);
    gomap_snap_free(m);
}

/* ------------------------------------------------------------------------ */
/* Sharded map                                                               */
/* ------------------------------------------------------------------------ */

struct compute_ctx {
    int result;
    bool present; /* what the callback sets *present to */
};

static int change_then_return(const void *key, void *val, bool *present, void *arg)
{
    (void)key;
    const struct compute_ctx *c = arg;
    calls++;
    uint64_t v = 12345;
    memcpy(val, &v, sizeof v);
    *present = c->present;
    return c->result;
}

static void expect_shard_original(gomap_shard_t *m)
{
    CHECK_EQ(gomap_shard_len(m), 10);
    for (uint64_t k = 0; k < 10; k++) {
        uint64_t v = 0;
        CHECK(gomap_shard_get(m, &k, &v));
        CHECK_EQ(v, k * 10);
    }
}

static void test_shard_compute_results(void)
{
    gomap_shard_options so;
    memset(&so, 0, sizeof so);
    so.map = u64_options();
    so.shards = 4;
    gomap_shard_t *m = NULL;
    CHECK_EQ(gomap_shard_new(&m, &so), 0);
    for (uint64_t k = 0; k < 10; k++) {
        uint64_t v = k * 10;
        CHECK_EQ(gomap_shard_set(m, &k, &v), 0);
    }
    const uint64_t present_key = 3, absent_key = 77;
    for (size_t i = 0; i < N_RESULTS; i++) {
        /* Overwrite a present key, insert an absent one, delete a present
         * one: each abandoned by the result. */
        const struct {
            const uint64_t *key;
            bool present;
        } edits[] = {{&present_key, true}, {&absent_key, true}, {&present_key, false}};
        for (size_t e = 0; e < 3; e++) {
            struct compute_ctx c = {results[i], edits[e].present};
            calls = 0;
            int rc = gomap_shard_compute(m, edits[e].key, change_then_return, &c);
            CHECK_MSG(rc == results[i], "callback returned %d, compute returned %d", results[i],
                      rc);
            CHECK_EQ(calls, 1);
            expect_shard_original(m);
        }
    }
    char why[256] = "";
    CHECK_MSG(gomap_shard_validate(m, why, sizeof why) == 0, "%s", why);

    /* 0 commits. */
    struct compute_ctx c = {0, true};
    CHECK_EQ(gomap_shard_compute(m, &absent_key, change_then_return, &c), 0);
    uint64_t v = 0;
    CHECK(gomap_shard_get(m, &absent_key, &v) && v == 12345);
    gomap_shard_free(m);
}

static void test_shard_compute_einval(void)
{
    gomap_shard_options so;
    memset(&so, 0, sizeof so);
    so.map = u64_options();
    so.map.key_kind = GOMAP_KEY_STR;
    so.shards = 4;
    gomap_shard_t *m = NULL;
    CHECK_EQ(gomap_shard_new(&m, &so), 0);
    struct compute_ctx c = {0, true};
    gomap_str good = {"k", 1}, bad = {NULL, 1};
    calls = 0;
    CHECK_EQ(gomap_shard_compute(NULL, &good, change_then_return, &c), -EINVAL);
    CHECK_EQ(gomap_shard_compute(m, NULL, change_then_return, &c), -EINVAL);
    CHECK_EQ(gomap_shard_compute(m, &bad, change_then_return, &c), -EINVAL);
    CHECK_EQ(gomap_shard_compute(m, &good, NULL, &c), -EINVAL);
    CHECK_EQ(calls, 0);
    CHECK_EQ(gomap_shard_len(m), 0);
    gomap_shard_free(m);
}

int main(void)
{
    RUN(test_snap_update_results);
    RUN(test_snap_update_einval);
    RUN(test_shard_compute_results);
    RUN(test_shard_compute_einval);
    printf("ok\n");
    return 0;
}
