/*
 * gomap/map.h — the core map: Go's built-in hash map, in C11.
 *
 * Purpose. A hash map with the design and observable behaviour of Go's runtime
 * map (8-slot buckets with tophash bytes, load factor 6.5, incremental growth,
 * randomised iteration that survives growth, Go's float-key rules), plus what
 * Go users asked for and never got: shrinking, cloning and a structural
 * validator.
 *
 * Thread-safety. A map is not thread-safe, exactly like Go's. Any number of
 * threads may read one map at the same time (gomap_get*, gomap_len, iterators,
 * gomap_clone, gomap_validate) as long as no thread writes it. A write (set,
 * assign, delete, clear, shrink) must not overlap any other access to the same
 * map; the caller provides that exclusion (a lock, or one owning thread).
 * Iterator initialisation counts as a read.
 *
 * Ownership. Keys and values are copied into memory the map owns. String keys
 * (GOMAP_KEY_STR) are copied too; the caller's bytes may be reused as soon as
 * the call returns. Pointers the map hands out (value slots, stored keys) stay
 * valid until the next write to the map, and no longer.
 *
 * Errors. Functions that can fail return 0 or a negative errno value:
 * -EINVAL for bad arguments (nothing is allocated or changed), -ENOMEM when
 * memory runs out (the map is left exactly as it was: every entry still
 * there, nothing half inserted, nothing leaked), -EBUSY, -EFAULT
 * (validators) and -EIO (dump and heatmap writers) where documented.
 * gomap_strerror() names them. Lookups return a pointer or a bool.
 *
 * Memory. Every allocation goes through the map's allocator (default
 * malloc/free). A custom allocator must return memory aligned for max_align_t
 * (16 bytes on x86-64), or NULL on failure.
 */
#ifndef GOMAP_MAP_H
#define GOMAP_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define GOMAP_API __attribute__((visibility("default")))
#else
#define GOMAP_API
#endif

/* ------------------------------------------------------------------------ */
/* Types                                                                     */
/* ------------------------------------------------------------------------ */

/* Opaque map handle. */
typedef struct gomap gomap_t;

/* What a key is. The `key` argument of every call points to:
 *   GOMAP_KEY_U32     a uint32_t
 *   GOMAP_KEY_U64     a uint64_t (also the kind to use for pointers)
 *   GOMAP_KEY_F64     a double, with Go's rules: +0 and -0 are one key, and
 *                     NaN never equals anything (each NaN insert adds an entry
 *                     that no lookup or delete can find; iteration and clear
 *                     still see them)
 *   GOMAP_KEY_STR     a gomap_str; the bytes are copied into the map
 *   GOMAP_KEY_BYTES   key_size bytes, compared bytewise (0 is allowed: a map
 *                     with at most one key, like Go's map[struct{}]T)
 *   GOMAP_KEY_CUSTOM  key_size bytes, hashed and compared by the caller's
 *                     hash and equal functions */
typedef enum {
    GOMAP_KEY_U32,
    GOMAP_KEY_U64,
    GOMAP_KEY_F64,
    GOMAP_KEY_STR,
    GOMAP_KEY_BYTES,
    GOMAP_KEY_CUSTOM
} gomap_key_kind;

/* A string key: `len` bytes at `ptr` (not NUL-terminated; may contain NUL
 * bytes). {NULL, 0} is the empty string. The map stores its own copy; a
 * stored key handed back by an iterator is also a gomap_str whose bytes the
 * map owns. Keys of up to GOMAP_MAX_KEY_SIZE bytes are accepted. Every map
 * (core, sync, sharded, snapshot) rejects {NULL, len > 0} and a key longer
 * than GOMAP_MAX_KEY_SIZE alike, without reading its bytes: writes return
 * -EINVAL, lookups return NULL or false (with zero-filled output), deletes
 * return false (gomap_snap_delete -EINVAL), and a batch lookup answers NULL
 * for that key. */
typedef struct {
    const char *ptr;
    size_t len;
} gomap_str;

/* Pluggable allocator. `free` receives the size that was passed to `alloc`
 * for that block. Memory must be aligned for max_align_t. */
typedef struct gomap_allocator {
    void *(*alloc)(size_t size, void *ctx);
    void (*free)(void *ptr, size_t size, void *ctx);
    void *ctx;
} gomap_allocator;

/* Largest key_size and val_size accepted; larger is -EINVAL. GOMAP_MAX_KEY_SIZE
 * is also the longest string key (GOMAP_KEY_STR) accepted; a longer one is
 * rejected as described at gomap_str. Keys and values over GOMAP_INLINE_MAX
 * bytes are stored out of line (behind a pointer in the bucket), as Go does. */
#define GOMAP_MAX_KEY_SIZE ((size_t)1 << 24)
#define GOMAP_MAX_VAL_SIZE ((size_t)1 << 24)
#define GOMAP_INLINE_MAX 128

/* Misuse detection (see gomap/diag.h for the report and the fault hook).
 * A write that overlaps another access to the same map ends the process with
 * Go's message ("fatal error: concurrent map writes", "... read and map
 * write", "... iteration and map write") after a report naming both threads. */
typedef enum {
    GOMAP_CHECK_AUTO = 0, /* the GOMAP_CHECK environment variable at
                             creation: "off", "fast" or "strict", in any case
                             ("STRICT" too). Unset, or any other value, gives
                             the build's default (fast; strict with
                             -DGOMAP_CHECK_STRICT=ON); another value also
                             prints one line on stderr, once per process:
                             gomap: ignoring GOMAP_CHECK="<value>": expected
                             off, fast or strict (in any case); using the
                             default check mode, <mode> */
    GOMAP_CHECK_OFF,      /* no detection (to measure its cost) */
    GOMAP_CHECK_FAST,     /* Go's: a relaxed load and store of a mark per
                             write, a relaxed load per read; best effort */
    GOMAP_CHECK_STRICT    /* atomic exchange of the mark on write entry and
                             exit: overlapping writers are always caught */
} gomap_check_mode;

typedef struct gomap_options {
    gomap_key_kind key_kind;
    size_t key_size;  /* GOMAP_KEY_BYTES / GOMAP_KEY_CUSTOM only; else ignored */
    size_t val_size;  /* bytes copied per value; 0 makes a set */
    size_t hint;      /* expected entries; any value is accepted (a hint too
                         large to honour is ignored, as Go does). What a
                         hint costs: the bucket array for `hint` entries
                         is allocated at creation (for u64 keys and values,
                         22-44 bytes per hinted entry) and counts in
                         bytes_held and against mem_limit. With the default
                         allocator an array of 1 MiB or more is a mapping of
                         its own whose pages take memory only once written,
                         so an unused hint costs address space, not resident
                         memory (it is advised for transparent huge pages, so
                         where the system grants them an entry makes its
                         whole 2 MiB of the array resident: a hint far above
                         the entries inserted costs up to 2 MiB per entry
                         until the map fills); gomap_free and gomap_clear never write a
                         page no entry touched (clear gives the array's pages
                         back), and cost O(overflow buckets) for maps with
                         inline keys and values, plus a read of the array up
                         to its last entry for string keys or items stored
                         out of line. With a custom allocator the whole array
                         is zeroed (touched) at creation. */
    uint64_t (*hash)(const void *key, uint64_t seed);    /* GOMAP_KEY_CUSTOM */
    bool (*equal)(const void *a, const void *b);         /* GOMAP_KEY_CUSTOM */
    const gomap_allocator *alloc;  /* NULL: malloc/free. Must outlive the map;
                                      clones share it. */
    gomap_check_mode check;        /* misuse detection; 0 = GOMAP_CHECK_AUTO */
    size_t mem_limit;              /* bytes the map may hold (everything it
                                      allocates, see gomap_stats bytes_held);
                                      0 = no limit. A write that would exceed
                                      it fails with -ENOMEM, map unchanged.
                                      A growth needs the old and the new
                                      array at once; when it does not fit,
                                      the map keeps inserting above the load
                                      factor (longer chains, slower lookups)
                                      until the bytes themselves run out, and
                                      grows at a later insert once memory
                                      allows: inserts are refused only within
                                      an overflow bucket or a key copy of the
                                      limit (in practice at 99 % or more). */
} gomap_options;

/* ------------------------------------------------------------------------ */
/* Life cycle                                                                */
/* ------------------------------------------------------------------------ */

/* Creates a map and stores it in *out. Returns 0, -EINVAL (NULL out or opt,
 * unknown key kind, key_size/val_size over the maximum, custom kind without
 * hash or equal; *out is set to NULL and nothing is allocated) or -ENOMEM.
 * The per-map hash seed comes from the operating system's random source
 * (through a per-thread generator). Setting the environment variable
 * GOMAP_HASH_SEED to a number makes seeds and iteration orders repeat from
 * run to run — for debugging only: it disables the hash-flooding defence.
 * The number is an unsigned 64-bit value written in decimal (leading zeros
 * allowed; not octal) or in hexadecimal after "0x" or "0X", and nothing
 * else: any other value (empty, signed, with spaces or trailing characters,
 * over 2^64 - 1) is ignored, the random source is used, and one line is
 * printed on stderr, once per process:
 *   gomap: ignoring GOMAP_HASH_SEED="<value>": not a decimal or
 *   0x-hexadecimal unsigned 64-bit number; using a random seed
 * (one line; broken here). Each thread reads the variable when it first
 * needs a random number. */
GOMAP_API int gomap_new(gomap_t **out, const gomap_options *opt);

/* Frees the map and everything it owns. NULL is a no-op. Iterators over the
 * map must not be used afterwards. */
GOMAP_API void gomap_free(gomap_t *m);

/* Number of entries (Go's len). 0 for NULL. */
GOMAP_API size_t gomap_len(const gomap_t *m);

/* ------------------------------------------------------------------------ */
/* Lookups (reads)                                                           */
/* ------------------------------------------------------------------------ */

/* Returns a pointer to the value slot of `key`, or NULL if absent (or if m or
 * key is NULL). For a set (val_size 0) the pointer is non-NULL for a present
 * key and must not be dereferenced. The slot may be written through; the
 * pointer is valid until the next write to the map. */
GOMAP_API void *gomap_get(const gomap_t *m, const void *key);

/* Copies the value of `key` to val_out (if val_out is not NULL) and returns
 * true; if the key is absent, fills val_out with zero bytes (Go's zero value)
 * and returns false. */
GOMAP_API bool gomap_get_copy(const gomap_t *m, const void *key, void *val_out);

/* Batch lookup: for each i < n, vals_out[i] = gomap_get(m, key i), where
 * `keys` is an array of n keys of the map's key type (uint32_t, uint64_t,
 * double, gomap_str, or key_size-byte items for GOMAP_KEY_BYTES and
 * GOMAP_KEY_CUSTOM, packed with no padding; any alignment). Returns the
 * number of keys found, i.e. of non-NULL entries written.
 *
 * The answers are exactly those of n gomap_get calls, in every state of the
 * map (growing, one bucket, empty): a NaN key and a string key that no map
 * accepts ({NULL, len > 0}, or longer than GOMAP_MAX_KEY_SIZE) give NULL, a
 * duplicate key gives the same pointer each time. The pointers are valid
 * until the next write to the map. The call is a read, like
 * gomap_get (same thread-safety; a write in progress is reported once per
 * call). It is faster than a loop of gomap_get on maps bigger than the CPU
 * caches: keys are hashed some way ahead and their buckets prefetched, so
 * many memory accesses overlap. Blocks of a few hundred keys are enough.
 *
 * Bad input (m NULL, keys NULL with n > 0, vals_out NULL with n > 0)
 * returns 0, with vals_out filled with NULLs when it is not NULL. */
GOMAP_API size_t gomap_get_many(const gomap_t *m, const void *keys, size_t n, void **vals_out);

/* gomap_get_many for a GOMAP_KEY_U64 / GOMAP_KEY_STR map. On a map of another
 * kind: returns 0 and fills vals_out with NULLs. */
GOMAP_API size_t gomap_get_many_u64(const gomap_t *m, const uint64_t *keys, size_t n,
                                    void **vals_out);
GOMAP_API size_t gomap_get_many_str(const gomap_t *m, const gomap_str *keys, size_t n,
                                    void **vals_out);

/* ------------------------------------------------------------------------ */
/* Writes                                                                    */
/* ------------------------------------------------------------------------ */

/* Inserts or overwrites `key` with val_size bytes from `val` (`val` may be
 * NULL only when val_size is 0). Overwriting a float key stores the new key
 * bits, so -0 replaces +0 as Go does. Returns 0, -EINVAL or -ENOMEM. */
GOMAP_API int gomap_set(gomap_t *m, const void *key, const void *val);

/* Go's `m[k] op= v`: finds `key`, inserting it with an all-zero value if
 * absent, and stores a pointer to its value slot in *slot (valid until the
 * next write). Like gomap_set, a present float key is rewritten (-0
 * replaces +0). Returns 1 if the key was inserted, 0 if it was present,
 * -EINVAL or -ENOMEM (then *slot is NULL and the map is unchanged). */
GOMAP_API int gomap_assign(gomap_t *m, const void *key, void **slot);

/* Removes `key`; returns true if it was present. Never fails: like every
 * write it moves a growing map's entries along, which may allocate an
 * overflow bucket; if that allocation fails the move is skipped and the
 * delete still happens. When the map becomes empty its hash seed is
 * re-randomised. */
GOMAP_API bool gomap_delete(gomap_t *m, const void *key);

/* Removes every entry, keeps the bucket array (capacity), re-randomises the
 * seed, and makes every iterator in flight over this map stop. On an empty
 * map it does nothing (as Go's clear). */
GOMAP_API void gomap_clear(gomap_t *m);

/* Beyond Go: rebuilds the map into the smallest bucket array that holds its
 * entries without exceeding the load factor, giving back memory left by
 * deletes (an empty map frees its array). Completes any growth in progress.
 * Returns 0, -EINVAL, -ENOMEM (map unchanged) or -EBUSY if an iterator over
 * the map is live (initialised and neither exhausted nor done). */
GOMAP_API int gomap_shrink(gomap_t *m);

/* Beyond Go: a deep copy of m (same options and allocator, its own seed,
 * presized for m's length) stored in *out. A read of m. Returns 0, -EINVAL or
 * -ENOMEM (nothing allocated, *out NULL). */
GOMAP_API int gomap_clone(gomap_t **out, const gomap_t *m);

/* ------------------------------------------------------------------------ */
/* Iteration                                                                 */
/* ------------------------------------------------------------------------ */

/* An iterator lives wherever the caller puts it (usually the stack). Its
 * fields are private: do not read or write them. */
typedef struct gomap_iter {
    void *map_;
    void *buckets_;       /* bucket array the iteration started on */
    void *bucket_ptr_;    /* bucket being walked, NULL between buckets */
    size_t bucket_;       /* index of the next bucket to start */
    size_t start_bucket_;
    size_t check_bucket_;
    uint64_t clear_seq_;
    uint8_t b_;           /* log2 bucket count when started */
    uint8_t offset_;      /* random slot offset */
    uint8_t slot_;
    uint64_t map_id_;     /* identity of the map, for misuse checks */
    uint64_t epoch_;      /* the map's iterator epoch when started */
    const void *site_;    /* where it was started (misuse reports) */
    uint8_t wrapped_;
    uint8_t live_;
    uint8_t state_;       /* never started, live, exhausted or done */
} gomap_iter;

/* Starts an iteration over m at a random bucket and slot offset, so two
 * iterations over the same map usually give different orders. A read of m.
 * An iterator that has not run to exhaustion must be ended with
 * gomap_iter_done (ending it twice is harmless). An iterator started on an
 * empty map is exhausted at once and never counts as live.
 *
 * Contract (Go's): every entry present for the whole iteration is produced
 * exactly once; an entry deleted before the iterator reaches it is not
 * produced; an entry inserted during the iteration may or may not be
 * produced; no entry is produced twice. The thread that iterates may set,
 * assign and delete while iterating, and the map may grow meanwhile; a clear
 * makes the iteration stop. A step that meets another thread's write in
 * progress ends the process ("concurrent map iteration and map write").
 * Debug builds (GOMAP_DEBUG_LEVEL >= 1) also report an iterator stepped after
 * gomap_iter_done, after its map was freed, or whose map was replaced.
 *
 * Memory kept for iterators. While an iterator is live, arrays the map
 * outgrows (and deleted string keys an old array still points to) are kept
 * for it. That memory is bounded: at most 4 x the live array (or 1 MiB for
 * small maps). An iterator that lives across ordinary growth keeps less than
 * one live array; more comes from many growths during one iteration, in
 * practice from an iterator abandoned without gomap_iter_done. Past the
 * bound the map frees what it kept and ends every live iterator: stepping
 * one again ends the process with "gomap iterator resumed after its map
 * reclaimed the memory it walks (abandoned without gomap_iter_done?)" and a
 * report saying where the iterator was created (never a read of freed
 * memory); gomap_iter_done on it is harmless. gomap_stats shows live
 * iterators, the bytes kept and how often this happened; debug builds also
 * say so on stderr when it happens. */
GOMAP_API void gomap_iter_init(gomap_iter *it, gomap_t *m);

/* Produces the next entry: *key points to the stored key (a gomap_str for
 * string maps), *val to its value slot (writable). Either out pointer may be
 * NULL. Both pointers are valid until the next write. Returns false when the
 * iteration is over; the iterator is then ended automatically. */
GOMAP_API bool gomap_iter_next(gomap_iter *it, const void **key, void **val);

/* Ends an iteration early. Memory retired while iterators were live is given
 * back at the next write after the last one ends. */
GOMAP_API void gomap_iter_done(gomap_iter *it);

/* ------------------------------------------------------------------------ */
/* Checks and errors                                                         */
/* ------------------------------------------------------------------------ */

/* Checks every structural invariant (see docs/map.md): tophash markers,
 * emptyRest runs, hash placement, zeroed empty slots, counts, overflow
 * accounting, evacuation marks and progress. Returns 0, -EINVAL for NULL m,
 * or -EFAULT with a one-line reason written to why (if why_len > 0).
 * A read; cost O(entries x chain length). */
GOMAP_API int gomap_validate(const gomap_t *m, char *why, size_t why_len);

/* A static string naming a gomap error code (negative errno); never NULL.
 * It names exactly the codes gomap's functions return: 0, -ENOMEM, -EINVAL,
 * -EBUSY (gomap_shrink), -EFAULT (the validators), -EIO (the dump and
 * heatmap writers), -ENOENT (gomap_cache_ttl), -EAGAIN (gomap_cache_new)
 * and -EDEADLK (gomap_shard_resize called where it may not wait).
 * Any other value gets "unknown gomap error" (a value
 * that gomap_shard_compute or gomap_snap_update passed through from its
 * callback is named only if it is one of these). */
GOMAP_API const char *gomap_strerror(int err);

/* ------------------------------------------------------------------------ */
/* Operation latencies (the concurrent structures' stats)                   */
/* ------------------------------------------------------------------------ */

/* The sync map, the sharded map and the cache time one call in
 * GOMAP_LATENCY_SAMPLE of each thread (the thread's count of such calls, so
 * choosing costs a thread-local increment), from entry to return, with
 * CLOCK_MONOTONIC; the snapshot map times every copy it makes. A sample of
 * d ns goes to buckets[i], the first i with d <= GOMAP_LATENCY_MIN_NS << i;
 * buckets[GOMAP_LATENCY_BUCKETS - 1] takes all longer ones (over about 67 ms).
 * samples is the sum of the buckets and sum_ns the sum of the durations.
 * Figures are read with relaxed loads while calls go on, so a sample may be
 * in buckets and not yet in sum_ns; exact once the structure is quiet. */
#define GOMAP_LATENCY_SAMPLE 64
#define GOMAP_LATENCY_MIN_NS 64
#define GOMAP_LATENCY_BUCKETS 22

typedef struct gomap_latency {
    uint64_t samples;
    uint64_t sum_ns;
    uint64_t buckets[GOMAP_LATENCY_BUCKETS];
} gomap_latency_t;

/* ------------------------------------------------------------------------ */
/* Typed shortcuts (fast paths)                                              */
/* ------------------------------------------------------------------------ */

/* Same meaning as the generic calls, for a map of the matching key kind
 * (u64 for GOMAP_KEY_U64, u32 for GOMAP_KEY_U32, str for GOMAP_KEY_STR).
 * On a map of another kind they return -EINVAL, NULL or false. They skip the
 * generic dispatch, and on a one-bucket map lookups skip hashing. */
GOMAP_API int gomap_set_u64(gomap_t *m, uint64_t key, const void *val);
GOMAP_API void *gomap_get_u64(const gomap_t *m, uint64_t key);
GOMAP_API bool gomap_delete_u64(gomap_t *m, uint64_t key);

GOMAP_API int gomap_set_u32(gomap_t *m, uint32_t key, const void *val);
GOMAP_API void *gomap_get_u32(const gomap_t *m, uint32_t key);
GOMAP_API bool gomap_delete_u32(gomap_t *m, uint32_t key);

GOMAP_API int gomap_set_str(gomap_t *m, const char *ptr, size_t len, const void *val);
GOMAP_API void *gomap_get_str(const gomap_t *m, const char *ptr, size_t len);
GOMAP_API bool gomap_delete_str(gomap_t *m, const char *ptr, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* GOMAP_MAP_H */
