/*
 * layer.h — what a map built on the core map may use of it.
 *
 * The sync, sharded and snapshot maps (and every later module that keeps
 * its entries in core maps) include this header and no other header of
 * core/. They never read a field of struct gomap or the bucket layout:
 * every fact they need is a call here. The calls on lookup paths are
 * static inline and take the key kind as a parameter; a layer passes a
 * constant kind (through KIND_SWITCH), so its lookups compile to the code
 * the core's own lookups compile to.
 *
 * Concurrency: a core map is not thread-safe. Every call here on a map
 * needs the layer's exclusion for that map (its lock, or the map being
 * private or published read-only), except gomap__copy_lookup_header, which
 * is made for readers racing a writer.
 *
 * What a layer may use, by group:
 *   keys         KIND_SWITCH, layer_hash / gomap__hasher, gomap__hash_key,
 *                gomap__key_is_reflexive, gomap__str_key_bad
 *   lookups      layer_lookup, layer_find, gomap__find_hashed, layer_key,
 *                layer_value, copy_slot_bytes, layer_copy_out,
 *                gomap__prefetch_hashed, layer_prefetch_bucket
 *   lock-free lookups in the common shapes   layer_shaped_view_of,
 *                layer_shaped_prefetch, layer_shaped_find
 *   writes       gomap__upsert_hashed, gomap__remove_hashed
 *   whole map    gomap__for_each_entry, gomap__grow_finish, layer_len,
 *                layer_bytes_held
 *   life cycle   gomap__options_check, gomap__new_seeded, gomap_free,
 *                gomap__map_freeze, layer_frozen
 *   lock-free readers  gomap__keep_retired_arrays and the retired-array
 *                calls, gomap__copy_lookup_header
 *   reports      gomap__fault, gomap__fault_held, gomap__scope_fault,
 *                gomap__fatal
 */
#ifndef GOMAP_CORE_LAYER_H
#define GOMAP_CORE_LAYER_H

#include <stddef.h>

#include "core/map_probe.h"

/* ---- keys ------------------------------------------------------------------------ */

/* A map's hash function as a value: two maps made with gomap__new_seeded
 * and the same seed (and options) have equal hashers, and one hash serves a
 * lookup in each. layer_hash is hash_of without a map. */
static inline gomap__hasher gomap__hasher_of(const gomap_t *m)
{
    return (gomap__hasher){m->seed, m->hash_mul, m->key_size, m->hash};
}

/* The hasher of every map made by gomap__new_seeded(opt, seed); gomap_new
 * takes its own from here too, so the rule of which kinds hash a declared
 * key size lives in one place. */
static inline gomap__hasher gomap__hasher_for(const gomap_options *opt, uint64_t seed)
{
    bool sized = opt->key_kind == GOMAP_KEY_BYTES || opt->key_kind == GOMAP_KEY_CUSTOM;
    return (gomap__hasher){seed, hash_u64_mul_of(seed), sized ? opt->key_size : 0, opt->hash};
}

static inline uint64_t layer_hash(const gomap__hasher *h, int kind, const void *key)
{
    return hash_with(h, kind, key);
}

/* ---- lookups ------------------------------------------------------------------- */

/* The entry of key (hashed with the map's hasher), or {NULL, 0}. */
ALWAYS_INLINE slot_ref layer_find(const gomap_t *m, int kind, const void *key, uint64_t hash)
{
    if (m->count == 0)
        return (slot_ref){NULL, 0};
    return find(m, kind, key, hash);
}

/* The value of key, or NULL, without the caller hashing it (Go's mapaccess:
 * one-bucket maps of integer and string keys are searched without hashing). */
ALWAYS_INLINE void *layer_lookup(const gomap_t *m, int kind, const void *key)
{
    return probe_lookup(m, kind, key);
}

/* A found entry's key, as callers give keys, and its value. */
static inline const void *layer_key(const gomap_t *m, int kind, slot_ref r)
{
    return slot_key(m, kind, key_slot_at(m, r.b, r.i));
}

static inline void *layer_value(const gomap_t *m, slot_ref r)
{
    return val_of_slot(m, val_slot_at(m, r.b, r.i));
}

/* The first stage of the batch lookup (gomap_get_many, map_batch.c) for a
 * key already hashed with the map's hasher: prefetches the bucket lines a
 * probe of that hash reads (its home bucket, and its old bucket while the
 * map grows), and nothing else. A layer that serves a batch of mixed
 * operations in an order it must keep (the delegation map's servers)
 * calls it some operations ahead of the one it executes, so that the
 * cache misses of the batch overlap whether each operation reads or
 * writes. Reads the map's header only; changes nothing; harmless if the
 * map changes before the probe. */
void gomap__prefetch_hashed(const gomap_t *m, uint64_t hash);

/* Prefetches the whole home bucket of hash (tophash, key and value slots;
 * at most four lines), and while the map grows its old bucket too: for a
 * layer about to look up one key and read its value, so that the lines of
 * one bucket arrive together instead of one after another (the sharded
 * map's optimistic gets). Reads the header only; changes nothing; harmless
 * if the map changes before the probe. */
ALWAYS_INLINE void layer_prefetch_bucket(const gomap_t *m, uint64_t hash)
{
    if (m->buckets)
        prefetch_home(m, hash, m->bucket_size);
}

/* ---- lock-free lookups in the common shapes ------------------------------------ */

/* What a lookup of a map in a common shape reads of its header: the bucket
 * array and its mask. For optimistic readers (the sharded map's gets),
 * which then probe without copying the whole lookup header. */
typedef struct {
    char *buckets;
    size_t mask;
} layer_shaped_view;

/* Reads m's view into *v when m is in the shape shape_code(kind, val_slot)
 * now (a fixed-size key slot, val_slot-byte value slots, B > 0, not
 * growing, no write in progress: lookup_shape); false otherwise. Made for
 * readers racing a writer: the fields are read in no order, so the caller
 * confirms (its sequence count, re-checked after an acquire fence) that no
 * writer overlapped before it probes with v, and again after it read the
 * value; the array must stay allocated while it reads
 * (gomap__keep_retired_arrays). */
ALWAYS_INLINE bool layer_shaped_view_of(const gomap_t *m, int kind, uint32_t val_slot,
                                        layer_shaped_view *v)
{
    if (!fixed_key_slot(kind) ||
        load_relaxed(&((gomap_t *)(uintptr_t)m)->lookup_shape) != shape_code(kind, val_slot))
        return false;
    v->buckets = m->buckets;
    v->mask = m->lookup_mask;
    return true;
}

/* layer_prefetch_bucket for a view: the home bucket's lines, a constant
 * count of them. */
ALWAYS_INLINE void layer_shaped_prefetch(layer_shaped_view v, int kind, uint32_t val_slot,
                                         uint64_t hash)
{
    const size_t span = shape_bucket_size(kind, val_slot);
    prefetch_bucket(v.buckets + (hash & v.mask) * span, span);
}

/* The value slot of key (hashed with m's hasher) in view v of m, or NULL:
 * the core's own shaped lookup (lookup_shaped), with the hash given. */
ALWAYS_INLINE void *layer_shaped_find(const gomap_t *m, layer_shaped_view v, int kind,
                                      uint32_t val_slot, const void *key, uint64_t hash)
{
    if (key_is_nan(kind, key))
        return NULL;
    return find_shaped(m, kind, val_slot, v.buckets, v.mask, key, hash);
}

/* Copies a value of val_size bytes to out, or zero bytes when val is NULL
 * (an absent key reads as Go's zero value); nothing when out is NULL or
 * the map is a set (val_size 0). For layers that copy values out to their
 * callers. */
static inline void layer_copy_out(void *out, const void *val, size_t val_size)
{
    if (!out || !val_size)
        return;
    if (val)
        copy_slot_bytes(out, val, val_size);
    else
        memset(out, 0, val_size);
}

/* ---- the whole map ------------------------------------------------------------- */

static inline size_t layer_len(const gomap_t *m) { return m->count; }

/* The options the map was made with. */
static inline int layer_key_kind(const gomap_t *m) { return m->key_kind; }
static inline size_t layer_key_size(const gomap_t *m) { return m->key_size; } /* bytes, custom */
static inline size_t layer_val_size(const gomap_t *m) { return m->val_size; }

/* Bytes the map holds from its allocator (header, arrays, blobs). */
static inline size_t layer_bytes_held(const gomap_t *m) { return m->mem.bytes_held; }

/* Calls fn(key, value, ctx) for every entry (key as callers give keys),
 * in no particular order. Stops when fn returns nonzero and returns that
 * value, else 0. fn must not write to m. */
int gomap__for_each_entry(const gomap_t *m, int (*fn)(const void *key, void *val, void *ctx),
                          void *ctx);

/* A new map with opt's options holding src's entries (none if src is NULL),
 * ready for `hint` entries. When src is not growing and `hint` entries fit
 * its array, the copy is made block by block (map_clone.c): the same
 * array size and seed, arrays and overflow chains copied as memory, only
 * out-of-line keys and values duplicated; otherwise entry by entry into a
 * map presized for `hint`. opt must describe src's keys and values (its
 * hint is ignored). Reads src only. 0 or -ENOMEM (nothing allocated). */
int gomap__copy_map(gomap_t **out, const gomap_t *src, const gomap_options *opt, size_t hint);

/* Completes a growth in progress, so that every entry lives in one array
 * and lookups look in one place. 0, or -ENOMEM if an evacuation ran out of
 * memory (the map is whole and correct, still growing). */
int gomap__grow_finish(gomap_t *m);

/* ---- life cycle ---------------------------------------------------------------- */

/* 0 if gomap_new would accept opt, else -EINVAL. Allocates nothing. */
int gomap__options_check(const gomap_options *opt);

static inline bool layer_frozen(const gomap_t *m) { return m->frozen; }

/* True if m hashes with `seed` for its whole life (gomap__new_seeded). */
static inline bool layer_seeded_with(const gomap_t *m, uint64_t seed)
{
    return m->fixed_seed && m->seed == seed;
}

/* Makes a map made by gomap__new_seeded a plain map again: it may be
 * re-randomised like any other (a layer handing one of its maps to a
 * caller). */
static inline void gomap__seed_unfix(gomap_t *m) { m->fixed_seed = 0; }

/* ---- lock-free readers ---------------------------------------------------------- */

/* A layer whose readers walk a core map without its lock calls
 * gomap__keep_retired_arrays once (map.h's internals); from then on the
 * arrays a growth outgrows wait on the map until the layer takes them with
 * gomap__take_retired_arrays (under its lock) and frees them with
 * gomap__free_retired_arrays once no reader can be walking them (after a
 * grace period). gomap__retired_arrays_head names the list as it is now,
 * so that a layer can tell cheaply whether growth retired anything since
 * it last looked. */
static inline const void *gomap__retired_arrays_head(const gomap_t *m)
{
    return m->graveyard_arrays;
}

/* Frees a list returned by gomap__take_retired_arrays (through m's
 * allocator and accounting; the caller holds m): a slice per later write
 * of m (gomap__release_array, map_internal.h), all of it at gomap_free. */
void gomap__free_retired_arrays(gomap_t *m, struct array_hdr *list);

/* The part of the header a lookup reads, which map_internal.h places before
 * `nevacuate`. An optimistic reader copies it from a map a writer may be
 * changing (under the layer's sequence count, which tells it afterwards
 * whether the copy was consistent) and then looks up in the copy with
 * layer_find / layer_value; the bucket arrays it reaches must stay
 * allocated while it reads (gomap__keep_retired_arrays). */
#define GOMAP_LOOKUP_HEADER_BYTES offsetof(struct gomap, nevacuate)

#define LOOKUP_FIELD_COPIED(f) \
    _Static_assert(offsetof(struct gomap, f) + sizeof(((struct gomap *)0)->f) <= \
                       GOMAP_LOOKUP_HEADER_BYTES, \
                   "lookups read " #f ": it must lie in the copied header")
LOOKUP_FIELD_COPIED(count);
LOOKUP_FIELD_COPIED(buckets);
LOOKUP_FIELD_COPIED(oldbuckets);
LOOKUP_FIELD_COPIED(seed);
LOOKUP_FIELD_COPIED(hash_mul);
LOOKUP_FIELD_COPIED(lookup_mask);
LOOKUP_FIELD_COPIED(lookup_shape);
LOOKUP_FIELD_COPIED(B);
LOOKUP_FIELD_COPIED(flags);
LOOKUP_FIELD_COPIED(key_indirect);
LOOKUP_FIELD_COPIED(val_indirect);
LOOKUP_FIELD_COPIED(bucket_size);
LOOKUP_FIELD_COPIED(key_off);
LOOKUP_FIELD_COPIED(val_off);
LOOKUP_FIELD_COPIED(ovf_off);
LOOKUP_FIELD_COPIED(key_slot);
LOOKUP_FIELD_COPIED(val_slot);
LOOKUP_FIELD_COPIED(key_size);
LOOKUP_FIELD_COPIED(hash);
LOOKUP_FIELD_COPIED(equal);
#undef LOOKUP_FIELD_COPIED

/* Copies the lookup header of src into *dst (whose other fields are left
 * undefined: use dst only with layer_find and layer_value). */
static inline void gomap__copy_lookup_header(gomap_t *dst, const gomap_t *src)
{
    memcpy(dst, src, GOMAP_LOOKUP_HEADER_BYTES);
}

#endif /* GOMAP_CORE_LAYER_H */
