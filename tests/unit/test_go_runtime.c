/*
 * test_go_runtime.c — Go's runtime map tests, rewritten in C for gomap.
 *
 * Each test reproduces one test of Go 1.19's src/runtime/map_test.go (named in
 * its comment), or the Go 1.21 fix for golang/go#59411, from the behaviour it
 * checks rather than from its code. A few tests go further than Go's where the
 * C API makes more of the behaviour observable (value slots, the stored key
 * bits, gomap_stats, gomap_validate). Randomness, where any is used, comes
 * from test_seed().
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

/* Value slots and stored keys carry no alignment promise: read and write them
 * with memcpy. */
static int64_t rd64(const void *p)
{
    int64_t x;
    memcpy(&x, p, sizeof x);
    return x;
}

static void wr64(void *p, int64_t x)
{
    memcpy(p, &x, sizeof x);
}

static uint64_t rdu64(const void *p)
{
    uint64_t x;
    memcpy(&x, p, sizeof x);
    return x;
}

static double rdf64(const void *p)
{
    double x;
    memcpy(&x, p, sizeof x);
    return x;
}

static double neg_zero(void)
{
    return copysign(0.0, -1.0);
}

static double f64_from_bits(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static bool all_bytes(const void *p, unsigned char c, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != c)
            return false;
    return true;
}

static void put_u64(gomap_t *m, uint64_t k, int64_t v)
{
    CHECK_EQ(gomap_set(m, &k, &v), 0);
}

/* The int64 value of a key that must be present (checked, so a missing key
 * fails the test instead of crashing it). */
static int64_t must_get(const gomap_t *m, const void *key)
{
    void *p = gomap_get(m, key);
    CHECK_MSG(p != NULL, "a key that must be present is missing");
    return rd64(p);
}

static void put_f64(gomap_t *m, double k, int64_t v)
{
    CHECK_EQ(gomap_set(m, &k, &v), 0);
}

/* Go's m[k] += add: returns what gomap_assign returned (1 inserted, 0 present). */
static int add_f64(gomap_t *m, double k, int64_t add)
{
    void *slot = NULL;
    int rc = gomap_assign(m, &k, &slot);
    CHECK_MSG(rc == 0 || rc == 1, "gomap_assign: %s", gomap_strerror(rc));
    CHECK(slot != NULL);
    wr64(slot, rd64(slot) + add);
    return rc;
}

static int add_u64(gomap_t *m, uint64_t k, int64_t add)
{
    void *slot = NULL;
    int rc = gomap_assign(m, &k, &slot);
    CHECK_MSG(rc == 0 || rc == 1, "gomap_assign: %s", gomap_strerror(rc));
    CHECK(slot != NULL);
    wr64(slot, rd64(slot) + add);
    return rc;
}

/* Iterates over a u64-keyed map, storing the keys in production order.
 * Returns how many were produced (at most cap, checked). */
static size_t iter_order_u64(gomap_t *m, uint64_t *out, size_t cap)
{
    gomap_iter it;
    const void *k;
    size_t n = 0;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it, &k, NULL)) {
        CHECK(n < cap);
        out[n++] = rdu64(k);
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* Float keys                                                                */
/* ------------------------------------------------------------------------ */

/* Checks that exactly one zero key is stored, that its sign is `negative`,
 * that its value is `val`, and that both +0 and -0 find that one entry. */
static void expect_zero_key(gomap_t *m, bool negative, int64_t val)
{
    gomap_iter it;
    const void *k;
    void *v;
    size_t zeros = 0, n = 0;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it, &k, &v)) {
        n++;
        double d = rdf64(k);
        if (d != 0.0)
            continue;
        zeros++;
        CHECK_MSG((signbit(d) != 0) == negative, "stored zero key is %s0, want %s0",
                  signbit(d) ? "-" : "+", negative ? "-" : "+");
        CHECK_EQ(rd64(v), val);
    }
    CHECK_EQ(zeros, 1);
    CHECK_EQ(n, gomap_len(m));
    double pz = 0.0, nz = neg_zero();
    void *a = gomap_get(m, &pz), *b = gomap_get(m, &nz);
    CHECK(a != NULL);
    CHECK(a == b);
}

/* Go: TestNegativeZero. +0 and -0 are one key; a later write of the other
 * zero overwrites the entry and stores the new key bits, so the key the
 * iterator hands back has the sign written last. Run on a one-bucket map and
 * on a map with 1000 other keys (there +0 and -0 must also hash alike). */
static void test_negative_zero(void)
{
    const double pz = 0.0, nz = neg_zero();
    for (int pass = 0; pass < 2; pass++) {
        size_t others = pass ? 1000 : 0;

        gomap_t *m = check_map_new(GOMAP_KEY_F64, 0, sizeof(int64_t), 0);
        for (size_t i = 1; i <= others; i++)
            put_f64(m, (double)i, (int64_t)i);
        put_f64(m, pz, 1);
        expect_zero_key(m, false, 1);
        put_f64(m, nz, 2); /* overwrites the +0 entry */
        CHECK_EQ(gomap_len(m), others + 1);
        expect_zero_key(m, true, 2);
        put_f64(m, pz, 3); /* and back */
        CHECK_EQ(gomap_len(m), others + 1);
        expect_zero_key(m, false, 3);
        CHECK_VALID(m);

        /* m[-0] op= v finds the +0 entry rather than adding one. */
        CHECK_EQ(add_f64(m, nz, 10), 0);
        CHECK_EQ(gomap_len(m), others + 1);
        int64_t got = 0;
        CHECK(gomap_get_copy(m, &pz, &got));
        CHECK_EQ(got, 13);

        /* Deleting -0 removes the entry stored as +0. */
        CHECK(gomap_delete(m, &nz));
        CHECK_EQ(gomap_len(m), others);
        CHECK(gomap_get(m, &pz) == NULL);
        CHECK(!gomap_delete(m, &pz));
        CHECK_VALID(m);
        gomap_free(m);

        /* Second half of Go's test: -0 first, then +0 overwrites it. */
        m = check_map_new(GOMAP_KEY_F64, 0, sizeof(int64_t), 0);
        for (size_t i = 1; i <= others; i++)
            put_f64(m, -(double)i, (int64_t)i);
        put_f64(m, nz, 1);
        expect_zero_key(m, true, 1);
        put_f64(m, pz, 2);
        CHECK_EQ(gomap_len(m), others + 1);
        expect_zero_key(m, false, 2);
        CHECK_VALID(m);
        gomap_free(m);
    }
}

/* Checks a map holding only NaN keys: `n` entries, every key a NaN, values
 * distinct powers of two whose OR and sum are both `want`. */
static void expect_nan_entries(gomap_t *m, size_t n, int64_t want)
{
    CHECK_EQ(gomap_len(m), n);
    gomap_iter it;
    const void *k;
    void *v;
    size_t cnt = 0;
    int64_t or_ = 0, sum = 0;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it, &k, &v)) {
        CHECK_MSG(isnan(rdf64(k)), "NaN key came back as %g", rdf64(k));
        int64_t x = rd64(v);
        CHECK_MSG(x > 0 && (x & (x - 1)) == 0, "value %lld is not a power of two", (long long)x);
        or_ |= x;
        sum += x;
        cnt++;
    }
    CHECK_EQ(cnt, n);
    CHECK_EQ(or_, want);
    CHECK_EQ(sum, want);
}

/* No lookup or delete ever finds a NaN key, whatever its bits. */
static void expect_nan_unfindable(gomap_t *m, double nan)
{
    size_t len = gomap_len(m);
    int64_t out = -1;
    CHECK(gomap_get(m, &nan) == NULL);
    CHECK(!gomap_get_copy(m, &nan, &out));
    CHECK_EQ(out, 0); /* zero-filled on a miss */
    CHECK(!gomap_delete(m, &nan));
    CHECK_EQ(gomap_len(m), len);
}

/* Go: TestMapAssignmentNan and TestMapOperatorAssignmentNan. NaN never equals
 * itself: every insert of NaN adds an entry (with set and with m[k] op= v),
 * lookups and deletes never find one, iteration returns all of them (their
 * values sum to what was stored), NaNs with other bit patterns behave the
 * same, and clear removes them all. */
static void test_map_assignment_nan(void)
{
    const double nan = NAN;
    const double nans[] = {
        NAN,
        -NAN,
        f64_from_bits(0x7ff0000000000001ull), /* signalling NaN payload */
        f64_from_bits(0xfff8000000000123ull), /* negative quiet NaN, payload */
    };

    /* Assignment: m[nan] = 1; m[nan] = 2; m[nan] = 4. */
    gomap_t *m = check_map_new(GOMAP_KEY_F64, 0, sizeof(int64_t), 0);
    put_f64(m, nan, 1);
    CHECK_EQ(gomap_len(m), 1);
    put_f64(m, nan, 2);
    CHECK_EQ(gomap_len(m), 2);
    put_f64(m, nan, 4);
    expect_nan_entries(m, 3, 7);
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++)
        expect_nan_unfindable(m, nans[i]);
    expect_nan_entries(m, 3, 7);

    /* Other NaN bit patterns add entries too. */
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        CHECK(isnan(nans[i]));
        put_f64(m, nans[i], (int64_t)8 << i);
        CHECK_EQ(gomap_len(m), 4 + i);
    }
    expect_nan_entries(m, 7, 127);
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++)
        expect_nan_unfindable(m, nans[i]);
    CHECK_VALID(m);

    /* Clear removes NaN entries that delete cannot reach. */
    gomap_clear(m);
    CHECK_EQ(gomap_len(m), 0);
    expect_nan_entries(m, 0, 0);
    CHECK_VALID(m);
    put_f64(m, nan, 1);
    expect_nan_entries(m, 1, 1);
    gomap_free(m);

    /* Operator assignment: m[nan] += 1; m[nan] += 2; m[nan] += 4. Each
     * assign inserts a fresh zero slot. */
    m = check_map_new(GOMAP_KEY_F64, 0, sizeof(int64_t), 0);
    CHECK_EQ(add_f64(m, nan, 1), 1);
    CHECK_EQ(add_f64(m, nan, 2), 1);
    CHECK_EQ(add_f64(m, nan, 4), 1);
    expect_nan_entries(m, 3, 7);
    expect_nan_unfindable(m, nan);
    CHECK_VALID(m);
    gomap_free(m);
}

/* Go: TestGrowWithNaN. Three NaN entries (two set, one m[k] += v); the first
 * iteration step inserts 100 ordinary keys, growing the map. The iteration
 * must still return all three NaNs with their values (OR 7), and the ordinary
 * keys it returns (it may or may not return them) with the right values and
 * never twice. */
static void test_grow_with_nan(void)
{
    const double nan = NAN;
    gomap_t *m = check_map_new(GOMAP_KEY_F64, 0, sizeof(int64_t), 4);
    put_f64(m, nan, 1);
    put_f64(m, nan, 2);
    CHECK_EQ(add_f64(m, nan, 4), 1);
    unsigned b0 = check_map_stats(m).b;

    unsigned char seen[100] = {0};
    bool growflag = true;
    int cnt = 0;
    int64_t s = 0;
    gomap_iter it;
    const void *kp;
    void *vp;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it, &kp, &vp)) {
        double k = rdf64(kp);
        int64_t v = rd64(vp);
        if (growflag) {
            /* Force growth, with set and with m[k] += v. */
            for (int i = 0; i < 50; i++)
                put_f64(m, (double)i, i);
            for (int i = 50; i < 100; i++)
                CHECK_EQ(add_f64(m, (double)i, i), 1);
            CHECK_MSG(check_map_stats(m).b >= b0 + 3, "map did not grow: B %u -> %u", b0, check_map_stats(m).b);
            growflag = false;
        }
        if (isnan(k)) {
            cnt++;
            s |= v;
        } else {
            CHECK(k >= 0 && k < 100 && k == floor(k));
            int i = (int)k;
            CHECK_EQ(v, i);
            CHECK_MSG(seen[i] == 0, "key %d produced twice", i);
            seen[i] = 1;
        }
    }
    CHECK_MSG(cnt == 3, "NaN keys lost during grow: %d of 3", cnt);
    CHECK_MSG(s == 7, "NaN values lost during grow: OR %lld", (long long)s);
    CHECK_EQ(gomap_len(m), 103);
    CHECK_VALID(m);
    gomap_free(m);
}

/* Go: TestGrowWithNegativeZero. Keys +0, 1, 2, 3 with values 1, 2, 4, 8. At
 * the first iteration step the map is grown (100 keys with value 0) and the
 * four entries are rewritten: -0 -> 1|16, 1 -> 2|16, 2 -> 4|16, 3 -> 8|16.
 * The entry produced first predates the rewrite; every entry produced after it
 * must come back as the rewritten pair — key and value updated together, so
 * the zero key is -0 with bit 16 set — and nothing is produced twice. (Go uses
 * a struct {float64, int} key to have four zero keys; here the zero key is
 * one of four, and rounds repeat until it has come after the rewrite.) */
static void test_grow_with_negative_zero(void)
{
    const double keys[4] = {0.0, 1.0, 2.0, 3.0};
    int late_zero = 0, rounds = 0;
    for (; rounds < 400 && (rounds < 20 || late_zero < 3); rounds++) {
        gomap_t *m = check_map_new(GOMAP_KEY_F64, 0, sizeof(int64_t), 4);
        put_f64(m, keys[0], 1);
        CHECK_EQ(add_f64(m, keys[1], 2), 1);
        CHECK_EQ(add_f64(m, keys[2], 4), 1);
        put_f64(m, keys[3], 8);

        bool growflag = true;
        int cnt = 0, negcnt = 0;
        int64_t s = 0;
        unsigned seen = 0;
        gomap_iter it;
        const void *kp;
        void *vp;
        gomap_iter_init(&it, m);
        while (gomap_iter_next(&it, &kp, &vp)) {
            double k = rdf64(kp);
            int64_t v = rd64(vp);
            if (v == 0)
                continue; /* a key added to grow the table */
            CHECK(k >= 0.0 && k <= 3.0 && k == floor(k));
            int idx = (int)k;
            CHECK_MSG(!(seen & (1u << idx)), "key %d produced twice", idx);
            seen |= 1u << idx;
            cnt++;
            if (growflag) {
                /* First entry: produced before any write. */
                CHECK_EQ(v, (int64_t)1 << idx);
                if (idx == 0)
                    CHECK_MSG(!signbit(k), "first entry: zero key is -0 before the rewrite");
                s |= v;
                for (int i = 0; i < 100; i++)
                    put_f64(m, 100.0 + i, 0);
                put_f64(m, neg_zero(), 1 | 16);
                put_f64(m, keys[1], 2 | 16);
                put_f64(m, keys[2], 4 | 16);
                put_f64(m, keys[3], 8 | 16);
                CHECK_EQ(gomap_len(m), 104);
                growflag = false;
            } else {
                CHECK_MSG(v & 16, "key %d: value %lld predates the rewrite", idx, (long long)v);
                CHECK_EQ(v & 15, (int64_t)1 << idx);
                if (idx == 0) {
                    CHECK_MSG(signbit(k),
                              "update to -0 missed by iteration (key/value not updated together)");
                    late_zero++;
                }
                negcnt++;
                s |= v & 15;
            }
        }
        CHECK_MSG(s == 15, "entry missing: %lld", (long long)s);
        CHECK_MSG(cnt == 4, "iterator returned %d entries", cnt);
        CHECK_EQ(negcnt, 3);
        CHECK_VALID(m);
        gomap_free(m);
    }
    /* The iteration start is random, so the zero key comes after the rewrite
     * in 3 rounds out of 8 on average; 400 rounds without it is impossible
     * unless the start is not random. */
    CHECK_MSG(late_zero >= 3, "zero key produced after the rewrite in %d of %d rounds", late_zero,
              rounds);
}

/* ------------------------------------------------------------------------ */
/* Iteration across growth                                                   */
/* ------------------------------------------------------------------------ */

/* Go: TestIterGrowAndDelete. 100 keys; the first iteration step grows the map
 * to 1000 keys and deletes every odd key. No odd key may be produced after
 * that (they were deleted before the iterator reached them); every even key
 * present from the start is produced exactly once; values are current. */
static void test_iter_grow_and_delete(void)
{
    gomap_t *m = check_map_new(GOMAP_KEY_U64, 0, sizeof(int64_t), 4);
    for (uint64_t i = 0; i < 100; i++)
        put_u64(m, i, (int64_t)i);
    unsigned char *seen = calloc(1000, 1);
    CHECK(seen != NULL);
    bool growflag = true;
    uint64_t first = 0;
    gomap_iter it;
    const void *kp;
    void *vp;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it, &kp, &vp)) {
        uint64_t k = rdu64(kp);
        CHECK(k < 1000);
        CHECK_EQ(rd64(vp), (int64_t)k);
        CHECK_MSG(seen[k] == 0, "key %llu produced twice", (unsigned long long)k);
        seen[k] = 1;
        if (growflag) {
            first = k;
            for (uint64_t i = 100; i < 1000; i++)
                put_u64(m, i, (int64_t)i);
            for (uint64_t i = 1; i < 1000; i += 2)
                CHECK(gomap_delete(m, &i));
            growflag = false;
        } else {
            CHECK_MSG((k & 1) == 0, "odd key %llu produced after it was deleted",
                      (unsigned long long)k);
        }
    }
    for (uint64_t i = 0; i < 100; i += 2)
        CHECK_MSG(seen[i] == 1, "even key %llu never produced", (unsigned long long)i);
    for (uint64_t i = 1; i < 1000; i += 2)
        CHECK(seen[i] == 0 || i == first);
    CHECK_EQ(gomap_len(m), 500);
    CHECK_VALID(m);
    free(seen);
    gomap_free(m);
}

/* Go: TestIterGrowWithGC. Go checks that a GC does not free the bucket array
 * an iterator is walking; in C the old arrays must stay valid (and are
 * checked by ASan) for an iterator that started before the growth.
 *
 * Part 1 is Go's shape: 16 keys (8 set, 8 by m[k] += v), the first step grows
 * the map to 916 keys. Part 2 grows it a little at every step, so the map
 * grows several times while the iterator walks. In both, every original key
 * is produced exactly once with its value, no key is produced twice, and the
 * memory retired for the iterator is given back by the first write after it
 * ends. */
static void test_iter_grow_with_gc(void)
{
    enum { MAXKEY = 4096 };
    unsigned char *seen = malloc(MAXKEY);
    CHECK(seen != NULL);
    for (int part = 1; part <= 2; part++) {
        for (int round = 0; round < 4; round++) {
            gomap_t *m = check_map_new(GOMAP_KEY_U64, 0, sizeof(int64_t), 4);
            for (uint64_t i = 0; i < 8; i++)
                put_u64(m, i, (int64_t)i);
            for (uint64_t i = 8; i < 16; i++)
                CHECK_EQ(add_u64(m, i, (int64_t)i), 1);
            unsigned b0 = check_map_stats(m).b;
            memset(seen, 0, MAXKEY);
            uint64_t next = 100;
            size_t held_in_loop = 0;
            int steps = 0;
            gomap_iter it;
            const void *kp;
            void *vp;
            gomap_iter_init(&it, m);
            while (gomap_iter_next(&it, &kp, &vp)) {
                uint64_t k = rdu64(kp);
                CHECK(k < MAXKEY);
                CHECK_EQ(rd64(vp), (int64_t)k);
                CHECK_MSG(seen[k] == 0, "key %llu produced twice", (unsigned long long)k);
                seen[k] = 1;
                if (part == 1 && steps == 0) {
                    for (; next < 1000; next++)
                        put_u64(m, next, (int64_t)next);
                } else if (part == 2 && next + 64 <= MAXKEY) {
                    for (int j = 0; j < 64; j++, next++)
                        put_u64(m, next, (int64_t)next);
                    if (steps % 8 == 0)
                        CHECK_VALID(m);
                }
                held_in_loop = check_map_stats(m).bytes_held;
                steps++;
            }
            for (uint64_t i = 0; i < 16; i++)
                CHECK_MSG(seen[i] == 1, "original key %llu missing (part %d)",
                          (unsigned long long)i, part);
            gomap_stats_t st = check_map_stats(m);
            CHECK_MSG(st.b >= b0 + 3, "map grew only from B=%u to B=%u", b0, st.b);
            CHECK_EQ(gomap_len(m), 16 + (next - 100));
            CHECK_VALID(m);
            /* The iterator is over: the next write frees what it kept alive.
             * A delete never allocates, so the total must drop. */
            uint64_t k0 = 0;
            CHECK(gomap_delete(m, &k0));
            st = check_map_stats(m);
            CHECK_MSG(st.bytes_held < held_in_loop,
                      "bytes held %zu after the iteration, %zu during it", st.bytes_held,
                      held_in_loop);
            CHECK_VALID(m);
            for (uint64_t i = 1; i < next; i++) {
                if (i >= 16 && i < 100)
                    continue;
                void *p = gomap_get(m, &i);
                CHECK_MSG(p != NULL, "key %llu missing after the iteration", (unsigned long long)i);
                CHECK_EQ(rd64(p), (int64_t)i);
            }
            gomap_free(m);
        }
    }
    free(seen);
}

/* Go: TestMapNanGrowIterator. 104 NaN keys fill 16 buckets; inserting and
 * deleting 1.0 starts a growth to 32 buckets, and the iteration starts in the
 * middle of it. Halfway through, 16 deletes of the absent key 1.0 finish the
 * growth. Every NaN value must be produced exactly once (the iterator cannot
 * look NaN keys up in the new array, so it must take them from the old one
 * and decide which half they went to). */
static void test_map_nan_grow_iterator(void)
{
    enum { NBUCKETS = 16, NKEYS = NBUCKETS * 13 / 2 }; /* 16 * 6.5 = 104 */
    const double nan = NAN, one = 1.0;
    for (int round = 0; round < 8; round++) {
        gomap_t *m = check_map_new(GOMAP_KEY_F64, 0, sizeof(int64_t), 0);
        for (int i = 0; i < NKEYS; i++)
            put_f64(m, nan, i);
        gomap_stats_t st = check_map_stats(m);
        CHECK_EQ(st.buckets, NBUCKETS);
        CHECK(!st.growing);
        put_f64(m, one, -1); /* count + 1 > 6.5 * 16: growth starts */
        CHECK(gomap_delete(m, &one));
        st = check_map_stats(m);
        CHECK_MSG(st.growing && st.buckets == 2 * NBUCKETS,
                  "expected a growth to 32 buckets in progress (growing %d, buckets %zu)",
                  (int)st.growing, st.buckets);
        CHECK_VALID(m);

        unsigned char found[NKEYS] = {0};
        int nfound = 0;
        gomap_iter it;
        const void *kp;
        void *vp;
        gomap_iter_init(&it, m);
        while (gomap_iter_next(&it, &kp, &vp)) {
            CHECK(isnan(rdf64(kp)));
            int64_t v = rd64(vp);
            CHECK_MSG(v >= 0 && v < NKEYS, "value %lld (the deleted key 1.0?)", (long long)v);
            CHECK_MSG(!found[v], "repeat of value %lld", (long long)v);
            found[v] = 1;
            nfound++;
            if (nfound == NKEYS / 2) {
                /* Halfway through: finish the growth. */
                for (int i = 0; i < NBUCKETS; i++)
                    CHECK(!gomap_delete(m, &one));
                CHECK_VALID(m);
                CHECK_MSG(!check_map_stats(m).growing,
                          "16 deletes did not finish evacuating 16 old buckets");
            }
        }
        CHECK_MSG(nfound == NKEYS, "missing values: %d of %d", nfound, NKEYS);
        CHECK_EQ(gomap_len(m), NKEYS);
        CHECK_VALID(m);
        gomap_free(m);
    }
}

/* ------------------------------------------------------------------------ */
/* Concurrent readers                                                        */
/* ------------------------------------------------------------------------ */

enum { CR_READERS = 4, CR_LOOPS = 2, CR_STEPS = 250 };

struct cr_shared {
    gomap_t *m;     /* written by the main thread only while readers wait */
    uint64_t n;     /* keys 0..n-1 are present, each with value == key */
    bool stop;
    pthread_barrier_t go;   /* main thread has finished its write */
    pthread_barrier_t done; /* every reader has finished reading */
};

struct cr_reader {
    struct cr_shared *sh;
    int id;
};

/* One reader's checks of the map while nobody writes it. */
static void cr_read(gomap_t *m, uint64_t n, int id, unsigned step)
{
    unsigned char seen[CR_STEPS];
    CHECK_EQ(gomap_len(m), n);
    for (int pass = 0; pass < 2; pass++) {
        if ((pass == 0) == (id % 2 == 0)) {
            /* Iterate: every key exactly once, with its value. */
            memset(seen, 0, sizeof seen);
            uint64_t cnt = 0;
            gomap_iter it;
            const void *kp;
            void *vp;
            gomap_iter_init(&it, m);
            while (gomap_iter_next(&it, &kp, &vp)) {
                uint64_t k = rdu64(kp);
                CHECK(k < n);
                CHECK_EQ(rd64(vp), (int64_t)k);
                CHECK(!seen[k]);
                seen[k] = 1;
                cnt++;
            }
            CHECK_EQ(cnt, n);
        } else {
            /* Look every key up, with the fast path and the generic call. */
            for (uint64_t k = 0; k < n; k++) {
                void *p = (k + (uint64_t)id) % 2 ? gomap_get_u64(m, k) : gomap_get(m, &k);
                CHECK_MSG(p != NULL, "reader %d: key %llu missing", id, (unsigned long long)k);
                CHECK_EQ(rd64(p), (int64_t)k);
            }
            int64_t out = -1;
            CHECK(!gomap_get_copy(m, &n, &out));
            CHECK_EQ(out, 0);
            CHECK(gomap_get_u64(m, n + 1000) == NULL);
        }
    }
    if (id == 0 && step % 25 == 0)
        CHECK_VALID(m);
}

static void *cr_reader_main(void *arg)
{
    struct cr_reader *r = arg;
    struct cr_shared *sh = r->sh;
    for (unsigned step = 0;; step++) {
        pthread_barrier_wait(&sh->go);
        if (sh->stop)
            break;
        cr_read(sh->m, sh->n, r->id, step);
        pthread_barrier_wait(&sh->done);
    }
    return NULL;
}

/* Go: TestConcurrentReadsAfterGrowth. A map grows one key at a time from
 * empty; after each insert several threads read it at once — iterating,
 * looking keys up, validating — while nobody writes. Reads never move
 * anything, so concurrent readers of a growing (half-evacuated) map must all
 * see every key with its value (ThreadSanitizer checks that reads do not
 * write), and once they are done no iterator counts as live. */
static void test_concurrent_reads_after_growth(void)
{
    struct cr_shared sh;
    memset(&sh, 0, sizeof sh);
    CHECK_EQ(pthread_barrier_init(&sh.go, NULL, CR_READERS + 1), 0);
    CHECK_EQ(pthread_barrier_init(&sh.done, NULL, CR_READERS + 1), 0);
    pthread_t th[CR_READERS];
    struct cr_reader rd[CR_READERS];
    for (int i = 0; i < CR_READERS; i++) {
        rd[i].sh = &sh;
        rd[i].id = i;
        CHECK_EQ(pthread_create(&th[i], NULL, cr_reader_main, &rd[i]), 0);
    }
    size_t growing_steps = 0;
    for (int loop = 0; loop < CR_LOOPS; loop++) {
        gomap_t *m = check_map_new(GOMAP_KEY_U64, 0, sizeof(int64_t), 0);
        for (uint64_t gs = 0; gs < CR_STEPS; gs++) {
            put_u64(m, gs, (int64_t)gs);
            if (check_map_stats(m).growing)
                growing_steps++;
            sh.m = m;
            sh.n = gs + 1;
            pthread_barrier_wait(&sh.go);
            pthread_barrier_wait(&sh.done);
        }
        CHECK_MSG(check_map_stats(m).b >= 5, "map did not grow: B=%u", check_map_stats(m).b);
        /* Every reader's iterations have ended, so no iterator is live:
         * shrink (refused with -EBUSY while one is) must go ahead. */
        CHECK_EQ(gomap_shrink(m), 0);
        CHECK_EQ(gomap_len(m), CR_STEPS);
        CHECK_VALID(m);
        gomap_free(m);
    }
    sh.stop = true;
    pthread_barrier_wait(&sh.go);
    for (int i = 0; i < CR_READERS; i++)
        CHECK_EQ(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&sh.go);
    pthread_barrier_destroy(&sh.done);
    /* The readers must have met maps in the middle of a growth. */
    CHECK(growing_steps > 0);
}

/* ------------------------------------------------------------------------ */
/* Large and empty keys and values                                           */
/* ------------------------------------------------------------------------ */

enum { BIG = 256 };

/* A 256-byte key whose bytes 37..44 spell "stringNN" (Go's key[37]). */
static void big_key(unsigned char *k, int i)
{
    char tag[32];
    for (int j = 0; j < BIG; j++)
        k[j] = (unsigned char)('a' + j % 26);
    snprintf(tag, sizeof tag, "string%02d", i);
    memcpy(k + 37, tag, 8);
}

/* Go: TestBigItems. 256-byte keys and 256-byte values (both stored out of
 * line) round-trip through iteration and lookup, survive overwrites and
 * deletes, and a missing key reads as zero. */
static void test_big_items(void)
{
    unsigned char k[BIG], want[BIG], out[BIG];
    gomap_t *m = check_map_new(GOMAP_KEY_BYTES, BIG, BIG, 4);
    for (int i = 0; i < 100; i++) {
        big_key(k, i);
        CHECK_EQ(gomap_set(m, k, k), 0); /* m[key] = key */
    }
    CHECK_EQ(gomap_len(m), 100);
    CHECK_VALID(m);

    unsigned char seen[100] = {0};
    gomap_iter it;
    const void *kp;
    void *vp;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it, &kp, &vp)) {
        const unsigned char *kb = kp;
        CHECK(memcmp(kb + 37, "string", 6) == 0);
        CHECK(kb[43] >= '0' && kb[43] <= '9' && kb[44] >= '0' && kb[44] <= '9');
        int i = (kb[43] - '0') * 10 + (kb[44] - '0');
        CHECK_MSG(!seen[i], "#%d: produced twice", i);
        seen[i] = 1;
        big_key(want, i);
        CHECK_MSG(memcmp(kb, want, BIG) == 0, "#%d: key bytes changed", i);
        CHECK_MSG(memcmp(vp, want, BIG) == 0, "#%d: value bytes changed", i);
    }
    for (int i = 0; i < 100; i++)
        CHECK_MSG(seen[i], "#%d: missing key", i);

    /* Lookups, then overwrite every value with its complement. */
    for (int i = 0; i < 100; i++) {
        big_key(k, i);
        CHECK(gomap_get_copy(m, k, out));
        CHECK(memcmp(out, k, BIG) == 0);
        for (int j = 0; j < BIG; j++)
            out[j] = (unsigned char)~k[j];
        CHECK_EQ(gomap_set(m, k, out), 0);
    }
    CHECK_EQ(gomap_len(m), 100);
    big_key(k, 5);
    k[BIG - 1] ^= 1; /* differs from key 5 in the last byte only */
    memset(out, 0x5a, BIG);
    CHECK(!gomap_get_copy(m, k, out));
    CHECK(all_bytes(out, 0, BIG));

    /* Delete the odd keys; the even ones keep their (complemented) values. */
    for (int i = 1; i < 100; i += 2) {
        big_key(k, i);
        CHECK(gomap_delete(m, k));
    }
    CHECK_EQ(gomap_len(m), 50);
    CHECK_VALID(m);
    for (int i = 0; i < 100; i++) {
        big_key(k, i);
        void *p = gomap_get(m, k);
        if (i % 2) {
            CHECK(p == NULL);
            continue;
        }
        CHECK(p != NULL);
        for (int j = 0; j < BIG; j++)
            want[j] = (unsigned char)~k[j];
        CHECK(memcmp(p, want, BIG) == 0);
    }
    gomap_free(m);
}

enum { LARGE_N = 64, LARGE_I = 1000 }; /* 64 x uint32 = 256 bytes */

static void large_fill(uint32_t *v, uint32_t i)
{
    for (uint32_t j = 0; j < LARGE_N; j++)
        v[j] = i + j;
}

/* Go: TestMapLargeKeyNoPointer. 1000 keys of 256 bytes (stored out of line)
 * with 8-byte values: every key finds its value, and iteration returns every
 * key's bytes intact. */
static void test_map_large_key_no_pointer(void)
{
    uint32_t k[LARGE_N];
    gomap_t *m = check_map_new(GOMAP_KEY_BYTES, sizeof k, sizeof(int64_t), 0);
    for (uint32_t i = 0; i < LARGE_I; i++) {
        large_fill(k, i);
        int64_t v = i;
        CHECK_EQ(gomap_set(m, k, &v), 0);
    }
    CHECK_EQ(gomap_len(m), LARGE_I);
    CHECK_VALID(m);
    for (uint32_t i = 0; i < LARGE_I; i++) {
        large_fill(k, i);
        int64_t v = -1;
        CHECK_MSG(gomap_get_copy(m, k, &v) && v == (int64_t)i,
                  "corrupted map: want %u, got %lld", i, (long long)v);
    }
    unsigned char *seen = calloc(LARGE_I, 1);
    CHECK(seen != NULL);
    gomap_iter it;
    const void *kp;
    void *vp;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it, &kp, &vp)) {
        memcpy(k, kp, sizeof k);
        CHECK(k[0] < LARGE_I);
        for (uint32_t j = 0; j < LARGE_N; j++)
            CHECK_EQ(k[j], k[0] + j);
        CHECK_EQ(rd64(vp), (int64_t)k[0]);
        CHECK(!seen[k[0]]);
        seen[k[0]] = 1;
    }
    for (uint32_t i = 0; i < LARGE_I; i++)
        CHECK(seen[i]);
    free(seen);
    gomap_free(m);
}

/* Go: TestMapLargeValNoPointer. 1000 values of 256 bytes (stored out of
 * line) under 8-byte keys come back intact through gomap_get, gomap_get_copy
 * and iteration. */
static void test_map_large_val_no_pointer(void)
{
    uint32_t v[LARGE_N], want[LARGE_N];
    gomap_t *m = check_map_new(GOMAP_KEY_U64, 0, sizeof v, 0);
    for (uint32_t i = 0; i < LARGE_I; i++) {
        large_fill(v, i);
        uint64_t k = i;
        CHECK_EQ(gomap_set(m, &k, v), 0);
    }
    CHECK_EQ(gomap_len(m), LARGE_I);
    CHECK_VALID(m);
    for (uint32_t i = 0; i < LARGE_I; i++) {
        uint64_t k = i;
        large_fill(want, i);
        memset(v, 0, sizeof v);
        CHECK(gomap_get_copy(m, &k, v));
        CHECK_MSG(memcmp(v, want, sizeof v) == 0, "corrupted map: value of %u", i);
        void *p = gomap_get_u64(m, k);
        CHECK(p != NULL);
        CHECK(memcmp(p, want, sizeof want) == 0);
    }
    size_t n = 0;
    gomap_iter it;
    const void *kp;
    void *vp;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it, &kp, &vp)) {
        uint64_t k = rdu64(kp);
        CHECK(k < LARGE_I);
        large_fill(want, (uint32_t)k);
        CHECK(memcmp(vp, want, sizeof want) == 0);
        n++;
    }
    CHECK_EQ(n, LARGE_I);
    gomap_free(m);
}

/* Go: TestMapHugeZero. With huge values (4000 bytes, as in Go, and 1 MiB):
 * a lookup of a missing key returns false and zero-fills the output; a new
 * key inserted by gomap_assign has an all-zero value slot, also after the
 * key was deleted and comes back. */
static void test_map_huge_zero(void)
{
    const size_t sizes[] = {4000, (size_t)1 << 20};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t vs = sizes[s];
        unsigned char *buf = malloc(vs);
        CHECK(buf != NULL);
        gomap_t *m = check_map_new(GOMAP_KEY_U64, 0, vs, 0);
        uint64_t k0 = 0, k1 = 1;

        memset(buf, 0xa5, vs);
        CHECK(!gomap_get_copy(m, &k0, buf)); /* y, ok := m[0] on an empty map */
        CHECK_MSG(all_bytes(buf, 0, vs), "missing value not zero (val_size %zu)", vs);
        CHECK(gomap_get(m, &k0) == NULL);

        void *slot = NULL;
        CHECK_EQ(gomap_assign(m, &k1, &slot), 1);
        CHECK(slot != NULL);
        CHECK_MSG(all_bytes(slot, 0, vs), "new slot not zero (val_size %zu)", vs);
        memset(slot, 0xff, vs);
        memset(buf, 0, vs);
        CHECK(gomap_get_copy(m, &k1, buf));
        CHECK(all_bytes(buf, 0xff, vs));

        /* With a present key, a missing key still reads as zero. */
        memset(buf, 0xa5, vs);
        CHECK(!gomap_get_copy(m, &k0, buf));
        CHECK(all_bytes(buf, 0, vs));

        CHECK(gomap_delete(m, &k1));
        CHECK_EQ(gomap_assign(m, &k1, &slot), 1);
        CHECK_MSG(all_bytes(slot, 0, vs),
                  "slot not zero after delete and re-insert (val_size %zu)", vs);
        CHECK_EQ(gomap_assign(m, &k1, &slot), 0);
        CHECK_EQ(gomap_len(m), 1);
        CHECK_VALID(m);
        gomap_free(m);
        free(buf);
    }
}

/* Go: TestEmptyKeyAndValue. Zero-size values make a set (len counts keys);
 * a zero-size key (Go's struct{}) means a map with at most one key, which
 * every write and lookup addresses. */
static void test_empty_key_and_value(void)
{
    static const char zk = 0; /* any non-NULL pointer is a zero-byte key */

    /* a := map[int]empty */
    gomap_t *a = check_map_new(GOMAP_KEY_U64, 0, 0, 4);
    uint64_t k0 = 0;
    CHECK_EQ(gomap_set(a, &k0, NULL), 0);
    CHECK_EQ(gomap_len(a), 1);
    CHECK(gomap_get(a, &k0) != NULL);
    CHECK(gomap_get_copy(a, &k0, NULL));
    uint64_t k1 = 1;
    CHECK(gomap_get(a, &k1) == NULL);
    CHECK_VALID(a);
    gomap_free(a);

    /* b := map[empty]int */
    gomap_t *b = check_map_new(GOMAP_KEY_BYTES, 0, sizeof(int64_t), 4);
    int64_t v = 0;
    CHECK_EQ(gomap_set(b, &zk, &v), 0);
    v = 1;
    CHECK_EQ(gomap_set(b, &zk, &v), 0);
    CHECK_EQ(gomap_len(b), 1);
    v = 0;
    CHECK_MSG(gomap_get_copy(b, &zk, &v) && v == 1, "empty key returned wrong value %lld",
              (long long)v);
    void *slot = NULL;
    CHECK_EQ(gomap_assign(b, &zk, &slot), 0);
    CHECK_EQ(rd64(slot), 1);
    size_t n = 0;
    gomap_iter it;
    void *vp;
    gomap_iter_init(&it, b);
    while (gomap_iter_next(&it, NULL, &vp)) {
        CHECK_EQ(rd64(vp), 1);
        n++;
    }
    CHECK_EQ(n, 1);
    CHECK(gomap_delete(b, &zk));
    CHECK_EQ(gomap_len(b), 0);
    CHECK(gomap_get(b, &zk) == NULL);
    CHECK_EQ(gomap_assign(b, &zk, &slot), 1);
    CHECK_EQ(rd64(slot), 0);
    CHECK_VALID(b);
    gomap_free(b);

    /* c := map[empty]empty */
    gomap_t *c = check_map_new(GOMAP_KEY_BYTES, 0, 0, 4);
    CHECK_EQ(gomap_set(c, &zk, NULL), 0);
    CHECK_EQ(gomap_set(c, &zk, NULL), 0);
    CHECK_EQ(gomap_len(c), 1);
    CHECK(gomap_get(c, &zk) != NULL);
    CHECK(gomap_delete(c, &zk));
    CHECK(!gomap_delete(c, &zk));
    CHECK_EQ(gomap_len(c), 0);
    CHECK_VALID(c);
    gomap_free(c);
}

/* ------------------------------------------------------------------------ */
/* One-bucket string maps                                                    */
/* ------------------------------------------------------------------------ */

enum { SVAL = 16 };

/* Looks `key` up through a private copy of its bytes (so no pointer identity
 * can help), with the generic call and the string fast path; both must agree
 * and give `want` (NULL: absent). Returns the slot. */
static void *str_lookup(gomap_t *m, gomap_str key, const char *want)
{
    char *copy = malloc(key.len + 1);
    CHECK(copy != NULL);
    if (key.len)
        memcpy(copy, key.ptr, key.len);
    gomap_str k = {copy, key.len};
    void *p1 = gomap_get(m, &k);
    void *p2 = gomap_get_str(m, copy, key.len);
    CHECK(p1 == p2);
    if (want == NULL) {
        CHECK_MSG(p1 == NULL, "absent key of length %zu found", key.len);
    } else {
        char w[SVAL] = {0};
        strncpy(w, want, SVAL - 1);
        CHECK_MSG(p1 != NULL, "key of length %zu (\"%.8s...\") missing", key.len, copy);
        CHECK_MSG(memcmp(p1, w, SVAL) == 0, "m[%.8s...] = %.16s; want %s", copy, (const char *)p1,
                  want);
    }
    free(copy);
    return p1;
}

/* Builds a one-bucket string map from keys/vals, checks that it has one
 * bucket, that every key (and every key the iterator returns) finds its value,
 * that the misses are absent, and that this stays true while the keys are
 * deleted one by one. */
static void check_single_bucket_strings(const gomap_str *keys, const char *const *vals, size_t n,
                                        const gomap_str *misses, size_t nmiss)
{
    gomap_t *m = check_map_new(GOMAP_KEY_STR, 0, SVAL, 0);
    for (size_t i = 0; i < n; i++) {
        char v[SVAL] = {0};
        strncpy(v, vals[i], SVAL - 1);
        CHECK_EQ(gomap_set(m, &keys[i], v), 0);
    }
    CHECK_EQ(gomap_len(m), n);
    CHECK_MSG(check_map_stats(m).b == 0, "%zu keys should fit one bucket (B=%u)", n, check_map_stats(m).b);
    CHECK_VALID(m);

    /* Go's testMapLookups: for k, v := range m { m[k] == v }. */
    size_t cnt = 0;
    gomap_iter it;
    const void *kp;
    void *vp;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it, &kp, &vp)) {
        gomap_str ks;
        memcpy(&ks, kp, sizeof ks);
        char v[SVAL];
        memcpy(v, vp, SVAL);
        CHECK(str_lookup(m, ks, v) == vp);
        cnt++;
    }
    CHECK_EQ(cnt, n);

    for (size_t d = 0; d <= n; d++) {
        for (size_t i = 0; i < n; i++)
            str_lookup(m, keys[i], i < d ? NULL : vals[i]);
        for (size_t i = 0; i < nmiss; i++)
            str_lookup(m, misses[i], NULL);
        if (d < n)
            CHECK(gomap_delete_str(m, keys[d].ptr, keys[d].len));
    }
    CHECK_EQ(gomap_len(m), 0);
    CHECK_VALID(m);
    gomap_free(m);
}

/* A string of `len` bytes whose first and last 4 bytes are `edge` and whose
 * middle bytes are `mid`. */
static gomap_str edged(char *buf, size_t len, char edge, char mid)
{
    memset(buf, mid, len);
    memset(buf, edge, 4);
    memset(buf + len - 4, edge, 4);
    return (gomap_str){buf, len};
}

static gomap_str cstr(const char *s)
{
    return (gomap_str){s, strlen(s)};
}

/* Go: TestSingleBucketMapStringKeys_DupLen. A one-bucket string map with
 * short keys of equal length ("foo", "bar") and long keys (128 bytes) of equal
 * length, two of which also share their first and last 4 bytes, so that a
 * lookup cannot tell them apart by length and ends alone. */
static void test_single_bucket_string_keys_dup_len(void)
{
    static char x128[128], y128[128], xax[128], xbx[128], xxy[128], yxx[128], x129[129];
    const gomap_str keys[] = {
        cstr("x"), cstr("xx"), cstr("foo"), cstr("bar"), cstr("xxxx"),
        edged(x128, 128, 'x', 'x'), edged(y128, 128, 'y', 'y'), edged(xax, 128, 'x', 'a'),
    };
    const char *const vals[] = {
        "x1val", "x2val", "fooval", "barval", "x4val", "longval1", "longval2", "longval3",
    };
    gomap_str near_end = edged(xxy, 128, 'x', 'x');
    xxy[127] = 'y'; /* differs from x128 in the last byte only */
    gomap_str near_start = edged(yxx, 128, 'x', 'x');
    yxx[0] = 'y'; /* differs from x128 in the first byte only */
    const gomap_str misses[] = {
        cstr(""), cstr("baz"), cstr("xxx"), cstr("fo"), cstr("xxxxxx"),
        edged(xbx, 128, 'x', 'b'), /* shares length and both ends with x128 and xax */
        near_end, near_start, edged(x129, 129, 'x', 'x'),
    };
    check_single_bucket_strings(keys, vals, sizeof keys / sizeof keys[0], misses,
                                sizeof misses / sizeof misses[0]);
}

/* Go: TestSingleBucketMapStringKeys_NoDupLen. A one-bucket string map whose
 * keys all have different lengths, including two long keys (40 and 128
 * bytes) that share their first and last 4 bytes. */
static void test_single_bucket_string_keys_no_dup_len(void)
{
    static char x128[128], xax40[40], xbx40[40], x40[40], x127[127];
    const gomap_str keys[] = {
        cstr("x"), cstr("xx"), cstr("foo"), cstr("xxxx"), cstr("xxxxx"), cstr("xxxxxx"),
        edged(x128, 128, 'x', 'x'), edged(xax40, 40, 'x', 'a'),
    };
    const char *const vals[] = {
        "x1val", "x2val", "fooval", "x4val", "x5val", "x6val", "longval", "longval40",
    };
    const gomap_str misses[] = {
        cstr(""), cstr("xxx"), cstr("bar"), cstr("xxxxxxx"),
        edged(xbx40, 40, 'x', 'b'), edged(x40, 40, 'x', 'x'), edged(x127, 127, 'x', 'x'),
    };
    check_single_bucket_strings(keys, vals, sizeof keys / sizeof keys[0], misses,
                                sizeof misses / sizeof misses[0]);
}

/* ------------------------------------------------------------------------ */
/* Iteration order                                                           */
/* ------------------------------------------------------------------------ */

/* Go: TestMapIterOrder. For maps of 3, 7, 9 and 15 entries, iterating the
 * same map 100 more times gives at least one order different from the first
 * (each iteration starts at a random bucket and slot offset). Every order is
 * a permutation of the keys. */
static void test_map_iter_order(void)
{
    static const int sizes[] = {3, 7, 9, 15};
    uint64_t first[16], again[16];
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int n = sizes[s];
        for (int round = 0; round < 100; round++) {
            gomap_t *m = check_map_new(GOMAP_KEY_U64, 0, 1, 0);
            for (int i = 0; i < n; i++) {
                uint64_t k = (uint64_t)i;
                unsigned char t = 1;
                CHECK_EQ(gomap_set(m, &k, &t), 0);
            }
            CHECK_EQ(iter_order_u64(m, first, 16), n);
            unsigned mask = 0;
            for (int i = 0; i < n; i++) {
                CHECK(first[i] < (uint64_t)n);
                mask |= 1u << first[i];
            }
            CHECK_EQ(mask, (1u << n) - 1);
            bool differs = false;
            for (int t = 0; t < 100 && !differs; t++) {
                CHECK_EQ(iter_order_u64(m, again, 16), n);
                differs = memcmp(first, again, (size_t)n * sizeof first[0]) != 0;
            }
            CHECK_MSG(differs, "map with n=%d elements had a constant iteration order", n);
            gomap_free(m);
        }
    }
}

/* Go: TestMapSparseIterOrder (golang/go#8410). 1000 keys inserted and 980
 * deleted leave 20 entries scattered over many buckets; the iteration order
 * still changes within 100 iterations, in each of 10 rounds. */
static void test_map_sparse_iter_order(void)
{
    uint64_t first[20], again[20];
    for (int round = 0; round < 10; round++) {
        gomap_t *m = check_map_new(GOMAP_KEY_U64, 0, 1, 0);
        for (uint64_t i = 0; i < 1000; i++) {
            unsigned char t = 1;
            CHECK_EQ(gomap_set(m, &i, &t), 0);
        }
        for (uint64_t i = 20; i < 1000; i++)
            CHECK(gomap_delete(m, &i));
        CHECK_EQ(gomap_len(m), 20);
        CHECK_EQ(iter_order_u64(m, first, 20), 20);
        bool differs = false;
        for (int t = 0; t < 100 && !differs; t++) {
            CHECK_EQ(iter_order_u64(m, again, 20), 20);
            differs = memcmp(first, again, sizeof first) != 0;
        }
        CHECK_MSG(differs, "constant iteration order on round %d", round);
        gomap_free(m);
    }
}

/* ------------------------------------------------------------------------ */
/* Hints and bucket counts                                                   */
/* ------------------------------------------------------------------------ */

/* Go: TestIgnoreBogusMapHint (golang/go#19926). Creating a map with a hint of
 * 0, 1 or one far too large to honour (SIZE_MAX — Go's -1 —, SIZE_MAX/2,
 * 1<<62, Go's -(1<<30)) succeeds; the huge hint is ignored (the map starts
 * with one bucket's worth, B=0), and the map works normally. */
static void test_ignore_bogus_map_hint(void)
{
    const size_t hints[] = {
        0, 1, SIZE_MAX, SIZE_MAX / 2, (size_t)1 << 62, (size_t)0 - ((size_t)1 << 30),
    };
    for (size_t h = 0; h < sizeof hints / sizeof hints[0]; h++) {
        for (int shape = 0; shape < 2; shape++) {
            /* shape 0: u64 -> int64; shape 1: 16-byte key -> 256-byte value */
            size_t vs = shape ? BIG : sizeof(int64_t);
            gomap_t *m = shape ? check_map_new(GOMAP_KEY_BYTES, 16, vs, hints[h])
                               : check_map_new(GOMAP_KEY_U64, 0, vs, hints[h]);
            gomap_stats_t st = check_map_stats(m);
            CHECK_MSG(st.b == 0 && st.buckets <= 1, "hint %zu not ignored: B=%u, %zu buckets",
                      hints[h], st.b, st.buckets);
            unsigned char key[16], val[BIG], out[BIG];
            for (uint64_t i = 0; i < 200; i++) {
                memset(key, 0, sizeof key);
                memcpy(key, &i, sizeof i);
                memset(val, (int)(i & 0xff), vs);
                CHECK_EQ(gomap_set(m, key, val), 0);
            }
            CHECK_EQ(gomap_len(m), 200);
            CHECK_VALID(m);
            for (uint64_t i = 0; i < 200; i++) {
                memset(key, 0, sizeof key);
                memcpy(key, &i, sizeof i);
                CHECK(gomap_get_copy(m, key, out));
                CHECK(all_bytes(out, (unsigned char)(i & 0xff), vs));
                CHECK(gomap_delete(m, key));
            }
            CHECK_EQ(gomap_len(m), 0);
            CHECK_VALID(m);
            gomap_free(m);
        }
    }
}

static void insert_kind(gomap_t *m, gomap_key_kind kind, uint64_t i)
{
    int64_t v = (int64_t)i;
    char buf[32];
    switch (kind) {
    case GOMAP_KEY_U32:
        CHECK_EQ(gomap_set_u32(m, (uint32_t)i, &v), 0);
        break;
    case GOMAP_KEY_STR: {
        int n = snprintf(buf, sizeof buf, "key-%llu", (unsigned long long)i);
        CHECK_EQ(gomap_set_str(m, buf, (size_t)n, &v), 0);
        break;
    }
    default:
        CHECK_EQ(gomap_set_u64(m, i, &v), 0);
        break;
    }
}

/* Go: TestMapBuckets. The bucket count follows the load factor 6.5 with 8
 * slots per bucket: with a hint of n, or after inserting n keys into a map
 * made without a hint, n <= 8 gives 1 bucket, 9..13 gives 2, 14..26 gives 4
 * (and, continuing Go's table, 27..52 gives 8, 53..104 gives 16). Go's
 * negative hints are huge size_t values here and behave like no hint.
 * Checked for the u64, u32 and string key kinds. */
static void test_map_buckets(void)
{
    static const struct {
        long long n;
        size_t buckets;
    } cases[] = {
        {-(1LL << 30), 1}, {-1, 1}, {0, 1}, {1, 1}, {8, 1}, {9, 2}, {13, 2}, {14, 4}, {26, 4},
        {27, 8}, {52, 8}, {53, 16}, {104, 16}, {105, 32},
    };
    static const gomap_key_kind kinds[] = {GOMAP_KEY_U64, GOMAP_KEY_U32, GOMAP_KEY_STR};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        long long n = cases[c].n;
        size_t want = cases[c].buckets;
        unsigned want_b = 0;
        while (((size_t)1 << want_b) < want)
            want_b++;
        uint64_t count = n > 0 ? (uint64_t)n : 0;
        for (size_t kk = 0; kk < sizeof kinds / sizeof kinds[0]; kk++) {
            for (int hinted = 0; hinted < 2; hinted++) {
                size_t hint = hinted ? (size_t)n : 0; /* negative n wraps to a huge hint */
                gomap_t *m = check_map_new(kinds[kk], 0, sizeof(int64_t), hint);
                gomap_stats_t st = check_map_stats(m);
                if (hinted) /* make(map[int]int, n) sizes the map up front */
                    CHECK_MSG(st.b == want_b, "hint %lld: B=%u, want %u", n, st.b, want_b);
                for (uint64_t i = 0; i < count; i++)
                    insert_kind(m, kinds[kk], i);
                st = check_map_stats(m);
                CHECK_EQ(st.entries, count);
                CHECK_MSG(st.b == want_b, "kind %d, %s, n=%lld: B=%u, want %u", (int)kinds[kk],
                          hinted ? "hint n" : "no hint", n, st.b, want_b);
                if (count > 0)
                    CHECK_MSG(st.buckets == want, "kind %d, %s, n=%lld: %zu buckets, want %zu",
                              (int)kinds[kk], hinted ? "hint n" : "no hint", n, st.buckets, want);
                else
                    CHECK(st.buckets <= 1);
                if (hinted) /* a hint of n means n inserts never grow the map */
                    CHECK(!st.growing);
                CHECK_VALID(m);
                gomap_free(m);
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Deleted slots read as zero                                                */
/* ------------------------------------------------------------------------ */

/* golang/go#25936: sets key1 (value bytes all 0x63), deletes it, then does
 * m[key2]++ through gomap_assign: the new slot (likely the one key1 left) must
 * read all zero, and key2 must end up with 1 in its first 8 (or 4) bytes and
 * zeros after. `text` makes the value a string: m[key2] += "1". */
static void increment_after_delete(gomap_t *m, const void *key1, const void *key2, size_t vs,
                                   bool text)
{
    unsigned char *buf = malloc(vs);
    CHECK(buf != NULL);
    memset(buf, 0x63, vs);
    CHECK_EQ(gomap_set(m, key1, buf), 0);
    CHECK(gomap_delete(m, key1));
    CHECK_EQ(gomap_len(m), 0);

    void *slot = NULL;
    CHECK_EQ(gomap_assign(m, key2, &slot), 1);
    CHECK(slot != NULL);
    CHECK_MSG(all_bytes(slot, 0, vs), "new slot not zero after delete (val_size %zu)", vs);
    if (text) {
        strcat((char *)slot, "1");
    } else if (vs == sizeof(int32_t)) {
        int32_t x;
        memcpy(&x, slot, sizeof x);
        x++;
        memcpy(slot, &x, sizeof x);
    } else {
        wr64(slot, rd64(slot) + 1);
    }

    memset(buf, 0x63, vs);
    CHECK(gomap_get_copy(m, key2, buf));
    if (text) {
        CHECK_MSG(strcmp((char *)buf, "1") == 0, "appended '1' to empty string, got %s",
                  (char *)buf);
    } else if (vs == sizeof(int32_t)) {
        int32_t x;
        memcpy(&x, buf, sizeof x);
        CHECK_MSG(x == 1, "incremented 0 to %d", (int)x);
    } else {
        CHECK_MSG(rd64(buf) == 1, "incremented 0 to %lld", (long long)rd64(buf));
        CHECK(all_bytes(buf + 8, 0, vs - 8));
    }
    CHECK_EQ(gomap_len(m), 1);
    CHECK_VALID(m);
    free(buf);
}

/* Go: TestIncrementAfterDeleteValueInt, ...ValueInt32, ...ValueInt64,
 * ...KeyStringValueInt, ...KeyValueString (golang/go#25936), plus a 200-byte
 * value stored out of line and a 300-byte key stored out of line. */
static void test_increment_after_delete(void)
{
    uint64_t k12 = 12, k13 = 13;
    uint32_t u12 = 12, u13 = 13;
    gomap_str s_empty = {NULL, 0}, s_x = {"x", 1};
    unsigned char big1[300], big2[300];
    memset(big1, 1, sizeof big1);
    memset(big2, 2, sizeof big2);

    gomap_t *m = check_map_new(GOMAP_KEY_U64, 0, sizeof(int64_t), 0); /* map[int]int */
    increment_after_delete(m, &k12, &k13, sizeof(int64_t), false);
    gomap_free(m);
    m = check_map_new(GOMAP_KEY_U64, 0, sizeof(int32_t), 0); /* map[int]int32 */
    increment_after_delete(m, &k12, &k13, sizeof(int32_t), false);
    gomap_free(m);
    m = check_map_new(GOMAP_KEY_U32, 0, sizeof(int64_t), 0); /* 4-byte key, int64 value */
    increment_after_delete(m, &u12, &u13, sizeof(int64_t), false);
    gomap_free(m);
    m = check_map_new(GOMAP_KEY_STR, 0, sizeof(int64_t), 0); /* map[string]int */
    increment_after_delete(m, &s_empty, &s_x, sizeof(int64_t), false);
    gomap_free(m);
    m = check_map_new(GOMAP_KEY_STR, 0, 16, 0); /* map[string]string */
    increment_after_delete(m, &s_empty, &s_x, 16, true);
    gomap_free(m);
    m = check_map_new(GOMAP_KEY_U64, 0, 200, 0); /* value out of line */
    increment_after_delete(m, &k12, &k13, 200, false);
    gomap_free(m);
    m = check_map_new(GOMAP_KEY_BYTES, sizeof big1, sizeof(int64_t), 0); /* key out of line */
    increment_after_delete(m, big1, big2, sizeof(int64_t), false);
    gomap_free(m);
}

/* Deletes every key of a string map from inside an iteration (Go's
 * for k := range m { delete(m, k) }). */
static void delete_all_by_iteration(gomap_t *m)
{
    gomap_iter it;
    const void *kp;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it, &kp, NULL)) {
        gomap_str ks;
        memcpy(&ks, kp, sizeof ks);
        char *copy = malloc(ks.len + 1);
        CHECK(copy != NULL);
        if (ks.len)
            memcpy(copy, ks.ptr, ks.len);
        CHECK(gomap_delete_str(m, copy, ks.len));
        free(copy);
    }
    CHECK_EQ(gomap_len(m), 0);
}

/* Go: TestIncrementAfterBulkClearKeyStringValueInt. After every key is
 * deleted from inside an iteration (and, separately, after gomap_clear),
 * m[key2]++ gives 1. Also with 200 keys, so that every slot of a grown map
 * has been used and freed: each newly assigned key must see a zero slot. */
static void test_increment_after_bulk_clear(void)
{
    for (int how = 0; how < 2; how++) {
        for (int many = 0; many < 2; many++) {
            gomap_t *m = check_map_new(GOMAP_KEY_STR, 0, sizeof(int64_t), 0);
            int64_t v99 = 99;
            char buf[32];
            int nkeys = many ? 200 : 1;
            CHECK_EQ(gomap_set_str(m, "", 0, &v99), 0);
            for (int i = 1; i < nkeys; i++) {
                int n = snprintf(buf, sizeof buf, "old-%d", i);
                CHECK_EQ(gomap_set_str(m, buf, (size_t)n, &v99), 0);
            }
            if (how == 0)
                delete_all_by_iteration(m);
            else
                gomap_clear(m);
            CHECK_EQ(gomap_len(m), 0);
            CHECK_VALID(m);
            for (int i = 0; i < nkeys; i++) {
                int n = i ? snprintf(buf, sizeof buf, "new-%d", i) : snprintf(buf, sizeof buf, "x");
                gomap_str k = {buf, (size_t)n};
                void *slot = NULL;
                CHECK_EQ(gomap_assign(m, &k, &slot), 1);
                CHECK_MSG(rd64(slot) == 0, "new key %s starts at %lld", buf, (long long)rd64(slot));
                wr64(slot, rd64(slot) + 1);
                CHECK_EQ(must_get(m, &k), 1);
            }
            CHECK_EQ(gomap_len(m), nkeys);
            CHECK_VALID(m);
            gomap_free(m);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Tombstones, reseeding, clear during iteration                            */
/* ------------------------------------------------------------------------ */

/* Checks that exactly the keys k in [lo, hi) with present(k) are in m, with
 * value k, and that iteration agrees with len. */
static void check_u64_range(gomap_t *m, uint64_t lo, uint64_t hi, bool (*present)(uint64_t))
{
    size_t want = 0;
    for (uint64_t k = lo; k < hi; k++) {
        void *p = gomap_get_u64(m, k);
        if (present(k)) {
            CHECK_MSG(p != NULL, "key %llu missing", (unsigned long long)k);
            CHECK_EQ(rd64(p), (int64_t)k);
            want++;
        } else {
            CHECK_MSG(p == NULL, "deleted key %llu found", (unsigned long long)k);
        }
    }
    CHECK_EQ(gomap_len(m), want);
    size_t n = 0;
    gomap_iter it;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it, NULL, NULL))
        n++;
    CHECK_EQ(n, want);
}

enum { TOMB_N = 10000 };

static bool tomb_all(uint64_t k)
{
    (void)k;
    return true;
}

static bool tomb_odd_or_refill(uint64_t k)
{
    return (k & 1) || k >= TOMB_N;
}

static bool tomb_odd(uint64_t k)
{
    return (k & 1) != 0;
}

static bool tomb_none(uint64_t k)
{
    (void)k;
    return false;
}

/* Go: TestMapTombstones. Fill 10000 keys, delete the even half, refill with
 * 5000 new keys, delete everything. After each phase the validator checks the
 * emptyOne/emptyRest markers (no emptyOne left where only empty slots follow,
 * no emptyRest before a used slot) and every other invariant, and len and
 * lookups match. Emptying the map re-randomises its seed once. */
static void test_map_tombstones(void)
{
    gomap_t *m = check_map_new(GOMAP_KEY_U64, 0, sizeof(int64_t), 0);
    for (uint64_t i = 0; i < TOMB_N; i++)
        put_u64(m, i, (int64_t)i);
    CHECK_VALID(m);
    check_u64_range(m, 0, TOMB_N, tomb_all);

    for (uint64_t i = 0; i < TOMB_N; i += 2)
        CHECK(gomap_delete_u64(m, i));
    CHECK_VALID(m);
    check_u64_range(m, 0, TOMB_N, tomb_odd);

    for (uint64_t i = TOMB_N; i < 3 * TOMB_N / 2; i++)
        put_u64(m, i, (int64_t)i);
    CHECK_VALID(m);
    check_u64_range(m, 0, 3 * TOMB_N / 2, tomb_odd_or_refill);

    uint64_t reseeds = check_map_stats(m).reseeds;
    for (uint64_t i = 0; i < 3 * TOMB_N / 2; i++) {
        bool was = tomb_odd_or_refill(i);
        CHECK(gomap_delete(m, &i) == was);
    }
    CHECK_VALID(m);
    check_u64_range(m, 0, 3 * TOMB_N / 2, tomb_none);
    CHECK_EQ(check_map_stats(m).reseeds, reseeds + 1);
    gomap_free(m);
}

/* golang/go#25237: the seed is re-randomised each time the map becomes
 * empty through a delete, and by gomap_clear of a non-empty map; deletes
 * that leave entries (or find nothing) do not reseed. The map keeps working
 * after every reseed. */
static void test_reseed_when_emptied(void)
{
    gomap_t *m = check_map_new(GOMAP_KEY_U64, 0, sizeof(int64_t), 0);
    uint64_t r = check_map_stats(m).reseeds;

    put_u64(m, 1, 1);
    CHECK_EQ(check_map_stats(m).reseeds, r);
    CHECK(gomap_delete_u64(m, 1));
    CHECK_EQ(check_map_stats(m).reseeds, r + 1);

    for (uint64_t i = 0; i < 50; i++)
        put_u64(m, i, (int64_t)i);
    for (uint64_t i = 0; i < 49; i++)
        CHECK(gomap_delete_u64(m, i));
    uint64_t absent = 12345;
    CHECK(!gomap_delete(m, &absent));
    CHECK_EQ(check_map_stats(m).reseeds, r + 1);
    CHECK(gomap_delete_u64(m, 49)); /* the last one */
    CHECK_EQ(check_map_stats(m).reseeds, r + 2);

    for (uint64_t i = 0; i < 100; i++)
        put_u64(m, i, (int64_t)i);
    gomap_clear(m);
    CHECK_EQ(gomap_len(m), 0);
    CHECK_EQ(check_map_stats(m).reseeds, r + 3);
    CHECK_VALID(m);

    /* Emptied from inside an iteration. */
    for (uint64_t i = 0; i < 100; i++)
        put_u64(m, i, (int64_t)i);
    gomap_iter it;
    const void *kp;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it, &kp, NULL)) {
        uint64_t k = rdu64(kp);
        CHECK(gomap_delete(m, &k));
    }
    CHECK_EQ(gomap_len(m), 0);
    CHECK_EQ(check_map_stats(m).reseeds, r + 4);

    /* Still a working map under the new seed. */
    for (uint64_t i = 0; i < 100; i++)
        put_u64(m, i, (int64_t)i);
    CHECK_VALID(m);
    for (uint64_t i = 0; i < 100; i++)
        CHECK_EQ(must_get(m, &i), (int64_t)i);
    CHECK_EQ(check_map_stats(m).reseeds, r + 4);
    gomap_free(m);
}

/* golang/go#59411 (fixed in Go 1.21): clearing the map during an iteration
 * stops the iteration — gomap_iter_next returns false from then on, even if
 * keys (old or new) were inserted again after the clear and even if the
 * iteration started in the middle of a growth. Every iterator in flight
 * stops; an iteration begun after the clear sees the new contents. */
static void test_clear_during_iteration(void)
{
    /* variant: 0 plain, 1 re-insert after clear, 2 started mid-growth and
     * re-insert, 3 one-bucket map and re-insert */
    for (int variant = 0; variant < 4; variant++) {
        gomap_t *m = check_map_new(GOMAP_KEY_U64, 0, sizeof(int64_t), 0);
        uint64_t n = variant == 3 ? 3 : 100;
        for (uint64_t i = 0; i < n; i++)
            put_u64(m, i, (int64_t)i);
        if (variant == 2) {
            while (!check_map_stats(m).growing) {
                CHECK(n < 100000);
                put_u64(m, n, (int64_t)n);
                n++;
            }
        }
        gomap_iter it1, it2, it3;
        const void *kp;
        void *vp;
        gomap_iter_init(&it1, m);
        gomap_iter_init(&it2, m);
        CHECK(gomap_iter_next(&it1, &kp, &vp));
        CHECK(gomap_iter_next(&it1, &kp, &vp));
        gomap_iter_init(&it3, m); /* initialised, never stepped */

        gomap_clear(m);
        CHECK_EQ(gomap_len(m), 0);
        CHECK_VALID(m);
        if (variant >= 1) {
            for (uint64_t i = 0; i < 2 * n; i++)
                put_u64(m, i, (int64_t)i);
        }
        CHECK_MSG(!gomap_iter_next(&it1, &kp, &vp), "variant %d: iterator continued after clear",
                  variant);
        CHECK(!gomap_iter_next(&it1, &kp, &vp));
        CHECK_MSG(!gomap_iter_next(&it2, &kp, &vp),
                  "variant %d: second iterator continued after clear", variant);
        CHECK_MSG(!gomap_iter_next(&it3, &kp, &vp),
                  "variant %d: fresh iterator continued after clear", variant);
        gomap_iter_done(&it1); /* harmless after the end */

        size_t want = variant >= 1 ? 2 * n : 0;
        CHECK_EQ(gomap_len(m), want);
        unsigned char *seen = calloc(want + 1, 1);
        CHECK(seen != NULL);
        size_t cnt = 0;
        gomap_iter it;
        gomap_iter_init(&it, m);
        while (gomap_iter_next(&it, &kp, &vp)) {
            uint64_t k = rdu64(kp);
            CHECK(k < want && !seen[k]);
            seen[k] = 1;
            CHECK_EQ(rd64(vp), (int64_t)k);
            cnt++;
        }
        CHECK_EQ(cnt, want);
        free(seen);
        CHECK_VALID(m);
        gomap_free(m);
    }
}

int main(void)
{
    RUN(test_negative_zero);
    RUN(test_map_assignment_nan);
    RUN(test_grow_with_nan);
    RUN(test_grow_with_negative_zero);
    RUN(test_iter_grow_and_delete);
    RUN(test_iter_grow_with_gc);
    RUN(test_map_nan_grow_iterator);
    RUN(test_concurrent_reads_after_growth);
    RUN(test_big_items);
    RUN(test_map_large_key_no_pointer);
    RUN(test_map_large_val_no_pointer);
    RUN(test_map_huge_zero);
    RUN(test_empty_key_and_value);
    RUN(test_single_bucket_string_keys_dup_len);
    RUN(test_single_bucket_string_keys_no_dup_len);
    RUN(test_map_iter_order);
    RUN(test_map_sparse_iter_order);
    RUN(test_ignore_bogus_map_hint);
    RUN(test_map_buckets);
    RUN(test_increment_after_delete);
    RUN(test_increment_after_bulk_clear);
    RUN(test_map_tombstones);
    RUN(test_reseed_when_emptied);
    RUN(test_clear_during_iteration);
    return 0;
}
