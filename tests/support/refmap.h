/*
 * refmap.h — a reference map for tests: simple enough to be obviously right,
 * fast enough for 100k entries, with the key semantics of every gomap key
 * kind. Tests run the same operations on a gomap and on a refmap and compare.
 *
 * Keys are passed exactly as gomap takes them (a uint32_t, uint64_t or
 * double; a gomap_str for GOMAP_KEY_STR; key_size bytes for BYTES and
 * CUSTOM). Keys and values are copied. Float keys follow Go: +0 and -0 are
 * one key and the stored key is the last one written; NaN never equals
 * anything, so every NaN set adds an entry that get and delete never find
 * (clear and whole-map comparison still see them). Custom keys use the
 * caller's hash (called with seed 0) and equal functions; a custom key's
 * stored bytes are the ones first written and are compared with equal only.
 *
 * Storage: a chained hash table with a fixed hash, plus a dense array of the
 * findable entries (for random picks and walks) and one of the NaN entries.
 * Out of memory aborts. Not thread-safe.
 *
 * Iteration tracking. refmap_track_* checks a gomap iteration against Go's
 * iteration contract while the map is being changed: every entry produced
 * must be present at that moment with its current value and must not have
 * been produced before (an entry deleted and re-created counts as new); when
 * the iteration runs to its end, every entry that was present from the
 * tracker's start to the end must have been produced. Up to
 * REFMAP_MAX_TRACKERS iterations can be tracked at once.
 */
#ifndef GOMAP_TEST_REFMAP_H
#define GOMAP_TEST_REFMAP_H

#include <gomap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct refmap refmap;

typedef uint64_t (*refmap_hash_fn)(const void *key, uint64_t seed);
typedef bool (*refmap_equal_fn)(const void *a, const void *b);

/* An empty reference map for `kind` (not GOMAP_KEY_CUSTOM). key_size is used
 * for GOMAP_KEY_BYTES only. */
refmap *refmap_new(gomap_key_kind kind, size_t key_size, size_t val_size);
/* An empty reference map for GOMAP_KEY_CUSTOM keys of key_size bytes. */
refmap *refmap_new_custom(size_t key_size, size_t val_size, refmap_hash_fn hash,
                          refmap_equal_fn equal);
/* A deep copy (no tracker active in the copy). */
refmap *refmap_clone(const refmap *r);
void refmap_free(refmap *r);

gomap_key_kind refmap_kind(const refmap *r);
size_t refmap_key_size(const refmap *r);
size_t refmap_val_size(const refmap *r);

/* Every entry, NaN-keyed ones included (what gomap_len must say). */
size_t refmap_len(const refmap *r);
/* Entries with a NaN key. */
size_t refmap_nan_count(const refmap *r);
/* True if `key` is a NaN float key (never findable). */
bool refmap_key_is_nan(const refmap *r, const void *key);

/* Go's m[key] = val. `val` may be NULL: the value becomes all zero bytes.
 * Returns true if an entry was added (always for a NaN key). */
bool refmap_set(refmap *r, const void *key, const void *val);
/* The stored value of `key`, or NULL if absent. For a set (val_size 0) the
 * pointer is non-NULL for a present key and must not be dereferenced. */
const void *refmap_get(const refmap *r, const void *key);
/* The stored key equal to `key` (gomap form), or NULL if absent. */
const void *refmap_stored_key(const refmap *r, const void *key);
/* Overwrites the value of a present key without touching its stored key
 * (what a write through a value slot does). Returns false if absent. */
bool refmap_set_value(refmap *r, const void *key, const void *val);
/* Removes `key`; true if it was present. */
bool refmap_delete(refmap *r, const void *key);
void refmap_clear(refmap *r);

/* The findable (non-NaN) entries, indexed 0..refmap_findable()-1. Indexes
 * change when entries are deleted. Keys are in the form gomap takes (a
 * gomap_str for string maps). */
size_t refmap_findable(const refmap *r);
const void *refmap_key_at(const refmap *r, size_t i);
const void *refmap_val_at(const refmap *r, size_t i);

/* Writes a short printable form of `key` into buf (for failure messages). */
void refmap_format_key(const refmap *r, const void *key, char *buf, size_t len);

/* Iteration tracking (see the top of this file). begin returns a tracker id;
 * produced checks one entry handed out by gomap_iter_next (key and val as it
 * returned them); end is told whether gomap_iter_next returned false
 * (exhausted) or the iteration stopped early (gomap_iter_done, or a clear).
 * produced and end return false and write a reason on a contract breach. */
#define REFMAP_MAX_TRACKERS 4
int refmap_track_begin(refmap *r);
bool refmap_track_produced(refmap *r, int t, const void *key, const void *val, char *why,
                           size_t why_len);
bool refmap_track_end(refmap *r, int t, bool exhausted, char *why, size_t why_len);

/* Compares a whole gomap with the reference: gomap_len, then a full
 * iteration that must produce every entry exactly once with its value and
 * stored key (NaN entries as a multiset of key bits and values). With
 * `lookups`, also looks every findable key up with gomap_get and
 * gomap_get_copy (and a float zero under both signs), and checks that a NaN
 * lookup misses. Returns false with a reason on the first difference. */
bool refmap_compare(refmap *r, gomap_t *m, bool lookups, char *why, size_t why_len);

#endif /* GOMAP_TEST_REFMAP_H */
