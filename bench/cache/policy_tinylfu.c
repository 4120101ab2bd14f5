/*
 * policy_tinylfu.c — W-TinyLFU (Einziger, Eytan, Friedman, Manes: "Adaptive
 * Software Cache Management", Middleware 2018; TinyLFU: ACM TOS 2017), as
 * Caffeine builds it. A small window LRU takes every new key; the rest is a
 * segmented LRU: probation and protected (80 % of the main part). A hit in
 * probation promotes the key to protected, whose overflow is demoted back
 * to probation's front. A key leaving the window is a candidate for the
 * main part: when the cache is over capacity it is compared with
 * probation's oldest key (the victim) by the count-min sketch (the
 * library's, src/cache/cache_sketch.h, over the keys' hashes; it counts
 * every access), and the more frequent one stays. Hash
 * flooding resistance as Caffeine's admit(): a candidate that loses or ties
 * but is warm (estimate >= 6) is still admitted with probability 1/128, so
 * an attacker cannot pin a hot victim by colliding with it.
 *
 * The adaptive variant sizes the window with Caffeine's hill climber: every
 * `sample` accesses once the cache is full it compares the sample's hit
 * ratio with the previous one's, keeps moving the window in the same
 * direction if the ratio did not drop and reverses otherwise; the step
 * starts at 6.25 % of the capacity, decays by 0.98 a sample, and restarts
 * when the ratio moves by 5 points or more.
 *
 * tinylfu.h exports the policy as a building block: ours (policy_ours.c)
 * runs one as the cache, steered by the library's tuner.
 */
#include <stdlib.h>

#include "cache/cache_sketch.h"
#include "cache/dlist.h"
#include "cache/policy.h"
#include "cache/tinylfu.h"

enum { WINDOW, PROBATION, PROTECTED };
enum { ADMIT_WARM = 6 }; /* Caffeine's ADMIT_HASHDOS_THRESHOLD */

struct tlfu {
    qset s;
    cache_sketch sk;
    uint64_t key_seed; /* sim_key_hash(key_seed, key): what the sketch counts */
    tlfu_config cfg;
    size_t cap, window_cap, protected_cap;
    double window_target, step, prev_ratio;
    size_t sample_len, sample_hits, sample_n;
    uint64_t rng;
};

static size_t clamp_window(const tlfu *c, double w)
{
    size_t max = c->cap > 1 ? c->cap - 1 : 1;
    if (w < 1)
        return 1;
    return w > (double)max ? max : (size_t)w;
}

static void set_window(tlfu *c, double target)
{
    c->window_cap = clamp_window(c, target);
    c->window_target = target < 1 ? 1 : target > (double)c->cap ? (double)c->cap : target;
    c->protected_cap = (c->cap - c->window_cap) * 8 / 10;
}

tlfu *tlfu_new(const policy_params *p, const tlfu_config *cfg)
{
    tlfu *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (qset_init(&c->s, p->n_keys)) {
        free(c);
        return NULL;
    }
    if (gomap__sketch_init(&c->sk, p->capacity, sim_mix64(p->seed), NULL)) {
        qset_free(&c->s);
        free(c);
        return NULL;
    }
    c->key_seed = sim_key_seed(p->seed);
    c->cfg = *cfg;
    c->cap = p->capacity;
    c->rng = p->seed;
    set_window(c, cfg->window * (double)p->capacity);
    c->step = cfg->step * (double)p->capacity;
    c->sample_len = (size_t)(cfg->sample * (double)p->capacity);
    if (c->sample_len == 0)
        c->sample_len = 1;
    return c;
}

static void demote_protected(tlfu *c)
{
    while (c->s.q[PROTECTED].len > c->protected_cap)
        qset_move(&c->s, PROBATION, dlist_back(&c->s.q[PROTECTED]));
}

static bool admit(tlfu *c, uint32_t cand, uint32_t victim)
{
    unsigned cf = gomap__sketch_frequency(&c->sk, sim_key_hash(c->key_seed, cand));
    unsigned vf = gomap__sketch_frequency(&c->sk, sim_key_hash(c->key_seed, victim));
    if (cf > vf)
        return true;
    return cf >= ADMIT_WARM && (sim_rand(&c->rng) & 127) == 0;
}

/* Moves window overflow to probation; over capacity, each candidate duels
 * probation's oldest key. */
static void evict(tlfu *c)
{
    while (c->s.q[WINDOW].len > c->window_cap) {
        uint32_t cand = dlist_back(&c->s.q[WINDOW]);
        qset_move(&c->s, PROBATION, cand);
        if (qset_len(&c->s) <= c->cap)
            continue;
        uint32_t victim = dlist_back(&c->s.q[PROBATION]);
        if (victim == cand && c->s.q[PROTECTED].len)
            victim = dlist_back(&c->s.q[PROTECTED]);
        qset_unlink(&c->s, victim != cand && admit(c, cand, victim) ? victim : cand);
    }
}

/* Applies a new window size: grows it from main's oldest keys, or shrinks
 * it into probation's front. */
static void resize_window(tlfu *c, double target)
{
    set_window(c, target);
    while (c->s.q[WINDOW].len < c->window_cap) {
        unsigned from = c->s.q[PROBATION].len ? PROBATION : PROTECTED;
        uint32_t k = dlist_back(&c->s.q[from]);
        if (k == DLIST_NONE)
            break;
        qset_move(&c->s, WINDOW, k);
    }
    while (c->s.q[WINDOW].len > c->window_cap)
        qset_move(&c->s, PROBATION, dlist_back(&c->s.q[WINDOW]));
    demote_protected(c);
}

static void climb(tlfu *c, bool hit)
{
    if (!c->cfg.adaptive || qset_len(&c->s) < c->cap)
        return;
    c->sample_hits += hit;
    if (++c->sample_n < c->sample_len)
        return;
    double ratio = (double)c->sample_hits / (double)c->sample_n, delta = ratio - c->prev_ratio;
    double amount = delta >= 0 ? c->step : -c->step;
    double restart = c->cfg.step * (double)c->cap;
    c->step = (delta >= c->cfg.restart || -delta >= c->cfg.restart)
                  ? (amount >= 0 ? restart : -restart)
                  : c->cfg.decay * amount;
    c->prev_ratio = ratio;
    c->sample_hits = c->sample_n = 0;
    resize_window(c, c->window_target + amount);
}

bool tlfu_access(tlfu *c, uint32_t k)
{
    bool hit = true;
    gomap__sketch_increment(&c->sk, sim_key_hash(c->key_seed, k));
    switch (qset_where(&c->s, k)) {
    case 1 + WINDOW:
    case 1 + PROTECTED:
        dlist_move_front(&c->s.q[qset_where(&c->s, k) - 1], k);
        break;
    case 1 + PROBATION:
        qset_move(&c->s, PROTECTED, k);
        demote_protected(c);
        break;
    default:
        hit = false;
        qset_push(&c->s, WINDOW, k);
        evict(c);
    }
    climb(c, hit);
    return hit;
}

void tlfu_set_window(tlfu *c, double share) { resize_window(c, share * (double)c->cap); }

size_t tlfu_len(const tlfu *c) { return qset_len(&c->s); }

void tlfu_free(tlfu *c)
{
    gomap__sketch_free(&c->sk, NULL);
    qset_free(&c->s);
    free(c);
}

/* The policy interface over a tlfu (a policy pointer is a tlfu here). */
static bool kind_access(policy *p, uint32_t k) { return tlfu_access((tlfu *)p, k); }
static size_t kind_len(const policy *p) { return tlfu_len((const tlfu *)p); }
static void kind_destroy(policy *p) { tlfu_free((tlfu *)p); }

#define TLFU_KIND(var, label, about, ...)                                                        \
    static policy *var##_create(const policy_params *p)                                          \
    {                                                                                            \
        static const tlfu_config cfg = __VA_ARGS__;                                              \
        return (policy *)tlfu_new(p, &cfg);                                                      \
    }                                                                                            \
    const policy_kind var = {label, about, var##_create, kind_access, kind_len, kind_destroy}

/* Caffeine's defaults: 1 % window; the climber samples 10 x capacity. */
TLFU_KIND(policy_wtinylfu, "W-TinyLFU", "1 % window LRU, SLRU main, count-min admission",
          {0.01, false, 10, 0.0625, 0.98, 0.05});
TLFU_KIND(policy_wtinylfu_adapt, "W-TinyLFU-adapt", "W-TinyLFU with the hill-climbed window",
          {0.01, true, 10, 0.0625, 0.98, 0.05});
