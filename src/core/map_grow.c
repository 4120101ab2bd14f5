/*
 * map_grow.c — incremental growth, as in Go.
 *
 * Starting a grow only allocates the new array (twice the size, or the same
 * size to squeeze out overflow buckets left by deletes). After that, every
 * insert or delete evacuates the old bucket its key maps to plus one more in
 * order, so no write moves more than two old chains. Old bucket i splits into
 * new buckets i (X) and i + 2^oldB (Y) by one more bit of the hash.
 *
 * Evacuated old slots keep their key bytes and get marker tophashes
 * (EVACUATED_X/Y/EMPTY): an iterator that started on the old array reads the
 * key there and looks up its current value. Their out-of-line memory now
 * belongs to the new slot.
 *
 * Out of memory: the overflow buckets a chain's evacuation needs are counted
 * and allocated before anything moves, so a failed evacuation changes
 * nothing.
 *
 * Memory: the old array and the overflow buckets chained to it are given
 * back in slices by the writes after the growth (map_release.c), so no
 * single write frees a whole array. (Freeing an evacuated chain's overflow
 * buckets during its evacuation was measured and dropped: unlinking each
 * from its array's list and freeing it costs the evacuating insert cache
 * misses, about +400 ns on the mean insert during growth; docs/map.md.)
 */
#include <errno.h>

#include "core/layer.h"
#include "core/map_probe.h"

int gomap__hash_grow(gomap_t *m)
{
    unsigned bigger = over_load_factor(m->count + 1, m->B) ? 1 : 0;
    if (m->B + bigger > MAX_B)
        return -ENOMEM;
    char *arr = gomap__array_alloc(m, m->B + bigger);
    if (!arr)
        return -ENOMEM;
    m->oldbuckets = m->buckets;
    m->buckets = arr;
    m->B = (uint8_t)(m->B + bigger);
    lookup_refresh(m);
    m->flags = bigger ? (uint8_t)(m->flags & ~FLAG_SAME_SIZE_GROW)
                      : (uint8_t)(m->flags | FLAG_SAME_SIZE_GROW);
    m->nevacuate = 0;
    m->noverflow = 0; /* counts the new array's overflow buckets from now on */
    return 0;
}

/* Which half a live entry goes to when doubling. Keys equal to themselves go
 * by their hash; a NaN (whose hash cannot be recomputed) goes by the low bit
 * of its tophash — Go's rule, which iterators rely on too. (The NaN also
 * gets a fresh random tophash when it moves, see move_chain.) */
static inline bool goes_to_y(const gomap_t *m, int kind, char *b, unsigned i, size_t newbit)
{
    const void *key = slot_key(m, kind, key_slot_at(m, b, i));
    if (key_is_nan(kind, key))
        return tophash_of(b)[i] & 1;
    return (hash_of(m, kind, key) & newbit) != 0;
}

/* Destination of an evacuation: a bucket and the next free slot in it. */
typedef struct {
    char *b;
    unsigned i;
} evac_dst;

static size_t overflow_needed(size_t entries)
{
    return entries > BUCKET_SLOTS ? (entries - 1) / BUCKET_SLOTS : 0;
}

/* The halves of the first 64 slots of a chain (bit s: slot s of the chain
 * goes to Y), computed once by the counting pass so that a chain with
 * overflow buckets hashes each key once. Later slots are hashed again. */
#define YBITS_SLOTS 64

/* Allocates the overflow buckets that evacuating the chain at `ob` needs
 * (its destinations start empty), linked through their overflow pointers,
 * and records the halves of the first YBITS_SLOTS slots in *ybits.
 * Returns 0 with *spare set, or -ENOMEM having allocated nothing. */
ALWAYS_INLINE int reserve_overflow(gomap_t *m, int kind, char *ob, size_t newbit,
                                   bool same_size, char **spare, uint64_t *ybits)
{
    *spare = NULL;
    *ybits = 0;
    size_t nx = 0, ny = 0;
    unsigned s = 0;
    for (char *b = ob; b; b = *overflow_of(m, b)) {
        for (unsigned i = 0; i < BUCKET_SLOTS; i++, s++) {
            if (is_empty_top(tophash_of(b)[i]))
                continue;
            if (!same_size && goes_to_y(m, kind, b, i, newbit)) {
                ny++;
                if (s < YBITS_SLOTS)
                    *ybits |= (uint64_t)1 << s;
            } else {
                nx++;
            }
        }
    }
    for (size_t n = overflow_needed(nx) + overflow_needed(ny); n; n--) {
        char *nb = gomap__overflow_new(m);
        if (!nb) {
            while (*spare) {
                char *next = *overflow_of(m, *spare);
                gomap__overflow_discard(m, *spare);
                *spare = next;
            }
            return -ENOMEM;
        }
        *overflow_of(m, nb) = *spare;
        *spare = nb;
    }
    return 0;
}

static void advance_evacuation_mark(gomap_t *m, size_t newbit)
{
    m->nevacuate++;
    /* Skip buckets already evacuated out of order, boundedly (Go: 1024). */
    size_t stop = m->nevacuate + 1024;
    if (stop > newbit)
        stop = newbit;
    while (m->nevacuate != stop && is_evacuated_bucket(bucket_at(m, m->oldbuckets, m->nevacuate)))
        m->nevacuate++;
    if (m->nevacuate == newbit) {
        /* Growth is done: the old array is unreachable from now on. */
        char *old = m->oldbuckets;
        m->oldbuckets = NULL;
        m->flags = (uint8_t)(m->flags & ~FLAG_SAME_SIZE_GROW);
        lookup_refresh(m);
        gomap__array_retire(m, old);
    }
}

/* Moves every live entry of the old chain at `ob` to its new bucket, marking
 * the old slots EVACUATED_X/Y/EMPTY. `spare` holds exactly the overflow
 * buckets the move needs; when `have_ybits`, ybits gives the half of the
 * chain's first YBITS_SLOTS slots. Cannot fail. */
ALWAYS_INLINE void move_chain(gomap_t *m, int kind, char *ob, size_t oldbucket, size_t newbit,
                              bool same_size, char *spare, bool have_ybits, uint64_t ybits)
{
    const size_t kbytes = key_slot_bytes(m, kind), vbytes = m->val_slot;
    evac_dst dst[2] = {
        {bucket_at(m, m->buckets, oldbucket), 0},
        {same_size ? NULL : bucket_at(m, m->buckets, oldbucket + newbit), 0},
    };
    unsigned s = 0;
    for (char *b = ob; b; b = *overflow_of(m, b)) {
        uint8_t *th = tophash_of(b);
        for (unsigned i = 0; i < BUCKET_SLOTS; i++, s++) {
            uint8_t top = th[i];
            if (is_empty_top(top)) {
                th[i] = EVACUATED_EMPTY;
                continue;
            }
            GOMAP_ASSERT_ALWAYS(top >= MIN_TOPHASH); /* live: no evacuation mark */
            bool y = false;
            if (!same_size) {
                y = have_ybits && s < YBITS_SLOTS ? (ybits >> s) & 1
                                                  : goes_to_y(m, kind, b, i, newbit);
                /* A NaN gets a fresh random tophash so NaNs spread out again
                 * over later grows (Go's rule). */
                if (key_is_nan(kind, slot_key(m, kind, key_slot_at(m, b, i))))
                    top = (uint8_t)tophash_from(gomap__rand64());
            }
            th[i] = (uint8_t)(EVACUATED_X + y);
            evac_dst *d = &dst[y];
            GOMAP_ASSERT(d->b != NULL);
            if (d->i == BUCKET_SLOTS) {
                char *nb = spare;
                spare = *overflow_of(m, nb);
                *overflow_of(m, nb) = NULL;
                gomap__overflow_attach(m->buckets, nb);
                *overflow_of(m, d->b) = nb;
                m->noverflow++;
                d->b = nb;
                d->i = 0;
            }
            /* The old slot keeps its bytes for iterators; ownership of
             * out-of-line memory passes to the new slot. */
            copy_slot_bytes(key_slot_at(m, d->b, d->i), key_slot_at(m, b, i), kbytes);
            copy_slot_bytes(val_slot_at(m, d->b, d->i), val_slot_at(m, b, i), vbytes);
            tophash_of(d->b)[d->i] = top;
            d->i++;
        }
    }
    GOMAP_ASSERT_ALWAYS(!spare); /* every reserved overflow bucket used */
}

/* Evacuates old bucket `oldbucket` unless it already is, then advances the
 * evacuation mark. A chain without overflow buckets fits its destinations
 * (one bucket per half) and is moved in one pass; a longer one is counted
 * first so the overflow buckets it needs exist before anything moves. */
ALWAYS_INLINE int evacuate_kind(gomap_t *m, int kind, size_t oldbucket)
{
    const size_t newbit = old_bucket_count(m);
    const bool same_size = (m->flags & FLAG_SAME_SIZE_GROW) != 0;
    char *ob = bucket_at(m, m->oldbuckets, oldbucket);

    if (!is_evacuated_bucket(ob)) {
        char *spare = NULL;
        uint64_t ybits = 0;
        bool chained = *overflow_of(m, ob) != NULL;
        if (chained && reserve_overflow(m, kind, ob, newbit, same_size, &spare, &ybits) != 0)
            return -ENOMEM;
        move_chain(m, kind, ob, oldbucket, newbit, same_size, spare, chained, ybits);
    }
    if (oldbucket == m->nevacuate)
        advance_evacuation_mark(m, newbit);
    return 0;
}

static int evacuate(gomap_t *m, size_t oldbucket)
{
    int rc;
#define EVACUATE(K) evacuate_kind(m, K, oldbucket)
    KIND_SWITCH(m->key_kind, rc, EVACUATE)
#undef EVACUATE
    return rc;
}

int gomap__grow_work(gomap_t *m, size_t bucket)
{
    /* First the old bucket the caller's key maps to, so its write sees the
     * key where it now lives; then one more, to make progress. */
    int rc = evacuate(m, bucket & (old_bucket_count(m) - 1));
    if (is_growing(m))
        (void)evacuate(m, m->nevacuate); /* progress only; may fail harmlessly */
    return rc;
}

int gomap__grow_finish(gomap_t *m)
{
    while (is_growing(m)) {
        if (evacuate(m, m->nevacuate) != 0)
            return -ENOMEM;
    }
    return 0;
}
