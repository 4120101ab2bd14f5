/*
 * cache_wheel.c — a shard's hierarchical timing wheel of deadlines.
 *
 * Five levels of 64 buckets. A bucket of level l covers one tick of 2^S(l)
 * ns, S(l) = 24 + 6 l: 16.8 ms, 1.07 s, 68.7 s, 73.3 min and 3.26 days;
 * level l spans 64 of its ticks (1.07 s, 68.7 s, 73.3 min, 3.26 days,
 * 208 days). An entry goes to the lowest level whose span covers its
 * remaining time, in the bucket of its deadline's tick there (the bucket
 * index is the tick modulo 64). Scheduling and cancelling are O(1): a
 * bucket is a doubly linked list through the entries' wheel links.
 *
 * Working off (gomap__wheel_advance) visits, level by level, the buckets
 * of the ticks that have begun since the wheel was last worked off (at
 * most 64 per level). An entry found there whose deadline has passed
 * expires; any other is placed again from the current time, which puts it
 * on a lower level (its deadline lies within the visited tick) or, for a
 * deadline beyond the top level's span, back on the top level. So nothing
 * expires early, and an entry is reclaimed once its tick at the level it
 * waits on has begun: within that level's tick after its deadline, plus
 * the time until the next call that works the wheel off.
 *
 * A visit takes a bucket's whole list first and walks it, so entries
 * placed again meanwhile (even in the same bucket) wait for a later visit;
 * when the budget runs out the rest of the list goes back into its bucket
 * and `done` stays where it was, so the next call visits the same ticks
 * again and finds the work that is left.
 */
#include "cache/cache_internal.h"

static unsigned level_shift(unsigned level) { return WHEEL_TICK_SHIFT + WHEEL_SLOT_BITS * level; }

/* The bucket of a tick at a level (the tick modulo the level's slots). */
static uint16_t bucket_of(unsigned level, uint64_t tick)
{
    return (uint16_t)((uint64_t)level * WHEEL_SLOTS + (tick & (WHEEL_SLOTS - 1)));
}

void gomap__wheel_init(struct cache_wheel *w, uint64_t now)
{
    for (unsigned b = 0; b < WHEEL_LEVELS * WHEEL_SLOTS; b++)
        w->bucket[b] = (cache_list){CACHE_NONE, CACHE_NONE};
    w->done = now;
    w->scheduled = 0;
    w->budget = WRITE_BUDGET_MIN;
}

/* The bucket an entry with this deadline belongs in, placed at time now. */
static uint16_t bucket_for(uint64_t deadline, uint64_t now)
{
    uint64_t delta = deadline > now ? deadline - now : 0;
    for (unsigned l = 0; l < WHEEL_LEVELS; l++) {
        unsigned sh = level_shift(l);
        if (delta >> sh < WHEEL_SLOTS) {
            uint64_t tick = deadline >> sh, now_tick = now >> sh;
            if (tick <= now_tick)
                tick = now_tick + 1; /* the current tick's bucket is behind us */
            return bucket_of(l, tick);
        }
    }
    /* Beyond the top level's span: the top level's bucket 64 ticks ahead
     * (the current one), from where it is placed again. */
    unsigned top = WHEEL_LEVELS - 1;
    uint64_t now_tick = now >> level_shift(top);
    return bucket_of(top, now_tick);
}

void gomap__wheel_schedule(gomap_cache_t *c, struct cache_shard *s, uint32_t i, uint64_t now)
{
    struct cache_entry *e = entry_at(c, s, i);
    uint16_t b = bucket_for(e->deadline, now);
    gomap__clist_push_newest(c, s, &s->wheel.bucket[b], LINKS_WHEEL, i);
    e->wbucket = b;
    if (s->wheel.scheduled++ == 0)
        fetch_add_seq_cst(&c->scheduled, 1); /* see cache_maint.c */
}

void gomap__wheel_cancel(gomap_cache_t *c, struct cache_shard *s, uint32_t i)
{
    struct cache_entry *e = entry_at(c, s, i);
    if (e->wbucket == WHEEL_NO_BUCKET)
        return;
    gomap__clist_remove(c, s, &s->wheel.bucket[e->wbucket], LINKS_WHEEL, i);
    e->wbucket = WHEEL_NO_BUCKET;
    if (--s->wheel.scheduled == 0)
        fetch_sub_relaxed(&c->scheduled, 1);
}

/* Visits one bucket: returns false when the budget ran out. */
static bool visit(gomap_cache_t *c, struct cache_shard *s, uint16_t b, uint64_t now,
                  unsigned *budget, struct cache_notify *nl)
{
    cache_list *bucket = &s->wheel.bucket[b];
    if (bucket->oldest == CACHE_NONE)
        return true;
    cache_list pending = *bucket;
    *bucket = (cache_list){CACHE_NONE, CACHE_NONE};
    while (pending.oldest != CACHE_NONE) {
        if (*budget == 0) {
            *bucket = pending; /* the bucket was emptied above: give the rest back */
            return false;
        }
        --*budget;
        uint32_t i = pending.oldest;
        struct cache_entry *e = entry_at(c, s, i);
        gomap__clist_remove(c, s, &pending, LINKS_WHEEL, i);
        e->wbucket = WHEEL_NO_BUCKET;
        if (--s->wheel.scheduled == 0)
            fetch_sub_relaxed(&c->scheduled, 1);
        if (!entry_live(e, now)) {
            uint64_t drift = now - e->deadline;
            cache_count(&s->n.drift_sum, drift);
            if (drift > load_relaxed(&s->n.drift_max))
                store_relaxed(&s->n.drift_max, drift);
            gomap__cache_entry_remove_unhashed(c, s, i, GOMAP_CACHE_EXPIRED, nl);
        } else {
            cache_count(&s->n.cascades, 1);
            gomap__wheel_schedule(c, s, i, now);
        }
    }
    return true;
}

static bool advance(gomap_cache_t *c, struct cache_shard *s, uint64_t now, unsigned *budget,
                    struct cache_notify *nl);

bool gomap__wheel_advance(gomap_cache_t *c, struct cache_shard *s, uint64_t now,
                          unsigned budget, struct cache_notify *nl)
{
    return advance(c, s, now, &budget, nl);
}

void gomap__wheel_write_work(gomap_cache_t *c, struct cache_shard *s, uint64_t now,
                             struct cache_notify *nl)
{
    struct cache_wheel *w = &s->wheel;
    unsigned left = w->budget;
    bool done = advance(c, s, now, &left, nl);
    uint64_t lag = now - w->done;
    if (!done && lag >> WHEEL_TICK_SHIFT > WHEEL_BEHIND_TICKS) {
        if (w->budget < WRITE_BUDGET_MAX) {
            w->budget *= 2;
            cache_count(&s->n.budget_raises, 1);
        }
        if (lag > load_relaxed(&s->n.lag_max))
            store_relaxed(&s->n.lag_max, lag);
    } else if (done && w->budget > WRITE_BUDGET_MIN && w->budget - left < w->budget / 4) {
        w->budget /= 2;
        cache_count(&s->n.budget_cuts, 1);
    }
}

static bool advance(gomap_cache_t *c, struct cache_shard *s, uint64_t now, unsigned *budget,
                    struct cache_notify *nl)
{
    struct cache_wheel *w = &s->wheel;
    if (now <= w->done)
        return true;
    for (unsigned l = 0; l < WHEEL_LEVELS; l++) {
        unsigned sh = level_shift(l);
        uint64_t from = w->done >> sh, to = now >> sh;
        if (from == to)
            break; /* no tick of this level began, so none of the levels above */
        if (to - from > WHEEL_SLOTS)
            from = to - WHEEL_SLOTS;
        for (uint64_t t = from + 1; t <= to; t++)
            if (!visit(c, s, bucket_of(l, t), now, budget, nl))
                return false;
    }
    w->done = now;
    return true;
}
