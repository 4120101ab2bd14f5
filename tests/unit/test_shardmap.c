/*
 * test_shardmap.c — the sharded map's contract (gomap/shardmap.h), one
 * promise of the header at a time, single-threaded.
 *
 *   options       shards 0 picks a power of two, at least 16, from 4 x the
 *                 online CPUs; 1 and every power of two up to
 *                 GOMAP_SHARDS_MAX are taken as given; a count that is not a
 *                 power of two or is over the maximum, a mem_limit, and every
 *                 option gomap_new rejects give -EINVAL with *out NULL.
 *   bad_input     NULL map, key, value, callback or output: -EINVAL, false,
 *                 0 or nothing, as the header says, and the map unchanged.
 *   key_kinds     u64, string (copied from a scratch buffer), 12-byte and
 *                 custom keys (equal() over part of the key only), with 1 and
 *                 16 shards: set/get/delete/load_or_store answers, zero-filled
 *                 misses, growth, compared whole with the reference map; a
 *                 string {NULL, n > 0} is a bad key.
 *   float_keys    +0 and -0 one key; NaN keys never found, each insert (set,
 *                 compute, load_or_store) a new entry that len, snapshot and
 *                 clear see.
 *   callback_keys compute and visit callbacks get the key asked for, for
 *                 every kind.
 *   compute       insert (sets *present), modify, delete (clears it), no-op
 *                 on absent and present keys, abandon with -42 and 7 (also
 *                 after the callback changed *val and *present): the map is
 *                 unchanged and fn's value returned; fn is called once, with
 *                 the key, whether it is present, and a copy of the value
 *                 (zeroed when absent); out-of-line values.
 *   visit         changes the stored value in place and returns true; on an
 *                 absent key returns false without calling fn.
 *   range         every entry once with its value; stops as soon as fn
 *                 returns false; nothing on an empty map.
 *   snapshot      a core map with exactly the entries, independent of the
 *                 sharded map both ways, of the same key kind; empty map.
 *   len_clear     len counts, clear empties every shard, the map is reusable.
 *   sets          val_size 0: every call with NULL values.
 * Stats, shard choice and the heatmap are in test_shardmap_diag.c.
 * gomap_shard_validate passes on every map used. Seed: test_seed().
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "ckey.h"
#include "hashvariant.h"
#include "refmap.h"
#include "shardcheck.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* 256 and more shards (see shardcheck.h). */
SHARDCHECK_MANY_SHARDS

static uint64_t rng;

static int try_new(gomap_shard_t **out, const gomap_options *map, unsigned shards)
{
    gomap_shard_options o;
    memset(&o, 0, sizeof o);
    o.map = *map;
    o.shards = shards;
    return gomap_shard_new(out, &o);
}

static void set_u64(gomap_shard_t *m, uint64_t k, uint64_t v)
{
    CHECK_EQ(gomap_shard_set(m, &k, &v), 0);
}

/* ------------------------------------------------------------------------ */
/* Options                                                                   */
/* ------------------------------------------------------------------------ */

static unsigned pow2_at_least(unsigned long n)
{
    unsigned p = 1;
    while (p < n && p < GOMAP_SHARDS_MAX)
        p *= 2;
    return p;
}

static void expect_rejected(const gomap_options *map, unsigned shards, const char *what)
{
    gomap_shard_t *m = (gomap_shard_t *)&rng; /* must be overwritten with NULL */
    int rc = try_new(&m, map, shards);
    CHECK_MSG(rc == -EINVAL && m == NULL, "%s: rc %d, map %p", what, rc, (void *)m);
}

static void test_options(void)
{
    gomap_options o = shardcheck_u64_options(8);

    /* Automatic: 4 per online CPU, at least 16, a power of two. The header
     * does not say which way 4 x CPUs is rounded when it is not a power of
     * two: either is accepted. */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK(cpus > 0);
    unsigned long want = 4ul * (unsigned long)cpus;
    unsigned up = pow2_at_least(want < 16 ? 16 : want);
    unsigned down = up > want && up > 16 ? up / 2 : up;
    gomap_shard_t *m = shardcheck_new(&o, 0);
    unsigned n = gomap_shard_count(m);
    printf("   %ld online CPUs: %u shards (auto)\n", cpus, n);
    CHECK_MSG(n >= 16 && (n & (n - 1)) == 0 && (n == up || n == down),
              "auto shard count %u with %ld CPUs (expected %u or %u)", n, cpus, down, up);
    CHECK_EQ(shardcheck_stats(m, NULL, 0).shards, n);
    set_u64(m, 1, 2);
    CHECK(gomap_shard_get(m, &(uint64_t){1}, NULL));
    CHECK_SHARD_VALID(m);
    gomap_shard_free(m);

    /* Powers of two are taken as given. */
    for (unsigned s = 1; s <= 1024; s *= 2) {
        m = shardcheck_new(&o, s);
        CHECK_EQ(gomap_shard_count(m), s);
        for (uint64_t k = 0; k < 50; k++)
            set_u64(m, k, k);
        CHECK_EQ(gomap_shard_len(m), 50);
        CHECK_SHARD_VALID(m);
        gomap_shard_free(m);
    }
    m = shardcheck_new(&o, GOMAP_SHARDS_MAX);
    CHECK_EQ(gomap_shard_count(m), GOMAP_SHARDS_MAX);
    for (uint64_t k = 0; k < 100; k++)
        set_u64(m, k, k + 1);
    CHECK_EQ(gomap_shard_len(m), 100);
    CHECK_SHARD_VALID(m);
    gomap_shard_free(m);

    /* Counts that are not a power of two, or too many. */
    static const unsigned bad_counts[] = {3, 5, 6, 12, 17, 1000, GOMAP_SHARDS_MAX - 1,
                                          GOMAP_SHARDS_MAX + 1, GOMAP_SHARDS_MAX * 2,
                                          1u << 31, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof bad_counts / sizeof bad_counts[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "%u shards", bad_counts[i]);
        expect_rejected(&o, bad_counts[i], what);
    }

    /* A memory limit, and the options gomap_new rejects. */
    gomap_options bad = o;
    bad.mem_limit = 1 << 20;
    expect_rejected(&bad, 16, "mem_limit 1 MiB");
    bad.mem_limit = 1;
    expect_rejected(&bad, 1, "mem_limit 1 byte");
    bad = o;
    bad.key_kind = (gomap_key_kind)99;
    expect_rejected(&bad, 16, "unknown key kind");
    bad = o;
    bad.val_size = GOMAP_MAX_VAL_SIZE + 1;
    expect_rejected(&bad, 16, "val_size over the maximum");
    bad = o;
    bad.key_kind = GOMAP_KEY_BYTES;
    bad.key_size = GOMAP_MAX_KEY_SIZE + 1;
    expect_rejected(&bad, 16, "key_size over the maximum");
    bad = o;
    bad.key_kind = GOMAP_KEY_CUSTOM;
    bad.key_size = 8;
    bad.equal = ckey_equal;
    expect_rejected(&bad, 16, "custom keys without hash");
    bad.hash = ckey_hash;
    bad.equal = NULL;
    expect_rejected(&bad, 0, "custom keys without equal");

    /* NULL arguments. */
    gomap_shard_options so;
    memset(&so, 0, sizeof so);
    so.map = o;
    CHECK_EQ(gomap_shard_new(NULL, &so), -EINVAL);
    m = (gomap_shard_t *)&rng;
    CHECK_EQ(gomap_shard_new(&m, NULL), -EINVAL);
    CHECK(m == NULL);
    gomap_shard_free(NULL);
    CHECK_EQ(gomap_shard_count(NULL), 0);
}

/* ------------------------------------------------------------------------ */
/* Bad input                                                                 */
/* ------------------------------------------------------------------------ */

static int never_fn(const void *key, void *val, bool *present, void *ctx)
{
    (void)key;
    (void)val;
    (void)present;
    ++*(int *)ctx;
    return 0;
}

static void test_bad_input(void)
{
    gomap_options o = shardcheck_u64_options(8);
    gomap_shard_t *m = shardcheck_new(&o, 16);
    refmap *r = refmap_new(GOMAP_KEY_U64, 0, 8);
    for (uint64_t k = 0; k < 20; k++) {
        uint64_t v = k + 1;
        set_u64(m, k, v);
        refmap_set(r, &k, &v);
    }
    uint64_t k = 3, nk = 50, v = 77, out = 0x55;
    bool loaded = true;
    int calls = 0;

    /* NULL map. */
    CHECK(!gomap_shard_get(NULL, &k, &out));
    CHECK_EQ(gomap_shard_set(NULL, &k, &v), -EINVAL);
    CHECK(!gomap_shard_delete(NULL, &k));
    CHECK_EQ(gomap_shard_load_or_store(NULL, &k, &v, &out, &loaded), -EINVAL);
    CHECK(!loaded);
    CHECK_EQ(gomap_shard_compute(NULL, &k, never_fn, &calls), -EINVAL);
    CHECK(!gomap_shard_visit(NULL, &k, shardcheck_count_visit, &calls));
    gomap_shard_range(NULL, shardcheck_count_range, &calls);
    CHECK_EQ(calls, 0);
    gomap_t *snap = (gomap_t *)&rng;
    CHECK_EQ(gomap_shard_snapshot(NULL, &snap), -EINVAL);
    CHECK(snap == NULL);
    CHECK_EQ(gomap_shard_len(NULL), 0);
    gomap_shard_clear(NULL);
    gomap_shard_stats_t st;
    CHECK_EQ(gomap_shard_stats(NULL, &st, NULL, 0), -EINVAL);
    CHECK_EQ(gomap_shard_heatmap(NULL, stdout, GOMAP_HEATMAP_TEXT), -EINVAL);
    CHECK_EQ(gomap_shard_validate(NULL, NULL, 0), -EINVAL);

    /* NULL key: absent, or -EINVAL where an int is returned. */
    out = 0x55;
    CHECK(!gomap_shard_get(m, NULL, &out));
    CHECK_EQ(out, 0);
    CHECK_EQ(gomap_shard_set(m, NULL, &v), -EINVAL);
    CHECK(!gomap_shard_delete(m, NULL));
    loaded = true;
    CHECK_EQ(gomap_shard_load_or_store(m, NULL, &v, &out, &loaded), -EINVAL);
    CHECK(!loaded);
    CHECK_EQ(gomap_shard_compute(m, NULL, never_fn, &calls), -EINVAL);
    CHECK(!gomap_shard_visit(m, NULL, shardcheck_count_visit, &calls));
    CHECK_EQ(calls, 0);

    /* NULL callback; NULL value where val_size is 8; NULL snapshot out. */
    CHECK_EQ(gomap_shard_compute(m, &k, NULL, NULL), -EINVAL);
    CHECK_EQ(gomap_shard_compute(m, &nk, NULL, NULL), -EINVAL);
    const uint64_t *keys[] = {&k, &nk};
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(gomap_shard_set(m, keys[i], NULL), -EINVAL);
        loaded = true;
        out = 0x55;
        CHECK_EQ(gomap_shard_load_or_store(m, keys[i], NULL, &out, &loaded), -EINVAL);
        CHECK(!loaded);
    }
    CHECK_EQ(gomap_shard_snapshot(m, NULL), -EINVAL);

    /* Output pointers may be NULL. */
    CHECK(gomap_shard_get(m, &k, NULL));
    CHECK(!gomap_shard_get(m, &nk, NULL));
    CHECK_EQ(gomap_shard_load_or_store(m, &k, &v, NULL, NULL), 0);
    CHECK_EQ(gomap_shard_validate(m, NULL, 0), 0);

    char why[200];
    CHECK_MSG(shardcheck_compare(m, r, why, sizeof why), "%s", why);
    CHECK_SHARD_VALID(m);
    refmap_free(r);
    gomap_shard_free(m);

    /* A string key {NULL, n > 0} is no string (map.h): like a NULL key. */
    o.key_kind = GOMAP_KEY_STR;
    m = shardcheck_new(&o, 16);
    gomap_str bad = {NULL, 5}, empty = {NULL, 0};
    CHECK_EQ(gomap_shard_set(m, &empty, &v), 0); /* {NULL, 0} is "" */
    out = 0x55;
    CHECK(!gomap_shard_get(m, &bad, &out));
    CHECK_EQ(out, 0);
    CHECK_EQ(gomap_shard_set(m, &bad, &v), -EINVAL);
    CHECK(!gomap_shard_delete(m, &bad));
    loaded = true;
    CHECK_EQ(gomap_shard_load_or_store(m, &bad, &v, &out, &loaded), -EINVAL);
    CHECK(!loaded);
    CHECK_EQ(gomap_shard_compute(m, &bad, never_fn, &calls), -EINVAL);
    CHECK(!gomap_shard_visit(m, &bad, shardcheck_count_visit, &calls));
    CHECK_EQ(calls, 0);
    CHECK_EQ(gomap_shard_len(m), 1);
    CHECK(gomap_shard_get(m, &empty, &out) && out == v);
    CHECK_SHARD_VALID(m);
    gomap_shard_free(m);
}

/* ------------------------------------------------------------------------ */
/* Key kinds                                                                 */
/* ------------------------------------------------------------------------ */

enum { BYTES_KEY = 12, KIND_KEYS = 600 };

/* Makes key number i of a kind, in a buffer reused from call to call (the
 * map and the reference copy keys). Custom keys get fresh junk each time. */
typedef struct {
    gomap_key_kind kind;
    union {
        uint64_t u;
        gomap_str s;
        ckey c;
        unsigned char b[BYTES_KEY];
    } k;
    char text[64];
} keygen;

static const void *key_make(keygen *g, uint64_t i)
{
    switch (g->kind) {
    case GOMAP_KEY_STR:
        if (i == 0) {
            g->k.s = (gomap_str){NULL, 0};
        } else {
            /* Some keys hold NUL bytes; lengths vary. */
            int n = snprintf(g->text, sizeof g->text, "k%" PRIu64 "%.*s", i,
                             (int)(i % 23), "\1\2\3abcdefghijklmnopqrst");
            g->k.s = (gomap_str){g->text, (size_t)n + (i % 3 == 0)};
        }
        break;
    case GOMAP_KEY_BYTES: {
        uint32_t hi = (uint32_t)(i * 2654435761u);
        memcpy(g->k.b, &i, 8);
        memcpy(g->k.b + 8, &hi, 4);
        break;
    }
    case GOMAP_KEY_CUSTOM:
        g->k.c = (ckey){(uint32_t)i, (uint32_t)(i * 7 + 1), test_rand(&rng)};
        break;
    default:
        g->k.u = i * 0x9E3779B97F4A7C15ull;
        break;
    }
    return &g->k;
}

static const char *kind_name(gomap_key_kind kind)
{
    switch (kind) {
    case GOMAP_KEY_STR: return "string";
    case GOMAP_KEY_BYTES: return "12-byte";
    case GOMAP_KEY_CUSTOM: return "custom";
    default: return "u64";
    }
}

static gomap_options kind_opts(gomap_key_kind kind, size_t val_size)
{
    gomap_options o = shardcheck_u64_options(val_size);
    o.key_kind = kind;
    if (kind == GOMAP_KEY_BYTES)
        o.key_size = BYTES_KEY;
    if (kind == GOMAP_KEY_CUSTOM) {
        o.key_size = sizeof(ckey);
        o.hash = ckey_hash;
        o.equal = ckey_equal;
    }
    return o;
}

static refmap *kind_ref(gomap_key_kind kind, size_t val_size)
{
    if (kind == GOMAP_KEY_CUSTOM)
        return refmap_new_custom(sizeof(ckey), val_size, ckey_hash, ckey_equal);
    return refmap_new(kind, BYTES_KEY, val_size);
}

typedef struct {
    uint64_t a, b;
} val16;

static void check_same(gomap_shard_t *m, refmap *r, const char *ctx)
{
    char why[256];
    CHECK_MSG(shardcheck_compare(m, r, why, sizeof why), "%s: %s", ctx, why);
    CHECK_SHARD_VALID(m);
}

static void run_kind(gomap_key_kind kind, unsigned shards)
{
    char ctx[64];
    snprintf(ctx, sizeof ctx, "%s keys, %u shards", kind_name(kind), shards);
    gomap_options o = kind_opts(kind, sizeof(val16));
    gomap_shard_t *m = shardcheck_new(&o, shards);
    refmap *r = kind_ref(kind, sizeof(val16));
    keygen g = {.kind = kind};
    val16 v, out;
    bool loaded;

    for (uint64_t i = 0; i < KIND_KEYS; i++) {
        const void *k = key_make(&g, i);
        memset(&out, 0x33, sizeof out);
        CHECK_MSG(!gomap_shard_get(m, k, &out), "%s: key %" PRIu64 " found before set", ctx, i);
        CHECK(out.a == 0 && out.b == 0);
        v = (val16){i, ~i};
        CHECK_EQ(gomap_shard_set(m, k, &v), 0);
        refmap_set(r, k, &v);
        if (kind == GOMAP_KEY_STR)
            memset(g.text, '?', sizeof g.text); /* the map kept its own copy */
    }
    check_same(m, r, ctx);
    for (uint64_t i = 0; i < KIND_KEYS; i++) {
        memset(&out, 0, sizeof out);
        CHECK_MSG(gomap_shard_get(m, key_make(&g, i), &out) && out.a == i && out.b == ~i,
                  "%s: key %" PRIu64 " reads {%" PRIu64 ", %" PRIx64 "}", ctx, i, out.a, out.b);
    }

    /* Overwrite every third key, delete every fifth, twice. */
    for (uint64_t i = 0; i < KIND_KEYS; i += 3) {
        const void *k = key_make(&g, i);
        v = (val16){i + 1000, i};
        CHECK_EQ(gomap_shard_set(m, k, &v), 0);
        refmap_set(r, k, &v);
    }
    for (uint64_t i = 0; i < KIND_KEYS; i += 5) {
        const void *k = key_make(&g, i);
        CHECK(gomap_shard_delete(m, k));
        refmap_delete(r, k);
        CHECK(!gomap_shard_delete(m, key_make(&g, i)));
        out.a = 1;
        CHECK(!gomap_shard_get(m, key_make(&g, i), &out) && out.a == 0);
    }
    check_same(m, r, ctx);

    /* load_or_store: present keys load (the map unchanged), absent ones
     * store; actual_out is written both ways. */
    for (uint64_t i = 0; i < KIND_KEYS; i += 2) {
        const void *k = key_make(&g, i);
        const val16 *cur = refmap_get(r, k);
        bool had = cur != NULL;
        val16 want = had ? *cur : (val16){i + 5000, 5};
        v = (val16){i + 5000, 5};
        loaded = !had;
        memset(&out, 0x33, sizeof out);
        CHECK_EQ(gomap_shard_load_or_store(m, k, &v, &out, &loaded), 0);
        CHECK_MSG(loaded == had && memcmp(&out, &want, sizeof out) == 0,
                  "%s: load_or_store key %" PRIu64 ": loaded %d (present %d), out {%" PRIu64
                  ", %" PRIu64 "}", ctx, i, loaded, had, out.a, out.b);
        if (!had)
            refmap_set(r, k, &v);
    }
    check_same(m, r, ctx);
    CHECK_EQ(gomap_shard_len(m), refmap_len(r));
    refmap_free(r);
    gomap_shard_free(m);
}

static void test_key_kinds(void)
{
    static const gomap_key_kind kinds[] = {GOMAP_KEY_U64, GOMAP_KEY_STR, GOMAP_KEY_BYTES,
                                           GOMAP_KEY_CUSTOM};
    for (size_t i = 0; i < 4; i++) {
        run_kind(kinds[i], 1);
        run_kind(kinds[i], 16);
    }
}

/* Float keys, as for the core map: +0 and -0 are one key (the last one
 * written is stored), NaN never equals anything (each insert adds an entry
 * that get, delete, visit and compute never find; len, range, snapshot and
 * clear see them). A NaN's hash is random, so it may land in any shard. */
static void test_float_keys(void)
{
    static const unsigned counts[] = {1, 16};
    for (int si = 0; si < 2; si++) {
        gomap_options o = kind_opts(GOMAP_KEY_F64, 8);
        gomap_shard_t *m = shardcheck_new(&o, counts[si]);
        refmap *r = refmap_new(GOMAP_KEY_F64, 0, 8);
        double pz = 0.0, nz = -0.0, nan = NAN;
        uint64_t v = 1, out = 0;
        bool loaded = true;
        CHECK_EQ(gomap_shard_set(m, &pz, &v), 0);
        refmap_set(r, &pz, &v);
        CHECK(gomap_shard_get(m, &nz, &out) && out == 1);
        v = 2;
        CHECK_EQ(gomap_shard_set(m, &nz, &v), 0); /* -0 replaces +0 */
        refmap_set(r, &nz, &v);
        for (uint64_t i = 1; i <= 100; i++) {
            double d = (double)i * 0.25 - 7.0;
            CHECK_EQ(gomap_shard_set(m, &d, &i), 0);
            refmap_set(r, &d, &i);
        }
        for (uint64_t i = 0; i < 3; i++) {
            CHECK_EQ(gomap_shard_set(m, &nan, &i), 0);
            refmap_set(r, &nan, &i);
        }
        CHECK_EQ(gomap_shard_len(m), refmap_len(r));
        out = 9;
        CHECK(!gomap_shard_get(m, &nan, &out) && out == 0);
        CHECK(!gomap_shard_delete(m, &nan));
        int calls = 0;
        CHECK(!gomap_shard_visit(m, &nan, shardcheck_count_visit, &calls) && calls == 0);
        /* compute on NaN: never present; a put adds one more entry. */
        shard_cop op = {.mode = COP_PUT, .val = &v, .val_size = 8};
        CHECK_EQ(shardcheck_compute(m, &nan, &op), 0);
        CHECK(op.calls == 1 && !op.was_present && op.zeroed);
        refmap_set(r, &nan, &v);
        CHECK_EQ(gomap_shard_load_or_store(m, &nan, &v, &out, &loaded), 0);
        CHECK(!loaded && out == v);
        refmap_set(r, &nan, &v);
        /* One zero key (±0; 28 * 0.25 - 7 is 0 again), 99 others, 5 NaNs. */
        CHECK_EQ(gomap_shard_len(m), 100 + 5);
        char why[256];
        CHECK_MSG(shardcheck_compare(m, r, why, sizeof why), "%u shards: %s", counts[si], why);
        CHECK_SHARD_VALID(m);
        gomap_shard_clear(m);
        CHECK_EQ(gomap_shard_len(m), 0);
        CHECK_SHARD_VALID(m);
        refmap_free(r);
        gomap_shard_free(m);
    }
}

/* ------------------------------------------------------------------------ */
/* compute                                                                   */
/* ------------------------------------------------------------------------ */

/* Expects compute(key, op) to return rc, having called fn once and shown it
 * `present` (and the value `shown`, or zeros when absent); then the key
 * must be present with `after` or absent (after NULL). */
static void expect_compute(gomap_shard_t *m, uint64_t key, shard_cop *op, int rc, bool present,
                           uint64_t shown, const uint64_t *after, const char *what)
{
    uint64_t seen = 0xABABABAB, now = 0x1234;
    op->val_size = 8;
    op->seen = &seen;
    int got = shardcheck_compute(m, &key, op);
    CHECK_MSG(got == rc, "%s: compute returned %d, expected %d", what, got, rc);
    CHECK_MSG(op->calls == 1, "%s: fn called %d times", what, op->calls);
    CHECK_MSG(op->was_present == present, "%s: fn shown present %d", what, op->was_present);
    CHECK_MSG(present ? seen == shown : op->zeroed, "%s: fn shown value %" PRIx64, what, seen);
    bool found = gomap_shard_get(m, &key, &now);
    CHECK_MSG(found == (after != NULL) && (!after || now == *after),
              "%s: afterwards found %d, value %" PRIu64, what, found, now);
    CHECK_SHARD_VALID(m);
}

typedef struct {
    keygen *g;
    uint64_t i;
    int calls;
    bool key_ok;
} key_probe;

static bool same_key(gomap_key_kind kind, const void *a, const void *b)
{
    switch (kind) {
    case GOMAP_KEY_STR: {
        const gomap_str *x = a, *y = b;
        return x->len == y->len && (x->len == 0 || memcmp(x->ptr, y->ptr, x->len) == 0);
    }
    case GOMAP_KEY_BYTES: return memcmp(a, b, BYTES_KEY) == 0;
    case GOMAP_KEY_CUSTOM: return ckey_equal(a, b);
    default: return memcmp(a, b, 8) == 0;
    }
}

static int probe_compute(const void *key, void *val, bool *present, void *ctx)
{
    key_probe *p = ctx;
    (void)val;
    (void)present;
    p->calls++;
    p->key_ok = same_key(p->g->kind, key, &p->g->k);
    return 0;
}

static void probe_visit(const void *key, void *val, void *ctx)
{
    (void)probe_compute(key, val, NULL, ctx);
}

/* fn gets the key that was asked for (a gomap_str for string maps). */
static void test_callback_keys(void)
{
    static const gomap_key_kind kinds[] = {GOMAP_KEY_U64, GOMAP_KEY_STR, GOMAP_KEY_BYTES,
                                           GOMAP_KEY_CUSTOM};
    for (size_t i = 0; i < 4; i++) {
        gomap_options o = kind_opts(kinds[i], 8);
        gomap_shard_t *m = shardcheck_new(&o, 16);
        keygen g = {.kind = kinds[i]};
        uint64_t v = 1;
        for (uint64_t j = 0; j < 30; j++) {
            key_probe p = {&g, j, 0, false};
            CHECK_EQ(gomap_shard_set(m, key_make(&g, j), &v), 0);
            CHECK_EQ(gomap_shard_compute(m, key_make(&g, j), probe_compute, &p), 0);
            CHECK(p.calls == 1 && p.key_ok);
            CHECK(gomap_shard_visit(m, key_make(&g, j), probe_visit, &p));
            CHECK_MSG(p.calls == 2 && p.key_ok, "%s keys: visit's key differs",
                      kind_name(kinds[i]));
            /* Absent: compute still shows the key. */
            CHECK_EQ(gomap_shard_compute(m, key_make(&g, j + 100), probe_compute, &p), 0);
            CHECK_MSG(p.calls == 3 && p.key_ok, "%s keys: compute's key differs",
                      kind_name(kinds[i]));
        }
        CHECK_EQ(gomap_shard_len(m), 30);
        gomap_shard_free(m);
    }
}

/* Writes *val, leaves *present alone, commits. */
static int write_only(const void *key, void *val, bool *present, void *ctx)
{
    (void)key;
    (void)present;
    ++*(int *)ctx;
    uint64_t v = 0x77;
    memcpy(val, &v, 8);
    return 0;
}

static void test_compute(void)
{
    gomap_options o = shardcheck_u64_options(8);
    gomap_shard_t *m = shardcheck_new(&o, 16);
    uint64_t a = 11, b = 22, c = 33;
    shard_cop op;

    /* Insert: fn sets *present. */
    op = (shard_cop){.mode = COP_PUT, .val = &a};
    expect_compute(m, 1, &op, 0, false, 0, &a, "insert");
    CHECK_EQ(gomap_shard_len(m), 1);
    /* Modify. */
    op = (shard_cop){.mode = COP_PUT, .val = &b};
    expect_compute(m, 1, &op, 0, true, a, &b, "modify");
    /* Keep: commit without change, present and absent. */
    op = (shard_cop){.mode = COP_KEEP};
    expect_compute(m, 1, &op, 0, true, b, &b, "keep (present)");
    expect_compute(m, 2, &op, 0, false, 0, NULL, "keep (absent)");
    /* Absent, fn writes *val but leaves *present false: nothing stored. */
    int calls = 0;
    uint64_t k2 = 2, v2 = 5;
    CHECK_EQ(gomap_shard_compute(m, &k2, write_only, &calls), 0);
    CHECK_EQ(calls, 1);
    CHECK(!gomap_shard_get(m, &k2, &v2) && v2 == 0);
    CHECK_EQ(gomap_shard_len(m), 1);
    /* Present, the same callback: a modification (present stays set). */
    uint64_t k1 = 1;
    CHECK_EQ(gomap_shard_compute(m, &k1, write_only, &calls), 0);
    CHECK(calls == 2 && gomap_shard_get(m, &k1, &v2) && v2 == 0x77);
    CHECK_EQ(gomap_shard_set(m, &k1, &b), 0);

    /* Abandon: the map unchanged, fn's value returned. */
    static const int rcs[] = {-42, 7, 1, -1};
    for (int i = 0; i < 4; i++) {
        for (int scribble = 0; scribble < 2; scribble++) {
            char what[80];
            snprintf(what, sizeof what, "abandon %d%s (present)", rcs[i],
                     scribble ? " after changing *val and *present" : "");
            op = (shard_cop){.mode = COP_ABANDON, .abandon_rc = rcs[i], .scribble = scribble};
            expect_compute(m, 1, &op, rcs[i], true, b, &b, what);
            snprintf(what, sizeof what, "abandon %d%s (absent)", rcs[i],
                     scribble ? " after changing *val and *present" : "");
            expect_compute(m, 3, &op, rcs[i], false, 0, NULL, what);
        }
    }
    CHECK_EQ(gomap_shard_len(m), 1);

    /* Compare-and-swap built on compute: match, mismatch (abandoned). */
    op = (shard_cop){.mode = COP_CAS, .expect = &b, .val = &c, .abandon_rc = 1};
    expect_compute(m, 1, &op, 0, true, b, &c, "cas (match)");
    CHECK(op.matched);
    op = (shard_cop){.mode = COP_CAS, .expect = &b, .val = &a, .abandon_rc = 1};
    expect_compute(m, 1, &op, 1, true, c, &c, "cas (mismatch)");
    CHECK(!op.matched);

    /* Delete: fn clears *present; then absent, a delete is a no-op. */
    op = (shard_cop){.mode = COP_DELETE};
    expect_compute(m, 1, &op, 0, true, c, NULL, "delete");
    expect_compute(m, 1, &op, 0, false, 0, NULL, "delete (absent)");
    CHECK_EQ(gomap_shard_len(m), 0);

    /* Many keys over every shard: counters built with compute. */
    for (int round = 0; round < 3; round++) {
        for (uint64_t k = 0; k < 300; k++) {
            uint64_t cur = 0, next;
            bool had = gomap_shard_get(m, &k, &cur);
            CHECK_EQ(had, round > 0);
            next = cur + k;
            op = (shard_cop){.mode = COP_CAS, .expect = &cur, .val = &next, .abandon_rc = 9};
            if (!had)
                op.mode = COP_PUT;
            expect_compute(m, k, &op, 0, had, cur, &next, "counter");
        }
    }
    CHECK_EQ(gomap_shard_len(m), 300);
    CHECK_SHARD_VALID(m);
    gomap_shard_free(m);

    /* Out-of-line values (200 bytes): the copy shown and committed whole. */
    o = shardcheck_u64_options(200);
    m = shardcheck_new(&o, 4);
    unsigned char big[200], seen[200], now[200];
    for (int i = 0; i < 200; i++)
        big[i] = (unsigned char)(i * 7 + 1);
    uint64_t k = 99;
    op = (shard_cop){.mode = COP_PUT, .val = big, .val_size = 200, .seen = seen};
    CHECK_EQ(shardcheck_compute(m, &k, &op), 0);
    CHECK(!op.was_present && op.zeroed);
    CHECK(gomap_shard_get(m, &k, now) && memcmp(now, big, 200) == 0);
    big[199] ^= 0xFF;
    op = (shard_cop){.mode = COP_ABANDON, .abandon_rc = -42, .scribble = true, .val_size = 200,
                     .seen = seen};
    CHECK_EQ(shardcheck_compute(m, &k, &op), -42);
    big[199] ^= 0xFF;
    CHECK(op.was_present && memcmp(seen, big, 200) == 0);
    CHECK(gomap_shard_get(m, &k, now) && memcmp(now, big, 200) == 0);
    CHECK_SHARD_VALID(m);
    gomap_shard_free(m);
}

/* ------------------------------------------------------------------------ */
/* visit                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct {
    int calls;
    uint64_t seen;
    uint64_t add;
} visit_ctx;

static void add_visit(const void *key, void *val, void *ctx)
{
    visit_ctx *c = ctx;
    (void)key;
    c->calls++;
    memcpy(&c->seen, val, 8);
    uint64_t v = c->seen + c->add;
    memcpy(val, &v, 8);
}

static void test_visit(void)
{
    unsigned counts[] = {1, 16};
    for (int s = 0; s < 2; s++) {
        gomap_options o = shardcheck_u64_options(8);
        gomap_shard_t *m = shardcheck_new(&o, counts[s]);
        for (uint64_t k = 0; k < 200; k++)
            set_u64(m, k, k * 10);
        for (uint64_t k = 0; k < 200; k++) {
            visit_ctx c = {0, 0, k + 1};
            CHECK(gomap_shard_visit(m, &k, add_visit, &c));
            CHECK(c.calls == 1 && c.seen == k * 10);
            uint64_t v = 0;
            CHECK(gomap_shard_get(m, &k, &v) && v == k * 11 + 1);
            uint64_t absent = k + 1000;
            CHECK(!gomap_shard_visit(m, &absent, add_visit, &c));
            CHECK_EQ(c.calls, 1);
            CHECK(!gomap_shard_get(m, &absent, NULL));
        }
        CHECK_EQ(gomap_shard_len(m), 200);
        CHECK_SHARD_VALID(m);
        gomap_shard_free(m);
    }
}

/* ------------------------------------------------------------------------ */
/* range                                                                     */
/* ------------------------------------------------------------------------ */

static void range_once(gomap_shard_t *m, refmap *r, size_t stop_after, const char *what)
{
    char why[256];
    CHECK_MSG(shardcheck_range(m, r, stop_after, why, sizeof why), "%s: %s", what, why);
}

static void test_range(void)
{
    static const unsigned counts[] = {1, 16, 256};
    for (int s = 0; s < 3; s++) {
        for (int kind = 0; kind < 2; kind++) {
            gomap_key_kind kk = kind ? GOMAP_KEY_STR : GOMAP_KEY_U64;
            char what[64];
            snprintf(what, sizeof what, "%s keys, %u shards", kind_name(kk), counts[s]);
            gomap_options o = kind_opts(kk, 8);
            gomap_shard_t *m = shardcheck_new(&o, counts[s]);
            refmap *r = kind_ref(kk, 8);
            keygen g = {.kind = kk};
            range_once(m, r, 0, what); /* empty: fn never called */
            for (uint64_t i = 0; i < 1000; i++) {
                const void *k = key_make(&g, i);
                uint64_t v = i * 3;
                CHECK_EQ(gomap_shard_set(m, k, &v), 0);
                refmap_set(r, k, &v);
            }
            range_once(m, r, 0, what);
            static const size_t stops[] = {1, 2, 17, 999, 1000, 1001};
            for (int i = 0; i < 6; i++)
                range_once(m, r, stops[i], what);
            CHECK_SHARD_VALID(m);
            refmap_free(r);
            gomap_shard_free(m);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* snapshot                                                                  */
/* ------------------------------------------------------------------------ */

static void test_snapshot(void)
{
    static const gomap_key_kind kinds[] = {GOMAP_KEY_U64, GOMAP_KEY_STR, GOMAP_KEY_CUSTOM};
    for (int ki = 0; ki < 3; ki++) {
        gomap_key_kind kind = kinds[ki];
        gomap_options o = kind_opts(kind, 8);
        gomap_shard_t *m = shardcheck_new(&o, 16);
        refmap *r = kind_ref(kind, 8);
        keygen g = {.kind = kind};
        char why[256];

        /* Empty: an empty map. */
        gomap_t *snap = NULL;
        CHECK_EQ(gomap_shard_snapshot(m, &snap), 0);
        CHECK(snap != NULL);
        CHECK_EQ(gomap_len(snap), 0);
        CHECK_VALID(snap);
        gomap_free(snap);

        for (uint64_t i = 0; i < 500; i++) {
            uint64_t v = i + 1;
            const void *k = key_make(&g, i);
            CHECK_EQ(gomap_shard_set(m, k, &v), 0);
            refmap_set(r, k, &v);
        }
        CHECK_EQ(gomap_shard_snapshot(m, &snap), 0);
        CHECK_VALID(snap);
        CHECK_MSG(refmap_compare(r, snap, true, why, sizeof why), "%s keys: %s", kind_name(kind),
                  why);

        /* Independent: changes to the sharded map do not reach it... */
        refmap *before = refmap_clone(r);
        for (uint64_t i = 0; i < 500; i += 2) {
            const void *k = key_make(&g, i);
            CHECK(gomap_shard_delete(m, k));
            refmap_delete(r, k);
        }
        for (uint64_t i = 500; i < 600; i++) {
            uint64_t v = 7;
            const void *k = key_make(&g, i);
            CHECK_EQ(gomap_shard_set(m, k, &v), 0);
            refmap_set(r, k, &v);
        }
        CHECK_MSG(refmap_compare(before, snap, true, why, sizeof why), "%s keys, snapshot after "
                  "the sharded map changed: %s", kind_name(kind), why);
        /* ...and the snapshot's own changes do not reach the map. */
        for (uint64_t i = 0; i < 500; i++) {
            uint64_t v = 99;
            CHECK_EQ(gomap_set(snap, key_make(&g, i + 1000), &v), 0);
            /* (A custom key made afresh has other junk: found by equal.) */
            CHECK_MSG(gomap_delete(snap, key_make(&g, i)), "%s keys: key %" PRIu64 " not in the "
                      "snapshot", kind_name(kind), i);
        }
        CHECK_VALID(snap);
        gomap_free(snap);
        CHECK_MSG(shardcheck_compare(m, r, why, sizeof why), "%s keys: %s", kind_name(kind), why);
        CHECK_SHARD_VALID(m);
        refmap_free(before);
        refmap_free(r);
        gomap_shard_free(m);
    }
}

/* ------------------------------------------------------------------------ */
/* len, clear                                                                */
/* ------------------------------------------------------------------------ */

static void test_len_clear(void)
{
    static const unsigned counts[] = {1, 16, 256};
    for (int s = 0; s < 3; s++) {
        gomap_options o = shardcheck_u64_options(8);
        gomap_shard_t *m = shardcheck_new(&o, counts[s]);
        CHECK_EQ(gomap_shard_len(m), 0);
        gomap_shard_clear(m); /* empty: nothing to do */
        CHECK_EQ(gomap_shard_len(m), 0);
        for (int round = 0; round < 3; round++) {
            for (uint64_t k = 0; k < 700; k++) {
                set_u64(m, k + (uint64_t)round * 10000, k);
                CHECK_EQ(gomap_shard_len(m), k + 1);
            }
            for (uint64_t k = 0; k < 700; k += 7)
                CHECK(gomap_shard_delete(m, &(uint64_t){k + (uint64_t)round * 10000}));
            CHECK_EQ(gomap_shard_len(m), 600);
            gomap_shard_stats_t st = shardcheck_stats(m, NULL, 0);
            CHECK_EQ(st.total.entries, 600);
            gomap_shard_clear(m);
            CHECK_EQ(gomap_shard_len(m), 0);
            CHECK_EQ(shardcheck_stats(m, NULL, 0).total.entries, 0);
            int calls = 0;
            gomap_shard_range(m, shardcheck_count_range, &calls);
            CHECK_EQ(calls, 0);
            for (uint64_t k = 0; k < 700; k += 13)
                CHECK(!gomap_shard_get(m, &(uint64_t){k + (uint64_t)round * 10000}, NULL));
            CHECK_SHARD_VALID(m);
        }
        gomap_shard_free(m);
    }
}

/* ------------------------------------------------------------------------ */
/* Sets (val_size 0)                                                          */
/* ------------------------------------------------------------------------ */

static void set_visit(const void *key, void *val, void *ctx)
{
    (void)key;
    (void)val; /* not to be dereferenced: no bytes */
    ++*(int *)ctx;
}

static void test_sets(void)
{
    gomap_options o = shardcheck_u64_options(0);
    gomap_shard_t *m = shardcheck_new(&o, 16);
    bool loaded = true;
    for (uint64_t k = 0; k < 100; k++)
        CHECK_EQ(gomap_shard_set(m, &k, NULL), 0);
    uint64_t k = 5, absent = 500, absent2 = 501;
    CHECK(gomap_shard_get(m, &k, NULL));
    CHECK(!gomap_shard_get(m, &absent, NULL));
    CHECK_EQ(gomap_shard_load_or_store(m, &k, NULL, NULL, &loaded), 0);
    CHECK(loaded);
    CHECK_EQ(gomap_shard_load_or_store(m, &absent, NULL, NULL, &loaded), 0);
    CHECK(!loaded);
    shard_cop op = {.mode = COP_PUT};
    CHECK_EQ(shardcheck_compute(m, &absent2, &op), 0);
    CHECK(op.calls == 1 && !op.was_present);
    op = (shard_cop){.mode = COP_DELETE};
    CHECK_EQ(shardcheck_compute(m, &k, &op), 0);
    CHECK(op.was_present && !gomap_shard_get(m, &k, NULL));
    int calls = 0;
    CHECK(gomap_shard_visit(m, &absent, set_visit, &calls));
    CHECK(!gomap_shard_visit(m, &k, set_visit, &calls));
    CHECK_EQ(calls, 1);
    CHECK_EQ(gomap_shard_len(m), 101);
    calls = 0;
    gomap_shard_range(m, shardcheck_count_range, &calls);
    CHECK_EQ(calls, 101);
    gomap_t *snap = NULL;
    CHECK_EQ(gomap_shard_snapshot(m, &snap), 0);
    CHECK_EQ(gomap_len(snap), 101);
    CHECK(gomap_get(snap, &absent2) != NULL && gomap_get(snap, &k) == NULL);
    gomap_free(snap);
    CHECK_SHARD_VALID(m);
    gomap_shard_free(m);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    rng = test_seed();
    RUN(test_options);
    RUN(test_bad_input);
    RUN(test_key_kinds);
    RUN(test_float_keys);
    RUN(test_callback_keys);
    RUN(test_compute);
    RUN(test_visit);
    RUN(test_range);
    RUN(test_snapshot);
    RUN(test_len_clear);
    RUN(test_sets);
    printf("ok\n");
    return 0;
}
