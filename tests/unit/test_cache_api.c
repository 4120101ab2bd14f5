/*
 * test_cache_api.c — the cache's contract call by call (gomap/cache.h).
 *
 *   test_new_bad_input   gomap_cache_new refuses a NULL out or options, a
 *                        mem_limit, shards that are not a power of two or
 *                        more than GOMAP_CACHE_SHARDS_MAX, and map options
 *                        gomap_new refuses: -EINVAL, *out NULL, no block
 *                        left with the allocator; 4096 shards and auto shards
 *                        (a small bounded cache is one shard) work.
 *   test_null_args       NULL cache, key, value and out pointers for every
 *                        call: get misses with zeros, writes -EINVAL, delete
 *                        false, len/shards/max_entry_cost 0, the diagnostics
 *                        -EINVAL, free(NULL) a no-op; a string key no map
 *                        accepts ({NULL, 5}, longer than GOMAP_MAX_KEY_SIZE)
 *                        the same; NULL *_out pointers are fine.
 *   test_key_kinds       u32, u64, f64 (+0 and -0 one key), string (empty,
 *                        with NUL bytes, copied), bytes and custom keys, and
 *                        values of 0 and 200 bytes: set, get, overwrite, ttl,
 *                        delete, get_or_load, and on_remove handed the key in
 *                        the form the calls take and the value removed.
 *   test_cost_input      cost 0 and cost above gomap_cache_max_entry_cost are
 *                        -EINVAL with the old entry intact; max_entry_cost
 *                        is max_cost / shards (UINT64_MAX unbounded) and that
 *                        cost is accepted.
 *   test_causes          on_remove's causes: REPLACED with the old value on
 *                        overwrite (by set, set_cost and a load), DELETED by
 *                        delete, clear and free, EVICTED over max_cost,
 *                        EXPIRED after the TTL; stats.removed agrees.
 *   test_reentry         on_remove calling get, set, delete, get_or_load,
 *                        ttl, len, stats, validate and run_maintenance on the
 *                        same cache, from every kind of removal (set over,
 *                        delete, clear, eviction, maintenance): no deadlock
 *                        (an alarm guards), the answers right.
 *   test_get_or_load     a hit returns 1 without loading; a miss returns 0
 *                        with the loader's value, stores it with the loader's
 *                        TTL; a failure returns the loader's code (positive
 *                        and negative), zero-fills val_out, stores nothing,
 *                        and the next miss loads again; a loader calling the
 *                        same cache for other keys (get_or_load, set, get,
 *                        delete, len) works; a loader that sets its own key
 *                        is overwritten by the load (REPLACED).
 *   test_stats           every counter moves as documented, exactly, on a
 *                        single-threaded sequence; eviction batches land in
 *                        their buckets (one entry a set; 200 at once).
 *   test_diag            validate 0; dump and heatmap (text and SVG) to a
 *                        tmpfile return 0 and write something plausible,
 *                        -EINVAL (nothing written) on a bad format;
 *                        gomap_strerror names -ENOENT.
 *   test_size_bound      1 shard of max_cost N: after every one of 5000
 *                        sets (new keys, and older ones with a new cost)
 *                        stats.cost <= N and len <= N, each set key readable
 *                        at once, evictions + replacements + len = sets; with
 *                        random costs the live costs (followed through
 *                        on_remove) add up to stats.cost <= max_cost; the
 *                        same with 4 and 16 shards, and without on_remove
 *                        (overwrites in place).
 *   test_no_dropped_write a cache full of a hot, often-read working set: each
 *                        new key is readable right after its own set (a set
 *                        never evicts the entry it stores).
 *   test_shares_below_one max_cost 3 over 4 shards is created (new's -EINVAL
 *                        cases do not include it; set's do): each set is
 *                        taken or refused, never holding more than max_cost.
 *   test_rejected        every set refused with -EINVAL (NULL key or value,
 *                        cost 0 or over the share, a deadline past 2^64)
 *                        counts once in stats.rejected.
 */
#define _POSIX_C_SOURCE 200809L

#include "cachecheck.h"
#include "check.h"
#include "ckey.h"
#include "fail_alloc.h"
#include "shardcheck.h"
#include "testclock.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 4096 shards: len, clear and stats hold every shard at once, more locks
 * than TSan's deadlock detector follows (shardcheck.h). Single-threaded. */
SHARDCHECK_MANY_SHARDS

#define MS ((uint64_t)1000000)
#define SEC ((uint64_t)1000000000)
#define START (500 * SEC)

static gomap_cache_t *u64_cache(testclock *clk, cache_removals *rec, uint64_t max_cost,
                                unsigned shards)
{
    gomap_cache_options o = cachecheck_options(GOMAP_KEY_U64, 8, clk, rec);
    o.max_cost = max_cost;
    o.shards = shards;
    return cachecheck_new(&o);
}

static bool all_bytes(const void *p, int b, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != (unsigned char)b)
            return false;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Creation                                                                  */
/* ------------------------------------------------------------------------ */

static void expect_new_refused(gomap_cache_options *o, fail_alloc *fa, const char *what)
{
    o->map.alloc = &fa->iface;
    gomap_cache_t *c = (gomap_cache_t *)o; /* must become NULL */
    int rc = gomap_cache_new(&c, o);
    CHECK_MSG(rc == -EINVAL, "%s: gomap_cache_new returned %d", what, rc);
    CHECK_MSG(c == NULL, "%s: *out not NULL", what);
    CHECK_MSG(fa->live_blocks == 0, "%s: %zu blocks held", what, fa->live_blocks);
}

static uint64_t hash_any(const void *k, uint64_t seed) { (void)k; return seed; }
static bool equal_any(const void *a, const void *b) { (void)a; (void)b; return true; }

static void test_new_bad_input(void)
{
    fail_alloc fa;
    fail_alloc_init(&fa);
    gomap_cache_options o = cachecheck_options(GOMAP_KEY_U64, 8, NULL, NULL);
    CHECK_EQ(gomap_cache_new(NULL, &o), -EINVAL);
    gomap_cache_t *c = (gomap_cache_t *)&o;
    CHECK_EQ(gomap_cache_new(&c, NULL), -EINVAL);
    CHECK(c == NULL);

    o.map.mem_limit = 1 << 20;
    expect_new_refused(&o, &fa, "mem_limit");
    o = cachecheck_options(GOMAP_KEY_U64, 8, NULL, NULL);
    static const unsigned bad_shards[] = {3, 5, 6, 12, 100, 4095, 4097, 8192, 1u << 20, 0x80000000u,
                                          UINT32_MAX};
    for (size_t i = 0; i < sizeof bad_shards / sizeof bad_shards[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "shards = %u", bad_shards[i]);
        o.shards = bad_shards[i];
        expect_new_refused(&o, &fa, what);
        o.max_cost = 1 << 20;
        expect_new_refused(&o, &fa, what);
        o.max_cost = 0;
    }
    o = cachecheck_options((gomap_key_kind)99, 8, NULL, NULL);
    expect_new_refused(&o, &fa, "unknown key kind");
    o = cachecheck_options(GOMAP_KEY_U64, GOMAP_MAX_VAL_SIZE + 1, NULL, NULL);
    expect_new_refused(&o, &fa, "val_size over the maximum");
    o = cachecheck_options(GOMAP_KEY_BYTES, 8, NULL, NULL);
    o.map.key_size = GOMAP_MAX_KEY_SIZE + 1;
    expect_new_refused(&o, &fa, "key_size over the maximum");
    o = cachecheck_options(GOMAP_KEY_CUSTOM, 8, NULL, NULL);
    o.map.key_size = 8;
    o.map.equal = equal_any;
    expect_new_refused(&o, &fa, "custom keys without a hash");
    o.map.equal = NULL;
    o.map.hash = hash_any;
    expect_new_refused(&o, &fa, "custom keys without equal");

    /* The largest shard count; auto shards. */
    o = cachecheck_options(GOMAP_KEY_U64, 8, NULL, NULL);
    o.shards = GOMAP_CACHE_SHARDS_MAX;
    o.map.alloc = &fa.iface;
    c = cachecheck_new(&o);
    CHECK_EQ(gomap_cache_shards(c), GOMAP_CACHE_SHARDS_MAX);
    for (uint64_t k = 0; k < 10000; k++)
        CHECK_EQ(gomap_cache_set(c, &k, &k, 0), 0);
    CHECK_EQ(gomap_cache_len(c), 10000);
    CHECK_CACHE_VALID(c);
    gomap_cache_free(c);
    CHECK_EQ(fa.live_blocks, 0);

    o.shards = 0;
    c = cachecheck_new(&o);
    unsigned n = gomap_cache_shards(c);
    CHECK_MSG(n >= 1 && n <= GOMAP_CACHE_SHARDS_MAX && (n & (n - 1)) == 0, "auto shards %u", n);
    gomap_cache_free(c);
    o.max_cost = 100;
    c = cachecheck_new(&o);
    CHECK_MSG(gomap_cache_shards(c) == 1, "max_cost 100, auto: %u shards",
              gomap_cache_shards(c));
    CHECK_EQ(gomap_cache_max_entry_cost(c), 100);
    gomap_cache_free(c);
    o.max_cost = 8192;
    c = cachecheck_new(&o);
    CHECK_MSG(gomap_cache_shards(c) <= 2, "max_cost 8192, auto: %u shards",
              gomap_cache_shards(c));
    gomap_cache_free(c);
    CHECK_EQ(fa.live_blocks, 0);
}

/* ------------------------------------------------------------------------ */
/* NULL and bad arguments                                                    */
/* ------------------------------------------------------------------------ */

static int load_calls;

static int load_key(const void *key, void *val_out, uint64_t *ttl_ns, void *ctx)
{
    (void)ttl_ns;
    (void)ctx;
    CHECK(val_out != NULL);
    uint64_t k;
    memcpy(&k, key, 8);
    uint64_t v = k * 3;
    memcpy(val_out, &v, 8);
    load_calls++;
    return 0;
}

static void test_null_args(void)
{
    cache_removals rec;
    cache_removals_init(&rec, NULL, NULL);
    gomap_cache_t *c = u64_cache(NULL, &rec, 0, 4);
    uint64_t k = 1, v = 10, out;
    FILE *f = tmpfile();
    CHECK(f != NULL);
    gomap_cache_stats_t st;
    char why[64];

    /* (A NULL cache has no value size: val_out cannot be zero-filled.) */
    CHECK(!gomap_cache_get(NULL, &k, &out));
    CHECK_EQ(gomap_cache_set(NULL, &k, &v, 0), -EINVAL);
    CHECK_EQ(gomap_cache_set_cost(NULL, &k, &v, 0, 1), -EINVAL);
    CHECK(!gomap_cache_delete(NULL, &k));
    CHECK_EQ(gomap_cache_get_or_load(NULL, &k, &out, load_key, NULL), -EINVAL);
    CHECK_EQ(gomap_cache_ttl(NULL, &k), -EINVAL);
    CHECK_EQ(gomap_cache_len(NULL), 0);
    CHECK_EQ(gomap_cache_max_entry_cost(NULL), 0);
    CHECK_EQ(gomap_cache_shards(NULL), 0);
    CHECK_EQ(gomap_cache_stats(NULL, &st), -EINVAL);
    CHECK_EQ(gomap_cache_stats(c, NULL), -EINVAL);
    CHECK_EQ(gomap_cache_validate(NULL, why, sizeof why), -EINVAL);
    CHECK_EQ(gomap_cache_heatmap(NULL, f, GOMAP_HEATMAP_TEXT), -EINVAL);
    CHECK_EQ(gomap_cache_heatmap(c, NULL, GOMAP_HEATMAP_TEXT), -EINVAL);
    CHECK_EQ(gomap_cache_dump(NULL, f), -EINVAL);
    CHECK_EQ(gomap_cache_dump(c, NULL), -EINVAL);
    gomap_cache_free(NULL);
    CHECK_EQ(ftell(f), 0);

    CHECK_EQ(gomap_cache_set(c, &k, &v, 0), 0);
    out = 77;
    CHECK(!gomap_cache_get(c, NULL, &out) && out == 0);
    CHECK_EQ(gomap_cache_set(c, NULL, &v, 0), -EINVAL);
    CHECK_EQ(gomap_cache_set(c, &k, NULL, 0), -EINVAL); /* val_size 8 */
    CHECK_EQ(gomap_cache_set_cost(c, NULL, &v, 0, 1), -EINVAL);
    CHECK_EQ(gomap_cache_set_cost(c, &k, NULL, 0, 1), -EINVAL);
    CHECK(!gomap_cache_delete(c, NULL));
    out = 77;
    CHECK_EQ(gomap_cache_get_or_load(c, NULL, &out, load_key, NULL), -EINVAL);
    CHECK_EQ(out, 0);
    out = 77;
    CHECK_EQ(gomap_cache_get_or_load(c, &(uint64_t){2}, &out, NULL, NULL), -EINVAL);
    CHECK_EQ(out, 0);
    out = 77;
    CHECK_EQ(gomap_cache_get_or_load(c, &k, &out, NULL, NULL), -EINVAL); /* even for a hit */
    CHECK_EQ(out, 0);
    CHECK_EQ(gomap_cache_ttl(c, NULL), -EINVAL);
    CHECK_EQ(gomap_cache_len(c), 1);
    CHECK(gomap_cache_get(c, &k, &out) && out == 10);
    CHECK_EQ(cache_removed_total(&rec), 0);

    /* NULL *_out pointers. */
    CHECK(gomap_cache_get(c, &k, NULL));
    CHECK(!gomap_cache_get(c, &(uint64_t){5}, NULL));
    load_calls = 0;
    CHECK_EQ(gomap_cache_get_or_load(c, &k, NULL, load_key, NULL), 1);
    CHECK_EQ(gomap_cache_get_or_load(c, &(uint64_t){5}, NULL, load_key, NULL), 0);
    CHECK_EQ(load_calls, 1);
    CHECK(gomap_cache_get(c, &(uint64_t){5}, &out) && out == 15);
    CHECK_EQ(gomap_cache_validate(c, NULL, 0), 0);
    CHECK_CACHE_VALID(c);
    gomap_cache_free(c);
    CHECK_EQ(cache_removed(&rec, GOMAP_CACHE_DELETED), 2);

    /* String keys no map accepts. */
    gomap_cache_options o = cachecheck_options(GOMAP_KEY_STR, 8, NULL, NULL);
    c = cachecheck_new(&o);
    size_t big = GOMAP_MAX_KEY_SIZE + 1;
    char *long_key = malloc(big);
    CHECK(long_key != NULL);
    memset(long_key, 'x', big);
    const gomap_str bad[] = {{NULL, 5}, {long_key, big}};
    for (int i = 0; i < 2; i++) {
        out = 77;
        CHECK(!gomap_cache_get(c, &bad[i], &out) && out == 0);
        CHECK_EQ(gomap_cache_set(c, &bad[i], &v, 0), -EINVAL);
        CHECK_EQ(gomap_cache_set_cost(c, &bad[i], &v, 0, 1), -EINVAL);
        CHECK(!gomap_cache_delete(c, &bad[i]));
        out = 77;
        CHECK_EQ(gomap_cache_get_or_load(c, &bad[i], &out, load_key, NULL), -EINVAL);
        CHECK_EQ(out, 0);
        CHECK_EQ(gomap_cache_ttl(c, &bad[i]), -EINVAL);
    }
    /* The longest accepted key works. */
    gomap_str longest = {long_key, GOMAP_MAX_KEY_SIZE};
    CHECK_EQ(gomap_cache_set(c, &longest, &v, 0), 0);
    CHECK(gomap_cache_get(c, &longest, &out) && out == 10);
    CHECK_EQ(gomap_cache_len(c), 1);
    gomap_cache_free(c);
    free(long_key);
    fclose(f);
}

/* ------------------------------------------------------------------------ */
/* Key kinds and value sizes                                                 */
/* ------------------------------------------------------------------------ */

enum { NKINDS = 6, KIND_KEYS = 40, BIG = 200 };

typedef struct {
    gomap_key_kind kind;
    size_t key_size;
    uint32_t u32;
    uint64_t u64;
    double f64;
    gomap_str str;
    char text[48];
    unsigned char bytes[12];
    ckey ck;
    size_t val_size;
    /* what on_remove was given last */
    uint64_t removed_id;
    unsigned char removed_val[BIG];
    gomap_cache_cause removed_cause;
    int removals;
} kctx;

/* Key number i (< 2^20) in kind k's form; and back. */
static const void *kkey(kctx *k, uint64_t i)
{
    switch (k->kind) {
    case GOMAP_KEY_U32: k->u32 = (uint32_t)(i * 2654435761u); return &k->u32;
    case GOMAP_KEY_U64: k->u64 = i << 40 | i; return &k->u64;
    case GOMAP_KEY_F64: k->f64 = (double)i * 0.5 - 3.0; return &k->f64;
    case GOMAP_KEY_STR: {
        /* i == 0: the empty string; others carry a NUL byte. */
        int n = i ? snprintf(k->text, sizeof k->text, "k%" PRIu64 "|x", i) : 0;
        if (n > 1)
            k->text[n - 2] = '\0';
        k->str = (gomap_str){i ? k->text : NULL, (size_t)n};
        return &k->str;
    }
    case GOMAP_KEY_BYTES:
        memset(k->bytes, 0, sizeof k->bytes);
        memcpy(k->bytes + 3, &i, sizeof i);
        return k->bytes;
    default:
        k->ck = (ckey){(uint32_t)i, (uint32_t)(i * 7), test_rand(&k->u64)};
        return &k->ck;
    }
}

static uint64_t kkey_id(const kctx *k, const void *key)
{
    switch (k->kind) {
    case GOMAP_KEY_U32: {
        uint32_t x;
        memcpy(&x, key, 4);
        for (uint64_t i = 0; i < KIND_KEYS + 2; i++)
            if ((uint32_t)(i * 2654435761u) == x)
                return i;
        return UINT64_MAX;
    }
    case GOMAP_KEY_U64: {
        uint64_t x;
        memcpy(&x, key, 8);
        return x & 0xFFFFF;
    }
    case GOMAP_KEY_F64: {
        double d;
        memcpy(&d, key, 8);
        return (uint64_t)((d + 3.0) * 2);
    }
    case GOMAP_KEY_STR: {
        gomap_str s;
        memcpy(&s, key, sizeof s);
        if (s.len == 0)
            return 0;
        CHECK(s.ptr != NULL);
        return strtoull(s.ptr + 1, NULL, 10);
    }
    case GOMAP_KEY_BYTES: {
        uint64_t x;
        memcpy(&x, (const unsigned char *)key + 3, 8);
        return x;
    }
    default: {
        ckey c;
        memcpy(&c, key, sizeof c);
        return c.a;
    }
    }
}

static void kval(const kctx *k, uint64_t i, uint64_t version, unsigned char *out)
{
    for (size_t b = 0; b < k->val_size; b++)
        out[b] = (unsigned char)(i * 31 + version * 7 + b);
}

static void kind_remove(const void *key, const void *val, gomap_cache_cause cause, void *ctx)
{
    kctx *k = ctx;
    k->removed_id = kkey_id(k, key);
    if (k->val_size)
        memcpy(k->removed_val, val, k->val_size);
    k->removed_cause = cause;
    k->removals++;
}

typedef struct {
    kctx *k;
    uint64_t version;
} kload;

static int load_kind(const void *key, void *val_out, uint64_t *ttl_ns, void *ctx)
{
    kload *l = ctx;
    (void)ttl_ns;
    unsigned char v[BIG];
    kval(l->k, kkey_id(l->k, key), l->version, v);
    if (l->k->val_size)
        memcpy(val_out, v, l->k->val_size);
    load_calls++;
    return 0;
}

static void kind_case(gomap_key_kind kind, size_t key_size, size_t val_size, const char *name)
{
    kctx k;
    memset(&k, 0, sizeof k);
    k.kind = kind;
    k.key_size = key_size;
    k.val_size = val_size;
    k.u64 = 12345;
    testclock clk;
    testclock_init(&clk, START);
    gomap_cache_options o = cachecheck_options(kind, val_size, &clk, NULL);
    o.map.key_size = key_size;
    if (kind == GOMAP_KEY_CUSTOM) {
        o.map.hash = ckey_hash;
        o.map.equal = ckey_equal;
    }
    o.on_remove = kind_remove;
    o.remove_ctx = &k;
    o.shards = 4;
    gomap_cache_t *c = cachecheck_new(&o);
    unsigned char v[BIG], out[BIG];
    for (uint64_t i = 0; i < KIND_KEYS; i++) {
        kval(&k, i, 0, v);
        CHECK_MSG(gomap_cache_set(c, kkey(&k, i), val_size ? v : NULL, i % 2 ? SEC : 0) == 0,
                  "%s: set of key %" PRIu64, name, i);
        /* The caller's key bytes may change at once (strings are copied). */
        memset(k.text, '#', sizeof k.text);
    }
    CHECK_EQ(gomap_cache_len(c), KIND_KEYS);
    CHECK_EQ(k.removals, 0);
    for (uint64_t i = 0; i < KIND_KEYS; i++) {
        kval(&k, i, 0, v);
        memset(out, 0xEE, sizeof out);
        CHECK_MSG(gomap_cache_get(c, kkey(&k, i), out), "%s: key %" PRIu64 " missing", name, i);
        CHECK_MSG(memcmp(out, v, val_size) == 0, "%s: key %" PRIu64 ": wrong value", name, i);
        CHECK_MSG(gomap_cache_ttl(c, kkey(&k, i)) ==
                  (i % 2 ? (int64_t)SEC : GOMAP_CACHE_TTL_FOREVER), "%s: ttl", name);
    }
    /* Overwrite: REPLACED with the old value and the key as given. */
    kval(&k, 7, 1, v);
    CHECK_EQ(gomap_cache_set(c, kkey(&k, 7), val_size ? v : NULL, 0), 0);
    unsigned char old[BIG];
    kval(&k, 7, 0, old);
    CHECK_MSG(k.removals == 1 && k.removed_id == 7 && k.removed_cause == GOMAP_CACHE_REPLACED &&
              memcmp(k.removed_val, old, val_size) == 0,
              "%s: overwrite reported %d removals, key %" PRIu64 ", cause %s", name, k.removals,
              k.removed_id, cache_cause_names[k.removed_cause]);
    CHECK(gomap_cache_get(c, kkey(&k, 7), out) && memcmp(out, v, val_size) == 0);
    /* Delete: DELETED. */
    CHECK(gomap_cache_delete(c, kkey(&k, 9)));
    kval(&k, 9, 0, old);
    CHECK_MSG(k.removals == 2 && k.removed_id == 9 && k.removed_cause == GOMAP_CACHE_DELETED &&
              memcmp(k.removed_val, old, val_size) == 0, "%s: delete reported key %" PRIu64
              " cause %s", name, k.removed_id, cache_cause_names[k.removed_cause]);
    CHECK(!gomap_cache_delete(c, kkey(&k, 9)));
    CHECK(!gomap_cache_get(c, kkey(&k, 9), out));
    CHECK(all_bytes(out, 0, val_size));
    /* get_or_load: miss, then hit. */
    kload l = {&k, 5};
    load_calls = 0;
    memset(out, 0xEE, sizeof out);
    CHECK_EQ(gomap_cache_get_or_load(c, kkey(&k, KIND_KEYS + 1), out, load_kind, &l), 0);
    kval(&k, KIND_KEYS + 1, 5, v);
    CHECK(memcmp(out, v, val_size) == 0);
    CHECK_EQ(gomap_cache_get_or_load(c, kkey(&k, KIND_KEYS + 1), out, load_kind, &l), 1);
    CHECK_EQ(load_calls, 1);
    CHECK(memcmp(out, v, val_size) == 0);
    if (kind == GOMAP_KEY_F64) {
        double pz = 0.0, nz = -0.0; /* key 6 is 0.0 */
        CHECK(gomap_cache_get(c, &nz, out));
        CHECK(gomap_cache_get(c, &pz, out));
        CHECK_EQ(gomap_cache_set(c, &nz, val_size ? v : NULL, 0), 0);
        CHECK_EQ(k.removed_cause, GOMAP_CACHE_REPLACED);
        CHECK_EQ(k.removed_id, 6);
        CHECK_EQ(gomap_cache_len(c), KIND_KEYS);
        CHECK(gomap_cache_delete(c, &pz));
        CHECK(!gomap_cache_get(c, &nz, out));
        kval(&k, 6, 0, v);
        CHECK_EQ(gomap_cache_set(c, &pz, val_size ? v : NULL, 0), 0);
    }
    CHECK_CACHE_VALID(c);
    /* Expiry of the odd keys: EXPIRED, key and value. */
    testclock_advance(&clk, SEC + cache_reclaim_slack(SEC));
    int before = k.removals;
    gomap_cache_run_maintenance(c);
    /* the odd keys but 7 (reset without a TTL) and 9 (deleted) */
    CHECK_MSG(k.removals - before == KIND_KEYS / 2 - 2 && k.removed_cause ==
              GOMAP_CACHE_EXPIRED && k.removed_id % 2 == 1, "%s: maintenance removed %d", name,
              k.removals - before);
    kval(&k, k.removed_id, 0, old);
    CHECK(memcmp(k.removed_val, old, val_size) == 0);
    CHECK_EQ(gomap_cache_len(c), KIND_KEYS / 2 + 2);
    gomap_cache_clear(c);
    CHECK_EQ(gomap_cache_len(c), 0);
    CHECK_EQ(k.removed_cause, GOMAP_CACHE_DELETED);
    gomap_cache_free(c);
    printf("   %s: ok\n", name);
}

static void test_key_kinds(void)
{
    kind_case(GOMAP_KEY_U32, 0, 8, "u32 keys, 8-byte values");
    kind_case(GOMAP_KEY_U64, 0, 8, "u64 keys, 8-byte values");
    kind_case(GOMAP_KEY_F64, 0, 8, "f64 keys, 8-byte values");
    kind_case(GOMAP_KEY_STR, 0, 8, "string keys, 8-byte values");
    kind_case(GOMAP_KEY_BYTES, 12, 8, "12-byte keys, 8-byte values");
    kind_case(GOMAP_KEY_CUSTOM, sizeof(ckey), 8, "custom keys, 8-byte values");
    kind_case(GOMAP_KEY_U64, 0, 0, "u64 keys, no values");
    kind_case(GOMAP_KEY_STR, 0, 0, "string keys, no values");
    kind_case(GOMAP_KEY_U64, 0, BIG, "u64 keys, 200-byte values");
    kind_case(GOMAP_KEY_STR, 0, 3, "string keys, 3-byte values");
}

/* ------------------------------------------------------------------------ */
/* Costs                                                                     */
/* ------------------------------------------------------------------------ */

static void test_cost_input(void)
{
    cache_removals rec;
    cache_removals_init(&rec, NULL, NULL);
    gomap_cache_t *c = u64_cache(NULL, &rec, 0, 4);
    CHECK(gomap_cache_max_entry_cost(c) == UINT64_MAX);
    uint64_t out;
    CHECK_EQ(gomap_cache_set_cost(c, &(uint64_t){1}, &(uint64_t){10}, 0, 5), 0);
    CHECK_EQ(gomap_cache_set_cost(c, &(uint64_t){1}, &(uint64_t){11}, 0, 0), -EINVAL);
    CHECK(gomap_cache_get(c, &(uint64_t){1}, &out) && out == 10);
    CHECK_EQ(gomap_cache_set_cost(c, &(uint64_t){2}, &(uint64_t){20}, 0, 0), -EINVAL);
    CHECK(!gomap_cache_get(c, &(uint64_t){2}, &out));
    CHECK_EQ(gomap_cache_set_cost(c, &(uint64_t){3}, &(uint64_t){30}, 0, (uint64_t)1 << 40), 0);
    gomap_cache_stats_t s = cachecheck_stats(c);
    CHECK_EQ(s.cost, 5 + ((uint64_t)1 << 40));
    CHECK_EQ(s.max_cost, 0);
    CHECK_EQ(cache_removed_total(&rec), 0);
    gomap_cache_free(c);

    /* max_cost 1003 over 4 shards: shares 251, 251, 251, 250. */
    static const struct { uint64_t max_cost; unsigned shards; uint64_t share; } b[] = {
        {1000, 1, 1000}, {1000, 4, 250}, {1003, 4, 250}, {64, 64, 1}, {5, 2, 2},
    };
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
        char what[96];
        snprintf(what, sizeof what, "max_cost %" PRIu64 ", %u shards", b[i].max_cost,
                 b[i].shards);
        cache_removals_init(&rec, NULL, NULL);
        c = u64_cache(NULL, &rec, b[i].max_cost, b[i].shards);
        CHECK_MSG(gomap_cache_max_entry_cost(c) == b[i].share, "%s: max_entry_cost %" PRIu64,
                  what, gomap_cache_max_entry_cost(c));
        CHECK_EQ(gomap_cache_shards(c), b[i].shards);
        /* One key at a time: the largest cost fits whatever its shard. */
        for (uint64_t k = 0; k < 20; k++) {
            CHECK_MSG(gomap_cache_set_cost(c, &k, &k, 0, b[i].share) == 0, "%s: key %" PRIu64
                      " of the largest cost refused", what, k);
            CHECK_MSG(gomap_cache_get(c, &k, &out) && out == k, "%s: key %" PRIu64
                      " not readable after its set", what, k);
            CHECK_MSG(gomap_cache_set_cost(c, &k, &(uint64_t){99}, 0, b[i].share + 1) == -EINVAL,
                      "%s: cost above the share accepted", what);
            CHECK_EQ(gomap_cache_set_cost(c, &k, &(uint64_t){99}, 0, 0), -EINVAL);
            CHECK_EQ(gomap_cache_set_cost(c, &k, &(uint64_t){99}, 0, UINT64_MAX), -EINVAL);
            CHECK_MSG(gomap_cache_get(c, &k, &out) && out == k, "%s: a refused set changed "
                      "key %" PRIu64, what, k);
            s = cachecheck_stats(c);
            CHECK_MSG(s.cost <= b[i].max_cost, "%s: cost %" PRIu64, what, s.cost);
        }
        CHECK_EQ(cache_removed(&rec, GOMAP_CACHE_REPLACED), 0);
        CHECK_EQ(cache_removed(&rec, GOMAP_CACHE_DELETED), 0);
        CHECK_EQ(cache_removed(&rec, GOMAP_CACHE_EVICTED) + gomap_cache_len(c), 20);
        CHECK_CACHE_VALID(c);
        gomap_cache_free(c);
    }

}

/* A bounded cache whose shards' share of max_cost would be below 1
 * (max_cost 3 over 4 shards) is refused by gomap_cache_new ("a max_cost
 * below the shard count"): -EINVAL, *out NULL. max_cost equal to the shard
 * count is the smallest accepted: one entry of cost 1 per shard. */
static void test_shares_below_one(void)
{
    cache_removals rec;
    cache_removals_init(&rec, NULL, NULL);
    gomap_cache_options o = cachecheck_options(GOMAP_KEY_U64, 8, NULL, &rec);
    o.max_cost = 3;
    o.shards = 4;
    gomap_cache_t *c = (gomap_cache_t *)&o; /* not NULL: new must clear it */
    CHECK_EQ(gomap_cache_new(&c, &o), -EINVAL);
    CHECK(c == NULL);
    o.max_cost = 4;
    CHECK_EQ(gomap_cache_new(&c, &o), 0);
    CHECK_EQ(gomap_cache_max_entry_cost(c), 1);
    CHECK_EQ(gomap_cache_set_cost(c, &(uint64_t){1}, &(uint64_t){1}, 0, 2), -EINVAL);
    uint64_t out;
    for (uint64_t k = 0; k < 64; k++) {
        CHECK_EQ(gomap_cache_set(c, &k, &k, 0), 0);
        CHECK(gomap_cache_get(c, &k, &out) && out == k); /* never evicts itself */
        CHECK(cachecheck_stats(c).cost <= 4);
        CHECK(gomap_cache_len(c) <= 4);
    }
    CHECK_EQ(cache_removed(&rec, GOMAP_CACHE_EVICTED) + gomap_cache_len(c), 64);
    CHECK_CACHE_VALID(c);
    gomap_cache_free(c);
}

/* stats.rejected: "sets refused (-EINVAL, -ENOMEM)" (the -ENOMEM ones in
 * test_cache_oom). Each refused set, set_cost and store counts once. */
static void test_rejected(void)
{
    testclock clk;
    testclock_init(&clk, START);
    cache_removals rec;
    cache_removals_init(&rec, NULL, NULL);
    gomap_cache_t *c = u64_cache(&clk, &rec, 100, 1);
    uint64_t k = 1, v = 10;
    CHECK_EQ(gomap_cache_set(c, &k, &v, 0), 0);
    const struct { const char *what; int rc; } refused[] = {
        {"set of a NULL key", gomap_cache_set(c, NULL, &v, 0)},
        {"set of a NULL value", gomap_cache_set(c, &k, NULL, 0)},
        {"set_cost of a NULL key", gomap_cache_set_cost(c, NULL, &v, 0, 1)},
        {"set_cost of cost 0", gomap_cache_set_cost(c, &k, &v, 0, 0)},
        {"set_cost over max_entry_cost", gomap_cache_set_cost(c, &k, &v, 0, 101)},
        {"set with a deadline past 2^64", gomap_cache_set(c, &k, &v, UINT64_MAX - 1)},
        {"set_cost with a deadline past 2^64", gomap_cache_set_cost(c, &k, &v, UINT64_MAX - 1,
                                                                    1)},
    };
    size_t n = sizeof refused / sizeof refused[0];
    for (size_t i = 0; i < n; i++)
        CHECK_MSG(refused[i].rc == -EINVAL, "%s: %d", refused[i].what, refused[i].rc);
    gomap_cache_stats_t s = cachecheck_stats(c);
    CHECK_MSG(s.rejected == n, "stats.rejected %" PRIu64 " after %zu sets refused with -EINVAL "
              "(documented: \"sets refused (-EINVAL, -ENOMEM)\")", s.rejected, n);
    CHECK_EQ(s.sets, 1);
    CHECK(gomap_cache_get(c, &k, &v) && v == 10);
    CHECK_EQ(cache_removed_total(&rec), 0);
    gomap_cache_free(c);
}

/* ------------------------------------------------------------------------ */
/* Causes                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct {
    uint64_t key[32], val[32];
    gomap_cache_cause cause[32];
    size_t n;
} rlog;

static void rlog_hook(const void *key, const void *val, gomap_cache_cause cause, void *ctx)
{
    rlog *l = ctx;
    if (l->n < 32) {
        memcpy(&l->key[l->n], key, 8);
        memcpy(&l->val[l->n], val, 8);
        l->cause[l->n] = cause;
    }
    l->n++;
}

static void expect_log(rlog *l, size_t i, uint64_t key, uint64_t val, gomap_cache_cause cause,
                       const char *what)
{
    CHECK_MSG(l->n > i && l->key[i] == key && l->val[i] == val && l->cause[i] == cause,
              "%s: removal #%zu of %zu: key %" PRIu64 " value %" PRIu64 " cause %s, expected "
              "key %" PRIu64 " value %" PRIu64 " cause %s", what, i, l->n, l->key[i], l->val[i],
              cache_cause_names[l->cause[i] <= 4 ? l->cause[i] : 0], key, val,
              cache_cause_names[cause]);
}

static void test_causes(void)
{
    testclock clk;
    testclock_init(&clk, START);
    rlog l;
    memset(&l, 0, sizeof l);
    cache_removals rec;
    cache_removals_init(&rec, rlog_hook, &l);
    gomap_cache_t *c = u64_cache(&clk, &rec, 0, 1);
    CHECK_EQ(gomap_cache_set(c, &(uint64_t){1}, &(uint64_t){10}, 0), 0);
    CHECK_EQ(gomap_cache_set(c, &(uint64_t){1}, &(uint64_t){11}, 0), 0);
    expect_log(&l, 0, 1, 10, GOMAP_CACHE_REPLACED, "set over");
    CHECK_EQ(gomap_cache_set_cost(c, &(uint64_t){1}, &(uint64_t){12}, 0, 3), 0);
    expect_log(&l, 1, 1, 11, GOMAP_CACHE_REPLACED, "set_cost over");
    CHECK(gomap_cache_delete(c, &(uint64_t){1}));
    expect_log(&l, 2, 1, 12, GOMAP_CACHE_DELETED, "delete");
    CHECK(!gomap_cache_delete(c, &(uint64_t){1}));
    CHECK_EQ(l.n, 3);
    for (uint64_t k = 2; k < 5; k++)
        CHECK_EQ(gomap_cache_set(c, &k, &(uint64_t){k * 10}, 0), 0);
    gomap_cache_clear(c);
    CHECK_EQ(l.n, 6);
    for (size_t i = 3; i < 6; i++)
        expect_log(&l, i, l.key[i], l.key[i] * 10, GOMAP_CACHE_DELETED, "clear");
    CHECK_EQ(l.key[3] + l.key[4] + l.key[5], 2 + 3 + 4);
    CHECK_EQ(gomap_cache_set(c, &(uint64_t){5}, &(uint64_t){50}, 100 * MS), 0);
    testclock_advance(&clk, 100 * MS + cache_reclaim_slack(100 * MS));
    gomap_cache_run_maintenance(c);
    expect_log(&l, 6, 5, 50, GOMAP_CACHE_EXPIRED, "expiry");
    CHECK_EQ(gomap_cache_set(c, &(uint64_t){6}, &(uint64_t){60}, 0), 0);
    gomap_cache_free(c);
    expect_log(&l, 7, 6, 60, GOMAP_CACHE_DELETED, "free");
    CHECK_EQ(l.n, 8);
    CHECK_EQ(cache_removed(&rec, GOMAP_CACHE_REPLACED), 2);
    CHECK_EQ(cache_removed(&rec, GOMAP_CACHE_DELETED), 5);
    CHECK_EQ(cache_removed(&rec, GOMAP_CACHE_EXPIRED), 1);

    /* EVICTED: max_cost 4, one shard, 10 keys. */
    memset(&l, 0, sizeof l);
    cache_removals_init(&rec, rlog_hook, &l);
    c = u64_cache(&clk, &rec, 4, 1);
    for (uint64_t k = 0; k < 10; k++) {
        CHECK_EQ(gomap_cache_set(c, &k, &(uint64_t){k * 10}, 0), 0);
        CHECK(gomap_cache_get(c, &k, NULL));
        CHECK(gomap_cache_len(c) <= 4);
    }
    CHECK_EQ(l.n, 6);
    for (size_t i = 0; i < 6; i++) {
        expect_log(&l, i, l.key[i], l.key[i] * 10, GOMAP_CACHE_EVICTED, "eviction");
        CHECK(!gomap_cache_get(c, &l.key[i], NULL));
    }
    gomap_cache_stats_t s = cachecheck_stats(c);
    CHECK_EQ(s.removed[GOMAP_CACHE_EVICTED], 6);
    CHECK_EQ(s.entries, 4);
    CHECK_EQ(s.cost, 4);
    CHECK_EQ(s.max_cost, 4);
    gomap_cache_free(c);
}

/* ------------------------------------------------------------------------ */
/* on_remove calling into the cache                                          */
/* ------------------------------------------------------------------------ */

typedef struct {
    gomap_cache_t *c;
    bool bounded;
    int depth;
    size_t calls, reentered;
} reentry;

static void reentry_hook(const void *key, const void *val, gomap_cache_cause cause, void *ctx)
{
    reentry *r = ctx;
    (void)val;
    r->calls++;
    uint64_t k;
    memcpy(&k, key, 8);
    if (r->depth > 0 || k >= 1000)
        return;
    r->depth++;
    r->reentered++;
    uint64_t out = 0;
    bool found = gomap_cache_get(r->c, &k, &out);
    if (cause == GOMAP_CACHE_DELETED || cause == GOMAP_CACHE_EVICTED ||
        cause == GOMAP_CACHE_EXPIRED)
        CHECK_MSG(!found, "on_remove (%s) of key %" PRIu64 ": get still finds it",
                  cache_cause_names[cause], k);
    else if (!r->bounded) /* bounded: another callback's set may have evicted it since */
        CHECK_MSG(found, "on_remove (REPLACED) of key %" PRIu64 ": get misses the new value", k);
    uint64_t k2 = k + 1000, k3 = k + 2000;
    CHECK_EQ(gomap_cache_set(r->c, &k2, &k2, 0), 0);
    CHECK(gomap_cache_get(r->c, &k2, &out) && out == k2);
    (void)gomap_cache_delete(r->c, &k3);
    CHECK(gomap_cache_get_or_load(r->c, &k3, &out, load_key, NULL) >= 0);
    CHECK_EQ(out, k3 * 3);
    (void)gomap_cache_ttl(r->c, &k2);
    (void)gomap_cache_len(r->c);
    (void)cachecheck_stats(r->c);
    CHECK_CACHE_VALID(r->c);
    gomap_cache_run_maintenance(r->c);
    r->depth--;
}

static void reentry_case(uint64_t max_cost, unsigned shards)
{
    testclock clk;
    testclock_init(&clk, START);
    reentry r = {NULL, max_cost > 0, 0, 0, 0};
    cache_removals rec;
    cache_removals_init(&rec, reentry_hook, &r);
    r.c = u64_cache(&clk, &rec, max_cost, shards);
    for (uint64_t k = 0; k < 20; k++)
        CHECK_EQ(gomap_cache_set(r.c, &k, &k, k < 5 ? SEC : 0), 0);
    CHECK_EQ(gomap_cache_set(r.c, &(uint64_t){6}, &(uint64_t){66}, 0), 0);       /* replaced */
    CHECK(gomap_cache_delete(r.c, &(uint64_t){7}) || max_cost);                 /* deleted */
    testclock_advance(&clk, SEC + cache_reclaim_slack(SEC));
    gomap_cache_run_maintenance(r.c);                                           /* expired */
    for (uint64_t k = 20; k < 60; k++)                                          /* evicted */
        CHECK_EQ(gomap_cache_set(r.c, &k, &k, 0), 0);
    gomap_cache_clear(r.c);                                                     /* deleted */
    CHECK(r.reentered >= 5);
    /* Bounded, the keys due to expire or be replaced may be evicted first. */
    for (int c = 1; c <= 4; c++)
        if (max_cost ? c == GOMAP_CACHE_EVICTED : c != GOMAP_CACHE_EVICTED)
            CHECK_MSG(cache_removed(&rec, (gomap_cache_cause)c) > 0, "no %s removal",
                      cache_cause_names[c]);
    CHECK_CACHE_VALID(r.c);
    r.depth = 1; /* free: no calls back */
    gomap_cache_free(r.c);
    printf("   max_cost %" PRIu64 ", %u shards: %zu removals, %zu of them called back\n",
           max_cost, shards, r.calls, r.reentered);
}

static void test_reentry(void)
{
    alarm(120); /* a deadlock fails the test instead of hanging it */
    reentry_case(0, 1);
    reentry_case(0, 8);
    reentry_case(16, 1);
    reentry_case(64, 4);
    alarm(0);
}

/* ------------------------------------------------------------------------ */
/* get_or_load                                                               */
/* ------------------------------------------------------------------------ */

typedef struct {
    int rc;            /* what to return */
    uint64_t ttl;      /* what to set *ttl_ns to */
    int calls;
    gomap_cache_t *c;  /* for loaders that call into the cache */
} loader;

static int load_fixed(const void *key, void *val_out, uint64_t *ttl_ns, void *ctx)
{
    loader *l = ctx;
    uint64_t k;
    memcpy(&k, key, 8);
    l->calls++;
    memcpy(val_out, &(uint64_t){k + 1000}, 8); /* written even when failing */
    *ttl_ns = l->ttl;
    return l->rc;
}

static int load_nested(const void *key, void *val_out, uint64_t *ttl_ns, void *ctx)
{
    loader *l = ctx;
    (void)ttl_ns;
    uint64_t k, out;
    memcpy(&k, key, 8);
    l->calls++;
    loader inner = {0, 0, 0, NULL};
    CHECK_EQ(gomap_cache_get_or_load(l->c, &(uint64_t){k + 1}, &out, load_fixed, &inner), 0);
    CHECK_EQ(out, k + 1 + 1000);
    CHECK_EQ(inner.calls, 1);
    CHECK_EQ(gomap_cache_get_or_load(l->c, &(uint64_t){k + 1}, &out, load_fixed, &inner), 1);
    CHECK_EQ(gomap_cache_set(l->c, &(uint64_t){k + 2}, &(uint64_t){22}, 0), 0);
    CHECK(gomap_cache_get(l->c, &(uint64_t){k + 2}, &out) && out == 22);
    CHECK(gomap_cache_get(l->c, &(uint64_t){1}, &out) && out == 10);
    CHECK(!gomap_cache_get(l->c, &k, &out)); /* not stored yet */
    CHECK(gomap_cache_delete(l->c, &(uint64_t){2}));
    CHECK(gomap_cache_len(l->c) >= 3);
    memcpy(val_out, &(uint64_t){k * 2}, 8);
    return 0;
}

static int load_sets_own_key(const void *key, void *val_out, uint64_t *ttl_ns, void *ctx)
{
    loader *l = ctx;
    (void)ttl_ns;
    l->calls++;
    CHECK_EQ(gomap_cache_set(l->c, key, &(uint64_t){5}, 0), 0);
    memcpy(val_out, &(uint64_t){7}, 8);
    return 0;
}

/* For values of 0 bytes: nothing to write. */
static int load_seven_none(const void *key, void *val_out, uint64_t *ttl_ns, void *ctx)
{
    (void)key;
    (void)val_out;
    (void)ttl_ns;
    ((loader *)ctx)->calls++;
    return 0;
}

static void test_get_or_load(void)
{
    testclock clk;
    testclock_init(&clk, START);
    rlog lg;
    memset(&lg, 0, sizeof lg);
    cache_removals rec;
    cache_removals_init(&rec, rlog_hook, &lg);
    gomap_cache_t *c = u64_cache(&clk, &rec, 0, 4);
    uint64_t out;
    CHECK_EQ(gomap_cache_set(c, &(uint64_t){1}, &(uint64_t){10}, 0), 0);
    CHECK_EQ(gomap_cache_set(c, &(uint64_t){2}, &(uint64_t){20}, 0), 0);

    loader l = {0, 3 * SEC, 0, c};
    out = 0;
    CHECK_EQ(gomap_cache_get_or_load(c, &(uint64_t){1}, &out, load_fixed, &l), 1);
    CHECK_EQ(out, 10);
    CHECK_EQ(l.calls, 0);
    CHECK_EQ(gomap_cache_get_or_load(c, &(uint64_t){100}, &out, load_fixed, &l), 0);
    CHECK_EQ(out, 1100);
    CHECK_EQ(l.calls, 1);
    CHECK(gomap_cache_get(c, &(uint64_t){100}, &out) && out == 1100);
    CHECK_EQ(gomap_cache_ttl(c, &(uint64_t){100}), (int64_t)(3 * SEC));
    CHECK_EQ(gomap_cache_get_or_load(c, &(uint64_t){100}, &out, load_fixed, &l), 1);
    CHECK_EQ(l.calls, 1);
    /* Loaded with a TTL: after it, loaded again. */
    testclock_advance(&clk, 3 * SEC);
    CHECK_EQ(gomap_cache_get_or_load(c, &(uint64_t){100}, &out, load_fixed, &l), 0);
    CHECK_EQ(l.calls, 2);
    CHECK_EQ(gomap_cache_len(c), 3);

    /* Failures: the loader's code, zeros, nothing stored, loaded again. */
    static const int codes[] = {42, -EIO, -ENOENT, 1, -1000};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        loader f = {codes[i], SEC, 0, c};
        size_t len0 = gomap_cache_len(c), removed0 = lg.n;
        for (int round = 1; round <= 2; round++) {
            out = 0xABABABABABABABABull;
            int rc = gomap_cache_get_or_load(c, &(uint64_t){200}, &out, load_fixed, &f);
            CHECK_MSG(rc == codes[i], "loader failing with %d: get_or_load returned %d",
                      codes[i], rc);
            CHECK_MSG(out == 0, "loader failing with %d: val_out %" PRIx64 ", not zeros",
                      codes[i], out);
            CHECK_EQ(f.calls, round);
            CHECK(!gomap_cache_get(c, &(uint64_t){200}, &out));
            CHECK_EQ(gomap_cache_len(c), len0);
        }
        CHECK_EQ(lg.n, removed0);
    }
    /* A failure after a success of another key changes nothing else. */
    CHECK(gomap_cache_get(c, &(uint64_t){1}, &out) && out == 10);

    /* A loader that uses the same cache for other keys. */
    loader n = {0, 0, 0, c};
    CHECK_EQ(gomap_cache_get_or_load(c, &(uint64_t){300}, &out, load_nested, &n), 0);
    CHECK_EQ(out, 600);
    CHECK_EQ(n.calls, 1);
    CHECK(gomap_cache_get(c, &(uint64_t){300}, &out) && out == 600);
    CHECK(gomap_cache_get(c, &(uint64_t){301}, &out) && out == 1301);
    CHECK(gomap_cache_get(c, &(uint64_t){302}, &out) && out == 22);
    CHECK(!gomap_cache_get(c, &(uint64_t){2}, &out));

    /* A loader that sets its own key: the load's store replaces it. */
    size_t n0 = lg.n;
    loader o = {0, 0, 0, c};
    CHECK_EQ(gomap_cache_get_or_load(c, &(uint64_t){400}, &out, load_sets_own_key, &o), 0);
    CHECK_EQ(out, 7);
    CHECK(gomap_cache_get(c, &(uint64_t){400}, &out) && out == 7);
    expect_log(&lg, n0, 400, 5, GOMAP_CACHE_REPLACED, "a load over a key set meanwhile");

    /* val_size 0: a set of keys. */
    gomap_cache_options so = cachecheck_options(GOMAP_KEY_U64, 0, NULL, NULL);
    gomap_cache_t *set = cachecheck_new(&so);
    loader z = {0, 0, 0, NULL};
    CHECK_EQ(gomap_cache_get_or_load(set, &(uint64_t){1}, NULL, load_seven_none, &z), 0);
    CHECK_EQ(gomap_cache_get_or_load(set, &(uint64_t){1}, NULL, load_seven_none, &z), 1);
    CHECK_EQ(z.calls, 1);
    CHECK(gomap_cache_get(set, &(uint64_t){1}, NULL));
    gomap_cache_free(set);

    CHECK_CACHE_VALID(c);
    gomap_cache_free(c);
}

/* ------------------------------------------------------------------------ */
/* Stats                                                                     */
/* ------------------------------------------------------------------------ */

#define EXPECT_STAT(s, field, want) \
    CHECK_MSG((uint64_t)(s).field == (uint64_t)(want), "stats." #field " = %" PRIu64 \
              ", expected %" PRIu64, (uint64_t)(s).field, (uint64_t)(want))

static void test_stats(void)
{
    testclock clk;
    testclock_init(&clk, START);
    cache_removals rec;
    cache_removals_init(&rec, NULL, NULL);
    gomap_cache_t *c = u64_cache(&clk, &rec, 1000, 2);
    gomap_cache_stats_t s = cachecheck_stats(c);
    EXPECT_STAT(s, hits, 0);
    EXPECT_STAT(s, misses, 0);
    EXPECT_STAT(s, sets, 0);
    EXPECT_STAT(s, entries, 0);
    EXPECT_STAT(s, cost, 0);
    EXPECT_STAT(s, max_cost, 1000);
    EXPECT_STAT(s, shards, 2);
    CHECK(s.window_share >= 0.0 && s.window_share <= 1.0);
    for (int i = 0; i < 5; i++)
        EXPECT_STAT(s, removed[i], 0);

    uint64_t out;
    CHECK_EQ(gomap_cache_set(c, &(uint64_t){1}, &(uint64_t){1}, 0), 0);
    CHECK_EQ(gomap_cache_set_cost(c, &(uint64_t){2}, &(uint64_t){2}, SEC, 7), 0);
    CHECK_EQ(gomap_cache_set(c, &(uint64_t){3}, &(uint64_t){3}, 0), 0);
    CHECK_EQ(gomap_cache_set(c, &(uint64_t){3}, &(uint64_t){4}, 0), 0);        /* replaced */
    CHECK_EQ(gomap_cache_set_cost(c, &(uint64_t){4}, &(uint64_t){4}, 0, 0), -EINVAL);
    CHECK(gomap_cache_get(c, &(uint64_t){1}, &out));
    CHECK(gomap_cache_get(c, &(uint64_t){2}, &out));
    CHECK(!gomap_cache_get(c, &(uint64_t){9}, &out));
    loader ok = {0, 0, 0, NULL}, bad = {5, 0, 0, NULL};
    CHECK_EQ(gomap_cache_get_or_load(c, &(uint64_t){1}, &out, load_fixed, &ok), 1);   /* hit */
    CHECK_EQ(gomap_cache_get_or_load(c, &(uint64_t){10}, &out, load_fixed, &ok), 0);  /* load */
    CHECK_EQ(gomap_cache_get_or_load(c, &(uint64_t){11}, &out, load_fixed, &bad), 5); /* fails */
    CHECK(gomap_cache_delete(c, &(uint64_t){1}));
    (void)gomap_cache_ttl(c, &(uint64_t){2}); /* not an access, not a hit */
    s = cachecheck_stats(c);
    EXPECT_STAT(s, hits, 3);
    EXPECT_STAT(s, misses, 3);
    EXPECT_STAT(s, loads, 1);
    EXPECT_STAT(s, load_failures, 1);
    EXPECT_STAT(s, load_waits, 0);
    EXPECT_STAT(s, sets, 5);
    EXPECT_STAT(s, removed[GOMAP_CACHE_REPLACED], 1);
    EXPECT_STAT(s, removed[GOMAP_CACHE_DELETED], 1);
    EXPECT_STAT(s, removed[GOMAP_CACHE_EXPIRED], 0);
    EXPECT_STAT(s, removed[GOMAP_CACHE_EVICTED], 0);
    EXPECT_STAT(s, entries, 3);
    EXPECT_STAT(s, cost, 7 + 1 + 1);
    EXPECT_STAT(s, shards, 2);
    CHECK(s.bytes_held > 0);
    CHECK_EQ(s.entries, gomap_cache_len(c));

    testclock_advance(&clk, SEC + cache_reclaim_slack(SEC));
    gomap_cache_run_maintenance(c);
    s = cachecheck_stats(c);
    EXPECT_STAT(s, removed[GOMAP_CACHE_EXPIRED], 1);
    EXPECT_STAT(s, entries, 2);
    EXPECT_STAT(s, cost, 2);
    CHECK(s.maintenance_runs >= 1);
    CHECK(s.wheel_drift_max_ns <= cache_reclaim_slack(SEC));
    CHECK(s.wheel_drift_sum_ns == s.wheel_drift_max_ns);
    /* Evictions counted. */
    for (uint64_t k = 100; k < 1100; k++)
        CHECK_EQ(gomap_cache_set(c, &k, &k, 0), 0);
    s = cachecheck_stats(c);
    CHECK(s.cost <= 1000 && s.entries <= 1000);
    EXPECT_STAT(s, removed[GOMAP_CACHE_EVICTED], 1002 - s.entries);
    EXPECT_STAT(s, sets, 1005);
    CHECK_EQ(cache_removed(&rec, GOMAP_CACHE_EVICTED), s.removed[GOMAP_CACHE_EVICTED]);
    /* Per shard: the two shards add up to the totals; a third slot is
     * zeroed; bad input. */
    gomap_cache_shard_counters per[3];
    memset(per, 0xff, sizeof per);
    CHECK_EQ(gomap_cache_shard_stats(c, per, 3), 0);
    CHECK_EQ(per[0].hits + per[1].hits, s.hits);
    CHECK_EQ(per[0].misses + per[1].misses, s.misses);
    CHECK_EQ(per[0].sets + per[1].sets, s.sets);
    CHECK_EQ(per[0].evictions + per[1].evictions, s.removed[GOMAP_CACHE_EVICTED]);
    CHECK_EQ(per[0].expirations + per[1].expirations, s.removed[GOMAP_CACHE_EXPIRED]);
    CHECK_EQ(per[0].entries + per[1].entries, s.entries);
    CHECK_EQ(per[0].cost + per[1].cost, s.cost);
    CHECK(per[0].cost <= 500 && per[1].cost <= 500); /* each shard's share */
    CHECK(per[2].hits == 0 && per[2].entries == 0 && per[2].cost == 0 && per[2].sets == 0);
    CHECK_EQ(gomap_cache_shard_stats(NULL, per, 1), -EINVAL);
    CHECK_EQ(gomap_cache_shard_stats(c, NULL, 1), -EINVAL);
    CHECK_EQ(gomap_cache_shard_stats(c, NULL, 0), 0);
    /* Batches: each of those sets evicted one entry. */
    EXPECT_STAT(s, evict_batches[0], s.removed[GOMAP_CACHE_EVICTED]);
    for (unsigned b = 1; b < GOMAP_CACHE_BATCH_BUCKETS; b++)
        EXPECT_STAT(s, evict_batches[b], 0);
    /* With both shards full (2000 more keys), an entry of cost 200 evicts
     * 200 of its shard's unit entries in one call: a batch over 128. */
    for (uint64_t k = 2000; k < 4000; k++)
        CHECK_EQ(gomap_cache_set(c, &k, &k, 0), 0);
    gomap_cache_stats_t before = cachecheck_stats(c);
    CHECK_EQ(before.cost, 1000);
    CHECK_EQ(gomap_cache_set_cost(c, &(uint64_t){5000}, &(uint64_t){5}, 0, 200), 0);
    s = cachecheck_stats(c);
    EXPECT_STAT(s, removed[GOMAP_CACHE_EVICTED], before.removed[GOMAP_CACHE_EVICTED] + 200);
    EXPECT_STAT(s, evict_batches[GOMAP_CACHE_BATCH_BUCKETS - 1], 1);
    EXPECT_STAT(s, evict_batches[0], before.evict_batches[0]);
    gomap_cache_clear(c);
    s = cachecheck_stats(c);
    EXPECT_STAT(s, entries, 0);
    EXPECT_STAT(s, cost, 0);
    CHECK_EQ(cache_removed(&rec, GOMAP_CACHE_DELETED), s.removed[GOMAP_CACHE_DELETED]);
    CHECK_CACHE_VALID(c);
    gomap_cache_free(c);
}

/* ------------------------------------------------------------------------ */
/* Diagnostics                                                               */
/* ------------------------------------------------------------------------ */

static char *read_back(FILE *f, long *len)
{
    fflush(f);
    *len = ftell(f);
    CHECK(*len >= 0);
    char *buf = malloc((size_t)*len + 1);
    CHECK(buf != NULL);
    rewind(f);
    CHECK(fread(buf, 1, (size_t)*len, f) == (size_t)*len);
    buf[*len] = '\0';
    return buf;
}

static void test_diag(void)
{
    testclock clk;
    testclock_init(&clk, START);
    gomap_cache_t *c = u64_cache(&clk, NULL, 500, 4);
    for (uint64_t k = 0; k < 700; k++)
        CHECK_EQ(gomap_cache_set(c, &k, &k, k % 3 ? 0 : k * MS), 0);
    char why[128] = "untouched";
    CHECK_EQ(gomap_cache_validate(c, why, sizeof why), 0);

    long len;
    FILE *f = tmpfile();
    CHECK(f != NULL);
    CHECK_EQ(gomap_cache_dump(c, f), 0);
    char *text = read_back(f, &len);
    CHECK_MSG(len > 0 && strchr(text, '\n') != NULL, "dump wrote %ld bytes", len);
    free(text);
    fclose(f);

    f = tmpfile();
    CHECK_EQ(gomap_cache_heatmap(c, f, GOMAP_HEATMAP_TEXT), 0);
    text = read_back(f, &len);
    CHECK_MSG(len > 4 && strchr(text, '\n') != NULL, "text heatmap: %ld bytes", len);
    CHECK(strstr(text, "<svg") == NULL);
    free(text);
    fclose(f);

    f = tmpfile();
    CHECK_EQ(gomap_cache_heatmap(c, f, GOMAP_HEATMAP_SVG), 0);
    text = read_back(f, &len);
    char *open = strstr(text, "<svg"), *close = strstr(text, "</svg>");
    CHECK_MSG(open != NULL && close != NULL && open < close, "SVG heatmap: %ld bytes", len);
    free(text);
    fclose(f);

    static const int bad_formats[] = {2, -1, 99};
    for (size_t i = 0; i < 3; i++) {
        f = tmpfile();
        CHECK_EQ(gomap_cache_heatmap(c, f, bad_formats[i]), -EINVAL);
        fflush(f);
        CHECK_MSG(ftell(f) == 0, "heatmap format %d: -EINVAL, but %ld bytes written",
                  bad_formats[i], ftell(f));
        fclose(f);
    }
    /* An empty cache draws and dumps too. */
    gomap_cache_clear(c);
    f = tmpfile();
    CHECK_EQ(gomap_cache_dump(c, f), 0);
    CHECK_EQ(gomap_cache_heatmap(c, f, GOMAP_HEATMAP_TEXT), 0);
    CHECK_EQ(gomap_cache_heatmap(c, f, GOMAP_HEATMAP_SVG), 0);
    fflush(f);
    CHECK(ftell(f) > 0);
    fclose(f);
    CHECK_CACHE_VALID(c);
    gomap_cache_free(c);

    const char *e = gomap_strerror(-ENOENT);
    CHECK(e != NULL);
    CHECK_MSG(strcmp(e, gomap_strerror(-12345)) != 0, "gomap_strerror(-ENOENT) = \"%s\", "
              "the text for unknown codes", e);
    CHECK(strcmp(e, gomap_strerror(-EINVAL)) != 0 && strcmp(e, gomap_strerror(0)) != 0);
    printf("   gomap_strerror(-ENOENT) = \"%s\"\n", e);
}

/* ------------------------------------------------------------------------ */
/* The size bound                                                            */
/* ------------------------------------------------------------------------ */

enum { BOUND_KEYS = 5000 / WORK_DIV };

typedef struct {
    bool live[BOUND_KEYS];
    uint64_t cost[BOUND_KEYS];
    uint64_t live_cost;
    size_t live_n;
    uint64_t setting;
} costs;

static void cost_hook(const void *key, const void *val, gomap_cache_cause cause, void *ctx)
{
    costs *t = ctx;
    uint64_t k;
    memcpy(&k, key, 8);
    CHECK(k < BOUND_KEYS && t->live[k]);
    if (cause == GOMAP_CACHE_REPLACED)
        CHECK_MSG(k == t->setting, "key %" PRIu64 " REPLACED by the set of key %" PRIu64, k,
                  t->setting);
    else
        CHECK_MSG(cause == GOMAP_CACHE_EVICTED, "key %" PRIu64 " removed as %s", k,
                  cache_cause_names[cause]);
    CHECK_MSG(cause != GOMAP_CACHE_EVICTED || k != t->setting, "the set of key %" PRIu64
              " evicted the entry it stores", k);
    CHECK(memcmp(val, &k, 8) == 0);
    t->live[k] = false;
    t->live_cost -= t->cost[k];
    t->live_n--;
}

/* Sets of new keys, and of older ones (present or evicted) with a new
 * cost. With `track`, on_remove follows every entry, so the live costs are
 * known exactly; without, the cache has no on_remove (a present key is then
 * overwritten in place) and only the bound and readability are checked. */
static void bound_case(uint64_t max_cost, unsigned shards, uint64_t max_item, bool track,
                       uint64_t seed)
{
    costs *t = calloc(1, sizeof *t);
    CHECK(t != NULL);
    cache_removals rec;
    cache_removals_init(&rec, cost_hook, t);
    gomap_cache_t *c = u64_cache(NULL, track ? &rec : NULL, max_cost, shards);
    uint64_t rng = seed, item = max_item < gomap_cache_max_entry_cost(c) ? max_item :
                   gomap_cache_max_entry_cost(c);
    uint64_t next = 0, overwrites = 0;
    char what[96];
    snprintf(what, sizeof what, "max_cost %" PRIu64 ", %u shards, costs 1..%" PRIu64 "%s",
             max_cost, shards, item, track ? "" : ", no on_remove");
    for (size_t step = 0; step < BOUND_KEYS; step++) {
        uint64_t k = next;
        if (next > 0 && test_rand_below(&rng, 3) == 0) {
            k = test_rand_below(&rng, next);
            overwrites++;
        } else {
            next++;
        }
        uint64_t cost = 1 + test_rand_below(&rng, item);
        t->setting = k;
        CHECK_EQ(gomap_cache_set_cost(c, &k, &k, 0, cost), 0);
        t->setting = UINT64_MAX;
        uint64_t out = 0;
        CHECK_MSG(gomap_cache_get(c, &k, &out) && out == k, "%s: key %" PRIu64 " (cost %" PRIu64
                  ") not readable right after its set", what, k, cost);
        gomap_cache_stats_t s = cachecheck_stats(c);
        CHECK_MSG(s.cost <= max_cost, "%s: after the set of key %" PRIu64 ": stats.cost %" PRIu64,
                  what, k, s.cost);
        CHECK(gomap_cache_len(c) <= max_cost);
        if (track) {
            CHECK_MSG(!t->live[k], "%s: the entry key %" PRIu64 "'s set replaced was not "
                      "reported", what, k);
            t->live[k] = true;
            t->cost[k] = cost;
            t->live_cost += cost;
            t->live_n++;
            CHECK_MSG(s.cost == t->live_cost, "%s: after key %" PRIu64 ": stats.cost %" PRIu64
                      ", live costs %" PRIu64, what, k, s.cost, t->live_cost);
            CHECK_EQ(gomap_cache_len(c), t->live_n);
        }
        /* Read a few older keys now and then (frequencies for the policy). */
        if (step % 3 == 0)
            for (int i = 0; i < 4; i++) {
                uint64_t j = test_rand_below(&rng, next);
                bool got = gomap_cache_get(c, &j, &out);
                CHECK(!track || got == t->live[j]);
            }
        if (step % 500 == 0)
            CHECK_CACHE_VALID(c);
    }
    if (track) {
        CHECK_EQ(cache_removed(&rec, GOMAP_CACHE_EVICTED) + cache_removed(&rec,
                 GOMAP_CACHE_REPLACED) + gomap_cache_len(c), BOUND_KEYS);
        CHECK_EQ(cache_removed_total(&rec), cache_removed(&rec, GOMAP_CACHE_EVICTED) +
                 cache_removed(&rec, GOMAP_CACHE_REPLACED));
    }
    gomap_cache_stats_t s = cachecheck_stats(c);
    printf("   %s: %zu entries of cost %" PRIu64 " held after %d sets (%" PRIu64
           " overwrites)\n", what, gomap_cache_len(c), s.cost, BOUND_KEYS, overwrites);
    CHECK_CACHE_VALID(c);
    cache_removals_init(&rec, NULL, NULL);
    gomap_cache_free(c);
    free(t);
}

static void test_size_bound(void)
{
    uint64_t seed = test_seed();
    for (int track = 1; track >= 0; track--) {
        bound_case(100, 1, 1, track, seed);
        bound_case(1000, 1, 200, track, seed + 1);
        bound_case(1000, 4, 1, track, seed + 2);
        bound_case(1000, 4, 250, track, seed + 3);
        bound_case(4096, 16, 40, track, seed + 4);
    }
}

/* ------------------------------------------------------------------------ */
/* No dropped write                                                          */
/* ------------------------------------------------------------------------ */

static void test_no_dropped_write(void)
{
    static const unsigned shard_counts[] = {1, 4};
    for (int si = 0; si < 2; si++) {
        const uint64_t cap = 64 * shard_counts[si], hot = cap;
        cache_removals rec;
        cache_removals_init(&rec, NULL, NULL);
        gomap_cache_t *c = u64_cache(NULL, &rec, cap, shard_counts[si]);
        uint64_t out;
        for (uint64_t k = 0; k < hot; k++)
            CHECK_EQ(gomap_cache_set(c, &k, &k, 0), 0);
        for (int r = 0; r < 50; r++)
            for (uint64_t k = 0; k < hot; k++)
                (void)gomap_cache_get(c, &k, &out);
        size_t cold = 3000 / WORK_DIV;
        for (uint64_t i = 0; i < cold; i++) {
            uint64_t k = 1000000 + i, v = k * 7;
            CHECK_EQ(gomap_cache_set(c, &k, &v, 0), 0);
            out = 0;
            CHECK_MSG(gomap_cache_get(c, &k, &out) && out == v, "%u shards, a full cache of hot "
                      "keys: new key %" PRIu64 " not readable right after its set (dropped)",
                      shard_counts[si], k);
            CHECK(gomap_cache_len(c) <= cap);
            /* keep the working set hot */
            for (int j = 0; j < 8; j++) {
                uint64_t h = (i * 8 + (uint64_t)j) % hot;
                (void)gomap_cache_get(c, &h, &out);
            }
        }
        gomap_cache_stats_t s = cachecheck_stats(c);
        CHECK(s.cost <= cap);
        CHECK_EQ(cache_removed(&rec, GOMAP_CACHE_EVICTED) + s.entries, hot + cold);
        size_t hot_left = 0;
        for (uint64_t k = 0; k < hot; k++)
            hot_left += gomap_cache_get(c, &k, NULL);
        printf("   %u shard%s, %" PRIu64 " hot keys: %zu new keys each readable after its set; "
               "%zu hot keys still held\n", shard_counts[si], shard_counts[si] == 1 ? "" : "s",
               hot, cold, hot_left);
        CHECK_CACHE_VALID(c);
        gomap_cache_free(c);
    }
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_seed();
    RUN(test_new_bad_input);
    RUN(test_null_args);
    RUN(test_key_kinds);
    RUN(test_cost_input);
    RUN(test_causes);
    RUN(test_reentry);
    RUN(test_get_or_load);
    RUN(test_stats);
    RUN(test_diag);
    RUN(test_size_bound);
    RUN(test_no_dropped_write);
    RUN(test_shares_below_one);
    RUN(test_rejected);
    printf("ok\n");
    return 0;
}
