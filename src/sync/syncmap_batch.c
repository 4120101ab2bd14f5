/*
 * syncmap_batch.c — gomap_sync_load_many: many loads in one call, their
 * cache misses overlapped.
 *
 * A lock-free load of a present key follows three dependent pointers, each
 * a cache miss in a big map: the read part's bucket, the key's entry (which
 * holds the pointer to the value box) and the box. One load waits for them
 * one after another; here the keys are software-pipelined in stages, so
 * the misses of about a window of keys are in flight at once:
 *
 *   key i + WINDOW      hash it, prefetch its bucket in the read part
 *   key i + WINDOW / 2  find its entry there (the bucket has arrived),
 *                       prefetch the entry
 *   key i + WINDOW / 4  load the entry's box pointer (acquire), prefetch
 *                       the value bytes
 *   key i               copy the value out
 *
 * The load of the box pointer is the key's linearization point, as in
 * gomap_sync_load; a box is immutable once published, so copying it later
 * in the same read-side section copies what was loaded. The read part is
 * loaded once per chunk of GOMAP_BATCH_CHUNK keys (base/batch.h; acquire,
 * inside the chunk's read-side section, so it and everything reached from
 * it stay allocated):
 * a key looked up in a read part that a promotion has since replaced is
 * answered as a load that read the read part just before the promotion
 * would be. A key not in the read part, when the read part is amended,
 * takes gomap_sync_load's slow path (gomap__sync_find_entry_locked: the
 * mutex, dirty, one miss counted, a promotion when misses reach the dirty
 * map's size), so misses are counted and promotions happen exactly as for
 * single loads. Nothing is allocated: the pipeline's state is on the stack.
 */
#include "sync/syncmap_internal.h"

#include <string.h>

#include "base/batch.h"

/* Keys in flight; a power of two, as in the core map's batch lookups. */
#define WINDOW 16

/* One key's state in the pipeline. */
struct slot {
    uint64_t hash;
    struct entry *e;   /* its entry in the read part, or NULL */
    struct box *p;     /* the entry's value when loaded */
    bool skip;         /* a key no map accepts: absent */
};

/* Stage one: hash, and prefetch the key's bucket in the read part t. */
ALWAYS_INLINE void stage_hash(const gomap_sync_t *m, const struct table *t, int kind,
                              const void *key, struct slot *s)
{
    s->skip = !gomap__key_ok(kind, key);
    s->e = NULL;
    s->p = NULL;
    if (s->skip)
        return;
    s->hash = layer_hash(&m->hasher, kind, key);
    if (t)
        gomap__prefetch_hashed(t->map, s->hash);
}

/* Stage two: the key's entry in t, prefetched. */
ALWAYS_INLINE void stage_entry(const struct table *t, int kind, const void *key, struct slot *s)
{
    if (s->skip)
        return;
    s->e = table_find_kind(t, kind, key, s->hash);
    if (s->e)
        __builtin_prefetch(&s->e->p, 0, 3);
}

/* Stage three: the entry's value (acquire: the box's bytes as its storer
 * wrote them), its bytes prefetched. */
ALWAYS_INLINE void stage_box(const gomap_sync_t *m, struct slot *s)
{
    if (!s->e)
        return;
    s->p = load_acquire(&s->e->p);
    if (m->val_size && has_value(s->p))
        __builtin_prefetch(box_val(s->p), 0, 3);
}

/* The last stage: key i's answer, through the slow path when it is not in
 * the read part and the read part is amended. */
ALWAYS_INLINE bool finish(gomap_sync_t *m, bool amended, const void *key, struct slot *s,
                          void *out)
{
    struct box *p = s->p;
    if (!s->e && !s->skip && amended) {
        struct entry *e = gomap__sync_find_entry_locked(m, key, s->hash);
        p = e ? load_acquire(&e->p) : NULL;
    }
    bool found = has_value(p);
    if (out && m->val_size) {
        if (found)
            copy_slot_bytes(out, box_val(p), m->val_size);
        else
            memset(out, 0, m->val_size);
    }
    return found;
}

/* Keys [from, from + n) of kind `kind`, n <= GOMAP_BATCH_CHUNK, in one
 * read-side section. Returns how many were found. */
ALWAYS_INLINE size_t chunk_kind(gomap_sync_t *m, int kind, const char *keys, size_t stride,
                                size_t from, size_t n, void *vals_out, bool *found_out)
{
    struct slot sl[WINDOW];
    const char *k0 = keys + from * stride;
    size_t found = 0;
    gomap__rcu_read_lock();
    uintptr_t w = read_word(m);
    const struct table *t = read_table(w);
    const bool amended = read_amended(w);
#define KEY(j) (k0 + (j) * stride)
#define SL(j) (&sl[(j) & (WINDOW - 1)])
    for (size_t j = 0; j < n && j < WINDOW; j++)
        stage_hash(m, t, kind, KEY(j), SL(j));
    for (size_t j = 0; j < n && j < WINDOW / 2; j++)
        stage_entry(t, kind, KEY(j), SL(j));
    for (size_t j = 0; j < n && j < WINDOW / 4; j++)
        stage_box(m, SL(j));
    for (size_t i = 0; i < n; i++) {
        struct slot cur = *SL(i);
        if (i + WINDOW < n)
            stage_hash(m, t, kind, KEY(i + WINDOW), SL(i + WINDOW));
        if (i + WINDOW / 2 < n)
            stage_entry(t, kind, KEY(i + WINDOW / 2), SL(i + WINDOW / 2));
        if (i + WINDOW / 4 < n)
            stage_box(m, SL(i + WINDOW / 4));
        void *out = vals_out ? (char *)vals_out + (from + i) * m->val_size : NULL;
        bool hit = finish(m, amended, KEY(i), &cur, out);
        if (found_out)
            found_out[from + i] = hit;
        found += hit;
    }
#undef SL
#undef KEY
    gomap__rcu_read_unlock();
    return found;
}

ALWAYS_INLINE size_t many_kind(gomap_sync_t *m, int kind, const char *keys, size_t n,
                               void *vals_out, bool *found_out)
{
    const size_t stride = gomap__key_stride(kind, m->inner.key_size);
    size_t found = 0;
    for (size_t from = 0; from < n; from += GOMAP_BATCH_CHUNK)
        found += chunk_kind(m, kind, keys, stride, from, gomap__batch_chunk(n, from), vals_out,
                            found_out);
    return found;
}

size_t gomap_sync_load_many(gomap_sync_t *m, const void *keys, size_t n, void *vals_out,
                            bool *found_out)
{
    if (!gomap__batch_begin(m != NULL, m ? m->val_size : 0, keys, n, vals_out, found_out))
        return 0;
    size_t found;
#define MANY(K) many_kind(m, K, keys, n, vals_out, found_out)
    KIND_SWITCH(m->key_kind, found, MANY)
#undef MANY
    return found;
}
