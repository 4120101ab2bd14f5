/*
 * syncmap_internal.h — the sync map's layout, shared by syncmap.c (the
 * algorithm), syncmap_slab.c (the blocks boxes and entries are carved
 * from, their retirement and recycling), syncmap_mem.c (boxes, entries and
 * tables) and syncmap_check.c (stats and validate). docs/syncmap.md has the design.
 *
 * Shape
 *   read    an atomically published pointer to a table (a core map from key
 *           to struct entry *) plus an "amended" bit: the dirty map holds
 *           keys this table lacks. Never written once published; lock-free
 *           readers look keys up in it.
 *   dirty   a table under `mu` holding every entry of `read` that is not
 *           expunged, plus the new keys; NULL right after a promotion.
 *   entry   one per key, shared by both tables: p is the current value box,
 *           NULL (deleted) or EXPUNGED (deleted and absent from dirty).
 *           Lock-free operations change p by compare-and-swap; only a
 *           thread holding mu turns EXPUNGED back into NULL.
 *   box     a value: val_size bytes, never modified once published.
 *
 * Invariants (under mu; gomap_sync_validate checks them)
 *   I1  dirty == NULL  =>  no entry of read is EXPUNGED.
 *   I2  dirty != NULL  =>  every entry of read that is not EXPUNGED is in
 *       dirty under the same key, and no EXPUNGED entry is in dirty.
 *   I3  amended  =>  dirty != NULL; not amended => every key of dirty is in
 *       read.
 *   I4  an entry reachable from the current read table or from dirty is
 *       never retired; an entry leaves both only while EXPUNGED, and then
 *       for good (EXPUNGED is final for every lock-free path), so it is
 *       retired (and reused after a grace period, syncmap_slab.c).
 */
#ifndef GOMAP_SYNCMAP_INTERNAL_H
#define GOMAP_SYNCMAP_INTERNAL_H

#include <gomap/syncmap.h>

#include <pthread.h>
#include <stdatomic.h>

#include "core/layer.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/atomics.h"
#include "base/compiler.h"
#include "base/latency.h"
#include "base/rcu.h"
#include "base/reclaim_count.h"

#define CACHE_LINE 64
#define STRIPES 8
#define AMENDED ((uintptr_t)1)

extern const char gomap__sync_expunged;
extern const char gomap__sync_present;

/* entry.p == EXPUNGED: deleted, and not in the dirty map. */
#define EXPUNGED ((struct box *)(uintptr_t)&gomap__sync_expunged)
/* The value of every key of a set (val_size 0): no box is allocated. */
#define PRESENT ((struct box *)(uintptr_t)&gomap__sync_present)

/* The kinds of object a map carves from its blocks (syncmap_slab.c). */
enum { OBJ_BOX, OBJ_ENTRY, OBJ_KINDS };

/* The header of every box and entry: what syncmap_slab.c needs to retire
 * it in a batch and recycle it. owner and kind are set when its block is
 * carved and never change; the other fields belong to whoever holds the
 * object on a stack. */
struct sync_obj {
    struct gomap_retired retired; /* a batch's top object, while RCU holds the batch */
    gomap_sync_t *owner;
    /* Link in a stack (pending or free). Atomic because a popper that lost
     * a race may read it while the object, reused meanwhile, is being
     * pushed onto a pending stack; that value is then discarded (its CAS
     * fails). */
    _Atomic(struct sync_obj *) next;
    /* While on a pending stack: the stack's bottom object, the number of
     * objects from this one down, and the stripe whose stack it is (its
     * batch goes back to that stripe's free list). */
    struct sync_obj *bottom;
    uint32_t depth;
    uint16_t stripe;
    uint16_t kind;                /* OBJ_BOX or OBJ_ENTRY */
};

/* A value, copied in once and never modified after it is published. The
 * value bytes follow at BOX_HDR (16-aligned, so a value handed to a range
 * callback is aligned like malloc'd memory). */
struct box {
    struct sync_obj obj;
};
#define BOX_HDR ((sizeof(struct box) + 15) & ~(size_t)15)

struct entry {
    struct sync_obj obj;
    _Atomic(struct box *) p;
};

/* A core map from key to struct entry *, as a unit that can be retired. */
struct table {
    struct gomap_retired retired;
    gomap_sync_t *owner;
    size_t bytes;                 /* what retiring it will give back */
    gomap_t *map;
};

/* One stripe's objects of one kind (syncmap_slab.c): retired ones waiting
 * to be handed to RCU as one batch, and recycled ones, each a stack changed
 * by CAS. */
struct stripe_objs {
    _Atomic(struct sync_obj *) pending;
    _Atomic(struct sync_obj *) free;
};

/* What the threads of one stripe write on every write (syncmap.c's
 * sync_stripe assigns threads to stripes round robin): their part of the
 * length, and their boxes and entries. Two cache lines each: the map comes
 * from the user's allocator, aligned to 16 bytes only, so a stripe's 40
 * bytes may straddle two lines, and 128 bytes apart two stripes never
 * share one; two threads of different stripes share nothing when they
 * write (unless one takes recycled objects from the other's free list,
 * which it does only when its own is empty). */
struct sync_stripe {
    atomic_long len;
    struct stripe_objs objs[OBJ_KINDS];
    char pad[(size_t)2 * CACHE_LINE - sizeof(atomic_long) -
             (size_t)OBJ_KINDS * sizeof(struct stripe_objs)];
};

struct gomap_sync {
    /* Read by every load, written only by promotion and clear: on a cache
     * line of its own with the fields loads need, which never change. */
    _Atomic uintptr_t read;       /* struct table * (or NULL: empty) | AMENDED */
    gomap__hasher hasher;         /* every table's hash function */
    size_t val_size;
    int key_kind;                 /* gomap_key_kind */
    char pad0[CACHE_LINE - sizeof(uintptr_t) - sizeof(gomap__hasher) - sizeof(size_t) -
              sizeof(int)];

    struct sync_stripe stripes[STRIPES];
    size_t obj_bytes[OBJ_KINDS];  /* an object's stride in its block */
    /* The blocks objects are carved from (syncmap_slab.c): a stack pushed
     * by CAS from any writer, freed whole by gomap_sync_free; and the
     * blocks of each kind carved so far, which sets the next one's size. */
    _Atomic(struct gomap__sync_block *) blocks;
    atomic_uint nblocks[OBJ_KINDS];

    pthread_mutex_t mu;
    struct table *dirty;          /* under mu */
    size_t misses;                /* under mu */
    uint64_t promotions;          /* under mu */
    uint64_t dirty_copies;        /* under mu */

    struct gomap__reclaim_count reclaim; /* what the map retired and freed */

    struct gomap_retired final;   /* gomap_sync_free's deferred end */
    gomap_options inner;          /* options of every table (val: entry *) */
    size_t hint;                  /* for the first dirty map */
    uint64_t seed;                /* every table hashes with it */
    /* Written by sampled calls only (latency.h). */
    struct lat_hist lat_get;      /* gomap_sync_load */
    struct lat_hist lat_write;    /* swap and store, compare-and-swap, the
                                     deletes */
};

/* The calling thread's stripe, assigned round robin on first use.
 * initial-exec: a plain %fs-relative access instead of a call to
 * __tls_get_addr in this position-independent library (as misuse.c). */
extern _Thread_local unsigned gomap__sync_stripe __attribute__((tls_model("initial-exec")));
unsigned gomap__sync_stripe_assign(void);

static inline struct sync_stripe *my_stripe(gomap_sync_t *m)
{
    unsigned i = gomap__sync_stripe;
    return &m->stripes[i < STRIPES ? i : gomap__sync_stripe_assign()];
}

/* ---- values --------------------------------------------------------------- */

static inline bool has_value(const struct box *p)
{
    return p != NULL && p != EXPUNGED;
}

/* The value bytes of a real box (never PRESENT: callers with val_size 0
 * never look at values). */
static inline void *box_val(struct box *p)
{
    return (char *)p + BOX_HDR;
}

static inline void copy_val(const gomap_sync_t *m, void *out, struct box *p)
{
    if (out && m->val_size)
        copy_slot_bytes(out, box_val(p), m->val_size);
}

static inline bool same_val(const gomap_sync_t *m, struct box *p, const void *val)
{
    return m->val_size == 0 || memcmp(box_val(p), val, m->val_size) == 0;
}

/* ---- tables ---------------------------------------------------------------- */

/* The entry a table's value slot holds. */
static inline struct entry *entry_in(const void *val)
{
    struct entry *e;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): the slot holds the pointer itself */
    memcpy(&e, val, sizeof e);
    return e;
}

/* The entry of key in table t (NULL: none, or no table). The search is
 * map_probe.h's, specialised per key kind: this is the lock-free load's
 * whole cost besides hashing. */
ALWAYS_INLINE struct entry *table_find_kind(const struct table *t, int kind, const void *key,
                                            uint64_t h)
{
    if (!t)
        return NULL;
    slot_ref s = layer_find(t->map, kind, key, h);
    return s.b ? entry_in(layer_value(t->map, s)) : NULL;
}

static inline struct entry *table_find(const struct table *t, const void *key, uint64_t h)
{
    struct entry *e;
#define FIND(K) table_find_kind(t, K, key, h)
    KIND_SWITCH(t ? layer_key_kind(t->map) : GOMAP_KEY_U64, e, FIND)
#undef FIND
    return e;
}

/* The entry of key in table t (NULL: none, or no table), as the core map's
 * lookup finds it: a one-bucket table of integer or string keys is searched
 * without hashing (Go's B == 0 fast path), so a key is hashed only when the
 * table is bigger or a locked path needs the hash. */
ALWAYS_INLINE struct entry *table_lookup_kind(const struct table *t, int kind, const void *key)
{
    void *slot = t ? layer_lookup(t->map, kind, key) : NULL;
    struct entry *e = NULL;
    if (slot)
        /* NOLINTNEXTLINE(bugprone-sizeof-expression): the slot holds the pointer itself */
        memcpy(&e, slot, sizeof e);
    return e;
}

static inline struct entry *table_lookup(const struct table *t, const void *key)
{
    struct entry *e;
#define LOOKUP(K) table_lookup_kind(t, K, key)
    KIND_SWITCH(t ? layer_key_kind(t->map) : GOMAP_KEY_U64, e, LOOKUP)
#undef LOOKUP
    return e;
}

/* The published read part. The acquire pairs with the release store that
 * published it: a reader sees the table as it was when it was published. */
static inline uintptr_t read_word(gomap_sync_t *m)
{
    return load_acquire(&m->read);
}

static inline struct table *read_table(uintptr_t w)
{
    return (struct table *)(w & ~AMENDED);
}

static inline bool read_amended(uintptr_t w)
{
    return (w & AMENDED) != 0;
}

static inline uint64_t key_hash(const gomap_sync_t *m, const void *key)
{
    uint64_t h;
#define HASH(K) layer_hash(&m->hasher, K, key)
    KIND_SWITCH(m->key_kind, h, HASH)
#undef HASH
    return h;
}

/* ---- loads (syncmap.c) ------------------------------------------------------- */

/* A load's slow path, taken when key (hashed h) is not in the read part and
 * the read part is amended: looks again under mu in the read part, then in
 * dirty, counting a miss (which may promote dirty). Returns the entry or
 * NULL. Inside a read-side section; the entry stays valid until its end.
 * Out of line: the lock-free loads (gomap_sync_load, gomap_sync_load_many)
 * stay small. */
__attribute__((noinline)) struct entry *gomap__sync_find_entry_locked(gomap_sync_t *m,
                                                                      const void *key,
                                                                      uint64_t h);

/* ---- objects (syncmap_slab.c) ------------------------------------------------
 *
 * Boxes and entries are carved from blocks the map owns, and a retired one
 * goes back onto a free list of the map after its RCU grace period, never
 * to the allocator: gomap_sync_free frees blocks, not objects. "Retire"
 * means: recycle after a grace period, counted in m->reclaim until then
 * (reclaim_count.h). gomap__obj_new and gomap__obj_retire must be called
 * inside a read-side section (the free lists' ABA argument and the pending
 * stacks' reads rely on it); gomap__obj_flush may be called anywhere (it
 * takes whole stacks by exchange). */

/* Sets the object sizes of a new map (its stripes' stacks start empty). */
void gomap__slab_init(gomap_sync_t *m);
/* An object of kind `kind` (OBJ_BOX or OBJ_ENTRY): a recycled one, or one
 * carved from a new block; NULL when that block cannot be allocated. Its
 * contents past the header are whatever its last use left. */
struct sync_obj *gomap__obj_new(gomap_sync_t *m, unsigned kind);
/* An object that is unreachable for new readers (unlinked), or that was
 * never published: a stale free-list popper may still read its link, so
 * it waits for a grace period like an unlinked one. Objects are handed to
 * RCU in batches; gomap__obj_flush hands over the partial ones. */
void gomap__obj_retire(gomap_sync_t *m, struct sync_obj *o);
void gomap__obj_flush(gomap_sync_t *m);
/* Frees every block, with all the objects in them (gomap_sync_free, once
 * nothing is retired and no reader can reach the map). */
void gomap__slab_free(gomap_sync_t *m);

/* ---- boxes, entries, tables (syncmap_mem.c) --------------------------------
 *
 * All memory comes from the map's allocator (options.alloc, or malloc:
 * gomap__alloc, alloc.h), which is called from any thread. The box and
 * entry calls must be made inside a read-side section (above). */

/* A box holding a copy of val (PRESENT for a set), or NULL. */
struct box *gomap__box_new(gomap_sync_t *m, const void *val);
/* A box this thread's CAS (or exchange) just took out of an entry, or one
 * never published (a lost race, or a write that failed). PRESENT is
 * ignored. */
void gomap__box_retire(gomap_sync_t *m, struct box *b);

/* An entry holding val, or NULL. */
struct entry *gomap__entry_new(gomap_sync_t *m, struct box *val);
/* An entry that has left both tables for good (p is EXPUNGED), or one
 * never published (a write that failed). */
void gomap__entry_retire(gomap_sync_t *m, struct entry *e);

/* A table with the map's key options and seed, or NULL. */
struct table *gomap__table_new(gomap_sync_t *m, size_t hint);
/* Frees a table (not its entries) that no reader can reach. */
void gomap__table_free_now(gomap_sync_t *m, struct table *t);
/* A table no longer reachable from the map (not its entries). */
void gomap__table_retire(gomap_sync_t *m, struct table *t);

#endif /* GOMAP_SYNCMAP_INTERNAL_H */
