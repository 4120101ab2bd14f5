/*
 * map_probe.h — the per-kind key operations and chain search, shared by the
 * lookup, batch-lookup, write and growth code.
 *
 * Every function here is static inline and takes the key kind as a
 * parameter. Callers pass a constant kind (directly for the typed shortcuts,
 * through KIND_SWITCH for the generic calls), so the compiler emits one
 * specialised copy per kind: integer and string keys are hashed and compared
 * in place with no indirect call; only GOMAP_KEY_CUSTOM calls the user's
 * functions. None of these functions writes to the map.
 *
 * A "key" argument is a key as callers give keys (a uint64_t, a gomap_str,
 * key_size bytes...); a "slot" is the bytes in a bucket, which for an
 * out-of-line key hold a pointer to it (slot_key converts).
 */
#ifndef GOMAP_MAP_PROBE_H
#define GOMAP_MAP_PROBE_H

#include <math.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "base/hash.h"
#include "core/map_internal.h"
#include "base/rand.h"

/* For the routines that must be specialised per key kind even when large
 * (the compiler would otherwise emit one generic copy taking the kind as a
 * variable, losing the fast paths), and for every helper whose only effect
 * is prefetching: GCC classifies such a function as pure, and deletes a call
 * to it that was not inlined early (its result being unused). */
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* ---- loads that are safe for any alignment ------------------------------- */

static inline uint32_t load_u32(const void *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t load_u64(const void *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline double load_f64(const void *p) { double v; memcpy(&v, p, 8); return v; }

/* ---- per-kind key operations ---------------------------------------------- */

static inline bool kind_may_be_indirect(int kind)
{
    return kind == GOMAP_KEY_BYTES || kind == GOMAP_KEY_CUSTOM;
}

/* The key slot i of bucket b. For the kinds whose slot size is fixed the
 * key slots start right after the tophash bytes (compute_layout in map.c
 * asserts it), so the address is a constant stride, not two loads and a
 * multiply. */
static inline char *kind_key_slot(const gomap_t *m, int kind, char *b, size_t i)
{
    size_t slot = fixed_key_slot(kind);
    return slot ? b + (BUCKET_SLOTS + i * slot) : key_slot_at(m, b, (unsigned)i);
}

/* The key stored in a slot, as callers give keys. */
static inline const void *slot_key(const gomap_t *m, int kind, const char *slot)
{
    return kind_may_be_indirect(kind) ? key_of_slot(m, slot) : (const void *)slot;
}

/* What hashing a key needs of a map (gomap__hasher_of in layer.h makes one). */
typedef struct gomap__hasher {
    uint64_t seed;
    uint64_t mul;                                     /* hash_u64_mul_of(seed) */
    size_t key_size;                                  /* GOMAP_KEY_BYTES */
    uint64_t (*hash)(const void *key, uint64_t seed); /* GOMAP_KEY_CUSTOM */
} gomap__hasher;

/* The hash of a key. A NaN double gets a random hash (Go's rule: it can
 * never be found, so it only has to spread out); callers that must not
 * consume randomness test key_is_nan first. */
static inline uint64_t hash_with(const gomap__hasher *h, int kind, const void *key)
{
    switch (kind) {
    case GOMAP_KEY_U32:
        return hash_u64_mul(load_u32(key), h->seed, h->mul);
    case GOMAP_KEY_U64:
        return hash_u64_mul(load_u64(key), h->seed, h->mul);
    case GOMAP_KEY_F64: {
        double d = load_f64(key);
        return isnan(d) ? gomap__rand64() : hash_f64(d, h->seed);
    }
    case GOMAP_KEY_STR: {
        const gomap_str *s = key;
        return hash_bytes(s->ptr, s->len, h->seed);
    }
    case GOMAP_KEY_BYTES:
        return hash_bytes(key, h->key_size, h->seed);
    default:
        return h->hash(key, h->seed);
    }
}

/* The map's hash of a key. */
static inline uint64_t hash_of(const gomap_t *m, int kind, const void *key)
{
    const gomap__hasher h = {m->seed, m->hash_mul, m->key_size, m->hash};
    return hash_with(&h, kind, key);
}

static inline bool key_eq(const gomap_t *m, int kind, const void *stored, const void *key)
{
    switch (kind) {
    case GOMAP_KEY_U32:
        return load_u32(stored) == load_u32(key);
    case GOMAP_KEY_U64:
        return load_u64(stored) == load_u64(key);
    case GOMAP_KEY_F64:
        return load_f64(stored) == load_f64(key); /* +0 == -0, NaN != NaN */
    case GOMAP_KEY_STR: {
        const gomap_str *a = stored, *b = key;
        return a->len == b->len && (a->len == 0 || memcmp(a->ptr, b->ptr, a->len) == 0);
    }
    case GOMAP_KEY_BYTES:
        return m->key_size == 0 || memcmp(stored, key, m->key_size) == 0;
    default:
        return m->equal(stored, key);
    }
}

static inline bool key_is_nan(int kind, const void *key)
{
    return kind == GOMAP_KEY_F64 && isnan(load_f64(key));
}

/* Expands CALL(K) once per key kind with K a constant, and stores the value
 * of the one matching `kind` in `result`. */
#define KIND_SWITCH(kind, result, CALL)                                     \
    switch (kind) {                                                         \
    case GOMAP_KEY_U32: (result) = CALL(GOMAP_KEY_U32); break;              \
    case GOMAP_KEY_U64: (result) = CALL(GOMAP_KEY_U64); break;              \
    case GOMAP_KEY_F64: (result) = CALL(GOMAP_KEY_F64); break;              \
    case GOMAP_KEY_STR: (result) = CALL(GOMAP_KEY_STR); break;              \
    case GOMAP_KEY_BYTES: (result) = CALL(GOMAP_KEY_BYTES); break;          \
    default: (result) = CALL(GOMAP_KEY_CUSTOM); break;                      \
    }

/* Copies n bytes where n is usually one of a few small sizes known only at
 * run time (a slot size): the common sizes become one or two moves instead
 * of a call to memcpy. */
static inline void copy_slot_bytes(void *dst, const void *src, size_t n)
{
    switch (n) {
    case 0: break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    case 16: memcpy(dst, src, 16); break;
    default: memcpy(dst, src, n); break;
    }
}

/* Bytes of a key slot: a constant for the fixed-size kinds, so copies of
 * them compile to single moves. */
static inline size_t key_slot_bytes(const gomap_t *m, int kind)
{
    uint32_t slot = fixed_key_slot(kind);
    return slot ? slot : m->key_slot;
}

/* ---- bucket matching -------------------------------------------------------- */

/* The 8 tophash bytes of a bucket as one word, byte i = slot i. */
static inline uint64_t tophash_word(const char *b)
{
    uint64_t w;
    memcpy(&w, b, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* 0x80 in every byte of x that is zero, nothing elsewhere (exact: no false
 * positives, unlike the shorter borrow-based trick). */
static inline uint64_t zero_bytes(uint64_t x)
{
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7full;
    return ~(((x & low7) + low7) | x | low7);
}

/* 0x80 in every byte of x that is zero, and maybe in a byte holding 0x01
 * just above (more significant than) a zero byte: the borrow-based test,
 * three operations. For candidates that are checked anyway (a key compare
 * follows), lowest first: a false one can only come after a true one. */
static inline uint64_t zero_bytes_candidates(uint64_t x)
{
    return (x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull;
}

/* 0x80 in every byte of a tophash word that marks an empty slot (EMPTY_REST
 * or EMPTY_ONE, i.e. a byte value below 2), nothing elsewhere. Exact. */
static inline uint64_t empty_bytes(uint64_t w)
{
    return zero_bytes(w & 0xfefefefefefefefeull);
}

/* The slots of a bucket whose tophash byte is `top` (a live tophash), as a
 * mask: slot_mask_any tells whether it holds a slot, slot_mask_first gives
 * the lowest, and s & (s - 1) drops it. With SSE2 (every x86-64) one
 * compare of the 8 bytes gives bit i for slot i, exactly (bits 8-15 are
 * noise: slot_mask_any ignores them, and they are above every slot's).
 * The portable SWAR form gives byte i's top bit (zero_bytes_candidates on
 * the tophash word XOR the wanted byte): every match, now and then one
 * more that the key compare rejects (its tophash is the wanted one XOR 1,
 * at least MIN_TOPHASH - 1, and sits above a live match in the same
 * bucket, so it is a live slot too, never a stale evacuated one). */
#if defined(__SSE2__)
typedef unsigned slot_mask;

static inline slot_mask match_top(const char *b, unsigned top)
{
    /* `top` in the low 8 bytes (3 instructions; _mm_set1_epi8 takes 4). */
    __m128i t = _mm_cvtsi32_si128((int)top);
    __m128i want = _mm_shufflelo_epi16(_mm_unpacklo_epi8(t, t), 0);
    __m128i w = _mm_loadl_epi64((const __m128i *)(const void *)b);
    return (slot_mask)_mm_movemask_epi8(_mm_cmpeq_epi8(w, want));
}

static inline bool slot_mask_any(slot_mask s) { return (s & 0xff) != 0; }

/* tzcnt written out: from __builtin_ctz GCC knows a small int and rewrites
 * the slot address arithmetic around it, three instructions more per
 * candidate. s holds a slot (tzcnt, or bsf on older processors, agree). */
static inline size_t slot_mask_first(slot_mask s)
{
    size_t i;
    __asm__("tzcnt %1, %0" : "=r"(i) : "r"((size_t)s) : "cc");
    return i;
}

/* Whether the bucket holds an EMPTY_REST byte. */
static inline bool has_empty_rest(const char *b)
{
    __m128i w = _mm_loadl_epi64((const __m128i *)(const void *)b);
    return (_mm_movemask_epi8(_mm_cmpeq_epi8(w, _mm_setzero_si128())) & 0xff) != 0;
}
#else
typedef uint64_t slot_mask;

static inline slot_mask match_top(const char *b, unsigned top)
{
    return zero_bytes_candidates(tophash_word(b) ^ (0x0101010101010101ull * top));
}

static inline bool slot_mask_any(slot_mask s) { return s != 0; }

static inline size_t slot_mask_first(slot_mask s) { return (unsigned)__builtin_ctzll(s) >> 3; }

static inline bool has_empty_rest(const char *b) { return zero_bytes(tophash_word(b)) != 0; }
#endif

/* Searches one chain for key, a bucket at a time: match_top gives the
 * candidates, and a bucket holding an EMPTY_REST byte is the last (the
 * rest of the chain is empty). */
static inline slot_ref find_in_chain(const gomap_t *m, int kind, char *b,
                                     const void *key, unsigned top)
{
    do {
        for (slot_mask hits = match_top(b, top); slot_mask_any(hits); hits &= hits - 1) {
            size_t i = slot_mask_first(hits);
            if (key_eq(m, kind, slot_key(m, kind, kind_key_slot(m, kind, b, i)), key))
                return (slot_ref){b, (unsigned)i};
        }
        if (has_empty_rest(b))
            break;
        b = *overflow_of(m, b);
    } while (b);
    return (slot_ref){NULL, 0};
}

/* The old bucket a key with this hash came from, while the map grows. */
static inline char *old_bucket_of(const gomap_t *m, uint64_t hash)
{
    return bucket_at(m, m->oldbuckets, hash & (old_bucket_count(m) - 1));
}

/* Prefetches the lines of bucket b that a probe reads (at most 4 lines: a
 * chain with long inline keys is not worth more bandwidth up front). Buckets
 * are 8-byte aligned (bucket_size is a multiple of 8 and arrays and overflow
 * buckets come 16-aligned from the allocator), so a line fetched at b + off
 * also holds the 8 bytes from there: the last byte needs its own prefetch
 * only when it lies further into the line. */
ALWAYS_INLINE void prefetch_bucket(const char *b, size_t span)
{
    if (span > 256)
        span = 256;
    for (size_t off = 0; off < span; off += 64)
        __builtin_prefetch(b + off, 0, 3);
    if (((span - 1) & 63) >= 8)
        __builtin_prefetch(b + span - 1, 0, 3);
}

/* Prefetches where a key of this hash lives: its home bucket and, while the
 * map grows, its old bucket too (which one is live is decided at probe time
 * from the old bucket's first tophash byte). */
ALWAYS_INLINE void prefetch_home(const gomap_t *m, uint64_t hash, size_t span)
{
    if (m->oldbuckets)
        prefetch_bucket(old_bucket_of(m, hash), span);
    prefetch_bucket(bucket_at(m, m->buckets, hash & bucket_mask(m->B)), span);
}

/* The head of the chain where a key with this hash lives now: its old bucket
 * while that has not been evacuated, else its bucket in the current array. */
static inline char *home_bucket(const gomap_t *m, uint64_t hash)
{
    if (m->oldbuckets) {
        char *ob = old_bucket_of(m, hash);
        if (!is_evacuated_bucket(ob))
            return ob;
    }
    return bucket_at(m, m->buckets, hash & bucket_mask(m->B));
}

static inline slot_ref find(const gomap_t *m, int kind, const void *key, uint64_t hash)
{
    return find_in_chain(m, kind, home_bucket(m, hash), key, tophash_from(hash));
}

/* ---- one-bucket lookups without hashing (Go's B == 0 fast paths) ----------- */

static inline void *one_bucket_int(const gomap_t *m, int kind, const void *key)
{
    for (char *b = m->buckets; b; b = *overflow_of(m, b)) {
        const uint8_t *th = tophash_of(b);
        for (unsigned i = 0; i < BUCKET_SLOTS; i++) {
            if (th[i] == EMPTY_REST)
                return NULL;
            if (th[i] >= MIN_TOPHASH && key_eq(m, kind, kind_key_slot(m, kind, b, i), key))
                return val_of_slot(m, val_slot_at(m, b, i));
        }
    }
    return NULL;
}

/* Short strings compare directly. A long string is compared by length and its
 * first and last 4 bytes; if more than one slot survives that, hashing is
 * cheaper than several long compares. Returns NULL and sets *need_hash when
 * the caller should take the hashed path. */
static inline void *one_bucket_str(const gomap_t *m, const gomap_str *key, bool *need_hash)
{
    char *b = m->buckets;
    const uint8_t *th = tophash_of(b);
    if (*overflow_of(m, b)) {
        *need_hash = true;
        return NULL;
    }
    if (key->len < 32) {
        for (unsigned i = 0; i < BUCKET_SLOTS && th[i] != EMPTY_REST; i++) {
            const char *ks = key_slot_at(m, b, i);
            if (th[i] >= MIN_TOPHASH && key_eq(m, GOMAP_KEY_STR, ks, key))
                return val_of_slot(m, val_slot_at(m, b, i));
        }
        return NULL;
    }
    int maybe = -1;
    for (unsigned i = 0; i < BUCKET_SLOTS && th[i] != EMPTY_REST; i++) {
        gomap_str s;
        memcpy(&s, key_slot_at(m, b, i), sizeof s);
        if (th[i] < MIN_TOPHASH || s.len != key->len)
            continue;
        if (memcmp(s.ptr, key->ptr, 4) != 0 ||
            memcmp(s.ptr + s.len - 4, key->ptr + key->len - 4, 4) != 0)
            continue;
        if (maybe >= 0) {
            *need_hash = true;
            return NULL;
        }
        maybe = (int)i;
    }
    if (maybe >= 0 && key_eq(m, GOMAP_KEY_STR, key_slot_at(m, b, (unsigned)maybe), key))
        return val_of_slot(m, val_slot_at(m, b, (unsigned)maybe));
    return NULL;
}

/* ---- lookup ------------------------------------------------------------------ */

/* The value slot of key (hashed `hash`), or NULL, in the array `buckets`
 * of 2^B buckets (mask = 2^B - 1, B > 0) of a map whose layout is
 * shape_code(kind, val_slot): the bucket geometry is constant, and m gives
 * only what never changes (the overflow link's place, for a chain). */
ALWAYS_INLINE void *find_shaped(const gomap_t *m, int kind, uint32_t val_slot, char *buckets,
                                size_t mask, const void *key, uint64_t hash)
{
    char *b = buckets + (hash & mask) * shape_bucket_size(kind, val_slot);
    slot_ref r = find_in_chain(m, kind, b, key, tophash_from(hash));
    return r.b ? r.b + shape_val_off(kind, val_slot) + (size_t)r.i * val_slot : NULL;
}

/* The value slot of key, or NULL, in a map of one array with B > 0 whose
 * layout is shape_code(kind, val_slot). */
ALWAYS_INLINE void *lookup_shaped(const gomap_t *m, int kind, const void *key, uint32_t val_slot)
{
    if (key_is_nan(kind, key))
        return NULL;
    uint64_t hash = hash_of(m, kind, key);
    return find_shaped(m, kind, val_slot, m->buckets, m->lookup_mask, key, hash);
}

/* The value slot of key, or NULL, in any state of the map. One-bucket maps
 * of integer and string keys are searched without hashing. */
ALWAYS_INLINE void *lookup_any(const gomap_t *m, int kind, const void *key)
{
    if (m->count == 0 || key_is_nan(kind, key))
        return NULL;
    if (m->B == 0 && !m->oldbuckets) {
        if (kind == GOMAP_KEY_U32 || kind == GOMAP_KEY_U64)
            return one_bucket_int(m, kind, key);
        if (kind == GOMAP_KEY_STR) {
            bool need_hash = false;
            void *v = one_bucket_str(m, key, &need_hash);
            if (!need_hash)
                return v;
        }
    }
    slot_ref r = find(m, kind, key, hash_of(m, kind, key));
    return r.b ? val_of_slot(m, val_slot_at(m, r.b, r.i)) : NULL;
}

/* Go's mapaccess: the value slot of key, or NULL. The common shapes in
 * their common state take lookup_shaped; the test of lookup_shape also
 * tells that the map is not growing and has B > 0. */
ALWAYS_INLINE void *probe_lookup(const gomap_t *m, int kind, const void *key)
{
    uint8_t shape = load_relaxed(&((gomap_t *)(uintptr_t)m)->lookup_shape);
    if (fixed_key_slot(kind) && shape == shape_code(kind, 8))
        return lookup_shaped(m, kind, key, 8);
    if (fixed_key_slot(kind) && shape == shape_code(kind, 16))
        return lookup_shaped(m, kind, key, 16);
    return lookup_any(m, kind, key);
}

#endif /* GOMAP_MAP_PROBE_H */
