/*
 * map_batch.c — batch lookups (gomap_get_many and its typed forms).
 *
 * A single lookup in a table far bigger than the caches waits for one memory
 * round trip (the home bucket's tophash and keys) before it can compare
 * anything, and the next lookup's address does not depend on it, yet a plain
 * loop of lookups hardly overlaps them: the out-of-order window is too small
 * to hold a whole second lookup. Here the keys are software-pipelined: key
 * i + WINDOW is hashed and its bucket prefetched while key i is probed, so
 * about WINDOW memory accesses are in flight at once and the cost per key
 * approaches the memory system's throughput instead of its latency. Keys
 * stored out of line (strings) need a third stage between the two, half a
 * window behind the first, that prefetches the stored key bytes the probe
 * will compare.
 *
 * The answers are exactly gomap_get's: the probe is the same find() (chain
 * search, old bucket while not yet evacuated), a NaN key is never found, and
 * a string key no map accepts ({NULL, len > 0}, or longer than
 * GOMAP_MAX_KEY_SIZE) is answered NULL without being hashed. Nothing is written to the
 * map; the misuse read check runs once per call.
 */
#include "core/layer.h"
#include "core/map_probe.h"

/* Keys hashed ahead of the one being probed; a power of two. Chosen by
 * measurement on 1e6- and 1e7-entry u64 maps (docs/map.md, "Batch
 * lookups"): 4 and 8 leave memory parallelism unused (8 is 3-5 ns per key
 * slower than 16), 32 is no faster than 16. */
#define WINDOW 16

/* Bytes of a bucket a probe reads before it knows whether the key is there:
 * the tophash word and the key slots (for out-of-line keys the pointers; the
 * key bytes behind them cannot be prefetched before the slot is read). */
static inline size_t probe_span(const gomap_t *m, int kind)
{
    switch (kind) {
    case GOMAP_KEY_U32: return BUCKET_SLOTS + BUCKET_SLOTS * 4;
    case GOMAP_KEY_U64:
    case GOMAP_KEY_F64: return BUCKET_SLOTS + BUCKET_SLOTS * 8;
    case GOMAP_KEY_STR: return BUCKET_SLOTS + BUCKET_SLOTS * sizeof(gomap_str);
    default: return m->key_off + (size_t)BUCKET_SLOTS * m->key_slot;
    }
}

/* Skipped keys (never found, never hashed): NaN doubles and the string
 * keys no map accepts (gomap__str_key_bad). */
static inline bool key_skipped(int kind, const void *key)
{
    if (kind == GOMAP_KEY_STR)
        return gomap__str_key_bad(key);
    return key_is_nan(kind, key);
}

/* Stage one of the pipeline: hash the key and prefetch where it lives. */
static inline uint64_t stage(const gomap_t *m, int kind, const void *key, size_t span,
                             bool *skip)
{
    *skip = key_skipped(kind, key);
    if (*skip)
        return 0;
    uint64_t hash = hash_of(m, kind, key);
    prefetch_home(m, hash, span);
    return hash;
}

/* Keys whose bytes live out of line (strings; bytes and custom keys over
 * GOMAP_INLINE_MAX): comparing such a key reads memory the bucket only
 * points to, a second miss that the bucket prefetch cannot cover. */
static inline bool keys_out_of_line(const gomap_t *m, int kind)
{
    return kind == GOMAP_KEY_STR || (kind_may_be_indirect(kind) && m->key_indirect);
}

/* The middle stage, for out-of-line keys only, half a window behind stage
 * one, when the bucket has usually arrived: prefetch the stored key bytes of
 * the first tophash candidate (for strings only if the lengths agree, as
 * the compare would not read them otherwise). Reads the bucket; if it has
 * not arrived this waits for it, which the probe would have done anyway. */
ALWAYS_INLINE void stage_key_bytes(const gomap_t *m, int kind, const void *key, uint64_t hash)
{
    char *b = home_bucket(m, hash);
    uint64_t want = 0x0101010101010101ull * tophash_from(hash);
    uint64_t hits = zero_bytes(tophash_word(b) ^ want);
    if (!hits)
        return;
    const char *slot = key_slot_at(m, b, (unsigned)__builtin_ctzll(hits) >> 3);
    if (kind == GOMAP_KEY_STR) {
        gomap_str st;
        memcpy(&st, slot, sizeof st);
        if (st.len != ((const gomap_str *)key)->len || st.len == 0)
            return;
        __builtin_prefetch(st.ptr, 0, 3);
        __builtin_prefetch(st.ptr + st.len - 1, 0, 3);
    } else {
        const char *p = key_of_slot(m, slot);
        __builtin_prefetch(p, 0, 3);
        __builtin_prefetch(p + m->key_size - 1, 0, 3);
    }
}

/* Stage two: the lookup proper. A hit also prefetches its value slot, which
 * the caller is about to read. */
static inline void *probe(const gomap_t *m, int kind, const void *key, uint64_t hash)
{
    slot_ref r = find(m, kind, key, hash);
    if (!r.b)
        return NULL;
    char *vs = val_slot_at(m, r.b, r.i);
    __builtin_prefetch(vs, 0, 3);
    return val_of_slot(m, vs);
}

/* The batch loop for one key kind; keys are `stride` bytes apart. The map is
 * not empty. */
ALWAYS_INLINE size_t get_many_kind(const gomap_t *m, int kind, const char *keys,
                                   size_t stride, size_t n, void **vals_out)
{
    uint64_t hashes[WINDOW];
    bool skip[WINDOW];
    const size_t span = probe_span(m, kind);
    size_t found = 0;
    size_t ahead = n < WINDOW ? n : WINDOW;
    for (size_t i = 0; i < ahead; i++)
        hashes[i] = stage(m, kind, keys + i * stride, span, &skip[i]);
    for (size_t i = 0; i < n; i++) {
        const size_t w = i & (WINDOW - 1);
        const uint64_t hash = hashes[w];
        const bool skipped = skip[w];
        if (i + WINDOW < n)
            hashes[w] = stage(m, kind, keys + (i + WINDOW) * stride, span, &skip[w]);
        if (keys_out_of_line(m, kind) && i + WINDOW / 2 < n) {
            const size_t h = (i + WINDOW / 2) & (WINDOW - 1);
            if (!skip[h])
                stage_key_bytes(m, kind, keys + (i + WINDOW / 2) * stride, hashes[h]);
        }
        void *v = skipped ? NULL : probe(m, kind, keys + i * stride, hash);
        vals_out[i] = v;
        found += v != NULL;
    }
    return found;
}

/* The distance between two keys of the array a caller passes. */
static size_t key_stride(const gomap_t *m)
{
    switch (m->key_kind) {
    case GOMAP_KEY_U32: return sizeof(uint32_t);
    case GOMAP_KEY_U64: return sizeof(uint64_t);
    case GOMAP_KEY_F64: return sizeof(double);
    case GOMAP_KEY_STR: return sizeof(gomap_str);
    default: return m->key_size;
    }
}

/* Common checks of every batch entry point. Returns false (having filled
 * vals_out with NULLs where possible) when there is nothing to look up. */
static bool batch_ready(const gomap_t *m, int want_kind, const void *keys, size_t n,
                        void **vals_out, const void *site)
{
    if (n == 0 || !vals_out)
        return false;
    bool ok = m && keys && (want_kind < 0 || m->key_kind == want_kind);
    if (ok)
        gomap__read_check(m, MSG_READ_WRITE, site);
    if (!ok || m->count == 0) {
        memset(vals_out, 0, n * sizeof *vals_out);
        return false;
    }
    return true;
}

size_t gomap_get_many(const gomap_t *m, const void *keys, size_t n, void **vals_out)
{
    if (!batch_ready(m, -1, keys, n, vals_out, GOMAP_CALLER))
        return 0;
    size_t found;
    const size_t stride = key_stride(m);
#define GET_MANY(K) get_many_kind(m, K, keys, stride, n, vals_out)
    KIND_SWITCH(m->key_kind, found, GET_MANY)
#undef GET_MANY
    return found;
}

size_t gomap_get_many_u64(const gomap_t *m, const uint64_t *keys, size_t n, void **vals_out)
{
    if (!batch_ready(m, GOMAP_KEY_U64, keys, n, vals_out, GOMAP_CALLER))
        return 0;
    return get_many_kind(m, GOMAP_KEY_U64, (const char *)keys, sizeof *keys, n, vals_out);
}

size_t gomap_get_many_str(const gomap_t *m, const gomap_str *keys, size_t n, void **vals_out)
{
    if (!batch_ready(m, GOMAP_KEY_STR, keys, n, vals_out, GOMAP_CALLER))
        return 0;
    return get_many_kind(m, GOMAP_KEY_STR, (const char *)keys, sizeof *keys, n, vals_out);
}

/* Stage one for a layer's own pipeline (layer.h): the key is hashed already,
 * and the layer probes it later with gomap__find_hashed or writes it. */
void gomap__prefetch_hashed(const gomap_t *m, uint64_t hash)
{
    if (m->buckets) /* an empty map may have no array yet */
        prefetch_home(m, hash, probe_span(m, m->key_kind));
}
