/*
 * policy_ours.c — the cache's candidate: W-TinyLFU whose window is chosen
 * by shadow caches instead of a hill climber.
 *
 * The measurements (docs/cache-policy.md) show that W-TinyLFU with the
 * right window share for the trace is within half a point of the best
 * published policy nearly everywhere: 1 % for frequency-heavy traces and
 * loops, about 20 % for the web traces, 80 % and more for recency-heavy
 * sprite. The hill climber finds it slowly and noisily, because it compares
 * hit ratios of different stretches of the trace. Here, shadow W-TinyLFU
 * caches with fixed windows (SHADOW_SHARES) replay the same accesses at the
 * same time, so their hit counts differ only by their window; every epoch
 * the cache moves its window a step towards the share of the shadow with
 * the best recent score (hits, exponentially decayed). This is the set dueling of Qureshi et al.
 * ("Adaptive insertion policies for high performance caching", ISCA 2007)
 * with miniature simulations (Waldspurger et al., "Cache Modeling and
 * Optimization using Miniature Simulations", USENIX ATC 2017): above
 * SHADOW_MAX entries, a shadow sees only the keys whose seeded hash falls
 * in a sample of rate SHADOW_MAX / capacity, at that rate of the capacity,
 * so its cost is bounded whatever the cache's size.
 */
#include <stdlib.h>

#include "cache/policy.h"
#include "cache/tinylfu.h"

/* Chosen by measurement (docs/cache-policy.md): the shares the best
 * static window of each trace clusters at; the epoch (in multiples of the
 * capacity), the score's decay per epoch and the window's step per epoch
 * (share of the capacity) of the best of a sweep. Moving the window a step
 * at a time matters: jumping to the shadow's share costs more than it
 * gains on traces where the lead changes often. */
static const double SHADOW_SHARES[] = {0.01, 0.2, 0.8};
enum { SHADOWS = sizeof SHADOW_SHARES / sizeof SHADOW_SHARES[0], SHADOW_MAX = 1024 };
static const double EPOCH = 2, DECAY = 0.9, STEP = 0.05;

struct policy {
    tlfu *cache, *shadow[SHADOWS];
    double score[SHADOWS], epoch_hits[SHADOWS];
    uint64_t sample_seed, sample_below; /* a key is sampled if its hash < this */
    size_t epoch_len, epoch_n;
    unsigned chosen;
    double share;
};

static void ours_destroy(policy *c)
{
    tlfu_free(c->cache);
    for (unsigned i = 0; i < SHADOWS; i++)
        tlfu_free(c->shadow[i]);
    free(c);
}

static policy *ours_create(const policy_params *p)
{
    policy *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    tlfu_config cfg = {SHADOW_SHARES[0], false, 0, 0, 0, 0};
    c->cache = tlfu_new(p, &cfg);
    double rate = p->capacity > SHADOW_MAX ? (double)SHADOW_MAX / (double)p->capacity : 1.0;
    policy_params sp = *p;
    sp.capacity = (size_t)((double)p->capacity * rate + 0.5);
    sp.seed = sim_mix64(p->seed + 1);
    c->sample_seed = sim_mix64(p->seed + 2);
    c->sample_below = rate >= 1 ? UINT64_MAX : (uint64_t)(rate * 18446744073709551616.0);
    bool ok = c->cache != NULL;
    for (unsigned i = 0; i < SHADOWS; i++) {
        cfg.window = SHADOW_SHARES[i];
        ok = (c->shadow[i] = tlfu_new(&sp, &cfg)) != NULL && ok;
    }
    if (!ok) {
        ours_destroy(c);
        return NULL;
    }
    c->share = SHADOW_SHARES[0];
    c->epoch_len = (size_t)(EPOCH * (double)p->capacity);
    return c;
}

static void end_epoch(policy *c)
{
    unsigned best = c->chosen;
    for (unsigned i = 0; i < SHADOWS; i++) {
        c->score[i] = DECAY * c->score[i] + c->epoch_hits[i];
        c->epoch_hits[i] = 0;
        if (c->score[i] > c->score[best])
            best = i;
    }
    c->chosen = best;
    /* A step towards the leader's share. */
    double target = SHADOW_SHARES[best];
    if (c->share != target) {
        c->share = target > c->share ? (c->share + STEP < target ? c->share + STEP : target)
                                     : (c->share - STEP > target ? c->share - STEP : target);
        tlfu_set_window(c->cache, c->share);
    }
    c->epoch_n = 0;
}

static bool ours_access(policy *c, uint32_t k)
{
    if (sim_mix64(k ^ c->sample_seed) <= c->sample_below)
        for (unsigned i = 0; i < SHADOWS; i++)
            c->epoch_hits[i] += tlfu_access(c->shadow[i], k);
    if (++c->epoch_n >= c->epoch_len)
        end_epoch(c);
    return tlfu_access(c->cache, k);
}

static size_t ours_len(const policy *c) { return tlfu_len(c->cache); }

const policy_kind policy_ours = {"ours", "W-TinyLFU with the window of the best shadow cache",
                                 ours_create, ours_access, ours_len, ours_destroy};
