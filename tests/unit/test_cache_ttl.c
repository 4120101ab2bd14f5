/*
 * test_cache_ttl.c — time to live in the cache (gomap/cache.h, "Expiry"),
 * on an injected clock (tests/support/testclock.h) that moves only when the
 * test moves it.
 *
 *   test_deadline_exact   an entry set with TTL t at clock s is live at
 *                         s + t - 1 (get, ttl == 1) and expired at s + t and
 *                         after (get misses with a zero-filled value, ttl
 *                         -ENOENT, get_or_load loads again), while len still
 *                         counts it until it is reclaimed; for t = 1 ns, one
 *                         tick, 100 ms and odd values.
 *   test_default_ttl      ttl_ns 0 takes the cache's default TTL (or never
 *                         expires without one), a per-entry TTL overrides it,
 *                         GOMAP_CACHE_NO_EXPIRY never expires whatever the
 *                         default; get_or_load's loader sees *ttl_ns preset
 *                         to 0 and the TTL it sets is honoured.
 *   test_huge_ttl         a TTL of 2^62 ns is live, reports its exact ttl,
 *                         survives maintenance half-way and at deadline - 1,
 *                         and is reclaimed after its deadline.
 *   test_overflow         a TTL whose deadline does not fit 64 bits (per
 *                         entry, through set_cost, by default, or set by a
 *                         loader) is -EINVAL with nothing changed: the old
 *                         entry keeps its value and TTL, no on_remove, no
 *                         set counted; the largest
 *                         deadline that fits is accepted.
 *   test_clock_wrap       a clock that starts 2^30 ns before 2^64: TTLs that
 *                         would pass 2^64 are -EINVAL, shorter ones and
 *                         NO_EXPIRY work, expire and are reclaimed.
 *   test_cascades         one entry per wheel level and beyond (5 ms, 500 ms,
 *                         30 s, 1 h, 2 days, 100 days, 400 days), the clock
 *                         walked to its deadline through the points where it
 *                         moves down the wheel, with run_maintenance at each:
 *                         never reclaimed before its deadline (held, live,
 *                         exact ttl, no on_remove); reclaimed once, with
 *                         GOMAP_CACHE_EXPIRED, by the run_maintenance at
 *                         deadline + one tick + its level's granularity;
 *                         stats.removed[EXPIRED] and the drift statistic
 *                         agree.
 *   test_random_deadlines 4 shards, entries with log-uniform TTLs from 1 ms
 *                         to 400 days set and reset while the clock moves in
 *                         log-uniform steps with run_maintenance after each:
 *                         for every entry at every step, held and live before
 *                         its deadline, gone once its reclaim bound passed,
 *                         reclaimed exactly once and never early; len is the
 *                         number held.
 *   test_reschedule       a set over a live entry moves its deadline, later
 *                         (1 s -> 1 h) and sooner (1 h -> 100 ms), to and from
 *                         NO_EXPIRY: the entry is neither reclaimed at the old
 *                         deadline nor kept past the new one; one REPLACED and
 *                         one EXPIRED removal each.
 *   test_mass_expiry      200,000 entries due at one instant: one
 *                         run_maintenance reclaims every one (in slices),
 *                         with 1 and 16 shards.
 *   test_write_budget     20,000 expired entries and writes only: the write
 *                         budget doubles while the wheel is behind (raises
 *                         and lag in stats), no write reclaims over 128,
 *                         the backlog is gone within 200 writes, and the
 *                         budget halves back to 8 when writes find little.
 *   test_expired_removal  an expired, unreclaimed entry removed by delete
 *                         (returns false), by a set over it, by clear and by
 *                         free is reported GOMAP_CACHE_EXPIRED, live ones
 *                         REPLACED or DELETED.
 *   test_maintenance_thread with maintenance_thread set (and the real clock),
 *                         entries with a 5 ms TTL are reclaimed with no call
 *                         made (polled with a hang guard only), the others
 *                         kept; free stops the thread and reports the rest.
 * Seed: test_seed() (test_random_deadlines; GOMAP_TEST_SEED reproduces it).
 */
#define _POSIX_C_SOURCE 200809L

#include "cachecheck.h"
#include "check.h"
#include "testclock.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MS ((uint64_t)1000000)
#define SEC ((uint64_t)1000000000)
#define HOUR (3600 * SEC)
#define DAY (24 * HOUR)

/* Not a multiple of a tick: deadlines fall inside ticks. */
#define START (1000 * SEC + 123457)

/* ------------------------------------------------------------------------ */
/* Fixture: a u64 -> u64 cache on a test clock, removals logged              */
/* ------------------------------------------------------------------------ */

enum { LOG_MAX = 64 };

typedef struct {
    uint64_t key, val, at;
    gomap_cache_cause cause;
} removal;

typedef struct {
    testclock clk;
    cache_removals rec;
    gomap_cache_t *c;
    removal log[LOG_MAX];
    size_t nlog;
} fixture;

static void log_hook(const void *key, const void *val, gomap_cache_cause cause, void *ctx)
{
    fixture *f = ctx;
    CHECK(val != NULL);
    if (f->nlog < LOG_MAX) {
        removal *r = &f->log[f->nlog];
        memcpy(&r->key, key, 8);
        memcpy(&r->val, val, 8);
        r->cause = cause;
        r->at = testclock_now(&f->clk);
    }
    f->nlog++;
}

static void fixture_init(fixture *f, uint64_t start, uint64_t default_ttl, unsigned shards)
{
    memset(f, 0, sizeof *f);
    testclock_init(&f->clk, start);
    cache_removals_init(&f->rec, log_hook, f);
    gomap_cache_options o = cachecheck_options(GOMAP_KEY_U64, 8, &f->clk, &f->rec);
    o.ttl_ns = default_ttl;
    o.shards = shards;
    f->c = cachecheck_new(&o);
}

static void fixture_done(fixture *f)
{
    CHECK_CACHE_VALID(f->c);
    gomap_cache_free(f->c);
}

static int set(fixture *f, uint64_t k, uint64_t v, uint64_t ttl)
{
    return gomap_cache_set(f->c, &k, &v, ttl);
}

/* get must say `live`, with value v if live and zeros if not. */
static void expect_get(fixture *f, uint64_t k, bool live, uint64_t v, const char *ctx)
{
    uint64_t out = 0xA5A5A5A5A5A5A5A5ull;
    bool got = gomap_cache_get(f->c, &k, &out);
    CHECK_MSG(got == live, "%s: get(%" PRIu64 ") at clock %" PRIu64 " returned %d", ctx, k,
              testclock_now(&f->clk), got);
    CHECK_MSG(out == (live ? v : 0), "%s: get(%" PRIu64 ") gave %" PRIu64 ", expected %" PRIu64,
              ctx, k, out, live ? v : 0);
}

static int64_t ttl_of(fixture *f, uint64_t k)
{
    return gomap_cache_ttl(f->c, &k);
}

static void expect_ttl(fixture *f, uint64_t k, int64_t want, const char *ctx)
{
    int64_t got = ttl_of(f, k);
    CHECK_MSG(got == want, "%s: ttl(%" PRIu64 ") at clock %" PRIu64 " = %" PRId64
              ", expected %" PRId64, ctx, k, testclock_now(&f->clk), got, want);
}

/* ------------------------------------------------------------------------ */
/* Exactly at the deadline                                                   */
/* ------------------------------------------------------------------------ */

static int loads;

static int load_42(const void *key, void *val_out, uint64_t *ttl_ns, void *ctx)
{
    (void)key;
    (void)ctx;
    CHECK(*ttl_ns == 0);
    uint64_t v = 42;
    memcpy(val_out, &v, 8);
    loads++;
    return 0;
}

static void deadline_case(uint64_t ttl)
{
    char ctx[96];
    snprintf(ctx, sizeof ctx, "TTL %" PRIu64 " ns", ttl);
    fixture f;
    fixture_init(&f, START, 0, 1);
    CHECK_EQ(set(&f, 7, 700, ttl), 0);
    expect_get(&f, 7, true, 700, ctx);
    expect_ttl(&f, 7, (int64_t)ttl, ctx);
    testclock_set(&f.clk, START + ttl - 1);
    expect_get(&f, 7, true, 700, ctx);
    expect_ttl(&f, 7, 1, ctx);
    testclock_set(&f.clk, START + ttl);
    expect_get(&f, 7, false, 0, ctx);
    expect_ttl(&f, 7, -ENOENT, ctx);
    /* Expired, not reclaimed (no write, no maintenance): still counted. */
    CHECK_MSG(gomap_cache_len(f.c) == 1, "%s: len %zu", ctx, gomap_cache_len(f.c));
    CHECK_EQ(f.nlog, 0);
    testclock_set(&f.clk, START + ttl + 1);
    expect_get(&f, 7, false, 0, ctx);
    expect_ttl(&f, 7, -ENOENT, ctx);
    /* get_or_load does not return it either: it loads. */
    loads = 0;
    uint64_t out = 1;
    CHECK_EQ(gomap_cache_get_or_load(f.c, &(uint64_t){7}, &out, load_42, NULL), 0);
    CHECK_EQ(loads, 1);
    CHECK_EQ(out, 42);
    CHECK_MSG(cache_removed(&f.rec, GOMAP_CACHE_EXPIRED) == 1 &&
              cache_removed(&f.rec, GOMAP_CACHE_REPLACED) == 0,
              "%s: the expired entry a load replaced left as %" PRIu64 " EXPIRED, %" PRIu64
              " REPLACED", ctx, cache_removed(&f.rec, GOMAP_CACHE_EXPIRED),
              cache_removed(&f.rec, GOMAP_CACHE_REPLACED));
    CHECK_EQ(f.log[0].key, 7);
    CHECK_EQ(f.log[0].val, 700);
    expect_get(&f, 7, true, 42, ctx);
    expect_ttl(&f, 7, GOMAP_CACHE_TTL_FOREVER, ctx);
    CHECK_EQ(gomap_cache_len(f.c), 1);
    fixture_done(&f);
}

static void test_deadline_exact(void)
{
    static const uint64_t ttls[] = {1, 2, 1000, CACHE_TICK_NS - 1, CACHE_TICK_NS,
                                    CACHE_TICK_NS + 1, 100 * MS, 999999937, 3 * SEC + 7};
    for (size_t i = 0; i < sizeof ttls / sizeof ttls[0]; i++)
        deadline_case(ttls[i]);
}

/* ------------------------------------------------------------------------ */
/* Default and per-entry TTLs                                                */
/* ------------------------------------------------------------------------ */

static int load_with_ttl(const void *key, void *val_out, uint64_t *ttl_ns, void *ctx)
{
    CHECK_MSG(*ttl_ns == 0, "loader's *ttl_ns preset to %" PRIu64, *ttl_ns);
    uint64_t k;
    memcpy(&k, key, 8);
    memcpy(val_out, &k, 8);
    *ttl_ns = *(const uint64_t *)ctx;
    loads++;
    return 0;
}

static void test_default_ttl(void)
{
    fixture f;
    fixture_init(&f, START, 2 * SEC, 0);
    CHECK_EQ(set(&f, 1, 10, 0), 0);
    CHECK_EQ(set(&f, 2, 20, 5 * SEC), 0);
    CHECK_EQ(set(&f, 3, 30, GOMAP_CACHE_NO_EXPIRY), 0);
    CHECK_EQ(set(&f, 4, 40, SEC), 0);
    CHECK_EQ(gomap_cache_set_cost(f.c, &(uint64_t){5}, &(uint64_t){50}, 0, 3), 0);
    expect_ttl(&f, 1, 2 * SEC, "default");
    expect_ttl(&f, 2, 5 * SEC, "per entry, longer");
    expect_ttl(&f, 3, GOMAP_CACHE_TTL_FOREVER, "no expiry");
    expect_ttl(&f, 4, SEC, "per entry, shorter");
    expect_ttl(&f, 5, 2 * SEC, "set_cost, default");
    /* get_or_load: the loader leaves 0 (the default), or sets its own. */
    uint64_t t0 = 0, t7 = 7 * SEC, tn = GOMAP_CACHE_NO_EXPIRY, out;
    loads = 0;
    CHECK_EQ(gomap_cache_get_or_load(f.c, &(uint64_t){6}, &out, load_with_ttl, &t0), 0);
    CHECK_EQ(gomap_cache_get_or_load(f.c, &(uint64_t){7}, &out, load_with_ttl, &t7), 0);
    CHECK_EQ(gomap_cache_get_or_load(f.c, &(uint64_t){8}, &out, load_with_ttl, &tn), 0);
    CHECK_EQ(loads, 3);
    expect_ttl(&f, 6, 2 * SEC, "loaded, default");
    expect_ttl(&f, 7, 7 * SEC, "loaded, loader's TTL");
    expect_ttl(&f, 8, GOMAP_CACHE_TTL_FOREVER, "loaded, no expiry");

    testclock_advance(&f.clk, SEC);
    expect_get(&f, 4, false, 0, "1 s TTL after 1 s");
    expect_get(&f, 1, true, 10, "default TTL after 1 s");
    expect_ttl(&f, 1, SEC, "default TTL after 1 s");
    testclock_advance(&f.clk, SEC);
    expect_get(&f, 1, false, 0, "default TTL after 2 s");
    expect_get(&f, 5, false, 0, "set_cost with the default TTL after 2 s");
    expect_get(&f, 6, false, 0, "loaded with the default TTL after 2 s");
    expect_get(&f, 2, true, 20, "5 s TTL after 2 s");
    expect_ttl(&f, 7, 5 * SEC, "loader's TTL after 2 s");
    testclock_advance(&f.clk, 1000 * DAY);
    expect_get(&f, 2, false, 0, "5 s TTL later");
    expect_get(&f, 7, false, 0, "loader's 7 s TTL later");
    expect_get(&f, 3, true, 30, "no expiry, 1000 days later");
    expect_get(&f, 8, true, 8, "loaded with no expiry, 1000 days later");
    gomap_cache_run_maintenance(f.c);
    CHECK_EQ(gomap_cache_len(f.c), 2);
    CHECK_EQ(cache_removed(&f.rec, GOMAP_CACHE_EXPIRED), 6);
    fixture_done(&f);

    /* Without a default, 0 never expires. */
    fixture_init(&f, START, 0, 0);
    CHECK_EQ(set(&f, 1, 10, 0), 0);
    CHECK_EQ(set(&f, 2, 20, SEC), 0);
    CHECK_EQ(gomap_cache_get_or_load(f.c, &(uint64_t){3}, &out, load_with_ttl, &t0), 0);
    expect_ttl(&f, 1, GOMAP_CACHE_TTL_FOREVER, "no default");
    expect_ttl(&f, 3, GOMAP_CACHE_TTL_FOREVER, "loaded, no default");
    expect_ttl(&f, 2, SEC, "no default, per entry");
    testclock_advance(&f.clk, 3650 * DAY);
    gomap_cache_run_maintenance(f.c);
    expect_get(&f, 1, true, 10, "no default, 10 years later");
    expect_get(&f, 3, true, 3, "loaded, no default, 10 years later");
    expect_get(&f, 2, false, 0, "1 s, 10 years later");
    CHECK_EQ(gomap_cache_len(f.c), 2);
    fixture_done(&f);
}

/* ------------------------------------------------------------------------ */
/* Huge TTLs and overflow                                                    */
/* ------------------------------------------------------------------------ */

static void test_huge_ttl(void)
{
    const uint64_t ttl = (uint64_t)1 << 62;
    fixture f;
    fixture_init(&f, START, 0, 1);
    CHECK_EQ(set(&f, 1, 11, ttl), 0);
    CHECK_EQ(set(&f, 2, 22, 5 * MS), 0);
    expect_get(&f, 1, true, 11, "2^62");
    expect_ttl(&f, 1, (int64_t)ttl, "2^62");
    testclock_advance(&f.clk, ttl / 2);
    gomap_cache_run_maintenance(f.c);
    expect_get(&f, 1, true, 11, "2^62, half-way");
    expect_ttl(&f, 1, (int64_t)(ttl / 2), "2^62, half-way");
    CHECK_EQ(f.nlog, 1); /* the 5 ms entry only */
    CHECK_EQ(f.log[0].key, 2);
    testclock_set(&f.clk, START + ttl - 1);
    gomap_cache_run_maintenance(f.c);
    expect_get(&f, 1, true, 11, "2^62, deadline - 1");
    expect_ttl(&f, 1, 1, "2^62, deadline - 1");
    CHECK_EQ(gomap_cache_len(f.c), 1);
    CHECK_EQ(f.nlog, 1);
    testclock_set(&f.clk, START + ttl);
    expect_get(&f, 1, false, 0, "2^62, at the deadline");
    testclock_advance(&f.clk, cache_reclaim_slack(ttl));
    gomap_cache_run_maintenance(f.c);
    CHECK_EQ(gomap_cache_len(f.c), 0);
    CHECK_EQ(f.nlog, 2);
    CHECK(f.log[1].key == 1 && f.log[1].val == 11 && f.log[1].cause == GOMAP_CACHE_EXPIRED);
    CHECK(f.log[1].at >= START + ttl);
    fixture_done(&f);
}

typedef struct {
    uint64_t ttl;
    int calls;
} overflow_loader;

static int load_overflowing(const void *key, void *val_out, uint64_t *ttl_ns, void *ctx)
{
    (void)key;
    overflow_loader *l = ctx;
    memset(val_out, 0x11, 8);
    *ttl_ns = l->ttl;
    l->calls++;
    return 0;
}

/* A refused set changed nothing: key 1 still holds 10 with ttl_left, len
 * is n, nothing removed, no set counted (test_cache_api's test_rejected
 * checks that stats.rejected counts such refusals). */
static void expect_unchanged(fixture *f, int64_t ttl_left, size_t n, uint64_t sets0,
                             const char *ctx)
{
    expect_get(f, 1, true, 10, ctx);
    expect_ttl(f, 1, ttl_left, ctx);
    CHECK_MSG(gomap_cache_len(f->c) == n, "%s: len %zu, expected %zu", ctx,
              gomap_cache_len(f->c), n);
    CHECK_MSG(f->nlog == 0, "%s: %zu entries removed", ctx, f->nlog);
    gomap_cache_stats_t s = cachecheck_stats(f->c);
    CHECK_MSG(s.sets == sets0, "%s: stats.sets %" PRIu64 " -> %" PRIu64, ctx, sets0, s.sets);
    CHECK_CACHE_VALID(f->c);
}

static void overflow_cases(uint64_t start)
{
    char ctx[128];
    fixture f;
    fixture_init(&f, start, 0, 1);
    const uint64_t room = UINT64_MAX - start; /* the longest TTL that fits is room - 1 */
    const uint64_t t1 = room > 20 * SEC ? 10 * SEC : room / 2;
    CHECK_EQ(set(&f, 1, 10, t1), 0);
    const uint64_t bad[] = {room + 1, UINT64_MAX - 1, room + 1000, room + (room >> 1) + 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (bad[i] <= room || bad[i] == GOMAP_CACHE_NO_EXPIRY)
            continue;
        snprintf(ctx, sizeof ctx, "clock %" PRIu64 ", TTL %" PRIu64, start, bad[i]);
        uint64_t rj = cachecheck_stats(f.c).sets;
        CHECK_MSG(set(&f, 1, 99, bad[i]) == -EINVAL, "%s: overwrite not refused", ctx);
        expect_unchanged(&f, (int64_t)t1, 1, rj, ctx);
        rj = cachecheck_stats(f.c).sets;
        CHECK_MSG(set(&f, 2, 99, bad[i]) == -EINVAL, "%s: insert not refused", ctx);
        expect_unchanged(&f, (int64_t)t1, 1, rj, ctx);
        expect_get(&f, 2, false, 0, ctx);
        rj = cachecheck_stats(f.c).sets;
        CHECK_MSG(gomap_cache_set_cost(f.c, &(uint64_t){1}, &(uint64_t){99}, bad[i], 1) ==
                  -EINVAL, "%s: set_cost not refused", ctx);
        expect_unchanged(&f, (int64_t)t1, 1, rj, ctx);
        /* A loader's TTL that overflows: -EINVAL to the caller, not stored,
         * the next miss loads again. */
        overflow_loader l = {bad[i], 0};
        uint64_t out = 5;
        CHECK_MSG(gomap_cache_get_or_load(f.c, &(uint64_t){3}, &out, load_overflowing, &l) ==
                  -EINVAL, "%s: loader's overflowing TTL not refused", ctx);
        CHECK_EQ(l.calls, 1);
        expect_get(&f, 3, false, 0, ctx);
        CHECK_EQ(gomap_cache_len(f.c), 1);
        CHECK_EQ(gomap_cache_get_or_load(f.c, &(uint64_t){3}, &out, load_overflowing, &l),
                 -EINVAL);
        CHECK_EQ(l.calls, 2);
        CHECK_EQ(f.nlog, 0);
    }
    /* The longest TTL whose deadline fits (2^64 - 2) is taken. */
    snprintf(ctx, sizeof ctx, "clock %" PRIu64 ", TTL %" PRIu64 " (deadline 2^64 - 2)", start,
             room - 1);
    CHECK_MSG(set(&f, 4, 40, room - 1) == 0, "%s: refused", ctx);
    expect_get(&f, 4, true, 40, ctx);
    CHECK_MSG(ttl_of(&f, 4) > 0, "%s: ttl %" PRId64, ctx, ttl_of(&f, 4));
    /* NO_EXPIRY never overflows. */
    CHECK_EQ(set(&f, 5, 50, GOMAP_CACHE_NO_EXPIRY), 0);
    expect_ttl(&f, 5, GOMAP_CACHE_TTL_FOREVER, "no expiry near the end of the clock");
    CHECK_EQ(f.nlog, 0);
    fixture_done(&f);

    /* A default TTL that overflows refuses the sets that use it. */
    fixture_init(&f, start, room + 1, 1);
    snprintf(ctx, sizeof ctx, "clock %" PRIu64 ", default TTL %" PRIu64, start, room + 1);
    CHECK_MSG(set(&f, 1, 10, 0) == -EINVAL, "%s: not refused", ctx);
    CHECK_EQ(gomap_cache_len(f.c), 0);
    CHECK_EQ(set(&f, 1, 10, SEC / 2), 0);
    CHECK_EQ(set(&f, 2, 20, GOMAP_CACHE_NO_EXPIRY), 0);
    CHECK_EQ(gomap_cache_len(f.c), 2);
    fixture_done(&f);
}

static void test_overflow(void)
{
    overflow_cases(START);
}

static void test_clock_wrap(void)
{
    const uint64_t start = UINT64_MAX - ((uint64_t)1 << 30);
    overflow_cases(start);

    fixture f;
    fixture_init(&f, start, SEC, 1);
    CHECK_EQ(set(&f, 1, 10, 2 * SEC), -EINVAL);
    CHECK_EQ(set(&f, 1, 10, 100 * MS), 0);
    CHECK_EQ(set(&f, 2, 20, GOMAP_CACHE_NO_EXPIRY), 0);
    CHECK_EQ(set(&f, 3, 30, 0), 0); /* the 1 s default fits */
    expect_ttl(&f, 3, (int64_t)SEC, "default near 2^64");
    testclock_set(&f.clk, start + 100 * MS - 1);
    gomap_cache_run_maintenance(f.c);
    expect_get(&f, 1, true, 10, "near 2^64, deadline - 1");
    CHECK_EQ(f.nlog, 0);
    testclock_set(&f.clk, start + 100 * MS);
    expect_get(&f, 1, false, 0, "near 2^64, at the deadline");
    testclock_advance(&f.clk, cache_reclaim_slack(100 * MS));
    gomap_cache_run_maintenance(f.c);
    CHECK_EQ(f.nlog, 1);
    CHECK(f.log[0].key == 1 && f.log[0].cause == GOMAP_CACHE_EXPIRED);
    testclock_set(&f.clk, start + SEC + cache_reclaim_slack(SEC));
    gomap_cache_run_maintenance(f.c);
    CHECK_EQ(f.nlog, 2);
    CHECK(f.log[1].key == 3 && f.log[1].cause == GOMAP_CACHE_EXPIRED);
    testclock_set(&f.clk, UINT64_MAX - 1);
    gomap_cache_run_maintenance(f.c);
    expect_get(&f, 2, true, 20, "no expiry at 2^64 - 2");
    expect_ttl(&f, 2, GOMAP_CACHE_TTL_FOREVER, "no expiry at 2^64 - 2");
    CHECK_EQ(set(&f, 5, 50, 2), -EINVAL); /* deadline 2^64 */
    CHECK_EQ(gomap_cache_len(f.c), 1);
    CHECK_EQ(f.nlog, 2);
    fixture_done(&f);
}

/* ------------------------------------------------------------------------ */
/* Every wheel level                                                         */
/* ------------------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void cascade_case(uint64_t ttl, const char *name)
{
    char ctx[160];
    fixture f;
    fixture_init(&f, START, 0, 1);
    CHECK_EQ(set(&f, 1, 100, ttl), 0);
    CHECK_EQ(set(&f, 2, 200, GOMAP_CACHE_NO_EXPIRY), 0);
    const uint64_t deadline = START + ttl, slack = cache_reclaim_slack(ttl);

    /* The points the clock visits before the deadline: evenly spread, and
     * one granularity (and one tick) before the deadline at every level,
     * where an entry moves down the wheel. */
    uint64_t pts[64];
    size_t n = 0;
    for (uint64_t k = 1; k < 16; k++)
        pts[n++] = START + ttl / 16 * k;
    for (unsigned l = 0; l < CACHE_WHEEL_LEVELS; l++) {
        uint64_t g = cache_level_gran(l);
        for (uint64_t m = 1; m <= 2; m++)
            if (g * m < ttl) {
                pts[n++] = deadline - g * m;
                pts[n++] = deadline - g * m + 1;
            }
        /* the first boundary of level l's granularity after the start */
        uint64_t b = (START / g + 1) * g;
        if (b < deadline)
            pts[n++] = b;
    }
    pts[n++] = deadline - 1;
    qsort(pts, n, sizeof pts[0], cmp_u64);
    for (size_t i = 0; i < n; i++) {
        if (pts[i] < testclock_now(&f.clk))
            continue;
        testclock_set(&f.clk, pts[i]);
        gomap_cache_run_maintenance(f.c);
        snprintf(ctx, sizeof ctx, "%s (TTL %" PRIu64 " ns), %" PRIu64 " ns before its deadline",
                 name, ttl, deadline - pts[i]);
        CHECK_MSG(f.nlog == 0, "%s: reclaimed early (cause %s)", ctx,
                  cache_cause_names[f.log[0].cause]);
        CHECK_MSG(gomap_cache_len(f.c) == 2, "%s: len %zu", ctx, gomap_cache_len(f.c));
        expect_get(&f, 1, true, 100, ctx);
        expect_ttl(&f, 1, (int64_t)(deadline - pts[i]), ctx);
    }
    CHECK_CACHE_VALID(f.c);

    testclock_set(&f.clk, deadline);
    snprintf(ctx, sizeof ctx, "%s (TTL %" PRIu64 " ns), at its deadline", name, ttl);
    expect_get(&f, 1, false, 0, ctx);
    expect_ttl(&f, 1, -ENOENT, ctx);
    gomap_cache_run_maintenance(f.c); /* may or may not reclaim it yet */
    CHECK_MSG(f.nlog <= 1, "%s: %zu removals", ctx, f.nlog);

    testclock_set(&f.clk, deadline + slack);
    gomap_cache_run_maintenance(f.c);
    snprintf(ctx, sizeof ctx, "%s (TTL %" PRIu64 " ns), deadline + %" PRIu64 " ns", name, ttl,
             slack);
    CHECK_MSG(f.nlog == 1, "%s: %zu removals (not reclaimed)", ctx, f.nlog);
    CHECK_MSG(f.log[0].key == 1 && f.log[0].val == 100 && f.log[0].cause == GOMAP_CACHE_EXPIRED,
              "%s: removed key %" PRIu64 " value %" PRIu64 " cause %s", ctx, f.log[0].key,
              f.log[0].val, cache_cause_names[f.log[0].cause]);
    CHECK_MSG(f.log[0].at >= deadline, "%s: reclaimed at %" PRIu64 ", before its deadline",
              ctx, f.log[0].at);
    CHECK_MSG(gomap_cache_len(f.c) == 1, "%s: len %zu", ctx, gomap_cache_len(f.c));
    gomap_cache_stats_t s = cachecheck_stats(f.c);
    CHECK_EQ(s.removed[GOMAP_CACHE_EXPIRED], 1);
    CHECK_EQ(s.entries, 1);
    CHECK_MSG(s.wheel_drift_max_ns <= slack, "%s: drift %" PRIu64 " ns", ctx,
              s.wheel_drift_max_ns);
    CHECK_MSG(s.wheel_drift_sum_ns == s.wheel_drift_max_ns, "%s: drift sum %" PRIu64
              " for one entry of drift %" PRIu64, ctx, s.wheel_drift_sum_ns,
              s.wheel_drift_max_ns);
    /* Once only; the entry without expiry stays. */
    testclock_advance(&f.clk, 1000 * DAY);
    gomap_cache_run_maintenance(f.c);
    CHECK_EQ(f.nlog, 1);
    expect_get(&f, 2, true, 200, ctx);
    fixture_done(&f);
    printf("   %-9s TTL %20" PRIu64 " ns: level %u, reclaimed %" PRIu64 " ns after its deadline "
           "(bound %" PRIu64 ")\n", name, ttl, cache_level_of(ttl), s.wheel_drift_max_ns, slack);
}

static void test_cascades(void)
{
    cascade_case(5 * MS, "5 ms");
    cascade_case(500 * MS, "500 ms");
    cascade_case(30 * SEC, "30 s");
    cascade_case(HOUR, "1 h");
    cascade_case(2 * DAY, "2 days");
    cascade_case(100 * DAY, "100 days");
    cascade_case(400 * DAY, "400 days");
    CHECK_EQ(cache_level_of(5 * MS), 0);
    CHECK_EQ(cache_level_of(30 * SEC), 1);
    CHECK_EQ(cache_level_of(100 * DAY), 4);
}

/* ------------------------------------------------------------------------ */
/* Many entries, random deadlines                                            */
/* ------------------------------------------------------------------------ */

enum { RD_KEYS = 1500 / WORK_DIV };

typedef struct {
    bool held;
    uint64_t val, deadline, ttl;   /* of the entry held */
} rd_entry;

typedef struct {
    testclock clk;
    cache_removals rec;
    gomap_cache_t *c;
    rd_entry e[RD_KEYS];
    size_t held;
    uint64_t setting;              /* the key being set, or UINT64_MAX */
    uint64_t expired;
} rd_state;

/* Every removal: an expired entry (any call may reclaim it, never before
 * its deadline), or the entry a set replaces. */
static void rd_hook(const void *key, const void *val, gomap_cache_cause cause, void *ctx)
{
    rd_state *s = ctx;
    uint64_t k, v, now = testclock_now(&s->clk);
    memcpy(&k, key, 8);
    memcpy(&v, val, 8);
    CHECK_MSG(k < RD_KEYS && s->e[k].held, "on_remove for key %" PRIu64 " not held", k);
    rd_entry *e = &s->e[k];
    gomap_cache_cause want = now >= e->deadline ? GOMAP_CACHE_EXPIRED : GOMAP_CACHE_REPLACED;
    CHECK_MSG(cause == want && (cause == GOMAP_CACHE_EXPIRED || k == s->setting),
              "key %" PRIu64 " (TTL %" PRIu64 ", deadline in %" PRId64 " ns) removed with "
              "cause %s%s", k, e->ttl, (int64_t)(e->deadline - now), cache_cause_names[cause],
              k == s->setting ? " by its set" : "");
    CHECK_MSG(v == e->val, "key %" PRIu64 ": removed value %" PRIu64 ", held %" PRIu64, k, v,
              e->val);
    e->held = false;
    s->held--;
    s->expired += cause == GOMAP_CACHE_EXPIRED;
}

/* Log-uniform in [lo, hi). */
static uint64_t log_uniform(uint64_t *rng, uint64_t lo, uint64_t hi)
{
    double x = (double)(test_rand(rng) >> 11) / 9007199254740992.0;
    double v = (double)lo * exp(x * log((double)hi / (double)lo));
    uint64_t r = (uint64_t)v;
    return r < lo ? lo : r >= hi ? hi - 1 : r;
}

static void rd_set(rd_state *s, uint64_t k, uint64_t *rng)
{
    rd_entry *e = &s->e[k];
    uint64_t now = testclock_now(&s->clk);
    uint64_t ttl = log_uniform(rng, MS, 400 * DAY);
    uint64_t v = test_rand(rng);
    s->setting = k;
    CHECK_EQ(gomap_cache_set(s->c, &k, &v, ttl), 0);
    s->setting = UINT64_MAX;
    CHECK_MSG(!e->held, "set of key %" PRIu64 ": the entry it replaced was not reported", k);
    s->held++;
    e->held = true;
    e->val = v;
    e->ttl = ttl;
    e->deadline = now + ttl;
}

static void test_random_deadlines(void)
{
    uint64_t rng = test_seed() ^ 0x7711;
    rd_state *s = calloc(1, sizeof *s);
    CHECK(s != NULL);
    testclock_init(&s->clk, START);
    cache_removals_init(&s->rec, rd_hook, s);
    s->setting = UINT64_MAX;
    gomap_cache_options o = cachecheck_options(GOMAP_KEY_U64, 8, &s->clk, &s->rec);
    o.shards = 4;
    s->c = cachecheck_new(&o);
    for (uint64_t k = 0; k < RD_KEYS; k++)
        rd_set(s, k, &rng);
    size_t steps = 0, resets = 0;
    for (;;) {
        steps++;
        CHECK(steps < 100000);
        testclock_advance(&s->clk, log_uniform(&rng, 1000, 30 * DAY));
        uint64_t now = testclock_now(&s->clk);
        gomap_cache_run_maintenance(s->c);
        bool any = false;
        for (uint64_t k = 0; k < RD_KEYS; k++) {
            rd_entry *e = &s->e[k];
            char ctx[200];
            snprintf(ctx, sizeof ctx, "step %zu, key %" PRIu64 ", TTL %" PRIu64 ", deadline in "
                     "%" PRId64 " ns", steps, k, e->ttl, (int64_t)(e->deadline - now));
            if (e->held && now < e->deadline) {
                uint64_t out;
                CHECK_MSG(gomap_cache_get(s->c, &k, &out) && out == e->val, "%s: not live", ctx);
                CHECK_MSG(gomap_cache_ttl(s->c, &k) == (int64_t)(e->deadline - now),
                          "%s: ttl %" PRId64, ctx, gomap_cache_ttl(s->c, &k));
                any = true;
            } else {
                CHECK_MSG(!gomap_cache_get(s->c, &k, NULL), "%s: expired, but get finds it",
                          ctx);
                CHECK_MSG(gomap_cache_ttl(s->c, &k) == -ENOENT, "%s: expired, ttl %" PRId64,
                          ctx, gomap_cache_ttl(s->c, &k));
                if (e->held)
                    CHECK_MSG(now - e->deadline < cache_reclaim_slack(e->ttl), "%s: not "
                              "reclaimed %" PRIu64 " ns after its deadline (bound %" PRIu64 ")",
                              ctx, now - e->deadline, cache_reclaim_slack(e->ttl));
                any |= e->held;
            }
        }
        CHECK_MSG(gomap_cache_len(s->c) == s->held, "step %zu: len %zu, %zu held", steps,
                  gomap_cache_len(s->c), s->held);
        if (steps % 64 == 0)
            CHECK_CACHE_VALID(s->c);
        /* Reset a few keys (live, expired or reclaimed) for the first
         * part of the run. */
        if (steps < 200)
            for (int i = 0; i < 8; i++, resets++)
                rd_set(s, test_rand_below(&rng, RD_KEYS), &rng);
        if (!any && steps >= 200)
            break;
    }
    gomap_cache_stats_t st = cachecheck_stats(s->c);
    CHECK_EQ(st.removed[GOMAP_CACHE_EXPIRED], s->expired);
    CHECK_EQ(st.removed[GOMAP_CACHE_EXPIRED], cache_removed(&s->rec, GOMAP_CACHE_EXPIRED));
    CHECK_EQ(st.removed[GOMAP_CACHE_REPLACED], cache_removed(&s->rec, GOMAP_CACHE_REPLACED));
    CHECK_EQ(st.entries, 0);
    CHECK_EQ(gomap_cache_len(s->c), 0);
    printf("   %d keys, %zu resets, %zu clock steps to %" PRIu64 " days: %" PRIu64
           " reclaimed, never early; max drift %" PRIu64 " ns\n", RD_KEYS, resets,
           steps, (testclock_now(&s->clk) - START) / DAY, s->expired, st.wheel_drift_max_ns);
    CHECK_CACHE_VALID(s->c);
    gomap_cache_free(s->c);
    free(s);
}

/* ------------------------------------------------------------------------ */
/* A set moves the deadline                                                  */
/* ------------------------------------------------------------------------ */

/* Sets key 1 with ttl1, and at +1 s again with ttl2; walks the clock
 * through the first deadline and to the second. */
static void reschedule_case(uint64_t ttl1, uint64_t ttl2)
{
    char ctx[128];
    snprintf(ctx, sizeof ctx, "TTL %" PRIu64 " then %" PRIu64, ttl1, ttl2);
    fixture f;
    fixture_init(&f, START, 0, 1);
    CHECK_EQ(set(&f, 1, 10, ttl1), 0);
    testclock_advance(&f.clk, SEC / 2);
    gomap_cache_run_maintenance(f.c);
    CHECK_EQ(set(&f, 1, 11, ttl2), 0);
    CHECK_MSG(f.nlog == 1 && f.log[0].cause == GOMAP_CACHE_REPLACED && f.log[0].val == 10,
              "%s: the overwrite was not reported as REPLACED with the old value", ctx);
    const uint64_t set2 = START + SEC / 2;
    const bool never2 = ttl2 == GOMAP_CACHE_NO_EXPIRY;
    const uint64_t d2 = never2 ? UINT64_MAX : set2 + ttl2;
    const uint64_t d1 = ttl1 == GOMAP_CACHE_NO_EXPIRY ? UINT64_MAX : START + ttl1;
    /* Past the old deadline's reclaim bound, if it comes before the new one. */
    if (d1 != UINT64_MAX && d1 + cache_reclaim_slack(ttl1) < d2) {
        testclock_set(&f.clk, d1 + cache_reclaim_slack(ttl1));
        gomap_cache_run_maintenance(f.c);
        CHECK_MSG(f.nlog == 1, "%s: reclaimed at the old deadline", ctx);
        expect_get(&f, 1, true, 11, ctx);
        if (!never2)
            expect_ttl(&f, 1, (int64_t)(d2 - testclock_now(&f.clk)), ctx);
    }
    if (never2) {
        testclock_advance(&f.clk, 1000 * DAY);
        gomap_cache_run_maintenance(f.c);
        expect_get(&f, 1, true, 11, ctx);
        expect_ttl(&f, 1, GOMAP_CACHE_TTL_FOREVER, ctx);
        CHECK_EQ(f.nlog, 1);
    } else {
        testclock_set(&f.clk, d2 - 1);
        gomap_cache_run_maintenance(f.c);
        expect_get(&f, 1, true, 11, ctx);
        CHECK_MSG(f.nlog == 1, "%s: reclaimed before the new deadline", ctx);
        testclock_set(&f.clk, d2 + cache_reclaim_slack(ttl2));
        gomap_cache_run_maintenance(f.c);
        CHECK_MSG(f.nlog == 2 && f.log[1].cause == GOMAP_CACHE_EXPIRED && f.log[1].val == 11,
                  "%s: not reclaimed by the new deadline's bound (%zu removals)", ctx, f.nlog);
        CHECK_EQ(gomap_cache_len(f.c), 0);
        /* Nothing more at the old deadline. */
        if (d1 != UINT64_MAX && d1 + cache_reclaim_slack(ttl1) > testclock_now(&f.clk))
            testclock_set(&f.clk, d1 + cache_reclaim_slack(ttl1));
        gomap_cache_run_maintenance(f.c);
        CHECK_EQ(f.nlog, 2);
    }
    gomap_cache_stats_t s = cachecheck_stats(f.c);
    CHECK_EQ(s.removed[GOMAP_CACHE_REPLACED], 1);
    CHECK_EQ(s.removed[GOMAP_CACHE_EXPIRED], never2 ? 0 : 1);
    fixture_done(&f);
}

static void test_reschedule(void)
{
    reschedule_case(SEC, HOUR);
    reschedule_case(HOUR, 100 * MS);
    reschedule_case(SEC, 2 * SEC);
    reschedule_case(2 * SEC, SEC);
    reschedule_case(100 * DAY, 5 * MS);
    reschedule_case(5 * MS + SEC, 100 * DAY);
    reschedule_case(SEC, GOMAP_CACHE_NO_EXPIRY);
    reschedule_case(GOMAP_CACHE_NO_EXPIRY, 30 * SEC);
}

/* ------------------------------------------------------------------------ */
/* Mass expiry                                                               */
/* ------------------------------------------------------------------------ */

static void mass_expiry(unsigned shards)
{
    const uint64_t n = 200000 / WORK_DIV;
    testclock clk;
    cache_removals rec;
    testclock_init(&clk, START);
    cache_removals_init(&rec, NULL, NULL);
    gomap_cache_options o = cachecheck_options(GOMAP_KEY_U64, 8, &clk, &rec);
    o.shards = shards;
    o.ttl_ns = SEC;
    gomap_cache_t *c = cachecheck_new(&o);
    for (uint64_t k = 0; k < n; k++)
        CHECK_EQ(gomap_cache_set(c, &k, &k, 0), 0);
    CHECK_EQ(gomap_cache_set(c, &(uint64_t){n}, &n, GOMAP_CACHE_NO_EXPIRY), 0);
    testclock_set(&clk, START + SEC - 1);
    gomap_cache_run_maintenance(c);
    CHECK_EQ(cache_removed_total(&rec), 0);
    CHECK_EQ(gomap_cache_len(c), n + 1);
    uint64_t runs0 = cachecheck_stats(c).maintenance_runs;
    testclock_set(&clk, START + SEC + cache_reclaim_slack(SEC));
    gomap_cache_run_maintenance(c);
    CHECK_MSG(cache_removed(&rec, GOMAP_CACHE_EXPIRED) == n, "%u shards: %" PRIu64 " of %" PRIu64
              " reclaimed by one run_maintenance", shards, cache_removed(&rec,
              GOMAP_CACHE_EXPIRED), n);
    CHECK_EQ(cache_removed_total(&rec), n);
    CHECK_EQ(gomap_cache_len(c), 1);
    gomap_cache_stats_t s = cachecheck_stats(c);
    CHECK_EQ(s.removed[GOMAP_CACHE_EXPIRED], n);
    CHECK_EQ(s.entries, 1);
    CHECK(s.maintenance_runs > runs0);
    CHECK_CACHE_VALID(c);
    CHECK(gomap_cache_get(c, &(uint64_t){n}, NULL));
    printf("   %u shard%s: %" PRIu64 " entries reclaimed in %" PRIu64 " maintenance slices\n",
           shards, shards == 1 ? "" : "s", n, s.maintenance_runs - runs0);
    gomap_cache_free(c);
    CHECK_EQ(cache_removed(&rec, GOMAP_CACHE_DELETED), 1);
}

static void test_mass_expiry(void)
{
    mass_expiry(1);
    mass_expiry(16);
}

/* Writes alone (no maintenance) work off a backlog of 20000 expired
 * entries: the write budget doubles while the wheel stays behind, each
 * write reclaims at most 128, the backlog is gone within 200 writes (at 8
 * a write it would take 2500), and the budget comes back down to 8 once
 * writes find little to do. */
static void test_write_budget(void)
{
    const uint64_t n = 20000, tick = 1ull << 24;
    testclock clk;
    cache_removals rec;
    testclock_init(&clk, START);
    cache_removals_init(&rec, NULL, NULL);
    gomap_cache_options o = cachecheck_options(GOMAP_KEY_U64, 8, &clk, &rec);
    o.shards = 1;
    gomap_cache_t *c = cachecheck_new(&o);
    for (uint64_t k = 0; k < n; k++)
        CHECK_EQ(gomap_cache_set(c, &k, &k, tick), 0);
    /* One entry that outlives the test keeps the wheel scheduled. */
    CHECK_EQ(gomap_cache_set(c, &(uint64_t){n}, &n, 1000 * SEC), 0);
    gomap_cache_stats_t s = cachecheck_stats(c);
    CHECK_EQ(s.write_budget_max, 8);
    CHECK_EQ(s.write_budget_raises, 0);
    testclock_advance(&clk, 6 * tick);
    uint64_t key = n + 1, writes = 0, before = 0;
    while (cache_removed(&rec, GOMAP_CACHE_EXPIRED) < n) {
        CHECK_MSG(writes < 200, "%" PRIu64 " of %" PRIu64 " reclaimed after %" PRIu64 " writes",
                  cache_removed(&rec, GOMAP_CACHE_EXPIRED), n, writes);
        CHECK_EQ(gomap_cache_set(c, &key, &key, GOMAP_CACHE_NO_EXPIRY), 0);
        key++, writes++;
        uint64_t now = cache_removed(&rec, GOMAP_CACHE_EXPIRED);
        CHECK_MSG(now - before <= 128, "one write reclaimed %" PRIu64, now - before);
        before = now;
    }
    s = cachecheck_stats(c);
    CHECK(s.write_budget_raises >= 4); /* 8 -> 128 */
    CHECK(s.write_budget_max > 8 && s.write_budget_max <= 128);
    CHECK(s.wheel_lag_max_ns >= 3 * tick);
    printf("   %" PRIu64 " expired entries reclaimed by %" PRIu64 " writes; budget %u after %"
           PRIu64 " raises, wheel up to %" PRIu64 " ns behind\n",
           n, writes, s.write_budget_max, s.write_budget_raises, s.wheel_lag_max_ns);
    /* Now each write finds a tick passed and nothing due: the budget
     * halves back to 8. */
    for (int i = 0; i < 8; i++) {
        testclock_advance(&clk, tick);
        CHECK_EQ(gomap_cache_set(c, &key, &key, GOMAP_CACHE_NO_EXPIRY), 0);
        key++;
    }
    s = cachecheck_stats(c);
    CHECK_EQ(s.write_budget_max, 8);
    CHECK(s.write_budget_cuts >= 4);
    CHECK_EQ(s.removed[GOMAP_CACHE_EXPIRED], n);
    CHECK_CACHE_VALID(c);
    gomap_cache_free(c);
}

/* ------------------------------------------------------------------------ */
/* Expired entries removed by other calls                                    */
/* ------------------------------------------------------------------------ */

typedef struct {
    unsigned count[16];
    gomap_cache_cause cause[16];
    uint64_t val[16];
} per_key;

static void per_key_hook(const void *key, const void *val, gomap_cache_cause cause, void *ctx)
{
    per_key *p = ctx;
    uint64_t k;
    memcpy(&k, key, 8);
    CHECK(k < 16);
    p->count[k]++;
    p->cause[k] = cause;
    memcpy(&p->val[k], val, 8);
}

/* Key k left exactly once since the last call, with this cause and value. */
static void expect_left(per_key *p, uint64_t k, gomap_cache_cause cause, uint64_t val,
                        const char *ctx)
{
    CHECK_MSG(p->count[k] == 1 && p->cause[k] == cause && p->val[k] == val,
              "%s: key %" PRIu64 " removed %u times, last as %s with value %" PRIu64
              " (expected once, as %s with %" PRIu64 ")", ctx, k, p->count[k],
              cache_cause_names[p->cause[k]], p->val[k], cache_cause_names[cause], val);
    p->count[k] = 0;
}

static void test_expired_removal(void)
{
    /* Writes may also reclaim expired entries of their shard (amortised
     * maintenance): each key's removal is checked on its own, as EXPIRED
     * whichever call reclaimed it. */
    testclock clk;
    cache_removals rec;
    per_key p;
    memset(&p, 0, sizeof p);
    testclock_init(&clk, START);
    cache_removals_init(&rec, per_key_hook, &p);
    gomap_cache_options o = cachecheck_options(GOMAP_KEY_U64, 8, &clk, &rec);
    o.shards = 4;
    gomap_cache_t *c = cachecheck_new(&o);
    for (uint64_t k = 0; k < 8; k++)
        CHECK_EQ(gomap_cache_set(c, &k, &(uint64_t){100 + k}, k < 4 ? SEC : GOMAP_CACHE_NO_EXPIRY),
                 0);
    testclock_advance(&clk, SEC); /* 0..3 expired, not reclaimed */
    CHECK_EQ(gomap_cache_len(c), 8);
    CHECK_EQ(cache_removed_total(&rec), 0);
    CHECK(!gomap_cache_delete(c, &(uint64_t){0}));
    expect_left(&p, 0, GOMAP_CACHE_EXPIRED, 100, "delete of an expired entry");
    CHECK(gomap_cache_delete(c, &(uint64_t){4}));
    expect_left(&p, 4, GOMAP_CACHE_DELETED, 104, "delete");
    CHECK_EQ(gomap_cache_set(c, &(uint64_t){1}, &(uint64_t){1}, SEC), 0);
    expect_left(&p, 1, GOMAP_CACHE_EXPIRED, 101, "set over an expired entry");
    CHECK_EQ(gomap_cache_set(c, &(uint64_t){5}, &(uint64_t){5}, SEC), 0);
    expect_left(&p, 5, GOMAP_CACHE_REPLACED, 105, "set over a live entry");
    gomap_cache_clear(c);
    CHECK_EQ(gomap_cache_len(c), 0);
    expect_left(&p, 1, GOMAP_CACHE_DELETED, 1, "clear");
    expect_left(&p, 2, GOMAP_CACHE_EXPIRED, 102, "clear (or earlier reclaim)");
    expect_left(&p, 3, GOMAP_CACHE_EXPIRED, 103, "clear (or earlier reclaim)");
    expect_left(&p, 5, GOMAP_CACHE_DELETED, 5, "clear");
    expect_left(&p, 6, GOMAP_CACHE_DELETED, 106, "clear");
    expect_left(&p, 7, GOMAP_CACHE_DELETED, 107, "clear");
    CHECK_EQ(cache_removed_total(&rec), 10);
    /* free: the same split. */
    for (uint64_t k = 0; k < 6; k++)
        CHECK_EQ(gomap_cache_set(c, &k, &(uint64_t){200 + k}, k % 2 ? SEC : 5 * SEC), 0);
    testclock_advance(&clk, 2 * SEC);
    gomap_cache_stats_t s = cachecheck_stats(c);
    CHECK_EQ(s.removed[GOMAP_CACHE_EXPIRED], 4);
    CHECK_EQ(s.removed[GOMAP_CACHE_DELETED], 5);
    CHECK_EQ(s.removed[GOMAP_CACHE_REPLACED], 1);
    CHECK_EQ(s.removed[GOMAP_CACHE_EVICTED], 0);
    CHECK_CACHE_VALID(c);
    gomap_cache_free(c);
    for (uint64_t k = 0; k < 6; k++)
        expect_left(&p, k, k % 2 ? GOMAP_CACHE_EXPIRED : GOMAP_CACHE_DELETED, 200 + k, "free");
    CHECK_EQ(cache_removed_total(&rec), 16);
}

/* ------------------------------------------------------------------------ */
/* The maintenance thread                                                    */
/* ------------------------------------------------------------------------ */

static void test_maintenance_thread(void)
{
    /* The real clock: the thread sleeps by it. No call is made while it
     * works; the poll has no deadline but a hang guard. */
    const uint64_t n = 2000 / WORK_DIV, keep = 10;
    cache_removals rec;
    cache_removals_init(&rec, NULL, NULL);
    gomap_cache_options o = cachecheck_options(GOMAP_KEY_U64, 8, NULL, &rec);
    o.shards = 4;
    o.maintenance_thread = true;
    gomap_cache_t *c = cachecheck_new(&o);
    for (uint64_t k = 0; k < n + keep; k++)
        CHECK_EQ(gomap_cache_set(c, &k, &k, k < n ? 5 * MS : GOMAP_CACHE_NO_EXPIRY), 0);
    size_t polls = 0;
    while (gomap_cache_len(c) > keep) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
        CHECK_MSG(++polls < 12000, "the maintenance thread left %zu of %" PRIu64 " expired "
                  "entries for two minutes", gomap_cache_len(c) - keep, n);
    }
    CHECK_EQ(cache_removed(&rec, GOMAP_CACHE_EXPIRED), n);
    CHECK_EQ(cache_removed_total(&rec), n);
    gomap_cache_stats_t s = cachecheck_stats(c);
    CHECK_EQ(s.removed[GOMAP_CACHE_EXPIRED], n);
    CHECK(s.maintenance_runs > 0);
    for (uint64_t k = n; k < n + keep; k++)
        CHECK(gomap_cache_get(c, &k, NULL));
    CHECK_CACHE_VALID(c);
    gomap_cache_free(c);
    CHECK_EQ(cache_removed(&rec, GOMAP_CACHE_DELETED), keep);
    printf("   %" PRIu64 " entries reclaimed by the maintenance thread alone\n", n);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_seed();
    RUN(test_deadline_exact);
    RUN(test_default_ttl);
    RUN(test_huge_ttl);
    RUN(test_overflow);
    RUN(test_clock_wrap);
    RUN(test_cascades);
    RUN(test_random_deadlines);
    RUN(test_reschedule);
    RUN(test_mass_expiry);
    RUN(test_write_budget);
    RUN(test_expired_removal);
    RUN(test_maintenance_thread);
    printf("ok\n");
    return 0;
}
