/*
 * test_shardmap_resize.c — gomap_shard_resize and the auto mode, one thread
 * at a time unless said (gomap/shardmap.h; docs/shardmap.md, "Resizing").
 *
 *   test_bad_input    NULL, 0, counts that are not powers of two or too
 *                     large: -EINVAL, nothing changed; the same count: 0;
 *                     max_shards refused at creation when below the count
 *                     or not a power of two; -EDEADLK from inside another
 *                     map's callback.
 *   test_grow_shrink  u64 keys (the three hash variants), string keys,
 *                     200-byte values and f64 keys with NaNs: grown
 *                     1 -> 2 -> ... -> 64, shrunk back one halving at a
 *                     time, and jumps 1 -> 64 -> 1; after each, every entry
 *                     equal to the reference, len, range, validate, the
 *                     count, stats (resizes, no resize pending, totals
 *                     carried over: the ops never go down).
 *   test_model        seeded random get, set, delete, compute, range, len,
 *                     clear interleaved with resizes to random counts
 *                     (1 .. 256), against the reference; validate after
 *                     every step.
 *   test_oom          every allocation of a resize (growing and shrinking,
 *                     u64 and string keys) refused in turn: -ENOMEM, the
 *                     contents unchanged, validate passes, every call works
 *                     on the half-moved map (stats.resize_target names the
 *                     pending move), and the next resize (to another count)
 *                     completes it first, or the map is freed with the move
 *                     pending; nothing leaked after free.
 *   test_auto         the auto mode's trigger made deterministic with the
 *                     internal hook gomap__shard_tune: with threshold 0 every
 *                     window is hot, so a 1-shard map doubles every two
 *                     windows up to max_shards and no further, contents
 *                     intact; with the default threshold, a thread alone
 *                     (no lock ever waits) never resizes; with threshold 0
 *                     and 8 threads writing, the map grows while they run.
 * Seed: test_seed().
 */
#include "check.h"
#include "fail_alloc.h"
#include "hashvariant.h"
#include "refmap.h"
#include "shardcheck.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "shard/shard_tune.h"

/* 256 shards and more (see shardcheck.h). */
SHARDCHECK_MANY_SHARDS

enum { KEYS = 3000 / WORK_DIV, BIG_VAL = 200 };

/* ---- helpers -------------------------------------------------------------------------- */

static void check_same(gomap_shard_t *m, refmap *r, const char *what)
{
    char why[256] = "";
    CHECK_MSG(shardcheck_compare(m, r, why, sizeof why), "%s: %s", what, why);
    /* The range check tracks keys by equality, which a NaN never has. */
    if (refmap_nan_count(r) == 0)
        CHECK_MSG(shardcheck_range(m, r, 0, why, sizeof why), "%s: range: %s", what, why);
    CHECK_SHARD_VALID(m);
}

/* The i-th key of a kind, in buf (string keys point into strbuf). */
static const void *key_of(gomap_key_kind kind, uint64_t i, void *buf, char *strbuf)
{
    switch (kind) {
    case GOMAP_KEY_STR: {
        int n = snprintf(strbuf, 32, "key-%" PRIu64, i);
        gomap_str *s = buf;
        s->ptr = strbuf;
        s->len = (size_t)n;
        return s;
    }
    case GOMAP_KEY_F64: {
        double d = i % 97 == 0 ? NAN : (double)i * 0.5;
        memcpy(buf, &d, sizeof d);
        return buf;
    }
    default:
        memcpy(buf, &i, sizeof i);
        return buf;
    }
}

static void fill(gomap_shard_t *m, refmap *r, gomap_key_kind kind, size_t val_size, size_t n)
{
    unsigned char val[BIG_VAL];
    for (uint64_t i = 0; i < n; i++) {
        uint64_t kb[2];
        char sb[32];
        const void *k = key_of(kind, i, kb, sb);
        memset(val, (int)(i & 0xFF), val_size);
        memcpy(val, &i, val_size < 8 ? val_size : 8);
        CHECK_EQ(gomap_shard_set(m, k, val), 0);
        refmap_set(r, k, val);
    }
}

static void resize_to(gomap_shard_t *m, refmap *r, unsigned n, uint64_t *resizes, uint64_t *ops)
{
    unsigned before = gomap_shard_count(m);
    CHECK_EQ(gomap_shard_resize(m, n), 0);
    CHECK_EQ(gomap_shard_count(m), n);
    gomap_shard_stats_t st = shardcheck_stats(m, NULL, 0);
    if (before != n)
        (*resizes)++;
    CHECK_EQ(st.resizes, *resizes);
    CHECK_EQ(st.shards, n);
    CHECK_EQ(st.resize_target, 0);
    CHECK_EQ(st.total.entries, gomap_shard_len(m));
    CHECK_MSG(st.total.ops >= *ops, "ops went down from %" PRIu64 " to %" PRIu64, *ops,
              st.total.ops);
    *ops = st.total.ops;
    char what[64];
    snprintf(what, sizeof what, "after resizing %u -> %u", before, n);
    check_same(m, r, what);
}

/* ---- bad input ------------------------------------------------------------------------- */

typedef struct {
    gomap_shard_t *target;
    int rc;
} inside_call;

static int other_cb(const void *key, void *val, bool *present, void *ctx)
{
    (void)key;
    (void)val;
    inside_call *c = ctx;
    *present = true;
    c->rc = gomap_shard_resize(c->target, 4);
    return 0;
}

static void test_bad_input(void)
{
    gomap_shard_t *m = shardcheck_new_u64(HV_BUILTIN, 8, 2);
    uint64_t k = 7, v = 9;
    CHECK_EQ(gomap_shard_set(m, &k, &v), 0);
    CHECK_EQ(gomap_shard_resize(NULL, 4), -EINVAL);
    CHECK_EQ(gomap_shard_resize(m, 0), -EINVAL);
    CHECK_EQ(gomap_shard_resize(m, 3), -EINVAL);
    CHECK_EQ(gomap_shard_resize(m, 48), -EINVAL);
    CHECK_EQ(gomap_shard_resize(m, GOMAP_SHARDS_MAX * 2), -EINVAL);
    CHECK_EQ(gomap_shard_count(m), 2);
    CHECK_EQ(gomap_shard_resize(m, 2), 0);
    CHECK_EQ(shardcheck_stats(m, NULL, 0).resizes, 0);
    CHECK_EQ(gomap_shard_count(NULL), 0);

    /* From inside another sharded map's callback: may not wait. */
    gomap_shard_t *other = shardcheck_new_u64(HV_BUILTIN, 8, 1);
    inside_call ctx = {m, 1};
    CHECK_EQ(gomap_shard_compute(other, &k, other_cb, &ctx), 0);
    CHECK_EQ(ctx.rc, -EDEADLK);
    CHECK_EQ(gomap_shard_count(m), 2);
    gomap_shard_free(other);

    /* max_shards at creation. */
    gomap_shard_options o;
    memset(&o, 0, sizeof o);
    o.map = shardcheck_u64_options(8);
    o.shards = 8;
    o.auto_resize = true;
    gomap_shard_t *bad = NULL;
    o.max_shards = 4;
    CHECK_EQ(gomap_shard_new(&bad, &o), -EINVAL);
    o.max_shards = 24;
    CHECK_EQ(gomap_shard_new(&bad, &o), -EINVAL);
    o.max_shards = GOMAP_SHARDS_MAX * 2;
    CHECK_EQ(gomap_shard_new(&bad, &o), -EINVAL);
    CHECK(bad == NULL);
    o.max_shards = 8;
    CHECK_EQ(gomap_shard_new(&bad, &o), 0);
    gomap_shard_free(bad);
    CHECK_EQ(gomap_shard_get(m, &k, &v), true);
    CHECK_EQ(v, 9);
    gomap_shard_free(m);
}

/* ---- growing and shrinking --------------------------------------------------------------- */

static void grow_shrink(gomap_shard_t *m, refmap *r)
{
    uint64_t resizes = 0, ops = 0;
    for (unsigned n = 2; n <= 64; n *= 2)
        resize_to(m, r, n, &resizes, &ops);
    for (unsigned n = 32; n >= 1; n /= 2)
        resize_to(m, r, n, &resizes, &ops);
    resize_to(m, r, 64, &resizes, &ops);
    resize_to(m, r, 1, &resizes, &ops);
    resize_to(m, r, 256, &resizes, &ops);
    resize_to(m, r, 16, &resizes, &ops);
}

static bool equal_u64(const void *a, const void *b)
{
    return memcmp(a, b, 8) == 0;
}

static void test_grow_shrink_u64(void)
{
    gomap_shard_t *m = shardcheck_new_u64(hv_current, 8, 1);
    gomap_options o;
    memset(&o, 0, sizeof o);
    hash_variant_keys(&o, hv_current);
    refmap *r = o.key_kind == GOMAP_KEY_CUSTOM
                    ? refmap_new_custom(8, 8, o.hash, equal_u64)
                    : refmap_new(GOMAP_KEY_U64, 0, 8);
    fill(m, r, GOMAP_KEY_U64, 8, hv_current == HV_DEGENERATE ? KEYS / 10 : KEYS);
    grow_shrink(m, r);
    gomap_shard_free(m);
    refmap_free(r);
}

static void test_grow_shrink_kinds(void)
{
    static const struct {
        gomap_key_kind kind;
        size_t val_size;
        const char *name;
    } kinds[] = {
        {GOMAP_KEY_STR, 8, "string keys"},
        {GOMAP_KEY_U64, BIG_VAL, "200-byte values"},
        {GOMAP_KEY_F64, 8, "f64 keys with NaNs"},
    };
    for (size_t c = 0; c < sizeof kinds / sizeof kinds[0]; c++) {
        printf("   %s\n", kinds[c].name);
        gomap_options o;
        memset(&o, 0, sizeof o);
        o.key_kind = kinds[c].kind;
        o.val_size = kinds[c].val_size;
        gomap_shard_t *m = shardcheck_new(&o, 1);
        refmap *r = refmap_new(kinds[c].kind, 0, kinds[c].val_size);
        fill(m, r, kinds[c].kind, kinds[c].val_size, KEYS / 3);
        grow_shrink(m, r);
        gomap_shard_free(m);
        refmap_free(r);
    }
}

/* ---- model -------------------------------------------------------------------------------- */

static int put_cb(const void *key, void *val, bool *present, void *ctx)
{
    (void)key;
    memcpy(val, ctx, 8);
    *present = true;
    return 0;
}

static bool count_cb(const void *key, const void *val, void *ctx)
{
    (void)key;
    (void)val;
    ++*(size_t *)ctx;
    return true;
}

static void test_model(void)
{
    uint64_t rng = test_seed() ^ 0x5E51;
    gomap_shard_t *m = shardcheck_new_u64(HV_BUILTIN, 8, 4);
    refmap *r = refmap_new(GOMAP_KEY_U64, 0, 8);
    unsigned resizes = 0;
    for (int step = 0; step < 4000 / WORK_DIV; step++) {
        uint64_t k = test_rand_below(&rng, 600), v = test_rand(&rng), got = 0;
        unsigned op = (unsigned)test_rand_below(&rng, 100);
        const void *want = refmap_get(r, &k);
        if (op < 30) {
            bool found = gomap_shard_get(m, &k, &got);
            CHECK_MSG(found == (want != NULL), "step %d: get %" PRIu64, step, k);
            CHECK(!found || memcmp(want, &got, 8) == 0);
        } else if (op < 55) {
            CHECK_EQ(gomap_shard_set(m, &k, &v), 0);
            refmap_set(r, &k, &v);
        } else if (op < 70) {
            CHECK_EQ(gomap_shard_delete(m, &k), want != NULL);
            refmap_delete(r, &k);
        } else if (op < 85) {
            CHECK_EQ(gomap_shard_compute(m, &k, put_cb, &v), 0);
            refmap_set(r, &k, &v);
        } else if (op < 88) {
            size_t n = 0;
            gomap_shard_range(m, count_cb, &n);
            CHECK_EQ(n, refmap_len(r));
        } else if (op < 91) {
            CHECK_EQ(gomap_shard_len(m), refmap_len(r));
        } else if (op < 92) {
            gomap_shard_clear(m);
            refmap_clear(r);
        } else {
            unsigned n = 1u << test_rand_below(&rng, 9);
            CHECK_EQ(gomap_shard_resize(m, n), 0);
            CHECK_EQ(gomap_shard_count(m), n);
            resizes++;
        }
        CHECK_SHARD_VALID(m);
        if (step % 64 == 0)
            check_same(m, r, "model");
    }
    check_same(m, r, "model, at the end");
    printf("   %u resizes among the steps\n", resizes);
    gomap_shard_free(m);
    refmap_free(r);
}

/* ---- out of memory ------------------------------------------------------------------------- */

static void oom_case(gomap_key_kind kind, size_t val_size, unsigned from, unsigned to,
                     unsigned then)
{
    fail_alloc fa;
    fail_alloc_init(&fa);
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = kind;
    o.val_size = val_size;
    o.alloc = &fa.iface;
    size_t refused_calls = 0, survived = 0;
    for (size_t n = 1;; n++) {
        gomap_shard_t *m = shardcheck_new(&o, from);
        refmap *r = refmap_new(kind, 0, val_size);
        fill(m, r, kind, val_size, KEYS / 6);
        size_t failures = fa.failures;
        fail_alloc_fail_nth(&fa, n);
        int rc = gomap_shard_resize(m, to);
        fail_alloc_fail_nth(&fa, 0);
        bool refused = fa.failures != failures;
        if (rc == 0) {
            /* Done without the refusal, or it was survived (a core map
             * whose growth was refused keeps working in its old array). */
            CHECK_EQ(gomap_shard_count(m), to);
            check_same(m, r, "resize with an allocation refused");
            gomap_shard_free(m);
            refmap_free(r);
            CHECK_EQ(fa.live_blocks, 0);
            survived += refused;
            if (!refused)
                break;
            continue;
        }
        CHECK(refused);
        refused_calls++;
        CHECK_MSG(rc == -ENOMEM, "allocation #%zu refused: %d", n, rc);
        CHECK_EQ(gomap_shard_count(m), from);
        check_same(m, r, "after -ENOMEM");
        gomap_shard_stats_t st = shardcheck_stats(m, NULL, 0);
        CHECK(st.resize_target == 0 || st.resize_target == to);
        CHECK_EQ(st.resizes, 0);
        /* The half-moved map works: writes land, and are kept by the move
         * that completes it. */
        uint64_t kb[2];
        char sb[32];
        unsigned char val[BIG_VAL];
        memset(val, 0x5A, sizeof val);
        for (uint64_t i = 0; i < 40; i++) {
            const void *k = key_of(kind, i * 7, kb, sb);
            if (i % 3 == 0) {
                gomap_shard_delete(m, k);
                refmap_delete(r, k);
            } else {
                CHECK_EQ(gomap_shard_set(m, k, val), 0);
                refmap_set(r, k, val);
            }
        }
        check_same(m, r, "writes on a half-moved map");
        if (n % 2 == 0) {
            /* Freed with the move pending: both tables go. */
            gomap_shard_free(m);
            refmap_free(r);
            CHECK_MSG(fa.live_blocks == 0 && fa.live_bytes == 0, "%zu blocks leaked",
                      fa.live_blocks);
            continue;
        }
        CHECK_EQ(gomap_shard_resize(m, then), 0);
        CHECK_EQ(gomap_shard_count(m), then);
        st = shardcheck_stats(m, NULL, 0);
        CHECK_EQ(st.resize_target, 0);
        check_same(m, r, "after the pending move was completed");
        gomap_shard_free(m);
        refmap_free(r);
        CHECK_MSG(fa.live_blocks == 0 && fa.live_bytes == 0, "%zu blocks leaked",
                  fa.live_blocks);
    }
    printf("   %u -> %u shards (then %u): %zu allocations refused: -ENOMEM %zu times, "
           "survived %zu times\n", from, to, then, refused_calls + survived, refused_calls,
           survived);
    CHECK(refused_calls > 0);
}

static void test_oom(void)
{
    oom_case(GOMAP_KEY_U64, 8, 2, 16, 4);
    oom_case(GOMAP_KEY_U64, 8, 16, 2, 32);
    oom_case(GOMAP_KEY_STR, 8, 1, 8, 8);
    oom_case(GOMAP_KEY_U64, BIG_VAL, 8, 1, 2);
}

/* ---- auto mode ------------------------------------------------------------------------------- */

static void test_auto_deterministic(void)
{
    /* Threshold 0: every window hot; a window of 256 acquisitions. */
    gomap_shard_t *m = shardcheck_new_auto(8, 1, 16);
    gomap__shard_tune(m, 256, 0);
    refmap *r = refmap_new(GOMAP_KEY_U64, 0, 8);
    fill(m, r, GOMAP_KEY_U64, 8, 20000 / WORK_DIV);
    gomap_shard_stats_t st = shardcheck_stats(m, NULL, 0);
    printf("   threshold 0: %u shards after %" PRIu64 " resizes\n", st.shards, st.resizes);
    CHECK_EQ(st.shards, 16);
    CHECK_EQ(st.resizes, 4);
    check_same(m, r, "auto mode at its bound");
    gomap_shard_free(m);
    refmap_free(r);

    /* The default threshold: alone, no acquisition waits; never resized. */
    m = shardcheck_new_auto(8, 1, 0);
    r = refmap_new(GOMAP_KEY_U64, 0, 8);
    gomap__shard_tune(m, 256, 100);
    fill(m, r, GOMAP_KEY_U64, 8, 20000 / WORK_DIV);
    st = shardcheck_stats(m, NULL, 0);
    CHECK_EQ(st.resizes, 0);
    CHECK_EQ(st.shards, 1);
    CHECK(st.total.lock_acquisitions >= 20000 / WORK_DIV);
    gomap_shard_free(m);
    refmap_free(r);
}

typedef struct {
    gomap_shard_t *m;
    uint64_t base;
} writer;

static void *write_many(void *arg)
{
    writer *w = arg;
    for (uint64_t i = 0; i < 20000 / WORK_DIV; i++) {
        uint64_t k = w->base + i % 500, v = i;
        CHECK_EQ(gomap_shard_set(w->m, &k, &v), 0);
    }
    return NULL;
}

static void test_auto_threads(void)
{
    gomap_shard_t *m = shardcheck_new_auto(8, 1, 64);
    gomap__shard_tune(m, 1024, 0);
    pthread_t th[8];
    writer w[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (writer){m, (uint64_t)i << 32};
        CHECK_EQ(pthread_create(&th[i], NULL, write_many, &w[i]), 0);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    gomap_shard_stats_t st = shardcheck_stats(m, NULL, 0);
    printf("   8 threads: %u shards, %" PRIu64 " resizes, %" PRIu64 " of %" PRIu64
           " acquisitions waited\n", st.shards, st.resizes, st.total.waits,
           st.total.lock_acquisitions);
    CHECK(st.resizes > 0);
    CHECK(st.shards > 1);
    CHECK_EQ(gomap_shard_len(m), 8 * 500);
    CHECK_SHARD_VALID(m);
    gomap_shard_free(m);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_seed();
    RUN(test_bad_input);
    RUN_VARIANTS(test_grow_shrink_u64);
    RUN(test_grow_shrink_kinds);
    RUN(test_model);
    RUN(test_oom);
    RUN(test_auto_deterministic);
    RUN(test_auto_threads);
    printf("ok\n");
    return 0;
}
