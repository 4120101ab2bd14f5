/*
 * policy_ours.c — the cache's policy: W-TinyLFU whose window is chosen by
 * shadow caches instead of a hill climber.
 *
 * The measurements (docs/cache-policy.md) show that W-TinyLFU with the
 * right window share for the trace is within half a point of the best
 * published policy nearly everywhere: 1 % for frequency-heavy traces and
 * loops, about 20 % for the web traces, 80 % and more for recency-heavy
 * sprite. The hill climber finds it slowly and noisily, because it compares
 * hit ratios of different stretches of the trace. Here the library's window
 * tuner (src/cache/cache_tuner.c: three sampled shadow W-TinyLFU caches with
 * fixed windows, and epochs that step the window towards the best of them)
 * sees every access, and the cache applies the share it gives before each
 * access. This is the code the cache runs, fed the keys' hashes
 * (sim_key_hash) as the cache feeds it its map's.
 */
#include <stdlib.h>

#include "cache/cache_tuner.h"
#include "cache/policy.h"
#include "cache/tinylfu.h"

struct policy {
    tlfu *cache;
    cache_tuner *tuner;
    uint64_t key_seed;
    double share; /* the window share the cache has */
};

static void ours_destroy(policy *c)
{
    tlfu_free(c->cache);
    gomap__tuner_free(c->tuner, NULL);
    free(c);
}

static policy *ours_create(const policy_params *p)
{
    policy *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->tuner = gomap__tuner_new(p->capacity, p->seed, NULL);
    if (!c->tuner) {
        free(c);
        return NULL;
    }
    c->share = gomap__tuner_window_share(c->tuner);
    tlfu_config cfg = {c->share, false, 0, 0, 0, 0};
    c->cache = tlfu_new(p, &cfg);
    if (!c->cache) {
        gomap__tuner_free(c->tuner, NULL);
        free(c);
        return NULL;
    }
    c->key_seed = sim_key_seed(p->seed);
    return c;
}

static bool ours_access(policy *c, uint32_t k)
{
    gomap__tuner_access(c->tuner, sim_key_hash(c->key_seed, k));
    double share = gomap__tuner_window_share(c->tuner);
    if (share != c->share) {
        c->share = share;
        tlfu_set_window(c->cache, share);
    }
    return tlfu_access(c->cache, k);
}

static size_t ours_len(const policy *c) { return tlfu_len(c->cache); }

const policy_kind policy_ours = {"ours", "W-TinyLFU with the window of the best shadow cache",
                                 ours_create, ours_access, ours_len, ours_destroy};
