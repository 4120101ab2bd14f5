/*
 * syncmap_mem.c — the sync map's memory: boxes, entries and tables, their
 * retirement through RCU, and the recycling of boxes.
 *
 * Overwriting a key allocates a box and retires the old one. Done one by
 * one, that cost 240 ns per overwrite: a call_rcu each (liburcu's queue,
 * its thread's wake-ups, a thread-local lookup in a shared library), and a
 * malloc that always missed malloc's per-thread cache, since every box was
 * freed on liburcu's thread. So:
 *
 * Batches. A retired box is pushed onto the pending stack of the retiring
 * thread's stripe (syncmap_internal.h); the writer whose push makes
 * BOX_BATCH of them takes the whole stack, counts it as retired and
 * retires it with one call_rcu. A box pushed at time t is retired at some
 * later time, so its grace period still covers every reader that could
 * have seen it. Clear, promotion, stats and free hand over partial batches.
 * Each pushed box records the stack's bottom and its depth, so the batch's
 * length and last box are known without walking it (a walk costs a cache
 * miss per box, on the reclamation thread, which then fell behind).
 *
 * Recycling. When a batch's grace period has ended its boxes go onto the
 * free list of the stripe that retired them, a stack writers of that
 * stripe pop by compare-and-swap (up to max_free boxes a stripe; the rest
 * are freed). The free list has no ABA problem because a box is pushed
 * only after a grace period and popped only inside a read-side section: a
 * box a popper has seen at the top cannot be popped, reused, retired and
 * pushed back before that popper's section ends. For the same reason a box
 * that was popped but never published (a lost CAS race, a failed write) is
 * not freed at once, since a stale popper may still read its link: it is
 * retired like a replaced one.
 *
 * Stripes. With one pending stack, one free list and their counters per
 * map, every overwrite made four atomic read-modify-writes on lines every
 * writing thread wrote: from two threads on, the lines moved between cores
 * on every overwrite. Per stripe, threads of different stripes touch
 * nothing in common (docs/syncmap.md has the figures); a stripe's boxes are
 * counted as retired when their batch is handed over, so the map's
 * retired counters are written once a batch, not once a box.
 */
#include "sync/syncmap_internal.h"

const char gomap__sync_expunged;
const char gomap__sync_present;

/* ---- boxes ------------------------------------------------------------------ */

#define BOX_BATCH 64

static size_t box_bytes(const gomap_sync_t *m)
{
    return BOX_HDR + m->val_size;
}

static inline struct box *next_of(struct box *b)
{
    return load_relaxed(&b->next_free);
}

/* Pops a recycled box of stripe s, or NULL. Inside a read-side section
 * (see the top). */
static struct box *box_pop(struct sync_stripe *s)
{
    struct box *b = load_acquire(&s->free_boxes);
    while (b && !cas_weak_acquire(&s->free_boxes, &b, next_of(b)))
        ;
    if (b)
        fetch_sub_relaxed(&s->nfree, 1);
    return b;
}

/* Pushes the chain first..last (linked by next_free) onto a stack. */
static void push_chain(_Atomic(struct box *) *stack, struct box *first, struct box *last)
{
    struct box *top = load_relaxed(stack);
    do
        store_relaxed(&last->next_free, top);
    while (!cas_weak_release(stack, &top, first));
}

struct box *gomap__box_new(gomap_sync_t *m, const void *val)
{
    if (m->val_size == 0)
        return PRESENT;
    struct box *b = box_pop(my_stripe(m));
    if (!b) {
        b = gomap__alloc(m->inner.alloc, box_bytes(m));
        if (!b)
            return NULL;
        b->owner = m;
    }
    copy_slot_bytes(box_val(b), val, m->val_size);
    return b;
}

void gomap__box_discard(gomap_sync_t *m, struct box *b)
{
    /* A box fresh from the free list may still be the top some other
     * popper read and is about to dereference: it must wait for a grace
     * period like any retired box. */
    gomap__box_retire(m, b);
}

/* A batch's grace period has ended: its boxes are recycled by the stripe
 * that retired them, or freed once that stripe's free list is full. */
static void box_batch_free_deferred(struct gomap_retired *r)
{
    struct box *b = GOMAP_CONTAINER_OF(r, struct box, retired);
    gomap_sync_t *m = b->owner;
    struct sync_stripe *s = &m->stripes[b->stripe];
    size_t bytes = box_bytes(m), n = b->depth;
    GOMAP_ASSERT(n >= 1 && b->bottom != NULL && b->stripe < STRIPES);
    if (load_relaxed(&s->nfree) + n <= m->max_free) {
        fetch_add_relaxed(&s->nfree, n);
        push_chain(&s->free_boxes, b, b->bottom);
    } else {
        while (b) {
            struct box *next = next_of(b);
            gomap__free(m->inner.alloc, b, bytes);
            b = next;
        }
    }
    gomap__count_reclaimed(&m->reclaim, n, n * bytes); /* last use of m */
}

/* Hands stripe s's pending boxes to RCU as one batch, counted as retired
 * first (so that the free function can never count them out first). */
static void flush_stripe(gomap_sync_t *m, struct sync_stripe *s)
{
    struct box *chain = exchange_acquire(&s->pending, NULL);
    if (!chain)
        return;
    gomap__count_retired(&m->reclaim, chain->depth, chain->depth * box_bytes(m));
    gomap__rcu_retire(&chain->retired, box_batch_free_deferred);
}

void gomap__box_flush(gomap_sync_t *m)
{
    for (unsigned i = 0; i < STRIPES; i++)
        flush_stripe(m, &m->stripes[i]);
}

/* Inside a read-side section: the top read here may be flushed by another
 * writer of the stripe meanwhile (then the CAS fails), but not freed or
 * reused before the section ends, so reading its bottom and depth is
 * safe. */
void gomap__box_retire(gomap_sync_t *m, struct box *b)
{
    if (b == PRESENT)
        return;
    GOMAP_ASSERT(b != NULL && b != EXPUNGED); /* a real box */
    struct sync_stripe *s = my_stripe(m);
    b->stripe = (uint32_t)(s - m->stripes);
    struct box *top = load_acquire(&s->pending);
    do {
        store_relaxed(&b->next_free, top);
        b->bottom = top ? top->bottom : b;
        b->depth = top ? top->depth + 1 : 1;
    } while (!cas_weak_acq_rel(&s->pending, &top, b));
    if (b->depth >= BOX_BATCH)
        flush_stripe(m, s);
}

void gomap__box_free_now(gomap_sync_t *m, struct box *b)
{
    if (b != PRESENT)
        gomap__free(m->inner.alloc, b, box_bytes(m));
}

void gomap__box_free_list(gomap_sync_t *m)
{
    for (unsigned i = 0; i < STRIPES; i++) {
        struct sync_stripe *s = &m->stripes[i];
        struct box *b = exchange_acquire(&s->free_boxes, NULL);
        while (b) {
            struct box *next = next_of(b);
            gomap__free(m->inner.alloc, b, box_bytes(m));
            b = next;
        }
        store_relaxed(&s->nfree, 0);
    }
}

/* ---- entries ------------------------------------------------------------------ */

struct entry *gomap__entry_new(gomap_sync_t *m, struct box *val)
{
    struct entry *e = gomap__alloc(m->inner.alloc, sizeof *e);
    if (!e)
        return NULL;
    e->owner = m;
    atomic_init(&e->p, val);
    return e;
}

void gomap__entry_free_now(gomap_sync_t *m, struct entry *e)
{
    gomap__free(m->inner.alloc, e, sizeof *e);
}

static void entry_free_deferred(struct gomap_retired *r)
{
    struct entry *e = GOMAP_CONTAINER_OF(r, struct entry, retired);
    gomap_sync_t *m = e->owner;
    gomap__entry_free_now(m, e);
    gomap__count_reclaimed(&m->reclaim, 1, sizeof *e); /* last use of m */
}

void gomap__entry_retire(gomap_sync_t *m, struct entry *e)
{
    gomap__count_retired(&m->reclaim, 1, sizeof *e);
    gomap__rcu_retire(&e->retired, entry_free_deferred);
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
