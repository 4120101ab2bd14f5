/*
 * test_map_api.c — the public contract of gomap/map.h and gomap/diag.h:
 * argument checking (every function given NULL or out-of-range input),
 * typed shortcuts against the generic calls, string-key ownership, bytes and
 * custom key kinds, sets, gomap_assign, gomap_clone, gomap_shrink,
 * gomap_stats, gomap_strerror and the custom allocator's byte accounting.
 */
#include "check.h"
#include "fail_alloc.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

/* Case-insensitive 8-byte keys for GOMAP_KEY_CUSTOM (defined below). */
static uint64_t ci_hash(const void *key, uint64_t seed);
static bool ci_equal(const void *a, const void *b);

/* A non-NULL pointer value that no real map can have, used to show that a
 * failing call overwrote an out-parameter with NULL. */
static int sentinel_obj;
#define SENTINEL_MAP ((gomap_t *)(void *)&sentinel_obj)
#define SENTINEL_PTR ((void *)&sentinel_obj)

static gomap_options opts_of(gomap_key_kind kind, size_t key_size, size_t val_size)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = kind;
    o.key_size = key_size;
    o.val_size = val_size;
    return o;
}

static gomap_t *new_map(gomap_key_kind kind, size_t key_size, size_t val_size)
{
    gomap_options o = opts_of(kind, key_size, val_size);
    gomap_t *m = NULL;
    CHECK_EQ(gomap_new(&m, &o), 0);
    CHECK(m != NULL);
    CHECK_EQ(gomap_len(m), 0);
    return m;
}

/* The relations between gomap_stats fields that hold for every map. */
static void check_stats_sane(const gomap_t *m)
{
    gomap_stats_t s = check_map_stats(m);
    CHECK_EQ(s.entries, gomap_len(m));
    if (s.buckets) {
        CHECK(s.b < 8 * sizeof(size_t));
        CHECK_EQ(s.buckets, (size_t)1 << s.b);
        CHECK_MSG(fabs(s.load_factor - (double)s.entries / (double)s.buckets) < 1e-9,
                  "load_factor %f, entries %zu, buckets %zu", s.load_factor, s.entries,
                  s.buckets);
        CHECK(s.bytes_held > 0);
    } else {
        CHECK_EQ(s.b, 0);
        CHECK_EQ(s.entries, 0);
        CHECK(s.load_factor == 0.0);
        CHECK(!s.growing);
    }
    if (s.growing) {
        CHECK(s.old_buckets > 0);
        CHECK(s.evacuated <= s.old_buckets);
        if (s.same_size_grow)
            CHECK_EQ(s.old_buckets, s.buckets);
        else
            CHECK_EQ(s.old_buckets * 2, s.buckets);
    } else {
        CHECK(!s.same_size_grow);
        CHECK_EQ(s.old_buckets, 0);
    }
}

/* ------------------------------------------------------------------------ */
/* gomap_new argument checking                                               */
/* ------------------------------------------------------------------------ */

/* gomap_new must reject `o` with -EINVAL, leave *out NULL, and not call the
 * allocator at all. */
static void expect_new_rejected(gomap_options o)
{
    fail_alloc fa;
    fail_alloc_init(&fa);
    o.alloc = &fa.iface;
    gomap_t *m = SENTINEL_MAP;
    CHECK_EQ(gomap_new(&m, &o), -EINVAL);
    CHECK(m == NULL);
    CHECK_EQ(fa.attempts, 0);
    CHECK_EQ(fa.live_bytes, 0);
}

static void test_new_null_args(void)
{
    gomap_options o = opts_of(GOMAP_KEY_U64, 0, 8);
    CHECK_EQ(gomap_new(NULL, &o), -EINVAL);
    gomap_t *m = SENTINEL_MAP;
    CHECK_EQ(gomap_new(&m, NULL), -EINVAL);
    CHECK(m == NULL);
    CHECK_EQ(gomap_new(NULL, NULL), -EINVAL);

    /* NULL out with a counting allocator: nothing allocated. */
    fail_alloc fa;
    fail_alloc_init(&fa);
    o.alloc = &fa.iface;
    CHECK_EQ(gomap_new(NULL, &o), -EINVAL);
    CHECK_EQ(fa.attempts, 0);
}

static void test_new_bad_kind(void)
{
    expect_new_rejected(opts_of((gomap_key_kind)99, 8, 8));
    expect_new_rejected(opts_of((gomap_key_kind)(GOMAP_KEY_CUSTOM + 1), 8, 8));
    expect_new_rejected(opts_of((gomap_key_kind)-1, 8, 8));
}

static void test_new_sizes_over_max(void)
{
    static const size_t bad[] = {
        GOMAP_MAX_KEY_SIZE + 1, (size_t)1 << 40, SIZE_MAX / 2, SIZE_MAX - 1, SIZE_MAX,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* key_size over the maximum, for both fixed-size key kinds. */
        expect_new_rejected(opts_of(GOMAP_KEY_BYTES, bad[i], 8));
        gomap_options c = opts_of(GOMAP_KEY_CUSTOM, bad[i], 8);
        c.hash = ci_hash;
        c.equal = ci_equal;
        expect_new_rejected(c);
        /* val_size over the maximum, for every key kind. */
        expect_new_rejected(opts_of(GOMAP_KEY_U32, 0, bad[i]));
        expect_new_rejected(opts_of(GOMAP_KEY_U64, 0, bad[i]));
        expect_new_rejected(opts_of(GOMAP_KEY_F64, 0, bad[i]));
        expect_new_rejected(opts_of(GOMAP_KEY_STR, 0, bad[i]));
        expect_new_rejected(opts_of(GOMAP_KEY_BYTES, 8, bad[i]));
    }
}

static void test_new_custom_needs_functions(void)
{
    gomap_options o = opts_of(GOMAP_KEY_CUSTOM, 8, 8);
    expect_new_rejected(o);               /* neither */
    o.hash = ci_hash;
    expect_new_rejected(o);               /* no equal */
    o.hash = NULL;
    o.equal = ci_equal;
    expect_new_rejected(o);               /* no hash */
    o.hash = ci_hash;
    gomap_t *m = NULL;
    CHECK_EQ(gomap_new(&m, &o), 0);       /* both: accepted */
    CHECK(m != NULL);
    gomap_free(m);
}

/* An allocator missing either function is a bad argument; the half that is
 * there is never called. */
static void test_new_incomplete_allocator(void)
{
    fail_alloc fa;
    fail_alloc_init(&fa);
    gomap_allocator no_free = fa.iface, no_alloc = fa.iface;
    no_free.free = NULL;
    no_alloc.alloc = NULL;
    gomap_options o = opts_of(GOMAP_KEY_U64, 0, 8);
    o.alloc = &no_free;
    gomap_t *m = SENTINEL_MAP;
    CHECK_EQ(gomap_new(&m, &o), -EINVAL);
    CHECK(m == NULL);
    o.alloc = &no_alloc;
    m = SENTINEL_MAP;
    CHECK_EQ(gomap_new(&m, &o), -EINVAL);
    CHECK(m == NULL);
    CHECK_EQ(fa.attempts, 0);
}

/* Go's hint -> bucket count (MapBuckets): up to 8 entries one bucket, 9..13
 * two, 14..26 four; a presized map does not grow while filled to its hint. */
static void test_new_hint_sizes(void)
{
    static const struct { size_t hint, buckets; } cases[] = {
        {0, 1}, {1, 1}, {8, 1}, {9, 2}, {13, 2}, {14, 4}, {26, 4}, {27, 8}, {1000, 256},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        gomap_options o = opts_of(GOMAP_KEY_U64, 0, 8);
        o.hint = cases[ci].hint;
        gomap_t *m = NULL;
        CHECK_EQ(gomap_new(&m, &o), 0);
        for (uint64_t i = 0; i < cases[ci].hint || i == 0; i++) {
            CHECK_EQ(gomap_set_u64(m, i, &i), 0);
            gomap_stats_t s = check_map_stats(m);
            CHECK_MSG(s.buckets == cases[ci].buckets && !s.growing,
                      "hint %zu, %zu entries: %zu buckets (expected %zu), growing %d",
                      cases[ci].hint, (size_t)i + 1, s.buckets, cases[ci].buckets,
                      (int)s.growing);
        }
        CHECK_VALID(m);
        gomap_free(m);
    }
}

/* The largest sizes are accepted and work; a hint of any size is accepted. */
static void test_new_limits_accepted(void)
{
    /* key_size == GOMAP_MAX_KEY_SIZE: one 16 MiB key, stored out of line. */
    gomap_t *m = new_map(GOMAP_KEY_BYTES, GOMAP_MAX_KEY_SIZE, 4);
    unsigned char *big = calloc(1, GOMAP_MAX_KEY_SIZE);
    CHECK(big != NULL);
    big[GOMAP_MAX_KEY_SIZE - 1] = 7;
    uint32_t v = 0xC0FFEE;
    CHECK_EQ(gomap_set(m, big, &v), 0);
    CHECK_EQ(gomap_len(m), 1);
    const uint32_t *got = gomap_get(m, big);
    CHECK(got != NULL && *got == 0xC0FFEE);
    big[GOMAP_MAX_KEY_SIZE - 1] = 8;
    CHECK(gomap_get(m, big) == NULL);
    CHECK_VALID(m);
    free(big);
    gomap_free(m);

    /* val_size == GOMAP_MAX_VAL_SIZE. */
    m = new_map(GOMAP_KEY_U64, 0, GOMAP_MAX_VAL_SIZE);
    unsigned char *bigv = malloc(GOMAP_MAX_VAL_SIZE);
    CHECK(bigv != NULL);
    memset(bigv, 0x5A, GOMAP_MAX_VAL_SIZE);
    uint64_t k = 1;
    CHECK_EQ(gomap_set(m, &k, bigv), 0);
    const unsigned char *gv = gomap_get(m, &k);
    CHECK(gv != NULL);
    CHECK(gv[0] == 0x5A && gv[GOMAP_MAX_VAL_SIZE - 1] == 0x5A);
    CHECK_VALID(m);
    free(bigv);
    gomap_free(m);

    /* Absurd hints are ignored, not rejected. */
    static const size_t hints[] = {SIZE_MAX, SIZE_MAX / 2, (size_t)1 << 62, 0};
    for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++) {
        fail_alloc fa;
        fail_alloc_init(&fa);
        gomap_options o = opts_of(GOMAP_KEY_U64, 0, 8);
        o.hint = hints[i];
        o.alloc = &fa.iface;
        gomap_t *h = NULL;
        CHECK_EQ(gomap_new(&h, &o), 0);
        CHECK(h != NULL);
        uint64_t key = 42, val = 43;
        CHECK_EQ(gomap_set(h, &key, &val), 0);
        CHECK(gomap_get(h, &key) != NULL && *(uint64_t *)gomap_get(h, &key) == 43);
        CHECK_VALID(h);
        gomap_free(h);
        CHECK_EQ(fa.live_bytes, 0);
    }

    /* A BYTES map with key_size 0 holds at most one key. */
    m = new_map(GOMAP_KEY_BYTES, 0, 8);
    char dummy = 0;
    uint64_t a = 1, b = 2;
    CHECK_EQ(gomap_set(m, &dummy, &a), 0);
    CHECK_EQ(gomap_set(m, &dummy, &b), 0);
    CHECK_EQ(gomap_len(m), 1);
    CHECK(*(uint64_t *)gomap_get(m, &dummy) == 2);
    CHECK(gomap_delete(m, &dummy));
    CHECK_EQ(gomap_len(m), 0);
    CHECK_VALID(m);
    gomap_free(m);
}

/* ------------------------------------------------------------------------ */
/* NULL arguments to every function                                          */
/* ------------------------------------------------------------------------ */

static void test_null_map_everywhere(void)
{
    uint64_t key = 1, val = 2, out = 77;
    void *slot = SENTINEL_PTR;
    gomap_stats_t st;
    char why[64];

    CHECK_EQ(gomap_set(NULL, &key, &val), -EINVAL);
    CHECK_EQ(gomap_assign(NULL, &key, &slot), -EINVAL);
    CHECK(slot == NULL);
    CHECK(gomap_get(NULL, &key) == NULL);
    CHECK(!gomap_get_copy(NULL, &key, &out));
    CHECK(!gomap_get_copy(NULL, &key, NULL));
    CHECK(!gomap_delete(NULL, &key));
    CHECK_EQ(gomap_len(NULL), 0);
    gomap_clear(NULL);  /* no-op; must not crash */
    gomap_free(NULL);   /* no-op; must not crash */

    gomap_t *c = SENTINEL_MAP;
    CHECK_EQ(gomap_clone(&c, NULL), -EINVAL);
    CHECK(c == NULL);
    CHECK_EQ(gomap_shrink(NULL), -EINVAL);
    CHECK_EQ(gomap_validate(NULL, why, sizeof why), -EINVAL);
    CHECK_EQ(gomap_validate(NULL, NULL, 0), -EINVAL);
    CHECK_EQ(gomap_stats(NULL, &st), -EINVAL);

    CHECK_EQ(gomap_set_u64(NULL, 1, &val), -EINVAL);
    CHECK(gomap_get_u64(NULL, 1) == NULL);
    CHECK(!gomap_delete_u64(NULL, 1));
    CHECK_EQ(gomap_set_u32(NULL, 1, &val), -EINVAL);
    CHECK(gomap_get_u32(NULL, 1) == NULL);
    CHECK(!gomap_delete_u32(NULL, 1));
    CHECK_EQ(gomap_set_str(NULL, "a", 1, &val), -EINVAL);
    CHECK(gomap_get_str(NULL, "a", 1) == NULL);
    CHECK(!gomap_delete_str(NULL, "a", 1));
}

static void test_null_key_and_outputs(void)
{
    fail_alloc fa;
    fail_alloc_init(&fa);
    gomap_options o = opts_of(GOMAP_KEY_U64, 0, 8);
    o.alloc = &fa.iface;
    gomap_t *m = NULL;
    CHECK_EQ(gomap_new(&m, &o), 0);
    uint64_t key = 5, val = 6;
    CHECK_EQ(gomap_set(m, &key, &val), 0);
    size_t live = fa.live_bytes, attempts = fa.attempts;

    /* NULL key: rejected, map unchanged, nothing allocated. */
    void *slot = SENTINEL_PTR;
    uint64_t out = 99;
    CHECK_EQ(gomap_set(m, NULL, &val), -EINVAL);
    CHECK_EQ(gomap_assign(m, NULL, &slot), -EINVAL);
    CHECK(slot == NULL);
    CHECK(gomap_get(m, NULL) == NULL);
    CHECK(!gomap_get_copy(m, NULL, &out));
    CHECK(!gomap_delete(m, NULL));
    CHECK_EQ(gomap_len(m), 1);

    /* NULL value with val_size > 0. */
    uint64_t key2 = 7;
    CHECK_EQ(gomap_set(m, &key2, NULL), -EINVAL);
    CHECK(gomap_get(m, &key2) == NULL);
    CHECK_EQ(gomap_set_u64(m, 8, NULL), -EINVAL);
    CHECK(gomap_get_u64(m, 8) == NULL);
    CHECK_EQ(gomap_len(m), 1);

    /* NULL out-parameters. */
    CHECK_EQ(gomap_assign(m, &key, NULL), -EINVAL);
    CHECK_EQ(gomap_clone(NULL, m), -EINVAL);
    CHECK_EQ(gomap_stats(m, NULL), -EINVAL);
    CHECK_EQ(fa.live_bytes, live);
    CHECK_EQ(fa.attempts, attempts);

    /* get_copy with NULL val_out still reports presence. */
    CHECK(gomap_get_copy(m, &key, NULL));
    CHECK(!gomap_get_copy(m, &key2, NULL));
    /* get_copy of an absent key writes Go's zero value. */
    out = 0x1234;
    CHECK(!gomap_get_copy(m, &key2, &out));
    CHECK_EQ(out, 0);
    CHECK(gomap_get_copy(m, &key, &out));
    CHECK_EQ(out, 6);

    /* validate with no room for a reason still validates. */
    CHECK_EQ(gomap_validate(m, NULL, 0), 0);
    CHECK_VALID(m);
    CHECK_EQ(gomap_len(m), 1);
    gomap_free(m);
    CHECK_EQ(fa.live_bytes, 0);
    CHECK_EQ(fa.live_blocks, 0);
}

static void test_str_null_ptr(void)
{
    gomap_t *m = new_map(GOMAP_KEY_STR, 0, 4);
    uint32_t v = 1;
    /* {NULL, n > 0} is not a string. */
    CHECK_EQ(gomap_set_str(m, NULL, 3, &v), -EINVAL);
    CHECK(gomap_get_str(m, NULL, 3) == NULL);
    CHECK(!gomap_delete_str(m, NULL, 3));
    gomap_str bad = {NULL, 5};
    CHECK_EQ(gomap_set(m, &bad, &v), -EINVAL);
    CHECK(gomap_get(m, &bad) == NULL);
    CHECK_EQ(gomap_len(m), 0);

    /* {NULL, 0} is the empty string key. */
    v = 10;
    CHECK_EQ(gomap_set_str(m, NULL, 0, &v), 0);
    CHECK_EQ(gomap_len(m), 1);
    uint32_t w = 20;
    CHECK_EQ(gomap_set_str(m, "a", 1, &w), 0);
    CHECK_EQ(gomap_len(m), 2);
    const uint32_t *p = gomap_get_str(m, "", 0);
    CHECK(p != NULL && *p == 10);
    p = gomap_get_str(m, NULL, 0);
    CHECK(p != NULL && *p == 10);
    gomap_str empty_nonnull = {"xyz", 0};
    p = gomap_get(m, &empty_nonnull);
    CHECK(p != NULL && *p == 10);
    p = gomap_get_str(m, "a", 1);
    CHECK(p != NULL && *p == 20);
    /* Setting "" again (non-NULL pointer) overwrites the same entry. */
    v = 11;
    CHECK_EQ(gomap_set_str(m, "", 0, &v), 0);
    CHECK_EQ(gomap_len(m), 2);
    p = gomap_get_str(m, NULL, 0);
    CHECK(p != NULL && *p == 11);
    CHECK_VALID(m);
    CHECK(gomap_delete_str(m, NULL, 0));
    CHECK(gomap_get_str(m, "", 0) == NULL);
    CHECK(gomap_get_str(m, "a", 1) != NULL);
    CHECK_EQ(gomap_len(m), 1);
    CHECK_VALID(m);
    gomap_free(m);
}

/* ------------------------------------------------------------------------ */
/* Typed shortcuts                                                           */
/* ------------------------------------------------------------------------ */

static void test_typed_wrong_kind(void)
{
    static const gomap_key_kind kinds[] = {
        GOMAP_KEY_U32, GOMAP_KEY_U64, GOMAP_KEY_F64, GOMAP_KEY_STR, GOMAP_KEY_BYTES,
    };
    uint64_t v = 3;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        gomap_key_kind k = kinds[i];
        gomap_t *m = new_map(k, 8, 8);
        if (k != GOMAP_KEY_U64) {
            CHECK_EQ(gomap_set_u64(m, 1, &v), -EINVAL);
            CHECK(gomap_get_u64(m, 1) == NULL);
            CHECK(!gomap_delete_u64(m, 1));
        }
        if (k != GOMAP_KEY_U32) {
            CHECK_EQ(gomap_set_u32(m, 1, &v), -EINVAL);
            CHECK(gomap_get_u32(m, 1) == NULL);
            CHECK(!gomap_delete_u32(m, 1));
        }
        if (k != GOMAP_KEY_STR) {
            CHECK_EQ(gomap_set_str(m, "abcdefgh", 8, &v), -EINVAL);
            CHECK(gomap_get_str(m, "abcdefgh", 8) == NULL);
            CHECK(!gomap_delete_str(m, "abcdefgh", 8));
        }
        CHECK_EQ(gomap_len(m), 0);
        CHECK_VALID(m);
        gomap_free(m);
    }
    /* A custom map is not a u64 map even with 8-byte keys. */
    gomap_options o = opts_of(GOMAP_KEY_CUSTOM, 8, 8);
    o.hash = ci_hash;
    o.equal = ci_equal;
    gomap_t *m = NULL;
    CHECK_EQ(gomap_new(&m, &o), 0);
    CHECK_EQ(gomap_set_u64(m, 1, &v), -EINVAL);
    CHECK(gomap_get_u64(m, 1) == NULL);
    CHECK_EQ(gomap_len(m), 0);
    gomap_free(m);

    /* Present keys are not seen through a wrong-kind shortcut either. */
    m = new_map(GOMAP_KEY_U32, 0, 8);
    CHECK_EQ(gomap_set_u32(m, 9, &v), 0);
    CHECK(gomap_get_u64(m, 9) == NULL);
    CHECK(!gomap_delete_u64(m, 9));
    CHECK_EQ(gomap_len(m), 1);
    gomap_free(m);
}

/* Entries written by shortcuts are seen by generic calls and vice versa, on
 * a one-bucket map (where shortcuts skip hashing) and on a large one. */
static void test_typed_matches_generic_u64(void)
{
    static const size_t sizes[] = {5, 8, 5000};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        gomap_t *m = new_map(GOMAP_KEY_U64, 0, 8);
        for (uint64_t i = 0; i < n; i++) {
            uint64_t k = i * 0x9E3779B97F4A7C15ull, v = i + 1;
            if (i % 2)
                CHECK_EQ(gomap_set_u64(m, k, &v), 0);
            else
                CHECK_EQ(gomap_set(m, &k, &v), 0);
        }
        CHECK_EQ(gomap_len(m), n);
        for (uint64_t i = 0; i < n; i++) {
            uint64_t k = i * 0x9E3779B97F4A7C15ull;
            uint64_t *a = gomap_get_u64(m, k), *b = gomap_get(m, &k);
            CHECK(a != NULL && a == b);
            CHECK_EQ(*a, i + 1);
            /* A miss that differs from a key only in the top bit (no two
             * keys i * odd differ by 2^63 for small i). */
            CHECK(gomap_get_u64(m, k ^ (1ull << 63)) == NULL);
        }
        /* Delete half via each path, check both paths agree. */
        for (uint64_t i = 0; i < n; i += 2) {
            uint64_t k = i * 0x9E3779B97F4A7C15ull;
            CHECK(i % 4 ? gomap_delete_u64(m, k) : gomap_delete(m, &k));
        }
        for (uint64_t i = 0; i < n; i++) {
            uint64_t k = i * 0x9E3779B97F4A7C15ull;
            bool present = i % 2;
            CHECK((gomap_get_u64(m, k) != NULL) == present);
            CHECK((gomap_get(m, &k) != NULL) == present);
        }
        CHECK_EQ(gomap_len(m), n / 2);
        CHECK_VALID(m);
        check_stats_sane(m);
        gomap_free(m);
    }
}

static void test_typed_matches_generic_u32(void)
{
    static const size_t sizes[] = {7, 3000};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        gomap_t *m = new_map(GOMAP_KEY_U32, 0, 4);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t k = i * 2654435761u, v = ~i;
            if (i % 2)
                CHECK_EQ(gomap_set(m, &k, &v), 0);
            else
                CHECK_EQ(gomap_set_u32(m, k, &v), 0);
        }
        CHECK_EQ(gomap_len(m), n);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t k = i * 2654435761u;
            uint32_t *a = gomap_get_u32(m, k), *b = gomap_get(m, &k);
            CHECK(a != NULL && a == b);
            CHECK_EQ(*a, ~i);
        }
        for (uint32_t i = 0; i < n; i++) {
            uint32_t k = i * 2654435761u;
            CHECK(i % 2 ? gomap_delete_u32(m, k) : gomap_delete(m, &k));
            CHECK(gomap_get_u32(m, k) == NULL);
        }
        CHECK_EQ(gomap_len(m), 0);
        CHECK_VALID(m);
        gomap_free(m);
    }
}

static void test_typed_matches_generic_str(void)
{
    static const size_t sizes[] = {6, 4000};
    char buf[64];
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        gomap_t *m = new_map(GOMAP_KEY_STR, 0, 8);
        for (uint64_t i = 0; i < n; i++) {
            int len = snprintf(buf, sizeof buf, "key-%" PRIu64, i);
            uint64_t v = i * 3;
            if (i % 2) {
                CHECK_EQ(gomap_set_str(m, buf, (size_t)len, &v), 0);
            } else {
                gomap_str s = {buf, (size_t)len};
                CHECK_EQ(gomap_set(m, &s, &v), 0);
            }
        }
        CHECK_EQ(gomap_len(m), n);
        for (uint64_t i = 0; i < n; i++) {
            int len = snprintf(buf, sizeof buf, "key-%" PRIu64, i);
            gomap_str s = {buf, (size_t)len};
            uint64_t *a = gomap_get_str(m, buf, (size_t)len), *b = gomap_get(m, &s);
            CHECK(a != NULL && a == b);
            CHECK_EQ(*a, i * 3);
            /* A present key with one more byte is a different key. */
            buf[len] = 'x';
            CHECK(gomap_get_str(m, buf, (size_t)len + 1) == NULL);
        }
        for (uint64_t i = 0; i < n; i++) {
            int len = snprintf(buf, sizeof buf, "key-%" PRIu64, i);
            gomap_str s = {buf, (size_t)len};
            CHECK(i % 2 ? gomap_delete(m, &s) : gomap_delete_str(m, buf, (size_t)len));
        }
        CHECK_EQ(gomap_len(m), 0);
        CHECK_VALID(m);
        gomap_free(m);
    }
}

/* One-bucket string maps: long keys of equal length that share their first
 * and last 4 bytes must still be told apart (the shortcut may not stop at
 * length + ends). */
static void test_str_single_bucket_same_ends(void)
{
    gomap_t *m = new_map(GOMAP_KEY_STR, 0, 4);
    char k[40];
    for (uint32_t i = 0; i < 6; i++) {
        memset(k, 'x', sizeof k);
        k[20] = (char)('a' + i);
        CHECK_EQ(gomap_set_str(m, k, sizeof k, &i), 0);
    }
    CHECK_EQ(gomap_len(m), 6);
    CHECK_EQ(check_map_stats(m).buckets, 1);
    for (uint32_t i = 0; i < 6; i++) {
        memset(k, 'x', sizeof k);
        k[20] = (char)('a' + i);
        const uint32_t *p = gomap_get_str(m, k, sizeof k);
        CHECK(p != NULL);
        CHECK_EQ(*p, i);
    }
    memset(k, 'x', sizeof k);
    k[20] = 'z';
    CHECK(gomap_get_str(m, k, sizeof k) == NULL);
    k[20] = 'a';
    CHECK(gomap_get_str(m, k, sizeof k - 1) == NULL);
    /* Short keys of equal length. */
    uint32_t v = 100;
    CHECK_EQ(gomap_set_str(m, "ab", 2, &v), 0);
    CHECK(gomap_get_str(m, "ac", 2) == NULL);
    CHECK(gomap_get_str(m, "ab", 2) != NULL);
    CHECK_VALID(m);
    gomap_free(m);
}

/* ------------------------------------------------------------------------ */
/* gomap_strerror                                                            */
/* ------------------------------------------------------------------------ */

static void test_strerror(void)
{
    static const int codes[] = {0, -ENOMEM, -EINVAL, -EBUSY, -EFAULT};
    const char *names[5];
    for (size_t i = 0; i < 5; i++) {
        names[i] = gomap_strerror(codes[i]);
        CHECK(names[i] != NULL);
        CHECK_MSG(strlen(names[i]) > 0, "empty name for %d", codes[i]);
    }
    /* Each known code has its own name. */
    for (size_t i = 0; i < 5; i++)
        for (size_t j = i + 1; j < 5; j++)
            CHECK_MSG(strcmp(names[i], names[j]) != 0, "codes %d and %d both named '%s'",
                      codes[i], codes[j], names[i]);
    /* Unknown codes still get a string. */
    static const int unknown[] = {-12345, 12345, 1, -1000000, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = gomap_strerror(unknown[i]);
        CHECK(s != NULL);
        CHECK(strlen(s) < 4096);
    }
}

/* ------------------------------------------------------------------------ */
/* String keys: ownership, NUL bytes                                         */
/* ------------------------------------------------------------------------ */

static void test_str_keys_copied(void)
{
    fail_alloc fa;
    fail_alloc_init(&fa);
    gomap_options o = opts_of(GOMAP_KEY_STR, 0, 4);
    o.alloc = &fa.iface;
    gomap_t *m = NULL;
    CHECK_EQ(gomap_new(&m, &o), 0);

    /* Insert from a heap buffer, then scribble over it and free it. Short
     * and long keys (the long one beyond the inline limit). */
    static const size_t lens[] = {1, 5, 16, 200};
    for (size_t i = 0; i < 4; i++) {
        char *buf = malloc(lens[i]);
        CHECK(buf != NULL);
        memset(buf, 'k', lens[i]);
        uint32_t v = (uint32_t)i;
        CHECK_EQ(gomap_set_str(m, buf, lens[i], &v), 0);
        memset(buf, '#', lens[i]);
        free(buf);
    }
    CHECK_EQ(gomap_len(m), 4);
    for (size_t i = 0; i < 4; i++) {
        char expect[200];
        memset(expect, 'k', lens[i]);
        const uint32_t *p = gomap_get_str(m, expect, lens[i]);
        CHECK(p != NULL);
        CHECK_EQ(*p, i);
        memset(expect, '#', lens[i]);
        CHECK(gomap_get_str(m, expect, lens[i]) == NULL);
    }

    /* Keys handed out by the iterator are gomap_str over the map's bytes. */
    char caller[8] = "abcdefg";
    uint32_t v = 77;
    CHECK_EQ(gomap_set_str(m, caller, 7, &v), 0);
    gomap_iter it;
    gomap_iter_init(&it, m);
    const void *kp;
    void *vp;
    size_t seen = 0;
    bool saw_caller = false;
    while (gomap_iter_next(&it, &kp, &vp)) {
        const gomap_str *ks = kp;
        CHECK(ks != NULL && vp != NULL);
        CHECK(ks->ptr != caller);
        CHECK(ks->len > 0 && ks->ptr != NULL);
        /* The value found through the stored key is this value slot. */
        CHECK(gomap_get(m, ks) == vp);
        if (ks->len == 7) {
            CHECK(memcmp(ks->ptr, "abcdefg", 7) == 0);
            CHECK_EQ(*(uint32_t *)vp, 77);
            saw_caller = true;
        } else {
            for (size_t j = 0; j < ks->len; j++)
                CHECK(ks->ptr[j] == 'k');
        }
        seen++;
    }
    CHECK_EQ(seen, 5);
    CHECK(saw_caller);
    /* Reusing the caller's buffer changes nothing in the map. */
    memcpy(caller, "ABCDEFG", 7);
    CHECK(gomap_get_str(m, "abcdefg", 7) != NULL);
    CHECK(gomap_get_str(m, caller, 7) == NULL);
    CHECK_VALID(m);

    /* Deleting string keys gives their bytes back. */
    size_t live_before = fa.live_bytes;
    char big[200];
    memset(big, 'k', sizeof big);
    CHECK(gomap_delete_str(m, big, sizeof big));
    CHECK(fa.live_bytes < live_before);
    gomap_free(m);
    CHECK_EQ(fa.live_bytes, 0);
    CHECK_EQ(fa.live_blocks, 0);
}

static void test_str_keys_with_nul(void)
{
    gomap_t *m = new_map(GOMAP_KEY_STR, 0, 4);
    static const struct { const char *p; size_t n; } keys[] = {
        {"a", 1}, {"a\0", 2}, {"a\0b", 3}, {"a\0c", 3}, {"\0", 1}, {"\0\0", 2}, {"", 0},
    };
    const size_t nk = sizeof keys / sizeof keys[0];
    for (uint32_t i = 0; i < nk; i++)
        CHECK_EQ(gomap_set_str(m, keys[i].p, keys[i].n, &i), 0);
    CHECK_EQ(gomap_len(m), nk);
    for (uint32_t i = 0; i < nk; i++) {
        const uint32_t *p = gomap_get_str(m, keys[i].p, keys[i].n);
        CHECK_MSG(p != NULL && *p == i, "key %u", i);
    }
    /* Iteration hands back the full length, NUL bytes included. */
    gomap_iter it;
    gomap_iter_init(&it, m);
    const void *kp;
    void *vp;
    size_t count = 0;
    while (gomap_iter_next(&it, &kp, &vp)) {
        const gomap_str *ks = kp;
        uint32_t i = *(uint32_t *)vp;
        CHECK(i < nk);
        CHECK_EQ(ks->len, keys[i].n);
        CHECK(ks->len == 0 || memcmp(ks->ptr, keys[i].p, ks->len) == 0);
        count++;
    }
    CHECK_EQ(count, nk);
    CHECK(gomap_delete_str(m, "a\0b", 3));
    CHECK(gomap_get_str(m, "a\0c", 3) != NULL);
    CHECK(gomap_get_str(m, "a", 1) != NULL);
    CHECK(gomap_get_str(m, "a\0b", 3) == NULL);
    CHECK_VALID(m);
    gomap_free(m);
}

/* ------------------------------------------------------------------------ */
/* BYTES and CUSTOM key kinds                                                */
/* ------------------------------------------------------------------------ */

typedef struct {
    uint32_t a;
    uint16_t b;
    uint8_t c[10];
} blob16;

static void test_bytes_keys(void)
{
    gomap_t *m = new_map(GOMAP_KEY_BYTES, sizeof(blob16), 8);
    blob16 base;
    memset(&base, 0, sizeof base);
    base.a = 1;
    uint64_t v = 0;
    CHECK_EQ(gomap_set(m, &base, &v), 0);
    /* Changing any single byte gives a different key. */
    for (size_t i = 0; i < sizeof base; i++) {
        blob16 k = base;
        ((unsigned char *)&k)[i] ^= 0x80;
        CHECK(gomap_get(m, &k) == NULL);
        v = i + 1;
        CHECK_EQ(gomap_set(m, &k, &v), 0);
    }
    CHECK_EQ(gomap_len(m), 1 + sizeof base);
    for (size_t i = 0; i < sizeof base; i++) {
        blob16 k = base;
        ((unsigned char *)&k)[i] ^= 0x80;
        const uint64_t *p = gomap_get(m, &k);
        CHECK(p != NULL && *p == i + 1);
    }
    /* An equal byte pattern from another buffer finds the same entry. */
    unsigned char raw[sizeof(blob16)];
    memcpy(raw, &base, sizeof raw);
    const uint64_t *p = gomap_get(m, raw);
    CHECK(p != NULL && *p == 0);
    CHECK(gomap_delete(m, raw));
    CHECK(gomap_get(m, &base) == NULL);
    CHECK_EQ(gomap_len(m), sizeof base);
    CHECK_VALID(m);
    gomap_free(m);

    /* Keys above the inline limit compare bytewise too. */
    m = new_map(GOMAP_KEY_BYTES, 300, 4);
    unsigned char k1[300], k2[300];
    memset(k1, 1, sizeof k1);
    memcpy(k2, k1, sizeof k2);
    k2[299] = 2;
    uint32_t a = 1, b = 2;
    CHECK_EQ(gomap_set(m, k1, &a), 0);
    CHECK_EQ(gomap_set(m, k2, &b), 0);
    CHECK_EQ(gomap_len(m), 2);
    CHECK(*(uint32_t *)gomap_get(m, k1) == 1);
    CHECK(*(uint32_t *)gomap_get(m, k2) == 2);
    CHECK_VALID(m);
    gomap_free(m);
}

/* Case-insensitive 8-byte keys: hash and equal both fold ASCII case. The
 * counters show the map really calls them. */
static size_t ci_hash_calls, ci_equal_calls;

static uint64_t ci_hash(const void *key, uint64_t seed)
{
    const unsigned char *p = key;
    ci_hash_calls++;
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < 8; i++) {
        h ^= (uint64_t)tolower(p[i]);
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static bool ci_equal(const void *a, const void *b)
{
    const unsigned char *x = a, *y = b;
    ci_equal_calls++;
    for (size_t i = 0; i < 8; i++)
        if (tolower(x[i]) != tolower(y[i]))
            return false;
    return true;
}

static void test_custom_keys(void)
{
    gomap_options o = opts_of(GOMAP_KEY_CUSTOM, 8, 4);
    o.hash = ci_hash;
    o.equal = ci_equal;
    gomap_t *m = NULL;
    CHECK_EQ(gomap_new(&m, &o), 0);

    uint32_t v1 = 1, v2 = 2, v3 = 3;
    ci_hash_calls = ci_equal_calls = 0;
    CHECK_EQ(gomap_set(m, "HelloWld", &v1), 0);
    CHECK(ci_hash_calls > 0);
    size_t eq_before = ci_equal_calls;
    CHECK_EQ(gomap_set(m, "helloWLD", &v2), 0);  /* equal under ci_equal: overwrite */
    CHECK(ci_equal_calls > eq_before);
    CHECK_EQ(gomap_len(m), 1);
    CHECK_EQ(gomap_set(m, "goodbye!", &v3), 0);
    CHECK_EQ(gomap_len(m), 2);
    const uint32_t *p = gomap_get(m, "HELLOWLD");
    CHECK(p != NULL && *p == 2);
    p = gomap_get(m, "GoodBye!");
    CHECK(p != NULL && *p == 3);
    CHECK(gomap_get(m, "hellowle") == NULL);

    void *slot = NULL;
    CHECK_EQ(gomap_assign(m, "GOODBYE!", &slot), 0);  /* present */
    CHECK(slot != NULL && *(uint32_t *)slot == 3);
    CHECK(gomap_delete(m, "HeLlOwLd"));
    CHECK_EQ(gomap_len(m), 1);
    CHECK(gomap_get(m, "hellowld") == NULL);

    /* Many keys, looked up in the other case. */
    char k[9];
    for (uint32_t i = 0; i < 2000; i++) {
        snprintf(k, sizeof k, "k%07u", (unsigned)i);
        CHECK_EQ(gomap_set(m, k, &i), 0);
    }
    CHECK_EQ(gomap_len(m), 2001);
    for (uint32_t i = 0; i < 2000; i++) {
        snprintf(k, sizeof k, "K%07u", (unsigned)i);
        p = gomap_get(m, k);
        CHECK(p != NULL && *p == i);
    }
    CHECK_VALID(m);
    check_stats_sane(m);
    gomap_free(m);
}

/* ------------------------------------------------------------------------ */
/* Sets and gomap_assign                                                     */
/* ------------------------------------------------------------------------ */

static void test_sets(void)
{
    gomap_t *m = new_map(GOMAP_KEY_U64, 0, 0);
    for (uint64_t k = 0; k < 100; k += 2)
        CHECK_EQ(gomap_set(m, &k, NULL), 0);
    uint64_t dup = 4;
    CHECK_EQ(gomap_set(m, &dup, NULL), 0);
    CHECK_EQ(gomap_set_u64(m, 6, NULL), 0);
    CHECK_EQ(gomap_len(m), 50);
    for (uint64_t k = 0; k < 100; k++) {
        CHECK((gomap_get(m, &k) != NULL) == (k % 2 == 0));
        CHECK((gomap_get_u64(m, k) != NULL) == (k % 2 == 0));
        CHECK(gomap_get_copy(m, &k, NULL) == (k % 2 == 0));
    }
    void *slot = NULL;
    uint64_t k = 1;
    CHECK_EQ(gomap_assign(m, &k, &slot), 1);
    CHECK(slot != NULL);
    CHECK_EQ(gomap_assign(m, &k, &slot), 0);
    CHECK(slot != NULL);
    CHECK_EQ(gomap_len(m), 51);
    /* Iteration of a set produces every key. */
    gomap_iter it;
    gomap_iter_init(&it, m);
    const void *kp;
    size_t n = 0;
    uint64_t sum = 0;
    while (gomap_iter_next(&it, &kp, NULL)) {
        sum += *(const uint64_t *)kp;
        n++;
    }
    CHECK_EQ(n, 51);
    CHECK_EQ(sum, 2450 + 1);  /* 0 + 2 + ... + 98, plus 1 */
    CHECK(gomap_delete(m, &k));
    CHECK(gomap_get(m, &k) == NULL);
    CHECK_VALID(m);
    gomap_free(m);

    /* A string set. */
    m = new_map(GOMAP_KEY_STR, 0, 0);
    CHECK_EQ(gomap_set_str(m, "x", 1, NULL), 0);
    CHECK(gomap_get_str(m, "x", 1) != NULL);
    CHECK(gomap_get_str(m, "y", 1) == NULL);
    CHECK_VALID(m);
    gomap_free(m);
}

static void test_assign(void)
{
    gomap_t *m = new_map(GOMAP_KEY_U64, 0, 24);
    uint64_t k = 10;
    void *slot = SENTINEL_PTR;
    CHECK_EQ(gomap_assign(m, &k, &slot), 1);
    CHECK(slot != NULL && slot != SENTINEL_PTR);
    /* A newly inserted value reads as all zero bytes. */
    static const unsigned char zero[24];
    CHECK(memcmp(slot, zero, 24) == 0);
    memset(slot, 0x3C, 24);
    CHECK_EQ(gomap_len(m), 1);

    void *slot2 = NULL;
    CHECK_EQ(gomap_assign(m, &k, &slot2), 0);
    CHECK(slot2 == gomap_get(m, &k));
    unsigned char expect[24];
    memset(expect, 0x3C, 24);
    CHECK(memcmp(slot2, expect, 24) == 0);
    CHECK_EQ(gomap_len(m), 1);

    /* Counter idiom m[k]++ across many keys and a growth. */
    for (int round = 0; round < 3; round++) {
        for (uint64_t i = 0; i < 1000; i++) {
            void *s = NULL;
            int rc = gomap_assign(m, &i, &s);
            CHECK(s != NULL);
            if (i == 10)
                CHECK_EQ(rc, 0);
            else
                CHECK_EQ(rc, round == 0 ? 1 : 0);
            uint64_t c;
            memcpy(&c, s, 8);
            c++;
            memcpy(s, &c, 8);
        }
    }
    CHECK_EQ(gomap_len(m), 1000);
    for (uint64_t i = 0; i < 1000; i++) {
        unsigned char out[24];
        CHECK(gomap_get_copy(m, &i, out));
        uint64_t c;
        memcpy(&c, out, 8);
        if (i == 10)
            CHECK_EQ(c, 0x3C3C3C3C3C3C3C3Cull + 3);
        else
            CHECK_EQ(c, 3);
    }
    CHECK_VALID(m);

    /* A value slot freed by delete reads as zero when assign reuses it. */
    k = 500;
    CHECK(gomap_delete(m, &k));
    CHECK_EQ(gomap_assign(m, &k, &slot), 1);
    CHECK(memcmp(slot, zero, 24) == 0);
    CHECK_VALID(m);
    gomap_free(m);
}

/* ------------------------------------------------------------------------ */
/* gomap_clone                                                               */
/* ------------------------------------------------------------------------ */

static void test_clone_u64(void)
{
    fail_alloc fa;
    fail_alloc_init(&fa);
    gomap_options o = opts_of(GOMAP_KEY_U64, 0, 8);
    o.alloc = &fa.iface;
    gomap_t *m = NULL;
    CHECK_EQ(gomap_new(&m, &o), 0);
    const uint64_t n = 3000;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v = i * 7;
        CHECK_EQ(gomap_set(m, &i, &v), 0);
    }
    gomap_t *c = SENTINEL_MAP;
    CHECK_EQ(gomap_clone(&c, m), 0);
    CHECK(c != NULL && c != SENTINEL_MAP && c != m);
    CHECK_EQ(gomap_len(c), n);
    CHECK_VALID(c);
    check_stats_sane(c);
    /* Same entries, separate storage. */
    for (uint64_t i = 0; i < n; i++) {
        uint64_t *a = gomap_get(m, &i), *b = gomap_get(c, &i);
        CHECK(a != NULL && b != NULL && a != b);
        CHECK_EQ(*b, i * 7);
    }
    /* Modify the original: the clone is unchanged. */
    for (uint64_t i = 0; i < n; i += 2)
        CHECK(gomap_delete(m, &i));
    uint64_t extra = n + 5, big = 1;
    CHECK_EQ(gomap_set(m, &extra, &big), 0);
    *(uint64_t *)gomap_get(m, (uint64_t[]){1}) = 12345;
    CHECK_EQ(gomap_len(c), n);
    CHECK(gomap_get(c, &extra) == NULL);
    CHECK_EQ(*(uint64_t *)gomap_get(c, (uint64_t[]){1}), 7);
    /* Modify the clone: the original is unchanged. */
    gomap_clear(c);
    CHECK_EQ(gomap_len(c), 0);
    CHECK_EQ(gomap_len(m), n / 2 + 1);
    CHECK_EQ(*(uint64_t *)gomap_get(m, (uint64_t[]){1}), 12345);
    CHECK_VALID(m);
    CHECK_VALID(c);
    gomap_free(m);
    gomap_free(c);
    /* The clone used the same allocator, and both gave everything back. */
    CHECK_EQ(fa.live_bytes, 0);
    CHECK_EQ(fa.live_blocks, 0);

    /* Cloning an empty map gives a working empty map. */
    gomap_t *e = new_map(GOMAP_KEY_U32, 0, 4);
    CHECK_EQ(gomap_clone(&c, e), 0);
    CHECK_EQ(gomap_len(c), 0);
    uint32_t key = 1, val = 2;
    CHECK_EQ(gomap_set(c, &key, &val), 0);
    CHECK_EQ(gomap_len(c), 1);
    CHECK_EQ(gomap_len(e), 0);
    CHECK_VALID(c);
    gomap_free(c);
    gomap_free(e);
}

static void test_clone_str_keys(void)
{
    gomap_t *m = new_map(GOMAP_KEY_STR, 0, 8);
    char buf[256];
    for (uint64_t i = 0; i < 500; i++) {
        /* Short and long (beyond the inline limit) keys. */
        size_t len = (size_t)snprintf(buf, sizeof buf, "%0*" PRIu64, (int)(i % 3 ? 6 : 180), i);
        CHECK_EQ(gomap_set_str(m, buf, len, &i), 0);
    }
    gomap_t *c = NULL;
    CHECK_EQ(gomap_clone(&c, m), 0);
    /* Keys the clone hands out are its own bytes, not the original's. */
    gomap_iter it;
    gomap_iter_init(&it, c);
    const void *kp;
    void *vp;
    size_t n = 0;
    while (gomap_iter_next(&it, &kp, &vp)) {
        const gomap_str *ks = kp;
        void *orig_val = gomap_get(m, ks);
        CHECK(orig_val != NULL && orig_val != vp);
        CHECK_EQ(*(uint64_t *)orig_val, *(uint64_t *)vp);
        n++;
    }
    CHECK_EQ(n, 500);
    /* Freeing the original leaves the clone's keys intact. */
    gomap_free(m);
    for (uint64_t i = 0; i < 500; i++) {
        size_t len = (size_t)snprintf(buf, sizeof buf, "%0*" PRIu64, (int)(i % 3 ? 6 : 180), i);
        const uint64_t *p = gomap_get_str(c, buf, len);
        CHECK(p != NULL && *p == i);
    }
    gomap_iter_init(&it, c);
    n = 0;
    while (gomap_iter_next(&it, &kp, NULL)) {
        const gomap_str *ks = kp;
        CHECK(ks->len == 6 || ks->len == 180);
        for (size_t j = 0; j < ks->len; j++)
            CHECK(ks->ptr[j] >= '0' && ks->ptr[j] <= '9');
        n++;
    }
    CHECK_EQ(n, 500);
    CHECK_VALID(c);
    gomap_free(c);
}

/* ------------------------------------------------------------------------ */
/* gomap_shrink                                                              */
/* ------------------------------------------------------------------------ */

/* The smallest power-of-two bucket count that holds n entries under Go's
 * growth rule: grow when count > 8 and count > 6.5 * buckets. */
static void test_shrink_after_deletes(void)
{
    fail_alloc fa;
    fail_alloc_init(&fa);
    gomap_options o = opts_of(GOMAP_KEY_U64, 0, 8);
    o.alloc = &fa.iface;
    gomap_t *m = NULL;
    CHECK_EQ(gomap_new(&m, &o), 0);
    const uint64_t n = 100000;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t v = ~i;
        CHECK_EQ(gomap_set_u64(m, i, &v), 0);
    }
    CHECK_EQ(gomap_len(m), n);
    gomap_stats_t full = check_map_stats(m);
    CHECK(full.buckets >= n / 8);
    for (uint64_t i = 10; i < n; i++)
        CHECK(gomap_delete_u64(m, i));
    CHECK_EQ(gomap_len(m), 10);
    CHECK_VALID(m);
    gomap_stats_t before = check_map_stats(m);
    /* Deletes never shrink the array. */
    CHECK(before.buckets >= full.buckets);

    CHECK_EQ(gomap_shrink(m), 0);
    gomap_stats_t after = check_map_stats(m);
    CHECK_EQ(after.entries, 10);
    CHECK_EQ(after.buckets, test_buckets_for_nonempty(10));
    CHECK_EQ(after.buckets, 2);
    CHECK(!after.growing);
    CHECK_EQ(after.old_buckets, 0);
    CHECK(after.bytes_held < before.bytes_held / 100);
    CHECK_EQ(after.bytes_held, fa.live_bytes);
    for (uint64_t i = 0; i < 10; i++) {
        const uint64_t *p = gomap_get_u64(m, i);
        CHECK(p != NULL && *p == ~i);
    }
    CHECK(gomap_get_u64(m, 10) == NULL);
    CHECK_VALID(m);
    check_stats_sane(m);

    /* Shrinking again changes nothing. */
    CHECK_EQ(gomap_shrink(m), 0);
    CHECK_EQ(check_map_stats(m).buckets, 2);
    CHECK_EQ(check_map_stats(m).bytes_held, after.bytes_held);
    /* The map keeps working and grows again. */
    for (uint64_t i = 10; i < 1000; i++)
        CHECK_EQ(gomap_set_u64(m, i, &i), 0);
    CHECK_EQ(gomap_len(m), 1000);
    CHECK(check_map_stats(m).buckets > 1);
    CHECK_VALID(m);
    gomap_free(m);
    CHECK_EQ(fa.live_bytes, 0);
}

/* Shrink picks the smallest array within load factor 6.5, given Go's rule
 * that up to 8 entries fit in one bucket. */
static void test_shrink_sizes(void)
{
    static const struct { size_t keep, buckets; } cases[] = {
        {1, 1}, {8, 1}, {9, 2}, {13, 2}, {14, 4}, {26, 4}, {27, 8}, {1000, 256},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        gomap_t *m = new_map(GOMAP_KEY_U64, 0, 8);
        for (uint64_t i = 0; i < 4000; i++)
            CHECK_EQ(gomap_set_u64(m, i, &i), 0);
        CHECK_EQ(check_map_stats(m).buckets, 1024);
        for (uint64_t i = cases[ci].keep; i < 4000; i++)
            CHECK(gomap_delete_u64(m, i));
        CHECK_EQ(gomap_shrink(m), 0);
        gomap_stats_t s = check_map_stats(m);
        CHECK_EQ(test_buckets_for_nonempty(cases[ci].keep), cases[ci].buckets);
        CHECK_MSG(s.buckets == cases[ci].buckets, "keep %zu: %zu buckets, expected %zu",
                  cases[ci].keep, s.buckets, cases[ci].buckets);
        CHECK_EQ(gomap_len(m), cases[ci].keep);
        for (uint64_t i = 0; i < cases[ci].keep; i++)
            CHECK(gomap_get_u64(m, i) != NULL && *(uint64_t *)gomap_get_u64(m, i) == i);
        CHECK_VALID(m);
        gomap_free(m);
    }
}

static void test_shrink_empty(void)
{
    fail_alloc fa;
    fail_alloc_init(&fa);
    gomap_options o = opts_of(GOMAP_KEY_STR, 0, 8);
    o.alloc = &fa.iface;
    gomap_t *m = NULL;
    CHECK_EQ(gomap_new(&m, &o), 0);
    char buf[32];
    for (uint64_t i = 0; i < 5000; i++) {
        int len = snprintf(buf, sizeof buf, "s%" PRIu64, i);
        CHECK_EQ(gomap_set_str(m, buf, (size_t)len, &i), 0);
    }
    for (uint64_t i = 0; i < 5000; i++) {
        int len = snprintf(buf, sizeof buf, "s%" PRIu64, i);
        CHECK(gomap_delete_str(m, buf, (size_t)len));
    }
    gomap_stats_t before = check_map_stats(m);
    CHECK_EQ(before.entries, 0);
    CHECK(before.buckets > 0);
    CHECK_EQ(gomap_shrink(m), 0);
    gomap_stats_t after = check_map_stats(m);
    CHECK_EQ(after.buckets, 0);
    CHECK_EQ(after.b, 0);
    CHECK_EQ(after.entries, 0);
    CHECK(after.bytes_held < before.bytes_held);
    CHECK_EQ(after.bytes_held, fa.live_bytes);
    CHECK_VALID(m);
    /* Lookups, deletes and iteration on the array-less map. */
    CHECK(gomap_get_str(m, "s1", 2) == NULL);
    CHECK(!gomap_delete_str(m, "s1", 2));
    gomap_iter it;
    gomap_iter_init(&it, m);
    CHECK(!gomap_iter_next(&it, NULL, NULL));
    /* And it works again afterwards. */
    uint64_t v = 9;
    CHECK_EQ(gomap_set_str(m, "again", 5, &v), 0);
    CHECK_EQ(gomap_len(m), 1);
    const uint64_t *p = gomap_get_str(m, "again", 5);
    CHECK(p != NULL && *p == 9);
    CHECK(check_map_stats(m).buckets >= 1);
    CHECK_VALID(m);
    check_stats_sane(m);
    gomap_free(m);
    CHECK_EQ(fa.live_bytes, 0);

    /* Shrink on a never-used map succeeds and leaves it usable. */
    m = new_map(GOMAP_KEY_U64, 0, 8);
    CHECK_EQ(gomap_shrink(m), 0);
    CHECK_EQ(check_map_stats(m).buckets, 0);
    CHECK_EQ(gomap_set_u64(m, 1, &v), 0);
    CHECK(gomap_get_u64(m, 1) != NULL);
    CHECK_VALID(m);
    gomap_free(m);
}

static void test_shrink_busy_with_iterator(void)
{
    gomap_t *m = new_map(GOMAP_KEY_U64, 0, 8);
    for (uint64_t i = 0; i < 2000; i++)
        CHECK_EQ(gomap_set_u64(m, i, &i), 0);
    for (uint64_t i = 20; i < 2000; i++)
        CHECK(gomap_delete_u64(m, i));
    gomap_stats_t before = check_map_stats(m);

    /* Live iterator (initialised, one step taken): -EBUSY, map unchanged. */
    gomap_iter it;
    gomap_iter_init(&it, m);
    const void *kp;
    CHECK(gomap_iter_next(&it, &kp, NULL));
    CHECK_EQ(gomap_shrink(m), -EBUSY);
    gomap_stats_t busy = check_map_stats(m);
    CHECK_EQ(busy.buckets, before.buckets);
    CHECK_EQ(busy.entries, 20);
    CHECK_VALID(m);
    gomap_iter_done(&it);
    gomap_iter_done(&it);  /* ending twice is harmless */
    CHECK_EQ(gomap_shrink(m), 0);
    CHECK_EQ(check_map_stats(m).buckets, 4);
    CHECK_EQ(gomap_len(m), 20);

    /* Initialised but not yet stepped also counts as live. */
    for (uint64_t i = 20; i < 2000; i++)
        CHECK_EQ(gomap_set_u64(m, i, &i), 0);
    for (uint64_t i = 20; i < 2000; i++)
        CHECK(gomap_delete_u64(m, i));
    gomap_iter_init(&it, m);
    CHECK_EQ(gomap_shrink(m), -EBUSY);
    gomap_iter_done(&it);

    /* Two iterators: busy until both are done. */
    gomap_iter it2;
    gomap_iter_init(&it, m);
    gomap_iter_init(&it2, m);
    gomap_iter_done(&it);
    CHECK_EQ(gomap_shrink(m), -EBUSY);
    gomap_iter_done(&it2);

    /* An exhausted iterator is no longer live. */
    gomap_iter_init(&it, m);
    size_t seen = 0;
    while (gomap_iter_next(&it, NULL, NULL))
        seen++;
    CHECK_EQ(seen, 20);
    CHECK_EQ(gomap_shrink(m), 0);
    CHECK_EQ(check_map_stats(m).buckets, 4);
    for (uint64_t i = 0; i < 20; i++)
        CHECK(gomap_get_u64(m, i) != NULL);
    CHECK_VALID(m);
    gomap_free(m);
}

/* ------------------------------------------------------------------------ */
/* gomap_len, gomap_stats, allocator accounting                              */
/* ------------------------------------------------------------------------ */

static void test_len_and_stats(void)
{
    uint64_t seed = test_seed();
    uint64_t rng = seed;
    fail_alloc fa;
    fail_alloc_init(&fa);
    gomap_options o = opts_of(GOMAP_KEY_U64, 0, 8);
    o.alloc = &fa.iface;
    gomap_t *m = NULL;
    CHECK_EQ(gomap_new(&m, &o), 0);
    check_stats_sane(m);

    /* Random sets and deletes over a small key space, checking len against
     * a shadow array after every step and the stats invariants often. */
    enum { KEYS = 4096 };
    static unsigned char present[KEYS];
    memset(present, 0, sizeof present);
    size_t len = 0;
    bool saw_growing = false;
    for (int step = 0; step < 40000; step++) {
        uint64_t k = test_rand_below(&rng, KEYS);
        if (test_rand_below(&rng, 3) != 0) {
            CHECK_EQ(gomap_set_u64(m, k, &k), 0);
            if (!present[k]) {
                present[k] = 1;
                len++;
            }
        } else {
            CHECK_EQ(gomap_delete_u64(m, k), present[k]);
            if (present[k]) {
                present[k] = 0;
                len--;
            }
        }
        CHECK_EQ(gomap_len(m), len);
        if (step % 97 == 0) {
            check_stats_sane(m);
            gomap_stats_t s = check_map_stats(m);
            saw_growing |= s.growing;
            CHECK_EQ(s.bytes_held, fa.live_bytes);
        }
        if (step % 4999 == 0)
            CHECK_VALID(m);
    }
    for (uint64_t k = 0; k < KEYS; k++) {
        const uint64_t *p = gomap_get_u64(m, k);
        CHECK((p != NULL) == present[k]);
        if (p)
            CHECK_EQ(*p, k);
    }
    CHECK_VALID(m);

    /* Growth observed directly: insert fresh keys until growth starts. */
    gomap_t *g = new_map(GOMAP_KEY_U64, 0, 8);
    bool saw_doubling = false, prev_growing = false;
    for (uint64_t i = 0; i < 100000 && !saw_doubling; i++) {
        CHECK_EQ(gomap_set_u64(g, i, &i), 0);
        gomap_stats_t s = check_map_stats(g);
        if (s.growing && !s.same_size_grow && s.b >= 4) {
            CHECK_EQ(s.old_buckets * 2, s.buckets);
            /* A doubling starts on the insert that takes the map past 6.5
             * entries per old bucket (unless another growth deferred it). */
            if (!prev_growing)
                CHECK_EQ(s.entries, (size_t)(6.5 * (double)s.old_buckets) + 1);
            saw_doubling = true;
        }
        prev_growing = s.growing;
    }
    CHECK(saw_doubling);
    saw_growing |= saw_doubling;
    CHECK(saw_growing);
    CHECK_VALID(g);
    check_stats_sane(g);
    gomap_free(g);

    /* Clear keeps capacity, empties, reseeds. */
    gomap_stats_t s0 = check_map_stats(m);
    gomap_clear(m);
    gomap_stats_t s1 = check_map_stats(m);
    CHECK_EQ(gomap_len(m), 0);
    CHECK_EQ(s1.entries, 0);
    CHECK_EQ(s1.buckets, s0.buckets);
    CHECK(s1.reseeds > s0.reseeds);
    CHECK(s1.load_factor == 0.0);
    CHECK_VALID(m);
    gomap_free(m);
    CHECK_EQ(fa.live_bytes, 0);
    CHECK_EQ(fa.live_blocks, 0);
    CHECK_EQ(fa.allocs, fa.frees);
}

/* A map with a custom allocator takes every byte from it and returns every
 * byte at gomap_free, across every key kind and out-of-line sizes. */
static void test_custom_allocator_balance(void)
{
    static const struct { gomap_key_kind kind; size_t ks, vs; } shapes[] = {
        {GOMAP_KEY_U32, 0, 4}, {GOMAP_KEY_U64, 0, 0}, {GOMAP_KEY_F64, 0, 8},
        {GOMAP_KEY_STR, 0, 16}, {GOMAP_KEY_BYTES, 200, 300}, {GOMAP_KEY_CUSTOM, 8, 8},
    };
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        fail_alloc fa;
        fail_alloc_init(&fa);
        gomap_options o = opts_of(shapes[si].kind, shapes[si].ks, shapes[si].vs);
        o.alloc = &fa.iface;
        if (shapes[si].kind == GOMAP_KEY_CUSTOM) {
            o.hash = ci_hash;
            o.equal = ci_equal;
        }
        gomap_t *m = NULL;
        CHECK_EQ(gomap_new(&m, &o), 0);
        CHECK(fa.allocs > 0);  /* the map itself came from the allocator */
        unsigned char key[200], val[300];
        memset(val, 0x11, sizeof val);
        char sbuf[64];
        for (uint32_t i = 0; i < 1500; i++) {
            memset(key, 0, sizeof key);
            switch (shapes[si].kind) {
            case GOMAP_KEY_U32: memcpy(key, &i, 4); break;
            case GOMAP_KEY_U64: { uint64_t k = i; memcpy(key, &k, 8); break; }
            case GOMAP_KEY_F64: { double d = i * 0.5; memcpy(key, &d, 8); break; }
            case GOMAP_KEY_STR: {
                gomap_str s = {sbuf, (size_t)snprintf(sbuf, sizeof sbuf,
                                                      "string key number %u", (unsigned)i)};
                memcpy(key, &s, sizeof s);
                break;
            }
            case GOMAP_KEY_BYTES: memcpy(key + 100, &i, 4); break;
            case GOMAP_KEY_CUSTOM: snprintf((char *)key, 9, "c%07u", (unsigned)i); break;
            }
            CHECK_EQ(gomap_set(m, key, shapes[si].vs ? val : NULL), 0);
            if (i % 3 == 0)
                CHECK(gomap_delete(m, key));
        }
        CHECK_EQ(gomap_len(m), 1000);
        CHECK_EQ(check_map_stats(m).bytes_held, fa.live_bytes);
        gomap_t *c = NULL;
        CHECK_EQ(gomap_clone(&c, m), 0);
        CHECK_EQ(gomap_len(c), 1000);
        CHECK_VALID(m);
        CHECK_VALID(c);
        gomap_free(c);
        CHECK_EQ(gomap_shrink(m), 0);
        CHECK_EQ(check_map_stats(m).bytes_held, fa.live_bytes);
        gomap_free(m);
        CHECK_MSG(fa.live_bytes == 0, "kind %d: %zu bytes not returned", (int)shapes[si].kind,
                  fa.live_bytes);
        CHECK_EQ(fa.live_blocks, 0);
    }
}

int main(void)
{
    RUN(test_new_null_args);
    RUN(test_new_bad_kind);
    RUN(test_new_sizes_over_max);
    RUN(test_new_custom_needs_functions);
    RUN(test_new_incomplete_allocator);
    RUN(test_new_hint_sizes);
    RUN(test_new_limits_accepted);
    RUN(test_null_map_everywhere);
    RUN(test_null_key_and_outputs);
    RUN(test_str_null_ptr);
    RUN(test_typed_wrong_kind);
    RUN(test_typed_matches_generic_u64);
    RUN(test_typed_matches_generic_u32);
    RUN(test_typed_matches_generic_str);
    RUN(test_str_single_bucket_same_ends);
    RUN(test_strerror);
    RUN(test_str_keys_copied);
    RUN(test_str_keys_with_nul);
    RUN(test_bytes_keys);
    RUN(test_custom_keys);
    RUN(test_sets);
    RUN(test_assign);
    RUN(test_clone_u64);
    RUN(test_clone_str_keys);
    RUN(test_shrink_after_deletes);
    RUN(test_shrink_sizes);
    RUN(test_shrink_empty);
    RUN(test_shrink_busy_with_iterator);
    RUN(test_len_and_stats);
    RUN(test_custom_allocator_balance);
    printf("ok\n");
    return 0;
}
