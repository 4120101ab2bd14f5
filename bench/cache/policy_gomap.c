/*
 * policy_gomap.c — the real cache as a column of the table: each access is
 * a gomap_cache_get and, on a miss, a gomap_cache_set, through the public
 * API (gomap/cache.h) with one shard, max_cost = capacity, u32 keys, no
 * values and no TTL. What it shows is the cache as built, next to the
 * simulated policies it was chosen from (policy_ours is that choice,
 * simulated). Its admission jitter is the cache's own, not drawn from the
 * run's seed, so two runs may differ by a few hits.
 */
#include <stdlib.h>

#include <gomap/cache.h>

#include "cache/policy.h"

struct policy {
    gomap_cache_t *c;
};

static policy *gm_create(const policy_params *p)
{
    gomap_cache_options o = {
        .map = {.key_kind = GOMAP_KEY_U32, .val_size = 0, .hint = p->capacity},
        .max_cost = p->capacity,
        .shards = 1,
    };
    policy *c = calloc(1, sizeof *c);
    if (!c || gomap_cache_new(&c->c, &o)) {
        free(c);
        return NULL;
    }
    return c;
}

static bool gm_access(policy *c, uint32_t k)
{
    if (gomap_cache_get(c->c, &k, NULL))
        return true;
    gomap_cache_set(c->c, &k, NULL, GOMAP_CACHE_NO_EXPIRY);
    return false;
}

static size_t gm_len(const policy *c) { return gomap_cache_len(c->c); }

static void gm_destroy(policy *c)
{
    gomap_cache_free(c->c);
    free(c);
}

const policy_kind policy_gomap = {"gomap", "gomap_cache_t through its API (1 shard)", gm_create,
                                  gm_access, gm_len, gm_destroy};
