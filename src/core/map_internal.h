/*
 * map_internal.h — the core map's layout and internal entry points.
 *
 * Layout (docs/map.md has the full design and the invariants):
 *
 *   struct gomap            header: count, B, seed, bucket arrays, growth state
 *   bucket array            2^B buckets, preceded by a struct array_hdr
 *   bucket                  tophash[8] | 8 keys | 8 values | overflow pointer
 *
 * A key or value slot holds the item itself, or (over GOMAP_INLINE_MAX bytes)
 * a pointer to it. String keys are a gomap_str whose bytes live in a key blob
 * the map owns. A slot owns its out-of-line memory only while its tophash is
 * a live hash (>= MIN_TOPHASH); an evacuated slot in an old array is a stale
 * copy whose blobs belong to the new array.
 *
 * Internal names: gomap__x is shared between the library's files (never
 * exported); plain static names stay in one file.
 */
#ifndef GOMAP_MAP_INTERNAL_H
#define GOMAP_MAP_INTERNAL_H

#include <gomap/diag.h>
#include <gomap/map.h>

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/atomics.h"
#include "base/compiler.h"
#include "base/hash.h"
#include "base/keys.h"
#include "base/misuse.h"

#define BUCKET_SLOTS 8

/* tophash markers (Go's values). A live slot's tophash is >= MIN_TOPHASH. */
enum {
    EMPTY_REST = 0,      /* this slot and every later slot of the chain are empty */
    EMPTY_ONE = 1,       /* this slot is empty */
    EVACUATED_X = 2,     /* entry moved to the first half of the new array */
    EVACUATED_Y = 3,     /* entry moved to the second half */
    EVACUATED_EMPTY = 4, /* slot was empty when its bucket was evacuated */
    MIN_TOPHASH = 5
};

/* Load factor 6.5 = 13/2, as in Go. */
#define LOAD_FACTOR_NUM 13
#define LOAD_FACTOR_DEN 2

/* Largest B the map will use: keeps 2^B * bucket_size far from overflow. */
#define MAX_B 56

/* m->flags */
#define FLAG_SAME_SIZE_GROW 0x1

/* An overflow bucket is allocated with this header in front: it links
 * every overflow bucket chained to one array, so freeing or clearing the
 * array frees them without walking its buckets. */
struct ovf_hdr {
    struct ovf_hdr *next;
    size_t pad_;              /* keeps the bucket 16-aligned */
};

/* Every bucket array is allocated with this header in front, so a retired
 * array can wait on the map's graveyard without any further allocation. */
struct array_hdr {
    struct array_hdr *next_retired;
    size_t nbuckets;
    struct ovf_hdr *overflow; /* overflow buckets chained to this array */
    size_t mapped;            /* bytes mapped with mmap (default allocator,
                                 large arrays), else 0 */
};

/* Memory-budget thresholds (map_budget.c). */
struct budget {
    double thresholds[GOMAP_BUDGET_MAX_THRESHOLDS]; /* increasing */
    unsigned n;
    unsigned next;            /* thresholds below this have fired */
    gomap_budget_fn fn;
    void *ctx;
};

struct gomap {
    /* Read by every lookup. The typed lookups' fast path (map_access.c,
     * get_typed) reads only the first 33 bytes. */
    _Atomic uintptr_t writer; /* misuse mark: the writing thread's record
                                 (misuse.h), FAULT_MARK, or 0 */
    char *buckets;            /* 2^B buckets; NULL until the first insert */
    size_t lookup_mask;       /* 2^B - 1 (lookup_refresh) */
    uint64_t seed;            /* set with map_set_seed */
    uint64_t hash_mul;        /* hash_u64_mul_of(seed) */
    _Atomic uint8_t lookup_shape; /* idle_shape, or SHAPE_NONE during a
                                 write (lookup_shape_now) */
    uint8_t idle_shape;       /* `shape` while lookups may take the fast
                                 path (B > 0, not growing), else SHAPE_NONE
                                 (lookup_refresh) */
    uint8_t shape;            /* the layout's SHAPE_* (compute_layout) */
    size_t count;
    char *oldbuckets;         /* the array being evacuated, or NULL */
    uint8_t B;
    uint8_t flags;
    uint8_t key_kind;         /* gomap_key_kind */
    uint8_t check;            /* gomap_check_mode, resolved (never AUTO) */
    uint8_t fixed_seed;       /* never reseed (maps that share a seed) */
    uint8_t keep_retired;     /* outgrown arrays wait on the graveyard for the
                                 layer above (gomap__keep_retired_arrays) */
    uint8_t frozen;           /* every write is misuse (gomap__map_freeze) */
    uint8_t key_indirect;     /* key slot holds a pointer to a key blob */
    uint8_t val_indirect;     /* value slot holds a pointer to a value blob */
    uint32_t bucket_size;
    uint32_t key_off, val_off, ovf_off;   /* offsets within a bucket */
    uint32_t key_slot, val_slot;          /* bytes per slot */
    size_t key_size;          /* the item sizes the user declared */
    size_t val_size;
    uint64_t (*hash)(const void *key, uint64_t seed);
    bool (*equal)(const void *a, const void *b);

    /* Everything a lookup (map_probe.h's find) reads comes before this
     * point: the sharded map's optimistic gets copy just that prefix
     * (shardmap.c, LOOKUP_HEADER_BYTES). */

    /* Growth. */
    size_t nevacuate;         /* old buckets below this are all evacuated */
    size_t noverflow;         /* overflow buckets chained to `buckets` */

    /* Iterators and memory they may still read (see gomap__retire_*). */
    atomic_size_t iterators;  /* live iterators of the current epoch
                                 (relaxed: readers and writers are ordered
                                 by the caller) */
    _Atomic(const void *) iter_site; /* where the iterator that made
                                 `iterators` nonzero was created */
    uint64_t iter_epoch;      /* bumped when memory retained for live
                                 iterators is reclaimed: they are dead */
    uint64_t iter_reclaims;   /* times that happened */
    uint64_t clear_seq;       /* bumped by clear; iterators stop on change */
    struct array_hdr *graveyard_arrays;
    struct key_blob *graveyard_keys;
    size_t retained_bytes;    /* bytes on the graveyard */
    struct array_hdr *releasing; /* unreachable arrays given back a slice per
                                 write (map_release.c), linked by next_retired */

    gomap_mem mem;            /* allocator, byte accounting and limit */
    uint64_t reseeds;
    uint64_t id;              /* unique per map in the process (misuse checks) */
    struct budget budget;
};

/* ---- bucket geometry ---------------------------------------------------- */

static inline size_t bucket_mask(unsigned b) { return ((size_t)1 << b) - 1; }

static inline uint8_t *tophash_of(char *b) { return (uint8_t *)b; }

static inline char *key_slot_at(const gomap_t *m, char *b, unsigned i)
{
    return b + m->key_off + (size_t)i * m->key_slot;
}

static inline char *val_slot_at(const gomap_t *m, char *b, unsigned i)
{
    return b + m->val_off + (size_t)i * m->val_slot;
}

static inline char **overflow_of(const gomap_t *m, char *b)
{
    return (char **)(void *)(b + m->ovf_off);
}

static inline char *bucket_at(const gomap_t *m, char *arr, size_t i)
{
    return arr + i * m->bucket_size;
}

/* The key as callers see it (uint64_t, gomap_str, bytes...): for out-of-line
 * keys the slot holds a pointer to it. */
static inline const void *key_of_slot(const gomap_t *m, const char *slot)
{
    return m->key_indirect ? *(void *const *)(const void *)slot : (const void *)slot;
}

static inline void *val_of_slot(const gomap_t *m, char *slot)
{
    return m->val_indirect ? *(void **)(void *)slot : (void *)slot;
}

static inline bool is_empty_top(uint8_t top) { return top <= EMPTY_ONE; }

static inline bool is_evacuated_bucket(char *b)
{
    uint8_t t = tophash_of(b)[0];
    return t > EMPTY_ONE && t < MIN_TOPHASH;
}

/* A tophash byte (below 256: an `unsigned`, so that no truncation is left
 * for the compiler to spell out). */
static inline unsigned tophash_from(uint64_t hash)
{
    unsigned top = (unsigned)(hash >> 56);
    return top < MIN_TOPHASH ? top + MIN_TOPHASH : top;
}

/* Go's overLoadFactor: would `count` entries overload 2^B buckets? */
static inline bool over_load_factor(size_t count, unsigned b)
{
    return count > BUCKET_SLOTS &&
           count > LOAD_FACTOR_NUM * (((size_t)1 << b) / LOAD_FACTOR_DEN);
}

/* Go's tooManyOverflowBuckets: about as many overflow buckets as buckets,
 * so a same-size grow should squeeze them out. Go keeps a 16-bit counter:
 * exact below B = 16, and above it incremented with probability 2^-(B-15)
 * and compared with 2^15, i.e. in expectation the same test against 2^B.
 * noverflow is exact here, so it is compared with 2^B at every B (capping
 * the exact count at 2^15, as a literal reading of Go would, starts
 * same-size grows on large maps that only ever received inserts). */
static inline bool too_many_overflow(size_t noverflow, unsigned b)
{
    return noverflow >= ((size_t)1 << b);
}

static inline bool is_growing(const gomap_t *m) { return m->oldbuckets != NULL; }

/* Sets the hash seed and what integer hashing derives from it. */
static inline void map_set_seed(gomap_t *m, uint64_t seed)
{
    m->seed = seed;
    m->hash_mul = hash_u64_mul_of(seed);
}

/* ---- lookup shapes ------------------------------------------------------ */

/* The common layouts that lookups search with constant bucket geometry
 * (map_probe.h, lookup_shaped): a key kind whose slot size is fixed (U32,
 * U64, F64, STR) with inline values of 8 or 16 bytes. A shape's code is
 * never SHAPE_NONE. */
#define SHAPE_NONE 0

/* The key slot size of a fixed-size kind, 0 for the others. */
static inline uint32_t fixed_key_slot(int kind)
{
    switch (kind) {
    case GOMAP_KEY_U32: return 4;
    case GOMAP_KEY_U64:
    case GOMAP_KEY_F64: return 8;
    case GOMAP_KEY_STR: return sizeof(gomap_str);
    default: return 0;
    }
}

static inline uint8_t shape_code(int kind, uint32_t val_slot)
{
    return (uint8_t)(1 + 2 * kind + (val_slot == 16));
}

/* A shape's geometry: values right after the 8 keys (aligned to their
 * size), the overflow pointer right after the 8 values, the bucket size
 * a multiple of the value size. compute_layout (map.c) gives a map a
 * shape only if its own layout is exactly this. */
static inline uint32_t shape_val_off(int kind, uint32_t val_slot)
{
    uint32_t end = BUCKET_SLOTS + BUCKET_SLOTS * fixed_key_slot(kind);
    return (end + val_slot - 1) & ~(val_slot - 1);
}

static inline uint32_t shape_ovf_off(int kind, uint32_t val_slot)
{
    return shape_val_off(kind, val_slot) + BUCKET_SLOTS * val_slot;
}

static inline uint32_t shape_bucket_size(int kind, uint32_t val_slot)
{
    return (shape_ovf_off(kind, val_slot) + (uint32_t)sizeof(void *) + val_slot - 1) &
           ~(val_slot - 1);
}

/* What idle_shape must be: the fast path needs hashing (B > 0: one-bucket
 * maps are searched without) and one array (not growing). */
static inline uint8_t idle_shape_now(const gomap_t *m)
{
    return m->buckets && m->B > 0 && !m->oldbuckets ? m->shape : SHAPE_NONE;
}

/* What lookup_shape must be: idle_shape, or SHAPE_NONE while a write is in
 * progress (`writer` set, from gomap__write_begin to gomap__write_end), so
 * that a lookup meeting the write takes the path that checks `writer` and
 * reports it: the fast path's one byte test is also the misuse check.
 * (Relaxed, like the mark: best effort, as in Go; a lookup of a write that
 * is parked, or that a test holds, is always caught.) */
static inline uint8_t lookup_shape_now(const gomap_t *m)
{
    bool writing = load_relaxed(&((gomap_t *)(uintptr_t)m)->writer) != 0;
    return writing ? SHAPE_NONE : m->idle_shape;
}

/* Brings lookup_mask, idle_shape and lookup_shape up to date with B,
 * buckets and oldbuckets: called wherever those change (gomap_validate
 * checks). */
static inline void lookup_refresh(gomap_t *m)
{
    m->lookup_mask = bucket_mask(m->B);
    m->idle_shape = idle_shape_now(m);
    store_relaxed(&m->lookup_shape, lookup_shape_now(m));
}

static inline size_t old_bucket_count(const gomap_t *m)
{
    /* Half the new array when doubling (B >= 1 then; written as a right
     * shift so that no shift count is ever negative). */
    return (m->flags & FLAG_SAME_SIZE_GROW) ? (size_t)1 << m->B
                                            : ((size_t)1 << m->B) >> 1;
}

/* The headers in front of an array and of an overflow bucket. */
static inline struct array_hdr *array_hdr_of(char *arr)
{
    return (struct array_hdr *)(void *)arr - 1;
}

static inline struct ovf_hdr *ovf_hdr_of(char *b)
{
    return (struct ovf_hdr *)(void *)b - 1;
}

static inline size_t ovf_bytes(const gomap_t *m)
{
    return sizeof(struct ovf_hdr) + m->bucket_size;
}

/* ---- keys --------------------------------------------------------------- */

/* True for keys equal to themselves (everything but a NaN double). */
bool gomap__key_is_reflexive(const gomap_t *m, const void *key);

/* The map's hash of a key given as callers give it (NaN: random). */
uint64_t gomap__hash_key(const gomap_t *m, const void *key);

/* ---- lookup / write entry points (map_access.c) -------------------------- */

/* A slot: bucket b, index i. b == NULL means "none". */
typedef struct {
    char *b;
    unsigned i;
} slot_ref;

/* Finds `key` (already hashed with the map's seed) wherever it currently
 * lives, including an old bucket not yet evacuated. Never moves anything. */
slot_ref gomap__find_hashed(const gomap_t *m, const void *key, uint64_t hash);

/* Inserts or finds `key` (already hashed). For a new key the value is copied
 * from `val`, or zeroed when `val` is NULL; for an existing key it is
 * overwritten from `val` when `overwrite` is set. Stores the value slot in
 * *vslot (may be NULL). Returns 1 inserted, 0 existed, or -ENOMEM with the
 * map's contents unchanged. */
int gomap__upsert_hashed(gomap_t *m, const void *key, uint64_t hash,
                         const void *val, bool overwrite, void **vslot);

/* Removes `key` (already hashed); true if it was present. Never fails. */
bool gomap__remove_hashed(gomap_t *m, const void *key, uint64_t hash);

/* ---- growth (map_grow.c) -------------------------------------------------- */

/* Starts a grow: doubling when count+1 overloads the array, else same-size.
 * Only allocates the new array. 0 or -ENOMEM (nothing changed). */
int gomap__hash_grow(gomap_t *m);

/* Evacuates the old bucket that `bucket` (an index in the new array) comes
 * from, then one more in order. Returns 0, or -ENOMEM if the key's own old
 * bucket could not be evacuated (the map's contents are unchanged). */
int gomap__grow_work(gomap_t *m, size_t bucket);

/* ---- memory of arrays and blobs (map.c) ----------------------------------- */

/* A zeroed array of 2^b buckets, or NULL. Like gomap__overflow_new, when
 * the allocation fails while outgrown arrays are still being given back,
 * gives them all back and tries once more (a mem_limit counts them). */
char *gomap__array_alloc(gomap_t *m, unsigned b);

/* Frees an array and the overflow buckets chained to it, without reading
 * its buckets. Does not free blobs: callers release the entries the array
 * owns first. */
void gomap__array_free(gomap_t *m, char *arr);

/* An array that has just stopped being reachable from the map: freed now, or
 * kept until no iterator can be walking it (bounded: see map.c). */
void gomap__array_retire(gomap_t *m, char *arr);

/* A zeroed overflow bucket, not yet chained anywhere, or NULL. */
char *gomap__overflow_new(gomap_t *m);

/* Records that overflow bucket b is now chained to array arr (the array
 * frees it). */
void gomap__overflow_attach(char *arr, char *b);

/* Overflow buckets on arr's list (O(list)). */
size_t gomap__overflow_listed(char *arr);

/* Frees an overflow bucket that was never attached. */
void gomap__overflow_discard(gomap_t *m, char *b);


/* ---- giving arrays back in slices (map_release.c) ------------------------------ */

/* Takes an array that nothing can read any more (not the map, no iterator,
 * no reader of a layer above) and gives its memory back over the next
 * writes, a bounded amount per write (gomap__release_step): a large array
 * freed in one call costs one insert milliseconds. Arrays from a custom
 * allocator, or small ones, with no overflow buckets left, are freed at
 * once: an allocator's free is one call. Never fails. */
void gomap__release_array(gomap_t *m, char *arr);

/* Gives back one slice of the arrays taken by gomap__release_array: up to
 * RELEASE_OVERFLOW overflow buckets, or RELEASE_SLICE bytes of a mapping,
 * or a whole array that is not mapped. m->releasing must not be NULL. */
void gomap__release_step(gomap_t *m);

/* Frees everything still waiting to be given back (gomap_free). */
void gomap__release_all(gomap_t *m);

/* One step of gomap__release_step if anything waits: at the start of every
 * insert and delete (map_access.c), the public ones and the layers' alike,
 * so a map written only through a layer gives its arrays back too. */
static inline void gomap__release_some(gomap_t *m)
{
    if (__builtin_expect(m->releasing != NULL, 0))
        gomap__release_step(m);
}

/* For a layer whose lock-free readers may still walk an outgrown array: from
 * now on retired arrays always wait on the graveyard, whatever the
 * iterators, until the layer takes them (gomap__take_retired_arrays) and
 * frees them (gomap__array_free) when no reader can see them. */
void gomap__keep_retired_arrays(gomap_t *m);

/* Bytes of the map's arrays (current, old, retired) mapped with mmap. */
size_t gomap__mapped_bytes(const gomap_t *m);

/* The arrays waiting on the graveyard, as a list linked by next_retired
 * (the graveyard is left empty), and their bytes. */
struct array_hdr *gomap__take_retired_arrays(gomap_t *m);
size_t gomap__retired_array_bytes(const gomap_t *m);

/* Releases the out-of-line memory owned by a live slot and zeroes the slot's
 * key and value (Go's delete leaves a zeroed slot). */
void gomap__slot_clear(gomap_t *m, char *b, unsigned i);

/* If no iterator is live: frees the graveyard's key blobs and hands its
 * arrays to the release list (gomap__release_array). Called at the start
 * of public writes. */
void gomap__graveyard_flush(gomap_t *m);

/* Like gomap_new, but the map hashes with `seed` for its whole life (it is
 * never re-randomised), so several maps built this way agree on every key's
 * hash and one hash serves a lookup in each: the sync map's read-only and
 * dirty maps. */
int gomap__new_seeded(gomap_t **out, const gomap_options *opt, uint64_t seed);

/* Re-randomises the hash seed (map emptied or cleared), unless it is fixed. */
void gomap__reseed(gomap_t *m);

/* Calls fn for every live entry, wherever it lives (un-evacuated old buckets
 * first, then the current array). Stops early when fn returns nonzero and
 * returns that value. */
int gomap__for_each(const gomap_t *m,
                    int (*fn)(const gomap_t *m, char *b, unsigned i, void *ctx),
                    void *ctx);

/* ---- misuse checks and the write bracket --------------------------------------- */

/* Reports misuse of m (which may be NULL) and ends the process. `other` is
 * the mark found (a struct gomap__thread *, FAULT_MARK or 0); `site` the
 * detecting call's return address. (map_fault.c; base/misuse.h prints.) */
_Noreturn void gomap__fault(const gomap_t *m, const char *message, uintptr_t other,
                            const void *site);

/* gomap__fault for a thread that holds a lock it is about to wait for
 * again: the report adds "held: <held>, taken at <held_site>" (held_site may
 * be NULL). */
_Noreturn void gomap__fault_held(const gomap_t *m, const char *message, const void *site,
                                 const char *held, const void *held_site);

/* Reports `message` for a call into a structure from inside one of its own
 * callbacks (the report's "held:" line describes the scope, base/scope.h)
 * and ends the process. `map` is a core map to describe, or NULL. */
struct gomap__scope;
_Noreturn void gomap__scope_fault(const struct gomap__scope *s, const gomap_t *map,
                                  const char *message, const void *site);

/* Aborts with a one-line report naming m: corruption found by a level-2
 * validation (assert.h). */
_Noreturn void gomap__fatal(const gomap_t *m, const char *what);

/* A read (lookup, clone, iterator step) meeting a write in progress. */
static inline void gomap__read_check(const gomap_t *m, const char *message, const void *site)
{
    uintptr_t w = load_relaxed(&((gomap_t *)(uintptr_t)m)->writer);
    if (__builtin_expect(w != 0, 0))
        gomap__fault(m, message, w, site);
}

/* The slow part of gomap__write_end: retired memory, budget thresholds and
 * the level-2 validation, when there is anything to do. */
void gomap__write_end_slow(gomap_t *m);
void gomap__budget_check(gomap_t *m);

/* Freezes m (frozen true) or thaws it. A frozen map is read-only: every
 * public write on it (gomap_set, _assign, _delete, _clear, _shrink,
 * _set_budget_handler, the typed shortcuts, gomap_free), with any arguments,
 * ends the process with MSG_FROZEN_WRITE, whatever the check mode. The
 * snapshot map freezes each version's map when it publishes it, and thaws
 * it only to free it once no reader can reach it. Not atomic: the caller
 * publishes the change (the snapshot map's release store of the version). */
static inline void gomap__map_freeze(gomap_t *m, bool frozen)
{
    m->frozen = frozen;
}

/* Reports a write to a frozen map. Called by gomap__write_begin, and by the
 * public writes on their paths that return before it (bad arguments, nothing
 * to do) so that every write call on a frozen map is reported. */
static inline void gomap__frozen_check(const gomap_t *m, const void *site)
{
    if (__builtin_expect(m->frozen, 0))
        gomap__fault(m, MSG_FROZEN_WRITE, 0, site);
}

/* Every public write goes between these two; `site` is the return address of
 * the public call, named in misuse reports. Fast mode costs a relaxed load
 * and store of the mark (plus a thread-local store of the site); strict mode
 * an atomic exchange on entry and on exit. Every mode first checks that the
 * map is not frozen: one predictable branch on the header's first line. */
static inline void gomap__write_begin(gomap_t *m, const void *site)
{
    gomap__frozen_check(m, site);
    if (m->check != GOMAP_CHECK_OFF) {
        struct gomap__thread *self = gomap__self();
        store_relaxed(&self->site, site);
        uintptr_t prev = m->check == GOMAP_CHECK_STRICT
                             ? exchange_relaxed(&m->writer, (uintptr_t)self)
                             : load_relaxed(&m->writer);
        if (__builtin_expect(prev != 0, 0))
            gomap__fault(m, MSG_WRITES, prev, site);
        if (m->check != GOMAP_CHECK_STRICT)
            store_relaxed(&m->writer, (uintptr_t)self);
        /* After the mark: a lookup that sees SHAPE_NONE takes the path
         * that reads the mark. Relaxed, best effort like the mark itself;
         * a lookup made while a write is held inside its bracket sees it. */
        store_relaxed(&m->lookup_shape, SHAPE_NONE);
    }
    if (m->graveyard_arrays || m->graveyard_keys)
        gomap__graveyard_flush(m);
}

static inline void gomap__write_end(gomap_t *m)
{
#if GOMAP_DEBUG_LEVEL >= 2
    gomap__write_end_slow(m);
#endif
    if (m->check != GOMAP_CHECK_OFF) {
        struct gomap__thread *self = &gomap__self_rec;
        uintptr_t prev = m->check == GOMAP_CHECK_STRICT ? exchange_relaxed(&m->writer, 0)
                                                        : load_relaxed(&m->writer);
        if (__builtin_expect(prev != (uintptr_t)self, 0))
            gomap__fault(m, MSG_WRITES, prev, load_relaxed(&self->site));
        if (m->check != GOMAP_CHECK_STRICT)
            store_relaxed(&m->writer, 0);
        /* After the mark is cleared: the fast path may skip it again. */
        store_relaxed(&m->lookup_shape, m->idle_shape);
    }
    if (m->budget.next < m->budget.n)
        gomap__budget_check(m);
}

#endif /* GOMAP_MAP_INTERNAL_H */
