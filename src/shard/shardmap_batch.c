/*
 * shardmap_batch.c — gomap_shard_get_many: many gets in one call, their
 * cache misses overlapped.
 *
 * A get in a map far bigger than the caches waits for its bucket's lines
 * (one memory round trip), and the next get's address does not depend on
 * it, yet a loop of gets hardly overlaps them. Here, as in the core map's
 * batch lookups (map_batch.c), the keys are software-pipelined: key
 * i + WINDOW is hashed, its shard found and its home bucket prefetched while
 * key i is read, so about WINDOW misses are in flight at once.
 *
 * Each key is then read exactly as gomap_shard_get reads it (shard_read.h):
 * optimistically without the lock, confirmed by its shard's sequence count,
 * falling back to the shared lock when a writer was in the way; maps whose
 * gets take the lock (out-of-line keys or values, ThreadSanitizer builds)
 * read key by key under it, without prefetching, since nothing may read a
 * shard's map unlocked there. So every key's answer is a single get's: it is
 * linearizable on its own, and the batch as a whole is not a snapshot.
 *
 * The keys are served in chunks of GOMAP_BATCH_CHUNK (base/batch.h), each
 * inside one read-side section, so that a long batch does not hold up the
 * grace periods writers wait for (a write that completes a growth frees the
 * outgrown array after one). Nothing is allocated: the pipeline's state is on the stack.
 */
#include <string.h>

#include "base/batch.h"
#include "base/misuse.h"
#include "shard/shard_read.h"
#include "shard/shardmap_internal.h"

/* Keys hashed and prefetched ahead of the one being read; a power of two.
 * 16 as in the core map's batch lookups (docs/map.md, "Batch lookups"). */
#define WINDOW 16

/* Where key i's value goes, or NULL (no vals_out, or a set). */
static inline void *val_at(const gomap_shard_t *m, void *vals_out, size_t i)
{
    return vals_out && m->val_size ? (char *)vals_out + i * m->val_size : NULL;
}

/* Stage one: hash key and prefetch its home bucket in the shard that holds
 * it now. Reads the shard's map header without the lock, as an optimistic
 * read does; the prefetch is only a hint, so a header a writer is changing
 * costs at most a useless prefetch. Inside the chunk's read-side section. */
ALWAYS_INLINE uint64_t stage(const gomap_shard_t *m, struct shard_table *t, int kind,
                             const void *key)
{
    uint64_t h = shard_hash(m, kind, key);
    gomap__prefetch_hashed(live_shard(t, h)->map, h);
    return h;
}

/* Keys [from, from + n) of an optimistic map of kind `kind`,
 * n <= GOMAP_BATCH_CHUNK, inside one read-side section. Returns how many were found. */
ALWAYS_INLINE size_t chunk_optimistic(gomap_shard_t *m, int kind, const char *keys,
                                      size_t stride, size_t from, size_t n, void *vals_out,
                                      bool *found_out)
{
    uint64_t hashes[WINDOW];
    size_t found = 0;
    gomap__rcu_read_lock();
    /* Acquire: the head's fields as the move that installed it wrote them. */
    struct shard_table *t = load_acquire(&m->table);
    const char *k0 = keys + from * stride;
    for (size_t i = 0; i < n && i < WINDOW; i++)
        hashes[i] = stage(m, t, kind, k0 + i * stride);
    for (size_t i = 0; i < n; i++) {
        const size_t w = i & (WINDOW - 1);
        const uint64_t h = hashes[w];
        if (i + WINDOW < n)
            hashes[w] = stage(m, t, kind, k0 + (i + WINDOW) * stride);
        const void *key = k0 + i * stride;
        void *out = val_at(m, vals_out, from + i);
        bool hit;
        if (!shard_optimistic_read(m, t, kind, key, h, out, true, false, &hit))
            hit = shard_locked_read(m, kind, key, h, out, true);
        if (found_out)
            found_out[from + i] = hit;
        found += hit;
    }
    gomap__rcu_read_unlock();
    return found;
}

/* The whole batch on an optimistic map, a chunk at a time. */
ALWAYS_INLINE size_t many_optimistic(gomap_shard_t *m, int kind, const char *keys, size_t n,
                                     void *vals_out, bool *found_out)
{
    const size_t stride = gomap__key_stride(kind, m->opt.key_size);
    size_t found = 0;
    for (size_t from = 0; from < n; from += GOMAP_BATCH_CHUNK)
        found += chunk_optimistic(m, kind, keys, stride, from, gomap__batch_chunk(n, from),
                                  vals_out, found_out);
    return found;
}

/* The whole batch on a map whose gets take the lock: key by key, as
 * gomap_shard_get; a key no map accepts ({NULL, len > 0}) is absent. */
ALWAYS_INLINE size_t many_locked(gomap_shard_t *m, int kind, const char *keys, size_t n,
                                 void *vals_out, bool *found_out)
{
    const size_t stride = gomap__key_stride(kind, m->opt.key_size);
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        const void *key = keys + i * stride;
        void *out = val_at(m, vals_out, i);
        bool hit = false;
        if (gomap__key_ok(kind, key))
            hit = shard_locked_read(m, kind, key, shard_hash(m, kind, key), out, true);
        else
            copy_out(m, out, NULL);
        if (found_out)
            found_out[i] = hit;
        found += hit;
    }
    return found;
}

/* Optimistic maps have u32, u64 or inline bytes keys (optimistic_ok,
 * shardmap.c): their batch loop is specialised for those kinds only. */
static size_t many_optimistic_any(gomap_shard_t *m, const char *keys, size_t n, void *vals_out,
                                  bool *found_out)
{
    switch (m->key_kind) {
    case GOMAP_KEY_U32:
        return many_optimistic(m, GOMAP_KEY_U32, keys, n, vals_out, found_out);
    case GOMAP_KEY_U64:
        return many_optimistic(m, GOMAP_KEY_U64, keys, n, vals_out, found_out);
    default:
        return many_optimistic(m, GOMAP_KEY_BYTES, keys, n, vals_out, found_out);
    }
}

size_t gomap_shard_get_many(gomap_shard_t *m, const void *keys, size_t n, void *vals_out,
                            bool *found_out)
{
    if (!gomap__batch_begin(m != NULL, m ? m->val_size : 0, keys, n, vals_out, found_out))
        return 0;
    shard_reentry_check(m, GOMAP_CALLER);
    if (m->optimistic)
        return many_optimistic_any(m, keys, n, vals_out, found_out);
    size_t found;
#define MANY(K) many_locked(m, K, keys, n, vals_out, found_out)
    KIND_SWITCH(m->key_kind, found, MANY)
#undef MANY
    return found;
}
