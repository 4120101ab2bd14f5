/*
 * map_iter.c — randomised iteration that survives growth (Go's mapiternext).
 *
 * An iterator walks the bucket array that was current when it started
 * (it->buckets_), from a random bucket, applying a random slot offset inside
 * every bucket. While walking:
 *
 * - If a grow to the iterator's own size is in progress (the map's array is
 *   the size the iterator knows) and the old bucket feeding this bucket has
 *   not been evacuated, it walks that old bucket instead, producing only the
 *   entries that will land in the bucket it is at (check_bucket_), so no
 *   entry comes out twice.
 * - A slot marked evacuated holds a stale copy of a key that now lives in a
 *   newer array: the iterator looks the key up and produces the current
 *   entry, or nothing if it was deleted meanwhile. A NaN key cannot be looked
 *   up; its stale copy is produced as is (NaNs are never updated or deleted).
 *
 * The arrays and key bytes an iterator may still read are kept alive by the
 * map's graveyard (map.c) while the iterator is live.
 */
#include "core/map_internal.h"
#include "base/rand.h"

#define NO_CHECK SIZE_MAX

/* it->state_ */
enum { ITER_UNSTARTED = 0, ITER_LIVE, ITER_EXHAUSTED, ITER_DONE };

/* Ends an iteration. An iterator the map has already ended (its epoch is
 * over: map.c reclaimed what it walked) is no longer counted. */
static void iter_end(gomap_iter *it, uint8_t state)
{
    if (it->live_) {
        gomap_t *m = it->map_;
        if (it->epoch_ == m->iter_epoch)
            fetch_sub_relaxed(&m->iterators, 1);
        it->live_ = 0;
    }
    it->state_ = state;
}

/* A live iterator stepped after the map ended it (map.c: the memory kept
 * for live iterators outgrew its bound, so the map freed it). */
static _Noreturn __attribute__((noinline, cold)) void resumed_after_reclaim(const gomap_iter *it,
                                                                           const void *site)
{
    gomap__fault_held(it->map_, MSG_ITER_RECLAIMED, site,
                      "an iterator the map ended when it reclaimed the memory kept for "
                      "iterators; the iterator was created", it->site_);
}

void gomap_iter_init(gomap_iter *it, gomap_t *m)
{
    if (!it)
        return;
    memset(it, 0, sizeof *it);
    it->map_ = m;
    it->site_ = GOMAP_CALLER;
    if (!m || m->count == 0) {
        it->state_ = ITER_EXHAUSTED; /* nothing to produce; never live */
        return;
    }
    it->map_id_ = m->id;
    uint64_t r = gomap__rand64();
    it->buckets_ = m->buckets;
    it->b_ = m->B;
    it->start_bucket_ = (size_t)r & bucket_mask(m->B);
    it->offset_ = (uint8_t)((r >> m->B) & (BUCKET_SLOTS - 1));
    it->bucket_ = it->start_bucket_;
    it->check_bucket_ = NO_CHECK;
    it->clear_seq_ = m->clear_seq;
    it->epoch_ = m->iter_epoch;
    if (fetch_add_relaxed(&m->iterators, 1) == 0)
        store_relaxed(&m->iter_site, it->site_);
    it->live_ = 1;
    it->state_ = ITER_LIVE;
}

void gomap_iter_done(gomap_iter *it)
{
    if (it)
        iter_end(it, ITER_DONE);
}

/* Starts the next bucket; false when every bucket has been visited. */
static bool enter_next_bucket(gomap_iter *it, const gomap_t *m)
{
    if (it->bucket_ == it->start_bucket_ && it->wrapped_)
        return false;
    size_t bucket = it->bucket_;
    char *b = bucket_at(m, it->buckets_, bucket);
    it->check_bucket_ = NO_CHECK;
    if (is_growing(m) && it->b_ == m->B) {
        /* Started mid-grow (or a same-size grow began since): while the
         * old bucket has not been evacuated, its entries are the truth. */
        char *ob = bucket_at(m, m->oldbuckets, bucket & (old_bucket_count(m) - 1));
        if (!is_evacuated_bucket(ob)) {
            b = ob;
            it->check_bucket_ = bucket;
        } else {
            b = bucket_at(m, m->buckets, bucket);
        }
    }
    if (++it->bucket_ == ((size_t)1 << it->b_)) {
        it->bucket_ = 0;
        it->wrapped_ = 1;
    }
    it->bucket_ptr_ = b;
    it->slot_ = 0;
    return true;
}

/* For an old bucket walked on behalf of new bucket check_bucket_: does the
 * entry in slot i belong there? */
static bool belongs_to_checked_bucket(const gomap_iter *it, const gomap_t *m,
                                      char *b, unsigned i, const void *key)
{
    if (it->check_bucket_ == NO_CHECK || (m->flags & FLAG_SAME_SIZE_GROW))
        return true;
    if (gomap__key_is_reflexive(m, key))
        return (gomap__hash_key(m, key) & bucket_mask(it->b_)) == it->check_bucket_;
    /* NaN: evacuation sends it by the low bit of its tophash. */
    return (it->check_bucket_ >> (it->b_ - 1)) == (size_t)(tophash_of(b)[i] & 1);
}

bool gomap_iter_next(gomap_iter *it, const void **key, void **val)
{
    if (!it)
        return false;
#if GOMAP_DEBUG_LEVEL >= 1
    if (it->state_ == ITER_DONE)
        gomap__fault(it->map_, MSG_ITER_AFTER_DONE, 0, GOMAP_CALLER);
    if (it->live_ && ((gomap_t *)it->map_)->id != it->map_id_)
        gomap__fault(NULL, MSG_ITER_OTHER_MAP, 0, GOMAP_CALLER);
#endif
    if (!it->live_)
        return false;
    gomap_t *m = it->map_;
    gomap__read_check(m, MSG_ITER_WRITE, GOMAP_CALLER);
    if (__builtin_expect(it->epoch_ != m->iter_epoch, 0))
        resumed_after_reclaim(it, GOMAP_CALLER);
    if (m->clear_seq != it->clear_seq_)
        goto done; /* cleared: stop (golang/go#59411) */
    for (;;) {
        if (!it->bucket_ptr_ && !enter_next_bucket(it, m))
            goto done;
        char *b = it->bucket_ptr_;
        while (it->slot_ < BUCKET_SLOTS) {
            unsigned i = (it->slot_++ + it->offset_) & (BUCKET_SLOTS - 1);
            uint8_t top = tophash_of(b)[i];
            if (is_empty_top(top) || top == EVACUATED_EMPTY)
                continue;
            const void *k = key_of_slot(m, key_slot_at(m, b, i));
            void *v;
            if (!belongs_to_checked_bucket(it, m, b, i, k))
                continue;
            if ((top != EVACUATED_X && top != EVACUATED_Y) || !gomap__key_is_reflexive(m, k)) {
                v = val_of_slot(m, val_slot_at(m, b, i));
            } else {
                /* Moved since the iteration started: produce it as it is
                 * now, or skip it if it has been deleted. */
                slot_ref r = gomap__find_hashed(m, k, gomap__hash_key(m, k));
                if (!r.b)
                    continue;
                k = key_of_slot(m, key_slot_at(m, r.b, r.i));
                v = val_of_slot(m, val_slot_at(m, r.b, r.i));
            }
            if (key)
                *key = k;
            if (val)
                *val = v;
            return true;
        }
        it->bucket_ptr_ = *overflow_of(m, b);
        it->slot_ = 0;
    }
done:
    iter_end(it, ITER_EXHAUSTED);
    return false;
}
