/*
 * test_key_limits.c — string keys no map accepts, on every map type and
 * every entry point that takes a key.
 *
 * A string key (GOMAP_KEY_STR) is rejected when it has no bytes to read
 * ({NULL, len > 0}) or is longer than GOMAP_MAX_KEY_SIZE: writes return
 * -EINVAL, lookups answer "absent" with zero-filled output, deletes answer
 * false, batch lookups answer NULL for that key, and the map is unchanged.
 * The long keys point at an 8-byte heap buffer, so a hash or compare that
 * ran over one would be an over-read (reported by AddressSanitizer, and
 * likely a crash elsewhere).
 *
 *   core_rejects        gomap_set, _assign, _set_str, _get, _get_copy,
 *                       _get_str, _delete, _delete_str, _get_many,
 *                       _get_many_str; on an empty map, a one-bucket map
 *                       and a grown one.
 *   core_limit_exact    a key of exactly GOMAP_MAX_KEY_SIZE bytes is stored,
 *                       found (every lookup form) and deleted; the same
 *                       readable buffer one byte longer is rejected.
 *   sync_rejects        store, swap, load_or_store, compare_and_swap, load,
 *                       load_and_delete, delete, compare_and_delete.
 *   shard_rejects       set, load_or_store, compute (callback not called),
 *                       get, delete, visit (callback not called).
 *   snap_rejects        set, delete, get, view_get; nothing published.
 *
 * Deterministic: no randomness.
 */
#include "check.h"

#include <gomap.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FILL 0xA5u

/* The small buffer the long keys point at. */
static char *small_buf;

enum { N_BAD = 3 };

static gomap_str bad_key(int i)
{
    switch (i) {
    case 0: return (gomap_str){NULL, 1};
    case 1: return (gomap_str){small_buf, GOMAP_MAX_KEY_SIZE + 1};
    default: return (gomap_str){small_buf, SIZE_MAX};
    }
}

static const char *bad_name(int i)
{
    static const char *const names[N_BAD] = {"{NULL, 1}", "{8-byte buffer, GOMAP_MAX_KEY_SIZE + 1}",
                                             "{8-byte buffer, SIZE_MAX}"};
    return names[i];
}

static gomap_options str_options(void)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = GOMAP_KEY_STR;
    o.val_size = sizeof(uint64_t);
    return o;
}

/* Key number i as a short string: "k0", "k1", ... */
static gomap_str good_key(uint64_t i, char buf[24])
{
    int n = snprintf(buf, 24, "k%llu", (unsigned long long)i);
    return (gomap_str){buf, (size_t)n};
}

/* True if out holds val_size zero bytes. */
static bool zeroed(const uint64_t *out)
{
    return *out == 0;
}

/* ------------------------------------------------------------------------ */
/* Core map                                                                  */
/* ------------------------------------------------------------------------ */

static void core_rejects_on(gomap_t *m)
{
    size_t len = gomap_len(m);
    uint64_t v = 7, out;
    for (int i = 0; i < N_BAD; i++) {
        gomap_str k = bad_key(i);
        const char *what = bad_name(i);
        void *slot = &slot;
        CHECK_MSG(gomap_set(m, &k, &v) == -EINVAL, "gomap_set %s", what);
        CHECK_MSG(gomap_assign(m, &k, &slot) == -EINVAL && slot == NULL, "gomap_assign %s", what);
        CHECK_MSG(gomap_set_str(m, k.ptr, k.len, &v) == -EINVAL, "gomap_set_str %s", what);
        CHECK_MSG(gomap_get(m, &k) == NULL, "gomap_get %s", what);
        memset(&out, FILL, sizeof out);
        CHECK_MSG(!gomap_get_copy(m, &k, &out) && zeroed(&out), "gomap_get_copy %s", what);
        CHECK_MSG(gomap_get_str(m, k.ptr, k.len) == NULL, "gomap_get_str %s", what);
        CHECK_MSG(!gomap_delete(m, &k), "gomap_delete %s", what);
        CHECK_MSG(!gomap_delete_str(m, k.ptr, k.len), "gomap_delete_str %s", what);

        /* A batch of present keys around the bad one: only it is NULL. */
        char kb[5][24];
        gomap_str batch[5];
        void *vals[5];
        for (int j = 0; j < 5; j++)
            batch[j] = j == 2 ? k : good_key((uint64_t)j, kb[j]);
        size_t present = 0;
        for (int j = 0; j < 5; j++)
            present += j != 2 && gomap_get(m, &batch[j]) != NULL;
        memset(vals, 0xff, sizeof vals);
        CHECK_MSG(gomap_get_many_str(m, batch, 5, vals) == present, "gomap_get_many_str %s", what);
        CHECK_MSG(vals[2] == NULL, "gomap_get_many_str %s", what);
        for (int j = 0; j < 5; j++)
            if (j != 2)
                CHECK(vals[j] == gomap_get(m, &batch[j]));
        memset(vals, 0xff, sizeof vals);
        CHECK_MSG(gomap_get_many(m, batch, 5, vals) == present && vals[2] == NULL,
                  "gomap_get_many %s", what);
        /* The bad key alone, and in a batch longer than the prefetch window. */
        gomap_str many[40];
        void *mvals[40];
        for (int j = 0; j < 40; j++)
            many[j] = k;
        memset(mvals, 0xff, sizeof mvals);
        CHECK_EQ(gomap_get_many_str(m, many, 40, mvals), 0);
        for (int j = 0; j < 40; j++)
            CHECK(mvals[j] == NULL);
    }
    CHECK_EQ(gomap_len(m), len);
    CHECK_VALID(m);
}

static void test_core_rejects(void)
{
    gomap_options o = str_options();
    gomap_t *m = NULL;
    CHECK_EQ(gomap_new(&m, &o), 0);
    core_rejects_on(m); /* empty: no bucket array */
    char kb[24];
    for (uint64_t i = 0; i < 5; i++) {
        gomap_str k = good_key(i, kb);
        CHECK_EQ(gomap_set(m, &k, &i), 0);
    }
    core_rejects_on(m); /* one bucket */
    for (uint64_t i = 5; i < 2000; i++) {
        gomap_str k = good_key(i, kb);
        CHECK_EQ(gomap_set(m, &k, &i), 0);
    }
    core_rejects_on(m); /* grown */
    gomap_free(m);

    /* A map of another kind never reads a gomap_str: the typed string
     * calls reject it for its kind alone. */
    o.key_kind = GOMAP_KEY_U64;
    CHECK_EQ(gomap_new(&m, &o), 0);
    uint64_t v = 1;
    CHECK_EQ(gomap_set_str(m, small_buf, SIZE_MAX, &v), -EINVAL);
    CHECK(gomap_get_str(m, small_buf, SIZE_MAX) == NULL);
    gomap_free(m);
}

static void test_core_limit_exact(void)
{
    const size_t max = GOMAP_MAX_KEY_SIZE;
    char *big = malloc(max + 1);
    CHECK(big != NULL);
    for (size_t i = 0; i <= max; i++)
        big[i] = (char)(i * 31 + 7);
    gomap_options o = str_options();
    gomap_t *m = NULL;
    CHECK_EQ(gomap_new(&m, &o), 0);

    gomap_str at = {big, max}, over = {big, max + 1};
    uint64_t v = 42, out = 0;
    CHECK_EQ(gomap_set(m, &over, &v), -EINVAL);
    CHECK_EQ(gomap_set_str(m, big, max + 1, &v), -EINVAL);
    CHECK_EQ(gomap_len(m), 0);

    CHECK_EQ(gomap_set(m, &at, &v), 0);
    CHECK_EQ(gomap_len(m), 1);
    CHECK(gomap_get_copy(m, &at, &out) && out == 42);
    CHECK(gomap_get_str(m, big, max) != NULL);
    CHECK(gomap_get(m, &over) == NULL);
    CHECK(gomap_get_str(m, big, max + 1) == NULL);
    void *vals[2];
    gomap_str batch[2] = {at, over};
    CHECK_EQ(gomap_get_many_str(m, batch, 2, vals), 1);
    CHECK(vals[0] == gomap_get(m, &at) && vals[1] == NULL);
    void *slot = NULL;
    CHECK_EQ(gomap_assign(m, &at, &slot), 0);
    CHECK(slot != NULL && *(uint64_t *)slot == 42);
    CHECK(!gomap_delete(m, &over));
    CHECK_EQ(gomap_len(m), 1);
    CHECK_VALID(m);

    /* The stored key is a copy: changing the caller's bytes changes nothing. */
    big[max - 1] ^= 1;
    CHECK(gomap_get(m, &at) == NULL);
    big[max - 1] ^= 1;
    CHECK(gomap_delete_str(m, big, max));
    CHECK_EQ(gomap_len(m), 0);
    gomap_free(m);
    free(big);
}

/* ------------------------------------------------------------------------ */
/* Sync map                                                                  */
/* ------------------------------------------------------------------------ */

static void test_sync_rejects(void)
{
    gomap_options o = str_options();
    gomap_sync_t *m = NULL;
    CHECK_EQ(gomap_sync_new(&m, &o), 0);
    char kb[24];
    for (uint64_t i = 0; i < 100; i++) {
        gomap_str k = good_key(i, kb);
        CHECK_EQ(gomap_sync_store(m, &k, &i), 0);
    }
    uint64_t v = 7, old = 0, out;
    bool loaded;
    for (int i = 0; i < N_BAD; i++) {
        gomap_str k = bad_key(i);
        const char *what = bad_name(i);
        CHECK_MSG(gomap_sync_store(m, &k, &v) == -EINVAL, "store %s", what);
        loaded = true;
        memset(&out, FILL, sizeof out);
        CHECK_MSG(gomap_sync_swap(m, &k, &v, &out, &loaded) == -EINVAL && !loaded,
                  "swap %s", what);
        loaded = true;
        CHECK_MSG(gomap_sync_load_or_store(m, &k, &v, &out, &loaded) == -EINVAL && !loaded,
                  "load_or_store %s", what);
        CHECK_MSG(gomap_sync_compare_and_swap(m, &k, &old, &v) == -EINVAL, "compare_and_swap %s",
                  what);
        memset(&out, FILL, sizeof out);
        CHECK_MSG(!gomap_sync_load(m, &k, &out) && zeroed(&out), "load %s", what);
        memset(&out, FILL, sizeof out);
        CHECK_MSG(!gomap_sync_load_and_delete(m, &k, &out) && zeroed(&out),
                  "load_and_delete %s", what);
        gomap_sync_delete(m, &k);
        CHECK_MSG(!gomap_sync_compare_and_delete(m, &k, &old), "compare_and_delete %s", what);
    }
    CHECK_EQ(gomap_sync_len(m), 100);
    char why[256] = "";
    CHECK_MSG(gomap_sync_validate(m, why, sizeof why) == 0, "%s", why);
    gomap_sync_free(m);
}

/* ------------------------------------------------------------------------ */
/* Sharded map                                                               */
/* ------------------------------------------------------------------------ */

static int calls;

static int count_compute(const void *key, void *val, bool *present, void *ctx)
{
    (void)key, (void)val, (void)ctx;
    calls++;
    *present = true;
    return 0;
}

static void count_visit(const void *key, void *val, void *ctx)
{
    (void)key, (void)val, (void)ctx;
    calls++;
}

static void test_shard_rejects(void)
{
    gomap_shard_options so;
    memset(&so, 0, sizeof so);
    so.map = str_options();
    so.shards = 4;
    gomap_shard_t *m = NULL;
    CHECK_EQ(gomap_shard_new(&m, &so), 0);
    char kb[24];
    for (uint64_t i = 0; i < 100; i++) {
        gomap_str k = good_key(i, kb);
        CHECK_EQ(gomap_shard_set(m, &k, &i), 0);
    }
    uint64_t v = 7, out;
    bool loaded;
    calls = 0;
    for (int i = 0; i < N_BAD; i++) {
        gomap_str k = bad_key(i);
        const char *what = bad_name(i);
        CHECK_MSG(gomap_shard_set(m, &k, &v) == -EINVAL, "set %s", what);
        loaded = true;
        CHECK_MSG(gomap_shard_load_or_store(m, &k, &v, &out, &loaded) == -EINVAL && !loaded,
                  "load_or_store %s", what);
        CHECK_MSG(gomap_shard_compute(m, &k, count_compute, NULL) == -EINVAL, "compute %s", what);
        memset(&out, FILL, sizeof out);
        CHECK_MSG(!gomap_shard_get(m, &k, &out) && zeroed(&out), "get %s", what);
        CHECK_MSG(!gomap_shard_delete(m, &k), "delete %s", what);
        CHECK_MSG(!gomap_shard_visit(m, &k, count_visit, NULL), "visit %s", what);
    }
    CHECK_EQ(calls, 0);
    CHECK_EQ(gomap_shard_len(m), 100);
    char why[256] = "";
    CHECK_MSG(gomap_shard_validate(m, why, sizeof why) == 0, "%s", why);
    gomap_shard_free(m);
}

/* ------------------------------------------------------------------------ */
/* Snapshot map                                                              */
/* ------------------------------------------------------------------------ */

static void test_snap_rejects(void)
{
    gomap_options o = str_options();
    gomap_snap_t *m = NULL;
    CHECK_EQ(gomap_snap_new(&m, &o), 0);
    char kb[24];
    for (uint64_t i = 0; i < 20; i++) {
        gomap_str k = good_key(i, kb);
        CHECK_EQ(gomap_snap_set(m, &k, &i), 0);
    }
    gomap_snap_stats_t before, after;
    CHECK_EQ(gomap_snap_stats(m, &before), 0);
    const gomap_snap_view_t *view = gomap_snap_acquire(m);
    uint64_t v = 7, out;
    for (int i = 0; i < N_BAD; i++) {
        gomap_str k = bad_key(i);
        const char *what = bad_name(i);
        CHECK_MSG(gomap_snap_set(m, &k, &v) == -EINVAL, "set %s", what);
        CHECK_MSG(gomap_snap_delete(m, &k) == -EINVAL, "delete %s", what);
        memset(&out, FILL, sizeof out);
        CHECK_MSG(!gomap_snap_get(m, &k, &out) && zeroed(&out), "get %s", what);
        memset(&out, FILL, sizeof out);
        CHECK_MSG(!gomap_snap_view_get(view, &k, &out) && zeroed(&out), "view_get %s", what);
    }
    gomap_snap_release(view);
    CHECK_EQ(gomap_snap_stats(m, &after), 0);
    CHECK_EQ(after.versions, before.versions);
    CHECK_EQ(gomap_snap_len(m), 20);
    char why[256] = "";
    CHECK_MSG(gomap_snap_validate(m, why, sizeof why) == 0, "%s", why);
    gomap_snap_free(m);
}

int main(void)
{
    small_buf = malloc(8);
    CHECK(small_buf != NULL);
    memcpy(small_buf, "abcdefgh", 8);
    RUN(test_core_rejects);
    RUN(test_core_limit_exact);
    RUN(test_sync_rejects);
    RUN(test_shard_rejects);
    RUN(test_snap_rejects);
    free(small_buf);
    printf("ok\n");
    return 0;
}
