/*
 * syncmap_mem.c — the sync map's boxes, entries and tables: boxes and
 * entries are objects of syncmap_slab.c (carved from the map's blocks,
 * retired in batches and recycled there); tables come from the allocator
 * one by one and are retired one by one.
 *
 * Overwriting a key allocates a box and retires the old one. Done one by
 * one with malloc and call_rcu, that cost 240 ns per overwrite: a call_rcu
 * each (liburcu's queue, its thread's wake-ups, a thread-local lookup in a
 * shared library), and a malloc that always missed malloc's per-thread
 * cache, since every box was freed on liburcu's thread. Batches and
 * per-stripe free lists (syncmap_slab.c) took that to a recycled box and
 * one call_rcu per 64 boxes.
 */
#include "sync/syncmap_internal.h"

const char gomap__sync_expunged;
const char gomap__sync_present;

/* ---- boxes ------------------------------------------------------------------ */

struct box *gomap__box_new(gomap_sync_t *m, const void *val)
{
    if (m->val_size == 0)
        return PRESENT;
    struct sync_obj *o = gomap__obj_new(m, OBJ_BOX);
    if (!o)
        return NULL;
    struct box *b = GOMAP_CONTAINER_OF(o, struct box, obj);
    copy_slot_bytes(box_val(b), val, m->val_size);
    return b;
}

void gomap__box_retire(gomap_sync_t *m, struct box *b)
{
    if (b == PRESENT)
        return;
    GOMAP_ASSERT(b != NULL && b != EXPUNGED); /* a real box */
    gomap__obj_retire(m, &b->obj);
}

/* ---- entries ------------------------------------------------------------------ */

/* No reader can be reading the recycled entry's p: it was retired, and
 * recycled only after every read-side section that could have found it
 * had ended. The entry is published by the table insert and the release
 * store of the read part that follow, under mu. */
struct entry *gomap__entry_new(gomap_sync_t *m, struct box *val)
{
    struct sync_obj *o = gomap__obj_new(m, OBJ_ENTRY);
    if (!o)
        return NULL;
    struct entry *e = GOMAP_CONTAINER_OF(o, struct entry, obj);
    store_relaxed(&e->p, val);
    return e;
}

void gomap__entry_retire(gomap_sync_t *m, struct entry *e)
{
    gomap__obj_retire(m, &e->obj);
}

/* ---- tables ------------------------------------------------------------------- */

struct table *gomap__table_new(gomap_sync_t *m, size_t hint)
{
    struct table *t = gomap__alloc(m->inner.alloc, sizeof *t);
    if (!t)
        return NULL;
    gomap_options o = m->inner;
    o.hint = hint;
    if (gomap__new_seeded(&t->map, &o, m->seed) != 0) {
        gomap__free(m->inner.alloc, t, sizeof *t);
        return NULL;
    }
    t->owner = m;
    t->bytes = 0;
    return t;
}

void gomap__table_free_now(gomap_sync_t *m, struct table *t)
{
    gomap_free(t->map);
    gomap__free(m->inner.alloc, t, sizeof *t);
}

static void table_free_deferred(struct gomap_retired *r)
{
    struct table *t = GOMAP_CONTAINER_OF(r, struct table, retired);
    gomap_sync_t *m = t->owner;
    size_t bytes = t->bytes;
    gomap__table_free_now(m, t);
    gomap__count_reclaimed(&m->reclaim, 1, bytes); /* last use of m */
}

void gomap__table_retire(gomap_sync_t *m, struct table *t)
{
    t->bytes = sizeof *t + layer_bytes_held(t->map);
    gomap__count_retired(&m->reclaim, 1, t->bytes);
    gomap__rcu_retire(&t->retired, table_free_deferred);
}
