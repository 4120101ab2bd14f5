/*
 * test_cache_model.c — seeded random operation sequences on a cache
 * (gomap/cache.h), step by step against a reference cache kept here, both on
 * one injected clock (tests/support/testclock.h).
 *
 * The reference is a table of the keys with, for each one held: its value,
 * deadline (or none), the TTL it was set with, and its cost. It needs no
 * eviction policy: every removal the cache makes is reported through
 * on_remove, and the hook checks it against the reference before applying
 * it, so the reference stays exact even for a bounded cache. The hook
 * accepts exactly:
 *   EXPIRED   a held entry whose deadline has passed, during any call that
 *             may reclaim (set, set_cost, delete, get_or_load, clear,
 *             run_maintenance) — never during get, ttl, len, stats or
 *             validate, and never before the deadline;
 *   REPLACED  the live entry of the key being set or loaded;
 *   DELETED   the live entry of the key being deleted, or any live entry
 *             during clear;
 *   EVICTED   in a bounded cache only, during a set, set_cost or a load's
 *             store (never the entry being stored), or run_maintenance
 *             (after a window resize);
 * always with the value held. After each step the answers must match the
 * reference: get (value, or zeros), set/set_cost (0; the entry then live with
 * its TTL: a set never evicts what it stores), delete (true only for a live
 * entry), ttl (exact ns left, GOMAP_CACHE_TTL_FOREVER or -ENOENT),
 * get_or_load (1 on a live entry without loading; else the loader runs once,
 * with *ttl_ns preset to 0, and 0 with its value stored under the TTL it set,
 * or its failure code with zeros and nothing stored), len (entries held,
 * expired ones not yet reclaimed included). After run_maintenance no held
 * entry is past its deadline plus one tick plus its wheel level's
 * granularity. Every 16 steps the stats must agree (entries, cost <=
 * max_cost, removed[] = on_remove calls by cause, loads + failures = loader
 * calls) and gomap_cache_validate must pass.
 *
 * TTLs are drawn from 0 (the default), GOMAP_CACHE_NO_EXPIRY and every wheel
 * level; the clock moves by ns to days. Runs: unbounded with 1 and 16
 * shards, with and without a default TTL; bounded with unit and random
 * costs, 1 and 4 shards. Seed: test_seed() (GOMAP_TEST_SEED reproduces a
 * run; a failure names the run, step, operation and key).
 */
#include "cachecheck.h"
#include "check.h"
#include "testclock.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MS ((uint64_t)1000000)
#define SEC ((uint64_t)1000000000)

enum { STEPS = 20000 / WORK_DIV, MAX_KEYS = 1024, CHECK_EVERY = 16 };

enum op_kind {
    OP_GET, OP_SET, OP_SET_COST, OP_DELETE, OP_TTL, OP_LOAD, OP_ADVANCE, OP_MAINTENANCE, OP_LEN,
    OP_CLEAR, OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
    "get", "set", "set_cost", "delete", "ttl", "get_or_load", "advance", "run_maintenance",
    "len", "clear",
};

static const unsigned weights[OP_COUNT] = {300, 200, 60, 60, 80, 80, 60, 25, 20, 1};

typedef struct {
    const char *name;
    unsigned shards;
    uint64_t max_cost;
    uint64_t default_ttl;
    uint64_t nkeys;
    uint64_t max_item_cost;    /* set_cost draws 1 .. this (capped at the share) */
} run_cfg;

typedef struct {
    bool held;
    bool forever;
    uint64_t val, deadline, ttl, cost;
} entry;

typedef struct {
    const run_cfg *cfg;
    testclock clk;
    cache_removals rec;
    gomap_cache_t *c;
    uint64_t rng;
    entry e[MAX_KEYS];
    size_t held;
    uint64_t held_cost;
    uint64_t by_cause[5];
    uint64_t loader_calls;
    uint64_t max_item;
    /* the step */
    size_t step;
    int op;
    uint64_t key;
    bool may_remove;          /* the call in progress may call on_remove */
    bool storing;             /* it stores `key` (set, set_cost, a load) */
    /* the loader's plan */
    int load_rc;
    uint64_t load_ttl, load_val;
    bool load_called;
} model;

#define MCHECK(md, cond, ...) \
    do { if (!(cond)) { char d_[600], c_[400]; snprintf(c_, sizeof c_, __VA_ARGS__); \
         snprintf(d_, sizeof d_, "%s, step %zu, op %s, key %" PRIu64 ", clock %" PRIu64 ": %s", \
                  (md)->cfg->name, (md)->step, op_names[(md)->op], (md)->key, \
                  testclock_now(&(md)->clk), c_); \
         check_fail(__FILE__, __LINE__, #cond, d_); } } while (0)

static uint64_t now_of(model *md)
{
    return testclock_now(&md->clk);
}

static bool is_live(model *md, const entry *e)
{
    return e->held && (e->forever || now_of(md) < e->deadline);
}

static void forget(model *md, entry *e)
{
    e->held = false;
    md->held--;
    md->held_cost -= e->cost;
}

static void on_remove_hook(const void *key, const void *val, gomap_cache_cause cause, void *ctx)
{
    model *md = ctx;
    uint64_t k, v;
    memcpy(&k, key, 8);
    memcpy(&v, val, 8);
    MCHECK(md, md->may_remove, "on_remove (%s, key %" PRIu64 ") called by a call that never "
           "removes", cache_cause_names[cause], k);
    MCHECK(md, k < md->cfg->nkeys && md->e[k].held, "on_remove (%s) for key %" PRIu64
           ", not held", cache_cause_names[cause], k);
    entry *e = &md->e[k];
    MCHECK(md, v == e->val, "on_remove (%s) for key %" PRIu64 " with value %" PRIu64 ", held %"
           PRIu64, cache_cause_names[cause], k, v, e->val);
    bool live = is_live(md, e);
    switch (cause) {
    case GOMAP_CACHE_EXPIRED:
        MCHECK(md, !live, "key %" PRIu64 " reported EXPIRED %" PRIu64 " ns before its deadline",
               k, e->deadline - now_of(md));
        break;
    case GOMAP_CACHE_REPLACED:
        MCHECK(md, live && md->storing && k == md->key, "key %" PRIu64 " reported REPLACED "
               "(live %d)", k, live);
        break;
    case GOMAP_CACHE_DELETED:
        MCHECK(md, live && (md->op == OP_CLEAR || (md->op == OP_DELETE && k == md->key)),
               "key %" PRIu64 " reported DELETED (live %d)", k, live);
        break;
    case GOMAP_CACHE_EVICTED:
        MCHECK(md, md->cfg->max_cost > 0, "key %" PRIu64 " EVICTED from an unbounded cache", k);
        MCHECK(md, md->storing || md->op == OP_MAINTENANCE, "key %" PRIu64 " EVICTED by a call "
               "that stores nothing", k);
        MCHECK(md, k != md->key, "the entry being stored was EVICTED by its own store");
        break;
    default:
        MCHECK(md, false, "cause %d", (int)cause);
    }
    md->by_cause[cause]++;
    forget(md, e);
}

static int loader(const void *key, void *val_out, uint64_t *ttl_ns, void *ctx)
{
    model *md = ctx;
    uint64_t k;
    memcpy(&k, key, 8);
    MCHECK(md, k == md->key, "loader called for key %" PRIu64, k);
    MCHECK(md, !md->load_called, "loader called twice");
    MCHECK(md, *ttl_ns == 0, "loader's *ttl_ns preset to %" PRIu64, *ttl_ns);
    md->load_called = true;
    md->loader_calls++;
    memcpy(val_out, &md->load_val, 8);
    *ttl_ns = md->load_ttl;
    return md->load_rc;
}

/* ---- random choices ------------------------------------------------------------ */

static uint64_t pick_ttl(model *md)
{
    switch (test_rand_below(&md->rng, 8)) {
    case 0: return 0;
    case 1: return GOMAP_CACHE_NO_EXPIRY;
    case 2: return 1 + test_rand_below(&md->rng, 4 * CACHE_TICK_NS);   /* level 0 */
    case 3: return 1 + test_rand_below(&md->rng, 2 * SEC);             /* levels 0-1 */
    case 4: return 1 + test_rand_below(&md->rng, 100 * SEC);           /* levels 1-2 */
    case 5: return 1 + test_rand_below(&md->rng, (uint64_t)1 << 40);   /* levels 2-3 */
    case 6: return 1 + test_rand_below(&md->rng, (uint64_t)1 << 50);   /* levels 3-4 */
    default: return 1 + test_rand_below(&md->rng, 50 * MS);
    }
}

static uint64_t pick_advance(model *md)
{
    switch (test_rand_below(&md->rng, 10)) {
    case 0: return 0;
    case 1: return 1;
    case 2: case 3: case 4: return test_rand_below(&md->rng, CACHE_TICK_NS);
    case 5: case 6: return test_rand_below(&md->rng, SEC);
    case 7: return test_rand_below(&md->rng, 200 * SEC);
    case 8: return test_rand_below(&md->rng, (uint64_t)1 << 42);
    default: return test_rand_below(&md->rng, (uint64_t)1 << 47);
    }
}

static int pick_op(model *md)
{
    unsigned total = 0;
    for (int i = 0; i < OP_COUNT; i++)
        total += weights[i];
    unsigned pick = (unsigned)test_rand_below(&md->rng, total);
    int op = 0;
    while (pick >= weights[op])
        pick -= weights[op++];
    return op;
}

/* ---- the steps ----------------------------------------------------------------- */

/* The reference after a store of `val` under ttl (0 = the default) at cost. */
static void stored(model *md, uint64_t val, uint64_t ttl, uint64_t cost)
{
    entry *e = &md->e[md->key];
    MCHECK(md, !e->held, "the entry the store replaced was not reported to on_remove");
    uint64_t eff = ttl ? ttl : md->cfg->default_ttl;
    e->held = true;
    e->forever = eff == 0 || eff == GOMAP_CACHE_NO_EXPIRY;
    e->val = val;
    e->ttl = eff;
    e->deadline = e->forever ? 0 : now_of(md) + eff;
    e->cost = cost;
    md->held++;
    md->held_cost += cost;
    /* Live right after its store (ttl is not an access for the policy). */
    int64_t t = gomap_cache_ttl(md->c, &md->key);
    int64_t want = e->forever ? GOMAP_CACHE_TTL_FOREVER : (int64_t)eff;
    MCHECK(md, t == want, "ttl right after the store: %" PRId64 ", expected %" PRId64, t, want);
}

static void step_get(model *md)
{
    entry *e = &md->e[md->key];
    uint64_t out = 0x5A5A5A5A5A5A5A5Aull;
    bool got = gomap_cache_get(md->c, &md->key, &out);
    bool live = is_live(md, e);
    MCHECK(md, got == live, "get returned %d (held %d, live %d)", got, e->held, live);
    MCHECK(md, out == (live ? e->val : 0), "get gave %" PRIu64 ", expected %" PRIu64, out,
           live ? e->val : 0);
}

static void step_set(model *md, bool with_cost)
{
    uint64_t ttl = pick_ttl(md), val = test_rand(&md->rng);
    uint64_t cost = with_cost ? 1 + test_rand_below(&md->rng, md->max_item) : 1;
    md->may_remove = md->storing = true;
    int rc = with_cost ? gomap_cache_set_cost(md->c, &md->key, &val, ttl, cost)
                       : gomap_cache_set(md->c, &md->key, &val, ttl);
    md->may_remove = md->storing = false;
    MCHECK(md, rc == 0, "returned %d (TTL %" PRIu64 ", cost %" PRIu64 ")", rc, ttl, cost);
    stored(md, val, ttl, cost);
}

static void step_delete(model *md)
{
    entry *e = &md->e[md->key];
    bool live = is_live(md, e);
    md->may_remove = true;
    bool got = gomap_cache_delete(md->c, &md->key);
    md->may_remove = false;
    MCHECK(md, got == live, "delete returned %d (held %d, live %d)", got, e->held, live);
    MCHECK(md, !e->held, "the deleted entry was not reported to on_remove");
}

static void step_ttl(model *md)
{
    entry *e = &md->e[md->key];
    int64_t t = gomap_cache_ttl(md->c, &md->key);
    int64_t want = !is_live(md, e) ? -ENOENT : e->forever ? GOMAP_CACHE_TTL_FOREVER
                                                           : (int64_t)(e->deadline - now_of(md));
    MCHECK(md, t == want, "ttl %" PRId64 ", expected %" PRId64, t, want);
}

static void step_load(model *md)
{
    entry *e = &md->e[md->key];
    bool live = is_live(md, e);
    uint64_t live_val = e->val;
    static const int fails[] = {-EIO, 7, -ENOENT};
    md->load_rc = test_rand_below(&md->rng, 5) == 0 ? fails[test_rand_below(&md->rng, 3)] : 0;
    md->load_ttl = pick_ttl(md);
    md->load_val = test_rand(&md->rng);
    md->load_called = false;
    uint64_t out = 0x5A5A5A5A5A5A5A5Aull;
    md->may_remove = md->storing = true;
    int rc = gomap_cache_get_or_load(md->c, &md->key, &out, loader, md);
    md->may_remove = md->storing = false;
    if (live) {
        MCHECK(md, rc == 1 && !md->load_called && out == live_val, "a live entry: returned %d, "
               "loader called %d, value %" PRIu64 " (held %" PRIu64 ")", rc, md->load_called,
               out, live_val);
        return;
    }
    MCHECK(md, md->load_called, "a miss did not call the loader (rc %d)", rc);
    if (md->load_rc != 0) {
        MCHECK(md, rc == md->load_rc && out == 0, "a failing load (%d): returned %d, value %"
               PRIu64, md->load_rc, rc, out);
        /* the expired entry it met may have been reclaimed; no new one */
        MCHECK(md, !is_live(md, e), "a failed load stored a value");
        return;
    }
    MCHECK(md, rc == 0 && out == md->load_val, "a load: returned %d, value %" PRIu64
           " (loaded %" PRIu64 ")", rc, out, md->load_val);
    stored(md, md->load_val, md->load_ttl, 1);
}

static void step_maintenance(model *md)
{
    md->may_remove = true;
    gomap_cache_run_maintenance(md->c);
    md->may_remove = false;
    uint64_t now = now_of(md);
    for (uint64_t k = 0; k < md->cfg->nkeys; k++) {
        entry *e = &md->e[k];
        if (e->held && !e->forever && now >= e->deadline)
            MCHECK(md, now - e->deadline < cache_reclaim_slack(e->ttl), "key %" PRIu64
                   " (TTL %" PRIu64 ") still held %" PRIu64 " ns after its deadline (bound %"
                   PRIu64 ")", k, e->ttl, now - e->deadline, cache_reclaim_slack(e->ttl));
    }
}

static void full_check(model *md)
{
    gomap_cache_stats_t s = cachecheck_stats(md->c);
    MCHECK(md, s.entries == md->held, "stats.entries %zu, %zu held", s.entries, md->held);
    MCHECK(md, s.cost == md->held_cost, "stats.cost %" PRIu64 ", %" PRIu64 " held", s.cost,
           md->held_cost);
    MCHECK(md, !md->cfg->max_cost || s.cost <= md->cfg->max_cost, "stats.cost %" PRIu64
           " over max_cost", s.cost);
    for (int c = GOMAP_CACHE_EXPIRED; c <= GOMAP_CACHE_DELETED; c++)
        MCHECK(md, s.removed[c] == md->by_cause[c], "stats.removed[%s] %" PRIu64 ", %" PRIu64
               " on_remove calls", cache_cause_names[c], s.removed[c], md->by_cause[c]);
    MCHECK(md, s.loads + s.load_failures == md->loader_calls, "stats: %" PRIu64 " loads + %"
           PRIu64 " failures, %" PRIu64 " loader calls", s.loads, s.load_failures,
           md->loader_calls);
    char why[256] = "";
    int rc = gomap_cache_validate(md->c, why, sizeof why);
    MCHECK(md, rc == 0, "validate: %d %s", rc, why);
}

static void run(const run_cfg *cfg, uint64_t seed)
{
    model *md = calloc(1, sizeof *md);
    CHECK(md != NULL && cfg->nkeys <= MAX_KEYS);
    md->cfg = cfg;
    md->rng = seed;
    testclock_init(&md->clk, 1000 * SEC + test_rand_below(&md->rng, SEC));
    cache_removals_init(&md->rec, on_remove_hook, md);
    gomap_cache_options o = cachecheck_options(GOMAP_KEY_U64, 8, &md->clk, &md->rec);
    o.shards = cfg->shards;
    o.max_cost = cfg->max_cost;
    o.ttl_ns = cfg->default_ttl;
    md->c = cachecheck_new(&o);
    md->max_item = cfg->max_item_cost;
    if (cfg->max_cost && md->max_item > gomap_cache_max_entry_cost(md->c))
        md->max_item = gomap_cache_max_entry_cost(md->c);
    size_t counts[OP_COUNT] = {0};
    for (md->step = 0; md->step < STEPS; md->step++) {
        md->op = pick_op(md);
        md->key = test_rand_below(&md->rng, cfg->nkeys);
        counts[md->op]++;
        switch (md->op) {
        case OP_GET: step_get(md); break;
        case OP_SET: step_set(md, false); break;
        case OP_SET_COST: step_set(md, true); break;
        case OP_DELETE: step_delete(md); break;
        case OP_TTL: step_ttl(md); break;
        case OP_LOAD: step_load(md); break;
        case OP_ADVANCE: testclock_advance(&md->clk, pick_advance(md)); break;
        case OP_MAINTENANCE: step_maintenance(md); break;
        case OP_LEN: {
            size_t n = gomap_cache_len(md->c);
            MCHECK(md, n == md->held, "len %zu, %zu held", n, md->held);
            break;
        }
        case OP_CLEAR:
            md->may_remove = true;
            gomap_cache_clear(md->c);
            md->may_remove = false;
            MCHECK(md, md->held == 0, "%zu entries not reported by clear", md->held);
            MCHECK(md, gomap_cache_len(md->c) == 0, "len %zu after clear", gomap_cache_len(md->c));
            break;
        }
        if (md->step % CHECK_EVERY == 0)
            full_check(md);
    }
    full_check(md);
    printf("   %s: %d steps (%zu gets, %zu sets, %zu loads, %zu clock moves); %zu held at the "
           "end; removed: %" PRIu64 " expired, %" PRIu64 " evicted, %" PRIu64 " replaced, %"
           PRIu64 " deleted\n", cfg->name, STEPS, counts[OP_GET], counts[OP_SET] +
           counts[OP_SET_COST], counts[OP_LOAD], counts[OP_ADVANCE], md->held,
           md->by_cause[GOMAP_CACHE_EXPIRED], md->by_cause[GOMAP_CACHE_EVICTED],
           md->by_cause[GOMAP_CACHE_REPLACED], md->by_cause[GOMAP_CACHE_DELETED]);
    /* Every kind of removal happened (the test tested something). */
    CHECK(md->by_cause[GOMAP_CACHE_EXPIRED] > 0 && md->by_cause[GOMAP_CACHE_REPLACED] > 0 &&
          md->by_cause[GOMAP_CACHE_DELETED] > 0);
    CHECK(!cfg->max_cost || md->by_cause[GOMAP_CACHE_EVICTED] > 0);
    /* free: the rest, DELETED or EXPIRED. */
    md->may_remove = true;
    md->op = OP_CLEAR;
    gomap_cache_free(md->c);
    CHECK_EQ(md->held, 0);
    free(md);
}

static const run_cfg runs[] = {
    {"unbounded, 1 shard, 64 keys", 1, 0, 0, 64, 1000},
    {"unbounded, 16 shards, 512 keys, default TTL 50 ms", 16, 0, 50 * MS, 512, 1000},
    {"unbounded, 4 shards, 1024 keys, default TTL 3 s", 4, 0, 3 * SEC, 1024, 1000},
    {"max_cost 32, 1 shard, 128 keys", 1, 32, 0, 128, 1},
    {"max_cost 100, 1 shard, 256 keys, costs 1-20", 1, 100, 0, 256, 20},
    {"max_cost 256, 4 shards, 512 keys, costs 1-64, default TTL 1 s", 4, 256, SEC, 512, 64},
};

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    uint64_t seed = test_seed();
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++)
        run(&runs[i], seed ^ (0x1000 * (i + 1)));
    printf("ok\n");
    return 0;
}
