#include "cachecheck.h"

#include <string.h>

const char *const cache_cause_names[5] = {"(0)", "EXPIRED", "EVICTED", "REPLACED", "DELETED"};

void cache_removals_init(cache_removals *r, cache_remove_hook hook, void *hook_ctx)
{
    for (int i = 0; i < 5; i++)
        atomic_init(&r->by_cause[i], 0);
    r->hook = hook;
    r->hook_ctx = hook_ctx;
}

void cache_removals_cb(const void *key, const void *val, gomap_cache_cause cause, void *ctx)
{
    cache_removals *r = ctx;
    CHECK_MSG(cause >= GOMAP_CACHE_EXPIRED && cause <= GOMAP_CACHE_DELETED,
              "on_remove called with cause %d", (int)cause);
    CHECK(key != NULL);
    atomic_fetch_add_explicit(&r->by_cause[cause], 1, memory_order_relaxed);
    if (r->hook)
        r->hook(key, val, cause, r->hook_ctx);
}

uint64_t cache_removed(cache_removals *r, gomap_cache_cause cause)
{
    return atomic_load_explicit(&r->by_cause[cause], memory_order_relaxed);
}

uint64_t cache_removed_total(cache_removals *r)
{
    uint64_t n = 0;
    for (int i = GOMAP_CACHE_EXPIRED; i <= GOMAP_CACHE_DELETED; i++)
        n += cache_removed(r, (gomap_cache_cause)i);
    return n;
}

gomap_cache_options cachecheck_options(gomap_key_kind kind, size_t val_size, testclock *clk,
                                       cache_removals *rec)
{
    gomap_cache_options o;
    memset(&o, 0, sizeof o);
    o.map.key_kind = kind;
    o.map.val_size = val_size;
    if (clk) {
        o.clock = testclock_read;
        o.clock_ctx = clk;
    }
    if (rec) {
        o.on_remove = cache_removals_cb;
        o.remove_ctx = rec;
    }
    return o;
}

gomap_cache_t *cachecheck_new(const gomap_cache_options *o)
{
    gomap_cache_t *c = NULL;
    int rc = gomap_cache_new(&c, o);
    CHECK_MSG(rc == 0 && c != NULL, "gomap_cache_new(kind %d, val %zu, max_cost %" PRIu64
              ", ttl %" PRIu64 ", shards %u): %d %s", (int)o->map.key_kind, o->map.val_size,
              o->max_cost, o->ttl_ns, o->shards, rc, gomap_strerror(rc));
    return c;
}

gomap_cache_stats_t cachecheck_stats(gomap_cache_t *c)
{
    gomap_cache_stats_t s;
    memset(&s, 0xFF, sizeof s);
    CHECK_EQ(gomap_cache_stats(c, &s), 0);
    return s;
}
