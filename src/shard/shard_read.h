/*
 * shard_read.h — the sharded map's read path, shared by single gets
 * (shardmap.c) and batch gets (shardmap_batch.c): the optimistic read
 * without the lock, and the read under the shared lock it falls back to.
 *
 * Both count the key's hit (and its miss if asked) in the calling thread's
 * lane, copy the value out (val_size bytes, zeros when absent) and answer
 * one key linearizably: the optimistic read at the instant its sequence
 * count confirms, the locked one while it holds the shard.
 */
#ifndef GOMAP_SHARD_READ_H
#define GOMAP_SHARD_READ_H

#include "base/rcu.h"
#include "shard/shardmap_internal.h"

static inline void copy_out(const gomap_shard_t *m, void *out, const void *val)
{
    layer_copy_out(out, val, m->val_size);
}

/* After a keyed operation released its shard: the auto mode's resize, if
 * a window end asked for one. */
static inline void shard_done(gomap_shard_t *m, bool tune)
{
    if (__builtin_expect(tune, 0))
        gomap__shard_auto_resize(m);
}

/* The shard of hash h in table t, inside a read-side section: t's shard,
 * or, when a move emptied it, its successor's (and so on). The moved mark
 * is read with acquire: it is set with release after the move installed
 * the target's map (gomap__shard_resize), so a reader that sees it sees
 * the target shard's map and entries. Anything reached from a table found
 * inside the section lives until the section ends. */
static inline struct shard *live_shard(struct shard_table *t, uint64_t h)
{
    struct shard *s = table_shard(t, h);
    while (__builtin_expect(load_acquire(&s->moved), 0)) {
        t = load_acquire(&s->table->next); /* set (release) before any shard moved */
        s = table_shard(t, h);
    }
    return s;
}

/* An optimistic read attempt that a writer or a move got in the way of
 * (stats: optimistic_retries), and a read that gave up and goes to the
 * lock (optimistic_fallbacks). Out of line and cold, so that the attempt
 * that succeeds, the common case, carries none of it. */
__attribute__((noinline, cold)) static void count_retry(gomap_shard_t *m, bool gave_up)
{
    fetch_add_relaxed(&m->opt_retries, 1);
    if (gave_up)
        fetch_add_relaxed(&m->opt_fallbacks, 1);
}

/* The probe of an optimistic read of a map not in the common shape
 * (growing, values over 8 bytes, keys of no fixed size): copies the whole
 * lookup header, confirms it against the sequence count seq read before,
 * then looks key up in the copy. False when a writer got in the way before
 * the probe; else *val is the value slot, or NULL. Out of line, so that
 * the common shape's read stays small (its callers are flattened). */
static __attribute__((noinline)) bool generic_probe(const gomap_t *map,
                                                    const _Atomic unsigned *seqp, unsigned seq,
                                                    int kind, const void *key, uint64_t h,
                                                    bool prefetch, const void **val)
{
    struct gomap hdr;
    gomap__copy_lookup_header(&hdr, map);
    SEQ_FENCE(fence_acquire);
    if (load_relaxed(seqp) != seq)
        return false;
    if (prefetch)
        layer_prefetch_bucket(&hdr, h);
    slot_ref r;
#define FIND(K) layer_find(&hdr, K, key, h)
    KIND_SWITCH(kind, r, FIND)
#undef FIND
    *val = r.b ? layer_value(&hdr, r) : NULL;
    return true;
}

/* An optimistic read of key (hashed h) without a lock, inside a read-side
 * section the caller holds, in which it loaded t, the head table (acquire:
 * its fields as the move that installed it wrote them), so that no table
 * or bucket array reached is freed under it (gomap__shard_take_retired,
 * gomap__shard_resize). Looks in the shard that holds the key now
 * (live_shard) and keeps the answer only if the shard's sequence count was
 * even and unchanged from before the first read to after the last one: no
 * writer, and no move, overlapped. What the probe reads of the header is
 * read and confirmed before the probe, so it indexes with a consistent
 * array and size: a map in the common shape (8-byte value slots, not
 * growing: layer_shaped_view_of) gives its array and mask alone, any other
 * its whole lookup header (a copy, 19 instructions more per get);
 * if prefetch, the whole home bucket is prefetched from the copy before the
 * probe reads it (a caller that prefetched the bucket itself, some keys
 * earlier, passes false: more prefetches in flight than the core's miss
 * buffers hold would stall it). Counts the hit (or the miss, if
 * count_miss). Returns false when a writer got in the way twice (or met
 * one inside): take the lock (shard_locked_read). Counts each attempt a
 * writer got in the way of, and the giving up (count_retry). */
ALWAYS_INLINE bool shard_optimistic_read(gomap_shard_t *m, struct shard_table *t, int kind,
                                         const void *key, uint64_t h, void *val_out,
                                         bool count_miss, bool prefetch, bool *found)
{
    for (int tries = 0; tries < 2; tries++) {
        struct shard *s = live_shard(t, h);
        unsigned seq = load_acquire(&s->seq);
        if (seq & 1) {
            count_retry(m, true);
            return false;
        }
        /* A move of s starts with its count made odd: re-checking the
         * count below also catches a move that began after live_shard. */
        const void *val;
        layer_shaped_view v;
        if (layer_shaped_view_of(s->map, kind, 8, &v)) {
            /* The common shape (8-byte value slots: values of at most 8
             * bytes): the array and its mask are all the probe needs of
             * the header. */
            SEQ_FENCE(fence_acquire);
            if (load_relaxed(&s->seq) != seq) {
                count_retry(m, tries == 1);
                continue;
            }
            if (prefetch)
                layer_shaped_prefetch(v, kind, 8, h);
            val = layer_shaped_find(s->map, v, kind, 8, key, h);
        } else if (!generic_probe(s->map, &s->seq, seq, kind, key, h, prefetch, &val)) {
            count_retry(m, tries == 1);
            continue;
        }
        copy_out(m, val_out, val);
        SEQ_FENCE(fence_acquire);
        if (load_relaxed(&s->seq) != seq) {
            count_retry(m, tries == 1);
            continue;
        }
        *found = val != NULL;
        if (val || count_miss)
            shard_count(m, s, val != NULL);
        return true;
    }
    return false;
}

/* Reads key (hashed h) under its shard's shared lock: copies its value out
 * and counts a hit (and a miss only if count_miss). */
ALWAYS_INLINE bool shard_locked_read(gomap_shard_t *m, int kind, const void *key, uint64_t h,
                                     void *val_out, bool count_miss)
{
    struct shard *s = gomap__shard_acquire(m, h, true);
    slot_ref r = layer_find(s->map, kind, key, h);
    copy_out(m, val_out, r.b ? layer_value(s->map, r) : NULL);
    if (r.b || count_miss)
        shard_count(m, s, r.b != NULL);
    shard_done(m, shard_release(m, s));
    return r.b != NULL;
}

#endif /* GOMAP_SHARD_READ_H */
