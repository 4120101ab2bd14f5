/*
 * syncmap_slab.c — where the sync map's boxes and entries live: blocks the
 * map owns, objects carved from them, retired in batches through RCU and
 * recycled through per-stripe free lists; never freed one by one.
 *
 * Blocks. An object (struct sync_obj heads every box and entry) is carved
 * from a block of the map's allocator; the block is pushed onto the map's
 * block stack and freed only by gomap_sync_free, with every object in it.
 * Freeing a map of n keys is then a call to the allocator per block (about
 * 2,300 for 1e6 keys), not 2n (one per entry and one per value: 57 ms for
 * 1e6 keys on an idle machine, 136-350 ms on a loaded one, against about
 * 1.2 ms now; docs/syncmap.md, "Freeing a map").
 * A map's first block of a kind is BLOCK_MIN bytes and each next one twice
 * the last, up to BLOCK_MAX, so a small map holds little and a big one few
 * blocks. BLOCK_MAX is 64 KiB, under glibc's default mmap threshold (128
 * KiB): with 256 KiB blocks each was a mapping of its own and the free of
 * 1e6 keys, 600 munmaps, took 6.4 ms instead of 1.2 ms.
 *
 * Batches. A retired object is pushed onto the pending stack of the
 * retiring thread's stripe (one stack per kind); the writer whose push
 * makes BATCH of them takes the whole stack, counts it as retired and
 * retires it with one call_rcu. An object pushed at time t is retired at
 * some later time, so its grace period still covers every reader that
 * could have seen it. Clear, promotion, stats and free hand over partial
 * batches. Each pushed object records the stack's bottom and its depth, so
 * the batch's length and last object are known without walking it (a walk
 * costs a cache miss per object, on the reclamation thread, which then fell
 * behind).
 *
 * Recycling. When a batch's grace period has ended its objects go onto the
 * free list of the stripe that retired them, a stack that writers pop by
 * compare-and-swap: their own stripe's first, then the other stripes' (so
 * that objects deleted by one thread serve the inserts of another), and
 * only when every list is empty is a new block carved. The free list has
 * no ABA problem because an object is pushed back only after a grace period
 * (a fresh block's objects were never popped) and popped only inside a
 * read-side section: an object a popper has seen at the top cannot be
 * popped, reused, retired and pushed back before that popper's section
 * ends. For the same reason an object that was popped but never published
 * (a lost CAS race, a failed write) is retired like a replaced one, since a
 * stale popper may still read its link.
 *
 * Bound. A block is carved only when every free list was found empty, so a
 * map holds at most its peak of live objects plus retired ones waiting for
 * their grace period (at most BATCH - 1 a stripe and kind wait unflushed),
 * plus, per stripe and kind, the part of a block not yet handed out.
 * Memory freed by deletes and overwrites is reused by later writes; it goes
 * back to the allocator when the map is freed.
 *
 * Stripes. With one pending stack and one free list per map, every
 * overwrite made atomic read-modify-writes on lines every writing thread
 * wrote: from two threads on, the lines moved between cores on every
 * overwrite. Per stripe, threads of different stripes touch nothing in
 * common (docs/syncmap.md has the figures); a stripe's objects are counted
 * as retired when their batch is handed over, so the map's retired
 * counters are written once a batch, not once an object.
 */
#include "sync/syncmap_internal.h"

#define BATCH 64
#define BLOCK_MIN ((size_t)1 << 10)
#define BLOCK_MAX ((size_t)64 << 10)

/* A block's header; its objects follow at BLOCK_HDR (16-aligned, as the
 * allocator's blocks are, so box values stay 16-aligned). */
struct gomap__sync_block {
    struct gomap__sync_block *next; /* the map's block stack */
    size_t bytes;                   /* as allocated */
};
#define BLOCK_HDR ((sizeof(struct gomap__sync_block) + 15) & ~(size_t)15)

void gomap__slab_init(gomap_sync_t *m)
{
    /* Boxes are a multiple of 16 bytes (aligned values), entries of 8. */
    m->obj_bytes[OBJ_BOX] = (BOX_HDR + m->val_size + 15) & ~(size_t)15;
    m->obj_bytes[OBJ_ENTRY] = (sizeof(struct entry) + 7) & ~(size_t)7;
    atomic_init(&m->blocks, NULL);
    for (unsigned k = 0; k < OBJ_KINDS; k++) {
        atomic_init(&m->nblocks[k], 0);
        for (unsigned i = 0; i < STRIPES; i++) {
            atomic_init(&m->stripes[i].objs[k].pending, NULL);
            atomic_init(&m->stripes[i].objs[k].free, NULL);
        }
    }
}

static inline struct sync_obj *next_of(struct sync_obj *o)
{
    return load_relaxed(&o->next);
}

/* Pops a recycled object, or NULL. Inside a read-side section (see the
 * top). */
static struct sync_obj *obj_pop(_Atomic(struct sync_obj *) *list)
{
    struct sync_obj *o = load_acquire(list);
    while (o && !cas_weak_acquire(list, &o, next_of(o)))
        ;
    return o;
}

/* Pushes the chain first..last (linked by next) onto a stack. Release: a
 * popper (acquire) sees the links and whatever was written to the objects
 * before. */
static void push_chain(_Atomic(struct sync_obj *) *stack, struct sync_obj *first,
                       struct sync_obj *last)
{
    struct sync_obj *top = load_relaxed(stack);
    do
        store_relaxed(&last->next, top);
    while (!cas_weak_release(stack, &top, first));
}

/* The size of the next block of a kind: doubling from BLOCK_MIN to
 * BLOCK_MAX, and at least one object (a value may be up to 16 MiB: such
 * boxes get a block each). Two writers racing may pick the same size:
 * harmless. */
static size_t block_bytes(gomap_sync_t *m, unsigned kind)
{
    unsigned made = load_relaxed(&m->nblocks[kind]);
    size_t bytes = BLOCK_MIN, one = BLOCK_HDR + m->obj_bytes[kind];
    while (made-- > 0 && bytes < BLOCK_MAX)
        bytes *= 2;
    return bytes < one ? one : bytes;
}

/* A new block of kind `kind`: its first object is returned, the others
 * (if any) go onto stripe s's free list. NULL (and nothing changed) when the allocator
 * refuses the block. */
static struct sync_obj *carve_block(gomap_sync_t *m, struct sync_stripe *s, unsigned kind)
{
    size_t bytes = block_bytes(m, kind), stride = m->obj_bytes[kind];
    struct gomap__sync_block *blk = gomap__alloc(m->inner.alloc, bytes);
    if (!blk)
        return NULL;
    blk->bytes = bytes;
    size_t n = (bytes - BLOCK_HDR) / stride;
    GOMAP_ASSERT(n >= 1);
    char *base = (char *)blk + BLOCK_HDR;
    for (size_t i = 0; i < n; i++) {
        struct sync_obj *o = (struct sync_obj *)(void *)(base + i * stride);
        o->owner = m;
        o->kind = (uint16_t)kind;
        atomic_init(&o->next, i + 1 < n ? (struct sync_obj *)(void *)(base + (i + 1) * stride)
                                        : NULL);
    }
    struct sync_obj *first = (struct sync_obj *)(void *)base;
    if (n > 1)
        push_chain(&s->objs[kind].free, next_of(first),
                   (struct sync_obj *)(void *)(base + (n - 1) * stride));
    struct gomap__sync_block *top = load_relaxed(&m->blocks);
    do
        blk->next = top;
    while (!cas_weak_release(&m->blocks, &top, blk));
    fetch_add_relaxed(&m->nblocks[kind], 1);
    return first;
}

struct sync_obj *gomap__obj_new(gomap_sync_t *m, unsigned kind)
{
    struct sync_stripe *s = my_stripe(m);
    size_t mine = (size_t)(s - m->stripes);
    for (size_t i = 0; i < STRIPES; i++) {
        struct sync_obj *o = obj_pop(&m->stripes[(mine + i) % STRIPES].objs[kind].free);
        if (o)
            return o;
    }
    return carve_block(m, s, kind);
}

/* A batch's grace period has ended: its objects go back onto the free list
 * of the stripe that retired them. */
static void batch_reclaimed(struct gomap_retired *r)
{
    struct sync_obj *o = GOMAP_CONTAINER_OF(r, struct sync_obj, retired);
    gomap_sync_t *m = o->owner;
    size_t n = o->depth;
    GOMAP_ASSERT(n >= 1 && o->bottom != NULL && o->stripe < STRIPES && o->kind < OBJ_KINDS);
    size_t bytes = n * m->obj_bytes[o->kind];
    /* Once pushed, the objects may be popped and reused at once: nothing
     * of them is read after this. */
    push_chain(&m->stripes[o->stripe].objs[o->kind].free, o, o->bottom);
    gomap__count_reclaimed(&m->reclaim, n, bytes); /* last use of m */
}

/* Hands a pending stack to RCU as one batch, counted as retired first (so
 * that batch_reclaimed can never count it out first). */
static void flush_pending(gomap_sync_t *m, _Atomic(struct sync_obj *) *pending)
{
    struct sync_obj *chain = exchange_acquire(pending, NULL);
    if (!chain)
        return;
    gomap__count_retired(&m->reclaim, chain->depth, chain->depth * m->obj_bytes[chain->kind]);
    gomap__rcu_retire(&chain->retired, batch_reclaimed);
}

void gomap__obj_flush(gomap_sync_t *m)
{
    for (unsigned i = 0; i < STRIPES; i++)
        for (unsigned k = 0; k < OBJ_KINDS; k++)
            flush_pending(m, &m->stripes[i].objs[k].pending);
}

/* Inside a read-side section: the top read here may be flushed by another
 * writer of the stripe meanwhile (then the CAS fails), but not recycled
 * before the section ends, so reading its bottom and depth is safe. */
void gomap__obj_retire(gomap_sync_t *m, struct sync_obj *o)
{
    struct sync_stripe *s = my_stripe(m);
    _Atomic(struct sync_obj *) *pending = &s->objs[o->kind].pending;
    o->stripe = (uint16_t)(s - m->stripes);
    struct sync_obj *top = load_acquire(pending);
    do {
        store_relaxed(&o->next, top);
        o->bottom = top ? top->bottom : o;
        o->depth = top ? top->depth + 1 : 1;
    } while (!cas_weak_acq_rel(pending, &top, o));
    if (o->depth >= BATCH)
        flush_pending(m, pending);
}

void gomap__slab_free(gomap_sync_t *m)
{
    struct gomap__sync_block *b = exchange_acquire(&m->blocks, NULL);
    while (b) {
        struct gomap__sync_block *next = b->next;
        gomap__free(m->inner.alloc, b, b->bytes);
        b = next;
    }
    for (unsigned i = 0; i < STRIPES; i++)
        for (unsigned k = 0; k < OBJ_KINDS; k++)
            store_relaxed(&m->stripes[i].objs[k].free, NULL);
}
