/*
 * cache_policy.c — the size bound of a shard: W-TinyLFU over its entries,
 * with costs, and a window that follows the tuner's shadow caches.
 *
 * The lists (newest first): a window LRU that takes every new entry; a
 * main part split into probation and protected (up to 80 % of main's
 * cost). A hit in probation promotes the entry to protected, whose
 * overflow is demoted to probation's newest end. A hit in the window or in
 * protected only marks the entry (`used`); an entry found marked at its
 * list's oldest end goes back to the newest, unmarked. That is LRU order
 * as CLOCK keeps it: a hit on a hot entry writes nothing (it is marked
 * already) and touches no neighbour, so hits stay cheap and, with two
 * threads on one shard, share its cache lines instead of bouncing them. When the window's cost
 * exceeds its share, its oldest entry becomes a candidate for the main
 * part: it goes to probation and, while the shard is over its bound, duels
 * probation's oldest entry (the victim): the one with the higher estimated
 * frequency in the count-min sketch stays; a warm candidate (estimate >= 6)
 * that loses is still admitted with probability 1/128, so an attacker who
 * floods the sketch with collisions cannot pin a victim. The measurement
 * that chose this policy, and the tuner, is docs/cache-policy.md.
 *
 * A set never evicts the entry it stores (`self`): it is the window's
 * newest, so it is never the candidate while the window holds anything
 * older, and the last resort below skips it.
 *
 * Frequencies. Gets count (hits and misses); a set that inserts counts
 * unless the shard's last counted miss was the same key (a get that missed
 * and the set that fills it are one access, as a trace replay counts it).
 *
 * The window's share. Shard 0 of a bounded cache runs the tuner
 * (cache_tuner.c) on its accesses, a hash-sampled share of all of them,
 * follows its choice at once and publishes it in window_permille; every
 * other shard adopts the published share at the end of each of its epochs
 * (2 x its bound in accesses).
 */
#include <errno.h>

#include "cache/cache_internal.h"

enum { SKETCH_START = 16384 };
static const double WINDOW_START = 0.01, PROTECTED_SHARE = 0.8;

static bool bounded(const struct cache_shard *s) { return s->pol.max_cost != 0; }

static void set_share(struct cache_policy *p, double share)
{
    p->share = share;
    uint64_t w = (uint64_t)(share * (double)p->max_cost);
    p->window_max = w ? w : 1;
    p->protected_max = (uint64_t)((double)(p->max_cost - (w < p->max_cost ? w : p->max_cost)) *
                                  PROTECTED_SHARE);
}

int gomap__policy_init(gomap_cache_t *c, struct cache_shard *s, bool tuned)
{
    struct cache_policy *p = &s->pol;
    for (unsigned q = 0; q < 3; q++) {
        p->q[q] = (cache_list){CACHE_NONE, CACHE_NONE};
        p->qcost[q] = 0;
    }
    p->max_cost = s->max_cost;
    p->rng = c->seed ^ (uint64_t)(uintptr_t)s;
    if (!bounded(s))
        return 0;
    set_share(p, WINDOW_START);
    uint64_t cap = p->max_cost < SKETCH_START ? p->max_cost : SKETCH_START;
    if (gomap__sketch_init(&p->sketch, (size_t)cap, c->seed + 1, c->alloc))
        return -ENOMEM;
    p->sketch_cap = (size_t)cap;
    p->epoch_len = 2 * p->max_cost;
    if (tuned) {
        uint64_t entries = p->max_cost > SIZE_MAX ? SIZE_MAX : p->max_cost;
        p->tuner = gomap__tuner_new((size_t)entries, c->seed + 2, c->alloc);
        if (!p->tuner) {
            gomap__sketch_free(&p->sketch, c->alloc);
            return -ENOMEM;
        }
    }
    return 0;
}

void gomap__policy_destroy(gomap_cache_t *c, struct cache_shard *s)
{
    struct cache_policy *p = &s->pol;
    if (p->sketch.words)
        gomap__sketch_free(&p->sketch, c->alloc);
    if (p->tuner)
        gomap__tuner_free(p->tuner, c->alloc);
    p->tuner = NULL;
}

/* ---- lists -------------------------------------------------------------------------- */

static void push(gomap_cache_t *c, struct cache_shard *s, unsigned q, uint32_t i)
{
    struct cache_entry *e = entry_at(c, s, i);
    gomap__clist_push_newest(c, s, &s->pol.q[q], LINKS_POLICY, i);
    s->pol.qcost[q] += e->cost;
    e->queue = (uint8_t)q;
    e->used = 0;
}

void gomap__policy_unlink(gomap_cache_t *c, struct cache_shard *s, uint32_t i)
{
    if (!bounded(s))
        return;
    struct cache_entry *e = entry_at(c, s, i);
    unsigned q = e->queue;
    if (q > Q_PROTECTED)
        return;
    gomap__clist_remove(c, s, &s->pol.q[q], LINKS_POLICY, i);
    s->pol.qcost[q] -= e->cost;
    e->queue = Q_FREE;
}

static void move(gomap_cache_t *c, struct cache_shard *s, unsigned q, uint32_t i)
{
    gomap__policy_unlink(c, s, i);
    push(c, s, q, i);
}

/* The oldest entry of list q that has not been hit since it was last
 * here: each hit one on the way goes back to the newest end, unmarked (a
 * second chance, as a hit would have moved it under plain LRU). Ends: each
 * mark is spent once, so a list of n entries takes at most n moves.
 * CACHE_NONE if q is empty. */
static uint32_t oldest_unused(gomap_cache_t *c, struct cache_shard *s, unsigned q)
{
    for (;;) {
        uint32_t i = s->pol.q[q].oldest;
        if (i == CACHE_NONE || !entry_at(c, s, i)->used)
            return i;
        move(c, s, q, i);
    }
}

static void demote_protected(gomap_cache_t *c, struct cache_shard *s)
{
    struct cache_policy *p = &s->pol;
    while (p->qcost[Q_PROTECTED] > p->protected_max) {
        uint32_t i = oldest_unused(c, s, Q_PROTECTED);
        if (i == CACHE_NONE)
            break;
        move(c, s, Q_PROBATION, i);
    }
}

/* ---- the window's share ---------------------------------------------------------------- */

/* Moves entries between the window and the main part to fit a new share
 * (nothing is evicted: the total does not change). */
static void resize_window(gomap_cache_t *c, struct cache_shard *s, double share)
{
    struct cache_policy *p = &s->pol;
    set_share(p, share);
    while (p->qcost[Q_WINDOW] < p->window_max) {
        unsigned from = p->q[Q_PROBATION].oldest != CACHE_NONE ? Q_PROBATION : Q_PROTECTED;
        uint32_t i = p->q[from].oldest;
        if (i == CACHE_NONE || p->qcost[Q_WINDOW] + entry_at(c, s, i)->cost > p->window_max)
            break;
        move(c, s, Q_WINDOW, i);
    }
    while (p->qcost[Q_WINDOW] > p->window_max && p->q[Q_WINDOW].oldest != CACHE_NONE)
        move(c, s, Q_PROBATION, p->q[Q_WINDOW].oldest);
    demote_protected(c, s);
}

static void policy_follow(gomap_cache_t *c, struct cache_shard *s)
{
    if (s->pol.tuner)
        return; /* it leads */
    double share = (double)load_relaxed(&c->window_permille) / 1000.0;
    if (bounded(s) && share != s->pol.share)
        resize_window(c, s, share);
}

/* Counts an access: the sketch, the tuner (shard 0), the epoch. */
static void count_access(gomap_cache_t *c, struct cache_shard *s, uint64_t hash)
{
    struct cache_policy *p = &s->pol;
    gomap__sketch_increment(&p->sketch, hash);
    if (p->tuner) {
        gomap__tuner_access(p->tuner, hash);
        double share = gomap__tuner_window_share(p->tuner);
        if (share != p->share) {
            resize_window(c, s, share);
            store_relaxed(&c->window_permille, (uint32_t)(share * 1000.0 + 0.5));
        }
    }
    if (++p->epoch_n >= p->epoch_len) {
        p->epoch_n = 0;
        policy_follow(c, s);
    }
}

/* ---- accesses ----------------------------------------------------------------------------- */

void gomap__policy_hit(gomap_cache_t *c, struct cache_shard *s, uint32_t i, uint64_t hash)
{
    if (!bounded(s))
        return;
    count_access(c, s, hash);
    struct cache_entry *e = entry_at(c, s, i);
    if (e->queue == Q_PROBATION) {
        move(c, s, Q_PROTECTED, i);
        demote_protected(c, s);
    } else if (!e->used) { /* a hot key is marked already: no write */
        e->used = 1;
    }
}

void gomap__policy_miss(gomap_cache_t *c, struct cache_shard *s, uint64_t hash)
{
    if (!bounded(s))
        return;
    count_access(c, s, hash);
    s->pol.last_miss = hash;
}

static uint64_t entry_hash(gomap_cache_t *c, struct cache_shard *s, uint32_t i)
{
    return cache_hash(c, entry_key(c, entry_at(c, s, i)));
}

static bool admit(gomap_cache_t *c, struct cache_shard *s, uint32_t cand, uint32_t victim)
{
    struct cache_policy *p = &s->pol;
    unsigned cf = gomap__sketch_frequency(&p->sketch, entry_hash(c, s, cand));
    unsigned vf = gomap__sketch_frequency(&p->sketch, entry_hash(c, s, victim));
    return cache_admit(cf, vf, &p->rng);
}

/* Evicts entry i, counting it in *n (the call's batch). */
static void evict_one(gomap_cache_t *c, struct cache_shard *s, uint32_t i,
                      struct cache_notify *nl, uint64_t *n)
{
    gomap__cache_entry_remove_unhashed(c, s, i, GOMAP_CACHE_EVICTED, nl);
    ++*n;
}

/* Counts a call's eviction batch of n >= 1 entries in its power-of-two
 * bucket (stats.evict_batches). */
static void count_batch(struct cache_shard *s, uint64_t n)
{
    unsigned b = 0;
    while (b + 1 < GOMAP_CACHE_BATCH_BUCKETS && n > (1ull << b))
        b++;
    cache_count(&s->n.evict_batches[b], 1);
}

/* The oldest entry of list q that is not `self`, or CACHE_NONE. */
static uint32_t oldest_but(gomap_cache_t *c, struct cache_shard *s, unsigned q, uint32_t self)
{
    uint32_t i = s->pol.q[q].oldest;
    if (i == self && i != CACHE_NONE)
        i = entry_at(c, s, i)->plink.newer;
    return i;
}

/* Moves window overflow to probation; while over the bound, each candidate
 * duels probation's oldest entry. Then, if still over (costs differ, or the
 * window holds everything), evicts oldest first from probation, protected
 * and the window, never self. */
static void evict(gomap_cache_t *c, struct cache_shard *s, uint32_t self,
                  struct cache_notify *nl)
{
    struct cache_policy *p = &s->pol;
    uint64_t n = 0;
    while (p->qcost[Q_WINDOW] > p->window_max) {
        uint32_t cand = oldest_unused(c, s, Q_WINDOW);
        if (cand == self || cand == CACHE_NONE)
            break;
        move(c, s, Q_PROBATION, cand);
        while (s->cost > p->max_cost) {
            uint32_t victim = oldest_but(c, s, Q_PROBATION, self);
            if (victim == cand)
                victim = oldest_but(c, s, Q_PROTECTED, self);
            if (victim != CACHE_NONE && victim != cand && admit(c, s, cand, victim)) {
                evict_one(c, s, victim, nl, &n);
            } else {
                evict_one(c, s, cand, nl, &n);
                break;
            }
        }
    }
    static const unsigned order[] = {Q_PROBATION, Q_PROTECTED, Q_WINDOW};
    for (unsigned k = 0; k < 3 && s->cost > p->max_cost;) {
        uint32_t victim = oldest_but(c, s, order[k], self);
        if (victim == CACHE_NONE)
            k++;
        else
            evict_one(c, s, victim, nl, &n);
    }
    if (n)
        count_batch(s, n);
}

/* The sketch grows with the shard's entries up to its bound (a sketch that
 * cannot grow keeps counting in its old size). */
static void sketch_fit(gomap_cache_t *c, struct cache_shard *s)
{
    struct cache_policy *p = &s->pol;
    size_t n = layer_len(s->map);
    if (n <= p->sketch_cap || p->sketch_cap >= p->max_cost)
        return;
    uint64_t want = 2 * (uint64_t)p->sketch_cap;
    if (want > p->max_cost)
        want = p->max_cost;
    if (gomap__sketch_ensure(&p->sketch, (size_t)want, c->alloc) == 0)
        p->sketch_cap = (size_t)want;
}

void gomap__policy_insert(gomap_cache_t *c, struct cache_shard *s, uint32_t i, uint64_t hash,
                          struct cache_notify *nl)
{
    if (!bounded(s))
        return;
    if (s->pol.last_miss != hash)
        count_access(c, s, hash);
    s->pol.last_miss = 0;
    sketch_fit(c, s);
    push(c, s, Q_WINDOW, i);
    evict(c, s, i, nl);
}

void gomap__policy_update(gomap_cache_t *c, struct cache_shard *s, uint32_t i,
                          uint64_t old_cost, struct cache_notify *nl)
{
    if (!bounded(s))
        return;
    struct cache_entry *e = entry_at(c, s, i);
    unsigned q = e->queue;
    s->pol.qcost[q] += e->cost - old_cost; /* modulo 2^64: exact */
    if (e->cost > old_cost)
        evict(c, s, i, nl);
}

void gomap__policy_take_place(gomap_cache_t *c, struct cache_shard *s, uint32_t i, uint32_t j)
{
    if (!bounded(s))
        return;
    unsigned q = entry_at(c, s, i)->queue;
    gomap__policy_unlink(c, s, i);
    push(c, s, q, j);
}

void gomap__policy_evict(gomap_cache_t *c, struct cache_shard *s, uint32_t self,
                         struct cache_notify *nl)
{
    if (bounded(s))
        evict(c, s, self, nl);
}
