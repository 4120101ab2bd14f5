/*
 * cachecheck.h — helpers for the cache tests (gomap/cache.h).
 *
 * cache_removals counts on_remove calls by cause (atomically: on_remove
 * runs in whichever thread removed the entry) and can pass each call on to
 * a hook of the test's own. The wheel constants restate what gomap/cache.h
 * and docs/cache.md promise about reclaiming expired entries: a tick of
 * 2^24 ns, five levels of 64 buckets, level L with a granularity of
 * 2^(24 + 6L) ns and a span of 64 times that; an expired entry is reclaimed
 * never before its deadline, and by run_maintenance within one tick plus the
 * granularity of the level it waits on.
 */
#ifndef GOMAP_TEST_CACHECHECK_H
#define GOMAP_TEST_CACHECHECK_H

#include <gomap/cache.h>

#include <stdatomic.h>
#include <stdint.h>

#include "check.h"
#include "testclock.h"

/* ---- the timing wheel ------------------------------------------------------ */

#define CACHE_TICK_NS ((uint64_t)1 << 24)
enum { CACHE_WHEEL_LEVELS = 5 };

/* Granularity of wheel level L (0 .. CACHE_WHEEL_LEVELS-1). */
static inline uint64_t cache_level_gran(unsigned level)
{
    return (uint64_t)1 << (24 + 6 * level);
}

/* The level an entry with `ttl` ns left waits on: the first whose span
 * (64 x its granularity) holds it, the last one beyond. The ttl is taken
 * two ticks longer, so that a TTL just under a span, rounded to ticks, is
 * given the next level's (longer) granularity. */
static inline unsigned cache_level_of(uint64_t ttl)
{
    uint64_t t = ttl > UINT64_MAX - 2 * CACHE_TICK_NS ? UINT64_MAX : ttl + 2 * CACHE_TICK_NS;
    for (unsigned l = 0; l < CACHE_WHEEL_LEVELS; l++)
        if (t < 64 * cache_level_gran(l))
            return l;
    return CACHE_WHEEL_LEVELS - 1;
}

/* How long after its deadline run_maintenance must have reclaimed an entry
 * set with `ttl`: one tick plus its level's granularity. */
static inline uint64_t cache_reclaim_slack(uint64_t ttl)
{
    return CACHE_TICK_NS + cache_level_gran(cache_level_of(ttl));
}

/* ---- on_remove ----------------------------------------------------------------- */

typedef void (*cache_remove_hook)(const void *key, const void *val, gomap_cache_cause cause,
                                  void *ctx);

typedef struct cache_removals {
    _Atomic uint64_t by_cause[5];     /* [GOMAP_CACHE_EXPIRED] .. [GOMAP_CACHE_DELETED] */
    cache_remove_hook hook;           /* called after counting, or NULL */
    void *hook_ctx;
} cache_removals;

void cache_removals_init(cache_removals *r, cache_remove_hook hook, void *hook_ctx);

/* The on_remove function: ctx is the cache_removals. A cause outside
 * GOMAP_CACHE_EXPIRED .. GOMAP_CACHE_DELETED fails the test. */
void cache_removals_cb(const void *key, const void *val, gomap_cache_cause cause, void *ctx);

uint64_t cache_removed(cache_removals *r, gomap_cache_cause cause);
uint64_t cache_removed_total(cache_removals *r);

extern const char *const cache_cause_names[5];

/* ---- creation, stats, validation ----------------------------------------------- */

/* Options for a cache of `kind` keys and val_size-byte values (everything
 * else zero), with the test clock and the removal counter when not NULL. */
gomap_cache_options cachecheck_options(gomap_key_kind kind, size_t val_size, testclock *clk,
                                       cache_removals *rec);

/* gomap_cache_new, failing the test with gomap_strerror's text unless it
 * succeeds. */
gomap_cache_t *cachecheck_new(const gomap_cache_options *o);

/* gomap_cache_stats, failing the test unless it succeeds; the struct is
 * filled with 0xFF bytes first, so a field the call leaves unset shows. */
gomap_cache_stats_t cachecheck_stats(gomap_cache_t *c);

/* Fails with the validator's reason unless gomap_cache_validate(c) passes. */
#define CHECK_CACHE_VALID(c) \
    do { char why_[256] = ""; int rc_ = gomap_cache_validate((c), why_, sizeof why_); \
         if (rc_ != 0) { char d_[320]; snprintf(d_, sizeof d_, "%d (%s): %s", rc_, \
                 gomap_strerror(rc_), why_); \
             check_fail(__FILE__, __LINE__, "gomap_cache_validate(" #c ")", d_); } } while (0)

#endif
