/*
 * test_cache_oom.c — allocation failure in the cache (gomap/cache.h,
 * "Errors": "-ENOMEM when memory runs out (the cache exactly as it was: no
 * entry added, replaced or lost)"), with the failing allocator of
 * fail_alloc.h passed as gomap_cache_options.map.alloc.
 *
 *   test_new_fails   gomap_cache_new (1 and 16 shards, bounded and not, with
 *                    a hint, string keys) with its N-th allocation refused
 *                    for N = 1, 2, ... until it needs fewer: each -ENOMEM
 *                    refused a real allocation, left *out NULL and holds no
 *                    block; a cache that was created works.
 *   test_each_op     workloads that insert into an empty cache, grow it
 *                    through several doublings, overwrite, and insert into a
 *                    full bounded cache (each insert evicts): every set,
 *                    set_cost and get_or_load store is made with its N-th
 *                    allocation refused, N = 1, 2, ... until it succeeds
 *                    without a refusal. Each -ENOMEM must have refused
 *                    exactly one allocation and leave the cache exactly as
 *                    before: the same len, every key's value and TTL, no
 *                    on_remove call (nothing evicted, replaced or reclaimed),
 *                    validate passing, a refused set counted in
 *                    stats.rejected, get_or_load's val_out zero-filled. A call
 *                    that succeeds leaves its key readable with its value and
 *                    TTL. u64 and string keys (copied), 1 and more shards,
 *                    unbounded and bounded; half-way through, entries
 *                    expire unreclaimed, and a failed write must not
 *                    reclaim them either.
 *   test_never_fail  every allocation refused: get, ttl, delete, len, stats,
 *                    validate, clear and run_maintenance (reclaiming
 *                    expired entries) still work, and get_or_load on a hit.
 *   test_diag_fails  the heatmaps (text, SVG) and the dump with each of
 *                    their allocations refused in turn: -ENOMEM with nothing
 *                    written and no block kept, or a complete success.
 * After every gomap_cache_free the allocator holds no block and no byte.
 * fail_alloc is not thread-safe: no maintenance thread, one thread.
 */
#include "cachecheck.h"
#include "check.h"
#include "fail_alloc.h"
#include "testclock.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define SEC ((uint64_t)1000000000)
#define START (100 * SEC)

enum { MAX_KEYS = 600 };

typedef struct {
    const char *name;
    gomap_key_kind kind;
    unsigned shards;
    uint64_t max_cost;
    size_t hint;
    uint64_t nkeys;
} cfg;

typedef struct {
    const cfg *c;
    fail_alloc fa;
    testclock clk;
    cache_removals rec;
    gomap_cache_t *cache;
    uint64_t used;         /* keys 0 .. used-1 may be in the cache */
    /* key buffers */
    uint64_t u;
    gomap_str s;
    char text[48];
    char label[128];
} fixture;

typedef struct {
    size_t len;
    bool present[MAX_KEYS];
    uint64_t val[MAX_KEYS];
    int64_t ttl[MAX_KEYS];
} state;

static const void *key_of(fixture *f, uint64_t i)
{
    if (f->c->kind == GOMAP_KEY_STR) {
        int n = snprintf(f->text, sizeof f->text, "oom-key-%" PRIu64 "-%.*s", i, (int)(i % 23),
                         "abcdefghijklmnopqrstuvw");
        f->s = (gomap_str){f->text, (size_t)n};
        return &f->s;
    }
    f->u = i * 0x9E3779B97F4A7C15ull;
    return &f->u;
}

static gomap_cache_options fixture_opts(fixture *f, const cfg *c)
{
    gomap_cache_options o = cachecheck_options(c->kind, 8, &f->clk, &f->rec);
    o.map.alloc = &f->fa.iface;
    o.map.hint = c->hint;
    o.shards = c->shards;
    o.max_cost = c->max_cost;
    return o;
}

static void fixture_init(fixture *f, const cfg *c)
{
    memset(f, 0, sizeof *f);
    f->c = c;
    fail_alloc_init(&f->fa);
    testclock_init(&f->clk, START);
    cache_removals_init(&f->rec, NULL, NULL);
    gomap_cache_options o = fixture_opts(f, c);
    f->cache = cachecheck_new(&o);
    snprintf(f->label, sizeof f->label, "%s", c->name);
}

static void expect_no_blocks(const fail_alloc *fa, const char *label)
{
    CHECK_MSG(fa->live_blocks == 0 && fa->live_bytes == 0, "%s: %zu blocks, %zu bytes leaked",
              label, fa->live_blocks, fa->live_bytes);
}

static void fixture_done(fixture *f)
{
    CHECK_CACHE_VALID(f->cache);
    gomap_cache_free(f->cache);
    expect_no_blocks(&f->fa, f->label);
}

/* Every key's value and TTL. ttl first: it is not an access. */
static void capture(fixture *f, state *s)
{
    s->len = gomap_cache_len(f->cache);
    for (uint64_t i = 0; i < f->used; i++) {
        s->ttl[i] = gomap_cache_ttl(f->cache, key_of(f, i));
        s->val[i] = 0;
        s->present[i] = gomap_cache_get(f->cache, key_of(f, i), &s->val[i]);
    }
}

static void expect_same(fixture *f, const state *before, const char *ctx)
{
    state *now = malloc(sizeof *now);
    CHECK(now != NULL);
    capture(f, now);
    CHECK_MSG(now->len == before->len, "%s: len %zu, was %zu", ctx, now->len, before->len);
    for (uint64_t i = 0; i < f->used; i++)
        CHECK_MSG(now->present[i] == before->present[i] && now->val[i] == before->val[i] &&
                  now->ttl[i] == before->ttl[i], "%s: key #%" PRIu64 " was (%d, %" PRIu64 ", ttl %"
                  PRId64 "), now (%d, %" PRIu64 ", ttl %" PRId64 ")", ctx, i, before->present[i],
                  before->val[i], before->ttl[i], now->present[i], now->val[i], now->ttl[i]);
    char why[256] = "";
    int rc = gomap_cache_validate(f->cache, why, sizeof why);
    CHECK_MSG(rc == 0, "%.250s: validate: %.200s", ctx, why);
    free(now);
}

/* ------------------------------------------------------------------------ */
/* Creation                                                                  */
/* ------------------------------------------------------------------------ */

static void new_until_done(const cfg *c)
{
    size_t enomem = 0;
    for (size_t n = 1;; n++) {
        CHECK(n < 100000);
        fixture f;
        memset(&f, 0, sizeof f);
        f.c = c;
        fail_alloc_init(&f.fa);
        testclock_init(&f.clk, START);
        cache_removals_init(&f.rec, NULL, NULL);
        gomap_cache_options o = fixture_opts(&f, c);
        gomap_cache_t *cache = (gomap_cache_t *)&f; /* must become NULL on failure */
        fail_alloc_fail_nth(&f.fa, n);
        int rc = gomap_cache_new(&cache, &o);
        fail_alloc_fail_nth(&f.fa, 0);
        snprintf(f.label, sizeof f.label, "gomap_cache_new(%s), allocation #%zu refused",
                 c->name, n);
        if (rc == -ENOMEM) {
            enomem++;
            CHECK_MSG(cache == NULL && f.fa.failures == 1, "%s: cache %p, %zu refusals", f.label,
                      (void *)cache, f.fa.failures);
            expect_no_blocks(&f.fa, f.label);
            continue;
        }
        CHECK_MSG(rc == 0 && cache != NULL, "%s: rc %d", f.label, rc);
        f.cache = cache;
        f.used = 50;
        for (uint64_t i = 0; i < 50; i++)
            CHECK_EQ(gomap_cache_set(cache, key_of(&f, i), &i, 0), 0);
        CHECK(gomap_cache_len(cache) == 50 || c->max_cost);
        CHECK(gomap_cache_get(cache, key_of(&f, 49), NULL));
        fixture_done(&f);
        if (f.fa.failures == 0) {
            printf("   %s: %zu allocations, each refused once: %zu -ENOMEM\n", c->name, n - 1,
                   enomem);
            CHECK(enomem >= 1);
            return;
        }
    }
}

static const cfg new_cfgs[] = {
    {"u64 keys, 1 shard", GOMAP_KEY_U64, 1, 0, 0, 0},
    {"u64 keys, 16 shards", GOMAP_KEY_U64, 16, 0, 0, 0},
    {"u64 keys, 16 shards, hint 1000", GOMAP_KEY_U64, 16, 0, 1000, 0},
    {"u64 keys, max_cost 1000, 4 shards", GOMAP_KEY_U64, 4, 1000, 0, 0},
    {"string keys, 2 shards, max_cost 40", GOMAP_KEY_STR, 2, 40, 0, 0},
};

static void test_new_fails(void)
{
    for (size_t i = 0; i < sizeof new_cfgs / sizeof new_cfgs[0]; i++)
        new_until_done(&new_cfgs[i]);
}

/* ------------------------------------------------------------------------ */
/* Each write, each allocation                                               */
/* ------------------------------------------------------------------------ */

enum wop { W_SET, W_SET_COST, W_LOAD };
static const char *const wop_names[] = {"set", "set_cost", "get_or_load"};

typedef struct {
    uint64_t val, ttl;
    int calls;
} load_plan;

static int plan_loader(const void *key, void *val_out, uint64_t *ttl_ns, void *ctx)
{
    (void)key;
    load_plan *p = ctx;
    memcpy(val_out, &p->val, 8);
    *ttl_ns = p->ttl;
    p->calls++;
    return 0;
}

static uint64_t ttl_for(uint64_t i)
{
    switch (i % 4) {
    case 0: return 0;
    case 1: return GOMAP_CACHE_NO_EXPIRY;
    case 2: return 5 * SEC + i;
    default: return 3600 * SEC + i;
    }
}

/* Runs op on key i with its n-th allocation refused for n = 1, 2, ...
 * until it succeeds without a refusal. Returns the number of -ENOMEM. */
static size_t each_allocation(fixture *f, enum wop op, uint64_t i, uint64_t val)
{
    state *before = malloc(sizeof *before);
    CHECK(before != NULL);
    if (i >= f->used)
        f->used = i + 1;
    CHECK(f->used <= MAX_KEYS);
    capture(f, before);
    uint64_t ttl = ttl_for(i * 7 + val % 1000), cost = 1 + val % 3;
    if (cost > gomap_cache_max_entry_cost(f->cache))
        cost = 1;
    size_t enomem = 0;
    for (size_t n = 1;; n++) {
        char ctx[300];
        snprintf(ctx, sizeof ctx, "%s: %s of key #%" PRIu64 " (%s) with allocation #%zu refused",
                 f->label, wop_names[op], i, before->present[i] ? "present" : "new", n);
        CHECK_MSG(n < 1000, "%s: never completes", ctx);
        size_t refused0 = f->fa.failures;
        uint64_t removed0 = cache_removed_total(&f->rec);
        uint64_t rejected0 = cachecheck_stats(f->cache).rejected;
        load_plan plan = {val, ttl, 0};
        uint64_t out = 0x3C3C3C3C3C3C3C3Cull;
        int rc;
        fail_alloc_fail_nth(&f->fa, n);
        switch (op) {
        case W_SET: rc = gomap_cache_set(f->cache, key_of(f, i), &val, ttl); break;
        case W_SET_COST:
            rc = gomap_cache_set_cost(f->cache, key_of(f, i), &val, ttl, cost);
            break;
        default: rc = gomap_cache_get_or_load(f->cache, key_of(f, i), &out, plan_loader, &plan);
        }
        fail_alloc_fail_nth(&f->fa, 0);
        size_t refused = f->fa.failures - refused0;
        if (rc == -ENOMEM) {
            enomem++;
            CHECK_MSG(refused == 1, "%s: -ENOMEM with %zu allocations refused", ctx, refused);
            CHECK_MSG(cache_removed_total(&f->rec) == removed0, "%s: -ENOMEM, but %" PRIu64
                      " entries removed (on_remove called)", ctx,
                      cache_removed_total(&f->rec) - removed0);
            if (op == W_LOAD)
                CHECK_MSG(out == 0, "%s: val_out not zero-filled", ctx);
            else
                CHECK_MSG(cachecheck_stats(f->cache).rejected == rejected0 + 1, "%s: not counted "
                          "in stats.rejected", ctx);
            expect_same(f, before, ctx);
            continue;
        }
        CHECK_MSG(rc == 0, "%s: returned %d", ctx, rc);
        if (op == W_LOAD) {
            CHECK_MSG(plan.calls == 1 && out == val, "%s: loader called %d times, value %" PRIu64,
                      ctx, plan.calls, out);
        }
        uint64_t got = 0;
        int64_t left = gomap_cache_ttl(f->cache, key_of(f, i));
        int64_t want = ttl == 0 || ttl == GOMAP_CACHE_NO_EXPIRY ? GOMAP_CACHE_TTL_FOREVER
                                                                : (int64_t)ttl;
        CHECK_MSG(left == want, "%s: ttl %" PRId64 " after the store, expected %" PRId64, ctx,
                  left, want);
        CHECK_MSG(gomap_cache_get(f->cache, key_of(f, i), &got) && got == val, "%s: stored "
                  "value not readable", ctx);
        if (refused > 0) {
            /* Succeeded although an allocation was refused (a growth
             * put off, say): still valid. */
            CHECK_CACHE_VALID(f->cache);
        }
        free(before);
        return enomem;
    }
}

static void run_workload(const cfg *c)
{
    fixture f;
    fixture_init(&f, c);
    size_t enomem[3] = {0}, calls = 0;
    for (uint64_t i = 0; i < c->nkeys; i++) {
        /* Half-way, the 5 s entries expire (no maintenance): a write that
         * fails must not reclaim them either ("exactly as it was"). */
        if (i == c->nkeys / 2)
            testclock_advance(&f.clk, 6 * SEC);
        enum wop op = (enum wop)(i % 3);
        enomem[op] += each_allocation(&f, op, i, i * 1000);
        calls++;
        if (i % 5 == 4) { /* overwrites (of a key maybe evicted) */
            enomem[W_SET] += each_allocation(&f, W_SET, i / 2, i * 1000 + 1);
            enomem[W_SET_COST] += each_allocation(&f, W_SET_COST, i / 3, i * 1000 + 2);
            calls += 2;
        }
    }
    gomap_cache_stats_t s = cachecheck_stats(f.cache);
    CHECK(!c->max_cost || s.cost <= c->max_cost);
    if (c->max_cost)
        CHECK_MSG(cache_removed(&f.rec, GOMAP_CACHE_EVICTED) > 0, "%s: nothing evicted", c->name);
    printf("   %s: %zu calls, %zu entries; -ENOMEM from set %zu, set_cost %zu, get_or_load "
           "%zu; %zu allocations refused\n", c->name, calls, gomap_cache_len(f.cache),
           enomem[W_SET], enomem[W_SET_COST], enomem[W_LOAD], f.fa.failures);
    /* Inserting and growing allocate: each kind of write failed somewhere. */
    CHECK(enomem[W_SET] > 0 && enomem[W_SET_COST] > 0 && enomem[W_LOAD] > 0);
    fixture_done(&f);
}

static const cfg work_cfgs[] = {
    {"u64 keys, 1 shard, unbounded", GOMAP_KEY_U64, 1, 0, 0, 500 / WORK_DIV},
    {"u64 keys, 8 shards, unbounded", GOMAP_KEY_U64, 8, 0, 0, 500 / WORK_DIV},
    {"string keys, 1 shard, unbounded", GOMAP_KEY_STR, 1, 0, 0, 250 / WORK_DIV},
    {"u64 keys, 1 shard, max_cost 32 (full: inserts evict)", GOMAP_KEY_U64, 1, 32, 0,
     300 / WORK_DIV},
    {"string keys, 4 shards, max_cost 64 (full: inserts evict)", GOMAP_KEY_STR, 4, 64, 0,
     300 / WORK_DIV},
};

static void test_each_op(void)
{
    for (size_t i = 0; i < sizeof work_cfgs / sizeof work_cfgs[0]; i++)
        run_workload(&work_cfgs[i]);
}

/* ------------------------------------------------------------------------ */
/* Calls that need no memory                                                 */
/* ------------------------------------------------------------------------ */

static void test_never_fail(void)
{
    static const cfg c = {"u64 keys, 4 shards", GOMAP_KEY_U64, 4, 0, 0, 0};
    fixture f;
    fixture_init(&f, &c);
    const uint64_t n = 40;
    for (uint64_t i = 0; i < n; i++)
        CHECK_EQ(gomap_cache_set(f.cache, key_of(&f, i), &i, i % 2 ? SEC : 0), 0);
    f.used = n;
    f.fa.fail_all = 1;
    size_t refused0 = f.fa.failures;
    uint64_t out;
    for (uint64_t i = 0; i < n; i++) {
        CHECK(gomap_cache_get(f.cache, key_of(&f, i), &out) && out == i);
        CHECK(gomap_cache_ttl(f.cache, key_of(&f, i)) > 0);
    }
    load_plan plan = {0, 0, 0};
    CHECK_EQ(gomap_cache_get_or_load(f.cache, key_of(&f, 3), &out, plan_loader, &plan), 1);
    CHECK_EQ(out, 3);
    CHECK_EQ(plan.calls, 0);
    CHECK(!gomap_cache_get(f.cache, key_of(&f, n + 1), &out));
    CHECK_EQ(gomap_cache_len(f.cache), n);
    (void)cachecheck_stats(f.cache);
    CHECK_CACHE_VALID(f.cache);
    for (uint64_t i = 0; i < n; i += 4)
        CHECK(gomap_cache_delete(f.cache, key_of(&f, i)));
    CHECK(!gomap_cache_delete(f.cache, key_of(&f, 0)));
    CHECK_EQ(gomap_cache_len(f.cache), n - n / 4);
    CHECK_EQ(cache_removed(&f.rec, GOMAP_CACHE_DELETED), n / 4);
    /* The odd keys expire; maintenance reclaims them without memory. */
    testclock_advance(&f.clk, SEC + cache_reclaim_slack(SEC));
    gomap_cache_run_maintenance(f.cache);
    CHECK_EQ(cache_removed(&f.rec, GOMAP_CACHE_EXPIRED), n / 2);
    CHECK_EQ(gomap_cache_len(f.cache), n / 4);
    CHECK_CACHE_VALID(f.cache);
    gomap_cache_clear(f.cache);
    CHECK_EQ(gomap_cache_len(f.cache), 0);
    CHECK_EQ(cache_removed(&f.rec, GOMAP_CACHE_DELETED), n / 2);
    printf("   %zu allocations refused, every call answered\n", f.fa.failures - refused0);
    f.fa.fail_all = 0;
    /* Works afterwards. */
    for (uint64_t i = 0; i < n; i++)
        CHECK_EQ(gomap_cache_set(f.cache, key_of(&f, i), &i, 0), 0);
    CHECK_EQ(gomap_cache_len(f.cache), n);
    fixture_done(&f);
}

/* ------------------------------------------------------------------------ */
/* Diagnostics                                                               */
/* ------------------------------------------------------------------------ */

static void test_diag_fails(void)
{
    static const cfg c = {"u64 keys, 4 shards, max_cost 100", GOMAP_KEY_U64, 4, 100, 0, 0};
    fixture f;
    fixture_init(&f, &c);
    for (uint64_t i = 0; i < 60; i++)
        CHECK_EQ(gomap_cache_set(f.cache, key_of(&f, i), &i, ttl_for(i)), 0);
    static const char *const names[] = {"text heatmap", "SVG heatmap", "dump"};
    for (int what = 0; what < 3; what++) {
        size_t enomem = 0;
        for (size_t n = 1;; n++) {
            CHECK(n < 1000);
            FILE *out = tmpfile();
            CHECK(out != NULL);
            size_t refused0 = f.fa.failures, blocks0 = f.fa.live_blocks;
            fail_alloc_fail_nth(&f.fa, n);
            int rc = what < 2 ? gomap_cache_heatmap(f.cache, out, what == 0 ? GOMAP_HEATMAP_TEXT
                                                                           : GOMAP_HEATMAP_SVG)
                              : gomap_cache_dump(f.cache, out);
            fail_alloc_fail_nth(&f.fa, 0);
            fflush(out);
            long len = ftell(out);
            fclose(out);
            CHECK_MSG(f.fa.live_blocks == blocks0, "%s, allocation #%zu refused: %zd blocks kept",
                      names[what], n, (ssize_t)(f.fa.live_blocks - blocks0));
            if (rc == -ENOMEM) {
                enomem++;
                CHECK_MSG(len == 0, "%s: -ENOMEM after writing %ld bytes (\"nothing written\")",
                          names[what], len);
                continue;
            }
            CHECK_MSG(rc == 0 && len > 0, "%s, allocation #%zu refused: %d, %ld bytes",
                      names[what], n, rc, len);
            if (f.fa.failures == refused0)
                break;
        }
        printf("   %s: %zu -ENOMEM, each with nothing written\n", names[what], enomem);
    }
    fixture_done(&f);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_seed();
    RUN(test_new_fails);
    RUN(test_each_op);
    RUN(test_never_fail);
    RUN(test_diag_fails);
    printf("ok\n");
    return 0;
}
